/* timepart.c — time-based partitioning as Confluent's storage sinks do it (see timepart.h). */
#include "timepart.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "calendar.h"

#define TIMEPART_PATH_MAX 4096

/* ---------------------------------------------------------------------------------------------- */
/* Time zones */

/* Offset from UTC in seconds at `t` (UTC seconds). */
long timepart_zone_offset(const struct timepart_zone *z, int64_t t)
{
    if (!z->n)
        return z->fixed;
    size_t lo = 0, hi = z->n; /* last transition <= t */
    if (t < z->at[0])
        return z->off[0];
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

static int timepart_zone_push(struct timepart_zone *z, int64_t at, long off, size_t *cap)
{
    if (z->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int64_t *a = realloc(z->at, nc * sizeof *a);
        if (!a)
            return -1;
        z->at = a;
        long *o = realloc(z->off, nc * sizeof *o);
        if (!o)
            return -1;
        z->off = o;
        *cap = nc;
    }
    z->at[z->n] = at;
    z->off[z->n++] = off;
    return 0;
}

static long timepart_local_off(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* Parses `timezone`. An IANA zone is turned into a table of its transitions from 1970 to 2100 by
 * asking the C library once with TZ set (at init, before the pipelines' threads run), so that the
 * hot path neither touches the environment nor takes the C library's time zone lock. */
int timepart_zone_init(struct timepart_zone *z, const char *tz, char *errstr, size_t errstr_size)
{
    if (!*tz || strcmp(tz, "UTC") == 0 || strcmp(tz, "Z") == 0 || strcmp(tz, "GMT") == 0 ||
        strcmp(tz, "Etc/UTC") == 0)
        return 0;
    if ((tz[0] == '+' || tz[0] == '-') && isdigit((unsigned char)tz[1])) {
        int hh = 0, mm = 0, n = 0;
        if (sscanf(tz + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || tz[1 + n] || hh > 18 || mm > 59) {
            snprintf(errstr, errstr_size, "timezone: '%s' is not +hh:mm or -hh:mm", tz);
            return -1;
        }
        z->fixed = (tz[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
        return 0;
    }
    const char *dir = getenv("TZDIR");
    char path[TIMEPART_PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    if (strstr(tz, "..") || tz[0] == '/' || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errstr, errstr_size,
                 "timezone: unknown time zone '%s' (an IANA name like Europe/Madrid, UTC, or "
                 "+hh:mm)",
                 tz);
        return -1;
    }
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    char spec[TIMEPART_PATH_MAX + 2];
    snprintf(spec, sizeof spec, ":%s", tz);
    setenv("TZ", spec, 1);
    tzset();
    size_t cap = 0;
    int rc = 0;
    const int64_t day = 86400, end = 4102444800LL; /* 2100-01-01 */
    long off = timepart_local_off(0);
    rc |= timepart_zone_push(z, INT64_MIN, off, &cap);
    for (int64_t t = day; t < end && rc == 0; t += day) {
        long o = timepart_local_off((time_t)t);
        if (o == off)
            continue;
        int64_t lo = t - day, hi = t; /* offset(lo) == off, offset(hi) == o */
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (timepart_local_off((time_t)mid) == off)
                lo = mid;
            else
                hi = mid;
        }
        rc |= timepart_zone_push(z, hi, o, &cap);
        off = o;
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    if (rc != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

void timepart_zone_free(struct timepart_zone *z)
{
    free(z->at);
    free(z->off);
    z->at = NULL;
    z->off = NULL;
    z->n = 0;
}

int64_t timepart_bucket(const struct timepart_zone *z, int64_t ts, int64_t duration_ms)
{
    int64_t off_ms = (int64_t)timepart_zone_offset(z, calendar_floor_div(ts, 1000)) * 1000;
    int64_t local = ts + off_ms;
    return calendar_floor_div(local, duration_ms) * duration_ms;
}

int64_t timepart_next_boundary(const struct timepart_zone *z, int64_t now, int64_t interval_ms)
{
    int64_t off = (int64_t)timepart_zone_offset(z, calendar_floor_div(now, 1000)) * 1000;
    return (calendar_floor_div(now + off, interval_ms) + 1) * interval_ms - off;
}

/* ---------------------------------------------------------------------------------------------- */
/* path.format (Joda-Time patterns) */

static const char *const timepart_months[] = {"January",   "February", "March",    "April",
                                              "May",       "June",     "July",     "August",
                                              "September", "October",  "November", "December"};
static const char *const timepart_wdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};

int timepart_format(const char *fmt, int64_t local_ms, sluice_buf_t *out,
                    const struct sluice_host *h, char *errstr, size_t errstr_size)
{
    int64_t days = calendar_floor_div(local_ms, 86400000);
    int64_t msod = local_ms - days * 86400000;
    int64_t y64;
    int mo, d;
    calendar_civil_from_days(days, &y64, &mo, &d);
    int y = (int)y64;
    int doy = (int)(days - calendar_days_from_civil(y, 1, 1) + 1);
    int wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    char tmp[64];
    for (const char *p = fmt; *p;) {
        if (*p == '\'') {
            p++;
            if (*p == '\'') { /* '' is a quote */
                if (out)
                    h->buf_append(out, "'", 1);
                p++;
                continue;
            }
            while (*p) {
                if (*p == '\'' && p[1] == '\'') {
                    if (out)
                        h->buf_append(out, "'", 1);
                    p += 2;
                } else if (*p == '\'') {
                    p++;
                    break;
                } else {
                    if (out)
                        h->buf_append(out, p, 1);
                    p++;
                }
            }
            continue;
        }
        if (!isalpha((unsigned char)*p)) {
            if (out)
                h->buf_append(out, p, 1);
            p++;
            continue;
        }
        char c = *p;
        int n = 0;
        while (p[n] == c)
            n++;
        p += n;
        int len = -1;
        switch (c) {
        case 'y':
        case 'Y':
        case 'u':
            len = n == 2 ? snprintf(tmp, sizeof tmp, "%02d", ((y % 100) + 100) % 100)
                         : snprintf(tmp, sizeof tmp, "%0*d", n, y);
            break;
        case 'M':
            if (n >= 4)
                len = snprintf(tmp, sizeof tmp, "%s", timepart_months[mo - 1]);
            else if (n == 3)
                len = snprintf(tmp, sizeof tmp, "%.3s", timepart_months[mo - 1]);
            else
                len = snprintf(tmp, sizeof tmp, "%0*d", n, mo);
            break;
        case 'd':
            len = snprintf(tmp, sizeof tmp, "%0*d", n, d);
            break;
        case 'D':
            len = snprintf(tmp, sizeof tmp, "%0*d", n, doy);
            break;
        case 'H':
            len = snprintf(tmp, sizeof tmp, "%0*d", n, (int)(msod / 3600000));
            break;
        case 'm':
            len = snprintf(tmp, sizeof tmp, "%0*d", n, (int)(msod / 60000 % 60));
            break;
        case 's':
            len = snprintf(tmp, sizeof tmp, "%0*d", n, (int)(msod / 1000 % 60));
            break;
        case 'S':
            len = snprintf(tmp, sizeof tmp, "%0*d", n, (int)(msod % 1000));
            break;
        case 'E':
            len = n >= 4 ? snprintf(tmp, sizeof tmp, "%s", timepart_wdays[wday])
                         : snprintf(tmp, sizeof tmp, "%.3s", timepart_wdays[wday]);
            break;
        default:
            snprintf(errstr, errstr_size,
                     "path.format: '%c' is not supported (y/Y, M, d, D, H, m, s, S, E; quote "
                     "literal text: 'year'=YYYY)",
                     c);
            return -1;
        }
        if (out && len > 0)
            h->buf_append(out, tmp, (size_t)len < sizeof tmp ? (size_t)len : sizeof tmp - 1);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Timestamp extractors */

sluice_value_t *timepart_field(const struct sluice_host *h, sluice_value_t *v, const char *name)
{
    char part[256];
    while (v && *name) {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, name, n);
        part[n] = '\0';
        sluice_type_t t = h->value_type(v);
        if (t != SLUICE_TYPE_STRUCT && t != SLUICE_TYPE_MAP)
            return NULL;
        v = h->value_get(v, part);
        name += n + (dot ? 1 : 0);
    }
    return v;
}

int timepart_parse_iso(const char *s, size_t len, int64_t *out)
{
    char buf[64];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    int y, mo, d, hh = 0, mi = 0, n = 0;
    double sec = 0;
    if (sscanf(buf, "%d-%d-%d%n", &y, &mo, &d, &n) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    const char *p = buf + n;
    if (*p == 'T' || *p == ' ') {
        int k = 0;
        if (sscanf(p + 1, "%d:%d%n", &hh, &mi, &k) != 2)
            return -1;
        p += 1 + k;
        if (*p == ':') {
            char *e;
            sec = strtod(p + 1, &e);
            p = e;
        }
    }
    long off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = 0, om = 0, k = 0;
        if (sscanf(p + 1, "%2d%n", &oh, &k) != 1)
            return -1;
        const char *q = p + 1 + k;
        if (*q == ':')
            q++;
        if (isdigit((unsigned char)*q) && sscanf(q, "%2d", &om) == 1)
            q += 2;
        off = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
        p = q;
    }
    if (*p)
        return -1;
    *out = ((calendar_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 - off) * 1000) +
           (int64_t)(sec * 1000.0 + 0.5);
    return 0;
}

int timepart_timestamp(const struct sluice_host *h, sluice_record_t *rec,
                       enum timepart_extractor extractor, const char *field, int64_t *ts,
                       const char **why)
{
    if (extractor == TIMEPART_TS_RECORD) {
        *ts = h->record_timestamp(rec);
        return 0;
    }
    if (extractor == TIMEPART_TS_WALLCLOCK) {
        *ts = h->now_ms();
        return 0;
    }
    char err[256];
    sluice_value_t *v = h->record_value(rec, err, sizeof err);
    sluice_value_t *f = v ? timepart_field(h, v, field) : NULL;
    if (!f) {
        *why = "timestamp.field is missing from the value";
        return -1;
    }
    const sluice_schema_t *sc = h->value_schema(f);
    const char *lname = sc ? h->schema_name(sc) : NULL;
    switch (h->value_type(f)) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        *ts = h->value_as_int(f);
        if (lname && strcmp(lname, SLUICE_LOGICAL_DATE) == 0)
            *ts *= 86400000;
        return 0;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        *ts = (int64_t)h->value_as_float(f);
        return 0;
    case SLUICE_TYPE_STRING: {
        size_t len;
        const char *str = h->value_as_string(f, &len);
        char *e;
        char num[32];
        if (len > 0 && len < sizeof num) {
            memcpy(num, str, len);
            num[len] = '\0';
            long long x = strtoll(num, &e, 10);
            if (!*e) {
                *ts = x;
                return 0;
            }
        }
        if (timepart_parse_iso(str, len, ts) == 0)
            return 0;
        *why = "timestamp.field is a string that is neither epoch milliseconds nor ISO-8601";
        return -1;
    }
    default:
        *why = "timestamp.field is not a number, a timestamp or an ISO-8601 string";
        return -1;
    }
}
