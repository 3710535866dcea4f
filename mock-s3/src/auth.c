/* SigV4 verification of incoming requests, one reader per way of
 * authenticating, as S3 judges them:
 *
 *   classify        which way the request authenticates (header, presigned
 *                   query, none); several at once are refused
 *   verify_header   Authorization header: scope, key, request time, payload
 *                   hash, signed headers, signature
 *   verify_presigned  X-Amz-* query: scope, key, date and expiry, signed
 *                   headers, signature
 *   accept_anonymous  no signature, when the server takes anonymous requests
 *
 * The header and presigned readers share the checks of the scope, the key and
 * the signature. The signature arithmetic itself is impl's sigv4 module. */
#include "auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "xml.h"

const char *ms3__auth_kind_name(ms3_auth_kind k)
{
    switch (k) {
    case MS3_AUTH_ANONYMOUS:
        return "anonymous";
    case MS3_AUTH_HEADER:
        return "header";
    case MS3_AUTH_PRESIGNED:
        return "presigned";
    case MS3_AUTH_STREAMING_SIGNED:
        return "streaming-signed";
    case MS3_AUTH_STREAMING_UNSIGNED_TRAILER:
        return "streaming-unsigned-trailer";
    case MS3_AUTH_STREAMING_SIGNED_TRAILER:
        return "streaming-signed-trailer";
    case MS3_AUTH_TOKEN:
        return "token";
    default:
        return "none";
    }
}

void ms3__auth_result_init(ms3_auth_result *r)
{
    memset(r, 0, sizeof(*r));
    bk_buf_init(&r->extra_xml);
}

void ms3__auth_result_clear(ms3_auth_result *r)
{
    bk_buf_clear(&r->extra_xml);
    free(r->canonical_request);
    free(r->string_to_sign);
    r->canonical_request = r->string_to_sign = NULL;
    memset(r->signing_key, 0, sizeof(r->signing_key));
}

static const char SIGV4_ONLY[] = "The authorization mechanism you have provided is not supported. "
                                 "Please use AWS4-HMAC-SHA256.";

/* Records the refusal; returns 0 so checks can `return deny(...)`. */
static int deny(ms3_auth_result *out, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int deny(ms3_auth_result *out, const char *code, const char *fmt, ...)
{
    out->ok = 0;
    out->error_code = code;
    if (fmt == NULL) {
        snprintf(out->message, sizeof(out->message), "%s", ms3__error_message(code));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->message, sizeof(out->message), fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void bytes_xml(bk_buf *b, const char *name, const char *text)
{
    bk_buf_printf(b, "<%s>", name);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        bk_buf_printf(b, p == (const unsigned char *)text ? "%02x" : " %02x", *p);
    bk_buf_printf(b, "</%s>", name);
}

/* Copies into name the first entry of a SignedHeaders list the request does not
 * carry; 1 when there is one. */
static int missing_signed_header(const bk_sigv4_request *req, const char *list, char *name,
                                 size_t n)
{
    const char *p = list;
    while (p != NULL && *p) {
        const char *semi = strchr(p, ';');
        size_t len = semi != NULL ? (size_t)(semi - p) : strlen(p);
        if (len > 0 && len < n) {
            memcpy(name, p, len);
            name[len] = '\0';
            if (bk_sigv4_find_header(req, name) == NULL)
                return 1;
        }
        p = semi != NULL ? semi + 1 : NULL;
    }
    return 0;
}

static void set_streaming(ms3_auth_result *out, const char *payload_hash)
{
    bk_chunked_mode mode;
    if (payload_hash != NULL && bk_chunked_mode_from_payload_hash(payload_hash, &mode)) {
        out->streaming = 1;
        out->chunked_mode = mode;
    }
}

/* ---------------------------------------------------------------- classify */

typedef enum auth_mode { MODE_REFUSED, MODE_NONE, MODE_HEADER, MODE_PRESIGNED } auth_mode;

static const char ONE_MECHANISM[] =
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
    "query string parameter or the Authorization header should be specified";

/* A SigV2 presigned URL (the old CLI default). */
static int sigv2_query(const char *q)
{
    return q != NULL && strstr(q, "AWSAccessKeyId=") != NULL && strstr(q, "Signature=") != NULL;
}

/* X-Amz-* presigned parameters, by the rule the presigned reader uses. */
static int presigned_query(const char *q)
{
    bk_sigv4_auth a;
    bk_err err;
    bk_code rc = bk_sigv4_parse_presigned(q, &a, &err);
    bk_sigv4_auth_clear(&a);
    return rc != BK_ENOTFOUND;
}

/* Which way the request authenticates. S3 takes one per request: a second
 * Authorization header (in either order) or a signed query beside the header
 * is refused, and so is SigV2. */
static auth_mode classify(const bk_sigv4_request *req, const char **authz, ms3_auth_result *out)
{
    size_t n_authz = 0;
    *authz = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, "Authorization") == 0) {
            n_authz++;
            *authz = req->headers[i].value;
        }
    }
    int presigned = presigned_query(req->raw_query), sigv2 = sigv2_query(req->raw_query);
    if (n_authz > 1 || (n_authz == 1 && (presigned || sigv2))) {
        out->kind = MS3_AUTH_HEADER;
        deny(out, "InvalidArgument", "%s", ONE_MECHANISM);
        ms3__xml_elem(&out->extra_xml, "ArgumentName", "Authorization");
        return MODE_REFUSED;
    }
    if (n_authz == 1)
        return MODE_HEADER;
    if (presigned)
        return MODE_PRESIGNED;
    if (sigv2) {
        /* S3 in SigV4-only regions refuses it. */
        out->kind = MS3_AUTH_PRESIGNED;
        deny(out, "InvalidRequest", "%s", SIGV4_ONLY);
        return MODE_REFUSED;
    }
    return MODE_NONE;
}

