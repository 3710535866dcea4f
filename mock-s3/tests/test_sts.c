/* STS on the S3 port (BK_TEST_UNIT: in process): AssumeRole signed with
 * service sts over the form body, AssumeRoleWithWebIdentity with configured
 * tokens, a token file and JWT expiry; STS's errors; the issued credentials
 * working for S3 until they expire on the mock's clock; routing that leaves
 * S3 alone; faults by action name; a journal without secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "bkcache/sigv4.h"
#include "ms3_test.h"

#define ROLE "arn:aws:iam::111122223333:role/ci/builder"
#define FORM_TYPE "Content-Type: application/x-www-form-urlencoded; charset=utf-8"
#define WEB_TOKEN "web-token-alpha"

static ms3_server *srv;
/* Seconds the clients' clocks are ahead of the real one: a client that keeps
 * its clock with the mock's, as the SDKs correct skew, signs at mock time. */
static time_t client_clock_offset;

static int setup(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    static const char *const tokens[] = {WEB_TOKEN};
    o.sts = 1;
    o.web_identity_tokens = tokens;
    o.n_web_identity_tokens = 1;
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
    client_clock_offset = 0;
    return 0;
}

/* Credentials as STS issued them. */
typedef struct issued {
    char akid[64], secret[64], token[512], expiration[64];
} issued;

/* POST / with a form; signed with service sts by ak/sk (NULL = the test
 * key) when sign, with the session token when given. */
static void sts_send(ms3_server *s, const char *form, int sign, const char *ak, const char *sk,
                     const char *token, ms3t_response *r)
{
    const char *hdrs[] = {FORM_TYPE, NULL};
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/";
    rq.headers = hdrs;
    rq.body = form;
    rq.body_len = strlen(form);
    rq.has_body = 1;
    rq.sign = sign;
    rq.service = "sts";
    rq.when = time(NULL) + client_clock_offset;
    rq.access_key = ak;
    rq.secret_key = sk;
    rq.session_token = token;
    ms3t_send(s, &rq, r);
}

static void sts(const char *form, int sign, ms3t_response *r)
{
    sts_send(srv, form, sign, NULL, NULL, NULL, r);
}

