/* Multipart uploads: Create, UploadPart, UploadPartCopy, Complete (order, ETag,
 * minimum size and checksum-consistency checks, "<md5-of-md5s>-N" ETag), Abort,
 * ListParts, ListMultipartUploads. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "bkcache/checksum.h"
#include "errors.h"
#include "server_internal.h"
#include "uploads.h"
#include "xml.h"

/* The checksum algorithm a part request declares: header, trailer or SDK header. */
static bk_checksum_alg declared_alg(const ms3_req *r);

/* ---------------------------------------------------------------- prechecks */

/* The upload of uploadId exists, for this bucket and key. */
int ms3__precheck_upload(ms3_req *r)
{
    const char *id = ms3__route_param(&r->route, "uploadId");
    if (id == NULL || !ms3__uploads_exists(r->srv->uploads, id, r->route.bucket, r->route.key)) {
        ms3__resp_error(r, "NoSuchUpload", NULL, NULL);
        return -1;
    }
    return 0;
}

/* The upload exists and partNumber is 1..10000. */
int ms3__precheck_upload_part_copy(ms3_req *r)
{
    if (ms3__precheck_upload(r) != 0)
        return -1;
    const char *pn = ms3__route_param(&r->route, "partNumber");
    char *end = NULL;
    long n = pn != NULL ? strtol(pn, &end, 10) : 0;
    if (pn == NULL || *end != '\0' || n < 1 || n > 10000) {
        ms3__resp_error(r, "InvalidArgument",
                        "Part number must be an integer between 1 and 10000, inclusive",
                        "<ArgumentName>partNumber</ArgumentName>");
        return -1;
    }
    return 0;
}

/* As UploadPartCopy, and an upload created with a checksum algorithm takes no
 * part without it (S3 says so at once; the reverse case is only caught by
 * Complete: InvalidPart). */
int ms3__precheck_upload_part(ms3_req *r)
{
    if (ms3__precheck_upload_part_copy(r) != 0)
        return -1;
    ms3_uploads *u = r->srv->uploads;
    const char *id = ms3__route_param(&r->route, "uploadId");
    pthread_mutex_lock(&u->lock);
    ms3_upload *up = ms3__uploads_find(u, id, r->route.bucket, r->route.key, NULL);
    bk_checksum_alg want = up != NULL ? up->ck_alg : BK_CHECKSUM_NONE;
    pthread_mutex_unlock(&u->lock);
    if (want != BK_CHECKSUM_NONE && declared_alg(r) != want) {
        char msg[160];
        const char *got = bk_checksum_alg_lower(declared_alg(r));
        snprintf(msg, sizeof(msg),
                 "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum "
                 "Type: %s",
                 bk_checksum_alg_lower(want), got != NULL ? got : "null");
        ms3__resp_error(r, "InvalidRequest", msg, NULL);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- Create */

/* A new upload from the request, not yet registered; NULL when responded. */
static ms3_upload *new_upload(ms3_req *r)
{
    ms3_upload *up = calloc(1, sizeof(*up));
    if (up == NULL) {
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return NULL;
    }
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0x5a, sizeof(rnd));
    snprintf(up->id, sizeof(up->id), "%016llx", (unsigned long long)r->request_id);
    for (size_t i = 0; i < 16; i++)
        snprintf(up->id + 16 + 2 * i, 3, "%02x", rnd[i]);
    up->bucket = strdup(r->route.bucket);
    up->key = strdup(r->route.key);
    up->initiated_ms = ms3__clock_now_ms(&r->srv->clock);
    const char *alg = ms3__req_header(r, "x-amz-checksum-algorithm");
    if (alg != NULL && !bk_checksum_alg_from_name(alg, &up->ck_alg)) {
        ms3__upload_free(up);
        ms3__resp_error(r, "InvalidRequest",
                        "Checksum algorithm provided is unsupported. "
                        "Please try again with any of the valid types: "
                        "[CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
                        NULL);
        return NULL;
    }
    if (up->bucket == NULL || up->key == NULL ||
        ms3__objmeta_from_headers(&up->meta, r->headers, r->n_headers) != 0) {
        ms3__upload_free(up);
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return NULL;
    }
    return up;
}

void ms3__op_create_multipart(ms3_req *r)
{
    ms3_server *s = r->srv;
    ms3_upload *up = new_upload(r);
    if (up == NULL)
        return;
    /* Once registered the upload belongs to the registry: a reset or an abort
     * may free it at any moment, so the answer is made from copies. */
    char id[sizeof(up->id)];
    memcpy(id, up->id, sizeof(id));
    bk_checksum_alg ck_alg = up->ck_alg;
    bk_err err;
    if (ms3__uploads_add(s->uploads, up, &err) != 0) {
        ms3__upload_discard(s->uploads, up);
        ms3__resp_error(r, "InternalError", err.msg, NULL);
        return;
    }
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<InitiateMultipartUploadResult xmlns=\"" MS3_XMLNS "\">");
    ms3__xml_elem(b, "Bucket", r->route.bucket);
    ms3__xml_elem(b, "Key", r->route.key);
    ms3__xml_elem(b, "UploadId", id);
    bk_buf_puts(b, "</InitiateMultipartUploadResult>");
    if (ck_alg != BK_CHECKSUM_NONE)
        ms3__resp_header(r, "x-amz-checksum-algorithm", bk_checksum_alg_name(ck_alg));
    ms3__resp_xml(r, 200);
}

