/* BK_TEST_UNIT
 * Graph -> records (mode=min/max) against fixtures/graphs, normalization
 * against fixtures/config/normalize, the parse/marshal round trip, the
 * CacheChains rules (random: skipped, dedup, newest result, loop-free links),
 * the graph loader (bad fixtures, sizes, layers named by reference), and the
 * growth of parse + marshal, counted in steps, for the shapes that were
 * quadratic (shared layers, fan-in, deep layer chains, duplicates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <math.h>

#include "bkcache/chains.h"
#include "bkcache/graph.h"
#include "cachegen.h"
#include "chains_internal.h"

static char *encode(const bk_cache_config *cfg)
{
    bk_buf b = BK_BUF_INIT;
    bk_err err = {0};
    assert_int_equal(bk_config_encode(cfg, &b, &err), BK_OK);
    return bk_buf_steal(&b);
}

static void expect_file(const char *path, const char *got)
{
    size_t len;
    char *want = bk_test_read_file(path, &len);
    if (!want) {
        fail_msg("missing %s", path);
        return; /* not reached: fail_msg does not return */
    }
    if (strlen(got) != len || memcmp(got, want, len) != 0)
        fail_msg("%s differs:\n got %s\nwant %s", path, got, want);
    free(want);
}

static char *export_graph(const bk_graph *g, enum bk_export_mode mode)
{
    bk_err err = {0};
    bk_chains *c = NULL;
    bk_cache_config *cfg = NULL;
    if (bk_chains_from_graph(g, mode, &c, &err) != BK_OK ||
        bk_chains_marshal(c, BK_MARSHAL_ANNOTATIONS, bk_graph_store_has, (void *)g, &cfg, &err) !=
            BK_OK)
        fail_msg("export: %s", err.msg);
    char *s = encode(cfg);
    bk_config_free(cfg);
    bk_chains_free(c);
    return s;
}

