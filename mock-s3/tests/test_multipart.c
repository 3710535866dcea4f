/* BK_TEST_UNIT
 * Multipart uploads: create, parts, copy parts, complete (ETag, order, sizes,
 * checksum consistency), abort, list parts and uploads; completed objects read
 * whole and by ranges across their parts, as copy sources, with a data dir
 * and after a restart; with a data dir a completed upload keeps its part
 * files, which go when it is overwritten or deleted. In process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bkcache/checksum.h"
#include "ms3_test.h"

static ms3_server *srv;

static int setup(void **state)
{
    (void)state;
    srv = ms3t_new_inproc(NULL); /* min part size 1 KiB */
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

static void send(const char *method, const char *target, const void *body, size_t len,
                 const char *const *headers, ms3t_response *out)
{
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = target;
    rq.body = body;
    rq.body_len = len;
    rq.has_body = body != NULL;
    rq.sign = 1;
    rq.headers = headers;
    ms3t_send(srv, &rq, out);
}

static void create(const char *key, const char *const *headers, char *id, size_t n)
{
    char target[256];
    snprintf(target, sizeof(target), "/bkt/%s?uploads", key);
    ms3t_response r;
    send("POST", target, NULL, 0, headers, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(ms3t_xml(&r, "UploadId", id, n));
    ms3t_response_free(&r);
}

static void upload_part(const char *key, const char *id, int number, const void *data, size_t len,
                        const char *const *headers, char *etag, size_t n, long expect)
{
    char target[256];
    snprintf(target, sizeof(target), "/bkt/%s?partNumber=%d&uploadId=%s", key, number, id);
    ms3t_response r;
    send("PUT", target, data, len, headers, &r);
    assert_int_equal(r.status, expect);
    if (etag != NULL)
        assert_non_null(ms3t_header(&r, "ETag", etag, n));
    ms3t_response_free(&r);
}

static void complete(const char *key, const char *id, const char *xml, ms3t_response *out)
{
    char target[256];
    snprintf(target, sizeof(target), "/bkt/%s?uploadId=%s", key, id);
    send("POST", target, xml, strlen(xml), NULL, out);
}

static void md5_of(const void *data, size_t len, unsigned char out[16])
{
    unsigned int n = 16;
    EVP_Digest(data, len, out, &n, EVP_md5(), NULL);
}

static void test_full_cycle(void **state)
{
    (void)state;
    char id[128], e1[80], e2[80], e3[80];
    const char *h[] = {"Content-Type: application/x-tar", "x-amz-meta-kind: layer", NULL};
    create("big/obj", h, id, sizeof(id));
    assert_int_equal(ms3_server_upload_count(srv), 1);
    const size_t P = 2048;
    unsigned char *data = malloc(3 * P);
    ms3t_fill(data, 3 * P, 7);
    upload_part("big/obj", id, 2, data + P, P, NULL, e2, sizeof(e2), 200);
    upload_part("big/obj", id, 1, data, P, NULL, e1, sizeof(e1), 200);
    upload_part("big/obj", id, 3, data + 2 * P, 100, NULL, e3, sizeof(e3), 200);

    /* ListParts shows them in order. */
    char target[256];
    snprintf(target, sizeof(target), "/bkt/big/obj?uploadId=%s", id);
    ms3t_response r;
    send("GET", target, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    const char *body = bk_buf_str(&r.body);
    assert_int_equal(ms3t_count(body, "<Part>"), 3);
    assert_true(strstr(body, "<PartNumber>1</PartNumber>") <
                strstr(body, "<PartNumber>2</PartNumber>"));
    ms3t_response_free(&r);
    send("GET", "/bkt?uploads", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), id));
    ms3t_response_free(&r);

    char xml[1024];
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>3"
             "</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e1, e2, e3);
    complete("big/obj", id, xml, &r);
    assert_int_equal(r.status, 200);
    char etag[128];
    assert_non_null(ms3t_xml(&r, "ETag", etag, sizeof(etag)));
    ms3t_response_free(&r);

    /* ETag = md5 of the binary part md5s, "-3". */
    unsigned char md5s[48], final[16];
    md5_of(data, P, md5s);
    md5_of(data + P, P, md5s + 16);
    md5_of(data + 2 * P, 100, md5s + 32);
    md5_of(md5s, 48, final);
    char want[80] = "&quot;";
    for (int i = 0; i < 16; i++)
        sprintf(want + strlen(want), "%02x", final[i]);
    size_t at = strlen(want);
    snprintf(want + at, sizeof(want) - at, "-3&quot;");
    assert_string_equal(etag, want);

    char *got;
    size_t len;
    assert_int_equal(ms3_server_read_object(srv, T_BUCKET, "big/obj", 1 << 20, &got, &len, NULL),
                     0);
    assert_int_equal(len, 2 * P + 100);
    assert_memory_equal(got, data, len);
    free(got);
    send("HEAD", "/bkt/big/obj", NULL, 0, NULL, &r);
    char buf[128];
    assert_string_equal(ms3t_header(&r, "x-amz-meta-kind", buf, sizeof(buf)), "layer");
    assert_string_equal(ms3t_header(&r, "Content-Type", buf, sizeof(buf)), "application/x-tar");
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_upload_count(srv), 0);
    /* The upload is gone after completion. */
    complete("big/obj", id, xml, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "NoSuchUpload");
    ms3t_response_free(&r);
    free(data);
}

