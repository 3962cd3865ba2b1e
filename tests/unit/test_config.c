/* Pipeline files and typed configuration: a valid run of two pipelines, every bad input with its
 * exact FILE:LINE:COL and message, every config type from YAML and from defaults, durations,
 * sizes, lists, maps, paths, secrets in config_dump, hints, and the generated docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "redact.h"

#ifndef SLUICE_TEST_DATA
#error "SLUICE_TEST_DATA must name tests/unit/data"
#endif

/* -- temporary files ------------------------------------------------------------------------- */

static char test_dir[64];
static char *test_files[64];
static size_t test_nfiles;

static int test_setup(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof test_dir, "/tmp/sluice-test-config-XXXXXX");
    return mkdtemp(test_dir) ? 0 : -1;
}

static int test_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < test_nfiles; i++) {
        unlink(test_files[i]);
        free(test_files[i]);
    }
    test_nfiles = 0;
    rmdir(test_dir);
    return 0;
}

/* Writes `text` to test_dir/name and returns the path (owned by the test harness). */
static const char *test_write(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", test_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_true(test_nfiles < 64);
    test_files[test_nfiles] = strdup(path);
    return test_files[test_nfiles++];
}

static void test_dump_errors(const config_errors_t *e)
{
    for (size_t i = 0; i < e->len; i++)
        fprintf(stderr, "  error: %s\n", e->msgs[i]);
}

/* Loads one file written from `text` and expects exactly one error, equal to
 * "<path>:<where>" where `where` is "LINE:COL: message". */
static void test_expect_one_error(const char *name, const char *text, const char *where)
{
    const char *path = test_write(name, text);
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    int rc = config_load(&run, &path, 1, &errs);
    char want[2048];
    snprintf(want, sizeof want, "%s:%s", path, where);
    if (errs.len != 1 || strcmp(errs.msgs[0], want) != 0) {
        fprintf(stderr, "  want: %s\n", want);
        test_dump_errors(&errs);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(errs.len, 1);
    assert_string_equal(errs.msgs[0], want);
    config_errors_free(&errs);
    config_run_free(&run);
}

/* Parses a YAML mapping from text and validates it against `table`. */
static sluice_config_t *test_validate(const char *yaml, const struct sluice_config_field *table,
                                      config_node_t **tree, config_errors_t *errs)
{
    *tree = config_parse_yaml("t.yaml", yaml, strlen(yaml), "/base", errs);
    assert_non_null(*tree);
    config_mark_t where = {"t.yaml", 1, 1};
    return config_validate(*tree, table, "the test", &where, "/base", errs);
}

/* -- a valid run ------------------------------------------------------------------------------ */

static void test_valid_two_pipelines(void **state)
{
    (void)state;
    const char *path = SLUICE_TEST_DATA "/two_pipelines.yaml";
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    int rc = config_load(&run, &path, 1, &errs);
    test_dump_errors(&errs);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.len, 0);
    assert_int_equal(run.nfiles, 1);
    assert_non_null(run.docs[0]);

    /* Top level: paths resolve against the file's directory. */
    assert_non_null(run.global);
    assert_string_equal(config_string(run.global, "offset.storage.file.filename"),
                        SLUICE_TEST_DATA "/state/offsets.json");
    assert_int_equal(config_count(run.global, "plugin.path"), 2);
    assert_string_equal(config_item(run.global, "plugin.path", 0), SLUICE_TEST_DATA "/plugins");
    assert_string_equal(config_item(run.global, "plugin.path", 1), "/opt/sluice/plugins");
    assert_int_equal(config_count(run.global, "kafka"), 0);
    assert_int_equal(config_has(run.global, "kafka"), 0);
    assert_null(config_mark(run.global, "kafka"));
    assert_int_equal(config_mark(run.global, "plugin.path")->line, 4);

    assert_int_equal(run.npipelines, 2);
    const config_pipeline_t *p = &run.pipelines[0];
    assert_string_equal(p->id, "orders");
    assert_string_equal(p->file, path);
    assert_string_equal(p->base_dir, SLUICE_TEST_DATA);
    assert_int_equal(p->mark.line, 6);
    assert_int_equal(p->mark.col, 5);
    assert_non_null(p->core);
    /* topic defaults to the id; the rest to the table's defaults. */
    assert_string_equal(config_string(p->core, "topic"), "orders");
    assert_string_equal(config_string(p->core, "key.converter"), "json");
    assert_string_equal(config_string(p->core, "value.converter"), "string");
    assert_int_equal(config_bool(p->core, "key.converter.schemas.enable"), 1);
    assert_string_equal(config_string(p->core, "value.converter.decimal.format"), "BASE64");
    assert_string_equal(config_string(p->core, "errors.tolerance"), "none");
    assert_string_equal(config_string(p->core, "errors.deadletterqueue.topic.name"), "");
    assert_int_equal(config_bool(p->core, "errors.deadletterqueue.context.headers.enable"), 0);
    assert_int_equal(config_int(p->core, "errors.retry.timeout"), -1);
    assert_int_equal(config_int(p->core, "errors.retry.delay.max.ms"), 60000);
    assert_int_equal(config_bool(p->core, "errors.log.enable"), 0);
    assert_int_equal(config_size(p->core, "buffer.memory"), 4 * 1024 * 1024);
    assert_int_equal(config_int(p->core, "batch.max.records"), 100);
    assert_int_equal(config_duration_ms(p->core, "offset.flush.interval.ms"), 1000);
    const config_mark_t *m = config_mark(p->core, "batch.max.records");
    assert_non_null(m);
    assert_string_equal(m->file, path);
    assert_int_equal(m->line, 8);
    assert_int_equal(m->col, 5);
    assert_int_equal(config_value_mark(p->core, "batch.max.records")->col, 24);
    assert_null(config_mark(p->core, "topic")); /* defaulted, not given */

    /* Source and its transforms. */
    assert_non_null(p->source);
    assert_string_equal(p->source->id, "source");
    assert_string_equal(p->source->plugin, "datagen");
    assert_int_equal(p->source->mark.line, 10);
    assert_int_equal(p->source->mark.col, 7);
    assert_int_equal(p->source->plugin_mark.line, 10);
    assert_int_equal(p->source->plugin_mark.col, 15);
    assert_null(p->source->core);
    assert_non_null(p->source->config);
    assert_string_equal(config_node_get(p->source->config, "quickstart")->scalar, "orders");
    assert_int_equal(p->source->ntransforms, 2);
    assert_string_equal(p->source->transforms[0].id, "insert-field#1");
    assert_string_equal(p->source->transforms[0].plugin, "insert-field");
    assert_int_equal(p->source->transforms[0].mark.line, 14);
    assert_int_equal(p->source->transforms[0].mark.col, 11);
    assert_string_equal(config_node_get(p->source->transforms[0].config, "static.field")->scalar,
                        "origin");
    assert_string_equal(p->source->transforms[1].id, "hide");
    assert_null(p->source->transforms[1].config);

    /* Sinks: their core keys have no defaults (unset = the pipeline's value). */
    assert_int_equal(p->nsinks, 2);
    assert_string_equal(p->sinks[0].id, "files");
    assert_string_equal(p->sinks[0].plugin, "sftp-json");
    assert_string_equal(config_node_get(p->sinks[0].config, "flush.size")->scalar, "1000");
    assert_non_null(p->sinks[0].core);
    assert_string_equal(config_string(p->sinks[0].core, "errors.tolerance"), "all");
    assert_int_equal(config_int(p->sinks[0].core, "batch.max.records"), 10);
    assert_int_equal(config_has(p->sinks[0].core, "value.converter"), 0);
    assert_null(config_string(p->sinks[0].core, "value.converter"));
    assert_string_equal(p->sinks[1].id, "screen");
    assert_int_equal(config_has(p->sinks[1].core, "errors.tolerance"), 0);
    assert_int_equal(config_has(p->sinks[1].core, "offset.flush.interval.ms"), 0);
    assert_int_equal(p->sinks[1].ntransforms, 0);

    const config_pipeline_t *q = &run.pipelines[1];
    assert_string_equal(q->id, "audit");
    assert_null(q->source);
    assert_string_equal(config_string(q->core, "topic"), "orders");
    assert_int_equal(config_duration_ms(q->core, "offset.flush.interval.ms"), 5000);
    assert_int_equal(q->nsinks, 1);
    assert_string_equal(q->sinks[0].id, "log");

    config_errors_free(&errs);
    config_run_free(&run);
}

