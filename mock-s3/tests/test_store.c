/* The --data-dir store: objects survive a restart, keys never map outside the
 * directory, large uploads stream to disk without being held in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms3_test.h"

static ms3_server *start_in(const char *dir)
{
    ms3_options o;
    ms3t_default_options(&o);
    o.data_dir = dir;
    return ms3t_start(&o);
}

static void put(ms3_server *s, const char *target, const char *body, const char *const *headers)
{
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = target;
    rq.body = body;
    rq.body_len = strlen(body);
    rq.has_body = 1;
    rq.sign = 1;
    rq.headers = headers;
    ms3t_response r;
    ms3t_do(ms3_server_url(s), &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

static void test_survives_restart(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    ms3_server *s = start_in(dir);
    assert_non_null(s);
    const char *h[] = {"Content-Type: text/plain", "x-amz-meta-who: me", NULL};
    put(s, "/bkt/blobs/sha256:aa", "persistent", h);
    put(s, "/bkt/overwritten", "first", NULL);
    put(s, "/bkt/overwritten", "second", NULL);
    put(s, "/bkt/deleted", "gone", NULL);
    ms3t_response r;
    ms3t_simple(s, "DELETE", "/bkt/deleted", NULL, 0, &r);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_put_zero_object(s, T_BUCKET, "zero", 1ULL << 33, NULL), 0);
    ms3t_simple(s, "PUT", "/second-bucket", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* A completed multipart upload is an ordinary object afterwards. */
    ms3t_simple(s, "POST", "/bkt/mp?uploads", NULL, 0, &r);
    char id[128], target[256], etag[80], xml[512];
    ms3t_xml(&r, "UploadId", id, sizeof(id));
    ms3t_response_free(&r);
    snprintf(target, sizeof(target), "/bkt/mp?partNumber=1&uploadId=%s", id);
    ms3t_simple(s, "PUT", target, "part", 4, &r);
    ms3t_header(&r, "ETag", etag, sizeof(etag));
    ms3t_response_free(&r);
    snprintf(target, sizeof(target), "/bkt/mp?uploadId=%s", id);
    snprintf(xml, sizeof(xml),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "</CompleteMultipartUpload>",
             etag);
    ms3t_simple(s, "POST", target, xml, strlen(xml), &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3_object_info before;
    assert_int_equal(ms3_server_stat_object(s, T_BUCKET, "blobs/sha256:aa", &before, NULL), 0);
    free(before.metadata_json);
    ms3_server_stop(s);

    s = start_in(dir);
    assert_non_null(s);
    char *data;
    size_t len;
    assert_int_equal(ms3_server_read_object(s, T_BUCKET, "blobs/sha256:aa", 100, &data, &len, NULL),
                     0);
    assert_string_equal(data, "persistent");
    free(data);
    ms3_object_info after;
    assert_int_equal(ms3_server_stat_object(s, T_BUCKET, "blobs/sha256:aa", &after, NULL), 0);
    assert_string_equal(after.etag, before.etag);
    assert_int_equal(after.last_modified, before.last_modified);
    assert_string_equal(after.content_type, "text/plain");
    assert_string_equal(after.metadata_json, "{\"who\":\"me\"}");
    free(after.metadata_json);
    assert_int_equal(ms3_server_read_object(s, T_BUCKET, "overwritten", 100, &data, &len, NULL), 0);
    assert_string_equal(data, "second");
    free(data);
    assert_int_equal(ms3_server_read_object(s, T_BUCKET, "mp", 100, &data, &len, NULL), 0);
    assert_string_equal(data, "part");
    free(data);
    assert_int_not_equal(ms3_server_stat_object(s, T_BUCKET, "deleted", &after, NULL), 0);
    assert_int_equal(ms3_server_stat_object(s, T_BUCKET, "zero", &after, NULL), 0);
    assert_int_equal(after.size, 1ULL << 33);
    free(after.metadata_json);
    assert_int_equal(ms3_server_object_count(s, T_BUCKET), 4);
    ms3t_simple(s, "HEAD", "/second-bucket", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* Served over HTTP too, with a range from the file. */
    const char *rh[] = {"Range: bytes=3-6", NULL};
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt/blobs/sha256:aa";
    rq.sign = 1;
    rq.headers = rh;
    ms3t_do(ms3_server_url(s), &rq, &r);
    assert_int_equal(r.status, 206);
    assert_string_equal(bk_buf_str(&r.body), "sist");
    ms3t_response_free(&r);

    /* Reset empties the directory's objects but keeps buckets. */
    ms3_server_reset(s);
    ms3_server_stop(s);
    s = start_in(dir);
    assert_int_equal(ms3_server_object_count(s, T_BUCKET), 0);
    ms3t_simple(s, "HEAD", "/bkt", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3_server_stop(s);
    ms3t_rmtree(dir);
    free(dir);
}

/* Every regular file under path, counted; fails the test on anything but plain
 * files and directories. */
/* NOLINTNEXTLINE(misc-no-recursion): as deep as the store tree the test made */
static int count_files(const char *path)
{
    int n = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat sb;
        assert_int_equal(lstat(p, &sb), 0);
        assert_true(S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode));
        n += S_ISDIR(sb.st_mode) ? count_files(p) : 1;
    }
    closedir(d);
    return n;
}

