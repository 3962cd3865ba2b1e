/* pipeline.h — the runtime objects of one pipeline: its source with its transforms, its topic, and
 * its sinks, each sink with its transforms; the threads that move records between them, through
 * the run's transport (transport.h), the same code for every transport.
 *
 * Threads: runtime.c builds these objects on the main thread, then runs pipeline_source_main on
 * one thread per pipeline with a source and pipeline_sink_main on one thread per sink task, and
 * joins them. Fields marked "source thread" or "sink thread" belong to that thread; the atomics
 * are shared. pipeline_sink_revoke runs on its sink's thread (from inside the reader's read).
 * Each thread signals `ended` just before it returns. */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backoff.h"
#include "config.h"
#include "convert.h"
#include "loader.h"
#include "log.h"
#include "offsets.h"
#include "record.h"
#include "topic.h"
#include "transport.h"
#include "value.h"

#define CTX_MAX_COUNTERS 16

struct ctx_counter {
    char name[48];
    atomic_long value;
};

/* One plugin instance as the core sees it (the ABI's sluice_ctx_t). */
struct sluice_ctx {
    char *name; /* "pipeline/instance" for messages */
    const char *topic;
    int task;
    schema_owner_t schemas;
    pthread_mutex_t mu; /* counters registration */
    struct ctx_counter counters[CTX_MAX_COUNTERS];
    int ncounters;
    log_limits_t limits; /* the plugin's log_limited and the core's messages about it */
};

typedef struct instance {
    const loaded_plugin_t *plugin;
    const config_instance_t *cfg_inst;
    sluice_ctx_t ctx;
    sluice_config_t *cfg; /* validated against the role's table */
    void *state;
    int inited;
    struct predicate *pred; /* transforms: applies only where it matches; NULL: everywhere */
} instance_t;

struct pipeline;

/* Counters of a task beyond in/out/errors/dlq (those stay where the progress line reads them), for
 * the REST status and /metrics (worker.h, metrics.h): relaxed atomics, lock-free on the record
 * path, as Kafka Connect's task metrics. Times in milliseconds; last_error_ms is wall-clock. */
typedef struct task_stats {
    atomic_long batches, batch_max;       /* polls/reads that gave records; the largest */
    atomic_long commits, commit_failures; /* offset commits (source positions, sink offsets) */
    atomic_long commit_ms_total, commit_ms_max;
    atomic_long skipped;      /* records dropped under errors.tolerance all */
    atomic_long retries;      /* retried operations (errors.retry.timeout) */
    atomic_long dlq_failures; /* dead-letter records that could not be produced */
    atomic_llong last_error_ms;
    atomic_long batch_records; /* records in those batches (a sink: read; a source: polled) */
    atomic_long written;       /* a source: records appended to its topics (after the transforms) */
} task_stats_t;

/* The lifecycle of one task (the source of a pipeline, or one sink task) as the worker runs it
 * (worker.h). `state`, `trace`, `restart_req`, `retry_at` and `restarts` belong to the runtime's
 * lock; the thread writes `trace` only before it signals its end. */
typedef struct task_ctl {
    int state;       /* worker_state_t */
    int restart_req; /* an operator asked for a restart */
    int live;        /* its thread runs (started, not joined yet) */
    int stop_sent;   /* asked to stop (an operator's stop or restart) */
    int64_t started_at;
    int64_t retry_at; /* RESTARTING: when (clock_mono_ms) */
    long restarts;    /* automatic restarts (restart.policy) */
    backoff_t bo;
    char trace[1024]; /* why it failed */
} task_ctl_t;

struct worker_counters;
/* Copy `s` into the matching fields of `out` (worker.h; records_in/out, errors, dlq untouched). */
void task_stats_read(const task_stats_t *s, struct worker_counters *out);

/* Where pipeline threads say they end, so that whoever waits for them (the run) wakes at once. */
typedef struct pipeline_ended {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked; /* under mu: something changed since the waiter last looked (no wakeup is lost) */
} pipeline_ended_t;

/* Settings of one side: the source side of a pipeline, or one sink. */
typedef struct side {
    converter_t key_conv, value_conv;
    record_codec_t codec;
    int tolerance_all;
    transport_topic_t *dlq; /* dead-letter topic, NULL if none */
    int dlq_context_headers;
    int64_t retry_timeout_ms; /* -1: forever */
    int64_t retry_delay_max_ms;
    int log_errors, log_messages;
    int64_t flush_interval_ms;
    size_t batch_max;
    instance_t *transforms;
    size_t ntransforms;
    const char *name;      /* for messages */
    struct tap_point *tap; /* its connector's (tap.h; shared by a sink's tasks) */
} side_t;

