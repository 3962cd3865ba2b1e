/*
 * schema.c — mysql-cdc binlog mode: the captured tables, their columns (from information_schema)
 * and the Connect schemas Debezium gives them: `<prefix>.<db>.<table>.Key`, `.Value`,
 * `.Envelope`, and `io.debezium.connector.mysql.Source`.
 */
#include "cdc.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

sluice_err_t cdc_meta_open(struct cdc *c, char *errstr, size_t errstr_size)
{
    if (c->meta)
        return SLUICE_OK;
    int transient = 0;
    c->meta = mysql_conn_open(&c->conn, &transient, errstr, errstr_size);
    if (!c->meta)
        return transient ? SLUICE_NOT_CONNECTED : SLUICE_FATAL;
    return SLUICE_OK;
}

void cdc_meta_close(struct cdc *c)
{
    if (c->meta) {
        mysql_close(c->meta);
        c->meta = NULL;
    }
}

MYSQL_RES *cdc_query(struct cdc *c, MYSQL *m, const char *sql, char *errstr, size_t errstr_size)
{
    if (mysql_query(m, sql) != 0) {
        cdc_fail(errstr, errstr_size, "%s on %s: %s", sql, c->who, mysql_error(m));
        return NULL;
    }
    MYSQL_RES *r = mysql_store_result(m);
    if (!r && mysql_errno(m))
        cdc_fail(errstr, errstr_size, "%s on %s: %s", sql, c->who, mysql_error(m));
    return r;
}

static sluice_schema_t *cdc_schema_json(struct cdc *c, const char *json)
{
    char err[256];
    return c->h->schema_from_json(c->ctx, json, strlen(json), err, sizeof err);
}

/* The Source struct of Debezium 2.x's MySQL connector, field for field. */
sluice_err_t cdc_schema_init(struct cdc *c, char *errstr, size_t errstr_size)
{
    c->source_schema = cdc_schema_json(
        c, "{\"type\":\"struct\",\"name\":\"io.debezium.connector.mysql.Source\",\"fields\":["
           "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
           "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
           "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
           "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
           "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\","
           "\"version\":1,\"parameters\":{\"allowed\":\"true,last,false,incremental\"},"
           "\"default\":\"false\",\"field\":\"snapshot\"},"
           "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"table\"},"
           "{\"type\":\"int64\",\"optional\":false,\"field\":\"server_id\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"gtid\"},"
           "{\"type\":\"string\",\"optional\":false,\"field\":\"file\"},"
           "{\"type\":\"int64\",\"optional\":false,\"field\":\"pos\"},"
           "{\"type\":\"int32\",\"optional\":false,\"field\":\"row\"},"
           "{\"type\":\"int64\",\"optional\":true,\"field\":\"thread\"},"
           "{\"type\":\"string\",\"optional\":true,\"field\":\"query\"}]}");
    if (!c->source_schema) {
        cdc_fail(errstr, errstr_size, "out of memory building the source schema");
        return SLUICE_ERR_NOMEM;
    }
    return SLUICE_OK;
}

static void cdc_col_free(struct cdc_col *col)
{
    free(col->name);
    for (size_t i = 0; i < col->nvalues; i++)
        free(col->values[i]);
    free(col->values);
}

static void cdc_table_free(struct cdc_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++)
        cdc_col_free(&t->cols[i]);
    free(t->cols);
    free(t->pk);
    free(t->btype);
    free(t->bmeta);
    free(t->db);
    free(t->name);
    free(t->topic);
    free(t);
}

void cdc_tables_free(struct cdc *c)
{
    for (size_t i = 0; i < c->ntables; i++)
        cdc_table_free(c->tables[i]);
    free(c->tables);
    c->tables = NULL;
    c->ntables = 0;
}

