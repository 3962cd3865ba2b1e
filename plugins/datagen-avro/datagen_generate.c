/*
 * datagen_generate.c — generates typed values from a compiled datagen schema (datagen_node.h):
 * `options`, `iteration`, ranges, lengths, regexes. Allocates only values in the batch arena.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen_node.h"
#include "datagen_regex.h"

/* ---------------------------------------------------------------------------------------------- */
/* Generation */

struct dg_gen {
    struct datagen_schema *s;
    const struct sluice_host *h;
    sluice_record_t *rec;
    struct datagen_rand *r;
    uint64_t *iter;
};

static sluice_value_t *dg_value(struct dg_gen *g, const struct dg_node *n);

static sluice_value_t *dg_typed(sluice_value_t *v, const struct dg_node *n, struct dg_gen *g)
{
    if (v != NULL) {
        g->h->value_set_schema(v, n->schema);
    }
    return v;
}

static sluice_value_t *dg_const_value(struct dg_gen *g, const struct dg_const *c,
                                      const struct dg_node *at)
{
    const struct dg_node *n = c->node;
    const struct sluice_host *h = g->h;
    sluice_value_t *v = NULL;

    if (c->is_null) {
        return dg_typed(h->value_null(g->rec), at, g);
    }
    switch (n->kind) {
    case DG_BOOLEAN:
        v = h->value_bool(g->rec, (int)c->i);
        break;
    case DG_INT:
    case DG_LONG:
        v = h->value_int(g->rec, n->ctype, c->i);
        break;
    case DG_FLOAT:
    case DG_DOUBLE:
        v = h->value_float(g->rec, n->ctype, c->f);
        break;
    case DG_STRING:
    case DG_ENUM:
        v = h->value_string(g->rec, c->s, c->len);
        break;
    case DG_BYTES:
    case DG_FIXED:
        v = h->value_bytes(g->rec, c->s, c->len);
        break;
    case DG_ARRAY:
        v = h->value_array(g->rec, n->schema);
        for (size_t i = 0; v != NULL && i < c->nkids; i++) {
            sluice_value_t *e = dg_const_value(g, &c->kids[i], n->kids[0]);

            if (e == NULL || h->value_append(g->rec, v, e) != SLUICE_OK) {
                return NULL;
            }
        }
        break;
    case DG_MAP:
        v = h->value_map(g->rec, n->schema);
        for (size_t i = 0; v != NULL && i < c->nkids; i++) {
            sluice_value_t *k = h->value_string(g->rec, c->keys[i], c->keylens[i]);
            sluice_value_t *e = dg_const_value(g, &c->kids[i], n->kids[0]);

            if (k == NULL || e == NULL) {
                return NULL;
            }
            h->value_set_schema(k, n->keys->schema);
            if (h->value_map_put(g->rec, v, k, e) != SLUICE_OK) {
                return NULL;
            }
        }
        break;
    case DG_RECORD:
        v = h->value_struct(g->rec, n->schema);
        for (size_t i = 0; v != NULL && i < c->nkids; i++) {
            sluice_value_t *e = dg_const_value(g, &c->kids[i], n->kids[i]);

            if (e == NULL || h->value_put(g->rec, v, n->names[i], e) != SLUICE_OK) {
                return NULL;
            }
        }
        break;
    case DG_UNION: {
        const struct dg_node *b = n->kids[c->i];
        sluice_value_t *e = dg_const_value(g, &c->kids[0], b);

        v = h->value_struct(g->rec, n->schema);
        if (v == NULL || e == NULL || h->value_put(g->rec, v, n->names[c->i], e) != SLUICE_OK) {
            return NULL;
        }
        break;
    }
    default:
        v = h->value_null(g->rec);
        break;
    }
    return dg_typed(v, n, g);
}

/* avro-random-generator's sequences: start, start+step, ...; a value that reaches `restart` wraps
 * around by the excess, modulo restart-start (so steps that do not divide the span still cycle). */
static int64_t dg_iter_int(struct dg_gen *g, const struct dg_node *n)
{
    uint64_t *w = &g->iter[n->iter_slot];
    int64_t v = (int64_t)*w;
    __int128 next = (__int128)v + n->it_step;
    __int128 span = (__int128)n->it_restart - n->it_start;

    if (n->it_step > 0 ? next >= n->it_restart : next <= n->it_restart) {
        next = n->it_start + (next - n->it_restart) % span;
    }
    *w = (uint64_t)(int64_t)next;
    return v;
}

