/*
 * replace-field — Kafka Connect's ReplaceField$Value / $Key: keeps, drops and renames the top-level
 * fields of a struct or map.
 *
 * A field is kept when it is not in `exclude` and `include` is empty or names it; a kept field is
 * renamed by `renames`. Struct values are rebuilt on a derived schema (built once per input schema,
 * cached); schemaless maps only renamed are edited in place, others rebuilt in the batch arena.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

struct replace_field {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    xf_where_t where;
    struct xf_names exclude, include;
    struct xf_pairs renames;
    struct xf_cache cache;
    /* Schemaless maps are rebuilt by appending (value_map_append, when the host has it and there
     * are at most 64 renames, for the bit sets of replace_field_map). */
    int append;
    /* Schemaless maps are edited in place (value_map_rename) when nothing is dropped: the host has
     * it, `append` holds and neither exclude nor include is set. */
    int in_place;
    /* 1 for each byte that starts a name of exclude, include or renames (either side): a field
     * whose name starts with another byte is kept as it is, without a string compare. */
    unsigned char first[256];
    unsigned char pair[256]; /* by replace_field_pair of the first two bytes: a finer filter */
};

static const struct sluice_config_field replace_field_config[] = {
    XF_WHERE_FIELD,
    {.name = "exclude",
     .type = SLUICE_CFG_LIST,
     .description = "Fields to drop. Takes precedence over `include`.",
     .example = "password,ssn"},
    {.name = "include",
     .type = SLUICE_CFG_LIST,
     .description = "Fields to keep; when set, every other field is dropped.",
     .example = "id,name,email"},
    {.name = "renames",
     .type = SLUICE_CFG_LIST,
     .description = "Renames as `old:new` pairs (applied to the fields kept).",
     .example = "fname:first_name,lname:last_name"},
    {.name = "blacklist",
     .type = SLUICE_CFG_LIST,
     .description = "Deprecated synonym of `exclude` (Kafka Connect's old name).",
     .example = "password"},
    {.name = "whitelist",
     .type = SLUICE_CFG_LIST,
     .description = "Deprecated synonym of `include` (Kafka Connect's old name).",
     .example = "id,name"},
    {.name = NULL},
};

/* Loads `key`, or its deprecated synonym `old` when `key` is not given (Kafka Connect's
 * translateDeprecatedConfigs: the new name wins when both are set). */
static int replace_field_load_list(struct replace_field *x, const sluice_config_t *cfg,
                                   const char *key, const char *old, struct xf_names *out,
                                   char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const char *use = key;

    if (h->config_has(cfg, old)) {
        if (h->config_has(cfg, key)) {
            h->log(x->ctx, SLUICE_LOG_WARN,
                   "both '%s' and its deprecated synonym '%s' are set: "
                   "'%s' is used",
                   key, old, key);
        } else {
            h->log(x->ctx, SLUICE_LOG_WARN, "'%s' is deprecated: use '%s'", old, key);
            use = old;
        }
    }
    return xf_names_load(h, cfg, use, out, errstr, errstr_size);
}

static void replace_field_free(struct replace_field *x)
{
    if (x == NULL) {
        return;
    }
    xf_names_free(&x->exclude);
    xf_names_free(&x->include);
    xf_pairs_free(&x->renames);
    xf_cache_free(&x->cache);
    free(x);
}

/* A hash of a name's first two bytes (the second is the NUL of a one-byte name). */
static unsigned replace_field_pair(const char *name)
{
    if (name[0] == '\0') {
        return 0;
    }
    return ((unsigned)(unsigned char)name[0] * 31u + (unsigned char)name[1]) & 255u;
}

