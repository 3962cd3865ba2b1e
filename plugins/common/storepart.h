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

#include "timepart.h"

enum storepart_kind { STOREPART_DEFAULT, STOREPART_FIELD, STOREPART_TIME };

struct storepart {
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

/* Reads the keys above (and directory.delim) from `cfg` into a zeroed `p`. SLUICE_OK, or
 * SLUICE_ERR_CONFIG with a message naming the key (SLUICE_ERR_NOMEM); storepart_free either way. */
sluice_err_t storepart_init(struct storepart *p, const struct sluice_host *h,
                            const sluice_config_t *cfg, char *errstr, size_t errstr_size);
void storepart_free(struct storepart *p, const struct sluice_host *h);

/* Appends the encoded partition of `rec`, of time `ts`, to `out`: "partition=<n>",
 * "<field>=<value>" joined by directory.delim (a value escaped to stay one directory), or the
 * path.format of ts's bucket. -1 with *why set when the record has no such partition. */
int storepart_encode(struct storepart *p, const struct sluice_host *h, sluice_record_t *rec,
                     int64_t ts, sluice_buf_t *out, const char **why);

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
