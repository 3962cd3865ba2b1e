/* tsan_c11threads.c — C11 threads on pthreads for the ThreadSanitizer build of sluice only.
 *
 * librdkafka runs its threads with C11's thrd_create and locks with mtx_lock/cnd_wait. gcc 12's
 * libtsan intercepts none of these (glibc implements them by calling its pthread functions
 * internally, past libtsan's interceptors): a librdkafka thread then has no TSan state and the
 * first allocation in it crashes (SIGSEGV in the sanitizer's allocator, from getaddrinfo in
 * rdk:broker), and its locks are invisible to the race detector. Linked into build-tsan/sluice
 * (meson.build adds it when b_sanitize is thread), these definitions take the place of glibc's for
 * librdkafka and forward to the pthread functions, which libtsan does intercept. glibc lays out
 * thrd_t, mtx_t, cnd_t and once_flag as pthread_t, pthread_mutex_t, pthread_cond_t and
 * pthread_once_t, as its own implementation of these functions relies on. Only the functions
 * librdkafka 2.0 imports are here (nm -D librdkafka.so.1 | grep -E 'thrd_|mtx_|cnd_|call_once').
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread_cond_t");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

static int thrd_result(int err)
{
    switch (err) {
    case 0:
        return thrd_success;
    case ENOMEM:
        return thrd_nomem;
    case ETIMEDOUT:
        return thrd_timedout;
    case EBUSY:
        return thrd_busy;
    default:
        return thrd_error;
    }
}

struct thrd_start {
    thrd_start_t func;
    void *arg;
};

static void *thrd_trampoline(void *p)
{
    struct thrd_start s = *(struct thrd_start *)p;

    free(p);
    return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    struct thrd_start *s = malloc(sizeof *s);
    int err;

    if (!s)
        return thrd_nomem;
    s->func = func;
    s->arg = arg;
    err = pthread_create((pthread_t *)thr, NULL, thrd_trampoline, s);
    if (err != 0)
        free(s);
    return thrd_result(err);
}

int thrd_join(thrd_t thr, int *res)
{
    void *ret;
    int err = pthread_join((pthread_t)thr, &ret);

    if (err == 0 && res)
        *res = (int)(intptr_t)ret;
    return thrd_result(err);
}

int mtx_init(mtx_t *mtx, int type)
{
    pthread_mutexattr_t attr;
    int err;

    pthread_mutexattr_init(&attr);
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    err = pthread_mutex_init((pthread_mutex_t *)mtx, &attr);
    pthread_mutexattr_destroy(&attr);
    return thrd_result(err);
}

int mtx_lock(mtx_t *mtx)
{
    return thrd_result(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

int mtx_unlock(mtx_t *mtx)
{
    return thrd_result(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

void mtx_destroy(mtx_t *mtx)
{
    pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

int cnd_init(cnd_t *cond)
{
    return thrd_result(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

int cnd_signal(cnd_t *cond)
{
    return thrd_result(pthread_cond_signal((pthread_cond_t *)cond));
}

int cnd_broadcast(cnd_t *cond)
{
    return thrd_result(pthread_cond_broadcast((pthread_cond_t *)cond));
}

int cnd_wait(cnd_t *cond, mtx_t *mtx)
{
    return thrd_result(pthread_cond_wait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx));
}

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx, const struct timespec *restrict ts)
{
    return thrd_result(pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx, ts));
}

void cnd_destroy(cnd_t *cond)
{
    pthread_cond_destroy((pthread_cond_t *)cond);
}

void call_once(once_flag *flag, void (*func)(void))
{
    pthread_once((pthread_once_t *)flag, func);
}
