/* avro.h — Avro for the avro converter: Kafka Connect schemas ⇄ Avro schema JSON the way
 * Confluent's AvroData translates them (connect.meta.data on), and the Avro binary encoding of
 * values straight to and from sluice values. The converter itself (Confluent's wire format, the
 * Schema Registry, the caches) is reached through convert.h; the functions below are its parts,
 * public for unit tests. */
#ifndef SLUICE_AVRO_H
#define SLUICE_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "value.h"

/* Confluent's namespace and name for unnamed structs (nested ones get ConnectDefault2, 3, …). */
#define AVRO_CONNECT_NAMESPACE "io.confluent.connect.avro"
#define AVRO_CONNECT_DEFAULT   "ConnectDefault"
/* Connect's struct for Avro unions other than ["null", T]; its fields are named after the
 * branches ("int", "string", a record's name, …), exactly one is set. */
#define AVRO_CONNECT_UNION "io.confluent.connect.avro.Union"
/* Parameter of a STRING schema that came from an Avro enum (its full name). */
#define AVRO_CONNECT_ENUM "io.confluent.connect.avro.Enum"

/* Append the Avro schema JSON of Connect schema `s`. Errors (invalid Avro names, two different
 * structs with one name) name the field. */
sluice_err_t avro_schema_from_connect(buf_t *out, const sluice_schema_t *s, char *errstr,
                                      size_t errstr_size);

/* Append the Avro binary encoding of `v` as a datum of the Avro translation of `s`. */
sluice_err_t avro_write_datum(buf_t *out, const sluice_value_t *v, const sluice_schema_t *s,
                              char *errstr, size_t errstr_size);

struct avro_node;
/* A parsed Avro (writer) schema, ready to read datums. Its nodes live in the arena given to
 * avro_reader_parse, its Connect schema in the schema owner: both must outlive the reader. */
typedef struct avro_reader {
    const struct avro_node *root;
    const sluice_schema_t *schema; /* the Connect schema of the datums */
} avro_reader_t;

sluice_err_t avro_reader_parse(avro_reader_t *r, schema_owner_t *o, arena_t *nodes,
                               const char *text, size_t len, char *errstr, size_t errstr_size);
/* Read exactly one datum that fills `data` (no bytes may be left over) into `a`. Strings and bytes
 * point into `data`, which must outlive the value. */
sluice_err_t avro_read_datum(const avro_reader_t *r, arena_t *a, const void *data, size_t len,
                             sluice_value_t **out, char *errstr, size_t errstr_size);

/* Shared with the avro converter (convert.c): */
/* "inner" → "<what><sep>inner", in place (error paths only). */
void avro_prefix(char *errstr, size_t errstr_size, const char *what, const char *sep);
/* 1 for the struct Connect makes of an Avro union other than ["null", T] (AVRO_CONNECT_UNION). */
int avro_is_union_struct(const sluice_schema_t *s);

#endif
