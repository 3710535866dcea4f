/* BK_TEST_UNIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/retry.h"

typedef struct fake {
    double random;
    double now;
    uint64_t slept;
} fake;

static double fake_random(void *ud)
{
    return ((fake *)ud)->random;
}

static int64_t fake_now(void *ud)
{
    return (int64_t)(((fake *)ud)->now * 1e9);
}

static void fake_sleep(void *ud, uint64_t ms)
{
    fake *f = ud;
    f->slept += ms;
    f->now += (double)ms / 1000.0;
}

static void classification(void **state)
{
    (void)state;
    assert_int_equal(bk_retry_classify(503, "SlowDown", 0), BK_RETRY_THROTTLE);
    assert_int_equal(bk_retry_classify(503, "ServiceUnavailable", 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(500, "InternalError", 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(502, "", 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(504, NULL, 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(429, NULL, 0), BK_RETRY_THROTTLE);
    assert_int_equal(bk_retry_classify(400, "RequestTimeout", 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(400, "Throttling", 0), BK_RETRY_THROTTLE);
    /* A 200 carrying <Error>: retried only for a retryable code. */
    assert_int_equal(bk_retry_classify(200, "InternalError", 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(200, "AccessDenied", 0), BK_RETRY_NONE);
    assert_int_equal(bk_retry_classify(0, NULL, 0), BK_RETRY_TRANSIENT);
    assert_int_equal(bk_retry_classify(0, NULL, 1), BK_RETRY_TIMEOUT);
    const int final[] = {400, 401, 403, 404, 405, 409, 412, 416, 501};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        assert_int_equal(bk_retry_classify(final[i], "AccessDenied", 0), BK_RETRY_NONE);
    assert_int_equal(bk_retry_classify(404, "NoSuchKey", 0), BK_RETRY_NONE);
    assert_int_equal(bk_retry_classify(400, "ExpiredToken", 0), BK_RETRY_NONE);
}

static void backoff_is_full_jitter_capped(void **state)
{
    (void)state;
    fake f = {0};
    bk_clock clock = {NULL, fake_now, fake_sleep, &f};
    bk_retry_config cfg;
    bk_retry_config_init(&cfg);
    cfg.random01 = fake_random;
    cfg.random_ud = &f;
    assert_int_equal(cfg.max_attempts, 3);
    assert_int_equal(cfg.base_delay_ms, 1000);
    assert_int_equal(cfg.max_backoff_ms, 20000);
    bk_retry_state s;
    bk_retry_state_init(&s, &cfg, &clock);
    f.random = 0.0;
    for (int r = 1; r < 10; r++)
        assert_int_equal(bk_retry_backoff_ms(&s, r), 0);
    f.random = 0.999999;
    assert_int_equal(bk_retry_backoff_ms(&s, 1), 999);
    assert_int_equal(bk_retry_backoff_ms(&s, 2), 1999);
    assert_int_equal(bk_retry_backoff_ms(&s, 3), 3999);
    assert_int_equal(bk_retry_backoff_ms(&s, 5), 15999);
    assert_int_equal(bk_retry_backoff_ms(&s, 6), 19999); /* 32 s capped at 20 s */
    assert_int_equal(bk_retry_backoff_ms(&s, 60), 19999);
    f.random = 0.5;
    assert_int_equal(bk_retry_backoff_ms(&s, 3), 2000);
    bk_retry_state_clear(&s);

    /* The built-in random source stays inside the bounds. */
    cfg.base_delay_ms = 100;
    cfg.random01 = NULL;
    bk_retry_state_init(&s, &cfg, NULL);
    uint64_t max_seen = 0, min_seen = UINT64_MAX;
    for (int i = 0; i < 2000; i++) {
        uint64_t d = bk_retry_backoff_ms(&s, 2);
        assert_true(d <= 200);
        max_seen = d > max_seen ? d : max_seen;
        min_seen = d < min_seen ? d : min_seen;
    }
    assert_true(max_seen > 150 && min_seen < 50); /* it does jitter */
    bk_retry_state_clear(&s);
}

