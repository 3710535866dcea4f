/* Tie groups of a marshalled cache config: find them, order them canonically
 * or rotate them, and compare manifests up to their order. A group is a run
 * of neighbours that BuildKit's sort cannot tell apart: consecutive layers
 * with the same blob, consecutive links of one input with the same index. */
#include "ties.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int layer_valid(const bk_cache_config *cfg, int64_t i)
{
    return i >= 0 && (uint64_t)i < cfg->n_layers;
}

/* ---- permutations ---- */

/* Every index into layers must name a layer (parents may also be -1). */
static bk_code check_layer_indexes(const bk_cache_config *cfg, bk_err *err)
{
    for (size_t i = 0; i < cfg->n_layers; i++)
        if (cfg->layers[i].parent != -1 && !layer_valid(cfg, cfg->layers[i].parent))
            return bk_err_set(err, BK_EINVAL, "layers[%zu].parent: index out of range", i);
    for (size_t r = 0; r < cfg->n_records; r++) {
        const bk_cache_record *rec = &cfg->records[r];
        for (size_t k = 0; k < rec->n_results; k++)
            if (!layer_valid(cfg, rec->results[k].layer))
                return bk_err_set(err, BK_EINVAL, "records[%zu].layers[%zu]: index out of range", r,
                                  k);
        for (size_t k = 0; k < rec->n_chains; k++)
            for (size_t l = 0; l < rec->chains[k].n_layers; l++)
                if (!layer_valid(cfg, rec->chains[k].layers[l]))
                    return bk_err_set(err, BK_EINVAL,
                                      "records[%zu].chains[%zu].layers[%zu]: index out of range", r,
                                      k, l);
    }
    return BK_OK;
}

/* Reorders layers so that new position i holds old layer order[i], and
 * rewrites every index that pointed at a moved layer. */
