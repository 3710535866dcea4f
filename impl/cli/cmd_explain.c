/* bkcache explain: what a BuildKit S3 cache holds, as a tree (text), a
 * Graphviz picture (dot, svg, png) or JSON; and --diff between two caches. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "bkcache/s3cache.h"
#include "cli_s3.h"
#include "cmd.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: bkcache explain [options] --cache-from ATTRS\n"
        "       bkcache explain [options] PATH\n"
        "       bkcache explain --diff A B [--format text|json] [--graph FILE]\n"
        "\n"
        "Shows what a BuildKit S3 cache holds: the bucket tree (manifests and blobs with\n"
        "sizes and ages), each manifest as a tree of records (inputs with selectors,\n"
        "results as layer chains base -> top with media type, diffID, size, createdAt),\n"
        "then blobs no manifest references and referenced blobs that are missing.\n"
        "\n"
        "  --cache-from ATTRS   type=s3,bucket=...,region=...: list <prefix><manifests_prefix>\n"
        "                       and <prefix><blobs_prefix>, read every manifest\n"
        "  PATH                 a cache config file (an S3 manifest; - for stdin), a\n"
        "                       type=local cache directory, or a build-graph fixture (the\n"
        "                       manifest an export of it writes, see --mode)\n"
        "  --format FMT         text (default), dot, json, svg or png (svg and png run\n"
        "                       Graphviz's dot: Debian package graphviz)\n"
        "  -o, --output FILE    write to FILE instead of stdout\n"
        "  --graph FILE         name records after this graph fixture's vertices\n"
        "  --mode MODE          min (default) or max, for a graph fixture PATH\n"
        "  --tag TAG            the tag of a type=local cache (default latest)\n"
        "  --full-digests       text: full digests instead of 12 hex digits\n"
        "  --no-ages            text: leave out ages (for output that must not change)\n"
        "  --strict             bad attribute values BuildKit ignores are errors\n"
        "  --diff A B           compare two caches: records, layers and blobs one has and\n"
        "                       the other lacks. A and B are each ATTRS (type=s3,...: the\n"
        "                       manifest an import reads, of the first name) or a PATH\n"
        "\n"
        "Exit status: 0 done (--diff: the caches agree), 1 S3 or Graphviz failed\n"
        "(--diff: the caches differ), 2 bad usage or input.\n");
}

typedef enum out_format { FMT_TEXT, FMT_DOT, FMT_JSON, FMT_SVG, FMT_PNG } out_format;

typedef struct explain_args {
    const char *graph;
    const char *tag;
    enum bk_export_mode mode;
    int strict;
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
        if (bk_cli_parse_attrs("explain", spec, a->strict, &attrs) != 0)
            return 2;
        bk_s3_client *client = bk_s3cache_client_new(&attrs, NULL, &err);
        int status = 0;
        if (client == NULL) {
            status = 2;
        } else {
            bk_explain_bucket_opts o = {0};
            o.first_name_only = first_name_only;
            if (bk_explain_bucket(client, &attrs, &o, out, &err) != BK_OK)
                status = err.code == BK_EINVAL ? 2 : 1;
        }
        if (status != 0)
            fprintf(stderr, "bkcache explain: %s\n", err.msg);
        bk_s3_client_free(client);
        bk_s3_attrs_free(&attrs);
        return status;
    }
    struct stat st;
    if (strcmp(spec, "-") != 0 && stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (bk_explain_local(spec, a->tag, out, &err) != BK_OK) {
            fprintf(stderr, "bkcache explain: %s\n", err.msg);
            return 2;
        }
        return 0;
    }
    char *data = NULL;
    size_t len = 0;
    if (bk_cli_read_input("explain", spec, &data, &len) != 0)
        return 2;
    bk_code rc;
    if (strcmp(spec, "-") != 0 && is_graph_fixture(data, len))
        rc = bk_explain_graph(spec, a->mode, out, &err);
    else
        rc = bk_explain_manifest_bytes(strcmp(spec, "-") == 0 ? "(stdin)" : spec, data, len, out,
                                       &err);
    free(data);
    if (rc != BK_OK) {
        fprintf(stderr, "bkcache explain: %s: %s\n", spec, err.msg);
        return 2;
    }
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
    if (rc != BK_OK) {
        fprintf(stderr, "bkcache explain: --graph %s: %s\n", graph_path, err.msg);
        return 2;
    }
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

static int emit(const char *output, const bk_buf *b)
{
    FILE *f = output ? fopen(output, "w") : stdout;
    if (f == NULL) {
        fprintf(stderr, "bkcache explain: %s: %s\n", output, strerror(errno));
        return 2;
    }
    size_t n = fwrite(bk_buf_str(b), 1, b->len, f);
    int bad = n != b->len || fflush(f) != 0;
    if (output != NULL && fclose(f) != 0)
        bad = 1;
    if (bad) {
        fprintf(stderr, "bkcache explain: writing %s failed\n", output ? output : "stdout");
        return 1;
    }
    return 0;
}

/* Pipes the dot source into Graphviz's `dot`; its output goes straight to
 * the file or to our stdout. */
