/* arena.h — bump allocator for batches: records, values and strings of one batch live here and are
 * released together, so the hot path makes no heap allocation per record or per field. */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#define ARENA_ALIGN 16u

struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    size_t last; /* offset of the newest allocation, so arena_grow can extend it in place */
    alignas(16) unsigned char data[];
};

typedef struct arena {
    struct arena_block *head;  /* current block (blocks are chained, newest first) */
    size_t block_size;         /* size of a regular block */
    size_t used_total;         /* bytes handed out since the last reset (for stats) */
    struct arena_block *spare; /* regular blocks kept by reset for the next batch */
    unsigned nspare;
} arena_t;

/* Initialise an empty arena; the first block is allocated on first use. */
void arena_init(arena_t *a, size_t block_size);
/* 16-byte aligned memory, valid until the next reset or free; NULL on out of memory. Requests
 * larger than the block size get a block of their own. */
void *arena_alloc_slow(arena_t *a, size_t size);
/* Inline: the bump within the current block is on every value's path; the rest is out of line. */
static inline void *arena_alloc(arena_t *a, size_t size)
{
    struct arena_block *b = a->head;
    if (size - 1 < SIZE_MAX - ARENA_ALIGN && b) {
        size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
        if (b->size - b->used >= need) {
            void *p = b->data + b->used;
            b->last = b->used;
            b->used += need;
            a->used_total += size;
            return p;
        }
    }
    return arena_alloc_slow(a, size);
}
/* Zeroed memory. */
void *arena_calloc(arena_t *a, size_t size);
/* Copy `len` bytes and add a NUL terminator. */
char *arena_strndup(arena_t *a, const char *s, size_t len);
char *arena_strdup(arena_t *a, const char *s);
/* Grow an allocation: copies the old `old_size` bytes into a fresh `new_size` chunk (the old chunk
 * is reclaimed only by reset). Returns NULL on out of memory (the old chunk stays valid). */
void *arena_grow(arena_t *a, void *old, size_t old_size, size_t new_size);
/* Release everything but keep the regular blocks (up to 16) for reuse: a batch that needed four
 * blocks gets them again without a malloc each — blocks above glibc's mmap threshold would
 * otherwise be mapped and faulted in afresh for every batch. */
void arena_reset(arena_t *a);
/* Release everything. */
void arena_free(arena_t *a);

#endif
