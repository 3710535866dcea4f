/* STS through the credential chain against the mock's STS: web identity from
 * the environment and from a profile, AssumeRole over a source profile with
 * its keys, the endpoint variables, the chain's order around them, and
 * temporary credentials refreshed in the middle of an export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bkcache/attrs.h"
#include "bkcache/exporter.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"
#include "cachegen.h"
#include "creds_fx.h"

#define TOKEN "eyJ.web-identity-token.for-tests"
#define ROLE "arn:aws:iam::123456789012:role/builder"
#define SRC_AK "AKIASOURCEPROFILE001"
#define SRC_SK "source/secret/key/0000000000000000000000"

static int setup(void **state)
{
    creds_fx *f = calloc(1, sizeof *f);
    ms3_options o;
    ms3_options_init(&o);
    o.sts = 1;
    o.credential_lifetime = 900; /* what AssumeRole gives by default: 15 minutes */
    const char *tokens[] = {TOKEN};
    o.web_identity_tokens = tokens;
    o.n_web_identity_tokens = 1;
    if (f == NULL || creds_fx_start(f, &o) != 0)
        return -1;
    bk_err err;
    if (ms3_server_add_credentials(f->mock, SRC_AK, SRC_SK, NULL, &err) != BK_OK)
        return -1;
    creds_fx_setenv(f, "AWS_ENDPOINT_URL_STS", ms3_server_url(f->mock));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    creds_fx_stop(*state);
    free(*state);
    return 0;
}

static void expect_ok(creds_fx *f, const char *key)
{
    if (creds_fx_request(f, key) != BK_OK)
        fail_msg("%s: %s", key, f->err.msg);
}

