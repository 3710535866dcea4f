/* The operation table (ops.h). */
#include "ops.h"

#include "server_internal.h"

/* Routing yields MS3_OP_UNKNOWN only with an error, answered before any
 * handler runs; this row is there so a lookup never fails. */
static void not_implemented(ms3_req *r)
{
    ms3__resp_error(r, "NotImplemented", NULL, NULL);
}

enum {
    W = MS3_OPF_WRITE,
    PAYLOAD = MS3_OPF_PAYLOAD,
    XML = MS3_OPF_XML_BODY,
    LISTS = MS3_OPF_LISTS,
    CREATES = MS3_OPF_CREATES_OBJECT,
    NO_BUCKET = MS3_OPF_NO_BUCKET,
    ADMIN = MS3_OPF_ADMIN,
    SERVICE = MS3_OPF_SERVICE | MS3_OPF_NO_BUCKET,
};

#define OP(id, name, flags, precheck, handler)                                                     \
    [id] = {id, flags, name, precheck, handler, NULL, NULL}
/* A credential service's operation: its own errors, maybe named by its body. */
#define SVC(id, name, precheck, handler, error, resolve)                                           \
    [id] = {id, SERVICE, name, precheck, handler, error, resolve}

static const ms3_op_info ops[] = {
    OP(MS3_OP_UNKNOWN, "", 0, NULL, not_implemented),
    OP(MS3_OP_ADMIN, "Admin", ADMIN | NO_BUCKET, ms3__admin_admit, ms3__admin_run),
    /* service and buckets */
    OP(MS3_OP_LIST_BUCKETS, "ListBuckets", NO_BUCKET, NULL, ms3__op_list_buckets),
    OP(MS3_OP_CREATE_BUCKET, "CreateBucket", W | NO_BUCKET, NULL, ms3__op_create_bucket),
    OP(MS3_OP_DELETE_BUCKET, "DeleteBucket", W, NULL, ms3__op_delete_bucket),
    OP(MS3_OP_HEAD_BUCKET, "HeadBucket", 0, NULL, ms3__op_head_bucket),
    OP(MS3_OP_GET_BUCKET_LOCATION, "GetBucketLocation", 0, NULL, ms3__op_get_bucket_location),
    OP(MS3_OP_LIST_OBJECTS_V2, "ListObjectsV2", LISTS, NULL, ms3__op_list_objects_v2),
    OP(MS3_OP_LIST_OBJECTS, "ListObjects", LISTS, NULL, ms3__op_list_objects_v1),
    OP(MS3_OP_LIST_MULTIPART_UPLOADS, "ListMultipartUploads", LISTS, NULL,
       ms3__op_list_multipart_uploads),
    OP(MS3_OP_DELETE_OBJECTS, "DeleteObjects", W | XML, ms3__precheck_delete_objects,
       ms3__op_delete_objects),
    /* objects */
    OP(MS3_OP_HEAD_OBJECT, "HeadObject", 0, NULL, ms3__op_head_object),
    OP(MS3_OP_GET_OBJECT, "GetObject", 0, NULL, ms3__op_get_object),
    OP(MS3_OP_PUT_OBJECT, "PutObject", W | PAYLOAD | CREATES, ms3__precheck_put_object,
       ms3__op_put_object),
    OP(MS3_OP_COPY_OBJECT, "CopyObject", W | CREATES, NULL, ms3__op_copy_object),
    OP(MS3_OP_DELETE_OBJECT, "DeleteObject", W, NULL, ms3__op_delete_object),
    /* multipart uploads */
    OP(MS3_OP_CREATE_MULTIPART_UPLOAD, "CreateMultipartUpload", W | CREATES, NULL,
       ms3__op_create_multipart),
    OP(MS3_OP_UPLOAD_PART, "UploadPart", W | PAYLOAD, ms3__precheck_upload_part,
       ms3__op_upload_part),
    OP(MS3_OP_UPLOAD_PART_COPY, "UploadPartCopy", W, ms3__precheck_upload_part_copy,
       ms3__op_upload_part_copy),
    OP(MS3_OP_COMPLETE_MULTIPART_UPLOAD, "CompleteMultipartUpload", W | XML, ms3__precheck_upload,
       ms3__op_complete_multipart),
    OP(MS3_OP_ABORT_MULTIPART_UPLOAD, "AbortMultipartUpload", W, ms3__precheck_upload,
       ms3__op_abort_multipart),
    OP(MS3_OP_LIST_PARTS, "ListParts", 0, ms3__precheck_upload, ms3__op_list_parts),
    /* credential services (sts.c, imds.c, ecs.c) */
    SVC(MS3_OP_STS, "STS", NULL, ms3__op_sts, ms3__sts_error, ms3__sts_resolve),
    SVC(MS3_OP_STS_ASSUME_ROLE, "STS.AssumeRole", NULL, ms3__op_sts_assume_role, ms3__sts_error,
        NULL),
    SVC(MS3_OP_STS_ASSUME_ROLE_WITH_WEB_IDENTITY, "STS.AssumeRoleWithWebIdentity", NULL,
        ms3__op_sts_assume_role_with_web_identity, ms3__sts_error, NULL),
    SVC(MS3_OP_IMDS_GET_TOKEN, "IMDS.GetToken", ms3__precheck_imds, ms3__op_imds_get_token,
        ms3__imds_error, NULL),
    SVC(MS3_OP_IMDS_LIST_ROLES, "IMDS.ListRoles", ms3__precheck_imds, ms3__op_imds_list_roles,
        ms3__imds_error, NULL),
    SVC(MS3_OP_IMDS_GET_CREDENTIALS, "IMDS.GetCredentials", ms3__precheck_imds,
        ms3__op_imds_get_credentials, ms3__imds_error, NULL),
    SVC(MS3_OP_IMDS_GET_METADATA, "IMDS.GetMetadata", ms3__precheck_imds, ms3__op_imds_get_metadata,
        ms3__imds_error, NULL),
    SVC(MS3_OP_ECS_GET_CREDENTIALS, "ECS.GetCredentials", ms3__precheck_ecs,
        ms3__op_ecs_get_credentials, ms3__ecs_error, NULL),
};

_Static_assert(sizeof(ops) / sizeof(ops[0]) == MS3_OP_COUNT, "ops.c needs a row per ms3_op");

const ms3_op_info *ms3__op_info_of(ms3_op op)
{
    if ((size_t)op >= sizeof(ops) / sizeof(ops[0]) || ops[op].handler == NULL)
        return &ops[MS3_OP_UNKNOWN];
    return &ops[op];
}

const char *ms3__op_name(ms3_op op)
{
    return ms3__op_info_of(op)->name;
}

int ms3__op_is_write(ms3_op op)
{
    return (ms3__op_info_of(op)->flags & MS3_OPF_WRITE) != 0;
}

int ms3__op_has_payload(ms3_op op)
{
    return (ms3__op_info_of(op)->flags & MS3_OPF_PAYLOAD) != 0;
}
