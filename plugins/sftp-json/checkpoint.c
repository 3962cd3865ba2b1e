/*
 * checkpoint.c — sftp-json's exactly-once machinery (see the top of sftp_json.c): the names of its
 * files and markers, the checkpoint of a Kafka partition (complete the temporary files, write the
 * marker, rename), and the recovery of a partition after a crash (the newest marker says which
 * temporary files were complete; the others are removed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sftp_json.h"

/* ---------------------------------------------------------------------------------------------- */
/* Paths */

/* topics.dir + delim + topic, or the marker directory of a topic. */
int sj_topic_dir(const struct sj *s, const char *topic, int markers, char *out, size_t size)
{
    int n = markers
                ? snprintf(out, size, "%s%s.sluice%s%s", s->topics_dir, s->ddelim, s->ddelim, topic)
                : snprintf(out, size, "%s%s%s", s->topics_dir, s->ddelim, topic);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

const char *sj_ext(const struct sj *s)
{
    return s->gzip ? ".json.gz" : ".json";
}

/* Parses the base name of a file of `topic`: "<topic><fd><p><fd><offset><ext>" (after removing a
 * ".tmp"); returns 0 and sets *p, *off and *tmp when it is one. */
int sj_parse_name(const struct sj *s, const char *topic, const char *path, int32_t *p, int64_t *off,
                  int *tmp)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base), tl = strlen(topic), fl = strlen(s->fdelim), el;
    *tmp = len > 4 && strcmp(base + len - 4, ".tmp") == 0;
    if (*tmp)
        len -= 4;
    el = strlen(sj_ext(s));
    if (len < tl + 2 * fl + 2 + el || strncmp(base + len - el, sj_ext(s), el) != 0 ||
        strncmp(base, topic, tl) != 0 || strncmp(base + tl, s->fdelim, fl) != 0)
        return -1;
    const char *q = base + tl + fl, *end = base + len - el;
    char *e;
    errno = 0;
    long long pp = strtoll(q, &e, 10);
    if (e == q || errno || strncmp(e, s->fdelim, fl) != 0)
        return -1;
    q = e + fl;
    long long oo = strtoll(q, &e, 10);
    if (e == q || e != end || errno || oo < 0)
        return -1;
    *p = (int32_t)pp;
    *off = oo;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Checkpoints and recovery */

sluice_err_t sj_marker_path(const struct sj *s, const struct sj_part *pt, int64_t w, char *out,
                            size_t size)
{
    char dir[SJ_PATH_MAX];
    if (sj_topic_dir(s, pt->c.topic, 1, dir, sizeof dir) != 0)
        return SLUICE_FATAL;
    int n = snprintf(out, size, "%s%sp%" PRId32 "-%" PRId64, dir, s->ddelim, pt->c.partition, w);
    return n < 0 || (size_t)n >= size ? SLUICE_FATAL : SLUICE_OK;
}

/* Rename a finished temporary file; a rename whose answer was lost (from gone, to there) is done.
 */
static sluice_err_t sj_rename(struct sj *s, const char *from, const char *to, char *errstr,
                              size_t errstr_size)
{
    sluice_err_t e = s->store->ops->rename(s->store, from, to, errstr, errstr_size);
    if (e == SLUICE_OK || e == SLUICE_FATAL)
        return e;
    long long a, b;
    char err2[256];
    if (s->store->ops->size(s->store, from, &a, err2, sizeof err2) == SLUICE_OK && a < 0 &&
        s->store->ops->size(s->store, to, &b, err2, sizeof err2) == SLUICE_OK && b >= 0)
        return SLUICE_OK;
    return e;
}

/* Make every record the TP took durable under its final name (see the top of the file). */
sluice_err_t sj_checkpoint(struct sj *s, struct sj_part *pt, char *errstr, size_t errstr_size)
{
    sluice_err_t e;
    if (!pt->files)
        return SLUICE_OK;
    for (struct sj_file *f = pt->files; f; f = f->next)
        if ((e = sj_finish(s, f, errstr, errstr_size)) != SLUICE_OK)
            return e;
    int64_t w = pt->c.next_off;
    if (w > pt->w) {
        /* The marker's name is what counts (its content, W again, is for people): once it
         * exists, every temporary file of the TP is complete. Written straight under its name —
         * each SFTP request is a round trip. */
        char m[SJ_PATH_MAX], old[SJ_PATH_MAX], num[32];
        if (sj_marker_path(s, pt, w, m, sizeof m) != SLUICE_OK) {
            snprintf(errstr, errstr_size, "marker path too long");
            return SLUICE_FATAL;
        }
        int nl = snprintf(num, sizeof num, "%" PRId64 "\n", w);
        if (s->store->ops->created) /* new, or rewritten whole by a retry */
            s->store->ops->created(s->store, m);
        if ((e = s->store->ops->append(s->store, m, num, (size_t)nl, errstr, errstr_size)) !=
            SLUICE_OK)
            return e;
        if (pt->w >= 0 && sj_marker_path(s, pt, pt->w, old, sizeof old) == SLUICE_OK) {
            char err2[256];
            s->store->ops->remove(s->store, old, err2, sizeof err2); /* the newest one counts */
        }
        pt->w = w;
    }
    while (pt->files) {
        struct sj_file *f = pt->files;
        if ((e = sj_rename(s, f->tmp, f->final, errstr, errstr_size)) != SLUICE_OK)
            return e;
        s->h->counter_add(s->ctx, "files.written", 1);
        pt->files = f->next;
        sj_file_free(s, f);
    }
    pt->c.count = 0;
    return SLUICE_OK;
}

