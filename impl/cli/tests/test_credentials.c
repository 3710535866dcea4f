/* The credential chain end to end: `bkcache export` with no keys anywhere
 * but what a source hands it, against the mock-s3 binary's STS; a profile's
 * credential_process run by the binary, its stderr reaching the user; no
 * output holding a token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define GRAPH (BK_FIXTURES_DIR "/graphs/linear.json")
#define DEADLINE_S 60
#define AK "AKIACLICREDENTIALS01"
#define SK "cli/credentials/secret/000000000000000"
#define TOKEN "cli.web-identity.token-4711"

typedef struct fx {
    bk_proc_child mock;
    char url[128];
    char dir[256];
    char attrs[512];
    char e_home[300], e_sts[200], e_creds[300], e_conf[300];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *buckets[] = {"creds", NULL};
    const char *extra[] = {"--sts", "--web-identity-token", TOKEN, "--credential-lifetime", "900",
                           NULL};
    int port;
    if (bk_mock_start(buckets, extra, AK, SK, &f->mock, f->url, sizeof f->url, &port) != 0)
        return -1;
    assert_int_equal(bk_tmpdir(f->dir, sizeof f->dir), 0);
    snprintf(f->attrs, sizeof f->attrs,
             "type=s3,bucket=creds,region=us-east-1,endpoint_url=%s,use_path_style=true", f->url);
    snprintf(f->e_home, sizeof f->e_home, "HOME=%s", f->dir);
    snprintf(f->e_sts, sizeof f->e_sts, "AWS_ENDPOINT_URL_STS=%s", f->url);
    snprintf(f->e_creds, sizeof f->e_creds, "AWS_SHARED_CREDENTIALS_FILE=%s/none", f->dir);
    snprintf(f->e_conf, sizeof f->e_conf, "AWS_CONFIG_FILE=%s/config", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    bk_proc_stop(&f->mock, 5);
    bk_rmtree(f->dir);
    free(f);
    return 0;
}

static void run_export(fx *f, const char *const *env, const char *prefix, bk_proc_result *r)
{
    char attrs[640];
    snprintf(attrs, sizeof attrs, "%s,prefix=%s/", f->attrs, prefix);
    const char *argv[] = {BKCACHE, "export", "-v", "--graph", GRAPH, "--cache-to", attrs, NULL};
    assert_int_equal(bk_proc_run(argv, env, NULL, 0, DEADLINE_S, r), 0);
    assert_false(r->timed_out);
}

static void web_identity(void **state)
{
    fx *f = *state;
    char path[300], e_file[320];
    snprintf(path, sizeof path, "%s/token", f->dir);
    assert_int_equal(bk_write_file(path, TOKEN "\n", strlen(TOKEN) + 1), 0);
    snprintf(e_file, sizeof e_file, "AWS_WEB_IDENTITY_TOKEN_FILE=%s", path);
    const char *env[] = {"AWS_ACCESS_KEY_ID=",
                         "AWS_SECRET_ACCESS_KEY=",
                         "AWS_SESSION_TOKEN=",
                         "AWS_PROFILE=",
                         "AWS_ROLE_ARN=arn:aws:iam::123456789012:role/ci",
                         e_file,
                         f->e_sts,
                         f->e_home,
                         f->e_creds,
                         f->e_conf,
                         NULL};
    bk_proc_result r;
    run_export(f, env, "wi", &r);
    if (r.exit_code != 0)
        fail_msg("export with web identity exited %d:\n%s", r.exit_code, r.err);
    /* -v names the source, and nothing shows the token. */
    assert_non_null(
        strstr(r.err, "export: credentials: web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"));
    assert_null(strstr(r.err, TOKEN));
    assert_null(strstr(r.out, TOKEN));
    bk_proc_result_clear(&r);

    /* A token STS refuses: STS's code, never the token. */
    assert_int_equal(bk_write_file(path, "Wrong-Token-0815\n", 17), 0);
    run_export(f, env, "wi-bad", &r);
    assert_int_equal(r.exit_code, 1);
    assert_non_null(strstr(r.err, "InvalidIdentityToken"));
    assert_null(strstr(r.err, "Wrong-Token-0815"));
    assert_null(strstr(r.out, "Wrong-Token-0815"));
    bk_proc_result_clear(&r);
}

static void credential_process(void **state)
{
    fx *f = *state;
    char helper[300], conf[300], text[800];
    snprintf(helper, sizeof helper, "%s/helper", f->dir);
    snprintf(text, sizeof text,
             "#!/bin/sh\necho 'helper: asked for credentials' >&2\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}'\n",
             AK, SK);
    assert_int_equal(bk_write_file(helper, text, strlen(text)), 0);
    assert_int_equal(chmod(helper, 0700), 0);
    snprintf(conf, sizeof conf, "%s/config", f->dir);
    snprintf(text, sizeof text, "[profile tool]\ncredential_process = %s --for bkcache\n", helper);
    assert_int_equal(bk_write_file(conf, text, strlen(text)), 0);
    const char *env[] = {"AWS_ACCESS_KEY_ID=",
                         "AWS_SECRET_ACCESS_KEY=",
                         "AWS_SESSION_TOKEN=",
                         "AWS_WEB_IDENTITY_TOKEN_FILE=",
                         "AWS_PROFILE=tool",
                         f->e_home,
                         f->e_creds,
                         f->e_conf,
                         NULL};
    bk_proc_result r;
    run_export(f, env, "process", &r);
    if (r.exit_code != 0)
        fail_msg("export with credential_process exited %d:\n%s", r.exit_code, r.err);
    /* The helper's own messages reach the user (an MFA prompt would). */
    assert_non_null(strstr(r.err, "helper: asked for credentials"));
    assert_non_null(strstr(r.err, "export: credentials: profile tool (credential_process)"));
    assert_null(strstr(r.err, SK));
    bk_proc_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(web_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(credential_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
