/* topic.c — see topic.h; also the in-process transport (transport.h) over it. */
#include "topic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "transport.h"

/* Entry layout in a chunk, 8-byte aligned: header, key, value, packed headers. */
struct topic_entry {
    uint32_t total; /* bytes of the whole entry, padding included */
    uint32_t key_len;
    uint32_t value_len;
    uint32_t headers_len;
    int64_t timestamp;
    uint32_t nheaders;
    uint8_t key_null, value_null;
    uint8_t pad[2];
};

struct topic_chunk {
    struct topic_chunk *next;
    int64_t base; /* offset of the first record */
    uint32_t count;
    size_t size;
    char *data;
    tracker_t *tracker;
};

#define TOPIC_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

topic_t *topic_new(const char *name, size_t max_bytes)
{
    topic_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->data, &ca);
    pthread_cond_init(&t->space, &ca);
    pthread_condattr_destroy(&ca);
    t->max_bytes = max_bytes;
    return t;
}

static void topic_chunk_release(struct topic_chunk *c)
{
    if (c->tracker)
        atomic_fetch_sub(&c->tracker->pending, (long)c->count);
    free(c->data);
    free(c);
}

void topic_free(topic_t *t)
{
    if (!t)
        return;
    for (struct topic_chunk *c = t->head, *n; c; c = n) {
        n = c->next;
        c->tracker = NULL; /* the trackers are gone with their sources */
        topic_chunk_release(c);
    }
    for (size_t i = 0; i < t->nreaders; i++) {
        free(t->readers[i]->name);
        free(t->readers[i]);
    }
    free(t->readers);
    pthread_cond_destroy(&t->data);
    pthread_cond_destroy(&t->space);
    pthread_mutex_destroy(&t->mu);
    free(t->name);
    free(t);
}

void topic_set_next(topic_t *t, int64_t next)
{
    pthread_mutex_lock(&t->mu);
    if (!t->head && next > t->next) {
        t->next = next;
        t->low = next;
        for (size_t i = 0; i < t->nreaders; i++)
            t->readers[i]->next = t->readers[i]->acked = next;
    }
    pthread_mutex_unlock(&t->mu);
}

/* Raise the memory bound (several pipelines may share a topic). */
static void topic_set_max_bytes(topic_t *t, size_t max_bytes)
{
    pthread_mutex_lock(&t->mu);
    if (max_bytes > t->max_bytes)
        t->max_bytes = max_bytes;
    pthread_mutex_unlock(&t->mu);
}

topic_reader_t *topic_reader_add(topic_t *t, const char *name)
{
    topic_reader_t *rd = calloc(1, sizeof *rd);
    topic_reader_t **n = realloc(t->readers, (t->nreaders + 1) * sizeof *n);
    if (!rd || !n) {
        free(rd);
        if (n)
            t->readers = n;
        return NULL;
    }
    t->readers = n;
    rd->topic = t;
    rd->name = strdup(name);
    rd->next = rd->acked = t->next;
    rd->active = 1;
    t->readers[t->nreaders++] = rd;
    return rd;
}

void topic_writer_add(topic_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->writers++;
    t->closed = 0;
    pthread_mutex_unlock(&t->mu);
}

void topic_writer_done(topic_t *t)
{
    pthread_mutex_lock(&t->mu);
    if (t->writers > 0 && --t->writers == 0) {
        t->closed = 1;
        pthread_cond_broadcast(&t->data);
    }
    pthread_mutex_unlock(&t->mu);
}

void topic_stage_init(topic_stage_t *s)
{
    buf_init(&s->buf);
    s->count = 0;
}

void topic_stage_free(topic_stage_t *s)
{
    buf_free(&s->buf);
    s->count = 0;
}

