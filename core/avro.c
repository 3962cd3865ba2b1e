/* avro.c — see avro.h: Avro schemas and datums for the avro converter, whose wire format (0x00,
 * 4-byte big-endian schema id, Avro binary datum) over a Schema Registry is in convert.c.
 *
 * Written by hand instead of with avro-c (the field's library): avro-c's generic values copy every
 * string and bytes value with malloc and would need a second walk to turn them into sluice values
 * in the batch arena. Here a datum is encoded straight from a sluice value into the output buffer
 * and decoded straight into arena values whose strings point into the input bytes: no heap
 * allocation per record or per field. Schema JSON (once per schema) is parsed with cJSON.
 *
 * The Connect ⇄ Avro schema translation follows Confluent's AvroData with connect.meta.data on
 * (connect.name / connect.version / connect.doc / connect.parameters / connect.type props,
 * ConnectDefault names for unnamed structs, MapEntry arrays for maps whose keys are not strings),
 * so that schemas registered by sluice and by Kafka Connect look alike. Connect default values
 * (connect.default, Avro field defaults other than null) are not carried: sluice schemas have none.
 */
#include "avro.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json.h"

#define AVRO_MAX_DEPTH 64
/* Values made from no bytes at all (empty records, and records of them: in arrays, maps, fields)
 * cannot be checked against the bytes left, so each datum may make at most AVRO_ZERO_VALUES of
 * them, a record counting the values it makes (an empty record 1, a record of 300 empty records
 * 301). Every other value takes at least one byte (records nest at most AVRO_MAX_DEPTH deep), so
 * decoding a datum of n bytes makes O(n) values, and arrays grow geometrically, so the arena stays
 * O(n) too. The
 * budget does not grow with the datum's bytes: the canonical encoding of the same value (one
 * block) is a few bytes whatever the count, and must decode too. */
#define AVRO_ZERO_VALUES 1024u
/* connect.parameters of one type: Confluent's AvroData puts an enum's symbols there, one each. Set
 * by a search each, but for those already in place (an enum's, in the same order). */
#define AVRO_MAX_CONNECT_PARAMS 16384
/* Types of one schema counted as written out in full (each use of a named type anew). */
#define AVRO_MAX_SCHEMA_NODES          (1u << 18)
#define AVRO_DECIMAL_PRECISION_DEFAULT 64
#define AVRO_PARAM_PRECISION           "connect.decimal.precision"
#define AVRO_PARAM_RECORD_DOC          "io.confluent.connect.avro.record.doc"
#define AVRO_PARAM_FIELD_DOC           "io.confluent.connect.avro.field.doc."
#define AVRO_MAP_ENTRY                 "MapEntry"

SLUICE_PRINTF(3, 4)
static sluice_err_t avro_fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return SLUICE_ERR_INVALID;
}

/* "inner" → "<what><sep>inner", in place (error paths only). */
void avro_prefix(char *errstr, size_t errstr_size, const char *what, const char *sep)
{
    char inner[512];
    if (!errstr || !errstr_size)
        return;
    snprintf(inner, sizeof inner, "%s", errstr);
    snprintf(errstr, errstr_size, "%s%s%s", what, sep, inner);
}

int avro_is_union_struct(const sluice_schema_t *s)
{
    return s->type == SLUICE_TYPE_STRUCT && s->name && strcmp(s->name, AVRO_CONNECT_UNION) == 0;
}

static int avro_map_is_native(const sluice_schema_t *s)
{
    return s->keys && s->keys->type == SLUICE_TYPE_STRING && !s->keys->optional;
}

static int avro_decimal_scale(const sluice_schema_t *s)
{
    const char *v = schema_param(s, "scale");
    return v ? atoi(v) : 0;
}

static int avro_decimal_precision(const sluice_schema_t *s)
{
    const char *v = schema_param(s, AVRO_PARAM_PRECISION);
    return v ? atoi(v) : AVRO_DECIMAL_PRECISION_DEFAULT;
}

/* ================================================================================================
 * Connect schema → Avro schema JSON
 */

/* Named types defined so far, by hash of their full name (open addressing; a slot holds an entry's
 * index + 1, 0 is free): a search per definition and reference was quadratic in the named types
 * of a schema (issue #22). The entries themselves stay in their callers' arrays. */
typedef struct name_index {
    size_t *slots;
    size_t cap; /* a power of two, at least twice the entries */
} name_index_t;
typedef const char *(*name_of_fn)(const void *ctx, size_t i);

static size_t ni_hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h ^ h >> 29);
}

/* The index of the entry named `name`, or -1. */
static long ni_find(const name_index_t *x, const char *name, name_of_fn name_of, const void *ctx)
{
    if (!x->cap)
        return -1;
    for (size_t i = ni_hash(name) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        if (!x->slots[i])
            return -1;
        if (strcmp(name_of(ctx, x->slots[i] - 1), name) == 0)
            return (long)(x->slots[i] - 1);
    }
}

/* Index entry `e` (entries 0..e-1 are indexed already); -1 when out of memory. */
static int ni_add(name_index_t *x, size_t e, name_of_fn name_of, const void *ctx)
{
    if (2 * (e + 1) > x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 16;
        size_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        free(x->slots);
        x->slots = slots;
        x->cap = cap;
        for (size_t k = 0; k < e; k++)
            ni_add(x, k, name_of, ctx); /* fits: no growth */
    }
    size_t i = ni_hash(name_of(ctx, e)) & (x->cap - 1);
    while (x->slots[i])
        i = (i + 1) & (x->cap - 1);
    x->slots[i] = e + 1;
    return 0;
}

struct aw_def {
    char *full;
    const sluice_schema_t *s;
};

static const char *aw_def_name(const void *ctx, size_t i)
{
    return ((const struct aw_def *)ctx)[i].full;
}

typedef struct aw {
    buf_t *b;
    char *err;
    size_t errsz;
    int unnamed;     /* ConnectDefault names handed out */
    int map_entries; /* MapEntry names handed out */
    struct aw_def *defs;
    name_index_t defs_index;
    size_t ndefs, capdefs;
    int nomem;
} aw_t;

static void aw_raw(aw_t *w, const char *s)
{
    if (buf_puts(w->b, s) != 0)
        w->nomem = 1;
}

static void aw_str(aw_t *w, const char *s)
{
    if (json_write_string(w->b, s, strlen(s)) != 0)
        w->nomem = 1;
}

static void aw_key(aw_t *w, const char *key)
{
    aw_raw(w, ",");
    aw_str(w, key);
    aw_raw(w, ":");
}

static void aw_int(aw_t *w, long v)
{
    if (buf_printf(w->b, "%ld", v) != 0)
        w->nomem = 1;
}

