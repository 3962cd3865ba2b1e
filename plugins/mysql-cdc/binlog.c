/*
 * binlog.c — mysql-cdc binlog mode: reading the binlog as a replica (Connector/C's mariadb_rpl_*
 * for the dump protocol and event framing; the row images are decoded in rowdecode.c), the
 * server checks, positions, and reconnecting.
 *
 * A record's position is the start of its transaction (the GTID event) and the number of rows of
 * that transaction delivered up to it: a restart dumps from the transaction's start and skips
 * those rows, so a transaction cut by a crash is neither repeated nor lost.
 *
 * poll does not spin: the dump asks the server for a heartbeat every CDC_HEARTBEAT_MS when idle, so
 * a fetch returns at least that often; stop() shuts the socket down to end a fetch at once.
 */
#include "cdc.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CDC_HEARTBEAT_MS 100

/* -- server checks ---------------------------------------------------------------------------- */

/* 1 if `priv` (e.g. "REPLICATION SLAVE") is granted on *.* in the SHOW GRANTS lines. */
static int cdc_has_priv(char **grants, size_t n, const char *priv, const char *alias)
{
    for (size_t i = 0; i < n; i++) {
        const char *g = grants[i];
        if (strncmp(g, "GRANT ", 6) != 0)
            continue;
        const char *on = strstr(g, " ON *.* ");
        if (!on)
            continue;
        const char *p = g + 6;
        while (p < on) {
            const char *e = strstr(p, ", ");
            if (!e || e > on)
                e = on;
            size_t len = (size_t)(e - p);
            if ((len == strlen(priv) && !strncmp(p, priv, len)) ||
                (alias && len == strlen(alias) && !strncmp(p, alias, len)) ||
                (len == 14 && !strncmp(p, "ALL PRIVILEGES", 14)))
                return 1;
            p = e + (e == on ? 0 : 2);
            if (e == on)
                break;
        }
    }
    return 0;
}

sluice_err_t cdc_binlog_check_server(struct cdc *c, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    sluice_err_t e = SLUICE_FATAL;
    MYSQL_RES *r = NULL;
    char **grants = NULL;
    size_t ng = 0;
    char user[300] = "";

    r = cdc_query(c, c->meta, "SELECT CURRENT_USER()", errstr, errstr_size);
    if (!r)
        goto net;
    MYSQL_ROW row = mysql_fetch_row(r);
    if (row && row[0]) {
        const char *at = strrchr(row[0], '@');
        if (at)
            snprintf(user, sizeof user, "'%.*s'@'%s'", (int)(at - row[0]), row[0], at + 1);
        else
            snprintf(user, sizeof user, "'%s'", row[0]);
    }
    mysql_free_result(r);
    r = cdc_query(c, c->meta, "SHOW GRANTS", errstr, errstr_size);
    if (!r)
        goto net;
    while ((row = mysql_fetch_row(r))) {
        char **ng2 = realloc(grants, (ng + 1) * sizeof(char *));
        if (!ng2)
            goto out;
        grants = ng2;
        grants[ng++] = strdup(row[0] ? row[0] : "");
    }
    mysql_free_result(r);
    r = NULL;
    if (!cdc_has_priv(grants, ng, "REPLICATION SLAVE", NULL)) {
        cdc_fail(errstr, errstr_size,
                 "user %s lacks REPLICATION SLAVE (needed to read the binlog): GRANT "
                 "REPLICATION SLAVE, BINLOG MONITOR ON *.* TO %s",
                 user, user);
        goto out;
    }
    if (!cdc_has_priv(grants, ng, "BINLOG MONITOR", "REPLICATION CLIENT")) {
        cdc_fail(errstr, errstr_size,
                 "user %s lacks BINLOG MONITOR (REPLICATION CLIENT before MariaDB 10.5; needed "
                 "for SHOW MASTER STATUS and SHOW BINARY LOGS): GRANT BINLOG MONITOR ON *.* TO %s",
                 user, user);
        goto out;
    }

    r = cdc_query(c, c->meta, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image", errstr,
                  errstr_size);
    if (!r)
        goto net;
    row = mysql_fetch_row(r);
    if (!row)
        goto out;
    if (!row[0] || strcmp(row[0], "1") != 0) {
        cdc_fail(errstr, errstr_size,
                 "the server %s has no binary log (log_bin is OFF): start it with "
                 "--log-bin --binlog-format=ROW --binlog-row-image=FULL",
                 c->who);
        goto out;
    }
    if (!row[1] || strcasecmp(row[1], "ROW") != 0) {
        cdc_fail(errstr, errstr_size,
                 "the server's binlog_format is %s; mysql-cdc needs ROW (set binlog_format=ROW "
                 "in the server's configuration, or SET GLOBAL binlog_format='ROW')",
                 row[1] ? row[1] : "unknown");
        goto out;
    }
    if (!row[2] || strcasecmp(row[2], "FULL") != 0) {
        cdc_fail(errstr, errstr_size,
                 "the server's binlog_row_image is %s; mysql-cdc needs FULL (set "
                 "binlog_row_image=FULL in the server's configuration)",
                 row[2] ? row[2] : "unknown");
        goto out;
    }
    mysql_free_result(r);
    r = NULL;
    if (mysql_query(c->meta, "SELECT @@binlog_row_metadata") == 0 &&
        (r = mysql_store_result(c->meta))) {
        row = mysql_fetch_row(r);
        if (row && row[0] && strcasecmp(row[0], "FULL") != 0)
            h->log(c->ctx, SLUICE_LOG_WARN,
                   "binlog_row_metadata is %s: set it to FULL so that columns added or dropped "
                   "while streaming are recognised from the binlog itself",
                   row[0]);
    }
    e = SLUICE_OK;
    goto out;
net:
    if (mysql_conn_error_is_transient(mysql_errno(c->meta)))
        e = SLUICE_NOT_CONNECTED;
out:
    if (r)
        mysql_free_result(r);
    for (size_t i = 0; i < ng; i++)
        free(grants[i]);
    free(grants);
    return e;
}

