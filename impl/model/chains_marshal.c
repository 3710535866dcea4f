/* The CacheChains model's Marshal: records and layer chains from the leaves,
 * depth first, each layer chain made once per (blob, parent) however many
 * results share it, and the deterministic sort with index rewriting
 * (BuildKit's sortConfig). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cacheconfig_internal.h"
#include "chains_internal.h"

/* ---- marshal ---- */

typedef struct marshal_state {
    bk_chains *c;
    bk_cache_config *cfg;
    size_t cap_layers, cap_records; /* of cfg's arrays, grown geometrically */
    bk__hindex layer_ix;            /* layers by (blob, parent layer) */
    size_t *layer_blob;             /* per layer: its blob */
    size_t n_layer_blob, cap_layer_blob;
    size_t *blob_desc;    /* per blob: the node whose descriptor describes it */
    size_t *node_layer;   /* per node: its layer, or CHAIN_NONE before it has one */
    signed char *node_ok; /* per node: 1 every blob of its chain available, 0 not, -1 unknown */
    bool *node_replay;    /* per node: its chain holds a blob with several descriptors */
    size_t *walk;         /* scratch: one chain's nodes */
    long *record_of;      /* per item: -2 unseen, -1 in progress, else record index */
    struct marshal_frame *path; /* per item, the items being marshaled */
    bk_blob_available_fn available;
    void *available_ctx;
    bk_err *err;
} marshal_state;

/* Whether every blob of node's chain is available, asking the callback for
 * each node once, base first, and no further than the first missing blob. */
static bool chain_available(marshal_state *st, size_t node)
{
    if (!st->available)
        return true;
    size_t n = 0;
    for (size_t x = node; x != CHAIN_NONE && st->node_ok[x] < 0; x = st->c->nodes[x].parent)
        st->walk[n++] = x;
    bool ok = n == 0 || st->c->nodes[st->walk[n - 1]].parent == CHAIN_NONE ||
              st->node_ok[st->c->nodes[st->walk[n - 1]].parent] == 1;
    while (n > 0) {
        size_t x = st->walk[--n];
        st->c->ops++;
        ok = ok && st->available(st->available_ctx, &st->c->nodes[x].desc);
        st->node_ok[x] = ok ? 1 : 0;
    }
    return st->node_ok[node] == 1;
}

typedef struct layer_probe {
    const marshal_state *st;
    size_t blob;
    int64_t parent;
} layer_probe;

static bool layer_is(const void *ctx, size_t entry)
{
    const layer_probe *p = ctx;
    return p->st->layer_blob[entry] == p->blob && p->st->cfg->layers[entry].parent == p->parent;
}

/* One layer of marshalRemote: the layer of node's blob on top of parent (-1:
 * none), made once per (blob, parent); node's descriptor then describes the
 * blob (the last one seen wins, as in BuildKit). -1 when out of memory. */
static int64_t marshal_layer(marshal_state *st, size_t node, int64_t parent)
{
    const chain_node *n = &st->c->nodes[node];
    st->blob_desc[n->blob] = node;
    uint64_t h = bk__hash_u64(bk__hash_u64(BK__HASH_INIT, n->blob), (uint64_t)parent);
    layer_probe p = {st, n->blob, parent};
    size_t idx;
    st->c->ops++;
    if (bk__hindex_find(&st->layer_ix, h, layer_is, &p, &idx))
        return (int64_t)idx;
    size_t *lb = bk__chains_push((void **)&st->layer_blob, &st->n_layer_blob, &st->cap_layer_blob,
                                 sizeof *lb);
    if (!lb || !bk__config_push_layer(st->cfg, &st->cap_layers, n->desc.digest, parent) ||
        !bk__hindex_add(&st->layer_ix, h, st->cfg->n_layers - 1))
        return -1;
    *lb = n->blob;
    return (int64_t)st->cfg->n_layers - 1;
}

/* marshalRemote for the chain ending at node: its layer index, made base
 * first. Layers of nodes already marshaled are reused; a chain holding a
 * blob that several descriptors describe is walked whole, so the
 * descriptor seen last is the one BuildKit's walk would see last. -2 when
 * a blob is unavailable (no result), -1 when out of memory. */
