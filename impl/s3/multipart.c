/* Multipart uploads and copies: the single steps, and the transfer-manager
 * logic on top (threshold, part geometry, parts in flight, abort on failure). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"
#include "s3internal.h"

static bk_code part_query(bk_buf *q, int part_number, const char *upload_id, bk_err *err)
{
    char num[16];
    snprintf(num, sizeof num, "%d", part_number);
    bk__query_add(q, "partNumber", num);
    bk__query_add(q, "uploadId", upload_id);
    return q->failed ? bk_err_set(err, BK_ENOMEM, "out of memory") : BK_OK;
}

static bk_code check_part(bk_s3_client *c, const char *op, const char *key, const char *upload_id,
                          int part_number, bk_err *err)
{
    if (key == NULL || key[0] == '\0' || upload_id == NULL || upload_id[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "%s s3://%s/%s: key and upload id are required", op,
                          c->bucket, key ? key : "");
    if (part_number < 1 || part_number > BK_S3_MAX_PARTS)
        return bk_err_set(err, BK_EINVAL, "%s s3://%s/%s: part number %d not in 1..%d", op,
                          c->bucket, key, part_number, BK_S3_MAX_PARTS);
    return BK_OK;
}

bk_code bk_s3_multipart_create(bk_s3_client *c, const char *key, const bk_s3_put_options *opts,
                               char **upload_id, bk_err *err)
{
    *upload_id = NULL;
    if (key == NULL || key[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "CreateMultipartUpload: empty key");
    s3_request rq;
    bk__s3_request_init(&rq, "CreateMultipartUpload", "POST", key);
    rq.query = "uploads";
    rq.max_body = S3_XML_RESULT_MAX;
    if (opts != NULL) {
        if (opts->content_type)
            bk__s3_request_header(&rq, "content-type", opts->content_type);
        bk_code rc = bk__s3_add_metadata(c, &rq, opts->meta, opts->n_meta, err);
        if (rc != BK_OK)
            return rc;
    }
    /* Checksums are all or nothing across an upload: a part with a checksum in
     * an upload created without one makes Complete fail with InvalidPart
     * (unless the checksum is left undeclared on purpose, as the SDK's default). */
    if (c->cfg.checksum_algorithm != BK_CHECKSUM_NONE && c->cfg.checksum_declared)
        bk__s3_request_header(&rq, "x-amz-checksum-algorithm",
                              bk_checksum_alg_name(c->cfg.checksum_algorithm));
    bk_buf body = BK_BUF_INIT;
    bk_code rc = bk__s3_execute(c, &rq, NULL, &body, err);
    if (rc == BK_OK) {
        rc = bk__s3xml_parse_initiate(body.data, body.len, upload_id, err);
        if (rc != BK_OK)
            bk_err_prefix(err, "s3://%s/%s: ", c->bucket, key);
    }
    bk_buf_clear(&body);
    return rc;
}

static bk_code upload_part(bk_s3_client *c, s3_request *rq, const char *key, const char *upload_id,
                           int part_number, bk_s3_part *part, bk_err *err)
{
    bk_code rc = check_part(c, "UploadPart", key, upload_id, part_number, err);
    if (rc != BK_OK)
        return rc;
    bk_buf q = BK_BUF_INIT;
    rc = part_query(&q, part_number, upload_id, err);
    bk_s3_result res = BK_S3_RESULT_INIT;
    rq->query = bk_buf_str(&q);
    rq->object_payload = 1;
    rq->content_md5 = c->cfg.send_content_md5;
    bk__s3_body_checksum(c, rq);
    if (rc == BK_OK)
        rc = bk__s3_execute(c, rq, &res, NULL, err);
    if (rc == BK_OK && res.etag[0] == '\0')
        rc = bk_err_set(err, BK_EPROTO, "UploadPart s3://%s/%s part %d: response has no ETag",
                        c->bucket, key, part_number);
    if (rc == BK_OK) {
        memset(part, 0, sizeof *part);
        part->number = part_number;
        s3_copy(part->etag, sizeof part->etag, res.etag);
        if (rq->checksum_declared)
            s3_copy(part->checksum, sizeof part->checksum, rq->checksum_value);
    } else {
        bk_err_prefix(err, "part %d: ", part_number);
    }
    bk_s3_result_clear(&res);
    bk_buf_clear(&q);
    return rc;
}

/* A part read from fd; payload_sha256: its hex SHA-256 when known, else
 * hashed before it is sent. */
