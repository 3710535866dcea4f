/* Helpers shared by the mock-s3 tests: a server with known credentials (in
 * process, or listening when a test needs the socket), and requests signed with
 * the project's sigv4 module, sent in process or through libcurl. */
#ifndef MS3_TEST_H
#define MS3_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bkcache/buf.h"
#include "mock_s3.h"

#define T_AK "AKIDTEST"
#define T_SK "secret/test+key"
#define T_BUCKET "bkt"

/* Starts a server on 127.0.0.1:0 with T_AK/T_SK and bucket T_BUCKET; opts NULL
 * means ms3t_default_options. NULL on failure (printed). */
ms3_server *ms3t_start(const ms3_options *opts);
/* The same without a listener (ms3_server_new_inproc): for tests where a socket
 * adds nothing. */
ms3_server *ms3t_new_inproc(const ms3_options *opts);
void ms3t_default_options(ms3_options *o); /* min_part_size 1 KiB */

typedef struct ms3t_request {
    const char *method;
    const char *target;         /* raw "/bucket/key?query", sent as is */
    const char *const *headers; /* "Name: value", NULL-terminated; signed if x-amz-* */
    const void *body;
    size_t body_len;
    int has_body;                                        /* send body (also when body_len == 0) */
    int sign;                                            /* 0 = unsigned, 1 = header auth */
    const char *payload_hash;                            /* NULL = hex sha256 of the body */
    const char *access_key, *secret_key, *session_token; /* NULL = T_AK/T_SK, none */
    const char *region;                                  /* NULL = us-east-1 */
    const char *service; /* NULL = s3; another (sts) signs without x-amz-content-sha256 */
    const char *host;    /* Host header; NULL = 127.0.0.1:PORT */
    time_t when;         /* signing time; 0 = now */
    const char *const *unsigned_headers; /* sent but left out of the signature */
    const char *const *after_auth;       /* sent after the Authorization header, unsigned */
    long timeout_ms;                     /* 0 = 20 s */
    /* A generated body instead of `body` (set payload_hash, e.g. UNSIGNED-PAYLOAD):
     * gen fills up to n bytes at offset off and returns how many. */
    size_t (*gen)(void *ud, char *buf, size_t n, uint64_t off);
    void *gen_ud;
    uint64_t gen_len;
    ms3_endpoint endpoint; /* the listener (ms3t_send): S3 (0), IMDS or ECS */
} ms3t_request;

typedef struct ms3t_response {
    long status;
    int curl_code; /* CURLE_OK when the exchange completed */
    bk_buf headers;
    bk_buf body;
} ms3t_response;

/* Performs the request against base_url ("http://127.0.0.1:PORT") with libcurl. */
void ms3t_do(const char *base_url, const ms3t_request *rq, ms3t_response *out);
/* Performs the request on s: in process (ms3_server_handle) when s has no
 * listener, else over its socket. In process, the body is sent whole with its
 * Content-Length, and a cut connection shows as a non-zero curl_code. */
void ms3t_send(ms3_server *s, const ms3t_request *rq, ms3t_response *out);
/* ms3t_send for the status alone (the response is freed). */
long ms3t_send_status(ms3_server *s, const ms3t_request *rq);
void ms3t_response_free(ms3t_response *r);
/* Value of a response header (case-insensitive) copied into buf; NULL when absent. */
const char *ms3t_header(const ms3t_response *r, const char *name, char *buf, size_t n);
/* Text of <tag>...</tag> in the body (first occurrence) copied into buf; NULL when absent. */
const char *ms3t_xml(const ms3t_response *r, const char *tag, char *buf, size_t n);
int ms3t_count(const char *haystack, const char *needle);

/* Shorthands: signed request with T_AK/T_SK; body may be NULL. */
void ms3t_simple(ms3_server *s, const char *method, const char *target, const void *body,
                 size_t len, ms3t_response *out);

/* A presigned URL (full, with host) for method+target, expiring in `expires` seconds. */
char *ms3t_presign(ms3_server *s, const char *method, const char *target, long expires,
                   time_t when);

/* Fills n bytes with a deterministic pattern. */
void ms3t_fill(void *buf, size_t n, unsigned seed);
/* A fresh empty directory under the system temp dir (malloc'ed path). */
char *ms3t_tempdir(void);
void ms3t_rmtree(const char *path);

#endif