/* The text of <tag>, its entities replaced. */
static const char *xml(const ms3t_response *r, const char *tag)
{
    static const char *const entities[][2] = {
        {"&apos;", "'"}, {"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
    static char buf[4096];
    if (ms3t_xml(r, tag, buf, sizeof(buf)) == NULL)
        return "";
    char *out = buf;
    for (const char *p = buf; *p;) {
        size_t i = 0;
        while (i < 5 && strncmp(p, entities[i][0], strlen(entities[i][0])) != 0)
            i++;
        if (i < 5) {
            *out++ = entities[i][1][0];
            p += strlen(entities[i][0]);
        } else {
            *out++ = *p++;
        }
    }
    *out = '\0';
    return buf;
}

/* An STS error: status, ErrorResponse/Error/{Type,Code}. */
static void assert_sts_error(const char *form, int sign, long status, const char *code)
{
    ms3t_response r;
    sts(form, sign, &r);
    if (r.status != status || strcmp(xml(&r, "Code"), code) != 0)
        fprintf(stderr, "form %s: %ld %s\n", form, r.status, bk_buf_str(&r.body));
    assert_int_equal(r.status, status);
    assert_string_equal(xml(&r, "Code"), code);
    assert_string_equal(xml(&r, "Type"), status >= 500 ? "Receiver" : "Sender");
    assert_non_null(strstr(bk_buf_str(&r.body), "<ErrorResponse xmlns="));
    assert_non_null(strstr(bk_buf_str(&r.body), "<RequestId>"));
    ms3t_response_free(&r);
}

static void take_credentials(const ms3t_response *r, issued *c)
{
    snprintf(c->akid, sizeof(c->akid), "%s", xml(r, "AccessKeyId"));
    snprintf(c->secret, sizeof(c->secret), "%s", xml(r, "SecretAccessKey"));
    snprintf(c->token, sizeof(c->token), "%s", xml(r, "SessionToken"));
    snprintf(c->expiration, sizeof(c->expiration), "%s", xml(r, "Expiration"));
}

static void assume_role(const char *form, issued *c)
{
    ms3t_response r;
    sts(form, 1, &r);
    if (r.status != 200)
        fprintf(stderr, "%s\n", bk_buf_str(&r.body));
    assert_int_equal(r.status, 200);
    take_credentials(&r, c);
    ms3t_response_free(&r);
}

/* A PUT to the test bucket signed with issued credentials. */
static long s3_put(ms3_server *s, const issued *c, const char *target, ms3t_response *out)
{
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = target;
    rq.body = "x";
    rq.body_len = 1;
    rq.sign = 1;
    rq.when = time(NULL) + client_clock_offset;
    rq.access_key = c->akid;
    rq.secret_key = c->secret;
    rq.session_token = c->token;
    ms3t_response r;
    ms3t_send(s, &rq, out != NULL ? out : &r);
    long status = out != NULL ? out->status : r.status;
    if (out == NULL)
        ms3t_response_free(&r);
    return status;
}

static void expiration_of(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The expiration says issue time + lifetime, the issue time somewhere in
 * [before, after] on the mock's clock (a slow run, valgrind, spans seconds). */
static void assert_expires(const char *expiration, int64_t before, int64_t after, int64_t lifetime)
{
    char want[64];
    for (int64_t t = before; t <= after; t++) {
        expiration_of(t + lifetime, want, sizeof(want));
        if (strcmp(expiration, want) == 0)
            return;
    }
    fail_msg("expiration %s is not issue time + %lld s", expiration, (long long)lifetime);
}

/* No secret or token of c in the journal. */
static void assert_journal_clean(const char *const *secrets)
{
    char *json = ms3_journal_json(srv, NULL);
    for (size_t i = 0; secrets[i] != NULL; i++)
        if (*secrets[i] != '\0')
            assert_null(strstr(json, secrets[i]));
    free(json);
}

#define ASSUME_FORM                                                                                \
    "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fci%"  \
    "2Fbuilder&RoleSessionName=bk-session&ExternalId=ext-42&DurationSeconds=900"

static void test_assume_role(void **state)
{
    (void)state;
    int64_t before = ms3_server_now(srv);
    ms3t_response r;
    sts(ASSUME_FORM, 1, &r);
    int64_t after = ms3_server_now(srv);
    assert_int_equal(r.status, 200);
    const char *body = bk_buf_str(&r.body);
    assert_non_null(strstr(body, "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/"
                                 "2011-06-15/\"><AssumeRoleResult>"));
    assert_string_equal(xml(&r, "Arn"),
                        "arn:aws:sts::111122223333:assumed-role/builder/bk-session");
    assert_true(strncmp(xml(&r, "AssumedRoleId"), "AROA", 4) == 0);
    assert_non_null(strstr(xml(&r, "AssumedRoleId"), ":bk-session"));
    issued c;
    take_credentials(&r, &c);
    char hdr[128];
    assert_string_equal(ms3t_header(&r, "Content-Type", hdr, sizeof(hdr)), "text/xml");
    assert_non_null(ms3t_header(&r, "x-amzn-RequestId", hdr, sizeof(hdr)));
    ms3t_response_free(&r);
    assert_true(strncmp(c.akid, "ASIA", 4) == 0);
    assert_int_equal(strlen(c.akid), 20);
    assert_int_equal(strlen(c.secret), 40);
    assert_true(strlen(c.token) > 100);
    /* DurationSeconds on the mock's clock. */
    assert_expires(c.expiration, before, after, 900);

    /* The S3 API takes them, with their session token only. */
    assert_int_equal(s3_put(srv, &c, "/bkt/by-role", NULL), 200);
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = "/bkt/by-role";
    rq.sign = 1;
    rq.access_key = c.akid;
    rq.secret_key = c.secret;
    assert_int_equal(ms3t_send_status(srv, &rq), 403); /* no token: unknown key */

    /* The journal has the call's parameters and caller, never what it issued. */
    ms3_journal_filter f = {0};
    f.operation = "STS.AssumeRole";
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3_journal_query(srv, &f, &e), 1);
    assert_string_equal(e[0].method, "POST");
    assert_string_equal(e[0].auth, "header");
    assert_true(e[0].auth_ok);
    assert_string_equal(e[0].access_key_id, T_AK);
    assert_int_equal(e[0].status, 200);
    assert_string_equal(e[0].query, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%"
                                    "3A%3A111122223333%3Arole%2Fci%2Fbuilder&RoleSessionName=bk-"
                                    "session&ExternalId=ext-42&DurationSeconds=900");
    ms3_journal_entries_free(e, 1);
    const char *secrets[] = {c.secret, c.token, NULL};
    assert_journal_clean(secrets);
}

static void test_assume_role_defaults_and_chaining(void **state)
{
    (void)state;
    /* Without DurationSeconds: the configured lifetime (an hour by default). */
    int64_t before = ms3_server_now(srv);
    issued c;
    assume_role("Action=AssumeRole&Version=2011-06-15&RoleArn=" ROLE "&RoleSessionName=s1", &c);
    assert_expires(c.expiration, before, ms3_server_now(srv), 3600);

    /* Role chaining: temporary credentials may call AssumeRole too. */
    ms3t_response r;
    sts_send(srv, "Action=AssumeRole&Version=2011-06-15&RoleArn=" ROLE "&RoleSessionName=s2", 1,
             c.akid, c.secret, c.token, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* ...but not without their token. */
    sts_send(srv, "Action=AssumeRole&Version=2011-06-15&RoleArn=" ROLE "&RoleSessionName=s3", 1,
             c.akid, c.secret, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "InvalidClientTokenId");
    ms3t_response_free(&r);
}

static void test_expiry_on_mock_clock(void **state)
{
    (void)state;
    issued c;
    assume_role(ASSUME_FORM, &c);
    assert_int_equal(s3_put(srv, &c, "/bkt/before", NULL), 200);
    client_clock_offset = 899 - 60;
    ms3_server_set_clock_offset(srv, client_clock_offset);
    assert_int_equal(s3_put(srv, &c, "/bkt/still", NULL), 200);

    /* Past the expiry S3 answers as it does for an expired session token. */
    client_clock_offset = 901;
    ms3_server_set_clock_offset(srv, client_clock_offset);
    ms3t_response r;
    assert_int_equal(s3_put(srv, &c, "/bkt/after", &r), 400);
    assert_string_equal(xml(&r, "Code"), "ExpiredToken");
    assert_null(strstr(bk_buf_str(&r.body), c.token));
    ms3t_response_free(&r);
    /* STS refuses them too (its own code). */
    sts_send(srv, ASSUME_FORM, 1, c.akid, c.secret, c.token, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "ExpiredToken");
    ms3t_response_free(&r);
    /* Fresh ones work again: a refreshing client recovers. */
    issued fresh;
    assume_role(ASSUME_FORM, &fresh);
    assert_string_not_equal(fresh.akid, c.akid);
    assert_int_equal(s3_put(srv, &fresh, "/bkt/after", NULL), 200);
}

static void test_assume_role_refusals(void **state)
{
    (void)state;
    ms3t_response r;
    /* The signature: by another secret, by an unknown key, none at all. */
    sts_send(srv, ASSUME_FORM, 1, T_AK, "not-the-secret", NULL, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "SignatureDoesNotMatch");
    assert_null(strstr(bk_buf_str(&r.body), "not-the-secret"));
    ms3t_response_free(&r);
    sts_send(srv, ASSUME_FORM, 1, "AKIDUNKNOWN", "whatever", NULL, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "InvalidClientTokenId");
    ms3t_response_free(&r);
    assert_sts_error(ASSUME_FORM, 0, 403, "MissingAuthenticationToken");

    /* The signature covers the body: another body, same headers. */
    const char *hdrs[] = {FORM_TYPE, NULL};
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/";
    rq.headers = hdrs;
    rq.body = ASSUME_FORM;
    rq.body_len = strlen(ASSUME_FORM);
    rq.has_body = 1;
    rq.sign = 1;
    rq.service = "sts";
    rq.payload_hash = BK_SIGV4_EMPTY_SHA256; /* signed as if the body were empty */
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "SignatureDoesNotMatch");
    ms3t_response_free(&r);

    /* Scoped to another service or region. */
    rq.payload_hash = NULL;
    rq.service = "s3";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "SignatureDoesNotMatch");
    assert_non_null(strstr(xml(&r, "Message"), "correct service: 'sts'"));
    ms3t_response_free(&r);
    rq.service = "sts";
    rq.region = "eu-west-3";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(xml(&r, "Message"), "valid region, not 'eu-west-3'"));
    ms3t_response_free(&r);
}

