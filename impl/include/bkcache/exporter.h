/* Export of a cache config and its blobs to S3, exactly the sequence of
 * BuildKit's S3 exporter (cache/remotecache/s3 Finalize), plus what the field
 * taught:
 *
 *  1. the plan (plan.h): for every layer blob, upload_parallelism at a time,
 *     HEAD its key (or, with existence_check=list, one ListObjectsV2 walk of
 *     the blobs prefix that falls back to HEAD on 403), then decide for each
 *     what to do. A dry run stops here.
 *  2. the plan carried out, upload_parallelism blobs at a time. Absent (404
 *     NoSuchKey/NotFound only): upload it, single PutObject below the
 *     multipart threshold, multipart above,
 *     after verifying the store's copy against its digest and size (a blob that
 *     does not match fails the export and nothing is uploaded for it). Present
 *     but older than touch_refresh: touch it (CopyObject onto itself with
 *     REPLACE and x-amz-meta-updated-at; multipart UploadPartCopy at or above
 *     the copy limit, 5 GiB). Present and fresh: nothing. Present with a size
 *     that differs from the descriptor's: not trusted, uploaded again (BuildKit
 *     would keep the truncated object forever).
 *  3. only when every blob succeeded: the manifest (Go-identical JSON), once per
 *     name; multipart when it is over the threshold.
 *
 * Concurrent exporters on one name: as in BuildKit the last writer wins; each
 * manifest is one object written whole, so it is never torn, and each
 * exporter wrote its blobs before its manifest. With manifest_if_match=true
 * (beyond BuildKit) the first writer wins instead: the manifests' ETags are
 * read before any blob work and the write is conditional (If-Match, or
 * If-None-Match: * for a new name), so a manifest someone else wrote in the
 * meantime is not replaced and the export fails with PreconditionFailed
 * explained. Stores without conditional writes answer 501 NotImplemented.
 *
 * Any other error (403 on HEAD, 5xx after retries, ...) fails the export and no
 * manifest is written, so a manifest never points at a missing blob by our
 * doing. With ignore-error the failure is reported as a warning and the call
 * returns BK_OK with summary.failed set. */
#ifndef BKCACHE_EXPORTER_H
#define BKCACHE_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"
#include "bkcache/plan.h"
#include "bkcache/progress.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* existence_check=list: the walk of the blobs prefix depends on the bucket
 * and the layout only, so a caller that still has to build its config (the
 * CLI loads a graph) can start it first on a thread of its own and hand it
 * to bk_export_config (options.listing), which waits for it where the plan
 * needs it. The objects and any error are those a walk made in place would
 * give, reported at the same point of the export (a 403 still falls back to
 * HEAD). The listing is made even when the config turns out to have no
 * blobs. */
typedef struct bk_export_listing bk_export_listing;

/* NULL only when out of memory (err filled). When no thread can be started
 * the walk is made when the export asks for it. cache must outlive it. */
bk_export_listing *bk_export_listing_start(bk_s3cache *cache, bk_err *err);
/* Waits for the walk if it is still running. */
void bk_export_listing_free(bk_export_listing *l);

typedef struct bk_export_options {
    bk_s3cache *cache;            /* client, key layout, policy and clock */
    bk_store *store;              /* holds every layer blob */
    uint64_t copy_limit;          /* touch by multipart copy at or above this size; 0 = 5 GiB */
    uint64_t multipart_threshold; /* manifests at or above go multipart; 0 = 16 MiB */
    int dry_run;                  /* check existence, build the plan, write nothing */
    bk_export_plan *plan;         /* when not NULL, receives the plan (bk_export_plan_clear) */
    bk_export_listing *listing;   /* existence_check=list: started on o->cache; NULL = list here */
    bk_progress_fn progress;      /* NULL = silent */
    void *progress_ud;
} bk_export_options;

typedef struct bk_export_summary {
    size_t blobs;      /* distinct blobs in the config */
    size_t uploaded;   /* absent, uploaded */
    size_t reuploaded; /* present with the wrong size, uploaded again (also counted in uploaded) */
    size_t touched;
    size_t skipped;
    uint64_t bytes_uploaded;
    size_t manifests; /* manifest objects written */
    size_t
        requests; /* HTTP attempts the client made during the export, retries and parts included */
    /* Hash once: blob bytes read and checked against their digests (each
     * uploaded blob once; the payload hashes of its parts come from the same
     * read), and bytes the S3 client hashed for payload signatures during the
     * export (the manifests: no blob byte is hashed there). */
    uint64_t bytes_verified;
    uint64_t payload_bytes_hashed;
    double seconds;
    int failed; /* ignore-error swallowed a failure; error holds it */
    char error[BK_ERR_MSG_MAX];
} bk_export_summary;

/* cfg is a marshalled config in the S3 form (every layer annotated). */
bk_code bk_export_config(const bk_export_options *o, const bk_cache_config *cfg,
                         bk_export_summary *summary, bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