static bk_code upload_part_fd(bk_s3_client *c, const char *key, const char *upload_id,
                              int part_number, int fd, uint64_t offset, uint64_t len,
                              const char *payload_sha256, bk_s3_part *part, bk_err *err)
{
    s3_request rq;
    bk__s3_request_init(&rq, "UploadPart", "PUT", key);
    rq.body = S3_BODY_FD;
    rq.fd = fd;
    rq.offset = offset;
    rq.len = len;
    rq.payload_sha256 = payload_sha256;
    return upload_part(c, &rq, key, upload_id, part_number, part, err);
}

bk_code bk_s3_multipart_upload_part(bk_s3_client *c, const char *key, const char *upload_id,
                                    int part_number, int fd, uint64_t offset, uint64_t len,
                                    bk_s3_part *part, bk_err *err)
{
    return upload_part_fd(c, key, upload_id, part_number, fd, offset, len, NULL, part, err);
}

bk_code bk_s3_multipart_upload_part_mem(bk_s3_client *c, const char *key, const char *upload_id,
                                        int part_number, const void *data, size_t len,
                                        bk_s3_part *part, bk_err *err)
{
    s3_request rq;
    bk__s3_request_init(&rq, "UploadPart", "PUT", key);
    rq.body = S3_BODY_MEM;
    rq.mem = data ? data : "";
    rq.len = len;
    return upload_part(c, &rq, key, upload_id, part_number, part, err);
}

bk_code bk_s3_multipart_upload_part_copy(bk_s3_client *c, const char *key, const char *upload_id,
                                         int part_number, const char *source_bucket,
                                         const char *source_key, uint64_t first, uint64_t last,
                                         bk_s3_part *part, bk_err *err)
{
    bk_code rc = check_part(c, "UploadPartCopy", key, upload_id, part_number, err);
    if (rc != BK_OK)
        return rc;
    if (source_key == NULL || source_key[0] == '\0' || last < first ||
        last - first + 1 > BK_S3_MAX_COPY_SIZE)
        return bk_err_set(err, BK_EINVAL,
                          "UploadPartCopy s3://%s/%s part %d: bad source or range %llu-%llu "
                          "(at most 5 GiB)",
                          c->bucket, key, part_number, (unsigned long long)first,
                          (unsigned long long)last);
    bk_buf q = BK_BUF_INIT, src = BK_BUF_INIT, body = BK_BUF_INIT;
    char range[80];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)first,
             (unsigned long long)last);
    rc = part_query(&q, part_number, upload_id, err);
    bk__endpoint_copy_source(source_bucket ? source_bucket : c->bucket, source_key, &src);
    s3_request rq;
    bk__s3_request_init(&rq, "UploadPartCopy", "PUT", key);
    rq.query = bk_buf_str(&q);
    rq.max_body = S3_XML_RESULT_MAX;
    rq.error_in_200 = 1;
    bk__s3_request_header(&rq, "x-amz-copy-source", bk_buf_str(&src));
    bk__s3_request_header(&rq, "x-amz-copy-source-range", range);
    if (rc == BK_OK && src.failed)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    if (rc == BK_OK)
        rc = bk__s3_execute(c, &rq, NULL, &body, err);
    if (rc == BK_OK) {
        memset(part, 0, sizeof *part);
        part->number = part_number;
        rc = bk__s3xml_parse_etag_result(body.data, body.len, "CopyPartResult", part->etag,
                                         sizeof part->etag, NULL, NULL, err);
        if (rc != BK_OK)
            bk_err_prefix(err, "UploadPartCopy s3://%s/%s part %d: ", c->bucket, key, part_number);
    } else {
        bk_err_prefix(err, "part %d: ", part_number);
    }
    bk_buf_clear(&q);
    bk_buf_clear(&src);
    bk_buf_clear(&body);
    return rc;
}