static sluice_err_t replace_field_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                       const sluice_config_t *config, void **state, char *errstr,
                                       size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct replace_field *x = calloc(1, sizeof *x);

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    x->where = xf_where(host, config);
    if (replace_field_load_list(x, config, "exclude", "blacklist", &x->exclude, errstr,
                                errstr_size) != 0 ||
        replace_field_load_list(x, config, "include", "whitelist", &x->include, errstr,
                                errstr_size) != 0) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    err = xf_pairs_load(host, config, "renames", &x->renames, errstr, errstr_size);
    if (err != SLUICE_OK) {
        goto out;
    }
    for (size_t i = 0; i < x->renames.n; i++) {
        /* Kafka Connect splits each item on every ':' and wants exactly two parts. */
        if (strchr(x->renames.right[i], ':') != NULL) {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size, "'renames': item '%s:%s' is not of the form 'old:new'",
                     x->renames.left[i], x->renames.right[i]);
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(x->renames.left[j], x->renames.left[i]) == 0) {
                err = SLUICE_ERR_CONFIG;
                snprintf(errstr, errstr_size, "'renames': the field '%s' is renamed twice",
                         x->renames.left[i]);
                goto out;
            }
            if (strcmp(x->renames.right[j], x->renames.right[i]) == 0) {
                err = SLUICE_ERR_CONFIG;
                snprintf(errstr, errstr_size, "'renames': '%s' and '%s' are both renamed to '%s'",
                         x->renames.left[j], x->renames.left[i], x->renames.right[i]);
                goto out;
            }
        }
    }
    x->append = SLUICE_HOST_HAS(host, value_map_append) && x->renames.n <= 64;
    x->in_place = x->append && SLUICE_HOST_HAS(host, value_map_rename) && x->exclude.n == 0 &&
                  x->include.n == 0;
    for (size_t i = 0; i < x->exclude.n; i++) {
        x->first[(unsigned char)x->exclude.v[i][0]] = 1;
        x->pair[replace_field_pair(x->exclude.v[i])] = 1;
    }
    for (size_t i = 0; i < x->include.n; i++) {
        x->first[(unsigned char)x->include.v[i][0]] = 1;
        x->pair[replace_field_pair(x->include.v[i])] = 1;
    }
    for (size_t i = 0; i < x->renames.n; i++) {
        x->first[(unsigned char)x->renames.left[i][0]] = 1;
        x->pair[replace_field_pair(x->renames.left[i])] = 1;
        x->first[(unsigned char)x->renames.right[i][0]] = 1;
        x->pair[replace_field_pair(x->renames.right[i])] = 1;
    }
    *state = x;
    x = NULL;
out:
    replace_field_free(x);
    return err;
}

/* The name a field gets in the output, or NULL when it is dropped. */
static const char *replace_field_target(const struct replace_field *x, const char *name)
{
    if (xf_names_find(&x->exclude, name) >= 0 ||
        (x->include.n > 0 && xf_names_find(&x->include, name) < 0)) {
        return NULL;
    }
    for (size_t i = 0; i < x->renames.n; i++) {
        if (strcmp(x->renames.left[i], name) == 0) {
            return x->renames.right[i];
        }
    }
    return name;
}

/* replace_field_target, also giving the index of the rename applied (*ren) and of the rename whose
 * new name `name` is (*as); -1 for none. */
static const char *replace_field_decide(const struct replace_field *x, const char *name, long *ren,
                                        long *as)
{
    *ren = -1;
    *as = -1;
    if (!x->first[(unsigned char)name[0]] ||
        (name[0] != '\0' && !x->pair[replace_field_pair(name)])) {
        return x->include.n > 0 ? NULL : name;
    }
    for (size_t i = 0; i < x->renames.n; i++) {
        if (strcmp(x->renames.right[i], name) == 0) {
            *as = (long)i;
            break;
        }
    }
    if (xf_names_find(&x->exclude, name) >= 0 ||
        (x->include.n > 0 && xf_names_find(&x->include, name) < 0)) {
        return NULL;
    }
    for (size_t i = 0; i < x->renames.n; i++) {
        if (strcmp(x->renames.left[i], name) == 0) {
            *ren = (long)i;
            return x->renames.right[i];
        }
    }
    return name;
}

