/* redact.h — redact_url(): text with the credentials of its URLs hidden, for every message, log
 * line and `lint --print` value that may hold a URL. The plugins reach it through the host table
 * (sluice_host.redact_url), so that the core and every plugin share the one rule. */
#ifndef SLUICE_CORE_REDACT_H
#define SLUICE_CORE_REDACT_H

#include <stddef.h>

/* What replaces a secret in printed text. */
#define REDACTED "********"

/* Copy `text` into `out` (`size` bytes, always NUL-terminated when size > 0) with, in every URL it
 * holds (`scheme://…`), the userinfo (`user:password@`, up to the URL's last '@') replaced by
 * "********@", and the value of every query parameter whose name holds "password" (JDBC's
 * `?password=…`) replaced by "********". Other text is copied as it is. Returns the length of the
 * whole result, as snprintf does (a result longer than size - 1 is cut). Redacting a little too
 * much (an '@' in a URL's path) is preferred to showing a credential. */
size_t redact_url(char *out, size_t size, const char *text);

#endif
