/* One source of time for a client and everything built on it: the wall
 * clock (x-amz-date, credential expiry, the touch decision, updated-at), a
 * monotonic clock (the retry limiter, durations in summaries) and sleep (retry
 * back-off). Tests hand in a fake so that nothing waits and every timestamp is
 * known; a NULL clock, or a NULL member, means the system's. A clock is a
 * small value: copy it freely, ud must outlive every copy. */
#ifndef BKCACHE_CLOCK_H
#define BKCACHE_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_clock {
    int64_t (*wall_ns)(void *ud); /* nanoseconds since the Unix epoch (UTC) */
    int64_t (*mono_ns)(void *ud); /* nanoseconds from an arbitrary start; never jumps */
    void (*sleep_ms)(void *ud, uint64_t ms);
    void *ud;
} bk_clock;

#define BK_NS_PER_SEC 1000000000LL

int64_t bk_clock_wall_ns(const bk_clock *c);
int64_t bk_clock_mono_ns(const bk_clock *c);
/* The monotonic clock in seconds, for durations. */
double bk_clock_mono_seconds(const bk_clock *c);
void bk_clock_sleep_ms(const bk_clock *c, uint64_t ms);

#ifdef __cplusplus
}
#endif

#endif
