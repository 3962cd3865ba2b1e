/*
 * query.c — mysql-cdc's query mode (see query.h): Confluent's JDBC source, with the re-read window
 * it lacks.
 *
 * Each table (or the custom query) is queried every poll.interval.ms with the JDBC source's SQL:
 * incrementing `WHERE inc > last ORDER BY inc`, timestamp modes `WHERE ts >= L AND ts < NOW() -
 * delay ORDER BY ts[, inc]`, bulk everything. The result is streamed (mysql_use_result) and handed
 * over batch.max.rows rows per poll.
 *
 * Late commits. In the timestamp modes L is the newest timestamp emitted minus
 * timestamp.reread.window.ms, so rows of a transaction that committed after a later one (smaller
 * timestamp, already passed) are read again; the keys emitted inside the window — (ts, inc), or
 * (ts, hash of the row) in timestamp mode — are remembered, so that a row is emitted once. Keys
 * below the window are forgotten; a floor key says what is never emitted again (the position on a
 * restart without the remembered keys, or keys dropped past MQ_SEEN_MAX).
 *
 * Position (text): "mq1\n" then one line per table: name, last ts (µs), last inc, floor ts, floor
 * inc, flags, and the remembered keys (up to MQ_SEEN_PERSIST, on the last record of a poll only:
 * the others carry the floor = their last key, which after a crash costs at most the late rows
 * of the window, never a duplicate).
 */
#include "query.h"

#include <ctype.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlvalue.h"

#define MQ_SEEN_MAX     100000
#define MQ_SEEN_PERSIST 64
#define MQ_NO_TS        INT64_MIN

enum mq_mode { MQ_BULK, MQ_INC, MQ_TS, MQ_TSINC };

struct mq_key {
    int64_t ts;
    int64_t k;
};

struct mq_table {
    char *name;  /* table name, or "#query" */
    char *from;  /* `db`.`table` or (query) AS `q` */
    char *topic; /* NULL: the pipeline's */
    sluice_schema_t *schema;
    unsigned nfields;
    enum enum_field_types *types; /* of the schema's result columns */
    int ts_idx, inc_idx;          /* result column indexes (-1: none) */
    int ts_is_timestamp;          /* TIMESTAMP (UTC) rather than DATETIME (db.timezone) */
    /* position */
    int have_last, have_floor;
    struct mq_key last, floor;
    struct mq_key *seen;
    size_t nseen, capseen;
    int64_t due; /* monotonic ms of the next query */
};

struct mq {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    struct mysql_conn_cfg conn;
    char who[512];
    MYSQL *m;
    enum mq_mode mode;
    char *inc_col;
    char *ts_col; /* may be a comma list */
    char *query, *suffix, *prefix;
    int64_t poll_ms, max_rows, delay_ms, window_ms, initial_ms, tz_offset;
    int have_initial, validate;
    regex_t *inc_re, *exc_re;
    size_t ninc, nexc;
    char **white, **black;
    size_t nwhite, nblack;

    struct mq_table *tables;
    size_t ntables;
    int resolved; /* tables listed and checked */
    char *resume;
    size_t resume_len;

    MYSQL_RES *res; /* the open result */
    struct mq_table *cur;
    size_t next_table;
    sluice_buf_t *sql, *pos;
    int64_t backoff_ms, cur_backoff, next_connect; /* doubling up to 30 s */
    atomic_int stopping;
};

static char *mq_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void mq_append(const struct sluice_host *h, sluice_buf_t *b, const char *s)
{
    h->buf_append(b, s, strlen(s));
}

static void mq_quote(const struct sluice_host *h, sluice_buf_t *b, const char *s, size_t n)
{
    h->buf_append(b, "`", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '`')
            h->buf_append(b, "`", 1);
        h->buf_append(b, s + i, 1);
    }
    h->buf_append(b, "`", 1);
}

int mq_is_query_mode(const char *mode)
{
    return mode && strcmp(mode, "binlog") != 0;
}

