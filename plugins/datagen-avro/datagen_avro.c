/*
 * datagen-avro — Confluent Datagen as a sluice source: records generated from an Avro schema with
 * avro-random-generator's `arg.properties` hints, Confluent's quickstarts built in.
 *
 * One source instance runs `tasks.max` logical tasks in turn (round-robin), each with its own
 * generator state (seed derived from random.seed), iteration counter and `iteration` hint states.
 * Every record carries, as its position, the state of all tasks after it, so a restart continues
 * the same stream. The schema is compiled once at init (datagen_compile.c); a record costs only its
 * values in the batch arena.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sluice/plugin.h>

#include "datagen_quickstarts.h"
#include "datagen_rand.h"
#include "datagen_schema.h"

#define DG_BATCH           1000 /* most records one poll adds */
#define DG_POS_VERSION     1
#define DG_POS_HEAD        19 /* version, generation, fingerprint, ntasks, niter, next task */
#define DG_MAX_TASKS       256
#define DG_MAX_LAG_MS      1000.0 /* a paced source behind by more than this drops the backlog */
#define DG_SCHEMA_FILE_MAX (16u * 1024u * 1024u)

static const struct sluice_config_field datagen_config[] = {
    {.name = "quickstart",
     .type = SLUICE_CFG_STRING,
     .description = "One of Confluent's quickstarts, built into the plugin (any case): ORDERS, "
                    "PURCHASES, CREDIT_CARDS, TRANSACTIONS, FLEET_MGMT_DESCRIPTION, "
                    "FLEET_MGMT_LOCATION, FLEET_MGMT_SENSORS, USERS, PAGEVIEWS, STOCK_TRADES, "
                    "LIGHT_SENSOR. Exactly one of `quickstart`, `schema.string` and "
                    "`schema.filename` is given.",
     .example = "orders"},
    {.name = "schema.filename",
     .type = SLUICE_CFG_PATH,
     .description = "An Avro schema file (.avsc) with `arg.properties` hints. `options` files "
                    "named in it are found relative to it.",
     .example = "schemas/orders.avsc"},
    {.name = "schema.string",
     .type = SLUICE_CFG_STRING,
     .description = "An Avro schema with hints, as literal JSON.",
     .example = "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"id\",\"type\":"
                "{\"type\":\"int\",\"arg.properties\":{\"iteration\":{\"start\":1}}}}]}"},
    {.name = "schema.keyfield",
     .type = SLUICE_CFG_STRING,
     .description = "The top-level field whose value becomes the record key (with the field's "
                    "type). Default: the quickstart's key field (ORDERS: `orderid`), none for a "
                    "schema of your own. Empty: records have no key.",
     .example = "orderid"},
    {.name = "max.interval",
     .type = SLUICE_CFG_DURATION,
     .default_value = "500ms",
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 86400000,
     .description = "Like Confluent's: before each record, wait a random time in [0, "
                    "max.interval) (divided by `tasks.max`, as Confluent's tasks run side by "
                    "side). 0: as fast as possible. Ignored when `rate` is given.",
     .example = "100ms"},
    {.name = "rate",
     .type = SLUICE_CFG_DOUBLE,
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 1e9,
     .description = "Records per second of the whole source, evenly spaced; overrides "
                    "`max.interval`. 0: as fast as possible (batches of 1000 records).",
     .example = "1000"},
    {.name = "iterations",
     .type = SLUICE_CFG_INT,
     .default_value = "-1",
     .description = "Records per task, counted across restarts like Confluent's (the count is "
                    "part of the saved position); once every task has made them the source ends "
                    "and the pipeline drains and exits 0. 0 or less: unlimited.",
     .example = "10000"},
    {.name = "random.seed",
     .type = SLUICE_CFG_INT,
     .description = "Seed of the generator: the same seed (and schema and tasks.max) gives the "
                    "same records, byte for byte. Each task derives its own seed from it. Unset: "
                    "a seed from /dev/urandom, logged at info so the run can be repeated.",
     .example = "42"},
    {.name = "tasks.max",
     .type = SLUICE_CFG_INT,
     .default_value = "1",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = DG_MAX_TASKS,
     .description = "Logical tasks inside this source, taking turns record by record; each has "
                    "its own derived seed, iteration counter and `iteration` sequences, and "
                    "stamps its records with Confluent's headers `task.id`, `task.generation` "
                    "and `current.iteration`.",
     .example = "4"},
    {.name = NULL},
};

