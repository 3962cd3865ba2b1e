/* connect_config.c — Kafka Connect's flat connector config as a sluice pipeline in YAML (see
 * connect_config.h). */
#include "connect_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* The widest a key list gets: a connector with more keys than this is refused. */
#define CC_MAX_KEYS 1024

/* The code point of the UTF-8 sequence at `p` and its length, or 0 when it is not valid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_decode(const unsigned char *p, uint32_t *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || p[0] > 0xf4)
        return 0;
    uint32_t v = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* 1 when `s` is valid UTF-8 (what YAML reads; cJSON does not check). */
static int connect_valid_utf8(const char *s)
{
    uint32_t cp;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_decode(p, &cp);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

/* `dollar`: double '$' (values are interpolated; keys are not). What YAML does not allow raw in a
 * stream (controls, C1, U+FFFE/U+FFFF) is written as an escape. `s` is valid UTF-8. */
static void quote(buf_t *out, const char *s, int dollar)
{
    buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);
        if (!n) { /* not reached for checked input: drop the byte rather than break the YAML */
            p++;
            continue;
        }
        switch (cp) {
        case '"':
            buf_puts(out, "\\\"");
            break;
        case '\\':
            buf_puts(out, "\\\\");
            break;
        case '\n':
            buf_puts(out, "\\n");
            break;
        case '\r':
            buf_puts(out, "\\r");
            break;
        case '\t':
            buf_puts(out, "\\t");
            break;
        case '$': /* interpolation's escape: a literal '$' */
            buf_puts(out, dollar ? "$$" : "$");
            break;
        default:
            if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff ||
                cp == 0xfeff)
                buf_printf(out, "\\u%04x", (unsigned)cp);
            else
                buf_append(out, p, n);
        }
        p += n;
    }
    buf_putc(out, '"');
}

void connect_yaml_quote(buf_t *out, const char *s)
{
    quote(out, s, 1);
}

void connect_yaml_quote_key(buf_t *out, const char *s)
{
    quote(out, s, 0);
}

/* 1 when `name` is usable as a connector's (a pipeline id: letters, digits, '.', '_', '-'). */
static int connect_valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 200)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Is `key` a key of `table` (a `prefix.*` entry matches every key under the prefix)? */
static int table_has(const struct sluice_config_field *table, const char *key)
{
    for (const struct sluice_config_field *f = table; f->name; f++) {
        size_t n = strlen(f->name);
        if (n >= 2 && strcmp(f->name + n - 2, ".*") == 0) {
            if (strncmp(key, f->name, n - 1) == 0 && key[n - 1])
                return 1;
        } else if (strcmp(f->name, key) == 0) {
            return 1;
        }
    }
    return 0;
}

typedef struct cc_kv {
    const char *key;
    char *value; /* text of the JSON string, number or boolean */
    int used;
} cc_kv_t;

typedef struct cc {
    cc_kv_t *kv;
    size_t n;
} cc_t;

static cc_kv_t *cc_find(cc_t *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->kv[i].key, key) == 0)
            return &c->kv[i];
    return NULL;
}

static const char *cc_take(cc_t *c, const char *key)
{
    cc_kv_t *kv = cc_find(c, key);
    if (!kv)
        return NULL;
    kv->used = 1;
    return kv->value;
}

/* A comma-separated list item by item (Connect's ConfigDef.Type.LIST: items trimmed, empty ones
 * dropped). Returns the number of items, each malloc'd in *items. */
static size_t split_list(const char *s, char ***items)
{
    size_t n = 0;
    *items = NULL;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *a = s, *b = s + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            char **grown = realloc(*items, (n + 1) * sizeof *grown);
            if (!grown)
                break;
            *items = grown;
            (*items)[n++] = strndup(a, (size_t)(b - a));
        }
        s = end ? end + 1 : NULL;
    }
    return n;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* libyaml reads a plain `key: value` key (a "simple key") only up to 1024 characters: a longer
 * quoted key is written as YAML's explicit `? key` / `: value` pair, which parses the same. */
#define SIMPLE_KEY_MAX 1000