/* ENUM('a','b''c') / SET(...) members. */
static int cdc_parse_members(struct cdc_col *col, const char *ctype)
{
    const char *p = strchr(ctype, '(');
    if (!p)
        return 0;
    p++;
    size_t cap = 8;
    col->values = calloc(cap, sizeof(char *));
    if (!col->values)
        return -1;
    while (*p == '\'') {
        p++;
        char *v = malloc(strlen(p) + 1), *o = v;
        if (!v)
            return -1;
        while (*p) {
            if (*p == '\'' && p[1] == '\'') {
                *o++ = '\'';
                p += 2;
            } else if (*p == '\'') {
                p++;
                break;
            } else if (*p == '\\' && p[1]) {
                *o++ = p[1];
                p += 2;
            } else {
                *o++ = *p++;
            }
        }
        *o = 0;
        if (col->nvalues == cap) {
            cap *= 2;
            char **nv = realloc(col->values, cap * sizeof(char *));
            if (!nv) {
                free(v);
                return -1;
            }
            col->values = nv;
        }
        col->values[col->nvalues++] = v;
        if (*p == ',')
            p++;
    }
    return 0;
}

static enum cdc_charset cdc_charset_of(const char *name)
{
    if (!name)
        return CS_BINARY;
    if (strncmp(name, "utf8", 4) == 0)
        return CS_UTF8;
    if (strcmp(name, "latin1") == 0)
        return CS_LATIN1;
    if (strcmp(name, "ascii") == 0)
        return CS_ASCII;
    if (strcmp(name, "binary") == 0)
        return CS_BINARY;
    return CS_OTHER;
}

static void cdc_col_kind(struct cdc_col *col, const char *dt, const char *ctype, int has_json_check)
{
    int u = col->is_unsigned;
    col->kind = K_OTHER;
    if (!strcmp(dt, "tinyint"))
        col->kind = K_INT16;
    else if (!strcmp(dt, "smallint"))
        col->kind = u ? K_INT32 : K_INT16;
    else if (!strcmp(dt, "mediumint"))
        col->kind = K_INT32;
    else if (!strcmp(dt, "int") || !strcmp(dt, "integer"))
        col->kind = u ? K_INT64 : K_INT32;
    else if (!strcmp(dt, "bigint"))
        col->kind = u ? K_U64 : K_INT64;
    else if (!strcmp(dt, "float"))
        /* Debezium: FLOAT without (M,D) and precision <= 24 is float32 */
        col->kind = strchr(ctype, ',') ? K_FLOAT64 : K_FLOAT32;
    else if (!strcmp(dt, "double") || !strcmp(dt, "real"))
        col->kind = K_FLOAT64;
    else if (!strcmp(dt, "decimal") || !strcmp(dt, "numeric"))
        col->kind = K_DECIMAL;
    else if (strstr(dt, "char") || strstr(dt, "text"))
        col->kind = (has_json_check || col->cs != CS_BINARY) ? K_STRING : K_BYTES;
    else if (strstr(dt, "binary") || strstr(dt, "blob"))
        col->kind = K_BYTES;
    else if (!strcmp(dt, "date"))
        col->kind = K_DATE;
    else if (!strcmp(dt, "datetime"))
        col->kind = K_DATETIME;
    else if (!strcmp(dt, "timestamp"))
        col->kind = K_TIMESTAMP;
    else if (!strcmp(dt, "time"))
        col->kind = K_TIME;
    else if (!strcmp(dt, "year"))
        col->kind = K_YEAR;
    else if (!strcmp(dt, "enum"))
        col->kind = K_ENUM;
    else if (!strcmp(dt, "set"))
        col->kind = K_SET;
    else if (!strcmp(dt, "bit"))
        col->kind = col->bits == 1 ? K_BOOL : K_BITS;
    else if (!strcmp(dt, "json"))
        col->kind = K_JSON;
    if (has_json_check && col->kind == K_STRING)
        col->kind = K_JSON; /* MariaDB's JSON is LONGTEXT CHECK (json_valid(col)) */
}

