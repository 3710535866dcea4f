/* The request engine meeting what is not S3, or not quite: a plain web
 * server's 404, a redirect to another host, a server that never answers or
 * never accepts, a CA bundle from the environment or the profile, a server
 * that ignores Range on resume. Servers on 127.0.0.1 only, each stopped by
 * the test that started it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bkcache/s3.h"
#include "mock_s3.h"
#include "rawhttp.h"

#define BUCKET "plain"
#define AKID "AKIDREQUESTTEST"
#define SECRET "request-Secret-Value-3c4d5e"

static void no_sleep(void *ud, uint64_t ms)
{
    (void)ud;
    (void)ms;
}

static const bk_clock quick_clock = {NULL, NULL, no_sleep, NULL};

static void config_for(bk_s3_config *cfg, const char *url)
{
    bk_s3_config_init(cfg);
    cfg->region = "us-east-1";
    cfg->bucket = BUCKET;
    cfg->endpoint_url = url;
    cfg->use_path_style = 1;
    cfg->access_key_id = AKID;
    cfg->secret_access_key = SECRET;
    cfg->retry.max_attempts = 1;
    cfg->clock = &quick_clock;
}

static bk_s3_client *client_for(const bk_s3_config *cfg)
{
    bk_err err;
    bk_err_clear(&err);
    bk_s3_client *c = bk_s3_client_new(cfg, &err);
    if (c == NULL)
        fail_msg("client: %s", err.msg);
    return c;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- a plain web server ---- */

static void a_plain_404_is_an_error_naming_the_endpoint(void **state)
{
    (void)state;
    raw_server *web = raw_server_start(RAW_REPLY, "HTTP/1.1 404 Not Found\r\n"
                                                  "Content-Type: text/html\r\n"
                                                  "Content-Length: 22\r\n"
                                                  "Connection: close\r\n\r\n"
                                                  "<h1>404 Not Found</h1>");
    assert_non_null(web);
    bk_s3_config cfg;
    config_for(&cfg, raw_server_url(web));
    bk_s3_client *c = client_for(&cfg);
    bk_buf body = BK_BUF_INIT;
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err err;
    bk_err_clear(&err);
    bk_code rc = bk_s3_get_to_buf(c, "manifests/buildkit", NULL, 1 << 20, &body, &r, &err);
    assert_int_not_equal(rc, BK_OK);
    assert_int_equal(r.status, 404);
    /* Not S3's NoSuchKey: nothing may take it for a missing object. */
    assert_false(bk_s3_result_is_not_found(&r));
    assert_int_not_equal(rc, BK_ENOTFOUND);
    if (strstr(err.msg, raw_server_url(web)) == NULL || strstr(err.msg, "404") == NULL)
        fail_msg("the message names neither the endpoint nor the status: %s", err.msg);
    bk_buf_clear(&body);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
    raw_server_stop(web);
}

static void a_redirect_to_another_host_is_not_blamed_on_the_region(void **state)
{
    (void)state;
    raw_server *web = raw_server_start(RAW_REPLY, "HTTP/1.1 301 Moved Permanently\r\n"
                                                  "Location: https://elsewhere.example/plain/k\r\n"
                                                  "Content-Length: 0\r\n"
                                                  "Connection: close\r\n\r\n");
    assert_non_null(web);
    bk_s3_config cfg;
    config_for(&cfg, raw_server_url(web));
    bk_s3_client *c = client_for(&cfg);
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err err;
    bk_err_clear(&err);
    assert_int_not_equal(bk_s3_head(c, "k", &r, &err), BK_OK);
    assert_int_equal(r.status, 301);
    if (strstr(err.msg, "elsewhere.example") == NULL || strstr(err.msg, "region") != NULL)
        fail_msg("a redirect to another host, explained as: %s", err.msg);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
    raw_server_stop(web);

    /* S3's own redirect names the bucket's region: that hint stays. */
    web = raw_server_start(RAW_REPLY, "HTTP/1.1 301 Moved Permanently\r\n"
                                      "x-amz-bucket-region: eu-west-1\r\n"
                                      "Content-Length: 0\r\n"
                                      "Connection: close\r\n\r\n");
    assert_non_null(web);
    config_for(&cfg, raw_server_url(web));
    c = client_for(&cfg);
    bk_err_clear(&err);
    assert_int_not_equal(bk_s3_head(c, "k", &r, &err), BK_OK);
    if (strstr(err.msg, "eu-west-1") == NULL || strstr(err.msg, "region") == NULL)
        fail_msg("S3's redirect, explained as: %s", err.msg);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
    raw_server_stop(web);
}

