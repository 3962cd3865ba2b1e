/* JSON reader/writer and the json/string/bytes converters: exact integers, shortest doubles,
 * escapes, Kafka Connect's envelope and schema form, Decimal, error messages, the schema cache. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "convert.h"
#include "json.h"
#include "value.h"

static arena_t A;
static char err[512];

static int setup(void **state)
{
    (void)state;
    arena_init(&A, 4096);
    err[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_free(&A);
    return 0;
}

static sluice_value_t *parse(const char *text)
{
    sluice_value_t *v = NULL;
    sluice_err_t rc = json_parse(&A, text, strlen(text), &v, err, sizeof err);
    if (rc != SLUICE_OK)
        fail_msg("parse of %s failed: %s", text, err);
    return v;
}

/* Parse must fail, and the message must contain `want`. */
static void parse_fails(const char *text, size_t len, const char *want)
{
    sluice_value_t *v = (sluice_value_t *)1;
    sluice_err_t rc = json_parse(&A, text, len, &v, err, sizeof err);
    assert_int_equal(rc, SLUICE_ERR_INVALID);
    assert_null(v);
    if (!strstr(err, want))
        fail_msg("error for %s: got \"%s\", want \"%s\"", text, err, want);
}

static const char *write_json(const sluice_value_t *v, enum json_decimal_format f)
{
    static buf_t b;
    static int init;
    if (!init) {
        buf_init(&b);
        init = 1;
    }
    buf_reset(&b);
    assert_int_equal(json_write(&b, v, f), SLUICE_OK);
    /* keep a copy in the arena so the static buffer can be reused */
    return arena_strndup(&A, b.data, b.len);
}

static void test_parse_numbers_exact(void **state)
{
    (void)state;
    sluice_value_t *v = parse("9007199254740993");
    assert_int_equal(v->type, SLUICE_TYPE_INT64);
    assert_true(v->u.i == INT64_C(9007199254740993)); /* 2^53+1: a double would change it */
    v = parse("-9223372036854775808");
    assert_true(v->type == SLUICE_TYPE_INT64 && v->u.i == INT64_MIN);
    v = parse(" 9223372036854775807 ");
    assert_true(v->type == SLUICE_TYPE_INT64 && v->u.i == INT64_MAX);
    v = parse("9223372036854775808"); /* beyond int64: a double */
    assert_int_equal(v->type, SLUICE_TYPE_FLOAT64);
    assert_true(v->u.f == 9223372036854775808.0);
    v = parse("-0.0");
    assert_true(v->type == SLUICE_TYPE_FLOAT64 && v->u.f == 0.0 && signbit(v->u.f));
    v = parse("1.5e3");
    assert_true(v->u.f == 1500.0);
    v = parse("0.1");
    assert_true(v->u.f == 0.1);
    v = parse("123456789012345678901234567890.5e-10"); /* slow path */
    assert_true(v->u.f == strtod("123456789012345678901234567890.5e-10", NULL));
    v = parse("2.2250738585072014e-308");
    assert_true(v->u.f == 2.2250738585072014e-308);
    /* writing keeps them exact */
    assert_string_equal(write_json(parse("9007199254740993"), 0), "9007199254740993");
    assert_string_equal(write_json(value_int(&A, SLUICE_TYPE_INT64, INT64_MIN), 0),
                        "-9223372036854775808");
    assert_string_equal(write_json(value_int(&A, SLUICE_TYPE_INT64, INT64_MAX), 0),
                        "9223372036854775807");
    assert_string_equal(write_json(value_int(&A, SLUICE_TYPE_INT8, -7), 0), "-7");
    assert_string_equal(write_json(value_int(&A, SLUICE_TYPE_INT32, 0), 0), "0");
}

