/* Authentication: header auth with each payload-hash mode, aws-chunked streaming
 * (signed, signed with trailer, unsigned with trailer), presigned URLs, session
 * tokens, clock skew, the signing-key cache, region, unsigned x-amz-* headers,
 * duplicate auth; in process, but for Expect: 100-continue, which needs a
 * socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "bkcache/sigv4.h"
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
    ms3_server_set_clock_offset(srv, 0);
    ms3_server_set_proxy_mode(srv, 0);
    return 0;
}

static const char *code_of(const ms3t_response *r, char *buf, size_t n)
{
    const char *c = ms3t_xml(r, "Code", buf, n);
    return c != NULL ? c : "";
}

static int stored(const char *key)
{
    ms3_object_info info;
    if (ms3_server_stat_object(srv, T_BUCKET, key, &info, NULL) != 0)
        return 0;
    free(info.metadata_json);
    return 1;
}

static void put_with(const char *target, const char *body, ms3t_request *rq, ms3t_response *r)
{
    rq->method = "PUT";
    rq->target = target;
    rq->body = body;
    rq->body_len = strlen(body);
    rq->has_body = 1;
    ms3t_send(srv, rq, r);
}

static void test_header_auth_modes(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[4096];
    ms3t_request rq = {0};
    rq.sign = 1;
    put_with("/bkt/hashed", "payload", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);

    rq.payload_hash = "UNSIGNED-PAYLOAD";
    put_with("/bkt/unsigned", "payload", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);

    /* The hash is checked against the body; nothing is stored on mismatch. */
    rq.payload_hash = "0000000000000000000000000000000000000000000000000000000000000000";
    put_with("/bkt/mismatch", "payload", &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "XAmzContentSHA256Mismatch");
    ms3t_response_free(&r);
    assert_false(stored("mismatch"));

    rq.payload_hash = "garbage";
    put_with("/bkt/garbage", "payload", &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidArgument");
    ms3t_response_free(&r);

    ms3_journal_filter f = {0};
    f.operation = "PutObject";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].auth, "header");
    assert_true(e[0].auth_ok);
    assert_string_equal(e[0].payload_hash_mode, "sha256");
    assert_string_equal(e[1].payload_hash_mode, "UNSIGNED-PAYLOAD");
    assert_string_equal(e[2].error_code, "XAmzContentSHA256Mismatch");
    ms3_journal_entries_free(e, n);
}

