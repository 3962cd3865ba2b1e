/* xf.c — pieces shared by the transform plugins; see xf.h. */
#include "xf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XF_CACHE_WARN 1024

const char *const xf_where_values[] = {"value", "key", NULL};

xf_where_t xf_where(const struct sluice_host *h, const sluice_config_t *cfg)
{
    const char *w = h->config_string(cfg, "where");

    return w != NULL && strcmp(w, "key") == 0 ? XF_KEY : XF_VALUE;
}

const char *xf_where_name(xf_where_t w)
{
    return w == XF_KEY ? "key" : "value";
}

sluice_value_t *xf_get(const struct sluice_host *h, sluice_record_t *rec, xf_where_t w,
                       char *errstr, size_t errstr_size)
{
    sluice_value_t *v;

    errstr[0] = '\0';
    v = w == XF_KEY ? h->record_key(rec, errstr, errstr_size)
                    : h->record_value(rec, errstr, errstr_size);
    if (v == NULL && errstr[0] == '\0') {
        snprintf(errstr, errstr_size, "the %s cannot be decoded", xf_where_name(w));
    }
    return v;
}

void xf_set(const struct sluice_host *h, sluice_record_t *rec, xf_where_t w, sluice_value_t *v)
{
    if (w == XF_KEY) {
        h->record_set_key(rec, v);
    } else {
        h->record_set_value(rec, v);
    }
}

const char *xf_type_name(sluice_type_t t)
{
    static const char *const names[] = {
        "null",    "int8",   "int16", "int32", "int64", "float32", "float64",
        "boolean", "string", "bytes", "array", "map",   "struct",
    };

    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

sluice_err_t xf_field_verror(char *errstr, size_t errstr_size, const char *field, xf_where_t where,
                             const char *fmt, va_list ap)
{
    int n = field != NULL ? snprintf(errstr, errstr_size, "field '%s': ", field)
                          : snprintf(errstr, errstr_size, "the %s: ", xf_where_name(where));

    if (n >= 0 && (size_t)n < errstr_size) {
        vsnprintf(errstr + n, errstr_size - (size_t)n, fmt, ap);
    }
    return SLUICE_ERR_INVALID;
}

sluice_err_t xf_oom(char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "out of memory");
    return SLUICE_ERR_NOMEM;
}

const sluice_schema_t *xf_cache_get(struct xf_cache *c, const sluice_schema_t *in, unsigned tag)
{
    if (c->len > 0 && c->e[c->last].in == in && c->e[c->last].tag == tag) {
        return c->e[c->last].out;
    }
    for (size_t i = 0; i < c->len; i++) {
        if (c->e[i].in == in && c->e[i].tag == tag) {
            c->last = i;
            return c->e[i].out;
        }
    }
    return NULL;
}

int xf_cache_put(struct xf_cache *c, const struct sluice_host *h, sluice_ctx_t *ctx,
                 const sluice_schema_t *in, unsigned tag, const sluice_schema_t *out)
{
    if (c->len == c->cap) {
        size_t cap = c->cap == 0 ? 4 : c->cap * 2;
        struct xf_cache_entry *e = realloc(c->e, cap * sizeof *e);

        if (e == NULL) {
            return -1;
        }
        c->e = e;
        c->cap = cap;
    }
    c->e[c->len] = (struct xf_cache_entry){in, tag, out};
    c->last = c->len++;
    if (c->len == XF_CACHE_WARN) {
        h->log(ctx, SLUICE_LOG_WARN,
               "%d distinct schemas seen so far; each gets a derived schema kept until the "
               "pipeline stops",
               XF_CACHE_WARN);
    }
    return 0;
}

void xf_cache_free(struct xf_cache *c)
{
    free(c->e);
    *c = (struct xf_cache){0};
}

sluice_schema_t *xf_schema_struct_like(const struct sluice_host *h, sluice_ctx_t *ctx,
                                       const sluice_schema_t *in)
{
    sluice_schema_t *out = h->schema_struct(ctx, in != NULL ? h->schema_name(in) : NULL);

    if (out != NULL && in != NULL) {
        h->schema_set_optional(out, h->schema_optional(in));
    }
    return out;
}

