/* BK_TEST_UNIT
 * bkcache explain, the model and its renderers without any server: every
 * graph fixture explained in both modes must carry exactly the manifest the
 * exporter writes (the .expected files), and render as text, dot and JSON
 * that state the same facts; manifests that fail validation still render;
 * a layer digest import refuses makes the manifest invalid, with import's
 * message;
 * a type=local directory with a blob removed and a stray blob added shows both
 * call-outs; the diff of min and max names what max adds. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bkcache/explain.h"
#include "cachegen.h"

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static const char *const graphs[] = {"linear", "multistage", "diamond", "twolinks", "dropped"};

/* Checks the three renderings of e against its primary config. */
static void check_renderings(const bk_explain *e)
{
    const bk_explain_manifest *m = bk_explain_primary(e);
    assert_non_null(m);
    const bk_cache_config *cfg = m->config;
    bk_err err;
    bk_buf text = BK_BUF_INIT, dot = BK_BUF_INIT, js = BK_BUF_INIT;
    bk_explain_render_opts o = {0};
    assert_int_equal(bk_explain_text(e, &o, &text, &err), BK_OK);
    assert_int_equal(bk_explain_dot(e, &o, &dot, &err), BK_OK);
    assert_int_equal(bk_explain_json(e, &js, &err), BK_OK);

    size_t with_result = 0, links = 0, selectors = 0;
    for (size_t i = 0; i < cfg->n_records; i++) {
        const bk_cache_record *r = &cfg->records[i];
        char shortd[96];
        bk_explain_short_digest(r->digest, 0, shortd, sizeof shortd);
        assert_true(strstr(bk_buf_str(&text), shortd) != NULL);
        with_result += r->n_results > 0;
        for (size_t k = 0; k < r->n_inputs; k++)
            for (size_t l = 0; l < r->inputs[k].n_links; l++) {
                links++;
                if (r->inputs[k].links[l].selector && *r->inputs[k].links[l].selector) {
                    selectors++;
                    char want[256];
                    snprintf(want, sizeof want, "selector \"%s\"", r->inputs[k].links[l].selector);
                    assert_true(strstr(bk_buf_str(&text), want) != NULL);
                }
            }
    }
    /* text: one result block per record with a result, every link once */
    assert_int_equal(count_of(bk_buf_str(&text), "result (createdAt"), with_result);
    assert_true(count_of(bk_buf_str(&text), " input ") >= links);
    /* dot: a box per record, an edge per link, a dashed edge per result */
    assert_non_null(strstr(bk_buf_str(&dot), "digraph bkcache {"));
    assert_int_equal(count_of(bk_buf_str(&dot), "subgraph cluster_m"), 1);
    assert_int_equal(count_of(bk_buf_str(&dot), "[fillcolor="), cfg->n_records);
    assert_int_equal(count_of(bk_buf_str(&dot), "[label=\"in "), links);
    assert_int_equal(count_of(bk_buf_str(&dot), "label=\"result\""), with_result);
    assert_int_equal(count_of(bk_buf_str(&dot), "\\n/"), selectors);
    /* json: the same counts, and every layer's facts */
    json_error_t jerr;
    json_t *root = json_loads(bk_buf_str(&js), 0, &jerr);
    assert_non_null(root);
    json_t *jm = json_array_get(json_object_get(root, "manifests"), 0);
    json_t *recs = json_object_get(jm, "records"), *layers = json_object_get(jm, "layers");
    assert_int_equal(json_array_size(recs), cfg->n_records);
    assert_int_equal(json_array_size(layers), cfg->n_layers);
    for (size_t i = 0; i < cfg->n_layers; i++) {
        json_t *l = json_array_get(layers, i);
        assert_string_equal(json_string_value(json_object_get(l, "blob")), cfg->layers[i].blob);
        assert_int_equal(json_integer_value(json_object_get(l, "parent")), cfg->layers[i].parent);
        assert_string_equal(json_string_value(json_object_get(l, "diffID")),
                            cfg->layers[i].annotations->diff_id);
        assert_int_equal(json_integer_value(json_object_get(l, "size")),
                         cfg->layers[i].annotations->size);
    }
    for (size_t i = 0; i < cfg->n_records; i++) {
        json_t *r = json_array_get(recs, i);
        assert_string_equal(json_string_value(json_object_get(r, "digest")),
                            cfg->records[i].digest);
        json_t *results = json_object_get(r, "results");
        assert_int_equal(json_array_size(results), cfg->records[i].n_results);
        if (cfg->records[i].n_results > 0) {
            /* the chain ends at the result's top layer and starts at a base */
            json_t *chain = json_object_get(json_array_get(results, 0), "chain");
            size_t n = json_array_size(chain);
            assert_true(n > 0);
            assert_int_equal(json_integer_value(json_array_get(chain, n - 1)),
                             cfg->records[i].results[0].layer);
            int64_t base = json_integer_value(json_array_get(chain, 0));
            assert_int_equal(cfg->layers[base].parent, -1);
        }
    }
    json_decref(root);
    bk_buf_clear(&text);
    bk_buf_clear(&dot);
    bk_buf_clear(&js);
}

