/* testrun.c — `sluice test FILE...`: pipeline unit tests. See testrun.h for the file format. */
#include "testrun.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "json.h"
#include "runtime.h"

#define TEST_ARENA_BLOCK (64 * 1024)

static const char *const file_keys[] = {"file", "tests", NULL};
static const char *const case_keys[] = {"name",       "pipeline",       "chain",
                                        "transforms", "predicates",     "input",
                                        "expect",     "schemas.enable", NULL};
static const char *const input_keys[] = {"key",       "value",  "headers",   "topic",
                                         "partition", "offset", "timestamp", NULL};
static const char *const expect_keys[] = {"key",    "value",     "headers", "topic", "partition",
                                          "offset", "timestamp", "error",   NULL};

typedef struct testrun {
    int passed, failed, errors;
    int verbose;
} testrun_t;

/* -- YAML → JSON text ------------------------------------------------------------------------ */

static int is_json_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* Plain scalars follow YAML's core schema (null, booleans, numbers); quoted ones are strings.
 * Numbers are copied as written, so 64-bit integers stay exact. */
static void yaml_to_json(const config_node_t *n, buf_t *out)
{
    switch (n->kind) {
    case CONFIG_SCALAR:
        if (n->plain == 1 && config_node_is_null(n))
            buf_puts(out, "null");
        else if (n->plain == 1 && (!strcmp(n->scalar, "true") || !strcmp(n->scalar, "True") ||
                                   !strcmp(n->scalar, "TRUE")))
            buf_puts(out, "true");
        else if (n->plain == 1 && (!strcmp(n->scalar, "false") || !strcmp(n->scalar, "False") ||
                                   !strcmp(n->scalar, "FALSE")))
            buf_puts(out, "false");
        else if (n->plain == 1 && is_json_number(n->scalar))
            buf_puts(out, n->scalar);
        else
            json_write_string(out, n->scalar, strlen(n->scalar));
        break;
    case CONFIG_SEQ:
        buf_putc(out, '[');
        for (size_t i = 0; i < n->len; i++) {
            if (i)
                buf_putc(out, ',');
            yaml_to_json(n->items[i], out);
        }
        buf_putc(out, ']');
        break;
    case CONFIG_MAP:
        buf_putc(out, '{');
        for (size_t i = 0; i < n->len; i++) {
            if (i)
                buf_putc(out, ',');
            json_write_string(out, n->keys[i], strlen(n->keys[i]));
            buf_putc(out, ':');
            yaml_to_json(n->items[i], out);
        }
        buf_putc(out, '}');
        break;
    }
}

/* -- comparing ------------------------------------------------------------------------------- */

static int is_number(const sluice_value_t *v)
{
    return v->type >= SLUICE_TYPE_INT8 && v->type <= SLUICE_TYPE_FLOAT64;
}

/* Structural equality of two parsed JSON documents; numbers compare by value (12 == 12.0).
 * On a difference, `path` says where. */
static int json_same(const sluice_value_t *x, const sluice_value_t *y, buf_t *path)
{
    if (is_number(x) && is_number(y)) {
        if (x->type == SLUICE_TYPE_INT64 && y->type == SLUICE_TYPE_INT64)
            return x->u.i == y->u.i;
        return value_as_float(x) == value_as_float(y);
    }
    if (x->type != y->type)
        return 0;
    switch (x->type) {
    case SLUICE_TYPE_NULL:
        return 1;
    case SLUICE_TYPE_BOOLEAN:
        return !x->u.b == !y->u.b;
    case SLUICE_TYPE_STRING:
        return x->u.s.len == y->u.s.len && memcmp(x->u.s.ptr, y->u.s.ptr, x->u.s.len) == 0;
    case SLUICE_TYPE_ARRAY: {
        size_t n = x->u.a.len < y->u.a.len ? x->u.a.len : y->u.a.len;
        for (size_t i = 0; i < n; i++) {
            size_t at = path->len;
            buf_printf(path, "[%zu]", i);
            if (!json_same(x->u.a.items[i], y->u.a.items[i], path))
                return 0;
            path->len = at;
            path->data[at] = '\0';
        }
        if (x->u.a.len != y->u.a.len)
            buf_printf(path, " (expected %zu items, got %zu)", x->u.a.len, y->u.a.len);
        return x->u.a.len == y->u.a.len;
    }
    case SLUICE_TYPE_MAP:
        for (size_t i = 0; i < x->u.m.len; i++) {
            const char *k = x->u.m.items[i].name;
            size_t at = path->len;
            buf_printf(path, ".%s", k);
            const sluice_value_t *o = value_get(y, k);
            if (!o) {
                buf_puts(path, " (missing)");
                return 0;
            }
            if (!json_same(x->u.m.items[i].value, o, path))
                return 0;
            path->len = at;
            path->data[at] = '\0';
        }
        for (size_t i = 0; i < y->u.m.len; i++)
            if (!value_get(x, y->u.m.items[i].name)) {
                buf_printf(path, ".%s (not expected)", y->u.m.items[i].name);
                return 0;
            }
        return 1;
    default:
        return value_equal(x, y);
    }
}

