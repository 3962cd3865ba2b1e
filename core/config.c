/* config.c — see config.h. Pipeline files are read with libyaml's document API into a small tree
 * of cfg_node_t (every scalar value interpolated, every node with its file:line:col), checked
 * against the core's tables, and cut into cfg_pipeline_t. Plugin `config:` mappings stay as trees
 * until the runtime knows the plugin's table and calls config_validate.
 *
 * Choices worth knowing:
 *  - BOOL accepts true/false and YAML 1.1's yes/no/on/off, case-insensitively, quoted or not.
 *  - ENUM values match case-insensitively and read back in the table's spelling.
 *  - A plain (unquoted) `~`, `null`, `Null`, `NULL` or empty value means "unset". A value produced
 *    by interpolation is never null (`${X:-}` is the empty string).
 *  - LIST: a YAML sequence of scalars, or a comma-separated string (items trimmed, empty items
 *    dropped). A MAP default in a table is written "k=v,k2=v2".
 *  - Nothing stops at the first error: every error of every file is collected. */
#include "config.h"

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

#include <yaml.h>

/* Deeper trees are refused: protects the recursion from hostile input and recursive aliases. */
#define CFG_MAX_DEPTH 64
/* "% 64-bit": bounds at or beyond these mean "no bound" in range messages. */
#define CFG_NO_MAX 9.0e18
#define CFG_NO_MIN (-9.0e18)

/* ---------------------------------------------------------------------------------------------- */
/* Errors */

void cfg_errors_init(cfg_errors_t *e)
{
    e->msgs = NULL;
    e->len = e->cap = 0;
}

void cfg_errors_free(cfg_errors_t *e)
{
    for (size_t i = 0; i < e->len; i++)
        free(e->msgs[i]);
    free(e->msgs);
    cfg_errors_init(e);
}

void cfg_errors_add(cfg_errors_t *e, const cfg_mark_t *mark, const char *fmt, ...)
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

void cfg_errors_print(const cfg_errors_t *e, FILE *out)
{
    for (size_t i = 0; i < e->len; i++)
        fprintf(out, "%s\n", e->msgs[i]);
}

/* ---------------------------------------------------------------------------------------------- */
/* Small helpers */

static const char *cfg_kind_name(const cfg_node_t *n)
{
    return n->kind == CFG_MAP ? "a mapping" : n->kind == CFG_SEQ ? "a sequence" : "a scalar";
}

