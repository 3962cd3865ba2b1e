/* tap.h — the tap (issue #18): records seen at one stage of a connector, streamed to a watcher
 * (GET /connectors/{name}/tap, `sluice tap`).
 *
 * A connector has one tap point. Its stages: a source connector's "source" (what the source
 * produced, before its transforms) then each of its transforms by id (what came out of it); a
 * sink connector's transforms by id then "sink" (what the sink receives). The pipeline threads
 * look at `watchers` once per batch (a relaxed load); only while someone watches are records
 * rendered (JSON, the pipeline's MaskField fields masked) into each watcher's bounded ring, under
 * the tap point's lock and never waiting on a reader: a full ring or a rate above the watcher's
 * drops the record and counts it in the next one's `skipped`. */
#ifndef SLUICE_TAP_H
#define SLUICE_TAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "http.h"
#include "record.h"

#define TAP_RING         256          /* records a watcher holds for its reader */
#define TAP_WATCHERS_MAX 8            /* open taps in a worker; more: 503 */
#define TAP_LIMIT_MAX    100000       /* records of one tap */
#define TAP_RATE_MAX     100000       /* records per second of one tap */
#define TAP_RECORD_MAX   (256 * 1024) /* a rendered record above this is shown without key/value */

struct tap_watcher;

typedef struct tap_point {
    atomic_int watchers; /* the hot path's only look (tap_active) */
    atomic_int refs;     /* the pipeline's and each watcher's */
    pthread_mutex_t mu;  /* the watcher list and their rings */
    struct tap_watcher *list;
    int closed; /* the connector went: its watchers end */
} tap_point_t;

static inline int tap_active(const tap_point_t *tp)
{
    return tp && atomic_load_explicit(&tp->watchers, memory_order_relaxed) != 0;
}

tap_point_t *tap_point_new(void);
/* The connector goes (a delete, a change, the end of the run): its watchers' streams end once
 * their rings are read. Then the pipeline's reference is dropped. */
void tap_point_close(tap_point_t *tp);

/* A pipeline thread: offer the records that passed stage `stage` (an index of the connector's
 * stages). Call only when tap_active (the caller's per-batch check). */
void tap_offer(tap_point_t *tp, int stage, sluice_record_t *const *recs, size_t n);

/* The values a watcher masks: the `fields` of each mask-field transform of the pipeline. */
typedef struct tap_mask {
    char *field;
    int key;           /* `where: key` */
    char *replacement; /* NULL: the type's empty value */
} tap_mask_t;

/* What a tap is asked for (the route's query). */
typedef struct tap_request {
    const char *connector, *stage;
    long limit, rate; /* 1..TAP_LIMIT_MAX, 1..TAP_RATE_MAX */
    int sse;          /* server-sent events, else NDJSON */
} tap_request_t;

struct runtime;
/* Attach a watcher to the connector's stage: 200 with the stream's ops and object (hand them to
 * the HTTP server, which frees the object), else 404 (no such connector), 400 (no such stage:
 * `err` lists them) or 503 (TAP_WATCHERS_MAX open) with a message in `err`. */
int tap_open(struct runtime *rt, const tap_request_t *req, const http_stream_ops_t **ops,
             void **obj, char *err, size_t errlen);

/* -- for tap.c and its unit test -------------------------------------------------------------- */
/* A watcher's sampling: may a record pass at `now_ms`? A token bucket of `rate` a second holding
 * at most one second's worth. */
typedef struct tap_bucket {
    double rate, tokens;
    int64_t last_ms;
} tap_bucket_t;
void tap_bucket_init(tap_bucket_t *b, double rate, int64_t now_ms);
int tap_bucket_take(tap_bucket_t *b, int64_t now_ms);

/* A watcher alone (no runtime): the unit test's way in. */
struct tap_watcher *tap_watcher_new(tap_point_t *tp, int stage, const char *connector,
                                    const char *stage_name, long limit, long rate, int sse,
                                    tap_mask_t *masks, size_t nmasks);
extern const http_stream_ops_t tap_stream_ops;
/* Open taps in this process (TAP_WATCHERS_MAX). */
int tap_open_count(void);

#endif
