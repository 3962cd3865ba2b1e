/*
 * header-from — Kafka Connect's HeaderFrom$Value / $Key: copies or moves fields of the value (or
 * key) into headers.
 *
 * A header's bytes are the field's value as text, as Kafka Connect's SimpleHeaderConverter writes
 * it: a string as is, anything else as JSON; a null field gives a null header. Moving rebuilds a
 * struct on a schema without the moved fields (built once per input schema, cached), or a map
 * without them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

static const char *const header_from_operations[] = {"move", "copy", NULL};

struct header_from {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    struct xf_names fields, headers;
    int move;
    struct xf_cache cache;
    sluice_buf_t *buf; /* header text, reused */
};

static const struct sluice_config_field header_from_config[] = {
    XF_WHERE_FIELD,
    {.name = "fields",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The fields whose values become headers.",
     .example = "id,ts"},
    {.name = "headers",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The header names, one for each of `fields`, in the same order.",
     .example = "record-id,record-ts"},
    {.name = "operation",
     .type = SLUICE_CFG_ENUM,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "`move` removes the fields from the value (or key); `copy` keeps them.",
     .example = "copy",
     .enum_values = header_from_operations},
    {.name = NULL},
};

static void header_from_free(struct header_from *x)
{
    if (x == NULL) {
        return;
    }
    xf_names_free(&x->fields);
    xf_names_free(&x->headers);
    xf_cache_free(&x->cache);
    if (x->buf != NULL) {
        x->host->buf_free(x->buf);
    }
    free(x);
}

static sluice_err_t header_from_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                     const sluice_config_t *config, void **state, char *errstr,
                                     size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct header_from *x = calloc(1, sizeof *x);
    const char *op = host->config_string(config, "operation");

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    x->move = op != NULL && strcmp(op, "move") == 0;
    if (xf_names_load(host, config, "fields", &x->fields, errstr, errstr_size) != 0 ||
        xf_names_load(host, config, "headers", &x->headers, errstr, errstr_size) != 0) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    if (x->fields.n == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'fields' must name at least one field");
        goto out;
    }
    if (x->headers.n != x->fields.n) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "'headers' must have as many names as 'fields' (%zu headers for %zu fields)",
                 x->headers.n, x->fields.n);
        goto out;
    }
    x->buf = host->buf_new(128);
    if (x->buf == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    *state = x;
    x = NULL;
out:
    header_from_free(x);
    return err;
}

/* The struct schema without the moved fields (cached); NULL with a message. */
static const sluice_schema_t *header_from_schema_for(struct header_from *x,
                                                     const sluice_schema_t *in, char *errstr,
                                                     size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = xf_cache_get(&x->cache, in, 0);
    size_t n = h->schema_field_count(in);
    sluice_schema_t *out;

    if (result != NULL) {
        goto out;
    }
    out = xf_schema_struct_like(h, x->ctx, in);
    if (out == NULL) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const sluice_schema_t *fs;
        const char *name = h->schema_field(in, i, &fs);

        if (xf_names_find(&x->fields, name) < 0 &&
            h->schema_add_field(out, name, fs) != SLUICE_OK) {
            xf_oom(errstr, errstr_size);
            goto out;
        }
    }
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    result = out;
out:
    return result;
}

