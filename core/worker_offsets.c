/* worker_offsets.c — KIP-875's offsets of a connector (GET, PATCH, DELETE), its topics' reset, and
 * the Kafka cluster id of GET / (worker.h).
 *
 * A source connector has one partition, {"pipeline": "<id>"}: its pipeline's entry in the offsets
 * store. Its offset is the plugin's position: the JSON object it is (the file source's
 * {"file", "inode", "position"}, mysql-cdc's), else {"position": "<text>"}, else (bytes, as
 * datagen's) {"position_base64": "..."}; PATCH takes the same shapes back (an object with only
 * "position" or only "position_base64" is that text or those bytes), null deletes it. Numbers of a
 * JSON position go through a double: exact up to 2^53.
 * A sink connector's offsets are its consumer group's on the broker (kafka.h: kafka_sink_group);
 * in-process a sink has none. Broker requests run outside the runtime's lock. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "json.h"
#include "kafka.h"
#include "runtime.h"
#include "worker.h"

#define ADMIN_TIMEOUT_MS 10000

/* What the functions need of a connector, copied under the lock (the pipeline may go after). */
typedef struct conn_info {
    int is_sink;
    int stopped; /* target STOPPED and no task alive */
    char id[256];
    char group[512]; /* a sink's consumer group */
} conn_info_t;

static int task_live(const pipeline_t *p, int is_sink, size_t sink)
{
    if (!is_sink)
        return p->ctl.live;
    for (size_t s = 0; s < p->nsinks; s++)
        if (p->sinks[s].cfg_index == sink && p->sinks[s].ctl.live)
            return 1;
    return 0;
}

/* Under rt->lock: the connector `name` (worker.h's naming), 200, or 404. */
static int conn_lookup(runtime_t *rt, const char *name, conn_info_t *ci, char *err, size_t errlen)
{
    char n[600];
    memset(ci, 0, sizeof *ci);
    for (size_t i = 0; name && i < rt->npipelines; i++) {
        const pipeline_t *p = rt->pipelines[i];
        if (!p || !p->cfg)
            continue;
        int found = 0;
        size_t sink = 0;
        if (p->has_source && strcmp(p->id, name) == 0)
            found = 1;
        for (size_t s = 0; !found && s < p->cfg->nsinks; s++) {
            if (!p->has_source && p->cfg->nsinks == 1)
                snprintf(n, sizeof n, "%s", p->id);
            else
                snprintf(n, sizeof n, "%s.%s", p->id, p->cfg->sinks[s].id);
            if (strcmp(n, name) == 0) {
                found = 2;
                sink = s;
            }
        }
        if (!found)
            continue;
        ci->is_sink = found == 2;
        snprintf(ci->id, sizeof ci->id, "%s", p->id);
        int target = ci->is_sink ? p->sink_target[sink] : p->src_target;
        ci->stopped = target == WORKER_STOPPED && !task_live(p, ci->is_sink, sink);
        if (ci->is_sink && kafka_sink_group(p->cfg->sinks[sink].core, p->id, p->cfg->sinks[sink].id,
                                            ci->group, sizeof ci->group) != 0) {
            snprintf(err, errlen, "connector %s: its consumer group name is too long", name);
            return 500;
        }
        return 200;
    }
    snprintf(err, errlen, "Connector %s not found", name ? name : "");
    return 404;
}

static int conn_get(runtime_t *rt, const char *name, conn_info_t *ci, char *err, size_t errlen)
{
    pthread_mutex_lock(&rt->lock);
    int rc = conn_lookup(rt, name, ci, err, errlen);
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

static int not_stopped(const char *name, char *err, size_t errlen)
{
    /* Connect's words (AbstractHerder): a client may match on them. */
    snprintf(err, errlen,
             "Connectors must be in the STOPPED state before their offsets can be modified. This "
             "can be done for the specified connector by issuing a 'PUT' request to the "
             "'/connectors/%s/stop' endpoint",
             name);
    return 400;
}

static int is_kafka(runtime_t *rt)
{
    return kafka_transport_props(rt->transport) != NULL;
}

/* -- source positions as JSON ------------------------------------------------------------------ */

static int is_text(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] == 0)
            return 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += n;
    }
    return 1;
}

