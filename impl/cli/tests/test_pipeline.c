/* BK_TEST_INTEROP: curl's command line (--aws-sigv4) as an independent client */
/* The CLI's export/import/push/pull against the standalone mock-s3: the
 * manifest written for each graph fixture equals its min/max golden byte for
 * byte, import --json agrees with it, a type=local cache survives
 * push -> pull, and the errors users see are the documented ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cachegen.h"
#include "proc.h"

#define AK "AKIACLIPIPELINE00001"
#define SK "cli/pipeline/secret/0000000000000000000"
#define BUCKET "pipeline"
#define BKCACHE (BK_BIN_DIR "/bkcache")

typedef struct fx {
    bk_proc_child mock;
    char url[128];
    int port;
    char tmp[256];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(bk_tmpdir(f->tmp, sizeof f->tmp), 0);
    const char *buckets[] = {BUCKET, NULL};
    assert_int_equal(
        bk_mock_start(buckets, NULL, AK, SK, &f->mock, f->url, sizeof f->url, &f->port), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    assert_int_equal(bk_proc_stop(&f->mock, 10), 0);
    bk_rmtree(f->tmp);
    free(f);
    return 0;
}

static void attrs(fx *f, char *out, size_t size, const char *extra)
{
    snprintf(out, size,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=" AK ",secret_access_key=" SK "%s%s",
             f->url, *extra ? "," : "", extra);
}

/* The object's bytes, fetched with curl's own SigV4 signer (an independent client). */
static char *fetch(fx *f, const char *key, size_t *len)
{
    char url[512], out[300], user[128];
    snprintf(url, sizeof url, "%s/" BUCKET "/%s", f->url, key);
    snprintf(out, sizeof out, "%s/fetched", f->tmp);
    snprintf(user, sizeof user, "%s:%s", AK, SK);
    const char *argv[] = {"curl",
                          "-sS",
                          "-f",
                          "--max-time",
                          "20",
                          "--aws-sigv4",
                          "aws:amz:us-east-1:s3",
                          "--user",
                          user,
                          "-H",
                          ("x-amz-content-sha256: "
                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                          "-o",
                          out,
                          url,
                          NULL};
    bk_proc_result r;
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, 30, &r), 0);
    if (r.exit_code != 0)
        fail_msg("curl %s: %s", key, r.err);
    bk_proc_result_clear(&r);
    return bk_test_read_file(out, len);
}

static void run_cli(const char *const argv[], int want_exit, bk_proc_result *r)
{
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, 120, r), 0);
    if (r->exit_code != want_exit)
        fail_msg("%s %s exited %d (want %d)\nstdout: %s\nstderr: %s", argv[0], argv[1],
                 r->exit_code, want_exit, r->out, r->err);
}

static void export_graph(fx *f, const char *graph, const char *mode, const char *name)
{
    char path[512], a[1024], extra[128];
    snprintf(path, sizeof path, "%s/graphs/%s.json", BK_FIXTURES_DIR, graph);
    snprintf(extra, sizeof extra, "mode=%s,name=%s", mode, name);
    attrs(f, a, sizeof a, extra);
    const char *argv[] = {BKCACHE, "export",     "--graph", path, "--cache-to",
                          a,       "--progress", "plain",   NULL};
    bk_proc_result r;
    run_cli(argv, 0, &r);
    assert_non_null(strstr(r.err, "manifest(s)"));
    bk_proc_result_clear(&r);
}

/* Issue 17: without use_path_style the SDK's rules choose the style: path
 * style by IP address (the command that used to try "pipeline.127.0.0.1"),
 * virtual host by name (curl resolves *.localhost itself); -v and --dry-run
 * say which and why. */
