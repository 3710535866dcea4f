/* Requests without a socket: the same request steps server.c runs for
 * libmicrohttpd (request.h), fed from memory. What the HTTP layer does before
 * the mock sees a request (reading the body by its Content-Length, refusing a
 * malformed one) is imitated here, so a fuzzer or a test reaches exactly the
 * code a network client reaches. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "server_internal.h"

enum { DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024, READ_PIECE = 64 * 1024 };

ms3_server *ms3_server_new_inproc(const ms3_options *o, bk_err *err)
{
    return ms3__server_create(o, err);
}

static const char *request_header(const ms3_inproc_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        if (rq->headers[i].name != NULL && strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value != NULL ? rq->headers[i].value : "";
    return NULL;
}

/* How much of the body the HTTP layer reads. -1: a Content-Length it refuses. */
static int body_framing(const ms3_inproc_request *rq, size_t *deliver, int *short_body)
{
    *deliver = 0;
    *short_body = 0;
    if (request_header(rq, "Transfer-Encoding") != NULL) {
        *deliver = rq->body_len;
        return 0;
    }
    const char *cl = request_header(rq, "Content-Length");
    if (cl == NULL)
        return 0; /* no body announced: the bytes would be the next request */
    if (*cl == '\0')
        return -1;
    unsigned long long announced = 0;
    for (const char *p = cl; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p) || announced > (~0ULL - 9) / 10)
            return -1;
        announced = announced * 10 + (unsigned long long)(*p - '0');
    }
    if (announced > rq->body_len) {
        *deliver = rq->body_len;
        *short_body = 1;
    } else {
        *deliver = (size_t)announced;
    }
    return 0;
}

static int add_out_header(ms3_inproc_response *out, const char *name, const char *value)
{
    char **nn = realloc(out->header_names, (out->n_headers + 1) * sizeof(*nn));
    if (nn != NULL)
        out->header_names = nn;
    char **nv = realloc(out->header_values, (out->n_headers + 1) * sizeof(*nv));
    if (nv != NULL)
        out->header_values = nv;
    if (nn == NULL || nv == NULL)
        return -1;
    nn[out->n_headers] = strdup(name);
    nv[out->n_headers] = strdup(value);
    if (nn[out->n_headers] == NULL || nv[out->n_headers] == NULL) {
        free(nn[out->n_headers]);
        free(nv[out->n_headers]);
        return -1;
    }
    out->n_headers++;
    return 0;
}

/* Status, headers and as much of the body as the response gives before it ends
 * or a fault cuts it. -1: out of memory. */
static int collect_response(ms3_req *r, const ms3_inproc_request *rq, ms3_inproc_response *out)
{
    ms3__req_respond(r, 0);
    out->status = r->resp.status;
    out->delay_ms = r->fault.delay_ms;
    for (size_t i = 0; i < r->resp.n_headers; i++)
        if (add_out_header(out, r->resp.headers[i].name, r->resp.headers[i].value) != 0)
            return -1;
    int64_t length = ms3__req_response_length(r);
    if (length >= 0) {
        char cl[32];
        snprintf(cl, sizeof(cl), "%lld", (long long)length);
        if (add_out_header(out, "Content-Length", cl) != 0)
            return -1;
    }
    if (ms3__req_response_bodyless(r))
        return 0;

    size_t limit = rq->max_response ? rq->max_response : DEFAULT_MAX_RESPONSE;
    uint64_t want = (uint64_t)length;
    size_t cap = want < limit ? (size_t)want : limit;
    out->body = malloc(cap + 1);
    if (out->body == NULL)
        return -1;
    char piece[READ_PIECE];
    uint64_t pos = 0;
    for (;;) {
        long n = ms3__req_read_response(r, pos, piece, sizeof(piece), 0);
        if (n == 0)
            break;
        if (n < 0) {
            if (r->cut)
                out->outcome = MS3_INPROC_CUT_RESPONSE;
            break;
        }
        size_t room = cap - out->body_len;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(out->body + out->body_len, piece, keep);
        out->body_len += keep;
        if (keep < (size_t)n)
            out->body_truncated = 1;
        pos += (uint64_t)n;
    }
    out->body[out->body_len] = '\0';
    return 0;
}

bk_code ms3_server_handle(ms3_server *s, const ms3_inproc_request *rq, ms3_inproc_response *out,
                          bk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || rq == NULL || rq->method == NULL || rq->target == NULL) {
        return bk_err_set(err, BK_EINVAL,
                          "in-process request needs a server, a method and a target");
    }
    if (rq->body_len > 0 && rq->body == NULL) {
        return bk_err_set(err, BK_EINVAL, "in-process request has a body length but no body");
    }
    if ((rq->endpoint == MS3_ENDPOINT_IMDS && !ms3__services_imds(s->services)) ||
        (rq->endpoint == MS3_ENDPOINT_ECS && !ms3__services_ecs(s->services)) ||
        (unsigned)rq->endpoint > MS3_ENDPOINT_ECS)
        return bk_err_set(err, BK_EINVAL, "in-process request for endpoint %d, which is off",
                          (int)rq->endpoint);
    size_t deliver = 0;
    int short_body = 0;
    if (body_framing(rq, &deliver, &short_body) != 0) {
        /* libmicrohttpd answers this itself; the mock never sees the request. */
        out->outcome = MS3_INPROC_BAD_REQUEST;
        out->status = 400;
        return BK_OK;
    }

    ms3_req *r = ms3__req_new(s, rq->target, 0);
    if (r == NULL) {
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    r->endpoint = rq->endpoint;
    for (size_t i = 0; i < rq->n_headers; i++) {
        if (rq->headers[i].name == NULL)
            continue;
        /* A failure is answered by ms3__req_begin (500 InternalError). */
        (void)ms3__req_add_header(r, rq->headers[i].name,
                                  rq->headers[i].value != NULL ? rq->headers[i].value : "");
    }
    ms3__req_begin(r, rq->method);

    if (ms3__req_decided(r)) {
        out->body_before_request = deliver > 0;
    } else {
        size_t piece = rq->feed_piece ? rq->feed_piece : (deliver ? deliver : 1);
        const char *body = rq->body;
        for (size_t off = 0; off < deliver; off += piece) {
            size_t n = deliver - off < piece ? deliver - off : piece;
            if (ms3__req_feed(r, body + off, n) != 0) {
                out->outcome = MS3_INPROC_CUT_REQUEST;
                ms3__req_complete(r, 1, NULL);
                return BK_OK;
            }
        }
        if (short_body) {
            out->outcome = MS3_INPROC_CLIENT_GONE;
            ms3__req_complete(r, 1, "client closed the connection in the middle of the body");
            return BK_OK;
        }
        if (ms3__req_end_body(r) != 0) {
            out->outcome = MS3_INPROC_CUT_REQUEST;
            ms3__req_complete(r, 1, NULL);
            return BK_OK;
        }
    }
    int rc = collect_response(r, rq, out);
    ms3__req_complete(r, out->outcome != MS3_INPROC_ANSWERED, NULL);
    if (rc != 0)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    return BK_OK;
}

void ms3_inproc_response_clear(ms3_inproc_response *resp)
{
    if (resp == NULL)
        return;
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->header_names[i]);
        free(resp->header_values[i]);
    }
    free(resp->header_names);
    free(resp->header_values);
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

const char *ms3_inproc_response_header(const ms3_inproc_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->header_names[i], name) == 0)
            return resp->header_values[i];
    return NULL;
}
