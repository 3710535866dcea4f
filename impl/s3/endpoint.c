#include "endpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/sigv4.h"

/* Percent-encoding is SigV4's (bk_sigv4_uri_encode: every byte but
 * A-Za-z0-9 - . _ ~, and '/' when keep_slash), so the URL and the canonical
 * request cannot disagree. A copy source also keeps ':' literal. */
static int encode(bk_buf *out, const char *s, int keep_slash)
{
    return bk_sigv4_uri_encode(out, s, strlen(s), keep_slash);
}

static int encode_keep_colon(bk_buf *out, const char *s)
{
    for (;;) {
        size_t n = strcspn(s, ":");
        bk_sigv4_uri_encode(out, s, n, 1);
        if (s[n] == '\0')
            break;
        bk_buf_putc(out, ':');
        s += n + 1;
    }
    return out->failed ? -1 : 0;
}

static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        /* Lower-case names are what S3 allows today; upper case and '_' only
         * exist in legacy us-east-1 buckets and need path style. */
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.' || isupper(c) || c == '_'))
            return 0;
    }
    return 1;
}

static int bucket_is_dns_safe(const char *b)
{
    for (const char *p = b; *p; p++)
        if (isupper((unsigned char)*p) || *p == '_')
            return 0;
    return b[0] != '.' && b[0] != '-' && strstr(b, "..") == NULL;
}

static bk_code set_host(bk_endpoint *out, const char *prefix, const char *host, int port,
                        bk_err *err)
{
    int n = snprintf(out->host, sizeof out->host, "%s%s", prefix, host);
    if (n < 0 || (size_t)n >= sizeof out->host)
        return bk_err_set(err, BK_EINVAL, "endpoint host name too long: %s%s", prefix, host);
    out->port = port;
    int default_port = out->https ? 443 : 80;
    if (port != 0 && port != default_port)
        snprintf(out->host_header, sizeof out->host_header, "%s:%d", out->host, port);
    else
        snprintf(out->host_header, sizeof out->host_header, "%s", out->host);
    return BK_OK;
}

/* The bucket in the path (path style) or in front of the host name. */
static bk_code place_bucket(bk_endpoint *out, const char *bucket, const char *host, int port,
                            bk_err *err)
{
    if (out->path_style) {
        size_t n = strlen(out->base_path);
        snprintf(out->base_path + n, sizeof out->base_path - n, "/%s", bucket);
        return set_host(out, "", host, port, err);
    }
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.", bucket);
    return set_host(out, prefix, host, port, err);
}

/* AWS itself: https://s3.<region>.amazonaws.com. */
static bk_code resolve_aws(const char *region, const char *bucket, int use_path_style,
                           bk_endpoint *out, bk_err *err)
{
    if (region == NULL || region[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "region not set: AWS endpoints need a region");
    for (const char *p = region; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-'))
            return bk_err_set(err, BK_EINVAL, "invalid region \"%s\"", region);
    out->https = 1;
    char host[160];
    snprintf(host, sizeof host, "s3.%s.amazonaws.com", region);
    /* Dotted bucket names break the *.s3 TLS wildcard: the SDK uses path style. */
    out->path_style = use_path_style || !bucket_is_dns_safe(bucket) || strchr(bucket, '.');
    return place_bucket(out, bucket, host, 0, err);
}

/* "host", "host:port" or "[v6]:port" of an endpoint_url's authority. */
static bk_code split_authority(const char *endpoint_url, char *authority, char *host,
                               size_t host_size, int *port, bk_err *err)
{
    char *port_str = NULL;
    *port = 0;
    if (authority[0] == '[') { /* IPv6 literal */
        char *close = strchr(authority, ']');
        if (close == NULL)
            return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\": unterminated IPv6 address",
                              endpoint_url);
        if (close[1] == ':')
            port_str = close + 2;
        else if (close[1] != '\0')
            return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\": bad host", endpoint_url);
        close[1] = '\0';
    } else {
        char *colon = strchr(authority, ':');
        if (colon != NULL) {
            *colon = '\0';
            port_str = colon + 1;
        }
    }
    if (port_str != NULL) {
        char *end;
        long p = strtol(port_str, &end, 10);
        if (*port_str == '\0' || *end != '\0' || p < 1 || p > 65535)
            return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\": bad port", endpoint_url);
        *port = (int)p;
    }
    snprintf(host, host_size, "%s", authority);
    if (host[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\" has no host", endpoint_url);
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return BK_OK;
}

/* scheme://authority[/base]: the scheme, the host and port, a base path
 * (some gateways serve S3 under /s3); no query, fragment or user info. */
