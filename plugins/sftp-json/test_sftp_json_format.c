/*
 * test_sftp_json_format.c — the pure parts of sftp-json: path.format (Joda-Time patterns, quoting,
 * names in English, the letters refused), partition.duration.ms buckets, time zones (UTC, fixed
 * offsets, Europe/Madrid and America/Sao_Paulo across their DST changes), file names
 * (filename.offset.zero.pad.width, file.delim, directory.delim, gzip) and their parsing back, the
 * field partitioner's escaping, ISO-8601 timestamps, rotate.schedule.interval.ms boundaries, and
 * the configuration errors of init.
 *
 * The plugin's functions are static: this file #includes sftp_json.c (checkpoint.c and
 * ../common/timepart.c, the time zones and path.format, are linked in) and gives it a small host
 * (buffers, a key/value configuration that falls back to the plugin's own defaults, records whose
 * value is a tree of fake values). No store is touched: init with `directory` creates nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "sftp_json.c"

/* ---------------------------------------------------------------------------------------------- */
/* The fake host */

struct sluice_buf {
    char *p;
    size_t len, cap;
};

static sluice_buf_t *fb_new(size_t cap)
{
    sluice_buf_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = cap ? cap : 16;
    b->p = calloc(1, b->cap + 1);
    if (!b->p) {
        free(b);
        return NULL;
    }
    return b;
}

static void fb_free(sluice_buf_t *b)
{
    if (b)
        free(b->p);
    free(b);
}

static void fb_reset(sluice_buf_t *b)
{
    b->len = 0;
    b->p[0] = '\0';
}

static sluice_err_t fb_append(sluice_buf_t *b, const void *p, size_t len)
{
    if (b->len + len > b->cap) {
        size_t nc = (b->len + len) * 2;
        char *np = realloc(b->p, nc + 1);
        if (!np)
            return SLUICE_ERR_NOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return SLUICE_OK;
}

static const char *fb_data(const sluice_buf_t *b)
{
    return b->p;
}

static size_t fb_len(const sluice_buf_t *b)
{
    return b->len;
}

/* key, value, key, value, ..., NULL; a key not given falls back to sj_config's default. Lists are
 * comma-separated. */
struct sluice_config {
    const char *const *kv;
};

static const char *fc_string(const sluice_config_t *cfg, const char *key)
{
    for (const char *const *p = cfg->kv; p && p[0]; p += 2)
        if (strcmp(p[0], key) == 0)
            return p[1];
    for (const struct sluice_config_field *f = sj_config; f->name; f++)
        if (strcmp(f->name, key) == 0)
            return f->default_value;
    fail_msg("the plugin asked for a key not in its table: %s", key);
    return NULL;
}

static int fc_has(const sluice_config_t *cfg, const char *key)
{
    return fc_string(cfg, key) != NULL;
}

static int64_t fc_int(const sluice_config_t *cfg, const char *key)
{
    const char *v = fc_string(cfg, key);
    return v ? strtoll(v, NULL, 10) : 0;
}

static int fc_bool(const sluice_config_t *cfg, const char *key)
{
    const char *v = fc_string(cfg, key);
    return v && strcmp(v, "true") == 0;
}

static int64_t fc_size(const sluice_config_t *cfg, const char *key)
{
    const char *v = fc_string(cfg, key);
    char *e;
    int64_t n = v ? strtoll(v, &e, 10) : 0;
    if (v && strcmp(e, "KiB") == 0)
        n <<= 10;
    else if (v && strcmp(e, "MiB") == 0)
        n <<= 20;
    return n;
}

static int64_t fc_duration(const sluice_config_t *cfg, const char *key)
{
    const char *v = fc_string(cfg, key);
    char *e;
    int64_t n = v ? strtoll(v, &e, 10) : 0;
    return v && strcmp(e, "s") == 0 ? n * 1000 : n;
}

static size_t fc_count(const sluice_config_t *cfg, const char *key)
{
    const char *v = fc_string(cfg, key);
    if (!v || !*v)
        return 0;
    size_t n = 1;
    for (; *v; v++)
        n += *v == ',';
    return n;
}

static const char *fc_item(const sluice_config_t *cfg, const char *key, size_t i)
{
    static char item[8][64]; /* the plugin copies each item at once */
    const char *v = fc_string(cfg, key);
    for (size_t k = 0; k < i && v; k++) {
        v = strchr(v, ',');
        v = v ? v + 1 : NULL;
    }
    if (!v)
        return NULL;
    size_t n = strcspn(v, ",");
    snprintf(item[i % 8], sizeof item[0], "%.*s", (int)n, v);
    return item[i % 8];
}

/* A value: a scalar (string or integer) or a string-keyed map of up to 4 entries. */
struct sluice_value {
    sluice_type_t type;
    const char *s;
    int64_t i;
    const char *names[4];
    struct sluice_value *items[4];
};

struct sluice_record {
    int32_t partition;
    int64_t ts;
    struct sluice_value *value;
};

static int32_t fr_partition(const sluice_record_t *r)
{
    return r->partition;
}

static int64_t fr_timestamp(const sluice_record_t *r)
{
    return r->ts;
}

static const char *fr_topic(const sluice_record_t *r)
{
    (void)r;
    return "orders";
}

static sluice_value_t *fr_value(sluice_record_t *r, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    return r->value;
}

static sluice_type_t fv_type(const sluice_value_t *v)
{
    return v->type;
}

static const sluice_schema_t *fv_schema(const sluice_value_t *v)
{
    (void)v;
    return NULL;
}

static sluice_value_t *fv_get(const sluice_value_t *v, const char *field)
{
    for (size_t k = 0; k < 4 && v->names[k]; k++)
        if (strcmp(v->names[k], field) == 0)
            return v->items[k];
    return NULL;
}

static sluice_err_t fv_write_text(const sluice_value_t *v, sluice_buf_t *b)
{
    char num[32];
    switch (v->type) {
    case SLUICE_TYPE_STRING:
        return fb_append(b, v->s, strlen(v->s));
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        return fb_append(b, num, (size_t)snprintf(num, sizeof num, "%" PRId64, v->i));
    default:
        return SLUICE_ERR_INVALID;
    }
}

static void fh_log(sluice_ctx_t *ctx, sluice_log_level_t level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    (void)fmt;
}

static void fh_counter(sluice_ctx_t *ctx, const char *name, int64_t delta)
{
    (void)ctx;
    (void)name;
    (void)delta;
}

static int64_t fh_zero(void)
{
    return 0;
}

static const struct sluice_host host = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_host),
    .log = fh_log,
    .config_has = fc_has,
    .config_string = fc_string,
    .config_int = fc_int,
    .config_bool = fc_bool,
    .config_duration_ms = fc_duration,
    .config_size = fc_size,
    .config_count = fc_count,
    .config_item = fc_item,
    .now_ms = fh_zero,
    .monotonic_ms = fh_zero,
    .counter_add = fh_counter,
    .record_topic = fr_topic,
    .record_partition = fr_partition,
    .record_timestamp = fr_timestamp,
    .record_value = fr_value,
    .value_type = fv_type,
    .value_schema = fv_schema,
    .value_get = fv_get,
    .value_write_text = fv_write_text,
    .buf_new = fb_new,
    .buf_free = fb_free,
    .buf_reset = fb_reset,
    .buf_append = fb_append,
    .buf_data = fb_data,
    .buf_len = fb_len,
};

