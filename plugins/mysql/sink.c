/*
 * mysql — the JDBC sink of Kafka Connect for MySQL/MariaDB: records become rows.
 *
 * Each record's value (a struct, or a schemaless map) is one row of the table named by
 * table.name.format; its fields are columns. Statements are prepared once per table and shape (the
 * ordered list of columns), kept, and executed record by record with the binds of their shape
 * (no allocation per record). One put is one transaction (or several of batch.size rows): a put
 * returns OK only after COMMIT, so flush has nothing left to make durable. A record the server
 * refuses (NOT NULL, a value out of range, a missing column without auto.evolve) is reported with
 * record_fail and the transaction goes on without it (MySQL undoes only the failed statement).
 * The server gone is RETRY of the whole put (its transaction was rolled back); committed parts of
 * a put that failed half-way are skipped when the same batch comes back.
 */
#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/plugin.h>

#include "conn.h"
#include "sqlvalue.h"

#define MS_MAX_COLS  1024
#define MS_MAX_STMTS 64 /* prepared statements kept per table (shapes seen last) */

/* ---------------------------------------------------------------------------------------------- */
/* Configuration */

static const char *const ms_insert_modes[] = {"insert", "upsert", "update", NULL};
static const char *const ms_pk_modes[] = {"none", "kafka", "record_key", "record_value", NULL};

static const struct sluice_config_field ms_config[] = {
    MYSQL_CONN_CONFIG_FIELDS,
    {.name = "insert.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "insert",
     .enum_values = ms_insert_modes,
     .description = "`insert`: INSERT; `upsert`: INSERT … ON DUPLICATE KEY UPDATE (idempotent: "
                    "replays leave the same table); `update`: UPDATE … WHERE the primary key.",
     .example = "upsert"},
    {.name = "pk.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "none",
     .enum_values = ms_pk_modes,
     .description = "Where the primary key comes from: `none`; `kafka` (topic, partition, "
                    "offset); `record_key` (the key, a primitive or the fields of a struct/map); "
                    "`record_value` (fields of the value).",
     .example = "record_key"},
    {.name = "pk.fields",
     .type = SLUICE_CFG_LIST,
     .description = "The primary key's columns. `kafka`: three names (default "
                    "`__connect_topic,__connect_partition,__connect_offset`); `record_key`: one "
                    "name for a primitive key, or the key fields to use (default: all); "
                    "`record_value`: the value fields that form the key (default: all).",
     .example = "[id]"},
    {.name = "fields.whitelist",
     .type = SLUICE_CFG_LIST,
     .description = "Only these value fields become columns (default: all). Key columns are "
                    "always written.",
     .example = "[luz, fecha]"},
    {.name = "table.name.format",
     .type = SLUICE_CFG_STRING,
     .default_value = "${topic}",
     .description = "The table of a record; `${topic}` is replaced by the record's topic (in YAML "
                    "write `$${topic}`: sluice's own `${...}` comes first). A name with a dot is "
                    "`database.table`.",
     .example = "kafka_$${topic}"},
    {.name = "auto.create",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "CREATE TABLE a missing table from the record's schema (or a schemaless "
                    "value's types), with the primary key of `pk.mode`.",
     .example = "true"},
    {.name = "auto.evolve",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "ALTER TABLE ADD a nullable column for a field the table lacks. Columns are "
                    "never dropped nor changed.",
     .example = "true"},
    {.name = "delete.enabled",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "A tombstone (null value) deletes the row of its key (needs `pk.mode: "
                    "record_key`). When false tombstones are skipped and counted.",
     .example = "true"},
    {.name = "batch.size",
     .type = SLUICE_CFG_INT,
     .default_value = "3000",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 1000000,
     .description = "Rows per transaction: a put of more records commits every this many.",
     .example = "1000"},
    {.name = "max.retries",
     .type = SLUICE_CFG_INT,
     .default_value = "10",
     .flags = SLUICE_CFG_RANGE,
     .min = -1,
     .max = 1000000000,
     .description = "Consecutive failed attempts (server unreachable or gone) before the sink "
                    "fails; -1: retry forever.",
     .example = "-1"},
    {.name = "retry.backoff.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "3s",
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 3600000,
     .description = "The least time between two connection attempts after a failure.",
     .example = "1s"},
    {.name = "db.timezone",
     .type = SLUICE_CFG_STRING,
     .default_value = "UTC",
     .description = "The zone of DATETIME/DATE columns: `UTC` or a fixed offset such as "
                    "`+05:00` (TIMESTAMP columns are always right: the session is in UTC).",
     .example = "-05:00"},
    {.name = NULL},
};

/* ---------------------------------------------------------------------------------------------- */
/* State */

enum ms_insert { MS_INSERT, MS_UPSERT, MS_UPDATE };
enum ms_pk { MS_PK_NONE, MS_PK_KAFKA, MS_PK_KEY, MS_PK_VALUE };
enum ms_kind { MS_KIND_WRITE, MS_KIND_DELETE };

/* A prepared statement for one table and shape. */
struct ms_stmt {
    struct ms_stmt *next;
    enum ms_kind kind;
    char *sig; /* column names joined by \x1f; '!' before key columns */
    MYSQL_STMT *st;
    size_t nparams;
    MYSQL_BIND *binds;
    struct sqlv_slot *slots;
    size_t *order; /* parameter p takes row item order[p] */
};

struct ms_table {
    struct ms_table *next;
    char *name;   /* as given (maybe db.table) */
    char *quoted; /* `db`.`table` */
    char **cols;  /* columns known to exist */
    size_t ncols;
    struct ms_stmt *stmts;
};

/* One column of the row being written. */
enum ms_src { MS_SRC_VALUE, MS_SRC_INT, MS_SRC_STR };
struct ms_item {
    const char *name;
    int key;
    enum ms_src src;
    const sluice_value_t *v;
    const sluice_schema_t *s; /* the field's schema, when known */
    int64_t i;
    const char *str;
};

struct ms {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    struct mysql_conn_cfg conn;
    MYSQL *m;
    enum ms_insert insert;
    enum ms_pk pk;
    char **pk_fields;
    size_t npk;
    char **whitelist;
    size_t nwhite;
    char *table_format;
    int auto_create, auto_evolve, delete_enabled;
    int64_t batch_size, max_retries, backoff_ms, tz_offset;

