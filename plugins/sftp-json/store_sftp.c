/*
 * store_sftp.c — the sftp-json store on an SFTP server, through libcurl's SFTP (libssh2 backend).
 *
 * Why libcurl and not libssh2 directly: libcurl is already a dependency of sluice, it drives the
 * non-blocking SSH state machine with connect and low-speed timeouts, keeps one SSH connection
 * alive per easy handle between transfers (and notices a dead one), checks host keys against a
 * known_hosts file or a pinned SHA-256 fingerprint, and its SFTP "quote" commands cover rename,
 * rm and mkdir. What it lacks is written here: recursive listing (parsing the server's long
 * listing), replace-on-rename, and the SHA-256 of a refused host key for the message.
 *
 * Every operation runs on the store's one easy handle (curl_easy_reset keeps the live
 * connection), so a task has one persistent SSH connection; a transient failure drops the handle
 * and the next call logs in again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "store.h"

#define SIZE_CACHE 32
#define DIR_CACHE  64

struct size_entry {
    char *path;     /* relative path, NULL when the slot is free */
    long long size; /* the size after our last append that succeeded */
    int uncertain;  /* an append failed midway: `size` is the start of that append */
    int fresh;      /* the file does not exist yet: the first append creates it */
};

struct sftp_store {
    struct store base;
    CURL *curl;
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    char *hostname;
    int port;
    char *user;
    char *password;
    char *key;
    char *passphrase;
    char *root; /* absolute path on the server, or "/~" (the login's start directory) */
    char *known_hosts;
    char *sha256;
    long connect_timeout_ms;
    long timeout_ms;
    long file_perms, dir_perms; /* asked of the server at SSH_FXP_OPEN / MKDIR */
    char where[300];            /* "host:port (user U)" for messages */
    char errbuf[CURL_ERROR_SIZE];
    char hostkey_msg[512]; /* set by the known_hosts callback when it refuses a key */
    /* the read callback's data */
    const unsigned char *rd;
    size_t rd_left;
    /* the write callback's buffer (directory listings) */
    char *wbuf;
    size_t wlen, wcap;
    int wfail;
    struct size_entry sizes[SIZE_CACHE];
    unsigned size_next;
    /* Directories known to exist on the server (server paths): a rename skips their mkdir.
     * Every SFTP request is a round trip, and a file's rename would otherwise send one mkdir per
     * path component (topics/t/year=/month=/day=/hour=). Forgotten when a rename fails. */
    char *dirs[DIR_CACHE];
    unsigned dir_next;
};

/* ------------------------------------------------------------------ SHA-256 and base64 */
/* libcurl computes the fingerprint of a pinned key but exposes no hash, and the plugin links
 * only libcurl: for the fingerprint of a key refused by known_hosts, FIPS 180-4 by hand. */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256(const unsigned char *data, size_t len, unsigned char out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char blk[64];
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
        sha256_block(h, data + i);
    size_t rest = len - i;
    memset(blk, 0, sizeof(blk));
    memcpy(blk, data + i, rest);
    blk[rest] = 0x80;
    if (rest >= 56) {
        sha256_block(h, blk);
        memset(blk, 0, sizeof(blk));
    }
    uint64_t bits = (uint64_t)len * 8;
    for (int k = 0; k < 8; k++)
        blk[63 - k] = (unsigned char)(bits >> (8 * k));
    sha256_block(h, blk);
    for (int k = 0; k < 8; k++) {
        out[4 * k] = (unsigned char)(h[k] >> 24);
        out[4 * k + 1] = (unsigned char)(h[k] >> 16);
        out[4 * k + 2] = (unsigned char)(h[k] >> 8);
        out[4 * k + 3] = (unsigned char)h[k];
    }
}

/* base64 without padding, as ssh-keygen -l prints fingerprints */
static void base64_nopad(const unsigned char *in, size_t len, char *out, size_t out_size)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < out_size; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------------ small helpers */

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

/* The server path of `rel`: root + "/" + rel ("/~/..." is the login's start directory). */
static char *full_path(const struct sftp_store *s, const char *rel)
{
    while (*rel == '/')
        rel++;
    size_t n = strlen(s->root) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", s->root, rel);
    return p;
}

/* sftp://host:port<percent-encoded path> */
static char *make_url(const struct sftp_store *s, const char *path)
{
    size_t n = strlen(s->hostname) + strlen(path) * 3 + 32;
    char *u = malloc(n);
    if (!u)
        return NULL;
    int k = snprintf(u, n, strchr(s->hostname, ':') ? "sftp://[%s]:%d" : "sftp://%s:%d",
                     s->hostname, s->port);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            u[k++] = (char)*p;
        else
            k += snprintf(u + k, 4, "%%%02X", *p);
    }
    u[k] = '\0';
    return u;
}

