/* BK_TEST_UNIT: the aws-chunked decoder on malformed streams, one test per
 * case, each asserting the exact S3 error code and status whatever the split
 * of the input (one piece, byte by byte, random pieces). Ground truth: real
 * S3's answers as recorded in versity/versitygw issues (numbers below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/buf.h"
#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "bkcache/sigv4.h"
#include "chunked_harness.h"

/* crc32("hello") = NhCmhg==, crc32c("hello") = mnG7TA== */
#define HELLO "5\r\nhello\r\n"
#define HELLO_CRC32_TRAILER "x-amz-checksum-crc32:NhCmhg==\r\n"

static bk_chunked_decoder_config plain(void)
{
    return ct_unsigned_cfg(BK_CHECKSUM_NONE, -1);
}

static bk_chunked_decoder_config with_crc32(void)
{
    return ct_unsigned_cfg(BK_CHECKSUM_CRC32, 5);
}

static void well_formed_bodies_decode(void **state)
{
    (void)state;
    ct_result r = ct_decode_all_ways(plain(), CT_TEXT(HELLO "0\r\n\r\n"));
    assert_int_equal(r.rc, BK_OK);
    assert_int_equal(r.len, 5);
    free(r.data);
    r = ct_decode_all_ways(with_crc32(), CT_TEXT(HELLO "0\r\n" HELLO_CRC32_TRAILER "\r\n"));
    assert_int_equal(r.rc, BK_OK);
    assert_string_equal(r.checksum.base64, "NhCmhg==");
    free(r.data);
    /* trailer names are case-insensitive; spaces around the value are allowed */
    r = ct_decode_all_ways(with_crc32(),
                           CT_TEXT(HELLO "0\r\nX-Amz-Checksum-CRC32: NhCmhg==\r\n\r\n"));
    assert_int_equal(r.rc, BK_OK);
    free(r.data);
}

static void bad_hex_size(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), "zz\r\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
    ct_expect_error_str(plain(), "\r\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
    ct_expect_error_str(plain(), "5 \r\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
    ct_expect_error_str(plain(), "5;x=y\r\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
}

static void hex_size_overflow(void **state)
{
    (void)state;
    /* 2^64 + 5 would wrap to 5 and decode "fine" without the check */
    ct_expect_error_str(plain(), "10000000000000005\r\nhello\r\n0\r\n\r\n", BK_EPROTO,
                        "IncompleteBody", 400);
}

static void missing_crlf_after_data(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), "5\r\nhello0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
}

static void line_ending_without_cr(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), "5\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
    ct_expect_error_str(plain(), HELLO "00\n\r\n", BK_EPROTO, "IncompleteBody", 400);
}

static void chunk_shorter_than_declared(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), "6\r\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
}

static void chunk_longer_than_declared(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), "4\r\nhello\r\n0\r\n\r\n", BK_EPROTO, "IncompleteBody", 400);
}

static void missing_final_chunk(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), HELLO, BK_EPROTO, "IncompleteBody", 400);
    ct_expect_error_str(plain(), "5\r\nhel", BK_EPROTO, "IncompleteBody", 400);
    ct_expect_error_str(plain(), "", BK_EPROTO, "IncompleteBody", 400);
}

static void bytes_after_the_end(void **state)
{
    (void)state;
    ct_expect_error_str(plain(), HELLO "0\r\n\r\nX", BK_EPROTO, "IncompleteBody", 400);
}

static void oversized_size_line(void **state)
{
    (void)state;
    size_t n = 200000;
    char *wire = malloc(n);
    memset(wire, '0', n); /* all valid hex digits, never a line end */
    ct_result r = ct_decode(plain(), (unsigned char *)wire, n, CT_SPLIT_NONE);
    assert_int_equal(r.rc, BK_EPROTO);
    assert_string_equal(r.error.s3_code, "IncompleteBody");
    assert_true(r.error.offset <= BK_CHUNKED_MAX_LINE);
    free(r.data);
    memset(wire, 'q', n);
    ct_expect_error(plain(), wire, n, BK_EPROTO, "IncompleteBody", 400);
    free(wire);
}

