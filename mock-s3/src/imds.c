/* IMDSv2 on its own listener (a bucket may be called "latest", so the S3
 * port cannot serve /latest/...), as EC2's instance metadata service answers
 * the SDKs' instance-role credential provider:
 *
 *   PUT /latest/api/token         a session token for the seconds asked in
 *                                 X-aws-ec2-metadata-token-ttl-seconds
 *                                 (1 to 21600, else 400), told back in the
 *                                 same response header; refused (403) when the
 *                                 request went through a proxy (X-Forwarded-For)
 *   GET /latest/meta-data/iam/security-credentials/       the role's name
 *   GET /latest/meta-data/iam/security-credentials/ROLE   its credentials
 *
 * Every GET needs a live session token in X-aws-ec2-metadata-token, else 401
 * (IMDSv1 is off, as on an instance that requires v2). Tokens and credentials
 * expire on the mock's clock. Any other path is 404, any other method 405. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

#define TOKEN_PATH "/latest/api/token"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials"
#define TOKEN_HEADER "X-aws-ec2-metadata-token"
#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"

enum { MAX_TTL = 21600 };

ms3_op ms3__imds_route(const char *method, const char *path)
{
    size_t n = strlen(CREDS_PATH);
    if (strcmp(path, TOKEN_PATH) == 0 && strcmp(method, "PUT") == 0)
        return MS3_OP_IMDS_GET_TOKEN;
    if (strcmp(method, "GET") != 0 || strncmp(path, CREDS_PATH, n) != 0)
        return MS3_OP_IMDS_GET_METADATA;
    if (path[n] == '\0' || strcmp(path + n, "/") == 0)
        return MS3_OP_IMDS_LIST_ROLES;
    if (path[n] == '/' && strchr(path + n + 1, '/') == NULL)
        return MS3_OP_IMDS_GET_CREDENTIALS;
    return MS3_OP_IMDS_GET_METADATA;
}

void ms3__imds_error(ms3_req *r, int status, const char *code, const char *message)
{
    ms3__resp_reset(&r->resp);
    r->resp.status = status;
    snprintf(r->resp.error_code, sizeof(r->resp.error_code), "%s", code);
    r->resp.error_message = strdup(message);
    bk_buf_printf(&r->resp.body, "%s\n", message);
    ms3__resp_header(r, "Content-Type", "text/plain");
}

static int refuse(ms3_req *r, int status, const char *code, const char *message)
{
    ms3__imds_error(r, status, code, message);
    return -1;
}

static void text(ms3_req *r, const char *body)
{
    r->resp.status = 200;
    bk_buf_puts(&r->resp.body, body);
    ms3__resp_header(r, "Content-Type", "text/plain");
}

/* The TTL header as seconds, or -1 when absent or out of 1..21600. */
static long requested_ttl(const ms3_req *r)
{
    const char *v = ms3__req_header(r, TTL_HEADER);
    if (v == NULL || *v == '\0' || strlen(v) > 6)
        return -1;
    char *end = NULL;
    long ttl = strtol(v, &end, 10);
    return *end == '\0' && ttl >= 1 && ttl <= MAX_TTL ? ttl : -1;
}

/* The token request's headers, then every GET's session token. */
int ms3__precheck_imds(ms3_req *r)
{
    if (r->route.op == MS3_OP_IMDS_GET_TOKEN) {
        if (ms3__req_header(r, "X-Forwarded-For") != NULL)
            return refuse(r, 403, "Forbidden",
                          "Forbidden: token requests through a proxy "
                          "(X-Forwarded-For) are refused");
        if (requested_ttl(r) < 0)
            return refuse(r, 400, "BadRequest",
                          "Bad Request: " TTL_HEADER " must be a whole number of seconds "
                          "from 1 to 21600");
        return 0;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return refuse(r, 405, "MethodNotAllowed", "Method Not Allowed");
    ms3_server *s = r->srv;
    if (!ms3__services_imds_token_valid(s->services, ms3__req_header(r, TOKEN_HEADER),
                                        ms3__clock_now(&s->clock)))
        return refuse(r, 401, "Unauthorized",
                      "Unauthorized: a live session token is required in " TOKEN_HEADER
                      " (PUT " TOKEN_PATH " first)");
    r->auth.kind = MS3_AUTH_TOKEN;
    r->auth.ok = 1;
    return 0;
}

void ms3__op_imds_get_token(ms3_req *r)
{
    ms3_server *s = r->srv;
    long ttl = requested_ttl(r);
    char token[64];
    bk_err err;
    if (ms3__services_imds_token_new(s->services, ms3__clock_now(&s->clock), ttl, token,
                                     sizeof(token), &err) != BK_OK) {
        ms3__imds_error(r, 500, "InternalError", err.msg);
        return;
    }
    text(r, token);
    memset(token, 0, sizeof(token));
    ms3__resp_headerf(r, TTL_HEADER, "%ld", ttl);
}

void ms3__op_imds_list_roles(ms3_req *r)
{
    text(r, ms3__services_imds_role(r->srv->services));
}

void ms3__op_imds_get_credentials(ms3_req *r)
{
    ms3_server *s = r->srv;
    const char *role = strrchr(r->route.raw_path, '/') + 1;
    if (strcmp(role, ms3__services_imds_role(s->services)) != 0) {
        ms3__imds_error(r, 404, "NotFound", "Not Found");
        return;
    }
    ms3_issued c;
    bk_err err;
    if (ms3__services_current(s->services, s->creds, MS3_ENDPOINT_IMDS, ms3__clock_now(&s->clock),
                              &c, &err) != BK_OK) {
        ms3__imds_error(r, 500, "InternalError", err.msg);
        return;
    }
    char updated[32], expiration[32];
    ms3__services_time(c.issued, updated, sizeof(updated));
    ms3__services_time(c.expires, expiration, sizeof(expiration));
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Code", "Success", "LastUpdated", updated,
                  "Type", "AWS-HMAC", "AccessKeyId", c.access_key_id, "SecretAccessKey", c.secret,
                  "Token", c.token, "Expiration", expiration);
    ms3__issued_clear(&c);
    char *json = doc != NULL ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (json == NULL) {
        ms3__imds_error(r, 500, "InternalError", "out of memory");
        return;
    }
    text(r, json);
    memset(json, 0, strlen(json));
    free(json);
}

void ms3__op_imds_get_metadata(ms3_req *r)
{
    ms3__imds_error(r, 404, "NotFound", "Not Found");
}
