/*
 * test_s3.c — the pure parts of the s3 sink: object keys (topics.dir, delimiters, zero padding,
 * extensions), URI encoding for SigV4, the S3 error messages (one per error, naming the key to
 * fix, and which are retried), the XML fields read, and where credentials come from (keys,
 * environment, shared credentials file and its profiles), through s3.h (linked with the plugin's
 * sources); the host is only buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "s3.h"

/* ---------------------------------------------------------------------------------------------- */
/* The fake host: buffers only */

struct sluice_buf {
    char p[4096];
    size_t len;
};

static sluice_err_t fb_append(sluice_buf_t *b, const void *p, size_t len)
{
    assert_true(b->len + len < sizeof b->p);
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return SLUICE_OK;
}

static const struct sluice_host host = {.buf_append = fb_append};

/* ---------------------------------------------------------------------------------------------- */

static struct s3 keys_sink(const char *tdir, const char *dd, const char *fd, int pad, int gzip,
                           enum s3_format fmt)
{
    struct s3 s = {.topics_dir = (char *)tdir,
                   .ddelim = (char *)dd,
                   .fdelim = (char *)fd,
                   .pad = pad,
                   .gzip = gzip,
                   .format = fmt,
                   .bytes_ext = (char *)".bin"};
    return s;
}

static void test_object_keys(void **state)
{
    (void)state;
    char k[S3_KEY_MAX + 1];
    struct s3 s = keys_sink("topics", "/", "+", 10, 0, S3_FMT_JSON);
    assert_int_equal(
        s3_object_key(&s, "orders", 0, "year=2023/month=01/day=08/hour=02", 46347, k, sizeof k), 0);
    /* the seed's layout, as sftp-json names its files */
    assert_string_equal(k, "topics/orders/year=2023/month=01/day=08/hour=02/"
                           "orders+0+0000046347.json");
    s = keys_sink("data", "|", "-", 3, 1, S3_FMT_JSON);
    assert_int_equal(s3_object_key(&s, "t", 12, "partition=12", 7, k, sizeof k), 0);
    assert_string_equal(k, "data|t|partition=12|t-12-007.json.gz");
    s = keys_sink("", "/", "+", 0, 0, S3_FMT_BYTES);
    assert_int_equal(s3_object_key(&s, "t", 1, "partition=1", 123456, k, sizeof k), 0);
    assert_string_equal(k, "t/partition=1/t+1+123456.bin");
    s.gzip = 1;
    assert_int_equal(s3_object_key(&s, "t", 1, "partition=1", 5, k, sizeof k), 0);
    assert_string_equal(k, "t/partition=1/t+1+5.bin.gz");
    /* too long for S3 */
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(s3_object_key(&s, "t", 1, big, 5, k, sizeof k), -1);
}

static void test_uri_encode(void **state)
{
    (void)state;
    struct sluice_buf b = {.len = 0};
    s3_uri_encode(&host, &b, "topics/o rders/year=2023/orders+0+0000000001.json", 0);
    assert_string_equal(b.p, "topics/o%20rders/year%3D2023/orders%2B0%2B0000000001.json");
    b.len = 0;
    s3_uri_encode(&host, &b, "a/b~c-d_e.f\xc3\xa9", 1);
    assert_string_equal(b.p, "a%2Fb~c-d_e.f%C3%A9");
}

static void test_xml(void **state)
{
    (void)state;
    char out[64];
    const char *xml = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket>"
                      "<Key>k</Key><UploadId>abc-123</UploadId></InitiateMultipartUploadResult>";
    assert_int_equal(s3_xml_get(xml, "UploadId", out, sizeof out), 0);
    assert_string_equal(out, "abc-123");
    assert_int_equal(s3_xml_get(xml, "Code", out, sizeof out), -1);
    assert_int_equal(s3_xml_get("<Code>NoSuchBucket</Code><Code>x", "Code", out, 5), 0);
    assert_string_equal(out, "NoSu");
}

