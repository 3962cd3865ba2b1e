/* json.h — JSON reader and writer for values.
 *
 * Written by hand rather than with cJSON because cJSON keeps every number as a double (int64 values
 * above 2^53 would change) and allocates each node with malloc; this reader builds values straight
 * into a batch arena and keeps integers exact. cJSON is still used where neither matters.
 *
 * Implemented by json_read.c (json_parse, json_skip), json_envelope.c (reading with a schema, the
 * envelope, json_value_to_schema), json_write.c, json_schema.c and json_bytes.c (base64, Decimal
 * text); json_internal.h holds what they share. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "value.h"

/* Parse one JSON document (surrounding whitespace allowed) into a schemaless value: objects become
 * string-keyed MAPs (order kept), arrays ARRAYs, integers INT64 (exact; outside int64 → FLOAT64),
 * other numbers FLOAT64, strings STRING, true/false BOOLEAN, null NULL.
 * Errors say what and at which byte offset. */
sluice_err_t json_parse(arena_t *a, const char *text, size_t len, sluice_value_t **out,
                        char *errstr, size_t errstr_size);

/* Parse `text` as a value of `schema` (the payload of Kafka Connect's envelope): numbers become the
 * schema's integer/float types (range-checked), bytes and Decimal come from base64 (or a number for
 * Decimal), structs follow the field order of the schema, optional fields may be absent or null. */
sluice_err_t json_parse_with_schema(arena_t *a, const char *text, size_t len,
                                    const sluice_schema_t *schema, sluice_value_t **out,
                                    char *errstr, size_t errstr_size);

/* Convert an already parsed schemaless value to `schema` (same rules as above). */
sluice_err_t json_value_to_schema(arena_t *a, const sluice_value_t *in,
                                  const sluice_schema_t *schema, sluice_value_t **out, char *errstr,
                                  size_t errstr_size);

/* Step over one JSON value (leading whitespace allowed), validating it without building anything;
 * `*consumed` is the number of bytes up to the end of the value. Offsets in messages are counted
 * from `base` (the position of `text` in a larger document). */
sluice_err_t json_skip(const char *text, size_t len, size_t base, size_t *consumed, char *errstr,
                       size_t errstr_size);

/* How the envelope reader turns the text of a "schema" object into a schema (the json converter
 * caches them): `at` is the '{' of the schema, `avail` the bytes left in the document, `base` the
 * offset of `at` in it. Sets `*consumed` to the length of the schema text and `*schema`. */
typedef sluice_err_t (*json_schema_resolver)(void *ctx, arena_t *a, const char *at, size_t avail,
                                             size_t base, size_t *consumed,
                                             const sluice_schema_t **schema, char *errstr,
                                             size_t errstr_size);

/* Read Kafka Connect's envelope {"schema": S, "payload": P} (exactly these two keys, any order):
 * S null → P schemaless (as json_parse), otherwise P is read with the schema `resolve` gives
 * (as json_parse_with_schema), in one pass over the text when "schema" comes first. */
sluice_err_t json_parse_envelope(arena_t *a, const char *text, size_t len,
                                 json_schema_resolver resolve, void *ctx, sluice_value_t **out,
                                 char *errstr, size_t errstr_size);

enum json_decimal_format { JSON_DECIMAL_BASE64 = 0, JSON_DECIMAL_NUMERIC = 1 };

/* Write a value as JSON the way Kafka Connect's JsonConverter writes the payload: bytes as base64,
 * string-keyed maps as objects and other maps as [[k,v],…], Decimal per `decimal_format`.
 * Non-finite floats have no JSON form and are written as null. */
sluice_err_t json_write(buf_t *out, const sluice_value_t *v,
                        enum json_decimal_format decimal_format);
/* Write a JSON string literal (with quotes and escapes). */
int json_write_string(buf_t *out, const char *s, size_t len);

/* Schema ⇄ Kafka Connect's JSON schema form ({"type":"struct","fields":[{…,"field":"id"}],…}). */
sluice_err_t json_write_schema(buf_t *out, const sluice_schema_t *schema);
sluice_schema_t *json_parse_schema(schema_owner_t *o, const char *text, size_t len, char *errstr,
                                   size_t errstr_size);

/* Base64 (standard alphabet, padded) used for BYTES. */
int base64_encode(buf_t *out, const void *p, size_t len);
/* Decode into the arena; -1 on invalid input. */
int base64_decode(arena_t *a, const char *s, size_t len, void **out, size_t *out_len);

#endif