static void test_wrong_credentials(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[8192];
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.access_key = "NOPE";
    put_with("/bkt/x", "data", &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidAccessKeyId");
    ms3t_response_free(&r);

    rq.access_key = NULL;
    rq.secret_key = "wrong";
    put_with("/bkt/x", "data", &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    /* As S3 does: what the server computed, so the client can diff it. */
    assert_non_null(ms3t_xml(&r, "CanonicalRequest", buf, sizeof(buf)));
    assert_true(strncmp(buf, "PUT\n/bkt/x\n\nhost:127.0.0.1:", 27) == 0);
    assert_non_null(ms3t_xml(&r, "StringToSign", buf, sizeof(buf)));
    assert_true(strncmp(buf, "AWS4-HMAC-SHA256\n", 17) == 0);
    assert_non_null(ms3t_xml(&r, "SignatureProvided", buf, sizeof(buf)));
    assert_null(strstr(bk_buf_str(&r.body), "wrong")); /* never a secret */
    ms3t_response_free(&r);
    assert_false(stored("x"));

    /* Unsigned requests are refused unless the server is anonymous. */
    rq.sign = 0;
    rq.method = "GET";
    rq.target = "/bkt/x";
    rq.body = NULL;
    rq.has_body = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AccessDenied");
    ms3t_response_free(&r);

    /* AWS v2 signatures are not accepted. */
    const char *v2[] = {"Authorization: AWS AKIDTEST:c2lnbmF0dXJl", NULL};
    rq.headers = v2;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidRequest");
    ms3t_response_free(&r);
    const char *bad[] = {"Authorization: AWS4-HMAC-SHA256 Credential=garbage", NULL};
    rq.headers = bad;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AuthorizationHeaderMalformed");
    ms3t_response_free(&r);
}

static void test_several_credentials(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_add_credentials(srv, "SECOND", "other-secret", NULL, NULL), 0);
    ms3t_response r;
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.access_key = "SECOND";
    rq.secret_key = "other-secret";
    put_with("/bkt/second", "x", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* Access key ids with ':' (OpenStack Swift style) parse. */
    assert_int_equal(ms3_server_add_credentials(srv, "gitlab:gitlab", "s", NULL, NULL), 0);
    rq.access_key = "gitlab:gitlab";
    rq.secret_key = "s";
    put_with("/bkt/swift", "x", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3_journal_filter f = {0};
    f.key_prefix = "swift";
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(srv, &f, &e), 1);
    assert_string_equal(e[0].access_key_id, "gitlab:gitlab");
    ms3_journal_entries_free(e, 1);
}

static void test_clock_skew(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.method = "GET";
    rq.target = "/bkt?list-type=2";
    rq.when = time(NULL) - (time_t)16 * 60;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "RequestTimeTooSkewed");
    assert_non_null(ms3t_xml(&r, "MaxAllowedSkewMilliseconds", buf, sizeof(buf)));
    assert_string_equal(buf, "900000");
    ms3t_response_free(&r);
    rq.when = time(NULL) - (time_t)14 * 60;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* Moving the mock's clock moves the window. */
    ms3_server_set_clock_offset(srv, 3600);
    rq.when = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    rq.when = time(NULL) + 3600;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

/* An admin request (unsigned JSON POST), as a test harness would send it. */
static void admin_post(const char *path, const char *json)
{
    ms3t_request rq = {0};
    const char *h[] = {"Content-Type: application/json", NULL};
    rq.method = "POST";
    rq.target = path;
    rq.headers = h;
    rq.body = json;
    rq.body_len = strlen(json);
    rq.has_body = 1;
    assert_int_equal(ms3t_send_status(srv, &rq), 200);
}

/* A signed listing at `when` (0 = now) with the given secret; the status. */
static long list_signed(time_t when, const char *secret)
{
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.method = "GET";
    rq.target = "/bkt?list-type=2";
    rq.when = when;
    rq.secret_key = secret;
    return ms3t_send_status(srv, &rq);
}

/* The signing key is derived once per credential and day, and cached: a new
 * day on the mock's clock gets the new day's key, and credentials replaced
 * under the same access key id (here after a reset) get their own secret's. */
static void test_signing_key_cache(void **state)
{
    (void)state;
    const time_t day = 86400;
    assert_int_equal(list_signed(0, NULL), 200);
    assert_int_equal(list_signed(0, NULL), 200); /* from the cache */
    admin_post("/_mock/clock", "{\"offset_seconds\":172800}");
    assert_int_equal(list_signed(0, NULL), 403); /* today is two days ago for the mock */
    assert_int_equal(list_signed(time(NULL) + 2 * day, NULL), 200);
    assert_int_equal(list_signed(time(NULL) + 2 * day, "wrong"), 403);
    admin_post("/_mock/clock", "{\"offset_seconds\":0}");
    assert_int_equal(list_signed(0, NULL), 200);

    admin_post("/_mock/credentials",
               "{\"access_key_id\":\"" T_AK "\",\"secret_access_key\":\"replaced\"}");
    admin_post("/_mock/reset", "{}");
    ms3t_response r;
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.method = "GET";
    rq.target = "/bkt?list-type=2";
    ms3t_send(srv, &rq, &r); /* the old secret, whose key was cached */
    char buf[128];
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    ms3t_response_free(&r);
    assert_int_equal(list_signed(0, "replaced"), 200);
    assert_int_equal(list_signed(0, "replaced"), 200);
    assert_int_equal(ms3_server_add_credentials(srv, T_AK, T_SK, NULL, NULL), 0);
    assert_int_equal(list_signed(0, "replaced"), 403);
    assert_int_equal(list_signed(0, NULL), 200);
}

static void test_region_and_head_errors(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.region = "eu-west-1";
    rq.method = "GET";
    rq.target = "/bkt/x";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AuthorizationHeaderMalformed");
    assert_string_equal(ms3t_xml(&r, "Region", buf, sizeof(buf)), "us-east-1");
    ms3t_response_free(&r);
    rq.method = "HEAD";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_int_equal(r.body.len, 0);
    ms3t_response_free(&r);
}

static void test_unsigned_amz_header(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    const char *extra[] = {"x-amz-meta-sneaky: 1", NULL};
    rq.unsigned_headers = extra;
    put_with("/bkt/u", "data", &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AccessDenied");
    assert_string_equal(ms3t_xml(&r, "Message", buf, sizeof(buf)),
                        "There were headers present in the request which were not signed");
    assert_string_equal(ms3t_xml(&r, "HeadersNotSigned", buf, sizeof(buf)), "x-amz-meta-sneaky");
    ms3t_response_free(&r);
    /* Other unsigned headers are fine. */
    const char *plain[] = {"User-Agent: test/1.0", NULL};
    rq.unsigned_headers = plain;
    put_with("/bkt/u", "data", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

/* AWS takes one way of authenticating per request: a second Authorization
 * header, wherever it is, or a presigned query beside the header, is refused. */
static void test_duplicate_auth(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    const char *garbage[] = {"Authorization: AWS4-HMAC-SHA256 Credential=garbage", NULL};
    rq.after_auth = garbage; /* the valid one first */
    put_with("/bkt/dup", "data", &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidArgument");
    assert_string_equal(ms3t_xml(&r, "ArgumentName", buf, sizeof(buf)), "Authorization");
    ms3t_response_free(&r);
    rq.after_auth = NULL;
    rq.unsigned_headers = garbage; /* the valid one second */
    put_with("/bkt/dup", "data", &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidArgument");
    ms3t_response_free(&r);
    assert_false(stored("dup"));

    /* A presigned URL sent with a signed Authorization header too. */
    char *url = ms3t_presign(srv, "GET", "/bkt/dup", 60, 0);
    assert_non_null(url);
    rq.unsigned_headers = NULL;
    rq.method = "GET";
    rq.target = url + strlen(ms3_server_url(srv));
    rq.body = NULL;
    rq.has_body = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidArgument");
    ms3t_response_free(&r);
    free(url);

    ms3_journal_filter f = {0};
    f.key_prefix = "dup";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_false(e[i].auth_ok);
    ms3_journal_entries_free(e, n);
}

static void test_proxy_modes(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    const char *ae[] = {"Accept-Encoding: identity", NULL};
    rq.headers = ae;
    ms3_server_set_proxy_mode(srv, MS3_PROXY_GFE_ACCEPT_ENCODING);
    put_with("/bkt/gcs", "x", &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    ms3t_response_free(&r);
    /* disable_accept_encoding: no such header, nothing to rewrite. */
    rq.headers = NULL;
    put_with("/bkt/gcs", "x", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);

    ms3_server_set_proxy_mode(srv, MS3_PROXY_DROP_UNDERSCORE_HEADERS);
    const char *under[] = {"x-amz-meta-updated_at: now", NULL};
    rq.headers = under;
    put_with("/bkt/nginx", "x", &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    ms3t_response_free(&r);
    const char *dash[] = {"x-amz-meta-updated-at: now", NULL};
    rq.headers = dash;
    put_with("/bkt/nginx", "x", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

static void test_presigned(void **state)
{
    (void)state;
    bk_err err;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "pre/obj", "presigned!", 10, NULL, &err),
                     0);
    ms3t_response r;
    char buf[512];
    char *url = ms3t_presign(srv, "GET", "/bkt/pre/obj", 60, 0);
    assert_non_null(url);
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = url + strlen(ms3_server_url(srv));
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bk_buf_str(&r.body), "presigned!");
    ms3t_response_free(&r);
    /* Another method than the one signed. */
    rq.method = "DELETE";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    ms3t_response_free(&r);
    /* Expiry follows the mock's clock. */
    ms3_server_set_clock_offset(srv, 120);
    rq.method = "GET";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AccessDenied");
    assert_string_equal(ms3t_xml(&r, "Message", buf, sizeof(buf)), "Request has expired");
    ms3t_response_free(&r);
    ms3_server_set_clock_offset(srv, 0);
    free(url);

    /* Presigned PUT. */
    url = ms3t_presign(srv, "PUT", "/bkt/pre/put", 300, 0);
    rq.method = "PUT";
    rq.target = url + strlen(ms3_server_url(srv));
    rq.body = "uploaded";
    rq.body_len = 8;
    rq.has_body = 1;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_true(stored("pre/put"));
    free(url);

    ms3_journal_filter f = {0};
    f.key_prefix = "pre/";
    f.status = 200;
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].auth, "presigned");
    ms3_journal_entries_free(e, n);

    /* A checksum baked into a presigned PUT holds the body to it (the JS SDK puts the
     * CRC32 of an empty body there; S3 then rejects any real upload). */
    url = ms3t_presign(srv, "PUT", "/bkt/pre/crc?x-amz-checksum-crc32=AAAAAA%3D%3D", 300, 0);
    rq.method = "PUT";
    rq.target = url + strlen(ms3_server_url(srv));
    rq.body = "uploaded";
    rq.body_len = 8;
    rq.has_body = 1;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "BadDigest");
    ms3t_response_free(&r);
    rq.body = "";
    rq.body_len = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    free(url);

    /* More than a week is refused. */
    char target[512];
    url = ms3t_presign(srv, "GET", "/bkt/pre/obj", 604800, 0);
    snprintf(target, sizeof(target), "%s", url + strlen(ms3_server_url(srv)));
    free(url);
    char *exp = strstr(target, "X-Amz-Expires=604800");
    assert_non_null(exp);
    memcpy(exp, "X-Amz-Expires=704800", 20);
    rq.method = "GET";
    rq.target = target;
    rq.body = NULL;
    rq.has_body = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AuthorizationQueryParametersError");
    ms3t_response_free(&r);
}

static void test_session_tokens(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_add_credentials(srv, "ASIATEMP", "tmp-secret", "tok-123", NULL), 0);
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.access_key = "ASIATEMP";
    rq.secret_key = "tmp-secret";
    rq.session_token = "tok-123";
    put_with("/bkt/t", "x", &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    rq.session_token = NULL;
    put_with("/bkt/t", "x", &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidAccessKeyId");
    ms3t_response_free(&r);
    rq.session_token = "tok-999";
    put_with("/bkt/t", "x", &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidToken");
    ms3t_response_free(&r);
    /* Expiry: 400 ExpiredToken, body-less on HEAD. */
    assert_int_equal(
        ms3_server_set_credentials_expiry(srv, "ASIATEMP", ms3_server_now(srv) - 1, NULL), 0);
    rq.session_token = "tok-123";
    put_with("/bkt/t", "x", &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "ExpiredToken");
    ms3t_response_free(&r);
    rq.method = "HEAD";
    rq.target = "/bkt/t";
    rq.body = NULL;
    rq.has_body = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_int_equal(r.body.len, 0);
    ms3t_response_free(&r);
    /* A key without a session token that expired: 403 AccessDenied. */
    assert_int_equal(ms3_server_add_credentials(srv, "AKIDOLD", "old-secret", NULL, NULL), 0);
    assert_int_equal(
        ms3_server_set_credentials_expiry(srv, "AKIDOLD", ms3_server_now(srv) - 1, NULL), 0);
    ms3t_request old = {0};
    old.sign = 1;
    old.access_key = "AKIDOLD";
    old.secret_key = "old-secret";
    put_with("/bkt/t", "x", &old, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "AccessDenied");
    ms3t_response_free(&r);
    /* The token never reaches the journal. */
    char *json = ms3_journal_json(srv, NULL);
    assert_null(strstr(json, "tok-123"));
    assert_null(strstr(json, "tmp-secret"));
    free(json);
}

/* ---- aws-chunked */

typedef struct mem_src {
    const unsigned char *data;
    size_t len, pos;
} mem_src;

static bk_code mem_read(void *ud, void *buf, size_t cap, size_t *got, bk_err *err)
{
    (void)err;
    mem_src *m = ud;
    size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *got = n;
    return BK_OK;
}

typedef struct streaming {
    bk_chunked_mode mode;
    bk_checksum_alg trailer;
    const char *trailer_header; /* x-amz-trailer value; NULL = from trailer */
    size_t chunk;
    const char *secret; /* for chunk signatures; NULL = T_SK */
    int corrupt_byte;   /* flip a byte of the encoded body at this offset + 1 */
    int omit_decoded_length;
} streaming;

/* Builds and sends an aws-chunked PUT. */
static void streaming_put(const char *key, const unsigned char *data, size_t len,
                          const streaming *sp, ms3t_response *out)
{
    char target[256], host[64], amz_date[17], decoded[32], trailer_hdr[64], scope[128];
    snprintf(target, sizeof(target), "/bkt/%s", key);
    snprintf(host, sizeof(host), "127.0.0.1:%u", (unsigned)ms3_server_port(srv));
    bk_sigv4_format_amz_date(time(NULL), amz_date);
    snprintf(decoded, sizeof(decoded), "%zu", len);
    const char *hash = bk_chunked_mode_payload_hash(sp->mode);
    const char *tname = sp->trailer_header;
    if (tname == NULL && sp->trailer != BK_CHECKSUM_NONE)
        tname = bk_checksum_header_name(sp->trailer);
    snprintf(trailer_hdr, sizeof(trailer_hdr), "%s", tname != NULL ? tname : "");
    uint64_t wire = bk_chunked_encoded_length(sp->mode, sp->chunk, sp->trailer, len);
    char clen[32];
    snprintf(clen, sizeof(clen), "%llu", (unsigned long long)wire);

    bk_sigv4_header hs[8];
    size_t n = 0;
    hs[n++] = (bk_sigv4_header){"Host", host};
    hs[n++] = (bk_sigv4_header){"x-amz-date", amz_date};
    hs[n++] = (bk_sigv4_header){"x-amz-content-sha256", hash};
    hs[n++] = (bk_sigv4_header){"Content-Encoding", "aws-chunked"};
    if (!sp->omit_decoded_length)
        hs[n++] = (bk_sigv4_header){"x-amz-decoded-content-length", decoded};
    if (tname != NULL)
        hs[n++] = (bk_sigv4_header){"x-amz-trailer", trailer_hdr};
    bk_sigv4_request sreq = {"PUT", target, "", hs, n, hash, BK_SIGV4_PATH_S3};
    bk_err err;
    bk_sigv4_signer *sg = bk_sigv4_signer_new(T_AK, T_SK, NULL, "us-east-1", "s3", &err);
    bk_sigv4_result res;
    assert_int_equal(bk_sigv4_sign(sg, &sreq, amz_date, NULL, &res, &err), BK_OK);
    unsigned char key32[32];
    char date8[9];
    snprintf(date8, sizeof(date8), "%.8s", amz_date);
    bk_sigv4_signing_key(sp->secret ? sp->secret : T_SK, date8, "us-east-1", "s3", key32);
    snprintf(scope, sizeof(scope), "%s/us-east-1/s3/aws4_request", date8);

    mem_src src = {data, len, 0};
    bk_chunked_encoder_config ec;
    memset(&ec, 0, sizeof(ec));
    ec.mode = sp->mode;
    ec.chunk_size = sp->chunk;
    ec.trailer_alg = sp->trailer;
    ec.decoded_length = (int64_t)len;
    ec.signing = (bk_chunked_signing){key32, amz_date, scope, res.signature};
    ec.source = mem_read;
    ec.source_ud = &src;
    bk_chunked_encoder *enc = bk_chunked_encoder_new(&ec, &err);
    assert_non_null(enc);
    unsigned char *body = malloc(wire + 1);
    size_t have = 0, got = 0;
    do {
        assert_int_equal(bk_chunked_encoder_read(enc, body + have, wire + 1 - have, &got, &err),
                         BK_OK);
        have += got;
    } while (got > 0);
    assert_int_equal(have, wire);
    bk_chunked_encoder_free(enc);
    if (sp->corrupt_byte)
        body[sp->corrupt_byte - 1] ^= 0x01;

    /* Send with the exact headers signed, plus the Authorization. */
    const char *headers[12];
    char lines[10][512];
    size_t h = 0;
    for (size_t i = 1; i < n; i++) {
        snprintf(lines[h], sizeof(lines[h]), "%s: %s", hs[i].name, hs[i].value);
        headers[h] = lines[h];
        h++;
    }
    snprintf(lines[h], sizeof(lines[h]), "Authorization: %s", res.authorization);
    headers[h] = lines[h];
    h++;
    headers[h] = NULL;
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = target;
    rq.body = body;
    rq.body_len = wire;
    rq.has_body = 1;
    rq.headers = headers;
    ms3t_send(srv, &rq, out);
    free(body);
    bk_sigv4_result_clear(&res);
    bk_sigv4_signer_free(sg);
}

static void check_stored(const char *key, const unsigned char *data, size_t len)
{
    char *got = NULL;
    size_t glen = 0;
    assert_int_equal(ms3_server_read_object(srv, T_BUCKET, key, len + 1, &got, &glen, NULL), 0);
    assert_int_equal(glen, len);
    assert_memory_equal(got, data, len);
    free(got);
}

static void test_streaming_modes(void **state)
{
    (void)state;
    enum { N = 70000 };
    unsigned char *data = malloc(N);
    ms3t_fill(data, N, 11);
    ms3t_response r;
    char buf[512];

    streaming sp = {BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, NULL, 8192, NULL, 0, 0};
    streaming_put("s/signed", data, N, &sp, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    check_stored("s/signed", data, N);

    /* The JS SDK v3 default: unsigned chunks with a CRC32 trailer. */
    streaming u = {BK_CHUNKED_UNSIGNED_TRAILER, BK_CHECKSUM_CRC32, NULL, 16384, NULL, 0, 0};
    streaming_put("s/unsigned", data, N, &u, &r);
    assert_int_equal(r.status, 200);
    bk_checksum_digest d;
    bk_checksum_compute(BK_CHECKSUM_CRC32, data, N, &d, NULL);
    assert_string_equal(ms3t_header(&r, "x-amz-checksum-crc32", buf, sizeof(buf)), d.base64);
    ms3t_response_free(&r);
    check_stored("s/unsigned", data, N);

    bk_checksum_alg algs[] = {BK_CHECKSUM_CRC32C, BK_CHECKSUM_CRC64NVME, BK_CHECKSUM_SHA1,
                              BK_CHECKSUM_SHA256};
    for (size_t i = 0; i < 4; i++) {
        streaming st = {BK_CHUNKED_SIGNED_TRAILER, algs[i], NULL, 10000, NULL, 0, 0};
        streaming_put("s/signed-trailer", data, N, &st, &r);
        assert_int_equal(r.status, 200);
        ms3t_response_free(&r);
        check_stored("s/signed-trailer", data, N);
    }
    /* No trailer and no algorithm: S3 computes CRC64NVME. */
    streaming none = {BK_CHUNKED_UNSIGNED_TRAILER, BK_CHECKSUM_NONE, NULL, 8192, NULL, 0, 0};
    streaming_put("s/none", data, N, &none, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(ms3t_header(&r, "x-amz-checksum-crc64nvme", buf, sizeof(buf)));
    ms3t_response_free(&r);

    ms3_journal_filter f = {0};
    f.key_prefix = "s/";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 7);
    assert_string_equal(e[0].auth, "streaming-signed");
    assert_string_equal(e[1].auth, "streaming-unsigned-trailer");
    assert_string_equal(e[2].auth, "streaming-signed-trailer");
    assert_int_equal(e[1].decoded_body_size, N);
    assert_true(e[1].request_body_size > N);
    ms3_journal_entries_free(e, n);
    free(data);
}

static void test_streaming_errors(void **state)
{
    (void)state;
    enum { N = 20000 };
    unsigned char *data = malloc(N);
    ms3t_fill(data, N, 12);
    ms3t_response r;
    char buf[512];

    /* A chunk signature made with another key. */
    streaming bad_sig = {BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, NULL, 8192, "other", 0, 0};
    streaming_put("e/sig", data, N, &bad_sig, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    ms3t_response_free(&r);
    assert_false(stored("e/sig"));

    /* A flipped payload byte breaks the chunk signature. */
    streaming flip = {BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, NULL, 8192, NULL, 200, 0};
    streaming_put("e/flip", data, N, &flip, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    assert_false(stored("e/flip"));

    /* ... and the trailer checksum in the unsigned mode. */
    streaming flip2 = {BK_CHUNKED_UNSIGNED_TRAILER, BK_CHECKSUM_CRC32, NULL, 8192, NULL, 200, 0};
    streaming_put("e/crc", data, N, &flip2, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "BadDigest");
    ms3t_response_free(&r);
    assert_false(stored("e/crc"));

    /* Chunks under 8 KiB other than the last. */
    streaming small = {BK_CHUNKED_UNSIGNED_TRAILER, BK_CHECKSUM_CRC32, NULL, 1000, NULL, 0, 0};
    streaming_put("e/small", data, N, &small, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "InvalidChunkSizeError");
    ms3t_response_free(&r);

    /* x-amz-trailer names another checksum than the trailer carries. */
    streaming mism = {
        BK_CHUNKED_UNSIGNED_TRAILER, BK_CHECKSUM_CRC32, "x-amz-checksum-sha256", 8192, NULL, 0, 0};
    streaming_put("e/mismatch", data, N, &mism, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "MalformedTrailerError");
    ms3t_response_free(&r);

    streaming nolen = {BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, NULL, 8192, NULL, 0, 1};
    streaming_put("e/nolen", data, N, &nolen, &r);
    assert_int_equal(r.status, 411);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 0);
    free(data);
}

static void test_expect_continue_rejected(void **state)
{
    (void)state;
    /* A rejected PUT with Expect: 100-continue gets its verdict before any body byte:
     * over a socket, as libcurl waits for the verdict. */
    ms3_server *net = ms3t_start(NULL);
    assert_non_null(net);
    enum { N = 4 * 1024 * 1024 };
    unsigned char *data = malloc(N);
    ms3t_fill(data, N, 5);
    ms3t_response r;
    char buf[512];
    ms3t_request rq = {0};
    rq.sign = 1;
    rq.secret_key = "wrong";
    const char *expect[] = {"Expect: 100-continue", NULL};
    rq.unsigned_headers = expect;
    rq.method = "PUT";
    rq.target = "/bkt/big";
    rq.body = data;
    rq.body_len = N;
    rq.has_body = 1;
    ms3t_send(net, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(code_of(&r, buf, sizeof(buf)), "SignatureDoesNotMatch");
    ms3t_response_free(&r);
    ms3_journal_filter f = {0};
    f.key_prefix = "big";
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(net, &f, &e), 1);
    assert_int_equal(e[0].request_body_size, 0);
    ms3_journal_entries_free(e, 1);
    /* The accepted one uploads. */
    rq.secret_key = NULL;
    ms3t_send(net, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    char *got = NULL;
    size_t glen = 0;
    assert_int_equal(ms3_server_read_object(net, T_BUCKET, "big", N + 1, &got, &glen, NULL), 0);
    assert_int_equal(glen, N);
    assert_memory_equal(got, data, N);
    free(got);
    free(data);
    ms3_server_stop(net);
}

static void test_anonymous_mode(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.anonymous = 1;
    ms3_server *anon = ms3t_new_inproc(&o);
    assert_non_null(anon);
    ms3t_response r;
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/open";
    rq.body = "x";
    rq.body_len = 1;
    rq.has_body = 1;
    ms3t_send(anon, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* Signed requests are still verified. */
    rq.sign = 1;
    rq.secret_key = "wrong";
    ms3t_send(anon, &rq, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(anon, NULL, &e);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].auth, "anonymous");
    assert_true(e[0].auth_ok);
    assert_false(e[1].auth_ok);
    ms3_journal_entries_free(e, n);
    ms3_server_stop(anon);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_header_auth_modes, reset),
        cmocka_unit_test_setup(test_wrong_credentials, reset),
        cmocka_unit_test_setup(test_several_credentials, reset),
        cmocka_unit_test_setup(test_clock_skew, reset),
        cmocka_unit_test_setup(test_signing_key_cache, reset),
        cmocka_unit_test_setup(test_region_and_head_errors, reset),
        cmocka_unit_test_setup(test_unsigned_amz_header, reset),
        cmocka_unit_test_setup(test_duplicate_auth, reset),
        cmocka_unit_test_setup(test_proxy_modes, reset),
        cmocka_unit_test_setup(test_presigned, reset),
        cmocka_unit_test_setup(test_session_tokens, reset),
        cmocka_unit_test_setup(test_streaming_modes, reset),
        cmocka_unit_test_setup(test_streaming_errors, reset),
        cmocka_unit_test_setup(test_expect_continue_rejected, reset),
        cmocka_unit_test_setup(test_anonymous_mode, reset),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
