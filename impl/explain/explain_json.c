/* bkcache explain, JSON: the facts of the text view for machines. Keys are
 * camelCase like the cache config's; absent facts are null, never guessed. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "explain_internal.h"

static const char *kind_name(bk_explain_kind k)
{
    switch (k) {
    case BK_EXPLAIN_BUCKET:
        return "bucket";
    case BK_EXPLAIN_LOCAL:
        return "local";
    case BK_EXPLAIN_GRAPH:
        return "graph";
    default:
        return "manifest";
    }
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *unix_time(const bk_explain_object *o)
{
    if (!o->has_last_modified)
        return json_null();
    char buf[64];
    bk__explain_format_unix(o->last_modified, buf, sizeof buf);
    return json_string(buf);
}

static json_t *go_time(bk_time t)
{
    char buf[64];
    bk__explain_format_time(t, buf, sizeof buf);
    return json_string(buf);
}

static json_t *presence(int state)
{
    return state < 0 ? json_null() : json_boolean(state == 1);
}

static json_t *record_json(const bk_explain *e, const bk_cache_config *cfg, size_t ri,
                           int64_t *chain)
{
    const bk_cache_record *r = &cfg->records[ri];
    json_t *inputs = json_array();
    for (size_t i = 0; i < r->n_inputs; i++) {
        json_t *links = json_array();
        for (size_t k = 0; k < r->inputs[i].n_links; k++) {
            const bk_cache_input *l = &r->inputs[i].links[k];
            int ok = l->link >= 0 && (uint64_t)l->link < cfg->n_records;
            json_array_append_new(
                links, json_pack("{s:I,s:o,s:s}", "link", (json_int_t)l->link, "digest",
                                 ok ? str_or_null(cfg->records[l->link].digest) : json_null(),
                                 "selector", l->selector ? l->selector : ""));
        }
        json_array_append_new(inputs, links);
    }
    const bk_cache_result *newest = bk__explain_newest_result(r);
    json_t *results = json_array();
    for (size_t i = 0; i < r->n_results; i++) {
        const bk_cache_result *res = &r->results[i];
        json_t *layers = json_array();
        int broken = 1;
        size_t n = 0;
        if (res->layer >= 0 && (uint64_t)res->layer < cfg->n_layers)
            n = bk__explain_chain(cfg, res->layer, chain, &broken);
        for (size_t k = 0; k < n; k++)
            json_array_append_new(layers, json_integer(chain[k]));
        json_array_append_new(results,
                              json_pack("{s:I,s:o,s:b,s:o,s:b}", "layer", (json_int_t)res->layer,
                                        "createdAt", go_time(res->created_at), "newest",
                                        res == newest, "chain", layers, "chainBroken", broken));
    }
    const char *label = bk_explain_label_of(e, r->digest);
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:I}", "index", (json_int_t)ri, "digest",
                     str_or_null(r->digest), "name", str_or_null(label), "inputs", inputs,
                     "results", results, "chains", (json_int_t)r->n_chains);
}

static json_t *layer_json(const bk_explain *e, const bk_cache_config *cfg, size_t li)
{
    const bk_cache_layer *l = &cfg->layers[li];
    json_t *o = json_pack("{s:I,s:o,s:I}", "index", (json_int_t)li, "blob", str_or_null(l->blob),
                          "parent", (json_int_t)l->parent);
    const bk_layer_annotations *a = l->annotations;
    json_object_set_new(o, "mediaType", a ? str_or_null(a->media_type) : json_null());
    json_object_set_new(o, "diffID", a ? str_or_null(a->diff_id) : json_null());
    json_object_set_new(o, "size", a ? json_integer(a->size) : json_null());
    json_object_set_new(o, "createdAt", a ? go_time(a->created_at) : json_null());
    json_object_set_new(o, "present", presence(bk__explain_blob_state(e, l->blob)));
    return o;
}

static json_t *manifest_json(const bk_explain *e, size_t mi)
{
    const bk_explain_manifest *m = &e->manifests[mi];
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "name", m->name, "key", m->obj.key, "size",
                  (json_int_t)m->obj.size, "lastModified", unix_time(&m->obj), "sameAs",
                  m->same_as >= 0 ? json_string(e->manifests[m->same_as].name) : json_null(),
                  "error", str_or_null(m->error));
    const bk_cache_config *cfg = m->same_as < 0 ? m->config : NULL;
    json_t *records = json_array(), *layers = json_array();
    int64_t *chain = cfg ? calloc(cfg->n_layers + 1, sizeof *chain) : NULL;
    if (cfg != NULL && chain != NULL) {
        for (size_t i = 0; i < cfg->n_records; i++)
            json_array_append_new(records, record_json(e, cfg, i, chain));
        for (size_t i = 0; i < cfg->n_layers; i++)
            json_array_append_new(layers, layer_json(e, cfg, i));
    }
    free(chain);
    json_object_set_new(o, "records", records);
    json_object_set_new(o, "layers", layers);
    return o;
}

bk_code bk_explain_json(const bk_explain *e, bk_buf *out, bk_err *err)
{
    json_t *source = json_pack("{s:s,s:s}", "kind", kind_name(e->kind), "location", e->source);
    if (e->bucket != NULL)
        json_object_update_new(source, json_pack("{s:s,s:s,s:s,s:s}", "bucket", e->bucket, "prefix",
                                                 e->prefix, "manifestsPrefix", e->manifests_prefix,
                                                 "blobsPrefix", e->blobs_prefix));
    json_t *root = json_pack("{s:o,s:b,s:b}", "source", source, "blobsListed", e->blobs_listed,
                             "blobsChecked", e->blobs_checked);
    json_t *manifests = json_array(), *blobs = json_array(), *unref = json_array(),
           *missing = json_array(), *others = json_array();
    for (size_t i = 0; i < e->n_manifests; i++)
        json_array_append_new(manifests, manifest_json(e, i));
    for (size_t i = 0; i < e->n_blobs; i++) {
        const bk_explain_blob *b = &e->blobs[i];
        json_t *users = json_array();
        for (size_t k = 0; k < b->n_manifests; k++)
            json_array_append_new(users, json_string(e->manifests[b->manifests[k]].name));
        int here = b->present == 1;
        json_array_append_new(blobs,
                              json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "digest", b->digest, "present",
                                        presence(b->present), "key",
                                        here ? str_or_null(b->obj.key) : json_null(), "size",
                                        here ? json_integer((json_int_t)b->obj.size) : json_null(),
                                        "lastModified", here ? unix_time(&b->obj) : json_null(),
                                        "referencedBy", users));
        if (here && b->n_manifests == 0 && e->blobs_listed)
            json_array_append_new(unref, json_string(b->digest));
        if (b->present == 0)
            json_array_append_new(missing, json_string(b->digest));
    }
    for (size_t i = 0; i < e->n_others; i++) {
        const bk_explain_other *o = &e->others[i];
        json_array_append_new(others, json_pack("{s:s,s:I,s:o,s:s}", "key", o->obj.key, "size",
                                                (json_int_t)o->obj.size, "lastModified",
                                                unix_time(&o->obj), "role", o->role));
    }
    json_object_set_new(root, "manifests", manifests);
    json_object_set_new(root, "blobs", blobs);
    json_object_set_new(root, "unreferenced", e->blobs_listed ? unref : json_null());
    if (!e->blobs_listed)
        json_decref(unref);
    json_object_set_new(root, "missing", e->blobs_checked ? missing : json_null());
    if (!e->blobs_checked)
        json_decref(missing);
    json_object_set_new(root, "otherObjects", others);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory while writing JSON");
    bk_buf_puts(out, text);
    bk_buf_putc(out, '\n');
    free(text);
    return bk_buf_check(out, err);
}
