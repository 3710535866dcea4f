/* AWS Signature Version 4 (AWS4-HMAC-SHA256): one implementation for the
 * client that signs and the mock that verifies, so both agree byte for byte.
 *
 * It works on a parsed request (bk_sigv4_request), never on an HTTP library's
 * objects. The secret access key never appears in any output of this module:
 * not in results, not in error messages.
 *
 * Canonical URI rules (bk_sigv4_path_rule), chosen by service when AUTO:
 *   - "s3": the raw path is percent-decoded once and encoded once (unreserved
 *     A-Za-z0-9-._~ and '/' kept, every other byte %XX uppercase); no dot-segment
 *     removal, no slash merging. A client sending ':' raw and one sending "%3A"
 *     therefore produce the same canonical URI ("%3A").
 *   - any other service: dot segments removed and duplicate slashes merged, then
 *     the path as sent is encoded once more (an already-encoded "%20" becomes
 *     "%2520"), as the generic AWS test suite shows.
 * Canonical query: every name and value is percent-decoded then re-encoded
 * strictly ('+' is a literal plus and becomes %2B; space is %20), pairs sorted
 * by encoded name then encoded value, a key without '=' becomes "key=".
 * Canonical headers: names lowercased, values trimmed with inner runs of spaces
 * and tabs folded to one space, repeated names joined with ',' in the order
 * sent, sorted by name.
 */
#ifndef BKCACHE_SIGV4_H
#define BKCACHE_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "bkcache/buf.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BK_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* Payload-hash values (the x-amz-content-sha256 header, last canonical line). */
#define BK_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define BK_SIGV4_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define BK_SIGV4_STREAMING_PAYLOAD_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define BK_SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
/* Hex SHA-256 of the empty string. */
#define BK_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Longest presigned lifetime AWS accepts (7 days), in seconds. */
#define BK_SIGV4_MAX_EXPIRES 604800L

typedef enum bk_sigv4_path_rule {
    BK_SIGV4_PATH_AUTO = 0,             /* S3 rules for service "s3", GENERIC otherwise */
    BK_SIGV4_PATH_S3,                   /* decode once, encode once, keep the path as sent */
    BK_SIGV4_PATH_GENERIC,              /* normalise, then encode the path as sent */
    BK_SIGV4_PATH_GENERIC_UNNORMALIZED, /* encode the path as sent, no normalisation */
} bk_sigv4_path_rule;

typedef struct bk_sigv4_header {
    const char *name;  /* as sent, any case */
    const char *value; /* as sent; continuation lines already joined by a space */
} bk_sigv4_header;

/* A request as seen on the wire. All strings are NUL-terminated and borrowed. */
typedef struct bk_sigv4_request {
    const char *method;             /* "GET", "PUT", ... */
    const char *raw_path;           /* path from the request line, without "?query"; "" means "/" */
    const char *raw_query;          /* query without '?'; NULL or "" when none */
    const bk_sigv4_header *headers; /* duplicates allowed */
    size_t n_headers;
    /* Last line of the canonical request: hex sha256 of the body or one of the
     * BK_SIGV4_*PAYLOAD* constants. NULL is allowed only when presigning or
     * verifying a presigned URL; it then means UNSIGNED-PAYLOAD for S3 and the
     * empty-body hash for other services. */
    const char *payload_hash;
    bk_sigv4_path_rule path_rule; /* 0 = AUTO */
} bk_sigv4_request;

/* What a signature computation produced. Strings are malloc'd (NULL when not
 * produced); release with bk_sigv4_result_clear. Never contains the secret. */
typedef struct bk_sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *signed_headers;  /* "host;x-amz-date" */
    char *scope;           /* "20130524/us-east-1/s3/aws4_request" */
    char *authorization;   /* header signing: the Authorization value, SDK form with ", " */
    char *presigned_query; /* presigning: the complete query to put after '?' */
    char signature[65];    /* hex; for verification, the expected signature */
} bk_sigv4_result;

void bk_sigv4_result_clear(bk_sigv4_result *r);

/* ---- low-level pieces (the aws-chunked codec uses these) ---- */

/* 32-byte signing key: HMAC chain "AWS4"+secret -> date8 -> region -> service -> "aws4_request". */
void bk_sigv4_signing_key(const char *secret_access_key, const char *date8, const char *region,
                          const char *service, unsigned char key[32]);
/* aws-chunked chunk signature; string to sign is
 * "AWS4-HMAC-SHA256-PAYLOAD\n<amz_date>\n<scope>\n<prev_sig_hex>\n<hex sha256("")>\n<hex
 * chunk_sha256>". scope is "<date8>/<region>/<service>/aws4_request". out_hex gets 64 hex chars +
 * NUL. */
void bk_sigv4_chunk_signature(const unsigned char key[32], const char *amz_date, const char *scope,
                              const char *prev_signature_hex, const unsigned char chunk_sha256[32],
                              char out_hex[65]);
