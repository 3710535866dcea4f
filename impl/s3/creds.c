/* Credentials and the two sources that need nothing else: fixed keys and the
 * environment's. The other sources have a file each (creds_*.c), the chain
 * that orders them too (creds_chain.c). */
#include "bkcache/creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/buf.h"
#include "creds_internal.h"

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

bk_code bk__creds_set(bk_creds *out, const char *akid, const char *secret, const char *token,
                      time_t expires, const char *source, bk_err *err)
{
    bk_creds tmp = {.access_key_id = (char *)akid,
                    .secret_access_key = (char *)secret,
                    .session_token = (token != NULL && token[0] != '\0') ? (char *)token : NULL,
                    .expires = expires};
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

void bk__creds_static_set_source(bk_creds_provider *p, const char *source)
{
    bk_creds *c = &((static_provider *)p)->creds;
    snprintf(c->source, sizeof c->source, "%s", source);
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
    if (bk__creds_set(&p->creds, access_key_id, secret_access_key, session_token, 0,
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
    return bk__creds_set(out, akid, secret, bk_env_get(env, "AWS_SESSION_TOKEN"), 0, "environment",
                         err);
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
