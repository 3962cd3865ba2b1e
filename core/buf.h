/* buf.h — growable byte buffer (also the ABI's sluice_buf_t). Always NUL-terminated. */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "sluice/plugin.h"

struct sluice_buf {
    char *data;
    size_t len;
    size_t cap;
    /* The first error of an append through the host table (ABI 1.3's sticky errors; see
     * buf_sticky_*). The core's own buf_* functions neither set nor look at it. */
    sluice_err_t err;
};

typedef struct sluice_buf buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);                 /* frees the storage, leaves an empty buffer */
void buf_reset(buf_t *b);                /* len = 0, no error, keeps the storage */
int buf_reserve(buf_t *b, size_t extra); /* 0 ok, -1 out of memory */
int buf_append(buf_t *b, const void *p, size_t len);
int buf_putc(buf_t *b, char c);
int buf_puts(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) SLUICE_PRINTF(2, 3);
int buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* The host table's appends (ABI 1.3): each does nothing and returns b->err once it is set, and
 * sets it on failure (SLUICE_ERR_NOMEM), so one check at the end suffices. */
sluice_err_t buf_sticky_append(buf_t *b, const void *p, size_t len);
sluice_err_t buf_sticky_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Records `e` as the buffer's error unless it has one already; returns the buffer's error. */
sluice_err_t buf_sticky_set(buf_t *b, sluice_err_t e);

/* Append a whole file; -1 with errno set (ENOMEM, EIO or fopen's) on failure. */
int buf_read_file(buf_t *b, const char *path);

#endif
