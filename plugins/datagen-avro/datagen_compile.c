/*
 * datagen_compile.c — compiles an Avro schema and its `arg.properties` hints
 * (avro-random-generator's language, as Confluent's Datagen reads it) into a tree of generator
 * nodes, one per place a type is used (datagen_node.h); datagen_generate.c generates typed values
 * from it.
 *
 * Hints are read from the type (like Confluent) and from the field (which Confluent ignores); the
 * field's win key by key. Every hint is checked against its type at compile time, so that a schema
 * that cannot be honoured fails `init` (and `sluice lint`) with the field path and the hint, never
 * a record later. Everything a compiled schema owns lives in one bump pool freed at once; the
 * generation itself allocates only values in the batch arena.
 */
#include "datagen_schema.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "datagen_node.h"
#include "datagen_regex.h"

static const char *const dg_kind_names[] = {
    "null",  "boolean", "int",    "long",  "float", "double", "bytes",          "string",
    "fixed", "enum",    "record", "array", "map",   "union",  "optional union",
};

/* ---------------------------------------------------------------------------------------------- */
/* Compile-time memory and messages */

static void *dg_alloc(struct datagen_schema *s, size_t n)
{
    struct dg_block *b = s->blocks;
    void *p;

    n = (n + 15) & ~(size_t)15;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;

        b = malloc(sizeof *b + cap);
        if (b == NULL) {
            s->nomem = 1;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = s->blocks;
        s->blocks = b;
    }
    p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *dg_strndup(struct datagen_schema *s, const char *str, size_t n)
{
    char *p = dg_alloc(s, n + 1);

    if (p != NULL) {
        memcpy(p, str, n);
        p[n] = '\0';
    }
    return p;
}

static char *dg_strdup(struct datagen_schema *s, const char *str)
{
    return dg_strndup(s, str, strlen(str));
}

static char *dg_printf(struct datagen_schema *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *dg_printf(struct datagen_schema *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dg_strdup(s, buf);
}

/* "<what>, field <path>: <message>" (or "<what>: <message>" at the top). */
static void dg_fail(struct datagen_schema *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dg_fail(struct datagen_schema *s, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    if (s->failed) {
        return;
    }
    s->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path != NULL && path[0] != '\0') {
        snprintf(s->errstr, s->errstr_size, "%s, field %s: %s", s->what, path, msg);
    } else {
        snprintf(s->errstr, s->errstr_size, "%s: %s", s->what, msg);
    }
}

static int dg_track_regex(struct datagen_schema *s, struct datagen_regex *re)
{
    if (s->nregexes == s->capregexes) {
        size_t cap = s->capregexes ? s->capregexes * 2 : 8;
        struct datagen_regex **n = realloc(s->regexes, cap * sizeof *n);

        if (n == NULL) {
            datagen_regex_free(re);
            s->nomem = 1;
            return -1;
        }
        s->regexes = n;
        s->capregexes = cap;
    }
    s->regexes[s->nregexes++] = re;
    return 0;
}

static void dg_need_scratch(struct datagen_schema *s, size_t n)
{
    if (n > s->scratch_size) {
        s->scratch_size = n;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Connect schemas */

static sluice_schema_t *dg_schema_new(struct datagen_schema *s, sluice_type_t t, int optional)
{
    sluice_schema_t *sc = s->host->schema_new(s->ctx, t);

    if (sc == NULL) {
        s->nomem = 1;
        return NULL;
    }
    s->host->schema_set_optional(sc, optional);
    return sc;
}

static int dg_schema_logical(struct datagen_schema *s, sluice_schema_t *sc, const char *name)
{
    if (s->host->schema_set_name(sc, name) != SLUICE_OK) {
        s->nomem = 1;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON helpers */

static const char *dg_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int dg_is_int(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) < 9.3e18;
}

static const char *dg_json_kind(const cJSON *v)
{
    if (cJSON_IsNull(v)) {
        return "null";
    }
    if (cJSON_IsBool(v)) {
        return "a boolean";
    }
    if (cJSON_IsNumber(v)) {
        return "a number";
    }
    if (cJSON_IsString(v)) {
        return "a string";
    }
    if (cJSON_IsArray(v)) {
        return "an array";
    }
    return "an object";
}

static int dg_is_int_kind(const struct dg_node *n)
{
    return n->kind == DG_INT || n->kind == DG_LONG || n->logical == DG_L_DECIMAL;
}

static int dg_is_float_kind(const struct dg_node *n)
{
    return n->kind == DG_FLOAT || n->kind == DG_DOUBLE;
}

static const char *dg_type_label(const struct dg_node *n)
{
    if (n->logical == DG_L_DECIMAL) {
        return "decimal";
    }
    return dg_kind_names[n->kind];
}

static const char *dg_article(const struct dg_node *n)
{
    return strchr("aeiou", dg_type_label(n)[0]) != NULL ? "an" : "a";
}

static int64_t dg_pow10(int e)
{
    int64_t v = 1;

    for (int i = 0; i < e && i < 18; i++) {
        v *= 10;
    }
    return v;
}

/* A decimal number (JSON number or string) → unscaled integer at `scale`. */
static int dg_decimal_unscaled(const cJSON *v, int scale, int64_t *out)
{
    double d;
    long double x;

    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        char *end;

        errno = 0;
        d = strtod(v->valuestring, &end);
        if (errno != 0 || end == v->valuestring || *end != '\0') {
            return -1;
        }
    } else {
        return -1;
    }
    x = (long double)d * (long double)dg_pow10(scale);
    if (!isfinite(d) || fabsl(x) >= 9.2e18L) {
        return -1;
    }
    *out = llroundl(x);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Options: constants checked against their node */

static int dg_const_compile(struct datagen_schema *s, const struct dg_node *n, const cJSON *j,
                            struct dg_const *c, char *why, size_t why_size);

/* Avro's JSON encoding of bytes: each code point U+0000..U+00FF is one byte. */
static int dg_json_bytes(struct datagen_schema *s, const char *str, struct dg_const *c)
{
    size_t n = strlen(str), out = 0;
    unsigned char *p = dg_alloc(s, n + 1);

    if (p == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)str[i];

        if (b < 0x80) {
            p[out++] = b;
            i++;
        } else if ((b & 0xe0) == 0xc0 && i + 1 < n && b <= 0xc3) {
            p[out++] = (unsigned char)(((b & 0x1f) << 6) | ((unsigned char)str[i + 1] & 0x3f));
            i += 2;
        } else {
            return -2;
        }
    }
    c->s = (const char *)p;
    c->len = out;
    return 0;
}

void dg_encode_decimal(int64_t u, unsigned char *buf, size_t *len)
{
    unsigned char tmp[8];
    size_t n = 8, start = 0;

    for (int i = 7; i >= 0; i--) {
        tmp[i] = (unsigned char)((uint64_t)u & 0xff);
        u = (int64_t)((uint64_t)u >> 8) | (u < 0 ? (int64_t)0xff00000000000000ull : 0);
    }
    /* Minimal two's complement: drop leading bytes that only repeat the sign. */
    while (start < n - 1 && ((tmp[start] == 0x00 && !(tmp[start + 1] & 0x80)) ||
                             (tmp[start] == 0xff && (tmp[start + 1] & 0x80)))) {
        start++;
    }
    *len = n - start;
    memcpy(buf, tmp + start, *len);
}

/* Sign-extends the minimal encoding into `size` bytes (fixed decimals). */
int dg_encode_decimal_fixed(int64_t u, unsigned char *buf, size_t size)
{
    unsigned char tmp[8];
    size_t n;

    dg_encode_decimal(u, tmp, &n);
    if (n > size) {
        return -1;
    }
    memset(buf, u < 0 ? 0xff : 0x00, size - n);
    memcpy(buf + size - n, tmp, n);
    return 0;
}

static int dg_const_compile(struct datagen_schema *s, const struct dg_node *n, const cJSON *j,
                            struct dg_const *c, char *why, size_t why_size)
{
    c->node = n;
    switch (n->kind) {
    case DG_NULL:
        if (!cJSON_IsNull(j)) {
            goto wrong;
        }
        c->is_null = 1;
        return 0;
    case DG_OPTIONAL:
        if (cJSON_IsNull(j)) {
            c->is_null = 1;
            return 0;
        }
        return dg_const_compile(s, n->kids[0], j, c, why, why_size);
    case DG_BOOLEAN:
        if (!cJSON_IsBool(j)) {
            goto wrong;
        }
        c->i = cJSON_IsTrue(j);
        return 0;
    case DG_INT:
    case DG_LONG:
        if (!dg_is_int(j)) {
            goto wrong;
        }
        c->i = (int64_t)j->valuedouble;
        if (n->kind == DG_INT && (c->i < INT32_MIN || c->i > INT32_MAX)) {
            snprintf(why, why_size, "%lld is out of range for an int", (long long)c->i);
            return -1;
        }
        return 0;
    case DG_FLOAT:
    case DG_DOUBLE:
        if (!cJSON_IsNumber(j)) {
            goto wrong;
        }
        c->f = j->valuedouble;
        return 0;
    case DG_STRING:
        if (!cJSON_IsString(j)) {
            goto wrong;
        }
        c->s = dg_strdup(s, j->valuestring);
        c->len = strlen(j->valuestring);
        return c->s == NULL ? -1 : 0;
    case DG_ENUM:
        if (!cJSON_IsString(j)) {
            goto wrong;
        }
        for (size_t i = 0; i < n->nsymbols; i++) {
            if (strcmp(n->symbols[i], j->valuestring) == 0) {
                c->s = n->symbols[i];
                c->len = n->symlens[i];
                return 0;
            }
        }
        snprintf(why, why_size, "\"%s\" is not a symbol of the enum", j->valuestring);
        return -1;
    case DG_BYTES:
    case DG_FIXED:
        if (n->logical == DG_L_DECIMAL) {
            unsigned char buf[64];
            size_t len;

            if (dg_decimal_unscaled(j, n->decimal_scale, &c->i) != 0) {
                snprintf(why, why_size,
                         "%s is not a decimal number that fits (write 12.34 or "
                         "\"12.34\")",
                         dg_json_kind(j));
                return -1;
            }
            if (n->kind == DG_FIXED) {
                if (n->fixed_size > sizeof buf ||
                    dg_encode_decimal_fixed(c->i, buf, n->fixed_size) != 0) {
                    snprintf(why, why_size, "a decimal too large for the fixed size");
                    return -1;
                }
                len = n->fixed_size;
            } else {
                dg_encode_decimal(c->i, buf, &len);
            }
            c->s = dg_strndup(s, (const char *)buf, len);
            c->len = len;
            return c->s == NULL ? -1 : 0;
        }
        if (!cJSON_IsString(j)) {
            goto wrong;
        }
        if (dg_json_bytes(s, j->valuestring, c) != 0) {
            snprintf(why, why_size, "bytes are written as a string of code points U+0000..U+00FF");
            return -1;
        }
        if (n->kind == DG_FIXED && c->len != n->fixed_size) {
            snprintf(why, why_size, "a value of %zu bytes for a fixed of %zu", c->len,
                     n->fixed_size);
            return -1;
        }
        return 0;
    case DG_ARRAY: {
        size_t i = 0;
        const cJSON *e;

        if (!cJSON_IsArray(j)) {
            goto wrong;
        }
        c->nkids = (size_t)cJSON_GetArraySize(j);
        c->kids = dg_alloc(s, (c->nkids ? c->nkids : 1) * sizeof *c->kids);
        if (c->kids == NULL) {
            return -1;
        }
        cJSON_ArrayForEach(e, j)
        {
            if (dg_const_compile(s, n->kids[0], e, &c->kids[i++], why, why_size) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case DG_MAP: {
        size_t i = 0;
        const cJSON *e;

        if (!cJSON_IsObject(j)) {
            goto wrong;
        }
        c->nkids = (size_t)cJSON_GetArraySize(j);
        c->kids = dg_alloc(s, (c->nkids ? c->nkids : 1) * sizeof *c->kids);
        c->keys = dg_alloc(s, (c->nkids ? c->nkids : 1) * sizeof *c->keys);
        c->keylens = dg_alloc(s, (c->nkids ? c->nkids : 1) * sizeof *c->keylens);
        if (c->kids == NULL || c->keys == NULL || c->keylens == NULL) {
            return -1;
        }
        cJSON_ArrayForEach(e, j)
        {
            c->keys[i] = dg_strdup(s, e->string);
            c->keylens[i] = strlen(e->string);
            if (c->keys[i] == NULL ||
                dg_const_compile(s, n->kids[0], e, &c->kids[i], why, why_size) != 0) {
                return -1;
            }
            i++;
        }
        return 0;
    }
    case DG_RECORD:
        if (!cJSON_IsObject(j)) {
            goto wrong;
        }
        for (const cJSON *e = j->child; e != NULL; e = e->next) {
            size_t k;

            for (k = 0; k < n->nkids && strcmp(n->names[k], e->string) != 0; k++) {
            }
            if (k == n->nkids) {
                snprintf(why, why_size, "the record has no field '%s'", e->string);
                return -1;
            }
        }
        c->nkids = n->nkids;
        c->kids = dg_alloc(s, (n->nkids ? n->nkids : 1) * sizeof *c->kids);
        if (c->kids == NULL) {
            return -1;
        }
        for (size_t k = 0; k < n->nkids; k++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, n->names[k]);
            cJSON null = {.type = cJSON_NULL};

            if (f == NULL) {
                if (n->kids[k]->kind != DG_OPTIONAL && n->kids[k]->kind != DG_NULL &&
                    !(n->kids[k]->kind == DG_UNION && n->kids[k]->null_branch >= 0)) {
                    snprintf(why, why_size, "field '%s' is missing", n->names[k]);
                    return -1;
                }
                f = &null;
            }
            if (dg_const_compile(s, n->kids[k], f, &c->kids[k], why, why_size) != 0) {
                char inner[512];
                int n1 = snprintf(inner, sizeof inner, "field '%s': ", n->names[k]);

                if (n1 > 0 && (size_t)n1 < sizeof inner) {
                    snprintf(inner + n1, sizeof inner - (size_t)n1, "%s", why);
                }
                snprintf(why, why_size, "%s", inner);
                return -1;
            }
        }
        return 0;
    case DG_UNION: {
        /* Avro's JSON encoding {"branch": value}, or a bare value of the first branch it fits. */
        char inner[256];

        if (cJSON_IsNull(j) && n->null_branch >= 0) {
            c->is_null = 1;
            return 0;
        }
        if (cJSON_IsObject(j) && cJSON_GetArraySize(j) == 1) {
            for (size_t k = 0; k < n->nkids; k++) {
                if (n->kids[k] != NULL && strcmp(n->names[k], j->child->string) == 0) {
                    c->nkids = 1;
                    c->i = (int64_t)k;
                    c->kids = dg_alloc(s, sizeof *c->kids);
                    return c->kids == NULL
                               ? -1
                               : dg_const_compile(s, n->kids[k], j->child, c->kids, why, why_size);
                }
            }
        }
        for (size_t k = 0; k < n->nkids; k++) {
            struct dg_const tmp = {0};

            if (n->kids[k] == NULL) {
                continue;
            }
            if (dg_const_compile(s, n->kids[k], j, &tmp, inner, sizeof inner) == 0) {
                c->nkids = 1;
                c->i = (int64_t)k;
                c->kids = dg_alloc(s, sizeof *c->kids);
                if (c->kids == NULL) {
                    return -1;
                }
                *c->kids = tmp;
                return 0;
            }
        }
        snprintf(why, why_size, "%s fits no branch of the union", dg_json_kind(j));
        return -1;
    }
    }
wrong:
    snprintf(why, why_size, "%s where the type is %s", dg_json_kind(j), dg_kind_names[n->kind]);
    return -1;
}

static cJSON *dg_read_options_file(struct datagen_schema *s, struct dg_node *n, const cJSON *spec)
{
    const char *file = dg_json_str(spec, "file");
    const char *enc = dg_json_str(spec, "encoding");
    char path[4096];
    FILE *f = NULL;
    char *text = NULL;
    long size;
    cJSON *arr = NULL;
    const char *p, *end;

    if (file == NULL) {
        dg_fail(s, n->path,
                "hint 'options': an object must be {\"file\": path, \"encoding\": "
                "\"json\"}");
        goto out;
    }
    if (enc != NULL && strcmp(enc, "json") != 0) {
        dg_fail(s, n->path, "hint 'options': encoding '%s' of %s is not supported (only \"json\")",
                enc, file);
        goto out;
    }
    if (file[0] != '/' && s->base_dir != NULL) {
        snprintf(path, sizeof path, "%s/%s", s->base_dir, file);
    } else {
        snprintf(path, sizeof path, "%s", file);
    }
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        dg_fail(s, n->path, "hint 'options': cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL) {
        s->nomem = 1;
        goto out;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        dg_fail(s, n->path, "hint 'options': cannot read %s", path);
        goto out;
    }
    text[size] = '\0';
    /* A JSON array, or JSON values one after another (one per line). */
    p = text + strspn(text, " \t\r\n");
    if (*p == '[') {
        arr = cJSON_ParseWithOpts(p, &end, 0);
        if (arr == NULL) {
            dg_fail(s, n->path, "hint 'options': %s is not valid JSON near byte %ld", path,
                    (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
        }
        goto out;
    }
    arr = cJSON_CreateArray();
    if (arr == NULL) {
        s->nomem = 1;
        goto out;
    }
    while (*p != '\0') {
        cJSON *v = cJSON_ParseWithOpts(p, &end, 0);

        if (v == NULL) {
            dg_fail(s, n->path, "hint 'options': %s is not valid JSON near byte %ld", path,
                    (long)(p - text));
            cJSON_Delete(arr);
            arr = NULL;
            goto out;
        }
        cJSON_AddItemToArray(arr, v);
        p = end + strspn(end, " \t\r\n");
    }
out:
    if (f != NULL) {
        fclose(f);
    }
    free(text);
    return arr;
}

static void dg_hint_options(struct datagen_schema *s, struct dg_node *n, const cJSON *h)
{
    cJSON *owned = NULL;
    const cJSON *list = h;
    const cJSON *e;
    size_t i = 0;
    char why[512];

    if (cJSON_IsObject(h)) {
        owned = dg_read_options_file(s, n, h);
        if (owned == NULL) {
            return;
        }
        list = owned;
    } else if (!cJSON_IsArray(h)) {
        dg_fail(s, n->path, "hint 'options' must be a list of values or {\"file\": path}");
        return;
    }
    n->noptions = (size_t)cJSON_GetArraySize(list);
    if (n->noptions == 0) {
        dg_fail(s, n->path, "hint 'options' is an empty list");
        goto out;
    }
    n->options = dg_alloc(s, n->noptions * sizeof *n->options);
    if (n->options == NULL) {
        goto out;
    }
    cJSON_ArrayForEach(e, list)
    {
        why[0] = '\0';
        if (dg_const_compile(s, n, e, &n->options[i], why, sizeof why) != 0) {
            if (!s->nomem) {
                dg_fail(s, n->path, "hint 'options': item %zu: %s", i + 1, why);
            }
            goto out;
        }
        i++;
    }
out:
    cJSON_Delete(owned);
}

/* ---------------------------------------------------------------------------------------------- */
/* The other hints */

static int dg_num(struct datagen_schema *s, struct dg_node *n, const cJSON *h, const char *hint,
                  const char *key, int required, double *out, int64_t *iout)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);

    if (v == NULL) {
        if (required) {
            dg_fail(s, n->path, "hint '%s' needs \"%s\"", hint, key);
        }
        return 0;
    }
    if (n->logical == DG_L_DECIMAL) {
        if (dg_decimal_unscaled(v, n->decimal_scale, iout) != 0) {
            dg_fail(s, n->path,
                    "hint '%s': \"%s\" must be a decimal number that fits 64 bits "
                    "at scale %d",
                    hint, key, n->decimal_scale);
            return -1;
        }
        *out = (double)*iout;
        return 1;
    }
    if (dg_is_int_kind(n) || n->kind == DG_BOOLEAN) {
        if (!dg_is_int(v)) {
            dg_fail(s, n->path, "hint '%s': \"%s\" must be an integer for %s %s", hint, key,
                    dg_article(n), dg_kind_names[n->kind]);
            return -1;
        }
        *iout = (int64_t)v->valuedouble;
        *out = v->valuedouble;
        if (n->kind == DG_INT && (*iout < INT32_MIN || *iout > (int64_t)INT32_MAX + 1)) {
            dg_fail(s, n->path, "hint '%s': \"%s\" %lld is out of range for an int", hint, key,
                    (long long)*iout);
            return -1;
        }
        return 1;
    }
    if (!cJSON_IsNumber(v)) {
        dg_fail(s, n->path, "hint '%s': \"%s\" must be a number", hint, key);
        return -1;
    }
    *out = v->valuedouble;
    return 1;
}

static void dg_hint_range(struct datagen_schema *s, struct dg_node *n, const cJSON *h)
{
    double dmin = 0, dmax = 0;
    int64_t imin = 0, imax = 0;
    int has_min, has_max;

    if (!cJSON_IsObject(h)) {
        dg_fail(s, n->path, "hint 'range' must be an object {\"min\": a, \"max\": b}");
        return;
    }
    for (const cJSON *e = h->child; e != NULL; e = e->next) {
        if (strcmp(e->string, "min") != 0 && strcmp(e->string, "max") != 0) {
            dg_fail(s, n->path, "hint 'range': unknown key \"%s\" (known: min, max)", e->string);
            return;
        }
    }
    has_min = dg_num(s, n, h, "range", "min", 0, &dmin, &imin);
    has_max = dg_num(s, n, h, "range", "max", 0, &dmax, &imax);
    if (has_min < 0 || has_max < 0) {
        return;
    }
    if (!has_min && !has_max) {
        dg_fail(s, n->path, "hint 'range' needs \"min\", \"max\" or both");
        return;
    }
    if (dg_is_int_kind(n)) {
        int64_t lo = has_min ? imin : n->ilo;
        int64_t hi = has_max ? imax - 1 : n->ihi; /* max is exclusive */

        if ((has_min && has_max && imin >= imax) || lo > hi) {
            dg_fail(s, n->path,
                    "hint 'range': min must be below max (min is inclusive, max "
                    "exclusive)");
            return;
        }
        if (n->logical == DG_L_DECIMAL && (lo < n->ilo || hi > n->ihi)) {
            dg_fail(s, n->path, "hint 'range' goes beyond the decimal's precision %d",
                    n->decimal_precision);
            return;
        }
        n->ilo = lo;
        n->ihi = hi;
        return;
    }
    if (has_min) {
        n->dlo = dmin;
    }
    if (has_max) {
        n->dhi = dmax;
    } else if (n->dhi <= n->dlo) {
        n->dhi = n->kind == DG_FLOAT ? FLT_MAX : DBL_MAX;
    }
    if (!has_min && n->dlo >= n->dhi) {
        n->dlo = n->kind == DG_FLOAT ? -FLT_MAX : -DBL_MAX;
    }
    if (!(n->dlo < n->dhi) || !isfinite(n->dlo) || !isfinite(n->dhi)) {
        dg_fail(s, n->path,
                "hint 'range': min must be below max (min is inclusive, max "
                "exclusive)");
        return;
    }
    if (n->kind == DG_FLOAT && (fabs(n->dlo) > FLT_MAX || fabs(n->dhi) > FLT_MAX)) {
        dg_fail(s, n->path, "hint 'range' goes beyond a float");
    }
}

static void dg_hint_iteration(struct datagen_schema *s, struct dg_node *n, const cJSON *h)
{
    double start = 0, step = 0, restart = 0, initial = 0;
    int64_t istart = 0, istep = 0, irestart = 0, iinitial = 0;
    int has_step, has_restart, has_initial;

    if (!cJSON_IsObject(h)) {
        dg_fail(s, n->path,
                "hint 'iteration' must be an object {\"start\": s, \"step\": k, "
                "\"restart\": r, \"initial\": i}");
        return;
    }
    for (const cJSON *e = h->child; e != NULL; e = e->next) {
        if (strcmp(e->string, "start") != 0 && strcmp(e->string, "step") != 0 &&
            strcmp(e->string, "restart") != 0 && strcmp(e->string, "initial") != 0) {
            dg_fail(s, n->path,
                    "hint 'iteration': unknown key \"%s\" (known: start, step, restart, initial)",
                    e->string);
            return;
        }
    }
    n->has_iter = 1;
    n->iter_slot = s->niter++;
    if (n->kind == DG_BOOLEAN) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "start");

        if (v != NULL && !cJSON_IsBool(v)) {
            dg_fail(s, n->path, "hint 'iteration': \"start\" must be true or false for a boolean");
            return;
        }
        n->it_start = v != NULL && cJSON_IsTrue(v);
        return;
    }
    if (dg_num(s, n, h, "iteration", "start", 1, &start, &istart) <= 0) {
        return;
    }
    has_step = dg_num(s, n, h, "iteration", "step", 0, &step, &istep);
    has_restart = dg_num(s, n, h, "iteration", "restart", 0, &restart, &irestart);
    has_initial = dg_num(s, n, h, "iteration", "initial", 0, &initial, &iinitial);
    if (has_step < 0 || has_restart < 0 || has_initial < 0) {
        return;
    }
    if (dg_is_int_kind(n)) {
        int64_t tmin = n->logical == DG_L_DECIMAL ? n->ilo
                       : n->kind == DG_INT        ? INT32_MIN
                                                  : INT64_MIN;
        int64_t tmax = n->logical == DG_L_DECIMAL ? n->ihi
                       : n->kind == DG_INT        ? INT32_MAX
                                                  : INT64_MAX;

        if (has_restart && irestart == istart) {
            dg_fail(s, n->path, "hint 'iteration': restart must differ from start");
            return;
        }
        if (!has_step) {
            istep = has_restart && irestart < istart ? -1 : 1;
        }
        if (istep == 0) {
            dg_fail(s, n->path, "hint 'iteration': step must not be 0");
            return;
        }
        if (!has_restart) {
            irestart = istep > 0 ? tmax : tmin;
        }
        if ((istep > 0) != (irestart > istart)) {
            dg_fail(s, n->path, "hint 'iteration': the step goes away from restart");
            return;
        }
        if (istart < tmin || istart > tmax || irestart < tmin || irestart > tmax) {
            dg_fail(s, n->path, "hint 'iteration': start and restart must fit the %s",
                    dg_kind_names[n->kind]);
            return;
        }
        n->it_start = istart;
        n->it_step = istep;
        n->it_restart = irestart;
        n->it_initial = has_initial ? iinitial : istart;
        return;
    }
    if (has_restart && restart == start) {
        dg_fail(s, n->path, "hint 'iteration': restart must differ from start");
        return;
    }
    if (!has_step) {
        step = has_restart && restart < start ? -1 : 1;
    }
    if (step == 0 || !isfinite(step)) {
        dg_fail(s, n->path, "hint 'iteration': step must not be 0");
        return;
    }
    if (!has_restart) {
        restart = step > 0 ? (n->kind == DG_FLOAT ? FLT_MAX : DBL_MAX)
                           : (n->kind == DG_FLOAT ? -FLT_MAX : -DBL_MAX);
    }
    if ((step > 0) != (restart > start)) {
        dg_fail(s, n->path, "hint 'iteration': the step goes away from restart");
        return;
    }
    n->itf_start = start;
    n->itf_step = step;
    n->itf_restart = restart;
    n->itf_initial = has_initial ? initial : start;
}

static int dg_len_value(struct datagen_schema *s, struct dg_node *n, const cJSON *v,
                        const char *key, size_t *out)
{
    if (!dg_is_int(v) || v->valuedouble < 0 || v->valuedouble > DG_MAX_LENGTH) {
        dg_fail(s, n->path, "hint 'length': %s must be an integer in 0..%d", key, DG_MAX_LENGTH);
        return -1;
    }
    *out = (size_t)v->valuedouble;
    return 0;
}

/* length: a number (exact; with a regex: a minimum) or {min, max} (max exclusive). Sets
 * [len_min, len_max) and returns 1 when given, 0 when absent, -1 on error; `exact` says a number.
 */
static int dg_hint_length(struct datagen_schema *s, struct dg_node *n, const cJSON *h, int *exact)
{
    *exact = 0;
    if (h == NULL) {
        return 0;
    }
    if (cJSON_IsNumber(h)) {
        if (dg_len_value(s, n, h, "the length", &n->len_min) != 0) {
            return -1;
        }
        n->len_max = n->len_min + 1;
        *exact = 1;
        return 1;
    }
    if (cJSON_IsObject(h)) {
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(h, "min");
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(h, "max");

        for (const cJSON *e = h->child; e != NULL; e = e->next) {
            if (strcmp(e->string, "min") != 0 && strcmp(e->string, "max") != 0) {
                dg_fail(s, n->path, "hint 'length': unknown key \"%s\" (known: min, max)",
                        e->string);
                return -1;
            }
        }
        if (mn == NULL && mx == NULL) {
            dg_fail(s, n->path, "hint 'length' needs \"min\", \"max\" or both");
            return -1;
        }
        n->len_min = 0;
        if (mn != NULL && dg_len_value(s, n, mn, "min", &n->len_min) != 0) {
            return -1;
        }
        if (mx != NULL) {
            if (dg_len_value(s, n, mx, "max", &n->len_max) != 0) {
                return -1;
            }
        } else {
            n->len_max = n->len_min + 9;
        }
        if (n->len_min >= n->len_max) {
            dg_fail(s, n->path, "hint 'length': min must be below max (max is exclusive)");
            return -1;
        }
        return 1;
    }
    dg_fail(s, n->path, "hint 'length' must be a number or {\"min\": a, \"max\": b}");
    return -1;
}

static void dg_hint_affix(struct datagen_schema *s, struct dg_node *n, const cJSON *h,
                          const char *hint, const char **out, size_t *out_len)
{
    if (h == NULL) {
        return;
    }
    if (!cJSON_IsString(h)) {
        dg_fail(s, n->path, "hint '%s' must be a string", hint);
        return;
    }
    *out = dg_strdup(s, h->valuestring);
    *out_len = strlen(h->valuestring);
}

/* regex, length, prefix, suffix of a string node (and of map keys). */
static void dg_hints_string(struct datagen_schema *s, struct dg_node *n, const cJSON *hints)
{
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(hints, "regex");
    int exact = 0;
    int has_len = dg_hint_length(s, n, cJSON_GetObjectItemCaseSensitive(hints, "length"), &exact);

    if (has_len < 0) {
        return;
    }
    dg_hint_affix(s, n, cJSON_GetObjectItemCaseSensitive(hints, "prefix"), "prefix", &n->prefix,
                  &n->prefix_len);
    dg_hint_affix(s, n, cJSON_GetObjectItemCaseSensitive(hints, "suffix"), "suffix", &n->suffix,
                  &n->suffix_len);
    if (re != NULL) {
        char why[256];
        unsigned extra = DG_DEFAULT_EXTRA;
        size_t rmin, rmax;

        if (!cJSON_IsString(re)) {
            dg_fail(s, n->path, "hint 'regex' must be a string");
            return;
        }
        if (has_len && exact) {
            n->len_max = DATAGEN_REGEX_MAX_LEN + 1; /* a number with a regex is a minimum */
        }
        if (has_len && n->len_max <= DATAGEN_REGEX_MAX_LEN && n->len_max > extra) {
            extra = (unsigned)n->len_max;
        } else if (has_len && n->len_min + 8 > extra) {
            extra = (unsigned)(n->len_min + 8);
        }
        n->regex = datagen_regex_compile(re->valuestring, extra, why, sizeof why);
        if (n->regex == NULL) {
            dg_fail(s, n->path, "hint 'regex' \"%s\": %s", re->valuestring, why);
            return;
        }
        if (dg_track_regex(s, n->regex) != 0) {
            return;
        }
        rmin = datagen_regex_min_len(n->regex);
        rmax = datagen_regex_max_len(n->regex);
        if (!has_len) {
            n->len_min = 0;
            n->len_max = rmax + 1;
        } else if (rmax < n->len_min || rmin >= n->len_max) {
            dg_fail(s, n->path,
                    "hint 'regex' \"%s\" makes strings of %zu to %zu bytes, none within hint "
                    "'length' [%zu, %zu)",
                    re->valuestring, rmin, rmax, n->len_min, n->len_max);
            return;
        }
        dg_need_scratch(s, n->prefix_len + rmax + n->suffix_len);
        return;
    }
    if (!has_len) {
        n->len_min = 8;
        n->len_max = 16;
    }
    dg_need_scratch(s, n->prefix_len + n->len_max + n->suffix_len);
}

static const char *const dg_known_hints[] = {"options", "range",  "regex", "iteration", "length",
                                             "prefix",  "suffix", "keys",  "odds",      NULL};

/* The hints each kind accepts, besides `options` (every kind takes it). */
static const char *dg_kind_hints(const struct dg_node *n)
{
    if (n->logical == DG_L_DECIMAL) {
        return "options, range, iteration";
    }
    switch (n->kind) {
    case DG_BOOLEAN:
        return "options, iteration, odds";
    case DG_INT:
    case DG_LONG:
    case DG_FLOAT:
    case DG_DOUBLE:
        return "options, range, iteration";
    case DG_STRING:
        return "options, length, regex, prefix, suffix";
    case DG_BYTES:
    case DG_ARRAY:
        return "options, length";
    case DG_MAP:
        return "options, length, keys";
    default:
        return "options";
    }
}

static int dg_hint_allowed(const struct dg_node *n, const char *hint)
{
    const char *list = dg_kind_hints(n);
    size_t len = strlen(hint);

    for (const char *p = list; (p = strstr(p, hint)) != NULL; p += len) {
        if ((p == list || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0')) {
            return 1;
        }
    }
    return 0;
}

/* Checks the hint names against the node's kind and applies them. */
static void dg_apply_hints(struct datagen_schema *s, struct dg_node *n, const cJSON *hints)
{
    const cJSON *h;

    if (hints == NULL) {
        if (n->kind == DG_STRING && n->logical != DG_L_UUID) {
            dg_hints_string(s, n, NULL);
        } else if (n->kind == DG_BYTES && n->logical != DG_L_DECIMAL) {
            n->len_min = 8;
            n->len_max = 16;
        }
        return;
    }
    if (!cJSON_IsObject(hints)) {
        dg_fail(s, n->path, "arg.properties must be an object");
        return;
    }
    for (h = hints->child; h != NULL; h = h->next) {
        size_t k;

        for (k = 0; dg_known_hints[k] != NULL && strcmp(dg_known_hints[k], h->string) != 0; k++) {
        }
        if (dg_known_hints[k] == NULL) {
            dg_fail(s, n->path,
                    "unknown hint '%s' in arg.properties (known: options, range, regex, "
                    "iteration, length, prefix, suffix, keys, odds)",
                    h->string);
            return;
        }
        if (!dg_hint_allowed(n, h->string)) {
            dg_fail(s, n->path, "hint '%s' does not apply to %s %s (hints of %s %s: %s)", h->string,
                    dg_article(n), dg_type_label(n), dg_article(n), dg_type_label(n),
                    dg_kind_hints(n));
            return;
        }
    }
    if ((h = cJSON_GetObjectItemCaseSensitive(hints, "options")) != NULL) {
        dg_hint_options(s, n, h);
    }
    if ((h = cJSON_GetObjectItemCaseSensitive(hints, "range")) != NULL) {
        dg_hint_range(s, n, h);
    }
    if ((h = cJSON_GetObjectItemCaseSensitive(hints, "iteration")) != NULL) {
        dg_hint_iteration(s, n, h);
    }
    if ((h = cJSON_GetObjectItemCaseSensitive(hints, "odds")) != NULL) {
        if (!cJSON_IsNumber(h) || !(h->valuedouble >= 0.0 && h->valuedouble <= 1.0)) {
            dg_fail(s, n->path,
                    "hint 'odds' must be a number from 0 to 1 (the probability of "
                    "true)");
            return;
        }
        n->odds = h->valuedouble;
    }
    if (n->kind == DG_STRING && (n->logical != DG_L_UUID || n->options == NULL)) {
        if (n->logical == DG_L_UUID && !cJSON_GetObjectItemCaseSensitive(hints, "regex") &&
            !cJSON_GetObjectItemCaseSensitive(hints, "length")) {
            return;
        }
        dg_hints_string(s, n, hints);
    } else if (n->kind == DG_BYTES || n->kind == DG_ARRAY || n->kind == DG_MAP) {
        int exact;
        int has = dg_hint_length(s, n, cJSON_GetObjectItemCaseSensitive(hints, "length"), &exact);

        if (has == 0 && n->logical != DG_L_DECIMAL) {
            n->len_min = 8;
            n->len_max = 16;
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Schema compilation */

static struct dg_node *dg_compile(struct datagen_schema *s, const cJSON *type,
                                  const cJSON *field_hints, const char *path, int optional,
                                  const char *ns);

static const char *dg_full_name(struct datagen_schema *s, const cJSON *obj, const char *ns,
                                const char *path, const char **space)
{
    const char *name = dg_json_str(obj, "name");
    const char *nspace = dg_json_str(obj, "namespace");
    const char *dot;

    if (name == NULL || name[0] == '\0') {
        dg_fail(s, path, "a named Avro type (record, enum, fixed) has no \"name\"");
        return NULL;
    }
    dot = strrchr(name, '.');
    if (dot != NULL) {
        *space = dg_strndup(s, name, (size_t)(dot - name));
        return dg_strdup(s, name);
    }
    if (nspace == NULL) {
        nspace = ns;
    }
    *space = nspace != NULL && nspace[0] != '\0' ? nspace : NULL;
    if (*space == NULL) {
        return dg_strdup(s, name);
    }
    return dg_printf(s, "%s.%s", *space, name);
}

static int dg_define(struct datagen_schema *s, const char *full, const cJSON *def,
                     const char *space, const char *path)
{
    struct dg_named *d;

    for (d = s->named; d != NULL; d = d->next) {
        if (strcmp(d->full, full) == 0) {
            if (d->def != def) {
                dg_fail(s, path, "the type name '%s' is defined twice", full);
                return -1;
            }
            return 0;
        }
    }
    d = dg_alloc(s, sizeof *d);
    if (d == NULL) {
        return -1;
    }
    d->full = full;
    d->def = def;
    d->space = space;
    d->next = s->named;
    s->named = d;
    return 0;
}

static struct dg_named *dg_lookup(struct datagen_schema *s, const char *name, const char *ns)
{
    char buf[1024];

    if (strchr(name, '.') == NULL && ns != NULL) {
        snprintf(buf, sizeof buf, "%s.%s", ns, name);
        for (struct dg_named *d = s->named; d != NULL; d = d->next) {
            if (strcmp(d->full, buf) == 0) {
                return d;
            }
        }
    }
    for (struct dg_named *d = s->named; d != NULL; d = d->next) {
        if (strcmp(d->full, name) == 0) {
            return d;
        }
    }
    return NULL;
}

/* Type-level hints overridden key by key by field-level ones, as one (borrowing) object. */
static cJSON *dg_merge_hints(struct datagen_schema *s, const cJSON *type_hints,
                             const cJSON *field_hints, const char *path)
{
    cJSON *m;

    if ((type_hints != NULL && !cJSON_IsObject(type_hints)) ||
        (field_hints != NULL && !cJSON_IsObject(field_hints))) {
        dg_fail(s, path, "arg.properties must be an object");
        return NULL;
    }
    m = cJSON_CreateObject();
    if (m == NULL) {
        s->nomem = 1;
        return NULL;
    }
    for (const cJSON *e = type_hints ? type_hints->child : NULL; e != NULL; e = e->next) {
        if (field_hints == NULL || !cJSON_GetObjectItemCaseSensitive(field_hints, e->string)) {
            cJSON_AddItemReferenceToObject(m, e->string, (cJSON *)e);
        }
    }
    for (const cJSON *e = field_hints ? field_hints->child : NULL; e != NULL; e = e->next) {
        cJSON_AddItemReferenceToObject(m, e->string, (cJSON *)e);
    }
    return m;
}

static struct dg_node *dg_node_new(struct datagen_schema *s, enum dg_kind kind, const char *path)
{
    struct dg_node *n = dg_alloc(s, sizeof *n);

    if (n != NULL) {
        n->kind = kind;
        n->path = path;
        n->null_branch = -1;
        n->odds = 0.5;
    }
    return n;
}

static const char *dg_child_path(struct datagen_schema *s, const char *path, const char *name)
{
    return path[0] == '\0' ? dg_strdup(s, name) : dg_printf(s, "%s.%s", path, name);
}

static struct dg_node *dg_compile_record(struct datagen_schema *s, struct dg_node *n,
                                         const cJSON *obj, const char *full, const char *space,
                                         int optional)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(obj, "fields");
    sluice_schema_t *sc;
    const cJSON *f;
    size_t i = 0;

    if (!cJSON_IsArray(fields)) {
        dg_fail(s, n->path, "record '%s' has no \"fields\" list", full);
        return NULL;
    }
    sc = s->host->schema_struct(s->ctx, full);
    if (sc == NULL) {
        s->nomem = 1;
        return NULL;
    }
    s->host->schema_set_optional(sc, optional);
    n->schema = sc;
    n->ctype = SLUICE_TYPE_STRUCT;
    n->nkids = (size_t)cJSON_GetArraySize(fields);
    n->kids = dg_alloc(s, (n->nkids ? n->nkids : 1) * sizeof *n->kids);
    n->names = dg_alloc(s, (n->nkids ? n->nkids : 1) * sizeof *n->names);
    if (n->kids == NULL || n->names == NULL) {
        return NULL;
    }
    cJSON_ArrayForEach(f, fields)
    {
        const char *fname = dg_json_str(f, "name");
        const cJSON *ftype = cJSON_GetObjectItemCaseSensitive(f, "type");
        const char *fpath;

        if (fname == NULL || ftype == NULL) {
            dg_fail(s, n->path, "record '%s': field %zu needs a \"name\" and a \"type\"", full,
                    i + 1);
            return NULL;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->names[k], fname) == 0) {
                dg_fail(s, n->path, "record '%s' has two fields named '%s'", full, fname);
                return NULL;
            }
        }
        fpath = dg_child_path(s, n->path, fname);
        n->names[i] = dg_strdup(s, fname);
        if (fpath == NULL || n->names[i] == NULL) {
            return NULL;
        }
        n->kids[i] = dg_compile(s, ftype, cJSON_GetObjectItemCaseSensitive(f, "arg.properties"),
                                fpath, 0, space);
        if (n->kids[i] == NULL) {
            return NULL;
        }
        if (n->kids[i]->kind == DG_NULL) {
            dg_fail(s, fpath, "a field of type null has no Kafka Connect form");
            return NULL;
        }
        if (s->host->schema_add_field(sc, fname, n->kids[i]->schema) != SLUICE_OK) {
            s->nomem = 1;
            return NULL;
        }
        i++;
    }
    return n;
}

/* The name AvroData gives a union branch of an unnamed type (the Connect Union struct's field). */
static const char *dg_branch_name(const struct dg_node *k)
{
    return dg_kind_names[k->kind];
}

static struct dg_node *dg_compile_union(struct datagen_schema *s, const cJSON *arr,
                                        const cJSON *field_hints, const char *path, int optional,
                                        const char *ns)
{
    struct dg_node *n;
    size_t nb = (size_t)cJSON_GetArraySize(arr), i = 0;
    int null_at = -1;
    const cJSON *b;
    cJSON *pass = NULL;
    const cJSON *opts =
        field_hints ? cJSON_GetObjectItemCaseSensitive(field_hints, "options") : NULL;

    if (nb == 0) {
        dg_fail(s, path, "an empty union has no values");
        return NULL;
    }
    cJSON_ArrayForEach(b, arr)
    {
        if (cJSON_IsString(b) && strcmp(b->valuestring, "null") == 0) {
            if (null_at >= 0) {
                dg_fail(s, path, "a union has null twice");
                return NULL;
            }
            null_at = (int)i;
        }
        i++;
    }
    if (nb == 1 && null_at == 0) {
        dg_fail(s, path, "a union of only null has no Kafka Connect form");
        return NULL;
    }
    if (field_hints != NULL && !cJSON_IsObject(field_hints)) {
        dg_fail(s, path, "arg.properties must be an object");
        return NULL;
    }
    if (nb == 2 && null_at >= 0) {
        /* Optional T: `options` stay here (they may be null); the other hints go to T. */
        const cJSON *t = cJSON_GetArrayItem(arr, 1 - null_at);

        n = dg_node_new(s, DG_OPTIONAL, path);
        if (n == NULL) {
            return NULL;
        }
        n->null_branch = null_at;
        if (field_hints != NULL) {
            pass = cJSON_CreateObject();
            if (pass == NULL) {
                s->nomem = 1;
                return NULL;
            }
            for (const cJSON *e = field_hints->child; e != NULL; e = e->next) {
                if (strcmp(e->string, "options") != 0) {
                    cJSON_AddItemReferenceToObject(pass, e->string, (cJSON *)e);
                }
            }
        }
        n->kids = dg_alloc(s, sizeof *n->kids);
        n->nkids = 1;
        if (n->kids != NULL) {
            n->kids[0] = dg_compile(s, t, pass, path, 1, ns);
        }
        cJSON_Delete(pass);
        if (n->kids == NULL || n->kids[0] == NULL) {
            return NULL;
        }
        n->schema = n->kids[0]->schema;
        n->ctype = n->kids[0]->ctype;
        if (opts != NULL) {
            dg_hint_options(s, n, opts);
        }
        return s->failed || s->nomem ? NULL : n;
    }
    /* Any other union: Connect's io.confluent.connect.avro.Union struct, one optional field per
     * branch other than null. */
    for (const cJSON *e = field_hints ? field_hints->child : NULL; e != NULL; e = e->next) {
        if (strcmp(e->string, "options") != 0) {
            dg_fail(s, path,
                    "hint '%s' does not apply to a union (hints of a union: options; put the "
                    "others on the branch types)",
                    e->string);
            return NULL;
        }
    }
    n = dg_node_new(s, DG_UNION, path);
    if (n == NULL) {
        return NULL;
    }
    n->null_branch = null_at;
    n->nkids = nb;
    n->kids = dg_alloc(s, nb * sizeof *n->kids);
    n->names = dg_alloc(s, nb * sizeof *n->names);
    sluice_schema_t *sc = s->host->schema_struct(s->ctx, DG_CONNECT_UNION);
    if (n->kids == NULL || n->names == NULL || sc == NULL) {
        s->nomem = 1;
        return NULL;
    }
    s->host->schema_set_optional(sc, optional || null_at >= 0);
    n->schema = sc;
    n->ctype = SLUICE_TYPE_STRUCT;
    i = 0;
    cJSON_ArrayForEach(b, arr)
    {
        struct dg_node *k;
        const char *bname;

        if ((int)i == null_at) {
            i++;
            continue;
        }
        if (cJSON_IsArray(b)) {
            dg_fail(s, path, "a union may not contain a union");
            return NULL;
        }
        k = dg_compile(s, b, NULL, path, 1, ns);
        if (k == NULL) {
            return NULL;
        }
        if (k->kind == DG_RECORD || k->kind == DG_ENUM || k->kind == DG_FIXED) {
            const char *full = s->host->schema_name(k->schema);
            const char *dot = full ? strrchr(full, '.') : NULL;

            bname = full == NULL ? dg_kind_names[k->kind] : dot ? dot + 1 : full;
            if (k->kind == DG_FIXED && k->logical == DG_L_DECIMAL) {
                bname = "fixed";
            }
        } else if (k->kind == DG_BYTES && k->logical == DG_L_DECIMAL) {
            bname = "bytes";
        } else {
            bname = dg_branch_name(k);
        }
        for (size_t j = 0; j < i; j++) {
            if (n->names[j] != NULL && strcmp(n->names[j], bname) == 0) {
                dg_fail(s, path, "two branches of a union are both '%s'", bname);
                return NULL;
            }
        }
        n->kids[i] = k;
        n->names[i] = bname;
        if (s->host->schema_add_field(sc, bname, k->schema) != SLUICE_OK) {
            s->nomem = 1;
            return NULL;
        }
        i++;
    }
    if (opts != NULL) {
        dg_hint_options(s, n, opts);
    }
    return s->failed || s->nomem ? NULL : n;
}

static struct dg_node *dg_compile_primitive(struct datagen_schema *s, const char *tn,
                                            const cJSON *obj, const char *path, int optional)
{
    static const struct {
        const char *name;
        enum dg_kind kind;
        sluice_type_t ctype;
    } prims[] = {
        {"null", DG_NULL, SLUICE_TYPE_NULL},      {"boolean", DG_BOOLEAN, SLUICE_TYPE_BOOLEAN},
        {"int", DG_INT, SLUICE_TYPE_INT32},       {"long", DG_LONG, SLUICE_TYPE_INT64},
        {"float", DG_FLOAT, SLUICE_TYPE_FLOAT32}, {"double", DG_DOUBLE, SLUICE_TYPE_FLOAT64},
        {"bytes", DG_BYTES, SLUICE_TYPE_BYTES},   {"string", DG_STRING, SLUICE_TYPE_STRING},
    };
    const char *logical = obj ? dg_json_str(obj, "logicalType") : NULL;
    struct dg_node *n;
    sluice_schema_t *sc = NULL;
    size_t k;

    for (k = 0; k < sizeof prims / sizeof prims[0] && strcmp(prims[k].name, tn) != 0; k++) {
    }
    if (k == sizeof prims / sizeof prims[0]) {
        return NULL;
    }
    n = dg_node_new(s, prims[k].kind, path);
    if (n == NULL) {
        return NULL;
    }
    n->ctype = prims[k].ctype;
    if (n->kind == DG_NULL) {
        return n;
    }
    sc = dg_schema_new(s, n->ctype, optional);
    if (sc == NULL) {
        return NULL;
    }
    n->schema = sc;
    switch (n->kind) {
    case DG_INT:
        n->ilo = INT32_MIN;
        n->ihi = INT32_MAX;
        if (logical != NULL && strcmp(logical, "date") == 0) {
            n->logical = DG_L_DATE;
            n->ilo = 0;
            n->ihi = 47481; /* 1970-01-01 .. 2099-12-31 */
            if (dg_schema_logical(s, sc, SLUICE_LOGICAL_DATE) != 0) {
                return NULL;
            }
        } else if (logical != NULL && strcmp(logical, "time-millis") == 0) {
            n->logical = DG_L_TIME_MILLIS;
            n->ilo = 0;
            n->ihi = 86399999;
            if (dg_schema_logical(s, sc, SLUICE_LOGICAL_TIME) != 0) {
                return NULL;
            }
        }
        break;
    case DG_LONG:
        n->ilo = INT64_MIN;
        n->ihi = INT64_MAX;
        if (logical != NULL && strcmp(logical, "timestamp-millis") == 0) {
            n->logical = DG_L_TS_MILLIS;
            n->ilo = 0;
            n->ihi = 4102444799999ll; /* .. 2099-12-31T23:59:59.999Z */
            if (dg_schema_logical(s, sc, SLUICE_LOGICAL_TIMESTAMP) != 0) {
                return NULL;
            }
        } else if (logical != NULL && (strcmp(logical, "timestamp-micros") == 0 ||
                                       strcmp(logical, "local-timestamp-micros") == 0)) {
            n->logical = DG_L_TS_MICROS;
            n->ilo = 0;
            n->ihi = 4102444799999999ll;
        } else if (logical != NULL && strcmp(logical, "local-timestamp-millis") == 0) {
            n->logical = DG_L_TS_MILLIS; /* AvroData has no local form: a plain long */
            n->ilo = 0;
            n->ihi = 4102444799999ll;
        } else if (logical != NULL && strcmp(logical, "time-micros") == 0) {
            n->logical = DG_L_TIME_MICROS;
            n->ilo = 0;
            n->ihi = 86399999999ll;
        }
        break;
    case DG_FLOAT:
    case DG_DOUBLE:
        n->dlo = 0.0;
        n->dhi = 1.0;
        break;
    case DG_STRING:
        if (logical != NULL && strcmp(logical, "uuid") == 0) {
            n->logical = DG_L_UUID;
            dg_need_scratch(s, 36);
        }
        break;
    case DG_BYTES:
        if (logical != NULL && strcmp(logical, "decimal") == 0) {
            n->logical = DG_L_DECIMAL;
        }
        break;
    default:
        break;
    }
    return n;
}

/* precision and scale of a decimal; its Connect schema and its unscaled bounds. */
static int dg_decimal(struct datagen_schema *s, struct dg_node *n, const cJSON *obj, int optional)
{
    const cJSON *prec = cJSON_GetObjectItemCaseSensitive(obj, "precision");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(obj, "scale");
    sluice_schema_t *sc;
    char buf[32];
    int64_t bound;

    /* Avro's Java reader keeps the precision in an int; so does n->decimal_precision. */
    if (!dg_is_int(prec) || prec->valuedouble < 1 || prec->valuedouble > INT32_MAX) {
        dg_fail(s, n->path, "a decimal needs a \"precision\" from 1 to %d", INT32_MAX);
        return -1;
    }
    if (scale != NULL &&
        (!dg_is_int(scale) || scale->valuedouble < 0 || scale->valuedouble > prec->valuedouble)) {
        dg_fail(s, n->path, "a decimal's \"scale\" must be from 0 to its precision");
        return -1;
    }
    n->decimal_precision = (int)prec->valuedouble;
    n->decimal_scale = scale ? (int)scale->valuedouble : 0;
    if (n->decimal_scale > 18) {
        dg_fail(s, n->path, "decimals with a scale above 18 are not supported");
        return -1;
    }
    /* Unscaled values with `precision` digits, as far as 64 bits go. */
    bound = n->decimal_precision >= 19 ? INT64_MAX : dg_pow10(n->decimal_precision) - 1;
    n->ilo = -bound;
    n->ihi = bound;
    if (n->kind == DG_FIXED && n->fixed_size < 8) {
        int64_t fb = (int64_t)((1ull << (8 * n->fixed_size - 1)) - 1);

        if (fb < bound) {
            n->ilo = -fb - 1;
            n->ihi = fb;
        }
    }
    n->ctype = SLUICE_TYPE_BYTES;
    sc = dg_schema_new(s, SLUICE_TYPE_BYTES, optional);
    if (sc == NULL || dg_schema_logical(s, sc, SLUICE_LOGICAL_DECIMAL) != 0) {
        return -1;
    }
    snprintf(buf, sizeof buf, "%d", n->decimal_scale);
    if (s->host->schema_set_param(sc, "scale", buf) != SLUICE_OK) {
        s->nomem = 1;
        return -1;
    }
    snprintf(buf, sizeof buf, "%d", n->decimal_precision);
    if (s->host->schema_set_param(sc, DG_PARAM_PRECISION, buf) != SLUICE_OK) {
        s->nomem = 1;
        return -1;
    }
    n->schema = sc;
    dg_need_scratch(s, n->kind == DG_FIXED ? n->fixed_size : 8);
    return 0;
}

static struct dg_node *dg_compile(struct datagen_schema *s, const cJSON *type,
                                  const cJSON *field_hints, const char *path, int optional,
                                  const char *ns)
{
    struct dg_node *n = NULL;
    const cJSON *obj = NULL;
    const char *tn;
    cJSON *hints = NULL;

    if (s->failed || s->nomem) {
        return NULL;
    }
    if (++s->depth > DG_MAX_DEPTH) {
        dg_fail(s, path,
                "the schema nests deeper than %d levels (a recursive type?); "
                "datagen cannot generate it",
                DG_MAX_DEPTH);
        goto out;
    }
    if (cJSON_IsArray(type)) {
        n = dg_compile_union(s, type, field_hints, path, optional, ns);
        goto out;
    }
    if (cJSON_IsString(type)) {
        struct dg_named *d;

        tn = type->valuestring;
        n = dg_compile_primitive(s, tn, NULL, path, optional);
        if (n != NULL || s->nomem) {
            goto hints;
        }
        d = dg_lookup(s, tn, ns);
        if (d == NULL) {
            dg_fail(s, path,
                    "unknown type '%s' (neither a primitive type nor a type defined "
                    "earlier)",
                    tn);
            goto out;
        }
        if (d->active) {
            dg_fail(s, path,
                    "the type '%s' contains itself; datagen cannot generate recursive "
                    "types",
                    d->full);
            goto out;
        }
        n = dg_compile(s, d->def, field_hints, path, optional, d->space);
        goto out;
    }
    if (!cJSON_IsObject(type)) {
        dg_fail(s, path, "an Avro type must be a name, an object or a list (a union)");
        goto out;
    }
    obj = type;
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");

        if (cJSON_IsObject(t) || cJSON_IsArray(t)) {
            /* {"type": {...}}: the outer object's hints act like a field's. */
            hints = dg_merge_hints(s, cJSON_GetObjectItemCaseSensitive(obj, "arg.properties"),
                                   field_hints, path);
            if (hints != NULL) {
                n = dg_compile(s, t, hints, path, optional, ns);
            }
            goto out;
        }
        if (!cJSON_IsString(t)) {
            dg_fail(s, path, "an Avro schema object has no \"type\"");
            goto out;
        }
        tn = t->valuestring;
    }
    if (strcmp(tn, "record") == 0 || strcmp(tn, "error") == 0 || strcmp(tn, "enum") == 0 ||
        strcmp(tn, "fixed") == 0) {
        const char *space = NULL;
        const char *full = dg_full_name(s, obj, ns, path, &space);

        if (full == NULL || dg_define(s, full, obj, space, path) != 0) {
            goto out;
        }
        if (tn[0] == 'r' || (tn[0] == 'e' && tn[1] == 'r')) {
            n = dg_node_new(s, DG_RECORD, path);
            if (n == NULL) {
                goto out;
            }
            struct dg_named *self = dg_lookup(s, full, NULL);

            /* Hints of the record itself (options) apply after its fields are known. */
            self->active = 1;
            if (dg_compile_record(s, n, obj, full, space, optional) == NULL) {
                self->active = 0;
                n = NULL;
                goto out;
            }
            self->active = 0;
        } else if (tn[0] == 'e') {
            const cJSON *syms = cJSON_GetObjectItemCaseSensitive(obj, "symbols");
            const cJSON *e;
            sluice_schema_t *sc;
            size_t i = 0;
            char key[512];

            n = dg_node_new(s, DG_ENUM, path);
            if (n == NULL) {
                goto out;
            }
            if (!cJSON_IsArray(syms) || cJSON_GetArraySize(syms) == 0) {
                dg_fail(s, path, "enum '%s' has no \"symbols\"", full);
                n = NULL;
                goto out;
            }
            n->nsymbols = (size_t)cJSON_GetArraySize(syms);
            n->symbols = dg_alloc(s, n->nsymbols * sizeof *n->symbols);
            n->symlens = dg_alloc(s, n->nsymbols * sizeof *n->symlens);
            sc = dg_schema_new(s, SLUICE_TYPE_STRING, optional);
            if (n->symbols == NULL || n->symlens == NULL || sc == NULL ||
                s->host->schema_set_name(sc, full) != SLUICE_OK ||
                s->host->schema_set_param(sc, DG_CONNECT_ENUM, full) != SLUICE_OK) {
                s->nomem = 1;
                n = NULL;
                goto out;
            }
            cJSON_ArrayForEach(e, syms)
            {
                if (!cJSON_IsString(e)) {
                    dg_fail(s, path, "enum '%s' has a symbol that is not a string", full);
                    n = NULL;
                    goto out;
                }
                n->symbols[i] = dg_strdup(s, e->valuestring);
                n->symlens[i] = strlen(e->valuestring);
                snprintf(key, sizeof key, "%s.%s", DG_CONNECT_ENUM, e->valuestring);
                if (n->symbols[i] == NULL ||
                    s->host->schema_set_param(sc, key, e->valuestring) != SLUICE_OK) {
                    s->nomem = 1;
                    n = NULL;
                    goto out;
                }
                i++;
            }
            n->schema = sc;
            n->ctype = SLUICE_TYPE_STRING;
        } else {
            const cJSON *size = cJSON_GetObjectItemCaseSensitive(obj, "size");
            const char *logical = dg_json_str(obj, "logicalType");

            n = dg_node_new(s, DG_FIXED, path);
            if (n == NULL) {
                goto out;
            }
            if (!dg_is_int(size) || size->valuedouble < 0 || size->valuedouble > DG_MAX_LENGTH) {
                dg_fail(s, path, "fixed '%s' needs a \"size\"", full);
                n = NULL;
                goto out;
            }
            n->fixed_size = (size_t)size->valuedouble;
            dg_need_scratch(s, n->fixed_size);
            if (logical != NULL && strcmp(logical, "decimal") == 0) {
                n->logical = DG_L_DECIMAL;
                if (n->fixed_size == 0 || dg_decimal(s, n, obj, optional) != 0) {
                    if (!s->failed && !s->nomem) {
                        dg_fail(s, path, "a decimal fixed needs a size of at least 1");
                    }
                    n = NULL;
                    goto out;
                }
            } else {
                sluice_schema_t *sc = dg_schema_new(s, SLUICE_TYPE_BYTES, optional);

                if (sc == NULL) {
                    n = NULL;
                    goto out;
                }
                n->schema = sc;
                n->ctype = SLUICE_TYPE_BYTES;
            }
        }
        goto hints;
    }
    if (strcmp(tn, "array") == 0 || strcmp(tn, "map") == 0) {
        int is_map = tn[0] == 'm';
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(obj, is_map ? "values" : "items");
        const char *ipath = dg_printf(s, "%s%s", path, is_map ? "{}" : "[]");
        sluice_schema_t *sc;

        n = dg_node_new(s, is_map ? DG_MAP : DG_ARRAY, path);
        if (n == NULL || ipath == NULL) {
            n = NULL;
            goto out;
        }
        if (inner == NULL) {
            dg_fail(s, path, "%s schema without \"%s\"", tn, is_map ? "values" : "items");
            n = NULL;
            goto out;
        }
        n->kids = dg_alloc(s, sizeof *n->kids);
        n->nkids = 1;
        if (n->kids == NULL || (n->kids[0] = dg_compile(s, inner, NULL, ipath, 0, ns)) == NULL) {
            n = NULL;
            goto out;
        }
        if (n->kids[0]->kind == DG_NULL) {
            dg_fail(s, path, "an %s of null has no Kafka Connect form", tn);
            n = NULL;
            goto out;
        }
        if (is_map) {
            sluice_schema_t *ks = dg_schema_new(s, SLUICE_TYPE_STRING, 0);

            n->keys = dg_node_new(s, DG_STRING, dg_printf(s, "%s{keys}", path));
            if (ks == NULL || n->keys == NULL) {
                n = NULL;
                goto out;
            }
            n->keys->schema = ks;
            n->keys->ctype = SLUICE_TYPE_STRING;
            sc = s->host->schema_map(s->ctx, ks, n->kids[0]->schema);
        } else {
            sc = s->host->schema_array(s->ctx, n->kids[0]->schema);
        }
        if (sc == NULL) {
            s->nomem = 1;
            n = NULL;
            goto out;
        }
        s->host->schema_set_optional(sc, optional);
        n->schema = sc;
        n->ctype = is_map ? SLUICE_TYPE_MAP : SLUICE_TYPE_ARRAY;
        goto hints;
    }
    n = dg_compile_primitive(s, tn, obj, path, optional);
    if (n == NULL) {
        if (!s->nomem) {
            dg_fail(s, path, "unknown Avro type '%s'", tn);
        }
        goto out;
    }
    if (n->logical == DG_L_DECIMAL && dg_decimal(s, n, obj, optional) != 0) {
        n = NULL;
        goto out;
    }
hints:
    if (n == NULL) {
        goto out;
    }
    hints = dg_merge_hints(s, obj ? cJSON_GetObjectItemCaseSensitive(obj, "arg.properties") : NULL,
                           field_hints, path);
    if (hints == NULL) {
        n = NULL;
        goto out;
    }
    if (n->kind == DG_MAP) {
        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(hints, "keys");

        if (keys != NULL) {
            for (const cJSON *e = cJSON_IsObject(keys) ? keys->child : NULL; e != NULL;
                 e = e->next) {
                if (strcmp(e->string, "options") != 0 && strcmp(e->string, "regex") != 0 &&
                    strcmp(e->string, "length") != 0 && strcmp(e->string, "prefix") != 0 &&
                    strcmp(e->string, "suffix") != 0) {
                    dg_fail(s, path,
                            "hint 'keys': '%s' does not apply to map keys (they are strings: "
                            "options, length, regex, prefix, suffix)",
                            e->string);
                    n = NULL;
                    goto out;
                }
            }
            if (!cJSON_IsObject(keys)) {
                dg_fail(s, path, "hint 'keys' must be an object of string hints");
                n = NULL;
                goto out;
            }
        }
        dg_apply_hints(s, n->keys, keys);
    }
    dg_apply_hints(s, n, hints);
    if (s->failed || s->nomem) {
        n = NULL;
    }
out:
    cJSON_Delete(hints);
    s->depth--;
    return s->failed || s->nomem ? NULL : n;
}

/* ---------------------------------------------------------------------------------------------- */
/* The compiled schema */

static uint64_t dg_fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Sets each iteration word to its first value, walking the tree in slot order. */
static void dg_iter_collect(const struct dg_node *n, uint64_t *init)
{
    if (n == NULL) {
        return;
    }
    if (n->has_iter) {
        if (n->kind == DG_BOOLEAN) {
            init[n->iter_slot] = (uint64_t)n->it_start;
        } else if (dg_is_float_kind(n)) {
            memcpy(&init[n->iter_slot], &n->itf_initial, sizeof(double));
        } else {
            init[n->iter_slot] = (uint64_t)n->it_initial;
        }
    }
    for (size_t i = 0; i < n->nkids; i++) {
        dg_iter_collect(n->kids[i], init);
    }
    dg_iter_collect(n->keys, init);
}

sluice_err_t datagen_schema_compile(const struct sluice_host *host, sluice_ctx_t *ctx,
                                    const char *text, const char *what, const char *base_dir,
                                    const char *keyfield, struct datagen_schema **out, char *errstr,
                                    size_t errstr_size)
{
    struct datagen_schema *s = calloc(1, sizeof *s);
    cJSON *root = NULL;
    sluice_err_t err = SLUICE_OK;

    *out = NULL;
    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    s->host = host;
    s->ctx = ctx;
    s->what = what;
    s->base_dir = base_dir;
    s->errstr = errstr;
    s->errstr_size = errstr_size;
    s->key_index = SIZE_MAX;
    root = cJSON_Parse(text);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;

        for (const char *p = text; at != NULL && p < at && *p != '\0'; p++) {
            line += *p == '\n';
        }
        dg_fail(s, NULL, "not valid JSON (near line %zu)", line);
        goto out;
    }
    s->root = dg_compile(s, root, NULL, "", 0, NULL);
    if (s->root == NULL) {
        goto out;
    }
    if (s->root->kind != DG_RECORD) {
        dg_fail(s, NULL, "the top-level type must be a record (it is %s)",
                dg_kind_names[s->root->kind]);
        goto out;
    }
    if (keyfield != NULL && keyfield[0] != '\0') {
        for (size_t i = 0; i < s->root->nkids; i++) {
            if (strcmp(s->root->names[i], keyfield) == 0) {
                s->key_index = i;
            }
        }
        if (s->key_index == SIZE_MAX) {
            char names[512];
            size_t o = 0;

            names[0] = '\0';
            for (size_t i = 0; i < s->root->nkids && o < sizeof names - 64; i++) {
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                                      s->root->names[i]);
            }
            dg_fail(s, NULL, "schema.keyfield '%s' is not a top-level field (the fields: %s)",
                    keyfield, names);
            goto out;
        }
    }
    s->iter_init = calloc(s->niter ? s->niter : 1, sizeof *s->iter_init);
    s->scratch = malloc(s->scratch_size + 64);
    if (s->iter_init == NULL || s->scratch == NULL) {
        s->nomem = 1;
        goto out;
    }
    dg_iter_collect(s->root, s->iter_init);
    s->fingerprint = dg_fnv1a(0xcbf29ce484222325ull, text, strlen(text));
    if (keyfield != NULL) {
        s->fingerprint = dg_fnv1a(s->fingerprint, keyfield, strlen(keyfield));
    }
out:
    cJSON_Delete(root);
    if (s->nomem) {
        snprintf(errstr, errstr_size, "out of memory while compiling %s", what);
        err = SLUICE_ERR_NOMEM;
    } else if (s->failed) {
        err = SLUICE_ERR_CONFIG;
    }
    s->named = NULL;
    s->what = NULL;
    s->base_dir = NULL;
    if (err != SLUICE_OK) {
        datagen_schema_free(s);
        return err;
    }
    *out = s;
    return SLUICE_OK;
}

size_t datagen_schema_iter_count(const struct datagen_schema *s)
{
    return s->niter;
}

void datagen_schema_iter_init(const struct datagen_schema *s, uint64_t *iter)
{
    memcpy(iter, s->iter_init, s->niter * sizeof *iter);
}

uint64_t datagen_schema_fingerprint(const struct datagen_schema *s)
{
    return s->fingerprint;
}

void datagen_schema_free(struct datagen_schema *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nregexes; i++) {
        datagen_regex_free(s->regexes[i]);
    }
    free(s->regexes);
    while (s->blocks != NULL) {
        struct dg_block *next = s->blocks->next;

        free(s->blocks);
        s->blocks = next;
    }
    free(s->iter_init);
    free(s->scratch);
    free(s);
}
