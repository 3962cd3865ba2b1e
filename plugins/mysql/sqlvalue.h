/*
 * sqlvalue.h — values <-> MySQL columns, shared by the mysql sink (values bound to prepared
 * statements, column types for CREATE/ALTER TABLE) and mysql-cdc's query mode (result columns
 * read back as typed values with Kafka Connect's logical types).
 *
 * Times: the connection's session time zone is UTC (conn.c), so TIMESTAMP columns read and write
 * UTC; DATETIME columns carry no zone and are taken in `db.timezone`, a fixed offset from UTC.
 */
#ifndef SLUICE_MYSQL_SQLVALUE_H
#define SLUICE_MYSQL_SQLVALUE_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include <sluice/plugin.h>

/* Room for one bound parameter: the bind points into it, so it must stay put while the
 * statement executes. Reused record after record (no allocation per field). */
struct sqlv_slot {
    int64_t i;
    double d;
    MYSQL_TIME t;
    unsigned long len;
    my_bool is_null;
    char text[96]; /* a decimal's digits */
};

/* Logical type of a schema: one of the SLUICE_LOGICAL_* names, or NULL. */
enum sqlv_logical {
    SQLV_PLAIN = 0,
    SQLV_TIMESTAMP,
    SQLV_DATE,
    SQLV_TIME,
    SQLV_DECIMAL,
};

/* Decimal: big-endian two's complement unscaled bytes (Connect's Decimal) <-> text. */
/* Writes e.g. "-123.45" for bytes of -12345 and scale 2. Returns the length, or -1 when `out` is
 * too small (more than size-1 characters). */
int sqlv_decimal_to_text(const unsigned char *b, size_t n, int scale, char *out, size_t size);
/* Parses "-123.45" into the unscaled bytes of `scale` (digits past the scale are refused, missing
 * ones padded with zeros): minimal two's complement, big-endian, at most `size` bytes. Returns
 * the byte count, or -1 on bad text or overflow. */
int sqlv_decimal_from_text(const char *s, size_t len, int scale, unsigned char *out, size_t size);

/* Text of MySQL's DATE/DATETIME/TIMESTAMP/TIME ("2023-01-08 02:00:00.123456", "-838:59:59") to
 * microseconds since the epoch (DATE, DATETIME: taken at `tz_offset_s` east of UTC) or of the
 * day (TIME, may be negative or past 24 h). Returns 0, or -1 on bad text (a zero date). */
int sqlv_parse_datetime(const char *s, size_t len, int64_t tz_offset_s, int64_t *us);
int sqlv_parse_time(const char *s, size_t len, int64_t *us);
/* Microseconds since the epoch as 'YYYY-MM-DD HH:MM:SS.ffffff' at `tz_offset_s` (no quotes). */
void sqlv_format_datetime(int64_t us, int64_t tz_offset_s, char *out, size_t size);

/* "UTC", "Z", "GMT", "+05:00", "-0500", "UTC+1": seconds east of UTC. -1 on anything else (zone
 * names with daylight saving time are not supported: the offset of a DATETIME would be
 * ambiguous). */
int sqlv_parse_tz(const char *s, int64_t *offset_s);

/* The column type for a value of schema `s` (when known) or of the schemaless value `v`, as used
 * by auto.create and auto.evolve; `key` when the column is part of the primary key (MySQL cannot
 * index TEXT/BLOB without a length). NULL (with `*why`) when no column type fits. */
const char *sqlv_column_type(const struct sluice_host *h, const sluice_schema_t *s,
                             const sluice_value_t *v, int key, char *buf, size_t size,
                             const char **why);

/* Binds `v` (schema `s`, or NULL to use the value's own) into `b` using `slot`. A string or
 * bytes value points into the record's arena: execute before the batch is released. Returns 0, or
 * -1 with `*why` when the value has no column form (an array, a map, a struct). */
int sqlv_bind(const struct sluice_host *h, const sluice_value_t *v, const sluice_schema_t *s,
              int64_t tz_offset_s, struct sqlv_slot *slot, MYSQL_BIND *b, const char **why);
void sqlv_bind_int(int64_t i, struct sqlv_slot *slot, MYSQL_BIND *b);
void sqlv_bind_str(const char *s, size_t len, struct sqlv_slot *slot, MYSQL_BIND *b);

/* The Connect schema of a result column (query mode): optional unless NOT NULL, logical types
 * for DECIMAL (scale), DATE, TIME, DATETIME/TIMESTAMP; BIGINT UNSIGNED becomes Decimal(20,0),
 * other unsigned integers the next wider signed type; BIT(1) boolean, wider BIT bytes; binary
 * strings bytes. NULL on out of memory. */
sluice_schema_t *sqlv_field_schema(const struct sluice_host *h, sluice_ctx_t *ctx,
                                   const MYSQL_FIELD *f);

/* The value of a text-protocol result cell (`s`, `len`; s NULL for SQL NULL) of column `f` whose
 * schema is `fs` (from sqlv_field_schema). NULL with `*why` when the text does not parse. */
sluice_value_t *sqlv_cell_value(const struct sluice_host *h, sluice_record_t *rec,
                                const MYSQL_FIELD *f, const sluice_schema_t *fs, const char *s,
                                size_t len, int64_t tz_offset_s, const char **why);

#endif
