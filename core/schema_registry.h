/* schema_registry.h — a client of a Confluent-compatible Schema Registry (Confluent's own,
 * Apicurio's ccompat API, Confluent Cloud): registers schemas under subjects and fetches them by
 * id, caching both. One client per run, shared by every converter; thread-safe (the caches are
 * behind a mutex, HTTP calls run outside it, each on its own libcurl handle). */
#ifndef SLUICE_SCHEMA_REGISTRY_H
#define SLUICE_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

typedef struct sr_client sr_client_t;

/* Subject name strategies (Confluent's key/value.subject.name.strategy). */
enum sr_strategy { SR_TOPIC_NAME = 0, SR_RECORD_NAME, SR_TOPIC_RECORD_NAME };

/* Parse a strategy name: the short form or Confluent's class name. Returns -1 if unknown. */
int sr_strategy_parse(const char *name, enum sr_strategy *out);

/* Check the keys of the YAML `schema.registry:` block (`url` required;
 * `basic.auth.credentials.source`, `basic.auth.user.info`, `request.timeout.ms`,
 * `ssl.ca.location`). On error writes a message naming the key (with a "did you mean" hint) and
 * returns -1. Used by lint. Never echoes a secret. */
int sr_config_check(const char *const *keys, const char *const *values, size_t n, char *errstr,
                    size_t errstr_size);
/* A client from the same keys (nothing is contacted yet). NULL with a message on error. */
sr_client_t *sr_client_new(const char *const *keys, const char *const *values, size_t n,
                           char *errstr, size_t errstr_size);
void sr_client_free(sr_client_t *c);

/* The first url of the client as messages show it: as written, with its credentials hidden by
 * redact_url() (the one rule of core/redact.c), e.g. "https://" REDACTED "@sr.example:8081". Every
 * url in this module's messages is shown that way. */
const char *sr_client_url(const sr_client_t *c);

/* The id of `schema` (Avro schema JSON text) under `subject`. With `auto_register` the schema is
 * registered (POST /subjects/{subject}/versions; the registry returns the existing id when it is
 * already there), otherwise looked up (POST /subjects/{subject}); cached per (subject, text), so a
 * repeated call makes no HTTP request. Errors: SLUICE_ERR_IO when the registry cannot be reached or
 * fails (5xx), SLUICE_ERR_INVALID when it refuses the schema (4xx: incompatible, invalid, not
 * registered, unauthorised); the message names the registry's url and the subject. */
sluice_err_t sr_client_schema_id(sr_client_t *c, const char *subject, const char *schema,
                                 int auto_register, int32_t *id, char *errstr, size_t errstr_size);

/* The schema text of `id` (GET /schemas/ids/{id}), cached. `*text` stays valid until the client is
 * freed. Errors as above; an unknown id is SLUICE_ERR_INVALID with a message naming the id. */
sluice_err_t sr_client_schema_by_id(sr_client_t *c, int32_t id, const char **text, char *errstr,
                                    size_t errstr_size);

/* Put (id, text) into the by-id cache without asking the registry (unit tests, fixtures). */
sluice_err_t sr_client_preload(sr_client_t *c, int32_t id, const char *text);
/* Put (subject, text) → id into the by-subject cache, the same way (unit tests). */
void sr_client_preload_subject(sr_client_t *c, const char *subject, const char *text, int32_t id);

/* The registry's answers, parsed (public for tests/fuzz/fuzz_registry.c). `body` is `len` bytes.
 * The id of a POST answer {"id": N}: SLUICE_ERR_IO when there is none in 0..INT32_MAX. */
sluice_err_t sr_answer_id(const char *body, size_t len, int32_t *id);
/* The schema of a GET /schemas/ids answer, malloc'd into `*text`: SLUICE_ERR_INVALID when its
 * "schemaType" is not AVRO (the type then in `type`), SLUICE_ERR_IO when it has no schema. */
sluice_err_t sr_answer_schema(const char *body, size_t len, char **text, char *type,
                              size_t type_size);
/* An error answer {"error_code": N, "message": "..."} as ", error_code N: message" (or ": body"),
 * and its error_code (0 if none) when `error_code` is not NULL. */
void sr_answer_error(const char *body, size_t len, char *out, size_t outsz, int *error_code);

/* Counters for tests: HTTP requests made so far (any outcome). */
uint64_t sr_client_requests(sr_client_t *c);

#endif
