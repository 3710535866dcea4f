/* Cache chains: the in-memory graph of cache records BuildKit builds while it
 * exports (cache/remotecache/v1 CacheChains), and its normalization into a
 * cache config.
 *
 *   graph fixture --bk_chains_from_graph(mode)--> chains --bk_chains_marshal--> config
 *   config --bk_chains_parse--> chains --bk_chains_marshal--> config (normalize)
 *
 * Semantics follow BuildKit (solver/exporter.go ExportTo, v1/chains.go Add,
 * v1/utils.go marshal and sortConfig, v1/parse.go); where Go iterates a map in
 * random order this code uses insertion order, which only matters for ties
 * the final sort cannot break. Every lookup BuildKit makes through a map is a
 * hash lookup here too, and a layer chain is held once however many results
 * share it: parse and marshal of n records cost O(n) of them plus the sort's
 * n log n. Not thread-safe; one chains object per export.
 *
 * Ownership: bk_chains owns its items, results and descriptor copies; items
 * are borrowed pointers valid until bk_chains_free. */
#ifndef BKCACHE_CHAINS_H
#define BKCACHE_CHAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"
#include "bkcache/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_chains bk_chains;
typedef struct bk_chain_item bk_chain_item;

/* One result of a record: a layer chain, base first. */
typedef struct bk_chain_result {
    const bk_descriptor *layers;
    size_t n_layers;
    bk_time created_at;
} bk_chain_result;

/* One link of an input: the record it comes from and a selector (may be NULL). */
typedef struct bk_chain_link {
    bk_chain_item *src;
    const char *selector;
} bk_chain_link;

typedef struct bk_chain_dep {
    const bk_chain_link *links;
    size_t n_links;
} bk_chain_dep;

bk_chains *bk_chains_new(void);
void bk_chains_free(bk_chains *c);

/* CacheChains.Add: adds (or merges into an existing identical) record with
 * the given digest, inputs and results. Digests starting with "random:" are
 * not exported: *out is set to NULL and BK_OK returned. An input without
 * links is an error. */
bk_code bk_chains_add(bk_chains *c, const char *digest, const bk_chain_dep *deps, size_t n_deps,
                      const bk_chain_result *results, size_t n_results, bk_chain_item **out,
                      bk_err *err);

/* The record digest of a vertex output: "sha256:" + hex(sha256("<digest>@<output>")),
 * or a "random:" digest for random vertex digests. Writes into out (>= 80 bytes). */
void bk_chains_record_key(const char *vertex_digest, int64_t output, char *out, size_t out_len);

enum bk_export_mode {
    BK_EXPORT_MIN = 0,     /* targets' results, then remote-only for their dependencies */
    BK_EXPORT_MAX,         /* every non-root vertex's result */
    BK_EXPORT_REMOTE_ONLY, /* only results that are already remote */
};

/* solver/exporter.go ExportTo for every target of the graph, in order. */
bk_code bk_chains_from_graph(const bk_graph *g, enum bk_export_mode mode, bk_chains **out,
                             bk_err *err);

/* The config an export of the graph writes, in the S3 form: ExportTo for
 * every target in `mode`, marshalled with every layer annotated; a result
 * whose blob the graph's content store lacks is dropped, as BuildKit drops
 * one its content store lacks. A new config (bk_config_free). The store is
 * looked up on a second thread while the chains are built: no other thread
 * may call bk_graph_store_has or bk_graph_store_scan on g meanwhile. */
bk_code bk_chains_config_from_graph(const bk_graph *g, enum bk_export_mode mode,
                                    bk_cache_config **out, bk_err *err);

/* Decides whether a blob can be exported (BuildKit asks the content store for
 * it; a missing blob drops the result). NULL means every blob is available. */
typedef bool (*bk_blob_available_fn)(void *ctx, const bk_descriptor *d);

enum {
    /* Fill every layer's annotations from its descriptor (the S3 form):
     * media type converted to its OCI name, createdAt in UTC. A descriptor
     * without a diffID is then an error. */
    BK_MARSHAL_ANNOTATIONS = 1 << 0,
};

/* CacheChains.Marshal plus sortConfig: a new config (free with
 * bk_config_free). */
bk_code bk_chains_marshal(bk_chains *c, unsigned flags, bk_blob_available_fn available,
                          void *available_ctx, bk_cache_config **out, bk_err *err);

/* The descriptor chains know for a blob digest (the DescriptorProvider), or NULL. */
const bk_descriptor *bk_chains_descriptor(const bk_chains *c, const char *digest);

/* v1.ParseConfig: validates cfg (bk_config_validate with flags) and adds its
 * records. Layer descriptors come from descs when given (type=local: the
 * cache index's descriptors; a layer whose blob is not among them gives no
 * result, like BuildKit), else from each layer's annotations. */
bk_code bk_chains_parse(const bk_cache_config *cfg, const bk_descriptor *descs, size_t n_descs,
                        unsigned flags, bk_chains **out, bk_err *err);

/* Parse then marshal: the config BuildKit would write back for it. */
bk_code bk_chains_normalize(const bk_cache_config *cfg, unsigned validate_flags,
                            unsigned marshal_flags, bk_cache_config **out, bk_err *err);

/* Number of distinct records held (for tests and progress output). */
size_t bk_chains_count(const bk_chains *c);

#ifdef __cplusplus
}
#endif

#endif
