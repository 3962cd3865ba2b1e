/* tap.c — the tap (see tap.h): tap points, watchers with their rings and sampling, the rendering
 * of a record as one JSON object, and the stream the HTTP server sends. */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "runtime.h"
#include "worker.h"

typedef struct tap_watcher {
    tap_point_t *tp;
    int stage;
    int sse;
    char *connector, *stage_name;
    long limit, taken; /* records rendered so far (the ring's writer) */
    long skipped;      /* passed unseen since the last one rendered */
    tap_bucket_t bucket;
    tap_mask_t *masks;
    size_t nmasks;
    buf_t ring[TAP_RING];
    size_t head, count; /* the reader's slot, slots filled */
    size_t off;         /* bytes of ring[head] already sent */
    struct tap_watcher *next;
} tap_watcher_t;

static atomic_int tap_open_n;

int tap_open_count(void)
{
    return atomic_load(&tap_open_n);
}

/* -- tap points ------------------------------------------------------------------------------- */

tap_point_t *tap_point_new(void)
{
    tap_point_t *tp = calloc(1, sizeof *tp);
    if (!tp)
        return NULL;
    atomic_init(&tp->watchers, 0);
    atomic_init(&tp->refs, 1);
    pthread_mutex_init(&tp->mu, NULL);
    return tp;
}

static void tap_point_unref(tap_point_t *tp)
{
    if (tp && atomic_fetch_sub(&tp->refs, 1) == 1) {
        pthread_mutex_destroy(&tp->mu);
        free(tp);
    }
}

void tap_point_close(tap_point_t *tp)
{
    if (!tp)
        return;
    pthread_mutex_lock(&tp->mu);
    tp->closed = 1;
    pthread_mutex_unlock(&tp->mu);
    tap_point_unref(tp);
}

/* -- sampling --------------------------------------------------------------------------------- */

void tap_bucket_init(tap_bucket_t *b, double rate, int64_t now_ms)
{
    b->rate = rate > 0 ? rate : 1;
    /* A whole second's worth at once would flood the first read: start with a tenth. */
    b->tokens = b->rate < 10 ? 1 : b->rate / 10;
    b->last_ms = now_ms;
}

int tap_bucket_take(tap_bucket_t *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += b->rate * (double)(now_ms - b->last_ms) / 1000.0;
        if (b->tokens > b->rate)
            b->tokens = b->rate;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1)
        return 0;
    b->tokens -= 1;
    return 1;
}

/* -- rendering -------------------------------------------------------------------------------- */

static const tap_mask_t *mask_find(const tap_watcher_t *w, const char *name, size_t len, int key)
{
    for (size_t i = 0; i < w->nmasks; i++)
        if (w->masks[i].key == key && strlen(w->masks[i].field) == len &&
            memcmp(w->masks[i].field, name, len) == 0)
            return &w->masks[i];
    return NULL;
}

/* What MaskField puts in a field of `v`'s type: the replacement (a number where the field is
 * one and it reads as one), else the type's empty value. Never the value itself. */
static void put_masked(buf_t *out, const sluice_value_t *v, const tap_mask_t *m)
{
    sluice_type_t t = v ? v->type : SLUICE_TYPE_NULL;
    int numeric = t >= SLUICE_TYPE_INT8 && t <= SLUICE_TYPE_FLOAT64;
    if (t == SLUICE_TYPE_NULL) {
        buf_puts(out, "null");
    } else if (m->replacement) {
        char *end;
        strtod(m->replacement, &end);
        if (numeric && *m->replacement && *end == '\0')
            buf_puts(out, m->replacement);
        else
            json_write_string(out, m->replacement, strlen(m->replacement));
    } else if (numeric) {
        buf_putc(out, '0');
    } else if (t == SLUICE_TYPE_BOOLEAN) {
        buf_puts(out, "false");
    } else if (t == SLUICE_TYPE_ARRAY) {
        buf_puts(out, "[]");
    } else if (t == SLUICE_TYPE_MAP || t == SLUICE_TYPE_STRUCT) {
        buf_puts(out, "{}");
    } else {
        buf_puts(out, "\"\"");
    }
}

/* A key or value as JSON, its masked fields (top level of a struct or string-keyed map, as
 * MaskField masks) replaced. */
