/* The CacheChains model: Add (record dedup and merge), Marshal (records and
 * layer chains from the leaves, depth first) and the deterministic sort with
 * index rewriting (BuildKit's sortConfig). Every lookup is a hash lookup (see
 * chains_internal.h), so adding and marshaling n records costs O(n) map
 * operations plus the sort's n log n. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains_internal.h"

/* ---- storage ---- */

void *bk__chains_push(void **arr, size_t *n, size_t *cap, size_t sz)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void *p = realloc(*arr, ncap * sz);
        if (!p)
            return NULL;
        *arr = p;
        *cap = ncap;
    }
    void *el = (char *)*arr + *n * sz;
    memset(el, 0, sz);
    (*n)++;
    return el;
}

bk_chains *bk_chains_new(void)
{
    bk_chains *c = calloc(1, sizeof(bk_chains));
    if (c)
        bk_buf_init(&c->key);
    return c;
}

void bk_chains_free(bk_chains *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_items; i++) {
        bk_chain_item *it = c->items[i];
        free(it->digest);
        free(it->children);
        for (size_t j = 0; j < it->n_parents; j++) {
            for (size_t k = 0; k < it->parents[j].n; k++)
                free(it->parents[j].links[k].selector);
            free(it->parents[j].links);
        }
        free(it->parents);
        free(it->results);
        free(it);
    }
    free(c->items);
    for (size_t i = 0; i < c->n_nodes; i++)
        bk_descriptor_clear(&c->nodes[i].desc);
    free(c->nodes);
    free(c->lists);
    free(c->edges);
    free(c->stack_down);
    free(c->stack_up);
    bk__strmap_clear(&c->roots);
    bk__strmap_clear(&c->edge_keys);
    bk__strmap_clear(&c->list_keys);
    bk__strmap_clear(&c->result_keys);
    bk__strmap_clear(&c->node_keys);
    bk__strmap_clear(&c->last_node);
    bk_buf_free(&c->key);
    free(c);
}

size_t bk_chains_count(const bk_chains *c)
{
    return c->n_items;
}

uint64_t bk__chains_ops(const bk_chains *c)
{
    return c->ops;
}

/* ---- map keys ----
 * Keys are text; every variable-length part is preceded by its length, so
 * two different tuples never make the same key. */

static const char *sel(const char *s)
{
    return s ? s : "";
}

static void key_str(bk_buf *b, const char *s)
{
    if (s)
        bk_buf_printf(b, "%zu:%s|", strlen(s), s);
    else
        bk_buf_puts(b, "-|");
}

/* The candidate list of children with digest under (src, index, selector). */
static const char *list_key(bk_chains *c, size_t src, size_t index, const char *selector,
                            const char *digest)
{
    bk_buf_reset(&c->key);
    bk_buf_printf(&c->key, "%zu|%zu|", src, index);
    key_str(&c->key, sel(selector));
    bk_buf_puts(&c->key, digest);
    return bk_buf_str(&c->key);
}

/* The edge src -> child at input index with selector. */
static const char *edge_key(bk_chains *c, size_t src, size_t child, size_t index,
                            const char *selector)
{
    bk_buf_reset(&c->key);
    bk_buf_printf(&c->key, "%zu|%zu|%zu|%s", src, child, index, sel(selector));
    return bk_buf_str(&c->key);
}

/* Maps the key in c->key (a copy of it) to val; false when out of memory. */
static bool put_key(bk_chains *c, bk__strmap *m, size_t val)
{
    char *k = c->key.failed ? NULL : strdup(bk_buf_str(&c->key));
    if (!k || !bk__strmap_put(m, k, val)) {
        free(k);
        return false;
    }
    return true;
}

/* A key whose building ran out of memory is never found (its put fails). */
static bool get_key(bk_chains *c, const bk__strmap *m, const char *key, size_t *val)
{
    c->ops++;
    return !c->key.failed && bk__strmap_get(m, key, val);
}

/* ---- layer chains ---- */

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_desc(const bk_descriptor *a, const bk_descriptor *b)
{
    return same_str(a->digest, b->digest) && same_str(a->media_type, b->media_type) &&
           same_str(a->diff_id, b->diff_id) && a->size == b->size &&
           a->has_created_at == b->has_created_at && a->created_at.sec == b->created_at.sec &&
           a->created_at.nsec == b->created_at.nsec &&
           a->created_at.offset_min == b->created_at.offset_min;
}

