/*
 * cast — Kafka Connect's Cast$Value / Cast$Key: casts top-level fields of a struct or map, or the
 * whole key or value, to another primitive type.
 *
 * The spec is parsed at init. Struct values are rebuilt on a derived schema (the cast fields get
 * the target type, keeping their optionality), built once per input schema and cached; schemaless
 * maps are changed in place. Nothing is heap-allocated per record: values come from the batch
 * arena and text is built on the stack or in one buffer of the instance.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/plugin.h>

#include "sdf.h"
#include "xf.h"

/* How much of a bad string an error message quotes. */
#define CAST_QUOTE_MAX 64

struct cast_rule {
    char *field;
    sluice_type_t type;
};

struct cast {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    struct cast_rule *rules; /* field casts; empty for a whole-value cast */
    size_t n;
    sluice_type_t whole; /* SLUICE_TYPE_NULL: field casts */
    struct xf_cache cache;
    sluice_buf_t *buf; /* NUL-terminated copies and base64 text, reused */
    int by_index;      /* the host has value_index and value_set_item: one search per field */
};

static const struct sluice_config_field cast_config[] = {
    XF_WHERE_FIELD,
    {.name = "spec",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "Fields and the types to cast them to, as `field:type` items; or a single "
                    "type, which casts the whole value (or key). Types: int8, int16, int32, int64, "
                    "float32, float64, boolean, string.",
     .example = "price:float64,qty:int32"},
    {.name = NULL},
};

/* The types Kafka Connect casts to (by name, any case); SLUICE_TYPE_NULL when not one. */
static sluice_type_t cast_parse_type(const char *s, size_t len, int *unsupported)
{
    for (int t = SLUICE_TYPE_INT8; t <= SLUICE_TYPE_STRUCT; t++) {
        const char *name = xf_type_name((sluice_type_t)t);

        if (strlen(name) == len && strncasecmp(name, s, len) == 0) {
            *unsupported = t > SLUICE_TYPE_STRING;
            return *unsupported ? SLUICE_TYPE_NULL : (sluice_type_t)t;
        }
    }
    *unsupported = 0;
    return SLUICE_TYPE_NULL;
}

static void cast_free(struct cast *x)
{
    if (x == NULL) {
        return;
    }
    for (size_t i = 0; i < x->n; i++) {
        free(x->rules[i].field);
    }
    free(x->rules);
    xf_cache_free(&x->cache);
    if (x->buf != NULL) {
        x->host->buf_free(x->buf);
    }
    free(x);
}

/* One item of `spec`: "type" or "field:type", blanks around the parts ignored. */
static sluice_err_t cast_parse_item(struct cast *x, const char *item, size_t count, char *errstr,
                                    size_t errstr_size)
{
    const char *colon = strchr(item, ':');
    const char *ts = colon != NULL ? colon + 1 : item;
    const char *te = ts + strlen(ts);
    const char *fs = item, *fe = colon;
    sluice_type_t type;
    int unsupported;

    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        snprintf(errstr, errstr_size, "'spec': item '%s' is not of the form 'field:type'", item);
        return SLUICE_ERR_CONFIG;
    }
    while (ts < te && (*ts == ' ' || *ts == '\t')) {
        ts++;
    }
    while (te > ts && (te[-1] == ' ' || te[-1] == '\t')) {
        te--;
    }
    type = cast_parse_type(ts, (size_t)(te - ts), &unsupported);
    if (type == SLUICE_TYPE_NULL) {
        snprintf(errstr, errstr_size,
                 "'spec': %s type '%.*s' in '%s' (casts go to int8, int16, int32, int64, "
                 "float32, float64, boolean or string)",
                 unsupported ? "cannot cast to the" : "unknown", (int)(te - ts), ts, item);
        return SLUICE_ERR_CONFIG;
    }
    if (colon == NULL) {
        if (count > 1) {
            snprintf(errstr, errstr_size,
                     "'spec': the whole-value type '%s' must be the only item (got %zu items)",
                     item, count);
            return SLUICE_ERR_CONFIG;
        }
        x->whole = type;
        return SLUICE_OK;
    }
    while (fs < fe && (*fs == ' ' || *fs == '\t')) {
        fs++;
    }
    while (fe > fs && (fe[-1] == ' ' || fe[-1] == '\t')) {
        fe--;
    }
    if (fe == fs) {
        snprintf(errstr, errstr_size, "'spec': item '%s' has no field name before ':'", item);
        return SLUICE_ERR_CONFIG;
    }
    for (size_t i = 0; i < x->n; i++) {
        if (strlen(x->rules[i].field) == (size_t)(fe - fs) &&
            memcmp(x->rules[i].field, fs, (size_t)(fe - fs)) == 0) {
            snprintf(errstr, errstr_size, "'spec': the field '%s' is cast twice",
                     x->rules[i].field);
            return SLUICE_ERR_CONFIG;
        }
    }
    x->rules[x->n].field = strndup(fs, (size_t)(fe - fs));
    if (x->rules[x->n].field == NULL) {
        return xf_oom(errstr, errstr_size);
    }
    x->rules[x->n++].type = type;
    return SLUICE_OK;
}

