/*
 * snapshot.c — mysql-cdc binlog mode: the consistent initial snapshot (`op: r` records).
 *
 * Like Debezium: FLUSH TABLES WITH READ LOCK, START TRANSACTION WITH CONSISTENT SNAPSHOT, read the
 * binlog position (SHOW MASTER STATUS, @@gtid_binlog_pos) and the tables' columns, UNLOCK TABLES;
 * then every row is selected inside that transaction (mysql_use_result: streamed, not buffered)
 * and streaming starts at the position read under the lock. Without the RELOAD privilege the
 * global lock is skipped and MariaDB's binlog_snapshot_file/position (consistent with the
 * transaction's snapshot) give the position instead.
 */
#include "cdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdc_snap {
    MYSQL *m;
    char **db, **name;
    size_t n, i;
    MYSQL_RES *res;
    struct cdc_table *t;
    MYSQL_ROW pending;
    unsigned long *lens;
    uint64_t emitted;
    struct cdc_pos pos;
};

void cdc_snapshot_free(struct cdc *c)
{
    struct cdc_snap *s = c->snap;
    if (!s)
        return;
    if (s->res)
        mysql_free_result(s->res);
    if (s->m)
        mysql_close(s->m);
    for (size_t i = 0; i < s->n; i++) {
        free(s->db[i]);
        free(s->name[i]);
    }
    free(s->db);
    free(s->name);
    free(s);
    c->snap = NULL;
}

static sluice_err_t cdc_snap_err(struct cdc *c, MYSQL *m, const char *what, char *errstr,
                                 size_t errstr_size)
{
    cdc_fail(errstr, errstr_size, "snapshot: %s on %s: %s", what, c->who, mysql_error(m));
    return mysql_conn_error_is_transient(mysql_errno(m)) ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
}

