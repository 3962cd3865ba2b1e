/* json.c — see json.h. A hand-written reader and writer: the reader builds values straight into an
 * arena (no malloc per node) and keeps integers exact; the writer formats integers and most doubles
 * without printf. */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

/* ================================================================================================
 */
/* Reader */

typedef struct jp {
    const char *start, *p, *end;
    size_t base; /* offset of `start` in the caller's text, for messages */
    arena_t *a;
    char *err;
    size_t errsz;
    int depth;
} jp_t;

SLUICE_PRINTF(3, 4)
static sluice_err_t jp_fail(jp_t *p, const char *at, const char *fmt, ...)
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

static sluice_err_t jp_nomem(jp_t *p)
{
    if (p->err && p->errsz)
        snprintf(p->err, p->errsz, "out of memory while parsing JSON");
    return SLUICE_ERR_NOMEM;
}

/* Put "field "name": " in front of the message, so nested errors show their path. */
static void jp_prefix_field(jp_t *p, const char *name)
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

static inline void jp_ws(jp_t *p)
{
    while (p->p < p->end && (*p->p == ' ' || *p->p == '\n' || *p->p == '\r' || *p->p == '\t'))
        p->p++;
}

static const char *jp_found(jp_t *p)
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

static sluice_err_t jp_unexpected(jp_t *p)
{
    if (p->p >= p->end)
        return jp_fail(p, p->p, "invalid JSON: unexpected end of input");
    unsigned char c = (unsigned char)*p->p;
    if (c >= 0x20 && c < 0x7f)
        return jp_fail(p, p->p, "invalid JSON: unexpected character '%c'", c);
    return jp_fail(p, p->p, "invalid JSON: unexpected byte 0x%02x", c);
}

static sluice_err_t jp_expect(jp_t *p, char c)
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
static size_t json_utf8_len(const unsigned char *s, const unsigned char *end)
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

/* The bytes among the 8 at p that are a control byte, '"', '\\' or non-ASCII, each marked by its
 * high bit; 0 when there is none. Strings are scanned a word at a time. Marks above the first can
 * be false (borrows), the first is exact: json_swar_first finds it. */
static inline uint64_t json_swar_mask(const unsigned char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t ctl = (w - ones * 0x20) & ~w & high; /* exact when no byte is >= 0x80 */
    uint64_t quo = (q - ones) & ~q & high;
    uint64_t bsl = (b - ones) & ~b & high;
    return ctl | quo | bsl | (w & high);
}

static inline int json_swar_special(const unsigned char *p)
{
    return json_swar_mask(p) != 0;
}

/* Offset of the first marked byte of a non-zero json_swar_mask. */
static inline unsigned json_swar_first(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (unsigned)__builtin_clzll(m) >> 3;
#else
    return (unsigned)__builtin_ctzll(m) >> 3;
#endif
}

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
static sluice_err_t jp_unescape(jp_t *p, const char *s, const char *e, char *d, size_t *out_len)
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
static sluice_err_t jp_string_raw(jp_t *p, const char **body, const char **body_end, int *escaped)
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
static sluice_err_t jp_string(jp_t *p, const char **out, size_t *out_len)
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
static sluice_err_t jp_string_value(jp_t *p, sluice_value_t **out)
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
static sluice_err_t jp_number_scan(jp_t *p, const char **s, size_t *len, int *is_int)
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
static int json_number_int(const char *s, size_t len, int64_t *out)
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

static const double json_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number token (valid JSON grammar) as a double, correctly rounded. */
static double json_number_double(const char *s, size_t len)
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

static sluice_err_t jp_literal(jp_t *p, const char *lit, size_t n)
{
    if ((size_t)(p->end - p->p) < n || memcmp(p->p, lit, n) != 0)
        return jp_unexpected(p);
    p->p += n;
    return SLUICE_OK;
}

static sluice_err_t jp_value(jp_t *p, sluice_value_t **out);

static sluice_err_t jp_enter(jp_t *p)
{
    if (++p->depth > JSON_MAX_DEPTH)
        return jp_fail(p, p->p, "invalid JSON: nesting deeper than %d levels", JSON_MAX_DEPTH);
    return SLUICE_OK;
}

/* At the start of an object member: the key's opening quote must be there. */
static sluice_err_t jp_key_start(jp_t *p)
{
    if (p->p < p->end && *p->p == '"')
        return SLUICE_OK;
    if (p->p >= p->end)
        return jp_unexpected(p);
    return jp_fail(p, p->p, "invalid JSON: expected a string key but found %s", jp_found(p));
}

/* Between a key and its value: optional whitespace, ':', optional whitespace. */
static sluice_err_t jp_colon(jp_t *p)
{
    jp_ws(p);
    sluice_err_t rc = jp_expect(p, ':');
    if (rc == SLUICE_OK)
        jp_ws(p);
    return rc;
}

/* Enter an object or array at its opening bracket: counts the depth, steps over the bracket and
 * any whitespace, and over `close` at once when the container is empty (*empty = 1). */
static sluice_err_t jp_open(jp_t *p, char close, int *empty)
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
static sluice_err_t jp_after_item(jp_t *p, char close, int *more)
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

static sluice_err_t jp_value(jp_t *p, sluice_value_t **out)
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
static sluice_err_t jp_skip(jp_t *p)
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

static sluice_err_t jp_finish(jp_t *p)
{
    jp_ws(p);
    if (p->p < p->end)
        return jp_fail(p, p->p, "invalid JSON: unexpected trailing characters after the value");
    return SLUICE_OK;
}

static void jp_init(jp_t *p, arena_t *a, const char *text, size_t len, char *errstr,
                    size_t errstr_size)
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

/* ================================================================================================
 */
