/* The shared files (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
 * AWS_CONFIG_FILE or ~/.aws/config) and what a profile names as its
 * credentials, resolved in the order of the SDK's resolveCredsFromProfile:
 * role_arn + source_profile (or credential_source) assumes a role over the
 * source's credentials; else static keys; else web_identity_token_file (with
 * role_arn); else IAM Identity Center (sso_session or sso_start_url); else
 * credential_process. A profile naming none of them has nothing. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_internal.h"

const char *bk_creds_profile_name(const bk_env *env)
{
    const char *p = bk_env_get(env, "AWS_PROFILE");
    return p != NULL ? p : "default";
}

/* The keys read from a profile; credentials file values win over config's. */
#define PROFILE_KEYS(X)                                                                            \
    X(access_key_id, "aws_access_key_id")                                                          \
    X(secret_access_key, "aws_secret_access_key")                                                  \
    X(session_token, "aws_session_token")                                                          \
    X(region, "region")                                                                            \
    X(ca_bundle, "ca_bundle")                                                                      \
    X(retry_mode, "retry_mode")                                                                    \
    X(max_attempts, "max_attempts")                                                                \
    X(role_arn, "role_arn")                                                                        \
    X(source_profile, "source_profile")                                                            \
    X(credential_source, "credential_source")                                                      \
    X(role_session_name, "role_session_name")                                                      \
    X(external_id, "external_id")                                                                  \
    X(duration_seconds, "duration_seconds")                                                        \
    X(mfa_serial, "mfa_serial")                                                                    \
    X(web_identity_token_file, "web_identity_token_file")                                          \
    X(credential_process, "credential_process")                                                    \
    X(sso_session, "sso_session")                                                                  \
    X(sso_start_url, "sso_start_url")                                                              \
    X(sso_region, "sso_region")                                                                    \
    X(sso_account_id, "sso_account_id")                                                            \
    X(sso_role_name, "sso_role_name")

typedef struct profile_values {
#define FIELD(f, key) char *f;
    PROFILE_KEYS(FIELD)
#undef FIELD
    int found; /* the section exists */
} profile_values;

static void profile_values_clear(profile_values *v)
{
    if (v->secret_access_key != NULL)
        memset(v->secret_access_key, 0, strlen(v->secret_access_key));
    if (v->session_token != NULL)
        memset(v->session_token, 0, strlen(v->session_token));
#define FREE(f, key) free(v->f);
    PROFILE_KEYS(FREE)
#undef FREE
    memset(v, 0, sizeof *v);
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static void set_value(profile_values *v, const char *key, const char *val)
{
    /* A key repeated in a section: the last one wins, as in the SDKs. */
#define SET(f, name)                                                                               \
    if (strcmp(key, name) == 0) {                                                                  \
        free(v->f);                                                                                \
        v->f = strdup(val);                                                                        \
        return;                                                                                    \
    }
    PROFILE_KEYS(SET)
#undef SET
}

/* Reads section `want` of an INI file. kind "profile" (the config file):
 * sections are "[profile NAME]" except "[default]"; "sso-session": "[sso-session
 * NAME]"; NULL (the credentials file): "[NAME]". Returns 0 when the file does
 * not exist, -1 on a read error (errno), 1 when read. */
static int read_profile(const char *path, const char *want, const char *kind, profile_values *v)
{
    size_t kind_len = kind != NULL ? strlen(kind) : 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    int in_section = 0;
    while (getline(&line, &cap, f) >= 0) {
        /* Indented lines continue a nested block (e.g. "s3 =\n  addressing_style = path"). */
        int indented = line[0] == ' ' || line[0] == '\t';
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end == NULL) {
                in_section = 0;
                continue;
            }
            *end = '\0';
            char *name = trim(s + 1);
            int bare_default =
                kind != NULL && strcmp(kind, "profile") == 0 && strcmp(name, "default") == 0;
            if (kind != NULL && !bare_default) {
                if (strncmp(name, kind, kind_len) != 0 || !isspace((unsigned char)name[kind_len])) {
                    in_section = 0;
                    continue;
                }
                name = trim(name + kind_len);
            }
            in_section = strcmp(name, want) == 0;
            if (in_section)
                v->found = 1;
            continue;
        }
        if (!in_section || indented)
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        if (*val == '\0')
            continue; /* "aws_access_key_id =" sets nothing */
        set_value(v, key, val);
    }
    free(line);
    fclose(f);
    return 1;
}

static int file_path(const bk_env *env, const char *var, const char *leaf, bk_buf *out)
{
    const char *p = bk_env_get(env, var);
    if (p != NULL)
        return bk_buf_puts(out, p);
    const char *home = bk_env_get(env, "HOME");
    if (home == NULL)
        return -1;
    return bk_buf_printf(out, "%s/.aws/%s", home, leaf);
}

