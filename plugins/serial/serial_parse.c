/*
 * serial_parse.c — framing, field and firmware-sentence parsing for the serial source (pure).
 */
#include "serial_parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int serial_frame_next(const char *buf, size_t len, enum serial_term term, size_t *line_len,
                      size_t *consumed)
{
    const char *p = buf;
    const char *end = buf + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n;

        if (nl == NULL) {
            return 0;
        }
        n = (size_t)(nl - buf);
        if (term == SERIAL_TERM_CRLF) {
            if (n == 0 || buf[n - 1] != '\r') {
                p = nl + 1; /* a lone \n is data */
                continue;
            }
            *line_len = n - 1;
        } else if (term == SERIAL_TERM_AUTO && n > 0 && buf[n - 1] == '\r') {
            *line_len = n - 1;
        } else {
            *line_len = n;
        }
        *consumed = n + 1;
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    enum serial_ftype type;
} serial_ftypes[] = {
    {"int32", SERIAL_F_INT32},   {"int", SERIAL_F_INT32},       {"int64", SERIAL_F_INT64},
    {"long", SERIAL_F_INT64},    {"float64", SERIAL_F_FLOAT64}, {"double", SERIAL_F_FLOAT64},
    {"float", SERIAL_F_FLOAT64}, {"string", SERIAL_F_STRING},   {"boolean", SERIAL_F_BOOLEAN},
    {"bool", SERIAL_F_BOOLEAN},
};

const char *serial_ftype_name(enum serial_ftype t)
{
    switch (t) {
    case SERIAL_F_INT32:
        return "int32";
    case SERIAL_F_INT64:
        return "int64";
    case SERIAL_F_FLOAT64:
        return "float64";
    case SERIAL_F_STRING:
        return "string";
    case SERIAL_F_BOOLEAN:
        return "boolean";
    }
    return "?";
}

static int serial_is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

int serial_valid_name(const char *s, size_t len)
{
    if (len == 0 || !serial_is_alpha_(s[0])) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if (!serial_is_alpha_(s[i]) && !(s[i] >= '0' && s[i] <= '9')) {
            return 0;
        }
    }
    return 1;
}

int serial_valid_fullname(const char *s)
{
    const char *p = s;

    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);

        if (!serial_valid_name(p, n)) {
            return 0;
        }
        if (dot == NULL) {
            return 1;
        }
        p = dot + 1;
    }
}

static void serial_trim(const char **p, size_t *len)
{
    while (*len > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t')) {
        (*len)--;
    }
}

int serial_field_spec(const char *spec, char *name, size_t name_size, enum serial_ftype *type,
                      char *why, size_t why_size)
{
    const char *colon = strchr(spec, ':');
    const char *n = spec;
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *t = colon ? colon + 1 : "string";
    size_t tlen = strlen(t);

    serial_trim(&n, &nlen);
    serial_trim(&t, &tlen);
    if (!serial_valid_name(n, nlen) || nlen >= name_size) {
        snprintf(why, why_size,
                 "'%s': the field name must be a letter or '_' followed by letters, digits or "
                 "'_' (at most %zu bytes)",
                 spec, name_size - 1);
        return -1;
    }
    for (size_t i = 0; i < sizeof serial_ftypes / sizeof serial_ftypes[0]; i++) {
        if (strlen(serial_ftypes[i].name) == tlen && strncmp(serial_ftypes[i].name, t, tlen) == 0) {
            memcpy(name, n, nlen);
            name[nlen] = '\0';
            *type = serial_ftypes[i].type;
            return 0;
        }
    }
    snprintf(why, why_size,
             "'%s': unknown type '%.*s' (use int32, int64, float64, string or boolean)", spec,
             (int)tlen, t);
    return -1;
}

