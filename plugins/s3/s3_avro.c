/*
 * s3_avro.c — the s3 sink's Avro object container files (format.class AvroFormat), written with
 * avro-c: the Avro schema made from the records' Connect schema (as Confluent's AvroData does:
 * optional fields as unions with null, logical types, arrays, maps: Avro maps for string keys,
 * arrays of MapEntry records for others), one generic value per file reused for every record
 * (avro-c keeps its string buffers: no allocation per record once warm, except inside arrays and
 * maps, whose reset frees their items, and a map's key table and key copies), the file written
 * into a memory mapping of its own and uploaded whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "s3.h"

#define S3_AVRO_DEPTH 32

/* A Connect map is an Avro map when its keys are (non-optional) strings, as in AvroData. */
static int s3_avro_map_native(const struct sluice_host *h, const sluice_schema_t *keys)
{
    return h->schema_type(keys) == SLUICE_TYPE_STRING && !h->schema_optional(keys);
}

/* Appends the Avro schema of Connect schema `cs` (not its optionality) to `out`. */
static int s3_avro_type(const struct sluice_host *h, const sluice_schema_t *cs, sluice_buf_t *out,
                        int *names, int depth, const char **why);

static int s3_avro_schema(const struct sluice_host *h, const sluice_schema_t *cs, sluice_buf_t *out,
                          int *names, int depth, const char **why)
{
    if (!h->schema_optional(cs))
        return s3_avro_type(h, cs, out, names, depth, why);
    h->buf_append(out, "[\"null\",", 8);
    if (s3_avro_type(h, cs, out, names, depth, why) != 0)
        return -1;
    h->buf_append(out, "]", 1);
    return 0;
}

/* An Avro name from a Connect one: letters, digits and '_' kept, dots between parts; an unnamed
 * struct is ConnectDefault, ConnectDefault2, ... (`n`: its number), as Confluent's AvroData. */
static void s3_avro_name(const struct sluice_host *h, const char *name, int n, sluice_buf_t *out)
{
    h->buf_append(out, "\"", 1);
    if (name && *name) {
        int start = 1;
        for (const char *p = name; *p; p++) {
            char c = *p;
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (!start && c >= '0' && c <= '9');
            if (c == '.' && !start) {
                h->buf_append(out, ".", 1);
                start = 1;
                continue;
            }
            h->buf_append(out, ok ? &c : "_", 1);
            start = 0;
        }
    } else if (n > 1) {
        h->buf_printf(out, "ConnectDefault%d", n);
    } else {
        h->buf_append(out, "ConnectDefault", 14);
    }
    h->buf_append(out, "\"", 1);
}

