#include "clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void ms3__clock_init(ms3_clock *c, int64_t offset_seconds)
{
    atomic_init(&c->offset_seconds, offset_seconds);
}

void ms3__clock_set_offset(ms3_clock *c, int64_t offset_seconds)
{
    atomic_store(&c->offset_seconds, offset_seconds);
}

int64_t ms3__clock_offset(ms3_clock *c)
{
    return atomic_load(&c->offset_seconds);
}

int64_t ms3__clock_now(ms3_clock *c)
{
    return (int64_t)time(NULL) + ms3__clock_offset(c);
}

int64_t ms3__clock_now_ms(ms3_clock *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec + ms3__clock_offset(c)) * 1000 + ts.tv_nsec / 1000000;
}

double ms3__clock_now_f(ms3_clock *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)((int64_t)ts.tv_sec + ms3__clock_offset(c)) + (double)ts.tv_nsec / 1e9;
}

double ms3__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ms3__sleeper_init(ms3_sleeper *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->stopping = 0;
}

void ms3__sleeper_clear(ms3_sleeper *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

void ms3__sleeper_sleep_ms(ms3_sleeper *s, uint32_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&s->lock);
}

void ms3__sleeper_stop(ms3_sleeper *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void ms3__time_rfc1123(int64_t unix_seconds, char *out, size_t n)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* strftime's %a/%b follow the locale; HTTP needs the English names. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* v (0 <= v < 10^width) in exactly width digits, then sep; the end. */
static char *put_digits(char *p, int v, int width, char sep)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    p[width] = sep;
    return p + width + 1;
}

void ms3__time_iso8601_ms(int64_t unix_ms, char *out, size_t n)
{
    int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
    int ms = (int)(unix_ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999 || n < sizeof "YYYY-MM-DDTHH:MM:SS.mmmZ") {
        snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        return;
    }
    /* A listing writes one per key: the fields are written digit by digit
     * (the formatted print was most of a 1000-key page's cost). */
    char *p = out;
    p = put_digits(p, year, 4, '-');
    p = put_digits(p, tm.tm_mon + 1, 2, '-');
    p = put_digits(p, tm.tm_mday, 2, 'T');
    p = put_digits(p, tm.tm_hour, 2, ':');
    p = put_digits(p, tm.tm_min, 2, ':');
    p = put_digits(p, tm.tm_sec, 2, '.');
    p = put_digits(p, ms, 3, 'Z');
    *p = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t from_fields(int year, int mon, int day, int hour, int min, int sec)
{
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm);
}

int64_t ms3__time_parse_amz(const char *s)
{
    int year, mon, day, hour, min, sec;
    if (s == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    if (digits(s, 4, &year) || digits(s + 4, 2, &mon) || digits(s + 6, 2, &day) ||
        digits(s + 9, 2, &hour) || digits(s + 11, 2, &min) || digits(s + 13, 2, &sec))
        return -1;
    return from_fields(year, mon, day, hour, min, sec);
}

int64_t ms3__time_parse_rfc1123(const char *s)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char mon_name[4] = {0};
    int day, year, hour, min, sec;
    if (s == NULL)
        return -1;
    const char *comma = strchr(s, ',');
    const char *p = comma != NULL ? comma + 1 : s;
    /* Widths keep a hostile header from overflowing an int. */
    /* NOLINTNEXTLINE(cert-err34-c): widths bound every number; the count catches the rest */
    if (sscanf(p, " %2d %3s %4d %2d:%2d:%2d", &day, mon_name, &year, &hour, &min, &sec) != 6)
        return -1;
    for (int m = 0; m < 12; m++)
        if (strcmp(months[m], mon_name) == 0)
            return from_fields(year, m + 1, day, hour, min, sec);
    return -1;
}