int cfg_node_is_null(const cfg_node_t *n)
{
    if (!n)
        return 1;
    if (n->kind != CFG_SCALAR || n->plain != 1)
        return 0;
    const char *s = n->scalar;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

const cfg_node_t *cfg_node_get(const cfg_node_t *map, const char *key)
{
    if (!map || map->kind != CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

/* The mark of `key` itself in `map` (for "this key is wrong" messages); NULL if absent. */
static const cfg_mark_t *cfg_node_key_mark(const cfg_node_t *map, const char *key)
{
    if (!map || map->kind != CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++)
        if (strcmp(map->keys[i], key) == 0)
            return &map->key_marks[i];
    return NULL;
}

void cfg_node_free(cfg_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->len; i++) {
        if (n->keys)
            free(n->keys[i]);
        cfg_node_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_marks);
    free(n->items);
    free(n->scalar);
    free(n);
}

/* `path` resolved against `base_dir` (absolute paths and "" unchanged); malloc'd. */
static char *cfg_resolve_path(const char *path, const char *base_dir)
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
static char *cfg_base_dir(const char *path)
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
/* Durations, sizes, hints */

static int cfg_parse_i64(const char *s, int64_t *out)
{
    if (!(isdigit((unsigned char)s[0]) ||
          ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Splits "123unit" into the number and the unit; -1 when there is no leading integer. */
static int cfg_number_unit(const char *s, int allow_sign, int64_t *num, const char **unit)
{
    const char *p = s;
    int neg = 0;
    if (allow_sign && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        int d = *p++ - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *num = neg ? -v : v;
    *unit = p;
    return 0;
}

static int cfg_scale(int64_t n, int64_t mult, int64_t *out)
{
    if (n > INT64_MAX / mult || n < -(INT64_MAX / mult))
        return -1;
    *out = n * mult;
    return 0;
}

int config_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    int64_t n;
    const char *unit;
    if (!s || cfg_number_unit(s, 1, &n, &unit) != 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0)
            return cfg_scale(n, units[i].ms, out);
    return -1;
}

int config_parse_size(const char *s, int64_t *out)
{
    /* Units match case-insensitively; "i" means binary (KiB = 1024), without it decimal. */
    static const struct {
        const char *unit;
        int64_t bytes;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"kb", 1000},
                 {"mb", 1000000},
                 {"gb", 1000000000},
                 {"tb", 1000000000000},
                 {"kib", 1024},
                 {"mib", 1048576},
                 {"gib", 1073741824},
                 {"tib", 1099511627776}};
    int64_t n;
    const char *unit;
    if (!s || cfg_number_unit(s, 0, &n, &unit) != 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(unit, units[i].unit) == 0)
            return cfg_scale(n, units[i].bytes, out);
    return -1;
}

void config_format_size(int64_t bytes, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t bytes;
    } units[] = {{"TiB", 1099511627776}, {"GiB", 1073741824}, {"MiB", 1048576}, {"KiB", 1024}};
    for (size_t i = 0; bytes != 0 && i < sizeof units / sizeof units[0]; i++)
        if (bytes % units[i].bytes == 0) {
            snprintf(out, n, "%lld%s", (long long)(bytes / units[i].bytes), units[i].unit);
            return;
        }
    snprintf(out, n, "%lld", (long long)bytes);
}

void config_format_duration(int64_t ms, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; ms != 0 && i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, n, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    snprintf(out, n, "%lldms", (long long)ms);
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions: "fiel" → "file"
 * is one edit, the typo people make). */
static size_t cfg_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256)
        return (size_t)-1;
    /* Three rolling rows (i-2, i-1, i) keep the stack small. */
    size_t rows[3][257];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

const char *config_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = cfg_edit_distance(word, candidates[i]);
        size_t longest = len > strlen(candidates[i]) ? len : strlen(candidates[i]);
        /* A candidate reached only by replacing every character is no hint. */
        if (d <= limit && d < longest && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

/* ---------------------------------------------------------------------------------------------- */
/* YAML → tree */

static cfg_mark_t cfg_mark_of(const char *file, yaml_mark_t m)
{
    cfg_mark_t r = {file, (int)m.line + 1, (int)m.column + 1};
    return r;
}

static int cfg_raw_is_null(const char *s)
{
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static cfg_node_t *cfg_build(yaml_document_t *doc, yaml_node_t *yn, const char *file,
                             const char *base_dir, int depth, cfg_errors_t *errs)
{
    cfg_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->mark = cfg_mark_of(file, yn->start_mark);
    if (depth > CFG_MAX_DEPTH) {
        cfg_errors_add(errs, &n->mark,
                       "YAML nested deeper than %d levels (or a recursive alias): flatten it",
                       CFG_MAX_DEPTH);
        n->kind = CFG_SCALAR;
        n->plain = -1;
        n->scalar = strdup("");
        return n;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        const char *raw = (const char *)yn->data.scalar.value;
        n->kind = CFG_SCALAR;
        if (yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && cfg_raw_is_null(raw)) {
            n->plain = 1;
            n->scalar = strdup(raw);
            break;
        }
        char err[1024];
        n->scalar = config_interpolate(raw, base_dir, err, sizeof err);
        if (!n->scalar) {
            cfg_errors_add(errs, &n->mark, "%s", err);
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
        n->kind = CFG_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        if (!n->items)
            break;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *c = yaml_document_get_node(doc, yn->data.sequence.items.start[i]);
            cfg_node_t *cn = c ? cfg_build(doc, c, file, base_dir, depth + 1, errs) : NULL;
            if (cn)
                n->items[n->len++] = cn;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        n->kind = CFG_MAP;
        size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        n->keys = calloc(cnt ? cnt : 1, sizeof *n->keys);
        n->key_marks = calloc(cnt ? cnt : 1, sizeof *n->key_marks);
        if (!n->items || !n->keys || !n->key_marks)
            break;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_pair_t *pair = &yn->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(doc, pair->key);
            yaml_node_t *v = yaml_document_get_node(doc, pair->value);
            if (!k || !v)
                continue;
            cfg_mark_t km = cfg_mark_of(file, k->start_mark);
            if (k->type != YAML_SCALAR_NODE) {
                cfg_errors_add(errs, &km, "mapping keys must be scalars (plain names), found %s",
                               k->type == YAML_MAPPING_NODE ? "a mapping" : "a sequence");
                continue;
            }
            const char *key = (const char *)k->data.scalar.value;
            const cfg_mark_t *first = cfg_node_key_mark(n, key);
            if (first) {
                cfg_errors_add(errs, &km,
                               "duplicate key '%s' (first given at line %d, column %d): keep one",
                               key, first->line, first->col);
                continue;
            }
            cfg_node_t *cn = cfg_build(doc, v, file, base_dir, depth + 1, errs);
            char *kc = strdup(key);
            if (!cn || !kc) {
                cfg_node_free(cn);
                free(kc);
                continue;
            }
            n->keys[n->len] = kc;
            n->key_marks[n->len] = km;
            n->items[n->len++] = cn;
        }
        break;
    }
    default:
        n->kind = CFG_SCALAR;
        n->plain = 1;
        n->scalar = strdup("");
        break;
    }
    if (n->kind == CFG_SCALAR && !n->scalar) {
        cfg_node_free(n);
        return NULL;
    }
    return n;
}

/* libyaml's error as "FILE:LINE:COL: YAML syntax error: PROBLEM". */
static void cfg_yaml_error(const yaml_parser_t *p, const char *file, const char *text, size_t len,
                           cfg_errors_t *errs)
{
    cfg_mark_t m = cfg_mark_of(file, p->problem_mark);
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
        cfg_errors_add(errs, NULL, "%s: out of memory while reading YAML", file);
    else if (p->context && p->error != YAML_READER_ERROR)
        /* libyaml's context says which construct was open, often the real culprit. */
        cfg_errors_add(errs, &m, "YAML syntax error: %s (%s started at line %d, column %d)",
                       p->problem ? p->problem : "unknown problem", p->context,
                       (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        cfg_errors_add(errs, &m, "YAML syntax error: %s",
                       p->problem ? p->problem : "unknown problem");
}

cfg_node_t *config_parse_yaml(const char *file, const char *text, size_t len, const char *base_dir,
                              cfg_errors_t *errs)
{
    cfg_node_t *tree = NULL;
    yaml_parser_t p;
    yaml_document_t doc;
    int have_doc = 0;
    if (!yaml_parser_initialize(&p)) {
        cfg_errors_add(errs, NULL, "%s: out of memory while reading YAML", file);
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        cfg_yaml_error(&p, file, text, len, errs);
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        cfg_mark_t m = {file, 1, 1};
        cfg_errors_add(errs, &m,
                       "empty file: a pipeline file starts with 'version: 1' and lists "
                       "'pipelines:'");
        goto out;
    }
    tree = cfg_build(&doc, root, file, base_dir, 0, errs);
    yaml_document_delete(&doc);
    have_doc = 0;
    /* A second document would be silently ignored by a one-document reader: refuse it. */
    if (!yaml_parser_load(&p, &doc)) {
        cfg_yaml_error(&p, file, text, len, errs);
        goto out;
    }
    have_doc = 1;
    root = yaml_document_get_root_node(&doc);
    if (root) {
        cfg_mark_t m = cfg_mark_of(file, root->start_mark);
        cfg_errors_add(errs, &m,
                       "a second YAML document ('---'): keep one document per file, or pass "
                       "another file to sluice");
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return tree;
}

/* ---------------------------------------------------------------------------------------------- */
/* Validated configuration */

typedef struct cfg_value {
    int set;     /* given, or defaulted */
    int given;   /* from the YAML */
    int skipped; /* given, but its interpolation failed (already reported) */
    cfg_mark_t key_mark, value_mark;
    char *text;            /* scalars: STRING as is, ENUM canonical, PATH resolved, BOOL true/false,
                              INT canonical, DOUBLE/DURATION/SIZE as written */
    int64_t i;             /* INT, BOOL, DURATION (ms), SIZE (bytes) */
    double d;              /* DOUBLE */
    char **items;          /* LIST items; MAP values */
    char **keys;           /* MAP keys */
    cfg_mark_t *key_marks; /* MAP: where each key is (for messages about one entry) */
    size_t n;
} cfg_value_t;

struct sluice_config {
    const struct sluice_config_field *table;
    size_t n;
    cfg_value_t *v;
};

static void cfg_value_clear(cfg_value_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->items)
            free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_marks);
    free(v->text);
    memset(v, 0, sizeof *v);
}

void config_free(sluice_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t k = 0; k < cfg->n; k++)
        cfg_value_clear(&cfg->v[k]);
    free(cfg->v);
    free(cfg);
}

static const char *cfg_type_expect(const struct sluice_config_field *f)
{
    switch (f->type) {
    case SLUICE_CFG_STRING:
        return "a string";
    case SLUICE_CFG_INT:
        return "an integer";
    case SLUICE_CFG_BOOL:
        return "a boolean (true or false)";
    case SLUICE_CFG_DOUBLE:
        return "a number";
    case SLUICE_CFG_DURATION:
        return "a duration (250ms, 5s, 2m, 1h, 1d; a bare integer is milliseconds)";
    case SLUICE_CFG_SIZE:
        return "a size (512, 64KiB, 4MiB, 1GiB, 10KB, 2MB)";
    case SLUICE_CFG_ENUM:
        return "one of its values";
    case SLUICE_CFG_LIST:
        return "a list (a YAML sequence of scalars or a comma-separated string)";
    case SLUICE_CFG_PATH:
        return "a path";
    case SLUICE_CFG_MAP:
        return "a mapping of names to scalar values";
    }
    return "a value";
}

/* A bound as users write it for this type. */
void config_format_bound(const struct sluice_config_field *f, double b, char *out, size_t n)
{
    if (f->type == SLUICE_CFG_SIZE)
        config_format_size((int64_t)b, out, n);
    else if (f->type == SLUICE_CFG_DURATION)
        config_format_duration((int64_t)b, out, n);
    else if (f->type == SLUICE_CFG_INT)
        snprintf(out, n, "%lld", (long long)b);
    else
        snprintf(out, n, "%g", b);
}

static int cfg_range_error(const struct sluice_config_field *f, double val, const char *text,
                           char *err, size_t errsz)
{
    if (!(f->flags & SLUICE_CFG_RANGE) || (val >= f->min && val <= f->max))
        return 0;
    char lo[64], hi[64];
    config_format_bound(f, f->min, lo, sizeof lo);
    config_format_bound(f, f->max, hi, sizeof hi);
    if (f->max >= CFG_NO_MAX)
        snprintf(err, errsz, "must be at least %s, found %s", lo, text);
    else if (f->min <= CFG_NO_MIN)
        snprintf(err, errsz, "must be at most %s, found %s", hi, text);
    else
        snprintf(err, errsz, "must be between %s and %s, found %s", lo, hi, text);
    return -1;
}

static int cfg_push(char ***arr, size_t n, const char *s, size_t len)
{
    char **a = realloc(*arr, (n + 1) * sizeof *a);
    if (!a)
        return -1;
    *arr = a;
    a[n] = strndup(s, len);
    return a[n] ? 0 : -1;
}

/* Comma-separated items, trimmed, empty ones dropped, appended to v->items. */
static int cfg_split_list(const char *s, cfg_value_t *v)
{
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *a = s, *b = s + len;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            if (cfg_push(&v->items, v->n, a, (size_t)(b - a)) != 0)
                return -1;
            v->n++;
        }
        s += len + (s[len] == ',');
    }
    return 0;
}

/* Parses `s` as a value of field `f` (scalar text; LIST as comma string; MAP as "k=v,…").
 * On error writes the tail of a message ("expects …, found '…'") to err. */
static int cfg_value_from_text(const struct sluice_config_field *f, const char *s,
                               const char *base_dir, cfg_value_t *v, char *err, size_t errsz)
{
    int rc = -1;
    switch (f->type) {
    case SLUICE_CFG_STRING:
        v->text = strdup(s);
        break;
    case SLUICE_CFG_PATH:
        v->text = cfg_resolve_path(s, base_dir);
        break;
    case SLUICE_CFG_INT: {
        if (cfg_parse_i64(s, &v->i) != 0) {
            snprintf(err, errsz, "expects an integer, found '%s'", s);
            goto out;
        }
        if (cfg_range_error(f, (double)v->i, s, err, errsz) != 0)
            goto out;
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)v->i);
        v->text = strdup(num);
        break;
    }
    case SLUICE_CFG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
                                                                               "off"};
        int val = -1;
        for (size_t i = 0; i < 3; i++) {
            if (strcasecmp(s, yes[i]) == 0)
                val = 1;
            if (strcasecmp(s, no[i]) == 0)
                val = 0;
        }
        if (val < 0) {
            snprintf(err, errsz, "expects a boolean (true or false), found '%s'", s);
            goto out;
        }
        v->i = val;
        v->text = strdup(val ? "true" : "false");
        break;
    }
    case SLUICE_CFG_DOUBLE: {
        char *end;
        int ok = isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.';
        errno = 0;
        v->d = ok ? strtod(s, &end) : 0;
        if (!ok || *end || errno == ERANGE || !isfinite(v->d) || strpbrk(s, "xX")) {
            snprintf(err, errsz, "expects a number, found '%s'", s);
            goto out;
        }
        if (cfg_range_error(f, v->d, s, err, errsz) != 0)
            goto out;
        v->text = strdup(s);
        break;
    }
    case SLUICE_CFG_DURATION:
    case SLUICE_CFG_SIZE: {
        int bad = f->type == SLUICE_CFG_DURATION ? config_parse_duration_ms(s, &v->i)
                                                 : config_parse_size(s, &v->i);
        if (bad) {
            snprintf(err, errsz, "expects %s, found '%s'", cfg_type_expect(f), s);
            goto out;
        }
        if (cfg_range_error(f, (double)v->i, s, err, errsz) != 0)
            goto out;
        v->text = strdup(s);
        break;
    }
    case SLUICE_CFG_ENUM: {
        const char *match = NULL;
        for (size_t i = 0; f->enum_values && f->enum_values[i]; i++)
            if (strcasecmp(s, f->enum_values[i]) == 0)
                match = f->enum_values[i];
        if (!match) {
            buf_t b;
            buf_init(&b);
            for (size_t i = 0; f->enum_values && f->enum_values[i]; i++)
                buf_printf(&b, "%s%s", i ? ", " : "", f->enum_values[i]);
            snprintf(err, errsz, "must be one of %s; found '%s'", b.data, s);
            buf_free(&b);
            goto out;
        }
        v->text = strdup(match);
        break;
    }
    case SLUICE_CFG_LIST:
        if (cfg_split_list(s, v) != 0)
            goto nomem;
        rc = 0;
        goto out;
    case SLUICE_CFG_MAP: {
        /* Only table defaults reach here ("k=v,k2=v2"); YAML gives maps as mappings. */
        cfg_value_t pairs = {0};
        if (cfg_split_list(s, &pairs) != 0) {
            cfg_value_clear(&pairs);
            goto nomem;
        }
        for (size_t i = 0; i < pairs.n; i++) {
            const char *eq = strchr(pairs.items[i], '=');
            if (!eq) {
                snprintf(err, errsz, "expects a mapping (k=v pairs), found '%s'", s);
                cfg_value_clear(&pairs);
                goto out;
            }
            if (cfg_push(&v->keys, v->n, pairs.items[i], (size_t)(eq - pairs.items[i])) != 0 ||
                cfg_push(&v->items, v->n, eq + 1, strlen(eq + 1)) != 0) {
                cfg_value_clear(&pairs);
                goto nomem;
            }
            v->n++;
        }
        cfg_value_clear(&pairs);
        rc = 0;
        goto out;
    }
    }
    if (!v->text)
        goto nomem;
    rc = 0;
    goto out;