int cdc_binlog_file_exists(struct cdc *c, const char *file, char *errstr, size_t errstr_size)
{
    MYSQL_RES *r = cdc_query(c, c->meta, "SHOW BINARY LOGS", errstr, errstr_size);
    if (!r)
        return -1;
    int found = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)))
        if (row[0] && !strcmp(row[0], file))
            found = 1;
    mysql_free_result(r);
    return found;
}

/* -- the dump connection ---------------------------------------------------------------------- */

void cdc_binlog_close(struct cdc *c)
{
    pthread_mutex_lock(&c->sock_lock);
    c->sock = -1;
    pthread_mutex_unlock(&c->sock_lock);
    if (c->ev) {
        mariadb_free_rpl_event(c->ev);
        c->ev = NULL;
    }
    if (c->rpl) {
        mariadb_rpl_close(c->rpl); /* leaves the connection open */
        c->rpl = NULL;
    }
    if (c->bl) {
        mysql_close(c->bl);
        c->bl = NULL;
    }
    c->streaming = 0;
}

void cdc_binlog_interrupt(struct cdc *c)
{
    pthread_mutex_lock(&c->sock_lock);
    if (c->sock >= 0)
        shutdown(c->sock, SHUT_RDWR);
    pthread_mutex_unlock(&c->sock_lock);
}

static sluice_err_t cdc_binlog_open(struct cdc *c, char *errstr, size_t errstr_size)
{
    int transient = 0;
    MYSQL *m = mysql_conn_open(&c->conn, &transient, errstr, errstr_size);
    if (!m)
        return transient ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
    c->bl = m;
    char sql[128];
    snprintf(sql, sizeof sql, "SET @master_heartbeat_period = %llu",
             (unsigned long long)CDC_HEARTBEAT_MS * 1000000ull);
    const char *const setup[] = {"SET @master_binlog_checksum = @@global.binlog_checksum",
                                 "SET @mariadb_slave_capability = 4", sql, NULL};
    for (size_t i = 0; setup[i]; i++)
        if (mysql_query(m, setup[i]) != 0) {
            cdc_fail(errstr, errstr_size, "%s on %s: %s", setup[i], c->who, mysql_error(m));
            return mysql_conn_error_is_transient(mysql_errno(m)) ? SLUICE_NOT_CONNECTED
                                                                 : SLUICE_FATAL;
        }
    MYSQL_RES *r = NULL;
    c->checksum = 0;
    if (mysql_query(m, "SELECT @@global.binlog_checksum") == 0 && (r = mysql_store_result(m))) {
        MYSQL_ROW row = mysql_fetch_row(r);
        c->checksum = row && row[0] && strcasecmp(row[0], "NONE") != 0;
        mysql_free_result(r);
    }
    c->rpl = mariadb_rpl_init(m);
    if (!c->rpl) {
        cdc_fail(errstr, errstr_size, "mariadb_rpl_init: %s", mysql_error(m));
        return SLUICE_FATAL;
    }
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_FILENAME, c->cur.file, strlen(c->cur.file));
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_START, (unsigned long)c->cur.pos);
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_SERVER_ID, (unsigned int)c->server_id);
    mariadb_rpl_optionsv(c->rpl, MARIADB_RPL_FLAGS, 0u);
    if (mariadb_rpl_open(c->rpl) != 0) {
        unsigned err = mysql_errno(m);
        cdc_fail(errstr, errstr_size, "starting the binlog dump at %s:%llu on %s: %s", c->cur.file,
                 (unsigned long long)c->cur.pos, c->who, mysql_error(m));
        return mysql_conn_error_is_transient(err) ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
    }
    pthread_mutex_lock(&c->sock_lock);
    c->sock = (int)mysql_get_socket(m);
    pthread_mutex_unlock(&c->sock_lock);
    if (atomic_load(&c->stopping))
        cdc_binlog_interrupt(c);
    c->streaming = 1;
    c->in_txn = 0;
    c->cur.row = 0;
    c->h->log(c->ctx, SLUICE_LOG_INFO, "reading the binlog of %s from %s:%llu as replica %u%s",
              c->who, c->cur.file, (unsigned long long)c->cur.pos, c->server_id,
              c->skip ? " (skipping rows delivered before)" : "");
    return SLUICE_OK;
}

