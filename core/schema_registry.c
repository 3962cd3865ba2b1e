/* schema_registry.c — see schema_registry.h. HTTP through libcurl (one easy handle per call: calls
 * happen once per new schema, not per record), the small REST bodies through cJSON. */
#include "schema_registry.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <dlfcn.h>
/* Plain function declarations: the calls below go through pointers (see sr_curl). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "buf.h"
#include "redact.h"

/* libcurl is loaded with dlopen when the first client is made, not linked: with its dependencies
 * (gnutls, ldap, ssh2, rtmp, …) it costs about 5.5 MiB of resident memory, which a pipeline
 * without a schema registry — most of them, on a 1 GB machine — should not pay. */
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    char *(*easy_escape)(CURL *, const char *, int);
    char *(*easy_unescape)(CURL *, const char *, int, int *);
    void (*free)(void *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    char error[256];
} sr_curl;

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init(f)            sr_curl.global_init(f)
#define curl_easy_init()               sr_curl.easy_init()
#define curl_easy_setopt(h, o, ...)    sr_curl.easy_setopt(h, o, __VA_ARGS__)
#define curl_easy_perform(h)           sr_curl.easy_perform(h)
#define curl_easy_getinfo(h, i, ...)   sr_curl.easy_getinfo(h, i, __VA_ARGS__)
#define curl_easy_cleanup(h)           sr_curl.easy_cleanup(h)
#define curl_easy_reset(h)             sr_curl.easy_reset(h)
#define curl_easy_strerror(e)          sr_curl.easy_strerror(e)
#define curl_easy_escape(h, s, n)      sr_curl.easy_escape(h, s, n)
#define curl_easy_unescape(h, s, n, o) sr_curl.easy_unescape(h, s, n, o)
#define curl_free(p)                   sr_curl.free(p)
#define curl_slist_append(l, s)        sr_curl.slist_append(l, s)
#define curl_slist_free_all(l)         sr_curl.slist_free_all(l)

#define SR_CONNECT_TIMEOUT_MS 10000L
#define SR_DEFAULT_TIMEOUT_MS 30000L
#define SR_CONTENT_TYPE       "application/vnd.schemaregistry.v1+json"
/* A registry answer larger than this is not a schema we want. */
#define SR_MAX_RESPONSE (16u << 20)

struct sr_subject_entry {
    char *subject;
    char *schema;
    int32_t id;
};

struct sr_id_entry {
    int32_t id;
    char *schema;
};

struct sr_client {
    char **urls;  /* base urls without credentials and trailing '/': what is requested */
    char **shown; /* each url as written, through redact_url: what messages show */
    size_t nurls;
    size_t good;   /* index of the url that answered last (under mu) */
    char *userpwd; /* "user:secret" for basic auth, or NULL */
    char *ca_file; /* ssl.ca.location */
    long timeout_ms;
    pthread_mutex_t mu;
    struct sr_subject_entry *subj;
    size_t nsubj, capsubj;
    struct sr_id_entry *ids;
    size_t nids, capids;
    uint64_t requests;
};

/* -- configuration -------------------------------------------------------------------------- */

static const char *const sr_keys[] = {"url", "basic.auth.credentials.source",
                                      "basic.auth.user.info", "request.timeout.ms",
                                      "ssl.ca.location"};
#define SR_NKEYS (sizeof sr_keys / sizeof sr_keys[0])

int sr_strategy_parse(const char *name, enum sr_strategy *out)
{
    static const char prefix[] = "io.confluent.kafka.serializers.subject.";
    *out = SR_TOPIC_NAME;
    if (!name)
        return 0;
    if (strncmp(name, prefix, sizeof prefix - 1) == 0)
        name += sizeof prefix - 1;
    if (strcmp(name, "TopicNameStrategy") == 0)
        *out = SR_TOPIC_NAME;
    else if (strcmp(name, "RecordNameStrategy") == 0)
        *out = SR_RECORD_NAME;
    else if (strcmp(name, "TopicRecordNameStrategy") == 0)
        *out = SR_TOPIC_RECORD_NAME;
    else
        return -1;
    return 0;
}