static bk_code apply_layer_order(bk_cache_config *cfg, const size_t *order, bk_err *err)
{
    size_t n = cfg->n_layers, slots = n ? n : 1; /* malloc(0) may answer NULL */
    bk_cache_layer *moved = malloc(slots * sizeof *moved);
    int64_t *pos = malloc(slots * sizeof *pos);
    if (moved == NULL || pos == NULL) {
        free(moved);
        free(pos);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        moved[i] = cfg->layers[order[i]];
        pos[order[i]] = (int64_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        cfg->layers[i] = moved[i];
        if (cfg->layers[i].parent >= 0)
            cfg->layers[i].parent = pos[cfg->layers[i].parent];
    }
    for (size_t r = 0; r < cfg->n_records; r++) {
        bk_cache_record *rec = &cfg->records[r];
        for (size_t k = 0; k < rec->n_results; k++)
            rec->results[k].layer = pos[rec->results[k].layer];
        for (size_t k = 0; k < rec->n_chains; k++)
            for (size_t l = 0; l < rec->chains[k].n_layers; l++)
                rec->chains[k].layers[l] = pos[rec->chains[k].layers[l]];
    }
    free(moved);
    free(pos);
    return BK_OK;
}

/* ---- the groups ---- */

/* End (exclusive) of the run of layers with the blob of layers[start]. */
static size_t layer_run_end(const bk_cache_config *cfg, size_t start)
{
    size_t end = start + 1;
    while (end < cfg->n_layers &&
           strcmp(str_or_empty(cfg->layers[end].blob), str_or_empty(cfg->layers[start].blob)) == 0)
        end++;
    return end;
}

static size_t link_run_end(const bk_input_list *in, size_t start)
{
    size_t end = start + 1;
    while (end < in->n_links && in->links[end].link == in->links[start].link)
        end++;
    return end;
}

/* ---- canonical order ---- */

typedef struct layer_ref {
    const bk_cache_config *cfg;
    size_t index;
} layer_ref;

/* Layers by their chains' blobs, top down: a shorter chain (one that ends
 * first) before a longer one; identical chains keep their current order. */
static int by_chain(const void *pa, const void *pb)
{
    const layer_ref *ra = pa, *rb = pb;
    const bk_cache_config *cfg = ra->cfg;
    int64_t a = (int64_t)ra->index, b = (int64_t)rb->index;
    /* Bounded: a chain longer than the layer count loops. */
    for (size_t step = 0; step <= cfg->n_layers && a != b; step++) {
        if (a < 0 || b < 0)
            return a < 0 ? -1 : 1;
        int c = strcmp(str_or_empty(cfg->layers[a].blob), str_or_empty(cfg->layers[b].blob));
        if (c != 0)
            return c;
        a = cfg->layers[a].parent;
        b = cfg->layers[b].parent;
    }
    return ra->index < rb->index ? -1 : ra->index > rb->index;
}

typedef struct link_ref {
    bk_cache_input link;
    size_t index;
} link_ref;

static int by_selector(const void *pa, const void *pb)
{
    const link_ref *a = pa, *b = pb;
    int c = strcmp(str_or_empty(a->link.selector), str_or_empty(b->link.selector));
    return c != 0 ? c : (a->index < b->index ? -1 : a->index > b->index);
}

static bk_code canonical_links(bk_input_list *in, bk_err *err)
{
    for (size_t start = 0; start < in->n_links;) {
        size_t end = link_run_end(in, start), k = end - start;
        if (k > 1) {
            link_ref *refs = malloc(k * sizeof *refs);
            if (refs == NULL)
                return bk_err_set(err, BK_ENOMEM, "out of memory");
            for (size_t i = 0; i < k; i++)
                refs[i] = (link_ref){in->links[start + i], i};
            qsort(refs, k, sizeof *refs, by_selector);
            for (size_t i = 0; i < k; i++)
                in->links[start + i] = refs[i].link;
            free(refs);
        }
        start = end;
    }
    return BK_OK;
}

static bk_code canonical_layers(bk_cache_config *cfg, bk_err *err)
{
    if (cfg->n_layers == 0)
        return BK_OK;
    layer_ref *refs = malloc(cfg->n_layers * sizeof *refs);
    size_t *order = malloc(cfg->n_layers * sizeof *order);
    if (refs == NULL || order == NULL) {
        free(refs);
        free(order);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cfg->n_layers; i++)
        refs[i] = (layer_ref){cfg, i};
    /* Sort within each run only: the runs' own order is BuildKit's, fixed. */
    for (size_t start = 0; start < cfg->n_layers;) {
        size_t end = layer_run_end(cfg, start);
        if (end - start > 1)
            qsort(refs + start, end - start, sizeof *refs, by_chain);
        start = end;
    }
    for (size_t i = 0; i < cfg->n_layers; i++)
        order[i] = refs[i].index;
    bk_code rc = apply_layer_order(cfg, order, err);
    free(refs);
    free(order);
    return rc;
}

bk_code conf_ties_canonicalize(bk_cache_config *cfg, bk_err *err)
{
    bk_code rc = check_layer_indexes(cfg, err);
    if (rc == BK_OK)
        rc = canonical_layers(cfg, err);
    for (size_t r = 0; r < cfg->n_records && rc == BK_OK; r++)
        for (size_t i = 0; i < cfg->records[r].n_inputs && rc == BK_OK; i++)
            rc = canonical_links(&cfg->records[r].inputs[i], err);
    return rc;
}

/* ---- another valid order ---- */

static size_t rotation(unsigned *seed, size_t k)
{
    return 1 + (size_t)rand_r(seed) % (k - 1);
}

static bk_code rotate_links(bk_input_list *in, unsigned *seed, size_t *groups, bk_err *err)
{
    for (size_t start = 0; start < in->n_links;) {
        size_t end = link_run_end(in, start), k = end - start;
        if (k > 1) {
            bk_cache_input *tmp = malloc(k * sizeof *tmp);
            if (tmp == NULL)
                return bk_err_set(err, BK_ENOMEM, "out of memory");
            size_t by = rotation(seed, k);
            for (size_t i = 0; i < k; i++)
                tmp[i] = in->links[start + (i + by) % k];
            memcpy(in->links + start, tmp, k * sizeof *tmp);
            free(tmp);
            (*groups)++;
        }
        start = end;
    }
    return BK_OK;
}

bk_code conf_ties_shuffle(bk_cache_config *cfg, unsigned *seed, size_t *groups, bk_err *err)
{
    size_t reordered = 0;
    bk_code rc = check_layer_indexes(cfg, err);
    size_t *order =
        rc == BK_OK ? malloc((cfg->n_layers ? cfg->n_layers : 1) * sizeof *order) : NULL;
    if (rc == BK_OK && order == NULL)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    if (rc == BK_OK) {
        for (size_t start = 0; start < cfg->n_layers;) {
            size_t end = layer_run_end(cfg, start), k = end - start;
            size_t by = k > 1 ? rotation(seed, k) : 0;
            for (size_t i = 0; i < k; i++)
                order[start + i] = start + (i + by) % k;
            reordered += k > 1;
            start = end;
        }
        rc = apply_layer_order(cfg, order, err);
    }
    free(order);
    for (size_t r = 0; r < cfg->n_records && rc == BK_OK; r++)
        for (size_t i = 0; i < cfg->records[r].n_inputs && rc == BK_OK; i++)
            rc = rotate_links(&cfg->records[r].inputs[i], seed, &reordered, err);
    if (groups != NULL)
        *groups = reordered;
    return rc;
}

/* ---- comparison ---- */

size_t conf_first_difference(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t at = 0;
    while (at < a_len && at < b_len && a[at] == b[at])
        at++;
    return at;
}

static void describe(const char *got, size_t got_len, const char *want, size_t want_len,
                     const char *note, char *why, size_t why_size)
{
    size_t at = conf_first_difference(got, got_len, want, want_len);
    int g = (int)(got_len - at < 48 ? got_len - at : 48);
    int w = (int)(want_len - at < 48 ? want_len - at : 48);
    snprintf(why, why_size, "at offset %zu%s: got \"%.*s\", want \"%.*s\"", at, note, g, got + at,
             w, want + at);
}

/* The canonical bytes of a manifest that is exactly Go's encoding of its
 * parse; BK_EINVAL when it is not (or does not parse). */
static bk_code canonical_bytes(const char *json, size_t len, bk_buf *out, bk_err *err)
{
    bk_cache_config *cfg = NULL;
    bk_buf enc = BK_BUF_INIT;
    bk_code rc = bk_config_parse(json, len, &cfg, err);
    if (rc == BK_OK)
        rc = bk_config_encode(cfg, &enc, err);
    if (rc == BK_OK && (enc.len != len || memcmp(enc.data, json, len) != 0))
        rc = bk_err_set(err, BK_EINVAL, "not Go's encoding of its own content");
    if (rc == BK_OK)
        rc = conf_ties_canonicalize(cfg, err);
    if (rc == BK_OK)
        rc = bk_config_encode(cfg, out, err);
    bk_buf_clear(&enc);
    bk_config_free(cfg);
    return rc;
}

conf_same conf_manifest_compared(const char *got, size_t got_len, const char *want, size_t want_len,
                                 conf_compared *out)
{
    memset(out, 0, sizeof *out);
    out->got = got;
    out->got_len = got_len;
    out->want = want;
    out->want_len = want_len;
    out->note = "";
    if (got_len == want_len && memcmp(got, want, got_len) == 0)
        return CONF_SAME_BYTES;
    bk_err err;
    bk_err_clear(&err);
    conf_same same = CONF_DIFFERENT;
    if (canonical_bytes(got, got_len, &out->canon_got, &err) == BK_OK &&
        canonical_bytes(want, want_len, &out->canon_want, &err) == BK_OK) {
        out->got = out->canon_got.data;
        out->got_len = out->canon_got.len;
        out->want = out->canon_want.data;
        out->want_len = out->canon_want.len;
        if (out->got_len == out->want_len && memcmp(out->got, out->want, out->got_len) == 0)
            same = CONF_SAME_UP_TO_TIES;
        else
            out->note = " (both with BuildKit's unordered ties put in one order)";
    }
    out->at = conf_first_difference(out->got, out->got_len, out->want, out->want_len);
    return same;
}

void conf_compared_clear(conf_compared *cmp)
{
    bk_buf_clear(&cmp->canon_got);
    bk_buf_clear(&cmp->canon_want);
    memset(cmp, 0, sizeof *cmp);
}

conf_same conf_manifest_compare(const char *got, size_t got_len, const char *want, size_t want_len,
                                char *why, size_t why_size)
{
    conf_compared cmp;
    conf_same same = conf_manifest_compared(got, got_len, want, want_len, &cmp);
    if (same == CONF_DIFFERENT)
        describe(cmp.got, cmp.got_len, cmp.want, cmp.want_len, cmp.note, why, why_size);
    conf_compared_clear(&cmp);
    return same;
}
