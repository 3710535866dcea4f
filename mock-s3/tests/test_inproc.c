/* BK_TEST_UNIT
 * The in-process entry point (ms3_server_new_inproc, ms3_server_handle): the
 * same routing, auth, faults, ingest, operations and journal as over HTTP,
 * with the HTTP layer's body framing imitated and faults reported instead of
 * performed. No socket is opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bkcache/sigv4.h"
#include "ms3_test.h"

#define HOST "s3.inproc.test"

static ms3_server *srv;

static int setup(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    bk_err err;
    srv = ms3_server_new_inproc(&o, &err);
    if (srv == NULL)
        return -1;
    if (ms3_server_add_credentials(srv, T_AK, T_SK, NULL, &err) != 0 ||
        ms3_server_create_bucket(srv, T_BUCKET, &err) != 0)
        return -1;
    return 0;
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

/* A request with Host, Content-Length, x-amz-date and x-amz-content-sha256,
 * signed with secret (NULL = unsigned), plus `extra` headers (signed too). */
typedef struct signed_req {
    ms3_header headers[16];
    size_t n;
    char date[17], length[24], sha[65];
    bk_sigv4_result sig;
} signed_req;

static void build(signed_req *sr, ms3_inproc_request *rq, const char *method, const char *target,
                  const char *body, const char *payload_hash, const ms3_header *extra,
                  size_t n_extra, const char *secret)
{
    memset(sr, 0, sizeof(*sr));
    memset(rq, 0, sizeof(*rq));
    size_t len = body != NULL ? strlen(body) : 0;
    bk_sigv4_format_amz_date((time_t)ms3_server_now(srv), sr->date);
    snprintf(sr->length, sizeof(sr->length), "%zu", len);
    if (payload_hash == NULL)
        bk_sigv4_sha256_hex(body != NULL ? body : "", len, sr->sha);
    else
        snprintf(sr->sha, sizeof(sr->sha), "%s", payload_hash);
    sr->headers[sr->n++] = (ms3_header){"Host", HOST};
    sr->headers[sr->n++] = (ms3_header){"x-amz-date", sr->date};
    sr->headers[sr->n++] = (ms3_header){"x-amz-content-sha256", sr->sha};
    if (body != NULL)
        sr->headers[sr->n++] = (ms3_header){"Content-Length", sr->length};
    for (size_t i = 0; i < n_extra; i++)
        sr->headers[sr->n++] = extra[i];
    if (secret != NULL) {
        const char *q = strchr(target, '?');
        char path[512];
        snprintf(path, sizeof(path), "%.*s", (int)(q != NULL ? q - target : (long)strlen(target)),
                 target);
        bk_sigv4_header sh[16];
        for (size_t i = 0; i < sr->n; i++)
            sh[i] = (bk_sigv4_header){sr->headers[i].name, sr->headers[i].value};
        bk_sigv4_request sreq = {method, path,    q != NULL ? q + 1 : "", sh,
                                 sr->n,  sr->sha, BK_SIGV4_PATH_S3};
        bk_err err;
        bk_sigv4_signer *signer = bk_sigv4_signer_new(T_AK, secret, NULL, "us-east-1", "s3", &err);
        assert_non_null(signer);
        assert_int_equal(bk_sigv4_sign(signer, &sreq, sr->date, NULL, &sr->sig, &err), BK_OK);
        bk_sigv4_signer_free(signer);
        sr->headers[sr->n++] = (ms3_header){"Authorization", sr->sig.authorization};
    }
    rq->method = method;
    rq->target = target;
    rq->headers = sr->headers;
    rq->n_headers = sr->n;
    rq->body = body;
    rq->body_len = len;
}

static void handle(ms3_inproc_request *rq, ms3_inproc_response *out)
{
    bk_err err;
    assert_int_equal(ms3_server_handle(srv, rq, out, &err), 0);
}

static void simple(const char *method, const char *target, const char *body,
                   ms3_inproc_response *out)
{
    signed_req sr;
    ms3_inproc_request rq;
    build(&sr, &rq, method, target, body, NULL, NULL, 0, T_SK);
    handle(&rq, out);
    bk_sigv4_result_clear(&sr.sig);
}

