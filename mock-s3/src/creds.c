/* The credentials registry (creds.h). Secrets and the keys derived from
 * them are wiped when a key is replaced or the registry goes. */
#include "creds.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/sigv4.h"

/* A signing key derived from an item's secret. */
typedef struct derived {
    char date8[9];
    char region[40];
    char service[16];
    unsigned char key[32];
} derived;

typedef struct item {
    ms3_cred c;
    derived keys[MS3_CREDS_KEYS];
    size_t n_keys;
    size_t next; /* the entry replaced next once all are used */
    int issued;  /* minted by the credential services: pruned (creds.h) */
} item;

struct ms3_creds {
    pthread_mutex_t lock;
    item *items;
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

static void item_clear(item *it)
{
    ms3__cred_clear(&it->c);
    OPENSSL_cleanse(it->keys, sizeof(it->keys));
    it->n_keys = 0;
    it->next = 0;
}

void ms3__creds_free(ms3_creds *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        item_clear(&c->items[i]);
    free(c->items);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static item *find(ms3_creds *c, const char *akid)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].c.akid, akid) == 0)
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
    item *existing = find(c, akid);
    if (existing != NULL) {
        nc.profile = existing->c.profile;
        item_clear(existing); /* the keys of the old secret go with it */
        existing->c = nc;
    } else {
        item *ni = realloc(c->items, (c->n + 1) * sizeof(*ni));
        if (ni == NULL) {
            ms3__cred_clear(&nc);
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        } else {
            c->items = ni;
            memset(&c->items[c->n], 0, sizeof(item));
            c->items[c->n++].c = nc;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Drops item i, the last one taking its place (the order means nothing). */
static void remove_at(ms3_creds *c, size_t i)
{
    item_clear(&c->items[i]);
    if (i != c->n - 1)
        c->items[i] = c->items[c->n - 1];
    memset(&c->items[c->n - 1], 0, sizeof(item));
    c->n--;
}

/* Issued credentials past the grace period go; then, while MS3_ISSUED_MAX
 * are kept, the one that expires first. */
static void prune_locked(ms3_creds *c, int64_t now)
{
    size_t live = 0;
    for (size_t i = c->n; i-- > 0;) {
        if (!c->items[i].issued)
            continue;
        if (c->items[i].c.expires + MS3_ISSUED_GRACE_S <= now)
            remove_at(c, i);
        else
            live++;
    }
    while (live >= MS3_ISSUED_MAX) {
        size_t first = c->n;
        for (size_t i = 0; i < c->n; i++)
            if (c->items[i].issued &&
                (first == c->n || c->items[i].c.expires < c->items[first].c.expires))
                first = i;
        remove_at(c, first);
        live--;
    }
}

bk_code ms3__creds_add_issued(ms3_creds *c, const char *akid, const char *secret, const char *token,
                              int64_t expires, int64_t now, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    prune_locked(c, now);
    pthread_mutex_unlock(&c->lock);
    bk_code rc = ms3__creds_add(c, akid, secret, token, err);
    if (rc != BK_OK)
        return rc;
    pthread_mutex_lock(&c->lock);
    item *it = find(c, akid);
    if (it != NULL) {
        it->c.expires = expires;
        it->issued = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return it != NULL ? BK_OK : bk_err_set(err, BK_ENOTFOUND, "no credentials \"%s\"", akid);
}

bk_code ms3__creds_set_expiry(ms3_creds *c, const char *akid, int64_t expires_unix, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    item *cr = find(c, akid);
    if (cr != NULL)
        cr->c.expires = expires_unix;
    pthread_mutex_unlock(&c->lock);
    return cr != NULL ? BK_OK : bk_err_set(err, BK_ENOTFOUND, "no credentials \"%s\"", akid);
}

bk_code ms3__creds_set_profile(ms3_creds *c, const char *akid, ms3_access_profile p, bk_err *err)
{
    pthread_mutex_lock(&c->lock);
    item *cr = find(c, akid);
    if (cr != NULL)
        cr->c.profile = p;
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
    item *it = find(c, akid);
    int found = 0;
    if (it != NULL) {
        out->akid = strdup(it->c.akid);
        out->token = it->c.token != NULL ? strdup(it->c.token) : NULL;
        out->expires = it->c.expires;
        out->profile = it->c.profile;
        found = out->akid != NULL && (it->c.token == NULL || out->token != NULL);
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

static int fits(const char *s, size_t room)
{
    return strlen(s) < room;
}

int ms3__creds_signing_key(ms3_creds *c, const char *akid, const char *date8, const char *region,
                           const char *service, unsigned char key[32])
{
    pthread_mutex_lock(&c->lock);
    item *it = find(c, akid);
    if (it == NULL) {
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    for (size_t i = 0; i < it->n_keys; i++) {
        const derived *d = &it->keys[i];
        if (strcmp(d->date8, date8) == 0 && strcmp(d->region, region) == 0 &&
            strcmp(d->service, service) == 0) {
            memcpy(key, d->key, 32);
            pthread_mutex_unlock(&c->lock);
            return 1;
        }
    }
    bk_sigv4_signing_key(it->c.secret, date8, region, service, key);
    if (fits(date8, sizeof(it->keys[0].date8)) && fits(region, sizeof(it->keys[0].region)) &&
        fits(service, sizeof(it->keys[0].service))) {
        size_t slot = it->n_keys < MS3_CREDS_KEYS ? it->n_keys++ : it->next;
        it->next = (slot + 1) % MS3_CREDS_KEYS;
        derived *d = &it->keys[slot];
        snprintf(d->date8, sizeof(d->date8), "%s", date8);
        snprintf(d->region, sizeof(d->region), "%s", region);
        snprintf(d->service, sizeof(d->service), "%s", service);
        memcpy(d->key, key, 32);
    }
    pthread_mutex_unlock(&c->lock);
    return 1;
}
