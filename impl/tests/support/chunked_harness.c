/* Shared helpers of the aws-chunked tests; see chunked_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/sigv4.h"
#include "chunked_harness.h"

/* Deterministic xorshift so failures reproduce; tests of one executable run
 * in sequence, so one state is enough. */
static uint64_t ct_rng_state = 0x2545F4914F6CDD1Dull;

uint64_t ct_rnd(void)
{
    ct_rng_state ^= ct_rng_state << 13;
    ct_rng_state ^= ct_rng_state >> 7;
    ct_rng_state ^= ct_rng_state << 17;
    return ct_rng_state;
}

/* ---- signing inputs shared by every test (the AWS documentation's) ---- */

void ct_doc_signing(ct_signing *s, const char *seed)
{
    bk_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3",
                         s->key);
    snprintf(s->amz_date, sizeof s->amz_date, "%s", "20130524T000000Z");
    snprintf(s->scope, sizeof s->scope, "%s", "20130524/us-east-1/s3/aws4_request");
    snprintf(s->seed, sizeof s->seed, "%s", seed);
}

bk_chunked_signing ct_signing_of(const ct_signing *s)
{
    bk_chunked_signing g = {s->key, s->amz_date, s->scope, s->seed};
    return g;
}

/* ---- encoder plumbing ---- */

bk_code ct_source_read(void *ud, void *buf, size_t cap, size_t *got, bk_err *err)
{
    ct_source *s = ud;
    if (s->fail)
        return bk_err_set(err, BK_EIO, "disk on fire");
    size_t n = s->len - s->pos;
    if (n > cap)
        n = cap;
    if (s->max_piece && n > s->max_piece)
        n = s->max_piece;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *got = n;
    return BK_OK;
}

/* Encodes the whole body, reading with random output capacities. */
unsigned char *ct_encode(bk_chunked_encoder_config *cfg, const unsigned char *data, size_t len,
                         size_t *wire_len, bk_checksum_digest *ck)
{
    ct_source src = {data, len, 0, 1 + (size_t)(ct_rnd() % 5000), 0};
    cfg->source = ct_source_read;
    cfg->source_ud = &src;
    bk_err err = {0};
    bk_chunked_encoder *enc = bk_chunked_encoder_new(cfg, &err);
    if (enc == NULL)
        fail_msg("encoder_new: %s", err.msg);
    bk_buf out = BK_BUF_INIT;
    for (;;) {
        unsigned char piece[7000];
        size_t cap = 1 + (size_t)(ct_rnd() % sizeof piece), n = 0;
        assert_int_equal(bk_chunked_encoder_read(enc, piece, cap, &n, &err), BK_OK);
        if (n == 0)
            break;
        bk_buf_append(&out, piece, n);
    }
    const bk_checksum_digest *d = bk_chunked_encoder_checksum(enc);
    if (ck != NULL) {
        memset(ck, 0, sizeof *ck);
        if (d != NULL)
            *ck = *d;
    }
    bk_chunked_encoder_free(enc);
    *wire_len = out.len;
    return (unsigned char *)bk_buf_steal(&out);
}

/* ---- decoder plumbing ---- */

bk_code ct_collect(void *ud, const void *data, size_t len, bk_err *err)
{
    ct_sink *s = ud;
    if (s->fail)
        return bk_err_set(err, BK_EIO, "storage full");
    bk_buf_append(&s->out, data, len);
    return bk_buf_check(&s->out, err);
}

