/* BK_TEST_UNIT
 * The request body pipeline's digests: a request without payload bytes gets
 * the MD5 and SHA-256 of the empty string without digest contexts (and is
 * held to x-amz-content-sha256 and Content-MD5 like any other), a body fed in
 * pieces gets the digests of its bytes, and a mismatch is reported with both
 * values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <string.h>

#include "bkcache/sigv4.h"
#include "ingest.h"

static ms3_ingest *new_ingest(const char *expect_sha256_hex, const char *content_md5_b64)
{
    ms3_ingest_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.sink = MS3_INGEST_DISCARD;
    cfg.decoded_length = -1;
    cfg.expect_sha256_hex = expect_sha256_hex;
    cfg.content_md5_b64 = content_md5_b64;
    ms3_ingest *in = ms3__ingest_new(&cfg, NULL);
    assert_non_null(in);
    return in;
}

static void assert_digests_of(const ms3_ingest *in, const void *data, size_t len)
{
    unsigned char md5[16], sha[32];
    unsigned int n = 16;
    assert_int_equal(EVP_Digest(data, len, md5, &n, EVP_md5(), NULL), 1);
    n = 32;
    assert_int_equal(EVP_Digest(data, len, sha, &n, EVP_sha256(), NULL), 1);
    char sha_hex[65];
    bk_sigv4_hex(sha, 32, sha_hex);
    assert_memory_equal(ms3__ingest_md5(in), md5, 16);
    assert_string_equal(ms3__ingest_sha256_hex(in), sha_hex);
}

static void test_no_payload_has_the_empty_digests(void **state)
{
    (void)state;
    /* Nothing fed, and an empty feed (which leaves the digests unstarted). */
    for (int feed_empty = 0; feed_empty < 2; feed_empty++) {
        ms3_ingest *in = new_ingest(BK_SIGV4_EMPTY_SHA256, "1B2M2Y8AsgTpgAmY7PhCfg==");
        if (feed_empty)
            assert_int_equal(ms3__ingest_feed(in, "", 0), 0);
        assert_int_equal(ms3__ingest_finish(in), 0);
        assert_null(ms3__ingest_error_code(in));
        assert_int_equal(ms3__ingest_payload_bytes(in), 0);
        assert_digests_of(in, "", 0);
        ms3__ingest_free(in);
    }
}

static void test_no_payload_is_still_checked(void **state)
{
    (void)state;
    const char *other = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    ms3_ingest *in = new_ingest(other, NULL);
    assert_int_equal(ms3__ingest_finish(in), -1);
    assert_string_equal(ms3__ingest_error_code(in), "XAmzContentSHA256Mismatch");
    assert_non_null(strstr(ms3__ingest_error_xml(in),
                           "<S3ComputedContentSHA256>" BK_SIGV4_EMPTY_SHA256
                           "</S3ComputedContentSHA256>"));
    ms3__ingest_free(in);

    in = new_ingest(NULL, "kAFQmDzST7DWlj99KOF/cg=="); /* MD5 of "abc" */
    assert_int_equal(ms3__ingest_finish(in), -1);
    assert_string_equal(ms3__ingest_error_code(in), "BadDigest");
    assert_non_null(strstr(ms3__ingest_error_xml(in),
                           "<CalculatedDigest>1B2M2Y8AsgTpgAmY7PhCfg==</CalculatedDigest>"));
    ms3__ingest_free(in);
}

static void test_payload_in_pieces(void **state)
{
    (void)state;
    unsigned char body[4096 + 17];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (unsigned char)(i * 31 + 7);
    ms3_ingest *in = new_ingest(NULL, NULL);
    for (size_t off = 0; off < sizeof body; off += 1000) {
        size_t n = sizeof body - off < 1000 ? sizeof body - off : 1000;
        assert_int_equal(ms3__ingest_feed(in, body + off, n), 0);
    }
    assert_int_equal(ms3__ingest_finish(in), 0);
    assert_int_equal(ms3__ingest_payload_bytes(in), sizeof body);
    assert_digests_of(in, body, sizeof body);
    ms3__ingest_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_payload_has_the_empty_digests),
        cmocka_unit_test(test_no_payload_is_still_checked),
        cmocka_unit_test(test_payload_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
