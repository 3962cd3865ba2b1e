/* loader.c — see loader.h. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sluice_build.h"

/* The smallest descriptor of ABI 1.0: everything up to and including `sink`. */
#define LOADER_MIN_DESC      (offsetof(struct sluice_plugin, sink) + sizeof(void *))
#define LOADER_MIN_SOURCE    (offsetof(struct sluice_source, destroy) + sizeof(void *))
#define LOADER_MIN_TRANSFORM (offsetof(struct sluice_transform, destroy) + sizeof(void *))
#define LOADER_MIN_SINK      (offsetof(struct sluice_sink, destroy) + sizeof(void *))

/* The element sizes of ABI 1.2, which a plugin that does not record its own (ABI 1.0-1.2) was
 * built with; a smaller size cannot hold those members and is refused. */
#define LOADER_FIELD_1_2  (offsetof(struct sluice_config_field, enum_values) + sizeof(void *))
#define LOADER_ALIAS_1_2  (offsetof(struct sluice_alias, value) + sizeof(void *))
#define LOADER_OFFSET_1_2 (offsetof(struct sluice_offset, offset) + sizeof(int64_t))
/* Larger is surely not a struct of this ABI's major: garbage, or a descriptor of another layout. */
#define LOADER_MAX_ELEM 4096

static int loader_valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return 0;
    return 1;
}

/* Copy a role struct the plugin declared with its own struct_size: never read past it. */
static int loader_copy_role(const void *src, size_t min, size_t ours, void *dst, const char *role,
                            const char *path, char *errstr, size_t errstr_size)
{
    size_t theirs = *(const size_t *)src;
    if (theirs < min) {
        snprintf(errstr, errstr_size,
                 "%s: %s struct_size %zu is smaller than ABI %d.0's %zu bytes; rebuild the plugin "
                 "against sluice/plugin.h",
                 path, role, theirs, SLUICE_ABI_MAJOR, min);
        return -1;
    }
    memcpy(dst, src, theirs < ours ? theirs : ours);
    return 0;
}

/* An element size of the descriptor (ABI 1.3). 0 (or absent) means the struct as the plugin's
 * minor has it: the 1.2 size up to 1.2, this header's from 1.3 on (a descriptor written by hand,
 * or in C++, may leave the sizes out). A later minor growing one again adds its size here. */
static int loader_elem_size(uint32_t minor, size_t declared, size_t v12, size_t v13,
                            const char *what, const char *path, size_t *out, char *errstr,
                            size_t errstr_size)
{
    *out = declared ? declared : minor >= 3 ? v13 : v12;
    if (*out >= v12 && *out <= LOADER_MAX_ELEM)
        return 0;
    snprintf(errstr, errstr_size,
             "%s: descriptor %s %zu is not a size of that struct (expected %zu to %d bytes, "
             "found %zu); rebuild the plugin against sluice/plugin.h",
             path, what, declared, v12, LOADER_MAX_ELEM, declared);
    return -1;
}

/* A copy of a plugin's configuration table in the core's layout: its entries are `elem` bytes
 * apart (the plugin's sizeof), and each is read only up to that size; members past it (of a later
 * minor than the plugin's) stay zero. NULL without `*oom` when the plugin has no table. */
static struct sluice_config_field *loader_copy_table(const void *table, size_t elem, int *oom)
{
    const char *t = table;
    size_t n = 0;
    if (!t)
        return NULL;
    for (;; n++) {
        const char *name; /* the first member of every version */
        memcpy(&name, t + n * elem, sizeof name);
        if (!name)
            break;
    }
    struct sluice_config_field *copy = calloc(n + 1, sizeof *copy);
    if (!copy) {
        *oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(&copy[i], t + i * elem, elem < sizeof *copy ? elem : sizeof *copy);
    return copy;
}

static int loader_check_table(const struct sluice_config_field *t, const char *role,
                              const char *path, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; t && t[i].name; i++) {
        if (t[i].set && (t[i].type == SLUICE_CFG_LIST || t[i].type == SLUICE_CFG_MAP)) {
            snprintf(errstr, errstr_size,
                     "%s: %s config key '%s' is a %s with `set`: config_map stores only scalars",
                     path, role, t[i].name, t[i].type == SLUICE_CFG_LIST ? "list" : "map");
            return -1;
        }
        if ((unsigned)t[i].type > SLUICE_CFG_MAP) {
            snprintf(errstr, errstr_size, "%s: %s config key '%s' has unknown type %d", path, role,
                     t[i].name, (int)t[i].type);
            return -1;
        }
        if (t[i].type == SLUICE_CFG_ENUM && !t[i].enum_values) {
            snprintf(errstr, errstr_size, "%s: %s config key '%s' is an enum without values", path,
                     role, t[i].name);
            return -1;
        }
    }
    return 0;
}

