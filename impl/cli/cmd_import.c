/* bkcache import: read a cache from S3 as BuildKit's `--cache-from type=s3,...`
 * would, verify every blob, and store or describe what was imported. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/importer.h"
#include "cli_s3.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: bkcache import --cache-from ATTRS [--dest DIR] [--json] [options]\n"
        "\n"
        "Reads the manifest of the first name, checks it as BuildKit does, then fetches\n"
        "every blob it references into DIR/blobs/sha256/ verifying digest and size.\n"
        "Without --dest the blobs are only checked for existence (HEAD).\n"
        "DIR/cache-config.json receives the usable config (results whose blobs are\n"
        "missing removed), encoded exactly as BuildKit writes it.\n"
        "\n"
        "  --cache-from ATTRS      type=s3,bucket=...,region=...[,name=a]...\n"
        "  --dest DIR              content store to fill (created if needed)\n"
        "  --json                  print the imported graph (records, inputs, results) as JSON\n"
        "  --missing-blobs MODE    drop (default: drop the results that need them, warn)\n"
        "                          or error (fail the import)\n"
        "  --strict                bad values BuildKit silently ignores are errors\n"
        "  --progress MODE         auto (default), plain, tty or quiet\n"
        "\n"
        "A missing manifest is an empty cache: exit 0 with a message.\n"
        "Exit status: 0 imported, 1 import failed, 2 bad usage or input.\n");
}

int bk_cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cache-from", required_argument, NULL, 'c'},
        {"dest", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"missing-blobs", required_argument, NULL, 'm'},
        {"strict", no_argument, NULL, 's'},
        {"progress", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cache_from = NULL, *dest = NULL, *progress_arg = NULL;
    int json = 0, strict = 0;
    bk_missing_blobs missing = BK_MISSING_DROP;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cache_from = optarg;
            break;
        case 'd':
            dest = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'm':
            if (strcmp(optarg, "drop") == 0) {
                missing = BK_MISSING_DROP;
            } else if (strcmp(optarg, "error") == 0) {
                missing = BK_MISSING_ERROR;
            } else {
                fprintf(stderr, "bkcache import: --missing-blobs must be drop or error\n");
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
    if (cache_from == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    bk_progress_style style;
    if (bk_cli_progress_style(progress_arg, &style) != 0) {
        fprintf(stderr, "bkcache import: --progress must be auto, plain, tty or quiet\n");
        return 2;
    }
    bk_s3_attrs attrs;
    if (bk_cli_parse_attrs("import", cache_from, strict, &attrs) != 0)
        return 2;

    int status = 2;
    bk_err err;
    bk_err_clear(&err);
    bk_store *store = NULL;
    bk_import_result res;
    memset(&res, 0, sizeof res);
    bk_buf out = BK_BUF_INIT;
    if (dest != NULL && (store = bk_store_open(dest, 1, &err)) == NULL) {
        fprintf(stderr, "bkcache import: %s\n", err.msg);
        goto done;
    }
    bk_cli_import_args args = {"import", &attrs, store, missing, style};
    status = bk_cli_run_import(&args, &res);
    if (status != 0)
        goto done;
    status = 1;
    if (!res.found) {
        fprintf(stderr, "import: no cache manifest at %s: empty cache\n", res.manifest_key);
    } else {
        char bytes[32];
        bk_format_bytes(res.bytes_fetched, bytes, sizeof bytes);
        fprintf(stderr,
                "import: %s: %zu records, %zu blobs: %zu fetched (%s), %zu already present, "
                "%zu missing; %zu result(s) dropped; %zu requests; %.2fs\n",
                res.manifest_key, res.manifest->n_records, res.blobs, res.fetched, bytes,
                res.already_present, res.n_missing, res.dropped_results, res.requests, res.seconds);
        /* The usable config beside the blobs, encoded exactly as BuildKit writes it. */
        bk_buf enc = BK_BUF_INIT;
        if (store != NULL &&
            (bk_config_encode(res.usable, &enc, &err) != BK_OK ||
             bk_store_write_file(store, "cache-config.json", enc.data, enc.len, &err) != BK_OK)) {
            bk_buf_free(&enc);
            fprintf(stderr, "bkcache import: %s\n", err.msg);
            goto done;
        }
        bk_buf_free(&enc);
    }
    if (json) {
        if (bk_import_graph_json(res.found ? res.usable : NULL, &out, &err) != BK_OK) {
            fprintf(stderr, "bkcache import: %s\n", err.msg);
            goto done;
        }
        printf("%s\n", bk_buf_str(&out));
    }
    status = 0;
done:
    bk_buf_free(&out);
    bk_import_result_clear(&res);
    bk_store_free(store);
    bk_s3_attrs_free(&attrs);
    return status;
}
