/* bkcache export: a build-graph fixture's cache to S3, as BuildKit's
 * `--cache-to type=s3,...` would write it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/chains.h"
#include "bkcache/exporter.h"
#include "bkcache/graph.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cli_s3.h"
#include "cmd.h"

#define SHARED                                                                                     \
    (CLI_CACHE_TO | CLI_STRICT | CLI_DRY_RUN | CLI_PROGRESS | CLI_SIZES | CLI_NETWORK | CLI_VERBOSE)

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache export --graph FILE --cache-to ATTRS [options]\n"
                 "\n"
                 "Exports the cache of a build-graph fixture (see fixtures/README.md) to S3 with\n"
                 "BuildKit's semantics: HEAD every blob, upload the absent ones, touch the ones\n"
                 "older than touch_refresh, then write the manifest once per name.\n"
                 "\n");
    cli_usage_line(out, "--graph FILE", "build-graph fixture (its store holds the blobs)");
    cli_usage_shared(out, SHARED, NULL);
    fprintf(out, "\n"
                 "Exit status: 0 exported (or failure ignored by ignore-error=true), 1 export\n"
                 "failed, 2 bad usage or input.\n");
}

static int on_option(void *ud, int opt, const char *arg)
{
    (void)opt; /* --graph is the only one */
    *(const char **)ud = arg;
    return 0;
}

/* The graph's cache in the S3 form and the store holding its blobs. */
static int load_graph(const char *path, enum bk_export_mode mode, bk_graph **graph,
                      bk_cache_config **cfg, bk_store **store)
{
    bk_err err;
    bk_err_clear(&err);
    if (bk_graph_load(path, graph, &err) != BK_OK)
        return cli_fail("export", "%s", err.msg);
    if ((*graph)->store_dir == NULL)
        return cli_fail("export", "%s: the graph names no content store (\"store\")", path);
    if (bk_chains_config_from_graph(*graph, mode, cfg, &err) != BK_OK ||
        (*store = bk_store_open((*graph)->store_dir, 0, &err)) == NULL)
        return cli_fail("export", "%s", err.msg);
    return 0;
}

/* existence_check=list: the listing needs no graph, so it is answered while
 * the graph loads. Quietly: when the cache cannot be opened here, the export
 * opens it in turn and reports why, as it would without this head start. */
static void start_listing(const bk_s3_attrs *attrs, const cli_options *opts, bk_s3cache **cache,
                          bk_export_listing **listing)
{
    bk_err err;
    bk_err_clear(&err);
    *cache = cli_s3_open(attrs, opts, &err);
    if (*cache != NULL)
        *listing = bk_export_listing_start(*cache, &err);
}

int bk_cmd_export(int argc, char **argv)
{
    static const struct option own[] = {
        {"graph", required_argument, NULL, 'g'},
        {NULL, 0, NULL, 0},
    };
    const char *graph_path = NULL;
    const cli_command cmd = {.name = "export",
                             .shared = SHARED,
                             .own = own,
                             .on_own = on_option,
                             .ud = &graph_path,
                             .usage = usage,
                             .operands = 0,
                             .needs_attrs = 1};
    cli_options opts = {0};
    int first = 0;
    int status = cli_parse(&cmd, argc, argv, &opts, &first);
    if (status != CLI_CONTINUE)
        return status;
    if (graph_path == NULL) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    bk_s3_attrs attrs;
    if (cli_parse_attrs("export", opts.attrs, opts.strict, &attrs) != 0)
        return CLI_EXIT_USAGE;

    bk_s3cache *cache = NULL;
    bk_export_listing *listing = NULL;
    if (attrs.policy.existence_check == BK_EXISTS_LIST)
        start_listing(&attrs, &opts, &cache, &listing);
    bk_graph *graph = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    status = load_graph(graph_path, attrs.policy.mode, &graph, &cfg, &store);
    if (status == 0) {
        if (cache != NULL)
            cli_note_addressing("export", cache, &opts);
        cli_export_args args = {0};
        args.cmd = "export";
        args.attrs = &attrs;
        args.opts = &opts;
        args.cfg = cfg;
        args.store = store;
        args.cache = cache;
        args.listing = listing;
        status = cli_run_export(&args);
    }
    bk_export_listing_free(listing);
    bk_s3cache_free(cache);
    bk_store_free(store);
    bk_config_free(cfg);
    bk_graph_free(graph);
    bk_s3_attrs_clear(&attrs);
    return status;
}
