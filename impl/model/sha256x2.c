/* Two SHA-256 streams over the same bytes (sha256x2.h). The SHA-extension
 * code follows FIPS 180-4 with Intel's SHA instructions: SHA256RNDS2 does two
 * rounds on the state held as (A,B,E,F) and (C,D,G,H), SHA256MSG1/MSG2
 * extend the message schedule four words at a time. */
#include "sha256x2.h"

#include <openssl/evp.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256X2_NI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define SHA256X2_NI 0
#endif

static const uint32_t sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#if SHA256X2_NI

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define NI_TARGET __attribute__((target("sha,sse4.1")))

/* The words a..h as the (ABEF, CDGH) pair SHA256RNDS2 takes: the first
 * letter in the highest 32 bits. */
static inline NI_TARGET void to_ni(const uint32_t h[8], __m128i *abef, __m128i *cdgh)
{
    __m128i badc = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xB1);
    __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1B);
    *abef = _mm_alignr_epi8(badc, hgfe, 8);
    *cdgh = _mm_blend_epi16(hgfe, badc, 0xF0);
}

static inline NI_TARGET void from_ni(__m128i abef, __m128i cdgh, uint32_t h[8])
{
    __m128i abef_r = _mm_shuffle_epi32(abef, 0x1B);
    __m128i ghcd = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(abef_r, ghcd, 0xF0));
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(ghcd, abef_r, 8));
}

/* `nb` blocks at `p` into `n` (1 or 2) chaining values: the schedule is
 * computed once per block and each group of four words drives the rounds of
 * every state, so two states' round chains run side by side. Inlined with a
 * constant `n`, so the loops over the states unroll. */
static inline __attribute__((always_inline)) NI_TARGET void
ni_blocks(uint32_t *const h[2], int n, const unsigned char *p, size_t nb)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef[2];
    __m128i cdgh[2];
    for (int j = 0; j < n; j++)
        to_ni(h[j], &abef[j], &cdgh[j]);
    for (; nb > 0; nb--, p += 64) {
        __m128i w[4];
        __m128i abef0[2];
        __m128i cdgh0[2];
        for (int j = 0; j < n; j++) {
            abef0[j] = abef[j];
            cdgh0[j] = cdgh[j];
        }
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            if (g < 4) {
                w[g] =
                    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + (size_t)16 * g)), bswap);
            } else {
                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
                __m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(
                w[g & 3], _mm_loadu_si128((const __m128i *)(sha256_k + (size_t)4 * g)));
            __m128i wk_hi = _mm_shuffle_epi32(wk, 0x0E);
            for (int j = 0; j < n; j++)
                cdgh[j] = _mm_sha256rnds2_epu32(cdgh[j], abef[j], wk);
            for (int j = 0; j < n; j++)
                abef[j] = _mm_sha256rnds2_epu32(abef[j], cdgh[j], wk_hi);
        }
        for (int j = 0; j < n; j++) {
            abef[j] = _mm_add_epi32(abef[j], abef0[j]);
            cdgh[j] = _mm_add_epi32(cdgh[j], cdgh0[j]);
        }
    }
    for (int j = 0; j < n; j++)
        from_ni(abef[j], cdgh[j], h[j]);
}

static NI_TARGET void ni_blocks1(uint32_t h[8], const unsigned char *p, size_t nb)
{
    uint32_t *const hs[2] = {h, h};
    ni_blocks(hs, 1, p, nb);
}

static NI_TARGET void ni_blocks2(uint32_t a[8], uint32_t b[8], const unsigned char *p, size_t nb)
{
    uint32_t *const hs[2] = {a, b};
    ni_blocks(hs, 2, p, nb);
}

/* CPUID leaf 7 EBX bit 29: the SHA extensions; leaf 1 ECX bit 19: SSE4.1
 * (with SSSE3, bit 9, for the byte shuffle). Read directly rather than via
 * __builtin_cpu_supports, whose "sha" not every compiler knows. */
int bk__sha256x2_cpu_has_sha_ni(void)
{
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1U << 19)) || !(c & (1U << 9)))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & (1U << 29)) != 0;
}

#else

static void ni_blocks1(uint32_t h[8], const unsigned char *p, size_t nb)
{
    (void)h, (void)p, (void)nb;
}

static void ni_blocks2(uint32_t a[8], uint32_t b[8], const unsigned char *p, size_t nb)
{
    (void)a, (void)b, (void)p, (void)nb;
}

int bk__sha256x2_cpu_has_sha_ni(void)
{
    return 0;
}

#endif

static void lane_start(bk__sha256_lane *l)
{
    memcpy(l->h, sha256_iv, sizeof l->h);
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
        ni_blocks1(l->h, l->buf, 1);
        l->nbuf = 0;
    }
}

static void lane_update(bk__sha256_lane *l, const unsigned char *data, size_t len)
{
    if (l->nbuf > 0)
        lane_fill(l, &data, &len);
    if (len >= 64) {
        ni_blocks1(l->h, data, len / 64);
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
        ni_blocks2(a->h, b->h, a->buf, 1);
        a->nbuf = b->nbuf = 0;
    }
    size_t whole = len - len % 64;
    if (whole > 0)
        ni_blocks2(a->h, b->h, data, whole / 64);
    a->total += whole;
    b->total += whole;
    len -= whole;
    memcpy(a->buf, data + whole, len);
    memcpy(b->buf, data + whole, len);
    a->nbuf = b->nbuf = len;
    a->total += len;
    b->total += len;
}

/* FIPS 180-4 5.1.1: a one bit, zeros to 56 mod 64, the length in bits. */
static void lane_final(bk__sha256_lane *l, unsigned char md[32])
{
    uint64_t bits = l->total * 8;
    l->buf[l->nbuf++] = 0x80;
    if (l->nbuf > 56) {
        memset(l->buf + l->nbuf, 0, 64 - l->nbuf);
        ni_blocks1(l->h, l->buf, 1);
        l->nbuf = 0;
    }
    memset(l->buf + l->nbuf, 0, 56 - l->nbuf);
    for (int i = 0; i < 8; i++)
        l->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    ni_blocks1(l->h, l->buf, 1);
    for (size_t i = 0; i < 8; i++) {
        md[4 * i] = (unsigned char)(l->h[i] >> 24);
        md[4 * i + 1] = (unsigned char)(l->h[i] >> 16);
        md[4 * i + 2] = (unsigned char)(l->h[i] >> 8);
        md[4 * i + 3] = (unsigned char)l->h[i];
    }
    lane_start(l);
}

int bk__sha256x2_init(bk__sha256x2 *x, int streams, bk__sha256x2_impl impl)
{
    memset(x, 0, sizeof *x);
    x->streams = streams == 2 ? 2 : 1;
    x->sha_ni = x->streams == 2 && impl == BK__SHA256X2_AUTO && bk__sha256x2_cpu_has_sha_ni();
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
