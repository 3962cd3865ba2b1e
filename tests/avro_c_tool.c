/* avro_c_tool — Apache Avro's C library (avro-c, Debian libavro-dev) from the command line, the
 * second reference implementation of the differential tests (tests/integration/
 * test_avro_differential.py; fastavro is the first):
 *
 *   avro_c_tool encode SCHEMA_FILE
 *       reads datums of SCHEMA_FILE, one tagged JSON document a line, builds each as an avro-c
 *       generic value and writes avro-c's binary encoding of it as a hex line
 *   avro_c_tool recode SCHEMA_FILE
 *       reads binary datums of SCHEMA_FILE as hex lines, decodes each with avro-c (every byte must
 *       be used) and writes avro-c's encoding of what it read as a hex line
 *
 * The tagged JSON says what avro-c's value API needs and JSON cannot hold exactly: numbers are
 * strings (ints and longs in decimal, floats and doubles in C99 hex, "0x1.8p+1"), bytes are hex
 * strings, a union is [branch index, value], an enum its symbol, a record an object by field name,
 * a map an object, an array an array. A logical type is its underlying type (avro-c 1.11 reads no
 * logicalType: a decimal is the bytes of its unscaled value, a date an int).
 *
 * A line that fails gives "ERROR <message>" instead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cjson/cJSON.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* hex text → bytes in out (at least strlen(hex) / 2 bytes); -1 when it is not hex */