static void test_parse_structure_and_strings(void **state)
{
    (void)state;
    sluice_value_t *v = parse("{\"b\":1,\"a\":[true,false,null,\"x\"],\"b\":2,\"c\":{}}");
    assert_int_equal(v->type, SLUICE_TYPE_MAP);
    assert_int_equal(v->u.m.len, 3); /* duplicate "b": the last wins, at its first place */
    assert_string_equal(v->u.m.items[0].name, "b");
    assert_string_equal(v->u.m.items[1].name, "a");
    assert_int_equal(value_get(v, "b")->u.i, 2);
    sluice_value_t *arr = value_get(v, "a");
    assert_int_equal(arr->u.a.len, 4);
    assert_int_equal(arr->u.a.items[2]->type, SLUICE_TYPE_NULL);
    assert_int_equal(value_get(v, "c")->u.m.len, 0);

    v = parse("\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\\u0000z\"");
    const char want[] = "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80\0z";
    assert_int_equal(v->u.s.len, sizeof want - 1);
    assert_memory_equal(v->u.s.ptr, want, sizeof want - 1);
    v = parse("\"h\xc3\xa9llo \xe2\x82\xac\""); /* raw UTF-8 passes */
    assert_int_equal(v->u.s.len, 10);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_fails("{\"a\":1", 6, "unexpected end of input");
    parse_fails("{\"a\":1", 6, "at byte 6");
    parse_fails("{} x", 4, "unexpected trailing characters after the value at byte 3");
    parse_fails("\"ab\\q\"", 6, "invalid escape '\\q' in string at byte 3");
    parse_fails("\"\\ud800x\"", 9, "invalid UTF-16 surrogate pair");
    parse_fails("\"\\ud800\\u0041\"", 14, "invalid UTF-16 surrogate pair");
    parse_fails("\"\\udc00\"", 8, "lone low surrogate");
    parse_fails("\"\\u12\"", 6, "expected 4 hex digits");
    parse_fails("\"abc", 4, "unterminated string at byte 0");
    parse_fails("\"a\nb\"", 5, "control character");
    parse_fails("\"\xc3\x28\"", 4, "invalid UTF-8");
    parse_fails("\"\xed\xa0\x80\"", 5, "invalid UTF-8"); /* an encoded surrogate */
    parse_fails("01", 2, "trailing");
    parse_fails("1.", 2, "no digit after '.'");
    parse_fails("-", 1, "invalid number");
    parse_fails("[1,]", 4, "unexpected character ']' at byte 3");
    parse_fails("{\"a\" 1}", 7, "expected ':'");
    parse_fails("{1:2}", 5, "expected a string key");
    parse_fails("tru", 3, "unexpected character 't'");
    parse_fails("", 0, "unexpected end of input at byte 0");
    parse_fails("[1 2]", 5, "expected ',' or ']'");
    char deep[600];
    memset(deep, '[', sizeof deep);
    parse_fails(deep, sizeof deep, "nesting deeper than");
}

static void test_write_scalars(void **state)
{
    (void)state;
    struct {
        double d;
        const char *want;
    } dbl[] = {
        {0.1, "0.1"},
        {3.0, "3.0"},
        {-2.5, "-2.5"},
        {1e21, "1e+21"},
        {1.0 / 3, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-0.0, "-0.0"},
        {123456.789, "123456.789"},
        {5e-324, "4.94065645841247e-324"},
        {0.001, "0.001"},
        {1e-7, "1e-07"},
        {NAN, "null"},
        {INFINITY, "null"},
        {9007199254740993.0, "9007199254740992.0"},
    };
    for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; i++) {
        const char *got = write_json(value_float(&A, SLUICE_TYPE_FLOAT64, dbl[i].d), 0);
        if (strcmp(got, dbl[i].want) != 0)
            fail_msg("double %.17g: got %s want %s", dbl[i].d, got, dbl[i].want);
    }
    assert_string_equal(write_json(value_float(&A, SLUICE_TYPE_FLOAT32, 0.1), 0), "0.1");
    assert_string_equal(write_json(value_float(&A, SLUICE_TYPE_FLOAT32, 3.14159274), 0),
                        "3.1415927");
    assert_string_equal(write_json(value_float(&A, SLUICE_TYPE_FLOAT32, 1e30), 0), "1e+30");
    assert_string_equal(write_json(value_bool(&A, 1), 0), "true");
    assert_string_equal(write_json(value_null(&A), 0), "null");
    assert_string_equal(write_json(value_string(&A, "a\"b\\c\n\x01\x7f/", 9), 0),
                        "\"a\\\"b\\\\c\\n\\u0001\x7f/\"");
    /* invalid UTF-8 is replaced so the output stays valid JSON */
    assert_string_equal(write_json(value_string(&A,
                                                "x\xff"
                                                "y",
                                                3),
                                   0),
                        "\"x\\ufffdy\"");
    assert_string_equal(write_json(value_bytes(&A, "\x00\x01\xfe\xff", 4), 0), "\"AAH+/w==\"");
    /* a string that references unterminated bytes is written by its length */
    assert_string_equal(write_json(value_string_ref(&A, "abcdef", 3), 0), "\"abc\"");
}

static void test_double_round_trip_random(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    buf_t b;
    buf_init(&b);
    arena_t t;
    arena_init(&t, 1 << 16);
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        if (i % 2) {
            memcpy(&d, &x, sizeof d);
        } else { /* human-like numbers: few decimals */
            static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7};
            d = (double)(int64_t)(x % 2000000000) / p10[(x >> 60) % 8];
        }
        int f32 = i % 5 == 0;
        if (f32)
            d = (double)(float)d;
        if (!isfinite(d))
            continue;
        buf_reset(&b);
        assert_int_equal(
            json_write(&b, value_float(&t, f32 ? SLUICE_TYPE_FLOAT32 : SLUICE_TYPE_FLOAT64, d), 0),
            SLUICE_OK);
        sluice_value_t *v = NULL;
        assert_int_equal(json_parse(&t, b.data, b.len, &v, err, sizeof err), SLUICE_OK);
        assert_int_equal(v->type, SLUICE_TYPE_FLOAT64); /* always written as a float */
        int same = f32 ? (float)v->u.f == (float)d : v->u.f == d;
        if (!same)
            fail_msg("%.17g written as %s read back as %.17g", d, b.data, v->u.f);
        if (b.len > 25u)
            fail_msg("%.17g written too long: %s", d, b.data);
        if (i % 1000 == 0)
            arena_reset(&t);
    }
    arena_free(&t);
    buf_free(&b);
}

