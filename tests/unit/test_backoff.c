/* Backoff: full jitter stays within an exponentially growing, capped ceiling and is not constant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_ceiling_grows_and_caps(void **state)
{
    (void)state;
    backoff_t b;
    backoff_init(&b, 100, 1000, 42);
    int64_t expect[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_int_equal(backoff_ceiling(&b), expect[i]);
        int64_t d = backoff_next(&b);
        assert_true(d >= 0 && d <= expect[i]);
    }
    backoff_reset(&b);
    assert_int_equal(backoff_ceiling(&b), 100);
}

static void test_jitter_spreads(void **state)
{
    (void)state;
    backoff_t b;
    backoff_init(&b, 1000, 1000, 7);
    int64_t lo = INT64_MAX, hi = -1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = backoff_next(&b);
        assert_true(d >= 0 && d <= 1000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* Full jitter: draws cover most of [0, ceiling]. */
    assert_true(lo < 100);
    assert_true(hi > 900);
}

static void test_seeds_differ(void **state)
{
    (void)state;
    backoff_t a, b;
    backoff_init(&a, 1000, 1000, 1);
    backoff_init(&b, 1000, 1000, 2);
    int same = 0;
    for (int i = 0; i < 20; i++)
        same += backoff_next(&a) == backoff_next(&b);
    assert_true(same < 5);
}

static void test_bad_bounds_are_sane(void **state)
{
    (void)state;
    backoff_t b;
    backoff_init(&b, 0, -5, 0);
    assert_int_equal(backoff_ceiling(&b), 1);
    assert_true(backoff_next(&b) <= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_grows_and_caps),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_seeds_differ),
        cmocka_unit_test(test_bad_bounds_are_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
