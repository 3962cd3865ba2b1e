/* runtime.c — see runtime.h. */
#include "runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "history.h"
#include "log.h"
#include "predicate.h"
#include "rest.h"
#include "tap.h"

/* -- preparation (shared by lint and run) -------------------------------------------------------
 */

enum role { ROLE_SOURCE, ROLE_TRANSFORM, ROLE_SINK };
static const char *const role_names[] = {"source", "transform", "sink"};

static const struct sluice_config_field *role_table(const loaded_plugin_t *lp, enum role r)
{
    switch (r) {
    case ROLE_SOURCE:
        return lp->has_source ? lp->source.config : NULL;
    case ROLE_TRANSFORM:
        return lp->has_transform ? lp->transform.config : NULL;
    default:
        return lp->has_sink ? lp->sink.config : NULL;
    }
}

static int role_has(const loaded_plugin_t *lp, enum role r)
{
    return r == ROLE_SOURCE      ? lp->has_source
           : r == ROLE_TRANSFORM ? lp->has_transform
                                 : lp->has_sink;
}

/* The load failure of a file named after the plugin, if any (to explain an unknown name). */
static const char *registry_failure_for(const registry_t *reg, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof needle, "/%s.so:", name);
    for (size_t i = 0; i < reg->nerrors; i++)
        if (strstr(reg->errors[i], needle))
            return reg->errors[i];
    return NULL;
}

static int instance_init(pipeline_t *p, instance_t *in, enum role role, const char *name, int task);
static void instance_destroy(instance_t *in, enum role role);
static void side_free(side_t *side);

static int resolve_instance(runtime_t *rt, const config_pipeline_t *cp, const config_instance_t *ci,
                            enum role role, instance_t *out, config_errors_t *errs)
{
    char what[512];
    if (role == ROLE_SINK)
        snprintf(what, sizeof what, "sink '%s' (plugin %s) of pipeline '%s'", ci->id, ci->plugin,
                 cp->id);
    else if (role == ROLE_TRANSFORM)
        snprintf(what, sizeof what, "transform '%s' (plugin %s) of pipeline '%s'", ci->id,
                 ci->plugin, cp->id);
    else
        snprintf(what, sizeof what, "source (plugin %s) of pipeline '%s'", ci->plugin, cp->id);
    out->cfg_inst = ci;
    const loader_alias_t *alias = NULL;
    const loaded_plugin_t *lp = registry_find(&rt->registry, ci->plugin);
    if (!lp)
        lp = registry_find_alias(&rt->registry, ci->plugin, &alias);
    if (!lp) {
        const char *failure = registry_failure_for(&rt->registry, ci->plugin);
        if (failure) {
            config_errors_add(errs, &ci->plugin_mark, "plugin '%s' failed to load: %s", ci->plugin,
                              failure);
            return -1;
        }
        size_t n;
        const char **names = registry_names(&rt->registry, &n);
        const char *hint = names ? config_did_you_mean(ci->plugin, names, n) : NULL;
        char hintbuf[160] = "";
        if (hint)
            snprintf(hintbuf, sizeof hintbuf, "; did you mean '%s'?", hint);
        config_errors_add(errs, &ci->plugin_mark,
                          "unknown plugin '%s' in %s%s (see `sluice plugins list`)", ci->plugin,
                          what, hintbuf);
        free(names);
        return -1;
    }
    if (!role_has(lp, role)) {
        char roles[64];
        config_errors_add(errs, &ci->plugin_mark, "plugin '%s' cannot be used as a %s: it is a %s",
                          ci->plugin, role_names[role], loader_roles(lp, roles, sizeof roles));
        return -1;
    }
    out->plugin = lp;
    const struct sluice_config_field *table =
        alias && alias->tables[role] ? alias->tables[role] : role_table(lp, role);
    out->cfg = config_validate(ci->config, table, what, &ci->mark, cp->base_dir, errs);
    if (role == ROLE_TRANSFORM) {
        int failed = 0;
        out->pred = predicate_resolve(cp, ci, what, &failed, errs);
        if (failed)
            return -1;
    }
    if (out->cfg && alias && alias->tables[role] && config_mark(out->cfg, alias->key) &&
        strcmp(config_string(out->cfg, alias->key), alias->value) != 0) {
        config_errors_add(errs, config_mark(out->cfg, alias->key),
                          "%s: '%s' is plugin '%s' with %s: %s; remove '%s: %s' or use plugin '%s'",
                          what, ci->plugin, lp->desc.name, alias->key, alias->value, alias->key,
                          config_string(out->cfg, alias->key), lp->desc.name);
        return -1;
    }
    return out->cfg ? 0 : -1;
}

/* A sink's own value of a core key, else the pipeline's. */
static const sluice_config_t *side_cfg(const sluice_config_t *sink, const sluice_config_t *pipe,
                                       const char *key)
{
    return sink && config_has(sink, key) ? sink : pipe;
}

static void side_settings(side_t *side, const sluice_config_t *sink, const sluice_config_t *pipe)
{
#define SIDE(key) side_cfg(sink, pipe, key), key
    side->tolerance_all = strcmp(config_string(SIDE("errors.tolerance")), "all") == 0;
    side->dlq_context_headers = config_bool(SIDE("errors.deadletterqueue.context.headers.enable"));
    side->retry_timeout_ms = config_int(SIDE("errors.retry.timeout"));
    side->retry_delay_max_ms = config_int(SIDE("errors.retry.delay.max.ms"));
    side->log_errors = config_bool(SIDE("errors.log.enable"));
    side->log_messages = config_bool(SIDE("errors.log.include.messages"));
    side->flush_interval_ms = config_duration_ms(SIDE("offset.flush.interval.ms"));
    side->batch_max = (size_t)config_int(SIDE("batch.max.records"));
#undef SIDE
}

static const char *side_dlq_name(const sluice_config_t *sink, const sluice_config_t *pipe)
{
    const char *key = "errors.deadletterqueue.topic.name";
    const char *n = config_string(side_cfg(sink, pipe, key), key);
    return n && *n ? n : NULL;
}

static int resolve_sink_task(runtime_t *rt, const config_pipeline_t *cp, pipeline_t *p,
                             const config_instance_t *ci, size_t index, int task, sink_rt_t *s,
                             config_errors_t *errs);

/* The avro converter needs the schema.registry: block. */
static int check_converters(runtime_t *rt, const config_pipeline_t *cp, const sluice_config_t *core,
                            const char *what, config_errors_t *errs)
{
    int rc = 0;
    static const char *const keys[] = {"key.converter", "value.converter"};
    for (size_t i = 0; core && i < 2; i++) {
        if (!config_has(core, keys[i]) || !converter_is_avro(config_string(core, keys[i])))
            continue;
        if (config_block_on(rt->cfg.global, "schema.registry", "url"))
            continue;
        config_errors_add(
            errs, config_mark(core, keys[i]),
            "%s of pipeline '%s': %s avro needs a schema.registry: block with its url "
            "(top level of the file)",
            what, cp->id, keys[i]);
        rc = -1;
    }
    return rc;
}

/* A pipeline object for `cp`, its connectors meant to run. */
static pipeline_t *pipeline_alloc(const config_pipeline_t *cp)
{
    pipeline_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->sink_target = calloc(cp->nsinks + 1, sizeof *p->sink_target);
    if (!p->sink_target) {
        free(p);
        return NULL;
    }
    p->sink_topics_mark = calloc(cp->nsinks + 1, sizeof *p->sink_topics_mark);
    if (!p->sink_topics_mark) {
        free(p->sink_target);
        free(p);
        return NULL;
    }
    p->ntaps = cp->nsinks + 1;
    p->taps = calloc(p->ntaps, sizeof *p->taps);
    for (size_t i = 0; p->taps && i < p->ntaps; i++)
        if (!(p->taps[i] = tap_point_new()))
            p->ntaps = i;
    if (!p->taps || p->ntaps != cp->nsinks + 1) {
        for (size_t i = 0; p->taps && i < p->ntaps; i++)
            tap_point_close(p->taps[i]);
        free(p->taps);
        free(p->sink_topics_mark);
        free(p->sink_target);
        free(p);
        return NULL;
    }
    p->src_target = WORKER_RUNNING;
    p->src_topics_mark = -1;
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* -1: the source polls on a clock */
    for (size_t i = 0; i < cp->nsinks; i++) {
        p->sink_target[i] = WORKER_RUNNING;
        p->sink_topics_mark[i] = -1;
    }
    return p;
}

static void task_ctl_init(task_ctl_t *c, const pipeline_t *p, uint64_t seed)
{
    c->state = WORKER_UNASSIGNED;
    backoff_init(&c->bo, p->restart_initial_ms, p->restart_max_ms,
                 seed ^ (uint64_t)clock_mono_ms());
}

static int resolve_pipeline(runtime_t *rt, const config_pipeline_t *cp, pipeline_t *p,
                            config_errors_t *errs)
{
    int rc = 0;
    p->cfg = cp;
    p->id = cp->id;
    p->restart_initial_ms = 1000;
    p->restart_max_ms = 60000;
    if (cp->core) {
        /* In-process a run is one batch (its topics end): nothing restarts there. */
        p->restart_on_failure =
            (rt->transport->ops->caps & TRANSPORT_ENDLESS) &&
            strcmp(config_string(cp->core, "restart.policy"), "on-failure") == 0;
        p->restart_initial_ms = config_int(cp->core, "restart.backoff.initial.ms");
        p->restart_max_ms = config_int(cp->core, "restart.backoff.max.ms");
        if (p->restart_max_ms < p->restart_initial_ms)
            p->restart_max_ms = p->restart_initial_ms;
    }
    task_ctl_init(&p->ctl, p, (uint64_t)(uintptr_t)p);
    /* With invalid pipeline keys (core NULL) the plugins are still checked, so that lint reports
     * every error at once; only the settings that need the core keys are skipped. */
    if (cp->core)
        side_settings(&p->side, NULL, cp->core);
    else
        rc = -1;
    p->side.name = cp->id;
    p->side.tap = p->taps ? p->taps[0] : NULL;
    if (cp->core) {
        rc |= check_converters(rt, cp, cp->core, "pipeline", errs);
        for (size_t i = 0; i < cp->nsinks; i++)
            rc |= check_converters(rt, cp, cp->sinks[i].core, "sink", errs);
    }
    transport_t *tt = rt->transport;
    rc |= tt->ops->check_pipeline(tt, cp, errs);
    if (cp->source && cp->source->plugin) {
        p->has_source = 1;
        rc |= resolve_instance(rt, cp, cp->source, ROLE_SOURCE, &p->source, errs);
        p->side.ntransforms = cp->source->ntransforms;
        p->side.transforms = calloc(cp->source->ntransforms + 1, sizeof *p->side.transforms);
        for (size_t t = 0; t < cp->source->ntransforms; t++)
            rc |= resolve_instance(rt, cp, &cp->source->transforms[t], ROLE_TRANSFORM,
                                   &p->side.transforms[t], errs);
    }
    /* A transport with TRANSPORT_TASKS (Kafka: consumers of one group) runs tasks.max tasks of
     * each sink, each with its own instances; a task beyond the first repeats the first's
     * validation, whose errors were already reported. */
    int tasks_on = (tt->ops->caps & TRANSPORT_TASKS) != 0;
    size_t ntasks = 0;
    for (size_t i = 0; i < cp->nsinks; i++)
        ntasks +=
            tasks_on && cp->sinks[i].core ? (size_t)config_int(cp->sinks[i].core, "tasks.max") : 1;
    p->nsinks = ntasks;
    p->sinks = calloc(ntasks + 1, sizeof *p->sinks);
    for (size_t i = 0, at = 0; i < cp->nsinks; i++) {
        const config_instance_t *ci = &cp->sinks[i];
        size_t tasks = tasks_on && ci->core ? (size_t)config_int(ci->core, "tasks.max") : 1;
        if (!tasks_on && ci->core && config_int(ci->core, "tasks.max") > 1)
            log_warn(cp->id, "sink '%s': tasks.max %lld ignored %s (one partition, one task)",
                     ci->id, (long long)config_int(ci->core, "tasks.max"), tt->ops->name);
        rc |= tt->ops->check_sink(tt, cp, ci, errs);
        for (size_t task = 0; task < tasks; task++, at++)
            rc |= resolve_sink_task(rt, cp, p, ci, i, (int)task, &p->sinks[at], errs);
    }
    return rc ? -1 : 0;
}

