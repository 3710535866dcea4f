/* What the credential services (sts.c, imds.c, ecs.c) share: their settings,
 * the temporary credentials they issue, the tokens they accept (web
 * identity, ECS authorization) and the ones they hand out (IMDS sessions).
 *
 * Every credential issued goes into the server's registry (creds.h) with its
 * session token and expiry, so the S3 API accepts it, and answers
 * ExpiredToken once the mock's clock passes the expiry. Secrets and tokens
 * never leave this module but in the documents the services answer. */
#ifndef MS3_SERVICES_H
#define MS3_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"
#include "creds.h"
#include "mock_s3.h"

typedef struct ms3_services ms3_services;

#define MS3_DEFAULT_CREDENTIAL_LIFETIME 3600
#define MS3_DEFAULT_IMDS_ROLE "mock-s3-role"
#define MS3_DEFAULT_ECS_PATH "/creds"
/* The account of the roles IMDS and ECS serve (AWS's documentation example). */
#define MS3_MOCK_ACCOUNT "123456789012"

/* A temporary credential as issued. */
typedef struct ms3_issued {
    char access_key_id[24]; /* "ASIA" + 16 */
    char secret[48];        /* 40 characters */
    char token[200];        /* the session token, base64 */
    int64_t issued;         /* unix seconds, mock time */
    int64_t expires;
} ms3_issued;

/* NULL + err when out of memory. The options' strings are copied. */
ms3_services *ms3__services_new(const ms3_options *o, bk_err *err);
void ms3__services_free(ms3_services *sv);

int ms3__services_sts(const ms3_services *sv);          /* STS is on */
int ms3__services_imds(const ms3_services *sv);         /* the IMDS listener is on */
int ms3__services_ecs(const ms3_services *sv);          /* the ECS listener is on */
int64_t ms3__services_lifetime(const ms3_services *sv); /* seconds */
const char *ms3__services_imds_role(const ms3_services *sv);
const char *ms3__services_ecs_path(const ms3_services *sv);

/* A new credential valid `seconds` from `now`, registered in creds. */
bk_code ms3__services_mint(ms3_creds *creds, int64_t now, int64_t seconds, ms3_issued *out,
                           bk_err *err);
/* What IMDS or ECS serves now: the same credential until half its lifetime is
 * gone, then a new one, so a client refreshing minutes before the expiry gets
 * fresh credentials, as EC2 rotates them long before they expire. */
bk_code ms3__services_current(ms3_services *sv, ms3_creds *creds, ms3_endpoint which, int64_t now,
                              ms3_issued *out, bk_err *err);
/* Wipes the copy's secret and token. */
void ms3__issued_clear(ms3_issued *c);

/* 1 when the role may be assumed (any, unless the options name some). */
int ms3__services_role_allowed(const ms3_services *sv, const char *role_arn);
bk_code ms3__services_add_web_identity_token(ms3_services *sv, const char *token, bk_err *err);
/* 1 when AssumeRoleWithWebIdentity accepts the token (one added, or the
 * token file's first line now); 0 when not; -1 when none is configured. */
int ms3__services_web_identity_accepted(ms3_services *sv, const char *token);

typedef enum ms3_bearer_check {
    MS3_BEARER_OK = 0,
    MS3_BEARER_MISSING, /* required, none given */
    MS3_BEARER_WRONG
} ms3_bearer_check;
/* The ECS endpoint's Authorization (given may be NULL). */
ms3_bearer_check ms3__services_ecs_authorized(ms3_services *sv, const char *given);

/* IMDSv2 sessions: a new token valid for ttl seconds from now (out >= 64
 * bytes), and whether a token is one of them, unexpired. */
bk_code ms3__services_imds_token_new(ms3_services *sv, int64_t now, int64_t ttl, char *out,
                                     size_t n, bk_err *err);
int ms3__services_imds_token_valid(ms3_services *sv, const char *token, int64_t now);

/* "2024-05-01T12:00:00Z", the time format of STS, IMDS and ECS. n >= 24. */
void ms3__services_time(int64_t unix_seconds, char *out, size_t n);

#endif
