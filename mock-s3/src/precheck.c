/* What a request's headers decide before its body is read: the checks every
 * operation makes (policies, access profiles, the payload headers of an
 * upload), so a refused upload with Expect: 100-continue never sends its
 * body, and how the body is then read (the ingest). Checks of one operation
 * are its row's precheck in ops.c. */
#include "precheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/checksum.h"
#include "ops.h"

static int fail(ms3_req *r, const char *code, const char *message, const char *xml)
{
    ms3__resp_error(r, code, message, xml);
    return -1;
}

int ms3__req_checksum_header(const ms3_req *r, bk_checksum_alg *alg, const char **value)
{
    int found = 0;
    *alg = BK_CHECKSUM_NONE;
    *value = NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        bk_checksum_alg a;
        if (bk_checksum_alg_from_header(r->headers[i].name, &a)) {
            if (found && a != *alg)
                return -1;
            found = 1;
            *alg = a;
            *value = r->headers[i].value;
        }
    }
    return found;
}

int ms3__precheck_checksum_headers(ms3_req *r)
{
    bk_checksum_alg alg;
    const char *value;
    int n = ms3__req_checksum_header(r, &alg, &value);
    if (n < 0)
        return fail(r, "InvalidRequest",
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                    "allowed.",
                    NULL);
    char msg[160];
    if (n > 0 && !bk_checksum_value_valid(alg, value, strlen(value))) {
        snprintf(msg, sizeof(msg), "Value for %s header is invalid.", bk_checksum_header_name(alg));
        return fail(r, "InvalidRequest", msg, NULL);
    }
    const char *sdk = ms3__req_header(r, "x-amz-sdk-checksum-algorithm");
    bk_checksum_alg sdk_alg;
    if (sdk != NULL && (!bk_checksum_alg_from_name(sdk, &sdk_alg) || (n > 0 && sdk_alg != alg)))
        return fail(r, "InvalidRequest",
                    "Value for x-amz-sdk-checksum-algorithm header is invalid.", NULL);
    const char *md5 = ms3__req_header(r, "Content-MD5");
    unsigned char raw[32];
    if (md5 != NULL && bk_checksum_base64_decode(md5, strlen(md5), raw, sizeof(raw)) != 16)
        return fail(r, "InvalidDigest", NULL, NULL);
    return 0;
}

static int contains_token_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; p != NULL && *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return 1;
    return 0;
}

static int check_payload_headers(ms3_req *r)
{
    int streaming = r->auth.streaming;
    const char *ce = ms3__req_header(r, "Content-Encoding");
    int chunked_ce = ce != NULL && contains_token_ci(ce, "aws-chunked");
    if (r->policy.refuse_aws_chunked && (streaming || chunked_ce))
        return fail(r, "NotImplemented", "AWS chunked encoding not supported", NULL);
    if (r->policy.require_content_md5) {
        bk_checksum_alg alg;
        const char *v;
        if (ms3__req_header(r, "Content-MD5") == NULL &&
            ms3__req_checksum_header(r, &alg, &v) == 0 &&
            ms3__req_header(r, "x-amz-trailer") == NULL)
            return fail(r, "InvalidRequest",
                        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object "
                        "requests with Object Lock parameters",
                        NULL);
    }
    /* aws-chunked may travel inside HTTP chunked framing (the JS SDK v3 streams so);
     * a plain body needs its length up front, as on S3. */
    int http_chunked = ms3__req_header(r, "Transfer-Encoding") != NULL;
    if (!r->content_length_known && !(streaming && http_chunked)) {
        if (streaming)
            return fail(r, "IncompleteBody", NULL, NULL);
        return fail(r, "MissingContentLength", NULL, NULL);
    }
    if (streaming && ms3__req_header(r, "x-amz-decoded-content-length") == NULL)
        return fail(r, "MissingContentLength",
                    "You must provide the x-amz-decoded-content-length header.", NULL);
    uint64_t size = r->content_length;
    const char *dl = ms3__req_header(r, "x-amz-decoded-content-length");
    if (streaming && dl != NULL)
        size = strtoull(dl, NULL, 10);
    if (size > MS3_MAX_OBJECT_PUT) {
        char xml[128];
        snprintf(xml, sizeof(xml),
                 "<ProposedSize>%llu</ProposedSize><MaxSizeAllowed>%llu"
                 "</MaxSizeAllowed>",
                 (unsigned long long)size, (unsigned long long)MS3_MAX_OBJECT_PUT);
        return fail(r, "EntityTooLarge", NULL, xml);
    }
    return ms3__precheck_checksum_headers(r);
}

