/*
 * insert-header — Kafka Connect's InsertHeader: adds a header with a fixed value to every record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct insert_header {
    const struct sluice_host *host;
    char *name;
    char *value;
    size_t len;
};

static const struct sluice_config_field insert_header_config[] = {
    {.name = "header",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The name of the header to add.",
     .example = "origin"},
    {.name = "value.literal",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The header's value, written as is (its UTF-8 bytes).",
     .example = "sluice"},
    {.name = NULL},
};

static void insert_header_free(struct insert_header *x)
{
    if (x == NULL) {
        return;
    }
    free(x->name);
    free(x->value);
    free(x);
}

static sluice_err_t insert_header_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                       const sluice_config_t *config, void **state, char *errstr,
                                       size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct insert_header *x = calloc(1, sizeof *x);
    const char *name = host->config_string(config, "header");
    const char *value = host->config_string(config, "value.literal");

    (void)ctx;
    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    if (name == NULL || name[0] == '\0') {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'header' must not be empty");
        goto out;
    }
    x->name = strdup(name);
    x->value = strdup(value != NULL ? value : "");
    if (x->name == NULL || x->value == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->len = strlen(x->value);
    *state = x;
    x = NULL;
out:
    insert_header_free(x);
    return err;
}

static sluice_err_t insert_header_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                          char *errstr, size_t errstr_size)
{
    struct insert_header *x = state;
    sluice_err_t err;

    x->host->record_add_header(record, x->name, x->value, x->len);
    err = x->host->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
    return err;
}

static void insert_header_destroy(void *state)
{
    insert_header_free(state);
}

static const struct sluice_transform insert_header_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = insert_header_config,
    .init = insert_header_init,
    .process = insert_header_process,
    .destroy = insert_header_destroy,
};

static const struct sluice_alias insert_header_aliases[] = {
    {"org.apache.kafka.connect.transforms.InsertHeader", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "insert-header",
    .version = "1.0.0",
    .summary = "Add a header with a fixed value to each record",
    .description =
        "Kafka Connect's `InsertHeader`, with the same keys: `header` and `value.literal`. The "
        "header is added after the record's existing ones (an existing header of the same name "
        "is kept: Kafka headers may repeat). Its bytes are the literal as written: Kafka Connect "
        "parses the literal into a typed value and its SimpleHeaderConverter writes it back as "
        "the same text (numbers, booleans and strings alike).\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: insert-header\n"
        "    config: { header: origin, value.literal: datagen }\n"
        "```",
    .transform = &insert_header_transform,
    .aliases = insert_header_aliases,
};
