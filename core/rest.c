/* rest.c — Kafka Connect's REST API (see rest.h): each request is routed by method and path to the
 * worker (worker.h) and answered with Connect's status codes and JSON shapes. */
#include "rest.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "config.h"
#include "connect_config.h"
#include "metrics.h"
#include "runtime.h"
#include "sluice_build.h"
#include "stats.h"
#include "tap.h"
#include "ui.h"
#include "worker.h"

#define REST_MAX_SEGMENTS 8
/* How long a create or change waits to see the connector in the worker. */
#define REST_PUT_WAIT_MS 5000

/* -- responses -------------------------------------------------------------------------------- */

static void reply_error(http_response_t *resp, int status, const char *fmt, ...)
    SLUICE_PRINTF(3, 4);
static void reply_error(http_response_t *resp, int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "error_code", status);
    cJSON_AddStringToObject(o, "message", msg);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    resp->status = status;
    buf_reset(&resp->body);
    if (text)
        buf_puts(&resp->body, text);
    free(text);
}

/* `o` is consumed. */
static void reply_json(http_response_t *resp, int status, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        reply_error(resp, 500, "out of memory");
        return;
    }
    resp->status = status;
    buf_puts(&resp->body, text);
    free(text);
}

/* A worker action's answer: its status, an empty body on success, Connect's error otherwise. */
static void reply_action(http_response_t *resp, int status, const char *err)
{
    if (status >= 400)
        reply_error(resp, status, "%s", err[0] ? err : "failed");
    else
        resp->status = status;
}

/* -- JSON of the worker's snapshots ----------------------------------------------------------- */

static const char *worker_id(runtime_t *rt)
{
    return http_worker_id(rt->http);
}

static cJSON *config_json(const worker_connector_t *c)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < c->nconfig; i++)
        cJSON_AddStringToObject(o, c->config[i].key, c->config[i].value ? c->config[i].value : "");
    return o;
}

/* ConnectorInfo: name, config, tasks [{connector, task}], type. */
static cJSON *info_json(const worker_connector_t *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddItemToObject(o, "config", config_json(c));
    cJSON *tasks = cJSON_AddArrayToObject(o, "tasks");
    for (size_t i = 0; i < c->ntasks; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "connector", c->name);
        cJSON_AddNumberToObject(t, "task", c->tasks[i].id);
        cJSON_AddItemToArray(tasks, t);
    }
    cJSON_AddStringToObject(o, "type", c->is_sink ? "sink" : "source");
    return o;
}

/* The version of the plugin a connector runs (Connect 4's status carries it). */
static const char *plugin_version(runtime_t *rt, const char *name)
{
    const loader_alias_t *alias = NULL;
    const loaded_plugin_t *p = registry_find(&rt->registry, name);
    if (!p)
        p = registry_find_alias(&rt->registry, name, &alias);
    return p && p->desc.version ? p->desc.version : SLUICE_VERSION;
}

static cJSON *task_status_json(runtime_t *rt, const worker_task_t *t, const char *version)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "state", worker_state_name(t->state));
    cJSON_AddStringToObject(o, "worker_id", t->worker_id ? t->worker_id : worker_id(rt));
    cJSON_AddStringToObject(o, "version", version);
    if (t->trace)
        cJSON_AddStringToObject(o, "trace", t->trace);
    return o;
}

/* ConnectorStateInfo: name, connector {state, worker_id, trace?}, tasks, type. sluice adds the
 * automatic restarts (restart.policy) to the connector's entry once there are any. */
static cJSON *status_json(runtime_t *rt, const worker_connector_t *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON *conn = cJSON_AddObjectToObject(o, "connector");
    cJSON_AddStringToObject(conn, "state", worker_state_name(c->state));
    cJSON_AddStringToObject(conn, "worker_id", c->worker_id ? c->worker_id : worker_id(rt));
    cJSON_AddStringToObject(conn, "version", plugin_version(rt, c->plugin));
    if (c->trace)
        cJSON_AddStringToObject(conn, "trace", c->trace);
    if (c->restarts > 0 || c->state == WORKER_RESTARTING)
        cJSON_AddNumberToObject(conn, "restarts", (double)c->restarts);
    cJSON *tasks = cJSON_AddArrayToObject(o, "tasks");
    for (size_t i = 0; i < c->ntasks; i++)
        cJSON_AddItemToArray(tasks,
                             task_status_json(rt, &c->tasks[i], plugin_version(rt, c->plugin)));
    cJSON_AddStringToObject(o, "type", c->is_sink ? "sink" : "source");
    return o;
}

/* -- request bodies --------------------------------------------------------------------------- */