static int resolve_sink_task(runtime_t *rt, const config_pipeline_t *cp, pipeline_t *p,
                             const config_instance_t *ci, size_t index, int task, sink_rt_t *s,
                             config_errors_t *errs)
{
    s->p = p;
    task_ctl_init(&s->ctl, p, (uint64_t)(uintptr_t)s);
    int rc = 0;
    config_errors_t scratch;
    config_errors_init(&scratch);
    if (task > 0)
        errs = &scratch;
    s->id = ci->id;
    s->cfg_index = index;
    s->task = task;
    rc |= resolve_instance(rt, cp, ci, ROLE_SINK, &s->inst, errs);
    if (cp->core)
        side_settings(&s->side, ci->core, cp->core);
    s->side.name = ci->id;
    s->side.tap = p->taps && 1 + index < p->ntaps ? p->taps[1 + index] : NULL;
    s->side.ntransforms = ci->ntransforms;
    s->side.transforms = calloc(ci->ntransforms + 1, sizeof *s->side.transforms);
    for (size_t t = 0; t < ci->ntransforms; t++)
        rc |= resolve_instance(rt, cp, &ci->transforms[t], ROLE_TRANSFORM, &s->side.transforms[t],
                               errs);
    const char *dlq = cp->core ? side_dlq_name(ci->core, cp->core) : NULL;
    if (dlq && strcmp(dlq, config_string(cp->core, "topic")) == 0) {
        config_errors_add(
            errs, &ci->mark,
            "sink '%s' of pipeline '%s': the dead-letter topic '%s' is the pipeline's "
            "own topic",
            ci->id, cp->id, dlq);
        rc = -1;
    }
    config_errors_free(&scratch);
    return rc ? -1 : 0;
}

void runtime_scan_plugins(runtime_t *rt, const char *const *extra, size_t nextra,
                          config_errors_t *errs)
{
    size_t ndirs;
    char **dirs = loader_search_path(extra, nextra, &ndirs);
    registry_init(&rt->registry);
    registry_scan(&rt->registry, (const char *const *)dirs, ndirs);
    loader_free_path(dirs, ndirs);
    for (size_t i = 0; i < rt->registry.nerrors; i++)
        config_errors_add(errs, NULL, "%s", rt->registry.errors[i]);
}

int runtime_chain_resolve(runtime_t *rt, const config_pipeline_t *cp,
                          const config_instance_t *owner, side_t *side, config_errors_t *errs)
{
    int rc = 0;
    side->ntransforms = owner->ntransforms;
    side->transforms = calloc(owner->ntransforms + 1, sizeof *side->transforms);
    if (!side->transforms)
        return -1;
    for (size_t t = 0; t < owner->ntransforms; t++)
        rc |= resolve_instance(rt, cp, &owner->transforms[t], ROLE_TRANSFORM, &side->transforms[t],
                               errs);
    return rc;
}

int runtime_chain_init(pipeline_t *p, side_t *side)
{
    for (size_t t = 0; t < side->ntransforms; t++)
        if (instance_init(p, &side->transforms[t], ROLE_TRANSFORM, side->transforms[t].cfg_inst->id,
                          0) != 0)
            return -1;
    return 0;
}

void runtime_chain_destroy(side_t *side)
{
    for (size_t t = 0; t < side->ntransforms; t++)
        instance_destroy(&side->transforms[t], ROLE_TRANSFORM);
}

void runtime_chain_free(side_t *side)
{
    side_free(side);
}

int runtime_check_plugins(runtime_t *rt)
{
    int failures = 0;
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        if (p->has_source) {
            failures += instance_init(p, &p->source, ROLE_SOURCE, "source", 0) != 0;
            instance_destroy(&p->source, ROLE_SOURCE);
        }
        for (size_t t = 0; t < p->side.ntransforms; t++) {
            instance_t *in = &p->side.transforms[t];
            failures += instance_init(p, in, ROLE_TRANSFORM, in->cfg_inst->id, 0) != 0;
            instance_destroy(in, ROLE_TRANSFORM);
        }
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_rt_t *sk = &p->sinks[s];
            if (sk->task > 0)
                continue; /* the tasks of a sink share one configuration */
            failures += instance_init(p, &sk->inst, ROLE_SINK, sk->id, 0) != 0;
            instance_destroy(&sk->inst, ROLE_SINK);
            for (size_t t = 0; t < sk->side.ntransforms; t++) {
                instance_t *in = &sk->side.transforms[t];
                failures += instance_init(p, in, ROLE_TRANSFORM, in->cfg_inst->id, 0) != 0;
                instance_destroy(in, ROLE_TRANSFORM);
            }
        }
    }
    return failures;
}

/* Where the worker keeps the connectors created over the REST API: connectors.state.file, else
 * connectors.yaml beside the offsets file (or in the default state directory). */
static char *runtime_state_path(const sluice_config_t *g, const char *offsets_override)
{
    if (g && config_has(g, "connectors.state.file"))
        return strdup(config_string(g, "connectors.state.file"));
    char *base = NULL;
    if (offsets_override)
        base = strdup(offsets_override);
    else if (g && !cluster_offsets_kafka(g) && config_has(g, "offset.storage.file.filename"))
        base = strdup(config_string(g, "offset.storage.file.filename"));
    else
        base = offsets_default_path();
    if (!base)
        return NULL;
    char *slash = strrchr(base, '/');
    const char *dir = slash ? base : ".";
    if (slash)
        *slash = 0;
    size_t n = strlen(dir) + sizeof "/connectors.yaml";
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/connectors.yaml", *dir ? dir : "/");
    free(base);
    return out;
}

static int runtime_prepare_with(runtime_t *rt, const char *const *files, size_t nfiles,
                                const char *offsets_override, int with_state,
                                config_errors_t *errs);

int runtime_prepare(runtime_t *rt, const char *const *files, size_t nfiles,
                    const char *offsets_override, config_errors_t *errs)
{
    return runtime_prepare_with(rt, files, nfiles, offsets_override, 0, errs);
}

int runtime_prepare_run(runtime_t *rt, const char *const *files, size_t nfiles,
                        const char *offsets_override, config_errors_t *errs)
{
    return runtime_prepare_with(rt, files, nfiles, offsets_override, 1, errs);
}

int runtime_load(runtime_t *rt, config_run_t *out, const char *state, config_errors_t *errs)
{
    const char **paths = calloc(rt->nfiles + 2, sizeof *paths);
    if (!paths) {
        config_errors_add(errs, NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < rt->nfiles; i++)
        paths[i] = rt->files[i];
    size_t n = rt->nfiles;
    if (state && access(state, F_OK) == 0)
        paths[n++] = state;
    int rc = config_load(out, paths, n, errs);
    free(paths);
    return rc;
}

int runtime_state_items(const char *text, char ***items, size_t *n)
{
    *items = NULL;
    *n = 0;
    const char *p =
        strncmp(text, "pipelines:\n", 11) == 0 ? text - 1 : strstr(text, "\npipelines:\n");
    if (!p)
        return 0;
    p += strlen("\npipelines:\n");
    while (*p) {
        const char *end = p;
        /* An item runs to the next line that starts another (`  - `) or to the end. */
        do {
            const char *nl = strchr(end, '\n');
            end = nl ? nl + 1 : end + strlen(end);
        } while (*end && strncmp(end, "  - ", 4) != 0);
        char **more = realloc(*items, (*n + 1) * sizeof *more);
        if (!more)
            return -1;
        *items = more;
        if (!(more[*n] = strndup(p, (size_t)(end - p))))
            return -1;
        (*n)++;
        p = end;
    }
    return 0;
}

/* The pipelines of the state file were created over the REST API: keep their YAML to write it
 * again. */
static void runtime_mark_rest(runtime_t *rt)
{
    if (!rt->state_path)
        return;
    buf_t b;
    buf_init(&b);
    char **items = NULL;
    size_t nitems = 0, k = 0;
    if (buf_read_file(&b, rt->state_path) == 0 && b.data)
        runtime_state_items(b.data, &items, &nitems);
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        if (!p || !p->cfg->file || strcmp(p->cfg->file, rt->state_path) != 0)
            continue;
        p->from_rest = 1;
        if (k < nitems) {
            p->rest_item = items[k];
            items[k++] = NULL;
        }
    }
    for (size_t i = 0; i < nitems; i++)
        free(items[i]);
    free(items);
    buf_free(&b);
    if (k)
        atomic_store(&rt->hold, 1);
}

