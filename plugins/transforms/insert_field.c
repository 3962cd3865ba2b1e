/*
 * insert-field — Kafka Connect's InsertField$Value / $Key: adds the record's topic, partition,
 * offset, timestamp and/or a static string to the value (or, with `where: key`, the key).
 *
 * Schemaless values (maps) get the entries added in place. Struct values are rebuilt on an extended
 * schema: the input schema's fields followed by the new ones. Extended schemas are built once per
 * distinct input schema (and set of fields present) and cached; the core owns and frees them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

/* The fields this transform can add, in the order they are appended to a struct. */
enum insert_field_kind {
    INSERT_FIELD_TOPIC = 0,
    INSERT_FIELD_PARTITION,
    INSERT_FIELD_OFFSET,
    INSERT_FIELD_TIMESTAMP,
    INSERT_FIELD_STATIC,
    INSERT_FIELD_KINDS,
};

static const char *const insert_field_keys[INSERT_FIELD_KINDS] = {
    "topic.field", "partition.field", "offset.field", "timestamp.field", "static.field",
};

/* Past this many cached schemas the input schemas are probably not being reused by the core. */
#define INSERT_FIELD_CACHE_WARN 1024

struct insert_field_cache_entry {
    const sluice_schema_t *in;
    unsigned present; /* bit per insert_field_kind actually added */
    const sluice_schema_t *out;
};

struct insert_field {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    char *name[INSERT_FIELD_KINDS];                    /* NULL: not configured */
    const sluice_schema_t *schema[INSERT_FIELD_KINDS]; /* the added field's schema */
    char *static_value;
    size_t static_len;
    struct insert_field_cache_entry *cache;
    size_t cache_len, cache_cap;
    size_t cache_last; /* index of the last hit: most streams have one schema */
};

static const struct sluice_config_field insert_field_config[] = {
    XF_WHERE_FIELD,
    {.name = "topic.field",
     .type = SLUICE_CFG_STRING,
     .description = "Field for the record's topic. Suffix `!` makes the field required, `?` "
                    "optional (the default).",
     .example = "kafka_topic"},
    {.name = "partition.field",
     .type = SLUICE_CFG_STRING,
     .description = "Field for the record's partition (INT32). Not added while the record has "
                    "no partition yet.",
     .example = "kafka_partition"},
    {.name = "offset.field",
     .type = SLUICE_CFG_STRING,
     .description = "Field for the record's offset (INT64). Only sink-side records have one: on "
                    "the source side the field is not added.",
     .example = "kafka_offset!"},
    {.name = "timestamp.field",
     .type = SLUICE_CFG_STRING,
     .description = "Field for the record's timestamp (INT64 milliseconds, logical type "
                    "Timestamp in structs).",
     .example = "kafka_timestamp"},
    {.name = "static.field",
     .type = SLUICE_CFG_STRING,
     .description = "Field for the constant `static.value`.",
     .example = "origin"},
    {.name = "static.value",
     .type = SLUICE_CFG_STRING,
     .description = "The string put in `static.field`.",
     .example = "datagen"},
    {.name = NULL},
};