/* -- schemas -------------------------------------------------------------------------------- */

static void test_schema_json_form(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    sluice_schema_t *st = schema_struct(&o, "x");
    schema_add_field(st, "id", schema_new(&o, SLUICE_TYPE_INT32));
    buf_t b;
    buf_init(&b);
    assert_int_equal(json_write_schema(&b, st), SLUICE_OK);
    /* byte for byte what Kafka Connect's JsonConverter writes */
    assert_string_equal(b.data, "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
                                "\"optional\":false,\"field\":\"id\"}],\"optional\":false,"
                                "\"name\":\"x\"}");

    const char *text =
        "{\"type\":\"struct\",\"name\":\"r\",\"version\":3,\"doc\":\"a reading\","
        "\"optional\":true,\"fields\":["
        "{\"type\":\"array\",\"items\":{\"type\":\"float\",\"optional\":false},\"field\":\"a\"},"
        "{\"type\":\"map\",\"keys\":{\"type\":\"int16\"},\"values\":{\"type\":\"double\","
        "\"optional\":true},\"field\":\"m\"},"
        "{\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\","
        "\"parameters\":{\"scale\":\"2\"},\"field\":\"d\",\"default\":\"AA==\"}]}";
    sluice_schema_t *s = json_parse_schema(&o, text, strlen(text), err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->type, SLUICE_TYPE_STRUCT);
    assert_int_equal(s->version, 3);
    assert_true(s->optional);
    assert_string_equal(s->doc, "a reading");
    assert_int_equal(s->nfields, 3);
    assert_int_equal(s->fields[0].schema->items->type, SLUICE_TYPE_FLOAT32);
    assert_int_equal(s->fields[1].schema->keys->type, SLUICE_TYPE_INT16);
    assert_true(s->fields[1].schema->values->optional);
    assert_string_equal(schema_param(s->fields[2].schema, "scale"), "2");
    /* written and read again: the same schema */
    buf_reset(&b);
    assert_int_equal(json_write_schema(&b, s), SLUICE_OK);
    sluice_schema_t *s2 = json_parse_schema(&o, b.data, b.len, err, sizeof err);
    assert_non_null(s2);
    assert_true(schema_equal(s, s2));

    /* errors, and nothing leaks from a half-built schema (valgrind) */
    const char *bad[][2] = {
        {"{\"type\":\"int33\"}", "unknown schema type \"int33\""},
        {"{\"optional\":true}", "no \"type\""},
        {"{\"type\":\"struct\",\"fields\":[{\"type\":\"int8\"}]}", "no \"field\" name"},
        {"{\"type\":\"struct\",\"fields\":[{\"type\":\"array\",\"field\":\"q\"}]}",
         "field \"q\": array schema has no \"items\""},
        {"{\"type\":\"map\",\"keys\":{\"type\":\"string\"}}", "\"keys\" and \"values\""},
        {"[1]", "must be a JSON object"},
        {"{\"type\":", "unexpected end of input"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(json_parse_schema(&o, bad[i][0], strlen(bad[i][0]), err, sizeof err));
        if (!strstr(err, bad[i][1]))
            fail_msg("schema %s: got \"%s\", want \"%s\"", bad[i][0], err, bad[i][1]);
    }
    buf_free(&b);
    schema_owner_free(&o);
}

/* A struct schema with every Connect type, logical types, nesting and optional fields. */
static sluice_schema_t *big_schema(schema_owner_t *o)
{
    sluice_schema_t *st = schema_struct(o, "com.example.Everything");
    const sluice_type_t prims[] = {SLUICE_TYPE_INT8,    SLUICE_TYPE_INT16,   SLUICE_TYPE_INT32,
                                   SLUICE_TYPE_INT64,   SLUICE_TYPE_FLOAT32, SLUICE_TYPE_FLOAT64,
                                   SLUICE_TYPE_BOOLEAN, SLUICE_TYPE_STRING,  SLUICE_TYPE_BYTES};
    const char *names[] = {"i8", "i16", "i32", "i64", "f32", "f64", "bool", "str", "bytes"};
    for (size_t i = 0; i < 9; i++)
        schema_add_field(st, names[i], schema_new(o, prims[i]));
    sluice_schema_t *ts = schema_new(o, SLUICE_TYPE_INT64);
    schema_set_name(ts, SLUICE_LOGICAL_TIMESTAMP);
    ts->version = 1;
    schema_add_field(st, "ts", ts);
    sluice_schema_t *date = schema_new(o, SLUICE_TYPE_INT32);
    schema_set_name(date, SLUICE_LOGICAL_DATE);
    schema_add_field(st, "date", date);
    sluice_schema_t *time = schema_new(o, SLUICE_TYPE_INT32);
    schema_set_name(time, SLUICE_LOGICAL_TIME);
    schema_add_field(st, "time", time);
    sluice_schema_t *dec = schema_new(o, SLUICE_TYPE_BYTES);
    schema_set_name(dec, SLUICE_LOGICAL_DECIMAL);
    schema_set_param(dec, "scale", "2");
    schema_add_field(st, "price", dec);
    schema_add_field(st, "list", schema_array(o, schema_new(o, SLUICE_TYPE_INT32)));
    schema_add_field(
        st, "smap",
        schema_map(o, schema_new(o, SLUICE_TYPE_STRING), schema_new(o, SLUICE_TYPE_INT64)));
    schema_add_field(
        st, "imap",
        schema_map(o, schema_new(o, SLUICE_TYPE_INT32), schema_new(o, SLUICE_TYPE_STRING)));
    sluice_schema_t *inner = schema_struct(o, "com.example.Inner");
    sluice_schema_t *opt = schema_new(o, SLUICE_TYPE_STRING);
    opt->optional = 1;
    schema_add_field(inner, "note", opt);
    schema_add_field(inner, "n", schema_new(o, SLUICE_TYPE_INT32));
    schema_add_field(st, "inner", inner);
    sluice_schema_t *optinner = schema_struct(o, "com.example.Inner2");
    optinner->optional = 1;
    schema_add_field(optinner, "z", schema_new(o, SLUICE_TYPE_INT8));
    schema_add_field(st, "maybe", optinner);
    return st;
}

static sluice_value_t *big_value(const sluice_schema_t *st, const char *price, size_t price_len)
{
    sluice_value_t *v = value_struct(&A, st);
    const sluice_schema_t *f;
#define FS(name) (f = st->fields[schema_field_index(st, name)].schema)
#define PUT(name, val)                                                                             \
    do {                                                                                           \
        sluice_value_t *x_ = (val);                                                                \
        x_->schema = FS(name);                                                                     \
        assert_int_equal(value_put(&A, v, name, x_), SLUICE_OK);                                   \
    } while (0)
    PUT("i8", value_int(&A, SLUICE_TYPE_INT8, -128));
    PUT("i16", value_int(&A, SLUICE_TYPE_INT16, 32767));
    PUT("i32", value_int(&A, SLUICE_TYPE_INT32, INT32_MIN));
    PUT("i64", value_int(&A, SLUICE_TYPE_INT64, INT64_C(9007199254740993)));
    PUT("f32", value_float(&A, SLUICE_TYPE_FLOAT32, 0.1));
    PUT("f64", value_float(&A, SLUICE_TYPE_FLOAT64, -1.0 / 3));
    PUT("bool", value_bool(&A, 1));
    PUT("str", value_string(&A, "caf\xc3\xa9 \"q\"\n", 10));
    PUT("bytes", value_bytes(&A, "\x00\xff\x10", 3));
    PUT("ts", value_int(&A, SLUICE_TYPE_INT64, INT64_C(1673143200123)));
    PUT("date", value_int(&A, SLUICE_TYPE_INT32, 19365));
    PUT("time", value_int(&A, SLUICE_TYPE_INT32, 7200123));
    PUT("price", value_bytes(&A, price, price_len));
    sluice_value_t *list = value_array(&A, FS("list"));
    for (int i = 0; i < 3; i++)
        value_append(&A, list, value_int(&A, SLUICE_TYPE_INT32, i * 10));
    PUT("list", list);
    sluice_value_t *smap = value_map(&A, FS("smap"));
    value_put(&A, smap, "one", value_int(&A, SLUICE_TYPE_INT64, 1));
    value_put(&A, smap, "two", value_int(&A, SLUICE_TYPE_INT64, 2));
    PUT("smap", smap);
    sluice_value_t *imap = value_map(&A, FS("imap"));
    value_map_put(&A, imap, value_int(&A, SLUICE_TYPE_INT32, 7), value_string(&A, "seven", 5));
    PUT("imap", imap);
    sluice_value_t *inner = value_struct(&A, FS("inner"));
    value_put(&A, inner, "n", value_int(&A, SLUICE_TYPE_INT32, 5)); /* "note" stays null */
    PUT("inner", inner);
#undef PUT
#undef FS
    return v;
}

static void test_envelope_round_trip(void **state)
{
    (void)state;
    for (int fmt = 0; fmt < 2; fmt++) {
        converter_t c;
        assert_int_equal(
            converter_init(&c, "json", 1, (enum json_decimal_format)fmt, err, sizeof err),
            SLUICE_OK);
        schema_owner_t o;
        schema_owner_init(&o);
        sluice_schema_t *st = big_schema(&o);
        sluice_value_t *v = big_value(st, "\xff\x43\x9e\xe1", 4); /* -123456.31 at scale 2 */
        buf_t b;
        buf_init(&b);
        int is_null = -1;
        assert_int_equal(converter_encode(&c, "t", v, &b, &is_null, err, sizeof err), SLUICE_OK);
        assert_int_equal(is_null, 0);
        assert_non_null(strstr(b.data, "{\"schema\":{\"type\":\"struct\",\"fields\":["));
        assert_non_null(strstr(b.data, ",\"payload\":{\"i8\":-128,"));
        assert_non_null(strstr(b.data, "\"i64\":9007199254740993"));
        assert_non_null(strstr(b.data, "\"imap\":[[7,\"seven\"]]"));
        assert_non_null(strstr(b.data, "\"smap\":{\"one\":1,\"two\":2}"));
        assert_non_null(strstr(b.data, "\"inner\":{\"note\":null,\"n\":5},\"maybe\":null}"));
        assert_non_null(strstr(b.data, "\"ts\":1673143200123"));
        if (fmt == JSON_DECIMAL_NUMERIC)
            assert_non_null(strstr(b.data, "\"price\":-123456.31"));
        else
            assert_non_null(strstr(b.data, "\"price\":\"/0Oe4Q==\""));

        sluice_value_t *back = NULL;
        assert_int_equal(converter_decode(&c, &A, b.data, b.len, &back, err, sizeof err),
                         SLUICE_OK);
        assert_true(value_equal(v, back));
        assert_true(schema_equal(back->schema, st));
        assert_true(schema_is_logical(value_get(back, "ts")->schema, SLUICE_LOGICAL_TIMESTAMP));
        assert_int_equal(value_get(back, "f32")->type, SLUICE_TYPE_FLOAT32);
        assert_int_equal(value_get(back, "maybe")->type, SLUICE_TYPE_NULL);
        /* encoding the decoded value gives the same bytes */
        buf_t b2;
        buf_init(&b2);
        assert_int_equal(converter_encode(&c, "t", back, &b2, &is_null, err, sizeof err),
                         SLUICE_OK);
        assert_string_equal(b.data, b2.data);
        buf_free(&b2);
        buf_free(&b);
        schema_owner_free(&o);
        converter_free(&c);
    }
}

static void test_envelope_errors(void **state)
{
    (void)state;
    converter_t c;
    converter_init(&c, "json", 1, JSON_DECIMAL_BASE64, err, sizeof err);
    const char *msg = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" "
                      "fields and may not contain additional fields";
    const char *bad[] = {
        "{\"schema\":null,\"payload\":1,\"extra\":2}",
        "{\"schema\":null}",
        "{\"payload\":{\"a\":1}}",
        "{\"a\":1}",
        "[1,2]",
        "42",
        "{}",
        "{\"schema\":null,\"payload\":1,\"payload\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sluice_value_t *v = (sluice_value_t *)1;
        assert_int_equal(converter_decode(&c, &A, bad[i], strlen(bad[i]), &v, err, sizeof err),
                         SLUICE_ERR_INVALID);
        assert_null(v);
        if (!strstr(err, msg))
            fail_msg("envelope %s: got \"%s\"", bad[i], err);
    }
    /* a syntax error is reported as one, not as a missing envelope */
    const char *trunc = "{\"schema\":null,\"payload\":{\"a\":";
    sluice_value_t *v;
    assert_int_equal(converter_decode(&c, &A, trunc, strlen(trunc), &v, err, sizeof err),
                     SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "unexpected end of input at byte 30"));
    /* a payload that does not fit its schema says where */
    const char *mism = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int8\","
                       "\"optional\":false,\"field\":\"small\"}]},\"payload\":{\"small\":300}}";
    assert_int_equal(converter_decode(&c, &A, mism, strlen(mism), &v, err, sizeof err),
                     SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "field \"small\": value 300 is out of range for int8"));
    const char *badschema = "{\"schema\":{\"type\":\"nope\"},\"payload\":1}";
    assert_int_equal(converter_decode(&c, &A, badschema, strlen(badschema), &v, err, sizeof err),
                     SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "invalid schema in the envelope: unknown schema type \"nope\""));
    converter_free(&c);
}

