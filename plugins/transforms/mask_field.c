/*
 * mask-field — Kafka Connect's MaskField$Value / $Key: replaces the named fields with their type's
 * empty value (0, false, "", an empty array or map) or with `replacement` read as the field's type.
 *
 * The struct or map is changed in place (the schema is unchanged). `replacement` is parsed once at
 * init into every form it can take; a field whose type it does not fit is a record error.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct mask_field {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    struct xf_names fields;
    char *replacement; /* NULL: the type's empty value */
    size_t replacement_len;
    int is_int, is_float; /* replacement parses as an integer / a number */
    int64_t as_int;
    double as_float;
};

static const struct sluice_config_field mask_field_config[] = {
    XF_WHERE_FIELD,
    {.name = "fields",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The fields to mask.",
     .example = "ssn,card_number"},
    {.name = "replacement",
     .type = SLUICE_CFG_STRING,
     .description = "The value put in each masked field, read as the field's type (numeric and "
                    "string fields only). Unset: the type's empty value (0, false, \"\", an "
                    "empty array or map).",
     .example = "****"},
    {.name = NULL},
};

static void mask_field_free(struct mask_field *x)
{
    if (x == NULL) {
        return;
    }
    xf_names_free(&x->fields);
    free(x->replacement);
    free(x);
}

static sluice_err_t mask_field_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                    const sluice_config_t *config, void **state, char *errstr,
                                    size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct mask_field *x = calloc(1, sizeof *x);
    const char *replacement = host->config_string(config, "replacement");

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    if (xf_names_load(host, config, "fields", &x->fields, errstr, errstr_size) != 0) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    if (x->fields.n == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'fields' is empty: name at least one field to mask");
        goto out;
    }
    if (replacement != NULL) {
        char *end;

        if (replacement[0] == '\0') {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'replacement' is empty: leave it unset to mask with empty values");
            goto out;
        }
        x->replacement = strdup(replacement);
        if (x->replacement == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
        x->replacement_len = strlen(replacement);
        errno = 0;
        x->as_int = strtoll(replacement, &end, 10);
        x->is_int = errno == 0 && *end == '\0';
        errno = 0;
        x->as_float = strtod(replacement, &end);
        x->is_float = errno == 0 && *end == '\0' && isfinite(x->as_float);
    }
    *state = x;
    x = NULL;
out:
    mask_field_free(x);
    return err;
}

static int mask_field_int_fits(sluice_type_t t, int64_t v)
{
    switch (t) {
    case SLUICE_TYPE_INT8:
        return v >= INT8_MIN && v <= INT8_MAX;
    case SLUICE_TYPE_INT16:
        return v >= INT16_MIN && v <= INT16_MAX;
    case SLUICE_TYPE_INT32:
        return v >= INT32_MIN && v <= INT32_MAX;
    default:
        return 1;
    }
}

/* The masked form of `v` (not NULL-typed), or NULL with a message. With `dry`, only checks that
 * `v` can be masked and returns `v` itself (nothing allocated). */
static sluice_value_t *mask_field_masked(struct mask_field *x, sluice_record_t *rec,
                                         const char *field, sluice_value_t *v, int dry,
                                         char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    sluice_type_t t = h->value_type(v);
    const sluice_schema_t *s = h->value_schema(v);
    const char *logical = s != NULL ? h->schema_name(s) : NULL;
    sluice_value_t *m = NULL;
    int decimal = logical != NULL && strcmp(logical, SLUICE_LOGICAL_DECIMAL) == 0;
    int date = logical != NULL && (strcmp(logical, SLUICE_LOGICAL_TIMESTAMP) == 0 ||
                                   strcmp(logical, SLUICE_LOGICAL_DATE) == 0 ||
                                   strcmp(logical, SLUICE_LOGICAL_TIME) == 0);

    if (x->replacement == NULL) {
        static const unsigned char zero = 0; /* Decimal 0: one byte of unscaled value */

        switch (t) {
        case SLUICE_TYPE_INT8:
        case SLUICE_TYPE_INT16:
        case SLUICE_TYPE_INT32:
        case SLUICE_TYPE_INT64:
            m = dry ? v : h->value_int(rec, t, 0);
            break;
        case SLUICE_TYPE_FLOAT32:
        case SLUICE_TYPE_FLOAT64:
            m = dry ? v : h->value_float(rec, t, 0.0);
            break;
        case SLUICE_TYPE_BOOLEAN:
            m = dry ? v : h->value_bool(rec, 0);
            break;
        case SLUICE_TYPE_STRING:
            m = dry ? v : h->value_string(rec, "", 0);
            break;
        case SLUICE_TYPE_BYTES:
            if (!decimal) {
                goto cannot;
            }
            m = dry ? v : h->value_bytes(rec, &zero, 1);
            break;
        case SLUICE_TYPE_ARRAY:
            m = dry ? v : h->value_array(rec, s);
            break;
        case SLUICE_TYPE_MAP:
            m = dry ? v : h->value_map(rec, s);
            break;
        default:
            goto cannot;
        }
    } else {
        if (date) {
            goto cannot;
        }
        switch (t) {
        case SLUICE_TYPE_INT8:
        case SLUICE_TYPE_INT16:
        case SLUICE_TYPE_INT32:
        case SLUICE_TYPE_INT64:
            if (!x->is_int || !mask_field_int_fits(t, x->as_int)) {
                snprintf(errstr, errstr_size,
                         "field '%s': cannot mask it with the replacement '%s': not an %s", field,
                         x->replacement, xf_type_name(t));
                return NULL;
            }
            m = dry ? v : h->value_int(rec, t, x->as_int);
            break;
        case SLUICE_TYPE_FLOAT32:
        case SLUICE_TYPE_FLOAT64:
            if (!x->is_float) {
                snprintf(errstr, errstr_size,
                         "field '%s': cannot mask it with the replacement '%s': not a number",
                         field, x->replacement);
                return NULL;
            }
            m = dry ? v : h->value_float(rec, t, x->as_float);
            break;
        case SLUICE_TYPE_STRING:
            m = dry ? v : h->value_string(rec, x->replacement, x->replacement_len);
            break;
        default:
            goto cannot;
        }
    }
    if (m == NULL) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    if (s != NULL && !dry) {
        h->value_set_schema(m, s);
    }
    return m;
cannot:
    /* Logical types by their short name: "Timestamp", "Decimal". */
    snprintf(errstr, errstr_size, "field '%s': cannot mask values of type %s%s", field,
             decimal || date ? strrchr(logical, '.') + 1 : xf_type_name(t),
             x->replacement != NULL ? " with a replacement (numbers and strings only)" : "");
    return NULL;
}

