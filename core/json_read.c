/* json_read.c — see json.h: the schemaless reader (json_parse, json_skip) and the lexing steps
 * the schema-guided reader shares. Values are built straight into an arena (no malloc per node)
 * and integers are kept exact. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

/* ================================================================================================
 */
/* Reader */

SLUICE_PRINTF(3, 4)
sluice_err_t jp_fail(jp_t *p, const char *at, const char *fmt, ...)
{
    if (p->err && p->errsz) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->err, p->errsz, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < p->errsz)
            snprintf(p->err + n, p->errsz - (size_t)n, " at byte %zu",
                     p->base + (size_t)(at - p->start));
    }
    return SLUICE_ERR_INVALID;
}

sluice_err_t jp_nomem(jp_t *p)
{
    if (p->err && p->errsz)
        snprintf(p->err, p->errsz, "out of memory while parsing JSON");
    return SLUICE_ERR_NOMEM;
}

/* Put "field "name": " in front of the message, so nested errors show their path. */
void jp_prefix_field(jp_t *p, const char *name)
{
    if (!p->err || !p->errsz || !name)
        return;
    size_t nl = strlen(name), ml = strlen(p->err);
    size_t pre = nl + 10; /* field "" : and space */
    if (pre + ml + 1 > p->errsz)
        return;
    memmove(p->err + pre, p->err, ml + 1);
    memcpy(p->err, "field \"", 7);
    memcpy(p->err + 7, name, nl);
    memcpy(p->err + 7 + nl, "\": ", 3);
}

const char *jp_found(jp_t *p)
{
    if (p->p >= p->end)
        return "the end of input";
    switch (*p->p) {
    case '{':
        return "an object";
    case '[':
        return "an array";
    case '"':
        return "a string";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    default:
        if (*p->p == '-' || (*p->p >= '0' && *p->p <= '9'))
            return "a number";
        return "an invalid character";
    }
}

sluice_err_t jp_unexpected(jp_t *p)
{
    if (p->p >= p->end)
        return jp_fail(p, p->p, "invalid JSON: unexpected end of input");
    unsigned char c = (unsigned char)*p->p;
    if (c >= 0x20 && c < 0x7f)
        return jp_fail(p, p->p, "invalid JSON: unexpected character '%c'", c);
    return jp_fail(p, p->p, "invalid JSON: unexpected byte 0x%02x", c);
}

sluice_err_t jp_expect(jp_t *p, char c)
{
    if (p->p < p->end && *p->p == c) {
        p->p++;
        return SLUICE_OK;
    }
    if (p->p >= p->end)
        return jp_fail(p, p->p, "invalid JSON: unexpected end of input (expected '%c')", c);
    return jp_fail(p, p->p, "invalid JSON: expected '%c' but found %s", c, jp_found(p));
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
size_t json_utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n)
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Byte classes inside a string: 0 plain, 1 quote, 2 backslash, 3 control, 4 non-ASCII. */
static const unsigned char jp_str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

