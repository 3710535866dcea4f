/* bkcache pull: a cache from S3 into a directory that BuildKit's
 * --cache-from type=local,src=DIR reads. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bkcache/importer.h"
#include "bkcache/localcache.h"
#include "cli_s3.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache pull --cache-from ATTRS LOCAL_CACHE_DIR [options]\n"
                 "\n"
                 "Imports the cache (every blob verified, results whose blobs are missing\n"
                 "dropped) and writes it as a BuildKit type=local cache: blobs, the config\n"
                 "without layer annotations, the cache root, index.json tagged TAG, oci-layout.\n"
                 "\n"
                 "  --cache-from ATTRS   type=s3,bucket=...,region=...[,name=a]\n"
                 "  --tag TAG            tag in index.json (default latest)\n"
                 "  --shape SHAPE        oci-index (default), docker-list or image-manifest\n"
                 "  --missing-blobs MODE drop (default) or error\n"
                 "  --strict             bad values BuildKit silently ignores are errors\n"
                 "  --progress MODE      auto (default), plain, tty or quiet\n"
                 "\n"
                 "Exit status: 0 pulled (a missing manifest is an empty cache: nothing written),\n"
                 "1 pull failed, 2 bad usage or input.\n");
}

int bk_cmd_pull(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cache-from", required_argument, NULL, 'c'},
        {"tag", required_argument, NULL, 't'},
        {"shape", required_argument, NULL, 'S'},
        {"missing-blobs", required_argument, NULL, 'm'},
        {"strict", no_argument, NULL, 's'},
        {"progress", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cache_from = NULL, *progress_arg = NULL;
    bk_local_write_opts wopts = {0};
    bk_missing_blobs missing = BK_MISSING_DROP;
    int strict = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cache_from = optarg;
            break;
        case 't':
            wopts.tag = optarg;
            break;
        case 'S':
            if (strcmp(optarg, "oci-index") == 0) {
                wopts.shape = BK_LOCAL_OCI_INDEX;
            } else if (strcmp(optarg, "docker-list") == 0) {
                wopts.shape = BK_LOCAL_DOCKER_LIST;
            } else if (strcmp(optarg, "image-manifest") == 0) {
                wopts.shape = BK_LOCAL_IMAGE_MANIFEST;
            } else {
                fprintf(stderr,
                        "bkcache pull: --shape must be oci-index, docker-list or image-manifest\n");
                return 2;
            }
            break;
        case 'm':
            if (strcmp(optarg, "drop") == 0) {
                missing = BK_MISSING_DROP;
            } else if (strcmp(optarg, "error") == 0) {
                missing = BK_MISSING_ERROR;
            } else {
                fprintf(stderr, "bkcache pull: --missing-blobs must be drop or error\n");
                return 2;
            }
            break;
        case 's':
            strict = 1;
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
    if (cache_from == NULL || optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *dir = argv[optind];
    bk_progress_style style;
    if (bk_cli_progress_style(progress_arg, &style) != 0) {
        fprintf(stderr, "bkcache pull: --progress must be auto, plain, tty or quiet\n");
        return 2;
    }
    bk_s3_attrs attrs;
    if (bk_cli_parse_attrs("pull", cache_from, strict, &attrs) != 0)
        return 2;

    int status = 2;
    bk_err err;
    bk_err_clear(&err);
    bk_import_result res;
    memset(&res, 0, sizeof res);
    /* Blobs land directly in DIR's content store; the layout is written around them. */
    bk_store *store = bk_store_open(dir, 1, &err);
    if (store == NULL) {
        fprintf(stderr, "bkcache pull: %s\n", err.msg);
    } else {
        bk_cli_import_args args = {"pull", &attrs, store, missing, style};
        status = bk_cli_run_import(&args, &res);
    }
    if (status == 0 && !res.found) {
        fprintf(stderr, "pull: no cache manifest at %s: empty cache, nothing written\n",
                res.manifest_key);
    } else if (status == 0 && bk_local_write(dir, res.usable, dir, &wopts, &err) != BK_OK) {
        fprintf(stderr, "bkcache pull: %s\n", err.msg);
        status = 1;
    } else if (status == 0) {
        fprintf(stderr, "pull: %s -> %s: %zu records, %zu blobs (%zu fetched, %zu missing)\n",
                res.manifest_key, dir, res.usable->n_records, res.blobs, res.fetched,
                res.n_missing);
    }
    bk_import_result_clear(&res);
    bk_store_free(store);
    bk_s3_attrs_free(&attrs);
    return status;
}