/* The body as a JSON value of `type` (cJSON_Object ...), or NULL after a 400. */
static cJSON *parse_body(const http_request_t *req, http_response_t *resp, int object)
{
    if (req->body_len == 0) {
        reply_error(resp, 400, "The request needs a JSON body");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    /* Only white space may follow the value. */
    const char *tail = end && j ? end : NULL;
    while (tail && tail < req->body + req->body_len && strchr(" \t\r\n", *tail) && *tail)
        tail++;
    if (j && tail != req->body + req->body_len) {
        cJSON_Delete(j);
        j = NULL;
        end = tail;
    }
    if (!j) {
        size_t at = end && end >= req->body ? (size_t)(end - req->body) : 0;
        reply_error(resp, 400, "Malformed JSON in the request body (at byte %zu)", at);
        return NULL;
    }
    if (object && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error(resp, 400, "The request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* -- routes ----------------------------------------------------------------------------------- */

static void get_root(runtime_t *rt, http_response_t *resp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", SLUICE_VERSION);
    cJSON_AddStringToObject(o, "commit", SLUICE_COMMIT);
    const char *cluster = worker_kafka_cluster_id(rt);
    if (cluster)
        cJSON_AddStringToObject(o, "kafka_cluster_id", cluster);
    else
        cJSON_AddNullToObject(o, "kafka_cluster_id");
    reply_json(resp, 200, o);
}

static void get_connectors(runtime_t *rt, const http_request_t *req, http_response_t *resp)
{
    worker_connector_t *cs = NULL;
    size_t n = 0;
    if (worker_connectors(rt, &cs, &n) != 0) {
        reply_error(resp, 500, "out of memory");
        return;
    }
    int status = http_query_has(req, "expand", "status");
    int info = http_query_has(req, "expand", "info");
    if (status)
        cluster_status_merge(rt->cluster, cs, n);
    cJSON *o;
    if (!status && !info) {
        o = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(o, cJSON_CreateString(cs[i].name));
    } else {
        o = cJSON_CreateObject();
        for (size_t i = 0; i < n; i++) {
            cJSON *e = cJSON_AddObjectToObject(o, cs[i].name);
            if (status)
                cJSON_AddItemToObject(e, "status", status_json(rt, &cs[i]));
            if (info)
                cJSON_AddItemToObject(e, "info", info_json(&cs[i]));
        }
    }
    worker_connectors_free(cs, n);
    reply_json(resp, 200, o);
}

/* Create or replace `name` from Connect's flat `config`; `must_be_new`: POST's 409. */
static void put_connector(runtime_t *rt, const char *name, const cJSON *config, int must_be_new,
                          worker_state_t initial, http_response_t *resp)
{
    char err[4096] = "";
    worker_connector_t c;
    if (must_be_new && worker_connector(rt, name, &c, err, sizeof err) == 200) {
        worker_connector_free(&c);
        reply_error(resp, 409, "Connector %s already exists", name);
        return;
    }
    buf_t yaml;
    buf_init(&yaml);
    int is_sink = 0;
    int rc = connect_config_to_yaml(&rt->registry, name, config, &yaml, &is_sink, err, sizeof err);
    if (rc != 0) {
        buf_free(&yaml);
        reply_error(resp, rc, "%s", err);
        return;
    }
    int created = 0;
    err[0] = '\0';
    rc = worker_put(rt, name, yaml.data, yaml.len, must_be_new, initial, &created, err, sizeof err);
    buf_free(&yaml);
    if (rc >= 400) {
        reply_error(resp, rc, "%s", err[0] ? err : "failed");
        return;
    }
    if (must_be_new)
        rc = 201;
    /* The supervisor applies the change at its next tick: wait for it (bounded), as Connect's
     * herder call does, so that the answer shows the tasks and a second POST meets a 409. */
    int found = 0;
    for (int i = 0; i < REST_PUT_WAIT_MS / 10 && !found; i++) {
        /* applied: nothing queued any more (a change replaces the old connector) */
        found = !worker_pending(rt) && worker_connector(rt, name, &c, err, sizeof err) == 200;
        if (!found) {
            struct timespec ten = {0, 10 * 1000000L};
            nanosleep(&ten, NULL);
        }
    }
    if (found) {
        reply_json(resp, rc, info_json(&c));
        worker_connector_free(&c);
        return;
    }
    /* Not visible yet: answer with what was asked. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON *cfg = cJSON_Duplicate(config, 1);
    if (!cJSON_GetObjectItemCaseSensitive(cfg, "name"))
        cJSON_AddStringToObject(cfg, "name", name);
    cJSON_AddItemToObject(o, "config", cfg);
    cJSON_AddArrayToObject(o, "tasks");
    cJSON_AddStringToObject(o, "type", is_sink ? "sink" : "source");
    reply_json(resp, rc, o);
}

static void post_connectors(runtime_t *rt, const http_request_t *req, http_response_t *resp)
{
    cJSON *body = parse_body(req, resp, 1);
    if (!body)
        return;
    const cJSON *name = NULL, *config = NULL, *initial = NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, body)
    {
        if (strcmp(item->string, "name") == 0)
            name = item;
        else if (strcmp(item->string, "config") == 0)
            config = item;
        else if (strcmp(item->string, "initial_state") == 0)
            initial = item;
        else {
            reply_error(resp, 400,
                        "Unrecognized field \"%.200s\" (known: name, config, "
                        "initial_state)",
                        item->string);
            cJSON_Delete(body);
            return;
        }
    }
    const char *nm = cJSON_IsString(name) ? name->valuestring : NULL;
    if (!nm && config && cJSON_IsObject(config)) {
        const cJSON *n2 = cJSON_GetObjectItemCaseSensitive(config, "name");
        nm = cJSON_IsString(n2) ? n2->valuestring : NULL;
    }
    if (name && !cJSON_IsString(name))
        reply_error(resp, 400, "\"name\" must be a string");
    else if (!nm || !*nm)
        reply_error(resp, 400, "Connector name is missing: give \"name\"");
    else if (!config || cJSON_IsNull(config))
        reply_error(resp, 400, "Connector config is missing: give \"config\"");
    else if (!cJSON_IsObject(config))
        reply_error(resp, 400, "\"config\" must be a JSON object of strings");
    else if (initial &&
             !(cJSON_IsString(initial) && (strcmp(initial->valuestring, "RUNNING") == 0 ||
                                           strcmp(initial->valuestring, "PAUSED") == 0 ||
                                           strcmp(initial->valuestring, "STOPPED") == 0)))
        reply_error(resp, 400, "\"initial_state\" must be RUNNING, PAUSED or STOPPED");
    else {
        worker_state_t st = !initial                                       ? WORKER_RUNNING
                            : strcmp(initial->valuestring, "PAUSED") == 0  ? WORKER_PAUSED
                            : strcmp(initial->valuestring, "STOPPED") == 0 ? WORKER_STOPPED
                                                                           : WORKER_RUNNING;
        put_connector(rt, nm, config, 1, st, resp);
    }
    cJSON_Delete(body);
}

/* Load one connector's snapshot, or answer its 404. */
static int load(runtime_t *rt, const char *name, worker_connector_t *c, http_response_t *resp)
{
    char err[512] = "";
    int rc = worker_connector(rt, name, c, err, sizeof err);
    if (rc != 200) {
        reply_error(resp, rc, "%s", err[0] ? err : "Connector not found");
        return -1;
    }
    cluster_status_merge(rt->cluster, c, 1); /* distributed: the other workers' tasks */
    return 0;
}

/* A task id from the path: a non-negative integer, else 404 as Connect's. */
static int parse_task(const char *s)
{
    if (!*s || strlen(s) > 6)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* "true"/"false" query values (Connect's @DefaultValue("false") booleans); -1 when invalid. */
static int query_bool(const http_request_t *req, const char *name)
{
    const char *v = http_query(req, name);
    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0)
        return 1;
    if (strcasecmp(v, "false") == 0 || !*v)
        return 0;
    return -1;
}

/* A query number within [1, max] (`def` when absent); -1 with a 400 answered otherwise. */
static long query_count(const http_request_t *req, http_response_t *resp, const char *key, long def,
                        long max)
{
    const char *v = http_query(req, key);
    if (!v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > max) {
        reply_error(resp, 400, "%s must be a number from 1 to %ld, not '%s'", key, max, v);
        return -1;
    }
    return n;
}

/* GET /connectors/{name}/tap (a sluice extension, tap.h): a streaming response. */
static void get_tap(runtime_t *rt, const http_request_t *req, http_response_t *resp,
                    const char *name)
{
    const char *accept = http_header(req, "Accept");
    tap_request_t tr = {.connector = name,
                        .stage = http_query(req, "stage"),
                        .sse = accept && strstr(accept, "text/event-stream") != NULL};
    if ((tr.limit = query_count(req, resp, "limit", 100, TAP_LIMIT_MAX)) < 0 ||
        (tr.rate = query_count(req, resp, "rate", 100, TAP_RATE_MAX)) < 0)
        return;
    char err[4096] = "";
    int rc = tap_open(rt, &tr, &resp->stream, &resp->stream_obj, err, sizeof err);
    if (rc != 200) {
        reply_error(resp, rc, "%s", err);
        return;
    }
    resp->status = 200;
    resp->content_type = tr.sse ? "text/event-stream" : "application/x-ndjson";
    /* SSE's comment line; a blank line between NDJSON objects (readers skip it). */
    resp->stream_keepalive = tr.sse ? ":\n\n" : "\n";
}

static void connector_routes(runtime_t *rt, const http_request_t *req, http_response_t *resp,
                             char **seg, size_t nseg)
{
    const char *m = req->method;
    const char *name = seg[1];
    char err[4096] = "";
    worker_connector_t c;

    if (nseg == 2) {
        if (strcmp(m, "GET") == 0) {
            if (load(rt, name, &c, resp) == 0) {
                reply_json(resp, 200, info_json(&c));
                worker_connector_free(&c);
            }
        } else if (strcmp(m, "DELETE") == 0) {
            int rc = worker_delete(rt, name, err, sizeof err);
            /* As for a create: answer once the worker has let it go (bounded). */
            for (int i = 0; rc < 300 && i < REST_PUT_WAIT_MS / 10; i++) {
                if (worker_connector(rt, name, &c, err, sizeof err) != 200)
                    break;
                worker_connector_free(&c);
                struct timespec ten = {0, 10 * 1000000L};
                nanosleep(&ten, NULL);
            }
            err[0] = rc >= 300 ? err[0] : '\0';
            reply_action(resp, rc, err);
        } else {
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        }
        return;
    }
    const char *sub = seg[2];
    if (nseg == 3 && strcmp(sub, "tap") == 0) {
        if (strcmp(m, "GET") != 0)
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        else
            get_tap(rt, req, resp, name);
        return;
    }
    if (nseg == 3 && strcmp(sub, "config") == 0) {
        if (strcmp(m, "GET") == 0) {
            if (load(rt, name, &c, resp) == 0) {
                reply_json(resp, 200, config_json(&c));
                worker_connector_free(&c);
            }
        } else if (strcmp(m, "PUT") == 0) {
            cJSON *body = parse_body(req, resp, 1);
            if (body)
                put_connector(rt, name, body, 0, WORKER_RUNNING, resp);
            cJSON_Delete(body);
        } else {
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        }
        return;
    }
    if (nseg == 3 && strcmp(sub, "status") == 0) {
        if (strcmp(m, "GET") != 0)
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        else if (load(rt, name, &c, resp) == 0) {
            reply_json(resp, 200, status_json(rt, &c));
            worker_connector_free(&c);
        }
        return;
    }
    if (nseg == 3 &&
        (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0 || strcmp(sub, "stop") == 0)) {
        if (strcmp(m, "PUT") != 0) {
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
            return;
        }
        int rc = strcmp(sub, "pause") == 0    ? worker_pause(rt, name, err, sizeof err)
                 : strcmp(sub, "resume") == 0 ? worker_resume(rt, name, err, sizeof err)
                                              : worker_stop(rt, name, err, sizeof err);
        reply_action(resp, rc, err);
        return;
    }
    if (nseg == 3 && strcmp(sub, "restart") == 0) {
        if (strcmp(m, "POST") != 0) {
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
            return;
        }
        int tasks = query_bool(req, "includeTasks"), failed = query_bool(req, "onlyFailed");
        if (tasks < 0 || failed < 0) {
            reply_error(resp, 400, "includeTasks and onlyFailed are true or false");
            return;
        }
        int rc = worker_restart(rt, name, tasks, failed, err, sizeof err);
        if (rc == 202 && load(rt, name, &c, resp) == 0) {
            reply_json(resp, 202, status_json(rt, &c));
            worker_connector_free(&c);
        } else if (rc != 202) {
            reply_action(resp, rc, err);
        }
        return;
    }
    if (nseg == 3 && strcmp(sub, "topics") == 0) {
        if (strcmp(m, "GET") != 0)
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        else if (load(rt, name, &c, resp) == 0) {
            cJSON *o = cJSON_CreateObject();
            cJSON *t = cJSON_AddObjectToObject(o, c.name);
            cJSON *list = cJSON_AddArrayToObject(t, "topics");
            for (size_t i = 0; i < c.ntopics; i++)
                cJSON_AddItemToArray(list, cJSON_CreateString(c.topics[i]));
            worker_connector_free(&c);
            reply_json(resp, 200, o);
        }
        return;
    }
    if (nseg == 4 && strcmp(sub, "topics") == 0 && strcmp(seg[3], "reset") == 0) {
        if (strcmp(m, "PUT") != 0)
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        else
            reply_action(resp, worker_topics_reset(rt, name, err, sizeof err), err);
        return;
    }
    if (nseg == 3 && strcmp(sub, "offsets") == 0) {
        if (strcmp(m, "GET") == 0) {
            buf_t json;
            buf_init(&json);
            int rc = worker_offsets(rt, name, &json, err, sizeof err);
            if (rc == 200) {
                resp->status = 200;
                buf_append(&resp->body, json.data ? json.data : "", json.len);
            } else {
                reply_action(resp, rc, err);
            }
            buf_free(&json);
        } else if (strcmp(m, "PATCH") == 0) {
            cJSON *body = parse_body(req, resp, 1);
            if (!body)
                return;
            const cJSON *offs = cJSON_GetObjectItemCaseSensitive(body, "offsets");
            int shape = cJSON_IsArray(offs) && cJSON_GetArraySize(body) == 1;
            cJSON_Delete(body);
            if (!shape) {
                reply_error(resp, 400,
                            "The body must be {\"offsets\": [{\"partition\": {...}, "
                            "\"offset\": {...}}, ...]}");
                return;
            }
            int rc = worker_offsets_alter(rt, name, req->body, req->body_len, err, sizeof err);
            if (rc == 200) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "message",
                                        "The offsets for this connector have been altered "
                                        "successfully");
                reply_json(resp, 200, o);
            } else {
                reply_action(resp, rc, err);
            }
        } else if (strcmp(m, "DELETE") == 0) {
            int rc = worker_offsets_reset(rt, name, err, sizeof err);
            if (rc == 200) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "message",
                                        "The offsets for this connector have been reset "
                                        "successfully");
                reply_json(resp, 200, o);
            } else {
                reply_action(resp, rc, err);
            }
        } else {
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        }
        return;
    }
    if (strcmp(sub, "tasks") == 0 && nseg >= 3 && nseg <= 5) {
        if (nseg == 3) {
            if (strcmp(m, "GET") != 0) {
                reply_error(resp, 405, "HTTP 405 Method Not Allowed");
            } else if (load(rt, name, &c, resp) == 0) {
                cJSON *a = cJSON_CreateArray();
                for (size_t i = 0; i < c.ntasks; i++) {
                    cJSON *t = cJSON_CreateObject();
                    cJSON *id = cJSON_AddObjectToObject(t, "id");
                    cJSON_AddStringToObject(id, "connector", c.name);
                    cJSON_AddNumberToObject(id, "task", c.tasks[i].id);
                    cJSON_AddItemToObject(t, "config", config_json(&c));
                    cJSON_AddItemToArray(a, t);
                }
                worker_connector_free(&c);
                reply_json(resp, 200, a);
            }
            return;
        }
        int task = parse_task(seg[3]);
        const char *what = nseg == 5 ? seg[4] : "";
        if (nseg == 4 || (strcmp(what, "status") != 0 && strcmp(what, "restart") != 0)) {
            reply_error(resp, 404, "HTTP 404 Not Found");
            return;
        }
        int is_status = strcmp(what, "status") == 0;
        if (strcmp(m, is_status ? "GET" : "POST") != 0) {
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");
            return;
        }
        if (!is_status) {
            if (task < 0)
                reply_error(resp, 404, "Task %s/%s not found", name, seg[3]);
            else
                reply_action(resp, worker_restart_task(rt, name, task, err, sizeof err), err);
            return;
        }
        if (load(rt, name, &c, resp) != 0)
            return;
        const worker_task_t *found = NULL;
        for (size_t i = 0; task >= 0 && i < c.ntasks; i++)
            if (c.tasks[i].id == task)
                found = &c.tasks[i];
        if (found)
            reply_json(resp, 200, task_status_json(rt, found, plugin_version(rt, c.plugin)));
        else
            reply_error(resp, 404, "No status found for task %s-%s", name, seg[3]);
        worker_connector_free(&c);
        return;
    }
    reply_error(resp, 404, "HTTP 404 Not Found");
}

/* -- connector plugins ------------------------------------------------------------------------ */

static void add_plugin(cJSON *a, const char *cls, const char *type, const char *version)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "class", cls);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "version", version ? version : SLUICE_VERSION);
    cJSON_AddItemToArray(a, o);
}

