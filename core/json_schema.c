/* json_schema.c — see json.h: schemas in Kafka Connect's JSON form, written and read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

/* ================================================================================================
 */
/* Schemas in Kafka Connect's JSON form */

static int jws(buf_t *b, const sluice_schema_t *s, int depth)
{
    int rc = 0;
    if (!s || depth > JSON_MAX_DEPTH)
        return -1;
    const char *tn = schema_type_name(s->type);
    rc |= jw_lit(b, "{\"type\":\"");
    rc |= jw_raw(b, tn, strlen(tn));
    rc |= jw_c(b, '"');
    switch (s->type) {
    case SLUICE_TYPE_STRUCT:
        rc |= jw_lit(b, ",\"fields\":[");
        for (size_t i = 0; i < s->nfields && !rc; i++) {
            if (i)
                rc |= jw_c(b, ',');
            /* a field is its schema object with "field" added last, as Connect writes it */
            if (jws(b, s->fields[i].schema, depth + 1) != 0)
                return -1;
            b->len--; /* drop the closing brace */
            rc |= jw_lit(b, ",\"field\":");
            rc |= json_write_string(b, s->fields[i].name, strlen(s->fields[i].name));
            rc |= jw_c(b, '}');
        }
        rc |= jw_c(b, ']');
        break;
    case SLUICE_TYPE_ARRAY:
        rc |= jw_lit(b, ",\"items\":");
        rc |= jws(b, s->items, depth + 1);
        break;
    case SLUICE_TYPE_MAP:
        rc |= jw_lit(b, ",\"keys\":");
        rc |= jws(b, s->keys, depth + 1);
        rc |= jw_lit(b, ",\"values\":");
        rc |= jws(b, s->values, depth + 1);
        break;
    default:
        break;
    }
    if (s->optional)
        rc |= jw_lit(b, ",\"optional\":true");
    else
        rc |= jw_lit(b, ",\"optional\":false");
    if (s->name) {
        rc |= jw_lit(b, ",\"name\":");
        rc |= json_write_string(b, s->name, strlen(s->name));
    }
    if (s->version) {
        rc |= jw_lit(b, ",\"version\":");
        rc |= jw_int(b, s->version);
    }
    if (s->doc) {
        rc |= jw_lit(b, ",\"doc\":");
        rc |= json_write_string(b, s->doc, strlen(s->doc));
    }
    if (s->nparams) {
        rc |= jw_lit(b, ",\"parameters\":{");
        for (size_t i = 0; i < s->nparams; i++) {
            if (i)
                rc |= jw_c(b, ',');
            rc |= json_write_string(b, s->params[i].key, strlen(s->params[i].key));
            rc |= jw_c(b, ':');
            rc |= json_write_string(b, s->params[i].value, strlen(s->params[i].value));
        }
        rc |= jw_c(b, '}');
    }
    rc |= jw_c(b, '}');
    return rc ? -1 : 0;
}

sluice_err_t json_write_schema(buf_t *out, const sluice_schema_t *schema)
{
    size_t mark = out->len;
    sluice_err_t rc = SLUICE_OK;
    if (!schema)
        rc = jw_lit(out, "null") ? SLUICE_ERR_NOMEM : SLUICE_OK;
    else if (jws(out, schema, 0) != 0)
        rc = SLUICE_ERR_NOMEM;
    if (rc != SLUICE_OK)
        out->len = mark;
    jw_terminate(out);
    return rc;
}

typedef struct js {
    schema_owner_t *o;
    char *err;
    size_t errsz;
} js_t;

