/* BK_TEST_UNIT
 * Multipart uploads in progress survive a restart of a mock with a data dir
 * (uploads.c): parts, ETags and metadata come back, the upload completes or
 * aborts afterwards, and what a killed mock leaves half-written (a part file
 * no JSON names, an upload directory without its JSON, a part file of the
 * wrong size) is cleaned up instead of served. Driven in-process, no socket. */
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
#include <unistd.h>

#include "bkcache/checksum.h"
#include "ms3_test.h"

typedef struct fixture {
    char *dir;
    ms3_server *srv;
} fixture;

static ms3_server *start(const char *dir)
{
    ms3_options o;
    ms3_options_init(&o);
    o.anonymous = 1;
    o.min_part_size = 5;
    o.data_dir = dir;
    bk_err err;
    ms3_server *s = ms3_server_new_inproc(&o, &err);
    if (s == NULL)
        fail_msg("in-process mock: %s", err.msg);
    assert_int_equal(ms3_server_create_bucket(s, T_BUCKET, &err), 0);
    return s;
}

static void restart(fixture *fx)
{
    ms3_server_stop(fx->srv);
    fx->srv = start(fx->dir);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    fx->dir = ms3t_tempdir();
    fx->srv = start(fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ms3_server_stop(fx->srv);
    ms3t_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Status of an unsigned request; the body of the response in *body when asked. */
static int send_with(fixture *fx, const char *method, const char *target, const char *body,
                     const ms3_header *extra, char **resp_body)
{
    char length[24];
    snprintf(length, sizeof(length), "%zu", body != NULL ? strlen(body) : 0);
    ms3_header h[3] = {{"Host", "127.0.0.1"}, {"Content-Length", length}, {"", ""}};
    if (extra != NULL)
        h[2] = *extra;
    ms3_inproc_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.target = target;
    rq.headers = h;
    rq.n_headers = extra != NULL ? 3 : 2;
    rq.body = body;
    rq.body_len = body != NULL ? strlen(body) : 0;
    ms3_inproc_response resp;
    bk_err err;
    assert_int_equal(ms3_server_handle(fx->srv, &rq, &resp, &err), 0);
    int status = resp.status;
    if (resp_body != NULL) {
        *resp_body = resp.body;
        resp.body = NULL;
    }
    ms3_inproc_response_clear(&resp);
    return status;
}

static int send(fixture *fx, const char *method, const char *target, const char *body,
                char **resp_body)
{
    return send_with(fx, method, target, body, NULL, resp_body);
}

static void xml_value(const char *xml, const char *tag, char *out, size_t n)
{
    char open[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    const char *a = xml != NULL ? strstr(xml, open) : NULL;
    const char *b = a != NULL ? strchr(a + strlen(open), '<') : NULL;
    if (a == NULL || b == NULL) {
        fail_msg("no <%s> in %s", tag, xml != NULL ? xml : "(no body)");
        return;
    }
    a += strlen(open);
    snprintf(out, n, "%.*s", (int)(b - a), a);
}

static void create_upload(fixture *fx, char id[128])
{
    char *xml = NULL;
    assert_int_equal(send(fx, "POST", "/" T_BUCKET "/big?uploads", NULL, &xml), 200);
    xml_value(xml, "UploadId", id, 128);
    free(xml);
}

static void put_part(fixture *fx, const char *id, int number, const char *data)
{
    char target[256];
    snprintf(target, sizeof(target), "/" T_BUCKET "/big?partNumber=%d&uploadId=%s", number, id);
    assert_int_equal(send(fx, "PUT", target, data, NULL), 200);
}

static size_t count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void upload_path(const fixture *fx, const char *id, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/uploads/%s%s%s", fx->dir, id, file != NULL ? "/" : "",
             file != NULL ? file : "");
}

static void complete_after_restart(void **state)
{
    fixture *fx = *state;
    char id[128];
    create_upload(fx, id);
    put_part(fx, id, 1, "first part, ");
    put_part(fx, id, 2, "second part (to be replaced)");
    char target[256];
    snprintf(target, sizeof(target), "/" T_BUCKET "/big?uploadId=%s", id);
    char *before = NULL;
    assert_int_equal(send(fx, "GET", target, NULL, &before), 200);

    restart(fx);
    assert_int_equal(ms3_server_upload_count(fx->srv), 1);
    char *after = NULL;
    assert_int_equal(send(fx, "GET", target, NULL, &after), 200);
    /* ListParts answers the same parts, sizes, ETags and dates. */
    const char *pb = strstr(before, "<Part>"), *pa = strstr(after, "<Part>");
    assert_non_null(pb);
    assert_non_null(pa);
    assert_string_equal(pa, pb);
    free(before);
    free(after);

    put_part(fx, id, 2, "second part");
    char *list = NULL;
    assert_int_equal(send(fx, "GET", target, NULL, &list), 200);
    char etag1[80], etag2[80];
    const char *p2 = strstr(list, "<PartNumber>2</PartNumber>");
    assert_non_null(p2);
    xml_value(list, "ETag", etag1, sizeof(etag1));
    xml_value(p2, "ETag", etag2, sizeof(etag2));
    free(list);
    char upload_dir[512];
    upload_path(fx, id, NULL, upload_dir, sizeof(upload_dir));
    assert_int_equal(count_entries(upload_dir), 3); /* upload.json and two part files */

    char complete[512];
    snprintf(complete, sizeof(complete),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             etag1, etag2);
    assert_int_equal(send(fx, "POST", target, complete, NULL), 200);
    char *data = NULL;
    size_t len = 0;
    bk_err err;
    assert_int_equal(ms3_server_read_object(fx->srv, T_BUCKET, "big", 64, &data, &len, &err), 0);
    assert_string_equal(data, "first part, second part");
    free(data);
    struct stat st;
    assert_int_not_equal(stat(upload_dir, &st), 0); /* gone with the upload */

    /* And the object, not the upload, is what the next run sees. */
    restart(fx);
    assert_int_equal(ms3_server_upload_count(fx->srv), 0);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(fx->srv, T_BUCKET, "big", &info, &err), 0);
    assert_int_equal(info.size, strlen("first part, second part"));
    assert_non_null(strstr(info.etag, "-2\""));
    free(info.metadata_json);
}

static void abort_after_restart(void **state)
{
    fixture *fx = *state;
    char id[128];
    create_upload(fx, id);
    put_part(fx, id, 1, "only part");
    restart(fx);
    char target[256];
    snprintf(target, sizeof(target), "/" T_BUCKET "/big?uploadId=%s", id);
    assert_int_equal(send(fx, "DELETE", target, NULL, NULL), 204);
    char uploads[512];
    snprintf(uploads, sizeof(uploads), "%s/uploads", fx->dir);
    assert_int_equal(count_entries(uploads), 0);
    restart(fx);
    assert_int_equal(ms3_server_upload_count(fx->srv), 0);
    assert_int_equal(send(fx, "DELETE", target, NULL, NULL), 404);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void half_written_leftovers_are_dropped(void **state)
{
    fixture *fx = *state;
    char kept[128], torn[128];
    create_upload(fx, kept);
    put_part(fx, kept, 1, "part one");
    create_upload(fx, torn);
    put_part(fx, torn, 1, "part one of the torn upload");
    put_part(fx, torn, 2, "part two");
    ms3_server_stop(fx->srv);
    fx->srv = NULL;

    char path[512];
    /* A part renamed in just before the kill, which the JSON never named. */
    upload_path(fx, kept, "3-00000000000000ff.part", path, sizeof(path));
    write_text(path, "stray");
    /* An upload directory created just before the kill, before its JSON. */
    upload_path(fx, "00000000000000ffabcdef0123456789abcdef0123456789", NULL, path, sizeof(path));
    assert_int_equal(mkdir(path, 0755), 0);
    /* A part file that does not have the size the JSON gives. */
    char torn_dir[512];
    upload_path(fx, torn, NULL, torn_dir, sizeof(torn_dir));
    DIR *d = opendir(torn_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "2-", 2) == 0) {
            snprintf(path, sizeof(path), "%s/%s", torn_dir, e->d_name);
            assert_int_equal(truncate(path, 3), 0);
        }
    }
    closedir(d);

    fx->srv = start(fx->dir);
    assert_int_equal(ms3_server_upload_count(fx->srv), 2);
    char uploads[512];
    snprintf(uploads, sizeof(uploads), "%s/uploads", fx->dir);
    assert_int_equal(count_entries(uploads), 2);
    upload_path(fx, kept, NULL, path, sizeof(path));
    assert_int_equal(count_entries(path), 2); /* upload.json and part 1 */

    char target[256], *list = NULL;
    snprintf(target, sizeof(target), "/" T_BUCKET "/big?uploadId=%s", torn);
    assert_int_equal(send(fx, "GET", target, NULL, &list), 200);
    assert_non_null(strstr(list, "<PartNumber>1</PartNumber>"));
    assert_null(strstr(list, "<PartNumber>2</PartNumber>"));
    free(list);
}

