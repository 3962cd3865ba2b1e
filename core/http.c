/* http.c — the worker's HTTP listener over GNU libmicrohttpd (see http.h): settings from the
 * top-level keys, the listening socket, TLS, basic auth, body limits and the handler call. */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

/* A fixed pool: the handler's work is short (snapshots under the runtime's lock), and a slow
 * client costs a connection slot, not a thread (MHD's event loop does not block on one client).
 * Thread-per-connection would turn a thousand clients into a thousand threads. */
#define HTTP_THREADS 4
/* A body announced larger than this is refused at once (the client may see a reset); a smaller
 * excess over HTTP_BODY_MAX is read and dropped, so that the client reads its 413. */
#define HTTP_DISCARD_MAX (64 * 1024 * 1024)

typedef struct http_user {
    char *name, *password;
} http_user_t;

struct http_settings {
    int enabled;
    int https;
    char *host; /* as written ("" = every interface) */
    int port;
    char *advertised_host;
    int advertised_port;
    char *cert_path, *key_path, *key_password;
    char *auth_path;
    http_user_t *users;
    size_t nusers;
    unsigned connections_max;
    unsigned idle_timeout_s;
};

/* One streaming response. `state` and `next` belong to the server's `streams_mu`. */
typedef enum { STREAM_RUNNING, STREAM_SUSPENDING, STREAM_SUSPENDED } stream_state_t;
typedef struct http_stream {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const http_stream_ops_t *ops;
    void *obj;
    const char *keepalive;
    int fd; /* the connection's socket: the pump looks for a hang-up while it is suspended */
    stream_state_t state;
    int hup;         /* the client hung up: end at the next read */
    int64_t last_ms; /* the last bytes sent (keep-alive) */
    struct http_stream *next;
} http_stream_t;

struct http_server {
    struct MHD_Daemon *daemon;
    /* Streaming responses and the pump that resumes them (started with the first one). */
    pthread_mutex_t streams_mu;
    pthread_cond_t streams_cv;
    http_stream_t *streams;
    pthread_t pump;
    int pump_started, pump_stop;
    http_handler_fn handler;
    void *opaque;
    const http_settings_t *settings;
    char *cert_pem, *key_pem;
    char worker_id[300];
};

/* The state of one request while its body arrives. */
typedef struct http_conn {
    buf_t body;
    int too_large;
} http_conn_t;

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void http_settings_free(http_settings_t *s)
{
    if (!s)
        return;
    free(s->host);
    free(s->advertised_host);
    free(s->cert_path);
    free(s->key_path);
    if (s->key_password) {
        explicit_bzero(s->key_password, strlen(s->key_password));
        free(s->key_password);
    }
    free(s->auth_path);
    for (size_t i = 0; i < s->nusers; i++) {
        free(s->users[i].name);
        explicit_bzero(s->users[i].password, strlen(s->users[i].password));
        free(s->users[i].password);
    }
    free(s->users);
    free(s);
}

int http_settings_enabled(const http_settings_t *s)
{
    return s && s->enabled;
}

/* "http://HOST:PORT" or "https://HOST:PORT" (HOST may be empty, or [v6]). 0, or -1 with `msg`. */
static int parse_listener(http_settings_t *s, const char *url, char *msg, size_t msglen)
{
    const char *rest;
    if (strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        s->https = 1;
        rest = url + 8;
    } else {
        snprintf(msg, msglen, "'%s' is not http://HOST:PORT or https://HOST:PORT", url);
        return -1;
    }
    if (strchr(url, ',')) {
        snprintf(msg, msglen, "'%s': sluice listens on one URL only", url);
        return -1;
    }
    const char *colon;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':') {
            snprintf(msg, msglen, "'%s': an IPv6 host is written [ADDRESS]:PORT", url);
            return -1;
        }
        s->host = strndup(rest + 1, (size_t)(close - rest - 1));
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon) {
            snprintf(msg, msglen, "'%s' has no port (http://HOST:PORT)", url);
            return -1;
        }
        s->host = strndup(rest, (size_t)(colon - rest));
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || (*end != '\0' && strcmp(end, "/") != 0) || errno || port < 0 ||
        port > 65535) {
        snprintf(msg, msglen, "'%s': the port must be a number from 0 to 65535", url);
        return -1;
    }
    s->port = (int)port;
    return 0;
}

