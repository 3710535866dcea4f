/* bkcache demo: the main job end to end, with nothing to set up. Starts the
 * mock S3 inside this process on 127.0.0.1, exports a build-graph fixture with
 * mode=max, imports it back verifying every blob, checks that the imported
 * graph is the exported one, re-exports to show that nothing is uploaded
 * twice, and prints the bucket layout. */
/* nftw() is an XSI extension. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/chains.h"
#include "bkcache/exporter.h"
#include "bkcache/graph.h"
#include "bkcache/importer.h"
#include "bkcache/s3cache.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cli_s3.h"
#include "cmd.h"
#include "mock_s3.h"

#ifndef BKCACHE_FIXTURES_DIR
#define BKCACHE_FIXTURES_DIR "fixtures"
#endif
#define DEFAULT_GRAPH BKCACHE_FIXTURES_DIR "/graphs/multistage.json"
#define BUCKET "bkcache-demo"

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache demo [--graph FILE] [--mode min|max] [--progress MODE]\n"
                 "\n"
                 "Runs the main job against a mock S3 started inside this process on\n"
                 "127.0.0.1 (in memory, stopped at the end): export the graph's cache, import\n"
                 "it back with every blob verified, compare, re-export, print the bucket.\n"
                 "\n");
    cli_usage_line(out, "--graph FILE", "build-graph fixture (default:\n" DEFAULT_GRAPH ")");
    cli_usage_line(out, "--mode MODE", "max (default) or min");
    cli_usage_shared(out, CLI_PROGRESS, "plain");
}

/* ---- the bucket as a tree ---- */

typedef struct listing {
    char **keys;
    uint64_t *sizes;
    size_t n, cap;
} listing;

static int collect(void *ud, const bk_s3_object *obj)
{
    listing *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **keys = realloc(l->keys, cap * sizeof *keys);
        if (keys == NULL)
            return 1;
        l->keys = keys;
        uint64_t *sizes = realloc(l->sizes, cap * sizeof *sizes);
        if (sizes == NULL)
            return 1;
        l->sizes = sizes;
        l->cap = cap;
    }
    l->keys[l->n] = strdup(obj->key);
    l->sizes[l->n] = obj->size;
    if (l->keys[l->n] == NULL)
        return 1;
    l->n++;
    return 0;
}

/* Keys arrive sorted (S3 lists in UTF-8 binary order), so each folder's
 * entries are contiguous: print a folder line when the prefix changes. */
static void print_tree(const listing *l)
{
    printf("%s/\n", BUCKET);
    char prev_dir[1024] = "";
    for (size_t i = 0; i < l->n; i++) {
        const char *key = l->keys[i];
        const char *slash = strrchr(key, '/');
        size_t dlen = slash ? (size_t)(slash - key) + 1 : 0;
        if (dlen >= sizeof prev_dir)
            dlen = 0;
        if (strncmp(prev_dir, key, dlen) != 0 || prev_dir[dlen] != '\0') {
            memcpy(prev_dir, key, dlen);
            prev_dir[dlen] = '\0';
            if (dlen > 0)
                printf("  %s\n", prev_dir);
        }
        int last_in_dir = i + 1 == l->n || strncmp(l->keys[i + 1], key, dlen) != 0 ||
                          strchr(l->keys[i + 1] + dlen, '/') != NULL;
        char size[32];
        bk_format_bytes(l->sizes[i], size, sizeof size);
        printf("  %s %-78s %10s\n", dlen ? (last_in_dir ? "  └──" : "  ├──") : "", key + dlen,
               size);
    }
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
}

static int run_export(const char *label, bk_s3_attrs *attrs, bk_s3cache *cache, bk_store *store,
                      const bk_cache_config *cfg, const cli_options *opts, bk_export_summary *sum)
{
    printf("== %s\n", label);
    fflush(stdout);
    cli_export_args args = {0};
    args.cmd = "demo";
    args.attrs = attrs;
    args.opts = opts;
    args.cfg = cfg;
    args.store = store;
    args.cache = cache;
    args.out = stdout;
    args.summary = sum;
    return cli_run_export(&args);
}

