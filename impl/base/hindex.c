/* The hash index of hindex.h. */
#include "hindex.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes a step (keys here are digests: 71 bytes), each word mixed in
 * with a multiply and a shift; home() mixes the result once more. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 29);
}

uint64_t bk__hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h, w);
    }
    uint64_t tail = (uint64_t)len << 56; /* the length tells "a" from "a\0" */
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return mix(h, tail);
}

uint64_t bk__hash_str(uint64_t h, const char *s)
{
    if (!s)
        return bk__hash_bytes(h, "\xff\xfe", 2); /* never part of a C string's hash */
    return bk__hash_bytes(h, s, strlen(s) + 1);
}

uint64_t bk__hash_u64(uint64_t h, uint64_t v)
{
    return bk__hash_bytes(h, &v, sizeof v);
}

/* The slot a hash starts probing at: its high bits folded into the low ones. */
static size_t home(uint64_t hash, size_t cap)
{
    hash ^= hash >> 29;
    hash *= UINT64_C(0xbf58476d1ce4e5b9);
    hash ^= hash >> 32;
    return (size_t)hash & (cap - 1);
}

bool bk__hindex_find(const bk__hindex *t, uint64_t hash, bk__hindex_eq eq, const void *ctx,
                     size_t *entry)
{
    if (t->cap == 0)
        return false;
    for (size_t i = home(hash, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i] == 0)
            return false;
        if (t->hashes[i] == hash && eq(ctx, t->slots[i] - 1)) {
            *entry = t->slots[i] - 1;
            return true;
        }
    }
}

static void place(uint64_t *hashes, size_t *slots, size_t cap, uint64_t hash, size_t slot)
{
    size_t i = home(hash, cap);
    while (slots[i] != 0)
        i = (i + 1) & (cap - 1);
    hashes[i] = hash;
    slots[i] = slot;
}

bool bk__hindex_add(bk__hindex *t, uint64_t hash, size_t entry)
{
    if ((t->len + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        uint64_t *nh = calloc(ncap, sizeof *nh);
        size_t *ns = calloc(ncap, sizeof *ns);
        if (!nh || !ns) {
            free(nh);
            free(ns);
            return false;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i] != 0)
                place(nh, ns, ncap, t->hashes[i], t->slots[i]);
        free(t->hashes);
        free(t->slots);
        t->hashes = nh;
        t->slots = ns;
        t->cap = ncap;
    }
    place(t->hashes, t->slots, t->cap, hash, entry + 1);
    t->len++;
    return true;
}

void bk__hindex_clear(bk__hindex *t)
{
    free(t->hashes);
    free(t->slots);
    *t = (bk__hindex){0};
}
