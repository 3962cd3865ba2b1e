/* config.c — see config.h: the pipeline model. Pipeline files (read by config_yaml.c) are checked
 * against the core's tables (validated by config_value.c) and cut into config_pipeline_t; errors of
 * every file are collected. Plugin `config:` mappings stay as trees until the runtime knows the
 * plugin's table and calls config_validate. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_internal.h"

/* ---------------------------------------------------------------------------------------------- */
/* Errors */

void config_errors_init(config_errors_t *e)
{
    e->msgs = NULL;
    e->len = e->cap = 0;
}

void config_errors_free(config_errors_t *e)
{
    for (size_t i = 0; i < e->len; i++)
        free(e->msgs[i]);
    free(e->msgs);
    config_errors_init(e);
}

void config_errors_add(config_errors_t *e, const config_mark_t *mark, const char *fmt, ...)
{
    buf_t b;
    buf_init(&b);
    if (mark && mark->file)
        buf_printf(&b, "%s:%d:%d: ", mark->file, mark->line, mark->col);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *msg = strdup(b.data);
    buf_free(&b);
    if (!msg)
        return;
    if (e->len == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        char **m = realloc(e->msgs, cap * sizeof *m);
        if (!m) {
            free(msg);
            return;
        }
        e->msgs = m;
        e->cap = cap;
    }
    e->msgs[e->len++] = msg;
}

void config_errors_print(const config_errors_t *e, FILE *out)
{
    for (size_t i = 0; i < e->len; i++)
        fprintf(out, "%s\n", e->msgs[i]);
}

/* ---------------------------------------------------------------------------------------------- */
/* Paths */

/* `path` resolved against `base_dir` (absolute paths and "" unchanged); malloc'd. */
char *config_resolve_path(const char *path, const char *base_dir)
{
    if (path[0] == '/' || !*path || !base_dir || !*base_dir)
        return strdup(path);
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    buf_t b;
    buf_init(&b);
    if (*path)
        buf_printf(&b, "%s%s%s", base_dir, base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", path);
    else
        buf_puts(&b, base_dir);
    char *r = strdup(b.data);
    buf_free(&b);
    return r;
}

/* The absolute directory of `path` (not following symlinks: relative paths in a file are meant
 * relative to where the user sees the file). "/./" and "//" are collapsed for readable paths. */
/* A pipeline file is a few kilobytes; anything this large is the wrong file or an attack, and is
 * refused before it is read whole. */
#define CONFIG_MAX_FILE_SIZE (4u << 20)

/* Reads at most CONFIG_MAX_FILE_SIZE bytes of `path` into b: 0, -1 (errno), or -2 when larger. */
static int config_read_file(buf_t *b, const char *path)
{
    int rc = -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + n > CONFIG_MAX_FILE_SIZE) {
            rc = -2;
            goto out;
        }
        if (buf_append(b, chunk, n) != 0) {
            errno = ENOMEM;
            goto out;
        }
    }
    if (ferror(f)) {
        errno = EIO;
        goto out;
    }
    rc = 0;
out:;
    int saved = errno;
    fclose(f);
    errno = saved;
    return rc;
}

static char *config_base_dir(const char *path)
{
    buf_t b;
    buf_init(&b);
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd))
            buf_printf(&b, "%s/", cwd);
    }
    buf_puts(&b, path);
    char *s = b.data;
    char *slash = strrchr(s, '/');
    if (slash)
        *(slash == s ? slash + 1 : slash) = '\0';
    /* Collapse "//" and "/./" in place (w never passes r, so this is safe). */
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '/' && r[1] == '/')
            r++;
        else if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || r[2] == '\0'))
            r += 2;
        else
            *w++ = *r++;
    }
    *w = '\0';
    if (!*s)
        strcpy(s, "/"); /* s held at least two bytes ("/." or "//") before collapsing */
    char *res = strdup(s);
    buf_free(&b);
    return res;
}

/* ---------------------------------------------------------------------------------------------- */
/* Pipeline files */

