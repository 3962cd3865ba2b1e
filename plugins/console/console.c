/*
 * console — a sink that prints every record on stdout or stderr, one line per record.
 *
 * Lines are built in one reusable buffer and written with one fwrite() per record: stdio locks the
 * stream for each call, so console sinks of several pipelines sharing stdout never interleave
 * inside a line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

struct console {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    sluice_buf_t *line; /* the line being built; reset per record */
    FILE *out;
    const char *out_name;
    int json;
    /* Set by config_map from the table below. */
    const char *format;
    const char *output;
    int print_key;
    int print_headers;
    int print_metadata;
};

static const char *const console_formats[] = {"json", "text", NULL};
static const char *const console_outputs[] = {"stdout", "stderr", NULL};

static const struct sluice_config_field console_config[] = {
    {.name = "format",
     .type = SLUICE_CFG_ENUM,
     .default_value = "json",
     .description =
         "`json`: each record's value as one line of JSON (Kafka Connect's JsonConverter "
         "payload form). `text`: a readable line, strings printed as they are.",
     .example = "text",
     .enum_values = console_formats,
     SLUICE_CFG_SET(struct console, format)},
    {.name = "print.key",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Print the record key as well.",
     .example = "true",
     SLUICE_CFG_SET(struct console, print_key)},
    {.name = "print.headers",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Print the record headers as well (their values as text).",
     .example = "true",
     SLUICE_CFG_SET(struct console, print_headers)},
    {.name = "print.metadata",
     .type = SLUICE_CFG_BOOL,
     .default_value = "false",
     .description = "Print topic, partition, offset and timestamp as well.",
     .example = "true",
     SLUICE_CFG_SET(struct console, print_metadata)},
    {.name = "output",
     .type = SLUICE_CFG_ENUM,
     .default_value = "stdout",
     .description = "Where the lines go.",
     .example = "stderr",
     .enum_values = console_outputs,
     SLUICE_CFG_SET(struct console, output)},
    {.name = NULL},
};

/* The parts of a line are appended without checking each: the buffer keeps its first error (ABI
 * 1.3), which console_put reads once per record. */

/* Renders one record as a JSON object with the parts asked for; the value is always there. Header
 * values are arbitrary bytes: buf_append_json_string escapes controls and writes bytes that are not
 * valid UTF-8 as U+FFFD, so that every line stays valid JSON. */
static void console_render_json_object(struct console *c, sluice_record_t *rec,
                                       const sluice_value_t *key, const sluice_value_t *value)
{
    const struct sluice_host *h = c->host;

    h->buf_append(c->line, "{", 1);
    if (c->print_metadata) {
        const char *topic = h->record_topic(rec);

        h->buf_printf(c->line, "\"topic\":");
        if (topic != NULL) {
            h->buf_append_json_string(c->line, topic, strlen(topic));
        } else {
            h->buf_printf(c->line, "null");
        }
        h->buf_printf(
            c->line, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":%" PRId64 ",",
            h->record_partition(rec), h->record_offset(rec), h->record_timestamp(rec));
    }
    if (key != NULL) {
        h->buf_printf(c->line, "\"key\":");
        h->value_write_json(key, c->line);
        h->buf_append(c->line, ",", 1);
    }
    if (c->print_headers) {
        size_t n = h->record_header_count(rec);

        h->buf_printf(c->line, "\"headers\":{");
        for (size_t i = 0; i < n; i++) {
            const void *hv = NULL;
            size_t hlen = 0;
            const char *name = h->record_header(rec, i, &hv, &hlen);

            h->buf_printf(c->line, "%s", i > 0 ? "," : "");
            h->buf_append_json_string(c->line, name != NULL ? name : "",
                                      name != NULL ? strlen(name) : 0);
            h->buf_append(c->line, ":", 1);
            if (hv != NULL) {
                h->buf_append_json_string(c->line, hv, hlen);
            } else {
                h->buf_printf(c->line, "null");
            }
        }
        h->buf_printf(c->line, "},");
    }
    h->buf_printf(c->line, "\"value\":");
    h->value_write_json(value, c->line);
    h->buf_append(c->line, "}", 1);
}

/* Renders `topic[partition]@offset ts=… key=… headers=name:value,… value=…` with the parts asked
 * for; with none of them the line is the value alone, like kafka-console-consumer. */
static void console_render_text(struct console *c, sluice_record_t *rec, const sluice_value_t *key,
                                const sluice_value_t *value)
{
    const struct sluice_host *h = c->host;
    int labelled = c->print_metadata || key != NULL || c->print_headers;

    if (c->print_metadata) {
        const char *topic = h->record_topic(rec);

        h->buf_printf(c->line, "%s[%" PRId32 "]@%" PRId64 " ts=%" PRId64 " ",
                      topic != NULL ? topic : "", h->record_partition(rec), h->record_offset(rec),
                      h->record_timestamp(rec));
    }
    if (key != NULL) {
        h->buf_printf(c->line, "key=");
        h->value_write_text(key, c->line);
        h->buf_append(c->line, " ", 1);
    }
    if (c->print_headers) {
        size_t n = h->record_header_count(rec);

        h->buf_printf(c->line, "headers=");
        for (size_t i = 0; i < n; i++) {
            const void *hv = NULL;
            size_t hlen = 0;
            const char *name = h->record_header(rec, i, &hv, &hlen);

            h->buf_printf(c->line, "%s%s:", i > 0 ? "," : "", name != NULL ? name : "");
            if (hv != NULL) {
                h->buf_append(c->line, hv, hlen);
            }
        }
        h->buf_append(c->line, " ", 1);
    }
    if (labelled) {
        h->buf_printf(c->line, "value=");
    }
    h->value_write_text(value, c->line);
}

