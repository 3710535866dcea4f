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
#include "ops.h"
#include "precheck.h"
#include "record.h"
#include "request.h"
#include "uri.h"
#include "xml.h"

enum {
    ADMIN_BODY_LIMIT = 1024 * 1024,
    XML_BODY_LIMIT = 16 * 1024 * 1024,
    SERVICE_BODY_LIMIT = 256 * 1024 /* an STS form: a web identity token is 20000 bytes */
};

ms3_req *ms3__req_new(ms3_server *s, const char *raw_target, uint16_t remote_port)
{
    ms3_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->raw_target = strdup(raw_target != NULL ? raw_target : "/");
    r->t_start_mono = ms3__monotonic();
    r->t_start = ms3__clock_now_f(&s->clock);
    r->request_id = atomic_fetch_add(&s->request_counter, 1) + 1;
    r->remote_port = remote_port;
    r->resp.content_length = -1;
    r->op = ms3__op_info_of(MS3_OP_UNKNOWN);
    ms3__auth_result_init(&r->auth);
    return r;
}

/* ---------------------------------------------------------------- headers */

/* Room for one more header: the arrays double, a request's dozen headers
 * cost a few reallocations, not one each. */
static int header_room(ms3_req *r)
{
    if (r->n_headers < r->cap_headers)
        return 0;
    size_t cap = r->cap_headers ? 2 * r->cap_headers : 16;
    bk_sigv4_header *nh = realloc(r->headers, cap * sizeof(*nh));
    if (nh == NULL)
        return -1;
    r->headers = nh;
    char **ns = realloc(r->header_store, cap * sizeof(*ns));
    if (ns == NULL)
        return -1;
    r->header_store = ns;
    r->cap_headers = cap;
    return 0;
}

/* A copy of the header, name and value in one allocation. */
static int add_header(ms3_req *r, const char *name, const char *value)
{
    if (value == NULL)
        value = "";
    char *v = NULL;
    char *p = header_room(r) == 0 ? ms3__name_value_dup(name, value, &v) : NULL;
    if (p == NULL)
        return -1;
    r->header_store[r->n_headers] = p;
    r->headers[r->n_headers].name = p;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
    return 0;
}

