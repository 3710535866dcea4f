/* Internals shared by chains.c, chains_export.c and chains_parse.c.
 *
 * Every lookup Add and Marshal make is a hash lookup, as in BuildKit's
 * chains.go (maps keyed by digest and by (source, input index, selector,
 * digest)); layer chains are interned nodes shared by every result that
 * holds them. `ops` counts the steps (lookups, list entries, walk steps) so
 * that tests can hold parse and marshal to n log n without timing them. */
#ifndef BKCACHE_CHAINS_INTERNAL_H
#define BKCACHE_CHAINS_INTERNAL_H

#include "bkcache/buf.h"
#include "bkcache/chains.h"
#include "strmap.h"

#define CHAIN_NONE SIZE_MAX

/* A parent link: this item's input uses `src` with `selector`. */
typedef struct chain_parent {
    bk_chain_item *src;
    char *selector;
} chain_parent;

typedef struct chain_parent_set {
    chain_parent *links;
    size_t n, cap;
} chain_parent_set;

/* One blob on top of a parent chain. Nodes are interned by (descriptor,
 * parent): results that share layers share nodes. */
typedef struct chain_node {
    bk_descriptor desc; /* owned copy */
    size_t parent;      /* node index, CHAIN_NONE for a base layer */
    size_t depth;       /* number of layers, this one included */
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

/* One entry of a candidate list: a child under (source, index, selector, digest). */
typedef struct chain_edge {
    size_t child; /* item id */
    size_t next;  /* next entry of the same list, CHAIN_NONE at the end */
} chain_edge;

typedef struct chain_list {
    size_t head, len;
} chain_list;

struct bk_chains {
    bk_chain_item **items;
    size_t n_items, cap_items;
    bk__strmap roots;     /* digest -> id of the root item */
    bk__strmap edge_keys; /* (src, child, index, selector) -> present */
    bk__strmap list_keys; /* (src, index, selector, child digest) -> list */
    chain_list *lists;
    size_t n_lists, cap_lists;
    chain_edge *edges;
    size_t n_edges, cap_edges;
    bk__strmap result_keys; /* (item, createdAt, layer count) -> present */
    bk__strmap node_keys;   /* (descriptor, parent) -> node */
    bk__strmap last_node;   /* blob digest -> the newest node with it */
    chain_node *nodes;
    size_t n_nodes, cap_nodes;
    bk_chain_item **stack_down, **stack_up; /* scratch of the walks */
    size_t cap_down, cap_up;
    uint64_t epoch;
    bk_buf key; /* scratch for building map keys */
    uint64_t ops;
};

/* The node of d on top of parent (CHAIN_NONE: a base layer), made once. */
bk_code bk__chains_node(bk_chains *c, const bk_descriptor *d, size_t parent, size_t *out,
                        bk_err *err);

/* bk_chains_add with results whose layers are already nodes. */
bk_code bk__chains_add_nodes(bk_chains *c, const char *digest, const bk_chain_dep *deps,
                             size_t n_deps, const chain_result *results, size_t n_results,
                             bk_chain_item **out, bk_err *err);

/* Steps counted since the chains were made (parse, add, marshal). */
uint64_t bk__chains_ops(const bk_chains *c);

/* Appends one zeroed element to *arr (count *n, capacity *cap, element size
 * sz), doubling the capacity when full. NULL when out of memory. */
void *bk__chains_push(void **arr, size_t *n, size_t *cap, size_t sz);

#endif
