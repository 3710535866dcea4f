/* BK_TEST_UNIT: aws-chunked encoder and decoder against the AWS worked
 * examples, round trips in every mode and checksum, every split point, and
 * the encoder's own checks. Malformed streams are in test_chunked_errors.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bkcache/buf.h"
#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "bkcache/sigv4.h"
#include "chunked_harness.h"

/* ---- the AWS worked examples ---- */

static json_t *load_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/chunked/%s", BK_FIXTURES_DIR, name);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        fail_msg("cannot load %s: %s", path, jerr.text);
    return root;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        fail_msg("fixture lacks \"%s\"", key);
    return s;
}

/* The wire body rebuilt from the fixture's published values alone. */
static void expected_signed_wire(json_t *ex, bk_buf *out)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(ex, "chunks"), i, c)
    {
        size_t size = (size_t)json_integer_value(json_object_get(c, "size"));
        bk_buf_printf(out, "%zx;chunk-signature=%s\r\n", size, jstr(c, "signature"));
        for (size_t k = 0; k < size; k++)
            bk_buf_putc(out, jstr(c, "fill_byte")[0]);
        if (size > 0)
            bk_buf_puts(out, "\r\n");
    }
    json_t *trailer = json_object_get(ex, "trailer");
    if (trailer != NULL) {
        json_t *h;
        json_array_foreach(json_object_get(trailer, "headers"), i, h)
        {
            bk_buf_printf(out, "%s:%s\r\n", json_string_value(json_array_get(h, 0)),
                          json_string_value(json_array_get(h, 1)));
        }
        bk_buf_printf(out, "x-amz-trailer-signature:%s\r\n", jstr(trailer, "signature"));
    }
    bk_buf_puts(out, "\r\n");
}

static void check_doc_example(const char *file, bk_chunked_mode mode, bk_checksum_alg alg)
{
    json_t *ex = load_fixture(file);
    size_t decoded = (size_t)json_integer_value(json_object_get(ex, "decoded_content_length"));
    uint64_t encoded_len = (uint64_t)json_integer_value(json_object_get(ex, "encoded_body_length"));
    assert_int_equal(decoded, 66560);
    unsigned char *payload = malloc(decoded);
    memset(payload, 'a', decoded);
    ct_signing s;
    const char *seed =
        json_object_get(ex, "seed_signature") ? jstr(ex, "seed_signature") : CT_DOC_SEED;
    ct_doc_signing(&s, seed);
    assert_string_equal(s.scope, jstr(ex, "scope"));
    assert_string_equal(s.amz_date, jstr(ex, "amz_date"));

    assert_int_equal(bk_chunked_encoded_length(mode, 65536, alg, decoded), encoded_len);
    bk_chunked_encoder_config ecfg = {mode, 65536, alg, (int64_t)decoded, ct_signing_of(&s),
                                      NULL, NULL};
    size_t wire_len;
    bk_checksum_digest ck;
    unsigned char *wire = ct_encode(&ecfg, payload, decoded, &wire_len, &ck);
    assert_int_equal(wire_len, encoded_len);
    if (mode == BK_CHUNKED_UNSIGNED_TRAILER) {
        char hex[65];
        bk_sigv4_sha256_hex(wire, wire_len, hex);
        assert_string_equal(hex, jstr(ex, "encoded_body_sha256"));
    } else {
        bk_buf want = BK_BUF_INIT;
        expected_signed_wire(ex, &want);
        assert_int_equal(want.len, wire_len);
        assert_memory_equal(want.data, wire, wire_len);
        bk_buf_clear(&want);
    }
    if (alg != BK_CHECKSUM_NONE)
        assert_string_equal(ck.base64, "sOO8/Q==");

    bk_chunked_decoder_config dcfg = {mode, alg, (int64_t)decoded, 0, ct_signing_of(&s),
                                      NULL, NULL};
    ct_result r = ct_decode_all_ways(dcfg, wire, wire_len);
    if (r.rc != BK_OK)
        fail_msg("%s: %s %s", file, r.error.s3_code, r.error.detail);
    assert_int_equal(r.len, decoded);
    assert_memory_equal(r.data, payload, decoded);
    assert_int_equal(r.have_checksum, alg != BK_CHECKSUM_NONE);
    if (alg != BK_CHECKSUM_NONE)
        assert_string_equal(r.checksum.base64, "sOO8/Q==");
    free(r.data);

    /* Without the declared length it decodes the same. */
    dcfg.decoded_length = -1;
    r = ct_decode(dcfg, wire, wire_len, CT_SPLIT_RANDOM);
    assert_int_equal(r.rc, BK_OK);
    assert_int_equal(r.len, decoded);
    free(r.data);
    free(wire);
    free(payload);
    json_decref(ex);
}

