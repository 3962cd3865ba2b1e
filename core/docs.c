/* docs.c — Markdown reference pages generated from configuration tables: one per plugin
 * (`sluice plugins docs NAME`, checked in as docs/plugins/NAME.md) and one for the core's keys.
 * The output depends only on the tables, so a test can diff it against the checked-in page. */
#include <string.h>

#include "config.h"

static const char *docs_type_name(sluice_config_type_t t)
{
    switch (t) {
    case SLUICE_CFG_STRING:
        return "string";
    case SLUICE_CFG_INT:
        return "int";
    case SLUICE_CFG_BOOL:
        return "bool";
    case SLUICE_CFG_DOUBLE:
        return "double";
    case SLUICE_CFG_DURATION:
        return "duration";
    case SLUICE_CFG_SIZE:
        return "size";
    case SLUICE_CFG_ENUM:
        return "enum";
    case SLUICE_CFG_LIST:
        return "list";
    case SLUICE_CFG_PATH:
        return "path";
    case SLUICE_CFG_MAP:
        return "map";
    }
    return "?";
}

/* Text inside a table cell: '|' escaped, line breaks as spaces. */
static void docs_cell_text(buf_t *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            buf_puts(out, "\\|");
        else if (*s == '\n' || *s == '\r')
            buf_putc(out, ' ');
        else
            buf_putc(out, *s);
    }
}

/* A value as inline code (`""` for the empty string); plain text if it holds a backtick. */
static void docs_cell_code(buf_t *out, const char *s)
{
    if (!*s) {
        buf_puts(out, "`\"\"`");
    } else if (strchr(s, '`')) {
        docs_cell_text(out, s);
    } else {
        buf_putc(out, '`');
        docs_cell_text(out, s);
        buf_putc(out, '`');
    }
}

static void docs_type_cell(buf_t *out, const struct sluice_config_field *f)
{
    buf_puts(out, docs_type_name(f->type));
    if (f->type == SLUICE_CFG_ENUM && f->enum_values) {
        buf_puts(out, ": ");
        for (size_t i = 0; f->enum_values[i]; i++) {
            if (i)
                buf_puts(out, ", ");
            docs_cell_code(out, f->enum_values[i]);
        }
    }
    if (f->flags & SLUICE_CFG_RANGE) {
        char lo[64], hi[64];
        config_format_bound(f, f->min, lo, sizeof lo);
        config_format_bound(f, f->max, hi, sizeof hi);
        /* Bounds near the 64-bit limits are "no bound" (same rule as the validator). */
        int no_max = f->max >= 9.0e18, no_min = f->min <= -9.0e18;
        if (no_max && !no_min)
            buf_printf(out, ", at least %s", lo);
        else if (no_min && !no_max)
            buf_printf(out, ", at most %s", hi);
        else if (!no_min && !no_max)
            buf_printf(out, ", %s to %s", lo, hi);
    }
}

/* `unset`: what the Default column says for a key without a default. */
static void docs_table(buf_t *out, const struct sluice_config_field *t, const char *unset)
{
    if (!t || !t[0].name) {
        buf_puts(out, "No configuration keys.\n\n");
        return;
    }
    buf_puts(out, "| Key | Type | Default | Required | Description | Example |\n"
                  "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; t[i].name; i++) {
        const struct sluice_config_field *f = &t[i];
        buf_puts(out, "| ");
        docs_cell_code(out, f->name);
        if (f->flags & SLUICE_CFG_SECRET)
            buf_puts(out, " (secret)");
        buf_puts(out, " | ");
        docs_type_cell(out, f);
        buf_puts(out, " | ");
        if (f->default_value)
            docs_cell_code(out, f->default_value);
        else
            buf_puts(out, unset);
        buf_puts(out, (f->flags & SLUICE_CFG_REQUIRED) ? " | yes | " : " | no | ");
        docs_cell_text(out, f->description);
        if (f->flags & SLUICE_CFG_SECRET)
            buf_puts(out, f->description && *f->description ? " Secret: never logged nor printed."
                                                            : "Secret: never logged nor printed.");
        buf_puts(out, " | ");
        if (f->example)
            docs_cell_code(out, f->example);
        buf_puts(out, " |\n");
    }
    buf_putc(out, '\n');
}