/* Levenshtein distance for the "did you mean" hint. config_value.c has the full helper, but this
 * module is linked without the config layer (unit tests), and five keys need nothing more. */
static size_t sr_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 63 || lb >= 63)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *sr_hint(const char *key)
{
    /* Confluent's converter names carry a prefix: "schema.registry.url" means "url". */
    static const char prefix[] = "schema.registry.";
    if (strncmp(key, prefix, sizeof prefix - 1) == 0)
        for (size_t i = 0; i < SR_NKEYS; i++)
            if (strcmp(key + sizeof prefix - 1, sr_keys[i]) == 0)
                return sr_keys[i];
    const char *best = NULL;
    size_t best_d = (size_t)-1, limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
    for (size_t i = 0; i < SR_NKEYS; i++) {
        size_t d = sr_distance(key, sr_keys[i]);
        if (d <= limit && d < best_d) {
            best = sr_keys[i];
            best_d = d;
        }
    }
    return best;
}

static const char *sr_get(const char *const *keys, const char *const *values, size_t n,
                          const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i] && strcmp(keys[i], key) == 0)
            return values[i];
    return NULL;
}

/* Where the user info of the url s..e ends: its last '@' (NULL without one). The last, not the
 * first '@' before a '/', as redact_url() decides it: an API secret may hold '/' or '@' unescaped,
 * and the url must neither be misparsed nor shown with part of the secret. */
static const char *sr_url_userinfo_end(const char *s, const char *e)
{
    const char *sep = memmem(s, (size_t)(e - s), "://", 3), *at = NULL;
    for (const char *q = sep ? sep + 3 : e; q < e; q++)
        if (*q == '@')
            at = q;
    return at;
}

int sr_config_check(const char *const *keys, const char *const *values, size_t n, char *errstr,
                    size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < SR_NKEYS && strcmp(keys[i], sr_keys[k]) != 0)
            k++;
        if (k == SR_NKEYS) {
            const char *hint = sr_hint(keys[i]);
            snprintf(errstr, errstr_size,
                     "unknown key '%s'%s%s%s (the keys are url, basic.auth.credentials.source, "
                     "basic.auth.user.info, request.timeout.ms, ssl.ca.location)",
                     keys[i], hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
            return -1;
        }
    }
    const char *url = sr_get(keys, values, n, "url");
    if (!url || !*url) {
        snprintf(errstr, errstr_size,
                 "'url' is required (the registry's base url, e.g. http://127.0.0.1:8081; a "
                 "comma-separated list tries each in turn)");
        return -1;
    }
    size_t item = 0;
    for (const char *p = url; *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        item++;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e == s || !((e - s > 7 && strncmp(s, "http://", 7) == 0) ||
                        (e - s > 8 && strncmp(s, "https://", 8) == 0))) {
            snprintf(errstr, errstr_size,
                     "'url': each url must start with http:// or https:// (item %zu is not)", item);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    const char *src = sr_get(keys, values, n, "basic.auth.credentials.source");
    const char *info = sr_get(keys, values, n, "basic.auth.user.info");
    if (src && strcmp(src, "USER_INFO") != 0 && strcmp(src, "URL") != 0) {
        snprintf(errstr, errstr_size,
                 "'basic.auth.credentials.source' must be USER_INFO or URL, not '%s'", src);
        return -1;
    }
    if (src && strcmp(src, "USER_INFO") == 0 && (!info || !*info)) {
        snprintf(errstr, errstr_size,
                 "'basic.auth.credentials.source' USER_INFO needs 'basic.auth.user.info' "
                 "(key:secret)");
        return -1;
    }
    if (info && (!src || strcmp(src, "USER_INFO") == 0) && !strchr(info, ':')) {
        /* never echo the value: it is a secret */
        snprintf(errstr, errstr_size, "'basic.auth.user.info' must have the form key:secret");
        return -1;
    }
    if (src && strcmp(src, "URL") == 0 && !sr_url_userinfo_end(url, url + strcspn(url, ","))) {
        snprintf(errstr, errstr_size,
                 "'basic.auth.credentials.source' URL needs the credentials in the url "
                 "(http://key:secret@host:port)");
        return -1;
    }
    const char *t = sr_get(keys, values, n, "request.timeout.ms");
    if (t) {
        char *end = NULL;
        long v = strtol(t, &end, 10);
        if (!*t || *end || v <= 0 || v > 3600000) {
            snprintf(errstr, errstr_size,
                     "'request.timeout.ms' must be a number of milliseconds between 1 and 3600000, "
                     "not '%s'",
                     t);
            return -1;
        }
    }
    return 0;
}