static void get_plugins(runtime_t *rt, const http_request_t *req, http_response_t *resp)
{
    int all = query_bool(req, "connectorsOnly") == 0 && http_query(req, "connectorsOnly");
    cJSON *a = cJSON_CreateArray();
    const registry_t *r = &rt->registry;
    for (size_t i = 0; i < r->len; i++) {
        const loaded_plugin_t *p = r->plugins[i];
        if (p->has_sink)
            add_plugin(a, p->desc.name, "sink", p->desc.version);
        if (p->has_source)
            add_plugin(a, p->desc.name, "source", p->desc.version);
    }
    if (all) {
        for (size_t i = 0; i < r->len; i++)
            if (r->plugins[i]->has_transform)
                add_plugin(a, r->plugins[i]->desc.name, "transformation",
                           r->plugins[i]->desc.version);
        static const char *const predicates[] = {"topic-name-matches", "has-header-key",
                                                 "record-is-tombstone"};
        for (size_t i = 0; i < 3; i++)
            add_plugin(a, predicates[i], "predicate", NULL);
        static const char *const converters[] = {"json", "string", "bytes", "avro"};
        for (size_t i = 0; i < 4; i++)
            add_plugin(a, converters[i], "converter", NULL);
    }
    reply_json(resp, 200, a);
}