static double dg_iter_float(struct dg_gen *g, const struct dg_node *n)
{
    uint64_t *w = &g->iter[n->iter_slot];
    double v, next;

    memcpy(&v, w, sizeof v);
    next = v + n->itf_step;
    if (n->itf_step > 0 ? next >= n->itf_restart : next <= n->itf_restart) {
        next = n->itf_start + fmod(next - n->itf_restart, n->itf_restart - n->itf_start);
    }
    memcpy(w, &next, sizeof next);
    return v;
}

static int64_t dg_gen_int(struct dg_gen *g, const struct dg_node *n)
{
    uint64_t span;

    if (n->has_iter) {
        return dg_iter_int(g, n);
    }
    span = (uint64_t)n->ihi - (uint64_t)n->ilo + 1; /* 0: all 2^64 values */
    return (int64_t)((uint64_t)n->ilo + datagen_rand_below(g->r, span));
}

static double dg_gen_float(struct dg_gen *g, const struct dg_node *n)
{
    double v;

    if (n->has_iter) {
        return dg_iter_float(g, n);
    }
    v = n->dlo + datagen_rand_double(g->r) * (n->dhi - n->dlo);
    if (v >= n->dhi) {
        v = nextafter(n->dhi, n->dlo);
    }
    if (n->kind == DG_FLOAT) {
        float f = (float)v;

        if ((double)f >= n->dhi) {
            f = nextafterf(f, -INFINITY);
        }
        if ((double)f < n->dlo) {
            f = nextafterf(f, INFINITY);
        }
        v = f;
    }
    return v;
}

static size_t dg_gen_len(struct dg_gen *g, const struct dg_node *n)
{
    return n->len_min + (size_t)datagen_rand_below(g->r, n->len_max - n->len_min);
}

static const char dg_alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static sluice_value_t *dg_gen_string(struct dg_gen *g, const struct dg_node *n)
{
    char *out = g->s->scratch;
    char *body = out + n->prefix_len;
    size_t len;

    if (n->logical == DG_L_UUID && n->regex == NULL && n->len_max == 0) {
        static const char hex[] = "0123456789abcdef";
        uint64_t a = datagen_rand_next(g->r), b = datagen_rand_next(g->r);
        size_t o = 0;

        a = (a & ~0xf000ull) | 0x4000ull;                         /* version 4 */
        b = (b & ~0xc000000000000000ull) | 0x8000000000000000ull; /* variant 10 */
        for (int i = 0; i < 32; i++) {
            uint64_t w = i < 16 ? a : b;
            int shift = 60 - 4 * (i & 15);

            if (i == 8 || i == 12 || i == 16 || i == 20) {
                out[o++] = '-';
            }
            out[o++] = hex[(w >> shift) & 0xf];
        }
        return g->h->value_string(g->rec, out, o);
    }
    if (n->prefix_len > 0) {
        memcpy(out, n->prefix, n->prefix_len);
    }
    if (n->regex != NULL) {
        len = datagen_regex_generate(n->regex, g->r, body);
        for (int t = 1; t < DG_REGEX_TRIES && (len < n->len_min || len >= n->len_max); t++) {
            len = datagen_regex_generate(n->regex, g->r, body);
        }
    } else {
        len = dg_gen_len(g, n);
        for (size_t i = 0; i < len; i++) {
            body[i] = dg_alnum[datagen_rand_below(g->r, sizeof dg_alnum - 1)];
        }
    }
    if (n->suffix_len > 0) {
        memcpy(body + len, n->suffix, n->suffix_len);
    }
    return g->h->value_string(g->rec, out, n->prefix_len + len + n->suffix_len);
}

static sluice_value_t *dg_gen_bytes(struct dg_gen *g, const struct dg_node *n)
{
    unsigned char *out = (unsigned char *)g->s->scratch;
    size_t len;

    if (n->logical == DG_L_DECIMAL) {
        int64_t u = dg_gen_int(g, n);

        if (n->kind == DG_FIXED) {
            (void)dg_encode_decimal_fixed(u, out, n->fixed_size);
            len = n->fixed_size;
        } else {
            dg_encode_decimal(u, out, &len);
        }
        return g->h->value_bytes(g->rec, out, len);
    }
    len = n->kind == DG_FIXED ? n->fixed_size : dg_gen_len(g, n);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = datagen_rand_next(g->r);

        for (size_t k = 0; k < 8 && i + k < len; k++) {
            out[i + k] = (unsigned char)(w >> (8 * k));
        }
    }
    return g->h->value_bytes(g->rec, out, len);
}

