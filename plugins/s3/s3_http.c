/*
 * s3_http.c — the s3 sink's requests: libcurl signs them with its own AWS SigV4
 * (CURLOPT_AWS_SIGV4, "aws:amz:<region>:s3"; the payload is given as POSTFIELDS so that curl
 * hashes it, and its SHA-256 as x-amz-content-sha256, which S3 requires), one handle kept alive per
 * task; S3's error codes become one message each, naming the key to fix; credentials from the keys,
 * the environment or the shared credentials file.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "s3.h"

/* ---------------------------------------------------------------------------------------------- */
/* Credentials */

static char *s3_trimdup(const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p))
        p++, n--;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    return strndup(p, n);
}

/* The shared credentials file's `profile` section: aws_access_key_id, aws_secret_access_key,
 * aws_session_token (the INI form the AWS CLI writes). */
static int s3_cred_file(struct s3_cred *c, const char *path, const char *profile)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[2048];
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == ';' || !*p)
            continue;
        if (*p == '[') {
            char *e = strchr(p, ']');
            char *name = e ? s3_trimdup(p + 1, (size_t)(e - p - 1)) : NULL;
            in = name && strcmp(name, profile) == 0;
            free(name);
            continue;
        }
        char *eq = strchr(p, '=');
        if (!in || !eq)
            continue;
        char *k = s3_trimdup(p, (size_t)(eq - p)), *v = s3_trimdup(eq + 1, strlen(eq + 1));
        char **dst = !k                                        ? NULL
                     : strcmp(k, "aws_access_key_id") == 0     ? &c->id
                     : strcmp(k, "aws_secret_access_key") == 0 ? &c->secret
                     : strcmp(k, "aws_session_token") == 0     ? &c->token
                                                               : NULL;
        if (dst && v) {
            free(*dst);
            *dst = v;
            v = NULL;
        }
        free(k);
        free(v);
    }
    fclose(f);
    return c->id && c->secret ? 0 : -1;
}

int s3_cred_load(struct s3_cred *c, const char *id, const char *secret, const char *token,
                 const char *profile, char *errstr, size_t errstr_size)
{
    memset(c, 0, sizeof *c);
    if ((id && *id) || (secret && *secret)) {
        if (!(id && *id) || !(secret && *secret)) {
            snprintf(errstr, errstr_size,
                     "%s: give aws.access.key.id and aws.secret.access.key together",
                     id && *id ? "aws.secret.access.key" : "aws.access.key.id");
            return -1;
        }
        c->id = strdup(id);
        c->secret = strdup(secret);
        c->token = token && *token ? strdup(token) : NULL;
        c->from = "aws.access.key.id / aws.secret.access.key";
        return c->id && c->secret ? 0 : -1;
    }
    const char *eid = getenv("AWS_ACCESS_KEY_ID"), *esec = getenv("AWS_SECRET_ACCESS_KEY");
    if (eid && *eid && esec && *esec) {
        const char *etok = getenv("AWS_SESSION_TOKEN");
        c->id = strdup(eid);
        c->secret = strdup(esec);
        c->token = etok && *etok ? strdup(etok) : NULL;
        c->from = "the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)";
        return c->id && c->secret ? 0 : -1;
    }
    char path[4096];
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    if (file && *file)
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%s/.aws/credentials", getenv("HOME") ? getenv("HOME") : "");
    if (!(profile && *profile))
        profile = getenv("AWS_PROFILE");
    if (!(profile && *profile))
        profile = "default";
    if (s3_cred_file(c, path, profile) == 0) {
        c->from = "the shared credentials file";
        return 0;
    }
    s3_cred_free(c);
    snprintf(errstr, errstr_size,
             "aws.access.key.id: no credentials: set aws.access.key.id and aws.secret.access.key, "
             "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or profile '%s' "
             "in %s",
             profile, path);
    return -1;
}

void s3_cred_free(struct s3_cred *c)
{
    free(c->id);
    free(c->secret);
    free(c->token);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------------------------------------- */
/* Requests */

void s3_uri_encode(const struct sluice_host *h, sluice_buf_t *out, const char *key, int query)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (*p == '/' && !query)) {
            h->buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            h->buf_append(out, e, 3);
        }
    }
}

static size_t s3_on_body(char *p, size_t size, size_t n, void *ud)
{
    struct s3_http *x = ud;
    /* an error document or a listing: small; a cap keeps a strange server from filling memory */
    if (x->h->buf_len(x->resp) < 4u << 20)
        x->h->buf_append(x->resp, p, size * n);
    return size * n;
}