int ms3__req_add_header(ms3_req *r, const char *name, const char *value)
{
    unsigned proxy = ms3__policies_proxy(r->srv->policies);
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

/* Content-Length and whether a body follows. 0 after responding. */
static int read_framing(ms3_req *r)
{
    if (r->header_failed || r->raw_target == NULL) {
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return 0;
    }
    const char *cl = ms3__req_header(r, "Content-Length");
    if (cl != NULL) {
        r->content_length_known = 1;
        r->content_length = strtoull(cl, NULL, 10);
    }
    const char *te = ms3__req_header(r, "Transfer-Encoding");
    r->expect_body = (r->content_length_known && r->content_length > 0) || te != NULL;
    return 1;
}

/* A request on the IMDS or ECS listener: the service's operation by path. */
static int route_listener(ms3_req *r)
{
    if (ms3__route_parse_target(&r->route, r->raw_target) != 0) {
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return 0;
    }
    r->route.op = r->endpoint == MS3_ENDPOINT_IMDS ? ms3__imds_route(r->method, r->route.raw_path)
                                                   : MS3_OP_ECS_GET_CREDENTIALS;
    r->op = ms3__op_info_of(r->route.op);
    return 1;
}

/* Bucket, key and operation. 0 after responding (a request S3 cannot route). */
static int route(ms3_req *r)
{
    if (r->endpoint != MS3_ENDPOINT_S3)
        return route_listener(r);
    int hints = ms3__req_header(r, "x-amz-copy-source") != NULL ? MS3_ROUTE_COPY_SOURCE : 0;
    if (ms3__services_sts(r->srv->services) &&
        ms3__media_type_is(ms3__req_header(r, "Content-Type"), "application/x-www-form-urlencoded"))
        hints |= MS3_ROUTE_STS_FORM;
    if (ms3__route_parse(&r->route, r->method, r->raw_target, ms3__req_header(r, "Host"),
                         r->srv->vhost_suffix, hints) != 0) {
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return 0;
    }
    r->op = ms3__op_info_of(r->route.op);
    if (r->route.error_code != NULL && !(r->op->flags & MS3_OPF_ADMIN)) {
        ms3__resp_error(r, r->route.error_code, r->route.error_message, NULL);
        return 0;
    }
    return 1;
}

static int authenticate(ms3_req *r)
{
    ms3_server *s = r->srv;
    bk_sigv4_request sreq = {r->method,       r->route.raw_path, r->route.raw_query,
                             r->headers,      r->n_headers,      NULL,
                             BK_SIGV4_PATH_S3};
    ms3_auth_config acfg = {s->region, s->anonymous, s->max_skew_seconds, &s->clock, s->creds,
                            NULL,      NULL};
    if (ms3__auth_verify(&acfg, &sreq, &r->auth))
        return 1;
    int status = r->auth.status ? r->auth.status : ms3__error_status(r->auth.error_code);
    ms3__resp_error_status(r, status, r->auth.error_code, r->auth.message,
                           bk_buf_str(&r->auth.extra_xml));
    return 0;
}

/* The bucket's policy, the caller's access, and what the fault rules do to it. */
static void decide_policy_and_faults(ms3_req *r)
{
    ms3_server *s = r->srv;
    ms3__policies_get(s->policies, r->route.bucket, &r->policy);
    r->access = ms3__access_of(r->policy.access, r->auth.profile);
    ms3__faults_decide(s->faults, r->method, r->op->name, r->route.bucket, r->route.key, &r->fault);
}

/* The checks every operation makes, then the operation's own. */
static int precheck(ms3_req *r)
{
    return ms3__precheck_request(r) == 0 && (r->op->precheck == NULL || r->op->precheck(r) == 0);
}

/* How the body is read: object data to storage, an XML document to memory,
 * anything else counted and dropped; a fault that answers with an error
 * drops the body whatever it is. */
static void setup_ingest(ms3_req *r)
{
    ms3_ingest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.sink = (r->op->flags & MS3_OPF_XML_BODY) ? MS3_INGEST_BUFFER : MS3_INGEST_DISCARD;
    cfg.buffer_limit = (r->op->flags & MS3_OPF_XML_BODY) ? XML_BODY_LIMIT : 0;
    cfg.decoded_length = -1;
    cfg.digests = r->srv->digests;
    const char *ph = r->auth.payload_hash;
    if (strlen(ph) == 64)
        cfg.expect_sha256_hex = ph;
    int fault_error = r->fault.action == MS3_FAULT_ERROR || r->fault.action == MS3_FAULT_ERROR_200;
    if (!fault_error && ms3__req_ingest_config(r, &cfg) != 0)
        return; /* responded */
    if (fault_error) {
        cfg.sink = MS3_INGEST_DISCARD;
        cfg.expect_sha256_hex = NULL;
        cfg.chunked_mode = 0;
    }
    bk_err err;
    r->ingest = ms3__ingest_new(&cfg, &err);
    if (r->ingest == NULL)
        ms3__resp_error(r, "InternalError", NULL, NULL);
}

/* The body in memory, up to limit bytes. */
static void buffer_body(ms3_req *r, size_t limit)
{
    ms3_ingest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.sink = MS3_INGEST_BUFFER;
    cfg.buffer_limit = limit;
    cfg.decoded_length = -1;
    cfg.digests = r->srv->digests;
    bk_err err;
    r->ingest = ms3__ingest_new(&cfg, &err);
}

/* /_mock/: whether the caller may use it at all, then its JSON body in memory. */
static void begin_admin(ms3_req *r)
{
    if (r->op->precheck(r) != 0)
        return;
    buffer_body(r, ADMIN_BODY_LIMIT);
}

/* A credential service authenticates the request itself (STS's signature
 * covers the form body, so it is checked once the body is in). An operation
 * its body names is subject to faults once it is known (run_operation). */
static void begin_service(ms3_req *r)
{
    if (r->op->resolve == NULL)
        ms3__faults_decide(r->srv->faults, r->method, r->op->name, NULL, NULL, &r->fault);
    if (r->op->precheck != NULL && r->op->precheck(r) != 0)
        return;
    buffer_body(r, SERVICE_BODY_LIMIT);
}

void ms3__req_begin(ms3_req *r, const char *method)
{
    r->started = 1;
    snprintf(r->method, sizeof(r->method), "%s", method);
    if (!read_framing(r) || !route(r))
        return;
    if (r->op->flags & MS3_OPF_ADMIN) {
        begin_admin(r);
        return;
    }
    if (r->op->flags & MS3_OPF_SERVICE) {
        begin_service(r);
        return;
    }
    if (!authenticate(r))
        return;
    decide_policy_and_faults(r);
    if (precheck(r))
        setup_ingest(r);
}

int ms3__req_decided(const ms3_req *r)
{
    return r->resp.status != 0;
}

int ms3__req_feed(ms3_req *r, const void *data, size_t n)
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
        ms3__ingest_feed(r->ingest, data, n);
    return 0;
}

/* An error in the operation's format: S3's <Error>, or its service's. */
static void answer_error(ms3_req *r, int status, const char *code, const char *message,
                         const char *extra_xml)
{
    if (r->op->error != NULL)
        r->op->error(r, status, code, message != NULL ? message : ms3__error_message(code));
    else
        ms3__resp_error_status(r, status, code, message, extra_xml);
}

