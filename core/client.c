/* client.c — see client.h. One request per command over libcurl; the answer printed as Connect's
 * JSON (pretty) or, for list and status, a short table. The requests are `sluice top`'s too. */
#include "client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <dlfcn.h>
/* Plain function declarations: the calls go through pointers (see client_curl). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "buf.h"

/* libcurl is loaded with dlopen, as schema_registry.c does, not linked: linked, `sluice run` would
 * map it and its dependencies (about 5.5 MiB resident) in every worker, for a command that only
 * an operator's shell runs. */
static struct {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    char *(*easy_escape)(CURL *, const char *, int);
    void (*free)(void *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} client_curl;

int client_curl_load(char *err, size_t errlen)
{
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "cannot load libcurl.so.4 (package libcurl4): %s", dlerror());
        return -1;
    }
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&client_curl.easy_init, "curl_easy_init"},
        {(void **)&client_curl.easy_setopt, "curl_easy_setopt"},
        {(void **)&client_curl.easy_perform, "curl_easy_perform"},
        {(void **)&client_curl.easy_getinfo, "curl_easy_getinfo"},
        {(void **)&client_curl.easy_cleanup, "curl_easy_cleanup"},
        {(void **)&client_curl.easy_strerror, "curl_easy_strerror"},
        {(void **)&client_curl.easy_escape, "curl_easy_escape"},
        {(void **)&client_curl.free, "curl_free"},
        {(void **)&client_curl.slist_append, "curl_slist_append"},
        {(void **)&client_curl.slist_free_all, "curl_slist_free_all"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
            snprintf(err, errlen, "libcurl.so.4 lacks %s", syms[i].name);
            return -1;
        }
    return 0;
}

static void client_usage(FILE *out)
{
    fputs("usage: sluice connectors [--url URL] [--user USER:PASSWORD] [--json] COMMAND\n"
          "  list                 the connectors with their states\n"
          "  status NAME          a connector's state and its tasks'\n"
          "  config NAME          its configuration (Connect's flat keys)\n"
          "  offsets NAME         its positions (KIP-875)\n"
          "  pause NAME | resume NAME | stop NAME | delete NAME\n"
          "  restart NAME [--include-tasks] [--only-failed]\n"
          "  --url: the worker's REST API (default $SLUICE_URL, else " CLIENT_DEFAULT_URL ")\n"
          "  --user: HTTP basic auth (default $SLUICE_USER); --json: the API's JSON, not a table\n",
          out);
}

void client_request_init(client_request_t *r, const char *base, const char *user,
                         const char *method)
{
    *r = (client_request_t){.base = base, .user = user, .method = method};
    buf_init(&r->path);
    buf_init(&r->body);
}

void client_request_free(client_request_t *r)
{
    buf_free(&r->path);
    buf_free(&r->body);
}

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
    buf_t *b = opaque;
    return buf_append(b, data, size * n) == 0 ? size * n : 0;
}

static int on_progress(void *opaque, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load((const atomic_int *)opaque) ? 1 : 0;
}

int client_request_send(client_request_t *r, char *err, size_t errlen)
{
    char cerr[CURL_ERROR_SIZE] = "";
    buf_reset(&r->body);
    r->status = 0;
    CURL *h = client_curl.easy_init();
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    buf_t url;
    buf_init(&url);
    size_t blen = strlen(r->base);
    while (blen > 0 && r->base[blen - 1] == '/')
        blen--;
    buf_append(&url, r->base, blen);
    buf_puts(&url, r->path.data ? r->path.data : "");
    int has_body = strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0;
    struct curl_slist *hdrs = client_curl.slist_append(NULL, "Accept: application/json");
    /* An empty body, declared JSON: Connect's resources consume only that. */
    if (has_body)
        hdrs = client_curl.slist_append(hdrs, "Content-Type: application/json");
    long timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : 60000L;
    client_curl.easy_setopt(h, CURLOPT_URL, url.data);
    client_curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    client_curl.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    client_curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    client_curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000L ? timeout_ms : 5000L);
    client_curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    client_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    client_curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    client_curl.easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    if (has_body) {
        client_curl.easy_setopt(h, CURLOPT_POSTFIELDS, "");
        client_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (r->user && *r->user) {
        client_curl.easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        client_curl.easy_setopt(h, CURLOPT_USERPWD, r->user);
    }
    if (r->cancel) {
        client_curl.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        client_curl.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        client_curl.easy_setopt(h, CURLOPT_XFERINFODATA, (void *)r->cancel);
    }
    CURLcode e = client_curl.easy_perform(h);
    int rc = 0;
    if (e != CURLE_OK) {
        snprintf(err, errlen, "cannot reach %s: %s", url.data,
                 cerr[0] ? cerr : client_curl.easy_strerror(e));
        rc = -1;
    } else {
        client_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    }
    client_curl.slist_free_all(hdrs);
    client_curl.easy_cleanup(h);
    buf_free(&url);
    buf_append(&r->body, "", 1); /* NUL-terminated for the parser */
    r->body.len--;
    return rc;
}

