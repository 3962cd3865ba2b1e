/* worker_tool.c — a `sluice run` worker driven through worker.h from stdin, for
 * tests/integration/test_worker_offsets.py (the REST layer is not needed to test the functions).
 *
 * usage: worker_tool [--offsets PATH] FILE...
 * Runs the worker on FILE... (runtime_run on the main thread) and reads commands, one a line:
 *   started [SECONDS]          wait until the set-up is done
 *   state NAME STATE [SECONDS] wait until the connector and all its tasks are in STATE
 *   stop|resume|pause NAME     the lifecycle actions
 *   offsets NAME               worker_offsets
 *   alter NAME JSON            worker_offsets_alter (JSON: the rest of the line)
 *   reset NAME                 worker_offsets_reset
 *   topics-reset NAME          worker_topics_reset
 *   cluster                    worker_kafka_cluster_id
 *   quit                       SIGTERM to itself: the run ends as `sluice run` does
 * and answers each with one JSON line: {"cmd": ..., "status": N, "body": ..., "message": ...}. */
#include <cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "runtime.h"
#include "worker.h"

static runtime_t rt;

static void answer(const char *cmd, int status, const char *body, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cmd", cmd);
    cJSON_AddNumberToObject(o, "status", status);
    cJSON *b = body ? cJSON_Parse(body) : NULL;
    if (b)
        cJSON_AddItemToObject(o, "body", b);
    else if (body)
        cJSON_AddStringToObject(o, "body", body);
    if (message && *message)
        cJSON_AddStringToObject(o, "message", message);
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    cJSON_Delete(o);
}

static void nap(void)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
}

/* 200 when `name` and all its tasks are in `state` within `secs`, else 408. */
static int wait_state(const char *name, const char *state, double secs, char *err, size_t errlen)
{
    for (double t = 0; t < secs; t += 0.05) {
        worker_connector_t c;
        int rc = worker_connector(&rt, name, &c, err, errlen);
        if (rc != 200)
            return rc;
        int ok = strcmp(worker_state_name(c.state), state) == 0;
        for (size_t i = 0; i < c.ntasks; i++)
            ok &= strcmp(worker_state_name(c.tasks[i].state), state) == 0;
        snprintf(err, errlen, "%s", worker_state_name(c.state));
        worker_connector_free(&c);
        if (ok)
            return 200;
        nap();
    }
    return 408;
}

static void *commands(void *arg)
{
    (void)arg;
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char err[2048] = "", *rest = NULL;
        char *cmd = strtok_r(line, " ", &rest);
        char *name = cmd ? strtok_r(NULL, " ", &rest) : NULL;
        int rc = 400;
        if (!cmd)
            continue;
        if (strcmp(cmd, "quit") == 0) {
            answer(cmd, 200, NULL, NULL);
            kill(getpid(), SIGTERM);
            break;
        } else if (strcmp(cmd, "started") == 0) {
            double secs = name ? atof(name) : 60;
            rc = 408;
            for (double t = 0; t < secs && rc != 200; t += 0.05) {
                if (worker_started(&rt))
                    rc = 200;
                else
                    nap();
            }
        } else if (strcmp(cmd, "state") == 0) {
            char *state = strtok_r(NULL, " ", &rest);
            char *secs = strtok_r(NULL, " ", &rest);
            rc = state ? wait_state(name, state, secs ? atof(secs) : 60, err, sizeof err) : 400;
        } else if (strcmp(cmd, "stop") == 0) {
            rc = worker_stop(&rt, name, err, sizeof err);
        } else if (strcmp(cmd, "resume") == 0) {
            rc = worker_resume(&rt, name, err, sizeof err);
        } else if (strcmp(cmd, "pause") == 0) {
            rc = worker_pause(&rt, name, err, sizeof err);
        } else if (strcmp(cmd, "offsets") == 0) {
            buf_t b;
            buf_init(&b);
            rc = worker_offsets(&rt, name, &b, err, sizeof err);
            answer(cmd, rc, rc == 200 ? b.data : NULL, err);
            buf_free(&b);
            continue;
        } else if (strcmp(cmd, "alter") == 0) {
            const char *json = rest ? rest : "";
            rc = worker_offsets_alter(&rt, name, json, strlen(json), err, sizeof err);
        } else if (strcmp(cmd, "reset") == 0) {
            rc = worker_offsets_reset(&rt, name, err, sizeof err);
        } else if (strcmp(cmd, "topics-reset") == 0) {
            rc = worker_topics_reset(&rt, name, err, sizeof err);
        } else if (strcmp(cmd, "cluster") == 0) {
            const char *id = worker_kafka_cluster_id(&rt);
            answer(cmd, id ? 200 : 404, NULL, id);
            continue;
        } else {
            snprintf(err, sizeof err, "unknown command '%s'", cmd);
        }
        answer(cmd, rc, NULL, err);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *offsets = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--offsets") == 0) {
        offsets = argv[i + 1];
        i += 2;
    }
    if (i == argc) {
        fprintf(stderr, "usage: worker_tool [--offsets PATH] FILE...\n");
        return 2;
    }
    config_errors_t errs;
    config_errors_init(&errs);
    if (runtime_prepare_run(&rt, (const char *const *)argv + i, (size_t)(argc - i), offsets,
                            &errs) != 0) {
        config_errors_print(&errs, stderr);
        config_errors_free(&errs);
        runtime_free(&rt);
        return 2;
    }
    config_errors_free(&errs);
    rt.quiet = 1;
    /* The command thread takes no signal: the run's signal thread does (runtime_run). */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    pthread_t th;
    if (pthread_create(&th, NULL, commands, NULL) != 0)
        return 2;
    pthread_detach(th);
    int rc = runtime_run(&rt);
    runtime_free(&rt);
    return rc;
}
