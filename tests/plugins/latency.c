/* latency — a test-fixture sink that measures how long records took to reach it, for
 * tests/bench/serial_bench.py. On every put it takes the host's wall clock with microsecond
 * resolution (clock_gettime(CLOCK_REALTIME); the host's now_ms has milliseconds only) and puts two
 * delays per record into histograms:
 *
 *   - since send: now minus the value's `sent.field` (microseconds since the epoch, written into
 * the line by the benchmark's device simulator just before the line went out), when configured;
 *   - since read: now minus the record timestamp (the serial source's read time, in whole ms, so
 *     this one reads up to 1 ms high).
 *
 * It tracks `seq.field` as well: a jump forward counts the numbers skipped as lost, a number not
 * above the last one as duplicated. At stop it logs count, p50, p99 and max, and with
 * `histogram.file` appends one JSON line with the raw histograms, so that a benchmark running one
 * pipeline per device can merge the instances. Only the plugin ABI (sluice/plugin.h) is used. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/plugin.h"

/* 1 µs buckets below 10 ms, 100 µs buckets from 10 ms to ~1 s, one overflow bucket. */
#define FINE_US     10000
#define COARSE_STEP 100
#define COARSE_N    9900
#define NBUCKETS    (FINE_US + COARSE_N + 1)

static const struct sluice_config_field latency_config[] = {
    {.name = "sent.field",
     .type = SLUICE_CFG_STRING,
     .description = "A value field holding the send time in microseconds since the epoch; unset: "
                    "only the delay since the record timestamp is measured.",
     .example = "sent_us"},
    {.name = "seq.field",
     .type = SLUICE_CFG_STRING,
     .default_value = "seq",
     .description = "A value field holding a sequence number, checked for gaps and duplicates "
                    "(ignored when a record has no such field).",
     .example = "seq"},
    {.name = "histogram.file",
     .type = SLUICE_CFG_PATH,
     .description =
         "At stop, append one JSON line with the counts and raw histograms to this file.",
     .example = "/tmp/latency.jsonl"},
    {.name = NULL},
};

struct hist {
    uint32_t b[NBUCKETS];
    int64_t count, max_us, negative;
};

struct latency {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    char *sent_field, *seq_field, *hist_file;
    struct hist send, read;
    int64_t records, missing_field, lost, dup, last_seq;
    int have_seq;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static sluice_err_t latency_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                                 const sluice_config_t *cfg, void **state, char *errstr,
                                 size_t errstr_size)
{
    struct latency *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    l->h = h;
    l->ctx = ctx;
    l->sent_field = dup_or_null(h->config_string(cfg, "sent.field"));
    l->seq_field = dup_or_null(h->config_string(cfg, "seq.field"));
    l->hist_file = dup_or_null(h->config_string(cfg, "histogram.file"));
    *state = l;
    return SLUICE_OK;
}

static sluice_err_t latency_start(void *state, char *errstr, size_t errstr_size)
{
    (void)state, (void)errstr, (void)errstr_size;
    return SLUICE_OK;
}

static void hist_add(struct hist *hs, int64_t us)
{
    if (us < 0) {
        hs->negative++;
        us = 0;
    }
    size_t i;
    if (us < FINE_US)
        i = (size_t)us;
    else if (us < FINE_US + (int64_t)COARSE_STEP * COARSE_N)
        i = FINE_US + (size_t)((us - FINE_US) / COARSE_STEP);
    else
        i = NBUCKETS - 1;
    hs->b[i]++;
    hs->count++;
    if (us > hs->max_us)
        hs->max_us = us;
}

/* The upper edge of bucket i in µs (the overflow bucket reads as the maximum seen). */
static int64_t bucket_us(const struct hist *hs, size_t i)
{
    if (i < FINE_US)
        return (int64_t)i;
    if (i < NBUCKETS - 1)
        return FINE_US + (int64_t)(i - FINE_US + 1) * COARSE_STEP - 1;
    return hs->max_us;
}

static int64_t hist_pct(const struct hist *hs, double q)
{
    if (hs->count == 0)
        return -1;
    int64_t rank = (int64_t)(q * (double)hs->count + 0.999999999);
    if (rank < 1)
        rank = 1;
    int64_t seen = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        seen += hs->b[i];
        if (seen >= rank)
            return bucket_us(hs, i) < hs->max_us ? bucket_us(hs, i) : hs->max_us;
    }
    return hs->max_us;
}