/* The field schema of a column, as Debezium builds it. */
static sluice_schema_t *cdc_col_schema(struct cdc *c, struct cdc_col *col)
{
    const struct sluice_host *h = c->h;
    const char *opt = col->nullable ? "true" : "false";
    const char *type = NULL, *name = NULL;
    char params[128] = ""; /* parameters of a fixed size; ENUM/SET's list is written below */
    switch (col->kind) {
    case K_INT16:
        type = "int16";
        break;
    case K_INT32:
        type = "int32";
        break;
    case K_INT64:
        type = "int64";
        break;
    case K_U64:
        if (c->bigint_precise) {
            type = "bytes";
            name = SLUICE_LOGICAL_DECIMAL;
            snprintf(params, sizeof params,
                     "{\"scale\":\"0\",\"connect.decimal.precision\":\"20\"}");
        } else {
            type = "int64";
        }
        break;
    case K_FLOAT32:
        type = "float";
        break;
    case K_FLOAT64:
        type = "double";
        break;
    case K_DECIMAL:
        if (c->dec_mode == DEC_PRECISE) {
            type = "bytes";
            name = SLUICE_LOGICAL_DECIMAL;
            snprintf(params, sizeof params,
                     "{\"scale\":\"%d\",\"connect.decimal.precision\":\"%d\"}", col->scale,
                     col->precision);
        } else {
            type = c->dec_mode == DEC_DOUBLE ? "double" : "string";
        }
        break;
    case K_STRING:
        type = "string";
        break;
    case K_BYTES:
    case K_OTHER:
        type = c->bin_mode == BIN_BYTES ? "bytes" : "string";
        break;
    case K_DATE:
        type = "int32";
        name = c->time_connect ? SLUICE_LOGICAL_DATE : "io.debezium.time.Date";
        break;
    case K_DATETIME:
        type = "int64";
        name = c->time_connect ? SLUICE_LOGICAL_TIMESTAMP
               : col->fsp <= 3 ? "io.debezium.time.Timestamp"
                               : "io.debezium.time.MicroTimestamp";
        break;
    case K_TIMESTAMP:
        type = "string";
        name = "io.debezium.time.ZonedTimestamp";
        break;
    case K_TIME:
        type = c->time_connect ? "int32" : "int64";
        name = c->time_connect ? SLUICE_LOGICAL_TIME : "io.debezium.time.MicroTime";
        break;
    case K_YEAR:
        type = "int32";
        name = "io.debezium.time.Year";
        break;
    case K_ENUM:
    case K_SET:
        type = "string";
        name = col->kind == K_ENUM ? "io.debezium.data.Enum" : "io.debezium.data.EnumSet";
        break;
    case K_BOOL:
        type = "boolean";
        break;
    case K_BITS:
        type = "bytes";
        name = "io.debezium.data.Bits";
        snprintf(params, sizeof params, "{\"length\":\"%d\"}", col->bits);
        break;
    case K_JSON:
        type = "string";
        name = "io.debezium.data.Json";
        break;
    }
    sluice_buf_t *j = h->buf_new(256), *allowed = NULL;
    sluice_schema_t *sc = NULL;
    if (!j)
        return NULL;
    h->buf_printf(j, "{\"type\":\"%s\",\"optional\":%s", type, opt);
    if (name)
        h->buf_printf(j, ",\"name\":\"%s\",\"version\":1", name);
    if (name && (col->kind == K_ENUM || col->kind == K_SET)) {
        /* Debezium's "allowed": the members joined by commas, as one JSON string. */
        allowed = h->buf_new(256);
        for (size_t i = 0; allowed && i < col->nvalues; i++)
            h->buf_printf(allowed, "%s%s", i ? "," : "", col->values[i]);
        if (!allowed || h->buf_error(allowed) != SLUICE_OK)
            goto out;
        h->buf_printf(j, ",\"parameters\":{\"allowed\":");
        h->buf_append_json_string(j, h->buf_data(allowed), h->buf_len(allowed));
        h->buf_printf(j, "}");
    } else if (name && params[0]) {
        h->buf_printf(j, ",\"parameters\":%s", params);
    }
    h->buf_printf(j, "}");
    if (h->buf_error(j) == SLUICE_OK)
        sc = cdc_schema_json(c, h->buf_data(j));
out:
    if (allowed)
        h->buf_free(allowed);
    h->buf_free(j);
    return sc;
}

static char *cdc_escape(struct cdc *c, MYSQL *m, const char *s)
{
    (void)c;
    size_t n = strlen(s);
    char *o = malloc(2 * n + 1);
    if (o)
        mysql_real_escape_string(m, o, s, (unsigned long)n);
    return o;
}

