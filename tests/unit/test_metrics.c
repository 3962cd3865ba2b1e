/* /metrics: the exposition of a snapshot of connectors (names, labels, values, escaping), of
 * librdkafka's statistics as kafka.c keeps them, and of the process collector's series. */
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

#include "kafka.h"
#include "metrics.h"
#include "pipeline.h"
#include "runtime.h"
#include "worker.h"

/* The exposition holds this exact line. */
static void assert_line(const buf_t *b, const char *line)
{
    const char *p = b->data;
    size_t n = strlen(line);
    while ((p = strstr(p, line)) != NULL) {
        if ((p == b->data || p[-1] == '\n') && p[n] == '\n')
            return;
        p += n;
    }
    fail_msg("no line \"%s\" in:\n%s", line, b->data);
}

static void assert_no(const buf_t *b, const char *text)
{
    if (strstr(b->data, text))
        fail_msg("unexpected \"%s\" in:\n%s", text, b->data);
}

/* Every family is announced once, with HELP and TYPE before its samples, and every sample
 * belongs to the family announced last (what the text format requires). */
static void assert_well_formed(const buf_t *b)
{
    char family[128] = "";
    char seen[64][128];
    size_t nseen = 0;
    const char *p = b->data;
    while (*p) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        char line[1024];
        size_t len = (size_t)(eol - p);
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        char name[128];
        if (sscanf(line, "# TYPE %127s", name) == 1) {
            for (size_t i = 0; i < nseen; i++)
                assert_string_not_equal(seen[i], name);
            assert_true(nseen < 64);
            snprintf(seen[nseen++], sizeof seen[0], "%s", name);
            snprintf(family, sizeof family, "%s", name);
        } else if (line[0] != '#') {
            size_t k = strcspn(line, "{ ");
            assert_true(k == strlen(family) && strncmp(line, family, k) == 0);
        }
        p = eol + 1;
    }
}

static worker_task_t *tasks(size_t n)
{
    worker_task_t *t = calloc(n, sizeof *t);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        t[i].id = (int)i;
    return t;
}

/* A source "orders" and its sink "orders.files" with two tasks, the second failed. */
static void snapshot(worker_connector_t c[2])
{
    memset(c, 0, 2 * sizeof *c);
    c[0].name = "orders";
    c[0].pipeline = "orders";
    c[0].plugin = "datagen \"x\\y\"";
    c[0].state = WORKER_RUNNING;
    c[0].buffer_bytes = 4096;
    c[0].tasks = tasks(1);
    c[0].ntasks = 1;
    worker_counters_t *k = &c[0].tasks[0].counters;
    k->records_in = 1000;
    k->records_out = 990;
    k->errors = 10;
    k->skipped = 10;
    k->batches = 4;
    k->batch_records = 1000;
    k->batch_max = 400;
    k->commits = 3;
    k->commit_failures = 1;
    k->commit_ms_total = 40;
    k->commit_ms_max = 25;
    k->retries = 2;
    k->dlq = 7;
    k->dlq_failures = 3;
    k->last_error_ms = 1700000000123;

    c[1].name = "orders.files";
    c[1].pipeline = "orders";
    c[1].plugin = "file";
    c[1].is_sink = 1;
    c[1].state = WORKER_RUNNING;
    c[1].restarts = 2;
    c[1].buffer_bytes = 4096;
    c[1].tasks = tasks(2);
    c[1].ntasks = 2;
    c[1].tasks[0].counters.records_in = 500;
    c[1].tasks[0].counters.records_out = 499;
    c[1].tasks[1].state = WORKER_FAILED;
}

