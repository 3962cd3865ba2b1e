/*
 * position.c — mysql-cdc binlog mode: the position a record carries (struct cdc_pos) as the bytes
 * the core stores and gives back at start.
 */
#include "cdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t cdc_put_str(char *out, size_t o, size_t size, const char *s)
{
    while (*s && o + 1 < size)
        out[o++] = *s++;
    return o;
}

static size_t cdc_put_u64(char *out, size_t o, size_t size, uint64_t v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && o + 1 < size)
        out[o++] = d[--n];
    return o;
}

/* "v1;f=FILE;p=POS;r=ROWS;s=0|1;g=GTID" (by hand: once per record, snprintf showed in profiles) */
size_t cdc_pos_format(const struct cdc_pos *p, char *out, size_t size)
{
    size_t o = cdc_put_str(out, 0, size, "v1;f=");
    o = cdc_put_str(out, o, size, p->file);
    o = cdc_put_str(out, o, size, ";p=");
    o = cdc_put_u64(out, o, size, p->pos);
    o = cdc_put_str(out, o, size, ";r=");
    o = cdc_put_u64(out, o, size, p->row);
    o = cdc_put_str(out, o, size, p->snapshot ? ";s=1;g=" : ";s=0;g=");
    o = cdc_put_str(out, o, size, p->gtid);
    out[o] = 0;
    return o;
}

int cdc_pos_parse(const void *bytes, size_t len, struct cdc_pos *out)
{
    char buf[512];
    if (len >= sizeof buf || len < 3 || memcmp(bytes, "v1;", 3) != 0)
        return -1;
    memcpy(buf, bytes, len);
    buf[len] = 0;
    memset(out, 0, sizeof *out);
    char *save = NULL;
    int have_f = 0;
    for (char *tok = strtok_r(buf + 3, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        if (tok[0] && tok[1] == '=') {
            const char *v = tok + 2;
            switch (tok[0]) {
            case 'f':
                snprintf(out->file, sizeof out->file, "%s", v);
                have_f = 1;
                break;
            case 'p':
                out->pos = strtoull(v, NULL, 10);
                break;
            case 'r':
                out->row = strtoull(v, NULL, 10);
                break;
            case 's':
                out->snapshot = atoi(v);
                break;
            case 'g':
                snprintf(out->gtid, sizeof out->gtid, "%s", v);
                break;
            }
        }
    }
    return have_f ? 0 : -1;
}
