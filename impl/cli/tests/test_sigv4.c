/* `bkcache sigv4 sign|presign` end to end: the binary on vector requests
 * must print exactly the vectors' canonical request, string to sign and
 * Authorization; bad input exits 2 with one line on stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cachegen.h"
#include "bkcache/buf.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define VECTORS BK_FIXTURES_DIR "/sigv4"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DOC_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* snprintf that fails the test instead of truncating. */
__attribute__((format(printf, 3, 4))) static void fmt_into(char *out, size_t size, const char *fmt,
                                                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        fail_msg("formatted text does not fit in %zu bytes", size);
}

/* The text after "--- <name>\n" up to the next "\n--- " or the end (without
 * the final newline). */
static char *section(const char *out, const char *name)
{
    char marker[64];
    fmt_into(marker, sizeof marker, "--- %s\n", name);
    const char *start = strstr(out, marker);
    if (start == NULL)
        fail_msg("no section '%s' in output:\n%s", name, out);
    start += strlen(marker);
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): fail_msg does not return */
    const char *end = strstr(start, "\n--- ");
    size_t len = end != NULL ? (size_t)(end - start) : strlen(start);
    if (end == NULL && len > 0 && start[len - 1] == '\n')
        len--;
    char *s = strndup(start, len);
    assert_non_null(s);
    return s;
}

static void run_cli(const char *const *extra, const char *stdin_text, bk_proc_result *res)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = BKCACHE;
    for (; *extra != NULL && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    assert_int_equal(bk_proc_run(argv, NULL, stdin_text, strlen(stdin_text), 30, res), 0);
    assert_false(res->timed_out);
}

static void expect_same(const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("%s differs\n--- got\n%s\n--- want\n%s", what, got, want);
}

static void sign_and_compare(const char *dir, const char *name)
{
    char path[1024];
    fmt_into(path, sizeof path, "%s/%s/%s.req", dir, name, name);
    char *req = bk_test_read_file(path, NULL);
    const char *args[] = {"sigv4",  "sign",     "--access-key", "AKIDEXAMPLE", "--secret-key",
                          SUITE_SK, "--region", "us-east-1",    "--service",   "service",
                          NULL};
    bk_proc_result res;
    run_cli(args, req, &res);
    if (res.exit_code != 0)
        fail_msg("%s: exit %d: %s", name, res.exit_code, res.err);
    const char *parts[][2] = {
        {"canonical-request", "creq"}, {"string-to-sign", "sts"}, {"authorization", "authz"}};
    for (int i = 0; i < 3; i++) {
        fmt_into(path, sizeof path, "%s/%s/%s.%s", dir, name, name, parts[i][1]);
        char *want = bk_test_read_file(path, NULL), *got = section(res.out, parts[i][0]);
        expect_same(name, got, want);
        free(want);
        free(got);
    }
    assert_null(strstr(res.out, "added-headers")); /* the .req carries X-Amz-Date */
    assert_null(strstr(res.out, SUITE_SK));
    bk_proc_result_clear(&res);
    free(req);
}

static void sign_matches_aws4_testsuite(void **state)
{
    (void)state;
    const char *dir = VECTORS "/aws4_testsuite";
    const char *cases[] = {"get-vanilla",
                           "get-header-key-duplicate",
                           "get-header-value-multiline",
                           "get-header-value-trim",
                           "get-vanilla-query-order-encoded",
                           "get-utf8",
                           "post-x-www-form-urlencoded-parameters",
                           "post-sts-token/post-sts-header-before"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *slash = strchr(cases[i], '/');
        if (slash != NULL) {
            char sub[512];
            fmt_into(sub, sizeof sub, "%s/%.*s", dir, (int)(slash - cases[i]), cases[i]);
            sign_and_compare(sub, slash + 1);
        } else {
            sign_and_compare(dir, cases[i]);
        }
    }
    sign_and_compare(VECTORS "/aws4_testsuite/normalize-path", "get-slashes");
}

