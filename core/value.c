/* value.c — see value.h. */
#include "value.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* -- schemas ------------------------------------------------------------------------------------
 */

/* Serials handed to new schemas (0 is never one) and the epoch of changes to published schemas:
 * process-wide, as schemas pass between plugins and pipelines. */
static atomic_uint_fast64_t schema_serials;
static atomic_uint_fast64_t schema_epoch_now;

static uint64_t schema_next_serial(void)
{
    return (uint64_t)atomic_fetch_add_explicit(&schema_serials, 1, memory_order_relaxed) + 1;
}

/* Before a change to `s`: a published schema's change is seen by every cache through the epoch. */
static void schema_touch(const sluice_schema_t *s)
{
    if (atomic_load_explicit(&s->published, memory_order_relaxed))
        atomic_fetch_add_explicit(&schema_epoch_now, 1, memory_order_release);
}

uint64_t schema_epoch(void)
{
    return (uint64_t)atomic_load_explicit(&schema_epoch_now, memory_order_acquire);
}

void schema_publish(const sluice_schema_t *s)
{
    /* the whole tree every time (no stopping at a published node: a field added to it since is
     * not yet published); callers publish only after a deep comparison, which walks as much. The
     * cast: `published` is bookkeeping, not the shape a const pointer promises. */
    if (!s)
        return;
    for (size_t i = 0; i < s->nfields; i++)
        schema_publish(s->fields[i].schema);
    schema_publish(s->items);
    schema_publish(s->keys);
    schema_publish(s->values);
    atomic_store_explicit(&((struct sluice_schema *)s)->published, 1, memory_order_relaxed);
}

void schema_owner_init(schema_owner_t *o)
{
    o->head = NULL;
}

static void schema_free_one(struct sluice_schema *s)
{
    free(s->name);
    free(s->doc);
    for (size_t i = 0; i < s->nparams; i++) {
        free(s->params[i].key);
        free(s->params[i].value);
    }
    free(s->params);
    for (size_t i = 0; i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s);
}

void schema_owner_free(schema_owner_t *o)
{
    struct sluice_schema *s = o->head;
    while (s) {
        struct sluice_schema *next = s->owned_next;
        schema_touch(s); /* a cache relying on it (or on a schema pointing at it) looks again */
        schema_free_one(s);
        s = next;
    }
    o->head = NULL;
}

sluice_schema_t *schema_new(schema_owner_t *o, sluice_type_t type)
{
    struct sluice_schema *s = NULL;
    if (!o)
        goto out;
    s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->type = type;
    s->serial = schema_next_serial();
    s->owned_next = o->head;
    o->head = s;
out:
    return s;
}

sluice_schema_t *schema_struct(schema_owner_t *o, const char *name)
{
    sluice_schema_t *s = schema_new(o, SLUICE_TYPE_STRUCT);
    if (s && name && schema_set_name(s, name) != SLUICE_OK)
        return NULL; /* the owner still frees the half-made schema */
    return s;
}

sluice_schema_t *schema_array(schema_owner_t *o, const sluice_schema_t *items)
{
    sluice_schema_t *s = schema_new(o, SLUICE_TYPE_ARRAY);
    if (s)
        s->items = items;
    return s;
}

sluice_schema_t *schema_map(schema_owner_t *o, const sluice_schema_t *keys,
                            const sluice_schema_t *values)
{
    sluice_schema_t *s = schema_new(o, SLUICE_TYPE_MAP);
    if (s) {
        s->keys = keys;
        s->values = values;
    }
    return s;
}

sluice_err_t schema_add_field(sluice_schema_t *st, const char *name, const sluice_schema_t *field)
{
    if (!st || st->type != SLUICE_TYPE_STRUCT || !name || !field)
        return SLUICE_ERR_INVALID;
    if (schema_field_index(st, name) >= 0)
        return SLUICE_ERR_INVALID;
    return schema_append_field(st, name, field);
}

