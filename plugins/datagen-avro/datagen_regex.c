/*
 * datagen_regex.c — a regular-expression engine that generates instead of matching.
 *
 * Written by hand: no C library packaged in Debian generates strings from a regex (PCRE2, TRE,
 * oniguruma and POSIX regcomp only match), and Confluent's generator (Generex, Java) silently gave
 * up on patterns whose strings exceed 15 characters. The pattern is parsed once into an array of
 * nodes (literal runs, character sets, concatenations, alternations, repetitions) whose literal
 * bytes and set alphabets sit in one pool; generating walks that array and draws every choice from
 * the caller's PRNG, with no allocation.
 */
#include "datagen_regex.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_NONE      UINT32_MAX
#define RX_MAX_DEPTH 200

enum rx_op {
    RX_STR, /* pool[off .. off+len): literal bytes */
    RX_SET, /* one byte out of pool[off .. off+len) */
    RX_CAT, /* the children in order */
    RX_ALT, /* one of the children */
    RX_REP, /* the child min..max times */
};

struct rx_node {
    enum rx_op op;
    uint32_t off, len; /* STR, SET */
    uint32_t kid;      /* CAT, ALT, REP: first child */
    uint32_t nkids;    /* CAT, ALT */
    uint32_t next;     /* next sibling */
    uint32_t min, max; /* REP */
    size_t minlen, maxlen;
    size_t steps; /* the most rx_gen calls one string takes (repetitions of empty strings cost
                     time without length: "(){100000}" nested) */
};

struct datagen_regex {
    struct rx_node *nodes;
    size_t nnodes, capnodes;
    unsigned char *pool;
    size_t npool, cappool;
    uint32_t root;
};

struct rx_parser {
    struct datagen_regex *re;
    const char *pat;
    size_t pos;
    unsigned extra;
    int depth;
    char *err;
    size_t err_size;
    int failed;
};

