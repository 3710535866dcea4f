/* Cache config types, builders, the Go-identical writer and BuildKit's
 * import-time validation. The reader is in cacheconfig_read.c. */
#include "bkcache/cacheconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/store.h"
#include "cacheconfig_internal.h"

bk_cache_config *bk_config_new(void)
{
    return calloc(1, sizeof(bk_cache_config));
}

void bk__config_layer_clear(bk_cache_layer *l)
{
    free(l->blob);
    if (l->annotations) {
        free(l->annotations->media_type);
        free(l->annotations->diff_id);
        free(l->annotations);
    }
    memset(l, 0, sizeof *l);
}

void bk__config_record_clear(bk_cache_record *r)
{
    free(r->results);
    for (size_t i = 0; i < r->n_chains; i++)
        free(r->chains[i].layers);
    free(r->chains);
    free(r->digest);
    for (size_t i = 0; i < r->n_inputs; i++) {
        for (size_t j = 0; j < r->inputs[i].n_links; j++)
            free(r->inputs[i].links[j].selector);
        free(r->inputs[i].links);
    }
    free(r->inputs);
    memset(r, 0, sizeof *r);
}

void bk_config_free(bk_cache_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_layers; i++)
        bk__config_layer_clear(&cfg->layers[i]);
    free(cfg->layers);
    for (size_t i = 0; i < cfg->n_records; i++)
        bk__config_record_clear(&cfg->records[i]);
    free(cfg->records);
    free(cfg);
}

/* One more zeroed element (of size sz) at the end of *arr, counted in *n.
 * Without cap the array is exactly *n long and grows by one; with cap (its
 * capacity, kept by a builder adding many) it doubles when full. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t sz)
{
    size_t have = cap ? *cap : *n;
    if (*n >= have) {
        size_t want = cap == NULL ? *n + 1 : *n >= 8 ? *n * 2 : 16;
        void *p = realloc(*arr, want * sz);
        if (!p)
            return NULL;
        *arr = p;
        if (cap)
            *cap = want;
    }
    void *el = (char *)*arr + *n * sz;
    memset(el, 0, sz);
    (*n)++;
    return el;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

bk_cache_layer *bk__config_push_layer(bk_cache_config *cfg, size_t *cap, const char *blob,
                                      int64_t parent)
{
    bk_cache_layer *l = grow((void **)&cfg->layers, &cfg->n_layers, cap, sizeof *l);
    if (!l)
        return NULL;
    l->blob = dup_or_null(blob);
    l->parent = parent;
    return l;
}

bk_cache_layer *bk_config_add_layer(bk_cache_config *cfg, const char *blob, int64_t parent)
{
    return bk__config_push_layer(cfg, NULL, blob, parent);
}

bk_layer_annotations *bk_layer_set_annotations(bk_cache_layer *l, const char *media_type,
                                               const char *diff_id, int64_t size,
                                               bk_time created_at)
{
    if (!l->annotations) {
        l->annotations = calloc(1, sizeof *l->annotations);
        if (!l->annotations)
            return NULL;
    }
    bk_layer_annotations *a = l->annotations;
    free(a->media_type);
    free(a->diff_id);
    a->media_type = dup_or_null(media_type);
    a->diff_id = dup_or_null(diff_id);
    a->size = size;
    a->created_at = created_at;
    return a;
}

bk_cache_record *bk__config_push_record(bk_cache_config *cfg, size_t *cap, const char *digest)
{
    bk_cache_record *r = grow((void **)&cfg->records, &cfg->n_records, cap, sizeof *r);
    if (!r)
        return NULL;
    r->digest = dup_or_null(digest);
    return r;
}

bk_cache_record *bk_config_add_record(bk_cache_config *cfg, const char *digest)
{
    return bk__config_push_record(cfg, NULL, digest);
}

bk_cache_result *bk_record_add_result(bk_cache_record *r, int64_t layer, bk_time created_at)
{
    bk_cache_result *res = grow((void **)&r->results, &r->n_results, NULL, sizeof *res);
    if (!res)
        return NULL;
    res->layer = layer;
    res->created_at = created_at;
    return res;
}

bk_input_list *bk_record_add_input(bk_cache_record *r)
{
    return grow((void **)&r->inputs, &r->n_inputs, NULL, sizeof(bk_input_list));
}

bk_cache_input *bk_input_add_link(bk_input_list *in, const char *selector, int64_t link)
{
    bk_cache_input *l = grow((void **)&in->links, &in->n_links, NULL, sizeof *l);
    if (!l)
        return NULL;
    l->selector = dup_or_null(selector);
    l->link = link;
    in->is_null = false;
    return l;
}

/* ---- writer ---- */

