/* existence_check=list's walk of the blobs prefix, made in place or started
 * early on its own thread (bk_export_listing): either way the exporter sees
 * the same objects and the same error. Private to libbkcache's cache layer
 * (not installed). */
#ifndef BKCACHE_LISTING_H
#define BKCACHE_LISTING_H

#include "bkcache/exporter.h"
#include "bkcache/s3.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*bk_listed_fn)(void *ud, const bk_s3_object *obj);

/* Every object under the cache's blobs prefix, page after page. */
bk_code bk__list_blobs(bk_s3cache *cache, bk_listed_fn fn, void *ud, bk_err *err);

/* Waits for a started listing, then hands its objects to fn in the order
 * the bucket listed them and returns its outcome (code and error) as
 * bk__list_blobs would have. */
bk_code bk__listing_replay(bk_export_listing *l, bk_listed_fn fn, void *ud, bk_err *err);

/* The client's request count when the listing started: the export's
 * summary counts its requests from there. */
unsigned long long bk__listing_requests_before(const bk_export_listing *l);

/* Seconds the listing ran before time t (the export's start) on the cache's
 * monotonic clock: with the export's own time, the time of its work. Waits
 * for the listing. */
double bk__listing_seconds_before(bk_export_listing *l, double t);

#ifdef __cplusplus
}
#endif

#endif
