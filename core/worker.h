/* worker.h — the running worker as its operators see it (issue #17): connectors with their states,
 * configurations, positions and counters, and the actions on them. The REST API (rest.c), the
 * metrics (metrics.c), `sluice connectors` and the signal thread (SIGHUP) go through these.
 *
 * Mapping (docs/rest-api.md): a pipeline's source is a source connector named after the pipeline;
 * each sink is a sink connector named "<pipeline>.<sink>", except that a pipeline with no source
 * and one sink (what POST /connectors creates for a sink class) names its sink connector after the
 * pipeline. Tasks are a connector's plugin instances: a source has task 0; a sink has tasks.max.
 *
 * Every function is thread-safe (the runtime's `lock`) and returns promptly: an action asks the
 * pipeline threads and the supervisor (runtime_run's loop) to act, it does not wait for them.
 * Actions return an HTTP status as Kafka Connect's REST API gives it (200, 202, 204, 400, 404,
 * 409, 500) and, when it is an error, a message in `err`. */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct runtime;

/* Kafka Connect's states (AbstractStatus.State). */
typedef enum worker_state {
    WORKER_UNASSIGNED = 0,
    WORKER_RUNNING,
    WORKER_PAUSED,
    WORKER_STOPPED,
    WORKER_FAILED,
    WORKER_RESTARTING,
} worker_state_t;

/* "UNASSIGNED", "RUNNING", ... */
const char *worker_state_name(worker_state_t s);

typedef struct worker_kv {
    char *key, *value;
} worker_kv_t;

/* Monotonic counters of a task (or summed over a connector's tasks). */
typedef struct worker_counters {
    long records_in;  /* source: polled; sink: read (sink_rt_t.stats.batch_records) */
    long records_out; /* source: written to the topic (pipeline_t.stats.written); sink: put */
    long errors;      /* records that failed (tolerated or not) */
    long dlq;         /* records sent to a dead-letter topic */
    /* The task's task_stats_t (pipeline.h), copied by task_stats_read: metrics.c fills them (with
     * records_in of a sink and records_out of a source) under the lock, for /metrics. */
    long batches, batch_max, batch_records;
    long commits, commit_failures, commit_ms_total, commit_ms_max;
    long skipped, retries, dlq_failures;
    int64_t last_error_ms; /* wall clock; 0: none yet */
} worker_counters_t;

typedef struct worker_task {
    int id;
    worker_state_t state;
    char *trace; /* the failure (message, plugin, stage, record context); NULL unless FAILED */
    worker_counters_t counters;
    int slot;        /* distributed: its slot (cluster.h); -1 standalone */
    char *worker_id; /* the worker that runs it, from the status topic; NULL: this one */
} worker_task_t;

/* A snapshot: everything is copied, nothing points into the running worker. */
typedef struct worker_connector {
    char *name;
    int is_sink;
    char *pipeline; /* the pipeline's id */
    char *plugin;   /* the plugin as configured (connector.class): its name or alias */
    char *file;     /* the YAML file that declares it (a file given, or the state file) */
    int from_rest;  /* created over the REST API: kept in the state file */
    worker_state_t state;
    char *trace;         /* NULL unless FAILED */
    long restarts;       /* automatic restarts (restart.policy) so far */
    int64_t retry_at_ms; /* RESTARTING: when the next attempt is due (CLOCK_MONOTONIC ms); else 0 */
    worker_kv_t *config; /* Connect's flat view ("connector.class", "tasks.max", "name", ...);
                            secrets redacted */
    size_t nconfig;
    /* Bytes the pipeline's transport holds for it (transport_ops.buffered of its topic and
     * writer; the same for every connector of a pipeline), -1 when unknown: metrics.c fills it. */
    int64_t buffer_bytes;
    char **topics; /* the topics it uses (a source: writes; a sink: reads) */
    size_t ntopics;
    worker_task_t *tasks;
    size_t ntasks;
    int slot;        /* distributed: the slot of its first task; -1 standalone */
    char *worker_id; /* the worker that runs its first task, from the status topic; NULL: this */
} worker_connector_t;

/* Every connector, in the order of the files. Returns 0, or -1 when out of memory. */
int worker_connectors(struct runtime *rt, worker_connector_t **out, size_t *n);
void worker_connectors_free(worker_connector_t *c, size_t n);
/* One connector: 200, or 404 (err: "Connector NAME not found"). */
int worker_connector(struct runtime *rt, const char *name, worker_connector_t *out, char *err,
                     size_t errlen);
