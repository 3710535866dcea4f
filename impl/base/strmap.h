/* A string -> index hash map for the library's own lookups (blob digests,
 * vertex ids), on the hash index of hindex.h. Private to libbkcache: layers
 * above base may use it, users may not. A zeroed bk__strmap is empty;
 * bk__strmap_clear releases it and leaves it empty. */
#ifndef BKCACHE_STRMAP_H
#define BKCACHE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "hindex.h"

typedef struct bk__strmap {
    bk__hindex index;
    char **keys;
    size_t *vals;
    size_t cap, len;
} bk__strmap;

/* true with *val set when key is present. */
bool bk__strmap_get(const bk__strmap *m, const char *key, size_t *val);
/* Maps key (a malloc'd string the map takes on success) to val, replacing an
 * earlier value of the same key; false when out of memory (key stays the
 * caller's). */
bool bk__strmap_put(bk__strmap *m, char *key, size_t val);
void bk__strmap_clear(bk__strmap *m);

#endif
