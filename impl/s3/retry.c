#include "bkcache/retry.h"

#include <string.h>

/* Small helpers so the library needs no libm. */
static double dmin(double a, double b)
{
    return a < b ? a : b;
}

static double dmax(double a, double b)
{
    return a > b ? a : b;
}

static double dfloor(double x)
{
    double t = (double)(int64_t)x;
    return t > x ? t - 1 : t;
}

static double dceil(double x)
{
    double t = (double)(int64_t)x;
    return t < x ? t + 1 : t;
}

static double dcbrt(double x)
{
    if (x == 0)
        return 0;
    int neg = x < 0;
    if (neg)
        x = -x;
    double y = x > 1 ? x / 3 : 1;
    for (int i = 0; i < 100; i++) {
        double next = (2 * y + x / (y * y)) / 3;
        if (next == y)
            break;
        y = next;
    }
    return neg ? -y : y;
}

void bk_retry_config_init(bk_retry_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = BK_RETRY_STANDARD;
    c->max_attempts = 3;
    c->base_delay_ms = 1000;
    c->max_backoff_ms = 20000;
    c->quota_initial = 500;
    c->quota_retry_cost = 5;
    c->quota_timeout_cost = 10;
}

static const char *const throttle_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
};

int bk_retry_is_throttle_code(const char *s3_code)
{
    if (s3_code == NULL)
        return 0;
    for (size_t i = 0; i < sizeof throttle_codes / sizeof throttle_codes[0]; i++)
        if (strcmp(s3_code, throttle_codes[i]) == 0)
            return 1;
    return 0;
}

bk_retry_kind bk_retry_classify(int status, const char *s3_code, int transport_timeout)
{
    if (status == 0)
        return transport_timeout ? BK_RETRY_TIMEOUT : BK_RETRY_TRANSIENT;
    if (bk_retry_is_throttle_code(s3_code) || status == 429)
        return BK_RETRY_THROTTLE;
    if (s3_code != NULL)
        for (size_t i = 0; i < sizeof transient_codes / sizeof transient_codes[0]; i++)
            if (strcmp(s3_code, transient_codes[i]) == 0)
                return BK_RETRY_TRANSIENT;
    if (status == 500 || status == 502 || status == 503 || status == 504)
        return BK_RETRY_TRANSIENT;
    return BK_RETRY_NONE;
}

static double now_s(bk_retry_state *s)
{
    return bk_clock_mono_seconds(&s->clock);
}

/* splitmix64: enough for jitter, and private to this state. Caller holds the lock. */
static double random01_locked(bk_retry_state *s)
{
    if (s->cfg.random01)
        return s->cfg.random01(s->cfg.random_ud);
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

void bk_retry_state_init(bk_retry_state *s, const bk_retry_config *cfg, const bk_clock *clock)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    if (cfg != NULL)
        s->cfg = *cfg;
    else
        bk_retry_config_init(&s->cfg);
    if (s->cfg.max_attempts < 1)
        s->cfg.max_attempts = 1;
    if (clock != NULL)
        s->clock = *clock;
    s->quota = s->cfg.quota_initial;
    /* A seed that differs between clients and runs; jitter needs no more. */
    uint64_t wall = (uint64_t)bk_clock_wall_ns(&s->clock);
    s->rng = wall ^ (wall << 20) ^ (uint64_t)(uintptr_t)s;
    s->fill_rate = 0;
    s->max_capacity = 0;
    s->current_capacity = 0;
    s->last_tx_rate_bucket = dfloor(now_s(s));
    s->last_throttle_time = now_s(s);
}

