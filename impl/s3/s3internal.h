/* Private to the S3 client's files (client.c: the client, its credentials and
 * connection pool, request.c: the request engine and response.c its
 * response side, body.c: request bodies, ops.c: single-request operations,
 * multipart.c: multipart and large copies, result.c: what they return). */
#ifndef BKCACHE_S3INTERNAL_H
#define BKCACHE_S3INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "bkcache/chunked.h"
#include "endpoint.h"
#include "bkcache/s3.h"
#include "bkcache/sigv4.h"

typedef struct signer_ref signer_ref;

struct bk_s3_client {
    bk_s3_config cfg; /* string members point at the owned copies below */
    char *region, *bucket, *endpoint_url, *ca_bundle, *user_agent;
    char ca_bundle_source[96]; /* where ca_bundle came from, for messages */
    char *access_key_id, *secret_access_key, *session_token;
    bk_endpoint ep;
    char base_url[1024];
    bk_retry_state retry;
    bk_clock clock;

    bk_creds_provider *own_provider; /* the default chain, when we built it */
    bk_creds_provider *provider;     /* the one in use */
    pthread_mutex_t creds_lock;
    signer_ref *signer;
    char creds_source[96]; /* what supplied the signer's credentials */

    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL **idle;
    size_t n_idle, cap_idle;

    bool sha_ni; /* the CPU's SHA extensions hash bodies (base/sha256.h) */

    _Atomic unsigned long long requests;     /* HTTP attempts made, for summaries */
    _Atomic unsigned long long bytes_hashed; /* payload bytes hashed, for summaries */
};

typedef struct s3_header {
    const char *name;
    const char *value;
} s3_header;

typedef enum s3_body_kind { S3_BODY_NONE = 0, S3_BODY_MEM, S3_BODY_FD } s3_body_kind;

#define S3_MAX_EXTRA_HEADERS 40

typedef struct s3_request {
    const char *op;                          /* "PutObject": names the operation in messages */
    const char *method;                      /* "GET", "PUT", "POST", "HEAD", "DELETE" */
    const char *key;                         /* NULL = bucket-level request */
    const char *query;                       /* encoded, without '?'; NULL = none */
    s3_header headers[S3_MAX_EXTRA_HEADERS]; /* sent and signed */
    size_t n_headers;
    char name_store[S3_MAX_EXTRA_HEADERS][144]; /* x-amz-meta-* names built here */
    size_t n_name_store;

    s3_body_kind body;
    const void *mem;
    int fd;
    uint64_t offset, len;
    const char *payload_sha256;                  /* known hex hash of the body, or NULL */
    int object_payload;                          /* PutObject / UploadPart: an object's bytes,
                                                    which the SDK signs UNSIGNED-PAYLOAD over https */
    int content_md5;                             /* send Content-MD5 of the body */
    bk_checksum_alg checksum;                    /* an x-amz-checksum-* of the body, or NONE */
    int trailer;                                 /* ... in an aws-chunked trailer, not a header */
    int checksum_declared;                       /* ... with x-amz-sdk-checksum-algorithm */
    char checksum_value[BK_CHECKSUM_MAX_BASE64]; /* out: the checksum sent (base64) */

    size_t max_body;    /* keep a 2xx body up to this many bytes (XML results) */
    int error_in_200;   /* a 200 whose body is <Error> is a failure */
    bk_s3_sink_fn sink; /* GET: streamed body */
    void *sink_ud;
    const bk_s3_range *range; /* GET: requested bytes */
} s3_request;

#define S3_TRAILER_CHUNK ((size_t)64 * 1024)

/* The largest XML result kept in memory (ListObjectsV2 pages, DeleteObjects,
 * multipart and copy results). The largest legitimate one is a page of 1000
 * keys of up to 1024 bytes, each written escaped (up to 6 bytes per byte:
 * &quot;) beside its ETag, size, date and storage class: under 8 MiB. */
#define S3_XML_RESULT_MAX ((size_t)16 * 1024 * 1024)

/* The request body as curl pulls it: always re-read from its source (memory
 * or pread at the file offset), never from a copy, so every attempt and every
 * curl rewind sends the original bytes. */
typedef struct body_reader {
    s3_request *rq;
    uint64_t pos;     /* payload bytes handed out */
    uint64_t src_pos; /* payload bytes read by the chunked encoder */
    bk_chunked_encoder *enc;
    int failed;
    bk_err err;
} body_reader;

bk_code bk__s3_body_start(body_reader *br, bk_err *err); /* (re)start at byte 0 */
size_t bk__s3_body_read_cb(char *buf, size_t size, size_t nitems, void *ud);
int bk__s3_body_seek_cb(void *ud, curl_off_t offset, int origin);
/* PutObject and UploadPart: the body's checksum as the configuration asks. */
void bk__s3_body_checksum(const bk_s3_client *c, s3_request *rq);
/* One pass over the body for the SHA-256 (hex), the MD5 (base64) and the
 * header checksum (rq->checksum into rq->checksum_value) it needs; the
 * SHA-256 on the SHA extensions when `sha_ni` (the client found them). */
bk_code bk__s3_body_hash(s3_request *rq, bool sha_ni, int want_sha, int want_md5, int want_checksum,
                         char sha_hex[65], char md5_b64[45], bk_err *err);

void bk__s3_request_init(s3_request *rq, const char *op, const char *method, const char *key);
/* The x-amz-content-sha256 the signature of rq covers, as the SDK chooses it:
 * none for anonymous requests, the trailer's streaming value, the empty
 * body's hash, UNSIGNED-PAYLOAD for an object's bytes over https (unless the
 * configuration turned unsigned_payload off), a hash the caller already
 * knows; NULL when the body must be hashed. *anonymous is set when nothing
 * is signed. */
const char *bk__s3_payload_hash(const bk_s3_client *c, const s3_request *rq, int *anonymous);
/* Adds a header; both strings must outlive the request. -1 when full. */
int bk__s3_request_header(s3_request *rq, const char *name, const char *value);

/* Runs the request with retries. res is cleared first. body_out (optional)
 * receives a 2xx body kept under rq->max_body. On failure err names the
 * operation, bucket and key, the status, S3 code, message and request id. */
bk_code bk__s3_execute(bk_s3_client *c, s3_request *rq, bk_s3_result *res, bk_buf *body_out,
                       bk_err *err);

/* Validates metadata names ([a-z0-9-]+) and appends x-amz-meta-* headers;
 * values must outlive the request. */
bk_code bk__s3_add_metadata(bk_s3_client *c, s3_request *rq, const bk_s3_meta *meta, size_t n,
                            bk_err *err);

/* Signer for the current credentials, refcounted; release after signing. */
bk_code bk__s3_signer_acquire(bk_s3_client *c, signer_ref **out, bk_sigv4_signer **signer,
                              bk_err *err);
void bk__s3_signer_release(bk_s3_client *c, signer_ref *ref);

/* A pooled easy handle (reset, with the share attached) and its return. */
CURL *bk__s3_handle_get(bk_s3_client *c);
void bk__s3_handle_put(bk_s3_client *c, CURL *h);

/* Copies src into dst (size bytes), truncating; never overflows. */
static inline void s3_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The key in messages: "s3://bucket/key". */
void bk__s3_where(const bk_s3_client *c, const char *key, char *out, size_t size);

#endif
