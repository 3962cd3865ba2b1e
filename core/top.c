/* top.c — `sluice top`: a worker's connectors and tasks in the terminal (ncurses), refreshed from
 * GET /stats every interval, with keys that pause, resume, restart and stop the selected one
 * through the REST API; one plain snapshot when stdout is not a terminal. The data and its text
 * are top_model.c's; this file polls (from a thread of its own), draws and reads keys. */
#include "top.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "top_model.h"

/* A worker that does not answer a poll in this is shown unreachable, and asked again at the next
 * interval. An action (a key) waits longer for its answer; ^C ends the wait. */
#define TOP_POLL_TIMEOUT_MS   3000L
#define TOP_ACTION_TIMEOUT_MS 15000L
/* How long an action's answer stays in the status line before the keys' help comes back. */
#define TOP_STATUS_SECONDS 10.0

enum { PAIR_RUNNING = 1, PAIR_PAUSED, PAIR_FAILED, PAIR_OTHER, PAIR_STOPPED };

/* One poll's outcome. version and no_stats are the poller's memory from poll to poll. */
typedef struct top_fetch {
    char version[64]; /* "" until GET / answered */
    int no_stats;     /* /stats answered 404 (Kafka Connect, an older sluice): states only */
    int in_process;   /* GET / has no Kafka cluster */
    int ok;           /* model holds a new snapshot; else problem says why not */
    top_model_t model;
    char problem[1024];
} top_fetch_t;

typedef struct top {
    const char *url, *user;
    double interval;
    /* The poller thread asks the worker, so that a slow or silent one never holds up the keys;
     * it hands each outcome over in `pending` (under lock) and the loop applies it. */
    pthread_t poller;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, poke, ready; /* under lock: end; poll now (after an action); pending is new */
    top_fetch_t pending;
    atomic_int cancel; /* ends the poller's request in flight */
    char version[64];
    int no_stats, in_process;
    top_model_t model; /* the last snapshot that parsed */
    int have_model;
    char problem[1024]; /* why the last poll failed; "" when it worked */
    double prev_cpu, prev_clock, cpu_percent;
    top_sort_t sort;
    top_row_t *rows;
    size_t nrows, rows_cap;
    /* The selection is held by name, so that it stays on its connector when the order changes. */
    char sel_name[256];
    int sel_task;
    size_t sel;   /* its index in rows */
    size_t first; /* the first row shown */
    char status[1024];
    int status_bad;
    double status_at;
    int colors;
} top_t;

static volatile sig_atomic_t top_signal;
/* The same news for a request in flight (client_request_t.cancel); lock-free, so the handler may
 * store it. */
static atomic_int top_interrupted;

