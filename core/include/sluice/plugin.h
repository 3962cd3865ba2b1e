/*
 * sluice/plugin.h — the plugin ABI of sluice.
 *
 * This header is the whole contract between the sluice core ("the host") and a plugin. It depends
 * on nothing but the C standard headers below: no librdkafka, libyaml, cJSON or avro-c type crosses
 * it.
 *
 * A plugin is a shared object that exports exactly one data symbol:
 *
 *     SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
 *         SLUICE_PLUGIN_HEADER,
 *         .name = "console", .version = "1.0.0", .summary = "...",
 *         .sink = &console_sink,
 *     };
 *
 * The core dlopen()s the file with RTLD_NOW | RTLD_LOCAL, reads `sluice_plugin`, refuses a
 * different ABI major or a newer ABI minor, and reads only the fields that lie inside `struct_size`
 * (structs only ever grow at their end). Tables (configuration fields, aliases) and the offsets
 * handed to `precommit` are arrays whose element size the descriptor records (ABI 1.3;
 * SLUICE_PLUGIN_HEADER fills it): the core walks them with the plugin's stride, so their structs
 * may grow at their end too. Because the descriptor is data, `sluice plugins` and `sluice lint`
 * read names, versions and configuration tables without calling plugin code.
 *
 * A plugin links against nothing of the core: every service of the host reaches it through the
 * function table `struct sluice_host` handed to each `init`. Build plugins with `-z defs` (no
 * undefined symbols).
 *
 * Threads. Each source instance runs on its own thread; each sink instance runs on its own thread;
 * transforms run on the thread of the source or sink they belong to. All callbacks of one instance
 * are called from that instance's thread, except `stop` of a source, which may be called from
 * another thread to interrupt a blocking `poll` (it must only signal). A plugin therefore needs no
 * locking of its own state unless it starts threads itself.
 *
 * Errors. Every fallible call returns a `sluice_err_t` and may write a human-readable message into
 * the `errstr` buffer it receives (always NUL-terminated, `errstr_size` bytes). The core prefixes
 * the message with the pipeline and plugin instance; do not repeat them.
 *
 * Memory. Records, values and their strings live in the arena of the batch they belong to and are
 * freed by the core when the batch is done: a plugin never frees them and must not keep pointers to
 * them after the callback returns. Schemas are long-lived: a schema a plugin builds belongs to the
 * plugin instance and is freed by the core after `destroy`.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Versions                                                                                       */

/** ABI major: bumped on any incompatible change; the core refuses a plugin of another major. */
#define SLUICE_ABI_MAJOR 1
/** ABI minor: bumped when fields are appended; the core refuses a plugin built for a newer minor.
 */
#define SLUICE_ABI_MINOR 4

#if defined(__GNUC__)
#define SLUICE_PLUGIN_EXPORT     __attribute__((visibility("default")))
#define SLUICE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SLUICE_PLUGIN_EXPORT
#define SLUICE_PRINTF(fmt, args)
#endif

/** The name of the one symbol a plugin exports. */
#define SLUICE_PLUGIN_SYMBOL "sluice_plugin"

/* ---------------------------------------------------------------------------------------------- */
/* Results                                                                                        */

typedef enum sluice_err {
    SLUICE_OK = 0,    /**< success */
    SLUICE_AGAIN = 1, /**< source poll: nothing available now, poll again */
    SLUICE_EOF = 2,   /**< source poll: the source is finished; the pipeline drains and ends */
    SLUICE_NOT_CONNECTED = 3, /**< source/sink: the peer is gone; the core backs off and retries */
    SLUICE_RETRY = 4,         /**< sink put/flush: transient failure; the same batch is retried */
    SLUICE_FATAL = 5,         /**< unrecoverable: the instance stops and its pipeline fails */
    SLUICE_ERR_CONFIG = 6,    /**< init: the configuration is invalid (message says which key) */
    SLUICE_ERR_INVALID = 7,   /**< a record or value is malformed (routed by errors.tolerance) */
    SLUICE_ERR_NOMEM = 8,     /**< out of memory */
    SLUICE_ERR_IO = 9,        /**< an I/O error (message says which file or peer) */
} sluice_err_t;

/* ---------------------------------------------------------------------------------------------- */
/* Opaque types owned by the core                                                                 */

typedef struct sluice_ctx sluice_ctx_t;       /**< one plugin instance as the core sees it */
typedef struct sluice_config sluice_config_t; /**< validated configuration of an instance */
typedef struct sluice_batch sluice_batch_t;   /**< a batch of records with its arena */
typedef struct sluice_record sluice_record_t; /**< one record (lives in a batch) */
typedef struct sluice_value sluice_value_t;   /**< a typed value (lives in a batch) */
typedef struct sluice_schema sluice_schema_t; /**< a schema (long-lived) */
typedef struct sluice_buf sluice_buf_t;       /**< a growable byte buffer owned by the plugin */