static void test_connectors(void **state)
{
    (void)state;
    worker_connector_t c[2];
    snapshot(c);
    buf_t b;
    buf_init(&b);
    metrics_write_connectors(&b, c, 2);
    assert_well_formed(&b);
    assert_line(&b, "sluice_worker_connectors 2");
    assert_line(&b, "sluice_worker_tasks 3");
    assert_line(&b, "sluice_connector_info{connector=\"orders\",type=\"source\","
                    "class=\"datagen \\\"x\\\\y\\\"\",pipeline=\"orders\"} 1");
    assert_line(&b, "sluice_connector_status{connector=\"orders\",state=\"RUNNING\"} 1");
    assert_line(&b, "sluice_connector_status{connector=\"orders\",state=\"FAILED\"} 0");
    assert_line(&b, "sluice_connector_restarts_total{connector=\"orders.files\"} 2");
    assert_line(&b, "sluice_task_status{connector=\"orders.files\",task=\"1\",state=\"FAILED\"} 1");
    assert_line(&b,
                "sluice_task_status{connector=\"orders.files\",task=\"1\",state=\"RUNNING\"} 0");
    assert_line(&b, "sluice_source_record_poll_total{connector=\"orders\",task=\"0\"} 1000");
    assert_line(&b, "sluice_source_record_write_total{connector=\"orders\",task=\"0\"} 990");
    assert_line(&b, "sluice_sink_record_read_total{connector=\"orders.files\",task=\"0\"} 500");
    assert_line(&b, "sluice_sink_record_send_total{connector=\"orders.files\",task=\"0\"} 499");
    /* a source's series are not a sink's, nor the other way round */
    assert_no(&b, "sluice_source_record_poll_total{connector=\"orders.files\"");
    assert_no(&b, "sluice_sink_record_read_total{connector=\"orders\",");
    assert_line(&b, "sluice_offset_commit_completion_total{connector=\"orders\",task=\"0\"} 3");
    assert_line(&b, "sluice_offset_commit_failure_total{connector=\"orders\",task=\"0\"} 1");
    assert_line(&b, "sluice_offset_commit_max_time_seconds{connector=\"orders\",task=\"0\"} 0.025");
    assert_line(&b, "sluice_offset_commit_avg_time_seconds{connector=\"orders\",task=\"0\"} 0.01");
    /* no commit yet: no average */
    assert_line(&b,
                "sluice_offset_commit_avg_time_seconds{connector=\"orders.files\",task=\"0\"} NaN");
    assert_line(&b, "sluice_batch_size_max{connector=\"orders\",task=\"0\"} 400");
    assert_line(&b, "sluice_batch_size_avg{connector=\"orders\",task=\"0\"} 250");
    assert_line(&b, "sluice_record_errors_total{connector=\"orders\",task=\"0\"} 10");
    assert_line(&b, "sluice_record_failures_total{connector=\"orders\",task=\"0\"} 12");
    assert_line(&b, "sluice_records_skipped_total{connector=\"orders\",task=\"0\"} 10");
    assert_line(&b, "sluice_retries_total{connector=\"orders\",task=\"0\"} 2");
    assert_line(
        &b, "sluice_deadletterqueue_produce_requests_total{connector=\"orders\",task=\"0\"} 10");
    assert_line(&b,
                "sluice_deadletterqueue_produce_failures_total{connector=\"orders\",task=\"0\"} 3");
    assert_line(&b, "sluice_last_error_timestamp_seconds{connector=\"orders\",task=\"0\"} "
                    "1700000000.123");
    assert_line(&b, "sluice_last_error_timestamp_seconds{connector=\"orders.files\",task=\"1\"} 0");
    /* once per pipeline */
    assert_line(&b, "sluice_buffer_used_bytes{pipeline=\"orders\"} 4096");
    assert_int_equal(
        strstr(strstr(b.data, "sluice_buffer_used_bytes{") + 1, "sluice_buffer_used_bytes{"), NULL);
    /* TYPE lines: counters end in _total (Prometheus's naming, which promtool checks) */
    assert_line(&b, "# TYPE sluice_source_record_poll_total counter");
    assert_line(&b, "# TYPE sluice_batch_size_avg gauge");
    buf_free(&b);
    free(c[0].tasks);
    free(c[1].tasks);
}

static void test_no_connectors(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    metrics_write_connectors(&b, NULL, 0);
    assert_well_formed(&b);
    assert_line(&b, "sluice_worker_connectors 0");
    assert_no(&b, "sluice_source_record_poll_total{");
    buf_free(&b);
}

/* Trimmed from librdkafka 2.x statistics: a consumer with a bootstrap entry (no node id), one
 * broker, its assigned partition 0, partition 1 not fetched (lag -1) and the internal -1. */
