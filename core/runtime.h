/* runtime.h — turns loaded configuration into running pipelines: plugin lookup and config
 * validation (shared by `lint` and `run`), topics, threads, signals, progress and shutdown. */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "config.h"
#include "kafka.h"
#include "loader.h"
#include "offsets.h"
#include "pipeline.h"
#include "schema_registry.h"

typedef struct runtime {
    config_run_t cfg;
    registry_t registry;
    pipeline_t *pipelines;
    size_t npipelines;
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
} runtime_t;

/* Load the files, scan plugins, resolve and validate everything. Errors go to `errs`; returns 0 if
 * none. `offsets_override` (from --offsets) may be NULL. */
int runtime_prepare(runtime_t *rt, const char *const *files, size_t nfiles,
                    const char *offsets_override, config_errors_t *errs);
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