sluice_err_t schema_append_field(sluice_schema_t *st, const char *name,
                                 const sluice_schema_t *field)
{
    sluice_err_t rc = SLUICE_ERR_INVALID;
    if (!st || st->type != SLUICE_TYPE_STRUCT || !name || !field)
        goto out;
    schema_touch(st);
    if (st->nfields == st->capfields) {
        size_t cap = st->capfields ? st->capfields * 2 : 8;
        struct schema_field *f = realloc(st->fields, cap * sizeof *f);
        rc = SLUICE_ERR_NOMEM;
        if (!f)
            goto out;
        st->fields = f;
        st->capfields = cap;
    }
    char *n = strdup(name);
    rc = SLUICE_ERR_NOMEM;
    if (!n)
        goto out;
    st->fields[st->nfields].name = n;
    st->fields[st->nfields].schema = field;
    st->nfields++;
    rc = SLUICE_OK;
out:
    return rc;
}

static sluice_err_t schema_set_str(char **slot, const char *v)
{
    char *n = NULL;
    if (v) {
        n = strdup(v);
        if (!n)
            return SLUICE_ERR_NOMEM;
    }
    free(*slot);
    *slot = n;
    return SLUICE_OK;
}

void schema_set_optional(sluice_schema_t *s, int optional)
{
    if (s) {
        schema_touch(s);
        s->optional = optional != 0;
    }
}

sluice_err_t schema_set_name(sluice_schema_t *s, const char *name)
{
    if (!s)
        return SLUICE_ERR_INVALID;
    schema_touch(s);
    return schema_set_str(&s->name, name);
}

sluice_err_t schema_set_doc(sluice_schema_t *s, const char *doc)
{
    if (!s)
        return SLUICE_ERR_INVALID;
    schema_touch(s);
    return schema_set_str(&s->doc, doc);
}

sluice_err_t schema_set_param(sluice_schema_t *s, const char *key, const char *value)
{
    if (!s || !key || !value)
        return SLUICE_ERR_INVALID;
    for (size_t i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].key, key) == 0) {
            schema_touch(s);
            return schema_set_str(&s->params[i].value, value);
        }
    return schema_append_param(s, key, value);
}

sluice_err_t schema_append_param(sluice_schema_t *s, const char *key, const char *value)
{
    if (!s || !key || !value)
        return SLUICE_ERR_INVALID;
    schema_touch(s);
    /* The array grows geometrically, its room implied by the count (4, then powers of two): one
     * realloc per parameter made an enum of many symbols slow. */
    size_t n = s->nparams;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        struct schema_param *p = realloc(s->params, (n ? 2 * n : 4) * sizeof *p);
        if (!p)
            return SLUICE_ERR_NOMEM;
        s->params = p;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return SLUICE_ERR_NOMEM;
    }
    s->params[n].key = k;
    s->params[n].value = v;
    s->nparams++;
    return SLUICE_OK;
}

const char *schema_param(const sluice_schema_t *s, const char *key)
{
    if (!s || !key)
        return NULL;
    for (size_t i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].key, key) == 0)
            return s->params[i].value;
    return NULL;
}

static int schema_name_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

