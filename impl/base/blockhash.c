/* Block functions of MD5 and SHA-256 (blockhash.h). The SHA-extension code
 * follows FIPS 180-4 with Intel's SHA instructions: SHA256RNDS2 does two
 * rounds on the state held as (A,B,E,F) and (C,D,G,H), SHA256MSG1/MSG2
 * extend the message schedule four words at a time. MD5 is RFC 1321 3.4. */
#include "blockhash.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BLOCKHASH_NI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define BLOCKHASH_NI 0
#endif

const uint32_t bk__sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
const uint32_t bk__md5_iv[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

/* RFC 1321: T[i] = floor(2^32 * |sin(i + 1)|), and the rotation of each step
 * (four per round, repeated). */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
static const unsigned md5_rot[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

/* The block's sixteen little-endian words. */
static inline void md5_load(uint32_t m[16], const unsigned char *p)
{
    memcpy(m, p, 64);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (int i = 0; i < 16; i++)
        m[i] = __builtin_bswap32(m[i]);
#endif
}

/* Step i (0..63) of MD5 on the state (a,b,c,d), which becomes
 * (d, b + rotated sum, b, c): one new word per step. Only b comes from the
 * step before, so everything that does not need it (a, the constant, the
 * message word, the terms of c and d alone) is summed apart and b's chain is
 * as short as the round function allows. With a constant i (the callers
 * unroll) the round function, word index and rotation fold away. */
static inline __attribute__((always_inline)) void md5_step(uint32_t s[4], const uint32_t m[16],
                                                           int i)
{
    uint32_t a = s[0];
    uint32_t b = s[1];
    uint32_t c = s[2];
    uint32_t d = s[3];
    uint32_t t;
    if (i < 16) /* F = (b & c) | (~b & d) */
        t = (d ^ (b & (c ^ d))) + (a + md5_t[i] + m[i]);
    else if (i < 32) /* G = (b & d) | (c & ~d), two disjoint terms: | is + */
        t = (b & d) + ((c & ~d) + a + md5_t[i] + m[(5 * i + 1) & 15]);
    else if (i < 48) /* H */
        t = (b ^ (c ^ d)) + (a + md5_t[i] + m[(3 * i + 5) & 15]);
    else /* I */
        t = (c ^ (b | ~d)) + (a + md5_t[i] + m[(7 * i) & 15]);
    unsigned r = md5_rot[((i >> 4) << 2) | (i & 3)];
    s[0] = d;
    s[3] = c;
    s[2] = b;
    s[1] = b + ((t << r) | (t >> (32 - r)));
}

/* The padded last one or two blocks into out: their length. */
static size_t pad(unsigned char out[128], const unsigned char *tail, size_t ntail, uint64_t total,
                  int big_endian)
{
    size_t n = ntail < 56 ? 64 : 128;
    uint64_t bits = total * 8;
    memset(out, 0, 128);
    memcpy(out, tail, ntail);
    out[ntail] = 0x80;
    for (size_t i = 0; i < 8; i++)
        out[n - 8 + i] = (unsigned char)(bits >> (big_endian ? 56 - 8 * i : 8 * i));
    return n;
}

void bk__md5_finish(uint32_t s[4], const unsigned char *tail, size_t ntail, uint64_t total,
                    unsigned char md[16])
{
    unsigned char last[128];
    bk__md5_blocks(s, last, pad(last, tail, ntail, total, 0) / 64);
    for (size_t i = 0; i < 16; i++)
        md[i] = (unsigned char)(s[i / 4] >> (8 * (i % 4)));
}

void bk__sha256_ni_finish(uint32_t h[8], const unsigned char *tail, size_t ntail, uint64_t total,
                          unsigned char md[32])
{
    unsigned char last[128];
    bk__sha256_ni_blocks(h, last, pad(last, tail, ntail, total, 1) / 64);
    for (size_t i = 0; i < 32; i++)
        md[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

void bk__md5_blocks(uint32_t s[4], const unsigned char *p, size_t nb)
{
    uint32_t v[4] = {s[0], s[1], s[2], s[3]};
    for (; nb > 0; nb--, p += 64) {
        uint32_t m[16];
        md5_load(m, p);
        uint32_t v0[4] = {v[0], v[1], v[2], v[3]};
#pragma GCC unroll 64
        for (int i = 0; i < 64; i++)
            md5_step(v, m, i);
        for (int i = 0; i < 4; i++)
            v[i] += v0[i];
    }
    memcpy(s, v, sizeof v);
}

#if BLOCKHASH_NI

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

/* `nb` blocks at `p` into `n` (1 or 2) SHA-256 chaining values and, when
 * `md5` is not NULL, into that MD5 chaining value. The schedule is computed
 * once per block; each group of four words drives four rounds of every
 * SHA-256 state and four MD5 steps, so the independent chains overlap in the
 * out-of-order core. Inlined with constant arguments, so the loops unroll
 * and the MD5 branch folds away. */
static inline __attribute__((always_inline)) NI_TARGET void
ni_blocks(uint32_t *const h[2], int n, uint32_t *md5, const unsigned char *p, size_t nb)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef[2];
    __m128i cdgh[2];
    uint32_t v[4] = {0, 0, 0, 0};
    for (int j = 0; j < n; j++)
        to_ni(h[j], &abef[j], &cdgh[j]);
    if (md5 != NULL)
        memcpy(v, md5, sizeof v);
    for (; nb > 0; nb--, p += 64) {
        __m128i w[4];
        __m128i abef0[2];
        __m128i cdgh0[2];
        uint32_t m[16];
        uint32_t v0[4] = {v[0], v[1], v[2], v[3]};
        if (md5 != NULL)
            md5_load(m, p);
        for (int j = 0; j < n; j++) {
            abef0[j] = abef[j];
            cdgh0[j] = cdgh[j];
        }
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            if (md5 != NULL) {
                md5_step(v, m, 4 * g);
                md5_step(v, m, 4 * g + 1);
                md5_step(v, m, 4 * g + 2);
                md5_step(v, m, 4 * g + 3);
            }
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
        for (int i = 0; i < 4; i++)
            v[i] += v0[i];
    }
    for (int j = 0; j < n; j++)
        from_ni(abef[j], cdgh[j], h[j]);
    if (md5 != NULL)
        memcpy(md5, v, sizeof v);
}

NI_TARGET void bk__sha256_ni_blocks(uint32_t h[8], const unsigned char *p, size_t nb)
{
    uint32_t *const hs[2] = {h, h};
    ni_blocks(hs, 1, NULL, p, nb);
}

NI_TARGET void bk__sha256_ni_blocks2(uint32_t a[8], uint32_t b[8], const unsigned char *p,
                                     size_t nb)
{
    uint32_t *const hs[2] = {a, b};
    ni_blocks(hs, 2, NULL, p, nb);
}

NI_TARGET void bk__md5_sha256_ni_blocks(uint32_t md5[4], uint32_t sha[8], const unsigned char *p,
                                        size_t nb)
{
    uint32_t *const hs[2] = {sha, sha};
    ni_blocks(hs, 1, md5, p, nb);
}

/* CPUID leaf 7 EBX bit 29: the SHA extensions; leaf 1 ECX bit 19: SSE4.1
 * (with SSSE3, bit 9, for the byte shuffle). Read directly rather than via
 * __builtin_cpu_supports, whose "sha" not every compiler knows. */
int bk__blockhash_cpu_has_sha_ni(void)
{
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1U << 19)) || !(c & (1U << 9)))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & (1U << 29)) != 0;
}

#else

void bk__sha256_ni_blocks(uint32_t h[8], const unsigned char *p, size_t nb)
{
    (void)h, (void)p, (void)nb;
}

void bk__sha256_ni_blocks2(uint32_t a[8], uint32_t b[8], const unsigned char *p, size_t nb)
{
    (void)a, (void)b, (void)p, (void)nb;
}

void bk__md5_sha256_ni_blocks(uint32_t md5[4], uint32_t sha[8], const unsigned char *p, size_t nb)
{
    (void)md5, (void)sha, (void)p, (void)nb;
}

int bk__blockhash_cpu_has_sha_ni(void)
{
    return 0;
}

#endif
