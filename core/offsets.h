/* offsets.h — source positions of the standalone mode, in one local JSON file.
 *
 * The file maps a pipeline id to the position its source last committed and the next in-process
 * offset of its topic. It is rewritten whole and atomically (write a temporary file, fsync, rename,
 * fsync the directory), so a crash leaves either the old or the new content. A lock file keeps two
 * sluice processes from sharing one offsets file. The files are 0600, the temporary one is created
 * anew (O_EXCL | O_NOFOLLOW: never written through a planted link), and the directory must belong
 * to this user (or root) and not be writable by others; sluice creates it 0700. */
#ifndef SLUICE_OFFSETS_H
#define SLUICE_OFFSETS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct offsets_entry {
    char *id;
    void *position; /* bytes as the source gave them */
    size_t position_len;
    int64_t next_offset; /* next in-process topic offset, -1 if unknown */
    int dirty;           /* changed since the last flush (backend mode) */
} offsets_entry_t;

/* Positions kept elsewhere than the file (Kafka mode: a compacted topic). `write` stores one
 * pipeline's entry (a small JSON object), `sync` waits until every write is durable. */
typedef struct offsets_backend {
    int (*write)(void *opaque, const char *id, const void *value, size_t len, char *errstr,
                 size_t errstr_size);
    int (*sync)(void *opaque, char *errstr, size_t errstr_size);
    void *opaque;
} offsets_backend_t;

typedef struct offsets {
    char *path;
    int lock_fd;
    pthread_mutex_t mu;
    offsets_entry_t *entries;
    size_t len, cap;
    int dirty;
    offsets_backend_t be; /* be.write NULL: the file */
} offsets_t;

/* Lock and read the file (a missing file is an empty set; a corrupt one is an error naming it). */
int offsets_open(offsets_t **out, const char *path, char *errstr, size_t errstr_size);
/* An empty set written through `be` (`label` names it in messages); fill it with offsets_load. */
int offsets_open_backend(offsets_t **out, const char *label, const offsets_backend_t *be);
/* One entry as `write` stored it (an empty value removes it). -1 if it is not valid. */
int offsets_load(offsets_t *o, const char *id, size_t id_len, const void *value, size_t len);
/* The entry of a pipeline, or NULL. Valid until the next put of that id. Not for concurrent use
 * with offsets_put: read entries before sources start. */
const offsets_entry_t *offsets_get(offsets_t *o, const char *id);
/* A copy of a pipeline's entry, taken under the lock (any thread, while sources put): 1 with the
 * position in *pos (malloc'd, NULL when empty) and the next offset, 0 when there is no entry, -1
 * out of memory. */
int offsets_read(offsets_t *o, const char *id, void **pos, size_t *len, int64_t *next_offset);
/* Record a position (copied). Any thread. */
int offsets_put(offsets_t *o, const char *id, const void *position, size_t len,
                int64_t next_offset);
/* Write the file if anything changed since the last write. Any thread. */
int offsets_flush(offsets_t *o, char *errstr, size_t errstr_size);
/* Flush nothing; unlock and free. */
void offsets_close(offsets_t *o);
/* The default path (malloc'd): $STATE_DIRECTORY/offsets.json (systemd's StateDirectory=, the
 * first one), else $XDG_STATE_HOME/sluice/offsets.json, else ~/.local/state/sluice/offsets.json
 * (the passwd entry's home when HOME is unset), else /var/lib/sluice/offsets.json; never /tmp. */
char *offsets_default_path(void);
/* Replace `path` with `data` atomically and durably: a new 0600 file (O_EXCL|O_NOFOLLOW) beside
 * it, fsync, rename, fsync of the directory (made 0700 when missing). The offsets file and the
 * worker's state file (worker.h). 0, or -1 with the message. */
int state_file_write(const char *path, const void *data, size_t len, char *errstr,
                     size_t errstr_size);

#endif