/* ---------------------------------------------------------------- parts */

/* Stores a finished part; replaces one with the same number. */
static int store_part(ms3_req *r, ms3_part *p)
{
    ms3_uploads *u = r->srv->uploads;
    const char *id = ms3__route_param(&r->route, "uploadId");
    bk_err err;
    pthread_mutex_lock(&u->lock);
    ms3_upload *up = ms3__uploads_find(u, id, r->route.bucket, r->route.key, NULL);
    int rc = up != NULL ? ms3__uploads_put_part(u, up, p, r->request_id, &err) : -1;
    pthread_mutex_unlock(&u->lock);
    if (up == NULL) {
        ms3__body_clear(&p->body);
        ms3__resp_error(r, "NoSuchUpload", NULL, NULL);
    } else if (rc != 0) {
        ms3__resp_error(r, "InternalError", err.msg, NULL);
    }
    return rc;
}

static bk_checksum_alg declared_alg(const ms3_req *r)
{
    bk_checksum_alg a = BK_CHECKSUM_NONE;
    for (size_t i = 0; i < r->n_headers; i++)
        if (bk_checksum_alg_from_header(r->headers[i].name, &a))
            return a;
    const char *t = ms3__req_header(r, "x-amz-trailer");
    if (t != NULL && bk_checksum_alg_from_header(t, &a))
        return a;
    const char *sdk = ms3__req_header(r, "x-amz-sdk-checksum-algorithm");
    if (sdk != NULL && bk_checksum_alg_from_name(sdk, &a))
        return a;
    return BK_CHECKSUM_NONE;
}

void ms3__op_upload_part(ms3_req *r)
{
    ms3_part p;
    memset(&p, 0, sizeof(p));
    bk_err err;
    if (ms3__ingest_take_body(r->ingest, &p.body, &err) != 0) {
        ms3__resp_error(r, "InternalError", err.msg, NULL);
        return;
    }
    /* 1..10000, checked before the operation runs */
    p.number = (int)strtol(ms3__route_param(&r->route, "partNumber"), NULL, 10);
    p.size = p.body.size;
    memcpy(p.md5, ms3__ingest_md5(r->ingest), 16);
    ms3__format_etag(p.md5, p.etag);
    p.last_modified_ms = ms3__clock_now_ms(&r->srv->clock);
    p.ck_alg = declared_alg(r);
    const bk_checksum_digest *ck = ms3__ingest_checksum(r->ingest);
    if (ck != NULL && p.ck_alg == ck->alg)
        snprintf(p.ck_value, sizeof(p.ck_value), "%s", ck->base64);
    snprintf(r->body_sha256, sizeof(r->body_sha256), "%s", ms3__ingest_sha256_hex(r->ingest));
    char etag[80];
    memcpy(etag, p.etag, sizeof(etag));
    if (store_part(r, &p) != 0)
        return;
    r->resp.status = 200;
    ms3__resp_header(r, "ETag", etag);
    if (ck != NULL && bk_checksum_header_name(ck->alg) != NULL)
        ms3__resp_header(r, bk_checksum_header_name(ck->alg), ck->base64);
}

