/* An index of entries by a 64-bit hash the caller computes (open addressing,
 * linear probing, kept at most half full). The entries live in the caller's
 * own arrays and the caller decides equality, so keys are never copied or
 * formatted: a lookup costs one hash of the key and, on a match, one
 * comparison. Private to libbkcache like strmap.h, which is built on it. A
 * zeroed bk__hindex is empty; bk__hindex_clear releases it and leaves it
 * empty. */
#ifndef BKCACHE_HINDEX_H
#define BKCACHE_HINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk__hindex {
    uint64_t *hashes; /* per slot: the hash of its entry */
    size_t *slots;    /* per slot: entry + 1, 0 when free */
    size_t cap, len;
} bk__hindex;

/* Whether entry (one with this hash) is the one looked for. */
typedef bool (*bk__hindex_eq)(const void *ctx, size_t entry);

/* true with *entry set to the first entry with this hash that eq accepts. */
bool bk__hindex_find(const bk__hindex *t, uint64_t hash, bk__hindex_eq eq, const void *ctx,
                     size_t *entry);
/* Adds entry under hash (the caller has checked it is not there); false when
 * out of memory. */
bool bk__hindex_add(bk__hindex *t, uint64_t hash, size_t entry);
void bk__hindex_clear(bk__hindex *t);

/* Start with BK__HASH_INIT and feed the parts of a key in order (the hash
 * of one process: never stored or compared across builds). */
#define BK__HASH_INIT UINT64_C(0xcbf29ce484222325)
uint64_t bk__hash_bytes(uint64_t h, const void *data, size_t len);
/* A string and its terminating NUL (so "ab"+"c" and "a"+"bc" differ); NULL
 * hashes like no string at all, which is not "". */
uint64_t bk__hash_str(uint64_t h, const char *s);
uint64_t bk__hash_u64(uint64_t h, uint64_t v);

#endif