static int runtime_prepare_with(runtime_t *rt, const char *const *files, size_t nfiles,
                                const char *offsets_override, int with_state, config_errors_t *errs)
{
    memset(rt, 0, sizeof *rt);
    pthread_mutex_init(&rt->ended.mu, NULL);
    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->config_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->ended.cv, &ca);
    pthread_condattr_destroy(&ca);
    rt->progress_interval_ms = 5000;
    if (offsets_override)
        rt->offsets_arg = strdup(offsets_override);
    rt->files = calloc(nfiles + 1, sizeof *rt->files);
    for (size_t i = 0; rt->files && i < nfiles; i++)
        if ((rt->files[i] = strdup(files[i])))
            rt->nfiles++;
    config_load(&rt->cfg, files, nfiles, errs);
    if (with_state && !errs->len) {
        /* The connectors created over the REST API come after the files given. */
        rt->state_path = runtime_state_path(rt->cfg.global, offsets_override);
        if (rt->state_path && access(rt->state_path, F_OK) == 0) {
            config_run_free(&rt->cfg);
            memset(&rt->cfg, 0, sizeof rt->cfg);
            runtime_load(rt, &rt->cfg, rt->state_path, errs);
        }
    }

    /* Plugins: SLUICE_PLUGIN_PATH, then the YAML's plugin.path, then the built-in directory. */
    size_t nextra = rt->cfg.global ? config_count(rt->cfg.global, "plugin.path") : 0;
    const char **extra = calloc(nextra + 1, sizeof *extra);
    for (size_t i = 0; extra && i < nextra; i++) {
        extra[i] = config_item(rt->cfg.global, "plugin.path", i);
    }
    runtime_scan_plugins(rt, extra, extra ? nextra : 0, errs);
    free(extra);

    const sluice_config_t *g = rt->cfg.global;
    /* The transport chooses itself from the top-level keys, and reads and checks its own. */
    const struct transport_ops *tops = transport_choose(g);
    rt->transport = tops->open(g, errs);
    if (!rt->transport)
        config_errors_add(errs, NULL, "out of memory");
    if (g && strcmp(config_string(g, "offsets.storage"), "kafka") == 0 &&
        !kafka_transport_props(rt->transport))
        config_errors_add(errs, config_mark(g, "offsets.storage"),
                          "offsets.storage: kafka needs the kafka: block (positions go to the "
                          "compacted topic offset.storage.topic)");
    cluster_check(g, rt->transport && kafka_transport_props(rt->transport), errs);
    if (config_block_on(g, "schema.registry", "url")) {
        size_t n = config_count(g, "schema.registry");
        const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
        char err[600];
        for (size_t i = 0; keys && vals && i < n; i++) {
            keys[i] = config_map_key(g, "schema.registry", i);
            vals[i] = config_item(g, "schema.registry", i);
        }
        if (keys && vals && sr_config_check(keys, vals, n, err, sizeof err) != 0)
            config_errors_add(errs, config_mark(g, "schema.registry"), "schema.registry: %s", err);
        free(keys);
        free(vals);
    }

    rt->npipelines = rt->cfg.npipelines;
    rt->pipelines = calloc(rt->npipelines + 1, sizeof *rt->pipelines);
    for (size_t i = 0; rt->pipelines && i < rt->npipelines; i++)
        if (!(rt->pipelines[i] = pipeline_alloc(&rt->cfg.pipelines[i])))
            config_errors_add(errs, NULL, "out of memory");
    for (size_t i = 0; rt->transport && rt->pipelines && i < rt->npipelines; i++)
        resolve_pipeline(rt, &rt->cfg.pipelines[i], rt->pipelines[i], errs);

    /* A topic that ends (in-process) has to be written in this run: a pipeline with only sinks
     * reads a topic another pipeline of the run produces. */
    for (size_t i = 0; rt->transport && !(tops->caps & TRANSPORT_ENDLESS) && i < rt->npipelines;
         i++) {
        const config_pipeline_t *cp = &rt->cfg.pipelines[i];
        if (cp->source || !cp->core)
            continue;
        const char *topic = config_string(cp->core, "topic");
        int produced = 0;
        for (size_t k = 0; k < rt->npipelines; k++) {
            const config_pipeline_t *o = &rt->cfg.pipelines[k];
            if (!o->core)
                continue;
            if (o->source && strcmp(config_string(o->core, "topic"), topic) == 0)
                produced = 1;
            if (side_dlq_name(NULL, o->core) && strcmp(side_dlq_name(NULL, o->core), topic) == 0)
                produced = 1;
            for (size_t s = 0; s < o->nsinks; s++)
                if (side_dlq_name(o->sinks[s].core, o->core) &&
                    strcmp(side_dlq_name(o->sinks[s].core, o->core), topic) == 0)
                    produced = 1;
        }
        /* A source-side transform may route records to any topic (regex-router): such a
         * topic is fed while those sources run (see runtime_setup). */
        for (size_t k = 0; !produced && k < rt->npipelines; k++)
            produced = rt->cfg.pipelines[k].source && rt->cfg.pipelines[k].source->ntransforms;
        if (!produced)
            config_errors_add(errs, &cp->mark,
                              "pipeline '%s' has sinks but no source, and no pipeline of this run "
                              "produces its topic '%s' (in-process mode has no Kafka to read from; "
                              "a source's transforms could route records to it, but no source has "
                              "transforms)",
                              cp->id, topic);
    }

    if (with_state)
        runtime_mark_rest(rt);
    if (offsets_override)
        rt->offsets_path = strdup(offsets_override);
    else if (rt->cfg.global && config_has(rt->cfg.global, "offset.storage.file.filename"))
        rt->offsets_path = strdup(config_string(rt->cfg.global, "offset.storage.file.filename"));
    else
        rt->offsets_path = offsets_default_path();
    return errs->len ? -1 : 0;
}

/* -- lint --print ----------------------------------------------------------------------------- */

static void print_instance(const instance_t *in, const char *id, int indent, FILE *out)
{
    buf_t b;
    buf_init(&b);
    if (id)
        fprintf(out, "%*s- id: %s\n%*s  plugin: %s\n", indent, "", id, indent, "",
                in->cfg_inst->plugin);
    else
        fprintf(out, "%*splugin: %s\n", indent, "", in->cfg_inst->plugin);
    int inner = id ? indent + 2 : indent;
    if (in->cfg) {
        config_dump(in->cfg, &b, inner + 2);
        if (b.len)
            fprintf(out, "%*sconfig:\n%s", inner, "", b.data);
    }
    buf_free(&b);
}

void runtime_print(const runtime_t *rt, FILE *out)
{
    buf_t b;
    buf_init(&b);
    fprintf(out, "version: 1\n");
    if (rt->cfg.global) {
        config_dump(rt->cfg.global, &b, 0);
        /* group.id implies offsets.storage: kafka (cluster.h): print what runs, so that the
         * output lints (the default `file` is refused with group.id). */
        const char *d = b.data ? b.data : "", *f = "offsets.storage: file\n";
        const char *at = strstr(d, f);
        while (at && at != d && at[-1] != '\n')
            at = strstr(at + 1, f);
        if (at && cluster_wanted(rt->cfg.global))
            fprintf(out, "%.*soffsets.storage: kafka\n%s", (int)(at - d), d, at + strlen(f));
        else
            fputs(d, out);
        buf_reset(&b);
    }
    if (!rt->cfg.global || !config_has(rt->cfg.global, "offset.storage.file.filename"))
        fprintf(out, "offset.storage.file.filename: %s\n", rt->offsets_path);
    fprintf(out, "pipelines:\n");
    for (size_t i = 0; i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        fprintf(out, "  # %s\n  - id: %s\n", p->cfg->file, p->id);
        buf_reset(&b);
        if (p->cfg->core)
            config_dump(p->cfg->core, &b, 4);
        fputs(b.data ? b.data : "", out);
        if (p->has_source) {
            fprintf(out, "    source:\n");
            print_instance(&p->source, NULL, 6, out);
            if (p->side.ntransforms)
                fprintf(out, "      transforms:\n");
            for (size_t t = 0; t < p->side.ntransforms; t++)
                print_instance(&p->side.transforms[t], p->side.transforms[t].cfg_inst->id, 8, out);
        }
        if (p->nsinks)
            fprintf(out, "    sinks:\n");
        for (size_t s = 0; s < p->nsinks; s++) {
            const sink_rt_t *sk = &p->sinks[s];
            print_instance(&sk->inst, sk->id, 6, out);
            buf_reset(&b);
            if (sk->inst.cfg_inst->core)
                config_dump(sk->inst.cfg_inst->core, &b, 8);
            fputs(b.data ? b.data : "", out);
            if (sk->side.ntransforms)
                fprintf(out, "        transforms:\n");
            for (size_t t = 0; t < sk->side.ntransforms; t++)
                print_instance(&sk->side.transforms[t], sk->side.transforms[t].cfg_inst->id, 10,
                               out);
        }
    }
    buf_free(&b);
}

/* -- running ------------------------------------------------------------------------------------
 */

static int instance_init(pipeline_t *p, instance_t *in, enum role role, const char *name, int task)
{
    char err[1024] = "";
    const char *topic = p->topic       ? p->topic->name
                        : p->cfg->core ? config_string(p->cfg->core, "topic")
                                       : p->id;
    if (ctx_init(&in->ctx, p->id, name, topic) != 0)
        return -1;
    in->ctx.task = task;
    sluice_err_t e;
    if (role == ROLE_SOURCE)
        e = in->plugin->source.init(&host_table, &in->ctx, in->cfg, &in->state, err, sizeof err);
    else if (role == ROLE_TRANSFORM)
        e = in->plugin->transform.init(&host_table, &in->ctx, in->cfg, &in->state, err, sizeof err);
    else
        e = in->plugin->sink.init(&host_table, &in->ctx, in->cfg, &in->state, err, sizeof err);
    if (e != SLUICE_OK) {
        const config_mark_t *m = &in->cfg_inst->mark;
        fprintf(stderr,
                "%s:%d:%d: %s '%s' (plugin %s) of pipeline '%s' refused its "
                "configuration: %s\n",
                m->file, m->line, m->col, role_names[role], in->cfg_inst->id, in->plugin->desc.name,
                p->id, err[0] ? err : "init failed");
        return -1;
    }
    in->inited = 1;
    return 0;
}

static void instance_destroy(instance_t *in, enum role role)
{
    if (in->inited) {
        if (role == ROLE_SOURCE)
            in->plugin->source.destroy(in->state);
        else if (role == ROLE_TRANSFORM)
            in->plugin->transform.destroy(in->state);
        else
            in->plugin->sink.destroy(in->state);
        in->inited = 0;
    }
    ctx_free(&in->ctx);
}