void client_request_error(const client_request_t *r, char *out, size_t size)
{
    cJSON *j = cJSON_ParseWithLength(r->body.data, r->body.len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsString(m))
        snprintf(out, size, "%s (HTTP %ld)", m->valuestring, r->status);
    else
        snprintf(out, size, "HTTP %ld from %s %s%s%.*s", r->status, r->method, r->path.data,
                 r->body.len ? ": " : "", (int)(r->body.len > 500 ? 500 : r->body.len),
                 r->body.len ? r->body.data : "");
    cJSON_Delete(j);
}

/* The command in messages ("sluice connectors", "sluice tap"). */
static const char *client_prog = "sluice connectors";

/* Print an error answer: Connect's {"error_code", "message"}, else the body as it came. */
static void print_error(const client_request_t *r)
{
    char msg[1024];
    client_request_error(r, msg, sizeof msg);
    fprintf(stderr, "%s: %s\n", client_prog, msg);
}

static void print_pretty(const cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s)
        puts(s);
    free(s);
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

/* "0:RUNNING 1:FAILED" */
static void tasks_summary(const cJSON *status, char *out, size_t size)
{
    size_t n = 0;
    const cJSON *t;
    out[0] = '\0';
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(status, "tasks"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
        int w = snprintf(out + n, size - n, "%s%d:%s", n ? " " : "",
                         cJSON_IsNumber(id) ? id->valueint : -1, jstr(t, "state"));
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
    if (!n)
        snprintf(out, size, "-");
}

static void print_list(const cJSON *j)
{
    size_t width = 4;
    const cJSON *c;
    cJSON_ArrayForEach(c, j) if (c->string && strlen(c->string) > width) width = strlen(c->string);
    printf("%-*s  %-6s  %-10s  %s\n", (int)width, "NAME", "TYPE", "STATE", "TASKS");
    cJSON_ArrayForEach(c, j)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        char tasks[512];
        tasks_summary(st, tasks, sizeof tasks);
        printf("%-*s  %-6s  %-10s  %s\n", (int)width, c->string ? c->string : "?", jstr(st, "type"),
               jstr(cJSON_GetObjectItemCaseSensitive(st, "connector"), "state"), tasks);
    }
}

/* The first line of a trace: the message; the whole trace is in --json. */
static void print_trace(const cJSON *o, const char *indent)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "trace");
    if (cJSON_IsString(t) && *t->valuestring)
        printf("%s%.*s\n", indent, (int)strcspn(t->valuestring, "\n"), t->valuestring);
}

static void print_status(const cJSON *j)
{
    const cJSON *conn = cJSON_GetObjectItemCaseSensitive(j, "connector");
    printf("%s (%s): %s on %s\n", jstr(j, "name"), jstr(j, "type"), jstr(conn, "state"),
           jstr(conn, "worker_id"));
    print_trace(conn, "  ");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tasks"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
        printf("  task %d: %s\n", cJSON_IsNumber(id) ? id->valueint : -1, jstr(t, "state"));
        print_trace(t, "    ");
    }
}

int client_request_path_connector(client_request_t *r, const char *name, const char *suffix)
{
    CURL *h = client_curl.easy_init();
    char *esc = h ? client_curl.easy_escape(h, name, 0) : NULL;
    if (h)
        client_curl.easy_cleanup(h);
    if (!esc)
        return -1;
    int rc = buf_printf(&r->path, "/connectors/%s%s", esc, suffix);
    client_curl.free(esc);
    return rc;
}

