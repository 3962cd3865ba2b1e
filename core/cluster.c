/* cluster.c — distributed mode (cluster.h): the tasks topic, the group membership thread and its
 * rebalance callback, which hands slots to the supervisor and takes them back once their tasks
 * drained; the status topic, written with the states of the tasks this worker runs and read
 * whole by every worker. */
#include "cluster.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "runtime.h"
#include "worker.h"

/* How long a revoke waits for its tasks to drain and commit before it gives the slots up anyway
 * (docs/distributed.md: bounded as Connect's rebalance timeout; the next owner then replays what
 * was not committed: at least once). */
#define CLUSTER_DRAIN_MS 60000

/* A small string map: the status topic holds a few records per connector. */
typedef struct kv_list {
    char **keys, **values;
    size_t n, cap;
} kv_list_t;

static const char *kv_get(const kv_list_t *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->keys[i], key) == 0)
            return l->values[i];
    return NULL;
}

/* `value` NULL: remove. 0, or -1 when out of memory. */
static int kv_put(kv_list_t *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->keys[i], key) == 0) {
            free(l->values[i]);
            if (value) {
                l->values[i] = strdup(value);
                return l->values[i] ? 0 : -1;
            }
            free(l->keys[i]);
            l->n--;
            l->keys[i] = l->keys[l->n];
            l->values[i] = l->values[l->n];
            return 0;
        }
    if (!value)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **k = realloc(l->keys, cap * sizeof *k);
        if (!k)
            return -1;
        l->keys = k;
        char **v = realloc(l->values, cap * sizeof *v);
        if (!v)
            return -1;
        l->values = v;
        l->cap = cap;
    }
    l->keys[l->n] = strdup(key);
    l->values[l->n] = strdup(value);
    if (!l->keys[l->n] || !l->values[l->n]) {
        free(l->keys[l->n]);
        free(l->values[l->n]);
        return -1;
    }
    l->n++;
    return 0;
}

static void kv_clear(kv_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->values[i]);
    }
    free(l->keys);
    free(l->values);
    memset(l, 0, sizeof *l);
}

struct cluster {
    struct runtime *rt;
    rd_kafka_t *rk;
    pthread_t thread;
    int thread_started;
    atomic_int quit;
    int left;  /* unsubscribed (the worker stops) */
    int slots; /* task.slots */
    /* [slot]: this worker runs its tasks. Written under rt->lock; atomic because a pipeline being
     * brought up (runtime.c) reads it outside the lock. */
    atomic_uchar *held;
    unsigned char *moved; /* [slot]: scratch of the rebalance callback (cluster thread only) */
    char topic[300];
    char name[300];
    /* The status topic (status.storage.topic). `seen`: its latest record of each key, read by
     * the status thread; `wrote`: the value this worker last wrote for each key it writes. Both
     * under status_mu (the REST listener reads `seen`; the revoke writes too). */
    pthread_mutex_t status_mu;
    int status_mu_init;
    char status_topic[300];
    int status_parts;
    rd_kafka_t *status_rk; /* the reader: every partition assigned, no group */
    kafka_kv_writer_t *status_w;
    pthread_t status_thread;
    int status_started;
    kv_list_t seen, wrote;
    char worker_id[300]; /* the REST worker_id this worker writes (Connect's) */
    /* The config topic (config.storage.topic): written by REST writes, read by the config
     * thread, which applies each record through worker_put / worker_delete. */
    char config_topic[300];
    rd_kafka_t *config_rk;
    kafka_kv_writer_t *config_w;
    pthread_mutex_t config_mu; /* one publish at a time (the writer's sync) */
    pthread_t config_thread;
    int config_started;
    long generation; /* this worker's assignments so far */
};

int cluster_wanted(const sluice_config_t *g)
{
    return g && config_has(g, "group.id");
}

int cluster_offsets_kafka(const sluice_config_t *g)
{
    return g && (cluster_wanted(g) || strcmp(config_string(g, "offsets.storage"), "kafka") == 0);
}

