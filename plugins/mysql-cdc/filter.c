/*
 * filter.c — mysql-cdc binlog mode: which tables are captured (database/table include and exclude
 * lists as anchored, case-insensitive regular expressions, like Debezium; never the system
 * databases).
 */
#include "cdc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cdc_match_any(const regex_t *re, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (regexec(&re[i], s, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

int cdc_table_included(const struct cdc *c, const char *db, const char *table)
{
    static const char *const system_dbs[] = {"mysql", "information_schema", "performance_schema",
                                             "sys", NULL};
    for (size_t i = 0; system_dbs[i]; i++)
        if (strcmp(db, system_dbs[i]) == 0)
            return 0;
    if (c->ndb_inc && !cdc_match_any(c->db_inc, c->ndb_inc, db))
        return 0;
    if (cdc_match_any(c->db_exc, c->ndb_exc, db))
        return 0;
    char fq[512];
    snprintf(fq, sizeof fq, "%s.%s", db, table);
    if (c->ntb_inc && !cdc_match_any(c->tb_inc, c->ntb_inc, fq))
        return 0;
    if (cdc_match_any(c->tb_exc, c->ntb_exc, fq))
        return 0;
    return 1;
}

int cdc_regexes(struct cdc *c, const sluice_config_t *cfg, const char *key, regex_t **out,
                size_t *n, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    *n = 0;
    if (!h->config_has(cfg, key))
        return 0;
    size_t cnt = h->config_count(cfg, key);
    if (!cnt)
        return 0;
    *out = calloc(cnt, sizeof(regex_t));
    if (!*out)
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        const char *item = h->config_item(cfg, key, i);
        size_t len = strlen(item) + 8;
        char *pat = malloc(len);
        if (!pat)
            return -1;
        snprintf(pat, len, "^(%s)$", item);
        int rc = regcomp(&(*out)[i], pat, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        free(pat);
        if (rc != 0) {
            char why[128];
            regerror(rc, &(*out)[i], why, sizeof why);
            cdc_fail(errstr, errstr_size, "'%s': '%s' is not a valid regular expression: %s", key,
                     item, why);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

void cdc_regexes_free(regex_t *re, size_t n)
{
    for (size_t i = 0; i < n; i++)
        regfree(&re[i]);
    free(re);
}
