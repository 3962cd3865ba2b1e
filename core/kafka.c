/* kafka.c — see kafka.h. Everything that talks to librdkafka lives here, with the Kafka transport
 * (transport.h) over its producer and consumers. */
#include "kafka.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "redact.h"
#include "transport.h"

static int64_t kmono_ms(void)
{
    return clock_mono_ms();
}

static void ksleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct kafka_producer kafka_producer_t;
typedef struct kafka_consumer kafka_consumer_t;

/* Called on partition revocation, before the partitions go: the sink must flush and the consumer
 * commits what was flushed. Returns 0 if the flush succeeded (then the commit happens). */
typedef int (*kafka_revoke_cb)(void *opaque);

typedef struct kafka_topic_spec {
    const char *name;
    int partitions;         /* -1: broker default */
    int replication_factor; /* -1: broker default */
    const kafka_props_t *configs;
    int create;      /* create when missing; else a missing topic is an error */
    const char *why; /* for messages: "pipeline 'x'", "dead-letter topic of sink 'y'" */
} kafka_topic_spec_t;

static int kafka_props_add(kafka_props_t *p, const char *key, const char *value);
static void kafka_producer_free(kafka_producer_t *kp);
static void kafka_consumer_free(kafka_consumer_t *kc);
static const struct transport_ops transport_kafka; /* this file's transport, at its end */

/* -- properties ---------------------------------------------------------------------------------
 */

/* Add the entries of a MAP key of a configuration (the kafka: block, producer.override.*, …). */
static void kafka_props_from_map(kafka_props_t *out, const sluice_config_t *cfg, const char *key)
{
    size_t n = cfg ? config_count(cfg, key) : 0;
    for (size_t i = 0; i < n; i++)
        kafka_props_add(out, config_map_key(cfg, key, i), config_item(cfg, key, i));
}

static int kafka_props_add(kafka_props_t *p, const char *key, const char *value)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0) {
            p->values[i] = value;
            return 0;
        }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        const char **k = realloc(p->keys, cap * sizeof *k);
        if (!k)
            return -1;
        p->keys = k;
        const char **v = realloc(p->values, cap * sizeof *v);
        if (!v)
            return -1;
        p->values = v;
        p->cap = cap;
    }
    p->keys[p->n] = key;
    p->values[p->n] = value;
    p->n++;
    return 0;
}

static void kafka_props_free(kafka_props_t *p)
{
    free(p->keys);
    free(p->values);
    memset(p, 0, sizeof *p);
}

/* The value of a property, or NULL. */
static const char *kafka_props_get(const kafka_props_t *p, const char *key)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0)
            return p->values[i];
    return NULL;
}

/* Properties sluice sets itself: a user value for them would break a guarantee. */
static const char *const reserved_consumer[] = {"enable.auto.commit", "enable.auto.offset.store",
                                                NULL};

static int is_reserved(const char *key, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], key) == 0)
            return 1;
    return 0;
}

/* A conf with the user's properties applied; NULL with a message naming the bad one. */
static rd_kafka_conf_t *conf_from(const kafka_props_t *p, const char *role, const char **bad_key,
                                  char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    for (size_t i = 0; p && i < p->n; i++) {
        if (strcmp(role, "consumer") == 0 && is_reserved(p->keys[i], reserved_consumer)) {
            snprintf(errstr, errstr_size,
                     "kafka property '%s' is managed by sluice (offsets are committed only after "
                     "the sink's flush); remove it",
                     p->keys[i]);
            if (bad_key)
                *bad_key = p->keys[i];
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        if (strcmp(p->keys[i], "group.id") == 0 && strcmp(role, "consumer") != 0)
            continue; /* a consumer-only key in the shared block */
        rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, p->keys[i], p->values[i], err, sizeof err);
        if (r == RD_KAFKA_CONF_INVALID || r == RD_KAFKA_CONF_UNKNOWN) {
            /* librdkafka's message may quote the value: not a secret's */
            int secret = 0;
            for (size_t k = 0; config_kafka_secret_properties[k]; k++)
                secret |= strcmp(config_kafka_secret_properties[k], p->keys[i]) == 0;
            secret = secret && *p->values[i] && strstr(err, p->values[i]);
            char shown[512];
            redact_url(shown, sizeof shown, err);
            snprintf(errstr, errstr_size, "kafka property '%s': %s", p->keys[i],
                     secret ? "invalid value (not shown: a secret)" : shown);
            if (bad_key)
                *bad_key = p->keys[i];
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

/* Set a property unless the user did. */
static void conf_default(rd_kafka_conf_t *conf, const kafka_props_t *p, const char *key,
                         const char *value)
{
    char err[256];
    if (!kafka_props_get(p, key))
        rd_kafka_conf_set(conf, key, value, err, sizeof err);
}

/* At debug level, log every property that differs from librdkafka's default: what sluice passes
 * (its defaults and the user's), so that a benchmark can give a raw client the same settings.
 * Secrets are not shown; callbacks and the opaque are left out. */
static size_t conf_log_diff(char *line, size_t size, size_t len, const char **kv, size_t n,
                            const char **dv, size_t nd)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *k = kv[i], *v = kv[i + 1];
        size_t kl = strlen(k);
        if ((kl > 3 && strcmp(k + kl - 3, "_cb") == 0) || strcmp(k, "opaque") == 0 ||
            strcmp(k, "default_topic_conf") == 0)
            continue;
        int same = 0;
        for (size_t j = 0; j + 1 < nd && !same; j += 2)
            same = strcmp(dv[j], k) == 0 && strcmp(dv[j + 1], v) == 0;
        if (same)
            continue;
        int secret = 0;
        for (size_t s = 0; config_kafka_secret_properties[s]; s++)
            secret |= strcmp(config_kafka_secret_properties[s], k) == 0;
        int w = snprintf(line + len, size - len, " %s=%s", k, secret ? "(secret)" : v);
        if (w < 0 || (size_t)w >= size - len)
            break;
        len += (size_t)w;
    }
    return len;
}

static void conf_log(rd_kafka_conf_t *conf, const char *role, const char *name)
{
    if (log_get_level() < SLUICE_LOG_DEBUG)
        return;
    char line[4096];
    line[0] = '\0';
    size_t n = 0, nd = 0, len = 0;
    rd_kafka_conf_t *def = rd_kafka_conf_new();
    const char **kv = rd_kafka_conf_dump(conf, &n);
    const char **dv = rd_kafka_conf_dump(def, &nd);
    len = conf_log_diff(line, sizeof line, len, kv, n, dv, nd);
    rd_kafka_conf_dump_free(kv, n);
    rd_kafka_conf_dump_free(dv, nd);
    rd_kafka_conf_destroy(def);
    /* The topic-level ones (message.timeout.ms, acks, …) */
    rd_kafka_topic_conf_t *tc = rd_kafka_conf_get_default_topic_conf(conf);
    if (tc) {
        rd_kafka_topic_conf_t *tdef = rd_kafka_topic_conf_new();
        kv = rd_kafka_topic_conf_dump(tc, &n);
        dv = rd_kafka_topic_conf_dump(tdef, &nd);
        conf_log_diff(line, sizeof line, len, kv, n, dv, nd);
        rd_kafka_conf_dump_free(kv, n);
        rd_kafka_conf_dump_free(dv, nd);
        rd_kafka_topic_conf_destroy(tdef);
    }
    log_debug(name, "librdkafka %s settings (those not at their default):%s", role, line);
}

/* Check that librdkafka knows every property and accepts its value (for lint). On error writes a
 * message naming the property and returns -1. `role` is "producer" or "consumer". */
static int kafka_props_check(const kafka_props_t *p, const char *role, const char **bad_key,
                             char *errstr, size_t errstr_size)
{
    if (bad_key)
        *bad_key = NULL;
    rd_kafka_conf_t *conf = conf_from(p, role, bad_key, errstr, errstr_size);
    if (!conf)
        return -1;
    if (!kafka_props_get(p, "bootstrap.servers") && !kafka_props_get(p, "metadata.broker.list")) {
        snprintf(errstr, errstr_size, "the kafka: block needs bootstrap.servers");
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_destroy(conf);
    return 0;
}

/* -- logging from librdkafka's threads ----------------------------------------------------------
 */

/* librdkafka repeats a connection failure every reconnect: one line per 10 s per client is
 * enough, with the count of the others. */
struct klog_limit {
    pthread_mutex_t mu;
    int64_t last_ms;
    long suppressed;
};

static void klog_limited(struct klog_limit *l, const char *who, const char *fmt, const char *a,
                         const char *b)
{
    int64_t now = kmono_ms();
    pthread_mutex_lock(&l->mu);
    if (l->last_ms && now - l->last_ms < 10000) {
        l->suppressed++;
        pthread_mutex_unlock(&l->mu);
        return;
    }
    long sup = l->suppressed;
    l->suppressed = 0;
    l->last_ms = now;
    pthread_mutex_unlock(&l->mu);
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (sup)
        log_warn(who, "%s (%ld similar messages suppressed)", msg, sup);
    else
        log_warn(who, "%s", msg);
}

/* -- statistics ---------------------------------------------------------------------------------
 * The table behind kafka_stats_each: one entry per client, replaced whole at each statistics
 * callback (every few seconds), so a reader never sees half of one. */

#define KSTATS_BROKERS_MAX 32
#define KSTATS_INTERVAL_MS "5000"

struct kstats_entry {
    const void *owner;
    char *pipeline, *sink;
    int task;
    int64_t queue_bytes;
    kafka_stats_broker_t brokers[KSTATS_BROKERS_MAX];
    size_t nbrokers;
    kafka_stats_lag_t *lags;
    size_t nlags;
    struct kstats_entry *next;
};

static pthread_mutex_t kstats_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kstats_entry *kstats_head;

static double kjson_num(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int kafka_stats_store(const void *owner, const char *pipeline, const char *sink, int task,
                      const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    /* Parsed outside the lock: brokers (those with a node id: not the bootstrap entries) and,
     * for a consumer, the lag of each assigned partition. */
    kafka_stats_broker_t brokers[KSTATS_BROKERS_MAX];
    size_t nbrokers = 0, nlags = 0, cap = 0;
    kafka_stats_lag_t *lags = NULL;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(root, "brokers"))
    {
        const cJSON *rtt = cJSON_GetObjectItemCaseSensitive(b, "rtt");
        if (kjson_num(b, "nodeid", -1) < 0 || !b->string || nbrokers == KSTATS_BROKERS_MAX)
            continue;
        kafka_stats_broker_t *o = &brokers[nbrokers++];
        snprintf(o->name, sizeof o->name, "%s", b->string);
        o->rtt_avg_s = kjson_num(rtt, "avg", 0) / 1e6; /* microseconds */
        o->rtt_p99_s = kjson_num(rtt, "p99", 0) / 1e6;
    }
    const cJSON *t, *pt;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "topics"))
    {
        cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(t, "partitions"))
        {
            double part = kjson_num(pt, "partition", -1), lag = kjson_num(pt, "consumer_lag", -1);
            if (!sink || part < 0 || lag < 0 || !t->string)
                continue; /* -1: librdkafka's internal UA partition, or no lag known */
            if (nlags == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                kafka_stats_lag_t *n = realloc(lags, ncap * sizeof *n);
                if (!n)
                    break;
                lags = n;
                cap = ncap;
            }
            kafka_stats_lag_t *o = &lags[nlags++];
            snprintf(o->topic, sizeof o->topic, "%s", t->string);
            o->partition = (int32_t)part;
            o->lag = (int64_t)lag;
        }
    }
    int64_t queue_bytes = sink ? -1 : (int64_t)kjson_num(root, "msg_size", -1);
    cJSON_Delete(root);

    pthread_mutex_lock(&kstats_mu);
    struct kstats_entry *e = kstats_head;
    while (e && e->owner != owner)
        e = e->next;
    if (!e && (e = calloc(1, sizeof *e)) != NULL) {
        e->owner = owner;
        e->pipeline = strdup(pipeline);
        e->sink = sink ? strdup(sink) : NULL;
        e->task = task;
        e->next = kstats_head;
        kstats_head = e;
    }
    if (e) {
        /* A window without requests has no round-trip times: keep the last ones seen. */
        for (size_t i = 0; i < nbrokers; i++)
            for (size_t k = 0; brokers[i].rtt_avg_s == 0 && k < e->nbrokers; k++)
                if (strcmp(e->brokers[k].name, brokers[i].name) == 0)
                    brokers[i] = e->brokers[k];
        memcpy(e->brokers, brokers, nbrokers * sizeof *brokers);
        e->nbrokers = nbrokers;
        free(e->lags);
        e->lags = lags;
        e->nlags = nlags;
        e->queue_bytes = queue_bytes;
        lags = NULL;
    }
    pthread_mutex_unlock(&kstats_mu);
    free(lags);
    return 0;
}

