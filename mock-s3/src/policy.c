#include "policy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *bucket;
    ms3_bucket_policy p;
} entry;

struct ms3_policies {
    pthread_mutex_t lock;
    ms3_bucket_policy def;
    entry *items;
    size_t n;
    unsigned proxy;
};

ms3_policies *ms3__policies_new(void)
{
    ms3_policies *p = calloc(1, sizeof(*p));
    if (p != NULL)
        pthread_mutex_init(&p->lock, NULL);
    return p;
}

void ms3__policies_free(ms3_policies *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].bucket);
    free(p->items);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

bk_code ms3__policies_set(ms3_policies *p, const char *bucket, const ms3_bucket_policy *bp,
                          bk_err *err)
{
    bk_code rc = BK_OK;
    pthread_mutex_lock(&p->lock);
    if (bucket == NULL) {
        p->def = *bp;
        for (size_t i = 0; i < p->n; i++)
            free(p->items[i].bucket);
        p->n = 0;
    } else {
        size_t i = 0;
        while (i < p->n && strcmp(p->items[i].bucket, bucket) != 0)
            i++;
        if (i < p->n) {
            p->items[i].p = *bp;
        } else {
            entry *ni = realloc(p->items, (p->n + 1) * sizeof(*ni));
            char *name = strdup(bucket);
            if (ni != NULL)
                p->items = ni;
            if (ni == NULL || name == NULL) {
                free(name);
                rc = bk_err_set(err, BK_ENOMEM, "out of memory");
            } else {
                ni[p->n].bucket = name;
                ni[p->n].p = *bp;
                p->n++;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void ms3__policies_get(ms3_policies *p, const char *bucket, ms3_bucket_policy *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->def;
    for (size_t i = 0; bucket != NULL && i < p->n; i++)
        if (strcmp(p->items[i].bucket, bucket) == 0)
            *out = p->items[i].p;
    pthread_mutex_unlock(&p->lock);
}

void ms3__policies_set_proxy(ms3_policies *p, unsigned flags)
{
    pthread_mutex_lock(&p->lock);
    p->proxy = flags;
    pthread_mutex_unlock(&p->lock);
}

unsigned ms3__policies_proxy(ms3_policies *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned f = p->proxy;
    pthread_mutex_unlock(&p->lock);
    return f;
}

ms3_access ms3__access_of(ms3_access_profile a, ms3_access_profile b)
{
    ms3_access acc = {0, 0};
    acc.read_only = a == MS3_ACCESS_READ_ONLY || b == MS3_ACCESS_READ_ONLY;
    acc.no_list = a == MS3_ACCESS_NO_LIST || b == MS3_ACCESS_NO_LIST;
    return acc;
}

const char *ms3_access_profile_name(ms3_access_profile p)
{
    switch (p) {
    case MS3_ACCESS_READ_ONLY:
        return "read-only";
    case MS3_ACCESS_NO_LIST:
        return "no-list";
    default:
        return "full";
    }
}

int ms3_access_profile_parse(const char *name, ms3_access_profile *out)
{
    if (name == NULL)
        return -1;
    if (strcmp(name, "full") == 0)
        *out = MS3_ACCESS_FULL;
    else if (strcmp(name, "read-only") == 0)
        *out = MS3_ACCESS_READ_ONLY;
    else if (strcmp(name, "no-list") == 0)
        *out = MS3_ACCESS_NO_LIST;
    else
        return -1;
    return 0;
}
