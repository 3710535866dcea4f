#include "endpoint.h"

#include <arpa/inet.h>
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

/* What S3 accepts as a bucket name in some region: today's 3 to 63 of
 * a-z 0-9 . -, and us-east-1's legacy names of up to 255 characters with
 * upper case and '_'. Names the SDK cannot put in a host name are still
 * reachable by path. */
static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 1 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

/* Go's netip.ParseAddr: a dotted-quad IPv4 or an IPv6 address (no brackets). */
static int is_ip_address(const char *s)
{
    unsigned char addr[16];
    char v6[64];
    size_t n = strcspn(s, "%"); /* an IPv6 zone ("fe80::1%eth0") is still an address */
    if (n >= sizeof v6)
        return 0;
    memcpy(v6, s, n);
    v6[n] = '\0';
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, v6, addr) == 1;
}

/* Why the SDK's isVirtualHostableS3Bucket refuses bucket (with dots allowed
 * as label separators when sub_domains), in the order it checks: formatted
 * like an IP address, then each label's length (3 to 63), upper case, and
 * characters other than a-z 0-9 '-'. NULL when the bucket can be a host
 * name. why holds the text. */
static const char *not_host_label(const char *bucket, int sub_domains, char *why, size_t size)
{
    if (is_ip_address(bucket)) {
        snprintf(why, size, "bucket %s is formatted like an IP address", bucket);
        return why;
    }
    const char *label = bucket;
    for (;;) {
        size_t n = sub_domains ? strcspn(label, ".") : strlen(label);
        if (n == 0) {
            snprintf(why, size, "bucket %s has an empty label (\"..\" or a dot at an end)", bucket);
            return why;
        }
        if (n < 3 || n > 63) {
            snprintf(why, size, "%s %.*s has %zu characters, not 3 to 63",
                     sub_domains ? "label" : "bucket", (int)(n > 70 ? 70 : n), label, n);
            return why;
        }
        for (size_t i = 0; i < n; i++)
            if (isupper((unsigned char)label[i])) {
                snprintf(why, size, "bucket %s has upper case letters", bucket);
                return why;
            }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)label[i];
            if (!(islower(c) || isdigit(c) || c == '-')) {
                snprintf(why, size, "bucket %s has '%c', which a host name cannot have", bucket, c);
                return why;
            }
        }
        if (label[n] == '\0')
            return NULL;
        label += n + 1;
    }
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
    char prefix[260];
    snprintf(prefix, sizeof prefix, "%s.", bucket);
    return set_host(out, prefix, host, port, err);
}

/* Path style or virtual host, and why, by the SDK's rules (service/s3's
 * endpoint rules, without FIPS, dual-stack, accelerate, ARNs or S3 Express):
 * path style when forced, when the endpoint host is an IP address, and when
 * the bucket cannot be a host label; a bucket of several valid labels
 * ("web.cache.bkt") stays in the host name over http to a custom endpoint (the
 * SDK does not look at the endpoint's host then) but goes by path over https,
 * where no certificate for *.host matches it. */
static int choose_path_style(const char *bucket, const char *host, int custom, int https,
                             int use_path_style, char *why, size_t size)
{
    char label_why[200];
    if (use_path_style) {
        snprintf(why, size, "path style (use_path_style=true)");
        return 1;
    }
    if (not_host_label(bucket, 0, label_why, sizeof label_why) == NULL) {
        char bare[256]; /* an IPv6 host without its URL brackets */
        size_t n = strlen(host);
        if (host[0] == '[' && n > 2)
            snprintf(bare, sizeof bare, "%.*s", (int)(n - 2), host + 1);
        else
            snprintf(bare, sizeof bare, "%s", host);
        if (custom && is_ip_address(bare)) {
            snprintf(why, size, "path style (endpoint host %s is an IP address)", host);
            return 1;
        }
        snprintf(why, size, "virtual host %s.%s (bucket %s is a valid DNS label)", bucket, host,
                 bucket);
        return 0;
    }
    const char *label_problem = not_host_label(bucket, 1, label_why, sizeof label_why);
    if (label_problem == NULL && custom && !https) {
        snprintf(why, size,
                 "virtual host %s.%s (bucket %s has dots: over http they stay in the host name)",
                 bucket, host, bucket);
        return 0;
    }
    if (label_problem == NULL)
        snprintf(why, size,
                 "path style (bucket %s has dots: over https no certificate for *.%s matches it)",
                 bucket, host);
    else
        snprintf(why, size, "path style (%s)", label_problem);
    return 1;
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
    out->path_style = choose_path_style(bucket, host, 0, 1, use_path_style, out->addressing,
                                        sizeof out->addressing);
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
    if (path_len >= sizeof out->base_path - 260) /* room for "/<bucket>" */
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
                          "invalid bucket name \"%s\": 1 to 255 characters of a-z, A-Z, 0-9, "
                          "'.', '-' and '_'",
                          bucket ? bucket : "");
    snprintf(out->bucket, sizeof out->bucket, "%s", bucket);
    if (endpoint_url == NULL || endpoint_url[0] == '\0')
        return resolve_aws(region, bucket, use_path_style, out, err);
    char host[256];
    int port = 0;
    bk_code rc = parse_endpoint_url(endpoint_url, out, host, sizeof host, &port, err);
    if (rc != BK_OK)
        return rc;
    out->path_style = choose_path_style(bucket, host, 1, out->https, use_path_style,
                                        out->addressing, sizeof out->addressing);
    return place_bucket(out, bucket, host, port, err);
}

void bk__endpoint_unresolved_hint(const bk_endpoint *ep, char *out, size_t size)
{
    if (ep->path_style && size > 0)
        out[0] = '\0';
    else if (!ep->path_style)
        snprintf(out, size,
                 "%s (virtual-host addressing puts the bucket in the host name); for a store "
                 "that serves buckets by path set use_path_style=true",
                 ep->host);
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
