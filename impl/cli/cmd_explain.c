/* bkcache explain: what a BuildKit S3 cache holds, as a tree (text), a
 * Graphviz picture (dot, svg, png) or JSON; and --diff between two caches. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bkcache/explain.h"
#include "cli_io.h"
#include "cli_msg.h"
#include "cli_opts.h"
#include "cli_s3.h"
#include "cmd.h"

extern char **environ;

#define SHARED (CLI_CACHE_FROM | CLI_STRICT | CLI_NETWORK | CLI_VERBOSE)

static void usage(FILE *out)
{
    fprintf(out, "usage: bkcache explain [options] --cache-from ATTRS\n"
                 "       bkcache explain [options] PATH\n"
                 "       bkcache explain --diff A B [--format text|json] [--graph FILE]\n"
                 "\n"
                 "Shows what a BuildKit S3 cache holds: the bucket tree (manifests and blobs with\n"
                 "sizes and ages), each manifest as a tree of records (inputs with selectors,\n"
                 "results as layer chains base -> top with media type, diffID, size, createdAt),\n"
                 "then blobs no manifest references and referenced blobs that are missing.\n"
                 "\n");
    cli_usage_line(out, "--cache-from ATTRS",
                   "type=s3,bucket=...,region=...: list\n"
                   "<prefix><manifests_prefix> and <prefix><blobs_prefix>,\n"
                   "read every manifest");
    cli_usage_line(out, "PATH",
                   "a cache config file (an S3 manifest; - for stdin),\n"
                   "a type=local cache directory, or a build-graph\n"
                   "fixture (the manifest an export of it writes, see\n"
                   "--mode)");
    cli_usage_line(out, "--format FMT",
                   "text (default), dot, json, svg or png (svg and png\n"
                   "run Graphviz's dot: Debian package graphviz)");
    cli_usage_line(out, "-o, --output FILE", "write to FILE instead of stdout");
    cli_usage_line(out, "--graph FILE", "name records after this graph fixture's vertices");
    cli_usage_line(out, "--mode MODE", "min (default) or max, for a graph fixture PATH");
    cli_usage_line(out, "--tag TAG", "the tag of a type=local cache (default latest)");
    cli_usage_line(out, "--full-digests", "text: full digests instead of 12 hex digits");
    cli_usage_line(out, "--no-ages", "text: leave out ages (for output that must not\nchange)");
    cli_usage_line(out, "--diff A B",
                   "compare two caches: records, layers and blobs one\n"
                   "has and the other lacks. A and B are each ATTRS\n"
                   "(type=s3,...: the manifest an import reads, of the\n"
                   "first name) or a PATH");
    cli_usage_shared(out, SHARED & ~CLI_CACHE_FROM, NULL);
    fprintf(out, "\n"
                 "Files read must be regular files (a stream through -); symbolic links are\n"
                 "followed.\n"
                 "Exit status: 0 done (--diff: the caches agree), 1 S3 or Graphviz failed\n"
                 "(--diff: the caches differ), 2 bad usage or input.\n");
}

typedef enum out_format { FMT_TEXT, FMT_DOT, FMT_JSON, FMT_SVG, FMT_PNG } out_format;

typedef struct explain_args {
    const char *graph;
    const char *tag;
    const char *output;
    enum bk_export_mode mode;
    out_format format;
    int full_digests, no_ages, diff;
    const cli_options *opts; /* --strict, the network options */
} explain_args;

/* An attribute string starts with its type, as buildx requires. */
static int is_attrs(const char *s)
{
    return strncmp(s, "type=", 5) == 0;
}

/* 1 when the JSON text is a graph fixture (has "vertices"). */
static int is_graph_fixture(const char *data, size_t len)
{
    json_t *j = json_loadb(data, len, 0, NULL);
    int yes = json_is_object(j) && json_object_get(j, "vertices") != NULL;
    json_decref(j);
    return yes;
}

