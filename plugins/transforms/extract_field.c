/*
 * extract-field — Kafka Connect's ExtractField$Value / $Key: replaces the value (or key) with one
 * of its fields.
 *
 * `field.syntax.version: V2` (KIP-821) reads `field` as a dotted path into nested structs or maps,
 * with backticks around a step that holds dots (`a.b`.c) and \` for a backtick in such a step.
 * As in Kafka Connect, a schemaless map without the field gives null, and a struct whose schema
 * lacks the field is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

static const char *const extract_field_versions[] = {"V1", "V2", NULL};

struct extract_field {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    char *path; /* as configured, for messages */
    char **steps;
    size_t nsteps;
    struct xf_cache cache; /* input schema → the extracted field's schema */
};

static const struct sluice_config_field extract_field_config[] = {
    XF_WHERE_FIELD,
    {.name = "field",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The field to extract (with `field.syntax.version: V2`, a dotted path).",
     .example = "payload"},
    {.name = "field.syntax.version",
     .type = SLUICE_CFG_ENUM,
     .default_value = "V1",
     .description = "`V1`: `field` is a top-level field name. `V2`: `field` is a path of nested "
                    "fields separated by dots; a step holding dots is wrapped in backticks.",
     .example = "V2",
     .enum_values = extract_field_versions},
    {.name = NULL},
};

static void extract_field_free(struct extract_field *x)
{
    if (x == NULL) {
        return;
    }
    for (size_t i = 0; i < x->nsteps; i++) {
        free(x->steps[i]);
    }
    free(x->steps);
    free(x->path);
    xf_cache_free(&x->cache);
    free(x);
}

static int extract_field_add_step(struct extract_field *x, const char *s, size_t len)
{
    char **steps = realloc(x->steps, (x->nsteps + 1) * sizeof *steps);

    if (steps == NULL) {
        return -1;
    }
    x->steps = steps;
    x->steps[x->nsteps] = strndup(s, len);
    if (x->steps[x->nsteps] == NULL) {
        return -1;
    }
    x->nsteps++;
    return 0;
}

/* Splits a V2 path as Kafka Connect's SingleFieldPath does. */
static sluice_err_t extract_field_parse_v2(struct extract_field *x, char *errstr,
                                           size_t errstr_size)
{
    const char *p = x->path;
    size_t len = strlen(p), i = 0;
    char *step = malloc(len + 1); /* a backticked step, unescaped */

    if (step == NULL) {
        return xf_oom(errstr, errstr_size);
    }
    while (i < len) {
        if (p[i] != '`') {
            const char *dot = strchr(p + i, '.');
            size_t end = dot != NULL ? (size_t)(dot - p) : len;

            if (extract_field_add_step(x, p + i, end - i) != 0) {
                goto oom;
            }
            i = dot != NULL ? end + 1 : len;
            continue;
        }
        {
            size_t tick = i, start = i + 1, n = 0, j = i + 1;

            for (;;) {
                const char *bt = strchr(p + j, '`');
                int escaped;

                if (bt == NULL) {
                    goto unpaired;
                }
                j = (size_t)(bt - p);
                escaped = p[j - 1] == '\\';
                if (j == len - 1) {
                    if (escaped) {
                        goto unpaired;
                    }
                    memcpy(step + n, p + start, j - start);
                    n += j - start;
                    i = len;
                    break;
                }
                if (p[j + 1] != '.') {
                    j++; /* a backtick inside the step */
                    continue;
                }
                if (escaped) {
                    memcpy(step + n, p + start, j - 1 - start);
                    n += j - 1 - start;
                    step[n++] = '`';
                    start = ++j;
                    continue;
                }
                memcpy(step + n, p + start, j - start);
                n += j - start;
                i = j + 2;
                break;
            }
            if (extract_field_add_step(x, step, n) != 0) {
                goto oom;
            }
            continue;
        unpaired:
            free(step);
            snprintf(errstr, errstr_size,
                     "'field': incomplete backtick pair in the path '%s'; put a backslash before "
                     "the backtick at position %zu to escape it",
                     p, tick);
            return SLUICE_ERR_CONFIG;
        }
    }
    if (len > 0 && p[len - 1] == '.' && extract_field_add_step(x, "", 0) != 0) {
        goto oom;
    }
    free(step);
    return SLUICE_OK;
oom:
    free(step);
    return xf_oom(errstr, errstr_size);
}

static sluice_err_t extract_field_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                       const sluice_config_t *config, void **state, char *errstr,
                                       size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct extract_field *x = calloc(1, sizeof *x);
    const char *version = host->config_string(config, "field.syntax.version");

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    x->path = strdup(host->config_string(config, "field"));
    if (x->path == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    if (version != NULL && strcmp(version, "V2") == 0) {
        err = extract_field_parse_v2(x, errstr, errstr_size);
    } else if (extract_field_add_step(x, x->path, strlen(x->path)) != 0) {
        err = xf_oom(errstr, errstr_size);
    }
    if (err != SLUICE_OK) {
        goto out;
    }
    *state = x;
    x = NULL;
out:
    extract_field_free(x);
    return err;
}

