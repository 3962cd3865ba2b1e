/* worker_offsets.c — KIP-875's offsets of a connector (GET, PATCH, DELETE), its topics' reset, and
 * the Kafka cluster id of GET / (worker.h). */
#include <stdio.h>

#include "runtime.h"
#include "worker.h"

int worker_offsets(struct runtime *rt, const char *name, buf_t *json, char *err, size_t errlen)
{
    (void)rt, (void)name, (void)json;
    snprintf(err, errlen, "not implemented yet");
    return 501;
}
int worker_offsets_alter(struct runtime *rt, const char *name, const char *json, size_t len,
                         char *err, size_t errlen)
{
    (void)rt, (void)name, (void)json, (void)len;
    snprintf(err, errlen, "not implemented yet");
    return 501;
}
int worker_offsets_reset(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    snprintf(err, errlen, "not implemented yet");
    return 501;
}
int worker_topics_reset(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    (void)rt, (void)name;
    snprintf(err, errlen, "not implemented yet");
    return 501;
}

const char *worker_kafka_cluster_id(struct runtime *rt)
{
    (void)rt;
    return NULL;
}
