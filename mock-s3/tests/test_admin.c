/* BK_TEST_UNIT
 * The journal (in-process queries, JSON, the journal file, its bounds) and the
 * admin endpoints under _mock/: who may call them, journal, faults, clock,
 * age, reset, buckets, credentials, policy, proxy. In process: the socket
 * adds nothing here (test_binary covers the flags over HTTP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    ms3_server_set_clock_offset(srv, 0);
    return 0;
}

/* Unsigned admin call; returns the parsed JSON body (or NULL) and the status. */
static json_t *admin(const char *method, const char *path, const char *body, long *status)
{
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = path;
    rq.body = body;
    rq.body_len = body != NULL ? strlen(body) : 0;
    const char *ct[] = {"Content-Type: application/json", NULL};
    rq.headers = ct;
    ms3t_response r;
    ms3t_send(srv, &rq, &r);
    *status = r.status;
    json_t *j = json_loads(bk_buf_str(&r.body), 0, NULL);
    ms3t_response_free(&r);
    return j;
}

static void test_journal_in_process(void **state)
{
    (void)state;
    ms3t_response r;
    ms3t_simple(srv, "PUT", "/bkt/j/a?x=1", "abc", 3, &r);
    ms3t_response_free(&r);
    ms3t_simple(srv, "GET", "/bkt/j/a", NULL, 0, &r);
    ms3t_response_free(&r);
    ms3t_simple(srv, "GET", "/bkt/j/missing", NULL, 0, &r);
    ms3t_response_free(&r);
    ms3t_simple(srv, "HEAD", "/bkt/other", NULL, 0, &r);
    ms3t_response_free(&r);

    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, NULL, &e);
    assert_int_equal(n, 4);
    assert_int_equal(e[0].seq + 1, e[1].seq);
    assert_string_equal(e[0].method, "PUT");
    assert_string_equal(e[0].operation, "PutObject");
    assert_string_equal(e[0].bucket, "bkt");
    assert_string_equal(e[0].key, "j/a");
    assert_string_equal(e[0].query, "x=1");
    assert_int_equal(e[0].request_body_size, 3);
    assert_int_equal(e[0].status, 200);
    assert_string_equal(e[0].body_sha256,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(e[0].remote_port, 0); /* in process: no socket (test_server checks it) */
    assert_true(e[0].time > 1.6e9);
    assert_true(e[0].duration >= 0);
    /* The signature is shortened; the rest of the headers is there. */
    assert_non_null(strstr(e[0].headers_json, "\"x-amz-content-sha256\""));
    assert_non_null(strstr(e[0].headers_json, "Signature="));
    assert_non_null(strstr(e[0].headers_json, "...\""));
    assert_string_equal(e[1].operation, "GetObject");
    assert_int_equal(e[1].response_size, 3);
    assert_int_equal(e[2].status, 404);
    assert_string_equal(e[2].error_code, "NoSuchKey");
    assert_string_equal(e[3].operation, "HeadObject");
    uint64_t since = e[1].seq;
    ms3_journal_entries_free(e, n);

    ms3_journal_filter f = {0};
    f.method = "GET";
    assert_int_equal(ms3_journal_count(srv, &f), 2);
    memset(&f, 0, sizeof(f));
    f.key_prefix = "j/";
    assert_int_equal(ms3_journal_count(srv, &f), 3);
    memset(&f, 0, sizeof(f));
    f.status = 404;
    assert_int_equal(ms3_journal_count(srv, &f), 2);
    memset(&f, 0, sizeof(f));
    f.since_seq = since;
    assert_int_equal(ms3_journal_count(srv, &f), 2);
    memset(&f, 0, sizeof(f));
    f.operation = "HeadObject";
    f.bucket = "bkt";
    assert_int_equal(ms3_journal_count(srv, &f), 1);
}

