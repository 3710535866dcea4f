/* BuildKit's export step (cache/remotecache/s3/s3.go Finalize at 73ed6825)
 * as the BuildKit-like broken adapters reproduce it with libbkcache's S3
 * client: HEAD, touch or upload per work item, then the manifest per name. */
#ifndef BKCONF_BROKEN_FINALIZE_H
#define BKCONF_BROKEN_FINALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"

typedef struct broken_finalize_opts {
    bk_s3cache *cache; /* client, layout, policy (touch_refresh, parallelism), clock */
    bk_store *store;
    uint64_t copy_limit; /* multipart touch at or above this size; 0 = 5 GiB */
    /* BuildKit's work items are layer indexes (s3.go:249-260): a blob that is
     * two layers is HEADed and uploaded twice, at once. Otherwise: each
     * distinct blob once. */
    int per_layer;
    /* BuildKit's multipart touch creates the upload without metadata
     * (s3.go:590-593). Otherwise it carries updated-at like the plain copy. */
    int multipart_touch_metadata;
} broken_finalize_opts;

/* Writes data as the manifest of every name of the cache's layout. */
bk_code broken_put_manifests(bk_s3cache *cache, const char *data, size_t len, bk_err *err);

/* Every blob of cfg present and fresh in the bucket, then the manifest
 * (manifest, len) under every name; no manifest when a blob failed. */
bk_code broken_finalize(const broken_finalize_opts *o, const bk_cache_config *cfg,
                        const char *manifest, size_t len, bk_err *err);

#endif