/* -- the client ----------------------------------------------------------------------------- */

static pthread_once_t sr_curl_once = PTHREAD_ONCE_INIT;
static void sr_curl_init(void)
{
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(sr_curl.error, sizeof sr_curl.error,
                 "cannot load libcurl.so.4 (package libcurl4): %s", dlerror());
        return;
    }
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&sr_curl.global_init, "curl_global_init"},
        {(void **)&sr_curl.easy_init, "curl_easy_init"},
        {(void **)&sr_curl.easy_setopt, "curl_easy_setopt"},
        {(void **)&sr_curl.easy_perform, "curl_easy_perform"},
        {(void **)&sr_curl.easy_getinfo, "curl_easy_getinfo"},
        {(void **)&sr_curl.easy_cleanup, "curl_easy_cleanup"},
        {(void **)&sr_curl.easy_reset, "curl_easy_reset"},
        {(void **)&sr_curl.easy_strerror, "curl_easy_strerror"},
        {(void **)&sr_curl.easy_escape, "curl_easy_escape"},
        {(void **)&sr_curl.easy_unescape, "curl_easy_unescape"},
        {(void **)&sr_curl.free, "curl_free"},
        {(void **)&sr_curl.slist_append, "curl_slist_append"},
        {(void **)&sr_curl.slist_free_all, "curl_slist_free_all"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
            snprintf(sr_curl.error, sizeof sr_curl.error, "libcurl.so.4 lacks %s", syms[i].name);
            sr_curl.easy_init = NULL;
            return; /* the handle stays open: it is process-wide, like the library would be */
        }
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

sr_client_t *sr_client_new(const char *const *keys, const char *const *values, size_t n,
                           char *errstr, size_t errstr_size)
{
    if (sr_config_check(keys, values, n, errstr, errstr_size) != 0)
        return NULL;
    pthread_once(&sr_curl_once, sr_curl_init);
    if (!sr_curl.easy_init) {
        snprintf(errstr, errstr_size, "%s", sr_curl.error);
        return NULL;
    }
    char *shown = NULL; /* the url being added, as messages show it */
    sr_client_t *c = calloc(1, sizeof *c);
    if (!c)
        goto nomem;
    pthread_mutex_init(&c->mu, NULL);
    c->timeout_ms = SR_DEFAULT_TIMEOUT_MS;
    const char *t = sr_get(keys, values, n, "request.timeout.ms");
    if (t)
        c->timeout_ms = strtol(t, NULL, 10);
    const char *src = sr_get(keys, values, n, "basic.auth.credentials.source");
    const char *info = sr_get(keys, values, n, "basic.auth.user.info");
    int from_url = src && strcmp(src, "URL") == 0;
    if (info && !from_url && !(c->userpwd = strdup(info)))
        goto nomem;
    const char *ca = sr_get(keys, values, n, "ssl.ca.location");
    if (ca && *ca && !(c->ca_file = strdup(ca)))
        goto nomem;
    const char *url = sr_get(keys, values, n, "url");
    for (const char *p = url; *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && (isspace((unsigned char)e[-1]) || e[-1] == '/'))
            e--;
        char **nu = realloc(c->urls, (c->nurls + 1) * sizeof *nu);
        if (!nu)
            goto nomem;
        c->urls = nu;
        if (!(nu = realloc(c->shown, (c->nurls + 1) * sizeof *nu)))
            goto nomem;
        c->shown = nu;
        /* Messages show the url as written with its credentials hidden by the shared rule */
        char *raw = strndup(s, (size_t)(e - s));
        shown = raw ? malloc(redact_url(NULL, 0, raw) + 1) : NULL;
        if (shown)
            redact_url(shown, redact_url(NULL, 0, raw) + 1, raw);
        free(raw);
        if (!shown)
            goto nomem;
        /* Credentials in the url move to the auth header. */
        const char *scheme_end = strstr(s, "://") + 3;
        const char *host = scheme_end, *at = sr_url_userinfo_end(s, e);
        if (at) {
            if (from_url && !c->userpwd) {
                char *up = strndup(scheme_end, (size_t)(at - scheme_end));
                if (!up)
                    goto nomem;
                /* user info in a url is percent-encoded */
                int olen = 0;
                char *dec = curl_easy_unescape(NULL, up, 0, &olen);
                memset(up, 0, strlen(up));
                free(up);
                if (!dec)
                    goto nomem;
                c->userpwd = strdup(dec);
                memset(dec, 0, (size_t)olen);
                curl_free(dec);
                if (!c->userpwd)
                    goto nomem;
            }
            host = at + 1;
        }
        size_t sl = (size_t)(scheme_end - s), hl = (size_t)(e - host);
        char *u = malloc(sl + hl + 1);
        if (!u)
            goto nomem;
        memcpy(u, s, sl);
        memcpy(u + sl, host, hl);
        u[sl + hl] = '\0';
        c->shown[c->nurls] = shown;
        c->urls[c->nurls++] = u;
        shown = NULL;
        p += len;
        if (*p == ',')
            p++;
    }
    return c;
