/* BK_TEST_UNIT
 * Object operations: PutObject, GetObject (ranges, conditions), HeadObject,
 * CopyObject, DeleteObject, DeleteObjects, bucket operations. In process (the
 * socket adds nothing to these; test_server covers the HTTP layer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "ms3_test.h"

static ms3_server *srv;

static int setup(void **state)
{
    (void)state;
    srv = ms3t_new_inproc(NULL);
    return srv != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ms3_server_stop(srv);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    ms3_server_reset(srv);
    return 0;
}

static void put(const char *target, const char *data, const char *const *headers,
                ms3t_response *out)
{
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = target;
    rq.body = data;
    rq.body_len = strlen(data);
    rq.has_body = 1;
    rq.sign = 1;
    rq.headers = headers;
    ms3t_send(srv, &rq, out);
}

static void req(const char *method, const char *target, const char *const *headers,
                ms3t_response *out)
{
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = target;
    rq.sign = 1;
    rq.headers = headers;
    ms3t_send(srv, &rq, out);
}

static void test_put_get_head(void **state)
{
    (void)state;
    ms3t_response r;
    const char *h[] = {"Content-Type: text/plain", "x-amz-meta-Color: blue",
                       "Cache-Control: no-cache", NULL};
    put("/bkt/a.txt", "hello world", h, &r);
    assert_int_equal(r.status, 200);
    char buf[256];
    assert_non_null(ms3t_header(&r, "ETag", buf, sizeof(buf)));
    assert_string_equal(buf, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
    ms3t_response_free(&r);

    req("GET", "/bkt/a.txt", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bk_buf_str(&r.body), "hello world");
    assert_string_equal(ms3t_header(&r, "Content-Type", buf, sizeof(buf)), "text/plain");
    assert_string_equal(ms3t_header(&r, "x-amz-meta-color", buf, sizeof(buf)), "blue");
    assert_string_equal(ms3t_header(&r, "Cache-Control", buf, sizeof(buf)), "no-cache");
    assert_non_null(ms3t_header(&r, "Last-Modified", buf, sizeof(buf)));
    assert_non_null(strstr(buf, " GMT"));
    ms3t_response_free(&r);

    req("HEAD", "/bkt/a.txt", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_header(&r, "Content-Length", buf, sizeof(buf)), "11");
    assert_string_equal(ms3t_header(&r, "ETag", buf, sizeof(buf)),
                        "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
    assert_int_equal(r.body.len, 0);
    ms3t_response_free(&r);

    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(srv, T_BUCKET, "a.txt", &info, NULL), 0);
    assert_int_equal(info.size, 11);
    assert_string_equal(info.content_type, "text/plain");
    assert_string_equal(info.metadata_json, "{\"color\":\"blue\"}");
    free(info.metadata_json);
}

static void test_missing_key_and_bucket(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    req("GET", "/bkt/nope", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "NoSuchKey");
    assert_string_equal(ms3t_xml(&r, "Key", buf, sizeof(buf)), "nope");
    ms3t_response_free(&r);
    /* HEAD errors carry no body, as on S3. */
    req("HEAD", "/bkt/nope", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.body.len, 0);
    ms3t_response_free(&r);
    req("GET", "/nobucket/x", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "NoSuchBucket");
    ms3t_response_free(&r);
    req("HEAD", "/nobucket", NULL, &r);
    assert_int_equal(r.status, 404);
    ms3t_response_free(&r);
    req("GET", "/Bad_Bucket/x", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidBucketName");
    ms3t_response_free(&r);
}

