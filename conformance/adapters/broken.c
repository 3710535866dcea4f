/* Deliberately broken adapters: bkcache's exporter with one flaw each, built
 * once per flaw (BKCONF_FLAW_*). They exist to prove that the conformance
 * suites catch real mistakes: each CTest conformance.broken_* expects its
 * specific checks to FAIL and unrelated ones to PASS.
 *
 *   manifest-first  writes the manifest before any blob (then exports normally)
 *   no-createdat    overwrites the manifest with one whose layer annotations
 *                   lack createdAt (Go never omits it)
 *   reupload        uploads every blob without asking whether it is there
 *
 * Import is bkcache's own (exec of bkcache import), so only export is broken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <jansson.h>

#include "bkcache/attrs.h"
#include "bkcache/chains.h"
#include "bkcache/exporter.h"
#include "bkcache/graph.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static bk_code put_manifests(bk_s3_client *client, const bk_s3_attrs *attrs, const char *data,
                             size_t len, bk_err *err)
{
    for (size_t i = 0; i < attrs->n_names; i++) {
        char *key = bk_s3_attrs_manifest_key(attrs, attrs->names[i]);
        bk_s3_result res = BK_S3_RESULT_INIT;
        bk_code rc = key ? bk_s3_put_mem(client, key, data, len, NULL, &res, err) : BK_ENOMEM;
        bk_s3_result_clear(&res);
        free(key);
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

#if defined(BKCONF_FLAW_no_createdat)
/* The same manifest with createdAt removed from every layer's annotations. */
static char *strip_created_at(const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, 0, NULL);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(doc, "layers"), i, l)
    {
        json_object_del(json_object_get(l, "annotations"), "createdAt");
    }
    char *out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return out;
}
#endif

static int do_export(int argc, char **argv)
{
    const char *graph_path = arg_value(argc, argv, "--graph");
    const char *store_dir = arg_value(argc, argv, "--store");
    const char *cache_to = arg_value(argc, argv, "--cache-to");
    if (graph_path == NULL || store_dir == NULL || cache_to == NULL) {
        fprintf(stderr, "usage: %s export --graph FILE --store DIR --cache-to ATTRS\n", argv[0]);
        return 2;
    }
    bk_err err;
    bk_err_clear(&err);
    bk_s3_attrs attrs;
    if (bk_s3_attrs_parse(cache_to, NULL, &attrs, &err) != BK_OK) {
        fprintf(stderr, "broken adapter: %s\n", err.msg);
        return 2;
    }
    int status = 1;
    bk_graph *graph = NULL;
    bk_chains *chains = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    bk_s3_client *client = NULL;
    bk_buf enc = BK_BUF_INIT;
    enum bk_export_mode mode = attrs.mode == BK_MODE_MAX ? BK_EXPORT_MAX : BK_EXPORT_MIN;
    if (bk_graph_load(graph_path, &graph, &err) != BK_OK ||
        bk_chains_from_graph(graph, mode, &chains, &err) != BK_OK ||
        bk_chains_marshal(chains, BK_MARSHAL_ANNOTATIONS, bk_graph_store_has, graph, &cfg, &err) !=
            BK_OK ||
        (store = bk_store_open(store_dir, 0, &err)) == NULL ||
        (client = bk_s3cache_client_new(&attrs, NULL, &err)) == NULL ||
        bk_config_encode(cfg, &enc, &err) != BK_OK)
        goto out;

#if defined(BKCONF_FLAW_manifest_first)
    if (put_manifests(client, &attrs, enc.data, enc.len, &err) != BK_OK)
        goto out;
#endif
#if defined(BKCONF_FLAW_reupload)
    size_t n = 0;
    const char **blobs = bk_config_blobs(cfg, &n);
    for (size_t i = 0; blobs != NULL && i < n; i++) {
        int fd = -1;
        uint64_t size = 0;
        char *key = bk_s3_attrs_blob_key(&attrs, blobs[i]);
        bk_s3_result res = BK_S3_RESULT_INIT;
        bk_code rc = bk_store_open_blob(store, blobs[i], &fd, &size, &err);
        if (rc == BK_OK)
            rc = bk_s3_upload_fd(client, key, fd, 0, size, NULL, &res, &err);
        if (fd >= 0)
            close(fd);
        bk_s3_result_clear(&res);
        free(key);
        if (rc != BK_OK) {
            free(blobs);
            goto out;
        }
    }
    free(blobs);
#endif
    bk_export_options o = {0};
    o.attrs = &attrs;
    o.client = client;
    o.store = store;
    bk_export_summary summary;
    if (bk_export_config(&o, cfg, &summary, &err) != BK_OK)
        goto out;
#if defined(BKCONF_FLAW_no_createdat)
    char *stripped = strip_created_at(enc.data, enc.len);
    bk_code rc = stripped ? put_manifests(client, &attrs, stripped, strlen(stripped), &err)
                          : bk_err_set(&err, BK_ENOMEM, "out of memory");
    free(stripped);
    if (rc != BK_OK)
        goto out;
#endif
    (void)put_manifests;
    status = 0;
out:
    if (status != 0)
        fprintf(stderr, "broken adapter: export failed: %s\n", err.msg);
    bk_buf_free(&enc);
    bk_s3_client_free(client);
    bk_store_free(store);
    bk_config_free(cfg);
    bk_chains_free(chains);
    bk_graph_free(graph);
    bk_s3_attrs_free(&attrs);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        return do_export(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "import") == 0) {
        /* bkcache's own importer, same arguments. */
        char **args = calloc((size_t)argc + 3, sizeof *args);
        if (args == NULL)
            return 1;
        args[0] = (char *)BKCONF_BIN_DIR "/bkcache";
        for (int i = 1; i < argc; i++)
            args[i] = argv[i];
        args[argc] = "--progress";
        args[argc + 1] = "quiet";
        execv(args[0], args);
        perror("broken adapter: exec bkcache");
        free(args);
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "capabilities") == 0)
        return 0; /* none */
    fprintf(stderr, "usage: %s export|import|capabilities ...\n", argv[0]);
    return 2;
}