static size_t s3_on_header(char *p, size_t size, size_t n, void *ud)
{
    struct s3_http *x = ud;
    size_t len = size * n;
    if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
        const char *v = p + 5;
        size_t vl = len - 5;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof x->etag) {
            memcpy(x->etag, v, vl);
            x->etag[vl] = '\0';
        }
    }
    return len;
}

int s3_http_init(struct s3_http *x, char *errstr, size_t errstr_size)
{
    static int curl_ready;
    if (!curl_ready) {
        /* plugins' init runs on the main thread before the tasks start */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(errstr, errstr_size, "curl_global_init failed");
            return -1;
        }
        curl_ready = 1;
    }
    /* CURLOPT_AWS_SIGV4 came with curl 7.75: an older library would send unsigned requests */
    curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (vi->version_num < 0x074b00) {
        snprintf(errstr, errstr_size,
                 "s3: libcurl %s is too old: AWS SigV4 signing needs 7.75 or later", vi->version);
        return -1;
    }
    x->c = curl_easy_init();
    x->url = x->h->buf_new(512);
    x->resp = x->h->buf_new(4096);
    if (!x->c || !x->url || !x->resp) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    snprintf(x->sigv4, sizeof x->sigv4, "aws:amz:%s:s3", x->region);
    return 0;
}

void s3_http_free(struct s3_http *x)
{
    if (x->c)
        curl_easy_cleanup(x->c);
    if (x->url)
        x->h->buf_free(x->url);
    if (x->resp)
        x->h->buf_free(x->resp);
    s3_cred_free(&x->cred);
    free(x->endpoint);
    free(x->bucket);
    free(x->region);
    free(x->sse);
    free(x->sse_kms_key);
    free(x->acl);
    memset(x, 0, sizeof *x);
}

int s3_xml_get(const char *xml, const char *tag, char *out, size_t size)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(xml, open);
    const char *b = a ? strstr(a, close) : NULL;
    if (!a || !b || size == 0)
        return -1;
    a += strlen(open);
    size_t n = (size_t)(b - a);
    if (n >= size)
        n = size - 1;
    memcpy(out, a, n);
    out[n] = '\0';
    return 0;
}

sluice_err_t s3_classify(const struct s3_http *x, long status, const char *xml, const char *what,
                         char *errstr, size_t errstr_size)
{
    char code[64] = "", msg[256] = "";
    s3_xml_get(xml, "Code", code, sizeof code);
    s3_xml_get(xml, "Message", msg, sizeof msg);
    if (!*code)
        snprintf(code, sizeof code, "HTTP %ld", status);
    if (status >= 500 || status == 429 || strcmp(code, "SlowDown") == 0 ||
        strcmp(code, "RequestTimeout") == 0 || strcmp(code, "InternalError") == 0) {
        snprintf(errstr, errstr_size, "s3: %s: the store answered %s (%s)", what, code, msg);
        return SLUICE_RETRY;
    }
    if (strcmp(code, "NoSuchBucket") == 0)
        snprintf(errstr, errstr_size,
                 "s3: s3.bucket.name: bucket '%s' does not exist at %s (NoSuchBucket); create it "
                 "first: the sink does not",
                 x->bucket, x->endpoint);
    else if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0)
        snprintf(errstr, errstr_size,
                 "s3: aws.access.key.id / aws.secret.access.key: the store refused the credentials "
                 "from %s (%s)",
                 x->cred.from ? x->cred.from : "?", code);
    else if (strcmp(code, "AccessDenied") == 0)
        snprintf(errstr, errstr_size,
                 "s3: s3.bucket.name: access denied to %s of bucket '%s' (AccessDenied): the "
                 "credentials from %s may not write there",
                 what, x->bucket, x->cred.from ? x->cred.from : "?");
    else if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
             strcmp(code, "PermanentRedirect") == 0 ||
             strcmp(code, "IllegalLocationConstraint") == 0 || status == 301)
        snprintf(errstr, errstr_size,
                 "s3: s3.region: '%s' is not the region of bucket '%s' at %s (%s: %s)", x->region,
                 x->bucket, x->endpoint, code, msg);
    else if (strcmp(code, "RequestTimeTooSkewed") == 0)
        snprintf(errstr, errstr_size,
                 "s3: this machine's clock differs too much from the store's at %s "
                 "(RequestTimeTooSkewed): fix the clock (NTP)",
                 x->endpoint);
    else
        snprintf(errstr, errstr_size, "s3: %s: the store refused it: %s (%s)", what, code, msg);
    return SLUICE_FATAL;
}