/* Jetty's PropertyUserStore format, as Connect's JAAS PropertyFileLoginModule reads it:
 * `user: password[,role...]`, `#` comments. */
static int load_credentials(http_settings_t *s, const char *path, const config_mark_t *mark,
                            config_errors_t *errs)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        config_errors_add(errs, mark, "rest.basic.auth.credentials.file: cannot read '%s': %s",
                          path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#' || *p == '!')
            continue;
        char *sep = strpbrk(p, ":=");
        if (!sep) {
            config_errors_add(errs, NULL, "%s:%d: expected 'user: password[,role]'", path, lineno);
            rc = -1;
            continue;
        }
        char *name_end = sep;
        while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        char *pw = sep + 1 + strspn(sep + 1, " \t");
        char *comma = strchr(pw, ',');
        char *pw_end = comma ? comma : pw + strlen(pw);
        while (pw_end > pw && (pw_end[-1] == ' ' || pw_end[-1] == '\t'))
            pw_end--;
        if (name_end == p || pw_end == pw) {
            config_errors_add(errs, NULL, "%s:%d: empty user or password", path, lineno);
            rc = -1;
            continue;
        }
        if (strncmp(pw, "OBF:", 4) == 0 || strncmp(pw, "MD5:", 4) == 0 ||
            strncmp(pw, "CRYPT:", 6) == 0) {
            config_errors_add(errs, NULL,
                              "%s:%d: Jetty's OBF:/MD5:/CRYPT: passwords are not supported; "
                              "write the password itself (keep the file mode 0600)",
                              path, lineno);
            rc = -1;
            continue;
        }
        http_user_t *users = realloc(s->users, (s->nusers + 1) * sizeof *users);
        if (!users)
            break;
        s->users = users;
        s->users[s->nusers].name = strndup(p, (size_t)(name_end - p));
        s->users[s->nusers].password = strndup(pw, (size_t)(pw_end - pw));
        s->nusers++;
        explicit_bzero(line, sizeof line);
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    if (rc == 0 && s->nusers == 0) {
        config_errors_add(errs, mark, "rest.basic.auth.credentials.file: '%s' has no user", path);
        rc = -1;
    }
    return rc;
}

