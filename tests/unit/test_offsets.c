/* Offsets file: round trip of text and binary positions, atomic rewrite, locking, corrupt files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* -- issue #22: files of our own, in a directory of our own ------------------------------------ */

static void put_and_flush(const char *p, const char *pos)
{
    char err[512] = "";
    offsets_t *o;
    assert_int_equal(offsets_open(&o, p, err, sizeof err), 0);
    assert_int_equal(offsets_put(o, "a", pos, strlen(pos), 1), 0);
    if (offsets_flush(o, err, sizeof err) != 0)
        fprintf(stderr, "flush: %s\n", err);
    offsets_close(o);
}

/* A symlink planted at <offsets>.tmp is not followed: its target keeps its content. */
static void test_tmp_symlink_is_not_followed(void **state)
{
    (void)state;
    char err[512] = "", victim[320], tmp[320], sub[300];
    offsets_t *o;
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0); /* creates the directory */
    offsets_close(o);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(symlink(victim, tmp), 0);
    put_and_flush(path, "pos-1");
    f = fopen(victim, "r");
    char got[64] = "";
    assert_non_null(fgets(got, sizeof got, f));
    fclose(f);
    assert_string_equal(got, "precious\n");
    assert_int_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_memory_equal(offsets_get(o, "a")->position, "pos-1", 5);
    offsets_close(o);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    (void)sub;
}

/* The offsets and lock files are 0600, a directory sluice creates is 0700. */
static void test_modes(void **state)
{
    (void)state;
    char lock[320], sub[300];
    put_and_flush(path, "p");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(lock, sizeof lock, "%s.lock", path);
    assert_int_equal(stat(lock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

/* A state directory others may write to, or that belongs to another user, is refused with a
 * message that names it, says why and what to do. */
static void test_foreign_directory_is_refused(void **state)
{
    (void)state;
    char err[512] = "", sub[300];
    offsets_t *o;
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    assert_int_not_equal(offsets_open(&o, path, err, sizeof err), 0);
    assert_non_null(strstr(err, sub));
    assert_non_null(strstr(err, "writable by other users"));
    assert_int_equal(chmod(sub, 0700), 0);
    if (geteuid() == 0) { /* only root can give a directory away */
        assert_int_equal(chown(sub, 65534, 65534), 0);
        assert_int_not_equal(offsets_open(&o, path, err, sizeof err), 0);
        assert_non_null(strstr(err, sub));
        assert_non_null(strstr(err, "owned by uid 65534"));
        assert_non_null(strstr(err, "offset.storage.file.filename"));
    }
}

static void test_default_path(void **state)
{
    (void)state;
    char *keep_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    unsetenv("XDG_STATE_HOME");
    setenv("STATE_DIRECTORY", "/var/lib/sluice:/var/lib/other", 1);
    char *p = offsets_default_path();
    assert_string_equal(p, "/var/lib/sluice/offsets.json");
    free(p);
    unsetenv("STATE_DIRECTORY");
    setenv("XDG_STATE_HOME", "/xdg", 1);
    p = offsets_default_path();
    assert_string_equal(p, "/xdg/sluice/offsets.json");
    free(p);
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    p = offsets_default_path();
    assert_string_equal(p, "/home/u/.local/state/sluice/offsets.json");
    free(p);
    unsetenv("HOME"); /* a service without HOME: never the shared /tmp */
    p = offsets_default_path();
    assert_non_null(p);
    assert_int_not_equal(strncmp(p, "/tmp/", 5), 0);
    free(p);
    if (keep_home)
        setenv("HOME", keep_home, 1);
    free(keep_home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_refuses_second_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_without_change_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmp_symlink_is_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_directory_is_refused, setup, teardown),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
