/* BK_TEST_UNIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envtable.h"
#include "endpoint.h"

static void aws_virtual_and_path_style(void **state)
{
    (void)state;
    bk_endpoint ep;
    bk_err err = {0};
    assert_int_equal(bk__endpoint_resolve("eu-west-1", "my-bucket", NULL, 0, &ep, &err), BK_OK);
    assert_true(ep.https);
    assert_string_equal(ep.host_header, "my-bucket.s3.eu-west-1.amazonaws.com");
    assert_string_equal(ep.base_path, "");
    bk_buf b = BK_BUF_INIT;
    bk__endpoint_path(&ep, "blobs/sha256:ab", &b);
    assert_string_equal(bk_buf_str(&b), "/blobs/sha256%3Aab");
    bk_buf_reset(&b);
    bk__endpoint_path(&ep, NULL, &b);
    assert_string_equal(bk_buf_str(&b), "/");

    assert_int_equal(bk__endpoint_resolve("eu-west-1", "my-bucket", "", 1, &ep, &err), BK_OK);
    assert_string_equal(ep.host_header, "s3.eu-west-1.amazonaws.com");
    bk_buf_reset(&b);
    bk__endpoint_path(&ep, "k", &b);
    assert_string_equal(bk_buf_str(&b), "/my-bucket/k");
    bk_buf_reset(&b);
    bk__endpoint_url(&ep, "/my-bucket/k", "list-type=2", &b);
    assert_string_equal(bk_buf_str(&b),
                        "https://s3.eu-west-1.amazonaws.com/my-bucket/k?list-type=2");

    /* A dotted bucket breaks the TLS wildcard: path style, as the SDK does. */
    assert_int_equal(bk__endpoint_resolve("us-east-1", "a.b.c", NULL, 0, &ep, &err), BK_OK);
    assert_true(ep.path_style);
    assert_string_equal(ep.base_path, "/a.b.c");

    assert_int_equal(bk__endpoint_resolve(NULL, "my-bucket", NULL, 0, &ep, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "region"));
    assert_int_equal(bk__endpoint_resolve("us-east-1", "", NULL, 0, &ep, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "bucket"));
    assert_int_equal(bk__endpoint_resolve("us-east-1", "a/b", NULL, 0, &ep, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "bucket"));
    bk_buf_clear(&b);
}

