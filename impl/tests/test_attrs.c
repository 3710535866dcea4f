/* BK_TEST_UNIT
 * The attribute string: buildx's CSV split, BuildKit's defaults, env
 * fallbacks and error texts, Go's duration/bool/int syntax, our warnings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/attrs.h"

#define HOUR (3600LL * 1000000000LL)

typedef struct fake_env {
    const char *bucket, *region;
} fake_env;

static const char *fake_getenv(void *ctx, const char *name)
{
    const fake_env *e = ctx;
    if (strcmp(name, "AWS_BUCKET") == 0)
        return e->bucket;
    if (strcmp(name, "AWS_REGION") == 0)
        return e->region;
    return NULL;
}

static bk_code parse(const char *text, const fake_env *env, int strict, bk_s3_attrs *a, bk_err *err)
{
    static const fake_env none = {NULL, NULL};
    bk_env e = {fake_getenv, (void *)(env ? env : &none)};
    bk_attrs_options o = {strict, &e};
    return bk_s3_attrs_parse(text, &o, a, err);
}

static void defaults_match_buildkit(void **state)
{
    (void)state;
    bk_s3_attrs a;
    bk_err err;
    assert_int_equal(parse("type=s3,bucket=b,region=eu-west-1", NULL, 0, &a, &err), BK_OK);
    assert_string_equal(a.client.bucket, "b");
    assert_string_equal(a.client.region, "eu-west-1");
    assert_string_equal(a.layout.prefix, "");
    assert_string_equal(a.layout.manifests_prefix, "manifests/");
    assert_string_equal(a.layout.blobs_prefix, "blobs/");
    assert_int_equal(a.layout.n_names, 1);
    assert_string_equal(a.layout.names[0], "buildkit");
    assert_true(a.policy.touch_refresh_ns == 24 * HOUR);
    assert_int_equal(a.policy.upload_parallelism, 4);
    assert_int_equal(a.client.use_path_style, 0);
    assert_int_equal(a.policy.mode, BK_EXPORT_MIN);
    assert_int_equal(a.client.retry_mode, BK_ATTR_RETRY_DEFAULT);
    assert_int_equal(a.client.retry_max_attempts, 0);
    assert_int_equal(a.policy.existence_check, BK_EXISTS_HEAD);
    assert_int_equal(a.n_warnings, 0);
    char *k = bk_s3cache_layout_manifest_key(&a.layout, a.layout.names[0]);
    assert_string_equal(k, "manifests/buildkit");
    free(k);
    k = bk_s3cache_layout_blob_key(&a.layout, "sha256:abc");
    assert_string_equal(k, "blobs/sha256:abc");
    free(k);
    bk_s3_attrs_clear(&a);
}

static void keys_are_plain_concatenation(void **state)
{
    (void)state;
    bk_s3_attrs a;
    bk_err err;
    assert_int_equal(parse("type=s3,bucket=b,region=r,prefix=ci,blobs_prefix=cache/,"
                           "manifests_prefix=cache/",
                           NULL, 0, &a, &err),
                     BK_OK);
    char *k = bk_s3cache_layout_manifest_key(&a.layout, "main");
    assert_string_equal(k, "cicache/main");
    free(k);
    k = bk_s3cache_layout_blob_key(&a.layout, "sha256:00");
    assert_string_equal(k, "cicache/sha256:00");
    free(k);
    bk_s3_attrs_clear(&a);
}

static void env_fallbacks_and_upstream_errors(void **state)
{
    (void)state;
    bk_s3_attrs a;
    bk_err err;
    assert_int_equal(parse("type=s3,region=r", NULL, 0, &a, &err), BK_EINVAL);
    assert_string_equal(err.msg, "bucket ($AWS_BUCKET) not set for s3 cache");
    assert_int_equal(parse("type=s3,bucket=b", NULL, 0, &a, &err), BK_EINVAL);
    assert_string_equal(err.msg, "region ($AWS_REGION) not set for s3 cache");

    fake_env env = {"from-env", "us-west-2"};
    assert_int_equal(parse("type=s3", &env, 0, &a, &err), BK_OK);
    assert_string_equal(a.client.bucket, "from-env");
    assert_string_equal(a.client.region, "us-west-2");
    bk_s3_attrs_clear(&a);
    /* An attribute present wins over the environment. */
    assert_int_equal(parse("type=s3,bucket=attr,region=attr-region", &env, 0, &a, &err), BK_OK);
    assert_string_equal(a.client.bucket, "attr");
    assert_string_equal(a.client.region, "attr-region");
    bk_s3_attrs_clear(&a);
}

