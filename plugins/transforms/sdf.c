/*
 * sdf.c — Java SimpleDateFormat patterns in UTC; see sdf.h.
 *
 * Written by hand: the C library's strftime/strptime have other letters, no millisecond field and
 * depend on the locale and the TZ environment, and no maintained C library speaks Java's patterns.
 */
#include "sdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "calendar.h"

static const char *const sdf_months[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December",
};
static const char *const sdf_days[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

static const char sdf_letters[] = "yMdDEaHkhKmsSZXz";

void sdf_breakdown(int64_t ms, struct sdf_tm *tm)
{
    int64_t days = calendar_floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;

    calendar_civil_from_days(days, &tm->year, &tm->month, &tm->day);
    tm->hour = (int)(rem / 3600000);
    tm->minute = (int)(rem / 60000 % 60);
    tm->second = (int)(rem / 1000 % 60);
    tm->ms = (int)(rem % 1000);
    tm->yday = (int)(days - calendar_days_from_civil(tm->year, 1, 1)) + 1;
    tm->wday = (int)((days - calendar_floor_div(days, 7) * 7 + 4) % 7); /* 1970-01-01: Thursday */
}

static int sdf_is_number(const struct sdf_item *it)
{
    switch (it->letter) {
    case 'M':
        return it->count < 3;
    case 'y':
    case 'd':
    case 'D':
    case 'H':
    case 'k':
    case 'h':
    case 'K':
    case 'm':
    case 's':
    case 'S':
        return 1;
    default:
        return 0;
    }
}

int sdf_compile(sdf_t *f, const char *pattern, char *errstr, size_t errstr_size)
{
    size_t len = strlen(pattern);
    size_t nt = 0;
    time_t now = time(NULL);
    struct tm utc;

    *f = (sdf_t){0};
    /* At most one item per pattern character; literals never outgrow the pattern. */
    f->items = calloc(len + 1, sizeof *f->items);
    f->text = malloc(len + 1);
    if (f->items == NULL || f->text == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < len;) {
        char c = pattern[i];

        if (c == '\'') {
            size_t start = nt;

            if (pattern[i + 1] == '\'') { /* '' is one quote */
                f->text[nt++] = '\'';
                i += 2;
            } else {
                for (i++;; i++) {
                    if (i >= len) {
                        snprintf(errstr, errstr_size, "unterminated quote in '%s'", pattern);
                        goto fail;
                    }
                    if (pattern[i] == '\'') {
                        if (pattern[i + 1] != '\'') {
                            i++;
                            break;
                        }
                        i++;
                    }
                    f->text[nt++] = pattern[i];
                }
            }
            /* Literal text next to literal text is one item. */
            if (f->n > 0 && f->items[f->n - 1].letter == 0 &&
                f->items[f->n - 1].lit + f->items[f->n - 1].count == f->text + start) {
                f->items[f->n - 1].count += (int)(nt - start);
            } else if (nt > start) {
                f->items[f->n++] = (struct sdf_item){0, (int)(nt - start), f->text + start, 0, 0};
            }
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            size_t j = i;

            if (strchr(sdf_letters, c) == NULL) {
                snprintf(errstr, errstr_size,
                         "the pattern letter '%c' of '%s' is not supported (supported: %s; quote "
                         "literal text as 'T')",
                         c, pattern, sdf_letters);
                goto fail;
            }
            while (pattern[j] == c) {
                j++;
            }
            f->items[f->n++] = (struct sdf_item){c, (int)(j - i), NULL, 0, 0};
            i = j;
            continue;
        }
        if (f->n > 0 && f->items[f->n - 1].letter == 0 &&
            f->items[f->n - 1].lit + f->items[f->n - 1].count == f->text + nt) {
            f->items[f->n - 1].count++;
        } else {
            f->items[f->n++] = (struct sdf_item){0, 1, f->text + nt, 0, 0};
        }
        f->text[nt++] = c;
        i++;
    }
    for (size_t i = 0; i < f->n; i++) {
        if (sdf_is_number(&f->items[i])) {
            /* Java reads exactly `count` digits when the next field is a number too
             * ("yyyyMMdd"), otherwise as many as there are. */
            f->items[i].abut = i + 1 < f->n && sdf_is_number(&f->items[i + 1]);
            f->items[i].digits = f->items[i].abut ? f->items[i].count : 18;
        }
    }
    if (gmtime_r(&now, &utc) != NULL) {
        f->pivot_year = utc.tm_year + 1900 - 80;
    } else {
        f->pivot_year = 1950;
    }
    return 0;
fail:
    sdf_free(f);
    return -1;
}

void sdf_free(sdf_t *f)
{
    free(f->items);
    free(f->text);
    *f = (sdf_t){0};
}

struct sdf_out {
    char *buf;
    size_t size, len;
};

static void sdf_put(struct sdf_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o->len + 1 < o->size) {
            o->buf[o->len] = s[i];
        }
        o->len++;
    }
}