static bool empty(const char *s)
{
    return !s || !*s;
}

/* A member's name, its quotes and colon in one append: the names are
 * literals that need no escaping, written for every layer and record. */
#define KEY(b, first, name) key((b), (first), "\"" name "\":", sizeof("\"" name "\":") - 1)

static void key(bk_buf *b, bool *first, const char *quoted, size_t n)
{
    if (!*first)
        bk_buf_putc(b, ',');
    *first = false;
    bk_buf_append(b, quoted, n);
}

/* A literal, without strlen. */
#define PUT_LIT(b, lit) bk_buf_append((b), (lit), sizeof(lit) - 1)

static void str(bk_buf *b, const char *s)
{
    bk_gojson_string(b, s, s ? strlen(s) : 0);
}

static bk_code time_value(bk_buf *b, bk_time t, bk_err *err)
{
    bk_buf_putc(b, '"');
    bk_code rc = bk_time_format(b, t, err);
    bk_buf_putc(b, '"');
    return rc;
}

static bk_code encode_layer(bk_buf *b, const bk_cache_layer *l, bk_err *err)
{
    bool first = true;
    bk_buf_putc(b, '{');
    if (!empty(l->blob)) {
        KEY(b, &first, "blob");
        str(b, l->blob);
    }
    if (l->parent != 0) {
        KEY(b, &first, "parent");
        bk_gojson_int(b, l->parent);
    }
    if (l->annotations) {
        const bk_layer_annotations *a = l->annotations;
        bool afirst = true;
        KEY(b, &first, "annotations");
        bk_buf_putc(b, '{');
        if (!empty(a->media_type)) {
            KEY(b, &afirst, "mediaType");
            str(b, a->media_type);
        }
        if (!empty(a->diff_id)) {
            KEY(b, &afirst, "diffID");
            str(b, a->diff_id);
        }
        if (a->size != 0) {
            KEY(b, &afirst, "size");
            bk_gojson_int(b, a->size);
        }
        KEY(b, &afirst, "createdAt");
        bk_code rc = time_value(b, a->created_at, err);
        if (rc != BK_OK) {
            bk_err_prefix(err, "annotations.createdAt: ");
            return rc;
        }
        bk_buf_putc(b, '}');
    }
    bk_buf_putc(b, '}');
    return BK_OK;
}

static bk_code encode_record(bk_buf *b, const bk_cache_record *r, bk_err *err)
{
    bool first = true;
    bk_buf_putc(b, '{');
    if (r->n_results) {
        KEY(b, &first, "layers");
        bk_buf_putc(b, '[');
        for (size_t i = 0; i < r->n_results; i++) {
            if (i)
                bk_buf_putc(b, ',');
            PUT_LIT(b, "{\"layer\":");
            bk_gojson_int(b, r->results[i].layer);
            PUT_LIT(b, ",\"createdAt\":");
            bk_code rc = time_value(b, r->results[i].created_at, err);
            if (rc != BK_OK) {
                bk_err_prefix(err, "layers[%zu].createdAt: ", i);
                return rc;
            }
            bk_buf_putc(b, '}');
        }
        bk_buf_putc(b, ']');
    }
    if (r->n_chains) {
        KEY(b, &first, "chains");
        bk_buf_putc(b, '[');
        for (size_t i = 0; i < r->n_chains; i++) {
            const bk_chained_result *c = &r->chains[i];
            if (i)
                bk_buf_putc(b, ',');
            PUT_LIT(b, "{\"layers\":");
            if (c->layers_null && c->n_layers == 0) {
                PUT_LIT(b, "null");
            } else {
                bk_buf_putc(b, '[');
                for (size_t j = 0; j < c->n_layers; j++) {
                    if (j)
                        bk_buf_putc(b, ',');
                    bk_gojson_int(b, c->layers[j]);
                }
                bk_buf_putc(b, ']');
            }
            PUT_LIT(b, ",\"createdAt\":");
            bk_code rc = time_value(b, c->created_at, err);
            if (rc != BK_OK) {
                bk_err_prefix(err, "chains[%zu].createdAt: ", i);
                return rc;
            }
            bk_buf_putc(b, '}');
        }
        bk_buf_putc(b, ']');
    }
    if (!empty(r->digest)) {
        KEY(b, &first, "digest");
        str(b, r->digest);
    }
    if (r->n_inputs) {
        KEY(b, &first, "inputs");
        bk_buf_putc(b, '[');
        for (size_t i = 0; i < r->n_inputs; i++) {
            const bk_input_list *in = &r->inputs[i];
            if (i)
                bk_buf_putc(b, ',');
            if (in->is_null && in->n_links == 0) {
                PUT_LIT(b, "null");
                continue;
            }
            bk_buf_putc(b, '[');
            for (size_t j = 0; j < in->n_links; j++) {
                if (j)
                    bk_buf_putc(b, ',');
                bk_buf_putc(b, '{');
                if (!empty(in->links[j].selector)) {
                    PUT_LIT(b, "\"selector\":");
                    str(b, in->links[j].selector);
                    bk_buf_putc(b, ',');
                }
                PUT_LIT(b, "\"link\":");
                bk_gojson_int(b, in->links[j].link);
                bk_buf_putc(b, '}');
            }
            bk_buf_putc(b, ']');
        }
        bk_buf_putc(b, ']');
    }
    bk_buf_putc(b, '}');
    return BK_OK;
}