struct datagen_task {
    struct datagen_rand rand;
    uint64_t count;  /* records made; the next one's current.iteration */
    uint64_t *iter;  /* the task's `iteration` hint states */
    char id_text[8]; /* task.id header */
    size_t id_len;
};

enum datagen_pace { DG_PACE_FAST, DG_PACE_RATE, DG_PACE_RANDOM };

struct datagen_source {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    struct datagen_schema *schema;
    char *what;
    char *base_dir;

    size_t ntasks;
    struct datagen_task *tasks;
    uint64_t *iter_words;
    size_t niter;
    size_t next_task;
    int64_t iterations;
    uint64_t seed;
    uint32_t generation;
    char generation_text[16];
    size_t generation_len;

    enum datagen_pace pace;
    double interval_ms;     /* DG_PACE_RATE */
    double max_interval_ms; /* DG_PACE_RANDOM */
    struct datagen_rand pace_rand;
    double due_ms; /* monotonic time of the next record */

    unsigned char *pos;
    size_t pos_len;
    int efd; /* stop() writes here to wake a waiting poll */
    atomic_int stopping;
};

/* ---------------------------------------------------------------------------------------------- */
/* Positions: little-endian, version 1:
 *   u8 version, u32 generation, u64 schema fingerprint, u16 ntasks, u16 niter, u16 next task,
 *   then per task: u64 count, u64 generator state[4], u64 iteration states[niter]. */

