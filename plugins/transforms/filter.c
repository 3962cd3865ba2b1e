/*
 * filter — Kafka Connect's Filter: drops every record it sees. Meant to be used with a predicate
 * (`predicate:` and `negate:` on the transform), which picks the records to drop.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sluice/plugin.h>

static const struct sluice_config_field filter_config[] = {
    {.name = NULL},
};

/* No state: a non-NULL token so that the core never sees an "uninitialised" instance. */
static char filter_state;

static sluice_err_t filter_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                const sluice_config_t *config, void **state, char *errstr,
                                size_t errstr_size)
{
    (void)host;
    (void)ctx;
    (void)config;
    (void)errstr;
    (void)errstr_size;
    *state = &filter_state;
    return SLUICE_OK;
}

static sluice_err_t filter_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                   char *errstr, size_t errstr_size)
{
    (void)state;
    (void)record;
    (void)out;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK; /* not forwarded: dropped */
}

static void filter_destroy(void *state)
{
    (void)state;
}

static const struct sluice_transform filter_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = filter_config,
    .init = filter_init,
    .process = filter_process,
    .destroy = filter_destroy,
};

static const struct sluice_alias filter_aliases[] = {
    {"org.apache.kafka.connect.transforms.Filter", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "filter",
    .version = "1.0.0",
    .summary = "Drop records (those its predicate matches)",
    .description =
        "Kafka Connect's `Filter`: drops every record it is applied to. Give it a predicate to "
        "choose which: with `predicate:` only the records the predicate matches are dropped, "
        "with `negate: true` only those it does not match. A dropped record is not an error: it "
        "is simply not delivered.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: filter            # drop tombstones\n"
        "    predicate: {type: record-is-tombstone}\n"
        "  - plugin: filter            # keep only the orders topics\n"
        "    predicate: {type: topic-name-matches, pattern: \"orders.*\"}\n"
        "    negate: true\n"
        "```",
    .transform = &filter_transform,
    .aliases = filter_aliases,
};