static void sdf_put_num(struct sdf_out *o, int64_t v, int width)
{
    char tmp[32];
    int n;

    if (v < 0) {
        sdf_put(o, "-", 1);
        v = -v;
    }
    n = snprintf(tmp, sizeof tmp, "%0*lld", width > 20 ? 20 : width, (long long)v);
    sdf_put(o, tmp, (size_t)n);
}

size_t sdf_format(const sdf_t *f, int64_t ms, char *buf, size_t size)
{
    struct sdf_out o = {buf, size, 0};
    struct sdf_tm tm;

    sdf_breakdown(ms, &tm);
    for (size_t i = 0; i < f->n; i++) {
        const struct sdf_item *it = &f->items[i];
        const char *name;

        switch (it->letter) {
        case 0:
            sdf_put(&o, it->lit, (size_t)it->count);
            break;
        case 'y':
            sdf_put_num(&o, it->count == 2 ? tm.year % 100 : tm.year, it->count);
            break;
        case 'M':
            if (it->count >= 3) {
                name = sdf_months[tm.month - 1];
                sdf_put(&o, name, it->count == 3 ? 3 : strlen(name));
            } else {
                sdf_put_num(&o, tm.month, it->count);
            }
            break;
        case 'E':
            name = sdf_days[tm.wday];
            sdf_put(&o, name, it->count <= 3 ? 3 : strlen(name));
            break;
        case 'd':
            sdf_put_num(&o, tm.day, it->count);
            break;
        case 'D':
            sdf_put_num(&o, tm.yday, it->count);
            break;
        case 'a':
            sdf_put(&o, tm.hour < 12 ? "AM" : "PM", 2);
            break;
        case 'H':
            sdf_put_num(&o, tm.hour, it->count);
            break;
        case 'k':
            sdf_put_num(&o, tm.hour == 0 ? 24 : tm.hour, it->count);
            break;
        case 'h':
            sdf_put_num(&o, tm.hour % 12 == 0 ? 12 : tm.hour % 12, it->count);
            break;
        case 'K':
            sdf_put_num(&o, tm.hour % 12, it->count);
            break;
        case 'm':
            sdf_put_num(&o, tm.minute, it->count);
            break;
        case 's':
            sdf_put_num(&o, tm.second, it->count);
            break;
        case 'S':
            sdf_put_num(&o, tm.ms, it->count);
            break;
        case 'Z':
            sdf_put(&o, "+0000", 5);
            break;
        case 'X':
            sdf_put(&o, "Z", 1);
            break;
        default: /* 'z' */
            if (it->count >= 4) {
                sdf_put(&o, "Coordinated Universal Time", 26);
            } else {
                sdf_put(&o, "UTC", 3);
            }
            break;
        }
    }
    if (size > 0) {
        buf[o.len < size ? o.len : size - 1] = '\0';
    }
    return o.len;
}

/* A name of `names` (full, or its first three letters) at `*p`, ignoring case; its index or -1. */
static int sdf_parse_name(const char *const *names, int n, const char **p, const char *end)
{
    for (int i = 0; i < n; i++) {
        size_t full = strlen(names[i]);

        if ((size_t)(end - *p) >= full && strncasecmp(*p, names[i], full) == 0) {
            *p += full;
            return i;
        }
    }
    for (int i = 0; i < n; i++) {
        if (end - *p >= 3 && strncasecmp(*p, names[i], 3) == 0) {
            *p += 3;
            return i;
        }
    }
    return -1;
}

static int sdf_digits(const char **p, const char *end, size_t max, int64_t *v)
{
    const char *q = *p;
    size_t n = 0;
    int64_t acc = 0;

    while (q < end && n < max && *q >= '0' && *q <= '9') {
        acc = acc * 10 + (*q - '0');
        q++;
        n++;
    }
    *p = q;
    *v = acc;
    return n == 0 ? -1 : (int)n;
}

