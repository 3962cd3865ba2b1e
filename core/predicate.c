/* predicate.c — see predicate.h. */
#include "predicate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const struct {
    const char *names[4];
    predicate_kind_t kind;
} predicate_types[] = {
    {{"topic-name-matches", "TopicNameMatches",
      "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", NULL},
     PREDICATE_TOPIC_NAME_MATCHES},
    {{"has-header-key", "HasHeaderKey",
      "org.apache.kafka.connect.transforms.predicates.HasHeaderKey", NULL},
     PREDICATE_HAS_HEADER_KEY},
    {{"record-is-tombstone", "RecordIsTombstone",
      "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone", NULL},
     PREDICATE_RECORD_IS_TOMBSTONE},
};

static const struct sluice_config_field predicate_topic_keys[] = {
    {.name = "pattern",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "A regular expression the whole topic name must match."},
    {.name = NULL},
};
static const struct sluice_config_field predicate_header_keys[] = {
    {.name = "name",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The header name."},
    {.name = NULL},
};
static const struct sluice_config_field predicate_no_keys[] = {{.name = NULL}};
static const char *const predicate_structural[] = {"type", NULL};

/* Compile a Java-style regular expression (as Kafka Connect's configs hold them) for a full match
 * with POSIX extended syntax: `^(...)$`, with \d \D \w \W \s \S turned into bracket expressions
 * (glibc's regcomp lacks \d). 0 ok; else a message in errstr. */
static int predicate_regcomp(regex_t *re, const char *java, char *errstr, size_t errstr_size)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "^(");
    for (const char *s = java; *s; s++) {
        if (s[0] != '\\' || !s[1]) {
            buf_putc(&b, *s);
            continue;
        }
        const char *cls = NULL;
        switch (s[1]) {
        case 'd':
            cls = "[0-9]";
            break;
        case 'D':
            cls = "[^0-9]";
            break;
        case 'w':
            cls = "[A-Za-z0-9_]";
            break;
        case 'W':
            cls = "[^A-Za-z0-9_]";
            break;
        case 's':
            cls = "[[:space:]]";
            break;
        case 'S':
            cls = "[^[:space:]]";
            break;
        default:
            break;
        }
        if (cls) {
            buf_puts(&b, cls);
        } else {
            buf_putc(&b, s[0]);
            buf_putc(&b, s[1]);
        }
        s++;
    }
    buf_puts(&b, ")$");
    int rc = b.data ? regcomp(re, b.data, REG_EXTENDED | REG_NOSUB) : REG_ESPACE;
    if (rc != 0) {
        char why[200];
        regerror(rc, re, why, sizeof why);
        snprintf(errstr, errstr_size, "invalid regular expression '%s': %s", java, why);
    }
    buf_free(&b);
    return rc == 0 ? 0 : -1;
}

void predicate_free(predicate_t *p)
{
    if (!p)
        return;
    if (p->has_re)
        regfree(&p->re);
    free(p->label);
    free(p->header);
    free(p);
}

predicate_t *predicate_resolve(const config_pipeline_t *cp, const config_instance_t *t,
                               const char *what, int *failed, config_errors_t *errs)
{
    const config_node_t *def = t->predicate;
    const char *label = "inline";
    *failed = 0;
    if (!def)
        return NULL;
    *failed = 1;
    if (def->kind == CONFIG_SCALAR) {
        label = def->scalar;
        const config_node_t *named =
            cp && cp->predicates ? config_node_get(cp->predicates, label) : NULL;
        if (!named) {
            size_t n = cp && cp->predicates ? cp->predicates->len : 0;
            const char *hint =
                n ? config_did_you_mean(label, (const char *const *)cp->predicates->keys, n) : NULL;
            config_errors_add(
                errs, &def->mark,
                "%s: predicate '%s' is not defined in the pipeline's 'predicates:'%s%s%s", what,
                label, hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
            return NULL;
        }
        def = named;
    }
    if (def->kind != CONFIG_MAP) {
        config_errors_add(errs, &def->mark,
                          "%s: a predicate is a mapping {type: topic-name-matches|has-header-key|"
                          "record-is-tombstone, ...}",
                          what);
        return NULL;
    }
    const config_node_t *type = config_node_get(def, "type");
    if (!type || type->kind != CONFIG_SCALAR || config_node_is_null(type)) {
        config_errors_add(
            errs, &def->mark,
            "%s: predicate '%s' needs a 'type' (topic-name-matches, has-header-key or "
            "record-is-tombstone)",
            what, label);
        return NULL;
    }
    int kind = -1;
    for (size_t i = 0; kind < 0 && i < sizeof predicate_types / sizeof predicate_types[0]; i++)
        for (size_t k = 0; predicate_types[i].names[k]; k++)
            if (strcmp(type->scalar, predicate_types[i].names[k]) == 0)
                kind = (int)predicate_types[i].kind;
    if (kind < 0) {
        config_errors_add(errs, &type->mark,
                          "%s: unknown predicate type '%s' (expected topic-name-matches, "
                          "has-header-key or record-is-tombstone, or Kafka Connect's class names)",
                          what, type->scalar);
        return NULL;
    }
    char owner[700];
    snprintf(owner, sizeof owner, "predicate '%s' of %s", label, what);
    const struct sluice_config_field *table =
        kind == PREDICATE_TOPIC_NAME_MATCHES ? predicate_topic_keys
        : kind == PREDICATE_HAS_HEADER_KEY   ? predicate_header_keys
                                             : predicate_no_keys;
    sluice_config_t *cfg =
        config_validate_extra(def, table, predicate_structural, owner, &def->mark, NULL, errs);
    if (!cfg)
        return NULL;
    predicate_t *p = calloc(1, sizeof *p);
    char err[400];
    if (!p || !(p->label = strdup(label))) {
        config_errors_add(errs, &def->mark, "%s: out of memory", owner);
        goto fail;
    }
    p->kind = (predicate_kind_t)kind;
    p->negate = t->negate;
    if (kind == PREDICATE_TOPIC_NAME_MATCHES) {
        if (predicate_regcomp(&p->re, config_string(cfg, "pattern"), err, sizeof err) != 0) {
            config_errors_add(errs, config_value_mark(cfg, "pattern"), "%s: pattern: %s", owner,
                              err);
            goto fail;
        }
        p->has_re = 1;
    } else if (kind == PREDICATE_HAS_HEADER_KEY) {
        if (!(p->header = strdup(config_string(cfg, "name")))) {
            config_errors_add(errs, &def->mark, "%s: out of memory", owner);
            goto fail;
        }
    }
    config_free(cfg);
    *failed = 0;
    return p;
fail:
    config_free(cfg);
    predicate_free(p);
    return NULL;
}

int predicate_applies(const predicate_t *p, sluice_record_t *r)
{
    int match = 0;
    switch (p->kind) {
    case PREDICATE_TOPIC_NAME_MATCHES:
        match = r->topic && regexec(&p->re, r->topic, 0, NULL, 0) == 0;
        break;
    case PREDICATE_HAS_HEADER_KEY:
        record_headers_load(r);
        for (uint32_t i = 0; !match && i < r->nheaders; i++)
            match = strcmp(r->headers[i].name, p->header) == 0;
        break;
    case PREDICATE_RECORD_IS_TOMBSTONE:
        /* A null value: no bytes in the topic, or a value set to null. */
        if (r->value.value)
            match = r->value.value->type == SLUICE_TYPE_NULL;
        else
            match = r->value.is_null || !r->value.bytes;
        break;
    }
    return match != p->negate;
}
