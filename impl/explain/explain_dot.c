/* bkcache explain, Graphviz: one cluster per manifest; records are boxes,
 * every input link an edge from the linked record (labelled with its input
 * number and selector), every distinct result chain a stack of layers (top
 * layer on top) hanging off the records whose result it is. Missing blobs are
 * red; unreferenced blobs get a box of their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/progress.h"
#include "explain_internal.h"

#define COLOR_RESULT "#dbe9f6"
#define COLOR_ROOT "#eeeeee"
#define COLOR_PLAIN "#ffffff"
#define COLOR_LAYER "#fff2cc"
#define COLOR_MISSING "#f4cccc"

/* Text inside an HTML-like label. */
static void html(bk_buf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        switch (*s) {
        case '&':
            bk_buf_puts(b, "&amp;");
            break;
        case '<':
            bk_buf_puts(b, "&lt;");
            break;
        case '>':
            bk_buf_puts(b, "&gt;");
            break;
        case '"':
            bk_buf_puts(b, "&quot;");
            break;
        default:
            if ((unsigned char)*s < 0x20)
                bk_buf_putc(b, ' ');
            else
                bk_buf_putc(b, *s);
        }
    }
}

/* Text inside a double-quoted attribute. */
static void quoted(bk_buf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        if (*s == '"' || *s == '\\') {
            bk_buf_putc(b, '\\');
            bk_buf_putc(b, *s);
        } else {
            bk_buf_putc(b, (char)((unsigned char)*s < 0x20 ? ' ' : *s));
        }
    }
}

static void record_node(bk_buf *b, const bk_explain *e, const bk_cache_config *cfg, size_t mi,
                        size_t ri)
{
    const bk_cache_record *r = &cfg->records[ri];
    char dg[96];
    bk_explain_short_digest(r->digest, 0, dg, sizeof dg);
    const char *name = bk_explain_label_of(e, r->digest);
    int has_result = r->n_results > 0 || r->n_chains > 0;
    const char *fill = has_result ? COLOR_RESULT : r->n_inputs == 0 ? COLOR_ROOT : COLOR_PLAIN;
    bk_buf_printf(b, "    m%zu_r%zu [fillcolor=\"%s\"%s, label=<", mi, ri, fill,
                  r->n_inputs == 0 ? ", style=\"rounded,filled\"" : "");
    if (name != NULL) {
        bk_buf_puts(b, "<B>");
        html(b, name);
        bk_buf_puts(b, "</B><BR/>");
    }
    bk_buf_printf(b, "<FONT FACE=\"Courier\">[%zu] ", ri);
    html(b, dg);
    bk_buf_puts(b, "</FONT>");
    if (r->n_inputs == 0)
        bk_buf_puts(b, "<BR/><I>root</I>");
    else if (!has_result)
        bk_buf_puts(b, "<BR/><I>no result</I>");
    bk_buf_puts(b, ">];\n");
}

static void stack_node(bk_buf *b, const bk_explain *e, const bk_cache_config *cfg, size_t mi,
                       int64_t top, int64_t *chain)
{
    int broken = 0;
    size_t n = bk__explain_chain(cfg, top, chain, &broken);
    bk_buf_printf(b,
                  "    m%zu_l%lld [shape=plaintext, style=\"\", label=<<TABLE BORDER=\"0\" "
                  "CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"4\">\n",
                  mi, (long long)top);
    bk_buf_printf(b,
                  "      <TR><TD BORDER=\"0\" COLSPAN=\"4\"><I>layer chain, %zu layer%s%s, top "
                  "first</I></TD></TR>\n",
                  n, n == 1 ? "" : "s", broken ? ", BROKEN" : "");
    /* One cell per fact: viewers substitute fonts, and a cell keeps its text
     * from running into the next one when theirs is wider. */
    for (size_t k = n; k-- > 0;) {
        const bk_cache_layer *l = &cfg->layers[chain[k]];
        int missing = bk__explain_blob_state(e, l->blob) == 0;
        const char *bg = missing ? COLOR_MISSING : COLOR_LAYER;
        char dg[96], size[32] = "", media[96];
        bk_explain_short_digest(l->blob, 0, dg, sizeof dg);
        const char *mt = "";
        if (l->annotations != NULL) {
            bk_format_bytes((uint64_t)(l->annotations->size > 0 ? l->annotations->size : 0), size,
                            sizeof size);
            mt = bk__explain_media_short(l->annotations->media_type, media, sizeof media);
        }
        bk_buf_printf(b, "      <TR><TD BGCOLOR=\"%s\">[%lld]</TD>", bg, (long long)chain[k]);
        bk_buf_printf(b, "<TD BGCOLOR=\"%s\" ALIGN=\"LEFT\"><FONT FACE=\"Courier\">", bg);
        html(b, dg);
        bk_buf_printf(b, "</FONT></TD><TD BGCOLOR=\"%s\" ALIGN=\"RIGHT\">", bg);
        html(b, size);
        bk_buf_printf(b, "</TD><TD BGCOLOR=\"%s\" ALIGN=\"LEFT\">", bg);
        html(b, mt);
        if (missing)
            bk_buf_puts(b, " <B>MISSING</B>");
        else if (k == 0)
            bk_buf_puts(b, " <I>(base)</I>");
        bk_buf_puts(b, "</TD></TR>\n");
    }
    bk_buf_puts(b, "    </TABLE>>];\n");
}

