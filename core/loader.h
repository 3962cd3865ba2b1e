/* loader.h — finds plugin files, dlopen()s them (RTLD_NOW | RTLD_LOCAL) and checks their
 * descriptor: ABI major, minor, struct sizes, name, roles. Every refusal names the file and what
 * was expected and found. */
#ifndef SLUICE_LOADER_H
#define SLUICE_LOADER_H

#include <stddef.h>

#include "sluice/plugin.h"

/* An alias of a plugin (ABI 1.1): its name, and per role the configuration table with the preset
 * key's default replaced by the alias's value (NULL when the alias presets nothing or the role
 * lacks the key: the plugin's own table applies). */
typedef struct loader_alias {
    const char *name, *key, *value;        /* point into the plugin's descriptor */
    struct sluice_config_field *tables[3]; /* source, transform, sink */
} loader_alias_t;

typedef struct loaded_plugin {
    char *path;
    void *handle;
    /* Copies of the plugin's structs, zero-filled past the struct_size the plugin declared. Their
     * pointers to tables lead to the core's copies below, in the core's layout (the plugin's
     * element sizes may differ, ABI 1.3); `desc`'s roles lead to `source`, `transform`, `sink`. */
    struct sluice_plugin desc;
    struct sluice_source source;
    struct sluice_transform transform;
    struct sluice_sink sink;
    int has_source, has_transform, has_sink;
    loader_alias_t *aliases;
    size_t naliases;
    struct sluice_config_field *tables[3]; /* source, transform, sink config; NULL-name ended */
    struct sluice_alias *alias_table;      /* NULL-name ended, or NULL */
    size_t offset_size;                    /* the stride of precommit's array for this plugin */
} loaded_plugin_t;

typedef struct registry {
    loaded_plugin_t **plugins;
    size_t len, cap;
    char **errors; /* load failures, duplicates: each "FILE: reason" */
    size_t nerrors, caperrors;
} registry_t;

/* Open and check one file. */
int loader_open(const char *path, loaded_plugin_t **out, char *errstr, size_t errstr_size);
void loader_close(loaded_plugin_t *p);
/* Call the sink's precommit with `offsets` laid out with the plugin's element size; `offset` of
 * each is copied back. */
sluice_err_t loader_precommit(const loaded_plugin_t *p, void *state, struct sluice_offset *offsets,
                              size_t count, char *errstr, size_t errstr_size);
/* "source, sink" etc. into buf. */
const char *loader_roles(const loaded_plugin_t *p, char *buf, size_t size);

void registry_init(registry_t *r);
/* Load every *.so of every directory in order (files sorted by name). A file that fails to load
 * and two files of one name in one directory are errors; a name found again in a later directory is
 * shadowed by the earlier one (as with PATH). Missing directories are skipped. */
void registry_scan(registry_t *r, const char *const *dirs, size_t ndirs);
const loaded_plugin_t *registry_find(const registry_t *r, const char *name);
/* The plugin with an alias `name` (and that alias), or NULL. Names are looked up first. */
const loaded_plugin_t *registry_find_alias(const registry_t *r, const char *name,
                                           const loader_alias_t **alias);
/* Names of all plugins (for "did you mean"); the array is malloc'd, the strings are not. */
const char **registry_names(const registry_t *r, size_t *n);
void registry_free(registry_t *r);

/* The plugin directories of this process: SLUICE_PLUGIN_PATH (colon-separated), then `extra`
 * (the YAML's plugin.path), then the build tree's plugins when this binary runs from its build
 * tree, else the installed directory. Returns a malloc'd array of malloc'd strings. */
char **loader_search_path(const char *const *extra, size_t nextra, size_t *n);
void loader_free_path(char **dirs, size_t n);

#endif