static void put_value(const tap_watcher_t *w, buf_t *out, const sluice_value_t *v, int key)
{
    if (!v) {
        buf_puts(out, "null");
        return;
    }
    int masks = 0;
    for (size_t i = 0; i < w->nmasks; i++)
        masks |= w->masks[i].key == key;
    int fields = v->type == SLUICE_TYPE_STRUCT || v->type == SLUICE_TYPE_MAP;
    for (size_t i = 0; fields && v->type == SLUICE_TYPE_MAP && i < v->u.m.len; i++)
        fields = v->u.m.items[i].name != NULL; /* other keys: written as [[k, v], ...] */
    if (!masks || !fields) {
        if (json_write(out, v, JSON_DECIMAL_NUMERIC) != SLUICE_OK)
            buf_puts(out, "null");
        return;
    }
    buf_putc(out, '{');
    for (size_t i = 0; i < v->u.m.len; i++) {
        const struct value_kv *kv = &v->u.m.items[i];
        size_t nlen = v->type == SLUICE_TYPE_MAP ? kv->key->u.s.len : strlen(kv->name);
        if (i)
            buf_putc(out, ',');
        json_write_string(out, kv->name, nlen);
        buf_putc(out, ':');
        const tap_mask_t *m = mask_find(w, kv->name, nlen, key);
        if (m)
            put_masked(out, kv->value, m);
        else if (!kv->value || json_write(out, kv->value, JSON_DECIMAL_NUMERIC) != SLUICE_OK)
            buf_puts(out, "null");
    }
    buf_putc(out, '}');
}

/* A record's key or value: the value set or decoded already, else its bytes decoded here into the
 * batch's arena without keeping the result (the record stays as the pipeline left it), else the
 * bytes as a string. */
static void put_slot(const tap_watcher_t *w, buf_t *out, sluice_record_t *r, struct record_slot *s,
                     int key)
{
    if (s->value) {
        put_value(w, out, s->value, key);
        return;
    }
    if (!s->has_bytes || s->is_null || !s->bytes) {
        buf_puts(out, "null");
        return;
    }
    converter_t *c =
        r->batch && r->batch->codec ? (key ? r->batch->codec->key : r->batch->codec->value) : NULL;
    sluice_value_t *v = NULL;
    char err[256];
    /* The avro converter may ask the schema registry: never from the tap (the sink side has
     * decoded avro records before their transforms anyway). */
    if (c && c->kind != CONVERTER_AVRO &&
        converter_decode(c, r->batch->arena, s->bytes, s->len, &v, err, sizeof err) == SLUICE_OK &&
        v) {
        put_value(w, out, v, key);
        return;
    }
    if (w->nmasks)
        buf_puts(out, "null"); /* undecodable: its fields cannot be masked, so nothing is shown */
    else
        json_write_string(out, s->bytes, s->len);
}

static void render(tap_watcher_t *w, buf_t *out, sluice_record_t *r, long skipped)
{
    buf_reset(out);
    if (w->sse)
        buf_puts(out, "data: ");
    size_t start = out->len;
    buf_puts(out, "{\"connector\":");
    json_write_string(out, w->connector, strlen(w->connector));
    buf_puts(out, ",\"stage\":");
    json_write_string(out, w->stage_name, strlen(w->stage_name));
    const char *topic = r->topic                      ? r->topic
                        : r->batch && r->batch->codec ? r->batch->codec->topic
                                                      : NULL;
    buf_puts(out, ",\"topic\":");
    if (topic)
        json_write_string(out, topic, strlen(topic));
    else
        buf_puts(out, "null");
    if (r->offset >= 0)
        buf_printf(out, ",\"partition\":%d,\"offset\":%lld", (int)r->partition,
                   (long long)r->offset);
    else
        buf_puts(out, ",\"partition\":null,\"offset\":null");
    if (r->timestamp > 0)
        buf_printf(out, ",\"timestamp\":%lld", (long long)r->timestamp);
    else
        buf_puts(out, ",\"timestamp\":null");
    size_t kv_at = out->len;
    buf_puts(out, ",\"key\":");
    put_slot(w, out, r, &r->key, 1);
    buf_puts(out, ",\"value\":");
    put_slot(w, out, r, &r->value, 0);
    if (out->len - start > TAP_RECORD_MAX) {
        out->len = kv_at;
        buf_puts(out, ",\"key\":null,\"value\":null,\"truncated\":true");
    }
    record_headers_load(r);
    buf_puts(out, ",\"headers\":[");
    for (uint32_t i = 0; i < r->nheaders; i++) {
        const struct record_header *h = &r->headers[i];
        buf_puts(out, i ? ",{\"key\":" : "{\"key\":");
        json_write_string(out, h->name, strlen(h->name));
        buf_puts(out, ",\"value\":");
        if (h->value)
            json_write_string(out, h->value, h->len);
        else
            buf_puts(out, "null");
        buf_putc(out, '}');
    }
    buf_printf(out, "],\"skipped\":%ld}", skipped);
    buf_puts(out, w->sse ? "\n\n" : "\n");
}

