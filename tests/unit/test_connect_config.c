/* Kafka Connect's flat connector configs as sluice pipelines (connect_config.c): Kafka's own
 * quickstart configs (connect-file-source/-sink.properties as JSON) become pipelines that lint;
 * core keys, transforms and predicates land where sluice reads them; bad input is a 400 with a
 * clear message; values are literal text (no YAML nor ${...} injection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "connect_config.h"
#include "loader.h"
#include "runtime.h"
#include "sluice_build.h"

static registry_t reg;
static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    const char *dirs[] = {SLUICE_BUILD_PLUGIN_DIR};
    registry_init(&reg);
    registry_scan(&reg, dirs, 1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-test-cc-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    registry_free(&reg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Convert `json` (the connector's config) for connector `name`; returns the status, the YAML in
 * `yaml` (caller frees) and the message in `err`. */
static int convert(const char *name, const char *json, buf_t *yaml, int *is_sink, char *err,
                   size_t errlen)
{
    cJSON *cfg = cJSON_Parse(json);
    assert_non_null(cfg);
    buf_init(yaml);
    err[0] = '\0';
    int rc = connect_config_to_yaml(&reg, name, cfg, yaml, is_sink, err, errlen);
    cJSON_Delete(cfg);
    return rc;
}

/* The parsed YAML tree of a conversion that must succeed. */
static config_node_t *convert_tree(const char *name, const char *json, int *is_sink)
{
    buf_t yaml;
    char err[512];
    int rc = convert(name, json, &yaml, is_sink, err, sizeof err);
    if (rc != 0)
        fail_msg("conversion failed (%d): %s", rc, err);
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *n = config_parse_yaml("rest", yaml.data, yaml.len, tmpdir, &errs);
    if (!n || errs.len)
        fail_msg("YAML does not parse: %s\n%s", errs.len ? errs.msgs[0] : "?", yaml.data);
    config_errors_free(&errs);
    buf_free(&yaml);
    return n;
}

static const config_node_t *path(const config_node_t *n, const char *keys)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", keys);
    char *save = NULL;
    for (char *k = strtok_r(copy, "/", &save); k && n; k = strtok_r(NULL, "/", &save)) {
        if (k[0] >= '0' && k[0] <= '9' && n->kind == CONFIG_SEQ) {
            size_t i = (size_t)atoi(k);
            n = i < n->len ? n->items[i] : NULL;
        } else {
            n = n->kind == CONFIG_MAP ? config_node_get(n, k) : NULL;
        }
    }
    return n;
}

static void assert_scalar(const config_node_t *root, const char *keys, const char *want)
{
    const config_node_t *n = path(root, keys);
    if (!n || n->kind != CONFIG_SCALAR)
        fail_msg("%s: missing", keys);
    if (strcmp(n->scalar, want) != 0)
        fail_msg("%s: '%s', expected '%s'", keys, n->scalar, want);
}

/* The YAML of conversions (`n` pairs of name, JSON), each written to a file, load and validate
 * together as `sluice lint` does (a sink-only pipeline needs its topic's producer in the run). */
static void assert_lint(size_t n, const char *const *pairs)
{
    char files[4][128];
    const char *names[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        buf_t yaml;
        char err[512];
        int is_sink;
        assert_int_equal(convert(pairs[2 * i], pairs[2 * i + 1], &yaml, &is_sink, err, sizeof err),
                         0);
        snprintf(files[i], sizeof files[i], "%s/%s.yaml", tmpdir, pairs[2 * i]);
        names[i] = files[i];
        FILE *f = fopen(files[i], "w");
        assert_non_null(f);
        /* The state file's own top-level key, then the pipeline document. */
        fprintf(f, "offset.storage.file.filename: offsets.json\n%s", yaml.data);
        fclose(f);
        buf_free(&yaml);
    }
    setenv("SLUICE_PLUGIN_PATH", SLUICE_BUILD_PLUGIN_DIR, 1);
    runtime_t rt;
    config_errors_t errs;
    config_errors_init(&errs);
    int rc = runtime_prepare(&rt, names, n, NULL, &errs);
    if (rc != 0 || errs.len)
        fail_msg("does not lint: %s", errs.len ? errs.msgs[0] : "?");
    config_errors_free(&errs);
    runtime_free(&rt);
}

/* Kafka's config/connect-file-source.properties, as JSON. */
static const char *const file_source = "{\"name\": \"local-file-source\", "
                                       "\"connector.class\": \"FileStreamSource\", "
                                       "\"tasks.max\": \"1\", \"file\": \"test.txt\", "
                                       "\"topic\": \"connect-test\"}";
/* Kafka's config/connect-file-sink.properties, as JSON. */
static const char *const file_sink = "{\"name\": \"local-file-sink\", "
                                     "\"connector.class\": \"FileStreamSink\", "
                                     "\"tasks.max\": \"1\", \"file\": \"test.sink.txt\", "
                                     "\"topics\": \"connect-test\"}";

