/* runtime.c — see runtime.h. */
#include "runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "predicate.h"

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

static int resolve_sink_task(runtime_t *rt, const config_pipeline_t *cp,
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

static int resolve_pipeline(runtime_t *rt, const config_pipeline_t *cp, pipeline_t *p,
                            config_errors_t *errs)
{
    int rc = 0;
    p->cfg = cp;
    p->id = cp->id;
    /* With invalid pipeline keys (core NULL) the plugins are still checked, so that lint reports
     * every error at once; only the settings that need the core keys are skipped. */
    if (cp->core)
        side_settings(&p->side, NULL, cp->core);
    else
        rc = -1;
    p->side.name = cp->id;
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
            rc |= resolve_sink_task(rt, cp, ci, i, (int)task, &p->sinks[at], errs);
    }
    return rc ? -1 : 0;
}

static int resolve_sink_task(runtime_t *rt, const config_pipeline_t *cp,
                             const config_instance_t *ci, size_t index, int task, sink_rt_t *s,
                             config_errors_t *errs)
{
    int rc = 0;
    config_errors_t scratch;
    config_errors_init(&scratch);
    if (task > 0)
        errs = &scratch;
    s->p = &rt->pipelines[cp - rt->cfg.pipelines];
    s->id = ci->id;
    s->cfg_index = index;
    s->task = task;
    rc |= resolve_instance(rt, cp, ci, ROLE_SINK, &s->inst, errs);
    if (cp->core)
        side_settings(&s->side, ci->core, cp->core);
    s->side.name = ci->id;
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
        pipeline_t *p = &rt->pipelines[i];
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

int runtime_prepare(runtime_t *rt, const char *const *files, size_t nfiles,
                    const char *offsets_override, config_errors_t *errs)
{
    memset(rt, 0, sizeof *rt);
    pthread_mutex_init(&rt->ended.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->ended.cv, &ca);
    pthread_condattr_destroy(&ca);
    rt->progress_interval_ms = 5000;
    config_load(&rt->cfg, files, nfiles, errs);

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
    for (size_t i = 0; rt->transport && rt->pipelines && i < rt->npipelines; i++)
        resolve_pipeline(rt, &rt->cfg.pipelines[i], &rt->pipelines[i], errs);

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
        fputs(b.data ? b.data : "", out);
        buf_reset(&b);
    }
    if (!rt->cfg.global || !config_has(rt->cfg.global, "offset.storage.file.filename"))
        fprintf(out, "offset.storage.file.filename: %s\n", rt->offsets_path);
    fprintf(out, "pipelines:\n");
    for (size_t i = 0; i < rt->npipelines; i++) {
        const pipeline_t *p = &rt->pipelines[i];
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
    if (!g || strcmp(config_string(g, "offsets.storage"), "kafka") != 0) {
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

/* A writer for each pipeline (its topics made ready: Kafka creates the missing ones, waiting for
 * the cluster) and a reader for each sink task. */
static int runtime_transport_setup(runtime_t *rt)
{
    transport_t *tt = rt->transport;
    char err[1024];
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
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
                snprintf(whybuf[n], sizeof whybuf[n], "the dead-letter topic of pipeline '%s'",
                         p->id);
                n++;
            }
        }
        for (size_t s = 0; s < p->nsinks && n < 64; s++) {
            sink_rt_t *sk = &p->sinks[s];
            if (!sk->side.dlq || sk->task > 0)
                continue;
            topics[n] = sk->side.dlq;
            snprintf(whybuf[n], sizeof whybuf[n],
                     "the dead-letter topic of sink '%s' of pipeline '%s'", sk->id, p->id);
            n++;
        }
        for (size_t k = 0; k < n; k++)
            whys[k] = whybuf[k];
        size_t max = (size_t)config_size(p->cfg->core, "buffer.memory");
        struct transport_writer_spec ws = {
            .pipeline = p->id,
            .core = p->cfg->core,
            .buffer_bytes = max,
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
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_rt_t *sk = &p->sinks[s];
            struct transport_reader_spec rs = {
                .pipeline = p->id,
                .sink = sk->id,
                .task = sk->task,
                .sink_core = p->cfg->sinks[sk->cfg_index].core,
                .buffer_bytes = max,
                .on_revoke = pipeline_sink_revoke,
                .opaque = sk,
            };
            if (tt->ops->reader_new(tt, p->topic, &rs, &sk->reader, err, sizeof err) != 0) {
                char who[512];
                snprintf(who, sizeof who, "%s/%s#%d", p->id, sk->id, sk->task);
                log_error(who, "%s", err);
                return -1;
            }
            p->readers[s] = sk->reader;
        }
    }
    return 0;
}