static void dg_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t dg_get_u64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void dg_put_u16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static unsigned dg_get_u16(const unsigned char *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static size_t dg_task_bytes(const struct datagen_source *s)
{
    return 8 * (5 + s->niter);
}

static void dg_pos_task(struct datagen_source *s, size_t i)
{
    unsigned char *p = s->pos + DG_POS_HEAD + i * dg_task_bytes(s);
    const struct datagen_task *t = &s->tasks[i];

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The layout is little-endian: copy the words as they are (once per record). */
    memcpy(p, &t->count, 8);
    memcpy(p + 8, t->rand.s, 32);
    if (s->niter > 0) {
        memcpy(p + 40, t->iter, 8 * s->niter);
    }
#else
    dg_put_u64(p, t->count);
    for (int k = 0; k < 4; k++) {
        dg_put_u64(p + 8 + 8 * k, t->rand.s[k]);
    }
    for (size_t k = 0; k < s->niter; k++) {
        dg_put_u64(p + 40 + 8 * k, t->iter[k]);
    }
#endif
}

static void dg_pos_head(struct datagen_source *s)
{
    s->pos[0] = DG_POS_VERSION;
    s->pos[1] = (unsigned char)s->generation;
    s->pos[2] = (unsigned char)(s->generation >> 8);
    s->pos[3] = (unsigned char)(s->generation >> 16);
    s->pos[4] = (unsigned char)(s->generation >> 24);
    dg_put_u64(s->pos + 5, datagen_schema_fingerprint(s->schema));
    dg_put_u16(s->pos + 13, (unsigned)s->ntasks);
    dg_put_u16(s->pos + 15, (unsigned)s->niter);
    dg_put_u16(s->pos + 17, (unsigned)s->next_task);
}

/* ---------------------------------------------------------------------------------------------- */
/* init */

static size_t dg_u64_text(char *out, uint64_t v)
{
    char tmp[24];
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

static const char *dg_config_text(const struct sluice_host *h, const sluice_config_t *c,
                                  const char *key)
{
    const char *v = h->config_has(c, key) ? h->config_string(c, key) : NULL;

    return v != NULL && v[0] != '\0' ? v : NULL;
}

static char *dg_read_file(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long size;

    if (f == NULL) {
        snprintf(errstr, errstr_size, "schema.filename: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(errstr, errstr_size, "schema.filename: cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if ((unsigned long)size > DG_SCHEMA_FILE_MAX) {
        snprintf(errstr, errstr_size, "schema.filename: %s is larger than 16 MiB", path);
        goto out;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(errstr, errstr_size, "schema.filename: cannot read %s", path);
        free(text);
        text = NULL;
        goto out;
    }
    text[size] = '\0';
out:
    fclose(f);
    return text;
}

static uint64_t dg_urandom_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed) {
            seed = 0;
        }
        close(fd);
    }
    if (seed == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    /* Positive and below 2^53, so that the seed survives YAML, JSON and doubles unchanged. */
    return seed & ((1ull << 53) - 1);
}

static void dg_destroy(void *state);

/* Seeds every task and sets its iteration states to their first values. */
static void dg_fresh_tasks(struct datagen_source *s)
{
    for (size_t i = 0; i < s->ntasks; i++) {
        struct datagen_task *t = &s->tasks[i];

        datagen_rand_seed(&t->rand, s->seed + (uint64_t)i * 0xd1b54a32d192ed03ull);
        t->count = 0;
        datagen_schema_iter_init(s->schema, t->iter);
    }
    s->next_task = 0;
}

static sluice_err_t dg_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                            const sluice_config_t *config, void **state, char *errstr,
                            size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct datagen_source *s = calloc(1, sizeof *s);
    const char *quickstart = dg_config_text(host, config, "quickstart");
    const char *file = dg_config_text(host, config, "schema.filename");
    const char *literal = dg_config_text(host, config, "schema.string");
    const char *keyfield = NULL;
    const char *text = NULL;
    char *owned_text = NULL;
    int given = (quickstart != NULL) + (file != NULL) + (literal != NULL);
    char buf[512];

    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    s->host = host;
    s->ctx = ctx;
    s->efd = -1;
    atomic_init(&s->stopping, 0);
    if (given != 1) {
        err = SLUICE_ERR_CONFIG;
        if (given == 0) {
            snprintf(errstr, errstr_size,
                     "give one of 'quickstart', 'schema.string' and 'schema.filename' (none is "
                     "set)");
        } else {
            snprintf(errstr, errstr_size,
                     "give only one of 'quickstart', 'schema.string' and 'schema.filename' (set: "
                     "%s%s%s%s%s)",
                     quickstart ? "quickstart" : "", quickstart && (file || literal) ? ", " : "",
                     literal ? "schema.string" : "", literal && file ? ", " : "",
                     file ? "schema.filename" : "");
        }
        goto out;
    }
    if (quickstart != NULL) {
        const struct datagen_quickstart *q;
        size_t o = 0;

        for (q = datagen_quickstarts; q->name != NULL; q++) {
            if (strcasecmp(q->name, quickstart) == 0) {
                break;
            }
        }
        if (q->name == NULL) {
            buf[0] = '\0';
            for (const struct datagen_quickstart *k = datagen_quickstarts;
                 k->name != NULL && o < sizeof buf - 64; k++) {
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s",
                                      k == datagen_quickstarts ? "" : ", ", k->name);
            }
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "quickstart: unknown quickstart '%s' (valid: %s; any case)", quickstart, buf);
            goto out;
        }
        if (q->schema == NULL) {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "quickstart %s is not built into this plugin: schemas/%s was missing when "
                     "it was built (rebuild sluice, or use schema.filename)",
                     q->name, q->file);
            goto out;
        }
        snprintf(buf, sizeof buf, "quickstart %s (schemas/%s)", q->name, q->file);
        text = q->schema;
        keyfield = q->keyfield;
    } else if (file != NULL) {
        const char *slash = strrchr(file, '/');

        owned_text = dg_read_file(file, errstr, errstr_size);
        if (owned_text == NULL) {
            err = SLUICE_ERR_CONFIG;
            goto out;
        }
        text = owned_text;
        snprintf(buf, sizeof buf, "schema file %s", file);
        s->base_dir = slash == NULL   ? strdup(".")
                      : slash == file ? strdup("/")
                                      : strndup(file, (size_t)(slash - file));
        if (s->base_dir == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    } else {
        text = literal;
        snprintf(buf, sizeof buf, "schema.string");
    }
    if (host->config_has(config, "schema.keyfield")) {
        keyfield = host->config_string(config, "schema.keyfield");
    }
    s->what = strdup(buf);
    if (s->what == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    err = datagen_schema_compile(host, ctx, text, s->what, s->base_dir, keyfield, &s->schema,
                                 errstr, errstr_size);
    if (err != SLUICE_OK) {
        goto out;
    }

    s->ntasks = (size_t)host->config_int(config, "tasks.max");
    if (s->ntasks < 1 || s->ntasks > DG_MAX_TASKS) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "tasks.max must be from 1 to %d", DG_MAX_TASKS);
        goto out;
    }
    s->iterations = host->config_int(config, "iterations");
    if (host->config_has(config, "random.seed")) {
        s->seed = (uint64_t)host->config_int(config, "random.seed");
    } else {
        s->seed = dg_urandom_seed();
        host->log(ctx, SLUICE_LOG_INFO,
                  "random.seed is not set: using %" PRIu64 " (set random.seed: %" PRIu64
                  " to repeat this stream)",
                  s->seed, s->seed);
    }
    if (host->config_has(config, "rate")) {
        double rate = host->config_double(config, "rate");

        s->pace = rate > 0 ? DG_PACE_RATE : DG_PACE_FAST;
        s->interval_ms = rate > 0 ? 1000.0 / rate : 0;
    } else {
        int64_t mi = host->config_duration_ms(config, "max.interval");

        s->pace = mi > 0 ? DG_PACE_RANDOM : DG_PACE_FAST;
        s->max_interval_ms = (double)mi / (double)s->ntasks;
    }
    datagen_rand_seed(&s->pace_rand, s->seed ^ 0x5851f42d4c957f2dull);

    s->niter = datagen_schema_iter_count(s->schema);
    s->tasks = calloc(s->ntasks, sizeof *s->tasks);
    s->iter_words = calloc(s->ntasks * (s->niter ? s->niter : 1), sizeof *s->iter_words);
    s->pos_len = DG_POS_HEAD + s->ntasks * dg_task_bytes(s);
    s->pos = calloc(1, s->pos_len);
    if (s->tasks == NULL || s->iter_words == NULL || s->pos == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->ntasks; i++) {
        s->tasks[i].iter = s->iter_words + i * s->niter;
        s->tasks[i].id_len = dg_u64_text(s->tasks[i].id_text, i);
    }
    dg_fresh_tasks(s);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        err = SLUICE_ERR_IO;
        snprintf(errstr, errstr_size, "eventfd: %s", strerror(errno));
        goto out;
    }
    *state = s;
    s = NULL;
