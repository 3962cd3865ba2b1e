/*
 * s3.h — the s3 sink's state and its HTTP side (s3_http.c: requests signed by libcurl's AWS SigV4,
 * S3 errors turned into messages naming the key to fix, credentials), shared with s3.c (the files
 * and the sink's calls) and the unit test. Internal to the plugin.
 */
#ifndef SLUICE_PLUGIN_S3_H
#define SLUICE_PLUGIN_S3_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include <avro.h>
#include <curl/curl.h>
#include <sluice/plugin.h>

#include "storepart.h"

#define S3_GZIP_STAGE    (64u * 1024u) /* raw bytes gathered before one deflate call */
#define S3_KEY_MAX       1024          /* S3's longest key */
#define S3_UPLOADERS_MAX 32            /* s3.upload.concurrency's upper bound */

enum s3_format { S3_FMT_JSON, S3_FMT_BYTES, S3_FMT_AVRO };
/* behavior.on.null.values: what a tombstone (a record whose value is null) does */
enum s3_nulls { S3_NULL_FAIL, S3_NULL_IGNORE, S3_NULL_WRITE };

/* An Avro object container file being written into memory (s3_avro.c). */
struct s3_avro {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t val; /* reused for every record */
    int valued;
    avro_file_writer_t w;
    FILE *fp;  /* fopencookie: writes into mem, a mapping of its own (s3_avro.c) */
    char *mem; /* the file's bytes (whole after s3_avro_finish) */
    size_t memlen, memcap;
    const sluice_schema_t *connect; /* the records' Connect schema */
    char *json;                     /* ... as Avro, logical types and all */
    int64_t records;
};

struct s3_cred {
    char *id, *secret, *token; /* token: a session token (x-amz-security-token), or NULL */
    const char *from;          /* where they came from, for messages */
};

/* The connection to the store: one curl handle (kept alive) per task. */
struct s3_http {
    CURL *c;
    char *endpoint; /* scheme://host[:port], no trailing '/' */
    char *bucket, *region;
    int path_style;
    char sigv4[128]; /* "aws:amz:<region>:s3" */
    struct s3_cred cred;
    char *sse, *sse_kms_key, *acl;
    long timeout_ms;
    sluice_buf_t *url, *resp; /* the request's URL, the response's body */
    char etag[128];           /* the last response's ETag */
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
};

/* One open object (a directory of a partition). */
struct s3_file {
    struct s3_file *next;
    char *enc; /* its encoded partition */
    char *key; /* the object's key */
    sluice_buf_t *body;
    sluice_buf_t *raw; /* gzip: bytes not yet deflated */
    z_stream z;
    int zon, finished;
    struct s3_avro avro; /* format.class avro */
    int64_t values;      /* records in the value object (none: a directory of tombstones only) */
    /* store.kafka.keys / store.kafka.headers: the companion objects, one line per record */
    sluice_buf_t *kbody, *hbody;
    struct s3_avro kavro; /* keys.format.class avro: the keys object (kbody unused) */
    char *kkey, *hkey;
    size_t clen; /* their bytes (the accounting of uploads in flight) */
    /* a rotated file waiting for its upload (s3->jobs): */
    int32_t partition; /* its Kafka partition... */
    int64_t cycle_off; /* ...and the first offset of its rotation: committed only when done */
    const char *data;  /* the finished bytes (in body or avro.mem) */
    size_t len;
    int state;        /* S3_JOB_* */
    sluice_err_t err; /* S3_JOB_FAILED: why */
    char errstr[512];
};

enum { S3_JOB_QUEUED, S3_JOB_RUNNING, S3_JOB_DONE, S3_JOB_FAILED };

/* A Kafka partition ("TP"): its files rotate together. */
struct s3_part {
    struct s3_part *next;
    int recovered;            /* its incomplete multipart uploads were aborted since start */
    int due;                  /* a rotation is owed (an upload failed: retried first) */
    struct storepart_cycle c; /* rotation: records, first offset, times */
    struct s3_file *files;
    const sluice_schema_t *schema;  /* avro: the Connect schema of the open files */
    sluice_buf_t *schema_json;      /* ... as Avro: a new schema rotates the files */
    const sluice_schema_t *kschema; /* keys.format.class avro: the keys' schema, likewise */
    sluice_buf_t *kschema_json;
};

