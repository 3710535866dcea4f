/* Internals of the cache config shared inside the model layer. */
#ifndef BKCACHE_CACHECONFIG_INTERNAL_H
#define BKCACHE_CACHECONFIG_INTERNAL_H

#include <stdint.h>

#include "bkcache/cacheconfig.h"

/* bk_config_validate, adding the steps it takes to *ops (tests hold the
 * import path to n log n by counting them). */
bk_code bk__config_validate_ops(const bk_cache_config *cfg, unsigned flags, uint64_t *ops,
                                bk_err *err);
/* Release what a layer or a record holds and zero it (the struct itself is
 * the caller's, an element of the config's arrays). */
void bk__config_layer_clear(bk_cache_layer *l);
void bk__config_record_clear(bk_cache_record *r);
/* bk_config_add_layer and bk_config_add_record for a builder adding many:
 * *cap (0 at first) is the array's capacity, doubled when full; the arrays
 * stay valid for the public functions (they only need *n elements). */
bk_cache_layer *bk__config_push_layer(bk_cache_config *cfg, size_t *cap, const char *blob,
                                      int64_t parent);
bk_cache_record *bk__config_push_record(bk_cache_config *cfg, size_t *cap, const char *digest);

#endif
