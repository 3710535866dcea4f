/* The S3 client against the in-process mock: every operation, the exact
 * requests on the wire (from the mock's journal), connection reuse, each fault
 * kind retried the right number of times, the field reports' header rules,
 * credentials from the environment, and secrets kept out of every output.
 * No test sleeps: the client's retry delays go through a fake sleep. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "envtable.h"
#include "bkcache/checksum.h"
#include "bkcache/s3.h"
#include "bkcache/sigv4.h"
#include "mock_s3.h"

#define BUCKET "client-test"
#define AKID "AKIDCLIENTTEST"
#define SECRET "client-Secret-Value-8d7f6e"
#define TOKEN_AKID "AKIDWITHTOKEN"
#define TOKEN_SECRET "token-Secret-Value-1a2b3c"
#define TOKEN "session-token-xyz"

static ms3_server *srv;

/* Fake time and sleep for the client: each x-amz-date is a new second. */
typedef struct fakes {
    pthread_mutex_t lock;
    time_t wall;
    uint64_t slept_ms;
    int sleeps;
} fakes;

static fakes fk = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};

static int64_t fake_wall(void *ud)
{
    fakes *f = ud;
    pthread_mutex_lock(&f->lock);
    time_t t = f->wall == 0 ? (f->wall = time(NULL)) : ++f->wall;
    if (t > time(NULL) + 600) /* stay well inside the 15-minute skew window */
        t = f->wall = time(NULL);
    pthread_mutex_unlock(&f->lock);
    return (int64_t)t * BK_NS_PER_SEC;
}

static void fake_sleep(void *ud, uint64_t ms)
{
    fakes *f = ud;
    pthread_mutex_lock(&f->lock);
    f->slept_ms += ms;
    f->sleeps++;
    pthread_mutex_unlock(&f->lock);
}

static const bk_clock fake_clock = {fake_wall, NULL, fake_sleep, &fk};

