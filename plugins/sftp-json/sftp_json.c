/*
 * sftp-json — JSON-lines files partitioned like Confluent's storage sinks (S3, SFTP), written to an
 * SFTP server (store_sftp.c) or a local directory (store_local.c), exactly once.
 *
 * Files and cycles. Records of one Kafka partition ("TP") go to one open file per encoded
 * partition (directory). Like Confluent's TopicPartitionWriter, a TP's files rotate together: when
 * the TP reached flush.size records, when its records span rotate.interval.ms (record time, or
 * that much wall time since its first record, checked at least every 50 ms even with no new
 * record), and at rotate.schedule.interval.ms boundaries. The core's periodic commits go through
 * `precommit` (ABI 1.2), which leaves files open and commits each partition up to the first record
 * still in one; `flush` (end of run, partitions revoked, in-process buffer full) rotates every TP,
 * because it may say OK only when every record put is in a file under its final name. Such a
 * rotation is a checkpoint of the TP.
 *
 * Exactly once. A checkpoint (1) completes every temporary file of the TP (`<final>.tmp`), (2)
 * records W, the offset after the TP's last record, as the name of a marker file
 * (`<topics.dir>/.sluice/<topic>/p<partition>-<W>`), (3) renames the temporary files to their final
 * names. Every record below W is then in a final file and none at or above it is. After a crash,
 * at the first record of a TP the sink lists its files: temporary files starting below W were
 * complete (a crash inside step 3) and are renamed; the others are removed; records below W are
 * skipped. This holds whatever the core committed (its commits may lag: they are periodic).
 *
 * Files. This one: configuration, the files being written, the sink's calls. checkpoint.c: file
 * and marker names, checkpoints, recovery. ../common/timepart.c: time zones, path.format and the
 * timestamp extractors, which Confluent's other storage sinks share.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <sluice/plugin.h>

#include "filemode.h"
#include "sftp_json.h"
#include "store.h"
#include "storepart.h"
#include "timepart.h"

/* ---------------------------------------------------------------------------------------------- */
/* Configuration */

static const char *const sj_compressions[] = {"none", "gzip", NULL};