/* -- one test case --------------------------------------------------------------------------- */

typedef struct outcome {
    sluice_record_t *rec; /* an output record, or the failed input */
    int failed;
} outcome_t;

static void report_head(testrun_t *tr, int *reported, const char *file, const config_node_t *tc,
                        const char *name)
{
    if (*reported)
        return;
    *reported = 1;
    tr->failed++;
    printf("FAIL %s:%d: %s\n", file, tc->mark.line, name);
}

/* The text of a key or value as it would sit in the topic (encoded with the test's converter). */
static int slot_text(converter_t *c, sluice_record_t *r, struct record_slot *s, buf_t *out,
                     char *err, size_t errsize)
{
    buf_reset(out);
    if (!s->value) {
        if (s->is_null || !s->has_bytes)
            buf_puts(out, "null");
        else
            buf_append(out, s->bytes, s->len);
        return 0;
    }
    int is_null = 0;
    if (converter_encode(c, r->topic, s->value, out, &is_null, err, errsize) != SLUICE_OK)
        return -1;
    if (is_null) {
        buf_reset(out);
        buf_puts(out, "null");
    }
    return 0;
}

/* Compare one part (key or value) of an output with its expectation. 0 same, -1 different. */
static int compare_part(testrun_t *tr, int *reported, const char *file, const config_node_t *tc,
                        const char *name, size_t index, const char *part, const config_node_t *want,
                        converter_t *c, sluice_record_t *r, struct record_slot *slot,
                        arena_t *arena)
{
    buf_t exp, act, path;
    char err[512];
    int rc = -1;
    buf_init(&exp);
    buf_init(&act);
    buf_init(&path);
    yaml_to_json(want, &exp);
    if (slot_text(c, r, slot, &act, err, sizeof err) != 0) {
        report_head(tr, reported, file, tc, name);
        printf("  output #%zu: the %s cannot be encoded: %s\n", index + 1, part, err);
        goto out;
    }
    sluice_value_t *ev = NULL, *av = NULL;
    if (json_parse(arena, exp.data, exp.len, &ev, err, sizeof err) != SLUICE_OK) {
        report_head(tr, reported, file, tc, name);
        printf("  %s:%d: the expected %s is not valid JSON: %s\n", file, want->mark.line, part,
               err);
        goto out;
    }
    if (json_parse(arena, act.data, act.len, &av, err, sizeof err) != SLUICE_OK) {
        report_head(tr, reported, file, tc, name);
        printf("  output #%zu: the %s is not JSON (%s): %s\n", index + 1, part, err, act.data);
        goto out;
    }
    buf_puts(&path, "$");
    if (json_same(ev, av, &path)) {
        rc = 0;
        goto out;
    }
    report_head(tr, reported, file, tc, name);
    printf("  output #%zu %s differs at %s (expected at line %d)\n", index + 1, part, path.data,
           want->mark.line);
    printf("    expected: %s\n    actual:   %s\n", exp.data, act.data);
out:
    buf_free(&exp);
    buf_free(&act);
    buf_free(&path);
    return rc;
}

/* Entry `i` of a test's `headers:` — a mapping {name: value}, or a sequence of [name, value]
 * pairs or one-key mappings (for repeated names). A plain null is a null header: *value NULL.
 * -1 when the entry is malformed. */
static size_t header_count(const config_node_t *h)
{
    return h && (h->kind == CONFIG_MAP || h->kind == CONFIG_SEQ) ? h->len : 0;
}

