/*
 * cdc.h — mysql-cdc's binlog mode (Debezium's MySQL connector): the state its files share.
 *
 * The files form layers; each calls only the layers below it (not always the next one):
 *
 *   cdc.c                   the source: configuration, modes; connect / snapshot / stream phases
 *   snapshot.c, binlog.c    the snapshot's `r` records; `c`/`u`/`d` streamed from the binlog
 *   rowdecode.c, schema.c,  column values (binlog row images, snapshot text); tables, columns,
 *   envelope.c              Connect schemas, the metadata connection; Debezium's change event
 *   position.c, filter.c    the position codec; the table include/exclude lists
 *   cdc_util.c              cdc_fail and the protocol's length-encoded integers
 *
 * (query.c, the JDBC source's polling modes, stands apart: see query.h.)
 */
#ifndef SLUICE_MYSQL_CDC_H
#define SLUICE_MYSQL_CDC_H

#include <mysql.h> /* before mariadb_rpl.h, which needs its types */

#include <mariadb_rpl.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>

#include <sluice/plugin.h>

#include "conn.h"

#define CDC_VERSION "2.5.4.Final-sluice" /* source.version: Debezium's release we follow */

enum cdc_snapshot_mode {
    SNAP_INITIAL,
    SNAP_ALWAYS,
    SNAP_INITIAL_ONLY,
    SNAP_NO_DATA,
    SNAP_WHEN_NEEDED,
    SNAP_NEVER,
};
enum cdc_decimal_mode { DEC_PRECISE, DEC_DOUBLE, DEC_STRING };
enum cdc_binary_mode { BIN_BYTES, BIN_BASE64, BIN_BASE64_URL, BIN_HEX };

/* What a column becomes (Debezium's mapping), independent of how it is encoded. */
enum cdc_kind {
    K_INT16,
    K_INT32,
    K_INT64,
    K_U64, /* BIGINT UNSIGNED: int64 (long) or Decimal scale 0 (precise) */
    K_FLOAT32,
    K_FLOAT64,
    K_DECIMAL,
    K_STRING,
    K_BYTES,
    K_DATE,
    K_DATETIME,
    K_TIMESTAMP,
    K_TIME,
    K_YEAR,
    K_ENUM,
    K_SET,
    K_BOOL, /* BIT(1) */
    K_BITS, /* BIT(n) */
    K_JSON,
    K_OTHER, /* GEOMETRY and the like: bytes */
};

enum cdc_charset { CS_UTF8, CS_LATIN1, CS_ASCII, CS_BINARY, CS_OTHER };

struct cdc_col {
    char *name;
    enum cdc_kind kind;
    enum cdc_charset cs;
    int is_unsigned, nullable, pk;
    int precision, scale, fsp, bits;
    int padlen;    /* BINARY(n): n (the binlog drops trailing zero bytes) */
    char **values; /* ENUM/SET members, 1-based in the binlog */
    size_t nvalues;
    const sluice_schema_t *schema; /* the field's schema (optional when nullable) */
};

struct cdc_table {
    char *db, *name;
    char *topic;
    struct cdc_col *cols;
    size_t ncols;
    size_t *pk;
    size_t npk;
    sluice_schema_t *key_schema, *value_schema, *env_schema;
    int stale; /* a DDL was seen: re-read the columns at the next TABLE_MAP */
    uint64_t table_id;
    /* the binlog's view of the columns (from the last TABLE_MAP) */
    uint8_t *btype;
    uint16_t *bmeta;
    size_t nb;
};

struct cdc_pos {
    char file[256];
    uint64_t pos;   /* start of the transaction (its GTID event) or of the snapshot */
    uint64_t row;   /* rows of that transaction already delivered */
    int snapshot;   /* 1: the snapshot had not finished */
    char gtid[128]; /* @@gtid_binlog_pos style, when known */
};

struct cdc {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    struct mysql_conn_cfg conn;
    char who[512];

    /* configuration */
    char *prefix;  /* topic.prefix, or NULL: the pipeline's topic */
    char *logical; /* the logical server name in schema names and source.name */
    uint32_t server_id;
    enum cdc_snapshot_mode snap_mode;
    int tombstones;
    enum cdc_decimal_mode dec_mode;
    int bigint_precise;
    int time_connect;
    enum cdc_binary_mode bin_mode;
    int64_t max_batch;
    regex_t *db_inc, *db_exc, *tb_inc, *tb_exc;
    size_t ndb_inc, ndb_exc, ntb_inc, ntb_exc;

    /* tables seen so far */
    struct cdc_table **tables;
    size_t ntables;

    /* shared schemas */
    sluice_schema_t *source_schema;

    /* the metadata connection (information_schema, SHOW ...) */
    MYSQL *meta;

    /* snapshot */
    struct cdc_snap *snap;

    /* streaming */
    MYSQL *bl;
    MARIADB_RPL *rpl;
    MARIADB_RPL_EVENT *ev;
    pthread_mutex_t sock_lock;
    int sock; /* the binlog connection's socket while open (for stop) */
    atomic_int stopping;
    int streaming;      /* the binlog connection is open */
    struct cdc_pos cur; /* where the transaction being read started; rows seen in it */
    uint64_t skip;      /* rows of `cur` to skip (already delivered before a restart) */
    int in_txn;
    int checksum;      /* binlog events end with a CRC32 */
    char gtid_cur[64]; /* the current transaction's GTID (source.gtid) */
    uint32_t ev_server_id;
    int64_t ev_ts_ms;
    int64_t backoff_ms, next_connect_ms;
    int connected_once;
    int eof_after_snapshot;   /* initial_only */
    sluice_buf_t *tmp;        /* scratch text */
    char bad[160];            /* rowdecode.c: why the last value could not be decoded */
    struct cdc_stream *tmaps; /* binlog.c: table id -> table */
};