/* A zone: Z, UTC, GMT (each may be followed by an offset), or an offset +hh, +hhmm, +hh:mm. */
static int sdf_parse_zone(const char **p, const char *end, int64_t *offset_min)
{
    int64_t hh, mm = 0;
    int sign;

    *offset_min = 0;
    if (*p < end && **p == 'Z') {
        (*p)++;
        return 0;
    }
    if (end - *p >= 3 && (strncmp(*p, "UTC", 3) == 0 || strncmp(*p, "GMT", 3) == 0)) {
        *p += 3;
        if (*p == end || (**p != '+' && **p != '-')) {
            return 0;
        }
    }
    if (*p == end || (**p != '+' && **p != '-')) {
        return -1;
    }
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (sdf_digits(p, end, 2, &hh) != 2) {
        return -1;
    }
    if (*p < end && **p == ':') {
        (*p)++;
        if (sdf_digits(p, end, 2, &mm) != 2) {
            return -1;
        }
    } else if (*p < end && **p >= '0' && **p <= '9' && sdf_digits(p, end, 2, &mm) != 2) {
        return -1;
    }
    if (hh > 23 || mm > 59) {
        return -1;
    }
    *offset_min = sign * (hh * 60 + mm);
    return 0;
}

int sdf_parse(const sdf_t *f, const char *s, size_t len, int64_t *ms)
{
    const char *p = s, *end = s + len;
    int64_t year = 1970, month = 1, day = 1, yday = -1, hour = 0, minute = 0, second = 0, milli = 0,
            offset = 0;
    int pm = -1, hour12 = 0;

    for (size_t i = 0; i < f->n; i++) {
        const struct sdf_item *it = &f->items[i];
        int64_t v = 0;
        int n = 0;

        if (it->letter == 0) {
            if ((size_t)(end - p) < (size_t)it->count ||
                (it->count == 1 ? *p != it->lit[0] : memcmp(p, it->lit, it->count) != 0)) {
                return -1;
            }
            p += it->count;
            continue;
        }
        if (it->digits > 0) {
            n = sdf_digits(&p, end, (size_t)it->digits, &v);
            if (n < 0 || (it->abut && n != it->count)) {
                return -1;
            }
        }
        switch (it->letter) {
        case 'y':
            year = v;
            if (it->count == 2 && n == 2) {
                year = f->pivot_year - f->pivot_year % 100 + v;
                if (year < f->pivot_year) {
                    year += 100;
                }
            }
            break;
        case 'M':
            if (it->count >= 3) {
                int m = sdf_parse_name(sdf_months, 12, &p, end);

                if (m < 0) {
                    return -1;
                }
                v = m + 1;
            }
            month = v;
            break;
        case 'E':
            if (sdf_parse_name(sdf_days, 7, &p, end) < 0) {
                return -1;
            }
            break;
        case 'd':
            day = v;
            break;
        case 'D':
            yday = v;
            break;
        case 'a':
            if (end - p >= 2 && strncasecmp(p, "AM", 2) == 0) {
                pm = 0;
            } else if (end - p >= 2 && strncasecmp(p, "PM", 2) == 0) {
                pm = 1;
            } else {
                return -1;
            }
            p += 2;
            break;
        case 'H':
            if (v > 23) {
                return -1;
            }
            hour = v;
            break;
        case 'k':
            if (v < 1 || v > 24) {
                return -1;
            }
            hour = v % 24;
            break;
        case 'h':
            if (v < 1 || v > 12) {
                return -1;
            }
            hour = v % 12;
            hour12 = 1;
            break;
        case 'K':
            if (v > 11) {
                return -1;
            }
            hour = v;
            hour12 = 1;
            break;
        case 'm':
            minute = v;
            break;
        case 's':
            second = v;
            break;
        case 'S':
            milli = v;
            break;
        default: /* Z X z */
            if (sdf_parse_zone(&p, end, &offset) != 0) {
                return -1;
            }
            break;
        }
    }
    if (p != end || month < 1 || month > 12 || day < 1 ||
        day > calendar_month_days(year, (int)month) || minute > 59 || second > 59 || milli > 999 ||
        year > 9999999 || (yday != -1 && (yday < 1 || yday > 365 + calendar_is_leap(year)))) {
        return -1;
    }
    if (hour12 && pm == 1) {
        hour += 12;
    }
    {
        int64_t days = yday != -1 ? calendar_days_from_civil(year, 1, 1) + yday - 1
                                  : calendar_days_from_civil(year, (int)month, (int)day);

        *ms = ((days * 24 + hour) * 60 + minute - offset) * 60000 + second * 1000 + milli;
    }
    return 0;
}