static void test_complete_errors(void **state)
{
    (void)state;
    char id[128], e1[80], e2[80], buf[256], xml[1024];
    ms3t_response r;
    create("k", NULL, id, sizeof(id));
    unsigned char small[100], big[2000];
    ms3t_fill(small, sizeof(small), 1);
    ms3t_fill(big, sizeof(big), 2);
    upload_part("k", id, 1, small, sizeof(small), NULL, e1, sizeof(e1), 200);
    upload_part("k", id, 2, big, sizeof(big), NULL, e2, sizeof(e2), 200);

    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e1, e2);
    complete("k", id, xml, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "EntityTooSmall");
    ms3t_response_free(&r);

    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e2, e1);
    complete("k", id, xml, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidPartOrder");
    ms3t_response_free(&r);

    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\"0000\"</ETag>"
             "</Part></CompleteMultipartUpload>");
    complete("k", id, xml, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidPart");
    ms3t_response_free(&r);

    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>7</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    complete("k", id, xml, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidPart");
    ms3t_response_free(&r);

    complete("k", id, "<CompleteMultipartUpload><Part>", &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "MalformedXML");
    ms3t_response_free(&r);

    /* Failed completions keep the upload; a single small last part is fine. ETags
     * may come unquoted. */
    char unq[80];
    snprintf(unq, sizeof(unq), "%.*s", (int)strlen(e2) - 2, e2 + 1);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             unq);
    complete("k", id, xml, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "-1&quot;"));
    ms3t_response_free(&r);

    /* Part number and upload id checks. */
    create("k2", NULL, id, sizeof(id));
    upload_part("k2", id, 0, small, 10, NULL, NULL, 0, 400);
    upload_part("k2", id, 10001, small, 10, NULL, NULL, 0, 400);
    upload_part("k2", "nosuchid", 1, small, 10, NULL, NULL, 0, 404);
    upload_part("other", id, 1, small, 10, NULL, NULL, 0, 404);
}

static void test_abort(void **state)
{
    (void)state;
    char id[128], target[256], buf[128];
    ms3t_response r;
    create("ab", NULL, id, sizeof(id));
    upload_part("ab", id, 1, "xyz", 3, NULL, NULL, 0, 200);
    snprintf(target, sizeof(target), "/bkt/ab?uploadId=%s", id);
    send("DELETE", target, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 204);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_upload_count(srv), 0);
    send("DELETE", target, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "NoSuchUpload");
    ms3t_response_free(&r);
    send("GET", target, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 404);
    ms3t_response_free(&r);
}