bk_code bk__chains_node(bk_chains *c, const bk_descriptor *d, size_t parent, size_t *out,
                        bk_err *err)
{
    bk_buf *k = &c->key;
    bk_buf_reset(k);
    if (parent == CHAIN_NONE)
        bk_buf_puts(k, "-|");
    else
        bk_buf_printf(k, "%zu|", parent);
    key_str(k, d->digest);
    key_str(k, d->media_type);
    key_str(k, d->diff_id);
    bk_buf_printf(k, "%lld|%d|%lld|%d|%d", (long long)d->size, d->has_created_at ? 1 : 0,
                  (long long)d->created_at.sec, (int)d->created_at.nsec,
                  (int)d->created_at.offset_min);
    if (get_key(c, &c->node_keys, bk_buf_str(k), out))
        return BK_OK;
    chain_node *n = bk__chains_push((void **)&c->nodes, &c->n_nodes, &c->cap_nodes, sizeof *n);
    if (!n || !put_key(c, &c->node_keys, c->n_nodes - 1)) {
        if (n)
            c->n_nodes--;
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    }
    if (bk_descriptor_copy(&n->desc, d, err) != BK_OK) {
        n->desc = (bk_descriptor){0};
        return BK_ENOMEM;
    }
    n->parent = parent;
    n->depth = parent == CHAIN_NONE ? 1 : c->nodes[parent].depth + 1;
    *out = c->n_nodes - 1;
    char *digest = strdup(d->digest ? d->digest : "");
    if (!digest || !bk__strmap_put(&c->last_node, digest, *out)) {
        free(digest);
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    }
    return BK_OK;
}

/* The nodes of a descriptor chain, base first, into a result. */
static bk_code intern_result(bk_chains *c, const bk_chain_result *r, chain_result *out, bk_err *err)
{
    out->top = CHAIN_NONE;
    out->n_layers = r->n_layers;
    out->created_at = r->created_at;
    for (size_t i = 0; i < r->n_layers; i++)
        if (bk__chains_node(c, &r->layers[i], out->top, &out->top, err) != BK_OK)
            return err ? err->code : BK_ENOMEM;
    return BK_OK;
}

/* ---- items ---- */

static bk_chain_item *new_item(bk_chains *c, const char *digest, bk_err *err)
{
    bk_chain_item *it = calloc(1, sizeof *it);
    char *dup = strdup(digest);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bk_chain_item **slot =
        it && dup ? bk__chains_push((void **)&c->items, &c->n_items, &c->cap_items, sizeof *slot)
                  : NULL;
    if (!slot) {
        free(it);
        free(dup);
        bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
        return NULL;
    }
    *slot = it;
    it->id = c->n_items - 1;
    it->digest = dup;
    return it;
}

/* item.addResult: BuildKit treats a result as already present when one with
 * the same createdAt and the same number of layers exists (its digest loop
 * never rejects a candidate), so that is the rule here too. */
static bk_code add_result(bk_chains *c, bk_chain_item *it, const chain_result *r, bk_err *err)
{
    bk_buf_reset(&c->key);
    bk_buf_printf(&c->key, "%zu|%lld|%d|%zu", it->id, (long long)r->created_at.sec,
                  (int)r->created_at.nsec, r->n_layers);
    size_t dummy;
    if (get_key(c, &c->result_keys, bk_buf_str(&c->key), &dummy))
        return BK_OK;
    chain_result *dst =
        bk__chains_push((void **)&it->results, &it->n_results, &it->cap_results, sizeof *dst);
    if (!dst || !put_key(c, &c->result_keys, 0))
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    *dst = *r;
    return BK_OK;
}

