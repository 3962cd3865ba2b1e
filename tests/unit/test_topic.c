/* The in-process topic: appends and reads in order, one chunk per batch, acks free memory and
 * complete trackers only when every reader acked, a full topic makes the writer wait, a topic
 * without readers drops at once, a leaving reader stops holding records. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "record.h"
#include "topic.h"
#include "transport.h"

/* Stage `n` records "v<i>" with a header on the first. */
static void stage_n(topic_stage_t *s, int from, int n)
{
    arena_t a;
    arena_init(&a, 4096);
    sluice_batch_t b;
    batch_init(&b, &a, NULL);
    for (int i = from; i < from + n; i++) {
        sluice_record_t *r = batch_add(&b);
        assert_non_null(r);
        r->timestamp = 1000 + i;
        if (i == from)
            assert_int_equal(record_add_header(r, "h", "x", 1), 0);
        char v[32];
        int len = snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(topic_stage_add(s, r, NULL, 0, 1, v, (size_t)len, 0), 0);
    }
    arena_free(&a);
}

static void test_append_read_ack(void **state)
{
    (void)state;
    topic_t *t = topic_new("t", 1 << 20);
    topic_reader_t *r1 = topic_reader_add(t, "a"), *r2 = topic_reader_add(t, "b");
    topic_set_next(t, 100);
    topic_writer_add(t);
    tracker_t tr = {0};
    atomic_store(&tr.pending, 1);
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 0, 3);
    int64_t first = -1;
    assert_int_equal(topic_append(t, &s, &tr, &first, NULL), 0);
    assert_int_equal(first, 100);
    assert_int_equal(atomic_load(&tr.pending), 4);
    topic_view_t v[8];
    assert_int_equal(topic_read(r1, v, 8, 0), 3);
    assert_int_equal(v[0].offset, 100);
    assert_int_equal(v[2].offset, 102);
    assert_int_equal(v[1].timestamp, 1001);
    assert_true(v[0].key_null);
    assert_memory_equal(v[2].value, "v2", 2);
    assert_int_equal(v[0].nheaders, 1);
    const char *name;
    size_t nl, vl;
    const void *val;
    topic_header_next(v[0].headers, &name, &nl, &val, &vl);
    assert_int_equal(nl, 1);
    assert_memory_equal(name, "h", 1);
    assert_memory_equal(val, "x", 1);
    /* One reader's ack is not enough. */
    topic_ack(r1, 103);
    assert_int_equal(atomic_load(&tr.pending), 4);
    assert_true(topic_bytes(t) > 0);
    assert_int_equal(topic_read(r2, v, 2, 0), 2);
    topic_ack(r2, 102); /* the chunk still has an unacked record */
    assert_int_equal(atomic_load(&tr.pending), 4);
    assert_int_equal(topic_read(r2, v, 8, 0), 1);
    topic_ack(r2, 103);
    assert_int_equal(atomic_load(&tr.pending), 1); /* only the writer's guard is left */
    assert_int_equal(topic_bytes(t), 0);
    assert_false(topic_drained(r1));
    topic_writer_done(t);
    assert_true(topic_drained(r1));
    topic_stage_free(&s);
    topic_free(t);
}

static void test_no_reader_drops(void **state)
{
    (void)state;
    topic_t *t = topic_new("nobody", 1 << 20);
    tracker_t tr = {0};
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 0, 5);
    int64_t first;
    assert_int_equal(topic_append(t, &s, &tr, &first, NULL), 0);
    assert_int_equal(atomic_load(&tr.pending), 0);
    assert_int_equal(atomic_load(&t->dropped), 5);
    assert_int_equal(topic_bytes(t), 0);
    assert_int_equal(t->next, 5);
    topic_stage_free(&s);
    topic_free(t);
}

struct writer_arg {
    topic_t *t;
    atomic_int done;
};

static void *writer_main(void *arg)
{
    struct writer_arg *w = arg;
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 10, 50);
    int64_t first;
    assert_int_equal(topic_append(w->t, &s, NULL, &first, NULL), 0);
    topic_stage_free(&s);
    atomic_store(&w->done, 1);
    return NULL;
}

static void test_full_topic_blocks_writer_until_ack(void **state)
{
    (void)state;
    topic_t *t = topic_new("small", 2048);
    topic_reader_t *r = topic_reader_add(t, "slow");
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 0, 50); /* more than half the bound */
    int64_t first;
    assert_int_equal(topic_append(t, &s, NULL, &first, NULL), 0);
    assert_true(topic_bytes(t) > 1024);
    assert_true(topic_pressure(t));
    struct writer_arg w = {.t = t};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&w.done), 0); /* waits: the topic is full */
    topic_view_t v[64];
    assert_int_equal(topic_read(r, v, 64, 0), 50);
    topic_ack(r, v[49].offset + 1);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&w.done), 1);
    assert_int_equal(topic_read(r, v, 64, 0), 50);
    assert_memory_equal(v[0].value, "v10", 3);
    topic_stage_free(&s);
    topic_free(t);
}