static void test_ranges(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    put("/bkt/r", "0123456789", NULL, &r);
    ms3t_response_free(&r);
    struct {
        const char *range;
        long status;
        const char *body;
        const char *content_range;
    } cases[] = {
        {"Range: bytes=2-5", 206, "2345", "bytes 2-5/10"},
        {"Range: bytes=7-", 206, "789", "bytes 7-9/10"},
        {"Range: bytes=-3", 206, "789", "bytes 7-9/10"},
        {"Range: bytes=5-100", 206, "56789", "bytes 5-9/10"},
        {"Range: bytes=-100", 206, "0123456789", "bytes 0-9/10"},
        {"Range: bytes=0-0", 206, "0", "bytes 0-0/10"},
        {"Range: bytes=1-2,4-5", 200, "0123456789", NULL}, /* several: whole object */
        {"Range: bytes=5-2", 200, "0123456789", NULL},     /* invalid: ignored */
        {"Range: items=1-2", 200, "0123456789", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h[] = {cases[i].range, NULL};
        req("GET", "/bkt/r", h, &r);
        assert_int_equal(r.status, cases[i].status);
        assert_string_equal(bk_buf_str(&r.body), cases[i].body);
        if (cases[i].content_range != NULL)
            assert_string_equal(ms3t_header(&r, "Content-Range", buf, sizeof(buf)),
                                cases[i].content_range);
        else
            assert_null(ms3t_header(&r, "Content-Range", buf, sizeof(buf)));
        ms3t_response_free(&r);
    }
    const char *bad[] = {"Range: bytes=10-", "Range: bytes=20-30", "Range: bytes=-0"};
    for (size_t i = 0; i < 3; i++) {
        const char *h[] = {bad[i], NULL};
        req("GET", "/bkt/r", h, &r);
        assert_int_equal(r.status, 416);
        assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidRange");
        assert_string_equal(ms3t_xml(&r, "ActualObjectSize", buf, sizeof(buf)), "10");
        ms3t_response_free(&r);
    }
    /* HEAD with a range announces the range length. */
    const char *h[] = {"Range: bytes=2-5", NULL};
    req("HEAD", "/bkt/r", h, &r);
    assert_int_equal(r.status, 206);
    assert_string_equal(ms3t_header(&r, "Content-Length", buf, sizeof(buf)), "4");
    ms3t_response_free(&r);
}

static void test_content_md5(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    const char *good[] = {"Content-MD5: XrY7u+Ae7tCTyyK7j1rNww==", NULL}; /* "hello world" */
    put("/bkt/m", "hello world", good, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    put("/bkt/m2", "hello worlD", good, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "BadDigest");
    ms3t_response_free(&r);
    assert_int_not_equal(ms3_server_stat_object(srv, T_BUCKET, "m2", &(ms3_object_info){0}, NULL),
                         0);
    const char *invalid[] = {"Content-MD5: not-base64!", NULL};
    put("/bkt/m3", "x", invalid, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidDigest");
    ms3t_response_free(&r);
}

static void test_checksum_headers(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    bk_checksum_digest d;
    bk_checksum_compute(BK_CHECKSUM_CRC32, "abc", 3, &d, NULL);
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "x-amz-checksum-crc32: %s", d.base64);
    const char *h[] = {hdr, NULL};
    put("/bkt/c", "abc", h, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_header(&r, "x-amz-checksum-crc32", buf, sizeof(buf)), d.base64);
    ms3t_response_free(&r);
    put("/bkt/c2", "abd", h, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "BadDigest");
    assert_non_null(strstr(bk_buf_str(&r.body), "CRC32"));
    ms3t_response_free(&r);
    const char *bad[] = {"x-amz-checksum-sha1: AAAA", NULL};
    put("/bkt/c3", "abc", bad, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidRequest");
    ms3t_response_free(&r);
    char sdk[] = "x-amz-sdk-checksum-algorithm: SHA256";
    const char *mismatch[] = {hdr, sdk, NULL};
    put("/bkt/c4", "abc", mismatch, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Message", buf, sizeof(buf)),
                        "Value for x-amz-sdk-checksum-algorithm header is invalid.");
    ms3t_response_free(&r);
    /* Stored checksum returned with x-amz-checksum-mode: ENABLED only. */
    req("HEAD", "/bkt/c", NULL, &r);
    assert_null(ms3t_header(&r, "x-amz-checksum-crc32", buf, sizeof(buf)));
    ms3t_response_free(&r);
    const char *mode[] = {"x-amz-checksum-mode: ENABLED", NULL};
    req("GET", "/bkt/c", mode, &r);
    assert_string_equal(ms3t_header(&r, "x-amz-checksum-crc32", buf, sizeof(buf)), d.base64);
    ms3t_response_free(&r);
}

static void test_conditional_put(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    const char *inm[] = {"If-None-Match: *", NULL};
    put("/bkt/cond", "one", inm, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    put("/bkt/cond", "two", inm, &r);
    assert_int_equal(r.status, 412);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "PreconditionFailed");
    ms3t_response_free(&r);
    char *data;
    size_t len;
    assert_int_equal(ms3_server_read_object(srv, T_BUCKET, "cond", 100, &data, &len, NULL), 0);
    assert_string_equal(data, "one");
    free(data);
    const char *im[] = {"If-Match: \"bogus\"", NULL};
    put("/bkt/cond", "three", im, &r);
    assert_int_equal(r.status, 412);
    ms3t_response_free(&r);
}

static void test_conditional_get(void **state)
{
    (void)state;
    ms3t_response r;
    char etag[128], hdr[200];
    put("/bkt/g", "data", NULL, &r);
    ms3t_header(&r, "ETag", etag, sizeof(etag));
    ms3t_response_free(&r);
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag);
    const char *h1[] = {hdr, NULL};
    req("GET", "/bkt/g", h1, &r);
    assert_int_equal(r.status, 304);
    ms3t_response_free(&r);
    const char *h2[] = {"If-Match: \"other\"", NULL};
    req("GET", "/bkt/g", h2, &r);
    assert_int_equal(r.status, 412);
    ms3t_response_free(&r);
    snprintf(hdr, sizeof(hdr), "If-Match: %s", etag);
    const char *h3[] = {hdr, NULL};
    req("GET", "/bkt/g", h3, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

static void test_copy(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    const char *h[] = {"Content-Type: text/x-src", "x-amz-meta-a: 1", NULL};
    put("/bkt/src:1", "copy me", h, &r);
    ms3t_response_free(&r);

    /* COPY directive keeps metadata; the source may be URL-encoded or not. */
    const char *sources[] = {"x-amz-copy-source: /bkt/src:1", "x-amz-copy-source: bkt/src%3A1",
                             "x-amz-copy-source: /bkt/src%3A1?versionId=null"};
    for (int i = 0; i < 3; i++) {
        const char *ch[] = {sources[i], NULL};
        req("PUT", "/bkt/dst", ch, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(ms3t_xml(&r, "ETag", buf, sizeof(buf)));
        assert_string_equal(buf, "&quot;56fe0b1409a5662d70cfedc4555d4771&quot;");
        assert_non_null(ms3t_xml(&r, "LastModified", buf, sizeof(buf)));
        assert_int_equal(strlen(buf), 24);
        ms3t_response_free(&r);
        req("GET", "/bkt/dst", NULL, &r);
        assert_string_equal(bk_buf_str(&r.body), "copy me");
        assert_string_equal(ms3t_header(&r, "x-amz-meta-a", buf, sizeof(buf)), "1");
        assert_string_equal(ms3t_header(&r, "Content-Type", buf, sizeof(buf)), "text/x-src");
        ms3t_response_free(&r);
    }
    /* REPLACE takes the request's metadata. */
    const char *rh[] = {"x-amz-copy-source: /bkt/src:1", "x-amz-metadata-directive: REPLACE",
                        "x-amz-meta-b: 2", NULL};
    req("PUT", "/bkt/dst2", rh, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    req("HEAD", "/bkt/dst2", NULL, &r);
    assert_null(ms3t_header(&r, "x-amz-meta-a", buf, sizeof(buf)));
    assert_string_equal(ms3t_header(&r, "x-amz-meta-b", buf, sizeof(buf)), "2");
    assert_string_equal(ms3t_header(&r, "Content-Type", buf, sizeof(buf)), "binary/octet-stream");
    ms3t_response_free(&r);

    /* Errors. */
    const char *missing[] = {"x-amz-copy-source: /bkt/none", NULL};
    req("PUT", "/bkt/dst3", missing, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "NoSuchKey");
    ms3t_response_free(&r);
    const char *nob[] = {"x-amz-copy-source: /nobucket/x", NULL};
    req("PUT", "/bkt/dst3", nob, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "NoSuchBucket");
    ms3t_response_free(&r);
    const char *bad[] = {"x-amz-copy-source: nokey", NULL};
    req("PUT", "/bkt/dst3", bad, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidArgument");
    ms3t_response_free(&r);
    const char *dir[] = {"x-amz-copy-source: /bkt/src:1", "x-amz-metadata-directive: MERGE", NULL};
    req("PUT", "/bkt/dst3", dir, &r);
    assert_int_equal(r.status, 400);
    ms3t_response_free(&r);
}

static void test_copy_onto_itself(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[512];
    const char *h[] = {"x-amz-meta-old: yes", NULL};
    put("/bkt/blobs/sha256:ab", "blob", h, &r);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_age_objects(srv, T_BUCKET, "blobs/", 3600), 1);
    ms3_object_info before;
    ms3_server_stat_object(srv, T_BUCKET, "blobs/sha256:ab", &before, NULL);
    free(before.metadata_json);

    const char *same[] = {"x-amz-copy-source: /bkt/blobs/sha256:ab", NULL};
    req("PUT", "/bkt/blobs/sha256:ab", same, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidRequest");
    assert_non_null(strstr(bk_buf_str(&r.body), "copy an object to itself"));
    ms3t_response_free(&r);

    /* The AWS CLI percent-encodes the ':'; BuildKit's touch: REPLACE + updated-at. */
    const char *touch[] = {"x-amz-copy-source: bkt/blobs/sha256%3Aab",
                           "x-amz-metadata-directive: REPLACE",
                           "x-amz-meta-updated-at: 2026-01-01T00:00:00Z", NULL};
    req("PUT", "/bkt/blobs/sha256:ab", touch, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3_object_info after;
    ms3_server_stat_object(srv, T_BUCKET, "blobs/sha256:ab", &after, NULL);
    assert_true(after.last_modified >= before.last_modified + 3500);
    assert_string_equal(after.etag, before.etag);
    assert_string_equal(after.metadata_json, "{\"updated-at\":\"2026-01-01T00:00:00Z\"}");
    free(after.metadata_json);
    req("GET", "/bkt/blobs/sha256:ab", NULL, &r);
    assert_string_equal(bk_buf_str(&r.body), "blob");
    ms3t_response_free(&r);
}

static void test_delete(void **state)
{
    (void)state;
    ms3t_response r;
    put("/bkt/d1", "x", NULL, &r);
    ms3t_response_free(&r);
    req("DELETE", "/bkt/d1", NULL, &r);
    assert_int_equal(r.status, 204);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 0);
    /* Deleting a missing key succeeds, as on S3. */
    req("DELETE", "/bkt/d1", NULL, &r);
    assert_int_equal(r.status, 204);
    ms3t_response_free(&r);
}

static void md5_header(const char *body, char *out, size_t n)
{
    unsigned char md[16];
    unsigned int len = 16;
    EVP_Digest(body, strlen(body), md, &len, EVP_md5(), NULL);
    char b64[32];
    bk_checksum_base64_encode(md, 16, b64, sizeof(b64));
    snprintf(out, n, "Content-MD5: %s", b64);
}

static void test_delete_objects(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    for (int i = 0; i < 3; i++) {
        char t[32];
        snprintf(t, sizeof(t), "/bkt/k%d", i);
        put(t, "x", NULL, &r);
        ms3t_response_free(&r);
    }
    const char *xml = "<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/"
                      "2006-03-01/\"><Object><Key>k0</Key></Object><Object><Key>k2</Key>"
                      "</Object><Object><Key>absent</Key></Object></Delete>";
    char md5[64];
    md5_header(xml, md5, sizeof(md5));
    const char *h[] = {md5, NULL};
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/bkt?delete";
    rq.body = xml;
    rq.body_len = strlen(xml);
    rq.sign = 1;
    rq.headers = h;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(ms3t_count(bk_buf_str(&r.body), "<Deleted>"), 3);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 1);

    /* Without Content-MD5 S3 refuses DeleteObjects. */
    rq.headers = NULL;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidRequest");
    ms3t_response_free(&r);
    /* Malformed XML. */
    const char *junk = "<Delete><Object>";
    md5_header(junk, md5, sizeof(md5));
    rq.headers = h;
    rq.body = junk;
    rq.body_len = strlen(junk);
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "MalformedXML");
    ms3t_response_free(&r);
    /* Quiet mode reports nothing for successes. */
    const char *quiet = "<Delete><Quiet>true</Quiet><Object><Key>k1</Key></Object></Delete>";
    md5_header(quiet, md5, sizeof(md5));
    rq.body = quiet;
    rq.body_len = strlen(quiet);
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(ms3t_count(bk_buf_str(&r.body), "<Deleted>"), 0);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 0);
}

static void test_buckets(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    req("PUT", "/newbucket", NULL, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    req("HEAD", "/newbucket", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_header(&r, "x-amz-bucket-region", buf, sizeof(buf)), "us-east-1");
    ms3t_response_free(&r);
    req("GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "<Name>bkt</Name>"));
    assert_non_null(strstr(bk_buf_str(&r.body), "<Name>newbucket</Name>"));
    ms3t_response_free(&r);
    req("GET", "/newbucket?location", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "LocationConstraint"));
    ms3t_response_free(&r);
    put("/newbucket/x", "x", NULL, &r);
    ms3t_response_free(&r);
    req("DELETE", "/newbucket", NULL, &r);
    assert_int_equal(r.status, 409);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "BucketNotEmpty");
    ms3t_response_free(&r);
    req("DELETE", "/newbucket/x", NULL, &r);
    ms3t_response_free(&r);
    req("DELETE", "/newbucket", NULL, &r);
    assert_int_equal(r.status, 204);
    ms3t_response_free(&r);
    req("HEAD", "/newbucket", NULL, &r);
    assert_int_equal(r.status, 404);
    ms3t_response_free(&r);
}

static void test_virtual_host(void **state)
{
    (void)state;
    ms3t_response r;
    char host[64];
    snprintf(host, sizeof(host), "bkt.localhost:%u", (unsigned)ms3_server_port(srv));
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/vh/key with space";
    rq.target = "/vh/key%20with%20space";
    rq.body = "virtual";
    rq.body_len = 7;
    rq.sign = 1;
    rq.host = host;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    char *data;
    size_t len;
    assert_int_equal(
        ms3_server_read_object(srv, T_BUCKET, "vh/key with space", 100, &data, &len, NULL), 0);
    assert_string_equal(data, "virtual");
    free(data);
    rq.method = "GET";
    rq.body = NULL;
    rq.body_len = 0;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bk_buf_str(&r.body), "virtual");
    ms3t_response_free(&r);
    /* Listing through the virtual host. */
    rq.target = "/?list-type=2";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "<Key>vh/key with space</Key>"));
    ms3t_response_free(&r);
}

static void test_keys(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    /* Keys S3 allows: ':' raw or encoded, '+', '=', '%', unicode, "../". */
    struct {
        const char *target;
        const char *key;
    } cases[] = {
        {"/bkt/blobs/sha256:0f", "blobs/sha256:0f"},
        {"/bkt/blobs/sha256%3A1f", "blobs/sha256:1f"},
        {"/bkt/a+b=c", "a+b=c"},
        {"/bkt/pct%2541", "pct%41"},
        {"/bkt/%E2%9C%93/x", "\xe2\x9c\x93/x"},
        {"/bkt/../../etc/passwd", "../../etc/passwd"},
        {"/bkt/sp%20ace", "sp ace"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put(cases[i].target, cases[i].key, NULL, &r);
        assert_int_equal(r.status, 200);
        ms3t_response_free(&r);
        char *data;
        size_t len;
        assert_int_equal(
            ms3_server_read_object(srv, T_BUCKET, cases[i].key, 100, &data, &len, NULL), 0);
        assert_string_equal(data, cases[i].key);
        free(data);
    }
    /* 1024 bytes is the limit. */
    char target[1200];
    memcpy(target, "/bkt/", 5);
    memset(target + 5, 'k', 1024);
    target[5 + 1024] = '\0';
    put(target, "x", NULL, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    target[5 + 1024] = 'k';
    target[5 + 1025] = '\0';
    put(target, "x", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "KeyTooLongError");
    ms3t_response_free(&r);
    /* Not UTF-8, or a NUL: not a key. */
    put("/bkt/bad%FF", "x", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidURI");
    ms3t_response_free(&r);
    put("/bkt/nul%00x", "x", NULL, &r);
    assert_int_equal(r.status, 400);
    ms3t_response_free(&r);
}

static void test_missing_content_length(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/nolen";
    rq.sign = 1;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 411);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "MissingContentLength");
    ms3t_response_free(&r);
    /* An empty body with Content-Length: 0 is a valid empty object. */
    rq.has_body = 1;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_header(&r, "ETag", buf, sizeof(buf)),
                        "\"d41d8cd98f00b204e9800998ecf8427e\"");
    ms3t_response_free(&r);
}

static void test_response_overrides(void **state)
{
    (void)state;
    ms3t_response r;
    char buf[256];
    put("/bkt/o", "x", NULL, &r);
    ms3t_response_free(&r);
    req("GET", "/bkt/o?response-content-type=text%2Fcsv&response-cache-control=max-age%3D5", NULL,
        &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_header(&r, "Content-Type", buf, sizeof(buf)), "text/csv");
    assert_string_equal(ms3t_header(&r, "Cache-Control", buf, sizeof(buf)), "max-age=5");
    ms3t_response_free(&r);
}

/* More response headers than the header array starts with (16), one of them
 * replaced by an override: every header arrives once, with its value. */
static void test_many_response_headers(void **state)
{
    (void)state;
    enum { N_META = 24 };
    char lines[N_META][48];
    const char *h[N_META + 2];
    for (int i = 0; i < N_META; i++) {
        snprintf(lines[i], sizeof lines[i], "x-amz-meta-m%02d: value-%d", i, i * 7);
        h[i] = lines[i];
    }
    h[N_META] = "Content-Type: text/plain";
    h[N_META + 1] = NULL;
    ms3t_response r;
    put("/bkt/many", "x", h, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    const char *methods[] = {"HEAD", "GET"};
    for (int m = 0; m < 2; m++) {
        req(methods[m], "/bkt/many?response-content-type=text%2Fcsv", NULL, &r);
        assert_int_equal(r.status, 200);
        char buf[256], name[32], want[32];
        for (int i = 0; i < N_META; i++) {
            snprintf(name, sizeof name, "x-amz-meta-m%02d", i);
            snprintf(want, sizeof want, "value-%d", i * 7);
            assert_non_null(ms3t_header(&r, name, buf, sizeof(buf)));
            assert_string_equal(buf, want);
        }
        assert_string_equal(ms3t_header(&r, "Content-Type", buf, sizeof(buf)), "text/csv");
        assert_int_equal(ms3t_count(bk_buf_str(&r.headers), "text/plain"), 0);
        assert_string_equal(ms3t_header(&r, "Content-Length", buf, sizeof(buf)), "1");
        assert_non_null(ms3t_header(&r, "ETag", buf, sizeof(buf)));
        ms3t_response_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_put_get_head, reset),
        cmocka_unit_test_setup(test_many_response_headers, reset),
        cmocka_unit_test_setup(test_missing_key_and_bucket, reset),
        cmocka_unit_test_setup(test_ranges, reset),
        cmocka_unit_test_setup(test_content_md5, reset),
        cmocka_unit_test_setup(test_checksum_headers, reset),
        cmocka_unit_test_setup(test_conditional_put, reset),
        cmocka_unit_test_setup(test_conditional_get, reset),
        cmocka_unit_test_setup(test_copy, reset),
        cmocka_unit_test_setup(test_copy_onto_itself, reset),
        cmocka_unit_test_setup(test_delete, reset),
        cmocka_unit_test_setup(test_delete_objects, reset),
        cmocka_unit_test_setup(test_buckets, reset),
        cmocka_unit_test_setup(test_virtual_host, reset),
        cmocka_unit_test_setup(test_keys, reset),
        cmocka_unit_test_setup(test_missing_content_length, reset),
        cmocka_unit_test_setup(test_response_overrides, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