static void test_duplicate_id_across_files(void **state)
{
    (void)state;
    const char *paths[] = {SLUICE_TEST_DATA "/dup_a.yaml", SLUICE_TEST_DATA "/dup_b.yaml"};
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    assert_int_equal(config_load(&run, paths, 2, &errs), -1);
    if (errs.len != 1)
        test_dump_errors(&errs);
    assert_int_equal(errs.len, 1);
    assert_string_equal(errs.msgs[0],
                        SLUICE_TEST_DATA "/dup_b.yaml:7:9: duplicate pipeline id 'same': already "
                                         "defined at " SLUICE_TEST_DATA
                                         "/dup_a.yaml:3:5; pipeline ids must be unique across all "
                                         "files of a run");
    /* The other pipelines are all there. */
    assert_int_equal(run.npipelines, 2);
    assert_string_equal(run.pipelines[0].id, "same");
    assert_string_equal(run.pipelines[1].id, "other");
    config_errors_free(&errs);
    config_run_free(&run);
}

/* -- bad input -------------------------------------------------------------------------------- */

#define SINK_ONLY "    sinks:\n      - id: out\n        plugin: console\n"

static void test_malformed_yaml(void **state)
{
    (void)state;
    test_expect_one_error(
        "malformed.yaml",
        "version: 1\n"
        "pipelines:\n"
        "  - id: a\n"
        "    topic: t: u\n",
        "4:13: YAML syntax error: mapping values are not allowed in this context");
    /* libyaml's context names the construct that was left open. */
    test_expect_one_error(
        "unterminated.yaml",
        "version: 1\n"
        "pipelines:\n"
        "  - id: a\n"
        "    topic: \"abc\n",
        "5:1: YAML syntax error: found unexpected end of stream (while scanning a "
        "quoted scalar started at line 4, column 12)");
}

static void test_unknown_key_with_hint(void **state)
{
    (void)state;
    test_expect_one_error("hint.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    batch.max.record: 5\n" SINK_ONLY,
                          "4:5: unknown key 'batch.max.record' in pipeline 'orders'; did you mean "
                          "'batch.max.records'?");
    test_expect_one_error("hint_sink.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    sinks:\n"
                          "      - id: files\n"
                          "        plugin: sftp-json\n"
                          "        confg: {}\n",
                          "7:9: unknown key 'confg' in sink 'files' (plugin sftp-json) of pipeline "
                          "'orders'; did you mean 'config'?");
    test_expect_one_error("hint_top.yaml",
                          "version: 1\n"
                          "plugin.paths: [x]\n"
                          "pipelines:\n"
                          "  - id: orders\n" SINK_ONLY,
                          "2:1: unknown key 'plugin.paths' in the top level; did you mean "
                          "'plugin.path'?");
}

static void test_unknown_key_without_hint(void **state)
{
    (void)state;
    test_expect_one_error("nohint.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    source:\n"
                          "      plugin: file\n"
                          "      zzz: 1\n",
                          "6:7: unknown key 'zzz' in the source (plugin file) of pipeline 'orders' "
                          "(valid keys: plugin, config, transforms)");
}

static void test_wrong_type(void **state)
{
    (void)state;
    test_expect_one_error("type.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    batch.max.records: lots\n" SINK_ONLY,
                          "4:24: key 'batch.max.records' in pipeline 'orders' expects an integer, "
                          "found 'lots'");
    test_expect_one_error("type_map.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    topic: {a: b}\n" SINK_ONLY,
                          "4:12: key 'topic' in pipeline 'orders' expects a string, found a "
                          "mapping");
    test_expect_one_error("type_seq.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    sinks: nothing\n",
                          "4:12: key 'sinks' in pipeline 'orders' expects a sequence of '- id: "
                          "NAME' entries, found a scalar");
    test_expect_one_error("type_kafka.yaml",
                          "version: 1\n"
                          "kafka: 127.0.0.1:9092\n"
                          "pipelines:\n"
                          "  - id: orders\n" SINK_ONLY,
                          "2:8: key 'kafka' in the top level expects a mapping of names to scalar "
                          "values, found a scalar '127.0.0.1:9092'");
}

