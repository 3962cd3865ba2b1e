/* log.c — see log.h. */
#include "log.h"

#include "clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = SLUICE_LOG_INFO;

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(sluice_log_level_t level)
{
    atomic_store(&log_level, (int)level);
}

sluice_log_level_t log_get_level(void)
{
    return (sluice_log_level_t)atomic_load(&log_level);
}

int log_parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return SLUICE_LOG_WARN;
    return -1;
}

/* The calling thread's last error line (without time and level): a pipeline thread that fails
 * hands it to the worker as the failure's trace (worker.h), whatever path logged it. */
static _Thread_local char log_last[1024];

const char *log_last_error(void)
{
    return log_last;
}

void log_clear_last_error(void)
{
    log_last[0] = 0;
}

void log_vmsg(sluice_log_level_t level, const char *who, const char *fmt, va_list ap)
{
    if (level == SLUICE_LOG_ERROR) {
        va_list copy;
        va_copy(copy, ap);
        int n = who ? snprintf(log_last, sizeof log_last, "[%s] ", who) : 0;
        if (n >= 0 && n < (int)sizeof log_last)
            vsnprintf(log_last + n, sizeof log_last - (size_t)n, fmt, copy);
        va_end(copy);
    }
    if ((int)level > atomic_load(&log_level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_names[level]);
    if (who && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "[%s] ", who);
    if (n < (int)sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (n >= (int)sizeof line - 1) {
        n = (int)sizeof line - 5;
        memcpy(line + n, "...", 3);
        n += 3;
    }
    line[n++] = '\n';
    /* One write(2) per line: atomic with respect to other threads' lines. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void log_msg(sluice_log_level_t level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}

void log_limits_init(log_limits_t *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

void log_limits_free(log_limits_t *l, const char *who)
{
    for (int i = 0; i < l->n; i++)
        if (l->at[i].suppressed)
            log_msg(SLUICE_LOG_WARN, who, "%ld more '%s' messages were suppressed",
                    l->at[i].suppressed, l->at[i].key);
    pthread_mutex_destroy(&l->mu);
}

void log_vlimited(log_limits_t *l, const char *who, sluice_log_level_t level, const char *key,
                  int per_minute, const char *fmt, va_list ap)
{
    int emit = 1;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&l->mu);
    struct log_limit *e = NULL;
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->at[i].key, key) == 0)
            e = &l->at[i];
    if (!e && l->n < LOG_MAX_LIMITS) {
        e = &l->at[l->n++];
        snprintf(e->key, sizeof e->key, "%s", key);
        e->window_start_ms = now;
    }
    if (e) {
        if (now - e->window_start_ms >= 60000) {
            if (e->suppressed)
                log_msg(level, who, "%ld more '%s' messages in the last minute", e->suppressed,
                        e->key);
            e->window_start_ms = now;
            e->count = 0;
            e->suppressed = 0;
        }
        if (e->count >= per_minute) {
            e->suppressed++;
            emit = 0;
        } else {
            e->count++;
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (emit)
        log_vmsg(level, who, fmt, ap);
}

void log_limited(log_limits_t *l, const char *who, sluice_log_level_t level, const char *key,
                 int per_minute, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vlimited(l, who, level, key, per_minute, fmt, ap);
    va_end(ap);
}