static int64_t marshal_remote(marshal_state *st, size_t node)
{
    if (!chain_available(st, node))
        return -2;
    bool replay = st->node_replay[node];
    size_t n = 0;
    for (size_t x = node; x != CHAIN_NONE && (replay || st->node_layer[x] == CHAIN_NONE);
         x = st->c->nodes[x].parent)
        st->walk[n++] = x;
    int64_t parent = -1;
    if (n > 0 && st->c->nodes[st->walk[n - 1]].parent != CHAIN_NONE)
        parent = (int64_t)st->node_layer[st->c->nodes[st->walk[n - 1]].parent];
    if (n == 0)
        return (int64_t)st->node_layer[node];
    while (n > 0) {
        size_t x = st->walk[--n];
        st->c->ops++;
        parent = marshal_layer(st, x, parent);
        if (parent < 0)
            return -1;
        st->node_layer[x] = (size_t)parent;
    }
    return parent;
}

/* Marks the nodes whose chain holds a blob with more than one descriptor
 * (only a caller of bk_chains_add can make those: a parsed config has one
 * descriptor per blob). Nodes come after their parents. */
static bool mark_replays(marshal_state *st)
{
    const bk_chains *c = st->c;
    size_t *first = malloc((c->n_blobs + 1) * sizeof *first);
    bool *conflict = calloc(c->n_blobs + 1, sizeof *conflict);
    if (!first || !conflict) {
        free(first);
        free(conflict);
        return false;
    }
    for (size_t b = 0; b < c->n_blobs; b++)
        first[b] = CHAIN_NONE;
    for (size_t i = 0; i < c->n_nodes; i++) {
        size_t b = c->nodes[i].blob;
        st->c->ops++;
        if (first[b] == CHAIN_NONE)
            first[b] = i;
        else if (!bk__chains_same_desc(&c->nodes[i].desc, &c->nodes[first[b]].desc))
            conflict[b] = true;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        const chain_node *n = &c->nodes[i];
        st->node_replay[i] =
            conflict[n->blob] || (n->parent != CHAIN_NONE && st->node_replay[n->parent]);
    }
    free(first);
    free(conflict);
    return true;
}

static const chain_result *best_result(const bk_chain_item *it)
{
    const chain_result *best = NULL;
    for (size_t i = 0; i < it->n_results; i++) {
        const chain_result *r = &it->results[i];
        if (!best || bk_time_compare(r->created_at, best->created_at) > 0)
            best = r;
    }
    return best;
}

/* One item being marshaled: its inputs, built while the items its links
 * come from are marshaled first. */
typedef struct marshal_frame {
    const bk_chain_item *it;
    size_t parent, link; /* the next link to follow */
    bool waiting;        /* that link's source is being marshaled */
    bk_input_list *inputs;
} marshal_frame;

static bk_code marshal_open(marshal_state *st, marshal_frame *f, const bk_chain_item *it)
{
    memset(f, 0, sizeof *f);
    f->it = it;
    st->record_of[it->id] = -1;
    f->inputs = calloc(it->n_parents ? it->n_parents : 1, sizeof *f->inputs);
    if (!f->inputs)
        return bk_err_set(st->err, BK_ENOMEM, "out of memory marshaling records");
    return BK_OK;
}

static void marshal_drop(marshal_frame *f)
{
    for (size_t i = 0; f->inputs && i < f->it->n_parents; i++) {
        for (size_t j = 0; j < f->inputs[i].n_links; j++)
            free(f->inputs[i].links[j].selector);
        free(f->inputs[i].links);
    }
    free(f->inputs);
    f->inputs = NULL;
}

/* The item's record, once its inputs are marshaled: its layers, then the
 * record itself, which takes the inputs. */
