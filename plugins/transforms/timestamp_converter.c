/*
 * timestamp-converter — Kafka Connect's TimestampConverter$Value / $Key: converts a timestamp field
 * (or the whole value or key) between text in a SimpleDateFormat pattern, Unix time, and the
 * logical types Date, Time and Timestamp.
 *
 * The pattern is compiled once at init (sdf.c); parsing and formatting run on the stack, in UTC.
 * Struct values are rebuilt on a derived schema (built once per input schema, cached); schemaless
 * maps are changed in place.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "calendar.h"
#include "sdf.h"
#include "xf.h"

#define TSC_QUOTE_MAX 64

enum tsc_kind { TSC_STRING = 0, TSC_UNIX, TSC_DATE, TSC_TIME, TSC_TIMESTAMP };

static const char *const tsc_target_values[] = {"string", "unix",      "Date",
                                                "Time",   "Timestamp", NULL};
static const char *const tsc_precision_values[] = {"seconds", "milliseconds", "microseconds",
                                                   "nanoseconds", NULL};

struct tsc {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    char *field; /* NULL: the whole value or key */
    enum tsc_kind target;
    int has_format;
    sdf_t format;
    char *pattern;
    int precision;                        /* index in tsc_precision_values */
    const sluice_schema_t *out_schema[2]; /* the target's schema: required, optional */
    struct xf_cache cache;
    char *text; /* formatted text, grown when a pattern needs more than the stack buffer */
    size_t text_cap;
    int by_index; /* the host has value_index and value_set_item: one search for the field */
};

