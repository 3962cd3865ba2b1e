/* test_tap.c — the tap's sampling, ring and rendering (core/tap.c) without a runtime: records
 * offered to a tap point come out of a watcher's stream as NDJSON, masked, sampled and bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "tap.h"

/* A batch of `n` records whose values are {"id": i, "ssn": "secret-i"}. */
static void make_batch(arena_t *a, sluice_batch_t *b, size_t n, size_t from)
{
    batch_init(b, a, NULL);
    for (size_t i = 0; i < n; i++) {
        sluice_record_t *r = batch_add(b);
        assert_non_null(r);
        char text[64];
        int len =
            snprintf(text, sizeof text, "{\"id\":%zu,\"ssn\":\"secret-%zu\"}", from + i, from + i);
        char err[128];
        assert_int_equal(json_parse(a, text, (size_t)len, &r->value.value, err, sizeof err),
                         SLUICE_OK);
        r->topic = "t";
    }
}

/* Everything the stream holds now, as text; `*ended` when it said the end. */
static char *drain(void *w, int *ended)
{
    static char all[1 << 20];
    size_t n = 0;
    *ended = 0;
    for (;;) {
        long k = tap_stream_ops.read(w, all + n, 100); /* small reads: slots split across them */
        if (k < 0)
            *ended = 1;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    all[n] = '\0';
    return all;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_bucket(void **state)
{
    (void)state;
    tap_bucket_t b;
    tap_bucket_init(&b, 100, 1000);
    int got = 0;
    for (int i = 0; i < 1000; i++)
        got += tap_bucket_take(&b, 1000);
    assert_int_equal(got, 10); /* a tenth of a second's worth at first */
    got = 0;
    for (int i = 0; i < 1000; i++)
        got += tap_bucket_take(&b, 1500); /* half a second later: 50 more */
    assert_int_equal(got, 50);
    got = 0;
    for (int i = 0; i < 1000; i++)
        got += tap_bucket_take(&b, 60000); /* a long pause holds one second's worth at most */
    assert_int_equal(got, 100);
}

static void test_limit_mask_and_end(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 4096);
    tap_point_t *tp = tap_point_new();
    assert_false(tap_active(tp));
    tap_mask_t *m = calloc(1, sizeof *m);
    m->field = strdup("ssn");
    void *w = tap_watcher_new(tp, 1, "c", "mask", 5, 100000, 0, m, 1);
    assert_non_null(w);
    assert_true(tap_active(tp));
    assert_int_equal(tap_open_count(), 1);
    sluice_batch_t b;
    make_batch(&a, &b, 3, 0);
    tap_offer(tp, 0, b.recs, b.len); /* another stage: not this watcher's */
    int ended;
    assert_string_equal(drain(w, &ended), "");
    assert_false(ended);
    assert_false(tap_stream_ops.ready(w));
    tap_offer(tp, 1, b.recs, b.len);
    assert_true(tap_stream_ops.ready(w));
    char *out = drain(w, &ended);
    assert_int_equal(count_lines(out), 3);
    assert_null(strstr(out, "secret"));
    assert_non_null(strstr(out, "\"value\":{\"id\":0,\"ssn\":\"\"}"));
    assert_non_null(strstr(out, "\"partition\":null,\"offset\":null"));
    assert_false(ended);
    make_batch(&a, &b, 10, 3);
    tap_offer(tp, 1, b.recs, b.len); /* the limit (5) takes two more */
    out = drain(w, &ended);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "\"id\":4,"));
    out = drain(w, &ended);
    assert_true(ended);
    tap_stream_ops.free(w);
    assert_false(tap_active(tp));
    assert_int_equal(tap_open_count(), 0);
    tap_point_close(tp);
    arena_free(&a);
}

static void test_full_ring_counts_skipped(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 4096);
    tap_point_t *tp = tap_point_new();
    void *w = tap_watcher_new(tp, 0, "c", "source", 100000, 100000, 1, NULL, 0);
    sluice_batch_t b;
    make_batch(&a, &b, TAP_RING + 7, 0);
    tap_offer(tp, 0, b.recs, b.len); /* the reader is away: the ring fills, 7 are dropped */
    int ended;
    char *out = drain(w, &ended);
    assert_int_equal(count_lines(out), 2 * TAP_RING); /* SSE: "data: {...}\n\n" */
    assert_int_equal(strncmp(out, "data: {", 7), 0);
    make_batch(&a, &b, 1, 1000);
    tap_offer(tp, 0, b.recs, b.len);
    out = drain(w, &ended);
    assert_non_null(strstr(out, "\"skipped\":7}"));
    /* The connector goes: what is held is read, then the end. */
    tap_offer(tp, 0, b.recs, b.len);
    tap_point_close(tp); /* the watcher's reference keeps it */
    assert_true(tap_stream_ops.ready(w));
    out = drain(w, &ended);
    assert_int_equal(count_lines(out), 2);
    out = drain(w, &ended);
    assert_true(ended);
    tap_stream_ops.free(w);
    arena_free(&a);
}

static void test_rate_samples(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 4096);
    tap_point_t *tp = tap_point_new();
    void *w = tap_watcher_new(tp, 0, "c", "source", 100000, 10, 0, NULL, 0);
    sluice_batch_t b;
    make_batch(&a, &b, 50, 0);
    tap_offer(tp, 0, b.recs, b.len); /* 10/s: one at first, the 49 others skipped */
    int ended;
    char *out = drain(w, &ended);
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "\"skipped\":0}"));
    tap_stream_ops.free(w);
    tap_point_close(tp);
    arena_free(&a);
}

static void test_watchers_max(void **state)
{
    (void)state;
    tap_point_t *tp = tap_point_new();
    void *w[TAP_WATCHERS_MAX];
    for (int i = 0; i < TAP_WATCHERS_MAX; i++)
        assert_non_null(w[i] = tap_watcher_new(tp, 0, "c", "source", 1, 1, 0, NULL, 0));
    assert_null(tap_watcher_new(tp, 0, "c", "source", 1, 1, 0, NULL, 0));
    for (int i = 0; i < TAP_WATCHERS_MAX; i++)
        tap_stream_ops.free(w[i]);
    assert_int_equal(atomic_load(&tp->watchers), 0);
    tap_point_close(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_limit_mask_and_end),
        cmocka_unit_test(test_full_ring_counts_skipped),
        cmocka_unit_test(test_rate_samples),
        cmocka_unit_test(test_watchers_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
