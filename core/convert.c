/* convert.c — see convert.h. */
#include "convert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro.h"

/* Kafka Connect's JsonConverter keeps schemas.cache.size = 1000 schemas. */
#define CONVERTER_CACHE_MAX 1000
/* ... and at most this much schema text: the texts come from the messages, and 1000 schemas of a
 * 1 MB message each would keep 1 GB (and make every lookup compare that much). Schemas beyond it
 * are read for their message only, like those beyond CONVERTER_CACHE_MAX. */
#define CONVERTER_CACHE_MAX_BYTES (16u << 20)
/* Confluent's schemas.cache.config default: distinct schemas a converter remembers. */
#define AVRO_ENC_CACHE_MAX 1000

struct converter_cache_entry {
    char *text; /* the exact JSON text of the envelope's "schema" */
    size_t len;
    sluice_schema_t *schema; /* owned by converter.schemas */
};

const char *const converter_names[] = {"json", "string", "bytes", "avro", NULL};

/* ================================================================================================
 * The avro converter: Confluent's wire format over a Schema Registry
 */

struct avro_enc_entry {
    const sluice_schema_t *key;  /* the schema pointer seen */
    const sluice_schema_t *copy; /* its shape when it was registered (a pointer can be reused) */
    const char *topic;
    uint64_t serial; /* key's serial and the schema epoch when key was last compared to copy */
    uint64_t epoch;
    int32_t id;
};

struct avro_dec_entry {
    int32_t id;
    avro_reader_t reader;
};

struct avro_state {
    struct avro_enc_entry *enc;
    size_t nenc, capenc;
    struct avro_dec_entry *dec;
    size_t ndec, capdec;
    arena_t arena; /* schema copies, topics, reader nodes: as long as the converter */
    buf_t text;    /* scratch: schema text and subject */
};

static sluice_err_t avro_converter_init(converter_t *c, char *errstr, size_t errstr_size)
{
    if (!c->sr) {
        snprintf(errstr, errstr_size,
                 "the avro converter needs a schema registry: add a schema.registry: block with "
                 "its url");
        return SLUICE_ERR_CONFIG;
    }
    c->avro = calloc(1, sizeof *c->avro);
    if (!c->avro) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    arena_init(&c->avro->arena, 16384);
    buf_init(&c->avro->text);
    return SLUICE_OK;
}

static void avro_converter_free(converter_t *c)
{
    struct avro_state *st = c->avro;
    if (!st)
        return;
    free(st->enc);
    free(st->dec);
    arena_free(&st->arena);
    buf_free(&st->text);
    free(st);
    c->avro = NULL;
}

