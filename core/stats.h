/* stats.h — issue #18's read-only views for the dashboard and `sluice top` (docs/dashboard.md):
 * GET /stats (each connector's state, totals, current rates and per-second series from history.h,
 * consumer lag, buffer; the process's RSS and CPU) and GET /topology (each file's pipelines:
 * source, transforms, topic, sinks, from the resolved configuration). */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include "http.h"

struct runtime;

/* GET /stats?window=S (0..900, default 900). */
void stats_get(struct runtime *rt, const http_request_t *req, http_response_t *resp);
/* GET /topology. */
void stats_topology(struct runtime *rt, http_response_t *resp);

#endif
