/* stats.c — see stats.h. Both answers are built at request time from a snapshot (worker.h), the
 * ring (history.h) and the resolved configuration; nothing here runs on a pipeline thread. */
#include "stats.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "history.h"
#include "metrics.h"
#include "runtime.h"
#include "worker.h"

static void reply(http_response_t *resp, int status, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    resp->status = text ? status : 500;
    buf_reset(&resp->body);
    buf_puts(&resp->body, text ? text : "{\"error_code\":500,\"message\":\"out of memory\"}");
    free(text);
}

static void reply_error(http_response_t *resp, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "error_code", status);
    cJSON_AddStringToObject(o, "message", msg);
    reply(resp, status, o);
}

/* Rates to two decimals: the page and `sluice top` show no more, and the answer stays small. */
static double round2(double v)
{
    return round(v * 100.0) / 100.0;
}

static cJSON *series(const double *v, size_t n, int whole)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(whole ? round(v[i]) : round2(v[i])));
    return a;
}

static void add_string_or_null(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* The window: 0..HISTORY_LEN, HISTORY_LEN when not given; -1 when not a number in range. */
static long parse_window(const http_request_t *req)
{
    const char *w = http_query(req, "window");
    if (!w)
        return HISTORY_LEN;
    char *end = NULL;
    long v = strtol(w, &end, 10);
    if (!*w || *end || v < 0 || v > HISTORY_LEN)
        return -1;
    return v;
}

void stats_get(struct runtime *rt, const http_request_t *req, http_response_t *resp)
{
    long window = parse_window(req);
    if (window < 0) {
        reply_error(resp, 400, "window is a number of seconds from 0 to 900");
        return;
    }
    history_t *h = rt->history;
    if (!h) {
        reply_error(resp, 503, "the worker keeps no history (out of memory at its start)");
        return;
    }
    worker_connector_t *c = NULL;
    size_t n = 0;
    double *buf = malloc(3 * HISTORY_LEN * sizeof *buf);
    if (!buf || worker_connectors(rt, &c, &n) != 0) {
        free(buf);
        reply_error(resp, 500, "out of memory");
        return;
    }
    int64_t *lag = calloc(n + 1, sizeof *lag);
    if (!lag) {
        free(buf);
        worker_connectors_free(c, n);
        reply_error(resp, 500, "out of memory");
        return;
    }
    metrics_enrich(rt, c, n);
    metrics_consumer_lag(c, n, lag);

    cJSON *o = cJSON_CreateObject();
    int64_t now = history_now_ms(h);
    cJSON_AddNumberToObject(o, "now_ms", (double)(now ? now : clock_wall_ms()));
    cJSON_AddNumberToObject(o, "interval_ms", 1000);
    cJSON_AddNumberToObject(o, "samples", (double)history_samples(h));

    /* the process */
    history_process_t hp = {.rss_bytes = buf, .cpu_percent = buf + HISTORY_LEN};
    history_process(h, (size_t)window, &hp);
    metrics_process_t now_proc;
    int have = metrics_process_read(&now_proc) == 0;
    cJSON *proc = cJSON_AddObjectToObject(o, "process");
    cJSON_AddNumberToObject(proc, "rss_bytes", have ? (double)now_proc.rss_bytes : -1);
    cJSON_AddNumberToObject(proc, "cpu_seconds", have ? round2(now_proc.cpu_seconds) : -1);
    double up = have && now_proc.start_time_seconds > 0
                    ? (double)clock_wall_ms() / 1000.0 - now_proc.start_time_seconds
                    : 0;
    cJSON_AddNumberToObject(proc, "uptime_seconds", up > 0 ? floor(up) : 0);
    cJSON_AddNumberToObject(proc, "cpu_percent", round2(hp.n ? hp.cpu_percent[hp.n - 1] : 0));
    cJSON *ps = cJSON_AddObjectToObject(proc, "series");
    cJSON_AddItemToObject(ps, "rss_bytes", series(hp.rss_bytes, hp.n, 1));
    cJSON_AddItemToObject(ps, "cpu_percent", series(hp.cpu_percent, hp.n, 0));

    cJSON *list = cJSON_AddArrayToObject(o, "connectors");
    for (size_t i = 0; i < n; i++) {
        const worker_connector_t *wc = &c[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(list, e);
        cJSON_AddStringToObject(e, "name", wc->name);
        cJSON_AddStringToObject(e, "type", wc->is_sink ? "sink" : "source");
        cJSON_AddStringToObject(e, "pipeline", wc->pipeline);
        cJSON_AddStringToObject(e, "plugin", wc->plugin);
        cJSON_AddStringToObject(e, "file", wc->file);
        cJSON_AddStringToObject(e, "state", worker_state_name(wc->state));
        add_string_or_null(e, "trace", wc->trace);
        cJSON_AddNumberToObject(e, "restarts", (double)wc->restarts);
        cJSON *tasks = cJSON_AddArrayToObject(e, "tasks");
        worker_counters_t sum = {0};
        for (size_t t = 0; t < wc->ntasks; t++) {
            const worker_task_t *wt = &wc->tasks[t];
            cJSON *te = cJSON_CreateObject();
            cJSON_AddNumberToObject(te, "id", wt->id);
            cJSON_AddStringToObject(te, "state", worker_state_name(wt->state));
            add_string_or_null(te, "trace", wt->trace);
            cJSON_AddItemToArray(tasks, te);
            sum.records_in += wt->counters.records_in;
            sum.records_out += wt->counters.records_out;
            sum.errors += wt->counters.errors;
            sum.dlq += wt->counters.dlq;
        }
        cJSON *tot = cJSON_AddObjectToObject(e, "totals");
        cJSON_AddNumberToObject(tot, "in", (double)sum.records_in);
        cJSON_AddNumberToObject(tot, "out", (double)sum.records_out);
        cJSON_AddNumberToObject(tot, "errors", (double)sum.errors);
        cJSON_AddNumberToObject(tot, "dlq", (double)sum.dlq);
        history_rates_t hr = {.in = buf, .out = buf + HISTORY_LEN, .errors = buf + 2 * HISTORY_LEN};
        history_connector(h, wc->name, (size_t)window, &hr);
        cJSON *rate = cJSON_AddObjectToObject(e, "rate");
        cJSON_AddNumberToObject(rate, "in", round2(hr.rate_in));
        cJSON_AddNumberToObject(rate, "out", round2(hr.rate_out));
        cJSON_AddNumberToObject(rate, "errors", round2(hr.rate_errors));
        if (lag[i] >= 0)
            cJSON_AddNumberToObject(e, "lag", (double)lag[i]);
        else
            cJSON_AddNullToObject(e, "lag");
        cJSON_AddNumberToObject(e, "buffer_bytes", (double)wc->buffer_bytes);
        cJSON *se = cJSON_AddObjectToObject(e, "series");
        cJSON_AddItemToObject(se, "in", series(hr.in, hr.n, 0));
        cJSON_AddItemToObject(se, "out", series(hr.out, hr.n, 0));
        cJSON_AddItemToObject(se, "errors", series(hr.errors, hr.n, 0));
    }
    free(lag);
    free(buf);
    worker_connectors_free(c, n);
    reply(resp, 200, o);
}

/* -- GET /topology ------------------------------------------------------------------------------
 */

static cJSON *transforms_json(const config_instance_t *owner)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t t = 0; owner && t < owner->ntransforms; t++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", owner->transforms[t].id);
        cJSON_AddStringToObject(x, "type", owner->transforms[t].plugin);
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

/* The file's entry of `files`, made at its first pipeline. */
static cJSON *file_entry(cJSON *files, const char *file)
{
    cJSON *f;
    cJSON_ArrayForEach(f, files)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "file");
        if (cJSON_IsString(name) && strcmp(name->valuestring, file) == 0)
            return cJSON_GetObjectItemCaseSensitive(f, "pipelines");
    }
    f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "file", file);
    cJSON_AddItemToArray(files, f);
    return cJSON_AddArrayToObject(f, "pipelines");
}

