/* From a cache config back to cache chains: BuildKit's v1.ParseConfig, with
 * the S3 importer's descriptor rules (makeDescriptorProviderPair). Each
 * layer's chain becomes chain nodes once, however many results share it. */
#include <stdlib.h>
#include <string.h>

#include "cacheconfig_internal.h"
#include "chains_internal.h"
#include "strmap.h"

typedef struct parser {
    const bk_cache_config *cfg;
    const bk_descriptor *descs; /* provider (last one wins per blob) */
    size_t n_descs;
    bk_descriptor *own_descs; /* built from annotations when descs were not given */
    bk__strmap provider;      /* blob digest -> index into descs */
    size_t *layer_node;       /* per layer: its chain's node, CHAIN_NONE (no descriptor)
                                 or UNKNOWN */
    size_t *walk;             /* scratch: one layer chain */
    bk_chains *chains;
    bk_chain_item **items;
    unsigned char *done;
    struct parse_frame *path; /* per record, the records being parsed */
    bk_err *err;
} parser;

#define UNKNOWN (SIZE_MAX - 1)

typedef struct parse_frame {
    size_t idx;
    size_t input, link; /* the next link to follow */
    bk_chain_dep *deps;
    bk_chain_link **links;
    chain_result *results;
} parse_frame;

static const bk_descriptor *provider(parser *p, const char *blob)
{
    size_t i;
    p->chains->ops++;
    if (!blob || !bk__strmap_get(&p->provider, blob, &i))
        return NULL;
    return &p->descs[i];
}

static bk_code index_provider(parser *p)
{
    for (size_t i = 0; i < p->n_descs; i++) {
        if (!p->descs[i].digest)
            continue;
        char *k = strdup(p->descs[i].digest);
        if (!k || !bk__strmap_put(&p->provider, k, i)) {
            free(k);
            return bk_err_set(p->err, BK_ENOMEM, "out of memory parsing the cache config");
        }
    }
    return BK_OK;
}

/* getRemoteChain: the node of layer idx's chain, or CHAIN_NONE when a blob
 * of the chain is unknown to the provider (the result is then dropped).
 * Each layer is resolved once; indexes and loops were checked by
 * bk_config_validate. */
static bk_code layer_chain(parser *p, int64_t idx, size_t *out)
{
    size_t n = 0;
    for (int64_t i = idx; i != -1 && p->layer_node[i] == UNKNOWN; i = p->cfg->layers[i].parent)
        p->walk[n++] = (size_t)i;
    while (n > 0) {
        size_t i = p->walk[--n];
        int64_t parent = p->cfg->layers[i].parent;
        size_t below = parent == -1 ? CHAIN_NONE : p->layer_node[parent];
        const bk_descriptor *d = provider(p, p->cfg->layers[i].blob);
        if (!d || (parent != -1 && below == CHAIN_NONE)) {
            p->layer_node[i] = CHAIN_NONE;
            continue;
        }
        bk_code rc = bk__chains_node(p->chains, d, below, &p->layer_node[i], p->err);
        if (rc != BK_OK)
            return rc;
    }
    /* Every layer is UNKNOWN before the first record is parsed; the walk set idx. */
    /* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): set above */
    *out = p->layer_node[idx];
    return BK_OK;
}

/* An old-form chain (layer indexes, base first): its node, or CHAIN_NONE
 * when a blob is unknown to the provider. */
static bk_code chained_result(parser *p, const bk_chained_result *c, size_t *out)
{
    size_t top = CHAIN_NONE;
    for (size_t j = 0; j < c->n_layers; j++) {
        const bk_descriptor *d = provider(p, p->cfg->layers[c->layers[j]].blob);
        if (!d) {
            *out = CHAIN_NONE;
            return BK_OK;
        }
        bk_code rc = bk__chains_node(p->chains, d, top, &top, p->err);
        if (rc != BK_OK)
            return rc;
    }
    *out = top;
    return BK_OK;
}