/* A quote command "CMD "path1" ["path2"]" (paths quoted, '"' and '\' escaped). */
static struct curl_slist *add_quote(struct curl_slist *l, int *ok, const char *cmd, const char *p1,
                                    const char *p2)
{
    size_t n = strlen(cmd) + 2 * (strlen(p1) + (p2 ? strlen(p2) : 0)) + 16;
    char *q = malloc(n);
    if (!q) {
        *ok = 0;
        return l;
    }
    size_t k = (size_t)snprintf(q, n, "%s ", cmd);
    for (int i = 0; i < 2; i++) {
        const char *p = i ? p2 : p1;
        if (!p)
            break;
        if (i)
            q[k++] = ' ';
        q[k++] = '"';
        for (; *p; p++) {
            if (*p == '"' || *p == '\\')
                q[k++] = '\\';
            q[k++] = *p;
        }
        q[k++] = '"';
    }
    q[k] = '\0';
    struct curl_slist *nl = curl_slist_append(l, q);
    free(q);
    if (!nl) {
        *ok = 0;
        return l;
    }
    return nl;
}

/* ------------------------------------------------------------------ libcurl callbacks */

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct sftp_store *s = ud;
    size_t k = size * n < s->rd_left ? size * n : s->rd_left;
    memcpy(buf, s->rd, k);
    s->rd += k;
    s->rd_left -= k;
    return k;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct sftp_store *s = ud;
    size_t k = size * n;
    if (s->wlen + k + 1 > s->wcap) {
        size_t cap = s->wcap ? s->wcap : 4096;
        while (cap < s->wlen + k + 1)
            cap *= 2;
        char *nb = realloc(s->wbuf, cap);
        if (!nb) {
            s->wfail = 1;
            return 0;
        }
        s->wbuf = nb;
        s->wcap = cap;
    }
    memcpy(s->wbuf + s->wlen, data, k);
    s->wlen += k;
    s->wbuf[s->wlen] = '\0';
    return k;
}

/* known_hosts verdict: only a key that matches the file is accepted; a refusal says why and
 * shows the key's SHA-256 fingerprint. */
static int on_hostkey(CURL *easy, const struct curl_khkey *known, const struct curl_khkey *found,
                      enum curl_khmatch match, void *ud)
{
    struct sftp_store *s = ud;
    (void)easy;
    (void)known;
    if (match == CURLKHMATCH_OK)
        return CURLKHSTAT_FINE;
    char fp[64] = "?";
    if (found && found->len > 0) {
        unsigned char h[32];
        sha256((const unsigned char *)found->key, found->len, h);
        base64_nopad(h, sizeof(h), fp, sizeof(fp));
    }
    snprintf(s->hostkey_msg, sizeof(s->hostkey_msg),
             match == CURLKHMATCH_MISMATCH
                 ? "host key CHANGED: the server presents SHA256:%s, which differs from the key "
                   "for [%s]:%d in sftp.known.hosts %s (if the server's key really changed, "
                   "update that file)"
                 : "unknown host key SHA256:%s: no entry for [%s]:%d in sftp.known.hosts %s "
                   "(check the fingerprint with the server's admin, then add the key: "
                   "ssh-keyscan -p PORT HOST >> FILE)",
             fp, s->hostname, s->port, s->known_hosts);
    return CURLKHSTAT_REJECT;
}

/* ------------------------------------------------------------------ one operation */

static void reconnect_next_time(struct sftp_store *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    s->curl = NULL;
}

