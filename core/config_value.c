/* config_value.c — see config.h: typed values (durations, sizes, hints) and the validation of a
 * mapping against a table of sluice_config_field, with its getters and dump.
 *
 * Choices worth knowing:
 *  - BOOL accepts true/false and YAML 1.1's yes/no/on/off, case-insensitively, quoted or not.
 *  - ENUM values match case-insensitively and read back in the table's spelling.
 *  - A plain (unquoted) `~`, `null`, `Null`, `NULL` or empty value means "unset". A value produced
 *    by interpolation is never null (`${X:-}` is the empty string).
 *  - LIST: a YAML sequence of scalars, or a comma-separated string (items trimmed, empty items
 *    dropped). A MAP default in a table is written "k=v,k2=v2". */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "redact.h"

/* "% 64-bit": bounds at or beyond these mean "no bound" in range messages. */
#define CONFIG_NO_MAX 9.0e18
#define CONFIG_NO_MIN (-9.0e18)

/* ---------------------------------------------------------------------------------------------- */
/* Durations, sizes, hints */

static int config_parse_i64(const char *s, int64_t *out)
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
static int config_number_unit(const char *s, int allow_sign, int64_t *num, const char **unit)
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

static int config_scale(int64_t n, int64_t mult, int64_t *out)
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
    if (!s || config_number_unit(s, 1, &n, &unit) != 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0)
            return config_scale(n, units[i].ms, out);
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
    if (!s || config_number_unit(s, 0, &n, &unit) != 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(unit, units[i].unit) == 0)
            return config_scale(n, units[i].bytes, out);
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
static size_t config_edit_distance(const char *a, const char *b)
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
        size_t d = config_edit_distance(word, candidates[i]);
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
/* Validated configuration */

void config_value_clear(config_value_t *v)
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
        config_value_clear(&cfg->v[k]);
    free(cfg->v);
    free(cfg);
}

static const char *config_type_expect(const struct sluice_config_field *f)
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

static int config_range_error(const struct sluice_config_field *f, double val, const char *text,
                              char *err, size_t errsz)
{
    if (!(f->flags & SLUICE_CFG_RANGE) || (val >= f->min && val <= f->max))
        return 0;
    char lo[64], hi[64];
    config_format_bound(f, f->min, lo, sizeof lo);
    config_format_bound(f, f->max, hi, sizeof hi);
    if (f->max >= CONFIG_NO_MAX)
        snprintf(err, errsz, "must be at least %s, found %s", lo, text);
    else if (f->min <= CONFIG_NO_MIN)
        snprintf(err, errsz, "must be at most %s, found %s", hi, text);
    else
        snprintf(err, errsz, "must be between %s and %s, found %s", lo, hi, text);
    return -1;
}

static int config_push(char ***arr, size_t n, const char *s, size_t len)
{
    char **a = realloc(*arr, (n + 1) * sizeof *a);
    if (!a)
        return -1;
    *arr = a;
    a[n] = strndup(s, len);
    return a[n] ? 0 : -1;
}

/* Comma-separated items, trimmed, empty ones dropped, appended to v->items. */
static int config_split_list(const char *s, config_value_t *v)
{
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *a = s, *b = s + len;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            if (config_push(&v->items, v->n, a, (size_t)(b - a)) != 0)
                return -1;
            v->n++;
        }
        s += len + (s[len] == ',');
    }
    return 0;
}

/* Parses `s` as a value of field `f` (scalar text; LIST as comma string; MAP as "k=v,…").
 * On error writes the tail of a message ("expects …, found '…'") to err. */
