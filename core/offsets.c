/* offsets.c — see offsets.h. cJSON reads and writes the file: it is small and off the hot path. */
#include "offsets.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"

/* mkdir -p of the directory of the file `path`: the directories above it 0755, the state
 * directory itself (the file's own) 0700. */
static int offsets_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    char *last = strrchr(tmp, '/');
    for (char *p = tmp + 1; last && p <= last; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, p == last ? 0700 : 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* The directory of the offsets file must be the user's own: owned by this user (or root) and not
 * writable by others, or someone else could replace the positions or plant links for sluice to
 * write through. A symbolic link to it counts as its owner's. 0, or -1 with the message. */
static int offsets_check_dir(const char *path, char *errstr, size_t errstr_size)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
    struct stat ls, st;
    if (lstat(dir, &ls) != 0 || stat(dir, &st) != 0) {
        snprintf(errstr, errstr_size, "%s: cannot use its directory %s: %s", path, dir,
                 strerror(errno));
        return -1;
    }
    uid_t me = geteuid();
    const char *fix = "give the offsets their own directory (offset.storage.file.filename, "
                      "--offsets or SLUICE_STATE_DIR), or fix its owner and mode";
    if (S_ISLNK(ls.st_mode) && ls.st_uid != me && ls.st_uid != 0) {
        snprintf(errstr, errstr_size,
                 "%s: the state directory %s is a symbolic link owned by uid %u, not by this "
                 "user (uid %u): %s",
                 path, dir, (unsigned)ls.st_uid, (unsigned)me, fix);
        return -1;
    }
    if (st.st_uid != me && st.st_uid != 0) {
        snprintf(errstr, errstr_size,
                 "%s: the state directory %s is owned by uid %u, not by this user (uid %u), who "
                 "could replace the positions: %s",
                 path, dir, (unsigned)st.st_uid, (unsigned)me, fix);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(errstr, errstr_size,
                 "%s: the state directory %s is writable by other users (mode %03o; /tmp is): %s",
                 path, dir, (unsigned)(st.st_mode & 0777), fix);
        return -1;
    }
    return 0;
}

/* The first directory of a colon-separated list ($STATE_DIRECTORY may name several). */
static int offsets_first_dir(const char *list, char *out, size_t size)
{
    size_t n = strcspn(list, ":");
    if (n == 0 || list[0] != '/' || n >= size)
        return -1;
    memcpy(out, list, n);
    out[n] = '\0';
    return 0;
}

char *offsets_default_path(void)
{
    char buf[PATH_MAX + 64], dir[PATH_MAX];
    const char *state = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (state && offsets_first_dir(state, dir, sizeof dir) == 0) {
        snprintf(buf, sizeof buf, "%s/offsets.json", dir);
        return strdup(buf);
    }
    if (xdg && xdg[0] == '/') {
        snprintf(buf, sizeof buf, "%s/sluice/offsets.json", xdg);
        return strdup(buf);
    }
    if (!home || home[0] != '/') {
        struct passwd *pw = getpwuid(geteuid());
        home = pw && pw->pw_dir && pw->pw_dir[0] == '/' && strcmp(pw->pw_dir, "/") != 0 ? pw->pw_dir
                                                                                        : NULL;
    }
    if (home)
        snprintf(buf, sizeof buf, "%s/.local/state/sluice/offsets.json", home);
    else /* a system user without a home: the FHS place of a daemon's state (never /tmp) */
        snprintf(buf, sizeof buf, "/var/lib/sluice/offsets.json");
    return strdup(buf);
}

static int offsets_valid_text(const unsigned char *p, size_t len)
{
    /* Positions that are UTF-8 text without NUL are stored readable; others in base64. */
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || c == 0 || i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += n;
    }
    return 1;
}

static offsets_entry_t *offsets_find(offsets_t *o, const char *id)
{
    for (size_t i = 0; i < o->len; i++)
        if (strcmp(o->entries[i].id, id) == 0)
            return &o->entries[i];
    return NULL;
}

static offsets_entry_t *offsets_add(offsets_t *o, const char *id)
{
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        offsets_entry_t *e = realloc(o->entries, cap * sizeof *e);
        if (!e)
            return NULL;
        o->entries = e;
        o->cap = cap;
    }
    offsets_entry_t *e = &o->entries[o->len];
    memset(e, 0, sizeof *e);
    e->id = strdup(id);
    if (!e->id)
        return NULL;
    e->next_offset = -1;
    o->len++;
    return e;
}

static int offsets_set(offsets_entry_t *e, const void *pos, size_t len, int64_t next_offset)
{
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return -1;
        memcpy(copy, pos, len);
    }
    free(e->position);
    e->position = copy;
    e->position_len = len;
    e->next_offset = next_offset;
    return 0;
}