static const char *classify(long status, const char *code, sluice_err_t *rc)
{
    static char msg[1024];
    char xml[256];
    struct s3_http x = {.bucket = (char *)"orders-bucket",
                        .region = (char *)"eu-west-1",
                        .endpoint = (char *)"http://127.0.0.1:9000",
                        .cred = {.from = "the environment"}};
    snprintf(xml, sizeof xml, "<Error><Code>%s</Code><Message>m</Message></Error>", code);
    *rc = s3_classify(&x, status, xml, "PUT k", msg, sizeof msg);
    return msg;
}

static void test_errors(void **state)
{
    (void)state;
    sluice_err_t rc;
    const char *m = classify(404, "NoSuchBucket", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "s3.bucket.name"));
    assert_non_null(strstr(m, "orders-bucket"));
    assert_non_null(strstr(m, "NoSuchBucket"));
    m = classify(403, "AccessDenied", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "access denied"));
    m = classify(403, "InvalidAccessKeyId", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "aws.access.key.id"));
    assert_non_null(strstr(m, "the environment"));
    m = classify(403, "SignatureDoesNotMatch", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "aws.secret.access.key"));
    m = classify(400, "AuthorizationHeaderMalformed", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "s3.region"));
    assert_non_null(strstr(m, "eu-west-1"));
    m = classify(403, "RequestTimeTooSkewed", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "clock"));
    /* passing: retried */
    classify(503, "SlowDown", &rc);
    assert_int_equal(rc, SLUICE_RETRY);
    classify(500, "InternalError", &rc);
    assert_int_equal(rc, SLUICE_RETRY);
    classify(502, "", &rc);
    assert_int_equal(rc, SLUICE_RETRY);
    m = classify(400, "InvalidArgument", &rc);
    assert_int_equal(rc, SLUICE_FATAL);
    assert_non_null(strstr(m, "InvalidArgument"));
}

static void test_credentials(void **state)
{
    (void)state;
    struct s3_cred c;
    char err[512];
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    /* the keys win */
    setenv("AWS_ACCESS_KEY_ID", "envid", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    assert_int_equal(s3_cred_load(&c, "kid", "ksecret", NULL, NULL, err, sizeof err), 0);
    assert_string_equal(c.id, "kid");
    assert_null(c.token);
    s3_cred_free(&c);
    /* one key alone is refused, by name */
    assert_int_equal(s3_cred_load(&c, "kid", "", NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "aws.secret.access.key"));
    /* then the environment, with its session token */
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    assert_int_equal(s3_cred_load(&c, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(c.secret, "envsecret");
    assert_string_equal(c.token, "envtoken");
    s3_cred_free(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    /* then the shared credentials file, by profile */
    char path[] = "/tmp/sluice-test-s3-credsXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *ini = "# comment\n[default]\naws_access_key_id = did\naws_secret_access_key=dsec\n"
                      "\n[other]\n  aws_access_key_id=oid \naws_secret_access_key = osec\n"
                      "aws_session_token = otok\n[broken]\naws_access_key_id = x\n";
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    assert_int_equal(s3_cred_load(&c, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(c.id, "did");
    assert_string_equal(c.secret, "dsec");
    s3_cred_free(&c);
    assert_int_equal(s3_cred_load(&c, NULL, NULL, NULL, "other", err, sizeof err), 0);
    assert_string_equal(c.id, "oid");
    assert_string_equal(c.token, "otok");
    s3_cred_free(&c);
    setenv("AWS_PROFILE", "other", 1);
    assert_int_equal(s3_cred_load(&c, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(c.secret, "osec");
    s3_cred_free(&c);
    /* a profile without both keys: a message naming the keys, the profile and the file */
    assert_int_equal(s3_cred_load(&c, NULL, NULL, NULL, "broken", err, sizeof err), -1);
    assert_non_null(strstr(err, "aws.access.key.id"));
    assert_non_null(strstr(err, "'broken'"));
    assert_non_null(strstr(err, path));
    unlink(path);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_keys), cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_xml),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