#define LOADER_MAX_ALIASES 64

/* A copy of `table` whose entry `key` defaults to `value`; NULL if the table lacks the key. */
static struct sluice_config_field *loader_preset_table(const struct sluice_config_field *table,
                                                       const char *key, const char *value, int *oom)
{
    size_t n = 0, at = (size_t)-1;
    for (; table && table[n].name; n++)
        if (strcmp(table[n].name, key) == 0)
            at = n;
    if (at == (size_t)-1)
        return NULL;
    struct sluice_config_field *copy = calloc(n + 1, sizeof *copy);
    if (!copy) {
        *oom = 1;
        return NULL;
    }
    memcpy(copy, table, n * sizeof *copy);
    copy[at].default_value = value;
    copy[at].flags &= ~SLUICE_CFG_REQUIRED;
    return copy;
}

/* The descriptor's aliases (ABI 1.1; absent in a 1.0 descriptor, whose copy is zero there), read
 * with the plugin's element size. Afterwards `p->desc.aliases` points at the core's copy. */
static int loader_load_aliases(loaded_plugin_t *p, size_t elem, char *errstr, size_t errstr_size)
{
    const char *t = (const char *)p->desc.aliases;
    p->desc.aliases = NULL;
    size_t n = 0;
    for (; t && n <= LOADER_MAX_ALIASES; n++) {
        const char *name; /* the first member of every version */
        memcpy(&name, t + n * elem, sizeof name);
        if (!name)
            break;
    }
    if (n == 0)
        return 0;
    if (n > LOADER_MAX_ALIASES) {
        snprintf(errstr, errstr_size, "%s: more than %d aliases (is the table NULL-terminated?)",
                 p->path, LOADER_MAX_ALIASES);
        return -1;
    }
    p->aliases = calloc(n, sizeof *p->aliases);
    p->alias_table = calloc(n + 1, sizeof *p->alias_table);
    if (!p->aliases || !p->alias_table) {
        snprintf(errstr, errstr_size, "%s: out of memory", p->path);
        return -1;
    }
    p->naliases = n;
    for (size_t i = 0; i < n; i++)
        memcpy(&p->alias_table[i], t + i * elem,
               elem < sizeof *p->alias_table ? elem : sizeof *p->alias_table);
    p->desc.aliases = p->alias_table;
    for (size_t i = 0; i < n; i++) {
        loader_alias_t *la = &p->aliases[i];
        la->name = p->alias_table[i].name;
        la->key = p->alias_table[i].key;
        la->value = p->alias_table[i].value;
        if (!*la->name || strlen(la->name) > 200 || (la->key && !la->value)) {
            snprintf(errstr, errstr_size,
                     "%s: alias #%zu is invalid (expected a name of 1-200 characters, and a value "
                     "with its key)",
                     p->path, i + 1);
            return -1;
        }
        if (!la->key)
            continue;
        const struct sluice_config_field *tables[3] = {
            p->has_source ? p->source.config : NULL,
            p->has_transform ? p->transform.config : NULL,
            p->has_sink ? p->sink.config : NULL,
        };
        int oom = 0, found = 0;
        for (int r = 0; r < 3; r++) {
            la->tables[r] = loader_preset_table(tables[r], la->key, la->value, &oom);
            found |= la->tables[r] != NULL;
        }
        if (oom || !found) {
            snprintf(errstr, errstr_size,
                     oom ? "%s: out of memory"
                         : "%s: alias '%s' presets the key '%s', which no configuration table of "
                           "the plugin has",
                     p->path, la->name, la->key);
            return -1;
        }
    }
    return 0;
}

/* Replace a role's `config` by the core's copy of it (kept in p->tables[role] to be freed). */
static int loader_own_table(loaded_plugin_t *p, int role, const struct sluice_config_field **config,
                            size_t elem, char *errstr, size_t errstr_size)
{
    int oom = 0;
    p->tables[role] = loader_copy_table(*config, elem, &oom);
    *config = p->tables[role];
    if (oom)
        snprintf(errstr, errstr_size, "%s: out of memory", p->path);
    return oom ? -1 : 0;
}