nomem:
    free(shown);
    sr_client_free(c);
    snprintf(errstr, errstr_size, "out of memory while creating the schema registry client");
    return NULL;
}

void sr_client_free(sr_client_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nurls; i++) {
        free(c->urls[i]);
        free(c->shown[i]);
    }
    free(c->urls);
    free(c->shown);
    if (c->userpwd) {
        memset(c->userpwd, 0, strlen(c->userpwd));
        free(c->userpwd);
    }
    free(c->ca_file);
    for (size_t i = 0; i < c->nsubj; i++) {
        free(c->subj[i].subject);
        free(c->subj[i].schema);
    }
    free(c->subj);
    for (size_t i = 0; i < c->nids; i++)
        free(c->ids[i].schema);
    free(c->ids);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *sr_client_url(const sr_client_t *c)
{
    return c && c->nurls ? c->shown[0] : "(none)";
}

uint64_t sr_client_requests(sr_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->requests;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* -- HTTP ----------------------------------------------------------------------------------- */

static size_t sr_write_cb(char *p, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t len = size * n;
    if (b->len + len > SR_MAX_RESPONSE || buf_append(b, p, len) != 0)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    return len;
}

struct sr_response {
    long status;
    const char *url; /* the base url that answered */
    buf_t body;
};

/* One request to the first url that answers (starting with the one that answered last). `path`
 * starts with '/'. Connection failures try the next url; a HTTP answer of any status is returned.
 */
static sluice_err_t sr_http(sr_client_t *c, const char *method, const char *path, const char *body,
                            struct sr_response *r, char *errstr, size_t errstr_size)
{
    sluice_err_t rc = SLUICE_ERR_IO;
    struct curl_slist *hdrs = NULL;
    char curlerr[CURL_ERROR_SIZE];
    buf_t url;
    buf_init(&url);
    r->status = 0;
    r->url = NULL;
    CURL *h = curl_easy_init();
    hdrs = curl_slist_append(hdrs, "Accept: " SR_CONTENT_TYPE ", application/json");
    if (body) {
        struct curl_slist *h2 = curl_slist_append(hdrs, "Content-Type: " SR_CONTENT_TYPE);
        hdrs = h2 ? h2 : hdrs;
    }
    if (!h || !hdrs) {
        rc = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory while calling the schema registry");
        goto out;
    }
    pthread_mutex_lock(&c->mu);
    size_t start = c->good;
    c->requests++;
    pthread_mutex_unlock(&c->mu);
    char failures[768];
    failures[0] = '\0';
    for (size_t k = 0; k < c->nurls; k++) {
        size_t i = (start + k) % c->nurls;
        buf_reset(&url);
        buf_reset(&r->body);
        if (buf_puts(&url, c->urls[i]) != 0 || buf_puts(&url, path) != 0) {
            rc = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory while calling the schema registry");
            goto out;
        }
        curl_easy_reset(h);
        curlerr[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, url.data);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, SR_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sr_write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        if (c->userpwd) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
        }
        if (c->ca_file)
            curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
        CURLcode e = curl_easy_perform(h);
        if (e == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
            r->url = c->shown[i];
            pthread_mutex_lock(&c->mu);
            c->good = i;
            pthread_mutex_unlock(&c->mu);
            rc = SLUICE_OK;
            goto out;
        }
        size_t fl = strlen(failures);
        snprintf(failures + fl, sizeof failures - fl, "%s%s: %s", fl ? "; " : "", c->shown[i],
                 curlerr[0] ? curlerr : curl_easy_strerror(e));
    }
    /* libcurl's own words may quote the url it was given: they pass through the shared rule too */
    char shown[sizeof failures];
    redact_url(shown, sizeof shown, failures);
    snprintf(errstr, errstr_size, "cannot reach the schema registry (%s)", shown);
out:
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    buf_free(&url);
    return rc;
}