SLUICE_PRINTF(2, 3)
static sluice_schema_t *js_fail(js_t *j, const char *fmt, ...)
{
    if (j->err && j->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err, j->errsz, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static const sluice_value_t *js_get(const sluice_value_t *v, const char *key)
{
    const sluice_value_t *f = value_get(v, key);
    return f && f->type != SLUICE_TYPE_NULL ? f : NULL;
}

static int js_type(const char *t, size_t n, sluice_type_t *out)
{
    static const struct {
        const char *name;
        sluice_type_t type;
    } names[] = {
        {"int8", SLUICE_TYPE_INT8},       {"int16", SLUICE_TYPE_INT16},
        {"int32", SLUICE_TYPE_INT32},     {"int64", SLUICE_TYPE_INT64},
        {"float", SLUICE_TYPE_FLOAT32},   {"float32", SLUICE_TYPE_FLOAT32},
        {"double", SLUICE_TYPE_FLOAT64},  {"float64", SLUICE_TYPE_FLOAT64},
        {"boolean", SLUICE_TYPE_BOOLEAN}, {"string", SLUICE_TYPE_STRING},
        {"bytes", SLUICE_TYPE_BYTES},     {"array", SLUICE_TYPE_ARRAY},
        {"map", SLUICE_TYPE_MAP},         {"struct", SLUICE_TYPE_STRUCT},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, t, n) == 0) {
            *out = names[i].type;
            return 0;
        }
    return -1;
}

static sluice_schema_t *js_build(js_t *j, const sluice_value_t *v, int depth)
{
    sluice_schema_t *s = NULL;
    sluice_type_t type;
    if (depth > JSON_MAX_DEPTH)
        return js_fail(j, "schema nested deeper than %d levels", JSON_MAX_DEPTH);
    if (!v || v->type != SLUICE_TYPE_MAP)
        return js_fail(j, "a schema must be a JSON object, found %s", v ? jc_found(v) : "nothing");
    const sluice_value_t *t = js_get(v, "type");
    if (!t || t->type != SLUICE_TYPE_STRING)
        return js_fail(j, "schema has no \"type\" (a string such as \"int32\" or \"struct\")");
    if (js_type(t->u.s.ptr, t->u.s.len, &type) != 0)
        return js_fail(j, "unknown schema type \"%.*s\"", (int)t->u.s.len, t->u.s.ptr);
    if (!(s = schema_new(j->o, type)))
        return js_fail(j, "out of memory");
    const sluice_value_t *f;
    if ((f = js_get(v, "optional"))) {
        if (f->type != SLUICE_TYPE_BOOLEAN)
            return js_fail(j, "schema \"optional\" must be a boolean");
        s->optional = f->u.b;
    }
    if ((f = js_get(v, "name"))) {
        if (f->type != SLUICE_TYPE_STRING)
            return js_fail(j, "schema \"name\" must be a string");
        if (schema_set_name(s, f->u.s.ptr) != SLUICE_OK)
            return js_fail(j, "out of memory");
    }
    if ((f = js_get(v, "doc"))) {
        if (f->type != SLUICE_TYPE_STRING)
            return js_fail(j, "schema \"doc\" must be a string");
        if (schema_set_doc(s, f->u.s.ptr) != SLUICE_OK)
            return js_fail(j, "out of memory");
    }
    if ((f = js_get(v, "version"))) {
        if (f->type != SLUICE_TYPE_INT64 || f->u.i < INT32_MIN || f->u.i > INT32_MAX)
            return js_fail(j, "schema \"version\" must be an integer");
        s->version = (int32_t)f->u.i;
    }
    if ((f = js_get(v, "parameters"))) {
        if (f->type != SLUICE_TYPE_MAP)
            return js_fail(j, "schema \"parameters\" must be an object");
        /* parameters are looked up by a search (Decimal's scale, for every value): bounded */
        size_t max = schema_is_logical(s, SLUICE_LOGICAL_DECIMAL) ? JSON_DECIMAL_MAX_PARAMS
                                                                  : JSON_SCHEMA_MAX_PARAMS;
        if (f->u.m.len > max)
            return js_fail(j, "schema \"parameters\" has %zu entries (at most %zu)", f->u.m.len,
                           max);
        for (size_t i = 0; i < f->u.m.len; i++) {
            const sluice_value_t *pv = f->u.m.items[i].value;
            if (pv->type != SLUICE_TYPE_STRING)
                return js_fail(j, "schema parameter \"%s\" must be a string", f->u.m.items[i].name);
            /* the keys of a parsed object differ: no search for each */
            if (schema_append_param(s, f->u.m.items[i].name, pv->u.s.ptr) != SLUICE_OK)
                return js_fail(j, "out of memory");
        }
    }
    switch (type) {
    case SLUICE_TYPE_STRUCT:
        f = js_get(v, "fields");
        if (!f || f->type != SLUICE_TYPE_ARRAY)
            return js_fail(j, "struct schema's \"fields\" must be an array");
        for (size_t i = 0; i < f->u.a.len; i++) {
            const sluice_value_t *fo = f->u.a.items[i];
            const sluice_value_t *name = fo->type == SLUICE_TYPE_MAP ? js_get(fo, "field") : NULL;
            if (!name || name->type != SLUICE_TYPE_STRING)
                return js_fail(j, "struct field %zu has no \"field\" name", i);
            const sluice_schema_t *fs = js_build(j, fo, depth + 1);
            if (!fs) {
                if (j->err && j->errsz) {
                    char inner[400];
                    snprintf(inner, sizeof inner, "%s", j->err);
                    js_fail(j, "field \"%s\": %s", name->u.s.ptr, inner);
                }
                return NULL;
            }
            if (schema_append_field(s, name->u.s.ptr, fs) != SLUICE_OK)
                return js_fail(j, "out of memory");
        }
        /* repeats are looked for once, by sorting: a search per field is quadratic (#22) */
        const char *dup = schema_fields_repeat(s);
        if (dup)
            return js_fail(j, "struct schema has field \"%s\" twice", dup);
        break;
    case SLUICE_TYPE_ARRAY:
        if (!(f = js_get(v, "items")))
            return js_fail(j, "array schema has no \"items\" schema");
        if (!(s->items = js_build(j, f, depth + 1)))
            return NULL;
        break;
    case SLUICE_TYPE_MAP:
        if (!(f = js_get(v, "keys")) || !js_get(v, "values"))
            return js_fail(j, "map schema needs \"keys\" and \"values\" schemas");
        if (!(s->keys = js_build(j, f, depth + 1)))
            return NULL;
        if (!(s->values = js_build(j, js_get(v, "values"), depth + 1)))
            return NULL;
        break;
    default:
        break;
    }
    return s;
}

/* The same from a parsed value (an object). */
static sluice_schema_t *json_schema_from_value(schema_owner_t *o, const sluice_value_t *v,
                                               char *errstr, size_t errstr_size)
{
    /* Build into a private owner: on error everything made so far is freed at once. */
    schema_owner_t tmp;
    schema_owner_init(&tmp);
    js_t j = {.o = &tmp, .err = errstr, .errsz = errstr_size};
    if (errstr && errstr_size)
        errstr[0] = '\0';
    sluice_schema_t *s = js_build(&j, v, 0);
    if (!s) {
        schema_owner_free(&tmp);
        return NULL;
    }
    struct sluice_schema *tail = tmp.head;
    while (tail->owned_next)
        tail = tail->owned_next;
    tail->owned_next = o->head;
    o->head = tmp.head;
    return s;
}

sluice_schema_t *json_parse_schema(schema_owner_t *o, const char *text, size_t len, char *errstr,
                                   size_t errstr_size)
{
    arena_t a;
    sluice_value_t *v = NULL;
    sluice_schema_t *s = NULL;
    arena_init(&a, 4096);
    if (json_parse(&a, text, len, &v, errstr, errstr_size) != SLUICE_OK)
        goto out;
    s = json_schema_from_value(o, v, errstr, errstr_size);
out:
    arena_free(&a);
    return s;
}