ct_result ct_decode(bk_chunked_decoder_config cfg, const unsigned char *wire, size_t len,
                    enum ct_split split)
{
    ct_result r;
    memset(&r, 0, sizeof r);
    ct_sink sink = {BK_BUF_INIT, 0};
    cfg.sink = ct_collect;
    cfg.sink_ud = &sink;
    bk_err err = {0};
    bk_chunked_decoder *d = bk_chunked_decoder_new(&cfg, &err);
    if (d == NULL)
        fail_msg("decoder_new: %s", err.msg);
    size_t off = 0;
    while (off < len && r.rc == BK_OK) {
        size_t n = len - off;
        if (split == CT_SPLIT_BYTES)
            n = 1;
        else if (split == CT_SPLIT_RANDOM)
            n = (ct_rnd() % 4) ? 1 + (size_t)(ct_rnd() % 97) : 1 + (size_t)(ct_rnd() % 20000);
        if (n > len - off)
            n = len - off;
        r.rc = bk_chunked_decoder_feed(d, wire + off, n, &err);
        off += n;
    }
    if (r.rc == BK_OK)
        r.rc = bk_chunked_decoder_finish(d, &err);
    if (r.rc != BK_OK) {
        /* Errors are sticky and reported the same way again. */
        assert_int_equal(bk_chunked_decoder_feed(d, "x", 1, NULL), r.rc);
        assert_int_equal(bk_chunked_decoder_finish(d, NULL), r.rc);
        assert_false(bk_chunked_decoder_done(d));
        assert_non_null(bk_chunked_decoder_error(d)->s3_code);
        assert_true(strlen(err.msg) > 0);
    } else {
        assert_true(bk_chunked_decoder_done(d));
        assert_null(bk_chunked_decoder_error(d)->s3_code);
        assert_int_equal(bk_chunked_decoder_decoded_bytes(d), sink.out.len);
    }
    r.error = *bk_chunked_decoder_error(d);
    const bk_checksum_digest *ck = bk_chunked_decoder_checksum(d);
    if (ck != NULL) {
        r.checksum = *ck;
        r.have_checksum = 1;
    }
    bk_chunked_decoder_free(d);
    r.len = sink.out.len;
    r.data = (unsigned char *)bk_buf_steal(&sink.out);
    return r;
}

/* Decodes in one piece, byte by byte and in random pieces: all three must
 * agree on the outcome and the payload. */
ct_result ct_decode_all_ways(bk_chunked_decoder_config cfg, const unsigned char *wire, size_t len)
{
    ct_result one = ct_decode(cfg, wire, len, CT_SPLIT_NONE);
    for (int split = CT_SPLIT_BYTES; split <= CT_SPLIT_RANDOM; split++) {
        ct_result other = ct_decode(cfg, wire, len, (enum ct_split)split);
        assert_int_equal(other.rc, one.rc);
        if (one.rc == BK_OK) {
            assert_int_equal(other.len, one.len);
            assert_memory_equal(other.data, one.data, one.len);
        } else {
            assert_string_equal(other.error.s3_code, one.error.s3_code);
            assert_int_equal(other.error.offset, one.error.offset);
        }
        free(other.data);
    }
    return one;
}

void ct_expect_error(bk_chunked_decoder_config cfg, const void *wire, size_t len, bk_code rc,
                     const char *s3_code, int status)
{
    ct_result r = ct_decode_all_ways(cfg, wire, len);
    if (r.rc == BK_OK)
        fail_msg("decoded fine, expected %s", s3_code);
    if (strcmp(r.error.s3_code, s3_code) != 0)
        fail_msg("got %s (%s), expected %s", r.error.s3_code, r.error.detail, s3_code);
    assert_int_equal(r.rc, rc);
    assert_int_equal(r.error.http_status, status);
    assert_true(strlen(r.error.s3_message) > 0);
    assert_true(strlen(r.error.detail) > 0);
    free(r.data);
}

void ct_expect_error_str(bk_chunked_decoder_config cfg, const char *wire, bk_code rc,
                         const char *s3_code, int status)
{
    ct_expect_error(cfg, wire, strlen(wire), rc, s3_code, status);
}

bk_chunked_decoder_config ct_unsigned_cfg(bk_checksum_alg alg, int64_t len)
{
    bk_chunked_decoder_config c = {BK_CHUNKED_UNSIGNED_TRAILER, alg, len, 1, {0}, NULL, NULL};
    return c;
}

unsigned char *ct_signed_body(bk_chunked_mode mode, bk_checksum_alg alg, const ct_signing *s,
                              size_t *len)
{
    static const unsigned char payload[] = "the quick brown fox jumps over the lazy dog";
    bk_chunked_encoder_config e = {mode, 16, alg, 43, ct_signing_of(s), NULL, NULL};
    return ct_encode(&e, payload, 43, len, NULL);
}

/* Just past the nth (0-based) occurrence of marker in wire. */
char *ct_after_nth(unsigned char *wire, size_t len, const char *marker, int nth)
{
    size_t m = strlen(marker), at = 0;
    for (int i = 0; i <= nth; i++) {
        while (at + m <= len && memcmp(wire + at, marker, m) != 0)
            at++;
        assert_true(at + m <= len);
        at += m;
    }
    return (char *)wire + at;
}