static void test_quickstart_source(void **state)
{
    (void)state;
    int sink = -1;
    config_node_t *y = convert_tree("local-file-source", file_source, &sink);
    assert_int_equal(sink, 0);
    assert_scalar(y, "version", "1");
    assert_scalar(y, "pipelines/0/id", "local-file-source");
    assert_scalar(y, "pipelines/0/topic", "connect-test");
    assert_scalar(y, "pipelines/0/source/plugin", "FileStreamSource");
    assert_scalar(y, "pipelines/0/source/config/file", "test.txt");
    assert_null(path(y, "pipelines/0/sinks"));
    /* A source has one task: tasks.max is accepted and not passed on. */
    assert_null(path(y, "pipelines/0/tasks.max"));
    assert_null(path(y, "pipelines/0/source/config/tasks.max"));
    assert_null(path(y, "pipelines/0/source/config/name"));
    config_node_free(y);
    const char *const run[] = {"local-file-source", file_source};
    assert_lint(1, run);
}

static void test_quickstart_sink(void **state)
{
    (void)state;
    int sink = -1;
    config_node_t *y = convert_tree("local-file-sink", file_sink, &sink);
    assert_int_equal(sink, 1);
    assert_scalar(y, "pipelines/0/id", "local-file-sink");
    assert_scalar(y, "pipelines/0/topic", "connect-test");
    assert_null(path(y, "pipelines/0/source"));
    assert_scalar(y, "pipelines/0/sinks/0/id", "local-file-sink");
    assert_scalar(y, "pipelines/0/sinks/0/plugin", "FileStreamSink");
    assert_scalar(y, "pipelines/0/sinks/0/tasks.max", "1");
    assert_scalar(y, "pipelines/0/sinks/0/config/file", "test.sink.txt");
    assert_null(path(y, "pipelines/0/sinks/0/config/topics"));
    config_node_free(y);
    const char *const run[] = {"local-file-source", file_source, "local-file-sink", file_sink};
    assert_lint(2, run);
}

static void test_core_keys_transforms_predicates(void **state)
{
    (void)state;
    int sink = -1;
    config_node_t *y = convert_tree(
        "orders",
        "{\"connector.class\": \"org.apache.kafka.connect.file.FileStreamSinkConnector\", "
        "\"topics\": \" orders \", \"file\": \"out.txt\", \"tasks.max\": 2, "
        "\"value.converter\": \"org.apache.kafka.connect.storage.StringConverter\", "
        "\"value.converter.schemas.enable\": false, \"errors.tolerance\": \"all\", "
        "\"transforms\": \"drop, route\", "
        "\"transforms.drop.type\": \"org.apache.kafka.connect.transforms.DropHeaders\", "
        "\"transforms.drop.headers\": \"trace\", \"transforms.drop.predicate\": \"isTrace\", "
        "\"transforms.drop.negate\": \"true\", "
        "\"transforms.route.type\": \"regex-router\", \"transforms.route.regex\": \"(.*)\", "
        "\"transforms.route.replacement\": \"$1-out\", "
        "\"predicates\": \"isTrace\", "
        "\"predicates.isTrace.type\": "
        "\"org.apache.kafka.connect.transforms.predicates.HasHeaderKey\", "
        "\"predicates.isTrace.name\": \"trace\", \"key.converter\": null}",
        &sink);
    assert_int_equal(sink, 1);
    assert_scalar(y, "pipelines/0/topic", "orders"); /* Connect's lists are trimmed */
    assert_scalar(y, "pipelines/0/value.converter",
                  "org.apache.kafka.connect.storage.StringConverter");
    assert_scalar(y, "pipelines/0/value.converter.schemas.enable", "false");
    assert_scalar(y, "pipelines/0/errors.tolerance", "all");
    assert_null(path(y, "pipelines/0/key.converter")); /* null: unset */
    assert_scalar(y, "pipelines/0/sinks/0/tasks.max", "2");
    assert_scalar(y, "pipelines/0/sinks/0/transforms/0/id", "drop");
    assert_scalar(y, "pipelines/0/sinks/0/transforms/0/plugin",
                  "org.apache.kafka.connect.transforms.DropHeaders");
    assert_scalar(y, "pipelines/0/sinks/0/transforms/0/predicate", "isTrace");
    assert_scalar(y, "pipelines/0/sinks/0/transforms/0/negate", "true");
    assert_scalar(y, "pipelines/0/sinks/0/transforms/0/config/headers", "trace");
    assert_scalar(y, "pipelines/0/sinks/0/transforms/1/plugin", "regex-router");
    /* "$1" stays "$1": a REST value is literal text, never interpolated. */
    assert_scalar(y, "pipelines/0/sinks/0/transforms/1/config/replacement", "$1-out");
    assert_scalar(y, "pipelines/0/predicates/isTrace/type",
                  "org.apache.kafka.connect.transforms.predicates.HasHeaderKey");
    assert_scalar(y, "pipelines/0/predicates/isTrace/name", "trace");
    assert_scalar(y, "pipelines/0/sinks/0/config/file", "out.txt");
    assert_null(path(y, "pipelines/0/sinks/0/config/transforms.drop.headers"));
    config_node_free(y);
}