void cluster_check(const sluice_config_t *g, int has_kafka, config_errors_t *errs)
{
    /* Without group.id the other worker keys are ignored, as a standalone Connect worker ignores
     * its distributed keys (`lint --print` writes their defaults). */
    if (!g || !cluster_wanted(g))
        return;
    const config_mark_t *at = config_mark(g, "group.id");
    if (!*config_string(g, "group.id"))
        config_errors_add(errs, at, "group.id is empty (unset it for a standalone worker)");
    if (!has_kafka)
        config_errors_add(errs, at,
                          "group.id needs the kafka: block with bootstrap.servers (the group, its "
                          "tasks topic and the positions live on the Kafka cluster)");
    if (config_mark(g, "offsets.storage") &&
        strcmp(config_string(g, "offsets.storage"), "file") == 0)
        config_errors_add(errs, config_mark(g, "offsets.storage"),
                          "offsets.storage: file cannot be used with group.id (a task moves "
                          "between workers and its position must move with it): remove it, or "
                          "write offsets.storage: kafka");
    if (config_int(g, "heartbeat.interval.ms") >= config_int(g, "session.timeout.ms"))
        config_errors_add(errs,
                          config_mark(g, "heartbeat.interval.ms")
                              ? config_mark(g, "heartbeat.interval.ms")
                              : config_mark(g, "session.timeout.ms"),
                          "heartbeat.interval.ms (%lld) must be below session.timeout.ms (%lld); "
                          "a third of it is usual",
                          (long long)config_int(g, "heartbeat.interval.ms"),
                          (long long)config_int(g, "session.timeout.ms"));
    if (config_has(g, "worker.name") && !*config_string(g, "worker.name"))
        config_errors_add(errs, config_mark(g, "worker.name"),
                          "worker.name is empty (unset it for the default, host:port)");
}

uint32_t cluster_hash(const char *s)
{
    /* FNV-1a: offset basis 2166136261, prime 16777619 (the published 32-bit parameters). */
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        h ^= *c;
        h *= 16777619u;
    }
    return h;
}

int cluster_slot(const char *pipeline, int n, int slots)
{
    return (int)(((uint64_t)cluster_hash(pipeline) + (uint64_t)n) % (uint64_t)slots);
}

int cluster_task_number(const pipeline_t *p, const void *sink_task)
{
    return sink_task ? p->has_source + (int)((const sink_rt_t *)sink_task - p->sinks) : 0;
}

int cluster_holds(const cluster_t *c, const pipeline_t *p, int n)
{
    return !c ||
           atomic_load_explicit(&c->held[cluster_slot(p->id, n, c->slots)], memory_order_relaxed);
}

int cluster_task_slot(const cluster_t *c, const pipeline_t *p, int n)
{
    return c ? cluster_slot(p->id, n, c->slots) : -1;
}

static int slot_held(const cluster_t *c, int slot)
{
    return slot >= 0 && slot < c->slots &&
           atomic_load_explicit(&c->held[slot], memory_order_relaxed);
}

/* -- the status topic ---------------------------------------------------------------------------
 * Connect's status records: key status-connector-<name> or status-task-<name>-<n>, value
 * {"state", "trace", "worker_id", "generation"}. A worker writes those of the slots it holds when
 * they change, and UNASSIGNED for the slots it gives up (before the revoke returns, so the next
 * owner's record comes after it); a lost slot's tasks are not written (the next owner's are
 * newer). */

static char *status_value(const cluster_t *c, worker_state_t state, const char *trace)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "state", worker_state_name(state));
    if (trace)
        cJSON_AddStringToObject(o, "trace", trace);
    else
        cJSON_AddNullToObject(o, "trace");
    cJSON_AddStringToObject(o, "worker_id", c->worker_id);
    cJSON_AddNumberToObject(o, "generation", (double)c->generation);
    char *v = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return v;
}

/* Writes the record of `key` unless it is the one written last. 1 written, 0 not. Under
 * status_mu. */
static int status_publish(cluster_t *c, const char *key, worker_state_t state, const char *trace)
{
    char *v = status_value(c, state, trace);
    const char *last = kv_get(&c->wrote, key);
    int wrote = 0;
    if (v && (!last || strcmp(last, v) != 0)) {
        char err[512];
        if (kafka_kv_write(c->status_w, key, strlen(key), v, strlen(v), err, sizeof err) != 0)
            log_warn(NULL, "%s (record %s)", err, key);
        else if (kv_put(&c->wrote, key, v) == 0)
            wrote = 1;
    }
    free(v);
    return wrote;
}

/* Writes the states of the tasks of the slots this worker holds that changed; `revoked` (a slot
 * mask): UNASSIGNED for the tasks of those slots instead. Waits for the writes' acknowledgement. */
