/* `sluice top`'s model: GET /stats (the documented JSON) and /connectors?expand=status parsed,
 * sorted, laid out in a width, formatted, and printed as the plain snapshot. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "top_model.h"

/* CONTRACT-18's example with three connectors: a busy source, a failed sink with two tasks, a
 * paused sink with a lag. */
static const char STATS[] =
    "{\"now_ms\": 1765130000000, \"interval_ms\": 1000,"
    " \"process\": {\"rss_bytes\": 12582912, \"cpu_seconds\": 12.5, \"uptime_seconds\": 300,"
    "             \"series\": {\"rss_bytes\": [], \"cpu_percent\": []}},"
    " \"connectors\": ["
    "  {\"name\": \"orders\", \"type\": \"source\", \"pipeline\": \"orders\","
    "   \"plugin\": \"datagen-avro\", \"file\": \"/p.yaml\", \"state\": \"RUNNING\","
    "   \"trace\": null, \"restarts\": 0, \"tasks\": [{\"id\": 0, \"state\": \"RUNNING\","
    "   \"trace\": null}], \"totals\": {\"in\": 1000, \"out\": 1000, \"errors\": 0, \"dlq\": 0},"
    "   \"rate\": {\"in\": 950.0, \"out\": 12345.0, \"errors\": 0.0}, \"lag\": null,"
    "   \"buffer_bytes\": 0, \"series\": {\"in\": [], \"out\": [], \"errors\": []}},"
    "  {\"name\": \"orders.files\", \"type\": \"sink\", \"plugin\": \"sftp-json\","
    "   \"state\": \"FAILED\", \"trace\": \"put failed: disk full\\n  at SINK\", \"restarts\": 3,"
    "   \"tasks\": [{\"id\": 1, \"state\": \"FAILED\", \"trace\": \"disk full\"},"
    "             {\"id\": 0, \"state\": \"RUNNING\", \"trace\": null}],"
    "   \"totals\": {\"dlq\": 7}, \"rate\": {\"in\": 3.3, \"out\": 0, \"errors\": 2.5},"
    "   \"lag\": 5, \"buffer_bytes\": 2097152},"
    "  {\"name\": \"a.screen\", \"type\": \"sink\", \"plugin\": \"console\", \"state\": \"PAUSED\","
    "   \"restarts\": 1, \"tasks\": [], \"totals\": {\"dlq\": 0},"
    "   \"rate\": {\"in\": 0, \"out\": 0, \"errors\": 0}, \"lag\": 123456, \"buffer_bytes\": -1}"
    " ]}";

static void parse(top_model_t *m)
{
    char err[256] = "";
    assert_int_equal(top_model_parse_stats(m, STATS, strlen(STATS), err, sizeof err), 0);
    assert_string_equal(err, "");
}

static void test_stats_parse(void **state)
{
    (void)state;
    top_model_t m;
    parse(&m);
    assert_int_equal(m.has_stats, 1);
    assert_int_equal(m.n, 3);
    assert_true(m.now_ms == 1765130000000LL);
    assert_true(m.rss_bytes == 12582912 && m.cpu_seconds == 12.5 && m.uptime_seconds == 300);
    assert_true(m.cpu_percent < 0); /* not in the contract's example */
    const top_conn_t *o = &m.conns[0], *f = &m.conns[1], *s = &m.conns[2];
    assert_string_equal(o->name, "orders");
    assert_string_equal(o->type, "source");
    assert_string_equal(o->plugin, "datagen-avro");
    assert_true(o->in == 950.0 && o->out == 12345.0 && o->errors == 0);
    assert_true(o->lag == -1 && o->dlq == 0 && o->restarts == 0 && o->buffer_bytes == 0);
    assert_null(o->trace);
    assert_int_equal(o->ntasks, 1);
    assert_string_equal(f->state, "FAILED");
    assert_string_equal(f->trace, "put failed: disk full\n  at SINK");
    assert_true(f->lag == 5 && f->dlq == 7 && f->restarts == 3 && f->buffer_bytes == 2097152);
    assert_int_equal(f->ntasks, 2);
    assert_string_equal(f->tasks[0].trace, "disk full");
    assert_true(s->buffer_bytes == -1 && s->ntasks == 0);
    top_model_free(&m);
}

