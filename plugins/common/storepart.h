/*
 * storepart.h — the partitioners of Confluent's storage sinks (sftp-json, s3) and the keys they
 * share: `partitioner.class` (default, field, time-based, daily, hourly, or Confluent's class
 * names), `partition.field.name`, `path.format`, `partition.duration.ms`, `timezone`, `locale`,
 * `timestamp.extractor`, `timestamp.field`; a record's encoded partition (its directories).
 */
#ifndef SLUICE_PLUGINS_STOREPART_H
#define SLUICE_PLUGINS_STOREPART_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/plugin.h>
#include <zlib.h>

#include "timepart.h"

enum storepart_kind { STOREPART_DEFAULT, STOREPART_FIELD, STOREPART_TIME };

struct storepart {
    int64_t flush_size, rotate_ms, schedule_ms; /* the rotations */
    enum storepart_kind partitioner;
    char **fields; /* partition.field.name */
    size_t nfields;
    char *path_format;   /* time partitioners */
    int64_t duration_ms; /* partition.duration.ms (daily and hourly: theirs) */
    enum timepart_extractor extractor;
    char *ts_field;          /* timestamp.field */
    struct timepart_zone tz; /* `timezone` */
    char *ddelim;            /* directory.delim: between field directories */
    sluice_buf_t *scratch;   /* a field's text */
    /* the time partitioner's last bucket and its encoded directories */
    sluice_buf_t *enc_cache;
    int64_t enc_bucket;
    int enc_valid;
};

/* The rotation cycle of one Kafka partition ("TP"): its open files rotate together. */
struct storepart_cycle {
    char *topic;
    int32_t partition;
    int64_t next_off;  /* the offset after the last record taken (-1: none yet) */
    int64_t count;     /* records in the open files */
    int64_t first_off; /* offset of the first of them */
    int64_t base_ts;   /* extractor time of the first of them */
    int64_t open_mono; /* monotonic time of the first of them */
    int64_t sched_at;  /* wall time of the next scheduled rotation */
};

/* A cycle of `topic`/`partition` with nothing taken yet; -1 when out of memory. */
int storepart_cycle_init(struct storepart_cycle *c, const char *topic, int32_t partition);
/* 1 when `c` is the cycle of `topic`/`partition`. */
int storepart_cycle_is(const struct storepart_cycle *c, const char *topic, int32_t partition);
void storepart_cycle_free(struct storepart_cycle *c);

/* Reads the keys above (and directory.delim, flush.size and the rotations) from `cfg` into a zeroed
 * `p`. SLUICE_OK, or SLUICE_ERR_CONFIG with a message naming the key (SLUICE_ERR_NOMEM);
 * storepart_free either way. */
sluice_err_t storepart_init(struct storepart *p, const struct sluice_host *h,
                            const sluice_config_t *cfg, char *errstr, size_t errstr_size);
void storepart_free(struct storepart *p, const struct sluice_host *h);

/* Appends the encoded partition of `rec`, of time `ts`, to `out`: "partition=<n>",
 * "<field>=<value>" joined by directory.delim (a value escaped to stay one directory), or the
 * path.format of ts's bucket. -1 with *why set when the record has no such partition. */
int storepart_encode(struct storepart *p, const struct sluice_host *h, sluice_record_t *rec,
                     int64_t ts, sluice_buf_t *out, const char **why);

/* The time of `rec` (timestamp.extractor) in *ts and its encoded partition appended to `enc`;
 * -1 with *why set when the record has neither (it fails). */
int storepart_place(struct storepart *p, const struct sluice_host *h, sluice_record_t *rec,
                    int64_t *ts, sluice_buf_t *enc, const char **why);

/* The TP's open files (`open`) rotate before a record of time `ts` joins them: rotate.interval.ms
 * in record or wall time, rotate.schedule.interval.ms. (flush.size is checked after a record.) */
int storepart_due(const struct storepart *p, const struct storepart_cycle *c, int open, int64_t ts,
                  int64_t mono, int64_t now);
/* The same with no new record (the core's precommit): only the wall-clock side applies. */
int storepart_idle_due(const struct storepart *p, const struct storepart_cycle *c, int open,
                       int64_t mono, int64_t now);
/* Record `off` of time `ts` joins the TP's files (the first one after a rotation starts the
 * cycle). Returns 1 when the TP reached flush.size. */
int storepart_take(const struct storepart *p, struct storepart_cycle *c, int64_t off, int64_t ts,
                   int64_t mono, int64_t now);
/* The first wall-clock rotation.schedule.interval.ms boundary after `now`. */
int64_t storepart_next_schedule(const struct storepart *p, int64_t now);
/* precommit: a TP of `partition` with open files is committed up to its first record only. */
void storepart_cap(const struct storepart_cycle *c, int32_t partition, int open,
                   struct sluice_offset *offsets, size_t count);

/* gzip: a stream writing one gzip member, and `raw` deflated onto the end of `out` (flush:
 * Z_NO_FLUSH, or Z_FINISH at the end); `raw` is emptied. */
int storepart_gzip_init(z_stream *z);
sluice_err_t storepart_gzip(const struct sluice_host *h, z_stream *z, sluice_buf_t *raw,
                            sluice_buf_t *out, int flush);

/* Appends `rec`'s headers to `out` as a JSON array of {"key":…,"value":…} (a value without bytes:
 * null): the sftp-json line's "headers" and the s3 sink's headers objects. */
void storepart_headers_json(const struct sluice_host *h, sluice_record_t *rec, sluice_buf_t *out);

/* Appends one JSON line of `rec` to `line`: its value as Kafka Connect's JsonConverter payload, or
 * with key_enable / headers_enable `{"key":…,"value":…,"headers":[…]}`, and "\n". An error with
 * *why set fails the record (a line cut short must never reach a file). */
