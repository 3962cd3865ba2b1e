/* The avro converter without services: Connect → Avro schema text (Confluent's AvroData form),
 * Avro binary round trips of every type, exact bytes of hand-computed datums, malformed input
 * (truncated, bad varints, huge lengths, bad magic) as errors, the wire format through a
 * registry client whose cache is preloaded, and the schema.registry: block checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avro.h"
#include "convert.h"
#include "json.h"
#include "schema_registry.h"
#include "value.h"

static arena_t A;
static schema_owner_t O;
static buf_t B;
static char err[1024];

static int setup(void **state)
{
    (void)state;
    arena_init(&A, 4096);
    schema_owner_init(&O);
    buf_init(&B);
    err[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_free(&A);
    schema_owner_free(&O);
    buf_free(&B);
    return 0;
}

static const sluice_schema_t *schema(const char *json)
{
    sluice_schema_t *s = json_parse_schema(&O, json, strlen(json), err, sizeof err);
    if (!s)
        fail_msg("schema %s: %s", json, err);
    return s;
}

static sluice_value_t *value(const sluice_schema_t *s, const char *json)
{
    sluice_value_t *v = NULL;
    if (json_parse_with_schema(&A, json, strlen(json), s, &v, err, sizeof err) != SLUICE_OK)
        fail_msg("value %s: %s", json, err);
    return v;
}

static const char *avro_text(const sluice_schema_t *s)
{
    buf_reset(&B);
    if (avro_schema_from_connect(&B, s, err, sizeof err) != SLUICE_OK)
        fail_msg("avro schema: %s", err);
    return B.data;
}

static void text_is(const char *connect, const char *want)
{
    const char *got = avro_text(schema(connect));
    if (strcmp(got, want) != 0)
        fail_msg("schema %s\n got: %s\nwant: %s", connect, got, want);
}

static void error_has(const char *want)
{
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

/* Connect's logical types as JSON schema members (without the braces, to embed in fields) */
#define DEC2_IN                                                                                    \
    "\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"         \
    "\"parameters\":{\"scale\":\"2\"}"
#define DATE_IN "\"type\":\"int32\",\"name\":\"org.apache.kafka.connect.data.Date\",\"version\":1"
#define TIME_IN "\"type\":\"int32\",\"name\":\"org.apache.kafka.connect.data.Time\",\"version\":1"
#define TS_IN                                                                                      \
    "\"type\":\"int64\",\"name\":\"org.apache.kafka.connect.data.Timestamp\",\"version\":1"
#define DEC2 "{" DEC2_IN
#define DATE "{" DATE_IN
#define TIME "{" TIME_IN
#define TS   "{" TS_IN

static void test_schema_text_primitives(void **state)
{
    (void)state;
    text_is("{\"type\":\"int32\"}", "\"int\"");
    text_is("{\"type\":\"int64\"}", "\"long\"");
    text_is("{\"type\":\"float\"}", "\"float\"");
    text_is("{\"type\":\"double\"}", "\"double\"");
    text_is("{\"type\":\"boolean\"}", "\"boolean\"");
    text_is("{\"type\":\"string\"}", "\"string\"");
    text_is("{\"type\":\"bytes\"}", "\"bytes\"");
    text_is("{\"type\":\"int8\"}", "{\"type\":\"int\",\"connect.type\":\"int8\"}");
    text_is("{\"type\":\"int16\",\"optional\":true}",
            "[\"null\",{\"type\":\"int\",\"connect.type\":\"int16\"}]");
    text_is("{\"type\":\"string\",\"optional\":true}", "[\"null\",\"string\"]");
    text_is(DEC2 "}", "{\"type\":\"bytes\",\"scale\":2,\"precision\":64,\"connect.version\":1,"
                      "\"connect.parameters\":{\"scale\":\"2\"},"
                      "\"connect.name\":\"org.apache.kafka.connect.data.Decimal\","
                      "\"logicalType\":\"decimal\"}");
    text_is(DATE "}", "{\"type\":\"int\",\"connect.version\":1,"
                      "\"connect.name\":\"org.apache.kafka.connect.data.Date\","
                      "\"logicalType\":\"date\"}");
    text_is(TIME "}", "{\"type\":\"int\",\"connect.version\":1,"
                      "\"connect.name\":\"org.apache.kafka.connect.data.Time\","
                      "\"logicalType\":\"time-millis\"}");
    text_is(TS ",\"optional\":true}",
            "[\"null\",{\"type\":\"long\",\"connect.version\":1,"
            "\"connect.name\":\"org.apache.kafka.connect.data.Timestamp\","
            "\"logicalType\":\"timestamp-millis\"}]");
    text_is("{\"type\":\"string\",\"doc\":\"d\",\"parameters\":{\"k\":\"v\"}}",
            "{\"type\":\"string\",\"connect.doc\":\"d\",\"connect.parameters\":{\"k\":\"v\"}}");
    text_is("{\"type\":\"array\",\"items\":{\"type\":\"int64\"}}",
            "{\"type\":\"array\",\"items\":\"long\"}");
    text_is("{\"type\":\"map\",\"keys\":{\"type\":\"string\"},\"values\":{\"type\":\"int32\"}}",
            "{\"type\":\"map\",\"values\":\"int\"}");
}

