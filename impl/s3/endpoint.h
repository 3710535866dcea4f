/* Where requests for a bucket go, and how keys appear in URLs.
 *
 * AWS (no endpoint_url): virtual-hosted https://<bucket>.s3.<region>.amazonaws.com,
 * or path style https://s3.<region>.amazonaws.com/<bucket>.
 * Custom endpoint_url (http or https, optional port, optional base path):
 * path style puts the bucket in the path, otherwise the bucket is prepended to
 * the host name (bucket.host:port), as the SDK does.
 *
 * Keys are percent-encoded exactly once: every byte but A-Za-z0-9 - . _ ~ and
 * '/' becomes %XX (uppercase), so "blobs/sha256:ab" is sent as
 * "blobs/sha256%3Aab", a space as %20, '+' as %2B, '%' as %25 and UTF-8 bytes
 * one by one. The SigV4 canonical URI for S3 is this same path.
 * Private to libbkcache's s3 layer (not installed). */
#ifndef BKCACHE_ENDPOINT_H
#define BKCACHE_ENDPOINT_H

#include "bkcache/buf.h"
#include "bkcache/creds.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_endpoint {
    int https;
    char host[256];        /* name or address as it goes into the URL (IPv6 in brackets) */
    int port;              /* 0 = the scheme's default */
    char host_header[300]; /* Host value: host, plus ":port" when not the default */
    char base_path[512];   /* "" or "/base" (no trailing slash), plus "/<bucket>" for path style */
    char bucket[256];
    int path_style;
    char addressing[400]; /* the style and why: "path style (endpoint host 127.0.0.1 is an
                             IP address)" */
} bk_endpoint;

/* region is needed for AWS; bucket is 1 to 255 characters of a-z A-Z 0-9 . - _
 * (S3's legacy names included). endpoint_url NULL or "" = AWS. The style is
 * the SDK's (see choose_path_style in endpoint.c): path style when forced,
 * when the bucket cannot be a host label (upper case, '_', "..", too short or
 * long, IP-formatted, dots over https) and when the endpoint's host is an IP
 * address; ep->addressing says which and why. BK_EINVAL with a message naming
 * the bad input otherwise. */
bk_code bk__endpoint_resolve(const char *region, const char *bucket, const char *endpoint_url,
                             int use_path_style, bk_endpoint *out, bk_err *err);

/* What to add when ep's host name did not resolve: with virtual-host
 * addressing, the name tried (the bucket in front of the endpoint's host) and
 * the use_path_style=true that avoids it; "" for path style. */
void bk__endpoint_unresolved_hint(const bk_endpoint *ep, char *out, size_t size);

/* Appends the request path for key (NULL = the bucket itself): base path,
 * '/', encoded key. Bucket requests are "/" (virtual host) or "/<bucket>". */
int bk__endpoint_path(const bk_endpoint *ep, const char *key, bk_buf *out);

/* Appends "scheme://host[:port]" + path + ("?" + query when query is non-empty). */
int bk__endpoint_url(const bk_endpoint *ep, const char *path, const char *query, bk_buf *out);

/* The x-amz-copy-source value "/<bucket>/<key>": the key encoded like a path
 * but with ':' left literal (S3 decodes the header; some S3 look-alikes decode
 * it with JavaScript's decodeURI, which would leave "%3A" encoded). */
int bk__endpoint_copy_source(const char *bucket, const char *key, bk_buf *out);

/* Appends "&name=value" (no '&' when out is empty) with both encoded strictly. */
int bk__query_add(bk_buf *out, const char *name, const char *value /* NULL = bare name */);

/* Fallbacks from the environment, as the SDK reads them:
 * region: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's "region";
 * endpoint: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL.
 * Return a malloc'd string or NULL when unset. */
char *bk__endpoint_env_region(const bk_env *env);
char *bk__endpoint_env_url(const bk_env *env);

#ifdef __cplusplus
}
#endif

#endif
