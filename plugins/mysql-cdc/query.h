/*
 * query.h — mysql-cdc's query mode: Confluent JDBC source style polling (bulk, incrementing,
 * timestamp, timestamp+incrementing, custom query) for servers without binlog access.
 *
 * cdc.c owns the plugin descriptor and its configuration table; it puts MQ_CONFIG_FIELDS (the keys
 * only query mode reads) into that table and, when `mode` is not `binlog`, forwards every source
 * callback to the functions below. Keys both modes use (mode, the connection keys of
 * ../mysql/conn.h, topic.prefix, table.include.list, table.exclude.list) are in cdc.c's table and
 * may be read here with the host's config getters.
 */
#ifndef SLUICE_MYSQL_CDC_QUERY_H
#define SLUICE_MYSQL_CDC_QUERY_H

#include <sluice/plugin.h>

#include "conn.h"

/* Keys only query mode reads, as an initializer list for cdc.c's table. */
#define MQ_CONFIG_FIELDS                                                                           \
    {.name = "incrementing.column.name",                                                           \
     .type = SLUICE_CFG_STRING,                                                                    \
     .description = "Query mode: the strictly increasing column (JDBC source's key), NOT NULL.",   \
     .example = "id"},                                                                             \
        {.name = "timestamp.column.name",                                                          \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "Query mode: the column that changes when a row does (JDBC source's "      \
                        "key); several, comma-separated, are read as COALESCE(a, b, ...).",        \
         .example = "modi"},                                                                       \
        {.name = "query",                                                                          \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "Query mode: a custom SELECT instead of tables. sluice wraps it as a "     \
                        "subquery and adds its own WHERE and ORDER BY, so it may have a WHERE. "   \
                        "Records go to `topic.prefix` (or the pipeline's topic).",                 \
         .example = "SELECT id, luz, modi FROM datos WHERE luz > 0"},                              \
        {.name = "query.suffix",                                                                   \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "Query mode: text appended to every generated statement.",                 \
         .example = "LOCK IN SHARE MODE"},                                                         \
        {.name = "table.whitelist",                                                                \
         .type = SLUICE_CFG_LIST,                                                                  \
         .description = "Query mode: the JDBC source's list of table names to poll (exact "        \
                        "names, `table` or `db.table`); `table.include.list` takes regular "       \
                        "expressions instead. Default: every table of the database.",              \
         .example = "[datos]"},                                                                    \
        {.name = "table.blacklist",                                                                \
         .type = SLUICE_CFG_LIST,                                                                  \
         .description = "Query mode: table names not to poll (JDBC source's key).",                \
         .example = "[audit]"},                                                                    \
        {.name = "poll.interval.ms",                                                               \
         .type = SLUICE_CFG_DURATION,                                                              \
         .default_value = "5000",                                                                  \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 1,                                                                                 \
         .max = 86400000,                                                                          \
         .description = "Query mode: how often each table is queried for new rows.",               \
         .example = "1s"},                                                                         \
        {.name = "batch.max.rows",                                                                 \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = "1000",                                                                  \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 1,                                                                                 \
         .max = 1000000,                                                                           \
         .description = "Query mode: the most rows one poll hands over (the rest of a result "     \
                        "follows in the next polls).",                                             \
         .example = "500"},                                                                        \
        {.name = "timestamp.delay.interval.ms",                                                    \
         .type = SLUICE_CFG_DURATION,                                                              \
         .default_value = "0",                                                                     \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 0,                                                                                 \
         .max = 86400000,                                                                          \
         .description = "Query mode: only rows whose timestamp is at least this much older than "  \
                        "the server's clock are read (JDBC source's key).",                        \
         .example = "2s"},                                                                         \
        {.name = "timestamp.reread.window.ms",                                                     \
         .type = SLUICE_CFG_DURATION,                                                              \
         .default_value = "0",                                                                     \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 0,                                                                                 \
         .max = 86400000,                                                                          \
         .description = "Query mode, timestamp modes: every poll reads again the rows of this "    \
                        "window before the newest timestamp read, and emits those not emitted "    \
                        "yet: rows of a transaction that committed after a later one still "       \
                        "arrive, once. Set it above your longest transaction. 0: the JDBC "        \
                        "source's behaviour (such rows are skipped).",                             \
         .example = "60s"},                                                                        \
        {.name = "timestamp.initial",                                                              \
         .type = SLUICE_CFG_INT,                                                                   \
         .description = "Query mode: on a first start read only rows with a timestamp from this "  \
                        "epoch ms on; -1: from now. Default: all rows.",                           \
         .example = "1673143200000"},                                                              \
        {.name = "validate.non.null",                                                              \
         .type = SLUICE_CFG_BOOL,                                                                  \
         .default_value = "true",                                                                  \
         .description = "Query mode: refuse to start when the incrementing or timestamp column "   \
                        "is nullable.",                                                            \
         .example = "false"},                                                                      \
    {                                                                                              \
        .name = "db.timezone", .type = SLUICE_CFG_STRING, .default_value = "UTC",                  \
        .description = "Query mode: the zone of DATETIME columns, `UTC` or a fixed offset like "   \
                       "`-05:00` (TIMESTAMP columns are read in UTC).",                            \
        .example = "-05:00"                                                                        \
    }

struct mq;

/* 1 when `mode` (the value of the `mode` key) selects query mode. */
int mq_is_query_mode(const char *mode);

sluice_err_t mq_init(const struct sluice_host *host, sluice_ctx_t *ctx, const sluice_config_t *cfg,
                     const struct mysql_conn_cfg *conn, struct mq **out, char *errstr,
                     size_t errstr_size);
sluice_err_t mq_start(struct mq *q, const void *resume_from, size_t resume_len, char *errstr,
                      size_t errstr_size);
sluice_err_t mq_poll(struct mq *q, sluice_batch_t *batch, int timeout_ms, char *errstr,
                     size_t errstr_size);
sluice_err_t mq_commit(struct mq *q, const void *position, size_t len, char *errstr,
                       size_t errstr_size);
void mq_stop(struct mq *q);
void mq_destroy(struct mq *q);

#endif