/* -- the registry's answers (public for the fuzz harness) ---------------------------------- */

void sr_answer_error(const char *body, size_t len, char *out, size_t outsz, int *error_code)
{
    out[0] = '\0';
    cJSON *j = len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "error_code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsNumber(code) || cJSON_IsString(msg))
        snprintf(out, outsz, ", error_code %d: %.300s", cJSON_IsNumber(code) ? code->valueint : 0,
                 cJSON_IsString(msg) ? msg->valuestring : "");
    else if (len)
        snprintf(out, outsz, ": %.*s", len < 200 ? (int)len : 200, body);
    if (error_code)
        *error_code = cJSON_IsNumber(code) ? code->valueint : 0;
    cJSON_Delete(j);
}

sluice_err_t sr_answer_id(const char *body, size_t len, int32_t *id)
{
    cJSON *resp = cJSON_ParseWithLength(body, len);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(resp, "id");
    sluice_err_t rc = SLUICE_ERR_IO;
    if (cJSON_IsNumber(jid) && jid->valuedouble >= 0 && jid->valuedouble <= INT32_MAX) {
        *id = (int32_t)jid->valuedouble;
        rc = SLUICE_OK;
    }
    cJSON_Delete(resp);
    return rc;
}

sluice_err_t sr_answer_schema(const char *body, size_t len, char **text, char *type,
                              size_t type_size)
{
    cJSON *resp = cJSON_ParseWithLength(body, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(resp, "schema");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "schemaType");
    sluice_err_t rc = SLUICE_ERR_IO;
    *text = NULL;
    if (type_size)
        type[0] = '\0';
    if (cJSON_IsString(t) && strcmp(t->valuestring, "AVRO") != 0) {
        snprintf(type, type_size, "%s", t->valuestring);
        rc = SLUICE_ERR_INVALID;
    } else if (cJSON_IsString(s)) {
        rc = (*text = strdup(s->valuestring)) ? SLUICE_OK : SLUICE_ERR_NOMEM;
    }
    cJSON_Delete(resp);
    return rc;
}

/* The registry's error body {"error_code": N, "message": "..."} as ", error_code N: message". */
static void sr_error_detail(const buf_t *body, char *out, size_t outsz)
{
    sr_answer_error(body->data, body->len, out, outsz, NULL);
}

static int sr_error_code(const buf_t *body)
{
    char ignored[8];
    int code = 0;
    sr_answer_error(body->data, body->len, ignored, sizeof ignored, &code);
    return code;
}

/* -- caches --------------------------------------------------------------------------------- */

