/* Object operations (Head, Get, Put, Copy, Delete, DeleteObjects) and the
 * checks PutObject and DeleteObjects make before their body arrives. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/checksum.h"
#include "errors.h"
#include "precheck.h"
#include "server_internal.h"
#include "uri.h"
#include "xml.h"

static int checksum_mode_enabled(const ms3_req *r)
{
    const char *m = ms3__req_header(r, "x-amz-checksum-mode");
    return m != NULL && strcasecmp(m, "ENABLED") == 0;
}

static void resp_object_headers(ms3_req *r, const ms3_objmeta *m, int with_last_modified)
{
    ms3__resp_header(r, "ETag", m->etag);
    if (with_last_modified) {
        char date[64];
        ms3__time_rfc1123(m->last_modified_ms / 1000, date, sizeof(date));
        ms3__resp_header(r, "Last-Modified", date);
    }
    ms3__resp_header(r, "Content-Type", m->content_type ? m->content_type : "binary/octet-stream");
    ms3__resp_header(r, "Accept-Ranges", "bytes");
    for (size_t i = 0; i < m->n_user; i++) {
        char name[300];
        snprintf(name, sizeof(name), "x-amz-meta-%s", m->user[i].name);
        ms3__resp_header(r, name, m->user[i].value);
    }
    for (size_t i = 0; i < m->n_headers; i++)
        ms3__resp_header(r, m->headers[i].name, m->headers[i].value);
    if (m->parts_count > 0 && ms3__route_param(&r->route, "partNumber") != NULL)
        ms3__resp_headerf(r, "x-amz-mp-parts-count", "%d", m->parts_count);
}

/* ---------------------------------------------------------------- prechecks */

static int fail(ms3_req *r, const char *code, const char *message, const char *xml)
{
    ms3__resp_error(r, code, message, xml);
    return -1;
}

/* PutObject: If-None-Match is only supported as "*" (create if absent). */
int ms3__precheck_put_object(ms3_req *r)
{
    const char *inm = ms3__req_header(r, "If-None-Match");
    if (inm != NULL && strcmp(inm, "*") != 0)
        return fail(r, "NotImplemented",
                    "A header you provided implies functionality that is not implemented",
                    "<Header>If-None-Match</Header>");
    return 0;
}

/* DeleteObjects needs an integrity check of its body. */
int ms3__precheck_delete_objects(ms3_req *r)
{
    bk_checksum_alg alg;
    const char *v;
    if (ms3__req_header(r, "Content-MD5") == NULL && ms3__req_checksum_header(r, &alg, &v) == 0)
        return fail(r, "InvalidRequest", "Missing required header for this request: Content-MD5",
                    NULL);
    return ms3__precheck_checksum_headers(r);
}

/* ---------------------------------------------------------------- HEAD / GET */

typedef struct range {
    int present;         /* a usable single range was asked for */
    uint64_t start, end; /* inclusive */
    int unsatisfiable;
} range;

static range parse_range(const char *h, uint64_t size)
{
    range rg = {0, 0, 0, 0};
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return rg; /* absent, another unit, or several ranges: S3 sends the whole object */
    const char *spec = h + 6;
    const char *dash = strchr(spec, '-');
    if (dash == NULL)
        return rg;
    char *end = NULL;
    if (dash == spec) {
        unsigned long long n = strtoull(dash + 1, &end, 10);
        if (end == dash + 1 || *end != '\0')
            return rg;
        rg.present = 1;
        if (n == 0 || size == 0) {
            rg.unsatisfiable = 1;
            return rg;
        }
        rg.start = n >= size ? 0 : size - n;
        rg.end = size - 1;
        return rg;
    }
    unsigned long long a = strtoull(spec, &end, 10);
    if (end != dash)
        return rg;
    unsigned long long b = size ? size - 1 : 0;
    if (dash[1] != '\0') {
        b = strtoull(dash + 1, &end, 10);
        if (*end != '\0')
            return rg;
        if (b < a)
            return rg; /* syntactically invalid: ignored, as S3 does */
    }
    rg.present = 1;
    if (a >= size) {
        rg.unsatisfiable = 1;
        return rg;
    }
    rg.start = a;
    rg.end = b >= size ? size - 1 : b;
    return rg;
}

