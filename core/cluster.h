/* cluster.h — distributed mode, slice 1 (issue 19, docs/distributed.md): the workers of one
 * `group.id` share the tasks of the same pipelines. Each task has a slot, a partition of the
 * tasks topic `<group.id>-tasks`; a cluster thread consumes that topic in the group `group.id`
 * (cooperative-sticky assignment, static membership) and the worker runs exactly the tasks of the
 * slots it is assigned. The supervisor (runtime.c) asks cluster_holds before it starts a task and
 * stops the tasks whose slot went; a revoked slot is given up only once its tasks drained and
 * committed. Configs, statuses and REST writes stay per worker in this slice. */
#ifndef SLUICE_CLUSTER_H
#define SLUICE_CLUSTER_H

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
/* Leave the group (after the tasks drained), stop the thread, free. NULL: nothing. */
void cluster_stop(cluster_t *c);

#endif
