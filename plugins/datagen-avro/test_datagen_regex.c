/*
 * test_datagen_regex.c — the regex generator of datagen-avro: every generated string must match
 * its pattern according to POSIX regexec (REG_EXTENDED, anchored), over thousands of draws;
 * quantifier bounds hold and are all reached; bad patterns are refused with their position.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "datagen_regex.h"

#define SAMPLES 3000

/* A pattern for the generator and the same language written for POSIX ERE. */
struct pair {
    const char *gen;
    const char *posix;
};

static const struct pair pairs[] = {
    {"Item_[1-9][0-9]{0,2}", "Item_[1-9][0-9]{0,2}"},
    {"City_[1-9]{0,2}", "City_[1-9]{0,2}"},
    {"User_[1-9]{0,1}", "User_[1-9]{0,1}"},
    {"[A-Z]{2}\\d{6}[A-Z]", "[A-Z]{2}[0-9]{6}[A-Z]"},
    {"\\w+@\\w+\\.(com|org|net)", "[A-Za-z0-9_]+@[A-Za-z0-9_]+\\.(com|org|net)"},
    {"(?:ab|cd)*e?", "(ab|cd)*e?"},
    {"^[a-c]+$", "[a-c]+"},
    {"[^a-z0-9]{5}", "[^a-z0-9]{5}"},
    {"...-\\s-\\S", "...-[[:space:]]-[^[:space:]]"},
    {"[\\d\\-x]{3,4}", "[-0-9x]{3,4}"},
    {"[[:alpha:]][[:digit:]]{2}[[:upper:]]", "[[:alpha:]][[:digit:]]{2}[[:upper:]]"},
    {"(a|b(c|d(e|f)))+", "(a|b(c|d(e|f)))+"},
    {"x{3}y{2,}z{0,1}", "x{3}y{2,}z{0,1}"},
    {"[]a]b[^]c]", "[]a]b[^]c]"},
    {"a|", "a|()"},
    {"\\(\\)\\[\\]\\{\\}\\*\\+\\?\\.\\|\\^\\$\\\\", "\\(\\)\\[\\]\\{\\}\\*\\+\\?\\.\\|\\^\\$\\\\"},
    {"[+-]?\\d+(\\.\\d{1,2})?", "[+-]?[0-9]+(\\.[0-9]{1,2})?"},
    {"\\D\\W", "[^0-9][^A-Za-z0-9_]"},
    {"(?<year>20[0-9]{2})-(0[1-9]|1[0-2])", "(20[0-9]{2})-(0[1-9]|1[0-2])"},
    {"a*?b+?c??", "a*b+c?"},
    {"[A-Z]{50}-[0-9]{100}-[a-z]{60}", "[A-Z]{50}-[0-9]{100}-[a-z]{60}"},
    {"(\\d{3}-){10}\\d{4}", "([0-9]{3}-){10}[0-9]{4}"},
    {"caf\xc3\xa9+", "caf(\xc3\xa9)+"},
};

static int posix_match(const char *posix, const char *s)
{
    char anchored[8192];
    regex_t re;
    int rc;

    snprintf(anchored, sizeof anchored, "^(%s)$", posix);
    assert_int_equal(regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB), 0);
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

static void test_matches_posix(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char err[256] = "";
        struct datagen_regex *re = datagen_regex_compile(pairs[i].gen, 8, err, sizeof err);
        char anchored[8192];
        regex_t posix;
        struct datagen_rand r;
        char *buf;

        if (re == NULL) {
            fail_msg("pattern %s: %s", pairs[i].gen, err);
        }
        snprintf(anchored, sizeof anchored, "^(%s)$", pairs[i].posix);
        assert_int_equal(regcomp(&posix, anchored, REG_EXTENDED | REG_NOSUB), 0);
        buf = malloc(datagen_regex_max_len(re) + 1);
        assert_non_null(buf);
        datagen_rand_seed(&r, 1000 + i);
        for (int k = 0; k < SAMPLES; k++) {
            size_t n = datagen_regex_generate(re, &r, buf);

            assert_true(n >= datagen_regex_min_len(re));
            assert_true(n <= datagen_regex_max_len(re));
            buf[n] = '\0';
            if (regexec(&posix, buf, 0, NULL, 0) != 0) {
                fail_msg("pattern %s produced \"%s\", which POSIX %s does not match", pairs[i].gen,
                         buf, pairs[i].posix);
            }
        }
        regfree(&posix);
        free(buf);
        datagen_regex_free(re);
    }
}