/* Resets the handle (the live connection stays) and sets what every operation needs. */
static int prepare(struct sftp_store *s, const char *url, long total_timeout_ms)
{
    if (!s->curl && !(s->curl = curl_easy_init()))
        return -1;
    CURL *c = s->curl;
    curl_easy_reset(c);
    s->errbuf[0] = '\0';
    s->hostkey_msg[0] = '\0';
    int bad = 0;
    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf) != CURLE_OK;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "sftp");
    curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
    if (s->key) {
        curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
        curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, s->key);
        if (s->passphrase)
            curl_easy_setopt(c, CURLOPT_KEYPASSWD, s->passphrase);
    } else {
        curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES,
                         (long)(CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD));
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
    }
    if (s->sha256)
        bad |= curl_easy_setopt(c, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, s->sha256) != CURLE_OK;
    if (s->known_hosts) {
        bad |= curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, s->known_hosts) != CURLE_OK;
        curl_easy_setopt(c, CURLOPT_SSH_KEYFUNCTION, on_hostkey);
        curl_easy_setopt(c, CURLOPT_SSH_KEYDATA, s);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    /* a transfer slower than 1 byte/s for the timeout is dead; `total` caps the rest */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->timeout_ms < 2000 ? 1L : s->timeout_ms / 1000);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, 3600L);
    /* file.mode: the server creates with these (its own umask may still take bits away) */
    curl_easy_setopt(c, CURLOPT_NEW_DIRECTORY_PERMS, s->dir_perms);
    curl_easy_setopt(c, CURLOPT_NEW_FILE_PERMS, s->file_perms);
    return bad ? -1 : 0;
}

static long op_timeout(const struct sftp_store *s, size_t bytes)
{
    /* connect + one timeout, plus time for the bytes at no less than 64 KiB/s */
    return s->connect_timeout_ms + s->timeout_ms + (long)(bytes / 64);
}

/* Maps a failed operation to the store's result, with a message naming server, user and path. */
static sluice_err_t fail(struct sftp_store *s, CURLcode rc, const char *op, const char *path,
                         char *errstr, size_t errstr_size)
{
    const char *detail = s->hostkey_msg[0] ? s->hostkey_msg
                         : s->errbuf[0]    ? s->errbuf
                                           : curl_easy_strerror(rc);
    size_t dl = strlen(detail);
    while (dl && detail[dl - 1] == '\n')
        dl--;
    sluice_err_t err;
    const char *hint = "";
    switch (rc) {
    case CURLE_LOGIN_DENIED:
        err = SLUICE_FATAL;
        hint = s->key ? " (authentication refused: check sftp.username, sftp.private.key and "
                        "sftp.private.key.passphrase)"
                      : " (authentication refused: check sftp.username and sftp.password)";
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        err = SLUICE_FATAL;
        if (!s->hostkey_msg[0])
            hint = " (the server's host key does not match sftp.host.key.sha256: the "
                   "fingerprint after 'Remote' is the one the server presents)";
        break;
    case CURLE_REMOTE_ACCESS_DENIED:
        err = SLUICE_FATAL;
        hint = " (permission denied)";
        break;
    case CURLE_REMOTE_FILE_NOT_FOUND:
        err = SLUICE_FATAL;
        hint = " (a directory is missing and could not be created: does the user have write "
               "permission on sftp.working.dir?)";
        break;
    case CURLE_QUOTE_ERROR:
        /* an SFTP status from the server (permission denied, no such file, failure) */
        err = SLUICE_FATAL;
        break;
    case CURLE_REMOTE_DISK_FULL:
        err = SLUICE_RETRY;
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FILE_COULDNT_READ_FILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_FAILED_INIT:
        err = SLUICE_FATAL;
        break;
    case CURLE_OUT_OF_MEMORY:
        err = SLUICE_RETRY;
        break;
    default:
        /* couldn't connect/resolve, timeouts, send/recv errors, the SSH layer's socket errors
         * (CURLE_SSH, CURLE_AGAIN, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE...): transient */
        err = SLUICE_NOT_CONNECTED;
        break;
    }
    snprintf(errstr, errstr_size, "sftp %s: %s %s: %.*s%s%s", s->where, op, path, (int)dl, detail,
             hint,
             err == SLUICE_NOT_CONNECTED ? "; will reconnect"
             : err == SLUICE_FATAL       ? ""
                                         : "; will retry");
    if (err != SLUICE_FATAL || rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_LOGIN_DENIED)
        reconnect_next_time(s);
    return err;
}

static sluice_err_t nomem(char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "sftp: out of memory");
    return SLUICE_ERR_NOMEM;
}

/* Runs quote commands on the connection (a no-body request on the root directory). */
/* A path that would leave the working directory (store.h): the caller's bug, never sent. */
static sluice_err_t refused(const struct sftp_store *s, const char *path, char *errstr,
                            size_t errstr_size)
{
    snprintf(errstr, errstr_size, "sftp %s: refusing the path '%s': %s", s->where, path,
             store_path_unsafe(path));
    return SLUICE_FATAL;
}