/* One converter of a side from the keys `<slot>.converter*` (slot "key" or "value"). */
static int slot_converter(runtime_t *rt, converter_t *c, const sluice_config_t *sink,
                          const sluice_config_t *pipe, const char *slot, const char *who)
{
    char key[256], err[512];
#define C(suffix)                                                                                  \
    (snprintf(key, sizeof key, "%s.converter%s", slot, suffix), side_cfg(sink, pipe, key)), key
    const char *name = config_string(C(""));
    sluice_err_t e;
    if (converter_is_avro(name)) {
        enum sr_strategy st = SR_TOPIC_NAME;
        char sk[160];
        snprintf(sk, sizeof sk, ".%s.subject.name.strategy", slot);
        sr_strategy_parse(config_string(C(sk)), &st);
        int reg = config_bool(C(".auto.register.schemas"));
        e = converter_init_avro(c, rt->sr, strcmp(slot, "key") == 0, st, reg, err, sizeof err);
    } else {
        int schemas = config_bool(C(".schemas.enable"));
        int numeric = strcmp(config_string(C(".decimal.format")), "NUMERIC") == 0;
        e = converter_init(c, name, schemas, numeric ? JSON_DECIMAL_NUMERIC : JSON_DECIMAL_BASE64,
                           err, sizeof err);
    }
#undef C
    if (e != SLUICE_OK) {
        log_error(who, "%s.converter: %s", slot, err);
        return -1;
    }
    return 0;
}

static int side_converters(runtime_t *rt, side_t *side, const sluice_config_t *sink,
                           const sluice_config_t *pipe, const char *topic, const char *who)
{
    int rc = slot_converter(rt, &side->key_conv, sink, pipe, "key", who);
    rc |= slot_converter(rt, &side->value_conv, sink, pipe, "value", who);
    side->codec.key = &side->key_conv;
    side->codec.value = &side->value_conv;
    side->codec.topic = topic;
    return rc ? -1 : 0;
}

/* offsets.storage: kafka — the positions of every pipeline in a compacted topic. */
static void offsets_kafka_load(void *opaque, const void *key, size_t klen, const void *value,
                               size_t vlen)
{
    if (offsets_load(opaque, key, klen, value, vlen) != 0)
        log_warn(NULL, "offset.storage.topic: ignoring an unreadable position of '%.*s'", (int)klen,
                 (const char *)key);
}

static int offsets_kafka_write(void *opaque, const char *id, const void *value, size_t len,
                               char *errstr, size_t errstr_size)
{
    return kafka_kv_write(opaque, id, strlen(id), value, len, errstr, errstr_size);
}

static int offsets_kafka_sync(void *opaque, char *errstr, size_t errstr_size)
{
    return kafka_kv_sync(opaque, 30000, errstr, errstr_size);
}

static int runtime_open_offsets(runtime_t *rt)
{
    char err[1024];
    const sluice_config_t *g = rt->cfg.global;
    if (!cluster_offsets_kafka(g)) {
        if (offsets_open(&rt->offsets, rt->offsets_path, err, sizeof err) != 0) {
            fprintf(stderr, "sluice: %s\n", err);
            return -1;
        }
        return 0;
    }
    const char *topic = config_string(g, "offset.storage.topic");
    free(rt->offsets_path);
    rt->offsets_path = malloc(strlen(topic) + 16);
    if (!rt->offsets_path)
        return -1;
    sprintf(rt->offsets_path, "kafka topic %s", topic);
    /* The kafka: block (runtime_prepare refused offsets.storage: kafka without it). */
    const kafka_props_t *kprops = kafka_transport_props(rt->transport);
    if (kafka_kv_writer_new(&rt->offsets_writer, kprops, topic, err, sizeof err) != 0) {
        fprintf(stderr, "sluice: offset.storage.topic: %s\n", err);
        return -1;
    }
    offsets_backend_t be = {offsets_kafka_write, offsets_kafka_sync, rt->offsets_writer};
    if (offsets_open_backend(&rt->offsets, rt->offsets_path, &be) != 0)
        return -1;
    int rc =
        kafka_read_compacted(kprops, topic, (int)config_int(g, "offset.storage.replication.factor"),
                             offsets_kafka_load, rt->offsets, &rt->stopping, err, sizeof err);
    if (rc == -2)
        log_info(NULL, "%s", err);
    else if (rc != 0)
        fprintf(stderr, "sluice: %s\n", err);
    return rc ? -1 : 0;
}

/* A reader for one sink task: its share of the pipeline's topic. */
static int sink_task_reader(runtime_t *rt, pipeline_t *p, sink_rt_t *sk)
{
    transport_t *tt = rt->transport;
    char err[1024];
    struct transport_reader_spec rs = {
        .pipeline = p->id,
        .sink = sk->id,
        .task = sk->task,
        .sink_core = p->cfg->sinks[sk->cfg_index].core,
        .buffer_bytes = (size_t)config_size(p->cfg->core, "buffer.memory"),
        .on_revoke = pipeline_sink_revoke,
        .opaque = sk,
    };
    if (tt->ops->reader_new(tt, p->topic, &rs, &sk->reader, err, sizeof err) != 0) {
        char who[512];
        snprintf(who, sizeof who, "%s/%s#%d", p->id, sk->id, sk->task);
        log_error(who, "%s", err);
        return -1;
    }
    p->readers[sk - p->sinks] = sk->reader;
    return 0;
}

/* The pipeline's writer (its topics made ready: Kafka creates the missing ones, waiting for the
 * cluster) and a reader for each sink task. */
static int pipeline_transport(runtime_t *rt, pipeline_t *p)
{
    transport_t *tt = rt->transport;
    char err[1024];
    transport_topic_t *topics[64];
    const char *whys[64];
    char whybuf[64][300];
    size_t n = 0;
    int writes = p->has_source;
    for (size_t s = 0; s < p->nsinks; s++)
        writes |= p->sinks[s].side.dlq != NULL;
    if (p->has_source) {
        topics[n] = p->topic;
        snprintf(whybuf[n], sizeof whybuf[n], "pipeline '%s'", p->id);
        n++;
        if (p->side.dlq) {
            topics[n] = p->side.dlq;
            snprintf(whybuf[n], sizeof whybuf[n], "the dead-letter topic of pipeline '%s'", p->id);
            n++;
        }
    }
    for (size_t s = 0; s < p->nsinks && n < 64; s++) {
        sink_rt_t *sk = &p->sinks[s];
        if (!sk->side.dlq || sk->task > 0)
            continue;
        topics[n] = sk->side.dlq;
        snprintf(whybuf[n], sizeof whybuf[n], "the dead-letter topic of sink '%s' of pipeline '%s'",
                 sk->id, p->id);
        n++;
    }
    for (size_t k = 0; k < n; k++)
        whys[k] = whybuf[k];
    struct transport_writer_spec ws = {
        .pipeline = p->id,
        .core = p->cfg->core,
        .buffer_bytes = (size_t)config_size(p->cfg->core, "buffer.memory"),
        .topics = topics,
        .whys = whys,
        .ntopics = n,
        .writes = writes,
        .main = p->has_source ? p->topic : NULL,
    };
    int wrc = tt->ops->writer_new(tt, &ws, &p->writer, &rt->stopping, err, sizeof err);
    if (wrc == -2) {
        log_info(p->id, "%s", err);
        return -1;
    }
    if (wrc != 0) {
        log_error(p->id, "%s", err);
        return -1;
    }
    p->readers = calloc(p->nsinks + 1, sizeof *p->readers);
    if (!p->readers)
        return -1;
    for (size_t s = 0; s < p->nsinks; s++)
        if (sink_task_reader(rt, p, &p->sinks[s]) != 0)
            return -1;
    return 0;
}

/* The pipeline's topic and dead-letter topics, counted as written by it. */
static int pipeline_topics(runtime_t *rt, pipeline_t *p)
{
    transport_t *tt = rt->transport;
    const struct transport_ops *ops = tt->ops;
    p->transport = tt;
    p->offsets = rt->offsets;
    p->ended = &rt->ended;
    const char *topic = config_string(p->cfg->core, "topic");
    size_t max = (size_t)config_size(p->cfg->core, "buffer.memory");
    p->topic = ops->topic(tt, topic, max);
    if (!p->topic)
        return -1;
    if (p->has_source) {
        ops->writer_add(p->topic);
        const char *dlq = side_dlq_name(NULL, p->cfg->core);
        if (dlq) {
            p->side.dlq = ops->topic(tt, dlq, max);
            if (!p->side.dlq)
                return -1;
            ops->writer_add(p->side.dlq);
        }
    }
    for (size_t s = 0; s < p->nsinks; s++) {
        sink_rt_t *sk = &p->sinks[s];
        const char *dlq = side_dlq_name(p->cfg->sinks[sk->cfg_index].core, p->cfg->core);
        if (dlq) {
            sk->side.dlq = ops->topic(tt, dlq, max);
            if (!sk->side.dlq)
                return -1;
            ops->writer_add(sk->side.dlq);
        }
    }
    return 0;
}

static void sink_task_name(const sink_rt_t *sk, char *name, size_t n)
{
    if (sk->task > 0)
        snprintf(name, n, "%s#%d", sk->id, sk->task);
    else
        snprintf(name, n, "%s", sk->id);
}

/* Init the instances of a task that are not (the first start, or a restart after a release). */
static int source_task_init(pipeline_t *p)
{
    if (!p->source.inited && instance_init(p, &p->source, ROLE_SOURCE, "source", 0) != 0)
        return -1;
    for (size_t t = 0; t < p->side.ntransforms; t++)
        if (!p->side.transforms[t].inited &&
            instance_init(p, &p->side.transforms[t], ROLE_TRANSFORM,
                          p->side.transforms[t].cfg_inst->id, 0) != 0)
            return -1;
    return 0;
}

static int sink_task_init(runtime_t *rt, pipeline_t *p, sink_rt_t *sk)
{
    char name[300];
    sink_task_name(sk, name, sizeof name);
    if (!sk->inst.inited && instance_init(p, &sk->inst, ROLE_SINK, name, sk->task) != 0)
        return -1;
    sk->side.codec.load_headers = rt->transport->ops->load_headers;
    for (size_t t = 0; t < sk->side.ntransforms; t++)
        if (!sk->side.transforms[t].inited &&
            instance_init(p, &sk->side.transforms[t], ROLE_TRANSFORM,
                          sk->side.transforms[t].cfg_inst->id, sk->task) != 0)
            return -1;
    return 0;
}

/* Converters and instances of a pipeline whose topics exist. */
static int pipeline_init(runtime_t *rt, pipeline_t *p)
{
    if (side_converters(rt, &p->side, NULL, p->cfg->core, p->topic->name, p->id) != 0)
        return -1;
    if (p->has_source && source_task_init(p) != 0)
        return -1;
    for (size_t s = 0; s < p->nsinks; s++) {
        sink_rt_t *sk = &p->sinks[s];
        char name[300];
        sink_task_name(sk, name, sizeof name);
        if (side_converters(rt, &sk->side, p->cfg->sinks[sk->cfg_index].core, p->cfg->core,
                            p->topic->name, name) != 0)
            return -1;
        if (sink_task_init(rt, p, sk) != 0)
            return -1;
    }
    return 0;
}

