/* The credentials a server accepts: access key id, secret, an optional
 * session token, an expiry and an access profile per key; and the SigV4
 * signing keys derived from each secret, cached so that the HMAC chain runs
 * once a day per key instead of once a request. Secrets never leave the
 * registry: verification gets the derived key. */
#ifndef MS3_CREDS_H
#define MS3_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"
#include "mock_s3.h"

typedef struct ms3_creds ms3_creds;

typedef struct ms3_cred {
    char *akid;
    char *secret;
    char *token;     /* NULL = none */
    int64_t expires; /* unix seconds, mock time; 0 = never */
    ms3_access_profile profile;
} ms3_cred;

ms3_creds *ms3__creds_new(void);
void ms3__creds_free(ms3_creds *c);
/* Adds a key, or replaces one with the same id (keeping its profile). */
bk_code ms3__creds_add(ms3_creds *c, const char *akid, const char *secret, const char *token,
                       bk_err *err);
/* A credential the services minted, expiring at `expires` (mock time). Those
 * issued before are pruned first, so an AssumeRole loop holds bounded memory:
 * an expired one is kept MS3_ISSUED_GRACE_S more (S3 still answers
 * ExpiredToken for it, then InvalidAccessKeyId), and at most MS3_ISSUED_MAX
 * are kept (the one expiring first goes). Keys added otherwise stay. */
enum { MS3_ISSUED_MAX = 1024 };
#define MS3_ISSUED_GRACE_S ((int64_t)3600)
bk_code ms3__creds_add_issued(ms3_creds *c, const char *akid, const char *secret, const char *token,
                              int64_t expires, int64_t now, bk_err *err);
bk_code ms3__creds_set_expiry(ms3_creds *c, const char *akid, int64_t expires_unix, bk_err *err);
bk_code ms3__creds_set_profile(ms3_creds *c, const char *akid, ms3_access_profile p, bk_err *err);
size_t ms3__creds_count(ms3_creds *c);
/* A copy of the key's id, token, expiry and profile (not its secret) taken
 * under the lock; 1 when found. Release it with ms3__cred_clear (also when
 * not found). */
int ms3__creds_lookup(ms3_creds *c, const char *akid, ms3_cred *out);
/* The SigV4 signing key of akid's secret for (date8, region, service): the
 * cached one, or derived and cached (the newest MS3_CREDS_KEYS per access key
 * id; replacing the credentials drops them). 1 when akid is known. */
enum { MS3_CREDS_KEYS = 4 };
int ms3__creds_signing_key(ms3_creds *c, const char *akid, const char *date8, const char *region,
                           const char *service, unsigned char key[32]);
/* Wipes the secret and releases the copy's strings. */
void ms3__cred_clear(ms3_cred *c);

/* 1 when the secret given is the one expected; compares digests, so neither
 * the bytes nor the length of the secret leak through timing. */
int ms3__secret_equal(const char *given, const char *expected);

#endif