/* Sets a STRING key that is unset (the pipeline's topic defaults to its id). */
static int config_set_default(sluice_config_t *cfg, const char *key, const char *value)
{
    for (size_t k = 0; k < cfg->n; k++)
        if (strcmp(cfg->table[k].name, key) == 0 && !cfg->v[k].set) {
            cfg->v[k].text = strdup(value);
            cfg->v[k].set = cfg->v[k].text != NULL;
            return cfg->v[k].set ? 0 : -1;
        }
    return -1;
}

static const char *const config_top_structural[] = {"version", "pipelines", NULL};
static const char *const config_pipeline_structural[] = {"id", "source", "sinks", "predicates",
                                                         NULL};
static const char *const config_source_structural[] = {"plugin", "config", "transforms", NULL};
static const char *const config_sink_structural[] = {"id", "plugin", "config", "transforms", NULL};
static const char *const config_transform_structural[] = {"plugin", "id", "config", "predicate",
                                                          NULL};
/* The one non-structural key of a transform entry (Kafka Connect's transforms.<name>.negate). */
static const struct sluice_config_field config_transform_keys[] = {
    {.name = "negate",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Apply the transform to the records its `predicate` does NOT match."},
    {.name = NULL},
};
static const struct sluice_config_field config_no_keys[] = {{.name = NULL}};

static int config_valid_id(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* A required scalar, non-empty key of a structural mapping; NULL (with an error) if absent. */
static const config_node_t *config_required_scalar(const config_node_t *map, const char *key,
                                                   const char *what, const char *hint,
                                                   config_errors_t *errs)
{
    const config_node_t *n = config_node_get(map, key);
    if (n && n->kind == CONFIG_SCALAR && n->plain == -1)
        return NULL; /* its interpolation failed: reported */
    if (!n || config_node_is_null(n)) {
        const config_mark_t *km = config_node_key_mark(map, key);
        config_errors_add(errs, km ? km : &map->mark, "%s: missing required key '%s' (%s)", what,
                          key, hint);
        return NULL;
    }
    if (n->kind != CONFIG_SCALAR || !*n->scalar) {
        config_errors_add(errs, &n->mark, "key '%s' in %s expects %s, found %s", key, what, hint,
                          n->kind == CONFIG_SCALAR ? "an empty string" : config_kind_name(n));
        return NULL;
    }
    return n;
}

void config_instance_free(config_instance_t *in)
{
    if (!in)
        return;
    free(in->id);
    free(in->plugin);
    config_free(in->core);
    for (size_t i = 0; i < in->ntransforms; i++)
        config_instance_free(&in->transforms[i]);
    free(in->transforms);
    memset(in, 0, sizeof *in);
}

enum config_role { CONFIG_ROLE_SOURCE, CONFIG_ROLE_TRANSFORM, CONFIG_ROLE_SINK };

static int config_load_instance(const config_node_t *node, enum config_role role, size_t index,
                                const char *owner, const char *base_dir, config_instance_t *out,
                                config_errors_t *errs);

/* `transforms:` of an instance → out->transforms. Broken entries are reported and left out. */
void config_load_transforms(const config_node_t *map, const char *owner, const char *base_dir,
                            config_instance_t *out, config_errors_t *errs)
{
    const config_node_t *seq = config_node_get(map, "transforms");
    if (!seq || config_node_is_null(seq) || (seq->kind == CONFIG_SCALAR && seq->plain == -1))
        return;
    if (seq->kind != CONFIG_SEQ) {
        config_errors_add(errs, &seq->mark,
                          "key 'transforms' in %s expects a sequence of '- plugin: NAME' entries, "
                          "found %s",
                          owner, config_kind_name(seq));
        return;
    }
    out->transforms = calloc(seq->len ? seq->len : 1, sizeof *out->transforms);
    if (!out->transforms)
        return;
    for (size_t i = 0; i < seq->len; i++) {
        config_instance_t *t = &out->transforms[out->ntransforms];
        if (config_load_instance(seq->items[i], CONFIG_ROLE_TRANSFORM, i + 1, owner, base_dir, t,
                                 errs) != 0)
            continue;
        int dup = 0;
        for (size_t k = 0; k < out->ntransforms; k++)
            if (strcmp(out->transforms[k].id, t->id) == 0) {
                config_errors_add(errs, &t->mark,
                                  "duplicate transform id '%s' in %s (also at line %d): give each "
                                  "transform its own id",
                                  t->id, owner, out->transforms[k].mark.line);
                dup = 1;
            }
        if (dup)
            config_instance_free(t);
        else
            out->ntransforms++;
    }
}

/* One source, sink or transform entry. `owner` names what contains it ("pipeline 'x'", or for a
 * transform the source/sink). 0 ok; -1 after reporting (out is left empty). */
static int config_load_instance(const config_node_t *node, enum config_role role, size_t index,
                                const char *owner, const char *base_dir, config_instance_t *out,
                                config_errors_t *errs)
{
    int rc = -1;
    char what[512];
    memset(out, 0, sizeof *out);
    if (role == CONFIG_ROLE_SOURCE)
        snprintf(what, sizeof what, "the source of %s", owner);
    else if (role == CONFIG_ROLE_SINK)
        snprintf(what, sizeof what, "sink #%zu of %s", index, owner);
    else
        snprintf(what, sizeof what, "transform #%zu of %s", index, owner);
    if (node->kind != CONFIG_MAP) {
        config_errors_add(errs, &node->mark,
                          "%s expects a mapping (plugin: NAME, config: {...}), "
                          "found %s",
                          what, config_kind_name(node));
        goto out;
    }
    out->mark = node->mark;
    const config_node_t *id = config_node_get(node, "id");
    if (role == CONFIG_ROLE_SINK)
        id = config_required_scalar(node, "id", what, "a name for the sink, e.g. id: files", errs);
    else if (id && (config_node_is_null(id) || (id->kind == CONFIG_SCALAR && id->plain == -1)))
        id = NULL;
    const config_node_t *plugin = config_required_scalar(
        node, "plugin", what, "the plugin's name, see `sluice plugins list`", errs);
    if (plugin) {
        out->plugin = strdup(plugin->scalar);
        out->plugin_mark = plugin->mark;
    }
    int ok = plugin != NULL && out->plugin;
    if (id && (id->kind != CONFIG_SCALAR || !config_valid_id(id->scalar))) {
        config_errors_add(errs, &id->mark,
                          "invalid id %s%s%s in %s: use letters, digits, '.', '_' and '-'",
                          id->kind == CONFIG_SCALAR ? "'" : "",
                          id->kind == CONFIG_SCALAR ? id->scalar : config_kind_name(id),
                          id->kind == CONFIG_SCALAR ? "'" : "", what);
        ok = 0;
    } else if (role == CONFIG_ROLE_SINK && !id) {
        ok = 0;
    }
    /* Name the instance as precisely as we now can for the rest of its messages. */
    if (role == CONFIG_ROLE_SINK && id && ok)
        snprintf(what, sizeof what, "sink '%s' (plugin %s) of %s", id->scalar, out->plugin, owner);
    else if (role == CONFIG_ROLE_SINK && id && id->kind == CONFIG_SCALAR)
        snprintf(what, sizeof what, "sink '%s' of %s", id->scalar, owner);
    else if (role == CONFIG_ROLE_SOURCE && out->plugin)
        snprintf(what, sizeof what, "the source (plugin %s) of %s", out->plugin, owner);
    else if (role == CONFIG_ROLE_TRANSFORM && out->plugin)
        snprintf(what, sizeof what, "transform #%zu (plugin %s) of %s", index, out->plugin, owner);

    if (role == CONFIG_ROLE_SINK) {
        out->core = config_validate_extra(node, config_sink_keys, config_sink_structural, what,
                                          &node->mark, base_dir, errs);
        ok = ok && out->core;
    } else {
        sluice_config_t *own = config_validate_extra(
            node, role == CONFIG_ROLE_SOURCE ? config_no_keys : config_transform_keys,
            role == CONFIG_ROLE_SOURCE ? config_source_structural : config_transform_structural,
            what, &node->mark, base_dir, errs);
        ok = ok && own;
        if (own && role == CONFIG_ROLE_TRANSFORM) {
            const config_node_t *pred = config_node_get(node, "predicate");
            out->negate = config_bool(own, "negate");
            if (pred && !config_node_is_null(pred) &&
                !(pred->kind == CONFIG_SCALAR && pred->plain == -1))
                out->predicate = pred;
            if (out->negate && !out->predicate) {
                config_errors_add(errs, config_mark(own, "negate"),
                                  "%s: 'negate' needs a 'predicate' (the name of one of the "
                                  "pipeline's predicates, or an inline {type: ...})",
                                  what);
                ok = 0;
            }
        }
        config_free(own);
    }
    const config_node_t *config = config_node_get(node, "config");
    if (config && !config_node_is_null(config) &&
        !(config->kind == CONFIG_SCALAR && config->plain == -1)) {
        if (config->kind != CONFIG_MAP) {
            config_errors_add(errs, &config->mark,
                              "key 'config' in %s expects a mapping of the plugin's keys, found %s",
                              what, config_kind_name(config));
            ok = 0;
        } else {
            out->config = config;
        }
    }
    if (role != CONFIG_ROLE_TRANSFORM)
        config_load_transforms(node, what, base_dir, out, errs);
    if (!ok)
        goto out;
    if (role == CONFIG_ROLE_SOURCE) {
        out->id = strdup("source");
    } else if (id) {
        out->id = strdup(id->scalar);
    } else {
        char def[512];
        snprintf(def, sizeof def, "%s#%zu", out->plugin, index);
        out->id = strdup(def);
    }
    if (!out->id) {
        config_errors_add(errs, &node->mark, "%s: out of memory", what);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        config_instance_free(out);
    return rc;
}

static void config_pipeline_free(config_pipeline_t *p)
{
    free(p->id);
    free(p->base_dir);
    config_free(p->core);
    if (p->source) {
        config_instance_free(p->source);
        free(p->source);
    }
    for (size_t i = 0; i < p->nsinks; i++)
        config_instance_free(&p->sinks[i]);
    free(p->sinks);
    memset(p, 0, sizeof *p);
}

static void config_load_pipeline(config_run_t *run, const char *file, const config_node_t *node,
                                 size_t index, const char *base_dir, config_errors_t *errs)
{
    config_pipeline_t p = {0};
    char what[512];
    int keep = 1;
    snprintf(what, sizeof what, "pipeline #%zu", index);
    if (node->kind != CONFIG_MAP) {
        config_errors_add(errs, &node->mark,
                          "%s expects a mapping (- id: NAME, source: ..., sinks: ...), found %s",
                          what, config_kind_name(node));
        return;
    }
    p.mark = node->mark;
    p.file = file;
    p.base_dir = strdup(base_dir);
    const config_node_t *id =
        config_required_scalar(node, "id", what, "a name for the pipeline, e.g. id: orders", errs);
    if (id && !config_valid_id(id->scalar)) {
        config_errors_add(errs, &id->mark,
                          "invalid pipeline id '%s': use letters, digits, '.', '_' and '-'",
                          id->scalar);
        id = NULL;
    }
    if (id) {
        p.id = strdup(id->scalar);
        snprintf(what, sizeof what, "pipeline '%s'", id->scalar);
    }
    keep = p.id != NULL && p.base_dir != NULL;

    p.core = config_validate_extra(node, config_pipeline_keys, config_pipeline_structural, what,
                                   &node->mark, base_dir, errs);
    if (p.core && p.id && !config_has(p.core, "topic"))
        config_set_default(p.core, "topic", p.id);

    int broken = 0;
    const config_node_t *preds = config_node_get(node, "predicates");
    if (preds && !config_node_is_null(preds) &&
        !(preds->kind == CONFIG_SCALAR && preds->plain == -1)) {
        if (preds->kind != CONFIG_MAP) {
            config_errors_add(errs, &preds->mark,
                              "key 'predicates' in %s expects a mapping of names to predicates "
                              "(is-tombstone: {type: record-is-tombstone}), found %s",
                              what, config_kind_name(preds));
            broken = 1;
        } else {
            p.predicates = preds;
        }
    }
    const config_node_t *src = config_node_get(node, "source");
    int has_source = src && !config_node_is_null(src);
    if (has_source && !(src->kind == CONFIG_SCALAR && src->plain == -1)) {
        p.source = calloc(1, sizeof *p.source);
        if (!p.source ||
            config_load_instance(src, CONFIG_ROLE_SOURCE, 1, what, base_dir, p.source, errs) != 0) {
            free(p.source);
            p.source = NULL;
            broken = 1;
        }
    } else if (has_source) {
        broken = 1;
    }

    const config_node_t *sinks = config_node_get(node, "sinks");
    int has_sinks = sinks && !config_node_is_null(sinks);
    if (has_sinks && sinks->kind != CONFIG_SEQ) {
        if (!(sinks->kind == CONFIG_SCALAR && sinks->plain == -1))
            config_errors_add(
                errs, &sinks->mark,
                "key 'sinks' in %s expects a sequence of '- id: NAME' entries, found %s", what,
                config_kind_name(sinks));
        has_sinks = 0;
        broken = 1;
    } else if (has_sinks && sinks->len == 0) {
        has_sinks = 0;
    }
    if (has_sinks) {
        p.sinks = calloc(sinks->len, sizeof *p.sinks);
        for (size_t i = 0; p.sinks && i < sinks->len; i++) {
            config_instance_t *s = &p.sinks[p.nsinks];
            if (config_load_instance(sinks->items[i], CONFIG_ROLE_SINK, i + 1, what, base_dir, s,
                                     errs) != 0)
                continue;
            int dup = 0;
            for (size_t k = 0; k < p.nsinks; k++)
                if (strcmp(p.sinks[k].id, s->id) == 0) {
                    config_errors_add(errs, &s->mark,
                                      "duplicate sink id '%s' in %s (also at line %d, column %d): "
                                      "give each sink its own id",
                                      s->id, what, p.sinks[k].mark.line, p.sinks[k].mark.col);
                    dup = 1;
                }
            if (dup)
                config_instance_free(s);
            else
                p.nsinks++;
        }
    }
    if (!has_source && !has_sinks && !broken) {
        config_errors_add(errs, &p.mark,
                          "%s has neither a source nor sinks: add 'source:' (to produce into its "
                          "topic) or 'sinks:' (to consume it), or both",
                          what);
        keep = 0;
    }
    /* A pipeline whose parts are broken keeps no core, so that the runtime skips it rather than
     * adding errors that only follow from the first. */
    if (broken || (!p.source && p.nsinks == 0)) {
        config_free(p.core);
        p.core = NULL;
    }

    for (size_t i = 0; keep && i < run->npipelines; i++) {
        const config_pipeline_t *o = &run->pipelines[i];
        if (strcmp(o->id, p.id) == 0) {
            config_errors_add(errs, &id->mark,
                              "duplicate pipeline id '%s': already defined at %s:%d:%d; pipeline "
                              "ids must be unique across all files of a run",
                              p.id, o->mark.file, o->mark.line, o->mark.col);
            keep = 0;
        }
    }
    if (keep) {
        config_pipeline_t *np = realloc(run->pipelines, (run->npipelines + 1) * sizeof *np);
        if (np) {
            run->pipelines = np;
            run->pipelines[run->npipelines++] = p;
            return;
        }
        config_errors_add(errs, &p.mark, "%s: out of memory", what);
    }
    config_pipeline_free(&p);
}

static int config_value_equal(const config_value_t *a, const config_value_t *b)
{
    if ((a->text == NULL) != (b->text == NULL) || (a->text && strcmp(a->text, b->text) != 0) ||
        a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->items && strcmp(a->items[i], b->items[i]) != 0)
            return 0;
        if (a->keys && strcmp(a->keys[i], b->keys[i]) != 0)
            return 0;
    }
    return 1;
}

/* Moves the given value `from` into `to` (to is empty). */
static void config_value_move(config_value_t *to, config_value_t *from)
{
    *to = *from;
    memset(from, 0, sizeof *from);
}

/* A later file's top-level keys: new ones join the run's, contradicting ones are errors. */
static void config_merge_global(config_run_t *run, sluice_config_t *later, config_errors_t *errs)
{
    sluice_config_t *g = run->global;
    for (size_t k = 0; k < later->n; k++) {
        config_value_t *lv = &later->v[k];
        if (!lv->given)
            continue;
        config_value_t *gv = &g->v[k];
        if (!gv->given) {
            config_value_clear(gv);
            config_value_move(gv, lv);
        } else if (!config_value_equal(gv, lv)) {
            config_errors_add(errs, &lv->key_mark,
                              "top-level key '%s' differs from its value at %s:%d:%d: the files of "
                              "one run must agree on it (set it in one file only)",
                              later->table[k].name, gv->key_mark.file, gv->key_mark.line,
                              gv->key_mark.col);
        }
    }
}

static void config_load_file(config_run_t *run, const char *file, const config_node_t *doc,
                             const char *base_dir, config_errors_t *errs)
{
    if (doc->kind != CONFIG_MAP) {
        config_errors_add(
            errs, &doc->mark,
            "the file expects a mapping at the top (version: 1, pipelines: ...), found "
            "%s",
            config_kind_name(doc));
        return;
    }
    const config_node_t *ver = config_node_get(doc, "version");
    if (!ver || config_node_is_null(ver)) {
        const config_mark_t *km = config_node_key_mark(doc, "version");
        config_errors_add(errs, km ? km : &doc->mark,
                          "missing required key 'version': start the file with 'version: 1'");
    } else if (ver->kind != CONFIG_SCALAR || strcmp(ver->scalar, "1") != 0) {
        config_errors_add(errs, &ver->mark,
                          "unsupported version %s%s%s: this sluice reads 'version: 1' files",
                          ver->kind == CONFIG_SCALAR ? "'" : "",
                          ver->kind == CONFIG_SCALAR ? ver->scalar : config_kind_name(ver),
                          ver->kind == CONFIG_SCALAR ? "'" : "");
    }
    sluice_config_t *g = config_validate_extra(doc, config_global_keys, config_top_structural,
                                               "the top level", &doc->mark, base_dir, errs);
    if (g) {
        /* plugin.path is a LIST of paths: resolve its items like a PATH. */
        for (size_t k = 0; k < g->n; k++) {
            config_value_t *v = &g->v[k];
            if (strcmp(g->table[k].name, "plugin.path") != 0)
                continue;
            for (size_t i = 0; i < v->n; i++) {
                char *r = config_resolve_path(v->items[i], base_dir);
                if (r) {
                    free(v->items[i]);
                    v->items[i] = r;
                }
            }
        }
        if (!run->global) {
            run->global = g;
        } else {
            config_merge_global(run, g, errs);
            config_free(g);
        }
    }
    const config_node_t *pipes = config_node_get(doc, "pipelines");
    if (!pipes || config_node_is_null(pipes)) {
        const config_mark_t *km = config_node_key_mark(doc, "pipelines");
        config_errors_add(errs, km ? km : &doc->mark,
                          "missing required key 'pipelines': list at least one pipeline "
                          "(pipelines: [- id: NAME ...])");
        return;
    }
    if (pipes->kind != CONFIG_SEQ) {
        if (!(pipes->kind == CONFIG_SCALAR && pipes->plain == -1))
            config_errors_add(errs, &pipes->mark,
                              "key 'pipelines' expects a sequence of pipelines ('- id: NAME' "
                              "entries), found %s",
                              config_kind_name(pipes));
        return;
    }
    /* An empty list (`pipelines: []`) is a worker that waits for connectors created over the REST
     * API, or a state file whose connectors were all deleted. */
    for (size_t i = 0; i < pipes->len; i++)
        config_load_pipeline(run, file, pipes->items[i], i + 1, base_dir, errs);
}

int config_load(config_run_t *run, const char *const *paths, size_t npaths, config_errors_t *errs)
{
    size_t before = errs->len;
    buf_t text;
    buf_init(&text);
    memset(run, 0, sizeof *run);
    run->files = calloc(npaths ? npaths : 1, sizeof *run->files);
    run->docs = calloc(npaths ? npaths : 1, sizeof *run->docs);
    if (!run->files || !run->docs) {
        config_errors_add(errs, NULL, "out of memory loading the configuration");
        goto out;
    }
    run->nfiles = npaths;
    for (size_t i = 0; i < npaths; i++) {
        run->files[i] = strdup(paths[i]);
        if (!run->files[i]) {
            config_errors_add(errs, NULL, "out of memory loading the configuration");
            goto out;
        }
    }
    if (npaths == 0)
        config_errors_add(errs, NULL, "no pipeline file given");
    for (size_t i = 0; i < npaths; i++) {
        const char *file = run->files[i];
        buf_reset(&text);
        int r = config_read_file(&text, file);
        if (r == -2) {
            config_errors_add(
                errs, NULL,
                "%s: larger than %u MiB, the most a pipeline file may have: is it the "
                "right file?",
                file, CONFIG_MAX_FILE_SIZE >> 20);
            continue;
        }
        if (r != 0) {
            config_errors_add(errs, NULL, "%s: cannot read: %s", file, strerror(errno));
            continue;
        }
        char *base_dir = config_base_dir(file);
        if (!base_dir) {
            config_errors_add(errs, NULL, "%s: out of memory", file);
            continue;
        }
        run->docs[i] = config_parse_yaml(file, text.data, text.len, base_dir, errs);
        if (run->docs[i])
            config_load_file(run, file, run->docs[i], base_dir, errs);
        free(base_dir);
    }
out:
    buf_free(&text);
    return errs->len > before ? -1 : 0;
}

void config_run_free(config_run_t *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->npipelines; i++)
        config_pipeline_free(&run->pipelines[i]);
    free(run->pipelines);
    config_free(run->global);
    for (size_t i = 0; i < run->nfiles; i++) {
        if (run->docs)
            config_node_free(run->docs[i]);
        if (run->files)
            free(run->files[i]);
    }
    free(run->docs);
    free(run->files);
    memset(run, 0, sizeof *run);
}

int config_block_on(const sluice_config_t *g, const char *block, const char *key)
{
    size_t n = g ? config_count(g, block) : 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(config_map_key(g, block, i), key) == 0)
            return config_item(g, block, i)[0] != '\0';
    return n > 0;
}