static void graphs_export_the_expected_manifests(void **state)
{
    (void)state;
    static const char *const graphs[] = {"linear", "multistage", "diamond", "twolinks", "dropped"};
    for (size_t i = 0; i < sizeof graphs / sizeof graphs[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/graphs/%s.json", BK_FIXTURES_DIR, graphs[i]);
        bk_err err = {0};
        bk_graph *g = NULL;
        if (bk_graph_load(path, &g, &err) != BK_OK)
            fail_msg("%s", err.msg);
        for (int m = 0; m < 2; m++) {
            char *got = export_graph(g, m ? BK_EXPORT_MAX : BK_EXPORT_MIN);
            snprintf(path, sizeof path, "%s/graphs/%s.%s.expected", BK_FIXTURES_DIR, graphs[i],
                     m ? "max" : "min");
            expect_file(path, got);
            /* what BuildKit would import from it, it writes back unchanged */
            bk_cache_config *cfg = NULL, *norm = NULL;
            assert_int_equal(bk_config_parse(got, strlen(got), &cfg, &err), BK_OK);
            if (bk_chains_normalize(cfg, BK_VALIDATE_S3, BK_MARSHAL_ANNOTATIONS, &norm, &err) !=
                BK_OK)
                fail_msg("%s: %s", path, err.msg);
            char *again = encode(norm);
            assert_string_equal(again, got);
            free(again);
            bk_config_free(norm);
            bk_config_free(cfg);
            free(got);
        }
        bk_graph_free(g);
    }
}

static void min_exports_less_than_max(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_graph *g = NULL;
    assert_int_equal(bk_graph_load(BK_FIXTURES_DIR "/graphs/linear.json", &g, &err), BK_OK);
    bk_chains *c = NULL;
    bk_cache_config *min = NULL, *max = NULL, *remote = NULL;
    assert_int_equal(bk_chains_from_graph(g, BK_EXPORT_MIN, &c, &err), BK_OK);
    assert_int_equal(bk_chains_marshal(c, 0, NULL, NULL, &min, &err), BK_OK);
    bk_chains_free(c);
    assert_int_equal(bk_chains_from_graph(g, BK_EXPORT_MAX, &c, &err), BK_OK);
    assert_int_equal(bk_chains_marshal(c, 0, NULL, NULL, &max, &err), BK_OK);
    bk_chains_free(c);
    /* remote-only: nothing in this graph is remote except the root base image */
    assert_int_equal(bk_chains_from_graph(g, BK_EXPORT_REMOTE_ONLY, &c, &err), BK_OK);
    assert_int_equal(bk_chains_marshal(c, 0, NULL, NULL, &remote, &err), BK_OK);
    bk_chains_free(c);
    size_t res_min = 0, res_max = 0, res_remote = 0;
    for (size_t i = 0; i < min->n_records; i++)
        res_min += min->records[i].n_results;
    for (size_t i = 0; i < max->n_records; i++)
        res_max += max->records[i].n_results;
    for (size_t i = 0; i < remote->n_records; i++)
        res_remote += remote->records[i].n_results;
    assert_int_equal(min->n_records, 4); /* every key of the chain is written */
    assert_int_equal(max->n_records, 4);
    assert_int_equal(res_min, 1);
    assert_int_equal(res_max, 3);
    assert_int_equal(res_remote, 0);
    assert_int_equal(remote->n_layers, 0);
    /* without annotations (type=local form) layers carry none */
    assert_null(min->layers[0].annotations);
    bk_config_free(min);
    bk_config_free(max);
    bk_config_free(remote);
    bk_graph_free(g);
}

static void normalize_fixtures(void **state)
{
    (void)state;
    static const char *const cases[] = {"scrambled-linear-max", "scrambled-diamond-max",
                                        "scrambled-twolinks-min", "newest-result-wins",
                                        "chains-become-layers"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/config/normalize/%s.json", BK_FIXTURES_DIR, cases[i]);
        size_t len;
        char *in = bk_test_read_file(path, &len);
        assert_non_null(in);
        bk_err err = {0};
        bk_cache_config *cfg = NULL, *norm = NULL;
        assert_int_equal(bk_config_parse(in, len, &cfg, &err), BK_OK);
        if (bk_chains_normalize(cfg, BK_VALIDATE_S3, BK_MARSHAL_ANNOTATIONS, &norm, &err) != BK_OK)
            fail_msg("%s: %s", cases[i], err.msg);
        char *got = encode(norm);
        snprintf(path, sizeof path, "%s/config/normalize/%s.expected", BK_FIXTURES_DIR, cases[i]);
        expect_file(path, got);
        free(got);
        bk_config_free(norm);
        bk_config_free(cfg);
        free(in);
    }
}

static bk_descriptor desc(const char *digest)
{
    bk_descriptor d = {0};
    d.digest = (char *)digest;
    d.diff_id = (char *)"sha256:diff";
    d.media_type = (char *)"application/vnd.docker.image.rootfs.diff.tar.gzip";
    d.size = 10;
    return d;
}

static bool not_blob_c(void *ctx, const bk_descriptor *d)
{
    (void)ctx;
    return strcmp(d->digest, "sha256:c") != 0;
}

static void chains_add_rules(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_chains *c = bk_chains_new();
    bk_chain_item *root = NULL, *rnd = NULL, *a = NULL, *a2 = NULL, *b = NULL;
    assert_int_equal(bk_chains_add(c, "sha256:root", NULL, 0, NULL, 0, &root, &err), BK_OK);
    assert_non_null(root);
    /* random: keys are never exported */
    assert_int_equal(bk_chains_add(c, "random:abc", NULL, 0, NULL, 0, &rnd, &err), BK_OK);
    assert_null(rnd);
    /* an input without links is an error */
    bk_chain_dep empty = {NULL, 0};
    assert_int_equal(bk_chains_add(c, "sha256:x", &empty, 1, NULL, 0, &a, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "empty dependency"));

    bk_descriptor l1[] = {desc("sha256:a"), desc("sha256:b")};
    bk_descriptor l2[] = {desc("sha256:a"), desc("sha256:b"), desc("sha256:c")};
    bk_time t_old = bk_time_from_unix(1000, 0, 0), t_new = bk_time_from_unix(2000, 0, 60);
    bk_chain_link link = {root, ""};
    bk_chain_dep dep = {&link, 1};
    bk_chain_result r_old = {l2, 3, t_old}, r_new = {l1, 2, t_new};
    assert_int_equal(bk_chains_add(c, "sha256:k1", &dep, 1, &r_old, 1, &a, &err), BK_OK);
    /* the same digest over the same inputs is the same record: results merge */
    assert_int_equal(bk_chains_add(c, "sha256:k1", &dep, 1, &r_new, 1, &a2, &err), BK_OK);
    assert_ptr_equal(a, a2);
    /* a different selector makes it a different record */
    bk_chain_link link_sel = {root, "/sel"};
    bk_chain_dep dep_sel = {&link_sel, 1};
    assert_int_equal(bk_chains_add(c, "sha256:k1", &dep_sel, 1, &r_old, 1, &b, &err), BK_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(bk_chains_count(c), 3);

    bk_cache_config *cfg = NULL;
    assert_int_equal(bk_chains_marshal(c, BK_MARSHAL_ANNOTATIONS, NULL, NULL, &cfg, &err), BK_OK);
    /* layers a, a<-b, a<-b<-c stored once each, sorted by blob */
    assert_int_equal(cfg->n_layers, 3);
    assert_string_equal(cfg->layers[0].blob, "sha256:a");
    assert_int_equal(cfg->layers[0].parent, -1);
    assert_string_equal(cfg->layers[1].blob, "sha256:b");
    assert_int_equal(cfg->layers[1].parent, 0);
    assert_string_equal(cfg->layers[2].blob, "sha256:c");
    assert_int_equal(cfg->layers[2].parent, 1);
    assert_string_equal(cfg->layers[0].annotations->media_type,
                        "application/vnd.oci.image.layer.v1.tar+gzip");
    /* records sorted by digest, then inputs: k1 (no selector) before k1 (/sel) */
    assert_int_equal(cfg->n_records, 3);
    assert_string_equal(cfg->records[0].digest, "sha256:k1");
    assert_string_equal(cfg->records[0].inputs[0].links[0].selector, "");
    assert_int_equal(cfg->records[0].n_results, 1);
    /* newest createdAt wins: the 2-layer result, offset kept */
    assert_int_equal(cfg->records[0].results[0].layer, 1);
    assert_int_equal(cfg->records[0].results[0].created_at.offset_min, 60);
    assert_string_equal(cfg->records[1].inputs[0].links[0].selector, "/sel");
    assert_int_equal(cfg->records[1].results[0].layer, 2);
    assert_string_equal(cfg->records[2].digest, "sha256:root");
    bk_config_free(cfg);

    /* a result whose blob is not available is dropped, the record stays */
    assert_int_equal(bk_chains_marshal(c, 0, not_blob_c, NULL, &cfg, &err), BK_OK);
    assert_int_equal(cfg->n_layers, 2);
    assert_int_equal(cfg->n_records, 3);
    assert_int_equal(cfg->records[1].n_results, 0);
    bk_config_free(cfg);
    bk_chains_free(c);

    char key[96];
    bk_chains_record_key("sha256:abc", 2, key, sizeof key);
    /* sha256("sha256:abc@2") */
    assert_string_equal(key,
                        "sha256:8c8415d1bdc5d178a8157946d9f7d6594c6e9aa136664ad7cb4b43e935e04408");
    bk_chains_record_key("random:abc", 0, key, sizeof key);
    assert_int_equal(strncmp(key, "random:", 7), 0);
}

#define GRAPH_WITH_SIZE(size)                                                                      \
    "{\"vertices\":[{\"id\":\"r\",\"digest\":\"sha256:1\"},{\"id\":\"s\",\"digest\":\"sha256:2\"," \
    "\"inputs\":[[{\"vertex\":\"r\"}]],\"result\":{\"createdAt\":\"2024-05-01T12:00:00Z\","        \
    "\"layers\":[{\"digest\":\"sha256:aa\",\"size\":" size "}]}}],\"targets\":[\"s\"]}"

/* Whether the store has a blob is a question about its file: present with
 * the descriptor's size, of another size, missing, a directory, or not a
 * store path at all; digests of two algorithms asked in turn. */
static void graph_store_has_blobs_by_file(void **state)
{
    (void)state;
    char root[256];
    assert_int_equal(bk_test_mkdtemp(root, sizeof root, "bk-graph-store"), 0);
    static const char *const dirs[] = {"/store", "/store/blobs", "/store/blobs/sha256",
                                       "/store/blobs/sha512", "/store/blobs/sha256/dd"};
    char path[512];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", root, dirs[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    static const struct {
        const char *name, *bytes;
    } files[] = {{"sha256/aa", "abc"}, {"sha512/bb", "abcd"}, {"sha256/ff", "x"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/store/blobs/%s", root, files[i].name);
        assert_int_equal(bk_test_write_file(path, files[i].bytes, strlen(files[i].bytes)), 0);
    }
    char json[1024];
    snprintf(json, sizeof json,
             "{\"store\":\"%s/store\",\"vertices\":[{\"id\":\"r\",\"digest\":\"sha256:1\"}],"
             "\"targets\":[\"r\"]}",
             root);
    bk_err err = {0};
    bk_graph *g = NULL;
    assert_int_equal(bk_graph_parse(json, strlen(json), NULL, &g, &err), BK_OK);
    static const struct {
        const char *digest;
        int64_t size;
        bool has;
    } asks[] = {
        {"sha256:aa", 3, true},  {"sha256:aa", 4, false}, {"sha512:bb", 4, true},
        {"sha256:cc", 1, false}, {"sha256:dd", 0, false}, {"sha512:zz", 1, false},
        {"sha256:ff", 1, true},  {"sha384:aa", 3, false}, {"sha256:../aa", 3, false},
        {"sha256:", 0, false},   {":aa", 3, false},
    };
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        bk_descriptor d = {.digest = (char *)asks[i].digest, .size = asks[i].size};
        if (bk_graph_store_has(g, &d) != asks[i].has)
            fail_msg("%s (size %lld): expected %s", asks[i].digest, (long long)asks[i].size,
                     asks[i].has ? "present" : "absent");
    }
    bk_graph_free(g);
    assert_int_equal(bk_test_rmtree(root), 0);
}

#define DESC_SCAN(hex, size)                                                                       \
    "{\"digest\":\"sha256:" hex "\",\"size\":" #size                                               \
    ",\"mediaType\":\"m\",\"diffID\":\"sha256:d" hex "\"}"

static void write_blob(const char *root, const char *name, const char *bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store/blobs/sha256/%s", root, name);
    assert_int_equal(bk_test_write_file(path, bytes, strlen(bytes)), 0);
}

/* bk_graph_store_scan looks up every blob of the graph, "blobs" entries and
 * layers written out in full alike, once: afterwards bk_graph_store_has
 * answers what the store held then (files changed since are not looked at
 * again), and the config marshaled from the graph is the one it makes
 * without a scan. */
static void graph_store_scan_remembers_every_blob(void **state)
{
    (void)state;
    char root[256];
    assert_int_equal(bk_test_mkdtemp(root, sizeof root, "bk-graph-scan"), 0);
    static const char *const dirs[] = {"/store", "/store/blobs", "/store/blobs/sha256"};
    char path[512];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", root, dirs[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    write_blob(root, "aa", "abc");
    write_blob(root, "ff", "x");
    char json[1536];
    snprintf(
        json, sizeof json,
        "{\"store\":\"%s/store\",\"blobs\":[" DESC_SCAN("aa", 3) "," DESC_SCAN(
            "bb",
            4) "],\"vertices\":[{\"id\":\"r\",\"digest\":\"sha256:1\"},{\"id\":\"s\","
               "\"digest\":\"sha256:2\",\"inputs\":[[{\"vertex\":\"r\"}]],\"result\":{"
               "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[0," DESC_SCAN(
                   "ff",
                   1) "]}},"
                      "{\"id\":\"t\",\"digest\":\"sha256:3\",\"inputs\":[[{\"vertex\":\"r\"}]],"
                      "\"result\":{\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[1]}}],"
                      "\"targets\":[\"s\",\"t\"]}",
        root);
    bk_err err = {0};
    bk_graph *unscanned = NULL, *g = NULL;
    assert_int_equal(bk_graph_parse(json, strlen(json), NULL, &unscanned, &err), BK_OK);
    assert_int_equal(bk_graph_parse(json, strlen(json), NULL, &g, &err), BK_OK);
    char *want = export_graph(unscanned, BK_EXPORT_MAX);
    /* The config made with the scan on a second thread is the same. */
    bk_graph *threaded = NULL;
    bk_cache_config *cfg = NULL;
    assert_int_equal(bk_graph_parse(json, strlen(json), NULL, &threaded, &err), BK_OK);
    assert_int_equal(bk_chains_config_from_graph(threaded, BK_EXPORT_MAX, &cfg, &err), BK_OK);
    char *from_thread = encode(cfg);
    assert_string_equal(from_thread, want);
    free(from_thread);
    bk_config_free(cfg);
    bk_graph_free(threaded);
    bk_graph_store_scan(g);
    /* The store changes after the scan: aa gone, bb there, ff resized. */
    snprintf(path, sizeof path, "%s/store/blobs/sha256/aa", root);
    assert_int_equal(unlink(path), 0);
    write_blob(root, "bb", "abcd");
    write_blob(root, "ff", "xyz");
    static const struct {
        const char *digest;
        int64_t size;
        bool has;
    } asks[] = {{"sha256:aa", 3, true}, {"sha256:bb", 4, false}, {"sha256:ff", 1, true}};
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        bk_descriptor d = {.digest = (char *)asks[i].digest, .size = asks[i].size};
        if (bk_graph_store_has(g, &d) != asks[i].has)
            fail_msg("%s: expected %s as scanned", asks[i].digest,
                     asks[i].has ? "present" : "absent");
    }
    char *got = export_graph(g, BK_EXPORT_MAX);
    assert_string_equal(got, want);
    assert_non_null(strstr(got, "sha256:ff"));
    assert_null(strstr(got, "sha256:bb")); /* t's result dropped: bb was missing */
    free(got);
    free(want);
    bk_graph_free(g);
    bk_graph_free(unscanned);
    /* Nothing to scan without a store or without the loader's index. */
    bk_graph_store_scan(NULL);
    bk_graph bare = {0};
    bk_graph_store_scan(&bare);
    assert_int_equal(bk_test_rmtree(root), 0);
}

