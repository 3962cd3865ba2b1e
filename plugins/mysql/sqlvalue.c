/*
 * sqlvalue.c — values <-> MySQL columns (see sqlvalue.h).
 */
#include "sqlvalue.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"

static enum sqlv_logical sqlv_logical_of(const struct sluice_host *h, const sluice_schema_t *s)
{
    const char *n = s ? h->schema_name(s) : NULL;
    if (!n)
        return SQLV_PLAIN;
    if (strcmp(n, SLUICE_LOGICAL_TIMESTAMP) == 0)
        return SQLV_TIMESTAMP;
    if (strcmp(n, SLUICE_LOGICAL_DATE) == 0)
        return SQLV_DATE;
    if (strcmp(n, SLUICE_LOGICAL_TIME) == 0)
        return SQLV_TIME;
    if (strcmp(n, SLUICE_LOGICAL_DECIMAL) == 0)
        return SQLV_DECIMAL;
    return SQLV_PLAIN;
}

/* ---------------------------------------------------------------------------------------------- */
/* Decimals: by hand, because Connect's unscaled two's complement bytes have no library here. */

int sqlv_decimal_to_text(const unsigned char *b, size_t n, int scale, char *out, size_t size)
{
    unsigned char mag[64];
    char digits[160];
    size_t nd = 0;
    if (n > sizeof mag || scale < 0 || scale > 100)
        return -1;
    int neg = n > 0 && (b[0] & 0x80);
    /* magnitude = neg ? -x : x, in place */
    for (size_t i = 0; i < n; i++)
        mag[i] = neg ? (unsigned char)~b[i] : b[i];
    if (neg) {
        for (size_t i = n; i-- > 0;)
            if (++mag[i] != 0)
                break;
    }
    /* repeated division by 10 */
    size_t start = 0;
    while (start < n && mag[start] == 0)
        start++;
    while (start < n) {
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned cur = rem * 256 + mag[i];
            mag[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
        }
        if (nd >= sizeof digits)
            return -1;
        digits[nd++] = (char)('0' + rem);
        while (start < n && mag[start] == 0)
            start++;
    }
    while (nd <= (size_t)scale) /* at least one digit before the point */
        digits[nd++] = '0';
    size_t need = (size_t)neg + nd + (scale > 0);
    if (need + 1 > size)
        return -1;
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    for (size_t i = nd; i-- > 0;) {
        out[o++] = digits[i];
        if (scale > 0 && i == (size_t)scale)
            out[o++] = '.';
    }
    out[o] = '\0';
    return (int)o;
}

int sqlv_decimal_from_text(const char *s, size_t len, int scale, unsigned char *out, size_t size)
{
    unsigned char mag[64] = {0};
    size_t i = 0;
    int neg = 0, frac = -1, any = 0;
    if (size > sizeof mag)
        size = sizeof mag;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < len; i++) {
        unsigned digit;
        if (s[i] == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)s[i]))
            return -1;
        digit = (unsigned)(s[i] - '0');
        if (frac >= 0 && ++frac > scale) {
            if (digit != 0) /* MySQL pads to the column's scale: a nonzero extra digit is wrong */
                return -1;
            continue;
        }
        any = 1;
        for (size_t k = sizeof mag; k-- > 0;) {
            unsigned cur = mag[k] * 10u + digit;
            mag[k] = (unsigned char)cur;
            digit = cur >> 8;
        }
        if (digit)
            return -1;
    }
    if (!any)
        return -1;
    for (int pad = frac < 0 ? 0 : frac; pad < scale; pad++) {
        unsigned carry = 0;
        for (size_t k = sizeof mag; k-- > 0;) {
            unsigned cur = mag[k] * 10u + carry;
            mag[k] = (unsigned char)cur;
            carry = cur >> 8;
        }
        if (carry)
            return -1;
    }
    if (neg) { /* two's complement */
        for (size_t k = 0; k < sizeof mag; k++)
            mag[k] = (unsigned char)~mag[k];
        for (size_t k = sizeof mag; k-- > 0;)
            if (++mag[k] != 0)
                break;
    }
    /* minimal length: drop leading bytes that only repeat the sign */
    size_t first = 0;
    while (first + 1 < sizeof mag && ((mag[first] == 0x00 && !(mag[first + 1] & 0x80)) ||
                                      (mag[first] == 0xff && (mag[first + 1] & 0x80))))
        first++;
    size_t n = sizeof mag - first;
    if (n > size)
        return -1;
    memcpy(out, mag + first, n);
    return (int)n;
}

