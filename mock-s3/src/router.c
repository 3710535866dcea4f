#include "router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store.h"
#include "uri.h"

#define MAX_KEY_BYTES 1024

static int add_param(ms3_route *r, const char *pair, size_t len)
{
    const char *eq = memchr(pair, '=', len);
    size_t nlen = eq != NULL ? (size_t)(eq - pair) : len;
    char *name = ms3__url_decode(pair, nlen, 1);
    char *value = eq != NULL ? ms3__url_decode(eq + 1, len - nlen - 1, 1) : strdup("");
    ms3_param *np = realloc(r->params, (r->n_params + 1) * sizeof(*np));
    if (name == NULL || value == NULL || np == NULL) {
        free(name);
        free(value);
        if (np != NULL)
            r->params = np;
        return -1;
    }
    r->params = np;
    np[r->n_params].name = name;
    np[r->n_params].value = value;
    r->n_params++;
    return 0;
}

int ms3__route_add_params(ms3_route *r, const char *text, size_t len)
{
    int rc = 0;
    const char *end = text + len;
    while (text < end) {
        const char *amp = memchr(text, '&', (size_t)(end - text));
        size_t n = amp != NULL ? (size_t)(amp - text) : (size_t)(end - text);
        if (n > 0 && add_param(r, text, n) != 0)
            rc = -1;
        text += n;
        if (text < end)
            text++; /* the '&' */
    }
    return rc;
}

