/* bkcache explain --diff: what one cache has and the other lacks.
 *
 * Records are matched by digest. A layer is identified by its whole chain
 * (its blob on top of its parents' blobs), since that is what a build can
 * reuse; blobs by digest. For records in both, the inputs (linked digests and
 * selectors) and the newest result's chain are compared; createdAt is not,
 * since every export writes new times for the same content. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/progress.h"
#include "explain_internal.h"

typedef struct rec_info {
    const char *digest;
    char *inputs; /* canonical: "0:<selector>><digest>;..." sorted per input */
    char *result; /* newest result's blobs base first, space-separated; "" = none */
    size_t result_layers;
} rec_info;

typedef struct layer_info {
    char *chain; /* blobs base first, space-separated */
    const bk_cache_layer *layer;
    size_t depth;
} layer_info;

typedef struct blob_info {
    const char *digest;
    int64_t size; /* -1 when the layer has no annotations */
} blob_info;

typedef struct side {
    const bk_explain *e;
    const bk_explain_manifest *m;
    rec_info *recs;
    size_t n_recs;
    layer_info *layers;
    size_t n_layers;
    blob_info *blobs; /* sorted, unique */
    size_t n_blobs;
} side;

static int cmp_rec(const void *a, const void *b)
{
    return strcmp(((const rec_info *)a)->digest, ((const rec_info *)b)->digest);
}

static int cmp_layer(const void *a, const void *b)
{
    return strcmp(((const layer_info *)a)->chain, ((const layer_info *)b)->chain);
}

