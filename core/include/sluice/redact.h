/* sluice/redact.h — sluice_redact_url(): text with the credentials of its URLs hidden, for every
 * message, log line and `lint --print` value that may hold a URL (the core and the plugins use it).
 *
 * Header-only (nothing to link, no allocation), so that the core, the bundled plugins and
 * out-of-tree plugins share the one rule. */
#ifndef SLUICE_REDACT_H
#define SLUICE_REDACT_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

/** What replaces a secret in printed text. */
#define SLUICE_REDACTED "********"

/* The characters that end a URL inside a longer text (a message, a comma-separated list). */
#define SLUICE_REDACT_URL_END " \t\r\n\"'<>,;`"

static inline void sluice_redact_put_(char *out, size_t size, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++, (*n)++)
        if (*n + 1 < size)
            out[*n] = s[i];
}

/**
 * Copy `text` into `out` (`size` bytes, always NUL-terminated when size > 0) with, in every URL it
 * holds (`scheme://…`), the userinfo (`user:password@`, up to the URL's last '@') replaced by
 * "********@", and the value of every query parameter whose name holds "password" (JDBC's
 * `?password=…`) replaced by "********". Other text is copied as it is. Returns the length of the
 * whole result, as snprintf does (a result longer than size - 1 is cut). Redacting a little too
 * much (an '@' in a URL's path) is preferred to showing a credential.
 */
static inline size_t sluice_redact_url(char *out, size_t size, const char *text)
{
    size_t n = 0;
    const char *s = text ? text : "";
    for (;;) {
        const char *sep = strstr(s, "://");
        if (!sep) {
            sluice_redact_put_(out, size, &n, s, strlen(s));
            break;
        }
        const char *auth = sep + 3;
        size_t ulen = strcspn(auth, SLUICE_REDACT_URL_END);
        const char *at = NULL;
        for (size_t i = 0; i < ulen; i++)
            if (auth[i] == '@')
                at = auth + i;
        sluice_redact_put_(out, size, &n, s, (size_t)(auth - s));
        const char *p = auth;
        if (at) {
            sluice_redact_put_(out, size, &n, SLUICE_REDACTED, sizeof SLUICE_REDACTED - 1);
            p = at;
        }
        /* the rest of the URL, query parameter by query parameter */
        const char *end = auth + ulen;
        const char *q = memchr(p, '?', (size_t)(end - p));
        if (!q) {
            sluice_redact_put_(out, size, &n, p, (size_t)(end - p));
            s = end;
            continue;
        }
        sluice_redact_put_(out, size, &n, p, (size_t)(q - p));
        p = q;
        while (p < end) {
            /* p is at '?' or '&': the separator, the name, '=', the value */
            size_t plen = strcspn(p + 1, "&#" SLUICE_REDACT_URL_END) + 1;
            if (p + plen > end)
                plen = (size_t)(end - p);
            const char *eq = memchr(p, '=', plen);
            int secret = 0;
            for (const char *c = p + 1; eq && c + 8 <= eq; c++)
                if (strncasecmp(c, "password", 8) == 0)
                    secret = 1;
            if (secret) {
                sluice_redact_put_(out, size, &n, p, (size_t)(eq + 1 - p));
                sluice_redact_put_(out, size, &n, SLUICE_REDACTED, sizeof SLUICE_REDACTED - 1);
            } else {
                sluice_redact_put_(out, size, &n, p, plen);
            }
            p += plen;
            if (p < end && *p == '#') {
                sluice_redact_put_(out, size, &n, p, (size_t)(end - p));
                p = end;
            }
        }
        s = end;
    }
    if (size)
        out[n < size ? n : size - 1] = '\0';
    return n;
}

#endif