static int config_value_from_text(const struct sluice_config_field *f, const char *s,
                                  const char *base_dir, config_value_t *v, char *err, size_t errsz)
{
    int rc = -1;
    switch (f->type) {
    case SLUICE_CFG_STRING:
        v->text = strdup(s);
        break;
    case SLUICE_CFG_PATH:
        v->text = config_resolve_path(s, base_dir);
        break;
    case SLUICE_CFG_INT: {
        if (config_parse_i64(s, &v->i) != 0) {
            snprintf(err, errsz, "expects an integer, found '%s'", s);
            goto out;
        }
        if (config_range_error(f, (double)v->i, s, err, errsz) != 0)
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
        if (config_range_error(f, v->d, s, err, errsz) != 0)
            goto out;
        v->text = strdup(s);
        break;
    }
    case SLUICE_CFG_DURATION:
    case SLUICE_CFG_SIZE: {
        int bad = f->type == SLUICE_CFG_DURATION ? config_parse_duration_ms(s, &v->i)
                                                 : config_parse_size(s, &v->i);
        if (bad) {
            snprintf(err, errsz, "expects %s, found '%s'", config_type_expect(f), s);
            goto out;
        }
        if (config_range_error(f, (double)v->i, s, err, errsz) != 0)
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
        if (config_split_list(s, v) != 0)
            goto nomem;
        rc = 0;
        goto out;
    case SLUICE_CFG_MAP: {
        /* Only table defaults reach here ("k=v,k2=v2"); YAML gives maps as mappings. */
        config_value_t pairs = {0};
        if (config_split_list(s, &pairs) != 0) {
            config_value_clear(&pairs);
            goto nomem;
        }
        for (size_t i = 0; i < pairs.n; i++) {
            const char *eq = strchr(pairs.items[i], '=');
            if (!eq) {
                snprintf(err, errsz, "expects a mapping (k=v pairs), found '%s'", s);
                config_value_clear(&pairs);
                goto out;
            }
            if (config_push(&v->keys, v->n, pairs.items[i], (size_t)(eq - pairs.items[i])) != 0 ||
                config_push(&v->items, v->n, eq + 1, strlen(eq + 1)) != 0) {
                config_value_clear(&pairs);
                goto nomem;
            }
            v->n++;
        }
        config_value_clear(&pairs);
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
static int config_value_from_node(const struct sluice_config_field *f, const config_node_t *node,
                                  const char *base_dir, config_value_t *v, const config_mark_t **at,
                                  char *err, size_t errsz)
{
    *at = &node->mark;
    if (f->type == SLUICE_CFG_LIST && node->kind == CONFIG_SEQ) {
        for (size_t i = 0; i < node->len; i++) {
            const config_node_t *it = node->items[i];
            if (it->kind != CONFIG_SCALAR || config_node_is_null(it)) {
                snprintf(err, errsz, "expects %s, found %s as item %zu", config_type_expect(f),
                         it->kind == CONFIG_SCALAR ? "null" : config_kind_name(it), i + 1);
                *at = &it->mark;
                return -1;
            }
            if (config_push(&v->items, v->n, it->scalar, strlen(it->scalar)) != 0) {
                snprintf(err, errsz, "out of memory");
                return -1;
            }
            v->n++;
        }
        return 0;
    }
    if (f->type == SLUICE_CFG_MAP && node->kind == CONFIG_MAP) {
        v->keys = calloc(node->len ? node->len : 1, sizeof *v->keys);
        v->items = calloc(node->len ? node->len : 1, sizeof *v->items);
        if (!v->keys || !v->items) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < node->len; i++) {
            const config_node_t *it = node->items[i];
            if (it->kind != CONFIG_SCALAR) {
                snprintf(err, errsz, "expects %s, found %s under '%s'", config_type_expect(f),
                         config_kind_name(it), node->keys[i]);
                *at = &it->mark;
                return -1;
            }
            /* A null value in a map of properties is the empty string. */
            if (!v->key_marks)
                v->key_marks = calloc(node->len ? node->len : 1, sizeof *v->key_marks);
            if (v->key_marks)
                v->key_marks[i] = node->key_marks[i];
            v->keys[i] = strdup(node->keys[i]);
            v->items[i] = strdup(config_node_is_null(it) ? "" : it->scalar);
            v->n++;
            if (!v->keys[i] || !v->items[i]) {
                snprintf(err, errsz, "out of memory");
                return -1;
            }
        }
        return 0;
    }
    if (node->kind != CONFIG_SCALAR || f->type == SLUICE_CFG_MAP) {
        snprintf(err, errsz, "expects %s, found %s", config_type_expect(f),
                 node->kind == CONFIG_SCALAR ? "a scalar" : config_kind_name(node));
        if (node->kind == CONFIG_SCALAR) {
            size_t l = strlen(err);
            snprintf(err + l, errsz - l, " '%s'", node->scalar);
        }
        return -1;
    }
    return config_value_from_text(f, node->scalar, base_dir, v, err, errsz);
}

static size_t config_table_len(const struct sluice_config_field *table)
{
    size_t n = 0;
    while (table && table[n].name)
        n++;
    return n;
}

/* Unknown key: the message with a hint, or the list of valid keys when no name is close. */
static void config_unknown_key(const struct sluice_config_field *table, const char *const *extra,
                               const char *key, const config_mark_t *mark, const char *what,
                               config_errors_t *errs)
{
    size_t nt = config_table_len(table), ne = 0;
    while (extra && extra[ne])
        ne++;
    const char **names = calloc(nt + ne + 1, sizeof *names);
    if (!names) {
        config_errors_add(errs, mark, "unknown key '%s' in %s", key, what);
        return;
    }
    for (size_t i = 0; i < ne; i++)
        names[i] = extra[i];
    for (size_t i = 0; i < nt; i++)
        names[ne + i] = table[i].name;
    const char *hint = config_did_you_mean(key, names, nt + ne);
    if (hint) {
        config_errors_add(errs, mark, "unknown key '%s' in %s; did you mean '%s'?", key, what,
                          hint);
    } else if (nt + ne == 0) {
        config_errors_add(errs, mark, "unknown key '%s' in %s: it takes no keys", key, what);
    } else if (nt + ne <= 16) {
        buf_t b;
        buf_init(&b);
        for (size_t i = 0; i < nt + ne; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
        config_errors_add(errs, mark, "unknown key '%s' in %s (valid keys: %s)", key, what, b.data);
        buf_free(&b);
    } else {
        config_errors_add(errs, mark, "unknown key '%s' in %s (see docs/configuration.md)", key,
                          what);
    }
    free(names);
}

static int config_in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* A MAP field named "prefix.*" collects every key that starts with "prefix." (Kafka Connect's
 * `producer.override.<property>` style): the index of the field matching `key`, or n. */
static size_t config_prefix_field(const struct sluice_config_field *table, size_t n,
                                  const char *key)
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
static int config_prefix_add(config_value_t *v, const char *sub, const config_node_t *node,
                             const config_mark_t *key_mark, char *err, size_t errsz)
{
    if (node->kind != CONFIG_SCALAR) {
        snprintf(err, errsz, "expects a scalar, found %s", config_kind_name(node));
        return -1;
    }
    char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
    if (keys)
        v->keys = keys;
    char **items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (items)
        v->items = items;
    config_mark_t *marks = realloc(v->key_marks, (v->n + 1) * sizeof *marks);
    if (marks) {
        v->key_marks = marks;
        marks[v->n] = *key_mark;
    }
    if (!keys || !items) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    v->keys[v->n] = strdup(sub);
    v->items[v->n] = strdup(config_node_is_null(node) ? "" : node->scalar);
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
sluice_config_t *config_validate_extra(const config_node_t *map,
                                       const struct sluice_config_field *table,
                                       const char *const *extra, const char *what,
                                       const config_mark_t *where, const char *base_dir,
                                       config_errors_t *errs)
{
    int failed = 0;
    char err[1024];
    sluice_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto nomem;
    cfg->table = table;
    cfg->n = config_table_len(table);
    cfg->v = calloc(cfg->n ? cfg->n : 1, sizeof *cfg->v);
    if (!cfg->v)
        goto nomem;
    if (map && !config_node_is_null(map) && map->kind != CONFIG_MAP) {
        config_errors_add(errs, &map->mark, "%s expects a mapping of keys, found %s", what,
                          config_kind_name(map));
        failed = 1;
        map = NULL;
    }
    if (map && map->kind != CONFIG_MAP)
        map = NULL;
    const config_mark_t **null_marks = calloc(cfg->n ? cfg->n : 1, sizeof *null_marks);
    if (!null_marks)
        goto nomem;
    for (size_t i = 0; map && i < map->len; i++) {
        const char *key = map->keys[i];
        size_t k = 0;
        while (k < cfg->n && strcmp(table[k].name, key) != 0)
            k++;
        if (k == cfg->n) {
            size_t pk = config_prefix_field(table, cfg->n, key);
            if (pk < cfg->n) {
                if (config_prefix_add(&cfg->v[pk], key + strlen(table[pk].name) - 1, map->items[i],
                                      &map->key_marks[i], err, sizeof err) != 0) {
                    config_errors_add(errs, &map->items[i]->mark, "key '%s' in %s %s", key, what,
                                      err);
                    failed = 1;
                }
                continue;
            }
            if (!config_in_list(extra, key)) {
                config_unknown_key(table, extra, key, &map->key_marks[i], what, errs);
                failed = 1;
            }
            continue;
        }
        const config_node_t *node = map->items[i];
        config_value_t *v = &cfg->v[k];
        if (node->kind == CONFIG_SCALAR && node->plain == -1) {
            v->skipped = 1;
            continue;
        }
        if (config_node_is_null(node)) {
            null_marks[k] = &map->key_marks[i];
            continue;
        }
        const config_mark_t *at;
        if (config_value_from_node(&table[k], node, base_dir, v, &at, err, sizeof err) != 0) {
            config_errors_add(errs, at, "key '%s' in %s %s", key, what, err);
            config_value_clear(v);
            v->skipped = 1; /* reported: not "missing" as well */
            failed = 1;
            continue;
        }
        v->set = v->given = 1;
        v->key_mark = map->key_marks[i];
        v->value_mark = node->mark;
    }
    for (size_t k = 0; k < cfg->n; k++) {
        config_value_t *v = &cfg->v[k];
        if (v->set || v->skipped)
            continue;
        if (table[k].default_value) {
            if (config_value_from_text(&table[k], table[k].default_value, base_dir, v, err,
                                       sizeof err) != 0) {
                config_errors_add(
                    errs, where,
                    "%s: the default of key '%s' is invalid (%s): a bug in the plugin's "
                    "table",
                    what, table[k].name, err);
                config_value_clear(v);
                failed = 1;
                continue;
            }
            v->set = 1;
        } else if (table[k].flags & SLUICE_CFG_REQUIRED) {
            char eg[512] = "";
            if (table[k].example)
                snprintf(eg, sizeof eg, " (e.g. %s: %s)", table[k].name, table[k].example);
            config_errors_add(errs, null_marks[k] ? null_marks[k] : where,
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
    config_errors_add(errs, where, "%s: out of memory", what);
    config_free(cfg);
    return NULL;
}

sluice_config_t *config_validate(const config_node_t *map, const struct sluice_config_field *table,
                                 const char *what, const config_mark_t *where, const char *base_dir,
                                 config_errors_t *errs)
{
    return config_validate_extra(map, table, NULL, what, where, base_dir, errs);
}

/* ---------------------------------------------------------------------------------------------- */
/* Getters */

static const config_value_t *config_lookup(const sluice_config_t *cfg, const char *key)
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
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set;
}

const config_mark_t *config_mark(const sluice_config_t *cfg, const char *key)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->given ? &v->key_mark : NULL;
}

const config_mark_t *config_value_mark(const sluice_config_t *cfg, const char *key)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->given ? &v->value_mark : NULL;
}

const char *config_string(const sluice_config_t *cfg, const char *key)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set ? v->text : NULL;
}

int64_t config_int(const sluice_config_t *cfg, const char *key)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set ? v->i : 0;
}

int config_bool(const sluice_config_t *cfg, const char *key)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set ? (int)v->i : 0;
}

double config_double(const sluice_config_t *cfg, const char *key)
{
    const config_value_t *v = config_lookup(cfg, key);
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
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set ? v->n : 0;
}

const char *config_item(const sluice_config_t *cfg, const char *key, size_t i)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set && i < v->n && v->items ? v->items[i] : NULL;
}

const config_mark_t *config_map_mark(const sluice_config_t *cfg, const char *key, const char *entry)
{
    const config_value_t *v = cfg ? config_lookup(cfg, key) : NULL;
    for (size_t i = 0; v && v->set && v->keys && v->key_marks && i < v->n; i++)
        if (strcmp(v->keys[i], entry) == 0)
            return &v->key_marks[i];
    return cfg ? config_mark(cfg, key) : NULL;
}

const char *config_map_key(const sluice_config_t *cfg, const char *key, size_t i)
{
    const config_value_t *v = config_lookup(cfg, key);
    return v && v->set && i < v->n && v->keys ? v->keys[i] : NULL;
}

sluice_err_t config_map(const sluice_config_t *cfg, void *base)
{
    for (size_t k = 0; k < cfg->n; k++) {
        const struct sluice_config_field *f = &cfg->table[k];
        const config_value_t *v = &cfg->v[k];
        char *at = (char *)base + f->offset;
        if (!f->set || !v->set)
            continue;
        /* memcpy: the member's alignment is the plugin's business, not checked here. */
        switch (f->type) {
        case SLUICE_CFG_STRING:
        case SLUICE_CFG_ENUM:
        case SLUICE_CFG_PATH:
            memcpy(at, &(const char *){v->text}, sizeof(const char *));
            break;
        case SLUICE_CFG_INT:
        case SLUICE_CFG_DURATION:
        case SLUICE_CFG_SIZE:
            memcpy(at, &v->i, sizeof(int64_t));
            break;
        case SLUICE_CFG_BOOL:
            memcpy(at, &(int){(int)v->i}, sizeof(int));
            break;
        case SLUICE_CFG_DOUBLE:
            memcpy(at, &v->d, sizeof(double));
            break;
        case SLUICE_CFG_LIST:
        case SLUICE_CFG_MAP:
            break; /* refused by the loader */
        }
    }
    return SLUICE_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Dump */

/* Whether a string must be quoted to read back as the same string in YAML. */
static int config_needs_quotes(const char *s)
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

static void config_put_yaml_string(buf_t *out, const char *s)
{
    if (!config_needs_quotes(s)) {
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

/* A string value as YAML, with the credentials of the URLs in it hidden. */
static void config_put_value(buf_t *out, const char *s)
{
    char small[256];
    size_t n = redact_url(small, sizeof small, s);
    if (n < sizeof small) {
        config_put_yaml_string(out, small);
        return;
    }
    char *big = malloc(n + 1);
    if (!big) {
        buf_puts(out, "\"" REDACTED "\"");
        return;
    }
    redact_url(big, n + 1, s);
    config_put_yaml_string(out, big);
    free(big);
}

int config_map_entry_secret(const struct sluice_config_field *f, const char *entry)
{
    if (f->flags & SLUICE_CFG_SECRET)
        return 1;
    if (strcmp(f->name, "kafka") == 0 || strcmp(f->name, "producer.override.*") == 0 ||
        strcmp(f->name, "consumer.override.*") == 0)
        return config_in_list(config_kafka_secret_properties, entry);
    if (strcmp(f->name, "schema.registry") == 0) {
        /* Confluent's converter names carry a prefix: "schema.registry.basic.auth.user.info" */
        if (strncmp(entry, "schema.registry.", 16) == 0)
            entry += 16;
        for (const struct sluice_config_field *k = config_registry_keys; k->name; k++)
            if (strcmp(k->name, entry) == 0)
                return (k->flags & SLUICE_CFG_SECRET) != 0;
    }
    return 0;
}

void config_dump(const sluice_config_t *cfg, buf_t *out, int indent)
{
    if (!cfg)
        return;
    for (size_t k = 0; k < cfg->n; k++) {
        const struct sluice_config_field *f = &cfg->table[k];
        const config_value_t *v = &cfg->v[k];
        if (!v->set)
            continue;
        size_t nlen = strlen(f->name);
        if (f->type == SLUICE_CFG_MAP && nlen > 2 && strcmp(f->name + nlen - 2, ".*") == 0) {
            /* A prefix key: its entries as written, `prefix.<property>: value`. */
            for (size_t i = 0; i < v->n; i++) {
                buf_printf(out, "%*s%.*s%s: ", indent, "", (int)(nlen - 1), f->name, v->keys[i]);
                if (config_map_entry_secret(f, v->keys[i]))
                    buf_puts(out, "\"" REDACTED "\"");
                else
                    config_put_value(out, v->items[i]);
                buf_putc(out, '\n');
            }
            continue;
        }
        buf_printf(out, "%*s%s:", indent, "", f->name);
        if (f->flags & SLUICE_CFG_SECRET) {
            buf_puts(out, " \"" REDACTED "\"\n");
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
                config_put_value(out, v->items[i]);
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
                config_put_yaml_string(out, v->keys[i]);
                buf_puts(out, ": ");
                if (config_map_entry_secret(f, v->keys[i]))
                    buf_puts(out, "\"" REDACTED "\"");
                else
                    config_put_value(out, v->items[i]);
                buf_putc(out, '\n');
            }
            break;
        case SLUICE_CFG_STRING:
        case SLUICE_CFG_PATH:
        case SLUICE_CFG_ENUM:
            config_put_value(out, v->text);
            buf_putc(out, '\n');
            break;
        default:
            buf_printf(out, "%s\n", v->text);
            break;
        }
    }
}

void config_flat(const sluice_config_t *cfg, void (*fn)(void *, const char *, const char *),
                 void *opaque)
{
    if (!cfg)
        return;
    buf_t b;
    buf_init(&b);
    for (size_t k = 0; k < cfg->n; k++) {
        const struct sluice_config_field *f = &cfg->table[k];
        const config_value_t *v = &cfg->v[k];
        if (!v->given)
            continue;
        size_t nlen = strlen(f->name);
        if (f->type == SLUICE_CFG_MAP) {
            /* `prefix.*` entries and a map's entries alike, as `key.entry`. */
            int prefix = nlen > 2 && strcmp(f->name + nlen - 2, ".*") == 0;
            size_t base = prefix ? nlen - 2 : nlen;
            for (size_t i = 0; i < v->n; i++) {
                buf_reset(&b);
                buf_printf(&b, "%.*s.%s", (int)base, f->name, v->keys[i]);
                fn(opaque, b.data,
                   (f->flags & SLUICE_CFG_SECRET) || config_map_entry_secret(f, v->keys[i])
                       ? REDACTED
                       : v->items[i]);
            }
            continue;
        }
        if (f->flags & SLUICE_CFG_SECRET) {
            fn(opaque, f->name, REDACTED);
            continue;
        }
        if (f->type == SLUICE_CFG_LIST) {
            buf_reset(&b);
            for (size_t i = 0; i < v->n; i++)
                buf_printf(&b, "%s%s", i ? "," : "", v->items[i]);
            fn(opaque, f->name, b.data ? b.data : "");
            continue;
        }
        const char *text = v->text ? v->text : "";
        size_t n = redact_url(NULL, 0, text);
        buf_reset(&b);
        if (buf_reserve(&b, n + 1) == 0) {
            redact_url(b.data, n + 1, text);
            fn(opaque, f->name, b.data);
        } else {
            fn(opaque, f->name, REDACTED);
        }
    }
    buf_free(&b);
}

static int config_str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int config_equal(const sluice_config_t *a, const sluice_config_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->table != b->table || a->n != b->n)
        return 0;
    for (size_t k = 0; k < a->n; k++) {
        const config_value_t *x = &a->v[k], *y = &b->v[k];
        if (x->set != y->set || x->given != y->given || !config_str_eq(x->text, y->text) ||
            x->n != y->n)
            return 0;
        for (size_t i = 0; i < x->n; i++)
            if (!config_str_eq(x->items ? x->items[i] : NULL, y->items ? y->items[i] : NULL) ||
                !config_str_eq(x->keys ? x->keys[i] : NULL, y->keys ? y->keys[i] : NULL))
                return 0;
    }
    return 1;
}