static int accept_anonymous(const ms3_auth_config *cfg, const char *payload, ms3_auth_result *out)
{
    if (!cfg->anonymous) {
        out->kind = MS3_AUTH_NONE;
        return deny(out, "AccessDenied", NULL);
    }
    out->kind = MS3_AUTH_ANONYMOUS;
    set_streaming(out, payload);
    if (out->streaming && out->chunked_mode != BK_CHUNKED_UNSIGNED_TRAILER)
        return deny(out, "AccessDenied", "Signed aws-chunked bodies need a signed request");
    out->ok = 1;
    return 1;
}

/* ---------------------------------------------------------------- shared checks */

/* One signed request being verified. Each check returns 1 to go on, or 0
 * after denying. */
typedef struct verify {
    const ms3_auth_config *cfg;
    bk_sigv4_request req; /* payload_hash set as the signature covers it */
    const char *payload;  /* x-amz-content-sha256, NULL when absent */
    bk_sigv4_auth a;
    ms3_cred c;
    int presigned;
    const char *amz_date;
    int64_t now;
    unsigned char key[32]; /* the signing key, once the key is known */
    ms3_auth_result *out;
} verify;

static void verify_init(verify *v, const ms3_auth_config *cfg, const bk_sigv4_request *req,
                        ms3_auth_result *out, int presigned)
{
    memset(v, 0, sizeof(*v));
    v->cfg = cfg;
    v->req = *req;
    v->payload = bk_sigv4_find_header(req, "x-amz-content-sha256");
    v->presigned = presigned;
    v->now = ms3__clock_now(cfg->clock);
    v->out = out;
    out->kind = presigned ? MS3_AUTH_PRESIGNED : MS3_AUTH_HEADER;
}

static void verify_clear(verify *v)
{
    OPENSSL_cleanse(v->key, sizeof(v->key));
    bk_sigv4_auth_clear(&v->a);
    ms3__cred_clear(&v->c);
}

/* <ServerTime>, the mock's now, for the errors about time. */
static void server_time(const verify *v, bk_buf *x)
{
    char iso[40];
    ms3__time_iso8601_ms(v->now * 1000, iso, sizeof(iso));
    ms3__xml_elem(x, "ServerTime", iso);
}

/* The error of a malformed credential, as each reader names it. */
static const char *malformed_code(const verify *v)
{
    return v->presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
}

static const char *malformed_lead(const verify *v)
{
    return v->presigned ? "Error parsing the X-Amz-Credential parameter"
                        : "The authorization header is malformed";
}