int ms3__precheck_request(ms3_req *r)
{
    ms3_server *s = r->srv;
    unsigned flags = r->op->flags;
    if (r->policy.reject_empty_accept_encoding) {
        const char *ae = ms3__req_header(r, "Accept-Encoding");
        if (ae != NULL && *ae == '\0')
            return fail(r, "InvalidArgument", "Unsupported Accept-Encoding specified", NULL);
    }
    if (!(flags & MS3_OPF_NO_BUCKET) && !ms3__store_bucket_exists(s->store, r->route.bucket))
        return fail(r, "NoSuchBucket", NULL, NULL);
    if (r->access.read_only && (flags & MS3_OPF_WRITE))
        return fail(r, "AccessDenied", NULL, NULL);
    if (r->access.no_list && (flags & MS3_OPF_LISTS))
        return fail(r, "AccessDenied", NULL, NULL);
    if (r->policy.require_sse && (flags & MS3_OPF_CREATES_OBJECT) &&
        ms3__req_header(r, "x-amz-server-side-encryption") == NULL)
        return fail(r, "AccessDenied", NULL, NULL);
    if (r->auth.streaming && !(flags & MS3_OPF_PAYLOAD))
        return fail(r, "InvalidRequest",
                    "The value of x-amz-content-sha256 header is invalid for this operation.",
                    "<ArgumentName>x-amz-content-sha256</ArgumentName>");
    if ((flags & MS3_OPF_PAYLOAD) && check_payload_headers(r) != 0)
        return -1;
    return 0;
}

int ms3__req_ingest_config(ms3_req *r, ms3_ingest_config *cfg)
{
    const char *md5 = ms3__req_header(r, "Content-MD5");
    if (md5 != NULL)
        cfg->content_md5_b64 = md5;
    bk_checksum_alg alg;
    const char *value;
    if (ms3__req_checksum_header(r, &alg, &value) > 0) {
        cfg->header_checksum_alg = alg;
        cfg->header_checksum_b64 = value;
    } else if (r->auth.kind == MS3_AUTH_PRESIGNED) {
        /* Presigned URLs may carry the checksum as a query parameter (the JS SDK bakes
         * one in); S3 holds the body to it like to the header. */
        for (size_t i = 0; i < r->route.n_params; i++) {
            if (bk_checksum_alg_from_header(r->route.params[i].name, &alg)) {
                cfg->header_checksum_alg = alg;
                cfg->header_checksum_b64 = r->route.params[i].value;
                break;
            }
        }
    }
    if (!(r->op->flags & MS3_OPF_PAYLOAD))
        return 0;
    cfg->sink = MS3_INGEST_STORE;
    cfg->tmp_dir = ms3__store_tmp_dir(r->srv->store);
    cfg->size_hint = r->content_length_known ? r->content_length : 0;
    const char *sdk = ms3__req_header(r, "x-amz-sdk-checksum-algorithm");
    bk_checksum_alg sdk_alg;
    if (sdk != NULL && bk_checksum_alg_from_name(sdk, &sdk_alg)) {
        cfg->want_checksum_alg = 1;
        cfg->compute_alg = sdk_alg;
    }
    if (!r->auth.streaming)
        return 0;
    cfg->chunked_mode = r->auth.chunked_mode;
    cfg->expect_sha256_hex = NULL;
    const char *dl = ms3__req_header(r, "x-amz-decoded-content-length");
    cfg->decoded_length = dl != NULL ? (int64_t)strtoll(dl, NULL, 10) : -1;
    cfg->size_hint = cfg->decoded_length > 0 ? (uint64_t)cfg->decoded_length : 0;
    const char *trailer = ms3__req_header(r, "x-amz-trailer");
    if (trailer != NULL && cfg->chunked_mode != BK_CHUNKED_SIGNED) {
        if (!bk_checksum_alg_from_header(trailer, &cfg->trailer_alg)) {
            ms3__resp_error(r, "InvalidRequest",
                            "The value specified in the x-amz-trailer header is not supported",
                            NULL);
            return -1;
        }
    } else if (!cfg->want_checksum_alg && cfg->header_checksum_alg == BK_CHECKSUM_NONE) {
        /* Without a declared algorithm S3 computes CRC64NVME of the payload. */
        cfg->want_checksum_alg = 1;
        cfg->compute_alg = BK_CHECKSUM_CRC64NVME;
    }
    if (bk_chunked_mode_is_signed(cfg->chunked_mode)) {
        cfg->signing.key = r->auth.signing_key;
        cfg->signing.amz_date = r->auth.amz_date;
        cfg->signing.scope = r->auth.scope;
        cfg->signing.seed_signature = r->auth.seed_signature;
    }
    return 0;
}