static int sr_subject_find(sr_client_t *c, const char *subject, const char *schema, int32_t *id)
{
    int found = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nsubj; i++)
        if (strcmp(c->subj[i].subject, subject) == 0 && strcmp(c->subj[i].schema, schema) == 0) {
            *id = c->subj[i].id;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    return found;
}

static void sr_subject_add(sr_client_t *c, const char *subject, const char *schema, int32_t id)
{
    char *s = strdup(subject), *t = strdup(schema);
    pthread_mutex_lock(&c->mu);
    if (s && t && c->nsubj == c->capsubj) {
        size_t cap = c->capsubj ? c->capsubj * 2 : 8;
        struct sr_subject_entry *n = realloc(c->subj, cap * sizeof *n);
        if (n) {
            c->subj = n;
            c->capsubj = cap;
        }
    }
    if (s && t && c->nsubj < c->capsubj) {
        c->subj[c->nsubj++] = (struct sr_subject_entry){.subject = s, .schema = t, .id = id};
        s = t = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    free(s); /* a cache that could not grow only costs a request next time */
    free(t);
}

static const char *sr_id_find(sr_client_t *c, int32_t id)
{
    const char *text = NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nids; i++)
        if (c->ids[i].id == id) {
            text = c->ids[i].schema;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    return text;
}

/* Adds (id, text) unless present; returns the cached text (stable until the client is freed). */
static const char *sr_id_add(sr_client_t *c, int32_t id, const char *schema)
{
    const char *text = NULL;
    char *t = strdup(schema);
    if (!t)
        return NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nids; i++)
        if (c->ids[i].id == id) {
            text = c->ids[i].schema;
            goto out;
        }
    if (c->nids == c->capids) {
        size_t cap = c->capids ? c->capids * 2 : 8;
        struct sr_id_entry *n = realloc(c->ids, cap * sizeof *n);
        if (!n)
            goto out;
        c->ids = n;
        c->capids = cap;
    }
    c->ids[c->nids++] = (struct sr_id_entry){.id = id, .schema = t};
    text = t;
    t = NULL;
out:
    pthread_mutex_unlock(&c->mu);
    free(t);
    return text;
}

sluice_err_t sr_client_preload(sr_client_t *c, int32_t id, const char *text)
{
    return sr_id_add(c, id, text) ? SLUICE_OK : SLUICE_ERR_NOMEM;
}

void sr_client_preload_subject(sr_client_t *c, const char *subject, const char *text, int32_t id)
{
    sr_subject_add(c, subject, text, id);
}

/* -- operations ----------------------------------------------------------------------------- */

sluice_err_t sr_client_schema_id(sr_client_t *c, const char *subject, const char *schema,
                                 int auto_register, int32_t *id, char *errstr, size_t errstr_size)
{
    sluice_err_t rc;
    char *esc = NULL, *body = NULL, *path = NULL, detail[400];
    cJSON *req = NULL;
    struct sr_response r = {0};
    buf_init(&r.body);
    if (sr_subject_find(c, subject, schema, id))
        return SLUICE_OK;
    rc = SLUICE_ERR_NOMEM;
    req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, "schema", schema) ||
        !(body = cJSON_PrintUnformatted(req)))
        goto nomem;
    esc = curl_easy_escape(NULL, subject, 0);
    if (!esc)
        goto nomem;
    size_t plen = strlen(esc) + 32;
    if (!(path = malloc(plen)))
        goto nomem;
    snprintf(path, plen, auto_register ? "/subjects/%s/versions" : "/subjects/%s", esc);
    if ((rc = sr_http(c, "POST", path, body, &r, errstr, errstr_size)) != SLUICE_OK) {
        size_t l = strlen(errstr);
        snprintf(errstr + l, errstr_size - l, " while %s the schema under subject '%s'",
                 auto_register ? "registering" : "looking up", subject);
        goto out;
    }
    if (r.status == 200) {
        if (sr_answer_id(r.body.data, r.body.len, id) != SLUICE_OK) {
            rc = SLUICE_ERR_IO;
            snprintf(errstr, errstr_size,
                     "schema registry %s answered %s under subject '%s' without a schema id: "
                     "%.200s",
                     r.url, auto_register ? "the registration" : "the lookup", subject,
                     r.body.len ? r.body.data : "(empty)");
            goto out;
        }
        sr_subject_add(c, subject, schema, *id);
        rc = SLUICE_OK;
        goto out;
    }
    sr_error_detail(&r.body, detail, sizeof detail);
    rc = r.status >= 500 ? SLUICE_ERR_IO : SLUICE_ERR_INVALID;
    if (!auto_register && r.status == 404)
        snprintf(errstr, errstr_size,
                 "schema not registered under subject '%s' and auto.register.schemas is false "
                 "(schema registry %s: HTTP 404%s)",
                 subject, r.url, detail);
    else if (r.status == 401 || r.status == 403)
        snprintf(errstr, errstr_size,
                 "schema registry %s refused the credentials (HTTP %ld%s) for subject '%s'; check "
                 "basic.auth.user.info",
                 r.url, r.status, detail, subject);
    else if (r.status == 409)
        snprintf(errstr, errstr_size,
                 "schema registry %s: the schema is incompatible with the schemas already under "
                 "subject '%s' (HTTP 409%s)",
                 r.url, subject, detail);
    else if (r.status == 422)
        snprintf(errstr, errstr_size,
                 "schema registry %s: the schema is invalid for subject '%s' (HTTP 422%s)", r.url,
                 subject, detail);
    else
        snprintf(errstr, errstr_size,
                 "schema registry %s: %s the schema under subject '%s' failed "
                 "(HTTP %ld%s)",
                 r.url, auto_register ? "registering" : "looking up", subject, r.status, detail);
    goto out;
