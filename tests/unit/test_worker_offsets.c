/* worker_offsets.c on a hand-made in-process runtime: the shapes of a source's position in GET
 * (the plugin's JSON byte for byte, text, bytes), PATCH and DELETE only when STOPPED with no live
 * task, the PATCH forms back to bytes, bad bodies, a sink without Kafka, 404s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime.h"
#include "worker.h"

static char dir[256], path[300];
static runtime_t rt;
static pipeline_t src_p, sink_p;
static pipeline_t *list[2];
static config_pipeline_t src_cp, sink_cp;
static config_instance_t sink_ci;
static int sink_targets[1];

static int setup(void **state)
{
    (void)state;
    char err[512];
    snprintf(dir, sizeof dir, "/tmp/sluice-wo-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/offsets.json", dir);
    memset(&rt, 0, sizeof rt);
    pthread_mutex_init(&rt.lock, NULL);
    assert_int_equal(offsets_open(&rt.offsets, path, err, sizeof err), 0);
    /* "src": a source-only pipeline; "snk": one sink and no source (the connector "snk") */
    memset(&src_p, 0, sizeof src_p);
    memset(&sink_p, 0, sizeof sink_p);
    src_cp = (config_pipeline_t){.id = "src"};
    sink_ci = (config_instance_t){.id = "out", .plugin = "file"};
    sink_cp = (config_pipeline_t){.id = "snk", .sinks = &sink_ci, .nsinks = 1};
    src_p.cfg = &src_cp;
    src_p.id = "src";
    src_p.has_source = 1;
    src_p.src_target = WORKER_RUNNING;
    sink_p.cfg = &sink_cp;
    sink_p.id = "snk";
    sink_targets[0] = WORKER_RUNNING;
    sink_p.sink_target = sink_targets;
    list[0] = &src_p;
    list[1] = &sink_p;
    rt.pipelines = list;
    rt.npipelines = 2;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    offsets_close(rt.offsets);
    pthread_mutex_destroy(&rt.lock);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* GET's body for `name` (asserting 200). */
static char *get(const char *name)
{
    static char out[4096];
    char err[512];
    buf_t b;
    buf_init(&b);
    assert_int_equal(worker_offsets(&rt, name, &b, err, sizeof err), 200);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data);
    buf_free(&b);
    return out;
}

static void put(const void *pos, size_t len)
{
    assert_int_equal(offsets_put(rt.offsets, "src", pos, len, 42), 0);
}

static void test_get_shapes(void **state)
{
    (void)state;
    assert_string_equal(get("src"), "{\"offsets\":[]}");
    /* a JSON object: as it is (a 64-bit inode would not survive a double) */
    const char *js = "{\"file\":\"/x\",\"inode\":18446744073709551615,\"position\":100}";
    put(js, strlen(js));
    assert_string_equal(get("src"),
                        "{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":"
                        "{\"file\":\"/x\",\"inode\":18446744073709551615,\"position\":"
                        "100}}]}");
    put("line 7", 6); /* text */
    assert_string_equal(get("src"),
                        "{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":"
                        "{\"position\":\"line 7\"}}]}");
    put("[1,2]", 5); /* JSON but not an object: text */
    assert_non_null(strstr(get("src"), "{\"position\":\"[1,2]\"}"));
    put("{\"a\":\"\xff\"}", 9); /* a JSON object but not UTF-8: bytes */
    assert_non_null(strstr(get("src"), "{\"position_base64\":\"eyJhIjoi/yJ9\"}"));
    put("\x01\x00\xff", 3); /* bytes */
    assert_non_null(strstr(get("src"), "{\"position_base64\":\"AQD/\"}"));
    /* in-process a sink has no committed offsets */
    assert_string_equal(get("snk"), "{\"offsets\":[]}");
}

static void test_not_found(void **state)
{
    (void)state;
    char err[512];
    buf_t b;
    buf_init(&b);
    assert_int_equal(worker_offsets(&rt, "nope", &b, err, sizeof err), 404);
    assert_string_equal(err, "Connector nope not found");
    assert_int_equal(worker_offsets_alter(&rt, "nope", "{}", 2, err, sizeof err), 404);
    assert_int_equal(worker_offsets_reset(&rt, "nope", err, sizeof err), 404);
    assert_int_equal(worker_topics_reset(&rt, "nope", err, sizeof err), 404);
    assert_int_equal(worker_topics_reset(&rt, "src", err, sizeof err), 202);
    assert_null(worker_kafka_cluster_id(&rt));
    buf_free(&b);
}

static int alter(const char *name, const char *body, char *err, size_t errlen)
{
    return worker_offsets_alter(&rt, name, body, strlen(body), err, errlen);
}

/* The stored position as text (NUL-terminated copy). */
static char *stored(size_t *len, int64_t *next)
{
    static char out[512];
    void *pos;
    assert_int_equal(offsets_read(rt.offsets, "src", &pos, len, next), 1);
    snprintf(out, sizeof out, "%.*s", (int)*len, pos ? (char *)pos : "");
    free(pos);
    return out;
}

