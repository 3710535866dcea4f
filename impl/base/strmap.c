/* The string map of strmap.h: keys and values in two arrays, found through
 * a hash index of the keys. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct probe {
    const bk__strmap *m;
    const char *key;
} probe;

static bool key_is(const void *ctx, size_t entry)
{
    const probe *p = ctx;
    return strcmp(p->m->keys[entry], p->key) == 0;
}

static bool find(const bk__strmap *m, const char *key, size_t *entry)
{
    probe p = {m, key};
    return bk__hindex_find(&m->index, bk__hash_str(BK__HASH_INIT, key), key_is, &p, entry);
}

bool bk__strmap_get(const bk__strmap *m, const char *key, size_t *val)
{
    size_t e;
    if (!find(m, key, &e))
        return false;
    *val = m->vals[e];
    return true;
}

bool bk__strmap_put(bk__strmap *m, char *key, size_t val)
{
    size_t e;
    if (find(m, key, &e)) {
        free(m->keys[e]);
        m->keys[e] = key;
        m->vals[e] = val;
        return true;
    }
    if (m->len == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        char **nk = realloc(m->keys, ncap * sizeof *nk);
        if (!nk)
            return false;
        m->keys = nk;
        size_t *nv = realloc(m->vals, ncap * sizeof *nv);
        if (!nv)
            return false;
        m->vals = nv;
        m->cap = ncap;
    }
    if (!bk__hindex_add(&m->index, bk__hash_str(BK__HASH_INIT, key), m->len))
        return false;
    m->keys[m->len] = key;
    m->vals[m->len++] = val;
    return true;
}

void bk__strmap_clear(bk__strmap *m)
{
    for (size_t i = 0; i < m->len; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    bk__hindex_clear(&m->index);
    *m = (bk__strmap){0};
}
