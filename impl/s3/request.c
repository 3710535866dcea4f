/* The request engine: one S3 request with signing, retries and body streaming
 * from its source. An attempt is a chain of named stages (build the headers,
 * sign, set up the handle, perform, classify the outcome); the response side
 * (headers, GET checks, error messages) is response.c. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "response.h"
#include "s3internal.h"
#include "s3xml.h"

#define ERROR_BODY_MAX ((size_t)64 * 1024)
#define EXPECT_CONTINUE_MIN                                                                        \
    ((uint64_t)2 * 1024 * 1024) /* as the SDK: Expect on bodies over 2 MiB */

/* What lasts across the attempts of one request. */
typedef struct exec_state {
    const char *payload_hash;
    char sha_hex[65];
    char md5_b64[BK_CHECKSUM_MAX_BASE64];
    uint64_t delivered_total; /* GET: bytes the sink has, across attempts */
    char first_etag[128];
    body_reader br;
    char where[1200]; /* "s3://bucket/key" for messages */
} exec_state;

typedef struct outcome {
    bk_retry_kind kind; /* NONE on success too: check ok */
    int ok;
    bk_code code;
} outcome;

/* What one attempt builds and sends: its headers, signature and curl list. */
typedef struct wire {
    char amz_date[17];
    char range[96];
    char decoded_len[32];
    bk_sigv4_header h[S3_MAX_EXTRA_HEADERS + 16];
    size_t n;
    int has_content_type;
    uint64_t wire_len; /* bytes of the body on the wire */
    bk_buf path, url, line;
    struct curl_slist *slist;
    signer_ref *sref;
    bk_sigv4_result sig;
} wire;

static void wire_clear(bk_s3_client *c, wire *w)
{
    bk_sigv4_result_clear(&w->sig);
    bk__s3_signer_release(c, w->sref);
    curl_slist_free_all(w->slist);
    bk_buf_clear(&w->path);
    bk_buf_clear(&w->url);
    bk_buf_clear(&w->line);
    memset(w, 0, sizeof *w);
}

static void add_header(wire *w, const char *name, const char *value)
{
    if (w->n < sizeof w->h / sizeof w->h[0]) {
        w->h[w->n].name = name;
        w->h[w->n].value = value;
        w->n++;
    }
}

static int is_method(const s3_request *rq, const char *m)
{
    return strcmp(rq->method, m) == 0;
}

/* ---- stage 1: headers ---- */

/* GET ranges, moved past what the sink already has when resuming, pinned
 * to the object the first bytes came from. */
static void add_range(const s3_request *rq, const exec_state *es, s3_attempt *at, wire *w)
{
    at->ranged = 0;
    if (rq->sink == NULL || (rq->range == NULL && es->delivered_total == 0))
        return;
    uint64_t first = (rq->range ? rq->range->first : 0) + es->delivered_total;
    at->ranged = 1;
    at->want_first = first;
    at->want_has_last = rq->range && rq->range->has_last;
    at->want_last = at->want_has_last ? rq->range->last : 0;
    if (at->want_has_last)
        snprintf(w->range, sizeof w->range, "bytes=%llu-%llu", (unsigned long long)first,
                 (unsigned long long)at->want_last);
    else
        snprintf(w->range, sizeof w->range, "bytes=%llu-", (unsigned long long)first);
    add_header(w, "range", w->range);
    at->first_etag = NULL;
    if (es->delivered_total > 0 && es->first_etag[0]) {
        add_header(w, "if-match", es->first_etag);
        at->first_etag = es->first_etag;
    }
}

/* The body's checksum as a header, or the aws-chunked framing whose trailer
 * carries it; x-amz-sdk-checksum-algorithm when the algorithm is declared. */
static void add_checksum(const s3_request *rq, wire *w)
{
    if (rq->checksum == BK_CHECKSUM_NONE)
        return;
    const char *header = bk_checksum_header_name(rq->checksum);
    if (rq->trailer) {
        snprintf(w->decoded_len, sizeof w->decoded_len, "%llu", (unsigned long long)rq->len);
        add_header(w, "content-encoding", "aws-chunked");
        add_header(w, "x-amz-decoded-content-length", w->decoded_len);
        add_header(w, "x-amz-trailer", header);
        w->wire_len = bk_chunked_encoded_length(BK_CHUNKED_UNSIGNED_TRAILER, S3_TRAILER_CHUNK,
                                                rq->checksum, rq->len);
    } else {
        add_header(w, header, rq->checksum_value);
    }
    if (rq->checksum_declared)
        add_header(w, "x-amz-sdk-checksum-algorithm", bk_checksum_alg_name(rq->checksum));
}

