/* STS on the S3 port, in the Query protocol the AWS SDKs speak: POST / with a
 * form body (Action, Version=2011-06-15 and the action's parameters); the
 * router sends it here only when STS is on and the body is a form, so no S3
 * request is taken for it.
 *
 *   AssumeRole                 signed (SigV4, service sts, over the body) by
 *                              credentials the mock knows, issued ones too
 *   AssumeRoleWithWebIdentity  unsigned; the token must be one the mock was
 *                              told to accept, and a JWT's "exp" is held to
 *                              the mock's clock
 *
 * Both check their parameters as STS does, then issue temporary credentials
 * (services.h) for DurationSeconds (900 to 43200; the configured lifetime
 * when absent). Answers and errors are STS's XML. The journal shows the
 * form's parameters, but never the token, policies or MFA code. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "bkcache/sigv4.h"
#include "errors.h"
#include "server_internal.h"
#include "xml.h"

#define STS_VERSION "2011-06-15"
#define STS_XMLNS "https://sts.amazonaws.com/doc/2011-06-15/"

enum {
    MIN_DURATION = 900,
    MAX_DURATION = 43200,
    WEB_TOKEN_MAX = 20000,
};

/* ---------------------------------------------------------------- answers */

/* The request id in STS's form (a UUID). */
static void request_uuid(const ms3_req *r, char *out, size_t n)
{
    snprintf(out, n, "%08x-0000-4000-8000-%012llx", (unsigned)(r->request_id >> 32),
             (unsigned long long)(r->request_id & 0xffffffffffffULL));
}

void ms3__sts_error(ms3_req *r, int status, const char *code, const char *message)
{
    char id[40];
    request_uuid(r, id, sizeof(id));
    ms3__resp_reset(&r->resp);
    r->resp.status = status;
    snprintf(r->resp.error_code, sizeof(r->resp.error_code), "%s", code);
    r->resp.error_message = strdup(message);
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, "<ErrorResponse xmlns=\"" STS_XMLNS "\"><Error>");
    ms3__xml_elem(b, "Type", status >= 500 ? "Receiver" : "Sender");
    ms3__xml_elem(b, "Code", code);
    ms3__xml_elem(b, "Message", message);
    bk_buf_puts(b, "</Error>");
    ms3__xml_elem(b, "RequestId", id);
    bk_buf_puts(b, "</ErrorResponse>\n");
    ms3__resp_header(r, "Content-Type", "text/xml");
    ms3__resp_header(r, "x-amzn-RequestId", id);
}

/* Answers a refusal; returns -1 so checks can `return refuse(...)`. */
static int refuse(ms3_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(ms3_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ms3__sts_error(r, status, code, msg);
    return -1;
}

/* ---------------------------------------------------------------- the form */

/* The request's form parameters (decoded) in a route's parameter list. */
static int parse_form(ms3_req *r, ms3_route *form)
{
    memset(form, 0, sizeof(*form));
    const bk_buf *b = r->ingest != NULL ? ms3__ingest_buffer(r->ingest) : NULL;
    const char *body = b != NULL && b->data != NULL ? b->data : "";
    size_t len = b != NULL ? b->len : 0;
    if (ms3__route_add_params(form, body, len) != 0)
        return refuse(r, 400, "InvalidQueryParameter",
                      "The AWS query string is malformed or does not adhere to AWS standards.");
    return 0;
}

/* Form parameters the journal may show: none of them is a secret. */
static const char *const journaled[] = {"Action",          "Version",        "RoleArn",
                                        "RoleSessionName", "ExternalId",     "DurationSeconds",
                                        "ProviderId",      "SourceIdentity", "SerialNumber"};

/* What the journal shows as the request's query: the form without secrets. */
static void set_journal_query(ms3_req *r, const ms3_route *form)
{
    bk_buf b = BK_BUF_INIT;
    for (size_t i = 0; i < sizeof(journaled) / sizeof(journaled[0]); i++) {
        const char *v = ms3__route_param(form, journaled[i]);
        if (v == NULL)
            continue;
        if (b.len > 0)
            bk_buf_putc(&b, '&');
        bk_buf_printf(&b, "%s=", journaled[i]);
        bk_sigv4_uri_encode(&b, v, strlen(v), 0);
    }
    if (b.data == NULL)
        bk_buf_puts(&b, "");
    free(r->journal_query);
    r->journal_query = bk_buf_steal(&b);
}

/* ---------------------------------------------------------------- dispatch */

typedef struct sts_action {
    const char *name;
    ms3_op op;
} sts_action;

static const sts_action actions[] = {
    {"AssumeRole", MS3_OP_STS_ASSUME_ROLE},
    {"AssumeRoleWithWebIdentity", MS3_OP_STS_ASSUME_ROLE_WITH_WEB_IDENTITY},
};

/* The action's operation, or MS3_OP_UNKNOWN after answering MissingAction /
 * InvalidAction. */
static ms3_op find_action(ms3_req *r, const ms3_route *form)
{
    const char *action = ms3__route_param(form, "Action");
    const char *version = ms3__route_param(form, "Version");
    if (action == NULL || *action == '\0') {
        refuse(r, 400, "MissingAction", "Missing Action");
        return MS3_OP_UNKNOWN;
    }
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(actions[i].name, action) == 0 && version != NULL &&
            strcmp(version, STS_VERSION) == 0)
            return actions[i].op;
    refuse(r, 400, "InvalidAction", "Could not find operation %.64s for version %.32s", action,
           version != NULL ? version : "NO_VERSION_SPECIFIED");
    return MS3_OP_UNKNOWN;
}

