/* S3 client on libcurl: what the exporter and importer talk through. It
 * behaves like the AWS SDK BuildKit uses (aws-sdk-go-v2 with
 * RequestChecksumCalculation=WhenRequired) on the same endpoints:
 *
 * - SigV4 on every request (bkcache/sigv4.h); every x-amz-* header sent is
 *   signed, each attempt is signed afresh (new x-amz-date). Payload hash: the
 *   hex SHA-256 of the body, or UNSIGNED-PAYLOAD over https when asked.
 * - Accept-Encoding: identity is sent and signed, like the SDK, unless
 *   disable_accept_encoding: then no Accept-Encoding header at all (never an
 *   empty one). Bodies over 2 MiB are sent with Expect: 100-continue (unsigned).
 * - No checksum headers, no x-amz-trailer, no aws-chunked by default; the
 *   checksum options send the SDK's flexible checksums on PutObject and
 *   UploadPart (a header, or an aws-chunked trailer), declared or not, as
 *   BuildKit releases before v0.26.2 and v0.32 did.
 * - Retries as the SDK's standard/adaptive modes (bkcache/retry.h). A body is
 *   re-read from its source (memory or file offset) on every attempt; a GET
 *   that breaks mid-body resumes with Range from the bytes already delivered
 *   (and If-Match on the first ETag), so a sink never sees a byte twice.
 * - A 200 whose body is an <Error> (CopyObject, UploadPartCopy,
 *   CompleteMultipartUpload) is a failure, retried when its code is.
 * - Ranged reads check the status (206), Content-Range and the byte count, so a
 *   server that ends the body early cannot truncate silently; a server that
 *   ignores Range (200 with the whole object, as HTTP allows) is read from
 *   the byte asked for, unless its ETag shows the object changed.
 * - Timeouts: one attempt is bounded by the connect timeout, the low-speed
 *   limit and the whole-request timeout (10 minutes by default); the message
 *   says which one ended it, and its value.
 * - Only S3's error document says "no such key" (NoSuchKey); a 404 to a GET
 *   without one is some other server's and an error naming the endpoint. A
 *   HEAD, which cannot carry a body, is missing on a bare 404.
 * - Connections: one pool per client. Easy handles are reused with keep-alive,
 *   DNS and TLS sessions are shared; the client is safe to use from many threads
 *   at once and opens at most as many connections as requests in flight.
 * - Error messages name the operation, bucket and key, the HTTP status, S3 code,
 *   message and request id, how often it was tried; never a secret. A redirect
 *   is not followed: the message names where it points (or the bucket's
 *   region, when S3 sent it). */
#ifndef BKCACHE_S3_H
#define BKCACHE_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bkcache/buf.h"
#include "bkcache/checksum.h"
#include "bkcache/clock.h"
#include "bkcache/creds.h"
#include "bkcache/error.h"
#include "bkcache/retry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BK_S3_MIB (1024ULL * 1024ULL)
#define BK_S3_DEFAULT_MULTIPART_THRESHOLD (16 * BK_S3_MIB)
#define BK_S3_DEFAULT_PART_SIZE (8 * BK_S3_MIB)
#define BK_S3_DEFAULT_PARTS_IN_FLIGHT 5
#define BK_S3_MAX_PARTS 10000
#define BK_S3_MIN_PART_SIZE (5 * BK_S3_MIB)
#define BK_S3_MAX_COPY_SIZE (5ULL * 1024 * BK_S3_MIB) /* largest CopyObject / part copy */
/* One attempt's whole time by default: 10 minutes. Every request but a blob's
 * GET is small (parts of 8 MiB, manifests, HEADs) or done by the server (a
 * 5 GiB copy takes S3 a few minutes); a GET stopped by it resumes with Range,
 * so a blob is bounded by the attempts times this, 30 minutes by default (18
 * GB at 10 MB/s); raise it for larger blobs on slower links. */
#define BK_S3_DEFAULT_REQUEST_TIMEOUT_MS 600000L

