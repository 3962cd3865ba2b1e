/*
 * conn.h — what the mysql sink and the mysql-cdc source share: the connection keys, parsing them,
 * and opening a MariaDB Connector/C connection with errors that say what to fix.
 *
 * Both plugins accept the connection the way their users know it: Debezium's `database.hostname`,
 * `database.port`, `database.user`, `database.password`; Confluent's JDBC `connection.url`
 * (jdbc:mysql://host:port/db, jdbc:mariadb://… or mysql://…), `connection.user`,
 * `connection.password`; Confluent Cloud's `connection.host`, `connection.port`, `db.name`. Two
 * spellings of one setting with different values is an error.
 */
#ifndef SLUICE_MYSQL_CONN_H
#define SLUICE_MYSQL_CONN_H

#include <mysql.h>
#include <stddef.h>

#include <sluice/plugin.h>

/* The connection keys, to be placed in a plugin's config table (an initializer list). */
#define MYSQL_CONN_CONFIG_FIELDS                                                                   \
    {.name = "connection.url",                                                                     \
     .type = SLUICE_CFG_STRING,                                                                    \
     .description = "JDBC-style address: `jdbc:mysql://host:port/database` (also "                 \
                    "`jdbc:mariadb://` and `mysql://`). Alternative to the host/port keys.",       \
     .example = "jdbc:mysql://127.0.0.1:3306/sensores"},                                           \
        {.name = "connection.host",                                                                \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "The server's host (Confluent Cloud's name; Debezium's is "                \
                        "`database.hostname`). Default: 127.0.0.1.",                               \
         .example = "db.example.com"},                                                             \
        {.name = "database.hostname",                                                              \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "The server's host (Debezium's name for `connection.host`).",              \
         .example = "db.example.com"},                                                             \
        {.name = "connection.port",                                                                \
         .type = SLUICE_CFG_INT,                                                                   \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 1,                                                                                 \
         .max = 65535,                                                                             \
         .description = "The server's port. Default: 3306.",                                       \
         .example = "3306"},                                                                       \
        {.name = "database.port",                                                                  \
         .type = SLUICE_CFG_INT,                                                                   \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .min = 1,                                                                                 \
         .max = 65535,                                                                             \
         .description = "The server's port (Debezium's name for `connection.port`).",              \
         .example = "3306"},                                                                       \
        {.name = "connection.user",                                                                \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "The user to log in as (Debezium: `database.user`).",                      \
         .example = "sluice"},                                                                     \
        {.name = "database.user",                                                                  \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "The user to log in as (Debezium's name for `connection.user`).",          \
         .example = "debezium"},                                                                   \
        {.name = "connection.password",                                                            \
         .type = SLUICE_CFG_STRING,                                                                \
         .flags = SLUICE_CFG_SECRET,                                                               \
         .description = "The user's password (Debezium: `database.password`).",                    \
         .example = "${MYSQL_PASSWORD}"},                                                          \
        {.name = "database.password",                                                              \
         .type = SLUICE_CFG_STRING,                                                                \
         .flags = SLUICE_CFG_SECRET,                                                               \
         .description = "The user's password (Debezium's name for `connection.password`).",        \
         .example = "${MYSQL_PASSWORD}"},                                                          \
        {.name = "db.name",                                                                        \
         .type = SLUICE_CFG_STRING,                                                                \
         .description = "The database to use (Confluent Cloud's name; also the path of "           \
                        "`connection.url`).",                                                      \
         .example = "sensores"},                                                                   \
        {.name = "connection.timeout.ms",                                                          \
         .type = SLUICE_CFG_DURATION,                                                              \
         .default_value = "10s",                                                                   \
         .description = "Connect, read and write timeout of one connection attempt.",              \
         .example = "30s"},                                                                        \
    {                                                                                              \
        .name = "connection.backoff.ms", .type = SLUICE_CFG_DURATION, .default_value = "1s",       \
        .description = "First wait before reconnecting after the server went away; doubles up "    \
                       "to 30 s.",                                                                 \
        .example = "2s"                                                                            \
    }

struct mysql_conn_cfg {
    char host[256];
    unsigned port;
    char user[128];
    char password[256];
    char database[128]; /* "" when none was given */
    unsigned timeout_s; /* connect/read/write timeout, whole seconds (at least 1) */
    int64_t backoff_ms;
};

/* Reads the keys above. Returns 0, or -1 with a message naming the key. */
int mysql_conn_cfg_parse(const struct sluice_host *host, const sluice_config_t *cfg,
                         struct mysql_conn_cfg *out, char *errstr, size_t errstr_size);

/* Connects (utf8mb4, autocommit on, session time zone UTC). Returns the handle, or NULL with a
 * message that names user@host:port, the server's error and what to do about it; `*transient` is
 * set to 1 when retrying later may help (server down, gone, too many connections) and to 0 when it
 * cannot (wrong password, unknown database, missing privilege). */
MYSQL *mysql_conn_open(const struct mysql_conn_cfg *c, int *transient, char *errstr,
                       size_t errstr_size);

/* 1 if a client/server error number means the connection is gone or the server is unavailable. */
int mysql_conn_error_is_transient(unsigned err);

/* "user@host:port" for messages. */
const char *mysql_conn_describe(const struct mysql_conn_cfg *c, char *buf, size_t size);

#endif