/* The body is in: its verdict (checksums, signatures, framing), a fault that
 * answers instead, or the operation. */
static void run_operation(ms3_req *r)
{
    if (r->op->flags & MS3_OPF_ADMIN) {
        r->op->handler(r);
        return;
    }
    if (r->ingest != NULL) {
        int rc = ms3__ingest_finish(r->ingest);
        r->decoded_size = ms3__ingest_payload_bytes(r->ingest);
        if (rc != 0) {
            answer_error(r, ms3__ingest_error_status(r->ingest), ms3__ingest_error_code(r->ingest),
                         ms3__ingest_error_message(r->ingest), ms3__ingest_error_xml(r->ingest));
            return;
        }
    }
    if (r->op->resolve != NULL) {
        ms3_op op = r->op->resolve(r);
        if (op == MS3_OP_UNKNOWN)
            return; /* answered */
        r->op = ms3__op_info_of(op);
        ms3__faults_decide(r->srv->faults, r->method, r->op->name, NULL, NULL, &r->fault);
    }
    if (r->fault.action == MS3_FAULT_ERROR || r->fault.action == MS3_FAULT_ERROR_200) {
        answer_error(r, r->fault.status, r->fault.error_code,
                     r->fault.error_message[0] ? r->fault.error_message : NULL, NULL);
        if (r->fault.action == MS3_FAULT_ERROR_200) {
            /* The status says success, the body says failure (Copy/Complete on S3). */
            r->resp.status = 200;
        }
        return;
    }
    r->op->handler(r);
}

int ms3__req_end_body(ms3_req *r)
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

static uint64_t resp_total(const ms3_req *r)
{
    return r->resp.reader != NULL ? r->resp.length : r->resp.body.len;
}

static void drop_response_header(ms3_req *r, const char *name)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->resp.n_headers; i++) {
        if (strcasecmp(r->resp.headers[i].name, name) == 0) {
            ms3__resp_header_free(&r->resp.headers[i]);
            continue;
        }
        r->resp.headers[kept++] = r->resp.headers[i];
    }
    r->resp.n_headers = kept;
}

void ms3__req_respond(ms3_req *r, int sleep)
{
    if (r->fault.delay_ms > 0 && sleep)
        ms3__sleeper_sleep_ms(&r->srv->sleeper, r->fault.delay_ms);
    if (r->resp.status == 0)
        ms3__resp_error(r, "InternalError", "no response was produced", NULL);
    if (r->fault.action == MS3_FAULT_HEAD_NO_LAST_MODIFIED)
        drop_response_header(r, "Last-Modified");
    ms3__resp_headerf(r, "x-amz-request-id", "%016llX", (unsigned long long)r->request_id);
    ms3__resp_header(r, "x-amz-id-2", "mock-s3");
    ms3__resp_header(r, "Server", "mock-s3");
    r->responded = 1;
    ms3__req_record(r);
}

int ms3__req_response_bodyless(const ms3_req *r)
{
    return strcmp(r->method, "HEAD") == 0 || r->resp.no_body || resp_total(r) == 0;
}

int64_t ms3__req_response_length(const ms3_req *r)
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

const char *ms3__req_response_whole(ms3_req *r, size_t *len)
{
    if (r->resp.reader != NULL || r->fault.action == MS3_FAULT_CUT_RESPONSE ||
        r->fault.action == MS3_FAULT_TINY_CHUNKS)
        return NULL;
    int64_t length = ms3__req_response_length(r);
    if (length < 0 || (uint64_t)length != r->resp.body.len)
        return NULL;
    *len = r->resp.body.len;
    r->response_sent = r->resp.body.len;
    return r->resp.body.len > 0 ? r->resp.body.data : "";
}

long ms3__req_read_response(ms3_req *r, uint64_t pos, char *buf, size_t max, int pace)
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
        long got = ms3__reader_pread(r->resp.reader, buf, n, r->resp.offset + pos);
        if (got <= 0)
            return -1;
        n = (size_t)got;
    } else {
        memcpy(buf, r->resp.body.data + pos, n);
    }
    r->response_sent = pos + n;
    return (long)n;
}

void ms3__req_complete(ms3_req *r, int aborted, const char *why)
{
    if (r == NULL)
        return;
    if (r->started && !(r->op->flags & MS3_OPF_ADMIN))
        ms3__req_record_finish(r, aborted, why);
    ms3__ingest_free(r->ingest);
    ms3__resp_reset(&r->resp);
    ms3__auth_result_clear(&r->auth);
    ms3__route_clear(&r->route);
    free(r->journal_query);
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->header_store[i]);
    free(r->header_store);
    free(r->headers);
    free(r->raw_target);
    free(r);
}
