/* metrics.c — see metrics.h. Kafka Connect's task and connector metrics under Prometheus names
 * (docs/metrics.md lists each beside Connect's JMX name), from worker.h's snapshot; librdkafka's
 * statistics (kafka.h); the process collector's standard series, read from /proc as the Go and
 * Python clients read them. Runs on an HTTP thread: it only reads. */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kafka.h"
#include "runtime.h"
#include "worker.h"

/* -- the text format (0.0.4) ------------------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped, as the format asks. */
static void put_label(buf_t *out, const char *name, const char *value, int first)
{
    buf_printf(out, "%s%s=\"", first ? "" : ",", name);
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\')
            buf_puts(out, "\\\\");
        else if (*c == '"')
            buf_puts(out, "\\\"");
        else if (*c == '\n')
            buf_puts(out, "\\n");
        else
            buf_append(out, c, 1);
    }
    buf_puts(out, "\"");
}

static void put_value(buf_t *out, double v)
{
    if (isnan(v))
        buf_puts(out, " NaN\n");
    else if (v == floor(v) && fabs(v) < 9e15)
        buf_printf(out, " %.0f\n", v);
    else
        buf_printf(out, " %.15g\n", v);
}

static void put_family(buf_t *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* -- per task ---------------------------------------------------------------------------------- */

enum role { ANY, SOURCE, SINK };

enum task_metric {
    M_POLL,
    M_WRITE,
    M_READ,
    M_SEND,
    M_COMMITS,
    M_COMMIT_FAILURES,
    M_COMMIT_MAX,
    M_COMMIT_AVG,
    M_BATCH_MAX,
    M_BATCH_AVG,
    M_ERRORS,
    M_FAILURES,
    M_SKIPPED,
    M_RETRIES,
    M_DLQ_REQUESTS,
    M_DLQ_FAILURES,
    M_LAST_ERROR,
};

static const struct task_family {
    enum task_metric id;
    enum role role;
    const char *name, *type, *help;
} task_families[] = {
    {M_POLL, SOURCE, "sluice_source_record_poll_total", "counter",
     "Records polled from the source plugin, before the transforms (Connect: "
     "source-record-poll-total)."},
    {M_WRITE, SOURCE, "sluice_source_record_write_total", "counter",
     "Records written to the topic after the transforms (Connect: source-record-write-total)."},
    {M_READ, SINK, "sluice_sink_record_read_total", "counter",
     "Records read from the topic, before the transforms (Connect: sink-record-read-total)."},
    {M_SEND, SINK, "sluice_sink_record_send_total", "counter",
     "Records put to the sink plugin after the transforms (Connect: sink-record-send-total)."},
    {M_COMMITS, ANY, "sluice_offset_commit_completion_total", "counter",
     "Offset commits that succeeded (Connect: offset-commit-completion-total)."},
    {M_COMMIT_FAILURES, ANY, "sluice_offset_commit_failure_total", "counter",
     "Offset commits that failed (Connect: offset-commit-failure-percentage)."},
    {M_COMMIT_MAX, ANY, "sluice_offset_commit_max_time_seconds", "gauge",
     "Longest offset commit, a sink's flush included (Connect: offset-commit-max-time-ms)."},
    {M_COMMIT_AVG, ANY, "sluice_offset_commit_avg_time_seconds", "gauge",
     "Average offset commit since the task started (Connect: offset-commit-avg-time-ms)."},
    {M_BATCH_MAX, ANY, "sluice_batch_size_max", "gauge",
     "Largest batch polled or read (Connect: batch-size-max)."},
    {M_BATCH_AVG, ANY, "sluice_batch_size_avg", "gauge",
     "Average batch polled or read (Connect: batch-size-avg)."},
    {M_ERRORS, ANY, "sluice_record_errors_total", "counter",
     "Records that failed in a stage (Connect: total-record-errors)."},
    {M_FAILURES, ANY, "sluice_record_failures_total", "counter",
     "Failed attempts: failed records and retried operations (Connect: total-record-failures)."},
    {M_SKIPPED, ANY, "sluice_records_skipped_total", "counter",
     "Records skipped under errors.tolerance all (Connect: total-records-skipped)."},
    {M_RETRIES, ANY, "sluice_retries_total", "counter",
     "Operations retried (Connect: total-retries)."},
    {M_DLQ_REQUESTS, ANY, "sluice_deadletterqueue_produce_requests_total", "counter",
     "Records sent to the dead-letter topic (Connect: deadletterqueue-produce-requests)."},
    {M_DLQ_FAILURES, ANY, "sluice_deadletterqueue_produce_failures_total", "counter",
     "Dead-letter records that could not be produced (Connect: "
     "deadletterqueue-produce-failures)."},
    {M_LAST_ERROR, ANY, "sluice_last_error_timestamp_seconds", "gauge",
     "When the last record failed, seconds since the epoch; 0: never (Connect: "
     "last-error-timestamp)."},
};

static double ratio(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

static double task_value(enum task_metric id, const worker_counters_t *c)
{
    switch (id) {
    case M_POLL:
    case M_READ:
        return (double)c->records_in;
    case M_WRITE:
    case M_SEND:
        return (double)c->records_out;
    case M_COMMITS:
        return (double)c->commits;
    case M_COMMIT_FAILURES:
        return (double)c->commit_failures;
    case M_COMMIT_MAX:
        return (double)c->commit_ms_max / 1000.0;
    case M_COMMIT_AVG:
        return ratio((double)c->commit_ms_total / 1000.0,
                     (double)(c->commits + c->commit_failures));
    case M_BATCH_MAX:
        return (double)c->batch_max;
    case M_BATCH_AVG:
        return ratio((double)c->batch_records, (double)c->batches);
    case M_ERRORS:
        return (double)c->errors;
    case M_FAILURES:
        return (double)(c->errors + c->retries);
    case M_SKIPPED:
        return (double)c->skipped;
    case M_RETRIES:
        return (double)c->retries;
    case M_DLQ_REQUESTS:
        return (double)(c->dlq + c->dlq_failures);
    case M_DLQ_FAILURES:
        return (double)c->dlq_failures;
    case M_LAST_ERROR:
        return (double)c->last_error_ms / 1000.0;
    }
    return NAN;
}

static void put_task_labels(buf_t *out, const char *name, const worker_connector_t *c, int task)
{
    char num[16];
    snprintf(num, sizeof num, "%d", task);
    buf_printf(out, "%s{", name);
    put_label(out, "connector", c->name, 1);
    put_label(out, "task", num, 0);
}

static const worker_state_t all_states[] = {WORKER_UNASSIGNED, WORKER_RUNNING, WORKER_PAUSED,
                                            WORKER_STOPPED,    WORKER_FAILED,  WORKER_RESTARTING};
#define NSTATES (sizeof all_states / sizeof *all_states)

void metrics_write_connectors(buf_t *out, const worker_connector_t *c, size_t n)
{
    size_t ntasks = 0;
    for (size_t i = 0; i < n; i++)
        ntasks += c[i].ntasks;
    put_family(out, "sluice_worker_connectors", "gauge",
               "Connectors in this worker (Connect: connector-count).");
    buf_printf(out, "sluice_worker_connectors %zu\n", n);
    put_family(out, "sluice_worker_tasks", "gauge", "Tasks in this worker (Connect: task-count).");
    buf_printf(out, "sluice_worker_tasks %zu\n", ntasks);

    put_family(out, "sluice_connector_info", "gauge",
               "A connector's type, plugin and pipeline; always 1 (Connect: connector-type, "
               "connector-class).");
    for (size_t i = 0; i < n; i++) {
        buf_puts(out, "sluice_connector_info{");
        put_label(out, "connector", c[i].name, 1);
        put_label(out, "type", c[i].is_sink ? "sink" : "source", 0);
        put_label(out, "class", c[i].plugin, 0);
        put_label(out, "pipeline", c[i].pipeline, 0);
        buf_puts(out, "} 1\n");
    }
    put_family(out, "sluice_connector_status", "gauge",
               "1 for the connector's state, 0 for the others (Connect: connector status).");
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < NSTATES; s++) {
            buf_puts(out, "sluice_connector_status{");
            put_label(out, "connector", c[i].name, 1);
            put_label(out, "state", worker_state_name(all_states[s]), 0);
            buf_printf(out, "} %d\n", c[i].state == all_states[s]);
        }
    put_family(out, "sluice_connector_restarts_total", "counter",
               "Automatic restarts of the connector under restart.policy.");
    for (size_t i = 0; i < n; i++) {
        buf_puts(out, "sluice_connector_restarts_total{");
        put_label(out, "connector", c[i].name, 1);
        buf_printf(out, "} %ld\n", c[i].restarts);
    }
    put_family(
        out, "sluice_task_status", "gauge",
        "1 for the task's state, 0 for the others (Connect: connector-task-metrics status).");
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < c[i].ntasks; t++)
            for (size_t s = 0; s < NSTATES; s++) {
                put_task_labels(out, "sluice_task_status", &c[i], c[i].tasks[t].id);
                put_label(out, "state", worker_state_name(all_states[s]), 0);
                buf_printf(out, "} %d\n", c[i].tasks[t].state == all_states[s]);
            }
    for (size_t f = 0; f < sizeof task_families / sizeof *task_families; f++) {
        const struct task_family *fam = &task_families[f];
        put_family(out, fam->name, fam->type, fam->help);
        for (size_t i = 0; i < n; i++) {
            if ((fam->role == SOURCE && c[i].is_sink) || (fam->role == SINK && !c[i].is_sink))
                continue;
            for (size_t t = 0; t < c[i].ntasks; t++) {
                put_task_labels(out, fam->name, &c[i], c[i].tasks[t].id);
                buf_puts(out, "}");
                put_value(out, task_value(fam->id, &c[i].tasks[t].counters));
            }
        }
    }
    put_family(out, "sluice_buffer_used_bytes", "gauge",
               "Bytes the transport holds for a pipeline: its in-process topic, or its Kafka "
               "producer's queue.");
    for (size_t i = 0; i < n; i++) {
        int seen = 0; /* once per pipeline: its connectors share the buffer */
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(c[k].pipeline, c[i].pipeline) == 0;
        if (seen || c[i].buffer_bytes < 0)
            continue;
        buf_puts(out, "sluice_buffer_used_bytes{");
        put_label(out, "pipeline", c[i].pipeline, 1);
        buf_printf(out, "} %lld\n", (long long)c[i].buffer_bytes);
    }
}

