/* http.h — the worker's HTTP listener (issue #17) over GNU libmicrohttpd: its own threads, so a
 * slow client never touches a pipeline thread. It parses `listeners` (http:// and https://),
 * applies TLS, basic auth and the limits (1 MiB bodies: 413; connection count; idle timeout),
 * collects a request's body and hands the whole request to one handler (rest.c's rest_handle),
 * which fills a response. Connect's error shape {"error_code": N, "message": "..."} is the
 * handler's; the server writes it itself only for what it refuses before the handler (401, 413). */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

#define HTTP_BODY_MAX (1024 * 1024)

typedef struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* decoded, without the query */
    const char *body;   /* NUL-terminated; "" when none */
    size_t body_len;
    const char *user; /* the authenticated user (basic auth), or NULL */
    void *conn;       /* the server's connection: for http_query */
} http_request_t;

/* The value of a query parameter (decoded), NULL when absent. */
const char *http_query(const http_request_t *req, const char *name);
/* 1 when one of the query's `name` parameters is `value` (?expand=status&expand=info). */
int http_query_has(const http_request_t *req, const char *name, const char *value);

typedef struct http_response {
    int status;               /* 200 unless set */
    const char *content_type; /* "application/json" unless set */
    buf_t body;
    /* A streaming response (the tap, later): NULL for a whole body. */
    void *stream;
} http_response_t;

typedef void (*http_handler_fn)(void *opaque, const http_request_t *req, http_response_t *resp);

typedef struct http_server http_server_t;

/* Settings from the top-level keys (listeners, rest.advertised.*, listeners.https.*,
 * rest.basic.auth.*): parse and check them into `errs` (lint), for a server started later. */
typedef struct http_settings http_settings_t;
http_settings_t *http_settings_new(const sluice_config_t *global, const char *override,
                                   config_errors_t *errs);
void http_settings_free(http_settings_t *s);
/* 0 when the settings turn the listener off (listeners: ""). */
int http_settings_enabled(const http_settings_t *s);

/* Bind and start (before the pipelines' set-up, so /health answers while Kafka is awaited).
 * Errors (the port is in use, a TLS file unreadable) go to `err`; the caller exits 2. On success
 * `where` is the URL it listens on (the real port when the given one was 0). */
http_server_t *http_start(const http_settings_t *s, http_handler_fn handler, void *opaque,
                          char *where, size_t wherelen, char *err, size_t errlen);
void http_stop(http_server_t *srv);
/* "host:port" as Connect's worker_id: rest.advertised.host.name/port, else where it listens. */
const char *http_worker_id(const http_server_t *srv);

#endif