static void test_schema_cache(void **state)
{
    (void)state;
    converter_t c;
    converter_init(&c, "json", 1, JSON_DECIMAL_BASE64, err, sizeof err);
    const char *r1 = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\","
                     "\"optional\":false,\"field\":\"id\"}],\"optional\":false},"
                     "\"payload\":{\"id\":1}}";
    const char *r2 = "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\","
                     "\"optional\":false,\"field\":\"id\"}],\"optional\":false},"
                     "\"payload\":{\"id\":2}}";
    /* payload first, the other schema: still exactly two keys, any order */
    const char *r3 = "{ \"payload\" : \"hi\" , \"schema\" : {\"type\":\"string\"} }";
    sluice_value_t *v1, *v2, *v3, *v4;
    assert_int_equal(converter_decode(&c, &A, r1, strlen(r1), &v1, err, sizeof err), SLUICE_OK);
    assert_int_equal(converter_decode(&c, &A, r2, strlen(r2), &v2, err, sizeof err), SLUICE_OK);
    assert_ptr_equal(v1->schema, v2->schema); /* parsed once */
    assert_int_equal(c.cache_len, 1);
    assert_int_equal(value_get(v2, "id")->u.i, 2);
    assert_int_equal(converter_decode(&c, &A, r3, strlen(r3), &v3, err, sizeof err), SLUICE_OK);
    assert_int_equal(v3->type, SLUICE_TYPE_STRING);
    assert_memory_equal(v3->u.s.ptr, "hi", 2);
    assert_int_equal(c.cache_len, 2);
    assert_int_equal(converter_decode(&c, &A, r1, strlen(r1), &v4, err, sizeof err), SLUICE_OK);
    assert_ptr_equal(v4->schema, v1->schema);
    assert_int_equal(c.cache_len, 2);

    /* many different schemas: the cache stays bounded and decoding keeps working */
    char rec[200];
    for (int i = 0; i < 1100; i++) {
        int n = snprintf(rec, sizeof rec,
                         "{\"schema\":{\"type\":\"int32\",\"name\":\"s%d\"},\"payload\":%d}", i, i);
        sluice_value_t *x;
        assert_int_equal(converter_decode(&c, &A, rec, (size_t)n, &x, err, sizeof err), SLUICE_OK);
        assert_int_equal(x->u.i, i);
        assert_int_equal(x->type, SLUICE_TYPE_INT32);
        snprintf(rec, sizeof rec, "s%d", i);
        assert_string_equal(x->schema->name, rec);
    }
    assert_int_equal(c.cache_len, 1000);
    converter_free(&c);
}

