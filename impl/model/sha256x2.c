/* Two SHA-256 streams over the same bytes (sha256x2.h), on the block
 * functions of base/blockhash.c. */
#include "sha256x2.h"

#include <openssl/evp.h>
#include <string.h>

#include "blockhash.h"

static void lane_start(bk__sha256_lane *l)
{
    memcpy(l->h, bk__sha256_iv, sizeof l->h);
    l->total = 0;
    l->nbuf = 0;
}

/* Fills the lane's unfinished block from `*data`; runs it when full. */
static void lane_fill(bk__sha256_lane *l, const unsigned char **data, size_t *len)
{
    size_t take = 64 - l->nbuf < *len ? 64 - l->nbuf : *len;
    memcpy(l->buf + l->nbuf, *data, take);
    l->nbuf += take;
    l->total += take;
    *data += take;
    *len -= take;
    if (l->nbuf == 64) {
        bk__sha256_ni_blocks(l->h, l->buf, 1);
        l->nbuf = 0;
    }
}

static void lane_update(bk__sha256_lane *l, const unsigned char *data, size_t len)
{
    if (l->nbuf > 0)
        lane_fill(l, &data, &len);
    if (len >= 64) {
        bk__sha256_ni_blocks(l->h, data, len / 64);
        l->total += len - len % 64;
        data += len - len % 64;
        len %= 64;
    }
    if (len > 0)
        lane_fill(l, &data, &len);
}

/* Both lanes at the same offset of a block hold the same unfinished bytes
 * (the newest ones of the input), so every block they go on to run is the
 * same block. */
static void lanes_update(bk__sha256_lane *a, bk__sha256_lane *b, const unsigned char *data,
                         size_t len)
{
    if (a->nbuf != b->nbuf) {
        lane_update(a, data, len);
        lane_update(b, data, len);
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

static void lane_final(bk__sha256_lane *l, unsigned char md[32])
{
    bk__sha256_ni_finish(l->h, l->buf, l->nbuf, l->total, md);
    lane_start(l);
}

int bk__sha256x2_init(bk__sha256x2 *x, int streams, bk__sha256x2_impl impl)
{
    memset(x, 0, sizeof *x);
    x->streams = streams == 2 ? 2 : 1;
    x->sha_ni = x->streams == 2 && impl == BK__SHA256X2_AUTO && bk__blockhash_cpu_has_sha_ni();
    if (x->sha_ni) {
        lane_start(&x->lane[0]);
        lane_start(&x->lane[1]);
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
        lane_final(&x->lane[which], md);
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
