/* Distributed mode's slots (cluster.h): the hash is FNV-1a as published and a task's slot never
 * changes between builds, workers or restarts (every worker must compute the same). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cluster.h"

static void test_hash_is_fnv1a(void **state)
{
    (void)state;
    /* The published FNV-1a 32-bit test vectors. */
    assert_int_equal(cluster_hash(""), 0x811c9dc5u);
    assert_int_equal(cluster_hash("a"), 0xe40c292cu);
    assert_int_equal(cluster_hash("foobar"), 0xbf9cf968u);
}

static void test_slots_are_stable_and_consecutive(void **state)
{
    (void)state;
    /* Fixed values: a change here moves every running task of every cluster on upgrade. */
    assert_int_equal(cluster_slot("orders", 0, 60), 20);
    assert_int_equal(cluster_slot("orders", 59, 60), 19);
    assert_int_equal(cluster_slot("g0", 0, 6), 4);
    assert_int_equal(cluster_slot("g3", 1, 6), 0);
    for (int n = 0; n < 200; n++) {
        int s = cluster_slot("orders", n, 60);
        assert_true(s >= 0 && s < 60);
        assert_int_equal(s, (cluster_slot("orders", 0, 60) + n) % 60); /* consecutive: spread */
    }
    assert_int_equal(cluster_slot("x", 5, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_fnv1a),
        cmocka_unit_test(test_slots_are_stable_and_consecutive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