sluice_err_t storepart_json_line(const struct sluice_host *h, sluice_record_t *rec, int key_enable,
                                 int headers_enable, sluice_buf_t *line, const char **why);

/* Deterministic: the partition of a record depends on the record only (not Wallclock). */
static inline int storepart_deterministic(const struct storepart *p)
{
    return p->partitioner != STOREPART_TIME || p->extractor != TIMEPART_TS_WALLCLOCK;
}

/* The config table entries of the keys both storage sinks read the same way: the partitioners',
 * and topics.dir, directory.delim, file.delim, flush.size, the rotations and the offset width. */
#define STOREPART_CONFIG_FIELDS                                                                    \
    {.name = "topics.dir",                                                                         \
     .type = SLUICE_CFG_STRING,                                                                    \
     .default_value = "topics",                                                                    \
     .description = "The top directory of the files.",                                             \
     .example = "topics"},                                                                         \
        {.name = "flush.size",                                                                     \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = "1000",                                                                  \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 1,                                                                                 \
         .max = 1000000000,                                                                        \
         .description = "Records of one Kafka partition after which its files rotate.",            \
         .example = "1000"},                                                                       \
        {.name = "rotate.interval.ms",                                                             \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = "-1",                                                                    \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = -1,                                                                                \
         .max = 1e15,                                                                              \
         .description = "Rotate a partition's files when its records span this long in the "       \
                        "extractor's time, or this long in wall time since its first record (an "  \
                        "idle file is closed on time). -1: off.",                                  \
         .example = "600000"},                                                                     \
        {.name = "rotate.schedule.interval.ms",                                                    \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = "-1",                                                                    \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = -1,                                                                                \
         .max = 1e15,                                                                              \
         .description = "Rotate on the wall clock at multiples of this interval from 00:00 in "    \
                        "`timezone`. -1: off.",                                                    \
         .example = "3600000"},                                                                    \
        {.name = "partitioner.class",                                                              \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = "default",                                                               \
         .description = "`default` (`partition=<kafka partition>`), `field` (`<field>=<value>`), " \
                        "`time-based` (`path.format`, `partition.duration.ms`), `daily` "          \
                        "(`'year'=YYYY/'month'=MM/'day'=dd`), `hourly` "                           \
                        "(`'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH`); Confluent's class names "  \
                        "(`io.confluent.connect.storage.partitioner.HourlyPartitioner`, ...) "     \
                        "too.",                                                                    \
         .example = "hourly"},                                                                     \
        {.name = "partition.field.name",                                                           \
         .type = SLUICE_CFG_LIST,                                                                  \
         .description = "The value fields of the `field` partitioner (a dotted name reaches into " \
                        "nested structs and maps).",                                               \
         .example = "[country, city]"},                                                            \
        {.name = "path.format",                                                                    \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "The directories of the `time-based` partitioner, a Joda-Time pattern: "   \
                        "`YYYY` or `yyyy`, `YY`, `MM`, `MMM` (Jan), `dd`, `D` (day of year), "     \
                        "`HH`, `mm`, `ss`, `SSS`, `E` (Mon); text in single quotes is literal.",   \
         .example = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"},                                  \
        {.name = "partition.duration.ms",                                                          \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = "-1",                                                                    \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = -1,                                                                                \
         .max = 1e15,                                                                              \
         .description = "The `time-based` partitioner's bucket length (buckets start at "          \
                        "multiples of it from the epoch in `timezone`).",                          \
         .example = "3600000"},                                                                    \
        {.name = "timezone",                                                                       \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = "UTC",                                                                   \
         .description = "The time zone of time-based directories and of "                          \
                        "rotate.schedule.interval.ms: an IANA name (`Europe/Madrid`, from the "    \
                        "system's zoneinfo), `UTC`, or `+hh:mm`/`-hh:mm`.",                        \
         .example = "Europe/Madrid"},                                                              \
        {.name = "locale",                                                                         \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = "en",                                                                    \
         .description = "The locale of month and day names in `path.format`. Only English "        \
                        "(`en`, `en_US`, ...) and `C` are supported.",                             \
         .example = "en_US"},                                                                      \
        {.name = "timestamp.extractor",                                                            \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = "Record",                                                                \
         .description = "Where a record's time comes from: `Record` (the record's timestamp), "    \
                        "`RecordField` (`timestamp.field` of the value), `Wallclock` (now). The "  \
                        "default is `Record`, not Confluent's `Wallclock`, so that directories "   \
                        "(and with them file names) depend on the data only. Confluent's class "   \
                        "names (`...TimeBasedPartitioner$RecordFieldTimestampExtractor`) are "     \
                        "accepted.",                                                               \
         .example = "RecordField"},                                                                \
        {.name = "timestamp.field",                                                                \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = "timestamp",                                                             \
         .description =                                                                            \
             "The value field of `RecordField` (dotted for nested fields): epoch "                 \
             "milliseconds (an integer, a Timestamp or a Date), or an ISO-8601 string.",           \
         .example = "ordertime"},                                                                  \
        {.name = "filename.offset.zero.pad.width",                                                 \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = "10",                                                                    \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 0,                                                                                 \
         .max = 19,                                                                                \
         .description = "Digits of the first offset in a file name (zero-padded).",                \
         .example = "10"},                                                                         \
        {.name = "directory.delim",                                                                \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = "/",                                                                     \
         .description = "Between `topics.dir`, the topic, the partition directories and the "      \
                        "file.",                                                                   \
         .example = "/"},                                                                          \
    {                                                                                              \
        .name = "file.delim", .type = SLUICE_CFG_STRING, .default_value = "+",                     \
        .description = "Between topic, Kafka partition and offset in a file name.", .example = "+" \
    }

#endif