nomem:
    snprintf(err, errsz, "out of memory");
out:
    return rc;
}

/* Parses a YAML node (not null) as a value of field `f`. */
static int cfg_value_from_node(const struct sluice_config_field *f, const cfg_node_t *node,
                               const char *base_dir, cfg_value_t *v, const cfg_mark_t **at,
                               char *err, size_t errsz)
{
    *at = &node->mark;
    if (f->type == SLUICE_CFG_LIST && node->kind == CFG_SEQ) {
        for (size_t i = 0; i < node->len; i++) {
            const cfg_node_t *it = node->items[i];
            if (it->kind != CFG_SCALAR || cfg_node_is_null(it)) {
                snprintf(err, errsz, "expects %s, found %s as item %zu", cfg_type_expect(f),
                         it->kind == CFG_SCALAR ? "null" : cfg_kind_name(it), i + 1);
                *at = &it->mark;
                return -1;
            }
            if (cfg_push(&v->items, v->n, it->scalar, strlen(it->scalar)) != 0) {
                snprintf(err, errsz, "out of memory");
                return -1;
            }
            v->n++;
        }
        return 0;
    }
    if (f->type == SLUICE_CFG_MAP && node->kind == CFG_MAP) {
        v->keys = calloc(node->len ? node->len : 1, sizeof *v->keys);
        v->items = calloc(node->len ? node->len : 1, sizeof *v->items);
        if (!v->keys || !v->items) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < node->len; i++) {
            const cfg_node_t *it = node->items[i];
            if (it->kind != CFG_SCALAR) {
                snprintf(err, errsz, "expects %s, found %s under '%s'", cfg_type_expect(f),
                         cfg_kind_name(it), node->keys[i]);
                *at = &it->mark;
                return -1;
            }
            /* A null value in a map of properties is the empty string. */
            if (!v->key_marks)
                v->key_marks = calloc(node->len ? node->len : 1, sizeof *v->key_marks);
            if (v->key_marks)
                v->key_marks[i] = node->key_marks[i];
            v->keys[i] = strdup(node->keys[i]);
            v->items[i] = strdup(cfg_node_is_null(it) ? "" : it->scalar);
            v->n++;
            if (!v->keys[i] || !v->items[i]) {
                snprintf(err, errsz, "out of memory");
                return -1;
            }
        }
        return 0;
    }
    if (node->kind != CFG_SCALAR || f->type == SLUICE_CFG_MAP) {
        snprintf(err, errsz, "expects %s, found %s", cfg_type_expect(f),
                 node->kind == CFG_SCALAR ? "a scalar" : cfg_kind_name(node));
        if (node->kind == CFG_SCALAR) {
            size_t l = strlen(err);
            snprintf(err + l, errsz - l, " '%s'", node->scalar);
        }
        return -1;
    }
    return cfg_value_from_text(f, node->scalar, base_dir, v, err, errsz);
}