static const char *insert_field_type_name(sluice_type_t t)
{
    static const char *const names[] = {
        "null",    "int8",   "int16", "int32", "int64", "float32", "float64",
        "boolean", "string", "bytes", "array", "map",   "struct",
    };

    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* Builds the schema of one added field. */
static sluice_schema_t *insert_field_field_schema(struct insert_field *x, enum insert_field_kind k,
                                                  int optional)
{
    const struct sluice_host *h = x->host;
    sluice_type_t type = k == INSERT_FIELD_PARTITION ? SLUICE_TYPE_INT32
                         : k == INSERT_FIELD_OFFSET || k == INSERT_FIELD_TIMESTAMP
                             ? SLUICE_TYPE_INT64
                             : SLUICE_TYPE_STRING;
    sluice_schema_t *s = h->schema_new(x->ctx, type);

    if (s == NULL) {
        goto out;
    }
    h->schema_set_optional(s, optional);
    if (k == INSERT_FIELD_TIMESTAMP &&
        h->schema_set_name(s, SLUICE_LOGICAL_TIMESTAMP) != SLUICE_OK) {
        s = NULL; /* the ctx still owns it and frees it */
    }
out:
    return s;
}

static sluice_err_t insert_field_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                      const sluice_config_t *config, void **state, char *errstr,
                                      size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct insert_field *x = calloc(1, sizeof *x);
    const char *static_value = host->config_string(config, "static.value");
    int any = 0;

    if (x == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
        const char *spec = host->config_string(config, insert_field_keys[k]);
        size_t len;
        int optional = 1;

        if (spec == NULL || spec[0] == '\0') {
            continue;
        }
        len = strlen(spec);
        if (spec[len - 1] == '!' || spec[len - 1] == '?') {
            optional = spec[len - 1] == '?';
            len--;
        }
        if (len == 0) {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size, "'%s' needs a field name before '%c'",
                     insert_field_keys[k], spec[len]);
            goto out;
        }
        for (int j = 0; j < k; j++) {
            if (x->name[j] != NULL && strlen(x->name[j]) == len &&
                memcmp(x->name[j], spec, len) == 0) {
                err = SLUICE_ERR_CONFIG;
                snprintf(errstr, errstr_size, "'%s' and '%s' both name the field '%s'",
                         insert_field_keys[j], insert_field_keys[k], x->name[j]);
                goto out;
            }
        }
        x->name[k] = strndup(spec, len);
        x->schema[k] = insert_field_field_schema(x, (enum insert_field_kind)k, optional);
        if (x->name[k] == NULL || x->schema[k] == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
        any = 1;
    }
    if (!any) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "nothing to insert: set at least one of topic.field, partition.field, "
                 "offset.field, timestamp.field or static.field (with static.value)");
        goto out;
    }
    if ((x->name[INSERT_FIELD_STATIC] != NULL) != (static_value != NULL)) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "static.field and static.value go together: %s is set "
                 "but %s is not",
                 static_value != NULL ? "static.value" : "static.field",
                 static_value != NULL ? "static.field" : "static.value");
        goto out;
    }
    if (static_value != NULL) {
        x->static_len = strlen(static_value);
        x->static_value = strdup(static_value);
        if (x->static_value == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    *state = x;
    x = NULL;
out:
    if (x != NULL) {
        for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
            free(x->name[k]);
        }
        free(x->static_value);
        free(x);
    }
    return err;
}

/* Which fields this record gets: those configured, minus those the record has no value for. */
static unsigned insert_field_present(const struct insert_field *x, const sluice_record_t *rec)
{
    const struct sluice_host *h = x->host;
    unsigned present = 0;

    for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
        if (x->name[k] != NULL) {
            present |= 1u << k;
        }
    }
    if ((present & (1u << INSERT_FIELD_TOPIC)) && h->record_topic(rec) == NULL) {
        present &= ~(1u << INSERT_FIELD_TOPIC);
    }
    if ((present & (1u << INSERT_FIELD_PARTITION)) && h->record_partition(rec) < 0) {
        present &= ~(1u << INSERT_FIELD_PARTITION);
    }
    if ((present & (1u << INSERT_FIELD_OFFSET)) && h->record_offset(rec) < 0) {
        present &= ~(1u << INSERT_FIELD_OFFSET);
    }
    return present;
}

