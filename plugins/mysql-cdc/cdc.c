/*
 * cdc.c — the mysql-cdc source: its descriptor and configuration, and the choice of mode. Mode
 * `binlog` (the default) reads the binlog like Debezium's MySQL connector (snapshot.c, binlog.c and
 * the files below them: see cdc.h); the JDBC source's polling modes live in query.c.
 *
 * Binlog mode's life: the first poll connects (metadata connection), checks the server's settings
 * and the user's privileges, and decides between a snapshot and streaming from the committed
 * position; snapshot.c emits `r` records; binlog.c streams `c`/`u`/`d` from the binlog.
 */
#include "cdc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "query.h"

static const char *const cdc_modes[] = {
    "binlog", "query", "bulk", "incrementing", "timestamp", "timestamp+incrementing", NULL};
static const char *const cdc_snapshot_modes[] = {
    "initial", "always", "initial_only", "no_data", "when_needed", "never", NULL};
static const char *const cdc_decimal_modes[] = {"precise", "double", "string", NULL};
static const char *const cdc_bigint_modes[] = {"long", "precise", NULL};
static const char *const cdc_time_modes[] = {"adaptive_time_microseconds", "connect", NULL};
static const char *const cdc_binary_modes[] = {"bytes", "base64", "base64-url-safe", "hex", NULL};

static const struct sluice_config_field cdc_config[] = {
    {.name = "mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "binlog",
     .description = "`binlog`: read the binlog like Debezium (snapshot, then every insert, update "
                    "and delete). The others poll with queries like Confluent's JDBC source: "
                    "`bulk`, `incrementing`, `timestamp`, `timestamp+incrementing`; `query` "
                    "picks one of them from the column keys given (both: timestamp+incrementing, "
                    "none: bulk).",
     .example = "binlog",
     .enum_values = cdc_modes},
    {.name = "topic.prefix",
     .type = SLUICE_CFG_STRING,
     .description = "Debezium's logical server name: records go to `<topic.prefix>.<db>.<table>` "
                    "and schemas are named after it. Unset: every record goes to the pipeline's "
                    "topic (the pipeline's topic then names the schemas).",
     .example = "dbserver1"},
    {.name = "database.server.id",
     .type = SLUICE_CFG_INT,
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 4294967295.0,
     .description = "The replica id this source reads the binlog under; unique among the "
                    "server's replicas. Default: random in 5400-6400, like Debezium.",
     .example = "184054"},
    {.name = "database.include.list",
     .type = SLUICE_CFG_LIST,
     .description = "Regular expressions (POSIX extended, matched against the whole name, case "
                    "insensitive) of the databases to capture. Default: all but the system ones.",
     .example = "[inventory, shop_.*]"},
    {.name = "database.exclude.list",
     .type = SLUICE_CFG_LIST,
     .description = "Regular expressions of databases not to capture.",
     .example = "[scratch]"},
    {.name = "table.include.list",
     .type = SLUICE_CFG_LIST,
     .description = "Regular expressions of the tables to capture, matched against `db.table`.",
     .example = "[sensores\\.datos]"},
    {.name = "table.exclude.list",
     .type = SLUICE_CFG_LIST,
     .description = "Regular expressions of tables (`db.table`) not to capture.",
     .example = "[inventory\\.audit_.*]"},
    {.name = "snapshot.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "initial",
     .description = "Binlog mode. `initial`: snapshot the tables when there is no committed "
                    "position (or the snapshot did not finish), then stream. `always`: snapshot at "
                    "every start. `initial_only`: snapshot, then end. `no_data`: no snapshot, "
                    "stream from the current binlog position. `when_needed`: like `initial`, and "
                    "snapshot again when the committed binlog position was purged. `never`: "
                    "stream from the start of the oldest binlog.",
     .example = "when_needed",
     .enum_values = cdc_snapshot_modes},
    {.name = "tombstones.on.delete",
     .type = SLUICE_CFG_BOOL,
     .default_value = "true",
     .description = "After a delete event, a record with the same key and a null value (lets "
                    "log compaction drop the key).",
     .example = "false"},
    {.name = "decimal.handling.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "precise",
     .description = "DECIMAL columns as Connect Decimal (`precise`, exact), float64 (`double`) or "
                    "text (`string`).",
     .example = "string",
     .enum_values = cdc_decimal_modes},
    {.name = "bigint.unsigned.handling.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "long",
     .description = "BIGINT UNSIGNED as int64 (`long`; values above 2^63-1 wrap, as in "
                    "Debezium) or Decimal with scale 0 (`precise`).",
     .example = "precise",
     .enum_values = cdc_bigint_modes},
    {.name = "time.precision.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "adaptive_time_microseconds",
     .description = "`adaptive_time_microseconds`: Debezium's io.debezium.time types (DATETIME "
                    "in ms or µs by precision, TIME in µs). `connect`: Kafka Connect's Date, "
                    "Time and Timestamp (milliseconds).",
     .example = "connect",
     .enum_values = cdc_time_modes},
    {.name = "binary.handling.mode",
     .type = SLUICE_CFG_ENUM,
     .default_value = "bytes",
     .description = "BINARY, VARBINARY and BLOB columns as bytes, or as base64, base64-url-safe "
                    "or hex text.",
     .example = "base64",
     .enum_values = cdc_binary_modes},
    {.name = "max.batch.size",
     .type = SLUICE_CFG_INT,
     .default_value = "2048",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 1000000,
     .description = "Most records one poll adds.",
     .example = "4096"},
    MYSQL_CONN_CONFIG_FIELDS,
    MQ_CONFIG_FIELDS,
    {.name = NULL},
};