static void test_journal_endpoint(void **state)
{
    (void)state;
    ms3t_response r;
    ms3t_simple(srv, "PUT", "/bkt/blobs/sha256:00", "z", 1, &r);
    ms3t_response_free(&r);
    ms3t_simple(srv, "GET", "/bkt/blobs/sha256:00", NULL, 0, &r);
    ms3t_response_free(&r);
    long status;
    json_t *j = admin("GET", "/_mock/journal", NULL, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 2); /* admin calls are not journaled */
    json_t *e0 = json_array_get(j, 0);
    const char *fields[] = {"seq",
                            "time",
                            "method",
                            "bucket",
                            "key",
                            "query",
                            "operation",
                            "status",
                            "error_code",
                            "auth",
                            "auth_ok",
                            "headers",
                            "remote_port",
                            "payload_hash_mode",
                            "request_body_size",
                            "response_size",
                            "duration"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_non_null(json_object_get(e0, fields[i]));
    assert_string_equal(json_string_value(json_object_get(e0, "key")), "blobs/sha256:00");
    assert_string_equal(json_string_value(json_object_get(e0, "operation")), "PutObject");
    assert_string_equal(json_string_value(json_object_get(e0, "auth")), "header");
    assert_true(json_is_true(json_object_get(e0, "auth_ok")));
    assert_true(json_is_object(json_object_get(e0, "headers")));
    json_int_t seq0 = json_integer_value(json_object_get(e0, "seq"));
    json_decref(j);
    char path[64];
    snprintf(path, sizeof(path), "/_mock/journal?since=%lld", (long long)seq0);
    j = admin("GET", path, NULL, &status);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "operation")),
                        "GetObject");
    json_decref(j);
    j = admin("GET", "/_mock/journal?operation=PutObject", NULL, &status);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    j = admin("DELETE", "/_mock/journal", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    assert_int_equal(ms3_journal_count(srv, NULL), 0);
}

static void test_faults_endpoint(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "f", "x", 1, NULL, NULL), 0);
    long status;
    json_t *j = admin("POST", "/_mock/faults",
                      "[{\"operation\":\"GetObject\",\"status\":503,\"first_n\":1},"
                      "{\"action\":\"delay\",\"delay_ms\":1,\"key\":\"f*\"}]",
                      &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(j, "ids")), 2);
    json_decref(j);
    ms3t_response r;
    ms3t_simple(srv, "GET", "/bkt/f", NULL, 0, &r);
    assert_int_equal(r.status, 503);
    ms3t_response_free(&r);
    ms3t_simple(srv, "GET", "/bkt/f", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    j = admin("GET", "/_mock/faults", NULL, &status);
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "fired")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "fired")), 2);
    json_decref(j);
    j = admin("POST", "/_mock/faults", "{\"action\":\"explode\"}", &status);
    assert_int_equal(status, 400);
    json_decref(j);
    j = admin("POST", "/_mock/faults", "not json", &status);
    assert_int_equal(status, 400);
    json_decref(j);
    j = admin("DELETE", "/_mock/faults", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    j = admin("GET", "/_mock/faults", NULL, &status);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
}

/* What the journal says of a request beyond its answer: the fault rules
 * that fired on it, and on a signature mismatch what the mock signed (with
 * the session token redacted, as everywhere in the journal). */