out:
    free(owned_text);
    if (s != NULL) {
        dg_destroy(s);
    }
    return err;
}

/* ---------------------------------------------------------------------------------------------- */
/* start, poll, stop */

static double dg_next_interval(struct datagen_source *s)
{
    if (s->pace == DG_PACE_RATE) {
        return s->interval_ms;
    }
    return datagen_rand_double(&s->pace_rand) * s->max_interval_ms;
}

static sluice_err_t dg_start(void *state, const void *resume_from, size_t resume_len, char *errstr,
                             size_t errstr_size)
{
    struct datagen_source *s = state;
    const struct sluice_host *h = s->host;
    const unsigned char *p = resume_from;

    (void)errstr;
    (void)errstr_size;
    s->generation = 0;
    if (p != NULL && resume_len >= DG_POS_HEAD && p[0] == DG_POS_VERSION) {
        uint32_t gen = (uint32_t)p[1] | ((uint32_t)p[2] << 8) | ((uint32_t)p[3] << 16) |
                       ((uint32_t)p[4] << 24);
        uint64_t fp = dg_get_u64(p + 5);
        size_t ntasks = dg_get_u16(p + 13), niter = dg_get_u16(p + 15);
        size_t next = dg_get_u16(p + 17);

        s->generation = gen + 1;
        if (fp != datagen_schema_fingerprint(s->schema) || ntasks != s->ntasks ||
            niter != s->niter || next >= ntasks || resume_len != s->pos_len) {
            h->log(s->ctx, SLUICE_LOG_WARN,
                   "the saved position was made with another schema, schema.keyfield or "
                   "tasks.max; starting a new stream (task.generation %" PRIu32 ")",
                   s->generation);
        } else {
            for (size_t i = 0; i < s->ntasks; i++) {
                const unsigned char *t = p + DG_POS_HEAD + i * dg_task_bytes(s);

                s->tasks[i].count = dg_get_u64(t);
                for (int k = 0; k < 4; k++) {
                    s->tasks[i].rand.s[k] = dg_get_u64(t + 8 + 8 * k);
                }
                for (size_t k = 0; k < s->niter; k++) {
                    s->tasks[i].iter[k] = dg_get_u64(t + 40 + 8 * k);
                }
            }
            s->next_task = next;
            if (s->iterations > 0 && s->tasks[0].count >= (uint64_t)s->iterations) {
                h->log(s->ctx, SLUICE_LOG_INFO,
                       "the saved position already has iterations (%" PRId64
                       ") records per task: nothing more to generate (raise iterations to "
                       "continue the stream, or remove the pipeline's saved position to start "
                       "over)",
                       s->iterations);
            }
            h->log(s->ctx, SLUICE_LOG_INFO,
                   "resuming the stream of %s: task 0 at iteration %" PRIu64
                   " (task.generation %" PRIu32 ")",
                   s->what, s->tasks[0].count, s->generation);
        }
    } else if (p != NULL && resume_len > 0) {
        h->log(s->ctx, SLUICE_LOG_WARN,
               "the saved position (%zu bytes) is not one this plugin wrote; starting a new "
               "stream",
               resume_len);
    }
    s->generation_len =
        (size_t)snprintf(s->generation_text, sizeof s->generation_text, "%" PRIu32, s->generation);
    dg_pos_head(s);
    for (size_t i = 0; i < s->ntasks; i++) {
        dg_pos_task(s, i);
    }
    s->due_ms = (double)h->monotonic_ms();
    if (s->pace != DG_PACE_FAST) {
        s->due_ms += dg_next_interval(s);
    }
    return SLUICE_OK;
}