static const char *connect_type(const struct sluice_config_field *f)
{
    if (f->flags & SLUICE_CFG_SECRET)
        return "PASSWORD";
    switch (f->type) {
    case SLUICE_CFG_INT:
        return "LONG";
    case SLUICE_CFG_BOOL:
        return "BOOLEAN";
    case SLUICE_CFG_DOUBLE:
        return "DOUBLE";
    case SLUICE_CFG_LIST:
        return "LIST";
    default:
        return "STRING";
    }
}

/* One field's ConfigInfo: its definition, and its value checked alone against a one-row table. */
static int validate_field(cJSON *configs, const struct sluice_config_field *f, const char *value,
                          const char *group, int order)
{
    cJSON *ci = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(ci, "definition");
    cJSON_AddStringToObject(d, "name", f->name);
    cJSON_AddStringToObject(d, "type", connect_type(f));
    cJSON_AddBoolToObject(d, "required", (f->flags & SLUICE_CFG_REQUIRED) != 0);
    if (f->default_value)
        cJSON_AddStringToObject(d, "default_value", f->default_value);
    else
        cJSON_AddNullToObject(d, "default_value");
    cJSON_AddStringToObject(d, "importance", (f->flags & SLUICE_CFG_REQUIRED) ? "HIGH" : "MEDIUM");
    cJSON_AddStringToObject(d, "documentation", f->description ? f->description : "");
    cJSON_AddStringToObject(d, "group", group);
    cJSON_AddStringToObject(d, "width", "NONE");
    cJSON_AddStringToObject(d, "display_name", f->name);
    cJSON_AddArrayToObject(d, "dependents");
    cJSON_AddNumberToObject(d, "order", order);

    cJSON *v = cJSON_AddObjectToObject(ci, "value");
    cJSON_AddStringToObject(v, "name", f->name);
    const char *shown = value ? value : f->default_value;
    if (shown && (f->flags & SLUICE_CFG_SECRET))
        cJSON_AddStringToObject(v, "value", "[hidden]");
    else if (shown)
        cJSON_AddStringToObject(v, "value", shown);
    else
        cJSON_AddNullToObject(v, "value");
    cJSON *rec = cJSON_AddArrayToObject(v, "recommended_values");
    for (const char *const *e = f->enum_values; e && *e; e++)
        cJSON_AddItemToArray(rec, cJSON_CreateString(*e));
    cJSON *errors = cJSON_AddArrayToObject(v, "errors");
    cJSON_AddBoolToObject(v, "visible", 1);

    struct sluice_config_field one[2] = {*f, {.name = NULL}};
    buf_t yaml;
    buf_init(&yaml);
    if (value) {
        connect_yaml_quote_key(&yaml, f->name);
        buf_puts(&yaml, ": ");
        connect_yaml_quote(&yaml, value);
        buf_putc(&yaml, '\n');
    } else {
        buf_puts(&yaml, "{}\n");
    }
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *map = config_parse_yaml("request", yaml.data, yaml.len, ".", &errs);
    sluice_config_t *cfg = map ? config_validate(map, one, f->name, NULL, ".", &errs) : NULL;
    config_free(cfg);
    config_node_free(map);
    buf_free(&yaml);
    for (size_t i = 0; i < errs.len; i++) {
        /* Drop the "request:1:1: " position: it names our one-line document, not the user's. */
        const char *msg = errs.msgs[i];
        if (strncmp(msg, "request:", 8) == 0) {
            const char *sp = strstr(msg, ": ");
            if (sp)
                msg = sp + 2;
        }
        cJSON_AddItemToArray(errors, cJSON_CreateString(msg));
    }
    int n = (int)errs.len;
    config_errors_free(&errs);
    cJSON_AddItemToArray(configs, ci);
    return n;
}

