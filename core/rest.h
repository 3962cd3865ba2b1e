/* rest.h — Kafka Connect's REST API over the worker (issue #17, docs/rest-api.md): routing,
 * Connect's paths, status codes and JSON, /health, /ready, /reload and /metrics. */
#ifndef SLUICE_REST_H
#define SLUICE_REST_H

#include "http.h"

/* The http_server's handler; `rt` is the runtime_t. */
void rest_handle(void *rt, const http_request_t *req, http_response_t *resp);

#endif