static void test_stats_refused(void **state)
{
    (void)state;
    top_model_t m;
    char err[256];
    assert_int_equal(top_model_parse_stats(&m, "not json", 8, err, sizeof err), -1);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(m.n, 0);
    assert_int_equal(top_model_parse_stats(&m, "{\"x\": 1}", 8, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"connectors\""));
    /* Fields of the wrong type are unknown, not fatal: a newer worker may add fields. */
    const char odd[] = "{\"connectors\": [{\"name\": \"x\", \"rate\": {\"in\": \"fast\"},"
                       " \"lag\": \"many\", \"tasks\": {}}, 7]}";
    assert_int_equal(top_model_parse_stats(&m, odd, strlen(odd), err, sizeof err), 0);
    assert_int_equal(m.n, 2);
    assert_true(isnan(m.conns[0].in) && m.conns[0].lag == -1 && m.conns[0].ntasks == 0);
    assert_string_equal(m.conns[1].name, "?");
    top_model_free(&m);
}

static void test_status_fallback(void **state)
{
    (void)state;
    const char status[] =
        "{\"gen\": {\"status\": {\"name\": \"gen\", \"type\": \"source\","
        " \"connector\": {\"state\": \"PAUSED\", \"worker_id\": \"w\"},"
        " \"tasks\": [{\"id\": 0, \"state\": \"PAUSED\", \"worker_id\": \"w\"}]}},"
        " \"gen.out\": {\"status\": {\"type\": \"sink\", \"connector\": {\"state\": \"FAILED\","
        " \"trace\": \"boom\"}, \"tasks\": []}}}";
    top_model_t m;
    char err[256];
    assert_int_equal(top_model_parse_status(&m, status, strlen(status), err, sizeof err), 0);
    assert_int_equal(m.has_stats, 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.conns[0].name, "gen");
    assert_string_equal(m.conns[0].state, "PAUSED");
    assert_string_equal(m.conns[0].tasks[0].state, "PAUSED");
    assert_true(isnan(m.conns[0].in) && m.conns[0].restarts == -1);
    assert_string_equal(m.conns[1].trace, "boom");
    char cell[64];
    top_row_t r = {.conn = 0, .task = -1};
    top_cell(&m, &r, TOP_COL_IN, cell, sizeof cell);
    assert_string_equal(cell, "-");
    top_model_free(&m);
    assert_int_equal(top_model_parse_status(&m, "[]", 2, err, sizeof err), -1);
}

static const char *name_at(const top_model_t *m, size_t i)
{
    return m->conns[i].name;
}