static void quota_drains_and_refunds(void **state)
{
    (void)state;
    bk_retry_state s;
    bk_retry_state_init(&s, NULL, NULL);
    assert_int_equal(bk_retry_quota_left(&s), 500);
    int paid = 0;
    for (int i = 0; i < 100; i++) {
        int cost = bk_retry_quota_acquire(&s, BK_RETRY_TRANSIENT);
        assert_int_equal(cost, 5);
        paid += cost;
    }
    assert_int_equal(paid, 500);
    assert_int_equal(bk_retry_quota_acquire(&s, BK_RETRY_TRANSIENT), 0); /* exhausted */
    bk_retry_quota_release(&s, 5); /* a retried request succeeded: refund */
    assert_int_equal(bk_retry_quota_left(&s), 5);
    assert_int_equal(bk_retry_quota_acquire(&s, BK_RETRY_TIMEOUT), 0); /* a timeout costs 10 */
    bk_retry_quota_release(&s, 0);                                     /* first-try success: +1 */
    assert_int_equal(bk_retry_quota_left(&s), 6);
    for (int i = 0; i < 1000; i++)
        bk_retry_quota_release(&s, 10);
    assert_int_equal(bk_retry_quota_left(&s), 500); /* never above the start */
    assert_int_equal(bk_retry_quota_acquire(&s, BK_RETRY_TIMEOUT), 10);
    assert_int_equal(bk_retry_quota_left(&s), 490);
    bk_retry_state_clear(&s);
}

static void adaptive_limiter(void **state)
{
    (void)state;
    fake f = {.random = 0.5, .now = 1000.0};
    bk_clock clock = {NULL, fake_now, fake_sleep, &f};
    bk_retry_config cfg;
    bk_retry_config_init(&cfg);
    cfg.random01 = fake_random;
    cfg.random_ud = &f;
    bk_retry_state s;

    /* Standard mode never limits. */
    bk_retry_state_init(&s, &cfg, &clock);
    bk_retry_rate_update(&s, 1);
    assert_int_equal(bk_retry_rate_acquire(&s), 0);
    assert_true(bk_retry_rate_current(&s) == 0);
    bk_retry_state_clear(&s);

    cfg.mode = BK_RETRY_ADAPTIVE;
    bk_retry_state_init(&s, &cfg, &clock);
    /* Off until the first throttle: 10 requests/s go through freely. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(bk_retry_rate_acquire(&s), 0);
        bk_retry_rate_update(&s, 0);
        f.now += 0.1;
    }
    assert_true(bk_retry_rate_current(&s) == 0);
    /* Throttled: the rate drops to 0.7 x the measured ~10/s. */
    bk_retry_rate_update(&s, 1);
    double after_throttle = bk_retry_rate_current(&s);
    assert_true(after_throttle > 5.0 && after_throttle < 8.0);
    /* Sending faster than that now costs waiting. */
    uint64_t waited = 0;
    for (int i = 0; i < 20; i++)
        waited += bk_retry_rate_acquire(&s);
    assert_true(waited > 1000); /* 20 tokens at <8/s need more than a second */
    /* Successes let the rate climb back along the cubic curve. */
    for (int i = 0; i < 100; i++) {
        f.now += 0.1;
        bk_retry_rate_update(&s, 0);
    }
    assert_true(bk_retry_rate_current(&s) > after_throttle);
    /* A second throttle cuts it again. */
    double before = bk_retry_rate_current(&s);
    bk_retry_rate_update(&s, 1);
    assert_true(bk_retry_rate_current(&s) < before);
    assert_true(bk_retry_rate_current(&s) >= 0.5); /* the SDK's minimum fill rate */
    bk_retry_sleep(&s, 250);
    assert_int_equal(f.slept, 250);
    bk_retry_state_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classification),
        cmocka_unit_test(backoff_is_full_jitter_capped),
        cmocka_unit_test(quota_drains_and_refunds),
        cmocka_unit_test(adaptive_limiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