static size_t count_op(ms3_server *mock, const char *op, uint64_t since)
{
    ms3_journal_filter f = {0};
    f.operation = op;
    f.since_seq = since;
    return ms3_journal_count(mock, &f);
}

static uint64_t last_seq(ms3_server *mock)
{
    ms3_journal_filter f = {0};
    ms3_journal_entry *entries = NULL;
    size_t n = ms3_journal_query(mock, &f, &entries);
    uint64_t seq = n ? entries[n - 1].seq : 0;
    ms3_journal_entries_free(entries, n);
    return seq;
}

static void print_requests(ms3_server *mock, uint64_t since)
{
    static const char *const ops[] = {"HeadObject", "PutObject",
                                      "CopyObject", "CreateMultipartUpload",
                                      "UploadPart", "CompleteMultipartUpload",
                                      "GetObject",  "ListObjectsV2"};
    printf("   requests seen by the mock:");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = count_op(mock, ops[i], since);
        if (n > 0)
            printf(" %s=%zu", ops[i], n);
    }
    printf("\n");
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

typedef struct demo_own {
    const char *graph, *mode;
} demo_own;

static int on_option(void *ud, int opt, const char *arg)
{
    demo_own *d = ud;
    if (opt == 'g')
        d->graph = arg;
    else if (strcmp(arg, "min") == 0 || strcmp(arg, "max") == 0)
        d->mode = arg;
    else
        return cli_fail("demo", "--mode must be min or max");
    return 0;
}

