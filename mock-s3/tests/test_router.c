/* BK_TEST_UNIT: routing of request lines to bucket, key and S3 operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "router.h"
#include "uri.h"

static void route(ms3_route *r, const char *method, const char *target, const char *host, int copy)
{
    assert_int_equal(ms3__route_parse(r, method, target, host, "localhost", copy), 0);
}

static void test_operations(void **state)
{
    (void)state;
    struct {
        const char *method, *target;
        int copy;
        ms3_op op;
    } cases[] = {
        {"GET", "/", 0, MS3_OP_LIST_BUCKETS},
        {"PUT", "/bkt", 0, MS3_OP_CREATE_BUCKET},
        {"DELETE", "/bkt/", 0, MS3_OP_DELETE_BUCKET},
        {"HEAD", "/bkt", 0, MS3_OP_HEAD_BUCKET},
        {"GET", "/bkt?location", 0, MS3_OP_GET_BUCKET_LOCATION},
        {"GET", "/bkt?list-type=2&prefix=a", 0, MS3_OP_LIST_OBJECTS_V2},
        {"GET", "/bkt?prefix=a", 0, MS3_OP_LIST_OBJECTS},
        {"GET", "/bkt?uploads", 0, MS3_OP_LIST_MULTIPART_UPLOADS},
        {"POST", "/bkt?delete", 0, MS3_OP_DELETE_OBJECTS},
        {"HEAD", "/bkt/k", 0, MS3_OP_HEAD_OBJECT},
        {"GET", "/bkt/k", 0, MS3_OP_GET_OBJECT},
        {"PUT", "/bkt/k", 0, MS3_OP_PUT_OBJECT},
        {"PUT", "/bkt/k", 1, MS3_OP_COPY_OBJECT},
        {"DELETE", "/bkt/k", 0, MS3_OP_DELETE_OBJECT},
        {"POST", "/bkt/k?uploads", 0, MS3_OP_CREATE_MULTIPART_UPLOAD},
        {"PUT", "/bkt/k?partNumber=1&uploadId=u", 0, MS3_OP_UPLOAD_PART},
        {"PUT", "/bkt/k?partNumber=1&uploadId=u", 1, MS3_OP_UPLOAD_PART_COPY},
        {"POST", "/bkt/k?uploadId=u", 0, MS3_OP_COMPLETE_MULTIPART_UPLOAD},
        {"DELETE", "/bkt/k?uploadId=u", 0, MS3_OP_ABORT_MULTIPART_UPLOAD},
        {"GET", "/bkt/k?uploadId=u", 0, MS3_OP_LIST_PARTS},
        {"GET", "/_mock/journal?since=3", 0, MS3_OP_ADMIN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms3_route r;
        route(&r, cases[i].method, cases[i].target, "127.0.0.1:9", cases[i].copy);
        assert_null(r.error_code);
        assert_int_equal(r.op, cases[i].op);
        ms3__route_clear(&r);
    }
    assert_string_equal(ms3__op_name(MS3_OP_UPLOAD_PART_COPY), "UploadPartCopy");
    assert_true(ms3__op_is_write(MS3_OP_COPY_OBJECT));
    assert_false(ms3__op_is_write(MS3_OP_HEAD_OBJECT));
}

static void test_keys_and_hosts(void **state)
{
    (void)state;
    ms3_route r;
    route(&r, "GET", "/bkt/blobs/sha256%3Aab/x%20y+z?versionId=1&a=b%2Bc+d", "127.0.0.1", 0);
    assert_string_equal(r.bucket, "bkt");
    assert_string_equal(r.key, "blobs/sha256:ab/x y+z"); /* '+' is literal in paths */
    assert_string_equal(r.raw_path, "/bkt/blobs/sha256%3Aab/x%20y+z");
    assert_string_equal(r.raw_query, "versionId=1&a=b%2Bc+d");
    assert_string_equal(ms3__route_param(&r, "a"), "b+c d"); /* ... and space in queries */
    assert_null(ms3__route_param(&r, "missing"));
    assert_false(r.virtual_host);
    ms3__route_clear(&r);

    route(&r, "GET", "/dir/key", "my-bucket.localhost:8080", 0);
    assert_true(r.virtual_host);
    assert_string_equal(r.bucket, "my-bucket");
    assert_string_equal(r.key, "dir/key");
    ms3__route_clear(&r);
    route(&r, "GET", "/?list-type=2", "My-Bucket.LOCALHOST", 0);
    assert_string_equal(r.bucket, "my-bucket");
    assert_null(r.key);
    assert_int_equal(r.op, MS3_OP_LIST_OBJECTS_V2);
    ms3__route_clear(&r);
    /* Not the suffix: path style. */
    route(&r, "GET", "/bkt/k", "localhost:8080", 0);
    assert_false(r.virtual_host);
    assert_string_equal(r.bucket, "bkt");
    ms3__route_clear(&r);
    /* Dot segments are part of the key, never resolved. */
    route(&r, "GET", "/bkt/../x/./y", NULL, 0);
    assert_string_equal(r.key, "../x/./y");
    ms3__route_clear(&r);
}