static int cmp_blob_info(const void *a, const void *b)
{
    return strcmp(((const blob_info *)a)->digest, ((const blob_info *)b)->digest);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *chain_string(const bk_cache_config *cfg, int64_t top, int64_t *scratch, size_t *n)
{
    int broken;
    *n = bk__explain_chain(cfg, top, scratch, &broken);
    bk_buf b = BK_BUF_INIT;
    for (size_t k = 0; k < *n; k++)
        bk_buf_printf(&b, "%s%s", k ? " " : "",
                      cfg->layers[scratch[k]].blob ? cfg->layers[scratch[k]].blob : "");
    if (b.failed) {
        bk_buf_clear(&b);
        return NULL;
    }
    return bk_buf_steal(&b);
}

static void side_clear(side *s)
{
    for (size_t i = 0; i < s->n_recs; i++) {
        free(s->recs[i].inputs);
        free(s->recs[i].result);
    }
    free(s->recs);
    for (size_t i = 0; i < s->n_layers; i++)
        free(s->layers[i].chain);
    free(s->layers);
    free(s->blobs);
    memset(s, 0, sizeof *s);
}

/* A record's inputs as one string: one part per input, its links (selector
 * and linked digest) sorted inside it. NULL when out of memory. */
static char *inputs_string(const bk_cache_config *cfg, const bk_cache_record *r)
{
    bk_buf in = BK_BUF_INIT;
    for (size_t k = 0; k < r->n_inputs; k++) {
        size_t nl = r->inputs[k].n_links;
        char **links = calloc(nl + 1, sizeof *links);
        if (links == NULL) {
            bk_buf_clear(&in);
            return NULL;
        }
        for (size_t l = 0; l < nl; l++) {
            const bk_cache_input *li = &r->inputs[k].links[l];
            int ok = li->link >= 0 && (uint64_t)li->link < cfg->n_records;
            bk_buf one = BK_BUF_INIT;
            bk_buf_printf(&one, "%s>%s", li->selector ? li->selector : "",
                          ok && cfg->records[li->link].digest ? cfg->records[li->link].digest
                                                              : "?");
            links[l] = bk_buf_steal(&one);
        }
        qsort(links, nl, sizeof *links, cmp_cstr);
        bk_buf_printf(&in, "%s%zu:", k ? ";" : "", k);
        for (size_t l = 0; l < nl; l++) {
            bk_buf_printf(&in, "%s%s", l ? "," : "", links[l] ? links[l] : "");
            free(links[l]);
        }
        free(links);
    }
    return bk_buf_steal(&in);
}

/* Every record by digest: its inputs and its newest result's chain. */
static int side_records(side *s, const bk_cache_config *cfg, int64_t *scratch)
{
    for (size_t i = 0; i < cfg->n_records; i++) {
        const bk_cache_record *r = &cfg->records[i];
        rec_info *ri = &s->recs[s->n_recs++];
        ri->digest = r->digest ? r->digest : "";
        ri->inputs = inputs_string(cfg, r);
        const bk_cache_result *newest = bk__explain_newest_result(r);
        if (newest != NULL && newest->layer >= 0 && (uint64_t)newest->layer < cfg->n_layers)
            ri->result = chain_string(cfg, newest->layer, scratch, &ri->result_layers);
        else
            ri->result = strdup("");
        if (ri->inputs == NULL || ri->result == NULL)
            return -1;
    }
    qsort(s->recs, s->n_recs, sizeof *s->recs, cmp_rec);
    return 0;
}

/* Every layer by its chain, and the distinct blobs by digest. */
static int side_layers(side *s, const bk_cache_config *cfg, int64_t *scratch)
{
    for (size_t i = 0; i < cfg->n_layers; i++) {
        layer_info *li = &s->layers[s->n_layers];
        li->layer = &cfg->layers[i];
        li->chain = chain_string(cfg, (int64_t)i, scratch, &li->depth);
        if (li->chain == NULL)
            return -1;
        s->n_layers++;
        if (cfg->layers[i].blob != NULL) {
            s->blobs[s->n_blobs].digest = cfg->layers[i].blob;
            s->blobs[s->n_blobs].size =
                cfg->layers[i].annotations ? cfg->layers[i].annotations->size : -1;
            s->n_blobs++;
        }
    }
    qsort(s->layers, s->n_layers, sizeof *s->layers, cmp_layer);
    qsort(s->blobs, s->n_blobs, sizeof *s->blobs, cmp_blob_info);
    size_t u = 0;
    for (size_t i = 0; i < s->n_blobs; i++)
        if (u == 0 || strcmp(s->blobs[u - 1].digest, s->blobs[i].digest) != 0)
            s->blobs[u++] = s->blobs[i];
    s->n_blobs = u;
    return 0;
}

static bk_code side_build(side *s, const bk_explain *e, bk_err *err)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->m = bk_explain_primary(e);
    if (s->m == NULL)
        return BK_OK; /* no manifest: an empty cache */
    const bk_cache_config *cfg = s->m->config;
    int64_t *scratch = calloc(cfg->n_layers + 1, sizeof *scratch);
    s->recs = calloc(cfg->n_records + 1, sizeof *s->recs);
    s->layers = calloc(cfg->n_layers + 1, sizeof *s->layers);
    s->blobs = calloc(cfg->n_layers + 1, sizeof *s->blobs);
    int failed = scratch == NULL || s->recs == NULL || s->layers == NULL || s->blobs == NULL ||
                 side_records(s, cfg, scratch) != 0 || side_layers(s, cfg, scratch) != 0;
    free(scratch);
    if (failed) {
        side_clear(s);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    return BK_OK;
}

/* Both sides, or neither (the first is cleared when the second fails). */
static bk_code sides_build(side *sa, const bk_explain *a, side *sb, const bk_explain *b,
                           bk_err *err)
{
    bk_code rc = side_build(sa, a, err);
    if (rc != BK_OK)
        return rc;
    if ((rc = side_build(sb, b, err)) != BK_OK)
        side_clear(sa);
    return rc;
}

/* ---- the comparison, shared by both renderers ---- */

typedef struct diff_sink {
    void (*record)(void *ud, int which, const rec_info *r, const side *s);
    void (*changed)(void *ud, const rec_info *a, const rec_info *b, int inputs, int result);
    void (*layer)(void *ud, int which, const layer_info *l, const side *s);
    void (*blob)(void *ud, int which, const char *digest, int64_t size);
    void *ud;
} diff_sink;

static int walk(const side *a, const side *b, const diff_sink *k)
{
    int differs = 0;
    size_t i = 0, j = 0;
    while (i < a->n_recs || j < b->n_recs) {
        int c = i == a->n_recs   ? 1
                : j == b->n_recs ? -1
                                 : strcmp(a->recs[i].digest, b->recs[j].digest);
        if (c < 0) {
            k->record(k->ud, 0, &a->recs[i++], a);
        } else if (c > 0) {
            k->record(k->ud, 1, &b->recs[j++], b);
        } else {
            int in = strcmp(a->recs[i].inputs, b->recs[j].inputs) != 0;
            int res = strcmp(a->recs[i].result, b->recs[j].result) != 0;
            if (in || res)
                k->changed(k->ud, &a->recs[i], &b->recs[j], in, res);
            differs |= in || res;
            i++;
            j++;
            continue;
        }
        differs = 1;
    }
    for (i = 0, j = 0; i < a->n_layers || j < b->n_layers;) {
        int c = i == a->n_layers   ? 1
                : j == b->n_layers ? -1
                                   : strcmp(a->layers[i].chain, b->layers[j].chain);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        differs = 1;
        if (c < 0)
            k->layer(k->ud, 0, &a->layers[i++], a);
        else
            k->layer(k->ud, 1, &b->layers[j++], b);
    }
    for (i = 0, j = 0; i < a->n_blobs || j < b->n_blobs;) {
        int c = i == a->n_blobs   ? 1
                : j == b->n_blobs ? -1
                                  : strcmp(a->blobs[i].digest, b->blobs[j].digest);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        differs = 1;
        if (c < 0) {
            k->blob(k->ud, 0, a->blobs[i].digest, a->blobs[i].size);
            i++;
        } else {
            k->blob(k->ud, 1, b->blobs[j].digest, b->blobs[j].size);
            j++;
        }
    }
    return differs;
}

/* ---- text ---- */

typedef struct text_diff {
    const side *s[2];
    const bk_explain_render_opts *o;
    bk_buf lines[4][2]; /* records, changed, layers, blobs; per side (changed uses [0]) */
    size_t counts[4][2];
    uint64_t bytes[2];
} text_diff;

static const char *label_of(const text_diff *t, const char *digest)
{
    const char *l = bk_explain_label_of(t->s[0]->e, digest);
    if (l == NULL)
        l = bk_explain_label_of(t->s[1]->e, digest);
    return l ? l : "";
}

static void t_record(void *ud, int which, const rec_info *r, const side *s)
{
    (void)s;
    text_diff *t = ud;
    char dg[96];
    bk_explain_short_digest(r->digest, t->o->full_digests, dg, sizeof dg);
    const char *l = label_of(t, r->digest);
    bk_buf_printf(&t->lines[0][which], "  %s%s%s", dg, *l ? "  " : "", l);
    if (r->result_layers > 0)
        bk_buf_printf(&t->lines[0][which], "  (result: %zu layers)\n", r->result_layers);
    else
        bk_buf_puts(&t->lines[0][which], "  (no result)\n");
    t->counts[0][which]++;
}

static void t_changed(void *ud, const rec_info *a, const rec_info *b, int inputs, int result)
{
    text_diff *t = ud;
    char dg[96];
    bk_explain_short_digest(a->digest, t->o->full_digests, dg, sizeof dg);
    const char *l = label_of(t, a->digest);
    bk_buf *o = &t->lines[1][0];
    bk_buf_printf(o, "  %s%s%s:", dg, *l ? "  " : "", l);
    if (result) {
        if (a->result_layers == 0)
            bk_buf_printf(o, " result only in B (%zu layers)", b->result_layers);
        else if (b->result_layers == 0)
            bk_buf_printf(o, " result only in A (%zu layers)", a->result_layers);
        else
            bk_buf_printf(o, " results differ (A: %zu layers, B: %zu layers)", a->result_layers,
                          b->result_layers);
    }
    if (inputs)
        bk_buf_printf(o, "%s inputs differ", result ? ";" : "");
    bk_buf_putc(o, '\n');
    t->counts[1][0]++;
}

static void t_layer(void *ud, int which, const layer_info *li, const side *s)
{
    (void)s;
    text_diff *t = ud;
    char dg[96], size[32] = "?", media[96];
    bk_explain_short_digest(li->layer->blob, t->o->full_digests, dg, sizeof dg);
    const bk_layer_annotations *a = li->layer->annotations;
    if (a != NULL)
        bk_format_bytes((uint64_t)(a->size > 0 ? a->size : 0), size, sizeof size);
    bk_buf_printf(&t->lines[2][which], "  %s  %9s  %s  at depth %zu of its chain\n", dg, size,
                  a ? bk__explain_media_short(a->media_type, media, sizeof media) : "", li->depth);
    t->counts[2][which]++;
}

static void t_blob(void *ud, int which, const char *digest, int64_t size)
{
    text_diff *t = ud;
    char dg[96], sz[32] = "?";
    bk_explain_short_digest(digest, t->o->full_digests, dg, sizeof dg);
    if (size >= 0) {
        bk_format_bytes((uint64_t)size, sz, sizeof sz);
        t->bytes[which] += (uint64_t)size;
    }
    bk_buf_printf(&t->lines[3][which], "  %s  %9s\n", dg, sz);
    t->counts[3][which]++;
}

static void describe_side(bk_buf *out, const char *tag, const side *s)
{
    bk_buf_printf(out, "%s: %s", tag, s->e->source);
    if (s->m == NULL) {
        const char *why = s->e->n_manifests ? s->e->manifests[0].error : NULL;
        bk_buf_printf(out, ": no manifest (%s)\n", why ? why : "empty cache");
        return;
    }
    if (strcmp(s->m->obj.key, s->e->source) != 0)
        bk_buf_printf(out, " %s", s->m->obj.key);
    bk_buf_printf(out, ": %zu records, %zu layers, %zu blobs%s\n", s->n_recs, s->n_layers,
                  s->n_blobs, s->m->error ? " (INVALID, see explain)" : "");
}

bk_code bk_explain_diff_text(const bk_explain *a, const bk_explain *b,
                             const bk_explain_render_opts *opts, bk_buf *out, int *differs,
                             bk_err *err)
{
    bk_explain_render_opts defaults = {0};
    side sa, sb;
    bk_code rc = sides_build(&sa, a, &sb, b, err);
    if (rc != BK_OK)
        return rc;
    text_diff t;
    memset(&t, 0, sizeof t);
    t.s[0] = &sa;
    t.s[1] = &sb;
    t.o = opts ? opts : &defaults;
    diff_sink k = {t_record, t_changed, t_layer, t_blob, &t};
    *differs = walk(&sa, &sb, &k);
    describe_side(out, "A", &sa);
    describe_side(out, "B", &sb);
    static const char *const titles[4] = {"records", "records in both whose", "layers", "blobs"};
    for (int s = 0; s < 4; s++) {
        for (int w = 0; w < (s == 1 ? 1 : 2); w++) {
            if (t.counts[s][w] == 0)
                continue;
            if (s == 1) {
                bk_buf_printf(out, "\n%s results or inputs differ (%zu):\n", titles[s],
                              t.counts[s][w]);
            } else if (s == 3) {
                char bytes[32];
                bk_format_bytes(t.bytes[w], bytes, sizeof bytes);
                bk_buf_printf(out, "\nblobs only in %c (%zu, %s):\n", w ? 'B' : 'A', t.counts[s][w],
                              bytes);
            } else {
                bk_buf_printf(out, "\n%s only in %c (%zu):\n", titles[s], w ? 'B' : 'A',
                              t.counts[s][w]);
            }
            bk_buf_append(out, bk_buf_str(&t.lines[s][w]), t.lines[s][w].len);
        }
    }
    bk_buf_printf(out, "\n%s\n",
                  *differs ? "the caches differ"
                           : "same records, inputs, results and layers (createdAt not compared)");
    for (int s = 0; s < 4; s++)
        for (int w = 0; w < 2; w++) {
            if (t.lines[s][w].failed)
                out->failed = 1;
            bk_buf_clear(&t.lines[s][w]);
        }
    side_clear(&sa);
    side_clear(&sb);
    return bk_buf_check(out, err);
}

/* ---- json ---- */

typedef struct json_diff {
    json_t *only[2][3]; /* records, layers, blobs per side */
    json_t *changed;
} json_diff;

static void j_record(void *ud, int which, const rec_info *r, const side *s)
{
    json_diff *j = ud;
    const char *l = bk_explain_label_of(s->e, r->digest);
    json_array_append_new(j->only[which][0],
                          json_pack("{s:s,s:o,s:I}", "digest", r->digest, "name",
                                    l ? json_string(l) : json_null(), "resultLayers",
                                    (json_int_t)r->result_layers));
}

static void j_changed(void *ud, const rec_info *a, const rec_info *b, int inputs, int result)
{
    json_diff *j = ud;
    json_array_append_new(j->changed, json_pack("{s:s,s:b,s:b,s:I,s:I}", "digest", a->digest,
                                                "inputsDiffer", inputs, "resultDiffers", result,
                                                "resultLayersA", (json_int_t)a->result_layers,
                                                "resultLayersB", (json_int_t)b->result_layers));
}

static void j_layer(void *ud, int which, const layer_info *li, const side *s)
{
    (void)s;
    json_diff *j = ud;
    json_t *chain = json_array();
    const char *p = li->chain;
    while (p && *p) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        json_array_append_new(chain, json_stringn(p, n));
        p = sp ? sp + 1 : NULL;
    }
    json_array_append_new(
        j->only[which][1],
        json_pack("{s:s,s:o}", "blob", li->layer->blob ? li->layer->blob : "", "chain", chain));
}