static sluice_err_t run_quotes(struct sftp_store *s, struct curl_slist *q, const char *op,
                               const char *path, char *errstr, size_t errstr_size)
{
    char *dir = full_path(s, "");
    char *url = dir ? make_url(s, dir) : NULL;
    sluice_err_t err = SLUICE_OK;
    if (!url) {
        err = nomem(errstr, errstr_size);
        goto out;
    }
    if (prepare(s, url, op_timeout(s, 0)) != 0) {
        snprintf(errstr, errstr_size, "sftp %s: cannot set up libcurl", s->where);
        err = SLUICE_FATAL;
        goto out;
    }
    curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(s->curl, CURLOPT_QUOTE, q);
    CURLcode rc = curl_easy_perform(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_QUOTE, NULL);
    if (rc != CURLE_OK)
        err = fail(s, rc, op, path, errstr, errstr_size);
out:
    free(url);
    free(dir);
    return err;
}

/* ------------------------------------------------------------------ size cache (append) */

static struct size_entry *cache_find(struct sftp_store *s, const char *path)
{
    for (int i = 0; i < SIZE_CACHE; i++)
        if (s->sizes[i].path && strcmp(s->sizes[i].path, path) == 0)
            return &s->sizes[i];
    return NULL;
}

static void cache_drop(struct sftp_store *s, const char *path)
{
    struct size_entry *e = cache_find(s, path);
    if (e) {
        free(e->path);
        e->path = NULL;
    }
}

static struct size_entry *cache_put(struct sftp_store *s, const char *path, long long size)
{
    struct size_entry *e = cache_find(s, path);
    if (!e) {
        e = &s->sizes[s->size_next++ % SIZE_CACHE];
        free(e->path);
        if (!(e->path = strdup(path)))
            return NULL;
    }
    e->size = size;
    e->uncertain = 0;
    e->fresh = 0;
    return e;
}

static int dir_known(const struct sftp_store *s, const char *dir)
{
    for (int i = 0; i < DIR_CACHE; i++)
        if (s->dirs[i] && strcmp(s->dirs[i], dir) == 0)
            return 1;
    return 0;
}

static void dir_add(struct sftp_store *s, const char *dir)
{
    if (dir_known(s, dir))
        return;
    char **slot = &s->dirs[s->dir_next++ % DIR_CACHE];
    free(*slot);
    *slot = strdup(dir); /* NULL on ENOMEM: only forgets it */
}

static void dirs_forget(struct sftp_store *s)
{
    for (int i = 0; i < DIR_CACHE; i++) {
        free(s->dirs[i]);
        s->dirs[i] = NULL;
    }
}

/* ------------------------------------------------------------------ the operations */

static sluice_err_t sftp_size(store_t *st, const char *path, long long *size, char *errstr,
                              size_t errstr_size);

static sluice_err_t sftp_append(store_t *st, const char *path, const void *data, size_t len,
                                char *errstr, size_t errstr_size)
{
    struct sftp_store *s = (struct sftp_store *)st;
    if (store_path_unsafe(path))
        return refused(s, path, errstr, errstr_size);
    sluice_err_t err = SLUICE_OK;
    char *fp = NULL, *url = NULL;

    /* An append that failed midway may have written a part: the caller retries with the same
     * bytes, so skip what the file already has (exactly once). The size before an append is
     * known from the last one, or asked once for a file not seen yet. */
    struct size_entry *e = cache_find(s, path);
    int create = e && e->fresh && !e->uncertain; /* a new file: open it truncating, no stat */
    if (!e || e->uncertain) {
        long long cur;
        err = sftp_size(st, path, &cur, errstr, errstr_size);
        if (err != SLUICE_OK)
            return err;
        if (cur < 0)
            cur = 0;
        if (e && e->uncertain) {
            long long done = cur - e->size;
            if (done < 0 || (unsigned long long)done > len) {
                snprintf(errstr, errstr_size,
                         "sftp %s: append %s: the file has %lld bytes, but %lld were expected "
                         "before this append of %zu bytes (changed by someone else?)",
                         s->where, path, cur, e->size, len);
                return SLUICE_FATAL;
            }
            data = (const char *)data + done;
            len -= (size_t)done;
            e->size = cur;
            e->uncertain = 0;
            if (len == 0)
                return SLUICE_OK;
        } else if (!(e = cache_put(s, path, cur))) {
            return nomem(errstr, errstr_size);
        }
    }

    fp = full_path(s, path);
    url = fp ? make_url(s, fp) : NULL;
    if (!url) {
        err = nomem(errstr, errstr_size);
        goto out;
    }
    if (prepare(s, url, op_timeout(s, len)) != 0) {
        snprintf(errstr, errstr_size, "sftp %s: cannot set up libcurl", s->where);
        err = SLUICE_FATAL;
        goto out;
    }
    s->rd = data;
    s->rd_left = len;
    curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(s->curl, CURLOPT_APPEND, create ? 0L : 1L);
    curl_easy_setopt(s->curl, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR);
    curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc != CURLE_OK) {
        e->uncertain = 1;
        err = fail(s, rc, "append to", fp, errstr, errstr_size);
        goto out;
    }
    e->fresh = 0;
    e->size += (long long)len;