static void put_get_head_list(void **state)
{
    (void)state;
    ms3_inproc_response resp;
    simple("PUT", "/" T_BUCKET "/dir/a.txt", "hello, world", &resp);
    assert_int_equal(resp.outcome, MS3_INPROC_ANSWERED);
    assert_int_equal(resp.status, 200);
    assert_string_equal(ms3_inproc_response_header(&resp, "ETag"),
                        "\"e4d7f1b4ed2e42d15898f4b27b019da4\"");
    assert_non_null(ms3_inproc_response_header(&resp, "x-amz-request-id"));
    ms3_inproc_response_clear(&resp);

    simple("GET", "/" T_BUCKET "/dir/a.txt", NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 12);
    assert_string_equal(resp.body, "hello, world");
    assert_string_equal(ms3_inproc_response_header(&resp, "Content-Length"), "12");
    ms3_inproc_response_clear(&resp);

    simple("HEAD", "/" T_BUCKET "/dir/a.txt", NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 0);
    assert_string_equal(ms3_inproc_response_header(&resp, "Content-Length"), "12");
    ms3_inproc_response_clear(&resp);

    simple("GET", "/" T_BUCKET "?list-type=2&prefix=dir/", NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "<Key>dir/a.txt</Key>"));
    ms3_inproc_response_clear(&resp);

    simple("GET", "/" T_BUCKET "/missing", NULL, &resp);
    assert_int_equal(resp.status, 404);
    assert_non_null(strstr(resp.body, "<Code>NoSuchKey</Code>"));
    ms3_inproc_response_clear(&resp);

    /* The journal saw every request, as it does over HTTP. */
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, NULL, &e);
    assert_int_equal(n, 5);
    assert_string_equal(e[0].operation, "PutObject");
    assert_string_equal(e[0].auth, "header");
    assert_int_equal(e[0].auth_ok, 1);
    assert_int_equal(e[0].request_body_size, 12);
    assert_string_equal(e[3].operation, "ListObjectsV2");
    assert_int_equal(e[4].status, 404);
    ms3_journal_entries_free(e, n);
}

static void wrong_signature_changes_nothing(void **state)
{
    (void)state;
    signed_req sr;
    ms3_inproc_request rq;
    build(&sr, &rq, "PUT", "/" T_BUCKET "/forged", "payload", NULL, NULL, 0, "not-the-secret");
    ms3_inproc_response resp;
    handle(&rq, &resp);
    assert_int_equal(resp.status, 403);
    assert_non_null(strstr(resp.body, "<Code>SignatureDoesNotMatch</Code>"));
    assert_int_equal(ms3_server_object_count(srv, T_BUCKET), 0);
    ms3_inproc_response_clear(&resp);
    char signature[65];
    snprintf(signature, sizeof(signature), "%s", sr.sig.signature);
    bk_sigv4_result_clear(&sr.sig);

    /* The journal keeps a shortened signature, never the secret. */
    char *journal = ms3_journal_json(srv, NULL);
    assert_non_null(journal);
    assert_null(strstr(journal, "not-the-secret"));
    assert_null(strstr(journal, signature));
    free(journal);
}

