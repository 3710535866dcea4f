/* One request from its headers to its journal entry, independent of what
 * carries it (see request.h): routing, authentication, policies, fault
 * decisions, the body's ingest, the operation, the response body and the
 * journal. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "errors.h"
#include "request.h"
#include "xml.h"

enum { ADMIN_BODY_LIMIT = 1024 * 1024, XML_BODY_LIMIT = 16 * 1024 * 1024 };

ms3_req *ms3_req_new(ms3_server *s, const char *raw_target, uint16_t remote_port)
{
    ms3_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->raw_target = strdup(raw_target != NULL ? raw_target : "/");
    r->t_start_mono = ms3_monotonic();
    r->t_start = ms3_clock_now_f(&s->clock);
    r->request_id = atomic_fetch_add(&s->request_counter, 1) + 1;
    r->remote_port = remote_port;
    r->resp.content_length = -1;
    ms3_auth_result_init(&r->auth);
    return r;
}

/* ---------------------------------------------------------------- headers */

static int add_header(ms3_req *r, const char *name, const char *value)
{
    bk_sigv4_header *nh = realloc(r->headers, (r->n_headers + 1) * sizeof(*nh));
    char **ns = realloc(r->header_store, (2 * r->n_headers + 2) * sizeof(*ns));
    if (nh != NULL)
        r->headers = nh;
    if (ns != NULL)
        r->header_store = ns;
    if (nh == NULL || ns == NULL)
        return -1;
    char *n = strdup(name), *v = strdup(value != NULL ? value : "");
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    ns[2 * r->n_headers] = n;
    ns[2 * r->n_headers + 1] = v;
    nh[r->n_headers].name = n;
    nh[r->n_headers].value = v;
    r->n_headers++;
    return 0;
}

int ms3_req_add_header(ms3_req *r, const char *name, const char *value)
{
    unsigned proxy = ms3_policies_proxy(r->srv->policies);
    if ((proxy & MS3_PROXY_DROP_UNDERSCORE_HEADERS) && strchr(name, '_') != NULL)
        return 0;
    int rc;
    if ((proxy & MS3_PROXY_GFE_ACCEPT_ENCODING) && strcasecmp(name, "Accept-Encoding") == 0) {
        /* What Google's front end does after the client signed the request. */
        char v[1024];
        snprintf(v, sizeof(v), "%s,gzip(gfe)", value != NULL ? value : "");
        rc = add_header(r, name, v);
    } else {
        rc = add_header(r, name, value);
    }
    if (rc != 0)
        r->header_failed = 1;
    return rc;
}

/* ---------------------------------------------------------------- request */

static void setup_ingest(ms3_req *r, ms3_ingest_sink sink, size_t limit)
{
    ms3_ingest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.sink = sink;
    cfg.buffer_limit = limit;
    cfg.decoded_length = -1;
    const char *ph = r->auth.payload_hash;
    if (strlen(ph) == 64)
        cfg.expect_sha256_hex = ph;
    int fault_error = r->fault.action == MS3_FAULT_ERROR || r->fault.action == MS3_FAULT_ERROR_200;
    if (!fault_error && ms3_op_ingest_config(r, &cfg) != 0)
        return; /* responded */
    if (fault_error) {
        cfg.sink = MS3_INGEST_DISCARD;
        cfg.expect_sha256_hex = NULL;
        cfg.chunked_mode = 0;
    }
    bk_err err;
    r->ingest = ms3_ingest_new(&cfg, &err);
    if (r->ingest == NULL)
        ms3_resp_error(r, "InternalError", NULL, NULL);
}

