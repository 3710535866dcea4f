/* A forward HTTP proxy on loopback that adds "Accept-Encoding: gzip" to every
 * request that has no Accept-Encoding and no Range and is not a HEAD, after
 * the client signed it: what Go's net/http transport does under BuildKit
 * with disable_accept_encoding=true (requestedGzip in net/http/transport.go).
 * libcurl sends through it when http_proxy names it; nothing else changes,
 * so the Host header and the signature stay the client's own. */
#ifndef BKCONF_BROKEN_PROXY_H
#define BKCONF_BROKEN_PROXY_H

#include <stddef.h>

#include "bkcache/error.h"

typedef struct gzip_proxy gzip_proxy;

/* Listens on 127.0.0.1 (ephemeral port); url receives "http://127.0.0.1:PORT".
 * Only loopback origins are relayed. */
gzip_proxy *gzip_proxy_start(char *url, size_t url_size, bk_err *err);
/* Stops accepting and waits for the open connections to end (their clients
 * must be gone: free the S3 client first). NULL is a no-op. */
void gzip_proxy_stop(gzip_proxy *p);

#endif
