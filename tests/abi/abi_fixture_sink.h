/*
 * A do-nothing sink shared by the ABI fixtures: the fixtures differ only in their descriptors.
 */
#ifndef ABI_FIXTURE_SINK_H
#define ABI_FIXTURE_SINK_H

#include <sluice/plugin.h>

static sluice_err_t abi_fixture_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                     const sluice_config_t *config, void **state, char *errstr,
                                     size_t errstr_size)
{
    (void)host;
    (void)ctx;
    (void)config;
    (void)errstr;
    (void)errstr_size;
    *state = NULL;
    return SLUICE_OK;
}

static sluice_err_t abi_fixture_start(void *state, char *errstr, size_t errstr_size)
{
    (void)state;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

static sluice_err_t abi_fixture_put(void *state, sluice_batch_t *batch, char *errstr,
                                    size_t errstr_size)
{
    (void)state;
    (void)batch;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

static sluice_err_t abi_fixture_flush(void *state, char *errstr, size_t errstr_size)
{
    (void)state;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

static void abi_fixture_stop(void *state)
{
    (void)state;
}

static void abi_fixture_destroy(void *state)
{
    (void)state;
}

static const struct sluice_config_field abi_fixture_config[] = {{.name = NULL}};

static const struct sluice_sink abi_fixture_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = abi_fixture_config,
    .init = abi_fixture_init,
    .start = abi_fixture_start,
    .put = abi_fixture_put,
    .flush = abi_fixture_flush,
    .stop = abi_fixture_stop,
    .destroy = abi_fixture_destroy,
};

#endif
