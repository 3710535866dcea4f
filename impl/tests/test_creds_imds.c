/* EC2 instance metadata (IMDSv2) against the mock's IMDS: the token, role
 * and credentials sequence, AWS_EC2_METADATA_DISABLED, and an absent IMDS:
 * a closed port fails at once, a listener that never answers within the
 * SDK's short timeout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "creds_fx.h"

static int setup(void **state)
{
    creds_fx *f = calloc(1, sizeof *f);
    ms3_options o;
    ms3_options_init(&o);
    o.imds = 1;
    o.imds_role = "builder-instance";
    if (f == NULL || creds_fx_start(f, &o) != 0)
        return -1;
    creds_fx_setenv(f, "AWS_EC2_METADATA_DISABLED", "false");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    creds_fx_stop(*state);
    free(*state);
    return 0;
}

static void token_role_credentials(void **state)
{
    creds_fx *f = *state;
    creds_fx_setenv(f, "AWS_EC2_METADATA_SERVICE_ENDPOINT", ms3_server_imds_url(f->mock));
    if (creds_fx_request(f, "imds/a") != BK_OK)
        fail_msg("%s", f->err.msg);
    assert_string_equal(f->source, "instance metadata");
    assert_int_equal(creds_fx_count(f, "IMDS.GetToken"), 1);
    assert_int_equal(creds_fx_count(f, "IMDS.ListRoles"), 1);
    assert_int_equal(creds_fx_count(f, "IMDS.GetCredentials"), 1);
    /* IMDSv2 only: every metadata request carried the token (none refused). */
    ms3_journal_filter jf = {.status = 401};
    assert_int_equal(ms3_journal_count(f->mock, &jf), 0);
    char akid[64];
    creds_fx_last_key(f, "PutObject", akid);
    assert_true(strncmp(akid, "ASIA", 4) == 0);

    /* Turned off: not asked at all, and the message says why. */
    creds_fx_setenv(f, "AWS_EC2_METADATA_DISABLED", "TRUE");
    assert_int_equal(creds_fx_request(f, "imds/off"), BK_EAUTH);
    assert_non_null(strstr(f->err.msg, "instance metadata (AWS_EC2_METADATA_DISABLED=true)"));
    assert_int_equal(creds_fx_count(f, "IMDS.GetToken"), 1);
}

/* A loopback port with nothing listening. */
static void closed_port_fails_at_once(void **state)
{
    creds_fx *f = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    creds_fx_setenv(f, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    assert_int_equal(creds_fx_request(f, "imds/closed"), BK_EAUTH);
    assert_non_null(strstr(f->err.msg, "no AWS credentials found"));
    assert_non_null(strstr(f->err.msg, url));
}

/* A listener that accepts nothing: the connection waits in the backlog and
 * no answer comes; the short timeout ends it. */
static void silent_listener_ends_at_the_timeout(void **state)
{
    creds_fx *f = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 8), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    creds_fx_setenv(f, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    assert_int_equal(creds_fx_request(f, "imds/silent"), BK_EAUTH);
    assert_non_null(strstr(f->err.msg, "no answer within 1000 ms"));
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(token_role_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(closed_port_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_listener_ends_at_the_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
