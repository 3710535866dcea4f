/* bkcache push: a BuildKit type=local cache directory to S3, in the S3 form. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bkcache/localcache.h"
#include "cli_s3.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bkcache push LOCAL_CACHE_DIR --cache-to ATTRS [options]\n"
            "\n"
            "Reads a cache that BuildKit exported with --cache-to type=local,dest=DIR (any of\n"
            "its three shapes: OCI index, Docker manifest list, image manifest), moves each\n"
            "layer descriptor into the layer's annotations (the S3 form) and exports it\n"
            "exactly as `bkcache export` does.\n"
            "\n"
            "  --cache-to ATTRS   type=s3,bucket=...,region=...\n"
            "  --tag TAG          the cache's tag in index.json (default latest)\n"
            "  --strict           bad values BuildKit silently ignores are errors\n"
            "  --dry-run          check what exists, print the plan, write nothing\n"
            "  --progress MODE    auto (default), plain, tty or quiet\n"
            "\n"
            "Exit status: 0 pushed, 1 push failed, 2 bad usage or input.\n");
}

int bk_cmd_push(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cache-to", required_argument, NULL, 'c'},
        {"tag", required_argument, NULL, 't'},
        {"strict", no_argument, NULL, 's'},
        {"dry-run", no_argument, NULL, 'n'},
        {"progress", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cache_to = NULL, *tag = NULL, *progress_arg = NULL;
    int strict = 0, dry_run = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cache_to = optarg;
            break;
        case 't':
            tag = optarg;
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
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (cache_to == NULL || optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *dir = argv[optind];
    bk_progress_style style;
    if (bk_cli_progress_style(progress_arg, &style) != 0) {
        fprintf(stderr, "bkcache push: --progress must be auto, plain, tty or quiet\n");
        return 2;
    }
    bk_s3_attrs attrs;
    if (bk_cli_parse_attrs("push", cache_to, strict, &attrs) != 0)
        return 2;

    int status = 2;
    bk_err err;
    bk_err_clear(&err);
    bk_local_cache *local = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    if (bk_local_read(dir, tag, &local, &err) != BK_OK ||
        bk_local_to_s3(local, &cfg, &err) != BK_OK ||
        (store = bk_store_open(dir, 0, &err)) == NULL) {
        fprintf(stderr, "bkcache push: %s\n", err.msg);
    } else {
        bk_cli_export_args args = {0};
        args.cmd = "push";
        args.attrs = &attrs;
        args.cfg = cfg;
        args.store = store;
        args.style = style;
        args.dry_run = dry_run;
        status = bk_cli_run_export(&args);
    }
    bk_store_free(store);
    bk_config_free(cfg);
    bk_local_cache_free(local);
    bk_s3_attrs_free(&attrs);
    return status;
}