http_settings_t *http_settings_new(const sluice_config_t *global, const char *override,
                                   config_errors_t *errs)
{
    http_settings_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t before = errs->len;
    const char *url = override;
    const config_mark_t *mark = NULL;
    if (!url && global && config_mark(global, "listeners")) {
        url = config_string(global, "listeners");
        mark = config_value_mark(global, "listeners");
    }
    if (!url)
        url = getenv("SLUICE_LISTENERS");
    if (!url)
        url = "http://127.0.0.1:8083";
    s->connections_max = 256;
    s->idle_timeout_s = 30;
    if (global) {
        if (config_has(global, "rest.connections.max"))
            s->connections_max = (unsigned)config_int(global, "rest.connections.max");
        if (config_has(global, "rest.idle.timeout.ms"))
            s->idle_timeout_s =
                (unsigned)((config_duration_ms(global, "rest.idle.timeout.ms") + 999) / 1000);
        s->advertised_host = xstrdup(config_string(global, "rest.advertised.host.name"));
        if (config_has(global, "rest.advertised.port"))
            s->advertised_port = (int)config_int(global, "rest.advertised.port");
        s->cert_path = xstrdup(config_string(global, "listeners.https.ssl.certificate.location"));
        s->key_path = xstrdup(config_string(global, "listeners.https.ssl.key.location"));
        s->key_password = xstrdup(config_string(global, "listeners.https.ssl.key.password"));
        s->auth_path = xstrdup(config_string(global, "rest.basic.auth.credentials.file"));
    }
    if (url[0] == '\0')
        return s; /* off */
    s->enabled = 1;
    char msg[600];
    if (parse_listener(s, url, msg, sizeof msg) != 0) {
        config_errors_add(errs, mark, "listeners: %s", msg);
    } else if (s->https) {
        if (!s->cert_path || !s->key_path)
            config_errors_add(errs, mark,
                              "listeners: an https:// listener needs "
                              "listeners.https.ssl.certificate.location and "
                              "listeners.https.ssl.key.location");
        const char *paths[] = {s->cert_path, s->key_path};
        for (int i = 0; i < 2; i++)
            if (paths[i] && access(paths[i], R_OK) != 0)
                config_errors_add(errs, NULL, "%s: cannot read '%s': %s",
                                  i ? "listeners.https.ssl.key.location"
                                    : "listeners.https.ssl.certificate.location",
                                  paths[i], strerror(errno));
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
            config_errors_add(errs, mark, "listeners: this libmicrohttpd has no TLS support");
    } else if (s->cert_path || s->key_path) {
        config_errors_add(errs, mark,
                          "listeners: listeners.https.ssl.* are set but the listener '%s' is "
                          "not https://",
                          url);
    }
    if (s->auth_path)
        load_credentials(
            s, s->auth_path,
            global ? config_value_mark(global, "rest.basic.auth.credentials.file") : NULL, errs);
    if (errs->len != before) {
        http_settings_free(s);
        return NULL;
    }
    return s;
}

/* -- requests --------------------------------------------------------------------------------- */

/* Equal without an early exit: the time depends on the lengths, never on where they differ. */
static int ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < la ? (unsigned char)a[i] : 0;
        unsigned char y = i < lb ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

/* Every entry is compared, so the time does not tell which user exists. */
static const char *check_auth(const http_settings_t *s, const char *user, const char *pass)
{
    const char *found = NULL;
    for (size_t i = 0; i < s->nusers; i++) {
        int ok = ct_equal(user, s->users[i].name) & ct_equal(pass, s->users[i].password);
        if (ok && !found)
            found = s->users[i].name;
    }
    return found;
}