int client_main(int argc, char **argv)
{
    const char *url = getenv("SLUICE_URL"), *user = getenv("SLUICE_USER");
    const char *cmd = NULL, *name = NULL;
    int json = 0, include_tasks = 0, only_failed = 0;
    if (!url || !*url)
        url = CLIENT_DEFAULT_URL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--url") == 0 || strcmp(a, "--user") == 0) && i + 1 < argc) {
            if (a[2] == 'u' && a[3] == 'r')
                url = argv[++i];
            else
                user = argv[++i];
        } else if (strncmp(a, "--url=", 6) == 0) {
            url = a + 6;
        } else if (strncmp(a, "--user=", 7) == 0) {
            user = a + 7;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--include-tasks") == 0) {
            include_tasks = 1;
        } else if (strcmp(a, "--only-failed") == 0) {
            only_failed = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            client_usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sluice connectors: unknown option '%s'\n", a);
            client_usage(stderr);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "sluice connectors: unexpected argument '%s'\n", a);
            client_usage(stderr);
            return 2;
        }
    }
    static const struct {
        const char *cmd, *method, *suffix;
    } cmds[] = {
        {"status", "GET", "/status"},   {"config", "GET", "/config"},
        {"offsets", "GET", "/offsets"}, {"pause", "PUT", "/pause"},
        {"resume", "PUT", "/resume"},   {"stop", "PUT", "/stop"},
        {"delete", "DELETE", ""},       {"restart", "POST", "/restart"},
    };
    size_t k = 0;
    int list = cmd && strcmp(cmd, "list") == 0;
    for (; !list && cmd && k < sizeof cmds / sizeof *cmds; k++)
        if (strcmp(cmds[k].cmd, cmd) == 0)
            break;
    if (!cmd || (!list && k == sizeof cmds / sizeof *cmds)) {
        if (cmd)
            fprintf(stderr, "sluice connectors: unknown command '%s'\n", cmd);
        client_usage(stderr);
        return 2;
    }
    if (list ? name != NULL : name == NULL) {
        fprintf(stderr, "sluice connectors %s: %s\n", cmd,
                list ? "takes no connector name" : "needs a connector name");
        client_usage(stderr);
        return 2;
    }
    if ((include_tasks || only_failed) && strcmp(cmd, "restart") != 0) {
        fprintf(stderr, "sluice connectors: --include-tasks and --only-failed are restart's\n");
        return 2;
    }
    char err[512];
    if (client_curl_load(err, sizeof err) != 0) {
        fprintf(stderr, "sluice connectors: %s\n", err);
        return 1;
    }
    client_request_t r;
    client_request_init(&r, url, user, list ? "GET" : cmds[k].method);
    int rc = 1;
    if (list) {
        buf_puts(&r.path, "/connectors?expand=status");
    } else {
        if (client_request_path_connector(&r, name, cmds[k].suffix) != 0) {
            fprintf(stderr, "sluice connectors: out of memory\n");
            goto out;
        }
        if (strcmp(cmd, "restart") == 0)
            buf_printf(&r.path, "?includeTasks=%s&onlyFailed=%s", include_tasks ? "true" : "false",
                       only_failed ? "true" : "false");
    }
    if (client_request_send(&r, err, sizeof err) != 0) {
        fprintf(stderr, "sluice connectors: %s\n", err);
        goto out;
    }
    if (r.status < 200 || r.status > 299) {
        print_error(&r);
        goto out;
    }
    rc = 0;
    cJSON *j = r.body.len ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
    if (r.body.len && !j) {
        fprintf(stderr, "sluice connectors: the answer is not JSON: %.200s\n", r.body.data);
        rc = 1;
    } else if (json && j) {
        print_pretty(j);
    } else if (list) {
        print_list(j);
    } else if (strcmp(cmd, "status") == 0 || (strcmp(cmd, "restart") == 0 && j)) {
        print_status(j); /* restart with tasks answers 202 with the status (KIP-745) */
    } else if (j) {
        print_pretty(j);
    } else {
        static const char *const done[][2] = {
            {"pause", "pausing"},  {"resume", "resuming"},    {"stop", "stopping"},
            {"delete", "deleted"}, {"restart", "restarting"},
        };
        for (size_t d = 0; d < sizeof done / sizeof *done; d++)
            if (strcmp(done[d][0], cmd) == 0)
                printf("%s: %s\n", name, done[d][1]);
    }
    cJSON_Delete(j);
out:
    client_request_free(&r);
    return rc;
}

/* -- sluice tap ------------------------------------------------------------------------------- */