static void j_blob(void *ud, int which, const char *digest, int64_t size)
{
    json_diff *j = ud;
    json_array_append_new(j->only[which][2],
                          json_pack("{s:s,s:o}", "digest", digest, "size",
                                    size >= 0 ? json_integer(size) : json_null()));
}

bk_code bk_explain_diff_json(const bk_explain *a, const bk_explain *b, bk_buf *out, int *differs,
                             bk_err *err)
{
    side sa, sb;
    bk_code rc = sides_build(&sa, a, &sb, b, err);
    if (rc != BK_OK)
        return rc;
    json_diff j;
    for (int w = 0; w < 2; w++)
        for (int c = 0; c < 3; c++)
            j.only[w][c] = json_array();
    j.changed = json_array();
    diff_sink k = {j_record, j_changed, j_layer, j_blob, &j};
    *differs = walk(&sa, &sb, &k);
    json_t *root = json_object();
    const side *sides[2] = {&sa, &sb};
    for (int w = 0; w < 2; w++) {
        json_t *o =
            json_pack("{s:s,s:o,s:o,s:o,s:o}", "source", sides[w]->e->source, "manifest",
                      sides[w]->m ? json_string(sides[w]->m->obj.key) : json_null(), "onlyRecords",
                      j.only[w][0], "onlyLayers", j.only[w][1], "onlyBlobs", j.only[w][2]);
        json_object_set_new(root, w ? "b" : "a", o);
    }
    json_object_set_new(root, "changedRecords", j.changed);
    json_object_set_new(root, "differs", json_boolean(*differs));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    side_clear(&sa);
    side_clear(&sb);
    if (text == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory while writing JSON");
    bk_buf_puts(out, text);
    bk_buf_putc(out, '\n');
    free(text);
    return bk_buf_check(out, err);
}