static void oversized_trailer_line(void **state)
{
    (void)state;
    size_t n = 200000;
    char *wire = malloc(n);
    memset(wire, 'A', n);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): wire bytes with a length */
    memcpy(wire, "0\r\nx-amz-checksum-crc32:", 24);
    ct_expect_error(ct_unsigned_cfg(BK_CHECKSUM_CRC32, 0), wire, n, BK_EPROTO,
                    "MalformedTrailerError", 400);
    free(wire);
}

static void decoded_length_mismatch(void **state)
{
    (void)state;
    const char *wire = HELLO "0\r\n\r\n";
    const int64_t declared[] = {6, 4, 0};
    for (size_t i = 0; i < 3; i++)
        ct_expect_error_str(ct_unsigned_cfg(BK_CHECKSUM_NONE, declared[i]), wire, BK_EINTEGRITY,
                            "IncompleteBody", 400);
    /* A chunk header past the declared length is refused before its payload. */
    ct_result r =
        ct_decode(ct_unsigned_cfg(BK_CHECKSUM_NONE, 5), CT_TEXT("ffffffff\r\n"), CT_SPLIT_NONE);
    assert_int_equal(r.rc, BK_EINTEGRITY);
    assert_string_equal(r.error.s3_message,
                        "You did not provide the number of bytes specified by the Content-Length "
                        "HTTP header");
    assert_int_equal(r.len, 0);
    free(r.data);
}

static void small_chunk_not_last(void **state)
{
    (void)state;
    bk_chunked_decoder_config c = plain();
    c.allow_small_chunks = 0;
    bk_buf w = BK_BUF_INIT;
    bk_buf_puts(&w, "64\r\n");
    for (int i = 0; i < 100; i++)
        bk_buf_putc(&w, 'x');
    bk_buf_puts(&w, "\r\n64\r\n");
    ct_expect_error(c, w.data, w.len, BK_EPROTO, "InvalidChunkSizeError", 400);
    ct_result r = ct_decode(c, (unsigned char *)w.data, w.len, CT_SPLIT_BYTES);
    assert_string_equal(r.error.s3_message,
                        "Only the last chunk is allowed to have a size less than 8192 bytes");
    assert_int_equal(r.error.chunk_number, 2);
    assert_int_equal(r.error.bad_chunk_size, 100);
    free(r.data);
    /* A small last chunk is fine: 8192 then 100 then 0. */
    bk_buf_reset(&w);
    bk_buf_puts(&w, "2000\r\n");
    for (int i = 0; i < 8192; i++)
        bk_buf_putc(&w, 'y');
    bk_buf_puts(&w, "\r\n64\r\n");
    for (int i = 0; i < 100; i++)
        bk_buf_putc(&w, 'x');
    bk_buf_puts(&w, "\r\n0\r\n\r\n");
    r = ct_decode(c, (unsigned char *)w.data, w.len, CT_SPLIT_RANDOM);
    assert_int_equal(r.rc, BK_OK);
    assert_int_equal(r.len, 8292);
    free(r.data);
    bk_buf_clear(&w);
}

/* x-amz-trailer announced, no trailer line: MalformedTrailerError (versitygw #1600). */
static void missing_trailer_unsigned(void **state)
{
    (void)state;
    ct_expect_error_str(with_crc32(), HELLO "0\r\n\r\n", BK_EPROTO, "MalformedTrailerError", 400);
}

static void trailer_not_the_announced_one(void **state)
{
    (void)state;
    ct_expect_error_str(with_crc32(), HELLO "0\r\nx-amz-checksum-crc32c:mnG7TA==\r\n\r\n",
                        BK_EPROTO, "MalformedTrailerError", 400);
    /* a trailer nobody announced (versitygw #1691) */
    ct_expect_error_str(ct_unsigned_cfg(BK_CHECKSUM_NONE, 5),
                        HELLO "0\r\n" HELLO_CRC32_TRAILER "\r\n", BK_EPROTO,
                        "MalformedTrailerError", 400);
}

