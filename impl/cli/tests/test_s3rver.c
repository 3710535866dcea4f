/* BK_TEST_INTEROP: node and s3rver from tools/interop (tools/setup --test) */
/* End to end against a server nobody here wrote: s3rver (npm) behind the
 * SigV4 judge in tools/interop, which recomputes every signature with the
 * AWS JavaScript SDK's signer. bkcache export writes a graph fixture's cache,
 * bkcache import reads it back verified, and the manifest equals the golden. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cachegen.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define BUCKET "bkcache-e2e"
#define AK "AKIAS3RVERE2E0000001"
#define SK "s3rver-e2e-secret"

typedef struct fx {
    bk_proc_child judge;
    int port;
    char tmp[256];
} fx;

static int setup(void **state)
{
    const char *script = BK_SOURCE_DIR "/tools/interop/s3rver-judge.js";
    if (access(BK_SOURCE_DIR "/tools/interop/node_modules/s3rver/package.json", R_OK) != 0)
        fail_msg("s3rver is not installed in tools/interop/node_modules: run tools/setup --test");
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(bk_tmpdir(f->tmp, sizeof f->tmp), 0);
    const char *argv[] = {"node", "--openssl-legacy-provider", script, "--bucket", BUCKET, NULL};
    const char *env[] = {"BK_JUDGE_ACCESS_KEY_ID=" AK, "BK_JUDGE_SECRET_ACCESS_KEY=" SK, NULL};
    assert_int_equal(bk_proc_spawn(argv, env, &f->judge), 0);
    char line[128];
    if (bk_proc_read_line(&f->judge, line, sizeof line, 60) != 0) {
        bk_proc_stop(&f->judge, 5);
        fail_msg("the s3rver judge did not print its port: run tools/setup --test");
    }
    f->port = (int)strtol(line, NULL, 10);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    bk_proc_stop(&f->judge, 10);
    bk_rmtree(f->tmp);
    free(f);
    return 0;
}

static void attrs(fx *f, char *out, size_t size, const char *extra)
{
    snprintf(out, size,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=http://127.0.0.1:%d,"
             "use_path_style=true,access_key_id=" AK ",secret_access_key=" SK ",%s",
             f->port, extra);
}

static void run_ok(const char *const argv[], bk_proc_result *r)
{
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, 120, r), 0);
    if (r->exit_code != 0)
        fail_msg("%s %s exited %d\nstdout: %s\nstderr: %s", argv[0], argv[1], r->exit_code, r->out,
                 r->err);
}

static void export_import_round_trip(void **state)
{
    fx *f = *state;
    char a[1024], graph[512], dest[300];
    attrs(f, a, sizeof a, "mode=max");
    snprintf(graph, sizeof graph, "%s/graphs/diamond.json", BK_FIXTURES_DIR);
    const char *exp[] = {BKCACHE, "export",     "--graph", graph, "--cache-to",
                         a,       "--progress", "quiet",   NULL};
    bk_proc_result r;
    run_ok(exp, &r);
    bk_proc_result_clear(&r);
    /* Twice: the second run finds every blob and uploads none. */
    run_ok(exp, &r);
    assert_non_null(strstr(r.err, "0 uploaded"));
    bk_proc_result_clear(&r);

    snprintf(dest, sizeof dest, "%s/dest", f->tmp);
    const char *imp[] = {BKCACHE,      "import", "--cache-from",    a,       "--dest", dest,
                         "--progress", "quiet",  "--missing-blobs", "error", NULL};
    run_ok(imp, &r);
    assert_non_null(strstr(r.err, "0 missing"));
    bk_proc_result_clear(&r);
    char got_path[400], golden[512];
    snprintf(got_path, sizeof got_path, "%s/cache-config.json", dest);
    snprintf(golden, sizeof golden, "%s/graphs/diamond.max.expected", BK_FIXTURES_DIR);
    size_t a_len, b_len;
    char *x = bk_test_read_file(got_path, &a_len), *y = bk_test_read_file(golden, &b_len);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(x, y, a_len);
    free(x);
    free(y);

    /* The judge verified every signature and refused none. */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/__judge/stats", f->port);
    const char *stats[] = {"curl", "-sS", "--max-time", "10", url, NULL};
    run_ok(stats, &r);
    assert_non_null(strstr(r.out, "\"refused\":0"));
    bk_proc_result_clear(&r);

    /* A wrong secret is refused by the judge: the export fails. */
    char bad[1024];
    snprintf(bad, sizeof bad,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=http://127.0.0.1:%d,"
             "use_path_style=true,access_key_id=" AK ",secret_access_key=wrong",
             f->port);
    const char *exp_bad[] = {BKCACHE, "export",     "--graph", graph, "--cache-to",
                             bad,     "--progress", "quiet",   NULL};
    assert_int_equal(bk_proc_run(exp_bad, NULL, NULL, 0, 120, &r), 0);
    assert_int_equal(r.exit_code, 1);
    bk_proc_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(export_import_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
