/* Private to the credential providers (creds*.c): the HTTP call the remote
 * providers share, the answers they parse, and their constructors, which the
 * chain in creds.c assembles in the SDK's order. */
#ifndef BKCACHE_CREDS_INTERNAL_H
#define BKCACHE_CREDS_INTERNAL_H

#include <stddef.h>

#include "bkcache/buf.h"
#include "bkcache/clock.h"
#include "bkcache/creds.h"

/* What every provider that calls out needs from the chain's options. */
typedef struct creds_ctx {
    bk_env env;
    int has_env;
    bk_clock clock;
    char region[64];        /* for STS's endpoint and signing scope */
    char ca_bundle[512];    /* "" = the system's */
    int process_timeout_ms; /* credential_process's bound */
} creds_ctx;

static inline const bk_env *creds_env(const creds_ctx *x)
{
    return x->has_env ? &x->env : NULL;
}

/* ---- what the remote providers share (creds_remote.c) ---- */

typedef struct creds_http {
    const char *method; /* "GET", "PUT", "POST" */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
    const char *body;           /* NULL = none */
    size_t body_len;
    long timeout_ms;     /* the whole exchange */
    size_t max_response; /* a longer body is an error */
    const char *ca_bundle;
} creds_http;

/* Sends the request once. BK_OK with *status set whenever an HTTP answer came
 * (any status); BK_ETIMEOUT or BK_EIO, naming the URL, when none did. The
 * message never holds a header value (tokens travel in headers). */
bk_code bk__creds_http(const creds_http *rq, long *status, bk_buf *body, bk_err *err);

/* Reads the first line-trimmed content of a small file (a token); BK_EIO
 * naming `what` and the path. Caller frees *out (scrub it first). */
bk_code bk__creds_read_token_file(const char *path, const char *what, char **out, bk_err *err);

/* Fills out from strings; token may be NULL or "". */
bk_code bk__creds_set(bk_creds *out, const char *akid, const char *secret, const char *token,
                      time_t expires, const char *source, bk_err *err);

/* The JSON answer of IMDS, ECS and credential_process: AccessKeyId,
 * SecretAccessKey, Token or SessionToken, Expiration (RFC 3339; optional). */
bk_code bk__creds_from_json(const char *json, size_t len, const char *token_key, const char *source,
                            bk_creds *out, bk_err *err);

/* Frees a string after zeroing it. */
void bk__creds_scrub_free(char *s);

/* ---- providers ---- */

/* The shared files' profile (creds_profile.c); profile NULL = AWS_PROFILE or
 * "default". BK_ENOTFOUND from fetch when the profile names no credentials. */
bk_creds_provider *bk__creds_profile_new(const creds_ctx *x, const char *profile, bk_err *err);
/* Renames what a static provider's credentials say they come from. */
void bk__creds_static_set_source(bk_creds_provider *p, const char *source);

/* STS AssumeRoleWithWebIdentity (creds_sts.c); session_name NULL = the SDK's
 * default (the time in nanoseconds); role_arn NULL fails at fetch, as the SDK. */
bk_creds_provider *bk__creds_web_identity_new(const creds_ctx *x, const char *token_file,
                                              const char *role_arn, const char *session_name,
                                              const char *origin, bk_err *err);
/* STS AssumeRole signed with source's credentials (takes source). */
typedef struct creds_assume_role {
    const char *role_arn, *session_name, *external_id;
    long duration_seconds; /* 0 = the SDK's 15 minutes */
    const char *profile;   /* for messages */
} creds_assume_role;
bk_creds_provider *bk__creds_assume_role_new(const creds_ctx *x, const creds_assume_role *ar,
                                             bk_creds_provider *source, bk_err *err);

/* Container credentials (creds_container.c): BK_ENOTFOUND from fetch when
 * neither URI variable is set. */
bk_creds_provider *bk__creds_container_new(const creds_ctx *x, bk_err *err);
/* EC2 instance metadata, IMDSv2 (creds_imds.c). */
bk_creds_provider *bk__creds_imds_new(const creds_ctx *x, bk_err *err);
/* IAM Identity Center (creds_sso.c): the token `aws sso login` cached under
 * ~/.aws/sso/cache/, then the portal's GetRoleCredentials. */
typedef struct creds_sso {
    const char *profile;   /* for messages */
    const char *cache_key; /* the sso_session name, or the legacy sso_start_url */
    const char *region, *account_id, *role_name;
} creds_sso;
bk_creds_provider *bk__creds_sso_new(const creds_ctx *x, const creds_sso *s, bk_err *err);
/* credential_process of a profile (creds_process.c). */
bk_creds_provider *bk__creds_process_new(const creds_ctx *x, const char *command,
                                         const char *profile, bk_err *err);

/* STS's endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else
 * https://sts.REGION.amazonaws.com. */
void bk__creds_sts_endpoint(const creds_ctx *x, bk_buf *out);

#endif
