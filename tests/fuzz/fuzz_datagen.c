/* Fuzz datagen-avro's regex generator (plugins/datagen-avro/datagen_regex.c): the first input byte
 * is the repetition allowance of unbounded quantifiers (0-15), the rest the pattern (up to its
 * first NUL, at most 4 KB). What compiles generates four strings with a fixed seed into buffers of
 * exactly the announced maximum length, each between the announced bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datagen_regex.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1 || len > 4097)
        return 0;
    unsigned extra = data[0] % 16;
    char *pattern = fuzz_cstr(data + 1, len - 1);
    char err[256];
    err[0] = 0;
    struct datagen_regex *re = datagen_regex_compile(pattern, extra, err, sizeof err);
    if (!re) {
        FUZZ_CHECK(err[0] && memchr(err, 0, sizeof err), "refused without a message");
        free(pattern);
        return 0;
    }
    size_t lo = datagen_regex_min_len(re), hi = datagen_regex_max_len(re);
    FUZZ_CHECK(lo <= hi && hi <= DATAGEN_REGEX_MAX_LEN, "bounds %zu..%zu", lo, hi);
    char *out = malloc(hi ? hi : 1);
    if (!out)
        abort();
    struct datagen_rand r;
    datagen_rand_seed(&r, 42);
    for (int i = 0; i < 4; i++) {
        size_t n = datagen_regex_generate(re, &r, out);
        FUZZ_CHECK(n >= lo && n <= hi, "generated %zu bytes, bounds %zu..%zu", n, lo, hi);
    }
    free(out);
    datagen_regex_free(re);
    free(pattern);
    return 0;
}
