/* Fuzz the json converter with schemas.enable (Kafka Connect's envelope, schema-guided reading):
 * what decodes encodes, the encoding decodes to an equal value (but for infinities of schemaless
 * payloads, written as null), and encodes to the same bytes. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "convert.h"
#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* A schemaless payload may hold a number beyond the double range (infinity): it is written as null
 * (json.h), so that value cannot come back equal. */
static int has_nonfinite(const sluice_value_t *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        return !isfinite(v->u.f);
    case SLUICE_TYPE_ARRAY:
        for (size_t i = 0; i < v->u.a.len; i++)
            if (has_nonfinite(v->u.a.items[i]))
                return 1;
        return 0;
    case SLUICE_TYPE_MAP:
    case SLUICE_TYPE_STRUCT:
        for (size_t i = 0; i < v->u.m.len; i++)
            if (has_nonfinite(v->u.m.items[i].key) || has_nonfinite(v->u.m.items[i].value))
                return 1;
        return 0;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    converter_t c;
    arena_t a;
    buf_t b1, b2;
    char err[512];
    int is_null = 0;
    sluice_value_t *v = NULL, *w = NULL;
    arena_init(&a, 4096);
    buf_init(&b1);
    buf_init(&b2);
    if (converter_init(&c, "json", 1, JSON_DECIMAL_BASE64, err, sizeof err) != SLUICE_OK)
        abort();
    if (converter_decode(&c, &a, data, len, &v, err, sizeof err) == SLUICE_OK && v) {
        FUZZ_CHECK(converter_encode(&c, "t", v, &b1, &is_null, err, sizeof err) == SLUICE_OK,
                   "a decoded value does not encode: %s", err);
        FUZZ_CHECK(converter_decode(&c, &a, b1.data, b1.len, &w, err, sizeof err) == SLUICE_OK,
                   "the encoding does not decode: %s: %.300s", err, b1.data);
        FUZZ_CHECK(w && (value_equal(v, w) || has_nonfinite(v)),
                   "decoded again, another value: %.300s", b1.data);
        FUZZ_CHECK(converter_encode(&c, "t", w, &b2, &is_null, err, sizeof err) == SLUICE_OK,
                   "second encode: %s", err);
        FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
                   "encoded twice, two texts: %.300s / %.300s", b1.data, b2.data);
    }
    converter_free(&c);
    buf_free(&b1);
    buf_free(&b2);
    arena_free(&a);
    return 0;
}