sluice_err_t loader_precommit(const loaded_plugin_t *p, void *state, struct sluice_offset *offsets,
                              size_t count, char *errstr, size_t errstr_size)
{
    size_t elem = p->offset_size;
    if (elem == sizeof *offsets)
        return p->sink.precommit(state, offsets, count, errstr, errstr_size);
    /* Another layout (a plugin of a later minor whose struct grew): lay the array out as it
     * indexes it. Not per record: precommit runs at most every 50 ms. */
    char *a = calloc(count ? count : 1, elem);
    if (!a) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_RETRY;
    }
    size_t known = elem < sizeof *offsets ? elem : sizeof *offsets;
    for (size_t i = 0; i < count; i++)
        memcpy(a + i * elem, &offsets[i], known);
    sluice_err_t e =
        p->sink.precommit(state, (struct sluice_offset *)(void *)a, count, errstr, errstr_size);
    for (size_t i = 0; i < count; i++)
        memcpy(&offsets[i].offset, a + i * elem + offsetof(struct sluice_offset, offset),
               sizeof offsets[i].offset);
    free(a);
    return e;
}

int loader_open(const char *path, loaded_plugin_t **out, char *errstr, size_t errstr_size)
{
    char abspath[PATH_MAX];
    loaded_plugin_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        return -1;
    }
    /* dlopen searches the library path for a bare name; a plugin path is always a file. */
    if (!strchr(path, '/'))
        snprintf(abspath, sizeof abspath, "./%s", path);
    else
        snprintf(abspath, sizeof abspath, "%s", path);
    p->path = strdup(path);
    dlerror();
    p->handle = dlopen(abspath, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        const char *e = dlerror();
        snprintf(errstr, errstr_size, "%s: cannot load: %s", path, e ? e : "unknown error");
        goto fail;
    }
    const struct sluice_plugin *d = dlsym(p->handle, SLUICE_PLUGIN_SYMBOL);
    if (!d) {
        snprintf(errstr, errstr_size,
                 "%s: no '%s' symbol: not a sluice plugin (expected a descriptor exported with "
                 "SLUICE_PLUGIN_EXPORT)",
                 path, SLUICE_PLUGIN_SYMBOL);
        goto fail;
    }
    if (d->abi_major != SLUICE_ABI_MAJOR) {
        snprintf(errstr, errstr_size,
                 "%s: plugin ABI major %u, this sluice expects major %d (found %u.%u, expected "
                 "%d.x); rebuild the plugin",
                 path, d->abi_major, SLUICE_ABI_MAJOR, d->abi_major, d->abi_minor,
                 SLUICE_ABI_MAJOR);
        goto fail;
    }
    if (d->abi_minor > SLUICE_ABI_MINOR) {
        snprintf(errstr, errstr_size,
                 "%s: plugin built for ABI %u.%u, newer than this sluice's ABI %d.%d (expected "
                 "minor <= %d, found %u); upgrade sluice",
                 path, d->abi_major, d->abi_minor, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR,
                 SLUICE_ABI_MINOR, d->abi_minor);
        goto fail;
    }
    if (d->struct_size < LOADER_MIN_DESC) {
        snprintf(errstr, errstr_size,
                 "%s: descriptor struct_size %zu is smaller than ABI %d.0's %zu bytes (expected "
                 "at least %zu, found %zu)",
                 path, d->struct_size, SLUICE_ABI_MAJOR, (size_t)LOADER_MIN_DESC,
                 (size_t)LOADER_MIN_DESC, d->struct_size);
        goto fail;
    }
    memcpy(&p->desc, d, d->struct_size < sizeof p->desc ? d->struct_size : sizeof p->desc);
    if (!loader_valid_name(p->desc.name)) {
        snprintf(errstr, errstr_size,
                 "%s: invalid plugin name '%s' (expected 1-64 characters of a-z, 0-9, '-', '_', "
                 "'.')",
                 path, p->desc.name ? p->desc.name : "(null)");
        goto fail;
    }
    size_t field_size, alias_size;
    uint32_t minor = p->desc.abi_minor;
    if (loader_elem_size(minor, p->desc.config_field_size, LOADER_FIELD_1_2,
                         sizeof(struct sluice_config_field), "config_field_size", path, &field_size,
                         errstr, errstr_size) != 0 ||
        loader_elem_size(minor, p->desc.alias_size, LOADER_ALIAS_1_2, sizeof(struct sluice_alias),
                         "alias_size", path, &alias_size, errstr, errstr_size) != 0 ||
        loader_elem_size(minor, p->desc.offset_size, LOADER_OFFSET_1_2,
                         sizeof(struct sluice_offset), "offset_size", path, &p->offset_size, errstr,
                         errstr_size) != 0)
        goto fail;
    if (p->desc.source) {
        if (loader_copy_role(p->desc.source, LOADER_MIN_SOURCE, sizeof p->source, &p->source,
                             "source", path, errstr, errstr_size) != 0)
            goto fail;
        if (loader_own_table(p, 0, &p->source.config, field_size, errstr, errstr_size) != 0)
            goto fail;
        if (!p->source.init || !p->source.start || !p->source.poll || !p->source.destroy) {
            snprintf(errstr, errstr_size,
                     "%s: source role lacks init, start, poll or destroy (all are required)", path);
            goto fail;
        }
        if (loader_check_table(p->source.config, "source", path, errstr, errstr_size) != 0)
            goto fail;
        p->has_source = 1;
    }
    if (p->desc.transform) {
        if (loader_copy_role(p->desc.transform, LOADER_MIN_TRANSFORM, sizeof p->transform,
                             &p->transform, "transform", path, errstr, errstr_size) != 0)
            goto fail;
        if (loader_own_table(p, 1, &p->transform.config, field_size, errstr, errstr_size) != 0)
            goto fail;
        if (!p->transform.init || !p->transform.process || !p->transform.destroy) {
            snprintf(errstr, errstr_size,
                     "%s: transform role lacks init, process or destroy (all are required)", path);
            goto fail;
        }
        if (loader_check_table(p->transform.config, "transform", path, errstr, errstr_size) != 0)
            goto fail;
        p->has_transform = 1;
    }
    if (p->desc.sink) {
        if (loader_copy_role(p->desc.sink, LOADER_MIN_SINK, sizeof p->sink, &p->sink, "sink", path,
                             errstr, errstr_size) != 0)
            goto fail;
        if (loader_own_table(p, 2, &p->sink.config, field_size, errstr, errstr_size) != 0)
            goto fail;
        if (!p->sink.init || !p->sink.put || !p->sink.flush || !p->sink.destroy) {
            snprintf(errstr, errstr_size,
                     "%s: sink role lacks init, put, flush or destroy (all are required)", path);
            goto fail;
        }
        if (loader_check_table(p->sink.config, "sink", path, errstr, errstr_size) != 0)
            goto fail;
        p->has_sink = 1;
    }
    if (loader_load_aliases(p, alias_size, errstr, errstr_size) != 0)
        goto fail;
    /* From here on the descriptor leads to the core's copies only (docs read them from it). */
    p->desc.source = p->has_source ? &p->source : NULL;
    p->desc.transform = p->has_transform ? &p->transform : NULL;
    p->desc.sink = p->has_sink ? &p->sink : NULL;
    if (!p->has_source && !p->has_transform && !p->has_sink) {
        snprintf(errstr, errstr_size,
                 "%s: plugin '%s' declares no role (expected a source, transform or sink)", path,
                 p->desc.name);
        goto fail;
    }
    *out = p;
    return 0;
