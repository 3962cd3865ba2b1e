/* Fuzz the json converter with schemas.enable (Kafka Connect's envelope, schema-guided reading):
 * what decodes encodes, the encoding decodes to an equal value, and encodes to the same bytes. */
#include <stddef.h>
#include <stdint.h>

#include "convert.h"
#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

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
        FUZZ_CHECK(w && value_equal(v, w), "decoded again, another value: %.300s", b1.data);
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