static void put_validate(runtime_t *rt, const http_request_t *req, http_response_t *resp,
                         const char *cls)
{
    cJSON *body = parse_body(req, resp, 1);
    if (!body)
        return;
    const cJSON *item;
    cJSON_ArrayForEach(item, body)
    {
        if (!cJSON_IsString(item) && !cJSON_IsNull(item)) {
            reply_error(resp, 400, "The value of '%.200s' must be a string", item->string);
            cJSON_Delete(body);
            return;
        }
    }
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(body, "connector.class");
    if (cJSON_IsString(given) && strcmp(given->valuestring, cls) != 0) {
        const char *base = strrchr(given->valuestring, '.');
        if (!base || strcmp(base + 1, cls) != 0) {
            reply_error(resp, 400, "Included connector type %s does not match request type %s",
                        given->valuestring, cls);
            cJSON_Delete(body);
            return;
        }
    }
    const loader_alias_t *alias = NULL;
    const loaded_plugin_t *p = registry_find(&rt->registry, cls);
    if (!p)
        p = registry_find_alias(&rt->registry, cls, &alias);
    if (!p || !(p->has_source || p->has_sink)) {
        reply_error(resp, 400,
                    "Failed to find any class that implements Connector and which name matches "
                    "%s",
                    cls);
        cJSON_Delete(body);
        return;
    }
    int sink = p->has_sink && (!p->has_source || strstr(cls, "Sink") ||
                               cJSON_GetObjectItemCaseSensitive(body, "topics"));
    int role = sink ? 2 : 0;
    const struct sluice_config_field *table =
        alias && alias->tables[role] ? alias->tables[role] : p->tables[role];
    const struct sluice_config_field *core = sink ? config_sink_keys : config_pipeline_keys;

    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "name", cls);
    cJSON *count = cJSON_AddNumberToObject(out, "error_count", 0);
    cJSON *groups = cJSON_AddArrayToObject(out, "groups");
    cJSON_AddItemToArray(groups, cJSON_CreateString("Common"));
    cJSON_AddItemToArray(groups, cJSON_CreateString(p->desc.name));
    cJSON *configs = cJSON_AddArrayToObject(out, "configs");
    int errors = 0, order = 1;
    static const struct sluice_config_field common[] = {
        {.name = "name",
         .type = SLUICE_CFG_STRING,
         .flags = SLUICE_CFG_REQUIRED,
         .description = "Globally unique name to use for this connector."},
        {.name = "connector.class",
         .type = SLUICE_CFG_STRING,
         .flags = SLUICE_CFG_REQUIRED,
         .description = "The plugin: its name or one of its aliases."},
    };
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, common[i].name);
        errors += validate_field(configs, &common[i], cJSON_IsString(v) ? v->valuestring : NULL,
                                 "Common", order++);
    }
    const struct sluice_config_field *tables[2] = {core, table};
    const char *group_names[2] = {"Common", p->desc.name};
    for (size_t t = 0; t < 2; t++)
        for (const struct sluice_config_field *f = tables[t]; f && f->name; f++) {
            if (strstr(f->name, ".*"))
                continue;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, f->name);
            errors += validate_field(configs, f, cJSON_IsString(v) ? v->valuestring : NULL,
                                     group_names[t], order++);
        }
    /* Keys nobody knows: Connect keeps them silently; sluice would refuse them at run. */
    cJSON_ArrayForEach(item, body)
    {
        const char *k = item->string;
        int known = strcmp(k, "name") == 0 || strcmp(k, "connector.class") == 0 ||
                    strcmp(k, "topics") == 0 || strcmp(k, "topic") == 0 ||
                    strncmp(k, "transforms", 10) == 0 || strncmp(k, "predicates", 10) == 0 ||
                    (!sink && strcmp(k, "tasks.max") == 0);
        for (size_t t = 0; t < 2 && !known; t++)
            for (const struct sluice_config_field *f = tables[t]; f && f->name && !known; f++) {
                size_t n = strlen(f->name);
                known = strcmp(f->name, k) == 0 || (n > 2 && strcmp(f->name + n - 2, ".*") == 0 &&
                                                    strncmp(k, f->name, n - 1) == 0);
            }
        if (known)
            continue;
        struct sluice_config_field unknown = {
            .name = k, .type = SLUICE_CFG_STRING, .description = "Not a key of this plugin."};
        cJSON *before = cJSON_GetArrayItem(configs, cJSON_GetArraySize(configs) - 1);
        (void)before;
        validate_field(configs, &unknown, cJSON_IsString(item) ? item->valuestring : NULL,
                       p->desc.name, order++);
        cJSON *last = cJSON_GetArrayItem(configs, cJSON_GetArraySize(configs) - 1);
        cJSON *errs = cJSON_GetObjectItem(cJSON_GetObjectItem(last, "value"), "errors");
        char msg[300];
        snprintf(msg, sizeof msg, "unknown key '%.200s' for plugin %s", k, p->desc.name);
        cJSON_AddItemToArray(errs, cJSON_CreateString(msg));
        errors++;
    }
    cJSON_SetNumberValue(count, errors);
    cJSON_Delete(body);
    reply_json(resp, 200, out);
}

