/* Container credentials (ECS, EKS Pod Identity), as the SDK's endpointcreds
 * provider reaches them: AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http
 * to a loopback address or the ECS/EKS agents' addresses), else
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2; the
 * Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read at
 * every call, it rotates) or AWS_CONTAINER_AUTHORIZATION_TOKEN. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds_internal.h"

#define ECS_HOST "http://169.254.170.2"
#define CONTAINER_TIMEOUT_MS 5000
#define CONTAINER_ATTEMPTS 3

typedef struct container {
    bk_creds_provider base;
    creds_ctx x;
} container;

/* The host of an http URL may be: an address in 127.0.0.0/8, ::1, or the
 * ECS (169.254.170.2) and EKS (169.254.170.23, fd00:ec2::23) agents. A name
 * is not resolved: "localhost" is taken, any other name needs https. */
static int allowed_http_host(const char *host)
{
    unsigned char a[16];
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127 || strcmp(host, "169.254.170.2") == 0 ||
               strcmp(host, "169.254.170.23") == 0;
    if (inet_pton(AF_INET6, host, a) == 1) {
        unsigned char eks[16];
        inet_pton(AF_INET6, "fd00:ec2::23", eks);
        unsigned char one[16];
        inet_pton(AF_INET6, "::1", one);
        return memcmp(a, one, 16) == 0 || memcmp(a, eks, 16) == 0;
    }
    return 0;
}

static bk_code check_full_uri(const char *uri, bk_err *err)
{
    if (strncasecmp(uri, "https://", 8) == 0)
        return BK_OK;
    if (strncasecmp(uri, "http://", 7) != 0)
        return bk_err_set(err, BK_EINVAL,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: not an http or https URL", uri);
    const char *h = uri + 7;
    size_t n = strcspn(h, "/?#");
    char host[256];
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (close == NULL)
            return bk_err_set(err, BK_EINVAL, "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: bad host",
                              uri);
        snprintf(host, sizeof host, "%.*s", (int)(close - h - 1), h + 1);
    } else {
        snprintf(host, sizeof host, "%.*s", (int)strcspn(h, ":/?#"), h);
    }
    if (!allowed_http_host(host))
        return bk_err_set(err, BK_EINVAL,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: over http only a loopback "
                          "host or the ECS/EKS agent (169.254.170.2, 169.254.170.23, "
                          "fd00:ec2::23) is allowed; use https",
                          uri);
    return BK_OK;
}

static bk_code container_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    container *p = (container *)self;
    const bk_env *env = creds_env(&p->x);
    const char *full = bk_env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *rel = bk_env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (full == NULL && rel == NULL)
        return bk_err_set(err, BK_ENOTFOUND,
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI and _RELATIVE_URI not set");
    bk_buf url = BK_BUF_INIT, auth = BK_BUF_INIT, body = BK_BUF_INIT;
    bk_code rc = BK_OK;
    if (full != NULL) {
        rc = check_full_uri(full, err);
        bk_buf_puts(&url, full);
    } else {
        bk_buf_printf(&url, "%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
    }
    const char *token_file = bk_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *token = bk_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (rc == BK_OK && token_file != NULL) {
        char *t = NULL;
        rc = bk__creds_read_token_file(token_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &t,
                                       err);
        if (rc == BK_OK)
            bk_buf_printf(&auth, "Authorization: %s", t);
        bk__creds_scrub_free(t);
    } else if (rc == BK_OK && token != NULL) {
        bk_buf_printf(&auth, "Authorization: %s", token);
    }
    long status = 0;
    for (int attempt = 0; rc == BK_OK && attempt < CONTAINER_ATTEMPTS; attempt++) {
        const char *headers[] = {"Accept: application/json", auth.len ? bk_buf_str(&auth) : NULL,
                                 NULL};
        creds_http rq = {.method = "GET",
                         .url = bk_buf_str(&url),
                         .headers = headers,
                         .timeout_ms = CONTAINER_TIMEOUT_MS,
                         .ca_bundle = p->x.ca_bundle};
        body.len = 0;
        rc = bk__creds_http(&rq, &status, &body, err);
        /* Connection trouble and 5xx are worth another try; an answer is not. */
        if (rc == BK_OK && status < 500)
            break;
        if (attempt + 1 < CONTAINER_ATTEMPTS) {
            rc = BK_OK;
            bk_clock_sleep_ms(&p->x.clock, 100u << attempt);
        } else if (rc == BK_OK) {
            rc = bk_err_set(err, BK_EIO, "container credentials %s: HTTP %ld", bk_buf_str(&url),
                            status);
        }
    }
    if (rc == BK_OK && status != 200)
        rc = bk_err_set(err, status == 401 || status == 403 ? BK_EAUTH : BK_EIO,
                        "container credentials %s: HTTP %ld%s", bk_buf_str(&url), status,
                        auth.len ? "" : " (no AWS_CONTAINER_AUTHORIZATION_TOKEN set)");
    else if (rc == BK_OK)
        rc = bk__creds_from_json(body.data ? body.data : "", body.len, "Token",
                                 "container credentials", out, err);
    if (body.data != NULL)
        memset(body.data, 0, body.len);
    if (auth.data != NULL)
        memset(auth.data, 0, auth.len);
    bk_buf_clear(&body);
    bk_buf_clear(&auth);
    bk_buf_clear(&url);
    return rc;
}

static void container_free(bk_creds_provider *self)
{
    free(self);
}

bk_creds_provider *bk__creds_container_new(const creds_ctx *x, bk_err *err)
{
    container *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->base.name = "container credentials";
    p->base.fetch = container_fetch;
    p->base.free = container_free;
    return &p->base;
}
