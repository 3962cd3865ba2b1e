/* Fuzz the configuration loader as `sluice lint` runs it before loading plugins: config_load
 * (libyaml, interpolation, the core's key tables, the pipelines' structure) on one or two files
 * made from the input (split at its first NUL byte), written to a temporary directory of our own.
 * No other file and no environment of the machine is read: ${file:…} goes through buf_read_file,
 * which this harness wraps (linked with -Wl,--wrap=buf_read_file) to serve the two files and one
 * properties file of that directory from memory and refuse every other path; the environment
 * holds two variables and nothing of the caller's. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int __wrap_buf_read_file(buf_t *b, const char *path);

/* Inputs beyond this are refused: the loader reads files of any size, which costs O(n). */
#define FUZZ_YAML_MAX (64 * 1024)

static const char *file_a, *file_b;
static size_t len_a, len_b;
static char dir[64], path_a[96], path_b[96], path_props[96];
static const char props[] = "# a properties file for ${file:secrets.properties:KEY}\n"
                            "password=s3cret\nuser = sluice\nkey\\ with\\ space: v\n"
                            "multi = a\\\n   b\nempty=\n";

int __wrap_buf_read_file(buf_t *b, const char *path)
{
    if (file_a && strcmp(path, path_a) == 0)
        return buf_append(b, file_a, len_a);
    if (file_b && strcmp(path, path_b) == 0)
        return buf_append(b, file_b, len_b);
    if (strcmp(path, path_props) == 0)
        return buf_append(b, props, sizeof props - 1);
    errno = ENOENT;
    return -1;
}

static void fuzz_cleanup(void)
{
    unlink(path_a);
    unlink(path_b);
    rmdir(dir);
}

static void fuzz_write(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/sluice-fuzz-yaml-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(path_a, sizeof path_a, "%s/a.yaml", dir);
    snprintf(path_b, sizeof path_b, "%s/b.yaml", dir);
    snprintf(path_props, sizeof path_props, "%s/secrets.properties", dir);
    atexit(fuzz_cleanup);
    /* ${VAR} sees these two and nothing of the caller's environment. */
    if (clearenv() != 0 || setenv("BROKERS", "localhost:9092", 1) != 0 ||
        setenv("TOPIC", "orders", 1) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len > FUZZ_YAML_MAX)
        return 0;
    const char *nul = memchr(data, 0, len);
    const char *paths[] = {path_a, path_b};
    file_a = (const char *)data;
    len_a = nul ? (size_t)(nul - file_a) : len;
    file_b = nul ? nul + 1 : NULL;
    len_b = nul ? len - len_a - 1 : 0;
    /* config_load may read the files itself (fopen) rather than through buf_read_file */
    fuzz_write(path_a, file_a, len_a);
    if (nul)
        fuzz_write(path_b, file_b, len_b);

    config_errors_t errs;
    config_run_t run;
    config_errors_init(&errs);
    int rc = config_load(&run, paths, nul ? 2 : 1, &errs);
    FUZZ_CHECK((rc == 0) == (errs.len == 0), "status %d with %zu errors", rc, errs.len);
    for (size_t i = 0; i < errs.len; i++)
        FUZZ_CHECK(errs.msgs[i] && errs.msgs[i][0], "error %zu is empty", i);
    if (rc == 0) {
        /* what validated can be shown (`sluice lint --dump` style) */
        buf_t out;
        buf_init(&out);
        if (run.global)
            config_dump(run.global, &out, 0);
        buf_free(&out);
    }
    config_run_free(&run);
    config_errors_free(&errs);
    file_a = file_b = NULL;
    return 0;
}