bk_code bk_config_encode(const bk_cache_config *cfg, bk_buf *out, bk_err *err)
{
    bool first = true;
    bk_buf_putc(out, '{');
    if (cfg->n_layers) {
        KEY(out, &first, "layers");
        bk_buf_putc(out, '[');
        for (size_t i = 0; i < cfg->n_layers; i++) {
            if (i)
                bk_buf_putc(out, ',');
            bk_code rc = encode_layer(out, &cfg->layers[i], err);
            if (rc != BK_OK) {
                bk_err_prefix(err, "layers[%zu].", i);
                return rc;
            }
        }
        bk_buf_putc(out, ']');
    }
    if (cfg->n_records) {
        KEY(out, &first, "records");
        bk_buf_putc(out, '[');
        for (size_t i = 0; i < cfg->n_records; i++) {
            if (i)
                bk_buf_putc(out, ',');
            bk_code rc = encode_record(out, &cfg->records[i], err);
            if (rc != BK_OK) {
                bk_err_prefix(err, "records[%zu].", i);
                return rc;
            }
        }
        bk_buf_putc(out, ']');
    }
    bk_buf_putc(out, '}');
    return bk_buf_check(out, err);
}

/* ---- validation: BuildKit's ParseConfig and the S3 importer's checks ---- */

enum { REC_UNSEEN = 0, REC_ACTIVE, REC_DONE };

typedef struct rec_frame {
    size_t idx, input, link; /* the record, and the next link to follow */
} rec_frame;

/* Per layer: LAYER_OK once its chain to the base is known to be good, else
 * the number of the chain walk that saw it last (walks count up from 2). */
enum { LAYER_UNSEEN = 0, LAYER_OK = 1 };

typedef struct validator {
    const bk_cache_config *cfg;
    unsigned char *state; /* per record */
    size_t *layer;        /* per layer, see LAYER_OK */
    size_t walks;
    rec_frame *path; /* per record, the records being checked */
    bk_err *err;
    uint64_t ops;
} validator;

/* Walks a result's layer chain from idx towards its base, as getRemoteChain
 * does, up to the first layer an earlier walk found good: every layer is
 * walked once in all, however many results share it. The messages name the
 * step that fails as a walk from idx would. */
static bk_code check_chain(validator *v, int64_t idx, const char *path)
{
    size_t walk = ++v->walks;
    char where[96];
    snprintf(where, sizeof where, "%s", path);
    int64_t first = idx;
    for (;;) {
        v->ops++;
        if (idx < 0 || (uint64_t)idx >= v->cfg->n_layers)
            return bk_err_set(v->err, BK_EINVAL, "%s: invalid layer index %lld (have %zu layers)",
                              where, (long long)idx, v->cfg->n_layers);
        if (v->layer[idx] == LAYER_OK)
            break;
        if (v->layer[idx] == walk)
            return bk_err_set(v->err, BK_EINVAL,
                              "%s: invalid looping layer (layer %lld is its own ancestor)", where,
                              (long long)idx);
        v->layer[idx] = walk;
        const bk_cache_layer *l = &v->cfg->layers[idx];
        if (l->parent == -1)
            break;
        snprintf(where, sizeof where, "layers[%lld].parent", (long long)idx);
        idx = l->parent;
    }
    for (int64_t i = first; i != -1 && v->layer[i] == walk; i = v->cfg->layers[i].parent)
        v->layer[i] = LAYER_OK;
    return BK_OK;
}