static int mq_regexes(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                      regex_t **out, size_t *n, char *errstr, size_t errstr_size)
{
    *n = 0;
    *out = NULL;
    size_t c = h->config_has(cfg, key) ? h->config_count(cfg, key) : 0;
    if (!c)
        return 0;
    *out = calloc(c, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < c; i++) {
        const char *p = h->config_item(cfg, key, i);
        size_t len = strlen(p);
        char *anch = malloc(len + 5);
        if (!anch)
            return -1;
        snprintf(anch, len + 5, "^(%s)$", p);
        int rc = regcomp(&(*out)[i], anch, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        free(anch);
        if (rc != 0) {
            snprintf(errstr, errstr_size, "'%s': '%s' is not a regular expression", key, p);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

static int mq_list(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                   char ***out, size_t *n)
{
    *n = h->config_has(cfg, key) ? h->config_count(cfg, key) : 0;
    *out = NULL;
    if (!*n)
        return 0;
    if (!(*out = calloc(*n, sizeof **out)))
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (!((*out)[i] = mq_strdup(h->config_item(cfg, key, i))))
            return -1;
    return 0;
}

sluice_err_t mq_init(const struct sluice_host *h, sluice_ctx_t *ctx, const sluice_config_t *cfg,
                     const struct mysql_conn_cfg *conn, struct mq **out, char *errstr,
                     size_t errstr_size)
{
    struct mq *q = calloc(1, sizeof *q);
    *out = q;
    if (!q)
        return SLUICE_ERR_NOMEM;
    q->h = h;
    q->ctx = ctx;
    q->conn = *conn;
    mysql_conn_describe(conn, q->who, sizeof q->who);
    q->sql = h->buf_new(512);
    q->pos = h->buf_new(256);
    if (!q->sql || !q->pos)
        return SLUICE_ERR_NOMEM;
    const char *mode = h->config_string(cfg, "mode");
    if (h->config_has(cfg, "incrementing.column.name") &&
        h->config_string(cfg, "incrementing.column.name")[0])
        q->inc_col = mq_strdup(h->config_string(cfg, "incrementing.column.name"));
    if (h->config_has(cfg, "timestamp.column.name") &&
        h->config_string(cfg, "timestamp.column.name")[0])
        q->ts_col = mq_strdup(h->config_string(cfg, "timestamp.column.name"));
    if (strcmp(mode, "query") == 0)
        q->mode = q->inc_col && q->ts_col ? MQ_TSINC
                  : q->inc_col            ? MQ_INC
                  : q->ts_col             ? MQ_TS
                                          : MQ_BULK;
    else if (strcmp(mode, "bulk") == 0)
        q->mode = MQ_BULK;
    else if (strcmp(mode, "incrementing") == 0)
        q->mode = MQ_INC;
    else if (strcmp(mode, "timestamp") == 0)
        q->mode = MQ_TS;
    else
        q->mode = MQ_TSINC;
    if ((q->mode == MQ_INC || q->mode == MQ_TSINC) && !q->inc_col) {
        snprintf(errstr, errstr_size, "'incrementing.column.name' is required with mode %s", mode);
        return SLUICE_ERR_CONFIG;
    }
    if ((q->mode == MQ_TS || q->mode == MQ_TSINC) && !q->ts_col) {
        snprintf(errstr, errstr_size, "'timestamp.column.name' is required with mode %s", mode);
        return SLUICE_ERR_CONFIG;
    }
    if (h->config_has(cfg, "query") && h->config_string(cfg, "query")[0]) {
        q->query = mq_strdup(h->config_string(cfg, "query"));
        if (h->config_has(cfg, "table.include.list") || h->config_has(cfg, "table.whitelist")) {
            snprintf(errstr, errstr_size,
                     "'query' and 'table.include.list'/'table.whitelist' exclude each other: "
                     "a custom query reads no tables of its own");
            return SLUICE_ERR_CONFIG;
        }
    }
    q->suffix =
        mq_strdup(h->config_has(cfg, "query.suffix") ? h->config_string(cfg, "query.suffix") : "");
    if (h->config_has(cfg, "topic.prefix"))
        q->prefix = mq_strdup(h->config_string(cfg, "topic.prefix"));
    q->poll_ms = h->config_duration_ms(cfg, "poll.interval.ms");
    q->max_rows = h->config_int(cfg, "batch.max.rows");
    q->delay_ms = h->config_duration_ms(cfg, "timestamp.delay.interval.ms");
    q->window_ms = h->config_duration_ms(cfg, "timestamp.reread.window.ms");
    q->validate = h->config_bool(cfg, "validate.non.null");
    if ((q->have_initial = h->config_has(cfg, "timestamp.initial")))
        q->initial_ms = h->config_int(cfg, "timestamp.initial");
    q->backoff_ms = conn->backoff_ms;
    const char *tz = h->config_string(cfg, "db.timezone");
    if (sqlv_parse_tz(tz, &q->tz_offset) != 0) {
        snprintf(errstr, errstr_size,
                 "'db.timezone': '%s' is not UTC nor a fixed offset like -05:00", tz);
        return SLUICE_ERR_CONFIG;
    }
    if (mq_regexes(h, cfg, "table.include.list", &q->inc_re, &q->ninc, errstr, errstr_size) ||
        mq_regexes(h, cfg, "table.exclude.list", &q->exc_re, &q->nexc, errstr, errstr_size) ||
        mq_list(h, cfg, "table.whitelist", &q->white, &q->nwhite) ||
        mq_list(h, cfg, "table.blacklist", &q->black, &q->nblack))
        return errstr[0] ? SLUICE_ERR_CONFIG : SLUICE_ERR_NOMEM;
    if (!q->query && !q->conn.database[0]) {
        snprintf(errstr, errstr_size,
                 "query mode reads the tables of one database: give 'db.name' or the database in "
                 "'connection.url' (jdbc:mysql://host:port/database)");
        return SLUICE_ERR_CONFIG;
    }
    if (!q->suffix || (h->config_has(cfg, "topic.prefix") && !q->prefix))
        return SLUICE_ERR_NOMEM;
    return SLUICE_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Connection and tables */

static void mq_close(struct mq *q)
{
    if (q->res) {
        mysql_free_result(q->res);
        q->res = NULL;
    }
    q->cur = NULL;
    if (q->m)
        mysql_close(q->m);
    q->m = NULL;
}

/* Connects: OK, NOT_CONNECTED (transient; message set) or FATAL. */
static sluice_err_t mq_connect(struct mq *q, char *errstr, size_t errstr_size)
{
    if (q->m)
        return SLUICE_OK;
    int64_t now = q->h->monotonic_ms();
    if (now < q->next_connect) {
        snprintf(errstr, errstr_size, "waiting to reconnect to %s", q->who);
        return SLUICE_NOT_CONNECTED;
    }
    int transient = 0;
    q->m = mysql_conn_open(&q->conn, &transient, errstr, errstr_size);
    if (!q->m) {
        q->cur_backoff = q->cur_backoff ? q->cur_backoff * 2 : q->backoff_ms;
        if (q->cur_backoff > 30000)
            q->cur_backoff = 30000;
        q->next_connect = now + q->cur_backoff;
        return transient ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
    }
    if (q->cur_backoff)
        q->h->log(q->ctx, SLUICE_LOG_INFO, "connected to %s again", q->who);
    q->cur_backoff = 0;
    return SLUICE_OK;
}

static sluice_err_t mq_sql_error(struct mq *q, const char *what, char *errstr, size_t errstr_size)
{
    unsigned err = q->m ? mysql_errno(q->m) : CR_SERVER_GONE_ERROR;
    snprintf(errstr, errstr_size, "%s: %s (error %u)", what, q->m ? mysql_error(q->m) : "", err);
    if (mysql_conn_error_is_transient(err)) {
        mq_close(q);
        q->next_connect = q->h->monotonic_ms() + q->backoff_ms;
        return SLUICE_NOT_CONNECTED;
    }
    return SLUICE_FATAL;
}

static int mq_listed(char **list, size_t n, const char *db, const char *t)
{
    char full[600];
    snprintf(full, sizeof full, "%s.%s", db, t);
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], t) == 0 || strcmp(list[i], full) == 0)
            return 1;
    return 0;
}

static int mq_matches(regex_t *re, size_t n, const char *db, const char *t)
{
    char full[600];
    snprintf(full, sizeof full, "%s.%s", db, t);
    for (size_t i = 0; i < n; i++)
        if (regexec(&re[i], full, 0, NULL, 0) == 0 || regexec(&re[i], t, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

static struct mq_table *mq_table_add(struct mq *q, const char *name)
{
    struct mq_table *n = realloc(q->tables, (q->ntables + 1) * sizeof *n);
    if (!n)
        return NULL;
    q->tables = n;
    struct mq_table *t = &q->tables[q->ntables];
    memset(t, 0, sizeof *t);
    t->ts_idx = t->inc_idx = -1;
    if (!(t->name = mq_strdup(name)))
        return NULL;
    q->ntables++;
    return t;
}

/* The column expression of the timestamp: `a` or COALESCE(`a`,`b`). */
static void mq_ts_expr(struct mq *q, sluice_buf_t *b)
{
    const char *c = q->ts_col;
    int many = strchr(c, ',') != NULL;
    if (many)
        mq_append(q->h, b, "COALESCE(");
    while (*c) {
        while (*c == ' ')
            c++;
        size_t n = strcspn(c, ",");
        size_t m = n;
        while (m && c[m - 1] == ' ')
            m--;
        mq_quote(q->h, b, c, m);
        c += n;
        if (*c == ',') {
            c++;
            mq_append(q->h, b, ",");
        }
    }
    if (many)
        mq_append(q->h, b, ")");
}

/* Lists the tables, builds their FROM and topic, and checks the columns (LIMIT 0). */
static sluice_err_t mq_resolve(struct mq *q, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = q->h;
    if (q->query) {
        struct mq_table *t = mq_table_add(q, "#query");
        if (!t)
            return SLUICE_ERR_NOMEM;
        h->buf_reset(q->sql);
        mq_append(h, q->sql, "(");
        mq_append(h, q->sql, q->query);
        mq_append(h, q->sql, ") AS `sluice_q`");
        t->from = mq_strdup(h->buf_data(q->sql));
        t->topic = q->prefix ? mq_strdup(q->prefix) : NULL;
        if (!t->from || (q->prefix && !t->topic))
            return SLUICE_ERR_NOMEM;
    } else {
        static const char list[] =
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME";
        if (mysql_real_query(q->m, list, sizeof list - 1) != 0)
            return mq_sql_error(q, "listing the tables", errstr, errstr_size);
        MYSQL_RES *r = mysql_store_result(q->m);
        if (!r)
            return mq_sql_error(q, "listing the tables", errstr, errstr_size);
        MYSQL_ROW row;
        const char *db = q->conn.database;
        while ((row = mysql_fetch_row(r)) != NULL) {
            const char *n = row[0];
            if (q->nwhite && !mq_listed(q->white, q->nwhite, db, n))
                continue;
            if (q->ninc && !mq_matches(q->inc_re, q->ninc, db, n))
                continue;
            if (mq_listed(q->black, q->nblack, db, n) || mq_matches(q->exc_re, q->nexc, db, n))
                continue;
            struct mq_table *t = mq_table_add(q, n);
            if (!t) {
                mysql_free_result(r);
                return SLUICE_ERR_NOMEM;
            }
            h->buf_reset(q->sql);
            mq_quote(h, q->sql, db, strlen(db));
            mq_append(h, q->sql, ".");
            mq_quote(h, q->sql, n, strlen(n));
            t->from = mq_strdup(h->buf_data(q->sql));
            if (q->prefix) {
                h->buf_reset(q->sql);
                mq_append(h, q->sql, q->prefix);
                mq_append(h, q->sql, n);
                t->topic = mq_strdup(h->buf_data(q->sql));
            }
            if (!t->from || (q->prefix && !t->topic)) {
                mysql_free_result(r);
                return SLUICE_ERR_NOMEM;
            }
        }
        mysql_free_result(r);
        if (q->ntables == 0) {
            snprintf(errstr, errstr_size,
                     "no table of database '%s' matches table.include.list/table.whitelist "
                     "(and the exclude lists): nothing to poll",
                     db);
            return SLUICE_FATAL;
        }
    }
    /* check the columns */
    for (size_t i = 0; i < q->ntables; i++) {
        struct mq_table *t = &q->tables[i];
        h->buf_reset(q->sql);
        mq_append(h, q->sql, "SELECT * FROM ");
        mq_append(h, q->sql, t->from);
        mq_append(h, q->sql, " LIMIT 0");
        if (mysql_real_query(q->m, h->buf_data(q->sql), h->buf_len(q->sql)) != 0) {
            char what[300];
            snprintf(what, sizeof what, "%s %s", q->query ? "the query" : "table", t->name);
            return mq_sql_error(q, what, errstr, errstr_size);
        }
        MYSQL_RES *r = mysql_store_result(q->m);
        if (!r)
            return mq_sql_error(q, "reading the columns", errstr, errstr_size);
        unsigned nf = mysql_num_fields(r);
        MYSQL_FIELD *f = mysql_fetch_fields(r);
        const char *need[8];
        size_t nneed = 0;
        char tsbuf[256];
        if (q->inc_col && q->mode != MQ_TS && q->mode != MQ_BULK)
            need[nneed++] = q->inc_col;
        if (q->ts_col && (q->mode == MQ_TS || q->mode == MQ_TSINC)) {
            /* each column of a comma list */
            snprintf(tsbuf, sizeof tsbuf, "%s", q->ts_col);
            for (char *tok = strtok(tsbuf, ", "); tok && nneed < 8; tok = strtok(NULL, ", "))
                need[nneed++] = tok;
        }
        sluice_err_t e = SLUICE_OK;
        for (size_t k = 0; k < nneed && e == SLUICE_OK; k++) {
            unsigned j = 0;
            while (j < nf && strcasecmp(f[j].name, need[k]) != 0)
                j++;
            if (j == nf) {
                snprintf(errstr, errstr_size, "%s %s has no column '%s' (%s)",
                         q->query ? "the query" : "table", t->name, need[k],
                         strcmp(need[k], q->inc_col ? q->inc_col : "") == 0
                             ? "incrementing.column.name"
                             : "timestamp.column.name");
                e = SLUICE_FATAL;
            } else if (q->validate && !(f[j].flags & NOT_NULL_FLAG) && !q->query) {
                snprintf(errstr, errstr_size,
                         "column '%s' of table %s is nullable: the JDBC source's modes need it "
                         "NOT NULL (ALTER TABLE … MODIFY it NOT NULL, or set validate.non.null: "
                         "false)",
                         need[k], t->name);
                e = SLUICE_FATAL;
            }
        }
        mysql_free_result(r);
        if (e != SLUICE_OK)
            return e;
    }
    /* apply the committed position */
    if (q->resume) {
        const char *p = q->resume, *end = q->resume + q->resume_len;
        if (q->resume_len < 4 || memcmp(p, "mq1\n", 4) != 0) {
            snprintf(errstr, errstr_size,
                     "the committed position is not a query-mode position (was the source in "
                     "binlog mode?); remove it from the offsets store to start over");
            return SLUICE_FATAL;
        }
        p += 4;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            const char *tab = memchr(p, '\t', (size_t)(nl - p));
            if (tab) {
                struct mq_table *t = NULL;
                for (size_t i = 0; i < q->ntables && !t; i++)
                    if (strlen(q->tables[i].name) == (size_t)(tab - p) &&
                        memcmp(q->tables[i].name, p, (size_t)(tab - p)) == 0)
                        t = &q->tables[i];
                char line[8192];
                size_t ll = (size_t)(nl - tab - 1);
                if (t && ll < sizeof line) {
                    memcpy(line, tab + 1, ll);
                    line[ll] = '\0';
                    long long lt, li, ft, fi;
                    int fl, used = 0;
                    unsigned long ns;
                    if (sscanf(line, "%lld %lld %lld %lld %d %lu%n", &lt, &li, &ft, &fi, &fl, &ns,
                               &used) == 6) {
                        t->have_last = fl & 1;
                        t->have_floor = (fl & 2) != 0;
                        t->last = (struct mq_key){lt, li};
                        t->floor = (struct mq_key){ft, fi};
                        const char *s = line + used;
                        for (unsigned long k = 0; k < ns; k++) {
                            long long a, b;
                            int u = 0;
                            if (sscanf(s, " %lld,%lld%n", &a, &b, &u) != 2)
                                break;
                            s += u;
                            if (t->nseen == t->capseen) {
                                size_t c = t->capseen ? t->capseen * 2 : 64;
                                struct mq_key *nk = realloc(t->seen, c * sizeof *nk);
                                if (!nk)
                                    return SLUICE_ERR_NOMEM;
                                t->seen = nk;
                                t->capseen = c;
                            }
                            t->seen[t->nseen++] = (struct mq_key){a, b};
                        }
                    }
                }
            }
            p = nl + 1;
        }
        free(q->resume);
        q->resume = NULL;
    } else if (q->have_initial) {
        for (size_t i = 0; i < q->ntables; i++) {
            struct mq_table *t = &q->tables[i];
            int64_t us = q->initial_ms * 1000;
            if (q->initial_ms == -1)
                us = q->h->now_ms() * 1000;
            t->have_floor = 1;
            t->floor = (struct mq_key){us - 1, INT64_MAX};
        }
    }
    q->resolved = 1;
    return SLUICE_OK;
}

sluice_err_t mq_start(struct mq *q, const void *resume_from, size_t resume_len, char *errstr,
                      size_t errstr_size)
{
    if (resume_from && resume_len) {
        q->resume = malloc(resume_len);
        if (!q->resume)
            return SLUICE_ERR_NOMEM;
        memcpy(q->resume, resume_from, resume_len);
        q->resume_len = resume_len;
    }
    sluice_err_t e = mq_connect(q, errstr, errstr_size);
    if (e == SLUICE_NOT_CONNECTED) { /* a server still starting: the polls retry */
        q->h->log(q->ctx, SLUICE_LOG_WARN, "%s; retrying", errstr);
        return SLUICE_OK;
    }
    if (e != SLUICE_OK)
        return e;
    e = mq_resolve(q, errstr, errstr_size);
    return e == SLUICE_NOT_CONNECTED ? SLUICE_OK : e;
}

/* ---------------------------------------------------------------------------------------------- */
/* Keys */

static int mq_cmp(struct mq_key a, struct mq_key b)
{
    if (a.ts != b.ts)
        return a.ts < b.ts ? -1 : 1;
    return a.k < b.k ? -1 : a.k > b.k;
}

/* Index of the first key >= k. */
static size_t mq_lower(const struct mq_table *t, struct mq_key k)
{
    size_t lo = 0, hi = t->nseen;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mq_cmp(t->seen[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int mq_seen(const struct mq_table *t, struct mq_key k)
{
    size_t i = mq_lower(t, k);
    return i < t->nseen && mq_cmp(t->seen[i], k) == 0;
}

static int mq_remember(struct mq *q, struct mq_table *t, struct mq_key k)
{
    if (t->nseen == t->capseen) {
        size_t c = t->capseen ? t->capseen * 2 : 64;
        struct mq_key *n = realloc(t->seen, c * sizeof *n);
        if (!n)
            return -1;
        t->seen = n;
        t->capseen = c;
    }
    size_t i = mq_lower(t, k);
    memmove(t->seen + i + 1, t->seen + i, (t->nseen - i) * sizeof *t->seen);
    t->seen[i] = k;
    t->nseen++;
    if (t->nseen > MQ_SEEN_MAX) {
        size_t drop = t->nseen - MQ_SEEN_MAX;
        struct mq_key top = t->seen[drop - 1];
        if (!t->have_floor || mq_cmp(top, t->floor) > 0)
            t->floor = top;
        t->have_floor = 1;
        memmove(t->seen, t->seen + drop, (t->nseen - drop) * sizeof *t->seen);
        t->nseen -= drop;
        q->h->log_limited(q->ctx, SLUICE_LOG_WARN, "mq.seen", 1,
                          "table %s: more than %d rows inside timestamp.reread.window.ms; the "
                          "window shrinks to the newest of them",
                          t->name, MQ_SEEN_MAX);
    }
    return 0;
}

/* Forgets the keys below the window. */
static void mq_prune(struct mq *q, struct mq_table *t)
{
    if (!t->have_last)
        return;
    struct mq_key lo = {t->last.ts - q->window_ms * 1000, INT64_MIN};
    size_t i = mq_lower(t, lo);
    if (i) {
        memmove(t->seen, t->seen + i, (t->nseen - i) * sizeof *t->seen);
        t->nseen -= i;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Position */

static void mq_pos_build(struct mq *q, int with_seen)
{
    const struct sluice_host *h = q->h;
    char line[160];
    h->buf_reset(q->pos);
    mq_append(h, q->pos, "mq1\n");
    for (size_t i = 0; i < q->ntables; i++) {
        const struct mq_table *t = &q->tables[i];
        if (!t->have_last && !t->have_floor)
            continue;
        struct mq_key floor = t->floor;
        int have_floor = t->have_floor;
        size_t from = 0, n = 0;
        if (q->mode == MQ_TS || q->mode == MQ_TSINC) {
            if (with_seen) {
                from = t->nseen > MQ_SEEN_PERSIST ? t->nseen - MQ_SEEN_PERSIST : 0;
                n = t->nseen - from;
                if (from && (!have_floor || mq_cmp(t->seen[from - 1], floor) > 0)) {
                    floor = t->seen[from - 1];
                    have_floor = 1;
                }
            } else if (t->have_last) {
                floor = t->last;
                have_floor = 1;
            }
        }
        mq_append(h, q->pos, t->name);
        snprintf(line, sizeof line, "\t%lld %lld %lld %lld %d %zu", (long long)t->last.ts,
                 (long long)t->last.k, (long long)floor.ts, (long long)floor.k,
                 (t->have_last ? 1 : 0) | (have_floor ? 2 : 0), n);
        mq_append(h, q->pos, line);
        for (size_t k = from; k < from + n; k++) {
            snprintf(line, sizeof line, " %lld,%lld", (long long)t->seen[k].ts,
                     (long long)t->seen[k].k);
            mq_append(h, q->pos, line);
        }
        mq_append(h, q->pos, "\n");
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Polling */

static sluice_err_t mq_query(struct mq *q, struct mq_table *t, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = q->h;
    char lit[64];
    h->buf_reset(q->sql);
    mq_append(h, q->sql, "SELECT * FROM ");
    mq_append(h, q->sql, t->from);
    int64_t off = t->ts_is_timestamp ? 0 : q->tz_offset;
    switch (q->mode) {
    case MQ_BULK:
        break;
    case MQ_INC:
        mq_append(h, q->sql, " WHERE ");
        mq_quote(h, q->sql, q->inc_col, strlen(q->inc_col));
        snprintf(lit, sizeof lit, " > %lld ORDER BY ", t->have_last ? (long long)t->last.k : -1LL);
        mq_append(h, q->sql, lit);
        mq_quote(h, q->sql, q->inc_col, strlen(q->inc_col));
        mq_append(h, q->sql, " ASC");
        break;
    case MQ_TS:
    case MQ_TSINC: {
        mq_append(h, q->sql, " WHERE ");
        int64_t lo = MQ_NO_TS;
        if (t->have_last)
            lo = t->last.ts - q->window_ms * 1000;
        if (t->have_floor && t->floor.ts > lo)
            lo = t->floor.ts;
        if (lo != MQ_NO_TS) {
            mq_ts_expr(q, q->sql);
            mq_append(h, q->sql, " >= '");
            sqlv_format_datetime(lo, off, lit, sizeof lit);
            mq_append(h, q->sql, lit);
            mq_append(h, q->sql, "' AND ");
        }
        mq_ts_expr(q, q->sql);
        snprintf(lit, sizeof lit, " < NOW(6) + INTERVAL %lld MICROSECOND ORDER BY ",
                 (long long)(off * 1000000 - q->delay_ms * 1000));
        mq_append(h, q->sql, lit);
        mq_ts_expr(q, q->sql);
        if (q->mode == MQ_TSINC) {
            mq_append(h, q->sql, ", ");
            mq_quote(h, q->sql, q->inc_col, strlen(q->inc_col));
        }
        mq_append(h, q->sql, " ASC");
        break;
    }
    }
    if (q->suffix[0]) {
        mq_append(h, q->sql, " ");
        mq_append(h, q->sql, q->suffix);
    }
    if (h->log_enabled(q->ctx, SLUICE_LOG_DEBUG))
        h->log(q->ctx, SLUICE_LOG_DEBUG, "%s", h->buf_data(q->sql));
    if (mysql_real_query(q->m, h->buf_data(q->sql), h->buf_len(q->sql)) != 0) {
        char what[300];
        snprintf(what, sizeof what, "querying %s %s", q->query ? "the query" : "table", t->name);
        return mq_sql_error(q, what, errstr, errstr_size);
    }
    q->res = mysql_use_result(q->m);
    if (!q->res)
        return mq_sql_error(q, "reading a result", errstr, errstr_size);
    q->cur = t;
    /* the schema, (re)built when the columns changed */
    unsigned nf = mysql_num_fields(q->res);
    MYSQL_FIELD *f = mysql_fetch_fields(q->res);
    int same = t->schema && nf == t->nfields;
    for (unsigned i = 0; same && i < nf; i++)
        same = f[i].type == t->types[i];
    if (!same) {
        const char *nm = q->query ? NULL : t->name;
        sluice_schema_t *s = h->schema_struct(q->ctx, nm);
        enum enum_field_types *ty = calloc(nf ? nf : 1, sizeof *ty);
        if (!s || !ty) {
            free(ty);
            return SLUICE_ERR_NOMEM;
        }
        t->ts_idx = t->inc_idx = -1;
        for (unsigned i = 0; i < nf; i++) {
            sluice_schema_t *fs = sqlv_field_schema(h, q->ctx, &f[i]);
            if (!fs || h->schema_add_field(s, f[i].name, fs) != SLUICE_OK) {
                free(ty);
                return SLUICE_ERR_NOMEM;
            }
            ty[i] = f[i].type;
            if (q->inc_col && strcasecmp(f[i].name, q->inc_col) == 0)
                t->inc_idx = (int)i;
            if (q->ts_col && strcasecmp(f[i].name, q->ts_col) == 0) {
                t->ts_idx = (int)i;
                t->ts_is_timestamp = f[i].type == MYSQL_TYPE_TIMESTAMP;
            }
        }
        free(t->types);
        t->types = ty;
        t->nfields = nf;
        t->schema = s;
    }
    return SLUICE_OK;
}

/* The timestamp of a row in µs (the first non-null of a COALESCE list). */
static int mq_row_ts(struct mq *q, struct mq_table *t, MYSQL_ROW row, unsigned long *lens,
                     MYSQL_FIELD *f, unsigned nf, int64_t *us)
{
    if (t->ts_idx >= 0) {
        if (!row[t->ts_idx])
            return -1;
        return sqlv_parse_datetime(row[t->ts_idx], lens[t->ts_idx],
                                   f[t->ts_idx].type == MYSQL_TYPE_TIMESTAMP ? 0 : q->tz_offset,
                                   us);
    }
    /* COALESCE(a, b, ...) */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", q->ts_col);
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        for (unsigned i = 0; i < nf; i++) {
            if (strcasecmp(f[i].name, tok) != 0 || !row[i])
                continue;
            return sqlv_parse_datetime(row[i], lens[i],
                                       f[i].type == MYSQL_TYPE_TIMESTAMP ? 0 : q->tz_offset, us);
        }
    }
    return -1;
}

static uint64_t mq_hash(MYSQL_ROW row, unsigned long *lens, unsigned nf)
{
    uint64_t x = 1469598103934665603ULL;
    for (unsigned i = 0; i < nf; i++) {
        if (!row[i]) {
            x = (x ^ 0xffu) * 1099511628211ULL;
            continue;
        }
        for (unsigned long k = 0; k < lens[i]; k++)
            x = (x ^ (unsigned char)row[i][k]) * 1099511628211ULL;
        x = (x ^ 0x1fu) * 1099511628211ULL;
    }
    return x;
}

static void mq_sleep_ms(struct mq *q, int64_t ms)
{
    while (ms > 0 && !atomic_load(&q->stopping)) {
        int64_t step = ms > 50 ? 50 : ms;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

sluice_err_t mq_poll(struct mq *q, sluice_batch_t *batch, int timeout_ms, char *errstr,
                     size_t errstr_size)
{
    const struct sluice_host *h = q->h;
    if (atomic_load(&q->stopping))
        return SLUICE_AGAIN;
    sluice_err_t e = mq_connect(q, errstr, errstr_size);
    if (e != SLUICE_OK)
        return e;
    if (!q->resolved && (e = mq_resolve(q, errstr, errstr_size)) != SLUICE_OK)
        return e;
    if (!q->res) {
        /* the next table that is due */
        int64_t now = h->monotonic_ms(), wait = INT64_MAX;
        struct mq_table *t = NULL;
        for (size_t k = 0; k < q->ntables && !t; k++) {
            struct mq_table *c = &q->tables[(q->next_table + k) % q->ntables];
            if (c->due <= now) {
                t = c;
                q->next_table = (q->next_table + k + 1) % q->ntables;
            } else if (c->due - now < wait) {
                wait = c->due - now;
            }
        }
        if (!t) {
            mq_sleep_ms(q, wait < timeout_ms ? wait : timeout_ms);
            return SLUICE_AGAIN;
        }
        if ((e = mq_query(q, t, errstr, errstr_size)) != SLUICE_OK)
            return e;
    }
    struct mq_table *t = q->cur;
    unsigned nf = mysql_num_fields(q->res);
    MYSQL_FIELD *f = mysql_fetch_fields(q->res);
    sluice_record_t *last_rec = NULL;
    int64_t added = 0, skipped = 0;
    while (added < q->max_rows) {
        MYSQL_ROW row = mysql_fetch_row(q->res);
        if (!row) {
            unsigned err = mysql_errno(q->m);
            mysql_free_result(q->res);
            q->res = NULL;
            q->cur = NULL;
            if (err) {
                if (last_rec)
                    break; /* hand over what we have; the next poll finds the connection gone */
                return mq_sql_error(q, "reading rows", errstr, errstr_size);
            }
            t->due = h->monotonic_ms() + q->poll_ms;
            mq_prune(q, t);
            break;
        }
        unsigned long *lens = mysql_fetch_lengths(q->res);
        struct mq_key key = {0, 0};
        if (q->mode != MQ_BULK) {
            if (q->mode != MQ_INC) {
                if (mq_row_ts(q, t, row, lens, f, nf, &key.ts) != 0) {
                    skipped++;
                    continue;
                }
            }
            if (q->mode == MQ_INC || q->mode == MQ_TSINC) {
                if (t->inc_idx < 0 || !row[t->inc_idx]) {
                    skipped++;
                    continue;
                }
                key.k = strtoll(row[t->inc_idx], NULL, 10);
            } else {
                key.k = (int64_t)mq_hash(row, lens, nf);
            }
            if (q->mode != MQ_INC) {
                if (t->have_floor &&
                    (q->mode == MQ_TS ? key.ts <= t->floor.ts : mq_cmp(key, t->floor) <= 0))
                    continue;
                if (mq_seen(t, key))
                    continue;
            }
        }
        sluice_record_t *rec = h->batch_add(batch);
        if (!rec)
            return SLUICE_ERR_NOMEM;
        sluice_value_t *v = h->value_struct(rec, t->schema);
        if (!v)
            return SLUICE_ERR_NOMEM;
        for (unsigned i = 0; i < nf; i++) {
            const sluice_schema_t *fs = NULL;
            const char *name = h->schema_field(t->schema, i, &fs);
            const char *why = NULL;
            sluice_value_t *cv = sqlv_cell_value(h, rec, &f[i], fs, row[i], row[i] ? lens[i] : 0,
                                                 q->tz_offset, &why);
            if (!cv) {
                /* a cell with no value (a zero date): null if the column may be, else the row
                 * fails */
                if (h->schema_optional(fs)) {
                    cv = h->value_null(rec);
                } else {
                    char reason[300];
                    snprintf(reason, sizeof reason, "table %s, column '%s': %s", t->name, name,
                             why ? why : "bad value");
                    h->record_fail(rec, reason);
                    break;
                }
            }
            h->value_put(rec, v, name, cv);
        }
        h->record_set_value(rec, v);
        if (t->topic)
            h->record_set_topic(rec, t->topic);
        if (q->mode != MQ_BULK) {
            if (!t->have_last || mq_cmp(key, t->last) > 0) {
                t->last = key;
                t->have_last = 1;
            }
            if (q->mode != MQ_INC && mq_remember(q, t, key) != 0)
                return SLUICE_ERR_NOMEM;
            mq_pos_build(q, 0);
            h->record_set_position(rec, h->buf_data(q->pos), h->buf_len(q->pos));
        }
        last_rec = rec;
        added++;
    }
    if (last_rec && q->mode != MQ_BULK) {
        mq_pos_build(q, 1);
        h->record_set_position(last_rec, h->buf_data(q->pos), h->buf_len(q->pos));
    }
    if (skipped)
        h->log_limited(q->ctx, SLUICE_LOG_WARN, "mq.nullkey", 1,
                       "table %s: %" PRId64 " row(s) with a NULL or unreadable timestamp or "
                       "incrementing column skipped",
                       t->name, skipped);
    if (added)
        h->counter_add(q->ctx, "mysql.query.rows", added);
    return added ? SLUICE_OK : SLUICE_AGAIN;
}

sluice_err_t mq_commit(struct mq *q, const void *p, size_t n, char *e, size_t es)
{
    (void)q, (void)p, (void)n, (void)e, (void)es;
    return SLUICE_OK;
}

void mq_stop(struct mq *q)
{
    if (q)
        atomic_store(&q->stopping, 1);
}

void mq_destroy(struct mq *q)
{
    if (!q)
        return;
    mq_close(q);
    for (size_t i = 0; i < q->ntables; i++) {
        free(q->tables[i].name);
        free(q->tables[i].from);
        free(q->tables[i].topic);
        free(q->tables[i].types);
        free(q->tables[i].seen);
    }
    free(q->tables);
    for (size_t i = 0; i < q->ninc; i++)
        regfree(&q->inc_re[i]);
    for (size_t i = 0; i < q->nexc; i++)
        regfree(&q->exc_re[i]);
    free(q->inc_re);
    free(q->exc_re);
    for (size_t i = 0; i < q->nwhite; i++)
        free(q->white[i]);
    for (size_t i = 0; i < q->nblack; i++)
        free(q->black[i]);
    free(q->white);
    free(q->black);
    free(q->inc_col);
    free(q->ts_col);
    free(q->query);
    free(q->suffix);
    free(q->prefix);
    free(q->resume);
    if (q->sql)
        q->h->buf_free(q->sql);
    if (q->pos)
        q->h->buf_free(q->pos);
    free(q);
}
