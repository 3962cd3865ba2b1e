/*
 * timepart.h — time-based partitioning as Confluent's storage sinks (S3, SFTP, HDFS) do it, for the
 * plugins that write such files (sftp-json, and the s3 sink to come): the `timezone` (an IANA
 * zone or a fixed offset, as a table built once at init: the hot path takes no lock and reads no
 * environment), `path.format` (Joda-Time patterns), partition.duration.ms buckets and
 * rotate.schedule.interval.ms boundaries in that zone, and the timestamp extractors (Record,
 * RecordField with epoch numbers or ISO-8601 strings, Wallclock).
 */
#ifndef SLUICE_PLUGINS_TIMEPART_H
#define SLUICE_PLUGINS_TIMEPART_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/plugin.h>

/* A time zone: a fixed offset (n == 0), or transitions (UTC seconds → offset after). Zero it
 * before timepart_zone_init; an all-zero zone is UTC. */
struct timepart_zone {
    long fixed;
    int64_t *at;
    long *off;
    size_t n;
};

/* Parses `timezone`: "" / UTC / Z / GMT / Etc/UTC, "+hh:mm" / "-hh:mm", or an IANA name looked up
 * under $TZDIR (default /usr/share/zoneinfo). An IANA zone's transitions from 1970 to 2100 are
 * learnt by setting TZ for a moment: call it while no other thread uses the C library's time
 * functions (plugin init). -1 with a message on error. */
int timepart_zone_init(struct timepart_zone *z, const char *tz, char *errstr, size_t errstr_size);
/* Offset from UTC in seconds at `t` (UTC seconds). */
long timepart_zone_offset(const struct timepart_zone *z, int64_t t);
void timepart_zone_free(struct timepart_zone *z);

/* The start of the `duration_ms` bucket holding UTC time `ts`, in local time (the time to give
 * timepart_format). */
int64_t timepart_bucket(const struct timepart_zone *z, int64_t ts, int64_t duration_ms);
/* The first multiple of `interval_ms` in local time after `now` (UTC ms), as UTC ms. */
int64_t timepart_next_boundary(const struct timepart_zone *z, int64_t now, int64_t interval_ms);

/* Renders `fmt` for local time `local_ms` into `out` (NULL: only check). -1 with a message on a
 * letter Joda-Time has but sluice does not. */
int timepart_format(const char *fmt, int64_t local_ms, sluice_buf_t *out,
                    const struct sluice_host *h, char *errstr, size_t errstr_size);

enum timepart_extractor { TIMEPART_TS_RECORD, TIMEPART_TS_FIELD, TIMEPART_TS_WALLCLOCK };

/* The time of `rec` by `extractor` (TIMEPART_TS_FIELD: the value's field `field`, dotted for
 * nested structs). -1 with *why set when the field is missing or not a time. */
int timepart_timestamp(const struct sluice_host *h, sluice_record_t *rec,
                       enum timepart_extractor extractor, const char *field, int64_t *ts,
                       const char **why);
/* value[dotted.name], or NULL. */
sluice_value_t *timepart_field(const struct sluice_host *h, sluice_value_t *v, const char *name);
/* ISO-8601 "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±hh[:]mm]" → epoch ms. */
int timepart_parse_iso(const char *s, size_t len, int64_t *out);

#endif
