/* Security of the client end to end, through build/bin/bkcache and
 * build/bin/mock-s3 as children:
 *  - a recognisable secret key and session token, given as attributes or in
 *    the environment, never appear in anything bkcache prints (stdout,
 *    stderr, progress, --json, error messages of failed runs) nor in the
 *    mock's journal (file and GET /_mock/journal); `bkcache demo` never
 *    prints its own random secret;
 *  - TLS certificates are verified by default: an https endpoint with a
 *    self-signed certificate (made with openssl at test time and served by
 *    `openssl s_server` on 127.0.0.1) is refused with a message naming the
 *    ways to trust it, and accepted only with the explicit insecure option
 *    (--insecure, which warns on every run) or that certificate as the CA
 *    bundle (--ca-bundle).
 * (That the store refuses symlinks is impl/tests/test_store.c's.) */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "cachegen.h"
#include "bkcache/buf.h"
#include "bkcache/s3.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define AK "AKIASECURITYTEST0001"
/* Recognisable, and with the characters that get escaped or encoded somewhere. */
#define SECRET "Sup3rSecret/Grep+Me=QvXk0123456789zyxwABC"
#define TOKEN "FQoGZXIvYXdzEXAMPLETOKEN/grep+me/Zm9vYmFyYmF6cXV4cXV1eA=="
#define BUCKET "secure"
#define LINEAR (BK_FIXTURES_DIR "/graphs/linear.json")

static const char *const clean_env[] = {"AWS_ACCESS_KEY_ID=",
                                        "AWS_SECRET_ACCESS_KEY=",
                                        "AWS_SESSION_TOKEN=",
                                        "AWS_PROFILE=",
                                        "AWS_CA_BUNDLE=",
                                        "CURL_CA_BUNDLE=",
                                        "SSL_CERT_FILE=",
                                        "SSL_CERT_DIR=",
                                        "AWS_CONFIG_FILE=/nonexistent",
                                        "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
                                        NULL};

/* Fails when text holds the secret or the token, or a good part of either
 * (a prefix of 16 characters is enough to be a leak). */
static void assert_no_secret(const char *what, const char *text)
{
    static const char *const secrets[] = {SECRET, TOKEN};
    for (size_t i = 0; i < 2; i++) {
        char head[17];
        snprintf(head, sizeof head, "%s", secrets[i]);
        if (text != NULL && (strstr(text, secrets[i]) != NULL || strstr(text, head) != NULL))
            fail_msg("%s leaks %s:\n%s", what, i == 0 ? "the secret key" : "the session token",
                     text);
    }
    /* Percent-encoded forms ('/' and '+' escaped) too. */
    if (text != NULL &&
        (strstr(text, "Sup3rSecret%2F") != NULL || strstr(text, "grep%2Bme") != NULL))
        fail_msg("%s leaks an encoded secret:\n%s", what, text);
}

typedef struct sec_fx {
    char tmp[256];
    char url[128];
    int port;
    bk_proc_child mock;
    char journal[512];
} sec_fx;

static void run_checked(const char *what, const char *const argv[], const char *const env[],
                        int want_exit, bk_proc_result *res)
{
    assert_int_equal(bk_proc_run(argv, env ? env : clean_env, NULL, 0, 60, res), 0);
    assert_false(res->timed_out);
    assert_no_secret(what, res->out);
    assert_no_secret(what, res->err);
    if (want_exit >= 0 && res->exit_code != want_exit)
        fail_msg("%s exited %d (want %d): %s", what, res->exit_code, want_exit, res->err);
}

static size_t collect_cb(char *p, size_t size, size_t n, void *ud)
{
    bk_buf_append(ud, p, size * n);
    return size * n;
}

static char *http_get(const char *url)
{
    bk_buf b = BK_BUF_INIT;
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    return bk_buf_steal(&b);
}