/* Resume the numbering of a source's topic where the last run left it. */
static void pipeline_set_next(runtime_t *rt, pipeline_t *p)
{
    const offsets_entry_t *e = p->has_source ? offsets_get(rt->offsets, p->id) : NULL;
    if (e && e->next_offset > 0)
        rt->transport->ops->set_next(p->topic, e->next_offset);
}

static int runtime_setup(runtime_t *rt)
{
    if (runtime_open_offsets(rt) != 0)
        return -1;
    /* Topics, writers and readers exist before any thread runs. */
    transport_t *tt = rt->transport;
    const struct transport_ops *ops = tt->ops;
    for (size_t i = 0; i < rt->npipelines; i++)
        if (pipeline_topics(rt, rt->pipelines[i]) != 0)
            return -1;
    /* A topic that ends, which only routing transforms can feed (no source or dead-letter route
     * writes it), is written by every source with transforms: it ends when they have all ended. */
    for (size_t i = 0; !(ops->caps & TRANSPORT_ENDLESS) && i < rt->npipelines; i++) {
        transport_topic_t *t = rt->pipelines[i]->topic;
        if (rt->pipelines[i]->has_source || ops->writers(t) > 0)
            continue;
        for (size_t k = 0; k < rt->npipelines; k++) {
            pipeline_t *o = rt->pipelines[k];
            if (!o->has_source || !o->side.ntransforms)
                continue;
            transport_topic_t **n = realloc(o->route_targets, (o->nroute_targets + 1) * sizeof *n);
            if (!n)
                return -1;
            o->route_targets = n;
            n[o->nroute_targets++] = t;
            ops->writer_add(t);
        }
    }
    for (size_t i = 0; i < rt->npipelines; i++)
        if (pipeline_transport(rt, rt->pipelines[i]) != 0)
            return -1;
    for (size_t i = 0; i < rt->npipelines; i++)
        pipeline_set_next(rt, rt->pipelines[i]);
    if (config_block_on(rt->cfg.global, "schema.registry", "url")) {
        const sluice_config_t *g = rt->cfg.global;
        size_t n = config_count(g, "schema.registry");
        const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
        char err[600] = "";
        for (size_t i = 0; keys && vals && i < n; i++) {
            keys[i] = config_map_key(g, "schema.registry", i);
            vals[i] = config_item(g, "schema.registry", i);
        }
        if (keys && vals)
            rt->sr = sr_client_new(keys, vals, n, err, sizeof err);
        free(keys);
        free(vals);
        if (!rt->sr) {
            fprintf(stderr, "sluice: schema.registry: %s\n", err[0] ? err : "out of memory");
            return -1;
        }
    }
    /* Plugins: init everything, then start sinks, then sources. */
    for (size_t i = 0; i < rt->npipelines; i++)
        if (pipeline_init(rt, rt->pipelines[i]) != 0)
            return -1;
    return 0;
}

/* -- tasks: start, stop, release --------------------------------------------------------------- */

static int sink_task_start(sink_rt_t *sk, char *err, size_t errlen)
{
    if (sk->inst.plugin->sink.start &&
        sk->inst.plugin->sink.start(sk->inst.state, err, errlen) != SLUICE_OK) {
        log_error(sk->inst.ctx.name, "cannot start: %s", err);
        return -1;
    }
    return 0;
}

static int source_task_start(runtime_t *rt, pipeline_t *p, char *err, size_t errlen)
{
    const offsets_entry_t *e = offsets_get(rt->offsets, p->id);
    const void *pos = e && e->position_len ? e->position : NULL;
    size_t len = pos ? e->position_len : 0;
    if (pos)
        log_info(p->source.ctx.name, "resuming from the committed position");
    if (p->source.plugin->source.start(p->source.state, pos, len, err, errlen) != SLUICE_OK) {
        log_error(p->source.ctx.name, "cannot start: %s", err);
        return -1;
    }
    return 0;
}

static int runtime_start_plugins(runtime_t *rt)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        char err[1024] = "";
        for (size_t s = 0; s < p->nsinks; s++)
            if (sink_task_start(&p->sinks[s], err, sizeof err) != 0)
                return -1;
        if (p->has_source && source_task_start(rt, p, err, sizeof err) != 0)
            return -1;
    }
    return 0;
}

/* Names a task's thread (top -H, /proc/PID/task/TID/comm: which thread wakes): the prefix and
 * as much of the id as the kernel's 15 characters hold. */
static void thread_name(pthread_t t, const char *prefix, const char *id)
{
    char name[16];
    snprintf(name, sizeof name, "%s%s", prefix, id ? id : "");
    pthread_setname_np(t, name);
}

static void sink_task_thread(sink_rt_t *sk, int64_t now)
{
    atomic_store(&sk->paused_ack, 0);
    atomic_store(&sk->done, 0);
    atomic_store(&sk->failed, 0);
    atomic_store(&sk->stop, 0);
    sk->interrupted = 0;
    sk->revoke_failed = 0;
    sk->ctl.trace[0] = 0;
    sk->ctl.stop_sent = 0;
    sk->ctl.started_at = now;
    if (pthread_create(&sk->thread, NULL, pipeline_sink_main, sk) == 0) {
        thread_name(sk->thread, "k:", sk->id);
        sk->thread_started = 1;
        sk->ctl.live = 1;
        sk->ctl.state = WORKER_RUNNING;
    } else {
        atomic_store(&sk->done, 1);
        snprintf(sk->ctl.trace, sizeof sk->ctl.trace, "cannot create a thread");
        sk->ctl.state = WORKER_FAILED;
    }
}

static void source_task_thread(pipeline_t *p, int64_t now)
{
    atomic_store(&p->paused_ack, 0);
    atomic_store(&p->source_done, 0);
    atomic_store(&p->failed, 0);
    atomic_store(&p->stop, 0);
    p->ctl.trace[0] = 0;
    p->ctl.stop_sent = 0;
    p->ctl.started_at = now;
    if (pthread_create(&p->thread, NULL, pipeline_source_main, p) == 0) {
        thread_name(p->thread, "s:", p->id);
        p->thread_started = 1;
        p->ctl.live = 1;
        p->ctl.state = WORKER_RUNNING;
    } else {
        atomic_store(&p->source_done, 1);
        snprintf(p->ctl.trace, sizeof p->ctl.trace, "cannot create a thread");
        p->ctl.state = WORKER_FAILED;
    }
}

/* After its thread was joined: the plugin instances go (a restart inits them again). */
static void source_task_release(pipeline_t *p)
{
    instance_destroy(&p->source, ROLE_SOURCE);
    runtime_chain_destroy(&p->side);
}

static void sink_task_release(runtime_t *rt, pipeline_t *p, sink_rt_t *sk)
{
    if (sk->inst.inited && sk->inst.plugin->sink.stop)
        sk->inst.plugin->sink.stop(sk->inst.state);
    if (sk->reader) {
        rt->transport->ops->reader_free(sk->reader);
        p->readers[sk - p->sinks] = NULL;
        sk->reader = NULL;
    }
    instance_destroy(&sk->inst, ROLE_SINK);
    runtime_chain_destroy(&sk->side);
}

/* -- the supervisor ------------------------------------------------------------------------------
 * runtime_run's loop, every tick, under the worker's lock: it joins the tasks that ended, restarts
 * failed ones after their backoff (restart.policy), and carries out what operators asked through
 * worker.h (pause, resume, stop, restart). Only a transport whose sink tasks are consumers of
 * their own (Kafka: TRANSPORT_ENDLESS) restarts tasks; in-process a run is one batch. */

/* A failed task: RESTARTING after its backoff, or FAILED for good (restart.policy never). */
static void task_failed(pipeline_t *p, task_ctl_t *c, const char *who, int64_t now)
{
    if (now - c->started_at >= p->restart_max_ms)
        backoff_reset(&c->bo); /* it ran long enough: start again from the first wait */
    if (!p->restart_on_failure) {
        c->state = WORKER_FAILED;
        return;
    }
    /* "Equal jitter": between half the ceiling and the ceiling, never under the first wait, so
     * that a task failing at once backs off for real while many do not wake in lockstep. */
    int64_t ceiling = backoff_ceiling(&c->bo);
    int64_t d = ceiling / 2 + backoff_next(&c->bo) / 2;
    if (d < p->restart_initial_ms)
        d = p->restart_initial_ms;
    c->retry_at = clock_mono_ms() + d; /* from now: the release may have taken a while */
    c->state = WORKER_RESTARTING;
    log_warn(who, "failed; restarting in %lld ms (restart.policy on-failure; %ld restart%s so far)",
             (long long)d, c->restarts, c->restarts == 1 ? "" : "s");
}

/* "pipeline/sink" or "pipeline/sink#task", as the sink's context names itself. */
static const char *sk_who(const pipeline_t *p, const sink_rt_t *sk, char *out, size_t n)
{
    char name[300];
    sink_task_name(sk, name, sizeof name);
    snprintf(out, n, "%s/%s", p->id, name);
    return out;
}

/* What a task that is not running does now: 1 to start it. */
static int task_due(task_ctl_t *c, int target, int64_t now)
{
    if (c->restart_req) {
        c->restart_req = 0;
        if (target != WORKER_STOPPED && target != WORKER_UNASSIGNED)
            return 1;
    }
    if (target == WORKER_STOPPED || target == WORKER_UNASSIGNED) {
        c->state = target;
        return 0;
    }
    if (c->state == WORKER_UNASSIGNED) /* distributed: its slot came to this worker */
        return 1;
    if (c->state == WORKER_RESTARTING && now >= c->retry_at) {
        c->restarts++;
        return 1;
    }
    return 0;
}