static int start_mock(void **state)
{
    (void)state;
    ms3_options o;
    ms3_options_init(&o);
    bk_err err = {0};
    srv = ms3_server_start(&o, &err);
    if (srv == NULL) {
        fprintf(stderr, "mock: %s\n", err.msg);
        return -1;
    }
    if (ms3_server_add_credentials(srv, AKID, SECRET, NULL, &err) != 0 ||
        ms3_server_add_credentials(srv, TOKEN_AKID, TOKEN_SECRET, TOKEN, &err) != 0 ||
        ms3_server_create_bucket(srv, BUCKET, &err) != 0) {
        fprintf(stderr, "mock: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int stop_mock(void **state)
{
    (void)state;
    ms3_server_stop(srv);
    return 0;
}

static int reset_mock(void **state)
{
    (void)state;
    ms3_server_reset(srv);
    ms3_bucket_policy p;
    memset(&p, 0, sizeof p);
    ms3_server_set_bucket_policy(srv, NULL, &p, NULL);
    ms3_server_set_proxy_mode(srv, 0);
    return 0;
}

static void base_config(bk_s3_config *cfg)
{
    bk_s3_config_init(cfg);
    cfg->region = ms3_server_region(srv);
    cfg->bucket = BUCKET;
    cfg->endpoint_url = ms3_server_url(srv);
    cfg->use_path_style = 1;
    cfg->access_key_id = AKID;
    cfg->secret_access_key = SECRET;
    cfg->clock = &fake_clock;
}

static bk_s3_client *new_client(const bk_s3_config *cfg)
{
    bk_err err = {0};
    bk_s3_client *c = bk_s3_client_new(cfg, &err);
    if (c == NULL)
        fprintf(stderr, "client: %s\n", err.msg);
    assert_non_null(c);
    return c;
}

static bk_s3_client *default_client(void)
{
    bk_s3_config cfg;
    base_config(&cfg);
    return new_client(&cfg);
}

static size_t count_op(const char *op, const char *key_prefix)
{
    ms3_journal_filter f;
    memset(&f, 0, sizeof f);
    f.operation = op;
    f.key_prefix = key_prefix;
    return ms3_journal_count(srv, &f);
}

static size_t query_op(const char *op, const char *key_prefix, ms3_journal_entry **out)
{
    ms3_journal_filter f;
    memset(&f, 0, sizeof f);
    f.operation = op;
    f.key_prefix = key_prefix;
    return ms3_journal_query(srv, &f, out);
}

static int temp_file(size_t size, unsigned seed, char hex[65])
{
    char path[] = "/tmp/bk-s3client-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    bk_checksum *sha = bk_checksum_new(BK_CHECKSUM_SHA256, NULL);
    static unsigned char buf[1 << 16];
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
    if (hex)
        memcpy(hex, d.hex, 65);
    return fd;
}

static int sha_sink(void *ud, const void *data, size_t len, bk_err *err)
{
    (void)err;
    bk_checksum_update(ud, data, len);
    return 0;
}

static void get_sha(bk_s3_client *c, const char *key, char hex[65], bk_s3_result *r)
{
    bk_err err = {0};
    bk_checksum *sha = bk_checksum_new(BK_CHECKSUM_SHA256, NULL);
    int rc = bk_s3_get(c, key, NULL, sha_sink, sha, r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    bk_checksum_digest d;
    bk_checksum_final(sha, &d, NULL);
    bk_checksum_free(sha);
    memcpy(hex, d.hex, 65);
}

/* Header names in the journal keep the case they were sent in: compare the
 * JSON case-insensitively. */
static int has_header(const char *json, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = json; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return 1;
    return 0;
}

static uint64_t add_fault(const ms3_fault_rule *r)
{
    uint64_t id = 0;
    bk_err err = {0};
    assert_int_equal(ms3_server_add_fault(srv, r, &id, &err), 0);
    return id;
}

/* ------------------------------------------------------------------ */

static void every_operation(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    const char *key = "blobs/sha256:0123456789abcdef";
    bk_s3_meta meta[] = {{"updated-at", "2026-01-01T00:00:00Z"}};
    bk_s3_put_options po = {.content_type = "application/vnd.test", .meta = meta, .n_meta = 1};
    assert_int_equal(bk_s3_put_mem(c, key, "hello world", 11, &po, &r, &err), BK_OK);
    assert_int_equal(bk_s3_head(c, key, &r, &err), BK_OK);
    assert_int_equal(r.size, 11);
    assert_true(r.has_last_modified);
    assert_string_equal(r.content_type, "application/vnd.test");
    assert_string_equal(bk_s3_result_meta(&r, "updated-at"), "2026-01-01T00:00:00Z");

    bk_buf b = BK_BUF_INIT;
    bk_s3_range range = {6, 10, 1};
    assert_int_equal(bk_s3_get_to_buf(c, key, &range, 100, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "world");
    bk_buf_reset(&b);
    assert_int_equal(bk_s3_get_to_buf(c, key, NULL, 5, &b, &r, &err), BK_EINVAL); /* too big */

    bk_s3_meta meta2[] = {{"updated-at", "2026-02-02T00:00:00Z"}};
    bk_s3_copy_options co = {.directive = BK_S3_METADATA_REPLACE, .meta = meta2, .n_meta = 1};
    int rc = bk_s3_copy(c, key, key, &co, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(srv, BUCKET, key, &info, &err), 0);
    assert_non_null(strstr(info.metadata_json, "2026-02-02"));
    free(info.metadata_json);

    ms3_journal_entry *e;
    size_t n = query_op("CopyObject", key, &e);
    assert_int_equal(n, 1);
    assert_true(has_header(e[0].headers_json, "\"x-amz-metadata-directive\":\"REPLACE\""));
    assert_true(has_header(e[0].headers_json, "\"x-amz-copy-source\":\"/" BUCKET "/blobs/sha256:"));
    ms3_journal_entries_free(e, n);

    bk_s3_list_params lp = {.prefix = "blobs/"};
    bk_s3_list_page page;
    assert_int_equal(bk_s3_list_page_get(c, &lp, &page, &err), BK_OK);
    assert_int_equal(page.n_objects, 1);
    assert_string_equal(page.objects[0].key, key);
    bk_s3_list_page_clear(&page);

    assert_int_equal(bk_s3_delete(c, key, &r, &err), BK_OK);
    assert_int_equal(bk_s3_head(c, key, &r, &err), BK_ENOTFOUND);
    assert_true(bk_s3_result_is_not_found(&r));
    bk_buf_reset(&b);
    assert_int_equal(bk_s3_get_to_buf(c, key, NULL, 100, &b, &r, &err), BK_ENOTFOUND);
    assert_string_equal(r.s3_code, "NoSuchKey");
    assert_non_null(strstr(err.msg, "GetObject s3://" BUCKET "/blobs/sha256:0123456789abcdef"));

    const char *many[] = {"m/1", "m/2", "m/3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(bk_s3_put_mem(c, many[i], "x", 1, NULL, &r, &err), BK_OK);
    bk_s3_delete_report rep;
    memset(&rep, 0, sizeof rep);
    assert_int_equal(bk_s3_delete_many(c, many, 3, &rep, &err), BK_OK);
    assert_int_equal(rep.deleted, 3);
    bk_s3_delete_report_clear(&rep);
    assert_int_equal(ms3_server_object_count(srv, BUCKET), 0);
    assert_int_equal(count_op("DeleteObjects", NULL), 1);

    bk_buf_clear(&b);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void upload_20_mib_is_create_3_parts_complete(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    char hex[65], got[65];
    const size_t size = 20 * BK_S3_MIB;
    int fd = temp_file(size, 7, hex);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    int rc = bk_s3_upload_fd(c, "big/20m", fd, 0, size, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(count_op("CreateMultipartUpload", "big/"), 1);
    assert_int_equal(count_op("CompleteMultipartUpload", "big/"), 1);
    assert_int_equal(count_op("PutObject", "big/"), 0);
    ms3_journal_entry *e;
    size_t n = query_op("UploadPart", "big/", &e);
    assert_int_equal(n, 3);
    uint64_t sizes[3] = {0};
    for (size_t i = 0; i < n; i++) {
        int part = (int)strtol(strstr(e[i].query, "partNumber=") + 11, NULL, 10);
        assert_true(part >= 1 && part <= 3);
        sizes[part - 1] = e[i].request_body_size;
        /* BuildKit's client since v0.32: no checksums, no trailer, no aws-chunked. */
        assert_false(has_header(e[i].headers_json, "x-amz-trailer"));
        assert_false(has_header(e[i].headers_json, "aws-chunked"));
        assert_false(has_header(e[i].headers_json, "x-amz-sdk-checksum-algorithm"));
        assert_false(has_header(e[i].headers_json, "x-amz-checksum-"));
        assert_string_equal(e[i].payload_hash_mode, "sha256");
        assert_true(has_header(e[i].headers_json, "100-continue")); /* 8 MiB > 2 MiB */
    }
    assert_int_equal(sizes[0], 8 * BK_S3_MIB);
    assert_int_equal(sizes[1], 8 * BK_S3_MIB);
    assert_int_equal(sizes[2], 4 * BK_S3_MIB);
    ms3_journal_entries_free(e, n);
    get_sha(c, "big/20m", got, &r);
    assert_string_equal(got, hex);

    /* Just below the threshold: one PutObject, with the caller's digest as payload hash. */
    rc = bk_s3_upload_fd(c, "big/16m-1", fd, 0, 16 * BK_S3_MIB - 1, NULL, &r, &err);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(count_op("PutObject", "big/16m-1"), 1);
    assert_int_equal(count_op("CreateMultipartUpload", "big/16m-1"), 0);
    close(fd);

    const char *small = "small blob";
    bk_checksum_digest d;
    bk_checksum_compute(BK_CHECKSUM_SHA256, small, strlen(small), &d, NULL);
    bk_s3_put_options po = {.payload_sha256 = d.hex};
    assert_int_equal(bk_s3_put_mem(c, "big/small", small, strlen(small), &po, &r, &err), BK_OK);
    n = query_op("PutObject", "big/small", &e);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].body_sha256, d.hex);
    assert_false(has_header(e[0].headers_json, "100-continue"));
    ms3_journal_entries_free(e, n);
    /* A digest that does not match is the server's to refuse. */
    po.payload_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(bk_s3_put_mem(c, "big/bad", small, strlen(small), &po, &r, &err),
                     BK_EINTEGRITY);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static size_t distinct_ports(const ms3_journal_entry *e, size_t n)
{
    uint16_t seen[256];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= seen[j] == e[i].remote_port;
        if (!dup && k < 256)
            seen[k++] = e[i].remote_port;
    }
    return k;
}

typedef struct put_thread {
    bk_s3_client *c;
    int id;
    int failures;
} put_thread;

static void *put_many(void *arg)
{
    put_thread *t = arg;
    for (int i = 0; i < 10; i++) {
        char key[64];
        snprintf(key, sizeof key, "conc/%d/%d", t->id, i);
        bk_err err = {0};
        if (bk_s3_put_mem(t->c, key, key, strlen(key), NULL, NULL, &err) != BK_OK)
            t->failures++;
    }
    return NULL;
}

static void connections_stay_at_parallelism(void **state)
{
    (void)state;
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.multipart_threshold = 5 * BK_S3_MIB;
    cfg.part_size = 5 * BK_S3_MIB;
    cfg.parts_in_flight = 3;
    bk_s3_client *c = new_client(&cfg);
    bk_err err = {0};
    /* Sequential requests reuse one connection. */
    for (int i = 0; i < 20; i++)
        bk_s3_head(c, "nothing/here", NULL, &err);
    ms3_journal_entry *e;
    size_t n = query_op("HeadObject", "nothing/", &e);
    assert_int_equal(n, 20);
    assert_int_equal(distinct_ports(e, n), 1);
    ms3_journal_entries_free(e, n);

    /* 10 parts, 3 in flight: at most 3 connections. */
    int fd = temp_file(50 * BK_S3_MIB, 3, NULL);
    assert_int_equal(bk_s3_upload_fd(c, "par/50m", fd, 0, 50 * BK_S3_MIB, NULL, NULL, &err), BK_OK);
    close(fd);
    n = query_op(NULL, "par/", &e);
    assert_int_equal(n, 12); /* create + 10 parts + complete */
    size_t ports = distinct_ports(e, n);
    assert_true(ports >= 1 && ports <= 3);
    ms3_journal_entries_free(e, n);

    /* Four threads sharing one client. */
    pthread_t tids[4];
    put_thread pt[4];
    for (int i = 0; i < 4; i++) {
        pt[i] = (put_thread){c, i, 0};
        pthread_create(&tids[i], NULL, put_many, &pt[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tids[i], NULL);
        assert_int_equal(pt[i].failures, 0);
    }
    n = query_op("PutObject", "conc/", &e);
    assert_int_equal(n, 40);
    assert_true(distinct_ports(e, n) <= 4);
    ms3_journal_entries_free(e, n);
    bk_s3_client_free(c);
}

static void slowdown_retried_then_succeeds(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    ms3_fault_rule f;
    ms3_fault_rule_init(&f);
    f.operation = "PutObject";
    f.first_n = 2;
    f.action = MS3_FAULT_ERROR;
    f.status = 503;
    f.error_code = "SlowDown";
    uint64_t id = add_fault(&f);
    int sleeps = fk.sleeps;
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    int rc = bk_s3_put_mem(c, "retry/ok", "payload", 7, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(ms3_server_fault_fired(srv, id), 2);
    assert_int_equal(fk.sleeps - sleeps, 2); /* a backoff before each retry */
    ms3_journal_entry *e;
    size_t n = query_op("PutObject", "retry/ok", &e);
    assert_int_equal(n, 3);
    /* Each attempt signed afresh: its own x-amz-date, all valid, full body each time. */
    for (size_t i = 0; i < n; i++) {
        assert_true(e[i].auth_ok);
        assert_int_equal(e[i].request_body_size, 7);
        const char *d = strstr(e[i].headers_json, "\"x-amz-date\":\"");
        assert_non_null(d);
        for (size_t j = 0; j < i; j++)
            assert_true(strncmp(d, strstr(e[j].headers_json, "\"x-amz-date\":\""), 32) != 0);
    }
    assert_int_equal(e[0].status, 503);
    assert_int_equal(e[2].status, 200);
    ms3_journal_entries_free(e, n);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void persistent_errors_fail_clearly(void **state)
{
    (void)state;
    bk_s3_config cfg;
    base_config(&cfg);
    bk_s3_client *c = new_client(&cfg);
    ms3_fault_rule f;
    ms3_fault_rule_init(&f);
    f.key_glob = "fail/*";
    f.action = MS3_FAULT_ERROR;
    f.status = 503;
    f.error_code = "SlowDown";
    uint64_t id = add_fault(&f);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    assert_int_equal(bk_s3_put_mem(c, "fail/a", "x", 1, NULL, &r, &err), BK_ES3);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(ms3_server_fault_fired(srv, id), 3);
    assert_non_null(strstr(err.msg, "PutObject s3://" BUCKET "/fail/a"));
    assert_non_null(strstr(err.msg, "503 SlowDown"));
    assert_non_null(strstr(err.msg, "3 attempts"));
    bk_s3_client_free(c);

    /* retry_max_attempts is honoured. */
    cfg.retry.max_attempts = 5;
    c = new_client(&cfg);
    assert_int_equal(bk_s3_put_mem(c, "fail/b", "x", 1, NULL, &r, &err), BK_ES3);
    assert_int_equal(count_op("PutObject", "fail/b"), 5);
    ms3_server_clear_faults(srv);

    /* 500 InternalError on GET: retried too. */
    ms3_fault_rule_init(&f);
    f.operation = "GetObject";
    f.first_n = 1;
    f.action = MS3_FAULT_ERROR;
    f.status = 500;
    f.error_code = "InternalError";
    add_fault(&f);
    assert_int_equal(bk_s3_put_mem(c, "fine/a", "abc", 3, NULL, &r, &err), BK_OK);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_s3_get_to_buf(c, "fine/a", NULL, 10, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "abc");
    assert_int_equal(r.attempts, 2);
    bk_buf_clear(&b);
    ms3_server_clear_faults(srv);

    /* A 403 is final: one attempt. */
    ms3_fault_rule_init(&f);
    f.operation = "PutObject";
    f.action = MS3_FAULT_ERROR;
    f.status = 403;
    f.error_code = "AccessDenied";
    add_fault(&f);
    assert_int_equal(bk_s3_put_mem(c, "denied/a", "x", 1, NULL, &r, &err), BK_EAUTH);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(count_op("PutObject", "denied/a"), 1);
    assert_non_null(strstr(err.msg, "AccessDenied"));
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void reset_mid_body_resends_from_source(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    char hex[65], got[65];
    const size_t size = 3 * BK_S3_MIB + 17;
    int fd = temp_file(size, 11, hex);
    ms3_fault_rule f;
    ms3_fault_rule_init(&f);
    f.operation = "PutObject";
    f.first_n = 1;
    f.action = MS3_FAULT_CUT_REQUEST;
    f.cut_after = 1000000;
    uint64_t id = add_fault(&f);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    int rc = bk_s3_put_fd(c, "cut/put", fd, 0, size, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(ms3_server_fault_fired(srv, id), 1);
    assert_int_equal(r.attempts, 2);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(srv, BUCKET, "cut/put", &info, &err), 0);
    assert_int_equal(info.size, size);
    free(info.metadata_json);
    get_sha(c, "cut/put", got, &r);
    assert_string_equal(got, hex);

    /* A GET cut mid-body resumes with Range from the bytes already delivered,
     * pinned to the same object with If-Match; the sink sees each byte once. */
    ms3_fault_rule_init(&f);
    f.operation = "GetObject";
    f.first_n = 1;
    f.action = MS3_FAULT_CUT_RESPONSE;
    f.cut_after = 1234567;
    id = add_fault(&f);
    get_sha(c, "cut/put", got, &r);
    assert_string_equal(got, hex);
    assert_int_equal(ms3_server_fault_fired(srv, id), 1);
    ms3_journal_entry *e;
    size_t n = query_op("GetObject", "cut/put", &e);
    assert_true(n >= 3);
    const char *h = e[n - 1].headers_json;
    assert_true(has_header(h, "\"range\":\"bytes=1234567-\""));
    assert_true(has_header(h, "\"if-match\":"));
    assert_int_equal(e[n - 1].status, 206);
    ms3_journal_entries_free(e, n);
    close(fd);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void timeouts_retried_then_reported(void **state)
{
    (void)state;
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.request_timeout_ms = 1000;
    cfg.retry.max_attempts = 2;
    bk_s3_client *c = new_client(&cfg);
    ms3_fault_rule f;
    ms3_fault_rule_init(&f);
    f.operation = "HeadObject";
    f.action = MS3_FAULT_DELAY;
    f.delay_ms = 4000;
    f.first_n = 1;
    uint64_t id = add_fault(&f);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    assert_int_equal(bk_s3_put_mem(c, "slow/a", "x", 1, NULL, &r, &err), BK_OK);
    /* The first HEAD times out, the second answers. */
    assert_int_equal(bk_s3_head(c, "slow/a", &r, &err), BK_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(ms3_server_fault_fired(srv, id), 1);
    ms3_server_clear_faults(srv);
    f.first_n = 0;
    id = add_fault(&f);
    assert_int_equal(bk_s3_head(c, "slow/a", &r, &err), BK_ETIMEOUT);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(ms3_server_fault_fired(srv, id), 2);
    assert_non_null(strstr(err.msg, "HeadObject s3://" BUCKET "/slow/a"));
    assert_non_null(strstr(err.msg, "2 attempts"));
    ms3_server_clear_faults(srv);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void error_inside_200(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    assert_int_equal(bk_s3_put_mem(c, "e200/a", "abc", 3, NULL, &r, &err), BK_OK);
    ms3_fault_rule f;
    ms3_fault_rule_init(&f);
    f.operation = "CopyObject";
    f.first_n = 1;
    f.action = MS3_FAULT_ERROR_200;
    f.error_code = "InternalError";
    uint64_t id = add_fault(&f);
    bk_s3_copy_options co = {.directive = BK_S3_METADATA_COPY};
    assert_int_equal(bk_s3_copy(c, "e200/a", "e200/b", &co, &r, &err), BK_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(ms3_server_fault_fired(srv, id), 1);
    ms3_server_clear_faults(srv);

    /* Non-retryable code inside a 200: a failure at once. */
    ms3_fault_rule_init(&f);
    f.operation = "CopyObject";
    f.action = MS3_FAULT_ERROR_200;
    f.error_code = "AccessDenied";
    add_fault(&f);
    assert_int_not_equal(bk_s3_copy(c, "e200/a", "e200/c", &co, &r, &err), BK_OK);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(err.msg, "AccessDenied"));
    assert_non_null(strstr(err.msg, "inside a 200"));
    ms3_server_clear_faults(srv);

    /* CompleteMultipartUpload failing inside 200: reported, upload aborted. */
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.multipart_threshold = 5 * BK_S3_MIB;
    cfg.part_size = 5 * BK_S3_MIB;
    bk_s3_client_free(c);
    c = new_client(&cfg);
    ms3_fault_rule_init(&f);
    f.operation = "CompleteMultipartUpload";
    f.action = MS3_FAULT_ERROR_200;
    f.error_code = "InternalError";
    add_fault(&f);
    int fd = temp_file(6 * BK_S3_MIB, 5, NULL);
    assert_int_not_equal(bk_s3_upload_fd(c, "e200/mpu", fd, 0, 6 * BK_S3_MIB, NULL, &r, &err),
                         BK_OK);
    close(fd);
    assert_int_equal(count_op("CompleteMultipartUpload", "e200/mpu"), 3);
    assert_int_equal(count_op("AbortMultipartUpload", "e200/mpu"), 1);
    assert_int_equal(ms3_server_upload_count(srv), 0);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void ranged_reads_are_checked(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    char data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(bk_s3_put_mem(c, "rng/a", data, sizeof data, NULL, &r, &err), BK_OK);

    ms3_fault_rule f;
    ms3_fault_rule_init(&f);
    f.operation = "GetObject";
    f.action = MS3_FAULT_TINY_CHUNKS;
    add_fault(&f);
    bk_buf b = BK_BUF_INIT;
    bk_s3_range range = {100, 3999, 1};
    assert_int_equal(bk_s3_get_to_buf(c, "rng/a", &range, 10000, &b, &r, &err), BK_OK);
    assert_int_equal(b.len, 3900);
    assert_memory_equal(b.data, data + 100, 3900);
    ms3_server_clear_faults(srv);

    /* A server that ignores Range (a 200 with the whole object, which HTTP
     * allows): the sink gets exactly the bytes asked for, taken from it. */
    ms3_fault_rule_init(&f);
    f.operation = "GetObject";
    f.action = MS3_FAULT_IGNORE_RANGE;
    add_fault(&f);
    bk_buf_reset(&b);
    if (bk_s3_get_to_buf(c, "rng/a", &range, 10000, &b, &r, &err) != BK_OK)
        fail_msg("a ranged GET answered whole: %s", err.msg);
    assert_int_equal(b.len, 3900);
    assert_memory_equal(b.data, data + 100, 3900);
    assert_int_equal(r.status, 200);
    ms3_server_clear_faults(srv);

    /* HEAD without Last-Modified: reported as absent, not invented. */
    ms3_fault_rule_init(&f);
    f.operation = "HeadObject";
    f.action = MS3_FAULT_HEAD_NO_LAST_MODIFIED;
    add_fault(&f);
    assert_int_equal(bk_s3_head(c, "rng/a", &r, &err), BK_OK);
    assert_false(r.has_last_modified);
    assert_int_equal(r.size, sizeof data);
    ms3_server_clear_faults(srv);
    bk_buf_clear(&b);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void head_errors_explain_themselves(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    ms3_bucket_policy p;
    memset(&p, 0, sizeof p);
    p.access = MS3_ACCESS_NO_LIST;
    ms3_server_set_bucket_policy(srv, BUCKET, &p, NULL);
    assert_int_equal(bk_s3_head(c, "absent/key", &r, &err), BK_EAUTH);
    assert_int_equal(r.status, 403);
    assert_false(bk_s3_result_is_not_found(&r));
    assert_non_null(strstr(err.msg, "HeadObject s3://" BUCKET "/absent/key"));
    assert_non_null(strstr(err.msg, "s3:ListBucket"));
    memset(&p, 0, sizeof p);
    ms3_server_set_bucket_policy(srv, BUCKET, &p, NULL);

    /* Expired session credentials: HEAD gets a body-less 400. */
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.access_key_id = TOKEN_AKID;
    cfg.secret_access_key = TOKEN_SECRET;
    cfg.session_token = TOKEN;
    bk_s3_client *tc = new_client(&cfg);
    assert_int_equal(bk_s3_put_mem(tc, "tok/a", "x", 1, NULL, &r, &err), BK_OK);
    ms3_journal_entry *e;
    size_t n = query_op("PutObject", "tok/a", &e);
    assert_int_equal(n, 1);
    assert_true(e[0].auth_ok);
    assert_true(has_header(e[0].headers_json, "x-amz-security-token"));
    ms3_journal_entries_free(e, n);
    assert_int_equal(ms3_server_set_credentials_expiry(srv, TOKEN_AKID, 1000, &err), 0);
    assert_int_not_equal(bk_s3_head(tc, "tok/a", &r, &err), BK_OK);
    assert_int_equal(r.status, 400);
    assert_false(bk_s3_result_is_not_found(&r));
    assert_non_null(strstr(err.msg, "HeadObject s3://" BUCKET "/tok/a"));
    assert_non_null(strstr(err.msg, "expired session token"));
    ms3_server_set_credentials_expiry(srv, TOKEN_AKID, 0, &err);
    bk_s3_client_free(tc);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void accept_encoding_rules(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_s3_client *c = default_client();
    assert_int_equal(bk_s3_put_mem(c, "ae/default", "x", 1, NULL, &r, &err), BK_OK);
    /* GCS's front end appends to the signed Accept-Encoding: the default client breaks... */
    ms3_server_set_proxy_mode(srv, MS3_PROXY_GFE_ACCEPT_ENCODING);
    assert_int_equal(bk_s3_put_mem(c, "ae/gfe", "x", 1, NULL, &r, &err), BK_EAUTH);
    assert_string_equal(r.s3_code, "SignatureDoesNotMatch");

    /* ...disable_accept_encoding sends none at all (never an empty one) and works. */
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.disable_accept_encoding = 1;
    bk_s3_client *nc = new_client(&cfg);
    assert_int_equal(bk_s3_put_mem(nc, "ae/none", "x", 1, NULL, &r, &err), BK_OK);
    ms3_server_set_proxy_mode(srv, 0);
    ms3_journal_entry *e;
    size_t n = query_op("PutObject", "ae/", &e);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        int is_none = strcmp(e[i].key, "ae/none") == 0;
        if (is_none)
            assert_false(has_header(e[i].headers_json, "accept-encoding"));
        else if (strcmp(e[i].key, "ae/default") == 0)
            assert_true(has_header(e[i].headers_json, "\"accept-encoding\":\"identity\""));
    }
    ms3_journal_entries_free(e, n);

    /* Metadata names: [a-z0-9-]+ only; an underscore is refused before sending. */
    bk_s3_meta bad[] = {{"updated_at", "x"}};
    bk_s3_put_options po = {.meta = bad, .n_meta = 1};
    assert_int_equal(bk_s3_put_mem(nc, "ae/meta", "x", 1, &po, &r, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "[a-z0-9-]+"));
    /* An nginx-like proxy that drops '_' headers changes nothing for us. */
    ms3_server_set_proxy_mode(srv, MS3_PROXY_DROP_UNDERSCORE_HEADERS);
    bk_s3_meta good[] = {{"updated-at", "now"}};
    po.meta = good;
    assert_int_equal(bk_s3_put_mem(nc, "ae/meta", "x", 1, &po, &r, &err), BK_OK);
    ms3_server_set_proxy_mode(srv, 0);
    bk_s3_client_free(nc);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void part_copy_ranges_stop_at_the_last_byte(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    const size_t size = 12 * BK_S3_MIB;
    int fd = temp_file(size, 9, NULL);
    assert_int_equal(bk_s3_upload_fd(c, "pc/src", fd, 0, size, NULL, &r, &err), BK_OK);
    close(fd);
    bk_s3_meta meta[] = {{"updated-at", "touched"}};
    bk_s3_copy_options co = {.directive = BK_S3_METADATA_REPLACE, .meta = meta, .n_meta = 1};
    int rc = bk_s3_copy_any_size(c, "pc/src", "pc/src", size, 5 * BK_S3_MIB, &co, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    ms3_journal_entry *e;
    size_t n = query_op("UploadPartCopy", "pc/", &e);
    assert_int_equal(n, 3);
    const char *want[] = {"bytes=0-5242879", "bytes=5242880-10485759", "bytes=10485760-12582911"};
    for (int p = 0; p < 3; p++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= strstr(e[i].headers_json, want[p]) != NULL;
        assert_true(found);
    }
    ms3_journal_entries_free(e, n);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(srv, BUCKET, "pc/src", &info, &err), 0);
    assert_int_equal(info.size, size);
    assert_non_null(strstr(info.metadata_json, "touched"));
    free(info.metadata_json);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void credentials_from_environment_and_none(void **state)
{
    (void)state;
    const char *kv[] = {"AWS_ACCESS_KEY_ID",
                        TOKEN_AKID,
                        "AWS_SECRET_ACCESS_KEY",
                        TOKEN_SECRET,
                        "AWS_SESSION_TOKEN",
                        TOKEN,
                        "HOME",
                        "/nonexistent",
                        NULL};
    bk_env env = {bk_test_env_table_get, kv};
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.access_key_id = "LONEKEY"; /* alone: ignored, as upstream */
    cfg.secret_access_key = NULL;
    cfg.env = &env;
    bk_s3_client *c = new_client(&cfg);
    bk_err err = {0};
    assert_int_equal(bk_s3_put_mem(c, "env/a", "x", 1, NULL, NULL, &err), BK_OK);
    ms3_journal_entry *e;
    size_t n = query_op("PutObject", "env/a", &e);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].access_key_id, TOKEN_AKID);
    ms3_journal_entries_free(e, n);
    bk_s3_client_free(c);

    const char *none[] = {"HOME", "/nonexistent", "AWS_EC2_METADATA_DISABLED", "true", NULL};
    env.ud = none;
    cfg.access_key_id = NULL;
    c = new_client(&cfg);
    bk_s3_result r = BK_S3_RESULT_INIT;
    assert_int_equal(bk_s3_head(c, "env/a", &r, &err), BK_EAUTH);
    assert_non_null(strstr(err.msg, "no AWS credentials found"));
    assert_int_equal(r.attempts, 1);
    assert_int_equal(count_op("HeadObject", "env/"), 0); /* nothing was sent */
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void optional_checksums_are_consistent(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    /* Object-lock style bucket: Content-MD5 required. */
    ms3_bucket_policy p;
    memset(&p, 0, sizeof p);
    p.require_content_md5 = 1;
    ms3_server_set_bucket_policy(srv, BUCKET, &p, NULL);
    bk_s3_client *c = default_client();
    assert_int_not_equal(bk_s3_put_mem(c, "md5/a", "x", 1, NULL, &r, &err), BK_OK);
    bk_s3_client_free(c);
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.send_content_md5 = 1;
    c = new_client(&cfg);
    assert_int_equal(bk_s3_put_mem(c, "md5/a", "x", 1, NULL, &r, &err), BK_OK);
    bk_s3_client_free(c);
    memset(&p, 0, sizeof p);
    ms3_server_set_bucket_policy(srv, BUCKET, &p, NULL);

    /* The trailer option: aws-chunked with a CRC32 trailer on every part,
     * the algorithm declared at create and the checksums listed at complete. */
    base_config(&cfg);
    cfg.send_checksum_trailer = 1;
    cfg.multipart_threshold = 5 * BK_S3_MIB;
    cfg.part_size = 5 * BK_S3_MIB;
    c = new_client(&cfg);
    char hex[65], got[65];
    int fd = temp_file(11 * BK_S3_MIB, 21, hex);
    int rc = bk_s3_upload_fd(c, "trl/mpu", fd, 0, 11 * BK_S3_MIB, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    assert_int_equal(bk_s3_put_fd(c, "trl/one", fd, 5, 100000, NULL, &r, &err), BK_OK);
    close(fd);
    ms3_journal_entry *e;
    size_t n = query_op("UploadPart", "trl/", &e);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(e[i].auth, "streaming-unsigned-trailer");
        assert_true(has_header(e[i].headers_json, "x-amz-checksum-crc32"));
    }
    ms3_journal_entries_free(e, n);
    n = query_op("PutObject", "trl/one", &e);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].decoded_body_size, 100000);
    ms3_journal_entries_free(e, n);
    get_sha(c, "trl/mpu", got, &r);
    assert_string_equal(got, hex);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

/* A client with the SDK's flexible checksums (bk_s3_config checksum_*). */
static bk_s3_client *checksum_client(bk_checksum_alg alg, int trailer, int declared)
{
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.checksum_algorithm = alg;
    cfg.checksum_trailer = trailer;
    cfg.checksum_declared = declared;
    cfg.multipart_threshold = 5 * BK_S3_MIB;
    cfg.part_size = 5 * BK_S3_MIB;
    return new_client(&cfg);
}

/* The one journal entry of op on key. */
static ms3_journal_entry *entry_of(const char *op, const char *key, size_t *n)
{
    ms3_journal_entry *e = NULL;
    *n = query_op(op, key, &e);
    assert_true(*n >= 1);
    return e;
}

/* Each checksum as the SDK sends it: a header (computed before, the mock
 * checks it) or an aws-chunked trailer, declared with
 * x-amz-sdk-checksum-algorithm or not; an empty body never goes aws-chunked. */
static void sdk_checksums_as_sent(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    struct {
        bk_checksum_alg alg;
        int trailer, declared;
        const char *key, *header, *auth;
    } cases[] = {
        {BK_CHECKSUM_CRC32, 0, 0, "ck/crc32", "\"x-amz-checksum-crc32\":", "header"},
        {BK_CHECKSUM_CRC32C, 0, 1, "ck/crc32c", "\"x-amz-checksum-crc32c\":", "header"},
        {BK_CHECKSUM_SHA256, 1, 1, "ck/sha256", "\"x-amz-trailer\":\"x-amz-checksum-sha256\"",
         "streaming-unsigned-trailer"},
        {BK_CHECKSUM_CRC32, 1, 0, "ck/trailer", "\"x-amz-trailer\":\"x-amz-checksum-crc32\"",
         "streaming-unsigned-trailer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_s3_client *c = checksum_client(cases[i].alg, cases[i].trailer, cases[i].declared);
        int rc = bk_s3_put_mem(c, cases[i].key, "checksummed", 11, NULL, &r, &err);
        if (rc != BK_OK)
            fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(rc, BK_OK);
        size_t n;
        ms3_journal_entry *e = entry_of("PutObject", cases[i].key, &n);
        assert_true(has_header(e[0].headers_json, cases[i].header));
        assert_string_equal(e[0].auth, cases[i].auth);
        assert_int_equal(has_header(e[0].headers_json, "x-amz-sdk-checksum-algorithm"),
                         cases[i].declared);
        assert_int_equal(e[0].decoded_body_size, 11);
        ms3_journal_entries_free(e, n);
        bk_s3_client_free(c);
    }
    /* Nothing to chunk: the SDK sends an empty body's checksum as a header. */
    bk_s3_client *c = checksum_client(BK_CHECKSUM_CRC32, 1, 1);
    assert_int_equal(bk_s3_put_mem(c, "ck/empty", "", 0, NULL, &r, &err), BK_OK);
    size_t n;
    ms3_journal_entry *e = entry_of("PutObject", "ck/empty", &n);
    assert_true(has_header(e[0].headers_json, "\"x-amz-checksum-crc32\":\"AAAAAA==\""));
    assert_string_equal(e[0].auth, "header");
    ms3_journal_entries_free(e, n);
    bk_s3_client_free(c);
    bk_s3_result_clear(&r);
}

/* Multipart: a declared algorithm is on Create and each part's checksum at
 * Complete (S3 accepts); the SDK's undeclared default is not, and S3 answers
 * InvalidPart at Complete, as BuildKit v0.26.0 met on AWS. */
static void sdk_checksums_multipart(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    char hex[65], got[65];
    int fd = temp_file(11 * BK_S3_MIB, 33, hex);
    bk_s3_client *c = checksum_client(BK_CHECKSUM_CRC32C, 1, 1);
    int rc = bk_s3_upload_fd(c, "mck/declared", fd, 0, 11 * BK_S3_MIB, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    get_sha(c, "mck/declared", got, &r);
    assert_string_equal(got, hex);
    size_t n;
    ms3_journal_entry *e = entry_of("CreateMultipartUpload", "mck/declared", &n);
    assert_true(has_header(e[0].headers_json, "\"x-amz-checksum-algorithm\":\"CRC32C\""));
    ms3_journal_entries_free(e, n);
    bk_s3_client_free(c);

    for (int trailer = 0; trailer <= 1; trailer++) {
        c = checksum_client(BK_CHECKSUM_CRC32, trailer, 0);
        const char *key = trailer ? "mck/undeclared-trailer" : "mck/undeclared-header";
        assert_int_equal(bk_s3_upload_fd(c, key, fd, 0, 11 * BK_S3_MIB, NULL, &r, &err), BK_ES3);
        assert_string_equal(r.s3_code, "InvalidPart");
        e = entry_of("CreateMultipartUpload", key, &n);
        assert_false(has_header(e[0].headers_json, "x-amz-checksum-algorithm"));
        ms3_journal_entries_free(e, n);
        e = entry_of("UploadPart", key, &n);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
            assert_true(has_header(e[i].headers_json,
                                   trailer ? "\"x-amz-trailer\":" : "\"x-amz-checksum-crc32\":"));
            assert_false(has_header(e[i].headers_json, "x-amz-sdk-checksum-algorithm"));
        }
        ms3_journal_entries_free(e, n);
        bk_s3_client_free(c);
    }
    close(fd);
    bk_s3_result_clear(&r);

    /* What cannot be sent is refused when the client is made. */
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.checksum_algorithm = BK_CHECKSUM_MD5;
    assert_null(bk_s3_client_new(&cfg, &err));
    base_config(&cfg);
    cfg.checksum_trailer = 1;
    assert_null(bk_s3_client_new(&cfg, &err));
    base_config(&cfg);
    cfg.accept_encoding_gzip = 1;
    assert_null(bk_s3_client_new(&cfg, &err));
    assert_non_null(strstr(err.msg, "disable_accept_encoding"));
}

/* Go's transport after disable_accept_encoding: an unsigned gzip on GETs
 * without Range and PUTs, none on HEAD and ranged GETs; v0.11's updated_at
 * when asked for. */
static void unsigned_gzip_and_underscores(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.disable_accept_encoding = 1;
    cfg.accept_encoding_gzip = 1;
    cfg.metadata_underscores = 1;
    bk_s3_client *c = new_client(&cfg);
    bk_s3_meta meta[] = {{"updated_at", "now"}};
    bk_s3_put_options po = {.meta = meta, .n_meta = 1};
    assert_int_equal(bk_s3_put_mem(c, "gz/a", "gzipped?", 8, &po, &r, &err), BK_OK);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_s3_get_to_buf(c, "gz/a", NULL, 64, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "gzipped?");
    assert_string_equal(bk_s3_result_meta(&r, "updated_at"), "now");
    bk_s3_range range = {2, 0, 0};
    bk_buf_reset(&b);
    assert_int_equal(bk_s3_get_to_buf(c, "gz/a", &range, 64, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "ipped?");
    assert_int_equal(bk_s3_head(c, "gz/a", &r, &err), BK_OK);
    ms3_journal_entry *e = NULL;
    size_t n = query_op(NULL, "gz/", &e);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        int ranged = has_header(e[i].headers_json, "\"range\":");
        int head = strcmp(e[i].method, "HEAD") == 0;
        assert_int_equal(has_header(e[i].headers_json, "\"accept-encoding\":\"gzip\""),
                         !ranged && !head);
        assert_true(e[i].auth_ok); /* the signature never covers it */
    }
    ms3_journal_entries_free(e, n);
    bk_buf_clear(&b);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void virtual_host_style(void **state)
{
    (void)state;
    bk_s3_config cfg;
    base_config(&cfg);
    char url[64];
    snprintf(url, sizeof url, "http://localhost:%u", (unsigned)ms3_server_port(srv));
    cfg.endpoint_url = url;
    cfg.use_path_style = 0;
    bk_s3_client *c = new_client(&cfg);
    bk_err err = {0};
    bk_s3_result r = BK_S3_RESULT_INIT;
    int rc = bk_s3_put_mem(c, "vh/a b:c", "data", 4, NULL, &r, &err);
    if (rc != BK_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, BK_OK);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_s3_get_to_buf(c, "vh/a b:c", NULL, 10, &b, &r, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), "data");
    ms3_journal_entry *e;
    size_t n = query_op("PutObject", "vh/", &e);
    assert_int_equal(n, 1);
    assert_true(has_header(e[0].headers_json, "\"host\":\"" BUCKET ".localhost:"));
    ms3_journal_entries_free(e, n);
    bk_buf_clear(&b);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

/* Runs last: nothing this file did put a secret in the journal. */
static void secrets_stay_secret(void **state)
{
    (void)state;
    bk_s3_client *c = default_client();
    bk_err err = {0};
    assert_int_equal(bk_s3_put_mem(c, "sec/a", "x", 1, NULL, NULL, &err), BK_OK);
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.secret_access_key = "wrong-" SECRET;
    bk_s3_client *bad = new_client(&cfg);
    assert_int_equal(bk_s3_head(bad, "sec/a", NULL, &err), BK_EAUTH);
    assert_null(strstr(err.msg, SECRET));
    assert_int_equal(bk_s3_put_mem(bad, "sec/b", "x", 1, NULL, NULL, &err), BK_EAUTH);
    assert_null(strstr(err.msg, SECRET));
    char *journal = ms3_journal_json(srv, NULL);
    assert_non_null(journal);
    assert_null(strstr(journal, SECRET));
    assert_null(strstr(journal, TOKEN_SECRET));
    free(journal);
    bk_s3_client_free(bad);
    bk_s3_client_free(c);
}

/* What an upload will hash: the part size bk_s3_upload_fd cuts (doubled past
 * 10,000 parts, none below the threshold), whether payloads are signed by
 * their hash, and the count of bytes hashed (a hash handed in is not). */
static void upload_geometry_and_payload_hashing(void **state)
{
    (void)state;
    bk_s3_config cfg;
    base_config(&cfg);
    cfg.multipart_threshold = 16 * BK_S3_MIB;
    cfg.part_size = 8 * BK_S3_MIB;
    bk_s3_client *c = new_client(&cfg);
    assert_int_equal(bk_s3_upload_part_size(c, 16 * BK_S3_MIB - 1), 0);
    assert_int_equal(bk_s3_upload_part_size(c, 16 * BK_S3_MIB), 8 * BK_S3_MIB);
    uint64_t huge = (uint64_t)10001 * 8 * BK_S3_MIB;
    assert_int_equal(bk_s3_upload_part_size(c, huge), 16 * BK_S3_MIB);
    assert_int_equal(bk_s3_client_hashes_payloads(c), 1); /* plain http */
    bk_err err = {0};
    unsigned long long before = bk_s3_client_bytes_hashed(c);
    assert_int_equal(bk_s3_put_mem(c, "hashed/a", "twelve bytes", 12, NULL, NULL, &err), BK_OK);
    assert_int_equal(bk_s3_client_bytes_hashed(c) - before, 12);
    char hex[65];
    bk_sigv4_sha256_hex("given", 5, hex);
    bk_s3_put_options o = {0};
    o.payload_sha256 = hex;
    assert_int_equal(bk_s3_put_mem(c, "hashed/b", "given", 5, &o, NULL, &err), BK_OK);
    assert_int_equal(bk_s3_client_bytes_hashed(c) - before, 12);
    bk_s3_client_free(c);
    cfg.send_checksum_trailer = 1; /* aws-chunked with a trailer: no payload hash */
    c = new_client(&cfg);
    assert_int_equal(bk_s3_client_hashes_payloads(c), 0);
    bk_s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(every_operation, reset_mock),
        cmocka_unit_test_setup(upload_20_mib_is_create_3_parts_complete, reset_mock),
        cmocka_unit_test_setup(upload_geometry_and_payload_hashing, reset_mock),
        cmocka_unit_test_setup(connections_stay_at_parallelism, reset_mock),
        cmocka_unit_test_setup(slowdown_retried_then_succeeds, reset_mock),
        cmocka_unit_test_setup(persistent_errors_fail_clearly, reset_mock),
        cmocka_unit_test_setup(reset_mid_body_resends_from_source, reset_mock),
        cmocka_unit_test_setup(timeouts_retried_then_reported, reset_mock),
        cmocka_unit_test_setup(error_inside_200, reset_mock),
        cmocka_unit_test_setup(ranged_reads_are_checked, reset_mock),
        cmocka_unit_test_setup(head_errors_explain_themselves, reset_mock),
        cmocka_unit_test_setup(accept_encoding_rules, reset_mock),
        cmocka_unit_test_setup(part_copy_ranges_stop_at_the_last_byte, reset_mock),
        cmocka_unit_test_setup(credentials_from_environment_and_none, reset_mock),
        cmocka_unit_test_setup(optional_checksums_are_consistent, reset_mock),
        cmocka_unit_test_setup(sdk_checksums_as_sent, reset_mock),
        cmocka_unit_test_setup(sdk_checksums_multipart, reset_mock),
        cmocka_unit_test_setup(unsigned_gzip_and_underscores, reset_mock),
        cmocka_unit_test_setup(virtual_host_style, reset_mock),
        cmocka_unit_test_setup(secrets_stay_secret, NULL),
    };
    return cmocka_run_group_tests(tests, start_mock, stop_mock);
}