static int jp_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t json_utf8_put(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the escapes of a raw string body [s, e) into d (which may be NULL to only validate);
 * the body was already checked for quotes, control bytes and UTF-8. */
sluice_err_t jp_unescape(jp_t *p, const char *s, const char *e, char *d, size_t *out_len)
{
    size_t n = 0;
    char tmp[4];
    while (s < e) {
        if (*s != '\\') {
            const char *q = memchr(s, '\\', (size_t)(e - s));
            size_t run = (size_t)((q ? q : e) - s);
            if (d)
                memcpy(d + n, s, run);
            n += run;
            s += run;
            continue;
        }
        const char *at = s;
        char c = s[1]; /* safe: a body never ends with a lone backslash */
        s += 2;
        char r;
        switch (c) {
        case '"':
            r = '"';
            break;
        case '\\':
            r = '\\';
            break;
        case '/':
            r = '/';
            break;
        case 'b':
            r = '\b';
            break;
        case 'f':
            r = '\f';
            break;
        case 'n':
            r = '\n';
            break;
        case 'r':
            r = '\r';
            break;
        case 't':
            r = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (e - s < 4 || jp_hex4(s, &cp) != 0)
                return jp_fail(p, at, "invalid JSON: invalid \\u escape (expected 4 hex digits)");
            s += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return jp_fail(p, at,
                               "invalid JSON: invalid UTF-16 surrogate pair (lone low surrogate "
                               "\\u%04X)",
                               cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || jp_hex4(s + 2, &lo) != 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return jp_fail(p, at,
                                   "invalid JSON: invalid UTF-16 surrogate pair (high surrogate "
                                   "\\u%04X not followed by a low surrogate)",
                                   cp);
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            size_t k = json_utf8_put(tmp, cp);
            if (d)
                memcpy(d + n, tmp, k);
            n += k;
            continue;
        }
        default:
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                return jp_fail(p, at, "invalid JSON: invalid escape '\\%c' in string", c);
            return jp_fail(p, at, "invalid JSON: invalid escape in string");
        }
        if (d)
            d[n] = r;
        n++;
    }
    *out_len = n;
    return SLUICE_OK;
}

/* Scan the string token at p->p (a '"'). Gives the raw body and whether it holds escapes. */
sluice_err_t jp_string_raw(jp_t *p, const char **body, const char **body_end, int *escaped)
{
    const unsigned char *s = (const unsigned char *)p->p + 1;
    const unsigned char *e = (const unsigned char *)p->end;
    int esc = 0;
    for (;;) {
        uint64_t m = 0;
        while (e - s >= 8 && !(m = json_swar_mask(s)))
            s += 8;
        if (m)
            s += json_swar_first(m);
        else
            while (s < e && jp_str_class[*s] == 0)
                s++;
        if (s >= e)
            return jp_fail(p, p->p, "invalid JSON: unterminated string");
        switch (jp_str_class[*s]) {
        case 1:
            *body = p->p + 1;
            *body_end = (const char *)s;
            *escaped = esc;
            p->p = (const char *)s + 1;
            return SLUICE_OK;
        case 2:
            esc = 1;
            if (s + 1 >= e)
                return jp_fail(p, p->p, "invalid JSON: unterminated string");
            s += 2; /* the escaped byte is checked by jp_unescape; a '"' here does not end */
            break;
        case 3:
            return jp_fail(p, (const char *)s,
                           "invalid JSON: unescaped control character 0x%02x in string", *s);
        default: {
            size_t n = json_utf8_len(s, e);
            if (!n)
                return jp_fail(p, (const char *)s, "invalid JSON: invalid UTF-8 in string");
            s += n;
            break;
        }
        }
    }
}

/* Parse a string token into NUL-terminated arena text (out NULL: validate only). */
sluice_err_t jp_string(jp_t *p, const char **out, size_t *out_len)
{
    const char *b, *e;
    int esc;
    sluice_err_t rc = jp_string_raw(p, &b, &e, &esc);
    if (rc != SLUICE_OK)
        return rc;
    size_t n = (size_t)(e - b);
    if (!esc) {
        if (out) {
            char *d = arena_strndup(p->a, b, n);
            if (!d)
                return jp_nomem(p);
            *out = d;
            *out_len = n;
        }
        return SLUICE_OK;
    }
    char *d = NULL;
    if (out) {
        d = arena_alloc(p->a, n + 1); /* escapes only shrink */
        if (!d)
            return jp_nomem(p);
    }
    rc = jp_unescape(p, b, e, d, &n);
    if (rc != SLUICE_OK)
        return rc;
    if (out) {
        d[n] = '\0';
        *out = d;
        *out_len = n;
    }
    return SLUICE_OK;
}

/* Parse a string token into a STRING value whose NUL-terminated text shares its allocation. */
sluice_err_t jp_string_value(jp_t *p, sluice_value_t **out)
{
    const char *b, *e;
    int esc;
    sluice_err_t rc = jp_string_raw(p, &b, &e, &esc);
    if (rc != SLUICE_OK)
        return rc;
    size_t n = (size_t)(e - b);
    if (!esc) {
        *out = value_string(p->a, b, n);
        return *out ? SLUICE_OK : jp_nomem(p);
    }
    char *d = arena_alloc(p->a, n + 1); /* escapes only shrink */
    if (!d)
        return jp_nomem(p);
    if ((rc = jp_unescape(p, b, e, d, &n)) != SLUICE_OK)
        return rc;
    d[n] = '\0';
    *out = value_string_cstr(p->a, d, n);
    return *out ? SLUICE_OK : jp_nomem(p);
}

/* Scan a number token (JSON grammar) at p->p. */
sluice_err_t jp_number_scan(jp_t *p, const char **s, size_t *len, int *is_int)
{
    const char *q = p->p, *e = p->end, *st = p->p;
    int integer = 1;
    if (q < e && *q == '-')
        q++;
    if (q >= e || *q < '0' || *q > '9')
        return jp_fail(p, st, "invalid JSON: invalid number");
    if (*q == '0') {
        q++;
    } else {
        while (q < e && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < e && *q == '.') {
        integer = 0;
        q++;
        if (q >= e || *q < '0' || *q > '9')
            return jp_fail(p, st, "invalid JSON: invalid number (no digit after '.')");
        while (q < e && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        integer = 0;
        q++;
        if (q < e && (*q == '+' || *q == '-'))
            q++;
        if (q >= e || *q < '0' || *q > '9')
            return jp_fail(p, st, "invalid JSON: invalid number (no digit in exponent)");
        while (q < e && *q >= '0' && *q <= '9')
            q++;
    }
    *s = st;
    *len = (size_t)(q - st);
    *is_int = integer;
    p->p = q;
    return SLUICE_OK;
}

/* An integer token as int64; 0 when it does not fit. */
int json_number_int(const char *s, size_t len, int64_t *out)
{
    const char *e = s + len;
    int neg = 0;
    uint64_t v = 0;
    if (s < e && *s == '-') {
        neg = 1;
        s++;
    }
    for (; s < e; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)v;
    }
    return 1;
}

const double json_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number token (valid JSON grammar) as a double, correctly rounded. */
double json_number_double(const char *s, size_t len)
{
    const char *q = s, *e = s + len;
    int neg = 0, sig = 0, exp10 = 0, slow = 0;
    uint64_t m = 0;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; q < e && *q >= '0' && *q <= '9'; q++) {
        if (m || *q != '0') {
            if (++sig > 19) {
                slow = 1;
                break;
            }
        }
        m = m * 10 + (uint64_t)(*q - '0');
    }
    if (!slow && q < e && *q == '.') {
        for (q++; q < e && *q >= '0' && *q <= '9'; q++) {
            if (m || *q != '0') {
                if (++sig > 19) {
                    slow = 1;
                    break;
                }
            }
            m = m * 10 + (uint64_t)(*q - '0');
            exp10--;
        }
    }
    if (!slow && q < e && (*q == 'e' || *q == 'E')) {
        int eneg = 0, ev = 0;
        q++;
        if (*q == '+' || *q == '-')
            eneg = *q++ == '-';
        for (; q < e; q++) {
            if (ev > 10000) {
                slow = 1;
                break;
            }
            ev = ev * 10 + (*q - '0');
        }
        exp10 += eneg ? -ev : ev;
    }
    /* Clinger's fast path: both the mantissa and the power of ten are exact doubles, so one
     * correctly rounded operation gives the correctly rounded result. */
    if (!slow && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / json_pow10[-exp10] : d * json_pow10[exp10];
        return neg ? -d : d;
    }
    char small[64];
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf)
        return NAN;
    memcpy(buf, s, len);
    buf[len] = '\0';
    double d = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return d;
}