static void supervise_source(runtime_t *rt, pipeline_t *p, int restarts, int64_t now)
{
    task_ctl_t *c = &p->ctl;
    if (p->broken) {
        c->restart_req = 0;
        return;
    }
    int target = p->src_target, stopping = atomic_load(&rt->stopping) != 0;
    if (!cluster_holds(rt->cluster, p, 0))
        target = WORKER_UNASSIGNED; /* another worker runs it (distributed mode) */
    if (c->live && !atomic_load(&p->source_done)) {
        if (atomic_exchange(&p->paused, target == WORKER_PAUSED) != (target == WORKER_PAUSED))
            pipeline_source_wake(p);
        /* PAUSED once the thread says so: nothing it polls goes out after that. */
        c->state =
            target == WORKER_PAUSED && atomic_load(&p->paused_ack) ? WORKER_PAUSED : WORKER_RUNNING;
        if ((target == WORKER_STOPPED || target == WORKER_UNASSIGNED || c->restart_req) &&
            !c->stop_sent) {
            /* Stop: the source drains what is in flight and commits, then its thread ends. */
            atomic_store(&p->stop, 1);
            pipeline_source_wake(p);
            if (p->source.plugin->source.stop)
                p->source.plugin->source.stop(p->source.state);
            c->stop_sent = 1;
        }
        return;
    }
    if (c->live) {
        pthread_join(p->thread, NULL);
        p->thread_started = 0;
        c->live = 0;
        if (restarts)
            source_task_release(p);
        if (atomic_load(&p->failed) && !c->stop_sent)
            task_failed(p, c, p->id, now);
        else
            c->state = WORKER_STOPPED; /* stopped, or reached the end of its input */
    }
    if (!restarts || stopping || !task_due(c, target, now))
        return;
    char err[1024] = "";
    log_clear_last_error();
    if (source_task_init(p) != 0 || source_task_start(rt, p, err, sizeof err) != 0) {
        snprintf(c->trace, sizeof c->trace, "%s", log_last_error()[0] ? log_last_error() : err);
        source_task_release(p);
        c->started_at = now;
        task_failed(p, c, p->id, now);
        return;
    }
    atomic_store(&p->paused, target == WORKER_PAUSED);
    log_info(p->id, "source started");
    source_task_thread(p, now);
}

static void supervise_sink(runtime_t *rt, pipeline_t *p, sink_rt_t *sk, int restarts, int64_t now)
{
    task_ctl_t *c = &sk->ctl;
    char who[600];
    if (p->broken) {
        c->restart_req = 0;
        return;
    }
    int target = p->sink_target[sk->cfg_index], stopping = atomic_load(&rt->stopping) != 0;
    if (!cluster_holds(rt->cluster, p, cluster_task_number(p, sk)))
        target = WORKER_UNASSIGNED; /* another worker runs it (distributed mode) */
    if (c->live && !atomic_load(&sk->done)) {
        if (atomic_exchange(&sk->paused, target == WORKER_PAUSED) != (target == WORKER_PAUSED))
            pipeline_sink_wake(sk);
        c->state = target == WORKER_PAUSED && atomic_load(&sk->paused_ack) ? WORKER_PAUSED
                                                                           : WORKER_RUNNING;
        if ((target == WORKER_STOPPED || target == WORKER_UNASSIGNED || c->restart_req) &&
            !c->stop_sent) {
            atomic_store(&sk->stop, 1); /* it flushes, commits and ends */
            pipeline_sink_wake(sk);
            c->stop_sent = 1;
        }
        return;
    }
    if (c->live) {
        pthread_join(sk->thread, NULL);
        sk->thread_started = 0;
        c->live = 0;
        if (restarts)
            sink_task_release(rt, p, sk);
        if (atomic_load(&sk->failed) && !c->stop_sent)
            task_failed(p, c, sk_who(p, sk, who, sizeof who), now);
        else
            c->state = WORKER_STOPPED;
    }
    if (!restarts || stopping || !task_due(c, target, now))
        return;
    char err[1024] = "";
    log_clear_last_error();
    if ((!sk->reader && sink_task_reader(rt, p, sk) != 0) || sink_task_init(rt, p, sk) != 0 ||
        sink_task_start(sk, err, sizeof err) != 0) {
        snprintf(c->trace, sizeof c->trace, "%s", log_last_error()[0] ? log_last_error() : err);
        sink_task_release(rt, p, sk);
        c->started_at = now;
        task_failed(p, c, sk_who(p, sk, who, sizeof who), now);
        return;
    }
    atomic_store(&sk->paused, target == WORKER_PAUSED);
    log_info(sk->inst.ctx.name, "sink task started");
    sink_task_thread(sk, now);
}

static int runtime_finished(runtime_t *rt);
static void pipeline_release(pipeline_t *p);
static void pipeline_free(pipeline_t *p);

void config_gen_unref(config_gen_t *g)
{
    if (g && --g->refs <= 0) {
        config_run_free(&g->cfg);
        free(g);
    }
}

pipeline_t *runtime_pipeline_new(runtime_t *rt, config_gen_t *gen, const config_pipeline_t *cp,
                                 config_errors_t *errs)
{
    pipeline_t *p = pipeline_alloc(cp);
    if (!p) {
        config_errors_add(errs, NULL, "out of memory");
        return NULL;
    }
    p->gen = gen;
    if (gen)
        gen->refs++;
    size_t before = errs->len;
    if (resolve_pipeline(rt, cp, p, errs) != 0 || errs->len > before) {
        runtime_pipeline_discard(p);
        return NULL;
    }
    return p;
}

void runtime_pipeline_discard(pipeline_t *p)
{
    if (!p)
        return;
    pipeline_release(p);
    config_gen_unref(p->gen);
    pipeline_free(p);
}

int runtime_change(runtime_t *rt, pipeline_t *old, pipeline_t *add)
{
    runtime_change_t *c = calloc(1, sizeof *c), **at = &rt->changes;
    if (!c)
        return -1;
    c->old = old;
    c->add = add;
    while (*at)
        at = &(*at)->next;
    *at = c;
    return 0;
}

static int pipeline_idle(const pipeline_t *p)
{
    if (p->ctl.live)
        return 0;
    for (size_t s = 0; s < p->nsinks; s++)
        if (p->sinks[s].ctl.live)
            return 0;
    return 1;
}

/* A pipeline that left the list (its tasks ended): its transport objects and instances go. */
static void pipeline_teardown(runtime_t *rt, pipeline_t *p)
{
    for (size_t s = 0; s < p->nsinks; s++)
        sink_task_release(rt, p, &p->sinks[s]);
    if (p->has_source)
        source_task_release(p);
    if (p->writer)
        rt->transport->ops->writer_free(p->writer);
    p->writer = NULL;
    log_info(p->id, "removed");
    runtime_pipeline_discard(p);
}

/* A pipeline added while the worker runs: set up and started like those of the start, outside the
 * lock (no one sees it yet). A set-up that fails leaves it FAILED and `broken`. */
static void pipeline_bring_up(runtime_t *rt, pipeline_t *p)
{
    int64_t now = clock_mono_ms();
    char err[1024] = "";
    log_clear_last_error();
    int ok = pipeline_topics(rt, p) == 0 && pipeline_transport(rt, p) == 0;
    if (ok) {
        pipeline_set_next(rt, p);
        ok = pipeline_init(rt, p) == 0;
    }
    /* A connector created STOPPED (KIP-980's initial_state) starts nothing until resumed; in
     * distributed mode a task whose slot another worker holds waits for it (cluster.h). */
    for (size_t s = 0; ok && s < p->nsinks; s++)
        if (p->sink_target[p->sinks[s].cfg_index] != WORKER_STOPPED &&
            cluster_holds(rt->cluster, p, cluster_task_number(p, &p->sinks[s])))
            ok = sink_task_start(&p->sinks[s], err, sizeof err) == 0;
    if (ok && p->has_source && p->src_target != WORKER_STOPPED && cluster_holds(rt->cluster, p, 0))
        ok = source_task_start(rt, p, err, sizeof err) == 0;
    if (!ok) {
        const char *why = log_last_error()[0] ? log_last_error() : err[0] ? err : "set-up failed";
        p->broken = 1;
        snprintf(p->ctl.trace, sizeof p->ctl.trace, "%s", why);
        p->ctl.state = WORKER_FAILED;
        for (size_t s = 0; s < p->nsinks; s++) {
            snprintf(p->sinks[s].ctl.trace, sizeof p->sinks[s].ctl.trace, "%s", why);
            p->sinks[s].ctl.state = WORKER_FAILED;
        }
        log_error(p->id, "cannot start: %s", why);
        return;
    }
    for (size_t s = 0; s < p->nsinks; s++) {
        sink_rt_t *sk = &p->sinks[s];
        if (p->sink_target[sk->cfg_index] == WORKER_STOPPED ||
            !cluster_holds(rt->cluster, p, cluster_task_number(p, sk))) {
            sink_task_release(rt, p, sk);
            sk->ctl.state = p->sink_target[sk->cfg_index] == WORKER_STOPPED ? WORKER_STOPPED
                                                                            : WORKER_UNASSIGNED;
            continue;
        }
        atomic_store(&sk->paused, p->sink_target[sk->cfg_index] == WORKER_PAUSED);
        sink_task_thread(sk, now);
    }
    if (p->has_source && (p->src_target == WORKER_STOPPED || !cluster_holds(rt->cluster, p, 0))) {
        source_task_release(p);
        p->ctl.state = p->src_target == WORKER_STOPPED ? WORKER_STOPPED : WORKER_UNASSIGNED;
    } else if (p->has_source) {
        atomic_store(&p->paused, p->src_target == WORKER_PAUSED);
        pipeline_source_wake(p);
        source_task_thread(p, now);
    }
    log_info(p->id, "started");
}

/* The changes whose old pipeline has stopped leave the queue (and their old pipeline the list,
 * its index kept in `stopping` for the new one). Under the lock. */
static runtime_change_t *runtime_changes_ready(runtime_t *rt)
{
    runtime_change_t *ready = NULL, **tail = &ready;
    for (runtime_change_t **c = &rt->changes; *c;) {
        runtime_change_t *ch = *c;
        int at = -1;
        if (ch->old) {
            pipeline_t *o = ch->old;
            if (!ch->stopping) {
                o->src_target = WORKER_STOPPED;
                for (size_t i = 0; i < o->cfg->nsinks; i++)
                    o->sink_target[i] = WORKER_STOPPED;
                ch->stopping = 1;
            }
            if (!pipeline_idle(o)) {
                c = &ch->next;
                continue;
            }
            for (size_t i = 0; i < rt->npipelines; i++)
                if (rt->pipelines[i] == o) {
                    memmove(&rt->pipelines[i], &rt->pipelines[i + 1],
                            (rt->npipelines - i - 1) * sizeof *rt->pipelines);
                    rt->npipelines--;
                    at = (int)i;
                    break;
                }
        }
        ch->stopping = at;
        *c = ch->next;
        ch->next = NULL;
        *tail = ch;
        tail = &ch->next;
    }
    return ready;
}

static void pipeline_request_stop(pipeline_t *p, int hard);