static void custom_endpoints(void **state)
{
    (void)state;
    bk_endpoint ep;
    bk_err err = {0};
    assert_int_equal(bk__endpoint_resolve("auto", "cache", "http://127.0.0.1:9000", 1, &ep, &err),
                     BK_OK);
    assert_false(ep.https);
    assert_string_equal(ep.host_header, "127.0.0.1:9000");
    assert_string_equal(ep.base_path, "/cache");

    /* Default ports are left out of Host, as clients send it. */
    assert_int_equal(bk__endpoint_resolve("r", "cache", "https://MinIO.example:443/", 1, &ep, &err),
                     BK_OK);
    assert_string_equal(ep.host_header, "minio.example");
    assert_int_equal(bk__endpoint_resolve("r", "cache", "http://h:80", 1, &ep, &err), BK_OK);
    assert_string_equal(ep.host_header, "h");

    /* Virtual host on a custom endpoint: bucket.host:port. */
    assert_int_equal(bk__endpoint_resolve("r", "cache", "http://localhost:8080", 0, &ep, &err),
                     BK_OK);
    assert_string_equal(ep.host_header, "cache.localhost:8080");
    assert_string_equal(ep.base_path, "");

    /* A base path is kept. */
    assert_int_equal(bk__endpoint_resolve("r", "cache", "https://gw.example/s3/", 1, &ep, &err),
                     BK_OK);
    assert_string_equal(ep.base_path, "/s3/cache");

    assert_int_equal(bk__endpoint_resolve("r", "cache", "http://[::1]:9000", 1, &ep, &err), BK_OK);
    assert_string_equal(ep.host_header, "[::1]:9000");

    const char *bad[] = {"ftp://h",        "h:9000",      "http://",          "http://h:0",
                         "http://h:99999", "http://h:9x", "http://user:pw@h", "http://h/?q=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bk__endpoint_resolve("r", "cache", bad[i], 1, &ep, &err), BK_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
}

/* One case of the SDK's addressing rules: the bucket, the endpoint (NULL =
 * AWS), use_path_style, the style expected, where the bucket ends up and a
 * piece of the reason. */
typedef struct addressing_case {
    const char *bucket, *endpoint_url;
    int force, path_style;
    const char *host_header, *base_path, *reason;
} addressing_case;

static void check_addressing(const addressing_case *t)
{
    bk_endpoint ep;
    bk_err err = {0};
    if (bk__endpoint_resolve("us-east-1", t->bucket, t->endpoint_url, t->force, &ep, &err) != BK_OK)
        fail_msg("%s at %s: %s", t->bucket, t->endpoint_url, err.msg);
    if (ep.path_style != t->path_style || strcmp(ep.host_header, t->host_header) != 0 ||
        strcmp(ep.base_path, t->base_path) != 0 || strstr(ep.addressing, t->reason) == NULL)
        fail_msg("%s at %s: got path_style=%d host %s path \"%s\" (%s)", t->bucket,
                 t->endpoint_url ? t->endpoint_url : "AWS", ep.path_style, ep.host_header,
                 ep.base_path, ep.addressing);
}

static void sdk_addressing_rules(void **state)
{
    (void)state;
    static const addressing_case cases[] = {
        /* The endpoint host is an IP address: path style. */
        {"cache", "http://127.0.0.1:9000", 0, 1, "127.0.0.1:9000", "/cache",
         "path style (endpoint host 127.0.0.1 is an IP address)"},
        {"cache", "https://10.0.0.7", 0, 1, "10.0.0.7", "/cache", "is an IP address"},
        {"cache", "http://[::1]:9000", 0, 1, "[::1]:9000", "/cache",
         "endpoint host [::1] is an IP address"},
        {"cache", "http://[fe80::1%25eth0]:9000", 0, 1, "[fe80::1%25eth0]:9000", "/cache",
         "is an IP address"},
        /* A name, even localhost: virtual host (curl resolves *.localhost itself). */
        {"cache", "http://localhost:9000", 0, 0, "cache.localhost:9000", "",
         "virtual host cache.localhost (bucket cache is a valid DNS label)"},
        {"my-cache", "https://minio.example", 0, 0, "my-cache.minio.example", "",
         "valid DNS label"},
        /* A name that merely looks numeric is no IP address. */
        {"cache", "http://1.2.3:9000", 0, 0, "cache.1.2.3:9000", "", "virtual host"},
        /* use_path_style forces path style. */
        {"cache", "http://localhost:9000", 1, 1, "localhost:9000", "/cache",
         "path style (use_path_style=true)"},
        /* Buckets that cannot be a host label. */
        {"Cache", "http://localhost:9000", 0, 1, "localhost:9000", "/Cache", "upper case"},
        {"my_cache", "http://localhost:9000", 0, 1, "localhost:9000", "/my_cache", "'_'"},
        {"abc..cache", "http://localhost:9000", 0, 1, "localhost:9000", "/abc..cache",
         "empty label"},
        {"ab", "http://localhost:9000", 0, 1, "localhost:9000", "/ab", "not 3 to 63"},
        {"x", NULL, 0, 1, "s3.us-east-1.amazonaws.com", "/x", "not 3 to 63"},
        {"a123456789b123456789c123456789d123456789e123456789f123456789g1234", NULL, 0, 1,
         "s3.us-east-1.amazonaws.com",
         "/a123456789b123456789c123456789d123456789e123456789f123456789g1234", "not 3 to 63"},
        {"192.168.100.200", "http://localhost:9000", 0, 1, "localhost:9000", "/192.168.100.200",
         "formatted like an IP address"},
        /* Dots: over http the SDK keeps them in the host name (without looking at the
         * endpoint's host); over https they go by path; labels under 3 characters
         * never make a host name. */
        {"web.cache.bkt", "http://localhost:9000", 0, 0, "web.cache.bkt.localhost:9000", "",
         "has dots: over http"},
        {"web.cache.bkt", "http://127.0.0.1:9000", 0, 0, "web.cache.bkt.127.0.0.1:9000", "",
         "has dots: over http"},
        {"web.cache.bkt", "https://minio.example", 0, 1, "minio.example", "/web.cache.bkt",
         "over https no certificate for *.minio.example matches it"},
        {"a.b.cache", "http://localhost:9000", 0, 1, "localhost:9000", "/a.b.cache",
         "label a has 1 characters"},
        /* AWS's own endpoints. */
        {"cache", NULL, 0, 0, "cache.s3.us-east-1.amazonaws.com", "", "valid DNS label"},
        {"cache", NULL, 1, 1, "s3.us-east-1.amazonaws.com", "/cache", "use_path_style=true"},
        {"web.cache.bkt", NULL, 0, 1, "s3.us-east-1.amazonaws.com", "/web.cache.bkt",
         "has dots: over https"},
        {"Legacy_Bucket", NULL, 0, 1, "s3.us-east-1.amazonaws.com", "/Legacy_Bucket", "upper case"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_addressing(&cases[i]);
}

/* A virtual-host name that does not resolve: the error names it and says
 * how to go by path instead. */
static void unresolved_virtual_host_is_named(void **state)
{
    (void)state;
    bk_endpoint ep;
    char hint[600];
    assert_int_equal(
        bk__endpoint_resolve("us-east-1", "cache", "http://minio.internal:9000", 0, &ep, NULL),
        BK_OK);
    bk__endpoint_unresolved_hint(&ep, hint, sizeof hint);
    assert_non_null(strstr(hint, "cache.minio.internal (virtual-host addressing"));
    assert_non_null(strstr(hint, "use_path_style=true"));
    assert_int_equal(
        bk__endpoint_resolve("us-east-1", "cache", "http://minio.internal:9000", 1, &ep, NULL),
        BK_OK);
    bk__endpoint_unresolved_hint(&ep, hint, sizeof hint);
    assert_string_equal(hint, "");
}

static void keys_are_encoded_once(void **state)
{
    (void)state;
    struct {
        const char *key, *path;
    } cases[] = {
        {"blobs/sha256:0a1b", "/b/blobs/sha256%3A0a1b"},
        {"a b", "/b/a%20b"},
        {"a+b", "/b/a%2Bb"},
        {"100%", "/b/100%25"},
        {"%41", "/b/%2541"},
        {"k=v&x", "/b/k%3Dv%26x"},
        {"caf\xc3\xa9", "/b/caf%C3%A9"},
        {"keep-._~/slash//double", "/b/keep-._~/slash//double"},
        {"./..", "/b/./.."},
    };
    bk_endpoint ep;
    assert_int_equal(bk__endpoint_resolve("r", "b00", "http://h:1", 1, &ep, NULL), BK_OK);
    snprintf(ep.base_path, sizeof ep.base_path, "/b");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_buf b = BK_BUF_INIT;
        bk__endpoint_path(&ep, cases[i].key, &b);
        assert_string_equal(bk_buf_str(&b), cases[i].path);
        bk_buf_clear(&b);
    }
}

static void copy_source_and_query(void **state)
{
    (void)state;
    bk_buf b = BK_BUF_INIT;
    bk__endpoint_copy_source("bkt", "blobs/sha256:ab cd+e", &b);
    assert_string_equal(bk_buf_str(&b), "/bkt/blobs/sha256:ab%20cd%2Be");
    bk_buf_reset(&b);
    bk__query_add(&b, "uploads", NULL);
    assert_string_equal(bk_buf_str(&b), "uploads");
    bk_buf_reset(&b);
    bk__query_add(&b, "partNumber", "3");
    bk__query_add(&b, "uploadId", "a/b+c=d");
    assert_string_equal(bk_buf_str(&b), "partNumber=3&uploadId=a%2Fb%2Bc%3Dd");
    bk_buf_clear(&b);
}

static void environment_fallbacks(void **state)
{
    (void)state;
    const char *kv1[] = {"AWS_REGION",       "eu-north-1",          "AWS_DEFAULT_REGION",
                         "us-west-2",        "AWS_ENDPOINT_URL_S3", "http://s3only:1",
                         "AWS_ENDPOINT_URL", "http://all:2",        NULL};
    bk_env env = {bk_test_env_table_get, kv1};
    char *r = bk__endpoint_env_region(&env), *u = bk__endpoint_env_url(&env);
    assert_string_equal(r, "eu-north-1");
    assert_string_equal(u, "http://s3only:1");
    free(r);
    free(u);
    const char *kv2[] = {
        "AWS_DEFAULT_REGION", "us-west-2", "AWS_ENDPOINT_URL", "http://all:2", "HOME",
        "/nonexistent-home",  NULL};
    env.ud = kv2;
    r = bk__endpoint_env_region(&env);
    u = bk__endpoint_env_url(&env);
    assert_string_equal(r, "us-west-2");
    assert_string_equal(u, "http://all:2");
    free(r);
    free(u);
    const char *kv3[] = {"HOME", "/nonexistent-home", NULL};
    env.ud = kv3;
    assert_null(bk__endpoint_env_region(&env));
    assert_null(bk__endpoint_env_url(&env));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_virtual_and_path_style),
        cmocka_unit_test(custom_endpoints),
        cmocka_unit_test(keys_are_encoded_once),
        cmocka_unit_test(copy_source_and_query),
        cmocka_unit_test(environment_fallbacks),
        cmocka_unit_test(sdk_addressing_rules),
        cmocka_unit_test(unresolved_virtual_host_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