static void test_schemaless_json(void **state)
{
    (void)state;
    converter_t env, plain;
    converter_init(&env, "json", 1, JSON_DECIMAL_BASE64, err, sizeof err);
    converter_init(&plain, "json", 0, JSON_DECIMAL_BASE64, err, sizeof err);
    sluice_value_t *v = parse("{\"luz\":512,\"hora\":\"02:00\",\"x\":[1.5,null]}");
    buf_t b;
    buf_init(&b);
    int is_null;
    assert_int_equal(converter_encode(&env, "t", v, &b, &is_null, err, sizeof err), SLUICE_OK);
    assert_string_equal(b.data, "{\"schema\":null,\"payload\":{\"luz\":512,\"hora\":\"02:00\","
                                "\"x\":[1.5,null]}}");
    sluice_value_t *back;
    assert_int_equal(converter_decode(&env, &A, b.data, b.len, &back, err, sizeof err), SLUICE_OK);
    assert_null(back->schema);
    assert_true(value_equal(v, back));
    buf_reset(&b);
    assert_int_equal(converter_encode(&plain, "t", v, &b, &is_null, err, sizeof err), SLUICE_OK);
    assert_string_equal(b.data, "{\"luz\":512,\"hora\":\"02:00\",\"x\":[1.5,null]}");
    /* plain JSON is just JSON: an envelope-looking object is kept as a map */
    assert_int_equal(converter_decode(&plain, &A, "{\"schema\":1}", 12, &back, err, sizeof err),
                     SLUICE_OK);
    assert_int_equal(value_get(back, "schema")->u.i, 1);
    /* null in, no bytes out; no bytes in, null out */
    buf_reset(&b);
    assert_int_equal(converter_encode(&env, "t", NULL, &b, &is_null, err, sizeof err), SLUICE_OK);
    assert_int_equal(is_null, 1);
    assert_int_equal(converter_encode(&env, "t", value_null(&A), &b, &is_null, err, sizeof err),
                     SLUICE_OK);
    assert_int_equal(is_null, 1);
    assert_int_equal(b.len, 0);
    assert_int_equal(converter_decode(&env, &A, NULL, 0, &back, err, sizeof err), SLUICE_OK);
    assert_int_equal(back->type, SLUICE_TYPE_NULL);
    buf_free(&b);
    converter_free(&env);
    converter_free(&plain);
}

