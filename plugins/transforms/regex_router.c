/*
 * regex-router — Kafka Connect's RegexRouter: when the whole topic matches `regex`, the topic
 * becomes `replacement`, where $1, $2 ... stand for the regex's groups.
 *
 * Java regexes are translated once at init into POSIX extended regexes (regcomp, REG_EXTENDED),
 * anchored at both ends for Java's full-match semantics. Java's escapes that POSIX lacks (\d \D
 * \w \W \s \S, \Q...\E, \t \n) are translated; non-capturing groups (?:...) are kept out of the
 * group numbering; what POSIX cannot express (lookaround, lazy or possessive quantifiers, named
 * groups, backreferences, \p{...}) is a configuration error rather than a silent mismatch.
 * The route of each topic is computed once and remembered (a stream has few topics).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "xf.h"

/* A piece of the replacement: literal text, or a group of the match. */
struct rr_piece {
    int group; /* -1: literal */
    size_t off, len;
};

/* Distinct topics whose routes are remembered. */
#define RR_CACHE_SIZE 64

struct rr_cached {
    char *topic;
    char *result; /* the new topic when route is RR_RENAME */
    int route;
};

struct regex_router {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;
    regex_t re;
    int compiled;
    int *group_map; /* Java group n -> POSIX sub-expression */
    size_t java_groups;
    regmatch_t *match;
    size_t nmatch;
    char *lits; /* literal bytes of the replacement */
    struct rr_piece *pieces;
    size_t npieces;
    char *topic; /* the new topic, reused */
    size_t topic_cap;
    struct rr_cached *cache; /* routes of the topics seen */
    size_t ncache, last, evict;
};

static const struct sluice_config_field regex_router_config[] = {
    {.name = "regex",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "A Java regular expression that must match the whole topic.",
     .example = "(.*)-(avro|json)"},
    {.name = "replacement",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The new topic; `$1`, `$2` ... are the regex's groups, `\\$` a dollar sign.",
     .example = "$1"},
    {.name = NULL},
};

/* A growable string for the translation (init only). */
struct rr_str {
    char *p;
    size_t len, cap;
};

static int rr_add(struct rr_str *s, const char *text, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *p = realloc(s->p, cap);

        if (p == NULL) {
            return -1;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, text, n);
    s->len += n;
    s->p[s->len] = '\0';
    return 0;
}

static int rr_adds(struct rr_str *s, const char *text)
{
    return rr_add(s, text, strlen(text));
}

/* Translates the Java regex `re` into POSIX ERE text in `out`, counting Java's capturing groups
 * and recording which POSIX sub-expression each is (`map`, grown as needed; POSIX group 1 is the
 * anchoring group added around the whole). 0, -1 with a message (config error), -2 no memory. */
