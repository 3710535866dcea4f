/* Import of a cache from S3: BuildKit's S3 importer (cache/remotecache/s3
 * load), strict where it is strict, plus checks it does not make:
 *
 *  1. GetObject <prefix><manifests_prefix><first name>; S3's NoSuchKey means
 *     an empty cache, not an error (a 404 without S3's error document, from a
 *     web server at a wrong endpoint_url, is an error naming it). Only the
 *     first name is read, as upstream.
 *  2. Strict decode (trailing data refused) and BuildKit's parse rules.
 *  3. Beyond BuildKit, which trusts the manifest (and builds die later on
 *     blobs a lifecycle rule expired): every referenced blob is checked
 *     (downloaded into dest, or HEAD when there is no dest). Results whose
 *     layer chain lost a blob are dropped with a warning naming the keys
 *     (missing=drop, the default), or the import fails (missing=error).
 *  4. Blobs are downloaded in parallel, their digest and size verified; a
 *     broken download resumes with Range; a corrupt blob is never stored
 *     under its digest. */
#ifndef BKCACHE_IMPORTER_H
#define BKCACHE_IMPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/buf.h"
#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"
#include "bkcache/progress.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_missing_blobs {
    BK_MISSING_DROP = 0, /* drop the results that need a missing blob, warn */
    BK_MISSING_ERROR,    /* fail the import */
} bk_missing_blobs;

typedef struct bk_import_options {
    bk_s3cache *cache; /* client, key layout (the first name is read), policy and clock */
    bk_store *dest;    /* blobs are downloaded here; NULL = check existence only */
    bk_missing_blobs missing;
    size_t max_manifest_bytes; /* refuse larger manifests; 0 = BK_S3CACHE_MANIFEST_MAX */
    bk_progress_fn progress;
    void *progress_ud;
} bk_import_options;

typedef struct bk_import_result {
    int found; /* 0: no manifest, empty cache */
    char *manifest_key;
    bk_cache_config *manifest; /* as read and validated; NULL when not found */
    bk_cache_config *usable;   /* normalized, without results whose blobs are missing */
    size_t blobs;              /* distinct blobs referenced */
    size_t fetched;            /* downloaded (and verified) */
    size_t already_present;    /* already in dest, verified */
    uint64_t bytes_fetched;
    char **missing_keys; /* keys of referenced blobs that do not exist */
    size_t n_missing;
    size_t dropped_results;
    size_t requests;
    double seconds;
} bk_import_result;

bk_code bk_import(const bk_import_options *o, bk_import_result *res, bk_err *err);
void bk_import_result_clear(bk_import_result *res);

/* The imported graph for machines (`bkcache import --json`), so two
 * implementations' imports can be compared: records sorted by digest, each
 * with its inputs (links as the linked record's digest and the selector) and
 * its results as layer digest lists, base first. Compact, keys sorted. */
bk_code bk_import_graph_json(const bk_cache_config *cfg, bk_buf *out, bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