static void csv_quotes_and_key_case(void **state)
{
    (void)state;
    bk_s3_attrs a;
    bk_err err;
    assert_int_equal(
        parse("Type=s3,BUCKET=b,region=r,\"name=a,b;c\",\"prefix=x\"\"y\"", NULL, 0, &a, &err),
        BK_OK);
    assert_int_equal(a.layout.n_names, 2);
    assert_string_equal(a.layout.names[0], "a,b");
    assert_string_equal(a.layout.names[1], "c");
    assert_string_equal(a.layout.prefix, "x\"y");
    bk_s3_attrs_clear(&a);

    assert_int_equal(parse("type=s3,bucket=b\"x,region=r", NULL, 0, &a, &err), BK_EINVAL);
    assert_string_equal(err.msg, "parse error on line 1, column 17: bare \" in non-quoted-field");
    assert_int_equal(parse("type=s3,\"bucket=b", NULL, 0, &a, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "extraneous or missing \" in quoted-field"));
    assert_int_equal(parse("type=s3,bucket,region=r", NULL, 0, &a, &err), BK_EINVAL);
    assert_string_equal(err.msg, "invalid value bucket");
    assert_int_equal(parse("", NULL, 0, &a, &err), BK_EINVAL);
    assert_int_equal(parse("type=gha,bucket=b,region=r", NULL, 0, &a, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "type=s3"));
    assert_int_equal(parse("bucket=b,region=r", NULL, 0, &a, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "type required"));
}

static void integers_are_strict(void **state)
{
    (void)state;
    bk_s3_attrs a;
    bk_err err;
    const char *bad[] = {"0", "-1", "x", "", " 4", "4.0", "99999999999"};
    char text[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "type=s3,bucket=b,region=r,upload_parallelism=%s", bad[i]);
        assert_int_equal(parse(text, NULL, 0, &a, &err), BK_EINVAL);
        assert_string_equal(err.msg, "upload_parallelism must be a positive integer");
        snprintf(text, sizeof text, "type=s3,bucket=b,region=r,retry_max_attempts=%s", bad[i]);
        assert_int_equal(parse(text, NULL, 0, &a, &err), BK_EINVAL);
        assert_string_equal(err.msg, "retry_max_attempts must be a positive integer");
    }
    assert_int_equal(parse("type=s3,bucket=b,region=r,upload_parallelism=+8,retry_max_attempts=5,"
                           "retry_mode=adaptive",
                           NULL, 0, &a, &err),
                     BK_OK);
    assert_int_equal(a.policy.upload_parallelism, 8);
    assert_int_equal(a.client.retry_max_attempts, 5);
    assert_int_equal(a.client.retry_mode, BK_ATTR_RETRY_ADAPTIVE);
    bk_s3_attrs_clear(&a);
    assert_int_equal(parse("type=s3,bucket=b,region=r,retry_mode=legacy", NULL, 0, &a, &err),
                     BK_EINVAL);
    assert_string_equal(err.msg, "retry_mode must be \"standard\" or \"adaptive\"");
}

