/* SigV4 crypto, signing and verification. Canonical forms are in
 * sigv4_canon.c, header/query parsing in sigv4_parse.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bkcache/sigv4.h"
#include "blockhash.h"
#include "sha256.h"

void bk_sigv4_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Which code hashes: the SHA extensions without OpenSSL (base/sha256.c), for
 * a signer that found them when it was made; or OpenSSL, for everything
 * else (a free function has nowhere to keep the answer of a CPUID, which a
 * virtual machine may take microseconds to give). */
typedef enum hasher { BY_OPENSSL, BY_SHA_NI } hasher;

/* The SHA-256 of a followed by b (bn may be 0): what a digest, HMAC's two
 * digests and a long secret's pre-hash all are. */
static void sha256_of(hasher by, const void *a, size_t an, const void *b, size_t bn,
                      unsigned char out[32])
{
    if (by == BY_SHA_NI) {
        bk__sha256 s;
        bk__sha256_start(&s);
        bk__sha256_update(&s, a, an);
        bk__sha256_update(&s, b, bn);
        bk__sha256_finish(&s, out);
        OPENSSL_cleanse(&s, sizeof s); /* it may have held key bytes */
        return;
    }
    unsigned int n = 32;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, an) != 1 || EVP_DigestUpdate(ctx, b, bn) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1)
        memset(out, 0, 32); /* out of memory or an OpenSSL failure: never matches */
    EVP_MD_CTX_free(ctx);
}

void bk_sigv4_sha256_hex(const void *data, size_t len, char out_hex[65])
{
    unsigned char md[32];
    sha256_of(BY_OPENSSL, data, len, NULL, 0, md);
    bk_sigv4_hex(md, 32, out_hex);
}

/* The two digests of an HMAC whose key is in `pad` as the inner pad (which
 * becomes the outer one), on one OpenSSL context: no second context and no
 * second lookup of the digest (a server verifies one HMAC per request).
 * OpenSSL's HMAC() goes through EVP_Q_mac, which looks the MAC and the
 * digest up by name and allocates a MAC context on every call: about twice
 * the CPU of the four compressions for a string to sign. */
static void hmac_openssl(unsigned char pad[64], const void *data, size_t len, unsigned char out[32])
{
    unsigned char inner[32];
    unsigned int n = 32;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL;
    if (ok) {
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, pad, 64) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
             EVP_DigestFinal_ex(ctx, inner, &n) == 1;
    }
    if (ok) {
        for (size_t i = 0; i < 64; i++)
            pad[i] ^= 0x36 ^ 0x5c; /* the inner pad becomes the outer one */
        /* NULL: the digest the context already has (no second lookup). */
        ok = EVP_DigestInit_ex(ctx, NULL, NULL) == 1 && EVP_DigestUpdate(ctx, pad, 64) == 1 &&
             EVP_DigestUpdate(ctx, inner, sizeof inner) == 1 &&
             EVP_DigestFinal_ex(ctx, out, &n) == 1;
    }
    if (!ok)
        memset(out, 0, 32); /* out of memory or an OpenSSL failure: never matches */
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(inner, sizeof inner);
}

/* HMAC-SHA256 (RFC 2104) with keys of at most one block, which is all SigV4
 * uses (signing_key below hashes a longer one first). */
static void hmac(hasher by, const void *key, size_t key_len, const void *data, size_t len,
                 unsigned char out[32])
{
    unsigned char pad[64];
    if (key_len > sizeof pad) {
        memset(out, 0, 32); /* not a SigV4 key: never matches */
        return;
    }
    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < key_len; i++)
        pad[i] ^= ((const unsigned char *)key)[i];
    if (by == BY_SHA_NI) {
        unsigned char inner[32];
        sha256_of(by, pad, sizeof pad, data, len, inner);
        for (size_t i = 0; i < sizeof pad; i++)
            pad[i] ^= 0x36 ^ 0x5c; /* the inner pad becomes the outer one */
        sha256_of(by, pad, sizeof pad, inner, sizeof inner, out);
        OPENSSL_cleanse(inner, sizeof inner);
    } else {
        hmac_openssl(pad, data, len, out);
    }
    OPENSSL_cleanse(pad, sizeof pad);
}

static void hmac_hex(hasher by, const unsigned char key[32], const void *data, size_t len,
                     char out_hex[65])
{
    unsigned char mac[32];
    hmac(by, key, 32, data, len, mac);
    bk_sigv4_hex(mac, 32, out_hex);
}

void bk_sigv4_hmac_hex(const unsigned char key[32], const void *data, size_t len, char out_hex[65])
{
    hmac_hex(BY_OPENSSL, key, data, len, out_hex);
}