/* The extended schema for `in` (cached). NULL with a message in errstr. */
static const sluice_schema_t *insert_field_schema_for(struct insert_field *x,
                                                      const sluice_schema_t *in, unsigned present,
                                                      char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = NULL;
    sluice_schema_t *out = NULL;
    size_t nfields = h->schema_field_count(in);

    if (x->cache_len > 0 && x->cache[x->cache_last].in == in &&
        x->cache[x->cache_last].present == present) {
        result = x->cache[x->cache_last].out;
        goto out;
    }
    for (size_t i = 0; i < x->cache_len; i++) {
        if (x->cache[i].in == in && x->cache[i].present == present) {
            x->cache_last = i;
            result = x->cache[i].out;
            goto out;
        }
    }
    /* Connect refuses a field name that the value has already; check before building anything so
     * that a stream of such records does not pile up half-built schemas. */
    for (size_t i = 0; i < nfields; i++) {
        const sluice_schema_t *fs = NULL;
        const char *name = h->schema_field(in, i, &fs);

        for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
            if ((present & (1u << k)) && name != NULL && strcmp(name, x->name[k]) == 0) {
                snprintf(errstr, errstr_size, "the %s already has a field '%s' (%s)",
                         xf_where_name(x->where), name, insert_field_keys[k]);
                goto out;
            }
        }
    }
    if (x->cache_len == x->cache_cap) {
        size_t cap = x->cache_cap == 0 ? 4 : x->cache_cap * 2;
        struct insert_field_cache_entry *c = realloc(x->cache, cap * sizeof *c);

        if (c == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
        x->cache = c;
        x->cache_cap = cap;
    }
    out = h->schema_struct(x->ctx, h->schema_name(in));
    if (out == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    h->schema_set_optional(out, h->schema_optional(in));
    for (size_t i = 0; i < nfields; i++) {
        const sluice_schema_t *fs = NULL;
        const char *name = h->schema_field(in, i, &fs);

        if (h->schema_add_field(out, name, fs) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "cannot copy the field '%s' of the value's schema", name);
            goto out;
        }
    }
    for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
        if ((present & (1u << k)) &&
            h->schema_add_field(out, x->name[k], x->schema[k]) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "cannot add the field '%s' to the value's schema",
                     x->name[k]);
            goto out;
        }
    }
    x->cache[x->cache_len] = (struct insert_field_cache_entry){in, present, out};
    x->cache_last = x->cache_len++;
    if (x->cache_len == INSERT_FIELD_CACHE_WARN) {
        h->log(x->ctx, SLUICE_LOG_WARN,
               "%d distinct value schemas seen so far; each gets an extended schema kept until the "
               "pipeline stops",
               INSERT_FIELD_CACHE_WARN);
    }
    result = out;
out:
    return result;
}

/* The value of added field `k` for `rec`. */
static sluice_value_t *insert_field_make(struct insert_field *x, sluice_record_t *rec, int k,
                                         int with_schema)
{
    const struct sluice_host *h = x->host;
    sluice_value_t *v = NULL;

    switch (k) {
    case INSERT_FIELD_TOPIC: {
        const char *topic = h->record_topic(rec);

        v = h->value_string(rec, topic, strlen(topic));
        break;
    }
    case INSERT_FIELD_PARTITION:
        v = h->value_int(rec, SLUICE_TYPE_INT32, h->record_partition(rec));
        break;
    case INSERT_FIELD_OFFSET:
        v = h->value_int(rec, SLUICE_TYPE_INT64, h->record_offset(rec));
        break;
    case INSERT_FIELD_TIMESTAMP:
        v = h->value_int(rec, SLUICE_TYPE_INT64, h->record_timestamp(rec));
        break;
    default:
        v = h->value_string(rec, x->static_value, x->static_len);
        break;
    }
    /* In a struct the value carries its field's schema (the Timestamp logical type); in a
     * schemaless map a plain number is what JSON consumers expect. */
    if (v != NULL && with_schema) {
        h->value_set_schema(v, x->schema[k]);
    }
    return v;
}

