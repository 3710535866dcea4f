/* IAM Identity Center (SSO), as the SDK's ssocreds provider: the access
 * token that `aws sso login` cached in ~/.aws/sso/cache/<sha1 of the
 * sso_session name, or of the legacy sso_start_url>.json, then the portal's
 * GetRoleCredentials (GET /federation/credentials with the token in
 * x-amz-sso_bearer_token) at AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL or
 * https://portal.sso.REGION.amazonaws.com. An expired token is not refreshed
 * here: the message says to log in again. */
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/sigv4.h"
#include "creds_internal.h"
#include "s3time.h"

#define SSO_TIMEOUT_MS 30000

typedef struct sso {
    bk_creds_provider base;
    creds_ctx x;
    char *profile, *cache_key, *region, *account_id, *role_name;
    char source[96];
} sso;

/* The cached token, if it is still valid. */
static bk_code cached_token(const sso *p, char **token, bk_err *err)
{
    *token = NULL;
    const char *home = bk_env_get(creds_env(&p->x), "HOME");
    if (home == NULL)
        return bk_err_set(err, BK_EINVAL, "profile %s: HOME is not set: no SSO token cache",
                          p->profile);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)p->cache_key, strlen(p->cache_key), digest);
    char hex[2 * SHA_DIGEST_LENGTH + 1];
    bk_sigv4_hex(digest, sizeof digest, hex);
    bk_buf path = BK_BUF_INIT;
    bk_buf_printf(&path, "%s/.aws/sso/cache/%s.json", home, hex);
    char *text = NULL;
    bk_code rc = bk__creds_read_token_file(bk_buf_str(&path), "SSO token cache", &text, err);
    if (rc != BK_OK) {
        bk_err_prefix(err, "profile %s (run `aws sso login --profile %s`): ", p->profile,
                      p->profile);
        bk_buf_clear(&path);
        return BK_EAUTH;
    }
    json_t *o = json_loads(text, 0, NULL);
    bk__creds_scrub_free(text);
    json_t *at = json_object_get(o, "accessToken");
    json_t *exp = json_object_get(o, "expiresAt");
    time_t expires = 0;
    time_t now = (time_t)(bk_clock_wall_ns(&p->x.clock) / BK_NS_PER_SEC);
    if (!json_is_string(at) || !json_is_string(exp) ||
        bk__s3_parse_iso8601(json_string_value(exp), &expires) != 0)
        rc = bk_err_set(err, BK_EPROTO,
                        "profile %s: SSO token cache %s has no accessToken and expiresAt",
                        p->profile, bk_buf_str(&path));
    else if (expires <= now)
        rc = bk_err_set(err, BK_EAUTH,
                        "profile %s: the SSO token expired at %s; run `aws sso login --profile %s`",
                        p->profile, json_string_value(exp), p->profile);
    else if ((*token = strdup(json_string_value(at))) == NULL)
        rc = bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
    json_decref(o);
    bk_buf_clear(&path);
    return rc;
}

static void portal_url(const sso *p, bk_buf *url)
{
    const char *ep = bk_env_get(creds_env(&p->x), "AWS_ENDPOINT_URL_SSO");
    if (ep == NULL)
        ep = bk_env_get(creds_env(&p->x), "AWS_ENDPOINT_URL");
    if (ep != NULL) {
        size_t n = strlen(ep);
        while (n > 0 && ep[n - 1] == '/')
            n--;
        bk_buf_append(url, ep, n);
    } else {
        bk_buf_printf(url, "https://portal.sso.%s.amazonaws.com", p->region);
    }
    /* Account ids are digits and role names [\w+=,.@-]: only '+', '=', ',' and '@' need encoding.
     */
    bk_buf_printf(url, "/federation/credentials?account_id=%s&role_name=", p->account_id);
    for (const char *c = p->role_name; *c; c++) {
        if (strchr("+=,@", *c) != NULL)
            bk_buf_printf(url, "%%%02X", (unsigned char)*c);
        else
            bk_buf_putc(url, *c);
    }
}

static bk_code sso_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    sso *p = (sso *)self;
    char *token = NULL;
    bk_code rc = cached_token(p, &token, err);
    if (rc != BK_OK)
        return rc;
    bk_buf url = BK_BUF_INIT, hdr = BK_BUF_INIT, body = BK_BUF_INIT;
    portal_url(p, &url);
    bk_buf_printf(&hdr, "x-amz-sso_bearer_token: %s", token);
    bk__creds_scrub_free(token);
    const char *headers[] = {bk_buf_str(&hdr), NULL};
    creds_http rq = {.method = "GET",
                     .url = bk_buf_str(&url),
                     .headers = headers,
                     .timeout_ms = SSO_TIMEOUT_MS,
                     .ca_bundle = p->x.ca_bundle};
    long status = 0;
    rc = bk__creds_http(&rq, &status, &body, err);
    if (rc == BK_OK && status != 200) {
        rc = bk_err_set(err, status == 401 || status == 403 ? BK_EAUTH : BK_EIO,
                        "profile %s: SSO GetRoleCredentials for account %s role %s: HTTP %ld%s",
                        p->profile, p->account_id, p->role_name, status,
                        status == 401 ? " (run `aws sso login`)" : "");
    } else if (rc == BK_OK) {
        json_t *o = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
        json_t *rcj = json_object_get(o, "roleCredentials");
        json_t *akid = json_object_get(rcj, "accessKeyId");
        json_t *secret = json_object_get(rcj, "secretAccessKey");
        json_t *tok = json_object_get(rcj, "sessionToken");
        json_t *exp = json_object_get(rcj, "expiration"); /* milliseconds since the epoch */
        if (!json_is_string(akid) || !json_is_string(secret) || !json_is_integer(exp))
            rc = bk_err_set(err, BK_EPROTO,
                            "profile %s: SSO GetRoleCredentials: the answer has no "
                            "roleCredentials",
                            p->profile);
        else
            rc = bk__creds_set(out, json_string_value(akid), json_string_value(secret),
                               json_is_string(tok) ? json_string_value(tok) : NULL,
                               (time_t)(json_integer_value(exp) / 1000), p->source, err);
        json_decref(o);
    }
    if (hdr.data != NULL)
        memset(hdr.data, 0, hdr.len);
    if (body.data != NULL)
        memset(body.data, 0, body.len);
    bk_buf_clear(&hdr);
    bk_buf_clear(&body);
    bk_buf_clear(&url);
    return rc;
}

static void sso_free(bk_creds_provider *self)
{
    sso *p = (sso *)self;
    free(p->profile);
    free(p->cache_key);
    free(p->region);
    free(p->account_id);
    free(p->role_name);
    free(p);
}

bk_creds_provider *bk__creds_sso_new(const creds_ctx *x, const creds_sso *s, bk_err *err)
{
    sso *p = calloc(1, sizeof *p);
    if (p == NULL || (p->profile = strdup(s->profile)) == NULL ||
        (p->cache_key = strdup(s->cache_key)) == NULL || (p->region = strdup(s->region)) == NULL ||
        (p->account_id = strdup(s->account_id)) == NULL ||
        (p->role_name = strdup(s->role_name)) == NULL) {
        if (p != NULL)
            sso_free(&p->base);
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->base.name = "IAM Identity Center";
    p->base.fetch = sso_fetch;
    p->base.free = sso_free;
    snprintf(p->source, sizeof p->source, "profile %s (IAM Identity Center)", s->profile);
    return &p->base;
}
