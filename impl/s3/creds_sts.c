/* STS: AssumeRoleWithWebIdentity (unsigned, a token file read at every
 * call) and AssumeRole (signed with a source provider's credentials), as the
 * SDK's stscreds providers call them: the Query protocol, a form body, the
 * regional endpoint unless AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL say
 * otherwise. */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/sigv4.h"
#include "creds_internal.h"
#include "s3time.h"

#define STS_TIMEOUT_MS 30000
#define STS_MAX_ANSWER ((size_t)64 * 1024)
#define ASSUME_ROLE_DEFAULT_SECONDS 900

void bk__creds_sts_endpoint(const creds_ctx *x, bk_buf *out)
{
    const char *url = bk_env_get(creds_env(x), "AWS_ENDPOINT_URL_STS");
    if (url == NULL)
        url = bk_env_get(creds_env(x), "AWS_ENDPOINT_URL");
    if (url != NULL) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        bk_buf_append(out, url, n);
        return;
    }
    bk_buf_printf(out, "https://sts.%s.amazonaws.com", x->region[0] ? x->region : "us-east-1");
}

/* ---- the answer ---- */

enum { F_AKID, F_SECRET, F_TOKEN, F_EXPIRATION, F_CODE, F_MESSAGE, F_N };
static const char *const field_names[F_N] = {
    "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "Code", "Message"};

typedef struct answer {
    bk_buf field[F_N];
    int current; /* the field whose text is being read, -1 none */
} answer;

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    answer *a = ud;
    a->current = -1;
    for (int i = 0; i < F_N; i++)
        if (strcmp(name, field_names[i]) == 0) {
            a->current = i;
            a->field[i].len = 0;
            if (a->field[i].data != NULL)
                a->field[i].data[0] = '\0';
        }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    ((answer *)ud)->current = -1;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    answer *a = ud;
    if (a->current >= 0)
        bk_buf_append(&a->field[a->current], s, (size_t)len);
}

static void answer_clear(answer *a)
{
    for (int i = 0; i < F_N; i++) {
        if (a->field[i].data != NULL)
            memset(a->field[i].data, 0, a->field[i].len);
        bk_buf_clear(&a->field[i]);
    }
}

static int answer_parse(const bk_buf *body, answer *a)
{
    memset(a, 0, sizeof *a);
    a->current = -1;
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (p == NULL)
        return -1;
    XML_SetUserData(p, a);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    int ok = XML_Parse(p, body->data ? body->data : "", (int)body->len, 1) == XML_STATUS_OK;
    XML_ParserFree(p);
    return ok ? 0 : -1;
}

/* One STS call; its answer into out. what names the call in messages. */
static bk_code sts_call(const creds_ctx *x, const char *what, const char *form,
                        const char *const *headers, const char *source, bk_creds *out, bk_err *err)
{
    bk_buf url = BK_BUF_INIT, body = BK_BUF_INIT;
    bk__creds_sts_endpoint(x, &url);
    bk_buf_putc(&url, '/');
    creds_http rq = {.method = "POST",
                     .url = bk_buf_str(&url),
                     .headers = headers,
                     .body = form,
                     .body_len = strlen(form),
                     .timeout_ms = STS_TIMEOUT_MS,
                     .max_response = STS_MAX_ANSWER,
                     .ca_bundle = x->ca_bundle};
    long status = 0;
    bk_code rc = bk__creds_http(&rq, &status, &body, err);
    answer a;
    if (rc == BK_OK && answer_parse(&body, &a) != 0) {
        rc = bk_err_set(err, BK_EPROTO, "STS %s at %s: HTTP %ld with a body that is not XML", what,
                        bk_buf_str(&url), status);
        answer_clear(&a);
    } else if (rc == BK_OK) {
        if (status != 200)
            rc = bk_err_set(err, status == 403 ? BK_EAUTH : BK_ES3, "STS %s at %s: HTTP %ld %s: %s",
                            what, bk_buf_str(&url), status,
                            a.field[F_CODE].len ? bk_buf_str(&a.field[F_CODE]) : "(no code)",
                            bk_buf_str(&a.field[F_MESSAGE]));
        else {
            time_t expires = 0;
            if (a.field[F_AKID].len == 0 || a.field[F_SECRET].len == 0 ||
                a.field[F_TOKEN].len == 0 ||
                bk__s3_parse_iso8601(bk_buf_str(&a.field[F_EXPIRATION]), &expires) != 0)
                rc = bk_err_set(err, BK_EPROTO,
                                "STS %s at %s: the answer lacks Credentials (AccessKeyId, "
                                "SecretAccessKey, SessionToken, Expiration)",
                                what, bk_buf_str(&url));
            else
                rc =
                    bk__creds_set(out, bk_buf_str(&a.field[F_AKID]), bk_buf_str(&a.field[F_SECRET]),
                                  bk_buf_str(&a.field[F_TOKEN]), expires, source, err);
        }
        answer_clear(&a);
    }
    if (body.data != NULL)
        memset(body.data, 0, body.len);
    bk_buf_clear(&body);
    bk_buf_clear(&url);
    return rc;
}

