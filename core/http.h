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
/* A request header's value, NULL when absent (the tap's Accept). */
const char *http_header(const http_request_t *req, const char *name);
/* 1 when one of the query's `name` parameters is `value` (?expand=status&expand=info). */
int http_query_has(const http_request_t *req, const char *name, const char *value);

/* A streaming response (the tap): bytes produced as they come, over chunked encoding. The server
 * never blocks one of its threads on it: when `read` has nothing, the connection is suspended and
 * a pump thread resumes it once `ready` says so (polled every HTTP_STREAM_TICK_MS), when the
 * client hangs up, or after HTTP_STREAM_KEEPALIVE_MS of silence (then `keepalive` is sent, which
 * is also how a client that went away unnoticed is found). All three run under no lock of the
 * server's; `free` runs once, when the connection ends for whatever reason. */
#define HTTP_STREAM_TICK_MS      50
#define HTTP_STREAM_KEEPALIVE_MS 5000
typedef struct http_stream_ops {
    /* Copy up to `max` bytes: >0 written, 0 nothing now, -1 the stream ended. Never blocks. */
    long (*read)(void *obj, char *buf, size_t max);
    int (*ready)(void *obj); /* 1 when `read` would give bytes or the end */
    void (*free)(void *obj);
} http_stream_ops_t;

typedef struct http_response {
    int status;               /* 200 unless set */
    const char *content_type; /* "application/json" unless set */
    buf_t body;
    /* A streaming response: set both (the body is then ignored); the server owns `stream_obj`
     * from then on (ops->free), even when the response cannot be sent. */
    const http_stream_ops_t *stream;
    void *stream_obj;
    const char *stream_keepalive; /* bytes sent after a silence ("\n", SSE's ":\n\n") */
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