/* The schema of the field at the path in the struct schema `in` (cached); NULL with a message. */
static const sluice_schema_t *extract_field_schema_for(struct extract_field *x,
                                                       const sluice_schema_t *in, char *errstr,
                                                       size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *cur = xf_cache_get(&x->cache, in, 0);

    if (cur != NULL) {
        return cur;
    }
    cur = in;
    for (size_t k = 0; k < x->nsteps; k++) {
        const sluice_schema_t *found = NULL;
        size_t n;

        if (h->schema_type(cur) != SLUICE_TYPE_STRUCT) {
            snprintf(errstr, errstr_size, "field '%s': '%s' is of type %s, not a struct", x->path,
                     x->steps[k - 1], xf_type_name(h->schema_type(cur)));
            return NULL;
        }
        n = h->schema_field_count(cur);
        for (size_t i = 0; i < n && found == NULL; i++) {
            const sluice_schema_t *fs;

            if (strcmp(h->schema_field(cur, i, &fs), x->steps[k]) == 0) {
                found = fs;
            }
        }
        if (found == NULL) {
            snprintf(errstr, errstr_size, "field '%s': not in the %s's schema", x->path,
                     xf_where_name(x->where));
            return NULL;
        }
        cur = found;
    }
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, cur) != 0) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    return cur;
}

static sluice_err_t extract_field_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                          char *errstr, size_t errstr_size)
{
    struct extract_field *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    const sluice_schema_t *in, *fs = NULL;
    sluice_value_t *cur;
    sluice_type_t type;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    in = h->value_schema(value);
    if (type == SLUICE_TYPE_STRUCT && in == NULL) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "the %s is a struct without a schema",
                 xf_where_name(x->where));
        goto out;
    }
    if (in != NULL && h->schema_type(in) == SLUICE_TYPE_STRUCT) {
        /* Kafka Connect checks the schema even for a null value (the result keeps its schema). */
        fs = extract_field_schema_for(x, in, errstr, errstr_size);
        if (fs == NULL) {
            err = SLUICE_ERR_INVALID;
            goto out;
        }
    } else if (type == SLUICE_TYPE_NULL) {
        goto forward; /* a schemaless null stays null */
    } else if (type != SLUICE_TYPE_MAP || in != NULL) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "extract-field needs a struct or map %s, found %s",
                 xf_where_name(x->where), xf_type_name(type));
        goto out;
    }
    cur = value;
    for (size_t k = 0; k < x->nsteps && cur != NULL; k++) {
        sluice_type_t t = h->value_type(cur);

        if (t == SLUICE_TYPE_NULL) {
            cur = NULL;
            break;
        }
        if (t != SLUICE_TYPE_MAP && t != SLUICE_TYPE_STRUCT) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "field '%s': '%s' is of type %s, not a map", x->path,
                     x->steps[k - 1], xf_type_name(t));
            goto out;
        }
        cur = h->value_get(cur, x->steps[k]);
    }
    if (cur == NULL ||
        (fs != NULL && h->value_type(cur) == SLUICE_TYPE_NULL && h->value_schema(cur) != fs)) {
        cur = h->value_null(record);
        if (cur == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
        if (fs != NULL) {
            h->value_set_schema(cur, fs);
        }
    }
    xf_set(h, record, x->where, cur);
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void extract_field_destroy(void *state)
{
    extract_field_free(state);
}

static const struct sluice_transform extract_field_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = extract_field_config,
    .init = extract_field_init,
    .process = extract_field_process,
    .destroy = extract_field_destroy,
};

static const struct sluice_alias extract_field_aliases[] = {
    {"org.apache.kafka.connect.transforms.ExtractField$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.ExtractField$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "extract-field",
    .version = "1.0.0",
    .summary = "Replace each record's value or key with one of its fields",
    .description =
        "Kafka Connect's `ExtractField$Value` and `ExtractField$Key` (`where: key`), with the same "
        "keys: `field` and `field.syntax.version`.\n"
        "\n"
        "A struct (with a schema) is replaced by its field, which keeps the field's schema; the "
        "field must be in the struct's schema, or the record is an error. A schemaless map (e.g. "
        "JSON) is replaced by its entry, or by null when it has none (as in Kafka Connect). A "
        "null passes as null. Any other value is an error routed by `errors.tolerance`.\n"
        "\n"
        "With `field.syntax.version: V2` (KIP-821) `field` is a path into nested structs or maps: "
        "`address.city`; a step that holds dots is wrapped in backticks (`` `a.b`.c ``). A null "
        "on the way gives null.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: extract-field\n"
        "    config: { where: key, field: id }\n"
        "```",
    .transform = &extract_field_transform,
    .aliases = extract_field_aliases,
};