/* If-Match & co. on GET/HEAD: 0 = go on, else responded. */
static int check_read_conditions(ms3_req *r, const ms3_objmeta *m)
{
    const char *im = ms3__req_header(r, "If-Match");
    const char *inm = ms3__req_header(r, "If-None-Match");
    const char *ims = ms3__req_header(r, "If-Modified-Since");
    const char *ius = ms3__req_header(r, "If-Unmodified-Since");
    int64_t lm = m->last_modified_ms / 1000;
    if (im != NULL && !ms3__etag_list_matches(im, m->etag))
        return fail(r, "PreconditionFailed", NULL, "<Condition>If-Match</Condition>");
    if (im == NULL && ius != NULL) {
        int64_t t = ms3__time_parse_rfc1123(ius);
        if (t >= 0 && lm > t)
            return fail(r, "PreconditionFailed", NULL,
                        "<Condition>If-Unmodified-Since</Condition>");
    }
    int not_modified = 0;
    if (inm != NULL)
        not_modified = ms3__etag_list_matches(inm, m->etag);
    else if (ims != NULL) {
        int64_t t = ms3__time_parse_rfc1123(ims);
        not_modified = t >= 0 && lm <= t;
    }
    if (not_modified) {
        ms3__resp_error(r, "NotModified", NULL, NULL);
        bk_buf_reset(&r->resp.body);
        r->resp.no_body = 1;
        r->resp.content_length = 0;
        ms3__resp_header(r, "ETag", m->etag);
        return -1;
    }
    return 0;
}

/* The stored checksum, when the client asked for it (x-amz-checksum-mode). */
static void resp_checksum(ms3_req *r, const ms3_objmeta *m)
{
    if (m->checksum_algo == NULL || !checksum_mode_enabled(r))
        return;
    char name[64];
    snprintf(name, sizeof(name), "x-amz-checksum-%s", m->checksum_algo);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    ms3__resp_header(r, name, m->checksum_value);
}

/* response-content-type & co. replace the stored headers. */
static void resp_overrides(ms3_req *r)
{
    static const char *const overrides[][2] = {
        {"response-content-type", "Content-Type"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"},
        {"response-content-language", "Content-Language"},
        {"response-cache-control", "Cache-Control"},
        {"response-expires", "Expires"}};
    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        const char *v = ms3__route_param(&r->route, overrides[i][0]);
        if (v == NULL)
            continue;
        for (size_t h = 0; h < r->resp.n_headers; h++) {
            if (strcasecmp(r->resp.headers[h].name, overrides[i][1]) == 0) {
                ms3__resp_header_free(&r->resp.headers[h]);
                r->resp.headers[h] = r->resp.headers[--r->resp.n_headers];
                break;
            }
        }
        ms3__resp_header(r, overrides[i][1], v);
    }
}

/* Opens the object for GET/HEAD; 0, or -1 after responding. */
static int open_for_read(ms3_req *r, ms3_objmeta *meta, ms3_reader **reader)
{
    bk_err err;
    int rc =
        ms3__store_open_object(r->srv->store, r->route.bucket, r->route.key, meta, reader, &err);
    if (rc == MS3_STORE_NO_BUCKET)
        return fail(r, "NoSuchBucket", NULL, NULL);
    if (rc == MS3_STORE_NO_KEY) /* without s3:ListBucket S3 will not say whether it exists */
        return fail(r, r->access.no_list ? "AccessDenied" : "NoSuchKey", NULL, NULL);
    if (rc != MS3_STORE_OK)
        return fail(r, "InternalError", NULL, NULL);
    return 0;
}