struct sluice_host; /* the host function table, defined at the end */

/* ---------------------------------------------------------------------------------------------- */
/* Types of values (Kafka Connect's data model)                                                   */

typedef enum sluice_type {
    SLUICE_TYPE_NULL = 0,
    SLUICE_TYPE_INT8,
    SLUICE_TYPE_INT16,
    SLUICE_TYPE_INT32,
    SLUICE_TYPE_INT64,
    SLUICE_TYPE_FLOAT32,
    SLUICE_TYPE_FLOAT64,
    SLUICE_TYPE_BOOLEAN,
    SLUICE_TYPE_STRING,
    SLUICE_TYPE_BYTES,
    SLUICE_TYPE_ARRAY,
    SLUICE_TYPE_MAP,
    SLUICE_TYPE_STRUCT,
} sluice_type_t;

/* Kafka Connect's logical type names; a schema carries one of these as its name. */
#define SLUICE_LOGICAL_TIMESTAMP                                                                   \
    "org.apache.kafka.connect.data.Timestamp"                          /* INT64 ms since epoch */
#define SLUICE_LOGICAL_DATE    "org.apache.kafka.connect.data.Date"    /* INT32 days since epoch */
#define SLUICE_LOGICAL_TIME    "org.apache.kafka.connect.data.Time"    /* INT32 ms of the day */
#define SLUICE_LOGICAL_DECIMAL "org.apache.kafka.connect.data.Decimal" /* BYTES, param "scale" */

/* ---------------------------------------------------------------------------------------------- */
/* Configuration tables                                                                           */

typedef enum sluice_config_type {
    SLUICE_CFG_STRING = 0,
    SLUICE_CFG_INT,      /**< 64-bit integer */
    SLUICE_CFG_BOOL,     /**< true/false */
    SLUICE_CFG_DOUBLE,   /**< floating point */
    SLUICE_CFG_DURATION, /**< "250ms", "5s", "2m", "1h", or a bare integer of milliseconds */
    SLUICE_CFG_SIZE,     /**< "512", "64KiB", "4MiB", "1GiB", "10KB", "2MB": bytes */
    SLUICE_CFG_ENUM,     /**< one of `enum_values` */
    SLUICE_CFG_LIST,     /**< a YAML sequence of scalars, or a comma-separated string */
    SLUICE_CFG_PATH, /**< a file path; relative paths resolve against the YAML file's directory */
    SLUICE_CFG_MAP,  /**< a YAML mapping of scalar keys to scalar values */
} sluice_config_type_t;

/** Flags of a configuration field. */
#define SLUICE_CFG_REQUIRED 0x1u /**< the key must be given (no default) */
#define SLUICE_CFG_SECRET   0x2u /**< never logged nor printed by `sluice lint --print` */
#define SLUICE_CFG_RANGE    0x4u /**< `min` and `max` apply (int, double, duration, size) */

/**
 * One key of a plugin's configuration. A table is an array of these ended by an entry whose `name`
 * is NULL. The core applies defaults, refuses unknown keys (with a "did you mean" hint), checks
 * types, ranges, enums and required keys, and only then calls `init`. The same table generates the
 * plugin's reference documentation (`sluice plugins docs NAME`).
 *
 * The core reads a table with the element size in the descriptor's `config_field_size` (ABI 1.3),
 * and only the members inside it: members appended in a later minor read as zero for an older
 * plugin.
 */
struct sluice_config_field {
    const char *name;          /**< the key, Kafka Connect's name where the concept matches */
    sluice_config_type_t type; /**< how the value is parsed and checked */
    const char *default_value; /**< the default as it would be written in YAML; NULL: none */
    unsigned flags;            /**< SLUICE_CFG_REQUIRED | SLUICE_CFG_SECRET | SLUICE_CFG_RANGE */
    const char *description;   /**< one or two sentences for the docs */
    const char *example;       /**< an example value for the docs; may be NULL */
    double min, max;           /**< inclusive bounds when SLUICE_CFG_RANGE is set */
    const char *const *enum_values; /**< NULL-terminated list for SLUICE_CFG_ENUM */
    /* -- ABI 1.3 -- */
    /**
     * With `set` non-zero, `config_map` stores the key's value at byte `offset` of the struct it
     * is given (Fluent Bit's config map), so that `init` need not read keys one by one. Write both
     * with SLUICE_CFG_SET(type, member). The member's C type must match the key's type:
     * `const char *` for STRING, ENUM and PATH (valid until `destroy` returns); `int64_t` for INT,
     * DURATION (ms) and SIZE (bytes); `int` for BOOL; `double` for DOUBLE. LIST and MAP keys
     * cannot be set (the loader refuses such a table).
     */
    int set;
    size_t offset; /**< offsetof(the plugin's struct, the member), with `set` */
};