/* -- the worker ------------------------------------------------------------------------------- */

static void get_health(runtime_t *rt, http_response_t *resp)
{
    cJSON *o = cJSON_CreateObject();
    int ok = worker_started(rt);
    cJSON_AddStringToObject(o, "status", ok ? "healthy" : "starting");
    cJSON_AddStringToObject(o, "message",
                            ok ? "Worker has completed startup and is ready to handle requests."
                               : "Worker is still starting up.");
    reply_json(resp, ok ? 200 : 503, o);
}

static void get_ready(runtime_t *rt, http_response_t *resp)
{
    cJSON *o = cJSON_CreateObject();
    int ok = worker_ready(rt);
    cJSON_AddStringToObject(o, "status", ok ? "ready" : "not ready");
    cJSON_AddStringToObject(o, "message",
                            ok ? "Every running source and sink is connected."
                               : "A source or sink is not connected yet.");
    reply_json(resp, ok ? 200 : 503, o);
}

static void post_reload(runtime_t *rt, http_response_t *resp)
{
    buf_t errors;
    buf_init(&errors);
    int rc = worker_reload(rt, &errors);
    if (rc >= 400) {
        reply_error(resp, rc, "%s", errors.data ? errors.data : "reload failed");
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "message", "reloaded");
        reply_json(resp, rc, o);
    }
    buf_free(&errors);
}