static void manifest_cluster(bk_buf *b, const bk_explain *e, size_t mi)
{
    const bk_explain_manifest *m = &e->manifests[mi];
    const bk_cache_config *cfg = m->config;
    bk_buf_printf(b, "  subgraph cluster_m%zu {\n    label=<<B>", mi);
    html(b, m->obj.key);
    bk_buf_puts(b, "</B>");
    for (size_t j = mi + 1; j < e->n_manifests; j++)
        if (e->manifests[j].same_as == (long)mi) {
            bk_buf_puts(b, " = ");
            html(b, e->manifests[j].obj.key);
        }
    if (cfg != NULL)
        bk_buf_printf(b, "<BR/>%zu records, %zu layers", cfg->n_records, cfg->n_layers);
    if (m->error != NULL) {
        bk_buf_puts(b, "<BR/><FONT COLOR=\"red\">");
        html(b, m->error);
        bk_buf_puts(b, "</FONT>");
    }
    bk_buf_puts(b, ">;\n    style=\"rounded\"; color=\"#888888\";\n");
    if (cfg == NULL) {
        bk_buf_printf(b, "    m%zu_empty [label=\"unreadable\", shape=plaintext];\n  }\n", mi);
        return;
    }
    int64_t *chain = calloc(cfg->n_layers + 1, sizeof *chain);
    unsigned char *stacked = calloc(cfg->n_layers + 1, 1);
    if (chain == NULL || stacked == NULL) {
        b->failed = 1;
        goto done;
    }
    for (size_t ri = 0; ri < cfg->n_records; ri++)
        record_node(b, e, cfg, mi, ri);
    for (size_t ri = 0; ri < cfg->n_records; ri++) {
        const bk_cache_record *r = &cfg->records[ri];
        for (size_t k = 0; k < r->n_results; k++) {
            int64_t top = r->results[k].layer;
            if (top < 0 || (uint64_t)top >= cfg->n_layers)
                continue;
            if (!stacked[top]) {
                stacked[top] = 1;
                stack_node(b, e, cfg, mi, top, chain);
            }
            char when[64];
            bk__explain_format_time(r->results[k].created_at, when, sizeof when);
            bk_buf_printf(b,
                          "    m%zu_r%zu -> m%zu_l%lld [style=dashed, arrowhead=none, "
                          "color=\"#4a86c5\", label=\"result\", tooltip=\"createdAt %s\"];\n",
                          mi, ri, mi, (long long)top, when);
        }
    }
    for (size_t ri = 0; ri < cfg->n_records; ri++) {
        const bk_cache_record *r = &cfg->records[ri];
        for (size_t i = 0; i < r->n_inputs; i++)
            for (size_t k = 0; k < r->inputs[i].n_links; k++) {
                const bk_cache_input *l = &r->inputs[i].links[k];
                if (l->link < 0 || (uint64_t)l->link >= cfg->n_records)
                    continue;
                bk_buf_printf(b, "    m%zu_r%lld -> m%zu_r%zu [label=\"in %zu", mi,
                              (long long)l->link, mi, ri, i);
                if (l->selector != NULL && *l->selector) {
                    bk_buf_puts(b, "\\n");
                    quoted(b, l->selector);
                }
                bk_buf_puts(b, "\"];\n");
            }
    }
done:
    free(chain);
    free(stacked);
    bk_buf_puts(b, "  }\n");
}

static void unreferenced_node(bk_buf *b, const bk_explain *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n_blobs; i++)
        n += e->blobs[i].present == 1 && e->blobs[i].n_manifests == 0;
    if (n == 0)
        return;
    bk_buf_puts(b, "  unreferenced [shape=plaintext, style=\"\", label=<<TABLE BORDER=\"0\" "
                   "CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\">\n"
                   "    <TR><TD BORDER=\"0\"><I>blobs referenced by no manifest</I></TD></TR>\n");
    for (size_t i = 0; i < e->n_blobs; i++) {
        const bk_explain_blob *bl = &e->blobs[i];
        if (bl->present != 1 || bl->n_manifests != 0)
            continue;
        char dg[96], size[32];
        bk_explain_short_digest(bl->digest, 0, dg, sizeof dg);
        bk_format_bytes(bl->obj.size, size, sizeof size);
        bk_buf_printf(b, "    <TR><TD ALIGN=\"LEFT\" BGCOLOR=\"%s\"><FONT FACE=\"Courier\">",
                      COLOR_ROOT);
        html(b, dg);
        bk_buf_puts(b, "</FONT> ");
        html(b, size);
        bk_buf_puts(b, "</TD></TR>\n");
    }
    bk_buf_puts(b, "  </TABLE>>];\n");
}

bk_code bk_explain_dot(const bk_explain *e, const bk_explain_render_opts *opts, bk_buf *out,
                       bk_err *err)
{
    (void)opts;
    bk_buf_puts(out, "digraph bkcache {\n  graph [rankdir=TB, fontname=\"Helvetica\", "
                     "fontsize=11, nodesep=0.3, ranksep=0.45, label=<");
    html(out, e->source);
    bk_buf_puts(out, ">, labelloc=t];\n"
                     "  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=10];\n"
                     "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (size_t i = 0; i < e->n_manifests; i++)
        if (e->manifests[i].same_as < 0)
            manifest_cluster(out, e, i);
    unreferenced_node(out, e);
    bk_buf_puts(out, "}\n");
    return bk_buf_check(out, err);
}
