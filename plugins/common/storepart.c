/* storepart.c — the partitioners of Confluent's storage sinks, shared by sftp-json and s3. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storepart.h"

/* The last part of a Java class name (after '$' or '.'). */
static const char *sp_tail(const char *name)
{
    const char *t = strrchr(name, '$');
    if (!t)
        t = strrchr(name, '.');
    return t ? t + 1 : name;
}

static int sp_eq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

sluice_err_t storepart_init(struct storepart *p, const struct sluice_host *h,
                            const sluice_config_t *cfg, char *errstr, size_t errstr_size)
{
    const char *tsf = h->config_string(cfg, "timestamp.field");
    const char *dd = h->config_string(cfg, "directory.delim");
    p->ts_field = strdup(tsf ? tsf : "timestamp");
    p->ddelim = strdup(dd ? dd : "/");
    p->scratch = h->buf_new(64);
    p->enc_cache = h->buf_new(128);
    if (!p->ts_field || !p->ddelim || !p->scratch || !p->enc_cache)
        return SLUICE_ERR_NOMEM;
    p->duration_ms = h->config_int(cfg, "partition.duration.ms");
    p->flush_size = h->config_int(cfg, "flush.size");
    p->rotate_ms = h->config_int(cfg, "rotate.interval.ms");
    p->schedule_ms = h->config_int(cfg, "rotate.schedule.interval.ms");
    if (p->rotate_ms == 0 || p->schedule_ms == 0) {
        snprintf(errstr, errstr_size, "%s: must be -1 (off) or positive",
                 p->rotate_ms == 0 ? "rotate.interval.ms" : "rotate.schedule.interval.ms");
        return SLUICE_ERR_CONFIG;
    }

    const char *locale = h->config_string(cfg, "locale");
    if (!(sp_eq(locale, "") || sp_eq(locale, "C") || sp_eq(locale, "POSIX") ||
          (strncasecmp(locale, "en", 2) == 0 &&
           (!locale[2] || locale[2] == '_' || locale[2] == '-')))) {
        snprintf(errstr, errstr_size,
                 "locale: '%s' is not supported: only English (en, en_US, ...) and C", locale);
        return SLUICE_ERR_CONFIG;
    }
    if (timepart_zone_init(&p->tz, h->config_string(cfg, "timezone"), errstr, errstr_size) != 0)
        return SLUICE_ERR_CONFIG;

    /* Confluent's class names too: io.confluent.connect.storage.partitioner.
     * TimeBasedPartitioner$RecordFieldTimestampExtractor and its siblings */
    char exb[64];
    const char *ex = sp_tail(h->config_string(cfg, "timestamp.extractor"));
    size_t exl = strlen(ex), sfx = strlen("TimestampExtractor");
    if (exl > sfx && exl < sizeof exb && strcmp(ex + exl - sfx, "TimestampExtractor") == 0) {
        memcpy(exb, ex, exl - sfx);
        exb[exl - sfx] = '\0';
        ex = exb;
    }
    if (sp_eq(ex, "Record"))
        p->extractor = TIMEPART_TS_RECORD;
    else if (sp_eq(ex, "RecordField") || sp_eq(ex, "record-field") || sp_eq(ex, "record_field"))
        p->extractor = TIMEPART_TS_FIELD;
    else if (sp_eq(ex, "Wallclock") || sp_eq(ex, "wall-clock"))
        p->extractor = TIMEPART_TS_WALLCLOCK;
    else {
        snprintf(errstr, errstr_size,
                 "timestamp.extractor: unknown extractor '%s' (Record, RecordField, Wallclock)",
                 h->config_string(cfg, "timestamp.extractor"));
        return SLUICE_ERR_CONFIG;
    }

    const char *pc = h->config_string(cfg, "partitioner.class");
    const char *pt = sp_tail(pc);
    const char *fmt = h->config_string(cfg, "path.format");
    if (sp_eq(pc, "default") || sp_eq(pt, "DefaultPartitioner")) {
        p->partitioner = STOREPART_DEFAULT;
    } else if (sp_eq(pc, "field") || sp_eq(pt, "FieldPartitioner")) {
        p->partitioner = STOREPART_FIELD;
        p->nfields = h->config_count(cfg, "partition.field.name");
        if (p->nfields == 0) {
            snprintf(errstr, errstr_size,
                     "partition.field.name: the field partitioner needs at least one field");
            return SLUICE_ERR_CONFIG;
        }
        p->fields = calloc(p->nfields, sizeof *p->fields);
        if (!p->fields)
            return SLUICE_ERR_NOMEM;
        for (size_t i = 0; i < p->nfields; i++)
            if (!(p->fields[i] = strdup(h->config_item(cfg, "partition.field.name", i))))
                return SLUICE_ERR_NOMEM;
    } else if (sp_eq(pc, "daily") || sp_eq(pt, "DailyPartitioner")) {
        p->partitioner = STOREPART_TIME;
        fmt = "'year'=YYYY/'month'=MM/'day'=dd";
        p->duration_ms = 86400000;
    } else if (sp_eq(pc, "hourly") || sp_eq(pt, "HourlyPartitioner")) {
        p->partitioner = STOREPART_TIME;
        fmt = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";
        p->duration_ms = 3600000;
    } else if (sp_eq(pc, "time-based") || sp_eq(pc, "time") || sp_eq(pt, "TimeBasedPartitioner")) {
        p->partitioner = STOREPART_TIME;
        if (!fmt || !*fmt) {
            snprintf(errstr, errstr_size,
                     "path.format: the time-based partitioner needs it, e.g. "
                     "'year'=YYYY/'month'=MM/'day'=dd");
            return SLUICE_ERR_CONFIG;
        }
        if (p->duration_ms <= 0) {
            snprintf(errstr, errstr_size,
                     "partition.duration.ms: the time-based partitioner needs a positive "
                     "duration, e.g. 3600000");
            return SLUICE_ERR_CONFIG;
        }
    } else {
        snprintf(errstr, errstr_size,
                 "partitioner.class: unknown partitioner '%s' (default, field, time-based, daily, "
                 "hourly, or Confluent's class names)",
                 pc);
        return SLUICE_ERR_CONFIG;
    }
    if (p->partitioner == STOREPART_TIME) {
        for (const char *q = fmt; *q; q++)
            if (*q == '\'') /* an unbalanced quote swallows the rest: refuse it */
                for (q++;; q++) {
                    if (!*q) {
                        snprintf(errstr, errstr_size, "path.format: unterminated quote in '%s'",
                                 fmt);
                        return SLUICE_ERR_CONFIG;
                    }
                    if (*q == '\'')
                        break;
                }
        if (timepart_format(fmt, 0, NULL, h, errstr, errstr_size) != 0)
            return SLUICE_ERR_CONFIG;
        if (!(p->path_format = strdup(fmt)))
            return SLUICE_ERR_NOMEM;
    }
    return SLUICE_OK;
}