/* ---------------------------------------------------------------------------------------------- */
/* Times */

static int num(const char *s, size_t len, size_t *i, int maxdig, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (*i < len && isdigit((unsigned char)s[*i]) && n < maxdig) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    *out = v;
    return n ? 0 : -1;
}

static int64_t frac_us(const char *s, size_t len, size_t *i)
{
    int64_t us = 0;
    int n = 0;
    if (*i < len && s[*i] == '.') {
        (*i)++;
        while (*i < len && isdigit((unsigned char)s[*i])) {
            if (n < 6) {
                us = us * 10 + (s[*i] - '0');
                n++;
            }
            (*i)++;
        }
    }
    for (; n < 6; n++)
        us *= 10;
    return us;
}

int sqlv_parse_datetime(const char *s, size_t len, int64_t tz_offset_s, int64_t *us)
{
    size_t i = 0;
    int64_t y, mo, d, hh = 0, mi = 0, ss = 0, f = 0;
    if (num(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || num(s, len, &i, 2, &mo) ||
        i >= len || s[i++] != '-' || num(s, len, &i, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1; /* zero dates have no instant */
    if (i < len && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if (num(s, len, &i, 2, &hh) || i >= len || s[i++] != ':' || num(s, len, &i, 2, &mi) ||
            i >= len || s[i++] != ':' || num(s, len, &i, 2, &ss))
            return -1;
        f = frac_us(s, len, &i);
    }
    if (i != len)
        return -1;
    int64_t days = calendar_days_from_civil(y, (int)mo, (int)d);
    *us = ((days * 86400 + hh * 3600 + mi * 60 + ss) - tz_offset_s) * 1000000 + f;
    return 0;
}

int sqlv_parse_time(const char *s, size_t len, int64_t *us)
{
    size_t i = 0;
    int neg = 0;
    int64_t hh, mi, ss;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (num(s, len, &i, 4, &hh) || i >= len || s[i++] != ':' || num(s, len, &i, 2, &mi) ||
        i >= len || s[i++] != ':' || num(s, len, &i, 2, &ss))
        return -1;
    int64_t v = (hh * 3600 + mi * 60 + ss) * 1000000 + frac_us(s, len, &i);
    if (i != len)
        return -1;
    *us = neg ? -v : v;
    return 0;
}

void sqlv_format_datetime(int64_t us, int64_t tz_offset_s, char *out, size_t size)
{
    int64_t secs = calendar_floor_div(us, 1000000) + tz_offset_s;
    int64_t frac = us - calendar_floor_div(us, 1000000) * 1000000;
    int64_t days = calendar_floor_div(secs, 86400), sod = secs - days * 86400;
    int64_t y;
    int m, d;
    calendar_civil_from_days(days, &y, &m, &d);
    snprintf(out, size, "%04lld-%02d-%02d %02d:%02d:%02d.%06lld", (long long)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (long long)frac);
}

int sqlv_parse_tz(const char *s, int64_t *offset_s)
{
    if (!s || !*s)
        return -1;
    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || strcmp(s, "GMT") == 0 ||
        strcmp(s, "Etc/UTC") == 0 || strcmp(s, "+00:00") == 0) {
        *offset_s = 0;
        return 0;
    }
    if (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0)
        s += 3;
    if (*s != '+' && *s != '-')
        return -1;
    int sign = *s == '-' ? -1 : 1;
    s++;
    int h = 0, m = 0, n = 0;
    while (isdigit((unsigned char)*s) && n < 2) {
        h = h * 10 + (*s++ - '0');
        n++;
    }
    if (!n)
        return -1;
    if (*s == ':')
        s++;
    n = 0;
    while (isdigit((unsigned char)*s) && n < 2) {
        m = m * 10 + (*s++ - '0');
        n++;
    }
    if (*s || h > 14 || m > 59 || (n != 0 && n != 2))
        return -1;
    *offset_s = sign * (h * 3600 + m * 60);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Sink side: column types and binding */

const char *sqlv_column_type(const struct sluice_host *h, const sluice_schema_t *s,
                             const sluice_value_t *v, int key, char *buf, size_t size,
                             const char **why)
{
    sluice_type_t t = s ? h->schema_type(s) : h->value_type(v);
    switch (sqlv_logical_of(h, s)) {
    case SQLV_TIMESTAMP:
        return "DATETIME(3)";
    case SQLV_DATE:
        return "DATE";
    case SQLV_TIME:
        return "TIME(3)";
    case SQLV_DECIMAL: {
        const char *sc = h->schema_param(s, "scale");
        int scale = sc ? atoi(sc) : 0;
        if (scale < 0 || scale > 30) {
            *why = "a Decimal scale MySQL cannot hold (0..30)";
            return NULL;
        }
        snprintf(buf, size, "DECIMAL(65,%d)", scale);
        return buf;
    }
    case SQLV_PLAIN:
        break;
    }
    switch (t) {
    case SLUICE_TYPE_INT8:
        return "TINYINT";
    case SLUICE_TYPE_INT16:
        return "SMALLINT";
    case SLUICE_TYPE_INT32:
        return "INT";
    case SLUICE_TYPE_INT64:
        return "BIGINT";
    case SLUICE_TYPE_FLOAT32:
        return "FLOAT";
    case SLUICE_TYPE_FLOAT64:
        return "DOUBLE";
    case SLUICE_TYPE_BOOLEAN:
        return "TINYINT(1)";
    case SLUICE_TYPE_STRING:
        return key ? "VARCHAR(256)" : "TEXT";
    case SLUICE_TYPE_BYTES:
        return key ? "VARBINARY(1024)" : "BLOB";
    case SLUICE_TYPE_NULL:
        *why = "only nulls seen, so its type is unknown";
        return NULL;
    default:
        *why = "an array, map or struct has no column type";
        return NULL;
    }
}

void sqlv_bind_int(int64_t i, struct sqlv_slot *slot, MYSQL_BIND *b)
{
    memset(b, 0, sizeof *b);
    slot->i = i;
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = &slot->i;
}

void sqlv_bind_str(const char *s, size_t len, struct sqlv_slot *slot, MYSQL_BIND *b)
{
    memset(b, 0, sizeof *b);
    slot->len = (unsigned long)len;
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)s;
    b->buffer_length = slot->len;
    b->length = &slot->len;
}

static void set_time(MYSQL_TIME *t, int64_t us, int64_t off_s, enum enum_mysql_timestamp_type k)
{
    memset(t, 0, sizeof *t);
    int64_t secs = calendar_floor_div(us, 1000000) + off_s;
    int64_t days = calendar_floor_div(secs, 86400), sod = secs - days * 86400;
    int64_t y;
    int m, d;
    calendar_civil_from_days(days, &y, &m, &d);
    t->year = (unsigned)y;
    t->month = (unsigned)m;
    t->day = (unsigned)d;
    t->hour = (unsigned)(sod / 3600);
    t->minute = (unsigned)(sod / 60 % 60);
    t->second = (unsigned)(sod % 60);
    t->second_part = (unsigned long)(us - calendar_floor_div(us, 1000000) * 1000000);
    t->time_type = k;
}

int sqlv_bind(const struct sluice_host *h, const sluice_value_t *v, const sluice_schema_t *s,
              int64_t tz_offset_s, struct sqlv_slot *slot, MYSQL_BIND *b, const char **why)
{
    memset(b, 0, sizeof *b);
    if (!s)
        s = h->value_schema(v);
    sluice_type_t t = h->value_type(v);
    if (t == SLUICE_TYPE_NULL) {
        slot->is_null = 1;
        b->buffer_type = MYSQL_TYPE_NULL;
        b->is_null = &slot->is_null;
        return 0;
    }
    switch (sqlv_logical_of(h, s)) {
    case SQLV_TIMESTAMP:
        if (t >= SLUICE_TYPE_INT8 && t <= SLUICE_TYPE_INT64) {
            set_time(&slot->t, h->value_as_int(v) * 1000, tz_offset_s, MYSQL_TIMESTAMP_DATETIME);
            b->buffer_type = MYSQL_TYPE_DATETIME;
            b->buffer = &slot->t;
            return 0;
        }
        break;
    case SQLV_DATE:
        if (t >= SLUICE_TYPE_INT8 && t <= SLUICE_TYPE_INT64) {
            set_time(&slot->t, h->value_as_int(v) * 86400 * 1000000, 0, MYSQL_TIMESTAMP_DATE);
            b->buffer_type = MYSQL_TYPE_DATE;
            b->buffer = &slot->t;
            return 0;
        }
        break;
    case SQLV_TIME:
        if (t >= SLUICE_TYPE_INT8 && t <= SLUICE_TYPE_INT64) {
            int64_t ms = h->value_as_int(v);
            memset(&slot->t, 0, sizeof slot->t);
            slot->t.neg = ms < 0;
            if (ms < 0)
                ms = -ms;
            slot->t.hour = (unsigned)(ms / 3600000);
            slot->t.minute = (unsigned)(ms / 60000 % 60);
            slot->t.second = (unsigned)(ms / 1000 % 60);
            slot->t.second_part = (unsigned long)(ms % 1000) * 1000;
            slot->t.time_type = MYSQL_TIMESTAMP_TIME;
            b->buffer_type = MYSQL_TYPE_TIME;
            b->buffer = &slot->t;
            return 0;
        }
        break;
    case SQLV_DECIMAL:
        if (t == SLUICE_TYPE_BYTES) {
            size_t n;
            const char *p = h->value_as_string(v, &n);
            const char *sc = h->schema_param(s, "scale");
            int len = sqlv_decimal_to_text((const unsigned char *)p, n, sc ? atoi(sc) : 0,
                                           slot->text, sizeof slot->text);
            if (len < 0) {
                *why = "a Decimal too large for a MySQL DECIMAL";
                return -1;
            }
            slot->len = (unsigned long)len;
            b->buffer_type = MYSQL_TYPE_NEWDECIMAL;
            b->buffer = slot->text;
            b->buffer_length = slot->len;
            b->length = &slot->len;
            return 0;
        }
        break;
    case SQLV_PLAIN:
        break;
    }
    switch (t) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        sqlv_bind_int(h->value_as_int(v), slot, b);
        return 0;
    case SLUICE_TYPE_BOOLEAN:
        sqlv_bind_int(h->value_as_bool(v) ? 1 : 0, slot, b);
        return 0;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        slot->d = h->value_as_float(v);
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &slot->d;
        return 0;
    case SLUICE_TYPE_STRING:
    case SLUICE_TYPE_BYTES: {
        size_t n;
        const char *p = h->value_as_string(v, &n);
        sqlv_bind_str(p, n, slot, b);
        if (t == SLUICE_TYPE_BYTES)
            b->buffer_type = MYSQL_TYPE_BLOB;
        return 0;
    }
    default:
        *why = "an array, map or struct cannot be written to a column";
        return -1;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Query mode: result columns as values */

static int is_binary(const MYSQL_FIELD *f)
{
    return f->charsetnr == 63;
}

sluice_schema_t *sqlv_field_schema(const struct sluice_host *h, sluice_ctx_t *ctx,
                                   const MYSQL_FIELD *f)
{
    sluice_schema_t *s = NULL;
    int uns = (f->flags & UNSIGNED_FLAG) != 0;
    switch (f->type) {
    case MYSQL_TYPE_TINY:
        s = h->schema_new(ctx, uns ? SLUICE_TYPE_INT16 : SLUICE_TYPE_INT8);
        break;
    case MYSQL_TYPE_SHORT:
        s = h->schema_new(ctx, uns ? SLUICE_TYPE_INT32 : SLUICE_TYPE_INT16);
        break;
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_YEAR:
        s = h->schema_new(ctx, SLUICE_TYPE_INT32);
        break;
    case MYSQL_TYPE_LONG:
        s = h->schema_new(ctx, uns ? SLUICE_TYPE_INT64 : SLUICE_TYPE_INT32);
        break;
    case MYSQL_TYPE_LONGLONG:
        if (uns) {
            s = h->schema_new(ctx, SLUICE_TYPE_BYTES);
            if (s) {
                h->schema_set_name(s, SLUICE_LOGICAL_DECIMAL);
                h->schema_set_param(s, "scale", "0");
            }
        } else {
            s = h->schema_new(ctx, SLUICE_TYPE_INT64);
        }
        break;
    case MYSQL_TYPE_FLOAT:
        s = h->schema_new(ctx, SLUICE_TYPE_FLOAT32);
        break;
    case MYSQL_TYPE_DOUBLE:
        s = h->schema_new(ctx, SLUICE_TYPE_FLOAT64);
        break;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: {
        char sc[16];
        snprintf(sc, sizeof sc, "%u", f->decimals);
        s = h->schema_new(ctx, SLUICE_TYPE_BYTES);
        if (s) {
            h->schema_set_name(s, SLUICE_LOGICAL_DECIMAL);
            h->schema_set_param(s, "scale", sc);
        }
        break;
    }
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        s = h->schema_new(ctx, SLUICE_TYPE_INT32);
        if (s)
            h->schema_set_name(s, SLUICE_LOGICAL_DATE);
        break;
    case MYSQL_TYPE_TIME:
        s = h->schema_new(ctx, SLUICE_TYPE_INT32);
        if (s)
            h->schema_set_name(s, SLUICE_LOGICAL_TIME);
        break;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        s = h->schema_new(ctx, SLUICE_TYPE_INT64);
        if (s)
            h->schema_set_name(s, SLUICE_LOGICAL_TIMESTAMP);
        break;
    case MYSQL_TYPE_BIT:
        s = h->schema_new(ctx, f->length == 1 ? SLUICE_TYPE_BOOLEAN : SLUICE_TYPE_BYTES);
        break;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_GEOMETRY:
        s = h->schema_new(ctx, is_binary(f) && !(f->flags & (ENUM_FLAG | SET_FLAG))
                                   ? SLUICE_TYPE_BYTES
                                   : SLUICE_TYPE_STRING);
        break;
    default: /* JSON, ENUM, SET and anything newer: their text */
        s = h->schema_new(ctx, SLUICE_TYPE_STRING);
        break;
    }
    if (s)
        h->schema_set_optional(s, !(f->flags & NOT_NULL_FLAG));
    return s;
}

sluice_value_t *sqlv_cell_value(const struct sluice_host *h, sluice_record_t *rec,
                                const MYSQL_FIELD *f, const sluice_schema_t *fs, const char *s,
                                size_t len, int64_t tz_offset_s, const char **why)
{
    sluice_value_t *v = NULL;
    if (!s)
        return h->value_null(rec);
    sluice_type_t t = h->schema_type(fs);
    enum sqlv_logical lg = sqlv_logical_of(h, fs);
    char tmp[64];
    if (lg == SQLV_DECIMAL) {
        unsigned char b[40];
        const char *sc = h->schema_param(fs, "scale");
        int n = sqlv_decimal_from_text(s, len, sc ? atoi(sc) : 0, b, sizeof b);
        if (n < 0) {
            *why = "a DECIMAL that does not parse";
            return NULL;
        }
        v = h->value_bytes(rec, b, (size_t)n);
    } else if (lg == SQLV_TIMESTAMP || lg == SQLV_DATE) {
        int64_t us;
        int64_t off = f->type == MYSQL_TYPE_TIMESTAMP ? 0 : tz_offset_s;
        if (sqlv_parse_datetime(s, len, lg == SQLV_DATE ? 0 : off, &us) != 0) {
            *why = "a zero or invalid date";
            return NULL;
        }
        v = lg == SQLV_DATE
                ? h->value_int(rec, SLUICE_TYPE_INT32, calendar_floor_div(us, 86400LL * 1000000))
                : h->value_int(rec, SLUICE_TYPE_INT64, calendar_floor_div(us, 1000));
    } else if (lg == SQLV_TIME) {
        int64_t us;
        if (sqlv_parse_time(s, len, &us) != 0) {
            *why = "a TIME that does not parse";
            return NULL;
        }
        v = h->value_int(rec, SLUICE_TYPE_INT32, calendar_floor_div(us, 1000));
    } else {
        switch (t) {
        case SLUICE_TYPE_INT8:
        case SLUICE_TYPE_INT16:
        case SLUICE_TYPE_INT32:
        case SLUICE_TYPE_INT64: {
            if (len >= sizeof tmp) {
                *why = "an integer too long";
                return NULL;
            }
            memcpy(tmp, s, len);
            tmp[len] = '\0';
            char *end;
            long long x = strtoll(tmp, &end, 10);
            if (*end) {
                *why = "an integer that does not parse";
                return NULL;
            }
            v = h->value_int(rec, t, x);
            break;
        }
        case SLUICE_TYPE_FLOAT32:
        case SLUICE_TYPE_FLOAT64: {
            if (len >= sizeof tmp) {
                *why = "a number too long";
                return NULL;
            }
            memcpy(tmp, s, len);
            tmp[len] = '\0';
            v = h->value_float(rec, t, strtod(tmp, NULL));
            break;
        }
        case SLUICE_TYPE_BOOLEAN: /* BIT(1): one byte */
            v = h->value_bool(rec, len > 0 && s[len - 1] != 0 && s[len - 1] != '0');
            break;
        case SLUICE_TYPE_BYTES:
            v = h->value_bytes(rec, s, len);
            break;
        default:
            v = h->value_string(rec, s, len);
            break;
        }
    }
    if (v && (lg != SQLV_PLAIN))
        h->value_set_schema(v, fs);
    if (!v)
        *why = "out of memory";
    return v;
}