/* Region and service. Judged before the key: S3 redirects wrong-region
 * requests early. */
static int check_scope(verify *v)
{
    snprintf(v->out->access_key_id, sizeof(v->out->access_key_id), "%s", v->a.access_key_id);
    if (strcmp(v->a.region, v->cfg->region) != 0) {
        deny(v->out, malformed_code(v), "%s; the region '%s' is wrong; expecting '%s'",
             malformed_lead(v), v->a.region, v->cfg->region);
        ms3__xml_elem(&v->out->extra_xml, "Region", v->cfg->region);
        return 0;
    }
    const char *service = v->cfg->service != NULL ? v->cfg->service : "s3";
    if (strcmp(v->a.service, service) != 0)
        return deny(v->out, malformed_code(v),
                    "%s; incorrect service '%s'. This endpoint belongs to '%s'.", malformed_lead(v),
                    v->a.service, service);
    return 1;
}

static int deny_unknown_key(verify *v)
{
    deny(v->out, "InvalidAccessKeyId", NULL);
    ms3__xml_elem(&v->out->extra_xml, "AWSAccessKeyId", v->a.access_key_id);
    return 0;
}

/* The access key: known, its session token, not expired. */
static int check_key(verify *v)
{
    if (!ms3__creds_lookup(v->cfg->creds, v->a.access_key_id, &v->c))
        return deny_unknown_key(v);
    const char *token =
        v->presigned ? v->a.session_token : bk_sigv4_find_header(&v->req, "X-Amz-Security-Token");
    if (v->c.token != NULL && token == NULL)
        return deny_unknown_key(v); /* temporary keys are unknown without their token */
    if (token != NULL && (v->c.token == NULL || strcmp(token, v->c.token) != 0))
        return deny(v->out, "InvalidToken", NULL);
    if (v->c.expires != 0 && v->now >= v->c.expires) {
        if (v->c.token == NULL) /* only session tokens expire on S3 */
            return deny(v->out, "AccessDenied", NULL);
        deny(v->out, "ExpiredToken", NULL);
        ms3__xml_elem(&v->out->extra_xml, "Token-0", "(redacted)");
        return 0;
    }
    return 1;
}

/* Every x-amz-* header sent is signed, and every signed header was sent. */
static int check_signed_headers(verify *v)
{
    const char *unsigned_hdr = bk_sigv4_unsigned_amz_header(&v->req, v->a.signed_headers);
    if (unsigned_hdr != NULL) {
        deny(v->out, "AccessDenied",
             "There were headers present in the request which were not signed");
        ms3__xml_elem(&v->out->extra_xml, "HeadersNotSigned", unsigned_hdr);
        return 0;
    }
    char absent[128];
    if (missing_signed_header(&v->req, v->a.signed_headers, absent, sizeof(absent))) {
        /* A proxy dropped a header the client signed: the signature cannot match. */
        deny(v->out, "SignatureDoesNotMatch", NULL);
        ms3__xml_elem(&v->out->extra_xml, "AWSAccessKeyId", v->a.access_key_id);
        ms3__xml_elem(&v->out->extra_xml, "SignedHeaderMissing", absent);
        return 0;
    }
    return 1;
}

/* What S3 tells a client whose signature does not match, so it can diff its
 * canonical request against the server's. */
static void signature_mismatch(verify *v, const bk_sigv4_result *res)
{
    deny(v->out, "SignatureDoesNotMatch", NULL);
    const char *sts = res->string_to_sign != NULL ? res->string_to_sign : "";
    const char *canonical = res->canonical_request != NULL ? res->canonical_request : "";
    bk_buf *x = &v->out->extra_xml;
    ms3__xml_elem(x, "AWSAccessKeyId", v->a.access_key_id);
    ms3__xml_elem(x, "StringToSign", sts);
    ms3__xml_elem(x, "SignatureProvided", v->a.signature);
    bytes_xml(x, "StringToSignBytes", sts);
    ms3__xml_elem(x, "CanonicalRequest", canonical);
    bytes_xml(x, "CanonicalRequestBytes", canonical);
    free(v->out->canonical_request);
    free(v->out->string_to_sign);
    v->out->canonical_request = strdup(canonical);
    v->out->string_to_sign = strdup(sts);
}

