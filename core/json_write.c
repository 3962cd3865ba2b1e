/* json_write.c — see json.h: the writer, which formats integers and most doubles without printf. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

/* ================================================================================================
 */
/* Writer */

static const char json_digits2[] = "00010203040506070809101112131415161718192021222324252627282930"
                                   "31323334353637383940414243444546474849505152535455565758596061"
                                   "62636465666768697071727374757677787980818283848586878889909192"
                                   "93949596979899";

/* Format an int64 into the end of tmp[24]; returns the start. */
static char *json_fmt_int(char *end, int64_t i)
{
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    char *q = end;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        q -= 2;
        memcpy(q, json_digits2 + r * 2, 2);
    }
    if (u >= 10) {
        q -= 2;
        memcpy(q, json_digits2 + u * 2, 2);
    } else {
        *--q = (char)('0' + u);
    }
    if (i < 0)
        *--q = '-';
    return q;
}

int jw_int(buf_t *b, int64_t i)
{
    char tmp[24];
    char *s = json_fmt_int(tmp + sizeof tmp, i);
    return jw_raw(b, s, (size_t)(tmp + sizeof tmp - s));
}

/* Shortest text that reads back as the same double (or float, for FLOAT32). */
/* Write m·10^-k (m >= 0) as plain decimal text with at least one digit after the point. */
static size_t json_fmt_fixed(char *out, int neg, uint64_t m, int k)
{
    char tmp[24];
    size_t n = 0;
    while (k > 0 && m % 10 == 0) { /* 0.1000 → 0.1 */
        m /= 10;
        k--;
    }
    char *s = json_fmt_int(tmp + sizeof tmp, (int64_t)m);
    size_t nd = (size_t)(tmp + sizeof tmp - s);
    if (neg)
        out[n++] = '-';
    if (k == 0) {
        memcpy(out + n, s, nd);
        n += nd;
        memcpy(out + n, ".0", 2);
        n += 2;
    } else if (nd <= (size_t)k) {
        out[n++] = '0';
        out[n++] = '.';
        for (size_t z = nd; z < (size_t)k; z++)
            out[n++] = '0';
        memcpy(out + n, s, nd);
        n += nd;
    } else {
        memcpy(out + n, s, nd - (size_t)k);
        n += nd - (size_t)k;
        out[n++] = '.';
        memcpy(out + n, s + nd - (size_t)k, (size_t)k);
        n += (size_t)k;
    }
    out[n] = '\0';
    return n;
}

/* Does m·10^-k read back as x? m < 2^53 and 10^k are exact doubles, so m / 10^k is one correctly
 * rounded division: exactly what a correctly rounding reader computes for that text. */
static int json_fixed_ok(double r, int k, double x, int f32)
{
    double q = r / json_pow10[k];
    return f32 ? (float)q == (float)x : q == x;
}

