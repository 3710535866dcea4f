/* Object operations (Head, Get, Put, Copy, Delete, DeleteObjects), bucket
 * operations, and the checks every operation makes before its body arrives. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/checksum.h"
#include "errors.h"
#include "server_internal.h"
#include "xml.h"

#define MAX_SINGLE_PUT (5ULL * 1024 * 1024 * 1024)

/* Representation headers S3 stores with an object and returns on GET/HEAD. */
static const char *const stored_headers[] = {"Content-Encoding",
                                             "Content-Disposition",
                                             "Content-Language",
                                             "Cache-Control",
                                             "Expires",
                                             "x-amz-website-redirect-location",
                                             "x-amz-storage-class"};

void ms3_format_etag(const unsigned char md5[16], char out[80])
{
    out[0] = '"';
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", md5[i]);
    out[33] = '"';
    out[34] = '\0';
}

int ms3_meta_from_request(const ms3_req *r, ms3_objmeta *meta)
{
    const char *ct = ms3_req_header(r, "Content-Type");
    meta->content_type = strdup(ct != NULL && *ct ? ct : "binary/octet-stream");
    if (meta->content_type == NULL)
        return -1;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *name = r->headers[i].name;
        if (strncasecmp(name, "x-amz-meta-", 11) == 0 && name[11] != '\0') {
            char lower[256];
            snprintf(lower, sizeof(lower), "%s", name + 11);
            for (char *p = lower; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (ms3_objmeta_add_user(meta, lower, r->headers[i].value) != 0)
                return -1;
        }
    }
    for (size_t i = 0; i < sizeof(stored_headers) / sizeof(stored_headers[0]); i++) {
        const char *v = ms3_req_header(r, stored_headers[i]);
        if (v == NULL)
            continue;
        /* aws-chunked is transport framing, not part of what the object is. */
        if (strcasecmp(stored_headers[i], "Content-Encoding") == 0) {
            char cleaned[256] = "";
            char copy[256];
            snprintf(copy, sizeof(copy), "%s", v);
            char *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
                 tok = strtok_r(NULL, ",", &save)) {
                while (*tok == ' ')
                    tok++;
                if (strcasecmp(tok, "aws-chunked") == 0 || *tok == '\0')
                    continue;
                if (cleaned[0])
                    strncat(cleaned, ",", sizeof(cleaned) - strlen(cleaned) - 1);
                strncat(cleaned, tok, sizeof(cleaned) - strlen(cleaned) - 1);
            }
            if (cleaned[0] == '\0')
                continue;
            if (ms3_objmeta_add_header(meta, stored_headers[i], cleaned) != 0)
                return -1;
            continue;
        }
        if (ms3_objmeta_add_header(meta, stored_headers[i], v) != 0)
            return -1;
    }
    return 0;
}

static int checksum_mode_enabled(const ms3_req *r)
{
    const char *m = ms3_req_header(r, "x-amz-checksum-mode");
    return m != NULL && strcasecmp(m, "ENABLED") == 0;
}

void ms3_resp_object_headers(ms3_req *r, const ms3_objmeta *m, int with_last_modified)
{
    ms3_resp_header(r, "ETag", m->etag);
    if (with_last_modified) {
        char date[64];
        ms3_time_rfc1123(m->last_modified_ms / 1000, date, sizeof(date));
        ms3_resp_header(r, "Last-Modified", date);
    }
    ms3_resp_header(r, "Content-Type", m->content_type ? m->content_type : "binary/octet-stream");
    ms3_resp_header(r, "Accept-Ranges", "bytes");
    for (size_t i = 0; i < m->n_user; i++) {
        char name[300];
        snprintf(name, sizeof(name), "x-amz-meta-%s", m->user[i].name);
        ms3_resp_header(r, name, m->user[i].value);
    }
    for (size_t i = 0; i < m->n_headers; i++)
        ms3_resp_header(r, m->headers[i].name, m->headers[i].value);
    if (m->parts_count > 0 && ms3_route_param(&r->route, "partNumber") != NULL)
        ms3_resp_headerf(r, "x-amz-mp-parts-count", "%d", m->parts_count);
}