static void on_signal(int sig)
{
    top_signal = sig;
    atomic_store(&top_interrupted, 1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fputs("usage: sluice top [--url URL] [--user USER:PASSWORD] [--interval SECONDS]\n"
          "  a live view of a worker's connectors and tasks (GET /stats), refreshed every\n"
          "  interval (default 1 s); keys: arrows or j/k select, p pause, r resume,\n"
          "  R restart (with its tasks), x stop, s sort, q quit. When stdout is not a terminal,\n"
          "  one snapshot as a plain table.\n"
          "  --url: the worker's REST API (default $SLUICE_URL, else " CLIENT_DEFAULT_URL ")\n"
          "  --user: HTTP basic auth (default $SLUICE_USER)\n",
          out);
}

/* -- polling ---------------------------------------------------------------------------------- */

static int top_get(const top_t *t, client_request_t *r, const char *path, char *err, size_t errlen)
{
    client_request_init(r, t->url, t->user, "GET");
    r->timeout_ms = TOP_POLL_TIMEOUT_MS;
    r->cancel = &t->cancel;
    if (buf_puts(&r->path, path) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return client_request_send(r, err, errlen);
}

/* An error answer, with the fix where there is an obvious one. */
static void answer_problem(const client_request_t *r, const char *what, char *out, size_t size)
{
    char msg[768];
    client_request_error(r, msg, sizeof msg);
    snprintf(out, size, "%s: %s%s", what, msg,
             r->status == 401 ? " (--user USER:PASSWORD or $SLUICE_USER)" : "");
}

static void top_rows(top_t *t)
{
    size_t n = top_model_rows(&t->model, NULL, 0);
    if (n > t->rows_cap) {
        top_row_t *rows = realloc(t->rows, n * sizeof *rows);
        if (!rows) {
            t->nrows = 0;
            return;
        }
        t->rows = rows;
        t->rows_cap = n;
    }
    t->nrows = top_model_rows(&t->model, t->rows, t->rows_cap);
    /* Back to the selected row, wherever the order put it; else the same index. */
    for (size_t i = 0; i < t->nrows; i++) {
        const top_row_t *r = &t->rows[i];
        if (strcmp(t->model.conns[r->conn].name, t->sel_name) == 0 &&
            (r->task < 0 ? -1 : t->model.conns[r->conn].tasks[r->task].id) == t->sel_task) {
            t->sel = i;
            return;
        }
    }
    if (t->sel >= t->nrows)
        t->sel = t->nrows ? t->nrows - 1 : 0;
}

static void top_select(top_t *t, size_t i)
{
    if (!t->nrows)
        return;
    t->sel = i < t->nrows ? i : t->nrows - 1;
    const top_row_t *r = &t->rows[t->sel];
    const top_conn_t *c = &t->model.conns[r->conn];
    snprintf(t->sel_name, sizeof t->sel_name, "%s", c->name);
    t->sel_task = r->task < 0 ? -1 : c->tasks[r->task].id;
}

/* One poll: GET / once (the version), then GET /stats, or /connectors?expand=status from a
 * worker without it. Touches only f and what top_get reads (url, user, cancel). */
static void top_fetch(const top_t *t, top_fetch_t *f)
{
    char err[768];
    client_request_t r;
    f->ok = 0;
    f->problem[0] = '\0';
    if (!f->version[0]) {
        if (top_get(t, &r, "/", err, sizeof err) != 0) {
            snprintf(f->problem, sizeof f->problem, "unreachable: %s", err);
            client_request_free(&r);
            return;
        }
        cJSON *j = r.status == 200 ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
        /* Not 200 (a 401 until --user is right): asked again at the next poll. */
        if (r.status == 200) {
            snprintf(f->version, sizeof f->version, "%s", cJSON_IsString(v) ? v->valuestring : "?");
            /* sluice without a Kafka cluster: pause and resume, but no stop or restart (409). */
            f->in_process = cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "kafka_cluster_id"));
        }
        cJSON_Delete(j);
        client_request_free(&r);
    }
    const char *path = f->no_stats ? "/connectors?expand=status" : "/stats?window=0";
    int rc = top_get(t, &r, path, err, sizeof err);
    if (rc == 0 && !f->no_stats && r.status == 404) {
        f->no_stats = 1;
        client_request_free(&r);
        path = "/connectors?expand=status";
        rc = top_get(t, &r, path, err, sizeof err);
    }
    if (rc != 0) {
        snprintf(f->problem, sizeof f->problem, "unreachable: %s", err);
        /* Whatever answers next may be another worker. */
        f->version[0] = '\0';
        f->no_stats = 0;
    } else if (r.status != 200) {
        char what[64];
        snprintf(what, sizeof what, "GET %s", path);
        answer_problem(&r, what, f->problem, sizeof f->problem);
    } else if ((f->no_stats
                    ? top_model_parse_status(&f->model, r.body.data, r.body.len, err, sizeof err)
                    : top_model_parse_stats(&f->model, r.body.data, r.body.len, err, sizeof err)) !=
               0) {
        snprintf(f->problem, sizeof f->problem, "%s", err);
    } else {
        f->ok = 1;
    }
    client_request_free(&r);
}