static size_t cfg_table_len(const struct sluice_config_field *table)
{
    size_t n = 0;
    while (table && table[n].name)
        n++;
    return n;
}

/* Unknown key: the message with a hint, or the list of valid keys when no name is close. */
static void cfg_unknown_key(const struct sluice_config_field *table, const char *const *extra,
                            const char *key, const cfg_mark_t *mark, const char *what,
                            cfg_errors_t *errs)
{
    size_t nt = cfg_table_len(table), ne = 0;
    while (extra && extra[ne])
        ne++;
    const char **names = calloc(nt + ne + 1, sizeof *names);
    if (!names) {
        cfg_errors_add(errs, mark, "unknown key '%s' in %s", key, what);
        return;
    }
    for (size_t i = 0; i < ne; i++)
        names[i] = extra[i];
    for (size_t i = 0; i < nt; i++)
        names[ne + i] = table[i].name;
    const char *hint = config_did_you_mean(key, names, nt + ne);
    if (hint) {
        cfg_errors_add(errs, mark, "unknown key '%s' in %s; did you mean '%s'?", key, what, hint);
    } else if (nt + ne == 0) {
        cfg_errors_add(errs, mark, "unknown key '%s' in %s: it takes no keys", key, what);
    } else if (nt + ne <= 16) {
        buf_t b;
        buf_init(&b);
        for (size_t i = 0; i < nt + ne; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
        cfg_errors_add(errs, mark, "unknown key '%s' in %s (valid keys: %s)", key, what, b.data);
        buf_free(&b);
    } else {
        cfg_errors_add(errs, mark, "unknown key '%s' in %s (see docs/configuration.md)", key, what);
    }
    free(names);
}

static int cfg_in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* A MAP field named "prefix.*" collects every key that starts with "prefix." (Kafka Connect's
 * `producer.override.<property>` style): the index of the field matching `key`, or n. */
static size_t cfg_prefix_field(const struct sluice_config_field *table, size_t n, const char *key)
{
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(table[k].name);
        if (table[k].type == SLUICE_CFG_MAP && len > 2 &&
            strcmp(table[k].name + len - 2, ".*") == 0 &&
            strncmp(key, table[k].name, len - 1) == 0 && key[len - 1] != '\0')
            return k;
    }
    return n;
}

/* Add one `prefix.<sub>: scalar` entry to a prefix field's map. */
static int cfg_prefix_add(cfg_value_t *v, const char *sub, const cfg_node_t *node,
                          const cfg_mark_t *key_mark, char *err, size_t errsz)
{
    if (node->kind != CFG_SCALAR) {
        snprintf(err, errsz, "expects a scalar, found %s", cfg_kind_name(node));
        return -1;
    }
    char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
    if (keys)
        v->keys = keys;
    char **items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (items)
        v->items = items;
    cfg_mark_t *marks = realloc(v->key_marks, (v->n + 1) * sizeof *marks);
    if (marks) {
        v->key_marks = marks;
        marks[v->n] = *key_mark;
    }
    if (!keys || !items) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    v->keys[v->n] = strdup(sub);
    v->items[v->n] = strdup(cfg_node_is_null(node) ? "" : node->scalar);
    if (!v->keys[v->n] || !v->items[v->n]) {
        free(v->keys[v->n]);
        free(v->items[v->n]);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    v->n++;
    if (!v->set) {
        v->set = v->given = 1;
        v->key_mark = *key_mark;
        v->value_mark = node->mark;
    }
    return 0;
}

/* config_validate, plus `extra`: structural keys of the mapping that the caller handles (known,
 * not validated, offered as hints). */
static sluice_config_t *cfg_validate_ex(const cfg_node_t *map,
                                        const struct sluice_config_field *table,
                                        const char *const *extra, const char *what,
                                        const cfg_mark_t *where, const char *base_dir,
                                        cfg_errors_t *errs)
{
    int failed = 0;
    char err[1024];
    sluice_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto nomem;
    cfg->table = table;
    cfg->n = cfg_table_len(table);
    cfg->v = calloc(cfg->n ? cfg->n : 1, sizeof *cfg->v);
    if (!cfg->v)
        goto nomem;
    if (map && !cfg_node_is_null(map) && map->kind != CFG_MAP) {
        cfg_errors_add(errs, &map->mark, "%s expects a mapping of keys, found %s", what,
                       cfg_kind_name(map));
        failed = 1;
        map = NULL;
    }
    if (map && map->kind != CFG_MAP)
        map = NULL;
    const cfg_mark_t **null_marks = calloc(cfg->n ? cfg->n : 1, sizeof *null_marks);
    if (!null_marks)
        goto nomem;
    for (size_t i = 0; map && i < map->len; i++) {
        const char *key = map->keys[i];
        size_t k = 0;
        while (k < cfg->n && strcmp(table[k].name, key) != 0)
            k++;
        if (k == cfg->n) {
            size_t pk = cfg_prefix_field(table, cfg->n, key);
            if (pk < cfg->n) {
                if (cfg_prefix_add(&cfg->v[pk], key + strlen(table[pk].name) - 1, map->items[i],
                                   &map->key_marks[i], err, sizeof err) != 0) {
                    cfg_errors_add(errs, &map->items[i]->mark, "key '%s' in %s %s", key, what, err);
                    failed = 1;
                }
                continue;
            }
            if (!cfg_in_list(extra, key)) {
                cfg_unknown_key(table, extra, key, &map->key_marks[i], what, errs);
                failed = 1;
            }
            continue;
        }
        const cfg_node_t *node = map->items[i];
        cfg_value_t *v = &cfg->v[k];
        if (node->kind == CFG_SCALAR && node->plain == -1) {
            v->skipped = 1;
            continue;
        }
        if (cfg_node_is_null(node)) {
            null_marks[k] = &map->key_marks[i];
            continue;
        }
        const cfg_mark_t *at;
        if (cfg_value_from_node(&table[k], node, base_dir, v, &at, err, sizeof err) != 0) {
            cfg_errors_add(errs, at, "key '%s' in %s %s", key, what, err);
            cfg_value_clear(v);
            v->skipped = 1; /* reported: not "missing" as well */
            failed = 1;
            continue;
        }
        v->set = v->given = 1;
        v->key_mark = map->key_marks[i];
        v->value_mark = node->mark;
    }
    for (size_t k = 0; k < cfg->n; k++) {
        cfg_value_t *v = &cfg->v[k];
        if (v->set || v->skipped)
            continue;
        if (table[k].default_value) {
            if (cfg_value_from_text(&table[k], table[k].default_value, base_dir, v, err,
                                    sizeof err) != 0) {
                cfg_errors_add(errs, where,
                               "%s: the default of key '%s' is invalid (%s): a bug in the plugin's "
                               "table",
                               what, table[k].name, err);
                cfg_value_clear(v);
                failed = 1;
                continue;
            }
            v->set = 1;
        } else if (table[k].flags & SLUICE_CFG_REQUIRED) {
            char eg[512] = "";
            if (table[k].example)
                snprintf(eg, sizeof eg, " (e.g. %s: %s)", table[k].name, table[k].example);
            cfg_errors_add(errs, null_marks[k] ? null_marks[k] : where,
                           "%s: missing required key '%s'%s", what, table[k].name, eg);
            failed = 1;
        }
    }
    free(null_marks);
    if (failed) {
        config_free(cfg);
        cfg = NULL;
    }
    return cfg;
nomem:
    cfg_errors_add(errs, where, "%s: out of memory", what);
    config_free(cfg);
    return NULL;
}

sluice_config_t *config_validate(const cfg_node_t *map, const struct sluice_config_field *table,
                                 const char *what, const cfg_mark_t *where, const char *base_dir,
                                 cfg_errors_t *errs)
{
    return cfg_validate_ex(map, table, NULL, what, where, base_dir, errs);
}

/* ---------------------------------------------------------------------------------------------- */
/* Getters */

static const cfg_value_t *cfg_lookup(const sluice_config_t *cfg, const char *key)
{
    if (!cfg || !key)
        return NULL;
    for (size_t k = 0; k < cfg->n; k++)
        if (strcmp(cfg->table[k].name, key) == 0)
            return &cfg->v[k];
    assert(0 && "config getter called with a key that is not in the table");
    return NULL;
}

int config_has(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set;
}

const cfg_mark_t *config_mark(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->given ? &v->key_mark : NULL;
}

const cfg_mark_t *config_value_mark(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->given ? &v->value_mark : NULL;
}

const char *config_string(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set ? v->text : NULL;
}

int64_t config_int(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set ? v->i : 0;
}

int config_bool(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set ? (int)v->i : 0;
}

double config_double(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set ? v->d : 0.0;
}

int64_t config_duration_ms(const sluice_config_t *cfg, const char *key)
{
    return config_int(cfg, key);
}

int64_t config_size(const sluice_config_t *cfg, const char *key)
{
    return config_int(cfg, key);
}

size_t config_count(const sluice_config_t *cfg, const char *key)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set ? v->n : 0;
}

