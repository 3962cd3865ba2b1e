/*
 * test_serial_parse.c — the pure parts of the serial source: framing in each terminator mode,
 * numbers at their limits, field specs, UTF-8 checks, the firmware sentence with its checksum,
 * and sequence tracking (gaps, resets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "serial_parse.h"

static void test_frame_modes(void **state)
{
    size_t len, used;
    (void)state;

    /* auto: "\n" ends a line, a "\r" before it goes */
    assert_int_equal(serial_frame_next("12\r\n34\n", 8, SERIAL_TERM_AUTO, &len, &used), 1);
    assert_int_equal(len, 2);
    assert_int_equal(used, 4);
    assert_int_equal(serial_frame_next("34\n", 3, SERIAL_TERM_AUTO, &len, &used), 1);
    assert_int_equal(len, 2);
    assert_int_equal(used, 3);
    assert_int_equal(serial_frame_next("34", 2, SERIAL_TERM_AUTO, &len, &used), 0);
    assert_int_equal(serial_frame_next("34\r", 3, SERIAL_TERM_AUTO, &len, &used), 0);
    /* lf: the "\r" stays */
    assert_int_equal(serial_frame_next("12\r\n", 4, SERIAL_TERM_LF, &len, &used), 1);
    assert_int_equal(len, 3);
    /* crlf: a lone "\n" is data */
    assert_int_equal(serial_frame_next("a\nb\r\n", 5, SERIAL_TERM_CRLF, &len, &used), 1);
    assert_int_equal(len, 3);
    assert_int_equal(used, 5);
    assert_int_equal(serial_frame_next("a\nb\n", 4, SERIAL_TERM_CRLF, &len, &used), 0);
    assert_int_equal(serial_frame_next("\n", 1, SERIAL_TERM_CRLF, &len, &used), 0);
    /* an empty line */
    assert_int_equal(serial_frame_next("\r\n", 2, SERIAL_TERM_AUTO, &len, &used), 1);
    assert_int_equal(len, 0);
    assert_int_equal(used, 2);
}

