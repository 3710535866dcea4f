/* The request engine: one S3 request with signing, retries, body streaming
 * from its source, response header parsing, error bodies, and the checks
 * that keep a GET from ever handing a sink wrong or missing bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "s3xml.h"
#include "s3internal.h"

#define ERROR_BODY_MAX ((size_t)64 * 1024)
#define EXPECT_CONTINUE_MIN                                                                        \
    ((uint64_t)2 * 1024 * 1024) /* as the SDK: Expect on bodies over 2 MiB */

/* ---- response ---- */

typedef struct attempt {
    bk_s3_client *c;
    s3_request *rq;
    bk_s3_result *res;
    CURL *h;
    int status;
    bk_buf body; /* XML result or error body */
    size_t body_limit;
    /* GET */
    int ranged;          /* this attempt sent Range */
    uint64_t want_first; /* first byte asked for */
    uint64_t want_last;
    int want_has_last;
    uint64_t delivered; /* bytes given to the sink in this attempt */
    int checked;
    int proto_error;
    char proto_msg[300];
    int sink_failed;
    bk_err sink_err;
    int have_cr, cr_total_known, have_cl;
    uint64_t cr_first, cr_last, cr_total, cl;
} attempt;

static void reset_response_fields(attempt *at)
{
    int attempts = at->res->attempts;
    bk_s3_result_clear(at->res);
    at->res->attempts = attempts;
    at->have_cr = at->cr_total_known = at->have_cl = 0;
    bk_buf_reset(&at->body);
}

