/*
 * drop-headers — Kafka Connect's DropHeaders: removes the headers of the given names (every
 * occurrence) from each record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct drop_headers {
    const struct sluice_host *host;
    struct xf_names names;
};

static const struct sluice_config_field drop_headers_config[] = {
    {.name = "headers",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The names of the headers to remove.",
     .example = "trace-id,debug"},
    {.name = NULL},
};

static void drop_headers_free(struct drop_headers *x)
{
    if (x == NULL) {
        return;
    }
    xf_names_free(&x->names);
    free(x);
}

static sluice_err_t drop_headers_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                      const sluice_config_t *config, void **state, char *errstr,
                                      size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct drop_headers *x = calloc(1, sizeof *x);

    (void)ctx;
    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    if (xf_names_load(host, config, "headers", &x->names, errstr, errstr_size) != 0) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    if (x->names.n == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'headers' must name at least one header");
        goto out;
    }
    *state = x;
    x = NULL;
out:
    drop_headers_free(x);
    return err;
}

static sluice_err_t drop_headers_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                         char *errstr, size_t errstr_size)
{
    struct drop_headers *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err;

    for (size_t i = h->record_header_count(record); i-- > 0;) {
        const void *value;
        size_t len;
        const char *name = h->record_header(record, i, &value, &len);

        if (name != NULL && xf_names_find(&x->names, name) >= 0) {
            h->record_remove_header(record, i);
        }
    }
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
    return err;
}

static void drop_headers_destroy(void *state)
{
    drop_headers_free(state);
}

static const struct sluice_transform drop_headers_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = drop_headers_config,
    .init = drop_headers_init,
    .process = drop_headers_process,
    .destroy = drop_headers_destroy,
};

static const struct sluice_alias drop_headers_aliases[] = {
    {"org.apache.kafka.connect.transforms.DropHeaders", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "drop-headers",
    .version = "1.0.0",
    .summary = "Remove headers by name from each record",
    .description =
        "Kafka Connect's `DropHeaders`, with the same key `headers`: every header of one of "
        "these names is removed (all occurrences; names compare exactly, case included). The "
        "other headers keep their order.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: drop-headers\n"
        "    config: { headers: [debug, trace-id] }\n"
        "```",
    .transform = &drop_headers_transform,
    .aliases = drop_headers_aliases,
};