void ms3_req_begin(ms3_req *r, const char *method)
{
    ms3_server *s = r->srv;
    r->started = 1;
    snprintf(r->method, sizeof(r->method), "%s", method);
    if (r->header_failed || r->raw_target == NULL) {
        ms3_resp_error(r, "InternalError", NULL, NULL);
        return;
    }
    const char *cl = ms3_req_header(r, "Content-Length");
    if (cl != NULL) {
        r->content_length_known = 1;
        r->content_length = strtoull(cl, NULL, 10);
    }
    const char *te = ms3_req_header(r, "Transfer-Encoding");
    r->expect_body = (r->content_length_known && r->content_length > 0) || te != NULL;

    if (ms3_route_parse(&r->route, r->method, r->raw_target, ms3_req_header(r, "Host"),
                        s->vhost_suffix, ms3_req_header(r, "x-amz-copy-source") != NULL) != 0) {
        ms3_resp_error(r, "InternalError", NULL, NULL);
        return;
    }
    if (r->route.op == MS3_OP_ADMIN) {
        if (ms3_admin_admit(r) != 0)
            return;
        bk_err err;
        ms3_ingest_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.sink = MS3_INGEST_BUFFER;
        cfg.buffer_limit = ADMIN_BODY_LIMIT;
        cfg.decoded_length = -1;
        r->ingest = ms3_ingest_new(&cfg, &err);
        return;
    }
    if (r->route.error_code != NULL) {
        ms3_resp_error(r, r->route.error_code, r->route.error_message, NULL);
        return;
    }

    bk_sigv4_request sreq = {r->method,       r->route.raw_path, r->route.raw_query,
                             r->headers,      r->n_headers,      NULL,
                             BK_SIGV4_PATH_S3};
    ms3_auth_config acfg = {s->region, s->anonymous, s->max_skew_seconds, &s->clock, s->creds};
    if (!ms3_auth_verify(&acfg, &sreq, &r->auth)) {
        int status = r->auth.status ? r->auth.status : ms3_error_status(r->auth.error_code);
        ms3_resp_error_status(r, status, r->auth.error_code, r->auth.message,
                              bk_buf_str(&r->auth.extra_xml));
        return;
    }

    ms3_policies_get(s->policies, r->route.bucket, &r->policy);
    r->access = ms3_access_of(r->policy.access, r->auth.profile);
    ms3_faults_decide(s->faults, r->method, ms3_op_name(r->route.op), r->route.bucket, r->route.key,
                      &r->fault);

    if (ms3_op_precheck(r) != 0)
        return;

    ms3_ingest_sink sink = MS3_INGEST_DISCARD;
    size_t limit = 0;
    if (r->route.op == MS3_OP_DELETE_OBJECTS || r->route.op == MS3_OP_COMPLETE_MULTIPART_UPLOAD) {
        sink = MS3_INGEST_BUFFER;
        limit = XML_BODY_LIMIT;
    }
    setup_ingest(r, sink, limit);
}

int ms3_req_decided(const ms3_req *r)
{
    return r->resp.status != 0;
}

int ms3_req_feed(ms3_req *r, const void *data, size_t n)
{
    if (r->responded || n == 0)
        return 0;
    if (r->fault.action == MS3_FAULT_CUT_REQUEST && r->wire_bytes + n >= r->fault.cut_after) {
        r->wire_bytes = r->fault.cut_after;
        r->cut = 1;
        return -1;
    }
    r->wire_bytes += n;
    if (r->ingest != NULL)
        ms3_ingest_feed(r->ingest, data, n);
    return 0;
}

static void dispatch(ms3_req *r)
{
    switch (r->route.op) {
    case MS3_OP_LIST_BUCKETS:
        ms3_op_list_buckets(r);
        break;
    case MS3_OP_CREATE_BUCKET:
        ms3_op_create_bucket(r);
        break;
    case MS3_OP_DELETE_BUCKET:
        ms3_op_delete_bucket(r);
        break;
    case MS3_OP_HEAD_BUCKET:
        ms3_op_head_bucket(r);
        break;
    case MS3_OP_GET_BUCKET_LOCATION:
        ms3_op_get_bucket_location(r);
        break;
    case MS3_OP_LIST_OBJECTS_V2:
        ms3_op_list_objects(r, 1);
        break;
    case MS3_OP_LIST_OBJECTS:
        ms3_op_list_objects(r, 0);
        break;
    case MS3_OP_LIST_MULTIPART_UPLOADS:
        ms3_op_list_multipart_uploads(r);
        break;
    case MS3_OP_DELETE_OBJECTS:
        ms3_op_delete_objects(r);
        break;
    case MS3_OP_HEAD_OBJECT:
        ms3_op_head_object(r);
        break;
    case MS3_OP_GET_OBJECT:
        ms3_op_get_object(r);
        break;
    case MS3_OP_PUT_OBJECT:
        ms3_op_put_object(r);
        break;
    case MS3_OP_COPY_OBJECT:
        ms3_op_copy_object(r);
        break;
    case MS3_OP_DELETE_OBJECT:
        ms3_op_delete_object(r);
        break;
    case MS3_OP_CREATE_MULTIPART_UPLOAD:
        ms3_op_create_multipart(r);
        break;
    case MS3_OP_UPLOAD_PART:
        ms3_op_upload_part(r);
        break;
    case MS3_OP_UPLOAD_PART_COPY:
        ms3_op_upload_part_copy(r);
        break;
    case MS3_OP_COMPLETE_MULTIPART_UPLOAD:
        ms3_op_complete_multipart(r);
        break;
    case MS3_OP_ABORT_MULTIPART_UPLOAD:
        ms3_op_abort_multipart(r);
        break;
    case MS3_OP_LIST_PARTS:
        ms3_op_list_parts(r);
        break;
    default:
        ms3_resp_error(r, "NotImplemented", NULL, NULL);
    }
}