sluice_err_t jp_literal(jp_t *p, const char *lit, size_t n)
{
    if ((size_t)(p->end - p->p) < n || memcmp(p->p, lit, n) != 0)
        return jp_unexpected(p);
    p->p += n;
    return SLUICE_OK;
}

static sluice_err_t jp_enter(jp_t *p)
{
    if (++p->depth > JSON_MAX_DEPTH)
        return jp_fail(p, p->p, "invalid JSON: nesting deeper than %d levels", JSON_MAX_DEPTH);
    return SLUICE_OK;
}

/* At the start of an object member: the key's opening quote must be there. */
sluice_err_t jp_key_start(jp_t *p)
{
    if (p->p < p->end && *p->p == '"')
        return SLUICE_OK;
    if (p->p >= p->end)
        return jp_unexpected(p);
    return jp_fail(p, p->p, "invalid JSON: expected a string key but found %s", jp_found(p));
}

/* Between a key and its value: optional whitespace, ':', optional whitespace. */
sluice_err_t jp_colon(jp_t *p)
{
    jp_ws(p);
    sluice_err_t rc = jp_expect(p, ':');
    if (rc == SLUICE_OK)
        jp_ws(p);
    return rc;
}

/* Enter an object or array at its opening bracket: counts the depth, steps over the bracket and
 * any whitespace, and over `close` at once when the container is empty (*empty = 1). */