static void read_object(ms3_req *r, int head)
{
    ms3_objmeta meta;
    ms3__objmeta_init(&meta);
    ms3_reader *reader = NULL;
    if (open_for_read(r, &meta, &reader) != 0 || check_read_conditions(r, &meta) != 0)
        goto done;
    range rg = {0, 0, 0, 0};
    if (r->fault.action != MS3_FAULT_IGNORE_RANGE)
        rg = parse_range(ms3__req_header(r, "Range"), meta.size);
    if (rg.unsatisfiable) {
        char xml[160];
        snprintf(xml, sizeof(xml),
                 "<RangeRequested>%s</RangeRequested><ActualObjectSize>%llu</ActualObjectSize>",
                 ms3__req_header(r, "Range"), (unsigned long long)meta.size);
        ms3__resp_error(r, "InvalidRange", NULL, xml);
        ms3__resp_headerf(r, "Content-Range", "bytes */%llu", (unsigned long long)meta.size);
        goto done;
    }
    r->resp.status = rg.present ? 206 : 200;
    resp_object_headers(r, &meta, 1);
    if (rg.present)
        ms3__resp_headerf(r, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)rg.start,
                          (unsigned long long)rg.end, (unsigned long long)meta.size);
    else
        resp_checksum(r, &meta); /* of the whole object only */
    resp_overrides(r);
    uint64_t len = rg.present ? rg.end - rg.start + 1 : meta.size;
    if (head) {
        r->resp.content_length = (int64_t)len;
    } else {
        r->resp.reader = reader;
        reader = NULL;
        r->resp.offset = rg.present ? rg.start : 0;
        r->resp.length = len;
    }
done:
    ms3__reader_close(reader);
    ms3__objmeta_clear(&meta);
}

void ms3__op_head_object(ms3_req *r)
{
    read_object(r, 1);
}

void ms3__op_get_object(ms3_req *r)
{
    read_object(r, 0);
}

/* ---------------------------------------------------------------- PUT */

static void set_checksum(ms3_objmeta *meta, const bk_checksum_digest *d)
{
    if (d == NULL || bk_checksum_alg_name(d->alg) == NULL)
        return;
    meta->checksum_algo = strdup(bk_checksum_alg_name(d->alg));
    meta->checksum_value = strdup(d->base64);
}

void ms3__op_put_object(ms3_req *r)
{
    ms3_server *s = r->srv;
    ms3_body body;
    bk_err err;
    if (ms3__ingest_take_body(r->ingest, &body, &err) != 0) {
        fail(r, "InternalError", err.msg, NULL);
        return;
    }
    ms3_objmeta meta;
    ms3__objmeta_init(&meta);
    if (ms3__objmeta_from_headers(&meta, r->headers, r->n_headers) != 0) {
        ms3__body_clear(&body);
        ms3__objmeta_clear(&meta);
        fail(r, "InternalError", NULL, NULL);
        return;
    }
    ms3__format_etag(ms3__ingest_md5(r->ingest), meta.etag);
    meta.last_modified_ms = ms3__clock_now_ms(&s->clock);
    const bk_checksum_digest *ck = ms3__ingest_checksum(r->ingest);
    set_checksum(&meta, ck);
    snprintf(r->body_sha256, sizeof(r->body_sha256), "%s", ms3__ingest_sha256_hex(r->ingest));
    char etag[80];
    memcpy(etag, meta.etag, sizeof(etag));
    ms3_put_cond cond = {0, NULL};
    const char *inm = ms3__req_header(r, "If-None-Match");
    cond.if_absent = inm != NULL && strcmp(inm, "*") == 0;
    cond.if_match = ms3__req_header(r, "If-Match");
    int rc = ms3__store_put(s->store, r->route.bucket, r->route.key, &body, &meta, &cond, &err);
    if (rc == MS3_STORE_PRECONDITION) {
        fail(r, "PreconditionFailed", NULL,
             cond.if_absent ? "<Condition>If-None-Match</Condition>"
                            : "<Condition>If-Match</Condition>");
        return;
    }
    if (rc == MS3_STORE_NO_KEY) {
        fail(r, "NoSuchKey", NULL, NULL);
        return;
    }
    if (rc == MS3_STORE_NO_BUCKET) {
        fail(r, "NoSuchBucket", NULL, NULL);
        return;
    }
    if (rc != MS3_STORE_OK) {
        fail(r, "InternalError", err.msg, NULL);
        return;
    }
    r->resp.status = 200;
    ms3__resp_header(r, "ETag", etag);
    if (ck != NULL && bk_checksum_header_name(ck->alg) != NULL)
        ms3__resp_header(r, bk_checksum_header_name(ck->alg), ck->base64);
}

/* ---------------------------------------------------------------- COPY */

/* The source of a CopyObject, opened. */
typedef struct copy_src {
    char *bucket, *key;
    ms3_objmeta meta;
    ms3_reader *reader;
    int replace; /* x-amz-metadata-directive: REPLACE */
    int self;    /* copied onto itself */
} copy_src;