static sluice_value_t *dg_value(struct dg_gen *g, const struct dg_node *n)
{
    const struct sluice_host *h = g->h;
    sluice_value_t *v = NULL;

    if (n->options != NULL) {
        const struct dg_const *c =
            &n->options[n->noptions == 1 ? 0 : datagen_rand_below(g->r, n->noptions)];

        return dg_const_value(g, c, n);
    }
    switch (n->kind) {
    case DG_NULL:
        v = h->value_null(g->rec);
        break;
    case DG_OPTIONAL:
        if (datagen_rand_below(g->r, 2) == 0) {
            return dg_typed(h->value_null(g->rec), n, g);
        }
        return dg_value(g, n->kids[0]);
    case DG_BOOLEAN:
        if (n->has_iter) {
            uint64_t *w = &g->iter[n->iter_slot];

            v = h->value_bool(g->rec, (int)*w);
            *w = !*w;
        } else {
            v = h->value_bool(g->rec, datagen_rand_double(g->r) < n->odds);
        }
        break;
    case DG_INT:
    case DG_LONG:
        v = h->value_int(g->rec, n->ctype, dg_gen_int(g, n));
        break;
    case DG_FLOAT:
    case DG_DOUBLE:
        v = h->value_float(g->rec, n->ctype, dg_gen_float(g, n));
        break;
    case DG_STRING:
        v = dg_gen_string(g, n);
        break;
    case DG_BYTES:
    case DG_FIXED:
        v = dg_gen_bytes(g, n);
        break;
    case DG_ENUM: {
        size_t i = (size_t)datagen_rand_below(g->r, n->nsymbols);

        v = h->value_string(g->rec, n->symbols[i], n->symlens[i]);
        break;
    }
    case DG_RECORD:
        v = h->value_struct(g->rec, n->schema);
        for (size_t i = 0; v != NULL && i < n->nkids; i++) {
            sluice_value_t *f = dg_value(g, n->kids[i]);

            if (f == NULL || h->value_put(g->rec, v, n->names[i], f) != SLUICE_OK) {
                return NULL;
            }
        }
        break;
    case DG_ARRAY: {
        size_t len = dg_gen_len(g, n);

        v = h->value_array(g->rec, n->schema);
        for (size_t i = 0; v != NULL && i < len; i++) {
            sluice_value_t *e = dg_value(g, n->kids[0]);

            if (e == NULL || h->value_append(g->rec, v, e) != SLUICE_OK) {
                return NULL;
            }
        }
        break;
    }
    case DG_MAP: {
        size_t len = dg_gen_len(g, n);

        v = h->value_map(g->rec, n->schema);
        for (size_t i = 0; v != NULL && i < len; i++) {
            sluice_value_t *k = dg_value(g, n->keys);
            sluice_value_t *e = k ? dg_value(g, n->kids[0]) : NULL;

            if (e == NULL || h->value_map_put(g->rec, v, k, e) != SLUICE_OK) {
                return NULL;
            }
        }
        break;
    }
    case DG_UNION: {
        size_t pick = (size_t)datagen_rand_below(g->r, n->nkids);
        sluice_value_t *e;

        if ((int)pick == n->null_branch) {
            return dg_typed(h->value_null(g->rec), n, g);
        }
        e = dg_value(g, n->kids[pick]);
        v = h->value_struct(g->rec, n->schema);
        if (v == NULL || e == NULL || h->value_put(g->rec, v, n->names[pick], e) != SLUICE_OK) {
            return NULL;
        }
        break;
    }
    }
    return dg_typed(v, n, g);
}

sluice_value_t *datagen_schema_generate(struct datagen_schema *s, sluice_record_t *rec,
                                        struct datagen_rand *r, uint64_t *iter,
                                        sluice_value_t **key)
{
    struct dg_gen g = {.s = s, .h = s->host, .rec = rec, .r = r, .iter = iter};
    const struct dg_node *n = s->root;
    const struct sluice_host *h = s->host;
    sluice_value_t *v;

    *key = NULL;
    if (n->options != NULL || s->key_index == SIZE_MAX) {
        v = dg_value(&g, n);
        if (v != NULL && s->key_index != SIZE_MAX) {
            *key = h->value_get(v, n->names[s->key_index]);
        }
        return v;
    }
    v = h->value_struct(rec, n->schema);
    for (size_t i = 0; v != NULL && i < n->nkids; i++) {
        sluice_value_t *f = dg_value(&g, n->kids[i]);

        if (f == NULL || h->value_put(rec, v, n->names[i], f) != SLUICE_OK) {
            return NULL;
        }
        if (i == s->key_index) {
            *key = f;
        }
    }
    if (v != NULL) {
        h->value_set_schema(v, n->schema);
    }
    return v;
}