/* "bytes=a-b" for UploadPartCopy: both ends required. */
static int parse_copy_range(const char *v, uint64_t *a, uint64_t *b)
{
    if (v == NULL || strncmp(v, "bytes=", 6) != 0)
        return -1;
    char *end = NULL;
    unsigned long long x = strtoull(v + 6, &end, 10);
    if (end == v + 6 || *end != '-')
        return -1;
    const char *second = end + 1;
    unsigned long long y = strtoull(second, &end, 10);
    if (end == second || *end != '\0' || y < x)
        return -1;
    *a = x;
    *b = y;
    return 0;
}

void ms3__op_upload_part_copy(ms3_req *r)
{
    ms3_server *s = r->srv;
    char *sbucket = NULL, *skey = NULL;
    if (ms3__parse_copy_source(ms3__req_header(r, "x-amz-copy-source"), &sbucket, &skey) != 0) {
        ms3__resp_error(r, "InvalidArgument",
                        "Copy Source must mention the source bucket and key: "
                        "sourcebucket/sourcekey",
                        "<ArgumentName>x-amz-copy-source</ArgumentName>");
        return;
    }
    ms3_objmeta src;
    ms3__objmeta_init(&src);
    ms3_reader *reader = NULL;
    bk_err err;
    int rc = ms3__store_open_object(s->store, sbucket, skey, &src, &reader, &err);
    if (rc != MS3_STORE_OK) {
        ms3__resp_error(r,
                        rc == MS3_STORE_NO_BUCKET ? "NoSuchBucket"
                        : rc == MS3_STORE_NO_KEY  ? "NoSuchKey"
                                                  : "InternalError",
                        NULL, NULL);
        goto out;
    }
    uint64_t first = 0, last = src.size ? src.size - 1 : 0, len = src.size;
    const char *range = ms3__req_header(r, "x-amz-copy-source-range");
    if (range != NULL) {
        if (parse_copy_range(range, &first, &last) != 0 || last >= src.size) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "Range specified is not valid for source object of size: %llu",
                     (unsigned long long)src.size);
            ms3__resp_error(r, "InvalidArgument", msg,
                            "<ArgumentName>x-amz-copy-source-range</ArgumentName>");
            goto out;
        }
        len = last - first + 1;
    }
    if (len > MS3_MAX_OBJECT_PUT) {
        ms3__resp_error(r, "InvalidRequest",
                        "The specified copy source is larger than the maximum allowable size "
                        "for a copy source: 5368709120",
                        NULL);
        goto out;
    }
    ms3_part p;
    memset(&p, 0, sizeof(p));
    if (ms3__body_from_range(ms3__store_tmp_dir(s->store), reader, first, len, &p.body, p.md5,
                             &err) != 0) {
        ms3__resp_error(r, "InternalError", err.msg, NULL);
        goto out;
    }
    /* 1..10000, checked before the operation runs */
    p.number = (int)strtol(ms3__route_param(&r->route, "partNumber"), NULL, 10);
    p.size = len;
    ms3__format_etag(p.md5, p.etag);
    p.last_modified_ms = ms3__clock_now_ms(&s->clock);
    char etag[80];
    memcpy(etag, p.etag, sizeof(etag));
    int64_t lm = p.last_modified_ms;
    if (store_part(r, &p) != 0)
        goto out;
    char iso[40];
    ms3__time_iso8601_ms(lm, iso, sizeof(iso));
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<CopyPartResult xmlns=\"" MS3_XMLNS "\">");
    ms3__xml_elem(b, "LastModified", iso);
    ms3__xml_elem(b, "ETag", etag);
    bk_buf_puts(b, "</CopyPartResult>");
    ms3__resp_xml(r, 200);
