/* Container credentials against the mock's ECS endpoint: the full URI and
 * the hosts it may name, the authorization token from the variable and from
 * its file, and the chain around it (the profile shadows it, it shadows
 * instance metadata). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "creds_fx.h"

#define ECS_TOKEN "ecs-authorization-token-for-tests"

static int setup(void **state)
{
    creds_fx *f = calloc(1, sizeof *f);
    ms3_options o;
    ms3_options_init(&o);
    o.ecs = 1;
    o.imds = 1;
    o.ecs_token = ECS_TOKEN;
    if (f == NULL || creds_fx_start(f, &o) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    creds_fx_stop(*state);
    free(*state);
    return 0;
}

static void full_uri_with_token(void **state)
{
    creds_fx *f = *state;
    creds_fx_setenv(f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", ms3_server_ecs_url(f->mock));
    /* Without the token the endpoint refuses: the error says what is missing. */
    assert_int_equal(creds_fx_request(f, "ecs/none"), BK_EAUTH);
    assert_non_null(strstr(f->err.msg, "HTTP 401"));
    assert_non_null(strstr(f->err.msg, "AWS_CONTAINER_AUTHORIZATION_TOKEN"));

    creds_fx_setenv(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", ECS_TOKEN);
    if (creds_fx_request(f, "ecs/token") != BK_OK)
        fail_msg("%s", f->err.msg);
    assert_string_equal(f->source, "container credentials");
    char akid[64];
    creds_fx_last_key(f, "PutObject", akid);
    assert_true(strncmp(akid, "ASIA", 4) == 0);

    /* The file wins over the variable (EKS Pod Identity rotates it). */
    char path[128];
    creds_fx_write(f, "ecs-token", ECS_TOKEN "\n", path, sizeof path);
    creds_fx_setenv(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Not-The-Token-4711");
    creds_fx_setenv(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path);
    if (creds_fx_request(f, "ecs/file") != BK_OK)
        fail_msg("%s", f->err.msg);
    assert_int_equal(creds_fx_count(f, "ECS.GetCredentials"), 3);
    /* Never the token in a message. */
    creds_fx_setenv(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
    assert_int_equal(creds_fx_request(f, "ecs/refused"), BK_EAUTH);
    assert_non_null(strstr(f->err.msg, "HTTP 403"));
    assert_null(strstr(f->err.msg, "Not-The-Token-4711"));
}

/* Over http only loopback and the ECS/EKS agents' addresses; https anywhere. */
static void full_uri_hosts(void **state)
{
    creds_fx *f = *state;
    creds_fx_setenv(f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds");
    assert_int_equal(creds_fx_request(f, "ecs/far"), BK_EINVAL);
    assert_non_null(strstr(f->err.msg, "only a loopback host"));
    creds_fx_setenv(f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds");
    assert_int_equal(creds_fx_request(f, "ecs/ftp"), BK_EINVAL);
    assert_int_equal(creds_fx_count(f, "ECS.GetCredentials"), 0);
}

/* The relative URI goes to 169.254.170.2, which a test may not reach: a
 * full URI set too wins, as in the SDK. */
static void full_uri_wins_over_relative(void **state)
{
    creds_fx *f = *state;
    creds_fx_setenv(f, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x");
    creds_fx_setenv(f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", ms3_server_ecs_url(f->mock));
    creds_fx_setenv(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", ECS_TOKEN);
    if (creds_fx_request(f, "ecs/both") != BK_OK)
        fail_msg("%s", f->err.msg);
    assert_int_equal(creds_fx_count(f, "ECS.GetCredentials"), 1);
}

/* Profile over container, container over instance metadata. */
static void chain_order(void **state)
{
    creds_fx *f = *state;
    creds_fx_setenv(f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", ms3_server_ecs_url(f->mock));
    creds_fx_setenv(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN", ECS_TOKEN);
    creds_fx_setenv(f, "AWS_EC2_METADATA_DISABLED", "false");
    creds_fx_setenv(f, "AWS_EC2_METADATA_SERVICE_ENDPOINT", ms3_server_imds_url(f->mock));
    if (creds_fx_request(f, "order/ecs") != BK_OK)
        fail_msg("%s", f->err.msg);
    assert_string_equal(f->source, "container credentials");
    assert_int_equal(creds_fx_count(f, "IMDS.GetToken"), 0);

    bk_err err;
    assert_int_equal(ms3_server_add_credentials(f->mock, "AKIAPROFILEKEY000001",
                                                "profile/secret/0000000000000000000000000", NULL,
                                                &err),
                     BK_OK);
    char path[128];
    creds_fx_write(f, "credentials",
                   "[default]\naws_access_key_id = AKIAPROFILEKEY000001\n"
                   "aws_secret_access_key = profile/secret/0000000000000000000000000\n",
                   path, sizeof path);
    creds_fx_setenv(f, "AWS_SHARED_CREDENTIALS_FILE", path);
    if (creds_fx_request(f, "order/profile") != BK_OK)
        fail_msg("%s", f->err.msg);
    assert_string_equal(f->source, "profile default (shared files)");
    assert_int_equal(creds_fx_count(f, "ECS.GetCredentials"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_uri_with_token, setup, teardown),
        cmocka_unit_test_setup_teardown(full_uri_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(full_uri_wins_over_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