typedef struct bk_s3_config {
    const char *region;       /* NULL: AWS_REGION, AWS_DEFAULT_REGION, profile region */
    const char *bucket;       /* required */
    const char *endpoint_url; /* NULL: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS */
    int use_path_style;

    /* Credentials: provider wins when set (borrowed, must outlive the client);
     * else the default chain (bkcache/creds.h) with these explicit attributes. */
    bk_creds_provider *credentials_provider;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    int anonymous;     /* send unsigned requests (public buckets); explicit only */
    const bk_env *env; /* environment for the fallbacks; NULL = the process's */

    bk_retry_config retry; /* mode, max attempts (3), base delay (1 s), quota */
    /* Time for x-amz-date, credential expiry and the retries' limiter and
     * back-off; NULL = the system's. Copied (its ud must outlive the client). */
    const bk_clock *clock;

    /* The limits of one attempt; a timed-out one is retried like a 5xx, a GET
     * resuming where it stopped. */
    long connect_timeout_ms; /* the connection and TLS session; default 10000 */
    long low_speed_time_s;   /* abort when below low_speed_limit for this long; default 30 */
    long low_speed_limit;    /* bytes per second; default 1 */
    long request_timeout_ms; /* the whole attempt; default BK_S3_DEFAULT_REQUEST_TIMEOUT_MS, 0 =
                                none */

    int insecure; /* skip TLS verification: only by explicit option */
    /* PEM file of trusted CAs; NULL = AWS_CA_BUNDLE, else the profile's
     * ca_bundle, else the system's. */
    const char *ca_bundle;
    /* PutObject and UploadPart bodies are signed UNSIGNED-PAYLOAD over https,
     * as the SDK does (TLS protects the bytes; no hash pass over each part);
     * 0 = hash them there too. Over http they are always hashed. Default 1. */
    int unsigned_payload;
    int disable_accept_encoding;
    int send_content_md5; /* Content-MD5 on PutObject/UploadPart (object-lock buckets) */
    /* Flexible checksums on PutObject and UploadPart, as aws-sdk-go-v2 sends
     * them (none by default: RequestChecksumCalculation=WhenRequired).
     * checksum_algorithm CRC32, CRC32C or SHA256 is an x-amz-checksum-<alg>
     * header computed before sending, or with checksum_trailer an aws-chunked
     * body (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with the checksum in its
     * trailer. checksum_declared also sends x-amz-sdk-checksum-algorithm,
     * declares the algorithm on CreateMultipartUpload and lists each part's
     * checksum at CompleteMultipartUpload, as the SDK does for an algorithm
     * the caller chose; without it nothing is declared, as for the SDK's
     * default (WhenSupported) checksum, and S3 fails such a multipart upload
     * with InvalidPart (BuildKit v0.26.0). */
    bk_checksum_alg checksum_algorithm;
    int checksum_trailer;
    int checksum_declared;
    int send_checksum_trailer; /* shorthand: CRC32, in a trailer, declared (test servers) */
    /* What Go's transport adds when BuildKit's disable_accept_encoding removed
     * the signed header: an unsigned Accept-Encoding: gzip on every request
     * but HEAD and ranged GETs (a compressed answer is decoded). Needs
     * disable_accept_encoding. */
    int accept_encoding_gzip;
    int metadata_underscores; /* allow '_' in metadata names (v0.11's updated_at) */

    uint64_t multipart_threshold; /* default 16 MiB: single PutObject below */
    uint64_t part_size;           /* default 8 MiB */
    int parts_in_flight;          /* default 5 */

    const char *user_agent; /* default "bkcache/<version>" */
} bk_s3_config;

void bk_s3_config_init(bk_s3_config *cfg);

typedef struct bk_s3_client bk_s3_client;

/* NULL with err on a bad configuration (bucket, region, endpoint, options).
 * Credentials are resolved lazily at the first signed request. */
