/* log.h — the one logging call of the core: timestamped lines on stderr, one write per line, so
 * lines of several threads never interleave. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

#include "sluice/plugin.h"

void log_set_level(sluice_log_level_t level);
sluice_log_level_t log_get_level(void);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int log_parse_level(const char *s);
/* `who` is the prefix in brackets ("orders/files"), or NULL for the core itself. */
void log_msg(sluice_log_level_t level, const char *who, const char *fmt, ...) SLUICE_PRINTF(3, 4);
void log_vmsg(sluice_log_level_t level, const char *who, const char *fmt, va_list ap);

#define log_error(who, ...) log_msg(SLUICE_LOG_ERROR, who, __VA_ARGS__)
#define log_warn(who, ...) log_msg(SLUICE_LOG_WARN, who, __VA_ARGS__)
#define log_info(who, ...) log_msg(SLUICE_LOG_INFO, who, __VA_ARGS__)
#define log_debug(who, ...) log_msg(SLUICE_LOG_DEBUG, who, __VA_ARGS__)

#endif