static long unhex(const char *hex, size_t n, char *out)
{
    if (n % 2)
        return -1;
    for (size_t k = 0; k < n; k += 2) {
        int hi = hexval(hex[k]), lo = hexval(hex[k + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[k / 2] = (char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

static void print_hex(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", (unsigned char)data[i]);
    putchar('\n');
}

static int fail(char *err, size_t errsz, const char *what, const cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    snprintf(err, errsz, "%s (at %.80s)", what, text ? text : "null");
    free(text);
    return -1;
}

/* Set v (of its schema's type) from the tagged JSON j. */
static int fill(avro_value_t *v, const cJSON *j, char *err, size_t errsz)
{
    const char *s = cJSON_IsString(j) ? j->valuestring : NULL;
    char *end = NULL;
    int rc = 0;
    errno = 0;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        if (!cJSON_IsNull(j))
            return fail(err, errsz, "null expected", j);
        rc = avro_value_set_null(v);
        break;
    case AVRO_BOOLEAN:
        if (!cJSON_IsBool(j))
            return fail(err, errsz, "boolean expected", j);
        rc = avro_value_set_boolean(v, cJSON_IsTrue(j));
        break;
    case AVRO_INT32: {
        long x = s ? strtol(s, &end, 10) : 0;
        if (!s || *end || errno || x < INT32_MIN || x > INT32_MAX)
            return fail(err, errsz, "int (a decimal string) expected", j);
        rc = avro_value_set_int(v, (int32_t)x);
        break;
    }
    case AVRO_INT64: {
        long long x = s ? strtoll(s, &end, 10) : 0;
        if (!s || *end || errno)
            return fail(err, errsz, "long (a decimal string) expected", j);
        rc = avro_value_set_long(v, (int64_t)x);
        break;
    }
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        double x = s ? strtod(s, &end) : 0;
        if (!s || *end)
            return fail(err, errsz, "float or double (a hex string) expected", j);
        rc = avro_value_get_type(v) == AVRO_FLOAT ? avro_value_set_float(v, (float)x)
                                                  : avro_value_set_double(v, x);
        break;
    }
    case AVRO_STRING:
        if (!s)
            return fail(err, errsz, "string expected", j);
        rc = avro_value_set_string_len(v, s, strlen(s) + 1); /* avro-c counts the NUL */
        break;
    case AVRO_BYTES:
    case AVRO_FIXED: {
        size_t n = s ? strlen(s) : 0;
        char *b = malloc(n / 2 + 1);
        long len = s && b ? unhex(s, n, b) : -1;
        if (len < 0) {
            free(b);
            return fail(err, errsz, "bytes (a hex string) expected", j);
        }
        rc = avro_value_get_type(v) == AVRO_BYTES ? avro_value_set_bytes(v, b, (size_t)len)
                                                  : avro_value_set_fixed(v, b, (size_t)len);
        free(b);
        break;
    }
    case AVRO_ENUM: {
        int sym = s ? avro_schema_enum_get_by_name(avro_value_get_schema(v), s) : -1;
        if (sym < 0)
            return fail(err, errsz, "an enum symbol expected", j);
        rc = avro_value_set_enum(v, sym);
        break;
    }
    case AVRO_RECORD: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        if (!cJSON_IsObject(j))
            return fail(err, errsz, "record (an object) expected", j);
        for (size_t i = 0; i < n && rc == 0; i++) {
            avro_value_t f;
            const char *name = NULL;
            if ((rc = avro_value_get_by_index(v, i, &f, &name)) != 0)
                break;
            const cJSON *fj = cJSON_GetObjectItemCaseSensitive(j, name);
            if (!fj)
                return fail(err, errsz, "a record field is missing", j);
            if (fill(&f, fj, err, errsz) != 0)
                return -1;
        }
        break;
    }
    case AVRO_ARRAY: {
        const cJSON *e;
        if (!cJSON_IsArray(j))
            return fail(err, errsz, "array expected", j);
        cJSON_ArrayForEach(e, j)
        {
            avro_value_t item;
            if ((rc = avro_value_append(v, &item, NULL)) != 0)
                break;
            if (fill(&item, e, err, errsz) != 0)
                return -1;
        }
        break;
    }
    case AVRO_MAP: {
        const cJSON *e;
        if (!cJSON_IsObject(j))
            return fail(err, errsz, "map (an object) expected", j);
        cJSON_ArrayForEach(e, j)
        {
            avro_value_t item;
            if ((rc = avro_value_add(v, e->string, &item, NULL, NULL)) != 0)
                break;
            if (fill(&item, e, err, errsz) != 0)
                return -1;
        }
        break;
    }
    case AVRO_UNION: {
        const cJSON *ix = cJSON_GetArrayItem(j, 0), *val = cJSON_GetArrayItem(j, 1);
        avro_value_t branch;
        if (!cJSON_IsArray(j) || !cJSON_IsNumber(ix) || !val)
            return fail(err, errsz, "union ([branch, value]) expected", j);
        if ((rc = avro_value_set_branch(v, ix->valueint, &branch)) != 0)
            break;
        return fill(&branch, val, err, errsz);
    }
    default:
        return fail(err, errsz, "a type this tool does not know", j);
    }
    if (rc != 0)
        snprintf(err, errsz, "avro-c: %s", avro_strerror());
    return rc ? -1 : 0;
}

/* avro-c's encoding of v as a hex line, or an ERROR line */
static void write_value(avro_value_t *v)
{
    size_t size = 0;
    if (avro_value_sizeof(v, &size) != 0) {
        printf("ERROR avro-c sizeof: %s\n", avro_strerror());
        return;
    }
    char *out = malloc(size + 1);
    avro_writer_t w = out ? avro_writer_memory(out, (int64_t)size) : NULL;
    if (!w || avro_value_write(w, v) != 0)
        printf("ERROR avro-c write: %s\n", avro_strerror());
    else
        print_hex(out, (size_t)avro_writer_tell(w));
    if (w)
        avro_writer_free(w);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "encode") != 0 && strcmp(argv[1], "recode") != 0)) {
        fprintf(stderr, "usage: avro_c_tool encode|recode SCHEMA_FILE\n");
        return 2;
    }
    int encode = strcmp(argv[1], "encode") == 0;
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t tl = getdelim(&text, &cap, '\0', f);
    fclose(f);
    avro_schema_t schema;
    if (tl < 0 || avro_schema_from_json_length(text, (size_t)tl, &schema) != 0) {
        printf("ERROR avro-c cannot read the schema: %s\n", avro_strerror());
        free(text);
        return 1;
    }
    free(text);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value;
    if (!iface || avro_generic_value_new(iface, &value) != 0) {
        printf("ERROR avro-c cannot make a value of the schema: %s\n", avro_strerror());
        return 1;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        avro_value_reset(&value);
        if (encode) {
            char err[512];
            cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
            if (!j)
                printf("ERROR not JSON\n");
            else if (fill(&value, j, err, sizeof err) != 0)
                printf("ERROR %s\n", err);
            else
                write_value(&value);
            cJSON_Delete(j);
            continue;
        }
        char *bin = malloc((size_t)n / 2 + 1);
        long len = bin ? unhex(line, (size_t)n, bin) : -1;
        avro_reader_t r = len >= 0 ? avro_reader_memory(bin, len) : NULL;
        size_t used = 0;
        if (!r)
            printf("ERROR not hex\n");
        else if (avro_value_read(r, &value) != 0)
            printf("ERROR avro-c read: %s\n", avro_strerror());
        else if (avro_value_sizeof(&value, &used) != 0 || (long)used != len)
            printf("ERROR avro-c read %zu of the %ld bytes\n", used, len);
        else
            write_value(&value);
        if (r)
            avro_reader_free(r);
        free(bin);
    }
    free(line);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return 0;
}
