/* topic.c — see topic.h. */
#include "topic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

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

void topic_set_max_bytes(topic_t *t, size_t max_bytes)
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

size_t topic_read(topic_reader_t *rd, topic_view_t *views, size_t max, int wait_ms)
{
    topic_t *t = rd->topic;
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    if (rd->next >= t->next && !t->closed && wait_ms > 0) {
        struct timespec ts;
        topic_deadline(&ts, wait_ms);
        pthread_cond_timedwait(&t->data, &t->mu, &ts);
    }
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