/* A request without X-Amz-Date: --date gives the time and the header is added. */
static void sign_with_date_option_adds_header(void **state)
{
    (void)state;
    const char *dir = VECTORS "/aws-signing-test-suite/v4/get-vanilla-utf8-query";
    char path[1024];
    fmt_into(path, sizeof path, "%s/request.txt", dir);
    char *req = bk_test_read_file(path, NULL);
    const char *args[] = {
        "sigv4",    "sign",      "--access-key", "AKIDEXAMPLE", "--secret-key", SUITE_SK,
        "--region", "us-east-1", "--service",    "service",     "--date",       "20150830T123600Z",
        NULL};
    bk_proc_result res;
    run_cli(args, req, &res);
    assert_int_equal(res.exit_code, 0);
    const char *files[][2] = {{"canonical-request", "header-canonical-request.txt"},
                              {"string-to-sign", "header-string-to-sign.txt"}};
    for (int i = 0; i < 2; i++) {
        fmt_into(path, sizeof path, "%s/%s", dir, files[i][1]);
        char *want = bk_test_read_file(path, NULL), *got = section(res.out, files[i][0]);
        expect_same(files[i][1], got, want);
        free(want);
        free(got);
    }
    fmt_into(path, sizeof path, "%s/header-signature.txt", dir);
    char *sig = bk_test_read_file(path, NULL), *authz = section(res.out, "authorization");
    assert_non_null(strstr(authz, sig));
    char *added = section(res.out, "added-headers");
    assert_string_equal(added, "X-Amz-Date: 20150830T123600Z");
    free(added);
    free(sig);
    free(authz);
    bk_proc_result_clear(&res);
    free(req);
}

/* S3 rules: a BuildKit blob key with a raw ':' (derived vector). */
static void sign_s3_colon_key(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *root = json_load_file(VECTORS "/extra/derived-head-blob-colon-key.json", 0, &jerr);
    assert_non_null(root);
    json_t *req = json_object_get(root, "request");
    bk_buf text = BK_BUF_INIT;
    bk_buf_printf(&text, "%s %s HTTP/1.1\r\n", json_string_value(json_object_get(req, "method")),
                  json_string_value(json_object_get(req, "raw_path")));
    json_t *headers = json_object_get(req, "headers");
    for (size_t i = 0; i < json_array_size(headers); i++)
        bk_buf_printf(&text, "%s: %s\r\n",
                      json_string_value(json_array_get(json_array_get(headers, i), 0)),
                      json_string_value(json_array_get(json_array_get(headers, i), 1)));
    bk_buf_puts(&text, "\r\n");
    const char *args[] = {"sigv4",
                          "sign",
                          "--access-key",
                          "AKIAIOSFODNN7EXAMPLE",
                          "--secret-key",
                          DOC_SK,
                          "--region",
                          "us-east-1",
                          "--service",
                          "s3",
                          NULL};
    bk_proc_result res;
    run_cli(args, bk_buf_str(&text), &res);
    assert_int_equal(res.exit_code, 0);
    const char *parts[][2] = {{"canonical-request", "canonical_request"},
                              {"string-to-sign", "string_to_sign"},
                              {"authorization", "authorization"}};
    for (int i = 0; i < 3; i++) {
        char *got = section(res.out, parts[i][0]);
        expect_same(parts[i][0], got, json_string_value(json_object_get(root, parts[i][1])));
        free(got);
    }
    assert_null(strstr(res.out, DOC_SK));
    bk_proc_result_clear(&res);
    bk_buf_clear(&text);
    json_decref(root);
}

static void presign_matches_s3_doc_example(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *root = json_load_file(VECTORS "/s3-doc-examples/presigned-get-object.json", 0, &jerr);
    assert_non_null(root);
    const char *args[] = {"sigv4",        "presign", "--access-key", "AKIAIOSFODNN7EXAMPLE",
                          "--secret-key", DOC_SK,    "--region",     "us-east-1",
                          "--service",    "s3",      "--date",       "20130524T000000Z",
                          "--expires",    "86400",   "--https",      NULL};
    bk_proc_result res;
    run_cli(args, "GET /test.txt HTTP/1.1\nHost: examplebucket.s3.amazonaws.com\n", &res);
    assert_int_equal(res.exit_code, 0);
    char want[1024];
    fmt_into(want, sizeof want, "%s\n", json_string_value(json_object_get(root, "presigned_url")));
    expect_same("presigned URL", res.out, want);
    bk_proc_result_clear(&res);
    json_decref(root);
}

