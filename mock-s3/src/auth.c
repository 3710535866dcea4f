#include "auth.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "xml.h"

typedef struct cred {
    char *akid;
    char *secret;
    char *token;
    int64_t expires; /* 0 = never */
    ms3_access_profile profile;
} cred;

struct ms3_creds {
    pthread_mutex_t lock;
    cred *items;
    size_t n;
};

ms3_creds *ms3_creds_new(void)
{
    ms3_creds *c = calloc(1, sizeof(*c));
    if (c != NULL)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void cred_clear(cred *c)
{
    if (c->secret != NULL)
        memset(c->secret, 0, strlen(c->secret));
    free(c->akid);
    free(c->secret);
    free(c->token);
    memset(c, 0, sizeof(*c));
}

void ms3_creds_free(ms3_creds *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        cred_clear(&c->items[i]);
    free(c->items);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static cred *find(ms3_creds *c, const char *akid)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].akid, akid) == 0)
            return &c->items[i];
    return NULL;
}

int ms3_creds_add(ms3_creds *c, const char *akid, const char *secret, const char *token,
                  bk_err *err)
{
    if (akid == NULL || *akid == '\0' || secret == NULL || *secret == '\0')
        return bk_err_set(err, BK_EINVAL, "credentials need an access key id and a secret");
    cred nc = {strdup(akid), strdup(secret), token != NULL ? strdup(token) : NULL, 0,
               MS3_ACCESS_FULL};
    if (nc.akid == NULL || nc.secret == NULL || (token != NULL && nc.token == NULL)) {
        cred_clear(&nc);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    cred *existing = find(c, akid);
    if (existing != NULL) {
        nc.profile = existing->profile;
        cred_clear(existing);
        *existing = nc;
    } else {
        cred *ni = realloc(c->items, (c->n + 1) * sizeof(*ni));
        if (ni == NULL) {
            cred_clear(&nc);
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        } else {
            c->items = ni;
            c->items[c->n++] = nc;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int ms3_creds_set_expiry(ms3_creds *c, const char *akid, int64_t expires_unix, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    cred *cr = find(c, akid);
    if (cr != NULL)
        cr->expires = expires_unix;
    pthread_mutex_unlock(&c->lock);
    return cr != NULL ? 0 : (int)bk_err_set(err, BK_ENOTFOUND, "no credentials \"%s\"", akid);
}

int ms3_creds_set_profile(ms3_creds *c, const char *akid, ms3_access_profile p, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    cred *cr = find(c, akid);
    if (cr != NULL)
        cr->profile = p;
    pthread_mutex_unlock(&c->lock);
    return cr != NULL ? 0 : (int)bk_err_set(err, BK_ENOTFOUND, "no credentials \"%s\"", akid);
}

size_t ms3_creds_count(ms3_creds *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* A copy of the credential taken under the lock, so verification runs unlocked. */
static int lookup(ms3_creds *c, const char *akid, cred *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->lock);
    cred *cr = find(c, akid);
    int found = 0;
    if (cr != NULL) {
        out->akid = strdup(cr->akid);
        out->secret = strdup(cr->secret);
        out->token = cr->token != NULL ? strdup(cr->token) : NULL;
        out->expires = cr->expires;
        out->profile = cr->profile;
        found = out->akid != NULL && out->secret != NULL;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

const char *ms3_auth_kind_name(ms3_auth_kind k)
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
    default:
        return "none";
    }
}

void ms3_auth_result_init(ms3_auth_result *r)
{
    memset(r, 0, sizeof(*r));
    bk_buf_init(&r->extra_xml);
}

void ms3_auth_result_free(ms3_auth_result *r)
{
    bk_buf_free(&r->extra_xml);
    memset(r->signing_key, 0, sizeof(r->signing_key));
}

static int deny(ms3_auth_result *out, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int deny(ms3_auth_result *out, const char *code, const char *fmt, ...)
{
    out->ok = 0;
    out->error_code = code;
    if (fmt == NULL) {
        snprintf(out->message, sizeof(out->message), "%s", ms3_error_message(code));
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

int ms3_auth_verify(const ms3_auth_config *cfg, const bk_sigv4_request *req_in,
                    ms3_auth_result *out)
{
    bk_sigv4_request req = *req_in;
    const char *authz = bk_sigv4_find_header(&req, "Authorization");
    const char *payload = bk_sigv4_find_header(&req, "x-amz-content-sha256");
    snprintf(out->payload_hash, sizeof(out->payload_hash), "%s", payload ? payload : "");
    bk_err err;
    bk_sigv4_auth a;
    memset(&a, 0, sizeof(a));
    int presigned = 0;

    if (authz == NULL) {
        bk_code rc = bk_sigv4_parse_presigned(req.raw_query, &a, &err);
        if (rc == BK_ENOTFOUND && req.raw_query != NULL &&
            strstr(req.raw_query, "AWSAccessKeyId=") != NULL &&
            strstr(req.raw_query, "Signature=") != NULL) {
            /* A SigV2 presigned URL (old CLI default): S3 in SigV4-only regions refuses it. */
            bk_sigv4_auth_free(&a);
            out->kind = MS3_AUTH_PRESIGNED;
            return deny(out, "InvalidRequest",
                        "The authorization mechanism you have provided "
                        "is not supported. Please use AWS4-HMAC-SHA256.");
        }
        if (rc == BK_ENOTFOUND) {
            bk_sigv4_auth_free(&a);
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
        out->kind = MS3_AUTH_PRESIGNED;
        if (rc != BK_OK) {
            bk_sigv4_auth_free(&a);
            return deny(out, "AuthorizationQueryParametersError", "%s", err.msg);
        }
        presigned = 1;
    } else {
        out->kind = MS3_AUTH_HEADER;
        bk_code rc = bk_sigv4_parse_authorization(authz, &a, &err);
        if (rc == BK_EUNSUPPORTED) {
            bk_sigv4_auth_free(&a);
            return deny(out, "InvalidRequest",
                        "The authorization mechanism you have provided "
                        "is not supported. Please use AWS4-HMAC-SHA256.");
        }
        if (rc != BK_OK) {
            bk_sigv4_auth_free(&a);
            return deny(out, "AuthorizationHeaderMalformed",
                        "The authorization header is malformed; %s", err.msg);
        }
    }
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", a.access_key_id);
    int ok = 0;
    cred c;
    memset(&c, 0, sizeof(c));
    const char *malformed =
        presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
    const char *malformed_lead = presigned ? "Error parsing the X-Amz-Credential parameter"
                                           : "The authorization header is malformed";

    /* The scope is judged before the key: S3 redirects wrong-region requests early. */
    if (strcmp(a.region, cfg->region) != 0) {
        deny(out, malformed, "%s; the region '%s' is wrong; expecting '%s'", malformed_lead,
             a.region, cfg->region);
        ms3_xml_elem(&out->extra_xml, "Region", cfg->region);
        goto done;
    }
    if (strcmp(a.service, "s3") != 0) {
        deny(out, malformed, "%s; incorrect service '%s'. This endpoint belongs to 's3'.",
             malformed_lead, a.service);
        goto done;
    }
    if (!lookup(cfg->creds, a.access_key_id, &c)) {
        deny(out, "InvalidAccessKeyId", NULL);
        ms3_xml_elem(&out->extra_xml, "AWSAccessKeyId", a.access_key_id);
        goto done;
    }
    const char *token =
        presigned ? a.session_token : bk_sigv4_find_header(&req, "X-Amz-Security-Token");
    if (c.token != NULL && token == NULL) {
        /* Temporary keys are unknown without their token. */
        deny(out, "InvalidAccessKeyId", NULL);
        ms3_xml_elem(&out->extra_xml, "AWSAccessKeyId", a.access_key_id);
        goto done;
    }
    if (token != NULL && (c.token == NULL || strcmp(token, c.token) != 0)) {
        deny(out, "InvalidToken", NULL);
        goto done;
    }
    int64_t now = ms3_clock_now(cfg->clock);
    if (c.expires != 0 && now >= c.expires) {
        deny(out, "ExpiredToken", NULL);
        if (token != NULL)
            ms3_xml_elem(&out->extra_xml, "Token-0", "(redacted)");
        goto done;
    }

    const char *amz_date = NULL;
    char iso[40], server_iso[40];
    ms3_time_iso8601_ms(now * 1000, server_iso, sizeof(server_iso));
    if (presigned) {
        amz_date = a.amz_date;
        int64_t t = ms3_time_parse_amz(a.amz_date);
        if (t < 0) {
            deny(out, "AuthorizationQueryParametersError",
                 "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
            goto done;
        }
        if (a.expires < 0 || a.expires > BK_SIGV4_MAX_EXPIRES) {
            deny(out, "AuthorizationQueryParametersError",
                 "X-Amz-Expires must be less than a week (in seconds) that is 604800");
            goto done;
        }
        if (now > t + a.expires) {
            deny(out, "AccessDenied", "Request has expired");
            ms3_time_iso8601_ms((t + a.expires) * 1000, iso, sizeof(iso));
            bk_buf_printf(&out->extra_xml, "<X-Amz-Expires>%ld</X-Amz-Expires>", a.expires);
            ms3_xml_elem(&out->extra_xml, "Expires", iso);
            ms3_xml_elem(&out->extra_xml, "ServerTime", server_iso);
            goto done;
        }
        if (t > now + cfg->max_skew_seconds) {
            deny(out, "AccessDenied", "Request is not valid yet");
            goto done;
        }
        /* Presigned S3 URLs sign UNSIGNED-PAYLOAD unless the client says otherwise. */
        req.payload_hash = payload;
    } else {
        amz_date = bk_sigv4_find_header(&req, "x-amz-date");
        int64_t t = amz_date != NULL ? ms3_time_parse_amz(amz_date)
                                     : ms3_time_parse_rfc1123(bk_sigv4_find_header(&req, "Date"));
        if (t < 0) {
            deny(out, "AccessDenied",
                 "AWS authentication requires a valid Date or x-amz-date header");
            goto done;
        }
        int64_t skew = t > now ? t - now : now - t;
        if (skew > cfg->max_skew_seconds) {
            deny(out, "RequestTimeTooSkewed", NULL);
            ms3_time_iso8601_ms(t * 1000, iso, sizeof(iso));
            ms3_xml_elem(&out->extra_xml, "RequestTime", amz_date != NULL ? amz_date : iso);
            ms3_xml_elem(&out->extra_xml, "ServerTime", server_iso);
            bk_buf_printf(&out->extra_xml,
                          "<MaxAllowedSkewMilliseconds>%lld</MaxAllowedSkewMilliseconds>",
                          (long long)cfg->max_skew_seconds * 1000);
            goto done;
        }
        if (payload == NULL) {
            deny(out, "InvalidRequest",
                 "Missing required header for this request: x-amz-content-sha256");
            goto done;
        }
        bk_chunked_mode mode;
        if (!is_hex64(payload) && strcmp(payload, BK_SIGV4_UNSIGNED_PAYLOAD) != 0 &&
            !bk_chunked_mode_from_payload_hash(payload, &mode)) {
            deny(out, "InvalidArgument",
                 "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                 "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.");
            ms3_xml_elem(&out->extra_xml, "ArgumentName", "x-amz-content-sha256");
            ms3_xml_elem(&out->extra_xml, "ArgumentValue", payload);
            goto done;
        }
        req.payload_hash = payload;
    }

    const char *unsigned_hdr = bk_sigv4_unsigned_amz_header(&req, a.signed_headers);
    if (unsigned_hdr != NULL) {
        deny(out, "AccessDenied",
             "There were headers present in the request which were not "
             "signed");
        out->status = 400; /* S3 answers this AccessDenied with 400, not 403 */
        ms3_xml_elem(&out->extra_xml, "HeadersNotSigned", unsigned_hdr);
        goto done;
    }

    char absent[128];
    if (missing_signed_header(&req, a.signed_headers, absent, sizeof(absent))) {
        /* A proxy dropped a header the client signed: the signature cannot match. */
        deny(out, "SignatureDoesNotMatch", NULL);
        ms3_xml_elem(&out->extra_xml, "AWSAccessKeyId", a.access_key_id);
        ms3_xml_elem(&out->extra_xml, "SignedHeaderMissing", absent);
        goto done;
    }
    bk_sigv4_result res;
    memset(&res, 0, sizeof(res));
    bk_code vrc = bk_sigv4_verify(&req, &a, c.secret, presigned ? NULL : amz_date, &res, &err);
    if (vrc == BK_EAUTH) {
        deny(out, "SignatureDoesNotMatch", NULL);
        bk_buf *x = &out->extra_xml;
        ms3_xml_elem(x, "AWSAccessKeyId", a.access_key_id);
        ms3_xml_elem(x, "StringToSign", res.string_to_sign ? res.string_to_sign : "");
        ms3_xml_elem(x, "SignatureProvided", a.signature);
        bytes_xml(x, "StringToSignBytes", res.string_to_sign ? res.string_to_sign : "");
        ms3_xml_elem(x, "CanonicalRequest", res.canonical_request ? res.canonical_request : "");
        bytes_xml(x, "CanonicalRequestBytes", res.canonical_request ? res.canonical_request : "");
    } else if (vrc != BK_OK) {
        deny(out, malformed, "%s; %s", malformed_lead, err.msg);
    } else {
        ok = 1;
    }
    bk_sigv4_result_free(&res);
    if (!ok)
        goto done;

    out->ok = 1;
    out->profile = c.profile;
    if (!presigned) {
        set_streaming(out, payload);
        if (out->streaming) {
            out->kind = out->chunked_mode == BK_CHUNKED_SIGNED ? MS3_AUTH_STREAMING_SIGNED
                        : out->chunked_mode == BK_CHUNKED_SIGNED_TRAILER
                            ? MS3_AUTH_STREAMING_SIGNED_TRAILER
                            : MS3_AUTH_STREAMING_UNSIGNED_TRAILER;
            bk_sigv4_signing_key(c.secret, a.date8, a.region, a.service, out->signing_key);
            snprintf(out->amz_date, sizeof(out->amz_date), "%s", amz_date ? amz_date : "");
            snprintf(out->scope, sizeof(out->scope), "%s/%s/%s/aws4_request", a.date8, a.region,
                     a.service);
            snprintf(out->seed_signature, sizeof(out->seed_signature), "%s", a.signature);
        }
    }
done:
    bk_sigv4_auth_free(&a);
    cred_clear(&c);
    return out->ok;
}