/* -- librdkafka's statistics ------------------------------------------------------------------- */

struct kafka_walk {
    buf_t *out;
    const worker_connector_t *c;
    size_t n;
    int pass; /* 0: lags, 1: rtt averages, 2: rtt p99 */
};

/* The connector a Kafka client works for: a consumer's is the sink connector ("<pipeline>.<sink>",
 * or the pipeline's name for a pipeline of one sink and no source, worker.h); a producer's is the
 * pipeline's source connector, else the pipeline's first connector. */
static const char *kafka_connector(const struct kafka_walk *w, const kafka_stats_client_t *k,
                                   char *buf, size_t size)
{
    const char *first = NULL;
    if (k->sink)
        snprintf(buf, size, "%s.%s", k->pipeline, k->sink);
    else
        snprintf(buf, size, "%s", k->pipeline);
    for (size_t i = 0; i < w->n; i++) {
        const worker_connector_t *c = &w->c[i];
        if (strcmp(c->pipeline, k->pipeline) != 0)
            continue;
        if (!first)
            first = c->name;
        if (k->sink && c->is_sink && strcmp(c->name, buf) == 0)
            return c->name;
        if (strcmp(c->name, k->pipeline) == 0 && (k->sink ? c->is_sink : !c->is_sink))
            return c->name;
    }
    return !k->sink && first ? first : buf;
}