static void test_key_mapping_is_safe(void **state)
{
    (void)state;
    char *outer = ms3t_tempdir();
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/data", outer);
    ms3_server *s = start_in(dir);
    assert_non_null(s);
    const char *targets[] = {
        "/bkt/../../../escape",
        "/bkt/..%2F..%2F..%2Fescape2",
        "/bkt/%2Fabsolute",
        "/bkt/a/./b/../c",
        "/bkt/with%20space%3A%25",
        "/bkt/%E6%97%A5%E6%9C%AC",
        "/bkt/.meta",
        "/bkt/x.obj",
        "/bkt/%0A%0D",
    };
    size_t n = sizeof(targets) / sizeof(targets[0]);
    for (size_t i = 0; i < n; i++)
        put(s, targets[i], targets[i], NULL);
    char longkey[1100] = "/bkt/";
    memset(longkey + 5, 'z', 1024);
    longkey[5 + 1024] = '\0';
    put(s, longkey, "long", NULL);
    assert_int_equal(ms3_server_object_count(s, T_BUCKET), n + 1);
    /* Nothing was written next to the data dir, and inside it there is exactly a
     * body and a metadata file per object. */
    assert_int_equal(count_files(outer), 2 * (int)(n + 1));
    char *data;
    size_t len;
    assert_int_equal(ms3_server_read_object(s, T_BUCKET, "../../../escape", 100, &data, &len, NULL),
                     0);
    assert_string_equal(data, "/bkt/../../../escape");
    free(data);
    ms3_server_stop(s);
    /* And the keys come back after a restart, byte for byte. */
    s = start_in(dir);
    assert_int_equal(ms3_server_object_count(s, T_BUCKET), n + 1);
    ms3t_response r;
    ms3t_simple(s, "GET", "/bkt?list-type=2&prefix=..", NULL, 0, &r);
    assert_non_null(strstr(bk_buf_str(&r.body), "<Key>../../../escape</Key>"));
    assert_non_null(strstr(bk_buf_str(&r.body), "<Key>../../../escape2</Key>"));
    ms3t_response_free(&r);
    ms3_server_stop(s);
    ms3t_rmtree(outer);
    free(outer);
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb;
}

static size_t gen_pattern(void *ud, char *buf, size_t n, uint64_t off)
{
    (void)ud;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)((off + i) * 31 % 251);
    return n;
}

static void test_large_upload_streams(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    ms3_server *s = start_in(dir);
    assert_non_null(s);
    const uint64_t size = 256ULL * 1024 * 1024;
    long before = vm_hwm_kb();
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/huge-layer";
    rq.sign = 1;
    rq.payload_hash = "UNSIGNED-PAYLOAD";
    rq.gen = gen_pattern;
    rq.gen_len = size;
    rq.timeout_ms = 240000;
    ms3t_response r;
    ms3t_do(ms3_server_url(s), &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    long after = vm_hwm_kb();
    /* The whole body never sat in memory: the peak grew by far less than its size. */
    assert_true(after - before < 64L * 1024);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(s, T_BUCKET, "huge-layer", &info, NULL), 0);
    assert_int_equal(info.size, size);
    free(info.metadata_json);
    /* Spot-check the stored bytes through a ranged GET. */
    const char *rh[] = {"Range: bytes=200000000-200000009", NULL};
    ms3t_request g = {0};
    g.method = "GET";
    g.target = "/bkt/huge-layer";
    g.sign = 1;
    g.headers = rh;
    ms3t_do(ms3_server_url(s), &g, &r);
    assert_int_equal(r.status, 206);
    char want[10];
    gen_pattern(NULL, want, 10, 200000000);
    assert_int_equal(r.body.len, 10);
    assert_memory_equal(r.body.data, want, 10);
    ms3t_response_free(&r);
    ms3_journal_filter f = {0};
    f.operation = "PutObject";
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(s, &f, &e), 1);
    assert_int_equal(e[0].request_body_size, size);
    assert_int_equal(strlen(e[0].body_sha256), 64);
    ms3_journal_entries_free(e, 1);
    ms3_server_stop(s);
    ms3t_rmtree(dir);
    free(dir);
}

static void test_bad_data_dir(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.data_dir = "/proc/definitely/not/writable";
    bk_err err;
    ms3_server *s = ms3_server_start(&o, &err);
    assert_null(s);
    assert_non_null(strstr(err.msg, "/proc/definitely/not/writable"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_survives_restart),
        cmocka_unit_test(test_key_mapping_is_safe),
        cmocka_unit_test(test_large_upload_streams),
        cmocka_unit_test(test_bad_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
