/* BK_TEST_UNIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/buf.h"
#include "bkcache/error.h"

static void appends_grow_and_stay_terminated(void **state)
{
    (void)state;
    bk_buf b = BK_BUF_INIT;
    assert_string_equal(bk_buf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(bk_buf_printf(&b, "%03d,", i % 1000), 0);
    assert_int_equal(b.len, 4000);
    assert_int_equal(strncmp(b.data, "000,001,", 8), 0);
    assert_int_equal(b.data[b.len], '\0');
    bk_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(bk_buf_str(&b), "");
    bk_buf_clear(&b);
}

static void steal_hands_over_even_when_empty(void **state)
{
    (void)state;
    bk_buf b = BK_BUF_INIT;
    char *s = bk_buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    bk_buf_puts(&b, "abc");
    bk_buf_putc(&b, 'd');
    s = bk_buf_steal(&b);
    assert_string_equal(s, "abcd");
    assert_null(b.data);
    free(s);
}

/* Bytes put one at a time across every growth of the buffer: each lands,
 * the text stays terminated, and a failed buffer takes no more. */
static void putc_fills_to_capacity_and_grows(void **state)
{
    (void)state;
    bk_buf b = BK_BUF_INIT;
    for (size_t i = 0; i < 1000; i++) {
        assert_int_equal(bk_buf_putc(&b, (char)('a' + i % 26)), 0);
        assert_int_equal(b.len, i + 1);
        assert_true(b.len < b.cap);
        assert_int_equal(b.data[b.len], '\0');
        assert_int_equal(b.data[i], 'a' + i % 26);
    }
    assert_int_equal(strncmp(bk_buf_str(&b), "abcdefghijklmnopqrstuvwxyzab", 28), 0);
    assert_int_equal(bk_buf_append(&b, "x", (size_t)-1 / 2), -1);
    assert_int_equal(bk_buf_putc(&b, 'z'), -1);
    assert_int_equal(b.len, 1000);
    bk_err err = {0};
    assert_int_equal(bk_buf_check(&b, &err), BK_ENOMEM);
    bk_buf_clear(&b);
}

/* Decimal numbers as printf writes them: every power of ten and its
 * neighbours, 0 and 2^64 - 1, each after text already there; a failed buffer
 * takes none. */
static void put_u64_writes_what_printf_writes(void **state)
{
    (void)state;
    bk_buf b = BK_BUF_INIT;
    bk_buf want = BK_BUF_INIT;
    uint64_t p = 1;
    for (int k = 0; k < 20; k++, p *= 10) {
        const uint64_t vs[] = {p - 1, p, p + 1, p * 9 + 7};
        for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
            bk_buf_putc(&b, ',');
            assert_int_equal(bk_buf_put_u64(&b, vs[i]), 0);
            bk_buf_printf(&want, ",%llu", (unsigned long long)vs[i]);
        }
    }
    assert_int_equal(bk_buf_put_u64(&b, UINT64_MAX), 0);
    bk_buf_puts(&want, "18446744073709551615");
    assert_string_equal(bk_buf_str(&b), bk_buf_str(&want));
    assert_int_equal(b.len, want.len);
    size_t len = b.len;
    assert_int_equal(bk_buf_append(&b, "x", (size_t)-1 / 2), -1);
    assert_int_equal(bk_buf_put_u64(&b, 42), -1);
    assert_int_equal(b.len, len);
    bk_buf_clear(&b);
    bk_buf_clear(&want);
}

static void error_set_and_prefix(void **state)
{
    (void)state;
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(bk_err_set(&err, BK_EINVAL, "bucket (%s) not set", "$AWS_BUCKET"), BK_EINVAL);
    bk_err_prefix(&err, "export: ");
    assert_string_equal(err.msg, "export: bucket ($AWS_BUCKET) not set");
    assert_string_equal(bk_code_name(err.code), "EINVAL");
    assert_int_equal(bk_err_set(NULL, BK_EIO, "ignored"), BK_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_grow_and_stay_terminated),
        cmocka_unit_test(steal_hands_over_even_when_empty),
        cmocka_unit_test(putc_fills_to_capacity_and_grows),
        cmocka_unit_test(put_u64_writes_what_printf_writes),
        cmocka_unit_test(error_set_and_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
