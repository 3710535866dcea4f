/* BK_TEST_UNIT
 * BuildKit's unordered ties (src/ties.c): every valid reorder of the tie
 * groups in the graph goldens compares equal to the golden, nothing else
 * does (a reorder outside a tie group, a changed byte, bytes that are not
 * Go's encoding), and a reorder keeps every record's layer chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/buf.h"
#include "bkcache/cacheconfig.h"
#include "ties.h"

static void read_golden(const char *name, bk_buf *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/graphs/%s.expected", BK_FIXTURES_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bk_buf_append(out, chunk, n);
    fclose(f);
    assert_false(out->failed);
}

static bk_cache_config *parse(const bk_buf *b)
{
    bk_cache_config *cfg = NULL;
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(bk_config_parse(b->data, b->len, &cfg, &err), BK_OK);
    return cfg;
}

static void encode(const bk_cache_config *cfg, bk_buf *out)
{
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(bk_config_encode(cfg, out, &err), BK_OK);
}

/* Another valid BuildKit order of the golden: its tie groups rotated. */
static void shuffled(const bk_buf *golden, unsigned seed, bk_buf *out, size_t *groups)
{
    bk_cache_config *cfg = parse(golden);
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(conf_ties_shuffle(cfg, &seed, groups, &err), BK_OK);
    assert_int_equal(bk_config_validate(cfg, BK_VALIDATE_S3, &err), BK_OK);
    encode(cfg, out);
    bk_config_free(cfg);
}

/* The blobs of record r's first result, top layer first, as one string. */
static void result_chain(const bk_cache_config *cfg, size_t r, char *out, size_t size)
{
    out[0] = '\0';
    if (cfg->records[r].n_results == 0)
        return;
    size_t len = 0;
    for (int64_t l = cfg->records[r].results[0].layer; l >= 0; l = cfg->layers[l].parent)
        len += (size_t)snprintf(out + len, size - len, "%s;", cfg->layers[l].blob);
}

static void same_chains(const bk_buf *a, const bk_buf *b)
{
    bk_cache_config *x = parse(a), *y = parse(b);
    assert_int_equal(x->n_records, y->n_records);
    for (size_t r = 0; r < x->n_records; r++) {
        char cx[4096], cy[4096];
        result_chain(x, r, cx, sizeof cx);
        result_chain(y, r, cy, sizeof cy);
        assert_string_equal(cx, cy);
    }
    bk_config_free(x);
    bk_config_free(y);
}

/* twolinks: two links of one input to record 3 ("/src", "/src/main.c");
 * diamond max: one blob that is a layer under two parents. */
static void test_ties_reordered_compare_equal(void **state)
{
    (void)state;
    static const char *const goldens[] = {"twolinks.min", "twolinks.max", "diamond.max"};
    for (size_t g = 0; g < 3; g++) {
        bk_buf golden = BK_BUF_INIT;
        read_golden(goldens[g], &golden);
        for (unsigned seed = 1; seed <= 5; seed++) {
            bk_buf other = BK_BUF_INIT;
            size_t groups = 0;
            shuffled(&golden, seed, &other, &groups);
            assert_int_equal(groups, 1);
            assert_true(other.len != golden.len ||
                        memcmp(other.data, golden.data, golden.len) != 0);
            char why[600] = "";
            assert_int_equal(conf_manifest_compare(other.data, other.len, golden.data, golden.len,
                                                   why, sizeof why),
                             CONF_SAME_UP_TO_TIES);
            assert_int_equal(conf_manifest_compare(golden.data, golden.len, other.data, other.len,
                                                   why, sizeof why),
                             CONF_SAME_UP_TO_TIES);
            same_chains(&golden, &other);
            bk_buf_clear(&other);
        }
        char why[600] = "";
        assert_int_equal(conf_manifest_compare(golden.data, golden.len, golden.data, golden.len,
                                               why, sizeof why),
                         CONF_SAME_BYTES);
        bk_buf_clear(&golden);
    }
}

static void test_no_ties_nothing_moves(void **state)
{
    (void)state;
    static const char *const goldens[] = {"linear.max", "multistage.max", "dropped.min",
                                          "diamond.min"};
    for (size_t g = 0; g < 4; g++) {
        bk_buf golden = BK_BUF_INIT, other = BK_BUF_INIT;
        read_golden(goldens[g], &golden);
        size_t groups = 7;
        shuffled(&golden, 3, &other, &groups);
        assert_int_equal(groups, 0);
        assert_int_equal(other.len, golden.len);
        assert_memory_equal(other.data, golden.data, golden.len);
        bk_buf_clear(&golden);
        bk_buf_clear(&other);
    }
}

/* Replaces the first occurrence of from with to (same length, no NUL). */
static void patch(bk_buf *b, const char *from, const char *to)
{
    size_t len = strlen(to);
    assert_int_equal(strlen(from), len);
    char *at = strstr(b->data, from);
    assert_non_null(at);
    for (size_t i = 0; i < len; i++)
        at[i] = to[i];
}

static void test_other_differences_stay_different(void **state)
{
    (void)state;
    bk_buf golden = BK_BUF_INIT;
    read_golden("twolinks.max", &golden);
    char why[600] = "";

    /* Links with different indexes are not a tie: their order is fixed. */
    bk_buf swapped = BK_BUF_INIT;
    bk_buf_append(&swapped, golden.data, golden.len);
    bk_buf_putc(&swapped, '\0');
    patch(&swapped, "{\"selector\":\"/src\",\"link\":2},{\"selector\":\"/src\",\"link\":4}",
          "{\"selector\":\"/src\",\"link\":4},{\"selector\":\"/src\",\"link\":2}");
    assert_int_equal(
        conf_manifest_compare(swapped.data, golden.len, golden.data, golden.len, why, sizeof why),
        CONF_DIFFERENT);
    assert_non_null(strstr(why, "offset"));

    /* A tie reordered and a byte changed elsewhere. */
    bk_buf other = BK_BUF_INIT;
    size_t groups = 0;
    shuffled(&golden, 1, &other, &groups);
    bk_buf_putc(&other, '\0');
    patch(&other, "\"size\":140", "\"size\":141");
    assert_int_equal(
        conf_manifest_compare(other.data, other.len - 1, golden.data, golden.len, why, sizeof why),
        CONF_DIFFERENT);
    assert_non_null(strstr(why, "unordered ties"));

    /* Bytes that are not Go's encoding of their content are compared as
     * bytes: a parser that drops something cannot hide it. */
    bk_buf loose = BK_BUF_INIT;
    shuffled(&golden, 1, &loose, &groups);
    bk_buf_putc(&loose, '\n');
    assert_int_equal(
        conf_manifest_compare(loose.data, loose.len, golden.data, golden.len, why, sizeof why),
        CONF_DIFFERENT);
    bk_buf_clear(&loose);
    bk_buf_clear(&other);
    bk_buf_clear(&swapped);
    bk_buf_clear(&golden);
}

static void test_bad_index_refused(void **state)
{
    (void)state;
    bk_buf golden = BK_BUF_INIT;
    read_golden("diamond.max", &golden);
    bk_cache_config *cfg = parse(&golden);
    cfg->records[0].results[0].layer = (int64_t)cfg->n_layers;
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(conf_ties_canonicalize(cfg, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
    bk_config_free(cfg);
    bk_buf_clear(&golden);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ties_reordered_compare_equal),
        cmocka_unit_test(test_no_ties_nothing_moves),
        cmocka_unit_test(test_other_differences_stay_different),
        cmocka_unit_test(test_bad_index_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
