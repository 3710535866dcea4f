/* The two date formats S3 uses: ISO 8601 in XML bodies, RFC 7231 in
 * headers (Last-Modified). Private to libbkcache's s3 layer. */
#ifndef BKCACHE_S3TIME_H
#define BKCACHE_S3TIME_H

#include <time.h>

/* "2009-10-12T17:50:30.000Z" (fraction and Z optional) -> UTC time; 0 on success. */
int bk__s3_parse_iso8601(const char *s, time_t *out);
/* "Wed, 12 Oct 2009 17:50:00 GMT" -> UTC time; 0 on success. */
int bk__s3_parse_http_date(const char *s, time_t *out);

#endif
