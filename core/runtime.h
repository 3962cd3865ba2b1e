/* runtime.h — turns loaded configuration into running pipelines: plugin lookup and config
 * validation (shared by `lint` and `run`), topics, threads, signals, progress and shutdown. */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "config.h"
#include "http.h"
#include "kafka.h"
#include "loader.h"
#include "offsets.h"
#include "pipeline.h"
#include "schema_registry.h"
#include "worker.h"

/* A configuration loaded while the worker runs (a REST write, a reload): the pipelines taken from
 * it point into it; it goes with the last of them. */
typedef struct config_gen {
    config_run_t cfg;
    int refs;
} config_gen_t;

/* A change of the pipeline list asked by the worker (worker.h), carried out by the supervisor:
 * `old` stops and goes, then `add` is set up and starts (either may be NULL). */
typedef struct runtime_change {
    pipeline_t *old, *add;
    int stopping;
    struct runtime_change *next;
} runtime_change_t;

typedef struct runtime {
    config_run_t cfg;
    registry_t registry;
    pipeline_t **pipelines; /* each allocated on its own: the worker adds and removes them */
    size_t npipelines;
    /* The worker's lock (worker.h): the pipeline list and every task_ctl_t. */
    pthread_mutex_t lock;
    atomic_int started; /* the set-up is done: the supervisor runs (worker_started) */
    atomic_int hold;    /* keep running with nothing running (a worker waiting for connectors) */
    char **files;       /* the files given (reloads read them again) */
    size_t nfiles;
    char *state_path;  /* connectors.state.file (`run` only) */
    char *offsets_arg; /* --offsets, for a reload */
    atomic_int reexec; /* an in-process reload: stop cleanly, then main runs the command again */
    pthread_mutex_t config_lock; /* one REST write or reload at a time */
    runtime_change_t *changes;   /* under `lock` */
    transport_t *transport; /* how records travel: chosen by runtime_prepare; owns the topics */
    offsets_t *offsets;
    char *offsets_path;
    int quiet;
    int progress_interval_ms;
    atomic_int stopping;               /* a signal arrived */
    sr_client_t *sr;                   /* the schema.registry: block's client, NULL if none */
    kafka_kv_writer_t *offsets_writer; /* offsets.storage: kafka */
    pthread_t sig_thread;
    int sig_thread_started;
    atomic_int exiting;
    sigset_t sigs;
    /* Pipeline threads signal their end here, so that run returns at once, not at its next tick. */
    pipeline_ended_t ended;
    /* The REST listener (#17): started by runtime_run from `http_settings` (the caller's; NULL or
     * disabled: none), stopped at its teardown. */
    const http_settings_t *http_settings;
    http_server_t *http;
    /* The last 15 minutes of counters (#18, history.h): sampled while the listener is on. */
    struct history *history;
    /* Distributed mode (group.id, cluster.h): which tasks this worker runs. NULL: all. */
    struct cluster *cluster;
} runtime_t;

/* Load the files, scan plugins, resolve and validate everything. Errors go to `errs`; returns 0 if
 * none. `offsets_override` (from --offsets) may be NULL. */
int runtime_prepare(runtime_t *rt, const char *const *files, size_t nfiles,
                    const char *offsets_override, config_errors_t *errs);
/* runtime_prepare for `sluice run`: the connectors of the state file (worker.h) are loaded too. */
int runtime_prepare_run(runtime_t *rt, const char *const *files, size_t nfiles,
                        const char *offsets_override, config_errors_t *errs);
/* Load the run's files again, and `state` when it exists, into `out` (a reload, a REST write). */
int runtime_load(runtime_t *rt, config_run_t *out, const char *state, config_errors_t *errs);
/* A pipeline for `cp` of `gen` resolved against the running worker's plugins (errors to `errs`:
 * NULL). It is not started: hand it to runtime_change, or to runtime_pipeline_discard. */
pipeline_t *runtime_pipeline_new(runtime_t *rt, config_gen_t *gen, const config_pipeline_t *cp,
                                 config_errors_t *errs);
void runtime_pipeline_discard(pipeline_t *p);
/* Queue a change of the pipeline list (under rt->lock). */
int runtime_change(runtime_t *rt, pipeline_t *old, pipeline_t *add);
/* Wakes the supervising loop of runtime_run: call after changing what it acts on (a task's target,
 * a restart asked, a change queued). It sleeps until then when nothing is in flux. */
void runtime_wake(runtime_t *rt);
void config_gen_unref(config_gen_t *g);
/* The items of a state file's `pipelines:` list, as text (each `  - id: ...` with its lines). */
int runtime_state_items(const char *text, char ***items, size_t *n);
/* Scan the plugin directories (SLUICE_PLUGIN_PATH, `extra`, the built-in one) into rt->registry;
 * load failures are added to `errs`. runtime_prepare calls it; `sluice test` too. */
void runtime_scan_plugins(runtime_t *rt, const char *const *extra, size_t nextra,
                          config_errors_t *errs);
/* `sluice lint`: init and destroy every plugin instance, so that what only a plugin can check
 * (a schema file, a regular expression) is reported too. Returns the number of refusals (each
 * printed with its file and line). */
int runtime_check_plugins(runtime_t *rt);
/* `sluice test`: the transforms of `owner` (a source or sink entry, or an inline chain) as the
 * chain of `side`, resolved against `cp` (its predicates and base directory); init them with
 * the pipeline `p` (id and topic, `p->cfg` set); free. */
int runtime_chain_resolve(runtime_t *rt, const config_pipeline_t *cp,
                          const config_instance_t *owner, side_t *side, config_errors_t *errs);
int runtime_chain_init(pipeline_t *p, side_t *side);
void runtime_chain_free(side_t *side);
/* Destroy the plugin instances of a chain (they may be inited again), keeping their resolution. */
void runtime_chain_destroy(side_t *side);
/* `lint --print`: the resolved configuration, secrets redacted. */
void runtime_print(const runtime_t *rt, FILE *out);
/* Start every pipeline, run until all end or a signal arrives, then stop cleanly.
 * Returns the process exit code: 0, or 1 when a pipeline failed. */
int runtime_run(runtime_t *rt);
void runtime_free(runtime_t *rt);

#endif
