#include "router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store.h"

#define MAX_KEY_BYTES 1024

static const char *const op_names[] = {
    [MS3_OP_UNKNOWN] = "",
    [MS3_OP_ADMIN] = "Admin",
    [MS3_OP_LIST_BUCKETS] = "ListBuckets",
    [MS3_OP_CREATE_BUCKET] = "CreateBucket",
    [MS3_OP_DELETE_BUCKET] = "DeleteBucket",
    [MS3_OP_HEAD_BUCKET] = "HeadBucket",
    [MS3_OP_GET_BUCKET_LOCATION] = "GetBucketLocation",
    [MS3_OP_LIST_OBJECTS_V2] = "ListObjectsV2",
    [MS3_OP_LIST_OBJECTS] = "ListObjects",
    [MS3_OP_LIST_MULTIPART_UPLOADS] = "ListMultipartUploads",
    [MS3_OP_DELETE_OBJECTS] = "DeleteObjects",
    [MS3_OP_HEAD_OBJECT] = "HeadObject",
    [MS3_OP_GET_OBJECT] = "GetObject",
    [MS3_OP_PUT_OBJECT] = "PutObject",
    [MS3_OP_COPY_OBJECT] = "CopyObject",
    [MS3_OP_DELETE_OBJECT] = "DeleteObject",
    [MS3_OP_CREATE_MULTIPART_UPLOAD] = "CreateMultipartUpload",
    [MS3_OP_UPLOAD_PART] = "UploadPart",
    [MS3_OP_UPLOAD_PART_COPY] = "UploadPartCopy",
    [MS3_OP_COMPLETE_MULTIPART_UPLOAD] = "CompleteMultipartUpload",
    [MS3_OP_ABORT_MULTIPART_UPLOAD] = "AbortMultipartUpload",
    [MS3_OP_LIST_PARTS] = "ListParts",
};

const char *ms3_op_name(ms3_op op)
{
    if ((size_t)op >= sizeof(op_names) / sizeof(op_names[0]))
        return "";
    return op_names[op];
}

int ms3_op_is_write(ms3_op op)
{
    switch (op) {
    case MS3_OP_CREATE_BUCKET:
    case MS3_OP_DELETE_BUCKET:
    case MS3_OP_DELETE_OBJECTS:
    case MS3_OP_PUT_OBJECT:
    case MS3_OP_COPY_OBJECT:
    case MS3_OP_DELETE_OBJECT:
    case MS3_OP_CREATE_MULTIPART_UPLOAD:
    case MS3_OP_UPLOAD_PART:
    case MS3_OP_UPLOAD_PART_COPY:
    case MS3_OP_COMPLETE_MULTIPART_UPLOAD:
    case MS3_OP_ABORT_MULTIPART_UPLOAD:
        return 1;
    default:
        return 0;
    }
}

int ms3_op_has_payload(ms3_op op)
{
    return op == MS3_OP_PUT_OBJECT || op == MS3_OP_UPLOAD_PART;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *ms3_url_decode(const char *s, size_t len, int plus_is_space)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

int ms3_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* No overlong forms, no surrogates, nothing past U+10FFFF. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
        i += n + 1;
    }
    return 1;
}