/* A poll's outcome on the screen's side: the model (taken from f), the CPU figure, the rows. */
static void top_apply(top_t *t, top_fetch_t *f)
{
    memcpy(t->version, f->version, sizeof t->version);
    t->no_stats = f->no_stats;
    t->in_process = f->in_process;
    if (!f->ok) {
        snprintf(t->problem, sizeof t->problem, "%s", f->problem);
        return;
    }
    top_model_t m = f->model;
    f->model = (top_model_t){0};
    f->ok = 0;
    /* CPU: the process's seconds over the worker's clock between two answers. */
    double clock = m.now_ms > 0 ? (double)m.now_ms / 1000 : now_seconds();
    if (m.cpu_seconds < 0) {
        t->cpu_percent = -1;
    } else if (t->have_model && t->prev_cpu >= 0 && clock > t->prev_clock) {
        t->cpu_percent = 100 * (m.cpu_seconds - t->prev_cpu) / (clock - t->prev_clock);
        if (t->cpu_percent < 0)
            t->cpu_percent = -1; /* a restarted worker */
    }
    if (!t->have_model || clock > t->prev_clock) {
        t->prev_cpu = m.cpu_seconds;
        t->prev_clock = clock;
    }
    top_model_free(&t->model);
    t->model = m;
    t->have_model = 1;
    t->problem[0] = '\0';
    top_model_sort(&t->model, t->sort);
    top_rows(t);
}

