/*
 * store.h — where sftp-json puts its files: a local directory or an SFTP server (libcurl/libssh2).
 *
 * The sink writes each open file under a temporary name in pieces (append), then renames it to its
 * final name, atomically replacing a file of that name (a rewrite after a crash). Paths are
 * relative to the store's root (the local `directory`, or `sftp.working.dir` on the server) and
 * use '/' as separator; directories are created on demand.
 *
 * Every call returns SLUICE_OK, SLUICE_NOT_CONNECTED / SLUICE_RETRY (transient: the server went
 * away, a timeout; the caller backs off and retries the same operation — a store reconnects by
 * itself on the next call) or SLUICE_FATAL (authentication refused, host key unknown or changed,
 * permission denied: a message for the user says which, e.g. with the fingerprint seen), with the
 * message in errstr. One store is used by one thread (the sink task's).
 */
#ifndef SLUICE_SFTP_JSON_STORE_H
#define SLUICE_SFTP_JSON_STORE_H

#include <stddef.h>
#include <string.h>

#include <sluice/plugin.h>

typedef struct store store_t;

/* The longest file or directory name a store writes (NAME_MAX of Linux and of OpenSSH's server). */
#define STORE_NAME_MAX 255

/* Why the store path `rel` is refused, or NULL when it is fine: it must be relative, no segment may
 * be ".." (a real segment check: "v1..", "..x" are names like others) and no name may be longer
 * than STORE_NAME_MAX. Every store checks each path it is given (a path that escapes its root is a
 * bug of the caller); the sink checks a record's path first, to fail that record instead. */
static inline const char *store_path_unsafe(const char *rel)
{
    if (rel[0] == '/')
        return "an absolute path";
    for (const char *p = rel;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "a '..' segment would leave the directory";
        if (n > STORE_NAME_MAX)
            return "a file or directory name over 255 bytes";
        if (!slash)
            return NULL;
        p = slash + 1;
    }
}

/* Connection settings of the SFTP store (the plugin's config keys; NULL/0 when unset). */
struct store_sftp_config {
    const char *host;            /* sftp.host */
    int port;                    /* sftp.port */
    const char *username;        /* sftp.username */
    const char *password;        /* sftp.password (secret) */
    const char *private_key;     /* sftp.private.key: path of the private key file */
    const char *passphrase;      /* sftp.private.key.passphrase (secret) */
    const char *working_dir;     /* sftp.working.dir: the root of every path */
    const char *known_hosts;     /* sftp.known.hosts: an OpenSSH known_hosts file */
    const char *host_key_sha256; /* sftp.host.key.sha256: base64 SHA-256 fingerprint */
    int host_key_check;          /* sftp.host.key.check: 1 (default) refuses unknown keys */
    long connect_timeout_ms;     /* sftp.connect.timeout.ms */
    long timeout_ms;             /* sftp.timeout.ms: an operation that makes no progress */
    unsigned file_mode;          /* file.mode: permissions of new files (0: 0644); directories
                                  * get the same with x wherever r is (0640: 0750) */
};

struct store_ops {
    const char *name; /* "local" or "sftp" */
    /* Append `len` bytes to `path` (created if missing, with its directories). */
    sluice_err_t (*append)(store_t *s, const char *path, const void *data, size_t len, char *errstr,
                           size_t errstr_size);
    /* Rename `from` to `to`, replacing `to` if it exists (creating `to`'s directories). */
    sluice_err_t (*rename)(store_t *s, const char *from, const char *to, char *errstr,
                           size_t errstr_size);
    /* Remove `path`; a missing file is not an error. */
    sluice_err_t (*remove)(store_t *s, const char *path, char *errstr, size_t errstr_size);
    /* Call `fn` for every regular file under `dir` (recursively; paths relative to the root);
     * a missing `dir` lists nothing. `fn` returns 0 to go on. */
    sluice_err_t (*list)(store_t *s, const char *dir,
                         int (*fn)(void *ctx, const char *path, long long size), void *ctx,
                         char *errstr, size_t errstr_size);
    /* Size of `path`, or -1 when it does not exist. */
    sluice_err_t (*size)(store_t *s, const char *path, long long *size, char *errstr,
                         size_t errstr_size);
    /* Optional: `path` does not exist (the caller just chose a fresh name, or removed it), so
     * the first append may create it without asking its size first. A store may use this to save
     * round trips; NULL when it has no use for it. */
    void (*created)(store_t *s, const char *path);
    /* Drop the connection (if any); the next call reconnects. */
    void (*disconnect)(store_t *s);
    void (*free)(store_t *s);
};

struct store {
    const struct store_ops *ops;
};

/* A store on a local directory (created if missing): files get `mode` exactly, the directories it
 * creates the same with x wherever r is. */
store_t *store_local_new(const char *directory, unsigned mode, char *errstr, size_t errstr_size);
/* A store on an SFTP server. Does not connect yet: the first operation does (so init stays free
 * of network I/O; `sluice lint` calls init). `host` (the host table) is for logging through
 * `ctx`. Returns NULL with a message on a configuration error. */
store_t *store_sftp_new(const struct store_sftp_config *cfg, const struct sluice_host *host,
                        sluice_ctx_t *ctx, char *errstr, size_t errstr_size);

#endif