    struct ms_table *tables;
    const char *last_topic; /* the topic of the table cache below (pointer compare first) */
    char last_topic_copy[256];
    struct ms_table *last_table;
    struct ms_item *items; /* the row being built, reused */
    size_t nitems, cap_items;
    sluice_buf_t *sig;  /* the shape of the row being built */
    sluice_buf_t *sql;  /* DDL and statement text */
    sluice_buf_t *name; /* the table name of a record */

    /* a put that failed after committing part of its batch: what to skip when it comes back */
    const sluice_batch_t *retry_batch;
    int64_t retry_first_off;
    size_t retry_done;
    int64_t failures;     /* consecutive failed attempts */
    int64_t last_attempt; /* monotonic ms of the last connection attempt */
    int in_tx;
    size_t tx_rows;
    int64_t skipped_tombstones;
};

static char *ms_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int ms_list(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                   char ***out, size_t *n)
{
    *n = h->config_has(cfg, key) ? h->config_count(cfg, key) : 0;
    *out = NULL;
    if (!*n)
        return 0;
    *out = calloc(*n, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (!((*out)[i] = ms_strdup(h->config_item(cfg, key, i))))
            return -1;
    return 0;
}

static void ms_destroy(void *state);

static sluice_err_t ms_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                            const sluice_config_t *cfg, void **state, char *errstr,
                            size_t errstr_size)
{
    struct ms *s = calloc(1, sizeof *s);
    if (!s)
        return SLUICE_ERR_NOMEM;
    *state = s;
    s->h = h;
    s->ctx = ctx;
    if (mysql_conn_cfg_parse(h, cfg, &s->conn, errstr, errstr_size) != 0)
        return SLUICE_ERR_CONFIG;
    const char *im = h->config_string(cfg, "insert.mode");
    s->insert = strcmp(im, "upsert") == 0   ? MS_UPSERT
                : strcmp(im, "update") == 0 ? MS_UPDATE
                                            : MS_INSERT;
    const char *pm = h->config_string(cfg, "pk.mode");
    s->pk = strcmp(pm, "kafka") == 0          ? MS_PK_KAFKA
            : strcmp(pm, "record_key") == 0   ? MS_PK_KEY
            : strcmp(pm, "record_value") == 0 ? MS_PK_VALUE
                                              : MS_PK_NONE;
    if (ms_list(h, cfg, "pk.fields", &s->pk_fields, &s->npk) != 0 ||
        ms_list(h, cfg, "fields.whitelist", &s->whitelist, &s->nwhite) != 0)
        return SLUICE_ERR_NOMEM;
    s->table_format = ms_strdup(h->config_string(cfg, "table.name.format"));
    s->auto_create = h->config_bool(cfg, "auto.create");
    s->auto_evolve = h->config_bool(cfg, "auto.evolve");
    s->delete_enabled = h->config_bool(cfg, "delete.enabled");
    s->batch_size = h->config_int(cfg, "batch.size");
    s->max_retries = h->config_int(cfg, "max.retries");
    s->backoff_ms = h->config_duration_ms(cfg, "retry.backoff.ms");
    s->sig = h->buf_new(256);
    s->sql = h->buf_new(1024);
    s->name = h->buf_new(128);
    if (!s->table_format || !s->sig || !s->sql || !s->name)
        return SLUICE_ERR_NOMEM;
    const char *tz = h->config_string(cfg, "db.timezone");
    if (sqlv_parse_tz(tz, &s->tz_offset) != 0) {
        snprintf(errstr, errstr_size,
                 "'db.timezone': '%s' is not UTC nor a fixed offset like +05:00 (zones with "
                 "daylight saving time are not supported)",
                 tz);
        return SLUICE_ERR_CONFIG;
    }
    if (s->pk == MS_PK_KAFKA && s->npk != 0 && s->npk != 3) {
        snprintf(errstr, errstr_size,
                 "'pk.fields': pk.mode kafka takes three names (topic, partition, offset "
                 "columns), not %zu",
                 s->npk);
        return SLUICE_ERR_CONFIG;
    }
    if (s->pk == MS_PK_NONE && s->insert != MS_INSERT) {
        snprintf(errstr, errstr_size,
                 "'insert.mode': %s needs a primary key: set 'pk.mode' (record_key, "
                 "record_value or kafka)",
                 im);
        return SLUICE_ERR_CONFIG;
    }
    if (s->delete_enabled && s->pk != MS_PK_KEY) {
        snprintf(errstr, errstr_size,
                 "'delete.enabled': deleting on tombstones needs 'pk.mode: record_key' (a "
                 "tombstone has only its key)");
        return SLUICE_ERR_CONFIG;
    }
    return SLUICE_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Connection */

static void ms_stmt_free(struct ms_stmt *st)
{
    if (st->st)
        mysql_stmt_close(st->st);
    free(st->sig);
    free(st->binds);
    free(st->slots);
    free(st->order);
    free(st);
}

/* Forgets the statements (they belong to the connection) and the connection. */
static void ms_disconnect(struct ms *s)
{
    for (struct ms_table *t = s->tables; t; t = t->next) {
        while (t->stmts) {
            struct ms_stmt *st = t->stmts;
            t->stmts = st->next;
            ms_stmt_free(st);
        }
    }
    if (s->m)
        mysql_close(s->m);
    s->m = NULL;
    s->in_tx = 0;
}

static sluice_err_t ms_fail_attempt(struct ms *s, char *errstr, size_t errstr_size)
{
    s->failures++;
    if (s->max_retries >= 0 && s->failures > s->max_retries) {
        size_t n = strlen(errstr);
        snprintf(errstr + n, errstr_size - n, " (gave up after %" PRId64 " attempts: max.retries)",
                 s->failures);
        return SLUICE_FATAL;
    }
    return SLUICE_RETRY;
}

static sluice_err_t ms_connect(struct ms *s, char *errstr, size_t errstr_size)
{
    if (s->m)
        return SLUICE_OK;
    int64_t now = s->h->monotonic_ms();
    if (s->failures && s->last_attempt && now - s->last_attempt < s->backoff_ms) {
        int64_t w = s->backoff_ms - (now - s->last_attempt);
        struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (w % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    s->last_attempt = s->h->monotonic_ms();
    int transient = 0;
    s->m = mysql_conn_open(&s->conn, &transient, errstr, errstr_size);
    if (!s->m)
        return transient ? ms_fail_attempt(s, errstr, errstr_size) : SLUICE_FATAL;
    if (mysql_autocommit(s->m, 0) != 0) {
        snprintf(errstr, errstr_size, "cannot turn autocommit off: %s", mysql_error(s->m));
        ms_disconnect(s);
        return ms_fail_attempt(s, errstr, errstr_size);
    }
    if (s->failures)
        s->h->log(s->ctx, SLUICE_LOG_INFO,
                  "connected to the server again after %" PRId64 " failed attempt(s)", s->failures);
    return SLUICE_OK;
}

/* The result of a server error: RETRY (reconnect) when the connection is gone, else FATAL. */
static sluice_err_t ms_server_error(struct ms *s, unsigned err, const char *what, char *errstr,
                                    size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s: %s (error %u)", what, s->m ? mysql_error(s->m) : "?", err);
    if (mysql_conn_error_is_transient(err)) {
        ms_disconnect(s);
        return ms_fail_attempt(s, errstr, errstr_size);
    }
    return SLUICE_FATAL;
}

static sluice_err_t ms_start(void *state, char *errstr, size_t errstr_size)
{
    struct ms *s = state;
    sluice_err_t e = ms_connect(s, errstr, errstr_size);
    /* wrong password or missing database: say so now; a server still starting is retried */
    return e == SLUICE_RETRY ? SLUICE_OK : e;
}

/* ---------------------------------------------------------------------------------------------- */
/* Tables */

static void ms_quote(const struct sluice_host *h, sluice_buf_t *b, const char *name, size_t n)
{
    h->buf_append(b, "`", 1);
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '`')
            h->buf_append(b, "`", 1);
        h->buf_append(b, name + i, 1);
    }
    h->buf_append(b, "`", 1);
}

static void ms_quote_table(const struct sluice_host *h, sluice_buf_t *b, const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot) {
        ms_quote(h, b, name, (size_t)(dot - name));
        h->buf_append(b, ".", 1);
        name = dot + 1;
    }
    ms_quote(h, b, name, strlen(name));
}