/* A rename that collides with a kept field of the same name: names the renamed field. */
static void replace_field_collision(const struct replace_field *x, const char *name, const char *to,
                                    char *errstr, size_t errstr_size)
{
    const char *from = name;

    for (size_t i = 0; strcmp(name, to) == 0 && i < x->renames.n; i++) {
        if (strcmp(x->renames.right[i], to) == 0) {
            from = x->renames.left[i];
        }
    }
    snprintf(errstr, errstr_size,
             "field '%s': cannot be renamed to '%s': the %s has a field '%s' "
             "already",
             from, to, xf_where_name(x->where), to);
}

/* The derived schema for `in` (cached); NULL with a message. */
static const sluice_schema_t *replace_field_schema_for(struct replace_field *x,
                                                       const sluice_schema_t *in, char *errstr,
                                                       size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    const sluice_schema_t *result = xf_cache_get(&x->cache, in, 0);
    size_t n = h->schema_field_count(in);
    sluice_schema_t *out;

    if (result != NULL) {
        goto out;
    }
    /* Check for collisions before building, so that a stream of bad records does not pile up
     * half-built schemas in the ctx. */
    for (size_t i = 0; i < n; i++) {
        const sluice_schema_t *fs;
        const char *name = h->schema_field(in, i, &fs);
        const char *to = replace_field_target(x, name);

        for (size_t j = 0; to != NULL && j < i; j++) {
            const char *other = replace_field_target(x, h->schema_field(in, j, &fs));

            if (other != NULL && strcmp(to, other) == 0) {
                replace_field_collision(x, name, to, errstr, errstr_size);
                goto out;
            }
        }
    }
    out = xf_schema_struct_like(h, x->ctx, in);
    if (out == NULL) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const sluice_schema_t *fs;
        const char *name = h->schema_field(in, i, &fs);
        const char *to = replace_field_target(x, name);

        if (to != NULL && h->schema_add_field(out, to, fs) != SLUICE_OK) {
            xf_oom(errstr, errstr_size);
            goto out;
        }
    }
    if (xf_cache_put(&x->cache, h, x->ctx, in, 0, out) != 0) {
        xf_oom(errstr, errstr_size);
        goto out;
    }
    result = out;
out:
    return result;
}

/* Whether a renamed field among the first `limit` entries of the map `value` lands on a kept field
 * (the error then written): what replace_field_process checks field by field. */
static int replace_field_collides(const struct replace_field *x, const sluice_value_t *value,
                                  size_t limit, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->host;

    for (size_t i = 0; i < limit; i++) {
        const char *name = NULL;
        sluice_value_t *key = NULL;
        const char *to, *other;

        h->value_item(value, i, &name, &key);
        to = name != NULL ? replace_field_target(x, name) : NULL;
        if (to != NULL && to != name && h->value_get(value, to) != NULL &&
            (other = replace_field_target(x, to)) != NULL && strcmp(other, to) == 0) {
            replace_field_collision(x, name, to, errstr, errstr_size);
            return 1;
        }
    }
    return 0;
}

/* A schemaless map rebuilt by appending: its keys are distinct, so are the kept ones, and a rename
 * onto a kept name is caught with two bit sets over the renames (`renamed`: applied; `landed`: a
 * kept field ends up with its new name) instead of a search per renamed field. Errors are the
 * ones the field-by-field loop of replace_field_process gives, in the same order. */