static void put_kv(buf_t *y, int indent, const char *key, const char *value)
{
    buf_printf(y, "%*s", indent, "");
    size_t at = y->len;
    connect_yaml_quote_key(y, key);
    if (y->len - at > SIMPLE_KEY_MAX && buf_reserve(y, 2) == 0) {
        memmove(y->data + at + 2, y->data + at, y->len - at + 1);
        memcpy(y->data + at, "? ", 2);
        y->len += 2;
        buf_printf(y, "\n%*s", indent, "");
    }
    buf_puts(y, ": ");
    connect_yaml_quote(y, value);
    buf_putc(y, '\n');
}

/* `prefix.<key>` entries not yet used, as a `config:` mapping (or nothing when there are none). */
static void put_prefixed(buf_t *y, cc_t *c, const char *prefix, int indent, const char *skip1,
                         const char *skip2)
{
    size_t plen = strlen(prefix);
    int any = 0;
    for (size_t i = 0; i < c->n; i++) {
        cc_kv_t *kv = &c->kv[i];
        if (kv->used || strncmp(kv->key, prefix, plen) != 0 || !kv->key[plen])
            continue;
        const char *k = kv->key + plen;
        if ((skip1 && strcmp(k, skip1) == 0) || (skip2 && strcmp(k, skip2) == 0))
            continue;
        if (!any)
            buf_printf(y, "%*sconfig:\n", indent, "");
        any = 1;
        kv->used = 1;
        put_kv(y, indent + 2, k, kv->value);
    }
}

/* `transforms: a,b` with `transforms.a.type` etc. as a `transforms:` sequence. */
static int put_transforms(buf_t *y, cc_t *c, int indent, char *err, size_t errlen)
{
    const char *list = cc_take(c, "transforms");
    char **names;
    size_t n = split_list(list, &names);
    if (n)
        buf_printf(y, "%*stransforms:\n", indent, "");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[512];
        snprintf(key, sizeof key, "transforms.%s.type", names[i]);
        const char *type = cc_take(c, key);
        if (!type || !*type) {
            snprintf(err, errlen,
                     "Missing required configuration \"%s\" which has no default value.", key);
            rc = 400;
            break;
        }
        buf_printf(y, "%*s- id: ", indent, "");
        connect_yaml_quote(y, names[i]);
        buf_printf(y, "\n%*splugin: ", indent + 2, "");
        connect_yaml_quote(y, type);
        buf_putc(y, '\n');
        snprintf(key, sizeof key, "transforms.%s.predicate", names[i]);
        const char *pred = cc_take(c, key);
        if (pred && *pred) {
            buf_printf(y, "%*spredicate: ", indent + 2, "");
            connect_yaml_quote(y, pred);
            buf_putc(y, '\n');
        }
        snprintf(key, sizeof key, "transforms.%s.negate", names[i]);
        const char *neg = cc_take(c, key);
        if (neg && *neg) {
            buf_printf(y, "%*snegate: ", indent + 2, "");
            connect_yaml_quote(y, neg);
            buf_putc(y, '\n');
        }
        snprintf(key, sizeof key, "transforms.%s.", names[i]);
        put_prefixed(y, c, key, indent + 2, NULL, NULL);
    }
    free_list(names, n);
    return rc;
}

static int put_predicates(buf_t *y, cc_t *c, char *err, size_t errlen)
{
    const char *list = cc_take(c, "predicates");
    char **names;
    size_t n = split_list(list, &names);
    if (n)
        buf_puts(y, "    predicates:\n");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char key[512];
        snprintf(key, sizeof key, "predicates.%s.type", names[i]);
        const char *type = cc_take(c, key);
        if (!type || !*type) {
            snprintf(err, errlen,
                     "Missing required configuration \"%s\" which has no default value.", key);
            rc = 400;
            break;
        }
        buf_puts(y, "      ");
        connect_yaml_quote_key(y, names[i]);
        buf_puts(y, ":\n");
        put_kv(y, 8, "type", type);
        snprintf(key, sizeof key, "predicates.%s.", names[i]);
        size_t plen = strlen(key);
        for (size_t k = 0; k < c->n; k++)
            if (!c->kv[k].used && strncmp(c->kv[k].key, key, plen) == 0 && c->kv[k].key[plen]) {
                c->kv[k].used = 1;
                put_kv(y, 8, c->kv[k].key + plen, c->kv[k].value);
            }
    }
    free_list(names, n);
    return rc;
}

