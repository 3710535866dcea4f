/* Internals shared by chains.c, chains_export.c and chains_parse.c. */
#ifndef BKCACHE_CHAINS_INTERNAL_H
#define BKCACHE_CHAINS_INTERNAL_H

#include "bkcache/chains.h"

/* A child edge: `child` uses this item at input `index` with `selector`. */
typedef struct chain_child {
    bk_chain_item *child;
    size_t index;
    char *selector;
} chain_child;

/* A parent link: this item's input uses `src` with `selector`. */
typedef struct chain_parent {
    bk_chain_item *src;
    char *selector;
} chain_parent;

typedef struct chain_parent_set {
    chain_parent *links;
    size_t n;
} chain_parent_set;

typedef struct chain_result {
    bk_descriptor *layers; /* owned copies */
    size_t n_layers;
    bk_time created_at;
    size_t order; /* insertion order, breaks createdAt ties */
} chain_result;

struct bk_chain_item {
    size_t id; /* creation order */
    char *digest;
    bool is_root;
    chain_child *children;
    size_t n_children;
    chain_parent_set *parents; /* one set per input index */
    size_t n_parents;
    chain_result *results;
    size_t n_results;
};

struct bk_chains {
    bk_chain_item **items;
    size_t n_items;
    size_t n_results_added;
};

#endif
