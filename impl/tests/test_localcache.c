/* BK_TEST_UNIT
 * type=local caches: the three root shapes of fixtures/local (built by an
 * independent script from graphs/linear.max.expected) read back to that S3
 * config byte for byte; writing reproduces those directories byte for byte;
 * local <-> S3 round trips for every graph fixture; integrity errors; sizes
 * that are negative or out of range. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "bkcache/localcache.h"
#include "bkcache/store.h"
#include "cachegen.h"

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/bk-localcache-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static char *encode(const bk_cache_config *cfg)
{
    bk_buf b = BK_BUF_INIT;
    bk_err err = {0};
    assert_int_equal(bk_config_encode(cfg, &b, &err), BK_OK);
    return bk_buf_steal(&b);
}

static bk_cache_config *load_config(const char *path)
{
    size_t len;
    char *data = bk_test_read_file(path, &len);
    assert_non_null(data);
    bk_err err = {0};
    bk_cache_config *cfg = NULL;
    assert_int_equal(bk_config_parse(data, len, &cfg, &err), BK_OK);
    free(data);
    return cfg;
}

static const char *const shapes[] = {"oci-index", "docker-list", "image-manifest"};

static void fixtures_read_back_to_the_s3_config(void **state)
{
    (void)state;
    size_t want_len;
    char *want = bk_test_read_file(BK_FIXTURES_DIR "/graphs/linear.max.expected", &want_len);
    assert_non_null(want);
    for (int s = 0; s < 3; s++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/local/%s", BK_FIXTURES_DIR, shapes[s]);
        bk_err err = {0};
        bk_local_cache *lc = NULL;
        if (bk_local_read(dir, NULL, &lc, &err) != BK_OK)
            fail_msg("%s: %s", shapes[s], err.msg);
        assert_int_equal(lc->shape, (bk_local_shape)s);
        assert_int_equal(lc->n_layers, lc->config->n_layers);
        assert_null(lc->config->layers[0].annotations);
        bk_cache_config *s3 = NULL;
        assert_int_equal(bk_local_to_s3(lc, &s3, &err), BK_OK);
        char *got = encode(s3);
        if (strcmp(got, want) != 0)
            fail_msg("%s:\n got %s\nwant %s", shapes[s], got, want);
        free(got);
        bk_config_free(s3);
        bk_local_cache_free(lc);
        /* an unknown tag is "not found", not a crash or an empty cache */
        assert_int_equal(bk_local_read(dir, "nope", &lc, &err), BK_ENOTFOUND);
        assert_null(lc);
    }
    free(want);
}

static void compare_file(const char *a_dir, const char *b_dir, const char *name)
{
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/%s", a_dir, name);
    snprintf(pb, sizeof pb, "%s/%s", b_dir, name);
    size_t la, lb;
    char *a = bk_test_read_file(pa, &la), *b = bk_test_read_file(pb, &lb);
    if (!a || !b) {
        fail_msg("missing %s or %s", pa, pb);
        free(a);
        free(b);
        return; /* not reached: fail_msg does not return */
    }
    if (la != lb || memcmp(a, b, la) != 0)
        fail_msg("%s differs from %s:\n%s\n%s", pa, pb, a, b);
    free(a);
    free(b);
}

static void writing_reproduces_the_fixture_directories(void **state)
{
    (void)state;
    bk_cache_config *s3 = load_config(BK_FIXTURES_DIR "/graphs/linear.max.expected");
    for (int s = 0; s < 3; s++) {
        char *dir = tmp_dir();
        bk_err err = {0};
        bk_local_write_opts opts = {NULL, (bk_local_shape)s};
        if (bk_local_write(dir, s3, BK_FIXTURES_DIR "/graphs/store", &opts, &err) != BK_OK)
            fail_msg("%s: %s", shapes[s], err.msg);
        char fixture[512];
        snprintf(fixture, sizeof fixture, "%s/local/%s", BK_FIXTURES_DIR, shapes[s]);
        compare_file(dir, fixture, "index.json");
        compare_file(dir, fixture, "oci-layout");
        /* the root and config blobs are named by their digests: same bytes */
        bk_local_cache *lc = NULL;
        assert_int_equal(bk_local_read(fixture, NULL, &lc, &err), BK_OK);
        char name[128];
        snprintf(name, sizeof name, "blobs/sha256/%s", lc->root_digest + 7);
        compare_file(dir, fixture, name);
        for (size_t i = 0; i < lc->n_layers; i++) {
            snprintf(name, sizeof name, "blobs/sha256/%s", lc->layers[i].digest + 7);
            compare_file(dir, fixture, name);
        }
        bk_local_cache_free(lc);
        rm_tree(dir);
        free(dir);
    }
    bk_config_free(s3);
}

