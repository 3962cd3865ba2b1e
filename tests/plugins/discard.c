/* discard — a test-fixture sink that accepts every record and keeps nothing: for benchmarks of
 * sources and converters (e.g. tests/bench/datagen_bench.py), where the cost of a real sink would
 * blur the figure. It never looks inside a value (the core does not decode it) and, when stopped,
 * logs how many records and value bytes it dropped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice/plugin.h"

static const struct sluice_config_field discard_config[] = {
    {.name = NULL},
};

struct discard {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    int64_t records, bytes;
};

static sluice_err_t discard_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                                 const sluice_config_t *cfg, void **state, char *errstr,
                                 size_t errstr_size)
{
    (void)cfg;
    struct discard *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    d->h = h;
    d->ctx = ctx;
    *state = d;
    return SLUICE_OK;
}

static sluice_err_t discard_start(void *state, char *errstr, size_t errstr_size)
{
    (void)state, (void)errstr, (void)errstr_size;
    return SLUICE_OK;
}

static sluice_err_t discard_put(void *state, sluice_batch_t *batch, char *errstr,
                                size_t errstr_size)
{
    struct discard *d = state;
    (void)errstr, (void)errstr_size;
    size_t n = d->h->batch_count(batch);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if (d->h->record_value_bytes(d->h->batch_get(batch, i), &len))
            d->bytes += (int64_t)len;
    }
    d->records += (int64_t)n;
    return SLUICE_OK;
}

static sluice_err_t discard_flush(void *state, char *errstr, size_t errstr_size)
{
    (void)state, (void)errstr, (void)errstr_size;
    return SLUICE_OK;
}

static void discard_stop(void *state)
{
    struct discard *d = state;
    d->h->log(d->ctx, SLUICE_LOG_INFO, "discarded %lld records, %lld value bytes",
              (long long)d->records, (long long)d->bytes);
}

static void discard_destroy(void *state)
{
    free(state);
}

static const struct sluice_sink discard_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = discard_config,
    .init = discard_init,
    .start = discard_start,
    .put = discard_put,
    .flush = discard_flush,
    .stop = discard_stop,
    .destroy = discard_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,  .name = "discard",
    .version = "1.0.0",    .summary = "test fixture: a sink that drops every record",
    .sink = &discard_sink,
};