static void reset_removes_persisted_uploads(void **state)
{
    fixture *fx = *state;
    char id[128];
    create_upload(fx, id);
    put_part(fx, id, 1, "part");
    ms3_server_reset(fx->srv);
    char uploads[512];
    snprintf(uploads, sizeof(uploads), "%s/uploads", fx->dir);
    assert_int_equal(count_entries(uploads), 0);
    restart(fx);
    assert_int_equal(ms3_server_upload_count(fx->srv), 0);
}

static void checksum_algorithm_survives(void **state)
{
    fixture *fx = *state;
    ms3_header alg = {"x-amz-checksum-algorithm", "CRC32"};
    char *xml = NULL, id[128];
    assert_int_equal(send_with(fx, "POST", "/" T_BUCKET "/big?uploads", NULL, &alg, &xml), 200);
    xml_value(xml, "UploadId", id, sizeof(id));
    free(xml);
    bk_checksum_digest d;
    bk_err err;
    assert_int_equal(bk_checksum_compute(BK_CHECKSUM_CRC32, "checked part", 12, &d, &err), BK_OK);
    ms3_header ck = {"x-amz-checksum-crc32", d.base64};
    char target[256];
    snprintf(target, sizeof(target), "/" T_BUCKET "/big?partNumber=1&uploadId=%s", id);
    assert_int_equal(send_with(fx, "PUT", target, "checked part", &ck, NULL), 200);

    restart(fx);
    snprintf(target, sizeof(target), "/" T_BUCKET "/big?uploadId=%s", id);
    char *list = NULL;
    assert_int_equal(send(fx, "GET", target, NULL, &list), 200);
    char value[80], etag[80];
    xml_value(list, "ChecksumAlgorithm", value, sizeof(value));
    assert_string_equal(value, "CRC32");
    xml_value(list, "ChecksumCRC32", value, sizeof(value));
    assert_string_equal(value, d.base64);
    xml_value(list, "ETag", etag, sizeof(etag));
    free(list);

    char complete[512];
    snprintf(complete, sizeof(complete),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
             "<ChecksumCRC32>%s</ChecksumCRC32></Part></CompleteMultipartUpload>",
             etag, d.base64);
    char *result = NULL;
    assert_int_equal(send(fx, "POST", target, complete, &result), 200);
    assert_non_null(strstr(result, "<ChecksumType>COMPOSITE</ChecksumType>"));
    free(result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(complete_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(abort_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(half_written_leftovers_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_removes_persisted_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(checksum_algorithm_survives, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
