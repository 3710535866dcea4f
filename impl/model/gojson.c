#include "bkcache/gojson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- calendar arithmetic (proleptic Gregorian, like Go's time package) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

bk_time bk_time_zero(void)
{
    bk_time t = {BK_TIME_ZERO_SEC, 0, 0};
    return t;
}

bool bk_time_is_zero(bk_time t)
{
    return t.sec == BK_TIME_ZERO_SEC && t.nsec == 0;
}

int bk_time_compare(bk_time a, bk_time b)
{
    if (a.sec != b.sec)
        return a.sec < b.sec ? -1 : 1;
    if (a.nsec != b.nsec)
        return a.nsec < b.nsec ? -1 : 1;
    return 0;
}

bk_time bk_time_utc(bk_time t)
{
    t.offset_min = 0;
    return t;
}

bk_time bk_time_from_unix(int64_t sec, int32_t nsec, int32_t offset_min)
{
    bk_time t = {sec, nsec, offset_min};
    return t;
}

/* ---- RFC 3339 parsing ---- */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bk_code bk_time_parse(const char *s, size_t len, bk_time *out, bk_err *err)
{
    /* 2006-01-02T15:04:05 is 19 bytes; the zone needs at least one more. */
    if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return bk_err_set(err, BK_EINVAL,
                          "time \"%.*s\" is not RFC 3339 (2006-01-02T15:04:05Z07:00)",
                          (int)(len > 64 ? 64 : len), s);
    int64_t year = num(s, 4);
    int month = num(s + 5, 2), day = num(s + 8, 2);
    int hour = num(s + 11, 2), min = num(s + 14, 2), sec = num(s + 17, 2);
    if (month < 1 || month > 12)
        return bk_err_set(err, BK_EINVAL, "time \"%.*s\": month out of range", (int)len, s);
    if (day < 1 || day > days_in_month(year, month))
        return bk_err_set(err, BK_EINVAL, "time \"%.*s\": day out of range", (int)len, s);
    if (hour > 23 || min > 59 || sec > 59)
        return bk_err_set(err, BK_EINVAL, "time \"%.*s\": hour, minute or second out of range",
                          (int)len, s);
    size_t i = 19;
    int32_t nsec = 0;
    if (i + 1 < len && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        int ndig = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (ndig < 9) {
                nsec = nsec * 10 + (s[i] - '0');
                ndig++;
            }
            i++;
        }
        for (; ndig < 9; ndig++)
            nsec *= 10;
    }
    int offset = 0;
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) &&
               s[i + 3] == ':' && digits(s + i + 4, 2)) {
        int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);
        if (oh > 23)
            return bk_err_set(err, BK_EINVAL, "time \"%.*s\": timezone hour out of range", (int)len,
                              s);
        if (om > 59)
            return bk_err_set(err, BK_EINVAL, "time \"%.*s\": timezone minute out of range",
                              (int)len, s);
        offset = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return bk_err_set(err, BK_EINVAL, "time \"%.*s\" is not RFC 3339 (bad fraction or zone)",
                          (int)(len > 64 ? 64 : len), s);
    }
    if (i != len)
        return bk_err_set(err, BK_EINVAL, "time \"%.*s\": extra text after the zone",
                          (int)(len > 64 ? 64 : len), s);
    int64_t local =
        days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;
    out->sec = local - (int64_t)offset * 60;
    out->nsec = nsec;
    out->offset_min = offset;
    return BK_OK;
}

/* v in decimal, zero-padded to at least width digits, at out + n (for
 * times); returns the new length. */
static size_t put_fixed(char *out, size_t n, unsigned v, int width)
{
    char digits[16];
    size_t k = sizeof digits;
    do {
        digits[--k] = (char)('0' + v % 10);
        v /= 10;
        width--;
    } while (v || width > 0);
    memcpy(out + n, digits + k, sizeof digits - k);
    return n + (sizeof digits - k);
}

