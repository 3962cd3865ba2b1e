/* redact.c — text with the credentials of its URLs hidden (redact.h). Hand-written: libcurl's URL
 * API parses one URL, not URLs inside a message, and refuses JDBC's jdbc:mysql:// form. */
#include "redact.h"

#include <string.h>
#include <strings.h>

/* The characters that end a URL inside a longer text (a message, a comma-separated list). */
#define URL_END " \t\r\n\"'<>,;`"

/* Append len bytes of s at out[*n] (what fits of size - 1 bytes); *n counts them all. */
static void redact_put(char *out, size_t size, size_t *n, const char *s, size_t len)
{
    if (*n + 1 < size) {
        size_t room = size - 1 - *n;
        memcpy(out + *n, s, len < room ? len : room);
    }
    *n += len;
}

size_t redact_url(char *out, size_t size, const char *text)
{
    size_t n = 0;
    const char *s = text ? text : "";
    for (;;) {
        const char *sep = strstr(s, "://");
        if (!sep) {
            redact_put(out, size, &n, s, strlen(s));
            break;
        }
        const char *auth = sep + 3;
        size_t ulen = strcspn(auth, URL_END);
        const char *at = NULL;
        for (size_t i = 0; i < ulen; i++)
            if (auth[i] == '@')
                at = auth + i;
        redact_put(out, size, &n, s, (size_t)(auth - s));
        const char *p = auth;
        if (at) {
            redact_put(out, size, &n, REDACTED, sizeof REDACTED - 1);
            p = at;
        }
        /* the rest of the URL, query parameter by query parameter */
        const char *end = auth + ulen;
        const char *q = memchr(p, '?', (size_t)(end - p));
        if (!q) {
            redact_put(out, size, &n, p, (size_t)(end - p));
            s = end;
            continue;
        }
        redact_put(out, size, &n, p, (size_t)(q - p));
        p = q;
        while (p < end) {
            /* p is at '?' or '&': the separator, the name, '=', the value */
            size_t plen = strcspn(p + 1, "&#" URL_END) + 1;
            if (p + plen > end)
                plen = (size_t)(end - p);
            const char *eq = memchr(p, '=', plen);
            int secret = 0;
            for (const char *c = p + 1; eq && c + 8 <= eq; c++)
                if (strncasecmp(c, "password", 8) == 0)
                    secret = 1;
            if (secret) {
                redact_put(out, size, &n, p, (size_t)(eq + 1 - p));
                redact_put(out, size, &n, REDACTED, sizeof REDACTED - 1);
            } else {
                redact_put(out, size, &n, p, plen);
            }
            p += plen;
            if (p < end && *p == '#') {
                redact_put(out, size, &n, p, (size_t)(end - p));
                p = end;
            }
        }
        s = end;
    }
    if (size)
        out[n < size ? n : size - 1] = '\0';
    return n;
}