/* Every length from lo to hi (in steps of `stride`) is produced, and no other. */
static void check_lengths(const char *pattern, unsigned extra, size_t lo, size_t hi, size_t stride)
{
    char err[256] = "";
    struct datagen_regex *re = datagen_regex_compile(pattern, extra, err, sizeof err);
    struct datagen_rand r;
    int seen[256] = {0};
    char buf[512];

    if (re == NULL) {
        fail_msg("pattern %s: %s", pattern, err);
    }
    assert_int_equal(datagen_regex_min_len(re), lo);
    assert_int_equal(datagen_regex_max_len(re), hi);
    datagen_rand_seed(&r, 7);
    for (int k = 0; k < SAMPLES; k++) {
        size_t n = datagen_regex_generate(re, &r, buf);

        assert_true(n >= lo && n <= hi && (n - lo) % stride == 0);
        seen[n] = 1;
    }
    for (size_t n = lo; n <= hi; n += stride) {
        if (!seen[n]) {
            fail_msg("pattern %s never produced length %zu", pattern, n);
        }
    }
    datagen_regex_free(re);
}

static void test_quantifier_bounds(void **state)
{
    (void)state;
    check_lengths("a{3,5}", 8, 3, 5, 1);
    check_lengths("a{4}", 8, 4, 4, 1);
    check_lengths("a*", 8, 0, 8, 1);
    check_lengths("a+", 8, 1, 9, 1);
    check_lengths("a?", 8, 0, 1, 1);
    check_lengths("a{2,}", 3, 2, 5, 1);
    check_lengths("(ab){1,3}", 8, 2, 6, 2);
    check_lengths("x*", 40, 0, 40, 1); /* a large cap (from a `length` hint) is reachable */
    check_lengths("", 8, 0, 0, 1);
}

static void test_long_pattern(void **state)
{
    char pattern[4096], err[256] = "", *buf;
    struct datagen_regex *re;
    struct datagen_rand r;
    size_t o = 0;

    (void)state;
    /* 300 literal and class pieces: a 600-character pattern, strings of 300 characters. */
    for (int i = 0; i < 150; i++) {
        o += (size_t)snprintf(pattern + o, sizeof pattern - o, "k[0-9]");
    }
    re = datagen_regex_compile(pattern, 8, err, sizeof err);
    assert_non_null(re);
    assert_int_equal(datagen_regex_min_len(re), 300);
    buf = malloc(datagen_regex_max_len(re) + 1);
    datagen_rand_seed(&r, 3);
    for (int k = 0; k < 100; k++) {
        size_t n = datagen_regex_generate(re, &r, buf);

        buf[n] = '\0';
        assert_int_equal(n, 300);
        assert_true(posix_match(pattern, buf));
    }
    free(buf);
    datagen_regex_free(re);
}

static void test_printable(void **state)
{
    char err[256] = "", buf[64];
    struct datagen_regex *re = datagen_regex_compile(".{20}[^a]{20}", 8, err, sizeof err);
    struct datagen_rand r;

    (void)state;
    assert_non_null(re);
    datagen_rand_seed(&r, 11);
    for (int k = 0; k < SAMPLES; k++) {
        size_t n = datagen_regex_generate(re, &r, buf);

        for (size_t i = 0; i < n; i++) {
            assert_true(buf[i] >= 0x20 && buf[i] <= 0x7e);
        }
    }
    datagen_regex_free(re);
}