/* item.addChild on src: records that `child` uses src at input index (once). */
static bk_code add_child(bk_chains *c, bk_chain_item *src, bk_chain_item *child, size_t index,
                         const char *selector, bk_err *err)
{
    size_t li;
    if (get_key(c, &c->edge_keys, edge_key(c, src->id, child->id, index, selector), &li))
        return BK_OK;
    if (!put_key(c, &c->edge_keys, 0))
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bk_chain_item **ch =
        bk__chains_push((void **)&src->children, &src->n_children, &src->cap_children, sizeof *ch);
    if (!ch)
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    *ch = child;

    if (!get_key(c, &c->list_keys, list_key(c, src->id, index, selector, child->digest), &li)) {
        chain_list *l = bk__chains_push((void **)&c->lists, &c->n_lists, &c->cap_lists, sizeof *l);
        if (!l || !put_key(c, &c->list_keys, c->n_lists - 1))
            return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
        l->head = CHAIN_NONE;
        li = c->n_lists - 1;
    }
    chain_edge *e = bk__chains_push((void **)&c->edges, &c->n_edges, &c->cap_edges, sizeof *e);
    if (!e)
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    e->child = child->id;
    e->next = c->lists[li].head;
    c->lists[li].head = c->n_edges - 1;
    c->lists[li].len++;

    while (index >= child->n_parents) {
        chain_parent_set *grown =
            realloc(child->parents, (child->n_parents + 1) * sizeof *child->parents);
        if (!grown)
            return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
        child->parents = grown;
        child->parents[child->n_parents++] = (chain_parent_set){0};
    }
    chain_parent_set *set = &child->parents[index];
    chain_parent *p = bk__chains_push((void **)&set->links, &set->n, &set->cap, sizeof *p);
    if (!p)
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    p->src = src;
    p->selector = strdup(sel(selector));
    return p->selector ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory linking records");
}

/* The candidate list of children with digest under link l of input index. */
static const chain_list *candidates(bk_chains *c, const bk_chain_link *l, size_t index,
                                    const char *digest)
{
    size_t li;
    if (!get_key(c, &c->list_keys, list_key(c, l->src->id, index, l->selector, digest), &li))
        return NULL;
    return &c->lists[li];
}

/* The new record's links at input index, by (index, source, selector): the
 * set has_link looks a candidate's parents up in. */
static const char *link_key(bk_chains *c, size_t index, size_t src, const char *selector)
{
    bk_buf_reset(&c->key);
    bk_buf_printf(&c->key, "%zu|%zu|%s", index, src, sel(selector));
    return bk_buf_str(&c->key);
}

/* Whether candidate it has one of dep's links at input index, walking the
 * smaller side: each link looked up as an edge into it, or each of its
 * parents there looked up among the links (links holds them all). */
static bool has_link(bk_chains *c, const bk_chain_item *it, const bk_chain_dep *dep, size_t index,
                     const bk__strmap *links)
{
    if (index >= it->n_parents)
        return false;
    const chain_parent_set *set = &it->parents[index];
    size_t v;
    if (set->n < dep->n_links) {
        for (size_t i = 0; i < set->n; i++)
            if (get_key(c, links, link_key(c, index, set->links[i].src->id, set->links[i].selector),
                        &v))
                return true;
        return false;
    }
    for (size_t j = 0; j < dep->n_links; j++)
        if (get_key(c, &c->edge_keys,
                    edge_key(c, dep->links[j].src->id, it->id, index, dep->links[j].selector), &v))
            return true;
    return false;
}

/* CacheChains.Add's match: the oldest item with the digest that, for every
 * input, already has one of that input's links. Candidates come from the
 * input whose candidate lists are shortest (BuildKit intersects them all);
 * each is then checked against the other inputs. NULL: none. */
static bk_chain_item *find_match(bk_chains *c, const char *digest, const bk_chain_dep *deps,
                                 size_t n_deps, const bk__strmap *links)
{
    size_t best = 0, best_len = SIZE_MAX;
    for (size_t i = 0; i < n_deps && best_len; i++) {
        size_t len = 0;
        for (size_t j = 0; j < deps[i].n_links; j++) {
            const chain_list *l = candidates(c, &deps[i].links[j], i, digest);
            len += l ? l->len : 0;
        }
        if (len < best_len) {
            best = i;
            best_len = len;
        }
    }
    if (best_len == 0)
        return NULL;
    uint64_t epoch = ++c->epoch;
    bk_chain_item *found = NULL;
    for (size_t j = 0; j < deps[best].n_links; j++) {
        const chain_list *l = candidates(c, &deps[best].links[j], best, digest);
        for (size_t e = l ? l->head : CHAIN_NONE; e != CHAIN_NONE; e = c->edges[e].next) {
            c->ops++;
            bk_chain_item *it = c->items[c->edges[e].child];
            if (it->mark_down == epoch || (found && found->id < it->id))
                continue;
            it->mark_down = epoch;
            bool all = true;
            for (size_t i = 0; i < n_deps && all; i++)
                all = i == best || has_link(c, it, &deps[i], i, links);
            if (all)
                found = it; /* the oldest match; BuildKit refuses several */
        }
    }
    return found;
}

