/* metrics.h — GET /metrics (issue #17): the worker's counters in Prometheus's text exposition
 * format: per connector and task, Kafka Connect's metrics under Prometheus names, buffer use,
 * consumer lag and broker round-trip times (librdkafka statistics), and the process collector's
 * standard series (process_resident_memory_bytes, process_cpu_seconds_total, ...). */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include "buf.h"

struct runtime;

/* Append the whole exposition to `out` (text/plain; version=0.0.4). */
void metrics_render(struct runtime *rt, buf_t *out);

#endif
