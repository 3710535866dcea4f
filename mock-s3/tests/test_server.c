/* The HTTP server: several instances per process, ephemeral ports, keep-alive,
 * 256 concurrent connections, a stalled client not blocking others, clean stop
 * with connections still open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ms3_test.h"

static void test_two_servers(void **state)
{
    (void)state;
    ms3_server *a = ms3t_start(NULL);
    ms3_server *b = ms3t_start(NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_not_equal(ms3_server_port(a), ms3_server_port(b));
    char want[64];
    snprintf(want, sizeof(want), "http://127.0.0.1:%u", (unsigned)ms3_server_port(a));
    assert_string_equal(ms3_server_url(a), want);
    assert_string_equal(ms3_server_region(a), "us-east-1");
    ms3t_response r;
    ms3t_simple(a, "PUT", "/bkt/only-in-a", "a", 1, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3t_simple(b, "GET", "/bkt/only-in-a", NULL, 0, &r);
    assert_int_equal(r.status, 404);
    ms3t_response_free(&r);
    assert_int_equal(ms3_journal_count(a, NULL), 1);
    assert_int_equal(ms3_journal_count(b, NULL), 1);

    /* The same port twice cannot work. */
    ms3_options o;
    ms3t_default_options(&o);
    o.port = ms3_server_port(a);
    bk_err err;
    assert_null(ms3_server_start(&o, &err));
    assert_non_null(strstr(err.msg, "cannot listen"));
    o.port = 0;
    o.listen_host = "not-an-address";
    assert_null(ms3_server_start(&o, &err));
    ms3_server_stop(a);
    ms3_server_stop(b);
    ms3_server_stop(NULL);
}

static void test_keep_alive(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.anonymous = 1;
    ms3_server *s = ms3t_start(&o);
    assert_non_null(s);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "k", "v", 1, NULL, NULL), 0);
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "%s/bkt/k", ms3_server_url(s));
    curl_easy_setopt(c, CURLOPT_URL, url);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        assert_int_equal(code, 200);
    }
    curl_easy_cleanup(c);
    fclose(devnull);
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(s, NULL, &e);
    assert_int_equal(n, 5);
    assert_true(e[0].remote_port > 0); /* the client's port is journaled */
    for (size_t i = 1; i < n; i++)
        assert_int_equal(e[i].remote_port, e[0].remote_port); /* one connection */
    ms3_journal_entries_free(e, n);
    ms3_server_stop(s);
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void test_256_concurrent(void **state)
{
    (void)state;
    enum { N = 256 };
    ms3_options o;
    ms3t_default_options(&o);
    o.anonymous = 1;
    ms3_server *s = ms3t_start(&o);
    assert_non_null(s);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "shared", "data", 4, NULL, NULL), 0);
    /* Every request waits a little so all of them are open at the same time. */
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_DELAY;
    rule.delay_ms = 500;
    assert_int_equal(ms3_server_add_fault(s, &rule, NULL, NULL), 0);

    CURLM *m = curl_multi_init();
    CURL *h[N];
    char url[128];
    snprintf(url, sizeof(url), "%s/bkt/shared", ms3_server_url(s));
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(h[i], CURLOPT_FRESH_CONNECT, 1L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    int ok = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (msg->data.result == CURLE_OK && code == 200)
            ok++;
    }
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
    assert_int_equal(ok, N);
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(s, NULL, &e);
    assert_int_equal(n, N);
    /* 256 distinct connections. */
    int distinct = 0;
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = e[j].remote_port == e[i].remote_port;
        distinct += !seen;
    }
    assert_int_equal(distinct, N);
    ms3_journal_entries_free(e, n);
    ms3_server_stop(s);
}

static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_stalled_client(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.anonymous = 1;
    ms3_server *s = ms3t_start(&o);
    assert_non_null(s);
    /* A client that sends half an upload and then nothing, and one that sends
     * half a request line. */
    int stalled = raw_connect(ms3_server_port(s));
    assert_true(stalled >= 0);
    const char *head = "PUT /bkt/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123";
    assert_int_equal(write(stalled, head, strlen(head)), (ssize_t)strlen(head));
    int partial = raw_connect(ms3_server_port(s));
    assert_true(partial >= 0);
    assert_int_equal(write(partial, "GET /bkt/x HT", 13), 13);
    /* Everyone else is served meanwhile. */
    for (int i = 0; i < 20; i++) {
        ms3t_response r;
        ms3t_request rq = {0};
        rq.method = "PUT";
        char target[64];
        snprintf(target, sizeof(target), "/bkt/fast-%d", i);
        rq.target = target;
        rq.body = "quick";
        rq.body_len = 5;
        ms3t_do(ms3_server_url(s), &rq, &r);
        assert_int_equal(r.status, 200);
        ms3t_response_free(&r);
    }
    assert_int_equal(ms3_server_object_count(s, T_BUCKET), 20);
    /* Stop returns with both connections still open. */
    ms3_server_stop(s);
    close(stalled);
    close(partial);
}

static void test_stop_during_delay(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.anonymous = 1;
    ms3_server *s = ms3t_start(&o);
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.action = MS3_FAULT_DELAY;
    rule.delay_ms = 600000; /* ten minutes: stop must not wait for it */
    assert_int_equal(ms3_server_add_fault(s, &rule, NULL, NULL), 0);
    int fd = raw_connect(ms3_server_port(s));
    const char *req = "GET /bkt/x HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    /* Wait until the request is inside the server (bounded). */
    for (int i = 0; i < 500 && ms3_server_fault_fired(s, 1) == 0; i++)
        usleep(10000);
    assert_int_equal(ms3_server_fault_fired(s, 1), 1);
    ms3_server_stop(s);
    close(fd);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_servers),       cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_256_concurrent),    cmocka_unit_test(test_stalled_client),
        cmocka_unit_test(test_stop_during_delay),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
