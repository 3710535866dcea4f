/* Request bodies of the S3 client: streaming from memory or a file region,
 * the optional aws-chunked encoding, and the hashing pass before signing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/checksum.h"
#include "s3internal.h"
#include "sha256.h"

#define HASH_BUF ((size_t)1024 * 1024)

static bk_code source_read(s3_request *rq, uint64_t pos, void *buf, size_t cap, size_t *got,
                           bk_err *err)
{
    uint64_t left = rq->len - pos;
    size_t n = cap < left ? cap : (size_t)left;
    *got = 0;
    if (n == 0)
        return BK_OK;
    if (rq->body == S3_BODY_MEM) {
        memcpy(buf, (const char *)rq->mem + pos, n);
        *got = n;
        return BK_OK;
    }
    for (;;) {
        ssize_t r = pread(rq->fd, buf, n, (off_t)(rq->offset + pos));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bk_err_set(err, BK_EIO, "reading the body at offset %llu: %s",
                              (unsigned long long)rq->offset + pos, strerror(errno));
        if (r == 0)
            return bk_err_set(err, BK_EIO,
                              "the body source ended at offset %llu, %llu bytes early (file "
                              "changed while uploading?)",
                              (unsigned long long)rq->offset + pos,
                              (unsigned long long)(rq->len - pos));
        *got = (size_t)r;
        return BK_OK;
    }
}

static bk_code encoder_source(void *ud, void *buf, size_t cap, size_t *got, bk_err *err)
{
    body_reader *br = ud;
    bk_code rc = source_read(br->rq, br->src_pos, buf, cap, got, err);
    br->src_pos += *got;
    return rc;
}

bk_code bk__s3_body_start(body_reader *br, bk_err *err)
{
    br->pos = 0;
    br->src_pos = 0;
    br->failed = 0;
    bk_chunked_encoder_free(br->enc);
    br->enc = NULL;
    if (!br->rq->trailer)
        return BK_OK;
    bk_chunked_encoder_config ec;
    memset(&ec, 0, sizeof ec);
    ec.mode = BK_CHUNKED_UNSIGNED_TRAILER;
    ec.chunk_size = S3_TRAILER_CHUNK;
    ec.trailer_alg = br->rq->checksum;
    ec.decoded_length = (int64_t)br->rq->len;
    ec.source = encoder_source;
    ec.source_ud = br;
    bk_err eerr;
    bk_err_clear(&eerr);
    br->enc = bk_chunked_encoder_new(&ec, &eerr);
    return br->enc ? BK_OK : bk_err_set(err, eerr.code, "%s", eerr.msg);
}

size_t bk__s3_body_read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    body_reader *br = ud;
    size_t cap = size * nitems;
    size_t got = 0;
    bk_code rc;
    if (br->enc != NULL)
        rc = bk_chunked_encoder_read(br->enc, buf, cap, &got, &br->err);
    else
        rc = source_read(br->rq, br->pos, buf, cap, &got, &br->err);
    if (rc != BK_OK) {
        br->failed = 1;
        return CURL_READFUNC_ABORT;
    }
    br->pos += got;
    return got;
}

/* curl rewinds a body when it must resend it (e.g. after a 100-continue
 * refusal on a reused connection): restart from the source, never a buffer. */