struct cdc_state {
    struct mq *q; /* query mode */
    struct cdc *c;
    enum { PH_CONNECT, PH_SNAPSHOT, PH_STREAM, PH_DONE } phase;
    struct cdc_pos resume;
    int have_resume;
};

static int cdc_enum_index(const char *v, const char *const *values)
{
    for (int i = 0; values[i]; i++)
        if (v && strcmp(v, values[i]) == 0)
            return i;
    return 0;
}

/* Avro names: letters, digits and '_' (Debezium replaces the rest with '_'). */
static char *cdc_sanitize(const char *s)
{
    char *o = strdup(s);
    if (!o)
        return NULL;
    for (char *p = o; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.'))
            *p = '_';
    return o;
}

static void cdc_free(struct cdc *c)
{
    if (!c)
        return;
    cdc_snapshot_free(c);
    cdc_binlog_close(c);
    cdc_meta_close(c);
    cdc_tables_free(c);
    free(c->tmaps);
    cdc_regexes_free(c->db_inc, c->ndb_inc);
    cdc_regexes_free(c->db_exc, c->ndb_exc);
    cdc_regexes_free(c->tb_inc, c->ntb_inc);
    cdc_regexes_free(c->tb_exc, c->ntb_exc);
    if (c->tmp)
        c->h->buf_free(c->tmp);
    pthread_mutex_destroy(&c->sock_lock);
    free(c->prefix);
    free(c->logical);
    free(c);
}

static sluice_err_t cdc_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                             const sluice_config_t *cfg, void **state, char *errstr,
                             size_t errstr_size)
{
    struct cdc_state *st = calloc(1, sizeof *st);
    struct mysql_conn_cfg conn;
    if (!st)
        return SLUICE_ERR_NOMEM;
    *state = st;
    if (mysql_conn_cfg_parse(h, cfg, &conn, errstr, errstr_size) < 0)
        return SLUICE_ERR_CONFIG;
    const char *mode = h->config_string(cfg, "mode");
    if (mq_is_query_mode(mode))
        return mq_init(h, ctx, cfg, &conn, &st->q, errstr, errstr_size);

    if (!SLUICE_HOST_HAS(h, value_set_item)) {
        cdc_fail(errstr, errstr_size, "this sluice is too old for mysql-cdc (needs ABI 1.1)");
        return SLUICE_FATAL;
    }
    struct cdc *c = calloc(1, sizeof *c);
    if (!c)
        return SLUICE_ERR_NOMEM;
    st->c = c;
    c->h = h;
    c->ctx = ctx;
    c->conn = conn;
    c->sock = -1;
    pthread_mutex_init(&c->sock_lock, NULL);
    mysql_conn_describe(&conn, c->who, sizeof c->who);
    if (h->config_has(cfg, "topic.prefix")) {
        const char *p = h->config_string(cfg, "topic.prefix");
        if (!p[0]) {
            cdc_fail(errstr, errstr_size, "'topic.prefix' must not be empty");
            return SLUICE_ERR_CONFIG;
        }
        c->prefix = strdup(p);
    }
    c->logical = cdc_sanitize(c->prefix ? c->prefix : h->ctx_topic(ctx));
    if (h->config_has(cfg, "database.server.id")) {
        c->server_id = (uint32_t)h->config_int(cfg, "database.server.id");
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->server_id = 5400 + (uint32_t)((ts.tv_nsec ^ getpid()) % 1001);
    }
    c->snap_mode = cdc_enum_index(h->config_string(cfg, "snapshot.mode"), cdc_snapshot_modes);
    c->tombstones = h->config_bool(cfg, "tombstones.on.delete");
    c->dec_mode = cdc_enum_index(h->config_string(cfg, "decimal.handling.mode"), cdc_decimal_modes);
    c->bigint_precise =
        cdc_enum_index(h->config_string(cfg, "bigint.unsigned.handling.mode"), cdc_bigint_modes);
    c->time_connect = cdc_enum_index(h->config_string(cfg, "time.precision.mode"), cdc_time_modes);
    c->bin_mode = cdc_enum_index(h->config_string(cfg, "binary.handling.mode"), cdc_binary_modes);
    c->max_batch = h->config_int(cfg, "max.batch.size");
    c->backoff_ms = conn.backoff_ms;
    c->tmp = h->buf_new(256);
    if (!c->prefix && !c->logical)
        return SLUICE_ERR_NOMEM;
    if (cdc_regexes(c, cfg, "database.include.list", &c->db_inc, &c->ndb_inc, errstr, errstr_size) <
            0 ||
        cdc_regexes(c, cfg, "database.exclude.list", &c->db_exc, &c->ndb_exc, errstr, errstr_size) <
            0 ||
        cdc_regexes(c, cfg, "table.include.list", &c->tb_inc, &c->ntb_inc, errstr, errstr_size) <
            0 ||
        cdc_regexes(c, cfg, "table.exclude.list", &c->tb_exc, &c->ntb_exc, errstr, errstr_size) < 0)
        return errstr[0] ? SLUICE_ERR_CONFIG : SLUICE_ERR_NOMEM;
    return cdc_schema_init(c, errstr, errstr_size);
}

