/* Test caches made on the spot: a content store with random blobs and the S3
 * form of a cache config that references them (a linear chain of records,
 * each adding one layer), so pipeline tests need no fixture files. */
#ifndef BK_TEST_CACHEGEN_H
#define BK_TEST_CACHEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/cacheconfig.h"

typedef struct bk_test_cache {
    char dir[256];           /* the store: DIR/blobs/sha256/<hex> */
    bk_cache_config *config; /* normalized: a chain of records, each adding one layer */
    char (*digests)[80];     /* blob digests, in creation (chain) order */
    uint64_t *sizes;
    size_t n;
} bk_test_cache;

/* n blobs of sizes drawn from [min_size, max_size] with a seeded generator. */
int bk_test_cache_make(bk_test_cache *c, size_t n, uint64_t min_size, uint64_t max_size,
                       uint32_t seed);
void bk_test_cache_clear(bk_test_cache *c); /* removes the directory too */

/* A new directory $TMPDIR/<name>-XXXXXX (/tmp without TMPDIR) in out: 0,
 * or -1. */
int bk_test_mkdtemp(char *out, size_t n, const char *name);
/* Writes the file whole: 0, or -1. */
int bk_test_write_file(const char *path, const void *data, size_t len);

/* Removes path and everything under it, without a shell: 0, or -1 when
 * something could not be removed. */
int bk_test_rmtree(const char *path);
/* The whole file, NUL-terminated (malloc'ed), its length in *len (len may be
 * NULL); NULL when it cannot be read. */
char *bk_test_read_file(const char *path, size_t *len);

/* Overwrites one byte of blob i in the store (same size, wrong digest). */
int bk_test_cache_corrupt(bk_test_cache *c, size_t i);

#endif
