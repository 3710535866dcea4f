/* The S3 additional checksums (x-amz-checksum-crc32, -crc32c, -crc64nvme,
 * -sha1, -sha256) plus MD5 (Content-MD5 and ETags), as streaming contexts.
 *
 * S3 sends a checksum as the base64 of the big-endian digest: a CRC-32 of
 * 0xCBF43926 travels as "y/Q5Jg==". bk_checksum_final gives the raw digest,
 * that base64 and lowercase hex.
 *
 * CRCs: crc32 is CRC-32/ISO-HDLC (zlib), crc32c is CRC-32/ISCSI (Castagnoli),
 * crc64nvme is CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and
 * xorout all ones). They run slicing-by-8 over tables each context computes
 * when it is created (16 KiB at most), so there is no shared mutable state and
 * contexts may be used from different threads. SHA-1, SHA-256 and MD5 go
 * through OpenSSL EVP; bk_md5sha256 below computes MD5 and SHA-256 together.
 */
#ifndef BKCACHE_CHECKSUM_H
#define BKCACHE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_checksum_alg {
    BK_CHECKSUM_NONE = 0,
    BK_CHECKSUM_CRC32,
    BK_CHECKSUM_CRC32C,
    BK_CHECKSUM_CRC64NVME,
    BK_CHECKSUM_SHA1,
    BK_CHECKSUM_SHA256,
    /* Not an x-amz-checksum algorithm: for Content-MD5 and ETags only. The
     * name and header functions below do not know it. */
    BK_CHECKSUM_MD5,
} bk_checksum_alg;

#define BK_CHECKSUM_MAX_DIGEST 32 /* SHA-256 */
#define BK_CHECKSUM_MAX_BASE64 45 /* 44 characters + NUL */

typedef struct bk_checksum_digest {
    bk_checksum_alg alg;
    size_t len;                                /* raw digest bytes */
    unsigned char raw[BK_CHECKSUM_MAX_DIGEST]; /* big-endian for the CRCs */
    char base64[BK_CHECKSUM_MAX_BASE64];       /* the x-amz-checksum-* value */
    char hex[2 * BK_CHECKSUM_MAX_DIGEST + 1];  /* lowercase, e.g. an ETag */
} bk_checksum_digest;

typedef struct bk_checksum bk_checksum;

/* A context for alg (not NONE). NULL with err set on an unknown algorithm or
 * when memory or OpenSSL fail. */
bk_checksum *bk_checksum_new(bk_checksum_alg alg, bk_err *err);
void bk_checksum_free(bk_checksum *c);
bk_checksum_alg bk_checksum_algorithm(const bk_checksum *c);
void bk_checksum_update(bk_checksum *c, const void *data, size_t len);
/* Writes the digest of everything updated since creation or the last reset.
 * The context must be reset before it is updated again. */
bk_code bk_checksum_final(bk_checksum *c, bk_checksum_digest *out, bk_err *err);
/* Starts over with the same algorithm (tables are kept). */
bk_code bk_checksum_reset(bk_checksum *c, bk_err *err);

/* One shot. */
bk_code bk_checksum_compute(bk_checksum_alg alg, const void *data, size_t len,
                            bk_checksum_digest *out, bk_err *err);

/* Digest length in bytes (4, 4, 8, 20, 32, 16); 0 for NONE or unknown. */
size_t bk_checksum_digest_len(bk_checksum_alg alg);

/* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256": the values of
 * x-amz-checksum-algorithm, x-amz-sdk-checksum-algorithm and the
 * ChecksumAlgorithm XML element. NULL for NONE, MD5 or unknown. */
const char *bk_checksum_alg_name(bk_checksum_alg alg);
/* "crc32", ..., "sha256"; NULL as above. */
const char *bk_checksum_alg_lower(bk_checksum_alg alg);
/* "x-amz-checksum-crc32", ...; NULL as above. */
const char *bk_checksum_header_name(bk_checksum_alg alg);
/* Case-insensitive "CRC32"/"crc32"/... -> alg; 1 when known, 0 otherwise
 * (also for "MD5" and ""). */
int bk_checksum_alg_from_name(const char *name, bk_checksum_alg *out);
/* Case-insensitive "x-amz-checksum-crc32"/... -> alg; 1 when known. */
int bk_checksum_alg_from_header(const char *header_name, bk_checksum_alg *out);

/* 1 when value (len bytes, not necessarily NUL-terminated) is canonical padded
 * base64 of exactly bk_checksum_digest_len(alg) bytes: what S3 answers
 * InvalidRequest "Value for x-amz-checksum-<alg> ... is invalid." to otherwise. */
int bk_checksum_value_valid(bk_checksum_alg alg, const char *value, size_t len);

/* Padded standard base64 of n bytes into out (4*ceil(n/3)+1 bytes needed).
 * Returns the text length, or 0 when out is too small (out[0] is then ""). */
size_t bk_checksum_base64_encode(const unsigned char *data, size_t n, char *out, size_t out_size);
/* Strict decoding of padded standard base64: no whitespace, padding only at
 * the end, unused bits zero. Returns the decoded length or -1 when malformed
 * or longer than out_size. */
long bk_checksum_base64_decode(const char *text, size_t len, unsigned char *out, size_t out_size);

/* MD5 and SHA-256 of the same bytes (an upload's ETag and its
 * x-amz-content-sha256), hashed as they arrive. On a CPU with the SHA
 * extensions one loop runs both over each 64-byte block, at about the cost of
 * MD5 alone; elsewhere, or when BK_MD5SHA256_OPENSSL is asked for (tests
 * cover the fallback that way on any CPU), two OpenSSL contexts. The digests
 * are the same either way. */
typedef enum bk_md5sha256_impl {
    BK_MD5SHA256_AUTO,
    BK_MD5SHA256_OPENSSL,
    BK_MD5SHA256_FUSED, /* only as bk_md5sha256_choose returned it on this machine */
} bk_md5sha256_impl;

/* What AUTO takes on this CPU: BK_MD5SHA256_FUSED or BK_MD5SHA256_OPENSSL.
 * Finding out executes CPUID, which a virtual machine may trap at the cost of
 * microseconds, so a server that hashes every request body asks once and
 * creates each context with the answer. */
bk_md5sha256_impl bk_md5sha256_choose(void);

typedef struct bk_md5sha256 bk_md5sha256;

/* NULL with err set when memory or OpenSSL fail. */
bk_md5sha256 *bk_md5sha256_new(bk_md5sha256_impl impl, bk_err *err);
void bk_md5sha256_free(bk_md5sha256 *h);
/* 1 when the context runs the fused SHA-extension loop, 0 for OpenSSL. */
int bk_md5sha256_fused(const bk_md5sha256 *h);
void bk_md5sha256_update(bk_md5sha256 *h, const void *data, size_t len);
/* Writes both digests of everything updated since creation; the context
 * takes no more bytes after that (free it). */
bk_code bk_md5sha256_final(bk_md5sha256 *h, unsigned char md5[16], unsigned char sha256[32],
                           bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