static void graph_fixtures_carry_the_exported_manifest(void **state)
{
    (void)state;
    for (size_t g = 0; g < sizeof graphs / sizeof graphs[0]; g++) {
        for (int max = 0; max < 2; max++) {
            char path[512], expected[512];
            snprintf(path, sizeof path, "%s/graphs/%s.json", BK_FIXTURES_DIR, graphs[g]);
            snprintf(expected, sizeof expected, "%s/graphs/%s.%s.expected", BK_FIXTURES_DIR,
                     graphs[g], max ? "max" : "min");
            bk_explain *e = NULL;
            bk_err err;
            assert_int_equal(bk_explain_graph(path, max ? BK_EXPORT_MAX : BK_EXPORT_MIN, &e, &err),
                             BK_OK);
            assert_int_equal(e->kind, BK_EXPLAIN_GRAPH);
            assert_int_equal(e->n_manifests, 1);
            size_t len;
            char *want = bk_test_read_file(expected, &len);
            assert_non_null(want);
            bk_buf enc = BK_BUF_INIT;
            assert_int_equal(bk_config_encode(e->manifests[0].config, &enc, &err), BK_OK);
            assert_string_equal(bk_buf_str(&enc), want);
            assert_int_equal(e->manifests[0].obj.size, len);
            /* every referenced blob is in the store; the vertex ids name the records */
            for (size_t i = 0; i < e->n_blobs; i++)
                assert_int_equal(e->blobs[i].present, 1);
            assert_true(e->n_labels > 0);
            check_renderings(e);
            bk_buf_clear(&enc);
            free(want);
            bk_explain_free(e);
        }
    }
}

static void manifest_files_render_and_blobs_are_unknown(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/graphs/multistage.max.expected", BK_FIXTURES_DIR);
    size_t len;
    char *data = bk_test_read_file(path, &len);
    bk_explain *e = NULL;
    bk_err err;
    assert_int_equal(bk_explain_manifest_bytes("m.json", data, len, &e, &err), BK_OK);
    assert_null(e->manifests[0].error);
    assert_false(e->blobs_checked);
    assert_int_equal(e->n_blobs, 5);
    for (size_t i = 0; i < e->n_blobs; i++)
        assert_int_equal(e->blobs[i].present, -1);
    check_renderings(e);
    bk_buf text = BK_BUF_INIT, js = BK_BUF_INIT;
    assert_int_equal(bk_explain_text(e, NULL, &text, &err), BK_OK);
    assert_non_null(strstr(bk_buf_str(&text), "were not looked up"));
    assert_null(strstr(bk_buf_str(&text), "MISSING"));
    /* the golang build stage: selector /out/app, 2-layer result under copy */
    assert_non_null(strstr(bk_buf_str(&text), "selector \"/out/app\" ← [0] sha256:2321bb4a4323"));
    assert_int_equal(bk_explain_json(e, &js, &err), BK_OK);
    assert_non_null(strstr(bk_buf_str(&js), "\"missing\": null"));
    bk_buf_clear(&text);
    bk_buf_clear(&js);
    bk_explain_free(e);
    free(data);
}