int topic_stage_add(topic_stage_t *s, sluice_record_t *r, const void *key, size_t klen, int knull,
                    const void *value, size_t vlen, int vnull)
{
    record_headers_load(r);
    size_t hlen = 0;
    for (uint32_t i = 0; i < r->nheaders; i++)
        hlen += 2 + strlen(r->headers[i].name) + 4 + r->headers[i].len;
    if (klen > UINT32_MAX || vlen > UINT32_MAX || hlen > UINT32_MAX)
        return -1;
    size_t total = TOPIC_ALIGN(sizeof(struct topic_entry) + klen + vlen + hlen);
    if (buf_reserve(&s->buf, total) != 0)
        return -1;
    char *p = s->buf.data + s->buf.len;
    struct topic_entry e = {
        .total = (uint32_t)total,
        .key_len = (uint32_t)klen,
        .value_len = (uint32_t)vlen,
        .headers_len = (uint32_t)hlen,
        .timestamp = r->timestamp,
        .nheaders = r->nheaders,
        .key_null = (uint8_t)knull,
        .value_null = (uint8_t)vnull,
    };
    memcpy(p, &e, sizeof e);
    char *q = p + sizeof e;
    if (klen)
        memcpy(q, key, klen);
    q += klen;
    if (vlen)
        memcpy(q, value, vlen);
    q += vlen;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        uint16_t nl = (uint16_t)strlen(r->headers[i].name);
        uint32_t vl = (uint32_t)r->headers[i].len;
        memcpy(q, &nl, 2);
        memcpy(q + 2, r->headers[i].name, nl);
        q += 2 + nl;
        memcpy(q, &vl, 4);
        if (vl)
            memcpy(q + 4, r->headers[i].value, vl);
        q += 4 + vl;
    }
    memset(q, 0, (size_t)(p + total - q));
    s->buf.len += total;
    s->count++;
    return 0;
}

static void topic_deadline(struct timespec *ts, int wait_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += wait_ms / 1000;
    ts->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static size_t topic_active_readers(const topic_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nreaders; i++)
        n += t->readers[i]->active != 0;
    return n;
}

int topic_append(topic_t *t, topic_stage_t *s, tracker_t *tr, int64_t *first,
                 const volatile atomic_int *abort)
{
    if (s->count == 0) {
        pthread_mutex_lock(&t->mu);
        *first = t->next;
        pthread_mutex_unlock(&t->mu);
        return 0;
    }
    struct topic_chunk *c = malloc(sizeof *c);
    if (!c)
        return -1;
    pthread_mutex_lock(&t->mu);
    while (t->bytes > 0 && t->bytes + s->buf.len > t->max_bytes && topic_active_readers(t) > 0) {
        if (abort && atomic_load(abort)) {
            pthread_mutex_unlock(&t->mu);
            free(c);
            return -1;
        }
        struct timespec ts;
        topic_deadline(&ts, 100);
        t->writer_waiting = 1;
        pthread_cond_broadcast(&t->data); /* wake readers so they flush and ack */
        pthread_cond_timedwait(&t->space, &t->mu, &ts);
    }
    t->writer_waiting = 0;
    *first = t->next;
    atomic_fetch_add(&t->appended, s->count);
    if (topic_active_readers(t) == 0) {
        /* Nobody reads this topic in this process: the records are durable as far as anything
         * here can tell, so they are acknowledged and dropped at once. */
        t->next += s->count;
        t->low = t->next;
        atomic_fetch_add(&t->dropped, s->count);
        if (!t->warned_no_reader) {
            t->warned_no_reader = 1;
            log_warn(NULL, "topic '%s' has no consumer in this run: its records are discarded",
                     t->name);
        }
        pthread_mutex_unlock(&t->mu);
        free(c);
        s->buf.len = 0;
        s->count = 0;
        return 0;
    }
    c->next = NULL;
    c->base = t->next;
    c->count = s->count;
    c->size = s->buf.len;
    c->data = s->buf.data;
    c->tracker = tr;
    if (tr)
        atomic_fetch_add(&tr->pending, (long)s->count);
    if (t->tail)
        t->tail->next = c;
    else
        t->head = c;
    t->tail = c;
    t->next += s->count;
    t->bytes += c->size;
    pthread_cond_broadcast(&t->data);
    pthread_mutex_unlock(&t->mu);
    buf_init(&s->buf); /* the chunk owns the memory now */
    s->count = 0;
    return 0;
}

static void topic_view_of(const char *p, int64_t offset, topic_view_t *v)
{
    struct topic_entry e;
    memcpy(&e, p, sizeof e);
    const char *q = p + sizeof e;
    v->offset = offset;
    v->timestamp = e.timestamp;
    v->key = q;
    v->key_len = e.key_len;
    v->key_null = e.key_null;
    v->value = q + e.key_len;
    v->value_len = e.value_len;
    v->value_null = e.value_null;
    v->headers = (const uint8_t *)(q + e.key_len + e.value_len);
    v->nheaders = e.nheaders;
    v->partition = 0;
}