void storepart_free(struct storepart *p, const struct sluice_host *h)
{
    for (size_t i = 0; p->fields && i < p->nfields; i++)
        free(p->fields[i]);
    free(p->fields);
    free(p->path_format);
    free(p->ts_field);
    free(p->ddelim);
    timepart_zone_free(&p->tz);
    if (p->scratch)
        h->buf_free(p->scratch);
    if (p->enc_cache)
        h->buf_free(p->enc_cache);
    memset(p, 0, sizeof *p);
}

int storepart_encode(struct storepart *p, const struct sluice_host *h, sluice_record_t *rec,
                     int64_t ts, sluice_buf_t *out, const char **why)
{
    char tmp[64];
    if (p->partitioner == STOREPART_DEFAULT) {
        int n = snprintf(tmp, sizeof tmp, "partition=%" PRId32, h->record_partition(rec));
        h->buf_append(out, tmp, (size_t)n);
        return 0;
    }
    if (p->partitioner == STOREPART_TIME) {
        int64_t bucket = timepart_bucket(&p->tz, ts, p->duration_ms);
        /* consecutive records mostly share their bucket: format it once */
        if (p->enc_valid && bucket == p->enc_bucket) {
            h->buf_append(out, h->buf_data(p->enc_cache), h->buf_len(p->enc_cache));
            return 0;
        }
        char err[128];
        size_t start = h->buf_len(out);
        if (timepart_format(p->path_format, bucket, out, h, err, sizeof err) != 0)
            return -1;
        h->buf_reset(p->enc_cache);
        p->enc_valid = h->buf_append(p->enc_cache, h->buf_data(out) + start,
                                     h->buf_len(out) - start) == SLUICE_OK;
        p->enc_bucket = bucket;
        return 0;
    }
    char err[256];
    sluice_value_t *v = h->record_value(rec, err, sizeof err);
    for (size_t i = 0; i < p->nfields; i++) {
        sluice_value_t *f = v ? timepart_field(h, v, p->fields[i]) : NULL;
        if (!f) {
            *why = "a partition.field.name field is missing from the value";
            return -1;
        }
        if (i)
            h->buf_append(out, p->ddelim, strlen(p->ddelim));
        h->buf_append(out, p->fields[i], strlen(p->fields[i]));
        h->buf_append(out, "=", 1);
        sluice_buf_t *t = p->scratch;
        h->buf_reset(t);
        if (h->value_type(f) == SLUICE_TYPE_NULL)
            h->buf_append(t, "null", 4);
        else if (h->value_write_text(f, t) != SLUICE_OK) {
            *why = "a partition.field.name field cannot be written as text";
            return -1;
        }
        /* A value must stay one directory inside the tree: escape separators and controls, and
         * the dots of a value that is "." or ".." (a name of its own in a layout without the
         * field name). Other values keep their bytes: the layout of existing trees stays. */
        const unsigned char *q = (const unsigned char *)h->buf_data(t);
        size_t n = h->buf_len(t);
        int dots = (n == 1 || n == 2) && q[0] == '.' && q[n - 1] == '.';
        for (size_t k = 0; k < n; k++) {
            if (q[k] < 0x20 || q[k] == '/' || q[k] == '\\' || q[k] == '%' || q[k] == 0x7f || dots) {
                int m = snprintf(tmp, sizeof tmp, "%%%02X", q[k]);
                h->buf_append(out, tmp, (size_t)m);
            } else {
                h->buf_append(out, q + k, 1);
            }
        }
    }
    return 0;
}

