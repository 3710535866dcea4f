/* What the mock's modules share: the server object, the per-request state a
 * transport (server.c, inproc.c) hands through the request driver to the
 * operations, and the operations' entry points (their rows are in ops.c). */
#ifndef MS3_SERVER_INTERNAL_H
#define MS3_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "auth.h"
#include "bkcache/buf.h"
#include "clock.h"
#include "faults.h"
#include "ingest.h"
#include "journal.h"
#include "mock_s3.h"
#include "objmeta.h"
#include "policy.h"
#include "router.h"
#include "services.h"
#include "store.h"
#include "uploads.h"

struct MHD_Daemon;
struct ms3_op_info; /* ops.h */
struct ms3_timer;   /* timer.h */

/* A listener of a credential service (IMDS, ECS) beside the S3 one. */
typedef struct ms3_listener {
    struct ms3_server *srv;
    ms3_endpoint endpoint;
    struct MHD_Daemon *daemon; /* NULL when off or in process */
    char url[160];             /* "" when off or in process */
} ms3_listener;

/* S3's limit for one PUT and for a copy source (5 GiB). */
#define MS3_MAX_OBJECT_PUT (UINT64_C(5) * 1024 * 1024 * 1024)

struct ms3_server {
    char *listen_host;
    char *region;
    char *vhost_suffix;
    int anonymous;
    uint64_t min_part_size;
    int64_t max_skew_seconds;
    unsigned max_connections;
    char *admin_token; /* NULL = none */
    int no_admin;
    uint16_t port;
    char url[96];

    struct MHD_Daemon *daemon; /* NULL for an in-process server (no listener) */
    ms3_clock clock;
    ms3_creds *creds;
    ms3_store *store;
    ms3_uploads *uploads;
    ms3_journal *journal;
    ms3_faults *faults;
    ms3_policies *policies;
    ms3_services *services;     /* STS, IMDS, ECS */
    ms3_listener imds_listener; /* the IMDS and ECS ports (server.c) */
    ms3_listener ecs_listener;

    ms3_sleeper sleeper;     /* delay faults wait here (thread per connection); stop wakes them */
    struct ms3_timer *timer; /* a thread pool parks delayed connections here; NULL otherwise */
    unsigned threads;        /* of the pool */
    _Atomic uint64_t request_counter;
    bk_md5sha256_impl digests; /* asked of the CPU once (bk_md5sha256_choose) */
};

/* ---- per request */

typedef struct ms3_response {
    int status;
    ms3_pair *headers; /* name and value in one allocation: ms3__resp_header_free */
    size_t n_headers, cap_headers;
    bk_buf body;        /* XML / JSON bodies */
    ms3_reader *reader; /* object bodies */
    uint64_t offset, length;
    int no_body;            /* HEAD, 204, 304: nothing after the headers */
    int64_t content_length; /* HEAD: the Content-Length to announce; -1 = from the body */
    int omit_last_modified; /* fault HEAD_NO_LAST_MODIFIED removed it */
    char error_code[48];
    char *error_message;
} ms3_response;

typedef struct ms3_req {
    ms3_server *srv;
    char *raw_target;
    char method[16];
    int started;       /* headers processed */
    int responded;     /* a response is queued */
    int cut;           /* the connection was cut on purpose */
    int header_failed; /* a header could not be stored (out of memory) */
    double t_start_mono;
    double t_start;
    uint16_t remote_port;
    uint64_t request_id;
    ms3_endpoint endpoint; /* the listener it came in on */

    bk_sigv4_header *headers; /* copies, after the proxy mode rewrote them */
    size_t n_headers, cap_headers;
    char **header_store; /* owned blocks behind headers: name and value, one per header */

    ms3_route route;
    const struct ms3_op_info *op; /* the row of route.op (ops.h) */
    ms3_bucket_policy policy;
    ms3_access access;
    ms3_auth_result auth;
    ms3_fault_decision fault;

    ms3_ingest *ingest;
    uint64_t wire_bytes; /* request body bytes received (also when no ingest) */
    int expect_body;
    int content_length_known;
    uint64_t content_length;

    ms3_response resp;
    uint64_t response_sent; /* body bytes handed to MHD */
    uint64_t journal_seq;   /* 0 until the entry was recorded */

    /* Checked or computed on upload, for the journal. */
    char body_sha256[65];
    uint64_t decoded_size;
    char *journal_query; /* what the journal shows as the query, when not the
                            request line's (STS: its form without secrets) */
} ms3_req;

/* Headers, case-insensitive; NULL when absent. */
const char *ms3__req_header(const ms3_req *r, const char *name);

