/* The CacheChains model: Add (record dedup and merge), Marshal (records and
 * layer chains from the leaves, depth first) and the deterministic sort with
 * index rewriting (BuildKit's sortConfig). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains_internal.h"
#include "strmap.h"

/* ---- items ---- */

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void *grow(void **arr, size_t *n, size_t sz)
{
    void *p = realloc(*arr, (*n + 1) * sz);
    if (!p)
        return NULL;
    *arr = p;
    void *el = (char *)p + *n * sz;
    memset(el, 0, sz);
    (*n)++;
    return el;
}

bk_chains *bk_chains_new(void)
{
    return calloc(1, sizeof(bk_chains));
}

static void free_result(chain_result *r)
{
    for (size_t i = 0; i < r->n_layers; i++)
        bk_descriptor_clear(&r->layers[i]);
    free(r->layers);
}

void bk_chains_free(bk_chains *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_items; i++) {
        bk_chain_item *it = c->items[i];
        free(it->digest);
        for (size_t j = 0; j < it->n_children; j++)
            free(it->children[j].selector);
        free(it->children);
        for (size_t j = 0; j < it->n_parents; j++) {
            for (size_t k = 0; k < it->parents[j].n; k++)
                free(it->parents[j].links[k].selector);
            free(it->parents[j].links);
        }
        free(it->parents);
        for (size_t j = 0; j < it->n_results; j++)
            free_result(&it->results[j]);
        free(it->results);
        free(it);
    }
    free(c->items);
    free(c);
}

size_t bk_chains_count(const bk_chains *c)
{
    return c->n_items;
}

static bk_chain_item *new_item(bk_chains *c, const char *digest, bk_err *err)
{
    bk_chain_item *it = calloc(1, sizeof *it);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bk_chain_item **slot = it ? grow((void **)&c->items, &c->n_items, sizeof *slot) : NULL;
    if (!slot) {
        free(it);
        bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
        return NULL;
    }
    *slot = it;
    it->id = c->n_items - 1;
    it->digest = strdup(digest);
    if (!it->digest) {
        bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
        return NULL;
    }
    return it;
}

/* item.addResult: BuildKit treats a result as already present when one with
 * the same createdAt and the same number of layers exists (its digest loop
 * never rejects a candidate), so that is the rule here too. */
static bk_code add_result(bk_chains *c, bk_chain_item *it, const bk_chain_result *r, bk_err *err)
{
    for (size_t i = 0; i < it->n_results; i++) {
        if (bk_time_compare(it->results[i].created_at, r->created_at) == 0 &&
            it->results[i].n_layers == r->n_layers)
            return BK_OK;
    }
    chain_result *dst = grow((void **)&it->results, &it->n_results, sizeof *dst);
    if (!dst)
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
    dst->created_at = r->created_at;
    dst->order = c->n_results_added++;
    if (r->n_layers) {
        dst->layers = calloc(r->n_layers, sizeof *dst->layers);
        if (!dst->layers)
            return bk_err_set(err, BK_ENOMEM, "out of memory adding a result");
        dst->n_layers = r->n_layers;
        for (size_t i = 0; i < r->n_layers; i++)
            if (bk_descriptor_copy(&dst->layers[i], &r->layers[i], err) != BK_OK)
                return err ? err->code : BK_ENOMEM;
    }
    return BK_OK;
}