/* ---- network waits ---- */

static void the_request_timeout_has_a_finite_default(void **state)
{
    (void)state;
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    assert_true(cfg.request_timeout_ms > 0);
    assert_true(cfg.connect_timeout_ms > 0);
    assert_true(cfg.low_speed_time_s > 0);
}

static void timed_out(raw_mode mode, long connect_ms, long request_ms, long low_speed_s,
                      bk_err *err)
{
    raw_server *srv = raw_server_start(mode, NULL);
    assert_non_null(srv);
    bk_s3_config cfg;
    config_for(&cfg, raw_server_url(srv));
    cfg.connect_timeout_ms = connect_ms;
    cfg.request_timeout_ms = request_ms;
    cfg.low_speed_time_s = low_speed_s;
    bk_s3_client *c = client_for(&cfg);
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err_clear(err);
    assert_int_equal(bk_s3_head(c, "slow", &r, err), BK_ETIMEOUT);
    assert_int_equal(r.status, 0);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
    raw_server_stop(srv);
}

static void timeouts_name_the_limit_that_was_hit(void **state)
{
    (void)state;
    bk_err err;
    /* Accepted, never answered: the whole request's limit. */
    timed_out(RAW_SILENT, 5000, 300, 30, &err);
    if (strstr(err.msg, "request timeout (300 ms)") == NULL)
        fail_msg("request timeout: %s", err.msg);
    /* The same server, but the low-speed limit comes first. */
    timed_out(RAW_SILENT, 5000, 60000, 1, &err);
    if (strstr(err.msg, "low-speed limit") == NULL || strstr(err.msg, "1 s") == NULL)
        fail_msg("low-speed limit: %s", err.msg);
    /* Never accepted: the connect timeout. */
    timed_out(RAW_NO_ACCEPT, 300, 60000, 30, &err);
    if (strstr(err.msg, "connect timeout (300 ms)") == NULL)
        fail_msg("connect timeout: %s", err.msg);
}

/* ---- CA bundles ---- */

typedef struct env_table {
    const char *names[4];
    const char *values[4];
} env_table;

static const char *table_get(void *ud, const char *name)
{
    const env_table *t = ud;
    for (size_t i = 0; i < 4 && t->names[i] != NULL; i++)
        if (strcmp(t->names[i], name) == 0)
            return t->values[i];
    return NULL;
}

/* A GET over https to a server that never gets to TLS: the bundle is read
 * before the handshake, so its trouble is what the message reports. */
static void https_get(const char *url, const bk_env *env, const char *ca_bundle, bk_err *err)
{
    bk_s3_config cfg;
    config_for(&cfg, url);
    cfg.env = env;
    cfg.ca_bundle = ca_bundle;
    cfg.connect_timeout_ms = 2000;
    cfg.request_timeout_ms = 2000;
    bk_s3_client *c = client_for(&cfg);
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err_clear(err);
    assert_int_not_equal(bk_s3_head(c, "k", &r, err), BK_OK);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
}