/* Find the chunk holding rd->next (mutex held). */
static struct topic_chunk *topic_locate(topic_reader_t *rd)
{
    if (rd->chunk && rd->next >= rd->chunk->base && rd->next < rd->chunk->base + rd->chunk->count)
        return rd->chunk;
    /* A reader that keeps up reads the newest chunk, at its start: no walk from the head (which
     * holds every chunk some sink has not flushed yet: thousands with one record each when
     * records trickle in one at a time). */
    struct topic_chunk *tail = rd->topic->tail;
    if (tail && rd->next == tail->base && tail->count > 0) {
        rd->chunk = tail;
        rd->pos = 0;
        return tail;
    }
    for (struct topic_chunk *c = rd->topic->head; c; c = c->next) {
        if (rd->next >= c->base && rd->next < c->base + c->count) {
            rd->chunk = c;
            rd->pos = 0;
            /* Walk to the entry (only after the reader was repositioned; normally it starts at
             * a chunk boundary). */
            for (int64_t o = c->base; o < rd->next; o++) {
                struct topic_entry e;
                memcpy(&e, c->data + rd->pos, sizeof e);
                rd->pos += e.total;
            }
            return c;
        }
    }
    rd->chunk = NULL;
    return NULL;
}

size_t topic_stage_next(const topic_stage_t *s, size_t pos, topic_view_t *v)
{
    if (pos >= s->buf.len)
        return 0;
    struct topic_entry e;
    memcpy(&e, s->buf.data + pos, sizeof e);
    topic_view_of(s->buf.data + pos, -1, v);
    return pos + e.total;
}

/* Under t->mu: one wait for `data` unless kicked (a single wait: the callers loop). */
static void topic_wait_locked(topic_reader_t *rd, int wait_ms)
{
    topic_t *t = rd->topic;
    if (!rd->kicked && wait_ms < 0) {
        pthread_cond_wait(&t->data, &t->mu);
    } else if (!rd->kicked && wait_ms > 0) {
        struct timespec ts;
        topic_deadline(&ts, wait_ms);
        pthread_cond_timedwait(&t->data, &t->mu, &ts);
    }
    rd->kicked = 0;
}

/* Ends the reader's wait in topic_read or topic_wait (or the next one, if it is not waiting):
 * its thread has a flag to look at. */
static void topic_wake(topic_reader_t *rd)
{
    topic_t *t = rd->topic;
    pthread_mutex_lock(&t->mu);
    rd->kicked = 1;
    pthread_cond_broadcast(&t->data);
    pthread_mutex_unlock(&t->mu);
}

/* Waits for an append, the close or topic_wake; reads nothing (a paused reader). */
static void topic_wait(topic_reader_t *rd, int wait_ms)
{
    topic_t *t = rd->topic;
    pthread_mutex_lock(&t->mu);
    if (!t->closed)
        topic_wait_locked(rd, wait_ms);
    pthread_mutex_unlock(&t->mu);
}

