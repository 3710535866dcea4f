/* The response side of the request engine (response.h). */
#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3time.h"

void bk__s3_response_reset(s3_attempt *at)
{
    int attempts = at->res->attempts;
    bk_s3_result_clear(at->res);
    at->res->attempts = attempts;
    at->have_cr = at->cr_total_known = at->have_cl = 0;
    at->whole = 0;
    at->skip = at->skipped = at->take = 0;
    at->location[0] = '\0';
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

static void add_meta(s3_attempt *at, const char *name, size_t nlen, const char *v, size_t vlen)
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

size_t bk__s3_header_cb(char *line, size_t size, size_t nitems, void *ud)
{
    s3_attempt *at = ud;
    size_t len = size * nitems;
    size_t n = len;
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (the final one follows any 100 Continue). */
        bk__s3_response_reset(at);
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
    } else if (header_is(line, nlen, "location")) {
        copy_value(at->location, sizeof at->location, v, vlen);
    } else if (nlen > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0) {
        add_meta(at, line + 11, nlen - 11, v, vlen);
    }
    return len;
}

/* Before the first byte of a successful GET reaches the sink: is this the
 * range we asked for? A server that ignores Range would otherwise corrupt. */
/* "bytes 100-3999" or "bytes 32768-" (to the end). */
static void asked_for(const s3_attempt *at, char *out, size_t size)
{
    if (at->want_has_last)
        snprintf(out, size, "bytes %llu-%llu", (unsigned long long)at->want_first,
                 (unsigned long long)at->want_last);
    else
        snprintf(out, size, "bytes %llu-", (unsigned long long)at->want_first);
}

/* A 200 with the whole object to a ranged GET: the bytes before the range
 * are skipped, the ones after it dropped. The object must be the one the
 * first bytes came from (a server that ignores Range may ignore If-Match). */
static int take_whole_body(s3_attempt *at, const char *range)
{
    const char *etag = at->res->etag;
    if (at->first_etag != NULL && at->first_etag[0] && etag[0] &&
        strcmp(at->first_etag, etag) != 0) {
        snprintf(at->proto_msg, sizeof at->proto_msg,
                 "asked for %s of ETag %s, got HTTP 200 with the whole object of ETag %s: the "
                 "object changed during the download",
                 range, at->first_etag, etag);
        return -1;
    }
    if (at->have_cl && at->cl < at->want_first) {
        snprintf(at->proto_msg, sizeof at->proto_msg,
                 "asked for %s, got HTTP 200 with a whole object of %llu bytes", range,
                 (unsigned long long)at->cl);
        return -1;
    }
    at->whole = 1;
    at->skip = at->want_first;
    at->take = at->want_has_last ? at->want_last - at->want_first + 1 : UINT64_MAX;
    if (at->have_cl) {
        at->res->size = at->cl;
        at->res->has_size = 1;
    }
    return 0;
}

static int check_range(s3_attempt *at)
{
    char range[96];
    asked_for(at, range, sizeof range);
    if (at->status == 200 && !at->have_cr)
        return take_whole_body(at, range);
    if (at->status != 206 || !at->have_cr) {
        snprintf(at->proto_msg, sizeof at->proto_msg,
                 "asked for %s but got HTTP %d %s: the server ignored Range", range, at->status,
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
                 "asked for %s, got Content-Range bytes %llu-%llu/%llu with Content-Length %llu",
                 range, (unsigned long long)at->cr_first, (unsigned long long)at->cr_last,
                 (unsigned long long)at->cr_total, (unsigned long long)at->cl);
        return -1;
    }
    if (at->cr_total_known) {
        at->res->size = at->cr_total;
        at->res->has_size = 1;
    }
    return 0;
}

int bk__s3_check_get_response(s3_attempt *at)
{
    at->checked = 1;
    if (at->ranged)
        return check_range(at);
    if (at->status != 200) {
        snprintf(at->proto_msg, sizeof at->proto_msg,
                 "expected HTTP 200 for a whole-object GET, got %d", at->status);
        return -1;
    }
    if (at->have_cl) {
        at->res->size = at->cl;
        at->res->has_size = 1;
    }
    return 0;
}

uint64_t bk__s3_expected_body(const s3_attempt *at)
{
    if (at->whole) {
        if (!at->have_cl)
            return at->delivered;
        uint64_t rest = at->cl - at->skip;
        return rest < at->take ? rest : at->take;
    }
    if (at->have_cl)
        return at->cl;
    if (at->have_cr)
        return at->cr_last - at->cr_first + 1;
    return at->delivered;
}