static void tap_usage(FILE *out)
{
    fputs("usage: sluice tap [--url URL] [--user USER:PASSWORD] [--stage STAGE] [--limit N]\n"
          "                  [--rate R] [--json] NAME\n"
          "  prints the records passing a connector's stage, one line each, until N were shown\n"
          "  (default 100, at most 100000) or Ctrl-C\n"
          "  --stage: source (a source connector's default), a transform's id, or sink (a sink\n"
          "           connector's default)\n"
          "  --rate: at most R records a second (default 100); the others are counted as skipped\n"
          "  --json: the API's objects (NDJSON) as they come\n"
          "  --url, --user: as sluice connectors ($SLUICE_URL, $SLUICE_USER)\n",
          out);
}

static volatile sig_atomic_t tap_interrupted;

static void tap_on_signal(int sig)
{
    (void)sig;
    tap_interrupted = 1;
}

struct tap_client {
    CURL *h;
    int json;
    long status; /* 0 until the headers came */
    buf_t line;  /* a partial line; with an error status, the whole body */
    long shown;
};

/* One object of the stream as a line: "topic[p]@offset key=K value=V (N skipped)". */
static void tap_print(struct tap_client *t, const char *line, size_t len)
{
    if (len == 0)
        return; /* the server's keep-alive */
    if (t->json) {
        fwrite(line, 1, len, stdout);
        putchar('\n');
    } else {
        cJSON *j = cJSON_ParseWithLength(line, len);
        if (!j) {
            printf("%.*s\n", (int)len, line);
        } else {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "partition");
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "offset");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "skipped");
            char *k = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "key"));
            char *v = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "value"));
            const cJSON *topic = cJSON_GetObjectItemCaseSensitive(j, "topic");
            printf("%s", cJSON_IsString(topic) ? topic->valuestring : "-");
            if (cJSON_IsNumber(p) && cJSON_IsNumber(o))
                printf("[%d]@%.0f", p->valueint, o->valuedouble);
            printf(" key=%s value=%s", k ? k : "null", v ? v : "null");
            if (cJSON_IsNumber(s) && s->valuedouble > 0)
                printf(" (%.0f skipped)", s->valuedouble);
            putchar('\n');
            free(k);
            free(v);
            cJSON_Delete(j);
        }
    }
    fflush(stdout);
    t->shown++;
}

static size_t tap_on_body(char *data, size_t size, size_t n, void *opaque)
{
    struct tap_client *t = opaque;
    size_t len = size * n;
    if (!t->status)
        client_curl.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->status);
    if (buf_append(&t->line, data, len) != 0)
        return 0;
    if (t->status != 200)
        return len; /* an error: its body is read whole */
    size_t start = 0;
    for (size_t i = 0; i < t->line.len; i++)
        if (t->line.data[i] == '\n') {
            tap_print(t, t->line.data + start, i - start);
            start = i + 1;
        }
    memmove(t->line.data, t->line.data + start, t->line.len - start);
    t->line.len -= start;
    return len;
}

/* Ctrl-C ends the transfer (curl asks this about once a second, and at each read). */
static int tap_on_progress(void *opaque, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)opaque, (void)a, (void)b, (void)c, (void)d;
    return tap_interrupted ? 1 : 0;
}

