/* backoff.c — see backoff.h. */
#include "backoff.h"

void backoff_init(backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->attempt = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t backoff_rand(backoff_t *b)
{
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t backoff_ceiling(const backoff_t *b)
{
    int64_t c = b->base_ms;
    for (unsigned i = 0; i < b->attempt && c < b->max_ms; i++)
        c *= 2;
    return c < b->max_ms ? c : b->max_ms;
}

int64_t backoff_next(backoff_t *b)
{
    int64_t ceiling = backoff_ceiling(b);
    if (b->attempt < 63)
        b->attempt++;
    return (int64_t)(backoff_rand(b) % (uint64_t)(ceiling + 1));
}

void backoff_reset(backoff_t *b)
{
    b->attempt = 0;
}
