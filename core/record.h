/* record.h — records and batches as the core holds them. A batch owns nothing but its record array;
 * records, their values and strings live in the arena the batch was made with (the arena of one
 * poll or one read, shared by the batches of every transform stage). */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "convert.h"
#include "value.h"

/* Key or value of a record: the bytes read from a topic and/or a typed value. */
struct record_slot {
    const void *bytes; /* encoded form as read from the topic; NULL if none */
    size_t len;
    sluice_value_t *value; /* decoded or set value; NULL until decoded */
    uint8_t has_bytes;     /* `bytes` is current (nothing replaced the value since it was read) */
    uint8_t is_null;       /* the topic held a null (no bytes at all) */
};

struct record_header {
    const char *name;
    const void *value;
    size_t len;
};

/* How the records of a batch are decoded: the converters of the side that reads them. */
typedef struct record_codec {
    converter_t *key;
    converter_t *value;
    const char *topic; /* default topic of new records */
    /* Kafka mode: copy the headers of the message a record was read from (see headers_src). */
    void (*load_headers)(const void *src, sluice_record_t *r);
} record_codec_t;

struct sluice_record {
    sluice_batch_t *batch; /* the batch it was created in (owner of the arena) */
    const char *topic;
    int32_t partition;
    int64_t offset; /* -1 until appended to a topic */
    int64_t timestamp;
    struct record_slot key, value;
    struct record_header *headers;
    uint32_t nheaders, capheaders;
    /* Headers not copied yet: they are parsed from their message only when something looks at
     * them (librdkafka's header parsing costs more than the rest of a record's way to a sink).
     * Every reader of `headers` calls record_headers_load first. */
    const void *headers_src;
    const void *position; /* source side: where to resume after this record */
    size_t position_len;
    const char *fail_reason;  /* set by record_fail or a failed stage */
    const char *fail_stage;   /* Kafka Connect's stage name: TRANSFORMATION, VALUE_CONVERTER, … */
    const char *fail_plugin;  /* the plugin that failed it when not the source or sink itself */
    const char *decode_stage; /* KEY_CONVERTER / VALUE_CONVERTER when its bytes did not decode */
    uint8_t decode_transient; /* ... because of a passing failure (schema registry away) */
    uint8_t failed;
};

struct sluice_batch {
    arena_t *arena;
    record_codec_t *codec;
    sluice_record_t **recs;
    size_t len, cap;
};

void batch_init(sluice_batch_t *b, arena_t *arena, record_codec_t *codec);
sluice_record_t *batch_add(sluice_batch_t *b);
int batch_push(sluice_batch_t *b, sluice_record_t *r);

/* Lazy decode of key/value with the batch's codec (at most once). */
sluice_value_t *record_get_key(sluice_record_t *r, char *errstr, size_t errstr_size);
sluice_value_t *record_get_value(sluice_record_t *r, char *errstr, size_t errstr_size);
int record_add_header(sluice_record_t *r, const char *name, const void *value, size_t len);
/* The same with a name that is not NUL-terminated (headers read back from a topic). */
int record_add_header_n(sluice_record_t *r, const char *name, size_t name_len, const void *value,
                        size_t len);
void record_fail(sluice_record_t *r, const char *stage, const char *reason);
/* Copy lazily kept headers into the record (no-op when there are none pending). */
void record_headers_load(sluice_record_t *r);

#endif
