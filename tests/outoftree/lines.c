/*
 * lines — a sink that appends each record's value, as JSON, as one line of a file, and makes the
 * lines durable (fsync) only when the core asks it to flush: only then are the records' offsets
 * committed, so a crash repeats records but never loses one.
 *
 * Built out of tree like hello.c:
 *
 *     cc $(pkg-config --cflags sluice-plugin) -shared -fPIC -Wl,-z,defs -o lines.so lines.c
 */
#define _POSIX_C_SOURCE 200809L /* open flags, fsync */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice/plugin.h>

struct lines {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    const char *path; /* points into the config, which outlives the instance */
    int fd;
    sluice_buf_t *buf; /* the lines put since the last flush */
};

static const struct sluice_config_field lines_config[] = {
    {.name = "file",
     .type = SLUICE_CFG_PATH,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The file the lines are appended to (created if missing).",
     .example = "/var/lib/sluice/out.jsonl"},
    {.name = NULL},
};

static sluice_err_t lines_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                               const sluice_config_t *config, void **state, char *errstr,
                               size_t errstr_size)
{
    struct lines *l = calloc(1, sizeof *l);

    if (l == NULL || (l->buf = host->buf_new(64 * 1024)) == NULL) {
        free(l);
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    l->host = host;
    l->ctx = ctx;
    l->path = host->config_string(config, "file"); /* a path: already resolved */
    l->fd = -1;
    *state = l;
    return SLUICE_OK;
}

static sluice_err_t lines_start(void *state, char *errstr, size_t errstr_size)
{
    struct lines *l = state;

    l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", l->path, strerror(errno));
        return SLUICE_ERR_IO;
    }
    return SLUICE_OK;
}

static sluice_err_t lines_put(void *state, sluice_batch_t *batch, char *errstr, size_t errstr_size)
{
    struct lines *l = state;
    const struct sluice_host *h = l->host;

    for (size_t i = 0; i < h->batch_count(batch); i++) {
        sluice_record_t *rec = h->batch_get(batch, i);
        char why[256];
        sluice_value_t *v = h->record_value(rec, why, sizeof why);
        if (v == NULL) {
            /* This record cannot be written: errors.tolerance decides; the batch goes on. */
            h->record_fail(rec, why);
            continue;
        }
        if (h->value_write_json(v, l->buf) != SLUICE_OK ||
            h->buf_append(l->buf, "\n", 1) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "out of memory");
            return SLUICE_ERR_NOMEM;
        }
    }
    return SLUICE_OK;
}

/* OK only when every line put so far is on disk: then the core commits their offsets. */
static sluice_err_t lines_flush(void *state, char *errstr, size_t errstr_size)
{
    struct lines *l = state;
    const char *p = l->host->buf_data(l->buf);
    size_t left = l->host->buf_len(l->buf);

    while (left > 0) {
        ssize_t n = write(l->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errstr, errstr_size, "%s: %s", l->path, strerror(errno));
            /* A full disk may clear up: the core retries the flush with backoff, and the
             * retry writes the whole buffer again. Lines may then appear twice, never lost:
             * at least once. */
            return SLUICE_RETRY;
        }
        p += n;
        left -= (size_t)n;
    }
    l->host->buf_reset(l->buf);
    if (fsync(l->fd) != 0) {
        snprintf(errstr, errstr_size, "%s: fsync: %s", l->path, strerror(errno));
        return SLUICE_FATAL;
    }
    return SLUICE_OK;
}

static void lines_stop(void *state)
{
    struct lines *l = state;

    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

static void lines_destroy(void *state)
{
    struct lines *l = state;

    if (l->fd >= 0)
        close(l->fd);
    l->host->buf_free(l->buf);
    free(l);
}

static const struct sluice_sink lines_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = lines_config,
    .init = lines_init,
    .start = lines_start,
    .put = lines_put,
    .flush = lines_flush,
    .stop = lines_stop,
    .destroy = lines_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "lines",
    .version = "1.0.0",
    .summary = "Append each record's value as a line of JSON to a file",
    .description =
        "An example sink, built out of tree: it appends values as JSON lines and makes them "
        "durable (fsync) at each flush, so that offsets are committed only for lines on disk.",
    .sink = &lines_sink,
};
