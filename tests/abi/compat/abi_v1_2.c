/*
 * A sink built against the frozen ABI 1.2 header (compat/v1_2/sluice/plugin.h): its descriptor has
 * no element sizes, so the core must read its configuration table, aliases and precommit offsets
 * with the 1.2 struct sizes, and it must load and run as it did with a 1.2 core.
 */
#include "abi_recorder.h"

#if SLUICE_ABI_MINOR != 2
#error "abi_v1_2.c must be built against the frozen ABI 1.2 header"
#endif

static const struct sluice_config_field v12_config[] = {
    {.name = "out",
     .type = SLUICE_CFG_PATH,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The file the sink writes what it got into."},
    {.name = "color",
     .type = SLUICE_CFG_ENUM,
     .default_value = "green",
     .description = "An enum.",
     .enum_values = recorder_colors},
    {.name = "count",
     .type = SLUICE_CFG_INT,
     .default_value = "7",
     .flags = SLUICE_CFG_RANGE,
     .description = "An integer in a range.",
     .min = 1,
     .max = 100},
    {.name = "flag", .type = SLUICE_CFG_BOOL, .default_value = "false", .description = "A bool."},
    {.name = "note", .type = SLUICE_CFG_STRING, .default_value = "n/a", .description = "A string."},
    {.name = NULL},
};

static const struct sluice_alias v12_aliases[] = {
    {.name = "abi.V12$Blue", .key = "color", .value = "blue"},
    {.name = "abi.V12$Plain"},
    {.name = NULL},
};

static sluice_err_t v12_precommit(void *state, struct sluice_offset *offsets, size_t count,
                                  char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    for (size_t i = 0; i < count; i++)
        recorder_offset(state, offsets[i].topic, offsets[i].partition, offsets[i].offset, 0);
    return SLUICE_OK;
}

static const struct sluice_sink v12_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = v12_config,
    .init = recorder_init,
    .put = recorder_put,
    .flush = recorder_flush,
    .destroy = recorder_destroy,
    .precommit = v12_precommit,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER, .name = "abi-v1-2",
    .version = "1.0.0",   .summary = "ABI fixture: a sink built against the ABI 1.2 header",
    .sink = &v12_sink,    .aliases = v12_aliases,
};