/* The schema id of `s` for `topic`: from the converter's cache, else registered or looked up. */
static sluice_err_t avro_schema_id(converter_t *c, const char *topic, const sluice_schema_t *s,
                                   int32_t *id, char *errstr, size_t errstr_size)
{
    struct avro_state *st = c->avro;
    sluice_err_t rc;
    /* Read before any comparison: a change made after it is seen at the next record. */
    uint64_t epoch = schema_epoch();
    for (size_t i = 0; i < st->nenc; i++) {
        struct avro_enc_entry *e = &st->enc[i];
        if (e->key != s || strcmp(e->topic, topic) != 0)
            continue;
        /* The identity check, instead of comparing the shape per record. It is the same shape
         * when: the pointer is the one compared (e->key), the object at it is the one compared
         * (its serial: a schema freed and another made at its address has a new one, arena
         * copies too), and no published schema changed or was freed since (the epoch: the
         * comparison published s and all under it, and from then on each change goes through a
         * setter that bumps the epoch; plugins cannot write schemas but through the host's
         * setters, the struct being opaque to them; the core's direct writes are to schemas being
         * built, before anything publishes them). Else compare the shape as before, and rely on
         * it again from this epoch. */
        if (e->serial != schema_serial_of(s) || e->epoch != epoch) {
            if (!schema_equal(e->copy, s))
                continue;
            schema_publish(s);
            e->serial = schema_serial_of(s);
            e->epoch = epoch;
        }
        if (i) { /* the newest hit first: a steady stream finds it at once */
            struct avro_enc_entry t = st->enc[0];
            st->enc[0] = *e;
            *e = t;
        }
        *id = st->enc[0].id;
        return SLUICE_OK;
    }
    /* Same shape under another pointer (a schema rebuilt per record) still needs no request:
     * the registry client caches (subject, text). */
    buf_reset(&st->text);
    if ((rc = avro_schema_from_connect(&st->text, s, errstr, errstr_size)) != SLUICE_OK) {
        if (rc == SLUICE_ERR_INVALID)
            avro_prefix(errstr, errstr_size, "the value's schema has no Avro form", ": ");
        return rc;
    }
    size_t text_len = st->text.len;
    /* subject after the schema text, in the same buffer */
    const char *suffix = c->is_key ? "-key" : "-value";
    const char *record = s->type == SLUICE_TYPE_STRUCT && s->name && !avro_is_union_struct(s)
                             ? s->name
                             : AVRO_CONNECT_NAMESPACE "." AVRO_CONNECT_DEFAULT;
    if (c->strategy != SR_TOPIC_NAME && s->type != SLUICE_TYPE_STRUCT) {
        snprintf(errstr, errstr_size,
                 "%s needs a struct (an Avro record) but the %s's schema is %s; use "
                 "TopicNameStrategy",
                 c->strategy == SR_RECORD_NAME ? "RecordNameStrategy" : "TopicRecordNameStrategy",
                 c->is_key ? "key" : "value", schema_type_name(s->type));
        return SLUICE_ERR_INVALID;
    }
    int prc = 0;
    if (buf_putc(&st->text, '\0') != 0)
        prc = -1;
    else if (c->strategy == SR_TOPIC_NAME)
        prc = buf_printf(&st->text, "%s%s", topic, suffix);
    else if (c->strategy == SR_RECORD_NAME)
        prc = buf_printf(&st->text, "%s", record);
    else
        prc = buf_printf(&st->text, "%s-%s", topic, record);
    if (prc != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    const char *subject = st->text.data + text_len + 1;
    if ((rc = sr_client_schema_id(c->sr, subject, st->text.data, c->auto_register, id, errstr,
                                  errstr_size)) != SLUICE_OK)
        return rc;
    if (st->nenc >= AVRO_ENC_CACHE_MAX)
        return SLUICE_OK;
    if (st->nenc == st->capenc) {
        size_t cap = st->capenc ? st->capenc * 2 : 4;
        struct avro_enc_entry *n = realloc(st->enc, cap * sizeof *n);
        if (!n)
            return SLUICE_OK; /* uncached: the next record asks the registry client's cache */
        st->enc = n;
        st->capenc = cap;
    }
    const sluice_schema_t *copy = schema_copy_to_arena(&st->arena, s);
    const char *t = arena_strdup(&st->arena, topic);
    if (copy && t) {
        /* the copy is what s was when its text was made above: nothing ran in between */
        schema_publish(s);
        st->enc[st->nenc++] = (struct avro_enc_entry){.key = s,
                                                      .copy = copy,
                                                      .topic = t,
                                                      .serial = schema_serial_of(s),
                                                      .epoch = epoch,
                                                      .id = *id};
    }
    return SLUICE_OK;
}

static sluice_err_t avro_converter_encode(converter_t *c, const char *topic,
                                          const sluice_value_t *v, buf_t *out, char *errstr,
                                          size_t errstr_size)
{
    sluice_err_t rc;
    int32_t id;
    if (!v->schema) {
        snprintf(errstr, errstr_size,
                 "the avro converter needs a value with a schema; this record's %s has none (use "
                 "the json converter with schemas.enable: false for schemaless data)",
                 c->is_key ? "key" : "value");
        return SLUICE_ERR_INVALID;
    }
    if ((rc = avro_schema_id(c, topic ? topic : "", v->schema, &id, errstr, errstr_size)) !=
        SLUICE_OK)
        return rc;
    unsigned char hdr[5] = {0, (unsigned char)((uint32_t)id >> 24),
                            (unsigned char)((uint32_t)id >> 16), (unsigned char)((uint32_t)id >> 8),
                            (unsigned char)id};
    if (buf_append(out, hdr, sizeof hdr) != 0) {
        snprintf(errstr, errstr_size, "out of memory while encoding a value");
        return SLUICE_ERR_NOMEM;
    }
    return avro_write_datum(out, v, v->schema, errstr, errstr_size);
}

static sluice_err_t avro_converter_decode(converter_t *c, arena_t *a, const void *data, size_t len,
                                          sluice_value_t **out, char *errstr, size_t errstr_size)
{
    struct avro_state *st = c->avro;
    const unsigned char *b = data;
    sluice_err_t rc;
    const char *what = c->is_key ? "key" : "value";
    if (len < 5) {
        snprintf(errstr, errstr_size,
                 "the %s is %zu bytes, too short for Confluent's Avro wire format (a 0x00 byte, "
                 "a 4-byte schema id, the Avro data)",
                 what, len);
        return SLUICE_ERR_INVALID;
    }
    if (b[0] != 0) {
        snprintf(errstr, errstr_size,
                 "the %s is not in Confluent's Avro wire format: it starts with byte 0x%02x, not "
                 "0x00%s",
                 what, b[0],
                 b[0] == '{' || b[0] == '[' || b[0] == '"' ? " (it looks like JSON: use the json "
                                                             "converter)"
                                                           : "");
        return SLUICE_ERR_INVALID;
    }
    int32_t id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 |
                           (uint32_t)b[4]);
    struct avro_dec_entry *e = NULL;
    for (size_t i = 0; i < st->ndec; i++)
        if (st->dec[i].id == id) {
            e = &st->dec[i];
            break;
        }
    if (!e) {
        const char *text;
        char err[512];
        if ((rc = sr_client_schema_by_id(c->sr, id, &text, errstr, errstr_size)) != SLUICE_OK)
            return rc;
        if (st->ndec == st->capdec) {
            size_t cap = st->capdec ? st->capdec * 2 : 4;
            struct avro_dec_entry *n = realloc(st->dec, cap * sizeof *n);
            if (!n) {
                snprintf(errstr, errstr_size, "out of memory");
                return SLUICE_ERR_NOMEM;
            }
            st->dec = n;
            st->capdec = cap;
        }
        e = &st->dec[st->ndec];
        e->id = id;
        if ((rc = avro_reader_parse(&e->reader, &c->schemas, &st->arena, text, strlen(text), err,
                                    sizeof err)) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "schema id %d from schema registry %s: %s", (int)id,
                     sr_client_url(c->sr), err);
            return rc;
        }
        st->ndec++;
    }
    if ((rc = avro_read_datum(&e->reader, a, b + 5, len - 5, out, errstr, errstr_size)) !=
            SLUICE_OK &&
        rc == SLUICE_ERR_INVALID) {
        char what2[96];
        snprintf(what2, sizeof what2, "schema id %d", (int)id);
        avro_prefix(errstr, errstr_size, what2, ": ");
    }
    return rc;
}

