/* top_model.c — see top_model.h. Parsed once a second: plain mallocs, nothing on a hot path. */
#include "top_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* -- parsing ---------------------------------------------------------------------------------- */

static char *dup_str(const cJSON *o, const char *key, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    return fallback ? strdup(fallback) : NULL;
}

/* The trace when it is a non-empty string; a missing one is not an allocation failure. */
static int dup_trace(const cJSON *o, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "trace");
    *out = NULL;
    if (!cJSON_IsString(v) || !*v->valuestring)
        return 0;
    *out = strdup(v->valuestring);
    return *out ? 0 : -1;
}

static double num(const cJSON *o, const char *key, double unknown)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : unknown;
}

static long long count(const cJSON *o, const char *key)
{
    double d = num(o, key, -1);
    return d >= 0 && d < 9.2e18 ? (long long)d : -1;
}

static int parse_tasks(top_conn_t *c, const cJSON *tasks)
{
    int n = cJSON_IsArray(tasks) ? cJSON_GetArraySize(tasks) : 0;
    if (n <= 0)
        return 0;
    c->tasks = calloc((size_t)n, sizeof *c->tasks);
    if (!c->tasks)
        return -1;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks)
    {
        top_task_t *k = &c->tasks[c->ntasks++];
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
        k->id = cJSON_IsNumber(id) ? id->valueint : (int)c->ntasks - 1;
        k->state = dup_str(t, "state", "?");
        if (!k->state || dup_trace(t, &k->trace) != 0)
            return -1;
    }
    return 0;
}

static void conn_init(top_conn_t *c)
{
    *c = (top_conn_t){.restarts = -1, .dlq = -1, .lag = -1, .buffer_bytes = -1};
    c->in = c->out = c->errors = NAN;
}

static int parse_fail(top_model_t *m, char *err, size_t errlen, const char *what)
{
    top_model_free(m);
    snprintf(err, errlen, "%s", what);
    return -1;
}

int top_model_parse_stats(top_model_t *m, const char *json, size_t len, char *err, size_t errlen)
{
    *m = (top_model_t){.has_stats = 1,
                       .rss_bytes = -1,
                       .cpu_seconds = -1,
                       .uptime_seconds = -1,
                       .cpu_percent = -1};
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *conns = cJSON_GetObjectItemCaseSensitive(j, "connectors");
    if (!cJSON_IsArray(conns)) {
        cJSON_Delete(j);
        return parse_fail(m, err, errlen,
                          j ? "GET /stats: no \"connectors\" array in the answer"
                            : "GET /stats: the answer is not JSON");
    }
    m->now_ms = (long long)num(j, "now_ms", 0);
    const cJSON *proc = cJSON_GetObjectItemCaseSensitive(j, "process");
    m->rss_bytes = num(proc, "rss_bytes", -1);
    m->cpu_seconds = num(proc, "cpu_seconds", -1);
    m->uptime_seconds = num(proc, "uptime_seconds", -1);
    m->cpu_percent = num(proc, "cpu_percent", -1);
    int n = cJSON_GetArraySize(conns);
    if (n > 0 && !(m->conns = calloc((size_t)n, sizeof *m->conns))) {
        cJSON_Delete(j);
        return parse_fail(m, err, errlen, "out of memory");
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, conns)
    {
        top_conn_t *c = &m->conns[m->n++];
        conn_init(c);
        c->name = dup_str(o, "name", "?");
        c->type = dup_str(o, "type", "?");
        c->state = dup_str(o, "state", "?");
        c->plugin = dup_str(o, "plugin", "?");
        c->restarts = count(o, "restarts");
        c->lag = count(o, "lag");
        c->buffer_bytes = count(o, "buffer_bytes");
        c->dlq = count(cJSON_GetObjectItemCaseSensitive(o, "totals"), "dlq");
        const cJSON *rate = cJSON_GetObjectItemCaseSensitive(o, "rate");
        c->in = num(rate, "in", NAN);
        c->out = num(rate, "out", NAN);
        c->errors = num(rate, "errors", NAN);
        if (!c->name || !c->type || !c->state || !c->plugin || dup_trace(o, &c->trace) != 0 ||
            parse_tasks(c, cJSON_GetObjectItemCaseSensitive(o, "tasks")) != 0) {
            cJSON_Delete(j);
            return parse_fail(m, err, errlen, "out of memory");
        }
    }
    cJSON_Delete(j);
    return 0;
}

