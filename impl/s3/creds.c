#include "bkcache/creds.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/buf.h"

void bk_creds_clear(bk_creds *c)
{
    if (c == NULL)
        return;
    /* Scrub the secret before handing the memory back. */
    if (c->secret_access_key != NULL) {
        volatile char *p = c->secret_access_key;
        while (*p)
            *p++ = 0;
    }
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->session_token);
    memset(c, 0, sizeof *c);
}

static char *dup_or_null(const char *s, int *failed)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

bk_code bk_creds_copy(bk_creds *dst, const bk_creds *src, bk_err *err)
{
    int failed = 0;
    memset(dst, 0, sizeof *dst);
    dst->access_key_id = dup_or_null(src->access_key_id, &failed);
    dst->secret_access_key = dup_or_null(src->secret_access_key, &failed);
    dst->session_token = dup_or_null(src->session_token, &failed);
    dst->expires = src->expires;
    memcpy(dst->source, src->source, sizeof dst->source);
    if (failed) {
        bk_creds_clear(dst);
        return bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
    }
    return BK_OK;
}

static bk_code creds_set(bk_creds *out, const char *akid, const char *secret, const char *token,
                         const char *source, bk_err *err)
{
    bk_creds tmp = {.access_key_id = (char *)akid,
                    .secret_access_key = (char *)secret,
                    .session_token = (char *)token,
                    .expires = 0};
    snprintf(tmp.source, sizeof tmp.source, "%s", source);
    return bk_creds_copy(out, &tmp, err);
}

bk_code bk_creds_fetch(bk_creds_provider *p, bk_creds *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (p == NULL || p->fetch == NULL)
        return bk_err_set(err, BK_EINVAL, "credentials: no provider");
    return p->fetch(p, out, err);
}

void bk_creds_provider_free(bk_creds_provider *p)
{
    if (p != NULL && p->free != NULL)
        p->free(p);
}

/* ---- static ---- */

typedef struct static_provider {
    bk_creds_provider base;
    bk_creds creds;
} static_provider;

static bk_code static_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    return bk_creds_copy(out, &((static_provider *)self)->creds, err);
}

static void static_free(bk_creds_provider *self)
{
    bk_creds_clear(&((static_provider *)self)->creds);
    free(self);
}

bk_creds_provider *bk_creds_provider_static(const char *access_key_id,
                                            const char *secret_access_key,
                                            const char *session_token, bk_err *err)
{
    if (access_key_id == NULL || access_key_id[0] == '\0' || secret_access_key == NULL ||
        secret_access_key[0] == '\0') {
        bk_err_set(err, BK_EINVAL, "credentials: both an access key id and a secret are needed");
        return NULL;
    }
    static_provider *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->base.name = "explicit attributes";
    p->base.fetch = static_fetch;
    p->base.free = static_free;
    if (creds_set(&p->creds, access_key_id, secret_access_key,
                  (session_token != NULL && session_token[0] != '\0') ? session_token : NULL,
                  "explicit attributes", err) != BK_OK) {
        free(p);
        return NULL;
    }
    return &p->base;
}

/* ---- environment ---- */

typedef struct env_provider {
    bk_creds_provider base;
    bk_env env;
    int has_env;
} env_provider;