static void test_abort_unblocks_writer(void **state)
{
    (void)state;
    topic_t *t = topic_new("small", 1024);
    topic_reader_add(t, "stuck");
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 0, 40);
    int64_t first;
    assert_int_equal(topic_append(t, &s, NULL, &first, NULL), 0);
    stage_n(&s, 40, 40);
    atomic_int abort_flag = 1;
    assert_int_equal(topic_append(t, &s, NULL, &first, &abort_flag), -1);
    assert_int_equal(s.count, 40); /* nothing dropped: the stage keeps its records */
    topic_stage_free(&s);
    topic_free(t);
}

static void test_leaving_reader_releases(void **state)
{
    (void)state;
    topic_t *t = topic_new("t", 1 << 20);
    topic_reader_t *ok = topic_reader_add(t, "ok"), *bad = topic_reader_add(t, "bad");
    tracker_t tr = {0};
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 0, 4);
    int64_t first;
    assert_int_equal(topic_append(t, &s, &tr, &first, NULL), 0);
    topic_view_t v[8];
    assert_int_equal(topic_read(ok, v, 8, 0), 4);
    topic_ack(ok, 4);
    assert_int_equal(atomic_load(&tr.pending), 4);
    topic_reader_leave(bad);
    assert_int_equal(atomic_load(&tr.pending), 0);
    topic_stage_free(&s);
    topic_free(t);
}

/* The in-process transport: a writer appends through it, a reader reads, pauses (nothing is
 * handed out, the position is kept), resumes, commits (the records are freed and the tracker
 * completes) and drains once its writer is done. It is the one transport_choose finds in a
 * program that links topic.c and no other transport (the linker set holds it alone). */
static void test_memory_transport_pause_resume(void **state)
{
    (void)state;
    const struct transport_ops *ops = transport_choose(NULL);
    assert_non_null(ops);
    assert_string_equal(ops->name, "in-process");
    transport_t *t = ops->open(NULL, NULL);
    assert_non_null(t);
    transport_topic_t *tp = ops->topic(t, "t", 1 << 20);
    assert_non_null(tp);
    assert_ptr_equal(ops->topic(t, "t", 1 << 10), tp); /* one topic per name */
    assert_string_equal(tp->name, "t");
    ops->writer_add(tp);
    assert_int_equal(ops->writers(tp), 1);
    char err[256];
    transport_writer_t *w = NULL;
    struct transport_writer_spec ws = {.pipeline = "p", .main = tp, .writes = 1};
    assert_int_equal(ops->writer_new(t, &ws, &w, NULL, err, sizeof err), 0);
    transport_reader_t *r = NULL;
    struct transport_reader_spec rs = {.pipeline = "p", .sink = "s"};
    assert_int_equal(ops->reader_new(t, tp, &rs, &r, err, sizeof err), 0);
    assert_int_equal(ops->readers(tp), 1);
    ops->set_next(tp, 10);

    tracker_t tr = {0};
    atomic_store(&tr.pending, 1);
    topic_stage_t s;
    topic_stage_init(&s);
    stage_n(&s, 0, 2);
    assert_int_equal(ops->append(w, tp, &s, &tr, NULL), 0);
    assert_int_equal(s.count, 0); /* the stage is emptied */
    assert_int_equal(ops->next_offset(tp), 12);

    topic_view_t v[4];
    ops->pause(r);
    assert_int_equal(ops->read(r, v, 4, 1), 0);
    assert_int_equal(ops->read(r, v, 4, 0), 0);
    ops->resume(r);
    assert_int_equal(ops->read(r, v, 4, 0), 2);
    assert_int_equal(v[0].offset, 10); /* from where it was: nothing was lost while paused */

    arena_t a;
    arena_init(&a, 4096);
    sluice_batch_t b;
    batch_init(&b, &a, NULL);
    sluice_record_t *rec = batch_add(&b);
    ops->headers(r, 0, &v[0], rec);
    assert_int_equal(rec->nheaders, 1);
    arena_free(&a);

    ops->taken(r);
    assert_int_equal(ops->nparts(r), 1);
    struct sluice_offset o[1];
    assert_int_equal(ops->pending(r, 12, o, 1), 1);
    assert_int_equal(o[0].offset, 12);
    assert_string_equal(o[0].topic, "t");
    assert_false(ops->pressure(r));
    assert_int_equal(atomic_load(&tr.pending), 3);
    assert_int_equal(ops->commit(r, 12, err, sizeof err), 0);
    atomic_fetch_sub(&tr.pending, 1);
    assert_int_equal(atomic_load(&tr.pending), 0); /* every record acked */

    assert_false(ops->drained(r));
    ops->writer_done(w, tp);
    assert_int_equal(ops->read(r, v, 4, 0), 0);
    assert_true(ops->drained(r));
    ops->close(r);
    assert_int_equal(ops->inflight(w), 0);
    topic_stage_free(&s);
    ops->reader_free(r);
    ops->writer_free(w);
    ops->free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_ack),
        cmocka_unit_test(test_no_reader_drops),
        cmocka_unit_test(test_full_topic_blocks_writer_until_ack),
        cmocka_unit_test(test_abort_unblocks_writer),
        cmocka_unit_test(test_leaving_reader_releases),
        cmocka_unit_test(test_memory_transport_pause_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