static int rr_translate(const char *re, struct rr_str *out, int **map, size_t *java_groups,
                        char *errstr, size_t errstr_size)
{
    size_t posix = 1; /* the wrapping group */
    size_t cap = 0;
    int in_bracket = 0;
    size_t bracket_start = 0;

    *java_groups = 0;
    if (rr_adds(out, "^(") != 0) {
        return -2;
    }
    for (size_t i = 0; re[i] != '\0'; i++) {
        char c = re[i];

        if (c == '\\') {
            char e = re[i + 1];
            const char *tr = NULL;

            if (e == '\0') {
                snprintf(errstr, errstr_size, "'regex': '%s' ends with a lone backslash", re);
                return -1;
            }
            i++;
            if (e == 'Q') { /* \Q...\E: literal text */
                const char *end = strstr(re + i + 1, "\\E");
                size_t n = end != NULL ? (size_t)(end - (re + i + 1)) : strlen(re + i + 1);

                for (size_t k = 0; k < n; k++) {
                    char l = re[i + 1 + k];
                    char esc[3] = {'\\', l, '\0'};

                    if (in_bracket ? rr_add(out, &l, 1)
                                   : (strchr(".[]()*+?{}|^$\\", l) != NULL ? rr_adds(out, esc)
                                                                           : rr_add(out, &l, 1))) {
                        return -2;
                    }
                }
                i += n + (end != NULL ? 2 : 0);
                continue;
            }
            if (in_bracket) {
                /* POSIX brackets have no escapes: a class or the character itself. */
                tr = e == 'd' ? "0-9" : e == 'w' ? "A-Za-z0-9_" : e == 's' ? "[:space:]" : NULL;
                if (tr == NULL && e == 't') {
                    tr = "\t";
                } else if (tr == NULL && e == 'n') {
                    tr = "\n";
                }
                if (tr == NULL && (e == ']' || e == '-' || e == '^' || (e >= 'a' && e <= 'z') ||
                                   (e >= 'A' && e <= 'Z'))) {
                    snprintf(errstr, errstr_size,
                             "'regex': '\\%c' inside [...] cannot be translated to a POSIX "
                             "regex (in '%s'; put ']' first, '-' last, or use a class)",
                             e, re);
                    return -1;
                }
                if (tr != NULL ? rr_adds(out, tr) : rr_add(out, &e, 1)) {
                    return -2;
                }
                continue;
            }
            switch (e) {
            case 'd':
                tr = "[0-9]";
                break;
            case 'D':
                tr = "[^0-9]";
                break;
            case 'w':
                tr = "[A-Za-z0-9_]";
                break;
            case 'W':
                tr = "[^A-Za-z0-9_]";
                break;
            case 's':
                tr = "[[:space:]]";
                break;
            case 'S':
                tr = "[^[:space:]]";
                break;
            case 't':
                tr = "\t";
                break;
            case 'n':
                tr = "\n";
                break;
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                    snprintf(errstr, errstr_size,
                             "'regex': the escape '\\%c' of '%s' has no POSIX translation "
                             "(supported: \\d \\D \\w \\W \\s \\S \\t \\n \\Q...\\E and "
                             "escaped punctuation)",
                             e, re);
                    return -1;
                }
                break;
            }
            if (tr != NULL ? rr_adds(out, tr) : rr_add(out, re + i - 1, 2)) {
                return -2;
            }
            continue;
        }
        if (in_bracket) {
            if (c == '[' && re[i + 1] == ':' && strstr(re + i, ":]") != NULL) {
                /* a POSIX class ([:alpha:]) inside brackets is fine as is */
                size_t n = (size_t)(strstr(re + i, ":]") - (re + i)) + 2;

                if (rr_add(out, re + i, n) != 0) {
                    return -2;
                }
                i += n - 1;
                continue;
            }
            if (c == '[' || (c == '&' && re[i + 1] == '&')) {
                snprintf(errstr, errstr_size,
                         "'regex': nested classes or '&&' inside [...] of '%s' have no POSIX "
                         "translation",
                         re);
                return -1;
            }
            if (c == ']' && i > bracket_start) {
                in_bracket = 0;
            }
            if (rr_add(out, &c, 1) != 0) {
                return -2;
            }
            continue;
        }
        if (c == '[') {
            in_bracket = 1;
            bracket_start = i + 1;
            if (re[bracket_start] == '^') {
                bracket_start++;
            }
            if (rr_add(out, re + i, bracket_start - i) != 0) {
                return -2;
            }
            i = bracket_start - 1;
            continue;
        }
        if (c == '(') {
            posix++;
            if (re[i + 1] == '?') {
                if (re[i + 2] != ':') {
                    snprintf(errstr, errstr_size,
                             "'regex': '(?%c' in '%s' (lookaround, named groups, flags) has no "
                             "POSIX translation; only (?:...) is supported",
                             re[i + 2], re);
                    return -1;
                }
                i += 2;
            } else {
                if (*java_groups + 1 > cap) {
                    int *m;

                    cap = cap == 0 ? 8 : cap * 2;
                    m = realloc(*map, (cap + 1) * sizeof *m);
                    if (m == NULL) {
                        return -2;
                    }
                    *map = m;
                }
                (*map)[++*java_groups] = (int)posix;
            }
            if (rr_adds(out, "(") != 0) {
                return -2;
            }
            continue;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') &&
            (re[i + 1] == '?' || re[i + 1] == '+')) {
            snprintf(errstr, errstr_size,
                     "'regex': the lazy or possessive quantifier '%c%c' in '%s' has no POSIX "
                     "translation (the whole topic must match anyway: drop the '%c')",
                     c, re[i + 1], re, re[i + 1]);
            return -1;
        }
        if (rr_add(out, &c, 1) != 0) {
            return -2;
        }
    }
    if (in_bracket) {
        snprintf(errstr, errstr_size, "'regex': unterminated [...] in '%s'", re);
        return -1;
    }
    return rr_adds(out, ")$") != 0 ? -2 : 0;
}