static void secrets_never_printed_or_journaled(void **state)
{
    (void)state;
    sec_fx f;
    memset(&f, 0, sizeof f);
    assert_int_equal(bk_tmpdir(f.tmp, sizeof f.tmp), 0);
    snprintf(f.journal, sizeof f.journal, "%s/journal.jsonl", f.tmp);
    const char *buckets[] = {BUCKET, NULL};
    const char *extra[] = {"--session-token", TOKEN, "--journal", f.journal, NULL};
    assert_int_equal(
        bk_mock_start(buckets, extra, AK, SECRET, &f.mock, f.url, sizeof f.url, &f.port), 0);

    char attrs[1024], attrs_env[512], attrs_bad[1024], attrs_wrong[1024], dest[512];
    snprintf(attrs, sizeof attrs,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=" AK ",secret_access_key=" SECRET ",session_token=" TOKEN ",mode=max",
             f.url);
    snprintf(attrs_env, sizeof attrs_env,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true",
             f.url);
    snprintf(attrs_bad, sizeof attrs_bad, "%s,no_such_attribute=1,touch_refresh=never", attrs);
    /* Signed with a secret that is almost right: the mock refuses it. */
    snprintf(attrs_wrong, sizeof attrs_wrong,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=" AK ",secret_access_key=" SECRET "X,session_token=" TOKEN,
             f.url);
    snprintf(dest, sizeof dest, "%s/dest", f.tmp);
    static const char *const env_creds[] = {"AWS_ACCESS_KEY_ID=" AK,
                                            "AWS_SECRET_ACCESS_KEY=" SECRET,
                                            "AWS_SESSION_TOKEN=" TOKEN,
                                            "AWS_PROFILE=",
                                            "AWS_CONFIG_FILE=/nonexistent",
                                            "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
                                            NULL};

    bk_proc_result r;
    const char *exp[] = {BKCACHE, "export",     "--graph", LINEAR, "--cache-to",
                         attrs,   "--progress", "plain",   NULL};
    run_checked("export", exp, NULL, 0, &r);
    assert_true(strlen(r.out) + strlen(r.err) > 0); /* it did print something */
    bk_proc_result_clear(&r);

    const char *dry[] = {BKCACHE, "export",    "--graph",    LINEAR,  "--cache-to",
                         attrs,   "--dry-run", "--progress", "plain", NULL};
    run_checked("export --dry-run", dry, NULL, 0, &r);
    bk_proc_result_clear(&r);

    const char *imp[] = {BKCACHE, "import", "--cache-from", attrs,   "--dest",
                         dest,    "--json", "--progress",   "plain", NULL};
    run_checked("import --json", imp, NULL, 0, &r);
    assert_true(strlen(r.out) > 2);
    bk_proc_result_clear(&r);

    /* The same credentials from the environment. */
    const char *imp_env[] = {BKCACHE,  "import",     "--cache-from", attrs_env,
                             "--json", "--progress", "plain",        NULL};
    run_checked("import (credentials from the environment)", imp_env, env_creds, 0, &r);
    bk_proc_result_clear(&r);

    /* Failures: messages name what went wrong, never the secret. */
    const char *strict[] = {BKCACHE,      "export",  "--graph",  LINEAR,
                            "--cache-to", attrs_bad, "--strict", NULL};
    run_checked("export --strict with bad attributes", strict, NULL, 2, &r);
    assert_true(strlen(r.err) > 0);
    bk_proc_result_clear(&r);

    const char *lax[] = {BKCACHE,      "export",  "--graph",   LINEAR,
                         "--cache-to", attrs_bad, "--dry-run", NULL};
    run_checked("export with warnings", lax, NULL, -1, &r);
    bk_proc_result_clear(&r);

    const char *wrong[] = {BKCACHE, "import", "--cache-from", attrs_wrong, "--progress",
                           "plain", NULL};
    run_checked("import with a wrong secret", wrong, NULL, 1, &r);
    assert_true(strlen(r.err) > 0);
    bk_proc_result_clear(&r);

    const char *wrong_exp[] = {BKCACHE,     "export",     "--graph", LINEAR, "--cache-to",
                               attrs_wrong, "--progress", "plain",   NULL};
    run_checked("export with a wrong secret", wrong_exp, NULL, 1, &r);
    bk_proc_result_clear(&r);

    /* The journal, as a file and over HTTP; it did record the signed requests. */
    char *journal = bk_test_read_file(f.journal, NULL);
    assert_non_null(journal);
    assert_non_null(strstr(journal, AK));
    assert_no_secret("the mock's journal file", journal);
    free(journal);
    char url[256];
    snprintf(url, sizeof url, "%s/_mock/journal", f.url);
    char *json = http_get(url);
    assert_non_null(strstr(json, "PutObject"));
    assert_no_secret("GET /_mock/journal", json);
    free(json);

    assert_int_equal(bk_proc_stop(&f.mock, 10), 0);
    bk_rmtree(f.tmp);
}