int top_model_parse_status(top_model_t *m, const char *json, size_t len, char *err, size_t errlen)
{
    *m = (top_model_t){.rss_bytes = -1, .cpu_seconds = -1, .uptime_seconds = -1, .cpu_percent = -1};
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return parse_fail(m, err, errlen,
                          "GET /connectors?expand=status: the answer is not a JSON object");
    }
    int n = cJSON_GetArraySize(j);
    if (n > 0 && !(m->conns = calloc((size_t)n, sizeof *m->conns))) {
        cJSON_Delete(j);
        return parse_fail(m, err, errlen, "out of memory");
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, j)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
        const cJSON *conn = cJSON_GetObjectItemCaseSensitive(st, "connector");
        top_conn_t *c = &m->conns[m->n++];
        conn_init(c);
        c->name = strdup(o->string ? o->string : "?");
        c->type = dup_str(st, "type", "?");
        c->state = dup_str(conn, "state", "?");
        c->plugin = strdup("?");
        if (!c->name || !c->type || !c->state || !c->plugin || dup_trace(conn, &c->trace) != 0 ||
            parse_tasks(c, cJSON_GetObjectItemCaseSensitive(st, "tasks")) != 0) {
            cJSON_Delete(j);
            return parse_fail(m, err, errlen, "out of memory");
        }
    }
    cJSON_Delete(j);
    return 0;
}

void top_model_free(top_model_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        top_conn_t *c = &m->conns[i];
        free(c->name);
        free(c->type);
        free(c->state);
        free(c->plugin);
        free(c->trace);
        for (size_t t = 0; t < c->ntasks; t++) {
            free(c->tasks[t].state);
            free(c->tasks[t].trace);
        }
        free(c->tasks);
    }
    free(m->conns);
    m->conns = NULL;
    m->n = 0;
}

/* -- order ------------------------------------------------------------------------------------ */

static const char *const sort_names[TOP_SORT_COUNT] = {
    "name", "state", "in/s", "out/s", "errors/s", "lag", "dlq", "restarts",
};

const char *top_sort_name(top_sort_t key)
{
    return (unsigned)key < TOP_SORT_COUNT ? sort_names[key] : "?";
}

top_col_t top_sort_col(top_sort_t key)
{
    static const top_col_t cols[TOP_SORT_COUNT] = {
        TOP_COL_NAME,   TOP_COL_STATE, TOP_COL_IN,  TOP_COL_OUT,
        TOP_COL_ERRORS, TOP_COL_LAG,   TOP_COL_DLQ, TOP_COL_RESTARTS,
    };
    return (unsigned)key < TOP_SORT_COUNT ? cols[key] : TOP_COL_NAME;
}