void kafka_stats_forget(const void *owner)
{
    pthread_mutex_lock(&kstats_mu);
    for (struct kstats_entry **pe = &kstats_head; *pe; pe = &(*pe)->next)
        if ((*pe)->owner == owner) {
            struct kstats_entry *e = *pe;
            *pe = e->next;
            free(e->pipeline);
            free(e->sink);
            free(e->lags);
            free(e);
            break;
        }
    pthread_mutex_unlock(&kstats_mu);
}

void kafka_stats_each(void (*fn)(void *opaque, const kafka_stats_client_t *c), void *opaque)
{
    pthread_mutex_lock(&kstats_mu);
    for (struct kstats_entry *e = kstats_head; e; e = e->next) {
        kafka_stats_client_t c = {.pipeline = e->pipeline,
                                  .sink = e->sink,
                                  .task = e->task,
                                  .queue_bytes = e->queue_bytes,
                                  .brokers = e->brokers,
                                  .nbrokers = e->nbrokers,
                                  .lags = e->lags,
                                  .nlags = e->nlags};
        fn(opaque, &c);
    }
    pthread_mutex_unlock(&kstats_mu);
}

/* A producer's queue bytes as its last statistics said, -1 when none came yet. */
static int64_t kstats_queue_bytes(const void *owner)
{
    int64_t v = -1;
    pthread_mutex_lock(&kstats_mu);
    for (struct kstats_entry *e = kstats_head; e; e = e->next)
        if (e->owner == owner)
            v = e->queue_bytes;
    pthread_mutex_unlock(&kstats_mu);
    return v;
}

/* The labels of a client from its name: "pipeline/kafka" (a producer), "pipeline/sink#task" (a
 * consumer); ids hold neither '/' nor '#' (config_valid_id). */
static void kstats_labels(const char *name, int consumer, char *pipeline, size_t plen, char *sink,
                          size_t slen, int *task)
{
    const char *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name);
    snprintf(pipeline, plen, "%.*s", (int)n, name);
    *task = 0;
    sink[0] = '\0';
    if (consumer && slash) {
        const char *hash = strrchr(slash, '#');
        size_t m = hash ? (size_t)(hash - slash - 1) : strlen(slash + 1);
        snprintf(sink, slen, "%.*s", (int)m, slash + 1);
        *task = hash ? atoi(hash + 1) : 0;
    }
}

static int kstats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque, const char *name,
                     int consumer)
{
    (void)rk;
    char pipeline[256], sink[256];
    int task;
    kstats_labels(name, consumer, pipeline, sizeof pipeline, sink, sizeof sink, &task);
    kafka_stats_store(opaque, pipeline, consumer ? sink : NULL, task, json, len);
    return 0; /* librdkafka frees the JSON */
}

/* -- producer -----------------------------------------------------------------------------------
 */

struct kafka_producer {
    rd_kafka_t *rk;
    char *name;
    char *bootstrap;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    atomic_long inflight;
    atomic_llong down_since; /* monotonic ms of the first failure since the last delivery; 0: up */
    struct klog_limit lim, dlim;
};

static void producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_producer_t *kp = opaque;
    tracker_t *tr = m->_private;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
            klog_limited(&kp->dlim, kp->name, "delivery to topic '%s' failed: %s",
                         m->rkt ? rd_kafka_topic_name(m->rkt) : "?", rd_kafka_err2str(m->err));
        if (tr)
            atomic_store(&tr->failed, 1);
    } else {
        atomic_store(&kp->down_since, 0);
    }
    if (tr)
        atomic_fetch_sub(&tr->pending, 1);
    atomic_fetch_sub(&kp->inflight, 1);
}

static int producer_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    return kstats_cb(rk, json, len, opaque, ((kafka_producer_t *)opaque)->name, 0);
}

static void client_error(rd_kafka_t *rk, int err, const char *reason, void *opaque,
                         const char *name, struct klog_limit *lim, atomic_llong *down_since)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, buf, sizeof buf);
        log_error(name, "fatal Kafka error: %s: %s", rd_kafka_err2name(ferr), buf);
        return;
    }
    if (down_since && (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                       err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE)) {
        long long zero = 0;
        atomic_compare_exchange_strong(down_since, &zero, (long long)kmono_ms());
    }
    klog_limited(lim, name, "Kafka: %s; retrying (nothing is lost meanwhile)", reason, "");
}

static void producer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_producer_t *kp = opaque;
    client_error(rk, err, reason, opaque, kp->name, &kp->lim, &kp->down_since);
}

static void client_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* Connection errors also come through error_cb (rate-limited there); the log adds nothing. */
    if (level <= 3)
        log_debug("librdkafka", "%s: %s", fac, buf);
    else if (level <= 6)
        log_debug("librdkafka", "%s: %s", fac, buf);
}

static void *producer_main(void *arg)
{
    kafka_producer_t *kp = arg;
    while (!atomic_load(&kp->stop))
        rd_kafka_poll(kp->rk, 100);
    return NULL;
}

/* A producer with its own delivery thread. `name` (the pipeline id) names it in messages and in
 * client.id. `buffer_bytes` bounds the memory of its queue unless the properties set it. */
static int kafka_producer_new(kafka_producer_t **out, const kafka_props_t *props, const char *name,
                              size_t buffer_bytes, char *errstr, size_t errstr_size)
{
    *out = NULL;
    kafka_producer_t *kp = calloc(1, sizeof *kp);
    if (!kp)
        return -1;
    pthread_mutex_init(&kp->lim.mu, NULL);
    pthread_mutex_init(&kp->dlim.mu, NULL);
    char cname[300];
    snprintf(cname, sizeof cname, "%s/kafka", name);
    kp->name = strdup(cname);
    rd_kafka_conf_t *conf = conf_from(props, "producer", NULL, errstr, errstr_size);
    if (!conf || !kp->name)
        goto fail;
    /* Defaults: idempotent, no local timeout (a broker that is away is waited for: records stay
     * queued, positions stay uncommitted), and a queue bounded by the pipeline's buffer.memory. */
    char num[32];
    snprintf(cname, sizeof cname, "sluice-%s", name);
    conf_default(conf, props, "client.id", cname);
    conf_default(conf, props, "enable.idempotence", "true");
    conf_default(conf, props, "message.timeout.ms", "0");
    size_t kb = buffer_bytes / 1024;
    snprintf(num, sizeof num, "%zu", kb < 1024 ? 1024 : kb);
    conf_default(conf, props, "queue.buffering.max.kbytes", num);
    conf_default(conf, props, "statistics.interval.ms", KSTATS_INTERVAL_MS);
    rd_kafka_conf_set_stats_cb(conf, producer_stats);
    rd_kafka_conf_set_opaque(conf, kp);
    rd_kafka_conf_set_dr_msg_cb(conf, producer_dr);
    rd_kafka_conf_set_error_cb(conf, producer_error);
    rd_kafka_conf_set_log_cb(conf, client_log);
    conf_log(conf, "producer", kp->name);
    char err[512];
    kp->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!kp->rk) {
        snprintf(errstr, errstr_size, "cannot create the Kafka producer: %s", err);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (pthread_create(&kp->thread, NULL, producer_main, kp) != 0) {
        snprintf(errstr, errstr_size, "cannot start the Kafka delivery thread");
        goto fail;
    }
    kp->thread_started = 1;
    *out = kp;
    return 0;
fail:
    kafka_producer_free(kp);
    return -1;
}

