/* SHA-256 in a stream on the SHA extensions (blockhash.h), without OpenSSL,
 * for callers that checked bk__blockhash_cpu_has_sha_ni() once (the check is
 * a CPUID, which a virtual machine may trap: microseconds each) and hash
 * small things often: SigV4's HMACs and canonical requests, record keys, a
 * manifest. Why not OpenSSL's EVP there: the first EVP digest of a process
 * makes OpenSSL 3 build its name map of every algorithm it knows, about 3 M
 * instructions (a millisecond), more than all the hashing of a warm export.
 * Bulk hashing keeps its own paths (model/sha256x2.c, sigv4/md5sha256.c).
 * Private to libbkcache. */
#ifndef BKCACHE_SHA256_H
#define BKCACHE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The chaining value, the bytes of an unfinished block and how many bytes
 * the stream has had. Needs no clearing: it holds nothing but itself. */
typedef struct bk__sha256 {
    uint32_t h[8];
    uint64_t total;
    unsigned char buf[64];
    size_t nbuf;
} bk__sha256;

void bk__sha256_start(bk__sha256 *s);
void bk__sha256_update(bk__sha256 *s, const void *data, size_t len);
/* The digest of everything fed since the start; `s` starts again, empty. */
void bk__sha256_finish(bk__sha256 *s, unsigned char md[32]);
/* The digest of one buffer. */
void bk__sha256_once(const void *data, size_t len, unsigned char md[32]);

#endif
