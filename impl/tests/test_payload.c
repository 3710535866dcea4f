/* BK_TEST_UNIT: which payload hash a request is signed with, as the SDK
 * chooses it: over https an object's bytes (PutObject, UploadPart) are
 * UNSIGNED-PAYLOAD, over http they are hashed; other bodies are always
 * hashed; empty bodies carry the empty hash. No request is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/s3.h"
#include "bkcache/sigv4.h"
#include "s3internal.h"

static const char *no_env(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

static const bk_env empty_env = {no_env, NULL};

static bk_s3_client *client(const char *endpoint_url, int unsigned_payload)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.env = &empty_env;
    cfg.region = "us-east-1";
    cfg.bucket = "cache";
    cfg.endpoint_url = endpoint_url;
    cfg.access_key_id = "AKIAPAYLOADTEST00001";
    cfg.secret_access_key = "payload/test/secret";
    if (unsigned_payload >= 0)
        cfg.unsigned_payload = unsigned_payload;
    bk_err err;
    bk_err_clear(&err);
    bk_s3_client *c = bk_s3_client_new(&cfg, &err);
    if (c == NULL)
        fail_msg("client for %s: %s", endpoint_url, err.msg);
    return c;
}

/* The hash rq would be signed with: the constant, "hash" when the body is
 * hashed, "none" when nothing is signed. */
static const char *rule(const bk_s3_client *c, const char *op, int object_payload, size_t len,
                        const char *known)
{
    s3_request rq;
    bk__s3_request_init(&rq, op, "PUT", "blobs/sha256:ab");
    rq.body = S3_BODY_MEM;
    rq.mem = "x";
    rq.len = len;
    rq.object_payload = object_payload;
    rq.payload_sha256 = known;
    int anonymous = 0;
    const char *h = bk__s3_payload_hash(c, &rq, &anonymous);
    return anonymous ? "none" : h != NULL ? h : "hash";
}

static void objects_are_unsigned_over_https_only(void **state)
{
    (void)state;
    static const char known[] = "41dc7458530ebf93c8be5e5f54e7e96b1077a245370128cfa11b2748d2a3aa19";
    bk_s3_client *https = client("https://127.0.0.1:9443", -1); /* the default */
    bk_s3_client *aws = client(NULL, -1);
    bk_s3_client *http = client("http://127.0.0.1:9000", -1);
    bk_s3_client *hashing = client("https://127.0.0.1:9443", 0);

    assert_string_equal(rule(https, "PutObject", 1, 1, NULL), BK_SIGV4_UNSIGNED_PAYLOAD);
    assert_string_equal(rule(https, "PutObject", 1, 1, known), BK_SIGV4_UNSIGNED_PAYLOAD);
    assert_string_equal(rule(https, "UploadPart", 1, 1, NULL), BK_SIGV4_UNSIGNED_PAYLOAD);
    assert_string_equal(rule(aws, "UploadPart", 1, 1, NULL), BK_SIGV4_UNSIGNED_PAYLOAD);
    /* A body that is no object's bytes (CompleteMultipartUpload's XML) is hashed. */
    assert_string_equal(rule(https, "CompleteMultipartUpload", 0, 1, NULL), "hash");
    /* Over http the hash stays: the one the caller knows, else one pass. */
    assert_string_equal(rule(http, "PutObject", 1, 1, known), known);
    assert_string_equal(rule(http, "UploadPart", 1, 1, NULL), "hash");
    /* unsigned_payload=0 hashes over https too. */
    assert_string_equal(rule(hashing, "UploadPart", 1, 1, NULL), "hash");
    assert_string_equal(rule(hashing, "PutObject", 1, 1, known), known);
    /* So the exporter computes part hashes only where they are sent. */
    assert_int_equal(bk_s3_client_hashes_payloads(https), 0);
    assert_int_equal(bk_s3_client_hashes_payloads(aws), 0);
    assert_int_equal(bk_s3_client_hashes_payloads(http), 1);
    assert_int_equal(bk_s3_client_hashes_payloads(hashing), 1);
    /* An empty body has the empty hash everywhere. */
    assert_string_equal(rule(https, "PutObject", 1, 0, NULL), BK_SIGV4_EMPTY_SHA256);
    assert_string_equal(rule(http, "PutObject", 1, 0, NULL), BK_SIGV4_EMPTY_SHA256);

    bk_s3_client_free(https);
    bk_s3_client_free(aws);
    bk_s3_client_free(http);
    bk_s3_client_free(hashing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_are_unsigned_over_https_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