/* Every header that is signed, in the order they are sent. */
static bk_code build_headers(bk_s3_client *c, const s3_request *rq, const exec_state *es,
                             s3_attempt *at, wire *w, bk_err *err)
{
    bk_sigv4_format_amz_date((time_t)(bk_clock_wall_ns(&c->clock) / BK_NS_PER_SEC), w->amz_date);
    bk__endpoint_path(&c->ep, rq->key, &w->path);
    bk__endpoint_url(&c->ep, bk_buf_str(&w->path), rq->query, &w->url);
    add_header(w, "host", c->ep.host_header);
    if (!c->cfg.anonymous) {
        add_header(w, "x-amz-date", w->amz_date);
        add_header(w, "x-amz-content-sha256", es->payload_hash);
    }
    if (!c->cfg.disable_accept_encoding)
        add_header(w, "accept-encoding", "identity");
    add_range(rq, es, at, w);
    if (rq->content_md5)
        add_header(w, "content-md5", es->md5_b64);
    w->wire_len = rq->body == S3_BODY_NONE ? 0 : rq->len;
    add_checksum(rq, w);
    for (size_t i = 0; i < rq->n_headers; i++) {
        add_header(w, rq->headers[i].name, rq->headers[i].value);
        w->has_content_type |= strcasecmp(rq->headers[i].name, "content-type") == 0;
    }
    if (w->path.failed || w->url.failed)
        return bk_err_set(err, BK_ENOMEM, "%s %s: out of memory", rq->op, es->where);
    return BK_OK;
}

/* ---- stage 2: signature ---- */

static bk_code sign(bk_s3_client *c, const s3_request *rq, const exec_state *es, wire *w,
                    bk_err *err)
{
    if (c->cfg.anonymous)
        return BK_OK;
    bk_sigv4_signer *signer;
    bk_code rc = bk__s3_signer_acquire(c, &w->sref, &signer, err);
    if (rc != BK_OK) {
        bk_err_prefix(err, "%s %s: ", rq->op, es->where);
        return rc;
    }
    if (bk_sigv4_signer_session_token(signer) != NULL)
        add_header(w, "x-amz-security-token", bk_sigv4_signer_session_token(signer));
    bk_sigv4_request sreq = {
        rq->method,       bk_buf_str(&w->path), rq->query ? rq->query : "", w->h, w->n,
        es->payload_hash, BK_SIGV4_PATH_S3};
    rc = bk_sigv4_sign(signer, &sreq, w->amz_date, NULL, &w->sig, err);
    if (rc != BK_OK)
        bk_err_prefix(err, "%s %s: signing: ", rq->op, es->where);
    return rc;
}

/* ---- stage 3: the handle ---- */

static bk_code header_lines(const s3_request *rq, const exec_state *es, wire *w, bk_err *err)
{
    for (size_t i = 0; i < w->n; i++) {
        bk_buf_reset(&w->line);
        bk_buf_printf(&w->line, "%s: %s", w->h[i].name, w->h[i].value);
        w->slist = curl_slist_append(w->slist, bk_buf_str(&w->line));
    }
    if (w->sig.authorization != NULL) {
        bk_buf_reset(&w->line);
        bk_buf_printf(&w->line, "Authorization: %s", w->sig.authorization);
        w->slist = curl_slist_append(w->slist, bk_buf_str(&w->line));
    }
    /* Headers curl would add on its own, removed: they are not signed. */
    w->slist = curl_slist_append(w->slist, "Accept:");
    if (!w->has_content_type)
        w->slist = curl_slist_append(w->slist, "Content-Type:");
    w->slist = curl_slist_append(
        w->slist, w->wire_len > EXPECT_CONTINUE_MIN ? "Expect: 100-continue" : "Expect:");
    if (w->slist == NULL || w->line.failed)
        return bk_err_set(err, BK_ENOMEM, "%s %s: out of memory", rq->op, es->where);
    return BK_OK;
}

