/* host.c — the function table plugins reach the core through. Each entry is a thin adapter over
 * the core module that does the work. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "redact.h"
#include "value.h"

/* -- contexts -----------------------------------------------------------------------------------
 */

int ctx_init(sluice_ctx_t *ctx, const char *pipeline, const char *instance, const char *topic)
{
    memset(ctx, 0, sizeof *ctx);
    size_t n = strlen(pipeline) + strlen(instance) + 2;
    ctx->name = malloc(n);
    if (!ctx->name)
        return -1;
    snprintf(ctx->name, n, "%s/%s", pipeline, instance);
    ctx->topic = topic;
    schema_owner_init(&ctx->schemas);
    pthread_mutex_init(&ctx->mu, NULL);
    log_limits_init(&ctx->limits);
    return 0;
}

void ctx_free(sluice_ctx_t *ctx)
{
    if (!ctx->name)
        return;
    for (int i = 0; i < ctx->ncounters; i++)
        if (atomic_load(&ctx->counters[i].value) != 0)
            log_msg(SLUICE_LOG_INFO, ctx->name, "counter %s: %ld", ctx->counters[i].name,
                    (long)atomic_load(&ctx->counters[i].value));
    log_limits_free(&ctx->limits, ctx->name);
    schema_owner_free(&ctx->schemas);
    pthread_mutex_destroy(&ctx->mu);
    free(ctx->name);
    ctx->name = NULL;
}

/* -- logging ------------------------------------------------------------------------------------
 */

static void host_log(sluice_ctx_t *ctx, sluice_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, ctx ? ctx->name : NULL, fmt, ap);
    va_end(ap);
}

static int64_t host_monotonic_ms(void)
{
    return clock_mono_ms();
}

static int64_t host_now_ms(void)
{
    return clock_wall_ms();
}

static void host_log_limited(sluice_ctx_t *ctx, sluice_log_level_t level, const char *key,
                             int per_minute, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vlimited(&ctx->limits, ctx->name, level, key, per_minute, fmt, ap);
    va_end(ap);
}

static int host_log_enabled(sluice_ctx_t *ctx, sluice_log_level_t level)
{
    (void)ctx;
    return (int)level <= (int)log_get_level();
}

static const char *host_ctx_name(sluice_ctx_t *ctx)
{
    return ctx->name;
}

static const char *host_ctx_topic(sluice_ctx_t *ctx)
{
    return ctx->topic;
}

static int host_ctx_task(sluice_ctx_t *ctx)
{
    return ctx->task;
}

static void host_counter_add(sluice_ctx_t *ctx, const char *name, int64_t delta)
{
    /* Counters are bumped per batch or per rare event, never per record: a mutex is cheap enough
     * and keeps registration and lookup simple. */
    pthread_mutex_lock(&ctx->mu);
    int i;
    for (i = 0; i < ctx->ncounters; i++)
        if (strcmp(ctx->counters[i].name, name) == 0)
            break;
    if (i == ctx->ncounters && ctx->ncounters < CTX_MAX_COUNTERS) {
        snprintf(ctx->counters[i].name, sizeof ctx->counters[i].name, "%s", name);
        atomic_store(&ctx->counters[i].value, 0);
        ctx->ncounters++;
    }
    if (i < ctx->ncounters)
        atomic_fetch_add(&ctx->counters[i].value, delta);
    pthread_mutex_unlock(&ctx->mu);
}

/* -- batches and records ------------------------------------------------------------------------
 */

static size_t host_batch_count(const sluice_batch_t *b)
{
    return b->len;
}

static sluice_record_t *host_batch_get(sluice_batch_t *b, size_t i)
{
    return i < b->len ? b->recs[i] : NULL;
}

static sluice_record_t *host_batch_add(sluice_batch_t *b)
{
    return batch_add(b);
}

static sluice_err_t host_batch_push(sluice_batch_t *out, sluice_record_t *r)
{
    return batch_push(out, r) == 0 ? SLUICE_OK : SLUICE_ERR_NOMEM;
}

static void *host_batch_alloc(sluice_batch_t *b, size_t size)
{
    return arena_alloc(b->arena, size);
}

static const char *host_record_topic(const sluice_record_t *r)
{
    return r->topic;
}

static int32_t host_record_partition(const sluice_record_t *r)
{
    return r->partition;
}

static int64_t host_record_offset(const sluice_record_t *r)
{
    return r->offset;
}