static void *top_poller(void *opaque)
{
    top_t *t = opaque;
    top_fetch_t f = {.ok = 0};
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        pthread_mutex_unlock(&t->lock);
        top_fetch(t, &f);
        pthread_mutex_lock(&t->lock);
        /* An outcome the loop has not taken yet is replaced: only the newest matters. */
        if (t->ready && t->pending.ok)
            top_model_free(&t->pending.model);
        t->pending = f;
        t->ready = 1;
        f.ok = 0;
        f.model = (top_model_t){0};
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long long ns = (long long)(t->interval * 1e9) + until.tv_nsec;
        until.tv_sec += (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (!t->stop && !t->poke)
            if (pthread_cond_timedwait(&t->wake, &t->lock, &until) == ETIMEDOUT)
                break;
        t->poke = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Takes the poller's newest outcome, if any; 1 when there was one. */
static int top_take(top_t *t)
{
    top_fetch_t f;
    pthread_mutex_lock(&t->lock);
    int got = t->ready;
    if (got) {
        f = t->pending;
        t->pending.ok = 0;
        t->pending.model = (top_model_t){0};
        t->ready = 0;
    }
    pthread_mutex_unlock(&t->lock);
    if (got)
        top_apply(t, &f);
    return got;
}

static void top_poke(top_t *t)
{
    pthread_mutex_lock(&t->lock);
    t->poke = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

static int top_poller_start(top_t *t)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    pthread_mutex_init(&t->lock, NULL);
    /* Signals (^C, SIGTERM, SIGWINCH) are the loop's: the poller blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&t->poller, NULL, top_poller, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        return -1;
    }
    return 0;
}

/* Ends the poller, its request in flight too (within about a second). */
static void top_poller_stop(top_t *t)
{
    atomic_store(&t->cancel, 1);
    pthread_mutex_lock(&t->lock);
    t->stop = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->poller, NULL);
    if (t->ready && t->pending.ok)
        top_model_free(&t->pending.model);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
}

/* -- actions ---------------------------------------------------------------------------------- */

static void top_status(top_t *t, int bad, const char *fmt, ...) SLUICE_PRINTF(3, 4);

static void top_status(top_t *t, int bad, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->status, sizeof t->status, fmt, ap);
    va_end(ap);
    t->status_bad = bad;
    t->status_at = now_seconds();
}

static void top_action(top_t *t, int key)
{
    if (!t->nrows || !t->have_model) {
        top_status(t, 1, "no connector to act on");
        return;
    }
    const top_row_t *row = &t->rows[t->sel];
    const top_conn_t *c = &t->model.conns[row->conn];
    const char *verb = key == 'p'   ? "pause"
                       : key == 'r' ? "resume"
                       : key == 'x' ? "stop"
                                    : "restart";
    const char *ing = key == 'p'   ? "pausing"
                      : key == 'r' ? "resuming"
                      : key == 'x' ? "stopping"
                                   : "restarting";
    char label[300], suffix[64], err[768];
    client_request_t r;
    client_request_init(&r, t->url, t->user, key == 'R' ? "POST" : "PUT");
    r.timeout_ms = TOP_ACTION_TIMEOUT_MS;
    r.cancel = &top_interrupted;
    /* R on a task's row restarts that task; on a connector's, the connector with its tasks. */
    if (key == 'R' && row->task >= 0) {
        snprintf(label, sizeof label, "%s task %d", c->name, c->tasks[row->task].id);
        snprintf(suffix, sizeof suffix, "/tasks/%d/restart", c->tasks[row->task].id);
    } else {
        snprintf(label, sizeof label, "%s", c->name);
        snprintf(suffix, sizeof suffix, "/%s%s", verb,
                 key == 'R' ? "?includeTasks=true&onlyFailed=false" : "");
    }
    if (client_request_path_connector(&r, c->name, suffix) != 0) {
        top_status(t, 1, "%s: %s", label, "out of memory");
    } else if (client_request_send(&r, err, sizeof err) != 0) {
        top_status(t, 1, "%s: %s", label, err);
    } else if (r.status < 200 || r.status > 299) {
        char msg[1024];
        answer_problem(&r, verb, msg, sizeof msg);
        top_status(t, 1, "%s: %s", label, msg);
    } else {
        top_status(t, 0, "%s: %s (HTTP %ld)", label, ing, r.status);
    }
    client_request_free(&r);
}

/* -- drawing ---------------------------------------------------------------------------------- */

static int state_pair(const char *s)
{
    if (strcmp(s, "RUNNING") == 0)
        return PAIR_RUNNING;
    if (strcmp(s, "PAUSED") == 0)
        return PAIR_PAUSED;
    if (strcmp(s, "FAILED") == 0)
        return PAIR_FAILED;
    if (strcmp(s, "STOPPED") == 0)
        return PAIR_STOPPED;
    return PAIR_OTHER;
}

/* Text cut to `width` cells at x on line y, left or right aligned in them. */
static void put_text(int y, int x, const char *text, int width, int right)
{
    if (width <= 0 || x >= COLS)
        return;
    if (x + width > COLS)
        width = COLS - x;
    int tw = top_text_width(text);
    int pad = right && tw < width ? width - tw : 0;
    mvaddnstr(y, x + pad, text, (int)top_text_prefix(text, width - pad));
}

static void draw_header(top_t *t)
{
    char proc[128], line[sizeof t->problem + 64];
    attron(A_BOLD);
    put_text(0, 0, "sluice top", COLS, 0);
    attroff(A_BOLD);
    /* The worker's own CPU figure, else ours from two answers. */
    top_model_process(&t->model, t->model.cpu_percent >= 0 ? t->model.cpu_percent : t->cpu_percent,
                      proc, sizeof proc);
    snprintf(line, sizeof line, "%s  %s%s%s%s%s", t->url, t->version[0] ? "v" : "",
             t->version[0] ? t->version : "", t->version[0] && t->in_process ? " in-process" : "",
             proc[0] && t->have_model ? "  " : "", t->have_model ? proc : "");
    put_text(0, 11, line, COLS - 11, 0);

    if (t->problem[0]) {
        if (t->colors)
            attron(COLOR_PAIR(PAIR_FAILED));
        attron(A_BOLD);
        /* The URL is in the line above: the reason first, while it fits. */
        const char *why = strncmp(t->problem, "unreachable: cannot reach ", 26) == 0
                              ? strstr(t->problem + 26, ": ")
                              : NULL;
        if (why)
            snprintf(line, sizeof line, "unreachable (retrying every %gs): %s", t->interval,
                     why + 2);
        else
            snprintf(line, sizeof line, "%s (retrying every %gs)", t->problem, t->interval);
        put_text(1, 0, line, COLS, 0);
        attroff(A_BOLD);
        if (t->colors)
            attroff(COLOR_PAIR(PAIR_FAILED));
        return;
    }
    if (!t->have_model) {
        put_text(1, 0, "asking the worker...", COLS, 0);
        return;
    }
    static const char *const states[] = {"RUNNING", "PAUSED", "FAILED", "STOPPED"};
    size_t n = 0, other = t->model.n;
    n = (size_t)snprintf(line, sizeof line, "%zu connector%s", t->model.n,
                         t->model.n == 1 ? "" : "s");
    for (size_t s = 0; s < sizeof states / sizeof *states; s++) {
        size_t k = 0;
        for (size_t i = 0; i < t->model.n; i++)
            k += strcmp(t->model.conns[i].state, states[s]) == 0;
        other -= k;
        if (k && n < sizeof line)
            n += (size_t)snprintf(line + n, sizeof line - n, ", %zu %s", k, states[s]);
    }
    if (other && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", %zu other", other);
    if (n < sizeof line)
        snprintf(line + n, sizeof line - n, "   sort: %s%s", top_sort_name(t->sort),
                 t->no_stats ? "   (no /stats here: states only)" : "");
    put_text(1, 0, line, COLS, 0);
}

static void draw_table(top_t *t, const top_layout_t *l, int y0, int rows)
{
    char cell[256];
    /* The titles, the sorted one underlined. */
    attron(A_REVERSE);
    mvhline(y0, 0, ' ', COLS);
    for (int i = 0, x = 0; i < l->ncols; x += l->width[i] + 1, i++) {
        int sorted = l->col[i] == top_sort_col(t->sort);
        if (sorted)
            attron(A_BOLD | A_UNDERLINE);
        put_text(y0, x, top_col_title(l->col[i]), l->width[i], top_col_numeric(l->col[i]));
        if (sorted)
            attroff(A_BOLD | A_UNDERLINE);
    }
    attroff(A_REVERSE);
    if (rows <= 0)
        return;
    /* Scroll so that the selection shows. */
    if (t->sel < t->first)
        t->first = t->sel;
    if (t->sel >= t->first + (size_t)rows)
        t->first = t->sel - (size_t)rows + 1;
    if (t->first + (size_t)rows > t->nrows)
        t->first = t->nrows > (size_t)rows ? t->nrows - (size_t)rows : 0;
    for (int k = 0; k < rows && t->first + (size_t)k < t->nrows; k++) {
        size_t i = t->first + (size_t)k;
        const top_row_t *r = &t->rows[i];
        int y = y0 + 1 + k;
        attr_t base = i == t->sel ? A_REVERSE : A_NORMAL;
        attrset(base);
        if (base != A_NORMAL)
            mvhline(y, 0, ' ', COLS);
        for (int c = 0, x = 0; c < l->ncols; x += l->width[c] + 1, c++) {
            top_cell(&t->model, r, l->col[c], cell, sizeof cell);
            int pair = 0;
            if (l->col[c] == TOP_COL_STATE && t->colors)
                pair = state_pair(cell);
            if (pair)
                attron(COLOR_PAIR(pair) | (pair == PAIR_FAILED ? A_BOLD : 0));
            put_text(y, x, cell, l->width[c], top_col_numeric(l->col[c]));
            if (pair)
                attrset(base);
        }
        attrset(A_NORMAL);
    }
}

static void draw_status(top_t *t)
{
    static const char help[] = "j/k select  p pause  r resume  R restart  x stop  s sort  q quit";
    int y = LINES - 1;
    if (t->status[0] && now_seconds() - t->status_at < TOP_STATUS_SECONDS) {
        if (t->status_bad && t->colors)
            attron(COLOR_PAIR(PAIR_FAILED));
        attron(A_BOLD);
        put_text(y, 0, t->status, COLS, 0);
        attrset(A_NORMAL);
    } else {
        attron(A_DIM);
        put_text(y, 0, help, COLS, 0);
        attrset(A_NORMAL);
    }
}

static void top_draw(top_t *t)
{
    erase();
    if (LINES >= 1)
        draw_header(t);
    if (LINES >= 4) {
        /* A failed selection's trace (its first line) above the status line. */
        const char *trace = NULL;
        if (t->nrows && t->have_model) {
            const top_row_t *r = &t->rows[t->sel];
            const top_conn_t *c = &t->model.conns[r->conn];
            trace = r->task >= 0 ? c->tasks[r->task].trace : c->trace;
        }
        top_layout_t l;
        top_layout_fit(&l, &t->model, COLS);
        draw_table(t, &l, 2, LINES - 4 - (trace && LINES >= 6));
        if (trace && LINES >= 6) {
            char line[512];
            snprintf(line, sizeof line, "trace: %.*s", (int)strcspn(trace, "\n"), trace);
            if (t->colors)
                attron(COLOR_PAIR(PAIR_FAILED));
            put_text(LINES - 2, 0, line, COLS, 0);
            attrset(A_NORMAL);
        }
    }
    if (LINES >= 2)
        draw_status(t);
    refresh();
}

/* -- the loop --------------------------------------------------------------------------------- */

static void top_colors(top_t *t)
{
    if (!has_colors() || start_color() != OK)
        return;
    use_default_colors();
    init_pair(PAIR_RUNNING, COLOR_GREEN, -1);
    init_pair(PAIR_PAUSED, COLOR_YELLOW, -1);
    init_pair(PAIR_FAILED, COLOR_RED, -1);
    init_pair(PAIR_OTHER, COLOR_CYAN, -1);
    init_pair(PAIR_STOPPED, COLOR_MAGENTA, -1);
    t->colors = 1;
}

/* Returns the exit code, or -1 when the terminal cannot be driven (nothing drawn). The terminal
 * is restored (endwin) on every way out, a signal's too. */
static int top_run(top_t *t)
{
    /* The terminal's size from the tty: exported LINES/COLUMNS (a shell's, a test harness's)
     * would pin ncurses to them through every resize. use_env(FALSE) is no way out: ncurses 6.4
     * then ignores resizes altogether. */
    unsetenv("LINES");
    unsetenv("COLUMNS");
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr)
        return -1;
    set_term(scr);
    /* A terminal that cannot place the cursor (TERM=dumb, an editor's shell) gets the snapshot. */
    const char *cup = tigetstr("cup");
    if (!cup || cup == (char *)-1) {
        endwin();
        delscreen(scr);
        return -1;
    }
    cbreak(); /* ^C stays a SIGINT, handled below */
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    timeout(100); /* getch returns at least 10 times a second: signals, the poller's news */
    top_colors(t);
    if (top_poller_start(t) != 0) {
        endwin();
        delscreen(scr);
        fprintf(stderr, "sluice top: cannot start a thread\n");
        return 1;
    }

    int dirty = 1;
    while (!top_signal) {
        double now = now_seconds();
        if (top_take(t))
            dirty = 1;
        if (t->status[0] && now - t->status_at >= TOP_STATUS_SECONDS &&
            now - t->status_at < TOP_STATUS_SECONDS + 1)
            dirty = 1; /* the help comes back */
        if (dirty) {
            top_draw(t);
            dirty = 0;
        }
        int ch = getch();
        if (ch == ERR)
            continue;
        dirty = 1;
        switch (ch) {
        case 'q':
        case 'Q':
            goto out;
        case KEY_UP:
        case 'k':
            top_select(t, t->sel ? t->sel - 1 : 0);
            break;
        case KEY_DOWN:
        case 'j':
            top_select(t, t->sel + 1);
            break;
        case KEY_PPAGE:
            top_select(t, t->sel > (size_t)(LINES - 4) ? t->sel - (size_t)(LINES - 4) : 0);
            break;
        case KEY_NPAGE:
            top_select(t, t->sel + (size_t)(LINES > 4 ? LINES - 4 : 1));
            break;
        case KEY_HOME:
        case 'g':
            top_select(t, 0);
            break;
        case KEY_END:
        case 'G':
            top_select(t, t->nrows ? t->nrows - 1 : 0);
            break;
        case 's':
        case 'S':
            t->sort =
                (top_sort_t)((t->sort + (ch == 's' ? 1 : TOP_SORT_COUNT - 1)) % TOP_SORT_COUNT);
            top_model_sort(&t->model, t->sort);
            top_rows(t);
            break;
        case 'p':
        case 'r':
        case 'R':
        case 'x':
            top_action(t, ch);
            top_poke(t); /* show what it did */
            break;
        case 12: /* ^L */
            clearok(curscr, TRUE);
            break;
        default: /* KEY_RESIZE among them: LINES and COLS are new, a redraw follows */
            break;
        }
    }
out:
    /* The terminal first: the poller may take a second to let go of a silent worker. */
    endwin();
    delscreen(scr);
    top_poller_stop(t);
    return top_signal ? 128 + top_signal : 0;
}