static bk_code parse_endpoint_url(const char *endpoint_url, bk_endpoint *out, char *host,
                                  size_t host_size, int *port, bk_err *err)
{
    const char *rest;
    if (strncmp(endpoint_url, "https://", 8) == 0) {
        out->https = 1;
        rest = endpoint_url + 8;
    } else if (strncmp(endpoint_url, "http://", 7) == 0) {
        rest = endpoint_url + 7;
    } else {
        return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\" must start with http:// or https://",
                          endpoint_url);
    }
    size_t auth_len = strcspn(rest, "/?#");
    if (rest[auth_len] == '?' || rest[auth_len] == '#' || strchr(rest, '?') || strchr(rest, '#'))
        return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\" must not have a query or fragment",
                          endpoint_url);
    if (memchr(rest, '@', auth_len) != NULL)
        return bk_err_set(err, BK_EINVAL,
                          "endpoint_url must not carry user information; use the credentials "
                          "attributes");
    char authority[256];
    if (auth_len == 0 || auth_len >= sizeof authority)
        return bk_err_set(err, BK_EINVAL, "endpoint_url \"%s\" has no valid host", endpoint_url);
    memcpy(authority, rest, auth_len);
    authority[auth_len] = '\0';
    bk_code rc = split_authority(endpoint_url, authority, host, host_size, port, err);
    if (rc != BK_OK)
        return rc;
    const char *path = rest + auth_len;
    size_t path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (path_len >= sizeof out->base_path - 70)
        return bk_err_set(err, BK_EINVAL, "endpoint_url path too long");
    memcpy(out->base_path, path, path_len);
    out->base_path[path_len] = '\0';
    return BK_OK;
}

bk_code bk__endpoint_resolve(const char *region, const char *bucket, const char *endpoint_url,
                             int use_path_style, bk_endpoint *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (bucket == NULL || !valid_bucket(bucket))
        return bk_err_set(err, BK_EINVAL,
                          "invalid bucket name \"%s\": 3 to 63 characters of a-z, 0-9, '.' and '-'",
                          bucket ? bucket : "");
    snprintf(out->bucket, sizeof out->bucket, "%s", bucket);
    if (endpoint_url == NULL || endpoint_url[0] == '\0')
        return resolve_aws(region, bucket, use_path_style, out, err);
    char host[256];
    int port = 0;
    bk_code rc = parse_endpoint_url(endpoint_url, out, host, sizeof host, &port, err);
    if (rc != BK_OK)
        return rc;
    out->path_style = use_path_style;
    if (!out->path_style && (!bucket_is_dns_safe(bucket) || host[0] == '['))
        return bk_err_set(err, BK_EINVAL,
                          "bucket \"%s\" cannot be used in a host name; set use_path_style=true",
                          bucket);
    return place_bucket(out, bucket, host, port, err);
}

int bk__endpoint_path(const bk_endpoint *ep, const char *key, bk_buf *out)
{
    bk_buf_puts(out, ep->base_path);
    if (key == NULL) {
        if (ep->base_path[0] == '\0')
            bk_buf_putc(out, '/');
        return out->failed ? -1 : 0;
    }
    bk_buf_putc(out, '/');
    return encode(out, key, 1);
}

int bk__endpoint_url(const bk_endpoint *ep, const char *path, const char *query, bk_buf *out)
{
    bk_buf_printf(out, "%s://%s", ep->https ? "https" : "http", ep->host_header);
    bk_buf_puts(out, path);
    if (query != NULL && query[0] != '\0') {
        bk_buf_putc(out, '?');
        bk_buf_puts(out, query);
    }
    return out->failed ? -1 : 0;
}

int bk__endpoint_copy_source(const char *bucket, const char *key, bk_buf *out)
{
    bk_buf_putc(out, '/');
    encode(out, bucket, 0);
    bk_buf_putc(out, '/');
    return encode_keep_colon(out, key);
}

int bk__query_add(bk_buf *out, const char *name, const char *value)
{
    if (out->len > 0)
        bk_buf_putc(out, '&');
    encode(out, name, 0);
    if (value != NULL) {
        bk_buf_putc(out, '=');
        encode(out, value, 0);
    }
    return out->failed ? -1 : 0;
}

static char *dup_env(const bk_env *env, const char *name)
{
    const char *v = bk_env_get(env, name);
    return v != NULL ? strdup(v) : NULL;
}

char *bk__endpoint_env_region(const bk_env *env)
{
    char *r = dup_env(env, "AWS_REGION");
    if (r == NULL)
        r = dup_env(env, "AWS_DEFAULT_REGION");
    if (r == NULL)
        r = bk_creds_profile_region(env, NULL);
    return r;
}

char *bk__endpoint_env_url(const bk_env *env)
{
    char *u = dup_env(env, "AWS_ENDPOINT_URL_S3");
    return u != NULL ? u : dup_env(env, "AWS_ENDPOINT_URL");
}