static const struct sluice_config_field tsc_config[] = {
    XF_WHERE_FIELD,
    {.name = "field",
     .type = SLUICE_CFG_STRING,
     .default_value = "",
     .description = "The field holding the timestamp; empty: the whole value (or key) is the "
                    "timestamp.",
     .example = "created_at"},
    {.name = "target.type",
     .type = SLUICE_CFG_ENUM,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "What the timestamp becomes: `string` (text in `format`), `unix` (an int64 in "
                    "`unix.precision`), or the logical types `Date`, `Time`, `Timestamp`.",
     .example = "Timestamp",
     .enum_values = tsc_target_values},
    {.name = "format",
     .type = SLUICE_CFG_STRING,
     .description = "A Java SimpleDateFormat pattern (in UTC): the text written when "
                    "`target.type` is `string`, and how string timestamps are parsed. Letters: "
                    "y M d D E a H k h K m s S Z X z; quote literal text ('T').",
     .example = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"},
    {.name = "unix.precision",
     .type = SLUICE_CFG_ENUM,
     .default_value = "milliseconds",
     .description = "The unit of Unix times, read (int64 inputs) and written (`target.type: "
                    "unix`). Sub-millisecond digits are dropped.",
     .example = "seconds",
     .enum_values = tsc_precision_values},
    {.name = NULL},
};

static void tsc_free(struct tsc *x)
{
    if (x == NULL) {
        return;
    }
    free(x->field);
    free(x->pattern);
    sdf_free(&x->format);
    xf_cache_free(&x->cache);
    free(x->text);
    free(x);
}

static int tsc_index(const char *const *values, const char *s)
{
    for (int i = 0; s != NULL && values[i] != NULL; i++) {
        if (strcmp(values[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static int tsc_blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t') {
            return 0;
        }
    }
    return 1;
}

/* The schema of the target type (Kafka Connect's typeSchema). */
static sluice_schema_t *tsc_target_schema(struct tsc *x, int optional)
{
    const struct sluice_host *h = x->host;
    static const sluice_type_t types[] = {SLUICE_TYPE_STRING, SLUICE_TYPE_INT64, SLUICE_TYPE_INT32,
                                          SLUICE_TYPE_INT32, SLUICE_TYPE_INT64};
    static const char *const names[] = {NULL, NULL, SLUICE_LOGICAL_DATE, SLUICE_LOGICAL_TIME,
                                        SLUICE_LOGICAL_TIMESTAMP};
    sluice_schema_t *s = h->schema_new(x->ctx, types[x->target]);

    if (s == NULL) {
        return NULL;
    }
    h->schema_set_optional(s, optional);
    if (names[x->target] != NULL && h->schema_set_name(s, names[x->target]) != SLUICE_OK) {
        return NULL;
    }
    return s;
}

static sluice_err_t tsc_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                             const sluice_config_t *config, void **state, char *errstr,
                             size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct tsc *x = calloc(1, sizeof *x);
    const char *field = host->config_string(config, "field");
    const char *target = host->config_string(config, "target.type");
    const char *format = host->config_string(config, "format");
    int t;

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    x->by_index = SLUICE_HOST_HAS(host, value_index) && SLUICE_HOST_HAS(host, value_set_item);
    t = tsc_index(tsc_target_values, target);
    if (t < 0) { /* the core checks enums; this guards a direct init */
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "'target.type': '%s' is not one of string, unix, Date, Time, Timestamp",
                 target != NULL ? target : "");
        goto out;
    }
    x->target = (enum tsc_kind)t;
    x->precision = tsc_index(tsc_precision_values, host->config_string(config, "unix.precision"));
    if (x->precision < 0) {
        x->precision = 1;
    }
    if (field != NULL && field[0] != '\0') {
        x->field = strdup(field);
        if (x->field == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
    }
    if (!tsc_blank(format)) {
        if (sdf_compile(&x->format, format, errstr, errstr_size) != 0) {
            char why[256];

            snprintf(why, sizeof why, "%s", errstr);
            snprintf(errstr, errstr_size, "'format': %s", why);
            err = SLUICE_ERR_CONFIG;
            goto out;
        }
        x->has_format = 1;
        x->pattern = strdup(format);
        if (x->pattern == NULL) {
            err = xf_oom(errstr, errstr_size);
            goto out;
        }
    } else if (x->target == TSC_STRING) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "'format' is required when 'target.type' is string (a SimpleDateFormat pattern "
                 "such as yyyy-MM-dd'T'HH:mm:ss.SSSXXX)");
        goto out;
    }
    x->out_schema[0] = tsc_target_schema(x, 0);
    x->out_schema[1] = tsc_target_schema(x, 1);
    if (x->out_schema[0] == NULL || x->out_schema[1] == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    *state = x;
    x = NULL;
out:
    tsc_free(x);
    return err;
}

/* One conversion's context, for messages. */
struct tsc_op {
    struct tsc *x;
    sluice_record_t *rec;
    const char *field; /* NULL: the whole value or key */
    char *errstr;
    size_t errstr_size;
    sluice_err_t err;
};

static sluice_value_t *tsc_fail(struct tsc_op *op, const char *fmt, ...) SLUICE_PRINTF(2, 3);
static sluice_value_t *tsc_fail(struct tsc_op *op, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    op->err = xf_field_verror(op->errstr, op->errstr_size, op->field, op->x->where, fmt, ap);
    va_end(ap);
    return NULL;
}

static sluice_value_t *tsc_nomem(struct tsc_op *op)
{
    op->err = xf_oom(op->errstr, op->errstr_size);
    return NULL;
}

/* a * m, saturated like Java's TimeUnit conversions. */
static int64_t tsc_mul_sat(int64_t a, int64_t m)
{
    if (a > INT64_MAX / m) {
        return INT64_MAX;
    }
    if (a < INT64_MIN / m) {
        return INT64_MIN;
    }
    return a * m;
}

/* Milliseconds since the epoch from a Unix time in the configured precision. */
static int64_t tsc_unix_to_ms(const struct tsc *x, int64_t v)
{
    switch (x->precision) {
    case 0:
        return tsc_mul_sat(v, 1000);
    case 2:
        return v / 1000;
    case 3:
        return v / 1000000;
    default:
        return v;
    }
}

static int64_t tsc_ms_to_unix(const struct tsc *x, int64_t ms)
{
    switch (x->precision) {
    case 0:
        return ms / 1000;
    case 2:
        return tsc_mul_sat(ms, 1000);
    case 3:
        return tsc_mul_sat(ms, 1000000);
    default:
        return ms;
    }
}

/* The timestamp `ms` as the target type. */
static sluice_value_t *tsc_make(struct tsc_op *op, int64_t ms)
{
    struct tsc *x = op->x;
    const struct sluice_host *h = x->host;
    sluice_value_t *v;

    switch (x->target) {
    case TSC_STRING: {
        char stack[128];
        size_t n = sdf_format(&x->format, ms, stack, sizeof stack);
        const char *text = stack;

        if (n >= sizeof stack) {
            if (n + 1 > x->text_cap) {
                char *p = realloc(x->text, n + 1);

                if (p == NULL) {
                    return tsc_nomem(op);
                }
                x->text = p;
                x->text_cap = n + 1;
            }
            sdf_format(&x->format, ms, x->text, x->text_cap);
            text = x->text;
        }
        v = h->value_string(op->rec, text, n);
        break;
    }
    case TSC_UNIX:
        v = h->value_int(op->rec, SLUICE_TYPE_INT64, tsc_ms_to_unix(x, ms));
        break;
    case TSC_DATE: {
        int64_t days = calendar_floor_div(ms, 86400000);

        if (days < INT32_MIN || days > INT32_MAX) {
            return tsc_fail(op, "the timestamp %" PRId64 " ms is out of the range of Date", ms);
        }
        v = h->value_int(op->rec, SLUICE_TYPE_INT32, days);
        break;
    }
    case TSC_TIME:
        v = h->value_int(op->rec, SLUICE_TYPE_INT32,
                         ms - calendar_floor_div(ms, 86400000) * 86400000);
        break;
    default:
        v = h->value_int(op->rec, SLUICE_TYPE_INT64, ms);
        break;
    }
    return v != NULL ? v : tsc_nomem(op);
}

/* What kind of timestamp a schema holds (Kafka Connect's timestampTypeFromSchema); -1: none. */
static int tsc_kind_of_schema(const struct sluice_host *h, const sluice_schema_t *s)
{
    const char *name = h->schema_name(s);
    sluice_type_t t = h->schema_type(s);

    if (name != NULL && strcmp(name, SLUICE_LOGICAL_TIMESTAMP) == 0 && t == SLUICE_TYPE_INT64) {
        return TSC_TIMESTAMP;
    }
    if (name != NULL && strcmp(name, SLUICE_LOGICAL_DATE) == 0 && t == SLUICE_TYPE_INT32) {
        return TSC_DATE;
    }
    if (name != NULL && strcmp(name, SLUICE_LOGICAL_TIME) == 0 && t == SLUICE_TYPE_INT32) {
        return TSC_TIME;
    }
    if (t == SLUICE_TYPE_STRING) {
        return TSC_STRING;
    }
    if (t == SLUICE_TYPE_INT64) {
        return TSC_UNIX;
    }
    return -1;
}

/* Converts `v`, of the kind given by `schema` (or inferred from its type when NULL). A null
 * stays null. NULL with op->err and a message on failure. */
static sluice_value_t *tsc_convert(struct tsc_op *op, sluice_value_t *v,
                                   const sluice_schema_t *schema)
{
    struct tsc *x = op->x;
    const struct sluice_host *h = x->host;
    sluice_type_t type = h->value_type(v);
    int kind;
    int64_t ms;

    if (type == SLUICE_TYPE_NULL) {
        return v;
    }
    if (schema != NULL) {
        kind = tsc_kind_of_schema(h, schema);
        if (kind < 0) {
            const char *name = h->schema_name(schema);

            return tsc_fail(
                op, "its type %s%s%s is not a timestamp (string, int64, Date, Time or Timestamp)",
                xf_type_name(h->schema_type(schema)), name != NULL ? " " : "",
                name != NULL ? name : "");
        }
    } else if (type == SLUICE_TYPE_STRING) {
        kind = TSC_STRING;
    } else if (type >= SLUICE_TYPE_INT8 && type <= SLUICE_TYPE_INT64) {
        kind = TSC_UNIX; /* JSON integers */
    } else {
        return tsc_fail(op, "its type %s is not a timestamp (a string or a Unix time)",
                        xf_type_name(type));
    }
    switch (kind) {
    case TSC_STRING: {
        size_t len = 0;
        const char *s = h->value_as_string(v, &len);
        int q = len > TSC_QUOTE_MAX ? TSC_QUOTE_MAX : (int)len;

        if (!x->has_format) {
            return tsc_fail(op, "the string '%.*s%s' cannot be parsed: 'format' is not set", q, s,
                            len > TSC_QUOTE_MAX ? "..." : "");
        }
        if (sdf_parse(&x->format, s, len, &ms) != 0) {
            return tsc_fail(op,
                            "cannot parse the timestamp '%.*s%s': it does not match the "
                            "pattern '%s'",
                            q, s, len > TSC_QUOTE_MAX ? "..." : "", x->pattern);
        }
        break;
    }
    case TSC_UNIX:
        ms = tsc_unix_to_ms(x, h->value_as_int(v));
        break;
    case TSC_DATE:
        ms = h->value_as_int(v) * 86400000;
        break;
    default: /* Time and Timestamp are milliseconds already */
        ms = h->value_as_int(v);
        break;
    }
    return tsc_make(op, ms);
}

/* The struct schema with the field retyped (cached); NULL with a message. */
/* The schema of field `name` of a derived struct: the target type's for the converted field. */
static const sluice_schema_t *tsc_field_schema(void *arg, const char *name,
                                               const sluice_schema_t *fs)
{
    struct tsc *x = arg;

    return strcmp(name, x->field) == 0 ? x->out_schema[x->host->schema_optional(fs) ? 1 : 0] : fs;
}

struct tsc_fields {
    struct tsc *x;
    sluice_record_t *rec;
    char *errstr;
    size_t errstr_size;
};

static sluice_value_t *tsc_field_value(void *arg, const char *name, sluice_value_t *fv,
                                       const sluice_schema_t *fs_in, const sluice_schema_t *fs_out,
                                       sluice_err_t *err)
{
    struct tsc_fields *tf = arg;
    struct tsc_op op;

    if (strcmp(name, tf->x->field) != 0) {
        return fv;
    }
    op = (struct tsc_op){tf->x, tf->rec, name, tf->errstr, tf->errstr_size, SLUICE_OK};
    fv = tsc_convert(&op, fv, fs_in);
    if (fv == NULL) {
        *err = op.err;
    } else if (tf->x->host->value_type(fv) != SLUICE_TYPE_NULL) {
        tf->x->host->value_set_schema(fv, fs_out);
    }
    return fv;
}

static sluice_err_t tsc_struct(struct tsc *x, sluice_record_t *record, sluice_value_t *value,
                               sluice_value_t **result, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *in = h->value_schema(value);
    const sluice_schema_t *schema;
    struct tsc_fields tf = {x, record, errstr, errstr_size};

    if (in == NULL) {
        snprintf(errstr, errstr_size, "the %s is a struct without a schema",
                 xf_where_name(x->where));
        return SLUICE_ERR_INVALID;
    }
    schema = xf_schema_derive(h, x->ctx, &x->cache, in, tsc_field_schema, x, errstr, errstr_size);
    if (schema == NULL) {
        return SLUICE_ERR_NOMEM;
    }
    return xf_struct_rebuild(h, record, value, schema, tsc_field_value, &tf,
                             xf_where_name(x->where), result, errstr, errstr_size);
}

static sluice_err_t tsc_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                char *errstr, size_t errstr_size)
{
    struct tsc *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    sluice_value_t *target = value;
    sluice_type_t type;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    if (type == SLUICE_TYPE_NULL) {
        goto forward; /* a tombstone (or null key) passes unchanged */
    }
    if (x->field == NULL) {
        const sluice_schema_t *in = h->value_schema(value);
        struct tsc_op op = {x, record, NULL, errstr, errstr_size, SLUICE_OK};

        target = tsc_convert(&op, value, in);
        if (target == NULL) {
            err = op.err;
            goto out;
        }
        if (in != NULL) {
            h->value_set_schema(target, x->out_schema[h->schema_optional(in) ? 1 : 0]);
        }
    } else if (type == SLUICE_TYPE_STRUCT) {
        err = tsc_struct(x, record, value, &target, errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
    } else if (type == SLUICE_TYPE_MAP) {
        struct tsc_op op = {x, record, x->field, errstr, errstr_size, SLUICE_OK};
        long at = x->by_index ? h->value_index(value, x->field) : -1;
        sluice_value_t *fv = at >= 0       ? h->value_item(value, (size_t)at, NULL, NULL)
                             : x->by_index ? NULL
                                           : h->value_get(value, x->field);

        /* Kafka Connect puts the field back, a missing one as null. */
        fv = fv != NULL ? tsc_convert(&op, fv, NULL) : h->value_null(record);
        if (fv == NULL) {
            err = op.err != SLUICE_OK ? op.err : xf_oom(errstr, errstr_size);
            goto out;
        }
        if ((at >= 0 ? h->value_set_item(record, value, (size_t)at, fv)
                     : h->value_put(record, value, x->field, fv)) != SLUICE_OK) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "field '%s': cannot set it in the %s map", x->field,
                     xf_where_name(x->where));
            goto out;
        }
    } else {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size,
                 "timestamp-converter needs a struct or map %s for 'field' '%s', found %s",
                 xf_where_name(x->where), x->field, xf_type_name(type));
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

