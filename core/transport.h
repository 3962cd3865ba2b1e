/* transport.h — how records travel from a pipeline's source to its sinks: one table of functions
 * (struct transport_ops) over opaque objects, implemented by the in-process log (topic.c) and by
 * Kafka (kafka.c). The pipeline code calls only these, the same for both, and asks what a transport
 * is like (caps), never which one it is. Adding a transport is a new file (plus its line in
 * core/meson.build's sources): its table says when the run wants it (wanted, rank), open reads and
 * checks its own keys of the configuration, and TRANSPORT_REGISTER makes it known to
 * transport_choose — no list, no extern, no line of the runtime names it.
 *
 * Objects: the run's transport (owns its topics), a topic (a name; the transport's state behind
 * it), a writer (one per pipeline: its source appends with it, and its sinks their dead-letter
 * records), a reader (one per sink task).
 *
 * Threads: wanted, open, check_*, describe, and set-up and teardown (topic, writer_add, writers,
 * readers, set_next, writer_new, reader_new, the *_free) run on the main thread, before the
 * pipeline threads start or after they are joined; progress on the main thread while they run. A
 * writer's calls run on its pipeline's source thread (append and writer_done also on its sink
 * threads, for dead-letter records); a reader's on its sink task's thread only (on_revoke too: from
 * inside read). topic may also be called from a source thread, through route (a record routed to a
 * topic met while running). */
#ifndef SLUICE_TRANSPORT_H
#define SLUICE_TRANSPORT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "record.h"
#include "topic.h"

typedef struct transport transport_t;
typedef struct transport_topic transport_topic_t;
typedef struct transport_writer transport_writer_t;
typedef struct transport_reader transport_reader_t;

/* Each transport's own objects begin with these. */
struct transport {
    const struct transport_ops *ops;
};
struct transport_topic {
    const char *name;
};
struct transport_writer {
    const struct transport_ops *ops;
};
struct transport_reader {
    const struct transport_ops *ops;
};

/* What a transport is like (transport_ops.caps): the pipeline asks these, never which one it is. */
enum {
    /* A topic never ends (others may write it): a sink reads until the run is asked to stop. */
    TRANSPORT_ENDLESS = 1 << 0,
    /* Records may come from outside this run, encoded by anyone: with errors.tolerance none a sink
     * decodes a read before handing any of it over (nothing after an undecodable record is
     * delivered). Without it records come from this run's own converters, and decoding stays
     * lazy (only what something looks at is decoded). */
    TRANSPORT_FOREIGN = 1 << 1,
    /* The transport acknowledges what is appended by itself (brokers), not when this run's sinks
     * flush it: at the end the source waits for it with a deadline, and a sink waits for its
     * dead-letter records before it commits. */
    TRANSPORT_SELF_ACKED = 1 << 2,
    /* A sink runs tasks.max tasks, each a reader of a share of the topic's partitions. */
    TRANSPORT_TASKS = 1 << 3,
};

/* A pipeline's writer: what it needs to know about the topics it writes. */
struct transport_writer_spec {
    const char *pipeline;             /* its id (messages, client names) */
    const sluice_config_t *core;      /* the pipeline's core keys (overrides, topic creation) */
    size_t buffer_bytes;              /* buffer.memory */
    transport_topic_t *const *topics; /* the topics it writes from the start ... */
    const char *const *whys;          /* ... and why, for messages ("pipeline 'x'") */
    size_t ntopics;
    int writes; /* 0: it never writes (a sink-only pipeline without dead-letter topic) */
    transport_topic_t *main; /* the pipeline's topic (written first: looked up ahead) */
};

/* A sink task's reader. */
struct transport_reader_spec {
    const char *pipeline, *sink;
    int task;
    const sluice_config_t *sink_core; /* the sink's core keys (consumer overrides), or NULL */
    size_t buffer_bytes;
    /* Called inside read when the transport takes partitions away: the sink flushes what it was
     * given; returns 0 if it did (what was taken is then committed). */
    int (*on_revoke)(void *opaque);
    void *opaque;
};