static void run_operation(ms3_req *r)
{
    if (r->route.op == MS3_OP_ADMIN) {
        const bk_buf *b = r->ingest != NULL ? ms3_ingest_buffer(r->ingest) : NULL;
        if (r->ingest != NULL && ms3_ingest_finish(r->ingest) != 0) {
            ms3_resp_error(r, "InvalidRequest", "admin request body too large", NULL);
            return;
        }
        ms3_admin_handle(r, b != NULL ? bk_buf_str(b) : "", b != NULL ? b->len : 0);
        return;
    }
    if (r->ingest != NULL) {
        int rc = ms3_ingest_finish(r->ingest);
        r->decoded_size = ms3_ingest_payload_bytes(r->ingest);
        if (rc != 0) {
            ms3_resp_error_status(
                r, ms3_ingest_error_status(r->ingest), ms3_ingest_error_code(r->ingest),
                ms3_ingest_error_message(r->ingest), ms3_ingest_error_xml(r->ingest));
            return;
        }
    }
    if (r->fault.action == MS3_FAULT_ERROR || r->fault.action == MS3_FAULT_ERROR_200) {
        ms3_resp_error_status(r, r->fault.status, r->fault.error_code,
                              r->fault.error_message[0] ? r->fault.error_message : NULL, NULL);
        if (r->fault.action == MS3_FAULT_ERROR_200) {
            /* The status says success, the body says failure (Copy/Complete on S3). */
            r->resp.status = 200;
        }
        return;
    }
    dispatch(r);
}

int ms3_req_end_body(ms3_req *r)
{
    if (r->fault.action == MS3_FAULT_CUT_REQUEST && r->expect_body) {
        /* The whole body arrived in fewer bytes than the cut point: cut at the end. */
        r->cut = 1;
        return -1;
    }
    run_operation(r);
    return 0;
}

/* ---------------------------------------------------------------- response */

static void journal_request(ms3_req *r);

static uint64_t resp_total(const ms3_req *r)
{
    return r->resp.reader != NULL ? r->resp.length : r->resp.body.len;
}

static void drop_response_header(ms3_req *r, const char *name)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->resp.n_headers; i++) {
        if (strcasecmp(r->resp.headers[i].name, name) == 0) {
            free(r->resp.headers[i].name);
            free(r->resp.headers[i].value);
            continue;
        }
        r->resp.headers[kept++] = r->resp.headers[i];
    }
    r->resp.n_headers = kept;
}

void ms3_req_respond(ms3_req *r, int sleep)
{
    if (r->fault.delay_ms > 0 && sleep)
        ms3_server_sleep_ms(r->srv, r->fault.delay_ms);
    if (r->resp.status == 0)
        ms3_resp_error(r, "InternalError", "no response was produced", NULL);
    if (r->fault.action == MS3_FAULT_HEAD_NO_LAST_MODIFIED)
        drop_response_header(r, "Last-Modified");
    ms3_resp_headerf(r, "x-amz-request-id", "%016llX", (unsigned long long)r->request_id);
    ms3_resp_header(r, "x-amz-id-2", "mock-s3");
    ms3_resp_header(r, "Server", "mock-s3");
    r->responded = 1;
    journal_request(r);
}

int ms3_req_response_bodyless(const ms3_req *r)
{
    return strcmp(r->method, "HEAD") == 0 || r->resp.no_body || resp_total(r) == 0;
}

int64_t ms3_req_response_length(const ms3_req *r)
{
    int is_head = strcmp(r->method, "HEAD") == 0;
    if (is_head && r->fault.action == MS3_FAULT_HEAD_NO_CONTENT_LENGTH)
        return -1;
    uint64_t size = resp_total(r);
    if (r->resp.content_length >= 0)
        size = (uint64_t)r->resp.content_length;
    if (r->resp.no_body && !is_head)
        size = 0;
    return (int64_t)size;
}