static void rx_fail(struct rx_parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rx_fail(struct rx_parser *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->failed) {
        return;
    }
    p->failed = 1;
    if (p->err == NULL || p->err_size == 0) {
        return;
    }
    n = snprintf(p->err, p->err_size, "position %zu: ", at + 1);
    if (n >= 0 && (size_t)n < p->err_size) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

static uint32_t rx_node(struct rx_parser *p, enum rx_op op)
{
    struct datagen_regex *re = p->re;

    if (p->failed) {
        return RX_NONE;
    }
    if (re->nnodes == re->capnodes) {
        size_t cap = re->capnodes ? re->capnodes * 2 : 32;
        struct rx_node *n = realloc(re->nodes, cap * sizeof *n);

        if (n == NULL) {
            rx_fail(p, p->pos, "out of memory");
            return RX_NONE;
        }
        re->nodes = n;
        re->capnodes = cap;
    }
    memset(&re->nodes[re->nnodes], 0, sizeof re->nodes[0]);
    re->nodes[re->nnodes].op = op;
    re->nodes[re->nnodes].kid = RX_NONE;
    re->nodes[re->nnodes].next = RX_NONE;
    return (uint32_t)re->nnodes++;
}

static int rx_pool_add(struct rx_parser *p, const unsigned char *bytes, size_t n)
{
    struct datagen_regex *re = p->re;

    if (re->npool + n > re->cappool) {
        size_t cap = re->cappool ? re->cappool * 2 : 256;
        unsigned char *np;

        while (cap < re->npool + n) {
            cap *= 2;
        }
        np = realloc(re->pool, cap);
        if (np == NULL) {
            rx_fail(p, p->pos, "out of memory");
            return -1;
        }
        re->pool = np;
        re->cappool = cap;
    }
    memcpy(re->pool + re->npool, bytes, n);
    re->npool += n;
    return 0;
}

/* A set node from a 256-bit membership map: printable ASCII members if there are any, otherwise
 * every ASCII member. */
static uint32_t rx_set(struct rx_parser *p, const unsigned char map[32], size_t at)
{
    unsigned char chars[256];
    size_t n = 0;
    uint32_t id;

    for (int c = 0x20; c <= 0x7e; c++) {
        if (map[c >> 3] & (1u << (c & 7))) {
            chars[n++] = (unsigned char)c;
        }
    }
    if (n == 0) {
        for (int c = 1; c < 0x80; c++) {
            if (map[c >> 3] & (1u << (c & 7))) {
                chars[n++] = (unsigned char)c;
            }
        }
    }
    if (n == 0) {
        rx_fail(p, at, "the class matches no character");
        return RX_NONE;
    }
    id = rx_node(p, RX_SET);
    if (id == RX_NONE) {
        return RX_NONE;
    }
    p->re->nodes[id].off = (uint32_t)p->re->npool;
    p->re->nodes[id].len = (uint32_t)n;
    if (rx_pool_add(p, chars, n) != 0) {
        return RX_NONE;
    }
    return id;
}

static void rx_map_add(unsigned char map[32], int c)
{
    map[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static void rx_map_range(unsigned char map[32], int lo, int hi)
{
    for (int c = lo; c <= hi; c++) {
        rx_map_add(map, c);
    }
}

/* The shorthand classes \d \w \s (and negated \D \W \S) over ASCII. */
static void rx_map_shorthand(unsigned char map[32], char which)
{
    unsigned char m[32] = {0};

    switch (which) {
    case 'd':
    case 'D':
        rx_map_range(m, '0', '9');
        break;
    case 'w':
    case 'W':
        rx_map_range(m, '0', '9');
        rx_map_range(m, 'A', 'Z');
        rx_map_range(m, 'a', 'z');
        rx_map_add(m, '_');
        break;
    default: /* s, S */
        rx_map_add(m, ' ');
        rx_map_range(m, '\t', '\r');
        break;
    }
    if (which == 'D' || which == 'W' || which == 'S') {
        for (int i = 0; i < 16; i++) { /* ASCII only: bytes 1..127 */
            m[i] = (unsigned char)~m[i];
        }
        m[0] &= 0xfe;
    }
    for (int i = 0; i < 32; i++) {
        map[i] |= m[i];
    }
}

static int rx_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * An escape at p->pos (just after the backslash). Returns the literal byte (0..255), or -2 when it
 * was a shorthand class added to `map` (only when `map` is not NULL), or -1 on error.
 */
static int rx_escape(struct rx_parser *p, unsigned char *map)
{
    size_t at = p->pos - 1;
    char c = p->pat[p->pos];

    if (c == '\0') {
        rx_fail(p, at, "a pattern cannot end with a backslash");
        return -1;
    }
    p->pos++;
    switch (c) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 's':
    case 'S':
        if (map == NULL) {
            return -3; /* the caller makes a set */
        }
        rx_map_shorthand(map, c);
        return -2;
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    case 'x': {
        int h1 = rx_hex(p->pat[p->pos]), h2 = h1 < 0 ? -1 : rx_hex(p->pat[p->pos + 1]);
        int v;

        if (h1 < 0 || h2 < 0) {
            rx_fail(p, at, "\\x needs two hexadecimal digits");
            return -1;
        }
        v = h1 * 16 + h2;
        p->pos += 2;
        if (v == 0 || v > 0x7f) {
            rx_fail(p, at, "\\x%02X is not an ASCII character other than NUL", (unsigned)v);
            return -1;
        }
        return v;
    }
    case 'b':
    case 'B':
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
        rx_fail(p, at, "the anchor \\%c is not supported (a generated string is a whole match)", c);
        return -1;
    default:
        break;
    }
    if (c >= '0' && c <= '9') {
        rx_fail(p, at, "back-references (\\%c) are not supported", c);
        return -1;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        rx_fail(p, at, "unknown escape \\%c", c);
        return -1;
    }
    if ((unsigned char)c >= 0x80) {
        rx_fail(p, at, "a backslash before a non-ASCII character");
        return -1;
    }
    return (unsigned char)c; /* \. \\ \[ \{ \* \- \/ ... */
}

static const struct {
    const char *name;
    const char *ranges; /* pairs of bounds */
} rx_posix[] = {
    {"alpha", "AZaz"},   {"digit", "09"},     {"alnum", "AZaz09"},  {"upper", "AZ"},
    {"lower", "az"},     {"space", "  \t\r"}, {"xdigit", "09AFaf"}, {"punct", "!/:@[`{~"},
    {"blank", "  \t\t"}, {"print", " ~"},     {"graph", "!~"},      {"cntrl", "\x01\x1f\x7f\x7f"},
};

/* A bracket expression; p->pos is just after '['. */
static uint32_t rx_class(struct rx_parser *p)
{
    size_t at = p->pos - 1;
    unsigned char map[32] = {0};
    int negate = 0, first = 1;

    if (p->pat[p->pos] == '^') {
        negate = 1;
        p->pos++;
    }
    for (;;) {
        char c = p->pat[p->pos];
        int lo, hi;

        if (c == '\0') {
            rx_fail(p, at, "unterminated class '['");
            return RX_NONE;
        }
        if (c == ']' && !first) {
            p->pos++;
            break;
        }
        first = 0;
        if (c == '[' && p->pat[p->pos + 1] == ':') {
            const char *end = strstr(p->pat + p->pos + 2, ":]");
            size_t len = end ? (size_t)(end - (p->pat + p->pos + 2)) : 0;
            size_t k;

            for (k = 0; end && k < sizeof rx_posix / sizeof rx_posix[0]; k++) {
                if (strlen(rx_posix[k].name) == len &&
                    strncmp(rx_posix[k].name, p->pat + p->pos + 2, len) == 0) {
                    break;
                }
            }
            if (end == NULL || k == sizeof rx_posix / sizeof rx_posix[0]) {
                rx_fail(p, p->pos,
                        "unknown POSIX class (known: alpha, digit, alnum, upper, "
                        "lower, space, xdigit, punct, blank, print, graph, cntrl)");
                return RX_NONE;
            }
            for (const char *r = rx_posix[k].ranges; r[0] != '\0'; r += 2) {
                rx_map_range(map, (unsigned char)r[0], (unsigned char)r[1]);
            }
            p->pos += 2 + len + 2;
            continue;
        }
        if ((unsigned char)c >= 0x80) {
            rx_fail(p, p->pos, "non-ASCII characters are not supported inside a class");
            return RX_NONE;
        }
        p->pos++;
        if (c == '\\') {
            lo = rx_escape(p, map);
            if (lo == -1) {
                return RX_NONE;
            }
            if (lo == -2) {
                continue;
            }
        } else {
            lo = (unsigned char)c;
        }
        hi = lo;
        if (p->pat[p->pos] == '-' && p->pat[p->pos + 1] != ']' && p->pat[p->pos + 1] != '\0') {
            size_t rat = p->pos;
            char d = p->pat[p->pos + 1];

            p->pos += 2;
            if (d == '\\') {
                hi = rx_escape(p, NULL);
                if (hi == -1) {
                    return RX_NONE;
                }
                if (hi < 0) {
                    rx_fail(p, rat, "a range cannot end with a class shorthand");
                    return RX_NONE;
                }
            } else if ((unsigned char)d >= 0x80) {
                rx_fail(p, rat + 1, "non-ASCII characters are not supported inside a class");
                return RX_NONE;
            } else {
                hi = (unsigned char)d;
            }
            if (hi < lo) {
                rx_fail(p, rat, "the range %c-%c is reversed", lo, hi);
                return RX_NONE;
            }
        }
        rx_map_range(map, lo, hi);
    }
    if (negate) {
        for (int i = 0; i < 16; i++) {
            map[i] = (unsigned char)~map[i];
        }
        map[0] &= 0xfe; /* never NUL */
        memset(map + 16, 0, 16);
    }
    return rx_set(p, map, at);
}

static uint32_t rx_alt(struct rx_parser *p);

static uint32_t rx_str(struct rx_parser *p, const unsigned char *bytes, size_t n)
{
    uint32_t id = rx_node(p, RX_STR);

    if (id == RX_NONE) {
        return RX_NONE;
    }
    p->re->nodes[id].off = (uint32_t)p->re->npool;
    p->re->nodes[id].len = (uint32_t)n;
    if (rx_pool_add(p, bytes, n) != 0) {
        return RX_NONE;
    }
    return id;
}

/* One atom: a literal, an escape, a class, `.`, a group or an anchor (an empty concatenation). */
static uint32_t rx_atom(struct rx_parser *p)
{
    size_t at = p->pos;
    unsigned char c = (unsigned char)p->pat[p->pos];

    switch (c) {
    case '(': {
        uint32_t id;

        p->pos++;
        if (p->pat[p->pos] == '?') {
            if (p->pat[p->pos + 1] == ':') {
                p->pos += 2;
            } else if (p->pat[p->pos + 1] == '<' && p->pat[p->pos + 2] != '=' &&
                       p->pat[p->pos + 2] != '!') {
                const char *end = strchr(p->pat + p->pos, '>');

                if (end == NULL) {
                    rx_fail(p, at, "unterminated group name");
                    return RX_NONE;
                }
                p->pos = (size_t)(end - p->pat) + 1;
            } else {
                rx_fail(p, at,
                        "only (?: ) and (?<name> ) groups are supported (no look-around "
                        "or inline flags)");
                return RX_NONE;
            }
        }
        if (++p->depth > RX_MAX_DEPTH) {
            rx_fail(p, at, "groups nested deeper than %d", RX_MAX_DEPTH);
            return RX_NONE;
        }
        id = rx_alt(p);
        p->depth--;
        if (id == RX_NONE) {
            return RX_NONE;
        }
        if (p->pat[p->pos] != ')') {
            rx_fail(p, at, "unbalanced '(': no ')' closes it");
            return RX_NONE;
        }
        p->pos++;
        return id;
    }
    case '[':
        p->pos++;
        return rx_class(p);
    case '.': {
        unsigned char map[32] = {0};

        p->pos++;
        rx_map_range(map, 0x20, 0x7e);
        return rx_set(p, map, at);
    }
    case '^':
    case '$':
        p->pos++;
        return rx_node(p, RX_CAT);
    case '*':
    case '+':
    case '?':
        rx_fail(p, at, "'%c' has nothing to repeat", c);
        return RX_NONE;
    case '{':
        rx_fail(p, at, "'{' has nothing to repeat (write \\{ for a literal brace)");
        return RX_NONE;
    case '\\': {
        unsigned char map[32] = {0};
        int v;

        p->pos++;
        v = rx_escape(p, NULL);
        if (v == -1) {
            return RX_NONE;
        }
        if (v == -3) {
            rx_map_shorthand(map, p->pat[p->pos - 1]);
            return rx_set(p, map, at);
        }
        c = (unsigned char)v;
        return rx_str(p, &c, 1);
    }
    default:
        break;
    }
    if (c >= 0x80) { /* a whole UTF-8 sequence is one literal */
        size_t n = 1;

        while (n < 4 && ((unsigned char)p->pat[p->pos + n] & 0xc0) == 0x80) {
            n++;
        }
        p->pos += n;
        return rx_str(p, (const unsigned char *)p->pat + at, n);
    }
    p->pos++;
    return rx_str(p, &c, 1);
}

static int rx_number(struct rx_parser *p, uint32_t *out)
{
    uint64_t v = 0;
    size_t start = p->pos;

    while (p->pat[p->pos] >= '0' && p->pat[p->pos] <= '9') {
        v = v * 10 + (uint64_t)(p->pat[p->pos] - '0');
        if (v > DATAGEN_REGEX_MAX_REPEAT) {
            rx_fail(p, start, "a repeat count above %u", DATAGEN_REGEX_MAX_REPEAT);
            return -1;
        }
        p->pos++;
    }
    if (p->pos == start) {
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

/* An atom and its quantifiers. */
static uint32_t rx_repeat(struct rx_parser *p)
{
    uint32_t id = rx_atom(p);

    while (id != RX_NONE) {
        size_t at = p->pos;
        char c = p->pat[p->pos];
        uint32_t min, max, rep;

        if (c == '*' || c == '+' || c == '?') {
            min = c == '+' ? 1 : 0;
            max = c == '?' ? 1 : min + p->extra;
            p->pos++;
        } else if (c == '{') {
            int has_min, has_max = 0;

            p->pos++;
            min = 0;
            has_min = rx_number(p, &min);
            if (has_min < 0) {
                return RX_NONE;
            }
            if (has_min == 0) {
                rx_fail(p, at,
                        "'{' must start a bound {n}, {n,} or {n,m} (write \\{ for a "
                        "literal brace)");
                return RX_NONE;
            }
            max = min;
            if (p->pat[p->pos] == ',') {
                p->pos++;
                has_max = rx_number(p, &max);
                if (has_max < 0) {
                    return RX_NONE;
                }
                if (has_max == 0) {
                    max = min + p->extra;
                }
            }
            if (p->pat[p->pos] != '}') {
                rx_fail(p, at, "unterminated bound: '}' expected at position %zu", p->pos + 1);
                return RX_NONE;
            }
            p->pos++;
            if (max < min) {
                rx_fail(p, at, "the bound {%u,%u} has its maximum below its minimum", min, max);
                return RX_NONE;
            }
        } else {
            break;
        }
        if (p->pat[p->pos] == '?' || p->pat[p->pos] == '+') {
            p->pos++; /* lazy or possessive: the same strings */
        }
        c = p->pat[p->pos];
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            /* "a**" is refused by Java and PCRE; stacked, each would nest the tree one level
             * deeper, unbounded by the groups' depth (found by tests/fuzz/fuzz_datagen) */
            rx_fail(p, p->pos, "'%c' follows a quantifier: nothing to repeat (write (?:a*)%c)", c,
                    c);
            return RX_NONE;
        }
        rep = rx_node(p, RX_REP);
        if (rep == RX_NONE) {
            return RX_NONE;
        }
        p->re->nodes[rep].kid = id;
        p->re->nodes[rep].min = min;
        p->re->nodes[rep].max = max;
        id = rep;
    }
    return id;
}

/* A concatenation up to '|', ')' or the end; adjacent literals merge into one run. */
static uint32_t rx_cat(struct rx_parser *p)
{
    uint32_t id = rx_node(p, RX_CAT), last = RX_NONE;

    while (id != RX_NONE && p->pat[p->pos] != '\0' && p->pat[p->pos] != '|' &&
           p->pat[p->pos] != ')') {
        uint32_t k = rx_repeat(p);
        struct rx_node *n;

        if (k == RX_NONE) {
            return RX_NONE;
        }
        n = p->re->nodes;
        if (last != RX_NONE && n[k].op == RX_STR && n[last].op == RX_STR &&
            n[last].off + n[last].len == n[k].off && k == p->re->nnodes - 1) {
            n[last].len += n[k].len;
            p->re->nnodes--;
            continue;
        }
        if (last == RX_NONE) {
            n[id].kid = k;
        } else {
            n[last].next = k;
        }
        n[id].nkids++;
        last = k;
    }
    return id;
}

static uint32_t rx_alt(struct rx_parser *p)
{
    uint32_t first = rx_cat(p), alt, last;

    if (first == RX_NONE || p->pat[p->pos] != '|') {
        return first;
    }
    alt = rx_node(p, RX_ALT);
    if (alt == RX_NONE) {
        return RX_NONE;
    }
    p->re->nodes[alt].kid = first;
    p->re->nodes[alt].nkids = 1;
    last = first;
    while (p->pat[p->pos] == '|') {
        uint32_t k;

        p->pos++;
        k = rx_cat(p);
        if (k == RX_NONE) {
            return RX_NONE;
        }
        p->re->nodes[last].next = k;
        p->re->nodes[alt].nkids++;
        last = k;
    }
    return alt;
}

static size_t rx_sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t rx_sat_mul(size_t a, size_t b)
{
    return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* Fills minlen and maxlen of node i and everything under it. */
static void rx_measure(struct datagen_regex *re, uint32_t i)
{
    struct rx_node *n = &re->nodes[i];

    switch (n->op) {
    case RX_STR:
        n->minlen = n->maxlen = n->len;
        n->steps = 1;
        break;
    case RX_SET:
        n->minlen = n->maxlen = 1;
        n->steps = 1;
        break;
    case RX_CAT:
        n->minlen = n->maxlen = 0;
        n->steps = 1;
        for (uint32_t k = n->kid; k != RX_NONE; k = re->nodes[k].next) {
            rx_measure(re, k);
            n = &re->nodes[i];
            n->minlen = rx_sat_add(n->minlen, re->nodes[k].minlen);
            n->maxlen = rx_sat_add(n->maxlen, re->nodes[k].maxlen);
            n->steps = rx_sat_add(n->steps, re->nodes[k].steps);
        }
        break;
    case RX_ALT:
        n->minlen = SIZE_MAX;
        n->maxlen = 0;
        n->steps = 0;
        for (uint32_t k = n->kid; k != RX_NONE; k = re->nodes[k].next) {
            rx_measure(re, k);
            n = &re->nodes[i];
            if (re->nodes[k].minlen < n->minlen) {
                n->minlen = re->nodes[k].minlen;
            }
            if (re->nodes[k].maxlen > n->maxlen) {
                n->maxlen = re->nodes[k].maxlen;
            }
            if (re->nodes[k].steps > n->steps) {
                n->steps = re->nodes[k].steps;
            }
        }
        n->steps = rx_sat_add(n->steps, 1);
        break;
    case RX_REP:
        rx_measure(re, n->kid);
        n = &re->nodes[i];
        n->minlen = rx_sat_mul(re->nodes[n->kid].minlen, n->min);
        n->maxlen = rx_sat_mul(re->nodes[n->kid].maxlen, n->max);
        n->steps = rx_sat_add(rx_sat_mul(re->nodes[n->kid].steps, n->max), 1);
        break;
    }
}

struct datagen_regex *datagen_regex_compile(const char *pattern, unsigned extra, char *err,
                                            size_t err_size)
{
    struct rx_parser p = {.pat = pattern, .extra = extra, .err = err, .err_size = err_size};
    struct datagen_regex *re = calloc(1, sizeof *re);

    if (re == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    p.re = re;
    re->root = rx_alt(&p);
    if (!p.failed && p.pat[p.pos] == ')') {
        rx_fail(&p, p.pos, "unbalanced ')': no '(' opens it");
    }
    if (!p.failed) {
        rx_measure(re, re->root);
        if (re->nodes[re->root].maxlen > DATAGEN_REGEX_MAX_LEN) {
            p.pos = 0;
            rx_fail(&p, 0, "the pattern can produce strings longer than %u bytes",
                    DATAGEN_REGEX_MAX_LEN);
        } else if (re->nodes[re->root].steps > DATAGEN_REGEX_MAX_STEPS) {
            p.pos = 0;
            rx_fail(&p, 0,
                    "the pattern takes more than %u steps to generate a string (repetitions "
                    "nested in repetitions)",
                    DATAGEN_REGEX_MAX_STEPS);
        }
    }
    if (p.failed) {
        datagen_regex_free(re);
        return NULL;
    }
    return re;
}

size_t datagen_regex_min_len(const struct datagen_regex *re)
{
    return re->nodes[re->root].minlen;
}

size_t datagen_regex_max_len(const struct datagen_regex *re)
{
    return re->nodes[re->root].maxlen;
}

static size_t rx_gen(const struct datagen_regex *re, uint32_t i, struct datagen_rand *r, char *out)
{
    const struct rx_node *n = &re->nodes[i];
    size_t len = 0;

    switch (n->op) {
    case RX_STR:
        memcpy(out, re->pool + n->off, n->len);
        return n->len;
    case RX_SET:
        out[0] = (char)re->pool[n->off + (n->len == 1 ? 0 : datagen_rand_below(r, n->len))];
        return 1;
    case RX_CAT:
        for (uint32_t k = n->kid; k != RX_NONE; k = re->nodes[k].next) {
            len += rx_gen(re, k, r, out + len);
        }
        return len;
    case RX_ALT: {
        uint64_t pick = datagen_rand_below(r, n->nkids);
        uint32_t k = n->kid;

        while (pick-- > 0) {
            k = re->nodes[k].next;
        }
        return rx_gen(re, k, r, out);
    }
    case RX_REP: {
        uint64_t count = n->min;

        if (n->max > n->min) {
            count += datagen_rand_below(r, (uint64_t)(n->max - n->min) + 1);
        }
        for (uint64_t c = 0; c < count; c++) {
            len += rx_gen(re, n->kid, r, out + len);
        }
        return len;
    }
    }
    return 0;
}

size_t datagen_regex_generate(const struct datagen_regex *re, struct datagen_rand *r, char *out)
{
    return rx_gen(re, re->root, r, out);
}

void datagen_regex_free(struct datagen_regex *re)
{
    if (re == NULL) {
        return;
    }
    free(re->nodes);
    free(re->pool);
    free(re);
}
