/* Fuzz mysql-cdc's row decoder (plugins/mysql-cdc/rowdecode.c) with column metadata from the
 * input: its first bytes are the connector's modes and a table of up to 8 columns (binlog type and
 * metadata as a TABLE_MAP gives them, the column's kind, charset, sign, fsp, BIT width, BINARY
 * length, ENUM/SET members), the rest a row image decoded column after column, then read again as
 * the snapshot's text form. Values go to a stand-in host that reads every byte it is given, so a
 * value pointing past the image is caught. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* -- a stand-in host: values are kept in a small pool ------------------------------------------ */
struct sluice_value {
    sluice_type_t type;
    int64_t i;
    double f;
    unsigned sum; /* of the bytes of a string or bytes value: every one is read */
    size_t n;
};

static struct sluice_value pool[16];
static size_t npool;

static sluice_value_t *newv(sluice_type_t t)
{
    sluice_value_t *v = &pool[npool++ % 16];
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}
static sluice_value_t *f_null(sluice_record_t *r)
{
    (void)r;
    return newv(SLUICE_TYPE_NULL);
}
static sluice_value_t *f_int(sluice_record_t *r, sluice_type_t t, int64_t x)
{
    (void)r;
    sluice_value_t *v = newv(t);
    v->i = x;
    return v;
}
static sluice_value_t *f_float(sluice_record_t *r, sluice_type_t t, double x)
{
    (void)r;
    sluice_value_t *v = newv(t);
    v->f = x;
    return v;
}
static sluice_value_t *f_bool(sluice_record_t *r, int x)
{
    (void)r;
    sluice_value_t *v = newv(SLUICE_TYPE_BOOLEAN);
    v->i = x;
    return v;
}
static sluice_value_t *f_bytes_t(sluice_type_t t, const void *p, size_t n)
{
    sluice_value_t *v = newv(t);
    for (size_t i = 0; i < n; i++)
        v->sum += ((const unsigned char *)p)[i];
    v->n = n;
    return v;
}
static sluice_value_t *f_string(sluice_record_t *r, const char *s, size_t n)
{
    (void)r;
    return f_bytes_t(SLUICE_TYPE_STRING, s, n);
}
static sluice_value_t *f_bytes(sluice_record_t *r, const void *p, size_t n)
{
    (void)r;
    return f_bytes_t(SLUICE_TYPE_BYTES, p, n);
}

/* A buffer of a fixed size, so that an overflow is caught (ASan) */
struct sluice_buf {
    char *d;
    size_t n, cap;
};
static struct sluice_buf tmpbuf;
static void f_buf_reset(sluice_buf_t *b)
{
    b->n = 0;
    b->d[0] = 0;
}
static sluice_err_t f_buf_append(sluice_buf_t *b, const void *p, size_t n)
{
    if (n >= b->cap - b->n)
        return SLUICE_ERR_NOMEM;
    memcpy(b->d + b->n, p, n);
    b->n += n;
    b->d[b->n] = 0;
    return SLUICE_OK;
}
static const char *f_buf_data(const sluice_buf_t *b)
{
    return b->d;
}
static size_t f_buf_len(const sluice_buf_t *b)
{
    return b->n;
}

static struct sluice_host host = {
    .value_null = f_null,
    .value_int = f_int,
    .value_float = f_float,
    .value_bool = f_bool,
    .value_string = f_string,
    .value_bytes = f_bytes,
    .buf_reset = f_buf_reset,
    .buf_append = f_buf_append,
    .buf_data = f_buf_data,
    .buf_len = f_buf_len,
};

#define MAX_COLS 8
#define COL_BYTES                                                                                  \
    10 /* type, meta (2, little-endian), kind, charset, flags, fsp, bits, padlen, n                \
        */

/* binlog.c's cdc_kind_fits: a row is decoded only when the TABLE_MAP's types fit the kinds the
 * catalog gave the columns (else the table is re-read), so other pairs never reach the decoder. */