static void test_schema_text_structs(void **state)
{
    (void)state;
    /* unnamed structs: ConnectDefault, then ConnectDefault2; optional fields default to null;
     * maps with non-string keys are arrays of MapEntry records */
    text_is("{\"type\":\"struct\",\"fields\":["
            "{\"field\":\"id\",\"type\":\"int64\"},"
            "{\"field\":\"name\",\"type\":\"string\",\"optional\":true},"
            "{\"field\":\"inner\",\"type\":\"struct\",\"optional\":true,\"fields\":["
            "{\"field\":\"x\",\"type\":\"int32\"}]},"
            "{\"field\":\"counts\",\"type\":\"map\",\"keys\":{\"type\":\"int32\"},"
            "\"values\":{\"type\":\"string\",\"optional\":true}},"
            "{\"field\":\"tags\",\"type\":\"array\",\"items\":{\"type\":\"string\"}}]}",
            "{\"type\":\"record\",\"name\":\"ConnectDefault\","
            "\"namespace\":\"io.confluent.connect.avro\",\"fields\":["
            "{\"name\":\"id\",\"type\":\"long\"},"
            "{\"name\":\"name\",\"type\":[\"null\",\"string\"],\"default\":null},"
            "{\"name\":\"inner\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
            "\"ConnectDefault2\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}],"
            "\"default\":null},"
            "{\"name\":\"counts\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
            "\"name\":\"MapEntry\",\"fields\":[{\"name\":\"key\",\"type\":\"int\"},"
            "{\"name\":\"value\",\"type\":[\"null\",\"string\"],\"default\":null}]}}},"
            "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}");
    /* a named struct: its namespace and connect.name; reused: a reference */
    text_is("{\"type\":\"struct\",\"name\":\"com.acme.Order\",\"version\":2,\"fields\":["
            "{\"field\":\"from\",\"type\":\"struct\",\"name\":\"com.acme.Addr\",\"fields\":["
            "{\"field\":\"city\",\"type\":\"string\"}]},"
            "{\"field\":\"to\",\"type\":\"struct\",\"name\":\"com.acme.Addr\",\"optional\":true,"
            "\"fields\":[{\"field\":\"city\",\"type\":\"string\"}]}]}",
            "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"com.acme\",\"fields\":["
            "{\"name\":\"from\",\"type\":{\"type\":\"record\",\"name\":\"Addr\",\"fields\":["
            "{\"name\":\"city\",\"type\":\"string\"}],\"connect.name\":\"com.acme.Addr\"}},"
            "{\"name\":\"to\",\"type\":[\"null\",\"com.acme.Addr\"],\"default\":null}],"
            "\"connect.version\":2,\"connect.name\":\"com.acme.Order\"}");
    /* two different structs with one name cannot be told apart in Avro */
    buf_reset(&B);
    const sluice_schema_t *bad = schema(
        "{\"type\":\"struct\",\"name\":\"a.A\",\"fields\":[{\"field\":\"x\",\"type\":\"struct\","
        "\"name\":\"a.A\",\"fields\":[]}]}");
    assert_int_equal(avro_schema_from_connect(&B, bad, err, sizeof err), SLUICE_ERR_INVALID);
    error_has("two different structs are named 'a.A'");
    assert_int_equal(B.len, 0);
    bad = schema("{\"type\":\"struct\",\"fields\":[{\"field\":\"order-id\",\"type\":\"int32\"}]}");
    assert_int_equal(avro_schema_from_connect(&B, bad, err, sizeof err), SLUICE_ERR_INVALID);
    error_has("field name 'order-id' is not a valid Avro name");
}

