/* metrics.h — GET /metrics (issue #17): the worker's counters in Prometheus's text exposition
 * format: per connector and task, Kafka Connect's metrics under Prometheus names, buffer use,
 * consumer lag and broker round-trip times (librdkafka statistics), and the process collector's
 * standard series (process_resident_memory_bytes, process_cpu_seconds_total, ...). */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

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

#endif
