/* The credential services over sockets: STS on the S3 port signed by
 * libcurl's own SigV4 (an implementation that is not ours), IMDS and ECS on
 * their listeners, every issued credential used for S3 on the same server,
 * and the listeners' URLs as an SDK's environment would name them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms3_test.h"

#define ROLE "arn:aws:iam::111122223333:role/deploy"
#define WEB_TOKEN "socket-web-token"
#define ECS_TOKEN "socket-ecs-token"

static ms3_server *srv;

static int setup(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    static const char *const tokens[] = {WEB_TOKEN};
    o.sts = 1;
    o.web_identity_tokens = tokens;
    o.n_web_identity_tokens = 1;
    o.imds = 1;
    o.ecs = 1;
    o.ecs_token = ECS_TOKEN;
    o.credential_lifetime = 900;
    srv = ms3t_start(&o);
    return srv != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ms3_server_stop(srv);
    return 0;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    bk_buf_append(ud, p, size * n);
    return size * n;
}

/* POST / form to STS with libcurl; signed by curl's SigV4 with service sts
 * when ak is given. Returns the status; the body in out. */
static long curl_sts(const char *form, const char *ak, const char *sk, bk_buf *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    char url[160];
    snprintf(url, sizeof(url), "%s/", ms3_server_url(srv));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (ak != NULL) {
        char userpwd[256];
        snprintf(userpwd, sizeof(userpwd), "%s:%s", ak, sk);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:sts");
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* The text of <tag> in an XML body. */
static const char *xml_text(const bk_buf *body, const char *tag, char *buf, size_t n)
{
    ms3t_response r = {0};
    r.body = *body;
    const char *v = ms3t_xml(&r, tag, buf, n);
    return v != NULL ? v : "";
}

/* A listing of the test bucket signed with these credentials. */
static long s3_list(const char *akid, const char *secret, const char *token)
{
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt?list-type=2";
    rq.sign = 1;
    rq.access_key = akid;
    rq.secret_key = secret;
    rq.session_token = token;
    return ms3t_send_status(srv, &rq);
}

static void test_urls(void **state)
{
    (void)state;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:");
    const char *imds = ms3_server_imds_url(srv), *ecs = ms3_server_ecs_url(srv);
    assert_true(strncmp(imds, prefix, strlen(prefix)) == 0);
    assert_true(strncmp(ecs, prefix, strlen(prefix)) == 0);
    long imds_port = strtol(imds + strlen(prefix), NULL, 10);
    char *end = NULL;
    long ecs_port = strtol(ecs + strlen(prefix), &end, 10);
    assert_string_equal(end, "/creds");
    assert_true(imds_port > 0 && ecs_port > 0);
    assert_true(imds_port != ms3_server_port(srv) && ecs_port != ms3_server_port(srv));
    assert_true(imds_port != ecs_port);
}

static void test_sts_signed_by_curl(void **state)
{
    (void)state;
    bk_buf body = BK_BUF_INIT;
    long status = curl_sts("Action=AssumeRole&Version=2011-06-15&RoleArn=" ROLE
                           "&RoleSessionName=curl&DurationSeconds=900",
                           T_AK, T_SK, &body);
    if (status != 200)
        fprintf(stderr, "%s\n", bk_buf_str(&body));
    assert_int_equal(status, 200);
    char akid[64], secret[64], token[512];
    xml_text(&body, "AccessKeyId", akid, sizeof(akid));
    xml_text(&body, "SecretAccessKey", secret, sizeof(secret));
    xml_text(&body, "SessionToken", token, sizeof(token));
    bk_buf_clear(&body);
    assert_int_equal(s3_list(akid, secret, token), 200);

    /* curl signing with another secret: refused. */
    bk_buf_init(&body);
    status = curl_sts("Action=AssumeRole&Version=2011-06-15&RoleArn=" ROLE "&RoleSessionName=curl",
                      T_AK, "wrong-secret", &body);
    assert_int_equal(status, 403);
    char code[64];
    assert_string_equal(xml_text(&body, "Code", code, sizeof(code)), "SignatureDoesNotMatch");
    bk_buf_clear(&body);

    /* Web identity needs no signature. */
    bk_buf_init(&body);
    status = curl_sts("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" ROLE
                      "&RoleSessionName=ci&WebIdentityToken=" WEB_TOKEN,
                      NULL, NULL, &body);
    assert_int_equal(status, 200);
    xml_text(&body, "AccessKeyId", akid, sizeof(akid));
    xml_text(&body, "SecretAccessKey", secret, sizeof(secret));
    xml_text(&body, "SessionToken", token, sizeof(token));
    bk_buf_clear(&body);
    assert_int_equal(s3_list(akid, secret, token), 200);
}

/* A JSON credential document's fields. */
static void doc_credentials(const char *json, char *akid, char *secret, char *token, size_t n)
{
    json_error_t jerr;
    json_t *doc = json_loads(json, 0, &jerr);
    assert_non_null(doc);
    snprintf(akid, n, "%s", json_string_value(json_object_get(doc, "AccessKeyId")));
    snprintf(secret, n, "%s", json_string_value(json_object_get(doc, "SecretAccessKey")));
    snprintf(token, n, "%s", json_string_value(json_object_get(doc, "Token")));
    json_decref(doc);
}

static void test_imds_and_ecs_listeners(void **state)
{
    (void)state;
    ms3t_response r;
    const char *ttl[] = {"X-aws-ec2-metadata-token-ttl-seconds: 300", NULL};
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/latest/api/token";
    rq.headers = ttl;
    rq.has_body = 1;
    rq.endpoint = MS3_ENDPOINT_IMDS;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", bk_buf_str(&r.body));
    ms3t_response_free(&r);

    const char *with_token[] = {hdr, NULL};
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.target = "/latest/meta-data/iam/security-credentials/mock-s3-role";
    rq.endpoint = MS3_ENDPOINT_IMDS;
    assert_int_equal(ms3t_send_status(srv, &rq), 401);
    rq.headers = with_token;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    char akid[512], secret[512], token[512];
    doc_credentials(bk_buf_str(&r.body), akid, secret, token, sizeof(akid));
    ms3t_response_free(&r);
    assert_int_equal(s3_list(akid, secret, token), 200);

    /* The IMDS port serves no S3, and the S3 port no IMDS. */
    rq.target = "/bkt?list-type=2";
    assert_int_equal(ms3t_send_status(srv, &rq), 404);
    rq.endpoint = MS3_ENDPOINT_S3;
    rq.target = "/latest/api/token";
    rq.method = "PUT";
    rq.headers = ttl;
    assert_int_equal(ms3t_send_status(srv, &rq), 403); /* an unsigned S3 request */

    const char *authz[] = {"Authorization: " ECS_TOKEN, NULL};
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.target = "/creds";
    rq.endpoint = MS3_ENDPOINT_ECS;
    assert_int_equal(ms3t_send_status(srv, &rq), 401);
    rq.headers = authz;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    doc_credentials(bk_buf_str(&r.body), akid, secret, token, sizeof(akid));
    ms3t_response_free(&r);
    assert_int_equal(s3_list(akid, secret, token), 200);

    char *journal = ms3_journal_json(srv, NULL);
    assert_null(strstr(journal, secret));
    assert_null(strstr(journal, token));
    assert_null(strstr(journal, ECS_TOKEN));
    assert_null(strstr(journal, hdr + strlen("X-aws-ec2-metadata-token: ")));
    free(journal);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_sts_signed_by_curl),
        cmocka_unit_test(test_imds_and_ecs_listeners),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