static int cdc_table_build_schemas(struct cdc *c, struct cdc_table *t, char *errstr,
                                   size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    char name[1024];
    snprintf(name, sizeof name, "%s.%s.%s.Value", c->logical, t->db, t->name);
    for (char *p = name + strlen(c->logical); *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.'))
            *p = '_';
    size_t base = strlen(name) - strlen(".Value");
    t->value_schema = h->schema_struct(c->ctx, name);
    if (!t->value_schema)
        goto nomem;
    h->schema_set_optional(t->value_schema, 1);
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->cols[i].schema ||
            h->schema_add_field(t->value_schema, t->cols[i].name, t->cols[i].schema) != SLUICE_OK)
            goto nomem;
    t->key_schema = NULL;
    if (t->npk) {
        snprintf(name + base, sizeof name - base, ".Key");
        t->key_schema = h->schema_struct(c->ctx, name);
        if (!t->key_schema)
            goto nomem;
        for (size_t k = 0; k < t->npk; k++)
            if (h->schema_add_field(t->key_schema, t->cols[t->pk[k]].name,
                                    t->cols[t->pk[k]].schema) != SLUICE_OK)
                goto nomem;
    }
    snprintf(name + base, sizeof name - base, ".Envelope");
    t->env_schema = h->schema_struct(c->ctx, name);
    sluice_schema_t *op = h->schema_new(c->ctx, SLUICE_TYPE_STRING);
    sluice_schema_t *ts = h->schema_new(c->ctx, SLUICE_TYPE_INT64);
    sluice_schema_t *tx = cdc_schema_json(
        c, "{\"type\":\"struct\",\"optional\":true,\"name\":\"event.block\",\"version\":1,"
           "\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
           "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
           "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}]}");
    if (!t->env_schema || !op || !ts || !tx)
        goto nomem;
    h->schema_set_optional(ts, 1);
    if (h->schema_add_field(t->env_schema, "before", t->value_schema) != SLUICE_OK ||
        h->schema_add_field(t->env_schema, "after", t->value_schema) != SLUICE_OK ||
        h->schema_add_field(t->env_schema, "source", c->source_schema) != SLUICE_OK ||
        h->schema_add_field(t->env_schema, "op", op) != SLUICE_OK ||
        h->schema_add_field(t->env_schema, "ts_ms", ts) != SLUICE_OK ||
        h->schema_add_field(t->env_schema, "transaction", tx) != SLUICE_OK)
        goto nomem;
    return 0;
nomem:
    cdc_fail(errstr, errstr_size, "out of memory building the schemas of %s.%s", t->db, t->name);
    return -1;
}

/* Reads the columns of db.name into a new table; NULL (message set) on error, NULL with an
 * empty message when the table does not exist. */
