/*
 * datagen_rand.h — the pseudo-random generator of datagen-avro: xoshiro256** seeded through
 * splitmix64 (Blackman and Vigna, public domain).
 *
 * Written by hand (20 lines) because the generator must be deterministic everywhere and its state
 * must be saved and restored: libc's rand()/random() differ between glibc, musl and the BSDs, keep
 * hidden global state, and cannot be serialised into a source position. The whole state is four
 * 64-bit words, copied as is into the position of every record.
 */
#ifndef DATAGEN_RAND_H
#define DATAGEN_RAND_H

#include <stdint.h>

struct datagen_rand {
    uint64_t s[4];
};

static inline uint64_t datagen_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void datagen_rand_seed(struct datagen_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = datagen_splitmix64(&seed);
    }
}

static inline uint64_t datagen_rand_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t datagen_rand_next(struct datagen_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = datagen_rand_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = datagen_rand_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject); n == 0 means 2^64. */
static inline uint64_t datagen_rand_below(struct datagen_rand *r, uint64_t n)
{
    unsigned __int128 m;
    uint64_t low;

    if (n == 0) {
        return datagen_rand_next(r);
    }
    m = (unsigned __int128)datagen_rand_next(r) * n;
    low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;

        while (low < threshold) {
            m = (unsigned __int128)datagen_rand_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double datagen_rand_double(struct datagen_rand *r)
{
    return (double)(datagen_rand_next(r) >> 11) * 0x1.0p-53;
}

#endif
