/* schema_registry.h — a client of a Confluent-compatible Schema Registry (Confluent's own, Apicurio's
 * ccompat API, Confluent Cloud): registers schemas under subjects and fetches them by id, caching
 * both. One client per run, shared by every converter; thread-safe. */
#ifndef SLUICE_SCHEMA_REGISTRY_H
#define SLUICE_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct sr_client sr_client_t;

/* Subject name strategies (Confluent's key/value.subject.name.strategy). */
enum sr_strategy { SR_TOPIC_NAME = 0, SR_RECORD_NAME, SR_TOPIC_RECORD_NAME };

/* Parse a strategy name: the short form or Confluent's class name. Returns -1 if unknown. */
int sr_strategy_parse(const char *name, enum sr_strategy *out);

/* Check the keys of the YAML `schema.registry:` block (`url` required; `basic.auth.credentials.source`,
 * `basic.auth.user.info`, …). On error writes a message naming the key and returns -1. Used by lint. */
int sr_config_check(const char *const *keys, const char *const *values, size_t n, char *errstr,
                    size_t errstr_size);
/* A client from the same keys (nothing is contacted yet). NULL with a message on error. */
sr_client_t *sr_client_new(const char *const *keys, const char *const *values, size_t n,
                           char *errstr, size_t errstr_size);
void sr_client_free(sr_client_t *c);

#endif