int serial_parse_int(const char *p, size_t len, int64_t min, int64_t max, int64_t *out)
{
    uint64_t v = 0;
    uint64_t limit;
    int neg = 0;
    size_t i = 0;

    serial_trim(&p, &len);
    if (len > 0 && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == len) {
        return -1;
    }
    limit = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
    if (neg && min >= 0) {
        limit = 0;
    }
    for (; i < len; i++) {
        unsigned d = (unsigned char)p[i] - '0';

        if (d > 9) {
            return -1;
        }
        if (d > limit || v > (limit - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == 0 ? 0 : -(int64_t)(v - 1) - 1;
    } else {
        *out = (int64_t)v;
    }
    return 0;
}

int serial_parse_double(const char *p, size_t len, double *out)
{
    char tmp[128];
    char *end;
    double d;

    serial_trim(&p, &len);
    if (len == 0 || len >= sizeof tmp) {
        return -1;
    }
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    errno = 0;
    d = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(d) || (errno == ERANGE && fabs(d) > 1.0)) {
        return -1;
    }
    *out = d;
    return 0;
}

int serial_parse_bool(const char *p, size_t len, int *out)
{
    serial_trim(&p, &len);
    if ((len == 4 && strncasecmp(p, "true", 4) == 0) || (len == 1 && p[0] == '1')) {
        *out = 1;
        return 0;
    }
    if ((len == 5 && strncasecmp(p, "false", 5) == 0) || (len == 1 && p[0] == '0')) {
        *out = 0;
        return 0;
    }
    return -1;
}

int serial_utf8_valid(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp;

        if (c == 0) {
            return 0;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

static int serial_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Digits only (no sign, no spaces), at most 18 of them so the value fits an int64. */
static int serial_digits(const char *p, size_t len, int64_t *out)
{
    int64_t v = 0;

    if (len == 0 || len > 18) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int serial_firmware_parse(const char *line, size_t len, int64_t *seq, int32_t *adc, char *why,
                          size_t why_size)
{
    static const char tag[] = "LUZ,";
    const char *star;
    const char *body;
    const char *comma;
    size_t blen;
    unsigned sum = 0;
    int hi, lo;
    int64_t s, a;

    if (len < 1 || line[0] != '$') {
        snprintf(why, why_size, "not a firmware sentence: it does not start with '$'");
        return -1;
    }
    star = memchr(line, '*', len);
    if (star == NULL) {
        snprintf(why, why_size, "not a firmware sentence: no '*' before the checksum");
        return -1;
    }
    if ((size_t)(line + len - star) != 3) {
        snprintf(why, why_size,
                 "malformed firmware sentence: the checksum after '*' must be "
                 "exactly two hex digits");
        return -1;
    }
    hi = serial_hex(star[1]);
    lo = serial_hex(star[2]);
    if (hi < 0 || lo < 0) {
        snprintf(why, why_size, "malformed firmware sentence: checksum '%c%c' is not hex", star[1],
                 star[2]);
        return -1;
    }
    body = line + 1;
    blen = (size_t)(star - body);
    if (blen < sizeof tag - 1 || memcmp(body, tag, sizeof tag - 1) != 0) {
        snprintf(why, why_size, "malformed firmware sentence: expected '$LUZ,<seq>,<adc>*<HH>'");
        return -1;
    }
    comma = memchr(body + 4, ',', blen - 4);
    if (comma == NULL || serial_digits(body + 4, (size_t)(comma - body - 4), &s) != 0 ||
        serial_digits(comma + 1, (size_t)(star - comma - 1), &a) != 0 || a > INT32_MAX) {
        snprintf(why, why_size,
                 "malformed firmware sentence: expected '$LUZ,<seq>,<adc>*<HH>' "
                 "with decimal numbers");
        return -1;
    }
    /* The firmware counts in a uint32: a larger number is corruption that the XOR checksum
     * missed, and would count ~10^17 lines lost as a gap (found by tests/fuzz/fuzz_serial). */
    if (s > SERIAL_SEQ_WRAP) {
        snprintf(why, why_size,
                 "malformed firmware sentence: sequence number %lld is beyond the firmware's "
                 "counter (at most %lld)",
                 (long long)s, SERIAL_SEQ_WRAP);
        return -1;
    }
    for (size_t i = 0; i < blen; i++) {
        sum ^= (unsigned char)body[i];
    }
    if (sum != (unsigned)(hi << 4 | lo)) {
        snprintf(why, why_size, "checksum mismatch: the sentence says %c%c, its bytes give %02X",
                 star[1], star[2], sum);
        return -2;
    }
    *seq = s;
    *adc = (int32_t)a;
    return 0;
}

enum serial_seq_event serial_seq_update(struct serial_seq *s, int64_t seq, int64_t *lost)
{
    enum serial_seq_event ev;

    *lost = 0;
    if (!s->have) {
        ev = SERIAL_SEQ_FIRST;
    } else if (seq == s->last + 1 || (s->last == SERIAL_SEQ_WRAP && seq == 0)) {
        ev = SERIAL_SEQ_NEXT;
    } else if (seq > s->last) {
        ev = SERIAL_SEQ_GAP;
        *lost = seq - s->last - 1;
    } else if (seq == 0) {
        ev = SERIAL_SEQ_RESET;
    } else {
        ev = SERIAL_SEQ_BACK;
    }
    s->have = 1;
    s->last = seq;
    return ev;
}