/** In a configuration field: `config_map` stores the value in `member` of a `type` (ABI 1.3). */
#define SLUICE_CFG_SET(type, member) .set = 1, .offset = offsetof(type, member)

/* ---------------------------------------------------------------------------------------------- */
/* Logging                                                                                        */

typedef enum sluice_log_level {
    SLUICE_LOG_ERROR = 0,
    SLUICE_LOG_WARN = 1,
    SLUICE_LOG_INFO = 2,
    SLUICE_LOG_DEBUG = 3,
} sluice_log_level_t;

/* ---------------------------------------------------------------------------------------------- */
/* Roles                                                                                          */

/**
 * A source produces records into its pipeline's topic.
 *
 * Lifecycle: init → start → poll … → stop → destroy. `destroy` is always called after a successful
 * `init`, even when `start` failed. `commit` may be called between polls (same thread) with the
 * position of the newest record that is durable downstream (acknowledged by Kafka, or flushed by
 * every sink in-process); positions arrive in order.
 */
struct sluice_source {
    size_t struct_size; /**< sizeof(struct sluice_source), set by the plugin */
    const struct sluice_config_field *config; /**< the configuration table */

    /** Parse the validated configuration and allocate the instance state into `*state`. */
    sluice_err_t (*init)(const struct sluice_host *host, sluice_ctx_t *ctx,
                         const sluice_config_t *config, void **state, char *errstr,
                         size_t errstr_size);
    /**
     * Open the source. `resume_from` is the last committed position (the bytes the source itself
     * put on a record with `record_set_position`), or NULL with `resume_len` 0 on a first start.
     */
    sluice_err_t (*start)(void *state, const void *resume_from, size_t resume_len, char *errstr,
                          size_t errstr_size);
    /**
     * Add zero or more records to `batch` (see `batch_add`). Wait at most `timeout_ms` for data.
     * Returns OK (records added, possibly none), AGAIN (nothing now), EOF (finished; records added
     * in this call are still delivered), NOT_CONNECTED (the core backs off and polls again) or
     * FATAL.
     */
    sluice_err_t (*poll)(void *state, sluice_batch_t *batch, int timeout_ms, char *errstr,
                         size_t errstr_size);
    /** Optional: a descriptor the core may wait on for readability instead of polling; -1 if none.
     */
    int (*fd)(void *state);
    /** Optional: `position` and every earlier one is durable downstream. */
    sluice_err_t (*commit)(void *state, const void *position, size_t len, char *errstr,
                           size_t errstr_size);
    /** Optional: interrupt a blocking poll and stop producing. May run on another thread and may be
     *  called more than once: it must only set a flag or wake the poll. */
    void (*stop)(void *state);
    /** Free the state. */
    void (*destroy)(void *state);
};

/**
 * A transform reshapes records on the way. `process` is called once per record; it may modify the
 * record in place and forward it with `batch_push(out, record)`, forward new records created with
 * `batch_add(out)`, or forward nothing (the record is dropped). On an error return the record is
 * not forwarded: it is routed by the pipeline's `errors.tolerance` (and dead-letter topic).
 */
struct sluice_transform {
    size_t struct_size; /**< sizeof(struct sluice_transform) */
    const struct sluice_config_field *config;

    sluice_err_t (*init)(const struct sluice_host *host, sluice_ctx_t *ctx,
                         const sluice_config_t *config, void **state, char *errstr,
                         size_t errstr_size);
    sluice_err_t (*process)(void *state, sluice_record_t *record, sluice_batch_t *out, char *errstr,
                            size_t errstr_size);
    void (*destroy)(void *state);
};

/**
 * One partition's commit point (ABI 1.2; see the sink's `precommit`). The core allocates the array
 * it hands to `precommit` with the element size in the descriptor's `offset_size` (ABI 1.3), so
 * that the plugin can index it as it was built; it fills the members it knows, zeroes the rest of
 * each element and reads back only `offset`. A member appended in a later minor must therefore
 * read zero as "the core did not fill this".
 */
struct sluice_offset {
    const char *topic; /**< the topic the sink reads (its records may carry another name) */
    int32_t partition; /**< 0 in-process */
    int64_t offset;    /**< records of this partition below it are durable */
};