#define AR "Action=AssumeRole&Version=2011-06-15"

static void test_assume_role_validation(void **state)
{
    (void)state;
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=s&DurationSeconds=899", 1, 400,
                     "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=s1&DurationSeconds=43201", 1, 400,
                     "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=s1&DurationSeconds=1h", 1, 400,
                     "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=s1&DurationSeconds=100", 1, 400,
                     "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE, 1, 400, "ValidationError");
    assert_sts_error(AR "&RoleSessionName=s1", 1, 400, "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=has+space", 1, 400, "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=x", 1, 400, "ValidationError");
    assert_sts_error(AR "&RoleArn=arn:aws:iam::1111222233:role/short-account&RoleSessionName=s1", 1,
                     400, "ValidationError");
    assert_sts_error(AR "&RoleArn=arn:aws:iam::111122223333:user/not-a-role&RoleSessionName=s1", 1,
                     400, "ValidationError");
    assert_sts_error(AR "&RoleArn=" ROLE "&RoleSessionName=s1&ExternalId=a", 1, 400,
                     "ValidationError");
    assert_sts_error("Version=2011-06-15&RoleArn=" ROLE "&RoleSessionName=s1", 1, 400,
                     "MissingAction");
    assert_sts_error("Action=GetFederationToken&Version=2011-06-15", 1, 400, "InvalidAction");
    assert_sts_error("Action=AssumeRole&Version=2010-01-01&RoleArn=" ROLE "&RoleSessionName=s1", 1,
                     400, "InvalidAction");
    assert_sts_error(AR "&RoleArn=%zz&RoleSessionName=s1", 1, 400, "InvalidQueryParameter");
    /* The message says what was wrong, in STS's words. */
    ms3t_response r;
    sts(AR "&RoleArn=" ROLE "&RoleSessionName=s1&DurationSeconds=100", 1, &r);
    assert_string_equal(xml(&r, "Message"),
                        "1 validation error detected: Value '100' at 'durationSeconds' failed to "
                        "satisfy constraint: Member must have value greater than or equal to 900");
    ms3t_response_free(&r);
    sts(AR "&RoleArn=arn:aws:iam::111122223333:user/u&RoleSessionName=s1", 1, &r);
    assert_string_equal(xml(&r, "Message"), "Request ARN is invalid");
    ms3t_response_free(&r);
    /* Nothing was issued by a refused call. */
    ms3_journal_filter f = {0};
    f.status = 200;
    f.operation = "STS.AssumeRole";
    assert_int_equal(ms3_journal_count(srv, &f), 0);
}