/* A script's snapshot: the rates are the worker's (the mean of its last samples). */
static int top_snapshot(top_t *t)
{
    top_fetch_t f = {.ok = 0};
    top_fetch(t, &f);
    top_apply(t, &f);
    if (t->problem[0]) {
        fprintf(stderr, "sluice top: %s\n", t->problem);
        return 1;
    }
    top_model_sort(&t->model, TOP_SORT_NAME);
    top_model_print(stdout, &t->model, t->url, t->version);
    return fflush(stdout) == 0 ? 0 : 1;
}

int top_main(int argc, char **argv)
{
    top_t t = {.url = getenv("SLUICE_URL"),
               .user = getenv("SLUICE_USER"),
               .interval = 1,
               .sel_task = -1,
               .cpu_percent = -1,
               .prev_cpu = -1};
    if (!t.url || !*t.url)
        t.url = CLIENT_DEFAULT_URL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        size_t n = strcspn(a, "=");
        if (a[n] == '=')
            v = a + n + 1;
        else if (i + 1 < argc && (strcmp(a, "--url") == 0 || strcmp(a, "--user") == 0 ||
                                  strcmp(a, "--interval") == 0))
            v = argv[++i];
        if (strncmp(a, "--url", n) == 0 && n == 5 && v) {
            t.url = v;
        } else if (strncmp(a, "--user", n) == 0 && n == 6 && v) {
            t.user = v;
        } else if (strncmp(a, "--interval", n) == 0 && n == 10 && v) {
            char *end;
            t.interval = strtod(v, &end);
            if (end == v || *end || !(t.interval >= 0.2 && t.interval <= 3600)) {
                fprintf(stderr, "sluice top: --interval '%s': seconds from 0.2 to 3600\n", v);
                return 2;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sluice top: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    char err[512];
    if (client_curl_load(err, sizeof err) != 0) {
        fprintf(stderr, "sluice top: %s\n", err);
        return 1;
    }
    int rc = -1;
    if (isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)) {
        setlocale(LC_ALL, ""); /* UTF-8 names in a UTF-8 terminal */
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        /* No SA_RESTART: getch returns at once. Handlers set before newterm, which then leaves
         * them alone. */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        rc = top_run(&t);
        if (rc < 0) {
            const char *term = getenv("TERM");
            fprintf(stderr, "sluice top: cannot drive the terminal (TERM=%s): one snapshot\n",
                    term ? term : "");
        }
    }
    if (rc < 0)
        rc = top_snapshot(&t);
    top_model_free(&t.model);
    free(t.rows);
    return rc;
}