static struct cdc_table *cdc_table_load(struct cdc *c, const char *db, const char *name,
                                        char *errstr, size_t errstr_size)
{
    MYSQL *m = c->meta;
    struct cdc_table *t = calloc(1, sizeof *t);
    char *edb = cdc_escape(c, m, db), *etb = cdc_escape(c, m, name);
    char *sql = NULL;
    MYSQL_RES *r = NULL;
    char **json_cols = NULL;
    size_t njson = 0;
    errstr[0] = 0;
    if (!t || !edb || !etb || !(sql = malloc(strlen(edb) + strlen(etb) + 600)))
        goto nomem;
    t->db = strdup(db);
    t->name = strdup(name);
    if (!t->db || !t->name)
        goto nomem;
    if (c->prefix) {
        size_t n = strlen(c->prefix) + strlen(db) + strlen(name) + 3;
        if (!(t->topic = malloc(n)))
            goto nomem;
        snprintf(t->topic, n, "%s.%s.%s", c->prefix, db, name);
    }

    /* MariaDB's JSON columns: LONGTEXT with CHECK (json_valid(`col`)) */
    sprintf(sql,
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE "
            "CONSTRAINT_SCHEMA='%s' AND TABLE_NAME='%s'",
            edb, etb);
    if (mysql_query(m, sql) == 0 && (r = mysql_store_result(m))) {
        MYSQL_ROW row;
        while ((row = mysql_fetch_row(r))) {
            const char *p = row[0] ? strstr(row[0], "json_valid(`") : NULL;
            if (!p)
                continue;
            p += strlen("json_valid(`");
            const char *e = strchr(p, '`');
            if (!e)
                continue;
            char **nj = realloc(json_cols, (njson + 1) * sizeof(char *));
            if (!nj)
                goto nomem;
            json_cols = nj;
            json_cols[njson++] = strndup(p, (size_t)(e - p));
        }
        mysql_free_result(r);
        r = NULL;
    } else if (mysql_errno(m) && mysql_conn_error_is_transient(mysql_errno(m))) {
        cdc_fail(errstr, errstr_size, "reading the columns of %s.%s: %s", db, name, mysql_error(m));
        goto fail;
    }

    sprintf(sql,
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, "
            "NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA='%s' AND TABLE_NAME='%s' ORDER BY ORDINAL_POSITION",
            edb, etb);
    if (!(r = cdc_query(c, m, sql, errstr, errstr_size)))
        goto fail;
    size_t n = mysql_num_rows(r);
    if (n == 0) {
        errstr[0] = 0;
        goto fail;
    }
    t->cols = calloc(n, sizeof(struct cdc_col));
    if (!t->cols)
        goto nomem;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        struct cdc_col *col = &t->cols[t->ncols++];
        if (!(col->name = strdup(row[0])))
            goto nomem;
        const char *dt = row[1], *ct = row[2];
        col->is_unsigned = strstr(ct, "unsigned") != NULL;
        col->nullable = row[3] && strcmp(row[3], "YES") == 0;
        col->cs = cdc_charset_of(row[4]);
        col->precision = row[5] ? atoi(row[5]) : 0;
        col->scale = row[6] ? atoi(row[6]) : 0;
        col->fsp = row[7] ? atoi(row[7]) : 0;
        if (!strcmp(dt, "binary"))
            col->padlen = atoi(strchr(ct, '(') ? strchr(ct, '(') + 1 : "0");
        if (!strcmp(dt, "bit"))
            col->bits = atoi(strchr(ct, '(') ? strchr(ct, '(') + 1 : "1");
        if ((!strcmp(dt, "enum") || !strcmp(dt, "set")) && cdc_parse_members(col, ct) < 0)
            goto nomem;
        int js = 0;
        for (size_t k = 0; k < njson; k++)
            if (json_cols[k] && !strcmp(json_cols[k], col->name))
                js = 1;
        cdc_col_kind(col, dt, ct, js);
        if (!(col->schema = cdc_col_schema(c, col)))
            goto nomem;
    }
    mysql_free_result(r);
    r = NULL;

    sprintf(sql,
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA='%s' AND "
            "TABLE_NAME='%s' AND INDEX_NAME='PRIMARY' ORDER BY SEQ_IN_INDEX",
            edb, etb);
    if (!(r = cdc_query(c, m, sql, errstr, errstr_size)))
        goto fail;
    if (!(t->pk = calloc(t->ncols ? t->ncols : 1, sizeof(size_t))))
        goto nomem;
    while ((row = mysql_fetch_row(r)) && t->npk < t->ncols)
        for (size_t i = 0; i < t->ncols; i++)
            if (!strcmp(t->cols[i].name, row[0])) {
                t->cols[i].pk = 1;
                t->pk[t->npk++] = i;
            }
    mysql_free_result(r);
    r = NULL;
    if (cdc_table_build_schemas(c, t, errstr, errstr_size) < 0)
        goto fail;
    goto out;
nomem:
    cdc_fail(errstr, errstr_size, "out of memory reading the columns of %s.%s", db, name);
fail:
    cdc_table_free(t);
    t = NULL;
out:
    if (r)
        mysql_free_result(r);
    for (size_t k = 0; k < njson; k++)
        free(json_cols[k]);
    free(json_cols);
    free(sql);
    free(edb);
    free(etb);
    return t;
}