int client_tap_main(int argc, char **argv)
{
    const char *url = getenv("SLUICE_URL"), *user = getenv("SLUICE_USER");
    const char *name = NULL, *stage = NULL, *limit = NULL, *rate = NULL;
    int json = 0;
    client_prog = "sluice tap";
    if (!url || !*url)
        url = CLIENT_DEFAULT_URL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        static const char *const opts[] = {"--url", "--user", "--stage", "--limit", "--rate"};
        const char **slot[] = {&url, &user, &stage, &limit, &rate};
        int matched = 0;
        for (size_t o = 0; o < sizeof opts / sizeof *opts && !matched; o++) {
            size_t ol = strlen(opts[o]);
            if (strcmp(a, opts[o]) == 0 && i + 1 < argc) {
                *slot[o] = argv[++i];
                matched = 1;
            } else if (strncmp(a, opts[o], ol) == 0 && a[ol] == '=') {
                *slot[o] = a + ol + 1;
                matched = 1;
            }
        }
        if (matched)
            continue;
        if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            tap_usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sluice tap: unknown option '%s'\n", a);
            tap_usage(stderr);
            return 2;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "sluice tap: one connector at a time ('%s' and '%s')\n", name, a);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "sluice tap: needs a connector name\n");
        tap_usage(stderr);
        return 2;
    }
    const char *nums[] = {limit, rate};
    for (int i = 0; i < 2; i++) {
        char *end;
        if (nums[i] && (strtol(nums[i], &end, 10) < 1 || *end)) {
            fprintf(stderr, "sluice tap: --%s takes a positive number, not '%s'\n",
                    i ? "rate" : "limit", nums[i]);
            return 2;
        }
    }
    char err[CURL_ERROR_SIZE] = "";
    if (client_curl_load(err, sizeof err) != 0) {
        fprintf(stderr, "sluice tap: %s\n", err);
        return 1;
    }
    struct tap_client t = {.json = json};
    buf_init(&t.line);
    client_request_t r;
    client_request_init(&r, url, user, "GET");
    t.h = client_curl.easy_init();
    if (!t.h || client_request_path_connector(&r, name, "/tap") != 0) {
        fprintf(stderr, "sluice tap: out of memory\n");
        if (t.h)
            client_curl.easy_cleanup(t.h);
        buf_free(&r.path);
        return 1;
    }
    char sep = '?';
    const char *keys[] = {"stage", "limit", "rate"}, *vals[] = {stage, limit, rate};
    for (int i = 0; i < 3; i++)
        if (vals[i]) {
            char *esc = client_curl.easy_escape(t.h, vals[i], 0);
            buf_printf(&r.path, "%c%s=%s", sep, keys[i], esc ? esc : "");
            client_curl.free(esc);
            sep = '&';
        }
    buf_t full;
    buf_init(&full);
    size_t blen = strlen(url);
    while (blen > 0 && url[blen - 1] == '/')
        blen--;
    buf_append(&full, url, blen);
    buf_puts(&full, r.path.data);
    struct curl_slist *hdrs = client_curl.slist_append(NULL, "Accept: application/x-ndjson");
    client_curl.easy_setopt(t.h, CURLOPT_URL, full.data);
    client_curl.easy_setopt(t.h, CURLOPT_HTTPHEADER, hdrs);
    client_curl.easy_setopt(t.h, CURLOPT_NOSIGNAL, 1L);
    client_curl.easy_setopt(t.h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* No overall timeout (a tap lasts as long as one watches); the server's keep-alive comes
     * every few seconds, so 30 s of silence means it is gone. */
    client_curl.easy_setopt(t.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    client_curl.easy_setopt(t.h, CURLOPT_LOW_SPEED_TIME, 30L);
    client_curl.easy_setopt(t.h, CURLOPT_ERRORBUFFER, err);
    client_curl.easy_setopt(t.h, CURLOPT_WRITEFUNCTION, tap_on_body);
    client_curl.easy_setopt(t.h, CURLOPT_WRITEDATA, &t);
    client_curl.easy_setopt(t.h, CURLOPT_NOPROGRESS, 0L);
    client_curl.easy_setopt(t.h, CURLOPT_XFERINFOFUNCTION, tap_on_progress);
    if (user && *user) {
        client_curl.easy_setopt(t.h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        client_curl.easy_setopt(t.h, CURLOPT_USERPWD, user);
    }
    struct sigaction sa = {.sa_handler = tap_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    CURLcode e = client_curl.easy_perform(t.h);
    int rc = 0;
    if (!t.status)
        client_curl.easy_getinfo(t.h, CURLINFO_RESPONSE_CODE, &t.status);
    if (tap_interrupted) {
        rc = 0; /* Ctrl-C: the watcher asked to stop */
    } else if (e != CURLE_OK) {
        fprintf(stderr, "sluice tap: cannot reach %s: %s\n", full.data,
                err[0] ? err : client_curl.easy_strerror(e));
        rc = 1;
    } else if (t.status != 200) {
        r.method = "GET";
        r.status = t.status;
        r.body = t.line;
        buf_append(&r.body, "", 1);
        r.body.len--;
        t.line = r.body;
        print_error(&r);
        rc = 1;
    } else if (t.line.len) {
        tap_print(&t, t.line.data, t.line.len); /* a last line without its newline */
    }
    client_curl.slist_free_all(hdrs);
    client_curl.easy_cleanup(t.h);
    buf_free(&full);
    buf_free(&r.path);
    buf_free(&t.line);
    return rc;
}
