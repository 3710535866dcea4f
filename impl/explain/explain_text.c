/* bkcache explain, text: the store as a tree, then each manifest as the tree
 * of its key chain (every record under the records that use it), each result
 * as its layer chain, then what is unreferenced or missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/progress.h"
#include "explain_internal.h"

typedef struct text_ctx {
    const bk_explain *e;
    const bk_explain_render_opts *o;
    bk_buf *out;
} text_ctx;

static void short_digest(const text_ctx *t, const char *digest, char *out, size_t size)
{
    bk_explain_short_digest(digest, t->o->full_digests, out, size);
}

static void age_of(const text_ctx *t, const bk_explain_object *o, char *out, size_t size)
{
    if (t->o->now == 0 || !o->has_last_modified)
        snprintf(out, size, "%s", "");
    else
        bk_explain_format_age(t->o->now, o->last_modified, out, size);
}

static const char *record_name(const text_ctx *t, const char *digest)
{
    const char *l = bk_explain_label_of(t->e, digest);
    return l ? l : "";
}

/* ---- the store ---- */

static void tree_line(text_ctx *t, const char *indent, int last, const char *name,
                      const bk_explain_object *o, const char *note)
{
    char size[32], age[32];
    bk_format_bytes(o->size, size, sizeof size);
    age_of(t, o, age, sizeof age);
    bk_buf_printf(t->out, "%s%s %-*s %10s  %-4s  %s\n", indent, last ? "└──" : "├──",
                  t->o->full_digests ? 71 : 24, name, size, age, note);
}