static void signing_key(hasher by, const char *secret_access_key, const char *date8,
                        const char *region, const char *service, unsigned char key[32])
{
    /* HMAC hashes any key longer than the SHA-256 block (64 bytes) first, so a
     * long "AWS4"+secret is fed to the digest in pieces instead of copied. */
    unsigned char first[68];
    size_t secret_len = strlen(secret_access_key);
    size_t first_len;
    if (secret_len + 4 <= 64) {
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): key bytes, not a string */
        memcpy(first, "AWS4", 4);
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): key bytes, not a string */
        memcpy(first + 4, secret_access_key, secret_len);
        first_len = secret_len + 4;
    } else {
        sha256_of(by, "AWS4", 4, secret_access_key, secret_len, first);
        first_len = 32;
    }
    unsigned char k1[32], k2[32];
    hmac(by, first, first_len, date8, strlen(date8), k1);
    hmac(by, k1, 32, region, strlen(region), k2);
    hmac(by, k2, 32, service, strlen(service), k1);
    hmac(by, k1, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(first, sizeof first);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
}

void bk_sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                          const char *service, unsigned char key[32])
{
    signing_key(BY_OPENSSL, secret_access_key, date8, region, service, key);
}

/* The lines joined by '\n', the form of every string to sign. */
static void join_lines(bk_buf *out, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            bk_buf_putc(out, '\n');
        bk_buf_puts(out, lines[i]);
    }
}

static void sign_lines(const unsigned char key[32], const char *const *lines, size_t n,
                       char out_hex[65])
{
    bk_buf sts = BK_BUF_INIT;
    join_lines(&sts, lines, n);
    if (sts.failed)
        memset(out_hex, '0', 64), out_hex[64] = '\0'; /* out of memory: matches nothing real */
    else
        bk_sigv4_hmac_hex(key, sts.data, sts.len, out_hex);
    bk_buf_clear(&sts);
}

void bk_sigv4_chunk_signature(const unsigned char key[32], const char *amz_date, const char *scope,
                              const char *prev_signature_hex, const unsigned char chunk_sha256[32],
                              char out_hex[65])
{
    char chunk_hex[65];
    bk_sigv4_hex(chunk_sha256, 32, chunk_hex);
    const char *lines[] = {"AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev_signature_hex,
                           BK_SIGV4_EMPTY_SHA256,      chunk_hex};
    sign_lines(key, lines, 6, out_hex);
}

void bk_sigv4_trailer_signature(const unsigned char key[32], const char *amz_date,
                                const char *scope, const char *prev_signature_hex,
                                const char *trailer_text, size_t trailer_len, char out_hex[65])
{
    char trailer_hex[65];
    bk_sigv4_sha256_hex(trailer_text, trailer_len, trailer_hex);
    const char *lines[] = {"AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev_signature_hex,
                           trailer_hex};
    sign_lines(key, lines, 5, out_hex);
}

int bk_sigv4_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return 0;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

bk_code bk_sigv4_scope(const char *date8, const char *region, const char *service, bk_buf *out,
                       bk_err *err)
{
    if (date8 == NULL || strlen(date8) != 8 || strspn(date8, "0123456789") != 8)
        return bk_err_set(err, BK_EINVAL, "scope date must be YYYYMMDD");
    if (region == NULL || region[0] == '\0' || strchr(region, '/') != NULL)
        return bk_err_set(err, BK_EINVAL, "region must be non-empty and contain no '/'");
    if (service == NULL || service[0] == '\0' || strchr(service, '/') != NULL)
        return bk_err_set(err, BK_EINVAL, "service must be non-empty and contain no '/'");
    /* Appended piece by piece: both sides build a scope per request. */
    bk_buf_append(out, date8, 8);
    bk_buf_putc(out, '/');
    bk_buf_puts(out, region);
    bk_buf_putc(out, '/');
    bk_buf_puts(out, service);
    bk_buf_puts(out, "/aws4_request");
    return bk_buf_check(out, err);
}

static bk_code string_to_sign(hasher by, const char *amz_date, const char *scope,
                              const char *canonical_request, size_t len, bk_buf *out, bk_err *err)
{
    unsigned char md[32];
    char hash[65];
    sha256_of(by, canonical_request, len, NULL, 0, md);
    bk_sigv4_hex(md, 32, hash);
    const char *lines[] = {BK_SIGV4_ALGORITHM, amz_date, scope, hash};
    join_lines(out, lines, 4);
    return bk_buf_check(out, err);
}

