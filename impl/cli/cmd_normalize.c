/* bkcache normalize: parses a cache config into records (BuildKit's import
 * rules) and marshals them again (dedup, newest result, deterministic sort). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/chains.h"
#include "bkcache/gojson.h"
#include "cmd.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache normalize [FILE|-] [--local] [--pretty]\n"
                 "  Parses a cache config the way BuildKit imports it (every rejection rule\n"
                 "  applies) and writes what BuildKit would export for the same records:\n"
                 "  duplicate records and chains merged, the newest result per record, layers\n"
                 "  and records sorted with their indexes rewritten. Compact, no newline.\n"
                 "  --local   the type=local form: layers carry no annotations\n"
                 "  --pretty  indent for humans (two spaces, trailing newline)\n"
                 "Exit status: 0 ok, 2 bad usage or a config BuildKit would refuse.\n");
}

int bk_cmd_normalize(int argc, char **argv)
{
    const char *path = NULL;
    int pretty = 0, local = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pretty") == 0) {
            pretty = 1;
        } else if (strcmp(argv[i], "--local") == 0) {
            local = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bkcache normalize: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "bkcache normalize: only one input file may be given\n");
            return 2;
        }
    }
    if (!path)
        path = "-";
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char *data = NULL;
    size_t len = 0;
    int rc = bk_cli_read_input("normalize", path, &data, &len);
    if (rc)
        return rc;
    bk_err err = {0};
    bk_cache_config *cfg = NULL, *norm = NULL;
    bk_buf out = BK_BUF_INIT;
    if (bk_config_parse(data, len, &cfg, &err) != BK_OK ||
        bk_chains_normalize(cfg, local ? 0 : BK_VALIDATE_S3, local ? 0 : BK_MARSHAL_ANNOTATIONS,
                            &norm, &err) != BK_OK ||
        bk_config_encode(norm, &out, &err) != BK_OK) {
        bk_cli_error_line("normalize", name, err.msg);
        rc = 2;
    } else if (pretty) {
        bk_buf ind = BK_BUF_INIT;
        bk_gojson_indent(&ind, out.data, out.len);
        bk_buf_putc(&ind, '\n');
        fwrite(ind.data, 1, ind.len, stdout);
        bk_buf_free(&ind);
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "bkcache normalize: writing the output failed\n");
        rc = 2;
    }
    bk_buf_free(&out);
    bk_config_free(norm);
    bk_config_free(cfg);
    free(data);
    return rc;
}