/* ---------------------------------------------------------------------------------------------- */
/* Helpers */

#define T0   1673143200000LL /* 2023-01-08T02:00:00Z, a Sunday */
#define HOUR 3600000LL
#define DAY  86400000LL

static char errbuf[512];

/* sj_init with `kv` (NULL-terminated pairs) plus `directory`; NULL (and errbuf) on refusal. */
static struct sj *sj_with(const char *const *kv, sluice_err_t *rc_out)
{
    const char *all[64];
    size_t n = 0;
    all[n++] = "directory";
    all[n++] = "/nonexistent/sftp-json-unit";
    for (const char *const *p = kv; p && p[0]; p += 2) {
        assert_true(n + 3 < sizeof all / sizeof all[0]);
        all[n++] = p[0];
        all[n++] = p[1];
    }
    all[n] = NULL;
    struct sluice_config cfg = {.kv = all};
    void *state = NULL;
    errbuf[0] = '\0';
    sluice_err_t rc = sj_init(&host, NULL, &cfg, &state, errbuf, sizeof errbuf);
    if (rc_out)
        *rc_out = rc;
    return rc == SLUICE_OK ? state : NULL;
}

static struct sj *sj_ok(const char *const *kv)
{
    sluice_err_t rc;
    struct sj *s = sj_with(kv, &rc);
    if (!s)
        fail_msg("init refused: %s", errbuf);
    return s;
}

/* init must refuse `kv` with SLUICE_ERR_CONFIG and a message containing `needle`. */
static void refused(const char *const *kv, const char *needle)
{
    sluice_err_t rc;
    struct sj *s = sj_with(kv, &rc);
    if (s)
        sj_destroy(s);
    assert_null(s);
    assert_int_equal(rc, SLUICE_ERR_CONFIG);
    if (!strstr(errbuf, needle))
        fail_msg("error \"%s\" lacks \"%s\"", errbuf, needle);
}

/* path.format rendered for local time `ms`. */
static const char *fmt(const char *f, int64_t ms)
{
    static char out[256];
    sluice_buf_t *b = fb_new(64);
    char err[256] = "";
    int rc = timepart_format(f, ms, b, &host, err, sizeof err);
    if (rc != 0)
        fail_msg("timepart_format(\"%s\") failed: %s", f, err);
    snprintf(out, sizeof out, "%s", b->p);
    fb_free(b);
    return out;
}

/* The directories storepart_encode gives a record of `partition` with timestamp `ts` (value `v`).
 */
static const char *enc(struct sj *s, int32_t partition, int64_t ts, struct sluice_value *v, int *rc)
{
    static char out[512];
    struct sluice_record r = {.partition = partition, .ts = ts, .value = v};
    sluice_buf_t *b = fb_new(64);
    const char *why = NULL;
    *rc = storepart_encode(&s->part, &host, &r, ts, b, &why);
    snprintf(out, sizeof out, "%s", *rc == 0 ? b->p : (why ? why : "(no reason)"));
    fb_free(b);
    return out;
}

