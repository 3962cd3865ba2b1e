/*
 * conn.c — the connection keys of the mysql plugins and opening a connection (see conn.h).
 */
#include "conn.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mysql_library_init is not thread-safe and mysql_init calls it lazily: pipelines start their
 * plugin instances on several threads, so it runs once, here. */
static pthread_once_t conn_lib_once = PTHREAD_ONCE_INIT;
static int conn_lib_done;
static void conn_lib_init(void)
{
    conn_lib_done = mysql_library_init(0, NULL, NULL) == 0;
}

/* ... and its global state is freed when the plugin is unloaded, at the end of the process
 * (otherwise every run ends with a leak report). */
__attribute__((destructor)) static void conn_lib_end(void)
{
    if (conn_lib_done)
        mysql_library_end();
}

static int set_str(char *dst, size_t size, const char *value, const char *key, char *errstr,
                   size_t errstr_size)
{
    if (strlen(value) >= size) {
        snprintf(errstr, errstr_size, "'%s' is too long (at most %zu bytes)", key, size - 1);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* One setting that may be spelled two ways (and come from connection.url too): `*from` names
 * where the value came from, for the conflict message. */
static int take_str(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                    char *dst, size_t size, const char **from, char *errstr, size_t errstr_size)
{
    if (!h->config_has(cfg, key))
        return 0;
    const char *v = h->config_string(cfg, key);
    if (*from && strcmp(dst, v) != 0) {
        if (strstr(key, "password")) /* a secret: name the keys, never the values */
            snprintf(errstr, errstr_size,
                     "'%s' and '%s' give different passwords: give one of them", key, *from);
        else
            snprintf(errstr, errstr_size, "'%s' says '%s' but '%s' says '%s': give one of them",
                     key, v, *from, dst);
        return -1;
    }
    if (set_str(dst, size, v, key, errstr, errstr_size) < 0)
        return -1;
    *from = key;
    return 0;
}

static int take_port(const struct sluice_host *h, const sluice_config_t *cfg, const char *key,
                     unsigned *port, const char **from, char *errstr, size_t errstr_size)
{
    if (!h->config_has(cfg, key))
        return 0;
    unsigned v = (unsigned)h->config_int(cfg, key);
    if (*from && *port != v) {
        snprintf(errstr, errstr_size, "'%s' says %u but '%s' says %u: give one of them", key, v,
                 *from, *port);
        return -1;
    }
    *port = v;
    *from = key;
    return 0;
}

/* jdbc:mysql://host[:port][/database][?params] (jdbc:mariadb://, mysql://, mariadb:// too).
 * User and password in the URL's authority (user:pw@host) are accepted as well. The JDBC driver's
 * query parameters have no meaning here and are ignored, with the rest of the URL checked. */
static int parse_url(const struct sluice_host *h, const char *url, struct mysql_conn_cfg *out,
                     char *errstr, size_t errstr_size)
{
    static const char *const schemes[] = {"jdbc:mysql://", "jdbc:mariadb://", "mysql://",
                                          "mariadb://", NULL};
    const char *p = NULL;
    for (size_t i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(url, schemes[i], n) == 0) {
            p = url + n;
            break;
        }
    }
    /* messages show the url without its credentials */
    char shown[512];
    h->redact_url(shown, sizeof shown, url);
    if (!p) {
        snprintf(errstr, errstr_size,
                 "'connection.url': '%s' is not jdbc:mysql://host:port/database", shown);
        return -1;
    }
    size_t auth_len = strcspn(p, "/?");
    const char *at = memchr(p, '@', auth_len);
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = (size_t)((colon ? colon : at) - p);
        if (ulen >= sizeof(out->user))
            goto too_long;
        memcpy(out->user, p, ulen);
        out->user[ulen] = '\0';
        if (colon) {
            size_t plen = (size_t)(at - colon - 1);
            if (plen >= sizeof(out->password))
                goto too_long;
            memcpy(out->password, colon + 1, plen);
            out->password[plen] = '\0';
        }
        auth_len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *hostend = p + auth_len;
    const char *colon = NULL;
    if (*p == '[') { /* [ipv6]:port */
        const char *rb = memchr(p, ']', auth_len);
        if (!rb)
            goto bad;
        if ((size_t)(rb - p - 1) >= sizeof(out->host))
            goto too_long;
        memcpy(out->host, p + 1, (size_t)(rb - p - 1));
        out->host[rb - p - 1] = '\0';
        if (rb + 1 < hostend) {
            if (rb[1] != ':')
                goto bad;
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', auth_len);
        size_t hlen = (size_t)((colon ? colon : hostend) - p);
        if (hlen >= sizeof(out->host))
            goto too_long;
        memcpy(out->host, p, hlen);
        out->host[hlen] = '\0';
    }
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != hostend || port < 1 || port > 65535)
            goto bad;
        out->port = (unsigned)port;
    }
    if (*hostend == '/') {
        size_t dlen = strcspn(hostend + 1, "?");
        if (dlen >= sizeof(out->database))
            goto too_long;
        memcpy(out->database, hostend + 1, dlen);
        out->database[dlen] = '\0';
    }
    return 0;
bad:
    snprintf(errstr, errstr_size,
             "'connection.url': '%s' is not jdbc:mysql://host:port/database (bad host or port)",
             shown);
    return -1;
too_long:
    snprintf(errstr, errstr_size, "'connection.url': a part of '%s' is too long", shown);
    return -1;
}