static void doc_example_signed_chunks(void **state)
{
    (void)state;
    check_doc_example("chunked-put-object.json", BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE);
}

static void doc_example_signed_trailer(void **state)
{
    (void)state;
    check_doc_example("chunked-put-object-trailer.json", BK_CHUNKED_SIGNED_TRAILER,
                      BK_CHECKSUM_CRC32C);
}

static void unsigned_trailer_example(void **state)
{
    (void)state;
    check_doc_example("unsigned-trailer-put-object.json", BK_CHUNKED_UNSIGNED_TRAILER,
                      BK_CHECKSUM_CRC32C);
}

/* The trailer canonical form "name:value\n" and the chaining, as aws-c-auth has them. */
static void aws_c_auth_trailer_signature(void **state)
{
    (void)state;
    json_t *ex = load_fixture("aws-c-auth-chunked-trailing-headers.json");
    json_t *trailer = json_object_get(ex, "trailer");
    ct_signing s;
    ct_doc_signing(&s, jstr(ex, "seed_signature"));
    const char *canonical = jstr(trailer, "canonical_trailer");
    char sig[65];
    bk_sigv4_trailer_signature(s.key, s.amz_date, s.scope, jstr(ex, "previous_signature"),
                               canonical, strlen(canonical), sig);
    assert_string_equal(sig, jstr(trailer, "signature"));
    json_decref(ex);
}

/* ---- round trips ---- */

static void round_trip(bk_chunked_mode mode, bk_checksum_alg alg, size_t chunk_size, size_t len,
                       int declare_length)
{
    unsigned char *payload = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        payload[i] = (unsigned char)ct_rnd();
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    bk_chunked_encoder_config ecfg = {
        mode, chunk_size, alg, declare_length ? (int64_t)len : -1, ct_signing_of(&s), NULL, NULL};
    size_t wire_len;
    bk_checksum_digest ck;
    unsigned char *wire = ct_encode(&ecfg, payload, len, &wire_len, &ck);
    assert_int_equal(wire_len, bk_chunked_encoded_length(mode, chunk_size, alg, len));
    bk_chunked_decoder_config dcfg = {mode,
                                      alg,
                                      declare_length ? (int64_t)len : -1,
                                      chunk_size < BK_CHUNKED_MIN_CHUNK,
                                      ct_signing_of(&s),
                                      NULL,
                                      NULL};
    ct_result r = ct_decode(dcfg, wire, wire_len, CT_SPLIT_RANDOM);
    if (r.rc != BK_OK)
        fail_msg("mode %d alg %d chunk %zu len %zu: %s %s", mode, alg, chunk_size, len,
                 r.error.s3_code, r.error.detail);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.data, payload, len);
    if (alg != BK_CHECKSUM_NONE) {
        bk_checksum_digest want;
        assert_int_equal(bk_checksum_compute(alg, payload, len, &want, NULL), BK_OK);
        assert_string_equal(ck.base64, want.base64);
        assert_true(r.have_checksum);
        assert_string_equal(r.checksum.base64, want.base64);
    }
    free(r.data);
    free(wire);
    free(payload);
}

static void round_trips_every_mode_and_algorithm(void **state)
{
    (void)state;
    const bk_chunked_mode modes[] = {BK_CHUNKED_SIGNED, BK_CHUNKED_SIGNED_TRAILER,
                                     BK_CHUNKED_UNSIGNED_TRAILER};
    const bk_checksum_alg algs[] = {BK_CHECKSUM_NONE,      BK_CHECKSUM_CRC32, BK_CHECKSUM_CRC32C,
                                    BK_CHECKSUM_CRC64NVME, BK_CHECKSUM_SHA1,  BK_CHECKSUM_SHA256};
    for (size_t m = 0; m < 3; m++) {
        for (size_t a = 0; a < 6; a++) {
            if (modes[m] == BK_CHUNKED_SIGNED && algs[a] != BK_CHECKSUM_NONE)
                continue;
            size_t cs = 1 + (size_t)(ct_rnd() % 300);
            size_t sizes[] = {0, 1, cs - 1, cs, cs + 1, 3 * cs, (size_t)(ct_rnd() % 3000)};
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
                round_trip(modes[m], algs[a], cs, sizes[k], (int)(k % 2));
            /* S3-sized chunks with the 8192-byte rule enforced. */
            round_trip(modes[m], algs[a], 8192, (size_t)8192 * 2 + (size_t)(ct_rnd() % 9000), 1);
        }
    }
}