/* -- the writer: pipeline threads ------------------------------------------------------------- */

static void offer_one(tap_watcher_t *w, sluice_record_t *r, int64_t now)
{
    if (w->taken >= w->limit)
        return;
    if (w->count == TAP_RING || !tap_bucket_take(&w->bucket, now)) {
        w->skipped++;
        return;
    }
    buf_t *slot = &w->ring[(w->head + w->count) % TAP_RING];
    if (slot->cap > 4 * TAP_RECORD_MAX)
        buf_free(slot); /* one huge record does not keep its room */
    render(w, slot, r, w->skipped);
    w->skipped = 0;
    w->count++;
    w->taken++;
}

void tap_offer(tap_point_t *tp, int stage, sluice_record_t *const *recs, size_t n)
{
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&tp->mu);
    for (tap_watcher_t *w = tp->list; w; w = w->next)
        if (w->stage == stage)
            for (size_t i = 0; i < n; i++)
                if (!recs[i]->failed)
                    offer_one(w, recs[i], now);
    pthread_mutex_unlock(&tp->mu);
}

/* -- the reader: the HTTP server's stream ----------------------------------------------------- */

static long tap_read(void *obj, char *buf, size_t max)
{
    tap_watcher_t *w = obj;
    tap_point_t *tp = w->tp;
    size_t n = 0;
    pthread_mutex_lock(&tp->mu);
    while (w->count && n < max) {
        buf_t *slot = &w->ring[w->head];
        size_t k = slot->len - w->off;
        if (k > max - n)
            k = max - n;
        memcpy(buf + n, slot->data + w->off, k);
        n += k;
        w->off += k;
        if (w->off == slot->len) {
            w->off = 0;
            w->head = (w->head + 1) % TAP_RING;
            w->count--;
        }
    }
    int ended = !w->count && (tp->closed || w->taken >= w->limit);
    pthread_mutex_unlock(&tp->mu);
    if (n)
        return (long)n;
    return ended ? -1 : 0;
}

static int tap_ready(void *obj)
{
    tap_watcher_t *w = obj;
    pthread_mutex_lock(&w->tp->mu);
    int ready = w->count || w->tp->closed || w->taken >= w->limit;
    pthread_mutex_unlock(&w->tp->mu);
    return ready;
}

static void masks_free(tap_mask_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].field);
        free(m[i].replacement);
    }
    free(m);
}

static void tap_free(void *obj)
{
    tap_watcher_t *w = obj;
    tap_point_t *tp = w->tp;
    pthread_mutex_lock(&tp->mu);
    for (tap_watcher_t **pp = &tp->list; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            atomic_fetch_sub_explicit(&tp->watchers, 1, memory_order_relaxed);
            break;
        }
    pthread_mutex_unlock(&tp->mu);
    for (size_t i = 0; i < TAP_RING; i++)
        buf_free(&w->ring[i]);
    masks_free(w->masks, w->nmasks);
    free(w->connector);
    free(w->stage_name);
    free(w);
    tap_point_unref(tp);
    atomic_fetch_sub(&tap_open_n, 1);
}

const http_stream_ops_t tap_stream_ops = {tap_read, tap_ready, tap_free};

tap_watcher_t *tap_watcher_new(tap_point_t *tp, int stage, const char *connector,
                               const char *stage_name, long limit, long rate, int sse,
                               tap_mask_t *masks, size_t nmasks)
{
    if (atomic_fetch_add(&tap_open_n, 1) >= TAP_WATCHERS_MAX) {
        atomic_fetch_sub(&tap_open_n, 1);
        masks_free(masks, nmasks);
        return NULL;
    }
    tap_watcher_t *w = calloc(1, sizeof *w);
    if (!w || !(w->connector = strdup(connector)) || !(w->stage_name = strdup(stage_name))) {
        if (w)
            free(w->connector);
        free(w);
        masks_free(masks, nmasks);
        atomic_fetch_sub(&tap_open_n, 1);
        return NULL;
    }
    w->tp = tp;
    w->stage = stage;
    w->sse = sse;
    w->limit = limit;
    w->masks = masks;
    w->nmasks = nmasks;
    for (size_t i = 0; i < TAP_RING; i++)
        buf_init(&w->ring[i]);
    tap_bucket_init(&w->bucket, (double)rate, clock_mono_ms());
    atomic_fetch_add(&tp->refs, 1);
    pthread_mutex_lock(&tp->mu);
    w->next = tp->list;
    tp->list = w;
    atomic_fetch_add_explicit(&tp->watchers, 1, memory_order_relaxed);
    pthread_mutex_unlock(&tp->mu);
    return w;
}