/* One entry's object into the set: 0, -1 invalid, -2 out of memory. */
static int offsets_entry_parse(offsets_t *o, const char *id, const cJSON *item, arena_t *arena)
{
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(item, "position");
    const cJSON *pos64 = cJSON_GetObjectItemCaseSensitive(item, "position_base64");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(item, "next_offset");
    offsets_entry_t *e = offsets_find(o, id);
    if (!e)
        e = offsets_add(o, id);
    if (!e)
        return -2;
    const void *p = NULL;
    size_t plen = 0;
    if (cJSON_IsString(pos)) {
        p = pos->valuestring;
        plen = strlen(pos->valuestring);
    } else if (cJSON_IsString(pos64)) {
        void *dec;
        if (base64_decode(arena, pos64->valuestring, strlen(pos64->valuestring), &dec, &plen) != 0)
            return -1;
        p = dec;
    }
    if (offsets_set(e, p, plen, cJSON_IsNumber(next) ? (int64_t)next->valuedouble : -1) != 0)
        return -2;
    return 0;
}

int offsets_load(offsets_t *o, const char *id, size_t id_len, const void *value, size_t len)
{
    char name[512];
    if (id_len >= sizeof name)
        return -1;
    memcpy(name, id, id_len);
    name[id_len] = '\0';
    pthread_mutex_lock(&o->mu);
    int rc = -1;
    if (len == 0) { /* a tombstone: the pipeline's position was deleted */
        offsets_entry_t *e = offsets_find(o, name);
        if (e)
            rc = offsets_set(e, NULL, 0, -1);
        else
            rc = 0;
    } else {
        arena_t arena;
        arena_init(&arena, 1024);
        cJSON *root = cJSON_ParseWithLength(value, len);
        if (cJSON_IsObject(root))
            rc = offsets_entry_parse(o, name, root, &arena) == 0 ? 0 : -1;
        cJSON_Delete(root);
        arena_free(&arena);
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}

int offsets_open_backend(offsets_t **out, const char *label, const offsets_backend_t *be)
{
    offsets_t *o = calloc(1, sizeof *o);
    if (!o)
        return -1;
    o->lock_fd = -1;
    pthread_mutex_init(&o->mu, NULL);
    o->path = strdup(label);
    o->be = *be;
    if (!o->path) {
        offsets_close(o);
        return -1;
    }
    *out = o;
    return 0;
}

static int offsets_parse(offsets_t *o, const char *text, size_t len, char *errstr,
                         size_t errstr_size)
{
    int rc = -1;
    arena_t arena;
    arena_init(&arena, 4096);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *pipelines = root ? cJSON_GetObjectItemCaseSensitive(root, "pipelines") : NULL;
    if (!cJSON_IsObject(pipelines)) {
        snprintf(errstr, errstr_size,
                 "%s: not a sluice offsets file (expected {\"pipelines\":{…}})", o->path);
        goto out;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, pipelines)
    {
        int r = offsets_entry_parse(o, item->string, item, &arena);
        if (r == -2)
            goto nomem;
        if (r != 0) {
            snprintf(errstr, errstr_size, "%s: pipeline '%s': invalid position_base64", o->path,
                     item->string);
            goto out;
        }
    }
    rc = 0;
    goto out;
nomem:
    snprintf(errstr, errstr_size, "%s: out of memory", o->path);
out:
    cJSON_Delete(root);
    arena_free(&arena);
    return rc;
}

int offsets_open(offsets_t **out, const char *path, char *errstr, size_t errstr_size)
{
    offsets_t *o = calloc(1, sizeof *o);
    char lockpath[PATH_MAX];
    buf_t b;
    buf_init(&b);
    if (!o)
        return -1;
    o->lock_fd = -1;
    pthread_mutex_init(&o->mu, NULL);
    o->path = strdup(path);
    if (!o->path)
        goto fail;
    if (offsets_mkdirs(path) != 0) {
        snprintf(errstr, errstr_size, "%s: cannot create its directory: %s", path, strerror(errno));
        goto fail;
    }
    if (offsets_check_dir(path, errstr, errstr_size) != 0)
        goto fail;
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    o->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (o->lock_fd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s%s", lockpath, strerror(errno),
                 errno == ELOOP ? " (a symbolic link: remove it)" : "");
        goto fail;
    }
    if (flock(o->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(errstr, errstr_size,
                 "%s is in use by another sluice process (lock %s held); give each run its own "
                 "offsets file",
                 path, lockpath);
        goto fail;
    }
    if (buf_read_file(&b, path) != 0) {
        if (errno == ENOENT)
            goto done;
        snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    if (b.len && offsets_parse(o, b.data, b.len, errstr, errstr_size) != 0)
        goto fail;
done:
    buf_free(&b);
    *out = o;
    return 0;
fail:
    buf_free(&b);
    offsets_close(o);
    return -1;
}

const offsets_entry_t *offsets_get(offsets_t *o, const char *id)
{
    pthread_mutex_lock(&o->mu);
    offsets_entry_t *e = offsets_find(o, id);
    pthread_mutex_unlock(&o->mu);
    return e;
}

int offsets_read(offsets_t *o, const char *id, void **pos, size_t *len, int64_t *next_offset)
{
    int rc = 0;
    *pos = NULL;
    *len = 0;
    *next_offset = -1;
    pthread_mutex_lock(&o->mu);
    const offsets_entry_t *e = offsets_find(o, id);
    if (e) {
        rc = 1;
        if (e->position_len && (*pos = malloc(e->position_len)) == NULL)
            rc = -1;
        else if (e->position_len)
            memcpy(*pos, e->position, e->position_len);
        *len = rc == 1 ? e->position_len : 0;
        *next_offset = e->next_offset;
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}

int offsets_put(offsets_t *o, const char *id, const void *position, size_t len, int64_t next_offset)
{
    int rc = -1;
    pthread_mutex_lock(&o->mu);
    offsets_entry_t *e = offsets_find(o, id);
    if (!e)
        e = offsets_add(o, id);
    if (e && offsets_set(e, position, len, next_offset) == 0) {
        e->dirty = 1;
        o->dirty = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}

/* One entry as a JSON object: {"position": …, "next_offset": n}. */
static int offsets_render_entry(const offsets_entry_t *e, buf_t *out, buf_t *b64)
{
    int rc = buf_puts(out, "{");
    if (offsets_valid_text(e->position, e->position_len)) {
        rc |= buf_puts(out, "\"position\": ");
        rc |= json_write_string(out, e->position ? e->position : "", e->position_len);
    } else {
        buf_reset(b64);
        rc |= base64_encode(b64, e->position, e->position_len);
        rc |= buf_puts(out, "\"position_base64\": ");
        rc |= json_write_string(out, b64->data, b64->len);
    }
    rc |= buf_printf(out, ", \"next_offset\": %lld}", (long long)e->next_offset);
    return rc;
}

static int offsets_render(offsets_t *o, buf_t *out)
{
    buf_t b64;
    buf_init(&b64);
    int rc = buf_puts(out, "{\n  \"version\": 1,\n  \"pipelines\": {");
    for (size_t i = 0; i < o->len && rc == 0; i++) {
        offsets_entry_t *e = &o->entries[i];
        rc |= buf_puts(out, i ? ",\n    " : "\n    ");
        rc |= json_write_string(out, e->id, strlen(e->id));
        rc |= buf_puts(out, ": ");
        rc |= offsets_render_entry(e, out, &b64);
    }
    rc |= buf_puts(out, "\n  }\n}\n");
    buf_free(&b64);
    return rc ? -1 : 0;
}

/* Backend mode: write the changed entries, then wait until they are durable. */
static int offsets_flush_backend(offsets_t *o, char *errstr, size_t errstr_size)
{
    buf_t b, b64;
    buf_init(&b);
    buf_init(&b64);
    int rc = 0;
    for (size_t i = 0; i < o->len && rc == 0; i++) {
        offsets_entry_t *e = &o->entries[i];
        if (!e->dirty)
            continue;
        buf_reset(&b);
        if (offsets_render_entry(e, &b, &b64) != 0) {
            snprintf(errstr, errstr_size, "%s: out of memory", o->path);
            rc = -1;
        } else {
            rc = o->be.write(o->be.opaque, e->id, b.data, b.len, errstr, errstr_size);
        }
    }
    if (rc == 0)
        rc = o->be.sync(o->be.opaque, errstr, errstr_size);
    if (rc == 0) {
        for (size_t i = 0; i < o->len; i++)
            o->entries[i].dirty = 0;
        o->dirty = 0;
    }
    buf_free(&b);
    buf_free(&b64);
    return rc;
}

int offsets_flush(offsets_t *o, char *errstr, size_t errstr_size)
{
    int rc = -1;
    buf_t b;
    buf_init(&b);
    pthread_mutex_lock(&o->mu);
    if (!o->dirty) {
        rc = 0;
        goto out;
    }
    if (o->be.write) {
        rc = offsets_flush_backend(o, errstr, errstr_size);
        goto out;
    }
    if (offsets_render(o, &b) != 0) {
        snprintf(errstr, errstr_size, "%s: out of memory", o->path);
        goto out;
    }
    if (state_file_write(o->path, b.data, b.len, errstr, errstr_size) != 0)
        goto out;
    o->dirty = 0;
    rc = 0;
out:
    pthread_mutex_unlock(&o->mu);
    buf_free(&b);
    return rc;
}

int state_file_write(const char *path, const void *data, size_t len, char *errstr,
                     size_t errstr_size)
{
    char tmp[PATH_MAX];
    int fd = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        goto ioerr;
    }
    if (offsets_mkdirs(path) != 0)
        goto ioerr;
    /* A new file of our own, never through a link someone left at that name: the caller's lock
     * says no other sluice writes it, so whatever is there is stale (a crash) or planted. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        goto ioerr;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto ioerr;
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto ioerr;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto ioerr;
    /* The rename is durable only once the directory is. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
ioerr:
    snprintf(errstr, errstr_size, "%s: cannot write: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

void offsets_close(offsets_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->len; i++) {
        free(o->entries[i].id);
        free(o->entries[i].position);
    }
    free(o->entries);
    if (o->lock_fd >= 0)
        close(o->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&o->mu);
    free(o->path);
    free(o);
}