static void test_out_of_range(void **state)
{
    (void)state;
    test_expect_one_error("range.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    batch.max.records: 0\n" SINK_ONLY,
                          "4:24: key 'batch.max.records' in pipeline 'orders' must be between 1 "
                          "and 1000000, found 0");
    test_expect_one_error("range_size.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    buffer.memory: 2GiB\n" SINK_ONLY,
                          "4:20: key 'buffer.memory' in pipeline 'orders' must be between 64KiB "
                          "and 1GiB, found 2GiB");
    test_expect_one_error("range_min.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    errors.retry.timeout: -2\n" SINK_ONLY,
                          "4:27: key 'errors.retry.timeout' in pipeline 'orders' must be at least "
                          "-1, found -2");
    /* No upper bound: the largest 64-bit value is fine. */
    const char *path = test_write("range_max.yaml", "version: 1\n"
                                                    "pipelines:\n"
                                                    "  - id: orders\n"
                                                    "    errors.retry.timeout: "
                                                    "9223372036854775807\n" SINK_ONLY);
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    assert_int_equal(config_load(&run, &path, 1, &errs), 0);
    assert_int_equal(config_int(run.pipelines[0].core, "errors.retry.timeout"), INT64_MAX);
    config_errors_free(&errs);
    config_run_free(&run);
}

static void test_bad_enum(void **state)
{
    (void)state;
    test_expect_one_error("enum.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n" SINK_ONLY "        errors.tolerance: some\n",
                          "7:27: key 'errors.tolerance' in sink 'out' (plugin console) of pipeline "
                          "'orders' must be one of none, all; found 'some'");
}

static void test_missing_required(void **state)
{
    (void)state;
    test_expect_one_error("noid.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - topic: orders\n" SINK_ONLY,
                          "3:5: pipeline #1: missing required key 'id' (a name for the pipeline, "
                          "e.g. id: orders)");
    test_expect_one_error("noplugin.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: orders\n"
                          "    source:\n"
                          "      config: {a: b}\n",
                          "5:7: the source of pipeline 'orders': missing required key 'plugin' "
                          "(the plugin's name, see `sluice plugins list`)");
    /* A null value is "unset": the error points at the key. */
    test_expect_one_error("nullid.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: ~\n" SINK_ONLY,
                          "3:5: pipeline #1: missing required key 'id' (a name for the pipeline, "
                          "e.g. id: orders)");
    /* config_validate: a table's required key, at `where`, with its example. */
    static const struct sluice_config_field table[] = {
        {.name = "file", .type = SLUICE_CFG_PATH, .flags = SLUICE_CFG_REQUIRED, .example = "/x"},
        {.name = NULL}};
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree;
    assert_null(test_validate("other: 1\n", table, &tree, &errs));
    assert_int_equal(errs.len, 2);
    assert_string_equal(errs.msgs[0], "t.yaml:1:1: unknown key 'other' in the test (valid keys: "
                                      "file)");
    assert_string_equal(errs.msgs[1],
                        "t.yaml:1:1: the test: missing required key 'file' (e.g. file: /x)");
    config_node_free(tree);
    config_errors_free(&errs);
}

static void test_version(void **state)
{
    (void)state;
    test_expect_one_error("nover.yaml", "pipelines:\n  - id: orders\n" SINK_ONLY,
                          "1:1: missing required key 'version': start the file with 'version: 1'");
    test_expect_one_error("ver2.yaml", "version: 2\npipelines:\n  - id: orders\n" SINK_ONLY,
                          "1:10: unsupported version '2': this sluice reads 'version: 1' files");
}

static void test_unreadable_file(void **state)
{
    (void)state;
    const char *path = "/nonexistent/sluice/pipes.yaml";
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    assert_int_equal(config_load(&run, &path, 1, &errs), -1);
    assert_int_equal(errs.len, 1);
    assert_string_equal(errs.msgs[0],
                        "/nonexistent/sluice/pipes.yaml: cannot read: No such file or directory");
    assert_null(run.docs[0]);
    config_errors_free(&errs);
    config_run_free(&run);
}

/* `pipelines: []`: a worker that waits for connectors created over the REST API (not an error). */
static void test_empty_pipelines_list(void **state)
{
    (void)state;
    const char *path = test_write("empty_pipes.yaml", "version: 1\npipelines: []\n");
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    assert_int_equal(config_load(&run, &path, 1, &errs), 0);
    assert_int_equal(errs.len, 0);
    assert_int_equal(run.npipelines, 0);
    config_errors_free(&errs);
    config_run_free(&run);
}

static void test_structure_errors(void **state)
{
    (void)state;
    test_expect_one_error("nopipes.yaml", "version: 1\n",
                          "1:1: missing required key 'pipelines': list at least one pipeline "
                          "(pipelines: [- id: NAME ...])");
    test_expect_one_error("neither.yaml", "version: 1\npipelines:\n  - id: orders\n",
                          "3:5: pipeline 'orders' has neither a source nor sinks: add 'source:' "
                          "(to produce into its topic) or 'sinks:' (to consume it), or both");
    test_expect_one_error("badid.yaml", "version: 1\npipelines:\n  - id: a b\n" SINK_ONLY,
                          "3:9: invalid pipeline id 'a b': use letters, digits, '.', '_' and '-'");
    test_expect_one_error(
        "dupkey.yaml",
        "version: 1\npipelines:\n  - id: orders\n    topic: a\n    topic: b\n" SINK_ONLY,
        "5:5: duplicate key 'topic' (first given at line 4, column 5): keep one");
    test_expect_one_error("dupsink.yaml",
                          "version: 1\npipelines:\n  - id: orders\n" SINK_ONLY
                          "      - id: out\n        plugin: file\n",
                          "7:9: duplicate sink id 'out' in pipeline 'orders' (also at line 5, "
                          "column 9): give each sink its own id");
    test_expect_one_error("toplist.yaml", "- a\n- b\n",
                          "1:1: the file expects a mapping at the top (version: 1, pipelines: "
                          "...), found a sequence");
    test_expect_one_error("emptyfile.yaml", "# nothing\n",
                          "1:1: empty file: a pipeline file starts with 'version: 1' and lists "
                          "'pipelines:'");
    test_expect_one_error("twodocs.yaml",
                          "version: 1\npipelines:\n  - id: orders\n" SINK_ONLY "---\nversion: 1\n",
                          "8:1: a second YAML document ('---'): keep one document per file, or "
                          "pass another file to sluice");
    test_expect_one_error("scalarpipe.yaml", "version: 1\npipelines:\n  - orders\n",
                          "3:5: pipeline #1 expects a mapping (- id: NAME, source: ..., sinks: "
                          "...), found a scalar");
    test_expect_one_error("configlist.yaml",
                          "version: 1\npipelines:\n  - id: orders\n    source:\n      plugin: "
                          "file\n      config: [a]\n",
                          "6:15: key 'config' in the source (plugin file) of pipeline 'orders' "
                          "expects a mapping of the plugin's keys, found a sequence");
}