static int header_from_has_field(const struct sluice_host *h, const sluice_schema_t *s,
                                 const char *name)
{
    size_t n = h->schema_field_count(s);

    for (size_t i = 0; i < n; i++) {
        const sluice_schema_t *fs;

        if (strcmp(h->schema_field(s, i, &fs), name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Adds header `i` for the field value `fv` (NULL or a null value: a null header). */
static sluice_err_t header_from_add(struct header_from *x, sluice_record_t *record, size_t i,
                                    const sluice_value_t *fv, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;

    if (fv == NULL || h->value_type(fv) == SLUICE_TYPE_NULL) {
        h->record_add_header(record, x->headers.v[i], NULL, 0);
        return SLUICE_OK;
    }
    h->buf_reset(x->buf);
    if (h->value_write_text(fv, x->buf) != SLUICE_OK) {
        snprintf(errstr, errstr_size, "field '%s': cannot write its value as the header '%s'",
                 x->fields.v[i], x->headers.v[i]);
        return SLUICE_ERR_INVALID;
    }
    h->record_add_header(record, x->headers.v[i], h->buf_data(x->buf), h->buf_len(x->buf));
    return SLUICE_OK;
}

static sluice_err_t header_from_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                        char *errstr, size_t errstr_size)
{
    struct header_from *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    sluice_value_t *target;
    const sluice_schema_t *schema = NULL;
    sluice_type_t type;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    if (type != SLUICE_TYPE_MAP && type != SLUICE_TYPE_STRUCT) {
        /* Kafka Connect requires a struct or map here, tombstones included. */
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "header-from needs a struct or map %s, found %s%s",
                 xf_where_name(x->where), xf_type_name(type),
                 type == SLUICE_TYPE_NULL ? " (a tombstone)" : "");
        goto out;
    }
    if (type == SLUICE_TYPE_STRUCT) {
        const sluice_schema_t *in = h->value_schema(value);

        if (in == NULL) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "the %s is a struct without a schema",
                     xf_where_name(x->where));
            goto out;
        }
        /* Kafka Connect fails on a field the schema lacks; check all before adding any header. */
        for (size_t i = 0; i < x->fields.n; i++) {
            if (!header_from_has_field(h, in, x->fields.v[i])) {
                err = SLUICE_ERR_INVALID;
                snprintf(errstr, errstr_size, "field '%s': not in the %s's schema", x->fields.v[i],
                         xf_where_name(x->where));
                goto out;
            }
        }
        if (x->move) {
            schema = header_from_schema_for(x, in, errstr, errstr_size);
            if (schema == NULL) {
                err = SLUICE_ERR_NOMEM;
                goto out;
            }
        }
    }
    for (size_t i = 0; i < x->fields.n; i++) {
        /* A map without the field gives a null header, as in Kafka Connect. */
        err =
            header_from_add(x, record, i, h->value_get(value, x->fields.v[i]), errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
    }
    if (x->move) {
        size_t n = h->value_count(value);

        target = h->value_struct(record, schema); /* schema NULL: a schemaless map */
        if (target == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            const char *name = NULL;
            sluice_value_t *key = NULL;
            sluice_value_t *fv = h->value_item(value, i, &name, &key);

            if (name == NULL) {
                err = SLUICE_ERR_INVALID;
                snprintf(errstr, errstr_size, "header-from needs string keys in the %s map",
                         xf_where_name(x->where));
                goto out;
            }
            if (xf_names_find(&x->fields, name) >= 0) {
                continue;
            }
            if (h->value_put(record, target, name, fv) != SLUICE_OK) {
                err = SLUICE_ERR_INVALID;
                snprintf(errstr, errstr_size, "field '%s': cannot copy it to the new %s", name,
                         xf_where_name(x->where));
                goto out;
            }
        }
        xf_set(h, record, x->where, target);
    }
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void header_from_destroy(void *state)
{
    /* The derived schemas belong to the ctx: the core frees them after this returns. */
    header_from_free(state);
}

static const struct sluice_transform header_from_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = header_from_config,
    .init = header_from_init,
    .process = header_from_process,
    .destroy = header_from_destroy,
};

static const struct sluice_alias header_from_aliases[] = {
    {"org.apache.kafka.connect.transforms.HeaderFrom$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.HeaderFrom$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "header-from",
    .version = "1.0.0",
    .summary = "Copy or move fields of each record's value or key into headers",
    .description =
        "Kafka Connect's `HeaderFrom$Value` and `HeaderFrom$Key` (`where: key`), with the same "
        "keys: `fields`, `headers` (one name per field, in order) and `operation` (`move` or "
        "`copy`).\n"
        "\n"
        "Each field's value is added as a header (after the record's existing ones), written as "
        "Kafka Connect's SimpleHeaderConverter writes it: a string as is, a number, boolean, "
        "array, map or struct as JSON (`42`, `true`, `{\"a\":1}`); a null field gives a null "
        "header. `move` also removes the fields: a struct is rebuilt on a schema without them, a "
        "map without them.\n"
        "\n"
        "As in Kafka Connect the value must be a struct or a map (a tombstone is an error), a "
        "field missing from a struct's schema is an error (`field 'id': not in the value's "
        "schema`), and a field missing from a schemaless map gives a null header.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: header-from\n"
        "    config: { fields: [trace_id], headers: [trace-id], operation: move }\n"
        "```",
    .transform = &header_from_transform,
    .aliases = header_from_aliases,
};