/* The position as the offset object of GET. */
static int position_json(buf_t *out, const void *pos, size_t len)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(pos, len, &end, 0);
    int object = cJSON_IsObject(v) && is_text(pos, len); /* cJSON lets bad UTF-8 through */
    cJSON_Delete(v);
    if (object) {
        while (end && end < (const char *)pos + len && strchr(" \t\r\n", *end))
            end++;
        if (end == (const char *)pos + len) /* the plugin's JSON, byte for byte */
            return buf_append(out, pos, len);
    }
    int rc;
    if (is_text(pos, len)) {
        rc = buf_puts(out, "{\"position\":");
        rc |= json_write_string(out, pos, len);
    } else {
        buf_t b64;
        buf_init(&b64);
        rc = base64_encode(&b64, pos, len);
        rc |= buf_puts(out, "{\"position_base64\":");
        rc |= json_write_string(out, b64.data ? b64.data : "", b64.len);
        buf_free(&b64);
    }
    return rc | buf_puts(out, "}");
}

static int source_partition(buf_t *out, const char *id)
{
    int rc = buf_puts(out, "{\"pipeline\":");
    rc |= json_write_string(out, id, strlen(id));
    return rc | buf_puts(out, "}");
}

static int sink_entry(buf_t *out, const kafka_group_offset_t *o)
{
    int rc = buf_puts(out, "{\"partition\":{\"kafka_topic\":");
    rc |= json_write_string(out, o->topic, strlen(o->topic));
    return rc | buf_printf(out, ",\"kafka_partition\":%d},\"offset\":{\"kafka_offset\":%lld}}",
                           (int)o->partition, (long long)o->offset);
}

int worker_offsets(struct runtime *rt, const char *name, buf_t *json, char *err, size_t errlen)
{
    conn_info_t ci;
    int rc = conn_get(rt, name, &ci, err, errlen);
    if (rc != 200)
        return rc;
    int w = buf_puts(json, "{\"offsets\":[");
    if (!ci.is_sink) {
        void *pos = NULL;
        size_t len = 0;
        int64_t next;
        int r = rt->offsets ? offsets_read(rt->offsets, ci.id, &pos, &len, &next) : 0;
        if (r < 0)
            w = -1;
        if (r > 0 && len) {
            w |= buf_puts(json, "{\"partition\":");
            w |= source_partition(json, ci.id);
            w |= buf_puts(json, ",\"offset\":");
            w |= position_json(json, pos, len);
            w |= buf_puts(json, "}");
        }
        free(pos);
    } else if (is_kafka(rt)) {
        kafka_group_offset_t *v = NULL;
        size_t n = 0;
        if (kafka_group_offsets(rt->transport, ci.group, &v, &n, ADMIN_TIMEOUT_MS, err, errlen) !=
            0)
            return 500;
        for (size_t i = 0; i < n; i++) {
            w |= buf_puts(json, i ? "," : "");
            w |= sink_entry(json, &v[i]);
        }
        kafka_group_offsets_free(v, n);
    }
    /* In-process a sink reads a topic that lives and ends with the run: no committed offsets. */
    w |= buf_puts(json, "]}");
    if (w) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    return 200;
}

/* -- PATCH and DELETE: 200 with Connect's message in `err` (the REST layer's "message") ----------
 */

/* The broker refused a change of a sink's group: say what usually causes it (as Connect does). */
static int group_failed(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(err);
    if (n < errlen)
        snprintf(err + n, errlen - n,
                 " (connector %s: if it was resumed meanwhile, or one of its tasks has not left "
                 "the group yet, stop it and try again)",
                 name);
    return 500;
}

/* -- PATCH --------------------------------------------------------------------------------------
 */

/* A whole number in [min, 2^63) from a JSON number, or -1. */
static int json_whole(const cJSON *v, double min, int64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble >= 9223372036854775807.0)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* The request's list: 0, or 400 with the message. */
static int body_offsets(cJSON *root, const cJSON **list, char *err, size_t errlen)
{
    const cJSON *l =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "offsets") : NULL;
    if (!root) {
        snprintf(err, errlen, "the request body is not JSON: expected {\"offsets\": [...]}");
        return 400;
    }
    if (l && !cJSON_IsNull(l) && !cJSON_IsArray(l)) {
        snprintf(err, errlen,
                 "\"offsets\" must be a list of {\"partition\": {...}, \"offset\": ...}");
        return 400;
    }
    if (!l || !cJSON_IsArray(l) || cJSON_GetArraySize(l) == 0) {
        snprintf(err, errlen,
                 "Partitions / offsets need to be provided for an alter offsets request");
        return 400;
    }
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, l)
    {
        const cJSON *part = cJSON_GetObjectItemCaseSensitive(e, "partition");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "offset");
        if (!cJSON_IsObject(e) || !cJSON_IsObject(part) ||
            (off && !cJSON_IsObject(off) && !cJSON_IsNull(off))) {
            snprintf(err, errlen,
                     "offsets[%d]: expected {\"partition\": {...}, \"offset\": {...} or null}", i);
            return 400;
        }
        i++;
    }
    *list = l;
    return 0;
}

