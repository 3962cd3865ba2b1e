/* json_internal.h — what the parts of the JSON module (json_read.c, json_bytes.c, json_envelope.c,
 * json_write.c, json_schema.c) share: the reader's state and lexing steps, the writer's inline
 * appends, Decimal text. Not for use outside core/json_*.c; the API is json.h. */
#ifndef SLUICE_JSON_INTERNAL_H
#define SLUICE_JSON_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_DEPTH 256

/* -- reader (json_read.c) ---------------------------------------------------------------------- */

typedef struct jp {
    const char *start, *p, *end;
    size_t base; /* offset of `start` in the caller's text, for messages */
    arena_t *a;
    char *err;
    size_t errsz;
    int depth;
} jp_t;

static inline void jp_ws(jp_t *p)
{
    while (p->p < p->end && (*p->p == ' ' || *p->p == '\n' || *p->p == '\r' || *p->p == '\t'))
        p->p++;
}

SLUICE_PRINTF(3, 4)
sluice_err_t jp_fail(jp_t *p, const char *at, const char *fmt, ...);
sluice_err_t jp_nomem(jp_t *p);
void jp_prefix_field(jp_t *p, const char *name);
const char *jp_found(jp_t *p);
sluice_err_t jp_unexpected(jp_t *p);
sluice_err_t jp_expect(jp_t *p, char c);
size_t json_utf8_len(const unsigned char *s, const unsigned char *end);
sluice_err_t jp_unescape(jp_t *p, const char *s, const char *e, char *d, size_t *out_len);
sluice_err_t jp_string_raw(jp_t *p, const char **body, const char **body_end, int *escaped);
sluice_err_t jp_string(jp_t *p, const char **out, size_t *out_len);
sluice_err_t jp_string_value(jp_t *p, sluice_value_t **out);
/* Maps of more keys than JSON_OBJECT_SEARCHED (objects, and maps read with a schema) append every
 * key without searching for it and, when one may repeat, resolve the repeats once at the end by
 * sorting (O(n log n)): a search per key would be quadratic in the key count (issue #22). The last
 * value of a key replaces the first one, in its place, as a search did. */
#define JSON_OBJECT_SEARCHED 32
/* Put (k, v) into `m` as value_map_put does, or past the searched few append it and set *dedup
 * (keys that are structs, arrays or maps are always searched for). */
sluice_err_t json_map_add(arena_t *a, sluice_value_t *m, sluice_value_t *k, sluice_value_t *v,
                          int *dedup);
sluice_err_t json_map_dedup(arena_t *a, sluice_value_t *m);
sluice_err_t jp_number_scan(jp_t *p, const char **s, size_t *len, int *is_int);
int json_number_int(const char *s, size_t len, int64_t *out);
extern const double json_pow10[23];
double json_number_double(const char *s, size_t len);
sluice_err_t jp_literal(jp_t *p, const char *lit, size_t n);
sluice_err_t jp_key_start(jp_t *p);
sluice_err_t jp_colon(jp_t *p);
sluice_err_t jp_open(jp_t *p, char close, int *empty);
sluice_err_t jp_after_item(jp_t *p, char close, int *more);
sluice_err_t jp_value(jp_t *p, sluice_value_t **out);
sluice_err_t jp_skip(jp_t *p);
sluice_err_t jp_finish(jp_t *p);
void jp_init(jp_t *p, arena_t *a, const char *text, size_t len, char *errstr, size_t errstr_size);

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

/* -- Decimal text (json_bytes.c) --------------------------------------------------------------- */

/* Limits of Decimal text (issue #22: the scale comes from the message, and the conversions are
 * quadratic in the digits): |scale| at most JSON_DECIMAL_MAX_SCALE, the unscaled value at most
 * JSON_DECIMAL_MAX_DIGITS decimal digits when read and JSON_DECIMAL_MAX_BYTES bytes (every value
 * of that many digits fits) when written. Beyond them reading fails and writing is refused. */
#define JSON_DECIMAL_MAX_SCALE  1000
#define JSON_DECIMAL_MAX_DIGITS 1000
#define JSON_DECIMAL_MAX_BYTES  418
/* Parameters of one schema in Connect's JSON form (issue #22: each lookup is a search): many for
 * a string made from an Avro enum (AvroData's one per symbol), few for a Decimal, whose scale is
 * looked up for every value. */
#define JSON_SCHEMA_MAX_PARAMS  16384
#define JSON_DECIMAL_MAX_PARAMS 64
/* The "scale" parameter; values beyond ±JSON_DECIMAL_MAX_SCALE come back as ±(that + 1). */
int json_decimal_scale(const sluice_schema_t *s);
sluice_err_t json_decimal_from_text(arena_t *a, const char *s, size_t len, int scale, void **out,
                                    size_t *out_len, char *why, size_t whysz);
int json_decimal_write(buf_t *out, const unsigned char *b, size_t len, int scale);

/* -- converting a parsed value (json_envelope.c) ----------------------------------------------- */

/* "an object", "a string"…: what a value is, for messages. */
const char *jc_found(const sluice_value_t *v);

/* -- writer (json_write.c) --------------------------------------------------------------------- */

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

static inline void jw_terminate(buf_t *b)
{
    if (b->cap)
        b->data[b->len] = '\0';
}

int jw_int(buf_t *b, int64_t i);

#endif