/* Source or sink? The plugin's only role; for a plugin with both, the class name (Connect's
 * FileStreamSource/FileStreamSink) and else a sink's `topics`. */
static int decide_sink(const loaded_plugin_t *p, const char *cls, cc_t *c)
{
    if (p->has_sink && !p->has_source)
        return 1;
    if (p->has_source && !p->has_sink)
        return 0;
    const char *base = strrchr(cls, '.');
    base = base ? base + 1 : cls;
    if (strstr(base, "Sink"))
        return 1;
    if (strstr(base, "Source"))
        return 0;
    return cc_find(c, "topics") || cc_find(c, "topics.regex");
}

int connect_config_to_yaml(const registry_t *reg, const char *name, const cJSON *config,
                           buf_t *yaml, int *is_sink, char *err, size_t errlen)
{
    if (!cJSON_IsObject(config)) {
        snprintf(err, errlen, "The connector's config must be a JSON object of strings");
        return 400;
    }
    if (!connect_valid_name(name)) {
        snprintf(err, errlen,
                 "Connector name '%.200s' is not valid: use letters, digits, '.', '_' and '-' "
                 "(at most 200)",
                 name ? name : "");
        return 400;
    }
    cc_t c = {calloc(CC_MAX_KEYS, sizeof(cc_kv_t)), 0};
    if (!c.kv) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, config)
    {
        if (cJSON_IsNull(item))
            continue; /* Connect: a null value is as good as absent */
        char text[64];
        const char *v = NULL;
        if (cJSON_IsString(item)) {
            v = item->valuestring;
        } else if (cJSON_IsBool(item)) {
            v = cJSON_IsTrue(item) ? "true" : "false";
        } else if (cJSON_IsNumber(item)) {
            double d = item->valuedouble;
            if (d == (double)(long long)d && d > -9e15 && d < 9e15)
                snprintf(text, sizeof text, "%lld", (long long)d);
            else
                snprintf(text, sizeof text, "%.17g", d);
            v = text;
        } else {
            snprintf(err, errlen, "The value of '%.200s' must be a string, not %s",
                     item->string ? item->string : "",
                     cJSON_IsArray(item) ? "an array" : "an object");
            rc = 400;
            goto out;
        }
        if ((item->string && !connect_valid_utf8(item->string)) || !connect_valid_utf8(v)) {
            snprintf(err, errlen, "The key or value of '%.200s' is not valid UTF-8",
                     item->string && connect_valid_utf8(item->string) ? item->string : "?");
            rc = 400;
            goto out;
        }
        if (!item->string || !*item->string) {
            snprintf(err, errlen, "A configuration key must not be empty");
            rc = 400;
            goto out;
        }
        if (c.n == CC_MAX_KEYS) {
            snprintf(err, errlen, "Too many configuration keys (%d at most)", CC_MAX_KEYS);
            rc = 400;
            goto out;
        }
        if (cc_find(&c, item->string)) {
            snprintf(err, errlen, "The key '%.200s' is given twice", item->string);
            rc = 400;
            goto out;
        }
        c.kv[c.n].key = item->string;
        c.kv[c.n].value = strdup(v);
        if (!c.kv[c.n].value) {
            rc = 500;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        c.n++;
    }

    const char *own = cc_take(&c, "name");
    if (own && strcmp(own, name) != 0) {
        snprintf(err, errlen,
                 "Connector name configuration (%.200s) doesn't match connector name in the URL "
                 "(%.200s)",
                 own, name);
        rc = 400;
        goto out;
    }
    const char *cls = cc_take(&c, "connector.class");
    if (!cls || !*cls) {
        snprintf(err, errlen,
                 "Missing required configuration \"connector.class\" which has no default value.");
        rc = 400;
        goto out;
    }
    const loader_alias_t *alias = NULL;
    const loaded_plugin_t *plugin = registry_find(reg, cls);
    if (!plugin)
        plugin = registry_find_alias(reg, cls, &alias);
    if (!plugin || !(plugin->has_source || plugin->has_sink)) {
        snprintf(err, errlen,
                 "Failed to find any class that implements Connector and which name matches "
                 "%.200s (GET /connector-plugins lists them)",
                 cls);
        rc = 400;
        goto out;
    }
    int sink = decide_sink(plugin, cls, &c);
    *is_sink = sink;

    /* The topic: a source's `topic` (a pipeline key); a sink's single `topics`. */
    const char *topic = NULL;
    char **topics = NULL;
    size_t ntopics = 0;
    if (sink) {
        if (cc_find(&c, "topics.regex") && *cc_find(&c, "topics.regex")->value) {
            snprintf(err, errlen,
                     "topics.regex is not supported: a sluice sink reads its pipeline's one topic "
                     "(give 'topics' with one topic)");
            rc = 400;
            goto out;
        }
        cc_take(&c, "topics.regex");
        ntopics = split_list(cc_take(&c, "topics"), &topics);
        if (ntopics > 1) {
            snprintf(err, errlen,
                     "'topics' lists %zu topics: a sluice sink reads one topic (create one "
                     "connector per topic)",
                     ntopics);
            free_list(topics, ntopics);
            rc = 400;
            goto out;
        }
        if (ntopics == 0 && !cc_find(&c, "topic")) {
            snprintf(err, errlen,
                     "Must configure one of topics or topics.regex (a sluice sink: 'topics' with "
                     "one topic)");
            rc = 400;
            goto out;
        }
        topic = ntopics ? topics[0] : NULL;
        if (topic && cc_find(&c, "topic")) {
            snprintf(err, errlen,
                     "Both 'topics' and 'topic' are given: a sink reads the one topic of 'topics'");
            free_list(topics, ntopics);
            rc = 400;
            goto out;
        }
    }

    buf_puts(yaml, "version: 1\npipelines:\n  - id: ");
    connect_yaml_quote(yaml, name);
    buf_putc(yaml, '\n');
    if (topic)
        put_kv(yaml, 4, "topic", topic);
    free_list(topics, ntopics);
    /* The pipeline's core keys; a source's tasks.max is accepted and has no effect (one task). */
    for (size_t i = 0; i < c.n; i++) {
        cc_kv_t *kv = &c.kv[i];
        if (kv->used || strncmp(kv->key, "transforms", 10) == 0 ||
            strncmp(kv->key, "predicates", 10) == 0)
            continue;
        if (table_has(config_pipeline_keys, kv->key)) {
            kv->used = 1;
            put_kv(yaml, 4, kv->key, kv->value);
        } else if (!sink && strcmp(kv->key, "tasks.max") == 0) {
            kv->used = 1;
        }
    }
    if ((rc = put_predicates(yaml, &c, err, errlen)) != 0)
        goto out;
    int ind;
    if (sink) {
        buf_puts(yaml, "    sinks:\n      - id: ");
        connect_yaml_quote(yaml, name);
        buf_puts(yaml, "\n        plugin: ");
        connect_yaml_quote(yaml, cls);
        buf_putc(yaml, '\n');
        for (size_t i = 0; i < c.n; i++) {
            cc_kv_t *kv = &c.kv[i];
            if (!kv->used && strncmp(kv->key, "transforms", 10) != 0 &&
                table_has(config_sink_keys, kv->key)) {
                kv->used = 1;
                put_kv(yaml, 8, kv->key, kv->value);
            }
        }
        ind = 8;
    } else {
        buf_puts(yaml, "    source:\n      plugin: ");
        connect_yaml_quote(yaml, cls);
        buf_putc(yaml, '\n');
        ind = 6;
    }
    if ((rc = put_transforms(yaml, &c, ind, err, errlen)) != 0)
        goto out;
    /* Everything else is the plugin's (its own validation names an unknown key). */
    int any = 0;
    for (size_t i = 0; i < c.n; i++) {
        cc_kv_t *kv = &c.kv[i];
        if (kv->used)
            continue;
        if (!any)
            buf_printf(yaml, "%*sconfig:\n", ind, "");
        any = 1;
        kv->used = 1;
        put_kv(yaml, ind + 2, kv->key, kv->value);
    }
out:
    for (size_t i = 0; i < c.n; i++)
        free(c.kv[i].value);
    free(c.kv);
    return rc;
}