static void test_upload_part_copy(void **state)
{
    (void)state;
    char id[128], e1[200], e2[200], target[256], buf[256], xml[1024];
    ms3t_response r;
    unsigned char src[5000];
    ms3t_fill(src, sizeof(src), 3);
    bk_err err;
    assert_int_equal(
        ms3_server_put_object(srv, T_BUCKET, "blobs/sha256:src", src, sizeof(src), NULL, &err), 0);
    create("blobs/sha256:src", NULL, id, sizeof(id));
    /* BuildKit-style touch: copy ranges of the object onto a new upload of itself. */
    snprintf(target, sizeof(target), "/bkt/blobs/sha256:src?partNumber=1&uploadId=%s", id);
    const char *h1[] = {"x-amz-copy-source: bkt/blobs/sha256%3Asrc",
                        "x-amz-copy-source-range: bytes=0-2999", NULL};
    send("PUT", target, NULL, 0, h1, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(ms3t_xml(&r, "ETag", e1, sizeof(e1)));
    ms3t_response_free(&r);
    snprintf(target, sizeof(target), "/bkt/blobs/sha256:src?partNumber=2&uploadId=%s", id);
    const char *h2[] = {"x-amz-copy-source: /bkt/blobs/sha256:src",
                        "x-amz-copy-source-range: bytes=3000-4999", NULL};
    send("PUT", target, NULL, 0, h2, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(ms3t_xml(&r, "ETag", e2, sizeof(e2)));
    ms3t_response_free(&r);
    /* Ranges outside the source. */
    const char *h3[] = {"x-amz-copy-source: /bkt/blobs/sha256:src",
                        "x-amz-copy-source-range: bytes=4000-5000", NULL};
    send("PUT", target, NULL, 0, h3, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidArgument");
    ms3t_response_free(&r);
    const char *h4[] = {"x-amz-copy-source: /bkt/blobs/sha256:src",
                        "x-amz-copy-source-range: bytes=10-", NULL};
    send("PUT", target, NULL, 0, h4, &r);
    assert_int_equal(r.status, 400);
    ms3t_response_free(&r);

    /* ETags in the XML response are &quot;-escaped; unescape for the Complete body. */
    char q1[100], q2[100];
    snprintf(q1, sizeof(q1), "\"%.32s\"", e1 + 6);
    snprintf(q2, sizeof(q2), "\"%.32s\"", e2 + 6);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             q1, q2);
    complete("blobs/sha256:src", id, xml, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    char *got;
    size_t len;
    assert_int_equal(
        ms3_server_read_object(srv, T_BUCKET, "blobs/sha256:src", 10000, &got, &len, NULL), 0);
    assert_int_equal(len, sizeof(src));
    assert_memory_equal(got, src, len);
    free(got);
}

static void test_large_copy_sources(void **state)
{
    (void)state;
    /* Zero objects stand in for >= 5 GiB blobs without using memory. */
    const uint64_t GiB = 1024ULL * 1024 * 1024;
    bk_err err;
    assert_int_equal(ms3_server_put_zero_object(srv, T_BUCKET, "huge", 5 * GiB + 1, &err), 0);
    ms3t_response r;
    char buf[256];
    const char *h[] = {"x-amz-copy-source: /bkt/huge", "x-amz-metadata-directive: REPLACE", NULL};
    send("PUT", "/bkt/huge", NULL, 0, h, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(bk_buf_str(&r.body), "5368709120"));
    ms3t_response_free(&r);
    send("HEAD", "/bkt/huge", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_header(&r, "Content-Length", buf, sizeof(buf)), "5368709121");
    ms3t_response_free(&r);

    char id[128], target[256], e1[200], e2[200], xml[1024];
    create("huge", NULL, id, sizeof(id));
    snprintf(target, sizeof(target), "/bkt/huge?partNumber=1&uploadId=%s", id);
    const char *p1[] = {"x-amz-copy-source: bkt/huge",
                        "x-amz-copy-source-range: bytes=0-5368709119", NULL};
    send("PUT", target, NULL, 0, p1, &r);
    assert_int_equal(r.status, 200);
    ms3t_xml(&r, "ETag", e1, sizeof(e1));
    ms3t_response_free(&r);
    snprintf(target, sizeof(target), "/bkt/huge?partNumber=2&uploadId=%s", id);
    /* One byte past the end (the k*5GiB-1 edge of BuildKit's range code) is refused. */
    const char *bad[] = {"x-amz-copy-source: bkt/huge",
                         "x-amz-copy-source-range: bytes=5368709120-5368709121", NULL};
    send("PUT", target, NULL, 0, bad, &r);
    assert_int_equal(r.status, 400);
    ms3t_response_free(&r);
    const char *p2[] = {"x-amz-copy-source: bkt/huge",
                        "x-amz-copy-source-range: bytes=5368709120-5368709120", NULL};
    send("PUT", target, NULL, 0, p2, &r);
    assert_int_equal(r.status, 200);
    ms3t_xml(&r, "ETag", e2, sizeof(e2));
    ms3t_response_free(&r);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"%.32s\"</ETag>"
             "</Part><Part><PartNumber>2</PartNumber><ETag>\"%.32s\"</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1 + 6, e2 + 6);
    complete("huge", id, xml, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(srv, T_BUCKET, "huge", &info, NULL), 0);
    assert_int_equal(info.size, 5 * GiB + 1);
    free(info.metadata_json);
}

static void test_checksum_consistency(void **state)
{
    (void)state;
    char id[128], e1[80], buf[128], xml[1024], hdr[128];
    ms3t_response r;
    bk_checksum_digest d;
    bk_checksum_compute(BK_CHECKSUM_CRC32, "part-one", 8, &d, NULL);
    snprintf(hdr, sizeof(hdr), "x-amz-checksum-crc32: %s", d.base64);
    const char *ck[] = {hdr, NULL};

    /* Created without an algorithm, part uploaded with CRC32: InvalidPart (BuildKit v0.26). */
    create("c1", NULL, id, sizeof(id));
    upload_part("c1", id, 1, "part-one", 8, ck, e1, sizeof(e1), 200);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    complete("c1", id, xml, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidPart");
    ms3t_response_free(&r);

    /* Created with CRC32, part without: refused at once, as S3 does. */
    const char *alg[] = {"x-amz-checksum-algorithm: CRC32", NULL};
    create("c2", alg, id, sizeof(id));
    char target[256];
    snprintf(target, sizeof(target), "/bkt/c2?partNumber=1&uploadId=%s", id);
    send("PUT", target, "part-one", 8, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InvalidRequest");
    assert_non_null(strstr(bk_buf_str(&r.body), "expected checksum Type: crc32"));
    ms3t_response_free(&r);

    /* Consistent: composite checksum in the result. */
    create("c3", alg, id, sizeof(id));
    upload_part("c3", id, 1, "part-one", 8, ck, e1, sizeof(e1), 200);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
             "<ChecksumCRC32>%s</ChecksumCRC32></Part></CompleteMultipartUpload>",
             e1, d.base64);
    complete("c3", id, xml, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(ms3t_xml(&r, "ChecksumCRC32", buf, sizeof(buf)));
    assert_non_null(strstr(buf, "-1"));
    ms3t_response_free(&r);
}

static void test_complete_if_none_match(void **state)
{
    (void)state;
    char id[128], e1[80], xml[512];
    ms3t_response r;
    bk_err err;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "exists", "x", 1, NULL, &err), 0);
    create("exists", NULL, id, sizeof(id));
    upload_part("exists", id, 1, "abc", 3, NULL, e1, sizeof(e1), 200);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             e1);
    char target[256];
    snprintf(target, sizeof(target), "/bkt/exists?uploadId=%s", id);
    const char *h[] = {"If-None-Match: *", NULL};
    send("POST", target, xml, strlen(xml), h, &r);
    assert_int_equal(r.status, 412);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_upload_count(srv), 1);
}

/* ---------------------------------------------------------------- joined objects */

/* The object matches want, read whole and by ranges across the part boundaries. */
static void assert_object(const char *key, const unsigned char *want, size_t len,
                          const size_t *bounds, size_t n_bounds)
{
    char target[256], range[96];
    snprintf(target, sizeof(target), "/bkt/%s", key);
    ms3t_response r;
    send("GET", target, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, len);
    assert_memory_equal(r.body.data, want, len);
    ms3t_response_free(&r);
    for (size_t i = 0; i < n_bounds; i++) {
        size_t b = bounds[i];
        /* The byte before and after the boundary, a window around it, and from it to the end. */
        const size_t spans[][2] = {{b - 1, b}, {b - 100, b + 99}, {b, len - 1}, {0, b}};
        for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
            size_t a = spans[k][0], z = spans[k][1] < len ? spans[k][1] : len - 1;
            snprintf(range, sizeof(range), "Range: bytes=%zu-%zu", a, z);
            const char *h[] = {range, NULL};
            send("GET", target, NULL, 0, h, &r);
            assert_int_equal(r.status, 206);
            assert_int_equal(r.body.len, z - a + 1);
            assert_memory_equal(r.body.data, want + a, z - a + 1);
            ms3t_response_free(&r);
        }
    }
    const char *suffix[] = {"Range: bytes=-2500", NULL};
    send("GET", target, NULL, 0, suffix, &r);
    assert_int_equal(r.status, 206);
    assert_memory_equal(r.body.data, want + len - 2500, 2500);
    ms3t_response_free(&r);
}