static int run_graphviz(const char *format, const char *output, const bk_buf *dot_src)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "bkcache explain: pipe: %s\n", strerror(errno));
        return 1;
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
            fprintf(stderr,
                    "bkcache explain: --format %s needs Graphviz's `dot` program, which is not "
                    "installed (Debian/Ubuntu: apt-get install graphviz). --format dot prints "
                    "the graph source without it.\n",
                    format);
        else
            fprintf(stderr, "bkcache explain: starting dot: %s\n", strerror(rc));
        return rc == ENOENT ? 2 : 1;
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
        fprintf(stderr, "bkcache explain: dot -T%s failed (exit %d)\n", format,
                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 1;
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

static int run_diff(const char *a_spec, const char *b_spec, out_format fmt, const char *output,
                    const explain_args *a, const bk_explain_render_opts *ro)
{
    if (fmt != FMT_TEXT && fmt != FMT_JSON) {
        fprintf(stderr, "bkcache explain: --diff prints text or json\n");
        return 2;
    }
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
        return 2;
    }
    bk_buf out = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    int differs = 0;
    bk_code rc = fmt == FMT_JSON ? bk_explain_diff_json(ea, eb, &out, &differs, &err)
                                 : bk_explain_diff_text(ea, eb, ro, &out, &differs, &err);
    if (rc != BK_OK) {
        fprintf(stderr, "bkcache explain: %s\n", err.msg);
        status = 2;
    } else {
        status = emit(output, &out) != 0 ? 2 : differs ? 1 : 0;
    }
    bk_buf_free(&out);
    bk_explain_free(ea);
    bk_explain_free(eb);
    return status;
}

int bk_cmd_explain(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cache-from", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"graph", required_argument, NULL, 'g'},
        {"mode", required_argument, NULL, 'm'},
        {"tag", required_argument, NULL, 't'},
        {"full-digests", no_argument, NULL, 'F'},
        {"no-ages", no_argument, NULL, 'A'},
        {"strict", no_argument, NULL, 's'},
        {"diff", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    explain_args a = {0};
    a.mode = BK_EXPORT_MIN;
    const char *cache_from = NULL, *output = NULL;
    out_format fmt = FMT_TEXT;
    int diff = 0, full = 0, no_ages = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cache_from = optarg;
            break;
        case 'f':
            if (parse_format(optarg, &fmt) != 0) {
                fprintf(stderr, "bkcache explain: --format must be text, dot, json, svg or png\n");
                return 2;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'g':
            a.graph = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "min") == 0) {
                a.mode = BK_EXPORT_MIN;
            } else if (strcmp(optarg, "max") == 0) {
                a.mode = BK_EXPORT_MAX;
            } else {
                fprintf(stderr, "bkcache explain: --mode must be min or max\n");
                return 2;
            }
            break;
        case 't':
            a.tag = optarg;
            break;
        case 'F':
            full = 1;
            break;
        case 'A':
            no_ages = 1;
            break;
        case 's':
            a.strict = 1;
            break;
        case 'd':
            diff = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    bk_explain_render_opts ro = {0};
    ro.now = no_ages ? 0 : (int64_t)time(NULL);
    ro.full_digests = full;
    if (diff) {
        if (cache_from != NULL || argc - optind != 2) {
            fprintf(stderr, "bkcache explain: --diff takes exactly two caches, A and B\n");
            usage(stderr);
            return 2;
        }
        return run_diff(argv[optind], argv[optind + 1], fmt, output, &a, &ro);
    }
    if ((cache_from == NULL) == (argc - optind != 1) || argc - optind > 1) {
        fprintf(stderr, "bkcache explain: give either --cache-from ATTRS or one PATH\n");
        usage(stderr);
        return 2;
    }

    bk_explain *e = NULL;
    int status = load_source(cache_from ? cache_from : argv[optind], cache_from != NULL, 0, &a, &e);
    if (status == 0)
        status = add_labels(e, a.graph);
    if (status != 0) {
        bk_explain_free(e);
        return status;
    }
    bk_buf out = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    bk_code rc;
    switch (fmt) {
    case FMT_JSON:
        rc = bk_explain_json(e, &out, &err);
        break;
    case FMT_TEXT:
        rc = bk_explain_text(e, &ro, &out, &err);
        break;
    default:
        rc = bk_explain_dot(e, &ro, &out, &err);
        break;
    }
    if (rc != BK_OK) {
        fprintf(stderr, "bkcache explain: %s\n", err.msg);
        status = 1;
    } else if (fmt == FMT_SVG || fmt == FMT_PNG) {
        status = run_graphviz(fmt == FMT_SVG ? "svg" : "png", output, &out);
    } else {
        status = emit(output, &out);
    }
    bk_buf_free(&out);
    bk_explain_free(e);
    return status;
}