static void every_split_point(void **state)
{
    (void)state;
    const bk_chunked_mode modes[] = {BK_CHUNKED_SIGNED, BK_CHUNKED_SIGNED_TRAILER,
                                     BK_CHUNKED_UNSIGNED_TRAILER};
    unsigned char payload[40];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)('A' + i);
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    for (size_t m = 0; m < 3; m++) {
        bk_checksum_alg alg = modes[m] == BK_CHUNKED_SIGNED ? BK_CHECKSUM_NONE : BK_CHECKSUM_CRC32;
        bk_chunked_encoder_config ecfg = {modes[m], 16, alg, 40, ct_signing_of(&s), NULL, NULL};
        size_t len;
        unsigned char *wire = ct_encode(&ecfg, payload, sizeof payload, &len, NULL);
        bk_chunked_decoder_config dcfg = {modes[m], alg, 40, 1, ct_signing_of(&s), NULL, NULL};
        for (size_t cut = 0; cut <= len; cut++) {
            ct_sink sink = {BK_BUF_INIT, 0};
            dcfg.sink = ct_collect;
            dcfg.sink_ud = &sink;
            bk_err err = {0};
            bk_chunked_decoder *d = bk_chunked_decoder_new(&dcfg, &err);
            assert_non_null(d);
            assert_int_equal(bk_chunked_decoder_feed(d, wire, cut, &err), BK_OK);
            assert_int_equal(bk_chunked_decoder_done(d), cut == len);
            assert_int_equal(bk_chunked_decoder_feed(d, wire + cut, len - cut, &err), BK_OK);
            if (bk_chunked_decoder_finish(d, &err) != BK_OK)
                fail_msg("mode %d cut %zu: %s", modes[m], cut, err.msg);
            assert_int_equal(sink.out.len, sizeof payload);
            assert_memory_equal(sink.out.data, payload, sizeof payload);
            bk_buf_clear(&sink.out);
            bk_chunked_decoder_free(d);
            /* Cut short at the same point, the body is incomplete. */
            if (cut < len) {
                ct_result r = ct_decode(dcfg, wire, cut, CT_SPLIT_NONE);
                assert_int_equal(r.rc, BK_EPROTO);
                assert_string_equal(r.error.s3_code, "IncompleteBody");
                free(r.data);
            }
        }
        free(wire);
    }
}

/* ---- malformed streams ---- */

static void sink_failure_is_internal_error(void **state)
{
    (void)state;
    bk_chunked_decoder_config c = ct_unsigned_cfg(BK_CHECKSUM_NONE, -1);
    ct_sink sink = {BK_BUF_INIT, 1};
    c.sink = ct_collect;
    c.sink_ud = &sink;
    bk_err err = {0};
    bk_chunked_decoder *d = bk_chunked_decoder_new(&c, &err);
    assert_int_equal(bk_chunked_decoder_feed(d, "5\r\nhello\r\n0\r\n\r\n", 16, &err), BK_EIO);
    assert_non_null(strstr(err.msg, "storage full"));
    assert_string_equal(bk_chunked_decoder_error(d)->s3_code, "InternalError");
    assert_int_equal(bk_chunked_decoder_error(d)->http_status, 500);
    bk_chunked_decoder_free(d);
}

static void bad_configurations(void **state)
{
    (void)state;
    bk_err err = {0};
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    ct_source src = {CT_TEXT("abc"), 0, 0, 0};
    bk_chunked_encoder_config e = {BK_CHUNKED_SIGNED, 16,  BK_CHECKSUM_NONE, -1, {0},
                                   ct_source_read,    &src};
    assert_null(bk_chunked_encoder_new(&e, &err)); /* signed without a key */
    assert_int_equal(err.code, BK_EINVAL);
    e.signing = ct_signing_of(&s);
    e.trailer_alg = BK_CHECKSUM_CRC32; /* the signed mode has no trailer */
    assert_null(bk_chunked_encoder_new(&e, &err));
    e.trailer_alg = BK_CHECKSUM_MD5;
    e.mode = BK_CHUNKED_UNSIGNED_TRAILER;
    assert_null(bk_chunked_encoder_new(&e, &err));
    e.trailer_alg = BK_CHECKSUM_NONE;
    e.chunk_size = 0;
    assert_null(bk_chunked_encoder_new(&e, &err));
    strcpy(s.seed, "XYZ");
    bk_chunked_decoder_config d = {
        BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, -1, 0, ct_signing_of(&s), NULL, NULL};
    assert_null(bk_chunked_decoder_new(&d, &err));
    assert_non_null(strstr(err.msg, "seed"));
    d.mode = (bk_chunked_mode)0;
    assert_null(bk_chunked_decoder_new(&d, &err));
    assert_int_equal(bk_chunked_encoded_length(BK_CHUNKED_SIGNED, 0, BK_CHECKSUM_NONE, 10), 0);
    assert_int_equal(bk_chunked_encoded_length(BK_CHUNKED_SIGNED, 16, BK_CHECKSUM_SHA1, 10), 0);
}

