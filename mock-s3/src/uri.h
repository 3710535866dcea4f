/* Text as it arrives in a request line or a header: percent-decoding, media
 * types and UTF-8 validation. */
#ifndef MS3_URI_H
#define MS3_URI_H

#include <stddef.h>

/* Percent-decodes (plus_is_space for query strings); NULL on a malformed escape. */
char *ms3__url_decode(const char *s, size_t len, int plus_is_space);
/* 1 when s (len bytes) is valid UTF-8 without NUL. */
int ms3__utf8_valid(const char *s, size_t len);
/* 1 when a Content-Type value is the media type `type` (case-insensitive,
 * parameters such as "; charset=utf-8" allowed); 0 for NULL. */
int ms3__media_type_is(const char *content_type, const char *type);

#endif