/* Ten distinct blobs and ten distinct vertices, for paths with two-digit indexes. */
#define BLOB(d) "{\"digest\":\"sha256:" d "\",\"size\":1}"
#define BLOB10                                                                                     \
    BLOB("a0")                                                                                     \
    "," BLOB("a1") "," BLOB("a2") "," BLOB("a3") "," BLOB("a4") "," BLOB("a5") "," BLOB(           \
        "a6") "," BLOB("a7") "," BLOB("a8") "," BLOB("a9")
#define VERTEX(id) "{\"id\":\"" id "\",\"digest\":\"sha256:" id "\"}"
#define VERTEX10                                                                                   \
    VERTEX("v")                                                                                    \
    "," VERTEX("v1") "," VERTEX("v2") "," VERTEX("v3") "," VERTEX("v4") "," VERTEX(                \
        "v5") "," VERTEX("v6") "," VERTEX("v7") "," VERTEX("v8") "," VERTEX("v9")

static void graph_loader_rejects_bad_fixtures(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{}",
        "{\"vertices\":[],\"targets\":[]}",
        "{\"vertices\":[{\"id\":\"a\",\"digest\":\"sha256:1\"}],\"targets\":[\"b\"]}",
        "{\"vertices\":[{\"id\":\"a\",\"digest\":\"sha256:1\",\"inputs\":[[{\"vertex\":\"z\"}]]}],"
        "\"targets\":[\"a\"]}",
        "{\"vertices\":[{\"id\":\"a\",\"digest\":\"sha256:1\",\"inputs\":[[]]}],\"targets\":[\"a\"]"
        "}",
        "{\"vertices\":[{\"id\":\"a\",\"digest\":\"sha256:1\",\"typo\":1}],\"targets\":[\"a\"]}",
        "{\"vertices\":[{\"id\":\"a\",\"digest\":\"sha256:1\"},{\"id\":\"a\",\"digest\":\"sha256:"
        "2\"}],"
        "\"targets\":[\"a\"]}",
        "{\"vertices\":[{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{\"createdAt\":\"x\","
        "\"layers\":[]}}],\"targets\":[\"a\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bk_err err = {0};
        bk_graph *g = NULL;
        if (bk_graph_parse(bad[i], strlen(bad[i]), NULL, &g, &err) == BK_OK)
            fail_msg("accepted %s", bad[i]);
        assert_null(g);
        assert_true(err.msg[0] != '\0');
    }
    /* sizes: negative, or beyond int64, refused with the JSON path */
    static const struct {
        const char *graph, *msg;
    } sizes[] = {
        {GRAPH_WITH_SIZE("-1"), "vertices[1].result.layers[0].size: -1 is negative"},
        {GRAPH_WITH_SIZE("9223372036854775808"),
         "vertices[1].result.layers[0].size: number 9223372036854775808 is out of range (int64)"},
        {"{\"blobs\":[{\"digest\":\"sha256:aa\",\"size\":-5}],\"vertices\":[],\"targets\":[]}",
         "graph.blobs[0].size: -5 is negative"},
        /* members are named by their place, several digits and nested too */
        {"{\"blobs\":[" BLOB10 ",{\"digest\":\"sha256:ff\",\"size\":-7}],\"vertices\":[],"
         "\"targets\":[]}",
         "graph.blobs[10].size: -7 is negative"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"inputs\":[[{"
         "\"vertex\":\"v\"}],[{\"vertex\":\"v\"},{\"vertex\":\"z\"}]]}],\"targets\":[\"a\"]}",
         "vertices[10].inputs[1][1].vertex: no vertex with that id"},
        /* every place a member is named, deep in a fixture (the path is
         * written out only when an error names it) */
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"inputs\":[[{"
         "\"vertex\":\"v\"}],[{\"vertex\":\"v\",\"typo\":1}]]}],\"targets\":[\"a\"]}",
         "vertices[10].inputs[1][0]: a link is {\"vertex\": id, \"selector\"?}"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"inputs\":[[],[]]}],"
         "\"targets\":[\"a\"]}",
         "vertices[10].inputs[0]: must be a non-empty array of links"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"inputs\":{}}],"
         "\"targets\":[\"a\"]}",
         "vertices[10].inputs: must be an array of arrays"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"v3\",\"digest\":\"sha256:1\"}],"
         "\"targets\":[\"v\"]}",
         "vertices[10]: duplicate id \"v3\""},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\"}],\"targets\":[\"v\"]}",
         "vertices[10]: \"id\" and \"digest\" are required"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"output\":\"x\"}],"
         "\"targets\":[\"v\"]}",
         "vertices[10].output: must be an integer"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"typo\":1}],"
         "\"targets\":[\"v\"]}",
         "vertices[10]: expected an object with id, digest, output, inputs, result"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":{}}}],\"targets\":[\"v\"]}",
         "vertices[10].result.layers: must be an array"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"layers\":[]}}],\"targets\":[\"v\"]}",
         "vertices[10].result.createdAt: missing or not an RFC 3339 time"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"remote\":true,\"x\":1}}],\"targets\":[\"v\"]}",
         "vertices[10].result: result must be an object with remote, createdAt, layers"},
        {"{\"blobs\":[" BLOB10 "],\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":"
         "\"sha256:1\",\"result\":{\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[0,1,2,3,4,"
         "5,6,7,8,9,\"sha256:a7\",12]}}],\"targets\":[\"v\"]}",
         "vertices[10].result.layers[11]: no graph.blobs[12] (have 10 blobs)"},
        {"{\"blobs\":[" BLOB10 "],\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":"
         "\"sha256:1\",\"result\":{\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[0,1,2,3,4,"
         "5,6,7,8,9,\"sha256:a7\",\"sha256:b0\"]}}],\"targets\":[\"v\"]}",
         "vertices[10].result.layers[11]: no blob \"sha256:b0\" in graph.blobs"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[" BLOB10 ",{\"size\":1}]}}],"
         "\"targets\":[\"v\"]}",
         "vertices[10].result.layers[10]: layer descriptor without \"digest\""},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[" BLOB10 ",{\"digest\":\"d\"}]}}],"
         "\"targets\":[\"v\"]}",
         "vertices[10].result.layers[10]: layer descriptor without an integer \"size\""},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[" BLOB10 ",7]}}],"
         "\"targets\":[\"v\"]}",
         "vertices[10].result.layers[10]: no graph.blobs[7] (have 0 blobs)"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[" BLOB10 ",[]]}}],"
         "\"targets\":[\"v\"]}",
         "vertices[10].result.layers[10]: a layer descriptor must be an object"},
        {"{\"vertices\":[" VERTEX10 ",{\"id\":\"a\",\"digest\":\"sha256:1\",\"result\":{"
         "\"createdAt\":\"2024-05-01T12:00:00Z\",\"layers\":[" BLOB10 ",{\"digest\":\"d\","
         "\"size\":1,\"mediatype\":\"m\"}]}}],\"targets\":[\"v\"]}",
         "vertices[10].result.layers[10]: unknown key \"mediatype\""},
        {"{\"blobs\":[" BLOB10 ",{\"digest\":\"sha256:aa\",\"size\":1,\"createdAt\":\"x\"}],"
         "\"vertices\":[],\"targets\":[]}",
         "graph.blobs[10].createdAt: not an RFC 3339 time"},
        {"{\"blobs\":[" BLOB10 "," BLOB("a4") "],\"vertices\":[],\"targets\":[]}",
         "graph.blobs[10]: blob sha256:a4 is already graph.blobs[4]"},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        bk_err err = {0};
        bk_graph *g = NULL;
        assert_int_equal(bk_graph_parse(sizes[i].graph, strlen(sizes[i].graph), NULL, &g, &err),
                         BK_EINVAL);
        assert_null(g);
        assert_string_equal(err.msg, sizes[i].msg);
    }
    bk_err err = {0};
    bk_graph *g = NULL;
    assert_int_equal(bk_graph_load(BK_FIXTURES_DIR "/graphs/nope.json", &g, &err), BK_ENOTFOUND);
    char *p = bk_store_blob_path("/s", "sha256:abc");
    assert_string_equal(p, "/s/blobs/sha256/abc");
    free(p);
    assert_null(bk_store_blob_path("/s", "sha256:../x"));
    assert_null(bk_store_blob_path("/s", "nocolon"));
}