/* One line of a file. Appends are checked once at the end: the buffer keeps its first error (ABI
 * 1.3). A key or value that has no JSON form fails the record, and so does running out of memory
 * (a line cut short must never reach a file). */
void storepart_headers_json(const struct sluice_host *h, sluice_record_t *rec, sluice_buf_t *out)
{
    h->buf_append(out, "[", 1);
    for (size_t i = 0, n = h->record_header_count(rec); i < n; i++) {
        const void *hv;
        size_t hl;
        const char *name = h->record_header(rec, i, &hv, &hl);
        h->buf_append(out, i ? ",{\"key\":" : "{\"key\":", i ? 8 : 7);
        h->buf_append_json_string(out, name, strlen(name));
        h->buf_append(out, ",\"value\":", 9);
        if (hv)
            h->buf_append_json_string(out, hv, hl);
        else
            h->buf_append(out, "null", 4);
        h->buf_append(out, "}", 1);
    }
    h->buf_append(out, "]", 1);
}

sluice_err_t storepart_json_line(const struct sluice_host *h, sluice_record_t *rec, int key_enable,
                                 int headers_enable, sluice_buf_t *line, const char **why)
{
    char err[256];
    sluice_value_t *v = h->record_value(rec, err, sizeof err);
    if (!v) {
        *why = "the value cannot be decoded";
        return SLUICE_ERR_INVALID;
    }
    int env = key_enable || headers_enable;
    if (env && key_enable) {
        sluice_value_t *k = h->record_key(rec, err, sizeof err);
        if (!k) {
            *why = "the key cannot be decoded";
            return SLUICE_ERR_INVALID;
        }
        h->buf_append(line, "{\"key\":", 7);
        if (h->value_write_json(k, line) == SLUICE_ERR_INVALID) {
            *why = "the key cannot be written as JSON";
            return SLUICE_ERR_INVALID;
        }
        h->buf_append(line, ",\"value\":", 9);
    } else if (env) {
        h->buf_append(line, "{\"value\":", 9);
    }
    if (h->value_write_json(v, line) == SLUICE_ERR_INVALID) {
        *why = "the value cannot be written as JSON";
        return SLUICE_ERR_INVALID;
    }
    if (headers_enable) {
        h->buf_append(line, ",\"headers\":", 11);
        storepart_headers_json(h, rec, line);
    }
    if (env)
        h->buf_append(line, "}", 1);
    h->buf_append(line, "\n", 1);
    if (h->buf_error(line) != SLUICE_OK) {
        *why = "out of memory while writing the record as JSON";
        return SLUICE_ERR_NOMEM;
    }
    return SLUICE_OK;
}