static void broken_manifests_still_render(void **state)
{
    (void)state;
    static const struct {
        const char *json, *in_text;
    } cases[] = {
        /* a link to a record that does not exist */
        {"{\"records\":[{\"digest\":\"sha256:aa\",\"inputs\":[[{\"link\":7}]]}]}", "OUT OF RANGE"},
        /* a result on a looping layer chain (layer 0 is its own parent) */
        {"{\"layers\":[{\"blob\":\"sha256:bb\",\"annotations\":{\"diffID\":\"sha256:cc\","
         "\"createdAt\":\"2024-01-01T00:00:00Z\"}}],"
         "\"records\":[{\"layers\":[{\"layer\":0,\"createdAt\":\"2024-01-01T00:00:00Z\"}],"
         "\"digest\":\"sha256:dd\"}]}",
         "BROKEN CHAIN"},
        /* a result pointing past the layers */
        {"{\"records\":[{\"layers\":[{\"layer\":3,\"createdAt\":\"2024-01-01T00:00:00Z\"}],"
         "\"digest\":\"sha256:ee\"}]}",
         "BROKEN CHAIN"},
        /* records linking to each other */
        {"{\"records\":[{\"digest\":\"sha256:a1\",\"inputs\":[[{\"link\":1}]]},"
         "{\"digest\":\"sha256:a2\",\"inputs\":[[{\"link\":0}]]}]}",
         "LOOP"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_explain *e = NULL;
        bk_err err;
        assert_int_equal(
            bk_explain_manifest_bytes("x", cases[i].json, strlen(cases[i].json), &e, &err), BK_OK);
        assert_non_null(e->manifests[0].config);
        assert_non_null(e->manifests[0].error); /* validation failed, kept */
        bk_buf text = BK_BUF_INIT, dot = BK_BUF_INIT, js = BK_BUF_INIT;
        assert_int_equal(bk_explain_text(e, NULL, &text, &err), BK_OK);
        assert_int_equal(bk_explain_dot(e, NULL, &dot, &err), BK_OK);
        assert_int_equal(bk_explain_json(e, &js, &err), BK_OK);
        if (strstr(bk_buf_str(&text), cases[i].in_text) == NULL)
            fail_msg("case %zu: no %s in\n%s", i, cases[i].in_text, bk_buf_str(&text));
        assert_non_null(strstr(bk_buf_str(&text), "PROBLEM: "));
        bk_buf_clear(&text);
        bk_buf_clear(&dot);
        bk_buf_clear(&js);
        bk_explain_free(e);
    }
    /* not JSON at all: kept as an unreadable manifest with its parse error */
    bk_explain *e = NULL;
    bk_err err;
    assert_int_equal(bk_explain_manifest_bytes("y", "{\"layers\":", 10, &e, &err), BK_OK);
    assert_null(e->manifests[0].config);
    assert_non_null(e->manifests[0].error);
    assert_null(bk_explain_primary(e));
    bk_buf text = BK_BUF_INIT;
    assert_int_equal(bk_explain_text(e, NULL, &text, &err), BK_OK);
    assert_non_null(strstr(bk_buf_str(&text), "PROBLEM: "));
    bk_buf_clear(&text);
    bk_explain_free(e);
}

/* A layer blob that is no sha256 digest (a path, upper case hex, another
 * algorithm): import refuses the manifest, so explain must mark it invalid,
 * with the message the validation import runs gives (one parser, one
 * verdict). */
static void invalid_layer_digests_make_the_manifest_invalid(void **state)
{
    (void)state;
    static const char *const digests[] = {
        "sha256:../../../etc/passwd",
        "sha256:6D0C74D9AD7894D3731E497E1111EAA3002DDEB1FDB3DFA477DFAC74958E1ED6",
        "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff"
        "8318d2877eec2f63b931bd47417a81a538327af927da3e",
        "sha256:6d0c74d9ad7894d3731e497e1111eaa3002ddeb1fdb3dfa477dfac74958e1ed",
    };
    for (size_t i = 0; i < sizeof digests / sizeof digests[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"layers\":[{\"blob\":\"%s\",\"parent\":-1,\"annotations\":{\"mediaType\":"
                 "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"diffID\":\"sha256:"
                 "39c1e7c58adbb077e3a9d64f9202dbb509d27302d56d0f054014f9390d596672\",\"size\":3,"
                 "\"createdAt\":\"2024-05-01T10:00:00Z\"}}],\"records\":[{\"layers\":[{\"layer\":0,"
                 "\"createdAt\":\"2024-05-01T10:00:00Z\"}],\"digest\":\"sha256:"
                 "40dd95f37a37551abc6cd54488109030e283f8fb36b8ea4e095870e3ef469b36\"}]}",
                 digests[i]);
        bk_err verdict, err;
        bk_cache_config *cfg = NULL;
        assert_int_equal(bk_config_parse(json, strlen(json), &cfg, &err), BK_OK);
        assert_int_equal(bk_config_validate(cfg, BK_VALIDATE_S3, &verdict), BK_EINVAL);
        assert_non_null(strstr(verdict.msg, "layers[0].blob: digest"));
        bk_config_free(cfg);

        bk_explain *e = NULL;
        assert_int_equal(bk_explain_manifest_bytes("m", json, strlen(json), &e, &err), BK_OK);
        if (e->manifests[0].error == NULL)
            fail_msg("%s: explained as a valid manifest", digests[i]);
        assert_string_equal(e->manifests[0].error, verdict.msg);
        bk_buf text = BK_BUF_INIT;
        assert_int_equal(bk_explain_text(e, NULL, &text, &err), BK_OK);
        char problem[sizeof verdict.msg + 16];
        snprintf(problem, sizeof problem, "PROBLEM: %s\n", verdict.msg);
        assert_non_null(strstr(bk_buf_str(&text), problem));
        bk_buf_clear(&text);
        bk_explain_free(e);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *data = bk_test_read_file(from, &len);
    assert_non_null(data);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

static void local_dir_missing_and_unreferenced(void **state)
{
    (void)state;
    char tmp[512];
    assert_int_equal(bk_test_mkdtemp(tmp, sizeof tmp, "bkcache-explain"), 0);
    char src[512], dst[512], blobs[600];
    snprintf(blobs, sizeof blobs, "%s/blobs", tmp);
    assert_int_equal(mkdir(blobs, 0755), 0);
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", tmp);
    assert_int_equal(mkdir(blobs, 0755), 0);
    const char *base = BK_FIXTURES_DIR "/local/oci-index";
    snprintf(src, sizeof src, "%s/index.json", base);
    snprintf(dst, sizeof dst, "%s/index.json", tmp);
    copy_file(src, dst);
    DIR *d = opendir(BK_FIXTURES_DIR "/local/oci-index/blobs/sha256");
    assert_non_null(d);
    struct dirent *de;
    const char *removed = "80f8240018cbaab2c20fd8a00cb398729c79650a444a44350cc065aafce7ea88";
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, removed) == 0)
            continue;
        snprintf(src, sizeof src, "%s/blobs/sha256/%s", base, de->d_name);
        snprintf(dst, sizeof dst, "%s/%s", blobs, de->d_name);
        copy_file(src, dst);
    }
    closedir(d);
    /* a stray blob no manifest references (the multistage copy layer) */
    const char *stray = "15f0c743beb0548e193149c58d38a6ce8df4faa3363ac9147dd43835054dc6e9";
    snprintf(src, sizeof src, "%s/graphs/store/blobs/sha256/%s", BK_FIXTURES_DIR, stray);
    snprintf(dst, sizeof dst, "%s/%s", blobs, stray);
    copy_file(src, dst);

    bk_explain *e = NULL;
    bk_err err;
    assert_int_equal(bk_explain_local(tmp, NULL, &e, &err), BK_OK);
    assert_true(e->blobs_listed && e->blobs_checked);
    assert_int_equal(e->n_others, 2); /* the index root and the config */
    size_t missing = 0, unref = 0, present = 0;
    for (size_t i = 0; i < e->n_blobs; i++) {
        missing += e->blobs[i].present == 0;
        unref += e->blobs[i].present == 1 && e->blobs[i].n_manifests == 0;
        present += e->blobs[i].present == 1;
    }
    assert_int_equal(missing, 1);
    assert_int_equal(unref, 1);
    assert_int_equal(present, 5);

    bk_buf text = BK_BUF_INIT, dot = BK_BUF_INIT, js = BK_BUF_INIT;
    bk_explain_render_opts o = {0};
    assert_int_equal(bk_explain_text(e, &o, &text, &err), BK_OK);
    const char *t = bk_buf_str(&text);
    assert_non_null(strstr(t, "referenced blobs missing from the store: 1\n"));
    assert_non_null(strstr(t, "  sha256:80f8240018cb  used by latest\n"));
    assert_non_null(strstr(t, "blobs referenced by no manifest: 1 (111 B)\n  "));
    assert_non_null(strstr(t, "cache root (OCI image index)"));
    assert_non_null(strstr(t, "cache config"));
    assert_int_equal(count_of(t, "MISSING"), 1);
    assert_int_equal(bk_explain_dot(e, &o, &dot, &err), BK_OK);
    assert_non_null(strstr(bk_buf_str(&dot), "<B>MISSING</B>"));
    assert_non_null(strstr(bk_buf_str(&dot), "blobs referenced by no manifest"));
    assert_int_equal(bk_explain_json(e, &js, &err), BK_OK);
    json_t *root = json_loads(bk_buf_str(&js), 0, NULL);
    assert_non_null(root);
    json_t *jm = json_object_get(root, "missing"), *ju = json_object_get(root, "unreferenced");
    assert_int_equal(json_array_size(jm), 1);
    assert_string_equal(json_string_value(json_array_get(jm, 0)),
                        "sha256:80f8240018cbaab2c20fd8a00cb398729c79650a444a44350cc065aafce7ea88");
    assert_int_equal(json_array_size(ju), 1);
    assert_string_equal(json_string_value(json_array_get(ju, 0)),
                        "sha256:15f0c743beb0548e193149c58d38a6ce8df4faa3363ac9147dd43835054dc6e9");
    json_decref(root);

    /* the config read from the directory is the S3 manifest it was built from */
    size_t len;
    char *want = bk_test_read_file(BK_FIXTURES_DIR "/graphs/linear.max.expected", &len);
    bk_buf enc = BK_BUF_INIT;
    assert_int_equal(bk_config_encode(e->manifests[0].config, &enc, &err), BK_OK);
    assert_string_equal(bk_buf_str(&enc), want);
    free(want);
    bk_buf_clear(&enc);
    bk_buf_clear(&text);
    bk_buf_clear(&dot);
    bk_buf_clear(&js);
    bk_explain_free(e);
    assert_int_equal(nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static bk_explain *load_expected(const char *graph, const char *mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/graphs/%s.%s.expected", BK_FIXTURES_DIR, graph, mode);
    size_t len;
    char *data = bk_test_read_file(path, &len);
    assert_non_null(data);
    bk_explain *e = NULL;
    bk_err err;
    assert_int_equal(bk_explain_manifest_bytes(path, data, len, &e, &err), BK_OK);
    free(data);
    return e;
}

static void diff_names_what_max_adds(void **state)
{
    (void)state;
    bk_explain *a = load_expected("multistage", "min"), *b = load_expected("multistage", "max");
    bk_err err;
    bk_buf text = BK_BUF_INIT, js = BK_BUF_INIT;
    int differs = 0;
    assert_int_equal(bk_explain_diff_text(a, b, NULL, &text, &differs, &err), BK_OK);
    assert_int_equal(differs, 1);
    const char *t = bk_buf_str(&text);
    assert_non_null(strstr(t, "sha256:2321bb4a4323: result only in B (2 layers)"));
    assert_non_null(strstr(t, "layers only in B (2):"));
    assert_non_null(strstr(t, "blobs only in B (2, 247 B):"));
    assert_null(strstr(t, "only in A"));
    assert_int_equal(bk_explain_diff_json(a, b, &js, &differs, &err), BK_OK);
    json_t *root = json_loads(bk_buf_str(&js), 0, NULL);
    assert_non_null(root);
    json_t *jb = json_object_get(root, "b");
    assert_int_equal(json_array_size(json_object_get(jb, "onlyLayers")), 2);
    assert_int_equal(json_array_size(json_object_get(jb, "onlyBlobs")), 2);
    assert_int_equal(json_array_size(json_object_get(jb, "onlyRecords")), 0);
    assert_int_equal(json_array_size(json_object_get(root, "changedRecords")), 1);
    assert_true(json_is_true(json_object_get(root, "differs")));
    json_decref(root);
    bk_buf_clear(&text);
    bk_buf_clear(&js);

    /* a cache against itself: nothing differs */
    assert_int_equal(bk_explain_diff_text(b, b, NULL, &text, &differs, &err), BK_OK);
    assert_int_equal(differs, 0);
    assert_non_null(strstr(bk_buf_str(&text), "same records"));
    bk_buf_clear(&text);

    /* linear vs diamond: records only on each side */
    bk_explain *c = load_expected("diamond", "max");
    assert_int_equal(bk_explain_diff_text(b, c, NULL, &text, &differs, &err), BK_OK);
    assert_int_equal(differs, 1);
    assert_non_null(strstr(bk_buf_str(&text), "records only in A ("));
    assert_non_null(strstr(bk_buf_str(&text), "records only in B ("));
    bk_buf_clear(&text);
    bk_explain_free(a);
    bk_explain_free(b);
    bk_explain_free(c);
}

static void ages_and_digests(void **state)
{
    (void)state;
    char buf[64];
    bk_explain_format_age(1000, 1000 - 59, buf, sizeof buf);
    assert_string_equal(buf, "<1m");
    bk_explain_format_age(1000, 1000 - 60, buf, sizeof buf);
    assert_string_equal(buf, "1m");
    bk_explain_format_age(100000, 100000 - 3599, buf, sizeof buf);
    assert_string_equal(buf, "59m");
    bk_explain_format_age(100000, 100000 - 3600, buf, sizeof buf);
    assert_string_equal(buf, "1h");
    bk_explain_format_age(1000000, 1000000 - 2 * 86400 - 5, buf, sizeof buf);
    assert_string_equal(buf, "2d");
    bk_explain_format_age(10, 20, buf, sizeof buf);
    assert_string_equal(buf, "in the future");
    bk_explain_short_digest("sha256:0123456789abcdef", 0, buf, sizeof buf);
    assert_string_equal(buf, "sha256:0123456789ab");
    bk_explain_short_digest("sha256:0123456789abcdef", 1, buf, sizeof buf);
    assert_string_equal(buf, "sha256:0123456789abcdef");
    bk_explain_short_digest("sha256:ab", 0, buf, sizeof buf);
    assert_string_equal(buf, "sha256:ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_fixtures_carry_the_exported_manifest),
        cmocka_unit_test(manifest_files_render_and_blobs_are_unknown),
        cmocka_unit_test(broken_manifests_still_render),
        cmocka_unit_test(invalid_layer_digests_make_the_manifest_invalid),
        cmocka_unit_test(local_dir_missing_and_unreferenced),
        cmocka_unit_test(diff_names_what_max_adds),
        cmocka_unit_test(ages_and_digests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
