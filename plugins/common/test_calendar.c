/*
 * test_calendar.c — the shared calendar: known day numbers (before 1970 too), leap days and the
 * century rule, year and month boundaries, floor division of negatives, and round trips over
 * several 400-year cycles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "calendar.h"

static void check_date(int64_t days, int64_t y, int m, int d)
{
    int64_t gy;
    int gm, gd;
    assert_int_equal(calendar_days_from_civil(y, m, d), days);
    calendar_civil_from_days(days, &gy, &gm, &gd);
    assert_int_equal(gy, y);
    assert_int_equal(gm, m);
    assert_int_equal(gd, d);
}

static void test_known_days(void **state)
{
    (void)state;
    check_date(0, 1970, 1, 1);
    check_date(-1, 1969, 12, 31);
    check_date(19365, 2023, 1, 8);
    check_date(11017, 2000, 3, 1);
    check_date(-719468, 0, 3, 1);    /* the algorithm's origin */
    check_date(-719528, 0, 1, 1);    /* year 0 (1 BC) */
    check_date(-719529, -1, 12, 31); /* and the year before it */
    check_date(-25567, 1900, 1, 1);
    check_date(-141427, 1582, 10, 15); /* the Gregorian reform, proleptic on both sides */
    check_date(2932896, 9999, 12, 31);
}

static void test_leap(void **state)
{
    (void)state;
    assert_true(calendar_is_leap(2000));
    assert_true(calendar_is_leap(2024));
    assert_true(calendar_is_leap(1600));
    assert_true(calendar_is_leap(0));
    assert_true(calendar_is_leap(-4));
    assert_false(calendar_is_leap(1900));
    assert_false(calendar_is_leap(2100));
    assert_false(calendar_is_leap(2023));
    assert_false(calendar_is_leap(-1));
    assert_int_equal(calendar_month_days(2024, 2), 29);
    assert_int_equal(calendar_month_days(2023, 2), 28);
    assert_int_equal(calendar_month_days(1900, 2), 28);
    assert_int_equal(calendar_month_days(2000, 2), 29);
    assert_int_equal(calendar_month_days(2023, 1), 31);
    assert_int_equal(calendar_month_days(2023, 4), 30);
    assert_int_equal(calendar_month_days(2023, 12), 31);
    /* a leap day sits between the last of February and the first of March, or does not */
    check_date(11016, 2000, 2, 29);
    check_date(-1403, 1966, 2, 28);
    check_date(-1402, 1966, 3, 1);
    check_date(-672, 1968, 2, 29);
    assert_int_equal(calendar_days_from_civil(2100, 3, 1) - calendar_days_from_civil(2100, 2, 28),
                     1);
    assert_int_equal(calendar_days_from_civil(2400, 3, 1) - calendar_days_from_civil(2400, 2, 28),
                     2);
}

static void test_boundaries(void **state)
{
    (void)state;
    check_date(10956, 1999, 12, 31);
    check_date(10957, 2000, 1, 1);
    check_date(-366, 1968, 12, 31);
    check_date(-365, 1969, 1, 1);
    /* every year is 365 or 366 days long, January 1 after December 31 */
    for (int64_t y = -2000; y <= 3000; y++) {
        int64_t jan1 = calendar_days_from_civil(y, 1, 1);
        assert_int_equal(calendar_days_from_civil(y + 1, 1, 1) - jan1, 365 + calendar_is_leap(y));
        assert_int_equal(calendar_days_from_civil(y - 1, 12, 31), jan1 - 1);
    }
}

static void test_floor_div(void **state)
{
    (void)state;
    assert_int_equal(calendar_floor_div(7, 2), 3);
    assert_int_equal(calendar_floor_div(-7, 2), -4);
    assert_int_equal(calendar_floor_div(-8, 2), -4);
    assert_int_equal(calendar_floor_div(7, -2), -4);
    assert_int_equal(calendar_floor_div(-7, -2), 3);
    assert_int_equal(calendar_floor_div(-1, 86400000), -1);
    assert_int_equal(calendar_floor_div(0, 86400000), 0);
    assert_int_equal(calendar_floor_div(86399999, 86400000), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    /* day by day over three 400-year cycles around 1970: the date advances by one day each time */
    int64_t py;
    int pm, pd;
    calendar_civil_from_days(-300000 - 1, &py, &pm, &pd);
    for (int64_t days = -300000; days <= 300000; days++) {
        int64_t y;
        int m, d;
        calendar_civil_from_days(days, &y, &m, &d);
        assert_int_equal(calendar_days_from_civil(y, m, d), days);
        assert_true(m >= 1 && m <= 12);
        assert_true(d >= 1 && d <= calendar_month_days(y, m));
        if (d == 1) {
            assert_int_equal(pd, calendar_month_days(py, pm));
            assert_int_equal(m == 1 ? py + 1 : py, y);
            assert_int_equal(m == 1 ? 12 : m - 1, pm);
        } else {
            assert_int_equal(d, pd + 1);
        }
        py = y;
        pm = m;
        pd = d;
    }
    /* and sparsely far beyond */
    for (int64_t days = -800000000; days < 800000000; days += 99991) {
        int64_t y;
        int m, d;
        calendar_civil_from_days(days, &y, &m, &d);
        assert_int_equal(calendar_days_from_civil(y, m, d), days);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_days), cmocka_unit_test(test_leap),
        cmocka_unit_test(test_boundaries), cmocka_unit_test(test_floor_div),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