/* All errors of all files are collected; the second file's global must agree with the first. */
static void test_all_errors_of_all_files(void **state)
{
    (void)state;
    const char *paths[3];
    paths[0] = test_write("all_a.yaml", "version: 1\n"
                                        "offset.storage.file.filename: /tmp/a.json\n"
                                        "pipelines:\n"
                                        "  - id: a\n"
                                        "    batch.max.records: lots\n"
                                        "    buffer.memroy: 4MiB\n" SINK_ONLY);
    paths[1] = test_write("all_b.yaml", "version: 1\n"
                                        "offset.storage.file.filename: /tmp/b.json\n"
                                        "plugin.path: extra\n"
                                        "pipelines:\n"
                                        "  - id: b\n"
                                        "    errors.tolerance: some\n" SINK_ONLY);
    paths[2] = "/nonexistent.yaml";
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    assert_int_equal(config_load(&run, paths, 3, &errs), -1);
    if (errs.len != 5)
        test_dump_errors(&errs);
    assert_int_equal(errs.len, 5);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:5:24: key 'batch.max.records' in pipeline 'a' expects an "
             "integer, found 'lots'",
             paths[0]);
    assert_string_equal(errs.msgs[0], want);
    snprintf(want, sizeof want,
             "%s:6:5: unknown key 'buffer.memroy' in pipeline 'a'; did you "
             "mean 'buffer.memory'?",
             paths[0]);
    assert_string_equal(errs.msgs[1], want);
    snprintf(want, sizeof want,
             "%s:2:1: top-level key 'offset.storage.file.filename' differs "
             "from its value at %s:2:1: the files of one run must agree on it "
             "(set it in one file only)",
             paths[1], paths[0]);
    assert_string_equal(errs.msgs[2], want);
    snprintf(want, sizeof want,
             "%s:6:23: key 'errors.tolerance' in pipeline 'b' must be one of "
             "none, all; found 'some'",
             paths[1]);
    assert_string_equal(errs.msgs[3], want);
    assert_string_equal(errs.msgs[4], "/nonexistent.yaml: cannot read: No such file or directory");
    /* A key only the second file sets joins the run's globals (resolved against its file). */
    assert_int_equal(config_count(run.global, "plugin.path"), 1);
    snprintf(want, sizeof want, "%s/extra", test_dir);
    assert_string_equal(config_item(run.global, "plugin.path", 0), want);
    assert_string_equal(config_string(run.global, "offset.storage.file.filename"), "/tmp/a.json");
    config_errors_free(&errs);
    config_run_free(&run);
}

static void test_interpolation_in_yaml(void **state)
{
    (void)state;
    setenv("SLUICE_TEST_TOPIC", "from-env", 1);
    unsetenv("SLUICE_TEST_UNSET");
    const char *path = test_write(
        "interp.yaml", "version: 1\n"
                       "pipelines:\n"
                       "  - id: a\n"
                       "    topic: ${SLUICE_TEST_TOPIC}\n"
                       "    errors.deadletterqueue.topic.name: ${SLUICE_TEST_UNSET:-}\n"
                       "    source:\n"
                       "      plugin: p\n"
                       "      config: {k: 'x-$${SLUICE_TEST_TOPIC}-${SLUICE_TEST_TOPIC}'}\n");
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    assert_int_equal(config_load(&run, &path, 1, &errs), 0);
    assert_string_equal(config_string(run.pipelines[0].core, "topic"), "from-env");
    /* ${X:-} gives the empty string, which is a value, not null. */
    assert_non_null(config_mark(run.pipelines[0].core, "errors.deadletterqueue.topic.name"));
    assert_string_equal(config_node_get(run.pipelines[0].source->config, "k")->scalar,
                        "x-${SLUICE_TEST_TOPIC}-from-env");
    config_errors_free(&errs);
    config_run_free(&run);

    /* Keys are not interpolated: the odd key is unknown, with its literal name. */
    test_expect_one_error("interp_key.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: a\n"
                          "    ${SLUICE_TEST_TOPIC}: 1\n" SINK_ONLY,
                          "4:5: unknown key '${SLUICE_TEST_TOPIC}' in pipeline 'a' (see "
                          "docs/configuration.md)");

    /* An interpolation error points at the scalar, and adds no follow-up type error. */
    test_expect_one_error("interp_bad.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: a\n"
                          "    batch.max.records: ${SLUICE_TEST_UNSET}\n" SINK_ONLY,
                          "4:24: undefined variable 'SLUICE_TEST_UNSET' in ${SLUICE_TEST_UNSET}: "
                          "set it in the environment or give a default with "
                          "${SLUICE_TEST_UNSET:-VALUE}; for a literal ${SLUICE_TEST_UNSET} "
                          "(e.g. timestamp-router's topic.format), write $${SLUICE_TEST_UNSET}");
    test_expect_one_error("interp_file.yaml",
                          "version: 1\n"
                          "pipelines:\n"
                          "  - id: a\n"
                          "    topic: ${file:/nonexistent/x.properties:topic}\n" SINK_ONLY,
                          "4:12: cannot read properties file '/nonexistent/x.properties' of "
                          "${file:/nonexistent/x.properties:topic}: No such file or directory");
    unsetenv("SLUICE_TEST_TOPIC");
}

/* -- every type ---------------------------------------------------------------------------------
 */

