/* IMDSv2 (BK_TEST_UNIT: in process, on the IMDS endpoint): the session
 * token and its TTL header, 401 without a live token, the role and its
 * credentials, which the S3 API takes until they expire on the mock's clock
 * and which rotate before they do; refusals; a journal without tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms3_test.h"

#define CREDS "/latest/meta-data/iam/security-credentials/"
#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"

static ms3_server *srv;

static int setup(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.imds = 1;
    o.imds_role = "builder-role";
    o.credential_lifetime = 1200;
    srv = ms3t_new_inproc(&o);
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

/* A request to IMDS with these headers ("Name: value", NULL-terminated). */
static void imds(const char *method, const char *target, const char *const *headers,
                 ms3t_response *r)
{
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = target;
    rq.headers = headers;
    rq.endpoint = MS3_ENDPOINT_IMDS;
    if (strcmp(method, "PUT") == 0)
        rq.has_body = 1;
    ms3t_send(srv, &rq, r);
}

static long imds_status(const char *method, const char *target, const char *const *headers)
{
    ms3t_response r;
    imds(method, target, headers, &r);
    long status = r.status;
    ms3t_response_free(&r);
    return status;
}

/* A session token for ttl seconds. */
static void get_token(const char *ttl, char *token, size_t n)
{
    char hdr[64];
    snprintf(hdr, sizeof(hdr), TTL_HEADER ": %s", ttl);
    const char *h[] = {hdr, NULL};
    ms3t_response r;
    imds("PUT", "/latest/api/token", h, &r);
    assert_int_equal(r.status, 200);
    char echo[32];
    assert_string_equal(ms3t_header(&r, TTL_HEADER, echo, sizeof(echo)), ttl);
    snprintf(token, n, "%s", bk_buf_str(&r.body));
    assert_true(strlen(token) >= 40);
    ms3t_response_free(&r);
}

typedef struct role_creds {
    char akid[64], secret[64], token[512], expiration[64];
} role_creds;

static void get_credentials(const char *token, role_creds *c)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
    const char *h[] = {hdr, NULL};
    ms3t_response r;
    imds("GET", CREDS "builder-role", h, &r);
    assert_int_equal(r.status, 200);
    json_error_t jerr;
    json_t *doc = json_loads(bk_buf_str(&r.body), 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "Code")), "Success");
    assert_string_equal(json_string_value(json_object_get(doc, "Type")), "AWS-HMAC");
    assert_non_null(json_string_value(json_object_get(doc, "LastUpdated")));
    snprintf(c->akid, sizeof(c->akid), "%s",
             json_string_value(json_object_get(doc, "AccessKeyId")));
    snprintf(c->secret, sizeof(c->secret), "%s",
             json_string_value(json_object_get(doc, "SecretAccessKey")));
    snprintf(c->token, sizeof(c->token), "%s", json_string_value(json_object_get(doc, "Token")));
    snprintf(c->expiration, sizeof(c->expiration), "%s",
             json_string_value(json_object_get(doc, "Expiration")));
    json_decref(doc);
    ms3t_response_free(&r);
}

/* A GET of the test bucket's listing signed with c, the client's clock
 * `ahead` seconds ahead of the real one (kept with the mock's). */
static long s3_with(const role_creds *c, time_t ahead, char *code, size_t n)
{
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt?list-type=2";
    rq.sign = 1;
    rq.when = time(NULL) + ahead;
    rq.access_key = c->akid;
    rq.secret_key = c->secret;
    rq.session_token = c->token;
    ms3t_response r;
    ms3t_send(srv, &rq, &r);
    long status = r.status;
    if (code != NULL && ms3t_xml(&r, "Code", code, n) == NULL)
        snprintf(code, n, "%s", "");
    ms3t_response_free(&r);
    return status;
}

static void test_token_then_credentials(void **state)
{
    (void)state;
    char token[128], hdr[160];
    get_token("21600", token, sizeof(token));
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
    const char *h[] = {hdr, NULL};
    ms3t_response r;
    imds("GET", CREDS, h, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bk_buf_str(&r.body), "builder-role");
    ms3t_response_free(&r);
    imds("GET", "/latest/meta-data/iam/security-credentials", h, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);

    role_creds c;
    get_credentials(token, &c);
    assert_true(strncmp(c.akid, "ASIA", 4) == 0);
    assert_int_equal(strlen(c.secret), 40);
    assert_true(strlen(c.token) > 100);
    assert_int_equal(s3_with(&c, 0, NULL, 0), 200);

    /* Journaled under the services' names, tokens and secrets left out. */
    ms3_journal_filter f = {0};
    f.operation = "IMDS.GetCredentials";
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(srv, &f, &e), 1);
    assert_string_equal(e[0].auth, "token");
    assert_true(e[0].auth_ok);
    assert_non_null(strstr(e[0].headers_json, "\"X-aws-ec2-metadata-token\":\"(redacted)\""));
    ms3_journal_entries_free(e, 1);
    f.operation = "IMDS.GetToken";
    assert_int_equal(ms3_journal_count(srv, &f), 1);
    f.operation = "IMDS.ListRoles";
    assert_int_equal(ms3_journal_count(srv, &f), 2);
    char *json = ms3_journal_json(srv, NULL);
    assert_null(strstr(json, token));
    assert_null(strstr(json, c.secret));
    assert_null(strstr(json, c.token));
    free(json);
}

