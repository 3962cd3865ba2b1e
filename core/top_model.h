/* top_model.h — what `sluice top` shows, apart from the terminal: a worker's GET /stats (or, from a
 * worker without it, such as Kafka Connect, GET /connectors?expand=status: states, no rates) parsed
 * into connectors and tasks, their order, the columns that fit a width and the cells' text. top.c
 * draws it with ncurses; a pipe gets top_model_print's plain table. */
#ifndef SLUICE_TOP_MODEL_H
#define SLUICE_TOP_MODEL_H

#include <stddef.h>
#include <stdio.h>

typedef struct top_task {
    int id;
    char *state;
    char *trace; /* NULL unless FAILED */
} top_task_t;

typedef struct top_conn {
    char *name, *type, *state, *plugin; /* "?" when the answer lacks one */
    char *trace;                        /* NULL unless FAILED */
    long long restarts, dlq, lag;       /* -1: unknown (lag: not a Kafka sink) */
    long long buffer_bytes;             /* -1: unknown */
    double in, out, errors;             /* records per second; NAN: unknown */
    top_task_t *tasks;
    size_t ntasks;
} top_conn_t;

typedef struct top_model {
    int has_stats;    /* 1: from GET /stats; 0: from /connectors?expand=status (no rates) */
    long long now_ms; /* the newest sample's wall clock; 0 unknown */
    double rss_bytes, cpu_seconds, uptime_seconds; /* < 0: unknown */
    double cpu_percent; /* the worker's own figure (process.cpu_percent); < 0: unknown */
    top_conn_t *conns;
    size_t n;
} top_model_t;

/* Each replaces *m (top_model_free'd first, by the caller, or zeroed); -1 with the reason in err
 * (not JSON, not the documented shape, out of memory), *m then empty. */
int top_model_parse_stats(top_model_t *m, const char *json, size_t len, char *err, size_t errlen);
int top_model_parse_status(top_model_t *m, const char *json, size_t len, char *err, size_t errlen);
void top_model_free(top_model_t *m);

/* The sort keys `s` cycles through, in this order. Names and states ascending, numbers
 * descending (the busiest first); ties by name. Tasks stay under their connector, by id. */
typedef enum top_sort {
    TOP_SORT_NAME,
    TOP_SORT_STATE,
    TOP_SORT_IN,
    TOP_SORT_OUT,
    TOP_SORT_ERRORS,
    TOP_SORT_LAG,
    TOP_SORT_DLQ,
    TOP_SORT_RESTARTS,
    TOP_SORT_COUNT
} top_sort_t;

void top_model_sort(top_model_t *m, top_sort_t key);
const char *top_sort_name(top_sort_t key);

/* A line of the table: a connector, or (task >= 0) its task number `task` (an index in tasks). */
typedef struct top_row {
    size_t conn;
    int task;
} top_row_t;

/* The rows in display order: each connector followed by its tasks. Returns how many there are
 * (rows holds at most cap of them). */
size_t top_model_rows(const top_model_t *m, top_row_t *rows, size_t cap);

typedef enum top_col {
    TOP_COL_NAME,
    TOP_COL_TYPE,
    TOP_COL_STATE,
    TOP_COL_IN,
    TOP_COL_OUT,
    TOP_COL_ERRORS,
    TOP_COL_LAG,
    TOP_COL_DLQ,
    TOP_COL_RESTARTS,
    TOP_COL_BUFFER,
    TOP_COL_PLUGIN,
    TOP_COL_COUNT
} top_col_t;

/* The columns that fit `width` terminal cells, in display order (the order of top_col_t), each
 * with its width; one space between two. The name always shows; the others are dropped, least
 * useful first (plugin, buffer, type, restarts, ...), when the width is short. width <= 0: all
 * of them, the name as wide as the longest. */
typedef struct top_layout {
    int ncols;
    top_col_t col[TOP_COL_COUNT];
    int width[TOP_COL_COUNT]; /* by position, as col */
} top_layout_t;

void top_layout_fit(top_layout_t *l, const top_model_t *m, int width);
const char *top_col_title(top_col_t c);
int top_col_numeric(top_col_t c); /* right-aligned */
top_col_t top_sort_col(top_sort_t key);

/* The text of one cell ("" where a task row has nothing to show, "-" for unknown). */
void top_cell(const top_model_t *m, const top_row_t *r, top_col_t c, char *out, size_t size);

/* 950 -> "950", 12.5 -> "12.5", 12345 -> "12.3k", 2.5e6 -> "2.50M"; NAN -> "-". */
void top_fmt_rate(double v, char *out, size_t size);
/* 1048576 -> "1.0M" (binary units), -1 -> "-". */
void top_fmt_bytes(double v, char *out, size_t size);
/* 3725 -> "1h02m", 59 -> "59s", 90061 -> "1d01h". */
void top_fmt_duration(double seconds, char *out, size_t size);
/* Terminal cells of a UTF-8 string: its code points (sluice's names are single-width). */
int top_text_width(const char *s);
/* The byte length of s's first `cells` code points. */
size_t top_text_prefix(const char *s, int cells);

/* One snapshot as a plain table with every column (non-tty stdout): a header line (url, version,
 * process) then the rows. */
void top_model_print(FILE *out, const top_model_t *m, const char *url, const char *version);
/* The header line's process part: "rss 12.3M  cpu 3.2%  up 5m00s": cpu_percent, else the
 * worker's, else the CPU seconds ("cpu 12.5s"). */
void top_model_process(const top_model_t *m, double cpu_percent, char *out, size_t size);

#endif