/* item.addChild on src: records that `child` uses src at input index. */
static bk_code add_child(bk_chain_item *src, bk_chain_item *child, size_t index,
                         const char *selector, bk_err *err)
{
    for (size_t i = 0; i < src->n_children; i++) {
        chain_child *ch = &src->children[i];
        if (ch->child == child && ch->index == index && str_eq(ch->selector, selector))
            return BK_OK;
    }
    chain_child *ch = grow((void **)&src->children, &src->n_children, sizeof *ch);
    if (!ch)
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    ch->child = child;
    ch->index = index;
    ch->selector = strdup(selector ? selector : "");
    while (index >= child->n_parents)
        if (!grow((void **)&child->parents, &child->n_parents, sizeof(chain_parent_set)))
            return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    chain_parent_set *set = &child->parents[index];
    for (size_t i = 0; i < set->n; i++)
        if (set->links[i].src == src && str_eq(set->links[i].selector, selector))
            return BK_OK;
    chain_parent *p = grow((void **)&set->links, &set->n, sizeof *p);
    if (!p || !ch->selector)
        return bk_err_set(err, BK_ENOMEM, "out of memory linking records");
    p->src = src;
    p->selector = strdup(selector ? selector : "");
    return p->selector ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory linking records");
}

/* Marks every item reachable through children from it (it included). The
 * stack is explicit: chains parsed from a bucket may be any number deep. Each
 * item is pushed once, when marked, so n_items entries are enough. */
static bool walk_children(const bk_chain_item *it, unsigned char *seen, size_t n_items)
{
    if (seen[it->id])
        return true;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    const bk_chain_item **stack = malloc((n_items ? n_items : 1) * sizeof *stack);
    if (!stack)
        return false;
    size_t n = 0;
    seen[it->id] = 1;
    stack[n++] = it;
    while (n > 0) {
        const bk_chain_item *cur = stack[--n];
        for (size_t i = 0; i < cur->n_children; i++) {
            const bk_chain_item *child = cur->children[i].child;
            if (!seen[child->id]) {
                seen[child->id] = 1;
                stack[n++] = child;
            }
        }
    }
    free(stack);
    return true;
}

bk_code bk_chains_add(bk_chains *c, const char *digest, const bk_chain_dep *deps, size_t n_deps,
                      const bk_chain_result *results, size_t n_results, bk_chain_item **out,
                      bk_err *err)
{
    *out = NULL;
    if (strncmp(digest, "random:", 7) == 0)
        return BK_OK;
    if (n_deps == 0) {
        bk_chain_item *it = NULL;
        for (size_t i = 0; i < c->n_items && !it; i++)
            if (c->items[i]->is_root && strcmp(c->items[i]->digest, digest) == 0)
                it = c->items[i];
        if (!it && !(it = new_item(c, digest, err)))
            return err ? err->code : BK_ENOMEM;
        it->is_root = true;
        for (size_t i = 0; i < n_results; i++)
            if (add_result(c, it, &results[i], err) != BK_OK)
                return err ? err->code : BK_ENOMEM;
        *out = it;
        return BK_OK;
    }
    for (size_t i = 0; i < n_deps; i++)
        if (deps[i].n_links == 0)
            return bk_err_set(err, BK_EINVAL, "empty dependency for %s (input %zu)", digest, i);

    /* An existing record matches when, for every input, one of its links'
     * sources already has it as a child under the same (selector, input,
     * digest). Candidates are kept as a per-item count of matched inputs. */
    size_t *hits = calloc(c->n_items ? c->n_items : 1, sizeof *hits);
    unsigned char *mark = calloc(c->n_items ? c->n_items : 1, 1);
    if (!hits || !mark) {
        free(hits);
        free(mark);
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
    }
    for (size_t i = 0; i < n_deps; i++) {
        memset(mark, 0, c->n_items);
        for (size_t j = 0; j < deps[i].n_links; j++) {
            const bk_chain_item *src = deps[i].links[j].src;
            for (size_t k = 0; k < src->n_children; k++) {
                const chain_child *ch = &src->children[k];
                if (ch->index == i && str_eq(ch->selector, deps[i].links[j].selector) &&
                    strcmp(ch->child->digest, digest) == 0)
                    mark[ch->child->id] = 1;
            }
        }
        for (size_t k = 0; k < c->n_items; k++)
            if (mark[k])
                hits[k]++;
    }
    bk_chain_item *r = NULL;
    for (size_t k = 0; k < c->n_items && !r; k++)
        if (hits[k] == n_deps)
            r = c->items[k]; /* the oldest match; see the report on merges */
    free(hits);

    /* Links whose source already depends on r would close a loop: skip them. */
    unsigned char *skip_src = NULL;
    if (r) {
        for (size_t i = 0; i < n_results; i++)
            if (add_result(c, r, &results[i], err) != BK_OK) {
                free(mark);
                return err ? err->code : BK_ENOMEM;
            }
        memset(mark, 0, c->n_items);
        if (!walk_children(r, mark, c->n_items)) {
            free(mark);
            return bk_err_set(err, BK_ENOMEM, "out of memory adding a cache record");
        }
        skip_src = mark;
    } else {
        free(mark);
        mark = NULL;
        if (!(r = new_item(c, digest, err)))
            return err ? err->code : BK_ENOMEM;
        for (size_t i = 0; i < n_results; i++)
            if (add_result(c, r, &results[i], err) != BK_OK)
                return err ? err->code : BK_ENOMEM;
    }
    bk_code rc = BK_OK;
    for (size_t i = 0; i < n_deps && rc == BK_OK; i++) {
        for (size_t j = 0; j < deps[i].n_links && rc == BK_OK; j++) {
            bk_chain_item *src = deps[i].links[j].src;
            if (skip_src && src->id < c->n_items && skip_src[src->id])
                continue;
            rc = add_child(src, r, i, deps[i].links[j].selector, err);
        }
    }
    free(mark);
    if (rc == BK_OK)
        *out = r;
    return rc;
}