/* Trailer signature; string to sign is
 * "AWS4-HMAC-SHA256-TRAILER\n<amz_date>\n<scope>\n<prev_sig_hex>\n<hex sha256(trailer_text)>",
 * trailer_text being the "name:value\n" lines of the trailing headers. */
void bk_sigv4_trailer_signature(const unsigned char key[32], const char *amz_date,
                                const char *scope, const char *prev_signature_hex,
                                const char *trailer_text, size_t trailer_len, char out_hex[65]);
/* Constant-time comparison of two hex signatures (CRYPTO_memcmp); 1 when equal.
 * NULL or different lengths compare unequal. */
int bk_sigv4_equal(const char *a, const char *b);

/* hex(HMAC-SHA256(key, data)): the signature of a string to sign. */
void bk_sigv4_hmac_hex(const unsigned char key[32], const void *data, size_t len, char out_hex[65]);
/* hex(SHA-256(data)), lowercase. */
void bk_sigv4_sha256_hex(const void *data, size_t len, char out_hex[65]);
void bk_sigv4_hex(const unsigned char *bytes, size_t n, char *out /* 2n+1 */);

/* "YYYYMMDDTHHMMSSZ" (UTC) for t. */
void bk_sigv4_format_amz_date(time_t t, char out[17]);
/* Parses "YYYYMMDDTHHMMSSZ" strictly into a UTC time; BK_EINVAL when malformed. */
bk_code bk_sigv4_parse_amz_date(const char *s, time_t *out, bk_err *err);

/* ---- canonical forms ---- */

/* Appends %XX-encoded bytes: unreserved kept, '/' kept when keep_slash. */
int bk_sigv4_uri_encode(bk_buf *out, const char *s, size_t len, int keep_slash);
/* Percent-decodes s; BK_EINVAL on a '%' not followed by two hex digits. */
bk_code bk_sigv4_uri_decode(bk_buf *out, const char *s, size_t len, bk_err *err);

/* The resolved rule: AUTO -> S3 for service "s3" (case-sensitive), GENERIC otherwise. */
bk_sigv4_path_rule bk_sigv4_path_rule_for(bk_sigv4_path_rule rule, const char *service);
/* AUTO is taken as S3 here (no service to look at). */
bk_code bk_sigv4_canonical_uri(const char *raw_path, bk_sigv4_path_rule rule, bk_buf *out,
                               bk_err *err);
/* skip_signature: leave out X-Amz-Signature (verifying a presigned URL). */
bk_code bk_sigv4_canonical_query(const char *raw_query, int skip_signature, bk_buf *out,
                                 bk_err *err);

/* The six-part canonical request. signed_headers: NULL signs every header of req
 * (the list is then built sorted and lowercase); otherwise a ';'-separated list
 * used verbatim (as a verifier must), each named header must be present.
 * signed_headers_out, when not NULL, receives the list used (malloc'd). */
bk_code bk_sigv4_canonical_request(const bk_sigv4_request *req, const char *service,
                                   const char *signed_headers, int presigned, bk_buf *out,
                                   char **signed_headers_out, bk_err *err);

/* A caller-chosen list ("Host;X-Amz-Date") made canonical: lowercased, sorted,
 * de-duplicated ("host;x-amz-date"). *out is malloc'd. BK_EINVAL on an empty
 * or invalid name. bk_sigv4_sign/presign apply this to their signed_headers. */
bk_code bk_sigv4_normalize_signed_headers(const char *list, char **out, bk_err *err);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>". */
bk_code bk_sigv4_string_to_sign(const char *amz_date, const char *scope,
                                const char *canonical_request, size_t len, bk_buf *out,
                                bk_err *err);

/* "<date8>/<region>/<service>/aws4_request". */
bk_code bk_sigv4_scope(const char *date8, const char *region, const char *service, bk_buf *out,
                       bk_err *err);

/* First value of a header (case-insensitive name), or NULL. */
const char *bk_sigv4_find_header(const bk_sigv4_request *req, const char *name);

/* ---- signing (client side) ---- */

/* Credentials plus region/service. Thread-safe: the derived key is cached per
 * date under a mutex, so one signer can serve many threads. */
typedef struct bk_sigv4_signer bk_sigv4_signer;

/* session_token may be NULL. Returns NULL with err set on bad arguments. */
bk_sigv4_signer *bk_sigv4_signer_new(const char *access_key_id, const char *secret_access_key,
                                     const char *session_token, const char *region,
                                     const char *service, bk_err *err);
void bk_sigv4_signer_free(bk_sigv4_signer *s);
const char *bk_sigv4_signer_access_key_id(const bk_sigv4_signer *s);
const char *bk_sigv4_signer_session_token(const bk_sigv4_signer *s); /* NULL when none */
const char *bk_sigv4_signer_region(const bk_sigv4_signer *s);
const char *bk_sigv4_signer_service(const bk_sigv4_signer *s);
/* The signing key for date8 (cached); for chaining chunk/trailer signatures. */
bk_code bk_sigv4_signer_key(bk_sigv4_signer *s, const char *date8, unsigned char key[32],
                            bk_err *err);

