/* Byte-exact reproductions of what Go's encoding/json and time packages write
 * and accept, for the pieces the BuildKit cache config needs: strings, times
 * (RFC 3339 with nanoseconds and the original UTC offset) and the indentation
 * of json.Indent. Pure functions, no global state. */
#ifndef BKCACHE_GOJSON_H
#define BKCACHE_GOJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bkcache/buf.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A Go time.Time as far as JSON can see it: an instant plus the UTC offset it
 * was written with. Two times are the same instant when sec and nsec match,
 * whatever their offsets. */
typedef struct bk_time {
    int64_t sec;        /* seconds since 1970-01-01T00:00:00Z (negative before) */
    int32_t nsec;       /* 0 .. 999999999 */
    int32_t offset_min; /* UTC offset in minutes; written as Z when 0 */
} bk_time;

/* Go's zero time, 0001-01-01T00:00:00Z. */
#define BK_TIME_ZERO_SEC INT64_C(-62135596800)
bk_time bk_time_zero(void);
bool bk_time_is_zero(bk_time t);
/* <0, 0, >0 like strcmp, comparing instants only. */
int bk_time_compare(bk_time a, bk_time b);
/* The same instant at offset 0 (Go's t.UTC()). */
bk_time bk_time_utc(bk_time t);
bk_time bk_time_from_unix(int64_t sec, int32_t nsec, int32_t offset_min);

/* Parses RFC 3339 exactly as Go's time.Time.UnmarshalJSON (Go >= 1.20) does:
 * four-digit year, two-digit fields, optional '.' fraction of any length
 * (truncated to nanoseconds), 'Z' or +hh:mm/-hh:mm with hh <= 23, mm <= 59,
 * calendar ranges checked. BK_EINVAL with a message on anything else. */
bk_code bk_time_parse(const char *s, size_t len, bk_time *out, bk_err *err);

/* Appends the time the way Go's MarshalText/MarshalJSON writes it (RFC 3339
 * with nanoseconds, trailing zeros of the fraction trimmed, Z for offset 0),
 * without quotes. Fails (BK_EINVAL) only for years outside 0..9999. */
bk_code bk_time_format(bk_buf *b, bk_time t, bk_err *err);

/* Appends s as a quoted JSON string with Go's escaping (HTML-safe: < > & as
 * \u003c \u003e \u0026, U+2028/U+2029 escaped, \b \f \n \r \t short forms
 * like Go >= 1.22, other control bytes as \u00XX, each byte of invalid
 * UTF-8 as \ufffd). s may be NULL (written as ""). */
void bk_gojson_string(bk_buf *b, const char *s, size_t len);

/* Appends a decimal integer. */
void bk_gojson_int(bk_buf *b, int64_t v);

/* Re-indents compact JSON the way json.Indent(dst, src, "", "  ") does:
 * one element per line, "key": value, empty {} and [] kept on one line.
 * src must be valid JSON (it is not validated). */
void bk_gojson_indent(bk_buf *b, const char *src, size_t len);

/* True when s[0..len) is valid UTF-8 by Go's rules (no surrogates, no
 * overlong forms, nothing above U+10FFFF). */
bool bk_utf8_valid(const char *s, size_t len);

/* Replaces every byte that does not start a valid UTF-8 sequence with
 * U+FFFD, as Go does when it decodes a JSON string. Returns a new
 * NUL-terminated allocation (free() it) and its length, or NULL. */
char *bk_utf8_sanitize(const char *s, size_t len, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