static int s3_avro_type(const struct sluice_host *h, const sluice_schema_t *cs, sluice_buf_t *out,
                        int *names, int depth, const char **why)
{
    const char *lname = h->schema_name(cs);
    if (depth > S3_AVRO_DEPTH) {
        *why = "the schema is nested too deep for Avro";
        return -1;
    }
    switch (h->schema_type(cs)) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
        h->buf_append(out, "\"int\"", 5);
        return 0;
    case SLUICE_TYPE_INT32:
        if (lname && strcmp(lname, SLUICE_LOGICAL_DATE) == 0)
            h->buf_printf(
                out, "{\"type\":\"int\",\"connect.name\":\"%s\",\"logicalType\":\"date\"}", lname);
        else if (lname && strcmp(lname, SLUICE_LOGICAL_TIME) == 0)
            h->buf_printf(out,
                          "{\"type\":\"int\",\"connect.name\":\"%s\",\"logicalType\":"
                          "\"time-millis\"}",
                          lname);
        else
            h->buf_append(out, "\"int\"", 5);
        return 0;
    case SLUICE_TYPE_INT64:
        if (lname && strcmp(lname, SLUICE_LOGICAL_TIMESTAMP) == 0)
            h->buf_printf(out,
                          "{\"type\":\"long\",\"connect.name\":\"%s\",\"logicalType\":"
                          "\"timestamp-millis\"}",
                          lname);
        else
            h->buf_append(out, "\"long\"", 6);
        return 0;
    case SLUICE_TYPE_FLOAT32:
        h->buf_append(out, "\"float\"", 7);
        return 0;
    case SLUICE_TYPE_FLOAT64:
        h->buf_append(out, "\"double\"", 8);
        return 0;
    case SLUICE_TYPE_BOOLEAN:
        h->buf_append(out, "\"boolean\"", 9);
        return 0;
    case SLUICE_TYPE_STRING:
        h->buf_append(out, "\"string\"", 8);
        return 0;
    case SLUICE_TYPE_BYTES:
        if (lname && strcmp(lname, SLUICE_LOGICAL_DECIMAL) == 0) {
            const char *scale = h->schema_param(cs, "scale");
            const char *prec = h->schema_param(cs, "connect.decimal.precision");
            h->buf_printf(out,
                          "{\"type\":\"bytes\",\"connect.name\":\"%s\",\"logicalType\":"
                          "\"decimal\",\"precision\":%s,\"scale\":%s}",
                          lname, prec ? prec : "64", scale ? scale : "0");
        } else {
            h->buf_append(out, "\"bytes\"", 7);
        }
        return 0;
    case SLUICE_TYPE_STRUCT: {
        h->buf_append(out, "{\"type\":\"record\",\"name\":", 24);
        s3_avro_name(h, lname, lname && *lname ? 0 : ++*names, out);
        h->buf_append(out, ",\"fields\":[", 11);
        for (size_t i = 0, n = h->schema_field_count(cs); i < n; i++) {
            const sluice_schema_t *fs = NULL;
            const char *name = h->schema_field(cs, i, &fs);
            h->buf_append(out, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
            h->buf_append_json_string(out, name, strlen(name));
            h->buf_append(out, ",\"type\":", 8);
            if (s3_avro_schema(h, fs, out, names, depth + 1, why) != 0)
                return -1;
            if (h->schema_optional(fs))
                h->buf_append(out, ",\"default\":null", 15);
            h->buf_append(out, "}", 1);
        }
        h->buf_append(out, "]}", 2);
        return 0;
    }
    case SLUICE_TYPE_ARRAY: {
        const sluice_schema_t *items = h->schema_items(cs, NULL);
        if (!items) {
            *why = "format.class avro: an array schema has no item schema";
            return -1;
        }
        h->buf_append(out, "{\"type\":\"array\",\"items\":", 24);
        if (s3_avro_schema(h, items, out, names, depth + 1, why) != 0)
            return -1;
        h->buf_append(out, "}", 1);
        return 0;
    }
    case SLUICE_TYPE_MAP: {
        const sluice_schema_t *keys = NULL, *values = h->schema_items(cs, &keys);
        if (!keys || !values) {
            *why = "format.class avro: a map schema has no key or value schema";
            return -1;
        }
        if (s3_avro_map_native(h, keys)) {
            h->buf_append(out, "{\"type\":\"map\",\"values\":", 23);
            if (s3_avro_schema(h, values, out, names, depth + 1, why) != 0)
                return -1;
            h->buf_append(out, "}", 1);
            return 0;
        }
        /* other keys: an array of {key, value} records named as AvroData (and the core's avro
         * converter) names them, MapEntry then MapEntry2, ... with the property it reads back */
        int n = ++names[1];
        h->buf_append(out, "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":", 48);
        if (n > 1)
            h->buf_printf(out, "\"io.confluent.connect.avro.MapEntry%d\"", n);
        else
            h->buf_append(out, "\"io.confluent.connect.avro.MapEntry\"", 36);
        h->buf_append(out, ",\"fields\":[{\"name\":\"key\",\"type\":", 32);
        if (s3_avro_schema(h, keys, out, names, depth + 1, why) != 0)
            return -1;
        if (h->schema_optional(keys))
            h->buf_append(out, ",\"default\":null", 15);
        h->buf_append(out, "},{\"name\":\"value\",\"type\":", 25);
        if (s3_avro_schema(h, values, out, names, depth + 1, why) != 0)
            return -1;
        if (h->schema_optional(values))
            h->buf_append(out, ",\"default\":null", 15);
        h->buf_append(out, "}]", 2);
        if (n > 1)
            h->buf_append(out, ",\"connect.internal.type\":\"MapEntry\"", 35);
        h->buf_append(out, "}}", 2);
        return 0;
    }
    default:
        *why = "format.class avro: a schema of a type Avro has no form for";
        return -1;
    }
}

/* Fills avro value `dst` of Connect schema `cs` from `v`. */
static int s3_avro_fill(const struct sluice_host *h, const sluice_schema_t *cs,
                        const sluice_value_t *v, avro_value_t *dst, sluice_buf_t *scratch,
                        const char **why)
{
    int null = !v || h->value_type(v) == SLUICE_TYPE_NULL;
    avro_value_t branch;
    if (h->schema_optional(cs)) {
        if (avro_value_set_branch(dst, null ? 0 : 1, &branch) != 0) {
            *why = "Avro: a union cannot be set";
            return -1;
        }
        if (null)
            return avro_value_set_null(&branch);
        dst = &branch;
    } else if (null) {
        *why = "Avro: a field that is not optional is null";
        return -1;
    }
    size_t len = 0;
    const char *p;
    switch (h->schema_type(cs)) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
        return avro_value_set_int(dst, (int32_t)h->value_as_int(v));
    case SLUICE_TYPE_INT64:
        return avro_value_set_long(dst, h->value_as_int(v));
    case SLUICE_TYPE_FLOAT32:
        return avro_value_set_float(dst, (float)h->value_as_float(v));
    case SLUICE_TYPE_FLOAT64:
        return avro_value_set_double(dst, h->value_as_float(v));
    case SLUICE_TYPE_BOOLEAN:
        return avro_value_set_boolean(dst, h->value_as_bool(v));
    case SLUICE_TYPE_STRING:
        p = h->value_as_string(v, &len);
        /* avro-c copies len + 1 bytes: the text NUL-terminated in the scratch buffer */
        h->buf_reset(scratch);
        h->buf_append(scratch, p ? p : "", len);
        return avro_value_set_string_len(dst, h->buf_data(scratch), len + 1);
    case SLUICE_TYPE_BYTES:
        p = h->value_as_string(v, &len);
        return avro_value_set_bytes(dst, (void *)(p ? p : ""), len);
    case SLUICE_TYPE_STRUCT: {
        /* the fields by position when the value has this very schema (the converter's, shared by
         * the records of one schema); by name when it has an equal copy */
        int same = h->value_type(v) == SLUICE_TYPE_STRUCT && h->value_schema(v) == cs;
        for (size_t i = 0, n = h->schema_field_count(cs); i < n; i++) {
            const sluice_schema_t *fs = NULL;
            const char *name = h->schema_field(cs, i, &fs);
            avro_value_t f;
            const sluice_value_t *fv = same && i < h->value_count(v)
                                           ? h->value_item(v, i, NULL, NULL)
                                           : h->value_get(v, name);
            if (avro_value_get_by_index(dst, i, &f, NULL) != 0 ||
                s3_avro_fill(h, fs, fv, &f, scratch, why) != 0) {
                if (!*why)
                    *why = "Avro: a field cannot be set";
                return -1;
            }
        }
        return 0;
    }
    case SLUICE_TYPE_ARRAY: {
        const sluice_schema_t *items = h->schema_items(cs, NULL);
        if (h->value_type(v) != SLUICE_TYPE_ARRAY) {
            *why = "Avro: the schema says array, the value is not one";
            return -1;
        }
        for (size_t i = 0, n = h->value_count(v); i < n; i++) {
            avro_value_t item;
            if (avro_value_append(dst, &item, NULL) != 0 ||
                s3_avro_fill(h, items, h->value_item(v, i, NULL, NULL), &item, scratch, why) != 0) {
                if (!*why)
                    *why = "Avro: an array item cannot be set";
                return -1;
            }
        }
        return 0;
    }
    case SLUICE_TYPE_MAP: {
        const sluice_schema_t *keys = NULL, *values = h->schema_items(cs, &keys);
        int native = s3_avro_map_native(h, keys);
        if (h->value_type(v) != SLUICE_TYPE_MAP) {
            *why = "Avro: the schema says map, the value is not one";
            return -1;
        }
        for (size_t i = 0, n = h->value_count(v); i < n; i++) {
            const char *name = NULL;
            sluice_value_t *key = NULL;
            const sluice_value_t *val = h->value_item(v, i, &name, &key);
            avro_value_t entry, f;
            if (native) {
                /* avro-c copies the key, which it wants NUL-terminated: through the scratch */
                if (key) {
                    if (h->value_type(key) != SLUICE_TYPE_STRING) {
                        *why = "Avro: a map key is not a string, the schema says string";
                        return -1;
                    }
                    p = h->value_as_string(key, &len);
                } else {
                    p = name, len = name ? strlen(name) : 0;
                }
                h->buf_reset(scratch);
                h->buf_append(scratch, p ? p : "", len);
                if (avro_value_add(dst, h->buf_data(scratch), &entry, NULL, NULL) != 0 ||
                    s3_avro_fill(h, values, val, &entry, scratch, why) != 0) {
                    if (!*why)
                        *why = "Avro: a map entry cannot be set";
                    return -1;
                }
                continue;
            }
            if (!key) {
                *why = "Avro: a map entry has no key value";
                return -1;
            }
            if (avro_value_append(dst, &entry, NULL) != 0 ||
                avro_value_get_by_index(&entry, 0, &f, NULL) != 0 ||
                s3_avro_fill(h, keys, key, &f, scratch, why) != 0 ||
                avro_value_get_by_index(&entry, 1, &f, NULL) != 0 ||
                s3_avro_fill(h, values, val, &f, scratch, why) != 0) {
                if (!*why)
                    *why = "Avro: a map entry cannot be set";
                return -1;
            }
        }
        return 0;
    }
    default:
        *why = "Avro: a value of a type Avro has no form for";
        return -1;
    }
}