/* Loads one source. Returns 0, or the exit status to return. */
static int load_source(const char *spec, int from_bucket, int first_name_only,
                       const explain_args *a, bk_explain **out)
{
    bk_err err;
    bk_err_clear(&err);
    *out = NULL;
    if (from_bucket) {
        bk_s3_attrs attrs;
        if (cli_parse_attrs("explain", spec, a->opts->strict, &attrs) != 0)
            return CLI_EXIT_USAGE;
        bk_s3cache *cache = cli_s3_cache("explain", &attrs, a->opts);
        int status = 0;
        if (cache == NULL) {
            status = CLI_EXIT_USAGE;
        } else {
            bk_explain_bucket_opts o = {0};
            o.first_name_only = first_name_only;
            bk_code rc = bk_explain_bucket(cache, &o, out, &err);
            if (rc != BK_OK) {
                cli_fail("explain", "%s", err.msg);
                status = rc == BK_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
            }
        }
        bk_s3cache_free(cache);
        bk_s3_attrs_clear(&attrs);
        return status;
    }
    struct stat st;
    if (strcmp(spec, "-") != 0 && stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (bk_explain_local(spec, a->tag, out, &err) != BK_OK)
            return cli_fail("explain", "%s", err.msg);
        return 0;
    }
    char *data = NULL;
    size_t len = 0;
    if (cli_read_input("explain", spec, &data, &len) != 0)
        return CLI_EXIT_USAGE;
    bk_code rc;
    if (strcmp(spec, "-") != 0 && is_graph_fixture(data, len))
        rc = bk_explain_graph(spec, a->mode, out, &err);
    else
        rc = bk_explain_manifest_bytes(strcmp(spec, "-") == 0 ? "(stdin)" : spec, data, len, out,
                                       &err);
    free(data);
    if (rc != BK_OK)
        return cli_fail("explain", "%s: %s", spec, err.msg);
    return 0;
}

