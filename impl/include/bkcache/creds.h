/* AWS credentials: a provider interface and the default chain of the AWS SDK
 * for Go v2 that BuildKit runs on, in its order (config.resolveCredentialChain
 * and resolveCredsFromProfile):
 *   1. explicit attributes: used only when BOTH access key id and secret are
 *      non-empty (a lone key id, or a session token alone, is ignored);
 *   2. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (and
 *      AWS_ROLE_SESSION_NAME): STS AssumeRoleWithWebIdentity, unsigned;
 *   4. the profile AWS_PROFILE (default "default") of the shared files
 *      (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, [name]; then
 *      AWS_CONFIG_FILE or ~/.aws/config, [profile name]; the credentials file
 *      wins): role_arn + source_profile or credential_source (STS AssumeRole
 *      signed with the source's credentials; role_session_name, external_id,
 *      duration_seconds), static keys, web_identity_token_file + role_arn,
 *      IAM Identity Center (sso_session or sso_start_url, with the token
 *      `aws sso login` cached), credential_process;
 *   5. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI or
 *      _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
 *   6. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED=true;
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT moves it.
 * STS is at AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else
 * https://sts.REGION.amazonaws.com. Temporary credentials carry their expiry;
 * the S3 client asks the chain again 5 minutes before it (the SDK's window).
 *
 * Secrets and tokens never appear in any message this module produces. */
#ifndef BKCACHE_CREDS_H
#define BKCACHE_CREDS_H

#include <time.h>

#include "bkcache/clock.h"
#include "bkcache/env.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when none */
    time_t expires;      /* 0 = does not expire */
    char source[96];     /* "environment", "profile NAME (shared files)", "web identity
                            (AWS_WEB_IDENTITY_TOKEN_FILE)", "instance metadata", ... */
} bk_creds;

void bk_creds_clear(bk_creds *c);
/* Deep copy; BK_ENOMEM on failure. */
bk_code bk_creds_copy(bk_creds *dst, const bk_creds *src, bk_err *err);

/* A source of credentials. fetch fills out (owned by the caller) or returns
 * BK_ENOTFOUND when this source has nothing, or another code for a source
 * that is configured but broken. Calls are serialised by the caller (the
 * client holds a lock), so an implementation needs no locking of its own. */
typedef struct bk_creds_provider bk_creds_provider;
struct bk_creds_provider {
    const char *name;
    bk_code (*fetch)(bk_creds_provider *self, bk_creds *out, bk_err *err);
    void (*free)(bk_creds_provider *self); /* frees self and all it owns */
};

bk_code bk_creds_fetch(bk_creds_provider *p, bk_creds *out, bk_err *err);
void bk_creds_provider_free(bk_creds_provider *p);

/* Fixed credentials; session_token may be NULL. */
bk_creds_provider *bk_creds_provider_static(const char *access_key_id,
                                            const char *secret_access_key,
                                            const char *session_token, bk_err *err);
/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. env is copied by value. */
bk_creds_provider *bk_creds_provider_env(const bk_env *env, bk_err *err);
/* Shared files. profile NULL = AWS_PROFILE, else "default". */
bk_creds_provider *bk_creds_provider_profile(const bk_env *env, const char *profile, bk_err *err);

typedef struct bk_creds_chain_options {
    const char *access_key_id; /* explicit attributes; used only when both are set */
    const char *secret_access_key;
    const char *session_token;
    const bk_env *env;     /* NULL = process environment */
    const bk_clock *clock; /* STS's x-amz-date, session names; NULL = the system's */
    const char *region;    /* STS's endpoint and scope; NULL = us-east-1 */
    const char *ca_bundle; /* trusted CAs for https credential endpoints; NULL = system */
    int credential_process_timeout_ms; /* 0 = the SDK's 1 minute */
} bk_creds_chain_options;

/* The default chain described above. The first source that is configured
 * wins and is remembered (as the SDK resolves it once); a configured source
 * that fails ends the search with its error; when none is configured,
 * BK_EAUTH naming every source tried and why it did not answer. */
bk_creds_provider *bk_creds_provider_chain(const bk_creds_chain_options *opts, bk_err *err);

/* The profile name in effect: AWS_PROFILE or "default". */
const char *bk_creds_profile_name(const bk_env *env);

/* "region" of the profile in the config file; NULL when absent. Caller frees. */
char *bk_creds_profile_region(const bk_env *env, const char *profile);
/* "ca_bundle" of the profile (a PEM file of trusted CAs); NULL when absent.
 * Caller frees. */
char *bk_creds_profile_ca_bundle(const bk_env *env, const char *profile);
/* "retry_mode" and "max_attempts" of the profile, as written; NULL when
 * absent. Caller frees. */
char *bk_creds_profile_retry_mode(const bk_env *env, const char *profile);
char *bk_creds_profile_max_attempts(const bk_env *env, const char *profile);

#ifdef __cplusplus
}
#endif

#endif