bk_code bk_sigv4_string_to_sign(const char *amz_date, const char *scope,
                                const char *canonical_request, size_t len, bk_buf *out, bk_err *err)
{
    return string_to_sign(BY_OPENSSL, amz_date, scope, canonical_request, len, out, err);
}

void bk_sigv4_result_clear(bk_sigv4_result *r)
{
    if (r == NULL)
        return;
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->signed_headers);
    free(r->scope);
    free(r->authorization);
    free(r->presigned_query);
    memset(r, 0, sizeof *r);
}

/* ---- signer ---- */

struct bk_sigv4_signer {
    char *access_key_id;
    char *secret;
    char *session_token;
    char *region;
    char *service;
    hasher by;            /* the SHA extensions when the CPU has them */
    pthread_mutex_t lock; /* guards the key cache */
    char cached_date8[9];
    unsigned char cached_key[32];
};

static int valid_amz_date(const char *s)
{
    if (s == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return 0;
    return strspn(s, "0123456789") == 8 && strspn(s + 9, "0123456789") == 6;
}

static void free_signer_strings(bk_sigv4_signer *s)
{
    if (s->secret != NULL)
        OPENSSL_cleanse(s->secret, strlen(s->secret));
    free(s->access_key_id);
    free(s->secret);
    free(s->session_token);
    free(s->region);
    free(s->service);
}

bk_sigv4_signer *bk_sigv4_signer_new(const char *access_key_id, const char *secret_access_key,
                                     const char *session_token, const char *region,
                                     const char *service, bk_err *err)
{
    if (access_key_id == NULL || access_key_id[0] == '\0' || strchr(access_key_id, '/') != NULL) {
        bk_err_set(err, BK_EINVAL, "access key id must be non-empty and contain no '/'");
        return NULL;
    }
    if (secret_access_key == NULL || secret_access_key[0] == '\0') {
        bk_err_set(err, BK_EINVAL, "secret access key is empty");
        return NULL;
    }
    bk_buf probe = BK_BUF_INIT;
    bk_code rc = bk_sigv4_scope("20000101", region, service, &probe, err);
    bk_buf_clear(&probe);
    if (rc != BK_OK)
        return NULL;
    bk_sigv4_signer *s = calloc(1, sizeof *s);
    if (s == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory creating a signer");
        return NULL;
    }
    s->access_key_id = strdup(access_key_id);
    s->secret = strdup(secret_access_key);
    s->session_token =
        session_token != NULL && session_token[0] != '\0' ? strdup(session_token) : NULL;
    s->region = strdup(region);
    s->service = strdup(service);
    s->by = bk__blockhash_cpu_has_sha_ni() ? BY_SHA_NI : BY_OPENSSL;
    int strings_ok =
        s->access_key_id != NULL && s->secret != NULL && s->region != NULL && s->service != NULL &&
        (session_token == NULL || session_token[0] == '\0' || s->session_token != NULL);
    if (!strings_ok || pthread_mutex_init(&s->lock, NULL) != 0) {
        free_signer_strings(s);
        free(s);
        bk_err_set(err, BK_ENOMEM, "out of memory creating a signer");
        return NULL;
    }
    return s;
}

void bk_sigv4_signer_free(bk_sigv4_signer *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    OPENSSL_cleanse(s->cached_key, sizeof s->cached_key);
    free_signer_strings(s);
    free(s);
}

const char *bk_sigv4_signer_access_key_id(const bk_sigv4_signer *s)
{
    return s->access_key_id;
}

const char *bk_sigv4_signer_session_token(const bk_sigv4_signer *s)
{
    return s->session_token;
}

const char *bk_sigv4_signer_region(const bk_sigv4_signer *s)
{
    return s->region;
}

const char *bk_sigv4_signer_service(const bk_sigv4_signer *s)
{
    return s->service;
}

bk_code bk_sigv4_signer_key(bk_sigv4_signer *s, const char *date8, unsigned char key[32],
                            bk_err *err)
{
    if (date8 == NULL || strlen(date8) != 8 || strspn(date8, "0123456789") != 8)
        return bk_err_set(err, BK_EINVAL, "signing date must be YYYYMMDD");
    pthread_mutex_lock(&s->lock);
    if (strcmp(s->cached_date8, date8) != 0) {
        signing_key(s->by, s->secret, date8, s->region, s->service, s->cached_key);
        memcpy(s->cached_date8, date8, 9);
    }
    memcpy(key, s->cached_key, 32);
    pthread_mutex_unlock(&s->lock);
    return BK_OK;
}

/* Canonical request -> string to sign -> signature, filling out. normalize:
 * a caller-chosen list is lowercased and sorted first (signing, not verifying). */
static bk_code compute(hasher by, const bk_sigv4_request *req, const char *service,
                       const char *signed_headers, int presigned, int normalize,
                       const char *amz_date, const char *scope, const unsigned char key[32],
                       bk_sigv4_result *out, bk_err *err)
{
    bk_buf creq = BK_BUF_INIT, sts = BK_BUF_INIT;
    char *normalized = NULL;
    bk_code rc = BK_OK;
    if (normalize && signed_headers != NULL) {
        rc = bk_sigv4_normalize_signed_headers(signed_headers, &normalized, err);
        signed_headers = normalized;
    }
    if (rc == BK_OK)
        rc = bk_sigv4_canonical_request(req, service, signed_headers, presigned, &creq,
                                        &out->signed_headers, err);
    if (rc == BK_OK)
        rc = string_to_sign(by, amz_date, scope, creq.data, creq.len, &sts, err);
    if (rc == BK_OK) {
        hmac_hex(by, key, sts.data, sts.len, out->signature);
        out->canonical_request = bk_buf_steal(&creq);
        out->string_to_sign = bk_buf_steal(&sts);
        out->scope = strdup(scope);
        if (out->canonical_request == NULL || out->string_to_sign == NULL || out->scope == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory computing a signature");
    }
    free(normalized);
    bk_buf_clear(&creq);
    bk_buf_clear(&sts);
    return rc;
}

static bk_code signer_prepare(bk_sigv4_signer *s, const char *amz_date, bk_buf *scope,
                              unsigned char key[32], bk_err *err)
{
    if (!valid_amz_date(amz_date))
        return bk_err_set(err, BK_EINVAL, "request time must be YYYYMMDDTHHMMSSZ");
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    bk_code rc = bk_sigv4_scope(date8, s->region, s->service, scope, err);
    if (rc == BK_OK)
        rc = bk_sigv4_signer_key(s, date8, key, err);
    return rc;
}

bk_code bk_sigv4_sign(bk_sigv4_signer *s, const bk_sigv4_request *req, const char *amz_date,
                      const char *signed_headers, bk_sigv4_result *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    bk_buf scope = BK_BUF_INIT, authz = BK_BUF_INIT;
    unsigned char key[32];
    bk_code rc = signer_prepare(s, amz_date, &scope, key, err);
    if (rc == BK_OK)
        rc = compute(s->by, req, s->service, signed_headers, 0, 1, amz_date, scope.data, key, out,
                     err);
    if (rc == BK_OK) {
        bk_buf_printf(&authz, "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                      BK_SIGV4_ALGORITHM, s->access_key_id, scope.data, out->signed_headers,
                      out->signature);
        rc = bk_buf_check(&authz, err);
        if (rc == BK_OK)
            out->authorization = bk_buf_steal(&authz);
    }
    OPENSSL_cleanse(key, sizeof key);
    bk_buf_clear(&scope);
    bk_buf_clear(&authz);
    if (rc != BK_OK)
        bk_sigv4_result_clear(out);
    return rc;
}

bk_code bk_sigv4_presign(bk_sigv4_signer *s, const bk_sigv4_request *req, const char *amz_date,
                         long expires_seconds, const char *signed_headers, bk_sigv4_result *out,
                         bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (expires_seconds < 1 || expires_seconds > BK_SIGV4_MAX_EXPIRES)
        return bk_err_set(err, BK_EINVAL, "presigned URL lifetime must be 1..%ld seconds, got %ld",
                          BK_SIGV4_MAX_EXPIRES, expires_seconds);
    bk_buf scope = BK_BUF_INIT, query = BK_BUF_INIT, cred = BK_BUF_INIT;
    char *list = NULL;
    unsigned char key[32];
    bk_code rc = signer_prepare(s, amz_date, &scope, key, err);
    if (rc == BK_OK && signed_headers != NULL) {
        rc = bk_sigv4_normalize_signed_headers(signed_headers, &list, err);
        signed_headers = list;
    } else if (rc == BK_OK) {
        /* The header list goes into the query, so settle it before signing. */
        bk_buf scratch = BK_BUF_INIT;
        bk_sigv4_request probe = *req;
        probe.raw_query = NULL;
        rc = bk_sigv4_canonical_request(&probe, s->service, NULL, 1, &scratch, &list, err);
        bk_buf_clear(&scratch);
        signed_headers = list;
    }
    if (rc == BK_OK) {
        if (req->raw_query != NULL && req->raw_query[0] != '\0')
            bk_buf_printf(&query, "%s&", req->raw_query);
        bk_buf_printf(&cred, "%s/%s", s->access_key_id, scope.data);
        bk_buf_puts(&query, "X-Amz-Algorithm=" BK_SIGV4_ALGORITHM "&X-Amz-Credential=");
        bk_sigv4_uri_encode(&query, bk_buf_str(&cred), cred.len, 0);
        /* Alphabetical, as the AWS documentation's example URL has them. */
        bk_buf_printf(&query, "&X-Amz-Date=%s&X-Amz-Expires=%ld", amz_date, expires_seconds);
        if (s->session_token != NULL) {
            bk_buf_puts(&query, "&X-Amz-Security-Token=");
            bk_sigv4_uri_encode(&query, s->session_token, strlen(s->session_token), 0);
        }
        bk_buf_puts(&query, "&X-Amz-SignedHeaders=");
        bk_sigv4_uri_encode(&query, signed_headers, strlen(signed_headers), 0);
        rc = bk_buf_check(&query, err);
        if (rc == BK_OK)
            rc = bk_buf_check(&cred, err);
    }
    if (rc == BK_OK) {
        bk_sigv4_request signed_req = *req;
        signed_req.raw_query = query.data;
        rc = compute(s->by, &signed_req, s->service, signed_headers, 1, 0, amz_date, scope.data,
                     key, out, err);
    }
    if (rc == BK_OK) {
        bk_buf_printf(&query, "&X-Amz-Signature=%s", out->signature);
        rc = bk_buf_check(&query, err);
        if (rc == BK_OK)
            out->presigned_query = bk_buf_steal(&query);
    }
    OPENSSL_cleanse(key, sizeof key);
    free(list);
    bk_buf_clear(&scope);
    bk_buf_clear(&query);
    bk_buf_clear(&cred);
    if (rc != BK_OK)
        bk_sigv4_result_clear(out);
    return rc;
}

/* ---- verifier ---- */

bk_code bk_sigv4_verify(const bk_sigv4_request *req, const bk_sigv4_auth *auth,
                        const char *secret_access_key, const char *amz_date, bk_sigv4_result *out,
                        bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (req == NULL || auth == NULL || auth->access_key_id == NULL || auth->region == NULL ||
        auth->service == NULL || auth->signed_headers == NULL)
        return bk_err_set(err, BK_EINVAL, "incomplete credential to verify");
    if (secret_access_key == NULL)
        return bk_err_set(err, BK_EINVAL, "no secret access key to verify with");
    unsigned char key[32];
    bk_sigv4_signing_key(secret_access_key, auth->date8, auth->region, auth->service, key);
    bk_code rc = bk_sigv4_verify_with_key(req, auth, key, amz_date, out, err);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

bk_code bk_sigv4_verify_with_key(const bk_sigv4_request *req, const bk_sigv4_auth *auth,
                                 const unsigned char key[32], const char *amz_date,
                                 bk_sigv4_result *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (req == NULL || auth == NULL || auth->access_key_id == NULL || auth->region == NULL ||
        auth->service == NULL || auth->signed_headers == NULL)
        return bk_err_set(err, BK_EINVAL, "incomplete credential to verify");
    if (key == NULL)
        return bk_err_set(err, BK_EINVAL, "no signing key to verify with");
    if (auth->presigned)
        amz_date = auth->amz_date;
    else if (amz_date == NULL)
        amz_date = bk_sigv4_find_header(req, "x-amz-date");
    if (amz_date == NULL)
        return bk_err_set(err, BK_EINVAL, "request carries no X-Amz-Date");
    if (!valid_amz_date(amz_date))
        return bk_err_set(err, BK_EINVAL, "X-Amz-Date '%.40s' is not YYYYMMDDTHHMMSSZ", amz_date);
    if (strncmp(amz_date, auth->date8, 8) != 0)
        return bk_err_set(err, BK_EINVAL, "credential date %s does not match the request date %.8s",
                          auth->date8, amz_date);
    bk_buf scope = BK_BUF_INIT;
    bk_code rc = bk_sigv4_scope(auth->date8, auth->region, auth->service, &scope, err);
    if (rc == BK_OK)
        rc = compute(BY_OPENSSL, req, auth->service, auth->signed_headers, auth->presigned, 0,
                     amz_date, scope.data, key, out, err);
    bk_buf_clear(&scope);
    if (rc != BK_OK) {
        bk_sigv4_result_clear(out);
        return rc;
    }
    if (!bk_sigv4_equal(out->signature, auth->signature))
        return bk_err_set(err, BK_EAUTH,
                          "signature mismatch for access key %.128s: the request signature does "
                          "not match the one computed from the canonical request",
                          auth->access_key_id);
    return BK_OK;
}
