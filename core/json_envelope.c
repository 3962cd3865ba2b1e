/* json_envelope.c — see json.h: reading JSON as a value of a known schema, as the payload of
 * Kafka Connect's envelope {"schema": S, "payload": P} is read, and converting an already parsed
 * schemaless value to a schema. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

/* ================================================================================================
 */
/* Reading with a schema */

static int json_int_fits(sluice_type_t t, int64_t v)
{
    switch (t) {
    case SLUICE_TYPE_INT8:
        return v >= INT8_MIN && v <= INT8_MAX;
    case SLUICE_TYPE_INT16:
        return v >= INT16_MIN && v <= INT16_MAX;
    case SLUICE_TYPE_INT32:
        return v >= INT32_MIN && v <= INT32_MAX;
    default:
        return 1;
    }
}

static sluice_err_t jp_typed(jp_t *p, const sluice_schema_t *s, sluice_value_t **out);

static sluice_err_t jp_mismatch(jp_t *p, const sluice_schema_t *s)
{
    return jp_fail(p, p->p, "expected %s%s%s but found %s", schema_type_name(s->type),
                   s->name ? " " : "", s->name ? s->name : "", jp_found(p));
}

static sluice_err_t jp_typed_int(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    const char *st = p->p, *txt;
    size_t n;
    int is_int;
    int64_t v = 0;
    sluice_err_t rc = jp_number_scan(p, &txt, &n, &is_int);
    if (rc != SLUICE_OK)
        return rc;
    if (is_int) {
        if (!json_number_int(txt, n, &v))
            return jp_fail(p, st, "value %.*s is out of range for %s", (int)n, txt,
                           schema_type_name(s->type));
    } else {
        /* Accept 1.0 or 1e3 (as Connect's lenient readers do) but never lose a fraction. */
        double d = json_number_double(txt, n);
        if (!(d == floor(d)) || fabs(d) > 9007199254740992.0)
            return jp_fail(p, st, "expected %s but found the number %.*s",
                           schema_type_name(s->type), (int)n, txt);
        v = (int64_t)d;
    }
    if (!json_int_fits(s->type, v))
        return jp_fail(p, st, "value %.*s is out of range for %s", (int)n, txt,
                       schema_type_name(s->type));
    *out = value_int(p->a, s->type, v);
    return *out ? SLUICE_OK : jp_nomem(p);
}

/* A finite number that stays finite in `type` (a JSON number beyond the double range reads as
 * infinity, which has no JSON form: the value could not be written back). */
static int json_float_fits(sluice_type_t type, double d)
{
    return isfinite(d) && (type != SLUICE_TYPE_FLOAT32 || isfinite((float)d));
}

static sluice_err_t jp_typed_bytes(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    const char *st = p->p;
    void *bytes = NULL;
    size_t blen = 0;
    sluice_err_t rc;
    int decimal = schema_is_logical(s, SLUICE_LOGICAL_DECIMAL);
    int scale = decimal ? json_decimal_scale(s) : 0;
    if (scale > JSON_DECIMAL_MAX_SCALE || scale < -JSON_DECIMAL_MAX_SCALE)
        return jp_fail(p, st, "the decimal's scale is out of range (at most %d either way)",
                       JSON_DECIMAL_MAX_SCALE);
    if (decimal && p->p < p->end && (*p->p == '-' || (*p->p >= '0' && *p->p <= '9'))) {
        const char *txt;
        size_t n;
        int is_int;
        char why[200];
        if ((rc = jp_number_scan(p, &txt, &n, &is_int)) != SLUICE_OK)
            return rc;
        rc = json_decimal_from_text(p->a, txt, n, scale, &bytes, &blen, why, sizeof why);
        if (rc == SLUICE_ERR_NOMEM)
            return jp_nomem(p);
        if (rc != SLUICE_OK)
            return jp_fail(p, st, "%s", why);
    } else {
        if (p->p >= p->end || *p->p != '"')
            return jp_mismatch(p, s);
        const char *txt;
        size_t n;
        if ((rc = jp_string(p, &txt, &n)) != SLUICE_OK)
            return rc;
        if (base64_decode(p->a, txt, n, &bytes, &blen) != 0)
            return jp_fail(p, st, "invalid base64 for %s", decimal ? "a decimal" : "bytes");
    }
    *out = value_bytes_ref(p->a, bytes, blen);
    return *out ? SLUICE_OK : jp_nomem(p);
}

