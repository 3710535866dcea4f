/* The block functions of SHA-256 on the SHA extensions and of MD5 (RFC 1321),
 * alone and fused: what the library's own multi-stream hashers build on
 * (model/sha256x2.c, sigv4/md5sha256.c). Each takes whole 64-byte blocks and
 * updates a chaining value; padding, buffering and the OpenSSL fallback are
 * the callers'. Private to libbkcache. */
#ifndef BKCACHE_BLOCKHASH_H
#define BKCACHE_BLOCKHASH_H

#include <stddef.h>
#include <stdint.h>

/* FIPS 180-4 and RFC 1321 initial values. */
extern const uint32_t bk__sha256_iv[8];
extern const uint32_t bk__md5_iv[4];

/* Whether this CPU has the SHA extensions (and the SSSE3/SSE4.1 the code
 * uses). The bk__sha256_ni_* functions below may run only when it does;
 * they do nothing on a compiler or architecture without them. */
int bk__blockhash_cpu_has_sha_ni(void);

/* `nb` blocks at `p` into one SHA-256 chaining value, or into two that read
 * the same bytes (one message schedule, two round chains side by side). */
void bk__sha256_ni_blocks(uint32_t h[8], const unsigned char *p, size_t nb);
void bk__sha256_ni_blocks2(uint32_t a[8], uint32_t b[8], const unsigned char *p, size_t nb);

/* `nb` blocks at `p` into an MD5 chaining value (portable C). */
void bk__md5_blocks(uint32_t s[4], const unsigned char *p, size_t nb);

/* The last `ntail` (< 64) bytes of a message of `total` bytes, padded as
 * RFC 1321 3.1-3.2 and FIPS 180-4 5.1.1 both pad (a one bit, zeros to 56 mod
 * 64, the length in bits: little-endian for MD5, big-endian for SHA-256),
 * run into the chaining value, which is then written out as the digest. */
void bk__md5_finish(uint32_t s[4], const unsigned char *tail, size_t ntail, uint64_t total,
                    unsigned char md[16]);
void bk__sha256_ni_finish(uint32_t h[8], const unsigned char *tail, size_t ntail, uint64_t total,
                          unsigned char md[32]);

/* MD5 and SHA-256 of the same blocks in one loop: MD5's dependent ALU chain
 * and the SHA unit's rounds run side by side, at about the cost of MD5
 * alone. SHA extensions required, as above. */
void bk__md5_sha256_ni_blocks(uint32_t md5[4], uint32_t sha[8], const unsigned char *p, size_t nb);

#endif