const char *config_item(const sluice_config_t *cfg, const char *key, size_t i)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set && i < v->n && v->items ? v->items[i] : NULL;
}

const cfg_mark_t *config_map_mark(const sluice_config_t *cfg, const char *key, const char *entry)
{
    const cfg_value_t *v = cfg ? cfg_lookup(cfg, key) : NULL;
    for (size_t i = 0; v && v->set && v->keys && v->key_marks && i < v->n; i++)
        if (strcmp(v->keys[i], entry) == 0)
            return &v->key_marks[i];
    return cfg ? config_mark(cfg, key) : NULL;
}

const char *config_map_key(const sluice_config_t *cfg, const char *key, size_t i)
{
    const cfg_value_t *v = cfg_lookup(cfg, key);
    return v && v->set && i < v->n && v->keys ? v->keys[i] : NULL;
}

/* Sets a STRING key that is unset (the pipeline's topic defaults to its id). */
static int cfg_set_default(sluice_config_t *cfg, const char *key, const char *value)
{
    for (size_t k = 0; k < cfg->n; k++)
        if (strcmp(cfg->table[k].name, key) == 0 && !cfg->v[k].set) {
            cfg->v[k].text = strdup(value);
            cfg->v[k].set = cfg->v[k].text != NULL;
            return cfg->v[k].set ? 0 : -1;
        }
    return -1;
}

/* ---------------------------------------------------------------------------------------------- */
/* Dump */

/* Whether a string must be quoted to read back as the same string in YAML. */
static int cfg_needs_quotes(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no",   "on",
                                        "off",  "y",     "n",   "null", "~"};
    if (!*s || strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]) || isspace((unsigned char)s[strlen(s) - 1]))
        return 1;
    if (strstr(s, ": ") || strstr(s, " #") || strpbrk(s, "\n\t\r\"\\") || s[strlen(s) - 1] == ':')
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    char *end;
    (void)strtod(s, &end);
    return *end == '\0';
}

static void cfg_put_yaml_string(buf_t *out, const char *s)
{
    if (!cfg_needs_quotes(s)) {
        buf_puts(out, s);
        return;
    }
    buf_putc(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_printf(out, "\\%c", *s);
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else if (*s == '\t')
            buf_puts(out, "\\t");
        else if (*s == '\r')
            buf_puts(out, "\\r");
        else
            buf_putc(out, *s);
    }
    buf_putc(out, '"');
}

/* A property that holds a credential, inside a map of properties (librdkafka's sasl.password,
 * ssl.key.password, the registry's basic.auth.user.info, …): redacted like a SECRET key. */