static void test_ints(void **state)
{
    int64_t v;
    (void)state;

    assert_int_equal(serial_parse_int("512", 3, INT32_MIN, INT32_MAX, &v), 0);
    assert_int_equal(v, 512);
    assert_int_equal(serial_parse_int(" -7\t", 4, INT32_MIN, INT32_MAX, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(serial_parse_int("2147483647", 10, INT32_MIN, INT32_MAX, &v), 0);
    assert_int_equal(v, INT32_MAX);
    assert_int_equal(serial_parse_int("-2147483648", 11, INT32_MIN, INT32_MAX, &v), 0);
    assert_int_equal(v, INT32_MIN);
    assert_int_equal(serial_parse_int("2147483648", 10, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("-2147483649", 11, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("9223372036854775807", 19, INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(serial_parse_int("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(serial_parse_int("9223372036854775808", 19, INT64_MIN, INT64_MAX, &v), -1);
    assert_int_equal(serial_parse_int("", 0, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("-", 1, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("12a", 3, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("1 2", 3, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("12\r", 3, INT32_MIN, INT32_MAX, &v), -1);
    assert_int_equal(serial_parse_int("12\0", 3, INT32_MIN, INT32_MAX, &v), -1);
}

static void test_doubles_bools(void **state)
{
    double d;
    int b;
    (void)state;

    assert_int_equal(serial_parse_double(" 21.5 ", 6, &d), 0);
    assert_true(d == 21.5);
    assert_int_equal(serial_parse_double("-1e3", 4, &d), 0);
    assert_true(d == -1000.0);
    assert_int_equal(serial_parse_double("nan", 3, &d), -1);
    assert_int_equal(serial_parse_double("inf", 3, &d), -1);
    assert_int_equal(serial_parse_double("1e999", 5, &d), -1);
    assert_int_equal(serial_parse_double("1.5x", 4, &d), -1);
    assert_int_equal(serial_parse_double("", 0, &d), -1);
    assert_int_equal(serial_parse_bool("TRUE", 4, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(serial_parse_bool("0", 1, &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(serial_parse_bool("yes", 3, &b), -1);
}

static void test_field_specs(void **state)
{
    char name[16], why[200];
    enum serial_ftype t;
    (void)state;

    assert_int_equal(serial_field_spec("luz:int32", name, sizeof name, &t, why, sizeof why), 0);
    assert_string_equal(name, "luz");
    assert_int_equal(t, SERIAL_F_INT32);
    assert_int_equal(serial_field_spec(" temp : float64 ", name, sizeof name, &t, why, sizeof why),
                     0);
    assert_string_equal(name, "temp");
    assert_int_equal(t, SERIAL_F_FLOAT64);
    assert_int_equal(serial_field_spec("label", name, sizeof name, &t, why, sizeof why), 0);
    assert_int_equal(t, SERIAL_F_STRING);
    assert_int_equal(serial_field_spec("x:int8", name, sizeof name, &t, why, sizeof why), -1);
    assert_non_null(strstr(why, "int8"));
    assert_int_equal(serial_field_spec("1x:int32", name, sizeof name, &t, why, sizeof why), -1);
    assert_int_equal(serial_field_spec(":int32", name, sizeof name, &t, why, sizeof why), -1);
    assert_int_equal(
        serial_field_spec("averyveryverylongname:int32", name, sizeof name, &t, why, sizeof why),
        -1);
    assert_true(serial_valid_fullname("iot.luz.Reading"));
    assert_false(serial_valid_fullname("iot..x"));
    assert_false(serial_valid_fullname("iot.9x"));
    assert_false(serial_valid_fullname(""));
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(serial_utf8_valid("caf\xc3\xa9", 5));
    assert_true(serial_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(serial_utf8_valid("caf\xc3", 4));
    assert_false(serial_utf8_valid("\xff\xfe", 2));
    assert_false(serial_utf8_valid("a\0b", 3));
    assert_false(serial_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(serial_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(serial_utf8_valid("\xe2\x82", 2));     /* cut short */
}

/* A sentence with its correct checksum. */
static size_t sentence(char *out, size_t size, const char *body)
{
    unsigned sum = 0;

    for (const char *p = body; *p; p++) {
        sum ^= (unsigned char)*p;
    }
    return (size_t)snprintf(out, size, "$%s*%02X", body, sum);
}

static void test_firmware(void **state)
{
    char line[128], why[200];
    int64_t seq;
    int32_t adc;
    size_t n;
    (void)state;

    n = sentence(line, sizeof line, "LUZ,41,512");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), 0);
    assert_int_equal(seq, 41);
    assert_int_equal(adc, 512);
    /* lowercase hex is accepted too */
    for (char *p = line; *p; p++) {
        if (*p >= 'A' && *p <= 'F' && p > strchr(line, '*')) {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), 0);
    /* one flipped bit in the body: checksum error (-2) */
    n = sentence(line, sizeof line, "LUZ,41,512");
    line[8] ^= 0x01;
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -2);
    assert_non_null(strstr(why, "checksum"));
    /* malformed: -1 */
    assert_int_equal(serial_firmware_parse("512", 3, &seq, &adc, why, sizeof why), -1);
    assert_int_equal(serial_firmware_parse("$LUZ,1,2", 8, &seq, &adc, why, sizeof why), -1);
    assert_int_equal(serial_firmware_parse("$LUZ,1,2*4", 10, &seq, &adc, why, sizeof why), -1);
    assert_int_equal(serial_firmware_parse("$LUZ,1,2*ZZ", 11, &seq, &adc, why, sizeof why), -1);
    n = sentence(line, sizeof line, "LUX,1,2");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    n = sentence(line, sizeof line, "LUZ,-1,2");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    n = sentence(line, sizeof line, "LUZ,1,");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    n = sentence(line, sizeof line, "LUZ,1,99999999999");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    /* the firmware's counter is a uint32: beyond it is corruption (fuzz_serial finding) */
    n = sentence(line, sizeof line, "LUZ,4294967295,7");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), 0);
    assert_int_equal(seq, 4294967295LL);
    n = sentence(line, sizeof line, "LUZ,4294967296,7");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    assert_non_null(strstr(why, "beyond"));
    n = sentence(line, sizeof line, "LUZ,977777777777777,0");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    n = sentence(line, sizeof line, "LUZ,1,2,3");
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
    /* trailing bytes after the checksum */
    n = sentence(line, sizeof line, "LUZ,1,2");
    line[n++] = 'x';
    assert_int_equal(serial_firmware_parse(line, n, &seq, &adc, why, sizeof why), -1);
}

static void test_seq(void **state)
{
    struct serial_seq s = {0};
    int64_t lost;
    (void)state;

    assert_int_equal(serial_seq_update(&s, 10, &lost), SERIAL_SEQ_FIRST);
    assert_int_equal(serial_seq_update(&s, 11, &lost), SERIAL_SEQ_NEXT);
    assert_int_equal(serial_seq_update(&s, 15, &lost), SERIAL_SEQ_GAP);
    assert_int_equal(lost, 3);
    assert_int_equal(serial_seq_update(&s, 16, &lost), SERIAL_SEQ_NEXT);
    assert_int_equal(lost, 0);
    assert_int_equal(serial_seq_update(&s, 0, &lost), SERIAL_SEQ_RESET);
    assert_int_equal(serial_seq_update(&s, 1, &lost), SERIAL_SEQ_NEXT);
    assert_int_equal(serial_seq_update(&s, 1, &lost), SERIAL_SEQ_BACK);
    s.have = 0;
    assert_int_equal(serial_seq_update(&s, 100, &lost), SERIAL_SEQ_FIRST);
    /* the firmware's uint32 counter wraps: no reset, no gap */
    assert_int_equal(serial_seq_update(&s, 4294967294LL, &lost), SERIAL_SEQ_GAP);
    assert_int_equal(serial_seq_update(&s, 4294967295LL, &lost), SERIAL_SEQ_NEXT);
    assert_int_equal(serial_seq_update(&s, 0, &lost), SERIAL_SEQ_NEXT);
    assert_int_equal(serial_seq_update(&s, 1, &lost), SERIAL_SEQ_NEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_modes),   cmocka_unit_test(test_ints),
        cmocka_unit_test(test_doubles_bools), cmocka_unit_test(test_field_specs),
        cmocka_unit_test(test_utf8),          cmocka_unit_test(test_firmware),
        cmocka_unit_test(test_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