static const struct sluice_config_field sj_config[] = {
    {.name = "sftp.host",
     .type = SLUICE_CFG_STRING,
     .description = "The SFTP server. Empty: unset. When both this and `directory` are "
                    "given, the server wins (with a warning).",
     .example = "sftp.example.com"},
    {.name = "sftp.port",
     .type = SLUICE_CFG_INT,
     .default_value = "22",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 65535,
     .description = "The SFTP server's port.",
     .example = "2222"},
    {.name = "sftp.username",
     .type = SLUICE_CFG_STRING,
     .description = "The user to log in as.",
     .example = "sammy"},
    {.name = "sftp.password",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "Password authentication.",
     .example = "${SFTP_PASSWORD}"},
    {.name = "sftp.private.key",
     .type = SLUICE_CFG_PATH,
     .description = "Private key authentication: the key file (OpenSSH or PEM).",
     .example = "/etc/sluice/id_ed25519"},
    {.name = "sftp.private.key.passphrase",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "The passphrase of `sftp.private.key`, if it has one.",
     .example = "${SFTP_KEY_PASSPHRASE}"},
    {.name = "sftp.working.dir",
     .type = SLUICE_CFG_STRING,
     .description = "The directory on the server every path is relative to (Confluent's "
                    "`sftp.working.dir`). Default: the login directory.",
     .example = "/upload"},
    {.name = "sftp.known.hosts",
     .type = SLUICE_CFG_PATH,
     .description = "An OpenSSH known_hosts file with the server's host key.",
     .example = "~/.ssh/known_hosts"},
    {.name = "sftp.host.key.sha256",
     .type = SLUICE_CFG_STRING,
     .description = "The server's host key as its base64 SHA-256 fingerprint (as `ssh-keygen -lf` "
                    "prints it, with or without `SHA256:`).",
     .example = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"},
    {.name = "sftp.host.key.check",
     .type = SLUICE_CFG_BOOL,
     .default_value = "true",
     .description = "Refuse a server whose host key is not in `sftp.known.hosts` nor equal to "
                    "`sftp.host.key.sha256`. `false` accepts any key (tests only).",
     .example = "true"},
    {.name = "sftp.connect.timeout.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "10s",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 3600000,
     .description = "The longest wait for a connection and login.",
     .example = "5s"},
    {.name = "sftp.timeout.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "30s",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 3600000,
     .description = "An operation that makes no progress for this long fails and is retried.",
     .example = "60s"},
    {.name = "directory",
     .type = SLUICE_CFG_PATH,
     .description = "Write to this local directory instead of an SFTP server (the same tree; "
                    "created if missing).",
     .example = "out"},
    {.name = "file.mode",
     .type = SLUICE_CFG_STRING,
     .default_value = "0644",
     .description = "The permissions (octal) of the files written; the directories sluice "
                    "creates get the same with `x` wherever `r` is (0640: directories 0750). The "
                    "owner must keep read and write. With `directory` they are applied exactly "
                    "(not reduced by the umask); over SFTP they are asked of the server when it "
                    "creates the file or directory, and the server's own umask may take bits "
                    "away (OpenSSH: `internal-sftp -u`).",
     .example = "0640"},
    STOREPART_CONFIG_FIELDS,
    {.name = "format.key.enable",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Write each line as `{\"key\":…,\"value\":…}` instead of the value alone.",
     .example = "true"},
    {.name = "format.headers.enable",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Write each line as `{…,\"value\":…,\"headers\":[{\"key\":…,\"value\":…}]}` "
                    "(header values as strings).",
     .example = "true"},
    {.name = "compression.type",
     .type = SLUICE_CFG_ENUM,
     .default_value = "none",
     .description = "`gzip` writes `.json.gz` files.",
     .example = "gzip",
     .enum_values = sj_compressions},
    {.name = "buffer.size",
     .type = SLUICE_CFG_SIZE,
     .default_value = "1MiB",
     .flags = SLUICE_CFG_RANGE,
     .min = 4096,
     .max = 1073741824.0,
     .description = "Bytes an open file holds in memory before they are appended to its "
                    "temporary file: memory is bounded by open files × this.",
     .example = "4MiB"},
    {.name = NULL},
};

/* ---------------------------------------------------------------------------------------------- */
/* Init */

static void sj_destroy(void *state);

static char *sj_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static sluice_err_t sj_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                            const sluice_config_t *cfg, void **state, char *errstr,
                            size_t errstr_size)
{
    struct sj *s = calloc(1, sizeof *s);
    sluice_err_t rc = SLUICE_ERR_CONFIG;
    if (!s)
        return SLUICE_ERR_NOMEM;
    s->h = h;
    s->ctx = ctx;
    const char *host = h->config_string(cfg, "sftp.host");
    const char *dir = h->config_string(cfg, "directory");
    /* An empty value counts as unset, and a server wins over a directory: one pipeline file
     * writes locally or to SFTP depending on the environment (sftp.host: ${SFTP_HOST:-}). */
    if (!(host && *host) && !(dir && *dir)) {
        snprintf(errstr, errstr_size,
                 "sftp.host / directory: give one of them (sftp.host: an SFTP server; "
                 "directory: a local directory)");
        goto fail;
    }
    if (host && *host && dir && *dir) {
        h->log(ctx, SLUICE_LOG_WARN, "sftp.host is set: writing to %s, not to directory %s", host,
               dir);
        dir = NULL;
    }
    s->topics_dir = sj_strdup(h->config_string(cfg, "topics.dir"));
    s->ddelim = sj_strdup(h->config_string(cfg, "directory.delim"));
    s->fdelim = sj_strdup(h->config_string(cfg, "file.delim"));
    s->line = h->buf_new(1024);
    if (!s->topics_dir || !s->ddelim || !s->fdelim || !s->line) {
        rc = SLUICE_ERR_NOMEM;
        goto fail;
    }
    if (!*s->ddelim || !*s->fdelim) {
        snprintf(errstr, errstr_size, "%s: must not be empty",
                 *s->ddelim ? "file.delim" : "directory.delim");
        goto fail;
    }
    s->pad = (int)h->config_int(cfg, "filename.offset.zero.pad.width");
    s->key_enable = h->config_bool(cfg, "format.key.enable");
    s->headers_enable = h->config_bool(cfg, "format.headers.enable");
    s->gzip = strcmp(h->config_string(cfg, "compression.type"), "gzip") == 0;
    s->buffer_size = (size_t)h->config_size(cfg, "buffer.size");
    if ((rc = storepart_init(&s->part, h, cfg, errstr, errstr_size)) != SLUICE_OK)
        goto fail;
    rc = SLUICE_ERR_CONFIG;

    if (host && *host) {
#ifdef SFTP_JSON_HAVE_SFTP
        struct store_sftp_config sc = {
            .host = host,
            .port = (int)h->config_int(cfg, "sftp.port"),
            .username = h->config_string(cfg, "sftp.username"),
            .password = h->config_string(cfg, "sftp.password"),
            .private_key = h->config_string(cfg, "sftp.private.key"),
            .passphrase = h->config_string(cfg, "sftp.private.key.passphrase"),
            .working_dir = h->config_string(cfg, "sftp.working.dir"),
            .known_hosts = h->config_string(cfg, "sftp.known.hosts"),
            .host_key_sha256 = h->config_string(cfg, "sftp.host.key.sha256"),
            .host_key_check = h->config_bool(cfg, "sftp.host.key.check"),
            .connect_timeout_ms = (long)h->config_duration_ms(cfg, "sftp.connect.timeout.ms"),
            .timeout_ms = (long)h->config_duration_ms(cfg, "sftp.timeout.ms"),
        };
        if (filemode_parse(h->config_string(cfg, "file.mode"), &sc.file_mode, errstr,
                           errstr_size) != 0)
            goto fail;
        s->store = store_sftp_new(&sc, h, ctx, errstr, errstr_size);
        if (!s->store)
            goto fail;
#else
        snprintf(errstr, errstr_size,
                 "sftp.host: this build of sftp-json has no SFTP support (store_sftp.c was not "
                 "built); use `directory` for a local directory");
        goto fail;
#endif
    } else {
        s->directory = strdup(dir); /* the local store is made by start: lint creates nothing */
        if (!s->directory) {
            rc = SLUICE_ERR_NOMEM;
            goto fail;
        }
        if (filemode_parse(h->config_string(cfg, "file.mode"), &s->file_mode, errstr,
                           errstr_size) != 0)
            goto fail;
    }
    *state = s;
    return SLUICE_OK;
fail:
    sj_destroy(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* Files */

void sj_file_free(struct sj *s, struct sj_file *f)
{
    if (!f)
        return;
    if (f->zon)
        deflateEnd(&f->z);
    s->h->buf_free(f->out);
    s->h->buf_free(f->raw);
    free(f->enc);
    free(f->final);
    free(f->tmp);
    free(f);
}

/* Append f->out to the temporary file; after a failed append, first learn how much landed. */
static sluice_err_t sj_spill(struct sj *s, struct sj_file *f, char *errstr, size_t errstr_size)
{
    size_t len = s->h->buf_len(f->out), skip = 0;
    if (len == 0)
        return SLUICE_OK;
    if (f->uncertain) {
        long long sz;
        sluice_err_t e = s->store->ops->size(s->store, f->tmp, &sz, errstr, errstr_size);
        if (e != SLUICE_OK)
            return e;
        if (sz < 0)
            sz = 0;
        if (sz < f->tmp_bytes || sz > f->tmp_bytes + (long long)len) {
            snprintf(errstr, errstr_size,
                     "%s: %lld bytes, expected %lld to %lld: changed by "
                     "someone else",
                     f->tmp, sz, f->tmp_bytes, f->tmp_bytes + (long long)len);
            return SLUICE_FATAL;
        }
        skip = (size_t)(sz - f->tmp_bytes);
        f->tmp_bytes = sz;
        f->uncertain = 0;
    }
    if (skip < len) {
        sluice_err_t e = s->store->ops->append(s->store, f->tmp, s->h->buf_data(f->out) + skip,
                                               len - skip, errstr, errstr_size);
        if (e != SLUICE_OK) {
            f->uncertain = 1;
            return e;
        }
    }
    f->tmp_bytes += (long long)(len - skip);
    s->h->buf_reset(f->out);
    return SLUICE_OK;
}

/* gzip: deflate f->raw into f->out. */
static sluice_err_t sj_deflate(struct sj *s, struct sj_file *f, int flush)
{
    return storepart_gzip(s->h, &f->z, f->raw, f->out, flush);
}

/* Everything of `f` into its temporary file. */
sluice_err_t sj_finish(struct sj *s, struct sj_file *f, char *errstr, size_t errstr_size)
{
    if (f->finished)
        return SLUICE_OK;
    if (f->zon && f->raw) {
        sluice_err_t e = sj_deflate(s, f, Z_FINISH);
        if (e != SLUICE_OK) {
            snprintf(errstr, errstr_size, "gzip of %s failed", f->final);
            return e;
        }
        deflateEnd(&f->z);
        f->zon = 0;
    }
    sluice_err_t e = sj_spill(s, f, errstr, errstr_size);
    if (e == SLUICE_OK)
        f->finished = 1;
    return e;
}

static struct sj_file *sj_file_open(struct sj *s, struct sj_part *pt, const char *enc, int64_t off)
{
    struct sj_file *f = calloc(1, sizeof *f);
    char dir[SJ_PATH_MAX], path[SJ_PATH_MAX];
    if (!f)
        return NULL;
    f->enc = strdup(enc);
    f->out = s->h->buf_new(s->gzip ? 64 * 1024 : 256 * 1024);
    if (!f->enc || !f->out || sj_topic_dir(s, pt->c.topic, 0, dir, sizeof dir) != 0)
        goto fail;
    int n = snprintf(path, sizeof path, "%s%s%s%s%s%s%" PRId32 "%s%0*" PRId64 "%s", dir, s->ddelim,
                     enc, s->ddelim, pt->c.topic, s->fdelim, pt->c.partition, s->fdelim, s->pad,
                     off, sj_ext(s));
    if (n < 0 || (size_t)n >= sizeof path - 8)
        goto fail;
    f->final = strdup(path);
    strcat(path, ".tmp");
    f->tmp = strdup(path);
    if (!f->final || !f->tmp)
        goto fail;
    /* sj_recover removed every temporary file of the TP, and names carry the first offset */
    if (s->store && s->store->ops->created)
        s->store->ops->created(s->store, f->tmp);
    if (s->gzip) {
        f->raw = s->h->buf_new(SJ_GZIP_STAGE + 4096);
        if (!f->raw || storepart_gzip_init(&f->z) != 0)
            goto fail;
        f->zon = 1;
    }
    f->next = pt->files;
    pt->files = f;
    return f;
fail:
    sj_file_free(s, f);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Sink */

static sluice_err_t sj_start(void *state, char *errstr, size_t errstr_size)
{
    struct sj *s = state;
    if (!s->store && s->directory) {
        s->store = store_local_new(s->directory, s->file_mode, errstr, errstr_size);
        if (!s->store)
            return SLUICE_FATAL;
    }
    /* Leftover temporary files are found per Kafka partition, at its first record (sj_recover):
     * only then does this task know which partitions are its own. */
    return SLUICE_OK;
}

static struct sj_part *sj_part_get(struct sj *s, const char *topic, int32_t partition)
{
    for (struct sj_part *p = s->parts; p; p = p->next)
        if (storepart_cycle_is(&p->c, topic, partition))
            return p;
    struct sj_part *p = calloc(1, sizeof *p);
    if (!p || storepart_cycle_init(&p->c, topic, partition) != 0) {
        free(p);
        return NULL;
    }
    p->w = -1;
    p->next = s->parts;
    s->parts = p;
    return p;
}

/* Why a new file of partition `enc` in `pt` would have a path no store takes (store.h), with
 * room for the reason in `why`; NULL when it is fine. An open file of `enc` was checked already. */
static const char *sj_path_refused(struct sj *s, const struct sj_part *pt, const char *enc,
                                   int64_t off, char *why, size_t why_size)
{
    for (const struct sj_file *f = pt->files; f; f = f->next)
        if (strcmp(f->enc, enc) == 0)
            return NULL;
    char dir[SJ_PATH_MAX], path[SJ_PATH_MAX];
    int n = -1;
    if (sj_topic_dir(s, pt->c.topic, 0, dir, sizeof dir) == 0)
        n = snprintf(path, sizeof path, "%s%s%s%s%s%s%" PRId32 "%s%0*" PRId64 "%s.tmp", dir,
                     s->ddelim, enc, s->ddelim, pt->c.topic, s->fdelim, pt->c.partition, s->fdelim,
                     s->pad, off, sj_ext(s));
    const char *bad =
        n < 0 || (size_t)n >= sizeof path ? "the path is too long" : store_path_unsafe(path);
    if (!bad)
        return NULL;
    snprintf(why, why_size, "the record's file cannot be written: %s (directory '%s')", bad, enc);
    return why;
}

static sluice_err_t sj_put(void *state, sluice_batch_t *batch, char *errstr, size_t errstr_size)
{
    struct sj *s = state;
    const struct sluice_host *h = s->h;
    sluice_buf_t *enc = h->buf_new(256);
    sluice_err_t e = SLUICE_OK;
    size_t skipped = 0;
    char reason[512];
    if (!enc)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0, n = h->batch_count(batch); i < n; i++) {
        sluice_record_t *rec = h->batch_get(batch, i);
        const char *topic = h->record_topic(rec);
        int32_t partition = h->record_partition(rec);
        int64_t off = h->record_offset(rec);
        const char *bad = store_path_unsafe(topic);
        if (bad) { /* a topic named ".." (a router transform's output): its directory cannot be */
            snprintf(reason, sizeof reason, "the topic '%.200s' cannot be a directory: %s", topic,
                     bad);
            h->record_fail(rec, reason);
            continue;
        }
        struct sj_part *pt = sj_part_get(s, topic, partition);
        if (!pt) {
            e = SLUICE_ERR_NOMEM;
            break;
        }
        if (!pt->recovered && (e = sj_recover(s, pt, errstr, errstr_size)) != SLUICE_OK)
            break;
        /* Below the marker: in a final file already (the core's commit lagged). At or below the
         * last record taken: this is the retry of a put that failed half-way. */
        if (off < pt->w || off < pt->c.next_off) {
            skipped += off < pt->w;
            continue;
        }
        const char *why = NULL;
        int64_t ts = 0;
        if (storepart_place(&s->part, h, rec, &ts, enc, &why) != 0) {
            h->record_fail(rec, why);
            continue;
        }
        if (sj_path_refused(s, pt, h->buf_data(enc), off, reason, sizeof reason)) {
            h->record_fail(rec, reason);
            continue;
        }
        h->buf_reset(s->line);
        if (storepart_json_line(s->h, rec, s->key_enable, s->headers_enable, s->line, &why) !=
            SLUICE_OK) {
            h->record_fail(rec, why);
            continue;
        }
        int64_t mono = h->monotonic_ms(), now = h->now_ms();
        if (storepart_due(&s->part, &pt->c, pt->files != NULL, ts, mono, now) &&
            (e = sj_checkpoint(s, pt, errstr, errstr_size)) != SLUICE_OK)
            break;
        struct sj_file *f = pt->files;
        while (f && strcmp(f->enc, h->buf_data(enc)) != 0)
            f = f->next;
        if (!f && !(f = sj_file_open(s, pt, h->buf_data(enc), off))) {
            snprintf(errstr, errstr_size,
                     "cannot open a file for %s (out of memory or a path "
                     "too long)",
                     h->buf_data(enc));
            e = SLUICE_FATAL;
            break;
        }
        sluice_buf_t *dst = f->zon ? f->raw : f->out;
        if (h->buf_append(dst, h->buf_data(s->line), h->buf_len(s->line)) != SLUICE_OK) {
            e = SLUICE_ERR_NOMEM;
            break;
        }
        int full = storepart_take(&s->part, &pt->c, off, ts, mono, now);
        if (f->zon && h->buf_len(f->raw) >= SJ_GZIP_STAGE &&
            (e = sj_deflate(s, f, Z_NO_FLUSH)) != SLUICE_OK)
            break;
        if (h->buf_len(f->out) >= s->buffer_size &&
            (e = sj_spill(s, f, errstr, errstr_size)) != SLUICE_OK)
            break;
        if (full && (e = sj_checkpoint(s, pt, errstr, errstr_size)) != SLUICE_OK)
            break;
    }
    h->buf_free(enc);
    if (skipped)
        h->counter_add(s->ctx, "records.skipped", (int64_t)skipped);
    if (e == SLUICE_NOT_CONNECTED)
        e = SLUICE_RETRY;
    return e;
}

static sluice_err_t sj_flush(void *state, char *errstr, size_t errstr_size)
{
    struct sj *s = state;
    for (struct sj_part *pt = s->parts; pt; pt = pt->next) {
        sluice_err_t e = sj_checkpoint(s, pt, errstr, errstr_size);
        if (e != SLUICE_OK)
            return e == SLUICE_NOT_CONNECTED ? SLUICE_RETRY : e;
    }
    return SLUICE_OK;
}

/* ABI 1.2: the core's periodic commit. Files stay open until they rotate (flush.size,
 * rotate.interval.ms, rotate.schedule.interval.ms); what is due is checkpointed now (called at
 * least every 50 ms while files are open, so rotate.interval.ms holds on an idle topic), and each
 * partition may be committed up to the first record still in an open file. */
static sluice_err_t sj_precommit(void *state, struct sluice_offset *offsets, size_t count,
                                 char *errstr, size_t errstr_size)
{
    struct sj *s = state;
    int64_t mono = s->h->monotonic_ms(), now = s->h->now_ms();
    for (struct sj_part *pt = s->parts; pt; pt = pt->next) {
        if (!storepart_idle_due(&s->part, &pt->c, pt->files != NULL, mono, now))
            continue;
        sluice_err_t e = sj_checkpoint(s, pt, errstr, errstr_size);
        if (e != SLUICE_OK)
            return e == SLUICE_NOT_CONNECTED ? SLUICE_RETRY : e;
    }
    for (struct sj_part *pt = s->parts; pt; pt = pt->next)
        storepart_cap(&pt->c, pt->c.partition, pt->files != NULL, offsets, count);
    return SLUICE_OK;
}

static void sj_stop(void *state)
{
    struct sj *s = state;
    if (s->store)
        s->store->ops->disconnect(s->store);
}

static void sj_destroy(void *state)
{
    struct sj *s = state;
    if (!s)
        return;
    while (s->parts) {
        struct sj_part *p = s->parts;
        s->parts = p->next;
        while (p->files) {
            struct sj_file *f = p->files;
            p->files = f->next;
            sj_file_free(s, f);
        }
        storepart_cycle_free(&p->c);
        free(p);
    }
    if (s->store)
        s->store->ops->free(s->store);
    free(s->directory);
    free(s->topics_dir);
    free(s->ddelim);
    free(s->fdelim);
    storepart_free(&s->part, s->h);
    if (s->line)
        s->h->buf_free(s->line);
    free(s);
}

static const struct sluice_sink sj_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = sj_config,
    .init = sj_init,
    .start = sj_start,
    .put = sj_put,
    .flush = sj_flush,
    .stop = sj_stop,
    .destroy = sj_destroy,
    .precommit = sj_precommit,
};

static const struct sluice_alias sj_aliases[] = {
    {.name = "io.confluent.connect.sftp.SftpSinkConnector"},
    {.name = "SftpSink"},
    {.name = NULL},
};

#define SJ_DESCRIPTION                                                                             \
    "Confluent's SFTP sink with JSON output, and what it lacks: host-key verification, a local "   \
    "directory as target, time rotation that closes idle files, exactly-once files after any "     \
    "crash.\n"                                                                                     \
    "\n"                                                                                           \
    "**Files.** Each record value becomes one line of JSON (Kafka Connect's JsonConverter "        \
    "payload, no envelope; Avro and JSON inputs alike, logical types as Connect writes them) in "  \
    "`<topics.dir>/<topic>/<partition dirs>/<topic>+<kafka partition>+<first offset>.json`, the "  \
    "offset zero-padded to `filename.offset.zero.pad.width` digits — the seed's "                \
    "`topics/orders/year=2023/month=01/day=08/hour=02/orders+0+0000046347.json`. A file is "       \
    "written as `<final name>.tmp` (its buffer appended whenever it fills `buffer.size`) and "     \
    "renamed to its final name when it rotates; a `.tmp` file is never complete. With "            \
    "`compression.type: gzip` the files are `.json.gz` (one gzip stream).\n"                       \
    "\n"                                                                                           \
    "**Rotation** works per Kafka partition, like Confluent's storage sinks: all open files of a " \
    "partition (one per directory) rotate together when it reached `flush.size` records, when "    \
    "its "                                                                                         \
    "records span `rotate.interval.ms` (record time, or that much wall time since the first: an "  \
    "idle file is closed within 50 ms of it), and at `rotate.schedule.interval.ms` boundaries "    \
    "of the wall clock. Like Confluent's sinks, sluice's keeps files open across the pipeline's "  \
    "commits (the sink's `precommit`, ABI 1.2): every `offset.flush.interval.ms`, and whenever "   \
    "it has caught up with its topic, the offsets of each partition are committed up to the "      \
    "first record still in an open file, so a slow stream still makes files of `flush.size` "      \
    "records. Only the end of a run, a partition revoked by Kafka, or an in-process topic whose "  \
    "buffer is full closes files early.\n"                                                         \
    "\n"                                                                                           \
    "**Exactly once, whatever the settings.** A rotation completes the temporary files, records "  \
    "the offset after the partition's last record as the name of a marker file "                   \
    "(`<topics.dir>/.sluice/<topic>/p<partition>-<offset>`), then renames the files. At the "      \
    "first "                                                                                       \
    "record of a partition after a start, the sink finishes the renames a crash interrupted, "     \
    "removes the other temporary files of that partition, and skips records below the marker. "    \
    "So after a kill at any moment the final files hold every record once, even when the "         \
    "pipeline's own commit lagged. Which file a record lands in is deterministic only with the "   \
    "`Record` or `RecordField` extractor and size or record-time rotation, and only while no "     \
    "stop cuts a file short: `Wallclock` and `rotate.schedule.interval.ms` depend on when the "    \
    "sink runs. Keep the `.sluice` directory: it is the sink's memory of what it wrote.\n"         \
    "\n"                                                                                           \
    "**Partitioners.** `default`: `partition=<kafka partition>`. `field`: "                        \
    "`<field>=<value>` per `partition.field.name` (`/` and control characters escaped as "         \
    "`%2F`…). "                                                                                  \
    "`hourly`, `daily`, `time-based` (`path.format`, `partition.duration.ms`): the bucket of the " \
    "record's time in `timezone`. `timestamp.extractor` defaults to `Record` rather than "         \
    "Confluent's `Wallclock`, so directories depend on the data only.\n"                           \
    "\n"                                                                                           \
    "**Target.** `sftp.host` (libcurl's SFTP: password or private key with passphrase, host key "  \
    "checked against `sftp.known.hosts` or `sftp.host.key.sha256`; one connection per task, "      \
    "reconnected with backoff) or `directory` (a local directory). An empty value counts as "      \
    "unset and a non-empty `sftp.host` wins (with a warning), so `sftp.host: ${SFTP_HOST:-}` "     \
    "next to `directory: out` writes locally unless SFTP_HOST is set.\n"                           \
    "\n"                                                                                           \
    "The seed's sink, to a local directory:\n"                                                     \
    "\n"                                                                                           \
    "```yaml\n"                                                                                    \
    "sinks:\n"                                                                                     \
    "  - id: files\n"                                                                              \
    "    plugin: sftp-json\n"                                                                      \
    "    config:\n"                                                                                \
    "      directory: out\n"                                                                       \
    "      partitioner.class: hourly\n"                                                            \
    "      flush.size: 1000\n"                                                                     \
    "```\n"                                                                                        \
    "\n"                                                                                           \
    "To an SFTP server, daily directories in Madrid time from a field of the value, gzip:\n"       \
    "\n"                                                                                           \
    "```yaml\n"                                                                                    \
    "sinks:\n"                                                                                     \
    "  - id: files\n"                                                                              \
    "    plugin: sftp-json\n"                                                                      \
    "    config:\n"                                                                                \
    "      sftp.host: sftp.example.com\n"                                                          \
    "      sftp.username: sammy\n"                                                                 \
    "      sftp.private.key: /etc/sluice/id_ed25519\n"                                             \
    "      sftp.known.hosts: /etc/sluice/known_hosts\n"                                            \
    "      sftp.working.dir: /upload\n"                                                            \
    "      partitioner.class: io.confluent.connect.storage.partitioner.DailyPartitioner\n"         \
    "      timezone: Europe/Madrid\n"                                                              \
    "      timestamp.extractor: RecordField\n"                                                     \
    "      timestamp.field: ordertime\n"                                                           \
    "      rotate.interval.ms: 600000\n"                                                           \
    "      compression.type: gzip\n"                                                               \
    "```\n"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "sftp-json",
    .version = "1.0.0",
    .summary = "JSON-lines files partitioned by hour, day or field, over SFTP or to a local "
               "directory, exactly once",
    .description = SJ_DESCRIPTION,
    .sink = &sj_sink,
    .aliases = sj_aliases,
};