static void test_journal_says_why(void **state)
{
    (void)state;
    long status;
    json_t *j = admin("POST", "/_mock/faults",
                      "[{\"action\":\"delay\",\"delay_ms\":1,\"key\":\"why*\"},"
                      "{\"operation\":\"GetObject\",\"status\":503,\"first_n\":1}]",
                      &status);
    assert_int_equal(status, 200);
    /* Rule ids go on counting across resets: the answer names them. */
    char fired[128];
    json_t *ids = json_object_get(j, "ids");
    snprintf(fired, sizeof(fired), "rule %lld: delay 1 ms; rule %lld: error 503 SlowDown",
             (long long)json_integer_value(json_array_get(ids, 0)),
             (long long)json_integer_value(json_array_get(ids, 1)));
    json_decref(j);
    ms3t_response r;
    ms3t_simple(srv, "GET", "/bkt/why", NULL, 0, &r);
    assert_int_equal(r.status, 503);
    ms3t_response_free(&r);
    ms3t_simple(srv, "HEAD", "/bkt/other", NULL, 0, &r);
    ms3t_response_free(&r);

    static const char token[] = "sess-token-SECRET-value";
    assert_int_equal(ms3_server_add_credentials(srv, "AKIDTOKEN", "right-secret", token, NULL), 0);
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt/why-refused?x-id=1";
    rq.sign = 1;
    rq.access_key = "AKIDTOKEN";
    rq.secret_key = "wrong-secret";
    rq.session_token = token;
    assert_int_equal(ms3t_send_status(srv, &rq), 403);

    j = admin("GET", "/_mock/journal", NULL, &status);
    assert_int_equal(json_array_size(j), 3);
    json_t *faulted = json_array_get(j, 0), *plain = json_array_get(j, 1),
           *refused = json_array_get(j, 2);
    assert_string_equal(json_string_value(json_object_get(faulted, "fault")), fired);
    assert_string_equal(json_string_value(json_object_get(plain, "fault")), "");
    assert_int_equal(json_object_size(json_object_get(plain, "auth_detail")), 0);
    assert_false(json_is_true(json_object_get(refused, "auth_ok")));
    assert_string_equal(json_string_value(json_object_get(refused, "error_code")),
                        "SignatureDoesNotMatch");
    json_t *detail = json_object_get(refused, "auth_detail");
    const char *canonical = json_string_value(json_object_get(detail, "canonical_request"));
    assert_non_null(canonical);
    assert_non_null(strstr(canonical, "GET\n/bkt/why-refused\nx-id=1\n"));
    assert_non_null(strstr(canonical, "x-amz-security-token:(redacted)\n"));
    assert_non_null(
        strstr(json_string_value(json_object_get(detail, "string_to_sign")), "AWS4-HMAC-SHA256"));
    char *all = json_dumps(j, 0);
    assert_null(strstr(all, "SECRET")); /* the token is nowhere */
    free(all);
    json_decref(j);

    /* The same fields in process. */
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(srv, NULL, &e), 3);
    assert_string_equal(e[0].fault, fired);
    assert_string_equal(e[1].auth_detail_json, "{}");
    assert_non_null(strstr(e[2].auth_detail_json, "canonical_request"));
    ms3_journal_entries_free(e, 3);
}

static void test_clock_and_age(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "blobs/a", "a", 1, NULL, NULL), 0);
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "manifests/m", "m", 1, NULL, NULL), 0);
    long status;
    json_t *j = admin("POST", "/_mock/age", "{\"prefix\":\"blobs/\",\"seconds\":86400}", &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "aged")), 1);
    json_decref(j);
    ms3_object_info a, m;
    ms3_server_stat_object(srv, T_BUCKET, "blobs/a", &a, NULL);
    ms3_server_stat_object(srv, T_BUCKET, "manifests/m", &m, NULL);
    assert_true(m.last_modified - a.last_modified >= 86400 - 5);
    free(a.metadata_json);
    free(m.metadata_json);

    j = admin("POST", "/_mock/clock", "{\"offset_seconds\": 7200}", &status);
    assert_int_equal(status, 200);
    json_decref(j);
    j = admin("GET", "/_mock/clock", NULL, &status);
    assert_int_equal(json_integer_value(json_object_get(j, "offset_seconds")), 7200);
    assert_true(json_integer_value(json_object_get(j, "now")) >= (json_int_t)time(NULL) + 7190);
    json_decref(j);
    /* New stamps follow the moved clock; requests signed with the real time are skewed. */
    ms3t_response r;
    ms3t_simple(srv, "GET", "/bkt/blobs/a", NULL, 0, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "later", "l", 1, NULL, NULL), 0);
    ms3_object_info l;
    ms3_server_stat_object(srv, T_BUCKET, "later", &l, NULL);
    assert_true(l.last_modified >= (int64_t)time(NULL) + 7190);
    free(l.metadata_json);
    j = admin("POST", "/_mock/clock", "{}", &status);
    assert_int_equal(status, 400);
    json_decref(j);
    j = admin("POST", "/_mock/age", "{\"bucket\":\"nosuch\",\"seconds\":1}", &status);
    assert_int_equal(status, 404);
    json_decref(j);
}

