/* worker.c — see worker.h. The REST threads read and ask under the runtime's lock; the supervisor
 * (runtime.c, the run's thread) does what they ask. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"
#include "offsets.h"
#include "runtime.h"

static const char *const state_names[] = {"UNASSIGNED", "RUNNING", "PAUSED",
                                          "STOPPED",    "FAILED",  "RESTARTING"};

const char *worker_state_name(worker_state_t s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "UNASSIGNED";
}

/* Releases the runtime's lock and wakes its supervisor, which sleeps while nothing is in flux: what
 * was done under the lock (a target, a restart, a change) is acted on at once. A read wakes it for
 * one pass that finds nothing to do. */
static void worker_unlock(runtime_t *rt)
{
    pthread_mutex_unlock(&rt->lock);
    runtime_wake(rt);
}

/* -- connectors: a pipeline's source, each of its sinks -----------------------------------------
 */

/* tasks.max's bound (config_keys.c): a connector's tasks fit one array on the stack. */
#define TASKS_MAX 1024

typedef struct conn_ref {
    pipeline_t *p;
    int is_sink;
    size_t sink; /* the sink's index in the pipeline's configuration */
} conn_ref_t;

static int conn_sink_alone(const pipeline_t *p)
{
    return !p->has_source && p->cfg->nsinks == 1;
}

static void conn_name(const conn_ref_t *r, char *out, size_t n)
{
    if (!r->is_sink || conn_sink_alone(r->p))
        snprintf(out, n, "%s", r->p->id);
    else
        snprintf(out, n, "%s.%s", r->p->id, r->p->cfg->sinks[r->sink].id);
}

/* Call fn for every connector in order; stops when fn returns non-zero (that value returned). */
static int conn_each(runtime_t *rt, int (*fn)(runtime_t *, const conn_ref_t *, void *), void *arg)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        if (!p || !p->cfg)
            continue;
        conn_ref_t r = {p, 0, 0};
        int rc;
        if (p->has_source && (rc = fn(rt, &r, arg)) != 0)
            return rc;
        for (size_t s = 0; s < p->cfg->nsinks; s++) {
            r = (conn_ref_t){p, 1, s};
            if ((rc = fn(rt, &r, arg)) != 0)
                return rc;
        }
    }
    return 0;
}

struct find {
    const char *name;
    conn_ref_t found;
};

static int conn_match(runtime_t *rt, const conn_ref_t *r, void *arg)
{
    (void)rt;
    struct find *f = arg;
    char name[512];
    conn_name(r, name, sizeof name);
    if (strcmp(name, f->name) != 0)
        return 0;
    f->found = *r;
    return 1;
}

/* Under the lock: the connector `name`, or 404. */
static int conn_find(runtime_t *rt, const char *name, conn_ref_t *out, char *err, size_t errlen)
{
    struct find f = {name, {0}};
    if (name && conn_each(rt, conn_match, &f)) {
        *out = f.found;
        return 200;
    }
    snprintf(err, errlen, "Connector %s not found", name ? name : "");
    return 404;
}

int worker_locate(struct runtime *rt, const char *name, void **pipeline, int *is_sink, size_t *sink,
                  char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_find(rt, name, &r, err, errlen);
    if (rc == 200) {
        *pipeline = r.p;
        *is_sink = r.is_sink;
        *sink = r.sink;
    }
    return rc;
}

/* Its tasks' controls (the source's, or the sink's tasks'). */
static size_t conn_tasks(const conn_ref_t *r, task_ctl_t **ctl, size_t max)
{
    if (!r->is_sink) {
        ctl[0] = &r->p->ctl;
        return 1;
    }
    size_t n = 0;
    for (size_t s = 0; s < r->p->nsinks && n < max; s++)
        if (r->p->sinks[s].cfg_index == r->sink)
            ctl[n++] = &r->p->sinks[s].ctl;
    return n;
}

static int *conn_target(const conn_ref_t *r)
{
    return r->is_sink ? &r->p->sink_target[r->sink] : &r->p->src_target;
}

/* -- snapshots -----------------------------------------------------------------------------------
 */

/* Records that passed the connector so far (topics reset: the active topics come back after). */
static long conn_records(const conn_ref_t *r)
{
    if (!r->is_sink)
        return atomic_load(&r->p->in);
    long n = 0;
    for (size_t s = 0; s < r->p->nsinks; s++)
        if (r->p->sinks[s].cfg_index == r->sink)
            n += atomic_load(&r->p->sinks[s].out) + atomic_load(&r->p->sinks[s].errors);
    return n;
}

int worker_topics_reset(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    conn_ref_t r;
    pthread_mutex_lock(&rt->lock);
    int rc = conn_find(rt, name, &r, err, errlen);
    if (rc == 200) {
        long n = conn_records(&r);
        if (r.is_sink)
            r.p->sink_topics_mark[r.sink] = n;
        else
            r.p->src_topics_mark = n;
        rc = 202; /* Connect's Response.accepted() */
    }
    worker_unlock(rt);
    return rc;
}

