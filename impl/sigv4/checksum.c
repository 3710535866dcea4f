#include "bkcache/checksum.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

/* Reflected (LSB-first) polynomials; the catalogue writes them MSB-first as
 * 0x04C11DB7, 0x1EDC6F41 and 0xAD93D23594C93659. */
#define CRC32_POLY 0xEDB88320u
#define CRC32C_POLY 0x82F63B78u
#define CRC64NVME_POLY 0x9A6C9329AC4BC9B5ull

struct bk_checksum {
    bk_checksum_alg alg;
    int finished;
    uint32_t crc32;
    uint64_t crc64;
    EVP_MD_CTX *md;
    /* Slicing-by-8 tables: [0] is the classic byte table, [k] advances a byte
     * through k further zero bytes. Only the one the algorithm needs is filled. */
    union {
        uint32_t t32[8][256];
        uint64_t t64[8][256];
    } tables;
};

struct alg_info {
    bk_checksum_alg alg;
    const char *name;
    const char *lower;
    const char *header;
    size_t digest_len;
};

static const struct alg_info algs[] = {
    {BK_CHECKSUM_CRC32, "CRC32", "crc32", "x-amz-checksum-crc32", 4},
    {BK_CHECKSUM_CRC32C, "CRC32C", "crc32c", "x-amz-checksum-crc32c", 4},
    {BK_CHECKSUM_CRC64NVME, "CRC64NVME", "crc64nvme", "x-amz-checksum-crc64nvme", 8},
    {BK_CHECKSUM_SHA1, "SHA1", "sha1", "x-amz-checksum-sha1", 20},
    {BK_CHECKSUM_SHA256, "SHA256", "sha256", "x-amz-checksum-sha256", 32},
};

static const struct alg_info *find_alg(bk_checksum_alg alg)
{
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (algs[i].alg == alg)
            return &algs[i];
    return NULL;
}

size_t bk_checksum_digest_len(bk_checksum_alg alg)
{
    if (alg == BK_CHECKSUM_MD5)
        return 16;
    const struct alg_info *a = find_alg(alg);
    return a ? a->digest_len : 0;
}

const char *bk_checksum_alg_name(bk_checksum_alg alg)
{
    const struct alg_info *a = find_alg(alg);
    return a ? a->name : NULL;
}

const char *bk_checksum_alg_lower(bk_checksum_alg alg)
{
    const struct alg_info *a = find_alg(alg);
    return a ? a->lower : NULL;
}

const char *bk_checksum_header_name(bk_checksum_alg alg)
{
    const struct alg_info *a = find_alg(alg);
    return a ? a->header : NULL;
}

int bk_checksum_alg_from_name(const char *name, bk_checksum_alg *out)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        if (strcasecmp(name, algs[i].name) == 0) {
            if (out)
                *out = algs[i].alg;
            return 1;
        }
    }
    return 0;
}

int bk_checksum_alg_from_header(const char *header_name, bk_checksum_alg *out)
{
    if (header_name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        if (strcasecmp(header_name, algs[i].header) == 0) {
            if (out)
                *out = algs[i].alg;
            return 1;
        }
    }
    return 0;
}

/* ---- CRC tables and slicing-by-8 ---- */

