/*
 * file — read lines of a local file as records (source), append record values to a local file as
 * lines (sink). Kafka Connect's FileStreamSource/FileStreamSink, with what they lack: resumable
 * positions tied to the inode, following growth with inotify, truncation and rotation, bounded
 * lines, and a sink that is durable (fsync) before it says so.
 *
 * Both hot loops avoid per-line allocation: the source scans one large read buffer with memchr and
 * copies each line once into the batch; the sink renders values into one buffer and writes it in
 * large chunks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <sluice/plugin.h>

#include "filemode.h"

#define FILE_READ_CHUNK (256u * 1024u) /* the least read() size; large reads keep syscalls rare */
#define FILE_POS_DIGITS 24             /* room for a uint64_t in decimal */

/* ---------------------------------------------------------------------------------------------- */
/* Helpers shared by both roles */

/* Writes `v` in decimal at `out` (which has FILE_POS_DIGITS bytes); returns the length. */
static size_t file_u64_format(char *out, uint64_t v)
{
    char tmp[FILE_POS_DIGITS];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------- */
/* Source */

static const char *const file_source_formats[] = {"text", "json", NULL};

static const struct sluice_config_field file_source_config[] = {
    {.name = "file",
     .type = SLUICE_CFG_PATH,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The file to read, one record per line.",
     .example = "/var/log/sensor.log"},
    {.name = "format",
     .type = SLUICE_CFG_ENUM,
     .default_value = "text",
     .description =
         "`text`: each line becomes a STRING value. `json`: each line is parsed as JSON "
         "(schemaless); a line that is not JSON is routed by `errors.tolerance` with the "
         "raw line as its value, and empty lines are skipped.",
     .example = "json",
     .enum_values = file_source_formats},
    {.name = "follow",
     .type = SLUICE_CFG_BOOL,
     .default_value = "true",
     .description = "Keep reading as the file grows, across truncation and rotation (like "
                    "`tail -F`). `false`: stop at the end of the file and end the pipeline.",
     .example = "false"},
    {.name = "batch.size",
     .type = SLUICE_CFG_INT,
     .default_value = "2000",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 1000000,
     .description = "The most records one poll returns.",
     .example = "10000"},
    {.name = "max.line.bytes",
     .type = SLUICE_CFG_SIZE,
     .default_value = "1MiB",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 1073741824.0,
     .description = "Longer lines are skipped with a warning (counter `lines.too.long`).",
     .example = "64KiB"},
    {.name = "poll.interval.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "200ms",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 3600000,
     .description = "When following, how often the file is checked for changes that inotify "
                    "cannot report: without inotify, or on a network filesystem (NFS, SMB, FUSE, "
                    "Ceph). On a local filesystem an idle source sleeps until inotify reports a "
                    "change of the file or its directory.",
     .example = "1s"},
    {.name = NULL},
};

struct file_source {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    char *path;
    char *dir;  /* the parent directory, watched for the file to (re)appear */
    int remote; /* dir is on a network filesystem: inotify misses other hosts' writes */
    int json;
    int follow;
    size_t batch_size;
    size_t max_line;
    int poll_interval_ms;

    int fd; /* the open file, -1 while it is missing */
    dev_t dev;
    ino_t ino;
    uint64_t pos; /* file offset of buf[start]: everything before it is consumed */
    char *buf;
    size_t cap, start, end; /* unconsumed bytes are buf[start..end) */
    int skipping;           /* discarding the rest of a line longer than the buffer */
    int draining;           /* the path names another file now: read this one to its end first */
    int missing_logged;

    int ifd;     /* inotify descriptor, -1 when not following or unavailable */
    int wd_file; /* watch on the open file */
    int wd_dir;  /* watch on the parent directory (IN_CREATE, IN_MOVED_TO) */

    int resume_pending; /* a position from start() not yet applied (the file was missing) */
    uint64_t resume_ino;
    uint64_t resume_pos;

    char *pos_json; /* {"file":"…","inode":N,"position": followed by room for digits and "}" */
    size_t pos_prefix_len;

    atomic_int stopping;
};

/* Builds the constant part of the position JSON for the current file; each record's position
 * writes its digits and '}' after it. */
static sluice_err_t file_source_pos_prefix(struct file_source *s)
{
    const struct sluice_host *h = s->host;
    sluice_buf_t *b = h->buf_new(64 + strlen(s->path));
    sluice_err_t err = SLUICE_ERR_NOMEM;
    char *p;

    if (b == NULL) {
        goto out;
    }
    h->buf_printf(b, "{\"file\":");
    h->buf_append_json_string(b, s->path, strlen(s->path));
    h->buf_printf(b, ",\"inode\":%" PRIu64 ",\"position\":", (uint64_t)s->ino);
    if (h->buf_error(b) != SLUICE_OK) {
        goto out;
    }
    p = realloc(s->pos_json, h->buf_len(b) + FILE_POS_DIGITS + 1);
    if (p == NULL) {
        goto out;
    }
    memcpy(p, h->buf_data(b), h->buf_len(b));
    s->pos_json = p;
    s->pos_prefix_len = h->buf_len(b);
    err = SLUICE_OK;
out:
    if (b != NULL) {
        h->buf_free(b);
    }
    return err;
}

static void file_source_watch_file(struct file_source *s)
{
    if (s->ifd < 0) {
        return;
    }
    if (s->wd_file >= 0) {
        /* Fails harmlessly when the kernel dropped the watch with its inode. */
        (void)inotify_rm_watch(s->ifd, s->wd_file);
        s->wd_file = -1;
    }
    if (s->fd >= 0) {
        s->wd_file = inotify_add_watch(s->ifd, s->path,
                                       IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
    }
}

/* Opens the path from offset 0. Returns 0 or an errno value (ENOENT: not there yet). */
static int file_source_open(struct file_source *s)
{
    struct stat st;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0) {
        rc = errno;
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = errno;
        close(fd);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = EISDIR;
        close(fd);
        goto out;
    }
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->pos = 0;
    s->start = s->end = 0;
    s->skipping = 0;
    s->draining = 0;
    s->missing_logged = 0;
    if (file_source_pos_prefix(s) != SLUICE_OK) {
        rc = ENOMEM;
        close(fd);
        s->fd = -1;
        goto out;
    }
    file_source_watch_file(s);
    if (s->resume_pending) {
        s->resume_pending = 0;
        if ((uint64_t)st.st_ino != s->resume_ino) {
            s->host->log(s->ctx, SLUICE_LOG_INFO,
                         "%s is another file than the one the saved position belongs to "
                         "(inode %" PRIu64 ", saved %" PRIu64 "); reading it from the start",
                         s->path, (uint64_t)st.st_ino, s->resume_ino);
        } else if (s->resume_pos > (uint64_t)st.st_size) {
            s->host->log(s->ctx, SLUICE_LOG_WARN,
                         "%s is shorter (%" PRIu64 " bytes) than the saved position %" PRIu64
                         ": it was truncated; reading it from the start",
                         s->path, (uint64_t)st.st_size, s->resume_pos);
        } else if (lseek(fd, (off_t)s->resume_pos, SEEK_SET) < 0) {
            s->host->log(s->ctx, SLUICE_LOG_WARN,
                         "cannot seek %s to %" PRIu64 ": %s; reading it "
                         "from the start",
                         s->path, s->resume_pos, strerror(errno));
        } else {
            s->pos = s->resume_pos;
            s->host->log(s->ctx, SLUICE_LOG_INFO, "resuming %s at byte %" PRIu64, s->path, s->pos);
        }
    }
out:
    return rc;
}

static void file_source_close_file(struct file_source *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    s->start = s->end = 0;
    s->skipping = 0;
    s->draining = 0;
}

static void file_source_too_long(struct file_source *s, uint64_t at)
{
    s->host->counter_add(s->ctx, "lines.too.long", 1);
    s->host->log_limited(s->ctx, SLUICE_LOG_WARN, "lines.too.long", 6,
                         "%s: skipping a line longer than max.line.bytes (%zu) at byte %" PRIu64,
                         s->path, s->max_line, at);
}

/* Turns one line (without its \n, starting at byte `at`) into a record; `s->pos` is already the
 * offset after the line. */
static sluice_err_t file_source_emit(struct file_source *s, sluice_batch_t *batch, const char *line,
                                     size_t len, uint64_t at, int64_t now, size_t *added,
                                     char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->host;
    sluice_err_t err = SLUICE_OK;
    sluice_record_t *rec;
    sluice_value_t *v = NULL;
    char why[256];
    int bad = 0;
    size_t n;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > s->max_line) {
        file_source_too_long(s, at);
        goto out;
    }
    if (s->json && len == 0) {
        goto out;
    }
    rec = h->batch_add(batch);
    if (rec == NULL) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    if (s->json) {
        why[0] = '\0';
        v = h->value_parse_json(rec, line, len, why, sizeof why);
        bad = v == NULL;
    }
    if (v == NULL) {
        v = h->value_string(rec, line, len);
    }
    if (v == NULL) {
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    h->record_set_value(rec, v);
    h->record_set_timestamp(rec, now);
    n = s->pos_prefix_len + file_u64_format(s->pos_json + s->pos_prefix_len, s->pos);
    s->pos_json[n++] = '}';
    h->record_set_position(rec, s->pos_json, n);
    if (bad) {
        char reason[400];

        snprintf(reason, sizeof reason, "%s: the line ending at byte %" PRIu64 " is not JSON: %s",
                 s->path, s->pos, why[0] != '\0' ? why : "parse error");
        h->record_fail(rec, reason);
    }
    (*added)++;
out:
    if (err == SLUICE_ERR_NOMEM) {
        snprintf(errstr, errstr_size, "out of memory while adding a record");
    }
    return err;
}

/* Waits up to `ms` for inotify to report a change; without inotify it just sleeps. */
static void file_source_wait(struct file_source *s, int ms)
{
    struct pollfd pfd = {.fd = s->ifd, .events = POLLIN};
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    if (s->ifd < 0) {
        (void)poll(NULL, 0, ms);
        return;
    }
    if (poll(&pfd, 1, ms) > 0) {
        /* The events themselves do not matter: the caller re-checks the file. */
        while (read(s->ifd, events, sizeof events) > 0) {
        }
    }
}

/* 1 when `dir` is on a filesystem whose changes made elsewhere inotify does not report (NFS,
 * SMB, FUSE, Ceph...): there the file is checked every poll.interval.ms as without inotify. */
static int file_dir_remote(const char *dir)
{
    struct statfs fs;

    if (statfs(dir, &fs) != 0) {
        return 0;
    }
    switch ((unsigned long)fs.f_type) {
    case 0x6969UL:     /* NFS */
    case 0xFF534D42UL: /* CIFS */
    case 0xFE534D42UL: /* SMB2 */
    case 0x517BUL:     /* SMB */
    case 0x65735546UL: /* FUSE */
    case 0x00C36400UL: /* Ceph */
    case 0x01161970UL: /* GFS2 */
    case 0x6B414653UL: /* AFS */
        return 1;
    default:
        return 0;
    }
}

/* Reads the pending inotify events without waiting: the core sleeps on the descriptor
 * (file_source_fd), so it must not stay readable once looked at. Done before the file is read, so
 * that a change after it wakes the core again. */
static void file_source_drain(struct file_source *s)
{
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    if (s->ifd >= 0) {
        while (read(s->ifd, events, sizeof events) > 0) {
        }
    }
}

/* At the end of the data while following: notices truncation and rotation. Returns 1 when the
 * caller should read again at once. */
static int file_source_check(struct file_source *s)
{
    const struct sluice_host *h = s->host;
    struct stat st;
    uint64_t read_to = s->pos + (s->end - s->start);
    int have = fstat(s->fd, &st) == 0;
    int deleted = have && st.st_nlink == 0;

    if (have && !deleted && (uint64_t)st.st_size < read_to) {
        h->log(s->ctx, SLUICE_LOG_WARN,
               "%s was truncated (now %" PRIu64 " bytes, read up to %" PRIu64 "); reading it "
               "again from the start",
               s->path, (uint64_t)st.st_size, read_to);
        if (lseek(s->fd, 0, SEEK_SET) == 0) {
            s->pos = 0;
            s->start = s->end = 0;
            s->skipping = 0;
            return 1;
        }
    }
    /* A deleted file whose inode number was reused by its successor has the same inode: nlink
     * tells them apart. */
    if (stat(s->path, &st) == 0 && (st.st_ino != s->ino || st.st_dev != s->dev || deleted)) {
        h->log(s->ctx, SLUICE_LOG_INFO,
               "%s was rotated (inode %" PRIu64 " → %" PRIu64 "); finishing the old file", s->path,
               (uint64_t)s->ino, (uint64_t)st.st_ino);
        s->draining = 1;
        return 1;
    }
    return 0;
}

static sluice_err_t file_source_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                     const sluice_config_t *config, void **state, char *errstr,
                                     size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct file_source *s = calloc(1, sizeof *s);
    const char *path = host->config_string(config, "file");
    const char *format = host->config_string(config, "format");
    char *slash;

    if (s == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    s->host = host;
    s->ctx = ctx;
    s->fd = -1;
    s->ifd = -1;
    s->wd_file = -1;
    s->wd_dir = -1;
    atomic_init(&s->stopping, 0);
    if (path == NULL || path[0] == '\0') {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'file' must name the file to read");
        goto out;
    }
    s->json = format != NULL && strcmp(format, "json") == 0;
    s->follow = host->config_bool(config, "follow");
    s->batch_size = (size_t)host->config_int(config, "batch.size");
    s->max_line = (size_t)host->config_size(config, "max.line.bytes");
    s->poll_interval_ms = (int)host->config_duration_ms(config, "poll.interval.ms");
    if (s->batch_size == 0) {
        s->batch_size = 1;
    }
    if (s->poll_interval_ms <= 0) {
        s->poll_interval_ms = 1;
    }
    /* A line of max.line.bytes plus "\r\n" always fits, so a full buffer without a newline is a
     * line too long for sure. */
    s->cap = s->max_line + 2 > FILE_READ_CHUNK ? s->max_line + 2 : FILE_READ_CHUNK;
    s->path = strdup(path);
    s->dir = strdup(path);
    s->buf = malloc(s->cap);
    if (s->path == NULL || s->dir == NULL || s->buf == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    slash = strrchr(s->dir, '/');
    if (slash == NULL) {
        strcpy(s->dir, ".");
    } else if (slash == s->dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    *state = s;
    s = NULL;
out:
    if (s != NULL) {
        free(s->path);
        free(s->dir);
        free(s->buf);
        free(s);
    }
    return err;
}

/* Reads the position written by file_source_emit. Returns 0 when it has an inode and a position. */
static int file_source_parse_position(const void *bytes, size_t len, uint64_t *ino, uint64_t *pos)
{
    char text[8192];
    const char *p;
    int rc = -1;

    if (len == 0 || len >= sizeof text) {
        goto out;
    }
    memcpy(text, bytes, len);
    text[len] = '\0';
    p = strstr(text, "\"inode\":");
    if (p == NULL) {
        goto out;
    }
    *ino = strtoull(p + 8, NULL, 10);
    p = strstr(text, "\"position\":");
    if (p == NULL) {
        goto out;
    }
    *pos = strtoull(p + 11, NULL, 10);
    rc = 0;
out:
    return rc;
}

static sluice_err_t file_source_start(void *state, const void *resume_from, size_t resume_len,
                                      char *errstr, size_t errstr_size)
{
    struct file_source *s = state;
    const struct sluice_host *h = s->host;
    sluice_err_t err = SLUICE_OK;
    int rc;

    if (resume_from != NULL && resume_len > 0) {
        if (file_source_parse_position(resume_from, resume_len, &s->resume_ino, &s->resume_pos) ==
            0) {
            s->resume_pending = 1;
        } else {
            h->log(s->ctx, SLUICE_LOG_WARN,
                   "the saved position (%zu bytes) is not one this plugin wrote; reading %s "
                   "from the start",
                   resume_len, s->path);
        }
    }
    if (s->follow) {
        s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->ifd < 0) {
            h->log(s->ctx, SLUICE_LOG_WARN,
                   "inotify is unavailable (%s); checking %s every %d ms instead", strerror(errno),
                   s->path, s->poll_interval_ms);
        } else {
            s->wd_dir = inotify_add_watch(s->ifd, s->dir, IN_CREATE | IN_MOVED_TO);
            s->remote = file_dir_remote(s->dir);
        }
    }
    rc = file_source_open(s);
    if (rc == ENOMEM) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
    } else if (rc == ENOENT && s->follow) {
        h->log(s->ctx, SLUICE_LOG_INFO, "%s does not exist yet; waiting for it", s->path);
        s->missing_logged = 1;
    } else if (rc != 0) {
        err = SLUICE_FATAL;
        snprintf(errstr, errstr_size, "cannot open %s: %s", s->path, strerror(rc));
    }
    return err;
}

static sluice_err_t file_source_poll(void *state, sluice_batch_t *batch, int timeout_ms,
                                     char *errstr, size_t errstr_size)
{
    struct file_source *s = state;
    const struct sluice_host *h = s->host;
    sluice_err_t err = SLUICE_OK;
    size_t added = 0;
    int waited = 0;
    int eof = 0;
    int64_t now = h->now_ms();
    int wait_ms = timeout_ms < s->poll_interval_ms ? timeout_ms : s->poll_interval_ms;

    if (timeout_ms <= 0) {
        file_source_drain(s); /* woken through file_source_fd */
    }

    while (atomic_load_explicit(&s->stopping, memory_order_relaxed) == 0) {
        char *nl;
        ssize_t r;

        if (s->fd < 0) {
            int rc = file_source_open(s);

            if (rc == ENOENT && s->follow) {
                if (!s->missing_logged) {
                    h->log(s->ctx, SLUICE_LOG_INFO, "%s is gone; waiting for it", s->path);
                    s->missing_logged = 1;
                }
                if (waited || wait_ms <= 0) {
                    break;
                }
                file_source_wait(s, wait_ms);
                waited = 1;
                continue;
            }
            if (rc != 0) {
                err = rc == ENOMEM ? SLUICE_ERR_NOMEM : SLUICE_FATAL;
                snprintf(errstr, errstr_size, "cannot open %s: %s", s->path, strerror(rc));
                goto out;
            }
        }
        /* The hot loop: hand out every complete line in the buffer. */
        while (added < s->batch_size &&
               (nl = memchr(s->buf + s->start, '\n', s->end - s->start)) != NULL) {
            const char *line = s->buf + s->start;
            size_t len = (size_t)(nl - line);

            uint64_t at = s->pos;

            s->start += len + 1;
            s->pos += len + 1;
            if (s->skipping) {
                s->skipping = 0;
                continue;
            }
            err = file_source_emit(s, batch, line, len, at, now, &added, errstr, errstr_size);
            if (err != SLUICE_OK) {
                goto out;
            }
        }
        if (added >= s->batch_size) {
            break;
        }
        if (s->skipping) {
            s->pos += s->end - s->start;
            s->start = s->end = 0;
        } else if (s->start > 0) {
            memmove(s->buf, s->buf + s->start, s->end - s->start);
            s->end -= s->start;
            s->start = 0;
        }
        if (s->end == s->cap) {
            file_source_too_long(s, s->pos);
            s->skipping = 1;
            s->pos += s->end;
            s->start = s->end = 0;
            continue;
        }
        r = read(s->fd, s->buf + s->end, s->cap - s->end);
        if (r > 0) {
            s->end += (size_t)r;
            continue;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = SLUICE_FATAL;
            snprintf(errstr, errstr_size, "cannot read %s: %s", s->path, strerror(errno));
            goto out;
        }
        /* End of the file as it is now. */
        if (!s->follow || s->draining) {
            /* This file is finished: its last line counts even without a newline. */
            if (s->end > s->start && !s->skipping) {
                const char *line = s->buf + s->start;
                size_t len = s->end - s->start;
                uint64_t at = s->pos;

                s->pos += len;
                s->start = s->end;
                err = file_source_emit(s, batch, line, len, at, now, &added, errstr, errstr_size);
                if (err != SLUICE_OK) {
                    goto out;
                }
            }
            if (!s->follow) {
                eof = 1;
                break;
            }
            file_source_close_file(s);
            continue; /* opens the new file */
        }
        if (added > 0) {
            break;
        }
        if (file_source_check(s)) {
            continue;
        }
        if (waited || wait_ms <= 0) {
            break;
        }
        file_source_wait(s, wait_ms);
        waited = 1;
        now = h->now_ms();
    }
    if (eof) {
        err = SLUICE_EOF;
    } else if (added == 0) {
        err = SLUICE_AGAIN;
    }
out:
    return err;
}

static sluice_err_t file_source_commit(void *state, const void *position, size_t len, char *errstr,
                                       size_t errstr_size)
{
    /* The core persists positions; a file needs no acknowledgement. */
    (void)state;
    (void)position;
    (void)len;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

/* While following with inotify on a local filesystem, the core sleeps on the inotify descriptor
 * between polls instead of polling every poll.interval.ms: an idle file costs no wakeups. */
static int file_source_fd(void *state)
{
    struct file_source *s = state;

    return s->follow && !s->remote ? s->ifd : -1;
}

static void file_source_stop(void *state)
{
    struct file_source *s = state;

    /* May run on another thread: only signal; poll notices within poll.interval.ms. */
    atomic_store(&s->stopping, 1);
}

static void file_source_destroy(void *state)
{
    struct file_source *s = state;

    if (s == NULL) {
        return;
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->ifd >= 0) {
        close(s->ifd); /* drops its watches too */
    }
    free(s->pos_json);
    free(s->buf);
    free(s->dir);
    free(s->path);
    free(s);
}

static const struct sluice_source file_source = {
    .struct_size = sizeof(struct sluice_source),
    .config = file_source_config,
    .init = file_source_init,
    .start = file_source_start,
    .poll = file_source_poll,
    .fd = file_source_fd,
    .commit = file_source_commit,
    .stop = file_source_stop,
    .destroy = file_source_destroy,
};

/* ---------------------------------------------------------------------------------------------- */
/* Sink */

static const struct sluice_config_field file_sink_config[] = {
    {.name = "file",
     .type = SLUICE_CFG_PATH,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The file to append to; created if missing (its directory must exist).",
     .example = "/var/lib/sluice/orders.jsonl"},
    {.name = "fsync",
     .type = SLUICE_CFG_BOOL,
     .default_value = "true",
     .description = "fsync the file on every flush, so that committed offsets never run ahead of "
                    "what is on disk. `false` trades that for speed: a crash of the machine may "
                    "lose the last lines.",
     .example = "false"},
    {.name = "buffer.size",
     .type = SLUICE_CFG_SIZE,
     .default_value = "256KiB",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 1073741824.0,
     .description = "Lines are collected in memory and written once this many bytes are waiting "
                    "(and on every flush).",
     .example = "1MiB"},
    {.name = "file.mode",
     .type = SLUICE_CFG_STRING,
     .default_value = "0644",
     .description = "The permissions (octal) of the file when sluice creates it, exactly (not "
                    "reduced by the umask); a file that exists keeps its own. The owner must keep "
                    "read and write.",
     .example = "0640"},
    {.name = NULL},
};

struct file_sink {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    char *path;
    int fd;
    int fsync;
    size_t buffer_size;
    unsigned mode;     /* file.mode, for a file this sink creates */
    sluice_buf_t *buf; /* rendered lines not yet written */
    size_t written;    /* bytes at the head of buf already written (after a short write) */
    int dirty;         /* written since the last fsync */
};

/* Writes buf[written..upto) and, when that is all of buf, empties it. */
static sluice_err_t file_sink_write(struct file_sink *s, size_t upto, char *errstr,
                                    size_t errstr_size)
{
    const char *data = s->host->buf_data(s->buf);
    sluice_err_t err = SLUICE_OK;

    while (s->written < upto) {
        ssize_t n = write(s->fd, data + s->written, upto - s->written);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno == EAGAIN || errno == EWOULDBLOCK ? SLUICE_RETRY : SLUICE_FATAL;
            snprintf(errstr, errstr_size, "cannot write %s: %s", s->path, strerror(errno));
            goto out;
        }
        s->written += (size_t)n;
        s->dirty = 1;
    }
    if (s->written == s->host->buf_len(s->buf)) {
        s->host->buf_reset(s->buf);
        s->written = 0;
    }
out:
    return err;
}

static sluice_err_t file_sink_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                   const sluice_config_t *config, void **state, char *errstr,
                                   size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct file_sink *s = calloc(1, sizeof *s);
    const char *path = host->config_string(config, "file");

    if (s == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    s->host = host;
    s->ctx = ctx;
    s->fd = -1;
    if (path == NULL || path[0] == '\0') {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'file' must name the file to write");
        goto out;
    }
    s->fsync = host->config_bool(config, "fsync");
    s->buffer_size = (size_t)host->config_size(config, "buffer.size");
    if (filemode_parse(host->config_string(config, "file.mode"), &s->mode, errstr, errstr_size) !=
        0) {
        err = SLUICE_ERR_CONFIG;
        goto out;
    }
    s->path = strdup(path);
    /* Room for a full buffer plus a typical line, so that the buffer rarely grows. */
    s->buf = host->buf_new(s->buffer_size + 64 * 1024);
    if (s->path == NULL || s->buf == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    *state = s;
    s = NULL;
out:
    if (s != NULL) {
        if (s->buf != NULL) {
            host->buf_free(s->buf);
        }
        free(s->path);
        free(s);
    }
    return err;
}

/* A crash can leave the last line half written (a write(2) cut short by SIGKILL or power loss).
 * That line was never flushed, so its record was never committed and will be delivered again:
 * drop the fragment so the replay starts on a line of its own. */
static sluice_err_t file_sink_trim_partial(struct file_sink *s, char *errstr, size_t errstr_size)
{
    struct stat st;
    char block[4096];
    off_t end, pos;

    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        return SLUICE_OK;
    }
    end = st.st_size;
    pos = end;
    while (pos > 0) {
        size_t n = pos < (off_t)sizeof block ? (size_t)pos : sizeof block;
        ssize_t r = pread(s->fd, block, n, pos - (off_t)n);

        if (r != (ssize_t)n) {
            snprintf(errstr, errstr_size, "cannot read %s: %s", s->path,
                     r < 0 ? strerror(errno) : "short read");
            return SLUICE_FATAL;
        }
        const char *nl = memrchr(block, '\n', n);
        if (nl != NULL) {
            pos = pos - (off_t)n + (nl - block) + 1;
            break;
        }
        pos -= (off_t)n;
    }
    if (pos == end) {
        return SLUICE_OK;
    }
    s->host->log(s->ctx, SLUICE_LOG_WARN,
                 "%s ends with %lld bytes of a line an interrupted run did not finish; removing "
                 "them (that record is delivered again)",
                 s->path, (long long)(end - pos));
    if (ftruncate(s->fd, pos) != 0) {
        snprintf(errstr, errstr_size, "cannot truncate %s: %s", s->path, strerror(errno));
        return SLUICE_FATAL;
    }
    return SLUICE_OK;
}

static sluice_err_t file_sink_start(void *state, char *errstr, size_t errstr_size)
{
    struct file_sink *s = state;
    sluice_err_t err = SLUICE_OK;

    if (s->fd >= 0) {
        goto out;
    }
    /* A new file gets file.mode exactly (fchmod: the umask may have taken bits of it away); an
     * existing one is appended to as it is. */
    s->fd = open(s->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, s->mode);
    if (s->fd >= 0 && fchmod(s->fd, s->mode) != 0) {
        err = SLUICE_FATAL;
        snprintf(errstr, errstr_size, "cannot set the mode of %s: %s", s->path, strerror(errno));
        goto out;
    }
    if (s->fd < 0 && errno == EEXIST) {
        s->fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);
    }
    if (s->fd < 0) {
        err = SLUICE_FATAL;
        snprintf(errstr, errstr_size, "cannot open %s for appending: %s%s", s->path,
                 strerror(errno), errno == ENOENT ? " (its directory must exist)" : "");
        goto out;
    }
    err = file_sink_trim_partial(s, errstr, errstr_size);
out:
    return err;
}

