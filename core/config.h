/* config.h — YAML pipeline files: loading (libyaml), interpolation, validation against the
 * configuration tables of the core and of plugins, and the typed sluice_config_t behind the host's
 * config getters. One loader serves `run` and `lint`. Every error names file, line and column.
 * Implemented by config_yaml.c (the tree), config_value.c (typed values, validation, getters),
 * config.c (errors, the pipeline model), interp.c (interpolation), config_keys.c (the core's
 * tables) and docs.c (tables as Markdown). */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "sluice/plugin.h"

typedef struct config_mark {
    const char *file; /* path as given on the command line (owned by the config_run) */
    int line;         /* 1-based */
    int col;          /* 1-based */
} config_mark_t;

/* -- error list ------------------------------------------------------------------------------- */
typedef struct config_errors {
    char **msgs;
    size_t len, cap;
} config_errors_t;

void config_errors_init(config_errors_t *e);
void config_errors_free(config_errors_t *e);
/* Adds "file:line:col: message" (mark may be NULL: message only). */
void config_errors_add(config_errors_t *e, const config_mark_t *mark, const char *fmt, ...)
    SLUICE_PRINTF(3, 4);
void config_errors_print(const config_errors_t *e, FILE *out);

/* -- YAML tree (after interpolation), kept for validation against plugin tables --------------- */
typedef enum config_node_kind { CONFIG_SCALAR, CONFIG_MAP, CONFIG_SEQ } config_node_kind_t;
typedef struct config_node config_node_t;
struct config_node {
    config_node_kind_t kind;
    config_mark_t mark;
    char *scalar; /* CONFIG_SCALAR: interpolated text */
    int plain;    /* CONFIG_SCALAR: unquoted in YAML (so `~`/`null` mean null); 0 also when the
                     text came from interpolation; -1: its interpolation failed (reported
                     already, validation skips it) */
    char **keys;  /* CONFIG_MAP: keys, in order */
    config_mark_t *key_marks;
    config_node_t **items; /* CONFIG_MAP: values; CONFIG_SEQ: items */
    size_t len;
};
/* Lookup in a CONFIG_MAP; NULL if absent. */
const config_node_t *config_node_get(const config_node_t *map, const char *key);
/* True for an absent node or a YAML null (plain ~, null, Null, NULL or empty): "unset". */
int config_node_is_null(const config_node_t *n);
/* Parse one YAML document from memory into a tree (scalars interpolated against base_dir).
 * `file` names the text in marks and must outlive the tree. NULL after adding errors. Bounded
 * (nesting, alias expansion; config_load bounds the size): the entry point for a fuzz harness,
 * which reads no file unless the text has a ${file:…} token. */
config_node_t *config_parse_yaml(const char *file, const char *text, size_t len,
                                 const char *base_dir, config_errors_t *errs);
void config_node_free(config_node_t *n);

/* -- validated configuration: the object behind the host's getters --------------------------- */
/* Validate `map` (a CONFIG_MAP or NULL for "nothing given") against `table`: defaults applied,
 * unknown keys refused with a "did you mean" hint, types/ranges/enums/required checked. `what`
 * names the owner in messages, e.g. "sink 'files' (plugin sftp-json)". Relative PATH values resolve
 * against `base_dir`. Returns NULL after adding at least one error to `errs`. `where` is used for
 * errors that have no node of their own (a missing required key). */
sluice_config_t *config_validate(const config_node_t *map, const struct sluice_config_field *table,
                                 const char *what, const config_mark_t *where, const char *base_dir,
                                 config_errors_t *errs);
void config_free(sluice_config_t *cfg);

int config_has(const sluice_config_t *cfg, const char *key);
/* Where the key was given (the key's own mark); NULL when it was not given (unset or default). */
const config_mark_t *config_mark(const sluice_config_t *cfg, const char *key);
/* Where the key's value was given; NULL when it was not given. */
const config_mark_t *config_value_mark(const sluice_config_t *cfg, const char *key);
const char *config_string(const sluice_config_t *cfg, const char *key);
int64_t config_int(const sluice_config_t *cfg, const char *key);
int config_bool(const sluice_config_t *cfg, const char *key);
double config_double(const sluice_config_t *cfg, const char *key);
int64_t config_duration_ms(const sluice_config_t *cfg, const char *key);
int64_t config_size(const sluice_config_t *cfg, const char *key);
size_t config_count(const sluice_config_t *cfg, const char *key);
const char *config_item(const sluice_config_t *cfg, const char *key, size_t i);
const char *config_map_key(const sluice_config_t *cfg, const char *key, size_t i);
/* The host's config_map (ABI 1.3): every key of the table with `set` and a value, stored at its
 * `offset` of `base` by type. */
sluice_err_t config_map(const sluice_config_t *cfg, void *base);
/* Where entry `entry` of a MAP key is written (the key's own mark if not found). */
const config_mark_t *config_map_mark(const sluice_config_t *cfg, const char *key,
                                     const char *entry);
/* Each key given in the YAML as Kafka Connect's flat `key = value` strings: lists joined with
 * ',', map entries as `key.entry`, secrets as "********", URL credentials hidden. */
void config_flat(const sluice_config_t *cfg, void (*fn)(void *, const char *, const char *),
                 void *opaque);
/* 1 when two validated configurations hold the same values (a reload's "did it change?"). */
int config_equal(const sluice_config_t *a, const sluice_config_t *b);
/* Append "key: value" lines (YAML, `indent` spaces), for `lint --print`: secrets as "********",
 * and URL credentials hidden in every other value (sluice_redact_url). */
void config_dump(const sluice_config_t *cfg, buf_t *out, int indent);