/* versitygw #1690 */
static void malformed_trailer_line(void **state)
{
    (void)state;
    const char *bad[] = {
        HELLO "0\r\nx-amz-checksum-crc32 NhCmhg==\r\n\r\n",           /* no colon */
        HELLO "0\r\n:NhCmhg==\r\n\r\n",                               /* no name */
        HELLO "0\r\nx amz:NhCmhg==\r\n\r\n",                          /* bad name */
        HELLO "0\r\n" HELLO_CRC32_TRAILER HELLO_CRC32_TRAILER "\r\n", /* twice */
        HELLO "0\r\n" HELLO_CRC32_TRAILER "x-amz-trailer-signature:"  /* signature in */
              "0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ct_expect_error_str(with_crc32(), bad[i], BK_EPROTO, "MalformedTrailerError", 400);
}

/* versitygw #1692, #1652 */
static void invalid_checksum_value(void **state)
{
    (void)state;
    ct_expect_error_str(with_crc32(), HELLO "0\r\nx-amz-checksum-crc32:not-b64!\r\n\r\n", BK_EPROTO,
                        "InvalidRequest", 400);
    const char *wire = HELLO "0\r\nx-amz-checksum-crc32:M3eFcAZSQlc=\r\n\r\n"; /* 8 bytes */
    ct_expect_error_str(with_crc32(), wire, BK_EPROTO, "InvalidRequest", 400);
    ct_result r = ct_decode(with_crc32(), CT_TEXT(wire), CT_SPLIT_NONE);
    assert_string_equal(r.error.s3_message,
                        "Value for x-amz-checksum-crc32 trailing header is invalid.");
    free(r.data);
}

/* versitygw #1653 */
static void wrong_checksum(void **state)
{
    (void)state;
    const char *wire = HELLO "0\r\nx-amz-checksum-crc32:mnG7TA==\r\n\r\n";
    ct_expect_error_str(with_crc32(), wire, BK_EINTEGRITY, "BadDigest", 400);
    ct_result r = ct_decode(with_crc32(), CT_TEXT(wire), CT_SPLIT_NONE);
    assert_string_equal(r.error.s3_message,
                        "The CRC32 you specified did not match the calculated checksum.");
    free(r.data);
}

static void trailer_cut_short(void **state)
{
    (void)state;
    ct_expect_error_str(with_crc32(), HELLO "0\r\nx-amz-checksum-crc32:NhC", BK_EPROTO,
                        "IncompleteBody", 400);
    ct_expect_error_str(with_crc32(), HELLO "0\r\n" HELLO_CRC32_TRAILER, BK_EPROTO,
                        "IncompleteBody", 400);
}

/* ---- signed bodies, built by the encoder and then damaged ---- */

static bk_chunked_decoder_config signed_cfg(bk_chunked_mode mode, const ct_signing *s)
{
    bk_checksum_alg alg = mode == BK_CHUNKED_SIGNED_TRAILER ? BK_CHECKSUM_CRC32C : BK_CHECKSUM_NONE;
    bk_chunked_decoder_config c = {mode, alg, 43, 1, ct_signing_of(s), NULL, NULL};
    return c;
}

static void wrong_chunk_signature(void **state)
{
    (void)state;
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    for (bk_chunked_mode mode = BK_CHUNKED_SIGNED; mode <= BK_CHUNKED_SIGNED_TRAILER; mode++) {
        bk_chunked_decoder_config c = signed_cfg(mode, &s);
        size_t len;
        unsigned char *wire = ct_signed_body(mode, c.trailer_alg, &s, &len);
        ct_result ok = ct_decode_all_ways(c, wire, len);
        assert_int_equal(ok.rc, BK_OK);
        free(ok.data);
        /* 43 bytes in chunks of 16: data chunks 0..2, then the final chunk
         * 3, whose signature must be checked too (versitygw #1147). */
        const size_t stored_before_failing[] = {16, 32, 43, 43};
        for (int nth = 0; nth < 4; nth++) {
            char *sig = ct_after_nth(wire, len, ";chunk-signature=", nth);
            char saved = sig[10];
            sig[10] = saved == '0' ? '1' : '0';
            ct_result r = ct_decode_all_ways(c, wire, len);
            assert_int_equal(r.rc, BK_EAUTH);
            assert_string_equal(r.error.s3_code, "SignatureDoesNotMatch");
            assert_int_equal(r.error.http_status, 403);
            assert_memory_equal(r.error.signature_provided, sig, 64);
            assert_non_null(strstr(r.error.string_to_sign, "AWS4-HMAC-SHA256-PAYLOAD\n"));
            assert_non_null(strstr(r.error.string_to_sign, s.scope));
            assert_int_equal(r.len, stored_before_failing[nth]);
            free(r.data);
            sig[10] = saved;
        }
        free(wire);
    }
}

static void malformed_signature_extension(void **state)
{
    (void)state;
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    bk_chunked_decoder_config c = signed_cfg(BK_CHUNKED_SIGNED, &s);
    size_t len;
    unsigned char *wire = ct_signed_body(BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, &s, &len);
    char *sig = ct_after_nth(wire, len, ";chunk-signature=", 1);
    sig[-2] = 'X'; /* ";chunk-signatuXe=" */
    ct_expect_error(c, wire, len, BK_EPROTO, "IncompleteBody", 400);
    sig[-2] = '=';
    /* a signature one digit short */
    bk_buf w = BK_BUF_INIT;
    bk_buf_append(&w, wire, (size_t)((unsigned char *)sig - wire) + 63);
    bk_buf_append(&w, sig + 64, len - (size_t)((unsigned char *)sig - wire) - 64);
    ct_expect_error(c, w.data, w.len, BK_EPROTO, "IncompleteBody", 400);
    bk_buf_clear(&w);
    free(wire);
}

/* A wrong seed or a wrong key: versitygw #1056 (403, not 500). */
static void wrong_seed_or_key(void **state)
{
    (void)state;
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    size_t len;
    unsigned char *wire = ct_signed_body(BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, &s, &len);
    ct_signing other = s;
    other.seed[0] = other.seed[0] == 'a' ? 'b' : 'a';
    ct_expect_error(signed_cfg(BK_CHUNKED_SIGNED, &other), wire, len, BK_EAUTH,
                    "SignatureDoesNotMatch", 403);
    other = s;
    bk_sigv4_signing_key("not-the-secret", "20130524", "us-east-1", "s3", other.key);
    ct_expect_error(signed_cfg(BK_CHUNKED_SIGNED, &other), wire, len, BK_EAUTH,
                    "SignatureDoesNotMatch", 403);
    free(wire);
}

typedef struct signed_trailer_body {
    ct_signing s;
    unsigned char *wire;
    size_t len;
    size_t head; /* bytes up to and including the final chunk's line */
} signed_trailer_body;

static void make_signed_trailer_body(signed_trailer_body *b)
{
    ct_doc_signing(&b->s, CT_DOC_SEED);
    b->wire = ct_signed_body(BK_CHUNKED_SIGNED_TRAILER, BK_CHECKSUM_CRC32C, &b->s, &b->len);
    char *trailer = ct_after_nth(b->wire, b->len, ";chunk-signature=", 3) + 64 + 2;
    b->head = (size_t)((unsigned char *)trailer - b->wire);
}

static void wrong_trailer_signature(void **state)
{
    (void)state;
    signed_trailer_body b;
    make_signed_trailer_body(&b);
    bk_chunked_decoder_config c = signed_cfg(BK_CHUNKED_SIGNED_TRAILER, &b.s);
    char *tsig = ct_after_nth(b.wire, b.len, "x-amz-trailer-signature:", 0);
    tsig[0] = tsig[0] == '0' ? '1' : '0';
    ct_expect_error(c, b.wire, b.len, BK_EAUTH, "SignatureDoesNotMatch", 403);
    ct_result r = ct_decode(c, b.wire, b.len, CT_SPLIT_NONE);
    assert_non_null(strstr(r.error.string_to_sign, "AWS4-HMAC-SHA256-TRAILER\n"));
    free(r.data);
    tsig[0] = tsig[0] == '0' ? '1' : '0';
    /* a trailer signature one digit short is malformed, not just wrong */
    bk_buf w = BK_BUF_INIT;
    bk_buf_append(&w, b.wire, (size_t)((unsigned char *)tsig - b.wire) + 63);
    bk_buf_puts(&w, "\r\n\r\n");
    ct_expect_error(c, w.data, w.len, BK_EPROTO, "IncompleteBody", 400);
    bk_buf_clear(&w);
    /* the checksum value altered: the trailer signature no longer covers it */
    char *value = (char *)b.wire + b.head + strlen("x-amz-checksum-crc32c:");
    value[0] = value[0] == 'A' ? 'B' : 'A';
    ct_expect_error(c, b.wire, b.len, BK_EAUTH, "SignatureDoesNotMatch", 403);
    free(b.wire);
}

/* Signed trailer omitted entirely: IncompleteBody (versitygw #1695). */
static void missing_trailer_signed(void **state)
{
    (void)state;
    signed_trailer_body b;
    make_signed_trailer_body(&b);
    bk_chunked_decoder_config c = signed_cfg(BK_CHUNKED_SIGNED_TRAILER, &b.s);
    ct_expect_error(c, b.wire, b.head, BK_EPROTO, "IncompleteBody", 400);
    bk_buf w = BK_BUF_INIT;
    bk_buf_append(&w, b.wire, b.head);
    bk_buf_puts(&w, "\r\n");
    ct_expect_error(c, w.data, w.len, BK_EPROTO, "IncompleteBody", 400);
    /* the checksum line without the signature line */
    bk_buf_reset(&w);
    const char *end = strstr((char *)b.wire + b.head, "\r\n") + 2;
    bk_buf_append(&w, b.wire, (size_t)((const unsigned char *)end - b.wire));
    bk_buf_puts(&w, "\r\n");
    ct_expect_error(c, w.data, w.len, BK_EPROTO, "IncompleteBody", 400);
    bk_buf_clear(&w);
    free(b.wire);
}

static void trailer_in_signed_mode(void **state)
{
    (void)state;
    ct_signing s;
    ct_doc_signing(&s, CT_DOC_SEED);
    size_t len;
    unsigned char *wire = ct_signed_body(BK_CHUNKED_SIGNED, BK_CHECKSUM_NONE, &s, &len);
    bk_buf w = BK_BUF_INIT;
    bk_buf_append(&w, wire, len - 2); /* drop the closing empty line */
    bk_buf_puts(&w, "x-amz-checksum-crc32c:AAAAAA==\r\n\r\n");
    ct_expect_error(signed_cfg(BK_CHUNKED_SIGNED, &s), w.data, w.len, BK_EPROTO, "IncompleteBody",
                    400);
    bk_buf_clear(&w);
    free(wire);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(well_formed_bodies_decode),
        cmocka_unit_test(bad_hex_size),
        cmocka_unit_test(hex_size_overflow),
        cmocka_unit_test(missing_crlf_after_data),
        cmocka_unit_test(line_ending_without_cr),
        cmocka_unit_test(chunk_shorter_than_declared),
        cmocka_unit_test(chunk_longer_than_declared),
        cmocka_unit_test(missing_final_chunk),
        cmocka_unit_test(bytes_after_the_end),
        cmocka_unit_test(oversized_size_line),
        cmocka_unit_test(oversized_trailer_line),
        cmocka_unit_test(decoded_length_mismatch),
        cmocka_unit_test(small_chunk_not_last),
        cmocka_unit_test(missing_trailer_unsigned),
        cmocka_unit_test(trailer_not_the_announced_one),
        cmocka_unit_test(malformed_trailer_line),
        cmocka_unit_test(invalid_checksum_value),
        cmocka_unit_test(wrong_checksum),
        cmocka_unit_test(trailer_cut_short),
        cmocka_unit_test(wrong_chunk_signature),
        cmocka_unit_test(malformed_signature_extension),
        cmocka_unit_test(wrong_seed_or_key),
        cmocka_unit_test(wrong_trailer_signature),
        cmocka_unit_test(missing_trailer_signed),
        cmocka_unit_test(trailer_in_signed_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