/* -- table maps -------------------------------------------------------------------------------- */

struct cdc_tmap {
    uint64_t id;
    long idx; /* into c->tables, or -1: not captured */
};

static int cdc_meta_len(uint8_t type)
{
    switch (type) {
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_GEOMETRY:
    case MYSQL_TYPE_JSON:
    case MYSQL_TYPE_TIME2:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP2:
    case 140: /* MariaDB compressed BLOB */
        return 1;
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_NEWDECIMAL:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
    case MYSQL_TYPE_BIT:
    case 141: /* MariaDB compressed VARCHAR */
        return 2;
    default:
        return 0;
    }
}

/* 1 if the TABLE_MAP's columns are the table's (count and, when the binlog has them, names). */
static int cdc_tmap_matches(const struct cdc_table *t,
                            const struct st_mariadb_rpl_table_map_event *tm)
{
    if (tm->column_count != t->ncols)
        return 0;
    if (!tm->column_names.data || !tm->column_names.length)
        return 1;
    const uint8_t *p = (const uint8_t *)tm->column_names.data;
    const uint8_t *end = p + tm->column_names.length;
    for (size_t i = 0; i < t->ncols; i++) {
        uint64_t n = cdc_lenenc(&p, end);
        if ((uint64_t)(end - p) < n || strlen(t->cols[i].name) != n ||
            memcmp(p, t->cols[i].name, n) != 0)
            return 0;
        p += n;
    }
    return 1;
}

static int cdc_tmap_columns(struct cdc_table *t, const struct st_mariadb_rpl_table_map_event *tm);

/* 1 if a column of `kind` can hold a binlog value of `type`/`meta` as written (a MODIFY COLUMN
 * keeps the names but not the types). */
static int cdc_kind_fits(const struct cdc_col *col, uint8_t type, uint16_t meta)
{
    int m0 = meta & 0xff, m1 = meta >> 8;
    switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
        return col->kind == K_INT16 || col->kind == K_INT32 || col->kind == K_INT64 ||
               col->kind == K_U64;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
        return col->kind == K_FLOAT32 || col->kind == K_FLOAT64;
    case MYSQL_TYPE_NEWDECIMAL:
        return col->kind == K_DECIMAL && col->precision == m0 && col->scale == m1;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        return col->kind == K_DATE;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
        return col->kind == K_DATETIME;
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
        return col->kind == K_TIMESTAMP;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
        return col->kind == K_TIME;
    case MYSQL_TYPE_YEAR:
        return col->kind == K_YEAR;
    case MYSQL_TYPE_BIT:
        return col->kind == K_BOOL || col->kind == K_BITS;
    case MYSQL_TYPE_STRING:
        if (m0 == MYSQL_TYPE_ENUM)
            return col->kind == K_ENUM;
        if (m0 == MYSQL_TYPE_SET)
            return col->kind == K_SET;
        /* fall through */
    default:
        return col->kind == K_STRING || col->kind == K_BYTES || col->kind == K_JSON ||
               col->kind == K_OTHER;
    }
}

/* 1 if the table's columns are those of the TABLE_MAP (names when present, and types); the
 * event's types are then in t->btype/bmeta. */
