/* Bucket operations: CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
 * ListBuckets. */
#include <stdio.h>
#include <string.h>

#include "server_internal.h"
#include "xml.h"

void ms3__op_create_bucket(ms3_req *r)
{
    ms3_server *s = r->srv;
    bk_err err;
    if (strcmp(r->route.bucket, "_mock") == 0) {
        ms3__resp_error(r, "InvalidBucketName", NULL, NULL);
        return;
    }
    int existed = 0;
    if (ms3__store_create_bucket(s->store, r->route.bucket, ms3__clock_now_ms(&s->clock), &existed,
                                 &err) != BK_OK) {
        ms3__resp_error(r, "InternalError", err.msg, NULL);
        return;
    }
    if (existed && strcmp(s->region, "us-east-1") != 0) {
        ms3__resp_error(r, "BucketAlreadyOwnedByYou", NULL, NULL);
        return;
    }
    r->resp.status = 200;
    ms3__resp_headerf(r, "Location", "/%s", r->route.bucket);
}

void ms3__op_delete_bucket(ms3_req *r)
{
    int rc = ms3__store_delete_bucket(r->srv->store, r->route.bucket);
    if (rc == MS3_STORE_NO_BUCKET) {
        ms3__resp_error(r, "NoSuchBucket", NULL, NULL);
        return;
    }
    if (rc != MS3_STORE_OK) {
        ms3__resp_error(r, "BucketNotEmpty", NULL, NULL);
        return;
    }
    r->resp.status = 204;
    r->resp.no_body = 1;
}

void ms3__op_head_bucket(ms3_req *r)
{
    r->resp.status = 200;
    r->resp.content_length = 0;
    ms3__resp_header(r, "x-amz-bucket-region", r->srv->region);
}

void ms3__op_get_bucket_location(ms3_req *r)
{
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<LocationConstraint xmlns=\"" MS3_XMLNS "\">");
    /* us-east-1 is the empty constraint, as S3 answers. */
    if (strcmp(r->srv->region, "us-east-1") != 0)
        ms3__xml_escape(b, r->srv->region);
    bk_buf_puts(b, "</LocationConstraint>");
    ms3__resp_xml(r, 200);
}

void ms3__op_list_buckets(ms3_req *r)
{
    ms3_bucket_item *items = NULL;
    size_t n = ms3__store_list_buckets(r->srv->store, &items);
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<ListAllMyBucketsResult xmlns=\"" MS3_XMLNS "\">"
                                "<Owner><ID>mock-s3</ID><DisplayName>mock-s3</DisplayName>"
                                "</Owner><Buckets>");
    for (size_t i = 0; i < n; i++) {
        char iso[40];
        ms3__time_iso8601_ms(items[i].created_ms, iso, sizeof(iso));
        bk_buf_puts(b, "<Bucket>");
        ms3__xml_elem(b, "Name", items[i].name);
        ms3__xml_elem(b, "CreationDate", iso);
        bk_buf_puts(b, "</Bucket>");
    }
    bk_buf_puts(b, "</Buckets></ListAllMyBucketsResult>");
    ms3__bucket_items_free(items, n);
    ms3__resp_xml(r, 200);
}