/**
 * A sink delivers records elsewhere.
 *
 * Lifecycle: init → start → (put … flush)… → stop → destroy. `put` hands over a batch; the sink may
 * buffer it. `flush` returns OK only when everything `put` accepted so far is durable: only then
 * does the core commit the batch's offsets. RETRY from put or flush retries the same call after a
 * backoff; FATAL fails the sink. A record the sink cannot write at all is reported with
 * `record_fail`, which routes it by `errors.tolerance` without failing the batch.
 */
struct sluice_sink {
    size_t struct_size; /**< sizeof(struct sluice_sink) */
    const struct sluice_config_field *config;

    sluice_err_t (*init)(const struct sluice_host *host, sluice_ctx_t *ctx,
                         const sluice_config_t *config, void **state, char *errstr,
                         size_t errstr_size);
    sluice_err_t (*start)(void *state, char *errstr, size_t errstr_size);
    sluice_err_t (*put)(void *state, sluice_batch_t *batch, char *errstr, size_t errstr_size);
    sluice_err_t (*flush)(void *state, char *errstr, size_t errstr_size);
    void (*stop)(void *state);
    void (*destroy)(void *state);
    /* -- ABI 1.2 -- */
    /**
     * Optional: for a sink that keeps records across commits (Kafka Connect's preCommit), e.g. a
     * file kept open until it rotates. When set, the core calls `precommit` — not `flush` — when
     * the sink is idle (then at least every 50 ms while records are pending, so that the sink can
     * close on time what is due) and every `offset.flush.interval.ms`; it still calls `flush` when
     * the run stops, when Kafka revokes partitions and when an in-process topic's buffer is full,
     * and then everything put must become durable as usual.
     *
     * `offsets` holds, for each partition the sink was given records of and that has records not
     * committed yet, the offset after the last record put. The sink makes durable what it decides
     * to, then lowers each `offset` to the first record that is not durable yet (leaving it as is
     * when all are); it must never raise one. The core commits exactly those offsets. RETRY and
     * FATAL as for flush.
     */
    sluice_err_t (*precommit)(void *state, struct sluice_offset *offsets, size_t count,
                              char *errstr, size_t errstr_size);
};

/* ---------------------------------------------------------------------------------------------- */
/* The descriptor */

/**
 * Another name a plugin answers to in `plugin:` (ABI 1.1). Kafka Connect users paste class names
 * (`org.apache.kafka.connect.transforms.Cast$Value`); an alias maps such a name to this plugin and
 * may preset one configuration key (`where: value`). Giving that key a different value in the YAML
 * is an error. A table ends with an entry whose `name` is NULL.
 */
struct sluice_alias {
    const char *name;  /**< the other name, e.g. a Kafka Connect class name */
    const char *key;   /**< a configuration key the alias presets, or NULL */
    const char *value; /**< its value, as it would be written in YAML */
};

/**
 * The exported descriptor. Start it with SLUICE_PLUGIN_HEADER so that the ABI fields are right.
 * A plugin has at least one role; the same plugin name may serve as source and sink (e.g. `file`).
 */
struct sluice_plugin {
    uint32_t abi_major;      /**< SLUICE_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;      /**< SLUICE_ABI_MINOR the plugin was built with */
    size_t struct_size;      /**< sizeof(struct sluice_plugin) the plugin was built with */
    const char *name;        /**< unique plugin name used in YAML (`plugin: console`) */
    const char *version;     /**< the plugin's own version, e.g. "1.0.0" */
    const char *summary;     /**< one line */
    const char *description; /**< a paragraph for the docs (Markdown); may be NULL */
    const struct sluice_source *source;       /**< NULL if not a source */
    const struct sluice_transform *transform; /**< NULL if not a transform */
    const struct sluice_sink *sink;           /**< NULL if not a sink */
    /* -- ABI 1.1 -- */
    const struct sluice_alias *aliases; /**< other names (NULL-name terminated); may be NULL */
    /* -- ABI 1.3: element sizes of the plugin's arrays, filled by SLUICE_PLUGIN_HEADER. A size of
     *    0, or a descriptor too short to hold it (ABI 1.0-1.2), means the size that struct has in
     *    the ABI minor of `abi_minor` (for 1.0-1.2, their 1.2 sizes). -- */
    size_t config_field_size; /**< sizeof(struct sluice_config_field) the plugin was built with */
    size_t alias_size;        /**< sizeof(struct sluice_alias) the plugin was built with */
    size_t offset_size;       /**< sizeof(struct sluice_offset): precommit's `offsets` stride */
};