static bk_code env_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    env_provider *p = (env_provider *)self;
    const bk_env *env = p->has_env ? &p->env : NULL;
    const char *akid = bk_env_get(env, "AWS_ACCESS_KEY_ID");
    const char *secret = bk_env_get(env, "AWS_SECRET_ACCESS_KEY");
    if (akid == NULL && secret == NULL)
        return bk_err_set(err, BK_ENOTFOUND, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
    if (akid == NULL || secret == NULL)
        return bk_err_set(err, BK_ENOTFOUND, "%s set but %s not",
                          akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                          akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    return creds_set(out, akid, secret, bk_env_get(env, "AWS_SESSION_TOKEN"), "environment", err);
}

static void plain_free(bk_creds_provider *self)
{
    free(self);
}

bk_creds_provider *bk_creds_provider_env(const bk_env *env, bk_err *err)
{
    env_provider *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->base.name = "environment";
    p->base.fetch = env_fetch;
    p->base.free = plain_free;
    if (env != NULL) {
        p->env = *env;
        p->has_env = 1;
    }
    return &p->base;
}

/* ---- shared files ---- */

const char *bk_creds_profile_name(const bk_env *env)
{
    const char *p = bk_env_get(env, "AWS_PROFILE");
    return p != NULL ? p : "default";
}

typedef struct profile_values {
    char *access_key_id, *secret_access_key, *session_token, *region, *ca_bundle;
    char *retry_mode, *max_attempts;
    char *unsupported; /* first key naming a source we do not implement */
    int found;         /* the section exists */
} profile_values;

static void profile_values_clear(profile_values *v)
{
    if (v->secret_access_key != NULL)
        memset(v->secret_access_key, 0, strlen(v->secret_access_key));
    free(v->access_key_id);
    free(v->secret_access_key);
    free(v->session_token);
    free(v->region);
    free(v->ca_bundle);
    free(v->retry_mode);
    free(v->max_attempts);
    free(v->unsupported);
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

static void set_value(char **slot, const char *v)
{
    /* A key repeated in a section: the last one wins, as in the SDKs. */
    free(*slot);
    *slot = strdup(v);
}

/* Reads section `want` of an INI file. config_style: sections are
 * "[profile NAME]" except "[default]"; otherwise "[NAME]". Returns 0 when the
 * file does not exist, -1 on a read error (errno), 1 when read. */
static int read_profile(const char *path, const char *want, int config_style, profile_values *v)
{
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
            if (config_style && strcmp(name, "default") != 0) {
                if (strncmp(name, "profile", 7) != 0 || !isspace((unsigned char)name[7])) {
                    in_section = 0;
                    continue;
                }
                name = trim(name + 7);
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
        if (strcmp(key, "aws_access_key_id") == 0)
            set_value(&v->access_key_id, val);
        else if (strcmp(key, "aws_secret_access_key") == 0)
            set_value(&v->secret_access_key, val);
        else if (strcmp(key, "aws_session_token") == 0)
            set_value(&v->session_token, val);
        else if (strcmp(key, "region") == 0)
            set_value(&v->region, val);
        else if (strcmp(key, "ca_bundle") == 0)
            set_value(&v->ca_bundle, val);
        else if (strcmp(key, "retry_mode") == 0)
            set_value(&v->retry_mode, val);
        else if (strcmp(key, "max_attempts") == 0)
            set_value(&v->max_attempts, val);
        else if (v->unsupported == NULL &&
                 (strcmp(key, "role_arn") == 0 || strcmp(key, "credential_process") == 0 ||
                  strcmp(key, "web_identity_token_file") == 0 || strncmp(key, "sso_", 4) == 0))
            v->unsupported = strdup(key);
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
    int have_cred = file_path(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", &cred_path) == 0;
    int have_conf = file_path(env, "AWS_CONFIG_FILE", "config", &conf_path) == 0;
    if (have_cred && read_profile(bk_buf_str(&cred_path), profile, 0, &cred) < 0) {
        rc = bk_err_set(err, BK_EIO, "cannot read shared credentials file %s: %s",
                        bk_buf_str(&cred_path), strerror(errno));
        goto out;
    }
    if (have_conf && read_profile(bk_buf_str(&conf_path), profile, 1, &conf) < 0) {
        rc = bk_err_set(err, BK_EIO, "cannot read config file %s: %s", bk_buf_str(&conf_path),
                        strerror(errno));
        goto out;
    }
    if (tried != NULL)
        bk_buf_printf(tried, "profile \"%s\" in %s and %s", profile,
                      have_cred ? bk_buf_str(&cred_path) : "(no credentials file: HOME unset)",
                      have_conf ? bk_buf_str(&conf_path) : "(no config file: HOME unset)");
    memset(out, 0, sizeof *out);
    out->found = cred.found || conf.found;
#define TAKE(field)                                                                                \
    do {                                                                                           \
        if (cred.field != NULL) {                                                                  \
            out->field = cred.field;                                                               \
            cred.field = NULL;                                                                     \
        } else {                                                                                   \
            out->field = conf.field;                                                               \
            conf.field = NULL;                                                                     \
        }                                                                                          \
    } while (0)
    TAKE(access_key_id);
    TAKE(secret_access_key);
    TAKE(session_token);
    TAKE(region);
    TAKE(ca_bundle);
    TAKE(retry_mode);
    TAKE(max_attempts);
    TAKE(unsupported);
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

typedef struct profile_provider {
    bk_creds_provider base;
    bk_env env;
    int has_env;
    char *profile; /* NULL = resolve from the environment at fetch time */
} profile_provider;

static bk_code profile_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    profile_provider *p = (profile_provider *)self;
    const bk_env *env = p->has_env ? &p->env : NULL;
    const char *name = p->profile != NULL ? p->profile : bk_creds_profile_name(env);
    profile_values v;
    bk_buf tried = BK_BUF_INIT;
    bk_code rc = load_profile(env, name, &v, &tried, err);
    if (rc != BK_OK) {
        bk_buf_clear(&tried);
        return rc;
    }
    if (v.access_key_id != NULL && v.secret_access_key != NULL) {
        char source[96];
        snprintf(source, sizeof source, "profile %s (shared files)", name);
        rc = creds_set(out, v.access_key_id, v.secret_access_key, v.session_token, source, err);
    } else if (v.unsupported != NULL) {
        rc = bk_err_set(err, BK_EUNSUPPORTED,
                        "profile \"%s\" gets its credentials through %s, which bkcache does not "
                        "implement; set aws_access_key_id/aws_secret_access_key or the "
                        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables",
                        name, v.unsupported);
    } else if (v.found) {
        rc = bk_err_set(err, BK_ENOTFOUND,
                        "%s: the profile has no aws_access_key_id and "
                        "aws_secret_access_key",
                        bk_buf_str(&tried));
    } else {
        rc = bk_err_set(err, BK_ENOTFOUND, "%s: no such profile", bk_buf_str(&tried));
    }
    profile_values_clear(&v);
    bk_buf_clear(&tried);
    return rc;
}

static void profile_free(bk_creds_provider *self)
{
    free(((profile_provider *)self)->profile);
    free(self);
}

bk_creds_provider *bk_creds_provider_profile(const bk_env *env, const char *profile, bk_err *err)
{
    profile_provider *p = calloc(1, sizeof *p);
    if (p == NULL || (profile != NULL && (p->profile = strdup(profile)) == NULL)) {
        free(p);
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->base.name = "shared files";
    p->base.fetch = profile_fetch;
    p->base.free = profile_free;
    if (env != NULL) {
        p->env = *env;
        p->has_env = 1;
    }
    return &p->base;
}

/* ---- the chain ---- */

typedef struct chain_provider {
    bk_creds_provider base;
    bk_creds_provider *sources[3];
    size_t n;
    bk_creds_provider *winner; /* remembered after the first success */
    bk_env env;
    int has_env;
    int explicit_partial; /* attributes given but not both: say so when nothing is found */
} chain_provider;

static bk_code chain_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    chain_provider *c = (chain_provider *)self;
    if (c->winner != NULL)
        return bk_creds_fetch(c->winner, out, err);
    const bk_env *env = c->has_env ? &c->env : NULL;
    bk_buf tried = BK_BUF_INIT;
    if (c->explicit_partial)
        bk_buf_puts(&tried, "explicit attributes (only one of access_key_id and "
                            "secret_access_key set; both are needed)");
    else
        bk_buf_puts(&tried, "explicit attributes (access_key_id/secret_access_key not set)");
    for (size_t i = 0; i < c->n; i++) {
        bk_err e = {0};
        bk_code rc = bk_creds_fetch(c->sources[i], out, &e);
        if (rc == BK_OK) {
            c->winner = c->sources[i];
            bk_buf_clear(&tried);
            return BK_OK;
        }
        bk_creds_clear(out);
        if (rc != BK_ENOTFOUND) {
            bk_buf_clear(&tried);
            return bk_err_set(err, rc, "credentials from %s: %s", c->sources[i]->name, e.msg);
        }
        bk_buf_printf(&tried, "; %s (%s)", c->sources[i]->name, e.msg);
    }
    if (bk_env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE") != NULL ||
        bk_env_get(env, "AWS_ROLE_ARN") != NULL) {
        bk_buf_clear(&tried);
        return bk_err_set(
            err, BK_EUNSUPPORTED,
            "credentials: web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) "
            "is configured but bkcache does not implement it; pass "
            "access_key_id/secret_access_key or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY (e.g. from `aws sts assume-role-with-web-identity`)");
    }
    bk_buf_puts(&tried, "; web identity (not implemented; AWS_ROLE_ARN/"
                        "AWS_WEB_IDENTITY_TOKEN_FILE not set); instance metadata (not "
                        "implemented)");
    bk_err_set(err, BK_EAUTH, "no AWS credentials found; tried: %s", bk_buf_str(&tried));
    bk_buf_clear(&tried);
    return BK_EAUTH;
}

static void chain_free(bk_creds_provider *self)
{
    chain_provider *c = (chain_provider *)self;
    for (size_t i = 0; i < c->n; i++)
        bk_creds_provider_free(c->sources[i]);
    free(c);
}

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bk_creds_provider *bk_creds_provider_chain(const bk_creds_chain_options *opts, bk_err *err)
{
    bk_creds_chain_options none = {0};
    if (opts == NULL)
        opts = &none;
    chain_provider *c = calloc(1, sizeof *c);
    if (c == NULL) {
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    c->base.name = "default chain";
    c->base.fetch = chain_fetch;
    c->base.free = chain_free;
    if (opts->env != NULL) {
        c->env = *opts->env;
        c->has_env = 1;
    }
    const bk_env *env = c->has_env ? &c->env : NULL;
    if (nonempty(opts->access_key_id) && nonempty(opts->secret_access_key)) {
        c->sources[c->n] = bk_creds_provider_static(opts->access_key_id, opts->secret_access_key,
                                                    opts->session_token, err);
        if (c->sources[c->n] == NULL)
            goto fail;
        c->n++;
    } else {
        c->explicit_partial = nonempty(opts->access_key_id) || nonempty(opts->secret_access_key);
    }
    if ((c->sources[c->n] = bk_creds_provider_env(env, err)) == NULL)
        goto fail;
    c->n++;
    if ((c->sources[c->n] = bk_creds_provider_profile(env, NULL, err)) == NULL)
        goto fail;
    c->n++;
    return &c->base;
fail:
    chain_free(&c->base);
    return NULL;
}