static void ms_append(const struct sluice_host *h, sluice_buf_t *b, const char *s)
{
    h->buf_append(b, s, strlen(s));
}

static void ms_table_free_cols(struct ms_table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cols);
    t->cols = NULL;
    t->ncols = 0;
}

/* Reads the table's columns: 0 (ncols 0 when it does not exist) or a sluice error. */
static sluice_err_t ms_table_load(struct ms *s, struct ms_table *t, char *errstr,
                                  size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    ms_table_free_cols(t);
    h->buf_reset(s->sql);
    ms_append(h, s->sql,
              "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ");
    const char *dot = strchr(t->name, '.');
    char esc[2 * 256 + 1];
    if (dot) {
        size_t n = (size_t)(dot - t->name);
        if (n > 256)
            n = 256;
        mysql_real_escape_string(s->m, esc, t->name, (unsigned long)n);
        ms_append(h, s->sql, "'");
        ms_append(h, s->sql, esc);
        ms_append(h, s->sql, "'");
    } else {
        ms_append(h, s->sql, "DATABASE()");
    }
    const char *bare = dot ? dot + 1 : t->name;
    size_t bn = strlen(bare) > 256 ? 256 : strlen(bare);
    mysql_real_escape_string(s->m, esc, bare, (unsigned long)bn);
    ms_append(h, s->sql, " AND TABLE_NAME = '");
    ms_append(h, s->sql, esc);
    ms_append(h, s->sql, "' ORDER BY ORDINAL_POSITION");
    if (mysql_real_query(s->m, h->buf_data(s->sql), h->buf_len(s->sql)) != 0)
        return ms_server_error(s, mysql_errno(s->m), "reading the columns of a table", errstr,
                               errstr_size);
    MYSQL_RES *r = mysql_store_result(s->m);
    if (!r)
        return ms_server_error(s, mysql_errno(s->m), "reading the columns of a table", errstr,
                               errstr_size);
    size_t n = (size_t)mysql_num_rows(r);
    t->cols = calloc(n ? n : 1, sizeof *t->cols);
    MYSQL_ROW row;
    while (t->cols && (row = mysql_fetch_row(r)) != NULL)
        if (row[0] && (t->cols[t->ncols] = ms_strdup(row[0])) != NULL)
            t->ncols++;
    mysql_free_result(r);
    return t->cols ? SLUICE_OK : SLUICE_ERR_NOMEM;
}

static int ms_has_col(const struct ms_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcasecmp(t->cols[i], name) == 0)
            return 1;
    return 0;
}

