/* credentials: where the keys come from (SPEC 2; field reports 11-13).
 * Static attributes only when both access_key_id and secret_access_key are
 * given (then they win over the environment); otherwise the AWS default
 * chain: environment, shared credentials file with AWS_PROFILE. A session
 * token is sent as X-Amz-Security-Token and signed. No credentials at all is
 * a prompt, reported failure. On the mock, the chain's remote sources too:
 * web identity (STS AssumeRoleWithWebIdentity at AWS_ENDPOINT_URL_STS) and
 * container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI with its
 * authorization token), and the environment's keys shadowing web identity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

#define SUITE "credentials"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_credentials_checks[] = {
    {"env_chain", CONF_REQUIRED, NULL},
    {"static_attributes_win", CONF_REQUIRED, NULL},
    {"partial_attributes_ignored", CONF_REQUIRED, NULL},
    {"session_token_signed", CONF_REQUIRED, NULL},
    {"shared_credentials_profile", CONF_REQUIRED, NULL},
    {"no_credentials_fails", CONF_REQUIRED, NULL},
    {"web_identity", CONF_REQUIRED, NULL},
    {"container_credentials", CONF_REQUIRED, NULL},
    {"environment_over_web_identity", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

#define ALT_KEY "AKIACONFALTERNATE001"
#define ALT_SECRET "conf/alternate+secret/0000000000000000"
#define TOKEN_KEY "ASIACONFSESSION00001"
#define TOKEN_SECRET "conf/session/secret/00000000000000000"
#define TOKEN "conf-session-token/with+odd=chars"

static const char *const unset_chain[] = {
    "AWS_ACCESS_KEY_ID=",
    "AWS_SECRET_ACCESS_KEY=",
    "AWS_SESSION_TOKEN=",
    "AWS_PROFILE=",
    "AWS_DEFAULT_PROFILE=",
    "AWS_WEB_IDENTITY_TOKEN_FILE=",
    "AWS_ROLE_ARN=",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI=",
    "AWS_EC2_METADATA_DISABLED=true",
};
#define N_UNSET (sizeof unset_chain / sizeof unset_chain[0])

/* Journal: the access key ids used since mark; 1 when all equal want, or,
 * want NULL, when all are temporary (ASIA...) keys other than the runner's. */
static int all_signed_by(conf_ctx *c, uint64_t mark, const char *want, char *why, size_t size)
{
    json_t *entries = conf_journal_since(c, mark);
    size_t i;
    json_t *e;
    int ok = json_array_size(entries) > 0;
    if (!ok)
        snprintf(why, size, "no requests reached the mock");
    json_array_foreach(entries, i, e)
    {
        const char *key = conf_jstr(e, "access_key_id");
        int right = want != NULL ? strcmp(key, want) == 0
                                 : strncmp(key, "ASIA", 4) == 0 && strcmp(key, c->access_key) != 0;
        if (ok && !right) {
            ok = 0;
            snprintf(why, size, "%s %s was signed with %s, expected %s", conf_jstr(e, "operation"),
                     conf_jstr(e, "key"), key[0] ? key : "(nothing)",
                     want != NULL ? want : "the issued temporary key");
        }
    }
    json_decref(entries);
    return ok;
}

/* Exports linear with extra attributes and environment; reports check. */
static void export_case(conf_ctx *c, const char *check, const char *extra, const char *const *env,
                        const char *want_key, const char *what)
{
    char prefix[256], why[1200] = "";
    conf_case_prefix(c, check, prefix, sizeof prefix);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .extra = extra, .env = env};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    if (c->is_mock && want_key != NULL && !all_signed_by(c, mark, want_key, why, sizeof why))
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "%s", what);
}