/* A result's layers named by digest or by index into "blobs" are the
 * descriptors written out: the same manifest. */
static void graph_layers_by_reference(void **state)
{
    (void)state;
#define DESC_A "{\"digest\":\"sha256:aa\",\"size\":3,\"mediaType\":\"m\",\"diffID\":\"sha256:da\"}"
#define DESC_B                                                                                     \
    "{\"digest\":\"sha256:bb\",\"size\":4,\"mediaType\":\"m\",\"diffID\":\"sha256:db\","           \
    "\"createdAt\":\"2024-01-01T00:00:00Z\"}"
#define GRAPH(blobs, layers)                                                                       \
    "{" blobs "\"vertices\":[{\"id\":\"r\",\"digest\":\"sha256:1\"},{\"id\":\"s\",\"digest\":"     \
    "\"sha256:2\",\"inputs\":[[{\"vertex\":\"r\"}]],\"result\":{\"createdAt\":"                    \
    "\"2024-05-01T12:00:00Z\",\"layers\":[" layers "]}}],\"targets\":[\"s\"]}"
    static const char *const forms[] = {
        GRAPH("", DESC_A "," DESC_B),
        GRAPH("\"blobs\":[" DESC_B "," DESC_A "],", "\"sha256:aa\",\"sha256:bb\""),
        GRAPH("\"blobs\":[" DESC_B "," DESC_A "],", "1,0"),
        GRAPH("\"blobs\":[" DESC_B "," DESC_A "],", DESC_A ",0"),
    };
    char *want = NULL;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        bk_err err = {0};
        bk_graph *g = NULL;
        if (bk_graph_parse(forms[i], strlen(forms[i]), NULL, &g, &err) != BK_OK)
            fail_msg("form %zu: %s", i, err.msg);
        char *got = export_graph(g, BK_EXPORT_MAX);
        assert_non_null(strstr(got, "\"size\":4"));
        if (!want)
            want = got;
        else {
            assert_string_equal(got, want);
            free(got);
        }
        bk_graph_free(g);
    }
    free(want);
    /* Layers naming one entry share its strings (one copy per graph, released
     * once); a layer written out in full keeps its own. */
    static const char shared[] =
        GRAPH("\"blobs\":[" DESC_B "," DESC_A "],", "1,\"sha256:aa\"," DESC_A ",0,\"sha256:bb\"");
    bk_err serr = {0};
    bk_graph *sg = NULL;
    if (bk_graph_parse(shared, strlen(shared), NULL, &sg, &serr) != BK_OK)
        fail_msg("shared: %s", serr.msg);
    const bk_graph_vertex *v = &sg->vertices[1];
    assert_int_equal(v->n_layers, 5);
    assert_ptr_equal(v->layers[0].digest, v->layers[1].digest);
    assert_ptr_equal(v->layers[0].diff_id, v->layers[1].diff_id);
    assert_ptr_not_equal(v->layers[2].digest, v->layers[0].digest);
    assert_string_equal(v->layers[2].digest, v->layers[0].digest);
    assert_ptr_equal(v->layers[3].media_type, v->layers[4].media_type);
    assert_string_equal(v->layers[4].digest, "sha256:bb");
    assert_true(v->layers[4].has_created_at);
    bk_graph_free(sg);
    static const char *const bad[] = {
        GRAPH("\"blobs\":[" DESC_A "],", "0,\"sha256:bb\""), /* shared, then not in blobs */
        GRAPH("\"blobs\":[" DESC_A "],", "\"sha256:bb\""),   /* not in blobs */
        GRAPH("\"blobs\":[" DESC_A "],", "1"),               /* index out of range */
        GRAPH("\"blobs\":[" DESC_A "],", "-1"),
        GRAPH("\"blobs\":[" DESC_A "," DESC_A "],", "0"), /* a digest twice */
        GRAPH("\"blobs\":{},", "0"),                      /* not an array */
        GRAPH("\"blobs\":[\"sha256:aa\"],", "0"),         /* not a descriptor */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bk_err err = {0};
        bk_graph *g = NULL;
        if (bk_graph_parse(bad[i], strlen(bad[i]), NULL, &g, &err) == BK_OK)
            fail_msg("accepted %s", bad[i]);
        assert_null(g);
        assert_true(strstr(err.msg, "blobs") != NULL);
    }
