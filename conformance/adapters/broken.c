/* Deliberately broken adapters: bkcache's exporter with flaws, built once per
 * flaw set (BKCONF_FLAW_*). They prove that the conformance suites catch real
 * mistakes, and that they do not fail BuildKit's own behaviour: each CTest
 * conformance.broken_* states which checks must FAIL, WARN or PASS.
 *
 * Mistakes (their checks must FAIL):
 *   manifest-first     writes the manifest before any blob (then exports normally)
 *   no-createdat       overwrites the manifest with one whose layer annotations
 *                      lack createdAt (Go never omits it)
 *   reupload           uploads every blob without asking whether it is there
 * What BuildKit at 73ed6825 does (required checks PASS, recommended ones WARN):
 *   buildkit-order     writes BuildKit's unordered ties (links of one input to one
 *                      record, a blob that is a layer under two parents) in an
 *                      order our exporter never uses (v1/utils.go:102-104, 194-195)
 *   no-touch-metadata  touches by multipart copy without metadata (s3.go:590-593)
 *   unsigned-gzip      with disable_accept_encoding=true, every request but HEAD
 *                      and ranged GETs carries an unsigned Accept-Encoding: gzip
 *                      (Go's transport; s3.go:470-480)
 *   per-layer-workers  HEADs and uploads per layer entry, so a blob that is two
 *                      layers is uploaded twice at once (s3.go:249-260, 279-305)
 * bkconf-broken-buildkit-like has all four BuildKit flaws.
 *
 * Import is bkcache's own (exec of bkcache import), so only export is broken,
 * except that unsigned-gzip also relays the import through its proxy. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bkcache/attrs.h"
#include "bkcache/chains.h"
#include "bkcache/exporter.h"
#include "bkcache/graph.h"
#include "bkcache/s3cache.h"
#include "bkcache/store.h"
#include "broken_finalize.h"
#include "broken_proxy.h"
#include "ties.h"

enum {
    FLAW_MANIFEST_FIRST = 1 << 0,
    FLAW_NO_CREATEDAT = 1 << 1,
    FLAW_REUPLOAD = 1 << 2,
    FLAW_BUILDKIT_ORDER = 1 << 3,
    FLAW_NO_TOUCH_METADATA = 1 << 4,
    FLAW_UNSIGNED_GZIP = 1 << 5,
    FLAW_PER_LAYER_WORKERS = 1 << 6,
};

static const unsigned flaws = 0
#ifdef BKCONF_FLAW_manifest_first
                              | FLAW_MANIFEST_FIRST
#endif
#ifdef BKCONF_FLAW_no_createdat
                              | FLAW_NO_CREATEDAT
#endif
#ifdef BKCONF_FLAW_reupload
                              | FLAW_REUPLOAD
#endif
#ifdef BKCONF_FLAW_buildkit_order
                              | FLAW_BUILDKIT_ORDER
#endif
#ifdef BKCONF_FLAW_no_touch_metadata
                              | FLAW_NO_TOUCH_METADATA
#endif
#ifdef BKCONF_FLAW_unsigned_gzip
                              | FLAW_UNSIGNED_GZIP
#endif
#ifdef BKCONF_FLAW_per_layer_workers
                              | FLAW_PER_LAYER_WORKERS
#endif
    ;

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static uint64_t arg_bytes(int argc, char **argv, const char *name)
{
    const char *v = arg_value(argc, argv, name);
    return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* With unsigned-gzip and disable_accept_encoding, libcurl (ours and the
 * child's) sends through the proxy: http_proxy names it, no_proxy must not
 * exempt loopback. NULL when the flaw does not apply. */
static gzip_proxy *start_gzip_proxy(const bk_s3_attrs *attrs, bk_err *err, int *failed)
{
    *failed = 0;
    if (!(flaws & FLAW_UNSIGNED_GZIP) || !attrs->client.disable_accept_encoding)
        return NULL;
    char url[64];
    gzip_proxy *p = gzip_proxy_start(url, sizeof url, err);
    if (p == NULL) {
        *failed = 1;
        return NULL;
    }
    setenv("http_proxy", url, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    return p;
}

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

/* Every blob uploaded without a HEAD first. */
static bk_code upload_all(bk_s3cache *cache, bk_store *store, const bk_cache_config *cfg,
                          bk_err *err)
{
    size_t n = 0;
    const char **blobs = bk_config_blobs(cfg, &n);
    bk_code rc = blobs != NULL ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; rc == BK_OK && i < n; i++) {
        int fd = -1;
        uint64_t size = 0;
        char *key = bk_s3cache_blob_key(cache, blobs[i]);
        bk_s3_result res = BK_S3_RESULT_INIT;
        rc = bk_store_open_blob(store, blobs[i], &fd, &size, err);
        if (rc == BK_OK)
            rc = bk_s3_upload_fd(cache->client, key, fd, 0, size, NULL, &res, err);
        if (fd >= 0)
            close(fd);
        bk_s3_result_clear(&res);
        free(key);
    }
    free(blobs);
    return rc;
}

/* BuildKit's map order: every tie group in an order other than ours. */
static bk_code reorder_ties(bk_cache_config *cfg, bk_err *err)
{
    unsigned seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    return conf_ties_shuffle(cfg, &seed, NULL, err);
}