static void session_token(conf_ctx *c)
{
    const char *check = "session_token_signed";
    if (!c->is_mock) {
        conf_skip_needs_mock(c, SUITE, check, "a credential with a session token");
        return;
    }
    bk_err err;
    bk_err_clear(&err);
    if (ms3_server_add_credentials(c->mock, TOKEN_KEY, TOKEN_SECRET, TOKEN, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    const char *env[] = {"AWS_ACCESS_KEY_ID=" TOKEN_KEY, "AWS_SECRET_ACCESS_KEY=" TOKEN_SECRET,
                         "AWS_SESSION_TOKEN=" TOKEN, NULL};
    char prefix[256], why[1200] = "";
    conf_case_prefix(c, check, prefix, sizeof prefix);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .env = env};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    if (!all_signed_by(c, mark, TOKEN_KEY, why, sizeof why)) {
        conf_fail(c, SUITE, check, "%s", why);
        return;
    }
    json_t *entries = conf_journal_since(c, mark);
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *tok = conf_jheader(e, "x-amz-security-token");
        const char *authz = conf_jheader(e, "authorization");
        if (tok == NULL || authz == NULL || strstr(authz, "x-amz-security-token") == NULL) {
            snprintf(why, sizeof why, "%s %s: X-Amz-Security-Token %s", conf_jstr(e, "operation"),
                     conf_jstr(e, "key"), tok == NULL ? "missing" : "not signed");
            break;
        }
    }
    if (why[0])
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "%zu requests carry the signed token", json_array_size(entries));
    json_decref(entries);
}

static void shared_profile(conf_ctx *c, const char *key, const char *secret)
{
    const char *check = "shared_credentials_profile";
    char dir[4300], creds[4400], config[4400];
    if (conf_mkdtemp(c, "creds", dir, sizeof dir) != 0) {
        conf_fail(c, SUITE, check, "setup: cannot create a folder");
        return;
    }
    snprintf(creds, sizeof creds, "%s/credentials", dir);
    snprintf(config, sizeof config, "%s/config", dir);
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "[default]\naws_access_key_id = AKIANOTTHEDEFAULT000\n"
                     "aws_secret_access_key = wrong\n\n[conformance]\naws_access_key_id = %s\n"
                     "aws_secret_access_key = %s\n",
                     key, secret);
    bk_err err;
    bk_err_clear(&err);
    if (conf_write_file(creds, text, (size_t)n, &err) != BK_OK ||
        conf_write_file(config, "", 0, &err) != BK_OK) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    char e_creds[4500], e_config[4500];
    snprintf(e_creds, sizeof e_creds, "AWS_SHARED_CREDENTIALS_FILE=%s", creds);
    snprintf(e_config, sizeof e_config, "AWS_CONFIG_FILE=%s", config);
    const char *env[N_UNSET + 4];
    size_t k = 0;
    for (size_t i = 0; i < N_UNSET; i++)
        if (strncmp(unset_chain[i], "AWS_PROFILE=", 12) != 0)
            env[k++] = unset_chain[i];
    env[k++] = "AWS_PROFILE=conformance";
    env[k++] = e_creds;
    env[k++] = e_config;
    env[k] = NULL;
    export_case(c, check, NULL, env, key, "keys read from AWS_PROFILE's section");
}

static void no_credentials(conf_ctx *c)
{
    const char *check = "no_credentials_fails";
    char dir[4300];
    if (conf_mkdtemp(c, "nocreds", dir, sizeof dir) != 0) {
        conf_fail(c, SUITE, check, "setup: cannot create a folder");
        return;
    }
    char e_home[4400], e_creds[4500], e_config[4500];
    snprintf(e_home, sizeof e_home, "HOME=%s", dir);
    snprintf(e_creds, sizeof e_creds, "AWS_SHARED_CREDENTIALS_FILE=%s/none", dir);
    snprintf(e_config, sizeof e_config, "AWS_CONFIG_FILE=%s/none", dir);
    const char *env[N_UNSET + 4];
    size_t k = 0;
    for (size_t i = 0; i < N_UNSET; i++)
        env[k++] = unset_chain[i];
    env[k++] = e_home;
    env[k++] = e_creds;
    env[k++] = e_config;
    env[k] = NULL;
    char prefix[256], mkey[512], why[1200];
    conf_case_prefix(c, check, prefix, sizeof prefix);
    snprintf(mkey, sizeof mkey, "%smanifests/buildkit", prefix);
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .env = env};
    conf_run r;
    conf_export(c, &o, &r);
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    bk_err_clear(&err);
    int wrote = conf_stat(c, mkey, &res, &err) == 1;
    bk_s3_result_clear(&res);
    if (r.timed_out || r.exit_code >= 128)
        conf_fail(c, SUITE, check, "hung or crashed without credentials: %s",
                  conf_run_why(&r, why, sizeof why));
    else if (r.exit_code == 0 || wrote)
        conf_fail(c, SUITE, check, "the export succeeded without any credentials");
    else if (r.err[0] == '\0')
        conf_fail(c, SUITE, check, "failed without saying why on stderr");
    else
        conf_pass(c, SUITE, check, "reported: %s", conf_run_why(&r, why, sizeof why));
    conf_run_free(&r);
}

