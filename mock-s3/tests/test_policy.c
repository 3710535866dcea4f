/* BK_TEST_UNIT
 * Bucket and credential policies: access profiles (read-only, no-list), the
 * object-lock Content-MD5 rule, aws-chunked refusal, empty Accept-Encoding,
 * required server-side encryption. In process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms3_test.h"

static ms3_server *srv;

static int setup(void **state)
{
    (void)state;
    srv = ms3t_new_inproc(NULL);
    return srv != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ms3_server_stop(srv);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    ms3_server_reset(srv);
    ms3_bucket_policy p;
    memset(&p, 0, sizeof(p));
    ms3_server_set_bucket_policy(srv, NULL, &p, NULL);
    ms3_server_set_credentials_profile(srv, T_AK, MS3_ACCESS_FULL, NULL);
    return ms3_server_put_object(srv, T_BUCKET, "present", "here", 4, NULL, NULL);
}

static void set(ms3_bucket_policy *p)
{
    assert_int_equal(ms3_server_set_bucket_policy(srv, T_BUCKET, p, NULL), 0);
}

static long status_of(const char *method, const char *target, const char *body,
                      const char *const *headers, char *code, size_t n)
{
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = target;
    rq.body = body;
    rq.body_len = body != NULL ? strlen(body) : 0;
    rq.sign = 1;
    rq.headers = headers;
    ms3t_response r;
    ms3t_send(srv, &rq, &r);
    long s = r.status;
    if (code != NULL && ms3t_xml(&r, "Code", code, n) == NULL)
        code[0] = '\0';
    ms3t_response_free(&r);
    return s;
}

static void test_read_only(void **state)
{
    (void)state;
    ms3_bucket_policy p = {0};
    p.access = MS3_ACCESS_READ_ONLY;
    set(&p);
    char code[64];
    assert_int_equal(status_of("PUT", "/bkt/new", "x", NULL, code, sizeof(code)), 403);
    assert_string_equal(code, "AccessDenied");
    assert_int_equal(status_of("DELETE", "/bkt/present", NULL, NULL, code, sizeof(code)), 403);
    assert_int_equal(status_of("POST", "/bkt/new?uploads", NULL, NULL, code, sizeof(code)), 403);
    const char *copy[] = {"x-amz-copy-source: /bkt/present", "x-amz-metadata-directive: REPLACE",
                          NULL};
    assert_int_equal(status_of("PUT", "/bkt/present", NULL, copy, code, sizeof(code)), 403);
    assert_int_equal(status_of("GET", "/bkt/present", NULL, NULL, code, sizeof(code)), 200);
    assert_int_equal(status_of("GET", "/bkt/absent", NULL, NULL, code, sizeof(code)), 404);
    assert_int_equal(status_of("GET", "/bkt?list-type=2", NULL, NULL, code, sizeof(code)), 200);
    /* Auth failures and denials change nothing. */
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 1);
}

static void test_no_list(void **state)
{
    (void)state;
    ms3_bucket_policy p = {0};
    p.access = MS3_ACCESS_NO_LIST;
    set(&p);
    char code[64];
    /* Without s3:ListBucket a missing key is 403, as AWS answers. */
    assert_int_equal(status_of("HEAD", "/bkt/absent", NULL, NULL, NULL, 0), 403);
    assert_int_equal(status_of("GET", "/bkt/absent", NULL, NULL, code, sizeof(code)), 403);
    assert_string_equal(code, "AccessDenied");
    assert_int_equal(status_of("HEAD", "/bkt/present", NULL, NULL, NULL, 0), 200);
    assert_int_equal(status_of("GET", "/bkt?list-type=2", NULL, NULL, code, sizeof(code)), 403);
    assert_int_equal(status_of("PUT", "/bkt/new", "x", NULL, code, sizeof(code)), 200);
}

static void test_credential_profile(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_add_credentials(srv, "READER", "reader-secret", NULL, NULL), 0);
    assert_int_equal(ms3_server_set_credentials_profile(srv, "READER", MS3_ACCESS_READ_ONLY, NULL),
                     0);
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/w";
    rq.body = "x";
    rq.body_len = 1;
    rq.sign = 1;
    rq.access_key = "READER";
    rq.secret_key = "reader-secret";
    ms3t_response r;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    rq.method = "GET";
    rq.target = "/bkt/present";
    rq.body = NULL;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_int_equal(status_of("PUT", "/bkt/w", "x", NULL, NULL, 0), 200);
    assert_int_not_equal(ms3_server_set_credentials_profile(srv, "NOBODY", MS3_ACCESS_FULL, NULL),
                         0);
}

