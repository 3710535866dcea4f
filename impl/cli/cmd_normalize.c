/* bkcache normalize: parses a cache config into records (BuildKit's import
 * rules) and marshals them again (dedup, newest result, deterministic sort). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/chains.h"
#include "cli_io.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache normalize [FILE|-] [--local] [--pretty]\n"
                 "  Parses a cache config the way BuildKit imports it (every rejection rule\n"
                 "  applies) and writes what BuildKit would export for the same records:\n"
                 "  duplicate records and chains merged, the newest result per record, layers\n"
                 "  and records sorted with their indexes rewritten. Compact, no newline.\n"
                 "  FILE must be a regular file; - (the default) reads standard input.\n"
                 "  --local   the type=local form: layers carry no annotations\n"
                 "  --pretty  indent for humans (two spaces, trailing newline)\n"
                 "Exit status: 0 ok, 2 bad usage or a config BuildKit would refuse.\n");
}

typedef struct normalize_own {
    int pretty, local;
} normalize_own;

static int on_option(void *ud, int opt, const char *arg)
{
    (void)arg;
    normalize_own *o = ud;
    *(opt == 'p' ? &o->pretty : &o->local) = 1;
    return 0;
}

int bk_cmd_normalize(int argc, char **argv)
{
    static const struct option own[] = {
        {"pretty", no_argument, NULL, 'p'},
        {"local", no_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    normalize_own no = {0};
    const cli_command cmd = {.name = "normalize",
                             .own = own,
                             .on_own = on_option,
                             .ud = &no,
                             .usage = usage,
                             .operands = CLI_ANY_OPERANDS};
    cli_options opts = {0};
    int first = 0;
    int rc = cli_parse(&cmd, argc, argv, &opts, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (argc - first > 1)
        return cli_fail("normalize", "only one input file may be given");
    const char *path = first < argc ? argv[first] : "-";
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char *data = NULL;
    size_t len = 0;
    rc = cli_read_input("normalize", path, &data, &len);
    if (rc)
        return rc;
    bk_err err = {0};
    bk_cache_config *cfg = NULL, *norm = NULL;
    bk_buf out = BK_BUF_INIT;
    if (bk_config_parse(data, len, &cfg, &err) != BK_OK ||
        bk_chains_normalize(cfg, no.local ? 0 : BK_VALIDATE_S3,
                            no.local ? 0 : BK_MARSHAL_ANNOTATIONS, &norm, &err) != BK_OK ||
        bk_config_encode(norm, &out, &err) != BK_OK) {
        rc = cli_fail("normalize", "%s: %s", name, err.msg);
    } else {
        rc = cli_write_config("normalize", out.data, out.len, no.pretty);
    }
    bk_buf_clear(&out);
    bk_config_free(norm);
    bk_config_free(cfg);
    free(data);
    return rc;
}