static const char *const test_colors[] = {"red", "green", NULL};
static const struct sluice_config_field test_table[] = {
    {.name = "s", .type = SLUICE_CFG_STRING, .default_value = "dflt"},
    {.name = "i", .type = SLUICE_CFG_INT, .default_value = "-42"},
    {.name = "b", .type = SLUICE_CFG_BOOL, .default_value = "yes"},
    {.name = "d", .type = SLUICE_CFG_DOUBLE, .default_value = "0.25"},
    {.name = "dur", .type = SLUICE_CFG_DURATION, .default_value = "2m"},
    {.name = "sz", .type = SLUICE_CFG_SIZE, .default_value = "64KiB"},
    {.name = "e", .type = SLUICE_CFG_ENUM, .default_value = "green", .enum_values = test_colors},
    {.name = "l", .type = SLUICE_CFG_LIST, .default_value = "a, b ,c"},
    {.name = "p", .type = SLUICE_CFG_PATH, .default_value = "data/x.txt"},
    {.name = "m", .type = SLUICE_CFG_MAP, .default_value = "k=v,k2=v2"},
    {.name = "pw", .type = SLUICE_CFG_STRING, .flags = SLUICE_CFG_SECRET},
    {.name = "unset", .type = SLUICE_CFG_INT},
    {.name = "rd",
     .type = SLUICE_CFG_DOUBLE,
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 1,
     .default_value = "1"},
    {.name = "rdur",
     .type = SLUICE_CFG_DURATION,
     .flags = SLUICE_CFG_RANGE,
     .min = 1000,
     .max = 60000,
     .default_value = "1s"},
    {.name = NULL},
};

static void test_types_from_defaults(void **state)
{
    (void)state;
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree;
    sluice_config_t *c = test_validate("{}", test_table, &tree, &errs);
    assert_non_null(c);
    assert_int_equal(errs.len, 0);
    assert_string_equal(config_string(c, "s"), "dflt");
    assert_int_equal(config_int(c, "i"), -42);
    assert_int_equal(config_bool(c, "b"), 1);
    assert_true(config_double(c, "d") == 0.25);
    assert_int_equal(config_duration_ms(c, "dur"), 120000);
    assert_int_equal(config_size(c, "sz"), 65536);
    assert_string_equal(config_string(c, "e"), "green");
    assert_int_equal(config_count(c, "l"), 3);
    assert_string_equal(config_item(c, "l", 0), "a");
    assert_string_equal(config_item(c, "l", 1), "b");
    assert_string_equal(config_item(c, "l", 2), "c");
    assert_null(config_item(c, "l", 3));
    assert_string_equal(config_string(c, "p"), "/base/data/x.txt");
    assert_int_equal(config_count(c, "m"), 2);
    assert_string_equal(config_map_key(c, "m", 1), "k2");
    assert_string_equal(config_item(c, "m", 1), "v2");
    assert_int_equal(config_has(c, "pw"), 0);
    assert_null(config_string(c, "pw"));
    assert_int_equal(config_has(c, "unset"), 0);
    assert_int_equal(config_int(c, "unset"), 0);
    assert_null(config_mark(c, "s"));
    config_free(c);
    config_node_free(tree);
    config_errors_free(&errs);
}

static void test_types_from_yaml(void **state)
{
    (void)state;
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree;
    sluice_config_t *c = test_validate("s: 'hello world'\n"
                                       "i: +9223372036854775807\n"
                                       "b: OFF\n"
                                       "d: -1.5e3\n"
                                       "dur: 250ms\n"
                                       "sz: 10KB\n"
                                       "e: RED\n"
                                       "l: [x, 'y z', '3']\n"
                                       "p: /abs/path\n"
                                       "m: {a: 1, b: ~, c: 'q'}\n"
                                       "pw: hunter2\n"
                                       "unset: ~\n"
                                       "rd: 0.5\n"
                                       "rdur: 1m\n",
                                       test_table, &tree, &errs);
    test_dump_errors(&errs);
    assert_non_null(c);
    assert_string_equal(config_string(c, "s"), "hello world");
    assert_int_equal(config_int(c, "i"), INT64_MAX);
    assert_int_equal(config_bool(c, "b"), 0);
    assert_true(config_double(c, "d") == -1500.0);
    assert_int_equal(config_duration_ms(c, "dur"), 250);
    assert_int_equal(config_size(c, "sz"), 10000);
    assert_string_equal(config_string(c, "e"), "red"); /* the table's spelling */
    assert_int_equal(config_count(c, "l"), 3);
    assert_string_equal(config_item(c, "l", 1), "y z");
    assert_string_equal(config_string(c, "p"), "/abs/path");
    assert_int_equal(config_count(c, "m"), 3);
    assert_string_equal(config_map_key(c, "m", 0), "a");
    assert_string_equal(config_item(c, "m", 0), "1");
    assert_string_equal(config_item(c, "m", 1), "");
    assert_string_equal(config_string(c, "pw"), "hunter2");
    assert_int_equal(config_has(c, "unset"), 0);
    assert_true(config_double(c, "rd") == 0.5);
    assert_int_equal(config_duration_ms(c, "rdur"), 60000);
    const config_mark_t *m = config_mark(c, "sz");
    assert_non_null(m);
    assert_int_equal(m->line, 6);
    assert_int_equal(m->col, 1);
    assert_int_equal(config_value_mark(c, "sz")->col, 5);

    /* config_dump: table order, set keys only, secrets redacted, strings quoted when needed. */
    buf_t b;
    buf_init(&b);
    config_dump(c, &b, 2);
    assert_string_equal(b.data, "  s: hello world\n"
                                "  i: 9223372036854775807\n"
                                "  b: false\n"
                                "  d: -1.5e3\n"
                                "  dur: 250ms\n"
                                "  sz: 10KB\n"
                                "  e: red\n"
                                "  l: [x, y z, \"3\"]\n"
                                "  p: /abs/path\n"
                                "  m:\n"
                                "    a: \"1\"\n"
                                "    b: \"\"\n"
                                "    c: q\n"
                                "  pw: \"********\"\n"
                                "  rd: 0.5\n"
                                "  rdur: 1m\n");
    assert_null(strstr(b.data, "hunter2"));
    buf_free(&b);
    config_free(c);
    config_node_free(tree);
    config_errors_free(&errs);
}