void rest_handle(void *opaque, const http_request_t *in, http_response_t *resp)
{
    runtime_t *rt = opaque;
    /* HEAD is GET without the body (the server drops it), as Jersey answers it. */
    http_request_t head;
    const http_request_t *req = in;
    if (strcmp(in->method, "HEAD") == 0) {
        head = *in;
        head.method = "GET";
        req = &head;
    }
    /* Split the path: "/connectors/x/status" → "connectors", "x", "status" (one trailing '/'
     * allowed, as Connect's). */
    char path[2048];
    size_t plen = strlen(req->path);
    if (plen == 0 || req->path[0] != '/' || plen >= sizeof path) {
        reply_error(resp, 404, "HTTP 404 Not Found");
        return;
    }
    memcpy(path, req->path, plen + 1);
    if (plen > 1 && path[plen - 1] == '/')
        path[--plen] = '\0';
    char *seg[REST_MAX_SEGMENTS];
    size_t nseg = 0;
    for (char *p = path + 1, *save = NULL; plen > 1;) {
        char *s = strtok_r(p, "/", &save);
        p = NULL;
        if (!s)
            break;
        if (nseg == REST_MAX_SEGMENTS) {
            reply_error(resp, 404, "HTTP 404 Not Found");
            return;
        }
        seg[nseg++] = s;
    }
    /* An empty segment ("//") would have been skipped by strtok_r: such paths are unknown. */
    if (strstr(req->path, "//")) {
        reply_error(resp, 404, "HTTP 404 Not Found");
        return;
    }
    const char *m = req->method;
    int get = strcmp(m, "GET") == 0;
#define ONLY(method)                                                                               \
    do {                                                                                           \
        if (strcmp(m, method) != 0) {                                                              \
            reply_error(resp, 405, "HTTP 405 Method Not Allowed");                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

    if (nseg == 0) {
        ONLY("GET");
        get_root(rt, resp);
    } else if (strcmp(seg[0], "connectors") == 0) {
        if (nseg == 1) {
            if (get)
                get_connectors(rt, req, resp);
            else if (strcmp(m, "POST") == 0)
                post_connectors(rt, req, resp);
            else
                reply_error(resp, 405, "HTTP 405 Method Not Allowed");
        } else {
            connector_routes(rt, req, resp, seg, nseg);
        }
    } else if (strcmp(seg[0], "connector-plugins") == 0) {
        if (nseg == 1) {
            ONLY("GET");
            get_plugins(rt, req, resp);
        } else if (nseg == 4 && strcmp(seg[2], "config") == 0 && strcmp(seg[3], "validate") == 0) {
            ONLY("PUT");
            put_validate(rt, req, resp, seg[1]);
        } else {
            reply_error(resp, 404, "HTTP 404 Not Found");
        }
    } else if (nseg == 1 && strcmp(seg[0], "health") == 0) {
        ONLY("GET");
        get_health(rt, resp);
    } else if (nseg == 1 && strcmp(seg[0], "ready") == 0) {
        ONLY("GET");
        get_ready(rt, resp);
    } else if (nseg == 1 && strcmp(seg[0], "reload") == 0) {
        ONLY("POST");
        post_reload(rt, resp);
    } else if (nseg == 1 && strcmp(seg[0], "metrics") == 0) {
        ONLY("GET");
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        metrics_render(rt, &resp->body);
    } else if (nseg == 1 && strcmp(seg[0], "stats") == 0) {
        ONLY("GET");
        stats_get(rt, req, resp);
    } else if (nseg == 1 && strcmp(seg[0], "topology") == 0) {
        ONLY("GET");
        stats_topology(rt, resp);
    } else if (strcmp(seg[0], "ui") == 0 && nseg <= 2) {
        ONLY("GET");
        ui_serve(nseg == 2 ? seg[1] : NULL, resp);
    } else {
        reply_error(resp, 404, "HTTP 404 Not Found");
    }
#undef ONLY
}
