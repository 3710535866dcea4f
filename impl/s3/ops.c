/* S3 operations that are one request each (plus listing's pages and
 * DeleteObjects' batches). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/checksum.h"
#include "s3xml.h"
#include "s3internal.h"

#define DELETE_BATCH 1000

static bk_code need_key(bk_s3_client *c, const char *op, const char *key, bk_err *err)
{
    if (key == NULL || key[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "%s s3://%s/: empty object key", op, c->bucket);
    if (strlen(key) > 1024)
        return bk_err_set(err, BK_EINVAL, "%s s3://%s/%.64s...: key longer than 1024 bytes", op,
                          c->bucket, key);
    return BK_OK;
}

bk_code bk_s3_head(bk_s3_client *c, const char *key, bk_s3_result *res, bk_err *err)
{
    bk_code rc = need_key(c, "HeadObject", key, err);
    if (rc != BK_OK)
        return rc;
    s3_request rq;
    bk__s3_request_init(&rq, "HeadObject", "HEAD", key);
    return bk__s3_execute(c, &rq, res, NULL, err);
}

static bk_code check_range(bk_s3_client *c, const char *key, const bk_s3_range *range, bk_err *err)
{
    if (range != NULL && range->has_last && range->last < range->first)
        return bk_err_set(err, BK_EINVAL, "GetObject s3://%s/%s: range %llu-%llu is empty",
                          c->bucket, key, (unsigned long long)range->first,
                          (unsigned long long)range->last);
    return BK_OK;
}

bk_code bk_s3_get(bk_s3_client *c, const char *key, const bk_s3_range *range, bk_s3_sink_fn sink,
                  void *ud, bk_s3_result *res, bk_err *err)
{
    bk_code rc = need_key(c, "GetObject", key, err);
    if (rc == BK_OK)
        rc = check_range(c, key, range, err);
    if (rc != BK_OK)
        return rc;
    if (sink == NULL)
        return bk_err_set(err, BK_EINVAL, "GetObject: no sink");
    s3_request rq;
    bk__s3_request_init(&rq, "GetObject", "GET", key);
    rq.sink = sink;
    rq.sink_ud = ud;
    rq.range = range;
    return bk__s3_execute(c, &rq, res, NULL, err);
}

typedef struct fd_sink {
    int fd;
    off_t at;
} fd_sink;

static int fd_sink_write(void *ud, const void *data, size_t len, bk_err *err)
{
    fd_sink *s = ud;
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(s->fd, p, len, s->at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bk_err_set(err, BK_EIO, "writing at offset %lld: %s", (long long)s->at,
                       n < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        p += n;
        len -= (size_t)n;
        s->at += n;
    }
    return 0;
}

bk_code bk_s3_get_to_fd(bk_s3_client *c, const char *key, const bk_s3_range *range, int fd,
                        off_t fd_offset, bk_s3_result *res, bk_err *err)
{
    fd_sink s = {fd, fd_offset};
    return bk_s3_get(c, key, range, fd_sink_write, &s, res, err);
}

typedef struct buf_sink {
    bk_buf *out;
    size_t max;
    size_t got;
} buf_sink;

static int buf_sink_write(void *ud, const void *data, size_t len, bk_err *err)
{
    buf_sink *s = ud;
    if (s->got + len > s->max) {
        bk_err_set(err, BK_EINVAL, "object larger than the %zu bytes allowed", s->max);
        return -1;
    }
    if (bk_buf_append(s->out, data, len) != 0) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return -1;
    }
    s->got += len;
    return 0;
}

bk_code bk_s3_get_to_buf(bk_s3_client *c, const char *key, const bk_s3_range *range, size_t max_len,
                         bk_buf *out, bk_s3_result *res, bk_err *err)
{
    buf_sink s = {out, max_len, 0};
    return bk_s3_get(c, key, range, buf_sink_write, &s, res, err);
}

/* Headers shared by PutObject and CreateMultipartUpload. */
static bk_code put_headers(bk_s3_client *c, s3_request *rq, const bk_s3_put_options *opts,
                           bk_err *err)
{
    if (opts == NULL)
        return BK_OK;
    if (opts->content_type != NULL)
        bk__s3_request_header(rq, "content-type", opts->content_type);
    return bk__s3_add_metadata(c, rq, opts->meta, opts->n_meta, err);
}