static void addressing_follows_the_sdk_rules(void **state)
{
    fx *f = *state;
    char graph[512], by_ip[1024], by_name[1024];
    snprintf(graph, sizeof graph, "%s/graphs/multistage.json", BK_FIXTURES_DIR);
    snprintf(by_ip, sizeof by_ip,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,access_key_id=" AK
             ",secret_access_key=" SK,
             f->url);
    snprintf(by_name, sizeof by_name,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=http://localhost:%d,"
             "access_key_id=" AK ",secret_access_key=" SK,
             f->port);
    bk_proc_result r;
    const char *ip[] = {BKCACHE, "export", "--graph",    graph,   "--cache-to",
                        by_ip,   "-v",     "--progress", "quiet", NULL};
    run_cli(ip, 0, &r);
    assert_non_null(strstr(r.err, "export: addressing: path style (endpoint host 127.0.0.1 is "
                                  "an IP address)"));
    assert_non_null(strstr(r.err, "1 manifest(s)"));
    bk_proc_result_clear(&r);

    const char *name[] = {BKCACHE,     "import",     "--cache-from", by_name,
                          "--verbose", "--progress", "quiet",        NULL};
    run_cli(name, 0, &r);
    assert_non_null(strstr(r.err, "import: addressing: virtual host " BUCKET
                                  ".localhost (bucket " BUCKET " is a valid DNS label)"));
    bk_proc_result_clear(&r);

    const char *dry[] = {BKCACHE, "export",    "--graph",    graph,   "--cache-to",
                         by_name, "--dry-run", "--progress", "quiet", NULL};
    run_cli(dry, 0, &r);
    assert_non_null(strstr(r.err, "export: addressing: virtual host"));
    bk_proc_result_clear(&r);

    /* Without -v or --dry-run nothing is said. */
    const char *quiet[] = {BKCACHE, "export",     "--graph", graph, "--cache-to",
                           by_ip,   "--progress", "quiet",   NULL};
    run_cli(quiet, 0, &r);
    assert_null(strstr(r.err, "addressing"));
    bk_proc_result_clear(&r);
}

static void manifests_equal_the_graph_goldens(void **state)
{
    fx *f = *state;
    const char *graphs[] = {"linear", "multistage", "diamond", "twolinks", "dropped"};
    const char *modes[] = {"min", "max"};
    for (size_t g = 0; g < sizeof graphs / sizeof graphs[0]; g++) {
        for (size_t m = 0; m < 2; m++) {
            char name[64], key[96], golden[512];
            snprintf(name, sizeof name, "%s-%s", graphs[g], modes[m]);
            export_graph(f, graphs[g], modes[m], name);
            snprintf(key, sizeof key, "manifests/%s", name);
            snprintf(golden, sizeof golden, "%s/graphs/%s.%s.expected", BK_FIXTURES_DIR, graphs[g],
                     modes[m]);
            size_t got_len = 0, want_len = 0;
            char *got = fetch(f, key, &got_len);
            char *want = bk_test_read_file(golden, &want_len);
            assert_non_null(got);
            assert_non_null(want);
            if (got_len != want_len || memcmp(got, want, got_len) != 0)
                fail_msg("%s: the bucket's manifest differs from %s", key, golden);
            free(got);
            free(want);
            /* ...and it imports back: every blob there and verified. */
            char a[1024], extra[96];
            snprintf(extra, sizeof extra, "name=%s", name);
            attrs(f, a, sizeof a, extra);
            const char *imp[] = {BKCACHE, "import",     "--cache-from", a,   "--missing-blobs",
                                 "error", "--progress", "quiet",        NULL};
            bk_proc_result r;
            run_cli(imp, 0, &r);
            assert_non_null(strstr(r.err, "0 missing"));
            bk_proc_result_clear(&r);
        }
    }
}

static void import_json_and_dest(void **state)
{
    fx *f = *state;
    export_graph(f, "multistage", "max", "buildkit");
    char a[1024], dest[300];
    attrs(f, a, sizeof a, "");
    snprintf(dest, sizeof dest, "%s/dest", f->tmp);
    const char *argv[] = {BKCACHE, "import", "--cache-from", a,       "--dest",
                          dest,    "--json", "--progress",   "quiet", NULL};
    bk_proc_result r;
    run_cli(argv, 0, &r);
    assert_non_null(strstr(r.out, "{\"records\":["));
    assert_non_null(strstr(r.err, "0 missing"));
    bk_proc_result_clear(&r);
    /* The usable config written beside the blobs is the golden (nothing was missing). */
    char path[400], golden[512];
    snprintf(path, sizeof path, "%s/cache-config.json", dest);
    snprintf(golden, sizeof golden, "%s/graphs/multistage.max.expected", BK_FIXTURES_DIR);
    size_t a_len, b_len;
    char *x = bk_test_read_file(path, &a_len), *y = bk_test_read_file(golden, &b_len);
    assert_non_null(x);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(x, y, a_len);
    free(x);
    free(y);

    /* No manifest under that name: an empty cache, exit 0. */
    attrs(f, a, sizeof a, "name=absent");
    const char *empty[] = {BKCACHE, "import", "--cache-from", a, "--json", NULL};
    run_cli(empty, 0, &r);
    assert_non_null(strstr(r.err, "empty cache"));
    assert_non_null(strstr(r.out, "{\"records\":[]}"));
    bk_proc_result_clear(&r);
}