static int header_at(const config_node_t *h, size_t i, const char **name, const char **value)
{
    const config_node_t *v;
    if (h->kind == CONFIG_MAP) {
        *name = h->keys[i];
        v = h->items[i];
    } else {
        const config_node_t *e = h->items[i];
        if (e->kind == CONFIG_SEQ && e->len == 2 && e->items[0]->kind == CONFIG_SCALAR) {
            *name = e->items[0]->scalar;
            v = e->items[1];
        } else if (e->kind == CONFIG_MAP && e->len == 1) {
            *name = e->keys[0];
            v = e->items[0];
        } else {
            return -1;
        }
    }
    if (v->kind != CONFIG_SCALAR)
        return -1;
    *value = v->plain == 1 && config_node_is_null(v) ? NULL : v->scalar;
    return 0;
}

static int compare_headers(testrun_t *tr, int *reported, const char *file, const config_node_t *tc,
                           const char *name, size_t index, const config_node_t *want,
                           sluice_record_t *r)
{
    record_headers_load(r);
    buf_t exp, act;
    buf_init(&exp);
    buf_init(&act);
    size_t n = header_count(want);
    int same = n == r->nheaders;
    for (size_t i = 0; i < n; i++) {
        const char *hn = "?", *v = NULL;
        if (header_at(want, i, &hn, &v) != 0)
            same = 0;
        buf_printf(&exp, "%s%s=%s", i ? ", " : "", hn, v ? v : "(null)");
        if (same && (strcmp(r->headers[i].name, hn) != 0 || !r->headers[i].value != !v ||
                     (v && (r->headers[i].len != strlen(v) ||
                            memcmp(r->headers[i].value, v, r->headers[i].len) != 0))))
            same = 0;
    }
    for (uint32_t i = 0; i < r->nheaders; i++)
        buf_printf(&act, "%s%s=%.*s", i ? ", " : "", r->headers[i].name,
                   r->headers[i].value ? (int)r->headers[i].len : 6,
                   r->headers[i].value ? (const char *)r->headers[i].value : "(null)");
    if (!same) {
        report_head(tr, reported, file, tc, name);
        printf("  output #%zu headers differ (expected at line %d)\n", index + 1, want->mark.line);
        printf("    expected: {%s}\n    actual:   {%s}\n", exp.data ? exp.data : "",
               act.data ? act.data : "");
    }
    buf_free(&exp);
    buf_free(&act);
    return same ? 0 : -1;
}

static int64_t scalar_int(const config_node_t *n, int64_t def)
{
    if (!n || n->kind != CONFIG_SCALAR || config_node_is_null(n))
        return def;
    return strtoll(n->scalar, NULL, 10);
}