/** Fills the descriptor's ABI version and every size the core needs to read the plugin's data. */
#ifndef __cplusplus
#define SLUICE_PLUGIN_HEADER                                                                       \
    .abi_major = SLUICE_ABI_MAJOR, .abi_minor = SLUICE_ABI_MINOR,                                  \
    .struct_size = sizeof(struct sluice_plugin),                                                   \
    .config_field_size = sizeof(struct sluice_config_field),                                       \
    .alias_size = sizeof(struct sluice_alias), .offset_size = sizeof(struct sluice_offset)
#else
/* C++ takes designated initializers only in declaration order: the element sizes stay 0, which the
 * core reads as the sizes of this header's minor (the structs the plugin was built with). */
#define SLUICE_PLUGIN_HEADER                                                                       \
    .abi_major = SLUICE_ABI_MAJOR, .abi_minor = SLUICE_ABI_MINOR,                                  \
    .struct_size = sizeof(struct sluice_plugin)
#endif

/* ---------------------------------------------------------------------------------------------- */
/* The host function table                                                                        */

/**
 * Services of the core, handed to every `init`. Valid until `destroy` returns. A function added in
 * a later ABI minor is present only when `struct_size` covers it; use SLUICE_HOST_HAS().
 *
 * Unless said otherwise a function may be called from the instance's own thread only.
 */
struct sluice_host {
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t struct_size;

    /* -- logging: prefixed with pipeline and instance; secret config values never reach it ----- */
    void (*log)(sluice_ctx_t *ctx, sluice_log_level_t level, const char *fmt, ...)
        SLUICE_PRINTF(3, 4);
    /** Like log, but at most `per_minute` messages of this `key` a minute; the rest are counted. */
    void (*log_limited)(sluice_ctx_t *ctx, sluice_log_level_t level, const char *key,
                        int per_minute, const char *fmt, ...) SLUICE_PRINTF(5, 6);
    int (*log_enabled)(sluice_ctx_t *ctx, sluice_log_level_t level);
    /** The instance's name for messages: "pipeline/plugin-instance". */
    const char *(*ctx_name)(sluice_ctx_t *ctx);
    /** The pipeline's topic. */
    const char *(*ctx_topic)(sluice_ctx_t *ctx);
    /** Task number of this instance (0 .. tasks.max-1). */
    int (*ctx_task)(sluice_ctx_t *ctx);

    /* -- configuration getters: keys must be in the plugin's table; defaults already applied -----
     */
    /** 1 if the key was given or has a default, 0 if it is unset. */
    int (*config_has)(const sluice_config_t *cfg, const char *key);
    /** string, enum and path (paths come back resolved); NULL when unset. */
    const char *(*config_string)(const sluice_config_t *cfg, const char *key);
    int64_t (*config_int)(const sluice_config_t *cfg, const char *key);
    int (*config_bool)(const sluice_config_t *cfg, const char *key);
    double (*config_double)(const sluice_config_t *cfg, const char *key);
    int64_t (*config_duration_ms)(const sluice_config_t *cfg, const char *key);
    int64_t (*config_size)(const sluice_config_t *cfg, const char *key);
    /** Lists and maps: number of items, then item i (for maps, key i and value i). */
    size_t (*config_count)(const sluice_config_t *cfg, const char *key);
    const char *(*config_item)(const sluice_config_t *cfg, const char *key, size_t i);
    const char *(*config_map_key)(const sluice_config_t *cfg, const char *key, size_t i);

    /* -- clock ------------------------------------------------------------------------------ */
    int64_t (*now_ms)(void);       /**< wall clock, ms since the epoch */
    int64_t (*monotonic_ms)(void); /**< monotonic clock, ms; any thread */

    /* -- metrics: a named counter of this instance, reported by the core; any thread ---------- */
    void (*counter_add)(sluice_ctx_t *ctx, const char *name, int64_t delta);

    /* -- batches --------------------------------------------------------------------------------
     */
    size_t (*batch_count)(const sluice_batch_t *batch);
    sluice_record_t *(*batch_get)(sluice_batch_t *batch, size_t i);
    /** A new empty record appended to `batch` (topic = the pipeline's); NULL on out of memory. */
    sluice_record_t *(*batch_add)(sluice_batch_t *batch);
    /** Transforms: forward an existing record (of the input batch) to `out`. */
    sluice_err_t (*batch_push)(sluice_batch_t *out, sluice_record_t *record);
    /** Memory from the batch's arena, freed with the batch; 16-byte aligned. */
    void *(*batch_alloc)(sluice_batch_t *batch, size_t size);