struct transport_ops {
    const char *name; /* "in-process", "Kafka": for messages */
    unsigned caps;    /* TRANSPORT_* */
    /* The choice (transport_choose): of the transports that want the run, the highest rank is
     * used. wanted looks at the run's top-level keys (`global`, NULL when the files did not load;
     * it may say why it is not wanted, with log_info) and returns 1 or 0; the in-process
     * transport wants every run, at rank 0, as the fallback. */
    int rank;
    int (*wanted)(const sluice_config_t *global);
    /* The codec's load_headers for records of a read (headers copied only when looked at), or
     * NULL when read fills them at once. */
    void (*load_headers)(const void *src, sluice_record_t *r);

    /* -- run: preparation (lint and run), set-up, progress, teardown --------------------------- */
    /* The run's transport: it reads and checks its own keys of `global` (Kafka: the kafka: block;
     * strings borrowed, `global` outlives it), adding each error to `errs`. NULL when out of
     * memory. Opening connects nowhere (`sluice lint` opens it too). */
    transport_t *(*open)(const sluice_config_t *global, config_errors_t *errs);
    /* Check the transport's own keys of a pipeline and of one of its sinks (Kafka: the
     * producer.override.* and consumer.override.* properties), adding each error to `errs`.
     * 0 or -1. */
    int (*check_pipeline)(transport_t *t, const config_pipeline_t *cp, config_errors_t *errs);
    int (*check_sink)(transport_t *t, const config_pipeline_t *cp, const config_instance_t *ci,
                      config_errors_t *errs);
    /* Where records go, for the run's first line: "in-process", "against Kafka at host:9092". */
    void (*describe)(transport_t *t, char *out, size_t size);
    /* The topic of that name, created on demand; `max_bytes` (the asking pipeline's
     * buffer.memory) raises its memory bound. NULL when out of memory. */
    transport_topic_t *(*topic)(transport_t *t, const char *name, size_t max_bytes);
    /* One more writer will append to `tp` and then call writer_done (a topic with writers left
     * does not end). */
    void (*writer_add)(transport_topic_t *tp);
    /* Writers counted on `tp` so far. */
    int (*writers)(transport_topic_t *tp);
    /* Readers of `tp` in this run (the source knows nothing will be acked when its own sinks,
     * all of them, are gone); 0 when the transport does not count them. */
    size_t (*readers)(transport_topic_t *tp);
    /* Number records of `tp` from `next` on (resuming a run; before anything is appended). */
    void (*set_next)(transport_topic_t *tp, int64_t next);
    /* 0, or -1 with a message; -2 when `*stop` was set while waiting for a cluster. */
    int (*writer_new)(transport_t *t, const struct transport_writer_spec *spec,
                      transport_writer_t **out, const atomic_int *stop, char *errstr,
                      size_t errstr_size);
    int (*reader_new)(transport_t *t, transport_topic_t *tp,
                      const struct transport_reader_spec *spec, transport_reader_t **out,
                      char *errstr, size_t errstr_size);
    /* The transport's part of a pipeline's progress line (appended to `out`, e.g. " | buffered
     * 1.2 MiB"): its topic, its writer, the readers of its sinks. */
    void (*progress)(transport_topic_t *tp, transport_writer_t *w, transport_reader_t *const *rds,
                     size_t nrds, char *out, size_t size);
    /* Bytes held for a pipeline (/metrics): the in-process topic's records; Kafka: its producer's
     * queue as the last statistics said. -1 when unknown. Any thread; reads only. */
    int64_t (*buffered)(transport_topic_t *tp, transport_writer_t *w);
    void (*writer_free)(transport_writer_t *w);
    void (*reader_free)(transport_reader_t *r);
    void (*free)(transport_t *t);

