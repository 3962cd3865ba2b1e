/* kafka.h — Kafka mode: a pipeline's topic is a real Kafka topic. The source side produces into it
 * with librdkafka (idempotent by default); each sink task is a consumer in the group
 * `sluice.<pipeline>.<sink>`; source positions may live in a compacted topic. The pipeline reaches
 * the producer and consumers only through transport.h (kafka.c holds transport_kafka over them).
 *
 * Threads: a producer is used by its pipeline's source thread (produce, inflight, purge) and its
 * sink threads (produce: dead-letter records), and by the main thread (new, prepare, state, free);
 * its own delivery thread serves the delivery reports (trackers' pending counts). A consumer is
 * used by its sink task's thread only (the revocation callback runs inside kafka_consumer_read),
 * except new, state and free on the main thread. Topic creation and the compacted topic run on the
 * main thread at set-up, kafka_ensure_topics also on a source thread (a record routed to a new
 * topic).
 *
 * Properties: the YAML `kafka:` block is passed to librdkafka as is (any property), with
 * `producer.override.*` (pipeline) and `consumer.override.*` (sink) on top. sluice sets its own
 * defaults only where the user said nothing (see kafka.c: kafka_producer_new / kafka_consumer_new).
 */
#ifndef SLUICE_KAFKA_H
#define SLUICE_KAFKA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "topic.h"
#include "transport.h"

/* A list of librdkafka properties (borrowed strings). */
typedef struct kafka_props {
    const char **keys, **values;
    size_t n, cap;
} kafka_props_t;

/* -- the transport (transport.h: kafka.c registers its table) -------------------------------- */

/* The kafka: block's properties when `t` is the Kafka transport (the run's offsets.storage: kafka
 * uses them), else NULL. */
const kafka_props_t *kafka_transport_props(const transport_t *t);

/* -- source positions in a compacted topic ------------------------------------------------------
 */

/* Read the latest value of every key of `topic` (created compacted if missing). `cb` gets each
 * key/value in log order (a later one replaces an earlier; an empty value deletes). Returns 0,
 * -1 with a message, or -2 when stopped while waiting for the cluster. */
int kafka_read_compacted(const kafka_props_t *props, const char *topic, int replication_factor,
                         void (*cb)(void *opaque, const void *key, size_t klen, const void *value,
                                    size_t vlen),
                         void *opaque, const atomic_int *stop, char *errstr, size_t errstr_size);
/* Write key/value records to `topic` and wait until they are acknowledged. */
typedef struct kafka_kv_writer kafka_kv_writer_t;
int kafka_kv_writer_new(kafka_kv_writer_t **out, const kafka_props_t *props, const char *topic,
                        char *errstr, size_t errstr_size);
int kafka_kv_write(kafka_kv_writer_t *w, const void *key, size_t klen, const void *value,
                   size_t vlen, char *errstr, size_t errstr_size);
/* Wait until every write is acknowledged (up to timeout_ms). 0 on success. */
int kafka_kv_sync(kafka_kv_writer_t *w, int timeout_ms, char *errstr, size_t errstr_size);
void kafka_kv_writer_free(kafka_kv_writer_t *w);

#endif