static void test_role_restriction(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    static const char *const roles[] = {ROLE};
    o.sts = 1;
    o.sts_roles = roles;
    o.n_sts_roles = 1;
    o.credential_lifetime = 900;
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    ms3t_response r;
    sts_send(s, AR "&RoleArn=" ROLE "&RoleSessionName=ok", 1, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    sts_send(s, AR "&RoleArn=arn:aws:iam::111122223333:role/other&RoleSessionName=no", 1, NULL,
             NULL, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(xml(&r, "Code"), "AccessDenied");
    assert_non_null(strstr(xml(&r, "Message"), "sts:AssumeRole on resource: "
                                               "arn:aws:iam::111122223333:role/other"));
    ms3t_response_free(&r);
    ms3_server_stop(s);
}

#define WI "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" ROLE

/* A JWT (unsigned: the mock checks the token's text, not its signature) with
 * the given payload. */
static void make_jwt(const char *payload, char *out, size_t n)
{
    char b64[1024];
    size_t len = bk_checksum_base64_encode((const unsigned char *)payload, strlen(payload), b64,
                                           sizeof(b64));
    for (size_t i = 0; i < len; i++)
        b64[i] = (char)(b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i]);
    while (len > 0 && b64[len - 1] == '=')
        b64[--len] = '\0';
    snprintf(out, n, "eyJhbGciOiJSUzI1NiJ9.%s.c2lnbmF0dXJl", b64);
}

static void test_web_identity(void **state)
{
    (void)state;
    ms3t_response r;
    sts(WI "&RoleSessionName=gha&WebIdentityToken=" WEB_TOKEN "&DurationSeconds=900", 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "<AssumeRoleWithWebIdentityResponse xmlns="));
    assert_string_equal(xml(&r, "Arn"), "arn:aws:sts::111122223333:assumed-role/builder/gha");
    assert_string_equal(xml(&r, "SubjectFromWebIdentityToken"), "mock-subject");
    issued c;
    take_credentials(&r, &c);
    ms3t_response_free(&r);
    assert_int_equal(s3_put(srv, &c, "/bkt/by-web-identity", NULL), 200);

    /* Tokens it was not given; tokens added later. */
    assert_sts_error(WI "&RoleSessionName=gha&WebIdentityToken=not-the-token", 0, 400,
                     "InvalidIdentityToken");
    assert_sts_error(WI "&RoleSessionName=gha", 0, 400, "ValidationError");
    assert_int_equal(ms3_server_add_web_identity_token(srv, "web-token-beta", NULL), BK_OK);
    sts(WI "&RoleSessionName=gha&WebIdentityToken=web-token-beta", 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    assert_int_equal(ms3_server_add_web_identity_token(srv, "", NULL), BK_EINVAL);

    ms3_journal_filter f = {0};
    f.operation = "STS.AssumeRoleWithWebIdentity";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(srv, &f, &e);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].auth, "token");
    assert_true(e[0].auth_ok);
    assert_false(e[1].auth_ok);
    assert_string_equal(e[1].error_code, "InvalidIdentityToken");
    assert_null(strstr(e[0].query, "WebIdentityToken"));
    ms3_journal_entries_free(e, n);
    const char *secrets[] = {WEB_TOKEN, "web-token-beta", "not-the-token", c.secret, c.token, NULL};
    assert_journal_clean(secrets);
}