static void lenient_values_warn_and_strict_fails(void **state)
{
    (void)state;
    bk_s3_attrs a;
    bk_err err;
    const char *text = "type=s3,bucket=b,region=r,endpoint_url=http://127.0.0.1:9000,"
                       "touch_refresh=1d,use_path_style=yes,mode=maximum,ignore-error=sure,"
                       "frobnicate=1,name=a;;b";
    assert_int_equal(parse(text, NULL, 0, &a, &err), BK_OK);
    assert_true(a.policy.touch_refresh_ns == 24 * HOUR);
    assert_int_equal(a.client.use_path_style, 0);
    assert_int_equal(a.policy.mode, BK_EXPORT_MIN);
    assert_int_equal(a.policy.ignore_error, 0);
    assert_int_equal(a.layout.n_names, 2);
    assert_string_equal(a.layout.names[1], "b");
    assert_int_equal(a.n_warnings, 6);
    const char *expect[] = {("touch_refresh: time: unknown unit \"d\" in duration \"1d\" ignored, "
                             "using 24h0m0s"),
                            "use_path_style: invalid boolean \"yes\"",
                            "mode: invalid value",
                            "ignore-error: invalid boolean",
                            "unknown attribute \"frobnicate\"",
                            "name: empty entry"};
    for (size_t i = 0; i < 6; i++) {
        if (strstr(a.warnings[i], expect[i]) == NULL)
            fail_msg("warning %zu: got \"%s\", expected it to contain \"%s\"", i, a.warnings[i],
                     expect[i]);
    }
    bk_s3_attrs_clear(&a);
    assert_int_equal(parse(text, NULL, 1, &a, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "touch_refresh"));
    assert_non_null(strstr(err.msg, "strict"));
    assert_null(strstr(err.msg, "ignored")); /* strict mode ignores nothing */

    assert_int_equal(parse("type=s3,bucket=b,region=r,touch_refresh=1h30m,use_path_style=T,"
                           "mode=max,ignore-error=1,existence_check=list",
                           NULL, 1, &a, &err),
                     BK_EINVAL); /* use_path_style without endpoint_url is a warning */
    assert_int_equal(parse("type=s3,bucket=b,region=r,touch_refresh=1h30m,use_path_style=T,"
                           "endpoint_url=http://127.0.0.1:1,mode=max,ignore-error=1,"
                           "existence_check=list",
                           NULL, 1, &a, &err),
                     BK_OK);
    assert_true(a.policy.touch_refresh_ns == HOUR + HOUR / 2);
    assert_int_equal(a.client.use_path_style, 1);
    assert_int_equal(a.policy.mode, BK_EXPORT_MAX);
    assert_int_equal(a.policy.ignore_error, 1);
    assert_int_equal(a.policy.existence_check, BK_EXISTS_LIST);
    bk_s3_attrs_clear(&a);
    assert_int_equal(parse("type=s3,bucket=b,region=r,name=;", NULL, 0, &a, &err), BK_EINVAL);
}

