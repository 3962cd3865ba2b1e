/* Fuzz datagen-avro's schema and hint compiler (plugins/datagen-avro/datagen_compile.c): the input
 * is an Avro schema with arg.properties hints, compiled through the core's host table; what
 * compiles generates three values with a fixed seed. The `options` hint reads a file by path: here
 * every path reads as one fixed JSON array (fopen is wrapped, -Wl,--wrap=fopen64, while compiling),
 * so no file of the machine is read. FUZZ_VERBOSE=1 prints each compilation's result. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "datagen_schema.h"
#include "fuzz.h"
#include "pipeline.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
FILE *__real_fopen64(const char *path, const char *mode);
FILE *__wrap_fopen64(const char *path, const char *mode);

static int compiling;
static int verbose = -1; /* FUZZ_VERBOSE=1: print each compilation's result */
static char options[] = "[\"alpha\", \"beta\", \"gamma\"]";

/* fopen64: what fopen is with _FILE_OFFSET_BITS=64 */
FILE *__wrap_fopen64(const char *path, const char *mode)
{
    if (!compiling)
        return __real_fopen64(path, mode);
    return fmemopen(options, sizeof options - 1, "rb");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len > 16384)
        return 0;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    char *text = fuzz_cstr(data, len);
    sluice_ctx_t ctx;
    if (ctx_init(&ctx, "fuzz", "datagen", "t") != 0)
        abort();
    struct datagen_schema *s = NULL;
    char err[1024];
    err[0] = 0;
    compiling = 1;
    sluice_err_t rc = datagen_schema_compile(&host_table, &ctx, text, "schema.string",
                                             "/nonexistent", NULL, &s, err, sizeof err);
    compiling = 0;
    if (verbose)
        fprintf(stderr, "compile: %d %s\n", (int)rc, err);
    if (rc != SLUICE_OK) {
        FUZZ_CHECK(s == NULL || rc == SLUICE_OK, "a schema with an error");
        FUZZ_CHECK(err[0] && memchr(err, 0, sizeof err), "an error without a message");
    } else {
        FUZZ_CHECK(s != NULL, "no schema");
        size_t niter = datagen_schema_iter_count(s);
        uint64_t *iter = calloc(niter ? niter : 1, sizeof *iter);
        if (!iter)
            abort();
        datagen_schema_iter_init(s, iter);
        (void)datagen_schema_fingerprint(s);
        arena_t a;
        sluice_batch_t b;
        arena_init(&a, 4096);
        batch_init(&b, &a, NULL);
        struct datagen_rand r;
        datagen_rand_seed(&r, 42);
        for (int i = 0; i < 3; i++) {
            sluice_record_t *rec = batch_add(&b);
            FUZZ_CHECK(rec, "no record");
            sluice_value_t *key = NULL;
            FUZZ_CHECK(datagen_schema_generate(s, rec, &r, iter, &key) != NULL,
                       "generation failed");
        }
        arena_free(&a);
        free(iter);
        datagen_schema_free(s);
    }
    ctx_free(&ctx);
    free(text);
    return 0;
}