#undef GRAPH
#undef DESC_A
#undef DESC_B
}

/* ---- scaling: parse + marshal must grow like n log n, counted, not timed ---- */

#define LAYER_JSON(blob, parent)                                                                   \
    "{\"blob\":\"sha256:%064x\",\"parent\":%ld,\"annotations\":{\"mediaType\":"                    \
    "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"diffID\":\"sha256:%064x\","                 \
    "\"size\":10,\"createdAt\":\"2024-05-01T12:00:00Z\"}}",                                        \
        (unsigned)(blob), (long)(parent), (unsigned)(blob)

typedef void (*shape_fn)(bk_buf *b, size_t n);

static void comma(bk_buf *b, size_t i)
{
    if (i)
        bk_buf_putc(b, ',');
}

/* n records sharing one layer: each links the root and has the layer as result. */
static void shape_shared_layer(bk_buf *b, size_t n)
{
    bk_buf_printf(b, "{\"layers\":[" LAYER_JSON(1, -1));
    bk_buf_printf(b, "],\"records\":[{\"digest\":\"sha256:%064x\"}", 0u);
    for (size_t i = 1; i < n; i++)
        bk_buf_printf(b,
                      ",{\"layers\":[{\"layer\":0,\"createdAt\":\"2024-05-01T12:00:00Z\"}],"
                      "\"digest\":\"sha256:%064zx\",\"inputs\":[[{\"link\":0}]]}",
                      i);
    bk_buf_puts(b, "]}");
}