    /* -- records ----------------------------------------------------------------------------- */
    const char *(*record_topic)(const sluice_record_t *rec);
    int32_t (*record_partition)(const sluice_record_t *rec);
    int64_t (*record_offset)(const sluice_record_t *rec);              /**< -1 on the source side */
    int64_t (*record_timestamp)(const sluice_record_t *rec);           /**< ms since the epoch */
    void (*record_set_topic)(sluice_record_t *rec, const char *topic); /**< copied */
    void (*record_set_timestamp)(sluice_record_t *rec, int64_t ts_ms);
    /**
     * The key or value as a typed value, decoded by the converter on first use (at most once).
     * NULL with `*err` set when decoding fails; a NULL without error cannot happen (a missing value
     * is a value of type SLUICE_TYPE_NULL).
     */
    sluice_value_t *(*record_key)(sluice_record_t *rec, char *errstr, size_t errstr_size);
    sluice_value_t *(*record_value)(sluice_record_t *rec, char *errstr, size_t errstr_size);
    void (*record_set_key)(sluice_record_t *rec, sluice_value_t *key);
    void (*record_set_value)(sluice_record_t *rec, sluice_value_t *value);
    /**
     * The encoded bytes of the value as they sit in the topic, when the record still has them
     * (nothing replaced the value since it was read); NULL otherwise. Lets a sink copy bytes
     * untouched.
     */
    const void *(*record_value_bytes)(const sluice_record_t *rec, size_t *len);
    const void *(*record_key_bytes)(const sluice_record_t *rec, size_t *len);
    /** Source side: the position to resume after this record (copied into the batch). */
    void (*record_set_position)(sluice_record_t *rec, const void *pos, size_t len);
    /** Headers: name and value bytes (copied); duplicate names allowed, order kept. */
    void (*record_add_header)(sluice_record_t *rec, const char *name, const void *value,
                              size_t len);
    size_t (*record_header_count)(const sluice_record_t *rec);
    const char *(*record_header)(const sluice_record_t *rec, size_t i, const void **value,
                                 size_t *len);
    void (*record_remove_header)(sluice_record_t *rec, size_t i);
    /** Sinks and transforms: this record cannot be handled; route it by errors.tolerance. */
    void (*record_fail)(sluice_record_t *rec, const char *reason);

    /* -- values: created in the arena of the batch of `rec`, attached to nothing until set ------
     */
    sluice_value_t *(*value_null)(sluice_record_t *rec);
    sluice_value_t *(*value_int)(sluice_record_t *rec, sluice_type_t type, int64_t v);
    sluice_value_t *(*value_float)(sluice_record_t *rec, sluice_type_t type, double v);
    sluice_value_t *(*value_bool)(sluice_record_t *rec, int v);
    /** STRING (UTF-8) or BYTES; the bytes are copied into the arena. */
    sluice_value_t *(*value_string)(sluice_record_t *rec, const char *s, size_t len);
    sluice_value_t *(*value_bytes)(sluice_record_t *rec, const void *p, size_t len);
    /** A STRUCT of `schema` (fields start as NULL values), or a schemaless MAP when NULL. */
    sluice_value_t *(*value_struct)(sluice_record_t *rec, const sluice_schema_t *schema);
    sluice_value_t *(*value_array)(sluice_record_t *rec, const sluice_schema_t *schema);
    sluice_value_t *(*value_map)(sluice_record_t *rec, const sluice_schema_t *schema);
    /** Attach a schema to a value (e.g. a logical type on an INT64). */
    void (*value_set_schema)(sluice_value_t *v, const sluice_schema_t *schema);
    /** Set a field of a STRUCT (must be in its schema) or a key of a string-keyed MAP. */
    sluice_err_t (*value_put)(sluice_record_t *rec, sluice_value_t *obj, const char *field,
                              sluice_value_t *v);
    sluice_err_t (*value_append)(sluice_record_t *rec, sluice_value_t *array, sluice_value_t *v);
    sluice_err_t (*value_map_put)(sluice_record_t *rec, sluice_value_t *map, sluice_value_t *k,
                                  sluice_value_t *v);

    sluice_type_t (*value_type)(const sluice_value_t *v);
    const sluice_schema_t *(*value_schema)(const sluice_value_t *v); /**< NULL if schemaless */
    int64_t (*value_as_int)(const sluice_value_t *v); /**< exact for every integer type */
    double (*value_as_float)(const sluice_value_t *v);
    int (*value_as_bool)(const sluice_value_t *v);
    const char *(*value_as_string)(const sluice_value_t *v, size_t *len); /**< STRING/BYTES */
    /** Number of items of an ARRAY, MAP or STRUCT. */
    size_t (*value_count)(const sluice_value_t *v);
    /** Item i: ARRAY element; MAP value (`*key` set); STRUCT field value (`*name` set). */
    sluice_value_t *(*value_item)(const sluice_value_t *v, size_t i, const char **name,
                                  sluice_value_t **key);
    /** STRUCT field or string-keyed MAP entry by name; NULL if absent. */
    sluice_value_t *(*value_get)(const sluice_value_t *v, const char *field);