static sluice_err_t latency_put(void *state, sluice_batch_t *batch, char *errstr,
                                size_t errstr_size)
{
    struct latency *l = state;
    const struct sluice_host *h = l->h;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    size_t n = h->batch_count(batch);
    for (size_t i = 0; i < n; i++) {
        sluice_record_t *rec = h->batch_get(batch, i);
        l->records++;
        hist_add(&l->read, now_us - h->record_timestamp(rec) * 1000);
        sluice_value_t *v = h->record_value(rec, errstr, errstr_size);
        if (!v) {
            h->record_fail(rec, "latency: the value does not decode");
            continue;
        }
        if (l->sent_field) {
            sluice_value_t *f = h->value_get(v, l->sent_field);
            if (f && h->value_type(f) != SLUICE_TYPE_NULL)
                hist_add(&l->send, now_us - h->value_as_int(f));
            else
                l->missing_field++;
        }
        if (l->seq_field) {
            sluice_value_t *f = h->value_get(v, l->seq_field);
            if (f && h->value_type(f) != SLUICE_TYPE_NULL) {
                int64_t seq = h->value_as_int(f);
                if (l->have_seq && seq > l->last_seq + 1)
                    l->lost += seq - l->last_seq - 1;
                else if (l->have_seq && seq <= l->last_seq)
                    l->dup++;
                if (!l->have_seq || seq > l->last_seq)
                    l->last_seq = seq;
                l->have_seq = 1;
            }
        }
    }
    return SLUICE_OK;
}

static sluice_err_t latency_flush(void *state, char *errstr, size_t errstr_size)
{
    (void)state, (void)errstr, (void)errstr_size;
    return SLUICE_OK;
}

static void hist_json(const struct sluice_host *h, sluice_buf_t *buf, const char *name,
                      const struct hist *hs)
{
    char tmp[96];
    int k = snprintf(tmp, sizeof tmp, ",\"%s_count\":%lld,\"%s_max_us\":%lld,\"%s\":{", name,
                     (long long)hs->count, name, (long long)hs->max_us, name);
    h->buf_append(buf, tmp, (size_t)k);
    int first = 1;
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (!hs->b[i])
            continue;
        k = snprintf(tmp, sizeof tmp, "%s\"%lld\":%u", first ? "" : ",",
                     (long long)bucket_us(hs, i), hs->b[i]);
        h->buf_append(buf, tmp, (size_t)k);
        first = 0;
    }
    h->buf_append(buf, "}", 1);
}

static void latency_stop(void *state)
{
    struct latency *l = state;
    const struct sluice_host *h = l->h;
    h->log(l->ctx, SLUICE_LOG_INFO,
           "latency: %lld records; since send: p50 %lld us, p99 %lld us, max %lld us; since read "
           "(ms timestamp): p50 %lld us, p99 %lld us, max %lld us; seq lost %lld, duplicated %lld",
           (long long)l->records, (long long)hist_pct(&l->send, 0.50),
           (long long)hist_pct(&l->send, 0.99), (long long)l->send.max_us,
           (long long)hist_pct(&l->read, 0.50), (long long)hist_pct(&l->read, 0.99),
           (long long)l->read.max_us, (long long)l->lost, (long long)l->dup);
    if (!l->hist_file)
        return;
    sluice_buf_t *buf = h->buf_new(4096);
    if (!buf)
        return;
    char tmp[256];
    int k =
        snprintf(tmp, sizeof tmp,
                 "{\"name\":\"%s\",\"records\":%lld,\"lost\":%lld,\"dup\":%lld,"
                 "\"missing_field\":%lld,\"last_seq\":%lld",
                 h->ctx_name(l->ctx), (long long)l->records, (long long)l->lost, (long long)l->dup,
                 (long long)l->missing_field, (long long)(l->have_seq ? l->last_seq : -1));
    h->buf_append(buf, tmp, (size_t)k);
    hist_json(h, buf, "send", &l->send);
    hist_json(h, buf, "read", &l->read);
    h->buf_append(buf, "}\n", 2);
    int fd = open(l->hist_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        h->log(l->ctx, SLUICE_LOG_ERROR, "cannot open %s", l->hist_file);
    } else {
        const char *p = h->buf_data(buf);
        size_t left = h->buf_len(buf);
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w <= 0)
                break;
            p += w;
            left -= (size_t)w;
        }
        close(fd);
    }
    h->buf_free(buf);
}

static void latency_destroy(void *state)
{
    struct latency *l = state;
    free(l->sent_field);
    free(l->seq_field);
    free(l->hist_file);
    free(l);
}

static const struct sluice_sink latency_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = latency_config,
    .init = latency_init,
    .start = latency_start,
    .put = latency_put,
    .flush = latency_flush,
    .stop = latency_stop,
    .destroy = latency_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "latency",
    .version = "1.0.0",
    .summary = "test fixture: a sink that measures the delay from send and read to the sink",
    .sink = &latency_sink,
};
