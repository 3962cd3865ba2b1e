/* arena.c — see arena.h. */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT_BLOCK (64u * 1024u)

static size_t arena_round(size_t n)
{
    return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

void arena_init(arena_t *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? arena_round(block_size) : ARENA_DEFAULT_BLOCK;
    a->used_total = 0;
    a->spare = NULL;
    a->nspare = 0;
}

static struct arena_block *arena_block_new(size_t size)
{
    struct arena_block *b = NULL;
    if (size > SIZE_MAX - sizeof *b)
        return NULL;
    b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    b->last = 0;
    return b;
}

void *arena_alloc_slow(arena_t *a, size_t size)
{
    struct arena_block *b = a->head;
    void *p = NULL;
    if (size > SIZE_MAX - ARENA_ALIGN)
        goto out;
    size_t need = arena_round(size ? size : 1);
    if (b && b->size - b->used >= need) {
        p = b->data + b->used;
        b->last = b->used;
        b->used += need;
        goto out;
    }
    if (need > a->block_size / 4) {
        /* A big request gets its own block, chained behind the current one so that the space left
         * in the current block is not abandoned. */
        struct arena_block *big = arena_block_new(need);
        if (!big)
            goto out;
        big->used = need;
        big->last = 0;
        if (b) {
            big->next = b->next;
            b->next = big;
        } else {
            a->head = big;
        }
        p = big->data;
        goto out;
    }
    struct arena_block *nb = a->spare;
    if (nb) {
        a->spare = nb->next;
        a->nspare--;
    } else if (!(nb = arena_block_new(a->block_size))) {
        goto out;
    }
    nb->next = b;
    a->head = nb;
    nb->used = need;
    nb->last = 0;
    p = nb->data;
out:
    if (p)
        a->used_total += size;
    return p;
}

void *arena_calloc(arena_t *a, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

void *arena_grow(arena_t *a, void *old, size_t old_size, size_t new_size)
{
    struct arena_block *b = a->head;
    if (!old)
        return arena_alloc(a, new_size);
    if (new_size <= old_size)
        return old;
    /* The newest allocation of the current block can simply be extended: arrays that are appended
     * to one element at a time stay where they are. */
    if (b && (unsigned char *)old == b->data + b->last && new_size <= SIZE_MAX - ARENA_ALIGN) {
        size_t need = arena_round(new_size);
        if (b->size - b->last >= need) {
            b->used = b->last + need;
            a->used_total += new_size - old_size;
            return old;
        }
    }
    void *p = arena_alloc(a, new_size);
    if (p)
        memcpy(p, old, old_size);
    return p;
}

#define ARENA_SPARE_MAX 16u

void arena_reset(arena_t *a)
{
    struct arena_block *keep = NULL;
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        if (b->size != a->block_size) {
            free(b);
        } else if (!keep) {
            keep = b;
        } else if (a->nspare < ARENA_SPARE_MAX) {
            b->next = a->spare;
            a->spare = b;
            a->nspare++;
        } else {
            free(b);
        }
        b = next;
    }
    for (struct arena_block *s = a->spare; s; s = s->next) {
        s->used = 0;
        s->last = 0;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
        keep->last = 0;
    }
    a->head = keep;
    a->used_total = 0;
}

void arena_free(arena_t *a)
{
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
    for (b = a->spare; b;) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->spare = NULL;
    a->nspare = 0;
}
