/* json_bytes.c — see json.h: how BYTES and Decimal values are spelled in JSON (base64, and
 * Decimal as decimal text), for both the reader and the writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

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

int json_decimal_scale(const sluice_schema_t *s)
{
    const char *v = schema_param(s, "scale");
    long l = v ? strtol(v, NULL, 10) : 0;
    if (l > JSON_DECIMAL_MAX_SCALE)
        return JSON_DECIMAL_MAX_SCALE + 1;
    if (l < -JSON_DECIMAL_MAX_SCALE)
        return -JSON_DECIMAL_MAX_SCALE - 1;
    return (int)l;
}

/* Decimal text (JSON number grammar) at `scale` → minimal two's complement bytes. */
sluice_err_t json_decimal_from_text(arena_t *a, const char *s, size_t len, int scale, void **out,
                                    size_t *out_len, char *why, size_t whysz)
{
    const char *q = s, *e = s + len;
    int neg = 0;
    long exp10 = 0;
    if (q < e && *q == '-') {
        neg = 1;
        q++;
    }
    if (scale > JSON_DECIMAL_MAX_SCALE || scale < -JSON_DECIMAL_MAX_SCALE) {
        snprintf(why, whysz, "the decimal's scale is out of range (at most %d either way)",
                 JSON_DECIMAL_MAX_SCALE);
        return SLUICE_ERR_INVALID;
    }
    /* Collect the significant digits and the power of ten they are scaled by. */
    char *digits = arena_alloc(a, len + 1);
    if (!digits)
        return SLUICE_ERR_NOMEM;
    size_t nd = 0;
    for (; q < e && *q >= '0' && *q <= '9'; q++)
        if (nd || *q != '0') /* leading zeros count for nothing */
            digits[nd++] = *q;
    if (q < e && *q == '.')
        for (q++; q < e && *q >= '0' && *q <= '9'; q++, exp10--)
            if (nd || *q != '0')
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
    if (nd && (shift > JSON_DECIMAL_MAX_DIGITS ||
               nd + (shift > 0 ? (size_t)shift : 0) > JSON_DECIMAL_MAX_DIGITS)) {
        snprintf(why, whysz, "decimal %.*s%s has more than %d digits at scale %d",
                 len > 60 ? 60 : (int)len, s, len > 60 ? "…" : "", JSON_DECIMAL_MAX_DIGITS, scale);
        return SLUICE_ERR_INVALID;
    }
    size_t total = nd ? nd + (shift > 0 ? (size_t)shift : 0) : 0;
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
int json_decimal_write(buf_t *out, const unsigned char *b, size_t len, int scale)
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
