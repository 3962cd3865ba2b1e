/* config_yaml.c — see config.h: pipeline files read with libyaml's document API into a small tree
 * of config_node_t (every scalar value interpolated, every node with its file:line:col), and the
 * helpers that walk that tree. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config_internal.h"

/* Deeper trees are refused: protects the recursion from hostile input and recursive aliases. */
#define CONFIG_MAX_DEPTH 64
/* Aliases repeat nodes without repeating text: a few hundred bytes of nested aliases ("billion
 * laughs") expand to billions of nodes. The tree may have at most CONFIG_ALIAS_FACTOR times the
 * document's own nodes plus CONFIG_ALIAS_SLACK, and never more than CONFIG_MAX_NODES. */
#define CONFIG_ALIAS_FACTOR 10
#define CONFIG_ALIAS_SLACK  10000
#define CONFIG_MAX_NODES    1000000

/* ---------------------------------------------------------------------------------------------- */
/* Small helpers */

const char *config_kind_name(const config_node_t *n)
{
    return n->kind == CONFIG_MAP ? "a mapping" : n->kind == CONFIG_SEQ ? "a sequence" : "a scalar";
}

int config_node_is_null(const config_node_t *n)
{
    if (!n)
        return 1;
    if (n->kind != CONFIG_SCALAR || n->plain != 1)
        return 0;
    const char *s = n->scalar;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

const config_node_t *config_node_get(const config_node_t *map, const char *key)
{
    if (!map || map->kind != CONFIG_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

/* The mark of `key` itself in `map` (for "this key is wrong" messages); NULL if absent. */
const config_mark_t *config_node_key_mark(const config_node_t *map, const char *key)
{
    if (!map || map->kind != CONFIG_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++)
        if (strcmp(map->keys[i], key) == 0)
            return &map->key_marks[i];
    return NULL;
}

void config_node_free(config_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->len; i++) {
        if (n->keys)
            free(n->keys[i]);
        config_node_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_marks);
    free(n->items);
    free(n->scalar);
    free(n);
}
/* ---------------------------------------------------------------------------------------------- */
/* YAML → tree */

static config_mark_t config_mark_of(const char *file, yaml_mark_t m)
{
    config_mark_t r = {file, (int)m.line + 1, (int)m.column + 1};
    return r;
}

static int config_raw_is_null(const char *s)
{
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* One document's conversion: where it comes from, and its node budget. */
typedef struct config_build_ctx {
    yaml_document_t *doc;
    const char *file, *base_dir;
    config_errors_t *errs;
    size_t own, built, limit; /* nodes in the document, in the tree so far, allowed */
    int stop;                 /* over the budget or out of memory: unwind, keep nothing */
    int oom;
} config_build_ctx_t;

static config_node_t *config_build(config_build_ctx_t *cx, yaml_node_t *yn, int depth)
{
    yaml_document_t *doc = cx->doc;
    const char *file = cx->file, *base_dir = cx->base_dir;
    config_errors_t *errs = cx->errs;
    if (cx->stop)
        return NULL;
    if (++cx->built > cx->limit) {
        config_mark_t m = config_mark_of(file, yn->start_mark);
        config_errors_add(errs, &m,
                          "YAML aliases expand this file to more than %zu nodes (it has %zu of its "
                          "own; at most %d times that plus %d, and never over %d, are allowed): "
                          "nested aliases multiply; write the repeated parts out",
                          cx->limit, cx->own, CONFIG_ALIAS_FACTOR, CONFIG_ALIAS_SLACK,
                          CONFIG_MAX_NODES);
        cx->stop = 1;
        return NULL;
    }
    config_node_t *n = calloc(1, sizeof *n);
    if (!n)
        goto nomem;
    n->mark = config_mark_of(file, yn->start_mark);
    if (depth > CONFIG_MAX_DEPTH) {
        config_errors_add(errs, &n->mark,
                          "YAML nested deeper than %d levels (or a recursive alias): flatten it",
                          CONFIG_MAX_DEPTH);
        n->kind = CONFIG_SCALAR;
        n->plain = -1;
        n->scalar = strdup("");
        if (!n->scalar)
            goto nomem;
        return n;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        const char *raw = (const char *)yn->data.scalar.value;
        n->kind = CONFIG_SCALAR;
        if (yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && config_raw_is_null(raw)) {
            n->plain = 1;
            n->scalar = strdup(raw);
            break;
        }
        char err[1024];
        n->scalar = config_interpolate(raw, base_dir, err, sizeof err);
        if (!n->scalar) {
            config_errors_add(errs, &n->mark, "%s", err);
            /* -1: reported already; validation skips this value instead of adding noise. */
            n->plain = -1;
            n->scalar = strdup(raw);
        } else {
            /* A value produced by interpolation counts as quoted: it is never null. */
            n->plain =
                yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(n->scalar, raw) == 0;
        }
        break;
    }
    case YAML_SEQUENCE_NODE: {
        n->kind = CONFIG_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        if (!n->items)
            goto nomem;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *c = yaml_document_get_node(doc, yn->data.sequence.items.start[i]);
            config_node_t *cn = c ? config_build(cx, c, depth + 1) : NULL;
            if (cx->stop)
                goto fail;
            if (cn)
                n->items[n->len++] = cn;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        n->kind = CONFIG_MAP;
        size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        n->keys = calloc(cnt ? cnt : 1, sizeof *n->keys);
        n->key_marks = calloc(cnt ? cnt : 1, sizeof *n->key_marks);
        if (!n->items || !n->keys || !n->key_marks)
            goto nomem;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_pair_t *pair = &yn->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(doc, pair->key);
            yaml_node_t *v = yaml_document_get_node(doc, pair->value);
            if (!k || !v)
                continue;
            config_mark_t km = config_mark_of(file, k->start_mark);
            if (k->type != YAML_SCALAR_NODE) {
                config_errors_add(errs, &km, "mapping keys must be scalars (plain names), found %s",
                                  k->type == YAML_MAPPING_NODE ? "a mapping" : "a sequence");
                continue;
            }
            const char *key = (const char *)k->data.scalar.value;
            const config_mark_t *first = config_node_key_mark(n, key);
            if (first) {
                config_errors_add(
                    errs, &km, "duplicate key '%s' (first given at line %d, column %d): keep one",
                    key, first->line, first->col);
                continue;
            }
            config_node_t *cn = config_build(cx, v, depth + 1);
            if (cx->stop)
                goto fail;
            char *kc = cn ? strdup(key) : NULL;
            if (!cn || !kc) {
                config_node_free(cn);
                free(kc);
                if (!cn)
                    continue;
                goto nomem;
            }
            n->keys[n->len] = kc;
            n->key_marks[n->len] = km;
            n->items[n->len++] = cn;
        }
        break;
    }
    default:
        n->kind = CONFIG_SCALAR;
        n->plain = 1;
        n->scalar = strdup("");
        break;
    }
    if (n->kind == CONFIG_SCALAR && !n->scalar)
        goto nomem;
    return n;
nomem:
    /* Never a silent drop of what could not be allocated: the whole load fails. */
    cx->oom = 1;
    cx->stop = 1;
fail:
    config_node_free(n);
    return NULL;
}

/* A first pass over the events refuses deep nesting before libyaml's loader builds it: "[[[[…"
 * costs the loader memory and time for every level. Syntax errors are left to the loader, which
 * reports them (it stops at the same place). 0, or -1 after adding the error. */
static int config_check_depth(const char *file, const char *text, size_t len, config_errors_t *errs)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&p)) {
        config_errors_add(errs, NULL, "%s: out of memory while reading YAML", file);
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > CONFIG_MAX_DEPTH) {
                config_mark_t m = config_mark_of(file, ev.start_mark);
                config_errors_add(errs, &m, "YAML nested deeper than %d levels: flatten it",
                                  CONFIG_MAX_DEPTH);
                rc = -1;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (rc != 0 || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static config_node_t *config_build_document(yaml_document_t *doc, yaml_node_t *root,
                                            const char *file, const char *base_dir,
                                            config_errors_t *errs)
{
    config_build_ctx_t cx = {.doc = doc, .file = file, .base_dir = base_dir, .errs = errs};
    cx.own = (size_t)(doc->nodes.top - doc->nodes.start);
    cx.limit = cx.own * CONFIG_ALIAS_FACTOR + CONFIG_ALIAS_SLACK;
    if (cx.limit > CONFIG_MAX_NODES)
        cx.limit = CONFIG_MAX_NODES;
    config_node_t *tree = config_build(&cx, root, 0);
    if (!cx.stop)
        return tree;
    config_node_free(tree); /* first: the message needs a little memory */
    if (cx.oom)
        config_errors_add(errs, NULL, "%s: out of memory while loading the configuration", file);
    return NULL;
}

/* libyaml's error as "FILE:LINE:COL: YAML syntax error: PROBLEM". */
static void config_yaml_error(const yaml_parser_t *p, const char *file, const char *text,
                              size_t len, config_errors_t *errs)
{
    config_mark_t m = config_mark_of(file, p->problem_mark);
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors (bad encoding) carry a byte offset instead of a mark. */
        m.line = 1;
        m.col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                m.line++;
                m.col = 1;
            } else {
                m.col++;
            }
        }
    }
    if (p->error == YAML_MEMORY_ERROR)
        config_errors_add(errs, NULL, "%s: out of memory while reading YAML", file);
    else if (p->context && p->error != YAML_READER_ERROR)
        /* libyaml's context says which construct was open, often the real culprit. */
        config_errors_add(errs, &m, "YAML syntax error: %s (%s started at line %d, column %d)",
                          p->problem ? p->problem : "unknown problem", p->context,
                          (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        config_errors_add(errs, &m, "YAML syntax error: %s",
                          p->problem ? p->problem : "unknown problem");
}

config_node_t *config_parse_yaml(const char *file, const char *text, size_t len,
                                 const char *base_dir, config_errors_t *errs)
{
    config_node_t *tree = NULL;
    yaml_parser_t p;
    yaml_document_t doc;
    int have_doc = 0;
    if (!yaml_parser_initialize(&p)) {
        config_errors_add(errs, NULL, "%s: out of memory while reading YAML", file);
        return NULL;
    }
    if (config_check_depth(file, text, len, errs) != 0)
        goto out;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        config_yaml_error(&p, file, text, len, errs);
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        config_mark_t m = {file, 1, 1};
        config_errors_add(errs, &m,
                          "empty file: a pipeline file starts with 'version: 1' and lists "
                          "'pipelines:'");
        goto out;
    }
    tree = config_build_document(&doc, root, file, base_dir, errs);
    if (!tree)
        goto out;
    yaml_document_delete(&doc);
    have_doc = 0;
    /* A second document would be silently ignored by a one-document reader: refuse it. */
    if (!yaml_parser_load(&p, &doc)) {
        config_yaml_error(&p, file, text, len, errs);
        goto out;
    }
    have_doc = 1;
    root = yaml_document_get_root_node(&doc);
    if (root) {
        config_mark_t m = config_mark_of(file, root->start_mark);
        config_errors_add(errs, &m,
                          "a second YAML document ('---'): keep one document per file, or pass "
                          "another file to sluice");
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return tree;
}