static int fits(const struct cdc_col *col, uint8_t type, uint16_t meta)
{
    enum cdc_kind k = col->kind;
    switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
        return k == K_INT16 || k == K_INT32 || k == K_INT64 || k == K_U64;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
        return k == K_FLOAT32 || k == K_FLOAT64;
    case MYSQL_TYPE_NEWDECIMAL:
        return k == K_DECIMAL;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        return k == K_DATE;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
        return k == K_DATETIME;
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
        return k == K_TIMESTAMP;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
        return k == K_TIME;
    case MYSQL_TYPE_YEAR:
        return k == K_YEAR;
    case MYSQL_TYPE_BIT:
        return k == K_BOOL || k == K_BITS;
    case MYSQL_TYPE_STRING:
        if ((meta & 0xff) == MYSQL_TYPE_ENUM)
            return k == K_ENUM;
        if ((meta & 0xff) == MYSQL_TYPE_SET)
            return k == K_SET;
        /* fall through */
    default:
        return k == K_STRING || k == K_BYTES || k == K_JSON || k == K_OTHER;
    }
}

static char *members[] = {"a", "bb", "", "ccc", "d", "e", "f", "g"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2 || len > 65536)
        return 0;
    static struct cdc c;
    memset(&c, 0, sizeof c);
    c.h = &host;
    if (!tmpbuf.d) {
        tmpbuf.cap = 1 << 16;
        tmpbuf.d = malloc(tmpbuf.cap);
        if (!tmpbuf.d)
            abort();
    }
    c.tmp = &tmpbuf;
    f_buf_reset(&tmpbuf);
    c.dec_mode = (enum cdc_decimal_mode)(data[0] % 3);
    c.bigint_precise = (data[0] >> 2) & 1;
    c.time_connect = (data[0] >> 3) & 1;
    c.bin_mode = (enum cdc_binary_mode)((data[0] >> 4) % 4);
    size_t ncols = 1 + data[1] % MAX_COLS;
    const uint8_t *p = data + 2, *end = data + len;
    if ((size_t)(end - p) < ncols * COL_BYTES)
        return 0;
    struct cdc_col cols[MAX_COLS];
    uint8_t types[MAX_COLS];
    uint16_t metas[MAX_COLS];
    char names[MAX_COLS][8];
    memset(cols, 0, sizeof cols);
    for (size_t i = 0; i < ncols; i++, p += COL_BYTES) {
        struct cdc_col *col = &cols[i];
        snprintf(names[i], sizeof names[i], "c%zu", i);
        col->name = names[i];
        types[i] = p[0];
        metas[i] = (uint16_t)(p[1] | p[2] << 8);
        col->kind = (enum cdc_kind)(p[3] % (K_OTHER + 1));
        col->cs = (enum cdc_charset)(p[4] % (CS_OTHER + 1));
        col->is_unsigned = p[5] & 1;
        col->nullable = (p[5] >> 1) & 1;
        col->fsp = p[6] % 8; /* the catalog says 0-6 */
        col->bits = p[7] % 65;
        col->padlen = p[8];
        col->values = members;
        col->nvalues = p[9] % (sizeof members / sizeof *members + 1);
        col->precision = metas[i] & 0xff; /* DECIMAL: the catalog's, as fits() requires */
        col->scale = metas[i] >> 8;
        if (!fits(col, types[i], metas[i]))
            return 0;
    }
    /* the row image: every column in turn, as cdc_image reads them */
    const uint8_t *img = p;
    for (size_t i = 0; i < ncols; i++) {
        const uint8_t *at = img;
        long size = cdc_binlog_size(types[i], metas[i], at, end);
        sluice_value_t *v = cdc_value_binlog(&c, NULL, &cols[i], types[i], metas[i], &img, end);
        if (!v)
            break;
        FUZZ_CHECK(size >= 0 && img == at + size,
                   "column %zu (type %u meta %u): %td bytes read, "
                   "size %ld",
                   i, types[i], metas[i], img - at, size);
        FUZZ_CHECK(img <= end, "column %zu read past the image", i);
    }
    /* the snapshot's text form of the rest, for each column (NUL-terminated, as the client
     * library gives a row's fields) */
    size_t tn = (size_t)(end - p);
    char *text = malloc(tn + 1);
    if (!text)
        abort();
    memcpy(text, p, tn);
    text[tn] = 0;
    for (size_t i = 0; i < ncols; i++) {
        f_buf_reset(&tmpbuf);
        (void)cdc_value_text(&c, NULL, &cols[i], text, tn);
    }
    free(text);
    return 0;
}