static void test_setup_endpoints(void **state)
{
    (void)state;
    long status;
    json_t *j = admin("GET", "/_mock/health", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    j = admin("POST", "/_mock/buckets", "{\"name\":\"second-bucket\"}", &status);
    assert_int_equal(status, 200);
    json_decref(j);
    j = admin("POST", "/_mock/buckets", "{\"name\":\"Bad_Name\"}", &status);
    assert_int_equal(status, 400);
    json_decref(j);
    j = admin("POST", "/_mock/credentials",
              "{\"access_key_id\":\"RO\",\"secret_access_key\":\"ro-secret\","
              "\"profile\":\"read-only\"}",
              &status);
    assert_int_equal(status, 200);
    json_decref(j);
    ms3t_response r;
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/second-bucket/x";
    rq.body = "x";
    rq.body_len = 1;
    rq.sign = 1;
    rq.access_key = "RO";
    rq.secret_key = "ro-secret";
    assert_int_equal(ms3t_send_status(srv, &rq), 403);
    rq.access_key = NULL;
    rq.secret_key = NULL;
    assert_int_equal(ms3t_send_status(srv, &rq), 200);

    j = admin("POST", "/_mock/policy", "{\"bucket\":\"second-bucket\",\"access\":\"no-list\"}",
              &status);
    assert_int_equal(status, 200);
    json_decref(j);
    ms3t_simple(srv, "HEAD", "/second-bucket/absent", NULL, 0, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    j = admin("POST", "/_mock/policy", "{\"access\":\"sideways\"}", &status);
    assert_int_equal(status, 400);
    json_decref(j);

    j = admin("POST", "/_mock/proxy", "{\"gfe_accept_encoding\":true}", &status);
    assert_int_equal(status, 200);
    json_decref(j);
    const char *ae[] = {"Accept-Encoding: identity", NULL};
    rq.method = "GET";
    rq.target = "/bkt?list-type=2";
    rq.body = NULL;
    rq.headers = ae;
    assert_int_equal(ms3t_send_status(srv, &rq), 403);
    j = admin("POST", "/_mock/proxy", "{}", &status);
    json_decref(j);
    assert_int_equal(ms3t_send_status(srv, &rq), 200);

    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "gone", "g", 1, NULL, NULL), 0);
    j = admin("POST", "/_mock/reset", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 0);
    j = admin("GET", "/_mock/nothing", NULL, &status);
    assert_int_equal(status, 404);
    json_decref(j);
    /* `_mock` can never be a bucket. */
    ms3t_simple(srv, "PUT", "/_mock", NULL, 0, &r);
    assert_int_equal(r.status, 404);
    ms3t_response_free(&r);
}

/* What a web page can send without a preflight (a simple request) is refused:
 * anything with an Origin header, and a POST that is not application/json. */
static void test_admin_refuses_browsers(void **state)
{
    (void)state;
    assert_int_equal(ms3_server_put_object(srv, T_BUCKET, "kept", "k", 1, NULL, NULL), 0);
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/_mock/reset";
    rq.body = "{}";
    rq.body_len = 2;
    const char *origin[] = {"Origin: http://evil.example", "Content-Type: application/json", NULL};
    rq.headers = origin;
    assert_int_equal(ms3t_send_status(srv, &rq), 403);
    const char *text[] = {"Content-Type: text/plain", NULL};
    rq.headers = text;
    assert_int_equal(ms3t_send_status(srv, &rq), 415);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    rq.headers = form;
    assert_int_equal(ms3t_send_status(srv, &rq), 415);
    rq.headers = NULL; /* no Content-Type at all */
    assert_int_equal(ms3t_send_status(srv, &rq), 415);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 1); /* nothing was reset */
    /* Reading needs no Content-Type, but a browser's Origin is refused there too. */
    const char *get_origin[] = {"Origin: null", NULL};
    rq.method = "GET";
    rq.target = "/_mock/journal";
    rq.body = NULL;
    rq.body_len = 0;
    rq.headers = get_origin;
    assert_int_equal(ms3t_send_status(srv, &rq), 403);
    /* A JSON POST with parameters in its media type passes. */
    const char *json_utf8[] = {"Content-Type: Application/JSON; charset=utf-8", NULL};
    rq.method = "POST";
    rq.target = "/_mock/reset";
    rq.headers = json_utf8;
    assert_int_equal(ms3t_send_status(srv, &rq), 200);
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 0);
}