static void set_transport(bk_s3_client *c, CURL *h)
{
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
}

static void set_method(s3_request *rq, exec_state *es, const wire *w, CURL *h)
{
    if (is_method(rq, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (is_method(rq, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)w->wire_len);
    } else if (is_method(rq, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->wire_len);
    } else if (!is_method(rq, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    if (is_method(rq, "PUT") || is_method(rq, "POST")) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, bk__s3_body_read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &es->br);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, bk__s3_body_seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &es->br);
    }
}

static bk_code set_up_handle(bk_s3_client *c, s3_request *rq, exec_state *es, s3_attempt *at,
                             wire *w, bk_err *err)
{
    bk_code rc = header_lines(rq, es, w, err);
    if (rc != BK_OK)
        return rc;
    CURL *h = at->h;
    curl_easy_setopt(h, CURLOPT_URL, bk_buf_str(&w->url));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, w->slist);
    set_transport(c, h);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, bk__s3_header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, at);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bk__s3_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, at);
    if ((rc = bk__s3_body_start(&es->br, err)) != BK_OK) {
        bk_err_prefix(err, "%s %s: ", rq->op, es->where);
        return rc;
    }
    set_method(rq, es, w, h);
    /* Go's transport after disable_accept_encoding: its own unsigned gzip,
     * never on HEAD or a Range. */
    int gzip = c->cfg.accept_encoding_gzip && !is_method(rq, "HEAD") && !at->ranged;
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, gzip ? "gzip" : NULL);
    return BK_OK;
}

/* ---- stage 4: the outcome ---- */

/* "300 ms", "10 s". */
static void format_ms(long ms, char *out, size_t size)
{
    if (ms % 1000 == 0)
        snprintf(out, size, "%ld s", ms / 1000);
    else
        snprintf(out, size, "%ld ms", ms);
}

/* Which of the three limits ended a timed-out attempt, and its value: the
 * connect timeout (no connection, or no TLS session, yet), the whole
 * request's timeout, or the low-speed limit. */
static void timeout_reason(const bk_s3_client *c, CURL *h, char *out, size_t size)
{
    curl_off_t pretransfer_us = 0, total_us = 0;
    curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
    long request_ms = c->cfg.request_timeout_ms, connect_ms = c->cfg.connect_timeout_ms;
    char limit[32];
    if (pretransfer_us == 0 && (request_ms <= 0 || connect_ms < request_ms)) {
        format_ms(connect_ms, limit, sizeof limit);
        snprintf(out, size, "no connection within the connect timeout (%s)", limit);
    } else if (request_ms > 0 && total_us / 1000 + 50 >= request_ms) {
        format_ms(request_ms, limit, sizeof limit);
        snprintf(out, size, "no complete answer within the request timeout (%s)%s", limit,
                 pretransfer_us == 0 ? ", not even a connection" : "");
    } else {
        snprintf(out, size, "under the low-speed limit (%ld byte/s) for %ld s",
                 c->cfg.low_speed_limit, c->cfg.low_speed_time_s);
    }
}

/* What a TLS failure needs: the CA bundle in use and where it came from. */
static void tls_reason(const bk_s3_client *c, CURLcode cc, char *out, size_t size)
{
    if (c->ca_bundle != NULL && cc == CURLE_SSL_CACERT_BADFILE)
        snprintf(out, size,
                 "the CA bundle %s (from %s) cannot be read; give a readable PEM file with "
                 "AWS_CA_BUNDLE, the profile's ca_bundle or bkcache --ca-bundle FILE",
                 c->ca_bundle, c->ca_bundle_source);
    else if (c->ca_bundle != NULL)
        snprintf(out, size,
                 "TLS verification failed against the CA bundle %s (from %s): trust the "
                 "server's CA with the right bundle (AWS_CA_BUNDLE, the profile's ca_bundle, "
                 "bkcache --ca-bundle FILE), or, for a test server only, skip verification "
                 "(bkcache --insecure)",
                 c->ca_bundle, c->ca_bundle_source);
    else
        snprintf(out, size,
                 "TLS verification failed: trust the server's CA with AWS_CA_BUNDLE, the "
                 "profile's ca_bundle or a CA bundle (bkcache --ca-bundle FILE), or, for a "
                 "test server only, skip verification (bkcache --insecure)");
}