out:
    ms3__reader_close(reader);
    ms3__objmeta_clear(&src);
    free(sbucket);
    free(skey);
}

/* ---------------------------------------------------------------- Complete */

static int etag_equal(const char *given, const char *stored)
{
    return given != NULL && ms3__etag_list_matches(given, stored) && strcmp(given, "*") != 0;
}

static const ms3_part *find_part(const ms3_upload *up, long number)
{
    for (size_t i = 0; i < up->n; i++)
        if (up->parts[i].number == number)
            return &up->parts[i];
    return NULL;
}

/* Validates the request against the upload (under the lock). 0 or responded. */
static int validate_complete(ms3_req *r, const ms3_upload *up, const ms3_complete_req *cr)
{
    char xml[512];
    for (size_t i = 0; i < cr->n; i++) {
        const ms3_complete_part *cp = &cr->parts[i];
        if (cp->number < 1 || cp->number > 10000 || cp->etag == NULL) {
            ms3__resp_error(r, "MalformedXML", NULL, NULL);
            return -1;
        }
        if (i > 0 && cp->number <= cr->parts[i - 1].number) {
            ms3__resp_error(r, "InvalidPartOrder", NULL, NULL);
            return -1;
        }
    }
    for (size_t i = 0; i < cr->n; i++) {
        const ms3_complete_part *cp = &cr->parts[i];
        const ms3_part *p = find_part(up, cp->number);
        snprintf(xml, sizeof(xml), "<UploadId>%s</UploadId><PartNumber>%ld</PartNumber>", up->id,
                 cp->number);
        if (p == NULL || !etag_equal(cp->etag, p->etag)) {
            ms3__resp_error(r, "InvalidPart", NULL, xml);
            return -1;
        }
        /* AWS's rule: every part carries the upload's checksum algorithm, or none does. */
        if (p->ck_alg != up->ck_alg) {
            ms3__resp_error(r, "InvalidPart", NULL, xml);
            return -1;
        }
        if (cp->checksum_name != NULL && up->ck_alg != BK_CHECKSUM_NONE) {
            char want[32];
            snprintf(want, sizeof(want), "Checksum%s", bk_checksum_alg_name(up->ck_alg));
            if (strcasecmp(cp->checksum_name, want) != 0 || p->ck_value[0] == '\0' ||
                strcmp(cp->checksum_value, p->ck_value) != 0) {
                ms3__resp_error(r, "InvalidPart", NULL, xml);
                return -1;
            }
        }
        if (i + 1 < cr->n && p->size < r->srv->min_part_size) {
            snprintf(xml, sizeof(xml),
                     "<ProposedSize>%llu</ProposedSize><MinSizeAllowed>%llu</MinSizeAllowed>"
                     "<PartNumber>%ld</PartNumber><ETag>%.34s</ETag>",
                     (unsigned long long)p->size, (unsigned long long)r->srv->min_part_size,
                     cp->number, p->etag + 1);
            ms3__resp_error(r, "EntityTooSmall", NULL, xml);
            return -1;
        }
    }
    return 0;
}

/* What the parts of a completed upload add up to. */
typedef struct completion {
    ms3_body **bodies;        /* in the order of the request, borrowed from the upload */
    unsigned char *md5s;      /* their MD5s, concatenated (the ETag is their MD5) */
    unsigned char *checksums; /* their raw checksums, concatenated */
    size_t ck_len;
    uint64_t size;
    int have_composite; /* every part had the upload's checksum: */
    bk_checksum_digest composite;
} completion;

static void completion_clear(completion *c)
{
    free(c->bodies);
    free(c->md5s);
    free(c->checksums);
    memset(c, 0, sizeof(*c));
}

/* Takes the upload out of the registry so no part changes under us; NULL
 * after responding. A failed validation leaves it there untouched, as S3
 * keeps the upload open. */
