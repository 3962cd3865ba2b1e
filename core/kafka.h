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

/* -- statistics (librdkafka's statistics.interval.ms, for /metrics) ---------------------------
 * The producer and each consumer hand their statistics JSON to a callback (on their polling
 * thread, every statistics.interval.ms: 5 s unless the kafka: block says otherwise; 0 turns it
 * off); it keeps the few numbers /metrics shows in a table under a lock: never per record. */
typedef struct kafka_stats_broker {
    char name[128]; /* "host:port/id" as librdkafka names it */
    double rtt_avg_s, rtt_p99_s;
} kafka_stats_broker_t;

typedef struct kafka_stats_lag {
    char topic[256];
    int32_t partition;
    int64_t lag; /* consumer_lag: the high watermark minus the committed offset */
} kafka_stats_lag_t;

typedef struct kafka_stats_client {
    const char *pipeline;
    const char *sink; /* NULL: the pipeline's producer */
    int task;
    int64_t queue_bytes; /* a producer: bytes in its queue (msg_size); -1 unknown */
    const kafka_stats_broker_t *brokers;
    size_t nbrokers;
    const kafka_stats_lag_t *lags; /* a consumer: its assigned partitions */
    size_t nlags;
} kafka_stats_client_t;

/* Call `fn` with each client's latest statistics, under the table's lock (`fn` must not block
 * nor call back in). Clients appear at their first statistics and go with the client. */
void kafka_stats_each(void (*fn)(void *opaque, const kafka_stats_client_t *c), void *opaque);
/* Store the statistics JSON of the client `owner` (the callback; unit tests): labels are copied
 * at the first call. 0, or -1 when the JSON does not parse. */
int kafka_stats_store(const void *owner, const char *pipeline, const char *sink, int task,
                      const char *json, size_t len);
void kafka_stats_forget(const void *owner);

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
/* The worker key its errors name (a string that outlives it); default offset.storage.topic. */
void kafka_kv_writer_key(kafka_kv_writer_t *w, const char *key);
void kafka_kv_writer_free(kafka_kv_writer_t *w);

/* -- distributed mode (cluster.c) ------------------------------------------------------------
 * The tasks topic `topic` with `partitions` partitions, compacted, created when missing (waits for
 * the cluster as kafka_read_compacted); an existing one with another partition count is refused
 * with its name and the fix. 0, -1 with a message, -2 when stopped while waiting. */
int kafka_tasks_topic(const kafka_props_t *props, const char *topic, int partitions,
                      const atomic_int *stop, char *errstr, size_t errstr_size);
/* A compacted storage topic (status.storage.topic, config.storage.topic) created when missing
 * with `partitions` and `replication_factor` (-1: the broker's default); `*nparts` gets the
 * partitions it has. 0, -1 with a message naming `why`, -2 when stopped while waiting. */
int kafka_storage_topic(const kafka_props_t *props, const char *topic, int partitions,
                        int replication_factor, const char *why, const atomic_int *stop,
                        int *nparts, char *errstr, size_t errstr_size);
/* A consumer configuration from the kafka: block (the keys sluice manages refused), NULL with a
 * message. The caller adds its own keys and owns it. */
struct rd_kafka_conf_s *kafka_consumer_conf(const kafka_props_t *props, char *errstr,
                                            size_t errstr_size);

/* -- sinks' consumer groups and the cluster (worker_offsets.c: KIP-875, GET /) -----------------
 * Admin requests on a short-lived client of the kafka: block; each waits up to timeout_ms. */

/* A committed offset of a group (the next record to read); < 0 in an alter: delete it. */
typedef struct kafka_group_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
} kafka_group_offset_t;

/* The consumer group of a sink: its consumer.override.group.id, else sluice.<pipeline>.<sink>
 * (what the transport's readers join). 0, or -1 when it does not fit. */
int kafka_sink_group(const sluice_config_t *sink_core, const char *pipeline, const char *sink,
                     char *out, size_t size);
/* Every committed offset of `group` (a group unknown to the cluster has none). Transport `t`: the
 * run's (Kafka). 0, or -1 with a message. Free with kafka_group_offsets_free. */
int kafka_group_offsets(const transport_t *t, const char *group, kafka_group_offset_t **out,
                        size_t *n, int timeout_ms, char *errstr, size_t errstr_size);
void kafka_group_offsets_free(kafka_group_offset_t *v, size_t n);
/* Commit the offsets >= 0 of `v` for `group` and delete those < 0. The group must have no member
 * (the broker refuses otherwise). 0, or -1 with a message naming the group. */
int kafka_group_offsets_alter(const transport_t *t, const char *group,
                              const kafka_group_offset_t *v, size_t n, int timeout_ms, char *errstr,
                              size_t errstr_size);
/* Delete `group` and all its offsets (a group that does not exist: 0). */
int kafka_group_delete(const transport_t *t, const char *group, int timeout_ms, char *errstr,
                       size_t errstr_size);
/* The cluster id (asked once, then kept with the transport; valid while it lives), or NULL when
 * `t` is not the Kafka transport or the cluster did not answer. */
const char *kafka_transport_cluster_id(transport_t *t, int timeout_ms);

#endif