static struct ms_table *ms_table_get(struct ms *s, const char *name)
{
    for (struct ms_table *t = s->tables; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    struct ms_table *t = calloc(1, sizeof *t);
    if (!t || !(t->name = ms_strdup(name))) {
        free(t);
        return NULL;
    }
    sluice_buf_t *q = s->h->buf_new(64);
    if (q) {
        ms_quote_table(s->h, q, name);
        t->quoted = ms_strdup(s->h->buf_data(q));
        s->h->buf_free(q);
    }
    if (!t->quoted) {
        free(t->name);
        free(t);
        return NULL;
    }
    t->ncols = 0;
    t->next = s->tables;
    s->tables = t;
    return t;
}

/* Runs DDL (which commits what the transaction holds: MySQL's implicit commit). */
static sluice_err_t ms_ddl(struct ms *s, const char *what, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    h->log(s->ctx, SLUICE_LOG_INFO, "%s", h->buf_data(s->sql));
    if (mysql_real_query(s->m, h->buf_data(s->sql), h->buf_len(s->sql)) != 0) {
        unsigned err = mysql_errno(s->m);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", what);
        return ms_server_error(s, err, msg, errstr, errstr_size);
    }
    s->in_tx = 0;
    return SLUICE_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Rows */

static struct ms_item *ms_item_add(struct ms *s)
{
    if (s->nitems == s->cap_items) {
        size_t cap = s->cap_items ? s->cap_items * 2 : 32;
        struct ms_item *n = realloc(s->items, cap * sizeof *n);
        if (!n)
            return NULL;
        s->items = n;
        s->cap_items = cap;
    }
    struct ms_item *it = &s->items[s->nitems++];
    memset(it, 0, sizeof *it);
    return it;
}

static int ms_in(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* The schema of item i of a struct or map value. */
static const sluice_schema_t *ms_field_schema(const struct sluice_host *h,
                                              const sluice_value_t *obj, size_t i,
                                              const sluice_value_t *item)
{
    const sluice_schema_t *os = h->value_schema(obj);
    if (os && h->schema_type(os) == SLUICE_TYPE_STRUCT && i < h->schema_field_count(os)) {
        const sluice_schema_t *fs = NULL;
        h->schema_field(os, i, &fs);
        if (fs)
            return fs;
    }
    return h->value_schema(item);
}

/* Adds the fields of a struct/map `obj` as items: all, or only `only` (n > 0). Returns 0, or -1
 * with `*why` (a field named in `only` is missing when `need`). */
static int ms_add_fields(struct ms *s, const sluice_value_t *obj, int key, char **only, size_t n,
                         int need, char *why, size_t why_size)
{
    const struct sluice_host *h = s->h;
    if (n && need) {
        for (size_t k = 0; k < n; k++) {
            long idx = -1;
            for (size_t i = 0, c = h->value_count(obj); i < c; i++) {
                const char *nm = NULL;
                sluice_value_t *kv = NULL;
                h->value_item(obj, i, &nm, &kv);
                if (!nm && kv && h->value_type(kv) == SLUICE_TYPE_STRING)
                    nm = h->value_as_string(kv, NULL);
                if (nm && strcmp(nm, only[k]) == 0) {
                    idx = (long)i;
                    break;
                }
            }
            if (idx < 0) {
                snprintf(why, why_size, "the %s has no field '%s' (pk.fields)",
                         key ? "key" : "value", only[k]);
                return -1;
            }
            sluice_value_t *v = h->value_item(obj, (size_t)idx, NULL, NULL);
            struct ms_item *it = ms_item_add(s);
            if (!it)
                return -1;
            it->name = only[k];
            it->key = key;
            it->src = MS_SRC_VALUE;
            it->v = v;
            it->s = ms_field_schema(h, obj, (size_t)idx, v);
            if (key && h->value_type(v) == SLUICE_TYPE_NULL) {
                snprintf(why, why_size, "key field '%s' is null", only[k]);
                return -1;
            }
        }
        return 0;
    }
    for (size_t i = 0, c = h->value_count(obj); i < c; i++) {
        const char *nm = NULL;
        sluice_value_t *kv = NULL;
        sluice_value_t *v = h->value_item(obj, i, &nm, &kv);
        if (!nm && kv && h->value_type(kv) == SLUICE_TYPE_STRING)
            nm = h->value_as_string(kv, NULL);
        if (!nm) {
            snprintf(why, why_size, "a map key is not a string");
            return -1;
        }
        if (n && !ms_in(only, n, nm))
            continue;
        if (key && h->value_type(v) == SLUICE_TYPE_NULL) {
            snprintf(why, why_size, "key field '%s' is null", nm);
            return -1;
        }
        struct ms_item *it = ms_item_add(s);
        if (!it)
            return -1;
        it->name = nm;
        it->key = key;
        it->src = MS_SRC_VALUE;
        it->v = v;
        it->s = ms_field_schema(h, obj, i, v);
    }
    return 0;
}

static int ms_is_obj(const struct sluice_host *h, const sluice_value_t *v)
{
    sluice_type_t t = h->value_type(v);
    return t == SLUICE_TYPE_STRUCT || t == SLUICE_TYPE_MAP;
}

/* Builds the items of `rec` (key columns first). Returns 0, or -1 with `why`. */
static int ms_build_row(struct ms *s, sluice_record_t *rec, sluice_value_t *val, int del, char *why,
                        size_t why_size)
{
    const struct sluice_host *h = s->h;
    char err[256];
    s->nitems = 0;
    switch (s->pk) {
    case MS_PK_NONE:
        break;
    case MS_PK_KAFKA: {
        static const char *const def[] = {"__connect_topic", "__connect_partition",
                                          "__connect_offset"};
        const char *const *names = s->npk == 3 ? (const char *const *)s->pk_fields : def;
        struct ms_item *a = ms_item_add(s), *b = ms_item_add(s), *c = ms_item_add(s);
        if (!a || !b || !c)
            return -1;
        *a = (struct ms_item){
            .name = names[0], .key = 1, .src = MS_SRC_STR, .str = h->record_topic(rec)};
        *b = (struct ms_item){
            .name = names[1], .key = 1, .src = MS_SRC_INT, .i = h->record_partition(rec)};
        *c = (struct ms_item){
            .name = names[2], .key = 1, .src = MS_SRC_INT, .i = h->record_offset(rec)};
        break;
    }
    case MS_PK_KEY: {
        sluice_value_t *k = h->record_key(rec, err, sizeof err);
        if (!k) {
            snprintf(why, why_size, "the key cannot be decoded: %s", err);
            return -1;
        }
        sluice_type_t kt = h->value_type(k);
        if (kt == SLUICE_TYPE_NULL) {
            snprintf(why, why_size, "pk.mode record_key but the record has no key");
            return -1;
        }
        if (ms_is_obj(h, k)) {
            if (ms_add_fields(s, k, 1, s->pk_fields, s->npk, 1, why, why_size) != 0)
                return -1;
        } else {
            if (s->npk != 1) {
                snprintf(why, why_size,
                         "the key is a primitive: pk.fields must name its one column");
                return -1;
            }
            struct ms_item *it = ms_item_add(s);
            if (!it)
                return -1;
            *it = (struct ms_item){.name = s->pk_fields[0],
                                   .key = 1,
                                   .src = MS_SRC_VALUE,
                                   .v = k,
                                   .s = h->value_schema(k)};
        }
        break;
    }
    case MS_PK_VALUE:
        if (del)
            break;
        if (!ms_is_obj(h, val)) {
            snprintf(why, why_size, "the value is not a struct nor a map");
            return -1;
        }
        if (s->npk) {
            if (ms_add_fields(s, val, 1, s->pk_fields, s->npk, 1, why, why_size) != 0)
                return -1;
        } else if (ms_add_fields(s, val, 1, NULL, 0, 0, why, why_size) != 0) {
            return -1;
        }
        break;
    }
    if (s->nitems == 0 && s->pk != MS_PK_NONE) {
        snprintf(why, why_size, "the primary key has no fields");
        return -1;
    }
    if (del)
        return 0;
    if (!ms_is_obj(h, val)) {
        snprintf(why, why_size, "the value is %s, not a struct nor a map",
                 h->value_type(val) == SLUICE_TYPE_STRING ? "a string" : "a primitive or array");
        return -1;
    }
    /* value columns: all or fields.whitelist, minus those already there as key columns */
    size_t nkey = s->nitems;
    for (size_t i = 0, c = h->value_count(val); i < c; i++) {
        const char *nm = NULL;
        sluice_value_t *kv = NULL;
        sluice_value_t *v = h->value_item(val, i, &nm, &kv);
        if (!nm && kv && h->value_type(kv) == SLUICE_TYPE_STRING)
            nm = h->value_as_string(kv, NULL);
        if (!nm) {
            snprintf(why, why_size, "a map key is not a string");
            return -1;
        }
        if (s->nwhite && !ms_in(s->whitelist, s->nwhite, nm))
            continue;
        int dup = 0;
        for (size_t k = 0; k < nkey && !dup; k++)
            dup = strcmp(s->items[k].name, nm) == 0;
        if (dup)
            continue;
        /* a schemaless null says nothing of its column: leave it out */
        const sluice_schema_t *fs = ms_field_schema(h, val, i, v);
        if (!fs && h->value_type(v) == SLUICE_TYPE_NULL)
            continue;
        struct ms_item *it = ms_item_add(s);
        if (!it)
            return -1;
        *it = (struct ms_item){.name = nm, .src = MS_SRC_VALUE, .v = v, .s = fs};
    }
    if (s->nitems > MS_MAX_COLS) {
        snprintf(why, why_size, "more than %d columns", MS_MAX_COLS);
        return -1;
    }
    return 0;
}

static const char *ms_item_type(struct ms *s, const struct ms_item *it, char *buf, size_t size,
                                const char **why)
{
    if (it->src == MS_SRC_INT)
        return "BIGINT";
    if (it->src == MS_SRC_STR)
        return "VARCHAR(256)";
    return sqlv_column_type(s->h, it->s, it->v, it->key, buf, size, why);
}

/* CREATE TABLE for the row in items. */
static sluice_err_t ms_create(struct ms *s, struct ms_table *t, sluice_record_t *rec, int *failed,
                              char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    char tb[64], why[300];
    h->buf_reset(s->sql);
    ms_append(h, s->sql, "CREATE TABLE IF NOT EXISTS ");
    ms_append(h, s->sql, t->quoted);
    ms_append(h, s->sql, " (");
    for (size_t i = 0; i < s->nitems; i++) {
        const struct ms_item *it = &s->items[i];
        const char *w = NULL;
        const char *ty = ms_item_type(s, it, tb, sizeof tb, &w);
        if (!ty) {
            snprintf(why, sizeof why, "table %s: cannot create column '%s': %s", t->name, it->name,
                     w);
            h->record_fail(rec, why);
            *failed = 1;
            return SLUICE_OK;
        }
        if (i)
            ms_append(h, s->sql, ", ");
        ms_quote(h, s->sql, it->name, strlen(it->name));
        ms_append(h, s->sql, " ");
        ms_append(h, s->sql, ty);
        int optional = it->src == MS_SRC_VALUE && it->s ? h->schema_optional(it->s) : !it->key;
        ms_append(h, s->sql, it->key || !optional ? " NOT NULL" : " NULL");
    }
    int any_key = 0;
    for (size_t i = 0; i < s->nitems; i++) {
        if (!s->items[i].key)
            continue;
        ms_append(h, s->sql, any_key ? ", " : ", PRIMARY KEY (");
        ms_quote(h, s->sql, s->items[i].name, strlen(s->items[i].name));
        any_key = 1;
    }
    if (any_key)
        ms_append(h, s->sql, ")");
    ms_append(h, s->sql, ")");
    char what[400];
    snprintf(what, sizeof what, "auto.create of table %s", t->name);
    sluice_err_t e = ms_ddl(s, what, errstr, errstr_size);
    if (e == SLUICE_OK)
        h->counter_add(s->ctx, "mysql.tables.created", 1);
    return e;
}

/* ALTER TABLE ADD the columns the table lacks. */
static sluice_err_t ms_evolve(struct ms *s, struct ms_table *t, sluice_record_t *rec, int *failed,
                              char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    char tb[64], why[300];
    int n = 0;
    h->buf_reset(s->sql);
    ms_append(h, s->sql, "ALTER TABLE ");
    ms_append(h, s->sql, t->quoted);
    for (size_t i = 0; i < s->nitems; i++) {
        const struct ms_item *it = &s->items[i];
        if (ms_has_col(t, it->name))
            continue;
        const char *w = NULL;
        const char *ty = ms_item_type(s, it, tb, sizeof tb, &w);
        if (!ty) {
            snprintf(why, sizeof why, "table %s: cannot add column '%s': %s", t->name, it->name, w);
            h->record_fail(rec, why);
            *failed = 1;
            return SLUICE_OK;
        }
        ms_append(h, s->sql, n++ ? ", ADD COLUMN " : " ADD COLUMN ");
        ms_quote(h, s->sql, it->name, strlen(it->name));
        ms_append(h, s->sql, " ");
        ms_append(h, s->sql, ty);
        ms_append(h, s->sql, " NULL");
    }
    char what[400];
    snprintf(what, sizeof what, "auto.evolve of table %s", t->name);
    sluice_err_t e = ms_ddl(s, what, errstr, errstr_size);
    if (e == SLUICE_OK)
        h->counter_add(s->ctx, "mysql.columns.added", n);
    return e;
}

/* The signature of the row's shape in s->sig. */
static void ms_signature(struct ms *s, enum ms_kind kind)
{
    const struct sluice_host *h = s->h;
    h->buf_reset(s->sig);
    h->buf_append(s->sig, kind == MS_KIND_DELETE ? "D" : "W", 1);
    for (size_t i = 0; i < s->nitems; i++) {
        h->buf_append(s->sig, "\x1f", 1);
        if (s->items[i].key)
            h->buf_append(s->sig, "!", 1);
        ms_append(h, s->sig, s->items[i].name);
    }
}

static sluice_err_t ms_prepare(struct ms *s, struct ms_table *t, enum ms_kind kind,
                               struct ms_stmt **out, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    struct ms_stmt *st = calloc(1, sizeof *st);
    size_t n = s->nitems, nkey = 0, p = 0;
    if (!st)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        nkey += s->items[i].key != 0;
    st->kind = kind;
    st->sig = ms_strdup(h->buf_data(s->sig));
    st->order = calloc(n * 2 + 1, sizeof *st->order);
    if (!st->sig || !st->order) {
        ms_stmt_free(st);
        return SLUICE_ERR_NOMEM;
    }
    sluice_buf_t *q = s->sql;
    h->buf_reset(q);
    if (kind == MS_KIND_DELETE || s->insert == MS_UPDATE) {
        if (kind == MS_KIND_DELETE) {
            ms_append(h, q, "DELETE FROM ");
            ms_append(h, q, t->quoted);
        } else {
            ms_append(h, q, "UPDATE ");
            ms_append(h, q, t->quoted);
            ms_append(h, q, " SET ");
            int first = 1;
            for (size_t i = 0; i < n; i++) {
                if (s->items[i].key)
                    continue;
                if (!first)
                    ms_append(h, q, ", ");
                first = 0;
                ms_quote(h, q, s->items[i].name, strlen(s->items[i].name));
                ms_append(h, q, " = ?");
                st->order[p++] = i;
            }
        }
        ms_append(h, q, " WHERE ");
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (!s->items[i].key)
                continue;
            if (!first)
                ms_append(h, q, " AND ");
            first = 0;
            ms_quote(h, q, s->items[i].name, strlen(s->items[i].name));
            ms_append(h, q, " = ?");
            st->order[p++] = i;
        }
    } else {
        ms_append(h, q, "INSERT INTO ");
        ms_append(h, q, t->quoted);
        ms_append(h, q, " (");
        for (size_t i = 0; i < n; i++) {
            if (i)
                ms_append(h, q, ", ");
            ms_quote(h, q, s->items[i].name, strlen(s->items[i].name));
            st->order[p++] = i;
        }
        ms_append(h, q, ") VALUES (");
        for (size_t i = 0; i < n; i++)
            ms_append(h, q, i ? ", ?" : "?");
        ms_append(h, q, ")");
        if (s->insert == MS_UPSERT) {
            ms_append(h, q, " ON DUPLICATE KEY UPDATE ");
            int first = 1;
            for (size_t i = 0; i < n; i++) {
                if (s->items[i].key && nkey < n)
                    continue;
                if (!first)
                    ms_append(h, q, ", ");
                first = 0;
                ms_quote(h, q, s->items[i].name, strlen(s->items[i].name));
                ms_append(h, q, " = VALUES(");
                ms_quote(h, q, s->items[i].name, strlen(s->items[i].name));
                ms_append(h, q, ")");
            }
        }
    }
    st->nparams = p;
    st->binds = calloc(p ? p : 1, sizeof *st->binds);
    st->slots = calloc(p ? p : 1, sizeof *st->slots);
    st->st = mysql_stmt_init(s->m);
    if (!st->binds || !st->slots || !st->st) {
        ms_stmt_free(st);
        return SLUICE_ERR_NOMEM;
    }
    if (mysql_stmt_prepare(st->st, h->buf_data(q), h->buf_len(q)) != 0) {
        unsigned err = mysql_stmt_errno(st->st);
        char what[600];
        snprintf(what, sizeof what, "preparing %.400s: %s", h->buf_data(q),
                 mysql_stmt_error(st->st));
        ms_stmt_free(st);
        sluice_err_t e = ms_server_error(s, err, what, errstr, errstr_size);
        return e;
    }
    st->next = t->stmts;
    t->stmts = st;
    *out = st;
    /* schemaless maps may come in many shapes (key orders): keep the most recent ones only */
    size_t kept = 1;
    for (struct ms_stmt *p = st; p->next; p = p->next) {
        if (++kept > MS_MAX_STMTS) {
            struct ms_stmt *old = p->next;
            p->next = old->next;
            ms_stmt_free(old);
            break;
        }
    }
    return SLUICE_OK;
}

/* Server errors that are about the row, not the connection or the table. */
static int ms_row_error(unsigned err)
{
    switch (err) {
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_ERROR:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_FIELD_ERROR:
    case ER_OPTION_PREVENTS_STATEMENT:
    case ER_READ_ONLY_MODE:
    case ER_CANT_LOCK:
    case ER_LOCK_OR_ACTIVE_TRANSACTION:
    case ER_OUT_OF_RESOURCES:
    case ER_RECORD_FILE_FULL:
    case ER_DISK_FULL:
        return 0;
    default:
        return !mysql_conn_error_is_transient(err) && err >= 1000 && err < 2000;
    }
}

/* Writes one record within the open transaction. *failed: the record went to record_fail. */
static sluice_err_t ms_write(struct ms *s, sluice_record_t *rec, int *failed, char *errstr,
                             size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    char why[512], err[256];
    *failed = 0;
    why[0] = '\0';
    sluice_value_t *val = h->record_value(rec, err, sizeof err);
    if (!val) {
        snprintf(why, sizeof why, "the value cannot be decoded: %s", err);
        goto fail;
    }
    int del = h->value_type(val) == SLUICE_TYPE_NULL;
    if (del && !s->delete_enabled) {
        s->skipped_tombstones++;
        h->counter_add(s->ctx, "mysql.tombstones.skipped", 1);
        return SLUICE_OK;
    }
    /* the table */
    const char *topic = h->record_topic(rec);
    struct ms_table *t = s->last_table;
    if (!t || topic != s->last_topic || strcmp(topic, s->last_topic_copy) != 0) {
        h->buf_reset(s->name);
        const char *f = s->table_format, *p;
        while ((p = strstr(f, "${topic}")) != NULL) {
            h->buf_append(s->name, f, (size_t)(p - f));
            ms_append(h, s->name, topic);
            f = p + 8;
        }
        ms_append(h, s->name, f);
        t = ms_table_get(s, h->buf_data(s->name));
        if (!t)
            return SLUICE_ERR_NOMEM;
        s->last_table = t;
        s->last_topic = topic;
        snprintf(s->last_topic_copy, sizeof s->last_topic_copy, "%s", topic);
    }
    if (ms_build_row(s, rec, val, del, why, sizeof why) != 0) {
        if (s->nitems > MS_MAX_COLS || why[0]) {
            char w2[600];
            snprintf(w2, sizeof w2, "table %s: %s", t->name, why);
            h->record_fail(rec, w2);
            *failed = 1;
            return SLUICE_OK;
        }
        return SLUICE_ERR_NOMEM;
    }
    enum ms_kind kind = del ? MS_KIND_DELETE : MS_KIND_WRITE;
    if (kind == MS_KIND_WRITE && s->insert == MS_UPDATE) {
        size_t nv = 0;
        for (size_t i = 0; i < s->nitems; i++)
            nv += !s->items[i].key;
        if (!nv) {
            snprintf(why, sizeof why,
                     "table %s: insert.mode update but the value has no "
                     "non-key field to set",
                     t->name);
            goto fail;
        }
    }
    ms_signature(s, kind);
    struct ms_stmt *st = t->stmts, *prev = NULL;
    while (st && strcmp(st->sig, h->buf_data(s->sig)) != 0) {
        prev = st;
        st = st->next;
    }
    if (st && prev) { /* move to the front: shapes repeat */
        prev->next = st->next;
        st->next = t->stmts;
        t->stmts = st;
    }
    sluice_err_t e;
    if (!st) {
        /* a new shape: check the columns against the table (load it on first use) */
        if (!t->cols && (e = ms_table_load(s, t, errstr, errstr_size)) != SLUICE_OK)
            return e;
        if (t->ncols == 0) {
            if (!s->auto_create) {
                snprintf(errstr, errstr_size,
                         "table %s does not exist in database '%s' (create it, or set "
                         "auto.create: true)",
                         t->name, s->conn.database);
                return SLUICE_FATAL;
            }
            if (del) /* nothing to delete from a table that is not there */
                return SLUICE_OK;
            int f2 = 0;
            if ((e = ms_create(s, t, rec, &f2, errstr, errstr_size)) != SLUICE_OK)
                return e;
            if (f2) {
                *failed = 1;
                return SLUICE_OK;
            }
            if ((e = ms_table_load(s, t, errstr, errstr_size)) != SLUICE_OK)
                return e;
        }
        int missing = 0;
        for (size_t i = 0; i < s->nitems && !missing; i++)
            if (!ms_has_col(t, s->items[i].name))
                missing = (int)i + 1;
        if (missing) {
            /* the cache may be stale: another writer may have added it */
            if ((e = ms_table_load(s, t, errstr, errstr_size)) != SLUICE_OK)
                return e;
            missing = 0;
            for (size_t i = 0; i < s->nitems && !missing; i++)
                if (!ms_has_col(t, s->items[i].name))
                    missing = (int)i + 1;
        }
        if (missing) {
            if (!s->auto_evolve || del || s->items[missing - 1].key) {
                snprintf(why, sizeof why, "table %s has no column '%s'%s", t->name,
                         s->items[missing - 1].name,
                         s->auto_evolve ? " (a key column is not added by auto.evolve)"
                                        : " (set auto.evolve: true to add it)");
                goto fail;
            }
            int f2 = 0;
            if ((e = ms_evolve(s, t, rec, &f2, errstr, errstr_size)) != SLUICE_OK)
                return e;
            if (f2) {
                *failed = 1;
                return SLUICE_OK;
            }
            if ((e = ms_table_load(s, t, errstr, errstr_size)) != SLUICE_OK)
                return e;
        }
        if ((e = ms_prepare(s, t, kind, &st, errstr, errstr_size)) != SLUICE_OK)
            return e;
    }
    /* bind */
    for (size_t p = 0; p < st->nparams; p++) {
        const struct ms_item *it = &s->items[st->order[p]];
        MYSQL_BIND *b = &st->binds[p];
        struct sqlv_slot *sl = &st->slots[p];
        const char *w = NULL;
        if (it->src == MS_SRC_INT) {
            sqlv_bind_int(it->i, sl, b);
        } else if (it->src == MS_SRC_STR) {
            sqlv_bind_str(it->str, strlen(it->str), sl, b);
        } else if (sqlv_bind(h, it->v, it->s, s->tz_offset, sl, b, &w) != 0) {
            snprintf(why, sizeof why, "table %s, column '%s': %s", t->name, it->name, w);
            goto fail;
        }
    }
    if (!s->in_tx) {
        s->in_tx = 1;
        s->tx_rows = 0;
    }
    if (mysql_stmt_bind_param(st->st, st->binds) != 0 || mysql_stmt_execute(st->st) != 0) {
        unsigned code = mysql_stmt_errno(st->st);
        if (ms_row_error(code)) {
            snprintf(why, sizeof why, "table %s: the server refused the row: %s (error %u)",
                     t->name, mysql_stmt_error(st->st), code);
            goto fail;
        }
        char what[600];
        snprintf(what, sizeof what, "writing to table %s: %s", t->name, mysql_stmt_error(st->st));
        if (code == ER_NO_SUCH_TABLE || code == ER_BAD_FIELD_ERROR)
            ms_table_free_cols(t); /* changed under us: look again next time */
        snprintf(errstr, errstr_size, "%s (error %u)", what, code);
        if (mysql_conn_error_is_transient(code)) {
            ms_disconnect(s);
            return ms_fail_attempt(s, errstr, errstr_size);
        }
        return SLUICE_FATAL;
    }
    s->tx_rows++;
    return SLUICE_OK;
fail:
    h->record_fail(rec, why);
    h->counter_add(s->ctx, "mysql.records.failed", 1);
    *failed = 1;
    return SLUICE_OK;
}

static sluice_err_t ms_commit(struct ms *s, char *errstr, size_t errstr_size)
{
    if (!s->in_tx)
        return SLUICE_OK;
    if (mysql_commit(s->m) != 0)
        return ms_server_error(s, mysql_errno(s->m), "COMMIT", errstr, errstr_size);
    s->in_tx = 0;
    s->h->counter_add(s->ctx, "mysql.rows.written", (int64_t)s->tx_rows);
    s->tx_rows = 0;
    return SLUICE_OK;
}

static sluice_err_t ms_put(void *state, sluice_batch_t *batch, char *errstr, size_t errstr_size)
{
    struct ms *s = state;
    const struct sluice_host *h = s->h;
    size_t n = h->batch_count(batch), start = 0, done = 0;
    if (n == 0)
        return SLUICE_OK;
    int64_t first_off = h->record_offset(h->batch_get(batch, 0));
    if (s->retry_batch == batch && s->retry_first_off == first_off)
        start = s->retry_done; /* this batch failed after committing its first part */
    s->retry_batch = NULL;
    sluice_err_t e = ms_connect(s, errstr, errstr_size);
    done = start;
    for (size_t i = start; e == SLUICE_OK && i < n; i++) {
        int failed = 0;
        e = ms_write(s, h->batch_get(batch, i), &failed, errstr, errstr_size);
        if (e == SLUICE_OK && s->tx_rows >= (size_t)s->batch_size) {
            e = ms_commit(s, errstr, errstr_size);
            if (e == SLUICE_OK)
                done = i + 1;
        }
    }
    if (e == SLUICE_OK)
        e = ms_commit(s, errstr, errstr_size);
    if (e == SLUICE_OK) {
        s->failures = 0;
        return SLUICE_OK;
    }
    if (s->m && s->in_tx) {
        mysql_rollback(s->m);
        s->in_tx = 0;
    }
    s->retry_batch = batch;
    s->retry_first_off = first_off;
    s->retry_done = done;
    if (e == SLUICE_RETRY)
        h->log_limited(s->ctx, SLUICE_LOG_WARN, "mysql.retry", 6, "%s; retrying", errstr);
    return e;
}

static sluice_err_t ms_flush(void *state, char *errstr, size_t errstr_size)
{
    /* put commits before it returns OK: nothing is pending here */
    (void)state, (void)errstr, (void)errstr_size;
    return SLUICE_OK;
}

static void ms_stop(void *state)
{
    struct ms *s = state;
    if (s->m && s->in_tx)
        mysql_rollback(s->m);
    s->in_tx = 0;
}

static void ms_destroy(void *state)
{
    struct ms *s = state;
    if (!s)
        return;
    ms_disconnect(s);
    while (s->tables) {
        struct ms_table *t = s->tables;
        s->tables = t->next;
        ms_table_free_cols(t);
        free(t->name);
        free(t->quoted);
        free(t);
    }
    for (size_t i = 0; i < s->npk; i++)
        free(s->pk_fields[i]);
    free(s->pk_fields);
    for (size_t i = 0; i < s->nwhite; i++)
        free(s->whitelist[i]);
    free(s->whitelist);
    free(s->table_format);
    free(s->items);
    if (s->sig)
        s->h->buf_free(s->sig);
    if (s->sql)
        s->h->buf_free(s->sql);
    if (s->name)
        s->h->buf_free(s->name);
    if (s->skipped_tombstones)
        s->h->log(s->ctx, SLUICE_LOG_INFO,
                  "skipped %" PRId64 " tombstone(s) (delete.enabled is false)",
                  s->skipped_tombstones);
    free(s);
}

static const struct sluice_sink ms_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = ms_config,
    .init = ms_init,
    .start = ms_start,
    .put = ms_put,
    .flush = ms_flush,
    .stop = ms_stop,
    .destroy = ms_destroy,
};

static const struct sluice_alias ms_aliases[] = {
    {.name = "io.confluent.connect.jdbc.JdbcSinkConnector"},
    {.name = "MySqlSink"},
    {.name = NULL},
};

#define MS_DESCRIPTION                                                                              \
    "Confluent's JDBC sink for MySQL and MariaDB (MariaDB Connector/C, prepared statements): "      \
    "each record becomes a row of `table.name.format`.\n"                                           \
    "\n"                                                                                            \
    "**Rows.** A struct value (Avro, JSON with schema, a typed source) or a schemaless JSON map "   \
    "gives one column per field (`fields.whitelist` picks some). Connect's logical types land in "  \
    "DECIMAL, DATE, TIME and DATETIME(3) columns. `pk.mode` says where the primary key comes "      \
    "from: `kafka` (topic, partition, offset columns), `record_key` (a primitive key named by "     \
    "`pk.fields`, or the key's fields) or `record_value`. `insert.mode: upsert` writes INSERT … " \
    "ON DUPLICATE KEY UPDATE, so a replay leaves the table as it was; `update` writes UPDATE … "  \
    "WHERE the key. With `delete.enabled` a tombstone deletes the row of its key.\n"                \
    "\n"                                                                                            \
    "**Tables.** `auto.create` creates a missing table from the first record (nullable columns "    \
    "for optional fields, the key NOT NULL and PRIMARY KEY); `auto.evolve` adds a nullable "        \
    "column when a field appears. Neither ever drops or changes a column. Without `auto.create` "   \
    "a missing table stops the sink with a message naming it.\n"                                    \
    "\n"                                                                                            \
    "**Delivery.** One transaction per batch (split every `batch.size` rows); the sink says a "     \
    "batch is done only after COMMIT, so the core commits offsets only for rows in the table. "     \
    "A record the server refuses (a NOT NULL column without a value, a number out of range, a "     \
    "column that is missing) or that has no row form (a value that is not a struct, a missing "     \
    "key field) fails alone, with a reason naming the table and column, routed by "                 \
    "`errors.tolerance` (a dead-letter topic); the rest of the batch is written. When the server "  \
    "goes away the batch is retried on a new connection (`retry.backoff.ms` apart, up to "          \
    "`max.retries` attempts); a wrong password or a missing privilege stops the sink at once.\n"    \
    "\n"                                                                                            \
    "```yaml\n"                                                                                     \
    "sinks:\n"                                                                                      \
    "  - id: db\n"                                                                                  \
    "    plugin: mysql\n"                                                                           \
    "    config:\n"                                                                                 \
    "      connection.url: jdbc:mysql://127.0.0.1:3306/sensores\n"                                  \
    "      connection.user: sluice\n"                                                               \
    "      connection.password: ${MYSQL_PASSWORD}\n"                                                \
    "      insert.mode: upsert\n"                                                                   \
    "      pk.mode: record_key\n"                                                                   \
    "      pk.fields: [id]\n"                                                                       \
    "      auto.create: true\n"                                                                     \
    "      auto.evolve: true\n"                                                                     \
    "      delete.enabled: true\n"                                                                  \
    "```\n"                                                                                         \
    "\n"                                                                                            \
    "Type mapping, keys, failures and the differences from Confluent's sink: docs/mysql.md.\n"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "mysql",
    .version = "1.0.0",
    .summary = "Rows into MySQL/MariaDB tables like Confluent's JDBC sink: insert, upsert, update, "
               "delete on tombstones, auto.create and auto.evolve",
    .description = MS_DESCRIPTION,
    .sink = &ms_sink,
    .aliases = ms_aliases,
};
