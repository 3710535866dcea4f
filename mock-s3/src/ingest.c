#include "ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/sigv4.h"
#include "errors.h"
#include "xml.h"

struct ms3_ingest {
    ms3_ingest_config cfg;
    char expect_sha256[65];
    char content_md5[64];
    char header_checksum[BK_CHECKSUM_MAX_BASE64 + 8];
    bk_chunked_decoder *dec;
    bk_md5sha256 *digests; /* MD5 and SHA-256 of the payload */
    bk_checksum *ck;       /* header checksum or compute_alg */
    ms3_writer *writer;
    bk_buf buffer;
    uint64_t wire, payload;
    int failed;
    int finished;
    unsigned char md5_out[16];
    char sha256_hex[65];
    bk_checksum_digest checksum;
    int have_checksum;
    ms3_body body;
    int have_body;
    /* error */
    const char *code;
    int status;
    char message[512];
    bk_buf xml;
};

static void set_error(ms3_ingest *in, const char *code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(ms3_ingest *in, const char *code, int status, const char *fmt, ...)
{
    if (in->failed)
        return;
    in->failed = 1;
    in->code = code;
    in->status = status ? status : ms3__error_status(code);
    if (fmt == NULL) {
        snprintf(in->message, sizeof(in->message), "%s", ms3__error_message(code));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(in->message, sizeof(in->message), fmt, ap);
        va_end(ap);
    }
}

/* The digests start with the first payload byte: most requests (HEAD, GET,
 * DELETE, listings) have none, and the digests of nothing are constants
 * (finish_digests), so they cost no contexts, no algorithm lookups. */
static bk_code start_digests(ms3_ingest *in, bk_err *err)
{
    in->digests = bk_md5sha256_new(in->cfg.digests, err);
    return in->digests != NULL ? BK_OK : BK_ENOMEM;
}

static bk_code deliver(void *ud, const void *data, size_t len, bk_err *err)
{
    ms3_ingest *in = ud;
    if (in->digests == NULL && start_digests(in, err) != BK_OK)
        return BK_ENOMEM;
    in->payload += len;
    bk_md5sha256_update(in->digests, data, len);
    if (in->ck != NULL)
        bk_checksum_update(in->ck, data, len);
    if (in->writer != NULL)
        return (bk_code)ms3__writer_write(in->writer, data, len, err);
    if (in->cfg.sink == MS3_INGEST_BUFFER) {
        if (in->buffer.len + len > in->cfg.buffer_limit)
            return bk_err_set(err, BK_EINVAL, "request body over %zu bytes", in->cfg.buffer_limit);
        bk_buf_append(&in->buffer, data, len);
        return bk_buf_check(&in->buffer, err);
    }
    return BK_OK;
}

ms3_ingest *ms3__ingest_new(const ms3_ingest_config *cfg, bk_err *err)
{
    ms3_ingest *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    in->cfg = *cfg;
    /* Keep copies: the config's strings belong to the request's headers. */
    if (cfg->expect_sha256_hex != NULL) {
        snprintf(in->expect_sha256, sizeof(in->expect_sha256), "%s", cfg->expect_sha256_hex);
        in->cfg.expect_sha256_hex = in->expect_sha256;
    }
    if (cfg->content_md5_b64 != NULL) {
        snprintf(in->content_md5, sizeof(in->content_md5), "%s", cfg->content_md5_b64);
        in->cfg.content_md5_b64 = in->content_md5;
    }
    if (cfg->header_checksum_b64 != NULL) {
        snprintf(in->header_checksum, sizeof(in->header_checksum), "%s", cfg->header_checksum_b64);
        in->cfg.header_checksum_b64 = in->header_checksum;
    }
    bk_checksum_alg alg = cfg->header_checksum_alg;
    if (alg == BK_CHECKSUM_NONE && cfg->want_checksum_alg)
        alg = cfg->compute_alg;
    if (cfg->chunked_mode != 0 && cfg->trailer_alg != BK_CHECKSUM_NONE)
        alg = BK_CHECKSUM_NONE; /* the decoder verifies the trailer itself */
    if (alg != BK_CHECKSUM_NONE && (in->ck = bk_checksum_new(alg, err)) == NULL) {
        ms3__ingest_free(in);
        return NULL;
    }
    if (cfg->sink == MS3_INGEST_STORE &&
        (in->writer = ms3__writer_new(cfg->tmp_dir, cfg->size_hint, err)) == NULL) {
        ms3__ingest_free(in);
        return NULL;
    }
    if (cfg->chunked_mode != 0) {
        bk_chunked_decoder_config dc;
        memset(&dc, 0, sizeof(dc));
        dc.mode = cfg->chunked_mode;
        dc.trailer_alg = cfg->trailer_alg;
        dc.decoded_length = cfg->decoded_length;
        dc.signing = cfg->signing; /* copied by the decoder */
        dc.sink = deliver;
        dc.sink_ud = in;
        if ((in->dec = bk_chunked_decoder_new(&dc, err)) == NULL) {
            ms3__ingest_free(in);
            return NULL;
        }
    }
    return in;
}

void ms3__ingest_free(ms3_ingest *in)
{
    if (in == NULL)
        return;
    bk_chunked_decoder_free(in->dec);
    bk_md5sha256_free(in->digests);
    bk_checksum_free(in->ck);
    ms3__writer_abort(in->writer);
    if (in->have_body)
        ms3__body_clear(&in->body);
    bk_buf_clear(&in->buffer);
    bk_buf_clear(&in->xml);
    free(in);
}

static void chunked_failed(ms3_ingest *in)
{
    const bk_chunked_error *ce = bk_chunked_decoder_error(in->dec);
    if (ce == NULL || ce->s3_code == NULL) {
        set_error(in, "InternalError", 500, NULL);
        return;
    }
    set_error(in, ce->s3_code, ce->http_status, "%s", ce->s3_message);
    if (strcmp(ce->s3_code, "SignatureDoesNotMatch") == 0) {
        ms3__xml_elem(&in->xml, "StringToSign", ce->string_to_sign);
        ms3__xml_elem(&in->xml, "SignatureProvided", ce->signature_provided);
    } else if (strcmp(ce->s3_code, "InvalidChunkSizeError") == 0) {
        bk_buf_printf(&in->xml, "<Chunk>%lu</Chunk><BadChunkSize>%llu</BadChunkSize>",
                      ce->chunk_number, (unsigned long long)ce->bad_chunk_size);
    }
}

int ms3__ingest_feed(ms3_ingest *in, const void *data, size_t len)
{
    in->wire += len;
    if (in->failed)
        return -1;
    bk_err err;
    if (in->dec != NULL) {
        if (bk_chunked_decoder_feed(in->dec, data, len, &err) != BK_OK) {
            chunked_failed(in);
            return -1;
        }
        return 0;
    }
    if (deliver(in, data, len, &err) != BK_OK) {
        if (in->cfg.sink == MS3_INGEST_BUFFER && err.code == BK_EINVAL)
            set_error(in, "MaxMessageLengthExceeded", 400, "Your request was too big.");
        else
            set_error(in, "InternalError", 500, "storing the body failed: %s", err.msg);
        return -1;
    }
    return 0;
}

static const char *alg_upper(bk_checksum_alg a)
{
    const char *n = bk_checksum_alg_name(a);
    return n != NULL ? n : "checksum";
}

static void finish_digests(ms3_ingest *in)
{
    if (in->digests == NULL) { /* no payload: MD5 and SHA-256 of the empty string */
        static const unsigned char empty_md5[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                                                    0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
        memcpy(in->md5_out, empty_md5, sizeof empty_md5);
        memcpy(in->sha256_hex, BK_SIGV4_EMPTY_SHA256, sizeof in->sha256_hex);
        return;
    }
    unsigned char sha[32];
    bk_md5sha256_final(in->digests, in->md5_out, sha, NULL);
    bk_sigv4_hex(sha, 32, in->sha256_hex);
}

/* x-amz-content-sha256, when it is a hash (aws-chunked bodies are checked by
 * their chunk signatures instead). 0, or -1 with the error set. */
static int check_payload_sha256(ms3_ingest *in)
{
    if (in->cfg.expect_sha256_hex == NULL || in->dec != NULL)
        return 0;
    char lower[65];
    for (int i = 0; i < 64; i++) {
        char c = in->cfg.expect_sha256_hex[i];
        lower[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    lower[64] = '\0';
    if (strcmp(lower, in->sha256_hex) == 0)
        return 0;
    set_error(in, "XAmzContentSHA256Mismatch", 400, NULL);
    bk_buf_printf(&in->xml,
                  "<ClientComputedContentSHA256>%s</ClientComputedContentSHA256>"
                  "<S3ComputedContentSHA256>%s</S3ComputedContentSHA256>",
                  lower, in->sha256_hex);
    return -1;
}

static int check_content_md5(ms3_ingest *in)
{
    if (in->cfg.content_md5_b64 == NULL)
        return 0;
    unsigned char want[16];
    long got = bk_checksum_base64_decode(in->cfg.content_md5_b64, strlen(in->cfg.content_md5_b64),
                                         want, sizeof(want));
    if (got != 16) {
        set_error(in, "InvalidDigest", 400, NULL);
        return -1;
    }
    if (memcmp(want, in->md5_out, 16) == 0)
        return 0;
    char calc[32];
    bk_checksum_base64_encode(in->md5_out, 16, calc, sizeof(calc));
    set_error(in, "BadDigest", 400, NULL);
    bk_buf_printf(&in->xml,
                  "<ExpectedDigest>%s</ExpectedDigest><CalculatedDigest>%s"
                  "</CalculatedDigest>",
                  in->cfg.content_md5_b64, calc);
    return -1;
}

/* The x-amz-checksum of the payload: the trailer's (verified by the decoder),
 * or the one computed here, held to the header's value when one was sent. */
static int finish_checksum(ms3_ingest *in)
{
    if (in->dec != NULL) {
        const bk_checksum_digest *d = bk_chunked_decoder_checksum(in->dec);
        if (d != NULL) {
            in->checksum = *d;
            in->have_checksum = 1;
        }
    }
    if (in->ck == NULL)
        return 0;
    bk_err err;
    if (bk_checksum_final(in->ck, &in->checksum, &err) != BK_OK) {
        set_error(in, "InternalError", 500, NULL);
        return -1;
    }
    in->have_checksum = 1;
    if (in->cfg.header_checksum_b64 != NULL &&
        strcmp(in->cfg.header_checksum_b64, in->checksum.base64) != 0) {
        set_error(in, "BadDigest", 400,
                  "The %s you specified did not match the calculated "
                  "checksum.",
                  alg_upper(in->cfg.header_checksum_alg));
        return -1;
    }
    return 0;
}

static int finish_body(ms3_ingest *in)
{
    if (in->writer == NULL)
        return 0;
    ms3_writer *w = in->writer;
    in->writer = NULL;
    bk_err err;
    if (ms3__writer_finish(w, &in->body, &err) != BK_OK) {
        set_error(in, "InternalError", 500, "storing the body failed: %s", err.msg);
        return -1;
    }
    in->have_body = 1;
    return 0;
}

int ms3__ingest_finish(ms3_ingest *in)
{
    if (in->finished)
        return in->failed ? -1 : 0;
    in->finished = 1;
    bk_err err;
    if (!in->failed && in->dec != NULL && bk_chunked_decoder_finish(in->dec, &err) != BK_OK)
        chunked_failed(in);
    finish_digests(in);
    if (!in->failed && check_payload_sha256(in) == 0 && check_content_md5(in) == 0 &&
        finish_checksum(in) == 0 && finish_body(in) == 0)
        return 0;
    ms3__writer_abort(in->writer);
    in->writer = NULL;
    return -1;
}

uint64_t ms3__ingest_wire_bytes(const ms3_ingest *in)
{
    return in->wire;
}

uint64_t ms3__ingest_payload_bytes(const ms3_ingest *in)
{
    return in->payload;
}

const unsigned char *ms3__ingest_md5(const ms3_ingest *in)
{
    return in->md5_out;
}

const char *ms3__ingest_sha256_hex(const ms3_ingest *in)
{
    return in->sha256_hex;
}

const bk_checksum_digest *ms3__ingest_checksum(const ms3_ingest *in)
{
    return in->have_checksum ? &in->checksum : NULL;
}

int ms3__ingest_take_body(ms3_ingest *in, ms3_body *out, bk_err *err)
{
    if (!in->have_body)
        return bk_err_set(err, BK_EINVAL, "no body was stored");
    *out = in->body;
    memset(&in->body, 0, sizeof(in->body));
    in->have_body = 0;
    return 0;
}

const bk_buf *ms3__ingest_buffer(const ms3_ingest *in)
{
    return &in->buffer;
}

const char *ms3__ingest_error_code(const ms3_ingest *in)
{
    return in->failed ? in->code : NULL;
}

const char *ms3__ingest_error_message(const ms3_ingest *in)
{
    return in->message;
}

int ms3__ingest_error_status(const ms3_ingest *in)
{
    return in->status;
}

const char *ms3__ingest_error_xml(const ms3_ingest *in)
{
    return bk_buf_str(&in->xml);
}