static sluice_err_t jp_typed_array(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc;
    if (p->p >= p->end || *p->p != '[')
        return jp_mismatch(p, s);
    if (!s->items)
        return jp_fail(p, p->p, "array schema has no items schema");
    int empty, more;
    if ((rc = jp_open(p, ']', &empty)) != SLUICE_OK)
        return rc;
    sluice_value_t *arr = value_array(p->a, s);
    if (!arr)
        return jp_nomem(p);
    if (empty)
        goto done;
    for (;;) {
        sluice_value_t *v;
        if ((rc = jp_typed(p, s->items, &v)) != SLUICE_OK)
            return rc;
        if (value_append(p->a, arr, v) != SLUICE_OK)
            return jp_nomem(p);
        if ((rc = jp_after_item(p, ']', &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
done:
    p->depth--;
    *out = arr;
    return SLUICE_OK;
}

static sluice_err_t jp_typed_map(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc;
    if (!s->keys || !s->values)
        return jp_fail(p, p->p, "map schema has no keys or values schema");
    int object = s->keys->type == SLUICE_TYPE_STRING;
    if (p->p >= p->end || *p->p != (object ? '{' : '['))
        return jp_mismatch(p, s);
    char close = object ? '}' : ']';
    int empty, more, dedup = 0;
    if ((rc = jp_open(p, close, &empty)) != SLUICE_OK)
        return rc;
    sluice_value_t *m = value_map(p->a, s);
    if (!m)
        return jp_nomem(p);
    if (empty)
        goto done;
    for (;;) {
        sluice_value_t *k, *v;
        jp_ws(p);
        if (object) {
            if ((rc = jp_key_start(p)) != SLUICE_OK)
                return rc;
            if ((rc = jp_string_value(p, &k)) != SLUICE_OK)
                return rc;
            k->schema = s->keys;
            if ((rc = jp_colon(p)) != SLUICE_OK)
                return rc;
            if ((rc = jp_typed(p, s->values, &v)) != SLUICE_OK)
                return rc;
            /* past a few keys, repeats are resolved at the end (json_map_dedup) */
            int search = m->u.m.len < JSON_OBJECT_SEARCHED;
            dedup |= !search;
            if (value_map_put_string(p->a, m, k, v, search) != SLUICE_OK)
                return jp_nomem(p);
        } else {
            /* Connect writes maps with non-string keys as [[key, value], ...]. */
            if (p->p >= p->end || *p->p != '[')
                return jp_fail(p, p->p, "expected a [key, value] pair but found %s", jp_found(p));
            p->p++;
            jp_ws(p);
            if ((rc = jp_typed(p, s->keys, &k)) != SLUICE_OK)
                return rc;
            jp_ws(p);
            if ((rc = jp_expect(p, ',')) != SLUICE_OK)
                return rc;
            jp_ws(p);
            if ((rc = jp_typed(p, s->values, &v)) != SLUICE_OK)
                return rc;
            jp_ws(p);
            if ((rc = jp_expect(p, ']')) != SLUICE_OK)
                return rc;
            if (json_map_add(p->a, m, k, v, &dedup) != SLUICE_OK)
                return jp_nomem(p);
        }
        if ((rc = jp_after_item(p, close, &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
    if (dedup && json_map_dedup(p->a, m) != SLUICE_OK)
        return jp_nomem(p);
done:
    p->depth--;
    *out = m;
    return SLUICE_OK;
}

/* An object member's key up to its value: the key (unescaped into the arena only when it has
 * escapes, else pointing into the text: use `*len`), then the ':'. */
static sluice_err_t jp_key(jp_t *p, const char **key, size_t *len)
{
    const char *kb, *ke;
    int esc;
    sluice_err_t rc = jp_key_start(p);
    if (rc == SLUICE_OK)
        rc = jp_string_raw(p, &kb, &ke, &esc);
    if (rc != SLUICE_OK)
        return rc;
    size_t kl = (size_t)(ke - kb);
    if (esc) {
        char *d = arena_alloc(p->a, kl + 1);
        if (!d)
            return jp_nomem(p);
        if ((rc = jp_unescape(p, kb, ke, d, &kl)) != SLUICE_OK)
            return rc;
        d[kl] = '\0';
        kb = d;
    }
    *key = kb;
    *len = kl;
    return jp_colon(p);
}

static int json_key_is(const char *name, const char *k, size_t kl)
{
    /* strnlen, not name[kl]: a key with a NUL (\u0000) inside matches a shorter name's bytes */
    return strncmp(name, k, kl) == 0 && strnlen(name, kl + 1) == kl;
}

/* Byte order of a field name and a key (the key may hold NULs). */
static int jp_name_cmp(const char *name, const char *k, size_t kl)
{
    size_t nl = strlen(name);
    int c = memcmp(name, k, nl < kl ? nl : kl);
    return c ? c : (nl < kl ? -1 : nl > kl);
}

static int jp_field_cmp(const void *x, const void *y, void *ctx)
{
    const struct schema_field *f = ctx;
    return strcmp(f[*(const size_t *)x].name, f[*(const size_t *)y].name);
}

/* Keys the schema does not know, or out of order, are searched for among the fields: past this
 * many searches a struct of many fields gets the field names sorted (O(F log F), once per struct
 * read, beside the O(F) check of the missing fields), so that K keys cost O(K log F), not O(K F)
 * (issue #22: both come from the message). */
#define JSON_STRUCT_SEARCHES 8

static long jp_field_find(jp_t *p, const sluice_schema_t *s, size_t **order, size_t *searches,
                          const char *kb, size_t kl)
{
    if (!*order && ++*searches > JSON_STRUCT_SEARCHES && s->nfields > 2 * JSON_STRUCT_SEARCHES &&
        (*order = arena_alloc(p->a, s->nfields * sizeof **order))) {
        for (size_t i = 0; i < s->nfields; i++)
            (*order)[i] = i;
        qsort_r(*order, s->nfields, sizeof **order, jp_field_cmp, s->fields);
    }
    if (*order) {
        size_t lo = 0, hi = s->nfields;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = jp_name_cmp(s->fields[(*order)[mid]].name, kb, kl);
            if (c == 0)
                return (long)(*order)[mid];
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return -1;
    }
    for (size_t i = 0; i < s->nfields; i++)
        if (json_key_is(s->fields[i].name, kb, kl))
            return (long)i;
    return -1;
}

static sluice_err_t jp_typed_struct(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc;
    if (p->p >= p->end || *p->p != '{')
        return jp_mismatch(p, s);
    const char *open = p->p;
    int empty, more;
    if ((rc = jp_open(p, '}', &empty)) != SLUICE_OK)
        return rc;
    sluice_value_t *st = value_struct_empty(p->a, s);
    if (!st)
        return jp_nomem(p);
    size_t next = 0; /* fields usually come in schema order: try the next one first */
    size_t *order = NULL, searches = 0;
    if (empty)
        goto fill;
    for (;;) {
        const char *kb;
        size_t kl;
        if ((rc = jp_key(p, &kb, &kl)) != SLUICE_OK)
            return rc;
        long idx = -1;
        if (next < s->nfields && json_key_is(s->fields[next].name, kb, kl)) {
            idx = (long)next;
        } else {
            idx = jp_field_find(p, s, &order, &searches, kb, kl);
        }
        if (idx < 0) { /* a key the schema does not know: Connect ignores it */
            if ((rc = jp_skip(p)) != SLUICE_OK)
                return rc;
        } else {
            sluice_value_t *v;
            if ((rc = jp_typed(p, s->fields[idx].schema, &v)) != SLUICE_OK) {
                jp_prefix_field(p, s->fields[idx].name);
                return rc;
            }
            st->u.m.items[idx].value = v;
            next = (size_t)idx + 1;
        }
        if ((rc = jp_after_item(p, '}', &more)) != SLUICE_OK)
            return rc;
        if (!more)
            break;
    }
fill:
    for (size_t i = 0; i < s->nfields; i++) {
        if (st->u.m.items[i].value)
            continue;
        if (!s->fields[i].schema->optional)
            return jp_fail(p, open, "missing required field \"%s\" (%s)", s->fields[i].name,
                           schema_type_name(s->fields[i].schema->type));
        if (!(st->u.m.items[i].value = value_null(p->a)))
            return jp_nomem(p);
    }
    p->depth--;
    *out = st;
    return SLUICE_OK;
}

static sluice_err_t jp_typed(jp_t *p, const sluice_schema_t *s, sluice_value_t **out)
{
    sluice_err_t rc = SLUICE_OK;
    sluice_value_t *v = NULL;
    if (p->p >= p->end)
        return jp_unexpected(p);
    if (*p->p == 'n') {
        if ((rc = jp_literal(p, "null", 4)) != SLUICE_OK)
            return rc;
        if (!s->optional && s->type != SLUICE_TYPE_NULL)
            return jp_fail(p, p->p - 4, "invalid null value for required %s field",
                           schema_type_name(s->type));
        *out = value_null(p->a);
        return *out ? SLUICE_OK : jp_nomem(p);
    }
    char c = *p->p;
    switch (s->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64:
        if (c != '-' && (c < '0' || c > '9'))
            return jp_mismatch(p, s);
        rc = jp_typed_int(p, s, &v);
        break;
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64: {
        if (c != '-' && (c < '0' || c > '9'))
            return jp_mismatch(p, s);
        const char *txt;
        size_t n;
        int is_int;
        if ((rc = jp_number_scan(p, &txt, &n, &is_int)) != SLUICE_OK)
            return rc;
        double d = json_number_double(txt, n);
        if (!json_float_fits(s->type, d)) /* infinity has no JSON form to write back */
            return jp_fail(p, txt, "value %.*s is out of range for %s", n > 60 ? 60 : (int)n, txt,
                           schema_type_name(s->type));
        if (!(v = value_float(p->a, s->type, d)))
            return jp_nomem(p);
        break;
    }
    case SLUICE_TYPE_BOOLEAN:
        if (c == 't')
            rc = jp_literal(p, "true", 4);
        else if (c == 'f')
            rc = jp_literal(p, "false", 5);
        else
            return jp_mismatch(p, s);
        if (rc != SLUICE_OK)
            return rc;
        if (!(v = value_bool(p->a, c == 't')))
            return jp_nomem(p);
        break;
    case SLUICE_TYPE_STRING: {
        if (c != '"')
            return jp_mismatch(p, s);
        if ((rc = jp_string_value(p, &v)) != SLUICE_OK)
            return rc;
        break;
    }
    case SLUICE_TYPE_BYTES:
        rc = jp_typed_bytes(p, s, &v);
        break;
    case SLUICE_TYPE_ARRAY:
        rc = jp_typed_array(p, s, &v);
        break;
    case SLUICE_TYPE_MAP:
        rc = jp_typed_map(p, s, &v);
        break;
    case SLUICE_TYPE_STRUCT:
        rc = jp_typed_struct(p, s, &v);
        break;
    case SLUICE_TYPE_NULL:
        return jp_mismatch(p, s);
    }
    if (rc != SLUICE_OK)
        return rc;
    v->schema = s;
    *out = v;
    return SLUICE_OK;
}

sluice_err_t json_parse_with_schema(arena_t *a, const char *text, size_t len,
                                    const sluice_schema_t *schema, sluice_value_t **out,
                                    char *errstr, size_t errstr_size)
{
    if (!schema)
        return json_parse(a, text, len, out, errstr, errstr_size);
    jp_t p;
    sluice_value_t *v = NULL;
    jp_init(&p, a, text, len, errstr, errstr_size);
    jp_ws(&p);
    sluice_err_t rc = jp_typed(&p, schema, &v);
    if (rc == SLUICE_OK)
        rc = jp_finish(&p);
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}

/* ================================================================================================
 */
/* Kafka Connect's envelope */

static const char json_envelope_msg[] =
    "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not "
    "contain additional fields. If you are trying to deserialize plain JSON data, set "
    "schemas.enable=false in your converter configuration.";

sluice_err_t json_parse_envelope(arena_t *a, const char *text, size_t len,
                                 json_schema_resolver resolve, void *ctx, sluice_value_t **out,
                                 char *errstr, size_t errstr_size)
{
    jp_t p;
    sluice_err_t rc = SLUICE_ERR_INVALID;
    int seen_schema = 0, seen_payload = 0, bad = 0;
    const sluice_schema_t *schema = NULL;
    const char *payload_at = NULL;
    sluice_value_t *v = NULL;
    jp_init(&p, a, text, len, errstr, errstr_size);
    jp_ws(&p);
    if (p.p >= p.end || *p.p != '{') {
        /* Syntax errors win over the envelope message. */
        if ((rc = jp_skip(&p)) == SLUICE_OK && (rc = jp_finish(&p)) == SLUICE_OK)
            goto envelope;
        goto out;
    }
    p.p++;
    jp_ws(&p);
    if (p.p < p.end && *p.p == '}') {
        p.p++;
        if ((rc = jp_finish(&p)) == SLUICE_OK)
            goto envelope;
        goto out;
    }
    for (;;) {
        const char *kb;
        size_t kl;
        if ((rc = jp_key(&p, &kb, &kl)) != SLUICE_OK)
            goto out;
        int is_schema = kl == 6 && memcmp(kb, "schema", 6) == 0;
        int is_payload = kl == 7 && memcmp(kb, "payload", 7) == 0;
        if ((is_schema && seen_schema) || (is_payload && seen_payload) ||
            (!is_schema && !is_payload))
            bad = 1;
        if (bad) {
            /* Not an envelope; still read to the end so a syntax error is reported as such. */
            if ((rc = jp_skip(&p)) != SLUICE_OK)
                goto out;
        } else if (is_schema) {
            seen_schema = 1;
            if (p.p < p.end && *p.p == 'n') {
                if ((rc = jp_literal(&p, "null", 4)) != SLUICE_OK)
                    goto out;
                schema = NULL;
            } else {
                size_t used = 0;
                if (p.p >= p.end || *p.p != '{') {
                    rc = jp_fail(&p, p.p, "the envelope's \"schema\" must be an object or null");
                    goto out;
                }
                rc = resolve(ctx, a, p.p, (size_t)(p.end - p.p), (size_t)(p.p - p.start), &used,
                             &schema, errstr, errstr_size);
                if (rc != SLUICE_OK)
                    goto out;
                p.p += used;
            }
            if (payload_at) {
                const char *resume = p.p;
                p.p = payload_at;
                rc = schema ? jp_typed(&p, schema, &v) : jp_value(&p, &v);
                if (rc != SLUICE_OK)
                    goto out;
                p.p = resume;
            }
        } else {
            seen_payload = 1;
            if (seen_schema) {
                rc = schema ? jp_typed(&p, schema, &v) : jp_value(&p, &v);
                if (rc != SLUICE_OK)
                    goto out;
            } else {
                payload_at = p.p; /* parsed once the schema is known */
                if ((rc = jp_skip(&p)) != SLUICE_OK)
                    goto out;
            }
        }
        int more;
        if ((rc = jp_after_item(&p, '}', &more)) != SLUICE_OK)
            goto out;
        if (!more)
            break;
    }
    if ((rc = jp_finish(&p)) != SLUICE_OK)
        goto out;
    if (!bad && seen_schema && seen_payload) {
        rc = SLUICE_OK;
        goto out;
    }
envelope:
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", json_envelope_msg);
    rc = SLUICE_ERR_INVALID;
out:
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}

/* ================================================================================================
 */
/* Converting a parsed value to a schema */

typedef struct jc {
    arena_t *a;
    char *err;
    size_t errsz;
    int depth;
} jc_t;

SLUICE_PRINTF(2, 3)
static sluice_err_t jc_fail(jc_t *c, const char *fmt, ...)
{
    if (c->err && c->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errsz, fmt, ap);
        va_end(ap);
    }
    return SLUICE_ERR_INVALID;
}

static sluice_err_t jc_nomem(jc_t *c)
{
    if (c->err && c->errsz)
        snprintf(c->err, c->errsz, "out of memory");
    return SLUICE_ERR_NOMEM;
}

const char *jc_found(const sluice_value_t *v)
{
    switch (v->type) {
    case SLUICE_TYPE_NULL:
        return "null";
    case SLUICE_TYPE_MAP:
    case SLUICE_TYPE_STRUCT:
        return "an object";
    case SLUICE_TYPE_ARRAY:
        return "an array";
    case SLUICE_TYPE_STRING:
        return "a string";
    case SLUICE_TYPE_BOOLEAN:
        return "a boolean";
    case SLUICE_TYPE_BYTES:
        return "bytes";
    default:
        return "a number";
    }
}

static sluice_err_t jc_convert(jc_t *c, const sluice_value_t *in, const sluice_schema_t *s,
                               sluice_value_t **out);

static sluice_err_t jc_mismatch(jc_t *c, const sluice_value_t *in, const sluice_schema_t *s)
{
    return jc_fail(c, "expected %s%s%s but found %s", schema_type_name(s->type), s->name ? " " : "",
                   s->name ? s->name : "", jc_found(in));
}

static sluice_err_t jc_convert(jc_t *c, const sluice_value_t *in, const sluice_schema_t *s,
                               sluice_value_t **out)
{
    sluice_err_t rc = SLUICE_OK;
    sluice_value_t *v = NULL;
    if (!in || in->type == SLUICE_TYPE_NULL) {
        if (!s->optional && s->type != SLUICE_TYPE_NULL)
            return jc_fail(c, "invalid null value for required %s field",
                           schema_type_name(s->type));
        *out = value_null(c->a);
        return *out ? SLUICE_OK : jc_nomem(c);
    }
    if (++c->depth > JSON_MAX_DEPTH)
        return jc_fail(c, "value nested deeper than %d levels", JSON_MAX_DEPTH);
    int is_intval = in->type >= SLUICE_TYPE_INT8 && in->type <= SLUICE_TYPE_INT64;
    int is_float = in->type == SLUICE_TYPE_FLOAT32 || in->type == SLUICE_TYPE_FLOAT64;
    switch (s->type) {
    case SLUICE_TYPE_INT8:
    case SLUICE_TYPE_INT16:
    case SLUICE_TYPE_INT32:
    case SLUICE_TYPE_INT64: {
        int64_t i;
        if (is_intval) {
            i = in->u.i;
        } else if (is_float && in->u.f == floor(in->u.f) && fabs(in->u.f) <= 9007199254740992.0) {
            i = (int64_t)in->u.f;
        } else {
            return jc_mismatch(c, in, s);
        }
        if (!json_int_fits(s->type, i))
            return jc_fail(c, "value %lld is out of range for %s", (long long)i,
                           schema_type_name(s->type));
        v = value_int(c->a, s->type, i);
        break;
    }
    case SLUICE_TYPE_FLOAT32:
    case SLUICE_TYPE_FLOAT64:
        if (!is_intval && !is_float)
            return jc_mismatch(c, in, s);
        if (is_float && !json_float_fits(s->type, in->u.f))
            return jc_fail(c, "value %g is out of range for %s", in->u.f,
                           schema_type_name(s->type));
        v = value_float(c->a, s->type, is_float ? in->u.f : (double)in->u.i);
        break;
    case SLUICE_TYPE_BOOLEAN:
        if (in->type != SLUICE_TYPE_BOOLEAN)
            return jc_mismatch(c, in, s);
        v = value_bool(c->a, in->u.b);
        break;
    case SLUICE_TYPE_STRING:
        if (in->type != SLUICE_TYPE_STRING)
            return jc_mismatch(c, in, s);
        v = value_string_ref(c->a, in->u.s.ptr, in->u.s.len); /* same arena lifetime */
        break;
    case SLUICE_TYPE_BYTES: {
        void *bytes;
        size_t blen;
        int decimal = schema_is_logical(s, SLUICE_LOGICAL_DECIMAL);
        int scale = decimal ? json_decimal_scale(s) : 0;
        if (scale > JSON_DECIMAL_MAX_SCALE || scale < -JSON_DECIMAL_MAX_SCALE)
            return jc_fail(c, "the decimal's scale is out of range (at most %d either way)",
                           JSON_DECIMAL_MAX_SCALE);
        if (in->type == SLUICE_TYPE_BYTES) {
            v = value_bytes_ref(c->a, in->u.s.ptr, in->u.s.len);
            break;
        }
        if (decimal && (is_intval || is_float)) {
            char txt[40], why[200];
            if (is_intval)
                snprintf(txt, sizeof txt, "%lld", (long long)in->u.i);
            else
                snprintf(txt, sizeof txt, "%.17g", in->u.f);
            rc = json_decimal_from_text(c->a, txt, strlen(txt), scale, &bytes, &blen, why,
                                        sizeof why);
            if (rc == SLUICE_ERR_NOMEM)
                return jc_nomem(c);
            if (rc != SLUICE_OK)
                return jc_fail(c, "%s", why);
        } else if (in->type == SLUICE_TYPE_STRING) {
            if (base64_decode(c->a, in->u.s.ptr, in->u.s.len, &bytes, &blen) != 0)
                return jc_fail(c, "invalid base64 for %s", decimal ? "a decimal" : "bytes");
        } else {
            return jc_mismatch(c, in, s);
        }
        v = value_bytes_ref(c->a, bytes, blen);
        break;
    }
    case SLUICE_TYPE_ARRAY:
        if (in->type != SLUICE_TYPE_ARRAY || !s->items)
            return jc_mismatch(c, in, s);
        if (!(v = value_array(c->a, s)))
            return jc_nomem(c);
        for (size_t i = 0; i < in->u.a.len; i++) {
            sluice_value_t *item;
            if ((rc = jc_convert(c, in->u.a.items[i], s->items, &item)) != SLUICE_OK)
                return rc;
            if (value_append(c->a, v, item) != SLUICE_OK)
                return jc_nomem(c);
        }
        break;
    case SLUICE_TYPE_MAP:
        if (!s->keys || !s->values)
            return jc_mismatch(c, in, s);
        if (!(v = value_map(c->a, s)))
            return jc_nomem(c);
        int dedup = 0;
        if (s->keys->type == SLUICE_TYPE_STRING && in->type == SLUICE_TYPE_MAP) {
            for (size_t i = 0; i < in->u.m.len; i++) {
                sluice_value_t *k, *val;
                if ((rc = jc_convert(c, in->u.m.items[i].key, s->keys, &k)) != SLUICE_OK)
                    return rc;
                if ((rc = jc_convert(c, in->u.m.items[i].value, s->values, &val)) != SLUICE_OK)
                    return rc;
                if (json_map_add(c->a, v, k, val, &dedup) != SLUICE_OK)
                    return jc_nomem(c);
            }
        } else if (s->keys->type != SLUICE_TYPE_STRING && in->type == SLUICE_TYPE_ARRAY) {
            for (size_t i = 0; i < in->u.a.len; i++) {
                const sluice_value_t *pair = in->u.a.items[i];
                sluice_value_t *k, *val;
                if (pair->type != SLUICE_TYPE_ARRAY || pair->u.a.len != 2)
                    return jc_fail(c, "expected a [key, value] pair but found %s", jc_found(pair));
                if ((rc = jc_convert(c, pair->u.a.items[0], s->keys, &k)) != SLUICE_OK)
                    return rc;
                if ((rc = jc_convert(c, pair->u.a.items[1], s->values, &val)) != SLUICE_OK)
                    return rc;
                if (json_map_add(c->a, v, k, val, &dedup) != SLUICE_OK)
                    return jc_nomem(c);
            }
        } else {
            return jc_mismatch(c, in, s);
        }
        if (dedup && json_map_dedup(c->a, v) != SLUICE_OK)
            return jc_nomem(c);
        break;
    case SLUICE_TYPE_STRUCT:
        if (in->type != SLUICE_TYPE_MAP && in->type != SLUICE_TYPE_STRUCT)
            return jc_mismatch(c, in, s);
        if (!(v = value_struct_empty(c->a, s)))
            return jc_nomem(c);
        for (size_t i = 0; i < s->nfields; i++) {
            const sluice_value_t *fv = value_get(in, s->fields[i].name);
            if (!fv && !s->fields[i].schema->optional)
                return jc_fail(c, "missing required field \"%s\" (%s)", s->fields[i].name,
                               schema_type_name(s->fields[i].schema->type));
            if ((rc = jc_convert(c, fv, s->fields[i].schema, &v->u.m.items[i].value)) !=
                SLUICE_OK) {
                char inner[512];
                snprintf(inner, sizeof inner, "%s", c->err ? c->err : "");
                return jc_fail(c, "field \"%s\": %s", s->fields[i].name, inner);
            }
        }
        break;
    case SLUICE_TYPE_NULL:
        return jc_mismatch(c, in, s);
    }
    if (!v)
        return jc_nomem(c);
    v->schema = s;
    c->depth--;
    *out = v;
    return SLUICE_OK;
}

sluice_err_t json_value_to_schema(arena_t *a, const sluice_value_t *in,
                                  const sluice_schema_t *schema, sluice_value_t **out, char *errstr,
                                  size_t errstr_size)
{
    jc_t c = {.a = a, .err = errstr, .errsz = errstr_size, .depth = 0};
    sluice_value_t *v = NULL;
    sluice_err_t rc;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!schema)
        rc = (v = value_copy(a, in ? in : value_null(a))) ? SLUICE_OK : jc_nomem(&c);
    else
        rc = jc_convert(&c, in, schema, &v);
    *out = rc == SLUICE_OK ? v : NULL;
    return rc;
}
