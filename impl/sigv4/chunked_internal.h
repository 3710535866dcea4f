/* Shared between the aws-chunked encoder (chunked.c) and decoder
 * (chunked_decode.c); not a public interface. */
#ifndef BKCACHE_CHUNKED_INTERNAL_H
#define BKCACHE_CHUNKED_INTERNAL_H

#include "bkcache/chunked.h"

#define CHUNKED_SIG_HEX 64
#define CHUNKED_MAX_SCOPE 200
#define CHUNKED_MAX_DATE 32
#define CHUNKED_SIG_EXT ";chunk-signature="
#define CHUNKED_TRAILER_SIG_NAME "x-amz-trailer-signature"

/* The signing state a signed stream chains through. */
typedef struct chunked_chain {
    unsigned char key[32];
    char amz_date[CHUNKED_MAX_DATE];
    char scope[CHUNKED_MAX_SCOPE];
    char prev_signature[CHUNKED_SIG_HEX + 1];
} chunked_chain;

/* Validates and copies s for a signed mode; BK_EINVAL naming what is wrong. */
bk_code bk__chunked_chain_init(chunked_chain *chain, const bk_chunked_signing *s, const char *who,
                               bk_err *err);

/* 1 when s is exactly 64 lowercase hex digits. */
int bk__chunked_is_sig_hex(const char *s, size_t len);

/* The "<name>:<value>\n" text a trailer signature covers; returns its length
 * or 0 when it does not fit. */
size_t bk__chunked_canonical_trailer(bk_checksum_alg alg, const char *value, char *out,
                                     size_t out_size);

#endif