static ms3_upload *take_upload(ms3_req *r, const ms3_complete_req *cr)
{
    ms3_uploads *u = r->srv->uploads;
    const char *id = ms3__route_param(&r->route, "uploadId");
    pthread_mutex_lock(&u->lock);
    size_t pos = 0;
    ms3_upload *up = ms3__uploads_find(u, id, r->route.bucket, r->route.key, &pos);
    if (up == NULL)
        ms3__resp_error(r, "NoSuchUpload", NULL, NULL);
    else if (validate_complete(r, up, cr) != 0)
        up = NULL;
    else
        up = ms3__uploads_take(u, pos);
    pthread_mutex_unlock(&u->lock);
    return up;
}

/* The parts the request names, in its order. 0, or -1 after responding. */
static int gather_parts(ms3_req *r, ms3_upload *up, const ms3_complete_req *cr, completion *c)
{
    size_t dlen = bk_checksum_digest_len(up->ck_alg);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    c->bodies = calloc(cr->n, sizeof(*c->bodies));
    c->md5s = malloc(16 * cr->n);
    c->checksums = malloc(dlen * cr->n + 1);
    if (c->bodies == NULL || c->md5s == NULL || c->checksums == NULL) {
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return -1;
    }
    for (size_t i = 0; i < cr->n; i++) {
        ms3_part *p = (ms3_part *)find_part(up, cr->parts[i].number);
        if (p == NULL) { /* validate_complete found every part; never trust it blindly */
            ms3__resp_error(r, "InvalidPart", NULL, NULL);
            return -1;
        }
        c->bodies[i] = &p->body;
        memcpy(c->md5s + 16 * i, p->md5, 16);
        c->size += p->size;
        if (dlen > 0) {
            long n = bk_checksum_base64_decode(p->ck_value, strlen(p->ck_value),
                                               c->checksums + c->ck_len, dlen);
            if (n == (long)dlen)
                c->ck_len += dlen;
        }
    }
    bk_err err;
    c->have_composite =
        dlen > 0 && c->ck_len == dlen * cr->n &&
        bk_checksum_compute(up->ck_alg, c->checksums, c->ck_len, &c->composite, &err) == BK_OK;
    return 0;
}

/* The object's metadata: the upload's, with the "<md5 of md5s>-N" ETag and the
 * composite checksum "<checksum of checksums>-N". -1: no memory. */
static int completed_meta(ms3_req *r, const ms3_upload *up, size_t n_parts, const completion *c,
                          ms3_objmeta *meta)
{
    if (ms3__objmeta_copy(meta, &up->meta) != 0)
        return -1;
    unsigned char md5[16];
    unsigned int mdlen = 16;
    EVP_Digest(c->md5s, 16 * n_parts, md5, &mdlen, EVP_md5(), NULL);
    ms3__format_etag(md5, meta->etag);
    snprintf(meta->etag + 33, sizeof(meta->etag) - 33, "-%zu\"", n_parts);
    meta->parts_count = (int)n_parts;
    meta->last_modified_ms = ms3__clock_now_ms(&r->srv->clock);
    if (c->have_composite) {
        char value[80];
        snprintf(value, sizeof(value), "%s-%zu", c->composite.base64, n_parts);
        meta->checksum_algo = strdup(bk_checksum_alg_name(up->ck_alg));
        meta->checksum_value = strdup(value);
    }
    return 0;
}

/* Joins the parts into the object and stores it under the request's
 * conditions. 0, or -1 after responding; after a failed condition the upload
 * goes back into the registry (*up then NULL), as S3 keeps it. */