/* The admin endpoint adds tokens to a running mock; it never echoes them. */
static void test_web_identity_token_by_admin(void **state)
{
    (void)state;
    const char *json_hdr[] = {"Content-Type: application/json", NULL};
    const char *body = "{\"token\":\"admin-added-token\"}";
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/_mock/web-identity-tokens";
    rq.headers = json_hdr;
    rq.body = body;
    rq.body_len = strlen(body);
    ms3t_response r;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(bk_buf_str(&r.body), "admin-added-token"));
    ms3t_response_free(&r);
    rq.body = "{\"token\":\"\"}";
    rq.body_len = strlen(rq.body);
    assert_int_equal(ms3t_send_status(srv, &rq), 400);
    sts(WI "&RoleSessionName=adm&WebIdentityToken=admin-added-token", 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
}

static void test_web_identity_jwt_expiry(void **state)
{
    (void)state;
    char token[2048], payload[512], form[4096];
    int64_t now = ms3_server_now(srv);
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"https://token.actions.githubusercontent.com\",\"sub\":\"repo:o/r:ref\","
             "\"aud\":[\"sts.amazonaws.com\"],\"exp\":%lld}",
             (long long)now + 300);
    make_jwt(payload, token, sizeof(token));
    assert_int_equal(ms3_server_add_web_identity_token(srv, token, NULL), BK_OK);
    snprintf(form, sizeof(form), WI "&RoleSessionName=gha&WebIdentityToken=%s", token);
    ms3t_response r;
    sts(form, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(xml(&r, "SubjectFromWebIdentityToken"), "repo:o/r:ref");
    assert_string_equal(xml(&r, "Audience"), "sts.amazonaws.com");
    assert_string_equal(xml(&r, "Provider"), "token.actions.githubusercontent.com");
    ms3t_response_free(&r);
    /* Its exp on the mock's clock. */
    ms3_server_set_clock_offset(srv, 301);
    assert_sts_error(form, 0, 400, "ExpiredTokenException");
}

