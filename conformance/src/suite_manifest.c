/* manifest: the cache config an export writes (SPEC 3; field report 34):
 * it parses under BuildKit's rules, its bytes are what Go's json.Marshal
 * writes, every layer is annotated (mediaType, diffID, size, createdAt) with
 * OCI media types, and the annotations agree with the blobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ties.h"

#define SUITE "manifest"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_manifest_checks[] = {
    {"export", CONF_REQUIRED, NULL},
    {"parses", CONF_REQUIRED, NULL},
    {"go_encoding", CONF_REQUIRED, NULL},
    {"annotations", CONF_REQUIRED, NULL},
    {"oci_media_types", CONF_REQUIRED, NULL},
    {"sizes_match_objects", CONF_REQUIRED, NULL},
    {"diffids_match_graph", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

static const char *layer_types[] = {"application/vnd.oci.image.layer.v1.tar",
                                    "application/vnd.oci.image.layer.v1.tar+gzip",
                                    "application/vnd.oci.image.layer.v1.tar+zstd", NULL};

static void check_parses(conf_ctx *c, const bk_buf *m)
{
    bk_cache_config *cfg = NULL;
    bk_err err;
    bk_err_clear(&err);
    if (bk_config_parse(m->data, m->len, &cfg, &err) != BK_OK) {
        conf_fail(c, SUITE, "parses", "%s", err.msg);
        return;
    }
    if (bk_config_validate(cfg, BK_VALIDATE_S3, &err) != BK_OK)
        conf_fail(c, SUITE, "parses", "BuildKit's importer would refuse it: %s", err.msg);
    else
        conf_pass(c, SUITE, "parses", "%zu layers, %zu records", cfg->n_layers, cfg->n_records);

    bk_buf enc = BK_BUF_INIT;
    if (bk_config_encode(cfg, &enc, &err) != BK_OK) {
        conf_fail(c, SUITE, "go_encoding", "%s", err.msg);
    } else if (enc.len != m->len || memcmp(enc.data, m->data, m->len) != 0) {
        size_t at = conf_first_difference(m->data, m->len, enc.data, enc.len);
        conf_detail_bytes(c, SUITE, "go_encoding",
                          "the manifest against Go's json.Marshal of what it decodes to", enc.data,
                          enc.len, m->data, m->len, 0);
        conf_fail(c, SUITE, "go_encoding",
                  "bytes differ from Go's json.Marshal at offset %zu: got \"%.40s\", Go writes "
                  "\"%.40s\"",
                  at, m->data + at, enc.data + at);
    } else {
        conf_pass(c, SUITE, "go_encoding", "%zu bytes, byte-identical", m->len);
    }
    bk_buf_clear(&enc);
    bk_config_free(cfg);
}

static int is_digest(const char *s)
{
    if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return 0;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* digest -> diffID of every layer descriptor in a graph fixture. */
static json_t *graph_diffids(conf_ctx *c, const char *graph)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/graphs/%s.json", c->fixtures, graph);
    json_t *g = json_load_file(path, 0, NULL);
    json_t *map = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(g, "vertices"), i, v)
    {
        size_t k;
        json_t *l;
        json_array_foreach(json_object_get(json_object_get(v, "result"), "layers"), k, l)
        {
            const char *d = json_string_value(json_object_get(l, "digest"));
            if (d != NULL)
                json_object_set(map, d, json_object_get(l, "diffID"));
        }
    }
    json_decref(g);
    return map;
}

