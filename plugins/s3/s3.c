/*
 * s3 — Confluent's S3 sink: objects partitioned like Confluent's storage sinks, in Amazon S3 or any
 * S3-compatible store, exactly once by deterministic names.
 *
 * Files and cycles, as sftp-json's (../sftp-json/sftp_json.c): records of one Kafka partition
 * ("TP") go to one open file per encoded partition (../common/storepart.c); a TP's files rotate
 * together at flush.size records, rotate.interval.ms, and rotate.schedule.interval.ms boundaries.
 * An open file is one growing buffer in memory (gzip: deflated as it grows); a rotation uploads
 * it: one PUT up to s3.part.size, a multipart upload above (aborted when it fails, so no part is
 * left billed). `precommit` leaves files open and commits each partition up to the first record
 * still in one; `flush` uploads everything.
 *
 * Exactly once. An object's key is fixed by topic, partition and first offset, and a partition's
 * offsets are committed only after its objects exist. After a crash the records after the last
 * commit come again and, with a deterministic partitioner and rotation, make the same objects,
 * which overwrite the ones already there (a PUT replaces an object atomically). Multipart uploads
 * a crash left incomplete are aborted at the first record of their partition.
 *
 * Keys and headers (store.kafka.keys / store.kafka.headers) are companion objects of the same
 * file, one line (or Avro record) per record in the value object's order; an upload stores them
 * first and the value object last, and the file counts as stored only after all three. Tombstones
 * (behavior.on.null.values) fail the pipeline, are skipped, or go to their own directory with
 * their keys and no value object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

/* ---------------------------------------------------------------------------------------------- */
/* Configuration */

static const char *const s3_compressions[] = {"none", "gzip", NULL};
static const char *const s3_avro_codecs[] = {"null", "deflate", NULL};
static const char *const s3_null_behaviors[] = {"fail", "ignore", "write", NULL};