/* 1 when two trees are the same YAML (kinds, keys in order, scalars); marks are not compared. */
static int config_node_equal(const config_node_t *a, const config_node_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->len != b->len)
        return 0;
    if (a->kind == CONFIG_SCALAR)
        return a->plain == b->plain &&
               strcmp(a->scalar ? a->scalar : "", b->scalar ? b->scalar : "") == 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->kind == CONFIG_MAP && strcmp(a->keys[i], b->keys[i]) != 0)
            return 0;
        if (!config_node_equal(a->items[i], b->items[i]))
            return 0;
    }
    return 1;
}

static int config_instance_equal(const config_instance_t *a, const config_instance_t *b)
{
    if (!a || !b)
        return a == b;
    if (strcmp(a->id ? a->id : "", b->id ? b->id : "") != 0 ||
        strcmp(a->plugin ? a->plugin : "", b->plugin ? b->plugin : "") != 0 ||
        !config_node_equal(a->config, b->config) || !config_equal(a->core, b->core) ||
        a->ntransforms != b->ntransforms || !config_node_equal(a->predicate, b->predicate) ||
        a->negate != b->negate)
        return 0;
    for (size_t t = 0; t < a->ntransforms; t++)
        if (!config_instance_equal(&a->transforms[t], &b->transforms[t]))
            return 0;
    return 1;
}

int config_pipeline_equal(const config_pipeline_t *a, const config_pipeline_t *b)
{
    if (strcmp(a->id, b->id) != 0 ||
        strcmp(a->base_dir ? a->base_dir : "", b->base_dir ? b->base_dir : "") != 0 ||
        !config_equal(a->core, b->core) || !config_instance_equal(a->source, b->source) ||
        a->nsinks != b->nsinks || !config_node_equal(a->predicates, b->predicates))
        return 0;
    for (size_t s = 0; s < a->nsinks; s++)
        if (!config_instance_equal(&a->sinks[s], &b->sinks[s]))
            return 0;
    return 1;
}