/* Go's own table for time.ParseDuration (time/time_test.go). */
static void go_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"0", 0},
        {"5s", 5000000000LL},
        {"30s", 30000000000LL},
        {"1478s", 1478000000000LL},
        {"-5s", -5000000000LL},
        {"+5s", 5000000000LL},
        {"-0", 0},
        {"+0", 0},
        {"5.0s", 5000000000LL},
        {"5.6s", 5600000000LL},
        {"5.s", 5000000000LL},
        {".5s", 500000000LL},
        {"1.0s", 1000000000LL},
        {"1.004s", 1004000000LL},
        {"100.00100s", 100001000000LL},
        {"10ns", 10},
        {"11us", 11000},
        {"12\xc2\xb5s", 12000},
        {"12\xce\xbcs", 12000},
        {"13ms", 13000000},
        {"15m", 15 * 60000000000LL},
        {"16h", 16 * HOUR},
        {"3h30m", 3 * HOUR + 30 * 60000000000LL},
        {"10.5s4m", 4 * 60000000000LL + 10500000000LL},
        {"-2m3.4s", -(2 * 60000000000LL + 3400000000LL)},
        {"1h2m3s4ms5us6ns", HOUR + 2 * 60000000000LL + 3000000000LL + 4000000 + 5000 + 6},
        {"39h9m14.425s", 39 * HOUR + 9 * 60000000000LL + 14425000000LL},
        {"52763797000ns", 52763797000LL},
        {"0.3333333333333333333h", 20 * 60000000000LL},
        {"9007199254740993ns", 9007199254740993LL},
        {"9223372036854775807ns", INT64_MAX},
        {"9223372036854775.807us", INT64_MAX},
        {"9223372036s854ms775us807ns", INT64_MAX},
        {"-9223372036854775808ns", INT64_MIN},
        {"-9223372036854775.808us", INT64_MIN},
        {"0.100000000000000000000h", 6 * 60000000000LL},
        {"0.830103483285477580700h", 49 * 60000000000LL + 48 * 1000000000LL + 372539827},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t got = 12345;
        bk_err err;
        if (bk_go_parse_duration(ok[i].in, &got, &err) != BK_OK || got != ok[i].want)
            fail_msg("ParseDuration(%s) = %lld, want %lld", ok[i].in, (long long)got,
                     (long long)ok[i].want);
    }
    static const char *const bad[] = {"",
                                      "3",
                                      "-",
                                      "s",
                                      ".",
                                      "-.",
                                      ".s",
                                      "+.s",
                                      "1d",
                                      "\x85\x85",
                                      ("\xff"
                                       "ff"),
                                      ("hello \xff"
                                       "ff world"),
                                      "9223372036854775808ns",
                                      "9223372036854775.808us",
                                      "9223372036854ms775us808ns"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t got;
        bk_err err;
        if (bk_go_parse_duration(bad[i], &got, &err) != BK_EINVAL)
            fail_msg("ParseDuration(%s) accepted", bad[i]);
        assert_non_null(strstr(err.msg, "time: "));
    }
    bk_err err;
    int64_t got;
    bk_go_parse_duration("3", &got, &err);
    assert_string_equal(err.msg, "time: missing unit in duration \"3\"");
    bk_go_parse_duration("", &got, &err);
    assert_string_equal(err.msg, "time: invalid duration \"\"");
}

static void go_duration_strings(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1\xc2\xb5s"},
        {2200000, "2.2ms"},
        {3300000000LL, "3.3s"},
        {4 * 60000000000LL + 5000000000LL, "4m5s"},
        {4 * 60000000000LL + 5001000000LL, "4m5.001s"},
        {5 * HOUR + 6 * 60000000000LL + 7001000000LL, "5h6m7.001s"},
        {8 * 60000000000LL + 1, "8m0.000000001s"},
        {24 * HOUR, "24h0m0s"},
        {INT64_MAX, "2562047h47m16.854775807s"},
        {INT64_MIN, "-2562047h47m16.854775808s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[48];
        bk_go_format_duration(cases[i].ns, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
    }
}

static void go_bools_and_ints(void **state)
{
    (void)state;
    const char *t[] = {"1", "t", "T", "TRUE", "true", "True"};
    const char *f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        int b = -1;
        assert_int_equal(bk_go_parse_bool(t[i], &b), BK_OK);
        assert_int_equal(b, 1);
        assert_int_equal(bk_go_parse_bool(f[i], &b), BK_OK);
        assert_int_equal(b, 0);
    }
    int b;
    assert_int_equal(bk_go_parse_bool("yes", &b), BK_EINVAL);
    assert_int_equal(bk_go_parse_bool("tRUE", &b), BK_EINVAL);
    assert_int_equal(bk_go_parse_bool("", &b), BK_EINVAL);
    int v;
    assert_int_equal(bk_go_atoi("-2147483648", &v), BK_OK);
    assert_int_equal(v, -2147483647 - 1);
    assert_int_equal(bk_go_atoi("2147483648", &v), BK_EINVAL);
    assert_int_equal(bk_go_atoi("+", &v), BK_EINVAL);
    assert_int_equal(bk_go_atoi("1_000", &v), BK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_buildkit),
        cmocka_unit_test(keys_are_plain_concatenation),
        cmocka_unit_test(env_fallbacks_and_upstream_errors),
        cmocka_unit_test(csv_quotes_and_key_case),
        cmocka_unit_test(integers_are_strict),
        cmocka_unit_test(lenient_values_warn_and_strict_fails),
        cmocka_unit_test(go_durations),
        cmocka_unit_test(go_duration_strings),
        cmocka_unit_test(go_bools_and_ints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