/* Merges both files for profile; credentials file values win. */
static bk_code load_profile(const bk_env *env, const char *profile, profile_values *out,
                            bk_buf *tried, bk_err *err)
{
    profile_values cred = {0}, conf = {0};
    bk_buf cred_path = BK_BUF_INIT, conf_path = BK_BUF_INIT;
    bk_code rc = BK_OK;
    memset(out, 0, sizeof *out);
    int have_cred = file_path(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", &cred_path) == 0;
    int have_conf = file_path(env, "AWS_CONFIG_FILE", "config", &conf_path) == 0;
    if (have_cred && read_profile(bk_buf_str(&cred_path), profile, NULL, &cred) < 0) {
        rc = bk_err_set(err, BK_EIO, "cannot read shared credentials file %s: %s",
                        bk_buf_str(&cred_path), strerror(errno));
        goto out;
    }
    if (have_conf && read_profile(bk_buf_str(&conf_path), profile, "profile", &conf) < 0) {
        rc = bk_err_set(err, BK_EIO, "cannot read config file %s: %s", bk_buf_str(&conf_path),
                        strerror(errno));
        goto out;
    }
    if (tried != NULL)
        bk_buf_printf(tried, "profile \"%s\" in %s and %s", profile,
                      have_cred ? bk_buf_str(&cred_path) : "(no credentials file: HOME unset)",
                      have_conf ? bk_buf_str(&conf_path) : "(no config file: HOME unset)");
    out->found = cred.found || conf.found;
#define TAKE(f, key)                                                                               \
    if (cred.f != NULL) {                                                                          \
        out->f = cred.f;                                                                           \
        cred.f = NULL;                                                                             \
    } else {                                                                                       \
        out->f = conf.f;                                                                           \
        conf.f = NULL;                                                                             \
    }
    PROFILE_KEYS(TAKE)
#undef TAKE
out:
    profile_values_clear(&cred);
    profile_values_clear(&conf);
    bk_buf_clear(&cred_path);
    bk_buf_clear(&conf_path);
    return rc;
}

/* One string setting of the profile, taken out of what was read (the field
 * at `offset` of profile_values); NULL when absent. */
static char *profile_setting(const bk_env *env, const char *profile, size_t offset)
{
    profile_values v;
    if (load_profile(env, profile ? profile : bk_creds_profile_name(env), &v, NULL, NULL) != BK_OK)
        return NULL;
    char **field = (char **)((char *)&v + offset);
    char *value = *field;
    *field = NULL;
    profile_values_clear(&v);
    return value;
}

char *bk_creds_profile_region(const bk_env *env, const char *profile)
{
    return profile_setting(env, profile, offsetof(profile_values, region));
}

char *bk_creds_profile_ca_bundle(const bk_env *env, const char *profile)
{
    return profile_setting(env, profile, offsetof(profile_values, ca_bundle));
}

char *bk_creds_profile_retry_mode(const bk_env *env, const char *profile)
{
    return profile_setting(env, profile, offsetof(profile_values, retry_mode));
}

char *bk_creds_profile_max_attempts(const bk_env *env, const char *profile)
{
    return profile_setting(env, profile, offsetof(profile_values, max_attempts));
}

/* ---- from a profile's keys to a provider ---- */

/* Profiles chained through source_profile, at most this deep (a cycle ends here). */
#define MAX_SOURCE_DEPTH 8

static bk_code resolve(const creds_ctx *x, const char *name, int depth, bk_creds_provider **out,
                       bk_err *err);

static bk_code static_keys(const profile_values *v, const char *name, bk_creds_provider **out,
                           bk_err *err)
{
    char source[96];
    snprintf(source, sizeof source, "profile %s (shared files)", name);
    *out = bk_creds_provider_static(v->access_key_id, v->secret_access_key, v->session_token, err);
    if (*out == NULL)
        return BK_ENOMEM;
    bk__creds_static_set_source(*out, source);
    return BK_OK;
}

static bk_code from_credential_source(const creds_ctx *x, const profile_values *v, const char *name,
                                      bk_creds_provider **out, bk_err *err)
{
    const char *cs = v->credential_source;
    if (strcmp(cs, "Environment") == 0)
        *out = bk_creds_provider_env(creds_env(x), err);
    else if (strcmp(cs, "Ec2InstanceMetadata") == 0)
        *out = bk__creds_imds_new(x, err);
    else if (strcmp(cs, "EcsContainer") == 0)
        *out = bk__creds_container_new(x, err);
    else
        return bk_err_set(err, BK_EINVAL,
                          "profile %s: credential_source \"%s\": must be EcsContainer, "
                          "Ec2InstanceMetadata or Environment",
                          name, cs);
    return *out != NULL ? BK_OK : BK_ENOMEM;
}

/* The credentials role_arn is assumed with. */
/* NOLINTNEXTLINE(misc-no-recursion): source_profile chains end at MAX_SOURCE_DEPTH. */
static bk_code role_source(const creds_ctx *x, const profile_values *v, const char *name, int depth,
                           bk_creds_provider **out, bk_err *err)
{
    if (v->credential_source != NULL)
        return from_credential_source(x, v, name, out, err);
    /* A profile that names itself as its source uses its own static keys. */
    if (strcmp(v->source_profile, name) == 0) {
        if (v->access_key_id == NULL || v->secret_access_key == NULL)
            return bk_err_set(err, BK_EINVAL,
                              "profile %s: source_profile names the profile itself, which has "
                              "no aws_access_key_id and aws_secret_access_key",
                              name);
        return static_keys(v, name, out, err);
    }
    if (depth + 1 >= MAX_SOURCE_DEPTH)
        return bk_err_set(err, BK_EINVAL,
                          "profile %s: source_profile chain longer than %d profiles (a cycle?)",
                          name, MAX_SOURCE_DEPTH);
    bk_err e;
    bk_err_clear(&e);
    bk_code rc = resolve(x, v->source_profile, depth + 1, out, &e);
    if (rc == BK_ENOTFOUND)
        return bk_err_set(err, BK_EINVAL, "profile %s: source_profile %s: %s", name,
                          v->source_profile, e.msg);
    if (rc != BK_OK)
        return bk_err_set(err, rc, "%s", e.msg);
    return BK_OK;
}

/* NOLINTNEXTLINE(misc-no-recursion): source_profile chains end at MAX_SOURCE_DEPTH. */
static bk_code assume_role(const creds_ctx *x, const profile_values *v, const char *name, int depth,
                           bk_creds_provider **out, bk_err *err)
{
    if (v->mfa_serial != NULL)
        return bk_err_set(err, BK_EUNSUPPORTED,
                          "profile %s: role_arn with mfa_serial needs an MFA code typed in, "
                          "which bkcache cannot ask for; use credentials from `aws sts "
                          "assume-role --serial-number ... --token-code ...`",
                          name);
    long duration = 0;
    if (v->duration_seconds != NULL) {
        char *end = NULL;
        errno = 0;
        duration = strtol(v->duration_seconds, &end, 10);
        if (errno != 0 || end == v->duration_seconds || *end != '\0' || duration <= 0)
            return bk_err_set(err, BK_EINVAL,
                              "profile %s: duration_seconds \"%s\" is not a positive number", name,
                              v->duration_seconds);
    }
    bk_creds_provider *src = NULL;
    bk_code rc = role_source(x, v, name, depth, &src, err);
    if (rc != BK_OK)
        return rc;
    creds_assume_role ar = {.role_arn = v->role_arn,
                            .session_name = v->role_session_name,
                            .external_id = v->external_id,
                            .duration_seconds = duration,
                            .profile = name};
    *out = bk__creds_assume_role_new(x, &ar, src, err);
    return *out != NULL ? BK_OK : BK_ENOMEM;
}

/* IAM Identity Center: the start URL and region from the profile's
 * [sso-session NAME] section (or, the legacy form, from the profile). */
static bk_code sso(const creds_ctx *x, const profile_values *v, const char *name,
                   bk_creds_provider **out, bk_err *err)
{
    profile_values session = {0};
    const char *start_url = v->sso_start_url, *region = v->sso_region;
    if (v->sso_session != NULL) {
        bk_buf conf = BK_BUF_INIT;
        if (file_path(creds_env(x), "AWS_CONFIG_FILE", "config", &conf) == 0 &&
            read_profile(bk_buf_str(&conf), v->sso_session, "sso-session", &session) < 0) {
            bk_code rc = bk_err_set(err, BK_EIO, "cannot read config file %s: %s",
                                    bk_buf_str(&conf), strerror(errno));
            bk_buf_clear(&conf);
            profile_values_clear(&session);
            return rc;
        }
        bk_buf_clear(&conf);
        if (!session.found) {
            profile_values_clear(&session);
            return bk_err_set(err, BK_EINVAL,
                              "profile %s: sso_session %s: no [sso-session %s] section in the "
                              "config file",
                              name, v->sso_session, v->sso_session);
        }
        start_url = session.sso_start_url;
        region = session.sso_region;
    }
    const char *missing = start_url == NULL           ? "sso_start_url"
                          : region == NULL            ? "sso_region"
                          : v->sso_account_id == NULL ? "sso_account_id"
                          : v->sso_role_name == NULL  ? "sso_role_name"
                                                      : NULL;
    bk_code rc = BK_OK;
    if (missing != NULL) {
        rc = bk_err_set(err, BK_EINVAL, "profile %s: IAM Identity Center needs %s", name, missing);
    } else {
        creds_sso s = {.profile = name,
                       .cache_key = v->sso_session != NULL ? v->sso_session : start_url,
                       .region = region,
                       .account_id = v->sso_account_id,
                       .role_name = v->sso_role_name};
        *out = bk__creds_sso_new(x, &s, err);
        rc = *out != NULL ? BK_OK : BK_ENOMEM;
    }
    profile_values_clear(&session);
    return rc;
}

/* What profile `name` names, in the SDK's order; BK_ENOTFOUND when nothing. */
/* NOLINTNEXTLINE(misc-no-recursion): source_profile chains end at MAX_SOURCE_DEPTH. */
static bk_code resolve_values(const creds_ctx *x, const profile_values *v, const char *name,
                              int depth, bk_creds_provider **out, bk_err *err)
{
    char origin[96];
    if (v->role_arn != NULL && (v->source_profile != NULL || v->credential_source != NULL))
        return assume_role(x, v, name, depth, out, err);
    if (v->access_key_id != NULL && v->secret_access_key != NULL)
        return static_keys(v, name, out, err);
    if (v->web_identity_token_file != NULL) {
        snprintf(origin, sizeof origin, "profile %s", name);
        *out = bk__creds_web_identity_new(x, v->web_identity_token_file, v->role_arn,
                                          v->role_session_name, origin, err);
        return *out != NULL ? BK_OK : BK_EINVAL;
    }
    if (v->sso_session != NULL || v->sso_start_url != NULL)
        return sso(x, v, name, out, err);
    if (v->credential_process != NULL) {
        *out = bk__creds_process_new(x, v->credential_process, name, err);
        return *out != NULL ? BK_OK : BK_EINVAL;
    }
    if (v->role_arn != NULL)
        return bk_err_set(err, BK_EINVAL,
                          "profile %s: role_arn needs source_profile, credential_source or "
                          "web_identity_token_file",
                          name);
    return BK_ENOTFOUND;
}

/* NOLINTNEXTLINE(misc-no-recursion): source_profile chains end at MAX_SOURCE_DEPTH. */
static bk_code resolve(const creds_ctx *x, const char *name, int depth, bk_creds_provider **out,
                       bk_err *err)
{
    profile_values v;
    bk_buf tried = BK_BUF_INIT;
    *out = NULL;
    bk_code rc = load_profile(creds_env(x), name, &v, &tried, err);
    if (rc == BK_OK) {
        rc = resolve_values(x, &v, name, depth, out, err);
        if (rc == BK_ENOTFOUND && v.found)
            bk_err_set(err, BK_ENOTFOUND,
                       "%s: the profile has no aws_access_key_id and aws_secret_access_key, "
                       "role_arn, web_identity_token_file or credential_process",
                       bk_buf_str(&tried));
        else if (rc == BK_ENOTFOUND)
            bk_err_set(err, BK_ENOTFOUND, "%s: no such profile", bk_buf_str(&tried));
    }
    profile_values_clear(&v);
    bk_buf_clear(&tried);
    return rc;
}

/* ---- the provider ---- */

typedef struct profile_provider {
    bk_creds_provider base;
    creds_ctx x;
    char *profile;            /* NULL = resolve from the environment at fetch time */
    bk_creds_provider *inner; /* what the profile names, built at the first fetch */
} profile_provider;

static bk_code profile_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    profile_provider *p = (profile_provider *)self;
    if (p->inner == NULL) {
        const char *name =
            p->profile != NULL ? p->profile : bk_creds_profile_name(creds_env(&p->x));
        bk_code rc = resolve(&p->x, name, 0, &p->inner, err);
        if (rc != BK_OK)
            return rc;
    }
    return bk_creds_fetch(p->inner, out, err);
}

static void profile_free(bk_creds_provider *self)
{
    profile_provider *p = (profile_provider *)self;
    bk_creds_provider_free(p->inner);
    free(p->profile);
    free(p);
}

bk_creds_provider *bk__creds_profile_new(const creds_ctx *x, const char *profile, bk_err *err)
{
    profile_provider *p = calloc(1, sizeof *p);
    if (p == NULL || (profile != NULL && (p->profile = strdup(profile)) == NULL)) {
        free(p);
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->base.name = "shared files";
    p->base.fetch = profile_fetch;
    p->base.free = profile_free;
    return &p->base;
}