static const char consumer_json[] =
    "{\"name\":\"sluice.orders.files#consumer-2\",\"type\":\"consumer\",\"msg_size\":0,"
    "\"brokers\":{"
    "\"127.0.0.1:9092/bootstrap\":{\"name\":\"127.0.0.1:9092/bootstrap\",\"nodeid\":-1,"
    "\"rtt\":{\"avg\":0,\"p99\":0,\"cnt\":0}},"
    "\"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"nodeid\":1,"
    "\"rtt\":{\"min\":100,\"max\":9000,\"avg\":1500,\"p99\":8191,\"cnt\":12}}},"
    "\"topics\":{\"orders\":{\"topic\":\"orders\",\"partitions\":{"
    "\"0\":{\"partition\":0,\"consumer_lag\":42,\"desired\":true},"
    "\"1\":{\"partition\":1,\"consumer_lag\":-1},"
    "\"-1\":{\"partition\":-1,\"consumer_lag\":-1}}}}}";

static const char producer_json[] =
    "{\"name\":\"sluice-orders#producer-1\",\"type\":\"producer\",\"msg_size\":65536,"
    "\"brokers\":{\"127.0.0.1:9092/1\":{\"nodeid\":1,\"rtt\":{\"avg\":2000,\"p99\":4095,"
    "\"cnt\":3}}},\"topics\":{}}";

static const char idle_json[] = /* a window without requests: rtt 0 */
    "{\"msg_size\":0,\"brokers\":{\"127.0.0.1:9092/1\":{\"nodeid\":1,\"rtt\":{\"avg\":0,"
    "\"p99\":0,\"cnt\":0}}}}";

static void test_kafka(void **state)
{
    (void)state;
    static int producer, consumer; /* their addresses stand for the clients */
    worker_connector_t c[2];
    snapshot(c);
    assert_int_equal(
        kafka_stats_store(&consumer, "orders", "files", 1, consumer_json, sizeof consumer_json - 1),
        0);
    assert_int_equal(
        kafka_stats_store(&producer, "orders", NULL, 0, producer_json, sizeof producer_json - 1),
        0);
    assert_int_equal(kafka_stats_store(&producer, "orders", NULL, 0, "{oops", 5), -1);
    buf_t b;
    buf_init(&b);
    metrics_write_kafka(&b, c, 2);
    assert_well_formed(&b);
    assert_line(&b, "sluice_kafka_consumer_lag{connector=\"orders.files\",task=\"1\","
                    "topic=\"orders\",partition=\"0\"} 42");
    assert_no(&b, "partition=\"1\"");
    assert_no(&b, "partition=\"-1\"");
    assert_no(&b, "bootstrap");
    assert_line(&b, "sluice_kafka_broker_rtt_avg_seconds{connector=\"orders.files\",task=\"1\","
                    "client=\"consumer\",broker=\"127.0.0.1:9092/1\"} 0.0015");
    assert_line(&b, "sluice_kafka_broker_rtt_p99_seconds{connector=\"orders.files\",task=\"1\","
                    "client=\"consumer\",broker=\"127.0.0.1:9092/1\"} 0.008191");
    assert_line(&b, "sluice_kafka_broker_rtt_avg_seconds{connector=\"orders\",task=\"0\","
                    "client=\"producer\",broker=\"127.0.0.1:9092/1\"} 0.002");

    /* an idle window keeps the last round-trip times */
    assert_int_equal(
        kafka_stats_store(&producer, "orders", NULL, 0, idle_json, sizeof idle_json - 1), 0);
    buf_reset(&b);
    metrics_write_kafka(&b, c, 2);
    assert_line(&b, "sluice_kafka_broker_rtt_avg_seconds{connector=\"orders\",task=\"0\","
                    "client=\"producer\",broker=\"127.0.0.1:9092/1\"} 0.002");

    /* without a snapshot a consumer is named after Connect's mapping */
    buf_reset(&b);
    metrics_write_kafka(&b, NULL, 0);
    assert_line(&b, "sluice_kafka_consumer_lag{connector=\"orders.files\",task=\"1\","
                    "topic=\"orders\",partition=\"0\"} 42");

    kafka_stats_forget(&consumer);
    kafka_stats_forget(&producer);
    buf_reset(&b);
    metrics_write_kafka(&b, c, 2);
    assert_no(&b, "sluice_kafka_consumer_lag{");
    assert_no(&b, "rtt_avg_seconds{");
    buf_free(&b);
    free(c[0].tasks);
    free(c[1].tasks);
}