/* A struct with every Connect type, as a JSON schema. */
static const char *EVERY =
    "{\"type\":\"struct\",\"name\":\"test.Every\",\"fields\":["
    "{\"field\":\"i8\",\"type\":\"int8\"},"
    "{\"field\":\"i16\",\"type\":\"int16\"},"
    "{\"field\":\"i32\",\"type\":\"int32\"},"
    "{\"field\":\"i64\",\"type\":\"int64\"},"
    "{\"field\":\"f32\",\"type\":\"float\"},"
    "{\"field\":\"f64\",\"type\":\"double\"},"
    "{\"field\":\"b\",\"type\":\"boolean\"},"
    "{\"field\":\"s\",\"type\":\"string\"},"
    "{\"field\":\"raw\",\"type\":\"bytes\"},"
    "{\"field\":\"opt\",\"type\":\"string\",\"optional\":true},"
    "{\"field\":\"optnum\",\"type\":\"int64\",\"optional\":true},"
    "{\"field\":\"dec\"," DEC2_IN "},"
    "{\"field\":\"day\"," DATE_IN "},"
    "{\"field\":\"tod\"," TIME_IN "},"
    "{\"field\":\"ts\"," TS_IN "},"
    "{\"field\":\"arr\",\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true}},"
    "{\"field\":\"smap\",\"type\":\"map\",\"keys\":{\"type\":\"string\"},"
    "\"values\":{\"type\":\"double\"}},"
    "{\"field\":\"imap\",\"type\":\"map\",\"keys\":{\"type\":\"int64\"},"
    "\"values\":{\"type\":\"string\"}},"
    "{\"field\":\"nested\",\"type\":\"struct\",\"optional\":true,\"fields\":["
    "{\"field\":\"deep\",\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":["
    "{\"field\":\"q\",\"type\":\"int16\"}]}}]}"
    "]}";

static const char *EVERY_VALUE =
    "{\"i8\":-128,\"i16\":32767,\"i32\":-2147483648,\"i64\":9223372036854775807,"
    "\"f32\":1.5,\"f64\":-2.25e-300,\"b\":true,\"s\":\"h\\u00e9llo \\u2603\",\"raw\":\"AAEC/w==\","
    "\"opt\":null,\"optnum\":-9223372036854775808,\"dec\":\"AYaf\",\"day\":19000,"
    "\"tod\":86399999,\"ts\":1700000000123,\"arr\":[1,null,-3],"
    "\"smap\":{\"a\":1.0,\"\":-0.5},\"imap\":[[1,\"one\"],[-2,\"minus two\"]],"
    "\"nested\":{\"deep\":[{\"q\":7},{\"q\":-7}]}}";

static void round_trip(const sluice_schema_t *s, const sluice_value_t *v)
{
    avro_reader_t r;
    buf_t text, data;
    sluice_value_t *back = NULL;
    buf_init(&text);
    buf_init(&data);
    if (avro_schema_from_connect(&text, s, err, sizeof err) != SLUICE_OK)
        fail_msg("schema: %s", err);
    if (avro_write_datum(&data, v, s, err, sizeof err) != SLUICE_OK)
        fail_msg("encode: %s", err);
    if (avro_reader_parse(&r, &O, &A, text.data, text.len, err, sizeof err) != SLUICE_OK)
        fail_msg("parse %s: %s", text.data, err);
    if (avro_read_datum(&r, &A, data.data, data.len, &back, err, sizeof err) != SLUICE_OK)
        fail_msg("decode: %s", err);
    assert_true(value_equal(v, back));
    if (!schema_equal(s, r.schema)) {
        buf_t a, b;
        buf_init(&a);
        buf_init(&b);
        json_write_schema(&a, s);
        json_write_schema(&b, r.schema);
        fail_msg("schema changed:\n%s\n%s", a.data, b.data);
    }
    assert_ptr_equal(back->schema, r.schema);
    /* every shorter input is an error, never a crash or an over-read */
    for (size_t n = 0; n < data.len; n++) {
        char *copy = malloc(n ? n : 1); /* exact size: valgrind sees any over-read */
        memcpy(copy, data.data, n);
        sluice_value_t *x = (sluice_value_t *)1;
        assert_int_not_equal(avro_read_datum(&r, &A, copy, n, &x, err, sizeof err), SLUICE_OK);
        assert_null(x);
        free(copy);
    }
    buf_free(&text);
    buf_free(&data);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    const sluice_schema_t *s = schema(EVERY);
    round_trip(s, value(s, EVERY_VALUE));
    /* empty containers, the optional struct null */
    round_trip(s, value(s, "{\"i8\":0,\"i16\":0,\"i32\":0,\"i64\":0,\"f32\":0,\"f64\":0,"
                           "\"b\":false,\"s\":\"\",\"raw\":\"\",\"opt\":\"x\",\"optnum\":null,"
                           "\"dec\":\"AA==\",\"day\":0,\"tod\":0,\"ts\":-1,\"arr\":[],\"smap\":{},"
                           "\"imap\":[],\"nested\":null}"));
    /* top-level non-struct schemas */
    const sluice_schema_t *p = schema("{\"type\":\"string\"}");
    round_trip(p, value(p, "\"plain\""));
    p = schema("{\"type\":\"array\",\"items\":{\"type\":\"int64\"}}");
    round_trip(p, value(p, "[1,2,3]"));
    p = schema("{\"type\":\"int64\",\"optional\":true}");
    round_trip(p, value(p, "42"));
}

/* Encode `v` with `s` and compare with the hand-computed bytes. */
static void bytes_are(const sluice_schema_t *s, const sluice_value_t *v, const char *hex)
{
    buf_reset(&B);
    if (avro_write_datum(&B, v, s, err, sizeof err) != SLUICE_OK)
        fail_msg("encode: %s", err);
    char got[2048] = "";
    for (size_t i = 0; i < B.len && i < 1000; i++)
        snprintf(got + 2 * i, 3, "%02x", (unsigned char)B.data[i]);
    if (strcmp(got, hex) != 0)
        fail_msg("got %s, want %s", got, hex);
}

static void test_exact_bytes(void **state)
{
    (void)state;
    const sluice_schema_t *i32 = schema("{\"type\":\"int32\"}");
    const sluice_schema_t *i64 = schema("{\"type\":\"int64\"}");
    bytes_are(i32, value(i32, "0"), "00");
    bytes_are(i32, value(i32, "-1"), "01");
    bytes_are(i32, value(i32, "1"), "02");
    bytes_are(i32, value(i32, "63"), "7e");
    bytes_are(i32, value(i32, "64"), "8001");
    bytes_are(i32, value(i32, "-65"), "8101");
    bytes_are(i32, value(i32, "2147483647"), "feffffff0f");
    bytes_are(i32, value(i32, "-2147483648"), "ffffffff0f");
    bytes_are(i64, value(i64, "-9223372036854775808"), "ffffffffffffffffff01");
    bytes_are(i64, value(i64, "9223372036854775807"), "feffffffffffffffff01");
    bytes_are(i64, value(i64, "-300"), "d704");
    /* a 200-byte string: length 200 → zigzag 400 → 0x90 0x03 */
    const sluice_schema_t *str = schema("{\"type\":\"string\"}");
    char json[256], hex[1024];
    memset(json, 'a', sizeof json);
    json[0] = '"';
    json[201] = '"';
    json[202] = '\0';
    strcpy(hex, "9003");
    for (int i = 0; i < 200; i++)
        strcat(hex, "61");
    bytes_are(str, value(str, json), hex);
    /* Decimal 123.45 at scale 2: unscaled 12345 = 0x3039 → length 2 (zigzag 4) */
    const sluice_schema_t *dec = schema(DEC2 "}");
    bytes_are(dec, value(dec, "\"MDk=\""), "043039");
    const sluice_schema_t *f32 = schema("{\"type\":\"float\"}");
    bytes_are(f32, value(f32, "1.5"), "0000c03f");
    const sluice_schema_t *f64 = schema("{\"type\":\"double\"}");
    bytes_are(f64, value(f64, "-2"), "00000000000000c0");
    /* a record: int 1, optional string null (branch 0), optional string "x" (branch 1) */
    const sluice_schema_t *rec =
        schema("{\"type\":\"struct\",\"fields\":[{\"field\":\"a\",\"type\":\"int32\"},"
               "{\"field\":\"b\",\"type\":\"string\",\"optional\":true},"
               "{\"field\":\"c\",\"type\":\"string\",\"optional\":true},"
               "{\"field\":\"t\",\"type\":\"boolean\"}]}");
    bytes_are(rec, value(rec, "{\"a\":1,\"b\":null,\"c\":\"x\",\"t\":true}"), "020002027801");
    /* array [1,2]: one block of 2 items, then 0; map {"k":3}; empty array: just 0 */
    const sluice_schema_t *arr = schema("{\"type\":\"array\",\"items\":{\"type\":\"int32\"}}");
    bytes_are(arr, value(arr, "[1,2]"), "04020400");
    bytes_are(arr, value(arr, "[]"), "00");
    const sluice_schema_t *map =
        schema("{\"type\":\"map\",\"keys\":{\"type\":\"string\"},\"values\":{\"type\":\"int32\"}}");
    bytes_are(map, value(map, "{\"k\":3}"), "02026b0600");
}

/* Decoding `hex` with the Avro schema `text` must fail with `want` in the message. */
static void decode_fails(const char *text, const unsigned char *data, size_t len, const char *want)
{
    avro_reader_t r;
    sluice_value_t *v = (sluice_value_t *)1;
    if (avro_reader_parse(&r, &O, &A, text, strlen(text), err, sizeof err) != SLUICE_OK)
        fail_msg("parse %s: %s", text, err);
    assert_int_equal(avro_read_datum(&r, &A, data, len, &v, err, sizeof err), SLUICE_ERR_INVALID);
    assert_null(v);
    error_has(want);
}

static void test_malformed_data(void **state)
{
    (void)state;
    static const unsigned char long_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff, 0xff, 0x01};
    decode_fails("\"long\"", long_varint, sizeof long_varint, "longer than 64 bits");
    static const unsigned char big_int[] = {0x80, 0x80, 0x80, 0x80, 0x10}; /* 2^31 zigzag */
    decode_fails("\"int\"", big_int, sizeof big_int, "does not fit int32");
    static const unsigned char huge_len[] = {0xfe, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0x7f, 'a'};
    decode_fails("\"string\"", huge_len, sizeof huge_len, "beyond the end of the data");
    static const unsigned char neg_len[] = {0x01};
    decode_fails("\"bytes\"", neg_len, sizeof neg_len, "negative Avro length");
    static const unsigned char huge_block[] = {0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02};
    decode_fails("{\"type\":\"array\",\"items\":\"long\"}", huge_block, sizeof huge_block,
                 "larger than the data left");
    /* zero-byte items cannot be checked against the data: their number is bounded */
    static const unsigned char empty_items[] = {0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00};
    decode_fails("{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"E\","
                 "\"fields\":[]}}",
                 empty_items, sizeof empty_items, "larger than the data left");
    static const unsigned char branch[] = {0x04, 0x02};
    decode_fails("[\"null\",\"int\"]", branch, sizeof branch, "union branch 2");
    static const unsigned char boolean[] = {0x02};
    decode_fails("\"boolean\"", boolean, sizeof boolean, "invalid Avro boolean");
    static const unsigned char left[] = {0x02, 0x02};
    decode_fails("\"int\"", left, sizeof left, "1 bytes are left over");
    static const unsigned char sym[] = {0x06};
    decode_fails("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}", sym, sizeof sym,
                 "enum index 3");
}

