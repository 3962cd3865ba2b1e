/* fuzz.h — what the libFuzzer harnesses share: a finding is an abort with a message (libFuzzer
 * then writes the input as a reproducer), and a NUL-terminated copy of the input. */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz finding: %s: ", #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input with a NUL after it (some parsers want C strings; the NUL is not part of `len`). */
static inline char *fuzz_cstr(const unsigned char *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

#endif