const sluice_schema_t *xf_schema_derive(const struct sluice_host *h, sluice_ctx_t *ctx,
                                        struct xf_cache *cache, const sluice_schema_t *in,
                                        xf_field_schema_fn fn, void *arg, char *errstr,
                                        size_t errstr_size)
{
    const sluice_schema_t *done = xf_cache_get(cache, in, 0);
    size_t n = h->schema_field_count(in);
    sluice_schema_t *out;

    if (done != NULL) {
        return done;
    }
    out = xf_schema_struct_like(h, ctx, in);
    if (out == NULL) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const sluice_schema_t *fs;
        const char *name = h->schema_field(in, i, &fs);

        fs = fn(arg, name, fs);
        if (fs == NULL || h->schema_add_field(out, name, fs) != SLUICE_OK) {
            xf_oom(errstr, errstr_size);
            return NULL; /* `out` belongs to the ctx, which frees it */
        }
    }
    if (xf_cache_put(cache, h, ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        return NULL;
    }
    return out;
}

sluice_err_t xf_struct_rebuild(const struct sluice_host *h, sluice_record_t *rec,
                               sluice_value_t *value, const sluice_schema_t *schema,
                               xf_field_value_fn fn, void *arg, const char *what,
                               sluice_value_t **result, char *errstr, size_t errstr_size)
{
    const sluice_schema_t *in = h->value_schema(value);
    sluice_value_t *target = h->value_struct(rec, schema);
    size_t n = h->value_count(value);

    if (target == NULL) {
        return xf_oom(errstr, errstr_size);
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        sluice_value_t *key = NULL;
        sluice_value_t *fv = h->value_item(value, i, &name, &key);
        const sluice_schema_t *fs_in = NULL, *fs_out = NULL;
        sluice_value_t *nv;
        sluice_err_t err = SLUICE_OK;

        h->schema_field(in, i, &fs_in);
        h->schema_field(schema, i, &fs_out);
        nv = fn(arg, name, fv, fs_in, fs_out, &err);
        if (nv == NULL) {
            return err;
        }
        if (h->value_put(rec, target, name, nv) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "field '%s': cannot copy it to the new %s", name, what);
            return SLUICE_ERR_INVALID;
        }
    }
    *result = target;
    return SLUICE_OK;
}

int xf_names_load(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                  struct xf_names *out, char *errstr, size_t errstr_size)
{
    size_t n = h->config_has(cfg, key) ? h->config_count(cfg, key) : 0;

    *out = (struct xf_names){0};
    if (n == 0) {
        return 0;
    }
    out->v = calloc(n, sizeof *out->v);
    if (out->v == NULL) {
        xf_oom(errstr, errstr_size);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        out->v[i] = strdup(h->config_item(cfg, key, i));
        if (out->v[i] == NULL) {
            out->n = i;
            xf_names_free(out);
            xf_oom(errstr, errstr_size);
            return -1;
        }
    }
    out->n = n;
    return 0;
}

long xf_names_find(const struct xf_names *names, const char *name)
{
    for (size_t i = 0; i < names->n; i++) {
        if (strcmp(names->v[i], name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

void xf_names_free(struct xf_names *names)
{
    for (size_t i = 0; i < names->n; i++) {
        free(names->v[i]);
    }
    free(names->v);
    *names = (struct xf_names){0};
}

sluice_err_t xf_pairs_load(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                           struct xf_pairs *out, char *errstr, size_t errstr_size)
{
    size_t n = h->config_has(cfg, key) ? h->config_count(cfg, key) : 0;

    *out = (struct xf_pairs){0};
    if (n == 0) {
        return SLUICE_OK;
    }
    out->left = calloc(n, sizeof *out->left);
    out->right = calloc(n, sizeof *out->right);
    if (out->left == NULL || out->right == NULL) {
        xf_pairs_free(out);
        return xf_oom(errstr, errstr_size);
    }
    for (size_t i = 0; i < n; i++) {
        const char *item = h->config_item(cfg, key, i);
        const char *colon = strchr(item, ':');

        if (colon == NULL || colon == item || colon[1] == '\0') {
            out->n = i;
            xf_pairs_free(out);
            snprintf(errstr, errstr_size, "'%s': item '%s' is not of the form 'name:value'", key,
                     item);
            return SLUICE_ERR_CONFIG;
        }
        out->left[i] = strndup(item, (size_t)(colon - item));
        out->right[i] = strdup(colon + 1);
        if (out->left[i] == NULL || out->right[i] == NULL) {
            out->n = i + 1;
            xf_pairs_free(out);
            return xf_oom(errstr, errstr_size);
        }
    }
    out->n = n;
    return SLUICE_OK;
}

void xf_pairs_free(struct xf_pairs *pairs)
{
    for (size_t i = 0; i < pairs->n; i++) {
        free(pairs->left[i]);
        free(pairs->right[i]);
    }
    free(pairs->left);
    free(pairs->right);
    *pairs = (struct xf_pairs){0};
}
