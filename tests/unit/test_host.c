/* The host table's buffer functions of ABI 1.3 (sticky errors, buf_printf, buf_append_json_string:
 * quotes, backslashes, control characters and invalid UTF-8 written as value_write_json writes
 * them), config_map and schema_items (ABI 1.4), called through host_table as a plugin calls them.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "pipeline.h"
#include "value.h"

static const struct sluice_host *const h = &host_table;

/* buf_append_json_string of `len` bytes at `s` must give exactly `want`. */
static void check_json(const char *s, size_t len, const char *want)
{
    sluice_buf_t *b = h->buf_new(0);
    assert_non_null(b);
    assert_int_equal(h->buf_append_json_string(b, s, len), SLUICE_OK);
    assert_string_equal(h->buf_data(b), want);
    assert_int_equal(h->buf_len(b), strlen(want));
    assert_int_equal(h->buf_error(b), SLUICE_OK);
    h->buf_free(b);
}

#define CHECK_JSON(lit, want) check_json((lit), sizeof(lit) - 1, (want))

static void test_host_has_1_3(void **state)
{
    (void)state;
    assert_int_equal(h->abi_minor, 4);
    assert_true(SLUICE_HOST_HAS(h, buf_printf));
    assert_true(SLUICE_HOST_HAS(h, buf_append_json_string));
    assert_true(SLUICE_HOST_HAS(h, buf_error));
    assert_true(SLUICE_HOST_HAS(h, config_map));
}

/* schema_items gives back what schema_array and schema_map were given, and NULL otherwise. */
static void test_schema_items(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    assert_true(SLUICE_HOST_HAS(h, schema_items));
    sluice_schema_t *str = schema_new(&o, SLUICE_TYPE_STRING);
    sluice_schema_t *i32 = schema_new(&o, SLUICE_TYPE_INT32);
    sluice_schema_t *arr = schema_array(&o, str);
    sluice_schema_t *map = schema_map(&o, i32, arr);
    sluice_schema_t *st = schema_struct(&o, "s");
    assert_non_null(map);
    const sluice_schema_t *keys = str;
    assert_ptr_equal(h->schema_items(arr, &keys), str);
    assert_null(keys);
    assert_ptr_equal(h->schema_items(map, &keys), arr);
    assert_ptr_equal(keys, i32);
    assert_ptr_equal(h->schema_items(map, NULL), arr);
    keys = str;
    assert_null(h->schema_items(st, &keys));
    assert_null(keys);
    assert_null(h->schema_items(i32, NULL));
    schema_owner_free(&o);
}

static void test_buf_printf(void **state)
{
    (void)state;
    sluice_buf_t *b = h->buf_new(4); /* grows past its first capacity */
    assert_non_null(b);
    assert_int_equal(h->buf_printf(b, "%s=%d", "n", 42), SLUICE_OK);
    assert_int_equal(h->buf_printf(b, ",%" PRId64 ",%.1f", INT64_MIN, 2.5), SLUICE_OK);
    assert_int_equal(h->buf_printf(b, "%s", ""), SLUICE_OK);
    assert_string_equal(h->buf_data(b), "n=42,-9223372036854775808,2.5");
    h->buf_reset(b);
    assert_int_equal(h->buf_len(b), 0);
    assert_string_equal(h->buf_data(b), "");
    h->buf_free(b);
}

static void test_sticky_errors(void **state)
{
    (void)state;
    sluice_buf_t *b = h->buf_new(0);
    assert_non_null(b);
    assert_int_equal(h->buf_append(b, "ab", 2), SLUICE_OK);
    /* A length no buffer can take fails before reading a byte. */
    assert_int_equal(h->buf_append(b, "x", SIZE_MAX), SLUICE_ERR_NOMEM);
    assert_int_equal(h->buf_error(b), SLUICE_ERR_NOMEM);
    /* Every append after it does nothing and says so. */
    assert_int_equal(h->buf_append(b, "cd", 2), SLUICE_ERR_NOMEM);
    assert_int_equal(h->buf_printf(b, "%d", 1), SLUICE_ERR_NOMEM);
    assert_int_equal(h->buf_append_json_string(b, "e", 1), SLUICE_ERR_NOMEM);
    assert_int_equal(h->value_write_json(NULL, b), SLUICE_ERR_NOMEM);
    assert_int_equal(h->value_write_text(NULL, b), SLUICE_ERR_NOMEM);
    assert_string_equal(h->buf_data(b), "ab");
    assert_int_equal(h->buf_error(b), SLUICE_ERR_NOMEM);
    /* buf_reset starts over, error included. */
    h->buf_reset(b);
    assert_int_equal(h->buf_error(b), SLUICE_OK);
    assert_int_equal(h->buf_append(b, "ok", 2), SLUICE_OK);
    assert_int_equal(h->value_write_json(NULL, b), SLUICE_OK); /* a NULL value is JSON null */
    assert_string_equal(h->buf_data(b), "oknull");
    h->buf_free(b);
}

