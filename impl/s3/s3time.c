/* S3's dates (s3time.h). */
#include "s3time.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The n digits at s as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS", the form every S3 server sends, read by position:
 * what sscanf below reads from it, without its cost on each entry of a
 * listing. false for anything else, which sscanf then reads as before. */
static bool canonical_time(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
    for (int i = 0; i < 19; i++)
        if (s[i] == '\0')
            return false;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return false;
    *y = digits(s, 4);
    *mo = digits(s + 5, 2);
    *d = digits(s + 8, 2);
    *h = digits(s + 11, 2);
    *mi = digits(s + 14, 2);
    *sec = digits(s + 17, 2);
    return *y >= 0 && *mo >= 0 && *d >= 0 && *h >= 0 && *mi >= 0 && *sec >= 0;
}

int bk__s3_parse_iso8601(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec, n = 19;
    if (s == NULL)
        return -1;
    bool ok = canonical_time(s, &y, &mo, &d, &h, &mi, &sec);
    if (!ok) {
        n = 0;
        /* NOLINTNEXTLINE(cert-err34-c): widths bound every number; the count catches the rest */
        ok = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6;
    }
    if (!ok)
        return -1;
    const char *rest = s + n;
    if (*rest == '.') {
        rest++;
        while (isdigit((unsigned char)*rest))
            rest++;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm);
    return 0;
}

int bk__s3_parse_http_date(const char *s, time_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4] = {0};
    int d, y, h, mi, sec;
    if (s == NULL)
        return -1;
    const char *comma = strchr(s, ',');
    if (comma != NULL)
        s = comma + 1;
    /* Widths keep a hostile header from overflowing an int. */
    /* NOLINTNEXTLINE(cert-err34-c): widths bound every number; the count catches the rest */
    if (sscanf(s, " %2d %3s %4d %2d:%2d:%2d", &d, mon, &y, &h, &mi, &sec) != 6)
        return -1;
    const char *m = strstr(months, mon);
    if (m == NULL || strlen(mon) != 3 || (m - months) % 3 != 0)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm);
    return 0;
}