/* Response helpers (response.c). */
void ms3__resp_reset(ms3_response *resp); /* frees everything, back to "no response" */
void ms3__resp_header(ms3_req *r, const char *name, const char *value);
/* Releases one of r->resp.headers (the caller takes it out of the array). */
void ms3__resp_header_free(ms3_pair *h);
/* "name\0value\0" in one allocation, *value_out pointing at the value; NULL
 * when out of memory. A request's or response's header is one malloc. */
char *ms3__name_value_dup(const char *name, const char *value, char **value_out);
void ms3__resp_headerf(ms3_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* S3 <Error> document; message NULL = the table's; extra_xml: escaped elements or NULL. */
void ms3__resp_error(ms3_req *r, const char *code, const char *message, const char *extra_xml);
void ms3__resp_error_status(ms3_req *r, int status, const char *code, const char *message,
                            const char *extra_xml);
/* 200 with the XML text in r->resp.body (the handler fills it). */
void ms3__resp_xml(ms3_req *r, int status);

/* The operations' prechecks and handlers, referenced by their rows in ops.c.
 * A precheck responds and returns -1 to refuse the request before its body;
 * a handler runs once the body is in and always responds. */

/* buckets.c */
void ms3__op_create_bucket(ms3_req *r);
void ms3__op_delete_bucket(ms3_req *r);
void ms3__op_head_bucket(ms3_req *r);
void ms3__op_get_bucket_location(ms3_req *r);
void ms3__op_list_buckets(ms3_req *r);
/* listing.c */
void ms3__op_list_objects_v1(ms3_req *r);
void ms3__op_list_objects_v2(ms3_req *r);
/* objects.c */
int ms3__precheck_put_object(ms3_req *r);
int ms3__precheck_delete_objects(ms3_req *r);
void ms3__op_head_object(ms3_req *r);
void ms3__op_get_object(ms3_req *r);
void ms3__op_put_object(ms3_req *r);
void ms3__op_copy_object(ms3_req *r);
void ms3__op_delete_object(ms3_req *r);
void ms3__op_delete_objects(ms3_req *r);
/* multipart.c (the registry of uploads is uploads.c) */
int ms3__precheck_upload(ms3_req *r);
int ms3__precheck_upload_part(ms3_req *r);
int ms3__precheck_upload_part_copy(ms3_req *r);
void ms3__op_create_multipart(ms3_req *r);
void ms3__op_upload_part(ms3_req *r);
void ms3__op_upload_part_copy(ms3_req *r);
void ms3__op_complete_multipart(ms3_req *r);
void ms3__op_abort_multipart(ms3_req *r);
void ms3__op_list_parts(ms3_req *r);
void ms3__op_list_multipart_uploads(ms3_req *r);
/* sts.c: the Query protocol on POST / (the form's Action picks the row). */
ms3_op ms3__sts_resolve(ms3_req *r);
void ms3__op_sts(ms3_req *r);
void ms3__op_sts_assume_role(ms3_req *r);
void ms3__op_sts_assume_role_with_web_identity(ms3_req *r);
void ms3__sts_error(ms3_req *r, int status, const char *code, const char *message);
/* imds.c: IMDSv2 on its own listener; the path picks the row. */
ms3_op ms3__imds_route(const char *method, const char *path);
int ms3__precheck_imds(ms3_req *r);
void ms3__op_imds_get_token(ms3_req *r);
void ms3__op_imds_list_roles(ms3_req *r);
void ms3__op_imds_get_credentials(ms3_req *r);
void ms3__op_imds_get_metadata(ms3_req *r);
void ms3__imds_error(ms3_req *r, int status, const char *code, const char *message);
/* ecs.c: the container credentials endpoint on its own listener. */
int ms3__precheck_ecs(ms3_req *r);
void ms3__op_ecs_get_credentials(ms3_req *r);
void ms3__ecs_error(ms3_req *r, int status, const char *code, const char *message);
/* admin.c: whether the request may use /_mock/ at all, judged from its
 * headers (off, a web page, no token), then the endpoint. */
int ms3__admin_admit(ms3_req *r);
/* The journal page (src/ui.html, compiled in by cmake/embed.cmake). */
extern const char ms3__ui_html[];
extern const size_t ms3__ui_html_len;
void ms3__admin_run(ms3_req *r);

/* Everything but the listener (server.c); ms3_server_start and
 * ms3_server_new_inproc add what they need. NULL + err on failure. */
ms3_server *ms3__server_create(const ms3_options *o, bk_err *err);

#endif