nomem:
    snprintf(errstr, errstr_size, "out of memory while registering a schema");
out:
    cJSON_Delete(req);
    cJSON_free(body);
    curl_free(esc);
    free(path);
    buf_free(&r.body);
    return rc;
}

sluice_err_t sr_client_schema_by_id(sr_client_t *c, int32_t id, const char **text, char *errstr,
                                    size_t errstr_size)
{
    sluice_err_t rc;
    char path[64], detail[400], type[48];
    char *schema = NULL;
    struct sr_response r = {0};
    buf_init(&r.body);
    if ((*text = sr_id_find(c, id)))
        return SLUICE_OK;
    snprintf(path, sizeof path, "/schemas/ids/%d", (int)id);
    if ((rc = sr_http(c, "GET", path, NULL, &r, errstr, errstr_size)) != SLUICE_OK) {
        size_t l = strlen(errstr);
        snprintf(errstr + l, errstr_size - l, " while fetching schema id %d", (int)id);
        goto out;
    }
    if (r.status == 200) {
        rc = sr_answer_schema(r.body.data, r.body.len, &schema, type, sizeof type);
        if (rc == SLUICE_ERR_INVALID) {
            snprintf(errstr, errstr_size,
                     "schema id %d in schema registry %s is a %.40s schema, not Avro", (int)id,
                     r.url, type);
            goto out;
        }
        if (rc == SLUICE_ERR_IO) {
            snprintf(errstr, errstr_size,
                     "schema registry %s answered schema id %d without a schema: %.200s", r.url,
                     (int)id, r.body.len ? r.body.data : "(empty)");
            goto out;
        }
        if (rc != SLUICE_OK || !(*text = sr_id_add(c, id, schema))) {
            rc = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory while caching schema id %d", (int)id);
            goto out;
        }
        rc = SLUICE_OK;
        goto out;
    }
    sr_error_detail(&r.body, detail, sizeof detail);
    rc = r.status >= 500 ? SLUICE_ERR_IO : SLUICE_ERR_INVALID;
    if (r.status == 404 || sr_error_code(&r.body) == 40403)
        snprintf(errstr, errstr_size, "schema id %d is not in schema registry %s (HTTP %ld%s)",
                 (int)id, r.url, r.status, detail);
    else
        snprintf(errstr, errstr_size,
                 "schema registry %s: fetching schema id %d failed (HTTP %ld%s)", r.url, (int)id,
                 r.status, detail);
out:
    free(schema);
    buf_free(&r.body);
    return rc;
}