static void faults_are_reported_not_performed(void **state)
{
    (void)state;
    ms3_inproc_response resp;
    simple("PUT", "/" T_BUCKET "/obj", "0123456789abcdefghij", &resp);
    assert_int_equal(resp.status, 200);
    ms3_inproc_response_clear(&resp);

    bk_err err;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.operation = "GetObject";
    rule.action = MS3_FAULT_DELAY;
    rule.delay_ms = 600000; /* ten minutes: the test would time out if it were slept */
    rule.max_fires = 1;
    assert_int_equal(ms3_server_add_fault(srv, &rule, NULL, &err), 0);
    simple("GET", "/" T_BUCKET "/obj", NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.delay_ms, 600000);
    assert_int_equal(resp.body_len, 20);
    ms3_inproc_response_clear(&resp);

    ms3_fault_rule_init(&rule);
    rule.operation = "GetObject";
    rule.action = MS3_FAULT_CUT_RESPONSE;
    rule.cut_after = 7;
    rule.max_fires = 1;
    assert_int_equal(ms3_server_add_fault(srv, &rule, NULL, &err), 0);
    simple("GET", "/" T_BUCKET "/obj", NULL, &resp);
    assert_int_equal(resp.outcome, MS3_INPROC_CUT_RESPONSE);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 7);
    assert_memory_equal(resp.body, "0123456", 7);
    ms3_inproc_response_clear(&resp);

    ms3_fault_rule_init(&rule);
    rule.operation = "PutObject";
    rule.action = MS3_FAULT_CUT_REQUEST;
    rule.cut_after = 5;
    rule.max_fires = 1;
    assert_int_equal(ms3_server_add_fault(srv, &rule, NULL, &err), 0);
    simple("PUT", "/" T_BUCKET "/cut", "a body longer than five bytes", &resp);
    assert_int_equal(resp.outcome, MS3_INPROC_CUT_REQUEST);
    assert_int_equal(resp.status, 0);
    ms3_inproc_response_clear(&resp);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(srv, T_BUCKET, "cut", &info, &err), BK_ENOTFOUND);

    ms3_journal_filter f = {0};
    f.operation = "PutObject";
    f.key_prefix = "cut";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].status, 0);
    assert_non_null(strstr(e[0].error_message, "cut by a fault after 5 request body bytes"));
    ms3_journal_entries_free(e, n);
}

static void body_framing_like_http(void **state)
{
    (void)state;
    ms3_header cl3 = {"Content-Length", "3"};
    ms3_inproc_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = "PUT";
    rq.target = "/" T_BUCKET "/short";
    ms3_header hs[3] = {{"Host", HOST}, {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}, cl3};
    rq.headers = hs;
    rq.n_headers = 3;
    rq.body = "abcdef";
    rq.body_len = 6;
    /* An anonymous server would be needed for unsigned requests: this one wants
     * a signature, so the request is refused before its body. */
    ms3_inproc_response resp;
    handle(&rq, &resp);
    assert_int_equal(resp.status, 403);
    assert_int_equal(resp.body_before_request, 1);
    ms3_inproc_response_clear(&resp);

    /* Signed, with Content-Length 3 and six bytes: three are the body. */
    signed_req sr;
    build(&sr, &rq, "PUT", "/" T_BUCKET "/short", "abc", NULL, NULL, 0, T_SK);
    rq.body = "abcdef";
    rq.body_len = 6;
    handle(&rq, &resp);
    assert_int_equal(resp.status, 200);
    ms3_inproc_response_clear(&resp);
    bk_sigv4_result_clear(&sr.sig);
    ms3_object_info info;
    bk_err err;
    assert_int_equal(ms3_server_stat_object(srv, T_BUCKET, "short", &info, &err), 0);
    assert_int_equal(info.size, 3);
    free(info.metadata_json);

    /* Content-Length 12 with three bytes: the client went away, nothing stored. */
    build(&sr, &rq, "PUT", "/" T_BUCKET "/gone", "abcdefghijkl", NULL, NULL, 0, T_SK);
    rq.body_len = 3;
    handle(&rq, &resp);
    assert_int_equal(resp.outcome, MS3_INPROC_CLIENT_GONE);
    ms3_inproc_response_clear(&resp);
    bk_sigv4_result_clear(&sr.sig);
    assert_int_equal(ms3_server_stat_object(srv, T_BUCKET, "gone", &info, &err), BK_ENOTFOUND);

    /* A Content-Length the HTTP layer refuses never reaches the mock. */
    size_t before = ms3_journal_count(srv, NULL);
    hs[2].value = "12x";
    rq.headers = hs;
    rq.n_headers = 3;
    handle(&rq, &resp);
    assert_int_equal(resp.outcome, MS3_INPROC_BAD_REQUEST);
    assert_int_equal(resp.status, 400);
    ms3_inproc_response_clear(&resp);
    assert_int_equal(ms3_journal_count(srv, NULL), before);
}