static void blob_users(const text_ctx *t, const bk_explain_blob *b, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    if (b->n_manifests == 0) {
        snprintf(out, size, "UNREFERENCED");
        return;
    }
    for (size_t i = 0; i < b->n_manifests && used + 1 < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "used by ",
                         t->e->manifests[b->manifests[i]].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void manifest_note(const bk_explain *e, const bk_explain_manifest *m, char *out, size_t size)
{
    if (m->same_as >= 0)
        snprintf(out, size, "identical to %s", e->manifests[m->same_as].name);
    else if (m->config == NULL)
        snprintf(out, size, "UNREADABLE");
    else
        snprintf(out, size, "%zu records, %zu layers%s", m->config->n_records, m->config->n_layers,
                 m->error ? ", INVALID" : "");
}

static void render_store(text_ctx *t)
{
    const bk_explain *e = t->e;
    char name[128], note[512];
    if (e->kind == BK_EXPLAIN_BUCKET) {
        bk_buf_printf(t->out,
                      "bucket %s, prefix \"%s\": manifests under \"%s%s\", blobs under "
                      "\"%s%s\"\n",
                      e->bucket, e->prefix, e->prefix, e->manifests_prefix, e->prefix,
                      e->blobs_prefix);
        bk_buf_printf(t->out, "%s\n", e->source);
        int has_blobs = e->n_blobs > 0 || e->n_others > 0;
        bk_buf_printf(t->out, "%s %s%s (%zu)\n", has_blobs ? "├──" : "└──", e->prefix,
                      e->manifests_prefix, e->n_manifests);
        const char *ind = has_blobs ? "│   " : "    ";
        for (size_t i = 0; i < e->n_manifests; i++) {
            manifest_note(e, &e->manifests[i], note, sizeof note);
            tree_line(t, ind, i + 1 == e->n_manifests, e->manifests[i].name, &e->manifests[i].obj,
                      note);
        }
    } else if (e->kind == BK_EXPLAIN_LOCAL) {
        bk_buf_printf(t->out, "type=local cache directory, tag \"%s\"\n%s/\n",
                      e->n_manifests ? e->manifests[0].name : "", e->source);
    } else if (e->kind == BK_EXPLAIN_GRAPH) {
        bk_buf_printf(t->out,
                      "graph fixture %s: the manifest an export writes, blobs from the graph's "
                      "store\n",
                      e->source);
        return;
    } else {
        return;
    }

    size_t n_present = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < e->n_blobs; i++)
        if (e->blobs[i].present == 1) {
            n_present++;
            bytes += e->blobs[i].obj.size;
        }
    char total[32];
    bk_format_bytes(bytes, total, sizeof total);
    if (e->kind == BK_EXPLAIN_BUCKET)
        bk_buf_printf(t->out, "└── %s%s (%zu, %s)\n", e->prefix, e->blobs_prefix, n_present, total);
    else
        bk_buf_printf(t->out, "└── blobs/sha256/ (%zu layer blobs, %s)\n", n_present, total);
    size_t shown = 0, to_show = n_present + e->n_others;
    for (size_t i = 0; i < e->n_blobs; i++) {
        const bk_explain_blob *b = &e->blobs[i];
        if (b->present != 1)
            continue;
        short_digest(t, b->digest, name, sizeof name);
        if (e->kind == BK_EXPLAIN_LOCAL && !t->o->full_digests)
            snprintf(name, sizeof name, "%.12s", b->digest + 7);
        else if (e->kind == BK_EXPLAIN_LOCAL)
            snprintf(name, sizeof name, "%s", b->digest + 7);
        blob_users(t, b, note, sizeof note);
        tree_line(t, "    ", ++shown == to_show, name, &b->obj, note);
    }
    for (size_t i = 0; i < e->n_others; i++) {
        const bk_explain_other *o = &e->others[i];
        const char *slash = strrchr(o->obj.key, '/');
        snprintf(name, sizeof name, "%.*s", t->o->full_digests ? 71 : 12,
                 slash ? slash + 1 : o->obj.key);
        tree_line(t, "    ", ++shown == to_show, name, &o->obj, o->role);
    }
}

/* ---- one manifest as a tree ---- */

#define TREE_PREFIX_MAX 512

typedef struct tree_frame {
    int64_t ri;         /* the record whose inputs are listed */
    size_t input, link; /* the next link to list */
    size_t seen;        /* links listed so far */
    size_t n_links;     /* links of all its inputs */
    size_t prefix_len;  /* its lines' prefix: the start of tree_state.prefix */
} tree_frame;

typedef struct tree_state {
    const bk_cache_config *cfg;
    unsigned char *shown;         /* per record: printed already */
    unsigned char *on_path;       /* per record: on the current path (loop guard) */
    int64_t *chain;               /* scratch, n_layers */
    tree_frame *path;             /* per record, the records being listed */
    char prefix[TREE_PREFIX_MAX]; /* the deepest frame's prefix; each frame's is a start of it */
} tree_state;

static void layer_line(text_ctx *t, const char *prefix, const bk_cache_config *cfg, int64_t li,
                       int is_base, int is_top)
{
    const bk_cache_layer *l = &cfg->layers[li];
    char blob[96], diff[96], size[32], when[64];
    short_digest(t, l->blob, blob, sizeof blob);
    const bk_layer_annotations *a = l->annotations;
    bk_buf_printf(t->out, "%s[%lld] %s", prefix, (long long)li, blob);
    if (a != NULL) {
        short_digest(t, a->diff_id, diff, sizeof diff);
        bk_format_bytes((uint64_t)(a->size > 0 ? a->size : 0), size, sizeof size);
        bk__explain_format_time(a->created_at, when, sizeof when);
        bk_buf_printf(t->out, "  %9s  %s  diffID %s  %s", size, when, diff,
                      a->media_type && *a->media_type ? a->media_type : "(no media type)");
    } else {
        bk_buf_printf(t->out, "  (no annotations)");
    }
    if (is_base && is_top)
        bk_buf_puts(t->out, "  base+top");
    else if (is_base)
        bk_buf_puts(t->out, "  base");
    else if (is_top)
        bk_buf_puts(t->out, "  top");
    if (bk__explain_blob_state(t->e, l->blob) == 0)
        bk_buf_puts(t->out, "  MISSING");
    bk_buf_putc(t->out, '\n');
}

static void result_lines(text_ctx *t, tree_state *st, const char *prefix, const bk_cache_record *r)
{
    const bk_cache_config *cfg = st->cfg;
    const bk_cache_result *newest = bk__explain_newest_result(r);
    for (size_t i = 0; i < r->n_results; i++) {
        const bk_cache_result *res = &r->results[i];
        char when[64];
        bk__explain_format_time(res->created_at, when, sizeof when);
        int broken = 1;
        size_t n = 0;
        if (res->layer >= 0 && (uint64_t)res->layer < cfg->n_layers)
            n = bk__explain_chain(cfg, res->layer, st->chain, &broken);
        bk_buf_printf(t->out, "%sresult (createdAt %s): %zu layer%s, base → top%s%s\n", prefix,
                      when, n, n == 1 ? "" : "s",
                      r->n_results > 1 && res != newest ? " (older: an import keeps the newest)"
                                                        : "",
                      broken ? "  BROKEN CHAIN (index out of range or loop)" : "");
        char inner[512];
        snprintf(inner, sizeof inner, "%s  ", prefix);
        for (size_t k = 0; k < n; k++)
            layer_line(t, inner, cfg, st->chain[k], k == 0, k + 1 == n);
    }
    for (size_t i = 0; i < r->n_chains; i++)
        bk_buf_printf(t->out, "%schains[%zu]: %zu layers (old form; read as a result)\n", prefix, i,
                      r->chains[i].n_layers);
    if (r->n_results == 0 && r->n_chains == 0)
        bk_buf_printf(t->out, "%sno result%s\n", prefix,
                      r->n_inputs == 0 ? " (a root: roots never export one)" : "");
}

static void record_header(text_ctx *t, const bk_cache_config *cfg, int64_t ri)
{
    char dg[96];
    const bk_cache_record *r = &cfg->records[ri];
    short_digest(t, r->digest, dg, sizeof dg);
    const char *name = record_name(t, r->digest);
    bk_buf_printf(t->out, "[%lld] %s%s%s", (long long)ri, dg, *name ? "  " : "", name);
}

/* The prefix of a record's lines is its parent's plus one piece, cut at
 * TREE_PREFIX_MAX - 1 bytes as snprintf into a buffer of that size cuts it. */
static size_t extend_prefix(char *prefix, size_t len, const char *piece)
{
    size_t n = strlen(piece);
    if (n > TREE_PREFIX_MAX - 1 - len)
        n = TREE_PREFIX_MAX - 1 - len;
    memcpy(prefix + len, piece, n);
    prefix[len + n] = '\0';
    return len + n;
}

/* Opens record ri, whose header the caller printed: its results, or a mark
 * when it is a loop or was shown before. 1 when its inputs follow. */
static int open_record(text_ctx *t, tree_state *st, tree_frame *f, int64_t ri, size_t prefix_len)
{
    const bk_cache_record *r = &st->cfg->records[ri];
    if (st->on_path[ri]) {
        bk_buf_puts(t->out, "  LOOP: this record depends on itself\n");
        return 0;
    }
    if (st->shown[ri]) {
        bk_buf_puts(t->out, "  (shown above)\n");
        return 0;
    }
    bk_buf_putc(t->out, '\n');
    st->shown[ri] = 1;
    st->on_path[ri] = 1;
    memset(f, 0, sizeof *f);
    f->ri = ri;
    f->prefix_len = prefix_len;
    for (size_t i = 0; i < r->n_inputs; i++)
        f->n_links += r->inputs[i].n_links;
    char detail[TREE_PREFIX_MAX];
    snprintf(detail, sizeof detail, "%.*s%s", (int)prefix_len, st->prefix,
             f->n_links ? "│   " : "    ");
    result_lines(t, st, detail, r);
    return 1;
}

/* A record and, below it, the records its inputs link to, depth first. The
 * path is an explicit stack: a config from a bucket may chain any number of
 * records, far deeper than the call stack goes. A record is expanded once
 * (shown), so st->path holds n_records frames. */
static void render_record(text_ctx *t, tree_state *st, int64_t root)
{
    const bk_cache_config *cfg = st->cfg;
    st->prefix[0] = '\0';
    size_t depth = open_record(t, st, &st->path[0], root, 0);
    while (depth > 0) {
        tree_frame *f = &st->path[depth - 1];
        const bk_cache_record *r = &cfg->records[f->ri];
        if (f->input == r->n_inputs) {
            st->on_path[f->ri] = 0;
            depth--;
            continue;
        }
        const bk_input_list *in = &r->inputs[f->input];
        const char *prefix = st->prefix;
        int plen = (int)f->prefix_len;
        if (f->link == 0 && in->n_links == 0)
            bk_buf_printf(t->out, "%.*s%s input %zu: NO LINKS (invalid)\n", plen, prefix,
                          f->seen + 1 == f->n_links ? "└──" : "├──", f->input);
        if (f->link == in->n_links) {
            f->input++;
            f->link = 0;
            continue;
        }
        const bk_cache_input *link = &in->links[f->link];
        int last = ++f->seen == f->n_links;
        bk_buf_printf(t->out, "%.*s%s input %zu", plen, prefix, last ? "└──" : "├──", f->input);
        if (in->n_links > 1)
            bk_buf_printf(t->out, " (link %zu of %zu)", f->link + 1, in->n_links);
        if (link->selector && *link->selector)
            bk_buf_printf(t->out, " selector \"%s\"", link->selector);
        bk_buf_puts(t->out, " ← ");
        f->link++;
        if (link->link < 0 || (uint64_t)link->link >= cfg->n_records) {
            bk_buf_printf(t->out, "record %lld: OUT OF RANGE\n", (long long)link->link);
            continue;
        }
        record_header(t, cfg, link->link);
        size_t child_len = extend_prefix(st->prefix, f->prefix_len, last ? "    " : "│   ");
        depth += (size_t)open_record(t, st, &st->path[depth], link->link, child_len);
    }
}

/* "N records (M with a result), L layers, B blobs (size)". */
static void config_summary(text_ctx *t, const bk_cache_config *cfg)
{
    size_t n_blobs = 0;
    size_t *first = bk_config_blob_layers(cfg, &n_blobs);
    uint64_t bytes = 0;
    for (size_t i = 0; first != NULL && i < n_blobs; i++) {
        const bk_cache_layer *l = &cfg->layers[first[i]];
        if (l->annotations && l->annotations->size > 0)
            bytes += (uint64_t)l->annotations->size;
    }
    free(first);
    char total[32];
    bk_format_bytes(bytes, total, sizeof total);
    size_t with_result = 0;
    for (size_t i = 0; i < cfg->n_records; i++)
        with_result += cfg->records[i].n_results > 0 || cfg->records[i].n_chains > 0;
    bk_buf_printf(t->out,
                  "%zu records (%zu with a result), %zu layers, %zu blobs (%s). Each record "
                  "is shown\nwith its result, then the records its inputs link to "
                  "([index] digest%s):\n",
                  cfg->n_records, with_result, cfg->n_layers, n_blobs, total,
                  t->e->n_labels ? " name" : "");
}

/* Every record as a tree of what its inputs link to: leaves first (what a
 * build asks for), then whatever a loop hid. */
static int render_records(text_ctx *t, const bk_cache_config *cfg, tree_state *st)
{
    unsigned char *used = calloc(cfg->n_records + 1, 1);
    if (used == NULL)
        return -1;
    for (size_t i = 0; i < cfg->n_records; i++)
        for (size_t k = 0; k < cfg->records[i].n_inputs; k++)
            for (size_t l = 0; l < cfg->records[i].inputs[k].n_links; l++) {
                int64_t to = cfg->records[i].inputs[k].links[l].link;
                if (to >= 0 && (uint64_t)to < cfg->n_records)
                    used[to] = 1;
            }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cfg->n_records; i++) {
            if (st->shown[i] || (pass == 0 && used[i]))
                continue;
            bk_buf_putc(t->out, '\n');
            record_header(t, cfg, (int64_t)i);
            render_record(t, st, (int64_t)i);
        }
    free(used);
    return 0;
}