/* Sorting by state puts the trouble first. */
static int state_rank(const char *s)
{
    static const char *const order[] = {"FAILED", "RESTARTING", "UNASSIGNED",
                                        "PAUSED", "STOPPED",    "RUNNING"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (strcmp(s, order[i]) == 0)
            return (int)i;
    return -1; /* unknown states first: they are news */
}

/* Descending, unknown (NAN, -1) last. */
static int cmp_desc(double a, double b)
{
    int ua = isnan(a) || a < 0, ub = isnan(b) || b < 0;
    if (ua || ub)
        return ua - ub;
    return (a < b) - (a > b);
}

static int cmp_conn(const void *pa, const void *pb, void *opaque)
{
    const top_conn_t *a = pa, *b = pb;
    top_sort_t key = *(const top_sort_t *)opaque;
    int c = 0;
    switch (key) {
    case TOP_SORT_STATE:
        c = state_rank(a->state) - state_rank(b->state);
        break;
    case TOP_SORT_IN:
        c = cmp_desc(a->in, b->in);
        break;
    case TOP_SORT_OUT:
        c = cmp_desc(a->out, b->out);
        break;
    case TOP_SORT_ERRORS:
        c = cmp_desc(a->errors, b->errors);
        break;
    case TOP_SORT_LAG:
        c = cmp_desc((double)a->lag, (double)b->lag);
        break;
    case TOP_SORT_DLQ:
        c = cmp_desc((double)a->dlq, (double)b->dlq);
        break;
    case TOP_SORT_RESTARTS:
        c = cmp_desc((double)a->restarts, (double)b->restarts);
        break;
    default:
        break;
    }
    return c ? c : strcmp(a->name, b->name);
}

static int cmp_task(const void *pa, const void *pb)
{
    const top_task_t *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

void top_model_sort(top_model_t *m, top_sort_t key)
{
    if (m->n > 1)
        qsort_r(m->conns, m->n, sizeof *m->conns, cmp_conn, &key);
    for (size_t i = 0; i < m->n; i++)
        if (m->conns[i].ntasks > 1)
            qsort(m->conns[i].tasks, m->conns[i].ntasks, sizeof *m->conns[i].tasks, cmp_task);
}

size_t top_model_rows(const top_model_t *m, top_row_t *rows, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        for (int t = -1; t < (int)m->conns[i].ntasks; t++, n++)
            if (n < cap)
                rows[n] = (top_row_t){.conn = i, .task = t};
    return n;
}

/* -- text ------------------------------------------------------------------------------------- */

void top_fmt_rate(double v, char *out, size_t size)
{
    static const char units[] = "kMGT";
    if (isnan(v) || v < 0) {
        snprintf(out, size, "-");
        return;
    }
    if (v < 100) {
        snprintf(out, size, "%.1f", v);
        size_t n = strlen(out);
        if (n > 2 && strcmp(out + n - 2, ".0") == 0)
            out[n - 2] = '\0'; /* 5, not 5.0; 0.2 stays */
        return;
    }
    if (v < 999.5) {
        snprintf(out, size, "%.0f", v);
        return;
    }
    size_t u = 0;
    v /= 1000;
    while (v >= 999.5 && u + 1 < sizeof units - 1) {
        v /= 1000;
        u++;
    }
    snprintf(out, size, v < 9.995 ? "%.2f%c" : v < 99.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static void fmt_count(long long v, char *out, size_t size)
{
    if (v < 0)
        snprintf(out, size, "-");
    else if (v < 1000000)
        snprintf(out, size, "%lld", v);
    else
        top_fmt_rate((double)v, out, size);
}

void top_fmt_bytes(double v, char *out, size_t size)
{
    static const char units[] = "KMGT";
    if (isnan(v) || v < 0) {
        snprintf(out, size, "-");
        return;
    }
    if (v < 1024) {
        snprintf(out, size, "%.0fB", v);
        return;
    }
    size_t u = 0;
    v /= 1024;
    while (v >= 1023.95 && u + 1 < sizeof units - 1) {
        v /= 1024;
        u++;
    }
    snprintf(out, size, v < 99.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void top_fmt_duration(double seconds, char *out, size_t size)
{
    if (isnan(seconds) || seconds < 0) {
        snprintf(out, size, "-");
        return;
    }
    long long s = (long long)seconds;
    if (s < 60)
        snprintf(out, size, "%llds", s);
    else if (s < 3600)
        snprintf(out, size, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

int top_text_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

size_t top_text_prefix(const char *s, int cells)
{
    size_t i = 0;
    for (int n = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == cells)
            break;
    }
    return i;
}

static const struct {
    const char *title;
    int width; /* 0: as wide as its widest cell */
    int numeric;
} cols[TOP_COL_COUNT] = {
    [TOP_COL_NAME] = {"NAME", 0, 0},         [TOP_COL_TYPE] = {"TYPE", 6, 0},
    [TOP_COL_STATE] = {"STATE", 10, 0},      [TOP_COL_IN] = {"IN/s", 7, 1},
    [TOP_COL_OUT] = {"OUT/s", 7, 1},         [TOP_COL_ERRORS] = {"ERR/s", 6, 1},
    [TOP_COL_LAG] = {"LAG", 7, 1},           [TOP_COL_DLQ] = {"DLQ", 6, 1},
    [TOP_COL_RESTARTS] = {"RESTARTS", 8, 1}, [TOP_COL_BUFFER] = {"BUFFER", 7, 1},
    [TOP_COL_PLUGIN] = {"PLUGIN", 0, 0},
};

const char *top_col_title(top_col_t c)
{
    return (unsigned)c < TOP_COL_COUNT ? cols[c].title : "?";
}

int top_col_numeric(top_col_t c)
{
    return (unsigned)c < TOP_COL_COUNT && cols[c].numeric;
}

void top_cell(const top_model_t *m, const top_row_t *r, top_col_t c, char *out, size_t size)
{
    const top_conn_t *k = &m->conns[r->conn];
    const top_task_t *t = r->task >= 0 ? &k->tasks[r->task] : NULL;
    out[0] = '\0';
    if (t && c != TOP_COL_NAME && c != TOP_COL_STATE)
        return;
    switch (c) {
    case TOP_COL_NAME:
        if (t)
            snprintf(out, size, "  task %d", t->id);
        else
            snprintf(out, size, "%s", k->name);
        break;
    case TOP_COL_TYPE:
        snprintf(out, size, "%s", k->type);
        break;
    case TOP_COL_STATE:
        snprintf(out, size, "%s", t ? t->state : k->state);
        break;
    case TOP_COL_IN:
        top_fmt_rate(k->in, out, size);
        break;
    case TOP_COL_OUT:
        top_fmt_rate(k->out, out, size);
        break;
    case TOP_COL_ERRORS:
        top_fmt_rate(k->errors, out, size);
        break;
    case TOP_COL_LAG:
        fmt_count(k->lag, out, size);
        break;
    case TOP_COL_DLQ:
        fmt_count(k->dlq, out, size);
        break;
    case TOP_COL_RESTARTS:
        fmt_count(k->restarts, out, size);
        break;
    case TOP_COL_BUFFER:
        top_fmt_bytes((double)k->buffer_bytes, out, size);
        break;
    case TOP_COL_PLUGIN:
        snprintf(out, size, "%s", k->plugin);
        break;
    default:
        break;
    }
}

/* The widest cell of a variable column (and its title). */
static int widest(const top_model_t *m, top_col_t c)
{
    int w = (int)strlen(cols[c].title);
    char cell[256];
    for (size_t i = 0; i < m->n; i++)
        for (int t = -1; t < (int)m->conns[i].ntasks; t++) {
            top_row_t r = {.conn = i, .task = t};
            top_cell(m, &r, c, cell, sizeof cell);
            int cw = top_text_width(cell);
            w = cw > w ? cw : w;
        }
    return w;
}

void top_layout_fit(top_layout_t *l, const top_model_t *m, int width)
{
    /* The order in which columns give way, the last first. */
    static const top_col_t keep[TOP_COL_COUNT] = {
        TOP_COL_NAME, TOP_COL_STATE,    TOP_COL_IN,   TOP_COL_OUT,    TOP_COL_ERRORS, TOP_COL_LAG,
        TOP_COL_DLQ,  TOP_COL_RESTARTS, TOP_COL_TYPE, TOP_COL_BUFFER, TOP_COL_PLUGIN,
    };
    int w[TOP_COL_COUNT], on[TOP_COL_COUNT] = {0};
    for (int c = 0; c < TOP_COL_COUNT; c++)
        w[c] = cols[c].width ? cols[c].width : widest(m, (top_col_t)c);
    int name_want = w[TOP_COL_NAME];
    if (width > 0) {
        if (w[TOP_COL_PLUGIN] > 20)
            w[TOP_COL_PLUGIN] = 20;
        if (name_want > 40)
            name_want = 40;
        int used = name_want < 12 ? name_want : 12;
        w[TOP_COL_NAME] = used;
        on[TOP_COL_NAME] = 1;
        for (int k = 1; k < TOP_COL_COUNT; k++) {
            top_col_t c = keep[k];
            if (used + 1 + w[c] > width)
                break;
            used += 1 + w[c];
            on[c] = 1;
        }
        int spare = width - used;
        int grow = name_want - w[TOP_COL_NAME];
        w[TOP_COL_NAME] += grow < spare ? grow : spare > 0 ? spare : 0;
        if (w[TOP_COL_NAME] > width)
            w[TOP_COL_NAME] = width; /* a terminal narrower than the name's least */
    } else {
        for (int c = 0; c < TOP_COL_COUNT; c++)
            on[c] = 1;
    }
    l->ncols = 0;
    for (int c = 0; c < TOP_COL_COUNT; c++)
        if (on[c]) {
            l->col[l->ncols] = (top_col_t)c;
            l->width[l->ncols++] = w[c];
        }
}

/* Appends text padded (or cut) to `width` cells; width 0: as it is. */
static void put_cell(FILE *out, const char *text, int width, int right)
{
    int tw = top_text_width(text);
    if (width <= 0) {
        fputs(text, out);
        return;
    }
    if (tw > width) {
        fprintf(out, "%.*s", (int)top_text_prefix(text, width), text);
        return;
    }
    if (right)
        fprintf(out, "%*s%s", width - tw, "", text);
    else
        fprintf(out, "%s%*s", text, width - tw, "");
}

void top_model_process(const top_model_t *m, double cpu_percent, char *out, size_t size)
{
    char rss[32], up[32];
    size_t n = 0;
    out[0] = '\0';
    if (cpu_percent < 0)
        cpu_percent = m->cpu_percent;
    if (m->rss_bytes >= 0) {
        top_fmt_bytes(m->rss_bytes, rss, sizeof rss);
        n += (size_t)snprintf(out + n, size - n, "rss %s", rss);
    }
    if (n < size && cpu_percent >= 0)
        n += (size_t)snprintf(out + n, size - n, "%scpu %.1f%%", n ? "  " : "", cpu_percent);
    else if (n < size && m->cpu_seconds >= 0)
        n += (size_t)snprintf(out + n, size - n, "%scpu %.1fs", n ? "  " : "", m->cpu_seconds);
    if (n < size && m->uptime_seconds >= 0) {
        top_fmt_duration(m->uptime_seconds, up, sizeof up);
        snprintf(out + n, size - n, "%sup %s", n ? "  " : "", up);
    }
}

void top_model_print(FILE *out, const top_model_t *m, const char *url, const char *version)
{
    char proc[128], cell[256];
    top_model_process(m, -1, proc, sizeof proc);
    fprintf(out, "sluice top: %s  version %s%s%s%s\n", url, version ? version : "?",
            proc[0] ? "  " : "", proc, m->has_stats ? "" : "  (no /stats: states only)");
    top_layout_t l;
    top_layout_fit(&l, m, 0);
    /* No padding after the last column: no trailing blanks for scripts to trim. */
    for (int i = 0; i < l.ncols; i++) {
        if (i)
            fputc(' ', out);
        put_cell(out, top_col_title(l.col[i]), i + 1 < l.ncols ? l.width[i] : 0,
                 top_col_numeric(l.col[i]));
    }
    fputc('\n', out);
    for (size_t i = 0; i < m->n; i++)
        for (int t = -1; t < (int)m->conns[i].ntasks; t++) {
            top_row_t r = {.conn = i, .task = t};
            /* A task row stops after its state. */
            int last = l.ncols - 1;
            while (t >= 0 && last > 0 && l.col[last] != TOP_COL_STATE)
                last--;
            for (int c = 0; c <= last; c++) {
                top_cell(m, &r, l.col[c], cell, sizeof cell);
                if (c)
                    fputc(' ', out);
                put_cell(out, cell, c < last ? l.width[c] : 0, top_col_numeric(l.col[c]));
            }
            fputc('\n', out);
        }
}
