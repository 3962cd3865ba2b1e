/* value.h — Kafka Connect's data model inside the core: schemas (long-lived, heap, owned by a
 * schema_owner_t) and values (arena, one batch). 64-bit integers are kept as int64_t, never a
 * double. */
#ifndef SLUICE_VALUE_H
#define SLUICE_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "sluice/plugin.h"

struct schema_field {
    char *name;
    const sluice_schema_t *schema;
};

struct schema_param {
    char *key;
    char *value;
};

struct sluice_schema {
    sluice_type_t type;
    int optional;
    char *name; /* NULL if unnamed; logical types carry Kafka Connect's names */
    char *doc;
    int32_t version; /* 0 = unset */
    struct schema_param *params;
    size_t nparams;
    struct schema_field *fields; /* STRUCT */
    size_t nfields, capfields;
    const sluice_schema_t *items;     /* ARRAY */
    const sluice_schema_t *keys;      /* MAP */
    const sluice_schema_t *values;    /* MAP */
    struct sluice_schema *owned_next; /* owner's list */
    /* Identity for caches keyed by pointer (see schema_serial_of): unique per allocation, never 0,
     * so a freed schema whose address is reused by another one is told apart. */
    uint64_t serial;
    /* Set once a cache has relied on this schema's shape (schema_publish); from then on each
     * change goes through a setter below and bumps schema_epoch. */
    _Atomic unsigned char published;
};

/* Every schema belongs to an owner and is freed with it. */
typedef struct schema_owner {
    struct sluice_schema *head;
} schema_owner_t;

void schema_owner_init(schema_owner_t *o);
void schema_owner_free(schema_owner_t *o);

sluice_schema_t *schema_new(schema_owner_t *o, sluice_type_t type);
sluice_schema_t *schema_struct(schema_owner_t *o, const char *name);
sluice_schema_t *schema_array(schema_owner_t *o, const sluice_schema_t *items);
sluice_schema_t *schema_map(schema_owner_t *o, const sluice_schema_t *keys,
                            const sluice_schema_t *values);
sluice_err_t schema_add_field(sluice_schema_t *st, const char *name, const sluice_schema_t *field);
/* The same without the search for `name` among the fields (linear: a struct of F fields would cost
 * O(F²)); the caller makes sure names are unique (schema_fields_repeat). */
sluice_err_t schema_append_field(sluice_schema_t *st, const char *name,
                                 const sluice_schema_t *field);
/* The first name that two fields of `st` share (sorting, O(F log F)), or NULL. */
const char *schema_fields_repeat(const sluice_schema_t *st);
void schema_set_optional(sluice_schema_t *s, int optional);
sluice_err_t schema_set_name(sluice_schema_t *s, const char *name);
sluice_err_t schema_set_doc(sluice_schema_t *s, const char *doc);
sluice_err_t schema_set_param(sluice_schema_t *s, const char *key, const char *value);
/* The same without the search for `key` (linear): the caller makes sure it is new. */
sluice_err_t schema_append_param(sluice_schema_t *s, const char *key, const char *value);
const char *schema_param(const sluice_schema_t *s, const char *key);
/* Index of a STRUCT field, or -1. */
int schema_field_index(const sluice_schema_t *s, const char *name);
/* Kafka Connect's name of a type: "int8" … "struct" (as in the JSON schema form). */
const char *schema_type_name(sluice_type_t t);
/* Identity checks for caches keyed by a schema pointer (the avro converter's ids).
 * Schemas are built by writing their fields directly (avro.c, json_schema.c) or with the setters
 * above; plugins reach them only through the host's setters (the struct is opaque in the ABI).
 * Once a schema is published (a cache has compared it and relies on it), every change of it or of
 * any schema under it must go through a setter, which then bumps the process-wide epoch; freeing a
 * published schema bumps it too. So: the same pointer with the same serial and an epoch unchanged
 * since the shape was compared is the same shape, without comparing it again. */
uint64_t schema_epoch(void);
/* Marks `s` and every schema under it published. */
void schema_publish(const sluice_schema_t *s);
static inline uint64_t schema_serial_of(const sluice_schema_t *s)
{
    return s->serial;
}
/* Structural equality (used by schema caches and tests). */
int schema_equal(const sluice_schema_t *a, const sluice_schema_t *b);
/* A deep copy of `s` whose every part lives in the arena (not in an owner): for schemas that must
 * live exactly as long as the values of one batch. */
sluice_schema_t *schema_copy_to_arena(arena_t *a, const sluice_schema_t *s);
/* 1 when `s` carries the logical type name `logical_name` (e.g. SLUICE_LOGICAL_DECIMAL). */
int schema_is_logical(const sluice_schema_t *s, const char *logical_name);

/* One entry of a MAP or STRUCT. For STRUCT: `name` is the schema's field name, `key` NULL.
 * For MAP: `key` is the key value; `name` points at its text when the key is a STRING. */