static void tsc_destroy(void *state)
{
    /* The schemas belong to the ctx: the core frees them after this returns. */
    tsc_free(state);
}

static const struct sluice_transform tsc_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = tsc_config,
    .init = tsc_init,
    .process = tsc_process,
    .destroy = tsc_destroy,
};

static const struct sluice_alias tsc_aliases[] = {
    {"org.apache.kafka.connect.transforms.TimestampConverter$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.TimestampConverter$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "timestamp-converter",
    .version = "1.0.0",
    .summary = "Convert a timestamp field (or the whole value or key) between text, Unix time, "
               "Date, Time and Timestamp",
    .description =
        "Kafka Connect's `TimestampConverter$Value` and `TimestampConverter$Key` (`where: key`), "
        "with the same keys: `field` (empty: the whole value), `target.type`, `format`, "
        "`unix.precision`.\n"
        "\n"
        "The input's kind comes from its schema (the logical types `Timestamp`, `Date`, `Time`; "
        "a string is text in `format`; an int64 is Unix time in `unix.precision`) or, without a "
        "schema, from its type (a string, or an integer as Unix time). Struct values are "
        "rebuilt on a schema whose field has the target type (optionality kept). In a schemaless "
        "map a missing field is set to null and a struct without the field passes unchanged, "
        "as in Kafka Connect; nulls and tombstones pass. Without a schema `Date`, `Time` and "
        "`Timestamp` come out as their numbers (days, milliseconds of the day, milliseconds).\n"
        "\n"
        "`format` is a Java SimpleDateFormat pattern, applied in UTC (proleptic Gregorian "
        "calendar). Supported letters: `y` (`yy`: two digits), `M` (`MM`, `MMM` Jan, `MMMM` "
        "January), `d`, `D` (day of year), `E` (Mon, Monday), `a` (AM/PM), `H`, `k`, `h`, `K`, "
        "`m`, `s`, `S` (milliseconds), `Z` (+0000), `X` (Z; parses Z, +hh, +hhmm, +hh:mm), `z` "
        "(UTC); text in single quotes is literal (`'T'`); other letters are a configuration "
        "error. Parsing is strict where Java is lenient: the whole text must match and every "
        "field must be in range (no 13th month, no `SSSSSS` microseconds), else the record "
        "fails: `field 'ts': cannot parse the timestamp '2024-13-01': it does not match the "
        "pattern 'yyyy-MM-dd'`. Other failures: a value that is not a timestamp, or a field "
        "whose schema is not one.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: timestamp-converter\n"
        "    config:\n"
        "      field: created_at\n"
        "      target.type: string\n"
        "      format: \"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\"\n"
        "```",
    .transform = &tsc_transform,
    .aliases = tsc_aliases,
};