fail:
    loader_close(p);
    return -1;
}

void loader_close(loaded_plugin_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->naliases; i++)
        for (int r = 0; r < 3; r++)
            free(p->aliases[i].tables[r]);
    free(p->aliases);
    free(p->alias_table);
    for (int r = 0; r < 3; r++)
        free(p->tables[r]);
    if (p->handle)
        dlclose(p->handle);
    free(p->path);
    free(p);
}

const char *loader_roles(const loaded_plugin_t *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", p->has_source ? "source" : "",
             p->has_source && (p->has_transform || p->has_sink) ? ", " : "",
             p->has_transform ? "transform" : "", p->has_transform && p->has_sink ? ", " : "",
             p->has_sink ? "sink" : "");
    return buf;
}

void registry_init(registry_t *r)
{
    memset(r, 0, sizeof *r);
}

static void registry_error(registry_t *r, const char *msg)
{
    if (r->nerrors == r->caperrors) {
        size_t cap = r->caperrors ? r->caperrors * 2 : 4;
        char **e = realloc(r->errors, cap * sizeof *e);
        if (!e)
            return;
        r->errors = e;
        r->caperrors = cap;
    }
    char *copy = strdup(msg);
    if (copy)
        r->errors[r->nerrors++] = copy;
}

static int registry_add(registry_t *r, loaded_plugin_t *p)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        loaded_plugin_t **n = realloc(r->plugins, cap * sizeof *n);
        if (!n)
            return -1;
        r->plugins = n;
        r->cap = cap;
    }
    r->plugins[r->len++] = p;
    return 0;
}