static void test_string_and_bytes_converters(void **state)
{
    (void)state;
    converter_t s, by;
    assert_int_equal(converter_init(&s, "string", 0, 0, err, sizeof err), SLUICE_OK);
    assert_int_equal(converter_init(&by, "bytes", 0, 0, err, sizeof err), SLUICE_OK);
    const char data[] = "hello|not part of it";
    sluice_value_t *v;
    assert_int_equal(converter_decode(&s, &A, data, 5, &v, err, sizeof err), SLUICE_OK);
    assert_int_equal(v->type, SLUICE_TYPE_STRING);
    assert_ptr_equal(v->u.s.ptr, data); /* no copy */
    assert_int_equal(v->u.s.len, 5);
    assert_int_equal(converter_decode(&by, &A, data, 5, &v, err, sizeof err), SLUICE_OK);
    assert_int_equal(v->type, SLUICE_TYPE_BYTES);
    assert_ptr_equal(v->u.s.ptr, data);

    buf_t b;
    buf_init(&b);
    int is_null;
    /* the string converter writes a referenced string by its length */
    assert_int_equal(
        converter_encode(&s, "t", value_string_ref(&A, data, 5), &b, &is_null, err, sizeof err),
        SLUICE_OK);
    assert_string_equal(b.data, "hello");
    buf_reset(&b);
    assert_int_equal(
        converter_encode(&s, "t", parse("{\"a\":[1,true]}"), &b, &is_null, err, sizeof err),
        SLUICE_OK);
    assert_string_equal(b.data, "{\"a\":[1,true]}");
    buf_reset(&b);
    assert_int_equal(
        converter_encode(&by, "t", value_bytes(&A, "\x00\x01", 2), &b, &is_null, err, sizeof err),
        SLUICE_OK);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "\x00\x01", 2);
    buf_reset(&b);
    assert_int_equal(converter_encode(&by, "t", value_int(&A, SLUICE_TYPE_INT32, 1), &b, &is_null,
                                      err, sizeof err),
                     SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "bytes converter writes only bytes or string values, not int32"));
    assert_int_equal(b.len, 0);
    buf_free(&b);
    converter_free(&s);
    converter_free(&by);

    converter_t bad;
    assert_int_equal(converter_init(&bad, "avro2", 0, 0, err, sizeof err), SLUICE_ERR_CONFIG);
    assert_non_null(strstr(err, "unknown converter 'avro2'"));
    converter_free(&bad);
    assert_string_equal(converter_names[0], "json");
    assert_string_equal(converter_names[3], "avro");
    assert_null(converter_names[4]);
}