struct sj_listing {
    const struct sj *s;
    const char *topic;
    int32_t partition;
    int markers;
    char **paths;
    int64_t *offs;
    size_t n, cap;
    int oom;
};

static int sj_list_cb(void *ctx, const char *path, long long size)
{
    struct sj_listing *l = ctx;
    int32_t p;
    int64_t off;
    int tmp;
    (void)size;
    if (l->markers) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        char pre[32];
        int n = snprintf(pre, sizeof pre, "p%" PRId32 "-", l->partition);
        if (strncmp(base, pre, (size_t)n) != 0)
            return 0;
        char *e;
        off = strtoll(base + n, &e, 10);
        if (e == base + n)
            return 0;
        if (strcmp(e, ".tmp") == 0)
            off = -1; /* a marker being written: removed */
        else if (*e)
            return 0;
    } else {
        if (sj_parse_name(l->s, l->topic, path, &p, &off, &tmp) != 0 || !tmp || p != l->partition)
            return 0;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **np = realloc(l->paths, nc * sizeof *np);
        if (np)
            l->paths = np;
        int64_t *no = np ? realloc(l->offs, nc * sizeof *no) : NULL;
        if (!no) {
            l->oom = 1;
            return 1;
        }
        l->offs = no;
        l->cap = nc;
    }
    if (!(l->paths[l->n] = strdup(path))) {
        l->oom = 1;
        return 1;
    }
    l->offs[l->n++] = off;
    return 0;
}

static void sj_listing_free(struct sj_listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->offs);
}

/* The first record of a TP since start: learn its marker and finish or remove what a crash left. */
sluice_err_t sj_recover(struct sj *s, struct sj_part *pt, char *errstr, size_t errstr_size)
{
    char dir[SJ_PATH_MAX];
    sluice_err_t e = SLUICE_OK;
    struct sj_listing m = {
        .s = s, .topic = pt->c.topic, .partition = pt->c.partition, .markers = 1};
    struct sj_listing t = {.s = s, .topic = pt->c.topic, .partition = pt->c.partition};
    if (sj_topic_dir(s, pt->c.topic, 1, dir, sizeof dir) != 0) {
        snprintf(errstr, errstr_size, "topic name too long");
        return SLUICE_FATAL;
    }
    if ((e = s->store->ops->list(s->store, dir, sj_list_cb, &m, errstr, errstr_size)) != SLUICE_OK)
        goto out;
    int64_t w = -1;
    for (size_t i = 0; i < m.n; i++)
        if (m.offs[i] > w)
            w = m.offs[i];
    for (size_t i = 0; i < m.n; i++)
        if (m.offs[i] != w &&
            (e = s->store->ops->remove(s->store, m.paths[i], errstr, errstr_size)) != SLUICE_OK)
            goto out;
    sj_topic_dir(s, pt->c.topic, 0, dir, sizeof dir);
    if ((e = s->store->ops->list(s->store, dir, sj_list_cb, &t, errstr, errstr_size)) != SLUICE_OK)
        goto out;
    size_t done = 0, removed = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.offs[i] < w) { /* complete: the crash came between marker and rename */
            char final[SJ_PATH_MAX];
            snprintf(final, sizeof final, "%s", t.paths[i]);
            final[strlen(final) - 4] = '\0';
            e = sj_rename(s, t.paths[i], final, errstr, errstr_size);
            done++;
        } else {
            e = s->store->ops->remove(s->store, t.paths[i], errstr, errstr_size);
            removed++;
        }
        if (e != SLUICE_OK)
            goto out;
    }
    pt->w = w;
    pt->recovered = 1;
    if (w >= 0 || done || removed)
        s->h->log(s->ctx, SLUICE_LOG_INFO,
                  "%s partition %" PRId32 ": records below offset %" PRId64
                  " are in final files; %zu temporary file(s) completed, %zu removed",
                  pt->c.topic, pt->c.partition, w < 0 ? 0 : w, done, removed);
out:
    if (m.oom || t.oom) {
        snprintf(errstr, errstr_size, "out of memory");
        e = SLUICE_ERR_NOMEM;
    }
    sj_listing_free(&m);
    sj_listing_free(&t);
    return e;
}
