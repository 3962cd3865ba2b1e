/* convert.h — converters: typed values ⇄ the bytes that sit in a topic. Kafka Connect's names:
 * `json` (optionally with the {"schema","payload"} envelope), `string`, `bytes`. One converter
 * instance is used by one thread (it keeps a schema cache without locks). */
#ifndef SLUICE_CONVERT_H
#define SLUICE_CONVERT_H

#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "json.h"
#include "value.h"

#include "schema_registry.h"

enum converter_kind { CONVERTER_JSON = 0, CONVERTER_STRING, CONVERTER_BYTES, CONVERTER_AVRO };

/* The largest key or value a converter decodes or encodes unless told otherwise (the pipeline key
 * `max.message.bytes`): Kafka's default for its topic config of that name (and the broker's
 * message.max.bytes), so that any record a default Kafka accepts passes. A bigger one is that
 * record's error, found before any work or allocation that depends on its contents. */
#define CONVERTER_MAX_MESSAGE_BYTES 1048588

struct avro_state; /* convert.c: the avro converter's caches (schema → id, id → reader) */

typedef struct converter {
    enum converter_kind kind;
    size_t max_bytes;                        /* CONVERTER_MAX_MESSAGE_BYTES unless set after init */
    int schemas_enable;                      /* json: read/write the envelope */
    enum json_decimal_format decimal_format; /* json */
    schema_owner_t schemas;              /* schemas parsed from envelopes (the cache owns them) */
    struct converter_cache_entry *cache; /* envelope schema text → schema, bounded */
    size_t cache_len, cache_cap;
    size_t cache_bytes; /* schema text in the cache (CONVERTER_CACHE_MAX_BYTES) */
    /* avro */
    sr_client_t *sr; /* shared, not owned */
    int is_key;
    enum sr_strategy strategy;
    int auto_register;
    struct avro_state *avro;
} converter_t;

/* The names accepted by `key.converter` / `value.converter`, NULL-terminated (for config enums). */
extern const char *const converter_names[];

/* The avro converter (name "avro" or io.confluent.connect.avro.AvroConverter): Confluent's wire
 * format with schemas registered in / fetched from `sr`. `is_key` picks the `<topic>-key` subject.
 */
sluice_err_t converter_init_avro(converter_t *c, sr_client_t *sr, int is_key,
                                 enum sr_strategy strategy, int auto_register, char *errstr,
                                 size_t errstr_size);
/* 1 if `name` names the avro converter (sluice's name or Confluent's class name). */
int converter_is_avro(const char *name);

/* `name` is one of converter_names (json, string, bytes or Kafka Connect's class names for them);
 * options come from `<prefix>.schemas.enable` etc. (already parsed by the config layer). Returns
 * SLUICE_ERR_CONFIG with a message for an unknown name. */
sluice_err_t converter_init(converter_t *c, const char *name, int schemas_enable,
                            enum json_decimal_format decimal_format, char *errstr,
                            size_t errstr_size);
void converter_free(converter_t *c);

/* Encode `v` (a NULL pointer or a NULL value encodes as "no bytes": *is_null = 1). `out` is
 * appended to. `topic` is the topic the record goes to (the avro converter's subject names derive
 * from it). */
sluice_err_t converter_encode(converter_t *c, const char *topic, const sluice_value_t *v,
                              buf_t *out, int *is_null, char *errstr, size_t errstr_size);
/* Decode bytes into a value in the arena. `data` NULL means a null key/value (→ NULL value).
 * The string and bytes converters do not copy: the value points at `data`, which must outlive it.
 */
sluice_err_t converter_decode(converter_t *c, arena_t *a, const void *data, size_t len,
                              sluice_value_t **out, char *errstr, size_t errstr_size);

#endif
