/* Two SHA-256 streams over the same bytes (sha256x2.h): one base/sha256.c
 * stream each, run together on base/blockhash.c's two-chain block function. */
#include "sha256x2.h"

#include <openssl/evp.h>
#include <string.h>

#include "blockhash.h"

/* Both lanes at the same offset of a block hold the same unfinished bytes
 * (the newest ones of the input), so every block they go on to run is the
 * same block. */
static void lanes_update(bk__sha256 *a, bk__sha256 *b, const unsigned char *data, size_t len)
{
    if (a->nbuf != b->nbuf) {
        bk__sha256_update(a, data, len);
        bk__sha256_update(b, data, len);
        return;
    }
    if (a->nbuf > 0) {
        size_t take = 64 - a->nbuf < len ? 64 - a->nbuf : len;
        memcpy(a->buf + a->nbuf, data, take);
        memcpy(b->buf + b->nbuf, data, take);
        a->nbuf += take;
        b->nbuf += take;
        a->total += take;
        b->total += take;
        data += take;
        len -= take;
        if (a->nbuf < 64)
            return;
        bk__sha256_ni_blocks2(a->h, b->h, a->buf, 1);
        a->nbuf = b->nbuf = 0;
    }
    size_t whole = len - len % 64;
    if (whole > 0)
        bk__sha256_ni_blocks2(a->h, b->h, data, whole / 64);
    a->total += whole;
    b->total += whole;
    len -= whole;
    memcpy(a->buf, data + whole, len);
    memcpy(b->buf, data + whole, len);
    a->nbuf = b->nbuf = len;
    a->total += len;
    b->total += len;
}

int bk__sha256x2_init(bk__sha256x2 *x, int streams, bk__sha256x2_impl impl)
{
    memset(x, 0, sizeof *x);
    x->streams = streams == 2 ? 2 : 1;
    x->sha_ni = x->streams == 2 && impl == BK__SHA256X2_AUTO && bk__blockhash_cpu_has_sha_ni();
    if (x->sha_ni) {
        bk__sha256_start(&x->lane[0]);
        bk__sha256_start(&x->lane[1]);
        return 0;
    }
    for (int i = 0; i < x->streams; i++) {
        x->ctx[i] = EVP_MD_CTX_new();
        if (x->ctx[i] == NULL || EVP_DigestInit_ex(x->ctx[i], EVP_sha256(), NULL) != 1) {
            bk__sha256x2_clear(x);
            return -1;
        }
    }
    return 0;
}

void bk__sha256x2_clear(bk__sha256x2 *x)
{
    EVP_MD_CTX_free(x->ctx[0]);
    EVP_MD_CTX_free(x->ctx[1]);
    memset(x, 0, sizeof *x);
}

void bk__sha256x2_update(bk__sha256x2 *x, const void *data, size_t len)
{
    if (len == 0)
        return;
    if (x->sha_ni) {
        lanes_update(&x->lane[0], &x->lane[1], data, len);
        return;
    }
    for (int i = 0; i < x->streams; i++)
        EVP_DigestUpdate(x->ctx[i], data, len);
}

int bk__sha256x2_final(bk__sha256x2 *x, int which, unsigned char md[32])
{
    if (which < 0 || which >= x->streams) {
        memset(md, 0, 32);
        return -1;
    }
    if (x->sha_ni) {
        bk__sha256_finish(&x->lane[which], md);
        return 0;
    }
    unsigned int len = 0;
    EVP_MD_CTX *ctx = x->ctx[which];
    if (ctx == NULL || EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32 ||
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        memset(md, 0, 32);
        return -1;
    }
    return 0;
}