static void test_alter_only_when_stopped(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    int64_t next;
    put("a", 1);
    const char *body =
        "{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":{\"position\":"
        "\"b\"}}]}";
    assert_int_equal(alter("src", body, err, sizeof err), 400);
    assert_string_equal(err, "Connectors must be in the STOPPED state before their offsets can be "
                             "modified. This can be done for the specified connector by issuing a "
                             "'PUT' request to the '/connectors/src/stop' endpoint");
    assert_int_equal(worker_offsets_reset(&rt, "src", err, sizeof err), 400);
    /* stopped, but its task has not ended yet */
    src_p.src_target = WORKER_STOPPED;
    src_p.ctl.live = 1;
    assert_int_equal(alter("src", body, err, sizeof err), 400);
    assert_string_equal(stored(&len, &next), "a");
    src_p.ctl.live = 0;
    assert_int_equal(alter("src", body, err, sizeof err), 200);
    assert_string_equal(err, "The offsets for this connector have been altered successfully");
    assert_string_equal(stored(&len, &next), "b");
    assert_int_equal(next, 42); /* the topic's numbering is kept */
    /* the file has it (flushed) */
    offsets_close(rt.offsets);
    assert_int_equal(offsets_open(&rt.offsets, path, err, sizeof err), 0);
    assert_string_equal(stored(&len, &next), "b");
}

static void test_alter_forms(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    int64_t next;
    src_p.src_target = WORKER_STOPPED;
    put("a", 1);
    assert_int_equal(alter("src",
                           "{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":"
                           "{\"file\":\"/x\",\"position\":7}}]}",
                           err, sizeof err),
                     200);
    assert_string_equal(stored(&len, &next), "{\"file\":\"/x\",\"position\":7}");
    assert_int_equal(alter("src",
                           "{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":"
                           "{\"position_base64\":\"AQD/\"}}]}",
                           err, sizeof err),
                     200);
    stored(&len, &next);
    assert_int_equal(len, 3);
    assert_int_equal(alter("src",
                           "{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":null}]}",
                           err, sizeof err),
                     200);
    stored(&len, &next);
    assert_int_equal(len, 0);
    assert_string_equal(get("src"), "{\"offsets\":[]}");
    put("a", 1);
    assert_int_equal(worker_offsets_reset(&rt, "src", err, sizeof err), 200);
    assert_string_equal(err, "The offsets for this connector have been reset successfully");
    stored(&len, &next);
    assert_int_equal(len, 0);
    assert_int_equal(next, 42);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    int64_t next;
    src_p.src_target = WORKER_STOPPED;
    put("a", 1);
    static const struct {
        const char *body, *want;
    } bad[] = {
        {"", "not JSON"},
        {"{}", "Partitions / offsets need to be provided for an alter offsets request"},
        {"{\"offsets\":[]}", "Partitions / offsets need to be provided"},
        {"{\"offsets\":{}}", "must be a list"},
        {"{\"offsets\":[3]}", "offsets[0]"},
        {"{\"offsets\":[{\"partition\":{\"pipeline\":\"other\"},\"offset\":null}]}",
         "{\"pipeline\": \"src\"}"},
        {"{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":{}}]}", "empty offset"},
        {"{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":{\"position_base64\":"
         "\"*\"}}]}",
         "not base64"},
        {"{\"offsets\":[{\"partition\":{\"pipeline\":\"src\"},\"offset\":null},"
         "{\"partition\":{\"pipeline\":\"src\"},\"offset\":null}]}",
         "one partition"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(alter("src", bad[i].body, err, sizeof err), 400);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: '%s' does not say '%s'", bad[i].body, err, bad[i].want);
    }
    assert_string_equal(stored(&len, &next), "a");
    /* a sink: its partition's shape, and no Kafka in-process */
    sink_targets[0] = WORKER_STOPPED;
    assert_int_equal(alter("snk",
                           "{\"offsets\":[{\"partition\":{\"kafka_topic\":\"t\"},\"offset\":"
                           "{\"kafka_offset\":1}}]}",
                           err, sizeof err),
                     400);
    assert_non_null(strstr(err, "kafka_partition"));
    assert_int_equal(
        alter("snk",
              "{\"offsets\":[{\"partition\":{\"kafka_topic\":\"t\",\"kafka_partition\":"
              "0},\"offset\":{\"kafka_offset\":1.5}}]}",
              err, sizeof err),
        400);
    assert_non_null(strstr(err, "kafka_offset"));
    assert_int_equal(
        alter("snk",
              "{\"offsets\":[{\"partition\":{\"kafka_topic\":\"t\",\"kafka_partition\":"
              "0},\"offset\":{\"kafka_offset\":1}}]}",
              err, sizeof err),
        400);
    assert_non_null(strstr(err, "in-process"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_only_when_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alter_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