    /* -- writer (the pipeline's source thread; append and writer_done also its sink threads) -- */
    /* The topic a record was routed to, made ready to be appended to (created like the
     * pipeline's own where that is allowed). NULL with a message logged when it cannot be. */
    transport_topic_t *(*route)(transport_writer_t *w, const char *name, const atomic_int *abort);
    /* Append the staged records (the stage is emptied). Each record counts in tr->pending until
     * it is durable downstream; a record lost for good sets tr->failed. Waits while there is no
     * room, until `*abort` (then -1: what was not handed over is not appended). */
    int (*append)(transport_writer_t *w, transport_topic_t *tp, topic_stage_t *stage, tracker_t *tr,
                  const atomic_int *abort);
    /* The offset the next record appended to `tp` gets (for the source's position), or 0. */
    int64_t (*next_offset)(transport_topic_t *tp);
    /* This writer (counted by writer_add) will not append to `tp` any more. */
    void (*writer_done)(transport_writer_t *w, transport_topic_t *tp);
    /* Records appended and not acknowledged yet (TRANSPORT_SELF_ACKED; else 0). */
    long (*inflight)(transport_writer_t *w);
    /* Give up what is not acknowledged (the trackers see it fail) and wait up to `timeout_ms`
     * for the reports. Returns how many are still outstanding. */
    long (*purge)(transport_writer_t *w, int timeout_ms);

    /* -- reader (its sink thread) ------------------------------------------------------------- */
    /* Up to `max` records; waits up to `wait_ms` when none is there. The views stay valid until
     * the next read (or until acked). */
    size_t (*read)(transport_reader_t *r, topic_view_t *views, size_t max, int wait_ms);
    /* Give `rec` the headers of views[i] of the last read. Called for a view with headers
     * (nheaders > 0), and for every view of a transport with load_headers (its views carry none:
     * the records load them when looked at). */
    void (*headers)(transport_reader_t *r, size_t i, const topic_view_t *v, sluice_record_t *rec);
    /* The records of the last read were handed to the sink. */
    void (*taken)(transport_reader_t *r);
    /* The topic ended and everything was read (never, for an endless one). */
    int (*drained)(transport_reader_t *r);
    /* The topic fills up (a writer waits for room, or half of its memory is taken): flush soon
     * so that it can free what this reader holds. Never, where records are not held here. */
    int (*pressure)(transport_reader_t *r);
    /* Stop handing out records (read returns none) until resume; the position is kept. */
    void (*pause)(transport_reader_t *r);
    void (*resume)(transport_reader_t *r);
    /* Everything taken (up to offset `upto`) is durable: let it go / commit it. 0, or -1 with a
     * message (the records may be read again after a restart). */
    int (*commit)(transport_reader_t *r, int64_t upto, char *errstr, size_t errstr_size);
    /* Precommit (ABI 1.2): the positions taken and not committed, one per partition, with
     * `upto` the offset after the last record taken; at most `max` (nparts is enough). */
    size_t (*nparts)(transport_reader_t *r);
    size_t (*pending)(transport_reader_t *r, int64_t upto, struct sluice_offset *out, size_t max);
    /* Commit these positions (each capped at what was taken). 0, or -1 with a message. */
    int (*commit_offsets)(transport_reader_t *r, const struct sluice_offset *offsets, size_t n,
                          char *errstr, size_t errstr_size);
    /* The reader is done: it stops holding records (after a failure, without committing). */
    void (*close)(transport_reader_t *r);
    /* Optional: end the reader's wait in `read` (or its next one) from another thread, after a
     * flag its sink looks at changed (stop, pause, abort). With it, a sink with nothing to flush
     * waits in read until records or this come (wait_ms -1); without, it reads on a 100 ms clock.
     */
    void (*wake)(transport_reader_t *r);
};

/* The transport the run's top-level keys ask for (see wanted and rank above); NULL if none of
 * those linked in wants it. */
const struct transport_ops *transport_choose(const sluice_config_t *global);

/* Make a transport's table known to transport_choose: `TRANSPORT_REGISTER(transport_x);` at file
 * scope, beside the table. It is a linker set: a pointer to the table goes into the ELF section
 * sluice_transport, and the linker gathers the pointers of every object it links into one array
 * between __start_sluice_transport and __stop_sluice_transport (GNU ld, gold, lld). So a third
 * transport is one new file, and a program (a unit test) that links only topic.c knows only the
 * in-process transport. `used` keeps the pointer although nothing names it; the section holds
 * only these pointers, aligned like an array of them. Sanitizers leave such globals alone (GCC
 * and clang do not pad globals with a section of their own: ASan would break the array). */
#define TRANSPORT_REGISTER(ops)                                                                    \
    static const struct transport_ops *const transport_register_##ops                              \
        __attribute__((used, section("sluice_transport"), aligned(sizeof(void *)))) = &(ops)

#endif