static void reader_fails(const char *text, const char *want)
{
    avro_reader_t r;
    assert_int_equal(avro_reader_parse(&r, &O, &A, text, strlen(text), err, sizeof err),
                     SLUICE_ERR_INVALID);
    error_has(want);
}

static void test_avro_schemas_from_elsewhere(void **state)
{
    (void)state;
    avro_reader_t r;
    sluice_value_t *v = NULL;
    /* an enum, a fixed, a general union, timestamp-micros, namespaces and references, as a
     * Python or Java producer would write them */
    const char *text =
        "{\"type\":\"record\",\"name\":\"Pay\",\"namespace\":\"shop\",\"doc\":\"a payment\","
        "\"fields\":["
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":"
        "[\"CARD\",\"CASH\"]}},"
        "{\"name\":\"kind2\",\"type\":\"Kind\"},"
        "{\"name\":\"hash\",\"type\":{\"type\":\"fixed\",\"name\":\"H\",\"size\":2}},"
        "{\"name\":\"either\",\"type\":[\"null\",\"int\",\"string\"]},"
        "{\"name\":\"us\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
        "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":10,\"scale\":3}}]}";
    if (avro_reader_parse(&r, &O, &A, text, strlen(text), err, sizeof err) != SLUICE_OK)
        fail_msg("parse: %s", err);
    static const unsigned char data[] = {0x02, 0x00, 0xaa, 0xbb, 0x04, 0x04,
                                         'h',  'i',  0x01, 0x02, 0x07};
    if (avro_read_datum(&r, &A, data, sizeof data, &v, err, sizeof err) != SLUICE_OK)
        fail_msg("decode: %s", err);
    buf_reset(&B);
    json_write(&B, v, JSON_DECIMAL_NUMERIC);
    assert_string_equal(B.data, "{\"kind\":\"CASH\",\"kind2\":\"CARD\",\"hash\":\"qrs=\","
                                "\"either\":{\"int\":null,\"string\":\"hi\"},\"us\":-1,"
                                "\"amount\":0.007}");
    const sluice_schema_t *s = r.schema;
    assert_string_equal(s->name, "shop.Pay");
    assert_string_equal(schema_param(s, "io.confluent.connect.avro.record.doc"), "a payment");
    const sluice_schema_t *kind = s->fields[0].schema;
    assert_int_equal(kind->type, SLUICE_TYPE_STRING);
    assert_string_equal(schema_param(kind, "io.confluent.connect.avro.Enum"), "shop.Kind");
    assert_string_equal(schema_param(kind, "io.confluent.connect.avro.Enum.CASH"), "CASH");
    const sluice_schema_t *either = s->fields[3].schema;
    assert_string_equal(either->name, "io.confluent.connect.avro.Union");
    assert_true(either->optional);
    assert_int_equal(s->fields[4].schema->type, SLUICE_TYPE_INT64);
    assert_null(s->fields[4].schema->name);
    assert_true(schema_is_logical(s->fields[5].schema, SLUICE_LOGICAL_DECIMAL));
    assert_string_equal(schema_param(s->fields[5].schema, "scale"), "3");
    assert_string_equal(schema_param(s->fields[5].schema, "connect.decimal.precision"), "10");
    /* and back through sluice's own Avro form of that schema (enum → string, fixed → bytes,
     * the Union struct → a union again) without a change */
    round_trip(s, v);

    reader_fails("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":"
                 "[\"null\",\"L\"]}]}",
                 "refers to itself");
    reader_fails("\"null\"", "only null");
    reader_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "\"nope\"}]}",
                 "field 'x': unknown Avro type 'nope'");
    reader_fails("{not json", "not valid JSON");
}

