#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli_msg.h"
#include "cmd.h"

static const bk_cmd commands[] = {
    {"demo", bk_cmd_demo, "the main job against a mock S3 in this process (no setup)"},
    {"export", bk_cmd_export, "export a build graph's cache to S3 (--cache-to type=s3,...)"},
    {"import", bk_cmd_import, "import a cache from S3 (--cache-from type=s3,...), verified"},
    {"push", bk_cmd_push, "export a BuildKit type=local cache directory to S3"},
    {"pull", bk_cmd_pull, "import from S3 into a BuildKit type=local cache directory"},
    {"version", bk_cmd_version, "print the version"},
    {"fmt", bk_cmd_fmt, "re-encode a cache config exactly as BuildKit (Go) writes it"},
    {"normalize", bk_cmd_normalize, "parse a cache config into records and marshal it again"},
    {"sigv4", bk_cmd_sigv4, "sign or presign a raw HTTP request (SigV4 debugging)"},
    {"explain", bk_cmd_explain, "show what a cache holds (tree, dot/svg/png, json) or --diff two"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'bkcache <command> --help' for a command's options.\n");
}

/* A command is short-lived and its large buffers (a fixture read whole, the
 * JSON tree's chunks, a listing page, a manifest) are each freed before the
 * next is made. By default glibc maps every one of them fresh and unmaps it on
 * free, so each page is faulted in again; it raises its threshold only after
 * the first such free. Starting where it would end up keeps freed memory in
 * the heap for the next buffer. Blob-sized buffers (part bodies) are larger
 * and still mapped and unmapped. */
static void keep_freed_buffers(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
}

int main(int argc, char **argv)
{
    keep_freed_buffers();
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    cli_fail(NULL, "unknown command '%s'", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
