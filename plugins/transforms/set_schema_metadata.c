/*
 * set-schema-metadata — Kafka Connect's SetSchemaMetadata$Value / $Key: sets the name and/or the
 * version of the value's (or key's) schema.
 *
 * The renamed schema is built once per input schema (cached) and the value is re-pointed at it (a
 * struct's fields are unchanged). The host table has no setter for a schema's version, but
 * `schema_from_json` reads one: the top of the new schema is made from a small JSON text and a
 * struct's field schemas are then shared with the input schema.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct set_schema_metadata {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    char *name;      /* NULL: keep the name */
    int32_t version; /* 0: keep the version */
    sluice_buf_t *buf;
    struct xf_cache cache;
};

static const struct sluice_config_field set_schema_metadata_config[] = {
    XF_WHERE_FIELD,
    {.name = "schema.name",
     .type = SLUICE_CFG_STRING,
     .description = "The name to give the schema.",
     .example = "com.example.Order"},
    {.name = "schema.version",
     .type = SLUICE_CFG_INT,
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 2147483647.0,
     .description = "The version to give the schema.",
     .example = "2"},
    {.name = NULL},
};

static void set_schema_metadata_free(struct set_schema_metadata *x)
{
    if (x == NULL) {
        return;
    }
    if (x->buf != NULL) {
        x->host->buf_free(x->buf);
    }
    free(x->name);
    xf_cache_free(&x->cache);
    free(x);
}

static sluice_err_t set_schema_metadata_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                             const sluice_config_t *config, void **state,
                                             char *errstr, size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct set_schema_metadata *x = calloc(1, sizeof *x);
    const char *name = host->config_string(config, "schema.name");

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    if (host->config_has(config, "schema.version")) {
        x->version = (int32_t)host->config_int(config, "schema.version");
    }
    if ((name == NULL || name[0] == '\0') && x->version == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "neither 'schema.name' nor 'schema.version' is set");
        goto out;
    }
    if (name != NULL && name[0] != '\0') {
        x->name = strdup(name);
        if (x->name == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
    }
    x->buf = host->buf_new(256);
    if (x->buf == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    *state = x;
    x = NULL;
out:
    set_schema_metadata_free(x);
    return err;
}

/* The schema `in` with the configured name and version (cached); NULL with a message. */
static const sluice_schema_t *set_schema_metadata_schema_for(struct set_schema_metadata *x,
                                                             const sluice_schema_t *in,
                                                             char *errstr, size_t errstr_size)
{
    static const char *const json_types[] = {
        "null",    "int8",   "int16", "int32", "int64", "float",  "double",
        "boolean", "string", "bytes", "array", "map",   "struct",
    };
    /* Parameters the host lets a plugin read back (it cannot list them). */
    static const char *const params[] = {"scale", "connect.decimal.precision"};
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = xf_cache_get(&x->cache, in, 0);
    sluice_type_t t = h->schema_type(in);
    const char *name = x->name != NULL ? x->name : h->schema_name(in);
    sluice_schema_t *out;
    int nparams = 0;

    if (result != NULL) {
        return result;
    }
    if (t == SLUICE_TYPE_ARRAY || t == SLUICE_TYPE_MAP || t == SLUICE_TYPE_NULL ||
        (size_t)t >= sizeof json_types / sizeof json_types[0]) {
        snprintf(errstr, errstr_size,
                 "cannot set the metadata of a %s schema (sluice cannot copy "
                 "its item schemas yet); structs and primitive types can have theirs set",
                 xf_type_name(t));
        return NULL;
    }
    /* Appended without a check each: the buffer keeps its first error (ABI 1.3). */
    h->buf_reset(x->buf);
    h->buf_printf(x->buf, "{\"type\":\"%s\",\"optional\":%s", json_types[t],
                  h->schema_optional(in) ? "true" : "false");
    if (name != NULL) {
        h->buf_printf(x->buf, ",\"name\":");
        h->buf_append_json_string(x->buf, name, strlen(name));
    }
    if (x->version != 0) {
        h->buf_printf(x->buf, ",\"version\":%d", (int)x->version);
    }
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        const char *v = h->schema_param(in, params[i]);

        if (v != NULL) {
            h->buf_printf(x->buf, "%s", nparams++ == 0 ? ",\"parameters\":{" : ",");
            h->buf_append_json_string(x->buf, params[i], strlen(params[i]));
            h->buf_append(x->buf, ":", 1);
            h->buf_append_json_string(x->buf, v, strlen(v));
        }
    }
    if (nparams > 0) {
        h->buf_append(x->buf, "}", 1);
    }
    if (t == SLUICE_TYPE_STRUCT) {
        h->buf_printf(x->buf, ",\"fields\":[]");
    }
    h->buf_append(x->buf, "}", 1);
    if (h->buf_error(x->buf) != SLUICE_OK) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    out = h->schema_from_json(x->ctx, h->buf_data(x->buf), h->buf_len(x->buf), errstr, errstr_size);
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; t == SLUICE_TYPE_STRUCT && i < h->schema_field_count(in); i++) {
        const sluice_schema_t *fs;
        const char *field = h->schema_field(in, i, &fs);

        if (h->schema_add_field(out, field, fs) != SLUICE_OK) {
            xf_oom(errstr, errstr_size);
            return NULL;
        }
    }
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    return out;
}

