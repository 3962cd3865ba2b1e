/*
 * A sink of the current minor whose descriptor is written out without the element sizes (as a
 * descriptor written by hand, or SLUICE_PLUGIN_HEADER in C++, has them): the core must read its
 * tables with the structs of its own minor, not those of 1.2.
 */
#include "abi_recorder.h"

static const struct sluice_config_field nosizes_config[] = {
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

static const struct sluice_alias nosizes_aliases[] = {
    {.name = "abi.NoSizes$Red", .key = "color", .value = "red"},
    {.name = "abi.NoSizes$Plain"},
    {.name = NULL},
};

static sluice_err_t nosizes_precommit(void *state, struct sluice_offset *offsets, size_t count,
                                      char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    for (size_t i = 0; i < count; i++)
        recorder_offset(state, offsets[i].topic, offsets[i].partition, offsets[i].offset, 0);
    return SLUICE_OK;
}

static const struct sluice_sink nosizes_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = nosizes_config,
    .init = recorder_init,
    .put = recorder_put,
    .flush = recorder_flush,
    .destroy = recorder_destroy,
    .precommit = nosizes_precommit,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_plugin),
    .name = "abi-no-sizes",
    .version = "1.0.0",
    .summary = "ABI fixture: a descriptor of the current minor without element sizes",
    .sink = &nosizes_sink,
    .aliases = nosizes_aliases,
};