static void complete_parts(const char *key, const char *id, char etags[][200], size_t n)
{
    char xml[2048] = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < n; i++) {
        size_t at = strlen(xml);
        snprintf(xml + at, sizeof(xml) - at,
                 "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1, etags[i]);
    }
    size_t end = strlen(xml);
    snprintf(xml + end, sizeof(xml) - end, "</CompleteMultipartUpload>");
    ms3t_response r;
    complete(key, id, xml, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

/* An UploadPartCopy of src's bytes [a, z]; the ETag (unescaped) into etag. */
static void copy_part(const char *key, const char *id, int number, const char *src, size_t a,
                      size_t z, char etag[200])
{
    char target[256], source[160], range[96], xml_etag[200];
    snprintf(target, sizeof(target), "/bkt/%s?partNumber=%d&uploadId=%s", key, number, id);
    snprintf(source, sizeof(source), "x-amz-copy-source: /bkt/%s", src);
    snprintf(range, sizeof(range), "x-amz-copy-source-range: bytes=%zu-%zu", a, z);
    const char *h[] = {source, range, NULL};
    ms3t_response r;
    send("PUT", target, NULL, 0, h, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(ms3t_xml(&r, "ETag", xml_etag, sizeof(xml_etag)));
    snprintf(etag, 200, "\"%.32s\"", xml_etag + 6); /* &quot;...&quot; */
    ms3t_response_free(&r);
}

enum { J1 = 3000, JZ = 2048, J3 = 1500, J4 = 777, JOINED = J1 + JZ + J3 + J4 };
static const size_t joined_bounds[] = {J1, J1 + JZ, J1 + JZ + J3};

/* "joined": parts of odd sizes, the second copied from an object of zeros;
 * "copied": two parts copied from "joined" across its boundaries; "dup": a
 * CopyObject of "joined". Returns the bytes of "joined". */
static unsigned char *make_joined_objects(void)
{
    unsigned char *want = calloc(1, JOINED);
    ms3t_fill(want, J1, 11);
    ms3t_fill(want + J1 + JZ, J3 + J4, 12);
    assert_int_equal(ms3_server_put_zero_object(srv, T_BUCKET, "zeros", 10000, NULL), 0);
    char id[128], etags[4][200];
    create("joined", NULL, id, sizeof(id));
    upload_part("joined", id, 4, want + J1 + JZ + J3, J4, NULL, etags[3], 200, 200);
    upload_part("joined", id, 1, want, J1, NULL, etags[0], 200, 200);
    copy_part("joined", id, 2, "zeros", 100, 100 + JZ - 1, etags[1]);
    upload_part("joined", id, 3, want + J1 + JZ, J3, NULL, etags[2], 200, 200);
    complete_parts("joined", id, etags, 4);

    create("copied", NULL, id, sizeof(id));
    copy_part("copied", id, 1, "joined", 2000, 5099, etags[0]);
    copy_part("copied", id, 2, "joined", 5100, JOINED - 1, etags[1]);
    complete_parts("copied", id, etags, 2);

    const char *h[] = {"x-amz-copy-source: /bkt/joined", NULL};
    ms3t_response r;
    send("PUT", "/bkt/dup", NULL, 0, h, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    return want;
}

static void assert_joined_objects(const unsigned char *want)
{
    assert_object("joined", want, JOINED, joined_bounds, 3);
    const size_t copied_bounds[] = {J1 - 2000, J1 + JZ - 2000, 5100 - 2000};
    assert_object("copied", want + 2000, JOINED - 2000, copied_bounds, 3);
    assert_object("dup", want, JOINED, joined_bounds, 3);
}

/* A completed upload is read from its parts, whole and by ranges across them,
 * and is a copy source like any object. */
static void test_complete_without_copy(void **state)
{
    (void)state;
    unsigned char *want = make_joined_objects();
    assert_joined_objects(want);
    free(want);
}

static ms3_server *memory_srv;
static char *data_dir;

/* The same with a data dir, where the part files are joined into one. */
static int use_data_dir(void **state)
{
    (void)state;
    memory_srv = srv;
    data_dir = ms3t_tempdir();
    ms3_options o;
    ms3t_default_options(&o);
    o.data_dir = data_dir;
    srv = ms3t_new_inproc(&o);
    return srv != NULL ? 0 : -1;
}

static int back_to_memory(void **state)
{
    (void)state;
    ms3_server_stop(srv);
    srv = memory_srv;
    ms3t_rmtree(data_dir);
    free(data_dir);
    return 0;
}

/* Stops the server and starts one on the same data dir. */
static void restart(void)
{
    ms3_server_stop(srv);
    ms3_options o;
    ms3t_default_options(&o);
    o.data_dir = data_dir;
    srv = ms3t_new_inproc(&o);
    assert_non_null(srv);
}

/* ... and after a restart. */
static void test_complete_without_copy_data_dir(void **state)
{
    (void)state;
    unsigned char *want = make_joined_objects();
    assert_joined_objects(want);
    restart();
    assert_joined_objects(want);
    free(want);
}

/* What the data dir holds for the bucket: object files, directories of part
 * files, and the part files in them. */
typedef struct layout {
    int objs, part_dirs, part_files;
} layout;

static layout bucket_layout(void)
{
    layout l = {0, 0, 0};
    char path[1024];
    snprintf(path, sizeof(path), "%s/buckets/%s", data_dir, T_BUCKET);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1100];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        DIR *sd = opendir(sub);
        struct dirent *f;
        while (sd != NULL && (f = readdir(sd)) != NULL) {
            size_t n = strlen(f->d_name);
            if (n > 4 && strcmp(f->d_name + n - 4, ".obj") == 0)
                l.objs++;
            if (strstr(f->d_name, ".parts-") == NULL)
                continue;
            l.part_dirs++;
            char pd[1400];
            snprintf(pd, sizeof(pd), "%s/%s", sub, f->d_name);
            DIR *pdd = opendir(pd);
            struct dirent *g;
            while (pdd != NULL && (g = readdir(pdd)) != NULL)
                l.part_files += g->d_name[0] != '.';
            if (pdd != NULL)
                closedir(pdd);
        }
        if (sd != NULL)
            closedir(sd);
    }
    closedir(d);
    return l;
}

static void assert_layout(int objs, int part_dirs, int part_files)
{
    layout l = bucket_layout();
    assert_int_equal(l.objs, objs);
    assert_int_equal(l.part_dirs, part_dirs);
    assert_int_equal(l.part_files, part_files);
}

/* With a data dir a completed upload is its part files, not a joined copy:
 * overwriting or deleting it removes them, and a restart drops a directory of
 * parts no object names (the mock stopped before writing the object's meta). */
static void test_data_dir_keeps_part_files(void **state)
{
    (void)state;
    unsigned char *want = make_joined_objects();
    /* joined: 3 files (its zero part has none); copied: 2; dup (CopyObject): one file. */
    assert_layout(1, 2, 5);

    char orphan[1200];
    snprintf(orphan, sizeof(orphan), "%s/buckets/%s/ab/%064d.parts-AbCdEf", data_dir, T_BUCKET, 0);
    char fan_out[1200];
    snprintf(fan_out, sizeof(fan_out), "%s/buckets/%s/ab", data_dir, T_BUCKET);
    mkdir(fan_out, 0755);
    assert_int_equal(mkdir(orphan, 0755), 0);
    char orphan_part[1300];
    snprintf(orphan_part, sizeof(orphan_part), "%s/00001", orphan);
    FILE *f = fopen(orphan_part, "w");
    assert_non_null(f);
    fputs("left by a mock that stopped", f);
    fclose(f);
    assert_layout(1, 3, 6);
    /* A user's metadata may use the meta JSON's names: it is still one file. */
    ms3t_response r;
    const char *named[] = {"x-amz-meta-part_files: not parts", NULL};
    send("PUT", "/bkt/named", "one file", 8, named, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    restart();
    assert_layout(2, 2, 5);
    assert_joined_objects(want);
    send("GET", "/bkt/named", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 8);
    assert_memory_equal(r.body.data, "one file", 8);
    ms3t_response_free(&r);
    send("DELETE", "/bkt/named", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 204);
    ms3t_response_free(&r);

    send("PUT", "/bkt/joined", "plain", 5, NULL, &r); /* multipart -> one file */
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_layout(2, 1, 2);

    char id[128], etags[2][200];
    create("copied", NULL, id, sizeof(id)); /* multipart -> multipart */
    upload_part("copied", id, 1, want, J1, NULL, etags[0], 200, 200);
    upload_part("copied", id, 2, want + J1, 10, NULL, etags[1], 200, 200);
    complete_parts("copied", id, etags, 2);
    assert_layout(2, 1, 2);
    const size_t bound[] = {J1 - 1};
    unsigned char *two = calloc(1, J1 + 10);
    memcpy(two, want, J1); /* want's bytes after J1 are zeros (the copied part) */
    assert_object("copied", two, J1 + 10, bound, 1);

    send("DELETE", "/bkt/copied", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 204);
    ms3t_response_free(&r);
    assert_layout(2, 0, 0);
    send("PUT", "/bkt/dup", "x", 1, NULL, &r); /* one file over one file */
    ms3t_response_free(&r);
    assert_layout(2, 0, 0);
    free(two);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_full_cycle, reset),
        cmocka_unit_test_setup(test_complete_errors, reset),
        cmocka_unit_test_setup(test_abort, reset),
        cmocka_unit_test_setup(test_upload_part_copy, reset),
        cmocka_unit_test_setup(test_large_copy_sources, reset),
        cmocka_unit_test_setup(test_checksum_consistency, reset),
        cmocka_unit_test_setup(test_complete_if_none_match, reset),
        cmocka_unit_test_setup(test_complete_without_copy, reset),
        cmocka_unit_test_setup_teardown(test_complete_without_copy_data_dir, use_data_dir,
                                        back_to_memory),
        cmocka_unit_test_setup_teardown(test_data_dir_keeps_part_files, use_data_dir,
                                        back_to_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