static void status_sweep(cluster_t *c, const unsigned char *revoked)
{
    worker_connector_t *cs = NULL;
    size_t n = 0;
    if (!c->status_w || worker_connectors(c->rt, &cs, &n) != 0)
        return;
    char key[1100];
    int wrote = 0;
    pthread_mutex_lock(&c->status_mu);
    for (size_t i = 0; i < n; i++) {
        const worker_connector_t *k = &cs[i];
        for (size_t t = 0; t < k->ntasks; t++) {
            const worker_task_t *task = &k->tasks[t];
            snprintf(key, sizeof key, "status-task-%s-%d", k->name, task->id);
            if (revoked ? task->slot >= 0 && revoked[task->slot] : slot_held(c, task->slot))
                wrote += status_publish(c, key, revoked ? WORKER_UNASSIGNED : task->state,
                                        revoked ? NULL : task->trace);
        }
        snprintf(key, sizeof key, "status-connector-%s", k->name);
        if (revoked ? k->slot >= 0 && revoked[k->slot] : slot_held(c, k->slot))
            wrote += status_publish(c, key, revoked ? WORKER_UNASSIGNED : k->state,
                                    revoked ? NULL : k->trace);
    }
    pthread_mutex_unlock(&c->status_mu);
    worker_connectors_free(cs, n);
    char err[512];
    if (wrote && kafka_kv_sync(c->status_w, 5000, err, sizeof err) != 0) {
        log_warn(NULL, "%s", err);
        pthread_mutex_lock(&c->status_mu);
        kv_clear(&c->wrote); /* written again at the next sweep */
        pthread_mutex_unlock(&c->status_mu);
    }
}

static worker_state_t state_named(const char *s)
{
    for (int i = WORKER_UNASSIGNED; i <= WORKER_RESTARTING; i++)
        if (strcmp(worker_state_name((worker_state_t)i), s) == 0)
            return (worker_state_t)i;
    return WORKER_UNASSIGNED;
}

/* A status record read into a snapshot's state, trace and worker id. 0, -1 when unreadable. */
static int status_apply(const char *v, worker_state_t *state, char **trace, char **worker_id)
{
    cJSON *o = cJSON_Parse(v);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(o, "trace");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "worker_id");
    if (!cJSON_IsString(st) || !cJSON_IsString(w)) {
        cJSON_Delete(o);
        return -1;
    }
    *state = state_named(st->valuestring);
    free(*trace);
    *trace = cJSON_IsString(tr) ? strdup(tr->valuestring) : NULL;
    free(*worker_id);
    *worker_id = strdup(w->valuestring);
    cJSON_Delete(o);
    return 0;
}

void cluster_status_merge(cluster_t *c, worker_connector_t *cs, size_t n)
{
    if (!c)
        return;
    char key[1100];
    pthread_mutex_lock(&c->status_mu);
    for (size_t i = 0; i < n; i++) {
        worker_connector_t *k = &cs[i];
        for (size_t t = 0; t < k->ntasks; t++) {
            worker_task_t *task = &k->tasks[t];
            if (task->slot < 0 || slot_held(c, task->slot))
                continue;
            snprintf(key, sizeof key, "status-task-%s-%d", k->name, task->id);
            const char *v = kv_get(&c->seen, key);
            if (v)
                status_apply(v, &task->state, &task->trace, &task->worker_id);
        }
        if (k->slot < 0 || slot_held(c, k->slot))
            continue;
        snprintf(key, sizeof key, "status-connector-%s", k->name);
        const char *v = kv_get(&c->seen, key);
        if (v)
            status_apply(v, &k->state, &k->trace, &k->worker_id);
    }
    pthread_mutex_unlock(&c->status_mu);
}

/* The status thread: reads the status topic (every partition, from the beginning) into `seen`,
 * and every half second writes what changed in this worker's tasks. */
static void *status_main(void *arg)
{
    cluster_t *c = arg;
    int64_t next_sweep = 0;
    while (!atomic_load(&c->quit)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->status_rk, 500);
        if (m && !m->err && m->key) {
            char key[1100];
            size_t klen = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
            memcpy(key, m->key, klen);
            key[klen] = 0;
            char *v = m->payload && m->len ? strndup(m->payload, m->len) : NULL;
            pthread_mutex_lock(&c->status_mu);
            kv_put(&c->seen, key, v); /* an empty value (a tombstone) deletes */
            pthread_mutex_unlock(&c->status_mu);
            free(v);
        } else if (m && m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn(NULL, "status.storage.topic '%s': %s", c->status_topic,
                     rd_kafka_message_errstr(m));
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (clock_mono_ms() >= next_sweep && atomic_load(&c->rt->started)) {
            status_sweep(c, NULL);
            next_sweep = clock_mono_ms() + 500;
        }
    }
    return NULL;
}