static sluice_err_t cdc_start(void *state, const void *resume_from, size_t resume_len, char *errstr,
                              size_t errstr_size)
{
    struct cdc_state *st = state;
    if (st->q)
        return mq_start(st->q, resume_from, resume_len, errstr, errstr_size);
    if (resume_from && resume_len) {
        if (cdc_pos_parse(resume_from, resume_len, &st->resume) < 0) {
            cdc_fail(errstr, errstr_size,
                     "the committed position (%zu bytes) is not a mysql-cdc binlog position; "
                     "remove it from the offsets store to start over",
                     resume_len);
            return SLUICE_FATAL;
        }
        st->have_resume = 1;
    }
    st->phase = PH_CONNECT;
    return SLUICE_OK;
}

/* The first poll: connect, check, and choose snapshot or streaming. */
static sluice_err_t cdc_connect_phase(struct cdc_state *st, char *errstr, size_t errstr_size)
{
    struct cdc *c = st->c;
    const struct sluice_host *h = c->h;
    sluice_err_t e = cdc_meta_open(c, errstr, errstr_size);
    if (e != SLUICE_OK)
        return e;
    if ((e = cdc_binlog_check_server(c, errstr, errstr_size)) != SLUICE_OK)
        return e;
    int snapshot = 0;
    switch (c->snap_mode) {
    case SNAP_ALWAYS:
    case SNAP_INITIAL_ONLY:
        snapshot = 1;
        break;
    case SNAP_INITIAL:
    case SNAP_WHEN_NEEDED:
        snapshot = !st->have_resume || st->resume.snapshot;
        break;
    default:
        break;
    }
    if (c->snap_mode == SNAP_INITIAL_ONLY && st->have_resume && !st->resume.snapshot) {
        h->log(c->ctx, SLUICE_LOG_INFO,
               "snapshot.mode initial_only: the snapshot was taken "
               "already; nothing to do");
        st->phase = PH_DONE;
        return SLUICE_OK;
    }
    if (!snapshot && st->have_resume) {
        int ex = cdc_binlog_file_exists(c, st->resume.file, errstr, errstr_size);
        if (ex < 0)
            return SLUICE_NOT_CONNECTED;
        if (!ex) {
            if (c->snap_mode != SNAP_WHEN_NEEDED) {
                cdc_fail(errstr, errstr_size,
                         "the committed binlog position %s:%llu is no longer on the server "
                         "(the binlog was purged): changes made since cannot be read. Set "
                         "'snapshot.mode: when_needed' to take a new snapshot, or remove the "
                         "committed position to start over",
                         st->resume.file, (unsigned long long)st->resume.pos);
                return SLUICE_FATAL;
            }
            h->log(c->ctx, SLUICE_LOG_WARN,
                   "the committed binlog position %s:%llu was purged from the server; "
                   "snapshot.mode when_needed: taking a new snapshot",
                   st->resume.file, (unsigned long long)st->resume.pos);
            snapshot = 1;
        }
    }
    if (snapshot) {
        if ((e = cdc_snapshot_begin(c, errstr, errstr_size)) != SLUICE_OK)
            return e;
        c->eof_after_snapshot = c->snap_mode == SNAP_INITIAL_ONLY;
        st->phase = PH_SNAPSHOT;
        return SLUICE_OK;
    }
    if (st->have_resume) {
        c->cur = st->resume;
        c->skip = st->resume.row;
        c->cur.row = 0;
    } else if (c->snap_mode == SNAP_NEVER) {
        MYSQL_RES *r = cdc_query(c, c->meta, "SHOW BINARY LOGS", errstr, errstr_size);
        if (!r)
            return SLUICE_FATAL;
        MYSQL_ROW row = mysql_fetch_row(r);
        if (row && row[0])
            snprintf(c->cur.file, sizeof c->cur.file, "%s", row[0]);
        c->cur.pos = 4;
        mysql_free_result(r);
    } else { /* no_data: from now on */
        MYSQL_RES *r = cdc_query(c, c->meta, "SHOW MASTER STATUS", errstr, errstr_size);
        if (!r)
            return SLUICE_FATAL;
        MYSQL_ROW row = mysql_fetch_row(r);
        if (row && row[0]) {
            snprintf(c->cur.file, sizeof c->cur.file, "%s", row[0]);
            c->cur.pos = strtoull(row[1], NULL, 10);
        }
        mysql_free_result(r);
    }
    st->phase = PH_STREAM;
    return SLUICE_OK;
}

