/* pipeline.c — the source thread and the sink threads of a pipeline, over the run's transport.
 *
 * Source thread: poll → transforms → convert → append to the topic, one batch at a time, with one
 * tracker per batch; when every record of a batch is durable downstream its position is committed
 * (to the plugin and the offsets file), in order.
 * Sink thread: read the topic → transforms → put; flush at the flush interval, when the topic is
 * under pressure, when idle and at the end; only a successful flush commits the records to the
 * transport, which lets it free them (and the source commit) or records the sink's position. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "pipeline.h"
#include "predicate.h"
#include "tap.h"
#include "worker.h"

#define SOURCE_POLL_MS 100
#define SINK_IDLE_MS   50
/* The longest wait before a NOT_CONNECTED source is polled again. */
#define SOURCE_RECONNECT_MAX_MS 5000
#define ARENA_BLOCK             (256 * 1024)
/* On stop, how long records in flight to a TRANSPORT_SELF_ACKED transport are waited for. */
#define ACK_DRAIN_MS 30000

/* Sleep up to `ms`, waking early when `flag` is set. */
static void sleep_unless(int64_t ms, const atomic_int *flag, const atomic_int *flag2)
{
    while (ms > 0 && !atomic_load(flag) && !(flag2 && atomic_load(flag2))) {
        int64_t step = ms < 50 ? ms : 50;
        struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* -- task statistics ---------------------------------------------------------------------------
 * Relaxed atomics (counters, not synchronisation), touched once per batch or event, never per
 * record. */

static void stats_add(atomic_long *c, long n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void stats_max(atomic_long *c, long v)
{
    long cur = atomic_load_explicit(c, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(c, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static void stats_error(task_stats_t *st)
{
    atomic_store_explicit(&st->last_error_ms, clock_wall_ms(), memory_order_relaxed);
}

static void stats_batch(task_stats_t *st, size_t n)
{
    stats_add(&st->batches, 1);
    stats_add(&st->batch_records, (long)n);
    stats_max(&st->batch_max, (long)n);
}

static void stats_commit(task_stats_t *st, int ok, int64_t started_ms)
{
    long ms = (long)(clock_mono_ms() - started_ms);
    stats_add(ok ? &st->commits : &st->commit_failures, 1);
    stats_add(&st->commit_ms_total, ms);
    stats_max(&st->commit_ms_max, ms);
}

void task_stats_read(const task_stats_t *s, struct worker_counters *out)
{
#define STAT(f) atomic_load_explicit(&s->f, memory_order_relaxed)
    out->batches = STAT(batches);
    out->batch_max = STAT(batch_max);
    out->batch_records = STAT(batch_records);
    out->commits = STAT(commits);
    out->commit_failures = STAT(commit_failures);
    out->commit_ms_total = STAT(commit_ms_total);
    out->commit_ms_max = STAT(commit_ms_max);
    out->skipped = STAT(skipped);
    out->retries = STAT(retries);
    out->dlq_failures = STAT(dlq_failures);
    out->last_error_ms = (int64_t)STAT(last_error_ms);
#undef STAT
}

/* Send staged records to a topic through the pipeline's writer (the stage is emptied). */
static int side_send(pipeline_t *p, transport_topic_t *to, topic_stage_t *stage, tracker_t *tr)
{
    return p->writer->ops->append(p->writer, to, stage, tr, &p->abort);
}

/* The pipeline thread `p` ends: wake whoever waits for it. */
static void pipeline_ended(pipeline_t *p)
{
    pthread_mutex_lock(&p->ended->mu);
    p->ended->kicked = 1;
    pthread_cond_broadcast(&p->ended->cv);
    pthread_mutex_unlock(&p->ended->mu);
}

/* -- failed records ---------------------------------------------------------------------------- */

struct failed_list {
    sluice_record_t **recs;
    size_t len, cap;
};

static int failed_add(arena_t *a, struct failed_list *f, sluice_record_t *r)
{
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        sluice_record_t **n = arena_grow(a, f->recs, f->cap * sizeof *n, cap * sizeof *n);
        if (!n)
            return -1;
        f->recs = n;
        f->cap = cap;
    }
    f->recs[f->len++] = r;
    return 0;
}

static void dlq_header(sluice_record_t *r, const char *name, const char *value)
{
    record_add_header(r, name, value, strlen(value));
}

/* Stage a failed record for the dead-letter topic: its original bytes when it came from a topic,
 * else its value as text; the original headers; Kafka Connect's __connect.errors.* context. */
static int dlq_stage(side_t *side, const char *pipeline_id, const char *plugin, int task,
                     sluice_record_t *r, const topic_view_t *orig, topic_stage_t *stage,
                     buf_t *scratch)
{
    const void *key = NULL, *val = NULL;
    size_t klen = 0, vlen = 0;
    int knull = 1, vnull = 1;
    if (orig) {
        key = orig->key, klen = orig->key_len, knull = orig->key_null;
        val = orig->value, vlen = orig->value_len, vnull = orig->value_null;
    } else {
        char err[256];
        sluice_value_t *v = r->value.value ? r->value.value : record_get_value(r, err, sizeof err);
        buf_reset(scratch);
        if (v && v->type != SLUICE_TYPE_NULL) {
            if (v->type == SLUICE_TYPE_STRING || v->type == SLUICE_TYPE_BYTES)
                buf_append(scratch, v->u.s.ptr, v->u.s.len);
            else
                json_write(scratch, v, JSON_DECIMAL_BASE64);
            val = scratch->data;
            vlen = scratch->len;
            vnull = 0;
        }
    }
    if (side->dlq_context_headers) {
        char num[32];
        dlq_header(r, "__connect.errors.topic", r->topic ? r->topic : "");
        if (orig) {
            snprintf(num, sizeof num, "%d", (int)orig->partition);
            dlq_header(r, "__connect.errors.partition", num);
            snprintf(num, sizeof num, "%lld", (long long)orig->offset);
            dlq_header(r, "__connect.errors.offset", num);
        }
        dlq_header(r, "__connect.errors.connector.name", pipeline_id);
        snprintf(num, sizeof num, "%d", task);
        dlq_header(r, "__connect.errors.task.id", num);
        dlq_header(r, "__connect.errors.stage", r->fail_stage ? r->fail_stage : "UNKNOWN");
        dlq_header(r, "__connect.errors.class.name", r->fail_plugin ? r->fail_plugin : plugin);
        dlq_header(r, "__connect.errors.exception.class.name", "sluice.RecordError");
        dlq_header(r, "__connect.errors.exception.message", r->fail_reason ? r->fail_reason : "");
    }
    return topic_stage_add(stage, r, key, klen, knull, val, vlen, vnull);
}

/* Route failed records by errors.tolerance. Returns -1 when the side must fail (tolerance none). */
static int failed_route(pipeline_t *p, side_t *side, sluice_ctx_t *ctx, const char *plugin,
                        int task, struct failed_list *f, const topic_view_t *views, size_t nviews,
                        tracker_t *tr, atomic_long *errors, atomic_long *dlq_count,
                        task_stats_t *st)
{
    if (f->len == 0)
        return 0;
    atomic_fetch_add(errors, (long)f->len);
    stats_error(st);
    if (!side->tolerance_all) {
        sluice_record_t *r = f->recs[0];
        log_error(ctx->name,
                  "record %s%lld failed in stage %s: %s (errors.tolerance is none: stopping; set "
                  "errors.tolerance: all to skip or dead-letter such records)",
                  r->offset >= 0 ? "at offset " : "", (long long)(r->offset >= 0 ? r->offset : 0),
                  r->fail_stage ? r->fail_stage : "?", r->fail_reason ? r->fail_reason : "");
        return -1;
    }
    if (side->log_errors) {
        buf_t text;
        buf_init(&text);
        for (size_t i = 0; i < f->len; i++) {
            sluice_record_t *r = f->recs[i];
            buf_reset(&text);
            if (side->log_messages) {
                /* The value as the pipeline saw it, cut short: a log line is not a data dump. */
                char err[128];
                sluice_value_t *v =
                    r->value.value ? r->value.value : record_get_value(r, err, sizeof err);
                buf_puts(&text, "; value: ");
                if (v)
                    json_write(&text, v, JSON_DECIMAL_BASE64);
                else
                    buf_puts(&text, "(undecodable)");
                if (text.len > 512) {
                    text.len = 509;
                    buf_puts(&text, "...");
                }
            }
            log_limited(&ctx->limits, ctx->name, SLUICE_LOG_WARN, "errors.log", 60,
                        "skipping record%s: stage %s: %s%s", side->dlq ? " (dead-lettered)" : "",
                        r->fail_stage, r->fail_reason, text.len ? text.data : "");
        }
        buf_free(&text);
    }
    stats_add(&st->skipped, (long)f->len);
    if (!side->dlq)
        return 0;
    topic_stage_t stage;
    buf_t scratch;
    topic_stage_init(&stage);
    buf_init(&scratch);
    for (size_t i = 0; i < f->len; i++) {
        sluice_record_t *r = f->recs[i];
        const topic_view_t *orig = NULL;
        for (size_t k = 0; views && r->offset >= 0 && k < nviews && !orig; k++)
            if (views[k].offset == r->offset && views[k].partition == r->partition)
                orig = &views[k];
        if (dlq_stage(side, p->id, plugin, task, r, orig, &stage, &scratch) != 0)
            log_error(ctx->name, "cannot stage a dead-letter record: out of memory");
    }
    int rc = 0;
    if (side_send(p, side->dlq, &stage, tr) != 0) {
        log_error(ctx->name, "dead-letter topic '%s': append interrupted", side->dlq->name);
        stats_add(&st->dlq_failures, (long)f->len);
        rc = -1;
    } else {
        atomic_fetch_add(dlq_count, (long)f->len);
    }
    topic_stage_free(&stage);
    buf_free(&scratch);
    return rc;
}

/* One transform on one record: its outputs go to `out`; on failure the record is failed and added
 * to `f`. */
static void transform_one(instance_t *ti, sluice_record_t *r, sluice_batch_t *out,
                          struct failed_list *f, arena_t *arena)
{
    if (ti->pred && !predicate_applies(ti->pred, r)) {
        batch_push(out, r); /* not for this transform: on to the next unchanged */
        return;
    }
    char err[512];
    err[0] = '\0'; /* not `= ""`: that zero-fills 512 bytes per record and transform */
    sluice_err_t e = ti->plugin->transform.process(ti->state, r, out, err, sizeof err);
    if (e == SLUICE_OK)
        return;
    char msg[900], where[300];
    if (r->offset >= 0)
        snprintf(where, sizeof where, "topic '%s' partition %d offset %lld",
                 r->topic ? r->topic : "", (int)r->partition, (long long)r->offset);
    else
        snprintf(where, sizeof where, "topic '%s' (from the source, not yet written)",
                 r->topic ? r->topic : "");
    snprintf(msg, sizeof msg, "%s (transform %s) failed on the record of %s: %s", ti->ctx.name,
             ti->plugin->desc.name, where, err[0] ? err : "transform failed");
    record_fail(r, r->decode_stage ? r->decode_stage : "TRANSFORMATION", msg);
    r->fail_plugin = ti->plugin->desc.name;
    failed_add(arena, f, r);
}

/* Run a batch through a chain of transforms, one record at a time through the whole chain (a
 * record's values stay in the cache from the first transform to the last; a pass of each
 * transform over the whole batch would read them back from memory once per transform). Output
 * order is input order. Failed records go to `f`. `tmp` holds CHAIN_TMP batches that must outlive
 * the result (records a transform creates point at them). */
static sluice_batch_t *transforms_apply(side_t *side, sluice_batch_t *in, sluice_batch_t *tmp,
                                        struct failed_list *f, int tap_first)
{
    if (!side->ntransforms)
        return in;
    /* Someone taps one of these transforms (tap.h): each transform's output is offered to its
     * stage (`tap_first` + its index), so the record enters the chain before the first one. */
    int tapped =
        tap_active(side->tap) && tap_watches(side->tap, (size_t)tap_first, side->ntransforms);
    sluice_batch_t *out = &tmp[0], *a = &tmp[1], *b = &tmp[2];
    batch_init(out, in->arena, in->codec);
    batch_init(a, in->arena, in->codec);
    batch_init(b, in->arena, in->codec);
    for (size_t i = 0; i < in->len; i++) {
        sluice_record_t *r = in->recs[i];
        if (r->failed) {
            failed_add(in->arena, f, r);
            continue;
        }
        if (!tapped && side->ntransforms == 1) {
            transform_one(&side->transforms[0], r, out, f, in->arena);
            continue;
        }
        /* Stage by stage for this record: `a` holds what the previous transform gave. */
        a->len = 0;
        size_t t = 0;
        if (!tapped) {
            transform_one(&side->transforms[0], r, a, f, in->arena);
            t = 1;
        } else if (batch_push(a, r) != 0) {
            record_fail(r, "TRANSFORMATION", "out of memory");
            failed_add(in->arena, f, r);
            continue;
        }
        for (; t < side->ntransforms && a->len; t++) {
            sluice_batch_t *dst = t + 1 == side->ntransforms ? out : b;
            if (dst == b)
                b->len = 0;
            size_t before = dst->len;
            for (size_t k = 0; k < a->len; k++)
                transform_one(&side->transforms[t], a->recs[k], dst, f, in->arena);
            if (tapped && dst->len > before && tap_active(side->tap) &&
                tap_watches(side->tap, (size_t)tap_first + t, 1))
                tap_offer(side->tap, tap_first + (int)t, dst->recs + before, dst->len - before);
            if (dst == b) {
                sluice_batch_t swap = *a;
                *a = *b;
                *b = swap;
            }
        }
    }
    return out;
}

sluice_batch_t *pipeline_chain_apply(side_t *side, sluice_batch_t *in, sluice_batch_t *tmp)
{
    struct failed_list f = {0};
    sluice_batch_t *out = transforms_apply(side, in, tmp, &f, 0);
    /* The records that failed at the last transform are only marked: collect nothing more. */
    return out;
}

/* Wait out a passing failure (the schema registry away) with backoff, within errors.retry.timeout.
 * `*since` is 0 before the first failure. Returns 0 to try again, -1 to give up (the failure
 * stands), -2 when the run stops meanwhile (nothing of the attempt may count as done). */
static int retry_wait(pipeline_t *p, side_t *side, sluice_ctx_t *ctx, backoff_t *bo, int64_t *since,
                      const atomic_int *stop, const char *what, const char *err)
{
    int64_t now = clock_mono_ms();
    if (!*since)
        *since = now;
    if (atomic_load(&p->abort) || atomic_load(stop))
        return -2;
    if (side->retry_timeout_ms >= 0 && now - *since > side->retry_timeout_ms)
        return -1;
    int64_t d = backoff_next(bo);
    log_limited(&ctx->limits, ctx->name, SLUICE_LOG_WARN, what, 6, "%s: %s; retrying in %lld ms",
                what, err, (long long)d);
    sleep_unless(d, &p->abort, stop);
    return atomic_load(&p->abort) || atomic_load(stop) ? -2 : 0;
}

/* -- source side ------------------------------------------------------------------------------- */

static void source_commit(pipeline_t *p, int64_t *last_write, int force)
{
    /* Pop the completed trackers at the head, in order; commit the newest position among them. */
    tracker_t *with_pos = NULL;
    int64_t next_offset = -1;
    while (p->inflight_head && atomic_load(&p->inflight_head->pending) == 0) {
        tracker_t *t = p->inflight_head;
        if (atomic_load(&t->failed) && !atomic_load(&p->failed)) {
            /* The transport lost a record of this batch for good (Kafka refused it): its position
             * and every later one stay uncommitted, so a restart produces them again. */
            log_error(p->source.ctx.name,
                      "a record could not be delivered to %s: stopping without committing its "
                      "position",
                      p->writer->ops->name);
            atomic_store(&p->failed, 1);
            atomic_store(&p->stop, 1);
        }
        p->inflight_head = t->next;
        if (!p->inflight_head)
            p->inflight_tail = NULL;
        next_offset = t->next_offset;
        if (t->position) {
            if (with_pos) {
                free(with_pos->position);
                free(with_pos);
            }
            with_pos = t;
        } else {
            free(t);
        }
    }
    if (with_pos && (atomic_load(&p->failed) || atomic_load(&p->hold_commits))) {
        /* A failed sink left the topic, which lets its unflushed records go as if acked: after a
         * failure nothing more is committed, so a restart delivers them again. */
        free(with_pos->position);
        free(with_pos);
        with_pos = NULL;
    }
    if (with_pos && p->source.plugin->source.commit) {
        char err[512] = "";
        if (p->source.plugin->source.commit(p->source.state, with_pos->position,
                                            with_pos->position_len, err, sizeof err) != SLUICE_OK)
            log_warn(p->source.ctx.name, "commit of a position failed: %s", err);
    }
    if (with_pos) {
        offsets_put(p->offsets, p->id, with_pos->position, with_pos->position_len, next_offset);
        p->offsets_unflushed = 1;
    }
    if (with_pos) {
        free(with_pos->position);
        free(with_pos);
    }
    int64_t now = clock_mono_ms();
    if (force || now - *last_write >= p->side.flush_interval_ms) {
        char err[512];
        int ok = offsets_flush(p->offsets, err, sizeof err) == 0;
        if (!ok)
            log_error(p->source.ctx.name, "%s", err);
        else
            p->offsets_unflushed = 0;
        stats_commit(&p->stats, ok, now);
        *last_write = now;
    }
}

/* converter_encode, waiting out a passing failure (the schema registry away: SLUICE_ERR_IO) with
 * backoff within errors.retry.timeout, so that an outage delays records instead of failing them. */
static sluice_err_t encode_retrying(pipeline_t *p, converter_t *c, const char *topic,
                                    const sluice_value_t *v, buf_t *out, int *is_null, char *errstr,
                                    size_t errstr_size)
{
    int64_t since = 0;
    for (;;) {
        sluice_err_t e = converter_encode(c, topic, v, out, is_null, errstr, errstr_size);
        if (e == SLUICE_OK && since)
            backoff_reset(&p->encode_bo);
        if (e != SLUICE_ERR_IO)
            return e;
        int w = retry_wait(p, &p->side, &p->source.ctx, &p->encode_bo, &since, &p->stop, "encode",
                           errstr);
        if (w == -2)
            return SLUICE_AGAIN; /* stopped: the batch is dropped uncommitted */
        if (w != 0)
            return e;
        stats_add(&p->stats.retries, 1);
    }
}

/* Records a transform routed to other topics, staged per topic while a batch is encoded and sent
 * with it (one append per topic and batch, not one per record). */
#define ROUTED_MAX 8
struct routed {
    const char *name; /* in the batch's arena */
    transport_topic_t *to;
    topic_stage_t stage;
};

static int routed_send(pipeline_t *p, struct routed *routed, size_t *n, tracker_t *tr)
{
    for (size_t i = 0; i < *n; i++) {
        if (routed[i].stage.count && side_send(p, routed[i].to, &routed[i].stage, tr) != 0)
            return -1;
        topic_stage_free(&routed[i].stage);
    }
    *n = 0;
    return 0;
}

static struct routed *routed_stage(pipeline_t *p, struct routed *routed, size_t *n,
                                   const char *name, tracker_t *tr)
{
    for (size_t i = 0; i < *n; i++)
        if (routed[i].name == name || strcmp(routed[i].name, name) == 0)
            return &routed[i];
    if (*n == ROUTED_MAX && routed_send(p, routed, n, tr) != 0)
        return NULL; /* many topics in one batch: send what is staged and start over */
    transport_topic_t *to = p->writer->ops->route(p->writer, name, &p->abort);
    if (!to)
        return NULL;
    struct routed *r = &routed[(*n)++];
    r->name = name;
    r->to = to;
    topic_stage_init(&r->stage);
    return r;
}

/* Convert and append one polled batch. Returns -1 when the pipeline must fail, -2 when the run
 * stopped before the batch could be encoded (nothing of it was sent). */
static int source_deliver(pipeline_t *p, sluice_batch_t *batch, topic_stage_t *stage, buf_t *kb,
                          buf_t *vb)
{
    side_t *side = &p->side;
    struct failed_list f = {0};
    sluice_batch_t tmp[CHAIN_TMP];
    struct routed routed[ROUTED_MAX];
    size_t nrouted = 0;
    tracker_t *tr = calloc(1, sizeof *tr);
    if (!tr)
        return -1;
    atomic_store(&tr->pending, 1);
    for (size_t i = batch->len; i-- > 0;)
        if (batch->recs[i]->position) {
            tr->position = malloc(batch->recs[i]->position_len + 1);
            if (tr->position) {
                memcpy(tr->position, batch->recs[i]->position, batch->recs[i]->position_len);
                tr->position_len = batch->recs[i]->position_len;
            }
            break;
        }
    atomic_fetch_add(&p->in, (long)batch->len);
    /* The tap (tap.h): one relaxed load per batch; stage 0 is what the source produced. */
    if (tap_active(side->tap) && tap_watches(side->tap, 0, 1))
        tap_offer(side->tap, 0, batch->recs, batch->len);
    sluice_batch_t *out = transforms_apply(side, batch, tmp, &f, 1);
    int rc = 0;
    for (size_t i = 0; i < out->len; i++) {
        sluice_record_t *r = out->recs[i];
        if (r->failed) {
            failed_add(batch->arena, &f, r);
            continue;
        }
        char err[512];
        err[0] = '\0';
        int knull = 0, vnull = 0;
        buf_reset(kb);
        buf_reset(vb);
        const char *to = r->topic ? r->topic : p->topic->name;
        sluice_err_t ke =
            encode_retrying(p, &side->key_conv, to, r->key.value, kb, &knull, err, sizeof err);
        sluice_err_t ve = ke == SLUICE_OK
                              ? encode_retrying(p, &side->value_conv, to, r->value.value, vb,
                                                &vnull, err, sizeof err)
                              : SLUICE_OK;
        if (ke == SLUICE_AGAIN || ve == SLUICE_AGAIN) {
            /* Stopped while the schema registry was away: deliver nothing of this batch and
             * commit no position from it; the next run reads it again. */
            free(tr->position);
            tr->position = NULL;
            stage->buf.len = 0;
            stage->count = 0;
            rc = -2;
            goto out;
        }
        if (ke != SLUICE_OK) {
            record_fail(r, "KEY_CONVERTER", err);
            failed_add(batch->arena, &f, r);
            continue;
        }
        if (ve != SLUICE_OK) {
            record_fail(r, "VALUE_CONVERTER", err);
            failed_add(batch->arena, &f, r);
            continue;
        }
        if (r->timestamp == 0)
            r->timestamp = clock_wall_ms();
        if (r->topic && r->topic != p->topic->name && strcmp(r->topic, p->topic->name) != 0) {
            /* A transform routed the record elsewhere: staged per topic, sent with the batch. */
            struct routed *to_stage = routed_stage(p, routed, &nrouted, r->topic, tr);
            if (!to_stage || topic_stage_add(&to_stage->stage, r, kb->data, kb->len, knull,
                                             vb->data, vb->len, vnull) != 0) {
                rc = -1;
                goto out;
            }
            continue;
        }
        if (topic_stage_add(stage, r, kb->data, kb->len, knull, vb->data, vb->len, vnull) != 0) {
            log_error(p->source.ctx.name, "out of memory staging a record");
            rc = -1;
            goto out;
        }
    }
    if (f.len && !side->tolerance_all) {
        /* The pipeline stops: deliver nothing of this batch and commit no position from it, so a
         * restart reads the failed record (and those around it) again. */
        free(tr->position);
        tr->position = NULL;
        stage->buf.len = 0;
        stage->count = 0;
        failed_route(p, side, &p->source.ctx, p->source.plugin->desc.name, 0, &f, NULL, 0, tr,
                     &p->errors, &p->dlq, &p->stats);
        rc = -1;
        goto out;
    }
    long written = (long)stage->count;
    for (size_t i = 0; i < nrouted; i++)
        written += (long)routed[i].stage.count;
    if (routed_send(p, routed, &nrouted, tr) != 0 || side_send(p, p->topic, stage, tr) != 0) {
        rc = -1;
        goto out;
    }
    stats_add(&p->stats.written, written);
    if (failed_route(p, side, &p->source.ctx, p->source.plugin->desc.name, 0, &f, NULL, 0, tr,
                     &p->errors, &p->dlq, &p->stats) != 0)
        rc = -1;
out:
    for (size_t i = 0; i < nrouted; i++)
        topic_stage_free(&routed[i].stage);
    tr->next_offset = p->writer->ops->next_offset(p->topic);
    atomic_fetch_sub(&tr->pending, 1);
    if (p->inflight_tail)
        p->inflight_tail->next = tr;
    else
        p->inflight_head = tr;
    p->inflight_tail = tr;
    return rc;
}

/* The pipeline key max.message.bytes on a side's converters (made with the default). */
static void side_max_message_bytes(side_t *side, const pipeline_t *p)
{
    size_t max = (size_t)config_size(p->cfg->core, "max.message.bytes");
    side->key_conv.max_bytes = side->value_conv.max_bytes = max;
}

void pipeline_sink_wake(sink_rt_t *s)
{
    if (s->reader && s->reader->ops->wake)
        s->reader->ops->wake(s->reader);
}

void pipeline_source_wake(pipeline_t *p)
{
    if (p->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(p->wake_fd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is full, so it is readable: woken anyway */
    }
}

/* Nothing available and nothing in flight: sleep until the plugin's descriptor is readable or a
 * flag changes (pipeline_source_wake), not on a clock. */
static void source_sleep(pipeline_t *p, int fd)
{
    struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = p->wake_fd, .events = POLLIN}};
    if (atomic_load(&p->stop) || atomic_load(&p->abort) || atomic_load(&p->paused))
        return;
    if (poll(pfd, 2, -1) > 0 && (pfd[1].revents & POLLIN)) {
        uint64_t n;
        ssize_t r = read(p->wake_fd, &n, sizeof n);
        (void)r;
    }
}

void *pipeline_source_main(void *arg)
{
    pipeline_t *p = arg;
    side_max_message_bytes(&p->side, p);
    instance_t *src = &p->source;
    const struct sluice_source *ops = &src->plugin->source;
    arena_t arena;
    topic_stage_t stage;
    buf_t kb, vb;
    backoff_t bo;
    int64_t last_write = clock_mono_ms();
    arena_init(&arena, ARENA_BLOCK);
    topic_stage_init(&stage);
    buf_init(&kb);
    buf_init(&vb);
    backoff_init(&bo, 300, p->side.retry_delay_max_ms,
                 (uint64_t)clock_mono_ms() ^ (uint64_t)(uintptr_t)p);
    backoff_init(&p->encode_bo, 300, p->side.retry_delay_max_ms,
                 (uint64_t)clock_mono_ms() ^ 0x5bd1e995u);
    int64_t failing_since = 0;
    /* A plugin that offers a descriptor is waited on there once it has nothing (AGAIN) and no
     * position waits to be committed or written out: an idle source then costs no wakeups. */
    int idle = 0;

    log_clear_last_error();
    while (!atomic_load(&p->stop) && !atomic_load(&p->abort)) {
        source_commit(p, &last_write, 0);
        int poll_ms = SOURCE_POLL_MS;
        /* Not before the last position is written out (offset.flush.interval.ms): a crash while
         * idle must not lose it. */
        /* Asked each time: a plugin's descriptor may change (a device reopened) or go (-1). */
        int wait_fd = idle && ops->fd && p->wake_fd >= 0 ? ops->fd(src->state) : -1;
        if (wait_fd >= 0 && !p->inflight_head && !p->offsets_unflushed) {
            source_sleep(p, wait_fd);
            poll_ms = 0;
            if (atomic_load(&p->stop) || atomic_load(&p->abort))
                break;
        }
        idle = 0;
        if (atomic_load(&p->paused)) {
            /* Paused (worker.h): nothing is polled; what is in flight still commits. */
            atomic_store(&p->paused_ack, 1);
            sleep_unless(SOURCE_POLL_MS, &p->stop, &p->abort);
            continue;
        }
        atomic_store(&p->paused_ack, 0);
        arena_reset(&arena);
        sluice_batch_t batch;
        batch_init(&batch, &arena, &p->side.codec);
        char err[1024] = "";
        sluice_err_t e = ops->poll(src->state, &batch, poll_ms, err, sizeof err);
        idle = e == SLUICE_AGAIN && batch.len == 0;
        atomic_store_explicit(&p->unconnected, e == SLUICE_NOT_CONNECTED, memory_order_relaxed);
        if (e == SLUICE_NOT_CONNECTED || e == SLUICE_RETRY) {
            int64_t now = clock_mono_ms();
            if (!failing_since)
                failing_since = now;
            if (p->side.retry_timeout_ms >= 0 && now - failing_since > p->side.retry_timeout_ms) {
                log_error(src->ctx.name, "still failing after errors.retry.timeout (%lld ms): %s",
                          (long long)p->side.retry_timeout_ms, err);
                atomic_store(&p->failed, 1);
                break;
            }
            /* A peer that is away (a device unplugged, a server down) is looked for again
             * at least every SOURCE_RECONNECT_MAX_MS, whatever errors.retry.delay.max.ms
             * says: the plugin paces its own attempts, and a sensor plugged back in must not
             * wait a minute. */
            int64_t d = backoff_next(&bo);
            if (d > SOURCE_RECONNECT_MAX_MS)
                d = SOURCE_RECONNECT_MAX_MS;
            log_limited(&src->ctx.limits, src->ctx.name, SLUICE_LOG_WARN, "not-connected", 6,
                        "%s; retrying in %lld ms", err[0] ? err : "not connected", (long long)d);
            stats_add(&p->stats.retries, 1);
            if (batch.len == 0) {
                sleep_unless(d, &p->stop, &p->abort);
                continue;
            }
        } else if (e != SLUICE_OK && e != SLUICE_AGAIN && e != SLUICE_EOF) {
            log_error(src->ctx.name, "poll failed: %s", err[0] ? err : "fatal error");
            stats_error(&p->stats);
            atomic_store(&p->failed, 1);
            break;
        } else {
            failing_since = 0;
            backoff_reset(&bo);
        }
        if (batch.len > 0)
            stats_batch(&p->stats, batch.len);
        int drc = batch.len > 0 ? source_deliver(p, &batch, &stage, &kb, &vb) : 0;
        if (drc == -2)
            break; /* stopped while waiting to encode: nothing of the batch went out */
        if (drc != 0) {
            if (!atomic_load(&p->abort))
                atomic_store(&p->failed, 1);
            break;
        }
        if (e == SLUICE_EOF) {
            log_info(src->ctx.name, "source reached its end");
            break;
        }
    }
    if (ops->stop)
        ops->stop(src->state);
    atomic_store(&p->stop, 1);
    const struct transport_ops *tops = p->writer->ops;
    tops->writer_done(p->writer, p->topic);
    if (p->side.dlq)
        tops->writer_done(p->writer, p->side.dlq);
    for (size_t i = 0; i < p->nroute_targets; i++)
        tops->writer_done(p->writer, p->route_targets[i]);
    /* Wait until the sinks have flushed what was appended (a self-acking transport: until it
     * acknowledged it), then commit its position. */
    int64_t wait_start = clock_mono_ms();
    while (p->inflight_head && !atomic_load(&p->abort)) {
        source_commit(p, &last_write, 0);
        if (!p->inflight_head)
            break;
        if (tops->caps & TRANSPORT_SELF_ACKED) {
            if (atomic_load(&p->shutdown) && clock_mono_ms() - wait_start > ACK_DRAIN_MS) {
                log_warn(src->ctx.name,
                         "%ld records not acknowledged by %s %d s after the stop; their "
                         "positions stay uncommitted (they are produced again at the next run)",
                         tops->inflight(p->writer), tops->name, ACK_DRAIN_MS / 1000);
                break;
            }
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int all_gone = 1;
        for (size_t i = 0; i < p->nsinks; i++)
            all_gone &= atomic_load(&p->sinks[i].done) != 0;
        if (all_gone && p->nsinks > 0 && tops->readers(p->topic) == p->nsinks)
            break; /* the sinks ended (failed): what is still in flight will not be acked */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    source_commit(p, &last_write, 1);
    if (p->inflight_head)
        tops->purge(p->writer, 10000);
    /* Trackers still in flight may yet be touched: by a chunk of an in-process topic that a sink
     * of another pipeline acks later (a dead-letter topic), or by a late delivery report. They
     * are freed by runtime_free, after every thread and the transport are gone. */
    if (p->inflight_tail) {
        /* Kept across restarts of the source (worker.h): prepended to the earlier ones. */
        p->inflight_tail->next = p->orphans;
        p->orphans = p->inflight_head;
    }
    p->inflight_head = p->inflight_tail = NULL;
    if (atomic_load(&p->failed))
        snprintf(p->ctl.trace, sizeof p->ctl.trace, "%s",
                 log_last_error()[0] ? log_last_error() : "the source failed");
    topic_stage_free(&stage);
    buf_free(&kb);
    buf_free(&vb);
    arena_free(&arena);
    atomic_store(&p->source_done, 1);
    pipeline_ended(p);
    return NULL;
}

/* -- sink side --------------------------------------------------------------------------------- */

/* Call put (batch), precommit (pre) or flush (neither) until it succeeds, fails for good, or the
 * run aborts. */
static sluice_err_t sink_call(sink_rt_t *s, sluice_batch_t *batch, struct sluice_offset *pre,
                              size_t npre, backoff_t *bo)
{
    pipeline_t *p = s->p;
    const struct sluice_sink *ops = &s->inst.plugin->sink;
    const char *what = batch ? "put" : pre ? "precommit" : "flush";
    int64_t failing_since = 0;
    for (;;) {
        char err[1024] = "";
        sluice_err_t e =
            batch ? ops->put(s->inst.state, batch, err, sizeof err)
            : pre ? loader_precommit(s->inst.plugin, s->inst.state, pre, npre, err, sizeof err)
                  : ops->flush(s->inst.state, err, sizeof err);
        atomic_store_explicit(&s->unconnected, e == SLUICE_NOT_CONNECTED, memory_order_relaxed);
        if (e == SLUICE_OK) {
            backoff_reset(bo);
            return SLUICE_OK;
        }
        if (e != SLUICE_RETRY && e != SLUICE_NOT_CONNECTED) {
            log_error(s->inst.ctx.name, "%s failed: %s", what, err[0] ? err : "fatal error");
            stats_error(&s->stats);
            return SLUICE_FATAL;
        }
        int64_t now = clock_mono_ms();
        if (!failing_since)
            failing_since = now;
        if (s->side.retry_timeout_ms >= 0 && now - failing_since > s->side.retry_timeout_ms) {
            log_error(s->inst.ctx.name, "%s still failing after errors.retry.timeout: %s", what,
                      err);
            return SLUICE_FATAL;
        }
        /* An operator's stop or restart (worker.h) ends the retries: nothing is committed. */
        if (atomic_load(&p->abort) || atomic_load(&s->stop))
            return SLUICE_FATAL;
        atomic_fetch_add_explicit(&s->stats.retries, 1, memory_order_relaxed);
        int64_t d = backoff_next(bo);
        log_limited(&s->inst.ctx.limits, s->inst.ctx.name, SLUICE_LOG_WARN, "retry", 6,
                    "%s: %s; retrying in %lld ms", what, err[0] ? err : "temporary failure",
                    (long long)d);
        sleep_unless(d, &p->abort, &s->stop);
    }
}

static void sink_fill(sink_rt_t *s, sluice_batch_t *b, const topic_view_t *views, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const topic_view_t *v = &views[i];
        sluice_record_t *r = batch_add(b);
        if (!r)
            return;
        r->topic = s->p->topic->name;
        r->partition = v->partition;
        r->offset = v->offset;
        r->timestamp = v->timestamp;
        r->key.bytes = v->key;
        r->key.len = v->key_len;
        r->key.is_null = v->key_null;
        r->key.has_bytes = 1;
        r->value.bytes = v->value;
        r->value.len = v->value_len;
        r->value.is_null = v->value_null;
        r->value.has_bytes = 1;
        if (v->nheaders || s->reader->ops->load_headers)
            s->reader->ops->headers(s->reader, i, v, r);
    }
}

/* Convert the records of a read before the sink sees any, where that matters:
 * - records that may come from outside the run (TRANSPORT_FOREIGN: Kafka) with errors.tolerance
 *   none, as Kafka Connect does, so that nothing after an undecodable record is delivered: the
 *   batch is cut before it and it goes to `f` (where failed_route stops the sink);
 * - the avro converter, whose decoding may need the schema registry: while it is away the read is
 *   retried with backoff (errors.retry.timeout), instead of failing every record; a record that
 *   does not decode for good is taken out of the batch into `f` (tolerance all).
 * Elsewhere decoding stays lazy: in-process the bytes come from the pipeline's own converter, and
 * only what something looks at is decoded. */
static void sink_convert(sink_rt_t *s, sluice_batch_t *b, struct failed_list *f)
{
    converter_t *kc = &s->side.key_conv, *vc = &s->side.value_conv;
    int strict = (s->reader->ops->caps & TRANSPORT_FOREIGN) && !s->side.tolerance_all;
    int key = kc->kind == CONVERTER_AVRO || (strict && kc->kind == CONVERTER_JSON);
    int val = vc->kind == CONVERTER_AVRO || (strict && vc->kind == CONVERTER_JSON);
    if (!key && !val)
        return;
    size_t kept = 0;
    int64_t since = 0;
    for (size_t i = 0; i < b->len; i++) {
        sluice_record_t *r = b->recs[i];
        char err[600] = "";
        while ((key && !record_get_key(r, err, sizeof err)) ||
               (val && !record_get_value(r, err, sizeof err))) {
            int w = r->decode_transient ? retry_wait(s->p, &s->side, &s->inst.ctx, &s->bo, &since,
                                                     &s->p->shutdown, "decode", err)
                                        : -1;
            if (w == 0) {
                stats_add(&s->stats.retries, 1);
                r->decode_transient = 0;
                r->decode_stage = NULL;
                continue;
            }
            if (w == -2) {
                /* Stopped while the schema registry was away: this read is not delivered and
                 * none of it is committed. */
                s->interrupted = 1;
                b->len = 0;
                return;
            }
            record_fail(r, r->decode_stage, err);
            failed_add(b->arena, f, r);
            if (!s->side.tolerance_all) {
                b->len = kept;
                return;
            }
            break;
        }
        if (!r->failed)
            b->recs[kept++] = r;
    }
    b->len = kept;
}

/* Wait until the dead-letter records this sink appended are acknowledged (TRANSPORT_SELF_ACKED:
 * their originals' offsets may be committed only then; elsewhere none is tracked). 0 when they
 * are. */
static int sink_dlq_settled(sink_rt_t *s)
{
    while (atomic_load(&s->dlq_tr.pending) > 0 && !atomic_load(&s->p->abort)) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->dlq_tr.failed)) {
        stats_add(&s->stats.dlq_failures, 1);
        log_error(s->inst.ctx.name,
                  "a dead-letter record could not be delivered to %s: stopping without committing",
                  s->reader->ops->name);
        return -1;
    }
    return atomic_load(&s->dlq_tr.pending) > 0 ? -1 : 0;
}

/* Flush the sink; then the records are durable: commit them to the transport (which frees them
 * or records the position). Returns -1 when the sink must fail. */
static int sink_flush_commit(sink_rt_t *s, int64_t read_upto)
{
    int64_t started = clock_mono_ms(); /* a commit's time includes its flush, as Connect's */
    if (sink_call(s, NULL, NULL, 0, &s->bo) != SLUICE_OK) {
        stats_commit(&s->stats, 0, started);
        return -1;
    }
    s->dirty = 0;
    if (sink_dlq_settled(s) != 0) {
        stats_commit(&s->stats, 0, started);
        return -1;
    }
    char err[512];
    int ok = s->reader->ops->commit(s->reader, read_upto, err, sizeof err) == 0;
    if (!ok)
        log_limited(&s->inst.ctx.limits, s->inst.ctx.name, SLUICE_LOG_WARN, "commit", 60,
                    "%s (the records are flushed; they may be read again after a restart)", err);
    stats_commit(&s->stats, ok, started);
    return 0;
}

/* Precommit (ABI 1.2): let the sink make durable what is due and commit what it says is durable.
 * s->dirty stays set while it holds records back. Returns -1 when the sink must fail. */
static int sink_precommit_commit(sink_rt_t *s, int64_t read_upto)
{
    transport_reader_t *rd = s->reader;
    size_t need = rd->ops->nparts(rd);
    if (need > s->pre_cap) {
        struct sluice_offset *o = realloc(s->pre, need * sizeof *o);
        if (o)
            s->pre = o;
        int64_t *w = o ? realloc(s->pre_want, need * sizeof *w) : NULL;
        if (w)
            s->pre_want = w;
        if (!o || !w) {
            log_error(s->inst.ctx.name, "out of memory");
            return -1;
        }
        s->pre_cap = need;
    }
    size_t n = rd->ops->pending(rd, read_upto, s->pre, s->pre_cap);
    if (n == 0) {
        s->dirty = 0;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        s->pre_want[i] = s->pre[i].offset;
    int64_t started = clock_mono_ms();
    if (sink_call(s, NULL, s->pre, n, &s->bo) != SLUICE_OK) {
        stats_commit(&s->stats, 0, started);
        return -1;
    }
    int held = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->pre[i].offset > s->pre_want[i]) /* the sink may only lower them */
            s->pre[i].offset = s->pre_want[i];
        held |= s->pre[i].offset < s->pre_want[i];
    }
    s->dirty = held;
    if (sink_dlq_settled(s) != 0) {
        stats_commit(&s->stats, 0, started);
        return -1;
    }
    char err[512];
    int ok = rd->ops->commit_offsets(rd, s->pre, n, err, sizeof err) == 0;
    if (!ok)
        log_limited(&s->inst.ctx.limits, s->inst.ctx.name, SLUICE_LOG_WARN, "commit", 60,
                    "%s (the records are durable; they may be read again after a restart)", err);
    stats_commit(&s->stats, ok, started);
    return 0;
}

/* Partition revocation (called inside the reader's read): flush what was put. */
static int sink_on_revoke(void *opaque)
{
    sink_rt_t *s = opaque;
    if (!s->dirty)
        return sink_dlq_settled(s);
    if (sink_call(s, NULL, NULL, 0, &s->bo) != SLUICE_OK || sink_dlq_settled(s) != 0) {
        s->revoke_failed = 1;
        return -1;
    }
    s->dirty = 0;
    return 0;
}

void *pipeline_sink_main(void *arg)
{
    sink_rt_t *s = arg;
    pipeline_t *p = s->p;
    side_max_message_bytes(&s->side, p);
    transport_reader_t *rd = s->reader;
    const struct transport_ops *ops = rd->ops;
    size_t max = s->side.batch_max;
    topic_view_t *views = malloc(max * sizeof *views);
    arena_t arena;
    arena_init(&arena, ARENA_BLOCK);
    backoff_init(&s->bo, 300, s->side.retry_delay_max_ms,
                 (uint64_t)clock_mono_ms() ^ (uint64_t)(uintptr_t)s);
    int64_t read_upto = 0, last_flush = clock_mono_ms(); /* read_upto: set by the first read */
    int failed = 0, paused = 0;
    /* An endless transport's sink tasks are consumers of their own: one failing fails only
     * itself (the worker restarts it); a topic that ends is one flow, which fails as a whole. */
    int alone = (ops->caps & TRANSPORT_ENDLESS) != 0;
    s->dirty = 0;
    log_clear_last_error();
    if (!views) {
        log_error(s->inst.ctx.name, "out of memory");
        failed = 1;
    }

    while (!failed && !atomic_load(&p->abort)) {
        int want_pause = atomic_load(&s->paused);
        if (want_pause != paused) {
            /* Kafka pauses the partitions (no rebalance) and drops what it had fetched for them;
             * the position is kept. */
            if (want_pause)
                ops->pause(rd);
            else
                ops->resume(rd);
            paused = want_pause;
            atomic_store(&s->paused_ack, paused);
        }
        /* Nothing to flush: wait for records, not on a clock, where the reader can be woken when a
         * flag changes (pipeline_sink_wake). */
        int wait = s->dirty ? SINK_IDLE_MS : ops->wake ? -1 : SOURCE_POLL_MS;
        size_t n = ops->read(rd, views, max, wait);
        if (s->revoke_failed) {
            failed = 1;
            break;
        }
        if (n > 0) {
            stats_batch(&s->stats, n);
            arena_reset(&arena);
            sluice_batch_t in, tmp[CHAIN_TMP];
            struct failed_list f = {0};
            batch_init(&in, &arena, &s->side.codec);
            sink_fill(s, &in, views, n);
            sink_convert(s, &in, &f);
            if (s->interrupted)
                break;
            sluice_batch_t *out = transforms_apply(&s->side, &in, tmp, &f, 0);
            /* The tap's "sink" stage (after the sink's transforms): what put receives. */
            if (out->len > 0 && tap_active(s->side.tap) &&
                tap_watches(s->side.tap, s->side.ntransforms, 1))
                tap_offer(s->side.tap, (int)s->side.ntransforms, out->recs, out->len);
            if (out->len > 0 && sink_call(s, out, NULL, 0, &s->bo) != SLUICE_OK) {
                failed = 1;
                break;
            }
            size_t put_failed = 0;
            for (size_t i = 0; i < out->len; i++)
                if (out->recs[i]->failed) {
                    failed_add(&arena, &f, out->recs[i]);
                    put_failed++;
                }
            atomic_fetch_add(&s->out, (long)(out->len - put_failed));
            /* With tolerance none any record in `f` stops the sink here. */
            if (failed_route(p, &s->side, &s->inst.ctx, s->inst.plugin->desc.name, s->task, &f,
                             views, n, ops->caps & TRANSPORT_SELF_ACKED ? &s->dlq_tr : NULL,
                             &s->errors, &s->dlq, &s->stats) != 0) {
                failed = 1;
                break;
            }
            ops->taken(rd);
            read_upto = views[n - 1].offset + 1;
            s->dirty = 1;
        }
        int64_t now = clock_mono_ms();
        /* The sink ends when its topic ended and was read; an endless topic (Kafka) never ends:
         * the sink runs until the run is asked to stop (then it flushes and commits what it has
         * read, even with more records waiting). */
        int drained = ops->caps & TRANSPORT_ENDLESS
                          ? atomic_load(&p->shutdown) || atomic_load(&s->stop) ||
                                (!alone && atomic_load(&p->failed))
                          : n == 0 && ops->drained(rd);
        int pressure = s->dirty && ops->pressure(rd);
        if (s->dirty &&
            (n == 0 || drained || pressure || now - last_flush >= s->side.flush_interval_ms)) {
            /* A sink with precommit keeps what it wants across commits, except at the end and
             * when the in-process topic's buffer is full (it holds what is not acked). */
            int full = drained || pressure || !s->inst.plugin->sink.precommit;
            if ((full ? sink_flush_commit(s, read_upto) : sink_precommit_commit(s, read_upto)) !=
                0) {
                failed = 1;
                break;
            }
            last_flush = now;
        }
        if (drained && !s->dirty)
            break;
    }
    if (s->interrupted && !failed) {
        /* What earlier reads put is flushed and committed; the interrupted read is not (in-process
         * the source commits nothing more: the records this sink did not take stay uncommitted). */
        if (s->dirty && sink_flush_commit(s, read_upto) != 0)
            failed = 1;
        atomic_store(&p->hold_commits, 1);
    }
    if (failed) {
        snprintf(s->ctl.trace, sizeof s->ctl.trace, "%s",
                 log_last_error()[0] ? log_last_error() : "the sink failed");
        atomic_store(&s->failed, 1);
    }
    if (failed && !alone) {
        atomic_store(&p->failed, 1);
        atomic_store(&p->stop, 1);
        pipeline_source_wake(p);
        if (p->has_source && p->source.plugin->source.stop)
            p->source.plugin->source.stop(p->source.state);
    }
    ops->close(rd); /* after a failure: without committing */
    if (s->side.dlq)
        ops->writer_done(p->writer, s->side.dlq);
    free(views);
    free(s->pre);
    free(s->pre_want);
    s->pre = NULL;
    s->pre_want = NULL;
    s->pre_cap = 0;
    arena_free(&arena);
    atomic_store(&s->done, 1);
    pipeline_ended(p);
    return NULL;
}

int pipeline_sink_revoke(void *opaque)
{
    return sink_on_revoke(opaque);
}
