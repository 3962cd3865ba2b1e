/* avro_tool — drives the avro converter from the command line for the integration tests, against a
 * real Schema Registry, without a pipeline:
 *
 *   avro_tool [--sr KEY=VALUE]... [--key] [--strategy NAME] [--no-auto-register] encode TOPIC
 *       reads Kafka Connect JSON envelopes ({"schema":…,"payload":…}), one per line, and writes the
 *       avro converter's bytes as one hex line each
 *   avro_tool [--sr KEY=VALUE]... decode
 *       reads hex lines and writes each decoded value as a JSON envelope line
 *
 *   avro_tool recode SCHEMA_FILE
 *       without a registry: prints "SCHEMA <Avro schema>" (the Avro translation of the Connect
 * schema the reader makes of SCHEMA_FILE's writer schema), then reads datums of the writer schema
 * as hex lines and writes each re-encoded with that translation as a hex line (the differential
 *       tests against fastavro, tests/integration/test_avro_differential.py)
 *
 * A line that fails gives "ERROR <code> <message>" instead. At the end "requests=<n>" (HTTP
 * requests made to the registry) goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro.h"
#include "convert.h"
#include "schema_registry.h"

#define MAX_SR_KEYS 16

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int unhex(const char *line, size_t n, buf_t *bin)
{
    for (size_t k = 0; k + 1 < n; k += 2) {
        int hi = hexval(line[k]), lo = hexval(line[k + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        buf_putc(bin, (char)(hi << 4 | lo));
    }
    return 0;
}

static int recode(const char *path)
{
    char err[2048];
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("ERROR config cannot open %s\n", path);
        return 1;
    }
    buf_t text, bin, out;
    buf_init(&text);
    buf_init(&bin);
    buf_init(&out);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&text, chunk, got);
    fclose(f);
    schema_owner_t o;
    arena_t nodes, a;
    avro_reader_t r;
    schema_owner_init(&o);
    arena_init(&nodes, 4096);
    arena_init(&a, 65536);
    int rc = 1;
    if (avro_reader_parse(&r, &o, &nodes, text.data, text.len, err, sizeof err) != SLUICE_OK ||
        avro_schema_from_connect(&out, r.schema, err, sizeof err) != SLUICE_OK) {
        printf("ERROR schema %s\n", err);
        goto done;
    }
    printf("SCHEMA %s\n", out.data);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        sluice_value_t *v = NULL;
        sluice_err_t e = SLUICE_ERR_INVALID;
        buf_reset(&bin);
        buf_reset(&out);
        snprintf(err, sizeof err, "not hex");
        if (unhex(line, (size_t)n, &bin) == 0 &&
            (e = avro_read_datum(&r, &a, bin.data, bin.len, &v, err, sizeof err)) == SLUICE_OK)
            e = avro_write_datum(&out, v, r.schema, err, sizeof err);
        if (e == SLUICE_OK) {
            for (size_t k = 0; k < out.len; k++)
                printf("%02x", (unsigned char)out.data[k]);
            printf("\n");
        } else {
            printf("ERROR %d %s\n", (int)e, err);
        }
        fflush(stdout);
        arena_reset(&a);
    }
    free(line);
    rc = 0;
done:
    arena_free(&a);
    arena_free(&nodes);
    schema_owner_free(&o);
    buf_free(&text);
    buf_free(&bin);
    buf_free(&out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "recode") == 0)
        return recode(argv[2]);
    const char *keys[MAX_SR_KEYS], *vals[MAX_SR_KEYS];
    size_t nkeys = 0;
    int is_key = 0, auto_register = 1, rc = 2;
    enum sr_strategy strategy = SR_TOPIC_NAME;
    char err[2048];
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--sr") == 0 && i + 1 < argc && nkeys < MAX_SR_KEYS) {
            char *eq = strchr(argv[++i], '=');
            if (!eq)
                goto usage;
            *eq = '\0';
            keys[nkeys] = argv[i];
            vals[nkeys++] = eq + 1;
        } else if (strcmp(argv[i], "--key") == 0) {
            is_key = 1;
        } else if (strcmp(argv[i], "--no-auto-register") == 0) {
            auto_register = 0;
        } else if (strcmp(argv[i], "--strategy") == 0 && i + 1 < argc) {
            if (sr_strategy_parse(argv[++i], &strategy) != 0)
                goto usage;
        } else {
            goto usage;
        }
    }
    if (i >= argc)
        goto usage;
    int encode = strcmp(argv[i], "encode") == 0;
    if (!encode && strcmp(argv[i], "decode") != 0)
        goto usage;
    const char *topic = encode && i + 1 < argc ? argv[i + 1] : "topic";

    sr_client_t *sr = sr_client_new(keys, vals, nkeys, err, sizeof err);
    if (!sr) {
        printf("ERROR config %s\n", err);
        return 1;
    }
    converter_t avro, json;
    if (converter_init_avro(&avro, sr, is_key, strategy, auto_register, err, sizeof err) !=
            SLUICE_OK ||
        converter_init(&json, "json", 1, JSON_DECIMAL_BASE64, err, sizeof err) != SLUICE_OK) {
        printf("ERROR config %s\n", err);
        return 1;
    }
    arena_t a;
    arena_init(&a, 65536);
    buf_t out, bin;
    buf_init(&out);
    buf_init(&bin);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        sluice_value_t *v = NULL;
        sluice_err_t e;
        int is_null = 0;
        buf_reset(&out);
        buf_reset(&bin);
        if (encode) {
            e = converter_decode(&json, &a, line, (size_t)n, &v, err, sizeof err);
            if (e == SLUICE_OK)
                e = converter_encode(&avro, topic, v, &bin, &is_null, err, sizeof err);
            if (e == SLUICE_OK)
                for (size_t k = 0; k < bin.len; k++)
                    buf_printf(&out, "%02x", (unsigned char)bin.data[k]);
        } else {
            e = SLUICE_OK;
            for (ssize_t k = 0; k + 1 < n; k += 2) {
                int hi = hexval(line[k]), lo = hexval(line[k + 1]);
                if (hi < 0 || lo < 0) {
                    snprintf(err, sizeof err, "not hex");
                    e = SLUICE_ERR_INVALID;
                    break;
                }
                buf_putc(&bin, (char)(hi << 4 | lo));
            }
            /* an exact-size copy: any over-read shows under valgrind/ASan */
            void *copy = malloc(bin.len ? bin.len : 1);
            memcpy(copy, bin.data, bin.len);
            if (e == SLUICE_OK)
                e = converter_decode(&avro, &a, copy, bin.len, &v, err, sizeof err);
            if (e == SLUICE_OK)
                e = converter_encode(&json, topic, v, &out, &is_null, err, sizeof err);
            free(copy);
        }
        if (e == SLUICE_OK)
            printf("%s\n", out.data);
        else
            printf("ERROR %d %s\n", (int)e, err);
        fflush(stdout);
        arena_reset(&a);
    }
    free(line);
    fprintf(stderr, "requests=%llu\n", (unsigned long long)sr_client_requests(sr));
    buf_free(&out);
    buf_free(&bin);
    arena_free(&a);
    converter_free(&avro);
    converter_free(&json);
    sr_client_free(sr);
    return 0;
usage:
    fprintf(stderr, "usage: avro_tool [--sr KEY=VALUE]... [--key] [--strategy NAME] "
                    "[--no-auto-register] encode TOPIC | decode\n");
    return rc;
}