static const struct sluice_config_field s3_config[] = {
    {.name = "s3.bucket.name",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The bucket the objects go to. It must exist: the sink does not create it.",
     .example = "my-bucket"},
    {.name = "s3.region",
     .type = SLUICE_CFG_STRING,
     .default_value = "us-east-1",
     .description = "The bucket's region (signs every request).",
     .example = "eu-west-1"},
    {.name = "store.url",
     .type = SLUICE_CFG_STRING,
     .description = "An S3-compatible endpoint (MinIO, Ceph, Cloudflare R2, Backblaze B2, "
                    "s3proxy...), `http://` or `https://`. Empty: AWS's endpoint of `s3.region`.",
     .example = "http://127.0.0.1:9000"},
    {.name = "s3.path.style.access.enabled",
     .type = SLUICE_CFG_STRING,
     .description = "Path-style URLs (`<store.url>/<bucket>/<key>`) instead of virtual-hosted "
                    "ones (`<bucket>.<host>/<key>`). Default: true with `store.url`, false on AWS.",
     .example = "true"},
    {.name = "aws.access.key.id",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "The access key. Unset: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
                    "AWS_SESSION_TOKEN from the environment, else the shared credentials file "
                    "(AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials; profile "
                    "`aws.profile`, AWS_PROFILE or `default`).",
     .example = "${AWS_ACCESS_KEY_ID}"},
    {.name = "aws.secret.access.key",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "The secret key of `aws.access.key.id`.",
     .example = "${AWS_SECRET_ACCESS_KEY}"},
    {.name = "aws.session.token",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "A session token of temporary credentials (with the two keys above).",
     .example = "${AWS_SESSION_TOKEN}"},
    {.name = "aws.profile",
     .type = SLUICE_CFG_STRING,
     .description = "The profile of the shared credentials file (default: AWS_PROFILE, else "
                    "`default`).",
     .example = "sluice"},
    {.name = "format.class",
     .type = SLUICE_CFG_STRING,
     .default_value = "json",
     .description = "`avro` (`io.confluent.connect.s3.format.avro.AvroFormat`: Avro object "
                    "container files of the records' Connect schema, `.avro`), "
                    "`json` (`io.confluent.connect.s3.format.json.JsonFormat`: JSON lines, the "
                    "same bytes as sftp-json's files, `.json`) or `bytes` "
                    "(`io.confluent.connect.s3.format.bytearray.ByteArrayFormat`: each value's "
                    "bytes as they are in the topic, then `format.bytearray.separator`, `.bin`).",
     .example = "io.confluent.connect.s3.format.json.JsonFormat"},
    {.name = "avro.codec",
     .type = SLUICE_CFG_ENUM,
     .default_value = "null",
     .description = "The compression of the blocks of `avro` objects (`deflate`, or `null`: "
                    "none).",
     .example = "deflate",
     .enum_values = s3_avro_codecs},
    {.name = "format.bytearray.extension",
     .type = SLUICE_CFG_STRING,
     .default_value = ".bin",
     .description = "The extension of `bytes` objects.",
     .example = ".bin"},
    {.name = "format.bytearray.separator",
     .type = SLUICE_CFG_STRING,
     .default_value = "\\n",
     .description = "Written after each value of `bytes` objects (`\\n` is a newline; empty: "
                    "nothing).",
     .example = "\\n"},
    {.name = "behavior.on.null.values",
     .type = SLUICE_CFG_ENUM,
     .default_value = "fail",
     .description = "What a tombstone (a record whose value is null) does, as Confluent's: "
                    "`fail` stops the pipeline with a message naming its topic, partition and "
                    "offset (nothing after the last commit is committed); `ignore` skips it (the "
                    "`records.null.ignored` counter); `write` (needs `store.kafka.keys: true`) "
                    "puts it in the directory `tombstone.encoded.partition`, in the keys object "
                    "(and headers object) only: no value object is made for tombstones.",
     .example = "ignore",
     .enum_values = s3_null_behaviors},
    {.name = "tombstone.encoded.partition",
     .type = SLUICE_CFG_STRING,
     .default_value = "tombstone",
     .description = "The directory (in place of the partitioner's) of the tombstones of "
                    "`behavior.on.null.values: write`.",
     .example = "tombstone"},
    {.name = "store.kafka.keys",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Write each record's key into a companion object beside the value object, "
                    "`<topic>+<partition>+<offset>.keys<ext>`, one key per record in the value "
                    "object's order. The three objects are one unit: the companions are stored "
                    "first, and the records are committed only when all are. A record without a "
                    "key fails (as Confluent's).",
     .example = "true"},
    {.name = "keys.format.class",
     .type = SLUICE_CFG_STRING,
     .default_value = "json",
     .description = "The format of the keys objects: `json` (`...format.json.JsonFormat`: one "
                    "JSON key a line, `.keys.json`), `bytes` (`...format.bytearray."
                    "ByteArrayFormat`: the key's bytes as they are in the topic, then "
                    "`format.bytearray.separator`, `.keys` + `format.bytearray.extension`) or "
                    "`avro` (`...format.avro.AvroFormat`: an Avro object container file of the "
                    "keys' schema, `.keys.avro`, `avro.codec`; a new schema rotates the objects; "
                    "a string or bytes key without a schema has its type's, a struct key needs "
                    "one). `parquet` is refused by name. The default is `json`, not Confluent's "
                    "Avro.",
     .example = "io.confluent.connect.s3.format.json.JsonFormat"},
    {.name = "store.kafka.headers",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Write each record's headers into a companion object beside the value "
                    "object, `<topic>+<partition>+<offset>.headers.json`, one line per record in "
                    "the value object's order: a JSON array of `{\"key\":..,\"value\":..}` "
                    "(the value as a string, null for a null header). A record without headers "
                    "is `[]` (Confluent's fails it).",
     .example = "true"},
    {.name = "headers.format.class",
     .type = SLUICE_CFG_STRING,
     .default_value = "json",
     .description = "The format of the headers objects: `json` only "
                    "(`io.confluent.connect.s3.format.json.JsonFormat`); `avro`, `bytes` and "
                    "`parquet` are refused by name.",
     .example = "io.confluent.connect.s3.format.json.JsonFormat"},
    STOREPART_CONFIG_FIELDS,
    {.name = "s3.part.size",
     .type = SLUICE_CFG_SIZE,
     .default_value = "25MiB",
     .flags = SLUICE_CFG_RANGE,
     .min = 5242880.0,
     .max = 2147483647.0,
     .description = "An object larger than this is uploaded in parts of this size (a multipart "
                    "upload); S3's smallest part is 5 MiB.",
     .example = "25MiB"},
    {.name = "s3.upload.concurrency",
     .type = SLUICE_CFG_INT,
     .default_value = "4",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = S3_UPLOADERS_MAX,
     .description = "A sluice extension: objects uploaded at the same time, each by its own "
                    "thread and connection, while the next objects fill. Offsets are committed "
                    "only up to the first record of the oldest object not yet stored.",
     .example = "4"},
    {.name = "s3.upload.buffer.bytes",
     .type = SLUICE_CFG_SIZE,
     .default_value = "8MiB",
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 2147483647.0,
     .description = "A sluice extension: the most bytes of rotated objects kept in memory while "
                    "they upload; above it the sink waits for them before filling the next (an "
                    "object larger than this is uploaded while the sink waits, as with "
                    "`s3.upload.concurrency: 1`).",
     .example = "32MiB"},
    {.name = "s3.compression.type",
     .type = SLUICE_CFG_ENUM,
     .default_value = "none",
     .description = "`gzip`: objects are one gzip stream, `.json.gz` / `.bin.gz`.",
     .example = "gzip",
     .enum_values = s3_compressions},
    {.name = "s3.sse",
     .type = SLUICE_CFG_STRING,
     .description = "Server-side encryption: `AES256` (S3's keys) or `aws:kms` (with "
                    "`s3.sse.kms.key.id`). Empty: the bucket's default.",
     .example = "AES256"},
    {.name = "s3.sse.kms.key.id",
     .type = SLUICE_CFG_STRING,
     .description = "The KMS key of `s3.sse: aws:kms` (empty: the account's S3 key).",
     .example = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    {.name = "s3.acl.canned",
     .type = SLUICE_CFG_STRING,
     .description = "A canned ACL for each object (`private`, `bucket-owner-full-control`, "
                    "...). Empty: none sent.",
     .example = "bucket-owner-full-control"},
    {.name = "s3.part.retries",
     .type = SLUICE_CFG_INT,
     .default_value = "3",
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 100,
     .description = "Retries of a request that failed for a passing reason (5xx, SlowDown, a "
                    "lost connection) before the pipeline's own retry takes over (it backs off "
                    "and tries again until the store answers: records wait, nothing is lost).",
     .example = "3"},
    {.name = "s3.retry.backoff.ms",
     .type = SLUICE_CFG_INT,
     .default_value = "200",
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 60000,
     .description = "The first wait between those retries, doubled each time.",
     .example = "200"},
    {.name = "s3.timeout.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "30s",
     .flags = SLUICE_CFG_RANGE,
     .min = 1000,
     .max = 3600000,
     .description = "A request that moves less than 1 KiB/s for this long is given up and "
                    "retried.",
     .example = "60s"},
    {.name = NULL},
};

/* ---------------------------------------------------------------------------------------------- */
/* Names */

static const char *s3_ext(const struct s3 *s)
{
    if (s->format == S3_FMT_BYTES)
        return s->gzip ? NULL : s->bytes_ext;
    if (s->format == S3_FMT_AVRO)
        return ".avro";
    return s->gzip ? ".json.gz" : ".json";
}

int s3_object_key(const struct s3 *s, const char *topic, int32_t partition, const char *enc,
                  int64_t off, char *out, size_t size)
{
    const char *ext = s3_ext(s);
    int n = snprintf(out, size, "%s%s%s%s%s%s%s%s%" PRId32 "%s%0*" PRId64 "%s%s", s->topics_dir,
                     *s->topics_dir ? s->ddelim : "", topic, s->ddelim, enc, s->ddelim, topic,
                     s->fdelim, partition, s->fdelim, s->pad, off, ext ? ext : s->bytes_ext,
                     ext ? "" : ".gz");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Init */

static void s3_destroy(void *state);

static char *s3_strdup(const char *v)
{
    return strdup(v ? v : "");
}

/* "\n", "\t", "\r", "\\" in format.bytearray.separator */
static char *s3_unescape(const char *v)
{
    char *out = malloc(strlen(v) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *v; v++) {
        if (*v == '\\' && v[1]) {
            v++;
            *o++ = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v == 'r' ? '\r' : *v;
        } else {
            *o++ = *v;
        }
    }
    *o = '\0';
    return out;
}

static sluice_err_t s3_init(const struct sluice_host *h, sluice_ctx_t *ctx,
                            const sluice_config_t *cfg, void **state, char *errstr,
                            size_t errstr_size)
{
    struct s3 *s = calloc(1, sizeof *s);
    sluice_err_t rc = SLUICE_ERR_CONFIG;
    if (!s)
        return SLUICE_ERR_NOMEM;
    s->h = h;
    s->ctx = ctx;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return SLUICE_ERR_NOMEM;
    }
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    s->locks = 1;
    s->jobs_tail = &s->jobs;
    s->http.h = h;
    s->http.ctx = ctx;
    s->topics_dir = s3_strdup(h->config_string(cfg, "topics.dir"));
    s->ddelim = s3_strdup(h->config_string(cfg, "directory.delim"));
    s->fdelim = s3_strdup(h->config_string(cfg, "file.delim"));
    s->bytes_ext = s3_strdup(h->config_string(cfg, "format.bytearray.extension"));
    const char *sep = h->config_string(cfg, "format.bytearray.separator");
    s->bytes_sep = s3_unescape(sep ? sep : "");
    s->line = h->buf_new(1024);
    s->enc = h->buf_new(256);
    s->scratch = h->buf_new(256);
    s->kline = h->buf_new(256);
    s->hline = h->buf_new(256);
    if (!s->topics_dir || !s->ddelim || !s->fdelim || !s->bytes_ext || !s->bytes_sep || !s->line ||
        !s->enc || !s->scratch || !s->kline || !s->hline) {
        rc = SLUICE_ERR_NOMEM;
        goto fail;
    }
    if (!*s->ddelim || !*s->fdelim) {
        snprintf(errstr, errstr_size, "%s: must not be empty",
                 *s->ddelim ? "file.delim" : "directory.delim");
        goto fail;
    }
    s->pad = (int)h->config_int(cfg, "filename.offset.zero.pad.width");
    s->gzip = strcmp(h->config_string(cfg, "s3.compression.type"), "gzip") == 0;
    s->part_size = (size_t)h->config_size(cfg, "s3.part.size");
    s->retries = (int)h->config_int(cfg, "s3.part.retries");
    s->backoff_ms = h->config_int(cfg, "s3.retry.backoff.ms");
    s->concurrency = (int)h->config_int(cfg, "s3.upload.concurrency");
    s->buffer_max = (size_t)h->config_size(cfg, "s3.upload.buffer.bytes");
    if ((rc = storepart_init(&s->part, h, cfg, errstr, errstr_size)) != SLUICE_OK)
        goto fail;
    rc = SLUICE_ERR_CONFIG;

    const char *fc = h->config_string(cfg, "format.class");
    const char *tail = strrchr(fc, '.');
    tail = tail ? tail + 1 : fc;
    if (strcasecmp(fc, "json") == 0 || strcmp(tail, "JsonFormat") == 0)
        s->format = S3_FMT_JSON;
    else if (strcasecmp(fc, "bytes") == 0 || strcmp(tail, "ByteArrayFormat") == 0)
        s->format = S3_FMT_BYTES;
    else if (strcasecmp(fc, "avro") == 0 || strcmp(tail, "AvroFormat") == 0)
        s->format = S3_FMT_AVRO;
    else {
        snprintf(errstr, errstr_size,
                 "format.class: '%s' is not supported (json / "
                 "io.confluent.connect.s3.format.json.JsonFormat, bytes / "
                 "io.confluent.connect.s3.format.bytearray.ByteArrayFormat, avro / "
                 "io.confluent.connect.s3.format.avro.AvroFormat)",
                 fc);
        goto fail;
    }

    const char *nb = h->config_string(cfg, "behavior.on.null.values");
    s->nulls = strcmp(nb, "ignore") == 0  ? S3_NULL_IGNORE
               : strcmp(nb, "write") == 0 ? S3_NULL_WRITE
                                          : S3_NULL_FAIL;
    s->tombstone_enc = s3_strdup(h->config_string(cfg, "tombstone.encoded.partition"));
    s->store_keys = h->config_bool(cfg, "store.kafka.keys");
    s->store_headers = h->config_bool(cfg, "store.kafka.headers");
    if (!s->tombstone_enc) {
        rc = SLUICE_ERR_NOMEM;
        goto fail;
    }
    if (s->nulls == S3_NULL_WRITE && !s->store_keys) {
        snprintf(errstr, errstr_size,
                 "behavior.on.null.values: write needs store.kafka.keys: true (a tombstone is "
                 "written into the keys object only)");
        goto fail;
    }
    if (s->nulls == S3_NULL_WRITE && !*s->tombstone_enc) {
        snprintf(errstr, errstr_size, "tombstone.encoded.partition: must not be empty");
        goto fail;
    }
    const char *kf = h->config_string(cfg, "keys.format.class");
    const char *ktail = strrchr(kf, '.');
    ktail = ktail ? ktail + 1 : kf;
    if (strcasecmp(kf, "json") == 0 || strcmp(ktail, "JsonFormat") == 0)
        s->kfmt = S3_FMT_JSON;
    else if (strcasecmp(kf, "bytes") == 0 || strcmp(ktail, "ByteArrayFormat") == 0)
        s->kfmt = S3_FMT_BYTES;
    else if (strcasecmp(kf, "avro") == 0 || strcmp(ktail, "AvroFormat") == 0)
        s->kfmt = S3_FMT_AVRO;
    else {
        snprintf(errstr, errstr_size,
                 "keys.format.class: '%s' is not supported (json / "
                 "io.confluent.connect.s3.format.json.JsonFormat, bytes / "
                 "io.confluent.connect.s3.format.bytearray.ByteArrayFormat, avro / "
                 "io.confluent.connect.s3.format.avro.AvroFormat; Parquet keys objects are not "
                 "written)",
                 kf);
        goto fail;
    }
    const char *hf = h->config_string(cfg, "headers.format.class");
    const char *htail = strrchr(hf, '.');
    htail = htail ? htail + 1 : hf;
    if (strcasecmp(hf, "json") != 0 && strcmp(htail, "JsonFormat") != 0) {
        snprintf(errstr, errstr_size,
                 "headers.format.class: '%s' is not supported (json / "
                 "io.confluent.connect.s3.format.json.JsonFormat only; Avro, bytes and Parquet "
                 "headers objects are not written)",
                 hf);
        goto fail;
    }
    if ((s->store_keys || s->store_headers) && s->gzip) {
        snprintf(errstr, errstr_size,
                 "%s: not supported with s3.compression.type: gzip (the keys and headers "
                 "objects are not compressed)",
                 s->store_keys ? "store.kafka.keys" : "store.kafka.headers");
        goto fail;
    }

    struct s3_http *x = &s->http;
    const char *bucket = h->config_string(cfg, "s3.bucket.name");
    const char *region = h->config_string(cfg, "s3.region");
    const char *url = h->config_string(cfg, "store.url");
    if (!bucket || !*bucket) {
        snprintf(errstr, errstr_size, "s3.bucket.name: must not be empty");
        goto fail;
    }
    if (!region || !*region) {
        snprintf(errstr, errstr_size, "s3.region: must not be empty");
        goto fail;
    }
    x->bucket = strdup(bucket);
    x->region = strdup(region);
    if (url && *url) {
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            snprintf(errstr, errstr_size, "store.url: '%s' must start with http:// or https://",
                     url);
            goto fail;
        }
        x->endpoint = strdup(url);
    } else {
        char ep[256];
        snprintf(ep, sizeof ep, "https://s3.%s.amazonaws.com", region);
        x->endpoint = strdup(ep);
    }
    if (!x->bucket || !x->region || !x->endpoint) {
        rc = SLUICE_ERR_NOMEM;
        goto fail;
    }
    size_t el = strlen(x->endpoint);
    while (el && x->endpoint[el - 1] == '/')
        x->endpoint[--el] = '\0';
    const char *ps = h->config_string(cfg, "s3.path.style.access.enabled");
    if (!ps || !*ps)
        x->path_style = url && *url;
    else if (strcasecmp(ps, "true") == 0)
        x->path_style = 1;
    else if (strcasecmp(ps, "false") == 0)
        x->path_style = 0;
    else {
        snprintf(errstr, errstr_size, "s3.path.style.access.enabled: '%s' is not true or false",
                 ps);
        goto fail;
    }
    const char *sse = h->config_string(cfg, "s3.sse");
    if (sse && *sse && strcmp(sse, "AES256") != 0 && strcmp(sse, "aws:kms") != 0) {
        snprintf(errstr, errstr_size, "s3.sse: '%s' is not AES256 or aws:kms", sse);
        goto fail;
    }
    x->sse = s3_strdup(sse);
    x->sse_kms_key = s3_strdup(h->config_string(cfg, "s3.sse.kms.key.id"));
    x->acl = s3_strdup(h->config_string(cfg, "s3.acl.canned"));
    x->timeout_ms = (long)h->config_duration_ms(cfg, "s3.timeout.ms");
    if (*x->sse_kms_key && strcmp(x->sse, "aws:kms") != 0) {
        snprintf(errstr, errstr_size, "s3.sse.kms.key.id: needs s3.sse: aws:kms");
        goto fail;
    }
    s->avro_codec =
        strcmp(h->config_string(cfg, "avro.codec"), "deflate") == 0 ? "deflate" : "null";
    if (s->format == S3_FMT_AVRO && s->gzip) {
        snprintf(errstr, errstr_size,
                 "s3.compression.type: gzip does not apply to Avro objects; use avro.codec: "
                 "deflate");
        goto fail;
    }
    if (s3_cred_load(&x->cred, h->config_string(cfg, "aws.access.key.id"),
                     h->config_string(cfg, "aws.secret.access.key"),
                     h->config_string(cfg, "aws.session.token"),
                     h->config_string(cfg, "aws.profile"), errstr, errstr_size) != 0)
        goto fail;
    if (s3_http_init(x, errstr, errstr_size) != 0)
        goto fail;
    *state = s;
    return SLUICE_OK;
fail:
    s3_destroy(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* Files */

static void s3_file_free(struct s3 *s, struct s3_file *f)
{
    if (!f)
        return;
    if (f->zon)
        deflateEnd(&f->z);
    if (f->body)
        s->h->buf_free(f->body);
    if (f->raw)
        s->h->buf_free(f->raw);
    s3_avro_free(&f->avro);
    s3_avro_free(&f->kavro);
    if (f->kbody)
        s->h->buf_free(f->kbody);
    if (f->hbody)
        s->h->buf_free(f->hbody);
    free(f->kkey);
    free(f->hkey);
    free(f->enc);
    free(f->key);
    free(f);
}

static struct s3_file *s3_file_open(struct s3 *s, struct s3_part *pt, const char *enc, int64_t off)
{
    struct s3_file *f = calloc(1, sizeof *f);
    char key[S3_KEY_MAX + 1];
    if (!f)
        return NULL;
    f->enc = strdup(enc);
    f->body = s->h->buf_new(64 * 1024);
    if (!f->enc || !f->body ||
        s3_object_key(s, pt->c.topic, pt->c.partition, enc, off, key, sizeof key) != 0 ||
        !(f->key = strdup(key)))
        goto fail;
    /* the companions' keys: the value object's, its extension replaced (gzip is refused with
     * them, so the key ends in s3_ext) */
    size_t stem = strlen(key) - strlen(s3_ext(s));
    if (s->store_keys) {
        const char *kext = s->kfmt == S3_FMT_BYTES  ? s->bytes_ext
                           : s->kfmt == S3_FMT_AVRO ? ".avro"
                                                    : ".json";
        if (snprintf(key + stem, sizeof key - stem, ".keys%s", kext) >= (int)(sizeof key - stem) ||
            !(f->kkey = strdup(key)) || !(f->kbody = s->h->buf_new(16 * 1024)))
            goto fail;
    }
    if (s->store_headers) {
        if (snprintf(key + stem, sizeof key - stem, ".headers.json") >= (int)(sizeof key - stem) ||
            !(f->hkey = strdup(key)) || !(f->hbody = s->h->buf_new(16 * 1024)))
            goto fail;
    }
    if (s->gzip) {
        f->raw = s->h->buf_new(S3_GZIP_STAGE + 4096);
        if (!f->raw || storepart_gzip_init(&f->z) != 0)
            goto fail;
        f->zon = 1;
    }
    f->next = pt->files;
    pt->files = f;
    return f;
fail:
    s3_file_free(s, f);
    return NULL;
}

/* A file left without a record (its first record failed) is dropped: nothing to upload. */
static void s3_file_drop_empty(struct s3 *s, struct s3_part *pt, struct s3_file *f)
{
    const struct sluice_host *h = s->h;
    if (f->values || f->kavro.records || (f->kbody && h->buf_len(f->kbody)) ||
        (f->hbody && h->buf_len(f->hbody)))
        return;
    for (struct s3_file **pp = &pt->files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            s3_file_free(s, f);
            return;
        }
}

static void s3_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A request on connection `x` with the plugin's bounded retries of passing failures. */
static sluice_err_t s3_call(struct s3 *s, struct s3_http *x, const char *method, const char *key,
                            const char *query, const void *body, size_t len, int object,
                            char *errstr, size_t errstr_size)
{
    int64_t wait = s->backoff_ms;
    for (int attempt = 0;; attempt++) {
        sluice_err_t e = s3_request(x, method, key, query, body, len, object, errstr, errstr_size);
        if (e != SLUICE_RETRY || attempt >= s->retries)
            return e;
        /* the uploaders share the task's log limits */
        pthread_mutex_lock(&s->mu);
        s->h->log_limited(s->ctx, SLUICE_LOG_WARN, "s3.retry", 6, "%s; retrying in %lld ms", errstr,
                          (long long)wait);
        pthread_mutex_unlock(&s->mu);
        s3_sleep_ms(wait);
        wait = wait * 2 > 30000 ? 30000 : wait * 2;
    }
}

/* A multipart upload of `data`: parts of s3.part.size, completed, or aborted on failure. */
static sluice_err_t s3_multipart(struct s3 *s, struct s3_http *x, const char *key, const char *data,
                                 size_t len, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    char upload[512], query[1024];
    sluice_err_t e = s3_call(s, x, "POST", key, "uploads=", NULL, 0, 1, errstr, errstr_size);
    if (e != SLUICE_OK)
        return e;
    if (s3_xml_get(h->buf_data(x->resp), "UploadId", upload, sizeof upload) != 0) {
        snprintf(errstr, errstr_size, "s3: POST %s?uploads: no UploadId in the answer", key);
        return SLUICE_RETRY;
    }
    sluice_buf_t *enc = h->buf_new(256), *done = h->buf_new(4096);
    if (!enc || !done) {
        e = SLUICE_ERR_NOMEM;
        goto abort;
    }
    s3_uri_encode(h, enc, upload, 1);
    h->buf_append(done, "<CompleteMultipartUpload>", 25);
    size_t nparts = (len + s->part_size - 1) / s->part_size;
    for (size_t i = 0; i < nparts; i++) {
        size_t at = i * s->part_size, n = len - at < s->part_size ? len - at : s->part_size;
        snprintf(query, sizeof query, "partNumber=%zu&uploadId=%s", i + 1, h->buf_data(enc));
        e = s3_call(s, x, "PUT", key, query, data + at, n, 0, errstr, errstr_size);
        if (e != SLUICE_OK)
            goto abort;
        h->buf_printf(done, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                      x->etag);
    }
    h->buf_append(done, "</CompleteMultipartUpload>", 26);
    if (h->buf_error(done) != SLUICE_OK) {
        e = SLUICE_ERR_NOMEM;
        goto abort;
    }
    snprintf(query, sizeof query, "uploadId=%s", h->buf_data(enc));
    e = s3_call(s, x, "POST", key, query, h->buf_data(done), h->buf_len(done), 0, errstr,
                errstr_size);
    if (e != SLUICE_OK)
        goto abort;
    h->buf_free(enc);
    h->buf_free(done);
    h->counter_add(s->ctx, "s3.multipart.uploads", 1);
    return SLUICE_OK;
abort:
    /* no part left billed; a failed abort is left to the next start's clean-up */
    if (enc) {
        char msg[256];
        snprintf(query, sizeof query, "uploadId=%s", h->buf_data(enc));
        s3_request(x, "DELETE", key, query, NULL, 0, 0, msg, sizeof msg);
    }
    if (enc)
        h->buf_free(enc);
    if (done)
        h->buf_free(done);
    return e;
}

/* Completes `f` (the gzip trailer, the last Avro block): its bytes are f->data, f->len. */
static sluice_err_t s3_finish(struct s3 *s, struct s3_file *f, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    if (f->finished)
        return SLUICE_OK;
    if (f->zon) {
        sluice_err_t e = storepart_gzip(h, &f->z, f->raw, f->body, Z_FINISH);
        if (e != SLUICE_OK) {
            snprintf(errstr, errstr_size, "s3: gzip of %s failed", f->key);
            return e;
        }
        deflateEnd(&f->z);
        f->zon = 0;
    }
    f->data = h->buf_data(f->body);
    f->len = h->buf_len(f->body);
    if (f->kavro.valued && s3_avro_finish(&f->kavro) != 0) {
        snprintf(errstr, errstr_size, "s3: the Avro file %s cannot be finished", f->kkey);
        return SLUICE_FATAL;
    }
    f->clen = (f->kavro.valued ? f->kavro.memlen
               : f->kbody      ? h->buf_len(f->kbody)
                               : 0) +
              (f->hbody ? h->buf_len(f->hbody) : 0);
    if (s->format == S3_FMT_AVRO && f->values) {
        if (s3_avro_finish(&f->avro) != 0) {
            snprintf(errstr, errstr_size, "s3: the Avro file %s cannot be finished", f->key);
            return SLUICE_FATAL;
        }
        f->data = f->avro.mem;
        f->len = f->avro.memlen;
    }
    f->finished = 1;
    return SLUICE_OK;
}

/* One object: a PUT, or a multipart upload above s3.part.size. */
static sluice_err_t s3_send_one(struct s3 *s, struct s3_http *x, const char *key, const char *data,
                                size_t len, char *errstr, size_t errstr_size)
{
    sluice_err_t e = len > s->part_size
                         ? s3_multipart(s, x, key, data, len, errstr, errstr_size)
                         : s3_call(s, x, "PUT", key, NULL, data, len, 1, errstr, errstr_size);
    if (e == SLUICE_OK) {
        s->h->counter_add(s->ctx, "files.written", 1);
        s->h->counter_add(s->ctx, "bytes.written", (int64_t)len);
    }
    return e;
}

/* Makes the finished `f` objects, on connection `x` (an uploader's thread): the keys and headers
 * objects first, the value object last, so that a value object never stands without its
 * companions; the file counts as stored (and its records as committable) only after all. A
 * directory of tombstones only has no value object. A retry writes all again (same keys, same
 * bytes). */
static sluice_err_t s3_send(struct s3 *s, struct s3_http *x, struct s3_file *f, char *errstr,
                            size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    sluice_err_t e = SLUICE_OK;
    if (f->kkey && f->kavro.valued)
        e = s3_send_one(s, x, f->kkey, f->kavro.mem, f->kavro.memlen, errstr, errstr_size);
    else if (f->kkey)
        e = s3_send_one(s, x, f->kkey, h->buf_data(f->kbody), h->buf_len(f->kbody), errstr,
                        errstr_size);
    if (e == SLUICE_OK && f->hkey)
        e = s3_send_one(s, x, f->hkey, h->buf_data(f->hbody), h->buf_len(f->hbody), errstr,
                        errstr_size);
    if (e == SLUICE_OK && f->values)
        e = s3_send_one(s, x, f->key, f->data, f->len, errstr, errstr_size);
    return e;
}

/* ---------------------------------------------------------------------------------------------- */
/* Uploads in flight */

/* An uploader: takes the oldest queued file, uploads it, marks it done or failed. */
static void *s3_uploader_run(void *arg)
{
    struct s3_uploader *u = arg;
    struct s3 *s = u->s;
    char err[512];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct s3_file *f = NULL;
        while (!s->quit) {
            for (f = s->jobs; f && f->state != S3_JOB_QUEUED; f = f->next)
                ;
            if (f)
                break;
            pthread_cond_wait(&s->work, &s->mu);
        }
        if (s->quit) /* the ones not started stay uncommitted: the records come again */
            break;
        f->state = S3_JOB_RUNNING;
        pthread_mutex_unlock(&s->mu);
        err[0] = '\0';
        sluice_err_t e = s3_send(s, &u->http, f, err, sizeof err);
        /* a stored Avro object's bytes go back now, not at the next rotation's reap: otherwise
         * two whole objects are held while the next one fills (f->len stays for the accounting) */
        if (e == SLUICE_OK && s->format == S3_FMT_AVRO) {
            s3_avro_release(&f->avro);
            f->data = NULL;
        }
        if (e == SLUICE_OK)
            s3_avro_release(&f->kavro);
        pthread_mutex_lock(&s->mu);
        f->state = e == SLUICE_OK ? S3_JOB_DONE : S3_JOB_FAILED;
        f->err = e;
        snprintf(f->errstr, sizeof f->errstr, "%s", err);
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The uploaders, at the first upload (lint and config checks start none). */
static sluice_err_t s3_uploaders_start(struct s3 *s, char *errstr, size_t errstr_size)
{
    struct s3_uploader *u = NULL;
    while (s->nup < s->concurrency) {
        u = &s->up[s->nup];
        u->s = s;
        u->http = s->http; /* the endpoint and credentials, shared (read only) */
        u->http.c = NULL;
        u->http.url = u->http.resp = NULL;
        if (s3_http_init(&u->http, errstr, errstr_size) != 0)
            goto fail;
        if (pthread_create(&u->t, NULL, s3_uploader_run, u) != 0) {
            snprintf(errstr, errstr_size, "s3: cannot start an upload thread");
            goto fail;
        }
        s->nup++;
    }
    return SLUICE_OK;
fail:
    if (u->http.c)
        curl_easy_cleanup(u->http.c);
    if (u->http.url)
        s->h->buf_free(u->http.url);
    if (u->http.resp)
        s->h->buf_free(u->http.resp);
    return s->nup ? SLUICE_OK : SLUICE_ERR_NOMEM;
}

/* With s->mu held: drops the uploaded files; the first failure's error (the file stays, failed,
 * until s3_requeue). */
static sluice_err_t s3_reap(struct s3 *s, char *errstr, size_t errstr_size)
{
    sluice_err_t e = SLUICE_OK;
    struct s3_file **pp = &s->jobs;
    while (*pp) {
        struct s3_file *f = *pp;
        if (f->state == S3_JOB_DONE) {
            *pp = f->next;
            s->nout--;
            s->bytes_out -= f->len + f->clen;
            s3_file_free(s, f);
            continue;
        }
        if (f->state == S3_JOB_FAILED && e == SLUICE_OK) {
            e = f->err;
            snprintf(errstr, errstr_size, "%s", f->errstr);
        }
        pp = &f->next;
    }
    s->jobs_tail = pp;
    return e;
}

/* Failed uploads are tried again (the pipeline's retry after its backoff). */
static void s3_requeue(struct s3 *s)
{
    pthread_mutex_lock(&s->mu);
    int any = 0;
    for (struct s3_file *f = s->jobs; f; f = f->next)
        if (f->state == S3_JOB_FAILED) {
            f->state = S3_JOB_QUEUED;
            any = 1;
        }
    if (any)
        pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
}

/* Waits (s->mu held) until at most `n` uploads of at most `bytes` are in flight; a failure ends
 * the wait with its error. */
static sluice_err_t s3_wait_below(struct s3 *s, int n, size_t bytes, char *errstr,
                                  size_t errstr_size)
{
    for (;;) {
        sluice_err_t e = s3_reap(s, errstr, errstr_size);
        if (e != SLUICE_OK)
            return e;
        if (s->nout <= n && s->bytes_out <= bytes)
            return SLUICE_OK;
        pthread_cond_wait(&s->done, &s->mu);
    }
}

/* Hands every open file of `pt` to the uploaders; its records are committed once they are all
 * stored. A failure keeps the files not yet handed over (and the rotation owed), to be tried
 * again first. */
static sluice_err_t s3_rotate(struct s3 *s, struct s3_part *pt, char *errstr, size_t errstr_size)
{
    sluice_err_t e;
    pt->due = 1;
    if (!s->nup && (e = s3_uploaders_start(s, errstr, errstr_size)) != SLUICE_OK)
        return e;
    while (pt->files) {
        struct s3_file *f = pt->files;
        if ((e = s3_finish(s, f, errstr, errstr_size)) != SLUICE_OK)
            return e;
        pthread_mutex_lock(&s->mu);
        e = s3_wait_below(s, s->concurrency - 1, SIZE_MAX, errstr, errstr_size);
        if (e == SLUICE_OK) {
            pt->files = f->next;
            f->next = NULL;
            f->partition = pt->c.partition;
            f->cycle_off = pt->c.first_off;
            f->state = S3_JOB_QUEUED;
            *s->jobs_tail = f;
            s->jobs_tail = &f->next;
            s->nout++;
            s->bytes_out += f->len + f->clen;
            pthread_cond_signal(&s->work);
        }
        pthread_mutex_unlock(&s->mu);
        if (e != SLUICE_OK)
            return e;
    }
    pt->due = 0;
    pt->c.count = 0;
    /* memory: the objects uploading past s3.upload.buffer.bytes are waited for now */
    pthread_mutex_lock(&s->mu);
    e = s3_wait_below(s, s->concurrency, s->buffer_max, errstr, errstr_size);
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* A partition's first record since start: abort the multipart uploads a crash left of it. */
static sluice_err_t s3_recover(struct s3 *s, struct s3_part *pt, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->h;
    char prefix[S3_KEY_MAX], mine[512];
    char next_key[S3_KEY_MAX + 1] = "", next_id[512] = "";
    snprintf(prefix, sizeof prefix, "%s%s%s%s", s->topics_dir, *s->topics_dir ? s->ddelim : "",
             pt->c.topic, s->ddelim);
    snprintf(mine, sizeof mine, "%s%s%" PRId32 "%s", pt->c.topic, s->fdelim, pt->c.partition,
             s->fdelim);
    /* a listing holds at most 1,000 uploads: the next page starts after NextKeyMarker and
     * NextUploadIdMarker while IsTruncated says there is more */
    for (int page = 0;; page++) {
        sluice_buf_t *q = h->buf_new(256);
        if (!q)
            return SLUICE_ERR_NOMEM;
        if (page) { /* the parameters in SigV4's sorted order */
            h->buf_append(q, "key-marker=", 11);
            s3_uri_encode(h, q, next_key, 1);
            h->buf_append(q, "&", 1);
        }
        h->buf_append(q, "prefix=", 7);
        s3_uri_encode(h, q, prefix, 1);
        if (page) {
            h->buf_append(q, "&upload-id-marker=", 18);
            s3_uri_encode(h, q, next_id, 1);
        }
        h->buf_append(q, "&uploads=", 9);
        sluice_err_t e =
            s3_call(s, &s->http, "GET", NULL, h->buf_data(q), NULL, 0, 0, errstr, errstr_size);
        h->buf_free(q);
        if (e != SLUICE_OK)
            return e;
        /* copied: the aborts below reuse the response buffer */
        char *list = strdup(h->buf_data(s->http.resp));
        if (!list)
            return SLUICE_ERR_NOMEM;
        char truncated[8] = "", key_marker[S3_KEY_MAX + 1] = "", id_marker[512] = "";
        s3_xml_get(list, "IsTruncated", truncated, sizeof truncated);
        s3_xml_get(list, "NextKeyMarker", key_marker, sizeof key_marker);
        s3_xml_get(list, "NextUploadIdMarker", id_marker, sizeof id_marker);
        for (char *u = strstr(list, "<Upload>"); u; u = strstr(u + 8, "<Upload>")) {
            char key[S3_KEY_MAX + 1], id[512], query[1024];
            char *end = strstr(u, "</Upload>");
            if (end)
                *end = '\0';
            if (s3_xml_get(u, "Key", key, sizeof key) == 0 &&
                s3_xml_get(u, "UploadId", id, sizeof id) == 0) {
                const char *base = strrchr(key, s->ddelim[0]);
                base = base ? base + 1 : key;
                if (strncmp(base, mine, strlen(mine)) == 0) {
                    sluice_buf_t *enc = h->buf_new(128);
                    if (enc) {
                        s3_uri_encode(h, enc, id, 1);
                        snprintf(query, sizeof query, "uploadId=%s", h->buf_data(enc));
                        h->buf_free(enc);
                        e = s3_call(s, &s->http, "DELETE", key, query, NULL, 0, 0, errstr,
                                    errstr_size);
                        if (e != SLUICE_OK) {
                            free(list);
                            return e;
                        }
                        h->log(s->ctx, SLUICE_LOG_INFO,
                               "aborted the incomplete multipart upload of %s (left by a crash)",
                               key);
                    }
                }
            }
            if (!end)
                break;
            u = end;
        }
        free(list);
        if (strcmp(truncated, "true") != 0)
            break;
        /* a truncated page must move the markers on: a store that does not is not followed round
         * in circles */
        if (!*key_marker ||
            (strcmp(key_marker, next_key) == 0 && strcmp(id_marker, next_id) == 0)) {
            h->log(s->ctx, SLUICE_LOG_WARN,
                   "the listing of incomplete multipart uploads under %s is truncated without a "
                   "next marker: the rest is not looked at",
                   prefix);
            break;
        }
        snprintf(next_key, sizeof next_key, "%s", key_marker);
        snprintf(next_id, sizeof next_id, "%s", id_marker);
    }
    pt->recovered = 1;
    return SLUICE_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Sink */

static sluice_err_t s3_start(void *state, char *errstr, size_t errstr_size)
{
    (void)state;
    (void)errstr;
    (void)errstr_size;
    /* no request yet: the first record of each partition makes the first (lint stays offline) */
    return SLUICE_OK;
}

static struct s3_part *s3_part_get(struct s3 *s, const char *topic, int32_t partition)
{
    for (struct s3_part *p = s->parts; p; p = p->next)
        if (storepart_cycle_is(&p->c, topic, partition))
            return p;
    struct s3_part *p = calloc(1, sizeof *p);
    if (!p || storepart_cycle_init(&p->c, topic, partition) != 0) {
        free(p);
        return NULL;
    }
    p->next = s->parts;
    s->parts = p;
    return p;
}

/* The bytes of one record in s->line. */
static sluice_err_t s3_render(struct s3 *s, sluice_record_t *rec, const char **why)
{
    const struct sluice_host *h = s->h;
    if (s->format == S3_FMT_JSON)
        return storepart_json_line(h, rec, 0, 0, s->line, why);
    size_t len = 0;
    const void *b = h->record_value_bytes(rec, &len);
    if (!b) { /* a transform replaced the value: its text, as the ByteArrayConverter would not */
        char err[256];
        sluice_value_t *v = h->record_value(rec, err, sizeof err);
        if (!v || h->value_write_text(v, s->line) != SLUICE_OK) {
            *why = "the value has no bytes to write";
            return SLUICE_ERR_INVALID;
        }
    } else {
        h->buf_append(s->line, b, len);
    }
    h->buf_append(s->line, s->bytes_sep, strlen(s->bytes_sep));
    if (h->buf_error(s->line) != SLUICE_OK) {
        *why = "out of memory";
        return SLUICE_ERR_NOMEM;
    }
    return SLUICE_OK;
}

/* avro: the record's value, and its schema's Avro form compared with the open files' (a
 * converter may give each record its own copy of one schema): the same schema keeps the files. */
static int s3_avro_value(struct s3 *s, struct s3_part *pt, sluice_record_t *rec,
                         const sluice_value_t **v, const char **why)
{
    const struct sluice_host *h = s->h;
    char err[256];
    sluice_value_t *val = h->record_value(rec, err, sizeof err);
    const sluice_schema_t *cs = val ? h->value_schema(val) : NULL;
    if (!cs) {
        *why = val ? "format.class avro: the record's value has no schema (use the avro "
                     "converter, or json with schemas)"
                   : "the value cannot be decoded";
        return -1;
    }
    *v = val;
    if (cs == pt->schema)
        return 0;
    if (!pt->schema_json && !(pt->schema_json = h->buf_new(1024))) {
        *why = "out of memory";
        return -1;
    }
    if (s3_avro_schema_json(h, cs, s->scratch, why) != 0)
        return -1;
    if (pt->schema && h->buf_len(s->scratch) == h->buf_len(pt->schema_json) &&
        memcmp(h->buf_data(s->scratch), h->buf_data(pt->schema_json), h->buf_len(s->scratch)) ==
            0) {
        pt->schema = cs; /* the same schema: the open files go on */
        return 0;
    }
    h->buf_reset(pt->schema_json);
    h->buf_append(pt->schema_json, h->buf_data(s->scratch), h->buf_len(s->scratch));
    return 0;
}

/* A tombstone: a record whose value is null. The bytes format looks at the bytes first (no
 * decoding for the records that have them). */
static int s3_is_tombstone(struct s3 *s, sluice_record_t *rec)
{
    const struct sluice_host *h = s->h;
    size_t len;
    if (s->format == S3_FMT_BYTES && h->record_value_bytes(rec, &len))
        return 0;
    char err[256];
    sluice_value_t *v = h->record_value(rec, err, sizeof err);
    return v && h->value_type(v) == SLUICE_TYPE_NULL;
}

/* store.kafka.keys / store.kafka.headers: the record's lines of the companion objects into
 * s->kline and s->hline; -1 with *why when the record cannot have them. */
static int s3_render_companions(struct s3 *s, sluice_record_t *rec, const char **why)
{
    const struct sluice_host *h = s->h;
    char err[256];
    if (s->store_keys && s->kfmt == S3_FMT_AVRO) {
        sluice_value_t *k = h->record_key(rec, err, sizeof err);
        sluice_type_t t = k ? h->value_type(k) : SLUICE_TYPE_NULL;
        if (!k || t == SLUICE_TYPE_NULL) {
            *why = k ? "store.kafka.keys: the record has no key (a keys object holds one key for "
                       "each record)"
                     : "store.kafka.keys: the key cannot be decoded";
            return -1;
        }
        const sluice_schema_t *ks = h->value_schema(k);
        /* a schemaless primitive key (the string and bytes converters) has its type's schema,
         * as Connect's StringConverter gives it */
        if (!ks && t <= SLUICE_TYPE_BYTES && !(ks = s->kprim[t]))
            ks = s->kprim[t] = h->schema_new(s->ctx, t);
        if (!ks) {
            *why = "keys.format.class avro: the key has no schema (a struct, array or map key "
                   "needs a key converter with schemas: avro, or json with schemas)";
            return -1;
        }
        s->kval = k;
        s->kcs = ks;
    } else if (s->store_keys) {
        h->buf_reset(s->kline);
        size_t len = 0;
        const void *b = s->kfmt == S3_FMT_BYTES ? h->record_key_bytes(rec, &len) : NULL;
        if (b) {
            h->buf_append(s->kline, b, len);
        } else {
            sluice_value_t *k = h->record_key(rec, err, sizeof err);
            if (!k) {
                *why = "store.kafka.keys: the key cannot be decoded";
                return -1;
            }
            if (h->value_type(k) == SLUICE_TYPE_NULL) {
                *why = "store.kafka.keys: the record has no key (a keys object holds one key "
                       "for each record)";
                return -1;
            }
            if ((s->kfmt == S3_FMT_BYTES ? h->value_write_text(k, s->kline)
                                         : h->value_write_json(k, s->kline)) != SLUICE_OK) {
                *why = "store.kafka.keys: the key cannot be written";
                return -1;
            }
        }
        if (s->kfmt == S3_FMT_BYTES)
            h->buf_append(s->kline, s->bytes_sep, strlen(s->bytes_sep));
        else
            h->buf_append(s->kline, "\n", 1);
    }
    if (s->store_headers) {
        h->buf_reset(s->hline);
        storepart_headers_json(h, rec, s->hline);
        h->buf_append(s->hline, "\n", 1);
    }
    if ((s->store_keys && s->kfmt != S3_FMT_AVRO && h->buf_error(s->kline) != SLUICE_OK) ||
        (s->store_headers && h->buf_error(s->hline) != SLUICE_OK)) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

/* keys.format.class avro: the key's schema (s->kcs) against the open keys objects' by its Avro
 * form, as s3_avro_value does for values: the same keeps the files, another rotates them. */
static int s3_key_schema(struct s3 *s, struct s3_part *pt, const char **why)
{
    const struct sluice_host *h = s->h;
    if (!pt->kschema_json && !(pt->kschema_json = h->buf_new(256))) {
        *why = "out of memory";
        return -1;
    }
    if (s3_avro_schema_json(h, s->kcs, s->scratch, why) != 0)
        return -1;
    if (pt->kschema && h->buf_len(s->scratch) == h->buf_len(pt->kschema_json) &&
        memcmp(h->buf_data(s->scratch), h->buf_data(pt->kschema_json), h->buf_len(s->scratch)) ==
            0) {
        pt->kschema = s->kcs;
        return 0;
    }
    h->buf_reset(pt->kschema_json);
    h->buf_append(pt->kschema_json, h->buf_data(s->scratch), h->buf_len(s->scratch));
    return 0;
}

static sluice_err_t s3_put(void *state, sluice_batch_t *batch, char *errstr, size_t errstr_size)
{
    struct s3 *s = state;
    const struct sluice_host *h = s->h;
    sluice_buf_t *enc = s->enc;
    sluice_err_t e = SLUICE_OK;
    char key[S3_KEY_MAX + 1];
    /* failed uploads and rotations owed by a failure first */
    s3_requeue(s);
    for (struct s3_part *pt = s->parts; pt; pt = pt->next)
        if (pt->due && (e = s3_rotate(s, pt, errstr, errstr_size)) != SLUICE_OK)
            return e;
    for (size_t i = 0, n = h->batch_count(batch); i < n; i++) {
        sluice_record_t *rec = h->batch_get(batch, i);
        const char *topic = h->record_topic(rec);
        int32_t partition = h->record_partition(rec);
        int64_t off = h->record_offset(rec);
        struct s3_part *pt = s3_part_get(s, topic, partition);
        if (!pt)
            return SLUICE_ERR_NOMEM;
        if (!pt->recovered && (e = s3_recover(s, pt, errstr, errstr_size)) != SLUICE_OK)
            return e;
        if (off < pt->c.next_off) /* the retry of a put that failed half-way */
            continue;
        const char *why = NULL;
        int64_t ts = 0;
        int tomb = s3_is_tombstone(s, rec);
        if (tomb && s->nulls == S3_NULL_FAIL) {
            snprintf(errstr, errstr_size,
                     "behavior.on.null.values: fail: the record of topic %s partition %" PRId32
                     " offset %" PRId64 " has a null value (a tombstone); set "
                     "behavior.on.null.values: ignore to skip tombstones, or write (with "
                     "store.kafka.keys: true) to keep their keys",
                     topic, partition, off);
            return SLUICE_FATAL;
        }
        if (tomb && s->nulls == S3_NULL_IGNORE) {
            h->counter_add(s->ctx, "records.null.ignored", 1);
            continue;
        }
        h->buf_reset(s->line);
        const sluice_value_t *v = NULL;
        if (tomb) {
            /* behavior.on.null.values: write: the tombstones' own directory (the partitioner
             * has no value to look at), the record's own time */
            ts = h->record_timestamp(rec);
            h->buf_reset(enc);
            h->buf_append(enc, s->tombstone_enc, strlen(s->tombstone_enc));
        } else if (storepart_place(&s->part, h, rec, &ts, enc, &why) != 0 ||
                   (s->format == S3_FMT_AVRO ? s3_avro_value(s, pt, rec, &v, &why) != 0
                                             : s3_render(s, rec, &why) != SLUICE_OK)) {
            h->record_fail(rec, why);
            continue;
        }
        int akeys = s->store_keys && s->kfmt == S3_FMT_AVRO;
        if ((s->store_keys || s->store_headers) && s3_render_companions(s, rec, &why) != 0) {
            h->record_fail(rec, why);
            continue;
        }
        if (akeys && s->kcs != pt->kschema && s3_key_schema(s, pt, &why) != 0) {
            h->record_fail(rec, why);
            continue;
        }
        int64_t mono = h->monotonic_ms(), now = h->now_ms();
        if ((storepart_due(&s->part, &pt->c, pt->files != NULL, ts, mono, now) ||
             (pt->files && v && s->format == S3_FMT_AVRO && pt->schema != h->value_schema(v)) ||
             (pt->files && akeys && pt->kschema != s->kcs)) &&
            (e = s3_rotate(s, pt, errstr, errstr_size)) != SLUICE_OK)
            return e;
        struct s3_file *f = pt->files;
        while (f && strcmp(f->enc, h->buf_data(enc)) != 0)
            f = f->next;
        if (!f) {
            if (s3_object_key(s, pt->c.topic, pt->c.partition, h->buf_data(enc), off, key,
                              sizeof key) != 0) {
                h->record_fail(rec, "the object key would be longer than S3's 1024 bytes");
                continue;
            }
            if (!(f = s3_file_open(s, pt, h->buf_data(enc), off)))
                return SLUICE_ERR_NOMEM;
        }
        /* an Avro file is begun by its first value (a directory of tombstones has none) */
        if (v && s->format == S3_FMT_AVRO && !f->avro.w) {
            if (s3_avro_open(&f->avro, h, h->value_schema(v), s->avro_codec, errstr, errstr_size) !=
                0) {
                s3_file_drop_empty(s, pt, f);
                h->record_fail(rec, errstr);
                continue;
            }
            pt->schema = h->value_schema(v);
        }
        if (akeys && !f->kavro.valued) {
            if (s3_avro_open(&f->kavro, h, s->kcs, s->avro_codec, errstr, errstr_size) != 0) {
                s3_file_drop_empty(s, pt, f);
                h->record_fail(rec, errstr);
                continue;
            }
            pt->kschema = s->kcs;
        }
        if (tomb) {
            /* in the keys (and headers) object only */
        } else if (s->format == S3_FMT_AVRO) {
            if (s3_avro_append(&f->avro, h, v, s->scratch, &why) != 0) {
                h->record_fail(rec, why);
                continue;
            }
        } else {
            sluice_buf_t *dst = f->zon ? f->raw : f->body;
            if (h->buf_append(dst, h->buf_data(s->line), h->buf_len(s->line)) != SLUICE_OK)
                return SLUICE_ERR_NOMEM;
        }
        f->values += !tomb;
        if (akeys && s3_avro_append(&f->kavro, h, s->kval, s->scratch, &why) != 0) {
            /* the value is in its object already: the keys object would no longer line up */
            snprintf(errstr, errstr_size,
                     "keys.format.class avro: the key of topic %s partition %" PRId32
                     " offset %" PRId64 " cannot be written: %s",
                     topic, partition, off, why ? why : "it does not fit its schema");
            return SLUICE_FATAL;
        }
        if ((s->store_keys && !akeys &&
             h->buf_append(f->kbody, h->buf_data(s->kline), h->buf_len(s->kline)) != SLUICE_OK) ||
            (s->store_headers &&
             h->buf_append(f->hbody, h->buf_data(s->hline), h->buf_len(s->hline)) != SLUICE_OK))
            return SLUICE_ERR_NOMEM;
        int full = storepart_take(&s->part, &pt->c, off, ts, mono, now);
        if (f->zon && h->buf_len(f->raw) >= S3_GZIP_STAGE &&
            (e = storepart_gzip(h, &f->z, f->raw, f->body, Z_NO_FLUSH)) != SLUICE_OK)
            return e;
        if (full && (e = s3_rotate(s, pt, errstr, errstr_size)) != SLUICE_OK)
            return e;
    }
    return SLUICE_OK;
}

static sluice_err_t s3_flush(void *state, char *errstr, size_t errstr_size)
{
    struct s3 *s = state;
    s3_requeue(s);
    for (struct s3_part *pt = s->parts; pt; pt = pt->next) {
        if (!pt->files)
            continue;
        sluice_err_t e = s3_rotate(s, pt, errstr, errstr_size);
        if (e != SLUICE_OK)
            return e;
    }
    pthread_mutex_lock(&s->mu);
    sluice_err_t e = s3_wait_below(s, 0, 0, errstr, errstr_size);
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* ABI 1.2: the core's periodic commit. What is due (wall-clock side of rotate.interval.ms, the
 * schedule, a failed upload) is handed to the uploaders now; each partition is committed up to the
 * first record still in an open file or in an object not yet stored. */
static sluice_err_t s3_precommit(void *state, struct sluice_offset *offsets, size_t count,
                                 char *errstr, size_t errstr_size)
{
    struct s3 *s = state;
    int64_t mono = s->h->monotonic_ms(), now = s->h->now_ms();
    s3_requeue(s);
    for (struct s3_part *pt = s->parts; pt; pt = pt->next) {
        if (!(pt->files && pt->due) &&
            !storepart_idle_due(&s->part, &pt->c, pt->files != NULL, mono, now))
            continue;
        sluice_err_t e = s3_rotate(s, pt, errstr, errstr_size);
        if (e != SLUICE_OK)
            return e;
    }
    for (struct s3_part *pt = s->parts; pt; pt = pt->next)
        storepart_cap(&pt->c, pt->c.partition, pt->files != NULL, offsets, count);
    /* uploads finish in any order: the oldest not stored caps its partition */
    pthread_mutex_lock(&s->mu);
    sluice_err_t e = s3_reap(s, errstr, errstr_size);
    for (struct s3_file *f = s->jobs; f; f = f->next)
        for (size_t i = 0; i < count; i++)
            if (offsets[i].partition == f->partition && f->cycle_off < offsets[i].offset)
                offsets[i].offset = f->cycle_off;
    pthread_mutex_unlock(&s->mu);
    return e;
}

static void s3_stop(void *state)
{
    (void)state;
}

static void s3_destroy(void *state)
{
    struct s3 *s = state;
    if (!s)
        return;
    /* an upload under way ends (stored, or its multipart upload aborted); the queued ones are
     * dropped: their offsets were never reported */
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nup; i++) {
        pthread_join(s->up[i].t, NULL);
        curl_easy_cleanup(s->up[i].http.c);
        s->h->buf_free(s->up[i].http.url);
        s->h->buf_free(s->up[i].http.resp);
    }
    while (s->jobs) {
        struct s3_file *f = s->jobs;
        s->jobs = f->next;
        s3_file_free(s, f);
    }
    while (s->parts) {
        struct s3_part *p = s->parts;
        s->parts = p->next;
        while (p->files) {
            struct s3_file *f = p->files;
            p->files = f->next;
            s3_file_free(s, f);
        }
        storepart_cycle_free(&p->c);
        if (p->schema_json)
            s->h->buf_free(p->schema_json);
        if (p->kschema_json)
            s->h->buf_free(p->kschema_json);
        free(p);
    }
    s3_http_free(&s->http);
    storepart_free(&s->part, s->h);
    free(s->topics_dir);
    free(s->ddelim);
    free(s->fdelim);
    free(s->bytes_ext);
    free(s->bytes_sep);
    free(s->tombstone_enc);
    if (s->line)
        s->h->buf_free(s->line);
    if (s->enc)
        s->h->buf_free(s->enc);
    if (s->scratch)
        s->h->buf_free(s->scratch);
    if (s->kline)
        s->h->buf_free(s->kline);
    if (s->hline)
        s->h->buf_free(s->hline);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct sluice_sink s3_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = s3_config,
    .init = s3_init,
    .start = s3_start,
    .put = s3_put,
    .flush = s3_flush,
    .stop = s3_stop,
    .destroy = s3_destroy,
    .precommit = s3_precommit,
};

static const struct sluice_alias s3_aliases[] = {
    {.name = "io.confluent.connect.s3.S3SinkConnector"},
    {.name = "S3_SINK"},
    {.name = NULL},
};

#define S3_DESCRIPTION                                                                             \
    "Confluent's S3 sink, for Amazon S3 and every S3-compatible store (MinIO, Ceph, Cloudflare "   \
    "R2, Backblaze B2, a NAS): the same keys, the same object layout, exactly once.\n"             \
    "\n"                                                                                           \
    "**Objects.** `<topics.dir>/<topic>/<partition dirs>/<topic>+<kafka partition>+<first "        \
    "offset>.json`, the offset zero-padded to `filename.offset.zero.pad.width` digits — the "    \
    "seed's `topics/orders/year=2023/month=01/day=08/hour=02/orders+0+0000046347.json`. "          \
    "`format.class` `json`: JSON lines, byte for byte the files sftp-json writes for the same "    \
    "records; `bytes`: each value's bytes as they sit in the topic, then a newline; `avro`: Avro " \
    "object container files (avro-c; `avro.codec` null or deflate) whose schema is made from the " \
    "records' Connect schema as Confluent's AvroData makes it (maps with string keys as Avro "     \
    "maps, others as arrays of `io.confluent.connect.avro.MapEntry` records, as the avro "         \
    "converter writes them), a new object whenever the schema changes (records without a schema "  \
    "are refused by name). With `s3.compression.type: gzip` a "                                    \
    "JSON or bytes object is one gzip stream (`.json.gz`).\n"                                      \
    "\n"                                                                                           \
    "**Keys, headers and tombstones**, as Confluent's. `store.kafka.keys: true` writes each "      \
    "record's key into a companion object beside the value object, `<topic>+<partition>+"          \
    "<offset>.keys.json` (`keys.format.class` json; bytes: `.keys.bin`; avro: an Avro file of "    \
    "the keys' schema, `.keys.avro`), and `store.kafka.headers: true` its headers into "           \
    "`.headers.json` (a JSON array of key/value pairs a line), one per record in the value "       \
    "object's order; Parquet keys, Avro, bytes and Parquet headers, and companions of gzip "       \
    "objects are refused by name. The companions are "                                             \
    "uploaded before the value object and the records are committed only when all of an "          \
    "object's files are stored; a replay writes the same ones again. A tombstone (a null value) "  \
    "stops the pipeline by default (`behavior.on.null.values: fail`, naming its topic, partition " \
    "and offset; nothing after the last commit is committed); `ignore` skips it (counter "         \
    "`records.null.ignored`); `write` (with `store.kafka.keys`) puts it in the directory "         \
    "`tombstone.encoded.partition` (`tombstone`): there its key and headers are written and no "   \
    "value object is made.\n"                                                                      \
    "\n"                                                                                           \
    "**Rotation** per Kafka partition, as Confluent's: all open objects of a partition (one per "  \
    "directory) are written when it reached `flush.size` records, when its records span "          \
    "`rotate.interval.ms` (record time, or that much wall time since the first), and at "          \
    "`rotate.schedule.interval.ms` boundaries of the wall clock. An open object is one buffer in " \
    "memory; up to `s3.part.size` it is one PUT, above it a multipart upload in parts of that "    \
    "size (aborted if it fails: no part is left billed). Up to `s3.upload.concurrency` objects "   \
    "upload at once, each on its own connection, while the next ones fill (a sluice extension). "  \
    "Memory is bounded by the open objects (about `flush.size` records each) and the uploads in "  \
    "flight (`s3.upload.buffer.bytes`). An Avro object is built in a memory mapping of its own, "  \
    "which goes back to the system as soon as the object is stored.\n"                             \
    "\n"                                                                                           \
    "**Exactly once.** An object's key is fixed by topic, partition and first offset; a "          \
    "partition's offsets are committed only after its objects exist (the sink's `precommit` "      \
    "commits up to the first record still in an open object or in an object not yet stored, "      \
    "whatever order the uploads finish in). After a crash the records after "                      \
    "the last commit come again and make the same objects, which overwrite the ones already "      \
    "there; multipart uploads the crash left are aborted at the partition's first record (all "    \
    "pages of the bucket's listing under the topic are read). The "                                \
    "promise holds when which object a record lands in depends on the records only: the "          \
    "`default`, `field` and time partitioners with the `Record` or `RecordField` extractor, and "  \
    "rotation by `flush.size` or record time. `Wallclock`, `rotate.schedule.interval.ms` and the " \
    "wall-clock side of `rotate.interval.ms` depend on when the sink runs (as in Confluent's); a " \
    "stop (end of run, partitions revoked) closes objects early too, and a replay may then cut "   \
    "them elsewhere.\n"                                                                            \
    "\n"                                                                                           \
    "**Errors.** A missing bucket (NoSuchBucket), access denied, refused credentials "             \
    "(InvalidAccessKeyId, SignatureDoesNotMatch), a wrong region (AuthorizationHeaderMalformed) "  \
    "or a skewed clock (RequestTimeTooSkewed) stop the pipeline with one message naming the key "  \
    "to fix; nothing is committed. 5xx answers, SlowDown and lost connections are retried "        \
    "(`s3.part.retries`, then the pipeline's own backoff, without end): while the store is away "  \
    "the records wait and none is lost.\n"                                                         \
    "\n"                                                                                           \
    "**Requests** are signed by libcurl's AWS SigV4. Credentials: `aws.access.key.id` and "        \
    "`aws.secret.access.key`, else the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "    \
    "AWS_SESSION_TOKEN), else the shared credentials file; they are secrets, never printed.\n"     \
    "\n"                                                                                           \
    "The seed's layout in a local S3-compatible store:\n"                                          \
    "\n"                                                                                           \
    "```yaml\n"                                                                                    \
    "sinks:\n"                                                                                     \
    "  - id: s3\n"                                                                                 \
    "    plugin: s3\n"                                                                             \
    "    config:\n"                                                                                \
    "      s3.bucket.name: sluice-seed\n"                                                          \
    "      s3.region: us-east-1\n"                                                                 \
    "      store.url: http://127.0.0.1:9000\n"                                                     \
    "      partitioner.class: hourly\n"                                                            \
    "      flush.size: 1000\n"                                                                     \
    "```\n"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "s3",
    .version = "1.0.0",
    .summary = "Objects in Amazon S3 or any S3-compatible store, partitioned by hour, day or "
               "field, exactly once",
    .description = S3_DESCRIPTION,
    .sink = &s3_sink,
    .aliases = s3_aliases,
};
