/*
 * datagen_regex.h — strings that match a regular expression, for the `regex` hint of datagen-avro.
 *
 * The syntax is the common subset of POSIX ERE, Java and PCRE that generators use: literals,
 * escapes (\d \D \w \W \s \S, \t \n \r \f \v, \xHH, and \ before any punctuation), classes
 * ([a-z0-9_], negated [^...], POSIX [:alpha:] and friends inside them), `.`, the quantifiers
 * ? * + {n} {n,} {n,m} (a trailing lazy `?` or possessive `+` is accepted and means nothing here),
 * alternation |, groups ( ) (?: ) (?<name> ), and the anchors ^ and $ (ignored: every generated
 * string is a whole match). Back-references, look-arounds, \b, inline flags and a quantifier
 * after a quantifier (a**, a{2}{3}) are rejected.
 *
 * Generation draws every choice from the caller's datagen_rand, so a seed gives the same strings.
 * Characters picked from classes, `.` and negated classes are printable ASCII (0x20-0x7e) whenever
 * the class has any; non-ASCII text may appear as literals (UTF-8), not inside classes.
 */
#ifndef DATAGEN_REGEX_H
#define DATAGEN_REGEX_H

#include <stddef.h>

#include "datagen_rand.h"

struct datagen_regex;

/* Most repetitions of a group or atom, and most output bytes, that a pattern may ask for. */
#define DATAGEN_REGEX_MAX_REPEAT 100000u
#define DATAGEN_REGEX_MAX_LEN    (1u << 20)
/* Most steps (atoms and repetitions visited) that generating one string may take: repetitions of
 * what can be empty cost time without length. */
#define DATAGEN_REGEX_MAX_STEPS (1u << 22)

/*
 * Compiles `pattern` once into a compact program. Unbounded quantifiers (*, +, {n,}) repeat at most
 * `extra` times more than their minimum. Returns NULL and writes into `err` a message that names
 * the position (1-based, in bytes) of the problem, e.g. "position 7: unbalanced ')'".
 */
struct datagen_regex *datagen_regex_compile(const char *pattern, unsigned extra, char *err,
                                            size_t err_size);
/* The shortest and the longest string the program can produce (bytes). */
size_t datagen_regex_min_len(const struct datagen_regex *re);
size_t datagen_regex_max_len(const struct datagen_regex *re);
/* Writes one matching string (no NUL) to `out`, which has room for datagen_regex_max_len()
 * bytes; returns its length. */
size_t datagen_regex_generate(const struct datagen_regex *re, struct datagen_rand *r, char *out);
void datagen_regex_free(struct datagen_regex *re);

#endif