/* Starts record idx: the arrays its add takes. */
static bk_code frame_open(parser *p, parse_frame *f, size_t idx)
{
    const bk_cache_record *rec = &p->cfg->records[idx];
    memset(f, 0, sizeof *f);
    f->idx = idx;
    f->deps = calloc(rec->n_inputs ? rec->n_inputs : 1, sizeof *f->deps);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    f->links = calloc(rec->n_inputs ? rec->n_inputs : 1, sizeof *f->links);
    size_t n_res = rec->n_results + rec->n_chains;
    f->results = calloc(n_res ? n_res : 1, sizeof *f->results);
    if (!f->deps || !f->links || !f->results)
        return bk_err_set(p->err, BK_ENOMEM, "out of memory parsing the cache config");
    return BK_OK;
}

/* Ends record idx once every record it links to is parsed: its results, then
 * the record itself. */
static bk_code frame_finish(parser *p, parse_frame *f)
{
    const bk_cache_record *rec = &p->cfg->records[f->idx];
    size_t got = 0;
    bk_code rc = BK_OK;
    for (size_t i = 0; rc == BK_OK && i < rec->n_results; i++) {
        size_t top = CHAIN_NONE;
        rc = layer_chain(p, rec->results[i].layer, &top);
        if (rc == BK_OK && top != CHAIN_NONE)
            f->results[got++] =
                (chain_result){top, p->chains->nodes[top].depth, rec->results[i].created_at};
    }
    for (size_t i = 0; rc == BK_OK && i < rec->n_chains; i++) {
        size_t top = CHAIN_NONE;
        rc = chained_result(p, &rec->chains[i], &top);
        /* An empty chain is a result without layers, as in BuildKit. */
        if (rc == BK_OK && (top != CHAIN_NONE || rec->chains[i].n_layers == 0))
            f->results[got++] =
                (chain_result){top, rec->chains[i].n_layers, rec->chains[i].created_at};
    }
    if (rc == BK_OK) {
        rc = bk__chains_add_nodes(p->chains, rec->digest ? rec->digest : "", f->deps, rec->n_inputs,
                                  f->results, got, &p->items[f->idx], p->err);
        if (rc != BK_OK)
            bk_err_prefix(p->err, "records[%zu]: failed to add record %zu: ", f->idx, f->idx);
    }
    return rc;
}

static void frame_close(parser *p, parse_frame *f)
{
    const bk_cache_record *rec = &p->cfg->records[f->idx];
    p->done[f->idx] = 1;
    for (size_t i = 0; f->links && i < rec->n_inputs; i++)
        free(f->links[i]);
    free(f->links);
    free(f->deps);
    free(f->results);
}

/* Record root after every record it links to, depth first in input and link
 * order, as BuildKit's recursive parse does. The path is an explicit stack: a
 * config from a bucket may chain any number of records, far deeper than the
 * call stack goes. Validation ruled out loops, so a record is on the path at
 * most once and p->path holds n_records frames. */
static bk_code parse_record(parser *p, size_t root)
{
    if (p->done[root])
        return BK_OK;
    size_t depth = 1;
    bk_code rc = frame_open(p, &p->path[0], root);
    while (depth > 0) {
        p->chains->ops++;
        parse_frame *f = &p->path[depth - 1];
        const bk_cache_record *rec = &p->cfg->records[f->idx];
        if (rc == BK_OK && f->input == rec->n_inputs)
            rc = frame_finish(p, f);
        if (rc != BK_OK || f->input == rec->n_inputs) {
            frame_close(p, f);
            depth--;
            continue;
        }
        const bk_input_list *in = &rec->inputs[f->input];
        if (!f->links[f->input]) {
            f->links[f->input] = calloc(in->n_links ? in->n_links : 1, sizeof *f->links[0]);
            if (!f->links[f->input]) {
                rc = bk_err_set(p->err, BK_ENOMEM, "out of memory parsing the cache config");
                continue;
            }
        }
        if (f->link == in->n_links) {
            f->deps[f->input].links = f->links[f->input];
            f->deps[f->input].n_links = in->n_links;
            f->input++;
            f->link = 0;
            continue;
        }
        size_t src = (size_t)in->links[f->link].link;
        if (!p->done[src]) {
            if (depth == p->cfg->n_records) {
                rc = bk_err_set(p->err, BK_EINVAL, "records[%zu]: invalid looping record", src);
                continue;
            }
            rc = frame_open(p, &p->path[depth++], src);
            continue; /* this link again once src is parsed */
        }
        if (!p->items[src])
            /* BuildKit keeps a nil placeholder for a record Add refused
             * (a random: digest) and trips over it as a loop. */
            rc = bk_err_set(p->err, BK_EINVAL,
                            "records[%zu].inputs[%zu][%zu].link: invalid looping record "
                            "(record %zu was not added)",
                            f->idx, f->input, f->link, src);
        f->links[f->input][f->link].src = p->items[src];
        f->links[f->input][f->link].selector = in->links[f->link].selector;
        f->link++;
    }
    return rc;
}

