/*
 * datagen_schema.h — an Avro schema with arg.properties hints, compiled once into a generator that
 * builds typed sluice values (with their Kafka Connect schemas) from a datagen_rand.
 */
#ifndef DATAGEN_SCHEMA_H
#define DATAGEN_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/plugin.h>

#include "datagen_rand.h"

struct datagen_schema;

/*
 * Compiles the Avro schema `text`. `what` names the schema in messages ("quickstart ORDERS",
 * "schema file /x/y.avsc", "schema.string"); `base_dir` is where relative `options` files are
 * looked up (NULL: the working directory). `keyfield` is the top-level field whose value becomes
 * the record key, or NULL / "" for none. On error returns SLUICE_ERR_CONFIG (or NOMEM) with a
 * message that names the schema, the field path and the hint.
 */
sluice_err_t datagen_schema_compile(const struct sluice_host *host, sluice_ctx_t *ctx,
                                    const char *text, const char *what, const char *base_dir,
                                    const char *keyfield, struct datagen_schema **out, char *errstr,
                                    size_t errstr_size);

/* The number of `iteration` hints: each task keeps one 64-bit state word per hint. */
size_t datagen_schema_iter_count(const struct datagen_schema *s);
/* Sets the iteration state words to their first values. */
void datagen_schema_iter_init(const struct datagen_schema *s, uint64_t *iter);
/* A 64-bit fingerprint of the compiled schema text and hints, to recognise saved positions. */
uint64_t datagen_schema_fingerprint(const struct datagen_schema *s);

/*
 * One value, allocated in the batch arena of `rec`; `*key` receives the key field's value (NULL
 * without a key field). Returns NULL on out of memory.
 */
sluice_value_t *datagen_schema_generate(struct datagen_schema *s, sluice_record_t *rec,
                                        struct datagen_rand *r, uint64_t *iter,
                                        sluice_value_t **key);

void datagen_schema_free(struct datagen_schema *s);

#endif
