/* Fault injection: matching (method, operation, key glob), occurrence selection
 * (nth, every nth, first N, seeded probability, max fires) and every action kind,
 * performed on a real connection (test_inproc sees them reported in process);
 * on a server of one pool thread, where a delay must park its connection and
 * hold up no other, and again with a thread per connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms3_test.h"

static ms3_server *srv;
static ms3_options group_options; /* how the group's servers serve connections */

static int setup_pool(void **state)
{
    (void)state;
    ms3t_default_options(&group_options);
    group_options.threads = 1; /* one thread for every connection: a sleeping handler would
                                  block them all */
    srv = ms3t_start(&group_options);
    return srv != NULL ? 0 : -1;
}

static int setup_thread_per_connection(void **state)
{
    (void)state;
    ms3t_default_options(&group_options);
    group_options.thread_per_connection = 1;
    srv = ms3t_start(&group_options);
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
    return ms3_server_put_object(srv, T_BUCKET, "blobs/one", "0123456789", 10, NULL, NULL);
}

static uint64_t add(ms3_fault_rule *rule)
{
    uint64_t id = 0;
    bk_err err;
    assert_int_equal(ms3_server_add_fault(srv, rule, &id, &err), 0);
    assert_true(id > 0);
    return id;
}

static long get_status(const char *target)
{
    ms3t_response r;
    ms3t_simple(srv, "GET", target, NULL, 0, &r);
    long s = r.status;
    ms3t_response_free(&r);
    return s;
}

static void test_nth_and_codes(void **state)
{
    (void)state;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.operation = "GetObject";
    rule.nth = 2;
    uint64_t id = add(&rule);
    assert_int_equal(get_status("/bkt/blobs/one"), 200);
    ms3t_response r;
    char buf[128];
    ms3t_simple(srv, "GET", "/bkt/blobs/one", NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "SlowDown");
    ms3t_response_free(&r);
    assert_int_equal(get_status("/bkt/blobs/one"), 200);
    assert_int_equal(ms3_server_fault_fired(srv, id), 1);

    /* Other statuses map to their S3 codes; an explicit code wins. */
    ms3_server_clear_faults(srv);
    int statuses[] = {500, 403, 404};
    const char *codes[] = {"InternalError", "AccessDenied", "NoSuchKey"};
    for (int i = 0; i < 3; i++) {
        ms3_fault_rule_init(&rule);
        rule.status = statuses[i];
        rule.max_fires = 1;
        add(&rule);
        ms3t_simple(srv, "GET", "/bkt/blobs/one", NULL, 0, &r);
        assert_int_equal(r.status, statuses[i]);
        assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), codes[i]);
        ms3t_response_free(&r);
        ms3_server_clear_faults(srv);
    }
    ms3_fault_rule_init(&rule);
    rule.status = 400;
    rule.error_code = "ExpiredToken";
    rule.error_message = "custom text";
    add(&rule);
    ms3t_simple(srv, "GET", "/bkt/blobs/one", NULL, 0, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "ExpiredToken");
    assert_string_equal(ms3t_xml(&r, "Message", buf, sizeof(buf)), "custom text");
    ms3t_response_free(&r);
}

static void test_first_every_max(void **state)
{
    (void)state;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.first_n = 2;
    rule.status = 500;
    uint64_t first = add(&rule);
    long seq[6];
    for (int i = 0; i < 6; i++)
        seq[i] = get_status("/bkt/blobs/one");
    assert_int_equal(seq[0], 500);
    assert_int_equal(seq[1], 500);
    for (int i = 2; i < 6; i++)
        assert_int_equal(seq[i], 200);
    assert_int_equal(ms3_server_fault_fired(srv, first), 2);

    ms3_server_clear_faults(srv);
    ms3_fault_rule_init(&rule);
    rule.every_nth = 3;
    rule.max_fires = 2;
    uint64_t every = add(&rule);
    for (int i = 1; i <= 12; i++) {
        long s = get_status("/bkt/blobs/one");
        assert_int_equal(s, (i == 3 || i == 6) ? 503 : 200);
    }
    assert_int_equal(ms3_server_fault_fired(srv, every), 2);
}

static void test_probability_seeded(void **state)
{
    (void)state;
    long pattern[2][40];
    for (int run = 0; run < 2; run++) {
        ms3_server_clear_faults(srv);
        ms3_fault_rule rule;
        ms3_fault_rule_init(&rule);
        rule.probability = 0.5;
        rule.seed = 42;
        add(&rule);
        for (int i = 0; i < 40; i++)
            pattern[run][i] = get_status("/bkt/blobs/one");
    }
    int fired = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(pattern[0][i], pattern[1][i]); /* same seed, same pattern */
        fired += pattern[0][i] == 503;
    }
    assert_true(fired > 0 && fired < 40);
}

