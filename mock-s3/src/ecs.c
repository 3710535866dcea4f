/* The container credentials endpoint (ECS task roles, EKS Pod Identity) on
 * its own listener, so AWS_CONTAINER_CREDENTIALS_FULL_URI can name it:
 *
 *   GET <path>   the task role's credentials as JSON (RoleArn, AccessKeyId,
 *                SecretAccessKey, Token, Expiration)
 *
 * When a token is configured the request's Authorization must be it, as the
 * SDKs send AWS_CONTAINER_AUTHORIZATION_TOKEN (401 without one, 403 with
 * another). Errors are JSON {"code","message"}, as the SDKs read them. Any
 * other path is 404, any other method 405. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

void ms3__ecs_error(ms3_req *r, int status, const char *code, const char *message)
{
    ms3__resp_reset(&r->resp);
    r->resp.status = status;
    snprintf(r->resp.error_code, sizeof(r->resp.error_code), "%s", code);
    r->resp.error_message = strdup(message);
    json_t *doc = json_pack("{s:s, s:s}", "code", code, "message", message);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    bk_buf_puts(&r->resp.body, text != NULL ? text : "{}");
    free(text);
    ms3__resp_header(r, "Content-Type", "application/json");
}

static int refuse(ms3_req *r, int status, const char *code, const char *message)
{
    ms3__ecs_error(r, status, code, message);
    return -1;
}

int ms3__precheck_ecs(ms3_req *r)
{
    ms3_services *sv = r->srv->services;
    if (strcmp(r->method, "GET") != 0)
        return refuse(r, 405, "MethodNotAllowed", "only GET is served");
    if (strcmp(r->route.raw_path, ms3__services_ecs_path(sv)) != 0)
        return refuse(r, 404, "NotFound", "no credentials are served at this path");
    switch (ms3__services_ecs_authorized(sv, ms3__req_header(r, "Authorization"))) {
    case MS3_BEARER_MISSING:
        return refuse(r, 401, "Unauthorized",
                      "an Authorization header with the container authorization token is "
                      "required");
    case MS3_BEARER_WRONG:
        r->auth.kind = MS3_AUTH_TOKEN;
        return refuse(r, 403, "AccessDenied",
                      "the Authorization header is not the container authorization token");
    case MS3_BEARER_OK:
    default:
        break;
    }
    if (ms3__req_header(r, "Authorization") != NULL) {
        r->auth.kind = MS3_AUTH_TOKEN;
        r->auth.ok = 1;
    }
    return 0;
}

void ms3__op_ecs_get_credentials(ms3_req *r)
{
    ms3_server *s = r->srv;
    ms3_issued c;
    bk_err err;
    if (ms3__services_current(s->services, s->creds, MS3_ENDPOINT_ECS, ms3__clock_now(&s->clock),
                              &c, &err) != BK_OK) {
        ms3__ecs_error(r, 500, "InternalError", err.msg);
        return;
    }
    char role_arn[512], expiration[32];
    snprintf(role_arn, sizeof(role_arn), "arn:aws:iam::" MS3_MOCK_ACCOUNT ":role/%s",
             ms3__services_imds_role(s->services));
    ms3__services_time(c.expires, expiration, sizeof(expiration));
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "RoleArn", role_arn, "AccessKeyId", c.access_key_id,
                  "SecretAccessKey", c.secret, "Token", c.token, "Expiration", expiration);
    ms3__issued_clear(&c);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (text == NULL) {
        ms3__ecs_error(r, 500, "InternalError", "out of memory");
        return;
    }
    r->resp.status = 200;
    bk_buf_puts(&r->resp.body, text);
    memset(text, 0, strlen(text));
    free(text);
    ms3__resp_header(r, "Content-Type", "application/json");
}