static void expect_bad_input(const char *const *args, const char *stdin_text, const char *needle)
{
    bk_proc_result res;
    run_cli(args, stdin_text, &res);
    if (res.exit_code != 2)
        fail_msg("exit %d (want 2) for input '%s'; stderr: %s", res.exit_code, stdin_text, res.err);
    assert_string_equal(res.out, "");
    size_t len = strlen(res.err);
    assert_true(len > 0 && res.err[len - 1] == '\n');
    assert_null(memchr(res.err, '\n', len - 1)); /* exactly one line */
    if (needle != NULL && strstr(res.err, needle) == NULL)
        fail_msg("stderr '%s' lacks '%s'", res.err, needle);
    assert_null(strstr(res.err, "SECRETKEY"));
    bk_proc_result_clear(&res);
}

static void bad_input_exits_2(void **state)
{
    (void)state;
    const char *sign[] = {"sigv4",     "sign",     "--access-key", "AK",        "--secret-key",
                          "SECRETKEY", "--region", "us-east-1",    "--service", "s3",
                          NULL};
    expect_bad_input(sign, "GET / HTTP/1.1\nX-Amz-Date: 20130524T000000Z\n", "Host");
    expect_bad_input(sign, "GET\nHost: h\n", "request line");
    expect_bad_input(sign, "GET / SPDY\nHost: h\n", "request line");
    expect_bad_input(sign, "", NULL);
    expect_bad_input(sign, "GET / HTTP/1.1\nHost: h\nX-Amz-Date: yesterday\n", "X-Amz-Date");
    expect_bad_input(sign, "GET / HTTP/1.1\n continuation first\n", "continuation");
    expect_bad_input(sign, "GET /%zz HTTP/1.1\nHost: h\nX-Amz-Date: 20130524T000000Z\n", "percent");
    const char *missing[] = {"sigv4", "sign",      "--access-key", "AK", "--region",
                             "r",     "--service", "s3",           NULL};
    expect_bad_input(missing, "GET / HTTP/1.1\nHost: h\n", "--secret-key");
    const char *unknown[] = {"sigv4", "sign", "--bogus", NULL};
    expect_bad_input(unknown, "", "--bogus");
    const char *no_expiry[] = {
        "sigv4", "presign",   "--access-key", "AK", "--secret-key", "SECRETKEY", "--region",
        "r",     "--service", "s3",           NULL};
    expect_bad_input(no_expiry, "GET / HTTP/1.1\nHost: h\n", "--expires");
    const char *long_expiry[] = {
        "sigv4", "presign",   "--access-key", "AK",        "--secret-key", "SECRETKEY", "--region",
        "r",     "--service", "s3",           "--expires", "604801",       NULL};
    expect_bad_input(long_expiry, "GET / HTTP/1.1\nHost: h\n", "604800");
    const char *bad_sub[] = {"sigv4", "verify", NULL};
    expect_bad_input(bad_sub, "", "verify");
}

static void help_documents_the_sections(void **state)
{
    (void)state;
    const char *args[] = {"sigv4", "--help", NULL};
    bk_proc_result res;
    run_cli(args, "", &res);
    assert_int_equal(res.exit_code, 0);
    assert_non_null(strstr(res.out, "--- canonical-request"));
    assert_non_null(strstr(res.out, "--- string-to-sign"));
    assert_non_null(strstr(res.out, "--- authorization"));
    assert_non_null(strstr(res.out, "--https"));
    bk_proc_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_matches_aws4_testsuite),
        cmocka_unit_test(sign_with_date_option_adds_header),
        cmocka_unit_test(sign_s3_colon_key),
        cmocka_unit_test(presign_matches_s3_doc_example),
        cmocka_unit_test(bad_input_exits_2),
        cmocka_unit_test(help_documents_the_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
