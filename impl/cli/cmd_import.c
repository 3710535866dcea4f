/* bkcache import: read a cache from S3 as BuildKit's `--cache-from type=s3,...`
 * would, verify every blob, and store or describe what was imported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/importer.h"
#include "cli_io.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cli_s3.h"
#include "cmd.h"

#define SHARED                                                                                     \
    (CLI_CACHE_FROM | CLI_MISSING_BLOBS | CLI_STRICT | CLI_PROGRESS | CLI_NETWORK | CLI_VERBOSE)

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache import --cache-from ATTRS [--dest DIR] [--json] [options]\n"
                 "\n"
                 "Reads the manifest of the first name, checks it as BuildKit does, then fetches\n"
                 "every blob it references into DIR/blobs/sha256/ verifying digest and size.\n"
                 "Without --dest the blobs are only checked for existence (HEAD).\n"
                 "DIR/cache-config.json receives the usable config (results whose blobs are\n"
                 "missing removed), encoded exactly as BuildKit writes it.\n"
                 "\n");
    cli_usage_shared(out, CLI_CACHE_FROM, NULL);
    cli_usage_line(out, "--dest DIR",
                   "content store to fill (created, with its parents,\nif needed)");
    cli_usage_line(out, "--json", "print the imported graph (records, inputs,\nresults) as JSON");
    cli_usage_shared(out, SHARED & ~CLI_CACHE_FROM, NULL);
    fprintf(out, "\n"
                 "A missing manifest is an empty cache: exit 0 with a message.\n"
                 "Exit status: 0 imported, 1 import failed, 2 bad usage or input.\n");
}

typedef struct import_own {
    const char *dest;
    int json;
} import_own;

static int on_option(void *ud, int opt, const char *arg)
{
    import_own *o = ud;
    if (opt == 'd')
        o->dest = arg;
    else
        o->json = 1;
    return 0;
}

/* The summary line, and the usable config beside the blobs in a store. */
static int report(const bk_import_result *res, bk_store *store)
{
    if (!res->found) {
        cli_note(stderr, "import: no cache manifest at %s: empty cache", res->manifest_key);
        return 0;
    }
    char bytes[32];
    bk_format_bytes(res->bytes_fetched, bytes, sizeof bytes);
    cli_note(stderr,
             "import: %s: %zu records, %zu blobs: %zu fetched (%s), %zu already present, "
             "%zu missing; %zu result(s) dropped; %zu requests; %.2fs",
             res->manifest_key, res->manifest->n_records, res->blobs, res->fetched, bytes,
             res->already_present, res->n_missing, res->dropped_results, res->requests,
             res->seconds);
    if (store == NULL)
        return 0;
    /* Encoded exactly as BuildKit writes it. */
    bk_err err;
    bk_err_clear(&err);
    bk_buf enc = BK_BUF_INIT;
    int status = 0;
    if (bk_config_encode(res->usable, &enc, &err) != BK_OK ||
        bk_store_write_file(store, "cache-config.json", enc.data, enc.len, &err) != BK_OK) {
        cli_fail("import", "%s", err.msg);
        status = CLI_EXIT_FAILED;
    }
    bk_buf_clear(&enc);
    return status;
}

static int print_json(const bk_import_result *res)
{
    bk_err err;
    bk_err_clear(&err);
    bk_buf out = BK_BUF_INIT;
    int status = 0;
    if (bk_import_graph_json(res->found ? res->usable : NULL, &out, &err) != BK_OK) {
        cli_fail("import", "%s", err.msg);
        status = CLI_EXIT_FAILED;
    } else {
        printf("%s\n", bk_buf_str(&out));
    }
    bk_buf_clear(&out);
    return status;
}

int bk_cmd_import(int argc, char **argv)
{
    static const struct option own[] = {
        {"dest", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    import_own io = {0};
    const cli_command cmd = {.name = "import",
                             .shared = SHARED,
                             .own = own,
                             .on_own = on_option,
                             .ud = &io,
                             .usage = usage,
                             .operands = 0,
                             .needs_attrs = 1};
    cli_options opts = {0};
    int first = 0;
    int status = cli_parse(&cmd, argc, argv, &opts, &first);
    if (status != CLI_CONTINUE)
        return status;
    bk_s3_attrs attrs;
    if (cli_parse_attrs("import", opts.attrs, opts.strict, &attrs) != 0)
        return CLI_EXIT_USAGE;

    /* Everything that can be checked is checked before DIR is created. */
    bk_err err;
    bk_err_clear(&err);
    bk_store *store = NULL;
    bk_import_result res;
    memset(&res, 0, sizeof res);
    bk_s3cache *cache = cli_s3_cache("import", &attrs, &opts);
    status = cache == NULL ? CLI_EXIT_USAGE : 0;
    if (status == 0 && io.dest != NULL)
        status = cli_make_dirs("import", io.dest);
    if (status == 0 && io.dest != NULL && (store = bk_store_open(io.dest, 1, &err)) == NULL)
        status = cli_fail("import", "%s", err.msg);
    if (status == 0) {
        cli_import_args args = {"import", &attrs, &opts, cache, store};
        status = cli_run_import(&args, &res);
    }
    if (status == 0)
        status = report(&res, store);
    if (status == 0 && io.json)
        status = print_json(&res);
    bk_import_result_clear(&res);
    bk_store_free(store);
    bk_s3cache_free(cache);
    bk_s3_attrs_clear(&attrs);
    return status;
}
