/*
 * query.c — mysql-cdc's query mode (see query.h). Placeholder until the polling modes land: every
 * mode but binlog is refused at init.
 */
#include "query.h"

#include <stdio.h>
#include <string.h>

struct mq {
    int unused;
};

int mq_is_query_mode(const char *mode)
{
    return mode && strcmp(mode, "binlog") != 0;
}

sluice_err_t mq_init(const struct sluice_host *host, sluice_ctx_t *ctx, const sluice_config_t *cfg,
                     const struct mysql_conn_cfg *conn, struct mq **out, char *errstr,
                     size_t errstr_size)
{
    (void)host, (void)ctx, (void)cfg, (void)conn;
    *out = NULL;
    snprintf(errstr, errstr_size, "'mode': query mode is not built yet");
    return SLUICE_FATAL;
}
sluice_err_t mq_start(struct mq *q, const void *r, size_t n, char *e, size_t es)
{
    (void)q, (void)r, (void)n, (void)e, (void)es;
    return SLUICE_FATAL;
}
sluice_err_t mq_poll(struct mq *q, sluice_batch_t *b, int t, char *e, size_t es)
{
    (void)q, (void)b, (void)t, (void)e, (void)es;
    return SLUICE_FATAL;
}
sluice_err_t mq_commit(struct mq *q, const void *p, size_t n, char *e, size_t es)
{
    (void)q, (void)p, (void)n, (void)e, (void)es;
    return SLUICE_OK;
}
void mq_stop(struct mq *q)
{
    (void)q;
}
void mq_destroy(struct mq *q)
{
    (void)q;
}
