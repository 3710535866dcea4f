/* bkcache push: a BuildKit type=local cache directory to S3, in the S3 form. */
#include <stdio.h>
#include <string.h>

#include "bkcache/localcache.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cli_s3.h"
#include "cmd.h"

#define SHARED                                                                                     \
    (CLI_CACHE_TO | CLI_STRICT | CLI_DRY_RUN | CLI_PROGRESS | CLI_SIZES | CLI_NETWORK | CLI_VERBOSE)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bkcache push LOCAL_CACHE_DIR --cache-to ATTRS [options]\n"
            "\n"
            "Reads a cache that BuildKit exported with --cache-to type=local,dest=DIR (any of\n"
            "its three shapes: OCI index, Docker manifest list, image manifest), moves each\n"
            "layer descriptor into the layer's annotations (the S3 form) and exports it\n"
            "exactly as `bkcache export` does. Symbolic links in DIR are followed, as\n"
            "BuildKit's readers do; every file read must be a regular file.\n"
            "\n");
    cli_usage_shared(out, CLI_CACHE_TO, NULL);
    cli_usage_line(out, "--tag TAG", "the cache's tag in index.json (default latest)");
    cli_usage_shared(out, SHARED & ~CLI_CACHE_TO, NULL);
    fprintf(out, "\n"
                 "Exit status: 0 pushed, 1 push failed, 2 bad usage or input.\n");
}

static int on_option(void *ud, int opt, const char *arg)
{
    (void)opt; /* --tag is the only one */
    *(const char **)ud = arg;
    return 0;
}

int bk_cmd_push(int argc, char **argv)
{
    static const struct option own[] = {
        {"tag", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *tag = NULL;
    const cli_command cmd = {.name = "push",
                             .shared = SHARED,
                             .own = own,
                             .on_own = on_option,
                             .ud = &tag,
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
    if (cli_parse_attrs("push", opts.attrs, opts.strict, &attrs) != 0)
        return CLI_EXIT_USAGE;

    bk_err err;
    bk_err_clear(&err);
    bk_local_cache *local = NULL;
    bk_cache_config *cfg = NULL;
    bk_store *store = NULL;
    if (bk_local_read(dir, tag, &local, &err) != BK_OK ||
        bk_local_to_s3(local, &cfg, &err) != BK_OK ||
        (store = bk_store_open(dir, 0, &err)) == NULL) {
        status = cli_fail("push", "%s", err.msg);
    } else {
        cli_export_args args = {0};
        args.cmd = "push";
        args.attrs = &attrs;
        args.opts = &opts;
        args.cfg = cfg;
        args.store = store;
        status = cli_run_export(&args);
    }
    bk_store_free(store);
    bk_config_free(cfg);
    bk_local_cache_free(local);
    bk_s3_attrs_clear(&attrs);
    return status;
}
