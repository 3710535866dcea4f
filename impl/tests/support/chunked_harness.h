/* Helpers shared by the aws-chunked tests (test_chunked.c and
 * test_chunked_errors.c): the AWS documentation's signing inputs, an encoder
 * run over a memory source, and a decoder run over a wire body split in
 * different ways. Assertions are CMocka's. */
#ifndef BK_TEST_CHUNKED_HARNESS_H
#define BK_TEST_CHUNKED_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bkcache/buf.h"
#include "bkcache/checksum.h"
#include "bkcache/chunked.h"

typedef struct ct_signing {
    unsigned char key[32];
    char amz_date[17];
    char scope[64];
    char seed[65];
} ct_signing;

#define CT_DOC_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

typedef struct ct_source {
    const unsigned char *data;
    size_t len, pos;
    size_t max_piece; /* short reads; 0 = as much as asked */
    int fail;
} ct_source;

typedef struct ct_sink {
    bk_buf out;
    int fail;
} ct_sink;

enum ct_split { CT_SPLIT_NONE, CT_SPLIT_BYTES, CT_SPLIT_RANDOM };

typedef struct ct_result {
    bk_code rc;
    bk_chunked_error error;
    bk_checksum_digest checksum;
    int have_checksum;
    unsigned char *data; /* malloc'd */
    size_t len;
} ct_result;

/* A string literal as the (bytes, length) pair the decoder helpers take. */
#define CT_TEXT(text) (const unsigned char *)(text), strlen(text)

/* Deterministic pseudo-random numbers. */
uint64_t ct_rnd(void);
/* Signing key, date and scope of the AWS documentation examples, with seed. */
void ct_doc_signing(ct_signing *s, const char *seed);
bk_chunked_signing ct_signing_of(const ct_signing *s);
/* A bk_chunked_source_fn over a ct_source. */
bk_code ct_source_read(void *ud, void *buf, size_t cap, size_t *got, bk_err *err);
/* Encodes data completely with random read sizes; returns the malloc'd wire
 * body; ck (may be NULL) receives the trailer checksum. Sets cfg->source. */
unsigned char *ct_encode(bk_chunked_encoder_config *cfg, const unsigned char *data, size_t len,
                         size_t *wire_len, bk_checksum_digest *ck);
/* A bk_chunked_sink_fn appending to a ct_sink (fails when sink->fail). */
bk_code ct_collect(void *ud, const void *data, size_t len, bk_err *err);
/* Decodes wire fed in one piece, byte by byte or in random pieces, then
 * finishes; checks stickiness of errors. cfg.sink is replaced. */
ct_result ct_decode(bk_chunked_decoder_config cfg, const unsigned char *wire, size_t len,
                    enum ct_split split);
/* All three splits must agree on outcome, error offset and payload. */
ct_result ct_decode_all_ways(bk_chunked_decoder_config cfg, const unsigned char *wire, size_t len);
/* Asserts the exact S3 error code, status and return code, all splits. */
void ct_expect_error(bk_chunked_decoder_config cfg, const void *wire, size_t len, bk_code rc,
                     const char *s3_code, int status);
void ct_expect_error_str(bk_chunked_decoder_config cfg, const char *wire, bk_code rc,
                         const char *s3_code, int status);
/* Unsigned-trailer decoder config; small chunks allowed. */
bk_chunked_decoder_config ct_unsigned_cfg(bk_checksum_alg alg, int64_t len);
/* A 43-byte payload encoded in 16-byte chunks (3 data chunks + final). */
unsigned char *ct_signed_body(bk_chunked_mode mode, bk_checksum_alg alg, const ct_signing *s,
                              size_t *len);
/* Just past the nth (0-based) occurrence of marker in wire. */
char *ct_after_nth(unsigned char *wire, size_t len, const char *marker, int nth);

#endif