static int runtime_setup(runtime_t *rt)
{
    if (runtime_open_offsets(rt) != 0)
        return -1;
    /* Topics, writers and readers exist before any thread runs. */
    transport_t *tt = rt->transport;
    const struct transport_ops *ops = tt->ops;
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
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
    }
    /* A topic that ends, which only routing transforms can feed (no source or dead-letter route
     * writes it), is written by every source with transforms: it ends when they have all ended. */
    for (size_t i = 0; !(ops->caps & TRANSPORT_ENDLESS) && i < rt->npipelines; i++) {
        transport_topic_t *t = rt->pipelines[i].topic;
        if (rt->pipelines[i].has_source || ops->writers(t) > 0)
            continue;
        for (size_t k = 0; k < rt->npipelines; k++) {
            pipeline_t *o = &rt->pipelines[k];
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
    if (runtime_transport_setup(rt) != 0)
        return -1;
    /* Resume the numbering of each source's topic where the last run left it. */
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        const offsets_entry_t *e = p->has_source ? offsets_get(rt->offsets, p->id) : NULL;
        if (e && e->next_offset > 0)
            ops->set_next(p->topic, e->next_offset);
    }
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
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        if (side_converters(rt, &p->side, NULL, p->cfg->core, p->topic->name, p->id) != 0)
            return -1;
        if (p->has_source && instance_init(p, &p->source, ROLE_SOURCE, "source", 0) != 0)
            return -1;
        for (size_t t = 0; t < p->side.ntransforms; t++)
            if (instance_init(p, &p->side.transforms[t], ROLE_TRANSFORM,
                              p->side.transforms[t].cfg_inst->id, 0) != 0)
                return -1;
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_rt_t *sk = &p->sinks[s];
            char name[300];
            if (sk->task > 0)
                snprintf(name, sizeof name, "%s#%d", sk->id, sk->task);
            else
                snprintf(name, sizeof name, "%s", sk->id);
            if (side_converters(rt, &sk->side, p->cfg->sinks[sk->cfg_index].core, p->cfg->core,
                                p->topic->name, name) != 0)
                return -1;
            if (instance_init(p, &sk->inst, ROLE_SINK, name, sk->task) != 0)
                return -1;
            sk->side.codec.load_headers = ops->load_headers;
            for (size_t t = 0; t < sk->side.ntransforms; t++)
                if (instance_init(p, &sk->side.transforms[t], ROLE_TRANSFORM,
                                  sk->side.transforms[t].cfg_inst->id, sk->task) != 0)
                    return -1;
        }
    }
    return 0;
}

static int runtime_start_plugins(runtime_t *rt)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        for (size_t s = 0; s < p->nsinks; s++) {
            sink_rt_t *sk = &p->sinks[s];
            char err[1024] = "";
            if (sk->inst.plugin->sink.start &&
                sk->inst.plugin->sink.start(sk->inst.state, err, sizeof err) != SLUICE_OK) {
                log_error(sk->inst.ctx.name, "cannot start: %s", err);
                return -1;
            }
        }
        if (p->has_source) {
            char err[1024] = "";
            const offsets_entry_t *e = offsets_get(rt->offsets, p->id);
            const void *pos = e && e->position_len ? e->position : NULL;
            size_t len = pos ? e->position_len : 0;
            if (pos)
                log_info(p->source.ctx.name, "resuming from the committed position");
            if (p->source.plugin->source.start(p->source.state, pos, len, err, sizeof err) !=
                SLUICE_OK) {
                log_error(p->source.ctx.name, "cannot start: %s", err);
                return -1;
            }
        }
    }
    return 0;
}

/* Ask every pipeline to stop (signal handler thread). `hard`: do not drain. */
static void runtime_request_stop(runtime_t *rt, int hard)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        atomic_store(&p->stop, 1);
        atomic_store(&p->shutdown, 1);
        if (hard)
            atomic_store(&p->abort, 1);
        if (p->has_source && p->thread_started && p->source.plugin->source.stop)
            p->source.plugin->source.stop(p->source.state);
    }
}

static int runtime_all_done(runtime_t *rt)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        if (p->has_source && !atomic_load(&p->source_done))
            return 0;
        for (size_t s = 0; s < p->nsinks; s++)
            if (!atomic_load(&p->sinks[s].done))
                return 0;
    }
    return 1;
}

