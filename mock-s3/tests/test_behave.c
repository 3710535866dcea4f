/* BK_TEST_UNIT
 * Behaviour presets (ms3_options.behave, --behave): each plays its store with
 * the answer of its field report, presets add up, an unknown name fails the
 * start, and the plain mock answers all of these requests as AWS does. In
 * process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms3_test.h"

/* A server playing `behave` (NULL = the plain mock), with one object "present". */
static ms3_server *start(const char *behave)
{
    ms3_options o;
    ms3t_default_options(&o);
    o.behave = behave;
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "present", "here", 4, NULL, NULL), 0);
    return s;
}

/* Sends a signed request; the status, and the error code into code. */
static long send_for(ms3_server *s, const char *method, const char *target, const char *body,
                     const char *payload_hash, const char *const *headers, char *code, size_t n)
{
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = target;
    rq.body = body;
    rq.body_len = body != NULL ? strlen(body) : 0;
    rq.sign = 1;
    rq.payload_hash = payload_hash;
    rq.headers = headers;
    ms3t_response r;
    ms3t_send(s, &rq, &r);
    long status = r.status;
    if (ms3t_xml(&r, "Code", code, n) == NULL)
        code[0] = '\0';
    ms3t_response_free(&r);
    return status;
}

/* An empty aws-chunked upload with an unsigned trailer-less body, as v0.31 sends. */
static long put_aws_chunked(ms3_server *s, const char *key, char *code, size_t n)
{
    char target[128];
    snprintf(target, sizeof(target), "/bkt/%s", key);
    const char *h[] = {"Content-Encoding: aws-chunked", "x-amz-decoded-content-length: 0", NULL};
    return send_for(s, "PUT", target, "0\r\n\r\n", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", h, code,
                    n);
}

static long put_signed_accept_encoding(ms3_server *s, char *code, size_t n)
{
    const char *ae[] = {"Accept-Encoding: identity", NULL};
    return send_for(s, "PUT", "/bkt/gcs", "x", NULL, ae, code, n);
}

static void test_oci(void **state)
{
    (void)state;
    ms3_server *s = start("oci");
    char code[64];
    assert_int_equal(put_aws_chunked(s, "chunked", code, sizeof(code)), 501);
    assert_string_equal(code, "NotImplemented");
    /* Everything else is S3. */
    assert_int_equal(send_for(s, "PUT", "/bkt/plain", "x", NULL, NULL, code, sizeof(code)), 200);
    assert_int_equal(put_signed_accept_encoding(s, code, sizeof(code)), 200);
    assert_int_equal(send_for(s, "HEAD", "/bkt/absent", NULL, NULL, NULL, code, sizeof(code)), 404);
    ms3_server_stop(s);
}

static void test_gcs(void **state)
{
    (void)state;
    ms3_server *s = start("gcs");
    char code[64];
    assert_int_equal(put_signed_accept_encoding(s, code, sizeof(code)), 403);
    assert_string_equal(code, "SignatureDoesNotMatch");
    /* disable_accept_encoding: nothing signed to rewrite. */
    assert_int_equal(send_for(s, "PUT", "/bkt/plain", "x", NULL, NULL, code, sizeof(code)), 200);
    assert_int_equal(put_aws_chunked(s, "chunked", code, sizeof(code)), 200);
    ms3_server_stop(s);
}