/* The signature, with the signing key of the request's scope from the
 * registry's cache (derived once a day, not once a request). */
static int check_signature(verify *v)
{
    if (!ms3__creds_signing_key(v->cfg->creds, v->a.access_key_id, v->a.date8, v->a.region,
                                v->a.service, v->key))
        return deny_unknown_key(v);
    bk_sigv4_result res;
    memset(&res, 0, sizeof(res));
    bk_err err;
    bk_code rc = bk_sigv4_verify_with_key(&v->req, &v->a, v->key, v->presigned ? NULL : v->amz_date,
                                          &res, &err);
    if (rc == BK_EAUTH)
        signature_mismatch(v, &res);
    else if (rc != BK_OK)
        deny(v->out, malformed_code(v), "%s; %s", malformed_lead(v), err.msg);
    bk_sigv4_result_clear(&res);
    return rc == BK_OK;
}

static int accept_signed(verify *v)
{
    v->out->ok = 1;
    v->out->profile = v->c.profile;
    return 1;
}

/* ---------------------------------------------------------------- header auth */

static int parse_header(verify *v, const char *authz)
{
    bk_err err;
    bk_code rc = bk_sigv4_parse_authorization(authz, &v->a, &err);
    if (rc == BK_EUNSUPPORTED)
        return deny(v->out, "InvalidRequest", "%s", SIGV4_ONLY);
    if (rc != BK_OK)
        return deny(v->out, "AuthorizationHeaderMalformed",
                    "The authorization header is malformed; %s", err.msg);
    return 1;
}

/* x-amz-date (or Date) within the allowed skew of the mock's clock. */
static int check_request_time(verify *v)
{
    v->amz_date = bk_sigv4_find_header(&v->req, "x-amz-date");
    int64_t t = v->amz_date != NULL
                    ? ms3__time_parse_amz(v->amz_date)
                    : ms3__time_parse_rfc1123(bk_sigv4_find_header(&v->req, "Date"));
    if (t < 0)
        return deny(v->out, "AccessDenied",
                    "AWS authentication requires a valid Date or x-amz-date header");
    int64_t skew = t > v->now ? t - v->now : v->now - t;
    if (skew <= v->cfg->max_skew_seconds)
        return 1;
    deny(v->out, "RequestTimeTooSkewed", NULL);
    char iso[40];
    ms3__time_iso8601_ms(t * 1000, iso, sizeof(iso));
    bk_buf *x = &v->out->extra_xml;
    ms3__xml_elem(x, "RequestTime", v->amz_date != NULL ? v->amz_date : iso);
    server_time(v, x);
    bk_buf_printf(x, "<MaxAllowedSkewMilliseconds>%lld</MaxAllowedSkewMilliseconds>",
                  (long long)v->cfg->max_skew_seconds * 1000);
    return 0;
}

/* x-amz-content-sha256 is required and must be a hash or a known mode; a
 * service other than S3 signs the body's hash. */
static int check_payload_hash(verify *v)
{
    if (v->cfg->body_sha256 != NULL) {
        v->req.payload_hash = v->cfg->body_sha256;
        return 1;
    }
    const char *p = v->payload;
    if (p == NULL)
        return deny(v->out, "InvalidRequest",
                    "Missing required header for this request: x-amz-content-sha256");
    bk_chunked_mode mode;
    if (!is_hex64(p) && strcmp(p, BK_SIGV4_UNSIGNED_PAYLOAD) != 0 &&
        !bk_chunked_mode_from_payload_hash(p, &mode)) {
        deny(v->out, "InvalidArgument",
             "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a "
             "valid sha256 value.");
        ms3__xml_elem(&v->out->extra_xml, "ArgumentName", "x-amz-content-sha256");
        ms3__xml_elem(&v->out->extra_xml, "ArgumentValue", p);
        return 0;
    }
    v->req.payload_hash = p;
    return 1;
}

/* An aws-chunked body carries chunk signatures chained from this request's:
 * keep what the ingest needs to verify them. */
