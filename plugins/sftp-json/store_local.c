/*
 * store_local.c — the sftp-json store on a local directory: the same tree an SFTP server would get,
 * for the in-process quick start and the tests. Appends are fsynced (a file is closed by its last
 * append, and the sink says "durable" only after that); a rename fsyncs the target's directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

struct store_local {
    store_t base;
    char *root;
    mode_t mode, dmode; /* of the files; of the directories created */
};

/* root + "/" + rel into out; refuses paths that would leave the root (store_path_unsafe). */
static int local_path(struct store_local *s, const char *rel, char *out, size_t size)
{
    if (store_path_unsafe(rel))
        return -1;
    int n = snprintf(out, size, "%s/%s", s->root, rel);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static const char *local_why(const char *rel)
{
    const char *why = store_path_unsafe(rel);
    return why ? why : "too long";
}

/* mkdir -p of the directory part of `path` (an absolute or root-relative file path). */
static int local_mkdirs(char *path, mode_t mode)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, mode);
        int e = errno;
        *p = '/';
        if (r != 0 && e != EEXIST)
            return -1;
    }
    return 0;
}

static void local_fsync_dir(const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static sluice_err_t local_append(store_t *st, const char *path, const void *data, size_t len,
                                 char *errstr, size_t errstr_size)
{
    struct store_local *s = (struct store_local *)st;
    char full[PATH_MAX];
    if (local_path(s, path, full, sizeof full) != 0) {
        snprintf(errstr, errstr_size, "bad path '%s': %s", path, local_why(path));
        return SLUICE_FATAL;
    }
    int fd = open(full, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, s->mode);
    if (fd < 0 && errno == ENOENT && local_mkdirs(full, s->dmode) == 0)
        fd = open(full, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, s->mode);
    if (fd < 0)
        goto fail;
    struct stat sb; /* file.mode exactly, whatever the umask took away */
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 0777) != s->mode)
        fchmod(fd, s->mode);
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            errno = e;
            goto fail;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        goto fail;
    }
    close(fd);
    return SLUICE_OK;
fail:
    snprintf(errstr, errstr_size, "%s: %s", full, strerror(errno));
    return errno == EACCES || errno == EPERM || errno == EROFS ? SLUICE_FATAL : SLUICE_RETRY;
}

static sluice_err_t local_rename(store_t *st, const char *from, const char *to, char *errstr,
                                 size_t errstr_size)
{
    struct store_local *s = (struct store_local *)st;
    char a[PATH_MAX], b[PATH_MAX];
    if (local_path(s, from, a, sizeof a) != 0 || local_path(s, to, b, sizeof b) != 0) {
        snprintf(errstr, errstr_size, "bad path '%s' or '%s': %s", from, to,
                 local_why(store_path_unsafe(from) ? from : to));
        return SLUICE_FATAL;
    }
    int r = rename(a, b);
    if (r != 0 && errno == ENOENT && access(a, F_OK) == 0 && local_mkdirs(b, s->dmode) == 0)
        r = rename(a, b);
    if (r != 0) {
        snprintf(errstr, errstr_size, "rename %s to %s: %s", a, b, strerror(errno));
        return errno == EACCES || errno == EPERM || errno == EROFS ? SLUICE_FATAL : SLUICE_RETRY;
    }
    local_fsync_dir(b);
    return SLUICE_OK;
}

static sluice_err_t local_remove(store_t *st, const char *path, char *errstr, size_t errstr_size)
{
    struct store_local *s = (struct store_local *)st;
    char full[PATH_MAX];
    if (local_path(s, path, full, sizeof full) != 0) {
        snprintf(errstr, errstr_size, "bad path '%s': %s", path, local_why(path));
        return SLUICE_FATAL;
    }
    if (unlink(full) != 0 && errno != ENOENT) {
        snprintf(errstr, errstr_size, "remove %s: %s", full, strerror(errno));
        return SLUICE_RETRY;
    }
    return SLUICE_OK;
}

/* Walks root/rel; returns 1 when fn asked to stop, -1 on an error. */
static int local_walk(struct store_local *s, const char *rel,
                      int (*fn)(void *ctx, const char *path, long long size), void *ctx)
{
    char full[PATH_MAX];
    if (local_path(s, rel, full, sizeof full) != 0)
        return -1;
    DIR *d = opendir(full);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX], cfull[PATH_MAX];
        int n = snprintf(child, sizeof child, "%s/%s", rel, e->d_name);
        if (n < 0 || (size_t)n >= sizeof child || local_path(s, child, cfull, sizeof cfull) != 0)
            continue;
        struct stat st;
        if (lstat(cfull, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = local_walk(s, child, fn, ctx);
        else if (S_ISREG(st.st_mode) && fn(ctx, child, (long long)st.st_size) != 0)
            rc = 1;
    }
    closedir(d);
    return rc;
}

static sluice_err_t local_list(store_t *st, const char *dir,
                               int (*fn)(void *ctx, const char *path, long long size), void *ctx,
                               char *errstr, size_t errstr_size)
{
    struct store_local *s = (struct store_local *)st;
    if (local_walk(s, dir, fn, ctx) < 0) {
        snprintf(errstr, errstr_size, "listing %s/%s: %s", s->root, dir, strerror(errno));
        return SLUICE_RETRY;
    }
    return SLUICE_OK;
}

static sluice_err_t local_size(store_t *st, const char *path, long long *size, char *errstr,
                               size_t errstr_size)
{
    struct store_local *s = (struct store_local *)st;
    char full[PATH_MAX];
    struct stat sb;
    if (local_path(s, path, full, sizeof full) != 0) {
        snprintf(errstr, errstr_size, "bad path '%s': %s", path, local_why(path));
        return SLUICE_FATAL;
    }
    if (stat(full, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *size = -1;
            return SLUICE_OK;
        }
        snprintf(errstr, errstr_size, "%s: %s", full, strerror(errno));
        return SLUICE_RETRY;
    }
    *size = (long long)sb.st_size;
    return SLUICE_OK;
}

static void local_disconnect(store_t *st)
{
    (void)st;
}

static void local_free(store_t *st)
{
    struct store_local *s = (struct store_local *)st;
    if (!s)
        return;
    free(s->root);
    free(s);
}

static const struct store_ops local_ops = {
    .name = "local",
    .append = local_append,
    .rename = local_rename,
    .remove = local_remove,
    .list = local_list,
    .size = local_size,
    .disconnect = local_disconnect,
    .free = local_free,
};

store_t *store_local_new(const char *directory, unsigned mode, char *errstr, size_t errstr_size)
{
    struct store_local *s = calloc(1, sizeof *s);
    char probe[PATH_MAX];
    if (!s || !(s->root = strdup(directory))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    s->mode = (mode_t)(mode & 0777);
    s->dmode = s->mode | ((s->mode & 0444) >> 2);
    size_t n = strlen(s->root);
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    s->base.ops = &local_ops;
    snprintf(probe, sizeof probe, "%s/", s->root);
    if (local_mkdirs(probe, s->dmode) != 0) {
        snprintf(errstr, errstr_size, "directory %s: cannot create it: %s", s->root,
                 strerror(errno));
        goto fail;
    }
    return &s->base;
fail:
    local_free(s ? &s->base : NULL);
    return NULL;
}