/* The bytes a source's offset object stands for (position_json's inverse), in `out`. */
static int offset_bytes(const cJSON *off, buf_t *out, int i, char *err, size_t errlen)
{
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(off, "position");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(off, "position_base64");
    int single = cJSON_GetArraySize(off) == 1;
    if (single && cJSON_IsString(pos))
        return buf_puts(out, pos->valuestring) ? 500 : 0;
    if (single && cJSON_IsString(b64)) {
        arena_t a;
        arena_init(&a, 256);
        void *dec = NULL;
        size_t n = 0;
        int rc = base64_decode(&a, b64->valuestring, strlen(b64->valuestring), &dec, &n);
        if (rc == 0 && buf_append(out, dec, n) != 0)
            rc = 500;
        else if (rc != 0) {
            snprintf(err, errlen, "offsets[%d]: \"position_base64\" is not base64", i);
            rc = 400;
        }
        arena_free(&a);
        return rc;
    }
    if (cJSON_GetArraySize(off) == 0) {
        snprintf(err, errlen, "offsets[%d]: an empty offset; give null to remove the position", i);
        return 400;
    }
    char *s = cJSON_PrintUnformatted(off);
    int rc = !s || buf_puts(out, s) ? 500 : 0;
    free(s);
    return rc;
}

static int alter_source(runtime_t *rt, const char *name, const cJSON *list, char *err,
                        size_t errlen)
{
    if (cJSON_GetArraySize(list) != 1) {
        snprintf(err, errlen,
                 "a sluice source connector has one partition, {\"pipeline\": \"<id>\"}: give one "
                 "entry");
        return 400;
    }
    const cJSON *e = cJSON_GetArrayItem(list, 0);
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(e, "partition");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(part, "pipeline");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "offset");
    buf_t pos;
    buf_init(&pos);
    int rc = off && !cJSON_IsNull(off) ? offset_bytes(off, &pos, 0, err, errlen) : 0;
    if (rc == 500)
        snprintf(err, errlen, "out of memory");
    if (rc != 0) {
        buf_free(&pos);
        return rc;
    }
    conn_info_t ci;
    pthread_mutex_lock(&rt->lock);
    rc = conn_lookup(rt, name, &ci, err, errlen);
    if (rc == 200 && !rt->offsets) {
        snprintf(err, errlen, "the worker has no offsets store yet");
        rc = 409;
    }
    if (rc == 200 && !ci.stopped)
        rc = not_stopped(name, err, errlen);
    if (rc == 200 && (!cJSON_IsString(pid) || cJSON_GetArraySize(part) != 1 ||
                      strcmp(pid->valuestring, ci.id) != 0)) {
        snprintf(err, errlen,
                 "offsets[0]: connector %s has one partition, {\"pipeline\": \"%s\"}: the "
                 "partition must be that",
                 name, ci.id);
        rc = 400;
    }
    if (rc == 200) {
        /* Under the lock: the connector cannot start again before its new position is in. */
        void *old = NULL;
        size_t oldlen = 0;
        int64_t next = -1;
        int r = offsets_read(rt->offsets, ci.id, &old, &oldlen, &next);
        free(old);
        if (r < 0 ||
            ((r > 0 || pos.len) && offsets_put(rt->offsets, ci.id, pos.data, pos.len, next) != 0)) {
            snprintf(err, errlen, "out of memory");
            rc = 500;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    buf_free(&pos);
    if (rc == 200 && offsets_flush(rt->offsets, err, errlen) != 0)
        rc = 500;
    return rc;
}

static int alter_sink(runtime_t *rt, const char *name, const cJSON *list, char *err, size_t errlen)
{
    size_t n = (size_t)cJSON_GetArraySize(list);
    kafka_group_offset_t *v = calloc(n, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    const cJSON *e;
    size_t i = 0;
    int rc = 0;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *part = cJSON_GetObjectItemCaseSensitive(e, "partition");
        const cJSON *topic = cJSON_GetObjectItemCaseSensitive(part, "kafka_topic");
        const cJSON *pn = cJSON_GetObjectItemCaseSensitive(part, "kafka_partition");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "offset");
        const cJSON *ko =
            cJSON_IsObject(off) ? cJSON_GetObjectItemCaseSensitive(off, "kafka_offset") : NULL;
        int64_t p = 0, o = -1;
        if (!cJSON_IsString(topic) || !topic->valuestring[0] || json_whole(pn, 0, &p) != 0 ||
            p > INT32_MAX) {
            snprintf(err, errlen,
                     "offsets[%zu]: a sink connector's partition is {\"kafka_topic\": \"<topic>\", "
                     "\"kafka_partition\": <partition number>}",
                     i);
            rc = 400;
            break;
        }
        if (cJSON_IsObject(off) && (cJSON_GetArraySize(off) != 1 || json_whole(ko, 0, &o) != 0)) {
            snprintf(err, errlen,
                     "offsets[%zu]: a sink connector's offset is {\"kafka_offset\": <offset, 0 or "
                     "more>}, or null to remove it",
                     i);
            rc = 400;
            break;
        }
        v[i].topic = topic->valuestring; /* borrowed from the request */
        v[i].partition = (int32_t)p;
        v[i].offset = o;
        i++;
    }
    conn_info_t ci;
    if (rc == 0)
        rc = conn_get(rt, name, &ci, err, errlen);
    if (rc == 200 && !ci.stopped)
        rc = not_stopped(name, err, errlen);
    if (rc == 200 && !is_kafka(rt)) {
        snprintf(err, errlen, "connector %s: an in-process sink has no committed offsets", name);
        rc = 400;
    }
    if (rc == 200 && kafka_group_offsets_alter(rt->transport, ci.group, v, n, ADMIN_TIMEOUT_MS, err,
                                               errlen) != 0)
        rc = group_failed(name, err, errlen);
    free(v);
    return rc;
}