static sluice_err_t set_schema_metadata_process(void *state, sluice_record_t *record,
                                                sluice_batch_t *out, char *errstr,
                                                size_t errstr_size)
{
    struct set_schema_metadata *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    const sluice_schema_t *in, *schema;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    in = h->value_schema(value);
    if (in == NULL) {
        /* Kafka Connect requires a schema here, even for a null. */
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size,
                 "set-schema-metadata needs a %s with a schema, found a schemaless %s",
                 xf_where_name(x->where), xf_type_name(h->value_type(value)));
        goto out;
    }
    schema = set_schema_metadata_schema_for(x, in, errstr, errstr_size);
    if (schema == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    /* Same type and fields: the value only needs to point at the new schema. */
    h->value_set_schema(value, schema);
    xf_set(h, record, x->where, value);
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void set_schema_metadata_destroy(void *state)
{
    /* The new schemas belong to the ctx: the core frees them after this returns. */
    set_schema_metadata_free(state);
}

static const struct sluice_transform set_schema_metadata_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = set_schema_metadata_config,
    .init = set_schema_metadata_init,
    .process = set_schema_metadata_process,
    .destroy = set_schema_metadata_destroy,
};

static const struct sluice_alias set_schema_metadata_aliases[] = {
    {"org.apache.kafka.connect.transforms.SetSchemaMetadata$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.SetSchemaMetadata$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "set-schema-metadata",
    .version = "1.0.0",
    .summary = "Set the name and/or version of the schema of each record's value or key",
    .description =
        "Kafka Connect's `SetSchemaMetadata$Value` and `SetSchemaMetadata$Key` (`where: key`), "
        "with the same keys: `schema.name` and `schema.version` (at least one).\n"
        "\n"
        "Useful before the Avro converter, whose subject and record names come from the schema "
        "name. The value keeps its type and fields. The value needs a schema: a schemaless one "
        "(JSON without `schemas.enable`) is an error routed by `errors.tolerance`, as in Kafka "
        "Connect, nulls included. Struct and primitive schemas can be renamed; array and map "
        "schemas cannot yet. The schema's doc and any parameters other than the Decimal ones are "
        "not carried over, and setting only the name drops an existing version.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: set-schema-metadata\n"
        "    config: { schema.name: com.example.Order, schema.version: 2 }\n"
        "```",
    .transform = &set_schema_metadata_transform,
    .aliases = set_schema_metadata_aliases,
};
