/* The CacheChains model's Add: record dedup and merge, with the lookups of
 * BuildKit's chains.go as hash lookups (see chains_internal.h), so adding n
 * records costs O(n) of them. Marshal is in chains_marshal.c. */
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

bool bk__chains_push_walk(bk_chain_item ***stack, size_t *n, size_t *cap, bk_chain_item *it)
{
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bk_chain_item **slot = bk__chains_push((void **)stack, n, cap, sizeof *slot);
    if (slot)
        *slot = it;
    return slot != NULL;
}

bk_chains *bk_chains_new(void)
{
    return calloc(1, sizeof(bk_chains));
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
    free(c->blobs);
    free(c->edges);
    free(c->lists);
    free(c->result_refs);
    free(c->stack_down);
    free(c->stack_up);
    bk__hindex_clear(&c->roots);
    bk__hindex_clear(&c->edge_ix);
    bk__hindex_clear(&c->list_ix);
    bk__hindex_clear(&c->result_ix);
    bk__hindex_clear(&c->node_ix);
    bk__hindex_clear(&c->blob_ix);
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

static const char *sel(const char *s)
{
    return s ? s : "";
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- blobs and layer chains ---- */

typedef struct text_probe {
    const bk_chains *c;
    const char *text;
} text_probe;

static bool blob_is(const void *ctx, size_t entry)
{
    const text_probe *p = ctx;
    return strcmp(p->c->blobs[entry].digest, p->text) == 0;
}

size_t bk__chains_blob(const bk_chains *c, const char *digest)
{
    text_probe p = {c, sel(digest)};
    size_t e;
    if (!bk__hindex_find(&c->blob_ix, bk__hash_str(BK__HASH_INIT, p.text), blob_is, &p, &e))
        return CHAIN_NONE;
    return e;
}

bool bk__chains_same_desc(const bk_descriptor *a, const bk_descriptor *b)
{
    return same_str(a->digest, b->digest) && same_str(a->media_type, b->media_type) &&
           same_str(a->diff_id, b->diff_id) && a->size == b->size &&
           a->has_created_at == b->has_created_at && a->created_at.sec == b->created_at.sec &&
           a->created_at.nsec == b->created_at.nsec &&
           a->created_at.offset_min == b->created_at.offset_min;
}

typedef struct node_probe {
    const bk_chains *c;
    const bk_descriptor *d;
    size_t parent;
} node_probe;

static bool node_is(const void *ctx, size_t entry)
{
    const node_probe *p = ctx;
    const chain_node *n = &p->c->nodes[entry];
    return n->parent == p->parent && bk__chains_same_desc(&n->desc, p->d);
}

static uint64_t node_hash(const bk_descriptor *d, size_t parent)
{
    uint64_t h = bk__hash_u64(BK__HASH_INIT, parent);
    h = bk__hash_str(h, d->digest);
    h = bk__hash_str(h, d->media_type);
    h = bk__hash_str(h, d->diff_id);
    h = bk__hash_u64(h, (uint64_t)d->size);
    h = bk__hash_u64(h, (uint64_t)d->created_at.sec);
    h = bk__hash_u64(h, (uint64_t)d->created_at.nsec << 32 | (uint32_t)d->created_at.offset_min);
    return bk__hash_u64(h, d->has_created_at);
}

/* The node's blob entry, made on its first node; the newest node wins. */
static bk_code note_blob(bk_chains *c, size_t node, bk_err *err)
{
    chain_node *n = &c->nodes[node];
    const char *digest = sel(n->desc.digest);
    size_t b = bk__chains_blob(c, digest);
    if (b == CHAIN_NONE) {
        chain_blob *e = bk__chains_push((void **)&c->blobs, &c->n_blobs, &c->cap_blobs, sizeof *e);
        if (!e ||
            !bk__hindex_add(&c->blob_ix, bk__hash_str(BK__HASH_INIT, digest), c->n_blobs - 1)) {
            if (e)
                c->n_blobs--;
            return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
        }
        e->digest = digest;
        b = c->n_blobs - 1;
    }
    c->blobs[b].node = node;
    n->blob = b;
    return BK_OK;
}

bk_code bk__chains_node(bk_chains *c, const bk_descriptor *d, size_t parent, size_t *out,
                        bk_err *err)
{
    node_probe p = {c, d, parent};
    uint64_t h = node_hash(d, parent);
    c->ops++;
    if (bk__hindex_find(&c->node_ix, h, node_is, &p, out))
        return BK_OK;
    chain_node *n = bk__chains_push((void **)&c->nodes, &c->n_nodes, &c->cap_nodes, sizeof *n);
    if (!n)
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    if (bk_descriptor_copy(&n->desc, d, err) != BK_OK) {
        c->n_nodes--;
        return BK_ENOMEM;
    }
    n->parent = parent;
    n->depth = parent == CHAIN_NONE ? 1 : c->nodes[parent].depth + 1;
    size_t node = c->n_nodes - 1;
    if (!bk__hindex_add(&c->node_ix, h, node)) {
        bk_descriptor_clear(&n->desc);
        c->n_nodes--;
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    }
    *out = node;
    return note_blob(c, node, err);
}

/* The nodes of a descriptor chain, base first, into a result. */
static bk_code intern_result(bk_chains *c, const bk_chain_result *r, chain_result *out, bk_err *err)
{
    out->top = CHAIN_NONE;
    out->n_layers = r->n_layers;
    out->created_at = r->created_at;
    bk_code rc = BK_OK;
    for (size_t i = 0; rc == BK_OK && i < r->n_layers; i++)
        rc = bk__chains_node(c, &r->layers[i], out->top, &out->top, err);
    return rc;
}

const bk_descriptor *bk_chains_descriptor(const bk_chains *c, const char *digest)
{
    size_t b = bk__chains_blob(c, digest);
    return b == CHAIN_NONE ? NULL : &c->nodes[c->blobs[b].node].desc;
}

/* ---- items ---- */

static bk_chain_item *new_item(bk_chains *c, const char *digest, bk_err *err)
{
    bk_chain_item *it = calloc(1, sizeof *it);
    char *dup = strdup(digest);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    size_t slot_size = sizeof(bk_chain_item *);
    bk_chain_item **slot =
        it && dup ? bk__chains_push((void **)&c->items, &c->n_items, &c->cap_items, slot_size)
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

typedef struct result_probe {
    const bk_chains *c;
    size_t item;
    const chain_result *r;
} result_probe;

static bool result_is(const void *ctx, size_t entry)
{
    const result_probe *p = ctx;
    const chain_result_ref *ref = &p->c->result_refs[entry];
    if (ref->item != p->item)
        return false;
    const chain_result *r = &p->c->items[ref->item]->results[ref->result];
    return bk_time_compare(r->created_at, p->r->created_at) == 0 && r->n_layers == p->r->n_layers;
}

/* item.addResult: BuildKit treats a result as already present when one with
 * the same createdAt and the same number of layers exists (its digest loop
 * never rejects a candidate), so that is the rule here too. */
static bk_code add_result(bk_chains *c, bk_chain_item *it, const chain_result *r, bk_err *err)
{
    uint64_t h = bk__hash_u64(BK__HASH_INIT, it->id);
    h = bk__hash_u64(h, (uint64_t)r->created_at.sec);
    h = bk__hash_u64(h, (uint64_t)r->created_at.nsec);
    h = bk__hash_u64(h, r->n_layers);
    result_probe p = {c, it->id, r};
    size_t e;
    c->ops++;
    if (bk__hindex_find(&c->result_ix, h, result_is, &p, &e))
        return BK_OK;
    chain_result_ref *ref = bk__chains_push((void **)&c->result_refs, &c->n_result_refs,
                                            &c->cap_result_refs, sizeof *ref);
    chain_result *dst =
        ref ? bk__chains_push((void **)&it->results, &it->n_results, &it->cap_results, sizeof *dst)
            : NULL;
    if (!dst || !bk__hindex_add(&c->result_ix, h, c->n_result_refs - 1))
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    *dst = *r;
    ref->item = it->id;
    ref->result = it->n_results - 1;
    return BK_OK;
}

/* ---- edges and candidate lists ---- */

typedef struct edge_probe {
    const bk_chains *c;
    size_t src, child, index;
    const char *selector;
} edge_probe;

static uint64_t edge_hash(size_t src, size_t child, size_t index, const char *selector)
{
    uint64_t h = bk__hash_u64(BK__HASH_INIT, src);
    h = bk__hash_u64(h, child);
    h = bk__hash_u64(h, index);
    return bk__hash_str(h, sel(selector));
}

static bool edge_is(const void *ctx, size_t entry)
{
    const edge_probe *p = ctx;
    const chain_edge *e = &p->c->edges[entry];
    return e->src == p->src && e->child == p->child && e->index == p->index &&
           strcmp(e->selector, sel(p->selector)) == 0;
}

static bool has_edge(bk_chains *c, size_t src, size_t child, size_t index, const char *selector)
{
    edge_probe p = {c, src, child, index, selector};
    size_t e;
    c->ops++;
    return bk__hindex_find(&c->edge_ix, edge_hash(src, child, index, selector), edge_is, &p, &e);
}

typedef struct list_probe {
    const bk_chains *c;
    size_t src, index;
    const char *selector, *digest;
} list_probe;

static uint64_t list_hash(size_t src, size_t index, const char *selector, const char *digest)
{
    uint64_t h = bk__hash_u64(BK__HASH_INIT, src);
    h = bk__hash_u64(h, index);
    h = bk__hash_str(h, sel(selector));
    return bk__hash_str(h, digest);
}

static bool list_is(const void *ctx, size_t entry)
{
    const list_probe *p = ctx;
    const chain_list *l = &p->c->lists[entry];
    return l->src == p->src && l->index == p->index && strcmp(l->selector, sel(p->selector)) == 0 &&
           strcmp(l->digest, p->digest) == 0;
}

/* The candidate list of children with digest under (src, index, selector). */
static size_t find_list(bk_chains *c, size_t src, size_t index, const char *selector,
                        const char *digest)
{
    list_probe p = {c, src, index, selector, digest};
    size_t e;
    c->ops++;
    if (!bk__hindex_find(&c->list_ix, list_hash(src, index, selector, digest), list_is, &p, &e))
        return CHAIN_NONE;
    return e;
}

static bk_code add_parent(bk_chain_item *child, bk_chain_item *src, size_t index,
                          const char *selector, const char **stored, bk_err *err)
{
    while (index >= child->n_parents) {
        chain_parent_set *grown =
            realloc(child->parents, (child->n_parents + 1) * sizeof *child->parents);
        if (!grown)
            return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
        child->parents = grown;
        child->parents[child->n_parents++] = (chain_parent_set){0};
    }
    chain_parent_set *set = &child->parents[index];
    char *s = strdup(sel(selector));
    chain_parent *p =
        s ? bk__chains_push((void **)&set->links, &set->n, &set->cap, sizeof *p) : NULL;
    if (!p) {
        free(s);
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    }
    p->src = src;
    p->selector = s;
    *stored = s;
    return BK_OK;
}

/* The edge's candidate list (made when it is the first of its list), with
 * the edge put at its head. */
static bk_code list_edge(bk_chains *c, size_t edge, const char *digest, bk_err *err)
{
    const chain_edge *e = &c->edges[edge];
    size_t li = find_list(c, e->src, e->index, e->selector, digest);
    if (li == CHAIN_NONE) {
        chain_list *l = bk__chains_push((void **)&c->lists, &c->n_lists, &c->cap_lists, sizeof *l);
        if (!l || !bk__hindex_add(&c->list_ix, list_hash(e->src, e->index, e->selector, digest),
                                  c->n_lists - 1))
            return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
        *l = (chain_list){e->src, e->index, e->selector, digest, CHAIN_NONE, 0};
        li = c->n_lists - 1;
    }
    c->edges[edge].next = c->lists[li].head;
    c->lists[li].head = edge;
    c->lists[li].len++;
    return BK_OK;
}

/* item.addChild on src: records that `child` uses src at input index (once). */
static bk_code add_child(bk_chains *c, bk_chain_item *src, bk_chain_item *child, size_t index,
                         const char *selector, bk_err *err)
{
    if (has_edge(c, src->id, child->id, index, selector))
        return BK_OK;
    const char *stored = NULL;
    if (add_parent(child, src, index, selector, &stored, err) != BK_OK)
        return BK_ENOMEM;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    size_t child_size = sizeof(bk_chain_item *);
    bk_chain_item **ch =
        bk__chains_push((void **)&src->children, &src->n_children, &src->cap_children, child_size);
    chain_edge *e =
        ch ? bk__chains_push((void **)&c->edges, &c->n_edges, &c->cap_edges, sizeof *e) : NULL;
    if (!e ||
        !bk__hindex_add(&c->edge_ix, edge_hash(src->id, child->id, index, stored), c->n_edges - 1))
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    *ch = child;
    *e = (chain_edge){src->id, child->id, index, stored, CHAIN_NONE};
    return list_edge(c, c->n_edges - 1, child->digest, err);
}

/* ---- matching a new record against existing ones ---- */

/* The links of the record being added, by (input, source, selector), for
 * has_link: entries are the links' positions. */
typedef struct link_set {
    bk__hindex ix;
    size_t *input, *link;
    const bk_chain_dep *deps;
} link_set;

typedef struct link_probe {
    const link_set *s;
    size_t index, src;
    const char *selector;
} link_probe;

static uint64_t link_hash(size_t index, size_t src, const char *selector)
{
    uint64_t h = bk__hash_u64(BK__HASH_INIT, index);
    h = bk__hash_u64(h, src);
    return bk__hash_str(h, sel(selector));
}

static bool link_is(const void *ctx, size_t entry)
{
    const link_probe *p = ctx;
    size_t i = p->s->input[entry];
    const bk_chain_link *l = &p->s->deps[i].links[p->s->link[entry]];
    return i == p->index && l->src->id == p->src && strcmp(sel(l->selector), p->selector) == 0;
}

/* Indexes deps' links; only needed when some input has more than one. */
static bool index_links(bk_chains *c, link_set *s, const bk_chain_dep *deps, size_t n_deps)
{
    size_t total = 0;
    bool several = false;
    for (size_t i = 0; i < n_deps; i++) {
        total += deps[i].n_links;
        several = several || deps[i].n_links > 1;
    }
    s->deps = deps;
    if (!several)
        return true;
    s->input = malloc(total * sizeof *s->input);
    s->link = malloc(total * sizeof *s->link);
    if (!s->input || !s->link)
        return false;
    size_t e = 0;
    for (size_t i = 0; i < n_deps; i++) {
        for (size_t j = 0; j < deps[i].n_links; j++, e++) {
            s->input[e] = i;
            s->link[e] = j;
            c->ops++;
            if (!bk__hindex_add(
                    &s->ix, link_hash(i, deps[i].links[j].src->id, deps[i].links[j].selector), e))
                return false;
        }
    }
    return true;
}

static void link_set_clear(link_set *s)
{
    bk__hindex_clear(&s->ix);
    free(s->input);
    free(s->link);
}

/* Whether candidate it has one of dep's links at input index, walking the
 * smaller side: each link looked up as an edge into it, or each of its
 * parents there looked up among the links. */
static bool has_link(bk_chains *c, const bk_chain_item *it, const bk_chain_dep *dep, size_t index,
                     const link_set *links)
{
    if (index >= it->n_parents)
        return false;
    const chain_parent_set *set = &it->parents[index];
    size_t e;
    if (set->n < dep->n_links) {
        for (size_t i = 0; i < set->n; i++) {
            const chain_parent *par = &set->links[i];
            link_probe p = {links, index, par->src->id, par->selector};
            c->ops++;
            if (bk__hindex_find(&links->ix, link_hash(index, par->src->id, par->selector), link_is,
                                &p, &e))
                return true;
        }
        return false;
    }
    for (size_t j = 0; j < dep->n_links; j++)
        if (has_edge(c, dep->links[j].src->id, it->id, index, dep->links[j].selector))
            return true;
    return false;
}

/* CacheChains.Add's match: the oldest item with the digest that, for every
 * input, already has one of that input's links. Candidates come from the
 * input whose candidate lists are shortest (BuildKit intersects them all);
 * each is then checked against the other inputs. NULL: none. */
static bk_chain_item *find_match(bk_chains *c, const char *digest, const bk_chain_dep *deps,
                                 size_t n_deps, const link_set *links)
{
    size_t best = 0, best_len = SIZE_MAX;
    for (size_t i = 0; i < n_deps && best_len; i++) {
        size_t len = 0;
        for (size_t j = 0; j < deps[i].n_links; j++) {
            const bk_chain_link *l = &deps[i].links[j];
            size_t li = find_list(c, l->src->id, i, l->selector, digest);
            len += li == CHAIN_NONE ? 0 : c->lists[li].len;
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
        const bk_chain_link *l = &deps[best].links[j];
        size_t li = find_list(c, l->src->id, best, l->selector, digest);
        for (size_t e = li == CHAIN_NONE ? CHAIN_NONE : c->lists[li].head; e != CHAIN_NONE;
             e = c->edges[e].next) {
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

/* Whether `to` is `from` or one of its descendants (reachable through
 * children). Two walks in lockstep, down from `from` and up from `to`, stop
 * when they meet or when either runs out, so the answer costs about the
 * smaller of the two regions. 1 yes, 0 no, -1 out of memory. */
static int reaches(bk_chains *c, bk_chain_item *from, bk_chain_item *to)
{
    if (from == to)
        return 1;
    uint64_t epoch = ++c->epoch;
    size_t nd = 0, nu = 0;
    from->mark_down = epoch;
    to->mark_up = epoch;
    if (!bk__chains_push_walk(&c->stack_down, &nd, &c->cap_down, from) ||
        !bk__chains_push_walk(&c->stack_up, &nu, &c->cap_up, to))
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
                if (!bk__chains_push_walk(&c->stack_down, &nd, &c->cap_down, ch))
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
                    if (!bk__chains_push_walk(&c->stack_up, &nu, &c->cap_up, p))
                        return -1;
                }
            }
        }
    }
    return 0;
}

/* Links every source of deps to r. When r was an existing record (merged),
 * a new link whose source r already reaches through its children would
 * close a loop: BuildKit drops those, and so does this. */
static bk_code link_sources(bk_chains *c, bk_chain_item *r, bool merged, const bk_chain_dep *deps,
                            size_t n_deps, bk_err *err)
{
    for (size_t i = 0; i < n_deps; i++) {
        for (size_t j = 0; j < deps[i].n_links; j++) {
            const bk_chain_link *l = &deps[i].links[j];
            if (merged && !has_edge(c, l->src->id, r->id, i, l->selector)) {
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

/* ---- Add ---- */

static bool root_is(const void *ctx, size_t entry)
{
    const text_probe *p = ctx;
    return strcmp(p->c->items[entry]->digest, p->text) == 0;
}

static bk_code add_results(bk_chains *c, bk_chain_item *it, const chain_result *results,
                           size_t n_results, bk_err *err)
{
    bk_code rc = BK_OK;
    for (size_t i = 0; rc == BK_OK && i < n_results; i++)
        rc = add_result(c, it, &results[i], err);
    return rc;
}

/* A record without inputs: one item per digest. */
static bk_code add_root(bk_chains *c, const char *digest, const chain_result *results,
                        size_t n_results, bk_chain_item **out, bk_err *err)
{
    text_probe p = {c, digest};
    uint64_t h = bk__hash_str(BK__HASH_INIT, digest);
    size_t id;
    bk_chain_item *it = NULL;
    c->ops++;
    if (bk__hindex_find(&c->roots, h, root_is, &p, &id)) {
        it = c->items[id];
    } else {
        if (!(it = new_item(c, digest, err)))
            return BK_ENOMEM;
        it->is_root = true;
        if (!bk__hindex_add(&c->roots, h, it->id))
            return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
    }
    bk_code rc = add_results(c, it, results, n_results, err);
    if (rc == BK_OK)
        *out = it;
    return rc;
}

bk_code bk__chains_add_nodes(bk_chains *c, const char *digest, const bk_chain_dep *deps,
                             size_t n_deps, const chain_result *results, size_t n_results,
                             bk_chain_item **out, bk_err *err)
{
    *out = NULL;
    if (strncmp(digest, "random:", 7) == 0)
        return BK_OK;
    if (n_deps == 0)
        return add_root(c, digest, results, n_results, out, err);
    for (size_t i = 0; i < n_deps; i++)
        if (deps[i].n_links == 0)
            return bk_err_set(err, BK_EINVAL, "empty dependency for %s (input %zu)", digest, i);

    link_set links = {0};
    bk_code rc = BK_OK;
    bk_chain_item *r = NULL;
    if (!index_links(c, &links, deps, n_deps))
        rc = bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
    else
        r = find_match(c, digest, deps, n_deps, &links);
    link_set_clear(&links);
    bool merged = r != NULL;
    if (rc == BK_OK && !r && !(r = new_item(c, digest, err)))
        rc = BK_ENOMEM;
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