static void test_web_identity_token_file(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/token", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("file-token-one\n", f);
    fclose(f);

    ms3_options o;
    ms3t_default_options(&o);
    o.sts = 1;
    o.web_identity_token_file = path;
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    ms3t_response r;
    sts_send(s, WI "&RoleSessionName=k8s&WebIdentityToken=file-token-one", 0, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* Read at every call: a rotated token replaces the old one. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("file-token-two", f);
    fclose(f);
    sts_send(s, WI "&RoleSessionName=k8s&WebIdentityToken=file-token-one", 0, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(xml(&r, "Code"), "InvalidIdentityToken");
    ms3t_response_free(&r);
    sts_send(s, WI "&RoleSessionName=k8s&WebIdentityToken=file-token-two", 0, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3_server_stop(s);

    /* A mock told of no token says so. */
    ms3t_default_options(&o);
    o.sts = 1;
    s = ms3t_new_inproc(&o);
    assert_non_null(s);
    sts_send(s, WI "&RoleSessionName=k8s&WebIdentityToken=file-token-two", 0, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(xml(&r, "Code"), "InvalidIdentityToken");
    assert_non_null(strstr(xml(&r, "Message"), "--web-identity-token"));
    ms3t_response_free(&r);
    ms3_server_stop(s);
    ms3t_rmtree(dir);
    free(dir);
}

/* STS takes only what S3 never answers: POST / with a form body. */
static void test_routing_leaves_s3_alone(void **state)
{
    (void)state;
    ms3t_response r;
    /* POST / without a form: S3's MethodNotAllowed, as before. */
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/";
    rq.body = ASSUME_FORM;
    rq.body_len = strlen(ASSUME_FORM);
    rq.sign = 1;
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(bk_buf_str(&r.body), "<Error><Code>MethodNotAllowed</Code>"));
    ms3t_response_free(&r);
    /* A form POSTed to a bucket (a browser upload) is S3's too. */
    const char *form_hdr[] = {FORM_TYPE, NULL};
    rq.headers = form_hdr;
    rq.target = "/bkt";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 405);
    ms3t_response_free(&r);
    /* Virtual-host style: the Host names a bucket, so S3 answers. */
    rq.target = "/";
    rq.host = "bkt.localhost";
    ms3t_send(srv, &rq, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(bk_buf_str(&r.body), "<Error><Code>MethodNotAllowed</Code>"));
    ms3t_response_free(&r);
    /* GET / is still ListBuckets. */
    ms3t_simple(srv, "GET", "/", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "<ListAllMyBucketsResult"));
    ms3t_response_free(&r);

    /* With STS off, the STS form is S3's MethodNotAllowed. */
    ms3_server *off = ms3t_new_inproc(NULL);
    assert_non_null(off);
    sts_send(off, ASSUME_FORM, 1, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(bk_buf_str(&r.body), "<Error><Code>MethodNotAllowed</Code>"));
    ms3t_response_free(&r);
    ms3_server_stop(off);
}

static void test_faults_by_action(void **state)
{
    (void)state;
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.operation = "STS.AssumeRole";
    rule.status = 400;
    rule.error_code = "Throttling";
    rule.error_message = "Rate exceeded";
    rule.first_n = 1;
    uint64_t id = 0;
    assert_int_equal(ms3_server_add_fault(srv, &rule, &id, NULL), BK_OK);
    /* Another action does not match; the first AssumeRole gets STS's error. */
    ms3t_response r;
    sts(WI "&RoleSessionName=gha&WebIdentityToken=" WEB_TOKEN, 0, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    sts(ASSUME_FORM, 1, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(xml(&r, "Code"), "Throttling");
    assert_string_equal(xml(&r, "Message"), "Rate exceeded");
    assert_non_null(strstr(bk_buf_str(&r.body), "<ErrorResponse"));
    ms3t_response_free(&r);
    issued c;
    assume_role(ASSUME_FORM, &c);
    assert_int_equal(ms3_server_fault_fired(srv, id), 1);
}

int main(void)
{
    /* BK_TEST_UNIT */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_assume_role, reset),
        cmocka_unit_test_setup(test_assume_role_defaults_and_chaining, reset),
        cmocka_unit_test_setup(test_expiry_on_mock_clock, reset),
        cmocka_unit_test_setup(test_assume_role_refusals, reset),
        cmocka_unit_test_setup(test_assume_role_validation, reset),
        cmocka_unit_test_setup(test_role_restriction, reset),
        cmocka_unit_test_setup(test_web_identity, reset),
        cmocka_unit_test_setup(test_web_identity_token_by_admin, reset),
        cmocka_unit_test_setup(test_web_identity_jwt_expiry, reset),
        cmocka_unit_test_setup(test_web_identity_token_file, reset),
        cmocka_unit_test_setup(test_routing_leaves_s3_alone, reset),
        cmocka_unit_test_setup(test_faults_by_action, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