int worker_pending(struct runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    int pending = rt->changes != NULL;
    pthread_mutex_unlock(&rt->lock);
    return pending;
}

struct flat {
    worker_kv_t *kv;
    size_t n, cap;
    int failed;
};

static void flat_put(void *opaque, const char *key, const char *value)
{
    struct flat *f = opaque;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->kv[i].key, key) == 0) { /* a sink's own value over its pipeline's */
            char *v = strdup(value);
            if (!v) {
                f->failed = 1;
                return;
            }
            free(f->kv[i].value);
            f->kv[i].value = v;
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        worker_kv_t *kv = realloc(f->kv, cap * sizeof *kv);
        if (!kv) {
            f->failed = 1;
            return;
        }
        f->kv = kv;
        f->cap = cap;
    }
    f->kv[f->n].key = strdup(key);
    f->kv[f->n].value = strdup(value);
    if (!f->kv[f->n].key || !f->kv[f->n].value) {
        free(f->kv[f->n].key);
        free(f->kv[f->n].value);
        f->failed = 1;
        return;
    }
    f->n++;
}

/* A sink's view of its pipeline's keys: its topic is `topics`, given already. */
static void flat_put_sink(void *opaque, const char *key, const char *value)
{
    if (strcmp(key, "topic") != 0)
        flat_put(opaque, key, value);
}

/* Connect's flat view of the transforms of an instance: transforms=a,b; transforms.a.type=...;
 * transforms.a.<key>=... */
static void flat_transforms(struct flat *f, const side_t *side)
{
    buf_t names, key;
    buf_init(&names);
    buf_init(&key);
    for (size_t t = 0; t < side->ntransforms; t++)
        buf_printf(&names, "%s%s", t ? "," : "", side->transforms[t].cfg_inst->id);
    if (side->ntransforms)
        flat_put(f, "transforms", names.data);
    for (size_t t = 0; t < side->ntransforms; t++) {
        const instance_t *in = &side->transforms[t];
        buf_reset(&key);
        buf_printf(&key, "transforms.%s.type", in->cfg_inst->id);
        flat_put(f, key.data, in->cfg_inst->plugin);
        struct flat inner = {0};
        config_flat(in->cfg, flat_put, &inner);
        for (size_t i = 0; i < inner.n; i++) {
            buf_reset(&key);
            buf_printf(&key, "transforms.%s.%s", in->cfg_inst->id, inner.kv[i].key);
            flat_put(f, key.data, inner.kv[i].value);
            free(inner.kv[i].key);
            free(inner.kv[i].value);
        }
        free(inner.kv);
        f->failed |= inner.failed;
    }
    buf_free(&names);
    buf_free(&key);
}

static void conn_flat(const conn_ref_t *r, const char *name, struct flat *f)
{
    const pipeline_t *p = r->p;
    const config_instance_t *ci = r->is_sink ? &p->cfg->sinks[r->sink] : p->cfg->source;
    char tasks[32];
    flat_put(f, "name", name);
    flat_put(f, "connector.class", ci->plugin);
    if (r->is_sink && ci->core)
        snprintf(tasks, sizeof tasks, "%lld", (long long)config_int(ci->core, "tasks.max"));
    else
        snprintf(tasks, sizeof tasks, "1");
    flat_put(f, "tasks.max", tasks);
    const char *topic = p->cfg->core ? config_string(p->cfg->core, "topic") : p->id;
    flat_put(f, r->is_sink ? "topics" : "topic", topic);
    config_flat(p->cfg->core, r->is_sink ? flat_put_sink : flat_put, f);
    if (r->is_sink)
        config_flat(ci->core, flat_put, f);
    const instance_t *in = NULL;
    const side_t *side = NULL;
    if (!r->is_sink) {
        in = &p->source;
        side = &p->side;
    } else {
        for (size_t s = 0; s < p->nsinks && !in; s++)
            if (p->sinks[s].cfg_index == r->sink) {
                in = &p->sinks[s].inst;
                side = &p->sinks[s].side;
            }
    }
    if (in)
        config_flat(in->cfg, flat_put, f);
    if (side)
        flat_transforms(f, side);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void task_snapshot(const task_ctl_t *c, int started, worker_task_t *t)
{
    t->state = started ? (worker_state_t)c->state : WORKER_UNASSIGNED;
    if (t->state == WORKER_FAILED || t->state == WORKER_RESTARTING)
        t->trace = dup_or_null(c->trace);
}

/* No task of the snapshot still runs unpaused (a task not running has no pause to take). */
static int paused_all(const worker_connector_t *c)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (c->tasks[i].state == WORKER_RUNNING)
            return 0;
    return 1;
}