static bool push_walk(bk_chain_item ***stack, size_t *n, size_t *cap, bk_chain_item *it)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        bk_chain_item **p = realloc(*stack, ncap * sizeof *p);
        if (!p)
            return false;
        *stack = p;
        *cap = ncap;
    }
    (*stack)[(*n)++] = it;
    return true;
}

/* Whether `to` is `from` or one of its descendants (reachable through
 * children). Two walks in lockstep, down from `from` and up from `to`, stop
 * when they meet or when either runs out, so the answer costs the smaller of
 * the two regions. 1 yes, 0 no, -1 out of memory. */
static int reaches(bk_chains *c, bk_chain_item *from, bk_chain_item *to)
{
    if (from == to)
        return 1;
    uint64_t epoch = ++c->epoch;
    size_t nd = 0, nu = 0;
    from->mark_down = epoch;
    to->mark_up = epoch;
    if (!push_walk(&c->stack_down, &nd, &c->cap_down, from) ||
        !push_walk(&c->stack_up, &nu, &c->cap_up, to))
        return -1;
    while (nd > 0 && nu > 0) {
        bk_chain_item *x = c->stack_down[--nd];
        for (size_t i = 0; i < x->n_children; i++) {
            bk_chain_item *ch = x->children[i];
            c->ops++;
            if (ch->mark_up == epoch)
                return 1;
            if (ch->mark_down != epoch) {
                ch->mark_down = epoch;
                if (!push_walk(&c->stack_down, &nd, &c->cap_down, ch))
                    return -1;
            }
        }
        bk_chain_item *y = c->stack_up[--nu];
        for (size_t i = 0; i < y->n_parents; i++) {
            for (size_t j = 0; j < y->parents[i].n; j++) {
                bk_chain_item *p = y->parents[i].links[j].src;
                c->ops++;
                if (p->mark_down == epoch)
                    return 1;
                if (p->mark_up != epoch) {
                    p->mark_up = epoch;
                    if (!push_walk(&c->stack_up, &nu, &c->cap_up, p))
                        return -1;
                }
            }
        }
    }
    return 0;
}

/* Links every source of deps to r. When r was an existing record (merged),
 * a link whose source r already reaches through its children would close a
 * loop: BuildKit drops those, and so does this. */
static bk_code link_sources(bk_chains *c, bk_chain_item *r, bool merged, const bk_chain_dep *deps,
                            size_t n_deps, bk_err *err)
{
    for (size_t i = 0; i < n_deps; i++) {
        for (size_t j = 0; j < deps[i].n_links; j++) {
            const bk_chain_link *l = &deps[i].links[j];
            size_t v;
            if (merged &&
                !get_key(c, &c->edge_keys, edge_key(c, l->src->id, r->id, i, l->selector), &v)) {
                int loop = reaches(c, r, l->src);
                if (loop < 0)
                    return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
                if (loop)
                    continue;
            }
            bk_code rc = add_child(c, l->src, r, i, l->selector, err);
            if (rc != BK_OK)
                return rc;
        }
    }
    return BK_OK;
}

/* The set of deps' links by (input, source, selector), for has_link; only
 * needed when some input has more than one link. */
static bk_code index_links(bk_chains *c, const bk_chain_dep *deps, size_t n_deps, bk__strmap *out,
                           bk_err *err)
{
    bool several = false;
    for (size_t i = 0; i < n_deps && !several; i++)
        several = deps[i].n_links > 1;
    for (size_t i = 0; several && i < n_deps; i++) {
        for (size_t j = 0; j < deps[i].n_links; j++) {
            link_key(c, i, deps[i].links[j].src->id, deps[i].links[j].selector);
            c->ops++;
            if (!put_key(c, out, 0))
                return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
        }
    }
    return BK_OK;
}