static int cdc_table_fits(struct cdc_table *t, const struct st_mariadb_rpl_table_map_event *tm)
{
    if (!cdc_tmap_matches(t, tm) || cdc_tmap_columns(t, tm) < 0)
        return 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (!cdc_kind_fits(&t->cols[i], t->btype[i], t->bmeta[i]))
            return 0;
    return 1;
}

static int cdc_tmap_columns(struct cdc_table *t, const struct st_mariadb_rpl_table_map_event *tm)
{
    size_t n = tm->column_count;
    uint8_t *bt = realloc(t->btype, n ? n : 1);
    if (!bt)
        return -1;
    t->btype = bt;
    uint16_t *bm = realloc(t->bmeta, (n ? n : 1) * sizeof(uint16_t));
    if (!bm)
        return -1;
    t->bmeta = bm;
    const uint8_t *types = (const uint8_t *)tm->column_types.str;
    const uint8_t *m = (const uint8_t *)tm->metadata.str, *mend = m + tm->metadata.length;
    for (size_t i = 0; i < n; i++) {
        t->btype[i] = types[i];
        int ml = cdc_meta_len(types[i]);
        uint16_t v = 0;
        if (ml >= 1 && m < mend)
            v = *m++;
        if (ml == 2 && m < mend)
            v |= (uint16_t)(*m++ << 8);
        t->bmeta[i] = v;
    }
    t->nb = n;
    t->table_id = tm->table_id;
    return 0;
}

/* -- state of the stream kept in struct cdc, and a table-id map ---------------------------------
 */

#define CDC_TMAP_SLOTS 64

/* Table ids of the TABLE_MAP events seen lately (each transaction maps its tables again). */
struct cdc_stream {
    struct cdc_tmap map[CDC_TMAP_SLOTS];
    size_t nmap;
};

static struct cdc_stream *cdc_stream_of(struct cdc *c)
{
    if (!c->tmaps)
        c->tmaps = calloc(1, sizeof(struct cdc_stream));
    return c->tmaps;
}

static long cdc_tmap_find(struct cdc *c, uint64_t id, int *found)
{
    struct cdc_stream *s = cdc_stream_of(c);
    *found = 0;
    if (!s)
        return -1;
    for (size_t i = 0; i < s->nmap; i++)
        if (s->map[i].id == id) {
            *found = 1;
            return s->map[i].idx;
        }
    return -1;
}

static void cdc_tmap_set(struct cdc *c, uint64_t id, long idx)
{
    struct cdc_stream *s = cdc_stream_of(c);
    if (!s)
        return;
    for (size_t i = 0; i < s->nmap; i++)
        if (s->map[i].id == id) {
            s->map[i].idx = idx;
            return;
        }
    if (s->nmap == CDC_TMAP_SLOTS)
        s->nmap = 0; /* table ids are re-announced by every transaction's TABLE_MAP */
    s->map[s->nmap].id = id;
    s->map[s->nmap].idx = idx;
    s->nmap++;
}

static long cdc_table_index(struct cdc *c, const struct cdc_table *t)
{
    for (size_t i = 0; i < c->ntables; i++)
        if (c->tables[i] == t)
            return (long)i;
    return -1;
}