static void build_tables32(uint32_t t[8][256], uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        t[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
}

static void build_tables64(uint64_t t[8][256], uint64_t poly)
{
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        t[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
}

/* Byte order of the host does not matter: words are assembled explicitly. */
static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc32_update(const uint32_t t[8][256], uint32_t crc, const unsigned char *p,
                             size_t len)
{
    while (len >= 8) {
        uint32_t lo = crc ^ load_le32(p);
        uint32_t hi = load_le32(p + 4);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

static uint64_t crc64_update(const uint64_t t[8][256], uint64_t crc, const unsigned char *p,
                             size_t len)
{
    while (len >= 8) {
        uint64_t v = crc ^ ((uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32);
        crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
              t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
              t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---- contexts ---- */

static const EVP_MD *evp_for(bk_checksum_alg alg)
{
    switch (alg) {
    case BK_CHECKSUM_SHA1:
        return EVP_sha1();
    case BK_CHECKSUM_SHA256:
        return EVP_sha256();
    case BK_CHECKSUM_MD5:
        return EVP_md5();
    default:
        return NULL;
    }
}

bk_code bk_checksum_reset(bk_checksum *c, bk_err *err)
{
    c->finished = 0;
    c->crc32 = 0xFFFFFFFFu;
    c->crc64 = ~(uint64_t)0;
    if (c->md != NULL && EVP_DigestInit_ex(c->md, evp_for(c->alg), NULL) != 1)
        return bk_err_set(err, BK_ENOMEM, "checksum: OpenSSL could not start a digest");
    return BK_OK;
}

bk_checksum *bk_checksum_new(bk_checksum_alg alg, bk_err *err)
{
    if (bk_checksum_digest_len(alg) == 0) {
        bk_err_set(err, BK_EINVAL, "checksum: unknown algorithm %d", (int)alg);
        return NULL;
    }
    bk_checksum *c = calloc(1, sizeof *c);
    if (c == NULL) {
        bk_err_set(err, BK_ENOMEM, "checksum: out of memory");
        return NULL;
    }
    c->alg = alg;
    switch (alg) {
    case BK_CHECKSUM_CRC32:
        build_tables32(c->tables.t32, CRC32_POLY);
        break;
    case BK_CHECKSUM_CRC32C:
        build_tables32(c->tables.t32, CRC32C_POLY);
        break;
    case BK_CHECKSUM_CRC64NVME:
        build_tables64(c->tables.t64, CRC64NVME_POLY);
        break;
    default:
        c->md = EVP_MD_CTX_new();
        if (c->md == NULL) {
            free(c);
            bk_err_set(err, BK_ENOMEM, "checksum: OpenSSL could not allocate a digest");
            return NULL;
        }
        break;
    }
    if (bk_checksum_reset(c, err) != BK_OK) {
        bk_checksum_free(c);
        return NULL;
    }
    return c;
}

void bk_checksum_free(bk_checksum *c)
{
    if (c == NULL)
        return;
    EVP_MD_CTX_free(c->md);
    free(c);
}

bk_checksum_alg bk_checksum_algorithm(const bk_checksum *c)
{
    return c->alg;
}

void bk_checksum_update(bk_checksum *c, const void *data, size_t len)
{
    if (len == 0)
        return;
    switch (c->alg) {
    case BK_CHECKSUM_CRC32:
    case BK_CHECKSUM_CRC32C:
        c->crc32 = crc32_update(c->tables.t32, c->crc32, data, len);
        break;
    case BK_CHECKSUM_CRC64NVME:
        c->crc64 = crc64_update(c->tables.t64, c->crc64, data, len);
        break;
    default:
        /* EVP_DigestUpdate only fails on a finished or broken context; final
         * reports that, so there is nothing useful to do here. */
        (void)EVP_DigestUpdate(c->md, data, len);
        break;
    }
}

static void fill_text(bk_checksum_digest *out)
{
    static const char hexdigits[] = "0123456789abcdef";
    for (size_t i = 0; i < out->len; i++) {
        out->hex[2 * i] = hexdigits[out->raw[i] >> 4];
        out->hex[2 * i + 1] = hexdigits[out->raw[i] & 15];
    }
    out->hex[2 * out->len] = '\0';
    bk_checksum_base64_encode(out->raw, out->len, out->base64, sizeof out->base64);
}

bk_code bk_checksum_final(bk_checksum *c, bk_checksum_digest *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (c->finished)
        return bk_err_set(err, BK_EINVAL, "checksum: final called twice without a reset");
    c->finished = 1;
    out->alg = c->alg;
    out->len = bk_checksum_digest_len(c->alg);
    if (c->alg == BK_CHECKSUM_CRC32 || c->alg == BK_CHECKSUM_CRC32C) {
        uint32_t v = c->crc32 ^ 0xFFFFFFFFu;
        for (int i = 0; i < 4; i++)
            out->raw[i] = (unsigned char)(v >> (24 - 8 * i));
    } else if (c->alg == BK_CHECKSUM_CRC64NVME) {
        uint64_t v = ~c->crc64;
        for (int i = 0; i < 8; i++)
            out->raw[i] = (unsigned char)(v >> (56 - 8 * i));
    } else {
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(c->md, out->raw, &n) != 1 || n != out->len)
            return bk_err_set(err, BK_EIO, "checksum: OpenSSL could not finish the digest");
    }
    fill_text(out);
    return BK_OK;
}

bk_code bk_checksum_compute(bk_checksum_alg alg, const void *data, size_t len,
                            bk_checksum_digest *out, bk_err *err)
{
    bk_err cerr;
    bk_err_clear(&cerr);
    bk_checksum *c = bk_checksum_new(alg, &cerr);
    if (c == NULL)
        return bk_err_set(err, cerr.code, "%s", cerr.msg);
    bk_checksum_update(c, data, len);
    bk_code rc = bk_checksum_final(c, out, err);
    bk_checksum_free(c);
    return rc;
}

/* ---- base64 ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t bk_checksum_base64_encode(const unsigned char *data, size_t n, char *out, size_t out_size)
{
    size_t need = (n + 2) / 3 * 4;
    if (out_size == 0)
        return 0;
    if (need + 1 > out_size) {
        out[0] = '\0';
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n)
            v |= data[i + 2];
        out[o++] = b64chars[(v >> 18) & 63];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = (char)(i + 1 < n ? b64chars[(v >> 6) & 63] : '=');
        out[o++] = (char)(i + 2 < n ? b64chars[v & 63] : '=');
    }
    out[o] = '\0';
    return o;
}

static int b64value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

long bk_checksum_base64_decode(const char *text, size_t len, unsigned char *out, size_t out_size)
{
    if (len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last_group = i + 4 == len;
        int pad = 0;
        if (last_group && text[i + 3] == '=')
            pad = text[i + 2] == '=' ? 2 : 1;
        uint32_t v = 0;
        for (int k = 0; k < 4 - pad; k++) {
            int d = b64value(text[i + k]);
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        v <<= 6 * pad;
        /* Non-canonical encodings (bits set under the padding) are rejected so
         * that a value has exactly one accepted spelling. */
        if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
            return -1;
        size_t bytes = 3 - (size_t)pad;
        if (o + bytes > out_size)
            return -1;
        for (size_t k = 0; k < bytes; k++)
            out[o++] = (unsigned char)(v >> (16 - 8 * k));
    }
    return (long)o;
}

int bk_checksum_value_valid(bk_checksum_alg alg, const char *value, size_t len)
{
    size_t want = bk_checksum_digest_len(alg);
    unsigned char raw[BK_CHECKSUM_MAX_DIGEST];
    if (want == 0 || value == NULL || len != (want + 2) / 3 * 4)
        return 0;
    return bk_checksum_base64_decode(value, len, raw, sizeof raw) == (long)want;
}
