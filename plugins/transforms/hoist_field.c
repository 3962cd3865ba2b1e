/*
 * hoist-field — Kafka Connect's HoistField$Value / $Key: wraps the whole value (or key) into a
 * struct or map of one field.
 *
 * A value with a schema becomes a struct whose schema has one field of the value's schema (built
 * once per input schema, cached); a schemaless value becomes a map of one entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct hoist_field {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    char *field;
    struct xf_cache cache;
};

static const struct sluice_config_field hoist_field_config[] = {
    XF_WHERE_FIELD,
    {.name = "field",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The name of the one field of the struct or map that wraps the value.",
     .example = "line"},
    {.name = NULL},
};

static void hoist_field_free(struct hoist_field *x)
{
    if (x == NULL) {
        return;
    }
    free(x->field);
    xf_cache_free(&x->cache);
    free(x);
}

static sluice_err_t hoist_field_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                     const sluice_config_t *config, void **state, char *errstr,
                                     size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct hoist_field *x = calloc(1, sizeof *x);

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    x->field = strdup(host->config_string(config, "field"));
    if (x->field == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    *state = x;
    x = NULL;
out:
    hoist_field_free(x);
    return err;
}

/* The wrapping struct schema for `in` (cached); NULL with a message. */
static const sluice_schema_t *hoist_field_schema_for(struct hoist_field *x,
                                                     const sluice_schema_t *in, char *errstr,
                                                     size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = xf_cache_get(&x->cache, in, 0);
    sluice_schema_t *out;

    if (result != NULL) {
        return result;
    }
    out = h->schema_struct(x->ctx, NULL);
    if (out == NULL || h->schema_add_field(out, x->field, in) != SLUICE_OK ||
        xf_cache_put(&x->cache, h, x->ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    return out;
}

static sluice_err_t hoist_field_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                        char *errstr, size_t errstr_size)
{
    struct hoist_field *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    const sluice_schema_t *in, *schema = NULL;
    sluice_value_t *wrap;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    in = h->value_schema(value);
    if (in != NULL) {
        if (h->value_type(value) == SLUICE_TYPE_NULL && !h->schema_optional(in)) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size,
                     "field '%s': the %s is null but its schema (%s) is not optional", x->field,
                     xf_where_name(x->where), xf_type_name(h->schema_type(in)));
            goto out;
        }
        schema = hoist_field_schema_for(x, in, errstr, errstr_size);
        if (schema == NULL) {
            err = SLUICE_ERR_NOMEM;
            goto out;
        }
    }
    wrap = h->value_struct(record, schema); /* schema NULL: a schemaless map */
    if (wrap == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    if (h->value_put(record, wrap, x->field, value) != SLUICE_OK) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "field '%s': cannot put the %s in it", x->field,
                 xf_where_name(x->where));
        goto out;
    }
    xf_set(h, record, x->where, wrap);
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void hoist_field_destroy(void *state)
{
    /* The wrapping schemas belong to the ctx: the core frees them after this returns. */
    hoist_field_free(state);
}

static const struct sluice_transform hoist_field_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = hoist_field_config,
    .init = hoist_field_init,
    .process = hoist_field_process,
    .destroy = hoist_field_destroy,
};

static const struct sluice_alias hoist_field_aliases[] = {
    {"org.apache.kafka.connect.transforms.HoistField$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.HoistField$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "hoist-field",
    .version = "1.0.0",
    .summary = "Wrap each record's value or key in a struct or map of one field",
    .description =
        "Kafka Connect's `HoistField$Value` and `HoistField$Key` (`where: key`), with the same "
        "key: `field`.\n"
        "\n"
        "A value with a schema becomes a struct with one field, `field`, of the value's schema "
        "(the struct's schema is unnamed and required); a schemaless value (a JSON line, a "
        "string, a number) becomes a map of one entry. A null is wrapped too, as in Kafka "
        "Connect (`{field: null}`), except under a schema that is not optional, which is an "
        "error routed by `errors.tolerance`.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: hoist-field\n"
        "    config: { field: line }\n"
        "```",
    .transform = &hoist_field_transform,
    .aliases = hoist_field_aliases,
};