static void copy_src_clear(copy_src *c)
{
    ms3__reader_close(c->reader);
    ms3__objmeta_clear(&c->meta);
    free(c->bucket);
    free(c->key);
}

/* x-amz-copy-source and the metadata directive, the source object opened and
 * its x-amz-copy-source-if-* conditions met. 0, or -1 after responding. */
static int open_copy_source(ms3_req *r, copy_src *c)
{
    if (ms3__parse_copy_source(ms3__req_header(r, "x-amz-copy-source"), &c->bucket, &c->key) != 0)
        return fail(r, "InvalidArgument",
                    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                    "<ArgumentName>x-amz-copy-source</ArgumentName>");
    const char *directive = ms3__req_header(r, "x-amz-metadata-directive");
    c->replace = directive != NULL && strcmp(directive, "REPLACE") == 0;
    if (directive != NULL && !c->replace && strcmp(directive, "COPY") != 0)
        return fail(r, "InvalidArgument", "Unknown metadata directive.",
                    "<ArgumentName>x-amz-metadata-directive</ArgumentName>");
    bk_err err;
    int rc = ms3__store_open_object(r->srv->store, c->bucket, c->key, &c->meta, &c->reader, &err);
    if (rc != MS3_STORE_OK)
        return fail(r,
                    rc == MS3_STORE_NO_BUCKET ? "NoSuchBucket"
                    : rc == MS3_STORE_NO_KEY  ? "NoSuchKey"
                                              : "InternalError",
                    NULL, NULL);
    const char *cim = ms3__req_header(r, "x-amz-copy-source-if-match");
    const char *cinm = ms3__req_header(r, "x-amz-copy-source-if-none-match");
    if ((cim != NULL && !ms3__etag_list_matches(cim, c->meta.etag)) ||
        (cinm != NULL && ms3__etag_list_matches(cinm, c->meta.etag)))
        return fail(r, "PreconditionFailed", NULL, NULL);
    c->self = strcmp(c->bucket, r->route.bucket) == 0 && strcmp(c->key, r->route.key) == 0;
    return 0;
}

/* A copy onto itself must change something; a copy source is 5 GiB at most. */
static int check_copy_allowed(ms3_req *r, const copy_src *c)
{
    if (c->self && !c->replace && ms3__req_header(r, "x-amz-storage-class") == NULL &&
        ms3__req_header(r, "x-amz-server-side-encryption") == NULL &&
        ms3__req_header(r, "x-amz-website-redirect-location") == NULL)
        return fail(r, "InvalidRequest",
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes.",
                    NULL);
    if (c->meta.size > MS3_MAX_OBJECT_PUT)
        return fail(r, "InvalidRequest",
                    "The specified copy source is larger than the maximum allowable size for a "
                    "copy source: 5368709120",
                    NULL);
    return 0;
}

/* The copy's metadata: the request's with REPLACE (the checksum stays the
 * source's), else the source's; a new date. 0, or -1 after responding. */
static int copy_meta(ms3_req *r, const copy_src *c, ms3_objmeta *meta)
{
    int rc = c->replace ? ms3__objmeta_from_headers(meta, r->headers, r->n_headers)
                        : ms3__objmeta_copy(meta, &c->meta);
    if (rc != 0)
        return fail(r, "InternalError", NULL, NULL);
    if (c->replace) {
        meta->checksum_algo = c->meta.checksum_algo ? strdup(c->meta.checksum_algo) : NULL;
        meta->checksum_value = c->meta.checksum_value ? strdup(c->meta.checksum_value) : NULL;
    }
    meta->last_modified_ms = ms3__clock_now_ms(&r->srv->clock);
    return 0;
}

/* Stores the copy (meta is consumed). Onto itself the bytes and their ETag
 * stay; else the body is copied. 0, or -1 after responding. */