struct value_kv {
    const char *name;
    sluice_value_t *key;
    sluice_value_t *value;
};

struct sluice_value {
    sluice_type_t type;
    /* STRING/BYTES: 1 when u.s.ptr[u.s.len] is a NUL that lives as long as the text (copying
     * constructors, the JSON reader), so the value can serve as a MAP key without a copy. */
    unsigned char nul;
    const sluice_schema_t *schema; /* NULL when schemaless */
    union {
        int64_t i; /* INT8..INT64 (and logical Date/Time/Timestamp) */
        double f;  /* FLOAT32/FLOAT64 */
        int b;     /* BOOLEAN */
        struct {
            /* NUL-terminated when made by a copying constructor (BYTES too, for convenience);
             * NOT when made by value_string_ref/value_bytes_ref: always use `len`. */
            const char *ptr;
            size_t len;
        } s;
        struct {
            sluice_value_t **items;
            size_t len, cap;
        } a; /* ARRAY */
        struct {
            struct value_kv *items;
            size_t len, cap;
        } m; /* MAP and STRUCT */
    } u;
};

/* Constructors: all memory from the arena; NULL on out of memory. */
sluice_value_t *value_null(arena_t *a);
sluice_value_t *value_int(arena_t *a, sluice_type_t type, int64_t v);
sluice_value_t *value_float(arena_t *a, sluice_type_t type, double v);
sluice_value_t *value_bool(arena_t *a, int v);
sluice_value_t *value_string(arena_t *a, const char *s, size_t len); /* copies */
sluice_value_t *value_bytes(arena_t *a, const void *p, size_t len);  /* copies */
/* No copy: `s` must outlive the value (e.g. bytes already in the same arena or the topic log). */
sluice_value_t *value_string_ref(arena_t *a, const char *s, size_t len);
/* No copy, like value_string_ref, for text known to be NUL-terminated at `len` and to live as long
 * as the value (e.g. text already copied into the same arena). */
sluice_value_t *value_string_cstr(arena_t *a, const char *s, size_t len);
sluice_value_t *value_bytes_ref(arena_t *a, const void *p, size_t len);  /* BYTES, no copy */
sluice_value_t *value_struct(arena_t *a, const sluice_schema_t *schema); /* schema NULL → MAP */
sluice_value_t *value_array(arena_t *a, const sluice_schema_t *schema);
sluice_value_t *value_map(arena_t *a, const sluice_schema_t *schema);
/* A STRUCT of `schema` (not NULL) whose field values are still NULL pointers: for decoders that set
 * every field right away. Fields left NULL must be filled before the value is handed out. */
sluice_value_t *value_struct_empty(arena_t *a, const sluice_schema_t *schema);

/* STRUCT: set a field of the schema (error if not in it). MAP: set/replace a string key. */
sluice_err_t value_put(arena_t *a, sluice_value_t *obj, const char *field, sluice_value_t *v);
sluice_err_t value_append(arena_t *a, sluice_value_t *arr, sluice_value_t *v);
sluice_err_t value_map_put(arena_t *a, sluice_value_t *map, sluice_value_t *k, sluice_value_t *v);
/* Decoders: add a STRING key whose text is NUL-terminated and lives as long as the map (no copy);
 * with `replace` an equal key is replaced, otherwise the entry is appended unchecked. */
sluice_err_t value_map_put_string(arena_t *a, sluice_value_t *map, sluice_value_t *key,
                                  sluice_value_t *v, int replace);
/* Append a STRING key and its value to a string-keyed MAP without looking for an equal key (the
 * caller knows the keys are distinct). The key is kept when NUL-terminated, else copied. */
sluice_err_t value_map_append(arena_t *a, sluice_value_t *map, sluice_value_t *key,
                              sluice_value_t *v);
/* Index of a STRUCT field / string-keyed MAP entry (for items[]), or -1. A MAP whose schema has
 * keys other than strings has no string-keyed entries. */
long value_index(const sluice_value_t *obj, const char *field);
/* Replace item i's value of an ARRAY, MAP or STRUCT (type-checked for STRUCT as in value_put). */
sluice_err_t value_set_item(sluice_value_t *obj, size_t i, sluice_value_t *v);
/* Give entry i of a string-keyed MAP the key `key` (copied); the caller knows it is not taken. */
sluice_err_t value_map_rename(arena_t *a, sluice_value_t *map, size_t i, const char *key);
/* STRUCT field / string-keyed MAP entry, or NULL. */
sluice_value_t *value_get(const sluice_value_t *obj, const char *field);
/* Deep copy into another arena (schemas are shared, not copied). */
sluice_value_t *value_copy(arena_t *a, const sluice_value_t *v);
/* Structural equality of two values (tests, transforms). */
int value_equal(const sluice_value_t *x, const sluice_value_t *y);

int64_t value_as_int(const sluice_value_t *v);
double value_as_float(const sluice_value_t *v);

#endif