ms3_op ms3__sts_resolve(ms3_req *r)
{
    ms3_route form;
    ms3_op op = MS3_OP_UNKNOWN;
    if (parse_form(r, &form) == 0) {
        set_journal_query(r, &form);
        op = find_action(r, &form);
    }
    ms3__route_clear(&form);
    return op;
}

/* Not reached: ms3__sts_resolve names the operation that runs. */
void ms3__op_sts(ms3_req *r)
{
    refuse(r, 400, "MissingAction", "Missing Action");
}

/* ---------------------------------------------------------------- parameters */

/* STS's message for a parameter that breaks a constraint. */
static int invalid(ms3_req *r, const char *member, const char *value, const char *constraint)
{
    if (value == NULL)
        return refuse(r, 400, "ValidationError",
                      "1 validation error detected: Value null at '%s' failed to satisfy "
                      "constraint: Member must not be null",
                      member);
    return refuse(r, 400, "ValidationError",
                  "1 validation error detected: Value '%.128s' at '%s' failed to satisfy "
                  "constraint: Member must %s",
                  value, member, constraint);
}

/* Every byte is a word character or one of `extra`. */
static int matches_charset(const char *s, const char *extra)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || strchr(extra, *p) != NULL))
            return 0;
    return 1;
}

/* A string parameter: length within [min, max] and, when charset is given,
 * of word characters and those. */
static int check_text(ms3_req *r, const char *member, const char *v, size_t min, size_t max,
                      const char *charset, const char *pattern)
{
    char constraint[96];
    size_t len = strlen(v);
    if (len < min) {
        snprintf(constraint, sizeof(constraint), "have length greater than or equal to %zu", min);
        return invalid(r, member, v, constraint);
    }
    if (len > max) {
        snprintf(constraint, sizeof(constraint), "have length less than or equal to %zu", max);
        return invalid(r, member, v, constraint);
    }
    if (charset != NULL && !matches_charset(v, charset)) {
        snprintf(constraint, sizeof(constraint), "satisfy regular expression pattern: %s", pattern);
        return invalid(r, member, v, constraint);
    }
    return 0;
}

/* arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME. */
static int role_arn_valid(const char *arn)
{
    static const char *const partitions[] = {
        "arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::", "arn:aws-iso:iam::",
        "arn:aws-iso-b:iam::"};
    const char *p = NULL;
    for (size_t i = 0; i < sizeof(partitions) / sizeof(partitions[0]) && p == NULL; i++)
        if (strncmp(arn, partitions[i], strlen(partitions[i])) == 0)
            p = arn + strlen(partitions[i]);
    if (p == NULL)
        return 0;
    for (int i = 0; i < 12; i++, p++)
        if (*p < '0' || *p > '9')
            return 0;
    if (strncmp(p, ":role/", 6) != 0)
        return 0;
    p += 6;
    size_t len = strlen(p);
    return len > 0 && p[len - 1] != '/' && matches_charset(p, "+=,.@-/");
}

typedef struct role_request {
    const char *role_arn;
    const char *session;
    const char *external_id;
    int64_t duration;
} role_request;

static int check_duration(ms3_req *r, const char *v, int64_t *out)
{
    *out = ms3__services_lifetime(r->srv->services);
    if (v == NULL)
        return 0;
    char *end = NULL;
    long long d = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || strlen(v) > 9)
        return invalid(r, "durationSeconds", v, "be an integer");
    if (d < MIN_DURATION)
        return invalid(r, "durationSeconds", v, "have value greater than or equal to 900");
    if (d > MAX_DURATION)
        return invalid(r, "durationSeconds", v, "have value less than or equal to 43200");
    *out = d;
    return 0;
}