static int64_t host_record_timestamp(const sluice_record_t *r)
{
    return r->timestamp;
}

static void host_record_set_topic(sluice_record_t *r, const char *topic)
{
    const char *t = arena_strdup(r->batch->arena, topic);
    if (t)
        r->topic = t;
}

static void host_record_set_timestamp(sluice_record_t *r, int64_t ts)
{
    r->timestamp = ts;
}

static sluice_value_t *host_record_key(sluice_record_t *r, char *errstr, size_t errstr_size)
{
    return record_get_key(r, errstr, errstr_size);
}

static sluice_value_t *host_record_value(sluice_record_t *r, char *errstr, size_t errstr_size)
{
    return record_get_value(r, errstr, errstr_size);
}

static void host_record_set_key(sluice_record_t *r, sluice_value_t *v)
{
    r->key.value = v;
    r->key.has_bytes = 0;
}

static void host_record_set_value(sluice_record_t *r, sluice_value_t *v)
{
    r->value.value = v;
    r->value.has_bytes = 0;
}

static const void *host_record_value_bytes(const sluice_record_t *r, size_t *len)
{
    if (!r->value.has_bytes || r->value.is_null)
        return NULL;
    *len = r->value.len;
    return r->value.bytes;
}

static const void *host_record_key_bytes(const sluice_record_t *r, size_t *len)
{
    if (!r->key.has_bytes || r->key.is_null)
        return NULL;
    *len = r->key.len;
    return r->key.bytes;
}

static void host_record_set_position(sluice_record_t *r, const void *pos, size_t len)
{
    void *p = arena_alloc(r->batch->arena, len ? len : 1);
    if (!p)
        return;
    memcpy(p, pos, len);
    r->position = p;
    r->position_len = len;
}

static void host_record_add_header(sluice_record_t *r, const char *name, const void *value,
                                   size_t len)
{
    record_add_header(r, name, value, len);
}

static size_t host_record_header_count(const sluice_record_t *r)
{
    record_headers_load((sluice_record_t *)r);
    return r->nheaders;
}

static const char *host_record_header(const sluice_record_t *r, size_t i, const void **value,
                                      size_t *len)
{
    record_headers_load((sluice_record_t *)r);
    if (i >= r->nheaders)
        return NULL;
    *value = r->headers[i].value;
    *len = r->headers[i].len;
    return r->headers[i].name;
}

static void host_record_remove_header(sluice_record_t *r, size_t i)
{
    record_headers_load(r);
    if (i >= r->nheaders)
        return;
    memmove(&r->headers[i], &r->headers[i + 1], (r->nheaders - i - 1) * sizeof r->headers[0]);
    r->nheaders--;
}

static void host_record_fail(sluice_record_t *r, const char *reason)
{
    /* A record whose bytes did not decode failed in its converter, as Kafka Connect says. */
    record_fail(r,
                r->decode_stage  ? r->decode_stage
                : r->offset >= 0 ? "TASK_PUT"
                                 : "TASK_POLL",
                reason);
}

/* -- values -------------------------------------------------------------------------------------
 */

#define ARENA(r) ((r)->batch->arena)

static sluice_value_t *host_value_null(sluice_record_t *r)
{
    return value_null(ARENA(r));
}

static sluice_value_t *host_value_int(sluice_record_t *r, sluice_type_t t, int64_t v)
{
    return value_int(ARENA(r), t, v);
}

static sluice_value_t *host_value_float(sluice_record_t *r, sluice_type_t t, double v)
{
    return value_float(ARENA(r), t, v);
}

static sluice_value_t *host_value_bool(sluice_record_t *r, int v)
{
    return value_bool(ARENA(r), v);
}

static sluice_value_t *host_value_string(sluice_record_t *r, const char *s, size_t len)
{
    return value_string(ARENA(r), s, len);
}

static sluice_value_t *host_value_bytes(sluice_record_t *r, const void *p, size_t len)
{
    return value_bytes(ARENA(r), p, len);
}

static sluice_value_t *host_value_struct(sluice_record_t *r, const sluice_schema_t *s)
{
    return value_struct(ARENA(r), s);
}

static sluice_value_t *host_value_array(sluice_record_t *r, const sluice_schema_t *s)
{
    return value_array(ARENA(r), s);
}

