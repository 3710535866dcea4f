/* EC2 instance metadata, IMDSv2 only, as the SDK's ec2rolecreds provider on
 * its imds client: a session token by PUT /latest/api/token (TTL 6 hours),
 * then the role name, then that role's credentials, each request carrying the
 * token. Short timeouts (1 second, one retry) so that a machine without IMDS
 * learns it quickly. AWS_EC2_METADATA_DISABLED=true turns it off;
 * AWS_EC2_METADATA_SERVICE_ENDPOINT (or _MODE=IPv6) moves it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds_internal.h"

#define IMDS_TIMEOUT_MS 1000
#define IMDS_ATTEMPTS 2
#define IMDS_TOKEN_TTL "21600"
#define IMDS_ROLE_PATH "/latest/meta-data/iam/security-credentials/"

typedef struct imds {
    bk_creds_provider base;
    creds_ctx x;
} imds;

static void imds_endpoint(const creds_ctx *x, bk_buf *out)
{
    const char *ep = bk_env_get(creds_env(x), "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = bk_env_get(creds_env(x), "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (ep == NULL)
        ep = mode != NULL && strcasecmp(mode, "IPv6") == 0 ? "http://[fd00:ec2::254]"
                                                           : "http://169.254.169.254";
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/')
        n--;
    bk_buf_append(out, ep, n);
}

/* One IMDS request with the SDK's retry: a failed connection or a 5xx is
 * tried once more. BK_OK only on 200. */
static bk_code imds_call(const char *method, const char *base, const char *path, const char *header,
                         bk_buf *body, bk_err *err)
{
    bk_buf url = BK_BUF_INIT;
    bk_buf_printf(&url, "%s%s", base, path);
    const char *headers[] = {header, NULL};
    creds_http rq = {.method = method,
                     .url = bk_buf_str(&url),
                     .headers = headers,
                     .timeout_ms = IMDS_TIMEOUT_MS,
                     .max_response = (size_t)16 * 1024};
    long status = 0;
    bk_code rc = BK_OK;
    for (int attempt = 0; attempt < IMDS_ATTEMPTS; attempt++) {
        body->len = 0;
        rc = bk__creds_http(&rq, &status, body, err);
        if (rc == BK_OK && status < 500)
            break;
    }
    if (rc == BK_OK && status != 200)
        rc = bk_err_set(err, status == 401 || status == 403 ? BK_EAUTH : BK_ENOTFOUND,
                        "%s %s: HTTP %ld", method, bk_buf_str(&url), status);
    bk_buf_clear(&url);
    return rc;
}

static bk_code imds_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    imds *p = (imds *)self;
    const char *off = bk_env_get(creds_env(&p->x), "AWS_EC2_METADATA_DISABLED");
    if (off != NULL && strcasecmp(off, "true") == 0)
        return bk_err_set(err, BK_ENOTFOUND, "AWS_EC2_METADATA_DISABLED=true");
    bk_buf base = BK_BUF_INIT, token = BK_BUF_INIT, hdr = BK_BUF_INIT, role = BK_BUF_INIT,
           body = BK_BUF_INIT;
    imds_endpoint(&p->x, &base);
    bk_code rc = imds_call("PUT", bk_buf_str(&base), "/latest/api/token",
                           "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, &token, err);
    if (rc == BK_OK) {
        bk_buf_printf(&hdr, "X-aws-ec2-metadata-token: %s", bk_buf_str(&token));
        rc = imds_call("GET", bk_buf_str(&base), IMDS_ROLE_PATH, bk_buf_str(&hdr), &role, err);
    }
    if (rc == BK_OK) {
        /* The first line names the instance profile's role. */
        size_t n = strcspn(bk_buf_str(&role), "\r\n");
        if (n == 0) {
            rc = bk_err_set(err, BK_ENOTFOUND, "%s%s: the instance has no IAM role",
                            bk_buf_str(&base), IMDS_ROLE_PATH);
        } else {
            bk_buf path = BK_BUF_INIT;
            bk_buf_printf(&path, "%s%.*s", IMDS_ROLE_PATH, (int)n, bk_buf_str(&role));
            rc = imds_call("GET", bk_buf_str(&base), bk_buf_str(&path), bk_buf_str(&hdr), &body,
                           err);
            bk_buf_clear(&path);
        }
    }
    if (rc == BK_OK)
        rc = bk__creds_from_json(body.data ? body.data : "", body.len, "Token", "instance metadata",
                                 out, err);
    /* Unreachable or role-less, IMDS just has nothing: the chain's last word. */
    if (rc == BK_EIO || rc == BK_ETIMEOUT)
        rc = BK_ENOTFOUND;
    if (token.data != NULL)
        memset(token.data, 0, token.len);
    if (hdr.data != NULL)
        memset(hdr.data, 0, hdr.len);
    if (body.data != NULL)
        memset(body.data, 0, body.len);
    bk_buf_clear(&base);
    bk_buf_clear(&token);
    bk_buf_clear(&hdr);
    bk_buf_clear(&role);
    bk_buf_clear(&body);
    return rc;
}

static void imds_free(bk_creds_provider *self)
{
    free(self);
}

bk_creds_provider *bk__creds_imds_new(const creds_ctx *x, bk_err *err)
{
    imds *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->base.name = "instance metadata";
    p->base.fetch = imds_fetch;
    p->base.free = imds_free;
    return &p->base;
}