static void encoder_checks_the_source(void **state)
{
    (void)state;
    bk_err err = {0};
    unsigned char buf[4096];
    size_t n;
    const bk_chunked_mode mode = BK_CHUNKED_UNSIGNED_TRAILER;
    int64_t declared[] = {4, 2};
    for (int i = 0; i < 2; i++) { /* source shorter, then longer, than declared */
        ct_source src = {CT_TEXT("abc"), 0, 1, 0};
        bk_chunked_encoder_config e = {mode,           16,  BK_CHECKSUM_NONE, declared[i], {0},
                                       ct_source_read, &src};
        bk_chunked_encoder *enc = bk_chunked_encoder_new(&e, &err);
        assert_non_null(enc);
        assert_int_equal(bk_chunked_encoder_read(enc, buf, sizeof buf, &n, &err), BK_EINVAL);
        assert_int_equal(bk_chunked_encoder_read(enc, buf, sizeof buf, &n, &err), BK_EINVAL);
        bk_chunked_encoder_free(enc);
    }
    ct_source src = {CT_TEXT("abc"), 0, 0, 1};
    bk_chunked_encoder_config e = {mode, 16, BK_CHECKSUM_NONE, -1, {0}, ct_source_read, &src};
    bk_chunked_encoder *enc = bk_chunked_encoder_new(&e, &err);
    assert_int_equal(bk_chunked_encoder_read(enc, buf, sizeof buf, &n, &err), BK_EIO);
    assert_non_null(strstr(err.msg, "disk on fire"));
    bk_chunked_encoder_free(enc);
    /* The unsigned mode with no checksum ends with an empty trailer. */
    src.fail = 0;
    e.decoded_length = 3;
    enc = bk_chunked_encoder_new(&e, &err);
    assert_int_equal(bk_chunked_encoder_read(enc, buf, sizeof buf, &n, &err), BK_OK);
    assert_int_equal(n, 13);
    assert_memory_equal(buf, "3\r\nabc\r\n0\r\n\r\n", 13);
    assert_null(bk_chunked_encoder_checksum(enc));
    assert_int_equal(bk_chunked_encoder_read(enc, buf, sizeof buf, &n, &err), BK_OK);
    assert_int_equal(n, 0);
    bk_chunked_encoder_free(enc);
}

static void modes_map_to_payload_hashes(void **state)
{
    (void)state;
    bk_chunked_mode m;
    assert_int_equal(bk_chunked_mode_from_payload_hash("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &m),
                     1);
    assert_int_equal(m, BK_CHUNKED_SIGNED);
    assert_int_equal(
        bk_chunked_mode_from_payload_hash("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", &m), 1);
    assert_int_equal(m, BK_CHUNKED_SIGNED_TRAILER);
    assert_int_equal(bk_chunked_mode_from_payload_hash("STREAMING-UNSIGNED-PAYLOAD-TRAILER", &m),
                     1);
    assert_int_equal(m, BK_CHUNKED_UNSIGNED_TRAILER);
    assert_int_equal(bk_chunked_mode_from_payload_hash("UNSIGNED-PAYLOAD", &m), 0);
    assert_int_equal(bk_chunked_mode_from_payload_hash("streaming-unsigned-payload-trailer", &m),
                     0);
    assert_int_equal(bk_chunked_mode_from_payload_hash(NULL, &m), 0);
    assert_string_equal(bk_chunked_mode_payload_hash(BK_CHUNKED_SIGNED_TRAILER),
                        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER");
    assert_true(bk_chunked_mode_is_signed(BK_CHUNKED_SIGNED));
    assert_false(bk_chunked_mode_is_signed(BK_CHUNKED_UNSIGNED_TRAILER));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doc_example_signed_chunks),
        cmocka_unit_test(doc_example_signed_trailer),
        cmocka_unit_test(unsigned_trailer_example),
        cmocka_unit_test(aws_c_auth_trailer_signature),
        cmocka_unit_test(round_trips_every_mode_and_algorithm),
        cmocka_unit_test(every_split_point),
        cmocka_unit_test(sink_failure_is_internal_error),
        cmocka_unit_test(bad_configurations),
        cmocka_unit_test(encoder_checks_the_source),
        cmocka_unit_test(modes_map_to_payload_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