out:
    free(url);
    free(fp);
    return err;
}

/* One rename request: mkdir for the target's directories not known to exist (each may fail: it
 * exists), `*rm` of the target when `replace`, then rename. */
static sluice_err_t rename_once(struct sftp_store *s, const char *ffrom, char *fto, int replace,
                                char *errstr, size_t errstr_size)
{
    struct curl_slist *q = NULL;
    int ok = 1;
    sluice_err_t err;
    for (char *sl = strchr(fto + 1, '/'); ok && sl; sl = strchr(sl + 1, '/')) {
        *sl = '\0';
        if (strlen(fto) > strlen(s->root) && !dir_known(s, fto))
            q = add_quote(q, &ok, "*mkdir", fto, NULL);
        *sl = '/';
    }
    /* OpenSSH speaks SFTP v3, where SSH_FXP_RENAME fails when the target exists, and libssh2
     * (1.10) sends neither the v5 overwrite flag to a v3 server nor posix-rename@openssh.com.
     * So to replace, the target is removed first. That order is safe for the sink: `from` is a
     * complete file whose offsets are not committed yet; if we stop between rm and rename, the
     * temp file is still there and the sink redoes the rename (or rewrites the same file) after
     * restart. */
    if (ok && replace)
        q = add_quote(q, &ok, "*rm", fto, NULL);
    if (ok)
        q = add_quote(q, &ok, "rename", ffrom, fto);
    if (!ok) {
        err = nomem(errstr, errstr_size);
    } else {
        size_t n = strlen(ffrom) + strlen(fto) + 8;
        char *both = malloc(n);
        if (!both)
            err = nomem(errstr, errstr_size);
        else {
            snprintf(both, n, "%s to %s", ffrom, fto);
            err = run_quotes(s, q, "rename", both, errstr, errstr_size);
            free(both);
        }
    }
    curl_slist_free_all(q);
    if (err == SLUICE_OK) /* the target's directories exist now */
        for (char *sl = strchr(fto + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
            *sl = '\0';
            if (strlen(fto) > strlen(s->root))
                dir_add(s, fto);
            *sl = '/';
        }
    return err;
}

static sluice_err_t sftp_rename(store_t *st, const char *from, const char *to, char *errstr,
                                size_t errstr_size)
{
    struct sftp_store *s = (struct sftp_store *)st;
    if (store_path_unsafe(from) || store_path_unsafe(to))
        return refused(s, store_path_unsafe(from) ? from : to, errstr, errstr_size);
    char *ffrom = full_path(s, from), *fto = full_path(s, to);
    sluice_err_t err;
    if (!ffrom || !fto) {
        err = nomem(errstr, errstr_size);
        goto out;
    }
    /* Usually the target does not exist and its directories are known: one request. When that
     * fails for a reason the server gave (the target exists after a crash, a directory was
     * removed by someone else), the full form: every mkdir, rm, rename. */
    err = rename_once(s, ffrom, fto, 0, errstr, errstr_size);
    if (err == SLUICE_FATAL) {
        /* A retry of a rename whose answer was lost with the connection finds `from` gone and
         * `to` in place: done. Removing `to` first would lose it. */
        long long fsize = -1, tsize = -1;
        if (sftp_size(st, from, &fsize, errstr, errstr_size) == SLUICE_OK && fsize < 0 &&
            sftp_size(st, to, &tsize, errstr, errstr_size) == SLUICE_OK && tsize >= 0) {
            errstr[0] = '\0';
            err = SLUICE_OK;
        } else {
            dirs_forget(s);
            err = rename_once(s, ffrom, fto, 1, errstr, errstr_size);
        }
    }
    if (err == SLUICE_OK) {
        cache_drop(s, to);
        struct size_entry *e = cache_find(s, from);
        if (e) {
            free(e->path);
            e->path = strdup(to); /* NULL on ENOMEM: only forgets the size */
        }
    }
out:
    free(ffrom);
    free(fto);
    return err;
}

static void sftp_created(store_t *st, const char *path)
{
    struct sftp_store *s = (struct sftp_store *)st;
    struct size_entry *e = cache_put(s, path, 0);
    if (e)
        e->fresh = 1;
}

static sluice_err_t sftp_remove(store_t *st, const char *path, char *errstr, size_t errstr_size)
{
    struct sftp_store *s = (struct sftp_store *)st;
    if (store_path_unsafe(path))
        return refused(s, path, errstr, errstr_size);
    char *fp = full_path(s, path);
    struct curl_slist *q = NULL;
    int ok = fp != NULL;
    sluice_err_t err;
    if (ok)
        q = add_quote(q, &ok, "rm", fp, NULL);
    if (!ok) {
        err = nomem(errstr, errstr_size);
        goto out;
    }
    err = run_quotes(s, q, "remove", fp, errstr, errstr_size);
    /* a missing file is not an error (libcurl reports the SFTP status in its message) */
    if (err == SLUICE_FATAL && strstr(s->errbuf, "No such file")) {
        err = SLUICE_OK;
        errstr[0] = '\0';
    }
    if (err == SLUICE_OK)
        cache_drop(s, path);
out:
    curl_slist_free_all(q);
    free(fp);
    return err;
}

static sluice_err_t sftp_size(store_t *st, const char *path, long long *size, char *errstr,
                              size_t errstr_size)
{
    struct sftp_store *s = (struct sftp_store *)st;
    if (store_path_unsafe(path))
        return refused(s, path, errstr, errstr_size);
    char *fp = full_path(s, path);
    char *url = fp ? make_url(s, fp) : NULL;
    sluice_err_t err = SLUICE_OK;
    *size = -1;
    if (!url) {
        err = nomem(errstr, errstr_size);
        goto out;
    }
    if (prepare(s, url, op_timeout(s, 0)) != 0) {
        snprintf(errstr, errstr_size, "sftp %s: cannot set up libcurl", s->where);
        err = SLUICE_FATAL;
        goto out;
    }
    curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc == CURLE_REMOTE_FILE_NOT_FOUND)
        goto out;
    if (rc != CURLE_OK) {
        err = fail(s, rc, "size of", fp, errstr, errstr_size);
        goto out;
    }
    curl_off_t cl = -1;
    if (curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
        *size = cl;
out:
    free(url);
    free(fp);
    return err;
}

/* One directory's long listing ("-rw-r--r-- 1 u g SIZE Mon DD HH:MM NAME" per line, as OpenSSH
 * sends it); files to `fn`, subdirectories appended to `dirs` (a '\n'-separated list). */
static int parse_listing(char *text, const char *rel, int (*fn)(void *, const char *, long long),
                         void *ctx, char **dirs, size_t *dlen, int *stop)
{
    for (char *line = text, *next; line && *line && !*stop; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[--ll] = '\0';
        char type = line[0];
        char *p = line, *sizef = NULL;
        int field;
        for (field = 0; field < 8 && *p; field++) {
            while (*p == ' ')
                p++;
            if (field == 4)
                sizef = p;
            while (*p && *p != ' ')
                p++;
        }
        if (field < 8 || *p != ' ' || !sizef)
            continue;
        char *name = p + 1;
        if (type == 'l') /* a symlink: not followed */
            continue;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        size_t n = strlen(rel) + strlen(name) + 2;
        char *child = malloc(n);
        if (!child)
            return -1;
        snprintf(child, n, "%s%s%s", rel, *rel ? "/" : "", name);
        if (type == 'd') {
            char *nd = realloc(*dirs, *dlen + n + 1);
            if (!nd) {
                free(child);
                return -1;
            }
            *dirs = nd;
            size_t cl = strlen(child);
            memcpy(*dirs + *dlen, child, cl);
            *dlen += cl;
            (*dirs)[(*dlen)++] = '\n';
            (*dirs)[*dlen] = '\0';
        } else if (type == '-') {
            if (fn(ctx, child, strtoll(sizef, NULL, 10)) != 0)
                *stop = 1;
        }
        free(child);
    }
    return 0;
}

static sluice_err_t sftp_list(store_t *st, const char *dir,
                              int (*fn)(void *ctx, const char *path, long long size), void *ctx,
                              char *errstr, size_t errstr_size)
{
    struct sftp_store *s = (struct sftp_store *)st;
    sluice_err_t err = SLUICE_OK;
    char *dirs = NULL, *fp = NULL, *url = NULL;
    size_t dlen = 0, pos = 0;
    int stop = 0;

    while (*dir == '/')
        dir++;
    if (store_path_unsafe(dir))
        return refused(s, dir, errstr, errstr_size);
    size_t n0 = strlen(dir);
    while (n0 && dir[n0 - 1] == '/')
        n0--;
    if (!(dirs = malloc(n0 + 2)))
        return nomem(errstr, errstr_size);
    memcpy(dirs, dir, n0);
    dirs[n0] = '\n';
    dirs[n0 + 1] = '\0';
    dlen = n0 + 1;

    while (pos < dlen && !stop) {
        char *nl = strchr(dirs + pos, '\n');
        size_t rl = (size_t)(nl - (dirs + pos));
        char *rel = strndup(dirs + pos, rl);
        pos += rl + 1;
        if (!rel) {
            err = nomem(errstr, errstr_size);
            goto out;
        }
        free(fp);
        free(url);
        url = NULL;
        size_t fl = strlen(rel) + 2;
        char *withslash = malloc(fl);
        if (withslash)
            snprintf(withslash, fl, "%s/", rel);
        fp = withslash ? full_path(s, withslash) : NULL;
        free(withslash);
        url = fp ? make_url(s, fp) : NULL;
        if (!url) {
            free(rel);
            err = nomem(errstr, errstr_size);
            goto out;
        }
        if (prepare(s, url, op_timeout(s, 0) + 30000) != 0) {
            free(rel);
            snprintf(errstr, errstr_size, "sftp %s: cannot set up libcurl", s->where);
            err = SLUICE_FATAL;
            goto out;
        }
        s->wlen = 0;
        s->wfail = 0;
        if (s->wbuf)
            s->wbuf[0] = '\0';
        curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
        CURLcode rc = curl_easy_perform(s->curl);
        if (rc == CURLE_REMOTE_FILE_NOT_FOUND) { /* a missing directory lists nothing */
            free(rel);
            continue;
        }
        if (rc != CURLE_OK || s->wfail) {
            free(rel);
            err = s->wfail ? nomem(errstr, errstr_size)
                           : fail(s, rc, "list", fp, errstr, errstr_size);
            goto out;
        }
        /* the buffer is reused by the next listing: parse it now, before the next perform */
        char *text = s->wbuf ? s->wbuf : (char *)"";
        /* `dirs` may move: keep offsets only */
        int r = parse_listing(text, rel, fn, ctx, &dirs, &dlen, &stop);
        free(rel);
        if (r != 0) {
            err = nomem(errstr, errstr_size);
            goto out;
        }
    }
out:
    free(url);
    free(fp);
    free(dirs);
    return err;
}

static void sftp_disconnect(store_t *st)
{
    reconnect_next_time((struct sftp_store *)st);
}

static void sftp_free(store_t *st)
{
    struct sftp_store *s = (struct sftp_store *)st;
    if (!s)
        return;
    reconnect_next_time(s);
    for (int i = 0; i < SIZE_CACHE; i++)
        free(s->sizes[i].path);
    dirs_forget(s);
    free(s->hostname);
    free(s->user);
    free_secret(s->password);
    free(s->key);
    free_secret(s->passphrase);
    free(s->root);
    free(s->known_hosts);
    free(s->sha256);
    free(s->wbuf);
    free(s);
}

static const struct store_ops sftp_ops = {
    .name = "sftp",
    .append = sftp_append,
    .rename = sftp_rename,
    .remove = sftp_remove,
    .list = sftp_list,
    .size = sftp_size,
    .created = sftp_created,
    .disconnect = sftp_disconnect,
    .free = sftp_free,
};

store_t *store_sftp_new(const struct store_sftp_config *cfg, const struct sluice_host *host,
                        sluice_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    struct sftp_store *s = NULL;
    static int curl_ready;

    if (!cfg->host || !*cfg->host) {
        snprintf(errstr, errstr_size, "sftp.host is not set");
        return NULL;
    }
    if (!cfg->username || !*cfg->username) {
        snprintf(errstr, errstr_size, "sftp.username is not set");
        return NULL;
    }
    if ((!cfg->password || !*cfg->password) && (!cfg->private_key || !*cfg->private_key)) {
        snprintf(errstr, errstr_size,
                 "neither sftp.password nor sftp.private.key is set: set one to log in as '%s'",
                 cfg->username);
        return NULL;
    }
    int have_fp = cfg->host_key_sha256 && *cfg->host_key_sha256;
    int have_kh = cfg->known_hosts && *cfg->known_hosts;
    if (!have_fp && !have_kh && cfg->host_key_check) {
        snprintf(errstr, errstr_size,
                 "the host key of %s cannot be verified: set sftp.known.hosts (an OpenSSH "
                 "known_hosts file, e.g. from ssh-keyscan -p PORT HOST) or sftp.host.key.sha256 "
                 "(the base64 SHA-256 fingerprint, as ssh-keygen -l -E sha256 prints it), or "
                 "sftp.host.key.check: false to accept any key (open to man-in-the-middle)",
                 cfg->host);
        return NULL;
    }
    if (have_kh) {
        FILE *f = fopen(cfg->known_hosts, "r");
        if (!f) {
            snprintf(errstr, errstr_size, "sftp.known.hosts %s: %s", cfg->known_hosts,
                     strerror(errno));
            return NULL;
        }
        fclose(f);
    }
    if (cfg->private_key && *cfg->private_key) {
        FILE *f = fopen(cfg->private_key, "r");
        if (!f) {
            snprintf(errstr, errstr_size, "sftp.private.key %s: %s", cfg->private_key,
                     strerror(errno));
            return NULL;
        }
        fclose(f);
    }
    if (!curl_ready) {
        /* plugins' init runs on the main thread before the tasks start */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(errstr, errstr_size, "curl_global_init failed");
            return NULL;
        }
        curl_ready = 1;
    }
    curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    int has_sftp = 0;
    for (const char *const *p = vi->protocols; p && *p; p++)
        has_sftp |= strcmp(*p, "sftp") == 0;
    if (!has_sftp) {
        snprintf(errstr, errstr_size, "this libcurl (%s) has no SFTP support (libssh2)",
                 vi->version);
        return NULL;
    }

    if (!(s = calloc(1, sizeof(*s))))
        goto nomem;
    s->base.ops = &sftp_ops;
    s->host = host;
    s->ctx = ctx;
    s->port = cfg->port > 0 ? cfg->port : 22;
    s->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 30000;
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
    s->file_perms = cfg->file_mode ? (long)(cfg->file_mode & 0777) : 0644L;
    s->dir_perms = s->file_perms | ((s->file_perms & 0444) >> 2);
    if (!(s->hostname = strdup(cfg->host)) || !(s->user = strdup(cfg->username)))
        goto nomem;
    s->password = dup_or_null(cfg->password);
    s->key = dup_or_null(cfg->private_key);
    s->passphrase = dup_or_null(cfg->passphrase);
    s->known_hosts = dup_or_null(cfg->known_hosts);
    if (have_fp) {
        const char *f = cfg->host_key_sha256;
        if (strncmp(f, "SHA256:", 7) == 0)
            f += 7;
        if (!(s->sha256 = strdup(f)))
            goto nomem;
        size_t l = strlen(s->sha256);
        while (l && s->sha256[l - 1] == '=')
            s->sha256[--l] = '\0';
    }
    /* root: an absolute working dir as is; a relative one (or none) under the login's start
     * directory, which libcurl spells "/~" */
    const char *wd = cfg->working_dir ? cfg->working_dir : "";
    size_t n = strlen(wd) + 4;
    if (!(s->root = malloc(n)))
        goto nomem;
    if (wd[0] == '/')
        snprintf(s->root, n, "%s", wd);
    else
        snprintf(s->root, n, "/~%s%s", *wd ? "/" : "", wd);
    size_t rl = strlen(s->root);
    while (rl > 1 && s->root[rl - 1] == '/')
        s->root[--rl] = '\0';
    if (strcmp(s->root, "/") == 0)
        s->root[0] = '\0'; /* paths become "/" + rel */
    snprintf(s->where, sizeof(s->where), "%s:%d (user %s)", s->hostname, s->port, s->user);
    if ((cfg->password && *cfg->password && !s->password) ||
        (cfg->private_key && *cfg->private_key && !s->key) ||
        (cfg->passphrase && *cfg->passphrase && !s->passphrase) || (have_kh && !s->known_hosts))
        goto nomem;
    if (!have_fp && !have_kh && host && host->log)
        host->log(ctx, SLUICE_LOG_WARN,
                  "sftp %s: sftp.host.key.check is false: any host key is accepted, so a "
                  "man-in-the-middle would get the data (and the password)",
                  s->where);
    return &s->base;
nomem:
    if (s)
        sftp_free(&s->base);
    snprintf(errstr, errstr_size, "sftp: out of memory");
    return NULL;
}