static sluice_err_t cast_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                              const sluice_config_t *config, void **state, char *errstr,
                              size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct cast *x = calloc(1, sizeof *x);
    size_t count = host->config_has(config, "spec") ? host->config_count(config, "spec") : 0;

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    x->by_index = SLUICE_HOST_HAS(host, value_index) && SLUICE_HOST_HAS(host, value_set_item);
    if (count == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'spec' must name at least one field to cast (or a type)");
        goto out;
    }
    x->rules = calloc(count, sizeof *x->rules);
    x->buf = host->buf_new(256);
    if (x->rules == NULL || x->buf == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        err = cast_parse_item(x, host->config_item(config, "spec", i), count, errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
    }
    *state = x;
    x = NULL;
out:
    cast_free(x);
    return err;
}

/* Java's Double.toString / Float.toString: the shortest digits that read back as the same
 * number, plain between 10^-3 and 10^7, else "d.dddE-n". `buf` holds at least 40 bytes. */
static size_t cast_float_text(double v, int f32, char *buf)
{
    char e[40], digits[24];
    const char *q;
    char *o = buf;
    int nd = 0, exp, prec;
    double a = fabs(v);

    if (isnan(v) || isinf(v) || v == 0) {
        return (size_t)sprintf(buf, "%s",
                               isnan(v)     ? "NaN"
                               : isinf(v)   ? (v > 0 ? "Infinity" : "-Infinity")
                               : signbit(v) ? "-0.0"
                                            : "0.0");
    }
    /* A number that k <= DIG digits represent rounds to those digits padded with zeros at DIG
     * digits, so DIG digits with the zeros stripped are the shortest; only numbers that need
     * more try DIG+1 and DIG+2 (the most a double or float needs). */
    for (prec = f32 ? 6 : 15;; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (prec == (f32 ? 9 : 17) || (f32 ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)) {
            break;
        }
    }
    for (q = e; *q != '\0' && *q != 'e'; q++) {
        if (*q >= '0' && *q <= '9') {
            digits[nd++] = *q;
        }
    }
    exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    if (v < 0) {
        *o++ = '-';
    }
    if (a >= 1e-3 && a < 1e7) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++) {
                *o++ = i < nd ? digits[i] : '0';
            }
            *o++ = '.';
            if (exp + 1 >= nd) {
                *o++ = '0';
            }
            for (int i = exp + 1; i < nd; i++) {
                *o++ = digits[i];
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp - 1; i++) {
                *o++ = '0';
            }
            for (int i = 0; i < nd; i++) {
                *o++ = digits[i];
            }
        }
    } else {
        *o++ = digits[0];
        *o++ = '.';
        *o++ = nd > 1 ? digits[1] : '0';
        for (int i = 2; i < nd; i++) {
            *o++ = digits[i];
        }
        o += sprintf(o, "E%d", exp);
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* Java's Long.parseLong: an optional sign and decimal digits, nothing else. 0 ok, -1 not a
 * number, 1 out of the int64 range. */
static int cast_parse_long(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0, limit;

    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len) {
        return -1;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        if (v > (limit - (uint64_t)(s[i] - '0')) / 10) {
            for (; i < len; i++) { /* still say "not a number" for "99999999999999999999x" */
                if (s[i] < '0' || s[i] > '9') {
                    return -1;
                }
            }
            return 1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int cast_int_fits(int64_t v, sluice_type_t to)
{
    switch (to) {
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

static int cast_is_int(sluice_type_t t)
{
    return t >= SLUICE_TYPE_INT8 && t <= SLUICE_TYPE_INT64;
}

/* Context of one cast, for the values it makes and the messages it writes. */
struct cast_op {
    struct cast *x;
    sluice_record_t *rec;
    const char *field; /* NULL: the whole value or key */
    sluice_type_t to;
    char *errstr;
    size_t errstr_size;
    sluice_err_t err;
};

/* Writes "field 'a': " or "the value: " and the rest of the message. */
static sluice_value_t *cast_fail(struct cast_op *op, const char *fmt, ...) SLUICE_PRINTF(2, 3);
static sluice_value_t *cast_fail(struct cast_op *op, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    op->err = xf_field_verror(op->errstr, op->errstr_size, op->field, op->x->where, fmt, ap);
    va_end(ap);
    return NULL;
}

static sluice_value_t *cast_nomem(struct cast_op *op)
{
    op->err = xf_oom(op->errstr, op->errstr_size);
    return NULL;
}

static sluice_value_t *cast_text(struct cast_op *op, const char *s, size_t len)
{
    sluice_value_t *v = op->x->host->value_string(op->rec, s, len);

    return v != NULL ? v : cast_nomem(op);
}

/* An integer `i` (read as `from`) to the target type. */
static sluice_value_t *cast_from_int(struct cast_op *op, int64_t i, sluice_type_t from)
{
    const struct sluice_host *h = op->x->host;
    char text[32];
    sluice_value_t *v;

    if (cast_is_int(op->to)) {
        if (!cast_int_fits(i, op->to)) {
            return cast_fail(op, "the %s %" PRId64 " is out of range for %s", xf_type_name(from), i,
                             xf_type_name(op->to));
        }
        v = h->value_int(op->rec, op->to, i);
    } else if (op->to == SLUICE_TYPE_FLOAT32) {
        v = h->value_float(op->rec, op->to, (float)i);
    } else if (op->to == SLUICE_TYPE_FLOAT64) {
        v = h->value_float(op->rec, op->to, (double)i);
    } else if (op->to == SLUICE_TYPE_BOOLEAN) {
        v = h->value_bool(op->rec, i != 0);
    } else if (from == SLUICE_TYPE_BOOLEAN) {
        return cast_text(op, i ? "true" : "false", i ? 4 : 5);
    } else {
        return cast_text(op, text, (size_t)snprintf(text, sizeof text, "%" PRId64, i));
    }
    return v != NULL ? v : cast_nomem(op);
}

/* A floating-point `d` (read as `from`) to the target type; integers truncate toward zero. */
static sluice_value_t *cast_from_float(struct cast_op *op, double d, sluice_type_t from)
{
    const struct sluice_host *h = op->x->host;
    char text[48];
    double t = trunc(d);
    sluice_value_t *v;

    if (cast_is_int(op->to)) {
        if (isnan(d) || t < -9223372036854775808.0 || t >= 9223372036854775808.0 ||
            !cast_int_fits((int64_t)t, op->to)) {
            cast_float_text(d, from == SLUICE_TYPE_FLOAT32, text);
            return cast_fail(op, "the %s %s is out of range for %s", xf_type_name(from), text,
                             xf_type_name(op->to));
        }
        v = h->value_int(op->rec, op->to, (int64_t)t);
    } else if (op->to == SLUICE_TYPE_FLOAT32) {
        if (isfinite(d) && isinf((float)d)) {
            cast_float_text(d, 0, text);
            return cast_fail(op, "the %s %s is out of range for float32", xf_type_name(from), text);
        }
        v = h->value_float(op->rec, op->to, (float)d);
    } else if (op->to == SLUICE_TYPE_FLOAT64) {
        v = h->value_float(op->rec, op->to, d);
    } else if (op->to == SLUICE_TYPE_BOOLEAN) {
        v = h->value_bool(op->rec, t != 0); /* Java: longValue() != 0 */
    } else {
        return cast_text(op, text, cast_float_text(d, from == SLUICE_TYPE_FLOAT32, text));
    }
    return v != NULL ? v : cast_nomem(op);
}

/* A plain decimal "[+-]digits[.digits]" of at most 19 significant digits and 22 decimals: the
 * digits and the power of ten are exact doubles, so one division gives strtod's correctly rounded
 * result (Clinger's fast path) without strtod's cost. 0 when the text is not that simple. */
static int cast_simple_double(const char *b, const char *e, double *out)
{
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    uint64_t m = 0;
    int neg = 0, digits = 0, decimals = 0, point = 0;

    if (b < e && (*b == '-' || *b == '+')) {
        neg = *b++ == '-';
    }
    for (; b < e; b++) {
        if (*b >= '0' && *b <= '9') {
            if (++digits > 19) {
                return 0;
            }
            m = m * 10 + (uint64_t)(*b - '0');
            decimals += point;
        } else if (*b == '.' && !point && digits > 0) {
            point = 1;
        } else {
            return 0;
        }
    }
    if (digits == 0 || decimals > 22 || m > (UINT64_C(1) << 53)) {
        return 0;
    }
    *out = (double)m / pow10[decimals];
    if (neg) {
        *out = -*out;
    }
    return 1;
}

static sluice_value_t *cast_from_string(struct cast_op *op, const char *s, size_t len)
{
    const struct sluice_host *h = op->x->host;
    const char *more = len > CAST_QUOTE_MAX ? "..." : "";
    int q = len > CAST_QUOTE_MAX ? CAST_QUOTE_MAX : (int)len;
    sluice_value_t *v;

    if (cast_is_int(op->to)) {
        int64_t i = 0;
        int rc = cast_parse_long(s, len, &i);

        if (rc < 0) {
            return cast_fail(op, "cannot cast the string '%.*s%s' to %s", q, s, more,
                             xf_type_name(op->to));
        }
        if (rc > 0 || !cast_int_fits(i, op->to)) {
            return cast_fail(op, "the string '%.*s%s' is out of range for %s", q, s, more,
                             xf_type_name(op->to));
        }
        v = h->value_int(op->rec, op->to, i);
    } else if (op->to == SLUICE_TYPE_FLOAT32 || op->to == SLUICE_TYPE_FLOAT64) {
        /* Java's Float/Double.parseX: blanks around, an optional f/d suffix. */
        const char *b = s, *e = s + len, *z;
        char *end;
        double d;

        while (b < e && (unsigned char)*b <= ' ') {
            b++;
        }
        while (e > b && (unsigned char)e[-1] <= ' ') {
            e--;
        }
        if (e > b && strchr("fFdD", e[-1]) != NULL) {
            e--; /* "1.5f", "2d" */
        }
        if (op->to == SLUICE_TYPE_FLOAT64 && cast_simple_double(b, e, &d)) {
            v = h->value_float(op->rec, op->to, d);
            return v != NULL ? v : cast_nomem(op);
        }
        h->buf_reset(op->x->buf);
        if (h->buf_append(op->x->buf, b, (size_t)(e - b)) != SLUICE_OK) {
            return cast_nomem(op);
        }
        z = h->buf_data(op->x->buf);
        errno = 0;
        d = op->to == SLUICE_TYPE_FLOAT32 ? strtof(z, &end) : strtod(z, &end);
        if (end == z || *end != '\0') {
            return cast_fail(op, "cannot cast the string '%.*s%s' to %s", q, s, more,
                             xf_type_name(op->to));
        }
        if (errno == ERANGE && isinf(d)) {
            return cast_fail(op, "the string '%.*s%s' is out of range for %s", q, s, more,
                             xf_type_name(op->to));
        }
        v = h->value_float(op->rec, op->to, d);
    } else if (op->to == SLUICE_TYPE_BOOLEAN) {
        if (len == 4 && strncasecmp(s, "true", 4) == 0) {
            v = h->value_bool(op->rec, 1);
        } else if (len == 5 && strncasecmp(s, "false", 5) == 0) {
            v = h->value_bool(op->rec, 0);
        } else {
            return cast_fail(op, "cannot cast the string '%.*s%s' to boolean (true or false)", q, s,
                             more);
        }
    } else {
        return cast_text(op, s, len);
    }
    return v != NULL ? v : cast_nomem(op);
}

static sluice_value_t *cast_base64(struct cast_op *op, const unsigned char *p, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const struct sluice_host *h = op->x->host;
    sluice_buf_t *b = op->x->buf;

    h->buf_reset(b);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t n = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        char q[4] = {abc[n >> 18], abc[n >> 12 & 63], i + 1 < len ? abc[n >> 6 & 63] : '=',
                     i + 2 < len ? abc[n & 63] : '='};

        if (h->buf_append(b, q, 4) != SLUICE_OK) {
            return cast_nomem(op);
        }
    }
    return cast_text(op, h->buf_data(b), h->buf_len(b));
}

/* A Decimal (big-endian two's complement unscaled value, `scale` digits after the point), as
 * Java's BigDecimal would cast: toString, doubleValue, or truncated toward zero. */
static sluice_value_t *cast_from_decimal(struct cast_op *op, const unsigned char *p, size_t len,
                                         const char *scale_param)
{
    char text[64];
    long scale = scale_param != NULL ? strtol(scale_param, NULL, 10) : 0;
    uint64_t u = len > 0 && (p[0] & 0x80) ? UINT64_MAX : 0;
    int64_t unscaled;
    char digits[24];
    int nd, neg;
    char *o = text;

    if (len > 8 || scale < 0 || scale > 18) {
        return cast_fail(op,
                         "cannot cast a Decimal of %zu bytes with scale %ld (up to 8 bytes "
                         "and scale 0..18 are supported)",
                         len, scale);
    }
    for (size_t i = 0; i < len; i++) {
        u = u << 8 | p[i];
    }
    unscaled = (int64_t)u;
    neg = unscaled < 0;
    nd = snprintf(digits, sizeof digits, "%" PRIu64,
                  neg ? (uint64_t)0 - (uint64_t)unscaled : (uint64_t)unscaled);
    if (neg) {
        *o++ = '-';
    }
    if (nd <= scale) {
        *o++ = '0';
        *o++ = '.';
        for (long i = nd; i < scale; i++) {
            *o++ = '0';
        }
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else {
        memcpy(o, digits, (size_t)(nd - scale));
        o += nd - scale;
        if (scale > 0) {
            *o++ = '.';
            memcpy(o, digits + nd - scale, (size_t)scale);
            o += scale;
        }
    }
    *o = '\0';
    if (op->to == SLUICE_TYPE_STRING) {
        return cast_text(op, text, (size_t)(o - text));
    }
    if (cast_is_int(op->to) || op->to == SLUICE_TYPE_BOOLEAN) {
        int64_t div = 1;

        for (long i = 0; i < scale; i++) {
            div *= 10;
        }
        return cast_from_int(op, unscaled / div, SLUICE_TYPE_INT64);
    }
    return cast_from_float(op, strtod(text, NULL), SLUICE_TYPE_FLOAT64);
}

/* ISO 8601 text of Kafka Connect's Date, Time and Timestamp (Values.dateFormatFor). */
static sluice_value_t *cast_logical_text(struct cast_op *op, const char *logical, int64_t i)
{
    char text[48];
    struct sdf_tm tm;
    int n;

    if (strcmp(logical, SLUICE_LOGICAL_DATE) == 0) {
        sdf_breakdown(i * 86400000, &tm);
        n = snprintf(text, sizeof text, "%04" PRId64 "-%02d-%02d", tm.year, tm.month, tm.day);
    } else if (strcmp(logical, SLUICE_LOGICAL_TIME) == 0) {
        sdf_breakdown(i, &tm);
        n = snprintf(text, sizeof text, "%02d:%02d:%02d.%03dZ", tm.hour, tm.minute, tm.second,
                     tm.ms);
    } else {
        sdf_breakdown(i, &tm);
        n = snprintf(text, sizeof text, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.year,
                     tm.month, tm.day, tm.hour, tm.minute, tm.second, tm.ms);
    }
    return cast_text(op, text, (size_t)n);
}

/* `v` cast to op->to; `schema` is its schema when known (logical types), else NULL. A null
 * stays null. NULL with op->err and a message on failure. */
static sluice_value_t *cast_value(struct cast_op *op, sluice_value_t *v,
                                  const sluice_schema_t *schema)
{
    const struct sluice_host *h = op->x->host;
    sluice_type_t from = h->value_type(v);
    const char *logical = NULL;

    if (schema == NULL) {
        schema = h->value_schema(v);
    }
    if (schema != NULL) {
        logical = h->schema_name(schema);
    }
    switch (from) {
    case SLUICE_TYPE_NULL:
        return v;
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        if (op->to == SLUICE_TYPE_STRING && logical != NULL &&
            (strcmp(logical, SLUICE_LOGICAL_DATE) == 0 ||
             strcmp(logical, SLUICE_LOGICAL_TIME) == 0 ||
             strcmp(logical, SLUICE_LOGICAL_TIMESTAMP) == 0)) {
            return cast_logical_text(op, logical, h->value_as_int(v));
        }
        return cast_from_int(op, h->value_as_int(v), from);
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        return cast_from_float(op, h->value_as_float(v), from);
    case SLUICE_TYPE_BOOLEAN:
        return cast_from_int(op, h->value_as_bool(v) ? 1 : 0, from);
    case SLUICE_TYPE_STRING: {
        size_t len = 0;
        const char *s = h->value_as_string(v, &len);

        return cast_from_string(op, s, len);
    }
    case SLUICE_TYPE_BYTES: {
        size_t len = 0;
        const unsigned char *p = (const unsigned char *)h->value_as_string(v, &len);

        if (logical != NULL && strcmp(logical, SLUICE_LOGICAL_DECIMAL) == 0) {
            return cast_from_decimal(op, p, len, h->schema_param(schema, "scale"));
        }
        if (op->to != SLUICE_TYPE_STRING) {
            return cast_fail(op, "cannot cast bytes to %s (bytes cast only to string, as base64)",
                             xf_type_name(op->to));
        }
        return cast_base64(op, p, len);
    }
    default:
        return cast_fail(op,
                         "cannot cast a%s %s to %s (cast reads int8, int16, int32, int64, "
                         "float32, float64, boolean, string and bytes)",
                         from == SLUICE_TYPE_ARRAY ? "n" : "", xf_type_name(from),
                         xf_type_name(op->to));
    }
}

static int cast_is_logical(const char *name)
{
    return name != NULL &&
           (strcmp(name, SLUICE_LOGICAL_DATE) == 0 || strcmp(name, SLUICE_LOGICAL_TIME) == 0 ||
            strcmp(name, SLUICE_LOGICAL_TIMESTAMP) == 0 ||
            strcmp(name, SLUICE_LOGICAL_DECIMAL) == 0);
}

static const struct cast_rule *cast_rule_for(const struct cast *x, const char *name)
{
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->rules[i].field, name) == 0) {
            return &x->rules[i];
        }
    }
    return NULL;
}

/* The schema after the cast (cached): the target type keeping optionality (and the name, unless
 * it is a logical type's) for a whole value; the struct with its cast fields retyped otherwise. */
/* The schema of field `name` of a derived struct: cast to its rule's type, optionality kept. */
static const sluice_schema_t *cast_field_schema(void *arg, const char *name,
                                                const sluice_schema_t *fs)
{
    struct cast *x = arg;
    const struct cast_rule *r = cast_rule_for(x, name);
    sluice_schema_t *cs;

    if (r == NULL) {
        return fs;
    }
    cs = x->host->schema_new(x->ctx, r->type);
    if (cs != NULL) {
        x->host->schema_set_optional(cs, x->host->schema_optional(fs));
    }
    return cs;
}

static const sluice_schema_t *cast_schema_for(struct cast *x, const sluice_schema_t *in,
                                              char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result;
    const char *name;
    sluice_schema_t *out;

    if (x->whole == SLUICE_TYPE_NULL) {
        return xf_schema_derive(h, x->ctx, &x->cache, in, cast_field_schema, x, errstr,
                                errstr_size);
    }
    result = xf_cache_get(&x->cache, in, 0);
    if (result != NULL) {
        return result;
    }
    name = h->schema_name(in);
    out = h->schema_new(x->ctx, x->whole);
    if (out == NULL ||
        (name != NULL && !cast_is_logical(name) && h->schema_set_name(out, name) != SLUICE_OK)) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    h->schema_set_optional(out, h->schema_optional(in));
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    return out;
}

struct cast_fields {
    struct cast *x;
    sluice_record_t *rec;
    char *errstr;
    size_t errstr_size;
};

static sluice_value_t *cast_field_value(void *arg, const char *name, sluice_value_t *fv,
                                        const sluice_schema_t *fs_in, const sluice_schema_t *fs_out,
                                        sluice_err_t *err)
{
    struct cast_fields *cf = arg;
    const struct cast_rule *r = cast_rule_for(cf->x, name);
    struct cast_op op;

    if (r == NULL) {
        return fv;
    }
    op = (struct cast_op){cf->x, cf->rec, name, r->type, cf->errstr, cf->errstr_size, SLUICE_OK};
    fv = cast_value(&op, fv, fs_in);
    if (fv == NULL) {
        *err = op.err;
    } else if (cf->x->host->value_type(fv) != SLUICE_TYPE_NULL) {
        cf->x->host->value_set_schema(fv, fs_out);
    }
    return fv;
}

static sluice_err_t cast_struct(struct cast *x, sluice_record_t *record, sluice_value_t *value,
                                sluice_value_t **result, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *in = h->value_schema(value);
    const sluice_schema_t *schema;
    struct cast_fields cf = {x, record, errstr, errstr_size};

    if (in == NULL) {
        snprintf(errstr, errstr_size, "the %s is a struct without a schema",
                 xf_where_name(x->where));
        return SLUICE_ERR_INVALID;
    }
    schema = cast_schema_for(x, in, errstr, errstr_size);
    if (schema == NULL) {
        return SLUICE_ERR_NOMEM;
    }
    return xf_struct_rebuild(h, record, value, schema, cast_field_value, &cf,
                             xf_where_name(x->where), result, errstr, errstr_size);
}

static sluice_err_t cast_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                 char *errstr, size_t errstr_size)
{
    struct cast *x = state;
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
    if (x->whole != SLUICE_TYPE_NULL) {
        const sluice_schema_t *in = h->value_schema(value);
        const sluice_schema_t *schema = NULL;
        struct cast_op op = {x, record, NULL, x->whole, errstr, errstr_size, SLUICE_OK};

        if (in != NULL && (schema = cast_schema_for(x, in, errstr, errstr_size)) == NULL) {
            err = SLUICE_ERR_NOMEM;
            goto out;
        }
        target = cast_value(&op, value, in);
        if (target == NULL) {
            err = op.err;
            goto out;
        }
        if (schema != NULL) {
            h->value_set_schema(target, schema);
        }
    } else if (type == SLUICE_TYPE_STRUCT) {
        err = cast_struct(x, record, value, &target, errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
    } else if (type == SLUICE_TYPE_MAP) {
        /* Kafka Connect puts every field of the spec, a missing one as null. */
        for (size_t i = 0; i < x->n; i++) {
            struct cast_op op = {x,      record,      x->rules[i].field, x->rules[i].type,
                                 errstr, errstr_size, SLUICE_OK};
            long at = x->by_index ? h->value_index(value, x->rules[i].field) : -1;
            sluice_value_t *fv = at >= 0       ? h->value_item(value, (size_t)at, NULL, NULL)
                                 : x->by_index ? NULL
                                               : h->value_get(value, x->rules[i].field);

            fv = fv != NULL ? cast_value(&op, fv, NULL) : h->value_null(record);
            if (fv == NULL) {
                err = op.err != SLUICE_OK ? op.err : xf_oom(errstr, errstr_size);
                goto out;
            }
            if ((at >= 0 ? h->value_set_item(record, value, (size_t)at, fv)
                         : h->value_put(record, value, x->rules[i].field, fv)) != SLUICE_OK) {
                err = SLUICE_ERR_INVALID;
                snprintf(errstr, errstr_size, "field '%s': cannot set it in the %s map",
                         x->rules[i].field, xf_where_name(x->where));
                goto out;
            }
        }
    } else {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size,
                 "cast needs a struct or map %s to cast fields of, found %s (a single type in "
                 "'spec' casts the whole %s)",
                 xf_where_name(x->where), xf_type_name(type), xf_where_name(x->where));
        goto out;
    }
    /* Also for a map changed in place: it tells the core the encoded bytes are stale. */
    xf_set(h, record, x->where, target);
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void cast_destroy(void *state)
{
    /* The derived schemas belong to the ctx: the core frees them after this returns. */
    cast_free(state);
}

static const struct sluice_transform cast_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = cast_config,
    .init = cast_init,
    .process = cast_process,
    .destroy = cast_destroy,
};

static const struct sluice_alias cast_aliases[] = {
    {"org.apache.kafka.connect.transforms.Cast$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.Cast$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "cast",
    .version = "1.0.0",
    .summary = "Cast fields of each record's value or key, or the whole of it, to another type",
    .description =
        "Kafka Connect's `Cast$Value` and `Cast$Key` (`where: key`), with the same key `spec`: "
        "`field:type` items cast top-level fields of a struct or map; a single `type` casts the "
        "whole value (or key). Target types: int8, int16, int32, int64, float32, float64, boolean, "
        "string (any case). Sources: those and bytes.\n"
        "\n"
        "- Numbers and booleans cast as in Java (true is 1; a number is true when its integer "
        "part is not 0; floats to integers truncate toward zero); to string they read as Java "
        "writes them (`1.5`, `100.0`, `1.0E10`).\n"
        "- Strings parse as Java's `Long.parseLong` (sign and digits only) and "
        "`Double.parseDouble`; booleans from `true`/`false` in any case.\n"
        "- Bytes cast only to string, as base64; a `Decimal` (up to 8 bytes) casts like Java's "
        "`BigDecimal`. `Date`, `Time` and `Timestamp` cast to ISO 8601 text "
        "(`2024-05-01`, `13:45:00.000Z`, `2024-05-01T13:45:00.000Z`) or to their number.\n"
        "- Structs are rebuilt on a schema whose cast fields have the new type (optionality kept); "
        "a spec field the struct lacks is ignored. In a schemaless map a missing spec field is set "
        "to null, as Kafka Connect does. A tombstone (null) passes unchanged.\n"
        "\n"
        "Unlike Kafka Connect, which wraps or saturates, a value out of the target's range is an "
        "error (`field 'n': the int64 300 is out of range for int8`), and so is a string that is "
        "not a number or a boolean (`field 'price': cannot cast the string 'abc' to int32`), "
        "and an array, map or struct: such records are routed by `errors.tolerance`. Schema "
        "defaults (`replace.null.with.default`) are not carried over.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: cast\n"
        "    config: { spec: \"price:float64,qty:int32,active:boolean\" }\n"
        "  - plugin: org.apache.kafka.connect.transforms.Cast$Key\n"
        "    config: { spec: string }\n"
        "```",
    .transform = &cast_transform,
    .aliases = cast_aliases,
};