static void test_require_content_md5(void **state)
{
    (void)state;
    ms3_bucket_policy p = {0};
    p.require_content_md5 = 1;
    set(&p);
    char code[64];
    assert_int_equal(status_of("PUT", "/bkt/lock", "x", NULL, code, sizeof(code)), 400);
    assert_string_equal(code, "InvalidRequest");
    const char *md5[] = {"Content-MD5: ndTkYSaMgDT1yFZOFVxnpg==", NULL}; /* md5("x") */
    assert_int_equal(status_of("PUT", "/bkt/lock", "x", md5, code, sizeof(code)), 200);
    const char *crc[] = {"x-amz-checksum-crc32: jNwWgw==", NULL}; /* crc32("x") */
    assert_int_equal(status_of("PUT", "/bkt/lock2", "x", crc, code, sizeof(code)), 200);
    /* UploadPart too. */
    ms3t_response r;
    ms3t_simple(srv, "POST", "/bkt/mp?uploads", NULL, 0, &r);
    char id[128], target[256];
    assert_non_null(ms3t_xml(&r, "UploadId", id, sizeof(id)));
    ms3t_response_free(&r);
    snprintf(target, sizeof(target), "/bkt/mp?partNumber=1&uploadId=%s", id);
    assert_int_equal(status_of("PUT", target, "x", NULL, code, sizeof(code)), 400);
    assert_int_equal(status_of("PUT", target, "x", md5, code, sizeof(code)), 200);
}

static void test_refuse_aws_chunked(void **state)
{
    (void)state;
    ms3_bucket_policy p = {0};
    p.refuse_aws_chunked = 1;
    set(&p);
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/oci";
    rq.body = "0\r\n\r\n";
    rq.body_len = 5;
    rq.sign = 1;
    rq.payload_hash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    const char *h[] = {"Content-Encoding: aws-chunked", "x-amz-decoded-content-length: 0", NULL};
    rq.headers = h;
    ms3t_response r;
    char code[64];
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 501);
    assert_string_equal(ms3t_xml(&r, "Code", code, sizeof(code)), "NotImplemented");
    ms3t_response_free(&r);
    /* The same body on a normal bucket is a valid empty object. */
    memset(&p, 0, sizeof(p));
    set(&p);
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

static void test_empty_accept_encoding_and_sse(void **state)
{
    (void)state;
    ms3_bucket_policy p = {0};
    p.reject_empty_accept_encoding = 1;
    p.require_sse = 1;
    set(&p);
    char code[64];
    const char *empty[] = {"Accept-Encoding: ", NULL};
    assert_int_equal(status_of("GET", "/bkt/present", NULL, empty, code, sizeof(code)), 400);
    const char *identity[] = {"Accept-Encoding: identity", NULL};
    assert_int_equal(status_of("GET", "/bkt/present", NULL, identity, code, sizeof(code)), 200);
    assert_int_equal(status_of("PUT", "/bkt/nosse", "x", NULL, code, sizeof(code)), 403);
    const char *sse[] = {"x-amz-server-side-encryption: AES256", NULL};
    assert_int_equal(status_of("PUT", "/bkt/sse", "x", sse, code, sizeof(code)), 200);
}

static void test_server_wide_default(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_create_bucket(srv, "later-bucket", NULL), 0);
    ms3_bucket_policy p = {0};
    p.access = MS3_ACCESS_READ_ONLY;
    assert_int_equal(ms3_server_set_bucket_policy(srv, NULL, &p, NULL), 0);
    assert_int_equal(status_of("PUT", "/bkt/x", "x", NULL, NULL, 0), 403);
    assert_int_equal(status_of("PUT", "/later-bucket/x", "x", NULL, NULL, 0), 403);
    assert_string_equal(ms3_access_profile_name(MS3_ACCESS_NO_LIST), "no-list");
    ms3_access_profile ap;
    assert_int_equal(ms3_access_profile_parse("read-only", &ap), 0);
    assert_int_equal(ap, MS3_ACCESS_READ_ONLY);
    assert_int_not_equal(ms3_access_profile_parse("admin", &ap), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_read_only, reset),
        cmocka_unit_test_setup(test_no_list, reset),
        cmocka_unit_test_setup(test_credential_profile, reset),
        cmocka_unit_test_setup(test_require_content_md5, reset),
        cmocka_unit_test_setup(test_refuse_aws_chunked, reset),
        cmocka_unit_test_setup(test_empty_accept_encoding_and_sse, reset),
        cmocka_unit_test_setup(test_server_wide_default, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