static const sluice_value_t *decimal_of(const char *num, const char *scale, schema_owner_t *o,
                                        sluice_err_t want)
{
    sluice_schema_t *d = schema_new(o, SLUICE_TYPE_BYTES);
    schema_set_name(d, SLUICE_LOGICAL_DECIMAL);
    schema_set_param(d, "scale", scale);
    sluice_value_t *v = NULL;
    assert_int_equal(json_parse_with_schema(&A, num, strlen(num), d, &v, err, sizeof err), want);
    return v;
}

static void test_decimal(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    struct {
        const char *num, *scale;
        const char *bytes;
        size_t len;
        const char *numeric;
    } cases[] = {
        {"-1", "0", "\xff", 1, "-1"},
        {"128", "0", "\x00\x80", 2, "128"},
        {"-128", "0", "\x80", 1, "-128"},
        {"-129", "0", "\xff\x7f", 2, "-129"},
        {"0", "3", "\x00", 1, "0.000"},
        {"12.3", "2", "\x04\xce", 2, "12.30"}, /* 1230: padded to the scale */
        {"1.2300", "2", "\x7b", 1, "1.23"},    /* trailing zeros beyond the scale are fine */
        {"-0.05", "2", "\xfb", 1, "-0.05"},
        {"1e2", "1", "\x03\xe8", 2, "100.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sluice_value_t *v = decimal_of(cases[i].num, cases[i].scale, &o, SLUICE_OK);
        if (v->u.s.len != cases[i].len || memcmp(v->u.s.ptr, cases[i].bytes, cases[i].len) != 0)
            fail_msg("decimal %s scale %s: wrong bytes (len %zu)", cases[i].num, cases[i].scale,
                     v->u.s.len);
        assert_string_equal(write_json(v, JSON_DECIMAL_NUMERIC), cases[i].numeric);
    }
    const sluice_value_t *v;
    decimal_of("1.234", "2", &o, SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "more digits after the point than its scale 2"));
    decimal_of("5", "-2", &o, SLUICE_ERR_INVALID); /* not a multiple of 100 */
    v = decimal_of("500", "-2", &o, SLUICE_OK);
    assert_string_equal(write_json(v, JSON_DECIMAL_NUMERIC), "500");
    /* arbitrary length: 40 digits survive NUMERIC and BASE64 round trips */
    const char *big = "-1234567890123456789012345678901234567.890";
    v = decimal_of(big, "3", &o, SLUICE_OK);
    assert_string_equal(write_json(v, JSON_DECIMAL_NUMERIC), big);
    const char *b64 = write_json(v, JSON_DECIMAL_BASE64);
    const sluice_value_t *v2 = decimal_of(b64, "3", &o, SLUICE_OK);
    assert_true(value_equal(v, v2));
    decimal_of("\"not base64!\"", "2", &o, SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "invalid base64 for a decimal"));
    schema_owner_free(&o);
}