static void push_then_pull_a_local_cache(void **state)
{
    fx *f = *state;
    const char *shapes[] = {"oci-index", "docker-list", "image-manifest"};
    for (size_t i = 0; i < 3; i++) {
        char src[512], a[1024], extra[64], out[400];
        snprintf(src, sizeof src, "%s/local/%s", BK_FIXTURES_DIR, shapes[i]);
        snprintf(extra, sizeof extra, "name=local-%s", shapes[i]);
        attrs(f, a, sizeof a, extra);
        const char *push[] = {BKCACHE, "push", src, "--cache-to", a, "--progress", "quiet", NULL};
        bk_proc_result r;
        run_cli(push, 0, &r);
        bk_proc_result_clear(&r);

        snprintf(out, sizeof out, "%s/pulled-%s", f->tmp, shapes[i]);
        const char *pull[] = {BKCACHE,   "pull",    "--cache-from", a,       out,
                              "--shape", shapes[i], "--progress",   "quiet", NULL};
        run_cli(pull, 0, &r);
        bk_proc_result_clear(&r);
        /* What came back pushes to the same manifest bytes. */
        char again[1024], extra2[64];
        snprintf(extra2, sizeof extra2, "name=again-%s", shapes[i]);
        attrs(f, again, sizeof again, extra2);
        const char *repush[] = {BKCACHE, "push",       out,     "--cache-to",
                                again,   "--progress", "quiet", NULL};
        run_cli(repush, 0, &r);
        bk_proc_result_clear(&r);
        char k1[96], k2[96];
        snprintf(k1, sizeof k1, "manifests/local-%s", shapes[i]);
        snprintf(k2, sizeof k2, "manifests/again-%s", shapes[i]);
        size_t l1, l2;
        char *m1 = fetch(f, k1, &l1);
        char *m2 = fetch(f, k2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(m1, m2, l1);
        free(m1);
        free(m2);
        struct stat st;
        char index[500];
        snprintf(index, sizeof index, "%s/index.json", out);
        assert_int_equal(stat(index, &st), 0);
    }

    /* Without --shape pull writes what BuildKit writes by default since
     * v0.21.0: an OCI image manifest (image-manifest=true). */
    char a[1024], out[400], index[500];
    attrs(f, a, sizeof a, "name=local-oci-index");
    snprintf(out, sizeof out, "%s/pulled-default", f->tmp);
    const char *pull[] = {BKCACHE, "pull", "--cache-from", a, out, "--progress", "quiet", NULL};
    bk_proc_result r;
    run_cli(pull, 0, &r);
    bk_proc_result_clear(&r);
    snprintf(index, sizeof index, "%s/index.json", out);
    FILE *fp = fopen(index, "r");
    assert_non_null(fp);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    if (strstr(text, "\"application/vnd.oci.image.manifest.v1+json\"") == NULL)
        fail_msg("pull's default root is not an OCI image manifest: %s", text);
}

/* Issue 17 item 3: AWS_MAX_ATTEMPTS, else the profile's max_attempts, when
 * the attributes set no retry_max_attempts; invalid values fail with the
 * SDK's message before any request. Nothing listens on port 1 of loopback:
 * every attempt is refused at once. */
static void retry_settings_from_the_environment(void **state)
{
    fx *f = *state;
    char graph[512], conf[400], closed[512];
    snprintf(graph, sizeof graph, "%s/graphs/linear.json", BK_FIXTURES_DIR);
    snprintf(conf, sizeof conf, "%s/aws-config", f->tmp);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    fputs("[default]\nmax_attempts = 2\n", fp);
    fclose(fp);
    char conf_env[450];
    snprintf(conf_env, sizeof conf_env, "AWS_CONFIG_FILE=%s", conf);
    snprintf(closed, sizeof closed,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=http://127.0.0.1:1,"
             "access_key_id=" AK ",secret_access_key=" SK);
    const char *argv[] = {BKCACHE, "export",     "--graph", graph, "--cache-to",
                          closed,  "--progress", "quiet",   NULL};
    bk_proc_result r;

    const char *profile[] = {conf_env, "AWS_MAX_ATTEMPTS=", "AWS_RETRY_MODE=", NULL};
    assert_int_equal(bk_proc_run(argv, profile, NULL, 0, 60, &r), 0);
    assert_int_equal(r.exit_code, 1);
    assert_non_null(strstr(r.err, "giving up after 2 attempts"));
    bk_proc_result_clear(&r);

    const char *variable[] = {conf_env, "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=", NULL};
    assert_int_equal(bk_proc_run(argv, variable, NULL, 0, 60, &r), 0);
    assert_int_equal(r.exit_code, 1);
    assert_null(strstr(r.err, "giving up after"));
    bk_proc_result_clear(&r);

    const char *invalid[] = {conf_env, "AWS_MAX_ATTEMPTS=", "AWS_RETRY_MODE=fast", NULL};
    assert_int_equal(bk_proc_run(argv, invalid, NULL, 0, 60, &r), 0);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.err, "invalid AWS_RETRY_MODE value, unknown RetryMode, fast"));
    bk_proc_result_clear(&r);
}

