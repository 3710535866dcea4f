#include "bkcache/clock.h"

#include <errno.h>
#include <time.h>

static int64_t system_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * BK_NS_PER_SEC + ts.tv_nsec;
}

int64_t bk_clock_wall_ns(const bk_clock *c)
{
    if (c != NULL && c->wall_ns != NULL)
        return c->wall_ns(c->ud);
    return system_ns(CLOCK_REALTIME);
}

int64_t bk_clock_mono_ns(const bk_clock *c)
{
    if (c != NULL && c->mono_ns != NULL)
        return c->mono_ns(c->ud);
    return system_ns(CLOCK_MONOTONIC);
}

double bk_clock_mono_seconds(const bk_clock *c)
{
    return (double)bk_clock_mono_ns(c) / (double)BK_NS_PER_SEC;
}

void bk_clock_sleep_ms(const bk_clock *c, uint64_t ms)
{
    if (c != NULL && c->sleep_ms != NULL) {
        c->sleep_ms(c->ud, ms);
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