/* ---- the chain's remote sources (mock only) ---- */

#define WEB_IDENTITY_TOKEN "conformance.web-identity.token"
#define ROLE_ARN "arn:aws:iam::123456789012:role/conformance"
#define ENV_MAX (N_UNSET + 12)

/* The unset chain plus HOME and shared files that do not exist, so that only
 * what the check adds can answer; returns the count, env NULL-terminated. */
static size_t bare_env(const char *dir, char (*store)[4500], const char **env)
{
    size_t k = 0;
    for (size_t i = 0; i < N_UNSET; i++)
        env[k++] = unset_chain[i];
    snprintf(store[0], sizeof store[0], "HOME=%s", dir);
    snprintf(store[1], sizeof store[1], "AWS_SHARED_CREDENTIALS_FILE=%s/none", dir);
    snprintf(store[2], sizeof store[2], "AWS_CONFIG_FILE=%s/none", dir);
    for (int i = 0; i < 3; i++)
        env[k++] = store[i];
    env[k] = NULL;
    return k;
}

/* Exports with env; passes when the service answered `op` and the bucket
 * saw only its temporary key (or, want_env, only the runner's key and no
 * call of `op`). */
static void remote_case(conf_ctx *c, const char *check, const char *const *env, const char *op,
                        int want_env, const char *what)
{
    char prefix[256], why[1200] = "";
    conf_case_prefix(c, check, prefix, sizeof prefix);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .env = env};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    size_t calls = conf_journal_count_op(c, mark, op);
    if (want_env) {
        if (calls != 0)
            conf_fail(c, SUITE, check,
                      "%s was called %zu times although the environment "
                      "holds keys",
                      op, calls);
        else if (!all_signed_by(c, mark, c->access_key, why, sizeof why))
            conf_fail(c, SUITE, check, "%s", why);
        else
            conf_pass(c, SUITE, check, "%s", what);
    } else if (calls == 0) {
        conf_fail(c, SUITE, check, "no successful %s call in the mock's journal", op);
    } else if (!all_signed_by(c, mark, NULL, why, sizeof why)) {
        conf_fail(c, SUITE, check, "%s", why);
    } else {
        conf_pass(c, SUITE, check, "%s (%zu call%s)", what, calls, calls == 1 ? "" : "s");
    }
}

static void remote_sources(conf_ctx *c)
{
    static const char *const checks[] = {"web_identity", "container_credentials",
                                         "environment_over_web_identity"};
    char dir[4300];
    bk_err err;
    bk_err_clear(&err);
    if (!c->is_mock) {
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            conf_skip_needs_mock(c, SUITE, checks[i], "the mock's STS and container endpoint");
        return;
    }
    if (conf_mkdtemp(c, "remote", dir, sizeof dir) != 0 ||
        ms3_server_add_web_identity_token(c->mock, WEB_IDENTITY_TOKEN, &err) != BK_OK) {
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            conf_fail(c, SUITE, checks[i], "setup: %s", err.msg[0] ? err.msg : "no folder");
        return;
    }
    char token_file[4400];
    snprintf(token_file, sizeof token_file, "%s/web-identity-token", dir);
    if (conf_write_file(token_file, WEB_IDENTITY_TOKEN "\n", strlen(WEB_IDENTITY_TOKEN) + 1,
                        &err) != BK_OK) {
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            conf_fail(c, SUITE, checks[i], "setup: %s", err.msg);
        return;
    }
    char store[3][4500], e_file[4500], e_sts[4500], e_ecs[4500], e_key[256], e_secret[256];
    snprintf(e_file, sizeof e_file, "AWS_WEB_IDENTITY_TOKEN_FILE=%s", token_file);
    snprintf(e_sts, sizeof e_sts, "AWS_ENDPOINT_URL_STS=%s", ms3_server_url(c->mock));
    snprintf(e_ecs, sizeof e_ecs, "AWS_CONTAINER_CREDENTIALS_FULL_URI=%s",
             ms3_server_ecs_url(c->mock));
    snprintf(e_key, sizeof e_key, "AWS_ACCESS_KEY_ID=%s", c->access_key);
    snprintf(e_secret, sizeof e_secret, "AWS_SECRET_ACCESS_KEY=%s", c->secret_key);

    const char *env[ENV_MAX];
    size_t k = bare_env(dir, store, env);
    env[k++] = e_file;
    env[k++] = "AWS_ROLE_ARN=" ROLE_ARN;
    env[k++] = "AWS_ROLE_SESSION_NAME=conformance";
    env[k++] = e_sts;
    env[k] = NULL;
    remote_case(c, "web_identity", env, "STS.AssumeRoleWithWebIdentity", 0,
                "AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: STS's temporary keys signed "
                "every request");
    env[k++] = e_key;
    env[k++] = e_secret;
    env[k] = NULL;
    remote_case(c, "environment_over_web_identity", env, "STS.AssumeRoleWithWebIdentity", 1,
                "the environment's keys shadow web identity");

    k = bare_env(dir, store, env);
    env[k++] = e_ecs;
    env[k++] = "AWS_CONTAINER_AUTHORIZATION_TOKEN=" CONF_ECS_TOKEN;
    env[k] = NULL;
    remote_case(c, "container_credentials", env, "ECS.GetCredentials", 0,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN: the "
                "endpoint's temporary keys signed every request");
}

