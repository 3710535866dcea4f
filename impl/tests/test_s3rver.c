/* BK_TEST_INTEROP: node and s3rver from tools/interop (tools/setup --test) */
/* The S3 client against s3rver 3.7.1, a fake S3 nobody on this project wrote,
 * behind tools/interop/s3rver-judge.js: a front that recomputes every SigV4
 * signature with the AWS JavaScript SDK's signer (@smithy/signature-v4) and
 * answers 403 on a mismatch. Round trips passing here mean our requests are
 * accepted by an S3 implementation and our signatures by an independent signer.
 *
 * Known s3rver limits (so not tested here): UploadPartCopy answers 501;
 * x-amz-copy-source is decoded with decodeURI (reserved characters other than
 * ':' and '/' stay encoded); aws-chunked bodies are stored with their framing.
 * Those paths are covered against the in-process mock (test_s3client.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "bkcache/checksum.h"
#include "bkcache/s3.h"

extern char **environ;

#define BUCKET "bkcache-judge"
#define AKID "AKIDJUDGE"
#define SECRET "judge-secret-Zq8v3wKk"
#define TOKEN "judge-session-token/with+odd=chars"

static pid_t judge_pid = -1;
static int judge_stdin = -1;
static int judge_port;
static char judge_url[64];
static int refused_expected; /* requests this file expects the judge to refuse */

