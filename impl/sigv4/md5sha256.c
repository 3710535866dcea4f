/* MD5 and SHA-256 of the same bytes (bkcache/checksum.h): the fused block
 * loop of base/blockhash.c with one shared 64-byte buffer, or two OpenSSL
 * contexts. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "blockhash.h"

struct bk_md5sha256 {
    int fused;    /* the SHA-extension loop, else the OpenSSL contexts */
    int finished; /* final has run */
    uint32_t md5[4];
    uint32_t sha[8];
    uint64_t total; /* bytes updated */
    unsigned char buf[64];
    size_t nbuf;
    EVP_MD_CTX *md5_ctx;
    EVP_MD_CTX *sha_ctx;
};

bk_md5sha256_impl bk_md5sha256_choose(void)
{
    return bk__blockhash_cpu_has_sha_ni() ? BK_MD5SHA256_FUSED : BK_MD5SHA256_OPENSSL;
}

bk_md5sha256 *bk_md5sha256_new(bk_md5sha256_impl impl, bk_err *err)
{
    bk_md5sha256 *h = calloc(1, sizeof *h);
    if (h == NULL) {
        bk_err_set(err, BK_ENOMEM, "md5+sha256: out of memory");
        return NULL;
    }
    h->fused =
        impl == BK_MD5SHA256_FUSED || (impl == BK_MD5SHA256_AUTO && bk__blockhash_cpu_has_sha_ni());
    if (h->fused) {
        memcpy(h->md5, bk__md5_iv, sizeof h->md5);
        memcpy(h->sha, bk__sha256_iv, sizeof h->sha);
        return h;
    }
    h->md5_ctx = EVP_MD_CTX_new();
    h->sha_ctx = EVP_MD_CTX_new();
    if (h->md5_ctx == NULL || h->sha_ctx == NULL ||
        EVP_DigestInit_ex(h->md5_ctx, EVP_md5(), NULL) != 1 ||
        EVP_DigestInit_ex(h->sha_ctx, EVP_sha256(), NULL) != 1) {
        bk_md5sha256_free(h);
        bk_err_set(err, BK_ENOMEM, "md5+sha256: OpenSSL could not start the digests");
        return NULL;
    }
    return h;
}

void bk_md5sha256_free(bk_md5sha256 *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->md5_ctx);
    EVP_MD_CTX_free(h->sha_ctx);
    free(h);
}

int bk_md5sha256_fused(const bk_md5sha256 *h)
{
    return h->fused;
}

void bk_md5sha256_update(bk_md5sha256 *h, const void *data, size_t len)
{
    if (len == 0 || h->finished)
        return;
    if (!h->fused) {
        EVP_DigestUpdate(h->md5_ctx, data, len);
        EVP_DigestUpdate(h->sha_ctx, data, len);
        return;
    }
    const unsigned char *p = data;
    h->total += len;
    if (h->nbuf > 0) {
        size_t take = 64 - h->nbuf < len ? 64 - h->nbuf : len;
        memcpy(h->buf + h->nbuf, p, take);
        h->nbuf += take;
        p += take;
        len -= take;
        if (h->nbuf < 64)
            return;
        bk__md5_sha256_ni_blocks(h->md5, h->sha, h->buf, 1);
        h->nbuf = 0;
    }
    if (len >= 64)
        bk__md5_sha256_ni_blocks(h->md5, h->sha, p, len / 64);
    memcpy(h->buf, p + (len - len % 64), len % 64);
    h->nbuf = len % 64;
}

bk_code bk_md5sha256_final(bk_md5sha256 *h, unsigned char md5[16], unsigned char sha256[32],
                           bk_err *err)
{
    if (h->finished) {
        memset(md5, 0, 16);
        memset(sha256, 0, 32);
        return bk_err_set(err, BK_EINVAL, "md5+sha256: final called twice");
    }
    h->finished = 1;
    if (h->fused) {
        bk__md5_finish(h->md5, h->buf, h->nbuf, h->total, md5);
        bk__sha256_ni_finish(h->sha, h->buf, h->nbuf, h->total, sha256);
        return BK_OK;
    }
    unsigned int n5 = 0;
    unsigned int n256 = 0;
    if (EVP_DigestFinal_ex(h->md5_ctx, md5, &n5) != 1 ||
        EVP_DigestFinal_ex(h->sha_ctx, sha256, &n256) != 1 || n5 != 16 || n256 != 32) {
        memset(md5, 0, 16);
        memset(sha256, 0, 32);
        return bk_err_set(err, BK_EINVAL, "md5+sha256: OpenSSL could not finish the digests");
    }
    return BK_OK;
}