int converter_is_avro(const char *name)
{
    return name && (strcmp(name, "avro") == 0 ||
                    strcmp(name, "io.confluent.connect.avro.AvroConverter") == 0);
}

sluice_err_t converter_init_avro(converter_t *c, sr_client_t *sr, int is_key,
                                 enum sr_strategy strategy, int auto_register, char *errstr,
                                 size_t errstr_size)
{
    memset(c, 0, sizeof *c);
    schema_owner_init(&c->schemas);
    c->kind = CONVERTER_AVRO;
    c->max_bytes = CONVERTER_MAX_MESSAGE_BYTES;
    c->sr = sr;
    c->is_key = is_key;
    c->strategy = strategy;
    c->auto_register = auto_register;
    return avro_converter_init(c, errstr, errstr_size);
}

sluice_err_t converter_init(converter_t *c, const char *name, int schemas_enable,
                            enum json_decimal_format decimal_format, char *errstr,
                            size_t errstr_size)
{
    memset(c, 0, sizeof *c);
    schema_owner_init(&c->schemas);
    c->max_bytes = CONVERTER_MAX_MESSAGE_BYTES;
    c->schemas_enable = schemas_enable;
    c->decimal_format = decimal_format;
    if (name && (strcmp(name, "json") == 0 ||
                 strcmp(name, "org.apache.kafka.connect.json.JsonConverter") == 0)) {
        c->kind = CONVERTER_JSON;
    } else if (name && (strcmp(name, "string") == 0 ||
                        strcmp(name, "org.apache.kafka.connect.storage.StringConverter") == 0)) {
        c->kind = CONVERTER_STRING;
    } else if (name &&
               (strcmp(name, "bytes") == 0 ||
                strcmp(name, "org.apache.kafka.connect.converters.ByteArrayConverter") == 0)) {
        c->kind = CONVERTER_BYTES;
    } else {
        snprintf(errstr, errstr_size, "unknown converter '%s' (expected json, string or bytes%s)",
                 name ? name : "(null)",
                 converter_is_avro(name) ? "; avro is set up with converter_init_avro" : "");
        return SLUICE_ERR_CONFIG;
    }
    return SLUICE_OK;
}