int bk_cmd_demo(int argc, char **argv)
{
    static const struct option own[] = {
        {"graph", required_argument, NULL, 'g'},
        {"mode", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    demo_own d = {DEFAULT_GRAPH, "max"};
    const cli_command cmd = {.name = "demo",
                             .shared = CLI_PROGRESS,
                             .own = own,
                             .on_own = on_option,
                             .ud = &d,
                             .usage = usage,
                             .operands = 0};
    cli_options opts = {0};
    opts.progress_default = "plain";
    int first = 0;
    int parsed = cli_parse(&cmd, argc, argv, &opts, &first);
    if (parsed != CLI_CONTINUE)
        return parsed;
    const char *graph_path = d.graph, *mode = d.mode;
    bk_progress_style style = opts.progress;

    int status = 1;
    bk_err err;
    bk_err_clear(&err);
    ms3_server *mock = NULL;
    bk_graph *graph = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL, *dest = NULL;
    bk_s3cache *cache = NULL;
    /* One stream, so headings and progress stay in order in a log. */
    bk_progress *progress = bk_progress_new(stdout, style);
    bk_s3_attrs attrs;
    memset(&attrs, 0, sizeof attrs);
    bk_import_result imported;
    memset(&imported, 0, sizeof imported);
    bk_buf want = BK_BUF_INIT, got = BK_BUF_INIT;
    listing l = {0};
    char tmp[256] = "";

    /* Fresh random credentials: the demo's mock accepts nothing else. */
    unsigned char rnd[24];
    char access_key[32], secret[64];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        cli_fail("demo", "no randomness for credentials");
        goto done;
    }
    snprintf(access_key, sizeof access_key, "AKIADEMO%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    for (size_t i = 0; i < 18; i++)
        snprintf(secret + 2 * i, 3, "%02x", rnd[6 + i]);

    ms3_options mo;
    ms3_options_init(&mo);
    mock = ms3_server_start(&mo, &err);
    if (mock == NULL || ms3_server_add_credentials(mock, access_key, secret, NULL, &err) != 0 ||
        ms3_server_create_bucket(mock, BUCKET, &err) != 0) {
        cli_fail("demo", "starting the mock S3: %s", err.msg);
        goto done;
    }
    printf("mock S3 listening on %s (in this process, in memory), bucket %s\n",
           ms3_server_url(mock), BUCKET);

    char attr_text[1024];
    snprintf(attr_text, sizeof attr_text,
             "type=s3,bucket=%s,region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=%s,secret_access_key=%s,mode=%s",
             BUCKET, ms3_server_url(mock), access_key, secret, mode);
    if (cli_parse_attrs("demo", attr_text, 1, &attrs) != 0)
        goto done;

    if (bk_graph_load(graph_path, &graph, &err) != BK_OK) {
        cli_fail("demo", "%s (pass --graph FILE)", err.msg);
        goto done;
    }
    if (bk_chains_config_from_graph(graph, attrs.policy.mode, &cfg, &err) != BK_OK ||
        (store = bk_store_open(graph->store_dir ? graph->store_dir : ".", 0, &err)) == NULL ||
        (cache = bk_s3cache_open(&attrs, NULL, &err)) == NULL) {
        cli_fail("demo", "%s", err.msg);
        goto done;
    }
    printf("graph %s: %s\n", graph_path, graph->description ? graph->description : "");

    char label[1200];
    snprintf(label, sizeof label, "export (mode=%s): %zu records, %zu layers", mode, cfg->n_records,
             cfg->n_layers);
    bk_export_summary sum;
    if (run_export(label, &attrs, cache, store, cfg, &opts, &sum) != 0)
        goto done;
    print_requests(mock, 0);
    uint64_t seq = last_seq(mock);

    snprintf(tmp, sizeof tmp, "%s/bkcache-demo-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        cli_fail("demo", "temporary directory %s: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        goto done;
    }
    if ((dest = bk_store_open(tmp, 1, &err)) == NULL) {
        cli_fail("demo", "temporary directory: %s", err.msg);
        goto done;
    }
    printf("== import into a fresh content store\n");
    fflush(stdout);
    bk_import_options io = {0};
    io.cache = cache;
    io.dest = dest;
    io.progress = progress ? cli_progress_emit : NULL;
    io.progress_ud = progress;
    bk_code rc = bk_import(&io, &imported, &err);
    bk_progress_finish(progress);
    if (rc != BK_OK || !imported.found) {
        cli_fail("demo", "import failed: %s", rc ? err.msg : "no manifest");
        goto done;
    }
    print_requests(mock, seq);
    seq = last_seq(mock);
    if (bk_import_graph_json(cfg, &want, &err) != BK_OK ||
        bk_import_graph_json(imported.usable, &got, &err) != BK_OK)
        goto done;
    if (strcmp(bk_buf_str(&want), bk_buf_str(&got)) != 0 || imported.fetched != sum.blobs) {
        cli_fail("demo", "the imported graph differs from the exported one");
        goto done;
    }
    printf("   verified: %zu blobs fetched with digest and size checked; the imported graph "
           "equals the exported one (%zu records)\n",
           imported.fetched, imported.usable->n_records);

    bk_export_summary again;
    if (run_export("re-export, nothing changed", &attrs, cache, store, cfg, &opts, &again) != 0)
        goto done;
    print_requests(mock, seq);
    if (again.uploaded != 0 || again.skipped != again.blobs) {
        cli_fail("demo", "the re-export uploaded %zu blobs, expected none", again.uploaded);
        goto done;
    }

    printf("== bucket layout\n");
    if (bk_s3_list_each(cache->client, &(bk_s3_list_params){0}, collect, &l, &err) != BK_OK) {
        cli_fail("demo", "listing the bucket: %s", err.msg);
        goto done;
    }
    print_tree(&l);
    status = 0;
done:
    fflush(stdout);
    listing_free(&l);
    bk_buf_clear(&want);
    bk_buf_clear(&got);
    bk_import_result_clear(&imported);
    bk_s3cache_free(cache);
    bk_store_free(dest);
    bk_store_free(store);
    if (tmp[0] != '\0' && nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        cli_fail("demo", "could not remove %s", tmp);
    bk_config_free(cfg);
    bk_graph_free(graph);
    bk_s3_attrs_clear(&attrs);
    bk_progress_free(progress);
    ms3_server_stop(mock);
    return status;
}