/* A record's own results and old-form chains, once its inputs are checked. */
static bk_code check_results(validator *v, size_t idx)
{
    const bk_cache_record *r = &v->cfg->records[idx];
    char path[96];
    for (size_t i = 0; i < r->n_results; i++) {
        snprintf(path, sizeof path, "records[%zu].layers[%zu].layer", idx, i);
        if (check_chain(v, r->results[i].layer, path) != BK_OK)
            return BK_EINVAL;
    }
    for (size_t i = 0; i < r->n_chains; i++) {
        const bk_chained_result *c = &r->chains[i];
        for (size_t j = 0; j < c->n_layers; j++) {
            if (c->layers[j] < 0 || (uint64_t)c->layers[j] >= v->cfg->n_layers)
                return bk_err_set(v->err, BK_EINVAL,
                                  "records[%zu].chains[%zu].layers[%zu]: invalid layer index "
                                  "%lld (have %zu layers)",
                                  idx, i, j, (long long)c->layers[j], v->cfg->n_layers);
        }
    }
    return BK_OK;
}

/* Depth first from record root through its inputs' links, each record's
 * results checked once all it links to is. The path is an explicit stack:
 * a config from a bucket may chain any number of records, far deeper than
 * the call stack goes. A record is on it at most once (ACTIVE), so
 * v->path holds n_records frames. */
static bk_code check_record(validator *v, size_t root)
{
    if (v->state[root] == REC_DONE)
        return BK_OK;
    size_t depth = 0;
    v->path[depth++] = (rec_frame){root, 0, 0};
    v->state[root] = REC_ACTIVE;
    while (depth > 0) {
        v->ops++;
        rec_frame *f = &v->path[depth - 1];
        const bk_cache_record *r = &v->cfg->records[f->idx];
        if (f->input == r->n_inputs) {
            if (check_results(v, f->idx) != BK_OK)
                return BK_EINVAL;
            v->state[f->idx] = REC_DONE;
            depth--;
            continue;
        }
        const bk_input_list *in = &r->inputs[f->input];
        if (in->n_links == 0)
            return bk_err_set(v->err, BK_EINVAL,
                              "records[%zu].inputs[%zu]: invalid empty input for record %zu",
                              f->idx, f->input, f->idx);
        if (f->link == in->n_links) {
            f->input++;
            f->link = 0;
            continue;
        }
        int64_t link = in->links[f->link].link;
        if (link < 0 || (uint64_t)link >= v->cfg->n_records)
            return bk_err_set(v->err, BK_EINVAL,
                              "records[%zu].inputs[%zu][%zu].link: invalid record ID: %lld "
                              "(have %zu records)",
                              f->idx, f->input, f->link, (long long)link, v->cfg->n_records);
        if (v->state[link] == REC_ACTIVE)
            return bk_err_set(v->err, BK_EINVAL,
                              "records[%zu].inputs[%zu][%zu].link: invalid looping record "
                              "(record %zu links to record %lld, which depends on it)",
                              f->idx, f->input, f->link, f->idx, (long long)link);
        f->link++;
        if (v->state[link] == REC_UNSEEN) {
            v->state[link] = REC_ACTIVE;
            v->path[depth++] = (rec_frame){(size_t)link, 0, 0};
        }
    }
    return BK_OK;
}

bk_code bk_config_validate(const bk_cache_config *cfg, unsigned flags, bk_err *err)
{
    uint64_t ops = 0;
    return bk__config_validate_ops(cfg, flags, &ops, err);
}

bk_code bk__config_validate_ops(const bk_cache_config *cfg, unsigned flags, uint64_t *ops,
                                bk_err *err)
{
    if (flags & BK_VALIDATE_S3) {
        for (size_t i = 0; i < cfg->n_layers; i++) {
            const bk_cache_layer *l = &cfg->layers[i];
            if (!l->annotations)
                return bk_err_set(err, BK_EINVAL,
                                  "layers[%zu]: cache layer with missing annotations (the S3 "
                                  "form needs mediaType, diffID and size per layer)",
                                  i);
            if (empty(l->annotations->diff_id))
                return bk_err_set(err, BK_EINVAL,
                                  "layers[%zu].annotations.diffID: cache layer with missing diffid",
                                  i);
        }
    }
    validator v = {.cfg = cfg,
                   .state = calloc(cfg->n_records ? cfg->n_records : 1, 1),
                   .layer = calloc(cfg->n_layers ? cfg->n_layers : 1, sizeof(size_t)),
                   .walks = LAYER_OK,
                   .path = calloc(cfg->n_records ? cfg->n_records : 1, sizeof(rec_frame)),
                   .err = err};
    bk_code rc = BK_OK;
    if (!v.state || !v.layer || !v.path)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory validating the cache config");
    for (size_t i = 0; rc == BK_OK && i < cfg->n_records; i++)
        rc = check_record(&v, i);
    /* Then ours: a blob is named sha256:<64 lowercase hex> (the content
     * store, S3 keys and local paths take nothing else). This is the one
     * place import, explain and verify learn it. */
    for (size_t i = 0; rc == BK_OK && i < cfg->n_layers; i++) {
        v.ops++;
        if (bk_digest_validate(cfg->layers[i].blob, NULL, err) != BK_OK) {
            rc = BK_EINVAL;
            bk_err_prefix(err, "layers[%zu].blob: ", i);
        }
    }
    free(v.state);
    free(v.layer);
    free(v.path);
    *ops += v.ops;
    return rc;
}