static int cfg_secret_property(const char *name)
{
    static const char *const words[] = {"password", "secret",     "user.info", "jaas",
                                        "token",    "credential", NULL};
    /* the registry's basic.auth.credentials.source names where they come from (USER_INFO) */
    if (strstr(name, "credentials.source"))
        return 0;
    for (size_t i = 0; words[i]; i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

void config_dump(const sluice_config_t *cfg, buf_t *out, int indent)
{
    if (!cfg)
        return;
    for (size_t k = 0; k < cfg->n; k++) {
        const struct sluice_config_field *f = &cfg->table[k];
        const cfg_value_t *v = &cfg->v[k];
        if (!v->set)
            continue;
        size_t nlen = strlen(f->name);
        if (f->type == SLUICE_CFG_MAP && nlen > 2 && strcmp(f->name + nlen - 2, ".*") == 0) {
            /* A prefix key: its entries as written, `prefix.<property>: value`. */
            for (size_t i = 0; i < v->n; i++) {
                buf_printf(out, "%*s%.*s%s: ", indent, "", (int)(nlen - 1), f->name, v->keys[i]);
                if (cfg_secret_property(v->keys[i]))
                    buf_puts(out, "\"********\"");
                else
                    cfg_put_yaml_string(out, v->items[i]);
                buf_putc(out, '\n');
            }
            continue;
        }
        buf_printf(out, "%*s%s:", indent, "", f->name);
        if (f->flags & SLUICE_CFG_SECRET) {
            buf_puts(out, " \"********\"\n");
            continue;
        }
        if (f->type != SLUICE_CFG_MAP || !v->n)
            buf_putc(out, ' ');
        switch (f->type) {
        case SLUICE_CFG_LIST:
            buf_putc(out, '[');
            for (size_t i = 0; i < v->n; i++) {
                if (i)
                    buf_puts(out, ", ");
                cfg_put_yaml_string(out, v->items[i]);
            }
            buf_puts(out, "]\n");
            break;
        case SLUICE_CFG_MAP:
            if (!v->n) {
                buf_puts(out, "{}\n");
                break;
            }
            buf_putc(out, '\n');
            for (size_t i = 0; i < v->n; i++) {
                buf_printf(out, "%*s", indent + 2, "");
                cfg_put_yaml_string(out, v->keys[i]);
                buf_puts(out, ": ");
                if (cfg_secret_property(v->keys[i]))
                    buf_puts(out, "\"********\"");
                else
                    cfg_put_yaml_string(out, v->items[i]);
                buf_putc(out, '\n');
            }
            break;
        case SLUICE_CFG_STRING:
        case SLUICE_CFG_PATH:
        case SLUICE_CFG_ENUM:
            cfg_put_yaml_string(out, v->text);
            buf_putc(out, '\n');
            break;
        default:
            buf_printf(out, "%s\n", v->text);
            break;
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Pipeline files */

static const char *const cfg_top_structural[] = {"version", "pipelines", NULL};
static const char *const cfg_pipeline_structural[] = {"id", "source", "sinks", "predicates", NULL};
static const char *const cfg_source_structural[] = {"plugin", "config", "transforms", NULL};
static const char *const cfg_sink_structural[] = {"id", "plugin", "config", "transforms", NULL};
static const char *const cfg_transform_structural[] = {"plugin", "id", "config", "predicate", NULL};
/* The one non-structural key of a transform entry (Kafka Connect's transforms.<name>.negate). */
static const struct sluice_config_field cfg_transform_keys[] = {
    {.name = "negate",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Apply the transform to the records its `predicate` does NOT match."},
    {.name = NULL},
};
static const struct sluice_config_field cfg_no_keys[] = {{.name = NULL}};

static int cfg_valid_id(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* A required scalar, non-empty key of a structural mapping; NULL (with an error) if absent. */
static const cfg_node_t *cfg_required_scalar(const cfg_node_t *map, const char *key,
                                             const char *what, const char *hint, cfg_errors_t *errs)
{
    const cfg_node_t *n = cfg_node_get(map, key);
    if (n && n->kind == CFG_SCALAR && n->plain == -1)
        return NULL; /* its interpolation failed: reported */
    if (!n || cfg_node_is_null(n)) {
        const cfg_mark_t *km = cfg_node_key_mark(map, key);
        cfg_errors_add(errs, km ? km : &map->mark, "%s: missing required key '%s' (%s)", what, key,
                       hint);
        return NULL;
    }
    if (n->kind != CFG_SCALAR || !*n->scalar) {
        cfg_errors_add(errs, &n->mark, "key '%s' in %s expects %s, found %s", key, what, hint,
                       n->kind == CFG_SCALAR ? "an empty string" : cfg_kind_name(n));
        return NULL;
    }
    return n;
}

static void cfg_instance_free(cfg_instance_t *in)
{
    if (!in)
        return;
    free(in->id);
    free(in->plugin);
    config_free(in->core);
    for (size_t i = 0; i < in->ntransforms; i++)
        cfg_instance_free(&in->transforms[i]);
    free(in->transforms);
    memset(in, 0, sizeof *in);
}

enum cfg_role { CFG_ROLE_SOURCE, CFG_ROLE_TRANSFORM, CFG_ROLE_SINK };

static int cfg_load_instance(const cfg_node_t *node, enum cfg_role role, size_t index,
                             const char *owner, const char *base_dir, cfg_instance_t *out,
                             cfg_errors_t *errs);

/* `transforms:` of an instance → out->transforms. Broken entries are reported and left out. */
static void cfg_load_transforms(const cfg_node_t *map, const char *owner, const char *base_dir,
                                cfg_instance_t *out, cfg_errors_t *errs)
{
    const cfg_node_t *seq = cfg_node_get(map, "transforms");
    if (!seq || cfg_node_is_null(seq) || (seq->kind == CFG_SCALAR && seq->plain == -1))
        return;
    if (seq->kind != CFG_SEQ) {
        cfg_errors_add(errs, &seq->mark,
                       "key 'transforms' in %s expects a sequence of '- plugin: NAME' entries, "
                       "found %s",
                       owner, cfg_kind_name(seq));
        return;
    }
    out->transforms = calloc(seq->len ? seq->len : 1, sizeof *out->transforms);
    if (!out->transforms)
        return;
    for (size_t i = 0; i < seq->len; i++) {
        cfg_instance_t *t = &out->transforms[out->ntransforms];
        if (cfg_load_instance(seq->items[i], CFG_ROLE_TRANSFORM, i + 1, owner, base_dir, t, errs) !=
            0)
            continue;
        int dup = 0;
        for (size_t k = 0; k < out->ntransforms; k++)
            if (strcmp(out->transforms[k].id, t->id) == 0) {
                cfg_errors_add(errs, &t->mark,
                               "duplicate transform id '%s' in %s (also at line %d): give each "
                               "transform its own id",
                               t->id, owner, out->transforms[k].mark.line);
                dup = 1;
            }
        if (dup)
            cfg_instance_free(t);
        else
            out->ntransforms++;
    }
}

void config_load_transforms(const cfg_node_t *map, const char *owner, const char *base_dir,
                            cfg_instance_t *out, cfg_errors_t *errs)
{
    cfg_load_transforms(map, owner, base_dir, out, errs);
}

void config_instance_free(cfg_instance_t *in)
{
    cfg_instance_free(in);
}

sluice_config_t *config_validate_extra(const cfg_node_t *map,
                                       const struct sluice_config_field *table,
                                       const char *const *extra, const char *what,
                                       const cfg_mark_t *where, const char *base_dir,
                                       cfg_errors_t *errs)
{
    return cfg_validate_ex(map, table, extra, what, where, base_dir, errs);
}

/* One source, sink or transform entry. `owner` names what contains it ("pipeline 'x'", or for a
 * transform the source/sink). 0 ok; -1 after reporting (out is left empty). */
static int cfg_load_instance(const cfg_node_t *node, enum cfg_role role, size_t index,
                             const char *owner, const char *base_dir, cfg_instance_t *out,
                             cfg_errors_t *errs)
{
    int rc = -1;
    char what[512];
    memset(out, 0, sizeof *out);
    if (role == CFG_ROLE_SOURCE)
        snprintf(what, sizeof what, "the source of %s", owner);
    else if (role == CFG_ROLE_SINK)
        snprintf(what, sizeof what, "sink #%zu of %s", index, owner);
    else
        snprintf(what, sizeof what, "transform #%zu of %s", index, owner);
    if (node->kind != CFG_MAP) {
        cfg_errors_add(errs, &node->mark,
                       "%s expects a mapping (plugin: NAME, config: {...}), "
                       "found %s",
                       what, cfg_kind_name(node));
        goto out;
    }
    out->mark = node->mark;
    const cfg_node_t *id = cfg_node_get(node, "id");
    if (role == CFG_ROLE_SINK)
        id = cfg_required_scalar(node, "id", what, "a name for the sink, e.g. id: files", errs);
    else if (id && (cfg_node_is_null(id) || (id->kind == CFG_SCALAR && id->plain == -1)))
        id = NULL;
    const cfg_node_t *plugin = cfg_required_scalar(
        node, "plugin", what, "the plugin's name, see `sluice plugins list`", errs);
    if (plugin) {
        out->plugin = strdup(plugin->scalar);
        out->plugin_mark = plugin->mark;
    }
    int ok = plugin != NULL && out->plugin;
    if (id && (id->kind != CFG_SCALAR || !cfg_valid_id(id->scalar))) {
        cfg_errors_add(errs, &id->mark,
                       "invalid id %s%s%s in %s: use letters, digits, '.', '_' and '-'",
                       id->kind == CFG_SCALAR ? "'" : "",
                       id->kind == CFG_SCALAR ? id->scalar : cfg_kind_name(id),
                       id->kind == CFG_SCALAR ? "'" : "", what);
        ok = 0;
    } else if (role == CFG_ROLE_SINK && !id) {
        ok = 0;
    }
    /* Name the instance as precisely as we now can for the rest of its messages. */
    if (role == CFG_ROLE_SINK && id && ok)
        snprintf(what, sizeof what, "sink '%s' (plugin %s) of %s", id->scalar, out->plugin, owner);
    else if (role == CFG_ROLE_SINK && id && id->kind == CFG_SCALAR)
        snprintf(what, sizeof what, "sink '%s' of %s", id->scalar, owner);
    else if (role == CFG_ROLE_SOURCE && out->plugin)
        snprintf(what, sizeof what, "the source (plugin %s) of %s", out->plugin, owner);
    else if (role == CFG_ROLE_TRANSFORM && out->plugin)
        snprintf(what, sizeof what, "transform #%zu (plugin %s) of %s", index, out->plugin, owner);

    if (role == CFG_ROLE_SINK) {
        out->core = cfg_validate_ex(node, config_sink_keys, cfg_sink_structural, what, &node->mark,
                                    base_dir, errs);
        ok = ok && out->core;
    } else {
        sluice_config_t *own = cfg_validate_ex(
            node, role == CFG_ROLE_SOURCE ? cfg_no_keys : cfg_transform_keys,
            role == CFG_ROLE_SOURCE ? cfg_source_structural : cfg_transform_structural, what,
            &node->mark, base_dir, errs);
        ok = ok && own;
        if (own && role == CFG_ROLE_TRANSFORM) {
            const cfg_node_t *pred = cfg_node_get(node, "predicate");
            out->negate = config_bool(own, "negate");
            if (pred && !cfg_node_is_null(pred) && !(pred->kind == CFG_SCALAR && pred->plain == -1))
                out->predicate = pred;
            if (out->negate && !out->predicate) {
                cfg_errors_add(errs, config_mark(own, "negate"),
                               "%s: 'negate' needs a 'predicate' (the name of one of the "
                               "pipeline's predicates, or an inline {type: ...})",
                               what);
                ok = 0;
            }
        }
        config_free(own);
    }
    const cfg_node_t *config = cfg_node_get(node, "config");
    if (config && !cfg_node_is_null(config) &&
        !(config->kind == CFG_SCALAR && config->plain == -1)) {
        if (config->kind != CFG_MAP) {
            cfg_errors_add(errs, &config->mark,
                           "key 'config' in %s expects a mapping of the plugin's keys, found %s",
                           what, cfg_kind_name(config));
            ok = 0;
        } else {
            out->config = config;
        }
    }
    if (role != CFG_ROLE_TRANSFORM)
        cfg_load_transforms(node, what, base_dir, out, errs);
    if (!ok)
        goto out;
    if (role == CFG_ROLE_SOURCE) {
        out->id = strdup("source");
    } else if (id) {
        out->id = strdup(id->scalar);
    } else {
        char def[512];
        snprintf(def, sizeof def, "%s#%zu", out->plugin, index);
        out->id = strdup(def);
    }
    if (!out->id) {
        cfg_errors_add(errs, &node->mark, "%s: out of memory", what);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        cfg_instance_free(out);
    return rc;
}

static void cfg_pipeline_free(cfg_pipeline_t *p)
{
    free(p->id);
    free(p->base_dir);
    config_free(p->core);
    if (p->source) {
        cfg_instance_free(p->source);
        free(p->source);
    }
    for (size_t i = 0; i < p->nsinks; i++)
        cfg_instance_free(&p->sinks[i]);
    free(p->sinks);
    memset(p, 0, sizeof *p);
}

static void cfg_load_pipeline(cfg_run_t *run, const char *file, const cfg_node_t *node,
                              size_t index, const char *base_dir, cfg_errors_t *errs)
{
    cfg_pipeline_t p = {0};
    char what[512];
    int keep = 1;
    snprintf(what, sizeof what, "pipeline #%zu", index);
    if (node->kind != CFG_MAP) {
        cfg_errors_add(errs, &node->mark,
                       "%s expects a mapping (- id: NAME, source: ..., sinks: ...), found %s", what,
                       cfg_kind_name(node));
        return;
    }
    p.mark = node->mark;
    p.file = file;
    p.base_dir = strdup(base_dir);
    const cfg_node_t *id =
        cfg_required_scalar(node, "id", what, "a name for the pipeline, e.g. id: orders", errs);
    if (id && !cfg_valid_id(id->scalar)) {
        cfg_errors_add(errs, &id->mark,
                       "invalid pipeline id '%s': use letters, digits, '.', '_' and '-'",
                       id->scalar);
        id = NULL;
    }
    if (id) {
        p.id = strdup(id->scalar);
        snprintf(what, sizeof what, "pipeline '%s'", id->scalar);
    }
    keep = p.id != NULL && p.base_dir != NULL;

    p.core = cfg_validate_ex(node, config_pipeline_keys, cfg_pipeline_structural, what, &node->mark,
                             base_dir, errs);
    if (p.core && p.id && !config_has(p.core, "topic"))
        cfg_set_default(p.core, "topic", p.id);

    int broken = 0;
    const cfg_node_t *preds = cfg_node_get(node, "predicates");
    if (preds && !cfg_node_is_null(preds) && !(preds->kind == CFG_SCALAR && preds->plain == -1)) {
        if (preds->kind != CFG_MAP) {
            cfg_errors_add(errs, &preds->mark,
                           "key 'predicates' in %s expects a mapping of names to predicates "
                           "(is-tombstone: {type: record-is-tombstone}), found %s",
                           what, cfg_kind_name(preds));
            broken = 1;
        } else {
            p.predicates = preds;
        }
    }
    const cfg_node_t *src = cfg_node_get(node, "source");
    int has_source = src && !cfg_node_is_null(src);
    if (has_source && !(src->kind == CFG_SCALAR && src->plain == -1)) {
        p.source = calloc(1, sizeof *p.source);
        if (!p.source ||
            cfg_load_instance(src, CFG_ROLE_SOURCE, 1, what, base_dir, p.source, errs) != 0) {
            free(p.source);
            p.source = NULL;
            broken = 1;
        }
    } else if (has_source) {
        broken = 1;
    }

    const cfg_node_t *sinks = cfg_node_get(node, "sinks");
    int has_sinks = sinks && !cfg_node_is_null(sinks);
    if (has_sinks && sinks->kind != CFG_SEQ) {
        if (!(sinks->kind == CFG_SCALAR && sinks->plain == -1))
            cfg_errors_add(errs, &sinks->mark,
                           "key 'sinks' in %s expects a sequence of '- id: NAME' entries, found %s",
                           what, cfg_kind_name(sinks));
        has_sinks = 0;
        broken = 1;
    } else if (has_sinks && sinks->len == 0) {
        has_sinks = 0;
    }
    if (has_sinks) {
        p.sinks = calloc(sinks->len, sizeof *p.sinks);
        for (size_t i = 0; p.sinks && i < sinks->len; i++) {
            cfg_instance_t *s = &p.sinks[p.nsinks];
            if (cfg_load_instance(sinks->items[i], CFG_ROLE_SINK, i + 1, what, base_dir, s, errs) !=
                0)
                continue;
            int dup = 0;
            for (size_t k = 0; k < p.nsinks; k++)
                if (strcmp(p.sinks[k].id, s->id) == 0) {
                    cfg_errors_add(errs, &s->mark,
                                   "duplicate sink id '%s' in %s (also at line %d, column %d): "
                                   "give each sink its own id",
                                   s->id, what, p.sinks[k].mark.line, p.sinks[k].mark.col);
                    dup = 1;
                }
            if (dup)
                cfg_instance_free(s);
            else
                p.nsinks++;
        }
    }
    if (!has_source && !has_sinks && !broken) {
        cfg_errors_add(errs, &p.mark,
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
        const cfg_pipeline_t *o = &run->pipelines[i];
        if (strcmp(o->id, p.id) == 0) {
            cfg_errors_add(errs, &id->mark,
                           "duplicate pipeline id '%s': already defined at %s:%d:%d; pipeline "
                           "ids must be unique across all files of a run",
                           p.id, o->mark.file, o->mark.line, o->mark.col);
            keep = 0;
        }
    }
    if (keep) {
        cfg_pipeline_t *np = realloc(run->pipelines, (run->npipelines + 1) * sizeof *np);
        if (np) {
            run->pipelines = np;
            run->pipelines[run->npipelines++] = p;
            return;
        }
        cfg_errors_add(errs, &p.mark, "%s: out of memory", what);
    }
    cfg_pipeline_free(&p);
}

static int cfg_value_equal(const cfg_value_t *a, const cfg_value_t *b)
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
static void cfg_value_move(cfg_value_t *to, cfg_value_t *from)
{
    *to = *from;
    memset(from, 0, sizeof *from);
}

/* A later file's top-level keys: new ones join the run's, contradicting ones are errors. */
static void cfg_merge_global(cfg_run_t *run, sluice_config_t *later, cfg_errors_t *errs)
{
    sluice_config_t *g = run->global;
    for (size_t k = 0; k < later->n; k++) {
        cfg_value_t *lv = &later->v[k];
        if (!lv->given)
            continue;
        cfg_value_t *gv = &g->v[k];
        if (!gv->given) {
            cfg_value_clear(gv);
            cfg_value_move(gv, lv);
        } else if (!cfg_value_equal(gv, lv)) {
            cfg_errors_add(errs, &lv->key_mark,
                           "top-level key '%s' differs from its value at %s:%d:%d: the files of "
                           "one run must agree on it (set it in one file only)",
                           later->table[k].name, gv->key_mark.file, gv->key_mark.line,
                           gv->key_mark.col);
        }
    }
}

static void cfg_load_file(cfg_run_t *run, const char *file, const cfg_node_t *doc,
                          const char *base_dir, cfg_errors_t *errs)
{
    if (doc->kind != CFG_MAP) {
        cfg_errors_add(errs, &doc->mark,
                       "the file expects a mapping at the top (version: 1, pipelines: ...), found "
                       "%s",
                       cfg_kind_name(doc));
        return;
    }
    const cfg_node_t *ver = cfg_node_get(doc, "version");
    if (!ver || cfg_node_is_null(ver)) {
        const cfg_mark_t *km = cfg_node_key_mark(doc, "version");
        cfg_errors_add(errs, km ? km : &doc->mark,
                       "missing required key 'version': start the file with 'version: 1'");
    } else if (ver->kind != CFG_SCALAR || strcmp(ver->scalar, "1") != 0) {
        cfg_errors_add(errs, &ver->mark,
                       "unsupported version %s%s%s: this sluice reads 'version: 1' files",
                       ver->kind == CFG_SCALAR ? "'" : "",
                       ver->kind == CFG_SCALAR ? ver->scalar : cfg_kind_name(ver),
                       ver->kind == CFG_SCALAR ? "'" : "");
    }
    sluice_config_t *g = cfg_validate_ex(doc, config_global_keys, cfg_top_structural,
                                         "the top level", &doc->mark, base_dir, errs);
    if (g) {
        /* plugin.path is a LIST of paths: resolve its items like a PATH. */
        for (size_t k = 0; k < g->n; k++) {
            cfg_value_t *v = &g->v[k];
            if (strcmp(g->table[k].name, "plugin.path") != 0)
                continue;
            for (size_t i = 0; i < v->n; i++) {
                char *r = cfg_resolve_path(v->items[i], base_dir);
                if (r) {
                    free(v->items[i]);
                    v->items[i] = r;
                }
            }
        }
        if (!run->global) {
            run->global = g;
        } else {
            cfg_merge_global(run, g, errs);
            config_free(g);
        }
    }
    const cfg_node_t *pipes = cfg_node_get(doc, "pipelines");
    if (!pipes || cfg_node_is_null(pipes)) {
        const cfg_mark_t *km = cfg_node_key_mark(doc, "pipelines");
        cfg_errors_add(errs, km ? km : &doc->mark,
                       "missing required key 'pipelines': list at least one pipeline "
                       "(pipelines: [- id: NAME ...])");
        return;
    }
    if (pipes->kind != CFG_SEQ) {
        if (!(pipes->kind == CFG_SCALAR && pipes->plain == -1))
            cfg_errors_add(errs, &pipes->mark,
                           "key 'pipelines' expects a sequence of pipelines ('- id: NAME' "
                           "entries), found %s",
                           cfg_kind_name(pipes));
        return;
    }
    if (pipes->len == 0) {
        cfg_errors_add(errs, &pipes->mark,
                       "key 'pipelines' is empty: list at least one pipeline ('- id: NAME')");
        return;
    }
    for (size_t i = 0; i < pipes->len; i++)
        cfg_load_pipeline(run, file, pipes->items[i], i + 1, base_dir, errs);
}

int config_load(cfg_run_t *run, const char *const *paths, size_t npaths, cfg_errors_t *errs)
{
    size_t before = errs->len;
    buf_t text;
    buf_init(&text);
    memset(run, 0, sizeof *run);
    run->files = calloc(npaths ? npaths : 1, sizeof *run->files);
    run->docs = calloc(npaths ? npaths : 1, sizeof *run->docs);
    if (!run->files || !run->docs) {
        cfg_errors_add(errs, NULL, "out of memory loading the configuration");
        goto out;
    }
    run->nfiles = npaths;
    for (size_t i = 0; i < npaths; i++) {
        run->files[i] = strdup(paths[i]);
        if (!run->files[i]) {
            cfg_errors_add(errs, NULL, "out of memory loading the configuration");
            goto out;
        }
    }
    if (npaths == 0)
        cfg_errors_add(errs, NULL, "no pipeline file given");
    for (size_t i = 0; i < npaths; i++) {
        const char *file = run->files[i];
        buf_reset(&text);
        if (buf_read_file(&text, file) != 0) {
            cfg_errors_add(errs, NULL, "%s: cannot read: %s", file, strerror(errno));
            continue;
        }
        char *base_dir = cfg_base_dir(file);
        if (!base_dir) {
            cfg_errors_add(errs, NULL, "%s: out of memory", file);
            continue;
        }
        run->docs[i] = config_parse_yaml(file, text.data, text.len, base_dir, errs);
        if (run->docs[i])
            cfg_load_file(run, file, run->docs[i], base_dir, errs);
        free(base_dir);
    }
out:
    buf_free(&text);
    return errs->len > before ? -1 : 0;
}

void config_run_free(cfg_run_t *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->npipelines; i++)
        cfg_pipeline_free(&run->pipelines[i]);
    free(run->pipelines);
    config_free(run->global);
    for (size_t i = 0; i < run->nfiles; i++) {
        if (run->docs)
            cfg_node_free(run->docs[i]);
        if (run->files)
            free(run->files[i]);
    }
    free(run->docs);
    free(run->files);
    memset(run, 0, sizeof *run);
}
