/* interp.c — interpolation of scalar values: ${VAR}, ${VAR:-default}, ${file:PATH:KEY}, $$.
 *
 * Nothing undefined ever becomes a silent "": an unset variable without a default, an unreadable
 * properties file and a missing key are all errors. Tokens nest (`${A:-${B}}`), and the PATH and
 * KEY of a file token are themselves interpolated. A `$` not followed by `{` or `$` is literal. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"

/* Guards against runaway nesting such as a default that expands to itself forever. */
#define INTERP_MAX_DEPTH 16

static int interp_expand(const char *in, size_t len, const char *base_dir, int depth, buf_t *out,
                         char *errstr, size_t errstr_size);

/* Offset of the '}' that closes the token whose body starts at in[0], honouring nested ${…};
 * -1 when there is none. */
static long interp_find_close(const char *in, size_t len)
{
    int nest = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '$' && i + 1 < len && in[i + 1] == '$') {
            i++;
        } else if (in[i] == '$' && i + 1 < len && in[i + 1] == '{') {
            nest++;
            i++;
        } else if (in[i] == '}') {
            if (nest == 0)
                return (long)i;
            nest--;
        }
    }
    return -1;
}

/* Offset of the last ':' of body[0..len) that is not inside a nested ${…}; -1 if none. */
static long interp_last_colon(const char *body, size_t len)
{
    long found = -1;
    int nest = 0;
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '$' && i + 1 < len && body[i + 1] == '{') {
            nest++;
            i++;
        } else if (body[i] == '}' && nest > 0) {
            nest--;
        } else if (body[i] == ':' && nest == 0) {
            found = (long)i;
        }
    }
    return found;
}