/* The parameters both actions take: RoleArn, RoleSessionName, DurationSeconds. */
static int check_role_request(ms3_req *r, const ms3_route *form, role_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->role_arn = ms3__route_param(form, "RoleArn");
    rq->session = ms3__route_param(form, "RoleSessionName");
    if (rq->role_arn == NULL)
        return invalid(r, "roleArn", NULL, NULL);
    if (rq->session == NULL)
        return invalid(r, "roleSessionName", NULL, NULL);
    if (check_text(r, "roleArn", rq->role_arn, 20, 2048, NULL, NULL) != 0 ||
        check_text(r, "roleSessionName", rq->session, 2, 64, "+=,.@-", "[\\w+=,.@-]*") != 0 ||
        check_duration(r, ms3__route_param(form, "DurationSeconds"), &rq->duration) != 0)
        return -1;
    if (!role_arn_valid(rq->role_arn))
        return refuse(r, 400, "ValidationError", "Request ARN is invalid");
    return 0;
}

/* ---------------------------------------------------------------- issuing */

/* A valid role ARN's parts: "arn:aws:iam::123456789012:role/path/name" has
 * the partition "aws", the account and the name "name". */
typedef struct role_parts {
    char partition[16];
    char account[16];
    char name[2048];
    char id[24]; /* "AROA" and 17 characters of the ARN's hash: stable per role */
} role_parts;

static void split_role_arn(const char *arn, role_parts *out)
{
    static const char upper32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const char *p = arn + 4;
    snprintf(out->partition, sizeof(out->partition), "%.*s", (int)strcspn(p, ":"), p);
    snprintf(out->account, sizeof(out->account), "%.12s", strstr(arn, ":iam::") + 6);
    snprintf(out->name, sizeof(out->name), "%s", strrchr(arn, '/') + 1);
    char hash[65];
    bk_sigv4_sha256_hex(arn, strlen(arn), hash);
    memcpy(out->id, "AROA", 4);
    for (int i = 0; i < 17; i++)
        out->id[4 + i] = upper32[(unsigned char)(hash[i] * 7 + hash[i + 17]) % 32];
    out->id[21] = '\0';
}

/* <Credentials> and <AssumedRoleUser> of an issued credential. */
static void credentials_xml(bk_buf *b, const role_request *rq, const ms3_issued *c)
{
    role_parts role;
    char expiration[32], arn[4096], user_id[160];
    split_role_arn(rq->role_arn, &role);
    snprintf(arn, sizeof(arn), "arn:%s:sts::%s:assumed-role/%s/%s", role.partition, role.account,
             role.name, rq->session);
    snprintf(user_id, sizeof(user_id), "%s:%s", role.id, rq->session);
    ms3__services_time(c->expires, expiration, sizeof(expiration));
    bk_buf_puts(b, "<AssumedRoleUser>");
    ms3__xml_elem(b, "AssumedRoleId", user_id);
    ms3__xml_elem(b, "Arn", arn);
    bk_buf_puts(b, "</AssumedRoleUser><Credentials>");
    ms3__xml_elem(b, "AccessKeyId", c->access_key_id);
    ms3__xml_elem(b, "SecretAccessKey", c->secret);
    ms3__xml_elem(b, "SessionToken", c->token);
    ms3__xml_elem(b, "Expiration", expiration);
    bk_buf_puts(b, "</Credentials>");
}

/* Issues the credential and answers <ACTIONResponse><ACTIONResult>, with
 * extra elements (escaped) before the credentials. */
static void issue(ms3_req *r, const char *action, const role_request *rq, const char *extra_xml)
{
    ms3_server *s = r->srv;
    ms3_issued c;
    bk_err err;
    if (ms3__services_mint(s->creds, ms3__clock_now(&s->clock), rq->duration, &c, &err) != BK_OK) {
        refuse(r, 500, "InternalFailure", "The credential could not be issued: %s", err.msg);
        return;
    }
    char id[40];
    request_uuid(r, id, sizeof(id));
    bk_buf *b = &r->resp.body;
    bk_buf_printf(b, "<%sResponse xmlns=\"" STS_XMLNS "\"><%sResult>", action, action);
    if (extra_xml != NULL)
        bk_buf_puts(b, extra_xml);
    credentials_xml(b, rq, &c);
    bk_buf_printf(b, "</%sResult><ResponseMetadata>", action);
    ms3__xml_elem(b, "RequestId", id);
    bk_buf_printf(b, "</ResponseMetadata></%sResponse>\n", action);
    ms3__issued_clear(&c);
    r->resp.status = 200;
    ms3__resp_header(r, "Content-Type", "text/xml");
    ms3__resp_header(r, "x-amzn-RequestId", id);
}