/* One record whose one input has n links to one source, by n selectors. */
static void shape_fan_in_selectors(bk_buf *b, size_t n)
{
    bk_buf_printf(b, "{\"layers\":[" LAYER_JSON(1, -1));
    bk_buf_printf(b,
                  "],\"records\":[{\"digest\":\"sha256:%064x\"},{\"layers\":[{\"layer\":0,"
                  "\"createdAt\":\"2024-05-01T12:00:00Z\"}],\"digest\":\"sha256:%064x\","
                  "\"inputs\":[[",
                  0u, 1u);
    for (size_t i = 0; i < n; i++) {
        comma(b, i);
        bk_buf_printf(b, "{\"selector\":\"/s%zu\",\"link\":0}", i);
    }
    bk_buf_puts(b, "]]}]}");
}

/* One record whose one input links n different roots. */
static void shape_fan_in_sources(bk_buf *b, size_t n)
{
    bk_buf_printf(b, "{\"layers\":[" LAYER_JSON(1, -1));
    bk_buf_puts(b, "],\"records\":[");
    for (size_t i = 0; i < n; i++) {
        comma(b, i);
        bk_buf_printf(b, "{\"digest\":\"sha256:%064zx\"}", i + 1);
    }
    bk_buf_printf(b,
                  ",{\"layers\":[{\"layer\":0,\"createdAt\":\"2024-05-01T12:00:00Z\"}],"
                  "\"digest\":\"sha256:%064x\",\"inputs\":[[",
                  0u);
    for (size_t i = 0; i < n; i++) {
        comma(b, i);
        bk_buf_printf(b, "{\"link\":%zu}", i);
    }
    bk_buf_puts(b, "]]}]}");
}

