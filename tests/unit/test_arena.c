/* Arena and buffer: alignment, growth past a block, big allocations, reset reuse, strndup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "buf.h"

static void test_alignment(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 1024);
    for (size_t sz = 1; sz < 100; sz += 7) {
        void *p = arena_alloc(&a, sz);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, sz); /* valgrind/asan: the whole request is usable */
    }
    arena_free(&a);
}

static void test_growth_keeps_old_memory(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 256);
    char *ptrs[200];
    for (int i = 0; i < 200; i++) {
        ptrs[i] = arena_alloc(&a, 40);
        assert_non_null(ptrs[i]);
        memset(ptrs[i], i, 40);
    }
    /* Earlier chunks stay intact while new blocks are chained. */
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 40; j++)
            assert_int_equal((unsigned char)ptrs[i][j], (unsigned char)i);
    assert_true(a.used_total >= 200 * 40);
    arena_free(&a);
    assert_null(a.head);
}

static void test_big_allocation(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 1024);
    char *small1 = arena_alloc(&a, 16);
    char *big = arena_alloc(&a, 100000);
    char *small2 = arena_alloc(&a, 16);
    assert_non_null(big);
    memset(big, 1, 100000);
    /* The big request had a block of its own: the small ones still share the first block. */
    assert_true(small2 > small1 && small2 - small1 < 1024);
    arena_free(&a);
}

static void test_reset_reuses_block(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 4096);
    void *first = arena_alloc(&a, 100);
    for (int i = 0; i < 100; i++)
        assert_non_null(arena_alloc(&a, 1000));
    assert_non_null(arena_alloc(&a, 50000));
    arena_reset(&a);
    assert_int_equal(a.used_total, 0);
    assert_non_null(a.head);
    assert_null(((void **)a.head)[0]); /* one block left, no chain */
    void *again = arena_alloc(&a, 100);
    assert_non_null(again);
    (void)first;
    arena_free(&a);
}

static void test_strndup_and_grow(void **state)
{
    (void)state;
    arena_t a;
    arena_init(&a, 0); /* 0: the default block size */
    char *s = arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    assert_string_equal(arena_strdup(&a, "x"), "x");
    assert_null(arena_strdup(&a, NULL));
    char *e = arena_strndup(&a, NULL, 0);
    assert_string_equal(e, "");
    int *arr = arena_alloc(&a, 4 * sizeof *arr);
    for (int i = 0; i < 4; i++)
        arr[i] = i;
    int *bigger = arena_grow(&a, arr, 4 * sizeof *arr, 4000 * sizeof *arr);
    assert_non_null(bigger);
    for (int i = 0; i < 4; i++)
        assert_int_equal(bigger[i], i);
    int *z = arena_calloc(&a, 64 * sizeof *z);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    arena_free(&a);
}

static void test_buf(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.data[1000], '\0');
    assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(b.data + 1000, "-42-x");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_append(&b, "def", 3), 0);
    assert_string_equal(b.data, "abcdef");
    buf_free(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),        cmocka_unit_test(test_growth_keeps_old_memory),
        cmocka_unit_test(test_big_allocation),   cmocka_unit_test(test_reset_reuses_block),
        cmocka_unit_test(test_strndup_and_grow), cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
