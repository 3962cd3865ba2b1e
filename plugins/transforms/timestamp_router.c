/*
 * timestamp-router — Kafka Connect's TimestampRouter: renames each record's topic after its topic
 * and timestamp, e.g. orders-20240501, for sinks that want one table or index per period.
 *
 * `topic.format` is split once at init into literal text and the ${topic} / ${timestamp} tokens;
 * `timestamp.format` is compiled by sdf.c. The new topic is built in a buffer of the instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "sdf.h"
#include "xf.h"

enum tr_kind { TR_LITERAL = 0, TR_TOPIC, TR_TIMESTAMP };

struct tr_piece {
    enum tr_kind kind;
    const char *text; /* TR_LITERAL: points into the copy of topic.format */
    size_t len;
};

struct timestamp_router {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    char *format_text;
    struct tr_piece *pieces;
    size_t npieces;
    sdf_t ts_format;
    char *topic; /* the new topic, reused */
    size_t topic_cap;
};

static const struct sluice_config_field timestamp_router_config[] = {
    {.name = "topic.format",
     .type = SLUICE_CFG_STRING,
     .default_value = "${topic}-${timestamp}", /* defaults are not interpolated */
     .description = "The new topic: `${topic}` is the record's topic, `${timestamp}` its timestamp "
                    "in `timestamp.format`. In sluice's YAML write them `$${topic}` and "
                    "`$${timestamp}` (a bare `${...}` is an environment variable).",
     .example = "$${topic}-$${timestamp}"},
    {.name = "timestamp.format",
     .type = SLUICE_CFG_STRING,
     .default_value = "yyyyMMdd",
     .description = "A Java SimpleDateFormat pattern for the timestamp, in UTC. Letters: y M d D "
                    "E a H k h K m s S Z X z; quote literal text ('T').",
     .example = "yyyy-MM"},
    {.name = NULL},
};

static void timestamp_router_free(struct timestamp_router *x)
{
    if (x == NULL) {
        return;
    }
    free(x->format_text);
    free(x->pieces);
    sdf_free(&x->ts_format);
    free(x->topic);
    free(x);
}

