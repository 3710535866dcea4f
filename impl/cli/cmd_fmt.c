/* bkcache fmt: re-encodes a cache config the way BuildKit's Go code writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/gojson.h"
#include "cmd.h"

void bk_cli_error_line(const char *cmd, const char *where, const char *msg)
{
    fprintf(stderr, "bkcache %s: %s: ", cmd, where);
    for (const char *p = msg; *p; p++)
        fputc((unsigned char)*p < 0x20 ? '?' : *p, stderr);
    fputc('\n', stderr);
}

int bk_cli_read_input(const char *cmd, const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        bk_cli_error_line(cmd, path, strerror(errno));
        return 2;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(buf, cap + 1);
            if (!p) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                bk_cli_error_line(cmd, path, "out of memory");
                return 2;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (failed) {
        free(buf);
        bk_cli_error_line(cmd, path, "read error");
        return 2;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache fmt [FILE|-] [--pretty] [--check]\n"
                 "  Reads a BuildKit cache config (the S3 manifest or a local cache's config\n"
                 "  blob) and writes it re-encoded exactly as BuildKit's Go code would: compact,\n"
                 "  no trailing newline.\n"
                 "  --pretty  indent for humans (two spaces, trailing newline)\n"
                 "  --check   write nothing; exit 1 if the input is not already canonical\n"
                 "Exit status: 0 ok, 1 not canonical (--check), 2 bad usage or invalid input.\n");
}

int bk_cmd_fmt(int argc, char **argv)
{
    const char *path = NULL;
    int pretty = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pretty") == 0) {
            pretty = 1;
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bkcache fmt: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "bkcache fmt: only one input file may be given\n");
            return 2;
        }
    }
    if (pretty && check) {
        fprintf(stderr, "bkcache fmt: --check compares with the compact form; drop --pretty\n");
        return 2;
    }
    if (!path)
        path = "-";
    char *data = NULL;
    size_t len = 0;
    int rc = bk_cli_read_input("fmt", path, &data, &len);
    if (rc)
        return rc;
    bk_err err = {0};
    bk_cache_config *cfg = NULL;
    bk_buf out = BK_BUF_INIT;
    if (bk_config_parse(data, len, &cfg, &err) != BK_OK ||
        bk_config_encode(cfg, &out, &err) != BK_OK) {
        bk_cli_error_line("fmt", strcmp(path, "-") == 0 ? "<stdin>" : path, err.msg);
        rc = 2;
    } else if (check) {
        if (out.len != len || memcmp(out.data, data, len) != 0) {
            fprintf(stderr, "bkcache fmt: %s is not in canonical form\n",
                    strcmp(path, "-") == 0 ? "<stdin>" : path);
            rc = 1;
        }
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
        fprintf(stderr, "bkcache fmt: writing the output failed\n");
        rc = 2;
    }
    bk_buf_free(&out);
    bk_config_free(cfg);
    free(data);
    return rc;
}
