/* bkcache fmt: re-encodes a cache config the way BuildKit's Go code writes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/cacheconfig.h"
#include "cli_io.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache fmt [FILE|-] [--pretty] [--check]\n"
                 "  Reads a BuildKit cache config (the S3 manifest or a local cache's config\n"
                 "  blob) and writes it re-encoded exactly as BuildKit's Go code would: compact,\n"
                 "  no trailing newline. FILE must be a regular file; - (the default) reads\n"
                 "  standard input.\n"
                 "  --pretty  indent for humans (two spaces, trailing newline)\n"
                 "  --check   write nothing; exit 1 if the input is not already canonical\n"
                 "Exit status: 0 ok, 1 not canonical (--check), 2 bad usage or invalid input.\n");
}

typedef struct fmt_own {
    int pretty, check;
} fmt_own;

static int on_option(void *ud, int opt, const char *arg)
{
    (void)arg;
    fmt_own *o = ud;
    *(opt == 'p' ? &o->pretty : &o->check) = 1;
    return 0;
}

int bk_cmd_fmt(int argc, char **argv)
{
    static const struct option own[] = {
        {"pretty", no_argument, NULL, 'p'},
        {"check", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    fmt_own fo = {0};
    const cli_command cmd = {.name = "fmt",
                             .own = own,
                             .on_own = on_option,
                             .ud = &fo,
                             .usage = usage,
                             .operands = CLI_ANY_OPERANDS};
    cli_options opts = {0};
    int first = 0;
    int rc = cli_parse(&cmd, argc, argv, &opts, &first);
    if (rc != CLI_CONTINUE)
        return rc;
    if (argc - first > 1)
        return cli_fail("fmt", "only one input file may be given");
    if (fo.pretty && fo.check)
        return cli_fail("fmt", "--check compares with the compact form; drop --pretty");
    const char *path = first < argc ? argv[first] : "-";
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char *data = NULL;
    size_t len = 0;
    rc = cli_read_input("fmt", path, &data, &len);
    if (rc)
        return rc;
    bk_err err = {0};
    bk_cache_config *cfg = NULL;
    bk_buf out = BK_BUF_INIT;
    if (bk_config_parse(data, len, &cfg, &err) != BK_OK ||
        bk_config_encode(cfg, &out, &err) != BK_OK) {
        rc = cli_fail("fmt", "%s: %s", name, err.msg);
    } else if (fo.check) {
        if (out.len != len || memcmp(out.data, data, len) != 0) {
            cli_fail("fmt", "%s is not in canonical form", name);
            rc = CLI_EXIT_FAILED;
        }
    } else {
        rc = cli_write_config("fmt", out.data, out.len, fo.pretty);
    }
    bk_buf_clear(&out);
    bk_config_free(cfg);
    free(data);
    return rc;
}