/* cdc_util.c */
void cdc_fail(char *errstr, size_t errstr_size, const char *fmt, ...) SLUICE_PRINTF(3, 4);
/* A length-encoded integer of the client/server protocol at *p (advanced past it); 0 at `end`. */
uint64_t cdc_lenenc(const uint8_t **p, const uint8_t *end);

/* filter.c */
/* 1 if db.table is captured: not a system database, and through the include/exclude lists. */
int cdc_table_included(const struct cdc *c, const char *db, const char *table);
/* Compiles the list `key` of `cfg` into anchored, case-insensitive regexes; -1 with a message on
 * error. */
int cdc_regexes(struct cdc *c, const sluice_config_t *cfg, const char *key, regex_t **out,
                size_t *n, char *errstr, size_t errstr_size);
void cdc_regexes_free(regex_t *re, size_t n);

/* position.c */
/* Position bytes <-> struct. */
size_t cdc_pos_format(const struct cdc_pos *p, char *out, size_t size);
int cdc_pos_parse(const void *bytes, size_t len, struct cdc_pos *out);

/* schema.c */
/* The table db.name, loading its columns from information_schema when not known or stale.
 * NULL with a message on error (*fatal 1 when retrying cannot help). */
struct cdc_table *cdc_table_get(struct cdc *c, const char *db, const char *name, int reload,
                                char *errstr, size_t errstr_size);
/* A table built from a TABLE_MAP event's full metadata (for events written before the table's
 * current definition); NULL with a message when the event lacks column names. */
struct cdc_table *cdc_table_from_map(struct cdc *c, const char *db, const char *name,
                                     const uint8_t *types, const uint16_t *metas, size_t ncols,
                                     const uint8_t *nullbits, const uint8_t *opt, size_t optlen,
                                     char *errstr, size_t errstr_size);
int cdc_table_replace(struct cdc *c, struct cdc_table *t);
sluice_err_t cdc_schema_init(struct cdc *c, char *errstr, size_t errstr_size);
void cdc_tables_free(struct cdc *c);
/* Runs a query on the metadata connection; NULL result with a message on error. */
MYSQL_RES *cdc_query(struct cdc *c, MYSQL *m, const char *sql, char *errstr, size_t errstr_size);
/* (Re)opens the metadata connection when needed. */
sluice_err_t cdc_meta_open(struct cdc *c, char *errstr, size_t errstr_size);
void cdc_meta_close(struct cdc *c);

/* rowdecode.c */
/* One column value from its text (snapshot, text protocol) form. */
sluice_value_t *cdc_value_text(struct cdc *c, sluice_record_t *rec, const struct cdc_col *col,
                               const char *s, size_t len);
/* One column value from a binlog row image at *p (advanced past it). NULL on a malformed image. */
sluice_value_t *cdc_value_binlog(struct cdc *c, sluice_record_t *rec, const struct cdc_col *col,
                                 uint8_t type, uint16_t meta, const uint8_t **p,
                                 const uint8_t *end);
/* Bytes a binlog value of `type`/`meta` takes at p (for skipping), or -1. */
long cdc_binlog_size(uint8_t type, uint16_t meta, const uint8_t *p, const uint8_t *end);

/* envelope.c */
/* The source struct and the envelope; op 'r','c','u','d'. */
struct cdc_source_info {
    int64_t ts_ms;
    const char *snapshot; /* "true", "first", "last" or NULL (false) */
    const char *file;
    uint64_t pos;
    int32_t row;
    uint32_t server_id;
    const char *gtid;
    int64_t thread; /* -1: null */
};
sluice_err_t cdc_emit(struct cdc *c, sluice_batch_t *batch, struct cdc_table *t, char op,
                      sluice_value_t *before, sluice_value_t *after, sluice_record_t *rec,
                      const struct cdc_source_info *si, const struct cdc_pos *pos, int partial,
                      char *errstr, size_t errstr_size);
/* 1 when an update changed the primary key (Debezium: delete + tombstone + create). */
int cdc_key_changed(struct cdc *c, struct cdc_table *t, sluice_value_t *before,
                    sluice_value_t *after);
/* The key struct (PK columns) from a row struct value, or NULL without a PK. */
sluice_value_t *cdc_key_of(struct cdc *c, sluice_record_t *rec, struct cdc_table *t,
                           sluice_value_t *row);

/* snapshot.c */
sluice_err_t cdc_snapshot_begin(struct cdc *c, char *errstr, size_t errstr_size);
/* Adds snapshot records; *done set when the snapshot has ended (c->cur is then where streaming
 * starts). */
sluice_err_t cdc_snapshot_poll(struct cdc *c, sluice_batch_t *batch, int *done, char *errstr,
                               size_t errstr_size);
void cdc_snapshot_free(struct cdc *c);

/* binlog.c */
sluice_err_t cdc_binlog_check_server(struct cdc *c, char *errstr, size_t errstr_size);
/* 1 if `file` is still on the server, 0 if purged, -1 on error (message). */
int cdc_binlog_file_exists(struct cdc *c, const char *file, char *errstr, size_t errstr_size);
sluice_err_t cdc_binlog_poll(struct cdc *c, sluice_batch_t *batch, int timeout_ms, char *errstr,
                             size_t errstr_size);
void cdc_binlog_close(struct cdc *c);
void cdc_binlog_interrupt(struct cdc *c);

#endif
