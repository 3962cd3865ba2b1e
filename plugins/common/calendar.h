/*
 * calendar.h — the proleptic Gregorian calendar the plugins share: days since 1970-01-01 from a
 * civil date and back (Howard Hinnant's algorithms: no table, no time zone, any year), leap years,
 * days in a month, and the floor division that keeps times before 1970 on the right day.
 */
#ifndef SLUICE_PLUGINS_CALENDAR_H
#define SLUICE_PLUGINS_CALENDAR_H

#include <stdint.h>

/* a / b rounded toward negative infinity (b != 0). */
int64_t calendar_floor_div(int64_t a, int64_t b);

/* Days since 1970-01-01 of year `y`, month `m` (1-12), day `d` (1-31; not checked). */
int64_t calendar_days_from_civil(int64_t y, int m, int d);

/* The civil date of `days` since 1970-01-01. */
void calendar_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* 1 if `y` is a leap year, else 0. */
int calendar_is_leap(int64_t y);

/* The number of days of month `m` (1-12) of year `y`. */
int calendar_month_days(int64_t y, int m);

#endif