sluice_err_t jp_open(jp_t *p, char close, int *empty)
{
    sluice_err_t rc = jp_enter(p);
    if (rc != SLUICE_OK)
        return rc;
    p->p++;
    jp_ws(p);
    *empty = p->p < p->end && *p->p == close;
    if (*empty)
        p->p++;
    return SLUICE_OK;
}

/* After an item of an object or array: a ',' means another item follows (*more = 1), `close` ends
 * the container (*more = 0); anything else is an error. */
sluice_err_t jp_after_item(jp_t *p, char close, int *more)
{
    jp_ws(p);
    if (p->p < p->end && (*p->p == ',' || *p->p == close)) {
        *more = *p->p == ',';
        p->p++;
        if (*more)
            jp_ws(p);
        return SLUICE_OK;
    }
    if (p->p >= p->end)
        return jp_unexpected(p);
    return jp_fail(p, p->p, "invalid JSON: expected ',' or '%c' but found %s", close, jp_found(p));
}

/* Order of map keys for json_map_dedup: equal (0) exactly when value_equal says so. */
static int json_key_order(const sluice_value_t *a, const sluice_value_t *b)
{
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    switch (a->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        if (isnan(a->u.f) || isnan(b->u.f))
            return isnan(a->u.f) - isnan(b->u.f) ? (isnan(a->u.f) ? 1 : -1) : 0;
        return (a->u.f > b->u.f) - (a->u.f < b->u.f); /* -0.0 == 0.0, as value_equal has it */
    case SLUICE_TYPE_BOOLEAN:
        return !a->u.b - !b->u.b;
    case SLUICE_TYPE_STRING:
    case SLUICE_TYPE_BYTES:
        if (a->u.s.len != b->u.s.len)
            return a->u.s.len < b->u.s.len ? -1 : 1;
        return a->u.s.len ? memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) : 0;
    default:
        return 0; /* NULL; structs, arrays and maps are not sorted (json_map_add) */
    }
}

static int json_entry_cmp(const void *x, const void *y, void *ctx)
{
    const struct value_kv *it = ctx;
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = json_key_order(it[i].key, it[j].key);
    if (c)
        return c;
    return i < j ? -1 : i > j; /* a total order: the first of equal keys sorts first */
}

sluice_err_t json_map_add(arena_t *a, sluice_value_t *m, sluice_value_t *k, sluice_value_t *v,
                          int *dedup)
{
    /* keys of these types have no order here: searched for, as always */
    if (m->u.m.len < JSON_OBJECT_SEARCHED || !k || k->type == SLUICE_TYPE_STRUCT ||
        k->type == SLUICE_TYPE_ARRAY || k->type == SLUICE_TYPE_MAP)
        return value_map_put(a, m, k, v);
    *dedup = 1;
    if (k->type == SLUICE_TYPE_STRING) {
        if (!k->nul) { /* `name` must be a C string (as value_map_put does) */
            sluice_value_t *own = value_string(a, k->u.s.ptr, k->u.s.len);
            if (!own)
                return SLUICE_ERR_NOMEM;
            own->schema = k->schema;
            k = own;
        }
        return value_map_put_string(a, m, k, v, 0);
    }
    if (value_map_put_string(a, m, k, v, 0) != SLUICE_OK) /* appends; not a string key: */
        return SLUICE_ERR_NOMEM;
    m->u.m.items[m->u.m.len - 1].name = NULL; /* no name, as value_map_put leaves it */
    return SLUICE_OK;
}

/* Repeated keys of a large map: the last value replaces the first one, in its place, and the
 * later entries go (what a search per key did). */
sluice_err_t json_map_dedup(arena_t *a, sluice_value_t *m)
{
    struct value_kv *it = m->u.m.items;
    size_t n = m->u.m.len, *order = arena_alloc(a, n * sizeof *order);
    unsigned char *drop = arena_calloc(a, n ? n : 1);
    if (!order || !drop)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, json_entry_cmp, it);
    int any = 0;
    for (size_t g = 0, e; g < n; g = e) {
        for (e = g + 1; e < n && json_key_order(it[order[g]].key, it[order[e]].key) == 0; e++)
            drop[order[e]] = 1;
        if (e - g > 1) {
            it[order[g]].value = it[order[e - 1]].value;
            any = 1;
        }
    }
    if (any) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (!drop[i])
                it[w++] = it[i];
        m->u.m.len = w;
    }
    return SLUICE_OK;
}

