/* The container credentials endpoint (BK_TEST_UNIT: in process, on the ECS
 * endpoint): the JSON document, the authorization token (fixed or from a
 * file read at every call), JSON errors, the credentials working for S3, a
 * journal without the token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms3_test.h"

#define ECS_TOKEN "ecs-token-Zm9vYmFy"

/* A GET on the ECS endpoint of s with an Authorization (NULL = none). */
static void ecs_get(ms3_server *s, const char *target, const char *authz, ms3t_response *r)
{
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Authorization: %s", authz != NULL ? authz : "");
    const char *h[] = {hdr, NULL};
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = target;
    rq.headers = authz != NULL ? h : NULL;
    rq.endpoint = MS3_ENDPOINT_ECS;
    ms3t_send(s, &rq, r);
}

/* The JSON error's code, after checking its shape. */
static void assert_error(ms3_server *s, const char *target, const char *authz, long status,
                         const char *code)
{
    ms3t_response r;
    ecs_get(s, target, authz, &r);
    assert_int_equal(r.status, status);
    json_error_t jerr;
    json_t *doc = json_loads(bk_buf_str(&r.body), 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "code")), code);
    assert_non_null(json_string_value(json_object_get(doc, "message")));
    json_decref(doc);
    ms3t_response_free(&r);
}

/* Fetches the document and uses its credentials against S3. */
static void assert_serves(ms3_server *s, const char *authz)
{
    ms3t_response r;
    ecs_get(s, "/v2/credentials/task", authz, &r);
    assert_int_equal(r.status, 200);
    char ct[64];
    assert_string_equal(ms3t_header(&r, "Content-Type", ct, sizeof(ct)), "application/json");
    json_error_t jerr;
    json_t *doc = json_loads(bk_buf_str(&r.body), 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "RoleArn")),
                        "arn:aws:iam::123456789012:role/task-role");
    const char *akid = json_string_value(json_object_get(doc, "AccessKeyId"));
    const char *secret = json_string_value(json_object_get(doc, "SecretAccessKey"));
    const char *token = json_string_value(json_object_get(doc, "Token"));
    assert_non_null(json_string_value(json_object_get(doc, "Expiration")));
    assert_true(strncmp(akid, "ASIA", 4) == 0);
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/from-task";
    rq.body = "x";
    rq.body_len = 1;
    rq.sign = 1;
    rq.access_key = akid;
    rq.secret_key = secret;
    rq.session_token = token;
    assert_int_equal(ms3t_send_status(s, &rq), 200);
    char *journal = ms3_journal_json(s, NULL);
    assert_null(strstr(journal, secret));
    assert_null(strstr(journal, token));
    assert_null(strstr(journal, ECS_TOKEN));
    free(journal);
    json_decref(doc);
    ms3t_response_free(&r);
}

static ms3_server *start(const char *token, const char *token_file)
{
    ms3_options o;
    ms3t_default_options(&o);
    o.ecs = 1;
    o.ecs_path = "/v2/credentials/task";
    o.ecs_token = token;
    o.ecs_token_file = token_file;
    o.imds_role = "task-role";
    return ms3t_new_inproc(&o);
}

static void test_without_token(void **state)
{
    (void)state;
    ms3_server *s = start(NULL, NULL);
    assert_non_null(s);
    assert_string_equal(ms3_server_ecs_url(s), ""); /* no listener in process */
    assert_serves(s, NULL);
    assert_error(s, "/v2/credentials/other", NULL, 404, "NotFound");
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/v2/credentials/task";
    rq.endpoint = MS3_ENDPOINT_ECS;
    assert_int_equal(ms3t_send_status(s, &rq), 405);
    ms3_journal_filter f = {0};
    f.operation = "ECS.GetCredentials";
    assert_int_equal(ms3_journal_count(s, &f), 3);
    ms3_server_stop(s);
}

static void test_token(void **state)
{
    (void)state;
    ms3_server *s = start(ECS_TOKEN, NULL);
    assert_non_null(s);
    assert_error(s, "/v2/credentials/task", NULL, 401, "Unauthorized");
    assert_error(s, "/v2/credentials/task", "not-the-token", 403, "AccessDenied");
    assert_error(s, "/v2/credentials/task", "Bearer " ECS_TOKEN, 403, "AccessDenied");
    assert_serves(s, ECS_TOKEN);
    ms3_journal_filter f = {0};
    f.operation = "ECS.GetCredentials";
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(s, &f, &e);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].error_code, "Unauthorized");
    assert_string_equal(e[3].auth, "token");
    assert_true(e[3].auth_ok);
    assert_non_null(strstr(e[3].headers_json, "\"Authorization\":\"(redacted)\""));
    assert_non_null(strstr(e[2].headers_json, "\"Authorization\":\"Bearer (redacted)\""));
    ms3_journal_entries_free(e, n);
    ms3_server_stop(s);
}

static void test_token_file(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/token", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(ECS_TOKEN "\n", f);
    fclose(f);
    ms3_server *s = start(NULL, path);
    assert_non_null(s);
    assert_serves(s, ECS_TOKEN);
    /* Rotated: the file is read at every call. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("rotated-token", f);
    fclose(f);
    assert_error(s, "/v2/credentials/task", ECS_TOKEN, 403, "AccessDenied");
    ms3t_response r;
    ecs_get(s, "/v2/credentials/task", "rotated-token", &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    /* A file that went away accepts nothing. */
    unlink(path);
    assert_error(s, "/v2/credentials/task", "rotated-token", 403, "AccessDenied");
    ms3_server_stop(s);
    ms3t_rmtree(dir);
    free(dir);
}

int main(void)
{
    /* BK_TEST_UNIT */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_token),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_token_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
