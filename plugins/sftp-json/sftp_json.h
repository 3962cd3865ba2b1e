/*
 * sftp_json.h — sftp-json's state (the sink, its Kafka partitions and their open files), shared by
 * sftp_json.c (configuration, writing, the sink's calls) and checkpoint.c (file and marker names,
 * checkpoints, recovery after a crash). Internal to the plugin.
 */
#ifndef SFTP_JSON_H
#define SFTP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include <sluice/plugin.h>

#include "store.h"
#include "storepart.h"
#include "timepart.h"

#define SJ_GZIP_STAGE (64u * 1024u) /* raw bytes gathered before one deflate call */
#define SJ_PATH_MAX   4096

/* ---------------------------------------------------------------------------------------------- */
/* State */

struct sj_file {
    struct sj_file *next;
    char *enc;   /* the encoded partition: the directories under the topic's */
    char *final; /* store paths */
    char *tmp;
    sluice_buf_t *out; /* bytes not yet appended to tmp */
    sluice_buf_t *raw; /* gzip: lines not yet deflated */
    z_stream z;
    int zon;
    long long tmp_bytes; /* bytes known to be in tmp */
    int uncertain;       /* an append failed: ask the store how much of it landed */
    int finished;        /* everything is in tmp */
};

struct sj_part {
    struct sj_part *next;
    int recovered;            /* the store was looked at for this TP since start */
    int64_t w;                /* the marker: records below are in final files (-1: none) */
    struct storepart_cycle c; /* rotation: records, first offset, times */
    struct sj_file *files;
};

struct sj {
    const struct sluice_host *h;
    sluice_ctx_t *ctx;
    store_t *store;
    char *directory;
    unsigned file_mode; /* file.mode of the local store */
    char *topics_dir, *ddelim, *fdelim;
    struct storepart
        part; /* partitioner, rotations, time zone, extractor (../common/storepart.c) */
    int pad;
    int key_enable, headers_enable, gzip;
    size_t buffer_size;
    struct sj_part *parts;
    sluice_buf_t *line;
};

/* sftp_json.c */
void sj_file_free(struct sj *s, struct sj_file *f);
/* Everything of `f` into its temporary file. */
sluice_err_t sj_finish(struct sj *s, struct sj_file *f, char *errstr, size_t errstr_size);

/* checkpoint.c */
/* topics.dir + delim + topic, or the marker directory of a topic. */
int sj_topic_dir(const struct sj *s, const char *topic, int markers, char *out, size_t size);
const char *sj_ext(const struct sj *s);
/* Parses the base name of a file of `topic`: "<topic><fd><p><fd><offset><ext>" (after removing a
 * ".tmp"); returns 0 and sets *p, *off and *tmp when it is one. */
int sj_parse_name(const struct sj *s, const char *topic, const char *path, int32_t *p, int64_t *off,
                  int *tmp);
sluice_err_t sj_marker_path(const struct sj *s, const struct sj_part *pt, int64_t w, char *out,
                            size_t size);
/* Make every record the TP took durable under its final name (see the top of sftp_json.c). */
sluice_err_t sj_checkpoint(struct sj *s, struct sj_part *pt, char *errstr, size_t errstr_size);
/* The first record of a TP since start: learn its marker and finish or remove what a crash left. */
sluice_err_t sj_recover(struct sj *s, struct sj_part *pt, char *errstr, size_t errstr_size);

#endif