static void every_graph_manifest_round_trips(void **state)
{
    (void)state;
    static const char *const names[] = {"linear.min",     "linear.max",   "multistage.min",
                                        "multistage.max", "diamond.min",  "diamond.max",
                                        "twolinks.min",   "twolinks.max", "dropped.max"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/graphs/%s.expected", BK_FIXTURES_DIR, names[i]);
        bk_cache_config *s3 = load_config(path);
        char *want = encode(s3);
        for (int s = 0; s < 3; s++) {
            char *dir = tmp_dir();
            bk_err err = {0};
            bk_local_write_opts opts = {"v1", (bk_local_shape)s};
            assert_int_equal(bk_local_write(dir, s3, BK_FIXTURES_DIR "/graphs/store", &opts, &err),
                             BK_OK);
            /* a second tag lives next to the first; rewriting a tag replaces it */
            opts.tag = "v2";
            assert_int_equal(bk_local_write(dir, s3, BK_FIXTURES_DIR "/graphs/store", &opts, &err),
                             BK_OK);
            assert_int_equal(bk_local_write(dir, s3, BK_FIXTURES_DIR "/graphs/store", &opts, &err),
                             BK_OK);
            char idx[600];
            snprintf(idx, sizeof idx, "%s/index.json", dir);
            size_t len;
            char *index = bk_test_read_file(idx, &len);
            assert_non_null(strstr(index, "\"v1\""));
            assert_non_null(strstr(index, "\"v2\""));
            assert_null(strstr(strstr(index, "\"v2\"") + 4, "\"v2\""));
            free(index);
            for (int t = 0; t < 2; t++) {
                bk_local_cache *lc = NULL;
                assert_int_equal(bk_local_read(dir, t ? "v2" : "v1", &lc, &err), BK_OK);
                bk_cache_config *back = NULL;
                assert_int_equal(bk_local_to_s3(lc, &back, &err), BK_OK);
                char *got = encode(back);
                if (strcmp(got, want) != 0)
                    fail_msg("%s (%s):\n got %s\nwant %s", names[i], shapes[s], got, want);
                free(got);
                bk_config_free(back);
                bk_local_cache_free(lc);
            }
            rm_tree(dir);
            free(dir);
        }
        free(want);
        bk_config_free(s3);
    }
}

static void integrity_errors(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    bk_err err = {0};
    char src[600];
    snprintf(src, sizeof src, "%s/blob.bin", dir);
    spit(src, "hello\n", 6);
    /* sha256("hello\n") */
    const char *good = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    assert_int_equal(bk_local_copy_blob(src, dir, good, 5, &err), BK_EINTEGRITY);
    assert_non_null(strstr(err.msg, "expected size 5, got 6"));
    const char *bad = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    char blobs[700];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
    assert_int_equal(bk_local_write(dir, &(bk_cache_config){0}, dir, NULL, &err), BK_OK);
    assert_int_equal(bk_local_copy_blob(src, dir, bad, 6, &err), BK_EINTEGRITY);
    assert_int_equal(access(blobs, F_OK), 0);
    char leftover[800];
    snprintf(leftover, sizeof leftover, "%s/%s", blobs, bad + 7);
    assert_int_not_equal(access(leftover, F_OK), 0); /* nothing left behind */
    assert_int_equal(bk_local_copy_blob(src, dir, good, 6, &err), BK_OK);
    assert_int_equal(bk_local_copy_blob("/nonexistent/x", dir, bad, 1, &err), BK_ENOTFOUND);

    /* a corrupted config blob is detected on read */
    bk_cache_config *s3 = load_config(BK_FIXTURES_DIR "/graphs/linear.min.expected");
    char *cache = tmp_dir();
    assert_int_equal(bk_local_write(cache, s3, BK_FIXTURES_DIR "/graphs/store", NULL, &err), BK_OK);
    bk_local_cache *lc = NULL;
    assert_int_equal(bk_local_read(cache, "latest", &lc, &err), BK_OK);
    /* find the config blob through the root and damage it */
    char root_path[800];
    snprintf(root_path, sizeof root_path, "%s/blobs/sha256/%s", cache, lc->root_digest + 7);
    size_t len;
    char *root = bk_test_read_file(root_path, &len);
    char *cfgd = strstr(root, "\"application/vnd.buildkit.cacheconfig.v0\",\"digest\":\"sha256:");
    assert_non_null(cfgd);
    char cfg_path[900];
    snprintf(cfg_path, sizeof cfg_path, "%s/blobs/sha256/%.64s", cache,
             cfgd + strlen("\"application/vnd.buildkit.cacheconfig.v0\",\"digest\":\"sha256:"));
    size_t clen;
    char *cfg = bk_test_read_file(cfg_path, &clen);
    cfg[1] = 'X';
    spit(cfg_path, cfg, clen);
    bk_local_cache_free(lc);
    lc = NULL;
    assert_int_equal(bk_local_read(cache, NULL, &lc, &err), BK_EINTEGRITY);
    assert_null(lc);
    /* a layer missing from the store fails the write before any root exists */
    bk_cache_config *max = load_config(BK_FIXTURES_DIR "/graphs/linear.max.expected");
    char *empty = tmp_dir();
    char *fresh = tmp_dir();
    assert_int_equal(bk_local_write(fresh, max, empty, NULL, &err), BK_ENOTFOUND);
    char fresh_index[600];
    snprintf(fresh_index, sizeof fresh_index, "%s/index.json", fresh);
    assert_int_not_equal(access(fresh_index, F_OK), 0);
    /* an S3 config without annotations cannot be written as a local cache */
    bk_cache_config *bare =
        load_config(BK_FIXTURES_DIR "/config/golden/05-parent-zero-omitted.expected");
    assert_int_equal(bk_local_write(fresh, bare, empty, NULL, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "missing annotations"));
    bk_config_free(bare);
    bk_config_free(max);
    bk_config_free(s3);
    free(cfg);
    free(root);
    rm_tree(cache);
    rm_tree(dir);
    rm_tree(empty);
    rm_tree(fresh);
    free(cache);
    free(dir);
    free(empty);
    free(fresh);
}