/* "/bucket/key?versionId=x", URL-encoded or not, leading slash optional. */
int ms3_parse_copy_source(const char *value, char **bucket, char **key)
{
    *bucket = *key = NULL;
    if (value == NULL)
        return -1;
    const char *v = value[0] == '/' ? value + 1 : value;
    const char *q = strstr(v, "?versionId=");
    size_t len = q != NULL ? (size_t)(q - v) : strlen(v);
    /* Decoding twice would corrupt keys containing '%': decode once, as S3 does. */
    char *decoded = ms3_url_decode(v, len, 0);
    if (decoded == NULL) {
        decoded = strndup(v, len); /* a raw '%' that is not an escape: take it as is */
        if (decoded == NULL)
            return -1;
    }
    char *slash = strchr(decoded, '/');
    if (slash == NULL || slash == decoded || slash[1] == '\0') {
        free(decoded);
        return -1;
    }
    *slash = '\0';
    *bucket = strdup(decoded);
    *key = strdup(slash + 1);
    free(decoded);
    if (*bucket == NULL || *key == NULL) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- prechecks */

static int fail(ms3_req *r, const char *code, const char *message, const char *xml)
{
    ms3_resp_error(r, code, message, xml);
    return -1;
}

/* The single x-amz-checksum-<alg> header of a request, if any. -1: several. */
static int header_checksum(const ms3_req *r, bk_checksum_alg *alg, const char **value)
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

static int check_checksum_headers(ms3_req *r)
{
    bk_checksum_alg alg;
    const char *value;
    int n = header_checksum(r, &alg, &value);
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
    const char *sdk = ms3_req_header(r, "x-amz-sdk-checksum-algorithm");
    bk_checksum_alg sdk_alg;
    if (sdk != NULL && (!bk_checksum_alg_from_name(sdk, &sdk_alg) || (n > 0 && sdk_alg != alg)))
        return fail(r, "InvalidRequest",
                    "Value for x-amz-sdk-checksum-algorithm header is invalid.", NULL);
    const char *md5 = ms3_req_header(r, "Content-MD5");
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
    const char *ce = ms3_req_header(r, "Content-Encoding");
    int chunked_ce = ce != NULL && contains_token_ci(ce, "aws-chunked");
    if (r->policy.refuse_aws_chunked && (streaming || chunked_ce))
        return fail(r, "NotImplemented", "AWS chunked encoding not supported", NULL);
    if (r->policy.require_content_md5) {
        bk_checksum_alg alg;
        const char *v;
        if (ms3_req_header(r, "Content-MD5") == NULL && header_checksum(r, &alg, &v) == 0 &&
            ms3_req_header(r, "x-amz-trailer") == NULL)
            return fail(r, "InvalidRequest",
                        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object "
                        "requests with Object Lock parameters",
                        NULL);
    }
    /* aws-chunked may travel inside HTTP chunked framing (the JS SDK v3 streams so);
     * a plain body needs its length up front, as on S3. */
    int http_chunked = ms3_req_header(r, "Transfer-Encoding") != NULL;
    if (!r->content_length_known && !(streaming && http_chunked)) {
        if (streaming)
            return fail(r, "IncompleteBody", NULL, NULL);
        return fail(r, "MissingContentLength", NULL, NULL);
    }
    if (streaming && ms3_req_header(r, "x-amz-decoded-content-length") == NULL)
        return fail(r, "MissingContentLength",
                    "You must provide the x-amz-decoded-content-length header.", NULL);
    uint64_t size = r->content_length;
    const char *dl = ms3_req_header(r, "x-amz-decoded-content-length");
    if (streaming && dl != NULL)
        size = strtoull(dl, NULL, 10);
    if (size > MAX_SINGLE_PUT) {
        char xml[128];
        snprintf(xml, sizeof(xml),
                 "<ProposedSize>%llu</ProposedSize><MaxSizeAllowed>%llu"
                 "</MaxSizeAllowed>",
                 (unsigned long long)size, (unsigned long long)MAX_SINGLE_PUT);
        return fail(r, "EntityTooLarge", NULL, xml);
    }
    return check_checksum_headers(r);
}

int ms3_op_precheck(ms3_req *r)
{
    ms3_server *s = r->srv;
    ms3_op op = r->route.op;
    if (r->policy.reject_empty_accept_encoding) {
        const char *ae = ms3_req_header(r, "Accept-Encoding");
        if (ae != NULL && *ae == '\0')
            return fail(r, "InvalidArgument", "Unsupported Accept-Encoding specified", NULL);
    }
    if (op != MS3_OP_LIST_BUCKETS && op != MS3_OP_CREATE_BUCKET &&
        !ms3_store_bucket_exists(s->store, r->route.bucket))
        return fail(r, "NoSuchBucket", NULL, NULL);
    if (r->access.read_only && ms3_op_is_write(op))
        return fail(r, "AccessDenied", NULL, NULL);
    if (r->access.no_list && (op == MS3_OP_LIST_OBJECTS || op == MS3_OP_LIST_OBJECTS_V2 ||
                              op == MS3_OP_LIST_MULTIPART_UPLOADS))
        return fail(r, "AccessDenied", NULL, NULL);
    if (r->policy.require_sse &&
        (op == MS3_OP_PUT_OBJECT || op == MS3_OP_COPY_OBJECT ||
         op == MS3_OP_CREATE_MULTIPART_UPLOAD) &&
        ms3_req_header(r, "x-amz-server-side-encryption") == NULL)
        return fail(r, "AccessDenied", NULL, NULL);
    if (r->auth.streaming && !ms3_op_has_payload(op))
        return fail(r, "InvalidRequest",
                    "The value of x-amz-content-sha256 header is invalid for this operation.",
                    "<ArgumentName>x-amz-content-sha256</ArgumentName>");
    if (ms3_op_has_payload(op) && check_payload_headers(r) != 0)
        return -1;
    if (op == MS3_OP_DELETE_OBJECTS) {
        bk_checksum_alg alg;
        const char *v;
        if (ms3_req_header(r, "Content-MD5") == NULL && header_checksum(r, &alg, &v) == 0)
            return fail(r, "InvalidRequest",
                        "Missing required header for this request: Content-MD5", NULL);
        if (check_checksum_headers(r) != 0)
            return -1;
    }
    if (op == MS3_OP_PUT_OBJECT) {
        const char *inm = ms3_req_header(r, "If-None-Match");
        if (inm != NULL && strcmp(inm, "*") != 0)
            return fail(r, "NotImplemented",
                        "A header you provided implies functionality that is not implemented",
                        "<Header>If-None-Match</Header>");
    }
    if (op == MS3_OP_UPLOAD_PART || op == MS3_OP_UPLOAD_PART_COPY ||
        op == MS3_OP_COMPLETE_MULTIPART_UPLOAD || op == MS3_OP_ABORT_MULTIPART_UPLOAD ||
        op == MS3_OP_LIST_PARTS) {
        const char *id = ms3_route_param(&r->route, "uploadId");
        if (id == NULL || !ms3_uploads_exists(s->uploads, id, r->route.bucket, r->route.key))
            return fail(r, "NoSuchUpload", NULL, NULL);
        if (op == MS3_OP_UPLOAD_PART || op == MS3_OP_UPLOAD_PART_COPY) {
            const char *pn = ms3_route_param(&r->route, "partNumber");
            char *end = NULL;
            long n = pn != NULL ? strtol(pn, &end, 10) : 0;
            if (pn == NULL || *end != '\0' || n < 1 || n > 10000)
                return fail(r, "InvalidArgument",
                            "Part number must be an integer between 1 and 10000, inclusive",
                            "<ArgumentName>partNumber</ArgumentName>");
        }
        if (op == MS3_OP_UPLOAD_PART && ms3_op_precheck_part(r) != 0)
            return -1;
    }
    return 0;
}

int ms3_op_ingest_config(ms3_req *r, ms3_ingest_config *cfg)
{
    const char *md5 = ms3_req_header(r, "Content-MD5");
    if (md5 != NULL)
        cfg->content_md5_b64 = md5;
    bk_checksum_alg alg;
    const char *value;
    if (header_checksum(r, &alg, &value) > 0) {
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
    if (!ms3_op_has_payload(r->route.op))
        return 0;
    cfg->sink = MS3_INGEST_STORE;
    cfg->tmp_dir = ms3_store_tmp_dir(r->srv->store);
    const char *sdk = ms3_req_header(r, "x-amz-sdk-checksum-algorithm");
    bk_checksum_alg sdk_alg;
    if (sdk != NULL && bk_checksum_alg_from_name(sdk, &sdk_alg)) {
        cfg->want_checksum_alg = 1;
        cfg->compute_alg = sdk_alg;
    }
    if (!r->auth.streaming)
        return 0;
    cfg->chunked_mode = r->auth.chunked_mode;
    cfg->expect_sha256_hex = NULL;
    const char *dl = ms3_req_header(r, "x-amz-decoded-content-length");
    cfg->decoded_length = dl != NULL ? (int64_t)strtoll(dl, NULL, 10) : -1;
    const char *trailer = ms3_req_header(r, "x-amz-trailer");
    if (trailer != NULL && cfg->chunked_mode != BK_CHUNKED_SIGNED) {
        if (!bk_checksum_alg_from_header(trailer, &cfg->trailer_alg)) {
            ms3_resp_error(r, "InvalidRequest",
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

/* ---------------------------------------------------------------- HEAD / GET */

typedef struct range {
    int present;         /* a usable single range was asked for */
    uint64_t start, end; /* inclusive */
    int unsatisfiable;
} range;

static range parse_range(const char *h, uint64_t size)
{
    range rg = {0, 0, 0, 0};
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return rg; /* absent, another unit, or several ranges: S3 sends the whole object */
    const char *spec = h + 6;
    const char *dash = strchr(spec, '-');
    if (dash == NULL)
        return rg;
    char *end = NULL;
    if (dash == spec) {
        unsigned long long n = strtoull(dash + 1, &end, 10);
        if (end == dash + 1 || *end != '\0')
            return rg;
        rg.present = 1;
        if (n == 0 || size == 0) {
            rg.unsatisfiable = 1;
            return rg;
        }
        rg.start = n >= size ? 0 : size - n;
        rg.end = size - 1;
        return rg;
    }
    unsigned long long a = strtoull(spec, &end, 10);
    if (end != dash)
        return rg;
    unsigned long long b = size ? size - 1 : 0;
    if (dash[1] != '\0') {
        b = strtoull(dash + 1, &end, 10);
        if (*end != '\0')
            return rg;
        if (b < a)
            return rg; /* syntactically invalid: ignored, as S3 does */
    }
    rg.present = 1;
    if (a >= size) {
        rg.unsatisfiable = 1;
        return rg;
    }
    rg.start = a;
    rg.end = b >= size ? size - 1 : b;
    return rg;
}

/* If-Match & co. on GET/HEAD: 0 = go on, else responded. */
static int check_read_conditions(ms3_req *r, const ms3_objmeta *m)
{
    const char *im = ms3_req_header(r, "If-Match");
    const char *inm = ms3_req_header(r, "If-None-Match");
    const char *ims = ms3_req_header(r, "If-Modified-Since");
    const char *ius = ms3_req_header(r, "If-Unmodified-Since");
    int64_t lm = m->last_modified_ms / 1000;
    if (im != NULL && !ms3_etag_list_matches(im, m->etag))
        return fail(r, "PreconditionFailed", NULL, "<Condition>If-Match</Condition>");
    if (im == NULL && ius != NULL) {
        int64_t t = ms3_time_parse_rfc1123(ius);
        if (t >= 0 && lm > t)
            return fail(r, "PreconditionFailed", NULL,
                        "<Condition>If-Unmodified-Since</Condition>");
    }
    int not_modified = 0;
    if (inm != NULL)
        not_modified = ms3_etag_list_matches(inm, m->etag);
    else if (ims != NULL) {
        int64_t t = ms3_time_parse_rfc1123(ims);
        not_modified = t >= 0 && lm <= t;
    }
    if (not_modified) {
        ms3_resp_error(r, "NotModified", NULL, NULL);
        bk_buf_reset(&r->resp.body);
        r->resp.no_body = 1;
        r->resp.content_length = 0;
        ms3_resp_header(r, "ETag", m->etag);
        return -1;
    }
    return 0;
}

static void read_object(ms3_req *r, int head)
{
    ms3_server *s = r->srv;
    ms3_objmeta meta;
    ms3_objmeta_init(&meta);
    ms3_reader *reader = NULL;
    bk_err err;
    int rc = ms3_store_open_object(s->store, r->route.bucket, r->route.key, &meta, &reader, &err);
    if (rc == MS3_STORE_NO_BUCKET) {
        fail(r, "NoSuchBucket", NULL, NULL);
        return;
    }
    if (rc == MS3_STORE_NO_KEY) {
        /* Without s3:ListBucket S3 will not say whether the key exists. */
        fail(r, r->access.no_list ? "AccessDenied" : "NoSuchKey", NULL, NULL);
        return;
    }
    if (rc != MS3_STORE_OK) {
        fail(r, "InternalError", NULL, NULL);
        return;
    }
    if (check_read_conditions(r, &meta) != 0) {
        ms3_reader_close(reader);
        ms3_objmeta_free(&meta);
        return;
    }
    range rg = {0, 0, 0, 0};
    if (r->fault.action != MS3_FAULT_IGNORE_RANGE)
        rg = parse_range(ms3_req_header(r, "Range"), meta.size);
    if (rg.unsatisfiable) {
        char xml[160];
        snprintf(xml, sizeof(xml),
                 "<RangeRequested>%s</RangeRequested><ActualObjectSize>%llu</ActualObjectSize>",
                 ms3_req_header(r, "Range"), (unsigned long long)meta.size);
        ms3_resp_error(r, "InvalidRange", NULL, xml);
        ms3_resp_headerf(r, "Content-Range", "bytes */%llu", (unsigned long long)meta.size);
        ms3_reader_close(reader);
        ms3_objmeta_free(&meta);
        return;
    }
    r->resp.status = rg.present ? 206 : 200;
    ms3_resp_object_headers(r, &meta, 1);
    if (rg.present)
        ms3_resp_headerf(r, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)rg.start,
                         (unsigned long long)rg.end, (unsigned long long)meta.size);
    if (!rg.present && meta.checksum_algo != NULL && checksum_mode_enabled(r)) {
        char name[64];
        snprintf(name, sizeof(name), "x-amz-checksum-%s", meta.checksum_algo);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        ms3_resp_header(r, name, meta.checksum_value);
    }
    static const char *const overrides[][2] = {
        {"response-content-type", "Content-Type"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"},
        {"response-content-language", "Content-Language"},
        {"response-cache-control", "Cache-Control"},
        {"response-expires", "Expires"}};
    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        const char *v = ms3_route_param(&r->route, overrides[i][0]);
        if (v == NULL)
            continue;
        for (size_t h = 0; h < r->resp.n_headers; h++) {
            if (strcasecmp(r->resp.headers[h].name, overrides[i][1]) == 0) {
                free(r->resp.headers[h].name);
                free(r->resp.headers[h].value);
                r->resp.headers[h] = r->resp.headers[--r->resp.n_headers];
                break;
            }
        }
        ms3_resp_header(r, overrides[i][1], v);
    }
    uint64_t len = rg.present ? rg.end - rg.start + 1 : meta.size;
    if (head) {
        r->resp.content_length = (int64_t)len;
        ms3_reader_close(reader);
    } else {
        r->resp.reader = reader;
        r->resp.offset = rg.present ? rg.start : 0;
        r->resp.length = len;
    }
    ms3_objmeta_free(&meta);
}

void ms3_op_head_object(ms3_req *r)
{
    read_object(r, 1);
}

void ms3_op_get_object(ms3_req *r)
{
    read_object(r, 0);
}

/* ---------------------------------------------------------------- PUT */

static void set_checksum(ms3_objmeta *meta, const bk_checksum_digest *d)
{
    if (d == NULL || bk_checksum_alg_name(d->alg) == NULL)
        return;
    meta->checksum_algo = strdup(bk_checksum_alg_name(d->alg));
    meta->checksum_value = strdup(d->base64);
}

void ms3_op_put_object(ms3_req *r)
{
    ms3_server *s = r->srv;
    ms3_body body;
    bk_err err;
    if (ms3_ingest_take_body(r->ingest, &body, &err) != 0) {
        fail(r, "InternalError", err.msg, NULL);
        return;
    }
    ms3_objmeta meta;
    ms3_objmeta_init(&meta);
    if (ms3_meta_from_request(r, &meta) != 0) {
        ms3_body_free(&body);
        ms3_objmeta_free(&meta);
        fail(r, "InternalError", NULL, NULL);
        return;
    }
    ms3_format_etag(ms3_ingest_md5(r->ingest), meta.etag);
    meta.last_modified_ms = ms3_clock_now_ms(&s->clock);
    const bk_checksum_digest *ck = ms3_ingest_checksum(r->ingest);
    set_checksum(&meta, ck);
    snprintf(r->body_sha256, sizeof(r->body_sha256), "%s", ms3_ingest_sha256_hex(r->ingest));
    char etag[80];
    memcpy(etag, meta.etag, sizeof(etag));
    ms3_put_cond cond = {0, NULL};
    const char *inm = ms3_req_header(r, "If-None-Match");
    cond.if_absent = inm != NULL && strcmp(inm, "*") == 0;
    cond.if_match = ms3_req_header(r, "If-Match");
    int rc = ms3_store_put(s->store, r->route.bucket, r->route.key, &body, &meta, &cond, &err);
    if (rc == MS3_STORE_PRECONDITION) {
        fail(r, "PreconditionFailed", NULL,
             cond.if_absent ? "<Condition>If-None-Match</Condition>"
                            : "<Condition>If-Match</Condition>");
        return;
    }
    if (rc == MS3_STORE_NO_KEY) {
        fail(r, "NoSuchKey", NULL, NULL);
        return;
    }
    if (rc == MS3_STORE_NO_BUCKET) {
        fail(r, "NoSuchBucket", NULL, NULL);
        return;
    }
    if (rc != MS3_STORE_OK) {
        fail(r, "InternalError", err.msg, NULL);
        return;
    }
    r->resp.status = 200;
    ms3_resp_header(r, "ETag", etag);
    if (ck != NULL && bk_checksum_header_name(ck->alg) != NULL)
        ms3_resp_header(r, bk_checksum_header_name(ck->alg), ck->base64);
}

/* ---------------------------------------------------------------- COPY */

void ms3_op_copy_object(ms3_req *r)
{
    ms3_server *s = r->srv;
    char *sbucket = NULL, *skey = NULL;
    if (ms3_parse_copy_source(ms3_req_header(r, "x-amz-copy-source"), &sbucket, &skey) != 0) {
        fail(r, "InvalidArgument",
             "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
             "<ArgumentName>x-amz-copy-source</ArgumentName>");
        return;
    }
    const char *directive = ms3_req_header(r, "x-amz-metadata-directive");
    int replace = 0;
    if (directive != NULL && strcmp(directive, "REPLACE") == 0)
        replace = 1;
    else if (directive != NULL && strcmp(directive, "COPY") != 0) {
        fail(r, "InvalidArgument", "Unknown metadata directive.",
             "<ArgumentName>x-amz-metadata-directive</ArgumentName>");
        goto out;
    }
    ms3_objmeta src;
    ms3_objmeta_init(&src);
    ms3_reader *reader = NULL;
    bk_err err;
    int rc = ms3_store_open_object(s->store, sbucket, skey, &src, &reader, &err);
    if (rc != MS3_STORE_OK) {
        fail(r,
             rc == MS3_STORE_NO_BUCKET ? "NoSuchBucket"
             : rc == MS3_STORE_NO_KEY  ? "NoSuchKey"
                                       : "InternalError",
             NULL, NULL);
        goto out;
    }
    const char *cim = ms3_req_header(r, "x-amz-copy-source-if-match");
    const char *cinm = ms3_req_header(r, "x-amz-copy-source-if-none-match");
    if ((cim != NULL && !ms3_etag_list_matches(cim, src.etag)) ||
        (cinm != NULL && ms3_etag_list_matches(cinm, src.etag))) {
        fail(r, "PreconditionFailed", NULL, NULL);
        goto close;
    }
    int self = strcmp(sbucket, r->route.bucket) == 0 && strcmp(skey, r->route.key) == 0;
    ms3_objmeta meta;
    ms3_objmeta_init(&meta);
    if (self && !replace && ms3_req_header(r, "x-amz-storage-class") == NULL &&
        ms3_req_header(r, "x-amz-server-side-encryption") == NULL &&
        ms3_req_header(r, "x-amz-website-redirect-location") == NULL) {
        fail(r, "InvalidRequest",
             "This copy request is illegal because it is trying to copy an object to itself "
             "without changing the object's metadata, storage class, website redirect location "
             "or encryption attributes.",
             NULL);
        goto close;
    }
    if (src.size > MAX_SINGLE_PUT) {
        fail(r, "InvalidRequest",
             "The specified copy source is larger than the maximum allowable size for a copy "
             "source: 5368709120",
             NULL);
        goto close;
    }
    int meta_ok = replace ? ms3_meta_from_request(r, &meta) : ms3_objmeta_copy(&meta, &src);
    if (meta_ok != 0) {
        ms3_objmeta_free(&meta);
        fail(r, "InternalError", NULL, NULL);
        goto close;
    }
    if (replace) {
        meta.checksum_algo = src.checksum_algo ? strdup(src.checksum_algo) : NULL;
        meta.checksum_value = src.checksum_value ? strdup(src.checksum_value) : NULL;
    }
    meta.last_modified_ms = ms3_clock_now_ms(&s->clock);
    if (self) {
        /* Same bytes: keep the body and its ETag, change metadata and the date. */
        memcpy(meta.etag, src.etag, sizeof(meta.etag));
        meta.parts_count = src.parts_count;
        rc = ms3_store_replace_meta(s->store, r->route.bucket, r->route.key, &meta, &err);
    } else {
        ms3_body body;
        unsigned char md5[16];
        rc = ms3_body_from_range(ms3_store_tmp_dir(s->store), reader, 0, src.size, &body, md5,
                                 &err) == 0
                 ? MS3_STORE_OK
                 : MS3_STORE_IO;
        if (rc == MS3_STORE_OK) {
            ms3_format_etag(md5, meta.etag);
            if (reader != NULL && ms3_reader_kind(reader) == MS3_BODY_ZERO)
                snprintf(meta.etag, sizeof(meta.etag), "%s", src.etag);
            meta.parts_count = 0;
            rc = ms3_store_put(s->store, r->route.bucket, r->route.key, &body, &meta, NULL, &err);
        } else {
            ms3_objmeta_free(&meta);
        }
    }
    if (rc != MS3_STORE_OK) {
        fail(r,
             rc == MS3_STORE_NO_KEY      ? "NoSuchKey"
             : rc == MS3_STORE_NO_BUCKET ? "NoSuchBucket"
                                         : "InternalError",
             NULL, NULL);
        goto close;
    }
    ms3_objmeta now;
    ms3_objmeta_init(&now);
    if (ms3_store_stat(s->store, r->route.bucket, r->route.key, &now) == MS3_STORE_OK) {
        char iso[40];
        ms3_time_iso8601_ms(now.last_modified_ms, iso, sizeof(iso));
        bk_buf *b = &r->resp.body;
        bk_buf_puts(b, MS3_XML_DECL "<CopyObjectResult xmlns=\"" MS3_XMLNS "\">");
        ms3_xml_elem(b, "LastModified", iso);
        ms3_xml_elem(b, "ETag", now.etag);
        bk_buf_puts(b, "</CopyObjectResult>");
        ms3_resp_xml(r, 200);
    } else {
        fail(r, "InternalError", NULL, NULL);
    }
    ms3_objmeta_free(&now);
close:
    ms3_reader_close(reader);
    ms3_objmeta_free(&src);
out:
    free(sbucket);
    free(skey);
}

/* ---------------------------------------------------------------- DELETE */

void ms3_op_delete_object(ms3_req *r)
{
    ms3_store_delete(r->srv->store, r->route.bucket, r->route.key);
    r->resp.status = 204;
    r->resp.no_body = 1;
}

void ms3_op_delete_objects(ms3_req *r)
{
    const bk_buf *in = ms3_ingest_buffer(r->ingest);
    ms3_delete_req d;
    if (ms3_xml_parse_delete(bk_buf_str(in), in->len, &d) != 0) {
        fail(r, "MalformedXML", NULL, NULL);
        return;
    }
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<DeleteResult xmlns=\"" MS3_XMLNS "\">");
    for (size_t i = 0; i < d.n; i++) {
        const char *k = d.keys[i];
        if (strlen(k) > 1024 || !ms3_utf8_valid(k, strlen(k))) {
            bk_buf_puts(b, "<Error>");
            ms3_xml_elem(b, "Key", k);
            ms3_xml_elem(b, "Code", "KeyTooLongError");
            ms3_xml_elem(b, "Message", ms3_error_message("KeyTooLongError"));
            bk_buf_puts(b, "</Error>");
            continue;
        }
        ms3_store_delete(r->srv->store, r->route.bucket, k);
        if (!d.quiet) {
            bk_buf_puts(b, "<Deleted>");
            ms3_xml_elem(b, "Key", k);
            bk_buf_puts(b, "</Deleted>");
        }
    }
    bk_buf_puts(b, "</DeleteResult>");
    ms3_delete_req_free(&d);
    ms3_resp_xml(r, 200);
}
