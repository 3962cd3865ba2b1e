/* backoff.h — the one backoff helper: exponential with full jitter (a random delay between 0 and
 * min(max, base * 2^attempt)), as AWS's architecture blog recommends, so that many retrying tasks
 * do not wake in lockstep. */
#ifndef SLUICE_BACKOFF_H
#define SLUICE_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
    int64_t base_ms;
    int64_t max_ms;
    unsigned attempt;
    uint64_t rng; /* splitmix64 state */
} backoff_t;

void backoff_init(backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed);
/* The delay before the next attempt; increases the attempt count. */
int64_t backoff_next(backoff_t *b);
/* The upper bound the next call draws from (for messages and tests). */
int64_t backoff_ceiling(const backoff_t *b);
/* After a success. */
void backoff_reset(backoff_t *b);

#endif
