/* Fuzz the parsing of a Schema Registry's answers: the id of a registration, the schema of an id
 * (then read as an Avro schema, as the avro converter does) and an error body. */
#include <stddef.h>
#include <stdint.h>

#include "avro.h"
#include "fuzz.h"
#include "schema_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *body = fuzz_cstr(data, len), *text = NULL, type[48], detail[400], err[512];
    int32_t id = -1;
    int code = 0;
    if (sr_answer_id(body, len, &id) == SLUICE_OK)
        FUZZ_CHECK(id >= 0, "a negative id %d", (int)id);
    sr_answer_error(body, len, detail, sizeof detail, &code);
    FUZZ_CHECK(strlen(detail) < sizeof detail, "detail not terminated");
    if (sr_answer_schema(body, len, &text, type, sizeof type) == SLUICE_OK) {
        schema_owner_t o;
        arena_t nodes;
        avro_reader_t r;
        schema_owner_init(&o);
        arena_init(&nodes, 4096);
        (void)avro_reader_parse(&r, &o, &nodes, text, strlen(text), err, sizeof err);
        arena_free(&nodes);
        schema_owner_free(&o);
    }
    free(text);
    free(body);
    return 0;
}