static void test_sort(void **state)
{
    (void)state;
    top_model_t m;
    parse(&m);
    top_model_sort(&m, TOP_SORT_NAME);
    assert_string_equal(name_at(&m, 0), "a.screen");
    assert_string_equal(name_at(&m, 1), "orders");
    assert_string_equal(name_at(&m, 2), "orders.files");
    /* Tasks by id under their connector. */
    assert_int_equal(m.conns[2].tasks[0].id, 0);
    assert_int_equal(m.conns[2].tasks[1].id, 1);
    top_model_sort(&m, TOP_SORT_IN); /* the busiest first */
    assert_string_equal(name_at(&m, 0), "orders");
    assert_string_equal(name_at(&m, 1), "orders.files");
    assert_string_equal(name_at(&m, 2), "a.screen");
    top_model_sort(&m, TOP_SORT_STATE); /* the trouble first */
    assert_string_equal(name_at(&m, 0), "orders.files");
    assert_string_equal(name_at(&m, 1), "a.screen");
    assert_string_equal(name_at(&m, 2), "orders");
    top_model_sort(&m, TOP_SORT_LAG); /* unknown lag last */
    assert_string_equal(name_at(&m, 0), "a.screen");
    assert_string_equal(name_at(&m, 2), "orders");
    top_model_sort(&m, TOP_SORT_RESTARTS);
    assert_string_equal(name_at(&m, 0), "orders.files");
    /* The cycle of `s` names every key and comes back. */
    for (int k = 0; k < TOP_SORT_COUNT; k++)
        assert_string_not_equal(top_sort_name((top_sort_t)k), "?");
    assert_int_equal(top_sort_col(TOP_SORT_ERRORS), TOP_COL_ERRORS);

    top_model_sort(&m, TOP_SORT_NAME);
    top_row_t rows[16];
    size_t n = top_model_rows(&m, rows, 16);
    assert_int_equal(n, 6); /* 3 connectors, 3 tasks */
    assert_true(rows[0].conn == 0 && rows[0].task == -1);
    assert_true(rows[1].conn == 1 && rows[1].task == -1);
    assert_true(rows[2].conn == 1 && rows[2].task == 0);
    assert_true(rows[3].conn == 2 && rows[3].task == -1);
    assert_true(rows[5].conn == 2 && rows[5].task == 1);
    assert_int_equal(top_model_rows(&m, rows, 2), 6); /* counts past cap */
    top_model_free(&m);
}

static int has_col(const top_layout_t *l, top_col_t c)
{
    for (int i = 0; i < l->ncols; i++)
        if (l->col[i] == c)
            return 1;
    return 0;
}

static int total(const top_layout_t *l)
{
    int w = l->ncols - 1;
    for (int i = 0; i < l->ncols; i++)
        w += l->width[i];
    return w;
}

static void test_layout(void **state)
{
    (void)state;
    top_model_t m;
    parse(&m);
    top_layout_t l;
    top_layout_fit(&l, &m, 80); /* every column but buffer and plugin */
    assert_true(total(&l) <= 80);
    assert_int_equal(l.col[0], TOP_COL_NAME);
    assert_int_equal(l.width[0], (int)strlen("orders.files"));
    for (int c = TOP_COL_NAME; c <= TOP_COL_RESTARTS; c++)
        assert_true(has_col(&l, (top_col_t)c));
    assert_false(has_col(&l, TOP_COL_PLUGIN));
    top_layout_fit(&l, &m, 120); /* all of them */
    assert_int_equal(l.ncols, TOP_COL_COUNT);
    assert_true(total(&l) <= 120);
    for (int i = 1; i < l.ncols; i++)
        assert_true(l.col[i - 1] < l.col[i]); /* the display order */
    top_layout_fit(&l, &m, 40);               /* name, state, rates */
    assert_true(total(&l) <= 40);
    assert_true(has_col(&l, TOP_COL_STATE) && has_col(&l, TOP_COL_IN));
    assert_false(has_col(&l, TOP_COL_TYPE));
    top_layout_fit(&l, &m, 5); /* narrower than anything: the name, cut */
    assert_int_equal(l.ncols, 1);
    assert_int_equal(l.width[0], 5);
    top_layout_fit(&l, &m, 0); /* the snapshot's: everything, nothing cut */
    assert_int_equal(l.ncols, TOP_COL_COUNT);
    assert_int_equal(l.width[TOP_COL_PLUGIN], (int)strlen("datagen-avro"));
    top_model_free(&m);
}