/* No HTTP answer: refused, reset, timed out, TLS. */
static outcome connection_failure(const bk_s3_client *c, const s3_request *rq, const exec_state *es,
                                  const s3_attempt *at, CURLcode cc, bk_err *err)
{
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    int timeout = cc == CURLE_OPERATION_TIMEDOUT;
    int tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
              cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR;
    out.kind = tls ? BK_RETRY_NONE : bk_retry_classify(0, NULL, timeout);
    if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT)
        out.kind = BK_RETRY_NONE;
    at->res->status = 0;
    char why[600] = "";
    if (timeout)
        timeout_reason(c, at->h, why, sizeof why);
    else if (tls)
        tls_reason(c, cc, why, sizeof why);
    else if (cc == CURLE_COULDNT_RESOLVE_HOST)
        bk__endpoint_unresolved_hint(&c->ep, why, sizeof why);
    out.code = bk_err_set(err, timeout ? BK_ETIMEOUT : BK_EIO, "%s %s: %s%s%s%s", rq->op, es->where,
                          curl_easy_strerror(cc), why[0] ? ": " : "", why,
                          es->delivered_total ? " (will resume)" : "");
    return out;
}

/* The transfer itself failed: the sink, the GET checks, the body's source,
 * or the connection. BK_OK when it did not. */
static outcome transfer_failure(const bk_s3_client *c, const s3_request *rq, const exec_state *es,
                                const s3_attempt *at, CURLcode cc, bk_err *err)
{
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    if (at->sink_failed) {
        if (at->sink_err.code != BK_OK)
            out.code = bk_err_set(err, at->sink_err.code, "%s %s: %s", rq->op, es->where,
                                  at->sink_err.msg);
        else
            out.code = bk_err_set(err, BK_EIO, "%s %s: the receiver of the body failed", rq->op,
                                  es->where);
    } else if (at->proto_error == 1) {
        out.code = bk_err_set(err, BK_EPROTO, "%s %s: %s", rq->op, es->where, at->proto_msg);
    } else if (es->br.failed) {
        out.code = bk_err_set(err, es->br.err.code ? es->br.err.code : BK_EIO, "%s %s: %s", rq->op,
                              es->where, es->br.err.msg);
    } else if (cc != CURLE_OK) {
        return connection_failure(c, rq, es, at, cc, err);
    }
    return out;
}

/* S3 can fail a copy or a completion after it sent 200: an <Error> body. */
static outcome error_in_200(bk_s3_client *c, const s3_request *rq, const bk_s3xml_error *xe,
                            const s3_attempt *at, bk_err *err)
{
    bk_s3_result *r = at->res;
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    static const char note[] = " (error inside a 200 response)";
    s3_copy(r->s3_code, sizeof r->s3_code, xe->code);
    s3_copy(r->s3_message, sizeof r->s3_message - (sizeof note - 1), xe->message);
    size_t ml = strlen(r->s3_message);
    snprintf(r->s3_message + ml, sizeof r->s3_message - ml, "%s", note);
    if (xe->request_id[0])
        s3_copy(r->request_id, sizeof r->request_id, xe->request_id);
    out.kind = bk_retry_classify(200, xe->code, 0);
    out.code = bk__s3_format_error(c, rq, at, 0, err);
    return out;
}

static outcome success_response(bk_s3_client *c, s3_request *rq, exec_state *es,
                                const s3_attempt *at, bk_err *err)
{
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    bk_s3_result *r = at->res;
    bk_s3xml_error xe;
    if (rq->error_in_200 && bk__s3xml_parse_error(at->body.data, at->body.len, &xe))
        return error_in_200(c, rq, &xe, at, err);
    if (at->proto_error == 2) {
        out.code = bk_err_set(err, BK_EPROTO, "%s %s: response body larger than %zu bytes", rq->op,
                              es->where, at->body_limit);
        return out;
    }
    if (rq->sink != NULL) {
        uint64_t expect = bk__s3_expected_body(at);
        if (at->delivered != expect) {
            /* A short body: resume from what the sink has. */
            out.kind = BK_RETRY_TRANSIENT;
            out.code = bk_err_set(err, BK_EIO, "%s %s: body ended after %llu of %llu bytes", rq->op,
                                  es->where, (unsigned long long)at->delivered,
                                  (unsigned long long)expect);
            return out;
        }
    }
    if (!r->has_size && at->have_cl && !is_method(rq, "GET")) {
        r->size = at->cl;
        r->has_size = 1;
    }
    if (rq->trailer && es->br.enc != NULL) {
        const bk_checksum_digest *d = bk_chunked_encoder_checksum(es->br.enc);
        if (d != NULL)
            s3_copy(rq->checksum_value, sizeof rq->checksum_value, d->base64);
    }
    out.ok = 1;
    return out;
}