static void runtime_changes_apply(runtime_t *rt, runtime_change_t *ready)
{
    while (ready) {
        runtime_change_t *ch = ready;
        ready = ch->next;
        if (ch->old)
            pipeline_teardown(rt, ch->old);
        if (ch->add && !atomic_load(&rt->stopping)) {
            pipeline_bring_up(rt, ch->add);
            pthread_mutex_lock(&rt->lock);
            pipeline_t **n = realloc(rt->pipelines, (rt->npipelines + 2) * sizeof *n);
            if (n) {
                rt->pipelines = n;
                size_t at = ch->stopping >= 0 && (size_t)ch->stopping <= rt->npipelines
                                ? (size_t)ch->stopping
                                : rt->npipelines;
                memmove(&n[at + 1], &n[at], (rt->npipelines - at) * sizeof *n);
                n[at] = ch->add;
                rt->npipelines++;
                /* A signal between the check above and here stopped the listed pipelines (under
                 * this lock) but not this one, which was starting: stop it as they were. */
                int stopping = atomic_load(&rt->stopping);
                if (stopping)
                    pipeline_request_stop(ch->add, stopping > 1);
                ch->add = NULL;
            }
            pthread_mutex_unlock(&rt->lock);
        }
        if (ch->add) { /* out of memory, or the run is ending: it never ran */
            for (size_t s = 0; s < ch->add->nsinks; s++)
                if (ch->add->sinks[s].thread_started) {
                    atomic_store(&ch->add->sinks[s].stop, 1);
                    atomic_store(&ch->add->abort, 1);
                    pthread_join(ch->add->sinks[s].thread, NULL);
                }
            if (ch->add->thread_started) {
                atomic_store(&ch->add->stop, 1);
                pthread_join(ch->add->thread, NULL);
            }
            pipeline_teardown(rt, ch->add);
        }
        free(ch);
    }
}

/* One tick of the supervisor; returns 1 when the run is over (runtime_finished). */
static void runtime_request_stop(runtime_t *rt, int hard);

static int64_t supervise_wait_ms(runtime_t *rt, int64_t now);

/* One pass; *wait_ms: how long the next may wait unless woken (supervise_wait_ms). */
static int runtime_supervise(runtime_t *rt, int64_t *wait_ms)
{
    if (atomic_load(&rt->reexec) == 1) {
        atomic_store(&rt->reexec, 2); /* asked once */
        atomic_store(&rt->stopping, 1);
        runtime_request_stop(rt, 0);
    }
    int restarts = (rt->transport->ops->caps & TRANSPORT_ENDLESS) != 0;
    int64_t now = clock_mono_ms();
    int stopping = atomic_load(&rt->stopping);
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        /* The signal thread asked every listed pipeline to stop; a task that started after it
         * (its start resets the stop flag) is asked here, once per signal. */
        if (stopping > p->stop_asked) {
            pipeline_request_stop(p, stopping > 1);
            p->stop_asked = stopping;
        }
        if (p->has_source)
            supervise_source(rt, p, restarts, now);
        for (size_t s = 0; s < p->nsinks; s++)
            supervise_sink(rt, p, &p->sinks[s], restarts, now);
    }
    runtime_change_t *ready = runtime_changes_ready(rt);
    int finished = !ready && !rt->changes && runtime_finished(rt);
    /* Changes just applied are looked at again soon (their tasks start on the next pass). */
    *wait_ms = ready ? 0 : supervise_wait_ms(rt, now);
    pthread_mutex_unlock(&rt->lock);
    runtime_changes_apply(rt, ready);
    return finished;
}

void runtime_wake(runtime_t *rt)
{
    pthread_mutex_lock(&rt->ended.mu);
    rt->ended.kicked = 1;
    pthread_cond_broadcast(&rt->ended.cv);
    pthread_mutex_unlock(&rt->ended.mu);
}

/* Under rt->lock, after a pass: how long the supervisor may sleep unless woken (runtime_wake,
 * pipeline_ended). -1: until woken, when every task is where its target wants it and nothing waits
 * for a time; a restart's backoff gives its deadline; anything in flux (a change, a stop or pause
 * the task has not acknowledged yet, a run stopping) is looked at again within 100 ms. */
static int64_t supervise_wait_ms(runtime_t *rt, int64_t now)
{
    enum { FLUX_MS = 100 };
    if (rt->changes || atomic_load(&rt->stopping) || atomic_load(&rt->reexec) == 1)
        return FLUX_MS;
    int64_t wait = -1;
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        for (size_t s = 0; s <= p->nsinks; s++) {
            const task_ctl_t *c;
            int target, acked;
            if (s == p->nsinks) {
                if (!p->has_source)
                    continue;
                c = &p->ctl;
                target = p->src_target;
                acked = atomic_load(&p->paused_ack);
            } else {
                c = &p->sinks[s].ctl;
                target = p->sink_target[p->sinks[s].cfg_index];
                acked = atomic_load(&p->sinks[s].paused_ack);
            }
            if (p->broken)
                continue;
            if (c->restart_req ||
                (c->live && (target == WORKER_STOPPED || (target == WORKER_PAUSED && !acked))))
                return FLUX_MS;
            if (!c->live && c->state == WORKER_RESTARTING) {
                int64_t left = c->retry_at > now ? c->retry_at - now : 0;
                if (wait < 0 || left < wait)
                    wait = left;
            }
        }
    }
    return wait;
}

/* Ask one pipeline to stop, under rt->lock. `hard`: do not drain. */
static void pipeline_request_stop(pipeline_t *p, int hard)
{
    atomic_store(&p->stop, 1);
    atomic_store(&p->shutdown, 1);
    if (hard)
        atomic_store(&p->abort, 1);
    pipeline_source_wake(p);
    for (size_t s = 0; s < p->nsinks; s++)
        if (p->sinks[s].thread_started)
            pipeline_sink_wake(&p->sinks[s]);
    if (p->has_source && p->thread_started && p->source.plugin->source.stop)
        p->source.plugin->source.stop(p->source.state);
}

/* Ask every pipeline to stop (signal handler thread). `hard`: do not drain. */
static void runtime_request_stop(runtime_t *rt, int hard)
{
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->npipelines; i++)
        pipeline_request_stop(rt->pipelines[i], hard);
    pthread_mutex_unlock(&rt->lock);
}

/* The run ends when no task runs or will: none alive, none waiting for a restart, none held by an
 * operator (paused or stopped: it may be resumed). */
static int runtime_finished(runtime_t *rt)
{
    int stopping = atomic_load(&rt->stopping) != 0;
    int restarts = (rt->transport->ops->caps & TRANSPORT_ENDLESS) != 0;
    if (!stopping && restarts && atomic_load(&rt->hold))
        return 0;
    /* Stopping: only what still runs holds the run (no restart comes any more). */
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        if (p->has_source) {
            const task_ctl_t *c = &p->ctl;
            if (c->live || (!stopping && (c->state == WORKER_RESTARTING || c->restart_req)))
                return 0;
            if (!stopping && restarts && p->src_target != WORKER_RUNNING)
                return 0;
        }
        for (size_t s = 0; s < p->nsinks; s++) {
            const task_ctl_t *c = &p->sinks[s].ctl;
            if (c->live || (!stopping && (c->state == WORKER_RESTARTING || c->restart_req)))
                return 0;
            if (!stopping && restarts && p->sink_target[p->sinks[s].cfg_index] != WORKER_RUNNING)
                return 0;
        }
    }
    return 1;
}

static void runtime_progress(runtime_t *rt, double seconds)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        char line[1024];
        long in = atomic_load(&p->in);
        int n = snprintf(line, sizeof line, "in %ld (%.0f/s) | out", in,
                         seconds > 0 ? (double)(in - p->progress_in) / seconds : 0.0);
        p->progress_in = in;
        long errors = atomic_load(&p->errors), dlq = atomic_load(&p->dlq);
        for (size_t s = 0; s < p->nsinks && n < (int)sizeof line; s++) {
            if (p->sinks[s].task > 0)
                n += snprintf(line + n, sizeof line - (size_t)n, " %s#%d=%ld", p->sinks[s].id,
                              p->sinks[s].task, atomic_load(&p->sinks[s].out));
            else
                n += snprintf(line + n, sizeof line - (size_t)n, " %s=%ld", p->sinks[s].id,
                              atomic_load(&p->sinks[s].out));
            errors += atomic_load(&p->sinks[s].errors);
            dlq += atomic_load(&p->sinks[s].dlq);
        }
        if (!p->nsinks && n < (int)sizeof line)
            n += snprintf(line + n, sizeof line - (size_t)n, " (no sink)");
        if (n < (int)sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, " | errors %ld | dlq %ld", errors, dlq);
        rt->transport->ops->progress(p->topic, p->writer, p->readers, p->nsinks, line, sizeof line);
        log_info(p->id, "%s", line);
    }
}

/* The signal thread: SIGINT/SIGTERM once drains and stops, twice aborts. It runs from before the
 * set-up (which may wait for Kafka) to the end. */
static void *runtime_signals(void *arg)
{
    runtime_t *rt = arg;
    int signals = 0;
    while (!atomic_load(&rt->exiting)) {
        /* No timeout: the run's end wakes it with SIGUSR1 after setting `exiting`. */
        int sig = sigwaitinfo(&rt->sigs, NULL);
        if (sig == SIGHUP) {
            buf_t errs;
            buf_init(&errs);
            log_info(NULL, "SIGHUP: reloading the configuration");
            if (worker_reload(rt, &errs) >= 400)
                log_error(NULL, "reload refused, nothing changed:\n%s", errs.data ? errs.data : "");
            buf_free(&errs);
            continue;
        }
        if (sig != SIGINT && sig != SIGTERM)
            continue;
        signals++;
        atomic_store(&rt->stopping, signals);
        runtime_wake(rt);
        if (signals == 1) {
            log_info(NULL, "%s: stopping sources, draining and flushing sinks (again to abort)",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
            runtime_request_stop(rt, 0);
        } else {
            log_warn(NULL, "second signal: aborting without draining");
            runtime_request_stop(rt, 1);
        }
    }
    return NULL;
}

/* The exit code of a run that went through: 1 when a task ended failed (or the run aborted). */
static int runtime_result(runtime_t *rt)
{
    int rc = 0;
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        int failed = atomic_load(&p->abort) != 0;
        failed |=
            p->has_source && (p->ctl.state == WORKER_FAILED || p->ctl.state == WORKER_RESTARTING);
        for (size_t s = 0; s < p->nsinks; s++)
            failed |= p->sinks[s].ctl.state == WORKER_FAILED ||
                      p->sinks[s].ctl.state == WORKER_RESTARTING;
        if (failed && !atomic_load(&p->abort))
            log_error(p->id, "pipeline failed");
        rc |= failed;
    }
    return rc;
}

/* Distributed mode: every task waits, released, until the group assigns its slot (cluster.h);
 * the worker runs on with none. */