void converter_free(converter_t *c)
{
    for (size_t i = 0; i < c->cache_len; i++)
        free(c->cache[i].text);
    free(c->cache);
    c->cache = NULL;
    c->cache_len = c->cache_cap = 0;
    c->cache_bytes = 0;
    avro_converter_free(c);
    schema_owner_free(&c->schemas);
}

/* The message of a key or value over the converter's limit (`what`: "bytes", "encoded bytes"). */
static sluice_err_t converter_too_big(const converter_t *c, size_t len, const char *what,
                                      char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size,
             "%zu %s, over the limit of %zu bytes a key or value may have (the pipeline key "
             "max.message.bytes)",
             len, what, c->max_bytes);
    return SLUICE_ERR_INVALID;
}

static void converter_rollback(buf_t *out, size_t mark)
{
    if (out->cap) {
        out->len = mark;
        out->data[mark] = '\0';
    }
}

sluice_err_t converter_encode(converter_t *c, const char *topic, const sluice_value_t *v,
                              buf_t *out, int *is_null, char *errstr, size_t errstr_size)
{
    (void)topic;
    sluice_err_t rc = SLUICE_OK;
    size_t mark = out->len;
    *is_null = 0;
    if (!v || v->type == SLUICE_TYPE_NULL) {
        *is_null = 1;
        goto out;
    }
    switch (c->kind) {
    case CONVERTER_JSON:
        if (c->schemas_enable) {
            rc = SLUICE_ERR_NOMEM;
            if (buf_append(out, "{\"schema\":", 10) != 0)
                goto out;
            if ((rc = json_write_schema(out, v->schema)) != SLUICE_OK)
                goto out;
            rc = SLUICE_ERR_NOMEM;
            if (buf_append(out, ",\"payload\":", 11) != 0)
                goto out;
            if ((rc = json_write(out, v, c->decimal_format)) != SLUICE_OK)
                goto out;
            rc = buf_putc(out, '}') == 0 ? SLUICE_OK : SLUICE_ERR_NOMEM;
        } else {
            rc = json_write(out, v, c->decimal_format);
        }
        break;
    case CONVERTER_STRING:
        if (v->type == SLUICE_TYPE_STRING)
            rc = buf_append(out, v->u.s.ptr, v->u.s.len) == 0 ? SLUICE_OK : SLUICE_ERR_NOMEM;
        else
            rc = json_write(out, v, c->decimal_format);
        break;
    case CONVERTER_BYTES:
        if (v->type == SLUICE_TYPE_BYTES || v->type == SLUICE_TYPE_STRING) {
            rc = buf_append(out, v->u.s.ptr, v->u.s.len) == 0 ? SLUICE_OK : SLUICE_ERR_NOMEM;
        } else {
            rc = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size,
                     "the bytes converter writes only bytes or string values, not %s "
                     "(use the json or string converter)",
                     schema_type_name(v->type));
            goto out;
        }
        break;
    case CONVERTER_AVRO:
        /* its messages are specific: returned as they are */
        rc = avro_converter_encode(c, topic, v, out, errstr, errstr_size);
        goto out;
    }
    if (rc == SLUICE_ERR_NOMEM)
        snprintf(errstr, errstr_size, "out of memory while encoding a value");
    else if (rc != SLUICE_OK)
        snprintf(errstr, errstr_size, "cannot encode the value as JSON");
out:
    /* after the fact: the value is the pipeline's own, already in memory, and its encoding is
     * proportional to it; what is bounded is what goes on to the topic and to the readers */
    if (rc == SLUICE_OK && out->len - mark > c->max_bytes)
        rc = converter_too_big(c, out->len - mark, "encoded bytes", errstr, errstr_size);
    if (rc != SLUICE_OK)
        converter_rollback(out, mark);
    return rc;
}

