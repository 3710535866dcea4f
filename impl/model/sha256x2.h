/* Two SHA-256 streams over the same bytes: the verification pass of a
 * multipart upload needs the blob's digest and each part's payload hash, and
 * the part stream is the blob stream finished and restarted at every part
 * boundary. On a CPU with the SHA extensions both streams share each block's
 * message schedule and interleave their rounds, which costs little more than
 * one stream (the round instruction's latency, not its throughput, bounds a
 * single stream); elsewhere, and whenever the two streams sit at different
 * offsets of a 64-byte block, they are computed one after the other. A
 * one-stream hasher is plain OpenSSL. Private to the model layer. */
#ifndef BKCACHE_SHA256X2_H
#define BKCACHE_SHA256X2_H

#include <stddef.h>

#include "sha256.h"

/* Which code computes two streams: the SHA extensions where the CPU has
 * them, or two OpenSSL contexts (what tests force to cover the fallback on
 * any CPU). */
typedef enum bk__sha256x2_impl {
    BK__SHA256X2_AUTO,
    BK__SHA256X2_OPENSSL,
} bk__sha256x2_impl;

typedef struct bk__sha256x2 {
    int streams; /* 1 or 2 */
    int sha_ni;  /* both streams in `lane`, else in `ctx` */
    bk__sha256 lane[2];
    void *ctx[2]; /* EVP_MD_CTX */
} bk__sha256x2;

/* Starts `streams` (1 or 2) SHA-256 streams. -1 when OpenSSL cannot start a
 * context (out of memory); `x` is cleared then. */
int bk__sha256x2_init(bk__sha256x2 *x, int streams, bk__sha256x2_impl impl);
void bk__sha256x2_clear(bk__sha256x2 *x);

/* Feeds the same bytes to every stream. */
void bk__sha256x2_update(bk__sha256x2 *x, const void *data, size_t len);

/* Finishes stream `which` (0 or 1) into `md` and starts it again, empty.
 * -1 when there is no such stream or OpenSSL fails (md is then zeroed). */
int bk__sha256x2_final(bk__sha256x2 *x, int which, unsigned char md[32]);

#endif