/* The demo makes a random 36-hex-digit secret; no run of exactly 36 hex
 * digits (digests are 64) may appear in what it prints. */
static void demo_never_prints_its_secret(void **state)
{
    (void)state;
    const char *argv[] = {BKCACHE, "demo", "--progress", "plain", NULL};
    bk_proc_result r;
    assert_int_equal(bk_proc_run(argv, clean_env, NULL, 0, 120, &r), 0);
    assert_false(r.timed_out);
    if (r.exit_code != 0)
        fail_msg("demo exited %d: %s", r.exit_code, r.err);
    const char *outs[2] = {r.out, r.err};
    for (int k = 0; k < 2; k++) {
        const char *p = outs[k];
        while (*p) {
            size_t run = 0;
            while (isxdigit((unsigned char)p[run]))
                run++;
            if (run == 36)
                fail_msg("demo printed a 36-hex-digit string (its secret?): %.36s", p);
            p += run ? run : 1;
        }
    }
    assert_null(strstr(r.out, "secret_access_key="));
    assert_null(strstr(r.err, "secret_access_key="));
    bk_proc_result_clear(&r);
}

/* ------------------------------------------------------------ TLS */

typedef struct tls_fx {
    char tmp[256];
    char cert[512], key[512];
    bk_proc_child server;
    char url[128];
} tls_fx;

static void tls_start(tls_fx *t)
{
    memset(t, 0, sizeof *t);
    assert_int_equal(bk_tmpdir(t->tmp, sizeof t->tmp), 0);
    snprintf(t->cert, sizeof t->cert, "%s/cert.pem", t->tmp);
    snprintf(t->key, sizeof t->key, "%s/key.pem", t->tmp);
    const char *gen[] = {"openssl",  "req",           "-x509",   "-newkey",
                         "rsa:2048", "-nodes",        "-keyout", t->key,
                         "-out",     t->cert,         "-days",   "1",
                         "-subj",    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                         NULL};
    bk_proc_result r;
    assert_int_equal(bk_proc_run(gen, NULL, NULL, 0, 60, &r), 0);
    if (r.exit_code != 0)
        fail_msg("openssl req: %s", r.err);
    bk_proc_result_clear(&r);
    /* -www answers every request with a status page over TLS. */
    const char *srv[] = {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert",
                         t->cert,   "-key",     t->key,    "-www",        NULL};
    assert_int_equal(bk_proc_spawn(srv, NULL, &t->server), 0);
    char line[256];
    int port = 0;
    for (int i = 0; i < 10 && port == 0; i++) {
        if (bk_proc_read_line(&t->server, line, sizeof line, 20) != 0)
            break;
        const char *colon = strrchr(line, ':');
        if (strncmp(line, "ACCEPT ", 7) == 0 && colon != NULL)
            port = (int)strtol(colon + 1, NULL, 10);
    }
    if (port <= 0) {
        bk_proc_stop(&t->server, 5);
        fail_msg("openssl s_server did not report its port");
    }
    snprintf(t->url, sizeof t->url, "https://127.0.0.1:%d", port);
}

static void tls_stop(tls_fx *t)
{
    bk_proc_stop(&t->server, 5);
    bk_rmtree(t->tmp);
}

/* As a fixture, so that a failed assertion still stops the server. */
static int tls_setup(void **state)
{
    tls_fx *t = calloc(1, sizeof *t);
    assert_non_null(t);
    tls_start(t);
    *state = t;
    return 0;
}

static int tls_teardown(void **state)
{
    tls_fx *t = *state;
    tls_stop(t);
    free(t);
    return 0;
}

static bk_code tls_get(const tls_fx *t, int insecure, const char *ca_bundle, bk_s3_result *res,
                       bk_err *err)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.region = "us-east-1";
    cfg.bucket = BUCKET;
    cfg.endpoint_url = t->url;
    cfg.use_path_style = 1;
    cfg.access_key_id = AK;
    cfg.secret_access_key = SECRET;
    cfg.retry.max_attempts = 1;
    cfg.insecure = insecure;
    cfg.ca_bundle = ca_bundle;
    bk_s3_client *c = bk_s3_client_new(&cfg, err);
    assert_non_null(c);
    bk_buf body = BK_BUF_INIT;
    bk_code rc = bk_s3_get_to_buf(c, "key", NULL, 1 << 20, &body, res, err);
    bk_buf_clear(&body);
    bk_s3_client_free(c);
    return rc;
}