    /* -- rendering ---------------------------------------------------------------------------- */
    /** Append `v` as JSON (Kafka Connect's JsonConverter payload form, no envelope) to `buf`. */
    sluice_err_t (*value_write_json)(const sluice_value_t *v, sluice_buf_t *buf);
    /** Append `v` as text: a STRING as is, anything else as JSON. */
    sluice_err_t (*value_write_text)(const sluice_value_t *v, sluice_buf_t *buf);
    /** Parse JSON text into a schemaless value (objects become string-keyed MAPs, integers INT64
     *  kept exact) in the arena of `rec`'s batch; NULL with a message on invalid JSON. */
    sluice_value_t *(*value_parse_json)(sluice_record_t *rec, const char *text, size_t len,
                                        char *errstr, size_t errstr_size);

    /*
     * -- buffers (any thread; one buffer is used by one thread at a time) ----------------------
     * Errors are sticky (ABI 1.3): a buffer remembers the first error of any function that appends
     * to it (buf_append, buf_printf, buf_append_json_string, value_write_json, value_write_text),
     * and after it those append nothing and return that error; buf_reset clears it. So a plugin
     * can build a line with many appends and check once, with buf_error, at the end.
     */
    sluice_buf_t *(*buf_new)(size_t initial_capacity);
    void (*buf_free)(sluice_buf_t *buf);
    void (*buf_reset)(sluice_buf_t *buf);
    sluice_err_t (*buf_append)(sluice_buf_t *buf, const void *p, size_t len);
    const char *(*buf_data)(const sluice_buf_t *buf); /**< NUL-terminated view */
    size_t (*buf_len)(const sluice_buf_t *buf);

    /* -- schemas: owned by the instance `ctx`, freed after its destroy ------------------------- */
    /* A schema may be changed with these setters after records have used it (a field added as a
     * stream evolves): the converters see the change at the next record they encode. */
    sluice_schema_t *(*schema_new)(sluice_ctx_t *ctx, sluice_type_t type);
    /** A STRUCT schema with a name (may be NULL). Add fields in order with schema_add_field. */
    sluice_schema_t *(*schema_struct)(sluice_ctx_t *ctx, const char *name);
    sluice_err_t (*schema_add_field)(sluice_schema_t *st, const char *name,
                                     const sluice_schema_t *field);
    sluice_schema_t *(*schema_array)(sluice_ctx_t *ctx, const sluice_schema_t *items);
    sluice_schema_t *(*schema_map)(sluice_ctx_t *ctx, const sluice_schema_t *keys,
                                   const sluice_schema_t *values);
    /** Set optional, name (logical types use theirs), doc, and string parameters. */
    void (*schema_set_optional)(sluice_schema_t *s, int optional);
    sluice_err_t (*schema_set_name)(sluice_schema_t *s, const char *name);
    sluice_err_t (*schema_set_doc)(sluice_schema_t *s, const char *doc);
    sluice_err_t (*schema_set_param)(sluice_schema_t *s, const char *key, const char *value);
    sluice_type_t (*schema_type)(const sluice_schema_t *s);
    const char *(*schema_name)(const sluice_schema_t *s);
    int (*schema_optional)(const sluice_schema_t *s);
    size_t (*schema_field_count)(const sluice_schema_t *s);
    const char *(*schema_field)(const sluice_schema_t *s, size_t i, const sluice_schema_t **field);
    const char *(*schema_param)(const sluice_schema_t *s, const char *key);
    /** Parse a Kafka Connect JSON schema (`{"type":"struct","fields":[...]}`). */
    sluice_schema_t *(*schema_from_json)(sluice_ctx_t *ctx, const char *json, size_t len,
                                         char *errstr, size_t errstr_size);