static void test_sticky_first_error_wins(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    assert_int_equal(buf_sticky_set(&b, SLUICE_ERR_INVALID), SLUICE_ERR_INVALID);
    assert_int_equal(buf_sticky_set(&b, SLUICE_ERR_NOMEM), SLUICE_ERR_INVALID);
    assert_int_equal(h->buf_error(&b), SLUICE_ERR_INVALID);
    assert_int_equal(h->buf_append(&b, "x", 1), SLUICE_ERR_INVALID);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    CHECK_JSON("", "\"\"");
    CHECK_JSON("plain text", "\"plain text\"");
    CHECK_JSON("a\"b\\c", "\"a\\\"b\\\\c\"");
    CHECK_JSON("/", "\"/\""); /* '/' needs no escape */
    CHECK_JSON("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    CHECK_JSON("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""); /* DEL is not a JSON control */
    CHECK_JSON("a\0b", "\"a\\u0000b\"");                  /* the length counts, not a NUL */
    /* Longer than a word, with escapes between runs (the writer copies 8 bytes at a time). */
    CHECK_JSON("0123456789abcdef\"0123456789abcdef\n01234567",
               "\"0123456789abcdef\\\"0123456789abcdef\\n01234567\"");
}

static void test_json_string_utf8(void **state)
{
    (void)state;
    /* Valid UTF-8 of 2, 3 and 4 bytes is copied. */
    CHECK_JSON("\xc3\xb1"
               "and\xc3\xba \xe2\x82\xac \xf0\x9f\x98\x80",
               "\"\xc3\xb1"
               "and\xc3\xba \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Each byte that is not part of valid UTF-8 becomes U+FFFD, escaped. */
    CHECK_JSON("a\x80z", "\"a\\ufffdz\"");                              /* a lone continuation */
    CHECK_JSON("\xff", "\"\\ufffd\"");                                  /* never valid */
    CHECK_JSON("\xc0\xaf", "\"\\ufffd\\ufffd\"");                       /* overlong */
    CHECK_JSON("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* a surrogate */
    CHECK_JSON("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    CHECK_JSON("x\xe2\x82", "\"x\\ufffd\\ufffd\"");                     /* cut short at the end */
    CHECK_JSON("\xe2\x82"
               "a",
               "\"\\ufffd\\ufffda\""); /* cut short by ASCII */
}

/* -- config_map ---------------------------------------------------------------------------------
 */

struct mapped {
    const char *s, *e, *p, *unset;
    int64_t i, dur, size;
    int b;
    double d;
    int64_t not_mapped;
};

static const char *const mapped_enum[] = {"one", "two", NULL};

static const struct sluice_config_field mapped_table[] = {
    {.name = "s", .type = SLUICE_CFG_STRING, SLUICE_CFG_SET(struct mapped, s)},
    {.name = "e",
     .type = SLUICE_CFG_ENUM,
     .default_value = "two",
     .enum_values = mapped_enum,
     SLUICE_CFG_SET(struct mapped, e)},
    {.name = "p",
     .type = SLUICE_CFG_PATH,
     .default_value = "rel/file",
     SLUICE_CFG_SET(struct mapped, p)},
    {.name = "unset", .type = SLUICE_CFG_STRING, SLUICE_CFG_SET(struct mapped, unset)},
    {.name = "i", .type = SLUICE_CFG_INT, .default_value = "-5", SLUICE_CFG_SET(struct mapped, i)},
    {.name = "dur",
     .type = SLUICE_CFG_DURATION,
     .default_value = "2m",
     SLUICE_CFG_SET(struct mapped, dur)},
    {.name = "size",
     .type = SLUICE_CFG_SIZE,
     .default_value = "4KiB",
     SLUICE_CFG_SET(struct mapped, size)},
    {.name = "b",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     SLUICE_CFG_SET(struct mapped, b)},
    {.name = "d",
     .type = SLUICE_CFG_DOUBLE,
     .default_value = "0.25",
     SLUICE_CFG_SET(struct mapped, d)},
    {.name = "plain", .type = SLUICE_CFG_INT, .default_value = "9"}, /* read with config_int */
    {.name = NULL},
};

static void test_config_map(void **state)
{
    (void)state;
    static const char yaml[] = "s: hello\nb: true\ni: 12\n";
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree = config_parse_yaml("t.yaml", yaml, strlen(yaml), "/base", &errs);
    assert_non_null(tree);
    config_mark_t where = {"t.yaml", 1, 1};
    sluice_config_t *cfg = config_validate(tree, mapped_table, "the test", &where, "/base", &errs);
    assert_non_null(cfg);
    struct mapped m = {.unset = "kept", .not_mapped = 77};
    assert_int_equal(h->config_map(cfg, &m), SLUICE_OK);
    assert_string_equal(m.s, "hello");
    assert_string_equal(m.e, "two");
    assert_string_equal(m.p, "/base/rel/file"); /* resolved as config_string gives it */
    assert_string_equal(m.unset, "kept");       /* no value: left as it was */
    assert_int_equal(m.i, 12);
    assert_int_equal(m.dur, 120000);
    assert_int_equal(m.size, 4096);
    assert_int_equal(m.b, 1);
    assert_true(m.d == 0.25);
    assert_int_equal(m.not_mapped, 77);
    assert_int_equal(h->config_int(cfg, "plain"), 9);
    config_free(cfg);
    config_node_free(tree);
    config_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_has_1_3),        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_sticky_errors),       cmocka_unit_test(test_sticky_first_error_wins),
        cmocka_unit_test(test_json_string_escapes), cmocka_unit_test(test_json_string_utf8),
        cmocka_unit_test(test_config_map),          cmocka_unit_test(test_schema_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