int mysql_conn_cfg_parse(const struct sluice_host *h, const sluice_config_t *cfg,
                         struct mysql_conn_cfg *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    const char *host_from = NULL, *port_from = NULL, *user_from = NULL, *pw_from = NULL,
               *db_from = NULL;
    if (h->config_has(cfg, "connection.url")) {
        if (parse_url(h, h->config_string(cfg, "connection.url"), out, errstr, errstr_size) < 0)
            return -1;
        if (out->host[0])
            host_from = "connection.url";
        if (out->port)
            port_from = "connection.url";
        if (out->user[0])
            user_from = "connection.url";
        if (out->password[0])
            pw_from = "connection.url";
        if (out->database[0])
            db_from = "connection.url";
    }
    if (take_str(h, cfg, "connection.host", out->host, sizeof(out->host), &host_from, errstr,
                 errstr_size) < 0 ||
        take_str(h, cfg, "database.hostname", out->host, sizeof(out->host), &host_from, errstr,
                 errstr_size) < 0 ||
        take_port(h, cfg, "connection.port", &out->port, &port_from, errstr, errstr_size) < 0 ||
        take_port(h, cfg, "database.port", &out->port, &port_from, errstr, errstr_size) < 0 ||
        take_str(h, cfg, "connection.user", out->user, sizeof(out->user), &user_from, errstr,
                 errstr_size) < 0 ||
        take_str(h, cfg, "database.user", out->user, sizeof(out->user), &user_from, errstr,
                 errstr_size) < 0 ||
        take_str(h, cfg, "connection.password", out->password, sizeof(out->password), &pw_from,
                 errstr, errstr_size) < 0 ||
        take_str(h, cfg, "database.password", out->password, sizeof(out->password), &pw_from,
                 errstr, errstr_size) < 0 ||
        take_str(h, cfg, "db.name", out->database, sizeof(out->database), &db_from, errstr,
                 errstr_size) < 0)
        return -1;
    if (!out->host[0])
        memcpy(out->host, "127.0.0.1", sizeof("127.0.0.1"));
    if (!out->port)
        out->port = 3306;
    if (!out->user[0]) {
        snprintf(errstr, errstr_size,
                 "no user: give 'connection.user' (or Debezium's 'database.user')");
        return -1;
    }
    int64_t t = h->config_duration_ms(cfg, "connection.timeout.ms");
    out->timeout_s = t <= 1000 ? 1u : (unsigned)((t + 999) / 1000);
    out->backoff_ms = h->config_duration_ms(cfg, "connection.backoff.ms");
    return 0;
}

const char *mysql_conn_describe(const struct mysql_conn_cfg *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s@%s:%u", c->user, c->host, c->port);
    return buf;
}

int mysql_conn_error_is_transient(unsigned err)
{
    switch (err) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_UNKNOWN_HOST:
    case ER_CON_COUNT_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_QUERY_INTERRUPTED:
    case ER_CONNECTION_KILLED:
        return 1;
    default:
        return 0;
    }
}

static const char *advice(unsigned err)
{
    switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
        return " (wrong user or password, or the user may not log in from this host)";
    case ER_BAD_DB_ERROR:
        return " (create the database, or fix 'db.name' / the path of 'connection.url')";
    case ER_DBACCESS_DENIED_ERROR:
        return " (GRANT the user privileges on this database)";
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
        return " (is the server running and listening there?)";
    default:
        return "";
    }
}

MYSQL *mysql_conn_open(const struct mysql_conn_cfg *c, int *transient, char *errstr,
                       size_t errstr_size)
{
    pthread_once(&conn_lib_once, conn_lib_init);
    *transient = 0;
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        snprintf(errstr, errstr_size, "mysql_init: out of memory");
        return NULL;
    }
    unsigned t = c->timeout_s;
    my_bool off = 0;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &t);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off); /* reconnecting is ours to do, visibly */
    mysql_optionsv(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (!mysql_real_connect(m, c->host, c->user, c->password, c->database[0] ? c->database : NULL,
                            c->port, NULL, CLIENT_MULTI_RESULTS | CLIENT_FOUND_ROWS)) {
        unsigned err = mysql_errno(m);
        char who[512];
        snprintf(errstr, errstr_size, "cannot connect to %s%s%s: %s%s",
                 mysql_conn_describe(c, who, sizeof(who)), c->database[0] ? " database " : "",
                 c->database, mysql_error(m), advice(err));
        *transient = mysql_conn_error_is_transient(err);
        mysql_close(m);
        return NULL;
    }
    return m;
}