static void copy_value(char *dst, size_t size, const char *v, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* One number of a Content-Range: digits, saturating at ULLONG_MAX where a
 * scanf conversion would overflow. NULL when s does not start with a digit. */
static const char *range_number(const char *s, unsigned long long *out)
{
    if (*s < '0' || *s > '9')
        return NULL;
    char *end;
    *out = strtoull(s, &end, 10);
    return end;
}

static int header_is(const char *name, size_t nlen, const char *want)
{
    return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

static void add_meta(attempt *at, const char *name, size_t nlen, const char *v, size_t vlen)
{
    bk_s3_result *r = at->res;
    bk_s3_meta *m = realloc(r->meta, (r->n_meta + 1) * sizeof *m);
    if (m == NULL)
        return;
    r->meta = m;
    char *n = strndup(name, nlen), *val = strndup(v, vlen);
    if (n == NULL || val == NULL) {
        free(n);
        free(val);
        return;
    }
    for (char *p = n; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    r->meta[r->n_meta].name = n;
    r->meta[r->n_meta].value = val;
    r->n_meta++;
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *ud)
{
    attempt *at = ud;
    size_t len = size * nitems;
    size_t n = len;
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (the final one follows any 100 Continue). */
        reset_response_fields(at);
        const char *sp = memchr(line, ' ', n);
        long status = sp ? strtol(sp + 1, NULL, 10) : 0;
        at->status = status > 0 && status < 1000 ? (int)status : 0;
        at->res->status = at->status;
        return len;
    }
    const char *colon = memchr(line, ':', n);
    if (colon == NULL)
        return len;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    bk_s3_result *r = at->res;
    char tmp[256];
    if (header_is(line, nlen, "etag")) {
        copy_value(r->etag, sizeof r->etag, v, vlen);
    } else if (header_is(line, nlen, "content-length")) {
        copy_value(tmp, sizeof tmp, v, vlen);
        char *end;
        at->cl = strtoull(tmp, &end, 10);
        at->have_cl = tmp[0] != '\0' && *end == '\0';
        r->content_length = at->cl;
    } else if (header_is(line, nlen, "last-modified")) {
        copy_value(tmp, sizeof tmp, v, vlen);
        r->has_last_modified = bk__s3_parse_http_date(tmp, &r->last_modified) == 0;
    } else if (header_is(line, nlen, "content-type")) {
        copy_value(r->content_type, sizeof r->content_type, v, vlen);
    } else if (header_is(line, nlen, "x-amz-request-id")) {
        copy_value(r->request_id, sizeof r->request_id, v, vlen);
    } else if (header_is(line, nlen, "x-amz-version-id")) {
        copy_value(r->version_id, sizeof r->version_id, v, vlen);
    } else if (header_is(line, nlen, "x-amz-bucket-region")) {
        copy_value(r->bucket_region, sizeof r->bucket_region, v, vlen);
    } else if (header_is(line, nlen, "content-range")) {
        copy_value(tmp, sizeof tmp, v, vlen);
        /* "bytes FIRST-LAST/TOTAL", TOTAL "*" when unknown */
        unsigned long long f = 0, l = 0, t = 0;
        const char *p = strncmp(tmp, "bytes", 5) == 0 ? tmp + 5 : NULL;
        while (p != NULL && (*p == ' ' || *p == '\t'))
            p++;
        p = p != NULL ? range_number(p, &f) : NULL;
        p = p != NULL && *p == '-' ? range_number(p + 1, &l) : NULL;
        if (p != NULL && *p == '/' && range_number(p + 1, &t) != NULL) {
            at->have_cr = at->cr_total_known = 1;
            at->cr_first = f;
            at->cr_last = l;
            at->cr_total = t;
        } else if (p != NULL && *p == '/' && p[1] == '*') {
            at->have_cr = 1;
            at->cr_first = f;
            at->cr_last = l;
        }
    } else if (nlen > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0) {
        add_meta(at, line + 11, nlen - 11, v, vlen);
    }
    return len;
}

/* Before the first byte of a successful GET reaches the sink: is this the
 * range we asked for? A server that ignores Range would otherwise corrupt. */
static int check_get_response(attempt *at)
{
    at->checked = 1;
    if (at->ranged) {
        if (at->status != 206 || !at->have_cr) {
            snprintf(at->proto_msg, sizeof at->proto_msg,
                     "asked for bytes %llu- but got HTTP %d %s: the server ignored Range",
                     (unsigned long long)at->want_first, at->status,
                     at->have_cr ? "" : "without Content-Range");
            return -1;
        }
        int bad = at->cr_first != at->want_first || at->cr_last < at->cr_first;
        if (!bad && at->cr_total_known) {
            uint64_t end = at->cr_total - 1;
            if (at->want_has_last && at->want_last < end)
                end = at->want_last;
            bad = at->cr_last != end;
        } else if (!bad && at->want_has_last) {
            bad = at->cr_last > at->want_last;
        }
        if (!bad && at->have_cl)
            bad = at->cl != at->cr_last - at->cr_first + 1;
        if (bad) {
            snprintf(at->proto_msg, sizeof at->proto_msg,
                     "asked for bytes %llu-%s%llu, got Content-Range bytes %llu-%llu/%llu with "
                     "Content-Length %llu",
                     (unsigned long long)at->want_first, at->want_has_last ? "" : "(end)",
                     at->want_has_last ? (unsigned long long)at->want_last : 0ULL,
                     (unsigned long long)at->cr_first, (unsigned long long)at->cr_last,
                     (unsigned long long)at->cr_total, (unsigned long long)at->cl);
            return -1;
        }
        if (at->cr_total_known) {
            at->res->size = at->cr_total;
            at->res->has_size = 1;
        }
    } else {
        if (at->status != 200) {
            snprintf(at->proto_msg, sizeof at->proto_msg,
                     "expected HTTP 200 for a whole-object GET, got %d", at->status);
            return -1;
        }
        if (at->have_cl) {
            at->res->size = at->cl;
            at->res->has_size = 1;
        }
    }
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t nitems, void *ud)
{
    attempt *at = ud;
    size_t len = size * nitems;
    int ok2xx = at->status >= 200 && at->status < 300;
    if (ok2xx && at->rq->sink != NULL) {
        if (!at->checked && check_get_response(at) != 0) {
            at->proto_error = 1;
            return 0;
        }
        if (at->rq->sink(at->rq->sink_ud, data, len, &at->sink_err) != 0) {
            at->sink_failed = 1;
            return 0;
        }
        at->delivered += len;
        return len;
    }
    /* Keep what fits; an oversized result is reported after the transfer. */
    if (at->body.len + len <= at->body_limit)
        bk_buf_append(&at->body, data, len);
    else
        at->proto_error = 2;
    return len;
}

/* ---- errors ---- */

static const char *status_code_name(int status)
{
    switch (status) {
    case 301:
        return "PermanentRedirect";
    case 307:
        return "TemporaryRedirect";
    case 400:
        return "BadRequest";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 412:
        return "PreconditionFailed";
    case 416:
        return "InvalidRange";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 501:
        return "NotImplemented";
    case 502:
        return "BadGateway";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "GatewayTimeout";
    default:
        return "";
    }
}

static bk_code code_for(const bk_s3_result *r)
{
    static const char *const auth_codes[] = {"AccessDenied",
                                             "InvalidAccessKeyId",
                                             "SignatureDoesNotMatch",
                                             "ExpiredToken",
                                             "InvalidToken",
                                             "TokenRefreshRequired",
                                             "AuthorizationHeaderMalformed",
                                             "RequestTimeTooSkewed",
                                             "Forbidden"};
    if (bk_s3_result_is_not_found(r))
        return BK_ENOTFOUND;
    for (size_t i = 0; i < sizeof auth_codes / sizeof auth_codes[0]; i++)
        if (strcmp(r->s3_code, auth_codes[i]) == 0)
            return BK_EAUTH;
    if (r->status == 401 || r->status == 403)
        return BK_EAUTH;
    if (strcmp(r->s3_code, "XAmzContentSHA256Mismatch") == 0 ||
        strcmp(r->s3_code, "BadDigest") == 0 || strcmp(r->s3_code, "InvalidDigest") == 0)
        return BK_EINTEGRITY;
    return BK_ES3;
}

/* Why a response without an error body failed, in words a user can act on. */
static const char *hint_for(const s3_request *rq, const bk_s3_result *r)
{
    int head = strcmp(rq->method, "HEAD") == 0;
    switch (r->status) {
    case 403:
        return head ? "S3 answers 403 instead of 404 for a missing key when the credentials "
                      "lack s3:ListBucket on the bucket; otherwise the credentials or a bucket "
                      "policy deny access"
                    : "the credentials or a bucket policy deny access";
    case 400:
        return "usually an expired session token (ExpiredToken) or a request signed for the "
               "wrong region (AuthorizationHeaderMalformed); check the credentials' expiry and "
               "the region";
    case 301:
    case 307:
        return "the bucket is in another region; set the region to the bucket's";
    case 404:
        return head ? "no such key (or no such bucket: a HEAD cannot tell them apart)" : NULL;
    default:
        return NULL;
    }
}

static void format_s3_error(bk_s3_client *c, const s3_request *rq, const bk_s3_result *r,
                            int body_less, bk_err *err)
{
    char where[1200];
    bk__s3_where(c, rq->key, where, sizeof where);
    bk_buf extra = BK_BUF_INIT;
    if (r->s3_message[0])
        bk_buf_printf(&extra, ": %s", r->s3_message);
    if (body_less) {
        bk_buf_puts(&extra, " (no error body");
        const char *hint = hint_for(rq, r);
        if (hint)
            bk_buf_printf(&extra, "; %s", hint);
        bk_buf_putc(&extra, ')');
    }
    if (r->bucket_region[0])
        bk_buf_printf(&extra, " [bucket region %s, client region %s]", r->bucket_region, c->region);
    if (r->request_id[0])
        bk_buf_printf(&extra, " (request id %s)", r->request_id);
    if (r->attempts > 1)
        bk_buf_printf(&extra, " after %d attempts", r->attempts);
    bk_err_set(err, code_for(r), "%s %s: HTTP %d %s%s", rq->op, where, r->status,
               r->s3_code[0] ? r->s3_code : "error", bk_buf_str(&extra));
    bk_buf_free(&extra);
}

/* ---- one attempt ---- */

typedef struct exec_state {
    const char *payload_hash;
    char sha_hex[65];
    char md5_b64[BK_CHECKSUM_MAX_BASE64];
    uint64_t delivered_total; /* GET: bytes the sink has, across attempts */
    char first_etag[128];
    body_reader br;
} exec_state;

typedef struct outcome {
    bk_retry_kind kind; /* NONE on success too: check ok */
    int ok;
    bk_code code;
} outcome;

typedef struct header_list {
    bk_sigv4_header h[S3_MAX_EXTRA_HEADERS + 16];
    size_t n;
} header_list;

static void hl_add(header_list *l, const char *name, const char *value)
{
    if (l->n < sizeof l->h / sizeof l->h[0]) {
        l->h[l->n].name = name;
        l->h[l->n].value = value;
        l->n++;
    }
}

static int is_method(const s3_request *rq, const char *m)
{
    return strcmp(rq->method, m) == 0;
}

static outcome attempt_once(bk_s3_client *c, s3_request *rq, exec_state *es, attempt *at,
                            bk_err *err)
{
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    char amz_date[17], range[96], decoded_len[32], where[1200];
    header_list hl = {0};
    bk_buf path = BK_BUF_INIT, url = BK_BUF_INIT, line = BK_BUF_INIT;
    struct curl_slist *slist = NULL;
    signer_ref *sref = NULL;
    bk_sigv4_result sig;
    memset(&sig, 0, sizeof sig);
    bk__s3_where(c, rq->key, where, sizeof where);

    bk_sigv4_format_amz_date((time_t)(bk_clock_wall_ns(&c->clock) / BK_NS_PER_SEC), amz_date);
    bk__endpoint_path(&c->ep, rq->key, &path);
    bk__endpoint_url(&c->ep, bk_buf_str(&path), rq->query, &url);

    hl_add(&hl, "host", c->ep.host_header);
    int sign = !c->cfg.anonymous;
    if (sign) {
        hl_add(&hl, "x-amz-date", amz_date);
        hl_add(&hl, "x-amz-content-sha256", es->payload_hash);
    }
    if (!c->cfg.disable_accept_encoding)
        hl_add(&hl, "accept-encoding", "identity");
    /* GET ranges, moved past what the sink already has when resuming. */
    at->ranged = 0;
    if (rq->sink != NULL && (rq->range != NULL || es->delivered_total > 0)) {
        uint64_t first = (rq->range ? rq->range->first : 0) + es->delivered_total;
        at->ranged = 1;
        at->want_first = first;
        at->want_has_last = rq->range && rq->range->has_last;
        at->want_last = at->want_has_last ? rq->range->last : 0;
        if (at->want_has_last)
            snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)first,
                     (unsigned long long)at->want_last);
        else
            snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)first);
        hl_add(&hl, "range", range);
        if (es->delivered_total > 0 && es->first_etag[0])
            hl_add(&hl, "if-match", es->first_etag); /* the object must not change under us */
    }
    if (rq->content_md5)
        hl_add(&hl, "content-md5", es->md5_b64);
    if (rq->trailer) {
        snprintf(decoded_len, sizeof decoded_len, "%llu", (unsigned long long)rq->len);
        hl_add(&hl, "content-encoding", "aws-chunked");
        hl_add(&hl, "x-amz-decoded-content-length", decoded_len);
        hl_add(&hl, "x-amz-trailer", "x-amz-checksum-crc32");
        hl_add(&hl, "x-amz-sdk-checksum-algorithm", "CRC32");
    }
    int has_content_type = 0;
    for (size_t i = 0; i < rq->n_headers; i++) {
        hl_add(&hl, rq->headers[i].name, rq->headers[i].value);
        has_content_type |= strcasecmp(rq->headers[i].name, "content-type") == 0;
    }

    if (sign) {
        bk_sigv4_signer *signer;
        bk_code rc = bk__s3_signer_acquire(c, &sref, &signer, err);
        if (rc != BK_OK) {
            bk_err_prefix(err, "%s %s: ", rq->op, where);
            out.code = rc;
            goto done;
        }
        if (bk_sigv4_signer_session_token(signer) != NULL)
            hl_add(&hl, "x-amz-security-token", bk_sigv4_signer_session_token(signer));
        bk_sigv4_request sreq = {
            rq->method,       bk_buf_str(&path), rq->query ? rq->query : "", hl.h, hl.n,
            es->payload_hash, BK_SIGV4_PATH_S3};
        rc = bk_sigv4_sign(signer, &sreq, amz_date, NULL, &sig, err);
        if (rc != BK_OK) {
            bk_err_prefix(err, "%s %s: signing: ", rq->op, where);
            out.code = rc;
            goto done;
        }
    }

    for (size_t i = 0; i < hl.n; i++) {
        bk_buf_reset(&line);
        bk_buf_printf(&line, "%s: %s", hl.h[i].name, hl.h[i].value);
        slist = curl_slist_append(slist, bk_buf_str(&line));
    }
    if (sign) {
        bk_buf_reset(&line);
        bk_buf_printf(&line, "Authorization: %s", sig.authorization);
        slist = curl_slist_append(slist, bk_buf_str(&line));
    }
    slist = curl_slist_append(slist, "Accept:");
    if (!has_content_type)
        slist = curl_slist_append(slist, "Content-Type:");
    uint64_t wire_len = rq->body == S3_BODY_NONE ? 0 : rq->len;
    if (rq->trailer)
        wire_len = bk_chunked_encoded_length(BK_CHUNKED_UNSIGNED_TRAILER, S3_TRAILER_CHUNK,
                                             BK_CHECKSUM_CRC32, rq->len);
    slist = curl_slist_append(slist,
                              wire_len > EXPECT_CONTINUE_MIN ? "Expect: 100-continue" : "Expect:");
    if (slist == NULL || url.failed || line.failed) {
        out.code = bk_err_set(err, BK_ENOMEM, "%s %s: out of memory", rq->op, where);
        goto done;
    }

    CURL *h = at->h;
    curl_easy_setopt(h, CURLOPT_URL, bk_buf_str(&url));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, slist);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, c->cfg.low_speed_limit);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->cfg.low_speed_time_s);
    if (c->cfg.request_timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg.request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->cfg.insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->cfg.insecure ? 0L : 2L);
    if (c->ca_bundle)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, at);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, at);

    if (bk__s3_body_start(&es->br, err) != BK_OK) {
        out.code = bk_err_prefix(err, "%s %s: ", rq->op, where);
        goto done;
    }
    if (is_method(rq, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (is_method(rq, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)wire_len);
    } else if (is_method(rq, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)wire_len);
    } else if (!is_method(rq, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    if (is_method(rq, "PUT") || is_method(rq, "POST")) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, bk__s3_body_read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &es->br);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, bk__s3_body_seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &es->br);
    }

    CURLcode cc = curl_easy_perform(h);
    bk_s3_result *r = at->res;
    if (cc == CURLE_OK && at->status >= 200 && at->status < 300 && rq->sink && !at->checked &&
        check_get_response(at) != 0)
        at->proto_error = 1;
    es->delivered_total += at->delivered;
    /* The object the first bytes came from: a resumed read must match it. */
    if (at->delivered > 0 && es->first_etag[0] == '\0')
        s3_copy(es->first_etag, sizeof es->first_etag, at->res->etag);

    if (at->sink_failed) {
        if (at->sink_err.code != BK_OK)
            bk_err_set(err, at->sink_err.code, "%s", at->sink_err.msg);
        else
            bk_err_set(err, BK_EIO, "the receiver of the body failed");
        out.code = bk_err_prefix(err, "%s %s: ", rq->op, where);
        goto done;
    }
    if (at->proto_error == 1) {
        out.code = bk_err_set(err, BK_EPROTO, "%s %s: %s", rq->op, where, at->proto_msg);
        goto done;
    }
    if (es->br.failed) {
        out.code = bk_err_set(err, es->br.err.code ? es->br.err.code : BK_EIO, "%s %s: %s", rq->op,
                              where, es->br.err.msg);
        goto done;
    }
    if (cc != CURLE_OK) {
        int timeout = cc == CURLE_OPERATION_TIMEDOUT;
        int tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
                  cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR;
        out.kind = tls ? BK_RETRY_NONE : bk_retry_classify(0, NULL, timeout);
        if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT)
            out.kind = BK_RETRY_NONE;
        r->status = 0;
        out.code = bk_err_set(err, timeout ? BK_ETIMEOUT : BK_EIO, "%s %s: %s%s%s", rq->op, where,
                              curl_easy_strerror(cc),
                              tls ? " (TLS verification failed: trust the server's CA with "
                                    "AWS_CA_BUNDLE or a CA bundle (bkcache --ca-bundle FILE), "
                                    "or, for a test server only, skip verification (bkcache "
                                    "--insecure))"
                                  : "",
                              es->delivered_total ? " (will resume)" : "");
        goto done;
    }

    if (at->status >= 200 && at->status < 300) {
        bk_s3xml_error xe;
        if (rq->error_in_200 && bk__s3xml_parse_error(at->body.data, at->body.len, &xe)) {
            /* S3 can fail a copy or a completion after it sent 200. */
            s3_copy(r->s3_code, sizeof r->s3_code, xe.code);
            static const char note[] = " (error inside a 200 response)";
            s3_copy(r->s3_message, sizeof r->s3_message - (sizeof note - 1), xe.message);
            size_t ml = strlen(r->s3_message);
            snprintf(r->s3_message + ml, sizeof r->s3_message - ml, "%s", note);
            if (xe.request_id[0])
                s3_copy(r->request_id, sizeof r->request_id, xe.request_id);
            out.kind = bk_retry_classify(200, xe.code, 0);
            format_s3_error(c, rq, r, 0, err);
            out.code = err ? err->code : BK_ES3;
            goto done;
        }
        if (at->proto_error == 2) {
            out.code = bk_err_set(err, BK_EPROTO, "%s %s: response body larger than %zu bytes",
                                  rq->op, where, at->body_limit);
            goto done;
        }
        if (rq->sink != NULL) {
            uint64_t expect = at->have_cl   ? at->cl
                              : at->have_cr ? at->cr_last - at->cr_first + 1
                                            : at->delivered;
            if (at->delivered != expect) {
                /* A short body: resume from what the sink has. */
                out.kind = BK_RETRY_TRANSIENT;
                out.code = bk_err_set(err, BK_EIO, "%s %s: body ended after %llu of %llu bytes",
                                      rq->op, where, (unsigned long long)at->delivered,
                                      (unsigned long long)expect);
                goto done;
            }
        }
        if (!r->has_size && at->have_cl && !is_method(rq, "GET")) {
            r->size = at->cl;
            r->has_size = 1;
        }
        if (rq->trailer && es->br.enc != NULL) {
            const bk_checksum_digest *d = bk_chunked_encoder_checksum(es->br.enc);
            if (d != NULL)
                s3_copy(rq->checksum_crc32, sizeof rq->checksum_crc32, d->base64);
        }
        out.ok = 1;
        goto done;
    }

    /* An error response. */
    bk_s3xml_error xe;
    int parsed = bk__s3xml_parse_error(at->body.data, at->body.len, &xe);
    if (parsed) {
        s3_copy(r->s3_code, sizeof r->s3_code, xe.code);
        s3_copy(r->s3_message, sizeof r->s3_message, xe.message);
        if (xe.request_id[0])
            s3_copy(r->request_id, sizeof r->request_id, xe.request_id);
        if (xe.region[0] && !r->bucket_region[0])
            s3_copy(r->bucket_region, sizeof r->bucket_region, xe.region);
    } else {
        s3_copy(r->s3_code, sizeof r->s3_code, status_code_name(at->status));
        if (at->body.len > 0 && at->body.len < 200 && !is_method(rq, "HEAD"))
            s3_copy(r->s3_message, sizeof r->s3_message, bk_buf_str(&at->body));
    }
    out.kind = bk_retry_classify(at->status, r->s3_code, 0);
    format_s3_error(c, rq, r, !parsed, err);
    out.code = err ? err->code : BK_ES3;