/* -- the pipeline files ------------------------------------------------------------------------ */
typedef struct config_instance {
    char *id;           /* sink id; "source" for a source; transforms: `id` or "<plugin>#<n>" */
    char *plugin;       /* plugin name as written */
    config_mark_t mark; /* the instance's mapping */
    config_mark_t plugin_mark;   /* the `plugin:` value */
    const config_node_t *config; /* its `config:` mapping, or NULL */
    sluice_config_t *core;       /* sinks: validated sink core keys (config_sink_keys); else NULL */
    struct config_instance *transforms;
    size_t ntransforms;
    /* transforms: `predicate:` (a name of the pipeline's `predicates:` or an inline mapping), or
     * NULL; `negate:` */
    const config_node_t *predicate;
    int negate;
} config_instance_t;

typedef struct config_pipeline {
    char *id;
    config_mark_t mark;
    const char *file;          /* YAML file it came from */
    char *base_dir;            /* that file's directory */
    sluice_config_t *core;     /* validated pipeline keys (config_pipeline_keys) */
    config_instance_t *source; /* NULL when the pipeline has only sinks */
    config_instance_t *sinks;
    size_t nsinks;
    const config_node_t *predicates; /* `predicates:` mapping (name → {type: ..., ...}), or NULL */
} config_pipeline_t;

typedef struct config_run {
    char **files; /* the paths given */
    size_t nfiles;
    config_node_t **docs;    /* one parsed tree per file (NULL if unparsable) */
    sluice_config_t *global; /* validated top-level keys of the first file (config_global_keys);
                                later files must not contradict it */
    config_pipeline_t *pipelines;
    size_t npipelines;
} config_run_t;

/* Parse and check every file; all errors of all files are added to `errs` (none lost after the
 * first). Pipeline ids must be unique across files. Returns 0 when `errs` gained nothing. */
int config_load(config_run_t *run, const char *const *paths, size_t npaths, config_errors_t *errs);
void config_run_free(config_run_t *run);
/* 1 when two pipelines would run the same (a reload restarts only those that changed). Secrets
 * are compared too; the file they come from is not. */
int config_pipeline_equal(const config_pipeline_t *a, const config_pipeline_t *b);
/* 1 when the top-level map `block` (kafka:, schema.registry:) of `global` is in force: given, and
 * its `key` (bootstrap.servers, url) not set to the empty string. An empty value — typically
 * `${KAFKA_BOOTSTRAP:-}` with the variable unset — switches the block off, so that one file runs
 * in-process or against a cluster depending on the environment. */
int config_block_on(const sluice_config_t *global, const char *block, const char *key);

/* The `transforms:` sequence of `map` into out->transforms (for `sluice test`'s inline chains). */
void config_load_transforms(const config_node_t *map, const char *owner, const char *base_dir,
                            config_instance_t *out, config_errors_t *errs);
void config_instance_free(config_instance_t *in);
/* config_validate with `extra` structural keys that the caller handles (known, not validated). */
sluice_config_t *config_validate_extra(const config_node_t *map,
                                       const struct sluice_config_field *table,
                                       const char *const *extra, const char *what,
                                       const config_mark_t *where, const char *base_dir,
                                       config_errors_t *errs);

/* The core's own tables (also used for docs/configuration.md). */
extern const struct sluice_config_field config_global_keys[];
extern const struct sluice_config_field config_pipeline_keys[];
extern const struct sluice_config_field config_sink_keys[];
/* The entries of the `schema.registry:` map, typed (basic.auth.user.info is SECRET). */
extern const struct sluice_config_field config_registry_keys[];
/* librdkafka's properties whose values are secrets (its _RK_SENSITIVE flag), NULL-terminated. */
extern const char *const config_kafka_secret_properties[];
/* Is entry `entry` of the MAP key `f` a secret? By the table of the map's entries (the registry's,
 * librdkafka's properties for `kafka:` and the overrides), or the key's own SECRET flag. */
int config_map_entry_secret(const struct sluice_config_field *f, const char *entry);

/* -- helpers shared with the rest of the core -------------------------------------------------- */
/* "250ms", "5s", "2m", "1h", "1d", bare integer = ms. 0 ok, -1 invalid. */
int config_parse_duration_ms(const char *s, int64_t *out);
/* "512", "64KiB", "4MiB", "1GiB", "10KB" (1000), "2MB"; 0 ok, -1 invalid. */
int config_parse_size(const char *s, int64_t *out);
/* Render bytes / milliseconds the way users write them: "4MiB", "1000" / "5s", "250ms". */
void config_format_size(int64_t bytes, char *out, size_t n);
void config_format_duration(int64_t ms, char *out, size_t n);
/* The candidate closest to `word` (edit distance ≤ max(2, len/3)), or NULL. */
const char *config_did_you_mean(const char *word, const char *const *candidates, size_t n);
/* Interpolate ${VAR}, ${VAR:-default}, ${file:PATH:KEY} and $$ in `in`. On error returns NULL and
 * writes a message (without position) to errstr. Relative PATHs resolve against base_dir. */
char *config_interpolate(const char *in, const char *base_dir, char *errstr, size_t errstr_size);
/* A range bound as users write it for the field's type ("4MiB", "5s", "10"). */
void config_format_bound(const struct sluice_config_field *f, double b, char *out, size_t n);
/* Render a plugin's reference page (Markdown) from its descriptor and tables. */
void config_docs_markdown(const struct sluice_plugin *p, buf_t *out);
/* Render the core's three tables (top level, pipeline, sink) the same way (docs/configuration.md).
 */
void config_docs_core_markdown(buf_t *out);

#endif
