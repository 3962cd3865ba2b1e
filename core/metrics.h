/* metrics.h — GET /metrics (issue #17): the worker's counters in Prometheus's text exposition
 * format: per connector and task, Kafka Connect's metrics under Prometheus names, buffer use,
 * consumer lag and broker round-trip times (librdkafka statistics), and the process collector's
 * standard series (process_resident_memory_bytes, process_cpu_seconds_total, ...). */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "worker.h"

struct runtime;

/* Append the whole exposition to `out` (text/plain; version=0.0.4). */
void metrics_render(struct runtime *rt, buf_t *out);

/* Its parts (unit tests give them a snapshot of their own): the connectors and tasks of a
 * snapshot, with the pipelines' buffers; librdkafka's statistics (kafka.h), labelled with the
 * snapshot's connectors; the process collector's series. */
void metrics_write_connectors(buf_t *out, const worker_connector_t *c, size_t n);
void metrics_write_kafka(buf_t *out, const worker_connector_t *c, size_t n);
void metrics_write_process(buf_t *out);

/* For GET /stats (stats.c) and the history's sampler (history.c). */
typedef struct metrics_process {
    double cpu_seconds; /* user + system */
    int64_t rss_bytes, vsize_bytes;
    double start_time_seconds; /* since the epoch; 0 unknown */
} metrics_process_t;
/* The process's figures from /proc/self/stat, as the process collector reads them: 0, or -1. */
int metrics_process_read(metrics_process_t *out);
/* What worker.c's snapshot leaves out (each task's task_stats_t counters, each pipeline's buffer),
 * read from the pipelines under the worker's lock. */
void metrics_enrich(struct runtime *rt, worker_connector_t *c, size_t n);
/* Each sink connector's consumer lag summed over its partitions (librdkafka's statistics), in
 * lag[i] for c[i]; -1 where there is none (a source, an in-process run, no statistics yet). */
void metrics_consumer_lag(const worker_connector_t *c, size_t n, int64_t *lag);

#endif