static sluice_err_t cdc_poll(void *state, sluice_batch_t *batch, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
    struct cdc_state *st = state;
    if (st->q)
        return mq_poll(st->q, batch, timeout_ms, errstr, errstr_size);
    struct cdc *c = st->c;
    if (atomic_load(&c->stopping))
        return SLUICE_AGAIN;
    sluice_err_t e;
    if (st->phase == PH_CONNECT) {
        int64_t now = c->h->monotonic_ms();
        if (now < c->next_connect_ms) {
            int64_t d = c->next_connect_ms - now;
            usleep((useconds_t)((d < timeout_ms ? d : timeout_ms) * 1000));
            cdc_fail(errstr, errstr_size, "waiting to reconnect to %s", c->who);
            return SLUICE_NOT_CONNECTED;
        }
        e = cdc_connect_phase(st, errstr, errstr_size);
        if (e == SLUICE_NOT_CONNECTED) {
            cdc_meta_close(c);
            c->next_connect_ms = c->h->monotonic_ms() + c->backoff_ms;
            c->backoff_ms = c->backoff_ms * 2 > 30000 ? 30000 : c->backoff_ms * 2;
            return e;
        }
        if (e != SLUICE_OK)
            return e;
        c->backoff_ms = c->conn.backoff_ms;
    }
    if (st->phase == PH_SNAPSHOT) {
        int done = 0;
        e = cdc_snapshot_poll(c, batch, &done, errstr, errstr_size);
        if (e == SLUICE_NOT_CONNECTED) {
            /* the snapshot restarts from scratch on the next connect */
            cdc_snapshot_free(c);
            cdc_meta_close(c);
            st->phase = PH_CONNECT;
            return e;
        }
        if (e != SLUICE_OK)
            return e;
        if (done) {
            cdc_snapshot_free(c);
            st->have_resume = 1;
            st->resume = c->cur;
            st->resume.snapshot = 0;
            if (c->eof_after_snapshot) {
                st->phase = PH_DONE;
                return SLUICE_EOF;
            }
            st->phase = PH_STREAM;
        }
        return c->h->batch_count(batch) ? SLUICE_OK : SLUICE_AGAIN;
    }
    if (st->phase == PH_STREAM)
        return cdc_binlog_poll(c, batch, timeout_ms, errstr, errstr_size);
    return SLUICE_EOF;
}