int s3_avro_schema_json(const struct sluice_host *h, const sluice_schema_t *cs, sluice_buf_t *out,
                        const char **why)
{
    int names[2] = {0, 0}; /* ConnectDefault structs, MapEntry records named so far */
    h->buf_reset(out);
    if (s3_avro_schema(h, cs, out, names, 0, why) != 0)
        return -1;
    if (h->buf_error(out) != SLUICE_OK) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

/* Avro's zigzag varint long at *p (end: the buffer's end); -1 when cut short. */
static int s3_avro_read_long(const unsigned char **p, const unsigned char *end, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

static void s3_avro_write_long(FILE *f, int64_t n)
{
    uint64_t v = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    while (v > 0x7f) {
        fputc((int)((v & 0x7f) | 0x80), f);
        v >>= 7;
    }
    fputc((int)v, f);
}

/* The file's bytes live in an anonymous mapping of their own, not in malloc's heap. A buffer of
 * megabytes freed after each upload raises glibc's dynamic mmap threshold; the next ones then come
 * from the heap, grow by copying (open_memstream) and stay in the process after their free: about
 * 15 MiB of peak RSS in the 100,000-record benchmark. A mapping grows in place or is moved by the
 * kernel (mremap: no copy, pages not yet written cost nothing) and goes back whole at munmap. */
#define S3_AVRO_MAP_MIN (1u << 20)

static int s3_avro_reserve(struct s3_avro *a, size_t need)
{
    if (need <= a->memcap)
        return 0;
    size_t cap = a->memcap ? a->memcap : S3_AVRO_MAP_MIN;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    void *m = a->mem ? mremap(a->mem, a->memcap, cap, MREMAP_MAYMOVE)
                     : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    a->mem = m;
    a->memcap = cap;
    return 0;
}

/* avro-c's file writer writes through a stdio stream: this one appends to the mapping. */
static ssize_t s3_avro_cookie_write(void *cookie, const char *buf, size_t n)
{
    struct s3_avro *a = cookie;
    if (s3_avro_reserve(a, a->memlen + n) != 0)
        return 0; /* a short write: the stream's error, avro-c's failure */
    memcpy(a->mem + a->memlen, buf, n);
    a->memlen += n;
    return (ssize_t)n;
}

/* avro-c writes the schema as it re-serializes it, without logicalType and Connect's properties:
 * the header's avro.schema is replaced by the schema made from the Connect one (the blocks do not
 * change: avro-c wrote them with the same types). -1 when the header is not understood. */
static int s3_avro_reheader(struct s3_avro *a)
{
    const unsigned char *p = (const unsigned char *)a->mem, *end = p + a->memlen;
    if (a->memlen < 4 || memcmp(p, "Obj\x01", 4) != 0)
        return -1;
    p += 4;
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return -1;
    fwrite("Obj\x01", 1, 4, f);
    int64_t count;
    for (;;) {
        if (s3_avro_read_long(&p, end, &count) != 0)
            goto fail;
        if (count == 0)
            break;
        if (count < 0) { /* a block with its size in bytes: skip the size */
            int64_t size;
            count = -count;
            if (s3_avro_read_long(&p, end, &size) != 0)
                goto fail;
        }
        s3_avro_write_long(f, count);
        for (int64_t i = 0; i < count; i++) {
            int64_t kl, vl;
            if (s3_avro_read_long(&p, end, &kl) != 0 || kl < 0 || kl > end - p)
                goto fail;
            const unsigned char *k = p;
            p += kl;
            if (s3_avro_read_long(&p, end, &vl) != 0 || vl < 0 || vl > end - p)
                goto fail;
            s3_avro_write_long(f, kl);
            fwrite(k, 1, (size_t)kl, f);
            if (kl == 11 && memcmp(k, "avro.schema", 11) == 0) {
                s3_avro_write_long(f, (int64_t)strlen(a->json));
                fwrite(a->json, 1, strlen(a->json), f);
            } else {
                s3_avro_write_long(f, vl);
                fwrite(p, 1, (size_t)vl, f);
            }
            p += vl;
        }
    }
    s3_avro_write_long(f, 0);
    if (fclose(f) != 0) {
        free(out);
        return -1;
    }
    /* the sync marker and the blocks move in place behind the new header: no second copy of the
     * whole file (the object's peak memory) */
    size_t at = (size_t)(p - (const unsigned char *)a->mem), tail = a->memlen - at;
    if (s3_avro_reserve(a, outlen + tail) != 0) {
        free(out);
        return -1;
    }
    memmove(a->mem + outlen, a->mem + at, tail);
    memcpy(a->mem, out, outlen);
    a->memlen = outlen + tail;
    free(out);
    return 0;
fail:
    fclose(f);
    free(out);
    return -1;
}

int s3_avro_open(struct s3_avro *a, const struct sluice_host *h, const sluice_schema_t *cs,
                 const char *codec, char *errstr, size_t errstr_size)
{
    memset(a, 0, sizeof *a);
    sluice_buf_t *js = h->buf_new(1024);
    const char *why = "out of memory";
    if (!js)
        return -1;
    int rc = s3_avro_schema_json(h, cs, js, &why);
    if (rc == 0 && avro_schema_from_json_length(h->buf_data(js), h->buf_len(js), &a->schema)) {
        snprintf(errstr, errstr_size, "format.class avro: the Avro schema is refused: %s",
                 avro_strerror());
        h->buf_free(js);
        return -1;
    }
    if (rc == 0 && !(a->json = strdup(h->buf_data(js))))
        rc = -1;
    h->buf_free(js);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s", why);
        return -1;
    }
    a->connect = cs;
    a->iface = avro_generic_class_from_schema(a->schema);
    a->fp = fopencookie(a, "w", (cookie_io_functions_t){.write = s3_avro_cookie_write});
    if (!a->iface || avro_generic_value_new(a->iface, &a->val) != 0 || !a->fp ||
        avro_file_writer_create_with_codec_fp(a->fp, "s3", 0, a->schema, &a->w, codec, 64 * 1024) !=
            0) {
        snprintf(errstr, errstr_size, "format.class avro: cannot start a file: %s",
                 avro_strerror());
        s3_avro_free(a);
        return -1;
    }
    a->valued = 1;
    return 0;
}

int s3_avro_append(struct s3_avro *a, const struct sluice_host *h, const sluice_value_t *v,
                   sluice_buf_t *scratch, const char **why)
{
    avro_value_reset(&a->val);
    *why = NULL;
    if (s3_avro_fill(h, a->connect, v, &a->val, scratch, why) != 0) {
        if (!*why)
            *why = "the value does not fit its Avro schema";
        return -1;
    }
    if (avro_file_writer_append_value(a->w, &a->val) != 0) {
        *why = "Avro: the record cannot be written";
        return -1;
    }
    a->records++;
    return 0;
}

int s3_avro_finish(struct s3_avro *a)
{
    if (a->w) {
        int rc = avro_file_writer_close(a->w); /* writes the last block */
        a->w = NULL;
        if (rc != 0)
            return -1;
    }
    if (a->fp) {
        int rc = fclose(a->fp); /* the last bytes: a->mem, a->memlen is the whole file */
        a->fp = NULL;
        if (rc != 0)
            return -1;
        return s3_avro_reheader(a);
    }
    return 0;
}

void s3_avro_release(struct s3_avro *a)
{
    if (a->mem)
        munmap(a->mem, a->memcap);
    a->mem = NULL;
    a->memlen = a->memcap = 0;
}

void s3_avro_free(struct s3_avro *a)
{
    if (a->w)
        avro_file_writer_close(a->w);
    if (a->fp)
        fclose(a->fp);
    if (a->valued)
        avro_value_decref(&a->val);
    if (a->iface)
        avro_value_iface_decref(a->iface);
    if (a->schema)
        avro_schema_decref(a->schema);
    s3_avro_release(a);
    free(a->json);
    memset(a, 0, sizeof *a);
}
