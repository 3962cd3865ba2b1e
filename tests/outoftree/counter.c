/*
 * counter — a source that counts: record i has the value {"n": i} (a struct with an int64 field)
 * and the key i, until `count` records were made; then it ends. Its position is the next number,
 * so a restarted pipeline continues the count where the last committed record left it.
 *
 * Built out of tree like hello.c:
 *
 *     cc $(pkg-config --cflags sluice-plugin) -shared -fPIC -Wl,-z,defs -o counter.so counter.c
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

struct counter {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    int64_t count;           /* records to make in all, across restarts */
    int64_t next;            /* the number of the next record */
    sluice_schema_t *schema; /* {"n": int64}, owned by the core after init */
    atomic_int stopping;     /* set by stop, possibly from another thread */
};

static const struct sluice_config_field counter_config[] = {
    {.name = "count",
     .type = SLUICE_CFG_INT,
     .default_value = "10",
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 1e12,
     .description = "How many records to make; then the source ends.",
     .example = "1000"},
    {.name = NULL},
};

static sluice_err_t counter_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                 const sluice_config_t *config, void **state, char *errstr,
                                 size_t errstr_size)
{
    struct counter *c = calloc(1, sizeof *c);

    if (c == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    c->host = host;
    c->ctx = ctx;
    c->count = host->config_int(config, "count");
    /* A schema lives as long as the instance: build it once, not per record. */
    c->schema = host->schema_struct(ctx, "counter.Value");
    if (c->schema == NULL ||
        host->schema_add_field(c->schema, "n", host->schema_new(ctx, SLUICE_TYPE_INT64)) !=
            SLUICE_OK) {
        free(c);
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    *state = c;
    return SLUICE_OK;
}

/* The position is 8 bytes: the next number, little-endian. */
static sluice_err_t counter_start(void *state, const void *resume_from, size_t resume_len,
                                  char *errstr, size_t errstr_size)
{
    struct counter *c = state;

    if (resume_from == NULL) {
        c->next = 0;
        return SLUICE_OK;
    }
    if (resume_len != 8) {
        snprintf(errstr, errstr_size, "the saved position has %zu bytes, expected 8", resume_len);
        return SLUICE_FATAL;
    }
    const unsigned char *p = resume_from;
    c->next = 0;
    for (int i = 7; i >= 0; i--)
        c->next = c->next << 8 | p[i];
    c->host->log(c->ctx, SLUICE_LOG_INFO, "resuming at %lld", (long long)c->next);
    return SLUICE_OK;
}

static sluice_err_t counter_poll(void *state, sluice_batch_t *batch, int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
    struct counter *c = state;

    (void)timeout_ms; /* never waits: there is always a next number */
    for (int i = 0; i < 100 && c->next < c->count && !atomic_load(&c->stopping); i++) {
        sluice_record_t *rec = c->host->batch_add(batch);
        if (rec == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
        sluice_value_t *v = c->host->value_struct(rec, c->schema);
        if (v == NULL ||
            c->host->value_put(rec, v, "n", c->host->value_int(rec, SLUICE_TYPE_INT64, c->next)) !=
                SLUICE_OK) {
            snprintf(errstr, errstr_size, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
        c->host->record_set_value(rec, v);
        c->host->record_set_key(rec, c->host->value_int(rec, SLUICE_TYPE_INT64, c->next));
        c->host->record_set_timestamp(rec, c->host->now_ms());
        c->next++;
        unsigned char pos[8];
        for (int b = 0; b < 8; b++)
            pos[b] = (unsigned char)((uint64_t)c->next >> (8 * b));
        c->host->record_set_position(rec, pos, sizeof pos); /* copied by the host */
    }
    /* EOF still delivers the records added in this call. */
    return c->next >= c->count ? SLUICE_EOF : SLUICE_OK;
}

/* Called in order, with the position of the newest record every sink has made durable. */
static sluice_err_t counter_commit(void *state, const void *position, size_t len, char *errstr,
                                   size_t errstr_size)
{
    struct counter *c = state;

    (void)errstr;
    (void)errstr_size;
    (void)position; /* the core stores it; a source with a server to tell would tell it here */
    c->host->log(c->ctx, SLUICE_LOG_DEBUG, "committed a position of %zu bytes", len);
    return SLUICE_OK;
}

static void counter_stop(void *state)
{
    struct counter *c = state;

    atomic_store(&c->stopping, 1); /* only signal: this may run on another thread */
}

static void counter_destroy(void *state)
{
    free(state); /* the schema belongs to the core and is freed after destroy */
}

static const struct sluice_source counter_source = {
    .struct_size = sizeof(struct sluice_source),
    .config = counter_config,
    .init = counter_init,
    .start = counter_start,
    .poll = counter_poll,
    .commit = counter_commit,
    .stop = counter_stop,
    .destroy = counter_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "counter",
    .version = "1.0.0",
    .summary = "Count: record i has the value {\"n\": i} and the key i",
    .description = "An example source, built out of tree: it makes `count` records, then ends. "
                   "Its position is the next number, so a restarted pipeline continues the count.",
    .source = &counter_source,
};
