/* AWS credentials: a provider interface and the default chain BuildKit's SDK
 * uses, in this order:
 *   1. explicit attributes: used only when BOTH access key id and secret are
 *      non-empty (a lone key id, or a session token alone, is ignored);
 *   2. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   3. shared files for profile AWS_PROFILE (default "default"):
 *      AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials ([name] sections),
 *      then AWS_CONFIG_FILE or ~/.aws/config ([profile name], [default]);
 *      a key set in the credentials file wins over the config file;
 *   4. web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) and instance
 *      metadata (IMDS): NOT IMPLEMENTED. When web identity is configured the
 *      chain fails with BK_EUNSUPPORTED saying so instead of guessing; IMDS is
 *      listed in the "tried" message. Profiles that only name role_arn, sso_*
 *      or credential_process fail the same way.
 * A refreshing provider (web identity, IMDS) plugs in through bk_creds_provider:
 * it returns credentials with an expiry and the client asks again before then.
 *
 * Secrets never appear in any message this module produces. */
#ifndef BKCACHE_CREDS_H
#define BKCACHE_CREDS_H

#include <time.h>

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
    char source[96];     /* "environment", "profile default (shared credentials file)", ... */
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
    const bk_env *env; /* NULL = process environment */
} bk_creds_chain_options;

/* The default chain described above. The first source that answers wins and
 * is remembered (as the SDKs do); when none does, BK_EAUTH naming every
 * source tried and why it did not answer. */
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