static bk_code check_sha(bk_s3_client *c, const char *key, const char *sha, bk_err *err)
{
    if (sha == NULL)
        return BK_OK;
    size_t n = strlen(sha);
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (sha[i] >= '0' && sha[i] <= '9') || (sha[i] >= 'a' && sha[i] <= 'f');
    if (!ok)
        return bk_err_set(err, BK_EINVAL,
                          "PutObject s3://%s/%s: payload sha256 must be 64 lowercase hex digits "
                          "(no \"sha256:\" prefix)",
                          c->bucket, key);
    return BK_OK;
}

static bk_code put_common(bk_s3_client *c, const char *key, s3_request *rq,
                          const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err)
{
    bk_code rc = need_key(c, "PutObject", key, err);
    if (rc == BK_OK && opts != NULL)
        rc = check_sha(c, key, opts->payload_sha256, err);
    if (rc == BK_OK)
        rc = put_headers(c, rq, opts, err);
    if (rc != BK_OK)
        return rc;
    if (opts != NULL && opts->if_match != NULL)
        bk__s3_request_header(rq, "if-match", opts->if_match);
    if (opts != NULL && opts->if_none_match)
        bk__s3_request_header(rq, "if-none-match", "*");
    rq->payload_sha256 = opts ? opts->payload_sha256 : NULL;
    rq->object_payload = 1;
    rq->content_md5 = c->cfg.send_content_md5;
    bk__s3_body_checksum(c, rq);
    return bk__s3_execute(c, rq, res, NULL, err);
}

bk_code bk_s3_put_mem(bk_s3_client *c, const char *key, const void *data, size_t len,
                      const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err)
{
    s3_request rq;
    bk__s3_request_init(&rq, "PutObject", "PUT", key);
    rq.body = S3_BODY_MEM;
    rq.mem = data ? data : "";
    rq.len = len;
    return put_common(c, key, &rq, opts, res, err);
}

bk_code bk_s3_put_fd(bk_s3_client *c, const char *key, int fd, uint64_t offset, uint64_t len,
                     const bk_s3_put_options *opts, bk_s3_result *res, bk_err *err)
{
    if (fd < 0)
        return bk_err_set(err, BK_EINVAL, "PutObject s3://%s/%s: bad file descriptor", c->bucket,
                          key ? key : "");
    s3_request rq;
    bk__s3_request_init(&rq, "PutObject", "PUT", key);
    rq.body = S3_BODY_FD;
    rq.fd = fd;
    rq.offset = offset;
    rq.len = len;
    return put_common(c, key, &rq, opts, res, err);
}