/* ---- marshal ---- */

typedef struct marshal_state {
    bk_cache_config *cfg;
    bk__strmap chains_by_id; /* chain id -> layer index */
    bk__strmap desc_by_blob; /* blob digest -> index into descs */
    const bk_descriptor **descs;
    size_t n_descs;
    long *record_of;            /* per item: -2 unseen, -1 in progress, else record index */
    struct marshal_frame *path; /* per item, the items being marshaled */
    bk_blob_available_fn available;
    void *available_ctx;
    bk_err *err;
} marshal_state;

/* One step of marshalRemote: the chain id of desc on top of the chain
 * parent_id (consumed), in a malloc'd string, or NULL on ENOMEM. */
static char *marshal_layer(marshal_state *st, const bk_descriptor *desc, char *parent_id)
{
    size_t di;
    if (bk__strmap_get(&st->desc_by_blob, desc->digest, &di)) {
        st->descs[di] = desc; /* the last one seen wins, as in BuildKit */
    } else {
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        const bk_descriptor **nd = realloc(st->descs, (st->n_descs + 1) * sizeof *nd);
        char *key = strdup(desc->digest);
        if (!nd || !key || !bk__strmap_put(&st->desc_by_blob, key, st->n_descs)) {
            if (nd)
                st->descs = nd;
            free(key);
            free(parent_id);
            return NULL;
        }
        st->descs = nd;
        st->descs[st->n_descs++] = desc;
    }
    size_t id_len = strlen(desc->digest) + strlen(parent_id);
    char *id = malloc(id_len + 1);
    if (!id) {
        free(parent_id);
        return NULL;
    }
    snprintf(id, id_len + 1, "%s%s", desc->digest, parent_id);
    size_t idx;
    if (bk__strmap_get(&st->chains_by_id, id, &idx)) {
        free(parent_id);
        return id;
    }
    int64_t parent = -1;
    if (*parent_id && bk__strmap_get(&st->chains_by_id, parent_id, &idx))
        parent = (int64_t)idx;
    free(parent_id);
    char *key = strdup(id);
    if (!key || !bk__strmap_put(&st->chains_by_id, key, st->cfg->n_layers)) {
        free(key); /* a failed put leaves the key with the caller */
        free(id);
        return NULL;
    }
    if (!bk_config_add_layer(st->cfg, desc->digest, parent)) {
        free(id);
        return NULL;
    }
    return id;
}