static sluice_value_t *host_value_map(sluice_record_t *r, const sluice_schema_t *s)
{
    return value_map(ARENA(r), s);
}

static void host_value_set_schema(sluice_value_t *v, const sluice_schema_t *s)
{
    v->schema = s;
}

static sluice_err_t host_value_put(sluice_record_t *r, sluice_value_t *obj, const char *field,
                                   sluice_value_t *v)
{
    return value_put(ARENA(r), obj, field, v);
}

static sluice_err_t host_value_append(sluice_record_t *r, sluice_value_t *arr, sluice_value_t *v)
{
    return value_append(ARENA(r), arr, v);
}

static sluice_err_t host_value_map_put(sluice_record_t *r, sluice_value_t *m, sluice_value_t *k,
                                       sluice_value_t *v)
{
    return value_map_put(ARENA(r), m, k, v);
}

static sluice_err_t host_value_map_append(sluice_record_t *r, sluice_value_t *m, sluice_value_t *k,
                                          sluice_value_t *v)
{
    return value_map_append(ARENA(r), m, k, v);
}

static long host_value_index(const sluice_value_t *obj, const char *field)
{
    return value_index(obj, field);
}

static sluice_err_t host_value_set_item(sluice_record_t *r, sluice_value_t *obj, size_t i,
                                        sluice_value_t *v)
{
    (void)r;
    return value_set_item(obj, i, v);
}

static sluice_err_t host_value_map_rename(sluice_record_t *r, sluice_value_t *m, size_t i,
                                          const char *key)
{
    return value_map_rename(ARENA(r), m, i, key);
}

static sluice_type_t host_value_type(const sluice_value_t *v)
{
    return v ? v->type : SLUICE_TYPE_NULL;
}

static const sluice_schema_t *host_value_schema(const sluice_value_t *v)
{
    return v ? v->schema : NULL;
}

static int64_t host_value_as_int(const sluice_value_t *v)
{
    return value_as_int(v);
}

static double host_value_as_float(const sluice_value_t *v)
{
    return value_as_float(v);
}

static int host_value_as_bool(const sluice_value_t *v)
{
    return v && v->type == SLUICE_TYPE_BOOLEAN ? v->u.b : 0;
}

static const char *host_value_as_string(const sluice_value_t *v, size_t *len)
{
    if (!v || (v->type != SLUICE_TYPE_STRING && v->type != SLUICE_TYPE_BYTES)) {
        *len = 0;
        return NULL;
    }
    *len = v->u.s.len;
    return v->u.s.ptr;
}

static size_t host_value_count(const sluice_value_t *v)
{
    if (!v)
        return 0;
    if (v->type == SLUICE_TYPE_ARRAY)
        return v->u.a.len;
    if (v->type == SLUICE_TYPE_MAP || v->type == SLUICE_TYPE_STRUCT)
        return v->u.m.len;
    return 0;
}

static sluice_value_t *host_value_item(const sluice_value_t *v, size_t i, const char **name,
                                       sluice_value_t **key)
{
    if (name)
        *name = NULL;
    if (key)
        *key = NULL;
    if (!v)
        return NULL;
    if (v->type == SLUICE_TYPE_ARRAY)
        return i < v->u.a.len ? v->u.a.items[i] : NULL;
    if ((v->type == SLUICE_TYPE_MAP || v->type == SLUICE_TYPE_STRUCT) && i < v->u.m.len) {
        if (name)
            *name = v->u.m.items[i].name;
        if (key)
            *key = v->u.m.items[i].key;
        return v->u.m.items[i].value;
    }
    return NULL;
}

static sluice_value_t *host_value_get(const sluice_value_t *v, const char *field)
{
    return value_get(v, field);
}

/* Appends to a plugin's buffer keep its first error (ABI 1.3): see buf_sticky_set. */
static sluice_err_t host_value_write_json(const sluice_value_t *v, sluice_buf_t *b)
{
    if (b->err != SLUICE_OK)
        return b->err;
    return buf_sticky_set(b, json_write(b, v, JSON_DECIMAL_BASE64));
}

static sluice_err_t host_value_write_text(const sluice_value_t *v, sluice_buf_t *b)
{
    if (v && (v->type == SLUICE_TYPE_STRING))
        return buf_sticky_append(b, v->u.s.ptr, v->u.s.len);
    return host_value_write_json(v, b);
}