/* Create the status topic, its writer and its reader, and start the status thread. */
static int status_start(cluster_t *c, char *err, size_t errlen)
{
    struct runtime *rt = c->rt;
    const sluice_config_t *g = rt->cfg.global;
    const kafka_props_t *props = kafka_transport_props(rt->transport);
    if (config_has(g, "status.storage.topic") && *config_string(g, "status.storage.topic"))
        snprintf(c->status_topic, sizeof c->status_topic, "%s",
                 config_string(g, "status.storage.topic"));
    else
        snprintf(c->status_topic, sizeof c->status_topic, "%s-status",
                 config_string(g, "group.id"));
    snprintf(c->worker_id, sizeof c->worker_id, "%s",
             rt->http ? http_worker_id(rt->http) : c->name);
    int rc =
        kafka_storage_topic(props, c->status_topic, (int)config_int(g, "status.storage.partitions"),
                            (int)config_int(g, "status.storage.replication.factor"),
                            "status.storage.topic", &rt->stopping, &c->status_parts, err, errlen);
    if (rc != 0)
        return rc;
    if (kafka_kv_writer_new(&c->status_w, props, c->status_topic, err, errlen) != 0)
        return -1;
    kafka_kv_writer_key(c->status_w, "status.storage.topic");
    rd_kafka_conf_t *conf = kafka_consumer_conf(props, err, errlen);
    if (!conf)
        return -1;
    char e[512];
    /* Assigned partitions, never subscribed: the group id is only librdkafka's requirement. */
    rd_kafka_conf_set(conf, "group.id", "sluice-status-reader", e, sizeof e);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e);
    rd_kafka_conf_set(conf, "enable.partition.eof", "false", e, sizeof e);
    c->status_rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!c->status_rk) {
        snprintf(err, errlen, "status.storage.topic '%s': cannot create its reader: %s",
                 c->status_topic, e);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(c->status_rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->status_parts);
    for (int p = 0; p < c->status_parts; p++)
        rd_kafka_topic_partition_list_add(l, c->status_topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t r = rd_kafka_assign(c->status_rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (r) {
        snprintf(err, errlen, "status.storage.topic '%s': cannot read it: %s", c->status_topic,
                 rd_kafka_err2str(r));
        return -1;
    }
    if (pthread_create(&c->status_thread, NULL, status_main, c) != 0) {
        snprintf(err, errlen, "group.id: cannot create the status thread");
        return -1;
    }
    pthread_setname_np(c->status_thread, "cluster-status");
    c->status_started = 1;
    return 0;
}

/* -- the config topic ---------------------------------------------------------------------------
 * Key connector-<name>; value {"yaml": the pipeline document, "initial": "RUNNING"|"PAUSED"|
 * "STOPPED", "worker_id": the writer}; an empty value deletes. The REST write lints the
 * configuration before it publishes (worker_put), so every worker can apply what it reads. */

static _Thread_local int config_applying; /* this thread applies a record it read */

int cluster_publishes(const cluster_t *c)
{
    return c && c->config_w && !config_applying;
}

int cluster_config_publish(cluster_t *c, const char *name, const char *yaml, int initial, char *err,
                           size_t errlen)
{
    char key[600];
    snprintf(key, sizeof key, "connector-%s", name);
    char *v = NULL;
    if (yaml) {
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "yaml", yaml);
            cJSON_AddStringToObject(o, "initial", worker_state_name((worker_state_t)initial));
            cJSON_AddStringToObject(o, "worker_id", c->worker_id);
            v = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
        }
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    pthread_mutex_lock(&c->config_mu);
    int rc = kafka_kv_write(c->config_w, key, strlen(key), v, v ? strlen(v) : 0, err, errlen);
    if (rc == 0)
        rc = kafka_kv_sync(c->config_w, 10000, err, errlen);
    pthread_mutex_unlock(&c->config_mu);
    free(v);
    return rc; /* the errors name config.storage.topic and the topic */
}

static void config_apply(cluster_t *c, const rd_kafka_message_t *m)
{
    char name[600];
    if (m->key_len <= 10 || m->key_len - 10 >= sizeof name || memcmp(m->key, "connector-", 10) != 0)
        return;
    memcpy(name, (const char *)m->key + 10, m->key_len - 10);
    name[m->key_len - 10] = 0;
    char err[4096] = "";
    int rc;
    config_applying = 1;
    if (!m->payload || !m->len) {
        rc = worker_delete(c->rt, name, err, sizeof err);
        if (rc == 404)
            rc = 204; /* never created here, or deleted already */
    } else {
        cJSON *o = cJSON_ParseWithLength(m->payload, m->len);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(o, "yaml");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "initial");
        int created = 0;
        if (!cJSON_IsString(y)) {
            rc = 400;
            snprintf(err, sizeof err, "an unreadable record");
        } else {
            rc = worker_put(c->rt, name, y->valuestring, strlen(y->valuestring), 0,
                            cJSON_IsString(in) ? state_named(in->valuestring) : WORKER_RUNNING,
                            &created, err, sizeof err);
        }
        cJSON_Delete(o);
    }
    config_applying = 0;
    if (rc >= 300)
        log_error(NULL, "config.storage.topic '%s': connector %s not applied on this worker: %s",
                  c->config_topic, name, err);
    else
        log_info(NULL, "config.storage.topic: connector %s %s", name,
                 m->payload && m->len ? "applied" : "deleted");
}