/* DNS rebinding: a same-origin GET from a page whose name was pointed at
 * the mock carries no Origin; its Host names the page's site and is refused.
 * Addresses, localhost names, single labels and the virtual-host suffix pass. */
static void test_admin_refuses_rebound_hosts(void **state)
{
    (void)state;
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/_mock/journal";
    const char *refused[] = {"evil.example:8080", "evil.example", "127.0.0.1.nip.io",
                             "localhost.evil.example", "[::1"};
    const char *passed[] = {"127.0.0.1:9000", "[::1]:9000",   "localhost",
                            "LOCALHOST.:1",   "mock-s3:9000", "notlocalhost"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        rq.host = refused[i];
        assert_int_equal(ms3t_send_status(srv, &rq), 403);
    }
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
        rq.host = passed[i];
        assert_int_equal(ms3t_send_status(srv, &rq), 200);
    }
}

/* A header value longer than the journal keeps is cut with a marker; the
 * entry stays small whatever the request carried. */
static void test_journal_truncates_long_headers(void **state)
{
    (void)state;
    enum { BIG = 20000 };
    char *line = malloc(BIG + 32);
    assert_non_null(line);
    memcpy(line, "x-big: ", 7);
    memset(line + 7, 'v', BIG);
    line[7 + BIG] = '\0';
    const char *extra[] = {line, NULL};
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt/absent";
    rq.sign = 1;
    rq.unsigned_headers = extra;
    assert_int_equal(ms3t_send_status(srv, &rq), 404);
    free(line);
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(srv, NULL, &e), 1);
    assert_true(strlen(e[0].headers_json) < 4096);
    assert_non_null(strstr(e[0].headers_json, "(truncated, 20000 bytes)"));
    ms3_journal_entries_free(e, 1);
}

/* A server that requires an admin token, or has no admin endpoints; either
 * way the C API still controls it. */
static void test_admin_token_and_no_admin(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.admin_token = "tok-inproc";
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/_mock/health";
    ms3t_response r;
    ms3t_send(s, &rq, &r);
    assert_int_equal(r.status, 401);
    assert_null(strstr(bk_buf_str(&r.body), "tok-inproc")); /* never echoed */
    ms3t_response_free(&r);
    const char *wrong[] = {"Authorization: Bearer tok-inproc-", NULL};
    rq.headers = wrong;
    assert_int_equal(ms3t_send_status(s, &rq), 401);
    const char *right[] = {"Authorization: bearer  tok-inproc", NULL};
    rq.headers = right;
    assert_int_equal(ms3t_send_status(s, &rq), 200);
    /* With a token, any Host name may call: a rebound page cannot know it. */
    rq.host = "mock.example.com";
    assert_int_equal(ms3t_send_status(s, &rq), 200);
    rq.host = NULL;
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "x", "x", 1, NULL, NULL), 0);
    ms3_server_reset(s);
    assert_int_equal(ms3_server_object_count(s, T_BUCKET), 0);
    ms3_server_stop(s);

    ms3t_default_options(&o);
    o.no_admin = 1;
    s = ms3t_new_inproc(&o);
    assert_non_null(s);
    rq.headers = NULL;
    assert_int_equal(ms3t_send_status(s, &rq), 404);
    ms3t_simple(s, "PUT", "/bkt/still-s3", "v", 1, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_int_equal(ms3_journal_count(s, NULL), 1);
    ms3_server_stop(s);
}