/* Produce every staged record to `topic`. Each record adds one to tr->pending, and its delivery
 * (acknowledged by the brokers) takes it off again; a delivery that fails for good sets
 * tr->failed. Waits while the queue is full, until `*abort` (then returns -1: what was not handed
 * over is not produced). Returns 0 when every record is queued. */
static int kafka_produce_stage(kafka_producer_t *kp, const char *topic, const topic_stage_t *stage,
                               tracker_t *tr, const atomic_int *abort)
{
    topic_view_t v;
    size_t pos = 0, next;
    while ((next = topic_stage_next(stage, pos, &v)) != 0) {
        rd_kafka_headers_t *hdrs = NULL;
        if (v.nheaders) {
            hdrs = rd_kafka_headers_new(v.nheaders);
            const uint8_t *h = v.headers;
            for (uint32_t k = 0; k < v.nheaders; k++) {
                const char *hn;
                size_t nl, vl;
                const void *hv;
                h = topic_header_next(h, &hn, &nl, &hv, &vl);
                rd_kafka_header_add(hdrs, hn, (ssize_t)nl, hv, (ssize_t)vl);
            }
        }
        if (tr)
            atomic_fetch_add(&tr->pending, 1);
        atomic_fetch_add(&kp->inflight, 1);
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                kp->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(v.key_null ? NULL : (void *)v.key, v.key_null ? 0 : v.key_len),
                RD_KAFKA_V_VALUE(v.value_null ? NULL : (void *)v.value,
                                 v.value_null ? 0 : v.value_len),
                RD_KAFKA_V_TIMESTAMP(v.timestamp), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(tr),
                RD_KAFKA_V_END);
            if (!err)
                break;
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !(abort && atomic_load(abort))) {
                ksleep_ms(2); /* the delivery thread makes room */
                continue;
            }
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            if (tr)
                atomic_fetch_sub(&tr->pending, 1);
            atomic_fetch_sub(&kp->inflight, 1);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                log_error(kp->name, "cannot produce to topic '%s': %s", topic,
                          rd_kafka_err2str(err));
            return -1;
        }
        pos = next;
    }
    return 0;
}

/* Learn where `topic` lives before the first record (a metadata request; bounded, best effort). */
static void kafka_producer_prepare(kafka_producer_t *kp, const char *topic)
{
    /* Ask for the topic's metadata now: otherwise librdkafka learns its leader only at its next
     * periodic scan, up to a second after the first record is queued. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(kp->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rkt && rd_kafka_metadata(kp->rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
}

/* Messages not delivered yet. */
static long kafka_producer_inflight(kafka_producer_t *kp)
{
    return atomic_load(&kp->inflight);
}

/* Drop every undelivered message (their trackers see them fail) and wait up to `timeout_ms`
 * until their delivery reports are served. Returns the number still outstanding. */
static long kafka_producer_purge(kafka_producer_t *kp, int timeout_ms)
{
    rd_kafka_purge(kp->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t deadline = kmono_ms() + timeout_ms;
    while (atomic_load(&kp->inflight) > 0 && kmono_ms() < deadline)
        ksleep_ms(10);
    return atomic_load(&kp->inflight);
}

/* A short state for the progress line: "" when fine, else e.g. "kafka unreachable 12s". */
static void kafka_producer_state(kafka_producer_t *kp, char *out, size_t size)
{
    long long since = atomic_load(&kp->down_since);
    long inflight = atomic_load(&kp->inflight);
    if (since && inflight > 0)
        snprintf(out, size, "kafka unreachable %llds, %ld records waiting",
                 (long long)(kmono_ms() - since) / 1000, inflight);
    else
        snprintf(out, size, "%s", "");
}

static void kafka_producer_free(kafka_producer_t *kp)
{
    if (!kp)
        return;
    if (kp->thread_started) {
        atomic_store(&kp->stop, 1);
        pthread_join(kp->thread, NULL);
    }
    if (kp->rk) {
        rd_kafka_poll(kp->rk, 0);
        rd_kafka_destroy(kp->rk);
    }
    kafka_stats_forget(kp);
    pthread_mutex_destroy(&kp->lim.mu);
    pthread_mutex_destroy(&kp->dlim.mu);
    free(kp->name);
    free(kp->bootstrap);
    free(kp);
}

/* -- consumer -----------------------------------------------------------------------------------
 */

/* kafka_consumer_read: how long an empty prefetch queue is waited on, with records waiting on the
 * broker, before the fetcher is woken (a fetch on loopback takes a few ms); the wake's bound. */
#define KAFKA_WAKE_AFTER_MS   10
#define KAFKA_WAKE_TIMEOUT_MS 1000

struct kpart {
    int32_t partition;
    int64_t next;      /* one past the last record handed to the sink (-1: none) */
    int64_t committed; /* the last offset committed (-1: none since the assignment) */
    uint64_t done_gen; /* kafka_consumer_done's mark: seen in this batch */
};

struct kafka_consumer {
    transport_reader_t base; /* a consumer is the Kafka transport's reader */
    rd_kafka_t *rk;
    char *name, *topic;
    rd_kafka_message_t **msgs;
    size_t nmsgs, cap;
    struct kpart *parts;
    size_t nparts, partscap;
    kafka_revoke_cb on_revoke;
    void *opaque;
    struct klog_limit lim;
    atomic_llong down_since; /* as the producer's: 0 when the cluster answers */
    int closed;
    int paused; /* partitions assigned later are paused too */
    uint64_t done_gen;
};

static struct kpart *kpart_get(kafka_consumer_t *kc, int32_t partition)
{
    for (size_t i = 0; i < kc->nparts; i++)
        if (kc->parts[i].partition == partition)
            return &kc->parts[i];
    if (kc->nparts == kc->partscap) {
        size_t cap = kc->partscap ? kc->partscap * 2 : 8;
        struct kpart *n = realloc(kc->parts, cap * sizeof *n);
        if (!n)
            return NULL;
        kc->parts = n;
        kc->partscap = cap;
    }
    struct kpart *p = &kc->parts[kc->nparts++];
    memset(p, 0, sizeof *p);
    p->partition = partition;
    p->next = -1;
    p->committed = -1;
    return p;
}

static int consumer_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    return kstats_cb(rk, json, len, opaque, ((kafka_consumer_t *)opaque)->name, 1);
}

static void consumer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_consumer_t *kc = opaque;
    client_error(rk, err, reason, opaque, kc->name, &kc->lim, &kc->down_since);
}

static void parts_describe(const rd_kafka_topic_partition_list_t *l, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < l->cnt && n + 16 < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%d", i ? "," : "", l->elems[i].partition);
}

/* Commit `upto[i]` for the partitions i where it is above what was committed (upto NULL: every
 * partition's `next`). */
static int commit_upto(kafka_consumer_t *kc, const int64_t *upto, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)kc->nparts + 1);
    for (size_t i = 0; i < kc->nparts; i++) {
        int64_t o = upto ? upto[i] : kc->parts[i].next;
        if (o >= 0 && o > kc->parts[i].committed)
            rd_kafka_topic_partition_list_add(l, kc->topic, kc->parts[i].partition)->offset = o;
    }
    int rc = 0;
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(kc->rk, l, 0);
        if (err) {
            snprintf(errstr, errstr_size, "offset commit failed: %s", rd_kafka_err2str(err));
            rc = -1;
        } else {
            for (int i = 0; i < l->cnt; i++)
                kpart_get(kc, l->elems[i].partition)->committed = l->elems[i].offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static int commit_dirty(kafka_consumer_t *kc, char *errstr, size_t errstr_size)
{
    return commit_upto(kc, NULL, errstr, errstr_size);
}

/* Partitions that arrive or leave start with nothing read and nothing to commit. */
static void kparts_forget(kafka_consumer_t *kc, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        struct kpart *p = kpart_get(kc, parts->elems[i].partition);
        if (p) {
            p->next = -1;
            p->committed = -1;
        }
    }
}