bk_s3_client *bk_s3_client_new(const bk_s3_config *cfg, bk_err *err);
void bk_s3_client_free(bk_s3_client *c);
const char *bk_s3_client_bucket(const bk_s3_client *c);
const char *bk_s3_client_region(const bk_s3_client *c);
/* "http://127.0.0.1:9000/bucket" or "https://bucket.s3.eu-west-1.amazonaws.com". */
const char *bk_s3_client_base_url(const bk_s3_client *c);
/* The bucket's addressing as the SDK's rules chose it, and why: "path style
 * (endpoint host 127.0.0.1 is an IP address)", "virtual host
 * cache.localhost:9000 (bucket cache is a valid DNS label)". */
const char *bk_s3_client_addressing(const bk_s3_client *c);
/* HTTP attempts this client has made so far (every retry and part counts). */
unsigned long long bk_s3_client_requests(const bk_s3_client *c);
/* Payload bytes this client has hashed so far for x-amz-content-sha256 or
 * Content-MD5 (a body whose hash the caller handed in is not hashed). */
unsigned long long bk_s3_client_bytes_hashed(const bk_s3_client *c);
/* 1 when this client signs an upload with its payload's SHA-256 (plain http,
 * or unsigned_payload off); 0 when uploads go UNSIGNED-PAYLOAD, as an
 * aws-chunked body with a trailer, or unsigned: payload hashes the caller
 * knows are then of no use. */
int bk_s3_client_hashes_payloads(const bk_s3_client *c);
/* Fetches credentials now (e.g. to fail early); BK_EAUTH naming what was tried. */
bk_code bk_s3_client_check_credentials(bk_s3_client *c, bk_err *err);
/* What supplied the credentials in use ("environment", "web identity
 * (AWS_WEB_IDENTITY_TOKEN_FILE)", "instance metadata", ...); "" before the
 * first fetch. Never a secret. */
void bk_s3_client_credentials_source(bk_s3_client *c, char *out, size_t size);

typedef struct bk_s3_meta {
    char *name; /* without "x-amz-meta-", lower case */
    char *value;
} bk_s3_meta;

/* What one operation returned. Zero it (or BK_S3_RESULT_INIT) before the first
 * use; every operation clears it first; release with bk_s3_result_clear. */
typedef struct bk_s3_result {
    int status;       /* last HTTP status; 0 when no response arrived */
    int attempts;     /* attempts made */
    char s3_code[64]; /* "NoSuchKey", ...; synthesized from the status for body-less errors */
    char s3_message[512];
    char request_id[128];
    char etag[128]; /* as sent, quoted */
    uint64_t size;  /* object size (Content-Length, or the total of Content-Range) */
    int has_size;
    uint64_t content_length; /* bytes of this response's body */
    time_t last_modified;
    int has_last_modified;
    char content_type[128];
    char version_id[128];
    char bucket_region[64]; /* x-amz-bucket-region, when S3 sent it */
    bk_s3_meta *meta;
    size_t n_meta;
} bk_s3_result;

#define BK_S3_RESULT_INIT                                                                          \
    {                                                                                              \
        0                                                                                          \
    }

void bk_s3_result_clear(bk_s3_result *r);
/* Value of metadata `name` (without prefix), or NULL. */
const char *bk_s3_result_meta(const bk_s3_result *r, const char *name);
/* 1 only for a missing object: 404 with S3's NoSuchKey (or NotFound), or a
 * body-less 404 to a HEAD. A body-less 404 to anything else is not S3's and
 * not "missing"; 403 never is either: see the error's hint about s3:ListBucket. */
int bk_s3_result_is_not_found(const bk_s3_result *r);

/* Byte range: first..last inclusive; has_last = 0 means to the end. */
typedef struct bk_s3_range {
    uint64_t first;
    uint64_t last;
    int has_last;
} bk_s3_range;

/* Receives a GET body in order, each byte exactly once even across retries.
 * Return 0 to continue, anything else to abort (the operation then fails with
 * BK_EIO, or the code the sink put in err). */
typedef int (*bk_s3_sink_fn)(void *ud, const void *data, size_t len, bk_err *err);

/* Name/value metadata to send (names without "x-amz-meta-"; must match
 * [a-z0-9-]+, else BK_EINVAL: gateways drop '_' and S3 lower-cases names;
 * metadata_underscores allows '_'). */