static void kafka_one(void *opaque, const kafka_stats_client_t *k)
{
    struct kafka_walk *w = opaque;
    char cbuf[600], num[32];
    const char *connector = kafka_connector(w, k, cbuf, sizeof cbuf);
    snprintf(num, sizeof num, "%d", k->task);
    if (w->pass == 0) {
        for (size_t i = 0; i < k->nlags; i++) {
            buf_puts(w->out, "sluice_kafka_consumer_lag{");
            put_label(w->out, "connector", connector, 1);
            put_label(w->out, "task", num, 0);
            put_label(w->out, "topic", k->lags[i].topic, 0);
            char part[16];
            snprintf(part, sizeof part, "%d", (int)k->lags[i].partition);
            put_label(w->out, "partition", part, 0);
            buf_printf(w->out, "} %lld\n", (long long)k->lags[i].lag);
        }
        return;
    }
    for (size_t i = 0; i < k->nbrokers; i++) {
        buf_puts(w->out, w->pass == 1 ? "sluice_kafka_broker_rtt_avg_seconds{"
                                      : "sluice_kafka_broker_rtt_p99_seconds{");
        put_label(w->out, "connector", connector, 1);
        put_label(w->out, "task", num, 0);
        put_label(w->out, "client", k->sink ? "consumer" : "producer", 0);
        put_label(w->out, "broker", k->brokers[i].name, 0);
        buf_puts(w->out, "}");
        put_value(w->out, w->pass == 1 ? k->brokers[i].rtt_avg_s : k->brokers[i].rtt_p99_s);
    }
}