/* Avro names: [A-Za-z_][A-Za-z0-9_]*. */
static int aw_valid_name(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int aw_valid_fullname(const char *s)
{
    for (;;) {
        size_t n = strcspn(s, ".");
        if (!aw_valid_name(s, n))
            return 0;
        if (!s[n])
            return 1;
        s += n + 1;
    }
}

/* Equal schemas up to their own `optional` (a named type may be reused optional and not). */
static int aw_same(const sluice_schema_t *a, const sluice_schema_t *b)
{
    if (a == b)
        return 1;
    struct sluice_schema t = *b;
    t.optional = a->optional;
    return schema_equal(a, &t);
}

/* Is `full` already defined? 1: yes, the same type (write a reference); -1: a different type;
 * 0: no (it is recorded now). */
static int aw_define(aw_t *w, const char *full, const sluice_schema_t *s)
{
    long i = ni_find(&w->defs_index, full, aw_def_name, w->defs);
    if (i >= 0)
        return aw_same(w->defs[i].s, s) ? 1 : -1;
    if (w->ndefs == w->capdefs) {
        size_t cap = w->capdefs ? w->capdefs * 2 : 8;
        struct aw_def *n = realloc(w->defs, cap * sizeof *n);
        if (!n) {
            w->nomem = 1;
            return 0;
        }
        w->defs = n;
        w->capdefs = cap;
    }
    char *f = strdup(full);
    if (!f) {
        w->nomem = 1;
        return 0;
    }
    w->defs[w->ndefs] = (struct aw_def){.full = f, .s = s};
    if (ni_add(&w->defs_index, w->ndefs, aw_def_name, w->defs) != 0) {
        free(f);
        w->nomem = 1;
        return 0;
    }
    w->ndefs++;
    return 0;
}

static sluice_err_t aw_schema(aw_t *w, const sluice_schema_t *s, const char *ns,
                              int ignore_optional, int depth);

/* The connect.* props AvroData adds (connect.meta.data), then the logical type. */
static void aw_meta(aw_t *w, const sluice_schema_t *s, const char *connect_type)
{
    if (s->doc) {
        aw_key(w, "connect.doc");
        aw_str(w, s->doc);
    }
    if (s->version) {
        aw_key(w, "connect.version");
        aw_int(w, s->version);
    }
    if (s->nparams) {
        aw_key(w, "connect.parameters");
        aw_raw(w, "{");
        for (size_t i = 0; i < s->nparams; i++) {
            if (i)
                aw_raw(w, ",");
            aw_str(w, s->params[i].key);
            aw_raw(w, ":");
            aw_str(w, s->params[i].value);
        }
        aw_raw(w, "}");
    }
    if (s->name) {
        aw_key(w, "connect.name");
        aw_str(w, s->name);
    }
    if (connect_type) {
        aw_key(w, "connect.type");
        aw_str(w, connect_type);
    }
    const char *logical = NULL;
    if (schema_is_logical(s, SLUICE_LOGICAL_DECIMAL) && s->type == SLUICE_TYPE_BYTES)
        logical = "decimal";
    else if (schema_is_logical(s, SLUICE_LOGICAL_DATE) && s->type == SLUICE_TYPE_INT32)
        logical = "date";
    else if (schema_is_logical(s, SLUICE_LOGICAL_TIME) && s->type == SLUICE_TYPE_INT32)
        logical = "time-millis";
    else if (schema_is_logical(s, SLUICE_LOGICAL_TIMESTAMP) && s->type == SLUICE_TYPE_INT64)
        logical = "timestamp-millis";
    if (logical) {
        aw_key(w, "logicalType");
        aw_str(w, logical);
    }
}

/* A record field: {"name":…,"type":…[,"doc":…][,"default":null]}. */
static sluice_err_t aw_field(aw_t *w, const char *name, const sluice_schema_t *fs, const char *doc,
                             const char *ns, int depth)
{
    sluice_err_t rc;
    if (!aw_valid_name(name, strlen(name)))
        return avro_fail(w->err, w->errsz,
                         "field name '%s' is not a valid Avro name (letters, digits and _, not "
                         "starting with a digit)",
                         name);
    aw_raw(w, "{\"name\":");
    aw_str(w, name);
    aw_raw(w, ",\"type\":");
    if ((rc = aw_schema(w, fs, ns, 0, depth + 1)) != SLUICE_OK) {
        char what[300];
        snprintf(what, sizeof what, "field '%s'", name);
        avro_prefix(w->err, w->errsz, what, ": ");
        return rc;
    }
    if (doc) {
        aw_key(w, "doc");
        aw_str(w, doc);
    }
    if (fs->optional)
        aw_raw(w, ",\"default\":null");
    aw_raw(w, "}");
    return SLUICE_OK;
}

/* "name" and "namespace" of a named type the way Avro writes them: the namespace only when it
 * differs from the enclosing one ("" for none inside a namespace). */
static void aw_name(aw_t *w, const char *name, const char *space, const char *ns)
{
    aw_key(w, "name");
    aw_str(w, name);
    if (space) {
        if (!ns || strcmp(space, ns) != 0) {
            aw_key(w, "namespace");
            aw_str(w, space);
        }
    } else if (ns) {
        aw_key(w, "namespace");
        aw_str(w, "");
    }
}

/* Split "a.b.C" into a malloc'd namespace "a.b" (NULL if none) and a pointer to "C". */
static int aw_split(const char *full, char **space, const char **name)
{
    const char *dot = strrchr(full, '.');
    *space = NULL;
    *name = full;
    if (dot) {
        if (!(*space = strndup(full, (size_t)(dot - full))))
            return -1;
        *name = dot + 1;
    }
    return 0;
}

static sluice_err_t aw_record(aw_t *w, const sluice_schema_t *s, const char *ns, int depth)
{
    sluice_err_t rc = SLUICE_OK;
    char *space = NULL, gen[48];
    const char *name;
    if (s->name) {
        if (!aw_valid_fullname(s->name))
            return avro_fail(w->err, w->errsz,
                             "struct name '%s' is not a valid Avro name (dot-separated parts of "
                             "letters, digits and _)",
                             s->name);
        int d = aw_define(w, s->name, s);
        if (d > 0) { /* defined before: a reference */
            aw_str(w, s->name);
            return SLUICE_OK;
        }
        if (d < 0)
            return avro_fail(w->err, w->errsz,
                             "two different structs are named '%s' (Avro names one type once)",
                             s->name);
        if (aw_split(s->name, &space, &name) != 0) {
            w->nomem = 1;
            return SLUICE_ERR_NOMEM;
        }
    } else {
        w->unnamed++;
        if (w->unnamed == 1)
            snprintf(gen, sizeof gen, "%s", AVRO_CONNECT_DEFAULT);
        else
            snprintf(gen, sizeof gen, "%s%d", AVRO_CONNECT_DEFAULT, w->unnamed);
        name = gen;
        if (!(space = strdup(AVRO_CONNECT_NAMESPACE))) {
            w->nomem = 1;
            return SLUICE_ERR_NOMEM;
        }
    }
    aw_raw(w, "{\"type\":\"record\"");
    aw_name(w, name, space, ns);
    const char *rdoc = schema_param(s, AVRO_PARAM_RECORD_DOC);
    if (rdoc) {
        aw_key(w, "doc");
        aw_str(w, rdoc);
    }
    aw_raw(w, ",\"fields\":[");
    for (size_t i = 0; i < s->nfields && rc == SLUICE_OK; i++) {
        char key[300];
        if (i)
            aw_raw(w, ",");
        snprintf(key, sizeof key, "%s%s", AVRO_PARAM_FIELD_DOC, s->fields[i].name);
        rc =
            aw_field(w, s->fields[i].name, s->fields[i].schema, schema_param(s, key), space, depth);
    }
    aw_raw(w, "]");
    aw_meta(w, s, NULL);
    aw_raw(w, "}");
    free(space);
    return rc;
}

/* A map whose keys are not (non-optional) strings: an array of MapEntry records {key, value}. */
static sluice_err_t aw_map_entries(aw_t *w, const sluice_schema_t *s, const char *ns, int depth)
{
    sluice_err_t rc;
    char *space = NULL, gen[48];
    const char *name;
    int internal = 0;
    if (s->name) {
        if (!aw_valid_fullname(s->name))
            return avro_fail(w->err, w->errsz, "map name '%s' is not a valid Avro name", s->name);
        int d = aw_define(w, s->name, s);
        if (d != 0) {
            if (d < 0)
                return avro_fail(w->err, w->errsz, "two different types are named '%s'", s->name);
            aw_raw(w, "{\"type\":\"array\",\"items\":");
            aw_str(w, s->name);
            aw_meta(w, s, NULL);
            aw_raw(w, "}");
            return SLUICE_OK;
        }
        if (aw_split(s->name, &space, &name) != 0) {
            w->nomem = 1;
            return SLUICE_ERR_NOMEM;
        }
        internal = 1;
    } else {
        /* AvroData names every such record io.confluent.connect.avro.MapEntry; a second,
         * different one gets a number and the connect.internal.type prop AvroData reads. */
        w->map_entries++;
        if (w->map_entries == 1) {
            snprintf(gen, sizeof gen, "%s", AVRO_MAP_ENTRY);
        } else {
            snprintf(gen, sizeof gen, "%s%d", AVRO_MAP_ENTRY, w->map_entries);
            internal = 1;
        }
        name = gen;
        if (!(space = strdup(AVRO_CONNECT_NAMESPACE))) {
            w->nomem = 1;
            return SLUICE_ERR_NOMEM;
        }
    }
    aw_raw(w, "{\"type\":\"array\",\"items\":{\"type\":\"record\"");
    aw_name(w, name, space, ns);
    aw_raw(w, ",\"fields\":[");
    rc = aw_field(w, "key", s->keys, NULL, space, depth);
    if (rc == SLUICE_OK) {
        aw_raw(w, ",");
        rc = aw_field(w, "value", s->values, NULL, space, depth);
    }
    aw_raw(w, "]");
    if (internal)
        aw_raw(w, ",\"connect.internal.type\":\"MapEntry\"");
    aw_raw(w, "}");
    aw_meta(w, s, NULL);
    aw_raw(w, "}");
    free(space);
    return rc;
}

static sluice_err_t aw_base(aw_t *w, const sluice_schema_t *s, const char *ns, int depth)
{
    const char *prim = NULL, *connect_type = NULL;
    sluice_err_t rc = SLUICE_OK;
    switch (s->type) {
    case SLUICE_TYPE_INT8:
        prim = "int", connect_type = "int8";
        break;
    case SLUICE_TYPE_INT16:
        prim = "int", connect_type = "int16";
        break;
    case SLUICE_TYPE_INT32:
        prim = "int";
        break;
    case SLUICE_TYPE_INT64:
        prim = "long";
        break;
    case SLUICE_TYPE_FLOAT32:
        prim = "float";
        break;
    case SLUICE_TYPE_FLOAT64:
        prim = "double";
        break;
    case SLUICE_TYPE_BOOLEAN:
        prim = "boolean";
        break;
    case SLUICE_TYPE_STRING:
        prim = "string";
        break;
    case SLUICE_TYPE_BYTES:
        prim = "bytes";
        break;
    case SLUICE_TYPE_ARRAY:
        if (!s->items)
            return avro_fail(w->err, w->errsz, "array schema without an item schema");
        aw_raw(w, "{\"type\":\"array\",\"items\":");
        if ((rc = aw_schema(w, s->items, ns, 0, depth + 1)) != SLUICE_OK)
            return rc;
        aw_meta(w, s, NULL);
        aw_raw(w, "}");
        return SLUICE_OK;
    case SLUICE_TYPE_MAP:
        if (!s->keys || !s->values)
            return avro_fail(w->err, w->errsz, "map schema without key and value schemas");
        if (!avro_map_is_native(s))
            return aw_map_entries(w, s, ns, depth);
        aw_raw(w, "{\"type\":\"map\",\"values\":");
        if ((rc = aw_schema(w, s->values, ns, 0, depth + 1)) != SLUICE_OK)
            return rc;
        aw_meta(w, s, NULL);
        aw_raw(w, "}");
        return SLUICE_OK;
    case SLUICE_TYPE_STRUCT:
        return aw_record(w, s, ns, depth);
    default:
        return avro_fail(w->err, w->errsz, "a %s schema has no Avro form",
                         schema_type_name(s->type));
    }
    int decimal = s->type == SLUICE_TYPE_BYTES && schema_is_logical(s, SLUICE_LOGICAL_DECIMAL);
    if (!decimal && !connect_type && !s->doc && !s->version && !s->nparams && !s->name) {
        aw_str(w, prim);
        return SLUICE_OK;
    }
    aw_raw(w, "{\"type\":");
    aw_str(w, prim);
    if (decimal) {
        aw_key(w, "scale");
        aw_int(w, avro_decimal_scale(s));
        aw_key(w, "precision");
        aw_int(w, avro_decimal_precision(s));
    }
    aw_meta(w, s, connect_type);
    aw_raw(w, "}");
    return SLUICE_OK;
}

static sluice_err_t aw_schema(aw_t *w, const sluice_schema_t *s, const char *ns,
                              int ignore_optional, int depth)
{
    sluice_err_t rc;
    if (!s)
        return avro_fail(w->err, w->errsz, "a schema is missing");
    if (depth > AVRO_MAX_DEPTH)
        return avro_fail(w->err, w->errsz, "schema nested deeper than %d levels", AVRO_MAX_DEPTH);
    if (avro_is_union_struct(s)) {
        aw_raw(w, "[");
        if (s->optional && !ignore_optional)
            aw_raw(w, "\"null\"");
        for (size_t i = 0; i < s->nfields; i++) {
            if (i || (s->optional && !ignore_optional))
                aw_raw(w, ",");
            if ((rc = aw_schema(w, s->fields[i].schema, ns, 1, depth + 1)) != SLUICE_OK)
                return rc;
        }
        aw_raw(w, "]");
        return SLUICE_OK;
    }
    if (s->optional && !ignore_optional) {
        aw_raw(w, "[\"null\",");
        if ((rc = aw_base(w, s, ns, depth)) != SLUICE_OK)
            return rc;
        aw_raw(w, "]");
        return SLUICE_OK;
    }
    return aw_base(w, s, ns, depth);
}

sluice_err_t avro_schema_from_connect(buf_t *out, const sluice_schema_t *s, char *errstr,
                                      size_t errstr_size)
{
    aw_t w = {.b = out, .err = errstr, .errsz = errstr_size};
    size_t mark = out->len;
    sluice_err_t rc = aw_schema(&w, s, NULL, 0, 0);
    if (rc == SLUICE_OK && w.nomem)
        rc = SLUICE_ERR_NOMEM;
    if (rc == SLUICE_ERR_NOMEM)
        snprintf(errstr, errstr_size, "out of memory while writing an Avro schema");
    for (size_t i = 0; i < w.ndefs; i++)
        free(w.defs[i].full);
    free(w.defs);
    free(w.defs_index.slots);
    if (rc != SLUICE_OK && out->cap) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

/* ================================================================================================
 * Encoding: sluice value → Avro binary
 */

typedef struct ae {
    buf_t *b;
    char *err;
    size_t errsz;
    char path[256]; /* where an error happened, built while unwinding: "customer.tags[2]" */
} ae_t;

/* Prepend a field name or an "[i]" to the error path. */
static void ae_path(ae_t *e, const char *seg)
{
    size_t sl = strlen(seg), ol = strlen(e->path);
    size_t dot = ol && e->path[0] != '[' ? 1 : 0;
    if (sl + dot + ol + 1 > sizeof e->path)
        return; /* keep the innermost part */
    memmove(e->path + sl + dot, e->path, ol + 1);
    memcpy(e->path, seg, sl);
    if (dot)
        e->path[sl] = '.';
}

static inline int ae_long(ae_t *e, int64_t v)
{
    if (e->b->cap - e->b->len < 11 && buf_reserve(e->b, 10) != 0)
        return -1;
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char *p = (unsigned char *)e->b->data + e->b->len;
    size_t n = 0;
    while (z > 0x7f) {
        p[n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    e->b->len += n;
    return 0;
}

static inline int ae_bytes(ae_t *e, const void *p, size_t len)
{
    if (ae_long(e, (int64_t)len) != 0 || buf_reserve(e->b, len) != 0)
        return -1;
    if (len)
        memcpy(e->b->data + e->b->len, p, len);
    e->b->len += len;
    return 0;
}

static inline int ae_fixed(ae_t *e, uint64_t bits, size_t n)
{
    if (buf_reserve(e->b, n) != 0)
        return -1;
    unsigned char *p = (unsigned char *)e->b->data + e->b->len;
    for (size_t i = 0; i < n; i++) /* little-endian, whatever the host */
        p[i] = (unsigned char)(bits >> (8 * i));
    e->b->len += n;
    return 0;
}

static const char *ae_found(const sluice_value_t *v)
{
    return v ? schema_type_name(v->type) : "nothing";
}

static sluice_err_t ae_value(ae_t *e, const sluice_value_t *v, const sluice_schema_t *s, int depth);

static sluice_err_t ae_mismatch(ae_t *e, const sluice_value_t *v, const sluice_schema_t *s)
{
    return avro_fail(e->err, e->errsz, "the schema says %s%s%s but the value is %s",
                     schema_type_name(s->type), s->name ? " " : "", s->name ? s->name : "",
                     ae_found(v));
}

static int ae_is_int(const sluice_value_t *v)
{
    return v->type >= SLUICE_TYPE_INT8 && v->type <= SLUICE_TYPE_INT64;
}

/* The value of field i of struct schema `s` in struct value `v` (NULL: absent). */
static const sluice_value_t *ae_field(const sluice_value_t *v, const sluice_schema_t *s, size_t i)
{
    const char *name = s->fields[i].name;
    if (i < v->u.m.len && v->u.m.items[i].name &&
        (v->u.m.items[i].name == name || strcmp(v->u.m.items[i].name, name) == 0))
        return v->u.m.items[i].value;
    for (size_t j = 0; j < v->u.m.len; j++)
        if (v->u.m.items[j].name && strcmp(v->u.m.items[j].name, name) == 0)
            return v->u.m.items[j].value;
    return NULL;
}

static sluice_err_t ae_union_struct(ae_t *e, const sluice_value_t *v, const sluice_schema_t *s,
                                    int depth)
{
    size_t base = s->optional ? 1 : 0;
    if (v && v->type == SLUICE_TYPE_STRUCT) {
        for (size_t i = 0; i < s->nfields; i++) {
            const sluice_value_t *f = ae_field(v, s, i);
            if (f && f->type != SLUICE_TYPE_NULL) {
                struct sluice_schema branch = *s->fields[i].schema;
                branch.optional = 0;
                if (ae_long(e, (int64_t)(base + i)) != 0)
                    return SLUICE_ERR_NOMEM;
                return ae_value(e, f, &branch, depth + 1);
            }
        }
    } else if (v && v->type != SLUICE_TYPE_NULL) {
        return ae_mismatch(e, v, s);
    }
    if (!s->optional)
        return avro_fail(e->err, e->errsz, "union value with no branch set");
    return ae_long(e, 0) ? SLUICE_ERR_NOMEM : SLUICE_OK;
}

static sluice_err_t ae_value(ae_t *e, const sluice_value_t *v, const sluice_schema_t *s, int depth)
{
    sluice_err_t rc;
    int isnull = !v || v->type == SLUICE_TYPE_NULL;
    if (depth > AVRO_MAX_DEPTH)
        return avro_fail(e->err, e->errsz, "value nested deeper than %d levels", AVRO_MAX_DEPTH);
    if (avro_is_union_struct(s))
        return ae_union_struct(e, v, s, depth);
    if (s->optional) {
        if (ae_long(e, isnull ? 0 : 1) != 0)
            return SLUICE_ERR_NOMEM;
        if (isnull)
            return SLUICE_OK;
    } else if (isnull) {
        return avro_fail(e->err, e->errsz, "null, but its schema is not optional");
    }
    switch (s->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32: {
        static const int64_t lo[] = {INT8_MIN, INT16_MIN, INT32_MIN},
                             hi[] = {INT8_MAX, INT16_MAX, INT32_MAX};
        int k = s->type - SLUICE_TYPE_INT8;
        if (!ae_is_int(v))
            return ae_mismatch(e, v, s);
        if (v->u.i < lo[k] || v->u.i > hi[k])
            return avro_fail(e->err, e->errsz, "value %lld does not fit %s", (long long)v->u.i,
                             schema_type_name(s->type));
        return ae_long(e, v->u.i) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    }
    case SLUICE_TYPE_INT64:
        if (!ae_is_int(v))
            return ae_mismatch(e, v, s);
        return ae_long(e, v->u.i) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    case SLUICE_TYPE_FLOAT32: {
        if (v->type != SLUICE_TYPE_FLOAT32 && v->type != SLUICE_TYPE_FLOAT64 && !ae_is_int(v))
            return ae_mismatch(e, v, s);
        float f = (float)value_as_float(v);
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        return ae_fixed(e, bits, 4) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    }
    case SLUICE_TYPE_FLOAT64: {
        if (v->type != SLUICE_TYPE_FLOAT32 && v->type != SLUICE_TYPE_FLOAT64 && !ae_is_int(v))
            return ae_mismatch(e, v, s);
        double d = value_as_float(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return ae_fixed(e, bits, 8) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    }
    case SLUICE_TYPE_BOOLEAN:
        if (v->type != SLUICE_TYPE_BOOLEAN)
            return ae_mismatch(e, v, s);
        return ae_fixed(e, v->u.b ? 1 : 0, 1) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    case SLUICE_TYPE_STRING:
    case SLUICE_TYPE_BYTES:
        if (v->type != SLUICE_TYPE_STRING && v->type != SLUICE_TYPE_BYTES)
            return ae_mismatch(e, v, s);
        return ae_bytes(e, v->u.s.ptr, v->u.s.len) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    case SLUICE_TYPE_ARRAY:
        if (v->type != SLUICE_TYPE_ARRAY)
            return ae_mismatch(e, v, s);
        if (v->u.a.len) {
            if (ae_long(e, (int64_t)v->u.a.len) != 0)
                return SLUICE_ERR_NOMEM;
            for (size_t i = 0; i < v->u.a.len; i++)
                if ((rc = ae_value(e, v->u.a.items[i], s->items, depth + 1)) != SLUICE_OK) {
                    char idx[32];
                    snprintf(idx, sizeof idx, "[%zu]", i);
                    ae_path(e, idx);
                    return rc;
                }
        }
        return ae_long(e, 0) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    case SLUICE_TYPE_MAP: {
        if (v->type != SLUICE_TYPE_MAP)
            return ae_mismatch(e, v, s);
        int native = avro_map_is_native(s);
        if (v->u.m.len) {
            if (ae_long(e, (int64_t)v->u.m.len) != 0)
                return SLUICE_ERR_NOMEM;
            for (size_t i = 0; i < v->u.m.len; i++) {
                const struct value_kv *kv = &v->u.m.items[i];
                if (native) {
                    const char *k = kv->key ? kv->key->u.s.ptr : kv->name;
                    size_t kl = kv->key ? kv->key->u.s.len : (kv->name ? strlen(kv->name) : 0);
                    if ((kv->key && kv->key->type != SLUICE_TYPE_STRING) || !k)
                        return avro_fail(e->err, e->errsz, "map key is %s, the schema says string",
                                         ae_found(kv->key));
                    if (ae_bytes(e, k, kl) != 0)
                        return SLUICE_ERR_NOMEM;
                } else if ((rc = ae_value(e, kv->key, s->keys, depth + 1)) != SLUICE_OK) {
                    ae_path(e, "[key]");
                    return rc;
                }
                if ((rc = ae_value(e, kv->value, s->values, depth + 1)) != SLUICE_OK) {
                    ae_path(e, "[value]");
                    return rc;
                }
            }
        }
        return ae_long(e, 0) ? SLUICE_ERR_NOMEM : SLUICE_OK;
    }
    case SLUICE_TYPE_STRUCT:
        if (v->type != SLUICE_TYPE_STRUCT)
            return ae_mismatch(e, v, s);
        for (size_t i = 0; i < s->nfields; i++) {
            const sluice_value_t *f = ae_field(v, s, i);
            if ((rc = ae_value(e, f, s->fields[i].schema, depth + 1)) != SLUICE_OK) {
                ae_path(e, s->fields[i].name);
                return rc;
            }
        }
        return SLUICE_OK;
    default:
        return ae_mismatch(e, v, s);
    }
}

sluice_err_t avro_write_datum(buf_t *out, const sluice_value_t *v, const sluice_schema_t *s,
                              char *errstr, size_t errstr_size)
{
    ae_t e = {.b = out, .err = errstr, .errsz = errstr_size};
    size_t mark = out->len;
    sluice_err_t rc = ae_value(&e, v, s, 0);
    if (rc == SLUICE_ERR_NOMEM) {
        snprintf(errstr, errstr_size, "out of memory while encoding a value as Avro");
    } else if (rc != SLUICE_OK && e.path[0]) {
        char what[300];
        snprintf(what, sizeof what, "field %s", e.path);
        avro_prefix(errstr, errstr_size, what, ": ");
    }
    if (rc != SLUICE_OK)
        out->len = mark;
    if (out->cap)
        out->data[out->len] = '\0';
    return rc;
}

/* ================================================================================================
 * Avro schema JSON → reader nodes and a Connect schema
 */

enum av_kind {
    AV_NULL,
    AV_BOOLEAN,
    AV_INT,
    AV_LONG,
    AV_FLOAT,
    AV_DOUBLE,
    AV_BYTES,
    AV_STRING,
    AV_RECORD,
    AV_ENUM,
    AV_ARRAY,
    AV_MAP,
    AV_UNION,
    AV_FIXED,
};

struct avro_node {
    enum av_kind kind;
    sluice_type_t ctype;           /* Connect type of the values (INT8/16/32 for an Avro int) */
    const sluice_schema_t *schema; /* Connect schema of the values (NULL for "null") */
    struct avro_node **kids;       /* record fields, union branches, array items, map values */
    size_t nkids;
    const char **symbols; /* enum */
    size_t *symlens;
    size_t nsymbols;
    size_t fixed_size;
    int null_branch;      /* union: index of the null branch, or -1 */
    int optional_union;   /* union of null and one type: a Connect optional schema */
    int map_entry;        /* record: a MapEntry {key, value}; array: of MapEntry, a Connect MAP */
    int key_first;        /* MapEntry: "key" is field 0 */
    size_t min_size;      /* fewest bytes a datum of this type takes */
    size_t zvals;         /* min_size 0: the values one datum makes (null 1, records 1 + fields) */
    size_t expanded;      /* nodes of the type written out in full (AVRO_MAX_SCHEMA_NODES) */
    const char *fullname; /* named types */
    int done;             /* named types: parsed (a reference to an unfinished one is recursion) */
};

typedef struct ap {
    schema_owner_t *o;
    arena_t *a;
    char *err;
    size_t errsz;
    struct avro_node **named;
    size_t nnamed, capnamed;
    name_index_t named_index;
} ap_t;

static const char *ap_named_name(const void *ctx, size_t i)
{
    return ((struct avro_node *const *)ctx)[i]->fullname;
}

SLUICE_PRINTF(2, 3)
static struct avro_node *ap_fail(ap_t *p, const char *fmt, ...)
{
    if (p->err && p->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errsz, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static struct avro_node *ap_nomem(ap_t *p)
{
    return ap_fail(p, "out of memory while reading an Avro schema");
}

static struct avro_node *ap_node(ap_t *p, enum av_kind kind)
{
    struct avro_node *n = arena_calloc(p->a, sizeof *n);
    if (n) {
        n->kind = kind;
        n->null_branch = -1;
    }
    return n;
}

static const cJSON *ap_get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *ap_str(const cJSON *o, const char *key)
{
    const cJSON *v = ap_get(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The Connect name of an unnamed struct as AvroData writes it: ConnectDefault[N]. */
static int ap_is_default_name(const char *full)
{
    static const char dflt[] = AVRO_CONNECT_NAMESPACE "." AVRO_CONNECT_DEFAULT;
    if (strncmp(full, dflt, sizeof dflt - 1) != 0)
        return 0;
    for (const char *s = full + sizeof dflt - 1; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* A copy of `s` made optional (children shared). */
static sluice_schema_t *ap_optional(ap_t *p, const sluice_schema_t *s)
{
    sluice_schema_t *c = schema_new(p->o, s->type);
    if (!c)
        return NULL;
    c->optional = 1;
    c->version = s->version;
    c->items = s->items;
    c->keys = s->keys;
    c->values = s->values;
    if (schema_set_name(c, s->name) != SLUICE_OK || schema_set_doc(c, s->doc) != SLUICE_OK)
        return NULL;
    for (size_t i = 0; i < s->nparams; i++)
        if (schema_set_param(c, s->params[i].key, s->params[i].value) != SLUICE_OK)
            return NULL;
    for (size_t i = 0; i < s->nfields; i++)
        if (schema_add_field(c, s->fields[i].name, s->fields[i].schema) != SLUICE_OK)
            return NULL;
    return c;
}

/* connect.doc, connect.version, connect.parameters and connect.name of `obj` onto `s`. */
static struct avro_node *ap_meta(ap_t *p, struct avro_node *n, sluice_schema_t *s, const cJSON *obj)
{
    const cJSON *v;
    if ((v = ap_get(obj, "connect.doc")) && cJSON_IsString(v) &&
        schema_set_doc(s, v->valuestring) != SLUICE_OK)
        return ap_nomem(p);
    if ((v = ap_get(obj, "connect.version"))) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= INT32_MIN && v->valuedouble <= INT32_MAX))
            return ap_fail(p, "connect.version must be a 32-bit number");
        s->version = (int32_t)v->valuedouble;
    }
    if ((v = ap_get(obj, "connect.parameters"))) {
        if (!cJSON_IsObject(v))
            return ap_fail(p, "connect.parameters must be an object");
        /* each is set by a search among those before: bounded */
        if (cJSON_GetArraySize(v) > AVRO_MAX_CONNECT_PARAMS)
            return ap_fail(p, "connect.parameters has more than %d entries",
                           AVRO_MAX_CONNECT_PARAMS);
        size_t at = 0;
        for (const cJSON *e = v->child; e; e = e->next, at++) {
            if (!cJSON_IsString(e))
                return ap_fail(p, "connect.parameters value '%s' must be a string", e->string);
            if (at < s->nparams && strcmp(s->params[at].key, e->string) == 0 &&
                strcmp(s->params[at].value, e->valuestring) == 0)
                continue; /* already so (an enum's symbols) */
            if (schema_set_param(s, e->string, e->valuestring) != SLUICE_OK)
                return ap_nomem(p);
        }
    }
    if ((v = ap_get(obj, "connect.name")) && cJSON_IsString(v)) {
        /* a struct's name is its record's name when written back: it must be a valid one */
        if (s->type == SLUICE_TYPE_STRUCT && !aw_valid_fullname(v->valuestring))
            return ap_fail(p, "connect.name '%s' of a record is not a valid Avro name",
                           v->valuestring);
        if (schema_set_name(s, v->valuestring) != SLUICE_OK)
            return ap_nomem(p);
    }
    return n;
}

static struct avro_node *ap_type(ap_t *p, const cJSON *j, const char *ns, int depth);

static const struct {
    const char *name;
    enum av_kind kind;
} ap_prims[] = {{"null", AV_NULL},   {"boolean", AV_BOOLEAN}, {"int", AV_INT},
                {"long", AV_LONG},   {"float", AV_FLOAT},     {"double", AV_DOUBLE},
                {"bytes", AV_BYTES}, {"string", AV_STRING}};

static int ap_prim_kind(const char *name, enum av_kind *k)
{
    for (size_t i = 0; i < sizeof ap_prims / sizeof ap_prims[0]; i++)
        if (strcmp(ap_prims[i].name, name) == 0) {
            *k = ap_prims[i].kind;
            return 0;
        }
    return -1;
}

/* Decimal on bytes or fixed: Connect's Decimal with "scale" (and the precision when it is not
 * AvroData's default). */
static sluice_schema_t *ap_decimal(ap_t *p, const cJSON *obj)
{
    const cJSON *scale = ap_get(obj, "scale"), *prec = ap_get(obj, "precision");
    char buf[32];
    if (scale && !cJSON_IsNumber(scale))
        return (sluice_schema_t *)ap_fail(p, "decimal scale must be a number");
    if (prec && !cJSON_IsNumber(prec))
        return (sluice_schema_t *)ap_fail(p, "decimal precision must be a number");
    sluice_schema_t *s = schema_new(p->o, SLUICE_TYPE_BYTES);
    if (!s || schema_set_name(s, SLUICE_LOGICAL_DECIMAL) != SLUICE_OK)
        return (sluice_schema_t *)ap_nomem(p);
    s->version = 1;
    snprintf(buf, sizeof buf, "%d", scale ? scale->valueint : 0);
    if (schema_set_param(s, "scale", buf) != SLUICE_OK)
        return (sluice_schema_t *)ap_nomem(p);
    if (prec && prec->valueint != AVRO_DECIMAL_PRECISION_DEFAULT) {
        snprintf(buf, sizeof buf, "%d", prec->valueint);
        if (schema_set_param(s, AVRO_PARAM_PRECISION, buf) != SLUICE_OK)
            return (sluice_schema_t *)ap_nomem(p);
    }
    return s;
}

static struct avro_node *ap_prim(ap_t *p, enum av_kind kind, const cJSON *obj)
{
    struct avro_node *n = ap_node(p, kind);
    sluice_schema_t *s = NULL;
    const char *logical = ap_str(obj, "logicalType");
    const char *ctype = ap_str(obj, "connect.type");
    const char *lname = NULL;
    sluice_type_t t = SLUICE_TYPE_NULL;
    if (!n)
        return ap_nomem(p);
    n->min_size = 1;
    switch (kind) {
    case AV_NULL:
        n->min_size = 0;
        n->zvals = 1;
        return n;
    case AV_BOOLEAN:
        t = SLUICE_TYPE_BOOLEAN;
        break;
    case AV_INT:
        t = SLUICE_TYPE_INT32;
        if (logical && strcmp(logical, "date") == 0)
            lname = SLUICE_LOGICAL_DATE;
        else if (logical && strcmp(logical, "time-millis") == 0)
            lname = SLUICE_LOGICAL_TIME;
        else if (!logical && ctype && strcmp(ctype, "int8") == 0)
            t = SLUICE_TYPE_INT8;
        else if (!logical && ctype && strcmp(ctype, "int16") == 0)
            t = SLUICE_TYPE_INT16;
        break;
    case AV_LONG:
        t = SLUICE_TYPE_INT64;
        if (logical && strcmp(logical, "timestamp-millis") == 0)
            lname = SLUICE_LOGICAL_TIMESTAMP;
        break;
    case AV_FLOAT:
        t = SLUICE_TYPE_FLOAT32;
        n->min_size = 4;
        break;
    case AV_DOUBLE:
        t = SLUICE_TYPE_FLOAT64;
        n->min_size = 8;
        break;
    case AV_BYTES:
        t = SLUICE_TYPE_BYTES;
        if (logical && strcmp(logical, "decimal") == 0 && !(s = ap_decimal(p, obj)))
            return NULL;
        break;
    case AV_STRING:
        t = SLUICE_TYPE_STRING;
        break;
    default:
        return ap_fail(p, "internal: not a primitive");
    }
    n->ctype = t;
    if (!s && !(s = schema_new(p->o, t)))
        return ap_nomem(p);
    if (lname) {
        if (schema_set_name(s, lname) != SLUICE_OK)
            return ap_nomem(p);
        s->version = 1;
    }
    n->schema = s;
    return ap_meta(p, n, s, obj);
}

/* Full name and namespace of a named type `obj` in enclosing namespace `ns` (arena strings). */
static int ap_fullname(ap_t *p, const cJSON *obj, const char *ns, const char **full,
                       const char **space)
{
    const char *name = ap_str(obj, "name");
    const char *nspace = ap_str(obj, "namespace");
    if (!name || !*name) {
        ap_fail(p, "a named Avro type (record, enum, fixed) has no \"name\"");
        return -1;
    }
    const char *dot = strrchr(name, '.');
    if (dot) {
        *full = arena_strdup(p->a, name);
        *space = arena_strndup(p->a, name, (size_t)(dot - name));
    } else {
        if (!nspace)
            nspace = ns;
        if (nspace && *nspace) {
            size_t l = strlen(nspace) + strlen(name) + 2;
            char *f = arena_alloc(p->a, l);
            if (f)
                snprintf(f, l, "%s.%s", nspace, name);
            *full = f;
            *space = arena_strdup(p->a, nspace);
        } else {
            *full = arena_strdup(p->a, name);
            *space = "";
        }
    }
    if (!*full || !*space) {
        ap_nomem(p);
        return -1;
    }
    /* as Avro's own parsers do: a name the writer could not write back is refused here */
    if (!aw_valid_fullname(*full)) {
        ap_fail(p, "'%s' is not a valid Avro name (dot-separated parts of letters, digits and _)",
                *full);
        return -1;
    }
    return 0;
}

static struct avro_node *ap_lookup(ap_t *p, const char *full)
{
    long i = ni_find(&p->named_index, full, ap_named_name, p->named);
    return i >= 0 ? p->named[i] : NULL;
}

static struct avro_node *ap_define(ap_t *p, struct avro_node *n, const char *full)
{
    if (ap_lookup(p, full))
        return ap_fail(p, "the Avro type '%s' is defined twice", full);
    if (p->nnamed == p->capnamed) {
        size_t cap = p->capnamed ? p->capnamed * 2 : 8;
        struct avro_node **nn = realloc(p->named, cap * sizeof *nn);
        if (!nn)
            return ap_nomem(p);
        p->named = nn;
        p->capnamed = cap;
    }
    n->fullname = full;
    p->named[p->nnamed] = n;
    if (ni_add(&p->named_index, p->nnamed, ap_named_name, p->named) != 0)
        return ap_nomem(p);
    p->nnamed++;
    return n;
}

/* A type given by name: a primitive or a named type defined before. */
static struct avro_node *ap_reference(ap_t *p, const char *name, const char *ns)
{
    enum av_kind k;
    struct avro_node *n = NULL;
    if (ap_prim_kind(name, &k) == 0)
        return ap_prim(p, k, NULL);
    if (!strchr(name, '.') && ns && *ns) {
        char full[512];
        snprintf(full, sizeof full, "%s.%s", ns, name);
        n = ap_lookup(p, full);
    }
    if (!n)
        n = ap_lookup(p, name);
    if (!n)
        return ap_fail(p, "unknown Avro type '%s'", name);
    if (!n->done)
        return ap_fail(p,
                       "the Avro type '%s' refers to itself: recursive schemas have no Kafka "
                       "Connect form",
                       n->fullname);
    return n;
}

static struct avro_node *ap_record(ap_t *p, const cJSON *obj, const char *ns, int depth)
{
    const char *full, *space;
    char pkey[300];
    const cJSON *fields = ap_get(obj, "fields");
    struct avro_node *n = ap_node(p, AV_RECORD);
    if (!n)
        return ap_nomem(p);
    if (ap_fullname(p, obj, ns, &full, &space) != 0 || !ap_define(p, n, full))
        return NULL;
    if (!cJSON_IsArray(fields))
        return ap_fail(p, "record '%s' has no \"fields\" array", full);
    size_t nf = (size_t)cJSON_GetArraySize(fields);
    sluice_schema_t *s = schema_struct(p->o, NULL);
    if (!s || (nf && !(n->kids = arena_alloc(p->a, nf * sizeof *n->kids))))
        return ap_nomem(p);
    n->ctype = SLUICE_TYPE_STRUCT;
    const char *doc = ap_str(obj, "doc");
    if (doc && schema_set_param(s, AVRO_PARAM_RECORD_DOC, doc) != SLUICE_OK)
        return ap_nomem(p);
    for (const cJSON *f = fields->child; f; f = f->next) {
        const char *fname = ap_str(f, "name");
        if (!fname)
            return ap_fail(p, "a field of record '%s' has no \"name\"", full);
        if (!aw_valid_name(fname, strlen(fname)))
            return ap_fail(p,
                           "field '%s' of record '%s' is not a valid Avro name (letters, digits "
                           "and _)",
                           fname, full);
        const cJSON *ft = ap_get(f, "type");
        if (!ft)
            return ap_fail(p, "field '%s' of record '%s' has no \"type\"", fname, full);
        struct avro_node *k = ap_type(p, ft, *space ? space : NULL, depth + 1);
        if (!k) {
            char what[300];
            snprintf(what, sizeof what, "field '%s'", fname);
            avro_prefix(p->err, p->errsz, what, ": ");
            return NULL;
        }
        if (!k->schema)
            return ap_fail(p,
                           "field '%s' of record '%s' has type null, which has no Kafka "
                           "Connect form",
                           fname, full);
        if (schema_append_field(s, fname, k->schema) != SLUICE_OK)
            return ap_nomem(p);
        const char *fdoc = ap_str(f, "doc");
        snprintf(pkey, sizeof pkey, "%s%s", AVRO_PARAM_FIELD_DOC, fname);
        if (fdoc && schema_set_param(s, pkey, fdoc) != SLUICE_OK)
            return ap_nomem(p);
        n->kids[n->nkids++] = k;
        n->min_size += k->min_size;
        if (k->min_size == 0) /* saturates: far beyond any budget either way */
            n->zvals = n->zvals + k->zvals < SIZE_MAX / 4 ? n->zvals + k->zvals : SIZE_MAX / 4;
    }
    n->zvals = n->min_size == 0 ? n->zvals + 1 : 0;
    /* repeats are looked for once, by sorting: a search per field is quadratic (#22) */
    const char *dup = schema_fields_repeat(s);
    if (dup)
        return ap_fail(p, "record '%s' has field '%s' twice", full, dup);
    const char *internal = ap_str(obj, "connect.internal.type");
    if (n->nkids == 2 && (strcmp(full, AVRO_CONNECT_NAMESPACE "." AVRO_MAP_ENTRY) == 0 ||
                          (internal && strcmp(internal, AVRO_MAP_ENTRY) == 0))) {
        if (strcmp(s->fields[0].name, "key") == 0 && strcmp(s->fields[1].name, "value") == 0)
            n->map_entry = n->key_first = 1;
        else if (strcmp(s->fields[1].name, "key") == 0 && strcmp(s->fields[0].name, "value") == 0)
            n->map_entry = 1;
    }
    if (!ap_is_default_name(full) && schema_set_name(s, full) != SLUICE_OK)
        return ap_nomem(p);
    n->schema = s;
    n->done = 1;
    return ap_meta(p, n, s, obj);
}

static int ap_strcmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static struct avro_node *ap_enum(ap_t *p, const cJSON *obj, const char *ns)
{
    const char *full, *space;
    const cJSON *syms = ap_get(obj, "symbols");
    struct avro_node *n = ap_node(p, AV_ENUM);
    char key[300];
    if (!n)
        return ap_nomem(p);
    if (ap_fullname(p, obj, ns, &full, &space) != 0 || !ap_define(p, n, full))
        return NULL;
    if (!cJSON_IsArray(syms) || cJSON_GetArraySize(syms) == 0)
        return ap_fail(p, "enum '%s' has no \"symbols\"", full);
    size_t ns_ = (size_t)cJSON_GetArraySize(syms);
    sluice_schema_t *s = schema_new(p->o, SLUICE_TYPE_STRING);
    n->symbols = arena_alloc(p->a, ns_ * sizeof *n->symbols);
    n->symlens = arena_alloc(p->a, ns_ * sizeof *n->symlens);
    if (!s || !n->symbols || !n->symlens || schema_set_name(s, full) != SLUICE_OK ||
        schema_set_param(s, AVRO_CONNECT_ENUM, full) != SLUICE_OK)
        return ap_nomem(p);
    for (const cJSON *e = syms->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return ap_fail(p, "enum '%s' has a symbol that is not a string", full);
        if (!(n->symbols[n->nsymbols] = arena_strdup(p->a, e->valuestring)))
            return ap_nomem(p);
        n->symlens[n->nsymbols++] = strlen(e->valuestring);
    }
    /* Symbols must differ (as Avro says): checked once by sorting, so that their parameters are
     * appended without a search each (quadratic in the symbols, issue #22). */
    const char **sorted = malloc(ns_ * sizeof *sorted);
    if (!sorted)
        return ap_nomem(p);
    memcpy(sorted, n->symbols, ns_ * sizeof *sorted);
    qsort(sorted, ns_, sizeof *sorted, ap_strcmp);
    for (size_t i = 1; i < ns_; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            ap_fail(p, "enum '%s' has symbol '%s' twice", full, sorted[i]);
            free(sorted);
            return NULL;
        }
    free(sorted);
    for (size_t i = 0; i < ns_; i++) {
        snprintf(key, sizeof key, "%s.%s", AVRO_CONNECT_ENUM, n->symbols[i]);
        if (schema_append_param(s, key, n->symbols[i]) != SLUICE_OK)
            return ap_nomem(p);
    }
    n->ctype = SLUICE_TYPE_STRING;
    n->min_size = 1;
    n->schema = s;
    n->done = 1;
    return ap_meta(p, n, s, obj);
}

static struct avro_node *ap_fixed(ap_t *p, const cJSON *obj, const char *ns)
{
    const char *full, *space;
    const cJSON *size = ap_get(obj, "size");
    struct avro_node *n = ap_node(p, AV_FIXED);
    sluice_schema_t *s = NULL;
    const char *logical = ap_str(obj, "logicalType");
    if (!n)
        return ap_nomem(p);
    if (ap_fullname(p, obj, ns, &full, &space) != 0 || !ap_define(p, n, full))
        return NULL;
    if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > (1 << 30))
        return ap_fail(p, "fixed '%s' needs a \"size\"", full);
    n->fixed_size = (size_t)size->valuedouble;
    if (logical && strcmp(logical, "decimal") == 0) {
        if (!(s = ap_decimal(p, obj)))
            return NULL;
    } else if (!(s = schema_new(p->o, SLUICE_TYPE_BYTES))) {
        return ap_nomem(p);
    }
    n->ctype = SLUICE_TYPE_BYTES;
    n->min_size = n->fixed_size;
    n->schema = s;
    n->done = 1;
    return ap_meta(p, n, s, obj);
}

static struct avro_node *ap_array(ap_t *p, const cJSON *obj, const char *ns, int depth)
{
    const cJSON *items = ap_get(obj, "items");
    struct avro_node *n = ap_node(p, AV_ARRAY);
    sluice_schema_t *s;
    if (!n)
        return ap_nomem(p);
    if (!items)
        return ap_fail(p, "array schema without \"items\"");
    struct avro_node *k = ap_type(p, items, ns, depth + 1);
    if (!k)
        return NULL;
    if (!k->schema)
        return ap_fail(p, "an array of null has no Kafka Connect form");
    if (!(n->kids = arena_alloc(p->a, sizeof *n->kids)))
        return ap_nomem(p);
    n->kids[0] = k;
    n->nkids = 1;
    n->min_size = 1;
    if (k->kind == AV_RECORD && k->map_entry) {
        n->map_entry = 1;
        const sluice_schema_t *ks = k->schema->fields[k->key_first ? 0 : 1].schema;
        const sluice_schema_t *vs = k->schema->fields[k->key_first ? 1 : 0].schema;
        s = schema_map(p->o, ks, vs);
        n->ctype = SLUICE_TYPE_MAP;
    } else {
        s = schema_array(p->o, k->schema);
        n->ctype = SLUICE_TYPE_ARRAY;
    }
    if (!s)
        return ap_nomem(p);
    n->schema = s;
    return ap_meta(p, n, s, obj);
}

static struct avro_node *ap_map(ap_t *p, const cJSON *obj, const char *ns, int depth)
{
    const cJSON *values = ap_get(obj, "values");
    struct avro_node *n = ap_node(p, AV_MAP);
    if (!n)
        return ap_nomem(p);
    if (!values)
        return ap_fail(p, "map schema without \"values\"");
    struct avro_node *k = ap_type(p, values, ns, depth + 1);
    if (!k)
        return NULL;
    if (!k->schema)
        return ap_fail(p, "a map of null has no Kafka Connect form");
    sluice_schema_t *ks = schema_new(p->o, SLUICE_TYPE_STRING);
    sluice_schema_t *s = ks ? schema_map(p->o, ks, k->schema) : NULL;
    if (!s || !(n->kids = arena_alloc(p->a, sizeof *n->kids)))
        return ap_nomem(p);
    n->kids[0] = k;
    n->nkids = 1;
    n->min_size = 1;
    n->ctype = SLUICE_TYPE_MAP;
    n->schema = s;
    return ap_meta(p, n, s, obj);
}

/* The Connect Union field name of a branch, as AvroData names it. */
static const char *ap_branch_name(const struct avro_node *k, const cJSON *j)
{
    switch (k->kind) {
    case AV_RECORD:
    case AV_ENUM: {
        const char *dot = strrchr(k->fullname, '.');
        return dot ? dot + 1 : k->fullname;
    }
    case AV_BOOLEAN:
        return "boolean";
    case AV_INT:
        return "int";
    case AV_LONG:
        return "long";
    case AV_FLOAT:
        return "float";
    case AV_DOUBLE:
        return "double";
    case AV_BYTES:
        return "bytes";
    case AV_STRING:
        return "string";
    case AV_ARRAY:
        return "array";
    case AV_MAP:
        return "map";
    case AV_FIXED:
        return "fixed";
    default:
        (void)j;
        return "null";
    }
}

static struct avro_node *ap_union(ap_t *p, const cJSON *j, const char *ns, int depth)
{
    size_t nb = (size_t)cJSON_GetArraySize(j);
    struct avro_node *n = ap_node(p, AV_UNION);
    if (!n)
        return ap_nomem(p);
    if (nb == 0)
        return ap_fail(p, "an empty union has no values");
    if (!(n->kids = arena_alloc(p->a, nb * sizeof *n->kids)))
        return ap_nomem(p);
    for (const cJSON *b = j->child; b; b = b->next) {
        if (cJSON_IsArray(b))
            return ap_fail(p, "a union may not contain a union");
        struct avro_node *k = ap_type(p, b, ns, depth + 1);
        if (!k)
            return NULL;
        if (k->kind == AV_NULL) {
            if (n->null_branch >= 0)
                return ap_fail(p, "a union has null twice");
            n->null_branch = (int)n->nkids;
        }
        n->kids[n->nkids++] = k;
    }
    n->min_size = 1;
    if (nb == 1 && n->null_branch == 0)
        return ap_fail(p, "a union of only null has no Kafka Connect form");
    if (nb == 2 && n->null_branch >= 0) {
        const struct avro_node *k = n->kids[1 - n->null_branch];
        n->optional_union = 1;
        n->ctype = k->ctype;
        if (!(n->schema = ap_optional(p, k->schema)))
            return ap_nomem(p);
        return n;
    }
    sluice_schema_t *s = schema_struct(p->o, AVRO_CONNECT_UNION);
    if (!s)
        return ap_nomem(p);
    s->optional = n->null_branch >= 0;
    const cJSON *b = j->child;
    for (size_t i = 0; i < n->nkids; i++, b = b->next) {
        const struct avro_node *k = n->kids[i];
        if (k->kind == AV_NULL)
            continue;
        const char *fname = ap_branch_name(k, b);
        if (schema_field_index(s, fname) >= 0)
            return ap_fail(p, "two branches of a union are both '%s'", fname);
        const sluice_schema_t *fs = ap_optional(p, k->schema);
        if (!fs || schema_add_field(s, fname, fs) != SLUICE_OK)
            return ap_nomem(p);
    }
    n->ctype = SLUICE_TYPE_STRUCT;
    n->schema = s;
    return n;
}

static struct avro_node *ap_type_node(ap_t *p, const cJSON *j, const char *ns, int depth)
{
    if (depth > AVRO_MAX_DEPTH)
        return ap_fail(p, "schema nested deeper than %d levels", AVRO_MAX_DEPTH);
    if (cJSON_IsString(j))
        return ap_reference(p, j->valuestring, ns);
    if (cJSON_IsArray(j))
        return ap_union(p, j, ns, depth);
    if (!cJSON_IsObject(j))
        return ap_fail(p, "an Avro type must be a name, an object or an array (a union)");
    const cJSON *t = ap_get(j, "type");
    if (cJSON_IsObject(t) || cJSON_IsArray(t))
        return ap_type(p, t, ns, depth + 1);
    if (!cJSON_IsString(t))
        return ap_fail(p, "an Avro schema object has no \"type\"");
    const char *tn = t->valuestring;
    enum av_kind k;
    if (strcmp(tn, "record") == 0 || strcmp(tn, "error") == 0)
        return ap_record(p, j, ns, depth);
    if (strcmp(tn, "enum") == 0)
        return ap_enum(p, j, ns);
    if (strcmp(tn, "fixed") == 0)
        return ap_fixed(p, j, ns);
    if (strcmp(tn, "array") == 0)
        return ap_array(p, j, ns, depth);
    if (strcmp(tn, "map") == 0)
        return ap_map(p, j, ns, depth);
    if (ap_prim_kind(tn, &k) == 0)
        return ap_prim(p, k, j);
    return ap_reference(p, tn, ns);
}

/* A type, and the size of its Connect schema written out in full: a named type used twice in each
 * of a chain of records makes a tree that doubles with every link (the JSON envelope's schema form
 * has no references), so it is bounded. */
static struct avro_node *ap_type(ap_t *p, const cJSON *j, const char *ns, int depth)
{
    struct avro_node *n = ap_type_node(p, j, ns, depth);
    if (n && !n->expanded) {
        size_t e = 1;
        for (size_t i = 0; i < n->nkids; i++) {
            size_t k = n->kids[i]->expanded ? n->kids[i]->expanded : 1;
            e = k <= AVRO_MAX_SCHEMA_NODES - e ? e + k : AVRO_MAX_SCHEMA_NODES + 1;
            if (e > AVRO_MAX_SCHEMA_NODES)
                break;
        }
        n->expanded = e;
        if (e > AVRO_MAX_SCHEMA_NODES)
            return ap_fail(p,
                           "the schema has more than %u types written out in full (named types "
                           "used many times)",
                           AVRO_MAX_SCHEMA_NODES);
    }
    return n;
}

sluice_err_t avro_reader_parse(avro_reader_t *r, schema_owner_t *o, arena_t *nodes,
                               const char *text, size_t len, char *errstr, size_t errstr_size)
{
    /* Build into a private owner: on error everything made so far is freed at once. */
    schema_owner_t tmp;
    schema_owner_init(&tmp);
    ap_t p = {.o = &tmp, .a = nodes, .err = errstr, .errsz = errstr_size};
    sluice_err_t rc = SLUICE_ERR_INVALID;
    cJSON *j = cJSON_ParseWithLength(text, len);
    r->root = NULL;
    r->schema = NULL;
    if (!j) {
        avro_fail(errstr, errstr_size, "the Avro schema is not valid JSON");
        goto out;
    }
    struct avro_node *root = ap_type(&p, j, NULL, 0);
    if (!root)
        goto out;
    if (!root->schema) {
        avro_fail(errstr, errstr_size, "a schema of only null has no Kafka Connect form");
        goto out;
    }
    r->root = root;
    r->schema = root->schema;
    if (tmp.head) { /* hand the schemas to the caller's owner */
        struct sluice_schema *tail = tmp.head;
        while (tail->owned_next)
            tail = tail->owned_next;
        tail->owned_next = o->head;
        o->head = tmp.head;
        tmp.head = NULL;
    }
    rc = SLUICE_OK;
out:
    schema_owner_free(&tmp);
    free(p.named);
    free(p.named_index.slots);
    cJSON_Delete(j);
    return rc;
}

/* ================================================================================================
 * Decoding: Avro binary → sluice values in the arena
 */

typedef struct ar {
    const unsigned char *p, *start, *end;
    arena_t *a;
    char *err;
    size_t errsz;
    size_t zero_budget; /* values that may still be made from no bytes (AVRO_ZERO_VALUES) */
    int in_zero;        /* inside a record of no bytes, charged as a whole */
} ar_t;

static sluice_err_t ar_short(ar_t *r)
{
    return avro_fail(r->err, r->errsz, "the Avro data ends early (byte %zu of %zu)",
                     (size_t)(r->p - r->start), (size_t)(r->end - r->start));
}

static sluice_err_t ar_nomem(ar_t *r)
{
    snprintf(r->err, r->errsz, "out of memory while decoding an Avro value");
    return SLUICE_ERR_NOMEM;
}

static inline sluice_err_t ar_long(ar_t *r, int64_t *out)
{
    uint64_t v = 0;
    *out = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return ar_short(r);
        unsigned char b = *r->p++;
        if (shift == 63 && (b & 0x7e))
            break; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return SLUICE_OK;
        }
    }
    return avro_fail(r->err, r->errsz, "invalid Avro varint at byte %zu (longer than 64 bits)",
                     (size_t)(r->p - r->start));
}

/* A length (of bytes, a string, a fixed, a block) that must fit in what is left. */
static sluice_err_t ar_len(ar_t *r, size_t *len)
{
    int64_t n = 0;
    sluice_err_t rc;
    size_t at = (size_t)(r->p - r->start);
    if ((rc = ar_long(r, &n)) != SLUICE_OK)
        return rc;
    if (n < 0)
        return avro_fail(r->err, r->errsz, "negative Avro length %lld at byte %zu", (long long)n,
                         at);
    if ((uint64_t)n > (uint64_t)(r->end - r->p))
        return avro_fail(r->err, r->errsz,
                         "Avro length %lld at byte %zu is beyond the end of the data (%zu bytes "
                         "left)",
                         (long long)n, at, (size_t)(r->end - r->p));
    *len = (size_t)n;
    return SLUICE_OK;
}

/* The item count of the next array/map block (0: the end), checked against the bytes left, or for
 * items of no bytes (`zvals` values each) against the datum's budget. */
static sluice_err_t ar_block(ar_t *r, size_t min_item, size_t zvals, size_t *count)
{
    int64_t n = 0;
    sluice_err_t rc;
    size_t at = (size_t)(r->p - r->start);
    if ((rc = ar_long(r, &n)) != SLUICE_OK)
        return rc;
    if (n < 0) { /* a negative count is followed by the block's size in bytes */
        int64_t size = 0;
        if (n == INT64_MIN)
            return avro_fail(r->err, r->errsz, "invalid Avro block count at byte %zu", at);
        n = -n;
        if ((rc = ar_long(r, &size)) != SLUICE_OK)
            return rc;
        if (size < 0 || (uint64_t)size > (uint64_t)(r->end - r->p))
            return avro_fail(r->err, r->errsz, "Avro block size at byte %zu is beyond the data",
                             at);
    }
    if (min_item && (uint64_t)n > (uint64_t)(r->end - r->p) / min_item)
        return avro_fail(r->err, r->errsz,
                         "Avro block of %lld items at byte %zu is larger than the data left",
                         (long long)n, at);
    /* items of no bytes: checked here, charged as each is read (ar_value, AV_RECORD) */
    if (!min_item && (!zvals || (uint64_t)n > r->zero_budget / zvals))
        return avro_fail(r->err, r->errsz,
                         "Avro block of %lld items at byte %zu is larger than the data left "
                         "allows for items that take no bytes (at most %u values of no bytes per "
                         "datum)",
                         (long long)n, at, AVRO_ZERO_VALUES);
    *count = (size_t)n;
    return SLUICE_OK;
}

static sluice_err_t ar_value(ar_t *r, const struct avro_node *n, const sluice_schema_t *s,
                             sluice_value_t **out);

/* Union: the branch index. */
static sluice_err_t ar_branch(ar_t *r, const struct avro_node *n, size_t *idx)
{
    int64_t i = 0;
    sluice_err_t rc;
    size_t at = (size_t)(r->p - r->start);
    *idx = 0;
    if ((rc = ar_long(r, &i)) != SLUICE_OK)
        return rc;
    if (i < 0 || (uint64_t)i >= n->nkids)
        return avro_fail(r->err, r->errsz,
                         "union branch %lld at byte %zu does not exist (the union has %zu)",
                         (long long)i, at, n->nkids);
    *idx = (size_t)i;
    return SLUICE_OK;
}

static sluice_err_t ar_map_entries(ar_t *r, const struct avro_node *n, const sluice_schema_t *s,
                                   sluice_value_t *v)
{
    const struct avro_node *entry = n->kids[0];
    const struct avro_node *kn = entry->kids[entry->key_first ? 0 : 1];
    const struct avro_node *vn = entry->kids[entry->key_first ? 1 : 0];
    sluice_err_t rc;
    for (;;) {
        size_t count;
        if ((rc = ar_block(r, entry->min_size, entry->zvals, &count)) != SLUICE_OK)
            return rc;
        if (!count)
            return SLUICE_OK;
        size_t need = v->u.m.len + count;
        if (need > v->u.m.cap) { /* geometric: many small blocks must not copy quadratically */
            size_t cap = need > 2 * v->u.m.cap ? need : 2 * v->u.m.cap;
            struct value_kv *items =
                arena_grow(r->a, v->u.m.items, v->u.m.cap * sizeof *items, cap * sizeof *items);
            if (!items)
                return ar_nomem(r);
            v->u.m.items = items;
            v->u.m.cap = cap;
        }
        for (size_t i = 0; i < count; i++) {
            sluice_value_t *first, *second, *k, *val;
            const struct avro_node *fn = entry->key_first ? kn : vn;
            const struct avro_node *sn = entry->key_first ? vn : kn;
            if ((rc = ar_value(r, fn, fn->schema, &first)) != SLUICE_OK ||
                (rc = ar_value(r, sn, sn->schema, &second)) != SLUICE_OK)
                return rc;
            k = entry->key_first ? first : second;
            val = entry->key_first ? second : first;
            struct value_kv *kv = &v->u.m.items[v->u.m.len++];
            kv->key = k;
            kv->value = val;
            kv->name = NULL;
            if (k->type == SLUICE_TYPE_STRING) { /* `name` must be a C string */
                char *t = arena_strndup(r->a, k->u.s.ptr, k->u.s.len);
                if (!t)
                    return ar_nomem(r);
                k->u.s.ptr = t;
                kv->name = t;
            }
        }
    }
    (void)s;
}

static sluice_err_t ar_value(ar_t *r, const struct avro_node *n, const sluice_schema_t *s,
                             sluice_value_t **out)
{
    sluice_err_t rc;
    sluice_value_t *v = NULL;
    int64_t i = 0;
    size_t len = 0, at = (size_t)(r->p - r->start);
    switch (n->kind) {
    case AV_NULL:
        if (!(*out = value_null(r->a)))
            return ar_nomem(r);
        return SLUICE_OK;
    case AV_BOOLEAN:
        if (r->p >= r->end)
            return ar_short(r);
        if (*r->p > 1)
            return avro_fail(r->err, r->errsz, "invalid Avro boolean byte 0x%02x at byte %zu",
                             *r->p, at);
        v = value_bool(r->a, *r->p++);
        break;
    case AV_INT:
        if ((rc = ar_long(r, &i)) != SLUICE_OK)
            return rc;
        if (i < INT32_MIN || i > INT32_MAX ||
            (n->ctype == SLUICE_TYPE_INT8 && (i < INT8_MIN || i > INT8_MAX)) ||
            (n->ctype == SLUICE_TYPE_INT16 && (i < INT16_MIN || i > INT16_MAX)))
            return avro_fail(r->err, r->errsz, "Avro int %lld at byte %zu does not fit %s",
                             (long long)i, at, schema_type_name(n->ctype));
        v = value_int(r->a, n->ctype, i);
        break;
    case AV_LONG:
        if ((rc = ar_long(r, &i)) != SLUICE_OK)
            return rc;
        v = value_int(r->a, SLUICE_TYPE_INT64, i);
        break;
    case AV_FLOAT: {
        if (r->end - r->p < 4)
            return ar_short(r);
        uint32_t bits = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                        (uint32_t)r->p[3] << 24;
        float f;
        memcpy(&f, &bits, sizeof f);
        r->p += 4;
        v = value_float(r->a, SLUICE_TYPE_FLOAT32, f);
        break;
    }
    case AV_DOUBLE: {
        if (r->end - r->p < 8)
            return ar_short(r);
        uint64_t bits = 0;
        for (int k = 7; k >= 0; k--)
            bits = bits << 8 | r->p[k];
        double d;
        memcpy(&d, &bits, sizeof d);
        r->p += 8;
        v = value_float(r->a, SLUICE_TYPE_FLOAT64, d);
        break;
    }
    case AV_BYTES:
    case AV_STRING:
        if ((rc = ar_len(r, &len)) != SLUICE_OK)
            return rc;
        v = n->kind == AV_STRING ? value_string_ref(r->a, (const char *)r->p, len)
                                 : value_bytes_ref(r->a, r->p, len);
        r->p += len;
        break;
    case AV_FIXED:
        if ((size_t)(r->end - r->p) < n->fixed_size)
            return ar_short(r);
        v = value_bytes_ref(r->a, r->p, n->fixed_size);
        r->p += n->fixed_size;
        break;
    case AV_ENUM:
        if ((rc = ar_long(r, &i)) != SLUICE_OK)
            return rc;
        if (i < 0 || (uint64_t)i >= n->nsymbols)
            return avro_fail(r->err, r->errsz,
                             "enum index %lld at byte %zu is out of range (%zu symbols)",
                             (long long)i, at, n->nsymbols);
        v = value_string_ref(r->a, n->symbols[i], n->symlens[i]);
        break;
    case AV_RECORD: {
        /* a record of no bytes (empty records, nested) is charged to the budget as a whole */
        int charge = n->min_size == 0 && !r->in_zero;
        if (charge) {
            if (n->zvals > r->zero_budget)
                return avro_fail(r->err, r->errsz,
                                 "the record at byte %zu takes no bytes but makes more values "
                                 "than a datum may make from no bytes (%u)",
                                 at, AVRO_ZERO_VALUES);
            r->zero_budget -= n->zvals;
            r->in_zero = 1;
        }
        if (!(v = value_struct_empty(r->a, s)))
            return ar_nomem(r);
        for (size_t k = 0; k < n->nkids; k++)
            if ((rc = ar_value(r, n->kids[k], n->kids[k]->schema, &v->u.m.items[k].value)) !=
                SLUICE_OK)
                return rc;
        if (charge)
            r->in_zero = 0;
        break;
    }
    case AV_ARRAY:
        if (n->map_entry) {
            if (!(v = value_map(r->a, s)))
                return ar_nomem(r);
            if ((rc = ar_map_entries(r, n, s, v)) != SLUICE_OK)
                return rc;
            break;
        }
        if (!(v = value_array(r->a, s)))
            return ar_nomem(r);
        for (;;) {
            size_t count;
            const struct avro_node *k = n->kids[0];
            if ((rc = ar_block(r, k->min_size, k->zvals, &count)) != SLUICE_OK)
                return rc;
            if (!count)
                break;
            size_t need = v->u.a.len + count;
            if (need > v->u.a.cap) { /* geometric: many small blocks must not copy quadratically */
                size_t cap = need > 2 * v->u.a.cap ? need : 2 * v->u.a.cap;
                sluice_value_t **items =
                    arena_grow(r->a, v->u.a.items, v->u.a.cap * sizeof *items, cap * sizeof *items);
                if (!items)
                    return ar_nomem(r);
                v->u.a.items = items;
                v->u.a.cap = cap;
            }
            for (size_t j = 0; j < count; j++)
                if ((rc = ar_value(r, k, k->schema, &v->u.a.items[v->u.a.len++])) != SLUICE_OK)
                    return rc;
        }
        break;
    case AV_MAP:
        if (!(v = value_map(r->a, s)))
            return ar_nomem(r);
        for (;;) {
            size_t count;
            const struct avro_node *k = n->kids[0];
            if ((rc = ar_block(r, 1 + k->min_size, 0, &count)) != SLUICE_OK)
                return rc;
            if (!count)
                break;
            for (size_t j = 0; j < count; j++) {
                sluice_value_t *key, *val;
                if ((rc = ar_len(r, &len)) != SLUICE_OK)
                    return rc;
                /* map keys are copied: `name` must be a C string */
                if (!(key = value_string(r->a, (const char *)r->p, len)))
                    return ar_nomem(r);
                key->schema = s->keys;
                r->p += len;
                if ((rc = ar_value(r, k, k->schema, &val)) != SLUICE_OK)
                    return rc;
                if (value_map_put_string(r->a, v, key, val, 0) != SLUICE_OK)
                    return ar_nomem(r);
            }
        }
        break;
    case AV_UNION: {
        size_t b = 0;
        if ((rc = ar_branch(r, n, &b)) != SLUICE_OK)
            return rc;
        if ((int)b == n->null_branch) {
            if (!(*out = value_null(r->a)))
                return ar_nomem(r);
            return SLUICE_OK;
        }
        if (n->optional_union)
            return ar_value(r, n->kids[b], s, out);
        size_t field = b - (n->null_branch >= 0 && (int)b > n->null_branch ? 1 : 0);
        if (!(v = value_struct_empty(r->a, s)))
            return ar_nomem(r);
        for (size_t k = 0; k < v->u.m.len; k++)
            if (k != field && !(v->u.m.items[k].value = value_null(r->a)))
                return ar_nomem(r);
        if ((rc = ar_value(r, n->kids[b], s->fields[field].schema, &v->u.m.items[field].value)) !=
            SLUICE_OK)
            return rc;
        break;
    }
    }
    if (!v)
        return ar_nomem(r);
    v->schema = s;
    *out = v;
    return SLUICE_OK;
}

sluice_err_t avro_read_datum(const avro_reader_t *rd, arena_t *a, const void *data, size_t len,
                             sluice_value_t **out, char *errstr, size_t errstr_size)
{
    ar_t r = {.p = data,
              .start = data,
              .end = (const unsigned char *)data + len,
              .a = a,
              .err = errstr,
              .errsz = errstr_size,
              .zero_budget = AVRO_ZERO_VALUES};
    *out = NULL;
    sluice_err_t rc = ar_value(&r, rd->root, rd->schema, out);
    if (rc != SLUICE_OK) {
        *out = NULL;
        return rc;
    }
    if (r.p != r.end) {
        *out = NULL;
        return avro_fail(errstr, errstr_size,
                         "%zu bytes are left over after the Avro value (%zu bytes read): the data "
                         "does not match its schema",
                         (size_t)(r.end - r.p), (size_t)(r.p - r.start));
    }
    return SLUICE_OK;
}