static void test_type_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"i: 1.5", "t.yaml:1:4: key 'i' in the test expects an integer, found '1.5'"},
        {"i: 99999999999999999999",
         "t.yaml:1:4: key 'i' in the test expects an integer, found '99999999999999999999'"},
        {"b: maybe", "t.yaml:1:4: key 'b' in the test expects a boolean (true or false), found "
                     "'maybe'"},
        {"d: abc", "t.yaml:1:4: key 'd' in the test expects a number, found 'abc'"},
        {"d: .inf", "t.yaml:1:4: key 'd' in the test expects a number, found '.inf'"},
        {"dur: 5 sec", "t.yaml:1:6: key 'dur' in the test expects a duration (250ms, 5s, 2m, 1h, "
                       "1d; a bare integer is milliseconds), found '5 sec'"},
        {"sz: 4MB!", "t.yaml:1:5: key 'sz' in the test expects a size (512, 64KiB, 4MiB, 1GiB, "
                     "10KB, 2MB), found '4MB!'"},
        {"e: blue", "t.yaml:1:4: key 'e' in the test must be one of red, green; found 'blue'"},
        {"l: {a: b}", "t.yaml:1:4: key 'l' in the test expects a list (a YAML sequence of "
                      "scalars or a comma-separated string), found a mapping"},
        {"l: [a, [b]]", "t.yaml:1:8: key 'l' in the test expects a list (a YAML sequence of "
                        "scalars or a comma-separated string), found a sequence as item 2"},
        {"m: [a]", "t.yaml:1:4: key 'm' in the test expects a mapping of names to scalar values, "
                   "found a sequence"},
        {"m: {a: {b: c}}", "t.yaml:1:8: key 'm' in the test expects a mapping of names to scalar "
                           "values, found a mapping under 'a'"},
        {"s: [a]", "t.yaml:1:4: key 's' in the test expects a string, found a sequence"},
        {"p: {a: b}", "t.yaml:1:4: key 'p' in the test expects a path, found a mapping"},
        {"rd: 1.5", "t.yaml:1:5: key 'rd' in the test must be between 0 and 1, found 1.5"},
        {"rdur: 2m", "t.yaml:1:7: key 'rdur' in the test must be between 1s and 1m, found 2m"},
        {"rdur: 10", "t.yaml:1:7: key 'rdur' in the test must be between 1s and 1m, found 10"},
        {"[a, b]", "t.yaml:1:1: the test expects a mapping of keys, found a sequence"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_errors_t errs;
        config_errors_init(&errs);
        config_node_t *tree;
        sluice_config_t *c = test_validate(cases[i].yaml, test_table, &tree, &errs);
        if (errs.len != 1 || strcmp(errs.msgs[0], cases[i].msg) != 0) {
            fprintf(stderr, "  case: %s\n  want: %s\n", cases[i].yaml, cases[i].msg);
            test_dump_errors(&errs);
        }
        assert_null(c);
        assert_int_equal(errs.len, 1);
        assert_string_equal(errs.msgs[0], cases[i].msg);
        config_node_free(tree);
        config_errors_free(&errs);
    }
}

static void test_list_as_comma_string_and_paths(void **state)
{
    (void)state;
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree;
    sluice_config_t *c =
        test_validate("l: ' one,two , ,three,'\np: ./rel/file\n", test_table, &tree, &errs);
    assert_non_null(c);
    assert_int_equal(config_count(c, "l"), 3);
    assert_string_equal(config_item(c, "l", 0), "one");
    assert_string_equal(config_item(c, "l", 1), "two");
    assert_string_equal(config_item(c, "l", 2), "three");
    assert_string_equal(config_string(c, "p"), "/base/rel/file");
    config_free(c);
    config_node_free(tree);

    /* Empty list; a NULL map means "nothing given" (defaults only). */
    c = test_validate("l: []\n", test_table, &tree, &errs);
    assert_non_null(c);
    assert_int_equal(config_has(c, "l"), 1);
    assert_int_equal(config_count(c, "l"), 0);
    config_free(c);
    config_node_free(tree);
    config_mark_t where = {"t.yaml", 1, 1};
    c = config_validate(NULL, test_table, "the test", &where, NULL, &errs);
    assert_non_null(c);
    assert_string_equal(config_string(c, "p"), "data/x.txt"); /* no base_dir: as written */
    config_free(c);
    assert_int_equal(errs.len, 0);
    config_errors_free(&errs);
}

static void test_durations_and_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } durs[] = {{"0", 0},        {"250", 250},     {"250ms", 250}, {"5s", 5000}, {"2m", 120000},
                {"1h", 3600000}, {"1d", 86400000}, {"-1", -1},     {"+7s", 7000}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        int64_t v = -99;
        assert_int_equal(config_parse_duration_ms(durs[i].s, &v), 0);
        assert_int_equal(v, durs[i].ms);
    }
    static const char *const bad_durs[] = {
        "", "ms", "5x", "5 s", "1.5s", "5S", "s5", "99999999999999999d", "9223372036854775808"};
    for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++) {
        int64_t v;
        assert_int_equal(config_parse_duration_ms(bad_durs[i], &v), -1);
    }
    static const struct {
        const char *s;
        int64_t bytes;
    } sizes[] = {{"512", 512},
                 {"0", 0},
                 {"64KiB", 65536},
                 {"4MiB", 4194304},
                 {"1GiB", 1073741824},
                 {"10KB", 10000},
                 {"2MB", 2000000},
                 {"3GB", 3000000000},
                 {"1TiB", 1099511627776},
                 {"7B", 7},
                 {"4mib", 4194304}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t v = -99;
        assert_int_equal(config_parse_size(sizes[i].s, &v), 0);
        assert_int_equal(v, sizes[i].bytes);
    }
    static const char *const bad_sizes[] = {"",       "-1",  "KiB",           "4 MiB",
                                            "1.5MiB", "4XB", "99999999999TiB"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        int64_t v;
        assert_int_equal(config_parse_size(bad_sizes[i], &v), -1);
    }
    char out[32];
    config_format_size(4194304, out, sizeof out);
    assert_string_equal(out, "4MiB");
    config_format_size(1000, out, sizeof out);
    assert_string_equal(out, "1000");
    config_format_duration(90000, out, sizeof out);
    assert_string_equal(out, "90s");
    config_format_duration(250, out, sizeof out);
    assert_string_equal(out, "250ms");
}