size_t topic_read(topic_reader_t *rd, topic_view_t *views, size_t max, int wait_ms)
{
    topic_t *t = rd->topic;
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    if (rd->next >= t->next && !t->closed)
        topic_wait_locked(rd, wait_ms);
    else
        rd->kicked = 0;
    while (n < max && rd->next < t->next) {
        struct topic_chunk *c = topic_locate(rd);
        if (!c)
            break;
        while (n < max && rd->next < c->base + c->count) {
            topic_view_of(c->data + rd->pos, rd->next, &views[n++]);
            struct topic_entry e;
            memcpy(&e, c->data + rd->pos, sizeof e);
            rd->pos += e.total;
            rd->next++;
        }
        if (rd->next >= c->base + c->count) {
            /* The chunk may be freed once acked: never keep a pointer to a chunk read to its end.
             * The next one is unread, so this reader has not acked it and it stays. */
            rd->chunk = c->next;
            rd->pos = 0;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}

int topic_drained(topic_reader_t *rd)
{
    topic_t *t = rd->topic;
    pthread_mutex_lock(&t->mu);
    int d = t->closed && rd->next >= t->next;
    pthread_mutex_unlock(&t->mu);
    return d;
}

/* Free chunks every active reader acked (mutex held). */
static void topic_trim(topic_t *t)
{
    int64_t min = t->next;
    for (size_t i = 0; i < t->nreaders; i++)
        if (t->readers[i]->active && t->readers[i]->acked < min)
            min = t->readers[i]->acked;
    int freed = 0;
    while (t->head && t->head->base + t->head->count <= min) {
        struct topic_chunk *c = t->head;
        t->head = c->next;
        if (!t->head)
            t->tail = NULL;
        t->bytes -= c->size;
        for (size_t i = 0; i < t->nreaders; i++)
            if (t->readers[i]->chunk == c)
                t->readers[i]->chunk = NULL;
        topic_chunk_release(c);
        freed = 1;
    }
    t->low = t->head ? t->head->base : t->next;
    if (freed)
        pthread_cond_broadcast(&t->space);
}

void topic_ack(topic_reader_t *rd, int64_t upto)
{
    topic_t *t = rd->topic;
    pthread_mutex_lock(&t->mu);
    if (upto > rd->acked)
        rd->acked = upto;
    topic_trim(t);
    pthread_mutex_unlock(&t->mu);
}

void topic_reader_leave(topic_reader_t *rd)
{
    topic_t *t = rd->topic;
    pthread_mutex_lock(&t->mu);
    rd->active = 0;
    rd->chunk = NULL;
    topic_trim(t);
    pthread_cond_broadcast(&t->space);
    pthread_mutex_unlock(&t->mu);
}

int topic_pressure(topic_t *t)
{
    pthread_mutex_lock(&t->mu);
    int p = t->writer_waiting || t->bytes * 2 >= t->max_bytes;
    pthread_mutex_unlock(&t->mu);
    return p;
}

size_t topic_bytes(topic_t *t)
{
    pthread_mutex_lock(&t->mu);
    size_t b = t->bytes;
    pthread_mutex_unlock(&t->mu);
    return b;
}

const uint8_t *topic_header_next(const uint8_t *p, const char **name, size_t *name_len,
                                 const void **value, size_t *value_len)
{
    uint16_t nl;
    uint32_t vl;
    memcpy(&nl, p, 2);
    *name = (const char *)p + 2;
    *name_len = nl;
    memcpy(&vl, p + 2 + nl, 4);
    *value = p + 2 + nl + 4;
    *value_len = vl;
    return p + 2 + nl + 4 + vl;
}

/* -- the in-process transport -------------------------------------------------------------------
 * transport.h's table over the log above: the run owns its topics; a reader is a topic reader; a
 * writer appends to the topics themselves. */

static const struct transport_ops transport_memory; /* the table, at the end */

struct mem_transport {
    transport_t base;
    pthread_mutex_t mu; /* topics may be created while running (records routed elsewhere) */
    struct mem_topic **topics;
    size_t ntopics;
};

struct mem_topic {
    transport_topic_t tt;
    topic_t *log;
};

struct mem_writer {
    transport_writer_t base;
    struct mem_transport *t;
    struct mem_topic *main; /* routed topics are bounded like it */
};

struct mem_reader {
    transport_reader_t base;
    topic_reader_t *rd;
    atomic_int paused;
};

/* The in-process transport carries every run that no other transport wants. */
static int mem_wanted(const sluice_config_t *global)
{
    (void)global;
    return 1;
}

static transport_t *mem_open(const sluice_config_t *global, config_errors_t *errs)
{
    (void)global, (void)errs;
    struct mem_transport *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base.ops = &transport_memory;
    pthread_mutex_init(&t->mu, NULL);
    return &t->base;
}

/* The in-process transport has no keys of its own. */
static int mem_check_pipeline(transport_t *t, const config_pipeline_t *cp, config_errors_t *errs)
{
    (void)t, (void)cp, (void)errs;
    return 0;
}

static int mem_check_sink(transport_t *t, const config_pipeline_t *cp, const config_instance_t *ci,
                          config_errors_t *errs)
{
    (void)t, (void)cp, (void)ci, (void)errs;
    return 0;
}

static void mem_describe(transport_t *t, char *out, size_t size)
{
    (void)t;
    snprintf(out, size, "in-process");
}

static transport_topic_t *mem_topic(transport_t *base, const char *name, size_t max_bytes)
{
    struct mem_transport *t = (struct mem_transport *)base;
    struct mem_topic *mt = NULL;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->ntopics; i++)
        if (strcmp(t->topics[i]->tt.name, name) == 0) {
            mt = t->topics[i];
            topic_set_max_bytes(mt->log, max_bytes);
            goto out;
        }
    struct mem_topic **n = realloc(t->topics, (t->ntopics + 1) * sizeof *n);
    if (!n)
        goto out;
    t->topics = n;
    mt = calloc(1, sizeof *mt);
    if (mt && !(mt->log = topic_new(name, max_bytes))) {
        free(mt);
        mt = NULL;
    }
    if (mt) {
        mt->tt.name = mt->log->name;
        t->topics[t->ntopics++] = mt;
    }
out:
    pthread_mutex_unlock(&t->mu);
    return mt ? &mt->tt : NULL;
}

static topic_t *mem_log(transport_topic_t *tp)
{
    return ((struct mem_topic *)tp)->log;
}

static void mem_writer_add(transport_topic_t *tp)
{
    topic_writer_add(mem_log(tp));
}

static int mem_writers(transport_topic_t *tp)
{
    return mem_log(tp)->writers; /* set up before the threads run */
}

static size_t mem_readers(transport_topic_t *tp)
{
    return mem_log(tp)->nreaders; /* set up before the threads run */
}

static void mem_set_next(transport_topic_t *tp, int64_t next)
{
    topic_set_next(mem_log(tp), next);
}

static int mem_writer_new(transport_t *t, const struct transport_writer_spec *spec,
                          transport_writer_t **out, const atomic_int *stop, char *errstr,
                          size_t errstr_size)
{
    (void)stop;
    struct mem_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    w->base.ops = &transport_memory;
    w->t = (struct mem_transport *)t;
    w->main = (struct mem_topic *)spec->main;
    *out = &w->base;
    return 0;
}

static int mem_reader_new(transport_t *t, transport_topic_t *tp,
                          const struct transport_reader_spec *spec, transport_reader_t **out,
                          char *errstr, size_t errstr_size)
{
    (void)t;
    char name[256];
    snprintf(name, sizeof name, "%s/%s", spec->pipeline, spec->sink);
    struct mem_reader *r = calloc(1, sizeof *r);
    if (r && !(r->rd = topic_reader_add(mem_log(tp), name))) {
        free(r);
        r = NULL;
    }
    if (!r) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    r->base.ops = &transport_memory;
    *out = &r->base;
    return 0;
}

static void human_bytes(size_t n, char *out, size_t size)
{
    if (n >= 1024 * 1024)
        snprintf(out, size, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    else
        snprintf(out, size, "%.1f KiB", (double)n / 1024.0);
}

static void mem_progress(transport_topic_t *tp, transport_writer_t *w,
                         transport_reader_t *const *rds, size_t nrds, char *out, size_t size)
{
    (void)w, (void)rds, (void)nrds;
    char mem[32];
    human_bytes(topic_bytes(mem_log(tp)), mem, sizeof mem);
    size_t n = strlen(out);
    if (n < size)
        snprintf(out + n, size - n, " | buffered %s", mem);
}

static int64_t mem_buffered(transport_topic_t *tp, transport_writer_t *w)
{
    (void)w;
    return (int64_t)topic_bytes(mem_log(tp));
}

static void mem_writer_free(transport_writer_t *w)
{
    free(w);
}

static void mem_reader_free(transport_reader_t *r)
{
    free(r); /* its topic_reader_t goes with the topic */
}

static void mem_free(transport_t *base)
{
    struct mem_transport *t = (struct mem_transport *)base;
    if (!t)
        return;
    for (size_t i = 0; i < t->ntopics; i++) {
        topic_free(t->topics[i]->log);
        free(t->topics[i]);
    }
    free(t->topics);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static transport_topic_t *mem_route(transport_writer_t *base, const char *name,
                                    const atomic_int *abort)
{
    (void)abort;
    struct mem_writer *w = (struct mem_writer *)base;
    return mem_topic(&w->t->base, name, w->main->log->max_bytes);
}

static int mem_append(transport_writer_t *w, transport_topic_t *tp, topic_stage_t *stage,
                      tracker_t *tr, const atomic_int *abort)
{
    (void)w;
    int64_t first;
    return topic_append(mem_log(tp), stage, tr, &first, abort);
}

static int64_t mem_next_offset(transport_topic_t *tp)
{
    topic_t *t = mem_log(tp);
    pthread_mutex_lock(&t->mu);
    int64_t next = t->next;
    pthread_mutex_unlock(&t->mu);
    return next;
}

static void mem_writer_done(transport_writer_t *w, transport_topic_t *tp)
{
    (void)w;
    topic_writer_done(mem_log(tp));
}

static long mem_inflight(transport_writer_t *w)
{
    (void)w;
    return 0;
}

static long mem_purge(transport_writer_t *w, int timeout_ms)
{
    (void)w, (void)timeout_ms;
    return 0;
}

static topic_reader_t *mem_rd(transport_reader_t *r)
{
    return ((struct mem_reader *)r)->rd;
}

static size_t mem_read(transport_reader_t *r, topic_view_t *views, size_t max, int wait_ms)
{
    if (atomic_load(&((struct mem_reader *)r)->paused)) {
        /* Paused: nothing is handed out; wait as a read of an empty topic would. */
        topic_wait(mem_rd(r), wait_ms);
        return 0;
    }
    return topic_read(mem_rd(r), views, max, wait_ms);
}

static void mem_headers(transport_reader_t *r, size_t i, const topic_view_t *v,
                        sluice_record_t *rec)
{
    (void)r, (void)i;
    const uint8_t *h = v->headers;
    for (uint32_t k = 0; k < v->nheaders; k++) {
        const char *name;
        size_t nl, vl;
        const void *val;
        h = topic_header_next(h, &name, &nl, &val, &vl);
        record_add_header_n(rec, name, nl, val, vl);
    }
}

static void mem_taken(transport_reader_t *r)
{
    (void)r;
}

static int mem_drained(transport_reader_t *r)
{
    return topic_drained(mem_rd(r));
}

static int mem_pressure(transport_reader_t *r)
{
    return topic_pressure(mem_rd(r)->topic);
}

static void mem_wake(transport_reader_t *r)
{
    topic_wake(mem_rd(r));
}

static void mem_pause(transport_reader_t *r)
{
    atomic_store(&((struct mem_reader *)r)->paused, 1);
}

static void mem_resume(transport_reader_t *r)
{
    atomic_store(&((struct mem_reader *)r)->paused, 0);
}

static int mem_commit(transport_reader_t *r, int64_t upto, char *errstr, size_t errstr_size)
{
    (void)errstr, (void)errstr_size;
    topic_ack(mem_rd(r), upto);
    return 0;
}

static size_t mem_nparts(transport_reader_t *r)
{
    (void)r;
    return 1;
}

static size_t mem_pending(transport_reader_t *r, int64_t upto, struct sluice_offset *out,
                          size_t max)
{
    if (max < 1)
        return 0;
    out[0] = (struct sluice_offset){.topic = mem_rd(r)->topic->name, .offset = upto};
    return 1;
}

static int mem_commit_offsets(transport_reader_t *r, const struct sluice_offset *offsets, size_t n,
                              char *errstr, size_t errstr_size)
{
    (void)errstr, (void)errstr_size;
    if (n > 0 && offsets[0].offset > 0)
        topic_ack(mem_rd(r), offsets[0].offset);
    return 0;
}

static void mem_close(transport_reader_t *r)
{
    topic_reader_leave(mem_rd(r));
}

static const struct transport_ops transport_memory = {
    .name = "in-process",
    .caps = 0,
    .rank = 0,
    .wanted = mem_wanted,
    .load_headers = NULL,
    .open = mem_open,
    .check_pipeline = mem_check_pipeline,
    .check_sink = mem_check_sink,
    .describe = mem_describe,
    .topic = mem_topic,
    .writer_add = mem_writer_add,
    .writers = mem_writers,
    .readers = mem_readers,
    .set_next = mem_set_next,
    .writer_new = mem_writer_new,
    .reader_new = mem_reader_new,
    .progress = mem_progress,
    .buffered = mem_buffered,
    .writer_free = mem_writer_free,
    .reader_free = mem_reader_free,
    .free = mem_free,
    .route = mem_route,
    .append = mem_append,
    .next_offset = mem_next_offset,
    .writer_done = mem_writer_done,
    .inflight = mem_inflight,
    .purge = mem_purge,
    .read = mem_read,
    .headers = mem_headers,
    .taken = mem_taken,
    .drained = mem_drained,
    .pressure = mem_pressure,
    .pause = mem_pause,
    .resume = mem_resume,
    .commit = mem_commit,
    .nparts = mem_nparts,
    .pending = mem_pending,
    .commit_offsets = mem_commit_offsets,
    .close = mem_close,
    .wake = mem_wake,
};
TRANSPORT_REGISTER(transport_memory);