static void aws_chunked_byte_by_byte(void **state)
{
    (void)state;
    /* STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer, fed one byte at a
     * time: the decoder sees every possible split. (S3 wants chunks below 8 KiB
     * to be the last, so the payload is one chunk.) */
    static const char body[] = "b\r\nhello world\r\n0\r\n"
                               "x-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    ms3_header extra[3] = {{"Content-Encoding", "aws-chunked"},
                           {"x-amz-decoded-content-length", "11"},
                           {"x-amz-trailer", "x-amz-checksum-crc32"}};
    signed_req sr;
    ms3_inproc_request rq;
    build(&sr, &rq, "PUT", "/" T_BUCKET "/chunked", body, BK_SIGV4_STREAMING_UNSIGNED_TRAILER,
          extra, 3, T_SK);
    rq.feed_piece = 1;
    ms3_inproc_response resp;
    handle(&rq, &resp);
    assert_int_equal(resp.status, 200);
    ms3_inproc_response_clear(&resp);
    bk_sigv4_result_clear(&sr.sig);

    char *data = NULL;
    size_t len = 0;
    bk_err err;
    assert_int_equal(ms3_server_read_object(srv, T_BUCKET, "chunked", 64, &data, &len, &err), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello world", 11);
    free(data);
}

static void early_answer_skips_body(void **state)
{
    (void)state;
    ms3_inproc_response resp;
    simple("PUT", "/no-such-bucket/key", "body that is never read", &resp);
    assert_int_equal(resp.status, 404);
    assert_non_null(strstr(resp.body, "<Code>NoSuchBucket</Code>"));
    assert_int_equal(resp.body_before_request, 1);
    ms3_inproc_response_clear(&resp);

    ms3_journal_filter f = {0};
    f.status = 404;
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].request_body_size, 0);
    ms3_journal_entries_free(e, n);
}

static void bad_arguments(void **state)
{
    (void)state;
    ms3_inproc_request rq;
    memset(&rq, 0, sizeof(rq));
    ms3_inproc_response resp;
    bk_err err;
    assert_int_equal(ms3_server_handle(srv, &rq, &resp, &err), BK_EINVAL);
    assert_int_equal(err.code, BK_EINVAL);
    assert_int_equal(ms3_server_handle(srv, &rq, &resp, NULL), BK_EINVAL); /* err may be NULL */
    rq.method = "PUT";
    rq.target = "/x";
    rq.body_len = 4;
    assert_int_equal(ms3_server_handle(srv, &rq, &resp, &err), BK_EINVAL);
    ms3_inproc_response_clear(&resp);
    assert_int_equal(ms3_server_port(srv), 0);
    assert_string_equal(ms3_server_url(srv), "");
}

/* Rules added while requests decide their faults: the rule list grows (and
 * moves) under the requests' feet. The ASan build and valgrind see a request
 * reading a moved list. */
enum { RACE_ROUNDS = 300 };

static void *add_rules(void *arg)
{
    (void)arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        ms3_fault_rule rule;
        ms3_fault_rule_init(&rule);
        rule.key_glob = "never-requested-*";
        rule.action = MS3_FAULT_ERROR;
        bk_err err;
        if (ms3_server_add_fault(srv, &rule, NULL, &err) != 0)
            return (void *)1;
    }
    return NULL;
}

static void rules_added_while_requests_run(void **state)
{
    (void)state;
    ms3_inproc_response resp;
    simple("PUT", "/" T_BUCKET "/race", "x", &resp);
    assert_int_equal(resp.status, 200);
    ms3_inproc_response_clear(&resp);

    pthread_t adder;
    assert_int_equal(pthread_create(&adder, NULL, add_rules, NULL), 0);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        simple("HEAD", "/" T_BUCKET "/race", NULL, &resp);
        assert_int_equal(resp.status, 200);
        ms3_inproc_response_clear(&resp);
    }
    void *failed = NULL;
    assert_int_equal(pthread_join(adder, &failed), 0);
    assert_null(failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(put_get_head_list, reset),
        cmocka_unit_test_setup(wrong_signature_changes_nothing, reset),
        cmocka_unit_test_setup(faults_are_reported_not_performed, reset),
        cmocka_unit_test_setup(body_framing_like_http, reset),
        cmocka_unit_test_setup(aws_chunked_byte_by_byte, reset),
        cmocka_unit_test_setup(early_answer_skips_body, reset),
        cmocka_unit_test_setup(rules_added_while_requests_run, reset),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