void config_docs_markdown(const struct sluice_plugin *p, buf_t *out)
{
    const char *name = p->name ? p->name : "?";
    buf_printf(out, "# %s\n\n", name);
    buf_printf(out, "Version %s. Roles:", p->version ? p->version : "unknown");
    int n = 0;
    if (p->source)
        buf_printf(out, "%s source", n++ ? "," : "");
    if (p->transform)
        buf_printf(out, "%s transform", n++ ? "," : "");
    if (p->sink)
        buf_printf(out, "%s sink", n++ ? "," : "");
    buf_puts(out, n ? ".\n\n" : " none.\n\n");
    if (p->summary && *p->summary)
        buf_printf(out, "%s\n\n", p->summary);
    if (p->description && *p->description)
        buf_printf(out, "%s\n\n", p->description);
    /* `p` is the loader's copy: `aliases` is zero for a descriptor older than ABI 1.1. */
    for (size_t i = 0; p->aliases && p->aliases[i].name; i++) {
        if (i == 0)
            buf_puts(out, "Also answers to `plugin:`\n\n");
        buf_printf(out, "- `%s`", p->aliases[i].name);
        if (p->aliases[i].key)
            buf_printf(out, " (presets `%s: %s`)", p->aliases[i].key,
                       p->aliases[i].value ? p->aliases[i].value : "");
        buf_putc(out, '\n');
        if (!p->aliases[i + 1].name)
            buf_putc(out, '\n');
    }
    if (p->source) {
        buf_printf(out, "## Source\n\nKeys under `config:` of a `source:` with `plugin: %s`.\n\n",
                   name);
        docs_table(out, p->source->config, "—");
    }
    if (p->transform) {
        buf_printf(out,
                   "## Transform\n\nKeys under `config:` of a `transforms:` entry with "
                   "`plugin: %s`.\n\n",
                   name);
        docs_table(out, p->transform->config, "—");
    }
    if (p->sink) {
        buf_printf(out,
                   "## Sink\n\nKeys under `config:` of a `sinks:` entry with `plugin: %s`.\n\n",
                   name);
        docs_table(out, p->sink->config, "—");
    }
    /* One trailing newline, not two: the page ends like a normal text file. */
    if (out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n') {
        out->len--;
        out->data[out->len] = '\0';
    }
}