void suite_credentials(conf_ctx *c)
{
    if (!c->is_mock && (!c->access_key[0] || !c->secret_key[0])) {
        static const char *const checks[] = {"env_chain",
                                             "static_attributes_win",
                                             "partial_attributes_ignored",
                                             "session_token_signed",
                                             "shared_credentials_profile",
                                             "no_credentials_fails",
                                             "web_identity",
                                             "container_credentials",
                                             "environment_over_web_identity"};
        for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
            conf_skip(c, SUITE, checks[i],
                      "skipped: needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                      "environment");
        return;
    }
    bk_err err;
    bk_err_clear(&err);
    /* The environment's keys (the mock's own pair, or the target's). */
    export_case(c, "env_chain", NULL, NULL, c->is_mock ? c->access_key : NULL,
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY used");

    /* Both attributes given: they win. On the mock a second valid key shows
     * which was used; elsewhere the environment holds keys that would fail. */
    char extra[4096];
    const char *alt_key = c->is_mock ? ALT_KEY : c->access_key;
    const char *alt_secret = c->is_mock ? ALT_SECRET : c->secret_key;
    if (c->is_mock && ms3_server_add_credentials(c->mock, ALT_KEY, ALT_SECRET, NULL, &err) != 0) {
        conf_fail(c, SUITE, "static_attributes_win", "setup: %s", err.msg);
        return;
    }
    int n =
        snprintf(extra, sizeof extra, "access_key_id=%s,secret_access_key=%s", alt_key, alt_secret);
    if (!c->is_mock && c->session_token[0] && n > 0 && (size_t)n < sizeof extra)
        snprintf(extra + n, sizeof extra - (size_t)n, ",session_token=%s", c->session_token);
    static const char *const bogus_env[] = {"AWS_ACCESS_KEY_ID=AKIABOGUSBOGUSBOGUS0",
                                            "AWS_SECRET_ACCESS_KEY=bogus/bogus/bogus",
                                            "AWS_SESSION_TOKEN=", NULL};
    export_case(c, "static_attributes_win", extra, c->is_mock ? NULL : bogus_env,
                c->is_mock ? ALT_KEY : NULL, "access_key_id + secret_access_key attributes used");

    /* A lone access_key_id is ignored: the environment's pair is used. */
    export_case(c, "partial_attributes_ignored", "access_key_id=AKIAPARTIALONLY00000", NULL,
                c->is_mock ? c->access_key : NULL, "a lone access_key_id fell back to the chain");

    session_token(c);
    if (c->session_token[0] && !c->is_mock)
        conf_skip(c, SUITE, "shared_credentials_profile",
                  "skipped: the target's credentials carry a session token");
    else
        shared_profile(c, c->is_mock ? ALT_KEY : c->access_key,
                       c->is_mock ? ALT_SECRET : c->secret_key);
    no_credentials(c);
    remote_sources(c);
}
