/* schema_registry.c — see schema_registry.h. (Being written: the avro converter's helper.) */
#include "schema_registry.h"

#include <stdio.h>
#include <string.h>

int sr_strategy_parse(const char *name, enum sr_strategy *out)
{
    (void)name;
    *out = SR_TOPIC_NAME;
    return 0;
}

int sr_config_check(const char *const *keys, const char *const *values, size_t n, char *errstr,
                    size_t errstr_size)
{
    (void)keys, (void)values, (void)n, (void)errstr, (void)errstr_size;
    return 0;
}

sr_client_t *sr_client_new(const char *const *keys, const char *const *values, size_t n,
                           char *errstr, size_t errstr_size)
{
    (void)keys, (void)values, (void)n;
    snprintf(errstr, errstr_size, "the schema registry client is not built yet");
    return NULL;
}

void sr_client_free(sr_client_t *c)
{
    (void)c;
}
