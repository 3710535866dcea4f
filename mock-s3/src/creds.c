/* The credentials registry (creds.h). Secrets are wiped when a key is
 * replaced or the registry goes. */
#include "creds.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ms3_creds {
    pthread_mutex_t lock;
    ms3_cred *items;
    size_t n;
};

ms3_creds *ms3__creds_new(void)
{
    ms3_creds *c = calloc(1, sizeof(*c));
    if (c != NULL)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void ms3__cred_clear(ms3_cred *c)
{
    if (c->secret != NULL)
        memset(c->secret, 0, strlen(c->secret));
    free(c->akid);
    free(c->secret);
    free(c->token);
    memset(c, 0, sizeof(*c));
}

void ms3__creds_free(ms3_creds *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        ms3__cred_clear(&c->items[i]);
    free(c->items);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static ms3_cred *find(ms3_creds *c, const char *akid)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].akid, akid) == 0)
            return &c->items[i];
    return NULL;
}

bk_code ms3__creds_add(ms3_creds *c, const char *akid, const char *secret, const char *token,
                       bk_err *err)
{
    if (akid == NULL || *akid == '\0' || secret == NULL || *secret == '\0')
        return bk_err_set(err, BK_EINVAL, "credentials need an access key id and a secret");
    ms3_cred nc = {strdup(akid), strdup(secret), token != NULL ? strdup(token) : NULL, 0,
                   MS3_ACCESS_FULL};
    if (nc.akid == NULL || nc.secret == NULL || (token != NULL && nc.token == NULL)) {
        ms3__cred_clear(&nc);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&c->lock);
    bk_code rc = BK_OK;
    ms3_cred *existing = find(c, akid);
    if (existing != NULL) {
        nc.profile = existing->profile;
        ms3__cred_clear(existing);
        *existing = nc;
    } else {
        ms3_cred *ni = realloc(c->items, (c->n + 1) * sizeof(*ni));
        if (ni == NULL) {
            ms3__cred_clear(&nc);
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        } else {
            c->items = ni;
            c->items[c->n++] = nc;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

bk_code ms3__creds_set_expiry(ms3_creds *c, const char *akid, int64_t expires_unix, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    ms3_cred *cr = find(c, akid);
    if (cr != NULL)
        cr->expires = expires_unix;
    pthread_mutex_unlock(&c->lock);
    return cr != NULL ? BK_OK : bk_err_set(err, BK_ENOTFOUND, "no credentials \"%s\"", akid);
}

bk_code ms3__creds_set_profile(ms3_creds *c, const char *akid, ms3_access_profile p, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    ms3_cred *cr = find(c, akid);
    if (cr != NULL)
        cr->profile = p;
    pthread_mutex_unlock(&c->lock);
    return cr != NULL ? BK_OK : bk_err_set(err, BK_ENOTFOUND, "no credentials \"%s\"", akid);
}

size_t ms3__creds_count(ms3_creds *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

int ms3__creds_lookup(ms3_creds *c, const char *akid, ms3_cred *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->lock);
    ms3_cred *cr = find(c, akid);
    int found = 0;
    if (cr != NULL) {
        out->akid = strdup(cr->akid);
        out->secret = strdup(cr->secret);
        out->token = cr->token != NULL ? strdup(cr->token) : NULL;
        out->expires = cr->expires;
        out->profile = cr->profile;
        found = out->akid != NULL && out->secret != NULL;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

int ms3__secret_equal(const char *given, const char *expected)
{
    unsigned char a[32], b[32];
    unsigned int la = sizeof(a), lb = sizeof(b);
    if (given == NULL || expected == NULL ||
        EVP_Digest(given, strlen(given), a, &la, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(expected, strlen(expected), b, &lb, EVP_sha256(), NULL) != 1)
        return 0;
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}