static int store_completed(ms3_req *r, ms3_upload **up, size_t n_parts, const completion *c,
                           char etag[80])
{
    ms3_server *s = r->srv;
    ms3_body body;
    bk_err err;
    if (ms3__body_concat(ms3__store_tmp_dir(s->store), c->bodies, n_parts, &body, &err) != BK_OK) {
        ms3__resp_error(r, "InternalError", err.msg, NULL);
        return -1;
    }
    ms3_objmeta meta;
    if (completed_meta(r, *up, n_parts, c, &meta) != 0) {
        ms3__body_clear(&body);
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return -1;
    }
    memcpy(etag, meta.etag, 80);
    ms3_put_cond cond = {0, NULL};
    const char *inm = ms3__req_header(r, "If-None-Match");
    cond.if_absent = inm != NULL && strcmp(inm, "*") == 0;
    cond.if_match = ms3__req_header(r, "If-Match");
    int rc = ms3__store_put(s->store, r->route.bucket, r->route.key, &body, &meta, &cond, &err);
    if (rc == MS3_STORE_OK)
        return 0;
    ms3__resp_error(r,
                    rc == MS3_STORE_PRECONDITION ? "PreconditionFailed"
                    : rc == MS3_STORE_NO_KEY     ? "NoSuchKey"
                    : rc == MS3_STORE_NO_BUCKET  ? "NoSuchBucket"
                                                 : "InternalError",
                    NULL, NULL);
    if (rc == MS3_STORE_PRECONDITION && ms3__uploads_add(s->uploads, *up, &err) == 0)
        *up = NULL;
    return -1;
}

static void complete_result(ms3_req *r, const char *etag, bk_checksum_alg alg, size_t n_parts,
                            const completion *c)
{
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<CompleteMultipartUploadResult xmlns=\"" MS3_XMLNS "\">");
    bk_buf_printf(b, "<Location>%s/", r->srv->url);
    ms3__xml_escape(b, r->route.bucket);
    bk_buf_putc(b, '/');
    ms3__xml_escape(b, r->route.key);
    bk_buf_puts(b, "</Location>");
    ms3__xml_elem(b, "Bucket", r->route.bucket);
    ms3__xml_elem(b, "Key", r->route.key);
    ms3__xml_elem(b, "ETag", etag);
    if (c->have_composite) {
        char name[32], value[80];
        snprintf(name, sizeof(name), "Checksum%s", bk_checksum_alg_name(alg));
        snprintf(value, sizeof(value), "%s-%zu", c->composite.base64, n_parts);
        ms3__xml_elem(b, name, value);
        ms3__xml_elem(b, "ChecksumType", "COMPOSITE");
    }
    bk_buf_puts(b, "</CompleteMultipartUploadResult>");
    ms3__resp_xml(r, 200);
}

void ms3__op_complete_multipart(ms3_req *r)
{
    const bk_buf *in = ms3__ingest_buffer(r->ingest);
    ms3_complete_req cr;
    if (ms3__xml_parse_complete(bk_buf_str(in), in->len, &cr) != 0) {
        ms3__resp_error(r, "MalformedXML", NULL, NULL);
        return;
    }
    completion c;
    memset(&c, 0, sizeof(c));
    char etag[80];
    ms3_upload *up = take_upload(r, &cr);
    if (up != NULL && gather_parts(r, up, &cr, &c) == 0 &&
        store_completed(r, &up, cr.n, &c, etag) == 0)
        complete_result(r, etag, up->ck_alg, cr.n, &c);
    ms3__upload_discard(r->srv->uploads, up);
    completion_clear(&c);
    ms3__complete_req_clear(&cr);
}

void ms3__op_abort_multipart(ms3_req *r)
{
    ms3_uploads *u = r->srv->uploads;
    const char *id = ms3__route_param(&r->route, "uploadId");
    pthread_mutex_lock(&u->lock);
    size_t pos = 0;
    ms3_upload *up = ms3__uploads_find(u, id, r->route.bucket, r->route.key, &pos);
    if (up != NULL)
        up = ms3__uploads_take(u, pos);
    pthread_mutex_unlock(&u->lock);
    if (up == NULL) {
        ms3__resp_error(r, "NoSuchUpload", NULL, NULL);
        return;
    }
    ms3__upload_discard(u, up);
    r->resp.status = 204;
    r->resp.no_body = 1;
}