static int registry_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void registry_scan_dir(registry_t *r, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, registry_cmp);
    size_t first_of_dir = r->len;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        loaded_plugin_t *p;
        if (loader_open(path, &p, err, sizeof err) != 0) {
            registry_error(r, err);
            continue;
        }
        const loaded_plugin_t *prev = registry_find(r, p->desc.name);
        if (prev) {
            int same_dir = 0;
            for (size_t k = first_of_dir; k < r->len; k++)
                same_dir |= r->plugins[k] == prev;
            if (same_dir) {
                snprintf(err, sizeof err, "%s: plugin name '%s' is also defined by %s", p->path,
                         p->desc.name, prev->path);
                registry_error(r, err);
            } else {
                log_debug(NULL, "plugin %s (%s) is shadowed by %s", p->desc.name, p->path,
                          prev->path);
            }
            loader_close(p);
            continue;
        }
        if (registry_add(r, p) != 0)
            loader_close(p);
    }
    free(names);
}

void registry_scan(registry_t *r, const char *const *dirs, size_t ndirs)
{
    for (size_t i = 0; i < ndirs; i++)
        registry_scan_dir(r, dirs[i]);
}

const loaded_plugin_t *registry_find(const registry_t *r, const char *name)
{
    for (size_t i = 0; i < r->len; i++)
        if (strcmp(r->plugins[i]->desc.name, name) == 0)
            return r->plugins[i];
    return NULL;
}

const loaded_plugin_t *registry_find_alias(const registry_t *r, const char *name,
                                           const loader_alias_t **alias)
{
    for (size_t i = 0; i < r->len; i++)
        for (size_t k = 0; k < r->plugins[i]->naliases; k++)
            if (strcmp(r->plugins[i]->aliases[k].name, name) == 0) {
                *alias = &r->plugins[i]->aliases[k];
                return r->plugins[i];
            }
    return NULL;
}

const char **registry_names(const registry_t *r, size_t *n)
{
    const char **names = calloc(r->len + 1, sizeof *names);
    for (size_t i = 0; names && i < r->len; i++)
        names[i] = r->plugins[i]->desc.name;
    *n = names ? r->len : 0;
    return names;
}

void registry_free(registry_t *r)
{
    for (size_t i = 0; i < r->len; i++)
        loader_close(r->plugins[i]);
    for (size_t i = 0; i < r->nerrors; i++)
        free(r->errors[i]);
    free(r->plugins);
    free(r->errors);
    memset(r, 0, sizeof *r);
}

static int loader_push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv)
        return -1;
    *v = nv;
    nv[*n] = strdup(s);
    if (!nv[*n])
        return -1;
    (*n)++;
    return 0;
}

/* True when this executable lives in the build tree it was built in. */
static int loader_in_build_tree(void)
{
    char exe[PATH_MAX], root[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return 0;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    if (!realpath(SLUICE_BUILD_ROOT, root))
        return 0;
    return strcmp(exe, root) == 0;
}

char **loader_search_path(const char *const *extra, size_t nextra, size_t *n)
{
    char **dirs = NULL;
    *n = 0;
    const char *env = getenv("SLUICE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok;
             tok = strtok_r(NULL, ":", &save))
            loader_push(&dirs, n, tok);
        free(copy);
    }
    for (size_t i = 0; i < nextra; i++)
        loader_push(&dirs, n, extra[i]);
    loader_push(&dirs, n,
                loader_in_build_tree() ? SLUICE_BUILD_PLUGIN_DIR : SLUICE_INSTALL_PLUGIN_DIR);
    return dirs;
}

void loader_free_path(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}