/* -- the converter over a registry client with a preloaded cache ----------------------------- */

static sr_client_t *client(void)
{
    const char *keys[] = {"url"}, *vals[] = {"http://127.0.0.1:1/apis/ccompat/v7/"};
    sr_client_t *c = sr_client_new(keys, vals, 1, err, sizeof err);
    if (!c)
        fail_msg("client: %s", err);
    return c;
}

static void test_converter_wire_format(void **state)
{
    (void)state;
    sr_client_t *sr = client();
    converter_t c;
    sluice_value_t *v = NULL;
    const sluice_schema_t *s = schema(EVERY);
    const char *text = avro_text(s);
    assert_int_equal(sr_client_preload(sr, 0x01020304, text), SLUICE_OK);
    assert_int_equal(converter_init_avro(&c, sr, 0, SR_TOPIC_NAME, 1, err, sizeof err), SLUICE_OK);
    /* decode Confluent framing: 0x00, id 0x01020304, datum */
    const sluice_value_t *orig = value(s, EVERY_VALUE);
    buf_reset(&B);
    buf_append(&B, "\x00\x01\x02\x03\x04", 5);
    assert_int_equal(avro_write_datum(&B, orig, s, err, sizeof err), SLUICE_OK);
    assert_int_equal(converter_decode(&c, &A, B.data, B.len, &v, err, sizeof err), SLUICE_OK);
    assert_true(value_equal(orig, v));
    assert_true(schema_equal(s, v->schema));
    /* a second value with the same id reuses the parsed schema */
    const sluice_schema_t *first = v->schema;
    assert_int_equal(converter_decode(&c, &A, B.data, B.len, &v, err, sizeof err), SLUICE_OK);
    assert_ptr_equal(first, v->schema);
    assert_int_equal(sr_client_requests(sr), 0);
    /* null stays null */
    assert_int_equal(converter_decode(&c, &A, NULL, 0, &v, err, sizeof err), SLUICE_OK);
    assert_int_equal(v->type, SLUICE_TYPE_NULL);

    assert_int_equal(converter_decode(&c, &A, "\x00\x01", 2, &v, err, sizeof err),
                     SLUICE_ERR_INVALID);
    error_has("too short for Confluent's Avro wire format");
    assert_int_equal(converter_decode(&c, &A, "{\"a\":1}", 7, &v, err, sizeof err),
                     SLUICE_ERR_INVALID);
    error_has("starts with byte 0x7b, not 0x00 (it looks like JSON");
    assert_int_equal(converter_decode(&c, &A, "\x00\x01\x02\x03\x04\x02", 6, &v, err, sizeof err),
                     SLUICE_ERR_INVALID);
    error_has("schema id 16909060: the Avro data ends early");
    /* an id not in the cache: the registry is asked, and it is not there */
    assert_int_equal(converter_decode(&c, &A, "\x00\x00\x00\x00\x09\x02", 6, &v, err, sizeof err),
                     SLUICE_ERR_IO);
    error_has("cannot reach the schema registry (http://127.0.0.1:1/apis/ccompat/v7: ");
    error_has("schema id 9");
    assert_int_equal(sr_client_requests(sr), 1);

    /* encoding: a value without a schema, a registry that is down */
    int is_null = 0;
    buf_reset(&B);
    sluice_value_t *schemaless = value_string(&A, "x", 1);
    assert_int_equal(converter_encode(&c, "t", schemaless, &B, &is_null, err, sizeof err),
                     SLUICE_ERR_INVALID);
    error_has("the avro converter needs a value with a schema; this record's value has none (use "
              "the json converter with schemas.enable: false for schemaless data)");
    assert_int_equal(converter_encode(&c, "t", orig, &B, &is_null, err, sizeof err), SLUICE_ERR_IO);
    error_has("cannot reach the schema registry (http://127.0.0.1:1/apis/ccompat/v7");
    assert_int_equal(B.len, 0);
    assert_int_equal(converter_encode(&c, "t", NULL, &B, &is_null, err, sizeof err), SLUICE_OK);
    assert_int_equal(is_null, 1);
    converter_free(&c);

    /* record name strategies need a record */
    assert_int_equal(converter_init_avro(&c, sr, 1, SR_RECORD_NAME, 1, err, sizeof err), SLUICE_OK);
    const sluice_schema_t *str = schema("{\"type\":\"string\"}");
    assert_int_equal(converter_encode(&c, "t", value(str, "\"k\""), &B, &is_null, err, sizeof err),
                     SLUICE_ERR_INVALID);
    error_has("RecordNameStrategy needs a struct (an Avro record) but the key's schema is string");
    converter_free(&c);
    assert_int_equal(converter_init_avro(&c, NULL, 0, SR_TOPIC_NAME, 1, err, sizeof err),
                     SLUICE_ERR_CONFIG);
    error_has("schema.registry:");
    converter_free(&c);
    sr_client_free(sr);
}

