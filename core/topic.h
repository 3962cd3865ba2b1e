/* topic.h — the in-process topic: an in-memory log of encoded records (partition 0, offsets from a
 * starting point), read by every sink at its own pace. It keeps a record until every reader acked
 * it (its sink flushed it) and holds at most `max_bytes` (the pipeline's buffer.memory): a writer
 * waits while it is full, so a slow sink slows its source and memory stays bounded.
 *
 * Records are appended a batch at a time as one chunk; each chunk carries the tracker of the source
 * batch it came from, and a tracker is complete when every chunk of it has been acked by all
 * readers. That is when the source may commit the batch's position.
 *
 * The pipeline reaches it only through transport.h: topic.c also holds transport_memory, the
 * in-process transport over these functions. The stage and view types and the tracker are shared
 * with every transport (Kafka produces from a stage and reads into views).
 *
 * Threads: topic_new, the *_add and topic_set_next run before the pipeline threads start, and
 * topic_free after they are joined. topic_append and topic_writer_done are called by writers (a
 * source thread; a sink thread for its dead-letter records); topic_read, topic_drained, topic_ack,
 * topic_reader_leave and topic_pressure by the reader's own sink thread; topic_bytes by anyone.
 * Each takes the topic's mutex; a reader's fields belong to its sink thread. */
#ifndef SLUICE_TOPIC_H
#define SLUICE_TOPIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "record.h"

/* One source batch in flight. */
typedef struct tracker {
    struct tracker *next;
    atomic_long pending; /* records not yet durable downstream, +1 while the batch is appended */
    void *position;      /* malloc'd copy of the batch's last position, NULL if none */
    size_t position_len;
    int64_t next_offset; /* the pipeline topic's next offset after this batch */
    atomic_int failed;   /* Kafka mode: a record of the batch could not be delivered */
} tracker_t;

/* Records encoded for one append. */
typedef struct topic_stage {
    buf_t buf;
    uint32_t count;
} topic_stage_t;

/* A record as it sits in the log (pointers into the chunk, valid until acked). */
typedef struct topic_view {
    int64_t offset;
    int64_t timestamp;
    const void *key, *value;
    uint32_t key_len, value_len;
    uint8_t key_null, value_null;
    const uint8_t *headers; /* packed: u16 name len, name, u32 value len, value */
    uint32_t nheaders;
    int32_t partition; /* Kafka mode; 0 in-process */
} topic_view_t;

struct topic_chunk;

typedef struct topic_reader {
    struct topic *topic;
    int64_t next;  /* next offset to read */
    int64_t acked; /* everything below is flushed */
    int active;
    struct topic_chunk *chunk; /* cache: the chunk holding `next`, NULL when unknown */
    size_t pos;                /* byte position of `next` in it */
    char *name;
    int kicked; /* under the topic's mu: topic_wake asked the next (or current) wait to end */
} topic_reader_t;

typedef struct topic {
    char *name;
    pthread_mutex_t mu;
    pthread_cond_t data;  /* readers wait for records */
    pthread_cond_t space; /* writers wait for room */
    struct topic_chunk *head, *tail;
    int64_t low;  /* offset of the oldest kept record */
    int64_t next; /* offset of the next record */
    size_t bytes, max_bytes;
    topic_reader_t **readers;
    size_t nreaders;
    int writers; /* sources (and dead-letter writers) that may still append */
    int closed;  /* all writers are done */
    int writer_waiting;
    atomic_long appended, dropped;
    int warned_no_reader;
} topic_t;

topic_t *topic_new(const char *name, size_t max_bytes);
void topic_free(topic_t *t);
/* Set the first offset (before anything is appended). */
void topic_set_next(topic_t *t, int64_t next);
/* Setup, before any thread runs. */
topic_reader_t *topic_reader_add(topic_t *t, const char *name);
void topic_writer_add(topic_t *t);
/* A writer is done; the last one closes the topic (readers drain and end). */
void topic_writer_done(topic_t *t);

void topic_stage_init(topic_stage_t *s);
void topic_stage_free(topic_stage_t *s);
int topic_stage_add(topic_stage_t *s, sluice_record_t *r, const void *key, size_t klen, int knull,
                    const void *value, size_t vlen, int vnull);
/* Walk a stage: the record at byte `pos` (start with 0) into `v` (offset -1); returns the position
 * of the next record, or 0 at the end. */
size_t topic_stage_next(const topic_stage_t *s, size_t pos, topic_view_t *v);
/* Append the staged records (the topic takes the staged memory; `s` is emptied). Waits for room
 * while the topic is full, until `*abort` becomes non-zero (then returns -1 and drops nothing:
 * the stage keeps its records). `tr` gets the records counted into its pending count. On success
 * returns 0 and sets *first to the offset of the first record. */
int topic_append(topic_t *t, topic_stage_t *s, tracker_t *tr, int64_t *first,
                 const volatile atomic_int *abort);
/* Up to `max` records for this reader; waits up to `wait_ms` (< 0: until records come, the topic
 * closes or the reader's wake) when none is there. Returns the number read (0: none yet, or the
 * topic is closed and drained — see topic_drained). */
size_t topic_read(topic_reader_t *rd, topic_view_t *views, size_t max, int wait_ms);
int topic_drained(topic_reader_t *rd);
/* Everything below `upto` is durable for this reader. */
void topic_ack(topic_reader_t *rd, int64_t upto);
/* The reader stops holding records (its sink failed). */
void topic_reader_leave(topic_reader_t *rd);
/* A writer is waiting or the log is half full: readers should flush soon. */
int topic_pressure(topic_t *t);
size_t topic_bytes(topic_t *t);

/* Iterate the packed headers of a view. */
const uint8_t *topic_header_next(const uint8_t *p, const char **name, size_t *name_len,
                                 const void **value, size_t *value_len);

#endif
