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

/* Never fails hard: problems land in error_code (InvalidURI, KeyTooLongError,
 * InvalidBucketName, MethodNotAllowed, NotImplemented). -1 only when out of memory. */
int ms3__route_parse(ms3_route *r, const char *method, const char *raw_target, const char *host,
                     const char *vhost_suffix, int has_copy_source);
void ms3__route_clear(ms3_route *r);
/* Decoded value of a query parameter; NULL when absent. */
const char *ms3__route_param(const ms3_route *r, const char *name);

#endif