static void consumer_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_consumer_t *kc = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    char list[256];
    parts_describe(parts, list, sizeof list);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        atomic_store(&kc->down_since, 0);
        log_info(kc->name, "assigned partitions [%s] of '%s'", list, kc->topic);
        kparts_forget(kc, parts);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        if (kc->paused)
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    /* Revoked (or lost): flush what the sink holds and commit it, before the partitions go. */
    if (!rd_kafka_assignment_lost(rk) && kc->on_revoke && kc->on_revoke(kc->opaque) == 0) {
        char e[256];
        if (commit_dirty(kc, e, sizeof e) != 0)
            log_warn(kc->name, "on revocation of [%s]: %s (the records will be read again)", list,
                     e);
    }
    log_info(kc->name, "partitions [%s] of '%s' revoked", list, kc->topic);
    kparts_forget(kc, parts);
    if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static int kafka_consumer_new(kafka_consumer_t **out, const kafka_props_t *props, const char *group,
                              const char *topic, const char *name, size_t buffer_bytes,
                              kafka_revoke_cb on_revoke, void *opaque, char *errstr,
                              size_t errstr_size)
{
    *out = NULL;
    kafka_consumer_t *kc = calloc(1, sizeof *kc);
    if (!kc)
        return -1;
    pthread_mutex_init(&kc->lim.mu, NULL);
    kc->name = strdup(name);
    kc->topic = strdup(topic);
    kc->base.ops = &transport_kafka;
    kc->on_revoke = on_revoke;
    kc->opaque = opaque;
    rd_kafka_conf_t *conf = conf_from(props, "consumer", NULL, errstr, errstr_size);
    if (!conf || !kc->name || !kc->topic)
        goto fail;
    char err[512], num[32];
    conf_default(conf, props, "group.id", group);
    conf_default(conf, props, "client.id", group);
    conf_default(conf, props, "auto.offset.reset", "earliest");
    size_t kb = buffer_bytes / 1024;
    snprintf(num, sizeof num, "%zu", kb < 1024 ? 1024 : kb);
    conf_default(conf, props, "queued.max.messages.kbytes", num);
    /* The queue's message count is bounded too: librdkafka keeps about 300 bytes of its own per
     * queued message (an op, the message), so its default of 100,000 messages let small records
     * cost more than their bytes (48-byte Avro values: 4 MiB of prefetch held 26 MB more; the s3
     * sink's run peaked at 66 MiB, 40 MiB with this bound, at the same rate). One message per
     * 256 bytes of the prefetch keeps that overhead near the prefetch's own size. */
    snprintf(num, sizeof num, "%zu", buffer_bytes / 256 < 1000 ? (size_t)1000 : buffer_bytes / 256);
    conf_default(conf, props, "queued.min.messages", num);
    /* Small fetches keep the prefetch queue near its bound instead of overshooting it by a
     * whole fetch (50 MB by default): less memory, and fewer of librdkafka 2.0's one-second
     * fetch pauses when the queue is full (measured: 1M records Kafka → file 3.7 s → 2.3 s at
     * 32 MiB RSS; docs/performance.md). */
    conf_default(conf, props, "max.partition.fetch.bytes", "262144");
    if (!kafka_props_get(props, "message.max.bytes"))
        conf_default(conf, props, "fetch.max.bytes", "1048576");
    /* librdkafka 2.2+ stops fetching for fetch.queue.backoff.ms (1 s by default) once the
     * prefetch queue is over its bound, however soon the sink drains it; the sink drains 4 MiB
     * in tens of milliseconds. (Older versions do not know the property: this is then a no-op and
     * kafka_consumer_read wakes the fetcher itself.) */
    conf_default(conf, props, "fetch.queue.backoff.ms", "10");
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof err);
    conf_default(conf, props, "statistics.interval.ms", KSTATS_INTERVAL_MS);
    rd_kafka_conf_set_stats_cb(conf, consumer_stats);
    rd_kafka_conf_set_opaque(conf, kc);
    rd_kafka_conf_set_error_cb(conf, consumer_error);
    rd_kafka_conf_set_log_cb(conf, client_log);
    rd_kafka_conf_set_rebalance_cb(conf, consumer_rebalance);
    conf_log(conf, "consumer", kc->name);
    kc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!kc->rk) {
        snprintf(errstr, errstr_size, "cannot create the Kafka consumer: %s", err);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_poll_set_consumer(kc->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(kc->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(errstr, errstr_size, "cannot subscribe to '%s': %s", topic, rd_kafka_err2str(e));
        goto fail;
    }
    *out = kc;
    return 0;
fail:
    kafka_consumer_free(kc);
    return -1;
}

static void consumer_release(kafka_consumer_t *kc)
{
    for (size_t i = 0; i < kc->nmsgs; i++)
        rd_kafka_message_destroy(kc->msgs[i]);
    kc->nmsgs = 0;
}

/* A partition has records past what was handed to the sink (by the high watermark of the last
 * fetch response, cached: no request). Its index, or -1. */
static int kafka_lagging(kafka_consumer_t *kc)
{
    if (kc->paused)
        return -1;
    for (size_t i = 0; i < kc->nparts; i++) {
        int64_t lo, hi;
        if (kc->parts[i].next >= 0 &&
            rd_kafka_get_watermark_offsets(kc->rk, kc->topic, kc->parts[i].partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi > kc->parts[i].next)
            return (int)i;
    }
    return -1;
}

/* librdkafka before 2.2 takes a partition off its fetch list when the prefetch queue is over
 * queued.max.messages.kbytes, and its broker thread looks again only when something wakes it (a
 * request to send, a response) or after a second (rd_kafka_broker_consumer_serve: the fetch
 * decision waits for "ops, state change, IO, or this timeout"). Draining the queue wakes nothing:
 * the sink found it empty, with records waiting on the broker, and idled up to a second. A
 * request to the partition's leader wakes its broker thread, which then fetches again: the
 * cheapest one is ListOffsets (the watermarks). */
static void kafka_wake_fetcher(kafka_consumer_t *kc, int i)
{
    int64_t lo, hi;
    rd_kafka_query_watermark_offsets(kc->rk, kc->topic, kc->parts[i].partition, &lo, &hi,
                                     KAFKA_WAKE_TIMEOUT_MS);
}

/* Up to `max` messages; waits up to `wait_ms` for the first. The views point into messages held
 * until the next read or the close. Headers are not in the views: give them to records with
 * kafka_consumer_headers. */
static size_t kafka_consumer_read(kafka_consumer_t *kc, topic_view_t *views, size_t max,
                                  int wait_ms)
{
    consumer_release(kc);
    if (kc->cap < max) {
        rd_kafka_message_t **n = realloc(kc->msgs, max * sizeof *n);
        if (!n)
            return 0;
        kc->msgs = n;
        kc->cap = max;
    }
    int wait = wait_ms;
    /* With records waiting on the broker, an empty queue means a fetch in flight or a stalled
     * fetcher: wait in short slices and wake the fetcher after each (not when idle: no lag). */
    int lagging = kafka_lagging(kc);
    while (kc->nmsgs < max) {
        int slice = lagging >= 0 && wait > KAFKA_WAKE_AFTER_MS ? KAFKA_WAKE_AFTER_MS : wait;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(kc->rk, slice);
        if (!m && slice < wait) {
            wait -= slice;
            kafka_wake_fetcher(kc, lagging);
            continue;
        }
        if (!m)
            break;
        lagging = -1;
        wait = 0;
        if (!m->err)
            atomic_store(&kc->down_since, 0);
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                klog_limited(&kc->lim, kc->name, "consuming '%s': %s", kc->topic,
                             rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (kc->nmsgs)
                break;
            continue;
        }
        topic_view_t *v = &views[kc->nmsgs];
        memset(v, 0, sizeof *v);
        v->offset = m->offset;
        v->partition = m->partition;
        rd_kafka_timestamp_type_t tt;
        v->timestamp = rd_kafka_message_timestamp(m, &tt);
        v->key = m->key;
        v->key_len = (uint32_t)m->key_len;
        v->key_null = m->key == NULL;
        v->value = m->payload;
        v->value_len = (uint32_t)m->len;
        v->value_null = m->payload == NULL;
        kc->msgs[kc->nmsgs++] = m;
    }
    return kc->nmsgs;
}

/* Give `r` the headers of message i of the last read: lazily, copied by kafka_load_headers (the
 * codec's load_headers) when something looks at them, while the message is held. */
static void kafka_consumer_headers(kafka_consumer_t *kc, size_t i, sluice_record_t *r)
{
    if (i < kc->nmsgs)
        r->headers_src = kc->msgs[i];
}

static void kafka_load_headers(const void *src, sluice_record_t *r)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(src, &h) != 0 || !h)
        return;
    const char *name;
    const void *val;
    size_t len;
    for (size_t k = 0; rd_kafka_header_get_all(h, k, &name, &val, &len) == 0; k++)
        record_add_header_n(r, name, strlen(name), val ? val : "", val ? len : 0);
}

/* A short state for the progress line: "" when fine, else "kafka unreachable 12s". */
static void kafka_consumer_state(kafka_consumer_t *kc, char *out, size_t size)
{
    long long since = atomic_load(&kc->down_since);
    if (since)
        snprintf(out, size, "kafka unreachable %llds", (long long)(kmono_ms() - since) / 1000);
    else
        snprintf(out, size, "%s", "");
}

/* The messages of the last read were handed to the sink: their offsets may be committed after
 * the next successful flush. */
static void kafka_consumer_done(kafka_consumer_t *kc)
{
    /* A partition's messages come in offset order: its last one in the batch is its highest.
     * From the end, stop once every partition was seen (one partition: one message, not the
     * batch's thousands of message headers read again). */
    kc->done_gen++;
    size_t seen = 0;
    for (size_t i = kc->nmsgs; i-- > 0 && seen < kc->nparts;) {
        struct kpart *p = kpart_get(kc, kc->msgs[i]->partition);
        if (!p || p->done_gen == kc->done_gen)
            continue;
        p->done_gen = kc->done_gen;
        seen++;
        if (kc->msgs[i]->offset + 1 > p->next)
            p->next = kc->msgs[i]->offset + 1;
    }
}

/* Commit the offsets of everything marked done (synchronously). 0 on success. */
static int kafka_consumer_commit(kafka_consumer_t *kc, char *errstr, size_t errstr_size)
{
    return commit_dirty(kc, errstr, errstr_size);
}

/* Precommit (ABI 1.2): the partitions with records handed to the sink and not committed yet, with
 * the offset after the last of them; at most `max` (kafka_consumer_nparts is enough). */
static size_t kafka_consumer_pending(kafka_consumer_t *kc, struct sluice_offset *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < kc->nparts && n < max; i++)
        if (kc->parts[i].next >= 0 && kc->parts[i].next > kc->parts[i].committed)
            out[n++] = (struct sluice_offset){.topic = kc->topic,
                                              .partition = kc->parts[i].partition,
                                              .offset = kc->parts[i].next};
    return n;
}

static size_t kafka_consumer_nparts(const kafka_consumer_t *kc)
{
    return kc->nparts;
}

/* Commit the given offsets (each capped at what the sink was given; a partition not listed or
 * listed at or below its last commit is left alone). 0 on success. */
static int kafka_consumer_commit_offsets(kafka_consumer_t *kc, const struct sluice_offset *offsets,
                                         size_t n, char *errstr, size_t errstr_size)
{
    int64_t *upto = malloc((kc->nparts + 1) * sizeof *upto);
    if (!upto) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < kc->nparts; i++)
        upto[i] = -1;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < kc->nparts; i++)
            if (kc->parts[i].partition == offsets[k].partition)
                /* never above what the sink was given */
                upto[i] =
                    offsets[k].offset < kc->parts[i].next ? offsets[k].offset : kc->parts[i].next;
    int rc = commit_upto(kc, upto, errstr, errstr_size);
    free(upto);
    return rc;
}