bk_code bk_time_format(bk_buf *b, bk_time t, bk_err *err)
{
    int64_t local = t.sec + (int64_t)t.offset_min * 60;
    int64_t days = floor_div(local, 86400);
    int64_t secs = local - days * 86400;
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999)
        return bk_err_set(err, BK_EINVAL, "time: year %lld outside of range [0,9999]",
                          (long long)year);
    /* Written whole, then appended once (a manifest has a time per layer
     * and per result). At most 4+15+10+1+8+3 bytes: an offset of any int32
     * minutes fits. */
    char out[64];
    size_t n = put_fixed(out, 0, (unsigned)year, 4);
    out[n++] = '-';
    n = put_fixed(out, n, (unsigned)month, 2);
    out[n++] = '-';
    n = put_fixed(out, n, (unsigned)day, 2);
    out[n++] = 'T';
    n = put_fixed(out, n, (unsigned)(secs / 3600), 2);
    out[n++] = ':';
    n = put_fixed(out, n, (unsigned)(secs / 60 % 60), 2);
    out[n++] = ':';
    n = put_fixed(out, n, (unsigned)(secs % 60), 2);
    if (t.nsec != 0) {
        /* the fraction without its trailing zeros */
        unsigned frac = (unsigned)t.nsec;
        int width = 9;
        while (frac % 10 == 0) {
            frac /= 10;
            width--;
        }
        out[n++] = '.';
        n = put_fixed(out, n, frac, width);
    }
    if (t.offset_min == 0) {
        out[n++] = 'Z';
    } else {
        unsigned off = (unsigned)(t.offset_min < 0 ? -t.offset_min : t.offset_min);
        out[n++] = t.offset_min < 0 ? '-' : '+';
        n = put_fixed(out, n, off / 60, 2);
        out[n++] = ':';
        n = put_fixed(out, n, off % 60, 2);
    }
    bk_buf_append(b, out, n);
    return BK_OK;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the byte at s
 * does not start one. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    v = (v << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

bool bk_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

char *bk_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    bk_buf b = BK_BUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0) {
            bk_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            bk_buf_append(&b, p + i, n);
            i += n;
        }
    }
    if (out_len)
        *out_len = b.len;
    return bk_buf_steal(&b);
}

/* ---- JSON output ---- */

/* The printable ASCII bytes Go's encoder escapes: '"', '\\' and, for HTML,
 * '<', '>', '&'. Every other byte in 0x20..0x7F is written as it is. */
static const bool ascii_escaped[0x80] = {
    ['"'] = true, ['\\'] = true, ['<'] = true, ['>'] = true, ['&'] = true,
};

/* Whether c is written as it is whatever surrounds it: the fast path for runs
 * of such bytes. Control bytes and every byte >= 0x80 (U+2028/2029 and
 * invalid UTF-8 are escaped) take the slow path. */
static inline bool plain_byte(unsigned char c)
{
    return (unsigned)(c - 0x20) < 0x60 && !ascii_escaped[c];
}

void bk_gojson_string(bk_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    bk_buf_putc(b, '"');
    size_t i = 0, start = 0;
    while (i < len) {
        while (i < len && plain_byte(p[i]))
            i++;
        if (i == len)
            break;
        unsigned char c = p[i];
        if (c < 0x80) {
            bk_buf_append(b, p + start, i - start);
            switch (c) {
            case '"':
                bk_buf_puts(b, "\\\"");
                break;
            case '\\':
                bk_buf_puts(b, "\\\\");
                break;
            case '\b':
                bk_buf_puts(b, "\\b");
                break;
            case '\f':
                bk_buf_puts(b, "\\f");
                break;
            case '\n':
                bk_buf_puts(b, "\\n");
                break;
            case '\r':
                bk_buf_puts(b, "\\r");
                break;
            case '\t':
                bk_buf_puts(b, "\\t");
                break;
            default: {
                char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF], 0};
                bk_buf_puts(b, esc);
            }
            }
            i++;
            start = i;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0) {
            bk_buf_append(b, p + start, i - start);
            bk_buf_puts(b, "\\ufffd");
            i++;
            start = i;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            bk_buf_append(b, p + start, i - start);
            bk_buf_printf(b, "\\u202%c", cp == 0x2028 ? '8' : '9');
            i += n;
            start = i;
            continue;
        }
        i += n;
    }
    bk_buf_append(b, p + start, len - start);
    bk_buf_putc(b, '"');
}

void bk_gojson_int(bk_buf *b, int64_t v)
{
    if (v < 0)
        bk_buf_putc(b, '-');
    bk_buf_put_u64(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

static void newline(bk_buf *b, int depth)
{
    bk_buf_putc(b, '\n');
    for (int i = 0; i < depth; i++)
        bk_buf_puts(b, "  ");
}

void bk_gojson_indent(bk_buf *b, const char *src, size_t len)
{
    int depth = 0;
    bool in_string = false, need_indent = false;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (in_string) {
            bk_buf_putc(b, c);
            if (c == '\\' && i + 1 < len) {
                bk_buf_putc(b, src[++i]);
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (need_indent && c != ']' && c != '}') {
            need_indent = false;
            depth++;
            newline(b, depth);
        }
        switch (c) {
        case '"':
            in_string = true;
            bk_buf_putc(b, c);
            break;
        case '{':
        case '[':
            bk_buf_putc(b, c);
            need_indent = true; /* delayed so that {} and [] stay together */
            break;
        case ',':
            bk_buf_putc(b, c);
            newline(b, depth);
            break;
        case ':':
            bk_buf_puts(b, ": ");
            break;
        case '}':
        case ']':
            if (need_indent) {
                need_indent = false; /* empty container */
            } else {
                depth--;
                newline(b, depth);
            }
            bk_buf_putc(b, c);
            break;
        default:
            bk_buf_putc(b, c);
        }
    }
}