/* Parses Java's replacement syntax: $n (as many digits as make an existing group), \x (x). */
static sluice_err_t rr_parse_replacement(struct regex_router *x, const char *rep, char *errstr,
                                         size_t errstr_size)
{
    size_t len = strlen(rep), nl = 0;

    x->lits = malloc(len + 1);
    x->pieces = calloc(len + 1, sizeof *x->pieces);
    if (x->lits == NULL || x->pieces == NULL) {
        return xf_oom(errstr, errstr_size);
    }
    for (size_t i = 0; i < len; i++) {
        if (rep[i] == '$') {
            size_t g;

            if (rep[i + 1] < '0' || rep[i + 1] > '9') {
                snprintf(errstr, errstr_size,
                         "'replacement': '$' at %zu of '%s' is not followed by a group number "
                         "(write \\$ for a dollar sign; named groups are not supported)",
                         i, rep);
                return SLUICE_ERR_CONFIG;
            }
            g = (size_t)(rep[++i] - '0');
            while (rep[i + 1] >= '0' && rep[i + 1] <= '9' &&
                   g * 10 + (size_t)(rep[i + 1] - '0') <= x->java_groups) {
                g = g * 10 + (size_t)(rep[++i] - '0');
            }
            if (g > x->java_groups) {
                snprintf(errstr, errstr_size,
                         "'replacement': '$%zu' in '%s', but the regex has %zu "
                         "group%s",
                         g, rep, x->java_groups, x->java_groups == 1 ? "" : "s");
                return SLUICE_ERR_CONFIG;
            }
            x->pieces[x->npieces++] = (struct rr_piece){g == 0 ? 0 : x->group_map[g], 0, 0};
            continue;
        }
        if (rep[i] == '\\') {
            if (rep[i + 1] == '\0') {
                snprintf(errstr, errstr_size, "'replacement': '%s' ends with a lone backslash",
                         rep);
                return SLUICE_ERR_CONFIG;
            }
            i++;
        }
        if (x->npieces > 0 && x->pieces[x->npieces - 1].group < 0) {
            x->pieces[x->npieces - 1].len++;
        } else {
            x->pieces[x->npieces++] = (struct rr_piece){-1, nl, 1};
        }
        x->lits[nl++] = rep[i];
    }
    return SLUICE_OK;
}

static void regex_router_free(struct regex_router *x)
{
    if (x == NULL) {
        return;
    }
    if (x->compiled) {
        regfree(&x->re);
    }
    free(x->group_map);
    free(x->match);
    free(x->lits);
    free(x->pieces);
    free(x->topic);
    for (size_t i = 0; x->cache != NULL && i < x->ncache; i++) {
        free(x->cache[i].topic);
        free(x->cache[i].result);
    }
    free(x->cache);
    free(x);
}

static sluice_err_t regex_router_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                      const sluice_config_t *config, void **state, char *errstr,
                                      size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    struct regex_router *x = calloc(1, sizeof *x);
    const char *regex = host->config_string(config, "regex");
    const char *replacement = host->config_string(config, "replacement");
    struct rr_str posix = {0};
    int rc;

    if (x == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    x->host = host;
    x->ctx = ctx;
    rc = rr_translate(regex != NULL ? regex : "", &posix, &x->group_map, &x->java_groups, errstr,
                      errstr_size);
    if (rc != 0) {
        err = rc == -1 ? SLUICE_ERR_CONFIG : xf_oom(errstr, errstr_size);
        goto out;
    }
    rc = regcomp(&x->re, posix.p, REG_EXTENDED);
    if (rc != 0) {
        char why[128];

        regerror(rc, &x->re, why, sizeof why);
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size, "'regex': '%s' is not a valid regex: %s", regex, why);
        goto out;
    }
    x->compiled = 1;
    x->nmatch = x->re.re_nsub + 1;
    x->match = calloc(x->nmatch, sizeof *x->match);
    x->cache = calloc(RR_CACHE_SIZE, sizeof *x->cache);
    if (x->match == NULL || x->cache == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    err = rr_parse_replacement(x, replacement != NULL ? replacement : "", errstr, errstr_size);
    if (err != SLUICE_OK) {
        goto out;
    }
    *state = x;
    x = NULL;
out:
    free(posix.p);
    regex_router_free(x);
    return err;
}

/* The route of `topic`: RR_NONE (no match), RR_RENAME (the new topic in x->topic), RR_EMPTY
 * (the replacement gives ""), or -1 (out of memory). */
enum { RR_NONE = 0, RR_RENAME = 1, RR_EMPTY = 2 };

static int rr_route(struct regex_router *x, const char *topic)
{
    size_t len = 0;

    if (regexec(&x->re, topic, x->nmatch, x->match, 0) != 0) {
        return RR_NONE; /* Kafka Connect leaves other topics alone */
    }
    for (size_t pass = 0; pass < 2; pass++) {
        len = 0;
        for (size_t i = 0; i < x->npieces; i++) {
            const struct rr_piece *p = &x->pieces[i];
            const char *src = x->lits + p->off;
            size_t n = p->len;

            if (p->group >= 0) {
                const regmatch_t *m = &x->match[p->group];

                src = topic + (m->rm_so >= 0 ? m->rm_so : 0);
                n = m->rm_so >= 0 ? (size_t)(m->rm_eo - m->rm_so) : 0; /* unmatched: "" */
            }
            if (pass == 1) {
                memcpy(x->topic + len, src, n);
            }
            len += n;
        }
        if (pass == 0 && len + 1 > x->topic_cap) {
            char *t = realloc(x->topic, len + 1);

            if (t == NULL) {
                return -1;
            }
            x->topic = t;
            x->topic_cap = len + 1;
        }
    }
    x->topic[len] = '\0';
    return len == 0 ? RR_EMPTY : RR_RENAME;
}