static void check_annotations(conf_ctx *c, const bk_buf *m, const char *graph,
                              const char *blob_root)
{
    json_t *doc = json_loadb(m->data, m->len, 0, NULL);
    json_t *layers = json_object_get(doc, "layers");
    json_t *diffids = graph_diffids(c, graph);
    char why_ann[600] = "", why_mt[600] = "", why_size[600] = "", why_diff[600] = "";
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        const char *blob = json_string_value(json_object_get(l, "blob"));
        json_t *a = json_object_get(l, "annotations");
        if (!json_is_object(a)) {
            if (!why_ann[0])
                snprintf(why_ann, sizeof why_ann, "layers[%zu] (%s) has no annotations", i,
                         blob ? blob : "?");
            continue;
        }
        const char *mt = json_string_value(json_object_get(a, "mediaType"));
        const char *diff = json_string_value(json_object_get(a, "diffID"));
        json_t *size = json_object_get(a, "size");
        json_t *created = json_object_get(a, "createdAt");
        if (!why_ann[0]) {
            if (mt == NULL || mt[0] == '\0')
                snprintf(why_ann, sizeof why_ann, "layers[%zu].annotations has no mediaType", i);
            else if (!is_digest(diff))
                snprintf(why_ann, sizeof why_ann, "layers[%zu].annotations.diffID is not a digest",
                         i);
            else if (!json_is_integer(size) || json_integer_value(size) <= 0)
                snprintf(why_ann, sizeof why_ann, "layers[%zu].annotations.size is missing", i);
            else if (!json_is_string(created))
                snprintf(why_ann, sizeof why_ann,
                         "layers[%zu].annotations has no createdAt (Go never omits it)", i);
        }
        int oci = 0;
        for (size_t k = 0; mt != NULL && layer_types[k] != NULL && !oci; k++)
            oci = strcmp(mt, layer_types[k]) == 0;
        if (!oci && !why_mt[0])
            snprintf(why_mt, sizeof why_mt, "layers[%zu] mediaType %s is not an OCI layer type", i,
                     mt ? mt : "(none)");
        if (blob != NULL && json_is_integer(size) && !why_size[0]) {
            char key[1024];
            snprintf(key, sizeof key, "%s%s", blob_root, blob);
            bk_s3_result res = BK_S3_RESULT_INIT;
            bk_err err;
            bk_err_clear(&err);
            int st = conf_stat(c, key, &res, &err);
            if (st != 1)
                snprintf(why_size, sizeof why_size, "%s: %s", key,
                         st == 0 ? "does not exist" : err.msg);
            else if (res.size != (uint64_t)json_integer_value(size))
                snprintf(why_size, sizeof why_size,
                         "%s: annotations say %lld bytes, the object has %llu", key,
                         (long long)json_integer_value(size), (unsigned long long)res.size);
            bk_s3_result_clear(&res);
        }
        const char *want = blob ? json_string_value(json_object_get(diffids, blob)) : NULL;
        if (!why_diff[0] && (want == NULL || diff == NULL || strcmp(want, diff) != 0))
            snprintf(why_diff, sizeof why_diff, "layers[%zu] (%s): diffID %s, the graph says %s", i,
                     blob ? blob : "?", diff ? diff : "(none)", want ? want : "(unknown blob)");
    }
    size_t n = json_array_size(layers);
    if (n == 0)
        snprintf(why_ann, sizeof why_ann, "the manifest has no layers");
    if (why_ann[0])
        conf_fail(c, SUITE, "annotations", "%s", why_ann);
    else
        conf_pass(c, SUITE, "annotations", "%zu layers fully annotated", n);
    if (why_mt[0])
        conf_fail(c, SUITE, "oci_media_types", "%s", why_mt);
    else
        conf_pass(c, SUITE, "oci_media_types", "%zu layers", n);
    if (why_size[0])
        conf_fail(c, SUITE, "sizes_match_objects", "%s", why_size);
    else
        conf_pass(c, SUITE, "sizes_match_objects", "%zu layers", n);
    if (why_diff[0])
        conf_fail(c, SUITE, "diffids_match_graph", "%s", why_diff);
    else
        conf_pass(c, SUITE, "diffids_match_graph", "%zu layers", n);
    json_decref(diffids);
    json_decref(doc);
}

void suite_manifest(conf_ctx *c)
{
    char prefix[256];
    conf_case_prefix(c, "manifest", prefix, sizeof prefix);
    /* multistage: Docker-typed base layers in the graph, so the OCI
     * conversion is exercised, and a selector on an input. */
    conf_export_opts o = {.graph = "multistage", .prefix = prefix, .extra = "mode=max"};
    if (!conf_export_ok(c, SUITE, "export", &o))
        return;
    char key[512], blob_root[512];
    snprintf(key, sizeof key, "%smanifests/buildkit", prefix);
    snprintf(blob_root, sizeof blob_root, "%sblobs/", prefix);
    bk_buf m = BK_BUF_INIT;
    if (conf_get_ok(c, SUITE, "parses", key, &m)) {
        check_parses(c, &m);
        check_annotations(c, &m, "multistage", blob_root);
    }
    bk_buf_clear(&m);
}