    /* -- ABI 1.1 (check with SLUICE_HOST_HAS) -------------------------------------------------- */
    /**
     * Append an entry to a string-keyed MAP without looking for an equal key first (value_map_put
     * replaces one, which costs a search per entry): for a transform that rebuilds a map whose keys
     * it knows to be distinct, e.g. from the items of another map. `key` must be a STRING value
     * of the same batch (such as a key from value_item); the map keeps it, copying its text only
     * when needed. SLUICE_ERR_INVALID when `map` is not a string-keyed MAP or `key` not a STRING.
     * Appending a key the map already has makes a map with a duplicate key: don't.
     */
    sluice_err_t (*value_map_append)(sluice_record_t *rec, sluice_value_t *map, sluice_value_t *key,
                                     sluice_value_t *v);
    /**
     * The index, for value_item and value_set_item, of a STRUCT's field (by its schema) or of a
     * string-keyed MAP's entry whose key is `field`; -1 when there is none, when `obj` is neither,
     * or when a MAP's schema has keys other than strings. Finds a field once for a transform that
     * reads it and then replaces it (value_get then value_put search twice). Reads only; the index
     * stays valid until the map gains or loses entries.
     */
    long (*value_index)(const sluice_value_t *obj, const char *field);
    /**
     * Replace the value of item `i` of an ARRAY (element), MAP (entry value; the key stays) or
     * STRUCT (field value) in place. `v` must be a value of the same batch; `obj` keeps it, not a
     * copy. SLUICE_ERR_INVALID, with `obj` unchanged, when `i` is out of range, when `obj` is none
     * of these, or when a STRUCT field's schema does not take a value of `v`'s type (as
     * value_put: null is taken by every field).
     */
    sluice_err_t (*value_set_item)(sluice_record_t *rec, sluice_value_t *obj, size_t i,
                                   sluice_value_t *v);
    /**
     * Rename entry `i` of a string-keyed MAP in place: its key becomes `key`, whose text is copied
     * into the arena of `rec`'s batch (the caller keeps `key`); the entry's value and position
     * stay. The caller guarantees that no other entry has the key `key` already: the map does not
     * check, and a duplicate makes a map with two equal keys. SLUICE_ERR_INVALID, with the map
     * unchanged, when `map` is not a MAP whose schema (if any) has string keys, `i` is out of range
     * or entry `i`'s key is not a STRING; SLUICE_ERR_NOMEM, with the map unchanged, when out of
     * memory.
     */
    sluice_err_t (*value_map_rename)(sluice_record_t *rec, sluice_value_t *map, size_t i,
                                     const char *key);

    /* -- ABI 1.3 (check with SLUICE_HOST_HAS) -------------------------------------------------- */
    /** Append text formatted as printf does. SLUICE_ERR_NOMEM when out of memory; sticky. */
    sluice_err_t (*buf_printf)(sluice_buf_t *buf, const char *fmt, ...) SLUICE_PRINTF(2, 3);
    /**
     * Append the `len` bytes at `s` as a JSON string literal, quotes included, as value_write_json
     * writes a STRING: `"` and `\` escaped, control characters as \n, \t, ... or \u00XX, valid
     * UTF-8 copied, and each byte that is not part of valid UTF-8 written as \ufffd (so the result
     * is always valid JSON, whatever the bytes). Sticky errors.
     */
    sluice_err_t (*buf_append_json_string)(sluice_buf_t *buf, const char *s, size_t len);
    /** The first error of an append since buf_new or the last buf_reset; SLUICE_OK if none. */
    sluice_err_t (*buf_error)(const sluice_buf_t *buf);
    /**
     * Store the value of every key of the instance's table that has `set` (see SLUICE_CFG_SET) and
     * a value (given or defaulted) into the struct at `base`; members of unset keys are left as
     * they are. Called in `init`, typically right after allocating the state. SLUICE_OK.
     */
    sluice_err_t (*config_map)(const sluice_config_t *cfg, void *base);
    /**
     * Copy `text` into `out` (`size` bytes, NUL-terminated when size > 0) with the credentials of
     * every URL in it hidden: the userinfo (`user:password@`) becomes "********@" and the value of
     * a query parameter whose name holds "password" (JDBC's `?password=`) "********". Returns the
     * length of the whole result, as snprintf does. Use it for every message that may show a URL
     * a user configured. Any thread.
     */
    size_t (*redact_url)(char *out, size_t size, const char *text);

    /* -- ABI 1.4 (check with SLUICE_HOST_HAS) -------------------------------------------------- */
    /**
     * The schemas inside an ARRAY or MAP schema, which schema_array and schema_map take and
     * schema_field does not give back: for an ARRAY its item schema (`*keys` set to NULL); for a
     * MAP its value schema, with `*keys` set to its key schema; NULL (and `*keys` NULL) for any
     * other schema. `keys` may be NULL. Reads only.
     */
    const sluice_schema_t *(*schema_items)(const sluice_schema_t *s, const sluice_schema_t **keys);
};

/** True when the host table `h` includes the member `field` (for members added in later minors). */
#define SLUICE_HOST_HAS(h, field)                                                                  \
    ((h)->struct_size >= offsetof(struct sluice_host, field) + sizeof((h)->field))

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_PLUGIN_H */