/* Form encoding: unreserved characters as they are, the rest %XX. */
static void form_put(bk_buf *b, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    bk_buf_printf(b, "&%s=", key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            bk_buf_putc(b, (char)*p);
        } else {
            bk_buf_putc(b, '%');
            bk_buf_putc(b, hex[*p >> 4]);
            bk_buf_putc(b, hex[*p & 15]);
        }
    }
}

static void default_session_name(const creds_ctx *x, char *out, size_t size, const char *prefix)
{
    snprintf(out, size, "%s%lld", prefix, (long long)bk_clock_wall_ns(&x->clock));
}

static const char *const FORM_CONTENT_TYPE =
    "Content-Type: application/x-www-form-urlencoded; charset=utf-8";

/* ---- web identity ---- */

typedef struct web_identity {
    bk_creds_provider base;
    creds_ctx x;
    char *token_file, *role_arn, *session_name;
    char source[96];
} web_identity;

static bk_code web_identity_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    web_identity *p = (web_identity *)self;
    if (p->role_arn == NULL)
        return bk_err_set(err, BK_EINVAL,
                          "%s: a token file is set but no role ARN (AWS_ROLE_ARN or the "
                          "profile's role_arn)",
                          p->source);
    char *token = NULL;
    bk_code rc = bk__creds_read_token_file(p->token_file, "web identity token file", &token, err);
    if (rc != BK_OK)
        return rc;
    char session[80];
    if (p->session_name != NULL)
        snprintf(session, sizeof session, "%s", p->session_name);
    else
        default_session_name(&p->x, session, sizeof session, "");
    bk_buf form = BK_BUF_INIT;
    bk_buf_puts(&form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15");
    form_put(&form, "RoleArn", p->role_arn);
    form_put(&form, "RoleSessionName", session);
    form_put(&form, "WebIdentityToken", token);
    bk__creds_scrub_free(token);
    const char *headers[] = {FORM_CONTENT_TYPE, NULL};
    if (form.failed)
        rc = bk_err_set(err, BK_ENOMEM, "web identity: out of memory");
    else
        rc = sts_call(&p->x, "AssumeRoleWithWebIdentity", bk_buf_str(&form), headers, p->source,
                      out, err);
    if (rc != BK_OK)
        bk_err_prefix(err, "role %s: ", p->role_arn);
    memset(form.data, 0, form.len);
    bk_buf_clear(&form);
    return rc;
}

static void web_identity_free(bk_creds_provider *self)
{
    web_identity *p = (web_identity *)self;
    free(p->token_file);
    free(p->role_arn);
    free(p->session_name);
    free(p);
}