/* ---------------------------------------------------------------- AssumeRole */

/* The signature's scope as STS judges it, before the key: the mock's region
 * and the service sts. */
static int check_scope(ms3_req *r)
{
    const char *authz = ms3__req_header(r, "Authorization");
    bk_sigv4_auth a;
    bk_err err;
    memset(&a, 0, sizeof(a));
    int rc = 0;
    if (authz != NULL && bk_sigv4_parse_authorization(authz, &a, &err) == BK_OK) {
        if (strcmp(a.region, r->srv->region) != 0)
            rc = refuse(r, 403, "SignatureDoesNotMatch",
                        "Credential should be scoped to a valid region, not '%.64s'. ", a.region);
        else if (strcmp(a.service, "sts") != 0)
            rc = refuse(r, 403, "SignatureDoesNotMatch",
                        "Credential should be scoped to correct service: 'sts'. ");
    }
    bk_sigv4_auth_clear(&a);
    return rc;
}

/* An S3 verdict (auth.c) in STS's words. */
static int refuse_auth(ms3_req *r)
{
    const char *code = r->auth.error_code != NULL ? r->auth.error_code : "AccessDenied";
    if (strcmp(code, "AccessDenied") == 0 && r->auth.kind == MS3_AUTH_NONE)
        return refuse(r, 403, "MissingAuthenticationToken",
                      "Request is missing Authentication Token");
    if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "InvalidToken") == 0)
        return refuse(r, 403, "InvalidClientTokenId",
                      "The security token included in the request is invalid.");
    if (strcmp(code, "ExpiredToken") == 0)
        return refuse(r, 403, "ExpiredToken",
                      "The security token included in the request is expired");
    if (strcmp(code, "AccessDenied") == 0)
        return refuse(r, 403, "AccessDenied", "%s", r->auth.message);
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        return refuse(r, 403, "SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.");
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return refuse(r, 403, "SignatureDoesNotMatch",
                      "Signature expired: the request time is more than %lld seconds away from "
                      "the server time",
                      (long long)r->srv->max_skew_seconds);
    return refuse(r, 400, "IncompleteSignature", "%s", r->auth.message);
}

/* SigV4 with service sts over the form body, by credentials the mock knows. */
static int authenticate(ms3_req *r)
{
    if (check_scope(r) != 0)
        return -1;
    ms3_server *s = r->srv;
    const bk_buf *body = r->ingest != NULL ? ms3__ingest_buffer(r->ingest) : NULL;
    char body_hash[65];
    if (body != NULL && body->data != NULL)
        bk_sigv4_sha256_hex(body->data, body->len, body_hash);
    else
        bk_sigv4_sha256_hex("", 0, body_hash);
    bk_sigv4_request sreq = {r->method,         r->route.raw_path, r->route.raw_query,
                             r->headers,        r->n_headers,      NULL,
                             BK_SIGV4_PATH_AUTO};
    ms3_auth_config acfg = {s->region, 0,        s->max_skew_seconds, &s->clock, s->creds,
                            "sts",     body_hash};
    if (ms3__auth_verify(&acfg, &sreq, &r->auth))
        return 0;
    return refuse_auth(r);
}

/* AssumeRole's own parameter beside the role request. */
static int check_external_id(ms3_req *r, const ms3_route *form, role_request *rq)
{
    rq->external_id = ms3__route_param(form, "ExternalId");
    if (rq->external_id == NULL)
        return 0;
    return check_text(r, "externalId", rq->external_id, 2, 1224, "+=,.@:/-", "[\\w+=,.@:\\/-]*");
}

void ms3__op_sts_assume_role(ms3_req *r)
{
    ms3_route form;
    role_request rq;
    if (parse_form(r, &form) == 0 && authenticate(r) == 0 &&
        check_role_request(r, &form, &rq) == 0 && check_external_id(r, &form, &rq) == 0) {
        if (!ms3__services_role_allowed(r->srv->services, rq.role_arn))
            refuse(r, 403, "AccessDenied",
                   "User: arn:aws:iam::" MS3_MOCK_ACCOUNT ":user/%.64s is not authorized to "
                   "perform: sts:AssumeRole on resource: %.2048s",
                   r->auth.access_key_id, rq.role_arn);
        else
            issue(r, "AssumeRole", &rq, NULL);
    }
    ms3__route_clear(&form);
}

/* ---------------------------------------------------------------- web identity */

/* What a JWT says of itself; empty when the token is not one. */
typedef struct jwt_claims {
    int64_t exp; /* 0 = none */
    char sub[256];
    char aud[256];
    char iss[256];
} jwt_claims;

