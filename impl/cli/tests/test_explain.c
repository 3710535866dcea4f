/* bkcache explain end to end: a bucket written by `bkcache export` (two names,
 * mode=max) against an in-process mock on 127.0.0.1:0, explained in every
 * format; a blob deleted and a stray one added show up as missing and
 * unreferenced; --diff between live caches and files with its exit statuses;
 * svg/png through Graphviz, and the message when `dot` is not installed;
 * every graph fixture in every format; usage errors. */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inproc.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define BUCKET "explain-e2e"
#define AK "AKIDEXPLAINTEST"
#define SK "explain-test-secret"
#define GRAPH (BK_FIXTURES_DIR "/graphs/multistage.json")

typedef struct fx {
    ms3_server *mock;
    char attrs[1024];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->mock = bk_inproc_mock_start(BUCKET, AK, SK, NULL, f->attrs, sizeof f->attrs);
    if (f->mock == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ms3_server_stop(f->mock);
    free(f);
    return 0;
}

static void run_env(const char *const argv[], const char *const env[], int want_exit,
                    bk_proc_result *res)
{
    assert_int_equal(bk_proc_run(argv, env, NULL, 0, 60, res), 0);
    assert_false(res->timed_out);
    if (res->exit_code != want_exit)
        fail_msg("%s %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", argv[1],
                 argv[2] ? argv[2] : "", res->exit_code, want_exit, res->out, res->err);
}

static void run(const char *const argv[], int want_exit, bk_proc_result *res)
{
    run_env(argv, NULL, want_exit, res);
}

static void export_graph(fx *f, const char *extra)
{
    char attrs[1200];
    snprintf(attrs, sizeof attrs, "%s%s", f->attrs, extra);
    const char *argv[] = {BKCACHE, "export",     "--graph", GRAPH, "--cache-to",
                          attrs,   "--progress", "quiet",   NULL};
    bk_proc_result res;
    run(argv, 0, &res);
    bk_proc_result_clear(&res);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void bucket_in_every_format(void **state)
{
    fx *f = *state;
    ms3_server_reset(f->mock);
    export_graph(f, ",mode=max,name=a;b");
    bk_proc_result res;

    const char *text[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--graph", GRAPH, NULL};
    run(text, 0, &res);
    const char *t = res.out;
    assert_non_null(strstr(t, "├── manifests/ (2)"));
    assert_non_null(strstr(t, "identical to a"));
    assert_non_null(strstr(t, "└── blobs/ (5, 612 B)"));
    assert_int_equal(count_of(t, "used by a, b"), 5);
    assert_non_null(strstr(t, "[1] sha256:3cf08ee77e42  copy"));
    assert_non_null(strstr(t, "selector \"/out/app\" ← [0] sha256:2321bb4a4323  build"));
    assert_int_equal(count_of(t, "result (createdAt"), 2);
    assert_non_null(strstr(t, "referenced blobs missing from the bucket: 0"));
    assert_non_null(strstr(t, "blobs referenced by no manifest: 0"));
    assert_non_null(strstr(t, "<1m")); /* ages */
    bk_proc_result_clear(&res);

    const char *js[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--format", "json", NULL};
    run(js, 0, &res);
    json_t *root = json_loads(res.out, 0, NULL);
    assert_non_null(root);
    json_t *ms = json_object_get(root, "manifests");
    assert_int_equal(json_array_size(ms), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 1), "sameAs")), "a");
    assert_int_equal(json_array_size(json_object_get(json_array_get(ms, 0), "records")), 4);
    json_t *blobs = json_object_get(root, "blobs");
    assert_int_equal(json_array_size(blobs), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *b = json_array_get(blobs, i);
        assert_true(json_is_true(json_object_get(b, "present")));
        assert_int_equal(json_array_size(json_object_get(b, "referencedBy")), 2);
        /* the key is the blobs prefix plus the digest, colon included */
        char want[128];
        snprintf(want, sizeof want, "blobs/%s", json_string_value(json_object_get(b, "digest")));
        assert_string_equal(json_string_value(json_object_get(b, "key")), want);
    }
    assert_int_equal(json_array_size(json_object_get(root, "missing")), 0);
    assert_int_equal(json_array_size(json_object_get(root, "unreferenced")), 0);
    json_decref(root);
    bk_proc_result_clear(&res);

    const char *dot[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--format", "dot", NULL};
    run(dot, 0, &res);
    assert_non_null(strstr(res.out, "digraph bkcache {"));
    assert_int_equal(count_of(res.out, "subgraph cluster_m"), 1); /* b is a's twin */
    assert_non_null(strstr(res.out, "manifests/a</B> = manifests/b"));
    assert_non_null(strstr(res.out, "[label=\"in 1\\n/out/app\"]"));
    bk_proc_result_clear(&res);
}

static void missing_and_unreferenced_blobs(void **state)
{
    fx *f = *state;
    ms3_server_reset(f->mock);
    export_graph(f, "");
    bk_err err;
    const char *gone =
        "blobs/sha256:15f0c743beb0548e193149c58d38a6ce8df4faa3363ac9147dd43835054dc6e9";
    assert_int_equal(ms3_server_delete_object(f->mock, BUCKET, gone, &err), 0);
    const char *stray_key =
        "blobs/sha256:ef875a1705a5fdac206be996f4dc1f726ea6b68861eb741c37def7277f179e37";
    assert_int_equal(ms3_server_put_object(f->mock, BUCKET, stray_key, "junk", 4, NULL, &err), 0);
    assert_int_equal(ms3_server_put_object(f->mock, BUCKET, "blobs/notes.txt", "x", 1, NULL, &err),
                     0);
    /* aged: the text shows the age in days */
    assert_true(ms3_server_age_objects(f->mock, BUCKET, stray_key, 3 * 86400 + 10) == 1);

    bk_proc_result res;
    const char *text[] = {BKCACHE, "explain", "--cache-from", f->attrs, NULL};
    run(text, 0, &res);
    const char *t = res.out;
    assert_non_null(strstr(t, "referenced blobs missing from the bucket: 1\n"));
    assert_non_null(strstr(t, "  sha256:15f0c743beb0  used by buildkit\n"));
    assert_non_null(strstr(t, "  MISSING"));
    assert_non_null(strstr(t, "blobs referenced by no manifest: 1 (4 B)\n"));
    assert_non_null(strstr(t, "  sha256:ef875a1705a5         4 B  age 3d\n"));
    assert_non_null(strstr(t, "other objects under the prefixes: 1\n  blobs/notes.txt"));
    bk_proc_result_clear(&res);

    const char *js[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--format", "json", NULL};
    run(js, 0, &res);
    json_t *root = json_loads(res.out, 0, NULL);
    assert_non_null(root);
    json_t *missing = json_object_get(root, "missing"),
           *unref = json_object_get(root, "unreferenced");
    assert_int_equal(json_array_size(missing), 1);
    assert_string_equal(json_string_value(json_array_get(missing, 0)), gone + strlen("blobs/"));
    assert_int_equal(json_array_size(unref), 1);
    assert_string_equal(json_string_value(json_array_get(unref, 0)), stray_key + strlen("blobs/"));
    assert_int_equal(json_array_size(json_object_get(root, "otherObjects")), 1);
    json_decref(root);
    bk_proc_result_clear(&res);

    const char *dot[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--format", "dot", NULL};
    run(dot, 0, &res);
    assert_int_equal(count_of(res.out, "<B>MISSING</B>"), 1);
    assert_non_null(strstr(res.out, "blobs referenced by no manifest"));
    bk_proc_result_clear(&res);
}

static void diff_live_caches_and_files(void **state)
{
    fx *f = *state;
    ms3_server_reset(f->mock);
    export_graph(f, ",name=min");
    export_graph(f, ",mode=max,name=max");
    char a[1200], b[1200], none[1200];
    snprintf(a, sizeof a, "%s,name=min", f->attrs);
    snprintf(b, sizeof b, "%s,name=max", f->attrs);
    snprintf(none, sizeof none, "%s,name=nothing-here", f->attrs);
    bk_proc_result res;

    const char *d1[] = {BKCACHE, "explain", "--diff", a, b, "--graph", GRAPH, NULL};
    run(d1, 1, &res);
    assert_non_null(strstr(res.out, "build: result only in B (2 layers)"));
    assert_non_null(strstr(res.out, "blobs only in B (2, 247 B):"));
    bk_proc_result_clear(&res);

    /* the live max manifest equals the fixture's expected bytes */
    const char *d2[] = {
        BKCACHE, "explain", "--diff", b, (BK_FIXTURES_DIR "/graphs/multistage.max.expected"), NULL};
    run(d2, 0, &res);
    assert_non_null(strstr(res.out, "same records"));
    bk_proc_result_clear(&res);

    /* a graph fixture on one side: what an export would write */
    const char *d3[] = {BKCACHE, "explain", "--diff", a, GRAPH, "--format", "json", NULL};
    run(d3, 0, &res);
    json_t *root = json_loads(res.out, 0, NULL);
    assert_non_null(root);
    assert_true(json_is_false(json_object_get(root, "differs")));
    json_decref(root);
    bk_proc_result_clear(&res);

    /* no manifest under that name: an empty cache, everything is only in B */
    const char *d4[] = {BKCACHE, "explain", "--diff", none, b, NULL};
    run(d4, 1, &res);
    assert_non_null(strstr(res.out, "no manifest"));
    assert_non_null(strstr(res.out, "records only in B (4):"));
    bk_proc_result_clear(&res);

    const char *d5[] = {BKCACHE, "explain", "--diff", a, "--format", "dot", b, NULL};
    run(d5, 2, &res);
    bk_proc_result_clear(&res);
}

static void graphviz_formats(void **state)
{
    fx *f = *state;
    ms3_server_reset(f->mock);
    export_graph(f, "");
    bk_proc_result res;
    /* graphviz is a test dependency (tools/setup --test installs it) */
    const char *which[] = {"dot", "-V", NULL};
    run(which, 0, &res);
    bk_proc_result_clear(&res);

    const char *svg[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--format", "svg", NULL};
    run(svg, 0, &res);
    assert_non_null(strstr(res.out, "<svg"));
    assert_non_null(strstr(res.out, "manifests/buildkit"));
    assert_non_null(strstr(res.out, "sha256:3cf08ee77e42"));
    bk_proc_result_clear(&res);

    char dir[512], png[600];
    assert_int_equal(bk_tmpdir(dir, sizeof dir), 0);
    snprintf(png, sizeof png, "%s/cache.png", dir);
    const char *p[] = {BKCACHE, "explain", "--cache-from", f->attrs, "--format", "png", "-o",
                       png,     NULL};
    run(p, 0, &res);
    bk_proc_result_clear(&res);
    FILE *fp = fopen(png, "rb");
    assert_non_null(fp);
    unsigned char magic[8] = {0};
    assert_int_equal(fread(magic, 1, 8, fp), 8);
    fclose(fp);
    assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
    bk_rmtree(dir);

    /* without dot on PATH: a clear message, exit 2, nothing on stdout */
    const char *env[] = {"PATH=/nonexistent-bkcache-test", NULL};
    run_env(svg, env, 2, &res);
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.err, "needs Graphviz's `dot` program"));
    assert_non_null(strstr(res.err, "apt-get install graphviz"));
    bk_proc_result_clear(&res);
}

static void every_graph_fixture_in_every_format(void **state)
{
    (void)state;
    static const char *const graphs[] = {"linear", "multistage", "diamond", "twolinks", "dropped"};
    static const char *const formats[] = {"text", "dot", "json", "svg"};
    for (size_t g = 0; g < sizeof graphs / sizeof graphs[0]; g++)
        for (int max = 0; max < 2; max++)
            for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
                /* pictures of min exports are covered by impl.explain's dot checks */
                if (!max && (strcmp(formats[k], "dot") == 0 || strcmp(formats[k], "svg") == 0))
                    continue;
                char graph[512], expected[512];
                snprintf(graph, sizeof graph, "%s/graphs/%s.json", BK_FIXTURES_DIR, graphs[g]);
                snprintf(expected, sizeof expected, "%s/graphs/%s.%s.expected", BK_FIXTURES_DIR,
                         graphs[g], max ? "max" : "min");
                const char *by_graph[] = {
                    BKCACHE,    "explain",  graph, "--mode", max ? "max" : "min",
                    "--format", formats[k], NULL};
                const char *by_file[] = {BKCACHE, "explain",  expected,   "--graph",
                                         graph,   "--format", formats[k], NULL};
                bk_proc_result r1, r2 = {0};
                run(by_graph, 0, &r1);
                assert_true(strlen(r1.out) > 100);
                if (strcmp(formats[k], "text") == 0) {
                    run(by_file, 0, &r2);
                    /* the same records and results, whichever way it was read */
                    const char *a = strstr(r1.out, "records ("), *b = strstr(r2.out, "records (");
                    assert_non_null(a);
                    assert_non_null(b);
                    const char *eb = strstr(b, "\n\nBlobs");
                    assert_non_null(eb);
                    assert_memory_equal(a, b, (size_t)(eb - b));
                }
                bk_proc_result_clear(&r1);
                bk_proc_result_clear(&r2);
            }
    /* the type=local fixtures too */
    static const char *const local[] = {"oci-index", "docker-list", "image-manifest"};
    for (size_t i = 0; i < 3; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/local/%s", BK_FIXTURES_DIR, local[i]);
        const char *argv[] = {BKCACHE, "explain", dir, "--no-ages", NULL};
        bk_proc_result r;
        run(argv, 0, &r);
        assert_non_null(strstr(r.out, "referenced blobs missing from the store: 0"));
        assert_non_null(strstr(r.out, "blobs referenced by no manifest: 0"));
        bk_proc_result_clear(&r);
    }
}

static void usage_errors(void **state)
{
    fx *f = *state;
    bk_proc_result res;
    const char *none[] = {BKCACHE, "explain", NULL};
    run(none, 2, &res);
    bk_proc_result_clear(&res);
    const char *both[] = {BKCACHE, "explain", "--cache-from", f->attrs, GRAPH, NULL};
    run(both, 2, &res);
    bk_proc_result_clear(&res);
    const char *fmt[] = {BKCACHE, "explain", GRAPH, "--format", "pdf", NULL};
    run(fmt, 2, &res);
    assert_non_null(strstr(res.err, "--format must be"));
    bk_proc_result_clear(&res);
    const char *missing[] = {BKCACHE, "explain", BK_FIXTURES_DIR "/no-such-file.json", NULL};
    run(missing, 2, &res);
    bk_proc_result_clear(&res);
    const char *help[] = {BKCACHE, "explain", "--help", NULL};
    run(help, 0, &res);
    assert_non_null(strstr(res.out, "--diff A B"));
    bk_proc_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_in_every_format),
        cmocka_unit_test(missing_and_unreferenced_blobs),
        cmocka_unit_test(diff_live_caches_and_files),
        cmocka_unit_test(graphviz_formats),
        cmocka_unit_test(every_graph_fixture_in_every_format),
        cmocka_unit_test(usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