static void ca_bundle_from_the_environment_or_the_profile(void **state)
{
    (void)state;
    raw_server *srv = raw_server_start(RAW_SILENT, NULL);
    assert_non_null(srv);
    char url[80];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", raw_server_port(srv));
    bk_err err;

    env_table t = {{"AWS_CA_BUNDLE"}, {"/nonexistent/env-ca.pem"}};
    bk_env env = {table_get, &t};
    https_get(url, &env, NULL, &err);
    if (strstr(err.msg, "/nonexistent/env-ca.pem") == NULL ||
        strstr(err.msg, "AWS_CA_BUNDLE") == NULL)
        fail_msg("AWS_CA_BUNDLE: %s", err.msg);

    /* An explicit bundle (a CLI flag, the tuning) wins over the environment. */
    https_get(url, &env, "/nonexistent/explicit-ca.pem", &err);
    if (strstr(err.msg, "/nonexistent/explicit-ca.pem") == NULL ||
        strstr(err.msg, "env-ca.pem") != NULL)
        fail_msg("explicit bundle: %s", err.msg);

    /* The shared config's ca_bundle for the profile in effect. */
    char dir[] = "/tmp/bk-request-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char config[64];
    snprintf(config, sizeof config, "%s/config", dir);
    FILE *f = fopen(config, "w");
    assert_non_null(f);
    fputs("[profile ci]\nca_bundle = /nonexistent/profile-ca.pem\n", f);
    fclose(f);
    env_table p = {{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE"},
                   {config, "/nonexistent/credentials", "ci"}};
    bk_env penv = {table_get, &p};
    https_get(url, &penv, NULL, &err);
    unlink(config);
    rmdir(dir);
    if (strstr(err.msg, "/nonexistent/profile-ca.pem") == NULL ||
        strstr(err.msg, "profile ci") == NULL)
        fail_msg("profile ca_bundle: %s", err.msg);
    raw_server_stop(srv);
}

/* ---- Range ---- */

static void a_resume_answered_with_the_whole_object_takes_it_from_its_offset(void **state)
{
    (void)state;
    ms3_options o;
    ms3_options_init(&o);
    bk_err err;
    bk_err_clear(&err);
    ms3_server *mock = ms3_server_start(&o, &err);
    assert_non_null(mock);
    assert_int_equal(ms3_server_add_credentials(mock, AKID, SECRET, NULL, &err), 0);
    assert_int_equal(ms3_server_create_bucket(mock, BUCKET, &err), 0);
    size_t size = 3 * 1024 * 1024 + 17;
    char *data = malloc(size);
    assert_non_null(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 131 + i / 977);
    assert_int_equal(ms3_server_put_object(mock, BUCKET, "blob", data, size, NULL, &err), 0);

    /* The first GET breaks mid-body; the resume's Range is ignored: 200 and
     * the whole object, which HTTP allows. */
    ms3_fault_rule cut;
    ms3_fault_rule_init(&cut);
    cut.operation = "GetObject";
    cut.max_fires = 1;
    cut.action = MS3_FAULT_CUT_RESPONSE;
    cut.cut_after = 1234567;
    assert_int_equal(ms3_server_add_fault(mock, &cut, NULL, &err), 0);
    ms3_fault_rule whole;
    ms3_fault_rule_init(&whole);
    whole.operation = "GetObject";
    whole.action = MS3_FAULT_IGNORE_RANGE;
    assert_int_equal(ms3_server_add_fault(mock, &whole, NULL, &err), 0);

    bk_s3_config cfg;
    config_for(&cfg, ms3_server_url(mock));
    cfg.region = ms3_server_region(mock);
    cfg.retry.max_attempts = 3;
    bk_s3_client *c = client_for(&cfg);
    bk_buf got = BK_BUF_INIT;
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err_clear(&err);
    if (bk_s3_get_to_buf(c, "blob", NULL, size + 1, &got, &r, &err) != BK_OK)
        fail_msg("resume with a whole 200: %s", err.msg);
    assert_int_equal(got.len, size);
    assert_memory_equal(got.data, data, size);
    assert_int_equal(r.attempts, 2);
    ms3_journal_filter jf = {0};
    jf.operation = "GetObject";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(mock, &jf, &e);
    assert_int_equal(n, 2);
    assert_non_null(strstr(e[1].headers_json, "bytes=1234567-"));
    assert_int_equal(e[1].status, 200);
    ms3_journal_entries_free(e, n);
    bk_buf_clear(&got);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
    free(data);
    ms3_server_stop(mock);
}

/* ---- retries ---- */

static void giving_up_says_how_often_it_tried_once(void **state)
{
    (void)state;
    raw_server *busy = raw_server_start(RAW_REPLY, "HTTP/1.1 503 Service Unavailable\r\n"
                                                   "Content-Length: 0\r\n"
                                                   "Connection: close\r\n\r\n");
    assert_non_null(busy);
    bk_s3_config cfg;
    config_for(&cfg, raw_server_url(busy));
    cfg.retry.max_attempts = 3;
    bk_s3_client *c = client_for(&cfg);
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_err err;
    bk_err_clear(&err);
    assert_int_not_equal(bk_s3_head(c, "k", &r, &err), BK_OK);
    assert_int_equal(r.attempts, 3);
    if (count(err.msg, "3 attempts") != 1)
        fail_msg("the attempts, not once: %s", err.msg);
    bk_s3_result_clear(&r);
    bk_s3_client_free(c);
    raw_server_stop(busy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_plain_404_is_an_error_naming_the_endpoint),
        cmocka_unit_test(a_redirect_to_another_host_is_not_blamed_on_the_region),
        cmocka_unit_test(the_request_timeout_has_a_finite_default),
        cmocka_unit_test(timeouts_name_the_limit_that_was_hit),
        cmocka_unit_test(ca_bundle_from_the_environment_or_the_profile),
        cmocka_unit_test(a_resume_answered_with_the_whole_object_takes_it_from_its_offset),
        cmocka_unit_test(giving_up_says_how_often_it_tried_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