/* Replaces the first "size":<n> in s (a NUL-terminated heap string) with
 * "size":<with>; returns the new string. */
static char *replace_size(char *s, const char *with)
{
    char *at = strstr(s, "\"size\":");
    assert_non_null(at);
    char *end = at + strlen("\"size\":");
    while (*end == '-' || (*end >= '0' && *end <= '9'))
        end++;
    bk_buf b = BK_BUF_INIT;
    bk_buf_append(&b, s, (size_t)(at - s));
    bk_buf_printf(&b, "\"size\":%s", with);
    bk_buf_puts(&b, end);
    free(s);
    return bk_buf_steal(&b);
}

/* A size that is negative or beyond int64 in index.json or in the cache root
 * is refused where it is read, with its JSON path (it used to become
 * 2^64-1, or "too large (-1 > 1048576)"). */
static void negative_and_out_of_range_sizes(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_cache_config *s3 = load_config(BK_FIXTURES_DIR "/graphs/linear.min.expected");
    char *cache = tmp_dir();
    assert_int_equal(bk_local_write(cache, s3, BK_FIXTURES_DIR "/graphs/store", NULL, &err), BK_OK);
    char index[600];
    snprintf(index, sizeof index, "%s/index.json", cache);
    char *orig = bk_test_read_file(index, NULL);
    assert_non_null(orig);

    static const struct {
        const char *size, *msg;
    } cases[] = {
        {"-1", "index.json manifests[0].size: -1 is negative"},
        {"18446744073709551616",
         "index.json: manifests[0].size: number 18446744073709551616 is out of range (int64)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = replace_size(strdup(orig), cases[i].size);
        spit(index, text, strlen(text));
        free(text);
        bk_local_cache *lc = NULL;
        assert_int_equal(bk_local_read(cache, NULL, &lc, &err), BK_EINVAL);
        assert_null(lc);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("got \"%s\", want \"%s\"", err.msg, cases[i].msg);
    }

    /* a layer descriptor of the root: a new root blob, and index.json naming it */
    spit(index, orig, strlen(orig));
    bk_local_cache *lc = NULL;
    assert_int_equal(bk_local_read(cache, NULL, &lc, &err), BK_OK);
    char root_path[800];
    snprintf(root_path, sizeof root_path, "%s/blobs/sha256/%s", cache, lc->root_digest + 7);
    char *root = replace_size(bk_test_read_file(root_path, NULL), "-7");
    unsigned char md[32];
    SHA256((const unsigned char *)root, strlen(root), md);
    char digest[BK_DIGEST_MAX];
    bk_digest_format(md, digest);
    snprintf(root_path, sizeof root_path, "%s/blobs/sha256/%s", cache, digest + 7);
    spit(root_path, root, strlen(root));
    char *text = strdup(orig);
    char *at = strstr(text, lc->root_digest);
    assert_non_null(at);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the new digest over the old one */
    memcpy(at, digest, strlen(digest));
    char len[32];
    snprintf(len, sizeof len, "%zu", strlen(root));
    text = replace_size(text, len);
    spit(index, text, strlen(text));
    bk_local_cache_free(lc);
    lc = NULL;
    assert_int_equal(bk_local_read(cache, NULL, &lc, &err), BK_EINVAL);
    if (!strstr(err.msg, "manifests[0].size: -7 is negative"))
        fail_msg("got \"%s\"", err.msg);
    free(text);
    free(root);
    free(orig);
    bk_config_free(s3);
    rm_tree(cache);
    free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_read_back_to_the_s3_config),
        cmocka_unit_test(writing_reproduces_the_fixture_directories),
        cmocka_unit_test(every_graph_manifest_round_trips),
        cmocka_unit_test(integrity_errors),
        cmocka_unit_test(negative_and_out_of_range_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