struct s3 {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    struct s3_http http;
    struct storepart part;
    char *topics_dir, *ddelim, *fdelim;
    int pad, gzip;
    enum s3_format format;
    char *bytes_ext;     /* format.bytearray.extension */
    char *bytes_sep;     /* format.bytearray.separator */
    enum s3_nulls nulls; /* behavior.on.null.values */
    char *tombstone_enc; /* tombstone.encoded.partition */
    int store_keys;      /* store.kafka.keys */
    enum s3_format kfmt; /* keys.format.class: json or bytes */
    int store_headers;   /* store.kafka.headers (headers.format.class: json) */
    size_t part_size;    /* s3.part.size */
    int retries;         /* s3.part.retries */
    int64_t backoff_ms;  /* s3.retry.backoff.ms */
    struct s3_part *parts;
    sluice_buf_t *line, *enc, *scratch;
    sluice_buf_t *kline, *hline; /* a record's key and headers lines (store.kafka.*) */
    const sluice_value_t *kval;  /* keys.format.class avro: the record's key... */
    const sluice_schema_t *kcs;  /* ...and its schema */
    const sluice_schema_t *kprim[SLUICE_TYPE_BYTES + 1]; /* schemas of schemaless primitive keys */
    const char *avro_codec;                              /* avro.codec: null or deflate */
    /* uploads in flight: rotated files (oldest first) taken by `nup` threads, each with its own
     * connection; the main thread waits when `nout` reach s3.upload.concurrency or their bytes
     * s3.upload.buffer.bytes. */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct s3_uploader {
        struct s3 *s;
        pthread_t t;
        struct s3_http http; /* its own curl handle; endpoint and credentials are s->http's */
    } up[S3_UPLOADERS_MAX];
    int nup, quit, locks;
    struct s3_file *jobs, **jobs_tail;
    int nout, concurrency;
    size_t bytes_out, buffer_max;
};

/* The object key of a file: <topics.dir><dd><topic><dd><enc><dd><topic><fd><p><fd><offset><ext>.
 * -1 when it does not fit `size`. */
int s3_object_key(const struct s3 *s, const char *topic, int32_t partition, const char *enc,
                  int64_t off, char *out, size_t size);

/* s3_avro.c */
/* The Avro schema of Connect schema `cs` into `out`; -1 with *why when it has no Avro form. */
int s3_avro_schema_json(const struct sluice_host *h, const sluice_schema_t *cs, sluice_buf_t *out,
                        const char **why);
/* A file of schema `cs` (codec "null" or "deflate"); -1 with a message. */
int s3_avro_open(struct s3_avro *a, const struct sluice_host *h, const sluice_schema_t *cs,
                 const char *codec, char *errstr, size_t errstr_size);
/* One record's value; -1 with *why when it does not fit the schema (the record fails). */
int s3_avro_append(struct s3_avro *a, const struct sluice_host *h, const sluice_value_t *v,
                   sluice_buf_t *scratch, const char **why);
/* The last block written: the file is a->mem, a->memlen. */
int s3_avro_finish(struct s3_avro *a);
/* The file's bytes given back (after their upload); the rest stays for s3_avro_free. */
void s3_avro_release(struct s3_avro *a);
void s3_avro_free(struct s3_avro *a);

/* s3_http.c */
/* Credentials: aws.access.key.id/aws.secret.access.key, else the environment, else the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile `profile`). */
int s3_cred_load(struct s3_cred *c, const char *id, const char *secret, const char *token,
                 const char *profile, char *errstr, size_t errstr_size);
void s3_cred_free(struct s3_cred *c);
/* Appends `key` URI-encoded as S3's SigV4 wants it (all but A-Za-z0-9-_.~ and, unless `query`,
 * '/'). */
void s3_uri_encode(const struct sluice_host *h, sluice_buf_t *out, const char *key, int query);
int s3_http_init(struct s3_http *x, char *errstr, size_t errstr_size);
void s3_http_free(struct s3_http *x);
/* One request: `method` on object `key` (NULL: the bucket) with `query` (sorted, encoded), body
 * `body`/`len` (PUT/POST), `object`: add the object headers (SSE, ACL, content type). SLUICE_OK on
 * 2xx (the body in x->resp, the ETag in x->etag); SLUICE_RETRY on a transient failure (transport,
 * 5xx, SlowDown); SLUICE_FATAL on a refusal the user must fix, with the message in errstr. */
sluice_err_t s3_request(struct s3_http *x, const char *method, const char *key, const char *query,
                        const void *body, size_t len, int object, char *errstr, size_t errstr_size);
/* The text of the first <tag>…</tag> in `xml` into out, or -1. */
int s3_xml_get(const char *xml, const char *tag, char *out, size_t size);
/* The message for an S3 error response (HTTP `status`, body `xml`); FATAL or RETRY. */
sluice_err_t s3_classify(const struct s3_http *x, long status, const char *xml, const char *what,
                         char *errstr, size_t errstr_size);

#endif