static void fail_setup(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_s3rver: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int start_judge(void **state)
{
    (void)state;
    static const char *const needed[] = {
        "/tools/interop/node_modules/s3rver/package.json",
        "/tools/interop/node_modules/@smithy/signature-v4/package.json",
        "/tools/interop/node_modules/@aws-crypto/sha256-js/package.json",
    };
    char path[4096];
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        snprintf(path, sizeof path, "%s%s", BK_SOURCE_DIR, needed[i]);
        if (!file_exists(path)) {
            fail_setup("%s is missing: run tools/setup --test to install the npm peers", path);
            return -1;
        }
    }
    char script[4096];
    snprintf(script, sizeof script, "%s/tools/interop/s3rver-judge.js", BK_SOURCE_DIR);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    setenv("BK_JUDGE_ACCESS_KEY_ID", AKID, 1);
    setenv("BK_JUDGE_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("BK_JUDGE_SESSION_TOKEN", TOKEN, 1);
    setenv("BK_JUDGE_REGION", "eu-west-3", 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {"node", "--openssl-legacy-provider", script, "--bucket", BUCKET, NULL};
    int rc = posix_spawnp(&judge_pid, "node", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        fail_setup("cannot run node (%s): run tools/setup --test to install Node.js and the npm "
                   "peers",
                   strerror(rc));
        close(in[1]);
        close(out[0]);
        judge_pid = -1;
        return -1;
    }
    judge_stdin = in[1];
    /* The port line, within 30 s. */
    char line[64];
    size_t got = 0;
    time_t deadline = time(NULL) + 30;
    while (got < sizeof line - 1 && (got == 0 || line[got - 1] != '\n')) {
        struct pollfd p = {out[0], POLLIN, 0};
        int left = (int)(deadline - time(NULL));
        if (left <= 0 || poll(&p, 1, left * 1000) <= 0)
            break;
        ssize_t n = read(out[0], line + got, sizeof line - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(out[0]);
    line[got] = '\0';
    judge_port = (int)strtol(line, NULL, 10);
    if (judge_port <= 0) {
        fail_setup("the judge did not print its port (got \"%s\"); is tools/interop set up? run "
                   "tools/setup --test",
                   line);
        return -1;
    }
    snprintf(judge_url, sizeof judge_url, "http://127.0.0.1:%d", judge_port);
    return 0;
}

static int stop_judge(void **state)
{
    (void)state;
    if (judge_pid <= 0)
        return 0;
    close(judge_stdin); /* the judge exits when stdin closes */
    kill(judge_pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(judge_pid, NULL, WNOHANG) == judge_pid) {
            judge_pid = -1;
            return 0;
        }
        usleep(50 * 1000);
    }
    kill(judge_pid, SIGKILL);
    waitpid(judge_pid, NULL, 0);
    judge_pid = -1;
    return 0;
}

static bk_s3_client *client_with(const char *secret, int unsigned_ok)
{
    (void)unsigned_ok;
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.region = "eu-west-3";
    cfg.bucket = BUCKET;
    cfg.endpoint_url = judge_url;
    cfg.use_path_style = 1;
    cfg.access_key_id = AKID;
    cfg.secret_access_key = secret;
    cfg.session_token = TOKEN;
    cfg.retry.base_delay_ms = 1;
    cfg.multipart_threshold = 6 * BK_S3_MIB;
    cfg.part_size = 5 * BK_S3_MIB;
    cfg.parts_in_flight = 3;
    bk_err err = {0};
    bk_s3_client *c = bk_s3_client_new(&cfg, &err);
    if (c == NULL)
        fprintf(stderr, "client: %s\n", err.msg);
    assert_non_null(c);
    return c;
}

typedef struct stats_buf {
    char data[8192];
    size_t len;
} stats_buf;

static size_t stats_write(char *p, size_t size, size_t n, void *ud)
{
    stats_buf *b = ud;
    size_t len = size * n;
    if (b->len + len >= sizeof b->data)
        return 0;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

static long stat_value(const char *json, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = strstr(json, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* The judge's counters as JSON. */
static void judge_stats(stats_buf *b)
{
    CURL *h = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/__judge/stats", judge_url);
    b->len = 0;
    b->data[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stats_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
}

/* How many requests of S3 operation `op` the judge verified so far. */
static long judge_ops(const char *op)
{
    stats_buf b;
    judge_stats(&b);
    const char *ops = strstr(b.data, "\"ops\":{");
    assert_non_null(ops);
    long v = stat_value(ops, op);
    return v < 0 ? 0 : v;
}

static const char *blob_key(char *out, size_t size, const char *content)
{
    bk_checksum_digest d;
    assert_int_equal(bk_checksum_compute(BK_CHECKSUM_SHA256, content, strlen(content), &d, NULL),
                     BK_OK);
    snprintf(out, size, "blobs/sha256:%s", d.hex);
    return out;
}

static void put_head_get_round_trip(void **state)
{
    (void)state;
    bk_s3_client *c = client_with(SECRET, 0);
    const char *content = "layer bytes for the judge\n";
    char key[128];
    blob_key(key, sizeof key, content);
    bk_checksum_digest d;
    bk_checksum_compute(BK_CHECKSUM_SHA256, content, strlen(content), &d, NULL);
    bk_s3_meta meta[] = {{"updated-at", "2026-01-02T03:04:05Z"}};
    bk_s3_put_options o = {.content_type = "application/octet-stream",
                           .meta = meta,
                           .n_meta = 1,
                           .payload_sha256 = d.hex};
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err err = {0};
    int rc = bk_s3_put_mem(c, key, content, strlen(content), &o, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.etag[0] == '"');

    assert_int_equal(bk_s3_head(c, key, &r, &err), BK_OK);
    assert_true(r.has_size);
    assert_int_equal(r.size, strlen(content));
    assert_true(r.has_last_modified);
    assert_true(llabs((long long)(time(NULL) - r.last_modified)) < 3600);
    assert_non_null(bk_s3_result_meta(&r, "updated-at"));
    assert_string_equal(bk_s3_result_meta(&r, "updated-at"), "2026-01-02T03:04:05Z");

    bk_buf body = BK_BUF_INIT;
    assert_int_equal(bk_s3_get_to_buf(c, key, NULL, 1024, &body, &r, &err), BK_OK);
    assert_int_equal(body.len, strlen(content));
    assert_memory_equal(body.data, content, body.len);
    bk_buf_clear(&body);

    /* A payload hash the body does not match: the judge refuses it. */
    o.payload_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    rc = bk_s3_put_mem(c, key, content, strlen(content), &o, &r, &err);
    refused_expected++;
    assert_int_equal(rc, BK_EINTEGRITY);
    assert_string_equal(r.s3_code, "XAmzContentSHA256Mismatch");

    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void odd_keys_round_trip(void **state)
{
    (void)state;
    bk_s3_client *c = client_with(SECRET, 0);
    const char *keys[] = {"odd/space here",
                          "odd/plus+sign",
                          "odd/equals=and&amp",
                          "odd/percent%41",
                          "odd/unicode-\xc3\xa9\xe2\x82\xac",
                          "odd/tilde~_.-"};
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int rc = bk_s3_put_mem(c, keys[i], keys[i], strlen(keys[i]), NULL, &r, &err);
        if (rc != BK_OK)
            fprintf(stderr, "%s: %s\n", keys[i], err.msg);
        assert_int_equal(rc, BK_OK);
        bk_buf body = BK_BUF_INIT;
        assert_int_equal(bk_s3_get_to_buf(c, keys[i], NULL, 1024, &body, &r, &err), BK_OK);
        assert_string_equal(bk_buf_str(&body), keys[i]);
        bk_buf_clear(&body);
    }
    /* The listing gives the keys back decoded, exactly as stored. */
    bk_s3_list_params lp = {.prefix = "odd/"};
    bk_s3_list_page page;
    assert_int_equal(bk_s3_list_page_get(c, &lp, &page, &err), BK_OK);
    assert_int_equal(page.n_objects, sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int found = 0;
        for (size_t j = 0; j < page.n_objects; j++)
            found |= strcmp(page.objects[j].key, keys[i]) == 0;
        assert_true(found);
    }
    bk_s3_list_page_clear(&page);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void ranged_reads(void **state)
{
    (void)state;
    bk_s3_client *c = client_with(SECRET, 0);
    const char *content = "0123456789abcdefghij";
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    assert_int_equal(bk_s3_put_mem(c, "range/obj", content, 20, NULL, &r, &err), BK_OK);

    bk_buf b = BK_BUF_INIT;
    bk_s3_range mid = {5, 9, 1};
    assert_int_equal(bk_s3_get_to_buf(c, "range/obj", &mid, 100, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "56789");
    assert_int_equal(r.status, 206);
    assert_int_equal(r.size, 20);

    bk_buf_reset(&b);
    bk_s3_range tail = {15, 0, 0};
    assert_int_equal(bk_s3_get_to_buf(c, "range/obj", &tail, 100, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "fghij");

    /* A range past the end: S3's 416 InvalidRange, reported, not empty data. */
    bk_buf_reset(&b);
    bk_s3_range past = {100, 0, 0};
    int rc = bk_s3_get_to_buf(c, "range/obj", &past, 100, &b, &r, &err);
    assert_int_not_equal(rc, BK_OK);
    assert_int_equal(r.status, 416);
    assert_int_equal(b.len, 0);
    bk_buf_clear(&b);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void touch_by_self_copy(void **state)
{
    (void)state;
    bk_s3_client *c = client_with(SECRET, 0);
    const char *content = "touch me";
    char key[128];
    blob_key(key, sizeof key, content);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    assert_int_equal(bk_s3_put_mem(c, key, content, strlen(content), NULL, &r, &err), BK_OK);
    bk_s3_meta meta[] = {{"updated-at", "2026-08-21T00:00:00Z"}};
    bk_s3_copy_options co = {.directive = BK_S3_METADATA_REPLACE, .meta = meta, .n_meta = 1};
    int rc = bk_s3_copy(c, key, key, &co, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_true(r.etag[0] != '\0');
    assert_int_equal(bk_s3_head(c, key, &r, &err), BK_OK);
    assert_string_equal(bk_s3_result_meta(&r, "updated-at"), "2026-08-21T00:00:00Z");
    assert_int_equal(r.size, strlen(content));

    /* Onto itself without REPLACE is refused before any request. */
    co.directive = BK_S3_METADATA_COPY;
    assert_int_equal(bk_s3_copy(c, key, key, &co, &r, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "REPLACE"));

    /* To another key with COPY: metadata travels. */
    assert_int_equal(bk_s3_copy(c, key, "copies/one", &co, &r, &err), BK_OK);
    assert_int_equal(bk_s3_head(c, "copies/one", &r, &err), BK_OK);
    assert_string_equal(bk_s3_result_meta(&r, "updated-at"), "2026-08-21T00:00:00Z");
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static int temp_file_with(size_t size, unsigned seed, char hex[65])
{
    char path[] = "/tmp/bk-s3rver-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    bk_checksum *sha = bk_checksum_new(BK_CHECKSUM_SHA256, NULL);
    unsigned char buf[65536];
    uint32_t x = seed;
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (unsigned char)(x >> 16);
        }
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        bk_checksum_update(sha, buf, n);
        done += n;
    }
    bk_checksum_digest d;
    bk_checksum_final(sha, &d, NULL);
    bk_checksum_free(sha);
    memcpy(hex, d.hex, 65);
    return fd;
}

static int sha_sink(void *ud, const void *data, size_t len, bk_err *err)
{
    (void)err;
    bk_checksum_update(ud, data, len);
    return 0;
}

static void multipart_upload_round_trip(void **state)
{
    (void)state;
    bk_s3_client *c = client_with(SECRET, 0);
    char hex[65];
    const size_t size = 11 * BK_S3_MIB + 123; /* 3 parts of 5 MiB, the last short */
    int fd = temp_file_with(size + 7, 42, hex);
    /* Upload from an offset in the file: bytes 7.. (re-hash that region). */
    int fd2 = temp_file_with(size, 42, hex);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    long creates = judge_ops("CreateMultipartUpload"), parts = judge_ops("UploadPart"),
         completes = judge_ops("CompleteMultipartUpload"), puts = judge_ops("PutObject");
    int rc = bk_s3_upload_fd(c, "mpu/big", fd2, 0, size, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_true(r.etag[0] != '\0');
    assert_int_equal(judge_ops("CreateMultipartUpload"), creates + 1);
    assert_int_equal(judge_ops("UploadPart"), parts + 3);
    assert_int_equal(judge_ops("CompleteMultipartUpload"), completes + 1);
    assert_int_equal(judge_ops("PutObject"), puts);

    assert_int_equal(bk_s3_head(c, "mpu/big", &r, &err), BK_OK);
    assert_int_equal(r.size, size);
    bk_checksum *sha = bk_checksum_new(BK_CHECKSUM_SHA256, NULL);
    assert_int_equal(bk_s3_get(c, "mpu/big", NULL, sha_sink, sha, &r, &err), BK_OK);
    bk_checksum_digest d;
    bk_checksum_final(sha, &d, NULL);
    bk_checksum_free(sha);
    assert_string_equal(d.hex, hex);

    /* Below the threshold, from an offset: one PutObject of exactly that region. */
    assert_int_equal(bk_s3_upload_fd(c, "mpu/small", fd, 7, 1000, NULL, &r, &err), BK_OK);
    assert_int_equal(bk_s3_head(c, "mpu/small", &r, &err), BK_OK);
    assert_int_equal(r.size, 1000);
    assert_int_equal(judge_ops("PutObject"), puts + 1);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_s3_get_to_buf(c, "mpu/small", NULL, 2000, &b, &r, &err), BK_OK);
    unsigned char expect[1000];
    assert_int_equal(pread(fd, expect, 1000, 7), 1000);
    assert_memory_equal(b.data, expect, 1000);
    bk_buf_clear(&b);
    close(fd);
    close(fd2);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static int count_cb(void *ud, const bk_s3_object *o)
{
    (void)o;
    (*(int *)ud)++;
    return 0;
}

static void list_paginate_and_delete(void **state)
{
    (void)state;
    bk_s3_client *c = client_with(SECRET, 0);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    const char *keys[] = {"list/a", "list/b", "list/c", "list/d/1", "list/d/2"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(bk_s3_put_mem(c, keys[i], "x", 1, NULL, &r, &err), BK_OK);

    bk_s3_list_params lp = {.prefix = "list/", .max_keys = 2};
    bk_s3_list_page page;
    int rc = bk_s3_list_page_get(c, &lp, &page, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(page.n_objects, 2);
    assert_true(page.is_truncated);
    assert_non_null(page.next_continuation_token);
    assert_string_equal(page.objects[0].key, "list/a");
    assert_int_equal(page.objects[0].size, 1);
    assert_true(page.objects[0].last_modified > 0);
    bk_s3_list_page_clear(&page);

    int n = 0;
    assert_int_equal(bk_s3_list_each(c, &lp, count_cb, &n, &err), BK_OK);
    assert_int_equal(n, 5);

    bk_s3_list_params dl = {.prefix = "list/", .delimiter = "/"};
    assert_int_equal(bk_s3_list_page_get(c, &dl, &page, &err), BK_OK);
    assert_int_equal(page.n_objects, 3);
    assert_int_equal(page.n_prefixes, 1);
    assert_string_equal(page.common_prefixes[0], "list/d/");
    bk_s3_list_page_clear(&page);

    assert_int_equal(bk_s3_delete(c, "list/a", &r, &err), BK_OK);
    assert_int_equal(bk_s3_head(c, "list/a", &r, &err), BK_ENOTFOUND);
    assert_true(bk_s3_result_is_not_found(&r));
    assert_non_null(strstr(err.msg, "HeadObject s3://" BUCKET "/list/a"));
    assert_non_null(strstr(err.msg, "404"));

    bk_s3_delete_report rep;
    memset(&rep, 0, sizeof rep);
    rc = bk_s3_delete_many(c, keys + 1, 4, &rep, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(rep.deleted, 4);
    bk_s3_delete_report_clear(&rep);
    n = 0;
    assert_int_equal(bk_s3_list_each(c, &lp, count_cb, &n, &err), BK_OK);
    assert_int_equal(n, 0);

    /* GET of a missing key: NoSuchKey, distinguishable from a refusal. */
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_s3_get_to_buf(c, "list/a", NULL, 10, &b, &r, &err), BK_ENOTFOUND);
    assert_string_equal(r.s3_code, "NoSuchKey");
    bk_buf_clear(&b);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void wrong_secret_is_refused(void **state)
{
    (void)state;
    bk_s3_client *c = client_with("not-the-secret-9f8e7d", 0);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    int rc = bk_s3_put_mem(c, "refused/key", "x", 1, NULL, &r, &err);
    refused_expected++;
    assert_int_equal(rc, BK_EAUTH);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.s3_code, "SignatureDoesNotMatch");
    assert_int_equal(r.attempts, 1); /* a 403 is not retried */
    assert_non_null(strstr(err.msg, "PutObject s3://" BUCKET "/refused/key"));
    assert_null(strstr(err.msg, "not-the-secret"));
    assert_null(strstr(err.msg, SECRET));

    /* HEAD has no body: the client says what a 403 there usually means. */
    rc = bk_s3_head(c, "refused/key", &r, &err);
    refused_expected++;
    assert_int_equal(rc, BK_EAUTH);
    assert_non_null(strstr(err.msg, "s3:ListBucket"));
    assert_non_null(strstr(err.msg, "HeadObject"));
    assert_false(bk_s3_result_is_not_found(&r));
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

/* Runs last: every request of this file was judged, and only the ones meant
 * to be refused were. */
static void judge_verified_everything(void **state)
{
    (void)state;
    stats_buf b;
    judge_stats(&b);
    long verified = stat_value(b.data, "verified");
    long refused = stat_value(b.data, "refused");
    fprintf(stderr, "judge: %s\n", b.data);
    assert_true(verified >= 40);
    assert_int_equal(refused, refused_expected);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_head_get_round_trip),
        cmocka_unit_test(odd_keys_round_trip),
        cmocka_unit_test(ranged_reads),
        cmocka_unit_test(touch_by_self_copy),
        cmocka_unit_test(multipart_upload_round_trip),
        cmocka_unit_test(list_paginate_and_delete),
        cmocka_unit_test(wrong_secret_is_refused),
        cmocka_unit_test(judge_verified_everything),
    };
    int rc = cmocka_run_group_tests(tests, start_judge, stop_judge);
    curl_global_cleanup();
    return rc;
}
