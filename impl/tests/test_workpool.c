/* BK_TEST_UNIT
 * The worker pool: every item runs once, the first failure wins and stops
 * new items, zero items is fine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "workpool.h"

typedef struct counter {
    pthread_mutex_t lock;
    int seen[1000];
    size_t calls;
    size_t fail_at; /* index that fails; SIZE_MAX = none */
} counter;

static bk_code count(void *ctx, size_t index, bk_err *err)
{
    counter *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->seen[index]++;
    c->calls++;
    pthread_mutex_unlock(&c->lock);
    if (index == c->fail_at)
        return bk_err_set(err, BK_EIO, "item %zu failed", index);
    return BK_OK;
}

static void every_item_once(void **state)
{
    (void)state;
    counter c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    c.fail_at = SIZE_MAX;
    bk_err err;
    assert_int_equal(bk__workpool_run(1000, 8, count, &c, &err), BK_OK);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(c.seen[i], 1);
    assert_int_equal(bk__workpool_run(0, 8, count, &c, &err), BK_OK);
    assert_int_equal(c.calls, 1000);
    pthread_mutex_destroy(&c.lock);
}

static void first_failure_stops_the_rest(void **state)
{
    (void)state;
    counter c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    c.fail_at = 10;
    bk_err err;
    /* One worker: items run in order, nothing after the failure. */
    assert_int_equal(bk__workpool_run(1000, 1, count, &c, &err), BK_EIO);
    assert_string_equal(err.msg, "item 10 failed");
    assert_int_equal(c.calls, 11);
    /* Several workers: at most one item per worker runs after the failure. */
    memset(c.seen, 0, sizeof c.seen);
    c.calls = 0;
    assert_int_equal(bk__workpool_run(1000, 4, count, &c, &err), BK_EIO);
    assert_true(c.calls < 1000);
    pthread_mutex_destroy(&c.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_once),
        cmocka_unit_test(first_failure_stops_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