void config_docs_core_markdown(buf_t *out)
{
    buf_puts(out, "# Configuration keys\n\n"
                  "Generated from the core's tables (core/config_keys.c). Values may use "
                  "`${VAR}`, `${VAR:-default}`, `${file:PATH:KEY}` (a Java-style .properties "
                  "file) and `$$` for a literal `$`. Durations are written `250ms`, `5s`, `2m`, "
                  "`1h`, `1d` or as bare milliseconds; sizes `512`, `64KiB`, `4MiB`, `1GiB`, "
                  "`10KB` (1000 bytes), `2MB`. Booleans are `true`/`false` (also `yes`/`no`, "
                  "`on`/`off`). A YAML null (`~`) means \"unset\".\n\n"
                  "## Top level\n\n"
                  "Every file starts with `version: 1` (required) and lists `pipelines:` (a "
                  "sequence, at least one). When several files are given, their top-level keys "
                  "must agree. A file may have at most 4 MiB and 64 levels of nesting; YAML "
                  "aliases may expand it to at most 10 times its own nodes plus 10 000 (never "
                  "over 1 000 000), which keeps a few hundred bytes of nested aliases (\"billion "
                  "laughs\") from taking the memory.\n\n");
    docs_table(out, config_global_keys, "—");
    buf_puts(out, "## Pipeline\n\n"
                  "Each entry of `pipelines:` has an `id` (required; letters, digits, `.`, `_`, "
                  "`-`; unique across all files), a `source:` (`plugin`, `config`, `transforms`) "
                  "and/or `sinks:` (each with `id`, `plugin`, `config`, `transforms`). A "
                  "`transforms:` entry has `plugin` (a name or one of its aliases, e.g. Kafka "
                  "Connect's class name), an optional `id` (default `<plugin>#<n>`), `config`, "
                  "and optionally `predicate` (the name of one of the pipeline's `predicates:`, "
                  "or an inline `{type: ..., ...}`) with `negate: true|false`: the transform "
                  "then applies only to the records the predicate matches (or does not match). "
                  "`predicates:` maps names to `{type: topic-name-matches, pattern: REGEX}`, "
                  "`{type: has-header-key, name: NAME}` or `{type: record-is-tombstone}` (Kafka "
                  "Connect's class names are accepted as types); see docs/transforms.md. The "
                  "pipeline's own keys:\n\n");
    docs_table(out, config_pipeline_keys, "—");
    buf_puts(out, "## Sink\n\n"
                  "A sink may override these keys of its pipeline; unset, the pipeline's value "
                  "applies.\n\n");
    docs_table(out, config_sink_keys, "the pipeline's");
    buf_puts(
        out,
        "## Interpolation\n\n"
        "Every scalar value — core keys, `kafka:` and `schema.registry:` properties, plugin "
        "`config:` — is interpolated when the file is read, before it is checked:\n\n"
        "| form | value |\n"
        "|---|---|\n"
        "| `${VAR}` | the environment variable `VAR`; unset is an error naming the file and line "
        "|\n"
        "| `${VAR:-default}` | `default` when `VAR` is unset or empty, as in the shell; defaults "
        "nest: `${A:-${B:-x}}` |\n"
        "| `${file:PATH:KEY}` | `KEY` of the Java-style `.properties` file `PATH` (Kafka Connect's "
        "FileConfigProvider); a relative `PATH` is resolved against the YAML file's directory; a "
        "missing file or key is an error |\n"
        "| `$$` | a literal `$` |\n\n"
        "A value that comes from interpolation is a string, never null. Two empty values switch "
        "a block off: `kafka: {bootstrap.servers: \"\"}` runs in-process and `schema.registry: "
        "{url: \"\"}` has no registry, so one file runs in-process or against a cluster "
        "depending on the environment (the seed's `pipelines/*.yaml` do this):\n\n"
        "```yaml\n"
        "kafka:\n"
        "  bootstrap.servers: ${KAFKA_BOOTSTRAP:-}   # unset: in-process\n"
        "schema.registry:\n"
        "  url: ${SCHEMA_REGISTRY_URL:-http://127.0.0.1:8081}\n"
        "```\n\n"
        "## Secrets\n\n"
        "A plugin key marked *secret* in its reference (passwords, passphrases), the registry's "
        "`basic.auth.user.info`, and the librdkafka properties librdkafka itself deems sensitive "
        "in the `kafka:` block and the `producer.override.*` / `consumer.override.*` keys "
        "(`sasl.username`, `sasl.password`, `sasl.oauthbearer.config`, "
        "`sasl.oauthbearer.client.secret`, `ssl.key.pem`, `ssl.key.location`, "
        "`ssl.key.password`, `ssl.keystore.password`, `ssl.ca.pem`) are never written to the log "
        "and are shown as `\"********\"` by `sluice lint --print`. The credentials of a URL "
        "(`http://key:secret@host`, `jdbc:mysql://user:password@host/db`, a `?password=` "
        "parameter) are hidden wherever a URL is printed. Keep the values themselves out of the "
        "YAML: "
        "take them from the environment (`${MYSQL_PASSWORD}`) or from a file only the service "
        "may read (`${file:/etc/sluice/secrets.properties:sasl.password}`, mode 0600).\n");
    if (out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n') {
        out->len--;
        out->data[out->len] = '\0';
    }
}