static sluice_err_t replace_field_map(struct replace_field *x, sluice_record_t *record,
                                      sluice_value_t *value, sluice_value_t *target, char *errstr,
                                      size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    size_t n = h->value_count(value);
    uint64_t renamed = 0, landed = 0;

    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        sluice_value_t *key = NULL;
        sluice_value_t *fv = h->value_item(value, i, &name, &key);
        const char *to;
        long ren, as;

        if (name == NULL || key == NULL) {
            if (!replace_field_collides(x, value, i, errstr, errstr_size)) {
                snprintf(errstr, errstr_size, "replace-field needs string keys in the %s map",
                         xf_where_name(x->where));
            }
            return SLUICE_ERR_INVALID;
        }
        to = replace_field_decide(x, name, &ren, &as);
        if (to == NULL) {
            continue;
        }
        if (as >= 0 && (ren < 0 || ren == as)) {
            landed |= UINT64_C(1) << as;
        }
        if (ren >= 0) {
            renamed |= UINT64_C(1) << ren;
            key = h->value_string(record, to, strlen(to));
        }
        if (key == NULL || h->value_map_append(record, target, key, fv) != SLUICE_OK) {
            if (!replace_field_collides(x, value, i, errstr, errstr_size)) {
                snprintf(errstr, errstr_size, "field '%s': cannot copy it to the new %s", name,
                         xf_where_name(x->where));
            }
            return SLUICE_ERR_INVALID;
        }
    }
    if (renamed & landed) {
        replace_field_collides(x, value, n, errstr, errstr_size);
        return SLUICE_ERR_INVALID;
    }
    return SLUICE_OK;
}

/* A schemaless map renamed in place, when no field is dropped: the renames are found and checked
 * first, with replace_field_map's bit sets and errors, so that a refused record keeps its map.
 * 1 when the map has more renamed entries than the renames (duplicate keys): rebuild it then. */
static int replace_field_rename(struct replace_field *x, sluice_record_t *record,
                                sluice_value_t *value, sluice_err_t *err, char *errstr,
                                size_t errstr_size)
{
    const struct sluice_host *h = x->host;
    size_t n = h->value_count(value);
    uint64_t renamed = 0, landed = 0;
    size_t at[64];
    long to[64];
    size_t m = 0;

    *err = SLUICE_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        sluice_value_t *key = NULL;
        long ren, as;

        h->value_item(value, i, &name, &key);
        if (name == NULL || key == NULL) {
            if (!replace_field_collides(x, value, i, errstr, errstr_size)) {
                snprintf(errstr, errstr_size, "replace-field needs string keys in the %s map",
                         xf_where_name(x->where));
            }
            return 0;
        }
        replace_field_decide(x, name, &ren, &as);
        if (as >= 0 && (ren < 0 || ren == as)) {
            landed |= UINT64_C(1) << as;
        }
        if (ren >= 0) {
            if (m == sizeof at / sizeof at[0]) {
                return 1;
            }
            renamed |= UINT64_C(1) << ren;
            at[m] = i;
            to[m++] = ren;
        }
    }
    if (renamed & landed) {
        replace_field_collides(x, value, n, errstr, errstr_size);
        return 0;
    }
    for (size_t k = 0; k < m; k++) {
        if (h->value_map_rename(record, value, at[k], x->renames.right[to[k]]) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "field '%s': cannot copy it to the new %s",
                     x->renames.left[to[k]], xf_where_name(x->where));
            return 0;
        }
    }
    *err = SLUICE_OK;
    return 0;
}