long ms3_req_read_response(ms3_req *r, uint64_t pos, char *buf, size_t max, int pace)
{
    uint64_t total = resp_total(r);
    if (pos >= total)
        return 0;
    size_t n = max;
    if (n > total - pos)
        n = (size_t)(total - pos);
    if (r->fault.action == MS3_FAULT_CUT_RESPONSE) {
        if (pos >= r->fault.cut_after) {
            r->cut = 1;
            return -1;
        }
        if (n > r->fault.cut_after - pos)
            n = (size_t)(r->fault.cut_after - pos);
    }
    if (r->fault.action == MS3_FAULT_TINY_CHUNKS) {
        /* 1, 3, 5 or 7 bytes, with a pause so they leave as separate segments. */
        size_t tiny = 1 + 2 * (size_t)(pos % 4);
        if (n > tiny)
            n = tiny;
        if (pos > 0 && pace) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    if (r->resp.reader != NULL) {
        long got = ms3_reader_pread(r->resp.reader, buf, n, r->resp.offset + pos);
        if (got <= 0)
            return -1;
        n = (size_t)got;
    } else {
        memcpy(buf, r->resp.body.data + pos, n);
    }
    r->response_sent = pos + n;
    return (long)n;
}

/* ---------------------------------------------------------------- journal */

/* Appends s as JSON string content: runs of plain ASCII in one copy, every
 * other byte as \u00XX (header bytes are not promised to be UTF-8). This runs
 * for every header of every request, so it must not format byte by byte. */
/* Appends up to max bytes of s as JSON string content: runs of plain ASCII in
 * one copy, every other byte as \u00XX (header bytes are not promised to be
 * UTF-8). This runs for every header of every request, so it must not format
 * byte by byte. */
static void append_json_escaped(bk_buf *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + strnlen(s, max);
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        bk_buf_append(b, run, (size_t)(p - run));
        if (p == end)
            break;
        bk_buf_printf(b, "\\u%04x", *p);
        p++;
    }
}

/* What the journal keeps of one request's headers: a value longer than
 * JOURNAL_VALUE_MAX bytes keeps its start and says how long it was, and past
 * JOURNAL_HEADERS_MAX bytes of JSON the remaining headers are only counted. */
enum { JOURNAL_VALUE_MAX = 2048, JOURNAL_HEADERS_MAX = 16384 };

/* The headers as a JSON object, signature shortened and token redacted;
 * bounded as above when `bounded` (*truncated then says whether anything was
 * cut), else whole. */
static char *headers_json(const ms3_req *r, int bounded, int *truncated)
{
    bk_buf b = BK_BUF_INIT;
    bk_buf_putc(&b, '{');
    *truncated = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *name = r->headers[i].name, *value = r->headers[i].value;
        char shortened[2048];
        if (strcasecmp(name, "Authorization") == 0) {
            /* Keep enough of the signature to tell requests apart, no more. */
            const char *sig = strstr(value, "Signature=");
            if (sig != NULL)
                snprintf(shortened, sizeof(shortened), "%.*sSignature=%.8s...", (int)(sig - value),
                         value, sig + 10);
            else
                snprintf(shortened, sizeof(shortened), "%.64s...", value);
            value = shortened;
        } else if (strcasecmp(name, "X-Amz-Security-Token") == 0) {
            value = "(redacted)";
        }
        if (i > 0)
            bk_buf_putc(&b, ',');
        if (bounded && b.len > JOURNAL_HEADERS_MAX) {
            *truncated = 1;
            bk_buf_printf(&b, "\"(truncated)\":\"%zu more headers not recorded\"",
                          r->n_headers - i);
            break;
        }
        bk_buf_putc(&b, '"');
        append_json_escaped(&b, name, (size_t)-1);
        bk_buf_puts(&b, "\":\"");
        size_t len = strlen(value);
        if (bounded && len > JOURNAL_VALUE_MAX) {
            *truncated = 1;
            append_json_escaped(&b, value, JOURNAL_VALUE_MAX);
            bk_buf_printf(&b, "...(truncated, %zu bytes)", len);
        } else {
            append_json_escaped(&b, value, len);
        }
        bk_buf_putc(&b, '"');
    }
    bk_buf_putc(&b, '}');
    return bk_buf_steal(&b);
}