static const char *enc_time(struct sj *s, int64_t ts)
{
    int rc;
    const char *r = enc(s, 0, ts, NULL, &rc);
    assert_int_equal(rc, 0);
    return r;
}

static int have_zone(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "/usr/share/zoneinfo/%s", name);
    return access(p, R_OK) == 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* path.format */

static void test_format_hourly_pattern(void **state)
{
    (void)state;
    assert_string_equal(fmt("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", T0),
                        "year=2023/month=01/day=08/hour=02");
    assert_string_equal(fmt("'year'=yyyy/'month'=M/'day'=d/'hour'=H", T0),
                        "year=2023/month=1/day=8/hour=2");
    assert_string_equal(fmt("YYYY-MM-dd HH:mm:ss.SSS", T0 + 23 * 60000 + 7 * 1000 + 45),
                        "2023-01-08 02:23:07.045");
    /* the count of letters is the minimum width */
    assert_string_equal(fmt("HHH/ddd/MMM", T0), "002/008/Jan");
    assert_string_equal(fmt("YY", T0), "23");
    assert_string_equal(fmt("YY", 946684800000LL), "00"); /* 2000 */
    /* everything that is not a letter or a quote is copied */
    assert_string_equal(fmt("Y=Y -_/:.,+#", T0), "2023=2023 -_/:.,+#");
}

static void test_format_quotes(void **state)
{
    (void)state;
    assert_string_equal(fmt("'year'", T0), "year");
    /* letters inside quotes are literal */
    assert_string_equal(fmt("'YYYY MM dd HH'", T0), "YYYY MM dd HH");
    /* '' is a quote, outside and inside quoted text */
    assert_string_equal(fmt("''YYYY''", T0), "'2023'");
    assert_string_equal(fmt("'it''s' HH", T0), "it's 02");
    assert_string_equal(fmt("'o''clock'''", T0), "o'clock'");
    assert_string_equal(fmt("''", T0), "'");
}

static void test_format_names_en(void **state)
{
    (void)state;
    assert_string_equal(fmt("MMM", T0), "Jan");
    assert_string_equal(fmt("MMMM", T0), "January");
    assert_string_equal(fmt("MMMM", T0 + 240 * DAY), "September"); /* 2023-09-05 */
    /* 2023-01-08 was a Sunday; 1969-12-31 a Wednesday (days before the epoch) */
    assert_string_equal(fmt("E", T0), "Sun");
    assert_string_equal(fmt("EEE", T0 + DAY), "Mon");
    assert_string_equal(fmt("EEEE", T0 + 6 * DAY), "Saturday");
    assert_string_equal(fmt("EEEE", -1), "Wednesday");
    assert_string_equal(fmt("EEEE", -4 * DAY), "Sunday");
}

static void test_format_calendar_edges(void **state)
{
    (void)state;
    /* the day of year, leap years included */
    assert_string_equal(fmt("D", 1677628800000LL), "60");    /* 2023-03-01 */
    assert_string_equal(fmt("DDD", 1709208000000LL), "060"); /* 2024-02-29 */
    assert_string_equal(fmt("yyyy-MM-dd", 1709208000000LL), "2024-02-29");
    assert_string_equal(fmt("D", 1703980800000LL), "365"); /* 2023-12-31 */
    assert_string_equal(fmt("D", 1735603200000LL), "366"); /* 2024-12-31 */
    /* before the epoch: floor, not truncation */
    assert_string_equal(fmt("yyyy-MM-dd HH:mm:ss.SSS", -1), "1969-12-31 23:59:59.999");
    assert_string_equal(fmt("yyyy-MM-dd", -DAY), "1969-12-31");
    assert_string_equal(fmt("yyyy-MM-dd", -DAY - 1), "1969-12-30");
    /* 2100 is not a leap year */
    assert_string_equal(fmt("yyyy-MM-dd", 4107456000000LL + DAY), "2100-03-01");
    assert_string_equal(fmt("D", 4107456000000LL + DAY), "60");
}

