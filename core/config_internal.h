/* config_internal.h — what the parts of the configuration code (config_yaml.c, config_value.c,
 * config.c) share beyond config.h: a validated value's layout and a few helpers. Not for use
 * outside these files. */
#ifndef SLUICE_CONFIG_INTERNAL_H
#define SLUICE_CONFIG_INTERNAL_H

#include "config.h"

/* -- the tree (config_yaml.c) ------------------------------------------------------------------ */

/* "a mapping", "a sequence" or "a scalar", for messages. */
const char *config_kind_name(const config_node_t *n);
/* The mark of `key` itself in `map` (for "this key is wrong" messages); NULL if absent. */
const config_mark_t *config_node_key_mark(const config_node_t *map, const char *key);

/* -- validated values (config_value.c) --------------------------------------------------------- */

typedef struct config_value {
    int set;     /* given, or defaulted */
    int given;   /* from the YAML */
    int skipped; /* given, but its interpolation failed (already reported) */
    config_mark_t key_mark, value_mark;
    char *text;   /* scalars: STRING as is, ENUM canonical, PATH resolved, BOOL true/false,
                     INT canonical, DOUBLE/DURATION/SIZE as written */
    int64_t i;    /* INT, BOOL, DURATION (ms), SIZE (bytes) */
    double d;     /* DOUBLE */
    char **items; /* LIST items; MAP values */
    char **keys;  /* MAP keys */
    config_mark_t *key_marks; /* MAP: where each key is (for messages about one entry) */
    size_t n;
} config_value_t;

struct sluice_config {
    const struct sluice_config_field *table;
    size_t n;
    config_value_t *v;
};

void config_value_clear(config_value_t *v);

/* -- the model (config.c) ---------------------------------------------------------------------- */

/* `path` resolved against `base_dir` (absolute paths and "" unchanged); malloc'd. */
char *config_resolve_path(const char *path, const char *base_dir);

#endif