static outcome error_response(bk_s3_client *c, const s3_request *rq, const s3_attempt *at,
                              bk_err *err)
{
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    bk_s3_result *r = at->res;
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
        /* A body-less 404 is S3's "no such key" only for a HEAD, which cannot
         * carry a body; to anything else S3 sends an error document, so a
         * bare 404 is some other server's and no missing object. */
        int not_s3 = at->status == 404 && !is_method(rq, "HEAD");
        s3_copy(r->s3_code, sizeof r->s3_code, not_s3 ? "" : bk__s3_status_code_name(at->status));
        if (at->body.len > 0 && at->body.len < 200 && !is_method(rq, "HEAD"))
            s3_copy(r->s3_message, sizeof r->s3_message, bk_buf_str(&at->body));
    }
    out.kind = bk_retry_classify(at->status, r->s3_code, 0);
    out.code = bk__s3_format_error(c, rq, at, !parsed, err);
    return out;
}

static outcome classify(bk_s3_client *c, s3_request *rq, exec_state *es, s3_attempt *at,
                        CURLcode cc, bk_err *err)
{
    if (cc == CURLE_OK && at->status >= 200 && at->status < 300 && rq->sink && !at->checked &&
        bk__s3_check_get_response(at) != 0)
        at->proto_error = 1;
    es->delivered_total += at->delivered;
    /* The object the first bytes came from: a resumed read must match it. */
    if (at->delivered > 0 && es->first_etag[0] == '\0')
        s3_copy(es->first_etag, sizeof es->first_etag, at->res->etag);
    outcome out = transfer_failure(c, rq, es, at, cc, err);
    if (out.code != BK_OK)
        return out;
    if (at->status >= 200 && at->status < 300)
        return success_response(c, rq, es, at, err);
    return error_response(c, rq, at, err);
}

/* One attempt: the stages in order, the first failure ends it. */
static outcome attempt_once(bk_s3_client *c, s3_request *rq, exec_state *es, s3_attempt *at,
                            bk_err *err)
{
    outcome out = {BK_RETRY_NONE, 0, BK_OK};
    wire w;
    memset(&w, 0, sizeof w);
    bk_code rc = build_headers(c, rq, es, at, &w, err);
    if (rc == BK_OK)
        rc = sign(c, rq, es, &w, err);
    if (rc == BK_OK)
        rc = set_up_handle(c, rq, es, at, &w, err);
    if (rc == BK_OK)
        out = classify(c, rq, es, at, curl_easy_perform(at->h), err);
    else
        out.code = rc;
    wire_clear(c, &w);
    return out;
}

/* ---- the request ---- */

const char *bk__s3_payload_hash(const bk_s3_client *c, const s3_request *rq, int *anonymous)
{
    *anonymous = c->cfg.anonymous;
    if (c->cfg.anonymous)
        return NULL;
    if (rq->trailer)
        return BK_SIGV4_STREAMING_UNSIGNED_TRAILER;
    if (rq->body == S3_BODY_NONE || rq->len == 0)
        return BK_SIGV4_EMPTY_SHA256;
    /* TLS protects the bytes: the SDK does not hash an object's body over
     * https (one pass less over every part); over http the hash stays. */
    if (rq->object_payload && c->cfg.unsigned_payload && c->ep.https)
        return BK_SIGV4_UNSIGNED_PAYLOAD;
    return rq->payload_sha256;
}

/* The payload hash the signature covers, and the MD5 when asked for: one
 * pass over the body before the first attempt. */
