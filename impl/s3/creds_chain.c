/* The default chain in the SDK's order (bkcache/creds.h): the sources, each
 * saying BK_ENOTFOUND when it is not configured, tried until one is; the
 * one that answered is remembered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/buf.h"
#include "creds_internal.h"

/* ---- the chain ---- */

/* The SDK's processcreds.DefaultTimeout. */
#define PROCESS_TIMEOUT_MS 60000

static void ctx_init(creds_ctx *x, const bk_env *env, const bk_clock *clock, const char *region,
                     const char *ca_bundle)
{
    memset(x, 0, sizeof *x);
    if (env != NULL) {
        x->env = *env;
        x->has_env = 1;
    }
    if (clock != NULL)
        x->clock = *clock;
    snprintf(x->region, sizeof x->region, "%s", region != NULL ? region : "");
    snprintf(x->ca_bundle, sizeof x->ca_bundle, "%s", ca_bundle != NULL ? ca_bundle : "");
    x->process_timeout_ms = PROCESS_TIMEOUT_MS;
}

bk_creds_provider *bk_creds_provider_profile(const bk_env *env, const char *profile, bk_err *err)
{
    creds_ctx x;
    ctx_init(&x, env, NULL, NULL, NULL);
    return bk__creds_profile_new(&x, profile, err);
}

#define CHAIN_MAX 6

typedef struct chain_provider {
    bk_creds_provider base;
    bk_creds_provider *sources[CHAIN_MAX];
    size_t n;
    bk_creds_provider *winner; /* remembered after the first success */
    int explicit_partial;      /* attributes given but not both: say so when nothing is found */
} chain_provider;

static bk_code chain_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    chain_provider *c = (chain_provider *)self;
    if (c->winner != NULL)
        return bk_creds_fetch(c->winner, out, err);
    bk_buf tried = BK_BUF_INIT;
    if (c->explicit_partial)
        bk_buf_puts(&tried, "explicit attributes (only one of access_key_id and "
                            "secret_access_key set; both are needed)");
    else
        bk_buf_puts(&tried, "explicit attributes (access_key_id/secret_access_key not set)");
    for (size_t i = 0; i < c->n; i++) {
        bk_err e;
        bk_err_clear(&e);
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

static void unset_free(bk_creds_provider *self)
{
    free(self);
}

/* AWS_WEB_IDENTITY_TOKEN_FILE: nothing when unset. */
static bk_code web_identity_env_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    (void)self;
    (void)out;
    return bk_err_set(err, BK_ENOTFOUND, "AWS_WEB_IDENTITY_TOKEN_FILE not set");
}

static bk_creds_provider *web_identity_env(const creds_ctx *x, bk_err *err)
{
    const bk_env *env = creds_env(x);
    const char *file = bk_env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    if (file != NULL)
        return bk__creds_web_identity_new(x, file, bk_env_get(env, "AWS_ROLE_ARN"),
                                          bk_env_get(env, "AWS_ROLE_SESSION_NAME"),
                                          "AWS_WEB_IDENTITY_TOKEN_FILE", err);
    bk_creds_provider *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->name = "web identity";
    p->fetch = web_identity_env_fetch;
    p->free = unset_free;
    return p;
}

static int chain_add(chain_provider *c, bk_creds_provider *p)
{
    if (p == NULL)
        return -1;
    c->sources[c->n++] = p;
    return 0;
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
    creds_ctx x;
    ctx_init(&x, opts->env, opts->clock, opts->region, opts->ca_bundle);
    if (opts->credential_process_timeout_ms > 0)
        x.process_timeout_ms = opts->credential_process_timeout_ms;
    if (nonempty(opts->access_key_id) && nonempty(opts->secret_access_key)) {
        if (chain_add(c, bk_creds_provider_static(opts->access_key_id, opts->secret_access_key,
                                                  opts->session_token, err)) != 0)
            goto fail;
    } else {
        c->explicit_partial = nonempty(opts->access_key_id) || nonempty(opts->secret_access_key);
    }
    /* The SDK's order (config.resolveCredentialChain, then resolveCredsFromProfile). */
    if (chain_add(c, bk_creds_provider_env(opts->env, err)) != 0 ||
        chain_add(c, web_identity_env(&x, err)) != 0 ||
        chain_add(c, bk__creds_profile_new(&x, NULL, err)) != 0 ||
        chain_add(c, bk__creds_container_new(&x, err)) != 0 ||
        chain_add(c, bk__creds_imds_new(&x, err)) != 0)
        goto fail;
    return &c->base;
fail:
    chain_free(&c->base);
    return NULL;
}