static void test_parse_with_schema_rules(void **state)
{
    (void)state;
    schema_owner_t o;
    schema_owner_init(&o);
    const char *stext = "{\"type\":\"struct\",\"fields\":["
                        "{\"type\":\"int16\",\"field\":\"a\"},"
                        "{\"type\":\"string\",\"optional\":true,\"field\":\"b\"},"
                        "{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"optional\":true,"
                        "\"field\":\"c\"}]}";
    sluice_schema_t *s = json_parse_schema(&o, stext, strlen(stext), err, sizeof err);
    assert_non_null(s);
    sluice_value_t *v;
    /* fields out of order, an unknown key ignored, optional fields absent */
    const char *ok = "{\"zzz\":{\"deep\":[1,2]},\"a\":-300}";
    assert_int_equal(json_parse_with_schema(&A, ok, strlen(ok), s, &v, err, sizeof err), SLUICE_OK);
    assert_int_equal(v->u.m.len, 3);
    assert_int_equal(value_get(v, "a")->type, SLUICE_TYPE_INT16);
    assert_int_equal(value_get(v, "a")->u.i, -300);
    assert_int_equal(value_get(v, "b")->type, SLUICE_TYPE_NULL);
    struct {
        const char *text, *want;
    } bad[] = {
        {"{\"b\":\"x\"}", "missing required field \"a\" (int16)"},
        {"{\"a\":null}", "field \"a\": invalid null value for required int16 field"},
        {"{\"a\":1.5}", "field \"a\": expected int16 but found the number 1.5"},
        {"{\"a\":\"1\"}", "field \"a\": expected int16 but found a string at byte 5"},
        {"{\"a\":1,\"c\":[true,1]}", "field \"c\": expected boolean but found a number"},
        {"{\"a\":40000}", "value 40000 is out of range for int16"},
        {"[]", "expected struct but found an array at byte 0"},
        {"{\"a\":1} x", "trailing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            json_parse_with_schema(&A, bad[i].text, strlen(bad[i].text), s, &v, err, sizeof err),
            SLUICE_ERR_INVALID);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: got \"%s\", want \"%s\"", bad[i].text, err, bad[i].want);
    }
    /* 1.0 and 1e2 are integers for integer types */
    assert_int_equal(json_parse_with_schema(&A, "{\"a\":1e2}", 9, s, &v, err, sizeof err),
                     SLUICE_OK);
    assert_int_equal(value_get(v, "a")->u.i, 100);

    /* the same rules from an already parsed value */
    sluice_value_t *in = parse("{\"a\":7,\"c\":[false],\"b\":\"hey\"}");
    assert_int_equal(json_value_to_schema(&A, in, s, &v, err, sizeof err), SLUICE_OK);
    assert_int_equal(v->type, SLUICE_TYPE_STRUCT);
    assert_string_equal(v->u.m.items[1].name, "b");
    assert_memory_equal(value_get(v, "b")->u.s.ptr, "hey", 3);
    assert_int_equal(value_get(v, "c")->u.a.items[0]->type, SLUICE_TYPE_BOOLEAN);
    in = parse("{\"a\":70000}");
    assert_int_equal(json_value_to_schema(&A, in, s, &v, err, sizeof err), SLUICE_ERR_INVALID);
    assert_non_null(strstr(err, "field \"a\": value 70000 is out of range for int16"));
    /* maps with non-string keys come as [[k,v],...] */
    sluice_schema_t *m =
        schema_map(&o, schema_new(&o, SLUICE_TYPE_INT64), schema_new(&o, SLUICE_TYPE_FLOAT64));
    in = parse("[[1,2.5],[3,4]]");
    assert_int_equal(json_value_to_schema(&A, in, m, &v, err, sizeof err), SLUICE_OK);
    assert_int_equal(v->u.m.len, 2);
    assert_int_equal(v->u.m.items[1].key->u.i, 3);
    assert_int_equal(v->u.m.items[1].value->type, SLUICE_TYPE_FLOAT64);
    assert_string_equal(write_json(v, 0), "[[1,2.5],[3,4.0]]");
    schema_owner_free(&o);
}

static void test_base64(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        buf_reset(&b);
        assert_int_equal(base64_encode(&b, plain[i], strlen(plain[i])), 0);
        assert_string_equal(b.data, enc[i]);
        void *out;
        size_t n;
        assert_int_equal(base64_decode(&A, enc[i], strlen(enc[i]), &out, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    void *out;
    size_t n;
    assert_int_equal(base64_decode(&A, "Zm9vYg", 6, &out, &n), 0); /* padding optional */
    assert_int_equal(n, 4);
    assert_int_equal(base64_decode(&A, "Zm9v!A==", 8, &out, &n), -1);
    assert_int_equal(base64_decode(&A, "Z", 1, &out, &n), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_numbers_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_structure_and_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_round_trip_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_json_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schemaless_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_and_bytes_converters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_with_schema_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