static sluice_value_t *host_value_parse_json(sluice_record_t *r, const char *text, size_t len,
                                             char *errstr, size_t errstr_size)
{
    sluice_value_t *v = NULL;
    if (json_parse(ARENA(r), text, len, &v, errstr, errstr_size) != SLUICE_OK)
        return NULL;
    return v;
}

/* -- buffers ------------------------------------------------------------------------------------
 */

static sluice_buf_t *host_buf_new(size_t cap)
{
    buf_t *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    buf_init(b);
    if (cap && buf_reserve(b, cap) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

static void host_buf_free(sluice_buf_t *b)
{
    if (!b)
        return;
    buf_free(b);
    free(b);
}

static void host_buf_reset(sluice_buf_t *b)
{
    buf_reset(b);
}

static sluice_err_t host_buf_append(sluice_buf_t *b, const void *p, size_t len)
{
    return buf_sticky_append(b, p, len);
}

static sluice_err_t host_buf_printf(sluice_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sluice_err_t e = buf_sticky_vprintf(b, fmt, ap);
    va_end(ap);
    return e;
}

static sluice_err_t host_buf_append_json_string(sluice_buf_t *b, const char *s, size_t len)
{
    if (b->err != SLUICE_OK)
        return b->err;
    return json_write_string(b, s, len) == 0 ? SLUICE_OK : buf_sticky_set(b, SLUICE_ERR_NOMEM);
}

static sluice_err_t host_buf_error(const sluice_buf_t *b)
{
    return b->err;
}

static const char *host_buf_data(const sluice_buf_t *b)
{
    return b->data ? b->data : "";
}

static size_t host_buf_len(const sluice_buf_t *b)
{
    return b->len;
}

/* -- schemas ------------------------------------------------------------------------------------
 */

static sluice_schema_t *host_schema_new(sluice_ctx_t *ctx, sluice_type_t t)
{
    return schema_new(&ctx->schemas, t);
}

static sluice_schema_t *host_schema_struct(sluice_ctx_t *ctx, const char *name)
{
    return schema_struct(&ctx->schemas, name);
}

static sluice_err_t host_schema_add_field(sluice_schema_t *st, const char *name,
                                          const sluice_schema_t *f)
{
    return schema_add_field(st, name, f);
}

static sluice_schema_t *host_schema_array(sluice_ctx_t *ctx, const sluice_schema_t *items)
{
    return schema_array(&ctx->schemas, items);
}

static sluice_schema_t *host_schema_map(sluice_ctx_t *ctx, const sluice_schema_t *k,
                                        const sluice_schema_t *v)
{
    return schema_map(&ctx->schemas, k, v);
}

static void host_schema_set_optional(sluice_schema_t *s, int optional)
{
    schema_set_optional(s, optional); /* through the setter: a published schema's change is seen */
}

static sluice_err_t host_schema_set_name(sluice_schema_t *s, const char *name)
{
    return schema_set_name(s, name);
}

static sluice_err_t host_schema_set_doc(sluice_schema_t *s, const char *doc)
{
    return schema_set_doc(s, doc);
}

static sluice_err_t host_schema_set_param(sluice_schema_t *s, const char *k, const char *v)
{
    return schema_set_param(s, k, v);
}

static sluice_type_t host_schema_type(const sluice_schema_t *s)
{
    return s->type;
}

static const char *host_schema_name(const sluice_schema_t *s)
{
    return s->name;
}

static int host_schema_optional(const sluice_schema_t *s)
{
    return s->optional;
}

static size_t host_schema_field_count(const sluice_schema_t *s)
{
    return s->type == SLUICE_TYPE_STRUCT ? s->nfields : 0;
}

/* ABI 1.4: what schema_array / schema_map were given. */
static const sluice_schema_t *host_schema_items(const sluice_schema_t *s,
                                                const sluice_schema_t **keys)
{
    if (keys)
        *keys = s && s->type == SLUICE_TYPE_MAP ? s->keys : NULL;
    if (!s)
        return NULL;
    if (s->type == SLUICE_TYPE_ARRAY)
        return s->items;
    return s->type == SLUICE_TYPE_MAP ? s->values : NULL;
}

static const char *host_schema_field(const sluice_schema_t *s, size_t i,
                                     const sluice_schema_t **field)
{
    if (s->type != SLUICE_TYPE_STRUCT || i >= s->nfields)
        return NULL;
    if (field)
        *field = s->fields[i].schema;
    return s->fields[i].name;
}

static const char *host_schema_param(const sluice_schema_t *s, const char *key)
{
    return schema_param(s, key);
}

static sluice_schema_t *host_schema_from_json(sluice_ctx_t *ctx, const char *json, size_t len,
                                              char *errstr, size_t errstr_size)
{
    return json_parse_schema(&ctx->schemas, json, len, errstr, errstr_size);
}

const struct sluice_host host_table = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_host),
    .log = host_log,
    .log_limited = host_log_limited,
    .log_enabled = host_log_enabled,
    .ctx_name = host_ctx_name,
    .ctx_topic = host_ctx_topic,
    .ctx_task = host_ctx_task,
    .config_has = config_has,
    .config_string = config_string,
    .config_int = config_int,
    .config_bool = config_bool,
    .config_double = config_double,
    .config_duration_ms = config_duration_ms,
    .config_size = config_size,
    .config_count = config_count,
    .config_item = config_item,
    .config_map_key = config_map_key,
    .now_ms = host_now_ms,
    .monotonic_ms = host_monotonic_ms,
    .counter_add = host_counter_add,
    .batch_count = host_batch_count,
    .batch_get = host_batch_get,
    .batch_add = host_batch_add,
    .batch_push = host_batch_push,
    .batch_alloc = host_batch_alloc,
    .record_topic = host_record_topic,
    .record_partition = host_record_partition,
    .record_offset = host_record_offset,
    .record_timestamp = host_record_timestamp,
    .record_set_topic = host_record_set_topic,
    .record_set_timestamp = host_record_set_timestamp,
    .record_key = host_record_key,
    .record_value = host_record_value,
    .record_set_key = host_record_set_key,
    .record_set_value = host_record_set_value,
    .record_value_bytes = host_record_value_bytes,
    .record_key_bytes = host_record_key_bytes,
    .record_set_position = host_record_set_position,
    .record_add_header = host_record_add_header,
    .record_header_count = host_record_header_count,
    .record_header = host_record_header,
    .record_remove_header = host_record_remove_header,
    .record_fail = host_record_fail,
    .value_null = host_value_null,
    .value_int = host_value_int,
    .value_float = host_value_float,
    .value_bool = host_value_bool,
    .value_string = host_value_string,
    .value_bytes = host_value_bytes,
    .value_struct = host_value_struct,
    .value_array = host_value_array,
    .value_map = host_value_map,
    .value_set_schema = host_value_set_schema,
    .value_put = host_value_put,
    .value_append = host_value_append,
    .value_map_put = host_value_map_put,
    .value_type = host_value_type,
    .value_schema = host_value_schema,
    .value_as_int = host_value_as_int,
    .value_as_float = host_value_as_float,
    .value_as_bool = host_value_as_bool,
    .value_as_string = host_value_as_string,
    .value_count = host_value_count,
    .value_item = host_value_item,
    .value_get = host_value_get,
    .value_write_json = host_value_write_json,
    .value_write_text = host_value_write_text,
    .value_parse_json = host_value_parse_json,
    .buf_new = host_buf_new,
    .buf_free = host_buf_free,
    .buf_reset = host_buf_reset,
    .buf_append = host_buf_append,
    .buf_data = host_buf_data,
    .buf_len = host_buf_len,
    .schema_new = host_schema_new,
    .schema_struct = host_schema_struct,
    .schema_add_field = host_schema_add_field,
    .schema_array = host_schema_array,
    .schema_map = host_schema_map,
    .schema_set_optional = host_schema_set_optional,
    .schema_set_name = host_schema_set_name,
    .schema_set_doc = host_schema_set_doc,
    .schema_set_param = host_schema_set_param,
    .schema_type = host_schema_type,
    .schema_name = host_schema_name,
    .schema_optional = host_schema_optional,
    .schema_field_count = host_schema_field_count,
    .schema_field = host_schema_field,
    .schema_param = host_schema_param,
    .schema_from_json = host_schema_from_json,
    .value_map_append = host_value_map_append,
    .value_index = host_value_index,
    .value_set_item = host_value_set_item,
    .value_map_rename = host_value_map_rename,
    .buf_printf = host_buf_printf,
    .buf_append_json_string = host_buf_append_json_string,
    .buf_error = host_buf_error,
    .config_map = config_map,
    .redact_url = redact_url,
    .schema_items = host_schema_items,
};