static void test_did_you_mean(void **state)
{
    (void)state;
    const char *const names[] = {"flush.size", "topics.dir", "partitioner", "url"};
    assert_string_equal(config_did_you_mean("flush_size", names, 4), "flush.size");
    assert_string_equal(config_did_you_mean("topic.dir", names, 4), "topics.dir");
    assert_string_equal(config_did_you_mean("partitoner", names, 4), "partitioner");
    assert_string_equal(config_did_you_mean("ulr", names, 4), "url");
    assert_null(config_did_you_mean("compression", names, 4));
    assert_null(config_did_you_mean("ab", names, 4));
    const char *const plugins[] = {"console", "file", "insert-field"};
    assert_string_equal(config_did_you_mean("fiel", plugins, 3), "file");
    assert_string_equal(config_did_you_mean("consol", plugins, 3), "console");
}

/* -- docs ---------------------------------------------------------------------------------------
 */

static const struct sluice_source test_source = {.struct_size = sizeof(struct sluice_source),
                                                 .config = test_table};
static const struct sluice_sink test_sink = {.struct_size = sizeof(struct sluice_sink)};
static const struct sluice_plugin test_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "demo",
    .version = "1.2.3",
    .summary = "A demo plugin.",
    .description = "It has | pipes\nand lines.",
    .source = &test_source,
    .sink = &test_sink,
};

static void test_docs_markdown(void **state)
{
    (void)state;
    buf_t a, b;
    buf_init(&a);
    buf_init(&b);
    config_docs_markdown(&test_plugin, &a);
    config_docs_markdown(&test_plugin, &b);
    assert_string_equal(a.data, b.data); /* deterministic */
    const char *head = "# demo\n\nVersion 1.2.3. Roles: source, sink.\n\nA demo plugin.\n\n"
                       "It has | pipes\nand lines.\n\n## Source\n";
    assert_true(strncmp(a.data, head, strlen(head)) == 0);
    assert_non_null(strstr(a.data, "## Source\n"));
    assert_non_null(strstr(a.data, "## Sink\n\nKeys under `config:` of a `sinks:` entry with "
                                   "`plugin: demo`.\n\nNo configuration keys.\n"));
    assert_null(strstr(a.data, "## Transform"));
    assert_non_null(strstr(a.data, "| Key | Type | Default | Required | Description | Example |"));
    assert_non_null(strstr(a.data, "| `e` | enum: `red`, `green` | `green` | no |"));
    assert_non_null(strstr(a.data, "| `pw` (secret) | string | — | no | Secret: never logged"));
    assert_non_null(strstr(a.data, "| `rdur` | duration, 1s to 1m | `1s` | no |"));
    assert_non_null(strstr(a.data, "| `rd` | double, 0 to 1 | `1` | no |"));
    assert_int_equal(a.data[a.len - 1], '\n');
    assert_true(a.data[a.len - 2] != '\n');
    buf_free(&a);
    buf_free(&b);

    config_docs_core_markdown(&a);
    assert_non_null(strstr(a.data, "## Top level\n"));
    assert_non_null(strstr(a.data, "| `batch.max.records` | int, 1 to 1000000 | `4096` | no |"));
    assert_non_null(strstr(a.data, "| `buffer.memory` | size, 64KiB to 1GiB | `4MiB` | no |"));
    assert_non_null(strstr(a.data, "| `errors.retry.timeout` | int, at least -1 | `-1` | no |"));
    assert_non_null(
        strstr(a.data, "| `errors.tolerance` | enum: `none`, `all` | the pipeline's | no |"));
    assert_non_null(strstr(a.data, "## Interpolation\n"));
    assert_non_null(strstr(a.data, "## Secrets\n"));
    buf_free(&a);
}

/* The core tables' defaults must all parse (a bad default would fail every load). */
static void test_core_tables_defaults(void **state)
{
    (void)state;
    const struct sluice_config_field *tables[] = {config_global_keys, config_pipeline_keys,
                                                  config_sink_keys};
    for (size_t t = 0; t < 3; t++) {
        config_errors_t errs;
        config_errors_init(&errs);
        sluice_config_t *c = config_validate(NULL, tables[t], "core", NULL, "/", &errs);
        test_dump_errors(&errs);
        assert_non_null(c);
        config_free(c);
        config_errors_free(&errs);
    }
}

/* -- hostile files (issue #22): bounded size, alias expansion and nesting -----------------------
 */

static const char *const billion_laughs =
    "version: 1\n"
    "# nine levels of nine aliases each: 387 420 489 scalars once expanded\n"
    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "pipelines:\n"
    "  - id: laughs\n"
    "    topic: t\n"
    "    source: {plugin: datagen, config: {lines: *i}}\n"
    "    sinks: [{id: s, plugin: console}]\n";

/* Loads `path` and returns the errors joined by newlines (static). */
static const char *test_load_errors(const char *path)
{
    static char all[8192];
    config_run_t run;
    config_errors_t errs;
    config_errors_init(&errs);
    int rc = config_load(&run, &path, 1, &errs);
    assert_int_equal(rc, -1);
    all[0] = '\0';
    for (size_t i = 0; i < errs.len; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s\n", errs.msgs[i]);
    config_run_free(&run);
    config_errors_free(&errs);
    return all;
}

static void test_yaml_billion_laughs(void **state)
{
    (void)state;
    const char *path = test_write("laughs.yaml", billion_laughs);
    time_t t0 = time(NULL);
    const char *errs = test_load_errors(path);
    assert_true(time(NULL) - t0 < 5); /* refused at once, not after eating the memory */
    char want[512];
    snprintf(want, sizeof want, "%s:", path);
    if (!strstr(errs, want) || !strstr(errs, "alias"))
        fprintf(stderr, "%s", errs);
    assert_non_null(strstr(errs, want)); /* FILE:LINE:COL */
    assert_non_null(strstr(errs, "alias"));
}

static void test_yaml_too_large(void **state)
{
    (void)state;
    size_t n = 5u << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, '#', n);
    for (size_t i = 99; i < n; i += 100)
        big[i] = '\n';
    memcpy(big, "version: 1\n", 11);
    big[n] = '\0';
    const char *path = test_write("big.yaml", big);
    free(big);
    const char *errs = test_load_errors(path);
    if (!strstr(errs, path) || !strstr(errs, "4 MiB"))
        fprintf(stderr, "%s", errs);
    assert_non_null(strstr(errs, path));
    assert_non_null(strstr(errs, "4 MiB"));
}