static sluice_err_t timestamp_router_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                          const sluice_config_t *config, void **state, char *errstr,
                                          size_t errstr_size)
{
    static const char topic_token[] = "${topic}", ts_token[] = "${timestamp}";
    sluice_err_t err = SLUICE_OK;
    struct timestamp_router *x = calloc(1, sizeof *x);
    const char *topic_format = host->config_string(config, "topic.format");
    const char *ts_format = host->config_string(config, "timestamp.format");
    size_t len;

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    if (topic_format == NULL || topic_format[0] == '\0') {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'topic.format' must not be empty");
        goto out;
    }
    if (sdf_compile(&x->ts_format, ts_format != NULL ? ts_format : "", errstr, errstr_size) != 0) {
        char why[256];

        snprintf(why, sizeof why, "%s", errstr);
        snprintf(errstr, errstr_size, "'timestamp.format': %s", why);
        err = SLUICE_ERR_CONFIG;
        goto out;
    }
    len = strlen(topic_format);
    x->format_text = strdup(topic_format);
    x->pieces = calloc(len + 1, sizeof *x->pieces);
    if (x->format_text == NULL || x->pieces == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    for (size_t i = 0; i < len;) {
        const char *p = x->format_text + i;

        if (strncmp(p, topic_token, sizeof topic_token - 1) == 0) {
            x->pieces[x->npieces++] = (struct tr_piece){TR_TOPIC, NULL, 0};
            i += sizeof topic_token - 1;
        } else if (strncmp(p, ts_token, sizeof ts_token - 1) == 0) {
            x->pieces[x->npieces++] = (struct tr_piece){TR_TIMESTAMP, NULL, 0};
            i += sizeof ts_token - 1;
        } else {
            if (x->npieces > 0 && x->pieces[x->npieces - 1].kind == TR_LITERAL) {
                x->pieces[x->npieces - 1].len++;
            } else {
                x->pieces[x->npieces++] = (struct tr_piece){TR_LITERAL, p, 1};
            }
            i++;
        }
    }
    *state = x;
    x = NULL;
out:
    timestamp_router_free(x);
    return err;
}

static sluice_err_t timestamp_router_process(void *state, sluice_record_t *record,
                                             sluice_batch_t *out, char *errstr, size_t errstr_size)
{
    struct timestamp_router *x = state;
    const struct sluice_host *h = x->host;
    const char *topic = h->record_topic(record);
    int64_t ts = h->record_timestamp(record);
    char stamp[256];
    size_t topic_len = topic != NULL ? strlen(topic) : 0;
    size_t stamp_len, len = 0;
    sluice_err_t err = SLUICE_OK;

    if (ts < 0) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "the record has no timestamp (%lld) to route by",
                 (long long)ts);
        goto out;
    }
    stamp_len = sdf_format(&x->ts_format, ts, stamp, sizeof stamp);
    if (stamp_len >= sizeof stamp) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "'timestamp.format' gives %zu characters, more than %zu",
                 stamp_len, sizeof stamp - 1);
        goto out;
    }
    for (size_t pass = 0; pass < 2; pass++) {
        len = 0;
        for (size_t i = 0; i < x->npieces; i++) {
            const struct tr_piece *p = &x->pieces[i];
            const char *src = p->kind == TR_TOPIC       ? topic
                              : p->kind == TR_TIMESTAMP ? stamp
                                                        : p->text;
            size_t n = p->kind == TR_TOPIC       ? topic_len
                       : p->kind == TR_TIMESTAMP ? stamp_len
                                                 : p->len;

            if (pass == 1 && n > 0) {
                memcpy(x->topic + len, src, n);
            }
            len += n;
        }
        if (pass == 0 && len + 1 > x->topic_cap) {
            char *t = realloc(x->topic, len + 1);

            if (t == NULL) {
                err = xf_oom(errstr, errstr_size);
                goto out;
            }
            x->topic = t;
            x->topic_cap = len + 1;
        }
    }
    x->topic[len] = '\0';
    if (len == 0) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "'topic.format' gives an empty topic");
        goto out;
    }
    h->record_set_topic(record, x->topic);
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void timestamp_router_destroy(void *state)
{
    timestamp_router_free(state);
}

static const struct sluice_transform timestamp_router_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = timestamp_router_config,
    .init = timestamp_router_init,
    .process = timestamp_router_process,
    .destroy = timestamp_router_destroy,
};

static const struct sluice_alias timestamp_router_aliases[] = {
    {"org.apache.kafka.connect.transforms.TimestampRouter", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "timestamp-router",
    .version = "1.0.0",
    .summary = "Rename each record's topic after its topic and timestamp (orders-20240501)",
    .description =
        "Kafka Connect's `TimestampRouter`, with the same keys: the new topic is `topic.format` "
        "with `${topic}` replaced by the record's topic and `${timestamp}` by the record's "
        "timestamp written in `timestamp.format`, a Java SimpleDateFormat pattern applied in UTC "
        "(letters `y M d D E a H k h K m s S Z X z`, text in single quotes literal; see "
        "timestamp-converter). A record without a timestamp (negative) is an error.\n"
        "\n"
        "sluice expands `${NAME}` in YAML values from the environment, so write the tokens "
        "`$${topic}` and `$${timestamp}` in a pipeline file (`$$` is a literal `$`); the default "
        "needs nothing.\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: timestamp-router\n"
        "    config:\n"
        "      topic.format: \"$${topic}_$${timestamp}\"\n"
        "      timestamp.format: yyyy-MM\n"
        "```",
    .transform = &timestamp_router_transform,
    .aliases = timestamp_router_aliases,
};