sluice_err_t s3_request(struct s3_http *x, const char *method, const char *key, const char *query,
                        const void *body, size_t len, int object, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = x->h;
    CURL *c = x->c;
    h->buf_reset(x->url);
    h->buf_reset(x->resp);
    x->etag[0] = '\0';
    /* path style: endpoint/bucket/key; virtual-hosted: scheme://bucket.host/key */
    if (x->path_style) {
        h->buf_append(x->url, x->endpoint, strlen(x->endpoint));
        h->buf_append(x->url, "/", 1);
        s3_uri_encode(h, x->url, x->bucket, 1);
    } else {
        const char *host = strstr(x->endpoint, "://");
        host = host ? host + 3 : x->endpoint;
        h->buf_append(x->url, x->endpoint, (size_t)(host - x->endpoint));
        h->buf_append(x->url, x->bucket, strlen(x->bucket));
        h->buf_append(x->url, ".", 1);
        h->buf_append(x->url, host, strlen(host));
    }
    h->buf_append(x->url, "/", 1);
    if (key)
        s3_uri_encode(h, x->url, key, 0);
    if (query && *query) {
        h->buf_append(x->url, "?", 1);
        h->buf_append(x->url, query, strlen(query));
    }
    if (h->buf_error(x->url) != SLUICE_OK) {
        snprintf(errstr, errstr_size, "s3: out of memory");
        return SLUICE_RETRY;
    }

    struct curl_slist *hd = NULL;
    char line[512];
    if (x->cred.token) {
        snprintf(line, sizeof line, "x-amz-security-token: %s", x->cred.token);
        hd = curl_slist_append(hd, line);
    }
    if (object) {
        if (x->sse && *x->sse) {
            snprintf(line, sizeof line, "x-amz-server-side-encryption: %s", x->sse);
            hd = curl_slist_append(hd, line);
            if (x->sse_kms_key && *x->sse_kms_key) {
                snprintf(line, sizeof line, "x-amz-server-side-encryption-aws-kms-key-id: %s",
                         x->sse_kms_key);
                hd = curl_slist_append(hd, line);
            }
        }
        if (x->acl && *x->acl) {
            snprintf(line, sizeof line, "x-amz-acl: %s", x->acl);
            hd = curl_slist_append(hd, line);
        }
    }
    /* S3 wants the payload's SHA-256 in x-amz-content-sha256. curl 7.88 (Debian 12) signs the
     * hash it computes of POSTFIELDS and ignores the header's value (UNSIGNED-PAYLOAD fails);
     * later versions sign the header's value: the real hash satisfies both. */
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (!EVP_Digest(body ? body : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        snprintf(errstr, errstr_size, "s3: SHA-256 of the payload failed");
        curl_slist_free_all(hd);
        return SLUICE_RETRY;
    }
    char *o = line + snprintf(line, sizeof line, "x-amz-content-sha256: ");
    for (unsigned i = 0; i < 32; i++) {
        *o++ = hex[md[i] >> 4];
        *o++ = hex[md[i] & 15];
    }
    *o = '\0';
    hd = curl_slist_append(hd, line);
    hd = curl_slist_append(hd, "Expect:"); /* no 100-continue round trip */
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        hd = curl_slist_append(hd, "Content-Type: application/octet-stream");

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, h->buf_data(x->url));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* a request that moves under 1 KiB/s for the timeout is dead (a stopped store, a stuck
     * network): given up and retried, so a long upload is never cut short by a fixed timeout */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (x->timeout_ms + 999) / 1000);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, x->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, x->cred.id);
    curl_easy_setopt(c, CURLOPT_PASSWORD, x->cred.secret);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s3_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        /* the body as POSTFIELDS (not an upload callback): curl's SigV4 then hashes it */
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hd);
    char what[S3_KEY_MAX + 32];
    snprintf(what, sizeof what, "%s %s", method, key ? key : x->bucket);
    if (rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "s3: store.url: %s: %s (%s)", x->endpoint,
                 *cerr ? cerr : curl_easy_strerror(rc), what);
        return SLUICE_RETRY;
    }
    if (status >= 200 && status < 300) {
        /* CompleteMultipartUpload may answer 200 with an error inside */
        const char *b = h->buf_data(x->resp);
        if (strncmp(method, "POST", 4) == 0 && strstr(b, "<Error>"))
            return s3_classify(x, 500, b, what, errstr, errstr_size);
        return SLUICE_OK;
    }
    return s3_classify(x, status, h->buf_data(x->resp), what, errstr, errstr_size);
}