static int conn_snapshot(runtime_t *rt, const conn_ref_t *r, worker_connector_t *c)
{
    const pipeline_t *p = r->p;
    const config_instance_t *ci = r->is_sink ? &p->cfg->sinks[r->sink] : p->cfg->source;
    char name[512];
    conn_name(r, name, sizeof name);
    memset(c, 0, sizeof *c);
    int started = atomic_load(&rt->started) != 0;
    c->name = strdup(name);
    c->is_sink = r->is_sink;
    c->pipeline = strdup(p->id);
    c->plugin = strdup(ci->plugin);
    c->file = strdup(p->cfg->file ? p->cfg->file : "");
    c->from_rest = p->from_rest;
    struct flat f = {0};
    conn_flat(r, name, &f);
    c->config = f.kv;
    c->nconfig = f.n;
    c->topics = calloc(2, sizeof *c->topics);
    long mark = r->is_sink ? p->sink_topics_mark[r->sink] : p->src_topics_mark;
    if (c->topics && mark >= 0 && mark == conn_records(r)) {
        /* PUT .../topics/reset: none until a record passes again */
    } else if (c->topics) {
        /* From the configuration, never p->topic: the set-up writes that while REST reads. */
        c->topics[0] = strdup(p->cfg->core ? config_string(p->cfg->core, "topic") : p->id);
        c->ntopics = c->topics[0] ? 1 : 0;
    }
    size_t ntasks = r->is_sink ? p->nsinks : 1;
    c->tasks = calloc(ntasks + 1, sizeof *c->tasks);
    c->slot = -1;
    if (!c->name || !c->pipeline || !c->plugin || !c->file || !c->topics || !c->tasks || f.failed)
        return -1;
    int all_failed = 1, any_restarting = 0;
    if (!r->is_sink) {
        worker_task_t *t = &c->tasks[c->ntasks++];
        t->id = 0;
        task_snapshot(&p->ctl, started, t);
        t->slot = c->slot = cluster_task_slot(rt->cluster, p, 0);
        t->counters.records_in = atomic_load(&p->in);
        t->counters.records_out = atomic_load(&p->stats.written);
        t->counters.errors = atomic_load(&p->errors);
        t->counters.dlq = atomic_load(&p->dlq);
        c->restarts = p->ctl.restarts;
    } else {
        for (size_t s = 0; s < p->nsinks; s++) {
            const sink_rt_t *sk = &p->sinks[s];
            if (sk->cfg_index != r->sink)
                continue;
            worker_task_t *t = &c->tasks[c->ntasks++];
            t->id = sk->task;
            task_snapshot(&sk->ctl, started, t);
            t->slot = cluster_task_slot(rt->cluster, p, cluster_task_number(p, sk));
            if (c->ntasks == 1)
                c->slot = t->slot;
            t->counters.records_in = atomic_load(&sk->stats.batch_records);
            t->counters.records_out = atomic_load(&sk->out);
            t->counters.errors = atomic_load(&sk->errors);
            t->counters.dlq = atomic_load(&sk->dlq);
            c->restarts += sk->ctl.restarts;
        }
    }
    int all_unassigned = c->ntasks > 0; /* distributed: other workers run them (cluster.h) */
    for (size_t i = 0; i < c->ntasks; i++) {
        all_unassigned &= c->tasks[i].state == WORKER_UNASSIGNED;
        all_failed &= c->tasks[i].state == WORKER_FAILED;
        any_restarting |= c->tasks[i].state == WORKER_RESTARTING;
    }
    int target = *conn_target(r), live = 0;
    task_ctl_t *ctl[TASKS_MAX];
    size_t nctl = conn_tasks(r, ctl, TASKS_MAX);
    for (size_t i = 0; i < nctl; i++)
        live |= ctl[i]->live;
    if (!started || (all_unassigned && !live))
        c->state = WORKER_UNASSIGNED;
    else if (target == WORKER_STOPPED && !live)
        c->state = WORKER_STOPPED; /* once its tasks have ended */
    else if (target == WORKER_PAUSED && paused_all(c))
        c->state = WORKER_PAUSED; /* once its running tasks took the pause */
    else if (c->ntasks && all_failed)
        c->state = WORKER_FAILED;
    else if (any_restarting)
        c->state = WORKER_RESTARTING;
    else
        c->state = WORKER_RUNNING;
    if (c->state == WORKER_STOPPED) { /* as Connect: a stopped connector has no tasks */
        for (size_t i = 0; i < c->ntasks; i++)
            free(c->tasks[i].trace);
        c->ntasks = 0;
    }
    if (c->state == WORKER_FAILED || c->state == WORKER_RESTARTING)
        for (size_t i = 0; i < c->ntasks && !c->trace; i++)
            if (c->tasks[i].trace)
                c->trace = strdup(c->tasks[i].trace);
    for (size_t i = 0; i < c->ntasks; i++)
        if (c->tasks[i].state == WORKER_RESTARTING && !c->retry_at_ms) {
            const task_ctl_t *ctl = r->is_sink ? NULL : &p->ctl;
            for (size_t s = 0; !ctl && s < p->nsinks; s++)
                if (p->sinks[s].cfg_index == r->sink && p->sinks[s].task == c->tasks[i].id)
                    ctl = &p->sinks[s].ctl;
            c->retry_at_ms = ctl ? ctl->retry_at : 0;
        }
    return 0;
}