/* -- the converter's schema identity (issue 23): no per-record comparison, yet no stale id ---- */

/* The schema id in the Confluent framing of `v` encoded for topic "t". */
static int32_t encoded_id(converter_t *c, const sluice_value_t *v)
{
    buf_t out;
    int is_null = 0;
    buf_init(&out);
    if (converter_encode(c, "t", v, &out, &is_null, err, sizeof err) != SLUICE_OK)
        fail_msg("encode: %s", err);
    assert_true(out.len > 5);
    const unsigned char *b = (const unsigned char *)out.data;
    int32_t id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 |
                           (uint32_t)b[4]);
    buf_free(&out);
    return id;
}

/* `id` is what the registry gives the current shape of `s` under "t-value" (the client's cache,
 * preloaded: its url is unreachable, so a shape not preloaded fails the encode). */
static void registered(sr_client_t *sr, const sluice_schema_t *s, int32_t id)
{
    sr_client_preload_subject(sr, "t-value", avro_text(s), id);
}

static void test_converter_schema_changed_in_place(void **state)
{
    (void)state;
    sr_client_t *sr = client();
    converter_t c;
    assert_int_equal(converter_init_avro(&c, sr, 0, SR_TOPIC_NAME, 1, err, sizeof err), SLUICE_OK);
    /* rec {a: int32, n: inner {x: int32}}, built the way a plugin does through the host */
    sluice_schema_t *rec = schema_struct(&O, "rec");
    sluice_schema_t *inner = schema_struct(&O, "inner");
    sluice_schema_t *x = schema_new(&O, SLUICE_TYPE_INT32);
    assert_int_equal(schema_add_field(inner, "x", x), SLUICE_OK);
    assert_int_equal(schema_add_field(rec, "a", schema_new(&O, SLUICE_TYPE_INT32)), SLUICE_OK);
    assert_int_equal(schema_add_field(rec, "n", inner), SLUICE_OK);
    registered(sr, rec, 11);
    assert_int_equal(encoded_id(&c, value(rec, "{\"a\":1,\"n\":{\"x\":2}}")), 11);
    assert_int_equal(encoded_id(&c, value(rec, "{\"a\":3,\"n\":{\"x\":4}}")), 11);

    /* a field added to the same schema object after it was used: the new shape's id */
    assert_int_equal(schema_add_field(rec, "b", schema_new(&O, SLUICE_TYPE_STRING)), SLUICE_OK);
    registered(sr, rec, 12);
    assert_int_equal(encoded_id(&c, value(rec, "{\"a\":1,\"n\":{\"x\":2},\"b\":\"y\"}")), 12);
    assert_int_equal(encoded_id(&c, value(rec, "{\"a\":1,\"n\":{\"x\":2},\"b\":\"z\"}")), 12);

    /* a schema deep under it changed (the root object untouched): seen too */
    schema_set_optional(x, 1);
    registered(sr, rec, 13);
    assert_int_equal(encoded_id(&c, value(rec, "{\"a\":1,\"n\":{\"x\":null},\"b\":\"y\"}")), 13);
    /* ... and a field added to the schema added last (published with it) */
    sluice_schema_t *bs = schema_new(&O, SLUICE_TYPE_STRING);
    sluice_schema_t *in2 = schema_struct(&O, "in2");
    assert_int_equal(schema_add_field(in2, "p", bs), SLUICE_OK);
    assert_int_equal(schema_add_field(rec, "q", in2), SLUICE_OK);
    registered(sr, rec, 14);
    const char *with_q = "{\"a\":1,\"n\":{\"x\":null},\"b\":\"y\",\"q\":{\"p\":\"r\"}}";
    assert_int_equal(encoded_id(&c, value(rec, with_q)), 14);
    assert_int_equal(schema_set_param(bs, "k", "v"), SLUICE_OK);
    registered(sr, rec, 15);
    assert_int_equal(encoded_id(&c, value(rec, with_q)), 15);
    assert_int_equal(encoded_id(&c, value(rec, with_q)), 15);
    assert_int_equal(sr_client_requests(sr), 0);
    converter_free(&c);
    sr_client_free(sr);
}

