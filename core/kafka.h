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

/* A list of librdkafka properties (borrowed strings). */
typedef struct kafka_props {
    const char **keys, **values;
    size_t n, cap;
} kafka_props_t;

int kafka_props_add(kafka_props_t *p, const char *key, const char *value);
/* Add the entries of a MAP key of a configuration (the kafka: block, producer.override.*, …). */
void kafka_props_from_map(kafka_props_t *out, const sluice_config_t *cfg, const char *key);
void kafka_props_free(kafka_props_t *p);
/* Check that librdkafka knows every property and accepts its value (for lint). On error writes a
 * message naming the property and returns -1. `role` is "producer" or "consumer". */
int kafka_props_check(const kafka_props_t *p, const char *role, const char **bad_key, char *errstr,
                      size_t errstr_size);
/* The value of a property, or NULL. */
const char *kafka_props_get(const kafka_props_t *p, const char *key);

/* -- producer ------------------------------------------------------------------------------------
 */

typedef struct kafka_producer kafka_producer_t;

/* A producer with its own delivery thread. `name` (the pipeline id) names it in messages and in
 * client.id. `buffer_bytes` bounds the memory of its queue unless the properties set it. */
int kafka_producer_new(kafka_producer_t **out, const kafka_props_t *props, const char *name,
                       size_t buffer_bytes, char *errstr, size_t errstr_size);
/* Produce every staged record to `topic`. Each record adds one to tr->pending, and its delivery
 * (acknowledged by the brokers) takes it off again; a delivery that fails for good sets
 * tr->failed. Waits while the queue is full, until `*abort` (then returns -1: what was not handed
 * over is not produced). Returns 0 when every record is queued. */
int kafka_produce_stage(kafka_producer_t *kp, const char *topic, const topic_stage_t *stage,
                        tracker_t *tr, const atomic_int *abort);
/* Learn where `topic` lives before the first record (a metadata request; bounded, best effort). */
void kafka_producer_prepare(kafka_producer_t *kp, const char *topic);
/* Messages not delivered yet. */
long kafka_producer_inflight(kafka_producer_t *kp);
/* Drop every undelivered message (their trackers see them fail) and wait up to `timeout_ms`
 * until their delivery reports are served. Returns the number still outstanding. */
long kafka_producer_purge(kafka_producer_t *kp, int timeout_ms);
/* A short state for the progress line: "" when fine, else e.g. "kafka unreachable 12s". */
void kafka_producer_state(kafka_producer_t *kp, char *out, size_t size);
void kafka_producer_free(kafka_producer_t *kp);

/* -- consumer ------------------------------------------------------------------------------------
 */

typedef struct kafka_consumer kafka_consumer_t;

/* Called on partition revocation, before the partitions go: the sink must flush and the consumer
 * commits what was flushed. Returns 0 if the flush succeeded (then the commit happens). */
typedef int (*kafka_revoke_cb)(void *opaque);

int kafka_consumer_new(kafka_consumer_t **out, const kafka_props_t *props, const char *group,
                       const char *topic, const char *name, size_t buffer_bytes,
                       kafka_revoke_cb on_revoke, void *opaque, char *errstr, size_t errstr_size);
/* Up to `max` messages; waits up to `wait_ms` for the first. The views point into messages held
 * until the next read or the close. Headers are not in the views: give them to records with
 * kafka_consumer_headers. */
size_t kafka_consumer_read(kafka_consumer_t *kc, topic_view_t *views, size_t max, int wait_ms);
/* Give `r` the headers of message i of the last read: lazily, copied by kafka_load_headers (the
 * codec's load_headers) when something looks at them, while the message is held. */
void kafka_consumer_headers(kafka_consumer_t *kc, size_t i, sluice_record_t *r);
void kafka_load_headers(const void *src, sluice_record_t *r);

/* The messages of the last read were handed to the sink: their offsets may be committed after
 * the next successful flush. */
void kafka_consumer_done(kafka_consumer_t *kc);
/* A short state for the progress line: "" when fine, else "kafka unreachable 12s". */
void kafka_consumer_state(kafka_consumer_t *kc, char *out, size_t size);

/* Commit the offsets of everything marked done (synchronously). 0 on success. */
int kafka_consumer_commit(kafka_consumer_t *kc, char *errstr, size_t errstr_size);
/* Precommit (ABI 1.2): the partitions with records handed to the sink and not committed yet, with
 * the offset after the last of them; at most `max` (kafka_consumer_nparts is enough). */
size_t kafka_consumer_pending(kafka_consumer_t *kc, struct sluice_offset *out, size_t max);
size_t kafka_consumer_nparts(const kafka_consumer_t *kc);
/* Commit the given offsets (each capped at what the sink was given; a partition not listed or
 * listed at or below its last commit is left alone). 0 on success. */
int kafka_consumer_commit_offsets(kafka_consumer_t *kc, const struct sluice_offset *offsets,
                                  size_t n, char *errstr, size_t errstr_size);
/* Stop fetching (pause != 0) from the assigned partitions, those assigned later too, or go on. */
void kafka_consumer_pause(kafka_consumer_t *kc, int pause);
/* Leave the group (after a final commit, or without one when the sink failed). */
void kafka_consumer_close(kafka_consumer_t *kc);
void kafka_consumer_free(kafka_consumer_t *kc);

/* -- the transport (transport.h: transport_kafka) -------------------------------------------- */

/* What transport_kafka.open takes (copied): the kafka: block's properties (borrowed until the
 * transport is freed), and whether librdkafka accepted them (the overrides are checked on top of
 * a valid block only). */
struct kafka_transport_settings {
    const kafka_props_t *props;
    int props_ok;
};

/* -- topics ----------------------------------------------------------------------------------- */

typedef struct kafka_topic_spec {
    const char *name;
    int partitions;         /* -1: broker default */
    int replication_factor; /* -1: broker default */
    const kafka_props_t *configs;
    int create;      /* create when missing; else a missing topic is an error */
    const char *why; /* for messages: "pipeline 'x'", "dead-letter topic of sink 'y'" */
} kafka_topic_spec_t;

/* Make sure the topics exist (creating those allowed to be created). Waits for the cluster while it
 * is unreachable, with backoff, until `*stop` becomes non-zero. Returns 0, -1 with a message, or
 * -2 when stopped while waiting. */
int kafka_ensure_topics(const kafka_props_t *props, const kafka_topic_spec_t *specs, size_t n,
                        const atomic_int *stop, char *errstr, size_t errstr_size);

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