void worker_connector_free(worker_connector_t *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->pipeline);
    free(c->plugin);
    free(c->file);
    free(c->trace);
    for (size_t i = 0; i < c->nconfig; i++) {
        free(c->config[i].key);
        free(c->config[i].value);
    }
    free(c->config);
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    for (size_t i = 0; i < c->ntasks; i++) {
        free(c->tasks[i].trace);
        free(c->tasks[i].worker_id);
    }
    free(c->tasks);
    free(c->worker_id);
    memset(c, 0, sizeof *c);
}

struct collect {
    worker_connector_t *c;
    size_t n, cap;
};

static int conn_collect(runtime_t *rt, const conn_ref_t *r, void *arg)
{
    struct collect *col = arg;
    if (col->n == col->cap) {
        size_t cap = col->cap ? col->cap * 2 : 8;
        worker_connector_t *c = realloc(col->c, cap * sizeof *c);
        if (!c)
            return -1;
        col->c = c;
        col->cap = cap;
    }
    if (conn_snapshot(rt, r, &col->c[col->n]) != 0) {
        worker_connector_free(&col->c[col->n]);
        return -1;
    }
    col->n++;
    return 0;
}

int worker_connectors(struct runtime *rt, worker_connector_t **out, size_t *n)
{
    struct collect col = {0};
    pthread_mutex_lock(&rt->lock);
    int rc = conn_each(rt, conn_collect, &col);
    pthread_mutex_unlock(&rt->lock);
    if (rc != 0) {
        worker_connectors_free(col.c, col.n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    *out = col.c;
    *n = col.n;
    return 0;
}

void worker_connectors_free(worker_connector_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        worker_connector_free(&c[i]);
    free(c);
}

struct sample {
    void (*fn)(void *opaque, const char *name, const worker_counters_t *sum);
    void *opaque;
};

/* The same counters as conn_snapshot's, summed. */
static int conn_sample(runtime_t *rt, const conn_ref_t *r, void *arg)
{
    (void)rt;
    const struct sample *smp = arg;
    const pipeline_t *p = r->p;
    worker_counters_t sum = {0};
    char name[512];
    conn_name(r, name, sizeof name);
    if (!r->is_sink) {
        sum.records_in = atomic_load(&p->in);
        sum.records_out = atomic_load(&p->stats.written);
        sum.errors = atomic_load(&p->errors);
        sum.dlq = atomic_load(&p->dlq);
    } else {
        for (size_t s = 0; s < p->nsinks; s++) {
            const sink_rt_t *sk = &p->sinks[s];
            if (sk->cfg_index != r->sink)
                continue;
            sum.records_in += atomic_load(&sk->stats.batch_records);
            sum.records_out += atomic_load(&sk->out);
            sum.errors += atomic_load(&sk->errors);
            sum.dlq += atomic_load(&sk->dlq);
        }
    }
    smp->fn(smp->opaque, name, &sum);
    return 0;
}

void worker_sample(struct runtime *rt,
                   void (*fn)(void *opaque, const char *name, const worker_counters_t *sum),
                   void *opaque)
{
    struct sample smp = {fn, opaque};
    pthread_mutex_lock(&rt->lock);
    conn_each(rt, conn_sample, &smp);
    pthread_mutex_unlock(&rt->lock);
}

int worker_connector(struct runtime *rt, const char *name, worker_connector_t *out, char *err,
                     size_t errlen)
{
    conn_ref_t r;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&rt->lock);
    int rc = conn_find(rt, name, &r, err, errlen);
    if (rc == 200 && conn_snapshot(rt, &r, out) != 0) {
        worker_connector_free(out);
        snprintf(err, errlen, "out of memory");
        rc = 500;
    }
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

/* -- lifecycle -----------------------------------------------------------------------------------
 */

/* Restarts, stops and deletes need tasks that can end and start again on their own: Kafka's
 * consumers. An in-process run is one batch whose topics end. */
static int conn_restartable(runtime_t *rt, const char *what, char *err, size_t errlen)
{
    if (rt->transport && (rt->transport->ops->caps & TRANSPORT_ENDLESS))
        return 1;
    snprintf(err, errlen,
             "cannot %s a connector of an in-process run (its pipelines are one batch whose "
             "topics end); run with the kafka: block for a worker whose connectors %s",
             what, "stop, restart and change while it runs");
    return 0;
}

/* Find the connector and check the worker is running; the lock is held when 200 is returned. */
static int conn_begin(runtime_t *rt, const char *name, conn_ref_t *r, char *err, size_t errlen)
{
    pthread_mutex_lock(&rt->lock);
    int rc = conn_find(rt, name, r, err, errlen);
    if (rc == 200 && !atomic_load(&rt->started)) {
        snprintf(err, errlen, "the worker is starting: try again when GET /health says healthy");
        rc = 409;
    }
    if (rc != 200)
        worker_unlock(rt);
    return rc;
}

/* conn_begin for what only a worker whose tasks restart can do (stop, restart): 409 else. */
static int conn_begin_restartable(runtime_t *rt, const char *name, const char *what, conn_ref_t *r,
                                  char *err, size_t errlen)
{
    int rc = conn_begin(rt, name, r, err, errlen);
    if (rc == 200 && !conn_restartable(rt, what, err, errlen)) {
        worker_unlock(rt);
        rc = 409;
    }
    return rc;
}

/* Tasks not running (stopped by an operator) start again when their connector runs again. */
static void conn_wake(const conn_ref_t *r)
{
    task_ctl_t *ctl[TASKS_MAX];
    size_t n = conn_tasks(r, ctl, TASKS_MAX);
    for (size_t i = 0; i < n; i++)
        if (!ctl[i]->live && ctl[i]->state == WORKER_STOPPED)
            ctl[i]->restart_req = 1;
}

int worker_pause(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_begin(rt, name, &r, err, errlen);
    if (rc != 200)
        return rc;
    int *target = conn_target(&r);
    if (*target == WORKER_STOPPED)
        conn_wake(&r); /* it starts paused */
    *target = WORKER_PAUSED;
    worker_unlock(rt);
    return 202;
}

int worker_resume(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_begin(rt, name, &r, err, errlen);
    if (rc != 200)
        return rc;
    int *target = conn_target(&r);
    if (*target == WORKER_STOPPED)
        conn_wake(&r);
    *target = WORKER_RUNNING;
    worker_unlock(rt);
    return 202;
}

int worker_stop(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_begin_restartable(rt, name, "stop", &r, err, errlen);
    if (rc != 200)
        return rc;
    *conn_target(&r) = WORKER_STOPPED;
    worker_unlock(rt);
    return 204;
}

int worker_restart(struct runtime *rt, const char *name, int include_tasks, int only_failed,
                   char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_begin_restartable(rt, name, "restart", &r, err, errlen);
    if (rc != 200)
        return rc;
    /* A sluice connector is its tasks: a restart restarts them (only the failed ones with
     * onlyFailed), whether or not includeTasks is given. */
    task_ctl_t *ctl[TASKS_MAX];
    size_t n = conn_tasks(&r, ctl, TASKS_MAX);
    for (size_t i = 0; i < n; i++)
        if (!only_failed || ctl[i]->state == WORKER_FAILED || ctl[i]->state == WORKER_RESTARTING)
            ctl[i]->restart_req = 1;
    if (*conn_target(&r) == WORKER_STOPPED)
        *conn_target(&r) = WORKER_RUNNING;
    worker_unlock(rt);
    return include_tasks || only_failed ? 202 : 204;
}

int worker_restart_task(struct runtime *rt, const char *name, int task, char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_begin_restartable(rt, name, "restart", &r, err, errlen);
    if (rc != 200)
        return rc;
    task_ctl_t *ctl[TASKS_MAX];
    size_t n = conn_tasks(&r, ctl, TASKS_MAX);
    if (task < 0 || (size_t)task >= n) {
        snprintf(err, errlen, "Task %s-%d not found", name, task);
        worker_unlock(rt);
        return 404;
    }
    ctl[task]->restart_req = 1;
    worker_unlock(rt);
    return 204;
}

/* -- the connectors created over the REST API: the state file ---------------------------------- */

/* The state file's text with the REST pipelines of the list, `skip` left out and `add` (an item's
 * text) appended. */
static int state_text(runtime_t *rt, const pipeline_t *skip, const char *add, buf_t *out)
{
    buf_printf(out, "# sluice's connectors created over the REST API (written by sluice run;\n"
                    "# `sluice lint` checks it; edit it with the worker stopped)\n"
                    "version: 1\n");
    size_t head = out->len;
    buf_puts(out, "pipelines:\n");
    for (size_t i = 0; i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (p->from_rest && p != skip && p->rest_item)
            buf_puts(out, p->rest_item);
    }
    /* ... and those queued to be added, which are not in the list yet. */
    for (const runtime_change_t *c = rt->changes; c; c = c->next) {
        if (skip && c->add == skip)
            continue;
        if (c->add && c->add->rest_item && c->add->from_rest)
            buf_puts(out, c->add->rest_item);
    }
    if (add)
        buf_puts(out, add);
    if (!out->err && out->len == head + strlen("pipelines:\n")) { /* none left */
        out->len = head;
        buf_puts(out, "pipelines: []\n");
    }
    return out->err ? -1 : 0;
}

static void errors_text(const config_errors_t *errs, char *err, size_t errlen)
{
    size_t n = 0;
    err[0] = 0;
    for (size_t i = 0; i < errs->len && n + 1 < errlen; i++) {
        int w = snprintf(err + n, errlen - n, "%s%s", i ? "\n" : "", errs->msgs[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* The pipeline `id` as it will be once the queued changes are made: in the list and not being
 * replaced or removed, or queued to be added. NULL: none. */
static pipeline_t *pipeline_by_id(runtime_t *rt, const char *id)
{
    pipeline_t *found = NULL;
    for (size_t i = 0; i < rt->npipelines && !found; i++)
        if (strcmp(rt->pipelines[i]->id, id) == 0)
            found = rt->pipelines[i];
    for (const runtime_change_t *c = rt->changes; c; c = c->next) {
        if (found && c->old == found)
            found = NULL;
        if (c->add && strcmp(c->add->id, id) == 0)
            found = c->add;
    }
    return found;
}

static int worker_writable(runtime_t *rt, char *err, size_t errlen)
{
    if (!conn_restartable(rt, "create or change", err, errlen))
        return 409;
    if (!rt->state_path) {
        snprintf(err, errlen, "the worker has no state file (connectors.state.file)");
        return 500;
    }
    if (!atomic_load(&rt->started)) {
        snprintf(err, errlen, "the worker is starting: try again when GET /health says healthy");
        return 409;
    }
    return 0;
}

/* Load the files with the state text `text` written at `path`, and resolve its pipeline `id`.
 * 0 (the pipeline in *p_out, holding its configuration), or 400 with the errors. */
static int state_try(runtime_t *rt, const char *path, const buf_t *text, const char *id,
                     pipeline_t **p_out, char *err, size_t errlen)
{
    char werr[1024];
    *p_out = NULL;
    if (state_file_write(path, text->data, text->len, werr, sizeof werr) != 0) {
        snprintf(err, errlen, "%s", werr);
        return 500;
    }
    config_gen_t *gen = calloc(1, sizeof *gen);
    config_errors_t errs;
    config_errors_init(&errs);
    if (!gen) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    gen->refs = 1; /* ours while we look */
    runtime_load(rt, &gen->cfg, path, &errs);
    if (!errs.len && !config_equal(gen->cfg.global, rt->cfg.global))
        config_errors_add(&errs, NULL,
                          "the top-level keys of the files changed since the worker started "
                          "(kafka:, schema.registry:, ...): restart the worker to apply them");
    pipeline_t *p = NULL;
    for (size_t i = 0; !errs.len && i < gen->cfg.npipelines; i++)
        if (strcmp(gen->cfg.pipelines[i].id, id) == 0)
            p = runtime_pipeline_new(rt, gen, &gen->cfg.pipelines[i], &errs);
    if (!errs.len && !p)
        config_errors_add(&errs, NULL, "connector %s: the pipeline's id must be its name", id);
    int rc = 0;
    if (errs.len) {
        errors_text(&errs, err, errlen);
        runtime_pipeline_discard(p);
        p = NULL;
        rc = 400;
    }
    config_errors_free(&errs);
    config_gen_unref(gen);
    *p_out = p;
    return rc;
}

int worker_put(struct runtime *rt, const char *name, const char *yaml, size_t len, int must_be_new,
               worker_state_t initial, int *created, char *err, size_t errlen)
{
    (void)len;
    *created = 0;
    int rc = worker_writable(rt, err, errlen);
    if (rc)
        return rc;
    char **items = NULL;
    size_t nitems = 0;
    if (runtime_state_items(yaml, &items, &nitems) != 0 || nitems != 1) {
        for (size_t i = 0; i < nitems; i++)
            free(items[i]);
        free(items);
        snprintf(err, errlen, "a connector is one pipeline (`pipelines:` with one item)");
        return 400;
    }
    char *item = items[0];
    free(items);
    pthread_mutex_lock(&rt->config_lock);
    pthread_mutex_lock(&rt->lock);
    pipeline_t *old = pipeline_by_id(rt, name);
    if (old && must_be_new) { /* two POSTs of one name: the second meets the first */
        snprintf(err, errlen, "Connector %s already exists", name);
        worker_unlock(rt);
        pthread_mutex_unlock(&rt->config_lock);
        free(item);
        return 409;
    }
    if (old && !old->from_rest) {
        snprintf(err, errlen,
                 "connector %s is declared in %s: change it there and reload (SIGHUP or POST "
                 "/reload)",
                 name, old->cfg->file);
        worker_unlock(rt);
        pthread_mutex_unlock(&rt->config_lock);
        free(item);
        return 409;
    }
    buf_t text;
    buf_init(&text);
    int trc = state_text(rt, old, item, &text);
    worker_unlock(rt);
    /* Checked as a file of its own first: the state file changes only when the whole passes. */
    size_t n = strlen(rt->state_path) + sizeof ".new";
    char *trial = malloc(n);
    pipeline_t *p = NULL;
    if (trc != 0 || !trial) {
        snprintf(err, errlen, "out of memory");
        rc = 500;
    } else {
        snprintf(trial, n, "%s.new", rt->state_path);
        rc = state_try(rt, trial, &text, name, &p, err, errlen);
        unlink(trial);
        /* The errors name the state file, not the trial beside it. */
        size_t tl = strlen(trial), sl = strlen(rt->state_path);
        for (char *at = strstr(err, trial); rc == 400 && at; at = strstr(at + sl, trial))
            memmove(at + sl, at + tl, strlen(at + tl) + 1);
        if (rc == 0 && cluster_publishes(rt->cluster)) {
            /* Distributed: linted, so published; every worker (this one too) applies it when it
             * reads it from the config topic (cluster.c). */
            runtime_pipeline_discard(p);
            p = NULL;
            if (cluster_config_publish(rt->cluster, name, yaml, initial, err, errlen) != 0) {
                rc = 500;
            } else {
                *created = old == NULL;
                rc = old ? 200 : 201;
            }
            pthread_mutex_unlock(&rt->config_lock);
            free(trial);
            free(item);
            buf_free(&text);
            return rc;
        }
        if (rc == 0) {
            runtime_pipeline_discard(p);
            rc = state_try(rt, rt->state_path, &text, name, &p, err, errlen);
        }
    }
    if (rc == 0) {
        pthread_mutex_lock(&rt->lock);
        pipeline_t *was = pipeline_by_id(rt, name);
        if (was && !must_be_new && initial == WORKER_RUNNING) {
            /* A new configuration keeps the connector's state (paused stays paused). */
            p->src_target = was->src_target;
            for (size_t i = 0; i < p->cfg->nsinks && i < was->cfg->nsinks; i++)
                p->sink_target[i] = was->sink_target[i];
        }
        worker_unlock(rt);
        if (initial == WORKER_PAUSED || initial == WORKER_STOPPED) {
            p->src_target = initial;
            for (size_t i = 0; i < p->cfg->nsinks; i++)
                p->sink_target[i] = initial;
        }
        p->from_rest = 1;
        p->rest_item = item;
        item = NULL;
        pthread_mutex_lock(&rt->lock);
        old = pipeline_by_id(rt, name);
        if (runtime_change(rt, old, p) != 0) {
            snprintf(err, errlen, "out of memory");
            runtime_pipeline_discard(p);
            rc = 500;
        } else {
            atomic_store(&rt->hold, 1);
            *created = old == NULL;
            rc = old ? 200 : 201;
        }
        worker_unlock(rt);
    }
    pthread_mutex_unlock(&rt->config_lock);
    free(trial);
    free(item);
    buf_free(&text);
    return rc;
}

int worker_delete(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    conn_ref_t r;
    int rc = conn_begin(rt, name, &r, err, errlen);
    if (rc != 200)
        return rc;
    worker_unlock(rt);
    if ((rc = worker_writable(rt, err, errlen)) != 0)
        return rc;
    pthread_mutex_lock(&rt->config_lock);
    pthread_mutex_lock(&rt->lock);
    /* Found again: the list may have changed while no lock was held. */
    pipeline_t *p = conn_find(rt, name, &r, err, errlen) == 200 ? r.p : NULL;
    if (!p || pipeline_by_id(rt, p->id) != p) {
        rc = 404;
        snprintf(err, errlen, "Connector %s not found", name);
    } else if (!p->from_rest) {
        rc = 409;
        snprintf(err, errlen,
                 "connector %s is declared in %s: remove it there and reload (SIGHUP or POST "
                 "/reload)",
                 name, p->cfg->file);
    } else if (cluster_publishes(rt->cluster)) {
        /* Distributed: a tombstone in the config topic; every worker deletes it on reading. */
        worker_unlock(rt);
        rc = cluster_config_publish(rt->cluster, name, NULL, 0, err, errlen) == 0 ? 204 : 500;
        pthread_mutex_unlock(&rt->config_lock);
        return rc;
    } else {
        buf_t text;
        buf_init(&text);
        char werr[1024];
        if (state_text(rt, p, NULL, &text) != 0) {
            rc = 500;
            snprintf(err, errlen, "out of memory");
        } else if (state_file_write(rt->state_path, text.data, text.len, werr, sizeof werr) != 0) {
            rc = 500;
            snprintf(err, errlen, "%s", werr);
        } else if (runtime_change(rt, p, NULL) != 0) {
            rc = 500;
            snprintf(err, errlen, "out of memory");
        } else {
            rc = 204;
        }
        buf_free(&text);
    }
    worker_unlock(rt);
    pthread_mutex_unlock(&rt->config_lock);
    return rc;
}

/* An in-process run is one batch: a reload that lints stops it cleanly (drained, flushed,
 * committed) and runs the same command again (main.c: runtime_t.reexec), reading the files anew. */
static int worker_reload_batch(runtime_t *rt, buf_t *errors)
{
    runtime_t fresh;
    config_errors_t errs;
    config_errors_init(&errs);
    int rc = runtime_prepare_run(&fresh, (const char *const *)rt->files, rt->nfiles,
                                 rt->offsets_arg, &errs);
    for (size_t i = 0; i < errs.len; i++)
        buf_printf(errors, "%s\n", errs.msgs[i]);
    config_errors_free(&errs);
    runtime_free(&fresh);
    if (rc != 0)
        return 400;
    atomic_store(&rt->reexec, 1);
    runtime_wake(rt);
    log_info(NULL, "reload: an in-process run is one batch; stopping it cleanly to run it again "
                   "with the files as they are now");
    return 200;
}

int worker_reload(struct runtime *rt, buf_t *errors)
{
    char err[4096];
    if (rt->transport && !(rt->transport->ops->caps & TRANSPORT_ENDLESS))
        return worker_reload_batch(rt, errors);
    int rc = worker_writable(rt, err, sizeof err);
    if (rc) {
        buf_printf(errors, "%s\n", err);
        return rc;
    }
    pthread_mutex_lock(&rt->config_lock);
    config_gen_t *gen = calloc(1, sizeof *gen);
    config_errors_t errs;
    config_errors_init(&errs);
    if (!gen) {
        pthread_mutex_unlock(&rt->config_lock);
        buf_puts(errors, "out of memory\n");
        return 500;
    }
    gen->refs = 1; /* ours while the list is compared */
    runtime_load(rt, &gen->cfg, rt->state_path, &errs);
    if (!errs.len && !config_equal(gen->cfg.global, rt->cfg.global))
        config_errors_add(&errs, NULL,
                          "the top-level keys changed (kafka:, schema.registry:, ...): restart the "
                          "worker to apply them");
    /* Every pipeline resolved before anything changes: one that does not resolve refuses all. */
    size_t n = gen->cfg.npipelines;
    pipeline_t **fresh = calloc(n + 1, sizeof *fresh);
    for (size_t i = 0; fresh && !errs.len && i < n; i++)
        fresh[i] = runtime_pipeline_new(rt, gen, &gen->cfg.pipelines[i], &errs);
    if (!fresh || errs.len) {
        for (size_t i = 0; i < errs.len; i++)
            buf_printf(errors, "%s\n", errs.msgs[i]);
        if (!fresh)
            buf_puts(errors, "out of memory\n");
        for (size_t i = 0; fresh && i < n; i++)
            runtime_pipeline_discard(fresh[i]);
        free(fresh);
        config_errors_free(&errs);
        config_gen_unref(gen);
        pthread_mutex_unlock(&rt->config_lock);
        return 400;
    }
    config_errors_free(&errs);
    size_t changed = 0, added = 0, removed = 0;
    buf_t state;
    buf_init(&state);
    char **items = NULL;
    size_t nitems = 0, k = 0;
    if (buf_read_file(&state, rt->state_path) == 0 && state.data)
        runtime_state_items(state.data, &items, &nitems);
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < n; i++) {
        pipeline_t *np = fresh[i];
        if (np->cfg->file && strcmp(np->cfg->file, rt->state_path) == 0) {
            np->from_rest = 1;
            if (k < nitems) {
                np->rest_item = items[k];
                items[k++] = NULL;
            }
        }
        pipeline_t *old = pipeline_by_id(rt, np->id);
        if (old && config_pipeline_equal(old->cfg, np->cfg)) {
            runtime_pipeline_discard(np); /* unchanged: it keeps running untouched */
            continue;
        }
        if (runtime_change(rt, old, np) != 0) {
            runtime_pipeline_discard(np);
            continue;
        }
        if (old)
            changed++;
        else
            added++;
    }
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        int kept = 0;
        for (size_t j = 0; j < n && !kept; j++)
            kept = strcmp(gen->cfg.pipelines[j].id, p->id) == 0;
        if (!kept && pipeline_by_id(rt, p->id) == p && runtime_change(rt, p, NULL) == 0)
            removed++;
    }
    worker_unlock(rt);
    for (size_t i = 0; i < nitems; i++)
        free(items[i]);
    free(items);
    buf_free(&state);
    free(fresh);
    config_gen_unref(gen);
    pthread_mutex_unlock(&rt->config_lock);
    log_info(NULL, "reload: %zu pipeline%s changed, %zu added, %zu removed, the others untouched",
             changed, changed == 1 ? "" : "s", added, removed);
    return 200;
}

int worker_started(struct runtime *rt)
{
    return atomic_load(&rt->started) != 0;
}

int worker_ready(struct runtime *rt)
{
    if (!atomic_load(&rt->started))
        return 0;
    int ready = 1;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->npipelines && ready; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (p->has_source && p->src_target == WORKER_RUNNING &&
            ((p->ctl.state != WORKER_RUNNING && p->ctl.state != WORKER_UNASSIGNED) ||
             atomic_load(&p->unconnected)))
            ready = 0;
        for (size_t s = 0; s < p->nsinks && ready; s++)
            if (p->sink_target[p->sinks[s].cfg_index] == WORKER_RUNNING &&
                ((p->sinks[s].ctl.state != WORKER_RUNNING &&
                  p->sinks[s].ctl.state != WORKER_UNASSIGNED) ||
                 atomic_load(&p->sinks[s].unconnected)))
                ready = 0;
    }
    pthread_mutex_unlock(&rt->lock);
    return ready;
}
