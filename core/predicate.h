/* predicate.h — Kafka Connect's transform predicates: TopicNameMatches, HasHeaderKey,
 * RecordIsTombstone, with `negate`. A transform with a predicate applies only to the records the
 * predicate matches (or, negated, does not match); the others pass it unchanged.
 *
 * YAML: a pipeline's `predicates:` maps names to definitions, and a transform's `predicate:` names
 * one (as Kafka Connect's `predicates.<name>.type` / `transforms.<t>.predicate`) or defines one
 * inline:
 *
 *     predicates:
 *       only-orders: {type: topic-name-matches, pattern: "orders.*"}
 *     source:
 *       transforms:
 *         - plugin: filter
 *           predicate: only-orders
 *           negate: true
 *         - plugin: drop-headers
 *           predicate: {type: has-header-key, name: trace}
 *           config: {headers: trace}
 *
 * `type` takes sluice's kebab-case names or Kafka Connect's class names (short or full). */
#ifndef SLUICE_PREDICATE_H
#define SLUICE_PREDICATE_H

#include <regex.h>

#include "config.h"
#include "record.h"

typedef enum predicate_kind {
    PREDICATE_TOPIC_NAME_MATCHES,
    PREDICATE_HAS_HEADER_KEY,
    PREDICATE_RECORD_IS_TOMBSTONE,
} predicate_kind_t;

typedef struct predicate {
    predicate_kind_t kind;
    int negate;
    char *label;  /* the name in `predicates:`, or "inline" */
    char *header; /* has-header-key: the header name */
    regex_t re;   /* topic-name-matches: the pattern, anchored at both ends */
    int has_re;
} predicate_t;

/* The predicate of transform `t` of pipeline `cp` (NULL when it has none, or after adding an error
 * naming the file, line and key to `errs`; *failed tells the two apart). */
predicate_t *predicate_resolve(const config_pipeline_t *cp, const config_instance_t *t,
                               const char *what, int *failed, config_errors_t *errs);
/* 1 when the transform applies to `r` (the predicate matches, or does not when negated). */
int predicate_applies(const predicate_t *p, sluice_record_t *r);
void predicate_free(predicate_t *p);

#endif