bk_code bk_s3_multipart_complete(bk_s3_client *c, const char *key, const char *upload_id,
                                 const bk_s3_part *parts, size_t n, bk_s3_result *res, bk_err *err)
{
    if (n == 0 || n > BK_S3_MAX_PARTS)
        return bk_err_set(err, BK_EINVAL,
                          "CompleteMultipartUpload s3://%s/%s: %zu parts (1..%d allowed)",
                          c->bucket, key ? key : "", n, BK_S3_MAX_PARTS);
    bk_buf q = BK_BUF_INIT, xml = BK_BUF_INIT, body = BK_BUF_INIT;
    bk__query_add(&q, "uploadId", upload_id);
    bk__s3xml_complete_body(
        &xml, parts, n, c->cfg.checksum_declared ? c->cfg.checksum_algorithm : BK_CHECKSUM_NONE);
    bk_s3_result local = BK_S3_RESULT_INIT;
    if (res == NULL)
        res = &local;
    bk_code rc = BK_OK;
    if (q.failed || xml.failed)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    s3_request rq;
    bk__s3_request_init(&rq, "CompleteMultipartUpload", "POST", key);
    rq.query = bk_buf_str(&q);
    rq.body = S3_BODY_MEM;
    rq.mem = xml.data;
    rq.len = xml.len;
    rq.max_body = S3_XML_RESULT_MAX;
    rq.error_in_200 = 1;
    bk__s3_request_header(&rq, "content-type", "application/xml");
    if (rc == BK_OK)
        rc = bk__s3_execute(c, &rq, res, &body, err);
    if (rc == BK_OK) {
        rc = bk__s3xml_parse_etag_result(body.data, body.len, "CompleteMultipartUploadResult",
                                         res->etag, sizeof res->etag, NULL, NULL, err);
        if (rc != BK_OK)
            bk_err_prefix(err, "CompleteMultipartUpload s3://%s/%s: ", c->bucket, key);
    }
    bk_s3_result_clear(&local);
    bk_buf_clear(&q);
    bk_buf_clear(&xml);
    bk_buf_clear(&body);
    return rc;
}

bk_code bk_s3_multipart_abort(bk_s3_client *c, const char *key, const char *upload_id, bk_err *err)
{
    bk_buf q = BK_BUF_INIT;
    bk__query_add(&q, "uploadId", upload_id ? upload_id : "");
    s3_request rq;
    bk__s3_request_init(&rq, "AbortMultipartUpload", "DELETE", key);
    rq.query = bk_buf_str(&q);
    bk_code rc = bk__s3_execute(c, &rq, NULL, NULL, err);
    bk_buf_clear(&q);
    return rc;
}

/* ---- parts in flight ---- */

typedef struct part_job part_job;
struct part_job {
    bk_s3_client *c;
    const char *key;
    const char *upload_id;
    size_t nparts;
    uint64_t total, part_size;
    /* upload from fd */
    int fd;
    uint64_t offset;
    const char (*part_sha256)[65]; /* the parts' payload hashes; NULL = hashed when sent */
    /* copy */
    const char *src_bucket, *src_key;
    bk_code (*do_part)(part_job *j, size_t index, bk_err *err);
    bk_s3_part *parts;
    pthread_mutex_t lock;
    size_t next;
    int failed;
    bk_err first_err;
};

static void part_bounds(const part_job *j, size_t i, uint64_t *first, uint64_t *len)
{
    *first = (uint64_t)i * j->part_size;
    uint64_t end = *first + j->part_size;
    if (end > j->total)
        end = j->total; /* the last part stops at the last byte, never past it */
    *len = end - *first;
}

static bk_code do_upload_part(part_job *j, size_t i, bk_err *err)
{
    uint64_t first, len;
    part_bounds(j, i, &first, &len);
    return upload_part_fd(j->c, j->key, j->upload_id, (int)i + 1, j->fd, j->offset + first, len,
                          j->part_sha256 != NULL ? j->part_sha256[i] : NULL, &j->parts[i], err);
}

static bk_code do_copy_part(part_job *j, size_t i, bk_err *err)
{
    uint64_t first, len;
    part_bounds(j, i, &first, &len);
    return bk_s3_multipart_upload_part_copy(j->c, j->key, j->upload_id, (int)i + 1, j->src_bucket,
                                            j->src_key, first, first + len - 1, &j->parts[i], err);
}