static sluice_err_t replace_field_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                          char *errstr, size_t errstr_size)
{
    struct replace_field *x = state;
    const struct sluice_host *h = x->host;
    sluice_err_t err = SLUICE_OK;
    sluice_value_t *value = xf_get(h, record, x->where, errstr, errstr_size);
    sluice_value_t *target;
    const sluice_schema_t *schema = NULL;
    sluice_type_t type;
    size_t n;

    if (value == NULL) {
        err = SLUICE_ERR_INVALID;
        goto out;
    }
    type = h->value_type(value);
    if (type == SLUICE_TYPE_NULL) {
        goto forward; /* a tombstone (or null key) passes unchanged */
    }
    if (type != SLUICE_TYPE_MAP && type != SLUICE_TYPE_STRUCT) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "replace-field needs a struct or map %s, found %s",
                 xf_where_name(x->where), xf_type_name(type));
        goto out;
    }
    if (type == SLUICE_TYPE_STRUCT) {
        const sluice_schema_t *in = h->value_schema(value);

        if (in == NULL) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "the %s is a struct without a schema",
                     xf_where_name(x->where));
            goto out;
        }
        schema = replace_field_schema_for(x, in, errstr, errstr_size);
        if (schema == NULL) {
            err = SLUICE_ERR_INVALID;
            goto out;
        }
    }
    if (type == SLUICE_TYPE_MAP && x->in_place && h->value_schema(value) == NULL &&
        replace_field_rename(x, record, value, &err, errstr, errstr_size) == 0) {
        if (err != SLUICE_OK) {
            goto out;
        }
        target = value;
        goto set;
    }
    target = h->value_struct(record, schema); /* schema NULL: a schemaless map */
    if (target == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    if (schema == NULL && x->append) {
        err = replace_field_map(x, record, value, target, errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
        goto set;
    }
    n = h->value_count(value);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL;
        sluice_value_t *key = NULL;
        sluice_value_t *fv = h->value_item(value, i, &name, &key);
        const char *to;

        if (name == NULL) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "replace-field needs string keys in the %s map",
                     xf_where_name(x->where));
            goto out;
        }
        to = replace_field_target(x, name);
        if (to == NULL) {
            continue;
        }
        if (schema == NULL && to != name && h->value_get(value, to) != NULL) {
            /* Only a renamed field can land on a kept one (two renames to one name are refused
             * at init); Kafka Connect lets one overwrite the other in hash order: refuse. */
            const char *other = replace_field_target(x, to);

            if (other != NULL && strcmp(other, to) == 0) {
                err = SLUICE_ERR_INVALID;
                replace_field_collision(x, name, to, errstr, errstr_size);
                goto out;
            }
        }
        /* A map entry that keeps its name keeps its key value too (no copy of the key). */
        if ((schema == NULL && to == name && key != NULL
                 ? h->value_map_put(record, target, key, fv)
                 : h->value_put(record, target, to, fv)) != SLUICE_OK) {
            err = SLUICE_ERR_INVALID;
            snprintf(errstr, errstr_size, "field '%s': cannot copy it to the new %s", name,
                     xf_where_name(x->where));
            goto out;
        }
    }
set:
    xf_set(h, record, x->where, target);
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void replace_field_destroy(void *state)
{
    /* The derived schemas belong to the ctx: the core frees them after this returns. */
    replace_field_free(state);
}

static const struct sluice_transform replace_field_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = replace_field_config,
    .init = replace_field_init,
    .process = replace_field_process,
    .destroy = replace_field_destroy,
};

static const struct sluice_alias replace_field_aliases[] = {
    {"org.apache.kafka.connect.transforms.ReplaceField$Value", "where", "value"},
    {"org.apache.kafka.connect.transforms.ReplaceField$Key", "where", "key"},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "replace-field",
    .version = "1.0.0",
    .summary = "Drop, keep or rename the top-level fields of each record's value or key",
    .description =
        "Kafka Connect's `ReplaceField$Value` and `ReplaceField$Key` (`where: key`), with the same "
        "keys: `exclude`, `include`, `renames` (and the deprecated `blacklist` and `whitelist`).\n"
        "\n"
        "A field is kept when `exclude` does not name it and `include` is empty or names it; a "
        "kept field is then renamed by `renames`. Struct values (with a schema) are rebuilt on a "
        "derived schema holding the kept fields in their order, renamed; schemaless maps (e.g. "
        "JSON) become new maps. A rename onto a field that is also kept is an error (Kafka "
        "Connect would keep one of the two at random). A tombstone (null) passes unchanged; any "
        "other value that is not a struct or map is an error routed by `errors.tolerance`.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: replace-field\n"
        "    config:\n"
        "      exclude: [password]\n"
        "      renames: [fname:first_name, lname:last_name]\n"
        "```",
    .transform = &replace_field_transform,
    .aliases = replace_field_aliases,
};
