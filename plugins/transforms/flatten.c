/*
 * flatten — Kafka Connect's Flatten$Value / $Key: lifts the fields of nested structs (or maps) to
 * the top level, naming each by its path joined with `delimiter` ("address.city").
 *
 * Struct values are rebuilt on a flat schema built once per input schema (cached): a field under
 * an optional struct becomes optional. Arrays and maps inside structs, and arrays inside maps, are
 * kept as they are. Names are composed in a stack buffer: no heap allocation per record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

#define FLATTEN_NAME_MAX  1024 /* longest flattened field name */
#define FLATTEN_DEPTH_MAX 64

struct flatten {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    char *delimiter;
    size_t delimiter_len;
    struct xf_cache cache;
};

static const struct sluice_config_field flatten_config[] = {
    XF_WHERE_FIELD,
    {.name = "delimiter",
     .type = SLUICE_CFG_STRING,
     .default_value = ".",
     .description = "Put between the names of a nested field's path to make its new name.",
     .example = "_"},
    {.name = NULL},
};

static void flatten_free(struct flatten *x)
{
    if (x == NULL) {
        return;
    }
    free(x->delimiter);
    xf_cache_free(&x->cache);
    free(x);
}

static sluice_err_t flatten_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                 const sluice_config_t *config, void **state, char *errstr,
                                 size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct flatten *x = calloc(1, sizeof *x);
    const char *delimiter = host->config_string(config, "delimiter");

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    x->delimiter = strdup(delimiter != NULL ? delimiter : ".");
    if (x->delimiter == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->delimiter_len = strlen(x->delimiter);
    *state = x;
    x = NULL;
out:
    flatten_free(x);
    return err;
}

/* Appends `name` to the path in `buf` (holding `len` bytes); the new length, or 0 when too long. */
static size_t flatten_name(const struct flatten *x, char *buf, size_t len, const char *name)
{
    size_t n = strlen(name);
    size_t need = len + (len > 0 ? x->delimiter_len : 0) + n;

    if (need >= FLATTEN_NAME_MAX) {
        return 0;
    }
    if (len > 0) {
        memcpy(buf + len, x->delimiter, x->delimiter_len);
        len += x->delimiter_len;
    }
    memcpy(buf + len, name, n + 1);
    return need;
}

/* A copy of the primitive schema `s` made optional (Kafka Connect's convertFieldSchema). */
static const sluice_schema_t *flatten_optional(struct flatten *x, const sluice_schema_t *s)
{
    const struct sluice_host *h = x->host;
    static const char *const params[] = {"scale", "connect.decimal.precision"};
    sluice_type_t t = h->schema_type(s);
    sluice_schema_t *o;

    if (h->schema_optional(s) || t == SLUICE_TYPE_ARRAY || t == SLUICE_TYPE_MAP) {
        /* The host has no accessor for an array's or map's item schemas: those stay as they are. */
        return s;
    }
    o = h->schema_new(x->ctx, t);
    if (o == NULL) {
        return NULL;
    }
    h->schema_set_optional(o, 1);
    if (h->schema_name(s) != NULL && h->schema_set_name(o, h->schema_name(s)) != SLUICE_OK) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        const char *v = h->schema_param(s, params[i]);

        if (v != NULL && h->schema_set_param(o, params[i], v) != SLUICE_OK) {
            return NULL;
        }
    }
    return o;
}