static bk_code prepare_payload(bk_s3_client *c, s3_request *rq, exec_state *es, bk_err *err)
{
    if (rq->body == S3_BODY_NONE)
        rq->len = 0;
    int anonymous = 0;
    es->payload_hash = bk__s3_payload_hash(c, rq, &anonymous);
    int need_sha = es->payload_hash == NULL && !anonymous;
    if (need_sha)
        es->payload_hash = es->sha_hex;
    int need_checksum = rq->checksum != BK_CHECKSUM_NONE && !rq->trailer;
    if (!need_sha && !rq->content_md5 && !need_checksum)
        return BK_OK;
    atomic_fetch_add(&c->bytes_hashed, (unsigned long long)rq->len);
    bk_code rc = bk__s3_body_hash(rq, c->sha_ni, need_sha, rq->content_md5, need_checksum,
                                  es->sha_hex, es->md5_b64, err);
    if (rc != BK_OK)
        bk_err_prefix(err, "%s %s: ", rq->op, es->where);
    return rc;
}

static void attempt_reset(s3_attempt *at)
{
    at->status = 0;
    at->delivered = 0;
    at->checked = 0;
    at->proto_error = 0;
    at->sink_failed = 0;
    bk_err_clear(&at->sink_err);
    bk__s3_response_reset(at);
}

/* Attempts until one succeeds, a failure is final, the attempts are used up
 * or the retry quota is: the SDK's standard and adaptive modes. */
static bk_code run_attempts(bk_s3_client *c, s3_request *rq, exec_state *es, s3_attempt *at,
                            bk_err *err)
{
    bk_code rc = BK_OK;
    int last_cost = 0;
    int max_attempts = c->retry.cfg.max_attempts;
    for (int attempt_no = 1;; attempt_no++) {
        uint64_t wait = bk_retry_rate_acquire(&c->retry);
        if (wait > 0)
            bk_retry_sleep(&c->retry, wait);
        attempt_reset(at);
        at->res->attempts = attempt_no;
        atomic_fetch_add(&c->requests, 1);
        outcome o = attempt_once(c, rq, es, at, err);
        bk_retry_rate_update(&c->retry, !o.ok && o.kind == BK_RETRY_THROTTLE);
        if (o.ok) {
            bk_retry_quota_release(&c->retry, last_cost);
            return BK_OK;
        }
        rc = o.code;
        if (o.kind == BK_RETRY_NONE) {
            if (attempt_no > 1)
                bk_err_prefix(err, "after %d attempts: ", attempt_no);
            return rc;
        }
        if (attempt_no >= max_attempts) {
            if (max_attempts > 1)
                bk_err_prefix(err, "giving up after %d attempts: ", attempt_no);
            return rc;
        }
        int cost = bk_retry_quota_acquire(&c->retry, o.kind);
        if (cost == 0) {
            bk_err_prefix(err, "retry quota exhausted (too many failures on this client), not "
                               "retrying: ");
            return rc;
        }
        last_cost = cost;
        bk_retry_sleep(&c->retry, bk_retry_backoff_ms(&c->retry, attempt_no));
    }
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
    bk__s3_where(c, rq->key, es.where, sizeof es.where);
    bk_code rc = prepare_payload(c, rq, &es, err);
    if (rc != BK_OK) {
        bk_s3_result_clear(&local);
        return rc;
    }
    s3_attempt at;
    memset(&at, 0, sizeof at);
    at.c = c;
    at.rq = rq;
    at.res = res;
    at.body_limit = rq->max_body > ERROR_BODY_MAX ? rq->max_body : ERROR_BODY_MAX;
    at.h = bk__s3_handle_get(c);
    if (at.h == NULL) {
        bk_s3_result_clear(&local);
        return bk_err_set(err, BK_ENOMEM, "%s %s: cannot create a curl handle", rq->op, es.where);
    }
    rc = run_attempts(c, rq, &es, &at, err);
    if (rc == BK_OK && body_out != NULL && at.body.len > 0)
        bk_buf_append(body_out, at.body.data, at.body.len);
    bk_chunked_encoder_free(es.br.enc);
    bk_buf_clear(&at.body);
    bk__s3_handle_put(c, at.h);
    bk_s3_result_clear(&local);
    return rc;
}