bk_code bk_s3_copy(bk_s3_client *c, const char *source_key, const char *dest_key,
                   const bk_s3_copy_options *opts, bk_s3_result *res, bk_err *err)
{
    bk_code rc = need_key(c, "CopyObject", source_key, err);
    if (rc == BK_OK)
        rc = need_key(c, "CopyObject", dest_key, err);
    if (rc != BK_OK)
        return rc;
    bk_s3_copy_options none;
    memset(&none, 0, sizeof none);
    if (opts == NULL)
        opts = &none;
    const char *src_bucket = opts->source_bucket ? opts->source_bucket : c->bucket;
    if (strcmp(src_bucket, c->bucket) == 0 && strcmp(source_key, dest_key) == 0 &&
        opts->directive != BK_S3_METADATA_REPLACE)
        return bk_err_set(err, BK_EINVAL,
                          "CopyObject s3://%s/%s onto itself needs the REPLACE metadata "
                          "directive (S3 refuses a self-copy that changes nothing)",
                          c->bucket, dest_key);
    s3_request rq;
    bk__s3_request_init(&rq, "CopyObject", "PUT", dest_key);
    bk_buf src = BK_BUF_INIT;
    bk__endpoint_copy_source(src_bucket, source_key, &src);
    if (src.failed) {
        bk_buf_clear(&src);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    bk__s3_request_header(&rq, "x-amz-copy-source", bk_buf_str(&src));
    if (opts->directive == BK_S3_METADATA_REPLACE) {
        bk__s3_request_header(&rq, "x-amz-metadata-directive", "REPLACE");
        if (opts->content_type)
            bk__s3_request_header(&rq, "content-type", opts->content_type);
        rc = bk__s3_add_metadata(c, &rq, opts->meta, opts->n_meta, err);
    }
    bk_buf body = BK_BUF_INIT;
    bk_s3_result local = BK_S3_RESULT_INIT;
    if (res == NULL)
        res = &local;
    rq.max_body = S3_XML_RESULT_MAX;
    rq.error_in_200 = 1;
    if (rc == BK_OK)
        rc = bk__s3_execute(c, &rq, res, &body, err);
    if (rc == BK_OK) {
        char where[1200];
        bk__s3_where(c, dest_key, where, sizeof where);
        rc = bk__s3xml_parse_etag_result(body.data, body.len, "CopyObjectResult", res->etag,
                                         sizeof res->etag, &res->last_modified,
                                         &res->has_last_modified, err);
        if (rc != BK_OK)
            bk_err_prefix(err, "CopyObject %s: ", where);
    }
    bk_buf_clear(&body);
    bk_buf_clear(&src);
    bk_s3_result_clear(&local);
    return rc;
}

bk_code bk_s3_delete(bk_s3_client *c, const char *key, bk_s3_result *res, bk_err *err)
{
    bk_code rc = need_key(c, "DeleteObject", key, err);
    if (rc != BK_OK)
        return rc;
    s3_request rq;
    bk__s3_request_init(&rq, "DeleteObject", "DELETE", key);
    return bk__s3_execute(c, &rq, res, NULL, err);
}

bk_code bk_s3_delete_many(bk_s3_client *c, const char *const *keys, size_t n,
                          bk_s3_delete_report *report, bk_err *err)
{
    bk_s3_delete_report local;
    memset(&local, 0, sizeof local);
    if (report == NULL)
        report = &local;
    bk_s3_delete_report_clear(report);
    bk_code rc = BK_OK;
    for (size_t start = 0; start < n && rc == BK_OK; start += DELETE_BATCH) {
        size_t count = n - start < DELETE_BATCH ? n - start : DELETE_BATCH;
        bk_buf xml = BK_BUF_INIT, out = BK_BUF_INIT;
        if (bk__s3xml_delete_body(&xml, keys + start, count) != 0) {
            bk_buf_clear(&xml);
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
            break;
        }
        s3_request rq;
        bk__s3_request_init(&rq, "DeleteObjects", "POST", NULL);
        rq.query = "delete";
        rq.body = S3_BODY_MEM;
        rq.mem = xml.data;
        rq.len = xml.len;
        rq.content_md5 = 1; /* S3 requires it (or a checksum) on DeleteObjects */
        rq.max_body = S3_XML_RESULT_MAX;
        rq.error_in_200 = 1;
        bk__s3_request_header(&rq, "content-type", "application/xml");
        size_t before = report->n_failures;
        rc = bk__s3_execute(c, &rq, NULL, &out, err);
        if (rc == BK_OK)
            rc = bk__s3xml_parse_delete_result(out.data, out.len, report, NULL, err);
        if (rc == BK_OK)
            report->deleted += count - (report->n_failures - before);
        bk_buf_clear(&xml);
        bk_buf_clear(&out);
    }
    if (rc == BK_OK && report->n_failures > 0)
        rc = bk_err_set(err, BK_ES3,
                        "DeleteObjects s3://%s: %zu of %zu keys not deleted; first: %s: %s %s",
                        c->bucket, report->n_failures, n, report->failures[0].key,
                        report->failures[0].code, report->failures[0].message);
    bk_s3_delete_report_clear(&local);
    return rc;
}

/* ---- listing ---- */

bk_code bk_s3_list_page_get(bk_s3_client *c, const bk_s3_list_params *params, bk_s3_list_page *page,
                            bk_err *err)
{
    bk_s3_list_params none;
    memset(&none, 0, sizeof none);
    if (params == NULL)
        params = &none;
    memset(page, 0, sizeof *page);
    bk_buf q = BK_BUF_INIT, body = BK_BUF_INIT;
    bk__query_add(&q, "list-type", "2");
    if (params->continuation_token)
        bk__query_add(&q, "continuation-token", params->continuation_token);
    if (params->delimiter)
        bk__query_add(&q, "delimiter", params->delimiter);
    if (params->max_keys > 0) {
        char mk[16];
        snprintf(mk, sizeof mk, "%d", params->max_keys);
        bk__query_add(&q, "max-keys", mk);
    }
    if (params->prefix)
        bk__query_add(&q, "prefix", params->prefix);
    if (params->start_after)
        bk__query_add(&q, "start-after", params->start_after);
    if (q.failed) {
        bk_buf_clear(&q);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    s3_request rq;
    bk__s3_request_init(&rq, "ListObjectsV2", "GET", NULL);
    rq.query = bk_buf_str(&q);
    rq.max_body = S3_XML_RESULT_MAX;
    bk_code rc = bk__s3_execute(c, &rq, NULL, &body, err);
    if (rc == BK_OK) {
        rc = bk__s3xml_parse_list(body.data, body.len, page, err);
        if (rc != BK_OK)
            bk_err_prefix(err, "s3://%s: ", c->bucket);
    }
    bk_buf_clear(&q);
    bk_buf_clear(&body);
    return rc;
}

bk_code bk_s3_list_each(bk_s3_client *c, const bk_s3_list_params *params,
                        int (*fn)(void *ud, const bk_s3_object *obj), void *ud, bk_err *err)
{
    bk_s3_list_params p;
    memset(&p, 0, sizeof p);
    if (params != NULL)
        p = *params;
    char *token = p.continuation_token ? strdup(p.continuation_token) : NULL;
    bk_code rc = BK_OK;
    for (;;) {
        p.continuation_token = token;
        bk_s3_list_page page;
        rc = bk_s3_list_page_get(c, &p, &page, err);
        if (rc != BK_OK)
            break;
        int stop = 0;
        for (size_t i = 0; i < page.n_objects && !stop; i++)
            stop = fn(ud, &page.objects[i]);
        free(token);
        token = NULL;
        if (!stop && page.is_truncated) {
            token = page.next_continuation_token;
            page.next_continuation_token = NULL;
            p.start_after = NULL; /* the token carries the position from here on */
        }
        bk_s3_list_page_clear(&page);
        if (token == NULL)
            break;
    }
    free(token);
    return rc;
}

/* ---- buckets ---- */

bk_code bk_s3_head_bucket(bk_s3_client *c, bk_s3_result *res, bk_err *err)
{
    s3_request rq;
    bk__s3_request_init(&rq, "HeadBucket", "HEAD", NULL);
    return bk__s3_execute(c, &rq, res, NULL, err);
}

bk_code bk_s3_create_bucket(bk_s3_client *c, bk_s3_result *res, bk_err *err)
{
    s3_request rq;
    bk__s3_request_init(&rq, "CreateBucket", "PUT", NULL);
    bk_buf xml = BK_BUF_INIT;
    if (strcmp(c->region, "us-east-1") != 0) {
        bk_buf_puts(&xml, "<CreateBucketConfiguration "
                          "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>");
        bk__s3xml_escape(&xml, c->region);
        bk_buf_puts(&xml, "</LocationConstraint></CreateBucketConfiguration>");
        rq.body = S3_BODY_MEM;
        rq.mem = xml.data;
        rq.len = xml.len;
    }
    bk_code rc = bk__s3_execute(c, &rq, res, NULL, err);
    bk_buf_clear(&xml);
    return rc;
}