static void tls_verified_by_default(void **state)
{
    const tls_fx t = *(const tls_fx *)*state;

    /* The library: default config refuses the self-signed certificate... */
    bk_s3_config def;
    bk_s3_config_init(&def);
    assert_int_equal(def.insecure, 0);
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err err;
    assert_int_not_equal(tls_get(&t, 0, NULL, &res, &err), BK_OK);
    assert_int_equal(res.status, 0); /* no HTTP response: the handshake failed */
    assert_non_null(strstr(err.msg, "TLS verification failed"));
    assert_no_secret("TLS error", err.msg);
    bk_s3_result_clear(&res);

    /* ...accepts it as the CA bundle, or with the explicit insecure option:
     * the request then gets an HTTP answer (s_server's status page). */
    tls_get(&t, 0, t.cert, &res, &err);
    assert_int_equal(res.status, 200);
    bk_s3_result_clear(&res);
    tls_get(&t, 1, NULL, &res, &err);
    assert_int_equal(res.status, 200);
    bk_s3_result_clear(&res);

    /* The CLI: refused by default, exit 1, with a message naming the ways
     * to trust the server. */
    char attrs[512];
    snprintf(attrs, sizeof attrs,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=" AK ",secret_access_key=" SECRET ",retry_max_attempts=1",
             t.url);
    const char *argv[] = {BKCACHE, "import", "--cache-from", attrs, "--progress", "quiet", NULL};
    bk_proc_result r;
    run_checked("import over https with a self-signed certificate", argv, NULL, 1, &r);
    assert_non_null(strstr(r.err, "TLS verification failed"));
    assert_non_null(strstr(r.err, "--ca-bundle"));
    assert_non_null(strstr(r.err, "--insecure"));
    assert_non_null(strstr(r.err, "AWS_CA_BUNDLE"));
    bk_proc_result_clear(&r);
}

/* The CLI's --ca-bundle and --insecure reach the client: the request then
 * gets s_server's status page, which is no manifest (exit 1, but no TLS
 * failure). --insecure warns on every run. */
static void tls_options_of_the_cli(void **state)
{
    const tls_fx t = *(const tls_fx *)*state;
    char attrs[512];
    snprintf(attrs, sizeof attrs,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=" AK ",secret_access_key=" SECRET ",retry_max_attempts=1",
             t.url);
    bk_proc_result r;
    const char *trusted[] = {BKCACHE, "import",     "--cache-from", attrs, "--ca-bundle",
                             t.cert,  "--progress", "quiet",        NULL};
    run_checked("import --ca-bundle", trusted, NULL, 1, &r);
    assert_null(strstr(r.err, "TLS"));
    assert_null(strstr(r.err, "warning"));
    bk_proc_result_clear(&r);

    const char *insecure[] = {BKCACHE, "explain", "--cache-from", attrs, "--insecure", NULL};
    run_checked("explain --insecure", insecure, NULL, 1, &r);
    assert_null(strstr(r.err, "TLS verification failed"));
    assert_non_null(strstr(r.err, "warning: --insecure"));
    bk_proc_result_clear(&r);

    /* The warning comes first, even when the run fails before any request. */
    const char *bad[] = {BKCACHE,      "import", "--cache-from", "type=s3,bucket=a/b,region=r",
                         "--insecure", NULL};
    run_checked("import --insecure with a bad bucket", bad, NULL, 2, &r);
    assert_non_null(strstr(r.err, "warning: --insecure"));
    bk_proc_result_clear(&r);

    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-ca.pem", t.tmp);
    const char *nofile[] = {BKCACHE, "import", "--cache-from", attrs, "--ca-bundle", missing, NULL};
    run_checked("import --ca-bundle with a missing file", nofile, NULL, 2, &r);
    assert_non_null(strstr(r.err, "--ca-bundle"));
    assert_non_null(strstr(r.err, "no-such-ca.pem"));
    bk_proc_result_clear(&r);

    const char *both[] = {BKCACHE,       "import", "--cache-from", attrs,
                          "--ca-bundle", t.cert,   "--insecure",   NULL};
    run_checked("import --ca-bundle --insecure", both, NULL, 2, &r);
    bk_proc_result_clear(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(secrets_never_printed_or_journaled),
        cmocka_unit_test(demo_never_prints_its_secret),
        cmocka_unit_test_setup_teardown(tls_verified_by_default, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(tls_options_of_the_cli, tls_setup, tls_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