/* Base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(buf_t *out, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t n = (len + 2) / 3 * 4;
    if (buf_reserve(out, n) != 0)
        return -1;
    char *d = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *d++ = b64_alphabet[v >> 18];
        *d++ = b64_alphabet[(v >> 12) & 63];
        *d++ = b64_alphabet[(v >> 6) & 63];
        *d++ = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        *d++ = b64_alphabet[v >> 18];
        *d++ = b64_alphabet[(v >> 12) & 63];
        *d++ = '=';
        *d++ = '=';
    } else if (len - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        *d++ = b64_alphabet[v >> 18];
        *d++ = b64_alphabet[(v >> 12) & 63];
        *d++ = b64_alphabet[(v >> 6) & 63];
        *d++ = '=';
    }
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

static int b64_index(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(arena_t *a, const char *s, size_t len, void **out, size_t *out_len)
{
    /* Padding is optional on input (some producers drop it); anything else must be exact. */
    if (len >= 1 && s[len - 1] == '=')
        len--;
    if (len >= 1 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    unsigned char *d = arena_alloc(a, n + 1);
    if (!d)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_index((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical trailing bits */
        return -1;
    d[o] = '\0';
    *out = d;
    *out_len = o;
    return 0;
}

/* ================================================================================================
 */
/* Decimal: unscaled big-endian two's complement ⇄ decimal text */

static int json_decimal_scale(const sluice_schema_t *s)
{
    const char *v = schema_param(s, "scale");
    return v ? atoi(v) : 0;
}

/* Decimal text (JSON number grammar) at `scale` → minimal two's complement bytes. */
static sluice_err_t json_decimal_from_text(arena_t *a, const char *s, size_t len, int scale,
                                           void **out, size_t *out_len, char *why, size_t whysz)
{
    const char *q = s, *e = s + len;
    int neg = 0;
    long exp10 = 0;
    if (q < e && *q == '-') {
        neg = 1;
        q++;
    }
    /* Collect the significant digits and the power of ten they are scaled by. */
    char *digits = arena_alloc(a, len + 1);
    if (!digits)
        return SLUICE_ERR_NOMEM;
    size_t nd = 0;
    for (; q < e && *q >= '0' && *q <= '9'; q++)
        digits[nd++] = *q;
    if (q < e && *q == '.')
        for (q++; q < e && *q >= '0' && *q <= '9'; q++, exp10--)
            digits[nd++] = *q;
    if (q < e && (*q == 'e' || *q == 'E')) {
        q++;
        int en = 0;
        long ev = 0;
        if (q < e && (*q == '+' || *q == '-'))
            en = *q++ == '-';
        for (; q < e && *q >= '0' && *q <= '9'; q++)
            if (ev < 100000)
                ev = ev * 10 + (*q - '0');
        exp10 += en ? -ev : ev;
    }
    long shift = exp10 + scale; /* unscaled = digits * 10^shift */
    while (shift < 0 && nd > 0 && digits[nd - 1] == '0') {
        nd--;
        shift++;
    }
    if (shift < 0 && nd > 0) {
        snprintf(why, whysz, "decimal %.*s has more digits after the point than its scale %d",
                 (int)len, s, scale);
        return SLUICE_ERR_INVALID;
    }
    if (shift > 100000) {
        snprintf(why, whysz, "decimal %.*s is too large", (int)len, s);
        return SLUICE_ERR_INVALID;
    }
    size_t total = nd + (shift > 0 ? (size_t)shift : 0);
    size_t cap = total / 2 + 2;                /* base-256 digits needed, generously */
    unsigned char *mag = arena_calloc(a, cap); /* little-endian magnitude */
    if (!mag)
        return SLUICE_ERR_NOMEM;
    size_t used = 1;
    for (size_t i = 0; i < total; i++) {
        unsigned carry = i < nd ? (unsigned)(digits[i] - '0') : 0;
        for (size_t j = 0; j < used; j++) {
            unsigned v = mag[j] * 10u + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
        if (carry)
            mag[used++] = (unsigned char)carry;
    }
    while (used > 1 && mag[used - 1] == 0)
        used--;
    int zero = used == 1 && mag[0] == 0;
    if (neg && !zero) { /* two's complement of the little-endian magnitude */
        unsigned carry = 1;
        for (size_t j = 0; j < used; j++) {
            unsigned v = (unsigned)(unsigned char)~mag[j] + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
        if (!(mag[used - 1] & 0x80))
            mag[used++] = 0xff;
        while (used > 1 && mag[used - 1] == 0xff && (mag[used - 2] & 0x80))
            used--;
    } else if (mag[used - 1] & 0x80) {
        mag[used++] = 0x00; /* keep the sign bit clear */
    }
    unsigned char *be = arena_alloc(a, used + 1);
    if (!be)
        return SLUICE_ERR_NOMEM;
    for (size_t j = 0; j < used; j++)
        be[j] = mag[used - 1 - j];
    be[used] = 0;
    *out = be;
    *out_len = used;
    return SLUICE_OK;
}

/* Two's complement bytes + scale → plain decimal text appended to `out`. */
static int json_decimal_write(buf_t *out, const unsigned char *b, size_t len, int scale)
{
    int rc = -1;
    unsigned char *mag = NULL;
    char *dig = NULL;
    int neg = len > 0 && (b[0] & 0x80);
    mag = malloc(len ? len : 1);
    dig = malloc(len * 3 + 2);
    if (!mag || !dig)
        goto out;
    memcpy(mag, b, len);
    if (neg) { /* negate in place (big-endian) */
        unsigned carry = 1;
        for (size_t j = len; j-- > 0;) {
            unsigned v = (unsigned)(unsigned char)~mag[j] + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
    }
    size_t nd = 0, first = 0;
    while (first < len && mag[first] == 0)
        first++;
    while (first < len) { /* divide the big-endian number by 10, collecting remainders */
        unsigned rem = 0;
        for (size_t j = first; j < len; j++) {
            unsigned v = (rem << 8) | mag[j];
            mag[j] = (unsigned char)(v / 10);
            rem = v % 10;
        }
        dig[nd++] = (char)('0' + rem);
        while (first < len && mag[first] == 0)
            first++;
    }
    if (nd == 0)
        dig[nd++] = '0';
    /* dig holds the digits least significant first */
    if (neg && !(nd == 1 && dig[0] == '0') && buf_putc(out, '-') != 0)
        goto out;
    if (scale <= 0) {
        for (size_t i = nd; i-- > 0;)
            if (buf_putc(out, dig[i]) != 0)
                goto out;
        if (!(nd == 1 && dig[0] == '0'))
            for (int i = 0; i < -scale; i++)
                if (buf_putc(out, '0') != 0)
                    goto out;
    } else {
        size_t sc = (size_t)scale;
        if (nd <= sc) {
            if (buf_puts(out, "0.") != 0)
                goto out;
            for (size_t i = nd; i < sc; i++)
                if (buf_putc(out, '0') != 0)
                    goto out;
            for (size_t i = nd; i-- > 0;)
                if (buf_putc(out, dig[i]) != 0)
                    goto out;
        } else {
            for (size_t i = nd; i-- > 0;) {
                if (buf_putc(out, dig[i]) != 0)
                    goto out;
                if (i == sc && buf_putc(out, '.') != 0)
                    goto out;
            }
        }
    }
    rc = 0;
out:
    free(mag);
    free(dig);
    return rc;
}

/* ================================================================================================
 */
/* Reading with a schema */

static int json_int_fits(sluice_type_t t, int64_t v)
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

static sluice_err_t jp_typed(jp_t *p, const sluice_schema_t *s, sluice_value_t **out);

static sluice_err_t jp_mismatch(jp_t *p, const sluice_schema_t *s)
{
    return jp_fail(p, p->p, "expected %s%s%s but found %s", schema_type_name(s->type),
                   s->name ? " " : "", s->name ? s->name : "", jp_found(p));
}

static sluice_err_t jp_typed_int(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    const char *st = p->p, *txt;
    size_t n;
    int is_int;
    int64_t v = 0;
    sluice_err_t rc = jp_number_scan(p, &txt, &n, &is_int);
    if (rc != SLUICE_OK)
        return rc;
    if (is_int) {
        if (!json_number_int(txt, n, &v))
            return jp_fail(p, st, "value %.*s is out of range for %s", (int)n, txt,
                           schema_type_name(s->type));
    } else {
        /* Accept 1.0 or 1e3 (as Connect's lenient readers do) but never lose a fraction. */
        double d = json_number_double(txt, n);
        if (!(d == floor(d)) || fabs(d) > 9007199254740992.0)
            return jp_fail(p, st, "expected %s but found the number %.*s",
                           schema_type_name(s->type), (int)n, txt);
        v = (int64_t)d;
    }
    if (!json_int_fits(s->type, v))
        return jp_fail(p, st, "value %.*s is out of range for %s", (int)n, txt,
                       schema_type_name(s->type));
    *out = value_int(p->a, s->type, v);
    return *out ? SLUICE_OK : jp_nomem(p);
}

static sluice_err_t jp_typed_bytes(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    const char *st = p->p;
    void *bytes = NULL;
    size_t blen = 0;
    sluice_err_t rc;
    int decimal = schema_is_logical(s, SLUICE_LOGICAL_DECIMAL);
    if (decimal && p->p < p->end && (*p->p == '-' || (*p->p >= '0' && *p->p <= '9'))) {
        const char *txt;
        size_t n;
        int is_int;
        char why[200];
        if ((rc = jp_number_scan(p, &txt, &n, &is_int)) != SLUICE_OK)
            return rc;
        rc = json_decimal_from_text(p->a, txt, n, json_decimal_scale(s), &bytes, &blen, why,
                                    sizeof why);
        if (rc == SLUICE_ERR_NOMEM)
            return jp_nomem(p);
        if (rc != SLUICE_OK)
            return jp_fail(p, st, "%s", why);
    } else {
        if (p->p >= p->end || *p->p != '"')
            return jp_mismatch(p, s);
        const char *txt;
        size_t n;
        if ((rc = jp_string(p, &txt, &n)) != SLUICE_OK)
            return rc;
        if (base64_decode(p->a, txt, n, &bytes, &blen) != 0)
            return jp_fail(p, st, "invalid base64 for %s", decimal ? "a decimal" : "bytes");
    }
    *out = value_bytes_ref(p->a, bytes, blen);
    return *out ? SLUICE_OK : jp_nomem(p);
}

static sluice_err_t jp_typed_array(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc;
    if (p->p >= p->end || *p->p != '[')
        return jp_mismatch(p, s);
    if (!s->items)
        return jp_fail(p, p->p, "array schema has no items schema");
    int empty, more;
    if ((rc = jp_open(p, ']', &empty)) != SLUICE_OK)
        return rc;
    sluice_value_t *arr = value_array(p->a, s);
    if (!arr)
        return jp_nomem(p);
    if (empty)
        goto done;
    for (;;) {
        sluice_value_t *v;
        if ((rc = jp_typed(p, s->items, &v)) != SLUICE_OK)
            return rc;
        if (value_append(p->a, arr, v) != SLUICE_OK)
            return jp_nomem(p);
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

static sluice_err_t jp_typed_map(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc;
    if (!s->keys || !s->values)
        return jp_fail(p, p->p, "map schema has no keys or values schema");
    int object = s->keys->type == SLUICE_TYPE_STRING;
    if (p->p >= p->end || *p->p != (object ? '{' : '['))
        return jp_mismatch(p, s);
    char close = object ? '}' : ']';
    int empty, more;
    if ((rc = jp_open(p, close, &empty)) != SLUICE_OK)
        return rc;
    sluice_value_t *m = value_map(p->a, s);
    if (!m)
        return jp_nomem(p);
    if (empty)
        goto done;
    for (;;) {
        sluice_value_t *k, *v;
        jp_ws(p);
        if (object) {
            if ((rc = jp_key_start(p)) != SLUICE_OK)
                return rc;
            if ((rc = jp_string_value(p, &k)) != SLUICE_OK)
                return rc;
            k->schema = s->keys;
            if ((rc = jp_colon(p)) != SLUICE_OK)
                return rc;
            if ((rc = jp_typed(p, s->values, &v)) != SLUICE_OK)
                return rc;
            if (value_map_put_string(p->a, m, k, v, 1) != SLUICE_OK)
                return jp_nomem(p);
        } else {
            /* Connect writes maps with non-string keys as [[key, value], ...]. */
            if (p->p >= p->end || *p->p != '[')
                return jp_fail(p, p->p, "expected a [key, value] pair but found %s", jp_found(p));
            p->p++;
            jp_ws(p);
            if ((rc = jp_typed(p, s->keys, &k)) != SLUICE_OK)
                return rc;
            jp_ws(p);
            if ((rc = jp_expect(p, ',')) != SLUICE_OK)
                return rc;
            jp_ws(p);
            if ((rc = jp_typed(p, s->values, &v)) != SLUICE_OK)
                return rc;
            jp_ws(p);
            if ((rc = jp_expect(p, ']')) != SLUICE_OK)
                return rc;
            if (value_map_put(p->a, m, k, v) != SLUICE_OK)
                return jp_nomem(p);
        }
        if ((rc = jp_after_item(p, close, &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
done:
    p->depth--;
    *out = m;
    return SLUICE_OK;
}

/* An object member's key up to its value: the key (unescaped into the arena only when it has
 * escapes, else pointing into the text: use `*len`), then the ':'. */
static sluice_err_t jp_key(jp_t *p, const char **key, size_t *len)
{
    const char *kb, *ke;
    int esc;
    sluice_err_t rc = jp_key_start(p);
    if (rc == SLUICE_OK)
        rc = jp_string_raw(p, &kb, &ke, &esc);
    if (rc != SLUICE_OK)
        return rc;
    size_t kl = (size_t)(ke - kb);
    if (esc) {
        char *d = arena_alloc(p->a, kl + 1);
        if (!d)
            return jp_nomem(p);
        if ((rc = jp_unescape(p, kb, ke, d, &kl)) != SLUICE_OK)
            return rc;
        d[kl] = '\0';
        kb = d;
    }
    *key = kb;
    *len = kl;
    return jp_colon(p);
}

static int json_key_is(const char *name, const char *k, size_t kl)
{
    return strncmp(name, k, kl) == 0 && name[kl] == '\0';
}

static sluice_err_t jp_typed_struct(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc;
    if (p->p >= p->end || *p->p != '{')
        return jp_mismatch(p, s);
    const char *open = p->p;
    int empty, more;
    if ((rc = jp_open(p, '}', &empty)) != SLUICE_OK)
        return rc;
    sluice_value_t *st = value_struct_empty(p->a, s);
    if (!st)
        return jp_nomem(p);
    size_t next = 0; /* fields usually come in schema order: try the next one first */
    if (empty)
        goto fill;
    for (;;) {
        const char *kb;
        size_t kl;
        if ((rc = jp_key(p, &kb, &kl)) != SLUICE_OK)
            return rc;
        long idx = -1;
        if (next < s->nfields && json_key_is(s->fields[next].name, kb, kl)) {
            idx = (long)next;
        } else {
            for (size_t i = 0; i < s->nfields; i++)
                if (json_key_is(s->fields[i].name, kb, kl)) {
                    idx = (long)i;
                    break;
                }
        }
        if (idx < 0) { /* a key the schema does not know: Connect ignores it */
            if ((rc = jp_skip(p)) != SLUICE_OK)
                return rc;
        } else {
            sluice_value_t *v;
            if ((rc = jp_typed(p, s->fields[idx].schema, &v)) != SLUICE_OK) {
                jp_prefix_field(p, s->fields[idx].name);
                return rc;
            }
            st->u.m.items[idx].value = v;
            next = (size_t)idx + 1;
        }
        if ((rc = jp_after_item(p, '}', &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
fill:
    for (size_t i = 0; i < s->nfields; i++) {
        if (st->u.m.items[i].value)
            continue;
        if (!s->fields[i].schema->optional)
            return jp_fail(p, open, "missing required field \"%s\" (%s)", s->fields[i].name,
                           schema_type_name(s->fields[i].schema->type));
        if (!(st->u.m.items[i].value = value_null(p->a)))
            return jp_nomem(p);
    }
    p->depth--;
    *out = st;
    return SLUICE_OK;
}

static sluice_err_t jp_typed(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc = SLUICE_OK;
    sluice_value_t *v = NULL;
    if (p->p >= p->end)
        return jp_unexpected(p);
    if (*p->p == 'n') {
        if ((rc = jp_literal(p, "null", 4)) != SLUICE_OK)
            return rc;
        if (!s->optional && s->type != SLUICE_TYPE_NULL)
            return jp_fail(p, p->p - 4, "invalid null value for required %s field",
                           schema_type_name(s->type));
        *out = value_null(p->a);
        return *out ? SLUICE_OK : jp_nomem(p);
    }
    char c = *p->p;
    switch (s->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        if (c != '-' && (c < '0' || c > '9'))
            return jp_mismatch(p, s);
        rc = jp_typed_int(p, s, &v);
        break;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64: {
        if (c != '-' && (c < '0' || c > '9'))
            return jp_mismatch(p, s);
        const char *txt;
        size_t n;
        int is_int;
        if ((rc = jp_number_scan(p, &txt, &n, &is_int)) != SLUICE_OK)
            return rc;
        if (!(v = value_float(p->a, s->type, json_number_double(txt, n))))
            return jp_nomem(p);
        break;
    }
    case SLUICE_TYPE_BOOLEAN:
        if (c == 't')
            rc = jp_literal(p, "true", 4);
        else if (c == 'f')
            rc = jp_literal(p, "false", 5);
        else
            return jp_mismatch(p, s);
        if (rc != SLUICE_OK)
            return rc;
        if (!(v = value_bool(p->a, c == 't')))
            return jp_nomem(p);
        break;
    case SLUICE_TYPE_STRING: {
        if (c != '"')
            return jp_mismatch(p, s);
        if ((rc = jp_string_value(p, &v)) != SLUICE_OK)
            return rc;
        break;
    }
    case SLUICE_TYPE_BYTES:
        rc = jp_typed_bytes(p, s, &v);
        break;
    case SLUICE_TYPE_ARRAY:
        rc = jp_typed_array(p, s, &v);
        break;
    case SLUICE_TYPE_MAP:
        rc = jp_typed_map(p, s, &v);
        break;
    case SLUICE_TYPE_STRUCT:
        rc = jp_typed_struct(p, s, &v);
        break;
    case SLUICE_TYPE_NULL:
        return jp_mismatch(p, s);
    }
    if (rc != SLUICE_OK)
        return rc;
    v->schema = s;
    *out = v;
    return SLUICE_OK;
}

sluice_err_t json_parse_with_schema(arena_t *a, const char *text, size_t len,
                                    const sluice_schema_t *schema, sluice_value_t **out,
                                    char *errstr, size_t errstr_size)
{
    if (!schema)
        return json_parse(a, text, len, out, errstr, errstr_size);
    jp_t p;
    sluice_value_t *v = NULL;
    jp_init(&p, a, text, len, errstr, errstr_size);
    jp_ws(&p);
    sluice_err_t rc = jp_typed(&p, schema, &v);
    if (rc == SLUICE_OK)
        rc = jp_finish(&p);
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}

/* ================================================================================================
 */
/* Kafka Connect's envelope */

static const char json_envelope_msg[] =
    "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not "
    "contain additional fields. If you are trying to deserialize plain JSON data, set "
    "schemas.enable=false in your converter configuration.";

sluice_err_t json_parse_envelope(arena_t *a, const char *text, size_t len,
                                 json_schema_resolver resolve, void *ctx, sluice_value_t **out,
                                 char *errstr, size_t errstr_size)
{
    jp_t p;
    sluice_err_t rc = SLUICE_ERR_INVALID;
    int seen_schema = 0, seen_payload = 0, bad = 0;
    const sluice_schema_t *schema = NULL;
    const char *payload_at = NULL;
    sluice_value_t *v = NULL;
    jp_init(&p, a, text, len, errstr, errstr_size);
    jp_ws(&p);
    if (p.p >= p.end || *p.p != '{') {
        /* Syntax errors win over the envelope message. */
        if ((rc = jp_skip(&p)) == SLUICE_OK && (rc = jp_finish(&p)) == SLUICE_OK)
            goto envelope;
        goto out;
    }
    p.p++;
    jp_ws(&p);
    if (p.p < p.end && *p.p == '}') {
        p.p++;
        if ((rc = jp_finish(&p)) == SLUICE_OK)
            goto envelope;
        goto out;
    }
    for (;;) {
        const char *kb;
        size_t kl;
        if ((rc = jp_key(&p, &kb, &kl)) != SLUICE_OK)
            goto out;
        int is_schema = kl == 6 && memcmp(kb, "schema", 6) == 0;
        int is_payload = kl == 7 && memcmp(kb, "payload", 7) == 0;
        if ((is_schema && seen_schema) || (is_payload && seen_payload) ||
            (!is_schema && !is_payload))
            bad = 1;
        if (bad) {
            /* Not an envelope; still read to the end so a syntax error is reported as such. */
            if ((rc = jp_skip(&p)) != SLUICE_OK)
                goto out;
        } else if (is_schema) {
            seen_schema = 1;
            if (p.p < p.end && *p.p == 'n') {
                if ((rc = jp_literal(&p, "null", 4)) != SLUICE_OK)
                    goto out;
                schema = NULL;
            } else {
                size_t used = 0;
                if (p.p >= p.end || *p.p != '{') {
                    rc = jp_fail(&p, p.p, "the envelope's \"schema\" must be an object or null");
                    goto out;
                }
                rc = resolve(ctx, a, p.p, (size_t)(p.end - p.p), (size_t)(p.p - p.start), &used,
                             &schema, errstr, errstr_size);
                if (rc != SLUICE_OK)
                    goto out;
                p.p += used;
            }
            if (payload_at) {
                const char *resume = p.p;
                p.p = payload_at;
                rc = schema ? jp_typed(&p, schema, &v) : jp_value(&p, &v);
                if (rc != SLUICE_OK)
                    goto out;
                p.p = resume;
            }
        } else {
            seen_payload = 1;
            if (seen_schema) {
                rc = schema ? jp_typed(&p, schema, &v) : jp_value(&p, &v);
                if (rc != SLUICE_OK)
                    goto out;
            } else {
                payload_at = p.p; /* parsed once the schema is known */
                if ((rc = jp_skip(&p)) != SLUICE_OK)
                    goto out;
            }
        }
        int more;
        if ((rc = jp_after_item(&p, '}', &more)) != SLUICE_OK)
            goto out;
        if (!more)
            break;
    }
    if ((rc = jp_finish(&p)) != SLUICE_OK)
        goto out;
    if (!bad && seen_schema && seen_payload) {
        rc = SLUICE_OK;
        goto out;
    }
envelope:
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", json_envelope_msg);
    rc = SLUICE_ERR_INVALID;
out:
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}

/* ================================================================================================
 */
/* Converting a parsed value to a schema */

typedef struct jc {
    arena_t *a;
    char *err;
    size_t errsz;
    int depth;
} jc_t;

SLUICE_PRINTF(2, 3)
static sluice_err_t jc_fail(jc_t *c, const char *fmt, ...)
{
    if (c->err && c->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errsz, fmt, ap);
        va_end(ap);
    }
    return SLUICE_ERR_INVALID;
}

static sluice_err_t jc_nomem(jc_t *c)
{
    if (c->err && c->errsz)
        snprintf(c->err, c->errsz, "out of memory");
    return SLUICE_ERR_NOMEM;
}

static const char *jc_found(const sluice_value_t *v)
{
    switch (v->type) {
    case SLUICE_TYPE_NULL:
        return "null";
    case SLUICE_TYPE_MAP:
    case SLUICE_TYPE_STRUCT:
        return "an object";
    case SLUICE_TYPE_ARRAY:
        return "an array";
    case SLUICE_TYPE_STRING:
        return "a string";
    case SLUICE_TYPE_BOOLEAN:
        return "a boolean";
    case SLUICE_TYPE_BYTES:
        return "bytes";
    default:
        return "a number";
    }
}

static sluice_err_t jc_convert(jc_t *c, const sluice_value_t *in, const sluice_schema_t *s,
                               sluice_value_t **out);

static sluice_err_t jc_mismatch(jc_t *c, const sluice_value_t *in, const sluice_schema_t *s)
{
    return jc_fail(c, "expected %s%s%s but found %s", schema_type_name(s->type), s->name ? " " : "",
                   s->name ? s->name : "", jc_found(in));
}

static sluice_err_t jc_convert(jc_t *c, const sluice_value_t *in, const sluice_schema_t *s,
                               sluice_value_t **out)
{
    sluice_err_t rc = SLUICE_OK;
    sluice_value_t *v = NULL;
    if (!in || in->type == SLUICE_TYPE_NULL) {
        if (!s->optional && s->type != SLUICE_TYPE_NULL)
            return jc_fail(c, "invalid null value for required %s field",
                           schema_type_name(s->type));
        *out = value_null(c->a);
        return *out ? SLUICE_OK : jc_nomem(c);
    }
    if (++c->depth > JSON_MAX_DEPTH)
        return jc_fail(c, "value nested deeper than %d levels", JSON_MAX_DEPTH);
    int is_intval = in->type >= SLUICE_TYPE_INT8 && in->type <= SLUICE_TYPE_INT64;
    int is_float = in->type == SLUICE_TYPE_FLOAT32 || in->type == SLUICE_TYPE_FLOAT64;
    switch (s->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64: {
        int64_t i;
        if (is_intval) {
            i = in->u.i;
        } else if (is_float && in->u.f == floor(in->u.f) && fabs(in->u.f) <= 9007199254740992.0) {
            i = (int64_t)in->u.f;
        } else {
            return jc_mismatch(c, in, s);
        }
        if (!json_int_fits(s->type, i))
            return jc_fail(c, "value %lld is out of range for %s", (long long)i,
                           schema_type_name(s->type));
        v = value_int(c->a, s->type, i);
        break;
    }
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        if (!is_intval && !is_float)
            return jc_mismatch(c, in, s);
        v = value_float(c->a, s->type, is_float ? in->u.f : (double)in->u.i);
        break;
    case SLUICE_TYPE_BOOLEAN:
        if (in->type != SLUICE_TYPE_BOOLEAN)
            return jc_mismatch(c, in, s);
        v = value_bool(c->a, in->u.b);
        break;
    case SLUICE_TYPE_STRING:
        if (in->type != SLUICE_TYPE_STRING)
            return jc_mismatch(c, in, s);
        v = value_string_ref(c->a, in->u.s.ptr, in->u.s.len); /* same arena lifetime */
        break;
    case SLUICE_TYPE_BYTES: {
        void *bytes;
        size_t blen;
        int decimal = schema_is_logical(s, SLUICE_LOGICAL_DECIMAL);
        if (in->type == SLUICE_TYPE_BYTES) {
            v = value_bytes_ref(c->a, in->u.s.ptr, in->u.s.len);
            break;
        }
        if (decimal && (is_intval || is_float)) {
            char txt[40], why[200];
            if (is_intval)
                snprintf(txt, sizeof txt, "%lld", (long long)in->u.i);
            else
                snprintf(txt, sizeof txt, "%.17g", in->u.f);
            rc = json_decimal_from_text(c->a, txt, strlen(txt), json_decimal_scale(s), &bytes,
                                        &blen, why, sizeof why);
            if (rc == SLUICE_ERR_NOMEM)
                return jc_nomem(c);
            if (rc != SLUICE_OK)
                return jc_fail(c, "%s", why);
        } else if (in->type == SLUICE_TYPE_STRING) {
            if (base64_decode(c->a, in->u.s.ptr, in->u.s.len, &bytes, &blen) != 0)
                return jc_fail(c, "invalid base64 for %s", decimal ? "a decimal" : "bytes");
        } else {
            return jc_mismatch(c, in, s);
        }
        v = value_bytes_ref(c->a, bytes, blen);
        break;
    }
    case SLUICE_TYPE_ARRAY:
        if (in->type != SLUICE_TYPE_ARRAY || !s->items)
            return jc_mismatch(c, in, s);
        if (!(v = value_array(c->a, s)))
            return jc_nomem(c);
        for (size_t i = 0; i < in->u.a.len; i++) {
            sluice_value_t *item;
            if ((rc = jc_convert(c, in->u.a.items[i], s->items, &item)) != SLUICE_OK)
                return rc;
            if (value_append(c->a, v, item) != SLUICE_OK)
                return jc_nomem(c);
        }
        break;
    case SLUICE_TYPE_MAP:
        if (!s->keys || !s->values)
            return jc_mismatch(c, in, s);
        if (!(v = value_map(c->a, s)))
            return jc_nomem(c);
        if (s->keys->type == SLUICE_TYPE_STRING && in->type == SLUICE_TYPE_MAP) {
            for (size_t i = 0; i < in->u.m.len; i++) {
                sluice_value_t *k, *val;
                if ((rc = jc_convert(c, in->u.m.items[i].key, s->keys, &k)) != SLUICE_OK)
                    return rc;
                if ((rc = jc_convert(c, in->u.m.items[i].value, s->values, &val)) != SLUICE_OK)
                    return rc;
                if (value_map_put(c->a, v, k, val) != SLUICE_OK)
                    return jc_nomem(c);
            }
        } else if (s->keys->type != SLUICE_TYPE_STRING && in->type == SLUICE_TYPE_ARRAY) {
            for (size_t i = 0; i < in->u.a.len; i++) {
                const sluice_value_t *pair = in->u.a.items[i];
                sluice_value_t *k, *val;
                if (pair->type != SLUICE_TYPE_ARRAY || pair->u.a.len != 2)
                    return jc_fail(c, "expected a [key, value] pair but found %s", jc_found(pair));
                if ((rc = jc_convert(c, pair->u.a.items[0], s->keys, &k)) != SLUICE_OK)
                    return rc;
                if ((rc = jc_convert(c, pair->u.a.items[1], s->values, &val)) != SLUICE_OK)
                    return rc;
                if (value_map_put(c->a, v, k, val) != SLUICE_OK)
                    return jc_nomem(c);
            }
        } else {
            return jc_mismatch(c, in, s);
        }
        break;
    case SLUICE_TYPE_STRUCT:
        if (in->type != SLUICE_TYPE_MAP && in->type != SLUICE_TYPE_STRUCT)
            return jc_mismatch(c, in, s);
        if (!(v = value_struct_empty(c->a, s)))
            return jc_nomem(c);
        for (size_t i = 0; i < s->nfields; i++) {
            const sluice_value_t *fv = value_get(in, s->fields[i].name);
            if (!fv && !s->fields[i].schema->optional)
                return jc_fail(c, "missing required field \"%s\" (%s)", s->fields[i].name,
                               schema_type_name(s->fields[i].schema->type));
            if ((rc = jc_convert(c, fv, s->fields[i].schema, &v->u.m.items[i].value)) !=
                SLUICE_OK) {
                char inner[512];
                snprintf(inner, sizeof inner, "%s", c->err ? c->err : "");
                return jc_fail(c, "field \"%s\": %s", s->fields[i].name, inner);
            }
        }
        break;
    case SLUICE_TYPE_NULL:
        return jc_mismatch(c, in, s);
    }
    if (!v)
        return jc_nomem(c);
    v->schema = s;
    c->depth--;
    *out = v;
    return SLUICE_OK;
}

sluice_err_t json_value_to_schema(arena_t *a, const sluice_value_t *in,
                                  const sluice_schema_t *schema, sluice_value_t **out, char *errstr,
                                  size_t errstr_size)
{
    jc_t c = {.a = a, .err = errstr, .errsz = errstr_size, .depth = 0};
    sluice_value_t *v = NULL;
    sluice_err_t rc;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!schema)
        rc = (v = value_copy(a, in ? in : value_null(a))) ? SLUICE_OK : jc_nomem(&c);
    else
        rc = jc_convert(&c, in, schema, &v);
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}

/* ================================================================================================
 */
/* Writer */

/* Inline appends: the writer is on the hot path and buf.c's functions are out of line. The NUL
 * terminator is written once at the end of each public writer (buf_reserve keeps room for it). */
static inline int jw_raw(buf_t *b, const void *p, size_t n)
{
    if (b->cap - b->len <= n || !b->cap) {
        if (buf_reserve(b, n) != 0)
            return -1;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int jw_c(buf_t *b, char c)
{
    if (b->cap - b->len <= 1 || !b->cap) {
        if (buf_reserve(b, 1) != 0)
            return -1;
    }
    b->data[b->len++] = c;
    return 0;
}

#define jw_lit(b, lit) jw_raw((b), (lit), sizeof(lit) - 1)

static void jw_terminate(buf_t *b)
{
    if (b->cap)
        b->data[b->len] = '\0';
}

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

static int jw_int(buf_t *b, int64_t i)
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
            rc = json_decimal_write(b, (const unsigned char *)v->u.s.ptr, v->u.s.len,
                                    json_decimal_scale(s));
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

/* ================================================================================================
 */
/* Schemas in Kafka Connect's JSON form */

static int jws(buf_t *b, const sluice_schema_t *s, int depth)
{
    int rc = 0;
    if (!s || depth > JSON_MAX_DEPTH)
        return -1;
    const char *tn = schema_type_name(s->type);
    rc |= jw_lit(b, "{\"type\":\"");
    rc |= jw_raw(b, tn, strlen(tn));
    rc |= jw_c(b, '"');
    switch (s->type) {
    case SLUICE_TYPE_STRUCT:
        rc |= jw_lit(b, ",\"fields\":[");
        for (size_t i = 0; i < s->nfields && !rc; i++) {
            if (i)
                rc |= jw_c(b, ',');
            /* a field is its schema object with "field" added last, as Connect writes it */
            if (jws(b, s->fields[i].schema, depth + 1) != 0)
                return -1;
            b->len--; /* drop the closing brace */
            rc |= jw_lit(b, ",\"field\":");
            rc |= json_write_string(b, s->fields[i].name, strlen(s->fields[i].name));
            rc |= jw_c(b, '}');
        }
        rc |= jw_c(b, ']');
        break;
    case SLUICE_TYPE_ARRAY:
        rc |= jw_lit(b, ",\"items\":");
        rc |= jws(b, s->items, depth + 1);
        break;
    case SLUICE_TYPE_MAP:
        rc |= jw_lit(b, ",\"keys\":");
        rc |= jws(b, s->keys, depth + 1);
        rc |= jw_lit(b, ",\"values\":");
        rc |= jws(b, s->values, depth + 1);
        break;
    default:
        break;
    }
    if (s->optional)
        rc |= jw_lit(b, ",\"optional\":true");
    else
        rc |= jw_lit(b, ",\"optional\":false");
    if (s->name) {
        rc |= jw_lit(b, ",\"name\":");
        rc |= json_write_string(b, s->name, strlen(s->name));
    }
    if (s->version) {
        rc |= jw_lit(b, ",\"version\":");
        rc |= jw_int(b, s->version);
    }
    if (s->doc) {
        rc |= jw_lit(b, ",\"doc\":");
        rc |= json_write_string(b, s->doc, strlen(s->doc));
    }
    if (s->nparams) {
        rc |= jw_lit(b, ",\"parameters\":{");
        for (size_t i = 0; i < s->nparams; i++) {
            if (i)
                rc |= jw_c(b, ',');
            rc |= json_write_string(b, s->params[i].key, strlen(s->params[i].key));
            rc |= jw_c(b, ':');
            rc |= json_write_string(b, s->params[i].value, strlen(s->params[i].value));
        }
        rc |= jw_c(b, '}');
    }
    rc |= jw_c(b, '}');
    return rc ? -1 : 0;
}

sluice_err_t json_write_schema(buf_t *out, const sluice_schema_t *schema)
{
    size_t mark = out->len;
    sluice_err_t rc = SLUICE_OK;
    if (!schema)
        rc = jw_lit(out, "null") ? SLUICE_ERR_NOMEM : SLUICE_OK;
    else if (jws(out, schema, 0) != 0)
        rc = SLUICE_ERR_NOMEM;
    if (rc != SLUICE_OK)
        out->len = mark;
    jw_terminate(out);
    return rc;
}

typedef struct js {
    schema_owner_t *o;
    char *err;
    size_t errsz;
} js_t;

SLUICE_PRINTF(2, 3)
static sluice_schema_t *js_fail(js_t *j, const char *fmt, ...)
{
    if (j->err && j->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err, j->errsz, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static const sluice_value_t *js_get(const sluice_value_t *v, const char *key)
{
    const sluice_value_t *f = value_get(v, key);
    return f && f->type != SLUICE_TYPE_NULL ? f : NULL;
}

static int js_type(const char *t, size_t n, sluice_type_t *out)
{
    static const struct {
        const char *name;
        sluice_type_t type;
    } names[] = {
        {"int8", SLUICE_TYPE_INT8},       {"int16", SLUICE_TYPE_INT16},
        {"int32", SLUICE_TYPE_INT32},     {"int64", SLUICE_TYPE_INT64},
        {"float", SLUICE_TYPE_FLOAT32},   {"float32", SLUICE_TYPE_FLOAT32},
        {"double", SLUICE_TYPE_FLOAT64},  {"float64", SLUICE_TYPE_FLOAT64},
        {"boolean", SLUICE_TYPE_BOOLEAN}, {"string", SLUICE_TYPE_STRING},
        {"bytes", SLUICE_TYPE_BYTES},     {"array", SLUICE_TYPE_ARRAY},
        {"map", SLUICE_TYPE_MAP},         {"struct", SLUICE_TYPE_STRUCT},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, t, n) == 0) {
            *out = names[i].type;
            return 0;
        }
    return -1;
}

static sluice_schema_t *js_build(js_t *j, const sluice_value_t *v, int depth)
{
    sluice_schema_t *s = NULL;
    sluice_type_t type;
    if (depth > JSON_MAX_DEPTH)
        return js_fail(j, "schema nested deeper than %d levels", JSON_MAX_DEPTH);
    if (!v || v->type != SLUICE_TYPE_MAP)
        return js_fail(j, "a schema must be a JSON object, found %s", v ? jc_found(v) : "nothing");
    const sluice_value_t *t = js_get(v, "type");
    if (!t || t->type != SLUICE_TYPE_STRING)
        return js_fail(j, "schema has no \"type\" (a string such as \"int32\" or \"struct\")");
    if (js_type(t->u.s.ptr, t->u.s.len, &type) != 0)
        return js_fail(j, "unknown schema type \"%.*s\"", (int)t->u.s.len, t->u.s.ptr);
    if (!(s = schema_new(j->o, type)))
        return js_fail(j, "out of memory");
    const sluice_value_t *f;
    if ((f = js_get(v, "optional"))) {
        if (f->type != SLUICE_TYPE_BOOLEAN)
            return js_fail(j, "schema \"optional\" must be a boolean");
        s->optional = f->u.b;
    }
    if ((f = js_get(v, "name"))) {
        if (f->type != SLUICE_TYPE_STRING)
            return js_fail(j, "schema \"name\" must be a string");
        if (schema_set_name(s, f->u.s.ptr) != SLUICE_OK)
            return js_fail(j, "out of memory");
    }
    if ((f = js_get(v, "doc"))) {
        if (f->type != SLUICE_TYPE_STRING)
            return js_fail(j, "schema \"doc\" must be a string");
        if (schema_set_doc(s, f->u.s.ptr) != SLUICE_OK)
            return js_fail(j, "out of memory");
    }
    if ((f = js_get(v, "version"))) {
        if (f->type != SLUICE_TYPE_INT64 || f->u.i < INT32_MIN || f->u.i > INT32_MAX)
            return js_fail(j, "schema \"version\" must be an integer");
        s->version = (int32_t)f->u.i;
    }
    if ((f = js_get(v, "parameters"))) {
        if (f->type != SLUICE_TYPE_MAP)
            return js_fail(j, "schema \"parameters\" must be an object");
        for (size_t i = 0; i < f->u.m.len; i++) {
            const sluice_value_t *pv = f->u.m.items[i].value;
            if (pv->type != SLUICE_TYPE_STRING)
                return js_fail(j, "schema parameter \"%s\" must be a string", f->u.m.items[i].name);
            if (schema_set_param(s, f->u.m.items[i].name, pv->u.s.ptr) != SLUICE_OK)
                return js_fail(j, "out of memory");
        }
    }
    switch (type) {
    case SLUICE_TYPE_STRUCT:
        f = js_get(v, "fields");
        if (!f || f->type != SLUICE_TYPE_ARRAY)
            return js_fail(j, "struct schema's \"fields\" must be an array");
        for (size_t i = 0; i < f->u.a.len; i++) {
            const sluice_value_t *fo = f->u.a.items[i];
            const sluice_value_t *name = fo->type == SLUICE_TYPE_MAP ? js_get(fo, "field") : NULL;
            if (!name || name->type != SLUICE_TYPE_STRING)
                return js_fail(j, "struct field %zu has no \"field\" name", i);
            const sluice_schema_t *fs = js_build(j, fo, depth + 1);
            if (!fs) {
                if (j->err && j->errsz) {
                    char inner[400];
                    snprintf(inner, sizeof inner, "%s", j->err);
                    js_fail(j, "field \"%s\": %s", name->u.s.ptr, inner);
                }
                return NULL;
            }
            if (schema_field_index(s, name->u.s.ptr) >= 0)
                return js_fail(j, "struct schema has field \"%s\" twice", name->u.s.ptr);
            if (schema_add_field(s, name->u.s.ptr, fs) != SLUICE_OK)
                return js_fail(j, "out of memory");
        }
        break;
    case SLUICE_TYPE_ARRAY:
        if (!(f = js_get(v, "items")))
            return js_fail(j, "array schema has no \"items\" schema");
        if (!(s->items = js_build(j, f, depth + 1)))
            return NULL;
        break;
    case SLUICE_TYPE_MAP:
        if (!(f = js_get(v, "keys")) || !js_get(v, "values"))
            return js_fail(j, "map schema needs \"keys\" and \"values\" schemas");
        if (!(s->keys = js_build(j, f, depth + 1)))
            return NULL;
        if (!(s->values = js_build(j, js_get(v, "values"), depth + 1)))
            return NULL;
        break;
    default:
        break;
    }
    return s;
}

sluice_schema_t *json_schema_from_value(schema_owner_t *o, const sluice_value_t *v, char *errstr,
                                        size_t errstr_size)
{
    /* Build into a private owner: on error everything made so far is freed at once. */
    schema_owner_t tmp;
    schema_owner_init(&tmp);
    js_t j = {.o = &tmp, .err = errstr, .errsz = errstr_size};
    if (errstr && errstr_size)
        errstr[0] = '\0';
    sluice_schema_t *s = js_build(&j, v, 0);
    if (!s) {
        schema_owner_free(&tmp);
        return NULL;
    }
    struct sluice_schema *tail = tmp.head;
    while (tail->owned_next)
        tail = tail->owned_next;
    tail->owned_next = o->head;
    o->head = tmp.head;
    return s;
}

sluice_schema_t *json_parse_schema(schema_owner_t *o, const char *text, size_t len, char *errstr,
                                   size_t errstr_size)
{
    arena_t a;
    sluice_value_t *v = NULL;
    sluice_schema_t *s = NULL;
    arena_init(&a, 4096);
    if (json_parse(&a, text, len, &v, errstr, errstr_size) != SLUICE_OK)
        goto out;
    s = json_schema_from_value(o, v, errstr, errstr_size);
out:
    arena_free(&a);
    return s;
}
