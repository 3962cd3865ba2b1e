/*
 * test_sqlvalue.c — the pure conversions of sqlvalue.c: Connect Decimal bytes <-> text at their
 * limits, MySQL date/time text <-> microseconds, and db.timezone offsets. (Civil dates:
 * ../common/test_calendar.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sqlvalue.h"

static void dec_roundtrip(const char *text, int scale, const char *want_text, size_t want_len)
{
    unsigned char b[40];
    char out[128];
    int n = sqlv_decimal_from_text(text, strlen(text), scale, b, sizeof b);
    assert_int_equal(n, (int)want_len);
    int m = sqlv_decimal_to_text(b, (size_t)n, scale, out, sizeof out);
    assert_true(m > 0);
    assert_string_equal(out, want_text);
}

static void test_decimal(void **state)
{
    unsigned char b[40];
    char out[128];
    (void)state;
    dec_roundtrip("-123.45", 2, "-123.45", 2); /* -12345 = 0xcfc7 */
    assert_int_equal(sqlv_decimal_from_text("-123.45", 7, 2, b, sizeof b), 2);
    assert_int_equal(b[0], 0xcf);
    assert_int_equal(b[1], 0xc7);
    dec_roundtrip("0", 0, "0", 1);
    dec_roundtrip("0.00", 2, "0.00", 1);
    dec_roundtrip("-0.05", 2, "-0.05", 1);
    dec_roundtrip("127", 0, "127", 1);
    dec_roundtrip("128", 0, "128", 2); /* 0x0080: a sign byte */
    dec_roundtrip("-128", 0, "-128", 1);
    dec_roundtrip("-129", 0, "-129", 2);
    dec_roundtrip("1.5", 3, "1.500", 2); /* padded to the scale */
    dec_roundtrip("18446744073709551615", 0, "18446744073709551615", 9);
    dec_roundtrip("-99999999999999999999999999999999999.999999999999999999999999999999", 30,
                  "-99999999999999999999999999999999999.999999999999999999999999999999", 28);
    /* digits past the scale: only zeros (MySQL's own padding) are accepted */
    assert_int_equal(sqlv_decimal_from_text("1.230", 5, 2, b, sizeof b), 1);
    assert_int_equal(sqlv_decimal_from_text("1.234", 5, 2, b, sizeof b), -1);
    assert_int_equal(sqlv_decimal_from_text("", 0, 2, b, sizeof b), -1);
    assert_int_equal(sqlv_decimal_from_text("1x", 2, 0, b, sizeof b), -1);
    assert_int_equal(sqlv_decimal_from_text("12345", 5, 0, b, 1), -1); /* too big for 1 byte */
    /* bytes to text: an empty unscaled value is 0; a small buffer is refused */
    assert_int_equal(sqlv_decimal_to_text(b, 0, 2, out, sizeof out), 4);
    assert_string_equal(out, "0.00");
    unsigned char big[2] = {0x30, 0x39}; /* 12345 */
    assert_int_equal(sqlv_decimal_to_text(big, 2, 2, out, 5), -1);
    assert_int_equal(sqlv_decimal_to_text(big, 2, 2, out, 7), 6);
    assert_string_equal(out, "123.45");
}

static void test_datetime(void **state)
{
    int64_t us;
    char out[64];
    (void)state;
    assert_int_equal(sqlv_parse_datetime("2023-01-08 02:00:00.123", 23, 0, &us), 0);
    assert_int_equal(us, 1673143200123000LL);
    assert_int_equal(sqlv_parse_datetime("2023-01-08 02:00:00", 19, -5 * 3600, &us), 0);
    assert_int_equal(us, 1673143200000000LL + 5 * 3600 * 1000000LL);
    assert_int_equal(sqlv_parse_datetime("2023-01-08", 10, 0, &us), 0);
    assert_int_equal(us, 19365LL * 86400 * 1000000);
    assert_int_equal(sqlv_parse_datetime("1969-12-31 23:59:59.999999", 26, 0, &us), 0);
    assert_int_equal(us, -1);
    assert_int_equal(sqlv_parse_datetime("0000-00-00 00:00:00", 19, 0, &us), -1);
    assert_int_equal(sqlv_parse_datetime("2023-01-08 02:00", 16, 0, &us), -1);
    assert_int_equal(sqlv_parse_time("-838:59:59", 10, &us), 0);
    assert_int_equal(us, -(838LL * 3600 + 59 * 60 + 59) * 1000000);
    assert_int_equal(sqlv_parse_time("01:02:03.004", 12, &us), 0);
    assert_int_equal(us, 3723004000LL);
    sqlv_format_datetime(1673143200123456LL, 0, out, sizeof out);
    assert_string_equal(out, "2023-01-08 02:00:00.123456");
    sqlv_format_datetime(-1, 0, out, sizeof out);
    assert_string_equal(out, "1969-12-31 23:59:59.999999");
    sqlv_format_datetime(1673143200000000LL, -5 * 3600, out, sizeof out);
    assert_string_equal(out, "2023-01-07 21:00:00.000000");
}

static void test_tz(void **state)
{
    int64_t off;
    (void)state;
    assert_int_equal(sqlv_parse_tz("UTC", &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(sqlv_parse_tz("-05:00", &off), 0);
    assert_int_equal(off, -18000);
    assert_int_equal(sqlv_parse_tz("+0530", &off), 0);
    assert_int_equal(off, 19800);
    assert_int_equal(sqlv_parse_tz("UTC+1", &off), 0);
    assert_int_equal(off, 3600);
    assert_int_equal(sqlv_parse_tz("America/Lima", &off), -1);
    assert_int_equal(sqlv_parse_tz("+25:00", &off), -1);
    assert_int_equal(sqlv_parse_tz("+05:0", &off), -1);
    assert_int_equal(sqlv_parse_tz("", &off), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_tz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