/* Checks that `map` has only `allowed` keys; reports the first stray one. */
static int only_keys(const config_node_t *map, const char *const *allowed, const char *file,
                     const char *what)
{
    for (size_t i = 0; map->kind == CONFIG_MAP && i < map->len; i++) {
        int ok = 0;
        for (size_t k = 0; allowed[k]; k++)
            ok |= strcmp(map->keys[i], allowed[k]) == 0;
        if (!ok) {
            size_t n = 0;
            while (allowed[n])
                n++;
            const char *hint = config_did_you_mean(map->keys[i], allowed, n);
            fprintf(stderr, "%s:%d:%d: unknown key '%s' in %s%s%s%s\n", file,
                    map->key_marks[i].line, map->key_marks[i].col, map->keys[i], what,
                    hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
            return -1;
        }
    }
    return 0;
}

/* The side whose transforms a test runs, in a pipeline of the file under test. */
static side_t *find_chain(runtime_t *rt, const char *file, const config_node_t *tc,
                          pipeline_t **pout)
{
    const config_node_t *pid = config_node_get(tc, "pipeline");
    const config_node_t *chain = config_node_get(tc, "chain");
    pipeline_t *p = NULL;
    if (pid && pid->kind == CONFIG_SCALAR) {
        for (size_t i = 0; i < rt->npipelines; i++)
            if (strcmp(rt->pipelines[i]->id, pid->scalar) == 0)
                p = rt->pipelines[i];
        if (!p) {
            fprintf(stderr, "%s:%d: no pipeline '%s' in %s\n", file, pid->mark.line, pid->scalar,
                    rt->cfg.nfiles ? rt->cfg.files[0] : "the pipeline file");
            return NULL;
        }
    } else if (rt->npipelines == 1) {
        p = rt->pipelines[0];
    } else {
        fprintf(stderr,
                "%s:%d: the pipeline file has %zu pipelines: say which with 'pipeline: ID'\n", file,
                tc->mark.line, rt->npipelines);
        return NULL;
    }
    *pout = p;
    if (!chain || config_node_is_null(chain) ||
        (chain->kind == CONFIG_SCALAR && strcmp(chain->scalar, "source") == 0)) {
        if (!p->has_source) {
            fprintf(stderr, "%s:%d: pipeline '%s' has no source: name a sink with 'chain: ID'\n",
                    file, tc->mark.line, p->id);
            return NULL;
        }
        return &p->side;
    }
    for (size_t s = 0; chain->kind == CONFIG_SCALAR && s < p->nsinks; s++)
        if (strcmp(p->sinks[s].id, chain->scalar) == 0 && p->sinks[s].task == 0)
            return &p->sinks[s].side;
    fprintf(stderr, "%s:%d: 'chain' is 'source' or the id of a sink of pipeline '%s'\n", file,
            chain->mark.line, p->id);
    return NULL;
}

/* Build the input records, run them one by one through the chain, collect outcomes. */
static int run_inputs(const char *file, const config_node_t *inputs, side_t *side, arena_t *arena,
                      record_codec_t *codec, outcome_t **outs, size_t *nouts)
{
    size_t cap = 0;
    *outs = NULL;
    *nouts = 0;
    buf_t json;
    buf_init(&json);
    for (size_t i = 0; inputs && i < inputs->len; i++) {
        const config_node_t *in = inputs->items[i];
        if (in->kind != CONFIG_MAP) {
            fprintf(stderr, "%s:%d: an input record is a mapping (value:, key:, headers:, ...)\n",
                    file, in->mark.line);
            buf_free(&json);
            return -1;
        }
        if (only_keys(in, input_keys, file, "an input record") != 0) {
            buf_free(&json);
            return -1;
        }
        sluice_batch_t *b = arena_calloc(arena, sizeof *b),
                       *tmp = arena_calloc(arena, CHAIN_TMP * sizeof *tmp);
        if (!b || !tmp)
            return -1;
        batch_init(b, arena, codec);
        sluice_record_t *r = batch_add(b);
        if (!r)
            return -1;
        const config_node_t *n;
        if ((n = config_node_get(in, "topic")) && n->kind == CONFIG_SCALAR)
            r->topic = arena_strdup(arena, n->scalar);
        r->partition = (int32_t)scalar_int(config_node_get(in, "partition"), 0);
        r->offset = scalar_int(config_node_get(in, "offset"), (int64_t)i);
        r->timestamp = scalar_int(config_node_get(in, "timestamp"), 0);
        struct record_slot *slots[2] = {&r->key, &r->value};
        const char *names[2] = {"key", "value"};
        for (int k = 0; k < 2; k++) {
            n = config_node_get(in, names[k]);
            if (!n || (n->kind == CONFIG_SCALAR && n->plain == 1 && config_node_is_null(n))) {
                slots[k]->is_null = 1;
                continue;
            }
            buf_reset(&json);
            yaml_to_json(n, &json);
            slots[k]->bytes = arena_strndup(arena, json.data, json.len);
            slots[k]->len = json.len;
            slots[k]->has_bytes = 1;
        }
        n = config_node_get(in, "headers");
        for (size_t h = 0; h < header_count(n); h++) {
            const char *hn, *v;
            if (header_at(n, h, &hn, &v) != 0) {
                fprintf(stderr,
                        "%s:%d: headers are {name: value, ...} or a list of [name, value] "
                        "pairs\n",
                        file, n->items[h]->mark.line);
                buf_free(&json);
                return -1;
            }
            record_add_header(r, hn, v, v ? strlen(v) : 0);
        }
        sluice_batch_t *out = pipeline_chain_apply(side, b, tmp);
        size_t need = *nouts + (r->failed ? 1 : out->len);
        if (need > cap) {
            cap = need * 2 + 4;
            outcome_t *o = realloc(*outs, cap * sizeof *o);
            if (!o) {
                buf_free(&json);
                return -1;
            }
            *outs = o;
        }
        if (r->failed)
            (*outs)[(*nouts)++] = (outcome_t){r, 1};
        else
            for (size_t k = 0; k < out->len; k++)
                (*outs)[(*nouts)++] = (outcome_t){out->recs[k], 0};
    }
    buf_free(&json);
    return 0;
}

static void describe(const outcome_t *o, converter_t *kc, converter_t *vc, buf_t *tmp)
{
    char err[200];
    if (o->failed) {
        printf("error: %s", o->rec->fail_reason ? o->rec->fail_reason : "(no reason)");
        return;
    }
    printf("topic %s, key ", o->rec->topic ? o->rec->topic : "?");
    if (slot_text(kc, o->rec, &o->rec->key, tmp, err, sizeof err) == 0)
        printf("%s", tmp->data);
    printf(", value ");
    if (slot_text(vc, o->rec, &o->rec->value, tmp, err, sizeof err) == 0)
        printf("%s", tmp->data);
}

static void run_case(testrun_t *tr, runtime_t *rt, const char *file, const char *base_dir,
                     const config_node_t *tc, size_t index)
{
    char name[300];
    const config_node_t *nn = config_node_get(tc, "name");
    if (nn && nn->kind == CONFIG_SCALAR)
        snprintf(name, sizeof name, "%s", nn->scalar);
    else
        snprintf(name, sizeof name, "test #%zu", index + 1);
    if (only_keys(tc, case_keys, file, "a test") != 0) {
        tr->errors++;
        return;
    }
    const config_node_t *inputs = config_node_get(tc, "input"),
                        *expect = config_node_get(tc, "expect");
    if ((inputs && inputs->kind != CONFIG_SEQ) || !expect || expect->kind != CONFIG_SEQ) {
        fprintf(stderr, "%s:%d: test '%s' needs 'input:' and 'expect:' sequences\n", file,
                tc->mark.line, name);
        tr->errors++;
        return;
    }
    const config_node_t *se = config_node_get(tc, "schemas.enable");
    int schemas = se && se->kind == CONFIG_SCALAR && strcmp(se->scalar, "true") == 0;

    /* The chain: inline, or from the pipeline file. */
    config_errors_t errs;
    config_errors_init(&errs);
    config_instance_t owner = {0};
    config_pipeline_t cp = {0};
    pipeline_t inline_pipe = {0}, *p = &inline_pipe;
    side_t inline_side = {0}, *side = NULL;
    const config_node_t *chain = config_node_get(tc, "transforms");
    char what[400];
    snprintf(what, sizeof what, "test '%s'", name);
    if (chain) {
        config_load_transforms(tc, what, base_dir, &owner, &errs);
        cp.id = "test";
        cp.file = file;
        cp.base_dir = (char *)base_dir;
        const config_node_t *preds = config_node_get(tc, "predicates");
        cp.predicates = preds && preds->kind == CONFIG_MAP ? preds : NULL;
        inline_pipe.id = "test";
        inline_pipe.cfg = &cp;
        if (errs.len == 0)
            runtime_chain_resolve(rt, &cp, &owner, &inline_side, &errs);
        side = &inline_side;
    } else if (rt->npipelines == 0) {
        fprintf(stderr,
                "%s:%d: test '%s' has no 'transforms:' and no pipeline file to take them "
                "from (file: PATH)\n",
                file, tc->mark.line, name);
        tr->errors++;
        return;
    } else {
        side = find_chain(rt, file, tc, &p);
        if (!side) {
            tr->errors++;
            return;
        }
    }
    if (errs.len) {
        config_errors_print(&errs, stderr);
        config_errors_free(&errs);
        runtime_chain_free(&inline_side);
        config_instance_free(&owner);
        tr->errors++;
        return;
    }
    config_errors_free(&errs);
    if (runtime_chain_init(p, side) != 0) {
        tr->errors++;
        goto done_chain;
    }

    converter_t kc, vc;
    char err[512];
    converter_init(&kc, "json", schemas, JSON_DECIMAL_BASE64, err, sizeof err);
    converter_init(&vc, "json", schemas, JSON_DECIMAL_BASE64, err, sizeof err);
    record_codec_t codec = {.key = &kc, .value = &vc, .topic = "test"};
    arena_t arena;
    arena_init(&arena, TEST_ARENA_BLOCK);
    outcome_t *outs = NULL;
    size_t nouts = 0;
    int reported = 0;
    buf_t tmp;
    buf_init(&tmp);
    if (run_inputs(file, inputs, side, &arena, &codec, &outs, &nouts) != 0) {
        tr->errors++;
        goto done;
    }
    for (size_t i = 0; i < expect->len || i < nouts; i++) {
        if (i >= expect->len) {
            report_head(tr, &reported, file, tc, name);
            printf("  output #%zu was not expected: ", i + 1);
            describe(&outs[i], &kc, &vc, &tmp);
            printf("\n");
            continue;
        }
        const config_node_t *want = expect->items[i];
        if (want->kind != CONFIG_MAP || only_keys(want, expect_keys, file, "an expected record")) {
            fprintf(stderr, "%s:%d: an expected record is a mapping (value:, key:, error:, ...)\n",
                    file, want->mark.line);
            tr->errors++;
            goto done;
        }
        if (i >= nouts) {
            report_head(tr, &reported, file, tc, name);
            printf("  expected output #%zu (line %d) did not come: the chain gave %zu\n", i + 1,
                   want->mark.line, nouts);
            continue;
        }
        const outcome_t *o = &outs[i];
        const config_node_t *e = config_node_get(want, "error");
        if (e || o->failed) {
            const char *reason = o->rec->fail_reason ? o->rec->fail_reason : "";
            if (e && o->failed && e->kind == CONFIG_SCALAR && strstr(reason, e->scalar))
                continue;
            report_head(tr, &reported, file, tc, name);
            printf("  output #%zu (expected at line %d): ", i + 1, want->mark.line);
            if (e)
                printf("expected an error containing \"%s\", got ",
                       e->kind == CONFIG_SCALAR ? e->scalar : "");
            else
                printf("expected a record, got ");
            describe(o, &kc, &vc, &tmp);
            printf("\n");
            continue;
        }
        const config_node_t *n;
        if ((n = config_node_get(want, "value")))
            compare_part(tr, &reported, file, tc, name, i, "value", n, &vc, o->rec, &o->rec->value,
                         &arena);
        if ((n = config_node_get(want, "key")))
            compare_part(tr, &reported, file, tc, name, i, "key", n, &kc, o->rec, &o->rec->key,
                         &arena);
        if ((n = config_node_get(want, "headers")))
            compare_headers(tr, &reported, file, tc, name, i, n, o->rec);
        if ((n = config_node_get(want, "topic")) && n->kind == CONFIG_SCALAR &&
            strcmp(n->scalar, o->rec->topic ? o->rec->topic : "") != 0) {
            report_head(tr, &reported, file, tc, name);
            printf("  output #%zu topic: expected '%s', got '%s'\n", i + 1, n->scalar,
                   o->rec->topic ? o->rec->topic : "");
        }
        const char *ints[] = {"timestamp", "partition", "offset"};
        int64_t vals[] = {o->rec->timestamp, o->rec->partition, o->rec->offset};
        for (int k = 0; k < 3; k++)
            if ((n = config_node_get(want, ints[k])) && scalar_int(n, -1) != vals[k]) {
                report_head(tr, &reported, file, tc, name);
                printf("  output #%zu %s: expected %s, got %lld\n", i + 1, ints[k],
                       n->kind == CONFIG_SCALAR ? n->scalar : "?", (long long)vals[k]);
            }
    }
    if (!reported) {
        tr->passed++;
        if (tr->verbose)
            printf("ok   %s:%d: %s\n", file, tc->mark.line, name);
    }
done:
    buf_free(&tmp);
    free(outs);
    arena_free(&arena);
    converter_free(&kc);
    converter_free(&vc);
done_chain:
    if (chain) {
        runtime_chain_free(&inline_side);
        config_instance_free(&owner);
    } else {
        runtime_chain_destroy(side);
    }
}

/* The pipeline file a test file refers to: `file:`, else its own name without `_test`. */
static char *pipeline_path(const char *path, const config_node_t *doc, const char *base_dir)
{
    const config_node_t *f = config_node_get(doc, "file");
    char buf[4096];
    if (f && f->kind == CONFIG_SCALAR) {
        if (f->scalar[0] == '/')
            snprintf(buf, sizeof buf, "%s", f->scalar);
        else
            snprintf(buf, sizeof buf, "%s/%s", base_dir, f->scalar);
        return strdup(buf);
    }
    snprintf(buf, sizeof buf, "%s", path);
    char *at = strstr(buf, "_test.yaml");
    if (!at || at[10] != '\0')
        at = strstr(buf, "_test.yml");
    if (!at)
        return NULL;
    memmove(at, at + 5, strlen(at + 5) + 1);
    return access(buf, R_OK) == 0 ? strdup(buf) : NULL;
}

static void run_file(testrun_t *tr, const char *path)
{
    buf_t text;
    buf_init(&text);
    if (buf_read_file(&text, path) != 0) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        tr->errors++;
        buf_free(&text);
        return;
    }
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    char *base_dir = strdup(dirname(dirbuf));
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *doc =
        config_parse_yaml(path, text.data ? text.data : "", text.len, base_dir, &errs);
    runtime_t rt;
    memset(&rt, 0, sizeof rt);
    int have_rt = 0;
    const config_node_t *tests = doc ? config_node_get(doc, "tests") : NULL;
    if (!doc || doc->kind != CONFIG_MAP || !tests || tests->kind != CONFIG_SEQ) {
        if (errs.len)
            config_errors_print(&errs, stderr);
        else
            fprintf(stderr, "%s: expected a mapping with 'tests:' (a sequence of test cases)\n",
                    path);
        tr->errors++;
        goto out;
    }
    if (only_keys(doc, file_keys, path, "a test file") != 0) {
        tr->errors++;
        goto out;
    }
    int need_file = config_node_get(doc, "file") != NULL;
    for (size_t i = 0; i < tests->len; i++)
        need_file |= tests->items[i]->kind == CONFIG_MAP &&
                     config_node_get(tests->items[i], "transforms") == NULL;
    char *pfile = need_file ? pipeline_path(path, doc, base_dir) : NULL;
    if (need_file && !pfile) {
        fprintf(stderr,
                "%s: a test without 'transforms:' runs a pipeline's chain, but there is no "
                "pipeline file (say 'file: PATH', or name the test file <pipeline>_test.yaml)\n",
                path);
        tr->errors++;
        goto out;
    }
    if (pfile) {
        /* The pipeline file as `sluice lint` sees it: every error reported. */
        const char *files[1] = {pfile};
        have_rt = 1;
        if (runtime_prepare(&rt, files, 1, NULL, &errs) != 0) {
            config_errors_print(&errs, stderr);
            tr->errors++;
            free(pfile);
            goto out;
        }
        free(pfile);
    } else {
        have_rt = 1;
        runtime_scan_plugins(&rt, NULL, 0, &errs);
        if (errs.len)
            config_errors_print(&errs, stderr);
    }
    for (size_t i = 0; i < tests->len; i++) {
        if (tests->items[i]->kind != CONFIG_MAP) {
            fprintf(stderr, "%s:%d: a test is a mapping (name:, transforms:, input:, expect:)\n",
                    path, tests->items[i]->mark.line);
            tr->errors++;
            continue;
        }
        run_case(tr, &rt, path, base_dir, tests->items[i], i);
    }
out:
    if (have_rt)
        runtime_free(&rt);
    config_errors_free(&errs);
    config_node_free(doc);
    free(base_dir);
    buf_free(&text);
}

int testrun_main(int argc, char **argv)
{
    testrun_t tr = {0};
    int i = 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* reports and errors (stderr) interleave in order */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            tr.verbose = 1;
        } else {
            fprintf(stderr, "sluice test: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "sluice test: no file given (sluice test [-v] FILE_test.yaml...)\n");
        return 2;
    }
    for (; i < argc; i++)
        run_file(&tr, argv[i]);
    printf("%d passed, %d failed%s", tr.passed, tr.failed, tr.errors ? "" : "\n");
    if (tr.errors)
        printf(", %d error%s (see above)\n", tr.errors, tr.errors == 1 ? "" : "s");
    return tr.errors ? 2 : tr.failed ? 1 : 0;
}
