/* history.c — see history.h. The ring holds counters, not rates: a rate is the difference of two
 * samples over their monotonic interval, so a late tick gives a true rate, not a spike. */
#include "history.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "worker.h"

#define SLOT_NAME 512
#define ABSENT    (-1L)

typedef struct history_slot {
    char name[SLOT_NAME];
    int used;
    int put;                /* put in the current sample */
    uint64_t born;          /* the sample number of its first sample */
    uint64_t absent;        /* samples in a row it was missing */
    long v[3][HISTORY_LEN]; /* in, out, errors; ABSENT where it was missing */
} history_slot_t;

struct history {
    pthread_mutex_t mu;
    int64_t mono[HISTORY_LEN]; /* when each sample was taken (CLOCK_MONOTONIC ms) */
    int64_t rss[HISTORY_LEN];
    double cpu[HISTORY_LEN];
    size_t head;     /* the index the next sample takes */
    uint64_t seq;    /* samples taken */
    int64_t wall_ms; /* wall clock of the newest sample */
    history_slot_t **slots;
    size_t nslots;
    /* the sampler */
    pthread_t thread;
    int thread_started;
    int stop;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: history_stop wakes the thread at once */
    struct runtime *rt;
};

history_t *history_new(void)
{
    history_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void history_free(history_t *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nslots; i++)
        free(h->slots[i]);
    free(h->slots);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* -- writing ------------------------------------------------------------------------------------
 */

void history_begin(history_t *h, int64_t mono_ms, int64_t wall_ms)
{
    pthread_mutex_lock(&h->mu);
    h->mono[h->head] = mono_ms;
    h->rss[h->head] = -1;
    h->cpu[h->head] = -1;
    h->wall_ms = wall_ms;
    for (size_t i = 0; i < h->nslots; i++)
        h->slots[i]->put = 0;
}

static history_slot_t *slot_find(history_t *h, const char *name)
{
    for (size_t i = 0; i < h->nslots; i++)
        if (h->slots[i]->used && strcmp(h->slots[i]->name, name) == 0)
            return h->slots[i];
    return NULL;
}

/* A slot for a connector seen for the first time: a free one, else a new one. */
static history_slot_t *slot_take(history_t *h, const char *name)
{
    history_slot_t *s = NULL;
    for (size_t i = 0; i < h->nslots && !s; i++)
        if (!h->slots[i]->used)
            s = h->slots[i];
    if (!s) {
        history_slot_t **grown = realloc(h->slots, (h->nslots + 1) * sizeof *grown);
        if (!grown)
            return NULL;
        h->slots = grown;
        if (!(s = malloc(sizeof *s)))
            return NULL;
        h->slots[h->nslots++] = s;
    }
    memset(s, 0, offsetof(history_slot_t, v));
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < HISTORY_LEN; i++)
            s->v[k][i] = ABSENT;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->used = 1;
    s->born = h->seq;
    return s;
}

int history_put(history_t *h, const char *name, long in, long out, long errors)
{
    history_slot_t *s = slot_find(h, name);
    if (!s && !(s = slot_take(h, name)))
        return -1;
    s->put = 1;
    s->absent = 0;
    s->v[0][h->head] = in < 0 ? 0 : in;
    s->v[1][h->head] = out < 0 ? 0 : out;
    s->v[2][h->head] = errors < 0 ? 0 : errors;
    return 0;
}

void history_put_process(history_t *h, int64_t rss_bytes, double cpu_seconds)
{
    h->rss[h->head] = rss_bytes;
    h->cpu[h->head] = cpu_seconds;
}

void history_end(history_t *h)
{
    for (size_t i = 0; i < h->nslots; i++) {
        history_slot_t *s = h->slots[i];
        if (!s->used || s->put)
            continue;
        for (size_t k = 0; k < 3; k++)
            s->v[k][h->head] = ABSENT;
        /* Gone for the whole ring: nothing of it is left to show; the slot is free again. */
        if (++s->absent >= HISTORY_LEN)
            s->used = 0;
    }
    h->head = (h->head + 1) % HISTORY_LEN;
    h->seq++;
    pthread_mutex_unlock(&h->mu);
}

/* -- reading ------------------------------------------------------------------------------------
 */

/* The ring index of the sample `back` samples before the newest (0: the newest). */
static size_t idx_back(const history_t *h, size_t back)
{
    return (h->head + 2 * HISTORY_LEN - 1 - back) % HISTORY_LEN;
}

static size_t held(const history_t *h)
{
    return h->seq < HISTORY_LEN ? (size_t)h->seq : HISTORY_LEN;
}

/* Records that passed between the samples at ring indexes a (older) and b, -1 when it was absent
 * from either. A counter that went down was reset (the connector restarted with new tasks): its
 * new value is what passed since. */
static long delta(const long *v, size_t a, size_t b)
{
    if (v[a] == ABSENT || v[b] == ABSENT)
        return -1;
    return v[b] >= v[a] ? v[b] - v[a] : v[b];
}