/* A chain of n records, record i adding layer i on top of layer i-1: every
 * result is a chain as deep as its record. */
static void shape_deep_chain(bk_buf *b, size_t n)
{
    bk_buf_puts(b, "{\"layers\":[");
    for (size_t i = 0; i < n; i++) {
        comma(b, i);
        bk_buf_printf(b, LAYER_JSON(i + 1, (long)i - 1));
    }
    bk_buf_printf(b, "],\"records\":[{\"digest\":\"sha256:%064x\"}", 0u);
    for (size_t i = 1; i <= n; i++)
        bk_buf_printf(b,
                      ",{\"layers\":[{\"layer\":%zu,\"createdAt\":\"2024-05-01T12:00:00Z\"}],"
                      "\"digest\":\"sha256:%064zx\",\"inputs\":[[{\"link\":%zu}]]}",
                      i - 1, i, i - 1);
    bk_buf_puts(b, "]}");
}

/* n copies of one record (one input, the root), each with its own result
 * time: they merge into one record with n results. */
static void shape_duplicates(bk_buf *b, size_t n)
{
    bk_buf_printf(b, "{\"layers\":[" LAYER_JSON(1, -1));
    bk_buf_printf(b, "],\"records\":[{\"digest\":\"sha256:%064x\"}", 0u);
    for (size_t i = 1; i < n; i++)
        bk_buf_printf(b,
                      ",{\"layers\":[{\"layer\":0,\"createdAt\":\"2024-05-01T12:00:00.%09zuZ\"}],"
                      "\"digest\":\"sha256:%064x\",\"inputs\":[[{\"link\":0}]]}",
                      i, 1u);
    bk_buf_puts(b, "]}");
}

