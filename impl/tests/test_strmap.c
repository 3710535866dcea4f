/* BK_TEST_UNIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strmap.h"

static void empty_map_finds_nothing(void **state)
{
    (void)state;
    bk__strmap m = {0};
    size_t v = 7;
    assert_false(bk__strmap_get(&m, "a", &v));
    assert_int_equal(v, 7);
    bk__strmap_clear(&m);
}

static void later_put_replaces_the_value(void **state)
{
    (void)state;
    bk__strmap m = {0};
    size_t v = 0;
    assert_true(bk__strmap_put(&m, strdup("sha256:aa"), 1));
    assert_true(bk__strmap_put(&m, strdup("sha256:aa"), 2));
    assert_true(bk__strmap_get(&m, "sha256:aa", &v));
    assert_int_equal(v, 2);
    assert_int_equal(m.len, 1);
    bk__strmap_clear(&m);
    assert_int_equal(m.cap, 0);
    assert_false(bk__strmap_get(&m, "sha256:aa", &v));
}

/* Past the first table (64 slots, kept half full) every key survives the
 * rehashes. */
static void keys_survive_growth(void **state)
{
    (void)state;
    bk__strmap m = {0};
    char key[32];
    for (size_t i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "chain-%zu", i);
        assert_true(bk__strmap_put(&m, strdup(key), i));
    }
    assert_int_equal(m.len, 1000);
    for (size_t i = 0; i < 1000; i++) {
        size_t v = 0;
        snprintf(key, sizeof key, "chain-%zu", i);
        assert_true(bk__strmap_get(&m, key, &v));
        assert_int_equal(v, i);
    }
    assert_false(bk__strmap_get(&m, "chain-1000", &(size_t){0}));
    bk__strmap_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_map_finds_nothing),
        cmocka_unit_test(later_put_replaces_the_value),
        cmocka_unit_test(keys_survive_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
