/* log.h — the one logging call of the core: timestamped lines on stderr, one write per line, so
 * lines of several threads never interleave. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "sluice/plugin.h"

void log_set_level(sluice_log_level_t level);
sluice_log_level_t log_get_level(void);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int log_parse_level(const char *s);
/* `who` is the prefix in brackets ("orders/files"), or NULL for the core itself. */
void log_msg(sluice_log_level_t level, const char *who, const char *fmt, ...) SLUICE_PRINTF(3, 4);
void log_vmsg(sluice_log_level_t level, const char *who, const char *fmt, va_list ap);
/* The calling thread's last ERROR message ("[who] message"), "" if none since the last clear. */
const char *log_last_error(void);
void log_clear_last_error(void);

/* Rate limits of one logger (a plugin instance's context): per key, at most `per_minute` lines in
 * a minute; the count of the others is reported when the minute is over, and at log_limits_free.
 * Any thread: the state has its own mutex. */
#define LOG_MAX_LIMITS 16
typedef struct log_limits {
    pthread_mutex_t mu;
    struct log_limit {
        char key[48];
        int64_t window_start_ms;
        int count;
        long suppressed;
    } at[LOG_MAX_LIMITS];
    int n;
} log_limits_t;

void log_limits_init(log_limits_t *l);
/* Report what is still suppressed (as `who`) and release. */
void log_limits_free(log_limits_t *l, const char *who);
/* log_msg, at most `per_minute` times a minute for this `key` (keys beyond LOG_MAX_LIMITS are not
 * limited). */
void log_limited(log_limits_t *l, const char *who, sluice_log_level_t level, const char *key,
                 int per_minute, const char *fmt, ...) SLUICE_PRINTF(6, 7);
void log_vlimited(log_limits_t *l, const char *who, sluice_log_level_t level, const char *key,
                  int per_minute, const char *fmt, va_list ap);

#define log_error(who, ...) log_msg(SLUICE_LOG_ERROR, who, __VA_ARGS__)
#define log_warn(who, ...)  log_msg(SLUICE_LOG_WARN, who, __VA_ARGS__)
#define log_info(who, ...)  log_msg(SLUICE_LOG_INFO, who, __VA_ARGS__)
#define log_debug(who, ...) log_msg(SLUICE_LOG_DEBUG, who, __VA_ARGS__)

#endif
