/* client.c — see client.h. One request per command over libcurl; the answer printed as Connect's
 * JSON (pretty) or, for list and status, a short table. The requests are `sluice top`'s too. */
#include "client.h"

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

/* Print an error answer: Connect's {"error_code", "message"}, else the body as it came. */
static void print_error(const client_request_t *r)
{
    char msg[1024];
    client_request_error(r, msg, sizeof msg);
    fprintf(stderr, "sluice connectors: %s\n", msg);
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
