/* connect_config.h — Kafka Connect's flat connector config ({"connector.class": ..., "file": ...},
 * all strings) as a sluice pipeline written in YAML, for worker_put (POST /connectors, PUT
 * /connectors/{name}/config). Mapping (docs/rest-api.md): `connector.class` is a plugin's name or
 * alias; a source class makes a pipeline with that source, a sink class a pipeline with one sink,
 * both named after the connector. `topic` / a sink's single `topics` is the pipeline's topic; the
 * core's pipeline and sink keys (converters, errors.*, tasks.max, ...) stay core keys;
 * `transforms`/`predicates` become the pipeline's chains; everything else is the plugin's config.
 * Values are literal text: quoted for YAML and with `$` doubled, so that a REST client can neither
 * inject YAML nor read the environment or files through ${...}. */
#ifndef SLUICE_CONNECT_CONFIG_H
#define SLUICE_CONNECT_CONFIG_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "loader.h"

/* `config`: a JSON object of the connector's config; `name`: the connector's name (the URL's or
 * the body's); a `name` key inside must equal it. Appends one YAML document to `yaml`; *is_sink
 * tells which connector it makes. Returns 0, or 400 with a message in `err` (a value that is not a
 * string, number or boolean; an unknown class; several topics for a sink; ...). */
int connect_config_to_yaml(const registry_t *reg, const char *name, const cJSON *config,
                           buf_t *yaml, int *is_sink, char *err, size_t errlen);

/* Append `s` as a YAML double-quoted scalar that sluice reads back as exactly `s` (escapes, and
 * `$` written `$$` against interpolation). */
void connect_yaml_quote(buf_t *out, const char *s);
/* The same for a mapping's key (keys are not interpolated: '$' stays). */
void connect_yaml_quote_key(buf_t *out, const char *s);

#endif