struct cdc_table *cdc_table_get(struct cdc *c, const char *db, const char *name, int reload,
                                char *errstr, size_t errstr_size)
{
    size_t i;
    for (i = 0; i < c->ntables; i++)
        if (!strcmp(c->tables[i]->db, db) && !strcmp(c->tables[i]->name, name))
            break;
    if (i < c->ntables && !reload && !c->tables[i]->stale)
        return c->tables[i];
    sluice_err_t e = cdc_meta_open(c, errstr, errstr_size);
    if (e != SLUICE_OK)
        return NULL;
    struct cdc_table *t = cdc_table_load(c, db, name, errstr, errstr_size);
    if (!t) {
        if (!errstr[0])
            cdc_fail(errstr, errstr_size, "table %s.%s does not exist (any more)", db, name);
        return NULL;
    }
    if (i < c->ntables) {
        /* the old schemas stay with the instance (records in flight may use them) */
        cdc_table_free(c->tables[i]);
        c->tables[i] = t;
    } else {
        struct cdc_table **nt = realloc(c->tables, (c->ntables + 1) * sizeof *nt);
        if (!nt) {
            cdc_table_free(t);
            cdc_fail(errstr, errstr_size, "out of memory");
            return NULL;
        }
        c->tables = nt;
        c->tables[c->ntables++] = t;
    }
    c->h->log(c->ctx, SLUICE_LOG_DEBUG, "table %s.%s: %zu columns, %zu in the primary key", db,
              name, t->ncols, t->npk);
    return t;
}

/* -- columns from a TABLE_MAP event (binlog_row_metadata=FULL) ------------------------------- */

static int cdc_is_numeric(uint8_t type)
{
    switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_NEWDECIMAL:
        return 1;
    default:
        return 0;
    }
}

/* ENUM and SET travel as MYSQL_TYPE_STRING with the real type in the metadata's first byte. */
static uint8_t cdc_real_type(uint8_t type, uint16_t meta)
{
    if (type == MYSQL_TYPE_STRING &&
        ((meta & 0xff) == MYSQL_TYPE_ENUM || (meta & 0xff) == MYSQL_TYPE_SET))
        return (uint8_t)(meta & 0xff);
    return type;
}

static int cdc_is_char(uint8_t rt)
{
    return rt == MYSQL_TYPE_STRING || rt == MYSQL_TYPE_VAR_STRING || rt == MYSQL_TYPE_VARCHAR ||
           rt == MYSQL_TYPE_BLOB || rt == MYSQL_TYPE_TINY_BLOB || rt == MYSQL_TYPE_MEDIUM_BLOB ||
           rt == MYSQL_TYPE_LONG_BLOB;
}

static enum cdc_charset cdc_collation_cs(uint64_t id)
{
    switch (id) {
    case 63:
        return CS_BINARY;
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94:
        return CS_LATIN1;
    case 11:
    case 65:
        return CS_ASCII;
    default:
        return CS_UTF8;
    }
}

static int cdc_members(struct cdc_col *col, const uint8_t **p, const uint8_t *end)
{
    uint64_t n = cdc_lenenc(p, end);
    if (n > 65535)
        return -1;
    col->values = calloc(n ? n : 1, sizeof(char *));
    if (!col->values)
        return -1;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t len = cdc_lenenc(p, end);
        if ((uint64_t)(end - *p) < len || !(col->values[k] = strndup((const char *)*p, len)))
            return -1;
        *p += len;
        col->nvalues++;
    }
    return 0;
}