static bk_code marshal_finish(marshal_state *st, marshal_frame *f)
{
    const bk_chain_item *it = f->it;
    bk_code rc = BK_OK;
    int64_t layer = -1;
    const chain_result *res = best_result(it);
    st->c->ops += it->n_results;
    if (res && res->top != CHAIN_NONE) {
        layer = marshal_remote(st, res->top);
        if (layer == -1)
            rc = bk_err_set(st->err, BK_ENOMEM, "out of memory marshaling layers");
    }
    bk_cache_record *rec =
        rc == BK_OK ? bk__config_push_record(st->cfg, &st->cap_records, it->digest) : NULL;
    if (rc == BK_OK && !rec)
        rc = bk_err_set(st->err, BK_ENOMEM, "out of memory marshaling records");
    if (rc != BK_OK) {
        marshal_drop(f);
        return rc;
    }
    rec->inputs = it->n_parents ? f->inputs : NULL;
    rec->n_inputs = it->n_parents;
    if (!it->n_parents)
        free(f->inputs);
    f->inputs = NULL;
    if (layer >= 0 && !bk_record_add_result(rec, layer, res->created_at))
        return bk_err_set(st->err, BK_ENOMEM, "out of memory marshaling records");
    st->record_of[it->id] = (long)(st->cfg->n_records - 1);
    return BK_OK;
}

/* Item root's record after the records of every item its links come from
 * (their records get lower indexes), depth first in input and link order. A
 * link back into the path being marshaled is skipped. The path is an explicit
 * stack: chains parsed from a bucket may be any number deep. An item enters
 * it once (record_of leaves -2 for good), so st->path holds n_items frames. */
static bk_code marshal_item(marshal_state *st, const bk_chain_item *root)
{
    if (st->record_of[root->id] != -2)
        return BK_OK;
    size_t depth = 1;
    bk_code rc = marshal_open(st, &st->path[0], root);
    while (depth > 0) {
        st->c->ops++;
        marshal_frame *f = &st->path[depth - 1];
        const bk_chain_item *it = f->it;
        if (rc != BK_OK) {
            marshal_drop(f);
            depth--;
            continue;
        }
        if (f->parent == it->n_parents) {
            rc = marshal_finish(st, f);
            depth--;
            continue;
        }
        if (f->link == 0 && !f->waiting)
            f->inputs[f->parent].is_null = true; /* Go's nil slice when every link is skipped */
        const chain_parent_set *set = &it->parents[f->parent];
        if (f->link == set->n) {
            f->parent++;
            f->link = 0;
            continue;
        }
        const chain_parent *l = &set->links[f->link];
        if (!f->waiting && st->record_of[l->src->id] == -2) {
            f->waiting = true;
            rc = marshal_open(st, &st->path[depth++], l->src);
            continue; /* this link again once its source is marshaled */
        }
        f->waiting = false;
        long idx = st->record_of[l->src->id];
        if (idx != -1 && !bk_input_add_link(&f->inputs[f->parent], l->selector, idx))
            rc = bk_err_set(st->err, BK_ENOMEM, "out of memory marshaling records");
        f->link++;
    }
    return rc;
}

/* Marks (with the current epoch) every item reachable through children from
 * the roots. -1 when out of memory. */
static int mark_reachable(bk_chains *c)
{
    uint64_t epoch = ++c->epoch;
    size_t n = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        bk_chain_item *root = c->items[i];
        if (!root->is_root || root->mark_down == epoch)
            continue;
        root->mark_down = epoch;
        if (!bk__chains_push_walk(&c->stack_down, &n, &c->cap_down, root))
            return -1;
        while (n > 0) {
            bk_chain_item *cur = c->stack_down[--n];
            for (size_t j = 0; j < cur->n_children; j++) {
                bk_chain_item *ch = cur->children[j];
                c->ops++;
                if (ch->mark_down != epoch) {
                    ch->mark_down = epoch;
                    if (!bk__chains_push_walk(&c->stack_down, &n, &c->cap_down, ch))
                        return -1;
                }
            }
        }
    }
    return 0;
}

/* ---- sortConfig ---- */

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* Stable merge sort of indexes with a comparator that sees the config. */
typedef int (*idx_cmp)(const bk_cache_config *cfg, size_t a, size_t b);

