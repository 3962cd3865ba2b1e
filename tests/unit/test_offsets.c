/* Offsets file: round trip of text and binary positions, atomic rewrite, locking, corrupt files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "offsets.h"

static char dir[256];
static char path[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-offsets-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/offsets.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    char err[256] = "";
    offsets_t *o;
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_null(offsets_get(o, "a"));
    const char text[] = "{\"file\":\"/x\",\"position\":42}";
    const unsigned char bin[] = {0, 1, 2, 0xff, 0xfe};
    assert_int_equal(offsets_put(o, "a", text, strlen(text), 7), 0);
    assert_int_equal(offsets_put(o, "b\"q", bin, sizeof bin, 9007199254740), 0);
    assert_int_equal(offsets_flush(o, err, sizeof err), 0);
    offsets_close(o);

    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0);
    const offsets_entry_t *e = offsets_get(o, "a");
    assert_non_null(e);
    assert_int_equal(e->position_len, strlen(text));
    assert_memory_equal(e->position, text, strlen(text));
    assert_int_equal(e->next_offset, 7);
    e = offsets_get(o, "b\"q");
    assert_non_null(e);
    assert_int_equal(e->position_len, sizeof bin);
    assert_memory_equal(e->position, bin, sizeof bin);
    assert_int_equal(e->next_offset, 9007199254740);
    /* Update keeps one entry per id. */
    assert_int_equal(offsets_put(o, "a", "x", 1, 8), 0);
    assert_int_equal(offsets_flush(o, err, sizeof err), 0);
    offsets_close(o);
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_int_equal(o->len, 2);
    assert_memory_equal(offsets_get(o, "a")->position, "x", 1);
    offsets_close(o);
    /* No temporary file is left behind. */
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_lock_refuses_second_user(void **state)
{
    (void)state;
    char err[512] = "";
    offsets_t *o, *o2;
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_int_not_equal(offsets_open(&o2, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "in use by another sluice process"));
    assert_non_null(strstr(err, path));
    offsets_close(o);
    assert_int_equal(offsets_open(&o2, path, err, sizeof err), 0);
    offsets_close(o2);
}

static void test_corrupt_file_is_an_error(void **state)
{
    (void)state;
    char err[512] = "";
    offsets_t *o;
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0); /* creates the directory */
    offsets_close(o);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[1,2,", f);
    fclose(f);
    assert_int_not_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a sluice offsets file"));
}

static void test_flush_without_change_writes_nothing(void **state)
{
    (void)state;
    char err[256] = "";
    offsets_t *o;
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_int_equal(offsets_flush(o, err, sizeof err), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    offsets_close(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_refuses_second_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_without_change_writes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