/* Header signing. The caller puts in req every header it will send and wants
 * signed, including Host, X-Amz-Date (= amz_date), x-amz-content-sha256 (S3)
 * and X-Amz-Security-Token when the signer has a token: nothing is added here.
 * signed_headers: NULL = all of req's headers, else the caller's choice (any
 * case and order; normalised with bk_sigv4_normalize_signed_headers).
 * Fills canonical_request, string_to_sign, signed_headers, scope, signature and
 * authorization. For streaming uploads, req->payload_hash is one of the
 * STREAMING-* constants and out->signature is the seed signature. */
bk_code bk_sigv4_sign(bk_sigv4_signer *s, const bk_sigv4_request *req, const char *amz_date,
                      const char *signed_headers, bk_sigv4_result *out, bk_err *err);

/* Presigning. req->raw_query holds the request's own parameters (may be empty);
 * X-Amz-Algorithm, -Credential, -Date, -SignedHeaders, -Expires and, with a
 * token, -Security-Token (signed, as S3 wants) are added. req->headers must
 * include Host. Fills everything but authorization; presigned_query is the
 * request's parameters followed by the X-Amz-* ones ending in X-Amz-Signature.
 * expires_seconds must be in 1..BK_SIGV4_MAX_EXPIRES. */
bk_code bk_sigv4_presign(bk_sigv4_signer *s, const bk_sigv4_request *req, const char *amz_date,
                         long expires_seconds, const char *signed_headers, bk_sigv4_result *out,
                         bk_err *err);

/* ---- verifying (server side) ---- */

/* The credential and signature a request carries, from an Authorization header
 * or presigned query parameters. Strings are malloc'd; free with bk_sigv4_auth_clear. */
typedef struct bk_sigv4_auth {
    int presigned;
    char *access_key_id; /* may contain ':' (e.g. "gitlab:gitlab") */
    char date8[9];
    char *region;
    char *service;
    char *signed_headers; /* as sent, ';'-separated */
    char signature[65];   /* lowercase hex as sent */
    /* presigned only: */
    char amz_date[17];   /* X-Amz-Date */
    long expires;        /* X-Amz-Expires */
    char *session_token; /* X-Amz-Security-Token, decoded; NULL when absent */
} bk_sigv4_auth;

void bk_sigv4_auth_clear(bk_sigv4_auth *a);

/* Parses "AWS4-HMAC-SHA256 Credential=AK/date8/region/service/aws4_request,
 * SignedHeaders=a;b, Signature=<64 hex>" (components in any order, separated
 * by ',' with optional spaces). The credential is split at its last four '/'.
 * BK_EINVAL for anything malformed (never crashes; safe on hostile input);
 * BK_EUNSUPPORTED for another algorithm (e.g. AWS v2 "AWS AK:sig"). */
bk_code bk_sigv4_parse_authorization(const char *value, bk_sigv4_auth *out, bk_err *err);

/* Parses the X-Amz-* parameters of a presigned URL's raw query. BK_ENOTFOUND
 * when there is no X-Amz-Signature/X-Amz-Credential at all (not presigned),
 * BK_EINVAL when present but malformed or incomplete. */
bk_code bk_sigv4_parse_presigned(const char *raw_query, bk_sigv4_auth *out, bk_err *err);

/* Recomputes the signature of req under auth with secret and compares it in
 * constant time. amz_date: the request's X-Amz-Date header for header auth
 * (NULL takes it from req's headers); ignored for presigned (auth->amz_date).
 * Checks that amz_date's day equals the credential's date8 and that every
 * signed header is present. Returns BK_OK when the signature matches,
 * BK_EAUTH when it does not (out then holds the expected canonical request
 * and string to sign, as S3 reports them), BK_EINVAL on malformed input.
 * Expiry and clock skew are left to the caller (bk_sigv4_parse_amz_date). */
bk_code bk_sigv4_verify(const bk_sigv4_request *req, const bk_sigv4_auth *auth,
                        const char *secret_access_key, const char *amz_date, bk_sigv4_result *out,
                        bk_err *err);
/* bk_sigv4_verify with the signing key of (auth->date8, auth->region,
 * auth->service) already derived (bk_sigv4_signing_key), for a server that
 * derives each credential's key once a day instead of once a request. */
bk_code bk_sigv4_verify_with_key(const bk_sigv4_request *req, const bk_sigv4_auth *auth,
                                 const unsigned char key[32], const char *amz_date,
                                 bk_sigv4_result *out, bk_err *err);

/* Name of the first x-amz-* header of req missing from signed_headers, or NULL
 * (S3 rejects such requests: "There were headers present in the request which
 * were not signed"). */
const char *bk_sigv4_unsigned_amz_header(const bk_sigv4_request *req, const char *signed_headers);

#ifdef __cplusplus
}
#endif

#endif