/* marshalRemote: the layer chain for layers[0..n), returning its chain id
 * ("" when a blob is unavailable) in a malloc'd string, or NULL on ENOMEM.
 * BuildKit recurses from the top layer; the base goes first either way. */
static char *marshal_remote(marshal_state *st, const bk_descriptor *layers, size_t n)
{
    if (st->available) {
        for (size_t i = 0; i < n; i++)
            if (!st->available(st->available_ctx, &layers[i]))
                return strdup("");
    }
    char *id = strdup("");
    for (size_t i = 0; i < n && id; i++)
        id = marshal_layer(st, &layers[i], id);
    return id;
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
    if (res) {
        char *id = marshal_remote(st, res->layers, res->n_layers);
        if (!id) {
            rc = bk_err_set(st->err, BK_ENOMEM, "out of memory marshaling layers");
        } else {
            size_t idx;
            if (*id && bk__strmap_get(&st->chains_by_id, id, &idx))
                layer = (int64_t)idx;
            free(id);
        }
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
        size_t di;
        /* The map holds indexes into descs (n_descs of them). */
        if (!bk__strmap_get(&st->desc_by_blob, l->blob, &di) || di >= st->n_descs)
            return bk_err_set(st->err, BK_EINVAL, "missing blob %s", l->blob);
        const bk_descriptor *d = st->descs[di];
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

bk_code bk_chains_marshal(bk_chains *c, unsigned flags, bk_blob_available_fn available,
                          void *available_ctx, bk_cache_config **out, bk_err *err)
{
    *out = NULL;
    marshal_state st = {.cfg = bk_config_new(),
                        .record_of = malloc((c->n_items + 1) * sizeof(long)),
                        .path = calloc(c->n_items + 1, sizeof(marshal_frame)),
                        .available = available,
                        .available_ctx = available_ctx,
                        .err = err};
    unsigned char *seen = calloc(c->n_items + 1, 1);
    bk_code rc = BK_OK;
    if (!st.cfg || !st.record_of || !st.path || !seen) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory marshaling the cache");
        goto out;
    }
    for (size_t i = 0; i < c->n_items; i++)
        st.record_of[i] = -2;
    /* Leaves (records nothing depends on) reachable from the roots, in
     * creation order; each is marshaled with its inputs first. */
    for (size_t i = 0; i < c->n_items && rc == BK_OK; i++)
        if (c->items[i]->is_root && !walk_children(c->items[i], seen, c->n_items))
            rc = bk_err_set(err, BK_ENOMEM, "out of memory marshaling the cache");
    for (size_t i = 0; i < c->n_items && rc == BK_OK; i++)
        if (seen[i] && c->items[i]->n_children == 0)
            rc = marshal_item(&st, c->items[i]);
    if (rc == BK_OK)
        rc = sort_config(st.cfg, err);
    if (rc == BK_OK && (flags & BK_MARSHAL_ANNOTATIONS))
        rc = fill_annotations(&st);
out:
    free(seen);
    free(st.record_of);
    free(st.path);
    free(st.descs);
    bk__strmap_clear(&st.chains_by_id);
    bk__strmap_clear(&st.desc_by_blob);
    if (rc != BK_OK) {
        bk_config_free(st.cfg);
        return rc;
    }
    *out = st.cfg;
    return BK_OK;
}

const bk_descriptor *bk_chains_descriptor(const bk_chains *c, const char *digest)
{
    const bk_descriptor *found = NULL;
    for (size_t i = 0; i < c->n_items; i++) {
        const bk_chain_item *it = c->items[i];
        for (size_t j = 0; j < it->n_results; j++)
            for (size_t k = 0; k < it->results[j].n_layers; k++)
                if (strcmp(it->results[j].layers[k].digest, digest) == 0)
                    found = &it->results[j].layers[k];
    }
    return found;
}
