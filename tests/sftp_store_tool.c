/*
 * sftp_store_tool — the sftp-json plugin's SFTP store (plugins/sftp-json/store_sftp.c) driven from
 * the command line, for tests/integration/test_sftp_store.py.
 *
 *   sftp_store_tool --host H --port P --user U [--key FILE] [--dir WORKING_DIR]
 *                   [--known-hosts FILE] [--sha256 FP] [--no-host-key-check]
 *                   [--connect-timeout-ms N] [--timeout-ms N]
 *
 * Secrets from the environment: SFTP_PASSWORD, SFTP_PASSPHRASE. Reads commands on stdin, one a
 * line, and answers each with one JSON line {"rc":"OK"|"NOT_CONNECTED"|...,"msg":...,...}:
 *   append PATH TEXT      (TEXT with \n for a newline)     rename FROM TO     remove PATH
 *   size PATH  -> "size"  list DIR -> "files": {path: size}  disconnect
 * Exit status 2 when the store cannot be created (the message on stderr and as JSON).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static void tool_log(sluice_ctx_t *ctx, sluice_log_level_t level, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ",
            level == SLUICE_LOG_ERROR  ? "error"
            : level == SLUICE_LOG_WARN ? "warn"
                                       : "info");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *rc_name(sluice_err_t e)
{
    switch (e) {
    case SLUICE_OK:
        return "OK";
    case SLUICE_NOT_CONNECTED:
        return "NOT_CONNECTED";
    case SLUICE_RETRY:
        return "RETRY";
    case SLUICE_FATAL:
        return "FATAL";
    case SLUICE_ERR_CONFIG:
        return "CONFIG";
    case SLUICE_ERR_NOMEM:
        return "NOMEM";
    default:
        return "OTHER";
    }
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int n_listed;

static int on_file(void *ctx, const char *path, long long size)
{
    (void)ctx;
    printf("%s", n_listed++ ? "," : "");
    json_str(path);
    printf(":%lld", size);
    return 0;
}

/* "a\nb" -> a, newline, b (in place) */
static size_t unescape(char *t)
{
    char *o = t;
    for (char *p = t; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            *o++ = '\n';
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return (size_t)(o - t);
}

int main(int argc, char **argv)
{
    struct store_sftp_config cfg = {.host_key_check = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-host-key-check") == 0) {
            cfg.host_key_check = 0;
            continue;
        }
        if (!v) {
            fprintf(stderr, "option %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--host") == 0)
            cfg.host = v;
        else if (strcmp(a, "--port") == 0)
            cfg.port = atoi(v);
        else if (strcmp(a, "--user") == 0)
            cfg.username = v;
        else if (strcmp(a, "--key") == 0)
            cfg.private_key = v;
        else if (strcmp(a, "--dir") == 0)
            cfg.working_dir = v;
        else if (strcmp(a, "--known-hosts") == 0)
            cfg.known_hosts = v;
        else if (strcmp(a, "--sha256") == 0)
            cfg.host_key_sha256 = v;
        else if (strcmp(a, "--connect-timeout-ms") == 0)
            cfg.connect_timeout_ms = atol(v);
        else if (strcmp(a, "--timeout-ms") == 0)
            cfg.timeout_ms = atol(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    cfg.password = getenv("SFTP_PASSWORD");
    cfg.passphrase = getenv("SFTP_PASSPHRASE");

    struct sluice_host host = {.struct_size = sizeof(host), .log = tool_log};
    char err[1024] = "";
    store_t *s = store_sftp_new(&cfg, &host, NULL, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "%s\n", err);
        printf("{\"rc\":\"CONFIG\",\"msg\":");
        json_str(err);
        printf("}\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char line[65536];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *cmd = strtok(line, " ");
        char *a1 = strtok(NULL, " ");
        char *a2 = strtok(NULL, "");
        if (!cmd)
            continue;
        sluice_err_t rc = SLUICE_ERR_INVALID;
        err[0] = '\0';
        if (strcmp(cmd, "append") == 0 && a1) {
            char *t = a2 ? a2 : (char *)"";
            size_t n = unescape(t);
            rc = s->ops->append(s, a1, t, n, err, sizeof(err));
        } else if (strcmp(cmd, "rename") == 0 && a1 && a2) {
            rc = s->ops->rename(s, a1, a2, err, sizeof(err));
        } else if (strcmp(cmd, "remove") == 0 && a1) {
            rc = s->ops->remove(s, a1, err, sizeof(err));
        } else if (strcmp(cmd, "size") == 0 && a1) {
            long long size = -2;
            rc = s->ops->size(s, a1, &size, err, sizeof(err));
            printf("{\"rc\":\"%s\",\"size\":%lld,\"msg\":", rc_name(rc), size);
            json_str(err);
            printf("}\n");
            continue;
        } else if (strcmp(cmd, "list") == 0) {
            n_listed = 0;
            printf("{\"files\":{");
            rc = s->ops->list(s, a1 ? a1 : "", on_file, NULL, err, sizeof(err));
            printf("},\"rc\":\"%s\",\"msg\":", rc_name(rc));
            json_str(err);
            printf("}\n");
            continue;
        } else if (strcmp(cmd, "created") == 0 && a1) {
            if (s->ops->created)
                s->ops->created(s, a1);
            rc = SLUICE_OK;
        } else if (strcmp(cmd, "disconnect") == 0) {
            s->ops->disconnect(s);
            rc = SLUICE_OK;
        } else {
            snprintf(err, sizeof(err), "bad command");
        }
        printf("{\"rc\":\"%s\",\"msg\":", rc_name(rc));
        json_str(err);
        printf("}\n");
    }
    s->ops->free(s);
    return 0;
}