/* base64url without padding -> bytes (NUL-terminated); NULL when malformed. */
static char *base64url_decode(const char *s, size_t len, size_t *out_len)
{
    char *std = malloc(len + 4);
    char *out = malloc(len + 1);
    if (std == NULL || out == NULL) {
        free(std);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        std[i] = (char)(s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
    size_t n = len;
    while (n % 4 != 0)
        std[n++] = '=';
    long got = bk_checksum_base64_decode(std, n, (unsigned char *)out, len + 1);
    free(std);
    if (got < 0 || (size_t)got > len) {
        free(out);
        return NULL;
    }
    out[got] = '\0';
    *out_len = (size_t)got;
    return out;
}

static void claim_text(json_t *o, const char *name, char *out, size_t n)
{
    json_t *v = json_object_get(o, name);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
}

static void read_jwt(const char *token, jwt_claims *c)
{
    memset(c, 0, sizeof(*c));
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
        return;
    size_t len = 0;
    char *payload = base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
    if (payload == NULL)
        return;
    json_error_t jerr;
    json_t *o = json_loadb(payload, len, 0, &jerr);
    free(payload);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    json_t *exp = json_object_get(o, "exp");
    if (json_is_integer(exp))
        c->exp = (int64_t)json_integer_value(exp);
    else if (json_is_real(exp))
        c->exp = (int64_t)json_real_value(exp);
    claim_text(o, "sub", c->sub, sizeof(c->sub));
    claim_text(o, "aud", c->aud, sizeof(c->aud));
    claim_text(o, "iss", c->iss, sizeof(c->iss));
    json_decref(o);
}

/* The token is one the mock accepts, and not expired. */
static int check_web_token(ms3_req *r, const char *token, jwt_claims *claims)
{
    r->auth.kind = MS3_AUTH_TOKEN;
    if (token == NULL)
        return invalid(r, "webIdentityToken", NULL, NULL);
    if (strlen(token) < 4 || strlen(token) > WEB_TOKEN_MAX)
        return refuse(r, 400, "ValidationError",
                      "1 validation error detected: Value at 'webIdentityToken' failed to "
                      "satisfy constraint: Member must have length between 4 and 20000");
    int accepted = ms3__services_web_identity_accepted(r->srv->services, token);
    if (accepted < 0)
        return refuse(r, 400, "InvalidIdentityToken",
                      "No web identity token is accepted: the mock has none configured "
                      "(--web-identity-token, --web-identity-token-file, "
                      "ms3_server_add_web_identity_token)");
    if (accepted == 0)
        return refuse(r, 400, "InvalidIdentityToken",
                      "The web identity token is not one the mock was configured to accept");
    read_jwt(token, claims);
    int64_t now = ms3__clock_now(&r->srv->clock);
    if (claims->exp != 0 && now >= claims->exp)
        return refuse(r, 400, "ExpiredTokenException",
                      "Token expired: current date/time %lld must be before the expiration "
                      "date/time %lld",
                      (long long)now, (long long)claims->exp);
    r->auth.ok = 1;
    return 0;
}

void ms3__op_sts_assume_role_with_web_identity(ms3_req *r)
{
    ms3_route form;
    role_request rq;
    jwt_claims claims;
    memset(&claims, 0, sizeof(claims));
    if (parse_form(r, &form) == 0 && check_role_request(r, &form, &rq) == 0 &&
        check_web_token(r, ms3__route_param(&form, "WebIdentityToken"), &claims) == 0) {
        if (!ms3__services_role_allowed(r->srv->services, rq.role_arn)) {
            refuse(r, 403, "AccessDenied",
                   "Not authorized to perform sts:AssumeRoleWithWebIdentity");
        } else {
            const char *provider = ms3__route_param(&form, "ProviderId");
            const char *iss = claims.iss;
            if (strncmp(iss, "https://", 8) == 0)
                iss += 8;
            bk_buf extra = BK_BUF_INIT;
            ms3__xml_elem(&extra, "SubjectFromWebIdentityToken",
                          claims.sub[0] ? claims.sub : "mock-subject");
            ms3__xml_elem(&extra, "Audience", claims.aud[0] ? claims.aud : "sts.amazonaws.com");
            ms3__xml_elem(&extra, "Provider",
                          provider != NULL ? provider
                          : iss[0]         ? iss
                                           : "mock-s3");
            issue(r, "AssumeRoleWithWebIdentity", &rq, bk_buf_str(&extra));
            bk_buf_clear(&extra);
        }
    }
    ms3__route_clear(&form);
}
