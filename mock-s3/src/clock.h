/* The mock's notion of "now": the real clock plus an adjustable offset, so tests
 * can move time (Last-Modified stamps, skew checks, presign expiry) without
 * waiting; and waits that end early when the server stops. */
#ifndef MS3_CLOCK_H
#define MS3_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ms3_clock {
    _Atomic int64_t offset_seconds;
} ms3_clock;

void ms3__clock_init(ms3_clock *c, int64_t offset_seconds);
void ms3__clock_set_offset(ms3_clock *c, int64_t offset_seconds);
int64_t ms3__clock_offset(ms3_clock *c);
int64_t ms3__clock_now(ms3_clock *c);    /* unix seconds */
int64_t ms3__clock_now_ms(ms3_clock *c); /* unix milliseconds */
double ms3__clock_now_f(ms3_clock *c);   /* unix seconds with fraction */
double ms3__monotonic(void);             /* for durations; not shifted */

/* Sleeps (delay faults) that a stopping server cuts short, so stop never waits
 * for a sleeping fault. */
typedef struct ms3_sleeper {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
} ms3_sleeper;

void ms3__sleeper_init(ms3_sleeper *s);
void ms3__sleeper_clear(ms3_sleeper *s);
/* Sleeps up to ms (real time), less when ms3__sleeper_stop is called. */
void ms3__sleeper_sleep_ms(ms3_sleeper *s, uint32_t ms);
/* Ends every sleep, now and later. */
void ms3__sleeper_stop(ms3_sleeper *s);

/* "Wed, 12 Oct 2009 17:50:00 GMT" (HTTP headers). out >= 32 bytes. */
void ms3__time_rfc1123(int64_t unix_seconds, char *out, size_t n);
/* "2009-10-12T17:50:00.123Z" (S3 XML). out >= 32 bytes. */
void ms3__time_iso8601_ms(int64_t unix_ms, char *out, size_t n);
/* Parses "20130524T000000Z" (x-amz-date); -1 when malformed. */
int64_t ms3__time_parse_amz(const char *s);
/* Parses an RFC 1123 date ("Date" header fallback); -1 when malformed. */
int64_t ms3__time_parse_rfc1123(const char *s);

#endif
