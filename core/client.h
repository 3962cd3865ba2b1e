/* client.h — `sluice connectors ...`: a thin client of Kafka Connect's REST API (a running
 * `sluice run`, or Kafka Connect itself), for operators without curl at hand; and the requests it
 * sends, which `sluice top` (top.c) sends too. */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"

/* Where a worker's REST API is when neither --url nor $SLUICE_URL says (Connect's port). */
#define CLIENT_DEFAULT_URL "http://127.0.0.1:8083"

/* argv: what follows "connectors". Returns the exit code: 0 ok, 1 the API answered an error or
 * could not be reached (the message printed), 2 a usage error. */
int client_main(int argc, char **argv);

/* `sluice tap NAME ...` (argv: what follows "tap"): the records of a connector's stage, one line
 * each (GET /connectors/{name}/tap). Exit codes as client_main's. */
int client_tap_main(int argc, char **argv);

/* Loads libcurl (dlopen: see client.c) once; -1 with the reason in err. Before any request. */
int client_curl_load(char *err, size_t errlen);

/* One request to the REST API. Reusable: each send replaces status and body. */
typedef struct client_request {
    const char *base;   /* the worker's URL; a trailing '/' is fine */
    const char *user;   /* "USER:PASSWORD" for HTTP basic auth, or NULL */
    const char *method; /* GET, PUT, POST (an empty JSON body) or DELETE */
    buf_t path;         /* from the root, with the query */
    long timeout_ms;    /* the whole request's; 0: 60 s. Connecting takes at most 5 s of it */
    long status;        /* the answer's HTTP status */
    buf_t body;         /* the answer, NUL-terminated */
    /* When set, another thread ends the request by making it non-zero (looked at about once a
     * second, and at each read). */
    const atomic_int *cancel;
} client_request_t;

void client_request_init(client_request_t *r, const char *base, const char *user,
                         const char *method);
void client_request_free(client_request_t *r);
/* Appends "/connectors/NAME" + suffix to the path, NAME escaped; -1 out of memory. */
int client_request_path_connector(client_request_t *r, const char *name, const char *suffix);
/* 0 when an answer came, whatever its status; -1 with "cannot reach URL: why" in err. */
int client_request_send(client_request_t *r, char *err, size_t errlen);
/* An error answer in one line: Connect's {"message"} and the status, else the body as it came. */
void client_request_error(const client_request_t *r, char *out, size_t size);

#endif
