/*
 * envelope.c — mysql-cdc binlog mode: Debezium's change event (the `source` struct, the envelope
 * with before/after/op/ts_ms, the key from the primary key columns, the delete's tombstone), as
 * snapshot.c and binlog.c emit them.
 */
#include "cdc.h"

#include <string.h>

static int cdc_value_equal(const struct sluice_host *h, const sluice_value_t *a,
                           const sluice_value_t *b)
{
    sluice_type_t ta = h->value_type(a), tb = h->value_type(b);
    if (ta != tb)
        return 0;
    switch (ta) {
    case SLUICE_TYPE_NULL:
        return 1;
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        return h->value_as_int(a) == h->value_as_int(b);
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        return h->value_as_float(a) == h->value_as_float(b);
    case SLUICE_TYPE_BOOLEAN:
        return !h->value_as_bool(a) == !h->value_as_bool(b);
    case SLUICE_TYPE_STRING:
    case SLUICE_TYPE_BYTES: {
        size_t la, lb;
        const char *sa = h->value_as_string(a, &la), *sb = h->value_as_string(b, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;
    }
    default:
        return 0;
    }
}

int cdc_key_changed(struct cdc *c, struct cdc_table *t, sluice_value_t *before,
                    sluice_value_t *after)
{
    const struct sluice_host *h = c->h;
    for (size_t i = 0; i < t->npk; i++) {
        const char *name;
        sluice_value_t *a = h->value_item(before, t->pk[i], &name, NULL);
        sluice_value_t *b = h->value_item(after, t->pk[i], &name, NULL);
        if (!a || !b || !cdc_value_equal(h, a, b))
            return 1;
    }
    return 0;
}

sluice_value_t *cdc_key_of(struct cdc *c, sluice_record_t *rec, struct cdc_table *t,
                           sluice_value_t *row)
{
    const struct sluice_host *h = c->h;
    if (!t->key_schema || !row)
        return NULL;
    sluice_value_t *k = h->value_struct(rec, t->key_schema);
    if (!k)
        return NULL;
    for (size_t i = 0; i < t->npk; i++) {
        const char *name;
        sluice_value_t *v = h->value_item(row, t->pk[i], &name, NULL);
        if (v)
            h->value_set_item(rec, k, i, v);
    }
    return k;
}

static void cdc_put(struct cdc *c, sluice_record_t *rec, sluice_value_t *obj, size_t i,
                    sluice_value_t *v)
{
    c->h->value_set_item(rec, obj, i, v);
}

sluice_err_t cdc_emit(struct cdc *c, sluice_batch_t *batch, struct cdc_table *t, char op,
                      sluice_value_t *before, sluice_value_t *after, sluice_record_t *rec,
                      const struct cdc_source_info *si, const struct cdc_pos *pos, int partial,
                      char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = c->h;
    sluice_value_t *src = h->value_struct(rec, c->source_schema);
    sluice_value_t *env = h->value_struct(rec, t->env_schema);
    if (!src || !env)
        goto nomem;
    cdc_put(c, rec, src, 0, h->value_string(rec, CDC_VERSION, strlen(CDC_VERSION)));
    cdc_put(c, rec, src, 1, h->value_string(rec, "mysql", 5));
    cdc_put(c, rec, src, 2, h->value_string(rec, c->logical, strlen(c->logical)));
    cdc_put(c, rec, src, 3, h->value_int(rec, SLUICE_TYPE_INT64, si->ts_ms));
    if (si->snapshot)
        cdc_put(c, rec, src, 4, h->value_string(rec, si->snapshot, strlen(si->snapshot)));
    else
        cdc_put(c, rec, src, 4, h->value_string(rec, "false", 5));
    cdc_put(c, rec, src, 5, h->value_string(rec, t->db, strlen(t->db)));
    cdc_put(c, rec, src, 7, h->value_string(rec, t->name, strlen(t->name)));
    cdc_put(c, rec, src, 8, h->value_int(rec, SLUICE_TYPE_INT64, si->server_id));
    if (si->gtid && si->gtid[0])
        cdc_put(c, rec, src, 9, h->value_string(rec, si->gtid, strlen(si->gtid)));
    cdc_put(c, rec, src, 10, h->value_string(rec, si->file, strlen(si->file)));
    cdc_put(c, rec, src, 11, h->value_int(rec, SLUICE_TYPE_INT64, (int64_t)si->pos));
    cdc_put(c, rec, src, 12, h->value_int(rec, SLUICE_TYPE_INT32, si->row));
    if (si->thread >= 0)
        cdc_put(c, rec, src, 13, h->value_int(rec, SLUICE_TYPE_INT64, si->thread));
    if (before)
        cdc_put(c, rec, env, 0, before);
    if (after)
        cdc_put(c, rec, env, 1, after);
    cdc_put(c, rec, env, 2, src);
    char ops[1] = {op};
    cdc_put(c, rec, env, 3, h->value_string(rec, ops, 1));
    cdc_put(c, rec, env, 4, h->value_int(rec, SLUICE_TYPE_INT64, h->now_ms()));
    h->record_set_value(rec, env);
    sluice_value_t *key = cdc_key_of(c, rec, t, after ? after : before);
    if (key)
        h->record_set_key(rec, key);
    if (t->topic)
        h->record_set_topic(rec, t->topic);
    /* A delete leaves its row "not done" until its tombstone, and so does every record of a
     * row that makes several (`partial`): were only some of them committed, a restart delivers
     * them all again rather than lose one. */
    char pb[512];
    struct cdc_pos p1 = *pos;
    if (p1.row > 0 && (partial || (op == 'd' && c->tombstones)))
        p1.row--;
    size_t pl = cdc_pos_format(&p1, pb, sizeof pb);
    h->record_set_position(rec, pb, pl);
    if (!partial)
        pl = cdc_pos_format(pos, pb, sizeof pb);

    if (op == 'd' && c->tombstones) {
        sluice_record_t *tomb = h->batch_add(batch);
        if (!tomb)
            goto nomem;
        sluice_value_t *k2 = cdc_key_of(c, tomb, t, before);
        if (k2)
            h->record_set_key(tomb, k2);
        h->record_set_value(tomb, h->value_null(tomb));
        if (t->topic)
            h->record_set_topic(tomb, t->topic);
        h->record_set_position(tomb, pb, pl);
    }
    return SLUICE_OK;
nomem:
    cdc_fail(errstr, errstr_size, "out of memory building a change event");
    return SLUICE_ERR_NOMEM;
}