static void test_deterministic(void **state)
{
    char err[256] = "", a[64], b[64];
    struct datagen_regex *re = datagen_regex_compile("[a-z]{5,20}(x|y|z)\\d*", 8, err, sizeof err);
    struct datagen_rand r1, r2;

    (void)state;
    assert_non_null(re);
    datagen_rand_seed(&r1, 99);
    datagen_rand_seed(&r2, 99);
    for (int k = 0; k < 500; k++) {
        size_t n1 = datagen_regex_generate(re, &r1, a);
        size_t n2 = datagen_regex_generate(re, &r2, b);

        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
    }
    datagen_regex_free(re);
}

struct bad {
    const char *pattern;
    const char *message; /* "position N: …" prefix expected */
};

static const struct bad bads[] = {
    {"(ab", "position 1:"},
    {"ab)", "position 3:"},
    {"[a-", "position 1:"},
    {"a{3,1}", "position 2:"},
    {"*a", "position 1:"},
    {"ab\\", "position 3:"},
    {"a{", "position 2:"},
    {"x[z-a]", "position 4:"},
    {"(a)\\1", "position 4:"},
    {"(?=x)", "position 1:"},
    {"a\\bc", "position 2:"},
    {"{2}", "position 1:"},
    {"a{x}", "position 2:"},
    {"[[:nope:]]", "position 2:"},
    {"\\q", "position 1:"},
    {"a{100001}", "position 3:"},
    {"[é]", "position 2:"},
    {"a|+", "position 3:"},
    {"(?i)a", "position 1:"},
    {"\\x0", "position 1:"},
    /* stacked quantifiers (fuzz_datagen: 30 of them after '$' looped for ever) */
    {"a**", "position 3:"},
    {"a{2}{3}", "position 5:"},
    {"a*?*", "position 4:"},
};

static void test_bad_patterns(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        char err[256] = "";
        struct datagen_regex *re = datagen_regex_compile(bads[i].pattern, 8, err, sizeof err);

        if (re != NULL) {
            fail_msg("bad pattern %s was accepted", bads[i].pattern);
        }
        if (strncmp(err, bads[i].message, strlen(bads[i].message)) != 0) {
            fail_msg("bad pattern %s: message \"%s\", expected it to start with \"%s\"",
                     bads[i].pattern, err, bads[i].message);
        }
    }
}

static void test_too_long(void **state)
{
    char err[256] = "";

    (void)state;
    assert_null(datagen_regex_compile("(a{1000}){1000}x{100000}", 8, err, sizeof err));
    assert_non_null(strstr(err, "longer than"));
}

/* Repetitions of what can be empty cost time without length (fuzz_datagen finding). */
static void test_too_many_steps(void **state)
{
    char err[256] = "";
    struct datagen_regex *re;
    struct datagen_rand r;
    char buf[8];

    (void)state;
    assert_null(datagen_regex_compile("((){10000}){10000}", 8, err, sizeof err));
    assert_non_null(strstr(err, "steps"));
    assert_null(datagen_regex_compile("(($){100}){100}(^*){100}", 100000, err, sizeof err));
    assert_non_null(strstr(err, "steps"));
    /* a deep nest within the bound still generates */
    re = datagen_regex_compile("((){1000}){1000}a", 8, err, sizeof err);
    assert_non_null(re);
    datagen_rand_seed(&r, 1);
    assert_int_equal(datagen_regex_generate(re, &r, buf), 1);
    datagen_regex_free(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_posix), cmocka_unit_test(test_quantifier_bounds),
        cmocka_unit_test(test_long_pattern),  cmocka_unit_test(test_printable),
        cmocka_unit_test(test_deterministic), cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_too_long),      cmocka_unit_test(test_too_many_steps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
