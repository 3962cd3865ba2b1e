/*
 * serial_parse.h — the pure parts of the serial source: line framing, number and field parsing,
 * the firmware's `$LUZ,<seq>,<adc>*<HH>` sentences and sequence tracking. No I/O and no host
 * calls, so the unit tests (test_serial_parse.c) exercise them directly.
 */
#ifndef SERIAL_PARSE_H
#define SERIAL_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* How lines end on the wire. */
enum serial_term {
    SERIAL_TERM_AUTO = 0, /* "\n", a "\r" before it is dropped */
    SERIAL_TERM_LF,       /* "\n" only; a "\r" is part of the line */
    SERIAL_TERM_CRLF,     /* "\r\n" only; a lone "\n" is part of the line */
};

/*
 * Finds the first complete line in buf[0..len). Returns 1 with the line's length (terminator
 * removed) in *line_len and the bytes it takes with its terminator in *consumed; 0 when `buf` holds
 * no complete line.
 */
int serial_frame_next(const char *buf, size_t len, enum serial_term term, size_t *line_len,
                      size_t *consumed);

/* Types of typed fields (csv.fields, regex.fields). */
enum serial_ftype {
    SERIAL_F_INT32 = 0,
    SERIAL_F_INT64,
    SERIAL_F_FLOAT64,
    SERIAL_F_STRING,
    SERIAL_F_BOOLEAN,
};

/* "int32", "int64", "float64", "string", "boolean" (also "int", "long", "double", "float",
 * "bool"). */
const char *serial_ftype_name(enum serial_ftype t);

/* A name usable as an Avro field name: [A-Za-z_][A-Za-z0-9_]*. */
int serial_valid_name(const char *s, size_t len);
/* A name usable as an Avro record full name: names separated by dots. */
int serial_valid_fullname(const char *s);

/*
 * Parses "name:type" (type defaults to string when ":type" is absent). On success returns 0 with
 * the name in name[0..name_size) and the type in *type; on error -1 with a message in `why`.
 */
int serial_field_spec(const char *spec, char *name, size_t name_size, enum serial_ftype *type,
                      char *why, size_t why_size);

/* Integers in decimal with an optional sign, surrounded by optional spaces and tabs; 0 when
 * `p[0..len)` is exactly such a number within [min, max]. */
int serial_parse_int(const char *p, size_t len, int64_t min, int64_t max, int64_t *out);
/* A finite floating-point number (strtod syntax), optional surrounding spaces and tabs. */
int serial_parse_double(const char *p, size_t len, double *out);
/* true/false (any case), 1/0, optional surrounding spaces and tabs. */
int serial_parse_bool(const char *p, size_t len, int *out);

/* 1 if p[0..len) is valid UTF-8 without NUL bytes. */
int serial_utf8_valid(const char *p, size_t len);

/*
 * The improved firmware's sentence: `$LUZ,<seq>,<adc>*<HH>`, HH the two hex digits of the XOR of
 * every byte between '$' and '*'. Returns 0 with the fields; -1 with a message for a malformed
 * sentence, -2 with a message for a well-formed one whose checksum does not match.
 */
int serial_firmware_parse(const char *line, size_t len, int64_t *seq, int32_t *adc, char *why,
                          size_t why_size);

/* Sequence tracking of the firmware's numbers. */
/* The firmware counts in a uint32: after this number comes 0, which is no reset. */
#define SERIAL_SEQ_WRAP 4294967295LL

struct serial_seq {
    int have;     /* a number was seen since the device was (re)opened */
    int64_t last; /* the last number seen */
};

enum serial_seq_event {
    SERIAL_SEQ_FIRST = 0, /* the first number after (re)opening: nothing to compare */
    SERIAL_SEQ_NEXT,      /* last + 1 */
    SERIAL_SEQ_GAP,       /* numbers were skipped: *lost says how many */
    SERIAL_SEQ_RESET,     /* the number went back to 0: the device restarted */
    SERIAL_SEQ_BACK,      /* the number went back (not to 0) or repeated: reordered or restarted */
};

enum serial_seq_event serial_seq_update(struct serial_seq *s, int64_t seq, int64_t *lost);

#endif
