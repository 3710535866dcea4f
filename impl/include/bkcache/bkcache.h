/* libbkcache: BuildKit's S3 build-cache backend (`--cache-to type=s3,...`).
 * This header includes every public header; link with
 * `pkg-config --libs bkcache` (libbkcache, libbkcache_sigv4 and their
 * dependencies). Every call reports failure as a bk_code plus a bk_err whose
 * message names what failed (error.h).
 *
 * An export: the cache of a local BuildKit cache directory to S3.
 *
 *     bk_err err;
 *     bk_err_clear(&err);
 *     bk_s3_attrs attrs;                 // "type=s3,bucket=B,region=R,mode=max"
 *     bk_s3_attrs_parse(text, NULL, &attrs, &err);                // attrs.h
 *     bk_s3cache *cache = bk_s3cache_open(&attrs, NULL, &err);    // s3cache.h
 *     bk_local_cache *local;
 *     bk_cache_config *cfg;              // the manifest, in the S3 form
 *     bk_local_read(dir, NULL, &local, &err);                     // localcache.h
 *     bk_local_to_s3(local, &cfg, &err);
 *     bk_store *store = bk_store_open(dir, 0, &err);              // store.h: the blobs
 *     bk_export_options o = {.cache = cache, .store = store};
 *     bk_export_summary summary;
 *     bk_export_config(&o, cfg, &summary, &err);                  // exporter.h
 *     bk_store_free(store);
 *     bk_config_free(cfg);
 *     bk_local_cache_free(local);
 *
 * (A build graph instead of a local cache: bk_graph_load, then
 * bk_chains_config_from_graph(graph, attrs.policy.mode, &cfg, &err) makes the
 * config; graph.h, chains.h. With .dry_run = 1 and .plan = &plan the export
 * checks what the bucket holds and fills the plan without writing; plan.h.)
 *
 * An import: the manifest of the first name and every blob it references,
 * verified, into a content store.
 *
 *     bk_store *dest = bk_store_open(dir, 1, &err);
 *     bk_import_options io = {.cache = cache, .dest = dest};
 *     bk_import_result res = {0};
 *     bk_import(&io, &res, &err);        // res.usable: the config to build from
 *     bk_import_result_clear(&res);      // importer.h
 *     bk_store_free(dest);
 *
 * and at the end: bk_s3cache_free(cache); bk_s3_attrs_clear(&attrs);
 * To print progress, hand a reporter to either pipeline (progress.h):
 * .progress = bk_progress_emit, .progress_ud = bk_progress_new(stderr, style).
 * In bkcache's source tree, impl/tests/install/example.c is this sequence as
 * a program; the test impl.install builds it against the installed library
 * and runs an export and an import with it against the mock. */
#ifndef BKCACHE_BKCACHE_H
#define BKCACHE_BKCACHE_H

#include "bkcache/attrs.h"
#include "bkcache/buf.h"
#include "bkcache/cacheconfig.h"
#include "bkcache/chains.h"
#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "bkcache/clock.h"
#include "bkcache/creds.h"
#include "bkcache/env.h"
#include "bkcache/error.h"
#include "bkcache/explain.h"
#include "bkcache/exporter.h"
#include "bkcache/fileio.h"
#include "bkcache/gojson.h"
#include "bkcache/graph.h"
#include "bkcache/httpreq.h"
#include "bkcache/importer.h"
#include "bkcache/localcache.h"
#include "bkcache/plan.h"
#include "bkcache/progress.h"
#include "bkcache/retry.h"
#include "bkcache/s3.h"
#include "bkcache/s3cache.h"
#include "bkcache/sigv4.h"
#include "bkcache/store.h"
#include "bkcache/version.h"

#endif