/* The cached route of `topic`, computed on a miss; NULL when out of memory. A topic's route never
 * changes, and a stream has few topics: the steady path neither runs regexec (which allocates in
 * glibc) nor allocates. */
static const struct rr_cached *rr_lookup(struct regex_router *x, const char *topic)
{
    struct rr_cached *c;
    char *key, *result = NULL;
    int route;

    if (x->ncache > 0 && strcmp(x->cache[x->last].topic, topic) == 0) {
        return &x->cache[x->last];
    }
    for (size_t i = 0; i < x->ncache; i++) {
        if (strcmp(x->cache[i].topic, topic) == 0) {
            x->last = i;
            return &x->cache[i];
        }
    }
    route = rr_route(x, topic);
    key = strdup(topic);
    if (route == RR_RENAME) {
        result = strdup(x->topic);
    }
    if (route < 0 || key == NULL || (route == RR_RENAME && result == NULL)) {
        free(key);
        free(result);
        return NULL;
    }
    if (x->ncache < RR_CACHE_SIZE) {
        x->last = x->ncache++;
    } else { /* more topics than slots: replace in turn */
        x->last = x->evict;
        x->evict = (x->evict + 1) % RR_CACHE_SIZE;
        free(x->cache[x->last].topic);
        free(x->cache[x->last].result);
    }
    c = &x->cache[x->last];
    *c = (struct rr_cached){key, result, route};
    return c;
}

static sluice_err_t regex_router_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                         char *errstr, size_t errstr_size)
{
    struct regex_router *x = state;
    const struct sluice_host *h = x->host;
    const char *topic = h->record_topic(record);
    const struct rr_cached *c;
    sluice_err_t err = SLUICE_OK;

    if (topic == NULL) {
        goto forward;
    }
    c = rr_lookup(x, topic);
    if (c == NULL) {
        err = xf_oom(errstr, errstr_size);
        goto out;
    }
    if (c->route == RR_EMPTY) {
        err = SLUICE_ERR_INVALID;
        snprintf(errstr, errstr_size, "the topic '%s' would be renamed to an empty topic", topic);
        goto out;
    }
    if (c->route == RR_RENAME) {
        h->record_set_topic(record, c->result);
    }
forward:
    err = h->batch_push(out, record);
    if (err != SLUICE_OK) {
        snprintf(errstr, errstr_size, "cannot forward the record");
    }
out:
    return err;
}

static void regex_router_destroy(void *state)
{
    regex_router_free(state);
}

static const struct sluice_transform regex_router_transform = {
    .struct_size = sizeof(struct sluice_transform),
    .config = regex_router_config,
    .init = regex_router_init,
    .process = regex_router_process,
    .destroy = regex_router_destroy,
};

static const struct sluice_alias regex_router_aliases[] = {
    {"org.apache.kafka.connect.transforms.RegexRouter", NULL, NULL},
    {NULL, NULL, NULL},
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "regex-router",
    .version = "1.0.0",
    .summary = "Rename each record's topic when it matches a regex",
    .description =
        "Kafka Connect's `RegexRouter`, with the same keys. When the whole topic matches "
        "`regex`, it becomes `replacement`, in which `$1`, `$2` ... stand for the regex's groups "
        "(`$0` the whole topic, `\\$` a dollar sign); other topics pass unchanged. A replacement "
        "that gives an empty topic is an error.\n"
        "\n"
        "The regex is Java's syntax, translated at start-up into a POSIX extended regex "
        "(regcomp) anchored at both ends. Java's `\\d \\D \\w \\W \\s \\S`, which glibc lacks, "
        "become character classes (also inside `[...]`), `\\Q...\\E` and `\\t \\n` are "
        "understood, and `(?:...)` groups do not count in the `$n` numbering. What POSIX cannot "
        "express is refused when the pipeline is loaded, never mismatched at run time: "
        "lookaround and named groups `(?...)`, lazy or possessive quantifiers (`*?`, `++`), "
        "back-references, `\\p{...}` and other escapes. Which topics match is the same as in "
        "Java; only the groups of an ambiguous alternation can differ (for `(a|ab)(c|bcd)` Java "
        "takes the first alternative that works, POSIX the longest): greedy `(.*)` groups agree."
        "\n"
        "\n"
        "```yaml\n"
        "transforms:\n"
        "  - plugin: regex-router\n"
        "    config:\n"
        "      regex: \"(.*)-(avro|json)\"\n"
        "      replacement: \"$1\"\n"
        "```",
    .transform = &regex_router_transform,
    .aliases = regex_router_aliases,
};
