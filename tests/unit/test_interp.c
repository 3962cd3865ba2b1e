/* Interpolation: ${VAR}, ${VAR:-default}, ${file:PATH:KEY}, $$ — and that nothing undefined
 * silently becomes "". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#ifndef SLUICE_TEST_DATA
#error "SLUICE_TEST_DATA must name tests/unit/data"
#endif

/* Interpolates `in` against tests/unit/data and expects `want`. */
static void expect_ok(const char *in, const char *want)
{
    char err[512] = "";
    char *out = config_interpolate(in, SLUICE_TEST_DATA, err, sizeof err);
    if (!out)
        fprintf(stderr, "  %s: %s\n", in, err);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void expect_err(const char *in, const char *want)
{
    char err[512] = "";
    char *out = config_interpolate(in, SLUICE_TEST_DATA, err, sizeof err);
    assert_null(out);
    assert_string_equal(err, want);
}

static void test_variables(void **state)
{
    (void)state;
    setenv("SLUICE_T_HOST", "db.local", 1);
    setenv("SLUICE_T_EMPTY", "", 1);
    unsetenv("SLUICE_T_UNSET");
    expect_ok("${SLUICE_T_HOST}", "db.local");
    expect_ok("mysql://${SLUICE_T_HOST}:3306/x", "mysql://db.local:3306/x");
    expect_ok("${SLUICE_T_HOST}${SLUICE_T_HOST}", "db.localdb.local");
    expect_ok("${SLUICE_T_EMPTY}", ""); /* set but empty is a value */
    expect_ok("${SLUICE_T_UNSET:-fallback}", "fallback");
    expect_ok("${SLUICE_T_EMPTY:-fallback}", "fallback"); /* ":-" as in shell */
    expect_ok("${SLUICE_T_HOST:-fallback}", "db.local");
    expect_ok("${SLUICE_T_UNSET:-}", "");
    expect_ok("${SLUICE_T_UNSET:-a:b-c}", "a:b-c");
    expect_ok("${SLUICE_T_UNSET:-${SLUICE_T_HOST}}", "db.local");
    expect_ok("<${SLUICE_T_UNSET:-x${SLUICE_T_EMPTY:-y}z}>", "<xyz>");
    expect_ok("no tokens at all", "no tokens at all");
    expect_ok("", "");
    expect_err("${SLUICE_T_UNSET}",
               "undefined variable 'SLUICE_T_UNSET' in ${SLUICE_T_UNSET}: set it in the "
               "environment or give a default with ${SLUICE_T_UNSET:-VALUE}; for a literal "
               "${SLUICE_T_UNSET} (e.g. timestamp-router's topic.format), write "
               "$${SLUICE_T_UNSET}");
    expect_err("pre ${SLUICE_T_UNSET} post",
               "undefined variable 'SLUICE_T_UNSET' in ${SLUICE_T_UNSET}: set it in the "
               "environment or give a default with ${SLUICE_T_UNSET:-VALUE}; for a literal "
               "${SLUICE_T_UNSET} (e.g. timestamp-router's topic.format), write "
               "$${SLUICE_T_UNSET}");
    expect_err("${SLUICE_T_UNSET:-${SLUICE_T_UNSET}}",
               "undefined variable 'SLUICE_T_UNSET' in ${SLUICE_T_UNSET}: set it in the "
               "environment or give a default with ${SLUICE_T_UNSET:-VALUE}; for a literal "
               "${SLUICE_T_UNSET} (e.g. timestamp-router's topic.format), write "
               "$${SLUICE_T_UNSET}");
    unsetenv("SLUICE_T_HOST");
    unsetenv("SLUICE_T_EMPTY");
}

static void test_dollars(void **state)
{
    (void)state;
    expect_ok("$$", "$");
    expect_ok("cost: $$5", "cost: $5");
    expect_ok("$${NOT_A_VAR}", "${NOT_A_VAR}");
    expect_ok("a $ alone", "a $ alone");
    expect_ok("trailing $", "trailing $");
    expect_ok("$5 and $x", "$5 and $x");
}

static void test_malformed(void **state)
{
    (void)state;
    expect_err("${UNTERMINATED",
               "unterminated '${' in '${UNTERMINATED': close it with '}' (or write $$ for a "
               "literal $)");
    expect_err("abc ${X:-${Y}",
               "unterminated '${' in 'abc ${X:-${Y}': close it with '}' (or write $$ for a "
               "literal $)");
    expect_err("${}", "invalid reference ${}: write ${NAME}, ${NAME:-default} or "
                      "${file:PATH:KEY} (NAME is letters, digits and _), or $$ for a literal $");
    expect_err("${A B}", "invalid reference ${A B}: write ${NAME}, ${NAME:-default} or "
                         "${file:PATH:KEY} (NAME is letters, digits and _), or $$ for a literal $");
    expect_err("${X-default}", "invalid reference ${X-default}: write ${NAME}, ${NAME:-default} "
                               "or ${file:PATH:KEY} (NAME is letters, digits and _), or $$ for a "
                               "literal $");
    expect_err("${file:nokey}",
               "malformed ${file:nokey}: write ${file:PATH:KEY} (a properties file and a key)");
}

static void test_file_properties(void **state)
{
    (void)state;
    expect_ok("${file:secrets.properties:sftp.password}", "s3cr3t"); /* relative to base_dir */
    expect_ok("${file:" SLUICE_TEST_DATA "/secrets.properties:sftp.password}", "s3cr3t");
    expect_ok("${file:./secrets.properties:sftp.user}", "sammy2"); /* the last one wins */
    expect_ok("${file:secrets.properties:spaced.key}", "value with spaces");
    expect_ok("${file:secrets.properties:empty}", "");
    expect_ok("${file:secrets.properties:url}", "http://example.com:8080/x");
    expect_ok("${file:secrets.properties:multi}", "first second");
    expect_ok("${file:secrets.properties:escaped=key}", "a\tb");
    expect_ok("user=${file:secrets.properties:sftp.user}; pass=${file:secrets.properties:"
              "sftp.password}",
              "user=sammy2; pass=s3cr3t");
    setenv("SLUICE_T_PROPS", "secrets.properties", 1);
    expect_ok("${file:${SLUICE_T_PROPS}:sftp.password}", "s3cr3t");
    unsetenv("SLUICE_T_PROPS");
    expect_err("${file:secrets.properties:nope}",
               "key 'nope' not found in properties file '" SLUICE_TEST_DATA
               "/secrets.properties' (of ${file:secrets.properties:nope}); add a line "
               "'nope=VALUE' there");
    expect_err("${file:secrets.properties:#}",
               "key '#' not found in properties file '" SLUICE_TEST_DATA
               "/secrets.properties' (of ${file:secrets.properties:#}); add a line '#=VALUE' "
               "there");
    expect_err("${file:/nonexistent/sluice.properties:topic}",
               "cannot read properties file '/nonexistent/sluice.properties' of "
               "${file:/nonexistent/sluice.properties:topic}: No such file or directory");
    expect_err("${file:missing.properties:k}",
               "cannot read properties file '" SLUICE_TEST_DATA
               "/missing.properties' of ${file:missing.properties:k}: No such file or directory");
}

static void test_errstr_truncation(void **state)
{
    (void)state;
    char err[16];
    unsetenv("SLUICE_T_UNSET");
    assert_null(config_interpolate("${SLUICE_T_UNSET}", NULL, err, sizeof err));
    assert_int_equal(strlen(err), sizeof err - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variables),         cmocka_unit_test(test_dollars),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_file_properties),
        cmocka_unit_test(test_errstr_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