/* -- opening a tap ---------------------------------------------------------------------------- */

/* The masks of every mask-field transform of one side (the plugin's own name: an alias such as
 * MaskField$Key is the same plugin with `where` preset). */
static int masks_of_side(const side_t *side, tap_mask_t **m, size_t *n)
{
    for (size_t t = 0; t < side->ntransforms; t++) {
        const instance_t *in = &side->transforms[t];
        if (!in->plugin || !in->cfg || strcmp(in->plugin->desc.name, "mask-field") != 0)
            continue;
        size_t k = config_has(in->cfg, "fields") ? config_count(in->cfg, "fields") : 0;
        const char *where = config_string(in->cfg, "where");
        const char *repl = config_string(in->cfg, "replacement");
        tap_mask_t *grown = realloc(*m, (*n + k + 1) * sizeof **m);
        if (!grown)
            return -1;
        *m = grown;
        for (size_t i = 0; i < k; i++) {
            tap_mask_t *x = &(*m)[(*n)++];
            x->field = strdup(config_item(in->cfg, "fields", i));
            x->key = where && strcmp(where, "key") == 0;
            x->replacement = repl ? strdup(repl) : NULL;
            if (!x->field || (repl && !x->replacement))
                return -1;
        }
    }
    return 0;
}

int tap_open(struct runtime *rt, const tap_request_t *req, const http_stream_ops_t **ops,
             void **obj, char *err, size_t errlen)
{
    pipeline_t *p = NULL;
    int is_sink = 0;
    size_t sink = 0;
    pthread_mutex_lock(&rt->lock);
    int rc = worker_locate(rt, req->connector, (void **)&p, &is_sink, &sink, err, errlen);
    if (rc != 200) {
        pthread_mutex_unlock(&rt->lock);
        return rc;
    }
    /* The stages: a source's "source" and transforms; a sink's transforms and "sink" (the
     * default: the source's own records, or what the sink receives). */
    const config_instance_t *ci = is_sink ? &p->cfg->sinks[sink] : p->cfg->source;
    const char *want = req->stage ? req->stage : is_sink ? "sink" : "source";
    size_t nst = ci->ntransforms + 1;
    int stage = -1;
    buf_t names;
    buf_init(&names);
    for (size_t i = 0; i < nst; i++) {
        const char *nm = !is_sink ? (i == 0 ? "source" : ci->transforms[i - 1].id)
                                  : (i == ci->ntransforms ? "sink" : ci->transforms[i].id);
        if (stage < 0 && strcmp(nm, want) == 0)
            stage = (int)i;
        buf_printf(&names, "%s'%s'", i ? ", " : "", nm);
    }
    if (stage < 0) {
        pthread_mutex_unlock(&rt->lock);
        snprintf(err, errlen, "Connector %s has no stage '%s'; its stages: %s", req->connector,
                 want, names.data ? names.data : "");
        buf_free(&names);
        return 400;
    }
    buf_free(&names);
    tap_mask_t *masks = NULL;
    size_t nmasks = 0;
    int mrc = masks_of_side(&p->side, &masks, &nmasks);
    for (size_t s = 0; mrc == 0 && s < p->nsinks; s++)
        if (p->sinks[s].task == 0)
            mrc = masks_of_side(&p->sinks[s].side, &masks, &nmasks);
    tap_point_t *tp = p->taps ? p->taps[is_sink ? 1 + sink : 0] : NULL;
    if (mrc != 0 || !tp) {
        pthread_mutex_unlock(&rt->lock);
        masks_free(masks, nmasks);
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    tap_watcher_t *w = tap_watcher_new(tp, stage, req->connector, want, req->limit, req->rate,
                                       req->sse, masks, nmasks);
    pthread_mutex_unlock(&rt->lock);
    if (!w) {
        snprintf(err, errlen, "%d taps are open already (at most %d): close one and retry",
                 tap_open_count(), TAP_WATCHERS_MAX);
        return 503;
    }
    *ops = &tap_stream_ops;
    *obj = w;
    return 200;
}