/* Adds the flattened fields of the struct schema `s` to `out`. 0, or -1 with a message. */
static int flatten_schema_fields(struct flatten *x, const sluice_schema_t *s, sluice_schema_t *out,
                                 char *buf, size_t len, int optional, int depth, char *errstr,
                                 size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    size_t n = h->schema_field_count(s);

    if (depth > FLATTEN_DEPTH_MAX) {
        snprintf(errstr, errstr_size, "field '%s': nested more than %d levels deep", buf,
                 FLATTEN_DEPTH_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const sluice_schema_t *fs;
        const char *name = h->schema_field(s, i, &fs);
        size_t l = flatten_name(x, buf, len, name);
        int opt = optional || h->schema_optional(fs);

        if (l == 0) {
            snprintf(errstr, errstr_size, "field '%s': the flattened name is longer than %d bytes",
                     name, FLATTEN_NAME_MAX);
            return -1;
        }
        if (h->schema_type(fs) == SLUICE_TYPE_STRUCT) {
            if (flatten_schema_fields(x, fs, out, buf, l, opt, depth + 1, errstr, errstr_size) !=
                0) {
                return -1;
            }
        } else {
            const sluice_schema_t *ns = optional ? flatten_optional(x, fs) : fs;
            sluice_err_t e = ns == NULL ? SLUICE_ERR_NOMEM : h->schema_add_field(out, buf, ns);

            if (e == SLUICE_ERR_NOMEM) {
                xf_oom(errstr, errstr_size);
                return -1;
            }
            if (e != SLUICE_OK) {
                snprintf(errstr, errstr_size,
                         "field '%s': its flattened name is the name of another field", buf);
                return -1;
            }
        }
        buf[len] = '\0';
    }
    return 0;
}

/* The flat schema for `in` (cached); NULL with a message. */
static const sluice_schema_t *flatten_schema_for(struct flatten *x, const sluice_schema_t *in,
                                                 char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = xf_cache_get(&x->cache, in, 0);
    char buf[FLATTEN_NAME_MAX];
    sluice_schema_t *out;

    if (result != NULL) {
        return result;
    }
    buf[0] = '\0';
    out = xf_schema_struct_like(h, x->ctx, in);
    if (out == NULL) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    /* A failed schema stays with the ctx until the end; such records fail at the first one of
     * their schema, and a pipeline that stops on errors stops there. */
    if (flatten_schema_fields(x, in, out, buf, 0, 0, 0, errstr, errstr_size) != 0) {
        return NULL;
    }
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    return out;
}

/* Copies the leaves of the struct or map `v` into `target` under flattened names. */
static sluice_err_t flatten_value(struct flatten *x, sluice_record_t *rec, const sluice_value_t *v,
                                  sluice_value_t *target, char *buf, size_t len, int depth,
                                  char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    size_t n = h->value_count(v);
    int is_struct = h->value_type(v) == SLUICE_TYPE_STRUCT;

    if (depth > FLATTEN_DEPTH_MAX) {
        snprintf(errstr, errstr_size, "field '%s': nested more than %d levels deep", buf,
                 FLATTEN_DEPTH_MAX);
        return SLUICE_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        sluice_value_t *key = NULL;
        sluice_value_t *fv = h->value_item(v, i, &name, &key);
        sluice_type_t t = h->value_type(fv);
        size_t l;

        if (name == NULL) {
            snprintf(errstr, errstr_size, "field '%s': a map with keys that are not strings",
                     len > 0 ? buf : "(top level)");
            return SLUICE_ERR_INVALID;
        }
        l = flatten_name(x, buf, len, name);
        if (l == 0) {
            snprintf(errstr, errstr_size, "field '%s': the flattened name is longer than %d bytes",
                     name, FLATTEN_NAME_MAX);
            return SLUICE_ERR_INVALID;
        }
        if (t == SLUICE_TYPE_STRUCT || (t == SLUICE_TYPE_MAP && !is_struct)) {
            sluice_err_t e =
                flatten_value(x, rec, fv, target, buf, l, depth + 1, errstr, errstr_size);

            if (e != SLUICE_OK) {
                return e;
            }
        } else if (t == SLUICE_TYPE_NULL && is_struct) {
            /* A null field of a struct: a null nested struct leaves its leaves null. */
        } else {
            if (!is_struct && h->value_get(target, buf) != NULL) {
                snprintf(errstr, errstr_size,
                         "field '%s': its flattened name is the name of another field", buf);
                return SLUICE_ERR_INVALID;
            }
            if (h->value_put(rec, target, buf, fv) != SLUICE_OK) {
                snprintf(errstr, errstr_size, "field '%s': cannot set it in the flat %s", buf,
                         xf_where_name(x->where));
                return SLUICE_ERR_INVALID;
            }
        }
        buf[len] = '\0';
    }
    return SLUICE_OK;
}

static sluice_err_t flatten_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                    char *errstr, size_t errstr_size)
{
    struct flatten *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    const sluice_schema_t *schema = NULL;
    sluice_value_t *target;
    sluice_type_t type;
    char buf[FLATTEN_NAME_MAX];

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    if (type == SLUICE_TYPE_NULL) {
        goto forward; /* a tombstone stays a tombstone */
    }
    if (type != SLUICE_TYPE_MAP && type != SLUICE_TYPE_STRUCT) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "flatten needs a struct or map %s, found %s",
                 xf_where_name(x->where), xf_type_name(type));
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
        schema = flatten_schema_for(x, in, errstr, errstr_size);
        if (schema == NULL) {
            err = SLUICE_ERR_INVALID;
            goto out;
        }
    }
    target = h->value_struct(record, schema); /* schema NULL: a schemaless map */
    if (target == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    buf[0] = '\0';
    err = flatten_value(x, record, value, target, buf, 0, 0, errstr, errstr_size);
    if (err != SLUICE_OK) {
        goto out;
    }
    xf_set(h, record, x->where, target);
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void flatten_destroy(void *state)
{
    /* The flat schemas belong to the ctx: the core frees them after this returns. */
    flatten_free(state);
}

static const struct sluice_transform flatten_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = flatten_config,
    .init = flatten_init,
    .process = flatten_process,
    .destroy = flatten_destroy,
};

static const struct sluice_alias flatten_aliases[] = {
    {"org.apache.kafka.connect.transforms.Flatten$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.Flatten$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "flatten",
    .version = "1.0.0",
    .summary = "Lift the fields of nested structs or maps to the top level of the value or key",
    .description =
        "Kafka Connect's `Flatten$Value` and `Flatten$Key` (`where: key`), with the same key: "
        "`delimiter`.\n"
        "\n"
        "Each field of a nested struct (or, schemaless, of a nested map) becomes a top-level "
        "field named by its path joined with `delimiter`: `{address: {city: Lyon}}` becomes "
        "`{address.city: Lyon}`. Struct values are rebuilt on a flat schema (kept name and "
        "optionality; a field under an optional struct becomes optional); the fields of a null "
        "nested struct are null. Arrays, and maps inside structs, are kept whole. Two fields "
        "that end up with the same name are an error, as is a value that is not a struct or "
        "map; a tombstone passes unchanged.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: flatten\n"
        "    config: { delimiter: \"_\" }\n"
        "```",
    .transform = &flatten_transform,
    .aliases = flatten_aliases,
};