static void test_matching(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "manifests/x", "m", 1, NULL, NULL), 0);
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.key_glob = "blobs/*";
    rule.method = "HEAD";
    add(&rule);
    ms3t_response r;
    ms3t_simple(srv, "HEAD", "/bkt/blobs/one", NULL, 0, &r);
    assert_int_equal(r.status, 503);
    ms3t_response_free(&r);
    ms3t_simple(srv, "HEAD", "/bkt/manifests/x", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_int_equal(get_status("/bkt/blobs/one"), 200); /* GET is not HEAD */
    /* Journal tells which requests the fault answered. */
    ms3_journal_filter f = {0};
    f.status = 503;
    assert_int_equal(ms3_journal_count(srv, &f), 1);
}

static void test_delay(void **state)
{
    (void)state;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_DELAY;
    rule.delay_ms = 300;
    rule.max_fires = 1;
    add(&rule);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(get_status("/bkt/blobs/one"), 200);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(took >= 0.29); /* a lower bound only: the delay really happened */
}

/* A GET on its own thread. */
typedef struct slow_get {
    ms3_server *s;
    const char *target;
    long status;
    int done;
    pthread_mutex_t lock;
} slow_get;

static void *run_get(void *arg)
{
    slow_get *g = arg;
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = g->target;
    rq.sign = 1;
    rq.timeout_ms = 60000;
    ms3t_response r;
    ms3t_do(ms3_server_url(g->s), &rq, &r);
    pthread_mutex_lock(&g->lock);
    g->status = r.status;
    g->done = 1;
    pthread_mutex_unlock(&g->lock);
    ms3t_response_free(&r);
    return NULL;
}

static int get_done(slow_get *g)
{
    pthread_mutex_lock(&g->lock);
    int d = g->done;
    pthread_mutex_unlock(&g->lock);
    return d;
}

/* Starts a GET of target on its own thread, delayed by delay_ms on s, and
 * returns once the delay fault fired for it. */
static void start_delayed_get(ms3_server *s, const char *target, const char *key_glob,
                              uint32_t delay_ms, slow_get *g, pthread_t *t)
{
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_DELAY;
    rule.key_glob = key_glob;
    rule.delay_ms = delay_ms;
    uint64_t id = 0;
    assert_int_equal(ms3_server_add_fault(s, &rule, &id, NULL), 0);
    memset(g, 0, sizeof(*g));
    g->s = s;
    g->target = target;
    pthread_mutex_init(&g->lock, NULL);
    assert_int_equal(pthread_create(t, NULL, run_get, g), 0);
    while (ms3_server_fault_fired(s, id) == 0) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

/* A delayed request holds up no other, even when one thread serves all. */
static void test_delay_holds_up_no_other(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "blobs/two", "2", 1, NULL, NULL), 0);
    slow_get g;
    pthread_t t;
    start_delayed_get(srv, "/bkt/blobs/one", "blobs/one", 3000, &g, &t);
    for (int i = 0; i < 5; i++)
        assert_int_equal(get_status("/bkt/blobs/two"), 200);
    assert_false(get_done(&g)); /* the other requests did not wait for it */
    pthread_join(t, NULL);
    pthread_mutex_destroy(&g.lock);
    assert_int_equal(g.status, 200);
}

/* Stopping the server ends a delay at once: the client gets its answer or a
 * closed connection, and the stop neither waits for the delay nor aborts. */
static void test_stop_during_delay(void **state)
{
    (void)state;
    ms3_server *s = ms3t_start(&group_options);
    assert_non_null(s);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "k", "v", 1, NULL, NULL), 0);
    slow_get g;
    pthread_t t;
    start_delayed_get(s, "/bkt/k", NULL, 600000, &g, &t);
    struct timespec settle = {0, 50000000}; /* let it park or fall asleep */
    nanosleep(&settle, NULL);
    ms3_server_stop(s);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&g.lock);
    assert_true(g.done);
}

static void test_cut_response(void **state)
{
    (void)state;
    unsigned char data[5000];
    ms3t_fill(data, sizeof(data), 9);
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "big", data, sizeof(data), NULL, NULL),
                     0);
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_CUT_RESPONSE;
    rule.cut_after = 1234;
    rule.max_fires = 1;
    add(&rule);
    ms3t_response r;
    ms3t_simple(srv, "GET", "/bkt/big", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_not_equal(r.curl_code, CURLE_OK); /* the body ended early */
    assert_int_equal(r.body.len, 1234);
    assert_memory_equal(r.body.data, data, 1234);
    ms3t_response_free(&r);
    /* Resume with a range, as a client should. */
    const char *h[] = {"Range: bytes=1234-", NULL};
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt/big";
    rq.sign = 1;
    rq.headers = h;
    ms3t_do(ms3_server_url(srv), &rq, &r);
    assert_int_equal(r.status, 206);
    assert_int_equal(r.body.len, 5000 - 1234);
    assert_memory_equal(r.body.data, data + 1234, r.body.len);
    ms3t_response_free(&r);
    ms3_journal_filter f = {0};
    f.key_prefix = "big";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].response_size, 1234);
    assert_non_null(strstr(e[0].error_message, "cut"));
    ms3_journal_entries_free(e, n);
}

