/*
 * rowdecode.c — mysql-cdc binlog mode: column values as Debezium gives them, from the binlog's
 * binary row images and from snapshot rows (text protocol). The change event around them is
 * envelope.c's.
 *
 * The row images are decoded here rather than with Connector/C's mariadb_rpl_extract_rows: in 3.3
 * it allocates every row and value (a hot-path malloc per field), returns DECIMAL as text without
 * its scale rules for negative values, drops the fractional digits of TIME2/DATETIME2 of odd
 * precisions, gives no sign to negative TIME2 values with fractions, and knows neither the
 * member lists of ENUM/SET nor the bit length of BIT. The formats are MySQL's documented binlog
 * encodings (sql/log_event.cc, my_time.c, decimal.c in the server).
 */
#include "cdc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"

/* An intermediate form of a column value, whatever it came from. */
struct cv {
    enum { CV_NULL, CV_INT, CV_UINT, CV_DBL, CV_STR, CV_DT, CV_TIME, CV_TS, CV_DEC } tag;
    int64_t i;
    uint64_t u;
    double f;
    const uint8_t *s;
    size_t n;
    int y, mo, d, hh, mi, ss;
    int64_t us;  /* CV_DT/CV_TS: fraction µs; CV_TIME: the whole value in µs */
    int64_t sec; /* CV_TS */
    char dec[96];
};

/* Decimal text (optional '-', digits, optional '.digits') to the unscaled two's complement
 * big-endian bytes Connect's Decimal holds (BigInteger.toByteArray: minimal). */
static size_t cdc_dec_bytes(const char *s, uint8_t *out, size_t cap)
{
    uint8_t le[64] = {0};
    size_t n = 1;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    } else if (*s == '+') {
        s++;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            continue;
        unsigned carry = (unsigned)(*s - '0');
        for (size_t i = 0; i < n; i++) {
            unsigned v = le[i] * 10u + carry;
            le[i] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry && n < sizeof le)
            le[n++] = (uint8_t)carry;
    }
    le[n++] = 0; /* room for the sign bit */
    if (neg) {
        unsigned carry = 1;
        for (size_t i = 0; i < n; i++) {
            unsigned v = (uint8_t)~le[i] + carry;
            le[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    /* minimal: drop redundant sign bytes */
    while (n > 1 &&
           ((le[n - 1] == 0 && !(le[n - 2] & 0x80)) || (le[n - 1] == 0xff && (le[n - 2] & 0x80))))
        n--;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++)
        out[i] = le[n - 1 - i];
    return n;
}

static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static sluice_value_t *cdc_text_value(struct cdc *c, sluice_record_t *rec, enum cdc_charset cs,
                                      const uint8_t *s, size_t n)
{
    const struct sluice_host *h = c->h;
    if (cs != CS_LATIN1)
        return h->value_string(rec, (const char *)s, n);
    size_t i;
    for (i = 0; i < n && s[i] < 0x80; i++)
        ;
    if (i == n)
        return h->value_string(rec, (const char *)s, n);
    /* MySQL's latin1 is Windows-1252 */
    h->buf_reset(c->tmp);
    h->buf_append(c->tmp, s, i);
    for (; i < n; i++) {
        unsigned cp = s[i] < 0x80 ? s[i] : s[i] < 0xA0 ? cp1252_high[s[i] - 0x80] : s[i];
        uint8_t o[3];
        size_t k;
        if (cp < 0x80) {
            o[0] = (uint8_t)cp;
            k = 1;
        } else if (cp < 0x800) {
            o[0] = (uint8_t)(0xC0 | (cp >> 6));
            o[1] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 2;
        } else {
            o[0] = (uint8_t)(0xE0 | (cp >> 12));
            o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            o[2] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 3;
        }
        h->buf_append(c->tmp, o, k);
    }
    return h->value_string(rec, h->buf_data(c->tmp), h->buf_len(c->tmp));
}

static sluice_value_t *cdc_bytes_value(struct cdc *c, sluice_record_t *rec, const uint8_t *s,
                                       size_t n)
{
    const struct sluice_host *h = c->h;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (c->bin_mode == BIN_BYTES)
        return h->value_bytes(rec, s, n);
    h->buf_reset(c->tmp);
    if (c->bin_mode == BIN_HEX) {
        static const char hx[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
            char o[2] = {hx[s[i] >> 4], hx[s[i] & 15]};
            h->buf_append(c->tmp, o, 2);
        }
    } else {
        const char *a = c->bin_mode == BIN_BASE64 ? b64 : b64u;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)s[i] << 16;
            if (i + 1 < n)
                v |= (uint32_t)s[i + 1] << 8;
            if (i + 2 < n)
                v |= s[i + 2];
            char o[4] = {a[(v >> 18) & 63], a[(v >> 12) & 63], i + 1 < n ? a[(v >> 6) & 63] : '=',
                         i + 2 < n ? a[v & 63] : '='};
            h->buf_append(c->tmp, o, 4);
        }
    }
    return h->value_string(rec, h->buf_data(c->tmp), h->buf_len(c->tmp));
}

