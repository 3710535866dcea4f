/* bkcache pull: a cache from S3 into a directory that BuildKit's
 * --cache-from type=local,src=DIR reads. */
#include <stdio.h>
#include <string.h>

#include "bkcache/importer.h"
#include "bkcache/localcache.h"
#include "cli_io.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cli_s3.h"
#include "cmd.h"

#define SHARED                                                                                     \
    (CLI_CACHE_FROM | CLI_MISSING_BLOBS | CLI_STRICT | CLI_PROGRESS | CLI_NETWORK | CLI_VERBOSE)

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache pull --cache-from ATTRS LOCAL_CACHE_DIR [options]\n"
                 "\n"
                 "Imports the cache (every blob verified, results whose blobs are missing\n"
                 "dropped) and writes it as a BuildKit type=local cache: blobs, the config\n"
                 "without layer annotations, the cache root (an OCI image manifest unless\n"
                 "--shape says otherwise), index.json tagged TAG, oci-layout.\n"
                 "LOCAL_CACHE_DIR is created with its parents if needed; nothing is written\n"
                 "through a symbolic link inside it.\n"
                 "\n");
    cli_usage_shared(out, CLI_CACHE_FROM, NULL);
    cli_usage_line(out, "--tag TAG", "tag in index.json (default latest)");
    cli_usage_line(out, "--shape SHAPE",
                   "image-manifest (default, as BuildKit since\nv0.21.0), oci-index or docker-list "
                   "(the older\nshapes)");
    cli_usage_shared(out, SHARED & ~CLI_CACHE_FROM, NULL);
    fprintf(out, "\n"
                 "Exit status: 0 pulled (a missing manifest is an empty cache: nothing written),\n"
                 "1 pull failed, 2 bad usage or input.\n");
}

static int on_option(void *ud, int opt, const char *arg)
{
    bk_local_write_opts *w = ud;
    if (opt == 't')
        w->tag = arg;
    else if (strcmp(arg, "oci-index") == 0)
        w->shape = BK_LOCAL_OCI_INDEX;
    else if (strcmp(arg, "docker-list") == 0)
        w->shape = BK_LOCAL_DOCKER_LIST;
    else if (strcmp(arg, "image-manifest") == 0)
        w->shape = BK_LOCAL_IMAGE_MANIFEST;
    else
        return cli_fail("pull", "--shape must be oci-index, docker-list or image-manifest");
    return 0;
}

/* Writes the local cache around the imported blobs, and the summary line. */
static int write_local(const char *dir, const bk_import_result *res,
                       const bk_local_write_opts *wopts)
{
    if (!res->found) {
        cli_note(stderr, "pull: no cache manifest at %s: empty cache, nothing written",
                 res->manifest_key);
        return 0;
    }
    bk_err err;
    bk_err_clear(&err);
    if (bk_local_write(dir, res->usable, dir, wopts, &err) != BK_OK) {
        cli_fail("pull", "%s", err.msg);
        return CLI_EXIT_FAILED;
    }
    cli_note(stderr, "pull: %s -> %s: %zu records, %zu blobs (%zu fetched, %zu missing)",
             res->manifest_key, dir, res->usable->n_records, res->blobs, res->fetched,
             res->n_missing);
    return 0;
}

int bk_cmd_pull(int argc, char **argv)
{
    static const struct option own[] = {
        {"tag", required_argument, NULL, 't'},
        {"shape", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    /* BuildKit's default since v0.21.0 (image-manifest=true). */
    bk_local_write_opts wopts = {.shape = BK_LOCAL_IMAGE_MANIFEST};
    const cli_command cmd = {.name = "pull",
                             .shared = SHARED,
                             .own = own,
                             .on_own = on_option,
                             .ud = &wopts,
                             .usage = usage,
                             .operands = 1,
                             .needs_attrs = 1};
    cli_options opts = {0};
    int first = 0;
    int status = cli_parse(&cmd, argc, argv, &opts, &first);
    if (status != CLI_CONTINUE)
        return status;
    const char *dir = argv[first];
    bk_s3_attrs attrs;
    if (cli_parse_attrs("pull", opts.attrs, opts.strict, &attrs) != 0)
        return CLI_EXIT_USAGE;

    /* Everything that can be checked is checked before DIR is created; the
     * blobs then land directly in DIR's content store and the layout is
     * written around them. */
    bk_err err;
    bk_err_clear(&err);
    bk_import_result res;
    memset(&res, 0, sizeof res);
    bk_store *store = NULL;
    bk_s3cache *cache = cli_s3_cache("pull", &attrs, &opts);
    if (cache == NULL)
        status = CLI_EXIT_USAGE;
    else
        status = cli_make_dirs("pull", dir);
    if (status == 0 && (store = bk_store_open(dir, 1, &err)) == NULL)
        status = cli_fail("pull", "%s", err.msg);
    if (status == 0) {
        cli_import_args args = {"pull", &attrs, &opts, cache, store};
        status = cli_run_import(&args, &res);
    }
    if (status == 0)
        status = write_local(dir, &res, &wopts);
    bk_import_result_clear(&res);
    bk_store_free(store);
    bk_s3cache_free(cache);
    bk_s3_attrs_clear(&attrs);
    return status;
}
