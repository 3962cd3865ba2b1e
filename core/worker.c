/* worker.c — see worker.h. (First cut: the interface links; the lifecycle lands next.) */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

static const char *const state_names[] = {"UNASSIGNED", "RUNNING", "PAUSED",
                                          "STOPPED",    "FAILED",  "RESTARTING"};

const char *worker_state_name(worker_state_t s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "UNASSIGNED";
}

#define NOT_YET(err, errlen) (snprintf(err, errlen, "not implemented yet"), 501)

int worker_connectors(struct runtime *rt, worker_connector_t **out, size_t *n)
{
    (void)rt;
    *out = NULL;
    *n = 0;
    return 0;
}

void worker_connectors_free(worker_connector_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        worker_connector_free(&c[i]);
    free(c);
}

int worker_connector(struct runtime *rt, const char *name, worker_connector_t *out, char *err,
                     size_t errlen)
{
    (void)rt;
    (void)out;
    snprintf(err, errlen, "Connector %s not found", name);
    return 404;
}

void worker_connector_free(worker_connector_t *c)
{
    (void)c;
}

int worker_pause(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    return NOT_YET(err, errlen);
}
int worker_resume(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    return NOT_YET(err, errlen);
}
int worker_stop(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    return NOT_YET(err, errlen);
}
int worker_restart(struct runtime *rt, const char *name, int include_tasks, int only_failed,
                   char *err, size_t errlen)
{
    (void)rt, (void)name, (void)include_tasks, (void)only_failed;
    return NOT_YET(err, errlen);
}
int worker_restart_task(struct runtime *rt, const char *name, int task, char *err, size_t errlen)
{
    (void)rt, (void)name, (void)task;
    return NOT_YET(err, errlen);
}
int worker_delete(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    return NOT_YET(err, errlen);
}
int worker_put(struct runtime *rt, const char *name, const char *yaml, size_t len, int *created,
               char *err, size_t errlen)
{
    (void)rt, (void)name, (void)yaml, (void)len, (void)created;
    return NOT_YET(err, errlen);
}
int worker_reload(struct runtime *rt, buf_t *errors)
{
    (void)rt;
    buf_printf(errors, "not implemented yet\n");
    return 501;
}
int worker_offsets(struct runtime *rt, const char *name, buf_t *json, char *err, size_t errlen)
{
    (void)rt, (void)name, (void)json;
    return NOT_YET(err, errlen);
}
int worker_offsets_alter(struct runtime *rt, const char *name, const char *json, size_t len,
                         char *err, size_t errlen)
{
    (void)rt, (void)name, (void)json, (void)len;
    return NOT_YET(err, errlen);
}
int worker_offsets_reset(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    return NOT_YET(err, errlen);
}
int worker_topics_reset(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    return NOT_YET(err, errlen);
}
int worker_started(struct runtime *rt)
{
    (void)rt;
    return 1;
}
int worker_ready(struct runtime *rt)
{
    (void)rt;
    return 1;
}
const char *worker_kafka_cluster_id(struct runtime *rt)
{
    (void)rt;
    return NULL;
}