struct lag_walk {
    struct kafka_walk w;
    int64_t *lag;
};

static void lag_one(void *opaque, const kafka_stats_client_t *k)
{
    struct lag_walk *l = opaque;
    char cbuf[600];
    if (!k->sink)
        return;
    const char *connector = kafka_connector(&l->w, k, cbuf, sizeof cbuf);
    for (size_t i = 0; i < l->w.n; i++) {
        if (!l->w.c[i].is_sink || strcmp(l->w.c[i].name, connector) != 0)
            continue;
        for (size_t p = 0; p < k->nlags; p++) {
            if (l->lag[i] < 0)
                l->lag[i] = 0;
            if (k->lags[p].lag > 0)
                l->lag[i] += k->lags[p].lag;
        }
    }
}

void metrics_consumer_lag(const worker_connector_t *c, size_t n, int64_t *lag)
{
    struct lag_walk l = {{NULL, c, n, 0}, lag};
    for (size_t i = 0; i < n; i++)
        lag[i] = -1;
    kafka_stats_each(lag_one, &l);
}

void metrics_write_kafka(buf_t *out, const worker_connector_t *c, size_t n)
{
    struct kafka_walk w = {out, c, n, 0};
    put_family(out, "sluice_kafka_consumer_lag", "gauge",
               "Records of a partition not committed yet by a sink task's consumer (librdkafka: "
               "consumer_lag; Connect: sink-record-lag-max is their maximum).");
    kafka_stats_each(kafka_one, &w);
    w.pass = 1;
    put_family(out, "sluice_kafka_broker_rtt_avg_seconds", "gauge",
               "Average round-trip time to a broker over the last statistics interval "
               "(librdkafka: brokers.rtt.avg).");
    kafka_stats_each(kafka_one, &w);
    w.pass = 2;
    put_family(out, "sluice_kafka_broker_rtt_p99_seconds", "gauge",
               "99th percentile of the round-trip times to a broker over the last statistics "
               "interval (librdkafka: brokers.rtt.p99).");
    kafka_stats_each(kafka_one, &w);
}

/* -- the process collector --------------------------------------------------------------------- */

int metrics_process_read(metrics_process_t *out)
{
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    char buf[4096];
    memset(out, 0, sizeof *out);
    FILE *f = fopen("/proc/self/stat", "r");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = '\0';
    /* Fields after the command name, which may hold spaces and parentheses: from the last ')'. */
    const char *p = strrchr(buf, ')');
    int ok = p && sscanf(p + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                         "%*d %*d %llu %llu %lld",
                         &utime, &stime, &start, &vsize, &rss) == 5;
    if (!ok || tick <= 0)
        return -1;
    /* The boot time, for the start time in seconds since the epoch. */
    unsigned long long btime = 0;
    if ((f = fopen("/proc/stat", "r")) != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %llu", &btime) == 1)
                break;
        fclose(f);
    }
    out->cpu_seconds = (double)(utime + stime) / (double)tick;
    out->rss_bytes = (int64_t)rss * page;
    out->vsize_bytes = (int64_t)vsize;
    out->start_time_seconds = btime ? (double)btime + (double)start / (double)tick : 0;
    return 0;
}