static char *redacted_query(const char *q)
{
    bk_buf b = BK_BUF_INIT;
    while (q != NULL && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);
        if (len >= 21 && strncasecmp(q, "X-Amz-Security-Token=", 21) == 0)
            bk_buf_puts(&b, "X-Amz-Security-Token=(redacted)");
        else
            bk_buf_append(&b, q, len);
        q += len;
        if (*q == '&') {
            bk_buf_putc(&b, '&');
            q++;
        }
    }
    if (b.data == NULL)
        bk_buf_puts(&b, "");
    return bk_buf_steal(&b);
}

/* Records the request when its response is queued, so a client that got the
 * response always finds the entry; journal_finish completes it. */
static void journal_request(ms3_req *r)
{
    if (r->journal_seq != 0 || !r->started || r->route.op == MS3_OP_ADMIN)
        return;
    ms3_journal_entry e;
    memset(&e, 0, sizeof(e));
    e.time = r->t_start;
    e.remote_port = r->remote_port;
    snprintf(e.method, sizeof(e.method), "%s", r->method);
    snprintf(e.operation, sizeof(e.operation), "%s", ms3_op_name(r->route.op));
    e.bucket = strdup(r->route.bucket != NULL ? r->route.bucket : "");
    e.key = strdup(r->route.key != NULL ? r->route.key : "");
    e.query = redacted_query(r->route.raw_query);
    int truncated = 0, whole = 0;
    e.headers_json = headers_json(r, 1, &truncated);
    /* The file keeps what memory does not. */
    char *file_headers = truncated ? headers_json(r, 0, &whole) : NULL;
    snprintf(e.auth, sizeof(e.auth), "%s", ms3_auth_kind_name(r->auth.kind));
    e.auth_ok = r->auth.ok;
    if (strlen(r->auth.payload_hash) == 64)
        snprintf(e.payload_hash_mode, sizeof(e.payload_hash_mode), "sha256");
    else
        snprintf(e.payload_hash_mode, sizeof(e.payload_hash_mode), "%.47s", r->auth.payload_hash);
    e.request_body_size = r->wire_bytes;
    e.status = r->responded ? r->resp.status : 0;
    e.response_size = r->resp.reader != NULL ? r->resp.length : r->resp.body.len;
    snprintf(e.error_code, sizeof(e.error_code), "%s", r->resp.error_code);
    e.duration = ms3_monotonic() - r->t_start_mono;
    snprintf(e.access_key_id, sizeof(e.access_key_id), "%.63s", r->auth.access_key_id);
    e.decoded_body_size = r->decoded_size;
    snprintf(e.body_sha256, sizeof(e.body_sha256), "%s", r->body_sha256);
    e.error_message = strdup(r->resp.error_message ? r->resp.error_message : "");
    r->journal_seq = ms3_journal_append(r->srv->journal, &e, file_headers);
}

static void journal_finish(ms3_req *r, int aborted, const char *why)
{
    journal_request(r);
    if (r->journal_seq == 0)
        return;
    char msg[512] = "";
    if (r->cut && !r->responded)
        snprintf(msg, sizeof(msg), "connection cut by a fault after %llu request body bytes",
                 (unsigned long long)r->wire_bytes);
    else if (r->cut)
        snprintf(msg, sizeof(msg), "connection cut by a fault after %llu response body bytes",
                 (unsigned long long)r->response_sent);
    else if (aborted)
        snprintf(msg, sizeof(msg), "%s",
                 why != NULL ? why : "connection closed before the exchange completed");
    int is_head = strcmp(r->method, "HEAD") == 0;
    ms3_journal_finish(r->srv->journal, r->journal_seq, r->responded ? r->resp.status : 0,
                       is_head ? 0 : r->response_sent, ms3_monotonic() - r->t_start_mono, msg);
}

void ms3_req_complete(ms3_req *r, int aborted, const char *why)
{
    if (r == NULL)
        return;
    if (r->started && r->route.op != MS3_OP_ADMIN)
        journal_finish(r, aborted, why);
    if (r->op_state_free != NULL)
        r->op_state_free(r->op_state);
    ms3_ingest_free(r->ingest);
    ms3_resp_reset(&r->resp);
    ms3_auth_result_free(&r->auth);
    ms3_route_free(&r->route);
    for (size_t i = 0; i < 2 * r->n_headers; i++)
        free(r->header_store[i]);
    free(r->header_store);
    free(r->headers);
    free(r->raw_target);
    free(r);
}