static int dg_task_done(const struct datagen_source *s, const struct datagen_task *t)
{
    return s->iterations > 0 && t->count >= (uint64_t)s->iterations;
}

/* The next task that still has records to make, or -1 when all are done. */
static long dg_pick_task(struct datagen_source *s)
{
    for (size_t k = 0; k < s->ntasks; k++) {
        size_t i = (s->next_task + k) % s->ntasks;

        if (!dg_task_done(s, &s->tasks[i])) {
            return (long)i;
        }
    }
    return -1;
}

static sluice_err_t dg_emit(struct datagen_source *s, sluice_batch_t *batch, size_t ti, int64_t now,
                            char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->host;
    struct datagen_task *t = &s->tasks[ti];
    sluice_record_t *rec = h->batch_add(batch);
    sluice_value_t *key = NULL, *v;
    char iter_text[24];

    if (rec == NULL) {
        goto nomem;
    }
    v = datagen_schema_generate(s->schema, rec, &t->rand, t->iter, &key);
    if (v == NULL) {
        goto nomem;
    }
    h->record_set_value(rec, v);
    if (key != NULL) {
        h->record_set_key(rec, key);
    }
    h->record_set_timestamp(rec, now);
    h->record_add_header(rec, "task.generation", s->generation_text, s->generation_len);
    h->record_add_header(rec, "task.id", t->id_text, t->id_len);
    h->record_add_header(rec, "current.iteration", iter_text, dg_u64_text(iter_text, t->count));
    t->count++;
    s->next_task = (ti + 1) % s->ntasks;
    dg_put_u16(s->pos + 17, (unsigned)s->next_task);
    dg_pos_task(s, ti);
    h->record_set_position(rec, s->pos, s->pos_len);
    return SLUICE_OK;
nomem:
    snprintf(errstr, errstr_size, "out of memory while generating a record");
    return SLUICE_ERR_NOMEM;
}

