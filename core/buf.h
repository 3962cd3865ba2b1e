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
};

typedef struct sluice_buf buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);   /* frees the storage, leaves an empty buffer */
void buf_reset(buf_t *b);  /* len = 0, keeps the storage */
int buf_reserve(buf_t *b, size_t extra); /* 0 ok, -1 out of memory */
int buf_append(buf_t *b, const void *p, size_t len);
int buf_putc(buf_t *b, char c);
int buf_puts(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) SLUICE_PRINTF(2, 3);
int buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Append a whole file; -1 with errno set (ENOMEM, EIO or fopen's) on failure. */
int buf_read_file(buf_t *b, const char *path);

#endif