static void keep_streaming_keys(verify *v)
{
    ms3_auth_result *out = v->out;
    set_streaming(out, v->payload);
    if (!out->streaming)
        return;
    out->kind = out->chunked_mode == BK_CHUNKED_SIGNED ? MS3_AUTH_STREAMING_SIGNED
                : out->chunked_mode == BK_CHUNKED_SIGNED_TRAILER
                    ? MS3_AUTH_STREAMING_SIGNED_TRAILER
                    : MS3_AUTH_STREAMING_UNSIGNED_TRAILER;
    memcpy(out->signing_key, v->key, sizeof(out->signing_key));
    snprintf(out->amz_date, sizeof(out->amz_date), "%s", v->amz_date != NULL ? v->amz_date : "");
    snprintf(out->scope, sizeof(out->scope), "%s/%s/%s/aws4_request", v->a.date8, v->a.region,
             v->a.service);
    snprintf(out->seed_signature, sizeof(out->seed_signature), "%s", v->a.signature);
}

static int verify_header(const ms3_auth_config *cfg, const bk_sigv4_request *req, const char *authz,
                         ms3_auth_result *out)
{
    verify v;
    verify_init(&v, cfg, req, out, 0);
    if (parse_header(&v, authz) && check_scope(&v) && check_key(&v) && check_request_time(&v) &&
        check_payload_hash(&v) && check_signed_headers(&v) && check_signature(&v)) {
        accept_signed(&v);
        keep_streaming_keys(&v);
    }
    verify_clear(&v);
    return out->ok;
}

/* ---------------------------------------------------------------- presigned */

static int parse_query(verify *v)
{
    bk_err err;
    if (bk_sigv4_parse_presigned(v->req.raw_query, &v->a, &err) != BK_OK)
        return deny(v->out, "AuthorizationQueryParametersError", "%s", err.msg);
    return 1;
}

/* X-Amz-Date and X-Amz-Expires: a week at most, not expired, not in the future. */
static int check_validity(verify *v)
{
    int64_t t = ms3__time_parse_amz(v->a.amz_date);
    if (t < 0)
        return deny(v->out, "AuthorizationQueryParametersError",
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    if (v->a.expires < 0 || v->a.expires > BK_SIGV4_MAX_EXPIRES)
        return deny(v->out, "AuthorizationQueryParametersError",
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    if (v->now > t + v->a.expires) {
        deny(v->out, "AccessDenied", "Request has expired");
        char iso[40];
        ms3__time_iso8601_ms((t + v->a.expires) * 1000, iso, sizeof(iso));
        bk_buf *x = &v->out->extra_xml;
        bk_buf_printf(x, "<X-Amz-Expires>%ld</X-Amz-Expires>", v->a.expires);
        ms3__xml_elem(x, "Expires", iso);
        server_time(v, x);
        return 0;
    }
    if (t > v->now + v->cfg->max_skew_seconds)
        return deny(v->out, "AccessDenied", "Request is not valid yet");
    /* Presigned S3 URLs sign UNSIGNED-PAYLOAD unless the client says otherwise. */
    v->req.payload_hash = v->payload;
    return 1;
}

static int verify_presigned(const ms3_auth_config *cfg, const bk_sigv4_request *req,
                            ms3_auth_result *out)
{
    verify v;
    verify_init(&v, cfg, req, out, 1);
    if (parse_query(&v) && check_scope(&v) && check_key(&v) && check_validity(&v) &&
        check_signed_headers(&v) && check_signature(&v))
        accept_signed(&v);
    verify_clear(&v);
    return out->ok;
}

/* ---------------------------------------------------------------- dispatch */

int ms3__auth_verify(const ms3_auth_config *cfg, const bk_sigv4_request *req, ms3_auth_result *out)
{
    const char *payload = bk_sigv4_find_header(req, "x-amz-content-sha256");
    snprintf(out->payload_hash, sizeof(out->payload_hash), "%s", payload != NULL ? payload : "");
    const char *authz = NULL;
    switch (classify(req, &authz, out)) {
    case MODE_HEADER:
        return verify_header(cfg, req, authz, out);
    case MODE_PRESIGNED:
        return verify_presigned(cfg, req, out);
    case MODE_NONE:
        return accept_anonymous(cfg, payload, out);
    case MODE_REFUSED:
    default:
        return 0;
    }
}