/* The blobs and the manifest: bkcache's exporter, or BuildKit's Finalize as
 * broken_finalize.c reproduces it when a flaw lives there. */
static bk_code write_cache(bk_s3cache *cache, bk_store *store, const bk_cache_config *cfg,
                           const bk_buf *enc, uint64_t copy_limit, bk_err *err)
{
    if (flaws & (FLAW_PER_LAYER_WORKERS | FLAW_NO_TOUCH_METADATA)) {
        broken_finalize_opts fo = {0};
        fo.cache = cache;
        fo.store = store;
        fo.copy_limit = copy_limit;
        fo.per_layer = (flaws & FLAW_PER_LAYER_WORKERS) != 0;
        fo.multipart_touch_metadata = !(flaws & FLAW_NO_TOUCH_METADATA);
        return broken_finalize(&fo, cfg, enc->data, enc->len, err);
    }
    bk_export_options o = {0};
    o.cache = cache;
    o.store = store;
    o.copy_limit = copy_limit;
    bk_export_summary summary;
    return bk_export_config(&o, cfg, &summary, err);
}

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
    int status = 1, proxy_failed = 0;
    bk_graph *graph = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    bk_s3cache *cache = NULL;
    bk_buf enc = BK_BUF_INIT;
    bk_s3cache_tuning tuning = {0};
    tuning.multipart_threshold = arg_bytes(argc, argv, "--multipart-threshold");
    gzip_proxy *proxy = start_gzip_proxy(&attrs, &err, &proxy_failed);
    if (proxy_failed || bk_graph_load(graph_path, &graph, &err) != BK_OK ||
        bk_chains_config_from_graph(graph, attrs.policy.mode, &cfg, &err) != BK_OK ||
        ((flaws & FLAW_BUILDKIT_ORDER) && reorder_ties(cfg, &err) != BK_OK) ||
        (store = bk_store_open(store_dir, 0, &err)) == NULL ||
        (cache = bk_s3cache_open(&attrs, &tuning, &err)) == NULL ||
        bk_config_encode(cfg, &enc, &err) != BK_OK)
        goto out;

    if ((flaws & FLAW_MANIFEST_FIRST) &&
        broken_put_manifests(cache, enc.data, enc.len, &err) != BK_OK)
        goto out;
    if ((flaws & FLAW_REUPLOAD) && upload_all(cache, store, cfg, &err) != BK_OK)
        goto out;
    if (write_cache(cache, store, cfg, &enc, arg_bytes(argc, argv, "--copy-limit"), &err) != BK_OK)
        goto out;
    if (flaws & FLAW_NO_CREATEDAT) {
        char *stripped = strip_created_at(enc.data, enc.len);
        bk_code rc = stripped ? broken_put_manifests(cache, stripped, strlen(stripped), &err)
                              : bk_err_set(&err, BK_ENOMEM, "out of memory");
        free(stripped);
        if (rc != BK_OK)
            goto out;
    }
    status = 0;
out:
    if (status != 0)
        fprintf(stderr, "broken adapter: export failed: %s\n", err.msg);
    bk_buf_clear(&enc);
    bk_s3cache_free(cache); /* closes its connections: the proxy can stop */
    gzip_proxy_stop(proxy);
    bk_store_free(store);
    bk_config_free(cfg);
    bk_graph_free(graph);
    bk_s3_attrs_clear(&attrs);
    return status;
}

/* bkcache's own importer, same arguments; under unsigned-gzip a child, so
 * that this process can relay its requests. */
static int do_import(int argc, char **argv)
{
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (args == NULL)
        return 1;
    args[0] = (char *)BKCONF_BIN_DIR "/bkcache";
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    args[argc] = "--progress";
    args[argc + 1] = "quiet";
    const char *cache_from = arg_value(argc, argv, "--cache-from");
    bk_s3_attrs attrs;
    bk_err err;
    bk_err_clear(&err);
    gzip_proxy *proxy = NULL;
    int proxy_failed = 0;
    if (cache_from != NULL && bk_s3_attrs_parse(cache_from, NULL, &attrs, &err) == BK_OK) {
        proxy = start_gzip_proxy(&attrs, &err, &proxy_failed);
        bk_s3_attrs_clear(&attrs);
    }
    if (proxy_failed) {
        fprintf(stderr, "broken adapter: %s\n", err.msg);
        free(args);
        return 1;
    }
    if (proxy == NULL) {
        execv(args[0], args);
        perror("broken adapter: exec bkcache");
        free(args);
        return 1;
    }
    int status = 1;
    pid_t pid = fork();
    if (pid == 0) {
        execv(args[0], args);
        perror("broken adapter: exec bkcache");
        _exit(127);
    }
    int ws = 0;
    if (pid > 0 && waitpid(pid, &ws, 0) == pid)
        status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    gzip_proxy_stop(proxy);
    free(args);
    return status;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        return do_export(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "import") == 0)
        return do_import(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "capabilities") == 0) {
        printf("copy-limit\nmultipart-threshold\n");
        return 0;
    }
    fprintf(stderr, "usage: %s export|import|capabilities ...\n", argv[0]);
    return 2;
}