static void usage_and_attribute_errors(void **state)
{
    fx *f = *state;
    (void)f;
    bk_proc_result r;
    const char *no_bucket[] = {BKCACHE, "import", "--cache-from", "type=s3,region=us-east-1", NULL};
    const char *env[] = {"AWS_BUCKET=", NULL};
    assert_int_equal(bk_proc_run(no_bucket, env, NULL, 0, 30, &r), 0);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.err, "bucket ($AWS_BUCKET) not set for s3 cache"));
    bk_proc_result_clear(&r);

    const char *bad_par[] = {BKCACHE,      "export",
                             "--graph",    "x.json",
                             "--cache-to", "type=s3,bucket=b,region=r,upload_parallelism=0",
                             NULL};
    run_cli(bad_par, 2, &r);
    assert_non_null(strstr(r.err, "upload_parallelism must be a positive integer"));
    bk_proc_result_clear(&r);

    char a[1024];
    attrs(f, a, sizeof a, "touch_refresh=1d");
    char graph[512];
    snprintf(graph, sizeof graph, "%s/graphs/linear.json", BK_FIXTURES_DIR);
    const char *warn[] = {BKCACHE, "export",    "--graph",    graph,   "--cache-to",
                          a,       "--dry-run", "--progress", "quiet", NULL};
    run_cli(warn, 0, &r);
    assert_non_null(strstr(r.err, "warning: touch_refresh"));
    assert_non_null(strstr(r.err, "dry run"));
    /* The plan on stdout: a line per blob, then the manifest. */
    assert_non_null(strstr(r.out, "plan: "));
    assert_non_null(strstr(r.out, "manifest  manifests/buildkit"));
    bk_proc_result_clear(&r);
    const char *strict[] = {BKCACHE, "export", "--graph", graph, "--cache-to", a, "--strict", NULL};
    run_cli(strict, 2, &r);
    bk_proc_result_clear(&r);
}

static void credentials_from_the_environment_and_virtual_host_style(void **state)
{
    fx *f = *state;
    char graph[512], a[1024];
    snprintf(graph, sizeof graph, "%s/graphs/linear.json", BK_FIXTURES_DIR);
    /* No keys in the attributes: the default chain finds them in the environment.
     * localhost endpoint without path style: bucket.localhost:PORT, as the SDKs do. */
    snprintf(a, sizeof a,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=http://localhost:%d,"
             "mode=max,name=from-env",
             f->port);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "AWS_CONFIG_FILE=%s/none", f->tmp);
    char creds[400];
    snprintf(creds, sizeof creds, "AWS_SHARED_CREDENTIALS_FILE=%s/none", f->tmp);
    const char *good_env[] = {("AWS_ACCESS_KEY_ID=" AK),
                              ("AWS_SECRET_ACCESS_KEY=" SK),
                              "AWS_SESSION_TOKEN=",
                              "AWS_PROFILE=",
                              cfg,
                              creds,
                              NULL};
    const char *argv[] = {BKCACHE, "export",     "--graph", graph, "--cache-to",
                          a,       "--progress", "quiet",   NULL};
    bk_proc_result r;
    assert_int_equal(bk_proc_run(argv, good_env, NULL, 0, 60, &r), 0);
    if (r.exit_code != 0)
        fail_msg("export with env credentials: %s", r.err);
    bk_proc_result_clear(&r);
    size_t len;
    char *m = fetch(f, "manifests/from-env", &len);
    assert_non_null(m);
    free(m);

    const char *bad_env[] = {("AWS_ACCESS_KEY_ID=" AK),
                             "AWS_SECRET_ACCESS_KEY=wrong-secret",
                             "AWS_SESSION_TOKEN=",
                             "AWS_PROFILE=",
                             cfg,
                             creds,
                             NULL};
    assert_int_equal(bk_proc_run(argv, bad_env, NULL, 0, 60, &r), 0);
    assert_int_equal(r.exit_code, 1);
    /* The first request is a HEAD, and HEAD errors have no body: status and hint only. */
    assert_non_null(strstr(r.err, "HeadObject"));
    assert_non_null(strstr(r.err, "HTTP 403"));
    assert_null(strstr(r.err, "wrong-secret"));
    bk_proc_result_clear(&r);

    const char *no_env[] = {"AWS_ACCESS_KEY_ID=",
                            "AWS_SECRET_ACCESS_KEY=",
                            "AWS_SESSION_TOKEN=",
                            "AWS_PROFILE=",
                            cfg,
                            creds,
                            NULL};
    assert_int_equal(bk_proc_run(argv, no_env, NULL, 0, 60, &r), 0);
    assert_int_equal(r.exit_code, 1);
    assert_non_null(strstr(r.err, "AWS_ACCESS_KEY_ID"));
    bk_proc_result_clear(&r);
}

