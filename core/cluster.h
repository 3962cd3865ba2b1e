/* cluster.h — distributed mode, slices 1 and 2 (issue 19, docs/distributed.md): the workers of one
 * `group.id` share the tasks of the same pipelines. Each task has a slot, a partition of the
 * tasks topic `<group.id>-tasks`; a cluster thread consumes that topic in the group `group.id`
 * (cooperative-sticky assignment, static membership) and the worker runs exactly the tasks of the
 * slots it is assigned. The supervisor (runtime.c) asks cluster_holds before it starts a task and
 * stops the tasks whose slot went; a revoked slot is given up only once its tasks drained and
 * committed. Each worker writes the states of the tasks it runs to the status topic and reads
 * it whole, so the REST API shows the cluster; REST creates, changes and deletes are published
 * to the config topic, which every worker applies (slice 2). */
#ifndef SLUICE_CLUSTER_H
#define SLUICE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct runtime;
struct pipeline;
typedef struct cluster cluster_t;

/* 1 when the top-level keys ask for distributed mode (`group.id`). */
int cluster_wanted(const sluice_config_t *g);
/* 1 when source positions go to offset.storage.topic: `offsets.storage: kafka`, or implied by
 * `group.id`. */
int cluster_offsets_kafka(const sluice_config_t *g);
/* `sluice lint`'s checks of the worker keys together (`has_kafka`: the kafka: block is on). */
void cluster_check(const sluice_config_t *g, int has_kafka, config_errors_t *errs);

/* FNV-1a (32 bits) of `s`: stable across workers, builds and restarts (unlike a pointer or a
 * seeded hash), which is what a slot number must be. */
uint32_t cluster_hash(const char *s);
/* The slot of task `n` of the pipeline `pipeline`: (hash + n) mod `slots`, so a pipeline's tasks
 * lie in consecutive slots and spread over the workers. */
int cluster_slot(const char *pipeline, int n, int slots);
/* Task numbers in a pipeline: its source is 0, its sink tasks follow (in p->sinks' order). */
int cluster_task_number(const struct pipeline *p, const void *sink_task);

/* Create the tasks topic if missing, join the group and start the cluster thread (after
 * runtime_setup: the offsets are open). 0, -1 with a message, -2 stopped while waiting. */
int cluster_start(cluster_t **out, struct runtime *rt, char *err, size_t errlen);
/* 1 when this worker holds the slot of task `n` of `p` (no cluster: always). Under rt->lock. */
int cluster_holds(const cluster_t *c, const struct pipeline *p, int n);
/* The slot of task `n` of `p`; -1 without a cluster. */
int cluster_task_slot(const cluster_t *c, const struct pipeline *p, int n);
struct worker_connector;
/* Shows the cluster in a snapshot of this worker's connectors (worker_connectors): a task or
 * connector whose slot another worker holds takes the state, trace and worker_id of its record
 * in the status topic. Without a cluster: nothing. Not under rt->lock. */
void cluster_status_merge(cluster_t *c, struct worker_connector *cs, size_t n);
/* The config topic (slice 2): 1 when a REST create, change or delete on this worker is to be
 * published to config.storage.topic rather than applied here (distributed mode, and not the
 * config thread applying a record it read). */
int cluster_publishes(const cluster_t *c);
/* Publish the connector `name`: its pipeline document (YAML, as worker_put takes it) and the state
 * it starts in; `yaml` NULL: a tombstone (deleted). Waits for the acknowledgement. 0, or -1 with a
 * message. Every worker (this one too) then applies it through worker_put / worker_delete. */
int cluster_config_publish(cluster_t *c, const char *name, const char *yaml, int initial, char *err,
                           size_t errlen);
/* Leave the group (after the tasks drained), stop the thread, free. NULL: nothing. */
void cluster_stop(cluster_t *c);

#endif