/* Values that would be YAML syntax or interpolation are read back as the same text. */
static void test_values_are_literal(void **state)
{
    (void)state;
    static const char *hostile[] = {
        "a: b",
        "# comment",
        "x\ny: z",
        "${HOME}",
        "${file:/etc/passwd:root}",
        "$$",
        "\"quoted\" 'single' \\back\\",
        "tab\there\r\x01",
        "]}{[&*!|>%@`",
        "~",
        "",
        "null",
        "ünïcødé ✓",
        "c1 \xc2\x80\xc2\x85 bom \xef\xbb\xbf nonchar \xef\xbf\xbf del \x7f",
        NULL, /* a key past libyaml's 1024-character simple key (the fuzzer's): filled below */
    };
    static char longkey[3001];
    for (size_t i = 0; i < sizeof longkey - 1; i++)
        longkey[i] = "k\\\x01"[i % 3]; /* quoted, 1000 characters become 3000 */
    longkey[sizeof longkey - 1] = '\0';
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        if (!hostile[i])
            hostile[i] = longkey;
        cJSON *cfg = cJSON_CreateObject();
        cJSON_AddStringToObject(cfg, "connector.class", "file");
        cJSON_AddStringToObject(cfg, "topic", "t");
        cJSON_AddStringToObject(cfg, "file", hostile[i]);
        cJSON_AddStringToObject(cfg, hostile[i][0] ? hostile[i] : "k", "v");
        char *json = cJSON_PrintUnformatted(cfg);
        cJSON_Delete(cfg);
        int sink;
        config_node_t *y = convert_tree("lit", json, &sink);
        free(json);
        const config_node_t *c = path(y, "pipelines/0/source/config");
        assert_non_null(c);
        const config_node_t *v = config_node_get(c, "file");
        assert_non_null(v);
        assert_int_equal(v->kind, CONFIG_SCALAR);
        assert_string_equal(v->scalar, hostile[i]);
        assert_false(config_node_is_null(v)); /* quoted: "~" and "" are text, not null */
        if (hostile[i][0]) {
            const config_node_t *k = config_node_get(c, hostile[i]);
            assert_non_null(k);
            assert_string_equal(k->scalar, "v");
        }
        /* Exactly the keys given: nothing injected. */
        assert_int_equal(c->len, hostile[i][0] ? 2 : 2);
        assert_int_equal(path(y, "pipelines")->len, 1);
        config_node_free(y);
    }
}

static void expect_400(const char *name, const char *json, const char *needle)
{
    buf_t yaml;
    char err[512];
    int sink;
    int rc = convert(name, json, &yaml, &sink, err, sizeof err);
    buf_free(&yaml);
    if (rc != 400)
        fail_msg("%s: status %d, expected 400", json, rc);
    if (!strstr(err, needle))
        fail_msg("%s: message '%s' lacks '%s'", json, err, needle);
}

static void test_bad_configs(void **state)
{
    (void)state;
    expect_400("s",
               "{\"connector.class\": \"FileStreamSink\", \"topics\": \"a,b\", "
               "\"file\": \"x\"}",
               "2 topics");
    expect_400("s",
               "{\"connector.class\": \"FileStreamSink\", \"topics.regex\": \"a.*\", "
               "\"file\": \"x\"}",
               "topics.regex");
    expect_400("s", "{\"connector.class\": \"FileStreamSink\", \"file\": \"x\"}", "topics");
    /* A sink's topic is its `topics`: a `topic` beside it would be the pipeline's key twice. */
    expect_400("s",
               "{\"connector.class\": \"FileStreamSink\", \"topics\": \"a\", \"topic\": \"b\", "
               "\"file\": \"x\"}",
               "Both 'topics' and 'topic'");
    expect_400("s", "{\"connector.class\": \"NoSuchConnector\"}", "NoSuchConnector");
    expect_400("s", "{\"file\": \"x\"}", "connector.class");
    expect_400("s", "{\"connector.class\": \"file\", \"file\": {\"a\": 1}}", "'file'");
    expect_400("s", "{\"connector.class\": \"file\", \"file\": [1]}", "an array");
    expect_400("s", "{\"name\": \"other\", \"connector.class\": \"file\"}", "doesn't match");
    expect_400("bad name!", "{\"connector.class\": \"file\"}", "not valid");
    expect_400("s", "{\"connector.class\": \"file\", \"topic\": \"t\", \"transforms\": \"x\"}",
               "transforms.x.type");
    expect_400("s", "{\"connector.class\": \"file\", \"topic\": \"t\", \"predicates\": \"p\"}",
               "predicates.p.type");
    expect_400("s", "{\"connector.class\": \"file\", \"file\": \"\xff\xfe\"}", "UTF-8");
    expect_400("s", "{\"connector.class\": \"file\", \"\xc0\xaf\": \"x\"}", "UTF-8");
    /* A transform's class is not a connector. */
    expect_400("s", "{\"connector.class\": \"cast\"}", "cast");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quickstart_source),
        cmocka_unit_test(test_quickstart_sink),
        cmocka_unit_test(test_core_keys_transforms_predicates),
        cmocka_unit_test(test_values_are_literal),
        cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