typedef struct sink_rt {
    struct pipeline *p;
    const char *id;
    size_t cfg_index; /* its entry in the pipeline's cfg->sinks (tasks share one) */
    int task;         /* 0 .. tasks.max-1 */
    instance_t inst;
    side_t side;
    transport_reader_t *reader; /* its share of the pipeline's topic */
    tracker_t dlq_tr;           /* TRANSPORT_SELF_ACKED: dead-letter records not yet acknowledged */
    int dirty;                  /* put and not committed yet */
    struct sluice_offset *pre;  /* precommit (ABI 1.2): the offsets handed to the sink */
    int64_t *pre_want;          /* ... and what they were before it lowered them */
    size_t pre_cap;
    int revoke_failed; /* a flush on partition revocation failed */
    int interrupted;   /* stopped in the middle of a read: it is not committed */
    backoff_t bo;
    pthread_t thread;
    int thread_started;
    atomic_long out, errors, dlq;
    task_stats_t stats;
    task_ctl_t ctl;
    atomic_int stop;        /* this task: flush, commit and end (the worker stops or restarts it) */
    atomic_int paused;      /* this task: consume nothing (its partitions paused) */
    atomic_int paused_ack;  /* ... and it has: nothing more comes out of it until resumed */
    atomic_int failed;      /* this task failed (an endless transport: its pipeline goes on) */
    atomic_int unconnected; /* its last put/flush found its peer away (worker_ready) */
    atomic_int done;
} sink_rt_t;

typedef struct pipeline {
    const config_pipeline_t *cfg;
    const char *id;
    transport_t *transport; /* the run's */
    transport_topic_t *topic;
    transport_writer_t *writer;   /* its source's, and its sinks' for dead-letter records */
    transport_reader_t **readers; /* its sinks' (the progress line) */
    offsets_t *offsets;           /* where the source's positions are committed */
    pipeline_ended_t *ended;
    int has_source;
    /* Topics only routing transforms feed (a topic that may end); this source counts as their
     * writer. */
    transport_topic_t **route_targets;
    size_t nroute_targets;
    instance_t source;
    side_t side;
    pthread_t thread;
    atomic_int thread_started; /* the signal thread reads it (runtime_request_stop) */
    tracker_t *inflight_head, *inflight_tail; /* source thread only */
    backoff_t encode_bo;                      /* source thread: waits while encoding fails */
    tracker_t *orphans; /* trackers left in flight when the source ended (freed last) */
    atomic_long in, errors, dlq;
    task_stats_t stats;
    task_ctl_t ctl;   /* its source task */
    int src_target;   /* worker_state_t asked for the source connector: RUNNING, PAUSED, STOPPED */
    int *sink_target; /* the same per sink connector (indexed by the sink's cfg_index) */
    long src_topics_mark;   /* topics reset (worker.h): the source's record count then, or -1 */
    long *sink_topics_mark; /* the same per sink connector */
    atomic_int paused;      /* the source polls nothing */
    atomic_int paused_ack;  /* ... and it polls no more: what it polled went out */
    atomic_int unconnected; /* its last poll found its peer away (worker_ready) */
    int restart_on_failure; /* restart.policy on-failure (Kafka mode) */
    long progress_in;       /* `in` at the last progress line (the run's thread) */
    int from_rest;          /* created over the REST API: kept in the worker's state file */
    char *rest_item;        /* ... its YAML there (the `- id: ...` item of `pipelines:`) */
    struct config_gen *gen; /* the configuration `cfg` points into; NULL: the run's own */
    int broken;             /* added while running, but its set-up failed: nothing restarts */
    int64_t restart_initial_ms, restart_max_ms;
    sink_rt_t *sinks;
    size_t nsinks;
    /* Its connectors' tap points (tap.h): [0] the source's, [1 + i] sink i's (of cfg->sinks). */
    struct tap_point **taps;
    size_t ntaps;
    atomic_int failed;
    atomic_int stop;         /* stop the source */
    atomic_int abort;        /* stop everything now (second signal) */
    atomic_int shutdown;     /* a signal asked the run to end: sinks of endless topics finish */
    atomic_int hold_commits; /* a sink stopped short of a read: no source position commits now */
    atomic_int source_done;
    /* An eventfd (-1: none) that wakes a source thread sleeping on its plugin's `fd` when a flag
     * above changes (pipeline_source_wake). Made with the pipeline, closed with it. */
    int wake_fd;
    int offsets_unflushed; /* the source thread's: a position was put and not flushed since */
    /* The supervisor's (under rt->lock): the rt->stopping it last passed on to this pipeline. A
     * task started just after a signal resets its stop flag; the supervisor asks again. */
    int stop_asked;
} pipeline_t;

/* Thread bodies (pipeline.c); each signals p->ended as it returns. */
void *pipeline_source_main(void *arg);
/* After setting stop, abort or paused: wakes the source thread if it sleeps on its plugin's fd. */
void pipeline_source_wake(pipeline_t *p);
/* The same for a sink task (its thread's reader wait); its reader must be alive (under the
 * runtime's lock while the task runs). */
void pipeline_sink_wake(sink_rt_t *s);
void *pipeline_sink_main(void *arg);
/* The reader's revocation callback of a sink task (opaque: its sink_rt_t; sink thread). */
int pipeline_sink_revoke(void *opaque);
/* `sluice test`: run `in` through the transforms of `side` (with their predicates); returns the
 * output batch (one of the CHAIN_TMP batches of `tmp`, or `in` for an empty chain). A record that
 * fails is not in it and is marked failed with its reason. */
#define CHAIN_TMP 3 /* batches a chain needs besides its input */
sluice_batch_t *pipeline_chain_apply(side_t *side, sluice_batch_t *in, sluice_batch_t *tmp);

/* Build a context (name "pipeline/instance"); free it after the instance's destroy. */
int ctx_init(sluice_ctx_t *ctx, const char *pipeline, const char *instance, const char *topic);
void ctx_free(sluice_ctx_t *ctx);

/* The host function table handed to plugins (host.c). */
extern const struct sluice_host host_table;

#endif
