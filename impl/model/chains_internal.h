/* Internals shared by chains.c (Add), chains_marshal.c, chains_export.c and
 * chains_parse.c.
 *
 * Every lookup Add and Marshal make is a hash lookup, as in BuildKit's
 * chains.go (maps keyed by digest and by (source, input index, selector,
 * digest)): the indexes of hindex.h over the arrays below, so keys are
 * neither copied nor formatted. Layer chains are interned nodes shared by
 * every result that holds them. `ops` counts the steps (lookups, list
 * entries, walk steps) so that tests can hold parse and marshal to n log n
 * without timing them. */
#ifndef BKCACHE_CHAINS_INTERNAL_H
#define BKCACHE_CHAINS_INTERNAL_H

#include "bkcache/chains.h"
#include "hindex.h"

#define CHAIN_NONE SIZE_MAX

/* A parent link: this item's input uses `src` with `selector`. */
typedef struct chain_parent {
    bk_chain_item *src;
    char *selector; /* never NULL */
} chain_parent;

typedef struct chain_parent_set {
    chain_parent *links;
    size_t n, cap;
} chain_parent_set;

/* One blob digest and the newest node that carries it. */
typedef struct chain_blob {
    const char *digest; /* the first node's */
    size_t node;
} chain_blob;

/* One blob on top of a parent chain. Nodes are interned by (descriptor,
 * parent): results that share layers share nodes. A node's parent comes
 * before it. */
typedef struct chain_node {
    bk_descriptor desc; /* owned copy */
    size_t parent;      /* node index, CHAIN_NONE for a base layer */
    size_t depth;       /* number of layers, this one included */
    size_t blob;        /* index into blobs */
} chain_node;

/* A result: the top node of its chain (CHAIN_NONE when it has no layers). */
typedef struct chain_result {
    size_t top;
    size_t n_layers;
    bk_time created_at;
} chain_result;

struct bk_chain_item {
    size_t id; /* creation order */
    char *digest;
    bool is_root;
    bk_chain_item **children; /* items that link to this one (each edge once) */
    size_t n_children, cap_children;
    chain_parent_set *parents; /* one set per input index */
    size_t n_parents;
    chain_result *results;
    size_t n_results, cap_results;
    uint64_t mark_down, mark_up; /* walk epochs */
};

/* The edge src -> child at input index with selector, and the next edge of
 * the same candidate list. */
typedef struct chain_edge {
    size_t src, child, index;
    const char *selector; /* the child's parent link's */
    size_t next;          /* CHAIN_NONE at the end of the list */
} chain_edge;

/* The children with one digest under (src, index, selector): the candidates
 * Add matches a new record against. */
typedef struct chain_list {
    size_t src, index;
    const char *selector, *digest;
    size_t head, len;
} chain_list;

/* A result of an item, for the index that keeps results distinct. */
typedef struct chain_result_ref {
    size_t item, result;
} chain_result_ref;

struct bk_chains {
    bk_chain_item **items;
    size_t n_items, cap_items;
    chain_edge *edges;
    size_t n_edges, cap_edges;
    chain_list *lists;
    size_t n_lists, cap_lists;
    chain_result_ref *result_refs;
    size_t n_result_refs, cap_result_refs;
    chain_node *nodes;
    size_t n_nodes, cap_nodes;
    chain_blob *blobs;
    size_t n_blobs, cap_blobs;
    bk__hindex roots;     /* items without inputs, by digest */
    bk__hindex edge_ix;   /* edges by (src, child, index, selector) */
    bk__hindex list_ix;   /* lists by (src, index, selector, digest) */
    bk__hindex result_ix; /* result_refs by (item, createdAt instant, layer count) */
    bk__hindex node_ix;   /* nodes by (descriptor, parent) */
    bk__hindex blob_ix;   /* blobs by digest */
    bk_chain_item **stack_down, **stack_up; /* scratch of the walks */
    size_t cap_down, cap_up;
    uint64_t epoch;
    uint64_t ops;
};

/* The node of d on top of parent (CHAIN_NONE: a base layer), made once. */
bk_code bk__chains_node(bk_chains *c, const bk_descriptor *d, size_t parent, size_t *out,
                        bk_err *err);

/* bk_chains_add with results whose layers are already nodes. */
bk_code bk__chains_add_nodes(bk_chains *c, const char *digest, const bk_chain_dep *deps,
                             size_t n_deps, const chain_result *results, size_t n_results,
                             bk_chain_item **out, bk_err *err);

/* Whether two descriptors are the same in every field. */
bool bk__chains_same_desc(const bk_descriptor *a, const bk_descriptor *b);

/* The blob entry of a digest, or CHAIN_NONE. */
size_t bk__chains_blob(const bk_chains *c, const char *digest);

/* Appends one zeroed element to *arr (count *n, capacity *cap, element size
 * sz), doubling the capacity when full. NULL when out of memory. */
void *bk__chains_push(void **arr, size_t *n, size_t *cap, size_t sz);

/* Pushes it on a walk stack; false when out of memory. */
bool bk__chains_push_walk(bk_chain_item ***stack, size_t *n, size_t *cap, bk_chain_item *it);

/* Steps counted since the chains were made (parse, add, marshal). */
uint64_t bk__chains_ops(const bk_chains *c);

#endif