/* makeDescriptorProviderPair for every layer: its annotations describe it. */
static bk_code descriptors_from_annotations(parser *p)
{
    p->own_descs = calloc(p->cfg->n_layers ? p->cfg->n_layers : 1, sizeof *p->own_descs);
    if (!p->own_descs)
        return bk_err_set(p->err, BK_ENOMEM, "out of memory parsing the cache config");
    for (size_t i = 0; i < p->cfg->n_layers; i++) {
        const bk_cache_layer *l = &p->cfg->layers[i];
        bk_descriptor d = {0};
        d.digest = l->blob ? l->blob : "";
        if (l->annotations) {
            d.media_type = l->annotations->media_type;
            d.diff_id = l->annotations->diff_id;
            d.size = l->annotations->size;
            d.created_at = l->annotations->created_at;
            d.has_created_at = !bk_time_is_zero(d.created_at);
        }
        if (bk_descriptor_copy(&p->own_descs[i], &d, p->err) != BK_OK)
            return BK_ENOMEM;
    }
    p->descs = p->own_descs;
    p->n_descs = p->cfg->n_layers;
    return BK_OK;
}

bk_code bk_chains_parse(const bk_cache_config *cfg, const bk_descriptor *descs, size_t n_descs,
                        unsigned flags, bk_chains **out, bk_err *err)
{
    *out = NULL;
    uint64_t ops = 0;
    bk_code rc = bk__config_validate_ops(cfg, flags, &ops, err);
    if (rc != BK_OK)
        return rc;
    size_t nl = cfg->n_layers + 1, nr = cfg->n_records + 1;
    parser p = {.cfg = cfg,
                .descs = descs,
                .n_descs = n_descs,
                .layer_node = malloc(nl * sizeof(size_t)),
                .walk = malloc(nl * sizeof(size_t)),
                .chains = bk_chains_new(),
                .items = calloc(nr, sizeof(bk_chain_item *)),
                .done = calloc(nr, 1),
                .path = calloc(nr, sizeof(parse_frame)),
                .err = err};
    if (!p.layer_node || !p.walk || !p.chains || !p.items || !p.done || !p.path)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory parsing the cache config");
    else
        p.chains->ops += ops;
    for (size_t i = 0; rc == BK_OK && i < cfg->n_layers; i++)
        p.layer_node[i] = UNKNOWN;
    if (rc == BK_OK && !descs)
        rc = descriptors_from_annotations(&p);
    if (rc == BK_OK)
        rc = index_provider(&p);
    for (size_t i = 0; rc == BK_OK && i < cfg->n_records; i++)
        rc = parse_record(&p, i);
    if (p.own_descs) {
        for (size_t i = 0; i < cfg->n_layers; i++)
            bk_descriptor_clear(&p.own_descs[i]);
        free(p.own_descs);
    }
    bk__strmap_clear(&p.provider);
    free(p.layer_node);
    free(p.walk);
    free(p.items);
    free(p.done);
    free(p.path);
    if (rc != BK_OK) {
        bk_chains_free(p.chains);
        return rc;
    }
    *out = p.chains;
    return BK_OK;
}

bk_code bk_chains_normalize(const bk_cache_config *cfg, unsigned validate_flags,
                            unsigned marshal_flags, bk_cache_config **out, bk_err *err)
{
    bk_chains *c = NULL;
    *out = NULL;
    bk_code rc = bk_chains_parse(cfg, NULL, 0, validate_flags, &c, err);
    if (rc == BK_OK)
        rc = bk_chains_marshal(c, marshal_flags, NULL, NULL, out, err);
    bk_chains_free(c);
    return rc;
}