/* Layers no result reaches are carried for nothing. */
static int render_unreached_layers(text_ctx *t, const bk_cache_config *cfg, tree_state *st)
{
    unsigned char *reached = calloc(cfg->n_layers + 1, 1);
    if (reached == NULL)
        return -1;
    for (size_t i = 0; i < cfg->n_records; i++)
        for (size_t k = 0; k < cfg->records[i].n_results; k++) {
            int broken;
            int64_t top = cfg->records[i].results[k].layer;
            if (top < 0 || (uint64_t)top >= cfg->n_layers)
                continue;
            size_t n = bk__explain_chain(cfg, top, st->chain, &broken);
            for (size_t j = 0; j < n; j++)
                reached[st->chain[j]] = 1;
        }
    for (size_t i = 0; i < cfg->n_layers; i++)
        if (!reached[i]) {
            bk_buf_printf(t->out, "layer not reached by any result: ");
            layer_line(t, "", cfg, (int64_t)i, cfg->layers[i].parent < 0, 0);
        }
    free(reached);
    return 0;
}

static void render_config(text_ctx *t, const bk_cache_config *cfg)
{
    config_summary(t, cfg);
    tree_state st = {0};
    st.cfg = cfg;
    st.shown = calloc(cfg->n_records + 1, 1);
    st.on_path = calloc(cfg->n_records + 1, 1);
    st.chain = calloc(cfg->n_layers + 1, sizeof *st.chain);
    st.path = calloc(cfg->n_records + 1, sizeof *st.path);
    if (st.shown == NULL || st.on_path == NULL || st.chain == NULL || st.path == NULL ||
        render_records(t, cfg, &st) != 0 || render_unreached_layers(t, cfg, &st) != 0)
        t->out->failed = 1;
    free(st.shown);
    free(st.on_path);
    free(st.chain);
    free(st.path);
}

