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

static void listing_clear(listing *l)
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

/* Everything the demo holds, released by demo_clear whatever step failed. */
typedef struct demo {
    const char *graph_path, *mode;
    cli_options opts;
    ms3_server *mock;
    bk_graph *graph;
    bk_cache_config *cfg;
    bk_store *store, *dest;
    bk_s3cache *cache;
    bk_progress *progress;
    bk_s3_attrs attrs;
    bk_import_result imported;
    bk_export_summary exported;
    uint64_t seq; /* the journal's last request before the current step */
    listing bucket;
    char tmp[256];
} demo;

/* Starts the mock in this process with fresh random credentials (it accepts
 * nothing else) and builds the cache attributes that point at it. */
static int demo_start_mock(demo *d)
{
    unsigned char rnd[24];
    char access_key[32], secret[64];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return cli_fail("demo", "no randomness for credentials");
    snprintf(access_key, sizeof access_key, "AKIADEMO%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    for (size_t i = 0; i < 18; i++)
        snprintf(secret + 2 * i, 3, "%02x", rnd[6 + i]);

    bk_err err;
    bk_err_clear(&err);
    ms3_options mo;
    ms3_options_init(&mo);
    d->mock = ms3_server_start(&mo, &err);
    if (d->mock == NULL ||
        ms3_server_add_credentials(d->mock, access_key, secret, NULL, &err) != 0 ||
        ms3_server_create_bucket(d->mock, BUCKET, &err) != 0)
        return cli_fail("demo", "starting the mock S3: %s", err.msg);
    printf("mock S3 listening on %s (in this process, in memory), bucket %s\n",
           ms3_server_url(d->mock), BUCKET);

    char attr_text[1024];
    snprintf(attr_text, sizeof attr_text,
             "type=s3,bucket=%s,region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=%s,secret_access_key=%s,mode=%s",
             BUCKET, ms3_server_url(d->mock), access_key, secret, d->mode);
    return cli_parse_attrs("demo", attr_text, 1, &d->attrs) != 0 ? 1 : 0;
}

/* The graph fixture, its cache config, its content store and the S3 cache. */
static int demo_load(demo *d)
{
    bk_err err;
    if (bk_graph_load(d->graph_path, &d->graph, &err) != BK_OK)
        return cli_fail("demo", "%s (pass --graph FILE)", err.msg);
    const char *store_dir = d->graph->store_dir ? d->graph->store_dir : ".";
    if (bk_chains_config_from_graph(d->graph, d->attrs.policy.mode, &d->cfg, &err) != BK_OK ||
        (d->store = bk_store_open(store_dir, 0, &err)) == NULL ||
        (d->cache = bk_s3cache_open(&d->attrs, NULL, &err)) == NULL)
        return cli_fail("demo", "%s", err.msg);
    printf("graph %s: %s\n", d->graph_path, d->graph->description ? d->graph->description : "");
    return 0;
}

static int demo_export(demo *d)
{
    char label[1200];
    snprintf(label, sizeof label, "export (mode=%s): %zu records, %zu layers", d->mode,
             d->cfg->n_records, d->cfg->n_layers);
    if (run_export(label, &d->attrs, d->cache, d->store, d->cfg, &d->opts, &d->exported) != 0)
        return 1;
    print_requests(d->mock, 0);
    d->seq = last_seq(d->mock);
    return 0;
}

/* Imports into a fresh store in a temporary directory and checks that the
 * imported graph is the exported one. */
static int demo_import(demo *d)
{
    bk_err err;
    snprintf(d->tmp, sizeof d->tmp, "%s/bkcache-demo-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(d->tmp) == NULL) {
        cli_fail("demo", "temporary directory %s: %s", d->tmp, strerror(errno));
        d->tmp[0] = '\0';
        return 1;
    }
    if ((d->dest = bk_store_open(d->tmp, 1, &err)) == NULL)
        return cli_fail("demo", "temporary directory: %s", err.msg);
    printf("== import into a fresh content store\n");
    fflush(stdout);
    bk_import_options io = {0};
    io.cache = d->cache;
    io.dest = d->dest;
    io.progress = d->progress ? cli_progress_emit : NULL;
    io.progress_ud = d->progress;
    bk_code rc = bk_import(&io, &d->imported, &err);
    bk_progress_finish(d->progress);
    if (rc != BK_OK || !d->imported.found)
        return cli_fail("demo", "import failed: %s", rc ? err.msg : "no manifest");
    print_requests(d->mock, d->seq);
    d->seq = last_seq(d->mock);

    bk_buf want = BK_BUF_INIT, got = BK_BUF_INIT;
    int rendered = bk_import_graph_json(d->cfg, &want, &err) == BK_OK &&
                   bk_import_graph_json(d->imported.usable, &got, &err) == BK_OK;
    int same = rendered && strcmp(bk_buf_str(&want), bk_buf_str(&got)) == 0 &&
               d->imported.fetched == d->exported.blobs;
    bk_buf_clear(&want);
    bk_buf_clear(&got);
    if (!rendered)
        return cli_fail("demo", "comparing the graphs: %s", err.msg);
    if (!same)
        return cli_fail("demo", "the imported graph differs from the exported one");
    printf("   verified: %zu blobs fetched with digest and size checked; the imported graph "
           "equals the exported one (%zu records)\n",
           d->imported.fetched, d->imported.usable->n_records);
    return 0;
}

/* Nothing changed, so a second export uploads nothing. */
static int demo_reexport(demo *d)
{
    bk_export_summary again;
    if (run_export("re-export, nothing changed", &d->attrs, d->cache, d->store, d->cfg, &d->opts,
                   &again) != 0)
        return 1;
    print_requests(d->mock, d->seq);
    if (again.uploaded != 0 || again.skipped != again.blobs)
        return cli_fail("demo", "the re-export uploaded %zu blobs, expected none", again.uploaded);
    return 0;
}

static int demo_show_layout(demo *d)
{
    bk_err err;
    printf("== bucket layout\n");
    if (bk_s3_list_each(d->cache->client, &(bk_s3_list_params){0}, collect, &d->bucket, &err) !=
        BK_OK)
        return cli_fail("demo", "listing the bucket: %s", err.msg);
    print_tree(&d->bucket);
    return 0;
}

static void demo_clear(demo *d)
{
    fflush(stdout);
    listing_clear(&d->bucket);
    bk_import_result_clear(&d->imported);
    bk_s3cache_free(d->cache);
    bk_store_free(d->dest);
    bk_store_free(d->store);
    if (d->tmp[0] != '\0' && nftw(d->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        cli_fail("demo", "could not remove %s", d->tmp);
    bk_config_free(d->cfg);
    bk_graph_free(d->graph);
    bk_s3_attrs_clear(&d->attrs);
    bk_progress_free(d->progress);
    ms3_server_stop(d->mock);
}

int bk_cmd_demo(int argc, char **argv)
{
    static const struct option own[] = {
        {"graph", required_argument, NULL, 'g'},
        {"mode", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    demo_own o = {DEFAULT_GRAPH, "max"};
    const cli_command cmd = {.name = "demo",
                             .shared = CLI_PROGRESS,
                             .own = own,
                             .on_own = on_option,
                             .ud = &o,
                             .usage = usage,
                             .operands = 0};
    demo d;
    memset(&d, 0, sizeof d);
    d.opts.progress_default = "plain";
    int first = 0;
    int parsed = cli_parse(&cmd, argc, argv, &d.opts, &first);
    if (parsed != CLI_CONTINUE)
        return parsed;
    d.graph_path = o.graph;
    d.mode = o.mode;
    /* One stream, so headings and progress stay in order in a log. */
    d.progress = bk_progress_new(stdout, d.opts.progress);

    int failed = demo_start_mock(&d) || demo_load(&d) || demo_export(&d) || demo_import(&d) ||
                 demo_reexport(&d) || demo_show_layout(&d);
    demo_clear(&d);
    return failed ? 1 : 0;
}
