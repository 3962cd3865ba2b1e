/*
 * The sink the compatibility fixtures share: it writes what the core hands it (configuration
 * values, precommit offsets) into the file of its `out` key, for test_abi.py to read. It uses only
 * ABI 1.0 host functions, so it builds against the frozen 1.2 header and the current one alike;
 * each fixture brings its own configuration table, aliases and precommit in its own layout.
 */
#ifndef ABI_RECORDER_H
#define ABI_RECORDER_H

#include <stdio.h>
#include <stdlib.h>

#include <sluice/plugin.h>

struct recorder {
    FILE *out;
};

static const char *const recorder_colors[] = {"red", "green", "blue", NULL};

static sluice_err_t recorder_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                  const sluice_config_t *config, void **state, char *errstr,
                                  size_t errstr_size)
{
    struct recorder *r = calloc(1, sizeof *r);
    const char *path = host->config_string(config, "out");

    (void)ctx;
    if (r == NULL || path == NULL || (r->out = fopen(path, "a")) == NULL) {
        snprintf(errstr, errstr_size, "cannot open the file of 'out'");
        free(r);
        return SLUICE_ERR_IO;
    }
    fprintf(r->out, "init color=%s count=%lld flag=%d note=%s\n",
            host->config_string(config, "color"), (long long)host->config_int(config, "count"),
            host->config_bool(config, "flag"), host->config_string(config, "note"));
    fflush(r->out);
    *state = r;
    return SLUICE_OK;
}

static sluice_err_t recorder_put(void *state, sluice_batch_t *batch, char *errstr,
                                 size_t errstr_size)
{
    (void)state;
    (void)batch;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

static sluice_err_t recorder_flush(void *state, char *errstr, size_t errstr_size)
{
    (void)state;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

/* One element of precommit's array as the fixture's layout has it; `later` is a member the core
 * does not know (0 when the fixture's struct has none): the core must have left it zero. */
static void recorder_offset(struct recorder *r, const char *topic, int32_t partition,
                            int64_t offset, long long later)
{
    fprintf(r->out, "precommit topic=%s partition=%d offset=%lld later=%lld\n",
            topic != NULL ? topic : "(null)", (int)partition, (long long)offset, later);
    fflush(r->out);
}

static void recorder_destroy(void *state)
{
    struct recorder *r = state;

    fclose(r->out);
    free(r);
}

#endif