done:
    bk_sigv4_result_free(&sig);
    bk__s3_signer_release(c, sref);
    curl_slist_free_all(slist);
    bk_buf_free(&path);
    bk_buf_free(&url);
    bk_buf_free(&line);
    return out;
}

bk_code bk__s3_execute(bk_s3_client *c, s3_request *rq, bk_s3_result *res, bk_buf *body_out,
                       bk_err *err)
{
    bk_s3_result local = BK_S3_RESULT_INIT;
    if (res == NULL)
        res = &local;
    bk_s3_result_clear(res);
    exec_state es;
    memset(&es, 0, sizeof es);
    es.br.rq = rq;
    char where[1200];
    bk__s3_where(c, rq->key, where, sizeof where);

    if (rq->body == S3_BODY_NONE)
        rq->len = 0;
    int sign = !c->cfg.anonymous;
    int need_sha = 0;
    if (!sign) {
        es.payload_hash = NULL;
    } else if (rq->trailer) {
        es.payload_hash = BK_SIGV4_STREAMING_UNSIGNED_TRAILER;
    } else if (rq->body == S3_BODY_NONE || rq->len == 0) {
        es.payload_hash = BK_SIGV4_EMPTY_SHA256;
    } else if (rq->payload_sha256 != NULL) {
        es.payload_hash = rq->payload_sha256;
    } else if (c->cfg.unsigned_payload && c->ep.https) {
        es.payload_hash = BK_SIGV4_UNSIGNED_PAYLOAD;
    } else {
        need_sha = 1;
        es.payload_hash = es.sha_hex;
    }
    if (need_sha || rq->content_md5) {
        bk_code rc = bk__s3_body_hash(rq, need_sha, rq->content_md5, es.sha_hex, es.md5_b64, err);
        if (rc != BK_OK) {
            bk_s3_result_clear(&local);
            return bk_err_prefix(err, "%s %s: ", rq->op, where);
        }
    }

    attempt at;
    memset(&at, 0, sizeof at);
    at.c = c;
    at.rq = rq;
    at.res = res;
    at.body_limit = rq->max_body > ERROR_BODY_MAX ? rq->max_body : ERROR_BODY_MAX;
    at.h = bk__s3_handle_get(c);
    if (at.h == NULL) {
        bk_s3_result_clear(&local);
        return bk_err_set(err, BK_ENOMEM, "%s %s: cannot create a curl handle", rq->op, where);
    }

    bk_code rc = BK_OK;
    int last_cost = 0;
    int max_attempts = c->retry.cfg.max_attempts;
    for (int attempt_no = 1;; attempt_no++) {
        uint64_t wait = bk_retry_rate_acquire(&c->retry);
        if (wait > 0)
            bk_retry_sleep(&c->retry, wait);
        at.status = 0;
        at.delivered = 0;
        at.checked = 0;
        at.proto_error = 0;
        at.sink_failed = 0;
        bk_err_clear(&at.sink_err);
        reset_response_fields(&at);
        res->attempts = attempt_no;
        atomic_fetch_add(&c->requests, 1);
        outcome o = attempt_once(c, rq, &es, &at, err);
        bk_retry_rate_update(&c->retry, !o.ok && o.kind == BK_RETRY_THROTTLE);
        if (o.ok) {
            bk_retry_quota_release(&c->retry, last_cost);
            rc = BK_OK;
            break;
        }
        rc = o.code;
        if (o.kind == BK_RETRY_NONE)
            break;
        if (attempt_no >= max_attempts) {
            if (max_attempts > 1)
                bk_err_prefix(err, "giving up after %d attempts: ", attempt_no);
            break;
        }
        int cost = bk_retry_quota_acquire(&c->retry, o.kind);
        if (cost == 0) {
            bk_err_prefix(err, "retry quota exhausted (too many failures on this client), not "
                               "retrying: ");
            break;
        }
        last_cost = cost;
        bk_retry_sleep(&c->retry, bk_retry_backoff_ms(&c->retry, attempt_no));
    }
    if (rc == BK_OK && body_out != NULL && at.body.len > 0)
        bk_buf_append(body_out, at.body.data, at.body.len);
    bk_chunked_encoder_free(es.br.enc);
    bk_buf_free(&at.body);
    bk__s3_handle_put(c, at.h);
    bk_s3_result_clear(&local);
    return rc;
}
