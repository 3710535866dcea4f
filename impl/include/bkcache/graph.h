/* Build-graph fixtures: a JSON description of a build's cache keys, their
 * inputs and results, the export targets, and the content store holding the
 * layer blobs. The format is documented in fixtures/README.md ("graphs").
 *
 * Ownership: bk_graph owns everything it points to; bk_graph_free releases it. */
#ifndef BKCACHE_GRAPH_H
#define BKCACHE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_graph_link {
    size_t vertex; /* index into bk_graph.vertices */
    char *selector;
} bk_graph_link;

typedef struct bk_graph_input {
    bk_graph_link *links;
    size_t n_links;
} bk_graph_input;

/* One vertex output (a cache key): BuildKit's (digest, output index). */
typedef struct bk_graph_vertex {
    char *id;     /* fixture-local name used by links and targets */
    char *digest; /* the vertex (operation) digest */
    int64_t output;
    bk_graph_input *inputs;
    size_t n_inputs;
    bool has_result;
    bool remote; /* the result's layers are already transferable */
    bk_time created_at;
    bk_descriptor *layers; /* the result's chain, base first; a layer the fixture
                            * names by digest or index shares the strings of its
                            * "blobs" entry (the graph owns them once) */
    size_t n_layers;
} bk_graph_vertex;

typedef struct bk_graph {
    char *description;
    bk_graph_vertex *vertices;
    size_t n_vertices;
    size_t *targets;
    size_t n_targets;
    char *store_dir; /* absolute or relative to the cwd; NULL if none */
    void *index;     /* private to the loader: vertices by id, blobs found in the store */
} bk_graph;

/* Loads a graph fixture; "store" is resolved against the file's directory. */
bk_code bk_graph_load(const char *path, bk_graph **out, bk_err *err);
/* Same from memory; base_dir resolves "store" (NULL: as written). */
bk_code bk_graph_parse(const char *json, size_t len, const char *base_dir, bk_graph **out,
                       bk_err *err);
void bk_graph_free(bk_graph *g);

/* Path of a blob in an OCI layout content store: <dir>/blobs/<alg>/<hex>.
 * Returns a malloc'd string or NULL for a malformed digest. */
char *bk_store_blob_path(const char *store_dir, const char *digest);

/* True when the graph's store holds the blob with the descriptor's size
 * (BuildKit drops a result whose blob the content store lacks). With no
 * store every blob counts as present. Each blob is looked up in the store
 * once per loaded graph, however many layers name it. Usable as
 * bk_blob_available_fn with the graph as ctx. */
bool bk_graph_store_has(void *graph, const bk_descriptor *d);

/* Looks every blob of a loaded graph up in its store now, so that
 * bk_graph_store_has answers from memory afterwards. Only the graph's
 * private index changes: another thread may read the graph meanwhile (build
 * its chains), but not call bk_graph_store_has or this. */
void bk_graph_store_scan(bk_graph *g);

#ifdef __cplusplus
}
#endif

#endif