static void render_manifest(text_ctx *t, size_t mi)
{
    const bk_explain *e = t->e;
    const bk_explain_manifest *m = &e->manifests[mi];
    char size[32], age[32];
    bk_format_bytes(m->obj.size, size, sizeof size);
    age_of(t, &m->obj, age, sizeof age);
    bk_buf_printf(t->out, "\n== manifest %s", m->name);
    if (strcmp(m->name, m->obj.key) != 0)
        bk_buf_printf(t->out, "  (%s)", m->obj.key);
    bk_buf_printf(t->out, "  %s%s%s\n", size, *age ? ", age " : "", age);
    if (m->same_as >= 0) {
        bk_buf_printf(t->out, "identical to %s: one export wrote both names\n",
                      e->manifests[m->same_as].name);
        return;
    }
    if (m->error)
        bk_buf_printf(t->out, "PROBLEM: %s\n", m->error);
    if (m->config != NULL)
        render_config(t, m->config);
}

/* ---- call-outs ---- */

static void render_callouts(text_ctx *t)
{
    const bk_explain *e = t->e;
    char dg[96], size[32], age[32];
    if (!e->blobs_checked) {
        bk_buf_puts(t->out, "\nBlobs were not looked up (a manifest file alone); explain the "
                            "bucket with --cache-from to see missing and unreferenced blobs.\n");
        return;
    }
    size_t n_missing = 0;
    for (size_t i = 0; i < e->n_blobs; i++)
        n_missing += e->blobs[i].present == 0;
    bk_buf_printf(t->out, "\nreferenced blobs missing from the %s: %zu\n",
                  e->kind == BK_EXPLAIN_BUCKET ? "bucket" : "store", n_missing);
    if (n_missing > 0)
        bk_buf_puts(t->out, "  (BuildKit's importer fails when it needs one; `bkcache import` "
                            "drops the results that need them)\n");
    for (size_t i = 0; i < e->n_blobs; i++) {
        const bk_explain_blob *b = &e->blobs[i];
        if (b->present != 0)
            continue;
        char users[512];
        blob_users(t, b, users, sizeof users);
        short_digest(t, b->digest, dg, sizeof dg);
        bk_buf_printf(t->out, "  %s  %s\n", dg, users);
    }
    if (!e->blobs_listed)
        return;
    size_t n_unref = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < e->n_blobs; i++)
        if (e->blobs[i].present == 1 && e->blobs[i].n_manifests == 0) {
            n_unref++;
            bytes += e->blobs[i].obj.size;
        }
    bk_format_bytes(bytes, size, sizeof size);
    bk_buf_printf(t->out, "blobs referenced by no manifest: %zu (%s)\n", n_unref, size);
    if (n_unref > 0)
        bk_buf_puts(t->out, "  (left by earlier exports; nothing deletes them: a lifecycle rule "
                            "on the blobs prefix can)\n");
    for (size_t i = 0; i < e->n_blobs; i++) {
        const bk_explain_blob *b = &e->blobs[i];
        if (b->present != 1 || b->n_manifests > 0)
            continue;
        short_digest(t, b->digest, dg, sizeof dg);
        bk_format_bytes(b->obj.size, size, sizeof size);
        age_of(t, &b->obj, age, sizeof age);
        bk_buf_printf(t->out, "  %s  %10s  %s%s\n", dg, size, *age ? "age " : "", age);
    }
    if (e->kind == BK_EXPLAIN_BUCKET) {
        size_t n_other = e->n_others;
        bk_buf_printf(t->out, "other objects under the prefixes: %zu\n", n_other);
        for (size_t i = 0; i < n_other; i++) {
            bk_format_bytes(e->others[i].obj.size, size, sizeof size);
            bk_buf_printf(t->out, "  %s  %s  %s\n", e->others[i].obj.key, size, e->others[i].role);
        }
    }
}

bk_code bk_explain_text(const bk_explain *e, const bk_explain_render_opts *opts, bk_buf *out,
                        bk_err *err)
{
    bk_explain_render_opts defaults = {0};
    text_ctx t = {e, opts ? opts : &defaults, out};
    render_store(&t);
    if (e->n_manifests == 0)
        bk_buf_puts(out, "\nno manifests: an import finds an empty cache\n");
    for (size_t i = 0; i < e->n_manifests; i++)
        render_manifest(&t, i);
    render_callouts(&t);
    return bk_buf_check(out, err);
}