static sluice_err_t mask_field_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                       char *errstr, size_t errstr_size)
{
    struct mask_field *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    sluice_type_t type;

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
        snprintf(errstr, errstr_size, "mask-field needs a struct or map %s, found %s",
                 xf_where_name(x->where), xf_type_name(type));
        goto out;
    }
    /* Check every field before changing any: a failed record keeps its value intact. */
    for (size_t i = 0; i < x->fields.n; i++) {
        sluice_value_t *fv = h->value_get(value, x->fields.v[i]);

        if (fv != NULL && h->value_type(fv) != SLUICE_TYPE_NULL &&
            mask_field_masked(x, record, x->fields.v[i], fv, 1, errstr, errstr_size) == NULL) {
            err = SLUICE_ERR_INVALID;
            goto out;
        }
    }
    for (size_t i = 0; i < x->fields.n; i++) {
        const char *field = x->fields.v[i];
        sluice_value_t *fv = h->value_get(value, field);
        sluice_value_t *m;

        if (fv == NULL) {
            if (type == SLUICE_TYPE_STRUCT) {
                continue; /* Kafka Connect masks the fields of the schema only */
            }
            /* ... and puts a null for a field a map lacks. */
            m = h->value_null(record);
        } else if (h->value_type(fv) == SLUICE_TYPE_NULL) {
            continue;
        } else {
            m = mask_field_masked(x, record, field, fv, 0, errstr, errstr_size);
        }
        if (m == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
        if (h->value_put(record, value, field, m) != SLUICE_OK) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "field '%s': cannot set the masked value", field);
            goto out;
        }
    }
    /* Also for a value changed in place: it tells the core the encoded bytes are stale. */
    xf_set(h, record, x->where, value);
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void mask_field_destroy(void *state)
{
    mask_field_free(state);
}

static const struct sluice_transform mask_field_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = mask_field_config,
    .init = mask_field_init,
    .process = mask_field_process,
    .destroy = mask_field_destroy,
};

static const struct sluice_alias mask_field_aliases[] = {
    {"org.apache.kafka.connect.transforms.MaskField$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.MaskField$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "mask-field",
    .version = "1.0.0",
    .summary = "Mask fields of each record's value or key with empty values or a replacement",
    .description =
        "Kafka Connect's `MaskField$Value` and `MaskField$Key` (`where: key`), with the same "
        "keys: `fields` and `replacement`.\n"
        "\n"
        "Without `replacement` a field gets its type's empty value: 0 for integers and floats "
        "(and the Date, Time, Timestamp and Decimal logical types), false, \"\", an empty array "
        "or map. With `replacement` the text is read as the field's type: integer fields need "
        "an integer that fits, float fields a number, string fields take it as is; other types "
        "cannot take a replacement. A field that cannot be masked (a nested struct, plain bytes, "
        "or a replacement of the wrong form) is an error routed by `errors.tolerance`. Null "
        "fields stay null; tombstones pass unchanged.\n"
        "\n"
        "As in Kafka Connect, a struct is masked in the fields of its schema only, while a "
        "schemaless map that lacks a listed field gets it as null.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: mask-field\n"
        "    config: { fields: [ssn, card_number], replacement: \"****\" }\n"
        "```",
    .transform = &mask_field_transform,
    .aliases = mask_field_aliases,
};
