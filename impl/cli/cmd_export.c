/* bkcache export: a build-graph fixture's cache to S3, as BuildKit's
 * `--cache-to type=s3,...` would write it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/chains.h"
#include "bkcache/exporter.h"
#include "bkcache/graph.h"
#include "cli_s3.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bkcache export --graph FILE --cache-to ATTRS [options]\n"
            "\n"
            "Exports the cache of a build-graph fixture (see fixtures/README.md) to S3 with\n"
            "BuildKit's semantics: HEAD every blob, upload the absent ones, touch the ones\n"
            "older than touch_refresh, then write the manifest once per name.\n"
            "\n"
            "  --graph FILE            build-graph fixture (its store holds the blobs)\n"
            "  --cache-to ATTRS        type=s3,bucket=...,region=...[,name=a;b][,mode=max]...\n"
            "  --strict                bad values BuildKit silently ignores are errors\n"
            "  --dry-run               check what exists, print the plan, write nothing\n"
            "  --progress MODE         auto (default), plain, tty or quiet\n"
            "  --copy-limit SIZE       touch by multipart copy at or above SIZE (default 5G)\n"
            "  --multipart-threshold SIZE  multipart uploads at or above SIZE (default 16M)\n"
            "  --part-size SIZE        multipart part size (default 8M)\n"
            "\n"
            "Exit status: 0 exported (or failure ignored by ignore-error=true), 1 export\n"
            "failed, 2 bad usage or input.\n");
}

int bk_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"graph", required_argument, NULL, 'g'},
        {"cache-to", required_argument, NULL, 'c'},
        {"strict", no_argument, NULL, 's'},
        {"dry-run", no_argument, NULL, 'n'},
        {"progress", required_argument, NULL, 'p'},
        {"copy-limit", required_argument, NULL, 'L'},
        {"multipart-threshold", required_argument, NULL, 'T'},
        {"part-size", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *graph_path = NULL, *cache_to = NULL, *progress_arg = NULL;
    int strict = 0, dry_run = 0;
    uint64_t copy_limit = 0, threshold = 0, part_size = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'g':
            graph_path = optarg;
            break;
        case 'c':
            cache_to = optarg;
            break;
        case 's':
            strict = 1;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'p':
            progress_arg = optarg;
            break;
        case 'L':
        case 'T':
        case 'P': {
            uint64_t v;
            if (bk_cli_parse_size(optarg, &v) != 0 || v == 0) {
                fprintf(stderr, "bkcache export: invalid size \"%s\"\n", optarg);
                return 2;
            }
            *(c == 'L' ? &copy_limit : c == 'T' ? &threshold : &part_size) = v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (graph_path == NULL || cache_to == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    bk_progress_style style;
    if (bk_cli_progress_style(progress_arg, &style) != 0) {
        fprintf(stderr, "bkcache export: --progress must be auto, plain, tty or quiet\n");
        return 2;
    }
    bk_s3_attrs attrs;
    if (bk_cli_parse_attrs("export", cache_to, strict, &attrs) != 0)
        return 2;

    int status = 2;
    bk_err err;
    bk_err_clear(&err);
    bk_graph *graph = NULL;
    bk_chains *chains = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    enum bk_export_mode mode = attrs.mode == BK_MODE_MAX ? BK_EXPORT_MAX : BK_EXPORT_MIN;
    /* NOLINTNEXTLINE(bugprone-branch-clone): same message, the store check between */
    if (bk_graph_load(graph_path, &graph, &err) != BK_OK) {
        fprintf(stderr, "bkcache export: %s\n", err.msg);
    } else if (graph->store_dir == NULL) {
        fprintf(stderr, "bkcache export: %s: the graph names no content store (\"store\")\n",
                graph_path);
    } else if (bk_chains_from_graph(graph, mode, &chains, &err) != BK_OK ||
               bk_chains_marshal(chains, BK_MARSHAL_ANNOTATIONS, bk_graph_store_has, graph, &cfg,
                                 &err) != BK_OK ||
               (store = bk_store_open(graph->store_dir, 0, &err)) == NULL) {
        fprintf(stderr, "bkcache export: %s\n", err.msg);
    } else {
        bk_cli_export_args args = {0};
        args.cmd = "export";
        args.attrs = &attrs;
        args.cfg = cfg;
        args.store = store;
        args.style = style;
        args.dry_run = dry_run;
        args.copy_limit = copy_limit;
        args.multipart_threshold = threshold;
        args.part_size = part_size;
        status = bk_cli_run_export(&args);
    }
    bk_store_free(store);
    bk_config_free(cfg);
    bk_chains_free(chains);
    bk_graph_free(graph);
    bk_s3_attrs_free(&attrs);
    return status;
}
