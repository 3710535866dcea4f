/* Parse a raw HTTP/1.1 request text (the ".req" format of the SigV4 test
 * suites): request line, headers, blank line, body.
 *   - lines end in LF or CRLF;
 *   - the request target may contain spaces (it runs up to the last " HTTP/");
 *   - a header line starting with a space or tab continues the previous header
 *     (joined with one space);
 *   - repeated headers stay separate entries, in order (SigV4's canonical form
 *     joins them with ','), values trimmed of surrounding blanks;
 *   - everything after the first empty line is the body, byte for byte; a text
 *     that ends without an empty line has no body.
 * Used by `bkcache sigv4` and by the SigV4 vector tests. */
#ifndef BKCACHE_HTTPREQ_H
#define BKCACHE_HTTPREQ_H

#include <stddef.h>

#include "bkcache/error.h"
#include "bkcache/sigv4.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_httpreq {
    char *method;
    char *target;             /* as on the request line */
    char *raw_path;           /* target up to '?' */
    char *raw_query;          /* after '?', "" when none */
    char *version;            /* "HTTP/1.1" */
    bk_sigv4_header *headers; /* owned strings */
    size_t n_headers;
    char *body; /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
} bk_httpreq;

/* BK_EINVAL with a one-line message on a malformed request line or header. */
bk_code bk_httpreq_parse(const char *text, size_t len, bk_httpreq *out, bk_err *err);
void bk_httpreq_clear(bk_httpreq *r);

/* Appends a header (copies name and value). */
bk_code bk_httpreq_add_header(bk_httpreq *r, const char *name, const char *value, bk_err *err);
/* Removes every header with that name (case-insensitive); returns how many. */
size_t bk_httpreq_remove_header(bk_httpreq *r, const char *name);
/* First value of a header (case-insensitive), or NULL. */
const char *bk_httpreq_header(const bk_httpreq *r, const char *name);

#ifdef __cplusplus
}
#endif

#endif