static void test_errors(void **state)
{
    (void)state;
    struct {
        const char *method, *target, *code;
    } cases[] = {
        {"GET", "/bkt/%zz", "InvalidURI"},           {"GET", "/bkt/%C3%28", "InvalidURI"},
        {"GET", "/bkt/a%00b", "InvalidURI"},         {"GET", "/UPPER/k", "InvalidBucketName"},
        {"GET", "/ab/k", "InvalidBucketName"},       {"POST", "/", "MethodNotAllowed"},
        {"PATCH", "/bkt/k", "MethodNotAllowed"},     {"GET", "/bkt?acl", "NotImplemented"},
        {"GET", "/bkt/k?tagging", "NotImplemented"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms3_route r;
        route(&r, cases[i].method, cases[i].target, NULL, 0);
        assert_non_null(r.error_code);
        assert_string_equal(r.error_code, cases[i].code);
        ms3__route_clear(&r);
    }
    char target[1200] = "/bkt/";
    memset(target + 5, 'x', 1025);
    target[5 + 1025] = '\0';
    ms3_route r;
    route(&r, "PUT", target, NULL, 0);
    assert_string_equal(r.error_code, "KeyTooLongError");
    ms3__route_clear(&r);
    target[5 + 1024] = '\0';
    route(&r, "PUT", target, NULL, 0);
    assert_null(r.error_code);
    ms3__route_clear(&r);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(ms3__utf8_valid("plain", 5));
    assert_true(ms3__utf8_valid("\xe2\x9c\x93", 3));
    assert_true(ms3__utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(ms3__utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(ms3__utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(ms3__utf8_valid("\xe2\x9c", 2));         /* truncated */
    assert_false(ms3__utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    char *d = ms3__url_decode("a%2", 3, 0);
    assert_null(d);
    d = ms3__url_decode("a%2Fb+c", 7, 1);
    assert_string_equal(d, "a/b c");
    free(d);
}

/* Every operation has its row: a unique S3 name and a handler, the facts the
 * request driver reads (ops.c). */
static void test_op_table(void **state)
{
    (void)state;
    for (int op = MS3_OP_UNKNOWN + 1; op < MS3_OP_COUNT; op++) {
        const ms3_op_info *info = ms3__op_info_of((ms3_op)op);
        assert_int_equal(info->op, op);
        assert_true(info->name[0] != '\0');
        assert_non_null(info->handler);
        for (int other = op + 1; other < MS3_OP_COUNT; other++)
            assert_string_not_equal(info->name, ms3__op_name((ms3_op)other));
    }
    assert_string_equal(ms3__op_name(MS3_OP_COUNT), "");
    assert_true(ms3__op_has_payload(MS3_OP_UPLOAD_PART));
    assert_false(ms3__op_has_payload(MS3_OP_UPLOAD_PART_COPY));
    assert_true(ms3__op_info_of(MS3_OP_ADMIN)->flags & MS3_OPF_ADMIN);
    assert_true(ms3__op_info_of(MS3_OP_LIST_OBJECTS_V2)->flags & MS3_OPF_LISTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations), cmocka_unit_test(test_keys_and_hosts),
        cmocka_unit_test(test_errors),     cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_op_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