static void test_yaml_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 200000;
    char *deep = malloc(2 * depth + 32);
    assert_non_null(deep);
    size_t o = (size_t)sprintf(deep, "version: 1\nx: ");
    memset(deep + o, '[', depth);
    memset(deep + o + depth, ']', depth);
    strcpy(deep + o + 2 * depth, "\n");
    const char *path = test_write("deep.yaml", deep);
    free(deep);
    const char *errs = test_load_errors(path);
    char want[512];
    snprintf(want, sizeof want, "%s:2:", path);
    if (!strstr(errs, want) || !strstr(errs, "deeper than 64"))
        fprintf(stderr, "%s", errs);
    assert_non_null(strstr(errs, want));
    assert_non_null(strstr(errs, "deeper than 64"));
    assert_null(strchr(strchr(errs, '\n') + 1, '\n')); /* one error, not one per level */
}

/* Aliases within the bound still work: a block shared by a few pipelines. */
static void test_yaml_aliases_allowed(void **state)
{
    (void)state;
    config_errors_t errs;
    config_errors_init(&errs);
    char text[64] = "a: &a [1, 2, 3]\nb: [*a, *a, *a, *a]\n";
    config_node_t *n = config_parse_yaml("buf", text, strlen(text), ".", &errs);
    test_dump_errors(&errs);
    assert_non_null(n);
    assert_int_equal(errs.len, 0);
    assert_int_equal(config_node_get(n, "b")->len, 4);
    assert_int_equal(config_node_get(n, "b")->items[3]->len, 3);
    config_node_free(n);
    config_errors_free(&errs);
}

/* lint --print: librdkafka's sensitive properties, the registry's user info and URL credentials
 * never show, whatever the key is called. */
static void test_dump_secrets(void **state)
{
    (void)state;
    const char *yaml = "kafka:\n"
                       "  bootstrap.servers: SASL_SSL://broker:9093\n"
                       "  sasl.username: CANARY-user\n"
                       "  sasl.password: CANARY-pw\n"
                       "  ssl.key.pem: CANARY-pem\n"
                       "  ssl.ca.pem: CANARY-ca\n"
                       "  sasl.oauthbearer.config: principal=CANARY-oauth\n"
                       "  ssl.keystore.password: CANARY-ks\n"
                       "  linger.ms: 5\n"
                       "schema.registry:\n"
                       "  url: http://CANARY-key:CANARY-secret@registry:8081,http://r2:8081\n"
                       "  basic.auth.user.info: CANARY-key:CANARY-secret\n"
                       "plugin.path: [\"jdbc:mysql://u:CANARY-list@h/db\"]\n";
    config_node_t *tree;
    config_errors_t errs;
    config_errors_init(&errs);
    sluice_config_t *c = test_validate(yaml, config_global_keys, &tree, &errs);
    test_dump_errors(&errs);
    assert_non_null(c);
    buf_t b;
    buf_init(&b);
    config_dump(c, &b, 0);
    assert_null(strstr(b.data, "CANARY"));
    assert_non_null(strstr(b.data, "  linger.ms: \"5\"\n"));
    assert_non_null(strstr(b.data, "  sasl.password: \"********\"\n"));
    assert_non_null(strstr(b.data, "  url: http://********@registry:8081,http://r2:8081\n"));
    assert_non_null(strstr(b.data, "  bootstrap.servers: SASL_SSL://broker:9093\n"));
    assert_non_null(strstr(b.data, "jdbc:mysql://********@h/db"));
    buf_free(&b);
    config_free(c);
    config_node_free(tree);
    config_errors_free(&errs);

    const struct sluice_config_field *f = &config_pipeline_keys[0];
    while (f->name && strcmp(f->name, "producer.override.*") != 0)
        f++;
    assert_non_null(f->name);
    assert_true(config_map_entry_secret(f, "sasl.password"));
    assert_false(config_map_entry_secret(f, "linger.ms"));
}

/* redact_url: every URL of a text, userinfo and ?password= parameters; snprintf's return. */
static void test_redact_url(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"no url here", "no url here"},
        {"http://host:8081/x", "http://host:8081/x"},
        {"http://k:s@host:8081/x", "http://********@host:8081/x"},
        {"cannot connect to 'mysql://root:p@ss@db:3306/app' now",
         "cannot connect to 'mysql://********@db:3306/app' now"},
        {"http://a:b@h1, http://c:d@h2", "http://********@h1, http://********@h2"},
        {"jdbc:mysql://h/db?user=u&password=pw&ssl=true#f",
         "jdbc:mysql://h/db?user=u&password=********&ssl=true#f"},
        {"jdbc:mysql://h/db?trustCertificateKeyStorePassword=x",
         "jdbc:mysql://h/db?trustCertificateKeyStorePassword=********"},
        {"sftp://user@host:22/path", "sftp://********@host:22/path"},
        {"://@", "://********@"},
        {"", ""},
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = redact_url(out, sizeof out, cases[i].in);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    char small[8];
    assert_int_equal(redact_url(small, sizeof small, "http://u:p@h"), 17);
    assert_string_equal(small, "http://");
    assert_int_equal(redact_url(NULL, 0, "http://u:p@h"), 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_two_pipelines),
        cmocka_unit_test(test_duplicate_id_across_files),
        cmocka_unit_test(test_malformed_yaml),
        cmocka_unit_test(test_unknown_key_with_hint),
        cmocka_unit_test(test_unknown_key_without_hint),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_empty_pipelines_list),
        cmocka_unit_test(test_all_errors_of_all_files),
        cmocka_unit_test(test_interpolation_in_yaml),
        cmocka_unit_test(test_types_from_defaults),
        cmocka_unit_test(test_types_from_yaml),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_list_as_comma_string_and_paths),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_docs_markdown),
        cmocka_unit_test(test_core_tables_defaults),
        cmocka_unit_test(test_yaml_billion_laughs),
        cmocka_unit_test(test_yaml_too_large),
        cmocka_unit_test(test_yaml_deep_nesting),
        cmocka_unit_test(test_yaml_aliases_allowed),
        cmocka_unit_test(test_dump_secrets),
        cmocka_unit_test(test_redact_url),
    };
    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