void bk_retry_state_clear(bk_retry_state *s)
{
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

uint64_t bk_retry_backoff_ms(bk_retry_state *s, int retry)
{
    if (retry < 1)
        retry = 1;
    uint64_t cap = s->cfg.max_backoff_ms;
    uint64_t ceiling = s->cfg.base_delay_ms;
    for (int i = 1; i < retry && ceiling < cap; i++)
        ceiling *= 2;
    if (ceiling > cap)
        ceiling = cap;
    pthread_mutex_lock(&s->lock);
    double r = random01_locked(s);
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        r = 0;
    if (r > 1)
        r = 1;
    return (uint64_t)(r * (double)ceiling);
}

int bk_retry_quota_acquire(bk_retry_state *s, bk_retry_kind kind)
{
    int cost = kind == BK_RETRY_TIMEOUT ? s->cfg.quota_timeout_cost : s->cfg.quota_retry_cost;
    pthread_mutex_lock(&s->lock);
    int ok = s->quota >= cost;
    if (ok)
        s->quota -= cost;
    pthread_mutex_unlock(&s->lock);
    return ok ? cost : 0;
}

void bk_retry_quota_release(bk_retry_state *s, int last_cost)
{
    pthread_mutex_lock(&s->lock);
    s->quota += last_cost > 0 ? last_cost : 1;
    if (s->quota > s->cfg.quota_initial)
        s->quota = s->cfg.quota_initial;
    pthread_mutex_unlock(&s->lock);
}

int bk_retry_quota_left(bk_retry_state *s)
{
    pthread_mutex_lock(&s->lock);
    int q = s->quota;
    pthread_mutex_unlock(&s->lock);
    return q;
}

/* ---- adaptive limiter (the SDKs' CUBIC client rate limiter) ---- */

#define BETA 0.7
#define SCALE_CONSTANT 0.4
#define SMOOTH 0.8
#define MIN_FILL_RATE 0.5
#define MIN_CAPACITY 1.0

static void refill(bk_retry_state *s, double now)
{
    if (!s->have_last_timestamp) {
        s->last_timestamp = now;
        s->have_last_timestamp = 1;
        return;
    }
    double fill = (now - s->last_timestamp) * s->fill_rate;
    s->current_capacity = dmin(s->max_capacity, s->current_capacity + fill);
    s->last_timestamp = now;
}

uint64_t bk_retry_rate_acquire(bk_retry_state *s)
{
    if (s->cfg.mode != BK_RETRY_ADAPTIVE)
        return 0;
    pthread_mutex_lock(&s->lock);
    uint64_t wait_ms = 0;
    if (s->limiter_enabled) {
        refill(s, now_s(s));
        if (s->current_capacity < 1.0)
            wait_ms = (uint64_t)dceil((1.0 - s->current_capacity) / s->fill_rate * 1000.0);
        /* The token is taken now; waiting pays the debt. */
        s->current_capacity -= 1.0;
    }
    pthread_mutex_unlock(&s->lock);
    return wait_ms;
}

static void update_measured_rate(bk_retry_state *s, double now)
{
    double bucket = dfloor(now * 2.0) / 2.0;
    s->request_count += 1;
    if (bucket > s->last_tx_rate_bucket) {
        double rate = s->request_count / (bucket - s->last_tx_rate_bucket);
        s->measured_tx_rate = rate * SMOOTH + s->measured_tx_rate * (1 - SMOOTH);
        s->request_count = 0;
        s->last_tx_rate_bucket = bucket;
    }
}

static void set_bucket_rate(bk_retry_state *s, double rate, double now)
{
    refill(s, now);
    s->fill_rate = dmax(rate, MIN_FILL_RATE);
    s->max_capacity = dmax(rate, MIN_CAPACITY);
    s->current_capacity = dmin(s->current_capacity, s->max_capacity);
}

void bk_retry_rate_update(bk_retry_state *s, int throttled)
{
    if (s->cfg.mode != BK_RETRY_ADAPTIVE)
        return;
    pthread_mutex_lock(&s->lock);
    double now = now_s(s);
    update_measured_rate(s, now);
    double rate;
    if (throttled) {
        double base =
            s->limiter_enabled ? dmin(s->measured_tx_rate, s->fill_rate) : s->measured_tx_rate;
        s->last_max_rate = base;
        s->time_window = dcbrt(s->last_max_rate * (1 - BETA) / SCALE_CONSTANT);
        s->last_throttle_time = now;
        rate = base * BETA;
        s->limiter_enabled = 1;
    } else {
        s->time_window = dcbrt(s->last_max_rate * (1 - BETA) / SCALE_CONSTANT);
        double dt = now - s->last_throttle_time - s->time_window;
        rate = SCALE_CONSTANT * dt * dt * dt + s->last_max_rate;
    }
    rate = dmin(rate, 2 * s->measured_tx_rate);
    set_bucket_rate(s, rate, now);
    pthread_mutex_unlock(&s->lock);
}

double bk_retry_rate_current(bk_retry_state *s)
{
    pthread_mutex_lock(&s->lock);
    double r = s->limiter_enabled ? s->fill_rate : 0;
    pthread_mutex_unlock(&s->lock);
    return r;
}

void bk_retry_sleep(bk_retry_state *s, uint64_t ms)
{
    bk_clock_sleep_ms(&s->clock, ms);
}
