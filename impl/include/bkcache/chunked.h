/* The aws-chunked content encoding (Content-Encoding: aws-chunked) in its three
 * S3 forms, as an encoder for clients and tests and a verifying decoder for the
 * mock.
 *
 *   signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
 *     <hex size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n\r\n
 *   signed with trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER):
 *     ... 0;chunk-signature=<sig>\r\nx-amz-checksum-<alg>:<b64>\r\n
 *     x-amz-trailer-signature:<sig>\r\n\r\n
 *   unsigned with trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER):
 *     <hex size>\r\n<data>\r\n ... 0\r\n[x-amz-checksum-<alg>:<b64>\r\n]\r\n
 *
 * Each chunk signature chains from the previous one, the first from the seed
 * signature (the request's header signature); the trailer signature chains
 * from the final 0-byte chunk's. Both are computed by the sigv4 module.
 * The trailer carries at most one x-amz-checksum-* line; its canonical form
 * for the trailer signature is "<lowercase name>:<value>\n".
 */
#ifndef BKCACHE_CHUNKED_H
#define BKCACHE_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/checksum.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_chunked_mode {
    BK_CHUNKED_SIGNED = 1,      /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    BK_CHUNKED_SIGNED_TRAILER,  /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    BK_CHUNKED_UNSIGNED_TRAILER /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
} bk_chunked_mode;

/* S3 rejects a data chunk under this size unless it is the last one. */
#define BK_CHUNKED_MIN_CHUNK 8192
/* Longest size line or trailer line the decoder accepts, CRLF included. */
#define BK_CHUNKED_MAX_LINE 256
/* Most trailer lines (checksum, signature, ...) the decoder accepts. */
#define BK_CHUNKED_MAX_TRAILER_LINES 4

/* The x-amz-content-sha256 value of a mode, and back (exact match); 0 when
 * the value is not a chunked mode (e.g. UNSIGNED-PAYLOAD or a hex hash). */
const char *bk_chunked_mode_payload_hash(bk_chunked_mode mode);
int bk_chunked_mode_from_payload_hash(const char *value, bk_chunked_mode *out);
int bk_chunked_mode_is_signed(bk_chunked_mode mode);

/* What the signed modes chain from. The key is the request's 32-byte SigV4
 * signing key (bk_sigv4_signing_key); amz_date the X-Amz-Date value; scope
 * "<date8>/<region>/<service>/aws4_request"; seed_signature the 64-hex header
 * signature. All are copied by the *_new functions. */
typedef struct bk_chunked_signing {
    const unsigned char *key;
    const char *amz_date;
    const char *scope;
    const char *seed_signature;
} bk_chunked_signing;

/* ------------------------------------------------------------------ encoder */

/* Where the encoder pulls payload from: put up to cap bytes into buf and set
 * *got; *got == 0 means end of payload. Short reads are fine. */
typedef bk_code (*bk_chunked_source_fn)(void *ud, void *buf, size_t cap, size_t *got, bk_err *err);

typedef struct bk_chunked_encoder_config {
    bk_chunked_mode mode;
    size_t chunk_size; /* payload bytes per chunk (the last may be shorter); >= 1 */
    /* Trailer modes: the x-amz-checksum-* trailer to compute and send, or NONE
     * (no checksum line; the signed-trailer mode then signs an empty trailer).
     * Must be NONE for BK_CHUNKED_SIGNED. */
    bk_checksum_alg trailer_alg;
    int64_t decoded_length;     /* payload length when known (checked), -1 otherwise */
    bk_chunked_signing signing; /* signed modes only */
    bk_chunked_source_fn source;
    void *source_ud;
} bk_chunked_encoder_config;

typedef struct bk_chunked_encoder bk_chunked_encoder;

/* Holds one chunk of payload at a time (signed chunks need the chunk's hash
 * before its header), so memory is chunk_size plus a few hundred bytes.
 * NULL with err set on a bad configuration. */
bk_chunked_encoder *bk_chunked_encoder_new(const bk_chunked_encoder_config *cfg, bk_err *err);
void bk_chunked_encoder_free(bk_chunked_encoder *enc);

/* Produces up to cap bytes of wire body into out (a curl read callback fits
 * directly); *produced == 0 with BK_OK means the body is complete. Errors from
 * the source are passed through; a payload that ends before or runs past
 * decoded_length is BK_EINVAL. Errors are sticky. */
bk_code bk_chunked_encoder_read(bk_chunked_encoder *enc, void *out, size_t cap, size_t *produced,
                                bk_err *err);