/* ---- helpers ---- */

bk_code bk_descriptor_copy(bk_descriptor *dst, const bk_descriptor *src, bk_err *err)
{
    *dst = *src;
    dst->media_type = dup_or_null(src->media_type);
    dst->digest = dup_or_null(src->digest);
    dst->diff_id = dup_or_null(src->diff_id);
    if ((src->media_type && !dst->media_type) || (src->digest && !dst->digest) ||
        (src->diff_id && !dst->diff_id)) {
        bk_descriptor_clear(dst);
        return bk_err_set(err, BK_ENOMEM, "out of memory copying a descriptor");
    }
    return BK_OK;
}

void bk_descriptor_clear(bk_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    free(d->diff_id);
    memset(d, 0, sizeof *d);
}

typedef struct blob_ref {
    const char *blob;
    size_t layer;
} blob_ref;

static int compare_blob_refs(const void *a, const void *b)
{
    const blob_ref *x = a, *y = b;
    int c = strcmp(x->blob, y->blob);
    if (c != 0)
        return c;
    return x->layer < y->layer ? -1 : x->layer > y->layer;
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorting instead of pairwise comparison: mode=max configs hold thousands of layers. */
size_t *bk_config_blob_layers(const bk_cache_config *cfg, size_t *n)
{
    blob_ref *refs = calloc(cfg->n_layers + 1, sizeof *refs);
    size_t *out = calloc(cfg->n_layers + 1, sizeof *out);
    if (refs == NULL || out == NULL) {
        free(refs);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_layers; i++) {
        refs[i].blob = cfg->layers[i].blob ? cfg->layers[i].blob : "";
        refs[i].layer = i;
    }
    qsort(refs, cfg->n_layers, sizeof *refs, compare_blob_refs);
    size_t count = 0;
    for (size_t i = 0; i < cfg->n_layers; i++) {
        if (i == 0 || strcmp(refs[i].blob, refs[i - 1].blob) != 0)
            out[count++] = refs[i].layer;
    }
    free(refs);
    qsort(out, count, sizeof *out, compare_size);
    if (n)
        *n = count;
    return out;
}

const char **bk_config_blobs(const bk_cache_config *cfg, size_t *n)
{
    size_t count = 0;
    size_t *layers = bk_config_blob_layers(cfg, &count);
    const char **out = calloc(count + 1, sizeof *out);
    if (layers == NULL || out == NULL) {
        free(layers);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        out[i] = cfg->layers[layers[i]].blob ? cfg->layers[layers[i]].blob : "";
    free(layers);
    if (n)
        *n = count;
    return out;
}

static const char *const media_types[][2] = {
    {"application/vnd.docker.image.rootfs.diff.tar.gzip",
     "application/vnd.oci.image.layer.v1.tar+gzip"},
    {"application/vnd.docker.image.rootfs.diff.tar", "application/vnd.oci.image.layer.v1.tar"},
    {"application/vnd.docker.image.rootfs.diff.tar.zstd",
     "application/vnd.oci.image.layer.v1.tar+zstd"},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
     "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar",
     "application/vnd.oci.image.layer.nondistributable.v1.tar"},
};

const char *bk_media_type_to_oci(const char *media_type)
{
    if (!media_type)
        return NULL;
    for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
        if (strcmp(media_type, media_types[i][0]) == 0)
            return media_types[i][1];
    return media_type;
}

const char *bk_media_type_to_docker(const char *media_type)
{
    if (!media_type)
        return NULL;
    for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
        if (strcmp(media_type, media_types[i][1]) == 0)
            return media_types[i][0];
    return media_type;
}
