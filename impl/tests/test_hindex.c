/* BK_TEST_UNIT
 * The hash index: entries found by hash and the caller's equality, colliding
 * hashes told apart by it, every entry kept across growth, and the key
 * hashes that must differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hindex.h"

typedef struct words {
    const char **w;
    const char *want;
} words;

static bool word_is(const void *ctx, size_t entry)
{
    const words *p = ctx;
    return strcmp(p->w[entry], p->want) == 0;
}

static void empty_index_finds_nothing(void **state)
{
    (void)state;
    bk__hindex t = {0};
    size_t e = 7;
    words p = {NULL, "x"};
    assert_false(bk__hindex_find(&t, 1, word_is, &p, &e));
    assert_int_equal(e, 7);
    bk__hindex_clear(&t);
}

/* Two entries under one hash: equality picks the right one. */
static void equality_separates_colliding_hashes(void **state)
{
    (void)state;
    const char *w[] = {"alpha", "beta"};
    bk__hindex t = {0};
    assert_true(bk__hindex_add(&t, 42, 0));
    assert_true(bk__hindex_add(&t, 42, 1));
    size_t e = 9;
    words p = {w, "beta"};
    assert_true(bk__hindex_find(&t, 42, word_is, &p, &e));
    assert_int_equal(e, 1);
    p.want = "alpha";
    assert_true(bk__hindex_find(&t, 42, word_is, &p, &e));
    assert_int_equal(e, 0);
    p.want = "gamma";
    assert_false(bk__hindex_find(&t, 42, word_is, &p, &e));
    bk__hindex_clear(&t);
    assert_int_equal(t.cap, 0);
    assert_int_equal(t.len, 0);
}

/* Past the first table (64 slots, kept half full) every entry survives the
 * rehashes. */
static void entries_survive_growth(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char buf[N][16];
    const char **w = calloc(N, sizeof *w);
    assert_non_null(w);
    bk__hindex t = {0};
    for (size_t i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "k%zu", i);
        w[i] = buf[i];
        assert_true(bk__hindex_add(&t, bk__hash_str(BK__HASH_INIT, w[i]), i));
    }
    assert_int_equal(t.len, N);
    assert_true(t.cap >= (size_t)2 * N);
    for (size_t i = 0; i < N; i++) {
        size_t e = SIZE_MAX;
        words p = {w, w[i]};
        assert_true(bk__hindex_find(&t, bk__hash_str(BK__HASH_INIT, w[i]), word_is, &p, &e));
        assert_int_equal(e, i);
    }
    words miss = {w, "k5000"};
    size_t e;
    assert_false(bk__hindex_find(&t, bk__hash_str(BK__HASH_INIT, "k5000"), word_is, &miss, &e));
    bk__hindex_clear(&t);
    free(w);
}

/* Key parts are delimited: moving a byte from one part to the next, or NULL
 * against "", changes the hash. */
static void hashes_of_different_keys_differ(void **state)
{
    (void)state;
    uint64_t ab_c = bk__hash_str(bk__hash_str(BK__HASH_INIT, "ab"), "c");
    uint64_t a_bc = bk__hash_str(bk__hash_str(BK__HASH_INIT, "a"), "bc");
    assert_true(ab_c != a_bc);
    assert_true(bk__hash_str(BK__HASH_INIT, NULL) != bk__hash_str(BK__HASH_INIT, ""));
    assert_true(bk__hash_u64(BK__HASH_INIT, 1) != bk__hash_u64(BK__HASH_INIT, 256));
    /* a short tail and its zero-padded longer form, and words that differ in
     * their last byte only */
    assert_true(bk__hash_bytes(BK__HASH_INIT, "a\0", 2) != bk__hash_bytes(BK__HASH_INIT, "a", 1));
    assert_true(bk__hash_str(BK__HASH_INIT, "sha256:0123456789abcdef") !=
                bk__hash_str(BK__HASH_INIT, "sha256:0123456789abcdee"));
    assert_true(bk__hash_str(BK__HASH_INIT, "x") == bk__hash_str(BK__HASH_INIT, "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_index_finds_nothing),
        cmocka_unit_test(equality_separates_colliding_hashes),
        cmocka_unit_test(entries_survive_growth),
        cmocka_unit_test(hashes_of_different_keys_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