void worker_connector_free(worker_connector_t *c);

/* Each connector's name and counters (summed over its tasks: records_in, records_out, errors, dlq
 * only), in the order of worker_connectors, under the lock and without allocating: history.c's
 * sampler calls it once a second. `fn` must not block nor call the worker. */
void worker_sample(struct runtime *rt,
                   void (*fn)(void *opaque, const char *name, const worker_counters_t *sum),
                   void *opaque);
/* The pipeline behind the connector `name` (the tap, tap.c): 200 with `*pipeline` (a pipeline_t),
 * `*is_sink` and the sink's index in the pipeline's configuration, or 404 with `err`. The
 * caller holds the runtime's lock and uses the pipeline only under it. */
int worker_locate(struct runtime *rt, const char *name, void **pipeline, int *is_sink, size_t *sink,
                  char *err, size_t errlen);

/* -- lifecycle ---------------------------------------------------------------------------------
 * pause: stops polling (a source) and consuming (a sink: its Kafka partitions paused, no
 * rebalance); resume: goes on from the same place; stop: releases the plugin instances after
 * flushing and committing; restart: stop then start (`include_tasks`/`only_failed` as Connect's
 * POST /connectors/{name}/restart); delete: stop and forget (a connector of a YAML file: 409). */
int worker_pause(struct runtime *rt, const char *name, char *err, size_t errlen);
int worker_resume(struct runtime *rt, const char *name, char *err, size_t errlen);
int worker_stop(struct runtime *rt, const char *name, char *err, size_t errlen);
int worker_restart(struct runtime *rt, const char *name, int include_tasks, int only_failed,
                   char *err, size_t errlen);
int worker_restart_task(struct runtime *rt, const char *name, int task, char *err, size_t errlen);
int worker_delete(struct runtime *rt, const char *name, char *err, size_t errlen);

/* Create or replace the connector `name` from a pipeline written as YAML (`yaml`: one document
 * with `version: 1` and one pipeline whose id is the pipeline's, as connect_config.c makes it from
 * Connect's flat config). It is linted with the worker's files; errors (file, line, key) go to
 * `err` with 400. 201 created, 200 replaced (`must_be_new`: 409 when it exists, even when it was
 * created a moment ago by another request); it runs at once (`initial`: RUNNING, or KIP-980's
 * PAUSED or STOPPED — nothing runs before) and is kept in the state file. */
int worker_put(struct runtime *rt, const char *name, const char *yaml, size_t len, int must_be_new,
               worker_state_t initial, int *created, char *err, size_t errlen);
/* 1 while a create, change or delete waits for the supervisor (the REST API answers after). */
int worker_pending(struct runtime *rt);

/* SIGHUP and POST /reload: re-read the files; when they do not lint nothing changes and the
 * errors (one per line) are in `errors` with 400; else only the pipelines whose resolved
 * configuration changed restart, and 200. */
int worker_reload(struct runtime *rt, buf_t *errors);

/* -- offsets (KIP-875) and topics --------------------------------------------------------------
 * GET: {"offsets":[{"partition":{...},"offset":{...}}]} (a sink: kafka_topic/kafka_partition,
 * kafka_offset). PATCH (alter) and DELETE (reset) only when the connector is STOPPED (else 400 as
 * Connect); on success (200) `err` holds Connect's message for the response's "message". */
int worker_offsets(struct runtime *rt, const char *name, buf_t *json, char *err, size_t errlen);
int worker_offsets_alter(struct runtime *rt, const char *name, const char *json, size_t len,
                         char *err, size_t errlen);
int worker_offsets_reset(struct runtime *rt, const char *name, char *err, size_t errlen);
int worker_topics_reset(struct runtime *rt, const char *name, char *err, size_t errlen);

/* -- the worker ------------------------------------------------------------------------------- */
/* 1 once the set-up (Kafka, offsets, plugins) is done: KIP-1017's "healthy". */
int worker_started(struct runtime *rt);
/* 1 when every running source and sink is connected (Bento's /ready). */
int worker_ready(struct runtime *rt);
/* The Kafka cluster id in Kafka mode (NULL in-process); valid while the worker runs. */
const char *worker_kafka_cluster_id(struct runtime *rt);

#endif