/* The part of a whole 200's chunk that is the sink's: past the skipped
 * bytes, within the range asked for. */
static void trim_whole(s3_attempt *at, const char **data, size_t *len)
{
    if (at->skipped < at->skip) {
        uint64_t left = at->skip - at->skipped;
        size_t n = left < *len ? (size_t)left : *len;
        at->skipped += n;
        *data += n;
        *len -= n;
    }
    uint64_t room = at->take - at->delivered;
    if (*len > room)
        *len = (size_t)room;
}

size_t bk__s3_write_cb(char *data, size_t size, size_t nitems, void *ud)
{
    s3_attempt *at = ud;
    size_t len = size * nitems;
    int ok2xx = at->status >= 200 && at->status < 300;
    if (ok2xx && at->rq->sink != NULL) {
        if (!at->checked && bk__s3_check_get_response(at) != 0) {
            at->proto_error = 1;
            return 0;
        }
        const char *mine = data;
        size_t n = len;
        if (at->whole)
            trim_whole(at, &mine, &n);
        if (n > 0 && at->rq->sink(at->rq->sink_ud, mine, n, &at->sink_err) != 0) {
            at->sink_failed = 1;
            return 0;
        }
        at->delivered += n;
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

const char *bk__s3_status_code_name(int status)
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
/* Where a redirect points, and why following it is not ours to do. */
static void redirect_hint(bk_s3_client *c, const s3_attempt *at, bk_buf *out)
{
    const bk_s3_result *r = at->res;
    if (r->bucket_region[0] || at->location[0] == '\0') {
        bk_buf_puts(out, "the bucket is in another region; set the region to the bucket's");
        return;
    }
    bk_buf_printf(out,
                  "%s redirects to %s, which bkcache does not follow: check endpoint_url "
                  "(scheme, host, port)",
                  c->base_url, at->location);
}

static void hint_for(bk_s3_client *c, const s3_request *rq, const s3_attempt *at, bk_buf *out)
{
    int head = strcmp(rq->method, "HEAD") == 0;
    switch (at->res->status) {
    case 403:
        bk_buf_puts(out, head ? "S3 answers 403 instead of 404 for a missing key when the "
                                "credentials lack s3:ListBucket on the bucket; otherwise the "
                                "credentials or a bucket policy deny access"
                              : "the credentials or a bucket policy deny access");
        return;
    case 400:
        bk_buf_puts(out, "usually an expired session token (ExpiredToken) or a request signed "
                         "for the wrong region (AuthorizationHeaderMalformed); check the "
                         "credentials' expiry and the region");
        return;
    case 301:
    case 302:
    case 307:
    case 308:
        redirect_hint(c, at, out);
        return;
    case 404:
        if (head)
            bk_buf_puts(out, "no such key (or no such bucket: a HEAD cannot tell them apart)");
        else
            bk_buf_printf(out,
                          "S3 says NoSuchKey or NoSuchBucket in an error document; %s answered "
                          "404 without one: is endpoint_url an S3 endpoint?",
                          c->base_url);
        return;
    default:
        return;
    }
}

bk_code bk__s3_format_error(bk_s3_client *c, const s3_request *rq, const s3_attempt *at,
                            int body_less, bk_err *err)
{
    const bk_s3_result *r = at->res;
    char where[1200];
    bk__s3_where(c, rq->key, where, sizeof where);
    bk_buf extra = BK_BUF_INIT;
    if (r->s3_message[0])
        bk_buf_printf(&extra, ": %s", r->s3_message);
    if (body_less) {
        bk_buf_puts(&extra, " (no error body");
        bk_buf hint = BK_BUF_INIT;
        hint_for(c, rq, at, &hint);
        if (hint.len > 0)
            bk_buf_printf(&extra, "; %s", bk_buf_str(&hint));
        bk_buf_clear(&hint);
        bk_buf_putc(&extra, ')');
    }
    if (r->bucket_region[0])
        bk_buf_printf(&extra, " [bucket region %s, client region %s]", r->bucket_region, c->region);
    if (r->request_id[0])
        bk_buf_printf(&extra, " (request id %s)", r->request_id);
    bk_code code = bk_err_set(err, code_for(r), "%s %s: HTTP %d %s%s", rq->op, where, r->status,
                              r->s3_code[0] ? r->s3_code : "error", bk_buf_str(&extra));
    bk_buf_clear(&extra);
    return code;
}
