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
     .description = "Query mode: the strictly increasing column (JDBC source's key).",            \
     .example = "id"},                                                                             \
        {.name = "timestamp.column.name",                                                          \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "Query mode: the column that changes when a row does (JDBC source's "      \
                        "key).",                                                                   \
         .example = "modi"}

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
