/* BK_TEST_UNIT: the retry settings from the environment and the profile
 * (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS, retry_mode, max_attempts): precedence,
 * what the attributes keep, and the SDK's messages for invalid values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "envtable.h"
#include "bkcache/attrs.h"
#include "bkcache/retry.h"
#include "bkcache/s3cache.h"
#include "s3internal.h"

static char dir[64], conf_path[128];
static const char *vars[16];

static bk_env env = {bk_test_env_table_get, vars};

/* The environment: AWS_CONFIG_FILE and HOME point into the test's folder,
 * then up to three more NAME, VALUE pairs (NULL-terminated). */
static void set_env(const char *n1, const char *v1, const char *n2, const char *v2)
{
    size_t i = 0;
    vars[i++] = "AWS_CONFIG_FILE";
    vars[i++] = conf_path;
    vars[i++] = "HOME";
    vars[i++] = dir;
    if (n1 != NULL) {
        vars[i++] = n1;
        vars[i++] = v1;
    }
    if (n2 != NULL) {
        vars[i++] = n2;
        vars[i++] = v2;
    }
    vars[i] = NULL;
}

static void write_config(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bk-retryenv-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(conf_path, sizeof conf_path, "%s/config", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    rmdir(dir);
    return 0;
}

static bk_code resolve(bk_retry_config *c, int keep_mode, int keep_attempts, bk_err *err)
{
    bk_retry_config_init(c);
    bk_err_clear(err);
    return bk_retry_config_from_env(c, &env, keep_mode, keep_attempts, err);
}

static void environment_over_profile(void **state)
{
    (void)state;
    bk_retry_config c;
    bk_err err;
    write_config("[default]\nretry_mode = adaptive\nmax_attempts = 7\n"
                 "[profile ci]\nmax_attempts = 2\n");

    set_env(NULL, NULL, NULL, NULL); /* nothing set: the SDK's defaults stay */
    unlink(conf_path);
    assert_int_equal(resolve(&c, 0, 0, &err), BK_OK);
    assert_int_equal(c.mode, BK_RETRY_STANDARD);
    assert_int_equal(c.max_attempts, 3);

    write_config("[default]\nretry_mode = adaptive\nmax_attempts = 7\n"
                 "[profile ci]\nmax_attempts = 2\n");
    assert_int_equal(resolve(&c, 0, 0, &err), BK_OK); /* the profile alone */
    assert_int_equal(c.mode, BK_RETRY_ADAPTIVE);
    assert_int_equal(c.max_attempts, 7);

    set_env("AWS_RETRY_MODE", "standard", "AWS_MAX_ATTEMPTS", "5"); /* the variables win */
    assert_int_equal(resolve(&c, 0, 0, &err), BK_OK);
    assert_int_equal(c.mode, BK_RETRY_STANDARD);
    assert_int_equal(c.max_attempts, 5);

    set_env("AWS_MAX_ATTEMPTS", "0", NULL, NULL); /* 0 is unset: the profile's */
    assert_int_equal(resolve(&c, 0, 0, &err), BK_OK);
    assert_int_equal(c.max_attempts, 7);
    assert_int_equal(c.mode, BK_RETRY_ADAPTIVE); /* each setting on its own */

    set_env("AWS_PROFILE", "ci", "AWS_MAX_ATTEMPTS", ""); /* empty is unset too */
    assert_int_equal(resolve(&c, 0, 0, &err), BK_OK);
    assert_int_equal(c.max_attempts, 2);
    assert_int_equal(c.mode, BK_RETRY_STANDARD);

    /* What the attributes set is kept. */
    set_env("AWS_RETRY_MODE", "adaptive", "AWS_MAX_ATTEMPTS", "9");
    bk_retry_config_init(&c);
    c.max_attempts = 4;
    bk_err_clear(&err);
    assert_int_equal(bk_retry_config_from_env(&c, &env, 1, 1, &err), BK_OK);
    assert_int_equal(c.mode, BK_RETRY_STANDARD);
    assert_int_equal(c.max_attempts, 4);
}

static void invalid_values_give_the_sdk_messages(void **state)
{
    (void)state;
    bk_retry_config c;
    bk_err err;
    static const struct {
        const char *name, *value, *config, *msg;
    } cases[] = {
        {"AWS_RETRY_MODE", "fast", "", "invalid AWS_RETRY_MODE value, unknown RetryMode, fast"},
        {"AWS_RETRY_MODE", "Standard", "", "unknown RetryMode, Standard"},
        {"AWS_MAX_ATTEMPTS", "three", "",
         "invalid value AWS_MAX_ATTEMPTS=three, strconv.ParseInt: parsing \"three\": invalid "
         "syntax"},
        {"AWS_MAX_ATTEMPTS", "5 ", "", "parsing \"5 \": invalid syntax"},
        {"AWS_MAX_ATTEMPTS", "99999999999999999999", "", "value out of range"},
        {"AWS_MAX_ATTEMPTS", "-1", "",
         "AWS_MAX_ATTEMPTS=-1: the number of attempts must be a "
         "positive integer"},
        {NULL, NULL, "[default]\nretry_mode = legacy\n",
         "failed to load retry_mode from shared config, unknown RetryMode, legacy (profile "
         "default"},
        {NULL, NULL, "[default]\nmax_attempts = lots\n",
         "failed to load max_attempts from shared config, invalid value max_attempts=lots, "
         "expect integer"},
        /* The SDK loads the profile even when the variable is set. */
        {"AWS_MAX_ATTEMPTS", "4", "[default]\nmax_attempts = x\n", "max_attempts=x"},
        /* ... and checks the variable even when the attributes set the value. */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_config(cases[i].config);
        set_env(cases[i].name, cases[i].value, NULL, NULL);
        if (resolve(&c, 0, 0, &err) != BK_EINVAL || strstr(err.msg, cases[i].msg) == NULL)
            fail_msg("%s=%s / %s: got \"%s\"", cases[i].name, cases[i].value, cases[i].config,
                     err.msg);
    }
    write_config("");
    set_env("AWS_RETRY_MODE", "fast", NULL, NULL);
    assert_int_equal(resolve(&c, 1, 1, &err), BK_EINVAL);
}

/* The S3 cache takes them when its attributes leave them unset, and fails
 * to open on an invalid one. */
static void the_s3_cache_applies_them(void **state)
{
    (void)state;
    write_config("");
    bk_err err;
    bk_err_clear(&err);
    bk_s3_attrs attrs;
    assert_int_equal(bk_s3_attrs_parse("type=s3,bucket=cache,region=us-east-1,"
                                       "endpoint_url=http://127.0.0.1:9,access_key_id=a,"
                                       "secret_access_key=b",
                                       NULL, &attrs, &err),
                     BK_OK);
    bk_s3cache_tuning tuning = {0};
    tuning.env = &env;
    set_env("AWS_MAX_ATTEMPTS", "nope", NULL, NULL);
    assert_null(bk_s3cache_open(&attrs, &tuning, &err));
    assert_non_null(strstr(err.msg, "invalid value AWS_MAX_ATTEMPTS=nope"));
    set_env("AWS_MAX_ATTEMPTS", "6", "AWS_RETRY_MODE", "adaptive");
    bk_s3cache *cache = bk_s3cache_open(&attrs, &tuning, &err);
    assert_non_null(cache);
    assert_int_equal(cache->client->cfg.retry.max_attempts, 6);
    assert_int_equal(cache->client->cfg.retry.mode, BK_RETRY_ADAPTIVE);
    bk_s3cache_free(cache);
    bk_s3_attrs_clear(&attrs);

    /* The attributes' own values win. */
    assert_int_equal(bk_s3_attrs_parse("type=s3,bucket=cache,region=us-east-1,"
                                       "endpoint_url=http://127.0.0.1:9,access_key_id=a,"
                                       "secret_access_key=b,retry_mode=standard,"
                                       "retry_max_attempts=2",
                                       NULL, &attrs, &err),
                     BK_OK);
    cache = bk_s3cache_open(&attrs, &tuning, &err);
    assert_non_null(cache);
    assert_int_equal(cache->client->cfg.retry.max_attempts, 2);
    assert_int_equal(cache->client->cfg.retry.mode, BK_RETRY_STANDARD);
    bk_s3cache_free(cache);
    bk_s3_attrs_clear(&attrs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(environment_over_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_values_give_the_sdk_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(the_s3_cache_applies_them, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