static void *part_worker(void *arg)
{
    part_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        if (j->failed || j->next >= j->nparts) {
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        bk_err e = {0};
        if (j->do_part(j, i, &e) != BK_OK) {
            pthread_mutex_lock(&j->lock);
            if (!j->failed) {
                j->failed = 1;
                j->first_err = e; /* the first failure is the cause; others follow from it */
            }
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
    }
}

static bk_code run_parts(part_job *j, bk_err *err)
{
    size_t workers = (size_t)j->c->cfg.parts_in_flight;
    if (workers > j->nparts)
        workers = j->nparts;
    pthread_t tids[64];
    if (workers > sizeof tids / sizeof tids[0] + 1)
        workers = sizeof tids / sizeof tids[0] + 1;
    size_t started = 0;
    for (; started + 1 < workers; started++)
        if (pthread_create(&tids[started], NULL, part_worker, j) != 0)
            break; /* fewer threads still finish the job */
    part_worker(j);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (j->failed) {
        bk_err_set(err, j->first_err.code, "%s", j->first_err.msg);
        return j->first_err.code;
    }
    return BK_OK;
}

/* Runs the parts then completes; aborts the upload on any failure. */
static bk_code finish_upload(part_job *j, bk_s3_result *res, bk_err *err)
{
    bk_code rc = run_parts(j, err);
    if (rc == BK_OK)
        rc = bk_s3_multipart_complete(j->c, j->key, j->upload_id, j->parts, j->nparts, res, err);
    if (rc != BK_OK) {
        bk_err abort_err = {0};
        if (bk_s3_multipart_abort(j->c, j->key, j->upload_id, &abort_err) != BK_OK)
            bk_err_prefix(err, "(aborting upload %s also failed: %s) ", j->upload_id,
                          abort_err.msg);
    }
    return rc;
}

uint64_t bk_s3_upload_part_size(const bk_s3_client *c, uint64_t len)
{
    if (len < c->cfg.multipart_threshold)
        return 0;
    uint64_t part_size = c->cfg.part_size;
    /* S3 allows 10,000 parts: grow the parts for very large objects. */
    while ((len + part_size - 1) / part_size > BK_S3_MAX_PARTS)
        part_size *= 2;
    return part_size;
}

bk_code bk_s3_upload_fd(bk_s3_client *c, const char *key, int fd, uint64_t offset, uint64_t len,
                        const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err)
{
    uint64_t part_size = bk_s3_upload_part_size(c, len);
    if (part_size == 0)
        return bk_s3_put_fd(c, key, fd, offset, len, opts, res, err);
    part_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.key = key;
    j.nparts = (size_t)((len + part_size - 1) / part_size);
    j.total = len;
    j.part_size = part_size;
    j.fd = fd;
    j.offset = offset;
    j.do_part = do_upload_part;
    j.parts = calloc(j.nparts, sizeof *j.parts);
    if (j.parts == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_s3_put_options o;
    memset(&o, 0, sizeof o);
    if (opts != NULL)
        o = *opts;
    o.payload_sha256 = NULL; /* a whole-object hash says nothing about a part */
    if (o.part_sha256 != NULL && o.n_part_sha256 == j.nparts)
        j.part_sha256 = o.part_sha256;
    char *upload_id = NULL;
    bk_code rc = bk_s3_multipart_create(c, key, &o, &upload_id, err);
    if (rc == BK_OK) {
        j.upload_id = upload_id;
        pthread_mutex_init(&j.lock, NULL);
        rc = finish_upload(&j, res, err);
        pthread_mutex_destroy(&j.lock);
    }
    if (rc == BK_OK && res != NULL) {
        res->size = len;
        res->has_size = 1;
    }
    free(upload_id);
    free(j.parts);
    return rc;
}

bk_code bk_s3_copy_any_size(bk_s3_client *c, const char *source_key, const char *dest_key,
                            uint64_t size, uint64_t copy_part_size, const bk_s3_copy_options *opts,
                            bk_s3_result *res, bk_err *err)
{
    if (copy_part_size == 0 || copy_part_size > BK_S3_MAX_COPY_SIZE)
        copy_part_size = BK_S3_MAX_COPY_SIZE;
    if (size < copy_part_size)
        return bk_s3_copy(c, source_key, dest_key, opts, res, err);
    while ((size + copy_part_size - 1) / copy_part_size > BK_S3_MAX_PARTS)
        copy_part_size *= 2;
    if (copy_part_size > BK_S3_MAX_COPY_SIZE)
        return bk_err_set(err, BK_EINVAL, "copy of %llu bytes needs more than 10000 parts",
                          (unsigned long long)size);
    bk_s3_put_options o;
    memset(&o, 0, sizeof o);
    if (opts != NULL && opts->directive == BK_S3_METADATA_REPLACE) {
        o.content_type = opts->content_type;
        o.meta = opts->meta;
        o.n_meta = opts->n_meta;
    }
    part_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.key = dest_key;
    j.nparts = (size_t)((size + copy_part_size - 1) / copy_part_size);
    j.total = size;
    j.part_size = copy_part_size;
    j.src_bucket = opts && opts->source_bucket ? opts->source_bucket : c->bucket;
    j.src_key = source_key;
    j.do_part = do_copy_part;
    j.parts = calloc(j.nparts, sizeof *j.parts);
    if (j.parts == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    char *upload_id = NULL;
    bk_code rc = bk_s3_multipart_create(c, dest_key, &o, &upload_id, err);
    if (rc == BK_OK) {
        j.upload_id = upload_id;
        pthread_mutex_init(&j.lock, NULL);
        rc = finish_upload(&j, res, err);
        pthread_mutex_destroy(&j.lock);
    }
    free(upload_id);
    free(j.parts);
    return rc;
}
