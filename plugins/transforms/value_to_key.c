/*
 * value-to-key — Kafka Connect's ValueToKey: replaces the record's key with a struct (or map) of
 * some fields of its value.
 *
 * A struct value gives a struct key on a schema made of the fields' schemas (built once per value
 * schema, cached); a schemaless map gives a map key. A field the value lacks is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct value_to_key {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    struct xf_names fields;
    struct xf_cache cache;
};

static const struct sluice_config_field value_to_key_config[] = {
    {.name = "fields",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The fields of the value that make the new key, in this order.",
     .example = "customer_id,order_id"},
    {.name = NULL},
};

static void value_to_key_free(struct value_to_key *x)
{
    if (x == NULL) {
        return;
    }
    xf_names_free(&x->fields);
    xf_cache_free(&x->cache);
    free(x);
}

static sluice_err_t value_to_key_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                      const sluice_config_t *config, void **state, char *errstr,
                                      size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct value_to_key *x = calloc(1, sizeof *x);

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    if (xf_names_load(host, config, "fields", &x->fields, errstr, errstr_size) != 0) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    if (x->fields.n == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'fields' is empty: name at least one field of the value");
        goto out;
    }
    for (size_t i = 0; i < x->fields.n; i++) {
        if (x->fields.v[i][0] == '\0') {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size, "'fields': item %zu is an empty name", i + 1);
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(x->fields.v[i], x->fields.v[j]) == 0) {
                err = SLUICE_ERR_CONFIG;
                snprintf(errstr, errstr_size, "'fields': '%s' is listed twice", x->fields.v[i]);
                goto out;
            }
        }
    }
    *state = x;
    x = NULL;
out:
    value_to_key_free(x);
    return err;
}

/* The key schema for the value schema `in` (cached); NULL with a message. */
static const sluice_schema_t *value_to_key_schema_for(struct value_to_key *x,
                                                      const sluice_schema_t *in, char *errstr,
                                                      size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = xf_cache_get(&x->cache, in, 0);
    const sluice_schema_t **field_schemas = NULL;
    size_t n = h->schema_field_count(in);
    sluice_schema_t *key = NULL;

    if (result != NULL) {
        goto out;
    }
    field_schemas = calloc(x->fields.n, sizeof *field_schemas); /* once per value schema */
    if (field_schemas == NULL) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    /* Every field must exist before anything is built (a stream of bad records must not pile up
     * schemas in the ctx). */
    for (size_t k = 0; k < x->fields.n; k++) {
        for (size_t i = 0; i < n && field_schemas[k] == NULL; i++) {
            const sluice_schema_t *s;
            const char *name = h->schema_field(in, i, &s);

            if (strcmp(name, x->fields.v[k]) == 0) {
                field_schemas[k] = s;
            }
        }
        if (field_schemas[k] == NULL) {
            snprintf(errstr, errstr_size, "field '%s': not in the value's schema", x->fields.v[k]);
            goto out;
        }
    }
    key = h->schema_struct(x->ctx, NULL);
    if (key == NULL) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    for (size_t k = 0; k < x->fields.n; k++) {
        if (h->schema_add_field(key, x->fields.v[k], field_schemas[k]) != SLUICE_OK) {
            xf_oom(errstr, errstr_size);
            goto out;
        }
    }
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, key) != 0) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    result = key;
out:
    free(field_schemas);
    return result;
}

static sluice_err_t value_to_key_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                         char *errstr, size_t errstr_size)
{
    struct value_to_key *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, XF_VALUE, errstr, errstr_size);
    const sluice_schema_t *schema = NULL;
    sluice_value_t *key;
    sluice_type_t type;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    if (type != SLUICE_TYPE_MAP && type != SLUICE_TYPE_STRUCT) {
        /* Kafka Connect fails tombstones too: a key cannot be made of nothing. */
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "value-to-key needs a struct or map value, found %s%s",
                 xf_type_name(type), type == SLUICE_TYPE_NULL ? " (a tombstone)" : "");
        goto out;
    }
    if (type == SLUICE_TYPE_STRUCT) {
        const sluice_schema_t *in = h->value_schema(value);

        if (in == NULL) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "the value is a struct without a schema");
            goto out;
        }
        schema = value_to_key_schema_for(x, in, errstr, errstr_size);
        if (schema == NULL) {
            err = SLUICE_ERR_INVALID;
            goto out;
        }
    }
    key = h->value_struct(record, schema); /* schema NULL: a schemaless map */
    if (key == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    for (size_t k = 0; k < x->fields.n; k++) {
        sluice_value_t *fv = h->value_get(value, x->fields.v[k]);

        if (fv == NULL) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "field '%s': not in the value", x->fields.v[k]);
            goto out;
        }
        if (h->value_put(record, key, x->fields.v[k], fv) != SLUICE_OK) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "field '%s': cannot copy it to the key", x->fields.v[k]);
            goto out;
        }
    }
    h->record_set_key(record, key);
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void value_to_key_destroy(void *state)
{
    /* The key schemas belong to the ctx: the core frees them after this returns. */
    value_to_key_free(state);
}

static const struct sluice_transform value_to_key_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = value_to_key_config,
    .init = value_to_key_init,
    .process = value_to_key_process,
    .destroy = value_to_key_destroy,
};

static const struct sluice_alias value_to_key_aliases[] = {
    {"org.apache.kafka.connect.transforms.ValueToKey", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "value-to-key",
    .version = "1.0.0",
    .summary = "Replace each record's key with some fields of its value",
    .description =
        "Kafka Connect's `ValueToKey`, with the same key: `fields`.\n"
        "\n"
        "The new key holds the listed fields of the value, in the order listed. A struct value "
        "(with a schema) gives a struct key whose schema is unnamed and has each field's schema "
        "from the value; a schemaless map (e.g. JSON) gives a map key. The value is unchanged. A "
        "listed field that the value lacks is an error (Kafka Connect fails it for structs; for "
        "maps it would put a null in the key), and so is a value that is not a struct or map, "
        "tombstones included; errors are routed by `errors.tolerance`.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: value-to-key\n"
        "    config: { fields: [customer_id] }\n"
        "```",
    .transform = &value_to_key_transform,
    .aliases = value_to_key_aliases,
};