static sluice_err_t cdc_commit(void *state, const void *position, size_t len, char *errstr,
                               size_t errstr_size)
{
    struct cdc_state *st = state;
    if (st->q)
        return mq_commit(st->q, position, len, errstr, errstr_size);
    /* Nothing to acknowledge to the server: a replica's position is its own to keep (the core
     * stores it). */
    return SLUICE_OK;
}

static void cdc_stop(void *state)
{
    struct cdc_state *st = state;
    if (st->q) {
        mq_stop(st->q);
        return;
    }
    if (st->c) {
        atomic_store(&st->c->stopping, 1);
        cdc_binlog_interrupt(st->c);
    }
}

static void cdc_destroy(void *state)
{
    struct cdc_state *st = state;
    if (!st)
        return;
    if (st->q)
        mq_destroy(st->q);
    cdc_free(st->c);
    free(st);
}

static const struct sluice_source cdc_source = {
    .struct_size = sizeof(struct sluice_source),
    .config = cdc_config,
    .init = cdc_init,
    .start = cdc_start,
    .poll = cdc_poll,
    .commit = cdc_commit,
    .stop = cdc_stop,
    .destroy = cdc_destroy,
};

static const struct sluice_alias cdc_aliases[] = {
    {.name = "io.debezium.connector.mysql.MySqlConnector", .key = "mode", .value = "binlog"},
    {.name = "io.debezium.connector.mariadb.MariaDbConnector", .key = "mode", .value = "binlog"},
    {.name = "MySqlCdcSource", .key = "mode", .value = "binlog"},
    /* the JDBC source's configs carry their own `mode` (bulk, incrementing, ...) */
    {.name = "io.confluent.connect.jdbc.JdbcSourceConnector"},
    {.name = "MySqlSource"},
    {.name = NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "mysql-cdc",
    .version = "1.0.0",
    .summary = "MySQL/MariaDB changes as records: the binlog like Debezium, or polling like the "
               "JDBC source",
    .description =
        "Mode `binlog` (the default) is a drop-in for Debezium's MySQL connector: a consistent "
        "snapshot (`op: r`), then every insert (`c`), update (`u`) and delete (`d`, followed by a "
        "tombstone) read from the row-based binlog, as Debezium change events: the key is a "
        "struct of the primary key (`<prefix>.<db>.<table>.Key`), the value the envelope "
        "`<prefix>.<db>.<table>.Envelope` with `before`, `after`, `source` "
        "(`io.debezium.connector.mysql.Source`), `op` and `ts_ms`; column types map to the same "
        "Connect types and logical names as Debezium's. Records go to "
        "`<topic.prefix>.<db>.<table>`. The position (binlog file, position of the transaction, "
        "rows delivered in it, GTID) is committed once Kafka has the record, so a restart goes on "
        "right after the last delivered row. The server needs `binlog_format=ROW`, "
        "`binlog_row_image=FULL` (and `binlog_row_metadata=FULL` for column changes while "
        "streaming); the user needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and BINLOG "
        "MONITOR (REPLICATION CLIENT). See docs/mysql-cdc.md.\n"
        "\n"
        "The other modes poll tables with queries, like Confluent's JDBC source connector.",
    .source = &cdc_source,
    .aliases = cdc_aliases,
};