/* The config thread: once the worker runs, applies each record of the config topic in order. */
static void *config_main(void *arg)
{
    cluster_t *c = arg;
    while (!atomic_load(&c->quit)) {
        if (!atomic_load(&c->rt->started)) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->config_rk, 500);
        if (!m)
            continue;
        if (!m->err && m->key)
            config_apply(c, m);
        else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn(NULL, "config.storage.topic '%s': %s", c->config_topic,
                     rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* A reader of every partition of `topic` from its beginning, without a group. NULL with a
 * message. */
static rd_kafka_t *reader_new(const kafka_props_t *props, const char *topic, int nparts,
                              const char *why, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_consumer_conf(props, err, errlen);
    if (!conf)
        return NULL;
    char e[512];
    /* Assigned partitions, never subscribed: the group id is only librdkafka's requirement. */
    rd_kafka_conf_set(conf, "group.id", "sluice-storage-reader", e, sizeof e);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e);
    rd_kafka_conf_set(conf, "enable.partition.eof", "false", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "%s '%s': cannot create its reader: %s", why, topic, e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t r = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (r) {
        snprintf(err, errlen, "%s '%s': cannot read it: %s", why, topic, rd_kafka_err2str(r));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

static int config_start(cluster_t *c, char *err, size_t errlen)
{
    struct runtime *rt = c->rt;
    const sluice_config_t *g = rt->cfg.global;
    const kafka_props_t *props = kafka_transport_props(rt->transport);
    if (config_has(g, "config.storage.topic") && *config_string(g, "config.storage.topic"))
        snprintf(c->config_topic, sizeof c->config_topic, "%s",
                 config_string(g, "config.storage.topic"));
    else
        snprintf(c->config_topic, sizeof c->config_topic, "%s-configs",
                 config_string(g, "group.id"));
    int nparts = 0;
    int rc = kafka_storage_topic(props, c->config_topic, 1,
                                 (int)config_int(g, "config.storage.replication.factor"),
                                 "config.storage.topic", &rt->stopping, &nparts, err, errlen);
    if (rc != 0)
        return rc;
    if (nparts != 1) {
        /* One partition keeps every write in one order, which every worker applies alike. */
        snprintf(err, errlen,
                 "config.storage.topic '%s' has %d partitions; it must have 1 (Connect's rule): "
                 "name another topic, or delete it while no worker runs",
                 c->config_topic, nparts);
        return -1;
    }
    if (kafka_kv_writer_new(&c->config_w, props, c->config_topic, err, errlen) != 0)
        return -1;
    kafka_kv_writer_key(c->config_w, "config.storage.topic");
    c->config_rk = reader_new(props, c->config_topic, 1, "config.storage.topic", err, errlen);
    if (!c->config_rk)
        return -1;
    if (pthread_create(&c->config_thread, NULL, config_main, c) != 0) {
        snprintf(err, errlen, "group.id: cannot create the config thread");
        return -1;
    }
    pthread_setname_np(c->config_thread, "cluster-config");
    c->config_started = 1;
    return 0;
}

/* -- the rebalance callback ---------------------------------------------------------------------
 * It runs on the cluster thread, inside rd_kafka_consumer_poll. */

static void wake_supervisor(struct runtime *rt)
{
    pthread_mutex_lock(&rt->ended.mu);
    pthread_cond_broadcast(&rt->ended.cv);
    pthread_mutex_unlock(&rt->ended.mu);
}

/* 1 when a task of a slot marked in c->moved still runs. Under rt->lock. */
static int moved_tasks_live(const cluster_t *c)
{
    const struct runtime *rt = c->rt;
    for (size_t i = 0; i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (p->has_source && p->ctl.live && c->moved[cluster_slot(p->id, 0, c->slots)])
            return 1;
        for (size_t s = 0; s < p->nsinks; s++)
            if (p->sinks[s].ctl.live &&
                c->moved[cluster_slot(p->id, cluster_task_number(p, &p->sinks[s]), c->slots)])
                return 1;
    }
    return 0;
}

/* Positions written by the slots' previous owner: read them again before the sources start (the
 * ones read at start are stale once another worker ran the task). Only the pipelines whose source
 * comes to this worker: a running source's own position is newer in memory. */
typedef struct reload {
    offsets_t *offsets;
    char **ids;
    size_t n;
} reload_t;

static void reload_one(void *opaque, const void *key, size_t klen, const void *value, size_t vlen)
{
    reload_t *r = opaque;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->ids[i]) == klen && memcmp(r->ids[i], key, klen) == 0 &&
            offsets_load(r->offsets, key, klen, value, vlen) != 0)
            log_warn(NULL, "offset.storage.topic: ignoring an unreadable position of '%.*s'",
                     (int)klen, (const char *)key);
}

static void reload_positions(cluster_t *c)
{
    struct runtime *rt = c->rt;
    reload_t r = {rt->offsets, NULL, 0};
    pthread_mutex_lock(&rt->lock);
    r.ids = calloc(rt->npipelines + 1, sizeof *r.ids);
    for (size_t i = 0; r.ids && i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (p->has_source && c->moved[cluster_slot(p->id, 0, c->slots)] &&
            (r.ids[r.n] = strdup(p->id)))
            r.n++;
    }
    pthread_mutex_unlock(&rt->lock);
    if (r.n) {
        const sluice_config_t *g = rt->cfg.global;
        char err[1024];
        if (kafka_read_compacted(kafka_transport_props(rt->transport),
                                 config_string(g, "offset.storage.topic"),
                                 (int)config_int(g, "offset.storage.replication.factor"),
                                 reload_one, &r, &rt->stopping, err, sizeof err) != 0)
            log_warn(NULL,
                     "cluster: the positions of the assigned sources were not read again "
                     "(%s): they start from the ones known",
                     err);
    }
    for (size_t i = 0; i < r.n; i++)
        free(r.ids[i]);
    free(r.ids);
}

static void slots_describe(const rd_kafka_topic_partition_list_t *l, char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < l->cnt && n + 12 < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%d", i ? "," : "", l->elems[i].partition);
}

static void on_assign(cluster_t *c, rd_kafka_topic_partition_list_t *parts)
{
    struct runtime *rt = c->rt;
    memset(c->moved, 0, (size_t)c->slots);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < c->slots)
            c->moved[parts->elems[i].partition] = 1;
    /* A new generation: the next sweep writes every held task's record again. */
    pthread_mutex_lock(&c->status_mu);
    c->generation++;
    pthread_mutex_unlock(&c->status_mu);
    reload_positions(c);
    pthread_mutex_lock(&rt->lock);
    for (int s = 0; s < c->slots; s++)
        if (c->moved[s])
            atomic_store_explicit(&c->held[s], 1, memory_order_relaxed);
    /* A source whose slot was lost kept its last position uncommitted; it may commit again. */
    for (size_t i = 0; i < rt->npipelines; i++)
        if (rt->pipelines[i]->has_source &&
            c->moved[cluster_slot(rt->pipelines[i]->id, 0, c->slots)])
            atomic_store(&rt->pipelines[i]->hold_commits, 0);
    pthread_mutex_unlock(&rt->lock);
    wake_supervisor(rt);
}

static void on_revoke(cluster_t *c, rd_kafka_topic_partition_list_t *parts, int lost)
{
    struct runtime *rt = c->rt;
    memset(c->moved, 0, (size_t)c->slots);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < c->slots)
            c->moved[parts->elems[i].partition] = 1;
    pthread_mutex_lock(&rt->lock);
    for (int s = 0; s < c->slots; s++)
        if (c->moved[s])
            atomic_store_explicit(&c->held[s], 0, memory_order_relaxed);
    /* Lost: another worker already runs these tasks; a position committed now could go behind
     * the one it commits. Their sources stop without committing. */
    for (size_t i = 0; lost && i < rt->npipelines; i++)
        if (rt->pipelines[i]->has_source &&
            c->moved[cluster_slot(rt->pipelines[i]->id, 0, c->slots)])
            atomic_store(&rt->pipelines[i]->hold_commits, 1);
    pthread_mutex_unlock(&rt->lock);
    wake_supervisor(rt);
    /* The supervisor stops them (cluster_holds is 0 now): a source stops polling, delivers what is
     * in flight and commits; a sink flushes and commits. Wait for that before giving them up. */
    int64_t deadline = clock_mono_ms() + CLUSTER_DRAIN_MS;
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        int live = moved_tasks_live(c);
        pthread_mutex_unlock(&rt->lock);
        if (!live)
            break;
        if (clock_mono_ms() >= deadline) {
            log_warn(NULL,
                     "cluster: tasks of revoked slots did not stop within %d ms; giving the "
                     "slots up (their next owner replays what was not committed)",
                     CLUSTER_DRAIN_MS);
            break;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!lost && rt->offsets) {
        char err[512];
        if (offsets_flush(rt->offsets, err, sizeof err) != 0)
            log_error(NULL, "cluster: %s", err);
    }
    if (!lost)
        status_sweep(c, c->moved);
}