static void test_cells_and_formats(void **state)
{
    (void)state;
    char s[64];
    static const struct {
        double v;
        const char *want;
    } rates[] = {{0, "0"},         {0.25, "0.2"},    {5, "5"},         {12.5, "12.5"},
                 {950, "950"},     {999.7, "1.00k"}, {12345, "12.3k"}, {250000, "250k"},
                 {2.5e6, "2.50M"}, {3e12, "3.00T"},  {NAN, "-"},       {-1, "-"}};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        top_fmt_rate(rates[i].v, s, sizeof s);
        assert_string_equal(s, rates[i].want);
    }
    top_fmt_bytes(1048576, s, sizeof s);
    assert_string_equal(s, "1.0M");
    top_fmt_bytes(512, s, sizeof s);
    assert_string_equal(s, "512B");
    top_fmt_bytes(-1, s, sizeof s);
    assert_string_equal(s, "-");
    top_fmt_duration(59, s, sizeof s);
    assert_string_equal(s, "59s");
    top_fmt_duration(3725, s, sizeof s);
    assert_string_equal(s, "1h02m");
    top_fmt_duration(90061, s, sizeof s);
    assert_string_equal(s, "1d01h");
    top_fmt_duration(300, s, sizeof s);
    assert_string_equal(s, "5m00s");
    assert_int_equal(top_text_width("ñandú"), 5);
    assert_int_equal(top_text_prefix("ñandú", 2), 3); /* ñ is 2 bytes */
    assert_int_equal(top_text_prefix("ab", 5), 2);

    top_model_t m;
    parse(&m);
    top_row_t conn = {.conn = 1, .task = -1}, task = {.conn = 1, .task = 0};
    top_cell(&m, &conn, TOP_COL_LAG, s, sizeof s);
    assert_string_equal(s, "5");
    top_cell(&m, &conn, TOP_COL_ERRORS, s, sizeof s);
    assert_string_equal(s, "2.5");
    top_cell(&m, &conn, TOP_COL_BUFFER, s, sizeof s);
    assert_string_equal(s, "2.0M");
    top_cell(&m, &task, TOP_COL_NAME, s, sizeof s);
    assert_string_equal(s, "  task 1");
    top_cell(&m, &task, TOP_COL_STATE, s, sizeof s);
    assert_string_equal(s, "FAILED");
    top_cell(&m, &task, TOP_COL_IN, s, sizeof s); /* rates are the connector's */
    assert_string_equal(s, "");
    top_model_process(&m, 3.25, s, sizeof s);
    assert_string_equal(s, "rss 12.0M  cpu 3.2%  up 5m00s");
    top_model_process(&m, -1, s, sizeof s);
    assert_string_equal(s, "rss 12.0M  cpu 12.5s  up 5m00s");
    m.cpu_percent = 7.5; /* the worker's own (process.cpu_percent) when there is one */
    top_model_process(&m, -1, s, sizeof s);
    assert_string_equal(s, "rss 12.0M  cpu 7.5%  up 5m00s");
    top_model_free(&m);
}

static void test_print(void **state)
{
    (void)state;
    top_model_t m;
    parse(&m);
    top_model_sort(&m, TOP_SORT_NAME);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    top_model_print(f, &m, "http://w:8083", "0.1.0");
    fclose(f);
    const char *want =
        "sluice top: http://w:8083  version 0.1.0  rss 12.0M  cpu 12.5s  up 5m00s\n"
        "NAME         TYPE   STATE         IN/s   OUT/s  ERR/s     LAG    DLQ RESTARTS  BUFFER "
        "PLUGIN\n"
        "a.screen     sink   PAUSED           0       0      0  123456      0        1       - "
        "console\n"
        "orders       source RUNNING        950   12.3k      0       -      0        0      0B "
        "datagen-avro\n"
        "  task 0            RUNNING\n"
        "orders.files sink   FAILED         3.3       0    2.5       5      7        3    2.0M "
        "sftp-json\n"
        "  task 0            RUNNING\n"
        "  task 1            FAILED\n";
    assert_string_equal(text, want);
    free(text);
    top_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_parse),     cmocka_unit_test(test_stats_refused),
        cmocka_unit_test(test_status_fallback), cmocka_unit_test(test_sort),
        cmocka_unit_test(test_layout),          cmocka_unit_test(test_cells_and_formats),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