/* The computed trailer checksum, available once the body is complete (NULL
 * before, and when there is no trailer). */
const bk_checksum_digest *bk_chunked_encoder_checksum(const bk_chunked_encoder *enc);

/* Exact wire length (Content-Length) the encoder produces for decoded_length
 * payload bytes with this mode, chunk size and trailer algorithm; 0 on a bad
 * argument (a real body is never empty). */
uint64_t bk_chunked_encoded_length(bk_chunked_mode mode, size_t chunk_size,
                                   bk_checksum_alg trailer_alg, uint64_t decoded_length);

/* ------------------------------------------------------------------ decoder */

/* Receives decoded payload bytes in order. Bytes reach the sink BEFORE their
 * chunk signature and the trailer checksum are verified (chunks can be
 * gigabytes): on any decoder error, discard everything the sink received. */
typedef bk_code (*bk_chunked_sink_fn)(void *ud, const void *data, size_t len, bk_err *err);

typedef struct bk_chunked_decoder_config {
    bk_chunked_mode mode;
    /* The checksum named by the x-amz-trailer header, NONE when there is none.
     * In trailer modes a trailer line must then carry exactly this checksum. */
    bk_checksum_alg trailer_alg;
    int64_t decoded_length;     /* x-amz-decoded-content-length, -1 when absent */
    int allow_small_chunks;     /* 0: S3's rule, non-last data chunks >= 8192 bytes */
    bk_chunked_signing signing; /* signed modes only */
    bk_chunked_sink_fn sink;    /* may be NULL (verify only) */
    void *sink_ud;
} bk_chunked_decoder_config;

/* A failure as S3 reports it, for the mock's error response. */
typedef struct bk_chunked_error {
    const char *s3_code;  /* "IncompleteBody", "SignatureDoesNotMatch", ...; NULL = no error */
    int http_status;      /* 400, 403, 500 */
    char s3_message[160]; /* the <Message> text S3 sends for this case */
    char detail[512];     /* what exactly was wrong, for logs (never secrets) */
    uint64_t offset;      /* wire body offset where it was detected */
    /* InvalidChunkSizeError: S3's <Chunk> (1-based number of the chunk whose
     * header revealed the problem) and <BadChunkSize> (the undersized one). */
    unsigned long chunk_number;
    uint64_t bad_chunk_size;
    /* SignatureDoesNotMatch: S3's <StringToSign> and <SignatureProvided>. */
    char string_to_sign[512];
    char signature_provided[65];
} bk_chunked_error;

typedef struct bk_chunked_decoder bk_chunked_decoder;

/* NULL with err set on a bad configuration (not on bad input: that is
 * reported by feed/finish). Memory use is fixed; nothing grows with input. */
bk_chunked_decoder *bk_chunked_decoder_new(const bk_chunked_decoder_config *cfg, bk_err *err);
void bk_chunked_decoder_free(bk_chunked_decoder *d);

/* Feeds the next len bytes of the wire body, split anywhere. BK_OK, or on the
 * first failure (sticky from then on):
 *   BK_EPROTO     malformed stream (IncompleteBody, MalformedTrailerError,
 *                 InvalidChunkSizeError, InvalidRequest)
 *   BK_EAUTH      a chunk or trailer signature mismatch (SignatureDoesNotMatch)
 *   BK_EINTEGRITY trailer checksum (BadDigest) or decoded length (IncompleteBody)
 *   other         the sink's own error (InternalError, 500)
 * and bk_chunked_decoder_error() tells what to answer. */
bk_code bk_chunked_decoder_feed(bk_chunked_decoder *d, const void *data, size_t len, bk_err *err);
/* The body ended (Content-Length reached or the connection closed): BK_OK
 * only if the stream was complete and everything verified. */
bk_code bk_chunked_decoder_finish(bk_chunked_decoder *d, bk_err *err);
int bk_chunked_decoder_done(const bk_chunked_decoder *d); /* complete and verified */

const bk_chunked_error *bk_chunked_decoder_error(const bk_chunked_decoder *d);
uint64_t bk_chunked_decoder_decoded_bytes(const bk_chunked_decoder *d);
/* The verified trailer checksum once done (NULL without one), e.g. to return
 * it as the x-amz-checksum-<alg> response header. */
const bk_checksum_digest *bk_chunked_decoder_checksum(const bk_chunked_decoder *d);

#ifdef __cplusplus
}
#endif

#endif