/* Stop fetching (pause != 0) from the assigned partitions, those assigned later too, or go on. */
static void kafka_consumer_pause(kafka_consumer_t *kc, int pause)
{
    kc->paused = pause;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(kc->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (pause)
        rd_kafka_pause_partitions(kc->rk, parts);
    else
        rd_kafka_resume_partitions(kc->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Leave the group (after a final commit, or without one when the sink failed). */
static void kafka_consumer_close(kafka_consumer_t *kc)
{
    if (!kc || !kc->rk || kc->closed)
        return;
    consumer_release(kc);
    /* Leaving the group revokes the partitions: the callback must not flush again. */
    kc->on_revoke = NULL;
    rd_kafka_consumer_close(kc->rk);
    kc->closed = 1;
}

static void kafka_consumer_free(kafka_consumer_t *kc)
{
    if (!kc)
        return;
    kafka_consumer_close(kc);
    if (kc->rk)
        rd_kafka_destroy(kc->rk);
    kafka_stats_forget(kc);
    free(kc->msgs);
    free(kc->parts);
    free(kc->name);
    free(kc->topic);
    pthread_mutex_destroy(&kc->lim.mu);
    free(kc);
}

/* -- topics ----------------------------------------------------------------------------------- */

/* A short-lived client for metadata and admin requests. */
static rd_kafka_t *admin_client(const kafka_props_t *props, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = conf_from(props, "producer", NULL, errstr, errstr_size);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_log_cb(conf, client_log);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        snprintf(errstr, errstr_size, "cannot create a Kafka client: %s", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* 1: exists, 0: missing, -1: the cluster did not answer. */
static int topic_exists(rd_kafka_t *rk, const char *topic, int *partitions, int timeout_ms,
                        char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "%s", rd_kafka_err2str(err));
        return -1;
    }
    int found = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err) {
            found = 1;
            if (partitions)
                *partitions = md->topics[i].partition_cnt;
        }
    rd_kafka_metadata_destroy(md);
    return found;
}

static int create_topic(rd_kafka_t *rk, const kafka_topic_spec_t *s, char *errstr,
                        size_t errstr_size)
{
    char err[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(s->name, s->partitions, s->replication_factor, err, sizeof err);
    if (!nt) {
        snprintf(errstr, errstr_size, "cannot create topic '%s': %s", s->name, err);
        return -1;
    }
    for (size_t i = 0; s->configs && i < s->configs->n; i++)
        rd_kafka_NewTopic_set_config(nt, s->configs->keys[i], s->configs->values[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 30000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 35000);
    int rc = -1;
    if (!ev) {
        snprintf(errstr, errstr_size, "creating topic '%s': no answer within 35 s", s->name);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "creating topic '%s': %s", s->name,
                 rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(res[0]) : 0;
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            snprintf(errstr, errstr_size, "creating topic '%s': %s", s->name,
                     rd_kafka_topic_result_error_string(res[0]));
        else
            rc = 0;
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Make sure the topics exist (creating those allowed to be created). Waits for the cluster while it
 * is unreachable, with backoff, until `*stop` becomes non-zero. Returns 0, -1 with a message, or
 * -2 when stopped while waiting. */
/* Check (and create) the topics, through `client` when given (the pipeline's producer: one
 * connection, no client made and destroyed before the first record), else a client of its own. */
static int kafka_ensure_topics(const kafka_props_t *props, rd_kafka_t *client,
                               const kafka_topic_spec_t *specs, size_t n, const atomic_int *stop,
                               char *errstr, size_t errstr_size)
{
    if (n == 0)
        return 0;
    rd_kafka_t *rk = client ? client : admin_client(props, errstr, errstr_size);
    if (!rk)
        return -1;
    backoff_t bo;
    backoff_init(&bo, 500, 10000, (uint64_t)kmono_ms());
    int rc = 0;
    const char *bootstrap = kafka_props_get(props, "bootstrap.servers");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const kafka_topic_spec_t *s = &specs[i];
        for (;;) {
            char err[512];
            /* A short answer time: a cluster that is away is reported (and a stop honoured)
             * within seconds; the retries give a slow one all the time it needs. */
            int ex = topic_exists(rk, s->name, NULL, 2000, err, sizeof err);
            if (ex == 1)
                break;
            if (ex == 0 && !s->create) {
                snprintf(errstr, errstr_size,
                         "%s: topic '%s' does not exist on the Kafka cluster (%s) and "
                         "topic.creation.enable is false: create it, or set "
                         "topic.creation.enable: true",
                         s->why, s->name, bootstrap ? bootstrap : "?");
                rc = -1;
                break;
            }
            if (ex == 0) {
                if (create_topic(rk, s, err, sizeof err) == 0) {
                    log_info(NULL, "created Kafka topic '%s' (%s)", s->name, s->why);
                    break;
                }
                if (strstr(err, "no answer") == NULL) {
                    snprintf(errstr, errstr_size, "%s: %s", s->why, err);
                    rc = -1;
                    break;
                }
            }
            if (stop && atomic_load(stop)) {
                snprintf(errstr, errstr_size, "stopped while waiting for Kafka (%s): %s",
                         bootstrap ? bootstrap : "?", err);
                rc = -2;
                break;
            }
            int64_t d = backoff_next(&bo);
            log_warn(NULL, "waiting for Kafka at %s: %s; retrying in %lld ms",
                     bootstrap ? bootstrap : "?", err, (long long)d);
            for (int64_t t = 0; t < d && !(stop && atomic_load(stop)); t += 50)
                ksleep_ms(50);
        }
    }
    if (!client)
        rd_kafka_destroy(rk);
    return rc;
}

/* -- compacted key/value topic (source positions) ------------------------------------------------
 */

int kafka_read_compacted(const kafka_props_t *props, const char *topic, int replication_factor,
                         void (*cb)(void *opaque, const void *key, size_t klen, const void *value,
                                    size_t vlen),
                         void *opaque, const atomic_int *stop, char *errstr, size_t errstr_size)
{
    kafka_props_t compact = {0};
    kafka_props_add(&compact, "cleanup.policy", "compact");
    kafka_topic_spec_t spec = {.name = topic,
                               .partitions = 1,
                               .replication_factor = replication_factor,
                               .configs = &compact,
                               .create = 1,
                               .why = "offset.storage.topic"};
    int rc = kafka_ensure_topics(props, NULL, &spec, 1, stop, errstr, errstr_size);
    kafka_props_free(&compact);
    if (rc != 0)
        return rc;
    rd_kafka_conf_t *conf = conf_from(props, "consumer", NULL, errstr, errstr_size);
    if (!conf)
        return -1;
    char err[512];
    rd_kafka_conf_set(conf, "group.id", "sluice-offsets-reader", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set_log_cb(conf, client_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        snprintf(errstr, errstr_size, "cannot create a Kafka consumer: %s", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rc = -1;
    int nparts = 0, ex = 0;
    snprintf(err, sizeof err, "not in the cluster's metadata");
    /* A topic just created (above, or by another worker) may take a moment to show. */
    for (int64_t until = kmono_ms() + 10000; kmono_ms() < until; ksleep_ms(100))
        if ((ex = topic_exists(rk, topic, &nparts, 5000, err, sizeof err)) == 1 && nparts > 0)
            break;
    if (ex != 1 || nparts <= 0) {
        snprintf(errstr, errstr_size, "offset.storage.topic '%s': cannot read its metadata: %s",
                 topic, err);
        goto out;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    int *open_parts = calloc((size_t)nparts, sizeof *open_parts);
    /* Each partition's end when the read began: a partition is read once its record before that
     * end came (other workers may write on; the EOF event alone can be late for a partition that
     * keeps receiving records). */
    int64_t *ends = calloc((size_t)nparts, sizeof *ends);
    int remaining = 0;
    for (int p = 0; open_parts && ends && p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        ends[p] = hi;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
            open_parts[p] = 1;
            remaining++;
        }
    }
    if (remaining)
        rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t deadline = kmono_ms() + 60000;
    while (remaining > 0 && kmono_ms() < deadline && !(stop && atomic_load(stop))) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < nparts && open_parts[m->partition]) {
                open_parts[m->partition] = 0;
                remaining--;
            }
        } else if (!m->err && m->key) {
            cb(opaque, m->key, m->key_len, m->payload, m->payload ? m->len : 0);
        }
        if (!m->err && m->partition >= 0 && m->partition < nparts && open_parts[m->partition] &&
            m->offset + 1 >= ends[m->partition]) {
            open_parts[m->partition] = 0;
            remaining--;
        }
        rd_kafka_message_destroy(m);
    }
    free(open_parts);
    free(ends);
    if (remaining > 0)
        snprintf(errstr, errstr_size, "offset.storage.topic '%s': could not read it to its end",
                 topic);
    else
        rc = 0;
out:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* -- distributed mode (cluster.c) ------------------------------------------------------------ */

int kafka_tasks_topic(const kafka_props_t *props, const char *topic, int partitions,
                      const atomic_int *stop, char *errstr, size_t errstr_size)
{
    int nparts = 0;
    int rc = kafka_storage_topic(props, topic, partitions, -1, "tasks topic", stop, &nparts, errstr,
                                 errstr_size);
    if (rc == 0 && nparts != partitions) {
        /* Slots are partitions: two counts would put one task in two slots. */
        snprintf(errstr, errstr_size,
                 "tasks topic '%s' has %d partitions but task.slots is %d: set task.slots: %d "
                 "(the same on every worker of the group), or delete the topic while no worker "
                 "runs (it holds no data)",
                 topic, nparts, partitions, nparts);
        rc = -1;
    }
    return rc;
}

int kafka_storage_topic(const kafka_props_t *props, const char *topic, int partitions,
                        int replication_factor, const char *why, const atomic_int *stop,
                        int *nparts_out, char *errstr, size_t errstr_size)
{
    kafka_props_t compact = {0};
    kafka_props_add(&compact, "cleanup.policy", "compact");
    kafka_topic_spec_t spec = {.name = topic,
                               .partitions = partitions,
                               .replication_factor = replication_factor,
                               .configs = &compact,
                               .create = 1,
                               .why = why};
    int rc = kafka_ensure_topics(props, NULL, &spec, 1, stop, errstr, errstr_size);
    kafka_props_free(&compact);
    if (rc != 0)
        return rc;
    rd_kafka_t *rk = admin_client(props, errstr, errstr_size);
    if (!rk)
        return -1;
    char err[512] = "not in the cluster's metadata";
    int nparts = 0, ex = 0;
    /* A topic just created may take a moment to show in the metadata. */
    for (int64_t until = kmono_ms() + 10000; kmono_ms() < until; ksleep_ms(100))
        if ((ex = topic_exists(rk, topic, &nparts, 5000, err, sizeof err)) == 1 && nparts > 0)
            break;
    if (ex != 1 || nparts <= 0) {
        snprintf(errstr, errstr_size, "%s '%s': cannot read its metadata: %s", why, topic, err);
        rc = -1;
    }
    rd_kafka_destroy(rk);
    *nparts_out = nparts;
    return rc;
}

struct rd_kafka_conf_s *kafka_consumer_conf(const kafka_props_t *props, char *errstr,
                                            size_t errstr_size)
{
    rd_kafka_conf_t *conf = conf_from(props, "consumer", NULL, errstr, errstr_size);
    if (conf)
        rd_kafka_conf_set_log_cb(conf, client_log);
    return conf;
}

struct kafka_kv_writer {
    rd_kafka_t *rk;
    char *topic;
    const char *key; /* the worker key naming the topic, for errors (kafka_kv_writer_key) */
    atomic_long pending;
    atomic_int failed;
    char err[256];
};

static void kv_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_kv_writer_t *w = opaque;
    if (m->err) {
        snprintf(w->err, sizeof w->err, "%s", rd_kafka_err2str(m->err));
        atomic_store(&w->failed, 1);
    }
    atomic_fetch_sub(&w->pending, 1);
}

int kafka_kv_writer_new(kafka_kv_writer_t **out, const kafka_props_t *props, const char *topic,
                        char *errstr, size_t errstr_size)
{
    *out = NULL;
    kafka_kv_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    rd_kafka_conf_t *conf = conf_from(props, "producer", NULL, errstr, errstr_size);
    if (!conf) {
        free(w);
        return -1;
    }
    char err[512];
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof err);
    rd_kafka_conf_set_opaque(conf, w);
    rd_kafka_conf_set_dr_msg_cb(conf, kv_dr);
    rd_kafka_conf_set_log_cb(conf, client_log);
    w->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    w->topic = strdup(topic);
    w->key = "offset.storage.topic";
    if (!w->rk || !w->topic) {
        snprintf(errstr, errstr_size, "cannot create a Kafka producer: %s", err);
        if (!w->rk)
            rd_kafka_conf_destroy(conf);
        kafka_kv_writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int kafka_kv_write(kafka_kv_writer_t *w, const void *key, size_t klen, const void *value,
                   size_t vlen, char *errstr, size_t errstr_size)
{
    atomic_fetch_add(&w->pending, 1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        w->rk, RD_KAFKA_V_TOPIC(w->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY((void *)key, klen), RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_END);
    if (err) {
        atomic_fetch_sub(&w->pending, 1);
        snprintf(errstr, errstr_size, "%s '%s': %s", w->key, w->topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int kafka_kv_sync(kafka_kv_writer_t *w, int timeout_ms, char *errstr, size_t errstr_size)
{
    int64_t deadline = kmono_ms() + timeout_ms;
    while (atomic_load(&w->pending) > 0 && kmono_ms() < deadline)
        rd_kafka_poll(w->rk, 50);
    if (atomic_load(&w->pending) > 0) {
        int offsets = strcmp(w->key, "offset.storage.topic") == 0;
        snprintf(errstr, errstr_size, "%s '%s': %s not acknowledged within %d ms%s", w->key,
                 w->topic, offsets ? "positions" : "records", timeout_ms,
                 offsets ? " (kept, written again at the next flush)" : "");
        return -1;
    }
    if (atomic_exchange(&w->failed, 0)) {
        snprintf(errstr, errstr_size, "%s '%s': %s", w->key, w->topic, w->err);
        return -1;
    }
    return 0;
}

void kafka_kv_writer_key(kafka_kv_writer_t *w, const char *key)
{
    w->key = key;
}

void kafka_kv_writer_free(kafka_kv_writer_t *w)
{
    if (!w)
        return;
    if (w->rk) {
        rd_kafka_flush(w->rk, 5000);
        rd_kafka_destroy(w->rk);
    }
    free(w->topic);
    free(w);
}

/* -- the Kafka transport ------------------------------------------------------------------------
 * transport.h's table over the producer and consumers above: a topic is a name (the cluster holds
 * it), a writer is a pipeline's producer with the topics it knows exist, a reader is a consumer.
 */

struct kafka_transport {
    transport_t base;
    kafka_props_t props; /* the kafka: block (its strings borrowed from the run's configuration) */
    int props_ok;        /* librdkafka accepts it */
    pthread_mutex_t mu;  /* topics are named while running (records routed elsewhere) */
    transport_topic_t **topics;
    size_t ntopics;
    char *cluster_id; /* kafka_transport_cluster_id's answer, once known (under mu) */
};

struct kafka_writer {
    transport_writer_t base;
    struct kafka_transport *t;
    char *id;                    /* the pipeline's */
    kafka_producer_t *producer;  /* NULL when the pipeline never writes */
    kafka_props_t props;         /* the kafka: block with producer.override.* */
    kafka_props_t topic_configs; /* topic.creation.default.<config> */
    kafka_topic_spec_t tspec;    /* how topics this pipeline produces to are created */
    transport_topic_t **known;   /* topics known to exist (source thread) */
    size_t nknown;
};

/* Kafka carries the run when the kafka: block is in force (an empty bootstrap.servers switches it
 * off, and says so). */
static int ktr_wanted(const sluice_config_t *g)
{
    if (g && config_count(g, "kafka") > 0 && !config_block_on(g, "kafka", "bootstrap.servers"))
        log_info(NULL, "kafka: bootstrap.servers is empty: running in-process (no Kafka)");
    return config_block_on(g, "kafka", "bootstrap.servers");
}

/* The kafka: block is read and checked here (for lint as for run). */
static transport_t *ktr_open(const sluice_config_t *g, config_errors_t *errs)
{
    struct kafka_transport *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base.ops = &transport_kafka;
    pthread_mutex_init(&t->mu, NULL);
    char err[600];
    kafka_props_from_map(&t->props, g, "kafka");
    const char *bad = NULL;
    if (kafka_props_check(&t->props, "producer", &bad, err, sizeof err) != 0 ||
        kafka_props_check(&t->props, "consumer", &bad, err, sizeof err) != 0)
        config_errors_add(errs, config_map_mark(g, "kafka", bad ? bad : ""), "kafka: %s", err);
    else
        t->props_ok = 1; /* the overrides are checked on top of a valid block only */
    if (kafka_props_get(&t->props, "group.id"))
        config_errors_add(errs, config_mark(g, "kafka"),
                          "kafka: group.id would put every sink in one consumer group; each sink "
                          "is its own group sluice.<pipeline>.<sink> (set "
                          "consumer.override.group.id on a sink to choose its name)");
    return &t->base;
}

const kafka_props_t *kafka_transport_props(const transport_t *t)
{
    return t && t->ops == &transport_kafka ? &((const struct kafka_transport *)t)->props : NULL;
}

/* Check the kafka: block with the `key` overrides of `cfg` (those of `what`: "pipeline 'x'") for
 * `role`; the error names the override at fault. */
static int ktr_check_overrides(struct kafka_transport *t, const sluice_config_t *cfg,
                               const char *key, const char *role, const config_mark_t *mark,
                               const char *what, config_errors_t *errs)
{
    kafka_props_t kp = {0};
    char err[600], entry[300];
    const char *bad = NULL;
    for (size_t k = 0; k < t->props.n; k++)
        kafka_props_add(&kp, t->props.keys[k], t->props.values[k]);
    kafka_props_from_map(&kp, cfg, key);
    int rc = t->props_ok ? kafka_props_check(&kp, role, &bad, err, sizeof err) : 0;
    snprintf(entry, sizeof entry, "%s", bad ? bad : "");
    kafka_props_free(&kp);
    if (rc == 0)
        return 0;
    const config_mark_t *m = config_map_mark(cfg, key, entry);
    config_errors_add(errs, m ? m : mark, "%s: %s", what, err);
    return -1;
}

static int ktr_check_pipeline(transport_t *base, const config_pipeline_t *cp, config_errors_t *errs)
{
    char what[300];
    snprintf(what, sizeof what, "pipeline '%s'", cp->id);
    return cp->core ? ktr_check_overrides((struct kafka_transport *)base, cp->core,
                                          "producer.override.*", "producer", &cp->mark, what, errs)
                    : 0;
}

static int ktr_check_sink(transport_t *base, const config_pipeline_t *cp,
                          const config_instance_t *ci, config_errors_t *errs)
{
    char what[600];
    snprintf(what, sizeof what, "sink '%s' of pipeline '%s'", ci->id, cp->id);
    return ci->core ? ktr_check_overrides((struct kafka_transport *)base, ci->core,
                                          "consumer.override.*", "consumer", &ci->mark, what, errs)
                    : 0;
}

static void ktr_describe(transport_t *base, char *out, size_t size)
{
    struct kafka_transport *t = (struct kafka_transport *)base;
    const char *bs = kafka_props_get(&t->props, "bootstrap.servers");
    snprintf(out, size, "against Kafka at %s", bs ? bs : "?");
}

static transport_topic_t *ktr_topic(transport_t *base, const char *name, size_t max_bytes)
{
    (void)max_bytes; /* the cluster holds the records */
    struct kafka_transport *t = (struct kafka_transport *)base;
    transport_topic_t *tp = NULL;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->ntopics && !tp; i++)
        if (strcmp(t->topics[i]->name, name) == 0)
            tp = t->topics[i];
    transport_topic_t **n = tp ? NULL : realloc(t->topics, (t->ntopics + 1) * sizeof *n);
    if (n) {
        t->topics = n;
        char *copy = strdup(name);
        tp = copy ? calloc(1, sizeof *tp) : NULL;
        if (tp) {
            tp->name = copy;
            t->topics[t->ntopics++] = tp;
        } else {
            free(copy);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return tp;
}

/* Topics never end and are not numbered here: nothing to count. */
static void ktr_writer_add(transport_topic_t *tp)
{
    (void)tp;
}

static int ktr_writers(transport_topic_t *tp)
{
    (void)tp;
    return 0;
}

static size_t ktr_readers(transport_topic_t *tp)
{
    (void)tp;
    return 0;
}

static void ktr_set_next(transport_topic_t *tp, int64_t next)
{
    (void)tp, (void)next;
}

static int ktr_known_add(struct kafka_writer *w, transport_topic_t *tp)
{
    transport_topic_t **n = realloc(w->known, (w->nknown + 1) * sizeof *n);
    if (!n)
        return -1;
    w->known = n;
    n[w->nknown++] = tp;
    return 0;
}

static void ktr_writer_free(transport_writer_t *base)
{
    struct kafka_writer *w = (struct kafka_writer *)base;
    if (!w)
        return;
    kafka_producer_free(w->producer);
    kafka_props_free(&w->props);
    kafka_props_free(&w->topic_configs);
    free(w->known);
    free(w->id);
    free(w);
}

/* The pipeline's topics exist (or are created) before anything runs; a producer if it writes. */
static int ktr_writer_new(transport_t *base, const struct transport_writer_spec *spec,
                          transport_writer_t **out, const atomic_int *stop, char *errstr,
                          size_t errstr_size)
{
    struct kafka_transport *t = (struct kafka_transport *)base;
    struct kafka_writer *w = calloc(1, sizeof *w);
    kafka_topic_spec_t *specs = calloc(spec->ntopics + 1, sizeof *specs);
    int rc = -1;
    if (!w || !specs || !(w->id = strdup(spec->pipeline))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    w->base.ops = &transport_kafka;
    w->t = t;
    for (size_t k = 0; k < t->props.n; k++)
        kafka_props_add(&w->props, t->props.keys[k], t->props.values[k]);
    kafka_props_from_map(&w->props, spec->core, "producer.override.*");
    kafka_props_from_map(&w->topic_configs, spec->core, "topic.creation.default.*");
    w->tspec.partitions = (int)config_int(spec->core, "topic.creation.default.partitions");
    w->tspec.replication_factor =
        (int)config_int(spec->core, "topic.creation.default.replication.factor");
    w->tspec.configs = &w->topic_configs;
    w->tspec.create = config_bool(spec->core, "topic.creation.enable");
    for (size_t k = 0; k < spec->ntopics; k++) {
        specs[k] = w->tspec;
        specs[k].name = spec->topics[k]->name;
        specs[k].why = spec->whys[k];
    }
    /* The producer first: its connection and its producer id (idempotence) are set up while the
     * topics are checked through it. */
    if (spec->writes && kafka_producer_new(&w->producer, &w->props, spec->pipeline,
                                           spec->buffer_bytes, errstr, errstr_size) != 0)
        goto out;
    rc = kafka_ensure_topics(&w->props, w->producer ? w->producer->rk : NULL, specs, spec->ntopics,
                             stop, errstr, errstr_size);
    if (rc != 0)
        goto out;
    rc = -1;
    for (size_t k = 0; k < spec->ntopics; k++)
        if (ktr_known_add(w, spec->topics[k]) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    if (w->producer && spec->main)
        kafka_producer_prepare(w->producer, spec->main->name);
    rc = 0;
out:
    free(specs);
    if (rc != 0) {
        ktr_writer_free(&w->base);
        w = NULL;
    }
    *out = w ? &w->base : NULL;
    return rc;
}

static int ktr_reader_new(transport_t *base, transport_topic_t *tp,
                          const struct transport_reader_spec *spec, transport_reader_t **out,
                          char *errstr, size_t errstr_size)
{
    struct kafka_transport *t = (struct kafka_transport *)base;
    kafka_props_t kp = {0};
    char group[512], name[512];
    for (size_t k = 0; k < t->props.n; k++)
        kafka_props_add(&kp, t->props.keys[k], t->props.values[k]);
    kafka_props_from_map(&kp, spec->sink_core, "consumer.override.*");
    snprintf(group, sizeof group, "sluice.%s.%s", spec->pipeline, spec->sink);
    snprintf(name, sizeof name, "%s/%s#%d", spec->pipeline, spec->sink, spec->task);
    kafka_consumer_t *kc = NULL;
    int rc = kafka_consumer_new(&kc, &kp, group, tp->name, name, spec->buffer_bytes,
                                spec->on_revoke, spec->opaque, errstr, errstr_size);
    kafka_props_free(&kp);
    *out = kc ? &kc->base : NULL;
    return rc;
}

static void ktr_progress(transport_topic_t *tp, transport_writer_t *base,
                         transport_reader_t *const *rds, size_t nrds, char *out, size_t size)
{
    (void)tp;
    struct kafka_writer *w = (struct kafka_writer *)base;
    char state[160] = "";
    size_t n = strlen(out);
    if (w && w->producer) {
        kafka_producer_state(w->producer, state, sizeof state);
        if (n < size)
            snprintf(out + n, size - n, " | kafka in flight %ld%s%s",
                     kafka_producer_inflight(w->producer), state[0] ? " | " : "", state);
        return;
    }
    for (size_t s = 0; s < nrds && !state[0]; s++)
        if (rds[s])
            kafka_consumer_state((kafka_consumer_t *)rds[s], state, sizeof state);
    if (n < size)
        snprintf(out + n, size - n, "%s%s", state[0] ? " | " : "", state);
}

static int64_t ktr_buffered(transport_topic_t *tp, transport_writer_t *base)
{
    (void)tp;
    struct kafka_writer *w = (struct kafka_writer *)base;
    return w && w->producer ? kstats_queue_bytes(w->producer) : -1;
}

static void ktr_reader_free(transport_reader_t *r)
{
    kafka_consumer_free((kafka_consumer_t *)r);
}

static void ktr_free(transport_t *base)
{
    struct kafka_transport *t = (struct kafka_transport *)base;
    if (!t)
        return;
    for (size_t i = 0; i < t->ntopics; i++) {
        free((char *)t->topics[i]->name);
        free(t->topics[i]);
    }
    free(t->topics);
    free(t->cluster_id);
    kafka_props_free(&t->props);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* A topic a record was routed to exists (created like the pipeline's). */
static transport_topic_t *ktr_route(transport_writer_t *base, const char *name,
                                    const atomic_int *abort)
{
    struct kafka_writer *w = (struct kafka_writer *)base;
    for (size_t i = 0; i < w->nknown; i++)
        if (strcmp(w->known[i]->name, name) == 0)
            return w->known[i];
    kafka_topic_spec_t spec = w->tspec;
    char why[300], err[1024];
    snprintf(why, sizeof why, "pipeline '%s' (a record routed to '%s')", w->id, name);
    spec.name = name;
    spec.why = why;
    if (kafka_ensure_topics(&w->props, w->producer ? w->producer->rk : NULL, &spec, 1, abort, err,
                            sizeof err) != 0) {
        log_error(w->id, "%s", err);
        return NULL;
    }
    transport_topic_t *tp = ktr_topic(&w->t->base, name, 0);
    if (!tp || ktr_known_add(w, tp) != 0)
        return NULL;
    return tp;
}

static int ktr_append(transport_writer_t *base, transport_topic_t *tp, topic_stage_t *stage,
                      tracker_t *tr, const atomic_int *abort)
{
    struct kafka_writer *w = (struct kafka_writer *)base;
    int rc = kafka_produce_stage(w->producer, tp->name, stage, tr, abort);
    stage->buf.len = 0;
    stage->count = 0;
    return rc;
}

static int64_t ktr_next_offset(transport_topic_t *tp)
{
    (void)tp; /* the brokers number the records */
    return 0;
}

static void ktr_writer_done(transport_writer_t *w, transport_topic_t *tp)
{
    (void)w, (void)tp;
}

static long ktr_inflight(transport_writer_t *base)
{
    struct kafka_writer *w = (struct kafka_writer *)base;
    return w->producer ? kafka_producer_inflight(w->producer) : 0;
}

static long ktr_purge(transport_writer_t *base, int timeout_ms)
{
    struct kafka_writer *w = (struct kafka_writer *)base;
    return w->producer ? kafka_producer_purge(w->producer, timeout_ms) : 0;
}

static size_t ktr_read(transport_reader_t *r, topic_view_t *views, size_t max, int wait_ms)
{
    return kafka_consumer_read((kafka_consumer_t *)r, views, max, wait_ms);
}

static void ktr_headers(transport_reader_t *r, size_t i, const topic_view_t *v,
                        sluice_record_t *rec)
{
    (void)v;
    kafka_consumer_headers((kafka_consumer_t *)r, i, rec);
}

static void ktr_taken(transport_reader_t *r)
{
    kafka_consumer_done((kafka_consumer_t *)r);
}

static int ktr_never(transport_reader_t *r)
{
    (void)r;
    return 0;
}

static void ktr_pause(transport_reader_t *r)
{
    kafka_consumer_pause((kafka_consumer_t *)r, 1);
}

static void ktr_resume(transport_reader_t *r)
{
    kafka_consumer_pause((kafka_consumer_t *)r, 0);
}

static int ktr_commit(transport_reader_t *r, int64_t upto, char *errstr, size_t errstr_size)
{
    (void)upto; /* what was taken, per partition */
    return kafka_consumer_commit((kafka_consumer_t *)r, errstr, errstr_size);
}

static size_t ktr_nparts(transport_reader_t *r)
{
    return kafka_consumer_nparts((kafka_consumer_t *)r);
}

static size_t ktr_pending(transport_reader_t *r, int64_t upto, struct sluice_offset *out,
                          size_t max)
{
    (void)upto;
    return kafka_consumer_pending((kafka_consumer_t *)r, out, max);
}

static int ktr_commit_offsets(transport_reader_t *r, const struct sluice_offset *offsets, size_t n,
                              char *errstr, size_t errstr_size)
{
    return kafka_consumer_commit_offsets((kafka_consumer_t *)r, offsets, n, errstr, errstr_size);
}

static void ktr_close(transport_reader_t *r)
{
    kafka_consumer_close((kafka_consumer_t *)r);
}

static const struct transport_ops transport_kafka = {
    .name = "Kafka",
    .caps = TRANSPORT_ENDLESS | TRANSPORT_FOREIGN | TRANSPORT_SELF_ACKED | TRANSPORT_TASKS,
    .rank = 1, /* over the in-process fallback */
    .wanted = ktr_wanted,
    .load_headers = kafka_load_headers,
    .open = ktr_open,
    .check_pipeline = ktr_check_pipeline,
    .check_sink = ktr_check_sink,
    .describe = ktr_describe,
    .topic = ktr_topic,
    .writer_add = ktr_writer_add,
    .writers = ktr_writers,
    .readers = ktr_readers,
    .set_next = ktr_set_next,
    .writer_new = ktr_writer_new,
    .reader_new = ktr_reader_new,
    .progress = ktr_progress,
    .buffered = ktr_buffered,
    .writer_free = ktr_writer_free,
    .reader_free = ktr_reader_free,
    .free = ktr_free,
    .route = ktr_route,
    .append = ktr_append,
    .next_offset = ktr_next_offset,
    .writer_done = ktr_writer_done,
    .inflight = ktr_inflight,
    .purge = ktr_purge,
    .read = ktr_read,
    .headers = ktr_headers,
    .taken = ktr_taken,
    .drained = ktr_never,
    .pressure = ktr_never,
    .pause = ktr_pause,
    .resume = ktr_resume,
    .commit = ktr_commit,
    .nparts = ktr_nparts,
    .pending = ktr_pending,
    .commit_offsets = ktr_commit_offsets,
    .close = ktr_close,
};
TRANSPORT_REGISTER(transport_kafka);

/* -- sink consumer groups and the cluster id (worker_offsets.c: KIP-875, GET /) ----------------
 * Admin requests on a short-lived client made from the kafka: block, off every pipeline thread. */

int kafka_sink_group(const sluice_config_t *sink_core, const char *pipeline, const char *sink,
                     char *out, size_t size)
{
    size_t n = sink_core ? config_count(sink_core, "consumer.override.*") : 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(config_map_key(sink_core, "consumer.override.*", i), "group.id") == 0) {
            const char *g = config_item(sink_core, "consumer.override.*", i);
            return snprintf(out, size, "%s", g) < (int)size ? 0 : -1;
        }
    return snprintf(out, size, "sluice.%s.%s", pipeline, sink) < (int)size ? 0 : -1;
}

/* The admin client of `t` (the Kafka transport), or NULL with a message. */
static rd_kafka_t *ktr_admin(const transport_t *t, char *errstr, size_t errstr_size)
{
    const kafka_props_t *props = kafka_transport_props(t);
    if (!props) {
        snprintf(errstr, errstr_size, "not a Kafka run");
        return NULL;
    }
    return admin_client(props, errstr, errstr_size);
}

/* Run one admin request (`call` queued it on `q`) and wait for its event, or NULL on timeout. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int timeout_ms, const char *what,
                                    char *errstr, size_t errstr_size)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    if (!ev) {
        snprintf(errstr, errstr_size, "%s: no answer from Kafka within %d ms", what,
                 timeout_ms + 5000);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int timeout_ms)
{
    char err[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof err);
    return o;
}

/* The group's result: 0, or -1 with its error (and the first partition's). */
static int group_result(const rd_kafka_group_result_t *g, const char *what, char *errstr,
                        size_t errstr_size)
{
    const rd_kafka_error_t *e = rd_kafka_group_result_error(g);
    if (e) {
        snprintf(errstr, errstr_size, "%s: %s", what, rd_kafka_error_string(e));
        return -1;
    }
    const rd_kafka_topic_partition_list_t *l = rd_kafka_group_result_partitions(g);
    for (int i = 0; l && i < l->cnt; i++)
        if (l->elems[i].err) {
            snprintf(errstr, errstr_size, "%s: %s [%d]: %s", what, l->elems[i].topic,
                     (int)l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
            return -1;
        }
    return 0;
}

int kafka_group_offsets(const transport_t *t, const char *group, kafka_group_offset_t **out,
                        size_t *n, int timeout_ms, char *errstr, size_t errstr_size)
{
    *out = NULL;
    *n = 0;
    char what[600];
    snprintf(what, sizeof what, "consumer group '%s': listing its offsets", group);
    rd_kafka_t *rk = ktr_admin(t, errstr, errstr_size);
    if (!rk)
        return -1;
    int rc = -1;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = admin_wait(q, timeout_ms, what, errstr, errstr_size);
    if (!ev)
        goto out;
    size_t cnt = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
    const rd_kafka_error_t *ge = cnt ? rd_kafka_group_result_error(gr[0]) : NULL;
    if (!cnt || ge) {
        snprintf(errstr, errstr_size, "%s: %s", what, ge ? rd_kafka_error_string(ge) : "no result");
        goto done;
    }
    const rd_kafka_topic_partition_list_t *l = rd_kafka_group_result_partitions(gr[0]);
    kafka_group_offset_t *v = calloc(l && l->cnt ? (size_t)l->cnt : 1, sizeof *v);
    if (!v) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    size_t k = 0;
    for (int i = 0; l && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        if (p->err || p->offset < 0) /* nothing committed there */
            continue;
        v[k].topic = strdup(p->topic);
        v[k].partition = p->partition;
        v[k].offset = p->offset;
        if (!v[k].topic) {
            kafka_group_offsets_free(v, k);
            snprintf(errstr, errstr_size, "out of memory");
            goto done;
        }
        k++;
    }
    *out = v;
    *n = k;
    rc = 0;
done:
    rd_kafka_event_destroy(ev);
out:
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

void kafka_group_offsets_free(kafka_group_offset_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].topic);
    free(v);
}

/* Alter (offset >= 0) or delete (offset < 0) the entries of `v` of one kind. */
static int group_offsets_apply(rd_kafka_t *rk, const char *group, const kafka_group_offset_t *v,
                               size_t n, int del, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        if ((v[i].offset < 0) == del)
            rd_kafka_topic_partition_list_add(l, v[i].topic, v[i].partition)->offset =
                del ? RD_KAFKA_OFFSET_INVALID : v[i].offset;
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return 0;
    }
    char what[600];
    snprintf(what, sizeof what, "consumer group '%s': %s its offsets", group,
             del ? "deleting" : "altering");
    int rc = -1;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk,
                                               del ? RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS
                                                   : RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
                                               timeout_ms);
    if (del) {
        rd_kafka_DeleteConsumerGroupOffsets_t *req =
            rd_kafka_DeleteConsumerGroupOffsets_new(group, l);
        rd_kafka_DeleteConsumerGroupOffsets(rk, &req, 1, o, q);
        rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
    } else {
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(group, l);
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_event_t *ev = admin_wait(q, timeout_ms, what, errstr, errstr_size);
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_group_result_t **gr =
            del ? rd_kafka_DeleteConsumerGroupOffsets_result_groups(
                      rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &cnt)
                : rd_kafka_AlterConsumerGroupOffsets_result_groups(
                      rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
        if (!cnt)
            snprintf(errstr, errstr_size, "%s: no result", what);
        else
            rc = group_result(gr[0], what, errstr, errstr_size);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

int kafka_group_offsets_alter(const transport_t *t, const char *group,
                              const kafka_group_offset_t *v, size_t n, int timeout_ms, char *errstr,
                              size_t errstr_size)
{
    rd_kafka_t *rk = ktr_admin(t, errstr, errstr_size);
    if (!rk)
        return -1;
    int rc = group_offsets_apply(rk, group, v, n, 0, timeout_ms, errstr, errstr_size);
    if (rc == 0)
        rc = group_offsets_apply(rk, group, v, n, 1, timeout_ms, errstr, errstr_size);
    rd_kafka_destroy(rk);
    return rc;
}

int kafka_group_delete(const transport_t *t, const char *group, int timeout_ms, char *errstr,
                       size_t errstr_size)
{
    rd_kafka_t *rk = ktr_admin(t, errstr, errstr_size);
    if (!rk)
        return -1;
    char what[600];
    snprintf(what, sizeof what, "consumer group '%s': deleting it", group);
    int rc = -1;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, timeout_ms);
    rd_kafka_DeleteGroup_t *req = rd_kafka_DeleteGroup_new(group);
    rd_kafka_DeleteGroups(rk, &req, 1, o, q);
    rd_kafka_DeleteGroup_destroy(req);
    rd_kafka_event_t *ev = admin_wait(q, timeout_ms, what, errstr, errstr_size);
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
        const rd_kafka_error_t *e = cnt ? rd_kafka_group_result_error(gr[0]) : NULL;
        /* A group that never committed does not exist: nothing to reset (as Connect). */
        if (!cnt)
            snprintf(errstr, errstr_size, "%s: no result", what);
        else if (e && rd_kafka_error_code(e) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
            snprintf(errstr, errstr_size, "%s: %s", what, rd_kafka_error_string(e));
        else
            rc = 0;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

const char *kafka_transport_cluster_id(transport_t *base, int timeout_ms)
{
    if (!kafka_transport_props(base))
        return NULL;
    struct kafka_transport *t = (struct kafka_transport *)base;
    pthread_mutex_lock(&t->mu);
    const char *id = t->cluster_id;
    pthread_mutex_unlock(&t->mu);
    if (id)
        return id;
    char err[1024]; /* admin_client's message wraps librdkafka's 512 bytes */
    rd_kafka_t *rk = admin_client(&t->props, err, sizeof err);
    char *got = rk ? rd_kafka_clusterid(rk, timeout_ms) : NULL;
    if (rk)
        rd_kafka_destroy(rk);
    if (!got)
        return NULL;
    pthread_mutex_lock(&t->mu);
    if (!t->cluster_id) /* the first answer stays: a pointer handed out is never freed early */
        t->cluster_id = strdup(got);
    id = t->cluster_id;
    pthread_mutex_unlock(&t->mu);
    rd_kafka_mem_free(NULL, got);
    return id;
}