typedef struct bk_s3_put_options {
    const char *content_type; /* NULL = none sent (S3 stores binary/octet-stream) */
    const bk_s3_meta *meta;
    size_t n_meta;
    /* Hex SHA-256 of the exact bytes sent, when the caller already knows it
     * (a blob's digest): the payload is then not hashed again. For a multipart
     * upload it cannot serve (each part is hashed on its own) and is ignored. */
    const char *payload_sha256;
    /* The same for each part of a multipart upload (bk_s3_upload_fd), in
     * order, cut as bk_s3_upload_part_size says: each part is sent with its
     * own and not hashed again. Ignored when n_part_sha256 is not the
     * upload's number of parts. */
    const char (*part_sha256)[65];
    size_t n_part_sha256;
    /* Conditional write (PutObject only): If-Match with this ETag, or
     * If-None-Match: * when if_none_match is set. A failed condition is
     * 412 PreconditionFailed, never retried. */
    const char *if_match;
    int if_none_match;
} bk_s3_put_options;

/* ---- objects ---- */

bk_code bk_s3_head(bk_s3_client *c, const char *key, bk_s3_result *res, bk_err *err);

bk_code bk_s3_get(bk_s3_client *c, const char *key, const bk_s3_range *range, bk_s3_sink_fn sink,
                  void *ud, bk_s3_result *res, bk_err *err);
/* Writes the body at fd_offset.. with pwrite (fd must be seekable). */
bk_code bk_s3_get_to_fd(bk_s3_client *c, const char *key, const bk_s3_range *range, int fd,
                        off_t fd_offset, bk_s3_result *res, bk_err *err);
/* Appends the body to out; BK_EINVAL when it would exceed max_len bytes. */
bk_code bk_s3_get_to_buf(bk_s3_client *c, const char *key, const bk_s3_range *range, size_t max_len,
                         bk_buf *out, bk_s3_result *res, bk_err *err);

bk_code bk_s3_put_mem(bk_s3_client *c, const char *key, const void *data, size_t len,
                      const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err);
/* One PutObject of len bytes read with pread from fd at offset (never loaded whole). */
bk_code bk_s3_put_fd(bk_s3_client *c, const char *key, int fd, uint64_t offset, uint64_t len,
                     const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err);
/* Like the transfer manager: PutObject below multipart_threshold, otherwise a
 * multipart upload of part_size parts, parts_in_flight at a time, aborted on
 * failure. res->etag is the final ETag. */
bk_code bk_s3_upload_fd(bk_s3_client *c, const char *key, int fd, uint64_t offset, uint64_t len,
                        const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err);
/* The part size bk_s3_upload_fd uses for len bytes (part_size, doubled while
 * more than 10,000 parts would be needed); 0 when it sends one PutObject. */
uint64_t bk_s3_upload_part_size(const bk_s3_client *c, uint64_t len);

typedef enum bk_s3_metadata_directive {
    BK_S3_METADATA_COPY = 0,
    BK_S3_METADATA_REPLACE,
} bk_s3_metadata_directive;

typedef struct bk_s3_copy_options {
    const char *source_bucket; /* NULL = the client's bucket */
    bk_s3_metadata_directive directive;
    const char *content_type; /* with REPLACE */
    const bk_s3_meta *meta;   /* with REPLACE */
    size_t n_meta;
} bk_s3_copy_options;

/* CopyObject (sources up to 5 GiB); copying onto itself needs REPLACE. */
bk_code bk_s3_copy(bk_s3_client *c, const char *source_key, const char *dest_key,
                   const bk_s3_copy_options *opts, bk_s3_result *res, bk_err *err);
/* Copy of an object of `size` bytes of any size: CopyObject below
 * copy_part_size, else multipart with UploadPartCopy ranges of copy_part_size
 * (0 = 5 GiB) that never reach past the last byte, aborted on failure. */
bk_code bk_s3_copy_any_size(bk_s3_client *c, const char *source_key, const char *dest_key,
                            uint64_t size, uint64_t copy_part_size, const bk_s3_copy_options *opts,
                            bk_s3_result *res, bk_err *err);

