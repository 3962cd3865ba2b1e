/*
 * datagen_node.h — the compiled form of a datagen schema (the tree of generator nodes, one per
 * place a type is used), shared by the compiler (datagen_compile.c) and the generator
 * (datagen_generate.c). Internal to the plugin.
 */
#ifndef DATAGEN_NODE_H
#define DATAGEN_NODE_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "datagen_schema.h"

#define DG_MAX_DEPTH       48
#define DG_MAX_LENGTH      1000000 /* longest string/bytes, most array items or map entries */
#define DG_REGEX_TRIES     64      /* draws of a regex before giving up on a `length` bound */
#define DG_DEFAULT_EXTRA   8       /* unbounded quantifiers repeat at most 8 more times */
#define DG_CONNECT_UNION   "io.confluent.connect.avro.Union"
#define DG_CONNECT_ENUM    "io.confluent.connect.avro.Enum"
#define DG_PARAM_PRECISION "connect.decimal.precision"

enum dg_kind {
    DG_NULL,
    DG_BOOLEAN,
    DG_INT,
    DG_LONG,
    DG_FLOAT,
    DG_DOUBLE,
    DG_BYTES,
    DG_STRING,
    DG_FIXED,
    DG_ENUM,
    DG_RECORD,
    DG_ARRAY,
    DG_MAP,
    DG_UNION,
    DG_OPTIONAL, /* ["null", T] (either order): Connect's optional T */
};

enum dg_logical {
    DG_L_NONE,
    DG_L_DATE,
    DG_L_TIME_MILLIS,
    DG_L_TIME_MICROS,
    DG_L_TS_MILLIS,
    DG_L_TS_MICROS,
    DG_L_DECIMAL,
    DG_L_UUID,
};

/* A constant value from an `options` list, checked against its node. */
struct dg_const {
    const struct dg_node *node; /* the node whose schema the value carries */
    int is_null;
    int64_t i; /* ints, booleans, decimal unscaled; union: branch index */
    double f;
    const char *s; /* string, bytes, enum symbol, encoded decimal */
    size_t len;
    struct dg_const *kids; /* array items, map values, record fields in order, union branch */
    size_t nkids;
    const char **keys; /* map keys */
    size_t *keylens;
};

struct dg_node {
    enum dg_kind kind;
    enum dg_logical logical;
    sluice_type_t ctype;           /* the Connect type of the values */
    const sluice_schema_t *schema; /* the Connect schema at this place (optional or not) */
    const char *path;

    /* options */
    struct dg_const *options;
    size_t noptions;

    /* numbers (ints, longs, decimal unscaled): inclusive [ilo, ihi]; floats: [dlo, dhi) */
    int64_t ilo, ihi;
    double dlo, dhi;
    int decimal_precision, decimal_scale;

    /* iteration: state word `iter_slot` of the task */
    int has_iter;
    size_t iter_slot;
    int64_t it_start, it_step, it_restart, it_initial;
    double itf_start, itf_step, itf_restart, itf_initial;

    double odds; /* boolean: probability of true */

    /* strings, bytes; array items and map entries: [len_min, len_max) */
    size_t len_min, len_max;
    struct datagen_regex *regex;
    const char *prefix, *suffix;
    size_t prefix_len, suffix_len;

    size_t fixed_size;
    const char **symbols; /* enum */
    size_t *symlens;
    size_t nsymbols;

    struct dg_node **kids; /* record fields, union branches; array items / map values: kids[0] */
    const char **names;    /* record field names, union branch (Connect field) names */
    size_t nkids;
    struct dg_node *keys; /* map keys (a STRING node) */
    int null_branch;      /* union: index of the null branch or -1 */
};

struct dg_block {
    struct dg_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

struct dg_named {
    const char *full;
    const cJSON *def;
    const char *space;
    int active; /* being compiled: a reference to it now is a recursion */
    struct dg_named *next;
};

struct datagen_schema {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    struct dg_block *blocks;
    struct datagen_regex **regexes;
    size_t nregexes, capregexes;
    struct dg_node *root;
    size_t key_index; /* SIZE_MAX: none */
    size_t niter;
    uint64_t *iter_init;
    char *scratch; /* strings are assembled here before being copied into the arena */
    size_t scratch_size;
    uint64_t fingerprint;

    /* compile time only */
    const char *what;
    const char *base_dir;
    struct dg_named *named;
    char *errstr;
    size_t errstr_size;
    int failed;
    int nomem;
    int depth;
    size_t iter_cap;
};

/* The minimal two's complement big-endian bytes of a decimal's unscaled value (at most 8). */
void dg_encode_decimal(int64_t u, unsigned char *buf, size_t *len);
/* Sign-extends the minimal encoding into `size` bytes (fixed decimals); -1 if it does not fit. */
int dg_encode_decimal_fixed(int64_t u, unsigned char *buf, size_t size);

#endif