static sluice_err_t console_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                 const sluice_config_t *config, void **state, char *errstr,
                                 size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct console *c = calloc(1, sizeof *c);

    if (c == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    c->host = host;
    c->ctx = ctx;
    host->config_map(config, c);
    c->json = c->format == NULL || strcmp(c->format, "json") == 0;
    if (c->output != NULL && strcmp(c->output, "stderr") == 0) {
        c->out = stderr;
        c->out_name = "stderr";
    } else {
        c->out = stdout;
        c->out_name = "stdout";
    }
    c->line = host->buf_new(4096);
    if (c->line == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        err = SLUICE_ERR_NOMEM;
        goto out;
    }
    *state = c;
    c = NULL;
out:
    if (c != NULL) {
        free(c);
    }
    return err;
}

static sluice_err_t console_start(void *state, char *errstr, size_t errstr_size)
{
    (void)state;
    (void)errstr;
    (void)errstr_size;
    return SLUICE_OK;
}

static sluice_err_t console_put(void *state, sluice_batch_t *batch, char *errstr,
                                size_t errstr_size)
{
    struct console *c = state;
    const struct sluice_host *h = c->host;
    size_t n = h->batch_count(batch);
    sluice_err_t err = SLUICE_OK;

    for (size_t i = 0; i < n; i++) {
        sluice_record_t *rec = h->batch_get(batch, i);
        char why[256] = "";
        sluice_value_t *key = NULL;
        sluice_value_t *value = h->record_value(rec, why, sizeof why);
        sluice_err_t rerr;

        if (value == NULL) {
            h->record_fail(rec, why[0] != '\0' ? why : "the value cannot be decoded");
            continue;
        }
        if (c->print_key) {
            key = h->record_key(rec, why, sizeof why);
            if (key == NULL) {
                h->record_fail(rec, why[0] != '\0' ? why : "the key cannot be decoded");
                continue;
            }
        }
        h->buf_reset(c->line);
        if (!c->json) {
            console_render_text(c, rec, key, value);
        } else if (c->print_metadata || c->print_key || c->print_headers) {
            console_render_json_object(c, rec, key, value);
        } else {
            h->value_write_json(value, c->line);
        }
        h->buf_append(c->line, "\n", 1);
        rerr = h->buf_error(c->line);
        if (rerr == SLUICE_ERR_NOMEM) {
            snprintf(errstr, errstr_size, "out of memory while rendering a record");
            err = SLUICE_FATAL;
            goto out;
        }
        if (rerr != SLUICE_OK) {
            /* Only this record cannot be rendered (e.g. a value JSON cannot represent). */
            h->record_fail(rec, "the record cannot be rendered for the console");
            continue;
        }
        if (fwrite(h->buf_data(c->line), 1, h->buf_len(c->line), c->out) != h->buf_len(c->line)) {
            snprintf(errstr, errstr_size, "cannot write to %s: %s", c->out_name, strerror(errno));
            err = SLUICE_FATAL;
            goto out;
        }
    }
out:
    return err;
}

static sluice_err_t console_flush(void *state, char *errstr, size_t errstr_size)
{
    struct console *c = state;
    sluice_err_t err = SLUICE_OK;

    if (fflush(c->out) != 0) {
        snprintf(errstr, errstr_size, "cannot write to %s: %s", c->out_name, strerror(errno));
        err = SLUICE_FATAL;
    }
    return err;
}

static void console_stop(void *state)
{
    struct console *c = state;

    /* Best effort: the core flushed already; a failure here has nobody left to report to. */
    (void)fflush(c->out);
}

static void console_destroy(void *state)
{
    struct console *c = state;

    if (c == NULL) {
        return;
    }
    c->host->buf_free(c->line);
    free(c);
}

static const struct sluice_sink console_sink = {
    .struct_size = sizeof(struct sluice_sink),
    .config = console_config,
    .init = console_init,
    .start = console_start,
    .put = console_put,
    .flush = console_flush,
    .stop = console_stop,
    .destroy = console_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "console",
    .version = "1.0.0",
    .summary = "Print records on stdout or stderr, one line each",
    .description =
        "A sink for watching a topic: every record becomes one line on standard output (or "
        "standard error).\n"
        "\n"
        "With the default `format: json` a line is the record's value as JSON, the payload form of "
        "Kafka Connect's JsonConverter. Turning on `print.key`, `print.headers` or "
        "`print.metadata` wraps it in an object holding only the parts asked for, e.g.\n"
        "\n"
        "```json\n"
        "{\"topic\":\"orders\",\"partition\":0,\"offset\":41,\"timestamp\":1700000000000,"
        "\"key\":7,\"headers\":{\"origin\":\"datagen\"},\"value\":{\"orderid\":7}}\n"
        "```\n"
        "\n"
        "`format: text` prints strings as they are and other values as JSON, in the layout "
        "`topic[partition]@offset ts=<ms> key=<key> headers=name:value,... value=<value>` "
        "(again only the parts asked for; with none, the line is the value alone).\n"
        "\n"
        "Lines are flushed whenever the core flushes the sink, so a record is on the terminal (or "
        "in the pipe) before its offset is committed. A record whose value cannot be decoded is "
        "routed by `errors.tolerance` instead of being printed.",
    .sink = &console_sink,
};