static void runtime_unassign(runtime_t *rt)
{
    pthread_mutex_lock(&rt->lock); /* the REST handlers read the states already */
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_task_release(rt, p, &p->sinks[s]);
            p->sinks[s].ctl.state = WORKER_UNASSIGNED;
        }
        if (p->has_source) {
            source_task_release(p);
            p->ctl.state = WORKER_UNASSIGNED;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    atomic_store(&rt->hold, 1);
}

int runtime_run(runtime_t *rt)
{
    int rc = 0;
    sigset_t old;
    sigemptyset(&rt->sigs);
    sigaddset(&rt->sigs, SIGINT);
    sigaddset(&rt->sigs, SIGTERM);
    sigaddset(&rt->sigs, SIGHUP);  /* reload (worker_reload) */
    sigaddset(&rt->sigs, SIGUSR1); /* wakes the signal thread when the run ends */
    /* Every thread inherits the mask: only the signal thread takes them, with sigtimedwait. */
    pthread_sigmask(SIG_BLOCK, &rt->sigs, &old);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&rt->sig_thread, NULL, runtime_signals, rt) == 0) {
        pthread_setname_np(rt->sig_thread, "signals");
        rt->sig_thread_started = 1;
    }

    /* Before the set-up, so that /health answers while Kafka is awaited. */
    if (http_settings_enabled(rt->http_settings)) {
        char where[300], err[700];
        /* Before the listener: its threads read rt->history (GET /stats). NULL (no memory):
         * GET /stats answers 503. */
        rt->history = history_start(rt);
        rt->http =
            http_start(rt->http_settings, rest_handle, rt, where, sizeof where, err, sizeof err);
        if (!rt->http) {
            log_error(NULL, "%s", err);
            rc = 2;
            goto teardown;
        }
        log_info(NULL, "REST API listening on %s", where);
    }
    /* A worker whose tasks restart (Kafka) takes a plugin that cannot start (a directory missing,
     * a server away) as that task's failure, as later ones; in-process it ends the run. */
    int restarts = (rt->transport->ops->caps & TRANSPORT_ENDLESS) != 0;
    if (runtime_setup(rt) != 0 || (!restarts && runtime_start_plugins(rt) != 0)) {
        /* Stopped by a signal while waiting (for Kafka): a clean end, not a configuration error. */
        rc = atomic_load(&rt->stopping) ? 0 : 2;
        goto teardown;
    }
    if (cluster_wanted(rt->cfg.global)) {
        char err[1024];
        runtime_unassign(rt); /* nothing runs before the group assigns its slot */
        int crc = cluster_start(&rt->cluster, rt, err, sizeof err);
        if (crc != 0) {
            if (crc == -1)
                log_error(NULL, "%s", err);
            rc = atomic_load(&rt->stopping) ? 0 : 2;
            goto teardown;
        }
    }
    int64_t start = clock_mono_ms();
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; !rt->cluster && i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_rt_t *sk = &p->sinks[s];
            char err[1024] = "", who[600];
            log_clear_last_error();
            if (restarts && sink_task_start(sk, err, sizeof err) != 0) {
                snprintf(sk->ctl.trace, sizeof sk->ctl.trace, "%s",
                         log_last_error()[0] ? log_last_error() : err);
                sink_task_release(rt, p, sk);
                sk->ctl.started_at = start;
                task_failed(p, &sk->ctl, sk_who(p, sk, who, sizeof who), start);
                continue;
            }
            sink_task_thread(sk, start);
        }
    }
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        char err[1024] = "";
        if (!p->has_source || rt->cluster)
            continue;
        log_clear_last_error();
        if (restarts && source_task_start(rt, p, err, sizeof err) != 0) {
            snprintf(p->ctl.trace, sizeof p->ctl.trace, "%s",
                     log_last_error()[0] ? log_last_error() : err);
            source_task_release(p);
            p->ctl.started_at = start;
            task_failed(p, &p->ctl, p->id, start);
            continue;
        }
        source_task_thread(p, start);
    }
    /* A worker with nothing to run waits for connectors to be created (the REST API). */
    if (rt->npipelines == 0 && (rt->transport->ops->caps & TRANSPORT_ENDLESS))
        atomic_store(&rt->hold, 1);
    atomic_store(&rt->started, 1);
    pthread_mutex_unlock(&rt->lock);
    char where[600];
    rt->transport->ops->describe(rt->transport, where, sizeof where);
    log_info(NULL, "running %zu pipeline%s %s; offsets in %s", rt->npipelines,
             rt->npipelines == 1 ? "" : "s", where, rt->offsets_path);

    int64_t last_report = clock_mono_ms(), wait_ms;
    while (!runtime_supervise(rt, &wait_ms)) {
        /* Sleeps until woken (a pipeline thread ended, a signal, a REST request: kicked) or the
         * next thing due: a restart's backoff, the progress line. Nothing quiet ticks. */
        if (!rt->quiet) {
            int64_t left = last_report + rt->progress_interval_ms - clock_mono_ms();
            if (left < 0)
                left = 0;
            if (wait_ms < 0 || left < wait_ms)
                wait_ms = left;
        }
        pthread_mutex_lock(&rt->ended.mu);
        if (wait_ms < 0) {
            while (!rt->ended.kicked)
                pthread_cond_wait(&rt->ended.cv, &rt->ended.mu);
        } else if (wait_ms > 0 && !rt->ended.kicked) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until); /* the condvar's clock (runtime_init) */
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!rt->ended.kicked &&
                   pthread_cond_timedwait(&rt->ended.cv, &rt->ended.mu, &until) == 0)
                ;
        }
        rt->ended.kicked = 0;
        pthread_mutex_unlock(&rt->ended.mu);
        int64_t now = clock_mono_ms();
        if (!rt->quiet && now - last_report >= rt->progress_interval_ms) {
            runtime_progress(rt, (double)(now - last_report) / 1000.0);
            last_report = now;
        }
    }
    if (!rt->quiet)
        runtime_progress(rt, 0);
    rc = runtime_result(rt);
teardown:
    http_stop(rt->http); /* first: its handlers read the pipelines */
    rt->http = NULL;
    cluster_stop(rt->cluster); /* the tasks have stopped: it leaves the group */
    rt->cluster = NULL;
    history_stop(rt->history); /* after the handlers that read it */
    rt->history = NULL;
    atomic_store(&rt->started, 0);
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = rt->pipelines[i];
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_rt_t *sk = &p->sinks[s];
            if (sk->inst.inited && sk->inst.plugin->sink.stop)
                sk->inst.plugin->sink.stop(sk->inst.state);
            if (sk->reader)
                rt->transport->ops->reader_free(sk->reader);
            sk->reader = NULL;
        }
    }
    if (rt->offsets) {
        char err[512];
        if (offsets_flush(rt->offsets, err, sizeof err) != 0)
            log_error(NULL, "%s", err);
    }
    for (size_t i = 0; i < rt->npipelines; i++) {
        if (rt->pipelines[i]->writer)
            rt->transport->ops->writer_free(rt->pipelines[i]->writer);
        rt->pipelines[i]->writer = NULL;
    }
    if (rt->sig_thread_started) {
        atomic_store(&rt->exiting, 1);
        pthread_kill(rt->sig_thread, SIGUSR1);
        pthread_join(rt->sig_thread, NULL);
        rt->sig_thread_started = 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void side_free(side_t *side)
{
    for (size_t t = 0; t < side->ntransforms; t++)
        instance_destroy(&side->transforms[t], ROLE_TRANSFORM);
    for (size_t t = 0; side->transforms && t < side->ntransforms; t++) {
        config_free(side->transforms[t].cfg);
        predicate_free(side->transforms[t].pred);
    }
    free(side->transforms);
    side->transforms = NULL;
    side->ntransforms = 0;
    if (side->codec.key)
        converter_free(&side->key_conv);
    if (side->codec.value)
        converter_free(&side->value_conv);
}

/* A pipeline's plugin instances and settings (its threads joined). */
static void pipeline_release(pipeline_t *p)
{
    if (p->has_source) {
        instance_destroy(&p->source, ROLE_SOURCE);
        config_free(p->source.cfg);
    }
    side_free(&p->side);
    for (size_t s = 0; p->sinks && s < p->nsinks; s++) {
        instance_destroy(&p->sinks[s].inst, ROLE_SINK);
        config_free(p->sinks[s].inst.cfg);
        side_free(&p->sinks[s].side);
    }
    free(p->sinks);
    p->sinks = NULL;
    p->nsinks = 0;
    free(p->route_targets);
    free(p->readers);
    /* Watchers of its connectors end once they have read what they hold. */
    for (size_t i = 0; p->taps && i < p->ntaps; i++)
        tap_point_close(p->taps[i]);
    free(p->taps);
    p->taps = NULL;
    p->ntaps = 0;
    free(p->sink_target);
    free(p->sink_topics_mark);
    p->sink_topics_mark = NULL;
    p->route_targets = NULL;
    p->readers = NULL;
    p->sink_target = NULL;
}

/* Trackers left in flight: after the transport objects whose chunks or delivery reports may point
 * at them. Then the pipeline object itself. */
static void pipeline_free(pipeline_t *p)
{
    free(p->rest_item);
    p->rest_item = NULL;
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    while (p->orphans) {
        tracker_t *t = p->orphans;
        p->orphans = t->next;
        free(t->position);
        free(t);
    }
    free(p);
}

void runtime_free(runtime_t *rt)
{
    while (rt->changes) { /* asked, never carried out (the run ended first) */
        runtime_change_t *c = rt->changes;
        rt->changes = c->next;
        runtime_pipeline_discard(c->add);
        free(c);
    }
    for (size_t i = 0; rt->pipelines && i < rt->npipelines; i++)
        if (rt->pipelines[i])
            pipeline_release(rt->pipelines[i]);
    sr_client_free(rt->sr);
    if (rt->transport)
        rt->transport->ops->free(rt->transport);
    for (size_t i = 0; rt->pipelines && i < rt->npipelines; i++)
        if (rt->pipelines[i]) {
            config_gen_unref(rt->pipelines[i]->gen);
            pipeline_free(rt->pipelines[i]);
        }
    free(rt->pipelines);
    pthread_mutex_destroy(&rt->ended.mu);
    pthread_cond_destroy(&rt->ended.cv);
    pthread_mutex_destroy(&rt->lock);
    pthread_mutex_destroy(&rt->config_lock);
    for (size_t i = 0; rt->files && i < rt->nfiles; i++)
        free(rt->files[i]);
    free(rt->files);
    free(rt->state_path);
    free(rt->offsets_arg);
    offsets_close(rt->offsets);
    kafka_kv_writer_free(rt->offsets_writer);
    free(rt->offsets_path);
    registry_free(&rt->registry);
    config_run_free(&rt->cfg);
}