int bk__s3_body_seek_cb(void *ud, curl_off_t offset, int origin)
{
    body_reader *br = ud;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    if (br->enc != NULL || br->rq->trailer) {
        if (offset != 0)
            return CURL_SEEKFUNC_CANTSEEK;
        return bk__s3_body_start(br, &br->err) == BK_OK ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
    }
    if (offset < 0 || (uint64_t)offset > br->rq->len)
        return CURL_SEEKFUNC_FAIL;
    br->pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* PutObject and UploadPart carry the configured checksum; a request with an
 * empty body never travels aws-chunked (the SDK sends those as a header). */
void bk__s3_body_checksum(const bk_s3_client *c, s3_request *rq)
{
    rq->checksum = c->cfg.checksum_algorithm;
    rq->trailer = rq->checksum != BK_CHECKSUM_NONE && c->cfg.checksum_trailer && rq->len > 0;
    rq->checksum_declared = rq->checksum != BK_CHECKSUM_NONE && c->cfg.checksum_declared;
}

/* The hashes one pass computes: SHA-256 for the signature, MD5 for
 * Content-MD5, the request's checksum for its header. The SHA-256 runs on the
 * SHA extensions without OpenSSL when the client found them (a process that
 * never starts an OpenSSL digest never pays for OpenSSL 3's algorithm name
 * map: base/sha256.h), else as a bk_checksum like the others. */
enum { HASH_SHA, HASH_MD5, HASH_CHECKSUM, N_HASHES };

typedef struct body_hashes {
    bk_checksum *h[N_HASHES];
    bool sha_ni;
    bk__sha256 sha;
} body_hashes;

static void feed(body_hashes *b, const void *data, size_t len)
{
    if (b->sha_ni)
        bk__sha256_update(&b->sha, data, len);
    for (int i = 0; i < N_HASHES; i++)
        if (b->h[i] != NULL)
            bk_checksum_update(b->h[i], data, len);
}

static bk_code feed_source(s3_request *rq, body_hashes *b, bk_err *err)
{
    if (rq->body == S3_BODY_MEM || rq->len == 0) {
        feed(b, rq->mem, rq->body == S3_BODY_MEM ? rq->len : 0);
        return BK_OK;
    }
    char *buf = malloc(HASH_BUF);
    if (buf == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_code rc = BK_OK;
    for (uint64_t pos = 0; pos < rq->len && rc == BK_OK;) {
        size_t got;
        rc = source_read(rq, pos, buf, HASH_BUF, &got, err);
        feed(b, buf, got);
        pos += got;
    }
    free(buf);
    return rc;
}

/* One pass over the body for the hashes the request needs, before the first
 * attempt (a signed payload must be known before its headers are sent). */
bk_code bk__s3_body_hash(s3_request *rq, bool sha_ni, int want_sha, int want_md5, int want_checksum,
                         char sha_hex[65], char md5_b64[BK_CHECKSUM_MAX_BASE64], bk_err *err)
{
    const bk_checksum_alg algs[N_HASHES] = {BK_CHECKSUM_SHA256, BK_CHECKSUM_MD5, rq->checksum};
    const int want[N_HASHES] = {want_sha && !sha_ni, want_md5, want_checksum};
    body_hashes b = {.sha_ni = want_sha && sha_ni};
    bk_err cerr;
    bk_err_clear(&cerr);
    bk_code rc = BK_OK;
    if (b.sha_ni)
        bk__sha256_start(&b.sha);
    for (int i = 0; i < N_HASHES && rc == BK_OK; i++)
        if (want[i] && (b.h[i] = bk_checksum_new(algs[i], &cerr)) == NULL)
            rc = bk_err_set(err, cerr.code, "%s", cerr.msg);
    if (rc == BK_OK)
        rc = feed_source(rq, &b, err);
    if (rc == BK_OK && b.sha_ni) {
        unsigned char md[32];
        bk__sha256_finish(&b.sha, md);
        bk_sigv4_hex(md, sizeof md, sha_hex);
    }
    bk_checksum_digest d;
    for (int i = 0; i < N_HASHES && rc == BK_OK; i++) {
        if (b.h[i] == NULL)
            continue;
        if ((rc = bk_checksum_final(b.h[i], &d, err)) != BK_OK)
            break;
        if (i == HASH_SHA)
            memcpy(sha_hex, d.hex, 65);
        else if (i == HASH_MD5)
            snprintf(md5_b64, BK_CHECKSUM_MAX_BASE64, "%s", d.base64);
        else
            snprintf(rq->checksum_value, sizeof rq->checksum_value, "%s", d.base64);
    }
    for (int i = 0; i < N_HASHES; i++)
        bk_checksum_free(b.h[i]);
    return rc;
}