static void test_converter_schema_address_reused(void **state)
{
    (void)state;
    sr_client_t *sr = client();
    converter_t c;
    arena_t X;
    arena_init(&X, 4096);
    assert_int_equal(converter_init_avro(&c, sr, 0, SR_TOPIC_NAME, 1, err, sizeof err), SLUICE_OK);
    const sluice_schema_t *s1 = schema("{\"type\":\"struct\",\"name\":\"r\",\"fields\":[{"
                                       "\"field\":\"a\",\"type\":\"int32\"}]}");
    const sluice_schema_t *s2 = schema("{\"type\":\"struct\",\"name\":\"r\",\"fields\":[{"
                                       "\"field\":\"a\",\"type\":\"string\"}]}");
    registered(sr, s1, 21);
    registered(sr, s2, 22);
    /* a schema in a batch's arena (as the json converter keeps one past its cache), then another
     * made at the very same address once the arena is reset */
    const sluice_schema_t *p = schema_copy_to_arena(&X, s1);
    assert_int_equal(encoded_id(&c, value(p, "{\"a\":1}")), 21);
    assert_int_equal(encoded_id(&c, value(p, "{\"a\":2}")), 21);
    uint64_t epoch = schema_epoch();
    arena_reset(&X);
    const sluice_schema_t *q = schema_copy_to_arena(&X, s2);
    assert_ptr_equal(p, q);
    assert_int_equal(schema_epoch(), epoch); /* nothing told the caches: the serial does */
    assert_true(schema_serial_of(p) != 0);
    assert_int_equal(encoded_id(&c, value(q, "{\"a\":\"z\"}")), 22);
    assert_int_equal(encoded_id(&c, value(q, "{\"a\":\"w\"}")), 22);
    /* a heap schema freed with its owner and another made after it */
    schema_owner_t o1, o2;
    schema_owner_init(&o1);
    schema_owner_init(&o2);
    sluice_schema_t *h1 = schema_struct(&o1, "r");
    assert_int_equal(schema_add_field(h1, "a", schema_new(&o1, SLUICE_TYPE_INT32)), SLUICE_OK);
    assert_int_equal(encoded_id(&c, value(h1, "{\"a\":1}")), 21);
    epoch = schema_epoch();
    schema_owner_free(&o1);
    assert_true(schema_epoch() != epoch); /* it was published: freeing it is a change */
    sluice_schema_t *h2 = schema_struct(&o2, "r");
    assert_int_equal(schema_add_field(h2, "a", schema_new(&o2, SLUICE_TYPE_STRING)), SLUICE_OK);
    assert_int_equal(encoded_id(&c, value(h2, "{\"a\":\"z\"}")), 22);
    schema_owner_free(&o2);
    assert_int_equal(sr_client_requests(sr), 0);
    arena_free(&X);
    converter_free(&c);
    sr_client_free(sr);
}