/* Sleeps up to `ms` unless stop() writes to the eventfd. */
static void dg_wait(struct datagen_source *s, double ms)
{
    struct pollfd pfd = {.fd = s->efd, .events = POLLIN};
    int wait = (int)ceil(ms);

    if (wait <= 0) {
        return;
    }
    if (poll(&pfd, 1, wait) > 0) {
        uint64_t drain;

        (void)!read(s->efd, &drain, sizeof drain);
    }
}

static sluice_err_t dg_poll(void *state, sluice_batch_t *batch, int timeout_ms, char *errstr,
                            size_t errstr_size)
{
    struct datagen_source *s = state;
    const struct sluice_host *h = s->host;
    sluice_err_t err = SLUICE_OK;
    size_t added = 0;
    int64_t wall = h->now_ms();
    double now = (double)h->monotonic_ms();
    double deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
    int eof = 0;

    while (atomic_load_explicit(&s->stopping, memory_order_relaxed) == 0) {
        long ti = dg_pick_task(s);

        if (ti < 0) {
            eof = 1;
            break;
        }
        if (s->pace != DG_PACE_FAST) {
            if (s->due_ms > now) {
                double until = s->due_ms < deadline ? s->due_ms : deadline;

                if (added > 0 || until <= now) {
                    break;
                }
                dg_wait(s, until - now);
                now = (double)h->monotonic_ms();
                wall = h->now_ms();
                if (s->due_ms > now && now >= deadline) {
                    break;
                }
                continue;
            }
            if (now - s->due_ms > DG_MAX_LAG_MS) {
                s->due_ms = now; /* far behind (a slow sink): do not burst to catch up */
            }
        }
        err = dg_emit(s, batch, (size_t)ti, wall, errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
        added++;
        if (s->pace != DG_PACE_FAST) {
            s->due_ms += dg_next_interval(s);
        }
        if (added >= DG_BATCH) {
            break;
        }
    }
    if (eof) {
        err = SLUICE_EOF;
    } else if (added == 0) {
        err = SLUICE_AGAIN;
    }
out:
    return err;
}

static void dg_stop(void *state)
{
    struct datagen_source *s = state;
    uint64_t one = 1;

    /* May run on another thread: set the flag and wake a waiting poll. */
    atomic_store(&s->stopping, 1);
    if (s->efd >= 0) {
        (void)!write(s->efd, &one, sizeof one);
    }
}

static void dg_destroy(void *state)
{
    struct datagen_source *s = state;

    if (s == NULL) {
        return;
    }
    if (s->efd >= 0) {
        close(s->efd);
    }
    datagen_schema_free(s->schema);
    free(s->tasks);
    free(s->iter_words);
    free(s->pos);
    free(s->what);
    free(s->base_dir);
    free(s);
}

static const struct sluice_source datagen_source = {
    .struct_size = sizeof(struct sluice_source),
    .config = datagen_config,
    .init = dg_init,
    .start = dg_start,
    .poll = dg_poll,
    .fd = NULL,
    .stop = dg_stop,
    .destroy = dg_destroy,
};

/* Confluent's connector class names, so a pasted connector config names this plugin. */
static const struct sluice_alias datagen_aliases[] = {
    {.name = "io.confluent.kafka.connect.datagen.DatagenConnector"},
    {.name = "DatagenSource"}, /* Confluent Cloud's managed connector */
    {.name = NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "datagen-avro",
    .version = "1.0.0",
    .summary = "Generate records from an Avro schema with arg.properties hints (Confluent "
               "Datagen, its quickstarts built in)",
    .description =
        "A drop-in for Confluent's Datagen source connector: the same configuration keys, the "
        "same quickstarts (built into the plugin from `schemas/*.avsc`: ORDERS, PURCHASES, "
        "CREDIT_CARDS, TRANSACTIONS, FLEET_MGMT_DESCRIPTION, FLEET_MGMT_LOCATION, "
        "FLEET_MGMT_SENSORS, USERS, PAGEVIEWS, STOCK_TRADES and sluice's LIGHT_SENSOR), the same "
        "`arg.properties` hint language of avro-random-generator.\n"
        "\n"
        "**Values** are typed structs named after the Avro record (`ksql.orders`), so "
        "`value.converter: avro` registers their schema and writes Confluent's wire format, and "
        "`json` writes plain JSON. `[\"null\", T]` unions become optional fields; other unions "
        "become Connect's `io.confluent.connect.avro.Union` structs, enums strings with "
        "AvroData's enum parameters, and the logical types Connect's (timestamp-millis → "
        "Timestamp, date → Date, time-millis → Time, decimal → Decimal with `scale` and "
        "`connect.decimal.precision`). The key is the value of `schema.keyfield`, with its "
        "type. Every record has the headers `task.id`, `task.generation` (+1 on every restart) "
        "and `current.iteration` (0, 1, 2, … per task).\n"
        "\n"
        "**Hints** (`arg.properties`) are read on the type, as Confluent does, and on the field, "
        "which Confluent ignores (the field's win): `options` (a list, or `{\"file\": path, "
        "\"encoding\": \"json\"}` relative to the schema file), `range` (`min` inclusive, `max` "
        "exclusive; ints, longs, floats, doubles, timestamps, dates and decimals — Confluent "
        "ignores it on decimals), `iteration` (`start`, `step`, `restart`, `initial`; numbers and "
        "booleans), `regex`, `length` (a number, or `{min, max}`), `prefix`, `suffix`, `keys` "
        "(hints of map keys) and `odds` (booleans). They work at any depth: nested records, "
        "arrays, maps, unions, enums, fixed and logical types; a record-level `options` draws "
        "whole records (CREDIT_CARDS). A hint that does not fit its field fails `init` and "
        "`sluice lint` with the schema, the field path (`address.city`) and the hint.\n"
        "\n"
        "`regex` is a generator of its own (classes, `\\d \\w \\s`, quantifiers with bounds, "
        "alternation, groups): long patterns work, where Confluent's produced nothing above 15 "
        "characters. Unbounded quantifiers repeat at most 8 times more than their minimum (or up "
        "to `length`'s max). Without hints: strings of 8–15 letters and digits, numbers over "
        "their type's range (floats in [0, 1)), timestamps and dates between 1970 and 2099.\n"
        "\n"
        "**Determinism and restarts**: the generator is xoshiro256**; the same `random.seed` "
        "gives the same records (values, keys and headers) byte for byte. Every record's "
        "position holds each task's iteration counter, generator state and `iteration` "
        "sequences, so a restarted pipeline continues the stream where the last committed "
        "record left it: with a seed, N records and a restart for M more are the N+M records of "
        "one run. `iterations` counts across restarts (like Confluent's).\n"
        "\n"
        "**Pace**: `max.interval` waits a random time before each record as Confluent does; "
        "`rate` spaces records evenly; `rate: 0` (or `max.interval: 0`) generates as fast as the "
        "pipeline takes them, in batches of 1000.",
    .aliases = datagen_aliases,
    .source = &datagen_source,
};
