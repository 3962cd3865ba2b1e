/* Fuzz the schemaless JSON reader: any input is parsed or rejected; what parses is written back,
 * and the written text reads again and writes to the same text. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    arena_t a;
    buf_t b1, b2;
    char err[512];
    sluice_value_t *v = NULL, *w = NULL;
    arena_init(&a, 4096);
    buf_init(&b1);
    buf_init(&b2);
    if (json_parse(&a, (const char *)data, len, &v, err, sizeof err) == SLUICE_OK) {
        FUZZ_CHECK(json_write(&b1, v, JSON_DECIMAL_BASE64) == SLUICE_OK, "write failed");
        FUZZ_CHECK(json_parse(&a, b1.data, b1.len, &w, err, sizeof err) == SLUICE_OK,
                   "the written text does not read: %s: %.200s", err, b1.data);
        FUZZ_CHECK(json_write(&b2, w, JSON_DECIMAL_BASE64) == SLUICE_OK, "second write failed");
        FUZZ_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
                   "written twice, two texts: %.200s / %.200s", b1.data, b2.data);
    }
    buf_free(&b1);
    buf_free(&b2);
    arena_free(&a);
    return 0;
}