/* What the converter relies on: serials unique per object, the epoch moved only by a change to a
 * published schema (building new ones per record costs the caches nothing). */
static void test_schema_epoch(void **state)
{
    (void)state;
    uint64_t e0 = schema_epoch();
    sluice_schema_t *st = schema_struct(&O, "s");
    sluice_schema_t *f = schema_new(&O, SLUICE_TYPE_INT64);
    assert_int_equal(schema_add_field(st, "f", f), SLUICE_OK);
    schema_set_optional(f, 1);
    assert_int_equal(schema_set_doc(st, "d"), SLUICE_OK);
    assert_int_equal(schema_epoch(), e0);
    assert_true(schema_serial_of(st) != 0 && schema_serial_of(f) != 0);
    assert_true(schema_serial_of(st) != schema_serial_of(f));
    schema_publish(st);
    schema_set_optional(f, 0);
    assert_true(schema_epoch() > e0);
    uint64_t e1 = schema_epoch();
    assert_int_equal(schema_set_name(st, "t"), SLUICE_OK);
    assert_true(schema_epoch() > e1);
    e1 = schema_epoch();
    assert_int_equal(schema_set_param(st, "k", "v"), SLUICE_OK);
    assert_true(schema_epoch() > e1);
    e1 = schema_epoch();
    assert_int_equal(schema_set_param(st, "k", "w"), SLUICE_OK);
    assert_true(schema_epoch() > e1);
    /* an arena copy is another object */
    const sluice_schema_t *cp = schema_copy_to_arena(&A, st);
    assert_true(schema_serial_of(cp) != schema_serial_of(st));
}

static void test_registry_config(void **state)
{
    (void)state;
    const char *k1[] = {"url", "basic.auth.user.inf"}, *v1[] = {"http://x", "a:b"};
    assert_int_equal(sr_config_check(k1, v1, 2, err, sizeof err), -1);
    error_has("unknown key 'basic.auth.user.inf'; did you mean 'basic.auth.user.info'?");
    const char *k2[] = {"schema.registry.url"}, *v2[] = {"http://x"};
    assert_int_equal(sr_config_check(k2, v2, 1, err, sizeof err), -1);
    error_has("did you mean 'url'?");
    const char *k3[] = {"request.timeout.ms"}, *v3[] = {"100"};
    assert_int_equal(sr_config_check(k3, v3, 1, err, sizeof err), -1);
    error_has("'url' is required");
    const char *k4[] = {"url", "basic.auth.user.info"}, *v4[] = {"http://x", "nocolonsecret"};
    assert_int_equal(sr_config_check(k4, v4, 2, err, sizeof err), -1);
    error_has("key:secret");
    assert_null(strstr(err, "nocolonsecret"));
    const char *k5[] = {"url", "basic.auth.credentials.source"}, *v5[] = {"http://x", "SASL"};
    assert_int_equal(sr_config_check(k5, v5, 2, err, sizeof err), -1);
    error_has("USER_INFO or URL");
    const char *k6[] = {"url"}, *v6[] = {"ftp://x"};
    assert_int_equal(sr_config_check(k6, v6, 1, err, sizeof err), -1);
    error_has("http:// or https://");
    const char *k7[] = {"url", "basic.auth.credentials.source", "request.timeout.ms",
                        "ssl.ca.location"},
               *v7[] = {"https://key:s%40cret@sr.example:8081/, http://b:8081", "URL", "5000",
                        "/etc/ssl/ca.pem"};
    assert_int_equal(sr_config_check(k7, v7, 4, err, sizeof err), 0);
    sr_client_t *c = sr_client_new(k7, v7, 4, err, sizeof err);
    assert_non_null(c);
    /* the credentials hidden by the shared rule (core/redact.c), not dropped silently */
    assert_string_equal(sr_client_url(c), "https://********@sr.example:8081");
    sr_client_free(c);
    /* an API secret with an unescaped '/' (base64): the user info ends at the last '@', as
     * redact_url decides it, so no part of the secret shows */
    const char *v8[] = {"http://KEY:ab/cd+ef@sr.example:8081", "URL"};
    assert_int_equal(sr_config_check(k7, v8, 2, err, sizeof err), 0);
    assert_non_null(c = sr_client_new(k7, v8, 2, err, sizeof err));
    assert_string_equal(sr_client_url(c), "http://********@sr.example:8081");
    sr_client_free(c);
    enum sr_strategy st;
    assert_int_equal(
        sr_strategy_parse("io.confluent.kafka.serializers.subject.RecordNameStrategy", &st), 0);
    assert_int_equal(st, SR_RECORD_NAME);
    assert_int_equal(sr_strategy_parse("TopicRecordNameStrategy", &st), 0);
    assert_int_equal(st, SR_TOPIC_RECORD_NAME);
    assert_int_equal(sr_strategy_parse("Nope", &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_text_primitives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_text_structs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_avro_schemas_from_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_converter_wire_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_converter_schema_changed_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_converter_schema_address_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