const char *schema_fields_repeat(const sluice_schema_t *st)
{
    const char *dup = NULL;
    if (!st || st->nfields < 2)
        return NULL;
    const char **names = malloc(st->nfields * sizeof *names);
    if (!names) { /* no memory for the sort: the quadratic way */
        for (size_t i = 1; i < st->nfields && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++)
                if (strcmp(st->fields[i].name, st->fields[j].name) == 0)
                    dup = st->fields[i].name;
        return dup;
    }
    for (size_t i = 0; i < st->nfields; i++)
        names[i] = st->fields[i].name;
    qsort(names, st->nfields, sizeof *names, schema_name_cmp);
    for (size_t i = 1; i < st->nfields && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            dup = names[i];
    free(names);
    return dup;
}

int schema_field_index(const sluice_schema_t *s, const char *name)
{
    if (!s || s->type != SLUICE_TYPE_STRUCT || !name)
        return -1;
    for (size_t i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *schema_type_name(sluice_type_t t)
{
    switch (t) {
    case SLUICE_TYPE_NULL:
        return "null";
    case SLUICE_TYPE_INT8:
        return "int8";
    case SLUICE_TYPE_INT16:
        return "int16";
    case SLUICE_TYPE_INT32:
        return "int32";
    case SLUICE_TYPE_INT64:
        return "int64";
    case SLUICE_TYPE_FLOAT32:
        return "float";
    case SLUICE_TYPE_FLOAT64:
        return "double";
    case SLUICE_TYPE_BOOLEAN:
        return "boolean";
    case SLUICE_TYPE_STRING:
        return "string";
    case SLUICE_TYPE_BYTES:
        return "bytes";
    case SLUICE_TYPE_ARRAY:
        return "array";
    case SLUICE_TYPE_MAP:
        return "map";
    case SLUICE_TYPE_STRUCT:
        return "struct";
    }
    return "unknown";
}

int schema_is_logical(const sluice_schema_t *s, const char *logical_name)
{
    return s && s->name && strcmp(s->name, logical_name) == 0;
}

static int schema_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int schema_equal(const sluice_schema_t *a, const sluice_schema_t *b)
{
    if (a == b)
        return 1;
    if (!a || !b)
        return 0;
    if (a->type != b->type || !a->optional != !b->optional || a->version != b->version ||
        !schema_str_eq(a->name, b->name) || !schema_str_eq(a->doc, b->doc) ||
        a->nparams != b->nparams || a->nfields != b->nfields)
        return 0;
    for (size_t i = 0; i < a->nparams; i++) /* parameters are a map: order does not matter */
        if (!schema_str_eq(a->params[i].value, schema_param(b, a->params[i].key)))
            return 0;
    for (size_t i = 0; i < a->nfields; i++)
        if (strcmp(a->fields[i].name, b->fields[i].name) != 0 ||
            !schema_equal(a->fields[i].schema, b->fields[i].schema))
            return 0;
    return schema_equal(a->items, b->items) && schema_equal(a->keys, b->keys) &&
           schema_equal(a->values, b->values);
}

/* -- values -------------------------------------------------------------------------------------
 */

static sluice_value_t *value_new(arena_t *a, sluice_type_t type)
{
    sluice_value_t *v = arena_alloc(a, sizeof *v);
    if (v) {
        v->type = type;
        v->nul = 0;
        v->schema = NULL;
    }
    return v;
}

sluice_value_t *value_null(arena_t *a)
{
    return value_new(a, SLUICE_TYPE_NULL);
}

sluice_value_t *value_int(arena_t *a, sluice_type_t type, int64_t i)
{
    if (type < SLUICE_TYPE_INT8 || type > SLUICE_TYPE_INT64)
        type = SLUICE_TYPE_INT64;
    sluice_value_t *v = value_new(a, type);
    if (v)
        v->u.i = i;
    return v;
}

sluice_value_t *value_float(arena_t *a, sluice_type_t type, double f)
{
    if (type != SLUICE_TYPE_FLOAT32)
        type = SLUICE_TYPE_FLOAT64;
    sluice_value_t *v = value_new(a, type);
    if (v)
        v->u.f = type == SLUICE_TYPE_FLOAT32 ? (double)(float)f : f;
    return v;
}

sluice_value_t *value_bool(arena_t *a, int b)
{
    sluice_value_t *v = value_new(a, SLUICE_TYPE_BOOLEAN);
    if (v)
        v->u.b = b != 0;
    return v;
}

static sluice_value_t *value_text(arena_t *a, sluice_type_t type, const void *p, size_t len,
                                  int copy)
{
    sluice_value_t *v = NULL;
    if (copy) {
        /* One allocation for the value and its text: the text follows the value. */
        if (len > SIZE_MAX - sizeof *v - 1)
            return NULL;
        v = arena_alloc(a, sizeof *v + len + 1);
        if (!v)
            return NULL;
        char *t = (char *)(v + 1);
        if (len)
            memcpy(t, p, len);
        t[len] = '\0';
        v->type = type;
        v->nul = 1;
        v->schema = NULL;
        v->u.s.ptr = t;
    } else {
        v = value_new(a, type);
        if (!v)
            return NULL;
        v->u.s.ptr = len ? p : "";
        v->nul = !len;
    }
    v->u.s.len = len;
    return v;
}

sluice_value_t *value_string(arena_t *a, const char *s, size_t len)
{
    return value_text(a, SLUICE_TYPE_STRING, s, len, 1);
}

sluice_value_t *value_bytes(arena_t *a, const void *p, size_t len)
{
    return value_text(a, SLUICE_TYPE_BYTES, p, len, 1);
}

sluice_value_t *value_string_ref(arena_t *a, const char *s, size_t len)
{
    return value_text(a, SLUICE_TYPE_STRING, s, len, 0);
}

sluice_value_t *value_string_cstr(arena_t *a, const char *s, size_t len)
{
    sluice_value_t *v = value_text(a, SLUICE_TYPE_STRING, s, len, 0);
    if (v)
        v->nul = 1;
    return v;
}

sluice_value_t *value_bytes_ref(arena_t *a, const void *p, size_t len)
{
    return value_text(a, SLUICE_TYPE_BYTES, p, len, 0);
}

sluice_value_t *value_struct(arena_t *a, const sluice_schema_t *schema)
{
    if (!schema || schema->type != SLUICE_TYPE_STRUCT)
        return value_map(a, NULL);
    sluice_value_t *v = value_struct_empty(a, schema);
    if (!v)
        return NULL;
    for (size_t i = 0; i < schema->nfields; i++) {
        v->u.m.items[i].value = value_null(a);
        if (!v->u.m.items[i].value)
            return NULL;
    }
    return v;
}

sluice_value_t *value_struct_empty(arena_t *a, const sluice_schema_t *schema)
{
    sluice_value_t *v = value_new(a, SLUICE_TYPE_STRUCT);
    if (!v)
        return NULL;
    v->schema = schema;
    size_t n = schema->nfields;
    v->u.m.items = n ? arena_alloc(a, n * sizeof *v->u.m.items) : NULL;
    if (n && !v->u.m.items)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v->u.m.items[i].name = schema->fields[i].name;
        v->u.m.items[i].key = NULL;
        v->u.m.items[i].value = NULL;
    }
    v->u.m.len = v->u.m.cap = n;
    return v;
}

sluice_value_t *value_array(arena_t *a, const sluice_schema_t *schema)
{
    sluice_value_t *v = value_new(a, SLUICE_TYPE_ARRAY);
    if (v) {
        v->schema = schema;
        v->u.a.items = NULL;
        v->u.a.len = v->u.a.cap = 0;
    }
    return v;
}

sluice_value_t *value_map(arena_t *a, const sluice_schema_t *schema)
{
    sluice_value_t *v = value_new(a, SLUICE_TYPE_MAP);
    if (v) {
        v->schema = schema;
        v->u.m.items = NULL;
        v->u.m.len = v->u.m.cap = 0;
    }
    return v;
}

static int value_kv_reserve(arena_t *a, sluice_value_t *m)
{
    if (m->u.m.len < m->u.m.cap)
        return 0;
    size_t cap = m->u.m.cap ? m->u.m.cap * 2 : 16; /* records of 9-16 fields grow no more */
    struct value_kv *n = arena_grow(a, m->u.m.items, m->u.m.cap * sizeof *n, cap * sizeof *n);
    if (!n)
        return -1;
    m->u.m.items = n;
    m->u.m.cap = cap;
    return 0;
}

/* Index of a string key in a MAP, compared by length (keys need not be NUL-terminated). The
 * length and first byte are compared inline: most keys differ there, which saves a memcmp call. */
static long value_map_find(const sluice_value_t *m, const char *key, size_t len)
{
    const struct value_kv *it = m->u.m.items;
    for (size_t i = 0, n = m->u.m.len; i < n; i++) {
        const sluice_value_t *k = it[i].key;
        if (k && k->u.s.len == len && k->type == SLUICE_TYPE_STRING &&
            (len == 0 || (k->u.s.ptr[0] == key[0] && memcmp(k->u.s.ptr, key, len) == 0)))
            return (long)i;
    }
    return -1;
}

sluice_err_t value_map_put_string(arena_t *a, sluice_value_t *map, sluice_value_t *key,
                                  sluice_value_t *v, int replace)
{
    if (replace) {
        long i = value_map_find(map, key->u.s.ptr, key->u.s.len);
        if (i >= 0) {
            map->u.m.items[i].value = v;
            return SLUICE_OK;
        }
    }
    if (value_kv_reserve(a, map) != 0)
        return SLUICE_ERR_NOMEM;
    struct value_kv *kv = &map->u.m.items[map->u.m.len++];
    kv->name = key->u.s.ptr;
    kv->key = key;
    kv->value = v;
    return SLUICE_OK;
}

static int value_type_fits(const sluice_schema_t *s, const sluice_value_t *v)
{
    if (!s || v->type == SLUICE_TYPE_NULL)
        return 1;
    return v->type == s->type;
}

sluice_err_t value_put(arena_t *a, sluice_value_t *obj, const char *field, sluice_value_t *v)
{
    sluice_err_t rc = SLUICE_ERR_INVALID;
    if (!obj || !field || !v)
        goto out;
    if (obj->type == SLUICE_TYPE_STRUCT) {
        int i = schema_field_index(obj->schema, field);
        if (i < 0 || !value_type_fits(obj->schema->fields[i].schema, v))
            goto out;
        obj->u.m.items[i].value = v;
        rc = SLUICE_OK;
        goto out;
    }
    if (obj->type != SLUICE_TYPE_MAP)
        goto out;
    if (obj->schema && obj->schema->keys && obj->schema->keys->type != SLUICE_TYPE_STRING)
        goto out;
    size_t len = strlen(field);
    long i = value_map_find(obj, field, len);
    if (i >= 0) {
        obj->u.m.items[i].value = v;
        rc = SLUICE_OK;
        goto out;
    }
    rc = SLUICE_ERR_NOMEM;
    sluice_value_t *k = value_string(a, field, len);
    if (!k)
        goto out;
    if (obj->schema)
        k->schema = obj->schema->keys;
    rc = value_map_put_string(a, obj, k, v, 0);
out:
    return rc;
}

sluice_err_t value_append(arena_t *a, sluice_value_t *arr, sluice_value_t *v)
{
    if (!arr || arr->type != SLUICE_TYPE_ARRAY || !v)
        return SLUICE_ERR_INVALID;
    if (arr->u.a.len == arr->u.a.cap) {
        size_t cap = arr->u.a.cap ? arr->u.a.cap * 2 : 8;
        sluice_value_t **n =
            arena_grow(a, arr->u.a.items, arr->u.a.cap * sizeof *n, cap * sizeof *n);
        if (!n)
            return SLUICE_ERR_NOMEM;
        arr->u.a.items = n;
        arr->u.a.cap = cap;
    }
    arr->u.a.items[arr->u.a.len++] = v;
    return SLUICE_OK;
}

sluice_err_t value_map_put(arena_t *a, sluice_value_t *map, sluice_value_t *k, sluice_value_t *v)
{
    sluice_err_t rc = SLUICE_ERR_INVALID;
    if (!map || map->type != SLUICE_TYPE_MAP || !k || !v)
        goto out;
    if (k->type == SLUICE_TYPE_STRING) {
        /* `name` must be a C string for plugins, and the key may reference unterminated bytes. */
        long i = value_map_find(map, k->u.s.ptr, k->u.s.len);
        if (i >= 0) {
            map->u.m.items[i].value = v;
            rc = SLUICE_OK;
            goto out;
        }
        /* A key known to be NUL-terminated serves as is (keys of other types are kept by
         * reference too); any other is copied. */
        sluice_value_t *own = k;
        rc = SLUICE_ERR_NOMEM;
        if (!k->nul) {
            own = value_string(a, k->u.s.ptr, k->u.s.len);
            if (!own)
                goto out;
            own->schema = k->schema;
        }
        rc = value_map_put_string(a, map, own, v, 0);
        goto out;
    }
    for (size_t i = 0; i < map->u.m.len; i++) {
        if (value_equal(map->u.m.items[i].key, k)) {
            map->u.m.items[i].value = v;
            rc = SLUICE_OK;
            goto out;
        }
    }
    rc = SLUICE_ERR_NOMEM;
    if (value_kv_reserve(a, map) != 0)
        goto out;
    struct value_kv *kv = &map->u.m.items[map->u.m.len++];
    kv->name = NULL;
    kv->key = k;
    kv->value = v;
    rc = SLUICE_OK;
out:
    return rc;
}

sluice_err_t value_map_append(arena_t *a, sluice_value_t *map, sluice_value_t *key,
                              sluice_value_t *v)
{
    if (!map || map->type != SLUICE_TYPE_MAP || !key || key->type != SLUICE_TYPE_STRING || !v)
        return SLUICE_ERR_INVALID;
    if (map->schema && map->schema->keys && map->schema->keys->type != SLUICE_TYPE_STRING)
        return SLUICE_ERR_INVALID;
    sluice_value_t *own = key;
    if (!key->nul) {
        own = value_string(a, key->u.s.ptr, key->u.s.len);
        if (!own)
            return SLUICE_ERR_NOMEM;
        own->schema = key->schema;
    }
    return value_map_put_string(a, map, own, v, 0);
}

sluice_value_t *value_get(const sluice_value_t *obj, const char *field)
{
    if (!obj || !field)
        return NULL;
    if (obj->type == SLUICE_TYPE_STRUCT) {
        int i = schema_field_index(obj->schema, field);
        return i >= 0 && (size_t)i < obj->u.m.len ? obj->u.m.items[i].value : NULL;
    }
    if (obj->type == SLUICE_TYPE_MAP) {
        long i = value_map_find(obj, field, strlen(field));
        return i >= 0 ? obj->u.m.items[i].value : NULL;
    }
    return NULL;
}

long value_index(const sluice_value_t *obj, const char *field)
{
    if (!obj || !field)
        return -1;
    if (obj->type == SLUICE_TYPE_STRUCT) {
        int i = schema_field_index(obj->schema, field);
        return i >= 0 && (size_t)i < obj->u.m.len ? i : -1;
    }
    if (obj->type != SLUICE_TYPE_MAP ||
        (obj->schema && obj->schema->keys && obj->schema->keys->type != SLUICE_TYPE_STRING))
        return -1;
    return value_map_find(obj, field, strlen(field));
}

sluice_err_t value_set_item(sluice_value_t *obj, size_t i, sluice_value_t *v)
{
    if (!obj || !v)
        return SLUICE_ERR_INVALID;
    switch (obj->type) {
    case SLUICE_TYPE_ARRAY:
        if (i >= obj->u.a.len)
            return SLUICE_ERR_INVALID;
        obj->u.a.items[i] = v;
        return SLUICE_OK;
    case SLUICE_TYPE_STRUCT:
        if (i >= obj->u.m.len || !obj->schema || i >= obj->schema->nfields ||
            !value_type_fits(obj->schema->fields[i].schema, v))
            return SLUICE_ERR_INVALID;
        obj->u.m.items[i].value = v;
        return SLUICE_OK;
    case SLUICE_TYPE_MAP:
        if (i >= obj->u.m.len)
            return SLUICE_ERR_INVALID;
        obj->u.m.items[i].value = v;
        return SLUICE_OK;
    default:
        return SLUICE_ERR_INVALID;
    }
}

sluice_err_t value_map_rename(arena_t *a, sluice_value_t *map, size_t i, const char *key)
{
    if (!map || map->type != SLUICE_TYPE_MAP || !key || i >= map->u.m.len ||
        (map->schema && map->schema->keys && map->schema->keys->type != SLUICE_TYPE_STRING))
        return SLUICE_ERR_INVALID;
    struct value_kv *kv = &map->u.m.items[i];
    if (!kv->key || kv->key->type != SLUICE_TYPE_STRING)
        return SLUICE_ERR_INVALID;
    sluice_value_t *k = value_string(a, key, strlen(key));
    if (!k)
        return SLUICE_ERR_NOMEM;
    k->schema = kv->key->schema;
    kv->key = k;
    kv->name = k->u.s.ptr;
    return SLUICE_OK;
}

sluice_value_t *value_copy(arena_t *a, const sluice_value_t *v)
{
    sluice_value_t *c = NULL;
    if (!v)
        return NULL;
    switch (v->type) {
    case SLUICE_TYPE_STRING:
    case SLUICE_TYPE_BYTES:
        c = value_text(a, v->type, v->u.s.ptr, v->u.s.len, 1);
        break;
    case SLUICE_TYPE_ARRAY:
        c = value_array(a, v->schema);
        if (!c)
            break;
        if (v->u.a.len) {
            c->u.a.items = arena_alloc(a, v->u.a.len * sizeof *c->u.a.items);
            if (!c->u.a.items)
                return NULL;
            c->u.a.cap = v->u.a.len;
        }
        for (size_t i = 0; i < v->u.a.len; i++) {
            c->u.a.items[i] = value_copy(a, v->u.a.items[i]);
            if (!c->u.a.items[i])
                return NULL;
        }
        c->u.a.len = v->u.a.len;
        break;
    case SLUICE_TYPE_MAP:
    case SLUICE_TYPE_STRUCT:
        c = value_new(a, v->type);
        if (!c)
            break;
        c->u.m.items = NULL;
        c->u.m.len = c->u.m.cap = 0;
        if (v->u.m.len) {
            c->u.m.items = arena_alloc(a, v->u.m.len * sizeof *c->u.m.items);
            if (!c->u.m.items)
                return NULL;
            c->u.m.cap = v->u.m.len;
        }
        for (size_t i = 0; i < v->u.m.len; i++) {
            const struct value_kv *s = &v->u.m.items[i];
            struct value_kv *d = &c->u.m.items[i];
            d->key = s->key ? value_copy(a, s->key) : NULL;
            d->value = value_copy(a, s->value);
            if ((s->key && !d->key) || !d->value)
                return NULL;
            if (v->type == SLUICE_TYPE_STRUCT)
                d->name = s->name; /* the schema's field name: schemas are shared */
            else
                d->name = d->key && d->key->type == SLUICE_TYPE_STRING ? d->key->u.s.ptr : NULL;
        }
        c->u.m.len = v->u.m.len;
        break;
    default:
        c = arena_alloc(a, sizeof *c);
        if (c)
            *c = *v;
        break;
    }
    if (c)
        c->schema = v->schema;
    return c;
}

static int value_float_eq(double x, double y)
{
    return x == y || (isnan(x) && isnan(y));
}

int value_equal(const sluice_value_t *x, const sluice_value_t *y)
{
    if (x == y)
        return 1;
    if (!x || !y || x->type != y->type)
        return 0;
    switch (x->type) {
    case SLUICE_TYPE_NULL:
        return 1;
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        return x->u.i == y->u.i;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        return value_float_eq(x->u.f, y->u.f);
    case SLUICE_TYPE_BOOLEAN:
        return !x->u.b == !y->u.b;
    case SLUICE_TYPE_STRING:
    case SLUICE_TYPE_BYTES:
        return x->u.s.len == y->u.s.len && memcmp(x->u.s.ptr, y->u.s.ptr, x->u.s.len) == 0;
    case SLUICE_TYPE_ARRAY:
        if (x->u.a.len != y->u.a.len)
            return 0;
        for (size_t i = 0; i < x->u.a.len; i++)
            if (!value_equal(x->u.a.items[i], y->u.a.items[i]))
                return 0;
        return 1;
    case SLUICE_TYPE_STRUCT:
        if (x->u.m.len != y->u.m.len)
            return 0;
        for (size_t i = 0; i < x->u.m.len; i++)
            if (strcmp(x->u.m.items[i].name, y->u.m.items[i].name) != 0 ||
                !value_equal(x->u.m.items[i].value, y->u.m.items[i].value))
                return 0;
        return 1;
    case SLUICE_TYPE_MAP:
        /* A map is unordered: every key of x must be in y with an equal value. */
        if (x->u.m.len != y->u.m.len)
            return 0;
        for (size_t i = 0; i < x->u.m.len; i++) {
            const struct value_kv *kx = &x->u.m.items[i];
            size_t j = 0;
            if (i < y->u.m.len && value_equal(kx->key, y->u.m.items[i].key)) {
                j = i;
            } else {
                for (j = 0; j < y->u.m.len; j++)
                    if (value_equal(kx->key, y->u.m.items[j].key))
                        break;
                if (j == y->u.m.len)
                    return 0;
            }
            if (!value_equal(kx->value, y->u.m.items[j].value))
                return 0;
        }
        return 1;
    }
    return 0;
}

int64_t value_as_int(const sluice_value_t *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        return v->u.i;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        if (isnan(v->u.f))
            return 0;
        if (v->u.f >= 9223372036854775807.0)
            return INT64_MAX;
        if (v->u.f <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)v->u.f;
    case SLUICE_TYPE_BOOLEAN:
        return v->u.b ? 1 : 0;
    default:
        return 0;
    }
}

double value_as_float(const sluice_value_t *v)
{
    if (!v)
        return 0.0;
    switch (v->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        return (double)v->u.i;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        return v->u.f;
    case SLUICE_TYPE_BOOLEAN:
        return v->u.b ? 1.0 : 0.0;
    default:
        return 0.0;
    }
}

/* -- schemas in an arena ------------------------------------------------------------------------
 */

sluice_schema_t *schema_copy_to_arena(arena_t *a, const sluice_schema_t *s)
{
    struct sluice_schema *c = NULL;
    if (!s)
        return NULL;
    c = arena_calloc(a, sizeof *c);
    if (!c)
        return NULL;
    c->serial = schema_next_serial(); /* arena memory is reused batch after batch */
    c->type = s->type;
    c->optional = s->optional;
    c->version = s->version;
    if ((s->name && !(c->name = arena_strdup(a, s->name))) ||
        (s->doc && !(c->doc = arena_strdup(a, s->doc))))
        return NULL;
    if (s->nparams) {
        c->params = arena_alloc(a, s->nparams * sizeof *c->params);
        if (!c->params)
            return NULL;
        for (size_t i = 0; i < s->nparams; i++) {
            c->params[i].key = arena_strdup(a, s->params[i].key);
            c->params[i].value = arena_strdup(a, s->params[i].value);
            if (!c->params[i].key || !c->params[i].value)
                return NULL;
        }
        c->nparams = s->nparams;
    }
    if (s->nfields) {
        c->fields = arena_alloc(a, s->nfields * sizeof *c->fields);
        if (!c->fields)
            return NULL;
        for (size_t i = 0; i < s->nfields; i++) {
            c->fields[i].name = arena_strdup(a, s->fields[i].name);
            c->fields[i].schema = schema_copy_to_arena(a, s->fields[i].schema);
            if (!c->fields[i].name || !c->fields[i].schema)
                return NULL;
        }
        c->nfields = c->capfields = s->nfields;
    }
    if ((s->items && !(c->items = schema_copy_to_arena(a, s->items))) ||
        (s->keys && !(c->keys = schema_copy_to_arena(a, s->keys))) ||
        (s->values && !(c->values = schema_copy_to_arena(a, s->values))))
        return NULL;
    return c;
}
