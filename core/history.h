/* history.h — the worker's last 15 minutes (issue #18): a ring of 900 one-second samples of each
 * connector's counters (records in, out, errors) and of the process (RSS, CPU), which GET /stats
 * (stats.c) turns into per-second rates for the dashboard and `sluice top`.
 *
 * Memory is taken when a connector is first seen (one slot of 3 x 900 counters, reused after a
 * connector has been gone for the whole ring): a sample itself allocates nothing. One thread
 * (history_start) samples while the REST listener is on; readers copy under the ring's mutex. */
#ifndef SLUICE_HISTORY_H
#define SLUICE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HISTORY_LEN          900 /* samples kept: 15 minutes at one a second */
#define HISTORY_RATE_SAMPLES 5   /* a current rate is the mean of the last 5 intervals */

struct runtime;
typedef struct history history_t;

history_t *history_new(void);
void history_free(history_t *h);

/* -- writing a sample (one thread) ------------------------------------------------------------
 * history_begin takes the ring's mutex, history_end releases it: between them, put each connector
 * present now (a connector not put is absent from this sample; its series shows 0 there). */
void history_begin(history_t *h, int64_t mono_ms, int64_t wall_ms);
/* 0, or -1 when a new connector's slot cannot be allocated (its sample is lost). */
int history_put(history_t *h, const char *name, long in, long out, long errors);
void history_put_process(history_t *h, int64_t rss_bytes, double cpu_seconds);
void history_end(history_t *h);

/* -- reading (any thread) -----------------------------------------------------------------------
 */
typedef struct history_rates {
    size_t n; /* series length: min(window, samples since the connector appeared) */
    double *in, *out, *errors; /* the caller's arrays of HISTORY_LEN: per-second rates, oldest
                                  first, the last one the newest sample */
    double rate_in, rate_out, rate_errors; /* mean of the last HISTORY_RATE_SAMPLES intervals */
} history_rates_t;

/* The connector's series over the last `window` samples; 0, or -1 when it was never sampled (n 0,
 * rates 0). */
int history_connector(history_t *h, const char *name, size_t window, history_rates_t *out);

typedef struct history_process {
    size_t n;
    double *rss_bytes, *cpu_percent; /* the caller's arrays of HISTORY_LEN, oldest first */
    int64_t rss_now;
    double cpu_seconds_now;
} history_process_t;

void history_process(history_t *h, size_t window, history_process_t *out);
/* The wall clock of the newest sample (ms since the epoch); 0 before the first. */
int64_t history_now_ms(history_t *h);
/* Samples taken so far (all of them, not only those the ring still holds). */
uint64_t history_samples(history_t *h);

/* -- the sampler --------------------------------------------------------------------------------
 * A thread that samples `rt` (worker_sample, metrics_process_read) once a second, on the second of
 * the monotonic clock from its start. history_stop joins it and frees the ring. */
history_t *history_start(struct runtime *rt);
void history_stop(history_t *h);

#endif
