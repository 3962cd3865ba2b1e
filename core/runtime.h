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
    cfg_run_t cfg;
    registry_t registry;
    pipeline_t *pipelines;
    size_t npipelines;
    pthread_mutex_t topics_mu; /* topics may be created while running (records routed elsewhere) */
    topic_t **topics;
    size_t ntopics;
    offsets_t *offsets;
    char *offsets_path;
    int quiet;
    int progress_interval_ms;
    atomic_int stopping; /* a signal arrived */
                         /* Kafka mode (a kafka: block) */
    int kafka, kafka_ok;
    kafka_props_t kprops;              /* the kafka: block as given */
    sr_client_t *sr;                   /* the schema.registry: block's client, NULL if none */
    kafka_kv_writer_t *offsets_writer; /* offsets.storage: kafka */
    pthread_t sig_thread;
    int sig_thread_started;
    atomic_int exiting;
    sigset_t sigs;
} runtime_t;

/* Load the files, scan plugins, resolve and validate everything. Errors go to `errs`; returns 0 if
 * none. `offsets_override` (from --offsets) may be NULL. */
int runtime_prepare(runtime_t *rt, const char *const *files, size_t nfiles,
                    const char *offsets_override, cfg_errors_t *errs);
/* `lint --print`: the resolved configuration, secrets redacted. */
void runtime_print(const runtime_t *rt, FILE *out);
/* Start every pipeline, run until all end or a signal arrives, then stop cleanly.
 * Returns the process exit code: 0, or 1 when a pipeline failed. */
int runtime_run(runtime_t *rt);
void runtime_free(runtime_t *rt);

/* The topic of that name, created on demand with the given memory bound. */
topic_t *runtime_topic(runtime_t *rt, const char *name, size_t max_bytes);
/* Ask every pipeline to stop (signal handler thread). `hard`: do not drain. */
void runtime_request_stop(runtime_t *rt, int hard);

#endif
