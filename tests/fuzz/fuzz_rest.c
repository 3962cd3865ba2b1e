/* Fuzz the REST API's request handling (rest.c) with connect_config.c behind it: the input is a
 * method (its first byte), a path with an optional query (up to the first '\n') and a body (the
 * rest). rest_handle routes it against a worker of this harness (one connector, "copy"), so that
 * routing, query parsing, JSON bodies and Connect's flat configs are exercised without threads or
 * plugins. Findings: a crash or leak, a response that is not JSON or not Connect's error shape, a
 * status outside the API's, and YAML from connect_config.c that does not parse back into one
 * pipeline whose id is the connector's name. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cluster.h"
#include "config.h"
#include "fuzz.h"
#include "http.h"
#include "metrics.h"
#include "rest.h"
#include "runtime.h"
#include "stats.h"
#include "tap.h"
#include "ui.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define FUZZ_REST_MAX (64 * 1024)

/* -- the query string of the current input (http.c's functions, over it) ---------------------- */

static char *query;

static const char *query_find(const char *name, const char *value, char *out, size_t outlen)
{
    for (char *p = query; p && *p;) {
        char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        if (klen == strlen(name) && strncmp(p, name, klen) == 0) {
            size_t vlen = eq ? n - klen - 1 : 0;
            if (vlen >= outlen)
                vlen = outlen - 1;
            memcpy(out, eq ? eq + 1 : "", vlen);
            out[vlen] = '\0';
            if (!value || strcmp(out, value) == 0)
                return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static char query_value[256];

const char *http_query(const http_request_t *req, const char *name)
{
    (void)req;
    return query_find(name, NULL, query_value, sizeof query_value);
}

int http_query_has(const http_request_t *req, const char *name, const char *value)
{
    (void)req;
    char tmp[256];
    return query_find(name, value, tmp, sizeof tmp) != NULL;
}

const char *http_worker_id(const http_server_t *srv)
{
    (void)srv;
    return "127.0.0.1:8083";
}

/* -- a worker with one connector --------------------------------------------------------------- */

const char *worker_state_name(worker_state_t s)
{
    return s == WORKER_RUNNING ? "RUNNING" : "FAILED";
}

static char *xdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void fill(worker_connector_t *c)
{
    memset(c, 0, sizeof *c);
    c->name = xdup("copy");
    c->pipeline = xdup("copy");
    c->plugin = xdup("file");
    c->state = WORKER_FAILED;
    c->trace = xdup("a \"trace\"\nwith lines");
    c->nconfig = 2;
    c->config = calloc(2, sizeof *c->config);
    c->ntopics = 1;
    c->topics = calloc(1, sizeof *c->topics);
    c->ntasks = 1;
    c->tasks = calloc(1, sizeof *c->tasks);
    if (!c->config || !c->topics || !c->tasks)
        abort();
    c->config[0] = (worker_kv_t){xdup("connector.class"), xdup("file")};
    c->config[1] = (worker_kv_t){xdup("file"), xdup("in.txt")};
    c->topics[0] = xdup("copy");
    c->tasks[0].state = WORKER_RUNNING;
}

void worker_connector_free(worker_connector_t *c)
{
    free(c->name);
    free(c->pipeline);
    free(c->plugin);
    free(c->trace);
    for (size_t i = 0; i < c->nconfig; i++) {
        free(c->config[i].key);
        free(c->config[i].value);
    }
    free(c->config);
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    free(c->tasks);
}

int worker_connectors(struct runtime *rt, worker_connector_t **out, size_t *n)
{
    (void)rt;
    *out = calloc(1, sizeof **out);
    if (!*out)
        abort();
    fill(*out);
    *n = 1;
    return 0;
}

void worker_connectors_free(worker_connector_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        worker_connector_free(&c[i]);
    free(c);
}

/* The connector worker_put made last: visible at once (rest.c waits for it to appear). */
static char last_put[256];

static int known(const char *name, char *err, size_t errlen)
{
    if (strcmp(name, "copy") == 0 || (last_put[0] && strcmp(name, last_put) == 0))
        return 200;
    snprintf(err, errlen, "Connector %s not found", name);
    return 404;
}

int worker_connector(struct runtime *rt, const char *name, worker_connector_t *out, char *err,
                     size_t errlen)
{
    (void)rt;
    int rc = known(name, err, errlen);
    if (rc == 200)
        fill(out);
    return rc;
}

#define ACTION(fn, ok)                                                                             \
    int fn(struct runtime *rt, const char *name, char *err, size_t errlen)                         \
    {                                                                                              \
        (void)rt;                                                                                  \
        int rc = known(name, err, errlen);                                                         \
        return rc == 200 ? ok : rc;                                                                \
    }
ACTION(worker_pause, 202)
ACTION(worker_resume, 202)
ACTION(worker_stop, 204)
ACTION(worker_delete, 409)
ACTION(worker_offsets_reset, 400)
ACTION(worker_topics_reset, 202)

int worker_pending(struct runtime *rt)
{
    (void)rt;
    return 0;
}

/* Distributed mode (cluster.c) merges the other workers' statuses; the harness runs standalone. */
void cluster_status_merge(cluster_t *c, struct worker_connector *cs, size_t n)
{
    (void)c;
    (void)cs;
    (void)n;
}

/* GET /metrics: metrics.c reads a real worker; the stand-in's exposition is one line. */
void metrics_render(struct runtime *rt, buf_t *out)
{
    (void)rt;
    buf_puts(out, "sluice_worker_connectors 0\n");
}

/* The tap: no headers here (NDJSON); a known connector has the one stage "source" and the
 * harness never streams (the route's query checks and errors are what is fuzzed). */
const char *http_header(const http_request_t *req, const char *name)
{
    (void)req, (void)name;
    return NULL;
}

int tap_open(struct runtime *rt, const tap_request_t *req, const http_stream_ops_t **ops,
             void **obj, char *err, size_t errlen)
{
    (void)rt, (void)ops, (void)obj;
    int rc = known(req->connector, err, errlen);
    if (rc != 200)
        return rc;
    if (!req->stage || strcmp(req->stage, "source") == 0) {
        snprintf(err, errlen, "the harness does not stream");
        return 503;
    }
    snprintf(err, errlen, "Connector %s has no stage '%s'; its stages: 'source'", req->connector,
             req->stage);
    return 400;
}

/* GET /stats and /topology: stats.c reads a real worker's history and pipelines. */
void stats_get(struct runtime *rt, const http_request_t *req, http_response_t *resp)
{
    (void)rt, (void)req;
    buf_puts(&resp->body, "{\"connectors\":[]}");
}

void stats_topology(struct runtime *rt, http_response_t *resp)
{
    (void)rt;
    buf_puts(&resp->body, "{\"files\":[]}");
}

/* GET /ui: the embedded files are ui.c's; the stand-in has none. */
void ui_serve(const char *name, http_response_t *resp)
{
    (void)name;
    resp->status = 404;
    buf_puts(&resp->body, "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}");
}

int worker_restart(struct runtime *rt, const char *name, int include_tasks, int only_failed,
                   char *err, size_t errlen)
{
    (void)rt;
    int rc = known(name, err, errlen);
    return rc != 200 ? rc : include_tasks || only_failed ? 202 : 204;
}

int worker_restart_task(struct runtime *rt, const char *name, int task, char *err, size_t errlen)
{
    (void)rt;
    int rc = known(name, err, errlen);
    if (rc == 200 && task != 0) {
        snprintf(err, errlen, "Task %s/%d not found", name, task);
        return 404;
    }
    return rc == 200 ? 204 : rc;
}

/* The YAML connect_config.c made must be one pipeline named after the connector. */
int worker_put(struct runtime *rt, const char *name, const char *yaml, size_t len, int must_be_new,
               worker_state_t initial, int *created, char *err, size_t errlen)
{
    (void)rt, (void)must_be_new, (void)initial;
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *doc = config_parse_yaml("rest", yaml, len, ".", &errs);
    FUZZ_CHECK(doc && errs.len == 0, "connect_config's YAML does not parse: %s\n%s",
               errs.len ? errs.msgs[0] : "?", yaml);
    const config_node_t *pipes = config_node_get(doc, "pipelines");
    FUZZ_CHECK(pipes && pipes->kind == CONFIG_SEQ && pipes->len == 1, "not one pipeline:\n%s",
               yaml);
    const config_node_t *id = config_node_get(pipes->items[0], "id");
    FUZZ_CHECK(id && id->kind == CONFIG_SCALAR && strcmp(id->scalar, name) == 0,
               "the pipeline's id is not '%s':\n%s", name, yaml);
    FUZZ_CHECK(doc->len == 2, "top-level keys injected:\n%s", yaml);
    config_node_free(doc);
    config_errors_free(&errs);
    *created = strcmp(name, "copy") != 0;
    snprintf(last_put, sizeof last_put, "%s", name);
    (void)err, (void)errlen;
    return *created ? 201 : 200;
}

int worker_reload(struct runtime *rt, buf_t *errors)
{
    (void)rt;
    buf_puts(errors, "p.yaml:1:1: broken\n");
    return 400;
}

int worker_offsets(struct runtime *rt, const char *name, buf_t *json, char *err, size_t errlen)
{
    (void)rt;
    int rc = known(name, err, errlen);
    if (rc == 200)
        buf_puts(json, "{\"offsets\":[]}");
    return rc;
}

int worker_offsets_alter(struct runtime *rt, const char *name, const char *json, size_t len,
                         char *err, size_t errlen)
{
    (void)rt;
    cJSON *j = cJSON_ParseWithLength(json, len);
    FUZZ_CHECK(j != NULL, "PATCH offsets passed a body that is not JSON");
    cJSON_Delete(j);
    return known(name, err, errlen);
}

int worker_started(struct runtime *rt)
{
    (void)rt;
    return 1;
}

int worker_ready(struct runtime *rt)
{
    (void)rt;
    return 0;
}

const char *worker_kafka_cluster_id(struct runtime *rt)
{
    (void)rt;
    return NULL;
}

/* -- the harness ------------------------------------------------------------------------------- */

static runtime_t rt;
static loaded_plugin_t plugins[2];
static loaded_plugin_t *plugin_list[2] = {&plugins[0], &plugins[1]};
static const struct sluice_config_field file_keys[] = {
    {.name = "file", .type = SLUICE_CFG_PATH, .flags = SLUICE_CFG_REQUIRED},
    {.name = "batch.size", .type = SLUICE_CFG_INT, .flags = SLUICE_CFG_RANGE, .min = 1, .max = 10},
    {.name = NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1 || len > FUZZ_REST_MAX)
        return 0;
    if (!rt.registry.plugins) {
        /* A source-and-sink plugin "file" and a sink-only "console", tables without plugins. */
        plugins[0].desc.name = "file";
        plugins[0].has_source = plugins[0].has_sink = 1;
        plugins[0].tables[0] = plugins[0].tables[2] = (struct sluice_config_field *)file_keys;
        plugins[1].desc.name = "console";
        plugins[1].has_sink = 1;
        rt.registry.plugins = plugin_list;
        rt.registry.len = 2;
    }
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
    const char *method = methods[data[0] % 6];
    char *text = fuzz_cstr(data + 1, len - 1);
    char *nl = strchr(text, '\n');
    const char *body = "";
    size_t body_len = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        body_len = (len - 1) - (size_t)(body - text);
    }
    char *q = strchr(text, '?');
    query = NULL;
    if (q) {
        *q = '\0';
        query = q + 1;
    }
    http_request_t req = {.method = method, .path = text, .body = body, .body_len = body_len};
    http_response_t resp = {.status = 200, .content_type = "application/json"};
    buf_init(&resp.body);
    last_put[0] = '\0';
    rest_handle(&rt, &req, &resp);

    static const int statuses[] = {200, 201, 202, 204, 400, 404, 405, 409, 500, 503};
    int ok = 0;
    for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++)
        ok |= resp.status == statuses[i];
    FUZZ_CHECK(ok, "status %d", resp.status);
    if (resp.body.len && strcmp(resp.content_type, "application/json") != 0) {
        /* GET /metrics: Prometheus' text format, not JSON */
        FUZZ_CHECK(resp.status == 200 && strncmp(resp.content_type, "text/plain", 10) == 0,
                   "status %d with a body of type %s", resp.status, resp.content_type);
    } else if (resp.body.len) {
        cJSON *j = cJSON_ParseWithLength(resp.body.data, resp.body.len);
        FUZZ_CHECK(j != NULL, "the response is not JSON: %s", resp.body.data);
        if (resp.status >= 400) {
            const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "error_code");
            FUZZ_CHECK(cJSON_IsNumber(code) && code->valueint == resp.status &&
                           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "message")),
                       "not Connect's error shape: %s", resp.body.data);
        }
        cJSON_Delete(j);
    } else {
        FUZZ_CHECK(resp.status == 202 || resp.status == 204, "status %d without a body",
                   resp.status);
    }
    buf_free(&resp.body);
    free(text);
    return 0;
}