static int add_labels(bk_explain *e, const char *graph_path)
{
    if (graph_path == NULL)
        return 0;
    bk_err err;
    bk_err_clear(&err);
    bk_graph *g = NULL;
    bk_code rc = bk_graph_load(graph_path, &g, &err);
    if (rc == BK_OK)
        rc = bk_explain_add_graph_labels(e, g, &err);
    bk_graph_free(g);
    if (rc != BK_OK)
        return cli_fail("explain", "--graph %s: %s", graph_path, err.msg);
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes the rendering. Text is for a terminal: what it echoes from a
 * bucket or a manifest (keys, selectors, media types) is escaped there. */
static int emit(const char *output, const bk_buf *rendered, int text)
{
    bk_buf escaped = BK_BUF_INIT;
    const bk_buf *b = rendered;
    if (text) {
        cli_escape_text(&escaped, bk_buf_str(rendered));
        b = &escaped;
    }
    FILE *f = output ? fopen(output, "w") : stdout;
    int status = 0;
    if (f == NULL) {
        status = cli_fail("explain", "%s: %s", output, strerror(errno));
    } else {
        size_t n = fwrite(bk_buf_str(b), 1, b->len, f);
        int bad = b->failed || n != b->len || fflush(f) != 0;
        if (output != NULL && fclose(f) != 0)
            bad = 1;
        if (bad) {
            cli_fail("explain", "writing %s failed", output ? output : "stdout");
            status = CLI_EXIT_FAILED;
        }
    }
    bk_buf_clear(&escaped);
    return status;
}

/* Pipes the dot source into Graphviz's `dot`; its output goes straight to
 * the file or to our stdout. */
static int run_graphviz(const char *format, const char *output, const bk_buf *dot_src)
{
    int fds[2];
    if (pipe(fds) != 0) {
        cli_fail("explain", "pipe: %s", strerror(errno));
        return CLI_EXIT_FAILED;
    }
    char tflag[16];
    snprintf(tflag, sizeof tflag, "-T%s", format);
    char *argv[] = {"dot", tflag, output ? "-o" : NULL, (char *)output, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    fflush(stdout);
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        if (rc == ENOENT)
            return cli_fail("explain",
                            "--format %s needs Graphviz's `dot` program, which is not installed "
                            "(Debian/Ubuntu: apt-get install graphviz). --format dot prints the "
                            "graph source without it.",
                            format);
        cli_fail("explain", "starting dot: %s", strerror(rc));
        return CLI_EXIT_FAILED;
    }
    /* dot may die early: a write error then is its failure, not a signal for us. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    int wrote = write_all(fds[1], bk_buf_str(dot_src), dot_src->len);
    close(fds[1]);
    signal(SIGPIPE, old);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (wrote != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_fail("explain", "dot -T%s failed (exit %d)", format,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return CLI_EXIT_FAILED;
    }
    return 0;
}

static int parse_format(const char *s, out_format *f)
{
    static const char *const names[] = {"text", "dot", "json", "svg", "png"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *f = (out_format)i;
            return 0;
        }
    return -1;
}

static int run_diff(const char *a_spec, const char *b_spec, const explain_args *a,
                    const bk_explain_render_opts *ro)
{
    if (a->format != FMT_TEXT && a->format != FMT_JSON)
        return cli_fail("explain", "--diff prints text or json");
    bk_explain *ea = NULL, *eb = NULL;
    int status = load_source(a_spec, is_attrs(a_spec), 1, a, &ea);
    if (status == 0)
        status = load_source(b_spec, is_attrs(b_spec), 1, a, &eb);
    if (status == 0)
        status = add_labels(ea, a->graph);
    if (status == 0)
        status = add_labels(eb, a->graph);
    if (status != 0) {
        bk_explain_free(ea);
        bk_explain_free(eb);
        return CLI_EXIT_USAGE;
    }
    bk_buf out = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    int differs = 0;
    bk_code rc = a->format == FMT_JSON ? bk_explain_diff_json(ea, eb, &out, &differs, &err)
                                       : bk_explain_diff_text(ea, eb, ro, &out, &differs, &err);
    if (rc != BK_OK)
        status = cli_fail("explain", "%s", err.msg);
    else
        status = emit(a->output, &out, a->format == FMT_TEXT) != 0 ? CLI_EXIT_USAGE
                 : differs                                         ? CLI_EXIT_FAILED
                                                                   : 0;
    bk_buf_clear(&out);
    bk_explain_free(ea);
    bk_explain_free(eb);
    return status;
}

/* One cache rendered in the chosen format. */
static int run_one(const char *spec, int from_bucket, const explain_args *a,
                   const bk_explain_render_opts *ro)
{
    bk_explain *e = NULL;
    int status = load_source(spec, from_bucket, 0, a, &e);
    if (status == 0)
        status = add_labels(e, a->graph);
    if (status != 0) {
        bk_explain_free(e);
        return status;
    }
    bk_buf out = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    bk_code rc;
    switch (a->format) {
    case FMT_JSON:
        rc = bk_explain_json(e, &out, &err);
        break;
    case FMT_TEXT:
        rc = bk_explain_text(e, ro, &out, &err);
        break;
    default:
        rc = bk_explain_dot(e, ro, &out, &err);
        break;
    }
    if (rc != BK_OK) {
        cli_fail("explain", "%s", err.msg);
        status = CLI_EXIT_FAILED;
    } else if (a->format == FMT_SVG || a->format == FMT_PNG) {
        status = run_graphviz(a->format == FMT_SVG ? "svg" : "png", a->output, &out);
    } else {
        status = emit(a->output, &out, a->format == FMT_TEXT);
    }
    bk_buf_clear(&out);
    bk_explain_free(e);
    return status;
}

static int on_option(void *ud, int opt, const char *arg)
{
    explain_args *a = ud;
    switch (opt) {
    case 'f':
        if (parse_format(arg, &a->format) != 0)
            return cli_fail("explain", "--format must be text, dot, json, svg or png");
        break;
    case 'o':
        a->output = arg;
        break;
    case 'g':
        a->graph = arg;
        break;
    case 'm':
        if (strcmp(arg, "min") == 0)
            a->mode = BK_EXPORT_MIN;
        else if (strcmp(arg, "max") == 0)
            a->mode = BK_EXPORT_MAX;
        else
            return cli_fail("explain", "--mode must be min or max");
        break;
    case 't':
        a->tag = arg;
        break;
    case 'F':
        a->full_digests = 1;
        break;
    case 'A':
        a->no_ages = 1;
        break;
    default: /* 'd' */
        a->diff = 1;
        break;
    }
    return 0;
}

int bk_cmd_explain(int argc, char **argv)
{
    static const struct option own[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"graph", required_argument, NULL, 'g'},
        {"mode", required_argument, NULL, 'm'},
        {"tag", required_argument, NULL, 't'},
        {"full-digests", no_argument, NULL, 'F'},
        {"no-ages", no_argument, NULL, 'A'},
        {"diff", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    explain_args a = {0};
    a.mode = BK_EXPORT_MIN;
    a.format = FMT_TEXT;
    cli_options opts = {0};
    a.opts = &opts;
    const cli_command cmd = {.name = "explain",
                             .shared = SHARED,
                             .own = own,
                             .own_short = "o:",
                             .on_own = on_option,
                             .ud = &a,
                             .usage = usage,
                             .operands = CLI_ANY_OPERANDS};
    int first = 0;
    int status = cli_parse(&cmd, argc, argv, &opts, &first);
    if (status != CLI_CONTINUE)
        return status;
    bk_explain_render_opts ro = {0};
    ro.now = a.no_ages ? 0 : (int64_t)time(NULL);
    ro.full_digests = a.full_digests;
    int operands = argc - first;
    if (a.diff) {
        if (opts.attrs != NULL || operands != 2) {
            cli_fail("explain", "--diff takes exactly two caches, A and B");
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
        return run_diff(argv[first], argv[first + 1], &a, &ro);
    }
    if ((opts.attrs == NULL) == (operands != 1) || operands > 1) {
        cli_fail("explain", "give either --cache-from ATTRS or one PATH");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return run_one(opts.attrs ? opts.attrs : argv[first], opts.attrs != NULL, &a, &ro);
}