static size_t count_lines(const char *path, size_t *longest)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, len = 0;
    *longest = 0;
    int c;
    while (f != NULL && (c = fgetc(f)) != EOF) {
        if (c != '\n') {
            len++;
            continue;
        }
        n++;
        if (len > *longest)
            *longest = len;
        len = 0;
    }
    if (f != NULL)
        fclose(f);
    return n;
}

/* journal_max keeps the newest entries and counts the rest; the journal file
 * has every request, headers whole. */
static void test_journal_max(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
    ms3_options o;
    ms3t_default_options(&o);
    o.journal_max = 2;
    o.journal_file = path;
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    enum { BIG = 5000 };
    char big[BIG + 16];
    memcpy(big, "x-big: ", 7);
    memset(big + 7, 'b', BIG);
    big[7 + BIG] = '\0';
    const char *extra[] = {big, NULL};
    for (int i = 0; i < 4; i++) {
        char target[64];
        snprintf(target, sizeof(target), "/bkt/m%d", i);
        ms3t_request rq = {0};
        rq.method = "GET";
        rq.target = target;
        rq.sign = 1;
        rq.unsigned_headers = i == 0 ? extra : NULL;
        assert_int_equal(ms3t_send_status(s, &rq), 404);
    }
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(s, NULL, &e), 2);
    assert_string_equal(e[0].key, "m2");
    assert_string_equal(e[1].key, "m3");
    ms3_journal_entries_free(e, 2);
    assert_int_equal(ms3_journal_dropped(s), 2);
    size_t longest = 0;
    assert_int_equal(count_lines(path, &longest), 4);
    assert_true(longest > BIG); /* the file has the header the memory cut */

    ms3t_request del = {0};
    del.method = "DELETE";
    del.target = "/_mock/journal";
    ms3t_response r;
    ms3t_send(s, &del, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_int_equal(ms3_journal_dropped(s), 0);
    ms3_server_stop(s);
    ms3t_rmtree(dir);
    free(dir);
}

static void test_journal_file(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
    ms3_options o;
    ms3t_default_options(&o);
    o.journal_file = path;
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    ms3t_response r;
    ms3t_simple(s, "PUT", "/bkt/file-journal", "q", 1, &r);
    ms3t_response_free(&r);
    ms3t_simple(s, "GET", "/bkt/file-journal", NULL, 0, &r);
    ms3t_response_free(&r);
    /* Lines are written as exchanges finish, just after the client got its answer. */
    int lines = 0;
    for (int tries = 0; tries < 500 && lines < 2; tries++) {
        FILE *f = fopen(path, "r");
        lines = 0;
        char line[8192];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            json_t *j = json_loads(line, 0, NULL);
            assert_non_null(j);
            assert_string_equal(json_string_value(json_object_get(j, "key")), "file-journal");
            json_decref(j);
            lines++;
        }
        if (f != NULL)
            fclose(f);
        if (lines < 2)
            usleep(10000);
    }
    assert_int_equal(lines, 2);
    ms3_server_stop(s);
    ms3t_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_journal_in_process, reset),
        cmocka_unit_test_setup(test_journal_endpoint, reset),
        cmocka_unit_test_setup(test_faults_endpoint, reset),
        cmocka_unit_test_setup(test_journal_says_why, reset),
        cmocka_unit_test_setup(test_clock_and_age, reset),
        cmocka_unit_test_setup(test_setup_endpoints, reset),
        cmocka_unit_test_setup(test_admin_refuses_rebound_hosts, reset),
        cmocka_unit_test_setup(test_admin_refuses_browsers, reset),
        cmocka_unit_test_setup(test_journal_truncates_long_headers, reset),
        cmocka_unit_test_setup(test_admin_token_and_no_admin, reset),
        cmocka_unit_test_setup(test_journal_max, reset),
        cmocka_unit_test_setup(test_journal_file, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