/* Appends the UTF-8 encoding of code point `cp` (from a \uXXXX escape). */
static void interp_put_utf8(buf_t *b, unsigned cp)
{
    if (cp < 0x80) {
        buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        buf_putc(b, (char)(0xC0 | (cp >> 6)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        buf_putc(b, (char)(0xE0 | (cp >> 12)));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Decodes the Java .properties escapes of s[0..len) into `out`: \t \n \r \f \uXXXX, and \X → X
 * (so `\:`, `\=`, `\ ` and `\\` are literal). */
static void interp_unescape(const char *s, size_t len, buf_t *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 >= len) {
            buf_putc(out, s[i]);
            continue;
        }
        char c = s[++i];
        if (c == 't')
            buf_putc(out, '\t');
        else if (c == 'n')
            buf_putc(out, '\n');
        else if (c == 'r')
            buf_putc(out, '\r');
        else if (c == 'f')
            buf_putc(out, '\f');
        else if (c == 'u' && i + 4 < len && isxdigit((unsigned char)s[i + 1]) &&
                 isxdigit((unsigned char)s[i + 2]) && isxdigit((unsigned char)s[i + 3]) &&
                 isxdigit((unsigned char)s[i + 4])) {
            char hex[5] = {s[i + 1], s[i + 2], s[i + 3], s[i + 4], '\0'};
            interp_put_utf8(out, (unsigned)strtoul(hex, NULL, 16));
            i += 4;
        } else
            buf_putc(out, c);
    }
}

/* True when the line s[0..len) ends in an odd number of backslashes (a continuation). */
static int interp_continues(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[len - 1 - n] == '\\')
        n++;
    return n % 2 == 1;
}

/* Looks `key` up in the Java-style properties `text`: `key=value`, `key: value` or `key value`;
 * `#` and `!` start comment lines; a trailing backslash continues a line; keys and values are
 * trimmed. The last occurrence wins, as with java.util.Properties. 0 found, -1 not found. */
static int interp_properties_get(const char *text, const char *key, buf_t *value)
{
    int found = -1;
    buf_t line, k;
    buf_init(&line);
    buf_init(&k);
    const char *p = text;
    while (*p) {
        /* Gather one logical line (joining continuations, dropping the next line's indent). */
        buf_reset(&line);
        for (;;) {
            const char *eol = p + strcspn(p, "\r\n");
            size_t n = (size_t)(eol - p);
            int cont = interp_continues(p, n);
            buf_append(&line, p, cont ? n - 1 : n);
            p = eol;
            if (*p == '\r' && p[1] == '\n')
                p += 2;
            else if (*p)
                p++;
            if (!cont || !*p)
                break;
            while (*p == ' ' || *p == '\t' || *p == '\f')
                p++;
        }
        const char *s = line.data;
        size_t len = line.len;
        size_t i = 0;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
            i++;
        if (i == len || s[i] == '#' || s[i] == '!')
            continue;
        size_t ks = i;
        while (i < len && s[i] != '=' && s[i] != ':' && s[i] != ' ' && s[i] != '\t' &&
               s[i] != '\f') {
            if (s[i] == '\\')
                i++;
            i++;
        }
        if (i > len)
            i = len;
        size_t ke = i;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
            i++;
        if (i < len && (s[i] == '=' || s[i] == ':'))
            i++;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
            i++;
        size_t ve = len;
        while (ve > i && (s[ve - 1] == ' ' || s[ve - 1] == '\t' || s[ve - 1] == '\f'))
            ve--;
        buf_reset(&k);
        interp_unescape(s + ks, ke - ks, &k);
        if (strcmp(k.data, key) == 0) {
            buf_reset(value);
            interp_unescape(s + i, ve - i, value);
            found = 0;
        }
    }
    buf_free(&line);
    buf_free(&k);
    return found;
}

/* ${file:PATH:KEY}: body is "PATH:KEY" (after "file:"). */
static int interp_file_token(const char *body, size_t len, const char *base_dir, int depth,
                             buf_t *out, char *errstr, size_t errstr_size)
{
    int rc = -1;
    buf_t path, key, full, text, value;
    buf_init(&path);
    buf_init(&key);
    buf_init(&full);
    buf_init(&text);
    buf_init(&value);
    long colon = interp_last_colon(body, len);
    if (colon <= 0 || (size_t)colon + 1 >= len) {
        snprintf(errstr, errstr_size,
                 "malformed ${file:%.*s}: write ${file:PATH:KEY} (a properties file and a key)",
                 (int)len, body);
        goto out;
    }
    if (interp_expand(body, (size_t)colon, base_dir, depth + 1, &path, errstr, errstr_size) != 0 ||
        interp_expand(body + colon + 1, len - (size_t)colon - 1, base_dir, depth + 1, &key, errstr,
                      errstr_size) != 0)
        goto out;
    if (path.data[0] != '/' && base_dir && *base_dir)
        buf_printf(&full, "%s/%s", base_dir, path.data);
    else
        buf_puts(&full, path.data);
    if (buf_read_file(&text, full.data) != 0) {
        snprintf(errstr, errstr_size, "cannot read properties file '%s' of ${file:%.*s}: %s",
                 full.data, (int)len, body, strerror(errno));
        goto out;
    }
    if (interp_properties_get(text.data, key.data, &value) != 0) {
        snprintf(errstr, errstr_size,
                 "key '%s' not found in properties file '%s' (of ${file:%.*s}); add a line "
                 "'%s=VALUE' there",
                 key.data, full.data, (int)len, body, key.data);
        goto out;
    }
    buf_append(out, value.data, value.len);
    rc = 0;
out:
    buf_free(&path);
    buf_free(&key);
    buf_free(&full);
    buf_free(&text);
    buf_free(&value);
    return rc;
}

/* ${VAR} or ${VAR:-default}: body is what lies between the braces. */
static int interp_var_token(const char *body, size_t len, const char *base_dir, int depth,
                            buf_t *out, char *errstr, size_t errstr_size)
{
    int rc = -1;
    char *name = NULL;
    size_t nlen = 0;
    while (nlen < len && (isalnum((unsigned char)body[nlen]) || body[nlen] == '_'))
        nlen++;
    int has_default = len - nlen >= 2 && body[nlen] == ':' && body[nlen + 1] == '-';
    if (nlen == 0 || isdigit((unsigned char)body[0]) || (nlen != len && !has_default)) {
        snprintf(errstr, errstr_size,
                 "invalid reference ${%.*s}: write ${NAME}, ${NAME:-default} or "
                 "${file:PATH:KEY} (NAME is letters, digits and _), or $$ for a literal $",
                 (int)len, body);
        goto out;
    }
    name = strndup(body, nlen);
    if (!name) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    const char *v = getenv(name);
    if (has_default && (!v || !*v)) {
        /* As in shell, ":-" also replaces a variable that is set but empty. */
        rc = interp_expand(body + nlen + 2, len - nlen - 2, base_dir, depth + 1, out, errstr,
                           errstr_size);
        goto out;
    }
    if (!v) {
        snprintf(errstr, errstr_size,
                 "undefined variable '%s' in ${%.*s}: set it in the environment or give a "
                 "default with ${%s:-VALUE}; for a literal ${%.*s} (e.g. timestamp-router's "
                 "topic.format), write $${%.*s}",
                 name, (int)len, body, name, (int)len, body, (int)len, body);
        goto out;
    }
    buf_puts(out, v);
    rc = 0;
out:
    free(name);
    return rc;
}

static int interp_expand(const char *in, size_t len, const char *base_dir, int depth, buf_t *out,
                         char *errstr, size_t errstr_size)
{
    if (depth > INTERP_MAX_DEPTH) {
        snprintf(errstr, errstr_size, "interpolation nested deeper than %d levels",
                 INTERP_MAX_DEPTH);
        return -1;
    }
    size_t i = 0;
    while (i < len) {
        if (in[i] != '$' || i + 1 >= len || (in[i + 1] != '$' && in[i + 1] != '{')) {
            buf_putc(out, in[i++]);
            continue;
        }
        if (in[i + 1] == '$') {
            buf_putc(out, '$');
            i += 2;
            continue;
        }
        const char *body = in + i + 2;
        long close = interp_find_close(body, len - i - 2);
        if (close < 0) {
            snprintf(errstr, errstr_size,
                     "unterminated '${' in '%.*s': close it with '}' (or write $$ for a literal $)",
                     (int)len, in);
            return -1;
        }
        size_t blen = (size_t)close;
        int rc;
        if (blen >= 5 && strncmp(body, "file:", 5) == 0)
            rc = interp_file_token(body + 5, blen - 5, base_dir, depth, out, errstr, errstr_size);
        else
            rc = interp_var_token(body, blen, base_dir, depth, out, errstr, errstr_size);
        if (rc != 0)
            return -1;
        i += 2 + blen + 1;
    }
    return 0;
}

char *config_interpolate(const char *in, const char *base_dir, char *errstr, size_t errstr_size)
{
    char *res = NULL;
    buf_t out;
    buf_init(&out);
    if (errstr_size)
        errstr[0] = '\0';
    if (interp_expand(in, strlen(in), base_dir, 0, &out, errstr, errstr_size) != 0)
        goto out;
    res = strdup(out.data);
    if (!res)
        snprintf(errstr, errstr_size, "out of memory");
out:
    buf_free(&out);
    return res;
}
