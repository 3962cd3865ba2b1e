/* arena.h — bump allocator for batches: records, values and strings of one batch live here and are
 * released together, so the hot path makes no heap allocation per record or per field. */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>

struct arena_block;

typedef struct arena {
    struct arena_block *head; /* current block (blocks are chained, newest first) */
    size_t block_size;        /* size of a regular block */
    size_t used_total;        /* bytes handed out since the last reset (for stats) */
    struct arena_block *spare; /* regular blocks kept by reset for the next batch */
    unsigned nspare;
} arena_t;

/* Initialise an empty arena; the first block is allocated on first use. */
void arena_init(arena_t *a, size_t block_size);
/* 16-byte aligned memory, valid until the next reset or free; NULL on out of memory. Requests larger
 * than the block size get a block of their own. */
void *arena_alloc(arena_t *a, size_t size);
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