static void web_identity_from_the_environment(void **state)
{
    creds_fx *f = *state;
    char path[128];
    creds_fx_write(f, "token", TOKEN "\n", path, sizeof path);
    creds_fx_setenv(f, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
    creds_fx_setenv(f, "AWS_ROLE_ARN", ROLE);
    creds_fx_setenv(f, "AWS_ROLE_SESSION_NAME", "ci-run-7");
    expect_ok(f, "wi/env");
    assert_string_equal(f->source, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)");
    assert_int_equal(creds_fx_count(f, "STS.AssumeRoleWithWebIdentity"), 1);
    char akid[64];
    creds_fx_last_key(f, "PutObject", akid);
    assert_true(strncmp(akid, "ASIA", 4) == 0);
    /* The session name was sent; the token never reaches the journal. */
    ms3_journal_filter jf = {.operation = "STS.AssumeRoleWithWebIdentity"};
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(f->mock, &jf, &e);
    assert_int_equal(n, 1);
    assert_non_null(strstr(e[0].query, "RoleSessionName=ci-run-7"));
    assert_int_equal(e[0].status, 200);
    ms3_journal_entries_free(e, n);

    /* A token STS refuses: STS's code, the role, and never the token. */
    creds_fx_write(f, "token", "not-a-token-the-mock-knows\n", path, sizeof path);
    assert_int_equal(creds_fx_request(f, "wi/bad"), BK_ES3);
    assert_non_null(strstr(f->err.msg, "InvalidIdentityToken"));
    assert_non_null(strstr(f->err.msg, ROLE));
    assert_null(strstr(f->err.msg, "not-a-token-the-mock-knows"));
}

/* AWS_ENDPOINT_URL serves STS when AWS_ENDPOINT_URL_STS is not set; the
 * profile's web_identity_token_file and role_arn work as the variables do. */
static void web_identity_from_a_profile(void **state)
{
    creds_fx *f = *state;
    char token[128], conf[128], text[512];
    creds_fx_write(f, "token2", TOKEN, token, sizeof token);
    snprintf(text, sizeof text,
             "[profile ci]\nweb_identity_token_file = %s\nrole_arn = %s\n"
             "role_session_name = from-profile\n",
             token, ROLE);
    creds_fx_write(f, "config", text, conf, sizeof conf);
    creds_fx_setenv(f, "AWS_CONFIG_FILE", conf);
    creds_fx_setenv(f, "AWS_PROFILE", "ci");
    creds_fx_setenv(f, "AWS_ENDPOINT_URL_STS", NULL);
    creds_fx_setenv(f, "AWS_ENDPOINT_URL", ms3_server_url(f->mock));
    expect_ok(f, "wi/profile");
    assert_string_equal(f->source, "web identity (profile ci)");
    assert_int_equal(creds_fx_count(f, "STS.AssumeRoleWithWebIdentity"), 1);
}

static void assume_role_over_a_source_profile(void **state)
{
    creds_fx *f = *state;
    char conf[128], creds[128];
    creds_fx_write(f, "credentials",
                   "[base]\naws_access_key_id = " SRC_AK "\naws_secret_access_key = " SRC_SK "\n",
                   creds, sizeof creds);
    creds_fx_write(f, "config",
                   "[profile deploy]\nrole_arn = " ROLE "\nsource_profile = base\n"
                   "role_session_name = bk-deploy\nexternal_id = ext-4711\n"
                   "duration_seconds = 1800\n",
                   conf, sizeof conf);
    creds_fx_setenv(f, "AWS_SHARED_CREDENTIALS_FILE", creds);
    creds_fx_setenv(f, "AWS_CONFIG_FILE", conf);
    creds_fx_setenv(f, "AWS_PROFILE", "deploy");
    expect_ok(f, "ar/deploy");
    assert_string_equal(f->source, "profile deploy (assume role)");
    ms3_journal_filter jf = {.operation = "STS.AssumeRole"};
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(f->mock, &jf, &e);
    assert_int_equal(n, 1);
    /* Signed with the source profile's key; every profile key sent. */
    assert_string_equal(e[0].access_key_id, SRC_AK);
    assert_int_equal(e[0].status, 200);
    assert_non_null(strstr(e[0].query, "RoleSessionName=bk-deploy"));
    assert_non_null(strstr(e[0].query, "ExternalId=ext-4711"));
    assert_non_null(strstr(e[0].query, "DurationSeconds=1800"));
    ms3_journal_entries_free(e, n);
    char akid[64];
    creds_fx_last_key(f, "PutObject", akid);
    assert_true(strncmp(akid, "ASIA", 4) == 0);

    /* Wrong source keys: STS's refusal, naming the profile and the role. */
    creds_fx_write(f, "credentials",
                   "[base]\naws_access_key_id = " SRC_AK "\naws_secret_access_key = wrong\n", creds,
                   sizeof creds);
    assert_int_equal(creds_fx_request(f, "ar/wrong"), BK_EAUTH);
    assert_non_null(strstr(f->err.msg, "profile deploy: role " ROLE));
    assert_non_null(strstr(f->err.msg, "SignatureDoesNotMatch"));
}

/* A higher source shadows a lower one: keys in the environment over web
 * identity, web identity over the profile. */
static void chain_order(void **state)
{
    creds_fx *f = *state;
    char path[128], creds[128];
    creds_fx_write(f, "token", TOKEN, path, sizeof path);
    creds_fx_write(f, "credentials",
                   "[default]\naws_access_key_id = " SRC_AK "\naws_secret_access_key = " SRC_SK
                   "\n",
                   creds, sizeof creds);
    creds_fx_setenv(f, "AWS_SHARED_CREDENTIALS_FILE", creds);
    creds_fx_setenv(f, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
    creds_fx_setenv(f, "AWS_ROLE_ARN", ROLE);
    creds_fx_setenv(f, "AWS_ACCESS_KEY_ID", SRC_AK);
    creds_fx_setenv(f, "AWS_SECRET_ACCESS_KEY", SRC_SK);
    expect_ok(f, "order/env");
    assert_string_equal(f->source, "environment");
    assert_int_equal(creds_fx_count(f, "STS.AssumeRoleWithWebIdentity"), 0);

    creds_fx_setenv(f, "AWS_ACCESS_KEY_ID", NULL);
    expect_ok(f, "order/web-identity");
    assert_string_equal(f->source, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)");
    assert_int_equal(creds_fx_count(f, "STS.AssumeRoleWithWebIdentity"), 1);

    creds_fx_setenv(f, "AWS_WEB_IDENTITY_TOKEN_FILE", NULL);
    expect_ok(f, "order/profile");
    assert_string_equal(f->source, "profile default (shared files)");
}

/* ---- refresh during an export ---- */

/* The export's clock, shared with the mock: after `jump_after` readings it
 * moves both forward by `jump_s`, so the jump falls inside the export. */
typedef struct jump_clock {
    creds_fx *f;
    int readings, jump_after;
    int64_t offset_s, jump_s;
} jump_clock;

static int64_t jump_wall(void *ud)
{
    jump_clock *j = ud;
    /* Workers read the clock concurrently: one of them makes the jump. */
    if (__atomic_add_fetch(&j->readings, 1, __ATOMIC_SEQ_CST) == j->jump_after) {
        ms3_server_set_clock_offset(j->f->mock, j->jump_s);
        __atomic_store_n(&j->offset_s, j->jump_s, __ATOMIC_SEQ_CST);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec + __atomic_load_n(&j->offset_s, __ATOMIC_SEQ_CST)) * BK_NS_PER_SEC +
           ts.tv_nsec;
}

static void export_refreshes_credentials_in_flight(void **state)
{
    creds_fx *f = *state;
    /* Credentials of 15 minutes; 11 minutes into the export they are inside
     * the 5-minute window: the next signature asks STS again. */
    char path[128];
    creds_fx_write(f, "token", TOKEN, path, sizeof path);
    creds_fx_setenv(f, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
    creds_fx_setenv(f, "AWS_ROLE_ARN", ROLE);
    bk_test_cache cache;
    assert_int_equal(bk_test_cache_make(&cache, 24, 1, 4096, 7), 0);
    bk_err err;
    bk_store *store = bk_store_open(cache.dir, 0, &err);
    assert_non_null(store);
    char attrs_text[256];
    snprintf(attrs_text, sizeof attrs_text,
             "type=s3,bucket=" CFX_BUCKET ",region=%s,endpoint_url=%s,use_path_style=true,"
             "upload_parallelism=4",
             ms3_server_region(f->mock), ms3_server_url(f->mock));
    bk_s3_attrs attrs;
    bk_attrs_options ao = {.env = &f->env};
    assert_int_equal(bk_s3_attrs_parse(attrs_text, &ao, &attrs, &err), BK_OK);
    jump_clock jc = {.f = f, .jump_after = 30, .jump_s = (int64_t)11 * 60};
    bk_clock clock = {jump_wall, NULL, NULL, &jc};
    bk_s3cache_tuning tuning = {0};
    tuning.env = &f->env;
    tuning.clock = &clock;
    bk_s3cache *s3 = bk_s3cache_open(&attrs, &tuning, &err);
    assert_non_null(s3);
    bk_export_options eo = {0};
    eo.cache = s3;
    eo.store = store;
    bk_export_summary sum;
    if (bk_export_config(&eo, cache.config, &sum, &err) != BK_OK)
        fail_msg("export: %s", err.msg);
    assert_true(jc.readings > jc.jump_after); /* the jump happened mid-export */
    assert_int_equal(creds_fx_count(f, "STS.AssumeRoleWithWebIdentity"), 2);
    /* Nothing refused. */
    ms3_journal_filter bad = {.status = 403};
    assert_int_equal(ms3_journal_count(f->mock, &bad), 0);
    bad.status = 400;
    assert_int_equal(ms3_journal_count(f->mock, &bad), 0);
    /* The S3 requests use two keys: the first credentials', then the second's
     * (requests in flight at the switch may finish in either order), and the
     * manifest, written last, the second's. */
    ms3_journal_filter all = {0};
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(f->mock, &all, &e);
    const char *first = NULL, *last = NULL;
    size_t s3_requests = 0, others = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(e[i].operation, "STS.", 4) == 0)
            continue;
        s3_requests++;
        if (first == NULL)
            first = e[i].access_key_id;
        else if (strcmp(first, e[i].access_key_id) != 0 &&
                 (last == NULL || strcmp(last, e[i].access_key_id) != 0))
            others += last != NULL; /* a third key */
        if (strcmp(first, e[i].access_key_id) != 0)
            last = e[i].access_key_id;
    }
    assert_true(s3_requests >= 2 * cache.n);
    assert_non_null(last);
    assert_int_equal(others, 0);
    assert_string_equal(e[n - 1].operation, "PutObject");
    assert_string_equal(e[n - 1].access_key_id, last);
    ms3_journal_entries_free(e, n);
    bk_s3cache_free(s3);
    bk_s3_attrs_clear(&attrs);
    bk_store_free(store);
    bk_test_cache_clear(&cache);
    ms3_server_set_clock_offset(f->mock, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(web_identity_from_the_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(web_identity_from_a_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(assume_role_over_a_source_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_order, setup, teardown),
        cmocka_unit_test_setup_teardown(export_refreshes_credentials_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