const char *ms3__route_param(const ms3_route *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

static void fail(ms3_route *r, const char *code, const char *message)
{
    if (r->error_code == NULL) {
        r->error_code = code;
        r->error_message = message;
    }
}

/* Bucket from "bucket.<suffix>[:port]"; NULL when the Host is not virtual-host style. */
static char *vhost_bucket(const char *host, const char *suffix)
{
    if (host == NULL || suffix == NULL || *suffix == '\0')
        return NULL;
    size_t hlen = strlen(host);
    const char *colon = strrchr(host, ':');
    if (colon != NULL && strchr(colon, ']') == NULL)
        hlen = (size_t)(colon - host);
    size_t slen = strlen(suffix);
    if (hlen <= slen + 1 || host[hlen - slen - 1] != '.' ||
        strncasecmp(host + hlen - slen, suffix, slen) != 0)
        return NULL;
    char *b = strndup(host, hlen - slen - 1);
    for (char *p = b; p != NULL && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return b;
}

static const char NOT_IMPLEMENTED[] =
    "A header or query you provided implies functionality that is not implemented";

/* Bucket subresources and object subresources the mock does not implement. */
static const char *const bucket_unsupported[] = {"acl",
                                                 "policy",
                                                 "versioning",
                                                 "tagging",
                                                 "cors",
                                                 "lifecycle",
                                                 "website",
                                                 "logging",
                                                 "notification",
                                                 "encryption",
                                                 "versions",
                                                 "replication",
                                                 "object-lock",
                                                 "ownershipControls",
                                                 "publicAccessBlock",
                                                 "requestPayment",
                                                 "accelerate",
                                                 "analytics",
                                                 "inventory",
                                                 "metrics",
                                                 "intelligent-tiering"};
static const char *const object_unsupported[] = {"acl",     "tagging", "retention",  "legal-hold",
                                                 "torrent", "restore", "attributes", "select"};

/* 1 when the query names one of the subresources. */
static int asks_for(const ms3_route *r, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ms3__route_param(r, names[i]) != NULL)
            return 1;
    return 0;
}

static ms3_op unsupported(ms3_route *r, const char *code, const char *message)
{
    fail(r, code, message);
    return MS3_OP_UNKNOWN;
}

/* GET on a bucket: a subresource, or a listing. */
static ms3_op detect_bucket_get(ms3_route *r)
{
    if (ms3__route_param(r, "location") != NULL)
        return MS3_OP_GET_BUCKET_LOCATION;
    if (ms3__route_param(r, "uploads") != NULL)
        return MS3_OP_LIST_MULTIPART_UPLOADS;
    const char *lt = ms3__route_param(r, "list-type");
    if (lt != NULL && strcmp(lt, "2") == 0)
        return MS3_OP_LIST_OBJECTS_V2;
    if (asks_for(r, bucket_unsupported, sizeof(bucket_unsupported) / sizeof(*bucket_unsupported)))
        return unsupported(r, "NotImplemented", NOT_IMPLEMENTED);
    return MS3_OP_LIST_OBJECTS;
}

static ms3_op detect_bucket(ms3_route *r, const char *m)
{
    if (strcmp(m, "HEAD") == 0)
        return MS3_OP_HEAD_BUCKET;
    if (strcmp(m, "GET") == 0)
        return detect_bucket_get(r);
    if (strcmp(m, "PUT") == 0)
        return r->n_params > 0 ? unsupported(r, "NotImplemented", NOT_IMPLEMENTED)
                               : MS3_OP_CREATE_BUCKET;
    if (strcmp(m, "DELETE") == 0)
        return MS3_OP_DELETE_BUCKET;
    if (strcmp(m, "POST") == 0 && ms3__route_param(r, "delete") != NULL)
        return MS3_OP_DELETE_OBJECTS;
    return unsupported(r, "MethodNotAllowed", NULL);
}

static ms3_op detect_object(ms3_route *r, const char *m, int has_copy_source)
{
    if (asks_for(r, object_unsupported, sizeof(object_unsupported) / sizeof(*object_unsupported)))
        return unsupported(r, "NotImplemented", NOT_IMPLEMENTED);
    int has_upload_id = ms3__route_param(r, "uploadId") != NULL;
    if (strcmp(m, "HEAD") == 0)
        return MS3_OP_HEAD_OBJECT;
    if (strcmp(m, "GET") == 0)
        return has_upload_id ? MS3_OP_LIST_PARTS : MS3_OP_GET_OBJECT;
    if (strcmp(m, "PUT") == 0) {
        if (has_upload_id || ms3__route_param(r, "partNumber") != NULL)
            return has_copy_source ? MS3_OP_UPLOAD_PART_COPY : MS3_OP_UPLOAD_PART;
        return has_copy_source ? MS3_OP_COPY_OBJECT : MS3_OP_PUT_OBJECT;
    }
    if (strcmp(m, "DELETE") == 0)
        return has_upload_id ? MS3_OP_ABORT_MULTIPART_UPLOAD : MS3_OP_DELETE_OBJECT;
    if (strcmp(m, "POST") == 0 && ms3__route_param(r, "uploads") != NULL)
        return MS3_OP_CREATE_MULTIPART_UPLOAD;
    if (strcmp(m, "POST") == 0 && has_upload_id)
        return MS3_OP_COMPLETE_MULTIPART_UPLOAD;
    return unsupported(r, "MethodNotAllowed", NULL);
}

static ms3_op detect(ms3_route *r, const char *m, int hints)
{
    if (r->bucket == NULL) {
        if (strcmp(m, "GET") == 0)
            return MS3_OP_LIST_BUCKETS;
        /* S3 has no POST at the service level: the STS Query protocol's POST /
         * cannot be taken for an S3 request. */
        if (strcmp(m, "POST") == 0 && (hints & MS3_ROUTE_STS_FORM))
            return MS3_OP_STS;
        return unsupported(r, "MethodNotAllowed", NULL);
    }
    if (r->key == NULL)
        return detect_bucket(r, m);
    return detect_object(r, m, (hints & MS3_ROUTE_COPY_SOURCE) != 0);
}

int ms3__route_parse_target(ms3_route *r, const char *raw_target)
{
    memset(r, 0, sizeof(*r));
    if (raw_target == NULL)
        raw_target = "/";
    /* An absolute-form target (proxies) carries scheme and authority first. */
    if (strncmp(raw_target, "http://", 7) == 0 || strncmp(raw_target, "https://", 8) == 0) {
        const char *p = strchr(strstr(raw_target, "//") + 2, '/');
        raw_target = p != NULL ? p : "/";
    }
    const char *q = strchr(raw_target, '?');
    size_t plen = q != NULL ? (size_t)(q - raw_target) : strlen(raw_target);
    r->raw_path = strndup(raw_target, plen);
    r->raw_query = strdup(q != NULL ? q + 1 : "");
    if (r->raw_path == NULL || r->raw_query == NULL)
        return -1;
    if (r->raw_path[0] != '/')
        fail(r, "InvalidURI", NULL);
    if (ms3__route_add_params(r, r->raw_query, strlen(r->raw_query)) != 0)
        fail(r, "InvalidURI", NULL); /* a malformed %-escape (or no memory) */
    return 0;
}

int ms3__route_parse(ms3_route *r, const char *method, const char *raw_target, const char *host,
                     const char *vhost_suffix, int hints)
{
    if (ms3__route_parse_target(r, raw_target) != 0)
        return -1;
    const char *path = r->raw_path[0] == '/' ? r->raw_path + 1 : r->raw_path;
    const char *key_raw = NULL;
    char *vb = vhost_bucket(host, vhost_suffix);
    if (vb != NULL) {
        r->virtual_host = 1;
        r->bucket = vb;
        key_raw = path;
    } else if (strncmp(path, "_mock/", 6) == 0 || strcmp(path, "_mock") == 0) {
        r->op = MS3_OP_ADMIN;
        return 0;
    } else if (*path != '\0') {
        const char *slash = strchr(path, '/');
        size_t blen = slash != NULL ? (size_t)(slash - path) : strlen(path);
        r->bucket = ms3__url_decode(path, blen, 0);
        if (r->bucket == NULL)
            return -1;
        key_raw = slash != NULL ? slash + 1 : "";
    }
    if (r->bucket != NULL && !ms3__valid_bucket_name(r->bucket))
        fail(r, "InvalidBucketName", NULL);
    if (key_raw != NULL && *key_raw != '\0') {
        r->key = ms3__url_decode(key_raw, strlen(key_raw), 0);
        if (r->key == NULL) {
            r->key = strdup("");
            if (r->key == NULL)
                return -1;
            fail(r, "InvalidURI", NULL);
        }
        /* "%00" would cut the key short in C strings; S3 keys are UTF-8 text. */
        if (strstr(key_raw, "%00") != NULL || !ms3__utf8_valid(r->key, strlen(r->key)))
            fail(r, "InvalidURI", NULL);
        if (strlen(r->key) > MAX_KEY_BYTES)
            fail(r, "KeyTooLongError", NULL);
    }
    r->op = detect(r, method, hints);
    return 0;
}

void ms3__route_clear(ms3_route *r)
{
    free(r->raw_path);
    free(r->raw_query);
    free(r->bucket);
    free(r->key);
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    memset(r, 0, sizeof(*r));
}