/* NOLINTNEXTLINE(misc-no-recursion): halves n each level, so at most 64 deep */
static void merge_sort(size_t *idx, size_t *tmp, size_t n, const bk_cache_config *cfg, idx_cmp cmp)
{
    if (n < 2)
        return;
    size_t mid = n / 2;
    merge_sort(idx, tmp, mid, cfg, cmp);
    merge_sort(idx + mid, tmp, n - mid, cfg, cmp);
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n)
        tmp[k++] = cmp(cfg, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
    while (i < mid)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static int layer_cmp(const bk_cache_config *cfg, size_t a, size_t b)
{
    const bk_cache_layer *la = &cfg->layers[a], *lb = &cfg->layers[b];
    int c = cmp_str(la->blob, lb->blob);
    if (c)
        return c;
    return la->parent < lb->parent ? -1 : la->parent > lb->parent;
}

static int record_cmp(const bk_cache_config *cfg, size_t a, size_t b)
{
    const bk_cache_record *ra = &cfg->records[a], *rb = &cfg->records[b];
    int c = cmp_str(ra->digest, rb->digest);
    if (c)
        return c;
    if (ra->n_inputs != rb->n_inputs)
        return ra->n_inputs < rb->n_inputs ? -1 : 1;
    for (size_t i = 0; i < ra->n_inputs; i++) {
        const bk_input_list *ia = &ra->inputs[i], *ib = &rb->inputs[i];
        if (ia->n_links != ib->n_links)
            return ia->n_links < ib->n_links ? -1 : 1;
        for (size_t j = 0; j < ia->n_links; j++) {
            c = cmp_str(ia->links[j].selector, ib->links[j].selector);
            if (c)
                return c;
            c = cmp_str(cfg->records[ia->links[j].link].digest,
                        cfg->records[ib->links[j].link].digest);
            if (c)
                return c;
        }
    }
    return 0;
}

static int link_cmp(const void *a, const void *b)
{
    const bk_cache_input *la = a, *lb = b;
    if (la->link != lb->link)
        return la->link < lb->link ? -1 : 1;
    return cmp_str(la->selector, lb->selector);
}

/* order: the indexes 0..n-1 sorted by cmp (stable); new_index: where each
 * index went (the inverse permutation). */
static void sorted_order(size_t *order, size_t *tmp, size_t *new_index, size_t n,
                         const bk_cache_config *cfg, idx_cmp cmp)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    merge_sort(order, tmp, n, cfg, cmp);
    for (size_t i = 0; i < n; i++)
        new_index[order[i]] = i;
}

static bk_code sort_config(bk_cache_config *cfg, bk_err *err)
{
    size_t nl = cfg->n_layers, nr = cfg->n_records;
    size_t big = (nl > nr ? nl : nr) + 1;
    size_t *order = malloc(big * sizeof *order), *tmp = malloc(big * sizeof *tmp);
    size_t *new_layer = malloc((nl + 1) * sizeof *new_layer);
    size_t *new_record = malloc((nr + 1) * sizeof *new_record);
    bk_cache_layer *layers = malloc((nl + 1) * sizeof *layers);
    bk_cache_record *records = malloc((nr + 1) * sizeof *records);
    bk_code rc = BK_OK;
    if (!order || !tmp || !new_layer || !new_record || !layers || !records) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory sorting the cache config");
        goto out;
    }
    sorted_order(order, tmp, new_layer, nl, cfg, layer_cmp);
    for (size_t i = 0; i < nl; i++) {
        layers[i] = cfg->layers[order[i]];
        if (layers[i].parent != -1)
            layers[i].parent = (int64_t)new_layer[layers[i].parent];
    }
    sorted_order(order, tmp, new_record, nr, cfg, record_cmp);
    for (size_t i = 0; i < nr; i++) {
        bk_cache_record *r = &records[i];
        *r = cfg->records[order[i]];
        for (size_t j = 0; j < r->n_results; j++)
            r->results[j].layer = (int64_t)new_layer[r->results[j].layer];
        for (size_t j = 0; j < r->n_inputs; j++) {
            bk_input_list *in = &r->inputs[j];
            for (size_t k = 0; k < in->n_links; k++)
                in->links[k].link = (int64_t)new_record[in->links[k].link];
            if (in->n_links > 1)
                qsort(in->links, in->n_links, sizeof *in->links, link_cmp);
        }
    }
    if (nl)
        memcpy(cfg->layers, layers, nl * sizeof *layers);
    if (nr)
        memcpy(cfg->records, records, nr * sizeof *records);
