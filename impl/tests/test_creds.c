/* BK_TEST_UNIT: credential chain sources, precedence and errors, with an
 * injected environment and shared files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "envtable.h"
#include "bkcache/creds.h"

#define MAX_VARS 16

typedef struct env_table {
    const char *kv[2 * MAX_VARS + 1];
} env_table;

static const char *table_get(void *ud, const char *name)
{
    env_table *t = ud;
    const char *v = bk_test_env_table_get((void *)t->kv, name);
    if (v != NULL)
        return v;
    /* Pure code: the chain's last source, instance metadata, stays off the network. */
    if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0)
        return "true";
    return NULL;
}

static char home[64];
static char cred_path[128], conf_path[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "/tmp/bk-creds-XXXXXX");
    if (mkdtemp(home) == NULL)
        return -1;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/.aws", home);
    mkdir(dir, 0700);
    snprintf(cred_path, sizeof cred_path, "%s/.aws/credentials", home);
    snprintf(conf_path, sizeof conf_path, "%s/.aws/config", home);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(cred_path);
    unlink(conf_path);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/.aws", home);
    rmdir(dir);
    rmdir(home);
    return 0;
}

static bk_code chain_fetch(env_table *t, const char *akid, const char *secret, const char *token,
                           bk_creds *out, bk_err *err)
{
    bk_env env = {table_get, t};
    bk_creds_chain_options o = {
        .access_key_id = akid, .secret_access_key = secret, .session_token = token, .env = &env};
    bk_creds_provider *p = bk_creds_provider_chain(&o, err);
    assert_non_null(p);
    bk_code rc = bk_creds_fetch(p, out, err);
    bk_creds_provider_free(p);
    return rc;
}

