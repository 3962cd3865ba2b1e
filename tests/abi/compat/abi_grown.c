/*
 * A sink whose table structs are larger than the core's (as a plugin of a later minor whose
 * sluice_config_field, sluice_alias and sluice_offset grew would have them): the descriptor says
 * so in its element sizes, and the core must walk the tables with that stride, ignore the members
 * it does not know, and lay out precommit's array with it.
 */
#include "abi_recorder.h"

/* Each is the current struct followed by members the core does not know. */
struct grown_field {
    struct sluice_config_field f;
    const char *later;
    int64_t later2;
};

struct grown_alias {
    struct sluice_alias a;
    const char *later;
};

struct grown_offset {
    struct sluice_offset o;
    int64_t later;
};

/* The unknown members hold values that would break the tables if read as the next entry. */
#define LATER .later = "not a name", .later2 = -1

static const struct grown_field grown_config[] = {
    {.f = {.name = "out",
           .type = SLUICE_CFG_PATH,
           .flags = SLUICE_CFG_REQUIRED,
           .description = "The file the sink writes what it got into."},
     LATER},
    {.f = {.name = "color",
           .type = SLUICE_CFG_ENUM,
           .default_value = "green",
           .description = "An enum.",
           .enum_values = recorder_colors},
     LATER},
    {.f = {.name = "count",
           .type = SLUICE_CFG_INT,
           .default_value = "7",
           .flags = SLUICE_CFG_RANGE,
           .description = "An integer in a range.",
           .min = 1,
           .max = 100},
     LATER},
    {.f = {.name = "flag",
           .type = SLUICE_CFG_BOOL,
           .default_value = "false",
           .description = "A bool."},
     LATER},
    {.f = {.name = "note",
           .type = SLUICE_CFG_STRING,
           .default_value = "n/a",
           .description = "A string."},
     LATER},
    {.f = {.name = NULL}},
};

static const struct grown_alias grown_aliases[] = {
    {.a = {.name = "abi.Grown$Red", .key = "color", .value = "red"}, .later = "not a name"},
    {.a = {.name = "abi.Grown$Plain"}, .later = "not a name"},
    {.a = {.name = NULL}},
};

static sluice_err_t grown_precommit(void *state, struct sluice_offset *offsets, size_t count,
                                    char *errstr, size_t errstr_size)
{
    struct grown_offset *g = (struct grown_offset *)(void *)offsets;

    (void)errstr;
    (void)errstr_size;
    for (size_t i = 0; i < count; i++)
        recorder_offset(state, g[i].o.topic, g[i].o.partition, g[i].o.offset, g[i].later);
    return SLUICE_OK;
}

static const struct sluice_sink grown_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = &grown_config[0].f,
    .init = recorder_init,
    .put = recorder_put,
    .flush = recorder_flush,
    .destroy = recorder_destroy,
    .precommit = grown_precommit,
};

/* Written out rather than SLUICE_PLUGIN_HEADER: the element sizes are the grown structs'. */
SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_plugin),
    .config_field_size = sizeof(struct grown_field),
    .alias_size = sizeof(struct grown_alias),
    .offset_size = sizeof(struct grown_offset),
    .name = "abi-grown",
    .version = "1.0.0",
    .summary = "ABI fixture: a sink whose table structs are larger than the core's",
    .sink = &grown_sink,
    .aliases = &grown_aliases[0].a,
};