static enum MHD_Result send_json_error(struct MHD_Connection *conn, unsigned status,
                                       const char *message, int auth)
{
    char body[512];
    int n = snprintf(body, sizeof body, "{\"error_code\":%u,\"message\":\"%s\"}", status, message);
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = auth ? MHD_queue_basic_auth_fail_response(conn, "sluice", r)
                               : MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

const char *http_query(const http_request_t *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

const char *http_header(const http_request_t *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, name);
}

typedef struct query_find {
    const char *name, *value;
    int found;
} query_find_t;

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    query_find_t *q = cls;
    if (strcmp(key, q->name) == 0 && value && strcmp(value, q->value) == 0) {
        q->found = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

int http_query_has(const http_request_t *req, const char *name, const char *value)
{
    if (!req->conn)
        return 0;
    query_find_t q = {name, value, 0};
    MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND, query_iter,
                              &q);
    return q.found;
}

/* -- streaming responses ------------------------------------------------------------------------
 * MHD calls stream_read on its own thread when the socket can take bytes. With nothing to send
 * it suspends the connection (MHD's thread goes on with the others) and the pump resumes it:
 * returning 0 instead would make MHD call again at once (a busy loop), and waiting inside would
 * stall every connection of that thread. */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_stream_t *st = cls;
    http_server_t *srv = st->srv;
    pthread_mutex_lock(&srv->streams_mu);
    int hup = st->hup || srv->pump_stop;
    st->state = STREAM_RUNNING;
    pthread_mutex_unlock(&srv->streams_mu);
    if (hup)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    long n = st->ops->read(st->obj, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&srv->streams_mu);
    if (n == 0 && now - st->last_ms >= HTTP_STREAM_KEEPALIVE_MS && st->keepalive &&
        strlen(st->keepalive) <= max) {
        memcpy(buf, st->keepalive, strlen(st->keepalive));
        n = (long)strlen(st->keepalive);
    }
    if (n > 0) {
        st->last_ms = now;
        pthread_mutex_unlock(&srv->streams_mu);
        return n;
    }
    if (srv->pump_stop) {
        /* The server stops: no suspension now (http_stop resumes only what it sees). */
        pthread_mutex_unlock(&srv->streams_mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    /* Suspend; the pump resumes only a stream that is SUSPENDED, i.e. after MHD has it. */
    st->state = STREAM_SUSPENDING;
    pthread_mutex_unlock(&srv->streams_mu);
    MHD_suspend_connection(st->conn);
    pthread_mutex_lock(&srv->streams_mu);
    st->state = STREAM_SUSPENDED;
    pthread_mutex_unlock(&srv->streams_mu);
    return 0;
}

static void stream_free(void *cls)
{
    http_stream_t *st = cls;
    http_server_t *srv = st->srv;
    pthread_mutex_lock(&srv->streams_mu);
    for (http_stream_t **pp = &srv->streams; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    pthread_mutex_unlock(&srv->streams_mu);
    st->ops->free(st->obj);
    free(st);
}

/* Resume the suspended streams that have something to do. MHD_resume_connection is called with
 * no lock held: a suspended connection is not processed (nor freed) by MHD until resumed. */
static void *stream_pump(void *arg)
{
    http_server_t *srv = arg;
    pthread_mutex_lock(&srv->streams_mu);
    while (!srv->pump_stop) {
        if (!srv->streams) {
            pthread_cond_wait(&srv->streams_cv, &srv->streams_mu);
            continue;
        }
        struct MHD_Connection *wake[64];
        size_t nwake = 0;
        int64_t now = clock_mono_ms();
        for (http_stream_t *st = srv->streams; st && nwake < 64; st = st->next) {
            if (st->state != STREAM_SUSPENDED)
                continue;
            struct pollfd pfd = {.fd = st->fd, .events = POLLRDHUP};
            if (st->fd >= 0 && poll(&pfd, 1, 0) > 0 &&
                (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                st->hup = 1;
            if (st->hup || st->ops->ready(st->obj) ||
                now - st->last_ms >= HTTP_STREAM_KEEPALIVE_MS) {
                st->state = STREAM_RUNNING;
                wake[nwake++] = st->conn;
            }
        }
        pthread_mutex_unlock(&srv->streams_mu);
        for (size_t i = 0; i < nwake; i++)
            MHD_resume_connection(wake[i]);
        struct timespec tick = {0, HTTP_STREAM_TICK_MS * 1000000L};
        nanosleep(&tick, NULL);
        pthread_mutex_lock(&srv->streams_mu);
    }
    pthread_mutex_unlock(&srv->streams_mu);
    return NULL;
}

static enum MHD_Result stream_queue(http_server_t *srv, struct MHD_Connection *conn,
                                    http_response_t *resp)
{
    http_stream_t *st = calloc(1, sizeof *st);
    if (!st) {
        resp->stream->free(resp->stream_obj);
        return MHD_NO;
    }
    *st = (http_stream_t){.srv = srv,
                          .conn = conn,
                          .ops = resp->stream,
                          .obj = resp->stream_obj,
                          .keepalive = resp->stream_keepalive,
                          .fd = -1,
                          .last_ms = clock_mono_ms()};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        st->fd = ci->connect_fd;
    pthread_mutex_lock(&srv->streams_mu);
    if (!srv->pump_started && !srv->pump_stop) {
        if (pthread_create(&srv->pump, NULL, stream_pump, srv) == 0)
            pthread_setname_np(srv->pump, "http-streams");
        else {
            pthread_mutex_unlock(&srv->streams_mu);
            st->ops->free(st->obj);
            free(st);
            return send_json_error(conn, 503, "cannot start the stream thread", 0);
        }
        srv->pump_started = 1;
    }
    st->next = srv->streams;
    srv->streams = st;
    pthread_cond_signal(&srv->streams_cv);
    pthread_mutex_unlock(&srv->streams_mu);
    /* From here MHD owns `st`: stream_free runs when the response is destroyed. */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/x-ndjson");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    /* A proxy (nginx) would hold the stream back in its buffer otherwise. */
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **ctxp)
{
    (void)version;
    http_server_t *srv = cls;
    http_conn_t *c = *ctxp;
    if (!c) {
        /* Headers only: check the credentials and the announced length before any body. */
        const http_settings_t *s = srv->settings;
        if (s->nusers) {
            char *pass = NULL;
            char *user = MHD_basic_auth_get_username_password(conn, &pass);
            const char *ok = user && pass ? check_auth(s, user, pass) : NULL;
            if (pass) {
                explicit_bzero(pass, strlen(pass));
                MHD_free(pass);
            }
            if (user)
                MHD_free(user);
            if (!ok)
                return send_json_error(conn, 401, "User cannot access the resource.", 1);
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > HTTP_DISCARD_MAX)
            return send_json_error(conn, 413, "Request body too large (1 MiB at most)", 0);
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        buf_init(&c->body);
        *ctxp = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_large && c->body.len + *upload_data_size > HTTP_BODY_MAX) {
            c->too_large = 1;
            buf_free(&c->body);
        }
        if (!c->too_large && buf_append(&c->body, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->too_large)
        return send_json_error(conn, 413, "Request body too large (1 MiB at most)", 0);

    char *user = NULL;
    if (srv->settings->nusers) {
        char *pass = NULL;
        user = MHD_basic_auth_get_username_password(conn, &pass);
        if (pass) {
            explicit_bzero(pass, strlen(pass));
            MHD_free(pass);
        }
    }
    http_request_t req = {.method = method,
                          .path = url,
                          .body = c->body.data ? c->body.data : "",
                          .body_len = c->body.len,
                          .user = user,
                          .conn = conn};
    http_response_t resp = {.status = 200, .content_type = "application/json"};
    buf_init(&resp.body);
    srv->handler(srv->opaque, &req, &resp);
    if (user)
        MHD_free(user);
    if (resp.stream) {
        buf_free(&resp.body);
        return stream_queue(srv, conn, &resp);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp.body.len, resp.body.data ? resp.body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    buf_free(&resp.body);
    if (!r)
        return MHD_NO;
    if (resp.status != 204 && resp.content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctxp,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    http_conn_t *c = *ctxp;
    if (c) {
        buf_free(&c->body);
        free(c);
        *ctxp = NULL;
    }
}

/* -- the server ------------------------------------------------------------------------------- */

static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
    buf_t b;
    buf_init(&b);
    if (buf_read_file(&b, path) != 0) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        buf_free(&b);
        return -1;
    }
    *out = b.data;
    return 0;
}

static int open_listener(const http_settings_t *s, int *port_out, int *v6, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    int gai = getaddrinfo(s->host[0] ? s->host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", s->host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0) {
            *v6 = a->ai_family == AF_INET6;
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "%s%s", strerror(saved),
                 saved == EADDRINUSE ? " (another process listens there: another sluice or a "
                                       "Connect worker? set `listeners` or run --listeners)"
                                     : "");
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *port_out = s->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

http_server_t *http_start(const http_settings_t *s, http_handler_fn handler, void *opaque,
                          char *where, size_t wherelen, char *err, size_t errlen)
{
    const char *scheme = s->https ? "https" : "http";
    char what[300];
    snprintf(what, sizeof what, "%s://%s%s%s:%d", scheme, strchr(s->host, ':') ? "[" : "", s->host,
             strchr(s->host, ':') ? "]" : "", s->port);
    http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->handler = handler;
    srv->opaque = opaque;
    srv->settings = s;
    pthread_mutex_init(&srv->streams_mu, NULL);
    pthread_cond_init(&srv->streams_cv, NULL);
    char msg[400];
    if (s->https && (read_pem(s->cert_path, &srv->cert_pem, msg, sizeof msg) != 0 ||
                     read_pem(s->key_path, &srv->key_pem, msg, sizeof msg) != 0)) {
        snprintf(err, errlen, "REST API: %s", msg);
        http_stop(srv);
        return NULL;
    }
    int port = 0, v6 = 0;
    int fd = open_listener(s, &port, &v6, msg, sizeof msg);
    if (fd < 0) {
        snprintf(err, errlen, "REST API: cannot listen on %s: %s", what, msg);
        http_stop(srv);
        return NULL;
    }
    /* Suspend/resume: streaming responses (see stream_read). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (s->https)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls[] = {
        {s->https ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->cert_pem},
        {s->https ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->key_pem},
        {s->https && s->key_password ? MHD_OPTION_HTTPS_KEY_PASSWORD : MHD_OPTION_END, 0,
         s->key_password},
        {MHD_OPTION_END, 0, NULL},
    };
    /* MHD_OPTION_ARRAY stops at its first END: put the set ones first. */
    struct MHD_OptionItem opts[4];
    size_t nopts = 0;
    for (size_t i = 0; i < 3; i++)
        if (tls[i].option != MHD_OPTION_END)
            opts[nopts++] = tls[i];
    opts[nopts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
        s->connections_max, MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!srv->daemon) {
        close(fd);
        snprintf(err, errlen, "REST API: cannot start the listener on %s%s", what,
                 s->https ? " (is the certificate/key pair valid PEM?)" : "");
        http_stop(srv);
        return NULL;
    }
    const char *shown = s->host[0] ? s->host : "0.0.0.0";
    snprintf(where, wherelen, "%s://%s%s%s:%d", scheme, strchr(shown, ':') ? "[" : "", shown,
             strchr(shown, ':') ? "]" : "", port);
    char hostname[256] = "localhost";
    const char *adv = s->advertised_host;
    if (!adv) {
        adv = s->host;
        if (!adv[0] || strcmp(adv, "0.0.0.0") == 0 || strcmp(adv, "::") == 0) {
            gethostname(hostname, sizeof hostname - 1);
            adv = hostname;
        }
    }
    snprintf(srv->worker_id, sizeof srv->worker_id, "%s:%d", adv,
             s->advertised_port ? s->advertised_port : port);
    return srv;
}

const char *http_worker_id(const http_server_t *srv)
{
    return srv ? srv->worker_id : "127.0.0.1:8083";
}

void http_stop(http_server_t *srv)
{
    if (!srv)
        return;
    /* The pump goes first (it must not resume a connection MHD has freed); then every suspended
     * stream is resumed, as MHD requires before its stop; their next read ends them. */
    pthread_mutex_lock(&srv->streams_mu);
    srv->pump_stop = 1;
    pthread_cond_broadcast(&srv->streams_cv);
    pthread_mutex_unlock(&srv->streams_mu);
    if (srv->pump_started)
        pthread_join(srv->pump, NULL);
    for (;;) {
        struct MHD_Connection *wake = NULL;
        int busy = 0;
        pthread_mutex_lock(&srv->streams_mu);
        for (http_stream_t *st = srv->streams; st; st = st->next) {
            if (st->state == STREAM_SUSPENDED && !wake) {
                st->state = STREAM_RUNNING;
                wake = st->conn;
            }
            busy |= st->state == STREAM_SUSPENDING;
        }
        pthread_mutex_unlock(&srv->streams_mu);
        if (wake)
            MHD_resume_connection(wake);
        else if (!busy)
            break;
        else
            sched_yield();
    }
    if (srv->daemon) {
        /* MHD closes the listening socket it was given. */
        MHD_stop_daemon(srv->daemon);
    }
    pthread_mutex_destroy(&srv->streams_mu);
    pthread_cond_destroy(&srv->streams_cv);
    free(srv->cert_pem);
    if (srv->key_pem) {
        explicit_bzero(srv->key_pem, strlen(srv->key_pem));
        free(srv->key_pem);
    }
    free(srv);
}