/* A value of the column's kind from the intermediate form. */
static sluice_value_t *cdc_make(struct cdc *c, sluice_record_t *rec, const struct cdc_col *col,
                                struct cv *v)
{
    const struct sluice_host *h = c->h;
    if (v->tag == CV_NULL)
        return h->value_null(rec);
    switch (col->kind) {
    case K_INT16:
    case K_INT32:
    case K_INT64:
    case K_YEAR: {
        sluice_type_t t = col->kind == K_INT16   ? SLUICE_TYPE_INT16
                          : col->kind == K_INT64 ? SLUICE_TYPE_INT64
                                                 : SLUICE_TYPE_INT32;
        int64_t x = v->tag == CV_UINT ? (int64_t)v->u : v->tag == CV_DBL ? (int64_t)v->f : v->i;
        return h->value_int(rec, t, x);
    }
    case K_U64:
        if (c->bigint_precise) {
            char txt[24];
            uint8_t b[16];
            snprintf(txt, sizeof txt, "%" PRIu64, v->tag == CV_UINT ? v->u : (uint64_t)v->i);
            return h->value_bytes(rec, b, cdc_dec_bytes(txt, b, sizeof b));
        }
        return h->value_int(rec, SLUICE_TYPE_INT64, v->tag == CV_UINT ? (int64_t)v->u : v->i);
    case K_FLOAT32:
        return h->value_float(rec, SLUICE_TYPE_FLOAT32, (double)(float)v->f);
    case K_FLOAT64:
        return h->value_float(rec, SLUICE_TYPE_FLOAT64, v->f);
    case K_DECIMAL:
        if (c->dec_mode == DEC_PRECISE) {
            uint8_t b[40];
            return h->value_bytes(rec, b, cdc_dec_bytes(v->dec, b, sizeof b));
        }
        if (c->dec_mode == DEC_DOUBLE)
            return h->value_float(rec, SLUICE_TYPE_FLOAT64, strtod(v->dec, NULL));
        return h->value_string(rec, v->dec, strlen(v->dec));
    case K_STRING:
    case K_JSON:
        return cdc_text_value(c, rec, col->cs, v->s, v->n);
    case K_BYTES:
    case K_OTHER:
        return cdc_bytes_value(c, rec, v->s, v->n);
    case K_ENUM: {
        if (v->tag == CV_STR)
            return h->value_string(rec, (const char *)v->s, v->n);
        uint64_t k = v->u;
        if (k >= 1 && k <= col->nvalues)
            return h->value_string(rec, col->values[k - 1], strlen(col->values[k - 1]));
        return h->value_string(rec, "", 0);
    }
    case K_SET: {
        if (v->tag == CV_STR)
            return h->value_string(rec, (const char *)v->s, v->n);
        h->buf_reset(c->tmp);
        for (size_t k = 0; k < col->nvalues && k < 64; k++)
            if (v->u & ((uint64_t)1 << k)) {
                if (h->buf_len(c->tmp))
                    h->buf_append(c->tmp, ",", 1);
                h->buf_append(c->tmp, col->values[k], strlen(col->values[k]));
            }
        return h->value_string(rec, h->buf_data(c->tmp), h->buf_len(c->tmp));
    }
    case K_BOOL:
        return h->value_bool(rec, v->n ? v->s[v->n - 1] & 1 : 0);
    case K_BITS: {
        /* Debezium's Bits: little-endian, (length + 7) / 8 bytes */
        uint8_t b[8] = {0};
        size_t want = (size_t)(col->bits + 7) / 8;
        for (size_t k = 0; k < want && k < v->n && k < sizeof b; k++)
            b[k] = v->s[v->n - 1 - k];
        return h->value_bytes(rec, b, want > sizeof b ? sizeof b : want);
    }
    case K_DATE:
        if (v->mo == 0 || v->d == 0) /* zero dates */
            return col->nullable ? h->value_null(rec) : h->value_int(rec, SLUICE_TYPE_INT32, 0);
        return h->value_int(rec, SLUICE_TYPE_INT32, calendar_days_from_civil(v->y, v->mo, v->d));
    case K_DATETIME: {
        if (v->mo == 0 || v->d == 0)
            return col->nullable ? h->value_null(rec) : h->value_int(rec, SLUICE_TYPE_INT64, 0);
        int64_t s =
            calendar_days_from_civil(v->y, v->mo, v->d) * 86400 + v->hh * 3600 + v->mi * 60 + v->ss;
        int64_t us = s * 1000000 + v->us;
        int micro = !c->time_connect && col->fsp > 3;
        return h->value_int(rec, SLUICE_TYPE_INT64,
                            micro ? us : (us >= 0 ? us / 1000 : -((-us + 999) / 1000)));
    }
    case K_TIMESTAMP: {
        int64_t s = v->sec;
        int64_t us = v->us;
        if (v->tag == CV_DT)
            s = calendar_days_from_civil(v->y, v->mo, v->d) * 86400 + v->hh * 3600 + v->mi * 60 +
                v->ss;
        if (v->tag == CV_DT && (v->mo == 0 || v->d == 0))
            return col->nullable ? h->value_null(rec)
                                 : h->value_string(rec, "1970-01-01T00:00:00Z", 20);
        int64_t y;
        int mo, d;
        int64_t days = calendar_floor_div(s, 86400);
        int64_t rem = s - days * 86400;
        calendar_civil_from_days(days, &y, &mo, &d);
        char txt[48];
        int n = snprintf(txt, sizeof txt, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, mo, d,
                         (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
        if (col->fsp > 0) {
            char f[8];
            snprintf(f, sizeof f, "%06lld", (long long)us);
            n += snprintf(txt + n, sizeof txt - (size_t)n, ".%.*s", col->fsp, f);
        }
        txt[n++] = 'Z';
        return h->value_string(rec, txt, (size_t)n);
    }
    case K_TIME:
        if (c->time_connect)
            return h->value_int(rec, SLUICE_TYPE_INT32, v->us / 1000);
        return h->value_int(rec, SLUICE_TYPE_INT64, v->us);
    }
    return h->value_null(rec);
}

/* -- snapshot rows (text protocol) ------------------------------------------------------------ */

static int cdc_num(const char **p, int max)
{
    int v = 0, k = 0;
    while (**p >= '0' && **p <= '9' && k < max) {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    return v;
}

static int64_t cdc_frac_us(const char **p)
{
    if (**p != '.')
        return 0;
    (*p)++;
    int64_t v = 0;
    int k = 0;
    while (**p >= '0' && **p <= '9') {
        if (k < 6) {
            v = v * 10 + (**p - '0');
            k++;
        }
        (*p)++;
    }
    while (k++ < 6)
        v *= 10;
    return v;
}

sluice_value_t *cdc_value_text(struct cdc *c, sluice_record_t *rec, const struct cdc_col *col,
                               const char *s, size_t len)
{
    struct cv v = {.tag = CV_STR, .s = (const uint8_t *)s, .n = len};
    if (!s)
        return c->h->value_null(rec);
    if (col->kind == K_STRING || col->kind == K_JSON) /* the connection's utf8mb4 */
        return c->h->value_string(rec, s, len);
    const char *p = s;
    switch (col->kind) {
    case K_INT16:
    case K_INT32:
    case K_INT64:
    case K_YEAR:
        v.tag = CV_INT;
        v.i = strtoll(s, NULL, 10);
        break;
    case K_U64:
        v.tag = CV_UINT;
        v.u = strtoull(s, NULL, 10);
        break;
    case K_FLOAT32:
    case K_FLOAT64:
        v.tag = CV_DBL;
        v.f = strtod(s, NULL);
        break;
    case K_DECIMAL:
        v.tag = CV_DEC;
        snprintf(v.dec, sizeof v.dec, "%.*s", (int)len, s);
        break;
    case K_DATE:
    case K_DATETIME:
    case K_TIMESTAMP:
        v.tag = CV_DT;
        v.y = cdc_num(&p, 4);
        p += *p == '-';
        v.mo = cdc_num(&p, 2);
        p += *p == '-';
        v.d = cdc_num(&p, 2);
        if (*p == ' ') {
            p++;
            v.hh = cdc_num(&p, 2);
            p += *p == ':';
            v.mi = cdc_num(&p, 2);
            p += *p == ':';
            v.ss = cdc_num(&p, 2);
            v.us = cdc_frac_us(&p);
        }
        break;
    case K_TIME: {
        int neg = *p == '-';
        p += neg;
        int hh = cdc_num(&p, 4);
        p += *p == ':';
        int mi = cdc_num(&p, 2);
        p += *p == ':';
        int ss = cdc_num(&p, 2);
        int64_t us = ((int64_t)hh * 3600 + mi * 60 + ss) * 1000000 + cdc_frac_us(&p);
        v.tag = CV_TIME;
        v.us = neg ? -us : us;
        break;
    }
    default:
        break;
    }
    return cdc_make(c, rec, col, &v);
}

/* -- binlog row images ------------------------------------------------------------------------ */

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

/* The server's limits (MySQL's DECIMAL_MAX_PRECISION, DATETIME_MAX_DECIMALS): the decoders'
 * buffers are sized for them, so metadata beyond them is refused, not trusted. */
#define CDC_DECIMAL_MAX_PRECISION 65
#define CDC_MAX_FSP               6

static int cdc_decimal_meta_ok(int prec, int scale)
{
    return prec >= 1 && prec <= CDC_DECIMAL_MAX_PRECISION && scale >= 0 && scale <= prec;
}

static long cdc_decimal_size(int prec, int scale)
{
    if (!cdc_decimal_meta_ok(prec, scale))
        return -1;
    int intg = prec - scale;
    return (intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 + dig2bytes[scale % 9];
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* MySQL's binary DECIMAL to text with exactly `scale` fraction digits. */
static void cdc_decimal_text(const uint8_t *src, int prec, int scale, char *out, size_t cap)
{
    uint8_t b[40];                             /* 65 digits take 30 bytes */
    long size = cdc_decimal_size(prec, scale); /* the caller checked the metadata */
    if (size < 0 || size > (long)sizeof b) {   /* never, after that check: said for the compiler */
        if (cap)
            out[0] = '\0';
        return;
    }
    memcpy(b, src, (size_t)size);
    int neg = !(b[0] & 0x80);
    b[0] ^= 0x80;
    if (neg)
        for (long i = 0; i < size; i++)
            b[i] = (uint8_t)~b[i];
    int intg = prec - scale, intg0 = intg / 9, intg0x = intg % 9;
    int frac0 = scale / 9, frac0x = scale % 9;
    char digits[100];
    size_t nd = 0;
    const uint8_t *p = b;
    if (intg0x) {
        int k = dig2bytes[intg0x];
        nd += (size_t)snprintf(digits + nd, sizeof digits - nd, "%0*u", intg0x, (unsigned)be(p, k));
        p += k;
    }
    for (int i = 0; i < intg0; i++, p += 4)
        nd += (size_t)snprintf(digits + nd, sizeof digits - nd, "%09u", (unsigned)be(p, 4));
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    size_t z = 0;
    while (z + 1 < nd && digits[z] == '0')
        z++;
    if (nd == 0)
        out[o++] = '0';
    for (size_t i = z; i < nd && o < cap - 1; i++)
        out[o++] = digits[i];
    if (scale > 0) {
        out[o++] = '.';
        nd = 0;
        for (int i = 0; i < frac0; i++, p += 4)
            nd += (size_t)snprintf(digits + nd, sizeof digits - nd, "%09u", (unsigned)be(p, 4));
        if (frac0x) {
            int k = dig2bytes[frac0x];
            nd += (size_t)snprintf(digits + nd, sizeof digits - nd, "%0*u", frac0x,
                                   (unsigned)be(p, k));
        }
        for (size_t i = 0; i < nd && o < cap - 1; i++)
            out[o++] = digits[i];
    }
    out[o] = 0;
    /* "-0.00" is "0.00" */
    if (neg) {
        int allzero = 1;
        for (size_t i = 1; i < o; i++)
            if (out[i] >= '1' && out[i] <= '9')
                allzero = 0;
        if (allzero)
            memmove(out, out + 1, o);
    }
}

/* Fraction bytes of TIME2/DATETIME2/TIMESTAMP2 with `fsp` digits. */
static int frac_len(int fsp)
{
    return (fsp + 1) / 2;
}

long cdc_binlog_size(uint8_t type, uint16_t meta, const uint8_t *p, const uint8_t *end)
{
    int m0 = meta & 0xff, m1 = meta >> 8;
    long n;
    switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_YEAR:
        return 1;
    case MYSQL_TYPE_SHORT:
        return 2;
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_TIME:
        return 3;
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_TIMESTAMP:
        return 4;
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_DATETIME:
        return 8;
    case MYSQL_TYPE_TIME2:
        return m0 > CDC_MAX_FSP ? -1 : 3 + frac_len(m0);
    case MYSQL_TYPE_DATETIME2:
        return m0 > CDC_MAX_FSP ? -1 : 5 + frac_len(m0);
    case MYSQL_TYPE_TIMESTAMP2:
        return m0 > CDC_MAX_FSP ? -1 : 4 + frac_len(m0);
    case MYSQL_TYPE_NEWDECIMAL:
        return cdc_decimal_size(m0, m1);
    case MYSQL_TYPE_BIT:
        return m1 + (m0 ? 1 : 0);
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
        if (meta > 255) {
            if (end - p < 2)
                return -1;
            return 2 + (long)le(p, 2);
        }
        if (end - p < 1)
            return -1;
        return 1 + p[0];
    case MYSQL_TYPE_STRING: {
        int real = m0, maxlen = m1;
        if ((m0 & 0x30) != 0x30) {
            real = m0 | 0x30;
            maxlen = (((m0 & 0x30) ^ 0x30) << 4) | m1;
        }
        if (real == MYSQL_TYPE_ENUM || real == MYSQL_TYPE_SET)
            return m1;
        if (maxlen > 255) {
            if (end - p < 2)
                return -1;
            return 2 + (long)le(p, 2);
        }
        if (end - p < 1)
            return -1;
        return 1 + p[0];
    }
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_GEOMETRY:
    case MYSQL_TYPE_JSON:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
        if (m0 < 1 || m0 > 4 || end - p < m0)
            return -1;
        n = (long)le(p, m0);
        return m0 + n;
    case MYSQL_TYPE_NULL:
        return 0;
    default:
        return -1;
    }
}

sluice_value_t *cdc_value_binlog(struct cdc *c, sluice_record_t *rec, const struct cdc_col *col,
                                 uint8_t type, uint16_t meta, const uint8_t **pp,
                                 const uint8_t *end)
{
    const uint8_t *p = *pp;
    int m0 = meta & 0xff, m1 = meta >> 8;
    if (type == MYSQL_TYPE_NEWDECIMAL && !cdc_decimal_meta_ok(m0, m1)) {
        snprintf(c->bad, sizeof c->bad,
                 "column '%s': DECIMAL precision %d scale %d in the table map (the server allows "
                 "precision 1 to %d and a scale up to the precision)",
                 col->name ? col->name : "?", m0, m1, CDC_DECIMAL_MAX_PRECISION);
        return NULL;
    }
    if ((type == MYSQL_TYPE_TIME2 || type == MYSQL_TYPE_DATETIME2 ||
         type == MYSQL_TYPE_TIMESTAMP2) &&
        m0 > CDC_MAX_FSP) {
        snprintf(c->bad, sizeof c->bad,
                 "column '%s': fractional seconds precision %d in the table map (at most %d)",
                 col->name ? col->name : "?", m0, CDC_MAX_FSP);
        return NULL;
    }
    long size = cdc_binlog_size(type, meta, p, end);
    if (size < 0 || end - p < size) {
        snprintf(c->bad, sizeof c->bad, "column '%s': the row image ends inside its value",
                 col->name ? col->name : "?");
        return NULL;
    }
    *pp = p + size;
    struct cv v = {.tag = CV_INT};
    int u = col->is_unsigned;
    switch (type) {
    case MYSQL_TYPE_TINY:
        if (u)
            v.i = p[0];
        else
            v.i = (int8_t)p[0];
        break;
    case MYSQL_TYPE_SHORT:
        v.i = u ? (int64_t)le(p, 2) : (int16_t)le(p, 2);
        break;
    case MYSQL_TYPE_INT24: {
        uint32_t x = (uint32_t)le(p, 3);
        v.i = u ? x : (x & 0x800000 ? (int64_t)x - 0x1000000 : x);
        break;
    }
    case MYSQL_TYPE_LONG:
        v.i = u ? (int64_t)le(p, 4) : (int32_t)le(p, 4);
        break;
    case MYSQL_TYPE_LONGLONG:
        v.tag = u ? CV_UINT : CV_INT;
        v.u = le(p, 8);
        v.i = (int64_t)v.u;
        break;
    case MYSQL_TYPE_YEAR:
        v.i = p[0] ? 1900 + p[0] : 0;
        break;
    case MYSQL_TYPE_FLOAT: {
        float f;
        uint32_t x = (uint32_t)le(p, 4);
        memcpy(&f, &x, 4);
        v.tag = CV_DBL;
        v.f = f;
        break;
    }
    case MYSQL_TYPE_DOUBLE: {
        uint64_t x = le(p, 8);
        memcpy(&v.f, &x, 8);
        v.tag = CV_DBL;
        break;
    }
    case MYSQL_TYPE_NEWDECIMAL:
        v.tag = CV_DEC;
        cdc_decimal_text(p, m0, m1, v.dec, sizeof v.dec);
        break;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: {
        uint32_t x = (uint32_t)le(p, 3);
        v.tag = CV_DT;
        v.d = (int)(x & 31);
        v.mo = (int)((x >> 5) & 15);
        v.y = (int)(x >> 9);
        break;
    }
    case MYSQL_TYPE_DATETIME: {
        uint64_t x = le(p, 8);
        uint64_t dpart = x / 1000000, tpart = x % 1000000;
        if (dpart / 10000 > 9999)
            goto range;
        v.tag = CV_DT;
        v.y = (int)(dpart / 10000);
        v.mo = (int)(dpart / 100 % 100);
        v.d = (int)(dpart % 100);
        v.hh = (int)(tpart / 10000);
        v.mi = (int)(tpart / 100 % 100);
        v.ss = (int)(tpart % 100);
        break;
    }
    case MYSQL_TYPE_DATETIME2: {
        /* 5 bytes big-endian: sign bit, 17 bits year*13+month, 5 day, 5 hour, 6 min, 6 sec */
        int64_t intpart = (int64_t)be(p, 5) - 0x8000000000LL;
        int64_t frac = 0;
        int fl = frac_len(m0);
        if (intpart < 0) /* DATETIME has no negative values */
            goto range;
        if (fl)
            frac = (int64_t)be(p + 5, fl) * (fl == 1 ? 10000 : fl == 2 ? 100 : 1);
        int64_t ymd = intpart >> 17, hms = intpart % (1 << 17);
        int64_t ym = ymd >> 5;
        v.tag = CV_DT;
        v.d = (int)(ymd % 32);
        v.mo = (int)(ym % 13);
        v.y = (int)(ym / 13);
        v.ss = (int)(hms % 64);
        v.mi = (int)((hms >> 6) % 64);
        v.hh = (int)(hms >> 12);
        v.us = frac;
        break;
    }
    case MYSQL_TYPE_TIMESTAMP:
        v.tag = CV_TS;
        v.sec = (int64_t)le(p, 4);
        break;
    case MYSQL_TYPE_TIMESTAMP2: {
        int fl = frac_len(m0);
        v.tag = CV_TS;
        v.sec = (int64_t)be(p, 4);
        if (fl)
            v.us = (int64_t)be(p + 4, fl) * (fl == 1 ? 10000 : fl == 2 ? 100 : 1);
        break;
    }
    case MYSQL_TYPE_TIME: {
        uint32_t x = (uint32_t)le(p, 3);
        int64_t t = x & 0x800000 ? (int64_t)x - 0x1000000 : x;
        int neg = t < 0;
        if (neg)
            t = -t;
        int64_t us = ((t / 10000) * 3600 + (t / 100 % 100) * 60 + t % 100) * 1000000;
        v.tag = CV_TIME;
        v.us = neg ? -us : us;
        break;
    }
    case MYSQL_TYPE_TIME2: {
        /* 3 bytes big-endian offset by 0x800000 (1 sign bit, 10 hour, 6 min, 6 sec), then the
         * fraction; a negative value with a fraction borrows one second. */
        int fl = frac_len(m0);
        int64_t intpart = (int64_t)be(p, 3) - 0x800000;
        int64_t frac = 0;
        if (fl == 1 || fl == 2) {
            frac = (int64_t)be(p + 3, fl);
            if (intpart < 0 && frac) {
                intpart++;
                frac -= fl == 1 ? 0x100 : 0x10000;
            }
            frac *= fl == 1 ? 10000 : 100;
        } else if (fl == 3) {
            int64_t packed = (int64_t)be(p, 6) - 0x800000000000LL;
            intpart = packed >= 0 ? packed / 16777216 : -((-packed + 16777215) / 16777216);
            frac = packed - intpart * 16777216;
        }
        int64_t packed = intpart * 16777216 + frac;
        int neg = packed < 0;
        if (neg)
            packed = -packed;
        int64_t ip = packed >> 24, fr = packed % (1 << 24);
        int64_t hh = (ip >> 12) % (1 << 10), mi = (ip >> 6) % 64, ss = ip % 64;
        int64_t us = ((hh * 60 + mi) * 60 + ss) * 1000000 + fr;
        v.tag = CV_TIME;
        v.us = neg ? -us : us;
        break;
    }
    case MYSQL_TYPE_BIT:
        v.tag = CV_STR;
        v.s = p;
        v.n = (size_t)size;
        break;
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING: {
        int lb = meta > 255 ? 2 : 1;
        v.tag = CV_STR;
        v.s = p + lb;
        v.n = (size_t)size - (size_t)lb;
        break;
    }
    case MYSQL_TYPE_STRING: {
        int real = m0;
        int maxlen = m1;
        if ((m0 & 0x30) != 0x30) {
            real = m0 | 0x30;
            maxlen = (((m0 & 0x30) ^ 0x30) << 4) | m1;
        }
        if (real == MYSQL_TYPE_ENUM || real == MYSQL_TYPE_SET) {
            v.tag = CV_UINT;
            v.u = le(p, (int)size);
            break;
        }
        int lb = maxlen > 255 ? 2 : 1;
        v.tag = CV_STR;
        v.s = p + lb;
        v.n = (size_t)size - (size_t)lb;
        if (col->padlen > 0 && v.n < (size_t)col->padlen && col->padlen <= 255) {
            /* BINARY(n) holds n bytes, but the binlog drops its trailing zeros */
            uint8_t pad[256] = {0};
            memcpy(pad, v.s, v.n);
            v.s = pad;
            v.n = (size_t)col->padlen;
            return cdc_make(c, rec, col, &v);
        }
        break;
    }
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_GEOMETRY:
    case MYSQL_TYPE_JSON:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
        v.tag = CV_STR;
        v.s = p + m0;
        v.n = (size_t)size - (size_t)m0;
        break;
    case MYSQL_TYPE_NULL:
        v.tag = CV_NULL;
        break;
    default:
        snprintf(c->bad, sizeof c->bad, "column '%s': binlog type %u is not supported",
                 col->name ? col->name : "?", type);
        return NULL;
    }
    /* Calendar parts beyond a DATETIME's range would overflow the arithmetic of cdc_make. */
    if (v.tag == CV_DT &&
        (v.y < 0 || v.y > 9999 || v.mo < 0 || v.mo > 12 || v.d < 0 || v.d > 31 || v.hh < 0 ||
         v.hh > 23 || v.mi < 0 || v.mi > 59 || v.ss < 0 || v.ss > 59 || v.us < 0 || v.us > 999999))
        goto range;
    /* A BIT column read from bytes, a BOOL from BIT(1) */
    return cdc_make(c, rec, col, &v);
range:
    snprintf(c->bad, sizeof c->bad, "column '%s': date/time value out of range in the row image",
             col->name ? col->name : "?");
    return NULL;
}
