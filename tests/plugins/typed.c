/* typed — a test-fixture source: `count` records whose values are structs with every Kafka Connect
 * type (deterministic from the record's number), then EOF. For end-to-end tests of converters that
 * need schemas (avro). Value i:
 *   {i8: i%100-50, i16: -i, i32: i*1000, i64: 2^40+i, f32: i+0.5, f64: i/4, ok: i even,
 *    name: "name-<i>", raw: bytes [i%256, 1, 2], note: null when i%3==0 else "note-<i>",
 *    price: Decimal(scale 2) unscaled 100*i+5, day: Date 19000+i, tod: Time i*1000,
 *    ts: Timestamp 1700000000000+i, tags: ["t<i>", "x"], attrs: {"a": i, "b": -i},
 *    inner: null when i%4==0 else {city: "c<i>"}}
 * The key is the string "k<i>" (schemaless). With `evolve.at` = N > 0, the source changes its
 * schema in place when record N is next (at the start of a poll: a multiple of 100 is a batch
 * boundary): the inner struct's schema, the same object, gains an optional string field `zip`,
 * "z<i>" from then on (a plugin changing a schema under a converter that has used it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/plugin.h"

static const struct sluice_config_field typed_config[] = {
    {.name = "count",
     .type = SLUICE_CFG_INT,
     .default_value = "10",
     .description = "How many records to emit before EOF."},
    {.name = "schema.name",
     .type = SLUICE_CFG_STRING,
     .default_value = "sluice.test.Typed",
     .description = "The struct's name; empty: unnamed."},
    {.name = "evolve.at",
     .type = SLUICE_CFG_INT,
     .default_value = "0",
     .description = "Add the field inner.zip to the schema in place before this record; 0: "
                    "never."},
    {.name = NULL},
};

struct typed {
    const struct sluice_host *h;
    int64_t count, next, evolve_at;
    int evolved;
    sluice_ctx_t *ctx;
    sluice_schema_t *schema;
    sluice_schema_t *inner;
};

static sluice_schema_t *logical(const struct sluice_host *h, sluice_ctx_t *ctx, sluice_type_t t,
                                const char *name)
{
    sluice_schema_t *s = h->schema_new(ctx, t);
    if (s)
        h->schema_set_name(s, name);
    return s;
}

static sluice_err_t typed_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                               const sluice_config_t *cfg, void **state, char *errstr,
                               size_t errstr_size)
{
    struct typed *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    t->h = h;
    t->count = h->config_int(cfg, "count");
    t->evolve_at = h->config_int(cfg, "evolve.at");
    t->ctx = ctx;
    const char *name = h->config_string(cfg, "schema.name");
    sluice_schema_t *s = h->schema_struct(ctx, name && *name ? name : NULL);
    sluice_schema_t *note = h->schema_new(ctx, SLUICE_TYPE_STRING);
    sluice_schema_t *price = logical(h, ctx, SLUICE_TYPE_BYTES, SLUICE_LOGICAL_DECIMAL);
    sluice_schema_t *inner = h->schema_struct(ctx, NULL);
    h->schema_set_optional(note, 1);
    h->schema_set_param(price, "scale", "2");
    h->schema_add_field(inner, "city", h->schema_new(ctx, SLUICE_TYPE_STRING));
    h->schema_set_optional(inner, 1);
    static const struct {
        const char *name;
        sluice_type_t type;
    } simple[] = {
        {"i8", SLUICE_TYPE_INT8},    {"i16", SLUICE_TYPE_INT16},   {"i32", SLUICE_TYPE_INT32},
        {"i64", SLUICE_TYPE_INT64},  {"f32", SLUICE_TYPE_FLOAT32}, {"f64", SLUICE_TYPE_FLOAT64},
        {"ok", SLUICE_TYPE_BOOLEAN}, {"name", SLUICE_TYPE_STRING}, {"raw", SLUICE_TYPE_BYTES}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        h->schema_add_field(s, simple[i].name, h->schema_new(ctx, simple[i].type));
    h->schema_add_field(s, "note", note);
    h->schema_add_field(s, "price", price);
    h->schema_add_field(s, "day", logical(h, ctx, SLUICE_TYPE_INT32, SLUICE_LOGICAL_DATE));
    h->schema_add_field(s, "tod", logical(h, ctx, SLUICE_TYPE_INT32, SLUICE_LOGICAL_TIME));
    h->schema_add_field(s, "ts", logical(h, ctx, SLUICE_TYPE_INT64, SLUICE_LOGICAL_TIMESTAMP));
    h->schema_add_field(s, "tags", h->schema_array(ctx, h->schema_new(ctx, SLUICE_TYPE_STRING)));
    h->schema_add_field(s, "attrs",
                        h->schema_map(ctx, h->schema_new(ctx, SLUICE_TYPE_STRING),
                                      h->schema_new(ctx, SLUICE_TYPE_INT64)));
    h->schema_add_field(s, "inner", inner);
    t->schema = s;
    t->inner = inner;
    *state = t;
    return SLUICE_OK;
}

static sluice_err_t typed_start(void *state, const void *resume, size_t len, char *errstr,
                                size_t errstr_size)
{
    struct typed *t = state;
    (void)errstr, (void)errstr_size;
    if (resume && len == sizeof t->next)
        memcpy(&t->next, resume, sizeof t->next);
    return SLUICE_OK;
}

static sluice_err_t typed_poll(void *state, sluice_batch_t *batch, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
    struct typed *t = state;
    const struct sluice_host *h = t->h;
    char text[64];
    (void)timeout_ms;
    if (t->evolve_at > 0 && t->next >= t->evolve_at && !t->evolved) {
        sluice_schema_t *zip = h->schema_new(t->ctx, SLUICE_TYPE_STRING);
        if (!zip)
            goto nomem;
        h->schema_set_optional(zip, 1);
        if (h->schema_add_field(t->inner, "zip", zip) != SLUICE_OK)
            goto nomem;
        t->evolved = 1;
    }
    for (int k = 0; k < 100 && t->next < t->count; k++) {
        int64_t i = t->next;
        sluice_record_t *r = h->batch_add(batch);
        if (!r)
            goto nomem;
        sluice_value_t *v = h->value_struct(r, t->schema);
        h->value_put(r, v, "i8", h->value_int(r, SLUICE_TYPE_INT8, i % 100 - 50));
        h->value_put(r, v, "i16", h->value_int(r, SLUICE_TYPE_INT16, -i));
        h->value_put(r, v, "i32", h->value_int(r, SLUICE_TYPE_INT32, i * 1000));
        h->value_put(r, v, "i64", h->value_int(r, SLUICE_TYPE_INT64, (INT64_C(1) << 40) + i));
        h->value_put(r, v, "f32", h->value_float(r, SLUICE_TYPE_FLOAT32, (double)i + 0.5));
        h->value_put(r, v, "f64", h->value_float(r, SLUICE_TYPE_FLOAT64, (double)i / 4));
        h->value_put(r, v, "ok", h->value_bool(r, i % 2 == 0));
        snprintf(text, sizeof text, "name-%lld", (long long)i);
        h->value_put(r, v, "name", h->value_string(r, text, strlen(text)));
        unsigned char raw[3] = {(unsigned char)(i % 256), 1, 2};
        h->value_put(r, v, "raw", h->value_bytes(r, raw, sizeof raw));
        if (i % 3) {
            snprintf(text, sizeof text, "note-%lld", (long long)i);
            h->value_put(r, v, "note", h->value_string(r, text, strlen(text)));
        }
        int64_t unscaled = 100 * i + 5; /* < 2^31: four big-endian bytes */
        unsigned char dec[4] = {(unsigned char)(unscaled >> 24), (unsigned char)(unscaled >> 16),
                                (unsigned char)(unscaled >> 8), (unsigned char)unscaled};
        h->value_put(r, v, "price", h->value_bytes(r, dec, sizeof dec));
        h->value_put(r, v, "day", h->value_int(r, SLUICE_TYPE_INT32, 19000 + i));
        h->value_put(r, v, "tod", h->value_int(r, SLUICE_TYPE_INT32, i * 1000));
        h->value_put(r, v, "ts", h->value_int(r, SLUICE_TYPE_INT64, INT64_C(1700000000000) + i));
        sluice_value_t *tags = h->value_array(r, NULL);
        snprintf(text, sizeof text, "t%lld", (long long)i);
        h->value_append(r, tags, h->value_string(r, text, strlen(text)));
        h->value_append(r, tags, h->value_string(r, "x", 1));
        h->value_put(r, v, "tags", tags);
        sluice_value_t *attrs = h->value_map(r, NULL);
        h->value_put(r, attrs, "a", h->value_int(r, SLUICE_TYPE_INT64, i));
        h->value_put(r, attrs, "b", h->value_int(r, SLUICE_TYPE_INT64, -i));
        h->value_put(r, v, "attrs", attrs);
        if (i % 4) {
            sluice_value_t *inner = h->value_struct(r, t->inner);
            snprintf(text, sizeof text, "c%lld", (long long)i);
            h->value_put(r, inner, "city", h->value_string(r, text, strlen(text)));
            if (t->evolved) {
                snprintf(text, sizeof text, "z%lld", (long long)i);
                h->value_put(r, inner, "zip", h->value_string(r, text, strlen(text)));
            }
            h->value_put(r, v, "inner", inner);
        }
        h->record_set_value(r, v);
        snprintf(text, sizeof text, "k%lld", (long long)i);
        h->record_set_key(r, h->value_string(r, text, strlen(text)));
        t->next++;
        h->record_set_position(r, &t->next, sizeof t->next);
    }
    return t->next >= t->count ? SLUICE_EOF : SLUICE_OK;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
    return SLUICE_ERR_NOMEM;
}

static void typed_destroy(void *state)
{
    free(state);
}

static const struct sluice_source typed_source = {
    .struct_size = sizeof(struct sluice_source),
    .config = typed_config,
    .init = typed_init,
    .start = typed_start,
    .poll = typed_poll,
    .destroy = typed_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "typed",
    .version = "1.0.0",
    .summary = "test fixture: a source of structs with every Kafka Connect type",
    .source = &typed_source,
};