static void test_token_refusals(void **state)
{
    (void)state;
    /* The TTL: required, 1 to 21600 seconds. */
    const char *none[] = {NULL};
    assert_int_equal(imds_status("PUT", "/latest/api/token", none), 400);
    const char *zero[] = {TTL_HEADER ": 0", NULL};
    assert_int_equal(imds_status("PUT", "/latest/api/token", zero), 400);
    const char *over[] = {TTL_HEADER ": 21601", NULL};
    assert_int_equal(imds_status("PUT", "/latest/api/token", over), 400);
    const char *word[] = {TTL_HEADER ": 60s", NULL};
    assert_int_equal(imds_status("PUT", "/latest/api/token", word), 400);
    /* Through a proxy: refused, as IMDS does. */
    const char *proxied[] = {TTL_HEADER ": 60", "X-Forwarded-For: 10.1.2.3", NULL};
    assert_int_equal(imds_status("PUT", "/latest/api/token", proxied), 403);
    const char *one[] = {TTL_HEADER ": 1", NULL};
    assert_int_equal(imds_status("PUT", "/latest/api/token", one), 200);

    /* Every GET needs a live token: IMDSv1 is off. */
    assert_int_equal(imds_status("GET", CREDS, none), 401);
    assert_int_equal(imds_status("GET", CREDS "builder-role", none), 401);
    const char *forged[] = {"X-aws-ec2-metadata-token: AQAEAforged", NULL};
    assert_int_equal(imds_status("GET", CREDS, forged), 401);
    assert_int_equal(imds_status("GET", "/latest/meta-data/placement/region", none), 401);

    char token[128], hdr[160];
    get_token("60", token, sizeof(token));
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
    const char *h[] = {hdr, NULL};
    assert_int_equal(imds_status("GET", CREDS "other-role", h), 404);
    assert_int_equal(imds_status("GET", "/latest/meta-data/ami-id", h), 404);
    assert_int_equal(imds_status("POST", CREDS, h), 405);
    /* The token expires on the mock's clock. */
    assert_int_equal(imds_status("GET", CREDS, h), 200);
    ms3_server_set_clock_offset(srv, 61);
    ms3t_response r;
    imds("GET", CREDS, h, &r);
    assert_int_equal(r.status, 401);
    char ct[64];
    assert_string_equal(ms3t_header(&r, "Content-Type", ct, sizeof(ct)), "text/plain");
    ms3t_response_free(&r);

    ms3_journal_filter f = {0};
    f.operation = "IMDS.GetToken";
    f.status = 400;
    assert_int_equal(ms3_journal_count(srv, &f), 4);
    char *json = ms3_journal_json(srv, NULL);
    assert_null(strstr(json, token));
    free(json);
}

static void test_credentials_expire_and_rotate(void **state)
{
    (void)state;
    char token[128];
    get_token("21600", token, sizeof(token));
    role_creds first, again;
    get_credentials(token, &first);
    /* The same credentials while more than half their lifetime is left. */
    ms3_server_set_clock_offset(srv, 500);
    get_credentials(token, &again);
    assert_string_equal(again.akid, first.akid);
    /* Then new ones (EC2 rotates well before the expiry); the old ones still
     * work until then. */
    ms3_server_set_clock_offset(srv, 700);
    role_creds rotated;
    get_credentials(token, &rotated);
    assert_string_not_equal(rotated.akid, first.akid);
    assert_int_equal(s3_with(&first, 700, NULL, 0), 200);
    assert_int_equal(s3_with(&rotated, 700, NULL, 0), 200);
    /* Past the expiry: 400 ExpiredToken from S3. */
    ms3_server_set_clock_offset(srv, 1201);
    char code[64];
    assert_int_equal(s3_with(&first, 1201, code, sizeof(code)), 400);
    assert_string_equal(code, "ExpiredToken");
    assert_int_equal(s3_with(&rotated, 1201, NULL, 0), 200);
}

static void test_off(void **state)
{
    (void)state;
    ms3_server *s = ms3t_new_inproc(NULL);
    assert_non_null(s);
    assert_string_equal(ms3_server_imds_url(s), "");
    ms3_inproc_request in = {0};
    in.method = "PUT";
    in.target = "/latest/api/token";
    in.endpoint = MS3_ENDPOINT_IMDS;
    ms3_inproc_response resp;
    bk_err err;
    assert_int_equal(ms3_server_handle(s, &in, &resp, &err), BK_EINVAL);
    ms3_inproc_response_clear(&resp);
    /* On the S3 port, /latest/... is a bucket named "latest". */
    ms3t_response r;
    ms3t_simple(s, "GET", CREDS, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    char code[64];
    assert_string_equal(ms3t_xml(&r, "Code", code, sizeof(code)), "NoSuchBucket");
    ms3t_response_free(&r);
    ms3_server_stop(s);
}

int main(void)
{
    /* BK_TEST_UNIT */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_token_then_credentials, reset),
        cmocka_unit_test_setup(test_token_refusals, reset),
        cmocka_unit_test_setup(test_credentials_expire_and_rotate, reset),
        cmocka_unit_test_setup(test_off, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
