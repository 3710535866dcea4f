/* SigV4 verification of incoming requests through the shared sigv4 module,
 * against the credentials the server accepts (creds.h). */
#ifndef MS3_AUTH_H
#define MS3_AUTH_H

#include <stdint.h>

#include "bkcache/chunked.h"
#include "bkcache/error.h"
#include "bkcache/sigv4.h"
#include "clock.h"
#include "creds.h"
#include "mock_s3.h"

typedef enum ms3_auth_kind {
    MS3_AUTH_NONE = 0, /* unsigned request, refused */
    MS3_AUTH_ANONYMOUS,
    MS3_AUTH_HEADER,
    MS3_AUTH_PRESIGNED,
    MS3_AUTH_STREAMING_SIGNED,
    MS3_AUTH_STREAMING_UNSIGNED_TRAILER,
    MS3_AUTH_STREAMING_SIGNED_TRAILER,
    MS3_AUTH_TOKEN, /* a credential service's token (IMDS, ECS, web identity) */
} ms3_auth_kind;

const char *ms3__auth_kind_name(ms3_auth_kind k);

typedef struct ms3_auth_config {
    const char *region;
    int anonymous;
    int64_t max_skew_seconds;
    ms3_clock *clock;
    ms3_creds *creds;
    /* Another service than S3 (STS): its name in the scope, and the body's
     * SHA-256 (hex) as the payload hash, which S3 takes from a header. NULL = S3. */
    const char *service;
    const char *body_sha256;
} ms3_auth_config;

typedef struct ms3_auth_result {
    ms3_auth_kind kind;
    int ok;
    /* On failure: the S3 error and what goes into its XML. */
    const char *error_code;
    int status; /* 0 = the error table's status for error_code */
    char message[512];
    bk_buf extra_xml; /* extra elements for <Error> (already escaped) */
    /* On SignatureDoesNotMatch: what the mock signed, for the journal. */
    char *canonical_request;
    char *string_to_sign;
    /* On success. */
    char access_key_id[128];
    ms3_access_profile profile;
    char payload_hash[80]; /* x-amz-content-sha256 as sent; "" when absent */
    int streaming;         /* the body is aws-chunked */
    bk_chunked_mode chunked_mode;
    unsigned char signing_key[32];
    char amz_date[17];
    char scope[160];
    char seed_signature[65];
} ms3_auth_result;

void ms3__auth_result_init(ms3_auth_result *r);
void ms3__auth_result_clear(ms3_auth_result *r);

/* Verifies the request's signature (header or presigned) or accepts it as
 * anonymous; a request offering several ways to authenticate is refused.
 * Fills out; returns out->ok. */
int ms3__auth_verify(const ms3_auth_config *cfg, const bk_sigv4_request *req, ms3_auth_result *out);

#endif