static void test_object_lock(void **state)
{
    (void)state;
    ms3_server *s = start("object-lock");
    char code[64];
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/locked";
    rq.body = "x";
    rq.body_len = 1;
    rq.sign = 1;
    ms3t_response r;
    ms3t_send(s, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", code, sizeof(code)), "InvalidRequest");
    assert_non_null(strstr(bk_buf_str(&r.body), "Content-MD5 OR x-amz-checksum- HTTP header is "
                                                "required for Put Object requests with Object "
                                                "Lock parameters"));
    ms3t_response_free(&r);
    const char *crc[] = {"x-amz-checksum-crc32: jNwWgw==", NULL}; /* crc32("x") */
    assert_int_equal(send_for(s, "PUT", "/bkt/locked", "x", NULL, crc, code, sizeof(code)), 200);
    const char *md5[] = {"Content-MD5: ndTkYSaMgDT1yFZOFVxnpg==", NULL}; /* md5("x") */
    assert_int_equal(send_for(s, "PUT", "/bkt/locked", "x", NULL, md5, code, sizeof(code)), 200);
    ms3_server_stop(s);
}

static void test_no_list(void **state)
{
    (void)state;
    ms3_server *s = start("no-list");
    char code[64];
    assert_int_equal(send_for(s, "HEAD", "/bkt/absent", NULL, NULL, NULL, code, sizeof(code)), 403);
    assert_int_equal(send_for(s, "GET", "/bkt/absent", NULL, NULL, NULL, code, sizeof(code)), 403);
    assert_string_equal(code, "AccessDenied");
    assert_int_equal(send_for(s, "GET", "/bkt?list-type=2", NULL, NULL, NULL, code, sizeof(code)),
                     403);
    assert_int_equal(send_for(s, "HEAD", "/bkt/present", NULL, NULL, NULL, code, sizeof(code)),
                     200);
    ms3_server_stop(s);
}

/* Presets add up; the same requests on the plain mock are all accepted. */
static void test_combined_and_plain(void **state)
{
    (void)state;
    ms3_server *s = start("oci,no-list,gcs");
    char code[64];
    assert_int_equal(put_aws_chunked(s, "chunked", code, sizeof(code)), 501);
    assert_int_equal(send_for(s, "HEAD", "/bkt/absent", NULL, NULL, NULL, code, sizeof(code)), 403);
    assert_int_equal(put_signed_accept_encoding(s, code, sizeof(code)), 403);
    ms3_server_stop(s);

    s = start(NULL);
    assert_int_equal(put_aws_chunked(s, "chunked", code, sizeof(code)), 200);
    assert_int_equal(send_for(s, "HEAD", "/bkt/absent", NULL, NULL, NULL, code, sizeof(code)), 404);
    assert_int_equal(put_signed_accept_encoding(s, code, sizeof(code)), 200);
    assert_int_equal(send_for(s, "PUT", "/bkt/plain", "x", NULL, NULL, code, sizeof(code)), 200);
    ms3_server_stop(s);
}

static void test_unknown_and_table(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.behave = "oci,minio";
    bk_err err;
    assert_null(ms3_server_new_inproc(&o, &err));
    assert_int_equal(err.code, BK_EINVAL);
    assert_non_null(strstr(err.msg, "\"minio\""));
    assert_non_null(strstr(err.msg, "oci, gcs, object-lock, no-list"));

    size_t n = 0;
    const ms3_behave_preset *b;
    for (; (b = ms3_behave_preset_get(n)) != NULL; n++) {
        assert_true(b->name[0] && b->store[0] && b->what[0]);
        assert_non_null(strstr(b->source, "field report"));
    }
    assert_int_equal(n, 4);
    ms3_bucket_policy p;
    unsigned proxy = 0;
    assert_int_equal(ms3_behave_resolve("object-lock,gcs", &p, &proxy, NULL), BK_OK);
    assert_true(p.require_content_md5);
    assert_false(p.refuse_aws_chunked);
    assert_int_equal(p.access, MS3_ACCESS_FULL);
    assert_int_equal(proxy, MS3_PROXY_GFE_ACCEPT_ENCODING);
    assert_int_equal(ms3_behave_resolve("", &p, &proxy, NULL), BK_OK);
    assert_int_equal(proxy, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oci),
        cmocka_unit_test(test_gcs),
        cmocka_unit_test(test_object_lock),
        cmocka_unit_test(test_no_list),
        cmocka_unit_test(test_combined_and_plain),
        cmocka_unit_test(test_unknown_and_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