bk_code bk_s3_delete(bk_s3_client *c, const char *key, bk_s3_result *res, bk_err *err);

typedef struct bk_s3_delete_failure {
    char *key;
    char code[64];
    char message[256];
} bk_s3_delete_failure;

typedef struct bk_s3_delete_report {
    size_t deleted; /* keys S3 did not report as failed */
    bk_s3_delete_failure *failures;
    size_t n_failures;
} bk_s3_delete_report;

void bk_s3_delete_report_clear(bk_s3_delete_report *r);
/* DeleteObjects in batches of 1000 (quiet mode, Content-MD5). Per-key failures
 * are listed in report and make the call return BK_ES3 naming the first. */
bk_code bk_s3_delete_many(bk_s3_client *c, const char *const *keys, size_t n,
                          bk_s3_delete_report *report, bk_err *err);

/* ---- multipart, one step at a time ---- */

typedef struct bk_s3_part {
    int number;     /* 1..10000 */
    char etag[128]; /* as returned, quoted */
    /* base64, of the client's checksum_algorithm; only with checksum_declared */
    char checksum[BK_CHECKSUM_MAX_BASE64];
} bk_s3_part;

/* *upload_id is malloc'd. */
bk_code bk_s3_multipart_create(bk_s3_client *c, const char *key, const bk_s3_put_options *opts,
                               char **upload_id, bk_err *err);
bk_code bk_s3_multipart_upload_part(bk_s3_client *c, const char *key, const char *upload_id,
                                    int part_number, int fd, uint64_t offset, uint64_t len,
                                    bk_s3_part *part, bk_err *err);
bk_code bk_s3_multipart_upload_part_mem(bk_s3_client *c, const char *key, const char *upload_id,
                                        int part_number, const void *data, size_t len,
                                        bk_s3_part *part, bk_err *err);
/* UploadPartCopy of source bytes first..last (inclusive). */
bk_code bk_s3_multipart_upload_part_copy(bk_s3_client *c, const char *key, const char *upload_id,
                                         int part_number, const char *source_bucket,
                                         const char *source_key, uint64_t first, uint64_t last,
                                         bk_s3_part *part, bk_err *err);
bk_code bk_s3_multipart_complete(bk_s3_client *c, const char *key, const char *upload_id,
                                 const bk_s3_part *parts, size_t n, bk_s3_result *res, bk_err *err);
bk_code bk_s3_multipart_abort(bk_s3_client *c, const char *key, const char *upload_id, bk_err *err);

/* ---- listing ---- */

typedef struct bk_s3_object {
    char *key;
    uint64_t size;
    time_t last_modified;
    char etag[128];
} bk_s3_object;

typedef struct bk_s3_list_params {
    const char *prefix;
    const char *delimiter;
    const char *start_after;
    const char *continuation_token;
    int max_keys; /* 0 = server default (1000) */
} bk_s3_list_params;

typedef struct bk_s3_list_page {
    bk_s3_object *objects;
    size_t n_objects;
    char **common_prefixes;
    size_t n_prefixes;
    int is_truncated;
    char *next_continuation_token; /* NULL when not truncated */
} bk_s3_list_page;

void bk_s3_list_page_clear(bk_s3_list_page *p);
/* One ListObjectsV2 page. */
bk_code bk_s3_list_page_get(bk_s3_client *c, const bk_s3_list_params *params, bk_s3_list_page *page,
                            bk_err *err);
/* Every object under the parameters, page after page; fn returns non-zero to stop
 * early (the call then returns BK_OK). Common prefixes are not reported. */
bk_code bk_s3_list_each(bk_s3_client *c, const bk_s3_list_params *params,
                        int (*fn)(void *ud, const bk_s3_object *obj), void *ud, bk_err *err);

/* ---- buckets (for tools and tests) ---- */

bk_code bk_s3_head_bucket(bk_s3_client *c, bk_s3_result *res, bk_err *err);
/* CreateBucket with a LocationConstraint unless the region is us-east-1. */
bk_code bk_s3_create_bucket(bk_s3_client *c, bk_s3_result *res, bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
