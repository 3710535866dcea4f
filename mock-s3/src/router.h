/* From a request line and Host header to bucket, key and S3 operation:
 * path style (/bucket/key) and virtual-host style (bucket.<suffix>/key).
 * A new operation is a value here, its detection in router.c and its row in
 * ops.c. */
#ifndef MS3_ROUTER_H
#define MS3_ROUTER_H

#include <stddef.h>

typedef enum ms3_op {
    MS3_OP_UNKNOWN = 0,
    MS3_OP_ADMIN,
    MS3_OP_LIST_BUCKETS,
    MS3_OP_CREATE_BUCKET,
    MS3_OP_DELETE_BUCKET,
    MS3_OP_HEAD_BUCKET,
    MS3_OP_GET_BUCKET_LOCATION,
    MS3_OP_LIST_OBJECTS_V2,
    MS3_OP_LIST_OBJECTS,
    MS3_OP_LIST_MULTIPART_UPLOADS,
    MS3_OP_DELETE_OBJECTS,
    MS3_OP_HEAD_OBJECT,
    MS3_OP_GET_OBJECT,
    MS3_OP_PUT_OBJECT,
    MS3_OP_COPY_OBJECT,
    MS3_OP_DELETE_OBJECT,
    MS3_OP_CREATE_MULTIPART_UPLOAD,
    MS3_OP_UPLOAD_PART,
    MS3_OP_UPLOAD_PART_COPY,
    MS3_OP_COMPLETE_MULTIPART_UPLOAD,
    MS3_OP_ABORT_MULTIPART_UPLOAD,
    MS3_OP_LIST_PARTS,
    /* The credential services (sts.c, imds.c, ecs.c). STS is routed as
     * MS3_OP_STS; its form body names the action. */
    MS3_OP_STS,
    MS3_OP_STS_ASSUME_ROLE,
    MS3_OP_STS_ASSUME_ROLE_WITH_WEB_IDENTITY,
    MS3_OP_IMDS_GET_TOKEN,
    MS3_OP_IMDS_LIST_ROLES,
    MS3_OP_IMDS_GET_CREDENTIALS,
    MS3_OP_IMDS_GET_METADATA,
    MS3_OP_ECS_GET_CREDENTIALS,
    MS3_OP_COUNT /* not an operation: the number of values */
} ms3_op;

/* What each operation is and does: ops.h. */

typedef struct ms3_param {
    char *name;  /* decoded */
    char *value; /* decoded; "" when the parameter had no '=' */
} ms3_param;

typedef struct ms3_route {
    char *raw_path;  /* as on the request line, without the query */
    char *raw_query; /* without '?', "" when none */
    char *bucket;    /* NULL: service level */
    char *key;       /* decoded; NULL: bucket level */
    int virtual_host;
    ms3_param *params;
    size_t n_params;
    ms3_op op;
    /* Set when the request cannot be routed: an S3 error code and message. */
    const char *error_code;
    const char *error_message;
} ms3_route;

/* What the router needs to know of the headers (ms3__route_parse's hints). */
enum {
    MS3_ROUTE_COPY_SOURCE = 1, /* x-amz-copy-source is present */
    MS3_ROUTE_STS_FORM = 2     /* STS is on and the body is a form (POST / goes to STS) */
};

/* Never fails hard: problems land in error_code (InvalidURI, KeyTooLongError,
 * InvalidBucketName, MethodNotAllowed, NotImplemented). -1 only when out of memory. */
int ms3__route_parse(ms3_route *r, const char *method, const char *raw_target, const char *host,
                     const char *vhost_suffix, int hints);
/* Only the path and the query parameters (a listener that is not S3's); the
 * caller sets op. Errors as above; -1 only when out of memory. */
int ms3__route_parse_target(ms3_route *r, const char *raw_target);
void ms3__route_clear(ms3_route *r);
/* Adds the name=value pairs of a query string or a form body (len bytes) to
 * r's parameters; -1 when one has a malformed %-escape (the others are added)
 * or memory ran out. */
int ms3__route_add_params(ms3_route *r, const char *text, size_t len);
/* Decoded value of a query parameter; NULL when absent. */
const char *ms3__route_param(const ms3_route *r, const char *name);

#endif
