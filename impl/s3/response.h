/* The response side of the request engine: headers into the result, the
 * checks that keep a GET from handing a sink wrong or missing bytes, bodies
 * kept for XML results and error documents, and the error message of a
 * failed response. Private to libbkcache's s3 layer. */
#ifndef BKCACHE_S3_RESPONSE_H
#define BKCACHE_S3_RESPONSE_H

#include "s3internal.h"

/* One attempt's view of the response, filled by the curl callbacks. */
typedef struct s3_attempt {
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
    /* A ranged GET answered 200 with the whole object: its first skip bytes
     * are not the sink's (skipped so far: skipped), and it takes at most take
     * bytes of the rest. */
    int whole;
    uint64_t skip, skipped, take;
    uint64_t delivered; /* bytes given to the sink in this attempt */
    int checked;
    int proto_error; /* 1: the GET check failed (proto_msg); 2: body over body_limit */
    char proto_msg[300];
    int sink_failed;
    bk_err sink_err;
    int have_cr, cr_total_known, have_cl;
    uint64_t cr_first, cr_last, cr_total, cl;
    char location[512];     /* Location of a redirect */
    const char *first_etag; /* a resume: the ETag the first bytes came from, or NULL */
} s3_attempt;

/* Forgets the headers of a previous response (a 100 Continue, a redirect). */
void bk__s3_response_reset(s3_attempt *at);

/* CURLOPT_HEADERFUNCTION and CURLOPT_WRITEFUNCTION, with the attempt as ud. */
size_t bk__s3_header_cb(char *line, size_t size, size_t nitems, void *ud);
size_t bk__s3_write_cb(char *data, size_t size, size_t nitems, void *ud);

/* Before the first byte of a successful GET reaches the sink: the range asked
 * for, the status and Content-Range agree. A 200 with the whole object to a
 * ranged GET (HTTP allows a server to ignore Range) is taken from the byte
 * asked for, unless its ETag says the object changed. 0, or -1 with
 * proto_msg set. */
int bk__s3_check_get_response(s3_attempt *at);

/* Bytes the sink should have got from this response (Content-Length, or the
 * Content-Range's span, or what a whole 200 holds past the skipped bytes). */
uint64_t bk__s3_expected_body(const s3_attempt *at);

/* "NotFound", "SlowDown", ...: the S3 code a body-less status stands for. */
const char *bk__s3_status_code_name(int status);

/* The message of a failed response (operation, s3://bucket/key, status, S3
 * code and message, a hint when there was no error body: the endpoint for an
 * answer that is not S3's, the Location of a redirect; request id); returns
 * the code the failure maps to. */
bk_code bk__s3_format_error(bk_s3_client *c, const s3_request *rq, const s3_attempt *at,
                            int body_less, bk_err *err);

#endif
