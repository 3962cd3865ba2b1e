/* Fuzz the Avro decoder, schema and datum both: the input is an Avro schema (JSON text), a NUL
 * byte, then a datum. What decodes must encode as the avro converter would (the Avro translation
 * of the Connect schema the reader made: a fixed becomes bytes, …), that encoding must decode with
 * the translated schema to an equal value, and encode again to the same bytes. */
#include <stddef.h>
#include <stdint.h>

#include "avro.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    const uint8_t *nul = memchr(data, 0, len);
    size_t slen = nul ? (size_t)(nul - data) : len;
    const uint8_t *datum = nul ? nul + 1 : data + len;
    size_t dlen = len - slen - (nul ? 1 : 0);
    schema_owner_t o;
    arena_t nodes, a;
    buf_t b1, b2;
    avro_reader_t r, r2;
    buf_t text2;
    char err[512];
    sluice_value_t *v = NULL, *w = NULL;
    schema_owner_init(&o);
    arena_init(&nodes, 4096);
    arena_init(&a, 4096);
    buf_init(&b1);
    buf_init(&b2);
    buf_init(&text2);
    if (avro_reader_parse(&r, &o, &nodes, (const char *)data, slen, err, sizeof err) == SLUICE_OK &&
        avro_read_datum(&r, &a, datum, dlen, &v, err, sizeof err) == SLUICE_OK) {
        FUZZ_CHECK(avro_schema_from_connect(&text2, r.schema, err, sizeof err) == SLUICE_OK,
                   "no Avro form for the Connect schema of a decoded value: %s", err);
        FUZZ_CHECK(
            avro_reader_parse(&r2, &o, &nodes, text2.data, text2.len, err, sizeof err) == SLUICE_OK,
            "the Avro form of the Connect schema does not read: %s: %.300s", err, text2.data);
        FUZZ_CHECK(avro_write_datum(&b1, v, r.schema, err, sizeof err) == SLUICE_OK,
                   "a decoded value does not encode: %s", err);
        FUZZ_CHECK(avro_read_datum(&r2, &a, b1.data, b1.len, &w, err, sizeof err) == SLUICE_OK,
                   "the encoding does not decode: %s (schema %.300s)", err, text2.data);
        FUZZ_CHECK(value_equal(v, w), "decoded again, another value");
        FUZZ_CHECK(avro_write_datum(&b2, w, r2.schema, err, sizeof err) == SLUICE_OK,
                   "second encode: %s", err);
        FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
                   "encoded twice, two byte strings (%zu, %zu bytes)", b1.len, b2.len);
    }
    buf_free(&b1);
    buf_free(&b2);
    buf_free(&text2);
    arena_free(&a);
    arena_free(&nodes);
    schema_owner_free(&o);
    return 0;
}