static bk_code add_results(bk_chains *c, bk_chain_item *it, const chain_result *results,
                           size_t n_results, bk_err *err)
{
    for (size_t i = 0; i < n_results; i++)
        if (add_result(c, it, &results[i], err) != BK_OK)
            return err ? err->code : BK_ENOMEM;
    return BK_OK;
}

bk_code bk__chains_add_nodes(bk_chains *c, const char *digest, const bk_chain_dep *deps,
                             size_t n_deps, const chain_result *results, size_t n_results,
                             bk_chain_item **out, bk_err *err)
{
    *out = NULL;
    if (strncmp(digest, "random:", 7) == 0)
        return BK_OK;
    size_t id;
    if (n_deps == 0) {
        bk_chain_item *it = NULL;
        if (get_key(c, &c->roots, digest, &id)) {
            it = c->items[id];
        } else {
            char *k = strdup(digest);
            if (!k || !(it = new_item(c, digest, err)) || !bk__strmap_put(&c->roots, k, it->id)) {
                free(k);
                return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
            }
            it->is_root = true;
        }
        if (add_results(c, it, results, n_results, err) != BK_OK)
            return err ? err->code : BK_ENOMEM;
        *out = it;
        return BK_OK;
    }
    for (size_t i = 0; i < n_deps; i++)
        if (deps[i].n_links == 0)
            return bk_err_set(err, BK_EINVAL, "empty dependency for %s (input %zu)", digest, i);

    bk__strmap links = {0};
    bk_code rc = index_links(c, deps, n_deps, &links, err);
    bk_chain_item *r = rc == BK_OK ? find_match(c, digest, deps, n_deps, &links) : NULL;
    bk__strmap_clear(&links);
    bool merged = r != NULL;
    if (rc == BK_OK && !r && !(r = new_item(c, digest, err)))
        rc = err ? err->code : BK_ENOMEM;
    if (rc == BK_OK)
        rc = add_results(c, r, results, n_results, err);
    if (rc == BK_OK)
        rc = link_sources(c, r, merged, deps, n_deps, err);
    if (rc == BK_OK)
        *out = r;
    return rc;
}

bk_code bk_chains_add(bk_chains *c, const char *digest, const bk_chain_dep *deps, size_t n_deps,
                      const bk_chain_result *results, size_t n_results, bk_chain_item **out,
                      bk_err *err)
{
    *out = NULL;
    if (strncmp(digest, "random:", 7) == 0)
        return BK_OK;
    chain_result *res = calloc(n_results ? n_results : 1, sizeof *res);
    if (!res)
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
    bk_code rc = BK_OK;
    for (size_t i = 0; rc == BK_OK && i < n_results; i++)
        rc = intern_result(c, &results[i], &res[i], err);
    if (rc == BK_OK)
        rc = bk__chains_add_nodes(c, digest, deps, n_deps, res, n_results, out, err);
    free(res);
    return rc;
}

/* ---- marshal ---- */