/* n records of one digest on the same first input and each its own second
 * input: n distinct records that all share a link. */
static void shape_same_digest_variants(bk_buf *b, size_t n)
{
    bk_buf_printf(b, "{\"layers\":[" LAYER_JSON(1, -1));
    bk_buf_puts(b, "],\"records\":[");
    for (size_t i = 0; i <= n; i++) {
        comma(b, i);
        bk_buf_printf(b, "{\"digest\":\"sha256:%064zx\"}", i + 1);
    }
    for (size_t i = 1; i <= n; i++)
        bk_buf_printf(b,
                      ",{\"layers\":[{\"layer\":0,\"createdAt\":\"2024-05-01T12:00:00Z\"}],"
                      "\"digest\":\"sha256:%064x\",\"inputs\":[[{\"link\":0}],[{\"link\":%zu}]]}",
                      0u, i);
    bk_buf_puts(b, "]}");
}

/* Operations counted by the chains object to parse and marshal shape(n). */
static uint64_t parse_marshal_ops(shape_fn shape, size_t n)
{
    bk_buf b = BK_BUF_INIT;
    shape(&b, n);
    bk_err err = {0};
    bk_cache_config *cfg = NULL, *out = NULL;
    bk_chains *c = NULL;
    if (bk_config_parse(b.data, b.len, &cfg, &err) != BK_OK ||
        bk_chains_parse(cfg, NULL, 0, BK_VALIDATE_S3, &c, &err) != BK_OK ||
        bk_chains_marshal(c, BK_MARSHAL_ANNOTATIONS, NULL, NULL, &out, &err) != BK_OK)
        fail_msg("shape of %zu: %s", n, err.msg);
    uint64_t ops = bk__chains_ops(c);
    bk_config_free(out);
    bk_chains_free(c);
    bk_config_free(cfg);
    bk_buf_clear(&b);
    return ops;
}

/* Ten times the input may cost at most 10 * log(10n) / log(n) times the
 * operations: n log n growth. Quadratic work grows 100 times. */
static void parse_and_marshal_grow_like_n_log_n(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        shape_fn fn;
    } shapes[] = {
        {"records sharing one layer", shape_shared_layer},
        {"fan-in by selectors", shape_fan_in_selectors},
        {"fan-in from many sources", shape_fan_in_sources},
        {"deep layer chain", shape_deep_chain},
        {"duplicate records", shape_duplicates},
        {"variants of one digest", shape_same_digest_variants},
    };
    const size_t n = 400;
    const char *worst = NULL;
    double worst_ratio = 0, bound = 10.0 * log2(10.0 * (double)n) / log2((double)n);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        uint64_t small = parse_marshal_ops(shapes[i].fn, n);
        uint64_t big = parse_marshal_ops(shapes[i].fn, 10 * n);
        double ratio = (double)big / (double)(small ? small : 1);
        print_message("%-28s %zu: %llu ops, %zu: %llu ops (x%.1f, bound x%.1f)\n", shapes[i].name,
                      n, (unsigned long long)small, 10 * n, (unsigned long long)big, ratio, bound);
        assert_true(small > 0);
        if (ratio > bound && ratio > worst_ratio) {
            worst = shapes[i].name;
            worst_ratio = ratio;
        }
    }
    if (worst)
        fail_msg("%s: %.1f times the operations for 10 times the input (n log n allows %.1f)",
                 worst, worst_ratio, bound);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graphs_export_the_expected_manifests),
        cmocka_unit_test(min_exports_less_than_max),
        cmocka_unit_test(normalize_fixtures),
        cmocka_unit_test(chains_add_rules),
        cmocka_unit_test(graph_loader_rejects_bad_fixtures),
        cmocka_unit_test(graph_layers_by_reference),
        cmocka_unit_test(graph_store_has_blobs_by_file),
        cmocka_unit_test(graph_store_scan_remembers_every_blob),
        cmocka_unit_test(parse_and_marshal_grow_like_n_log_n),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