struct cdc_table *cdc_table_from_map(struct cdc *c, const char *db, const char *name,
                                     const uint8_t *types, const uint16_t *metas, size_t ncols,
                                     const uint8_t *nullbits, const uint8_t *opt, size_t optlen,
                                     char *errstr, size_t errstr_size)
{
    struct cdc_table *t = calloc(1, sizeof *t);
    const uint8_t *names = NULL, *signs = NULL, *colcs = NULL, *defcs = NULL, *enums = NULL,
                  *sets = NULL, *pks = NULL, *pkp = NULL;
    size_t nnames = 0, ncolcs = 0, ndefcs = 0, nenums = 0, nsets = 0, npks = 0, npkp = 0;
    if (!t || !(t->db = strdup(db)) || !(t->name = strdup(name)) ||
        !(t->cols = calloc(ncols ? ncols : 1, sizeof(struct cdc_col))) ||
        !(t->pk = calloc(ncols ? ncols : 1, sizeof(size_t))))
        goto nomem;
    if (c->prefix) {
        size_t n = strlen(c->prefix) + strlen(db) + strlen(name) + 3;
        if (!(t->topic = malloc(n)))
            goto nomem;
        snprintf(t->topic, n, "%s.%s.%s", c->prefix, db, name);
    }
    for (const uint8_t *p = opt, *end = opt + optlen; p < end;) {
        uint8_t kind = *p++;
        uint64_t len = cdc_lenenc(&p, end);
        if ((uint64_t)(end - p) < len)
            break;
        switch (kind) {
        case 1: /* SIGNEDNESS */
            signs = p;
            break;
        case 2: /* DEFAULT_CHARSET */
            defcs = p, ndefcs = len;
            break;
        case 3: /* COLUMN_CHARSET */
            colcs = p, ncolcs = len;
            break;
        case 4: /* COLUMN_NAME */
            names = p, nnames = len;
            break;
        case 5: /* SET_STR_VALUE */
            sets = p, nsets = len;
            break;
        case 6: /* ENUM_STR_VALUE */
            enums = p, nenums = len;
            break;
        case 8: /* SIMPLE_PRIMARY_KEY */
            pks = p, npks = len;
            break;
        case 9: /* PRIMARY_KEY_WITH_PREFIX */
            pkp = p, npkp = len;
            break;
        default:
            break;
        }
        p += len;
    }
    if (!names) {
        cdc_fail(errstr, errstr_size,
                 "%s.%s changed after this binlog event and the event has no column names: set "
                 "binlog_row_metadata=FULL on the server, or take a new snapshot",
                 db, name);
        goto fail;
    }
    /* character columns' collations: COLUMN_CHARSET lists them all; DEFAULT_CHARSET gives a
     * default and the exceptions (index among character columns, collation) */
    uint64_t defcoll = 0;
    const uint8_t *dp = defcs, *dend = defcs ? defcs + ndefcs : NULL;
    if (dp)
        defcoll = cdc_lenenc(&dp, dend);
    uint64_t next_exc = dp && dp < dend ? cdc_lenenc(&dp, dend) : UINT64_MAX;
    const uint8_t *cp = colcs, *cend = colcs ? colcs + ncolcs : NULL;
    const uint8_t *np = names, *nend = names + nnames;
    const uint8_t *ep = enums, *eend = enums ? enums + nenums : NULL;
    const uint8_t *sp = sets, *send = sets ? sets + nsets : NULL;
    size_t nnum = 0, nchar = 0;
    for (size_t i = 0; i < ncols; i++) {
        struct cdc_col *col = &t->cols[i];
        uint8_t type = types[i];
        uint16_t meta = metas[i];
        uint8_t rt = cdc_real_type(type, meta);
        uint64_t nl = cdc_lenenc(&np, nend);
        if ((uint64_t)(nend - np) < nl || !(col->name = strndup((const char *)np, nl)))
            goto nomem;
        np += nl;
        col->nullable = (nullbits[i / 8] >> (i % 8)) & 1;
        if (cdc_is_numeric(type)) {
            if (signs)
                col->is_unsigned = (signs[nnum / 8] >> (7 - nnum % 8)) & 1;
            nnum++;
        }
        col->cs = CS_UTF8;
        if (cdc_is_char(rt)) {
            uint64_t coll = defcoll;
            if (cp)
                coll = cdc_lenenc(&cp, cend);
            else if (nchar == next_exc) {
                coll = cdc_lenenc(&dp, dend);
                next_exc = dp < dend ? cdc_lenenc(&dp, dend) : UINT64_MAX;
            }
            col->cs = cdc_collation_cs(coll);
            nchar++;
        }
        int u = col->is_unsigned, m0 = meta & 0xff, m1 = meta >> 8;
        switch (rt) {
        case MYSQL_TYPE_TINY:
            col->kind = K_INT16;
            break;
        case MYSQL_TYPE_SHORT:
            col->kind = u ? K_INT32 : K_INT16;
            break;
        case MYSQL_TYPE_INT24:
            col->kind = K_INT32;
            break;
        case MYSQL_TYPE_LONG:
            col->kind = u ? K_INT64 : K_INT32;
            break;
        case MYSQL_TYPE_LONGLONG:
            col->kind = u ? K_U64 : K_INT64;
            break;
        case MYSQL_TYPE_FLOAT:
            col->kind = K_FLOAT32;
            break;
        case MYSQL_TYPE_DOUBLE:
            col->kind = K_FLOAT64;
            break;
        case MYSQL_TYPE_NEWDECIMAL:
            col->kind = K_DECIMAL;
            col->precision = m0;
            col->scale = m1;
            break;
        case MYSQL_TYPE_DATE:
        case MYSQL_TYPE_NEWDATE:
            col->kind = K_DATE;
            break;
        case MYSQL_TYPE_DATETIME:
        case MYSQL_TYPE_DATETIME2:
            col->kind = K_DATETIME;
            col->fsp = type == MYSQL_TYPE_DATETIME2 ? m0 : 0;
            break;
        case MYSQL_TYPE_TIMESTAMP:
        case MYSQL_TYPE_TIMESTAMP2:
            col->kind = K_TIMESTAMP;
            col->fsp = type == MYSQL_TYPE_TIMESTAMP2 ? m0 : 0;
            break;
        case MYSQL_TYPE_TIME:
        case MYSQL_TYPE_TIME2:
            col->kind = K_TIME;
            col->fsp = type == MYSQL_TYPE_TIME2 ? m0 : 0;
            break;
        case MYSQL_TYPE_YEAR:
            col->kind = K_YEAR;
            break;
        case MYSQL_TYPE_BIT:
            col->bits = m1 * 8 + m0;
            col->kind = col->bits == 1 ? K_BOOL : K_BITS;
            break;
        case MYSQL_TYPE_ENUM:
            col->kind = K_ENUM;
            if (ep && cdc_members(col, &ep, eend) < 0)
                goto nomem;
            break;
        case MYSQL_TYPE_SET:
            col->kind = K_SET;
            if (sp && cdc_members(col, &sp, send) < 0)
                goto nomem;
            break;
        case MYSQL_TYPE_STRING:
            col->kind = col->cs == CS_BINARY ? K_BYTES : K_STRING;
            if (col->kind == K_BYTES)
                col->padlen = ((m0 & 0x30) != 0x30) ? ((((m0 & 0x30) ^ 0x30) << 4) | m1) : m1;
            break;
        case MYSQL_TYPE_VARCHAR:
        case MYSQL_TYPE_VAR_STRING:
        case MYSQL_TYPE_BLOB:
        case MYSQL_TYPE_TINY_BLOB:
        case MYSQL_TYPE_MEDIUM_BLOB:
        case MYSQL_TYPE_LONG_BLOB:
            col->kind = col->cs == CS_BINARY ? K_BYTES : K_STRING;
            break;
        case MYSQL_TYPE_JSON:
            col->kind = K_JSON;
            break;
        default:
            col->kind = K_OTHER;
            break;
        }
        t->ncols++;
    }
    for (const uint8_t *p = pks, *end = pks ? pks + npks : NULL; p && p < end;) {
        uint64_t k = cdc_lenenc(&p, end);
        if (k < ncols && t->npk < ncols)
            t->pk[t->npk++] = (size_t)k;
    }
    for (const uint8_t *p = pkp, *end = pkp ? pkp + npkp : NULL; p && p < end;) {
        uint64_t k = cdc_lenenc(&p, end);
        cdc_lenenc(&p, end); /* prefix length */
        if (k < ncols && t->npk < ncols)
            t->pk[t->npk++] = (size_t)k;
    }
    for (size_t k = 0; k < t->npk; k++)
        t->cols[t->pk[k]].pk = 1;
    for (size_t i = 0; i < t->ncols; i++)
        if (!(t->cols[i].schema = cdc_col_schema(c, &t->cols[i])))
            goto nomem;
    if (cdc_table_build_schemas(c, t, errstr, errstr_size) < 0)
        goto fail;
    return t;
nomem:
    cdc_fail(errstr, errstr_size, "out of memory reading the binlog's columns of %s.%s", db, name);
fail:
    cdc_table_free(t);
    return NULL;
}

/* Puts `t` in place of the table of the same name (or adds it); 0, or -1 out of memory. */
int cdc_table_replace(struct cdc *c, struct cdc_table *t)
{
    for (size_t i = 0; i < c->ntables; i++)
        if (!strcmp(c->tables[i]->db, t->db) && !strcmp(c->tables[i]->name, t->name)) {
            cdc_table_free(c->tables[i]);
            c->tables[i] = t;
            return 0;
        }
    struct cdc_table **nt = realloc(c->tables, (c->ntables + 1) * sizeof *nt);
    if (!nt)
        return -1;
    c->tables = nt;
    c->tables[c->ntables++] = t;
    return 0;
}
