/* record.c — see record.h. */
#include "record.h"

#include <stdio.h>
#include <string.h>

void batch_init(sluice_batch_t *b, arena_t *arena, record_codec_t *codec)
{
    memset(b, 0, sizeof *b);
    b->arena = arena;
    b->codec = codec;
}

int batch_push(sluice_batch_t *b, sluice_record_t *r)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        sluice_record_t **n =
            arena_grow(b->arena, b->recs, b->cap * sizeof *b->recs, cap * sizeof *b->recs);
        if (!n)
            return -1;
        b->recs = n;
        b->cap = cap;
    }
    b->recs[b->len++] = r;
    return 0;
}

sluice_record_t *batch_add(sluice_batch_t *b)
{
    sluice_record_t *r = arena_calloc(b->arena, sizeof *r);
    if (!r)
        return NULL;
    r->batch = b;
    r->topic = b->codec ? b->codec->topic : NULL;
    r->offset = -1;
    if (batch_push(b, r) != 0)
        return NULL;
    return r;
}

static sluice_value_t *record_decode(sluice_record_t *r, struct record_slot *s, converter_t *c,
                                     const char *what, char *errstr, size_t errstr_size)
{
    if (s->value)
        return s->value;
    if (!s->has_bytes || s->is_null || !c) {
        s->value = value_null(r->batch->arena);
        return s->value;
    }
    char err[512];
    sluice_err_t e =
        converter_decode(c, r->batch->arena, s->bytes, s->len, &s->value, err, sizeof err);
    if (e != SLUICE_OK) {
        r->decode_transient = e == SLUICE_ERR_IO;
        snprintf(errstr, errstr_size, "cannot decode the record's %s: %s", what, err);
        r->decode_stage = strcmp(what, "key") == 0 ? "KEY_CONVERTER" : "VALUE_CONVERTER";
        s->value = NULL;
        return NULL;
    }
    return s->value;
}

sluice_value_t *record_get_key(sluice_record_t *r, char *errstr, size_t errstr_size)
{
    return record_decode(r, &r->key, r->batch->codec ? r->batch->codec->key : NULL, "key", errstr,
                         errstr_size);
}

sluice_value_t *record_get_value(sluice_record_t *r, char *errstr, size_t errstr_size)
{
    return record_decode(r, &r->value, r->batch->codec ? r->batch->codec->value : NULL, "value",
                         errstr, errstr_size);
}

int record_add_header(sluice_record_t *r, const char *name, const void *value, size_t len)
{
    return record_add_header_n(r, name, strlen(name), value, len);
}

int record_add_header_n(sluice_record_t *r, const char *name, size_t name_len, const void *value,
                        size_t len)
{
    record_headers_load(r);
    arena_t *a = r->batch->arena;
    if (r->nheaders == r->capheaders) {
        uint32_t cap = r->capheaders ? r->capheaders * 2 : 4;
        struct record_header *h =
            arena_grow(a, r->headers, r->capheaders * sizeof *h, cap * sizeof *h);
        if (!h)
            return -1;
        r->headers = h;
        r->capheaders = cap;
    }
    struct record_header *h = &r->headers[r->nheaders];
    h->name = arena_strndup(a, name, name_len);
    h->value = value ? arena_strndup(a, value, len) : NULL;
    h->len = value ? len : 0;
    if (!h->name || (value && !h->value))
        return -1;
    r->nheaders++;
    return 0;
}

void record_headers_load(sluice_record_t *r)
{
    const void *src = r->headers_src;
    if (!src)
        return;
    r->headers_src = NULL; /* first: the loader adds headers through record_add_header */
    if (r->batch && r->batch->codec && r->batch->codec->load_headers)
        r->batch->codec->load_headers(src, r);
}

void record_fail(sluice_record_t *r, const char *stage, const char *reason)
{
    if (r->failed)
        return;
    r->failed = 1;
    r->fail_stage = stage;
    r->fail_reason = arena_strdup(r->batch->arena, reason ? reason : "unknown error");
}