sluice_err_t cdc_snapshot_begin(struct cdc *c, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    struct cdc_snap *s = calloc(1, sizeof *s);
    sluice_err_t e = SLUICE_FATAL;
    int locked = 0;
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    if (!s)
        return SLUICE_ERR_NOMEM;
    c->snap = s;
    int transient = 0;
    if (!(s->m = mysql_conn_open(&c->conn, &transient, errstr, errstr_size)))
        return transient ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
    MYSQL *m = s->m;

    if (mysql_query(m, "FLUSH TABLES WITH READ LOCK") == 0) {
        locked = 1;
    } else if (mysql_conn_error_is_transient(mysql_errno(m))) {
        return cdc_snap_err(c, m, "FLUSH TABLES WITH READ LOCK", errstr, errstr_size);
    } else {
        h->log(c->ctx, SLUICE_LOG_WARN,
               "snapshot without a global read lock (%s); the position comes from MariaDB's "
               "binlog_snapshot_file/position (GRANT RELOAD to the user for Debezium's locking)",
               mysql_error(m));
    }
    if (mysql_query(m, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ") != 0 ||
        mysql_query(m, "START TRANSACTION WITH CONSISTENT SNAPSHOT") != 0)
        return cdc_snap_err(c, m, "START TRANSACTION WITH CONSISTENT SNAPSHOT", errstr,
                            errstr_size);
    if (locked) {
        if (!(r = cdc_query(c, m, "SHOW MASTER STATUS", errstr, errstr_size)))
            goto net;
        if ((row = mysql_fetch_row(r)) && row[0]) {
            snprintf(s->pos.file, sizeof s->pos.file, "%s", row[0]);
            s->pos.pos = strtoull(row[1], NULL, 10);
        }
    } else {
        if (!(r = cdc_query(c, m, "SHOW STATUS LIKE 'binlog_snapshot_%'", errstr, errstr_size)))
            goto net;
        while ((row = mysql_fetch_row(r))) {
            if (!strcmp(row[0], "Binlog_snapshot_file"))
                snprintf(s->pos.file, sizeof s->pos.file, "%s", row[1]);
            else if (!strcmp(row[0], "Binlog_snapshot_position"))
                s->pos.pos = strtoull(row[1], NULL, 10);
        }
    }
    mysql_free_result(r);
    r = NULL;
    if (!s->pos.file[0]) {
        cdc_fail(errstr, errstr_size,
                 "snapshot: the server %s reports no binlog position (is log_bin on?)", c->who);
        goto out;
    }
    if (mysql_query(m, "SELECT @@gtid_binlog_pos") == 0 && (r = mysql_store_result(m))) {
        if ((row = mysql_fetch_row(r)) && row[0])
            snprintf(s->pos.gtid, sizeof s->pos.gtid, "%s", row[0]);
        mysql_free_result(r);
        r = NULL;
    }

    if (!(r = cdc_query(c, m,
                        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE "
                        "TABLE_TYPE='BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
                        errstr, errstr_size)))
        goto net;
    size_t cap = mysql_num_rows(r) + 1;
    s->db = calloc(cap, sizeof(char *));
    s->name = calloc(cap, sizeof(char *));
    if (!s->db || !s->name)
        goto nomem;
    while ((row = mysql_fetch_row(r))) {
        if (!cdc_table_included(c, row[0], row[1]))
            continue;
        s->db[s->n] = strdup(row[0]);
        s->name[s->n] = strdup(row[1]);
        if (!s->db[s->n] || !s->name[s->n])
            goto nomem;
        s->n++;
    }
    mysql_free_result(r);
    r = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (!cdc_table_get(c, s->db[i], s->name[i], 1, errstr, errstr_size)) {
            e = SLUICE_FATAL;
            goto out;
        }
    if (locked && mysql_query(m, "UNLOCK TABLES") != 0)
        return cdc_snap_err(c, m, "UNLOCK TABLES", errstr, errstr_size);
    s->pos.snapshot = 1;
    h->log(c->ctx, SLUICE_LOG_INFO,
           "snapshot of %zu table(s) at binlog position %s:%llu (GTID %s)%s", s->n, s->pos.file,
           (unsigned long long)s->pos.pos, s->pos.gtid[0] ? s->pos.gtid : "none",
           c->snap_mode == SNAP_NO_DATA ? " (schema only)" : "");
    if (c->snap_mode == SNAP_NO_DATA)
        s->n = 0;
    return SLUICE_OK;
nomem:
    cdc_fail(errstr, errstr_size, "snapshot: out of memory");
    e = SLUICE_ERR_NOMEM;
    goto out;
net:
    e = mysql_conn_error_is_transient(mysql_errno(m)) ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
out:
    if (r)
        mysql_free_result(r);
    if (locked)
        mysql_query(m, "UNLOCK TABLES");
    return e;
}

static void cdc_quote(char *out, size_t size, const char *id)
{
    size_t o = 0;
    out[o++] = '`';
    for (const char *p = id; *p && o + 3 < size; p++) {
        if (*p == '`')
            out[o++] = '`';
        out[o++] = *p;
    }
    out[o++] = '`';
    out[o] = 0;
}

/* 1 when a row is pending (the next to emit), 0 at the end of the snapshot, -1 on error. */
static int cdc_snap_peek(struct cdc *c, char *errstr, size_t errstr_size, sluice_err_t *e)
{
    struct cdc_snap *s = c->snap;
    for (;;) {
        if (s->pending)
            return 1;
        if (s->res) {
            MYSQL_ROW row = mysql_fetch_row(s->res);
            if (row) {
                s->pending = row;
                s->lens = mysql_fetch_lengths(s->res);
                return 1;
            }
            if (mysql_errno(s->m)) {
                *e = cdc_snap_err(c, s->m, "reading rows", errstr, errstr_size);
                return -1;
            }
            mysql_free_result(s->res);
            s->res = NULL;
            s->i++;
        }
        if (s->i >= s->n)
            return 0;
        char qdb[600], qtb[600], sql[1300];
        cdc_quote(qdb, sizeof qdb, s->db[s->i]);
        cdc_quote(qtb, sizeof qtb, s->name[s->i]);
        snprintf(sql, sizeof sql, "SELECT * FROM %s.%s", qdb, qtb);
        if (!(s->t = cdc_table_get(c, s->db[s->i], s->name[s->i], 0, errstr, errstr_size))) {
            *e = SLUICE_FATAL;
            return -1;
        }
        if (mysql_query(s->m, sql) != 0 || !(s->res = mysql_use_result(s->m))) {
            *e = cdc_snap_err(c, s->m, sql, errstr, errstr_size);
            return -1;
        }
        if (mysql_num_fields(s->res) != s->t->ncols) {
            cdc_fail(errstr, errstr_size,
                     "snapshot: %s.%s returned %u columns, information_schema lists %zu",
                     s->db[s->i], s->name[s->i], mysql_num_fields(s->res), s->t->ncols);
            *e = SLUICE_FATAL;
            return -1;
        }
    }
}

sluice_err_t cdc_snapshot_poll(struct cdc *c, sluice_batch_t *batch, int *done, char *errstr,
                               size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    struct cdc_snap *s = c->snap;
    sluice_err_t e = SLUICE_OK;
    sluice_record_t *last = NULL;
    int64_t n = 0;
    int more;
    *done = 0;
    while (n < c->max_batch && (more = cdc_snap_peek(c, errstr, errstr_size, &e)) == 1) {
        if (atomic_load(&c->stopping))
            return SLUICE_OK;
        struct cdc_table *t = s->t;
        sluice_record_t *rec = h->batch_add(batch);
        sluice_value_t *after = rec ? h->value_struct(rec, t->value_schema) : NULL;
        if (!after) {
            cdc_fail(errstr, errstr_size, "snapshot: out of memory");
            return SLUICE_ERR_NOMEM;
        }
        for (size_t i = 0; i < t->ncols; i++) {
            if (!s->pending[i])
                continue;
            sluice_value_t *v = cdc_value_text(c, rec, &t->cols[i], s->pending[i], s->lens[i]);
            if (v)
                h->value_set_item(rec, after, i, v);
        }
        struct cdc_source_info si = {
            .snapshot = s->emitted == 0 ? "first" : "true",
            .file = s->pos.file,
            .pos = s->pos.pos,
            .thread = -1,
        };
        if ((e = cdc_emit(c, batch, t, 'r', NULL, after, rec, &si, &s->pos, 0, errstr,
                          errstr_size)) != SLUICE_OK)
            return e;
        s->pending = NULL;
        s->emitted++;
        last = rec;
        n++;
    }
    if (more < 0)
        return e;
    if (cdc_snap_peek(c, errstr, errstr_size, &e) == 0) {
        struct cdc_pos end = s->pos;
        end.snapshot = 0;
        end.row = 0;
        if (last) {
            /* the last snapshot record: snapshot "last", and a position that streams next */
            char err[64];
            sluice_value_t *env = h->record_value(last, err, sizeof err);
            sluice_value_t *src = env ? h->value_get(env, "source") : NULL;
            if (src)
                h->value_set_item(last, src, 4, h->value_string(last, "last", 4));
            char pb[512];
            size_t pl = cdc_pos_format(&end, pb, sizeof pb);
            h->record_set_position(last, pb, pl);
        }
        h->log(c->ctx, SLUICE_LOG_INFO, "snapshot done: %llu row(s); streaming from %s:%llu",
               (unsigned long long)s->emitted, end.file, (unsigned long long)end.pos);
        c->cur = end;
        c->skip = 0;
        *done = 1;
    } else if (e != SLUICE_OK) {
        return e;
    }
    return SLUICE_OK;
}