typedef struct marshal_state {
    bk_chains *c;
    bk_cache_config *cfg;
    bk__strmap layer_keys; /* (blob digest, parent layer) -> layer index */
    bk__strmap desc_blobs; /* blob digest -> the node whose descriptor describes it */
    size_t *node_layer;    /* per node: its layer, or CHAIN_NONE before it has one */
    signed char *node_ok;  /* per node: 1 every blob of its chain available, 0 not, -1 unknown */
    bool *node_replay;     /* per node: its chain holds a blob with several descriptors */
    size_t *walk;          /* scratch: one chain's nodes */
    long *record_of;       /* per item: -2 unseen, -1 in progress, else record index */
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

/* One layer of marshalRemote: the layer of blob desc on top of parent (-1:
 * none), made once per (blob, parent); desc then describes the blob (the
 * last one seen wins, as in BuildKit). -1 when out of memory. */
static int64_t marshal_layer(marshal_state *st, size_t node, int64_t parent)
{
    const bk_descriptor *d = &st->c->nodes[node].desc;
    bk_buf *k = &st->c->key;
    bk_buf_reset(k);
    bk_buf_printf(k, "%lld|%s", (long long)parent, d->digest ? d->digest : "");
    size_t idx;
    char *blob = strdup(d->digest ? d->digest : "");
    if (!blob || !bk__strmap_put(&st->desc_blobs, blob, node)) {
        free(blob);
        return -1;
    }
    if (get_key(st->c, &st->layer_keys, bk_buf_str(k), &idx))
        return (int64_t)idx;
    if (!put_key(st->c, &st->layer_keys, st->cfg->n_layers) ||
        !bk_config_add_layer(st->cfg, d->digest, parent))
        return -1;
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
    bk__strmap first = {0};
    bool *conflict = calloc(st->c->n_nodes + 1, sizeof *conflict);
    bool ok = conflict != NULL;
    for (size_t i = 0; ok && i < st->c->n_nodes; i++) {
        const bk_descriptor *d = &st->c->nodes[i].desc;
        size_t j;
        st->c->ops++;
        if (bk__strmap_get(&first, d->digest ? d->digest : "", &j)) {
            if (!same_desc(d, &st->c->nodes[j].desc))
                conflict[j] = conflict[i] = true;
            continue;
        }
        char *k = strdup(d->digest ? d->digest : "");
        if (!k || !bk__strmap_put(&first, k, i)) {
            free(k);
            ok = false;
        }
    }
    /* conflict[] is per first node of a digest; spread it to every node of
     * that digest, then up the chains. */
    for (size_t i = 0; ok && i < st->c->n_nodes; i++) {
        const chain_node *n = &st->c->nodes[i];
        size_t j = i;
        bk__strmap_get(&first, n->desc.digest ? n->desc.digest : "", &j);
        st->node_replay[i] = conflict[j] || (n->parent != CHAIN_NONE && st->node_replay[n->parent]);
    }
    bk__strmap_clear(&first);
    free(conflict);
    return ok;
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
    bk_cache_record *rec = rc == BK_OK ? bk_config_add_record(st->cfg, it->digest) : NULL;
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
        if (!push_walk(&c->stack_down, &n, &c->cap_down, root))
            return -1;
        while (n > 0) {
            bk_chain_item *cur = c->stack_down[--n];
            for (size_t j = 0; j < cur->n_children; j++) {
                bk_chain_item *ch = cur->children[j];
                c->ops++;
                if (ch->mark_down != epoch) {
                    ch->mark_down = epoch;
                    if (!push_walk(&c->stack_down, &n, &c->cap_down, ch))
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
    for (size_t i = 0; i < nl; i++)
        order[i] = i;
    merge_sort(order, tmp, nl, cfg, layer_cmp);
    for (size_t i = 0; i < nl; i++)
        new_layer[order[i]] = i;
    for (size_t i = 0; i < nl; i++) {
        layers[i] = cfg->layers[order[i]];
        if (layers[i].parent != -1)
            layers[i].parent = (int64_t)new_layer[layers[i].parent];
    }
    for (size_t i = 0; i < nr; i++)
        order[i] = i;
    merge_sort(order, tmp, nr, cfg, record_cmp);
    for (size_t i = 0; i < nr; i++)
        new_record[order[i]] = i;
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
        size_t node;
        if (!get_key(st->c, &st->desc_blobs, l->blob ? l->blob : "", &node))
            return bk_err_set(st->err, BK_EINVAL, "missing blob %s", l->blob);
        const bk_descriptor *d = &st->c->nodes[node].desc;
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
    bk__strmap_clear(&st->layer_keys);
    bk__strmap_clear(&st->desc_blobs);
}

bk_code bk_chains_marshal(bk_chains *c, unsigned flags, bk_blob_available_fn available,
                          void *available_ctx, bk_cache_config **out, bk_err *err)
{
    *out = NULL;
    size_t nn = c->n_nodes + 1;
    marshal_state st = {.c = c,
                        .cfg = bk_config_new(),
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
    if (!st.cfg || !st.node_layer || !st.node_ok || !st.node_replay || !st.walk || !st.record_of ||
        !st.path || !mark_replays(&st) || mark_reachable(c) < 0) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory marshaling the cache");
        goto out;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        st.node_layer[i] = CHAIN_NONE;
        st.node_ok[i] = -1;
    }
    for (size_t i = 0; i < c->n_items; i++)
        st.record_of[i] = -2;
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

const bk_descriptor *bk_chains_descriptor(const bk_chains *c, const char *digest)
{
    size_t node;
    if (!bk__strmap_get(&c->last_node, digest, &node))
        return NULL;
    return &c->nodes[node].desc;
}