static void test_format_refused_letters(void **state)
{
    (void)state;
    /* Joda letters sluice does not have: week of year, era, am/pm, clock hour, zone */
    const char *bad[] = {"w", "'week'=ww", "G", "a", "hh", "k", "z", "Z", "x", "e", "C"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        assert_int_equal(timepart_format(bad[i], T0, NULL, &host, err, sizeof err), -1);
        char letter[8];
        const char *q = bad[i][0] == '\'' ? strrchr(bad[i], '=') + 1 : bad[i];
        snprintf(letter, sizeof letter, "'%c'", q[0]);
        if (!strstr(err, letter) || !strstr(err, "not supported"))
            fail_msg("\"%s\": message \"%s\" does not name %s", bad[i], err, letter);
    }
    /* a check without output (init's) accepts what rendering accepts */
    char err[64];
    assert_int_equal(timepart_format("'year'=YYYY/E/D/SSS", T0, NULL, &host, err, sizeof err), 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Partitioners, buckets, time zones */

static void test_hourly_and_daily(void **state)
{
    (void)state;
    struct sj *s = sj_ok((const char *const[]){"partitioner.class", "hourly", NULL});
    assert_int_equal(s->part.partitioner, STOREPART_TIME);
    assert_int_equal(s->part.duration_ms, HOUR);
    assert_string_equal(enc_time(s, T0 + HOUR - 1), "year=2023/month=01/day=08/hour=02");
    assert_string_equal(enc_time(s, T0 + HOUR), "year=2023/month=01/day=08/hour=03");
    sj_destroy(s);
    /* Confluent's class name; path.format and partition.duration.ms given are overridden */
    s = sj_ok((const char *const[]){"partitioner.class",
                                    "io.confluent.connect.storage.partitioner.DailyPartitioner",
                                    "path.format", "HH", "partition.duration.ms", "60000", NULL});
    assert_int_equal(s->part.duration_ms, DAY);
    assert_string_equal(enc_time(s, T0 + 22 * HOUR - 1), "year=2023/month=01/day=08");
    assert_string_equal(enc_time(s, T0 + 22 * HOUR), "year=2023/month=01/day=09");
    sj_destroy(s);
}

static void test_duration_buckets(void **state)
{
    (void)state;
    struct sj *s =
        sj_ok((const char *const[]){"partitioner.class", "time-based", "path.format",
                                    "YYYY-MM-dd-HH-mm", "partition.duration.ms", "900000", NULL});
    assert_string_equal(enc_time(s, T0 + 45 * 60000 - 1), "2023-01-08-02-30");
    assert_string_equal(enc_time(s, T0 + 45 * 60000), "2023-01-08-02-45");
    assert_string_equal(enc_time(s, T0 - 1), "2023-01-08-01-45");
    sj_destroy(s);
    /* 6 h buckets from the epoch; a time before it goes to the bucket that starts before it */
    s = sj_ok((const char *const[]){"partitioner.class", "TimeBasedPartitioner", "path.format",
                                    "yyyy-MM-dd'T'HH", "partition.duration.ms", "21600000", NULL});
    assert_string_equal(enc_time(s, T0), "2023-01-08T00");
    assert_string_equal(enc_time(s, T0 + 4 * HOUR), "2023-01-08T06");
    assert_string_equal(enc_time(s, -1), "1969-12-31T18");
    sj_destroy(s);
    /* a duration that does not divide a day: buckets from the epoch, not from midnight */
    s = sj_ok((const char *const[]){"partitioner.class", "time-based", "path.format", "dd/HH:mm",
                                    "partition.duration.ms", "25200000", NULL});
    int64_t b = (T0 / 25200000) * 25200000;
    assert_string_equal(enc_time(s, T0), fmt("dd/HH:mm", b));
    assert_string_equal(enc_time(s, T0), "07/22:00");
    sj_destroy(s);
}

static void test_timezone_fixed(void **state)
{
    (void)state;
    struct sj *s =
        sj_ok((const char *const[]){"partitioner.class", "daily", "timezone", "+05:30", NULL});
    assert_int_equal(timepart_zone_offset(&s->part.tz, 0), 19800);
    /* 2023-01-08T20:00Z is 01:30 on the 9th in +05:30 */
    assert_string_equal(enc_time(s, 1673208000000LL), "year=2023/month=01/day=09");
    assert_string_equal(enc_time(s, 1673208000000LL - 90 * 60000 - 1), "year=2023/month=01/day=08");
    sj_destroy(s);
    s = sj_ok((const char *const[]){"partitioner.class", "hourly", "timezone", "-03:30", NULL});
    assert_int_equal(timepart_zone_offset(&s->part.tz, 1234567), -12600);
    assert_string_equal(enc_time(s, T0), "year=2023/month=01/day=07/hour=22");
    sj_destroy(s);
    /* the UTC spellings */
    const char *utc[] = {"UTC", "Z", "GMT", "Etc/UTC", "+00:00"};
    for (size_t i = 0; i < sizeof utc / sizeof utc[0]; i++) {
        s = sj_ok((const char *const[]){"partitioner.class", "hourly", "timezone", utc[i], NULL});
        assert_int_equal(timepart_zone_offset(&s->part.tz, T0 / 1000), 0);
        assert_string_equal(enc_time(s, T0), "year=2023/month=01/day=08/hour=02");
        sj_destroy(s);
    }
}

static void test_timezone_madrid_dst(void **state)
{
    (void)state;
    if (!have_zone("Europe/Madrid"))
        skip();
    struct sj *s = sj_ok(
        (const char *const[]){"partitioner.class", "hourly", "timezone", "Europe/Madrid", NULL});
    assert_true(s->part.tz.n > 100); /* two changes a year since 1979 */
    /* winter: CET, +01:00 */
    assert_int_equal(timepart_zone_offset(&s->part.tz, T0 / 1000), 3600);
    assert_string_equal(enc_time(s, T0), "year=2023/month=01/day=08/hour=03");
    /* 2023-03-26 01:00Z: 02:00 CET becomes 03:00 CEST; there is no hour=02 that day */
    const int64_t spring = 1679792400000LL;
    assert_int_equal(timepart_zone_offset(&s->part.tz, spring / 1000 - 1), 3600);
    assert_int_equal(timepart_zone_offset(&s->part.tz, spring / 1000), 7200);
    assert_string_equal(enc_time(s, spring - 1), "year=2023/month=03/day=26/hour=01");
    assert_string_equal(enc_time(s, spring), "year=2023/month=03/day=26/hour=03");
    /* 2023-10-29 01:00Z: 03:00 CEST becomes 02:00 CET; hour=02 comes twice, one directory */
    assert_string_equal(enc_time(s, 1698539400000LL), "year=2023/month=10/day=29/hour=02");
    assert_string_equal(enc_time(s, 1698543000000LL), "year=2023/month=10/day=29/hour=02");
    assert_int_equal(timepart_zone_offset(&s->part.tz, 1698539400), 7200);
    assert_int_equal(timepart_zone_offset(&s->part.tz, 1698543000), 3600);
    /* summer midnight: 22:30Z on July 1st is July 2nd in Madrid */
    assert_string_equal(enc_time(s, 1688250600000LL), "year=2023/month=07/day=02/hour=00");
    sj_destroy(s);
    /* daily buckets follow the local midnight on both sides of a change */
    s = sj_ok(
        (const char *const[]){"partitioner.class", "daily", "timezone", "Europe/Madrid", NULL});
    assert_string_equal(enc_time(s, spring - 2 * HOUR), "year=2023/month=03/day=26");
    assert_string_equal(enc_time(s, spring - 2 * HOUR - 1), "year=2023/month=03/day=25");
    sj_destroy(s);
    /* the process's TZ is left as it was */
    assert_null(getenv("TZ"));
}

static void test_timezone_sao_paulo(void **state)
{
    (void)state;
    if (!have_zone("America/Sao_Paulo"))
        skip();
    struct sj *s = sj_ok((const char *const[]){"partitioner.class", "hourly", "timezone",
                                               "America/Sao_Paulo", NULL});
    /* 2018-11-04 00:00 -03 became 01:00 -02 (DST began at midnight: no hour=00 that day) */
    assert_int_equal(timepart_zone_offset(&s->part.tz, 1541300399), -10800);
    assert_int_equal(timepart_zone_offset(&s->part.tz, 1541300400), -7200);
    assert_string_equal(enc_time(s, 1541300399000LL), "year=2018/month=11/day=03/hour=23");
    assert_string_equal(enc_time(s, 1541300400000LL), "year=2018/month=11/day=04/hour=01");
    /* 2019-02-17 00:00 -02 became 2019-02-16 23:00 -03: hour=23 of the 16th twice */
    assert_string_equal(enc_time(s, 1550367000000LL), "year=2019/month=02/day=16/hour=23");
    assert_string_equal(enc_time(s, 1550370600000LL), "year=2019/month=02/day=16/hour=23");
    /* no DST since 2019 */
    assert_int_equal(timepart_zone_offset(&s->part.tz, T0 / 1000), -10800);
    assert_int_equal(timepart_zone_offset(&s->part.tz, T0 / 1000 + 180 * 86400), -10800);
    sj_destroy(s);
}

static void test_schedule_boundaries(void **state)
{
    (void)state;
    /* hourly schedule in +05:30: the local hour boundaries are at :30 UTC */
    struct sj *s = sj_ok((const char *const[]){"rotate.schedule.interval.ms", "3600000", "timezone",
                                               "+05:30", NULL});
    assert_int_equal(storepart_next_schedule(&s->part, T0 + 10 * 60000), T0 + 30 * 60000);
    assert_int_equal(storepart_next_schedule(&s->part, T0 + 30 * 60000), T0 + 90 * 60000);
    sj_destroy(s);
    /* daily schedule in UTC: the next midnight */
    s = sj_ok((const char *const[]){"rotate.schedule.interval.ms", "86400000", NULL});
    assert_int_equal(storepart_next_schedule(&s->part, T0), T0 - 2 * HOUR + DAY);
    sj_destroy(s);
}

static void test_default_and_field_partitioners(void **state)
{
    (void)state;
    int rc;
    struct sj *s = sj_ok(NULL);
    assert_int_equal(s->part.partitioner, STOREPART_DEFAULT);
    assert_string_equal(enc(s, 7, T0, NULL, &rc), "partition=7");
    sj_destroy(s);

    struct sluice_value city = {.type = SLUICE_TYPE_STRING, .s = "Madrid"};
    struct sluice_value nasty = {.type = SLUICE_TYPE_STRING, .s = "a/b\\c%d\ne\x7f..f=g h"};
    struct sluice_value num = {.type = SLUICE_TYPE_INT64, .i = -42};
    struct sluice_value nul = {.type = SLUICE_TYPE_NULL};
    struct sluice_value addr = {.type = SLUICE_TYPE_MAP, .names = {"city"}, .items = {&city}};
    struct sluice_value v = {.type = SLUICE_TYPE_STRUCT,
                             .names = {"address", "country", "n", "none"},
                             .items = {&addr, &nasty, &num, &nul}};
    s = sj_ok((const char *const[]){"partitioner.class", "field", "partition.field.name",
                                    "address.city,n,none", NULL});
    assert_int_equal(s->part.nfields, 3);
    assert_string_equal(enc(s, 0, T0, &v, &rc), "address.city=Madrid/n=-42/none=null");
    assert_int_equal(rc, 0);
    sj_destroy(s);
    /* a value stays one directory: '/', '\\', '%', controls and DEL escaped; the rest is kept */
    s = sj_ok((const char *const[]){"partitioner.class", "FieldPartitioner", "partition.field.name",
                                    "country", "directory.delim", "|", NULL});
    assert_string_equal(enc(s, 0, T0, &v, &rc), "country=a%2Fb%5Cc%25d%0Ae%7F..f=g h");
    sj_destroy(s);
    /* two fields are joined with directory.delim */
    s = sj_ok((const char *const[]){"partitioner.class", "field", "partition.field.name",
                                    "n,address.city", "directory.delim", "|", NULL});
    assert_string_equal(enc(s, 0, T0, &v, &rc), "n=-42|address.city=Madrid");
    sj_destroy(s);
    /* a missing field fails the record, with a reason */
    s = sj_ok((const char *const[]){"partitioner.class", "field", "partition.field.name",
                                    "address.zip", NULL});
    const char *why = enc(s, 0, T0, &v, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(why, "missing"));
    sj_destroy(s);
}

/* Issue #22: a value such as "v1.." or ".." is one directory, never a way out of the tree. */
static void test_field_values_are_safe_segments(void **state)
{
    (void)state;
    int rc;
    struct sluice_value dots = {.type = SLUICE_TYPE_STRING, .s = ".."};
    struct sluice_value dot = {.type = SLUICE_TYPE_STRING, .s = "."};
    struct sluice_value v1 = {.type = SLUICE_TYPE_STRING, .s = "v1.."};
    struct sluice_value up = {.type = SLUICE_TYPE_STRING, .s = "../../etc"};
    struct sluice_value v = {.type = SLUICE_TYPE_STRUCT,
                             .names = {"a", "b", "c", "d"},
                             .items = {&dots, &dot, &v1, &up}};
    struct sj *s = sj_ok((const char *const[]){"partitioner.class", "field", "partition.field.name",
                                               "a,b,c,d", NULL});
    assert_string_equal(enc(s, 0, T0, &v, &rc), "a=%2E%2E/b=%2E/c=v1../d=..%2F..%2Fetc");
    assert_int_equal(rc, 0);
    sj_destroy(s);

    /* the stores' check: segments, not substrings */
    assert_null(store_path_unsafe("topics/orders/c=v1../orders+0+0.json"));
    assert_null(store_path_unsafe("topics/orders/..x/a..b/..."));
    assert_null(store_path_unsafe("./topics/orders"));
    assert_null(store_path_unsafe(""));
    assert_non_null(store_path_unsafe("topics/../../etc/passwd"));
    assert_non_null(store_path_unsafe(".."));
    assert_non_null(store_path_unsafe("topics/.."));
    assert_non_null(store_path_unsafe("/etc/passwd"));
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_non_null(store_path_unsafe(longname));

    /* the local store takes "v1.." as a name and refuses a real way out */
    char dir[] = "/tmp/sluice-sj-path-XXXXXX", errstr[256];
    assert_non_null(mkdtemp(dir));
    store_t *st = store_local_new(dir, 0640, errstr, sizeof errstr);
    assert_non_null(st);
    assert_int_equal(st->ops->append(st, "t/c=v1../f.json", "x\n", 2, errstr, sizeof errstr),
                     SLUICE_OK);
    assert_int_equal(st->ops->append(st, "t/../../escaped.json", "x\n", 2, errstr, sizeof errstr),
                     SLUICE_FATAL);
    assert_non_null(strstr(errstr, "t/../../escaped.json"));
    long long size = 0;
    assert_int_equal(st->ops->size(st, "t/c=v1../f.json", &size, errstr, sizeof errstr), SLUICE_OK);
    assert_int_equal(size, 2);
    struct stat sb; /* file.mode exactly, the directories with x where r is */
    char full[128];
    snprintf(full, sizeof full, "%s/t/c=v1../f.json", dir);
    assert_int_equal(stat(full, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    snprintf(full, sizeof full, "%s/t/c=v1..", dir);
    assert_int_equal(stat(full, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0750);
    st->ops->free(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* File names */

static struct sj_file *open_file(struct sj *s, struct sj_part *pt, const char *dirs, int64_t off)
{
    struct sj_file *f = sj_file_open(s, pt, dirs, off);
    assert_non_null(f);
    pt->files = f->next;
    return f;
}

static void test_file_names(void **state)
{
    (void)state;
    struct sj_part pt = {.c = {.topic = "orders", .partition = 0}};
    struct sj *s = sj_ok(NULL);
    struct sj_file *f = open_file(s, &pt, "year=2023/month=01/day=08/hour=02", 46347);
    /* the seed's layout */
    assert_string_equal(f->final,
                        "topics/orders/year=2023/month=01/day=08/hour=02/orders+0+0000046347.json");
    assert_string_equal(f->tmp, "topics/orders/year=2023/month=01/day=08/hour=02/"
                                "orders+0+0000046347.json.tmp");
    sj_file_free(s, f);
    sj_destroy(s);

    /* pad 0: no zeros; pad 3 with a longer offset: never truncated; gzip: .json.gz */
    pt.c.partition = 12;
    s = sj_ok((const char *const[]){"filename.offset.zero.pad.width", "0", NULL});
    f = open_file(s, &pt, "partition=12", 0);
    assert_string_equal(f->final, "topics/orders/partition=12/orders+12+0.json");
    sj_file_free(s, f);
    sj_destroy(s);
    s = sj_ok((const char *const[]){"filename.offset.zero.pad.width", "3", "compression.type",
                                    "gzip", NULL});
    f = open_file(s, &pt, "partition=12", 46347);
    assert_string_equal(f->final, "topics/orders/partition=12/orders+12+46347.json.gz");
    assert_string_equal(f->tmp, "topics/orders/partition=12/orders+12+46347.json.gz.tmp");
    sj_file_free(s, f);
    sj_destroy(s);
    s = sj_ok((const char *const[]){"filename.offset.zero.pad.width", "19", NULL});
    f = open_file(s, &pt, "p", INT64_MAX);
    assert_string_equal(f->final, "topics/orders/p/orders+12+9223372036854775807.json");
    sj_file_free(s, f);
    sj_destroy(s);

    /* the delimiters and topics.dir */
    s = sj_ok((const char *const[]){"topics.dir", "out/data", "directory.delim", "/", "file.delim",
                                    "_-_", NULL});
    f = open_file(s, &pt, "partition=12", 5);
    assert_string_equal(f->final, "out/data/orders/partition=12/orders_-_12_-_0000000005.json");
    sj_file_free(s, f);
    char m[SJ_PATH_MAX];
    pt.c.partition = 3;
    assert_int_equal(sj_marker_path(s, &pt, 1000, m, sizeof m), SLUICE_OK);
    assert_string_equal(m, "out/data/.sluice/orders/p3-1000");
    sj_destroy(s);
}

static void test_parse_names(void **state)
{
    (void)state;
    int32_t p = -9;
    int64_t off = -9;
    int tmp = -9;
    struct sj *s = sj_ok(NULL);
    assert_int_equal(
        sj_parse_name(s, "orders", "topics/orders/x/orders+0+0000046347.json", &p, &off, &tmp), 0);
    assert_int_equal(p, 0);
    assert_int_equal(off, 46347);
    assert_int_equal(tmp, 0);
    assert_int_equal(sj_parse_name(s, "orders", "a/b/orders+17+12.json.tmp", &p, &off, &tmp), 0);
    assert_int_equal(p, 17);
    assert_int_equal(off, 12);
    assert_int_equal(tmp, 1);
    /* a topic whose name starts like another's, a wrong extension, garbage: not ours */
    assert_int_equal(sj_parse_name(s, "orders", "orders+1+0+5.json", &p, &off, &tmp), -1);
    assert_int_equal(sj_parse_name(s, "order", "orders+1+5.json", &p, &off, &tmp), -1);
    assert_int_equal(sj_parse_name(s, "orders", "orders+1+5.json.gz", &p, &off, &tmp), -1);
    assert_int_equal(sj_parse_name(s, "orders", "orders+1+5x.json", &p, &off, &tmp), -1);
    assert_int_equal(sj_parse_name(s, "orders", "orders+1+-5.json", &p, &off, &tmp), -1);
    assert_int_equal(sj_parse_name(s, "orders", "orders++5.json", &p, &off, &tmp), -1);
    assert_int_equal(sj_parse_name(s, "orders", "orders+1+5.tmp", &p, &off, &tmp), -1);
    sj_destroy(s);
    /* a topic holding file.delim, and a multi-character delimiter */
    s = sj_ok((const char *const[]){"file.delim", "--", "compression.type", "gzip", NULL});
    assert_int_equal(sj_parse_name(s, "a--b", "x/a--b--2--0099.json.gz.tmp", &p, &off, &tmp), 0);
    assert_int_equal(p, 2);
    assert_int_equal(off, 99);
    assert_int_equal(tmp, 1);
    assert_int_equal(sj_parse_name(s, "a--b", "x/a--b--2--0099.json", &p, &off, &tmp), -1);
    sj_destroy(s);
    /* what sj_file_open names, sj_parse_name reads back */
    s = sj_ok(
        (const char *const[]){"file.delim", "#", "filename.offset.zero.pad.width", "4", NULL});
    struct sj_part pt = {.c = {.topic = "t.x", .partition = 5}};
    struct sj_file *f = open_file(s, &pt, "partition=5", 123456);
    assert_int_equal(sj_parse_name(s, "t.x", f->tmp, &p, &off, &tmp), 0);
    assert_int_equal(p, 5);
    assert_int_equal(off, 123456);
    assert_int_equal(tmp, 1);
    sj_file_free(s, f);
    sj_destroy(s);
}

/* ---------------------------------------------------------------------------------------------- */
/* ISO-8601 (timestamp.field strings) */

static void test_parse_iso(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(timepart_parse_iso("2023-01-08T02:00:00Z", 20, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(timepart_parse_iso("2023-01-08 03:00:00+01:00", 25, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(timepart_parse_iso("2023-01-07T22:30-0330", 21, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(timepart_parse_iso("2023-01-08T02:00:01.25Z", 23, &t), 0);
    assert_int_equal(t, T0 + 1250);
    assert_int_equal(timepart_parse_iso("2023-01-08", 10, &t), 0);
    assert_int_equal(t, T0 - 2 * HOUR);
    /* only `len` bytes count */
    assert_int_equal(timepart_parse_iso("2023-01-08T02:00:00Zjunk", 20, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(timepart_parse_iso("2023-13-01", 10, &t), -1);
    assert_int_equal(timepart_parse_iso("2023-01-08T02:00:00Q", 20, &t), -1);
    assert_int_equal(timepart_parse_iso("yesterday", 9, &t), -1);
    assert_int_equal(timepart_parse_iso("2023-01-08T", 11, &t), -1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Configuration errors */

static void test_config_errors(void **state)
{
    (void)state;
    refused((const char *const[]){"partitioner.class", "time-based", "path.format",
                                  "'year'=YYYY/'month=MM", "partition.duration.ms", "3600000",
                                  NULL},
            "unterminated quote");
    refused((const char *const[]){"partitioner.class", "time-based", "path.format", "'week'=ww",
                                  "partition.duration.ms", "3600000", NULL},
            "'w' is not supported");
    refused((const char *const[]){"partitioner.class", "time-based", "path.format", "YYYY", NULL},
            "partition.duration.ms");
    refused((const char *const[]){"partitioner.class", "time-based", "partition.duration.ms",
                                  "3600000", NULL},
            "path.format: the time-based partitioner needs it");
    refused((const char *const[]){"partitioner.class", "field", NULL}, "partition.field.name");
    refused((const char *const[]){"partitioner.class", "weekly", NULL},
            "unknown partitioner 'weekly'");
    refused((const char *const[]){"timezone", "Mars/Olympus_Mons", NULL},
            "unknown time zone 'Mars/Olympus_Mons'");
    refused((const char *const[]){"timezone", "../../etc/passwd", NULL}, "unknown time zone");
    refused((const char *const[]){"timezone", "+25:00", NULL}, "+hh:mm");
    refused((const char *const[]){"timezone", "+01:00x", NULL}, "+hh:mm");
    refused((const char *const[]){"locale", "es_ES", NULL}, "only English");
    refused((const char *const[]){"locale", "english", NULL}, "only English");
    refused((const char *const[]){"file.delim", "", NULL}, "file.delim: must not be empty");
    refused((const char *const[]){"directory.delim", "", NULL},
            "directory.delim: must not be empty");
    refused((const char *const[]){"timestamp.extractor", "Kafka", NULL}, "unknown extractor");
    refused((const char *const[]){"rotate.interval.ms", "0", NULL}, "rotate.interval.ms");
    /* the English and C locales are accepted */
    const char *ok[] = {"en", "en_US", "en-GB", "C", "POSIX", ""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        sj_destroy(sj_ok((const char *const[]){"locale", ok[i], NULL}));
    /* the extractor spellings (case does not matter) */
    struct sj *s = sj_ok((const char *const[]){"timestamp.extractor", "recordfield", NULL});
    assert_int_equal(s->part.extractor, TIMEPART_TS_FIELD);
    sj_destroy(s);
    s = sj_ok((const char *const[]){"timestamp.extractor", "record_field", NULL});
    assert_int_equal(s->part.extractor, TIMEPART_TS_FIELD);
    sj_destroy(s);
    s = sj_ok(NULL);
    assert_int_equal(s->part.extractor, TIMEPART_TS_RECORD);
    sj_destroy(s);
    s = sj_ok((const char *const[]){"timestamp.extractor", "wallclock", NULL});
    assert_int_equal(s->part.extractor, TIMEPART_TS_WALLCLOCK);
    sj_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_hourly_pattern),
        cmocka_unit_test(test_format_quotes),
        cmocka_unit_test(test_format_names_en),
        cmocka_unit_test(test_format_calendar_edges),
        cmocka_unit_test(test_format_refused_letters),
        cmocka_unit_test(test_hourly_and_daily),
        cmocka_unit_test(test_duration_buckets),
        cmocka_unit_test(test_timezone_fixed),
        cmocka_unit_test(test_timezone_madrid_dst),
        cmocka_unit_test(test_timezone_sao_paulo),
        cmocka_unit_test(test_schedule_boundaries),
        cmocka_unit_test(test_default_and_field_partitioners),
        cmocka_unit_test(test_field_values_are_safe_segments),
        cmocka_unit_test(test_file_names),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_parse_iso),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