int worker_offsets_alter(struct runtime *rt, const char *name, const char *json, size_t len,
                         char *err, size_t errlen)
{
    conn_info_t ci;
    int rc = conn_get(rt, name, &ci, err, errlen);
    if (rc != 200)
        return rc;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *list = NULL;
    rc = body_offsets(root, &list, err, errlen);
    if (rc == 0)
        rc = ci.is_sink ? alter_sink(rt, name, list, err, errlen)
                        : alter_source(rt, name, list, err, errlen);
    cJSON_Delete(root);
    if (rc == 200)
        snprintf(err, errlen, "The offsets for this connector have been altered successfully");
    return rc;
}

/* -- DELETE -------------------------------------------------------------------------------------
 */

int worker_offsets_reset(struct runtime *rt, const char *name, char *err, size_t errlen)
{
    conn_info_t ci;
    pthread_mutex_lock(&rt->lock);
    int rc = conn_lookup(rt, name, &ci, err, errlen);
    if (rc == 200 && !ci.stopped)
        rc = not_stopped(name, err, errlen);
    if (rc == 200 && !ci.is_sink && !rt->offsets) {
        snprintf(err, errlen, "the worker has no offsets store yet");
        rc = 409;
    }
    if (rc == 200 && !ci.is_sink) {
        void *old = NULL;
        size_t oldlen = 0;
        int64_t next = -1;
        /* An empty position: the source starts from scratch; the topic's numbering goes on. */
        int r = offsets_read(rt->offsets, ci.id, &old, &oldlen, &next);
        free(old);
        if (r < 0 || (r > 0 && offsets_put(rt->offsets, ci.id, NULL, 0, next) != 0)) {
            snprintf(err, errlen, "out of memory");
            rc = 500;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    if (rc == 200 && !ci.is_sink && offsets_flush(rt->offsets, err, errlen) != 0)
        rc = 500;
    /* As Connect: resetting every offset of a sink deletes its consumer group. */
    if (rc == 200 && ci.is_sink && is_kafka(rt) &&
        kafka_group_delete(rt->transport, ci.group, ADMIN_TIMEOUT_MS, err, errlen) != 0)
        rc = group_failed(name, err, errlen);
    if (rc == 200)
        snprintf(err, errlen, "The offsets for this connector have been reset successfully");
    return rc;
}

/* -- topics and the cluster ---------------------------------------------------------------------
 */

/* Connect forgets the topics a connector was seen using (topic.tracking); a sluice connector's
 * topics are its configuration's, so there is nothing to forget: accepted, as Connect answers. */
const char *worker_kafka_cluster_id(struct runtime *rt)
{
    return kafka_transport_cluster_id(rt->transport, 5000);
}