/* Records per second between the samples at a and b. */
static double rate(const history_t *h, const long *v, size_t a, size_t b)
{
    int64_t dt = h->mono[b] - h->mono[a];
    long d = delta(v, a, b);
    return d < 0 || dt <= 0 ? 0 : (double)d * 1000.0 / (double)dt;
}

int history_connector(history_t *h, const char *name, size_t window, history_rates_t *out)
{
    out->n = 0;
    out->rate_in = out->rate_out = out->rate_errors = 0;
    pthread_mutex_lock(&h->mu);
    history_slot_t *s = slot_find(h, name);
    if (!s || h->seq == 0) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    size_t life = h->seq - s->born < held(h) ? (size_t)(h->seq - s->born) : held(h);
    size_t n = window < life ? window : life;
    double *dst[3] = {out->in, out->out, out->errors};
    for (size_t k = 0; k < 3; k++) {
        for (size_t j = 0; j < n; j++) {
            size_t back = n - 1 - j; /* oldest first */
            size_t b = idx_back(h, back);
            /* The first sample of its life has no interval before it. */
            double r = back + 1 < life ? rate(h, s->v[k], idx_back(h, back + 1), b) : 0;
            if (dst[k])
                dst[k][j] = r;
        }
    }
    /* The current rates: the records of the last intervals (up to HISTORY_RATE_SAMPLES) where it
     * was present over their time. */
    double *cur[3] = {&out->rate_in, &out->rate_out, &out->rate_errors};
    size_t span = life > 1 ? life - 1 : 0;
    if (span > HISTORY_RATE_SAMPLES)
        span = HISTORY_RATE_SAMPLES;
    for (size_t k = 0; k < 3 && span; k++) {
        long sum = 0;
        int64_t dt = 0;
        for (size_t j = 0; j < span; j++) {
            size_t nb = idx_back(h, j), na = idx_back(h, j + 1);
            long d = delta(s->v[k], na, nb);
            if (d < 0)
                continue;
            sum += d;
            dt += h->mono[nb] - h->mono[na];
        }
        *cur[k] = dt > 0 ? (double)sum * 1000.0 / (double)dt : 0;
    }
    out->n = n;
    pthread_mutex_unlock(&h->mu);
    return 0;
}

void history_process(history_t *h, size_t window, history_process_t *out)
{
    pthread_mutex_lock(&h->mu);
    size_t have = held(h);
    size_t n = window < have ? window : have;
    for (size_t j = 0; j < n; j++) {
        size_t back = n - 1 - j;
        size_t b = idx_back(h, back);
        if (out->rss_bytes)
            out->rss_bytes[j] = h->rss[b] < 0 ? 0 : (double)h->rss[b];
        double pct = 0;
        if (back + 1 < have) {
            size_t a = idx_back(h, back + 1);
            int64_t dt = h->mono[b] - h->mono[a];
            if (dt > 0 && h->cpu[a] >= 0 && h->cpu[b] >= h->cpu[a])
                pct = (h->cpu[b] - h->cpu[a]) * 1000.0 / (double)dt * 100.0;
        }
        if (out->cpu_percent)
            out->cpu_percent[j] = pct;
    }
    out->n = n;
    out->rss_now = have ? h->rss[idx_back(h, 0)] : -1;
    out->cpu_seconds_now = have ? h->cpu[idx_back(h, 0)] : -1;
    pthread_mutex_unlock(&h->mu);
}

int64_t history_now_ms(history_t *h)
{
    pthread_mutex_lock(&h->mu);
    int64_t t = h->seq ? h->wall_ms : 0;
    pthread_mutex_unlock(&h->mu);
    return t;
}

uint64_t history_samples(history_t *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t n = h->seq;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* -- the sampler --------------------------------------------------------------------------------
 */

static void sample_one(void *opaque, const char *name, const worker_counters_t *sum)
{
    history_put(opaque, name, sum->records_in, sum->records_out, sum->errors);
}

/* One sample of `rt` now (the thread's body). */
static void history_sample(history_t *h, struct runtime *rt)
{
    metrics_process_t proc;
    int have_proc = metrics_process_read(&proc) == 0;
    history_begin(h, clock_mono_ms(), clock_wall_ms());
    if (have_proc)
        history_put_process(h, proc.rss_bytes, proc.cpu_seconds);
    worker_sample(rt, sample_one, h);
    history_end(h);
}

static void *history_thread(void *arg)
{
    history_t *h = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        pthread_mutex_unlock(&h->mu);
        history_sample(h, h->rt);
        pthread_mutex_lock(&h->mu);
        next.tv_sec++;
        /* Behind by more than a tick (a suspended machine): start again from now, no burst. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1)
            next = now;
        while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &next) == 0)
            ;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

history_t *history_start(struct runtime *rt)
{
    history_t *h = history_new();
    if (!h)
        return NULL;
    h->rt = rt;
    if (pthread_create(&h->thread, NULL, history_thread, h) == 0)
        pthread_setname_np(h->thread, "history");
    else {
        history_free(h);
        return NULL;
    }
    h->thread_started = 1;
    return h;
}

void history_stop(history_t *h)
{
    if (!h)
        return;
    if (h->thread_started) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    history_free(h);
}