static sluice_err_t cdc_on_table_map(struct cdc *c, const MARIADB_RPL_EVENT *ev, char *errstr,
                                     size_t errstr_size)
{
    const struct st_mariadb_rpl_table_map_event *tm = &ev->event.table_map;
    char db[256], name[256];
    snprintf(db, sizeof db, "%.*s", (int)tm->database.length, tm->database.str);
    snprintf(name, sizeof name, "%.*s", (int)tm->table.length, tm->table.str);
    int found;
    long idx = cdc_tmap_find(c, tm->table_id, &found);
    if (found &&
        (idx < 0 || (!c->tables[idx]->stale && c->tables[idx]->table_id == tm->table_id &&
                     !strcmp(c->tables[idx]->db, db) && !strcmp(c->tables[idx]->name, name))))
        return SLUICE_OK;
    if (!cdc_table_included(c, db, name)) {
        cdc_tmap_set(c, tm->table_id, -1);
        return SLUICE_OK;
    }
    struct cdc_table *t = cdc_table_get(c, db, name, 0, errstr, errstr_size);
    if (t && !cdc_table_fits(t, tm))
        t = cdc_table_get(c, db, name, 1, errstr, errstr_size);
    if (!t)
        return mysql_conn_error_is_transient(c->meta ? mysql_errno(c->meta) : CR_SERVER_LOST)
                   ? SLUICE_NOT_CONNECTED
                   : SLUICE_FATAL;
    if (!cdc_table_fits(t, tm)) {
        /* The table changed again after this event (catching up): its columns come from the
         * event's own metadata (binlog_row_metadata=FULL). */
        size_t n = tm->column_count;
        struct cdc_table tmp = {0};
        if (cdc_tmap_columns(&tmp, tm) < 0) {
            cdc_fail(errstr, errstr_size, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
        const uint8_t *opt = tm->null_indicator + (n + 7) / 8;
        const uint8_t *end = ev->raw_data + ev->raw_data_size - (c->checksum ? 4 : 0);
        struct cdc_table *nt =
            opt <= end
                ? cdc_table_from_map(c, db, name, tmp.btype, tmp.bmeta, n, tm->null_indicator, opt,
                                     (size_t)(end - opt), errstr, errstr_size)
                : NULL;
        free(tmp.btype);
        free(tmp.bmeta);
        if (!nt) {
            if (!errstr[0])
                cdc_fail(errstr, errstr_size, "%s.%s: malformed TABLE_MAP event", db, name);
            return SLUICE_FATAL;
        }
        if (cdc_table_replace(c, nt) < 0) {
            cdc_fail(errstr, errstr_size, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
        c->h->log(c->ctx, SLUICE_LOG_INFO,
                  "%s.%s: the binlog at %s:%u has %zu columns, the table has others now: using "
                  "the event's own column metadata",
                  db, name, c->cur.file, ev->next_event_pos - ev->event_length, n);
        t = nt;
    }
    t->stale = 0;
    if (cdc_tmap_columns(t, tm) < 0) {
        cdc_fail(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    cdc_tmap_set(c, tm->table_id, cdc_table_index(c, t));
    return SLUICE_OK;
}

/* -- rows ------------------------------------------------------------------------------------- */

static int bit(const uint8_t *b, size_t i)
{
    return (b[i >> 3] >> (i & 7)) & 1;
}

static size_t popcount(const uint8_t *b, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)bit(b, i);
    return k;
}

/* One row image at *p: a value struct, or just skipped when rec is NULL. -1 when malformed. */
static int cdc_image(struct cdc *c, sluice_record_t *rec, struct cdc_table *t, size_t ncols,
                     const uint8_t *present, const uint8_t **pp, const uint8_t *end,
                     sluice_value_t **out)
{
    const struct sluice_host *h = c->h;
    const uint8_t *p = *pp;
    size_t np = popcount(present, ncols);
    size_t nb = (np + 7) / 8;
    if ((size_t)(end - p) < nb)
        return -1;
    const uint8_t *nulls = p;
    p += nb;
    sluice_value_t *row = NULL;
    if (rec && !(row = h->value_struct(rec, t->value_schema)))
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < ncols; i++) {
        if (!bit(present, i))
            continue;
        int isnull = bit(nulls, k++);
        if (isnull)
            continue;
        if (!rec || i >= t->ncols) {
            long sz = cdc_binlog_size(t->btype[i], t->bmeta[i], p, end);
            if (sz < 0 || end - p < sz)
                return -1;
            p += sz;
            continue;
        }
        sluice_value_t *v =
            cdc_value_binlog(c, rec, &t->cols[i], t->btype[i], t->bmeta[i], &p, end);
        if (!v)
            return -1;
        h->value_set_item(rec, row, i, v);
    }
    *pp = p;
    if (out)
        *out = row;
    return 0;
}

/* An update of the primary key, as Debezium gives it: a delete of the old key (header
 * __debezium.newkey), its tombstone, and a create of the new key (header __debezium.oldkey). */
static sluice_err_t cdc_pk_change(struct cdc *c, sluice_batch_t *batch, struct cdc_table *t,
                                  sluice_record_t *rec, sluice_value_t *before,
                                  sluice_value_t *after, const struct cdc_source_info *si,
                                  char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    sluice_record_t *cre = NULL;
    sluice_err_t e =
        cdc_emit(c, batch, t, 'd', before, NULL, rec, si, &c->cur, 1, errstr, errstr_size);
    if (e != SLUICE_OK)
        return e;
    if (!(cre = h->batch_add(batch))) {
        cdc_fail(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    if ((e = cdc_emit(c, batch, t, 'c', NULL, after, cre, si, &c->cur, 0, errstr, errstr_size)) !=
        SLUICE_OK)
        return e;
    sluice_value_t *newkey = cdc_key_of(c, rec, t, after), *oldkey = cdc_key_of(c, cre, t, before);
    h->buf_reset(c->tmp);
    if (newkey && h->value_write_json(newkey, c->tmp) == SLUICE_OK)
        h->record_add_header(rec, "__debezium.newkey", h->buf_data(c->tmp), h->buf_len(c->tmp));
    h->buf_reset(c->tmp);
    if (oldkey && h->value_write_json(oldkey, c->tmp) == SLUICE_OK)
        h->record_add_header(cre, "__debezium.oldkey", h->buf_data(c->tmp), h->buf_len(c->tmp));
    return SLUICE_OK;
}

static sluice_err_t cdc_on_rows(struct cdc *c, sluice_batch_t *batch, const MARIADB_RPL_EVENT *ev,
                                size_t *added, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    const struct st_mariadb_rpl_rows_event *rows = &ev->event.rows;
    int found;
    long idx = cdc_tmap_find(c, rows->table_id, &found);
    if (idx < 0)
        return SLUICE_OK;
    struct cdc_table *t = c->tables[idx];
    size_t ncols = rows->column_count;
    if (ncols > t->nb) {
        cdc_fail(errstr, errstr_size, "rows event for %s.%s with %zu columns, table map has %zu",
                 t->db, t->name, ncols, t->nb);
        return SLUICE_FATAL;
    }
    const uint8_t *before_bm = rows->column_bitmap;
    const uint8_t *after_bm = rows->column_update_bitmap ? rows->column_update_bitmap : before_bm;
    const uint8_t *p = rows->row_data, *end = p + rows->row_data_size;
    char op = rows->type == WRITE_ROWS ? 'c' : rows->type == UPDATE_ROWS ? 'u' : 'd';
    struct cdc_source_info si = {
        .ts_ms = (int64_t)ev->timestamp * 1000,
        .file = c->cur.file,
        .pos = ev->next_event_pos - ev->event_length,
        .server_id = ev->server_id,
        .gtid = c->gtid_cur,
        .thread = -1,
    };
    int32_t rowno = 0;
    while (p < end) {
        int skip = c->cur.row < c->skip;
        sluice_record_t *rec = NULL;
        sluice_value_t *before = NULL, *after = NULL;
        if (!skip && !(rec = h->batch_add(batch)))
            goto nomem;
        c->bad[0] = '\0';
        if ((op != 'c' && cdc_image(c, rec, t, ncols, before_bm, &p, end, &before) < 0) ||
            (op != 'd' && cdc_image(c, rec, t, ncols, after_bm, &p, end, &after) < 0)) {
            cdc_fail(errstr, errstr_size,
                     "cannot decode a row of %s.%s at %s:%llu (event of %u bytes)%s%s", t->db,
                     t->name, c->cur.file, (unsigned long long)si.pos, ev->event_length,
                     c->bad[0] ? ": " : "", c->bad);
            return SLUICE_FATAL;
        }
        c->cur.row++;
        if (!skip) {
            si.row = rowno;
            sluice_err_t e;
            if (op == 'u' && t->npk && cdc_key_changed(c, t, before, after)) {
                e = cdc_pk_change(c, batch, t, rec, before, after, &si, errstr, errstr_size);
                (*added)++;
            } else {
                e = cdc_emit(c, batch, t, op, before, after, rec, &si, &c->cur, 0, errstr,
                             errstr_size);
            }
            if (e != SLUICE_OK)
                return e;
            (*added)++;
        }
        rowno++;
    }
    return SLUICE_OK;
nomem:
    cdc_fail(errstr, errstr_size, "out of memory");
    return SLUICE_ERR_NOMEM;
}

/* -- the poll ---------------------------------------------------------------------------------- */

static int cdc_is_dml(const MARIADB_STRING *q)
{
    static const char *const verbs[] = {"INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", NULL};
    size_t i = 0;
    while (i < q->length &&
           (q->str[i] == ' ' || q->str[i] == '\n' || q->str[i] == '\t' || q->str[i] == '('))
        i++;
    for (size_t k = 0; verbs[k]; k++) {
        size_t n = strlen(verbs[k]);
        if (q->length - i > n && !strncasecmp(q->str + i, verbs[k], n) &&
            (q->str[i + n] == ' ' || q->str[i + n] == '\n' || q->str[i + n] == '\t'))
            return 1;
    }
    return 0;
}

static void cdc_mark_stale(struct cdc *c)
{
    for (size_t i = 0; i < c->ntables; i++)
        c->tables[i]->stale = 1;
}

static void cdc_txn_end(struct cdc *c, const MARIADB_RPL_EVENT *ev)
{
    c->in_txn = 0;
    c->cur.pos = ev->next_event_pos;
    c->cur.row = 0;
    c->skip = 0;
}

/* Parsed here from the raw event: Connector/C 3.3 takes the checksum's 4 bytes off the name
 * whether or not the event has one, and mangled names after a server restart. */
static sluice_err_t cdc_on_rotate(struct cdc *c, const MARIADB_RPL_EVENT *ev, char *errstr,
                                  size_t errstr_size)
{
    const uint8_t *h = ev->raw_data + ev->raw_data_ofs;
    const uint8_t *end = ev->raw_data + ev->raw_data_size;
    if (end - h < 19 + 8 || ev->event_length > (size_t)(end - h)) {
        cdc_fail(errstr, errstr_size, "malformed ROTATE event from %s", c->who);
        return SLUICE_FATAL;
    }
    uint64_t pos = 0;
    for (int i = 7; i >= 0; i--)
        pos = (pos << 8) | h[19 + i];
    const char *name = (const char *)h + 19 + 8;
    size_t len = ev->event_length - 19 - 8;
    if (c->checksum && len >= 4)
        len -= 4;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e) {
            cdc_fail(errstr, errstr_size, "malformed binlog file name in a ROTATE event");
            return SLUICE_FATAL;
        }
    snprintf(c->cur.file, sizeof c->cur.file, "%.*s", (int)len, name);
    if (!c->in_txn) {
        c->cur.pos = pos;
        c->cur.row = 0;
    }
    return SLUICE_OK;
}

static sluice_err_t cdc_fetch_failed(struct cdc *c, size_t added, char *errstr, size_t errstr_size)
{
    unsigned err = c->bl ? mysql_errno(c->bl) : 0;
    if (!err && c->rpl)
        err = mariadb_rpl_errno(c->rpl);
    char msg[512];
    snprintf(msg, sizeof msg, "%s",
             c->bl && mysql_errno(c->bl) ? mysql_error(c->bl)
             : c->rpl                    ? mariadb_rpl_error(c->rpl)
                                         : "connection closed");
    if (atomic_load(&c->stopping)) {
        cdc_binlog_close(c);
        return added ? SLUICE_OK : SLUICE_AGAIN;
    }
    /* resume in the transaction being read: from its start, skipping the rows already added */
    if (c->in_txn && c->cur.row > c->skip)
        c->skip = c->cur.row;
    c->cur.row = 0;
    cdc_binlog_close(c);
    if (err == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
        cdc_fail(errstr, errstr_size,
                 "the server cannot send the binlog from %s:%llu: %s. If the binlog was purged, "
                 "set 'snapshot.mode: when_needed' to take a new snapshot",
                 c->cur.file, (unsigned long long)c->cur.pos, msg);
        return SLUICE_FATAL;
    }
    if (err == ER_SPECIFIC_ACCESS_DENIED_ERROR || err == ER_ACCESS_DENIED_ERROR) {
        cdc_fail(errstr, errstr_size,
                 "reading the binlog as %s: %s (GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* "
                 "TO the user)",
                 c->who, msg);
        return SLUICE_FATAL;
    }
    if (err && err != CR_SERVER_LOST && err != CR_SERVER_GONE_ERROR &&
        !mysql_conn_error_is_transient(err) && err < 2000) {
        cdc_fail(errstr, errstr_size, "reading the binlog of %s: %s (error %u)", c->who, msg, err);
        return SLUICE_FATAL;
    }
    cdc_fail(errstr, errstr_size, "lost the binlog connection to %s (%s); reconnecting", c->who,
             msg);
    c->next_connect_ms = c->h->monotonic_ms() + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > 30000 ? 30000 : c->backoff_ms * 2;
    cdc_meta_close(c); /* the server may have restarted: table ids and definitions too */
    struct cdc_stream *s = cdc_stream_of(c);
    if (s)
        s->nmap = 0;
    return added ? SLUICE_OK : SLUICE_NOT_CONNECTED;
}

sluice_err_t cdc_binlog_poll(struct cdc *c, sluice_batch_t *batch, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    sluice_err_t e;
    if (!c->streaming) {
        int64_t now = h->monotonic_ms();
        if (now < c->next_connect_ms) {
            int64_t d = c->next_connect_ms - now;
            usleep((useconds_t)((d < timeout_ms ? d : timeout_ms) * 1000));
            cdc_fail(errstr, errstr_size, "waiting to reconnect to %s", c->who);
            return SLUICE_NOT_CONNECTED;
        }
        e = cdc_binlog_open(c, errstr, errstr_size);
        if (e != SLUICE_OK) {
            cdc_binlog_close(c);
            if (e == SLUICE_NOT_CONNECTED) {
                c->next_connect_ms = h->monotonic_ms() + c->backoff_ms;
                c->backoff_ms = c->backoff_ms * 2 > 30000 ? 30000 : c->backoff_ms * 2;
            }
            return e;
        }
    }
    int64_t deadline = h->monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    size_t added = 0;
    unsigned n = 0;
    while (added + 1 < (size_t)c->max_batch) {
        MARIADB_RPL_EVENT *ev = mariadb_rpl_fetch(c->rpl, c->ev);
        if (!ev) {
            c->ev = NULL; /* freed by the failed fetch */
            return cdc_fetch_failed(c, added, errstr, errstr_size);
        }
        c->ev = ev;
        int idle = 0;
        switch (ev->event_type) {
        case ROTATE_EVENT:
            if ((e = cdc_on_rotate(c, ev, errstr, errstr_size)) != SLUICE_OK)
                return e;
            break;
        case GTID_EVENT:
            c->in_txn = 1;
            c->cur.pos = ev->next_event_pos - ev->event_length;
            c->cur.row = 0;
            snprintf(c->gtid_cur, sizeof c->gtid_cur, "%u-%u-%llu", ev->event.gtid.domain_id,
                     ev->server_id, (unsigned long long)ev->event.gtid.sequence_nr);
            memcpy(c->cur.gtid, c->gtid_cur, sizeof c->gtid_cur);
            if (ev->event.gtid.flags & FL_STANDALONE)
                c->in_txn = 2; /* ends with its one statement */
            break;
        case QUERY_EVENT: {
            const MARIADB_STRING *q = &ev->event.query.statement;
            if (q->length == 5 && !strncasecmp(q->str, "BEGIN", 5)) {
                if (!c->in_txn) {
                    c->in_txn = 1;
                    c->cur.pos = ev->next_event_pos - ev->event_length;
                    c->cur.row = 0;
                }
            } else if (q->length == 6 && !strncasecmp(q->str, "COMMIT", 6)) {
                cdc_txn_end(c, ev);
            } else if (cdc_is_dml(q)) {
                /* binlog_format was switched to STATEMENT or MIXED while streaming: the row
                 * changes of this statement are not in the binlog as rows */
                char db[256];
                snprintf(db, sizeof db, "%.*s", (int)ev->event.query.database.length,
                         ev->event.query.database.str);
                if (db[0] && cdc_table_included(c, db, "")) {
                    cdc_fail(errstr, errstr_size,
                             "a statement-based change at %s:%u (%.*s): the server's "
                             "binlog_format is no longer ROW; set binlog_format=ROW again and "
                             "take a new snapshot (these changes cannot be read as rows)",
                             c->cur.file, ev->next_event_pos - ev->event_length,
                             (int)(q->length < 60 ? q->length : 60), q->str);
                    return SLUICE_FATAL;
                }
            } else {
                cdc_mark_stale(c); /* DDL: column definitions may have changed */
                if (c->in_txn == 2 || !c->in_txn)
                    cdc_txn_end(c, ev);
            }
            break;
        }
        case XID_EVENT:
            cdc_txn_end(c, ev);
            break;
        case TABLE_MAP_EVENT:
            if ((e = cdc_on_table_map(c, ev, errstr, errstr_size)) != SLUICE_OK) {
                if (e == SLUICE_NOT_CONNECTED)
                    return cdc_fetch_failed(c, added, errstr, errstr_size);
                return e;
            }
            break;
        case WRITE_ROWS_EVENT_V1:
        case UPDATE_ROWS_EVENT_V1:
        case DELETE_ROWS_EVENT_V1:
        case WRITE_ROWS_EVENT:
        case UPDATE_ROWS_EVENT:
        case DELETE_ROWS_EVENT:
            if ((e = cdc_on_rows(c, batch, ev, &added, errstr, errstr_size)) != SLUICE_OK)
                return e;
            break;
        case HEARTBEAT_LOG_EVENT:
            idle = 1;
            break;
        default:
            break;
        }
        if (idle || atomic_load(&c->stopping))
            break;
        if ((++n & 63) == 0 && h->monotonic_ms() >= deadline)
            break;
    }
    c->backoff_ms = c->conn.backoff_ms;
    return added ? SLUICE_OK : SLUICE_AGAIN;
}
