/*
 * xf.h — pieces shared by the transform plugins (one .so each; this file is compiled into each).
 *
 * Conventions of every transform:
 * - Transforms that Kafka Connect has as `$Key` and `$Value` take `where: key|value`
 * (XF_WHERE_FIELD; the class-name aliases preset it).
 * - An error message names the field and what is wrong ("field 'price': cannot cast the string
 *   'abc' to int32"); the core prefixes the transform and the record's topic/partition/offset.
 * - Struct values are rebuilt on a derived schema; derived schemas are built once per input schema
 *   (struct xf_cache) and belong to the instance's ctx (the core frees them after destroy).
 * - Values come from the batch arena (host value_* functions): never malloc per record or field.
 */
#ifndef SLUICE_XF_H
#define SLUICE_XF_H

#include <stdarg.h>
#include <stddef.h>

#include <sluice/plugin.h>

typedef enum xf_where { XF_VALUE = 0, XF_KEY = 1 } xf_where_t;

extern const char *const xf_where_values[]; /* {"value", "key", NULL} */

/* The `where` entry of a transform's config table. */
#define XF_WHERE_FIELD                                                                             \
    {                                                                                              \
        .name = "where", .type = SLUICE_CFG_ENUM, .default_value = "value",                        \
        .description = "Apply to the record's `value` or its `key` (Kafka Connect's `$Value` and " \
                       "`$Key` variants; their class names preset it).",                           \
        .example = "key", .enum_values = xf_where_values                                           \
    }

xf_where_t xf_where(const struct sluice_host *h, const sluice_config_t *cfg);
const char *xf_where_name(xf_where_t w); /* "value" / "key" */

/* The decoded key or value of `rec`; NULL with a message when it cannot be decoded. */
sluice_value_t *xf_get(const struct sluice_host *h, sluice_record_t *rec, xf_where_t w,
                       char *errstr, size_t errstr_size);
void xf_set(const struct sluice_host *h, sluice_record_t *rec, xf_where_t w, sluice_value_t *v);

/* "int32", "struct", ... */
const char *xf_type_name(sluice_type_t t);

/* Writes "field 'a': <message>" (or "the value: <message>" when `field` is NULL, naming `where`)
 * and returns SLUICE_ERR_INVALID: the message of a record a transform cannot handle. */
sluice_err_t xf_field_verror(char *errstr, size_t errstr_size, const char *field, xf_where_t where,
                             const char *fmt, va_list ap);

/* Writes "out of memory" and returns SLUICE_ERR_NOMEM. */
sluice_err_t xf_oom(char *errstr, size_t errstr_size);

/* A small map from an input schema to the schema derived from it (pointer identity: the core
 * reuses schema objects across records of one stream). Most streams have one schema: the last hit
 * is tried first. `tag` distinguishes several derivations of one input (0 if unused). */
struct xf_cache_entry {
    const sluice_schema_t *in;
    unsigned tag;
    const sluice_schema_t *out;
};
struct xf_cache {
    struct xf_cache_entry *e;
    size_t len, cap, last;
};
/* The cached schema, or NULL when none. */
const sluice_schema_t *xf_cache_get(struct xf_cache *c, const sluice_schema_t *in, unsigned tag);
/* Remember `out` for `in`; warns once (via host log) past 1024 entries. 0 ok, -1 out of memory. */
int xf_cache_put(struct xf_cache *c, const struct sluice_host *h, sluice_ctx_t *ctx,
                 const sluice_schema_t *in, unsigned tag, const sluice_schema_t *out);
void xf_cache_free(struct xf_cache *c);

/* A new STRUCT schema with the name, doc-less, and optionality of `in` and no fields yet. */
sluice_schema_t *xf_schema_struct_like(const struct sluice_host *h, sluice_ctx_t *ctx,
                                       const sluice_schema_t *in);

/* A STRUCT schema like `in` with some fields' schemas replaced, derived once per input schema
 * (cached in `cache` under tag 0). `fn` gets each field's name and schema and returns the schema
 * to use (the same one to keep it), or NULL on out of memory. NULL with a message on failure. */
typedef const sluice_schema_t *(*xf_field_schema_fn)(void *arg, const char *name,
                                                     const sluice_schema_t *fs);
const sluice_schema_t *xf_schema_derive(const struct sluice_host *h, sluice_ctx_t *ctx,
                                        struct xf_cache *cache, const sluice_schema_t *in,
                                        xf_field_schema_fn fn, void *arg, char *errstr,
                                        size_t errstr_size);

/* Rebuild the STRUCT `value` on `schema` (derived from the value's own schema by
 * xf_schema_derive: the same fields in the same order). Each field is passed to `fn` with its
 * input and output field schemas; `fn` returns the value to put (`fv` itself to keep it), or NULL
 * after writing a message and setting `*err`. `what` names the key or value in messages. */
typedef sluice_value_t *(*xf_field_value_fn)(void *arg, const char *name, sluice_value_t *fv,
                                             const sluice_schema_t *fs_in,
                                             const sluice_schema_t *fs_out, sluice_err_t *err);
sluice_err_t xf_struct_rebuild(const struct sluice_host *h, sluice_record_t *rec,
                               sluice_value_t *value, const sluice_schema_t *schema,
                               xf_field_value_fn fn, void *arg, const char *what,
                               sluice_value_t **result, char *errstr, size_t errstr_size);

/* A list of names from a LIST config key (Kafka Connect's comma-separated lists). */
struct xf_names {
    char **v;
    size_t n;
};
/* 0 ok (an absent key gives an empty list), -1 out of memory (message written). */
int xf_names_load(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                  struct xf_names *out, char *errstr, size_t errstr_size);
/* Index of `name` in the list, or -1. */
long xf_names_find(const struct xf_names *names, const char *name);
void xf_names_free(struct xf_names *names);

/* Pairs "a:b" of a LIST config key (ReplaceField's renames, Cast's spec): `left[i]`/`right[i]`.
 * A malformed item is a config error naming the key and the item. */
struct xf_pairs {
    char **left, **right;
    size_t n;
};
sluice_err_t xf_pairs_load(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                           struct xf_pairs *out, char *errstr, size_t errstr_size);
void xf_pairs_free(struct xf_pairs *pairs);

#endif
