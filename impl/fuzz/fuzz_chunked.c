/* The aws-chunked decoder in its three modes, with and without a trailer
 * checksum, fed in pieces of a fuzzer-chosen size (a body may be split
 * anywhere). Input: byte 0 = mode (bits 0-1) | small chunks allowed (bit 2)
 * | trailer algorithm (bits 3-5); byte 1 = piece size - 1; byte 2 = decoded
 * length given (odd) or not; then the wire body. Signed modes chain from the
 * AWS documentation example (fixtures/chunked/chunked-put-object.json), so
 * seeds made with those keys verify and mutations explore what comes after. */
#include "fuzz_target.h"

#include "bkcache/chunked.h"
#include "bkcache/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AMZ_DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED_SIG "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

static bk_code count_sink(void *ud, const void *p, size_t len, bk_err *err)
{
    (void)p;
    (void)err;
    *(uint64_t *)ud += len;
    return BK_OK;
}

BK_FUZZ_TARGET(chunked)
{
    if (size < 3)
        return 0;
    static const bk_chunked_mode modes[4] = {BK_CHUNKED_SIGNED, BK_CHUNKED_SIGNED_TRAILER,
                                             BK_CHUNKED_UNSIGNED_TRAILER,
                                             BK_CHUNKED_UNSIGNED_TRAILER};
    unsigned char key[32];
    bk_sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", key);

    bk_chunked_decoder_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = modes[data[0] & 3];
    cfg.allow_small_chunks = (data[0] >> 2) & 1;
    cfg.trailer_alg = (bk_checksum_alg)(((data[0] >> 3) & 7) % 6); /* NONE..SHA256 */
    if (cfg.mode == BK_CHUNKED_SIGNED)
        cfg.trailer_alg = BK_CHECKSUM_NONE;
    size_t piece = (size_t)data[1] + 1;
    const uint8_t *body = data + 3;
    size_t body_len = size - 3;
    cfg.decoded_length = (data[2] & 1) ? (int64_t)(data[2] >> 1) * 97 : -1;
    cfg.signing.key = key;
    cfg.signing.amz_date = AMZ_DATE;
    cfg.signing.scope = SCOPE;
    cfg.signing.seed_signature = SEED_SIG;
    uint64_t received = 0;
    cfg.sink = count_sink;
    cfg.sink_ud = &received;

    bk_err err;
    bk_chunked_decoder *d = bk_chunked_decoder_new(&cfg, &err);
    if (d == NULL)
        return 0;
    bk_code rc = BK_OK;
    for (size_t off = 0; off < body_len && rc == BK_OK; off += piece) {
        size_t n = body_len - off < piece ? body_len - off : piece;
        rc = bk_chunked_decoder_feed(d, body + off, n, &err);
    }
    if (rc == BK_OK)
        rc = bk_chunked_decoder_finish(d, &err);
    const bk_chunked_error *e = bk_chunked_decoder_error(d);
    if (rc == BK_OK) {
        if (!bk_chunked_decoder_done(d) || e->s3_code != NULL)
            bk_fuzz_fail("finish succeeded but the decoder is not done");
        if (bk_chunked_decoder_decoded_bytes(d) != received)
            bk_fuzz_fail("decoded byte count differs from what the sink got");
        if (cfg.decoded_length >= 0 && received != (uint64_t)cfg.decoded_length)
            bk_fuzz_fail("accepted a body whose length differs from the decoded length");
        if (received > body_len)
            bk_fuzz_fail("decoded more bytes than the wire carried");
    } else if (e->s3_code == NULL || e->http_status < 400) {
        bk_fuzz_fail("a failure without an S3 error to answer");
    }
    bk_chunked_decoder_free(d);
    return 0;
}