static void test_cut_request(void **state)
{
    (void)state;
    enum { N = 200000 };
    unsigned char *data = malloc(N);
    ms3t_fill(data, N, 3);
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_CUT_REQUEST;
    rule.operation = "PutObject";
    rule.cut_after = 50000;
    rule.max_fires = 1;
    add(&rule);
    ms3t_response r;
    ms3t_simple(srv, "PUT", "/bkt/cut", data, N, &r);
    assert_int_not_equal(r.curl_code, CURLE_OK);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 1); /* only blobs/one */
    ms3_journal_filter f = {0};
    f.key_prefix = "cut";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].status, 0);
    assert_true(e[0].request_body_size <= 50000);
    ms3_journal_entries_free(e, n);
    /* The retry goes through. */
    ms3t_simple(srv, "PUT", "/bkt/cut", data, N, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    free(data);
}

static void test_error_200(void **state)
{
    (void)state;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_ERROR_200;
    rule.operation = "CopyObject";
    rule.status = 500;
    add(&rule);
    ms3t_response r;
    char buf[128];
    const char *h[] = {"x-amz-copy-source: /bkt/blobs/one", NULL};
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/copy";
    rq.sign = 1;
    rq.headers = h;
    ms3t_do(ms3_server_url(srv), &rq, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ms3t_xml(&r, "Code", buf, sizeof(buf)), "InternalError");
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 1);
}

static void test_get_shapes(void **state)
{
    (void)state;
    enum { N = 3000 };
    unsigned char data[N];
    ms3t_fill(data, N, 4);
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "shape", data, N, NULL, NULL), 0);
    ms3_fault_rule rule;
    ms3t_response r;
    char buf[128];

    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_TINY_CHUNKS;
    rule.max_fires = 1;
    add(&rule);
    ms3t_simple(srv, "GET", "/bkt/shape", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, N);
    assert_memory_equal(r.body.data, data, N);
    ms3t_response_free(&r);

    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_IGNORE_RANGE;
    rule.max_fires = 1;
    add(&rule);
    const char *h[] = {"Range: bytes=100-199", NULL};
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt/shape";
    rq.sign = 1;
    rq.headers = h;
    ms3t_do(ms3_server_url(srv), &rq, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, N);
    assert_null(ms3t_header(&r, "Content-Range", buf, sizeof(buf)));
    ms3t_response_free(&r);

    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_HEAD_NO_LAST_MODIFIED;
    rule.max_fires = 1;
    add(&rule);
    ms3t_simple(srv, "HEAD", "/bkt/shape", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_null(ms3t_header(&r, "Last-Modified", buf, sizeof(buf)));
    assert_non_null(ms3t_header(&r, "ETag", buf, sizeof(buf)));
    ms3t_response_free(&r);

    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_HEAD_NO_CONTENT_LENGTH;
    rule.max_fires = 1;
    add(&rule);
    ms3t_simple(srv, "HEAD", "/bkt/shape", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_null(ms3t_header(&r, "Content-Length", buf, sizeof(buf)));
    assert_non_null(ms3t_header(&r, "Last-Modified", buf, sizeof(buf)));
    ms3t_response_free(&r);

    /* Rules are spent: the normal answer is back. */
    ms3t_simple(srv, "HEAD", "/bkt/shape", NULL, 0, &r);
    assert_string_equal(ms3t_header(&r, "Content-Length", buf, sizeof(buf)), "3000");
    ms3t_response_free(&r);
}

static void test_invalid_rules(void **state)
{
    (void)state;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.probability = 2;
    bk_err err;
    assert_int_not_equal(ms3_server_add_fault(srv, &rule, NULL, &err), 0);
    ms3_fault_rule_init(&rule);
    rule.action = (ms3_fault_action)99;
    assert_int_not_equal(ms3_server_add_fault(srv, &rule, NULL, &err), 0);
    ms3_fault_rule_init(&rule);
    rule.status = 42;
    assert_int_not_equal(ms3_server_add_fault(srv, &rule, NULL, &err), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_delay_holds_up_no_other, reset),
        cmocka_unit_test(test_stop_during_delay),
        cmocka_unit_test_setup(test_nth_and_codes, reset),
        cmocka_unit_test_setup(test_first_every_max, reset),
        cmocka_unit_test_setup(test_probability_seeded, reset),
        cmocka_unit_test_setup(test_matching, reset),
        cmocka_unit_test_setup(test_delay, reset),
        cmocka_unit_test_setup(test_cut_response, reset),
        cmocka_unit_test_setup(test_cut_request, reset),
        cmocka_unit_test_setup(test_error_200, reset),
        cmocka_unit_test_setup(test_get_shapes, reset),
        cmocka_unit_test_setup(test_invalid_rules, reset),
    };
    int rc = cmocka_run_group_tests_name("thread pool", tests, setup_pool, teardown);
    rc |= cmocka_run_group_tests_name("thread per connection", tests, setup_thread_per_connection,
                                      teardown);
    curl_global_cleanup();
    return rc;
}