/* The envelope reader's schema lookup. A cached text that is a prefix of the input at `at` is the
 * whole schema value (an object ends where its text ends), so a hit needs one memcmp and no scan.
 */
static sluice_err_t converter_resolve(void *ctx, arena_t *a, const char *at, size_t avail,
                                      size_t base, size_t *consumed, const sluice_schema_t **schema,
                                      char *errstr, size_t errstr_size)
{
    converter_t *c = ctx;
    sluice_err_t rc;
    size_t n = 0;
    char err[400];
    for (size_t i = 0; i < c->cache_len; i++) {
        struct converter_cache_entry *e = &c->cache[i];
        if (e->len <= avail && memcmp(e->text, at, e->len) == 0) {
            if (i) { /* keep the newest hit first */
                struct converter_cache_entry t = c->cache[0];
                c->cache[0] = *e;
                *e = t;
            }
            *consumed = c->cache[0].len;
            *schema = c->cache[0].schema;
            return SLUICE_OK;
        }
    }
    if ((rc = json_skip(at, avail, base, &n, errstr, errstr_size)) != SLUICE_OK)
        return rc;
    *consumed = n;
    if (c->cache_len < CONVERTER_CACHE_MAX && n <= CONVERTER_CACHE_MAX_BYTES - c->cache_bytes) {
        if (c->cache_len == c->cache_cap) {
            size_t cap = c->cache_cap ? c->cache_cap * 2 : 8;
            struct converter_cache_entry *ne = realloc(c->cache, cap * sizeof *ne);
            if (!ne)
                goto nomem;
            c->cache = ne;
            c->cache_cap = cap;
        }
        char *text = malloc(n);
        if (!text)
            goto nomem;
        sluice_schema_t *s = json_parse_schema(&c->schemas, at, n, err, sizeof err);
        if (!s) {
            free(text);
            snprintf(errstr, errstr_size, "invalid schema in the envelope: %s", err);
            return SLUICE_ERR_INVALID;
        }
        memcpy(text, at, n);
        struct converter_cache_entry *e = &c->cache[c->cache_len++];
        e->text = text;
        e->len = n;
        e->schema = s;
        c->cache_bytes += n;
        if (c->cache_len > 1) {
            struct converter_cache_entry t = c->cache[0];
            c->cache[0] = *e;
            *e = t;
        }
        *schema = s;
        return SLUICE_OK;
    }
    /* Cache full (or its bytes): this schema lives in the batch's arena, as long as the values that
     * use it. */
    schema_owner_t tmp;
    schema_owner_init(&tmp);
    sluice_schema_t *s = json_parse_schema(&tmp, at, n, err, sizeof err);
    if (!s) {
        snprintf(errstr, errstr_size, "invalid schema in the envelope: %s", err);
        return SLUICE_ERR_INVALID;
    }
    *schema = schema_copy_to_arena(a, s);
    schema_owner_free(&tmp);
    if (!*schema)
        goto nomem;
    return SLUICE_OK;
nomem:
    snprintf(errstr, errstr_size, "out of memory while reading an envelope schema");
    return SLUICE_ERR_NOMEM;
}

sluice_err_t converter_decode(converter_t *c, arena_t *a, const void *data, size_t len,
                              sluice_value_t **out, char *errstr, size_t errstr_size)
{
    sluice_err_t rc = SLUICE_OK;
    *out = NULL;
    if (!data) {
        *out = value_null(a);
        goto check;
    }
    /* before anything reads it: what a reader allocates is bounded by what it reads */
    if (len > c->max_bytes)
        return converter_too_big(c, len, "bytes", errstr, errstr_size);
    switch (c->kind) {
    case CONVERTER_JSON:
        if (c->schemas_enable)
            rc = json_parse_envelope(a, data, len, converter_resolve, c, out, errstr, errstr_size);
        else
            rc = json_parse(a, data, len, out, errstr, errstr_size);
        goto done;
    case CONVERTER_STRING:
        *out = value_string_ref(a, data, len);
        break;
    case CONVERTER_BYTES:
        *out = value_bytes_ref(a, data, len);
        break;
    case CONVERTER_AVRO:
        rc = avro_converter_decode(c, a, data, len, out, errstr, errstr_size);
        goto done;
    }
check:
    if (!*out) {
        rc = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory while decoding a value");
    }
done:
    return rc;
}