out:
    free(order);
    free(tmp);
    free(new_layer);
    free(new_record);
    free(layers);
    free(records);
    return rc;
}

/* The S3 exporter's Finalize: every layer's annotations from its descriptor. */
static bk_code fill_annotations(marshal_state *st)
{
    for (size_t i = 0; i < st->cfg->n_layers; i++) {
        bk_cache_layer *l = &st->cfg->layers[i];
        size_t b = bk__chains_blob(st->c, l->blob);
        st->c->ops++;
        if (b == CHAIN_NONE || st->blob_desc[b] == CHAIN_NONE)
            return bk_err_set(st->err, BK_EINVAL, "missing blob %s", l->blob);
        const bk_descriptor *d = &st->c->nodes[st->blob_desc[b]].desc;
        if (!d->diff_id || !*d->diff_id)
            return bk_err_set(st->err, BK_EINVAL,
                              "layer %s: invalid descriptor without uncompressed annotation "
                              "(diffID)",
                              l->blob);
        bk_time created = d->has_created_at ? bk_time_utc(d->created_at) : bk_time_zero();
        if (!bk_layer_set_annotations(l, bk_media_type_to_oci(d->media_type), d->diff_id, d->size,
                                      created))
            return bk_err_set(st->err, BK_ENOMEM, "out of memory");
    }
    return BK_OK;
}

static void marshal_state_clear(marshal_state *st)
{
    free(st->node_layer);
    free(st->node_ok);
    free(st->node_replay);
    free(st->walk);
    free(st->record_of);
    free(st->path);
    free(st->layer_blob);
    free(st->blob_desc);
    bk__hindex_clear(&st->layer_ix);
}

bk_code bk_chains_marshal(bk_chains *c, unsigned flags, bk_blob_available_fn available,
                          void *available_ctx, bk_cache_config **out, bk_err *err)
{
    *out = NULL;
    size_t nn = c->n_nodes + 1;
    marshal_state st = {.c = c,
                        .cfg = bk_config_new(),
                        .blob_desc = malloc((c->n_blobs + 1) * sizeof(size_t)),
                        .node_layer = malloc(nn * sizeof(size_t)),
                        .node_ok = malloc(nn),
                        .node_replay = calloc(nn, sizeof(bool)),
                        .walk = malloc(nn * sizeof(size_t)),
                        .record_of = malloc((c->n_items + 1) * sizeof(long)),
                        .path = calloc(c->n_items + 1, sizeof(marshal_frame)),
                        .available = available,
                        .available_ctx = available_ctx,
                        .err = err};
    bk_code rc = BK_OK;
    if (!st.cfg || !st.blob_desc || !st.node_layer || !st.node_ok || !st.node_replay || !st.walk ||
        !st.record_of || !st.path || !mark_replays(&st) || mark_reachable(c) < 0) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory marshaling the cache");
        goto out;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        st.node_layer[i] = CHAIN_NONE;
        st.node_ok[i] = -1;
    }
    for (size_t i = 0; i < c->n_items; i++)
        st.record_of[i] = -2;
    for (size_t i = 0; i < c->n_blobs; i++)
        st.blob_desc[i] = CHAIN_NONE;
    /* Leaves (records nothing depends on) reachable from the roots, in
     * creation order; each is marshaled with its inputs first. */
    uint64_t reachable = c->epoch;
    for (size_t i = 0; i < c->n_items && rc == BK_OK; i++)
        if (c->items[i]->mark_down == reachable && c->items[i]->n_children == 0)
            rc = marshal_item(&st, c->items[i]);
    if (rc == BK_OK)
        rc = sort_config(st.cfg, err);
    if (rc == BK_OK && (flags & BK_MARSHAL_ANNOTATIONS))
        rc = fill_annotations(&st);
out:
    marshal_state_clear(&st);
    if (rc != BK_OK) {
        bk_config_free(st.cfg);
        return rc;
    }
    *out = st.cfg;
    return BK_OK;
}
