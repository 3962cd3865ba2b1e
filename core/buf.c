/* buf.c — see buf.h. An empty buffer points at a shared "" so that `data` is always a valid
 * NUL-terminated string; storage is allocated on the first append. */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buf_empty[1];

void buf_init(buf_t *b)
{
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
    b->err = SLUICE_OK;
}

void buf_free(buf_t *b)
{
    if (b->cap)
        free(b->data);
    buf_init(b);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    b->err = SLUICE_OK;
    if (b->cap)
        b->data[0] = '\0';
}

int buf_reserve(buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    size_t need = b->len + extra + 1; /* +1: the terminating NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->cap ? b->data : NULL, cap);
    if (!p)
        return -1;
    if (!b->cap)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(buf_t *b, const void *p, size_t len)
{
    if (b->cap - b->len <= len || !b->cap) {
        if (buf_reserve(b, len) != 0)
            return -1;
    }
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_putc(buf_t *b, char c)
{
    if (b->cap - b->len <= 1 || !b->cap) {
        if (buf_reserve(b, 1) != 0)
            return -1;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int rc = -1;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        goto out;
    if (buf_reserve(b, (size_t)n) != 0)
        goto out;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    rc = 0;
out:
    return rc;
}

int buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

sluice_err_t buf_sticky_set(buf_t *b, sluice_err_t e)
{
    if (b->err == SLUICE_OK)
        b->err = e;
    return b->err;
}

sluice_err_t buf_sticky_append(buf_t *b, const void *p, size_t len)
{
    if (b->err != SLUICE_OK)
        return b->err;
    return buf_append(b, p, len) == 0 ? SLUICE_OK : buf_sticky_set(b, SLUICE_ERR_NOMEM);
}

sluice_err_t buf_sticky_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    if (b->err != SLUICE_OK)
        return b->err;
    /* Besides out of memory, buf_vprintf fails only for text vsnprintf cannot produce (more than
     * INT_MAX bytes): the buffer cannot take it either. */
    return buf_vprintf(b, fmt, ap) == 0 ? SLUICE_OK : buf_sticky_set(b, SLUICE_ERR_NOMEM);
}

int buf_read_file(buf_t *b, const char *path)
{
    int rc = -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        goto out;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(b, chunk, n) != 0) {
            errno = ENOMEM;
            goto out;
        }
    if (ferror(f)) {
        errno = EIO;
        goto out;
    }
    rc = 0;
out:
    if (f) {
        int saved = errno;
        fclose(f);
        errno = saved;
    }
    return rc;
}