static sluice_err_t file_sink_put(void *state, sluice_batch_t *batch, char *errstr,
                                  size_t errstr_size)
{
    struct file_sink *s = state;
    const struct sluice_host *h = s->host;
    size_t n = h->batch_count(batch);
    sluice_err_t err = SLUICE_OK;

    /* Refuse the batch (RETRY) while an earlier write is still pending, so that a retried batch is
     * never appended twice: once accepted, a batch is only ever written, never refused. */
    if (h->buf_len(s->buf) - s->written >= s->buffer_size) {
        err = file_sink_write(s, h->buf_len(s->buf), errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        sluice_record_t *rec = h->batch_get(batch, i);
        char why[256];
        sluice_value_t *v;
        size_t before;
        sluice_err_t rerr;

        why[0] = '\0';
        v = h->record_value(rec, why, sizeof why);
        if (v == NULL) {
            h->record_fail(rec, why[0] != '\0' ? why : "the value cannot be decoded");
            continue;
        }
        before = h->buf_len(s->buf);
        rerr = h->value_write_text(v, s->buf);
        if (rerr == SLUICE_OK) {
            rerr = h->buf_append(s->buf, "\n", 1);
        }
        if (rerr == SLUICE_ERR_NOMEM) {
            err = SLUICE_FATAL;
            snprintf(errstr, errstr_size, "out of memory while rendering a record");
            goto out;
        }
        if (rerr != SLUICE_OK) {
            /* The buffer cannot be cut back: write what precedes the half-rendered line, then
             * drop the rest. */
            err = file_sink_write(s, before, errstr, errstr_size);
            if (err != SLUICE_OK) {
                err = SLUICE_FATAL;
                goto out;
            }
            h->buf_reset(s->buf);
            s->written = 0;
            h->record_fail(rec, "the value cannot be rendered as text");
            continue;
        }
    }
    if (h->buf_len(s->buf) >= s->buffer_size) {
        err = file_sink_write(s, h->buf_len(s->buf), errstr, errstr_size);
        if (err == SLUICE_RETRY) {
            err = SLUICE_OK; /* accepted; flush (or the next put) writes it */
        }
    }
out:
    return err;
}

static sluice_err_t file_sink_flush(void *state, char *errstr, size_t errstr_size)
{
    struct file_sink *s = state;
    sluice_err_t err = file_sink_write(s, s->host->buf_len(s->buf), errstr, errstr_size);

    if (err != SLUICE_OK) {
        goto out;
    }
    if (s->fsync && s->dirty) {
        if (fsync(s->fd) != 0) {
            /* After a failed fsync the page cache state is unknown: retrying cannot prove
             * durability. */
            err = SLUICE_FATAL;
            snprintf(errstr, errstr_size, "cannot fsync %s: %s", s->path, strerror(errno));
            goto out;
        }
    }
    s->dirty = 0;
out:
    return err;
}

static void file_sink_stop(void *state)
{
    struct file_sink *s = state;

    /* Whatever was not flushed was not committed either: it will be delivered again. */
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

static void file_sink_destroy(void *state)
{
    struct file_sink *s = state;

    if (s == NULL) {
        return;
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->host->buf_free(s->buf);
    free(s->path);
    free(s);
}

static const struct sluice_sink file_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = file_sink_config,
    .init = file_sink_init,
    .start = file_sink_start,
    .put = file_sink_put,
    .flush = file_sink_flush,
    .stop = file_sink_stop,
    .destroy = file_sink_destroy,
};

/* Kafka Connect's class names (and the short names Connect accepts), so that Connect's quickstart
 * configs (config/connect-file-source.properties, -sink) name this plugin unchanged. */
static const struct sluice_alias file_aliases[] = {
    {"org.apache.kafka.connect.file.FileStreamSourceConnector", NULL, NULL},
    {"FileStreamSourceConnector", NULL, NULL},
    {"FileStreamSource", NULL, NULL},
    {"org.apache.kafka.connect.file.FileStreamSinkConnector", NULL, NULL},
    {"FileStreamSinkConnector", NULL, NULL},
    {"FileStreamSink", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "file",
    .version = "1.0.0",
    .summary = "Read lines of a local file as records; append record values to a local file",
    .description =
        "Kafka Connect's FileStreamSource and FileStreamSink, made dependable.\n"
        "\n"
        "**As a source**, every line of `file` (ended by `\\n`; a trailing `\\r` is dropped) "
        "becomes a record: a STRING value with `format: text`, a parsed JSON value with "
        "`format: json`. The record timestamp is the time the line was read. Each record carries "
        "its position, `{\"file\":…,\"inode\":…,\"position\":…}` (the byte offset after the "
        "line), so a restarted pipeline continues after the last line delivered — if the file is "
        "still the same inode and at least that long; otherwise it reads from the start and says "
        "why.\n"
        "\n"
        "With `follow: true` (the default) the source behaves like `tail -F`: it waits for growth "
        "with inotify, reads a truncated file again from the start, and on rotation (the path "
        "names a new file) finishes the old file before opening the new one. A missing file is "
        "waited for. With `follow: false` it reads to the end (the last line may lack its "
        "newline) and ends the pipeline; a missing file is then an error.\n"
        "\n"
        "Lines longer than `max.line.bytes` are skipped with a warning and counted in "
        "`lines.too.long`. With `format: json`, a line that is not JSON is routed by the "
        "pipeline's `errors.tolerance` (with a dead-letter topic it lands there as the raw line).\n"
        "\n"
        "**As a sink**, each record's value is appended to `file` as one line: strings as they "
        "are, anything else as JSON. Lines are buffered up to `buffer.size` and written with "
        "`O_APPEND`; a flush writes the rest and, with `fsync: true`, syncs the file, and only "
        "then are the offsets committed: delivery is at-least-once, so a crash may repeat the "
        "last lines but never loses one. A line left half written by a crash is removed when "
        "the sink starts again.",
    .source = &file_source,
    .sink = &file_sink,
    .aliases = file_aliases,
};