static void cluster_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cluster_t *c = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    char which[512];
    slots_describe(parts, which, sizeof which);
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info(NULL, "cluster: worker %s assigned slot%s %s", c->name, parts->cnt == 1 ? "" : "s",
                 parts->cnt ? which : "(none new)");
        on_assign(c, parts);
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        int lost = rd_kafka_assignment_lost(rk);
        log_info(NULL, "cluster: worker %s %s slot%s %s%s", c->name, lost ? "lost" : "gives up",
                 parts->cnt == 1 ? "" : "s", which,
                 lost ? " (its session expired): stopping their tasks without committing"
                      : ": draining their tasks");
        on_revoke(c, parts, lost);
        if (cooperative)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    } else {
        log_error(NULL, "cluster: rebalance failed: %s", rd_kafka_err2str(err));
        pthread_mutex_lock(&c->rt->lock);
        for (int s = 0; s < c->slots; s++)
            atomic_store_explicit(&c->held[s], 0, memory_order_relaxed);
        pthread_mutex_unlock(&c->rt->lock);
        rd_kafka_assign(rk, NULL);
    }
    if (e) {
        log_error(NULL, "cluster: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void *cluster_main(void *arg)
{
    cluster_t *c = arg;
    while (!atomic_load(&c->quit)) {
        /* A stopping worker leaves the group once its tasks drained (the revoke waits for
         * them), so the others take its slots at once rather than after session.timeout.ms:
         * librdkafka sends no LeaveGroup for a static member that only closes. */
        if (atomic_load(&c->rt->stopping) && !c->left) {
            c->left = 1;
            log_info(NULL, "cluster: worker %s leaving group '%s'", c->name,
                     config_string(c->rt->cfg.global, "group.id"));
            rd_kafka_unsubscribe(c->rk);
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn(NULL, "cluster: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m); /* slice 1: the tasks topic holds no records yet */
    }
    return NULL;
}

static void cluster_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    log_warn(NULL, "cluster: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void worker_name(struct runtime *rt, char *out, size_t size)
{
    const sluice_config_t *g = rt->cfg.global;
    if (config_has(g, "worker.name")) {
        snprintf(out, size, "%s", config_string(g, "worker.name"));
        return;
    }
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    const char *id = rt->http ? http_worker_id(rt->http) : NULL;
    const char *port = id ? strrchr(id, ':') : NULL;
    if (port)
        snprintf(out, size, "%s:%s", host, port + 1);
    else
        snprintf(out, size, "%s:pid%ld", host, (long)getpid());
}

int cluster_start(cluster_t **out, struct runtime *rt, char *err, size_t errlen)
{
    const sluice_config_t *g = rt->cfg.global;
    const kafka_props_t *props = kafka_transport_props(rt->transport);
    *out = NULL;
    cluster_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->rt = rt;
    pthread_mutex_init(&c->status_mu, NULL);
    pthread_mutex_init(&c->config_mu, NULL);
    c->status_mu_init = 1;
    c->slots = (int)config_int(g, "task.slots");
    c->held = calloc((size_t)c->slots, sizeof *c->held);
    c->moved = calloc((size_t)c->slots, 1);
    snprintf(c->topic, sizeof c->topic, "%s-tasks", config_string(g, "group.id"));
    worker_name(rt, c->name, sizeof c->name);
    if (!c->held || !c->moved) {
        snprintf(err, errlen, "out of memory");
        cluster_stop(c);
        return -1;
    }
    int rc = kafka_tasks_topic(props, c->topic, c->slots, &rt->stopping, err, errlen);
    if (rc == 0)
        rc = status_start(c, err, errlen);
    if (rc == 0)
        rc = config_start(c, err, errlen);
    if (rc != 0) {
        cluster_stop(c);
        return rc;
    }
    rd_kafka_conf_t *conf = kafka_consumer_conf(props, err, errlen);
    if (!conf) {
        cluster_stop(c);
        return -1;
    }
    char e[512], v[32];
    const struct {
        const char *k, *v;
    } keys[] = {
        {"group.id", config_string(g, "group.id")},
        {"group.instance.id", c->name},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "false"},
        {"auto.offset.reset", "earliest"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (rd_kafka_conf_set(conf, keys[i].k, keys[i].v, e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "group.id: %s: %s", keys[i].k, e);
            rd_kafka_conf_destroy(conf);
            cluster_stop(c);
            return -1;
        }
    snprintf(v, sizeof v, "%lld", (long long)config_int(g, "session.timeout.ms"));
    rd_kafka_conf_set(conf, "session.timeout.ms", v, e, sizeof e);
    snprintf(v, sizeof v, "%lld", (long long)config_int(g, "heartbeat.interval.ms"));
    rd_kafka_conf_set(conf, "heartbeat.interval.ms", v, e, sizeof e);
    rd_kafka_conf_set_rebalance_cb(conf, cluster_rebalance);
    rd_kafka_conf_set_error_cb(conf, cluster_error);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!c->rk) {
        snprintf(err, errlen, "group.id: cannot create the group's consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        cluster_stop(c);
        return -1;
    }
    rd_kafka_poll_set_consumer(c->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t r = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (r) {
        snprintf(err, errlen, "group.id: cannot subscribe to '%s': %s", c->topic,
                 rd_kafka_err2str(r));
        cluster_stop(c);
        return -1;
    }
    if (pthread_create(&c->thread, NULL, cluster_main, c) != 0) {
        snprintf(err, errlen, "group.id: cannot create the cluster thread");
        cluster_stop(c);
        return -1;
    }
    c->thread_started = 1;
    log_info(NULL, "cluster: worker %s joining group '%s' (%d task slots in '%s')", c->name,
             config_string(g, "group.id"), c->slots, c->topic);
    *out = c;
    return 0;
}

void cluster_stop(cluster_t *c)
{
    if (!c)
        return;
    atomic_store(&c->quit, 1);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    if (c->rk) {
        /* Serves the last revoke (the tasks have stopped by now) and leaves. */
        if (!c->left && c->rt->cfg.global) {
            log_info(NULL, "cluster: worker %s leaving group '%s'", c->name,
                     config_string(c->rt->cfg.global, "group.id"));
            rd_kafka_unsubscribe(c->rk);
        }
        /* Serve the revoke, and wait until librdkafka has started the LeaveGroup (it clears the
         * member id then): a static member that closes before does not leave (KIP-345), and its
         * slots would wait session.timeout.ms for another owner. */
        int64_t until = clock_mono_ms() + 5000;
        while (clock_mono_ms() < until) {
            char *id = rd_kafka_memberid(c->rk);
            int member = id && *id;
            if (id)
                rd_kafka_mem_free(c->rk, id);
            if (!member)
                break;
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 50);
            if (m)
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    if (c->status_started)
        pthread_join(c->status_thread, NULL);
    if (c->config_started)
        pthread_join(c->config_thread, NULL);
    if (c->config_rk) {
        rd_kafka_consumer_close(c->config_rk);
        rd_kafka_destroy(c->config_rk);
    }
    kafka_kv_writer_free(c->config_w);
    if (c->status_rk) {
        rd_kafka_consumer_close(c->status_rk);
        rd_kafka_destroy(c->status_rk);
    }
    kafka_kv_writer_free(c->status_w);
    if (c->status_mu_init) {
        pthread_mutex_destroy(&c->status_mu);
        pthread_mutex_destroy(&c->config_mu);
    }
    kv_clear(&c->seen);
    kv_clear(&c->wrote);
    free(c->held);
    free(c->moved);
    free(c);
}