/* Shortest text that reads back as the same double (or float, for FLOAT32). */
static size_t json_fmt_double(char *out, size_t outsz, double x, int f32)
{
    size_t n = 0;
    int fast = 0;
    double ax = fabs(x);
    if (ax < 1e15 && ax >= 1e-5) {
        /* Few decimals first (sensor readings, prices), then, for doubles, the most digits that
         * still fit 2^53 (trailing zeros trimmed): that covers every value of up to 15 digits. */
        /* klast = min(kmax, 4 or 9), where kmax is the most decimals whose scaled value stays
         * below 2^53; the full kmax is only needed when the few decimals do not do. */
        int kcap = f32 ? 9 : 4, klast = 0;
        while (klast < kcap && ax * json_pow10[klast + 1] < 9007199254740992.0)
            klast++;
        int kmax = klast;
        if (!f32 && klast == kcap)
            while (kmax < 22 && ax * json_pow10[kmax + 1] < 9007199254740992.0)
                kmax++;
        for (int k = 0; k <= klast; k++) {
            double r = nearbyint(ax * json_pow10[k]);
            if (json_fixed_ok(r, k, ax, f32)) {
                n = json_fmt_fixed(out, signbit(x) != 0, (uint64_t)r, k);
                goto found;
            }
        }
        if (!f32 && kmax > klast) {
            double r = nearbyint(ax * json_pow10[kmax]);
            if (json_fixed_ok(r, kmax, ax, 0)) {
                n = json_fmt_fixed(out, signbit(x) != 0, (uint64_t)r, kmax);
                goto found;
            }
        }
        fast = 1;
        goto slow;
    found:
        /* float: the double-rounding check above is nearly always right; make sure. */
        if (!f32 || strtof(out, NULL) == (float)x)
            return n;
        fast = 0;
    }
slow:
    if (x == 0) {
        const char *z = signbit(x) ? "-0.0" : "0.0";
        n = strlen(z);
        memcpy(out, z, n + 1);
        return n;
    }
    /* After the fast path only values that need 16 or 17 digits are left (9 for a float). */
    for (int prec = f32 ? 6 : (fast ? 16 : 15); prec <= (f32 ? 9 : 17); prec++) {
        int w = snprintf(out, outsz, "%.*g", prec, x);
        if (w < 0 || (size_t)w >= outsz)
            return 0;
        n = (size_t)w;
        if (prec == (f32 ? 9 : 17) ||
            (f32 ? strtof(out, NULL) == (float)x : strtod(out, NULL) == x))
            break;
    }
    if (!strpbrk(out, ".eEn") && n + 2 < outsz) { /* keep it a float when read back */
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

static int jw_double(buf_t *b, double x, int f32)
{
    char tmp[48];
    if (!isfinite(x))
        return jw_lit(b, "null");
    size_t n = json_fmt_double(tmp, sizeof tmp, x, f32);
    return jw_raw(b, tmp, n);
}

/* Bytes that need an escape in a JSON string: controls, '"' and '\\'; 1 = non-ASCII. */
static const unsigned char jw_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

int json_write_string(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *e = p + len;
    if ((out->cap - out->len <= len + 2 || !out->cap) && buf_reserve(out, len + 2) != 0)
        return -1;
    /* Fast path: copy a word at a time up to the first byte that needs care (the room reserved
     * for the whole string covers every full word stored). */
    char *d = out->data + out->len;
    *d++ = '"';
    uint64_t m = 0;
    while (e - p >= 8 && !(m = json_swar_mask(p))) {
        memcpy(d, p, 8);
        d += 8;
        p += 8;
    }
    if (m) {
        unsigned k = json_swar_first(m);
        memcpy(d, p, 8);
        d += k;
        p += k;
    } else {
        while (p < e && jw_class[*p] == 0)
            *d++ = (char)*p++;
    }
    out->len = (size_t)(d - out->data);
    while (p < e) {
        const unsigned char *run = p;
        while (e - p >= 8 && !json_swar_special(p))
            p += 8;
        while (p < e && jw_class[*p] == 0)
            p++;
        if (p > run && jw_raw(out, run, (size_t)(p - run)) != 0)
            return -1;
        if (p >= e)
            break;
        if (jw_class[*p] == 1) {
            /* Valid UTF-8 is copied; an invalid byte becomes U+FFFD so the output stays JSON. */
            size_t n = json_utf8_len(p, e);
            if (n) {
                if (jw_raw(out, p, n) != 0)
                    return -1;
                p += n;
            } else {
                if (jw_lit(out, "\\ufffd") != 0)
                    return -1;
                p++;
            }
            continue;
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            n = 6;
        }
        if (jw_raw(out, esc, n) != 0)
            return -1;
        p++;
    }
    if (jw_c(out, '"') != 0)
        return -1;
    jw_terminate(out);
    return 0;
}

/* An object member's key with its quotes and colon (and the comma before it unless first):
 * short plain keys, nearly all of them, are copied at once after a single room check. */
static int jw_key(buf_t *b, const char *k, size_t kl, int comma)
{
    if (kl <= 64) {
        const unsigned char *p = (const unsigned char *)k;
        size_t i = 0;
        for (; i + 8 <= kl; i += 8)
            if (json_swar_special(p + i))
                goto slow;
        for (; i < kl; i++)
            if (jw_class[p[i]] != 0)
                goto slow;
        if ((b->cap - b->len <= kl + 4 || !b->cap) && buf_reserve(b, kl + 4) != 0)
            return -1;
        char *d = b->data + b->len;
        if (comma)
            *d++ = ',';
        *d++ = '"';
        memcpy(d, k, kl);
        d += kl;
        *d++ = '"';
        *d++ = ':';
        b->len = (size_t)(d - b->data);
        return 0;
    }
slow:
    if (comma && jw_c(b, ',') != 0)
        return -1;
    if (json_write_string(b, k, kl) != 0)
        return -1;
    return jw_c(b, ':');
}

static int jw_map_is_object(const sluice_value_t *v, const sluice_schema_t *s)
{
    if (s && s->type == SLUICE_TYPE_MAP && s->keys)
        return s->keys->type == SLUICE_TYPE_STRING;
    for (size_t i = 0; i < v->u.m.len; i++) {
        const sluice_value_t *k = v->u.m.items[i].key;
        if (k ? k->type != SLUICE_TYPE_STRING : !v->u.m.items[i].name)
            return 0;
    }
    return 1;
}

static sluice_err_t jw_value(buf_t *b, const sluice_value_t *v, const sluice_schema_t *s,
                             enum json_decimal_format fmt, int depth)
{
    int rc = 0;
    if (!v)
        return jw_lit(b, "null") ? SLUICE_ERR_NOMEM : SLUICE_OK;
    if (v->schema)
        s = v->schema;
    if (depth > JSON_MAX_DEPTH)
        return SLUICE_ERR_INVALID;
    switch (v->type) {
    case SLUICE_TYPE_NULL:
        rc = jw_lit(b, "null");
        break;
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        rc = jw_int(b, v->u.i);
        break;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        rc = jw_double(b, v->u.f, v->type == SLUICE_TYPE_FLOAT32);
        break;
    case SLUICE_TYPE_BOOLEAN:
        rc = v->u.b ? jw_lit(b, "true") : jw_lit(b, "false");
        break;
    case SLUICE_TYPE_STRING:
        rc = json_write_string(b, v->u.s.ptr, v->u.s.len);
        break;
    case SLUICE_TYPE_BYTES:
        if (fmt == JSON_DECIMAL_NUMERIC && schema_is_logical(s, SLUICE_LOGICAL_DECIMAL)) {
            int scale = json_decimal_scale(s);
            /* beyond the limits the conversion is quadratic (or the zeros of the scale many) */
            if (v->u.s.len > JSON_DECIMAL_MAX_BYTES || scale > JSON_DECIMAL_MAX_SCALE ||
                scale < -JSON_DECIMAL_MAX_SCALE)
                return SLUICE_ERR_INVALID;
            rc = json_decimal_write(b, (const unsigned char *)v->u.s.ptr, v->u.s.len, scale);
            break;
        }
        rc = jw_c(b, '"');
        rc |= base64_encode(b, v->u.s.ptr, v->u.s.len);
        rc |= jw_c(b, '"');
        break;
    case SLUICE_TYPE_ARRAY: {
        const sluice_schema_t *is = s && s->type == SLUICE_TYPE_ARRAY ? s->items : NULL;
        rc = jw_c(b, '[');
        for (size_t i = 0; i < v->u.a.len && !rc; i++) {
            if (i)
                rc = jw_c(b, ',');
            sluice_err_t e = jw_value(b, v->u.a.items[i], is, fmt, depth + 1);
            if (e != SLUICE_OK)
                return e;
        }
        rc |= jw_c(b, ']');
        break;
    }
    case SLUICE_TYPE_STRUCT: {
        rc = jw_c(b, '{');
        for (size_t i = 0; i < v->u.m.len && !rc; i++) {
            const sluice_schema_t *fs =
                s && s->type == SLUICE_TYPE_STRUCT && i < s->nfields ? s->fields[i].schema : NULL;
            const char *name = v->u.m.items[i].name ? v->u.m.items[i].name : "";
            if (i)
                rc |= jw_c(b, ',');
            rc |= json_write_string(b, name, strlen(name));
            rc |= jw_c(b, ':');
            sluice_err_t e = jw_value(b, v->u.m.items[i].value, fs, fmt, depth + 1);
            if (e != SLUICE_OK)
                return e;
        }
        rc |= jw_c(b, '}');
        break;
    }
    case SLUICE_TYPE_MAP: {
        const sluice_schema_t *ks = s && s->type == SLUICE_TYPE_MAP ? s->keys : NULL;
        const sluice_schema_t *vs = s && s->type == SLUICE_TYPE_MAP ? s->values : NULL;
        int object = jw_map_is_object(v, s);
        rc = jw_c(b, object ? '{' : '[');
        for (size_t i = 0; i < v->u.m.len && !rc; i++) {
            const struct value_kv *kv = &v->u.m.items[i];
            sluice_err_t e;
            if (object) {
                if (kv->key && kv->key->type == SLUICE_TYPE_STRING)
                    rc |= jw_key(b, kv->key->u.s.ptr, kv->key->u.s.len, i != 0);
                else
                    rc |= jw_key(b, kv->name, strlen(kv->name), i != 0);
                if (rc)
                    break;
                /* Strings and integers (written the same whatever their schema) inline. */
                const sluice_value_t *fv = kv->value;
                if (fv && depth < JSON_MAX_DEPTH) {
                    if (fv->type == SLUICE_TYPE_STRING) {
                        rc |= json_write_string(b, fv->u.s.ptr, fv->u.s.len);
                        continue;
                    }
                    if (fv->type >= SLUICE_TYPE_INT8 && fv->type <= SLUICE_TYPE_INT64) {
                        rc |= jw_int(b, fv->u.i);
                        continue;
                    }
                }
            } else {
                if (i)
                    rc |= jw_c(b, ',');
                rc |= jw_c(b, '[');
                if ((e = jw_value(b, kv->key, ks, fmt, depth + 1)) != SLUICE_OK)
                    return e;
                rc |= jw_c(b, ',');
            }
            if ((e = jw_value(b, kv->value, vs, fmt, depth + 1)) != SLUICE_OK)
                return e;
            if (!object)
                rc |= jw_c(b, ']');
        }
        rc |= jw_c(b, object ? '}' : ']');
        break;
    }
    }
    return rc ? SLUICE_ERR_NOMEM : SLUICE_OK;
}

sluice_err_t json_write(buf_t *out, const sluice_value_t *v,
                        enum json_decimal_format decimal_format)
{
    size_t mark = out->len;
    sluice_err_t rc = jw_value(out, v, NULL, decimal_format, 0);
    if (rc != SLUICE_OK) /* leave no half-written value behind */
        out->len = mark;
    jw_terminate(out);
    return rc;
}