static void explicit_attributes_need_both(void **state)
{
    (void)state;
    env_table t = {
        {"HOME", home, "AWS_ACCESS_KEY_ID", "ENVKEY", "AWS_SECRET_ACCESS_KEY", "envsecret", NULL}};
    bk_creds c;
    bk_err err = {0};
    assert_int_equal(chain_fetch(&t, "ATTRKEY", "attrsecret", "attrtoken", &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "ATTRKEY");
    assert_string_equal(c.secret_access_key, "attrsecret");
    assert_string_equal(c.session_token, "attrtoken");
    assert_string_equal(c.source, "explicit attributes");
    bk_creds_clear(&c);
    /* A lone key id, or a session token alone, falls back to the chain. */
    assert_int_equal(chain_fetch(&t, "ATTRKEY", "", "attrtoken", &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "ENVKEY");
    assert_null(c.session_token);
    assert_string_equal(c.source, "environment");
    bk_creds_clear(&c);
    assert_int_equal(chain_fetch(&t, NULL, NULL, "attrtoken", &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "ENVKEY");
    bk_creds_clear(&c);
}

static void environment_then_profile(void **state)
{
    (void)state;
    write_file(cred_path, "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = "
                          "filesecret\n\n[ci]\naws_access_key_id=CIKEY\n"
                          "aws_secret_access_key=cisecret\naws_session_token=citoken\n");
    write_file(conf_path, "# comment\n[default]\nregion = eu-central-1\n[profile other]\n"
                          "region = ap-south-1\naws_access_key_id = CONFKEY\n"
                          "aws_secret_access_key = confsecret\ns3 =\n  addressing_style = path\n"
                          "[other]\naws_access_key_id = NOTAPROFILE\n");
    bk_creds c;
    bk_err err = {0};
    /* env with a session token wins over files */
    env_table t1 = {{"HOME", home, "AWS_ACCESS_KEY_ID", "ENVKEY", "AWS_SECRET_ACCESS_KEY",
                     "envsecret", "AWS_SESSION_TOKEN", "envtoken", NULL}};
    assert_int_equal(chain_fetch(&t1, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "ENVKEY");
    assert_string_equal(c.session_token, "envtoken");
    bk_creds_clear(&c);
    /* half the env pair: ignored, the default profile answers */
    env_table t2 = {{"HOME", home, "AWS_ACCESS_KEY_ID", "ENVKEY", NULL}};
    assert_int_equal(chain_fetch(&t2, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "FILEKEY");
    assert_string_equal(c.secret_access_key, "filesecret");
    assert_null(c.session_token);
    assert_non_null(strstr(c.source, "default"));
    bk_creds_clear(&c);
    /* AWS_PROFILE picks a credentials-file section */
    env_table t3 = {{"HOME", home, "AWS_PROFILE", "ci", NULL}};
    assert_int_equal(chain_fetch(&t3, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "CIKEY");
    assert_string_equal(c.session_token, "citoken");
    bk_creds_clear(&c);
    /* ... or a [profile x] section of the config file ([x] there is not a profile) */
    env_table t4 = {{"HOME", home, "AWS_PROFILE", "other", NULL}};
    assert_int_equal(chain_fetch(&t4, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "CONFKEY");
    bk_creds_clear(&c);
    bk_env env = {table_get, &t4};
    char *region = bk_creds_profile_region(&env, NULL);
    assert_string_equal(region, "ap-south-1");
    free(region);
    /* explicit file locations */
    char alt[160];
    snprintf(alt, sizeof alt, "%s/alt-credentials", home);
    write_file(alt, "[default]\naws_access_key_id = ALTKEY\naws_secret_access_key = altsecret\n");
    env_table t5 = {{"HOME", "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE", alt, NULL}};
    assert_int_equal(chain_fetch(&t5, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "ALTKEY");
    bk_creds_clear(&c);
    unlink(alt);
    /* the credentials file wins over the config file for the same profile */
    write_file(conf_path, "[default]\naws_access_key_id = CONFDEFAULT\n"
                          "aws_secret_access_key = confdefault\n");
    env_table t6 = {{"HOME", home, NULL}};
    assert_int_equal(chain_fetch(&t6, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.access_key_id, "FILEKEY");
    bk_creds_clear(&c);
    unlink(cred_path);
    unlink(conf_path);
}

static void nothing_found_names_every_source(void **state)
{
    (void)state;
    bk_creds c;
    bk_err err = {0};
    env_table t = {{"HOME", home, "AWS_PROFILE", "missing", NULL}};
    assert_int_equal(chain_fetch(&t, "ONLYKEY", NULL, NULL, &c, &err), BK_EAUTH);
    assert_non_null(strstr(err.msg, "no AWS credentials found"));
    assert_non_null(strstr(err.msg, "explicit attributes (only one"));
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
    assert_non_null(strstr(err.msg, "profile \"missing\""));
    assert_non_null(strstr(err.msg, cred_path));
    assert_non_null(strstr(err.msg, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)"));
    assert_non_null(strstr(err.msg, "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    assert_non_null(strstr(err.msg, "instance metadata (AWS_EC2_METADATA_DISABLED=true)"));
    assert_null(c.access_key_id);
}

/* A source that is configured but broken ends the chain with its own error;
 * nothing is reached over the network for any of these. */
static void configured_sources_fail_clearly(void **state)
{
    (void)state;
    bk_creds c;
    bk_err err = {0};
    env_table t = {{"HOME", home, "AWS_ROLE_ARN", "arn:aws:iam::1:role/r",
                    "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", NULL}};
    assert_int_equal(chain_fetch(&t, NULL, NULL, NULL, &c, &err), BK_EIO);
    assert_non_null(strstr(err.msg, "web identity token file /nonexistent/token"));
    env_table t1 = {{"HOME", home, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", NULL}};
    assert_int_equal(chain_fetch(&t1, NULL, NULL, NULL, &c, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "no role ARN (AWS_ROLE_ARN"));
    /* keys in the environment come first, as in the SDK's order */
    env_table t2 = {{"HOME", home, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token",
                     "AWS_ACCESS_KEY_ID", "K", "AWS_SECRET_ACCESS_KEY", "S", NULL}};
    assert_int_equal(chain_fetch(&t2, NULL, NULL, NULL, &c, &err), BK_OK);
    assert_string_equal(c.source, "environment");
    bk_creds_clear(&c);

    write_file(conf_path, "[profile assumed]\nrole_arn = arn:aws:iam::1:role/r\n"
                          "source_profile = nowhere\n"
                          "[profile lonely]\nrole_arn = arn:aws:iam::1:role/r\n"
                          "[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\n"
                          "source_profile = mfa\nmfa_serial = arn:aws:iam::1:mfa/u\n"
                          "[profile src]\ncredential_source = Elsewhere\n"
                          "role_arn = arn:aws:iam::1:role/r\n"
                          "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
                          "[profile cycle]\nrole_arn = arn:aws:iam::1:role/r\n"
                          "source_profile = cycle2\n"
                          "[profile cycle2]\nrole_arn = arn:aws:iam::1:role/r\n"
                          "source_profile = cycle\n");
    static const struct {
        const char *profile;
        bk_code code;
        const char *says;
    } cases[] = {
        {"assumed", BK_EINVAL, "profile assumed: source_profile nowhere: "},
        {"lonely", BK_EINVAL, "role_arn needs source_profile, credential_source"},
        {"mfa", BK_EUNSUPPORTED, "mfa_serial"},
        {"src", BK_EINVAL, "credential_source \"Elsewhere\": must be EcsContainer"},
        {"sso", BK_EINVAL, "profile sso: sso_session corp: no [sso-session corp] section"},
        {"cycle", BK_EINVAL, "longer than 8 profiles"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        env_table tp = {{"HOME", home, "AWS_PROFILE", cases[i].profile, NULL}};
        assert_int_equal(chain_fetch(&tp, NULL, NULL, NULL, &c, &err), cases[i].code);
        if (strstr(err.msg, cases[i].says) == NULL)
            fail_msg("profile %s: \"%s\" lacks \"%s\"", cases[i].profile, err.msg, cases[i].says);
    }
    unlink(conf_path);
}

static void secrets_never_in_messages(void **state)
{
    (void)state;
    const char *secret = "SeCrEt-DoNotPrint-123";
    write_file(cred_path, "[p]\naws_access_key_id = \naws_secret_access_key = "
                          "SeCrEt-DoNotPrint-123\n");
    bk_creds c;
    bk_err err = {0};
    env_table t = {{"HOME", home, "AWS_PROFILE", "p", "AWS_SECRET_ACCESS_KEY", secret, NULL}};
    assert_int_equal(chain_fetch(&t, "", secret, NULL, &c, &err), BK_EAUTH);
    assert_null(strstr(err.msg, secret));
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
    unlink(cred_path);

    /* A static provider copies; clearing scrubs and frees. */
    bk_creds_provider *p = bk_creds_provider_static("K", secret, NULL, &err);
    assert_non_null(p);
    assert_int_equal(bk_creds_fetch(p, &c, &err), BK_OK);
    assert_string_equal(c.secret_access_key, secret);
    bk_creds_clear(&c);
    assert_null(c.secret_access_key);
    bk_creds_provider_free(p);
    assert_null(bk_creds_provider_static("K", "", NULL, &err));
    assert_int_equal(err.code, BK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(explicit_attributes_need_both),
        cmocka_unit_test(environment_then_profile),
        cmocka_unit_test(nothing_found_names_every_source),
        cmocka_unit_test(configured_sources_fail_clearly),
        cmocka_unit_test(secrets_never_in_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