static int write_copy(ms3_req *r, const copy_src *c, ms3_objmeta *meta)
{
    ms3_store *st = r->srv->store;
    bk_err err;
    int rc;
    if (c->self) {
        memcpy(meta->etag, c->meta.etag, sizeof(meta->etag));
        meta->parts_count = c->meta.parts_count;
        rc = ms3__store_replace_meta(st, r->route.bucket, r->route.key, meta, &err);
    } else {
        ms3_body body;
        unsigned char md5[16];
        rc = ms3__body_from_range(ms3__store_tmp_dir(st), c->reader, 0, c->meta.size, &body, md5,
                                  &err) == BK_OK
                 ? MS3_STORE_OK
                 : MS3_STORE_IO;
        if (rc == MS3_STORE_OK) {
            ms3__format_etag(md5, meta->etag);
            if (ms3__reader_kind(c->reader) == MS3_BODY_ZERO)
                snprintf(meta->etag, sizeof(meta->etag), "%s", c->meta.etag);
            meta->parts_count = 0;
            rc = ms3__store_put(st, r->route.bucket, r->route.key, &body, meta, NULL, &err);
        } else {
            ms3__objmeta_clear(meta);
        }
    }
    if (rc == MS3_STORE_OK)
        return 0;
    return fail(r,
                rc == MS3_STORE_NO_KEY      ? "NoSuchKey"
                : rc == MS3_STORE_NO_BUCKET ? "NoSuchBucket"
                                            : "InternalError",
                NULL, NULL);
}

/* What is stored now: the date and ETag of the copy. */
static void copy_result(ms3_req *r)
{
    ms3_objmeta now;
    ms3__objmeta_init(&now);
    if (ms3__store_stat(r->srv->store, r->route.bucket, r->route.key, &now) == MS3_STORE_OK) {
        char iso[40];
        ms3__time_iso8601_ms(now.last_modified_ms, iso, sizeof(iso));
        bk_buf *b = &r->resp.body;
        bk_buf_puts(b, MS3_XML_DECL "<CopyObjectResult xmlns=\"" MS3_XMLNS "\">");
        ms3__xml_elem(b, "LastModified", iso);
        ms3__xml_elem(b, "ETag", now.etag);
        bk_buf_puts(b, "</CopyObjectResult>");
        ms3__resp_xml(r, 200);
    } else {
        fail(r, "InternalError", NULL, NULL);
    }
    ms3__objmeta_clear(&now);
}

void ms3__op_copy_object(ms3_req *r)
{
    copy_src c;
    memset(&c, 0, sizeof(c));
    ms3__objmeta_init(&c.meta);
    ms3_objmeta meta;
    ms3__objmeta_init(&meta);
    if (open_copy_source(r, &c) == 0 && check_copy_allowed(r, &c) == 0 &&
        copy_meta(r, &c, &meta) == 0 && write_copy(r, &c, &meta) == 0)
        copy_result(r);
    else
        ms3__objmeta_clear(&meta); /* write_copy consumed it, or it was never filled */
    copy_src_clear(&c);
}

/* ---------------------------------------------------------------- DELETE */

void ms3__op_delete_object(ms3_req *r)
{
    ms3__store_delete(r->srv->store, r->route.bucket, r->route.key);
    r->resp.status = 204;
    r->resp.no_body = 1;
}

void ms3__op_delete_objects(ms3_req *r)
{
    const bk_buf *in = ms3__ingest_buffer(r->ingest);
    ms3_delete_req d;
    if (ms3__xml_parse_delete(bk_buf_str(in), in->len, &d) != 0) {
        fail(r, "MalformedXML", NULL, NULL);
        return;
    }
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<DeleteResult xmlns=\"" MS3_XMLNS "\">");
    for (size_t i = 0; i < d.n; i++) {
        const char *k = d.keys[i];
        if (strlen(k) > 1024 || !ms3__utf8_valid(k, strlen(k))) {
            bk_buf_puts(b, "<Error>");
            ms3__xml_elem(b, "Key", k);
            ms3__xml_elem(b, "Code", "KeyTooLongError");
            ms3__xml_elem(b, "Message", ms3__error_message("KeyTooLongError"));
            bk_buf_puts(b, "</Error>");
            continue;
        }
        ms3__store_delete(r->srv->store, r->route.bucket, k);
        if (!d.quiet) {
            bk_buf_puts(b, "<Deleted>");
            ms3__xml_elem(b, "Key", k);
            bk_buf_puts(b, "</Deleted>");
        }
    }
    bk_buf_puts(b, "</DeleteResult>");
    ms3__delete_req_clear(&d);
    ms3__resp_xml(r, 200);
}
