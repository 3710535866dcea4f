/* Retry policy of the AWS SDKs' "standard" and "adaptive" modes, as pure
 * arithmetic over an injectable clock (bkcache/clock.h) and random source, so
 * tests never sleep.
 *
 * standard: up to max_attempts attempts (default 3). Retryable: HTTP 500, 502,
 * 503, 504 and 429; the throttling codes (SlowDown, Throttling, ...);
 * RequestTimeout / RequestTimeoutException / InternalError; connection errors
 * and timeouts. Any other 4xx is final. Before retry n (n = 1 for the second
 * attempt) the delay is random in [0, min(base * 2^(n-1), max_backoff)]
 * ("full jitter"; base 1 s and max 20 s as in the SDKs). A retry quota shared
 * by the whole client starts at 500 tokens; a retry costs 5 (10 after a
 * timeout), and when it cannot be paid the error is returned at once. A
 * request that succeeds after retries refunds what its last retry cost; one
 * that succeeds at once adds 1 token (up to the initial 500).
 *
 * adaptive: standard, plus a client-side token bucket whose rate follows the
 * SDKs' CUBIC algorithm: it is off until the first throttling error, then the
 * sending rate drops to 0.7 x the measured rate and recovers along a cubic
 * curve; every attempt first takes one token and waits for it. */
#ifndef BKCACHE_RETRY_H
#define BKCACHE_RETRY_H

#include <pthread.h>
#include <stdint.h>

#include "bkcache/clock.h"
#include "bkcache/env.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_retry_mode { BK_RETRY_STANDARD = 0, BK_RETRY_ADAPTIVE } bk_retry_mode;

/* What a failed attempt was. */
typedef enum bk_retry_kind {
    BK_RETRY_NONE = 0,  /* final: do not retry */
    BK_RETRY_TRANSIENT, /* 5xx, connection reset, ... */
    BK_RETRY_THROTTLE,  /* SlowDown, 429, ...: also slows the adaptive limiter */
    BK_RETRY_TIMEOUT,   /* the request timed out: costs more quota */
} bk_retry_kind;

typedef struct bk_retry_config {
    bk_retry_mode mode;
    int max_attempts;        /* >= 1; default 3 */
    uint64_t base_delay_ms;  /* default 1000 */
    uint64_t max_backoff_ms; /* default 20000 */
    int quota_initial;       /* default 500 */
    int quota_retry_cost;    /* default 5 */
    int quota_timeout_cost;  /* default 10 */
    /* The jitter's random source, uniform in [0, 1); NULL = the state's own. */
    double (*random01)(void *ud);
    void *random_ud;
} bk_retry_config;

void bk_retry_config_init(bk_retry_config *c);

/* The SDK's retry settings from outside the program: AWS_RETRY_MODE, else
 * the profile's retry_mode (standard or adaptive); AWS_MAX_ATTEMPTS, else the
 * profile's max_attempts (an integer; an empty variable or 0 counts as unset,
 * as in the SDK; negative is refused). The variable wins over the profile,
 * each setting on its own. Both sources are checked whatever keep_* say (the
 * SDK loads them before any option applies); only the settings not kept are
 * written into c. BK_EINVAL with the SDK's message for an invalid value
 * ("invalid AWS_RETRY_MODE value, unknown RetryMode, fast", "invalid value
 * AWS_MAX_ATTEMPTS=x, strconv.ParseInt: ...", "failed to load max_attempts
 * from shared config, invalid value max_attempts=x, expect integer"). */
bk_code bk_retry_config_from_env(bk_retry_config *c, const bk_env *env, int keep_mode,
                                 int keep_max_attempts, bk_err *err);

/* Classification of one response or transport outcome. status 0 = no HTTP
 * response (transport_timeout tells timeout from connection failure).
 * s3_code may be NULL or "". */
bk_retry_kind bk_retry_classify(int status, const char *s3_code, int transport_timeout);
int bk_retry_is_throttle_code(const char *s3_code);

/* Shared retry state of one client; thread-safe. */
typedef struct bk_retry_state {
    pthread_mutex_t lock;
    bk_retry_config cfg;
    bk_clock clock;
    int quota;    /* tokens left */
    uint64_t rng; /* default random source, seeded per state */
    /* adaptive limiter (SDK names) */
    int limiter_enabled;
    double fill_rate, max_capacity, current_capacity, last_timestamp;
    int have_last_timestamp;
    double measured_tx_rate, last_tx_rate_bucket, request_count;
    double last_max_rate, last_throttle_time, time_window;
} bk_retry_state;

/* clock NULL = the system's (monotonic time for the limiter, sleep for the
 * back-off); it is copied. */
void bk_retry_state_init(bk_retry_state *s, const bk_retry_config *cfg, const bk_clock *clock);
void bk_retry_state_clear(bk_retry_state *s);

/* Delay before retry number `retry` (1 = before the second attempt), in ms. */
uint64_t bk_retry_backoff_ms(bk_retry_state *s, int retry);

/* Takes the quota for one retry of this kind: returns the cost paid (> 0), or
 * 0 when the quota is exhausted (the caller must give up). */
int bk_retry_quota_acquire(bk_retry_state *s, bk_retry_kind kind);
/* After success: refund `last_cost` (0 when no retry was needed: +1 token). */
void bk_retry_quota_release(bk_retry_state *s, int last_cost);
int bk_retry_quota_left(bk_retry_state *s);

/* Adaptive mode: the delay (ms) to wait before sending the next attempt; 0
 * in standard mode or while the limiter is off. Takes one token. */
uint64_t bk_retry_rate_acquire(bk_retry_state *s);
/* Adaptive mode: record the outcome of an attempt (throttled or not). */
void bk_retry_rate_update(bk_retry_state *s, int throttled);
/* For tests and logs: the limiter's current rate (requests/s), 0 when off. */
double bk_retry_rate_current(bk_retry_state *s);

/* The clock's sleep. */
void bk_retry_sleep(bk_retry_state *s, uint64_t ms);

#ifdef __cplusplus
}
#endif

#endif