/* An admin request to the mock (no signature), with curl's command line. */
static void admin_post(fx *f, const char *path, const char *json)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_mock/%s", f->url, path);
    const char *argv[] = {"curl",       "-sS", "-f",
                          "--max-time", "20",  "-X",
                          "POST",       "-H",  "Content-Type: application/json",
                          "-d",         json,  url,
                          NULL};
    bk_proc_result r;
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, 30, &r), 0);
    if (r.exit_code != 0)
        fail_msg("POST /_mock/%s: %s", path, r.err);
    bk_proc_result_clear(&r);
}

/* existence_check=list: the command lists while it loads the graph. The
 * listing still counts in the summary, its errors end the command as
 * before, and a graph that does not load is reported as before. */
static void list_mode_lists_while_the_graph_loads(void **state)
{
    fx *f = *state;
    export_graph(f, "multistage", "max", "listed");
    char graph[512], a[1024];
    snprintf(graph, sizeof graph, "%s/graphs/multistage.json", BK_FIXTURES_DIR);
    attrs(f, a, sizeof a, "mode=max,name=listed,existence_check=list");
    const char *argv[] = {BKCACHE, "export",     "--graph", graph, "--cache-to",
                          a,       "--progress", "quiet",   NULL};
    bk_proc_result r;
    run_cli(argv, 0, &r);
    assert_non_null(strstr(r.err, "0 uploaded"));
    assert_non_null(strstr(r.err, "1 manifest(s); 2 requests;"));
    bk_proc_result_clear(&r);

    admin_post(f, "faults",
               "{\"operation\":\"ListObjectsV2\",\"action\":\"error\",\"status\":400,"
               "\"error_code\":\"InvalidArgument\",\"max_fires\":1}");
    run_cli(argv, 1, &r);
    assert_non_null(strstr(r.err, "bkcache export: existence_check=list: ListObjectsV2 s3://" BUCKET
                                  ": HTTP 400 InvalidArgument"));
    assert_null(strstr(r.err, "manifest(s)"));
    bk_proc_result_clear(&r);

    const char *missing[] = {BKCACHE,      "export", "--graph",    "/nonexistent/graph.json",
                             "--cache-to", a,        "--progress", "quiet",
                             NULL};
    run_cli(missing, 2, &r);
    assert_non_null(strstr(r.err, "bkcache export: graph /nonexistent/graph.json: "));
    bk_proc_result_clear(&r);
}

static void demo_runs_end_to_end(void **state)
{
    (void)state;
    const char *argv[] = {BKCACHE, "demo", NULL};
    bk_proc_result r;
    run_cli(argv, 0, &r);
    assert_non_null(strstr(r.out, "the imported graph equals the exported one"));
    assert_non_null(strstr(r.out, "0 uploaded (0 re-uploaded), 0 touched"));
    assert_non_null(strstr(r.out, "manifests/"));
    bk_proc_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(manifests_equal_the_graph_goldens, setup, teardown),
        cmocka_unit_test_setup_teardown(addressing_follows_the_sdk_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_settings_from_the_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(import_json_and_dest, setup, teardown),
        cmocka_unit_test_setup_teardown(push_then_pull_a_local_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(usage_and_attribute_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(credentials_from_the_environment_and_virtual_host_style,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(list_mode_lists_while_the_graph_loads, setup, teardown),
        cmocka_unit_test(demo_runs_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