/* Only names, plugins and ids are shown: no configuration value, so no secret can be. */
void stats_topology(struct runtime *rt, http_response_t *resp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (!p || !p->cfg)
            continue;
        const config_pipeline_t *cp = p->cfg;
        cJSON *pl = cJSON_CreateObject();
        cJSON_AddItemToArray(file_entry(files, cp->file ? cp->file : ""), pl);
        cJSON_AddStringToObject(pl, "id", cp->id);
        if (p->has_source && cp->source) {
            cJSON *src = cJSON_AddObjectToObject(pl, "source");
            cJSON_AddStringToObject(src, "connector", cp->id);
            cJSON_AddStringToObject(src, "plugin", cp->source->plugin);
        } else {
            cJSON_AddNullToObject(pl, "source");
        }
        cJSON_AddItemToObject(pl, "transforms", transforms_json(p->has_source ? cp->source : NULL));
        const char *topic = cp->core ? config_string(cp->core, "topic") : NULL;
        add_string_or_null(pl, "topic", topic ? topic : cp->id);
        cJSON *sinks = cJSON_AddArrayToObject(pl, "sinks");
        int alone = !p->has_source && cp->nsinks == 1;
        for (size_t s = 0; s < cp->nsinks; s++) {
            char name[512];
            if (alone)
                snprintf(name, sizeof name, "%s", cp->id);
            else
                snprintf(name, sizeof name, "%s.%s", cp->id, cp->sinks[s].id);
            cJSON *sk = cJSON_CreateObject();
            cJSON_AddStringToObject(sk, "connector", name);
            cJSON_AddStringToObject(sk, "plugin", cp->sinks[s].plugin);
            cJSON_AddStringToObject(sk, "id", cp->sinks[s].id);
            cJSON_AddItemToObject(sk, "transforms", transforms_json(&cp->sinks[s]));
            cJSON_AddItemToArray(sinks, sk);
        }
    }
    pthread_mutex_unlock(&rt->lock);
    reply(resp, 200, o);
}