static sluice_err_t jp_object(jp_t *p, sluice_value_t **out)
{
    int empty;
    sluice_err_t rc = jp_open(p, '}', &empty);
    if (rc != SLUICE_OK)
        return rc;
    sluice_value_t *m = value_map(p->a, NULL);
    if (!m)
        return jp_nomem(p);
    if (empty)
        goto done;
    /* A bit per key of this object, by length and first and last byte: a key whose bit is not
     * set yet cannot repeat an earlier one and is appended without a search (a repeated key
     * replaces the earlier value, in its place). */
    uint64_t seen = 0;
    int dedup = 0;
    for (;;) {
        if ((p->p >= p->end || *p->p != '"') && (rc = jp_key_start(p)) != SLUICE_OK)
            return rc;
        sluice_value_t *k;
        if ((rc = jp_string_value(p, &k)) != SLUICE_OK)
            return rc;
        size_t kl = k->u.s.len;
        unsigned bit = kl ? (unsigned)(kl * 7 + (unsigned char)k->u.s.ptr[0] * 3 +
                                       (unsigned char)k->u.s.ptr[kl - 1]) &
                                63u
                          : 0;
        int maybe_repeat = (int)(seen >> bit & 1);
        seen |= UINT64_C(1) << bit;
        /* The compact form ("key":value,"key":…) is taken without calls; anything else goes
         * through the general steps. */
        if (p->p < p->end && *p->p == ':' && p->p + 1 < p->end && (unsigned char)p->p[1] > ' ')
            p->p++;
        else if ((rc = jp_colon(p)) != SLUICE_OK)
            return rc;
        sluice_value_t *v;
        if (p->p < p->end && *p->p == '"')
            rc = jp_string_value(p, &v);
        else
            rc = jp_value(p, &v);
        if (rc != SLUICE_OK)
            return rc;
        if (maybe_repeat && m->u.m.len >= JSON_OBJECT_SEARCHED) {
            dedup = 1;
            maybe_repeat = 0;
        }
        if (!maybe_repeat && m->u.m.len < m->u.m.cap) {
            struct value_kv *kv = &m->u.m.items[m->u.m.len++];
            kv->name = k->u.s.ptr;
            kv->key = k;
            kv->value = v;
        } else if ((rc = value_map_put_string(p->a, m, k, v, maybe_repeat)) != SLUICE_OK) {
            return jp_nomem(p);
        }
        if (p->p < p->end && *p->p == ',' && p->p + 1 < p->end && p->p[1] == '"') {
            p->p++;
            continue;
        }
        if (p->p < p->end && *p->p == '}') {
            p->p++;
            break;
        }
        int more;
        if ((rc = jp_after_item(p, '}', &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
    if (dedup && json_map_dedup(p->a, m) != SLUICE_OK)
        return jp_nomem(p);
done:
    p->depth--;
    *out = m;
    return SLUICE_OK;
}

static sluice_err_t jp_array(jp_t *p, sluice_value_t **out)
{
    int empty;
    sluice_err_t rc = jp_open(p, ']', &empty);
    if (rc != SLUICE_OK)
        return rc;
    sluice_value_t *arr = value_array(p->a, NULL);
    if (!arr)
        return jp_nomem(p);
    if (empty)
        goto done;
    for (;;) {
        sluice_value_t *v;
        if ((rc = jp_value(p, &v)) != SLUICE_OK)
            return rc;
        if (value_append(p->a, arr, v) != SLUICE_OK)
            return jp_nomem(p);
        int more;
        if ((rc = jp_after_item(p, ']', &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
done:
    p->depth--;
    *out = arr;
    return SLUICE_OK;
}

static sluice_err_t jp_number_value(jp_t *p, sluice_value_t **out)
{
    /* Fast path: an integer of up to 18 digits, converted while it is scanned. */
    const char *q = p->p, *e = p->end;
    int neg = q < e && *q == '-';
    q += neg;
    if (q < e && *q >= '1' && *q <= '9') {
        const char *st = q;
        uint64_t u = 0;
        while (q < e && *q >= '0' && *q <= '9' && q - st < 18)
            u = u * 10 + (uint64_t)(*q++ - '0');
        if (q >= e || ((*q < '0' || *q > '9') && *q != '.' && *q != 'e' && *q != 'E')) {
            p->p = q;
            *out = value_int(p->a, SLUICE_TYPE_INT64, neg ? -(int64_t)u : (int64_t)u);
            return *out ? SLUICE_OK : jp_nomem(p);
        }
    }
    const char *s;
    size_t n;
    int is_int;
    sluice_err_t rc = jp_number_scan(p, &s, &n, &is_int);
    if (rc != SLUICE_OK)
        return rc;
    int64_t i;
    if (is_int && json_number_int(s, n, &i))
        *out = value_int(p->a, SLUICE_TYPE_INT64, i);
    else
        *out = value_float(p->a, SLUICE_TYPE_FLOAT64, json_number_double(s, n));
    return *out ? SLUICE_OK : jp_nomem(p);
}

sluice_err_t jp_value(jp_t *p, sluice_value_t **out)
{
    sluice_err_t rc;
    if (p->p >= p->end)
        return jp_unexpected(p);
    switch (*p->p) {
    case '{':
        return jp_object(p, out);
    case '[':
        return jp_array(p, out);
    case '"':
        return jp_string_value(p, out);
    case 't':
        if ((rc = jp_literal(p, "true", 4)) != SLUICE_OK)
            return rc;
        *out = value_bool(p->a, 1);
        return *out ? SLUICE_OK : jp_nomem(p);
    case 'f':
        if ((rc = jp_literal(p, "false", 5)) != SLUICE_OK)
            return rc;
        *out = value_bool(p->a, 0);
        return *out ? SLUICE_OK : jp_nomem(p);
    case 'n':
        if ((rc = jp_literal(p, "null", 4)) != SLUICE_OK)
            return rc;
        *out = value_null(p->a);
        return *out ? SLUICE_OK : jp_nomem(p);
    default:
        if (*p->p == '-' || (*p->p >= '0' && *p->p <= '9'))
            return jp_number_value(p, out);
        return jp_unexpected(p);
    }
}

/* Validate and step over one value without building anything. */
sluice_err_t jp_skip(jp_t *p)
{
    sluice_err_t rc;
    if (p->p >= p->end)
        return jp_unexpected(p);
    char c = *p->p;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        int empty, more = 1;
        if ((rc = jp_open(p, close, &empty)) != SLUICE_OK)
            return rc;
        while (!empty && more) {
            if (c == '{') {
                if ((rc = jp_key_start(p)) != SLUICE_OK)
                    return rc;
                if ((rc = jp_string(p, NULL, NULL)) != SLUICE_OK)
                    return rc;
                if ((rc = jp_colon(p)) != SLUICE_OK)
                    return rc;
            }
            if ((rc = jp_skip(p)) != SLUICE_OK)
                return rc;
            if ((rc = jp_after_item(p, close, &more)) != SLUICE_OK)
                return rc;
        }
        p->depth--;
        return SLUICE_OK;
    }
    switch (c) {
    case '"':
        return jp_string(p, NULL, NULL);
    case 't':
        return jp_literal(p, "true", 4);
    case 'f':
        return jp_literal(p, "false", 5);
    case 'n':
        return jp_literal(p, "null", 4);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            const char *s;
            size_t n;
            int is_int;
            return jp_number_scan(p, &s, &n, &is_int);
        }
        return jp_unexpected(p);
    }
}

sluice_err_t jp_finish(jp_t *p)
{
    jp_ws(p);
    if (p->p < p->end)
        return jp_fail(p, p->p, "invalid JSON: unexpected trailing characters after the value");
    return SLUICE_OK;
}

void jp_init(jp_t *p, arena_t *a, const char *text, size_t len, char *errstr, size_t errstr_size)
{
    p->start = p->p = text ? text : "";
    p->end = p->start + (text ? len : 0);
    p->base = 0;
    p->a = a;
    p->err = errstr;
    p->errsz = errstr_size;
    p->depth = 0;
    if (errstr && errstr_size)
        errstr[0] = '\0';
}

sluice_err_t json_parse(arena_t *a, const char *text, size_t len, sluice_value_t **out,
                        char *errstr, size_t errstr_size)
{
    jp_t p;
    sluice_value_t *v = NULL;
    jp_init(&p, a, text, len, errstr, errstr_size);
    jp_ws(&p);
    sluice_err_t rc = jp_value(&p, &v);
    if (rc == SLUICE_OK)
        rc = jp_finish(&p);
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}

sluice_err_t json_skip(const char *text, size_t len, size_t base, size_t *consumed, char *errstr,
                       size_t errstr_size)
{
    jp_t p;
    jp_init(&p, NULL, text, len, errstr, errstr_size);
    p.base = base;
    jp_ws(&p);
    sluice_err_t rc = jp_skip(&p);
    *consumed = (size_t)(p.p - p.start);
    return rc;
}