void ms3__op_list_parts(ms3_req *r)
{
    ms3_uploads *u = r->srv->uploads;
    const char *id = ms3__route_param(&r->route, "uploadId");
    const char *marker_s = ms3__route_param(&r->route, "part-number-marker");
    const char *max_s = ms3__route_param(&r->route, "max-parts");
    long marker = marker_s != NULL ? strtol(marker_s, NULL, 10) : 0;
    long max_parts = max_s != NULL ? strtol(max_s, NULL, 10) : 1000;
    if (max_parts <= 0 || max_parts > 1000)
        max_parts = 1000;
    bk_buf *b = &r->resp.body;
    pthread_mutex_lock(&u->lock);
    ms3_upload *up = ms3__uploads_find(u, id, r->route.bucket, r->route.key, NULL);
    if (up == NULL) {
        pthread_mutex_unlock(&u->lock);
        ms3__resp_error(r, "NoSuchUpload", NULL, NULL);
        return;
    }
    bk_buf_puts(b, MS3_XML_DECL "<ListPartsResult xmlns=\"" MS3_XMLNS "\">");
    ms3__xml_elem(b, "Bucket", up->bucket);
    ms3__xml_elem(b, "Key", up->key);
    ms3__xml_elem(b, "UploadId", up->id);
    bk_buf_printf(b, "<PartNumberMarker>%ld</PartNumberMarker>", marker);
    long shown = 0, last = marker;
    int truncated = 0;
    bk_buf parts = BK_BUF_INIT;
    for (size_t i = 0; i < up->n; i++) {
        const ms3_part *p = &up->parts[i];
        if (p->number <= marker)
            continue;
        if (shown == max_parts) {
            truncated = 1;
            break;
        }
        char iso[40];
        ms3__time_iso8601_ms(p->last_modified_ms, iso, sizeof(iso));
        bk_buf_printf(&parts, "<Part><PartNumber>%d</PartNumber>", p->number);
        ms3__xml_elem(&parts, "LastModified", iso);
        ms3__xml_elem(&parts, "ETag", p->etag);
        bk_buf_printf(&parts, "<Size>%llu</Size>", (unsigned long long)p->size);
        if (p->ck_value[0]) {
            char name[32];
            snprintf(name, sizeof(name), "Checksum%s", bk_checksum_alg_name(p->ck_alg));
            ms3__xml_elem(&parts, name, p->ck_value);
        }
        bk_buf_puts(&parts, "</Part>");
        shown++;
        last = p->number;
    }
    if (up->ck_alg != BK_CHECKSUM_NONE)
        ms3__xml_elem(b, "ChecksumAlgorithm", bk_checksum_alg_name(up->ck_alg));
    pthread_mutex_unlock(&u->lock);
    bk_buf_printf(b, "<NextPartNumberMarker>%ld</NextPartNumberMarker>", last);
    bk_buf_printf(b, "<MaxParts>%ld</MaxParts><IsTruncated>%s</IsTruncated>", max_parts,
                  truncated ? "true" : "false");
    bk_buf_puts(b, bk_buf_str(&parts));
    bk_buf_puts(b, "<StorageClass>STANDARD</StorageClass></ListPartsResult>");
    bk_buf_clear(&parts);
    ms3__resp_xml(r, 200);
}

void ms3__op_list_multipart_uploads(ms3_req *r)
{
    ms3_uploads *u = r->srv->uploads;
    const char *prefix = ms3__route_param(&r->route, "prefix");
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<ListMultipartUploadsResult xmlns=\"" MS3_XMLNS "\">");
    ms3__xml_elem(b, "Bucket", r->route.bucket);
    bk_buf_puts(b, "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
                   "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>");
    pthread_mutex_lock(&u->lock);
    for (size_t i = 0; i < u->n; i++) {
        const ms3_upload *up = u->items[i];
        if (strcmp(up->bucket, r->route.bucket) != 0 ||
            (prefix != NULL && strncmp(up->key, prefix, strlen(prefix)) != 0))
            continue;
        char iso[40];
        ms3__time_iso8601_ms(up->initiated_ms, iso, sizeof(iso));
        bk_buf_puts(b, "<Upload>");
        ms3__xml_elem(b, "Key", up->key);
        ms3__xml_elem(b, "UploadId", up->id);
        ms3__xml_elem(b, "Initiated", iso);
        bk_buf_puts(b, "<StorageClass>STANDARD</StorageClass></Upload>");
    }
    pthread_mutex_unlock(&u->lock);
    bk_buf_puts(b, "</ListMultipartUploadsResult>");
    ms3__resp_xml(r, 200);
}