void metrics_write_process(buf_t *out)
{
    metrics_process_t proc;
    int ok = metrics_process_read(&proc) == 0;
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        fds += e->d_name[0] != '.';
    if (d) {
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    struct rlimit rl;
    int have_rl = getrlimit(RLIMIT_NOFILE, &rl) == 0;

    if (ok) {
        put_family(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.");
        buf_puts(out, "process_cpu_seconds_total");
        put_value(out, proc.cpu_seconds);
        put_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        buf_printf(out, "process_virtual_memory_bytes %lld\n", (long long)proc.vsize_bytes);
        put_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        buf_printf(out, "process_resident_memory_bytes %lld\n", (long long)proc.rss_bytes);
        if (proc.start_time_seconds > 0) {
            put_family(out, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.");
            buf_puts(out, "process_start_time_seconds");
            put_value(out, proc.start_time_seconds);
        }
    }
    if (d) {
        put_family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
        buf_printf(out, "process_open_fds %ld\n", fds);
    }
    if (have_rl) {
        put_family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        if (rl.rlim_cur == RLIM_INFINITY)
            buf_puts(out, "process_max_fds +Inf\n");
        else
            buf_printf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}

/* What worker.c's snapshot leaves out, read from the pipelines under the worker's lock: each task's
 * task_stats_t (with Connect's meanings of read and write: a sink's records read, a source's
 * records written) and each pipeline's buffer. Connectors are matched by name, as worker.c names
 * them (worker.h); one that went meanwhile keeps what the snapshot said. */
void metrics_enrich(struct runtime *rt, worker_connector_t *c, size_t n)
{
    for (size_t k = 0; k < n; k++)
        c[k].buffer_bytes = -1;
    /* The set-up (which makes the topics and writers, outside the lock) is over only then. */
    if (!atomic_load(&rt->started))
        return;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (!p || !p->cfg)
            continue;
        const struct transport_ops *ops = rt->transport ? rt->transport->ops : NULL;
        int64_t buffered =
            ops && ops->buffered && p->topic && p->writer ? ops->buffered(p->topic, p->writer) : -1;
        int sink_alone = !p->has_source && p->cfg->nsinks == 1;
        for (size_t k = 0; k < n; k++) {
            worker_connector_t *wc = &c[k];
            if (strcmp(wc->pipeline, p->id) != 0)
                continue;
            wc->buffer_bytes = buffered;
            for (size_t t = 0; t < wc->ntasks; t++) {
                worker_counters_t *out = &wc->tasks[t].counters;
                if (!wc->is_sink) {
                    task_stats_read(&p->stats, out);
                    out->records_out = atomic_load(&p->stats.written);
                    continue;
                }
                for (size_t s = 0; s < p->nsinks; s++) {
                    const sink_rt_t *sk = &p->sinks[s];
                    char name[512];
                    if (sk->task != wc->tasks[t].id || sk->cfg_index >= p->cfg->nsinks)
                        continue;
                    if (sink_alone)
                        snprintf(name, sizeof name, "%s", p->id);
                    else
                        snprintf(name, sizeof name, "%s.%s", p->id,
                                 p->cfg->sinks[sk->cfg_index].id);
                    if (strcmp(name, wc->name) != 0)
                        continue;
                    task_stats_read(&sk->stats, out);
                    out->records_in = atomic_load(&sk->stats.batch_records);
                }
            }
        }
    }
    pthread_mutex_unlock(&rt->lock);
}

void metrics_render(struct runtime *rt, buf_t *out)
{
    worker_connector_t *c = NULL;
    size_t n = 0;
    if (worker_connectors(rt, &c, &n) != 0) {
        c = NULL;
        n = 0;
    }
    metrics_enrich(rt, c, n);
    metrics_write_connectors(out, c, n);
    metrics_write_kafka(out, c, n);
    metrics_write_process(out);
    worker_connectors_free(c, n);
}
