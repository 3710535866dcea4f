/* IAM Identity Center through the chain: the token `aws sso login` cached
 * (named by the SHA-1 of the sso_session name, or of the legacy
 * sso_start_url), GetRoleCredentials at AWS_ENDPOINT_URL_SSO with the token
 * in its header, and the errors that say to log in again. The portal is a
 * canned answer on loopback. */
#include <openssl/sha.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "envtable.h"
#include "bkcache/creds.h"
#include "bkcache/sigv4.h"
#include "cachegen.h"
#include "rawhttp.h"

#define SSO_TOKEN "sso-access-token-for-tests"
#define ANSWER                                                                                     \
    "{\"roleCredentials\":{\"accessKeyId\":\"ASIASSOROLE000000001\",\"secretAccessKey\":"          \
    "\"sso-secret\",\"sessionToken\":\"sso-session-token\",\"expiration\":1893553445000}}"

typedef struct fx {
    char dir[64], conf[128];
    const char *vars[13];
    bk_env env;
    raw_server *portal;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/bk-sso-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/config", f->dir);
    char reply[512];
    snprintf(reply, sizeof reply,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(ANSWER), ANSWER);
    f->portal = raw_server_start(RAW_REPLY, reply);
    if (f->portal == NULL)
        return -1;
    const char *vars[] = {"HOME",
                          f->dir,
                          "AWS_CONFIG_FILE",
                          f->conf,
                          "AWS_PROFILE",
                          "dev",
                          "AWS_ENDPOINT_URL_SSO",
                          raw_server_url(f->portal),
                          "AWS_EC2_METADATA_DISABLED",
                          "true",
                          NULL};
    memcpy(f->vars, vars, sizeof vars);
    f->env.get = bk_test_env_table_get;
    f->env.ud = (void *)f->vars;
    char cache[128];
    snprintf(cache, sizeof cache, "%s/.aws", f->dir);
    mkdir(cache, 0700);
    snprintf(cache, sizeof cache, "%s/.aws/sso", f->dir);
    mkdir(cache, 0700);
    snprintf(cache, sizeof cache, "%s/.aws/sso/cache", f->dir);
    mkdir(cache, 0700);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    raw_server_stop(f->portal);
    bk_test_rmtree(f->dir);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The cache file `aws sso login` writes for key. */
static void cache_token(fx *f, const char *key, const char *expires_at)
{
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)key, strlen(key), d);
    char hex[2 * SHA_DIGEST_LENGTH + 1], path[256], text[256];
    bk_sigv4_hex(d, sizeof d, hex);
    snprintf(path, sizeof path, "%s/.aws/sso/cache/%s.json", f->dir, hex);
    snprintf(text, sizeof text,
             "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"eu-west-1\", "
             "\"accessToken\": \"" SSO_TOKEN "\", \"expiresAt\": \"%s\"}",
             expires_at);
    write_text(path, text);
}

static bk_code fetch(fx *f, bk_creds *out, bk_err *err)
{
    bk_creds_chain_options o = {.env = &f->env};
    bk_creds_provider *p = bk_creds_provider_chain(&o, err);
    assert_non_null(p);
    bk_code rc = bk_creds_fetch(p, out, err);
    bk_creds_provider_free(p);
    return rc;
}

static void sso_session_profile(void **state)
{
    fx *f = *state;
    write_text(f->conf, "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
                        "sso_role_name = Build+Deploy\n\n[sso-session corp]\n"
                        "sso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n");
    cache_token(f, "corp", "2099-01-01T00:00:00Z");
    bk_creds c;
    bk_err err = {0};
    if (fetch(f, &c, &err) != BK_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(c.access_key_id, "ASIASSOROLE000000001");
    assert_string_equal(c.session_token, "sso-session-token");
    assert_int_equal((long long)c.expires, 1893553445LL);
    assert_string_equal(c.source, "profile dev (IAM Identity Center)");
    bk_creds_clear(&c);
    char req[4096];
    raw_server_last_request(f->portal, req, sizeof req);
    assert_non_null(strstr(req, "GET /federation/credentials?account_id=111122223333"
                                "&role_name=Build%2BDeploy HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "\r\nx-amz-sso_bearer_token: " SSO_TOKEN "\r\n"));
}

/* The legacy form: start URL and region in the profile, the cache named by the URL. */
static void legacy_profile(void **state)
{
    fx *f = *state;
    write_text(f->conf, "[profile dev]\nsso_start_url = https://corp.awsapps.com/start\n"
                        "sso_region = eu-west-1\nsso_account_id = 111122223333\n"
                        "sso_role_name = Build\n");
    cache_token(f, "https://corp.awsapps.com/start", "2099-01-01T00:00:00Z");
    bk_creds c;
    bk_err err = {0};
    if (fetch(f, &c, &err) != BK_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(c.access_key_id, "ASIASSOROLE000000001");
    bk_creds_clear(&c);
}

static void log_in_again(void **state)
{
    fx *f = *state;
    write_text(f->conf, "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
                        "sso_role_name = Build\n[sso-session corp]\n"
                        "sso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n");
    bk_creds c;
    bk_err err = {0};
    /* No cached token yet. */
    assert_int_equal(fetch(f, &c, &err), BK_EAUTH);
    assert_non_null(strstr(err.msg, "aws sso login --profile dev"));
    /* An expired one. */
    cache_token(f, "corp", "2020-01-01T00:00:00Z");
    assert_int_equal(fetch(f, &c, &err), BK_EAUTH);
    assert_non_null(strstr(err.msg, "the SSO token expired at 2020-01-01T00:00:00Z"));
    assert_null(strstr(err.msg, SSO_TOKEN));
    /* A profile missing a key says which. */
    write_text(f->conf, "[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
                        "[sso-session corp]\nsso_start_url = https://x\nsso_region = eu-west-1\n");
    assert_int_equal(fetch(f, &c, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "needs sso_role_name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sso_session_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(log_in_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