int storepart_place(struct storepart *p, const struct sluice_host *h, sluice_record_t *rec,
                    int64_t *ts, sluice_buf_t *enc, const char **why)
{
    if (timepart_timestamp(h, rec, p->extractor, p->ts_field, ts, why) != 0)
        return -1;
    h->buf_reset(enc);
    if (storepart_encode(p, h, rec, *ts, enc, why) != 0) {
        if (!*why)
            *why = "the partition cannot be encoded";
        return -1;
    }
    return 0;
}

int storepart_due(const struct storepart *p, const struct storepart_cycle *c, int open, int64_t ts,
                  int64_t mono, int64_t now)
{
    if (!open)
        return 0;
    if (p->rotate_ms > 0 &&
        (ts - c->base_ts >= p->rotate_ms || mono - c->open_mono >= p->rotate_ms))
        return 1;
    return p->schedule_ms > 0 && now >= c->sched_at;
}

int storepart_idle_due(const struct storepart *p, const struct storepart_cycle *c, int open,
                       int64_t mono, int64_t now)
{
    return open && ((p->rotate_ms > 0 && mono - c->open_mono >= p->rotate_ms) ||
                    (p->schedule_ms > 0 && now >= c->sched_at));
}

int64_t storepart_next_schedule(const struct storepart *p, int64_t now)
{
    return timepart_next_boundary(&p->tz, now, p->schedule_ms);
}

int storepart_take(const struct storepart *p, struct storepart_cycle *c, int64_t off, int64_t ts,
                   int64_t mono, int64_t now)
{
    if (c->count == 0) {
        c->first_off = off;
        c->base_ts = ts;
        c->open_mono = mono;
        if (p->schedule_ms > 0)
            c->sched_at = storepart_next_schedule(p, now);
    }
    c->next_off = off + 1;
    c->count++;
    return c->count >= p->flush_size;
}

void storepart_cap(const struct storepart_cycle *c, int32_t partition, int open,
                   struct sluice_offset *offsets, size_t count)
{
    /* by partition only: the records of one partition may carry another topic name */
    for (size_t i = 0; open && i < count; i++)
        if (offsets[i].partition == partition && c->first_off < offsets[i].offset)
            offsets[i].offset = c->first_off;
}

int storepart_gzip_init(z_stream *z)
{
    memset(z, 0, sizeof *z);
    return deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
                   Z_OK
               ? 0
               : -1;
}

sluice_err_t storepart_gzip(const struct sluice_host *h, z_stream *z, sluice_buf_t *raw,
                            sluice_buf_t *out, int flush)
{
    unsigned char chunk[16384];
    z->next_in = (Bytef *)h->buf_data(raw);
    z->avail_in = (uInt)h->buf_len(raw);
    int r;
    do {
        z->next_out = chunk;
        z->avail_out = sizeof chunk;
        r = deflate(z, flush);
        if (r == Z_STREAM_ERROR)
            return SLUICE_FATAL;
        size_t have = sizeof chunk - z->avail_out;
        if (have && h->buf_append(out, chunk, have) != SLUICE_OK)
            return SLUICE_ERR_NOMEM;
    } while (z->avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
    h->buf_reset(raw);
    return SLUICE_OK;
}

int storepart_cycle_init(struct storepart_cycle *c, const char *topic, int32_t partition)
{
    memset(c, 0, sizeof *c);
    c->partition = partition;
    c->next_off = -1;
    return (c->topic = strdup(topic)) ? 0 : -1;
}

int storepart_cycle_is(const struct storepart_cycle *c, const char *topic, int32_t partition)
{
    return c->partition == partition && strcmp(c->topic, topic) == 0;
}

void storepart_cycle_free(struct storepart_cycle *c)
{
    free(c->topic);
    c->topic = NULL;
}
