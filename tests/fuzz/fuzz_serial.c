/* Fuzz the serial source's pure parsers (plugins/serial/serial_parse.c): the first input byte picks
 * the parser (line framing, numbers, booleans, field specs, names, UTF-8, the firmware's sentence
 * with sequence tracking), the rest is its input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "serial_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The firmware's sentences of every line, tracked as the source tracks them. */
static void fuzz_firmware_lines(const char *p, size_t n, enum serial_term term)
{
    struct serial_seq seq = {0};
    size_t line_len, used;
    char why[256];
    while (n > 0 && serial_frame_next(p, n, term, &line_len, &used)) {
        FUZZ_CHECK(used > 0 && used <= n && line_len < used, "framing: line %zu, used %zu of %zu",
                   line_len, used, n);
        int64_t s, lost = 0;
        int32_t adc;
        why[0] = 0;
        int rc = serial_firmware_parse(p, line_len, &s, &adc, why, sizeof why);
        FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2, "firmware: status %d", rc);
        FUZZ_CHECK(rc == 0 || (why[0] && memchr(why, 0, sizeof why)), "firmware: no message");
        if (rc == 0) {
            FUZZ_CHECK(s >= 0 && s <= SERIAL_SEQ_WRAP, "firmware: sequence %lld", (long long)s);
            enum serial_seq_event e = serial_seq_update(&seq, s, &lost);
            FUZZ_CHECK(e != SERIAL_SEQ_GAP || lost > 0, "gap of %lld", (long long)lost);
        }
        p += used;
        n -= used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1 || len > 65536)
        return 0;
    uint8_t sel = data[0];
    /* a copy of exactly the bytes given, so that a read past them is caught */
    size_t n = len - 1;
    char *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 1, n);
    int64_t i;
    double d;
    int b;
    char name[64], why[256];
    enum serial_ftype ft;
    switch (sel % 8) {
    case 0:
        fuzz_firmware_lines(p, n, (enum serial_term)((sel >> 3) % 3));
        break;
    case 1:
        if (serial_parse_int(p, n, INT32_MIN, INT32_MAX, &i) == 0)
            FUZZ_CHECK(i >= INT32_MIN && i <= INT32_MAX, "int32 out of range");
        if (serial_parse_int(p, n, INT64_MIN, INT64_MAX, &i) == 0 &&
            serial_parse_int(p, n, 0, 0, &i) == 0)
            FUZZ_CHECK(i == 0, "zero range gave %lld", (long long)i);
        break;
    case 2:
        if (serial_parse_double(p, n, &d) == 0)
            FUZZ_CHECK(d - d == 0, "not finite");
        break;
    case 3:
        if (serial_parse_bool(p, n, &b) == 0)
            FUZZ_CHECK(b == 0 || b == 1, "boolean %d", b);
        break;
    case 4: {
        char *spec = malloc(n + 1);
        if (spec) {
            memcpy(spec, p, n);
            spec[n] = 0;
            if (serial_field_spec(spec, name, sizeof name, &ft, why, sizeof why) == 0) {
                FUZZ_CHECK(memchr(name, 0, sizeof name) != NULL, "name not terminated");
                FUZZ_CHECK(serial_ftype_name(ft) != NULL, "type %d has no name", (int)ft);
            }
            (void)serial_valid_fullname(spec);
            free(spec);
        }
        break;
    }
    case 5:
        (void)serial_valid_name(p, n);
        (void)serial_utf8_valid(p, n);
        break;
    default: {
        /* a stream cut anywhere: the lines framed in pieces are the lines framed at once */
        size_t line_len, used;
        for (size_t off = 0;
             off < n && serial_frame_next(p + off, n - off, SERIAL_TERM_AUTO, &line_len, &used);
             off += used)
            FUZZ_CHECK(used > 0 && used <= n - off && line_len < used, "framing");
        fuzz_firmware_lines(p, n, (enum serial_term)(sel % 3));
        break;
    }
    }
    free(p);
    return 0;
}