static void runtime_progress(runtime_t *rt, long *last_in, double seconds)
{
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        char line[1024];
        long in = atomic_load(&p->in);
        int n = snprintf(line, sizeof line, "in %ld (%.0f/s) | out", in,
                         seconds > 0 ? (double)(in - last_in[i]) / seconds : 0.0);
        last_in[i] = in;
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
        struct timespec tick = {0, 100 * 1000000L};
        int sig = sigtimedwait(&rt->sigs, NULL, &tick);
        if (sig != SIGINT && sig != SIGTERM)
            continue;
        signals++;
        atomic_store(&rt->stopping, signals);
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

int runtime_run(runtime_t *rt)
{
    int rc = 0;
    sigset_t old;
    sigemptyset(&rt->sigs);
    sigaddset(&rt->sigs, SIGINT);
    sigaddset(&rt->sigs, SIGTERM);
    sigaddset(&rt->sigs, SIGUSR1); /* wakes the signal thread when the run ends */
    /* Every thread inherits the mask: only the signal thread takes them, with sigtimedwait. */
    pthread_sigmask(SIG_BLOCK, &rt->sigs, &old);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&rt->sig_thread, NULL, runtime_signals, rt) == 0)
        rt->sig_thread_started = 1;

    if (runtime_setup(rt) != 0 || runtime_start_plugins(rt) != 0) {
        /* Stopped by a signal while waiting (for Kafka): a clean end, not a configuration error. */
        rc = atomic_load(&rt->stopping) ? 0 : 2;
        goto teardown;
    }
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        for (size_t s = 0; s < p->nsinks; s++)
            if (pthread_create(&p->sinks[s].thread, NULL, pipeline_sink_main, &p->sinks[s]) == 0)
                p->sinks[s].thread_started = 1;
            else
                atomic_store(&p->sinks[s].done, 1);
    }
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        if (p->has_source && pthread_create(&p->thread, NULL, pipeline_source_main, p) == 0)
            p->thread_started = 1;
        else if (p->has_source)
            atomic_store(&p->source_done, 1);
    }
    char where[600];
    rt->transport->ops->describe(rt->transport, where, sizeof where);
    log_info(NULL, "running %zu pipeline%s %s; offsets in %s", rt->npipelines,
             rt->npipelines == 1 ? "" : "s", where, rt->offsets_path);

    long *last_in = calloc(rt->npipelines + 1, sizeof *last_in);
    struct timespec last_report, now;
    clock_gettime(CLOCK_MONOTONIC, &last_report);
    while (!runtime_all_done(rt)) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&rt->ended.mu);
        if (!runtime_all_done(rt))
            pthread_cond_timedwait(&rt->ended.cv, &rt->ended.mu, &until);
        pthread_mutex_unlock(&rt->ended.mu);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double since = (double)(now.tv_sec - last_report.tv_sec) +
                       (double)(now.tv_nsec - last_report.tv_nsec) / 1e9;
        if (!rt->quiet && since * 1000 >= rt->progress_interval_ms) {
            runtime_progress(rt, last_in, since);
            last_report = now;
        }
    }
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        if (p->thread_started)
            pthread_join(p->thread, NULL);
        for (size_t s = 0; s < p->nsinks; s++)
            if (p->sinks[s].thread_started)
                pthread_join(p->sinks[s].thread, NULL);
        if (atomic_load(&p->failed) || atomic_load(&p->abort))
            rc = 1;
    }
    if (!rt->quiet)
        runtime_progress(rt, last_in, 0);
    free(last_in);
    for (size_t i = 0; i < rt->npipelines; i++)
        if (atomic_load(&rt->pipelines[i].failed))
            log_error(rt->pipelines[i].id, "pipeline failed");
teardown:
    for (size_t i = 0; i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
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
        if (rt->pipelines[i].writer)
            rt->transport->ops->writer_free(rt->pipelines[i].writer);
        rt->pipelines[i].writer = NULL;
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

void runtime_free(runtime_t *rt)
{
    for (size_t i = 0; rt->pipelines && i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
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
    }
    for (size_t i = 0; rt->pipelines && i < rt->npipelines; i++) {
        pipeline_t *p = &rt->pipelines[i];
        free(p->route_targets);
        free(p->readers);
    }
    sr_client_free(rt->sr);
    if (rt->transport)
        rt->transport->ops->free(rt->transport);
    /* Trackers left in flight: after the topics whose chunks may point at them. */
    for (size_t i = 0; rt->pipelines && i < rt->npipelines; i++)
        while (rt->pipelines[i].orphans) {
            tracker_t *t = rt->pipelines[i].orphans;
            rt->pipelines[i].orphans = t->next;
            free(t->position);
            free(t);
        }
    free(rt->pipelines);
    pthread_mutex_destroy(&rt->ended.mu);
    pthread_cond_destroy(&rt->ended.cv);
    offsets_close(rt->offsets);
    kafka_kv_writer_free(rt->offsets_writer);
    free(rt->offsets_path);
    registry_free(&rt->registry);
    config_run_free(&rt->cfg);
}