static int add_param(ms3_route *r, const char *pair, size_t len)
{
    const char *eq = memchr(pair, '=', len);
    size_t nlen = eq != NULL ? (size_t)(eq - pair) : len;
    char *name = ms3_url_decode(pair, nlen, 1);
    char *value = eq != NULL ? ms3_url_decode(eq + 1, len - nlen - 1, 1) : strdup("");
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

const char *ms3_route_param(const ms3_route *r, const char *name)
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

static ms3_op detect(ms3_route *r, const char *m, int has_copy_source)
{
    int has_upload_id = ms3_route_param(r, "uploadId") != NULL;
    if (r->bucket == NULL) {
        if (strcmp(m, "GET") == 0)
            return MS3_OP_LIST_BUCKETS;
        fail(r, "MethodNotAllowed", NULL);
        return MS3_OP_UNKNOWN;
    }
    if (r->key == NULL) {
        if (strcmp(m, "HEAD") == 0)
            return MS3_OP_HEAD_BUCKET;
        if (strcmp(m, "GET") == 0) {
            if (ms3_route_param(r, "location") != NULL)
                return MS3_OP_GET_BUCKET_LOCATION;
            if (ms3_route_param(r, "uploads") != NULL)
                return MS3_OP_LIST_MULTIPART_UPLOADS;
            const char *lt = ms3_route_param(r, "list-type");
            if (lt != NULL && strcmp(lt, "2") == 0)
                return MS3_OP_LIST_OBJECTS_V2;
            static const char *const unsupported[] = {"acl",
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
            for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
                if (ms3_route_param(r, unsupported[i]) != NULL) {
                    fail(r, "NotImplemented",
                         "A header or query you provided implies functionality that is not "
                         "implemented");
                    return MS3_OP_UNKNOWN;
                }
            return MS3_OP_LIST_OBJECTS;
        }
        if (strcmp(m, "PUT") == 0) {
            if (r->n_params > 0) {
                fail(r, "NotImplemented",
                     "A header or query you provided implies functionality that is not "
                     "implemented");
                return MS3_OP_UNKNOWN;
            }
            return MS3_OP_CREATE_BUCKET;
        }
        if (strcmp(m, "DELETE") == 0)
            return MS3_OP_DELETE_BUCKET;
        if (strcmp(m, "POST") == 0 && ms3_route_param(r, "delete") != NULL)
            return MS3_OP_DELETE_OBJECTS;
        fail(r, "MethodNotAllowed", NULL);
        return MS3_OP_UNKNOWN;
    }
    static const char *const obj_unsupported[] = {"acl",     "tagging", "retention",  "legal-hold",
                                                  "torrent", "restore", "attributes", "select"};
    for (size_t i = 0; i < sizeof(obj_unsupported) / sizeof(obj_unsupported[0]); i++)
        if (ms3_route_param(r, obj_unsupported[i]) != NULL) {
            fail(r, "NotImplemented",
                 "A header or query you provided implies functionality that is not "
                 "implemented");
            return MS3_OP_UNKNOWN;
        }
    if (strcmp(m, "HEAD") == 0)
        return MS3_OP_HEAD_OBJECT;
    if (strcmp(m, "GET") == 0)
        return has_upload_id ? MS3_OP_LIST_PARTS : MS3_OP_GET_OBJECT;
    if (strcmp(m, "PUT") == 0) {
        if (has_upload_id || ms3_route_param(r, "partNumber") != NULL)
            return has_copy_source ? MS3_OP_UPLOAD_PART_COPY : MS3_OP_UPLOAD_PART;
        return has_copy_source ? MS3_OP_COPY_OBJECT : MS3_OP_PUT_OBJECT;
    }
    if (strcmp(m, "DELETE") == 0)
        return has_upload_id ? MS3_OP_ABORT_MULTIPART_UPLOAD : MS3_OP_DELETE_OBJECT;
    if (strcmp(m, "POST") == 0) {
        if (ms3_route_param(r, "uploads") != NULL)
            return MS3_OP_CREATE_MULTIPART_UPLOAD;
        if (has_upload_id)
            return MS3_OP_COMPLETE_MULTIPART_UPLOAD;
    }
    fail(r, "MethodNotAllowed", NULL);
    return MS3_OP_UNKNOWN;
}

int ms3_route_parse(ms3_route *r, const char *method, const char *raw_target, const char *host,
                    const char *vhost_suffix, int has_copy_source)
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

    const char *qs = r->raw_query;
    while (*qs) {
        const char *amp = strchr(qs, '&');
        size_t len = amp != NULL ? (size_t)(amp - qs) : strlen(qs);
        if (len > 0 && add_param(r, qs, len) != 0)
            fail(r, "InvalidURI", NULL); /* a malformed %-escape (or no memory) */
        qs += len;
        if (*qs == '&')
            qs++;
    }

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
        r->bucket = ms3_url_decode(path, blen, 0);
        if (r->bucket == NULL)
            return -1;
        key_raw = slash != NULL ? slash + 1 : "";
    }
    if (r->bucket != NULL && !ms3_valid_bucket_name(r->bucket))
        fail(r, "InvalidBucketName", NULL);
    if (key_raw != NULL && *key_raw != '\0') {
        r->key = ms3_url_decode(key_raw, strlen(key_raw), 0);
        if (r->key == NULL) {
            r->key = strdup("");
            if (r->key == NULL)
                return -1;
            fail(r, "InvalidURI", NULL);
        }
        /* "%00" would cut the key short in C strings; S3 keys are UTF-8 text. */
        if (strstr(key_raw, "%00") != NULL || !ms3_utf8_valid(r->key, strlen(r->key)))
            fail(r, "InvalidURI", NULL);
        if (strlen(r->key) > MAX_KEY_BYTES)
            fail(r, "KeyTooLongError", NULL);
    }
    r->op = detect(r, method, has_copy_source);
    return 0;
}

void ms3_route_free(ms3_route *r)
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