bk_creds_provider *bk__creds_web_identity_new(const creds_ctx *x, const char *token_file,
                                              const char *role_arn, const char *session_name,
                                              const char *origin, bk_err *err)
{
    web_identity *p = calloc(1, sizeof *p);
    if (p == NULL || (p->token_file = strdup(token_file)) == NULL ||
        (role_arn != NULL && role_arn[0] != '\0' && (p->role_arn = strdup(role_arn)) == NULL) ||
        (session_name != NULL && session_name[0] != '\0' &&
         (p->session_name = strdup(session_name)) == NULL)) {
        if (p != NULL)
            web_identity_free(&p->base);
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->base.name = "web identity";
    p->base.fetch = web_identity_fetch;
    p->base.free = web_identity_free;
    snprintf(p->source, sizeof p->source, "web identity (%s)", origin);
    return &p->base;
}

/* ---- assume role ---- */

typedef struct assume_role {
    bk_creds_provider base;
    creds_ctx x;
    bk_creds_provider *source;
    char *role_arn, *session_name, *external_id, *profile;
    long duration;
    char source_name[96];
} assume_role;

/* The form signed with SigV4 for service sts (the payload hash is the body's). */
static bk_code sign_form(const creds_ctx *x, const bk_creds *src, const char *form,
                         bk_buf *auth_header, bk_buf *date_header, bk_buf *token_header,
                         bk_err *err)
{
    bk_buf url = BK_BUF_INIT;
    bk__creds_sts_endpoint(x, &url);
    const char *host = strstr(bk_buf_str(&url), "://");
    host = host != NULL ? host + 3 : bk_buf_str(&url);
    char hosth[256];
    snprintf(hosth, sizeof hosth, "%.*s", (int)strcspn(host, "/"), host);
    bk_buf_clear(&url);
    char amz_date[17];
    bk_sigv4_format_amz_date((time_t)(bk_clock_wall_ns(&x->clock) / BK_NS_PER_SEC), amz_date);
    char payload[65];
    bk_sigv4_sha256_hex(form, strlen(form), payload);
    bk_sigv4_header h[4] = {{"host", hosth},
                            {"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
                            {"x-amz-date", amz_date},
                            {"x-amz-security-token", src->session_token}};
    size_t nh = src->session_token != NULL ? 4 : 3;
    bk_sigv4_request req = {.method = "POST",
                            .raw_path = "/",
                            .raw_query = "",
                            .headers = h,
                            .n_headers = nh,
                            .payload_hash = payload};
    const char *region = x->region[0] ? x->region : "us-east-1";
    bk_sigv4_signer *s = bk_sigv4_signer_new(src->access_key_id, src->secret_access_key,
                                             src->session_token, region, "sts", err);
    if (s == NULL)
        return BK_EINVAL;
    bk_sigv4_result r = {0};
    bk_code rc = bk_sigv4_sign(s, &req, amz_date, NULL, &r, err);
    if (rc == BK_OK) {
        bk_buf_printf(auth_header, "Authorization: %s", r.authorization);
        bk_buf_printf(date_header, "X-Amz-Date: %s", amz_date);
        if (src->session_token != NULL)
            bk_buf_printf(token_header, "X-Amz-Security-Token: %s", src->session_token);
    }
    bk_sigv4_result_clear(&r);
    bk_sigv4_signer_free(s);
    return rc;
}

static bk_code assume_role_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    assume_role *p = (assume_role *)self;
    bk_creds src;
    bk_code rc = bk_creds_fetch(p->source, &src, err);
    if (rc != BK_OK) {
        bk_err_prefix(err, "profile %s: role_arn's source credentials: ", p->profile);
        return rc == BK_ENOTFOUND ? BK_EAUTH : rc;
    }
    char session[80];
    if (p->session_name != NULL)
        snprintf(session, sizeof session, "%s", p->session_name);
    else
        default_session_name(&p->x, session, sizeof session, "aws-go-sdk-");
    bk_buf form = BK_BUF_INIT, auth = BK_BUF_INIT, date = BK_BUF_INIT, tok = BK_BUF_INIT;
    bk_buf_puts(&form, "Action=AssumeRole");
    bk_buf_printf(&form, "&DurationSeconds=%ld", p->duration);
    if (p->external_id != NULL)
        form_put(&form, "ExternalId", p->external_id);
    form_put(&form, "RoleArn", p->role_arn);
    form_put(&form, "RoleSessionName", session);
    bk_buf_puts(&form, "&Version=2011-06-15");
    rc = sign_form(&p->x, &src, bk_buf_str(&form), &auth, &date, &tok, err);
    bk_creds_clear(&src);
    if (rc == BK_OK) {
        const char *headers[] = {FORM_CONTENT_TYPE, bk_buf_str(&date), bk_buf_str(&auth),
                                 tok.len ? bk_buf_str(&tok) : NULL, NULL};
        rc = sts_call(&p->x, "AssumeRole", bk_buf_str(&form), headers, p->source_name, out, err);
    }
    if (rc != BK_OK)
        bk_err_prefix(err, "profile %s: role %s: ", p->profile, p->role_arn);
    if (tok.data != NULL)
        memset(tok.data, 0, tok.len);
    bk_buf_clear(&form);
    bk_buf_clear(&auth);
    bk_buf_clear(&date);
    bk_buf_clear(&tok);
    return rc;
}

static void assume_role_free(bk_creds_provider *self)
{
    assume_role *p = (assume_role *)self;
    bk_creds_provider_free(p->source);
    free(p->role_arn);
    free(p->session_name);
    free(p->external_id);
    free(p->profile);
    free(p);
}

static int dup_opt(char **dst, const char *src)
{
    if (src == NULL || src[0] == '\0')
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

bk_creds_provider *bk__creds_assume_role_new(const creds_ctx *x, const creds_assume_role *ar,
                                             bk_creds_provider *source, bk_err *err)
{
    assume_role *p = calloc(1, sizeof *p);
    if (p == NULL || dup_opt(&p->role_arn, ar->role_arn) != 0 ||
        dup_opt(&p->session_name, ar->session_name) != 0 ||
        dup_opt(&p->external_id, ar->external_id) != 0 || dup_opt(&p->profile, ar->profile) != 0) {
        if (p != NULL)
            assume_role_free(&p->base);
        else
            bk_creds_provider_free(source);
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->source = source;
    /* As the SDK: a duration of 15 minutes or less keeps its default (15 minutes). */
    p->duration = ar->duration_seconds > ASSUME_ROLE_DEFAULT_SECONDS ? ar->duration_seconds
                                                                     : ASSUME_ROLE_DEFAULT_SECONDS;
    p->base.name = "assume role";
    p->base.fetch = assume_role_fetch;
    p->base.free = assume_role_free;
    snprintf(p->source_name, sizeof p->source_name, "profile %s (assume role)", ar->profile);
    return &p->base;
}
