/*
 * cdc_util.c — mysql-cdc binlog mode: the small helpers every layer uses (messages, the protocol's
 * length-encoded integers).
 */
#include "cdc.h"

#include <stdarg.h>
#include <stdio.h>

void cdc_fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

uint64_t cdc_lenenc(const uint8_t **p, const uint8_t *end)
{
    if (*p >= end)
        return 0;
    uint8_t b = *(*p)++;
    int n = b < 251 ? 0 : b == 252 ? 2 : b == 253 ? 3 : 8;
    if (!n)
        return b;
    uint64_t v = 0;
    for (int i = 0; i < n && *p < end; i++)
        v |= (uint64_t) * (*p)++ << (8 * i);
    return v;
}
