/*
 * sdf.h — Java SimpleDateFormat patterns, as Kafka Connect's TimestampConverter and TimestampRouter
 * use them, compiled once at init and applied without allocating (timestamp-converter,
 * timestamp-router, and cast for its ISO renderings of Date, Time and Timestamp).
 *
 * Times are in UTC, in the proleptic Gregorian calendar, as milliseconds since the epoch.
 * Pattern letters (the count of letters is the minimum width of a number):
 *   y year (yy: two digits; parsing yy picks the century within 80 years before and 20 after now),
 *   M month (M, MM numbers; MMM "Jan"; MMMM "January"), d day of month, D day of year,
 *   E day of week (EEE "Mon", EEEE "Monday"), a AM/PM, H hour 0-23, k hour 1-24, h hour 1-12,
 *   K hour 0-11, m minute, s second, S millisecond,
 *   Z zone as "+0000", X zone as "Z" (UTC; parses Z, +hh, +hhmm, +hh:mm), z zone as "UTC".
 * Text between single quotes is literal ('' is a quote); other letters are a compile error.
 * Parsing is strict: the whole text must match, and each field must be in range.
 */
#ifndef SLUICE_SDF_H
#define SLUICE_SDF_H

#include <stddef.h>
#include <stdint.h>

/* One piece of a pattern: a field (letter with its count) or a literal. */
struct sdf_item {
    char letter; /* 0: literal */
    int count;
    const char *lit; /* literal text (points into sdf.text), `count` bytes */
    /* Parsing a number field: the most digits read (`count` when the next item is a number too,
     * else 18), and whether exactly that many are needed; 0 for other items. Set by sdf_compile. */
    int digits;
    int abut;
};

typedef struct sdf {
    struct sdf_item *items;
    size_t n;
    char *text;         /* literal bytes */
    int64_t pivot_year; /* yy parsing: the first year of the 100-year window */
} sdf_t;

/* Compiles `pattern`; 0, or -1 with a message naming the problem (the caller adds the key). */
int sdf_compile(sdf_t *f, const char *pattern, char *errstr, size_t errstr_size);
void sdf_free(sdf_t *f);

/* Writes `ms` in the pattern into `buf` (NUL-terminated, truncated to `size`); returns the full
 * length like snprintf. A buffer of 128 bytes fits any pattern of up to 16 fields. */
size_t sdf_format(const sdf_t *f, int64_t ms, char *buf, size_t size);

/* Parses `s` (`len` bytes) into `*ms`; 0, or -1 when the text does not match the pattern. */
int sdf_parse(const sdf_t *f, const char *s, size_t len, int64_t *ms);

/* UTC calendar fields of a time. */
struct sdf_tm {
    int64_t year;
    int month, day, hour, minute, second, ms; /* month 1-12, day 1-31 */
    int yday, wday;                           /* yday 1-366, wday 0 = Sunday */
};
void sdf_breakdown(int64_t ms, struct sdf_tm *tm);

#endif