static sluice_err_t insert_field_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                         char *errstr, size_t errstr_size)
{
    struct insert_field *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value;
    sluice_value_t *target;
    sluice_type_t type;
    unsigned present;

    value = xf_get(h, record, x->where, errstr, errstr_size);
    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    if (type == SLUICE_TYPE_NULL) {
        goto forward; /* a tombstone stays a tombstone */
    }
    if (type != SLUICE_TYPE_MAP && type != SLUICE_TYPE_STRUCT) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "insert-field needs a struct or map %s, found %s",
                 xf_where_name(x->where), insert_field_type_name(type));
        goto out;
    }
    present = insert_field_present(x, record);
    target = value;
    if (type == SLUICE_TYPE_STRUCT) {
        const sluice_schema_t *in = h->value_schema(value);
        const sluice_schema_t *ext;
        size_t n = h->value_count(value);

        if (in == NULL) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "insert-field found a struct %s without a schema",
                     xf_where_name(x->where));
            goto out;
        }
        ext = insert_field_schema_for(x, in, present, errstr, errstr_size);
        if (ext == NULL) {
            err = SLUICE_ERR_INVALID;
            goto out;
        }
        target = h->value_struct(record, ext);
        if (target == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            const char *name = NULL;
            sluice_value_t *key = NULL;
            sluice_value_t *fv = h->value_item(value, i, &name, &key);

            if (h->value_put(record, target, name, fv) != SLUICE_OK) {
                err = SLUICE_ERR_INVALID;
                snprintf(errstr, errstr_size, "cannot copy the field '%s'", name);
                goto out;
            }
        }
    }
    for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
        sluice_value_t *v;

        if (!(present & (1u << k))) {
            continue;
        }
        v = insert_field_make(x, record, k, type == SLUICE_TYPE_STRUCT);
        if (v == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
        if (h->value_put(record, target, x->name[k], v) != SLUICE_OK) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "cannot set the field '%s' (%s) of the %s %s", x->name[k],
                     insert_field_keys[k], insert_field_type_name(type), xf_where_name(x->where));
            goto out;
        }
    }
    /* Also for a map changed in place: it tells the core the encoded bytes are stale. */
    xf_set(h, record, x->where, target);
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void insert_field_destroy(void *state)
{
    struct insert_field *x = state;

    if (x == NULL) {
        return;
    }
    /* The schemas belong to the ctx: the core frees them after this returns. */
    for (int k = 0; k < INSERT_FIELD_KINDS; k++) {
        free(x->name[k]);
    }
    free(x->static_value);
    free(x->cache);
    free(x);
}

static const struct sluice_transform insert_field_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = insert_field_config,
    .init = insert_field_init,
    .process = insert_field_process,
    .destroy = insert_field_destroy,
};

static const struct sluice_alias insert_field_aliases[] = {
    {"org.apache.kafka.connect.transforms.InsertField$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.InsertField$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "insert-field",
    .version = "1.0.0",
    .summary = "Add the topic, partition, offset, timestamp or a constant to each record's value "
               "or key",
    .description =
        "Kafka Connect's `InsertField$Value` and `InsertField$Key` (`where: key`), with the same "
        "keys.\n"
        "\n"
        "Each `*.field` key names the field to add; a name ending in `!` makes the field required "
        "in the value's schema, `?` (the default) optional. The value must be a map (schemaless, "
        "e.g. JSON from a sensor: the entries are added, replacing any of the same name) or a "
        "struct (the value is rebuilt on its schema extended with the new fields: topic STRING, "
        "partition INT32, offset INT64, timestamp INT64 with the logical type Timestamp, static "
        "STRING; a struct that already has such a field is an error). A tombstone (null value) "
        "passes unchanged; any other value is an error routed by `errors.tolerance`. With "
        "`where: key` all of this applies to the key instead (a null key passes unchanged).\n"
        "\n"
        "On the source side records have no offset (and may have no partition) yet: those fields "
        "are then left out. Example:\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: insert-field\n"
        "    config: { static.field: origin, static.value: datagen, timestamp.field: ts }\n"
        "```",
    .transform = &insert_field_transform,
    .aliases = insert_field_aliases,
};
