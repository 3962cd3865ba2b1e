/* history.c's ring: per-second rates from counters over irregular intervals, the window, the wrap
 * at 900 samples, connectors that come late, go and come back, counter resets, the process's CPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "history.h"

static double in[HISTORY_LEN], out[HISTORY_LEN], err[HISTORY_LEN];

static history_rates_t rates(history_t *h, const char *name, size_t window, int *rc)
{
    history_rates_t r = {.in = in, .out = out, .errors = err};
    *rc = history_connector(h, name, window, &r);
    return r;
}

/* One sample at `t` ms: `name` with its counters (NULL: none). */
static void sample(history_t *h, int64_t t, const char *name, long a, long b, long e)
{
    history_begin(h, t, 1700000000000 + t);
    if (name)
        assert_int_equal(history_put(h, name, a, b, e), 0);
    history_end(h);
}

static void test_rates_over_intervals(void **state)
{
    (void)state;
    history_t *h = history_new();
    int rc;
    history_rates_t r = rates(h, "x", 900, &rc);
    assert_int_equal(rc, -1);
    assert_int_equal(r.n, 0);
    /* 100 records a second, out half of in, one error a second; one tick 500 ms late */
    int64_t t[] = {0, 1000, 2000, 3500, 4500, 5500, 6500};
    for (size_t i = 0; i < 7; i++)
        sample(h, t[i], "x", (long)(t[i] / 10), (long)(t[i] / 20), (long)(t[i] / 1000));
    r = rates(h, "x", 900, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(r.n, 7);
    assert_true(in[0] == 0); /* its first sample has no interval before it */
    for (size_t i = 1; i < 7; i++) {
        assert_float_equal(in[i], 100, 1e-9);
        assert_float_equal(out[i], 50, 1e-9);
    }
    assert_float_equal(r.rate_in, 100, 1e-9);
    assert_float_equal(r.rate_out, 50, 1e-9);
    /* the last 5 intervals: 5500 ms, errors 6 - 1 = 5 */
    assert_float_equal(r.rate_errors, 5.0 / 5.5, 1e-9);
    assert_int_equal(history_now_ms(h), 1700000006500);
    /* the window keeps the newest */
    r = rates(h, "x", 2, &rc);
    assert_int_equal(r.n, 2);
    assert_float_equal(in[1], 100, 1e-9);
    r = rates(h, "x", 0, &rc);
    assert_int_equal(r.n, 0);
    history_free(h);
}

static void test_wrap_and_late_connector(void **state)
{
    (void)state;
    history_t *h = history_new();
    int rc;
    for (long i = 0; i < 1000; i++) {
        history_begin(h, i * 1000, i * 1000);
        history_put(h, "old", i * 10, i * 10, 0);
        if (i >= 950) /* created at the 950th second */
            history_put(h, "new", (i - 950) * 7, 0, 0);
        history_end(h);
    }
    assert_int_equal(history_samples(h), 1000);
    history_rates_t r = rates(h, "old", 900, &rc);
    assert_int_equal(r.n, HISTORY_LEN);
    /* every interval of the ring holds, the oldest too (its previous sample was overwritten, but
     * the oldest kept sample is the first of the series and reads 0 only when it is the first) */
    for (size_t i = 1; i < HISTORY_LEN; i++)
        assert_float_equal(in[i], 10, 1e-9);
    r = rates(h, "new", 900, &rc);
    assert_int_equal(r.n, 50);
    assert_true(in[0] == 0);
    assert_float_equal(in[49], 7, 1e-9);
    assert_float_equal(r.rate_in, 7, 1e-9);
    history_free(h);
}

static void test_gone_reset_and_back(void **state)
{
    (void)state;
    history_t *h = history_new();
    int rc;
    int64_t t = 0;
    for (long i = 0; i < 10; i++, t += 1000)
        sample(h, t, "c", i * 100, i * 100, 0);
    /* restarted with new tasks: its counters start again from 0 */
    sample(h, t, "c", 40, 40, 0);
    t += 1000;
    history_rates_t r = rates(h, "c", 900, &rc);
    assert_int_equal(r.n, 11);
    assert_float_equal(in[10], 40, 1e-9);
    /* deleted: absent samples read 0, the rate falls to 0 */
    for (int i = 0; i < 6; i++, t += 1000)
        sample(h, t, NULL, 0, 0, 0);
    r = rates(h, "c", 900, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(r.n, 17);
    assert_true(in[16] == 0);
    assert_true(r.rate_in == 0);
    /* gone for the whole ring: forgotten, and a new connector of the same name starts afresh */
    for (int i = 0; i < HISTORY_LEN; i++, t += 1000)
        sample(h, t, NULL, 0, 0, 0);
    r = rates(h, "c", 900, &rc);
    assert_int_equal(rc, -1);
    sample(h, t, "c", 5, 5, 0);
    t += 1000;
    sample(h, t, "c", 25, 5, 0);
    r = rates(h, "c", 900, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(r.n, 2);
    assert_float_equal(r.rate_in, 20, 1e-9);
    history_free(h);
}

static void test_process(void **state)
{
    (void)state;
    history_t *h = history_new();
    double rss[HISTORY_LEN], cpu[HISTORY_LEN];
    for (int i = 0; i < 4; i++) {
        history_begin(h, i * 2000, i * 2000);
        history_put_process(h, 1000000 + i, i * 0.5); /* 0.5 s of CPU every 2 s: 25 % */
        history_end(h);
    }
    history_process_t p = {.rss_bytes = rss, .cpu_percent = cpu};
    history_process(h, 900, &p);
    assert_int_equal(p.n, 4);
    assert_true(cpu[0] == 0);
    assert_float_equal(cpu[3], 25, 1e-9);
    assert_float_equal(rss[3], 1000003, 1e-9);
    assert_int_equal(p.rss_now, 1000003);
    assert_float_equal(p.cpu_seconds_now, 1.5, 1e-9);
    history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_over_intervals),
        cmocka_unit_test(test_wrap_and_late_connector),
        cmocka_unit_test(test_gone_reset_and_back),
        cmocka_unit_test(test_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