static double sample(const buf_t *b, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(b->data, key);
    if (!p)
        fail_msg("no %s in:\n%s", name, b->data);
    return strtod(p + strlen(key), NULL);
}

static void test_process(void **state)
{
    (void)state;
    /* Some CPU time to see. */
    volatile double x = 0;
    for (long i = 0; i < 20000000; i++)
        x += (double)i * 1e-9;
    buf_t b;
    buf_init(&b);
    metrics_write_process(&b);
    assert_well_formed(&b);
    double rss = sample(&b, "process_resident_memory_bytes");
    double vsz = sample(&b, "process_virtual_memory_bytes");
    double start = sample(&b, "process_start_time_seconds");
    double fds = sample(&b, "process_open_fds");
    assert_true(rss > 100 * 1024 && rss < vsz);
    assert_true(sample(&b, "process_cpu_seconds_total") > 0);
    /* started within the last ten minutes (the test's own process) */
    assert_true(start <= (double)time(NULL) + 1 && start > (double)time(NULL) - 600);
    assert_true(fds >= 3);
    int fd = dup(0);
    buf_reset(&b);
    metrics_write_process(&b);
    assert_true(sample(&b, "process_open_fds") == fds + 1);
    close(fd);
    assert_true(sample(&b, "process_max_fds") > 0);
    assert_line(&b, "# TYPE process_cpu_seconds_total counter");
    buf_free(&b);
}

/* The whole exposition of the snapshot, Kafka's statistics and the process, written to the file
 * SLUICE_METRICS_DUMP names (tests/integration/test_metrics.py runs promtool on it). */
static void test_dump(void **state)
{
    (void)state;
    const char *path = getenv("SLUICE_METRICS_DUMP");
    if (!path)
        return;
    static int producer, consumer;
    worker_connector_t c[2];
    snapshot(c);
    kafka_stats_store(&consumer, "orders", "files", 1, consumer_json, sizeof consumer_json - 1);
    kafka_stats_store(&producer, "orders", NULL, 0, producer_json, sizeof producer_json - 1);
    buf_t b;
    buf_init(&b);
    metrics_write_connectors(&b, c, 2);
    metrics_write_kafka(&b, c, 2);
    metrics_write_process(&b);
    assert_well_formed(&b);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
    kafka_stats_forget(&consumer);
    kafka_stats_forget(&producer);
    buf_free(&b);
    free(c[0].tasks);
    free(c[1].tasks);
}

/* The whole of it from a worker with no connector (before its set-up): the worker's and the
 * process's series. */
static void test_render_empty_worker(void **state)
{
    (void)state;
    runtime_t rt;
    memset(&rt, 0, sizeof rt);
    pthread_mutex_init(&rt.lock, NULL);
    buf_t b;
    buf_init(&b);
    metrics_render(&rt, &b);
    assert_well_formed(&b);
    assert_line(&b, "sluice_worker_connectors 0");
    assert_true(sample(&b, "process_resident_memory_bytes") > 0);
    buf_free(&b);
    pthread_mutex_destroy(&rt.lock);
}

static void test_task_stats_read(void **state)
{
    (void)state;
    task_stats_t s = {0};
    atomic_store(&s.batches, 5);
    atomic_store(&s.batch_records, 50);
    atomic_store(&s.commit_ms_max, 9);
    atomic_store(&s.last_error_ms, 1700000000000LL);
    worker_counters_t c = {.records_in = 77};
    task_stats_read(&s, &c);
    assert_int_equal(c.batches, 5);
    assert_int_equal(c.batch_records, 50);
    assert_int_equal(c.commit_ms_max, 9);
    assert_int_equal(c.last_error_ms, 1700000000000LL);
    assert_int_equal(c.records_in, 77); /* left alone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connectors),
        cmocka_unit_test(test_no_connectors),
        cmocka_unit_test(test_kafka),
        cmocka_unit_test(test_process),
        cmocka_unit_test(test_render_empty_worker),
        cmocka_unit_test(test_task_stats_read),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
