/* bkcache-conformance: judges an implementation of BuildKit's S3 cache
 * backend (through the adapter contract of conformance/ADAPTER.md) against
 * the in-process mock or any S3 endpoint, and checks buckets written by
 * anyone (`verify`). Every check prints one PASS/FAIL/SKIP/WARN line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf.h"
#include "stores.h"

#ifndef BKCONF_FIXTURES_DIR
#define BKCONF_FIXTURES_DIR "fixtures"
#endif

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: bkcache-conformance [options]\n"
        "       bkcache-conformance verify --cache-from ATTRS [--journal FILE] [--junit FILE]\n"
        "                                  [--html FILE] [--strict]\n"
        "       bkcache-conformance stores [--endpoint URL --bucket B [--region R] | --behave\n"
        "                                  NAME...] [--json] [--junit FILE] (see stores --help)\n"
        "\n"
        "Runs the conformance suites against the in-process mock S3 (default) or any\n"
        "S3 endpoint, judging bkcache itself or any adapter (conformance/ADAPTER.md).\n"
        "Each check is required (what BuildKit itself does, what interop needs) or\n"
        "recommended (stricter than BuildKit); a failed recommended check prints\n"
        "WARN, naming what BuildKit does, and does not fail the run.\n"
        "\n"
        "  --endpoint URL     S3 endpoint (env BKCACHE_CONFORMANCE_ENDPOINT); credentials\n"
        "                     from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / ...\n"
        "  --aws              real AWS S3 (no endpoint_url; env BKCACHE_CONFORMANCE_AWS=1)\n"
        "  --region R         region (env BKCACHE_CONFORMANCE_REGION, else AWS_REGION)\n"
        "  --bucket B         an existing bucket (env BKCACHE_CONFORMANCE_BUCKET)\n"
        "  --virtual-host     virtual-host style addressing on the endpoint\n"
        "  --impl ADAPTER     implementation under test (default: bkcache beside this tool)\n"
        "  --suite NAME       run only these suites (repeatable, or comma-separated)\n"
        "  --junit FILE       also write a JUnit XML report\n"
        "  --html FILE        also write an HTML report: every check with, for each FAIL\n"
        "                     and WARN (PASS on demand), its requests from the mock's\n"
        "                     journal, the keys under its prefix, the bytes it compared\n"
        "                     and its cache as an explain tree and graph (Graphviz's dot\n"
        "                     draws it); one self-contained file\n"
        "  --keep             leave the objects written under the run's prefix\n"
        "  --fixtures DIR     fixtures folder (default: the source tree's)\n"
        "  --timeout SECONDS  deadline of one adapter run (default 120)\n"
        "  --verbose          print adapter stderr on failed runs\n"
        "  --strict           a failed recommended check is a failure, not a warning\n"
        "  --list             list the suites and their checks with their level\n"
        "\n"
        "Output: PASS|FAIL|SKIP|WARN suite.check \xe2\x80\x94 reason, one line per check, then\n"
        "\"N passed, N failed, N skipped\" and \"N warnings\".\n"
        "Exit status: 0 no check failed (a warning is no failure), 1 a check failed,\n"
        "2 usage or setup error.\n");
}

static int suite_selected(char **wanted, size_t n, const char *name)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(wanted[i], name) == 0)
            return 1;
    return 0;
}

static void default_paths(conf_ctx *c)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(c->native_bin, sizeof c->native_bin, "%s/bkcache", self);
    } else {
        snprintf(c->native_bin, sizeof c->native_bin, "bkcache");
    }
    const char *fx = getenv("BKCACHE_CONFORMANCE_FIXTURES");
    snprintf(c->fixtures, sizeof c->fixtures, "%s", fx ? fx : BKCONF_FIXTURES_DIR);
}

/* The staged graphs name their store by this path, and adapters run
 * elsewhere: a relative --fixtures must not stay relative. */
static int absolute_fixtures(conf_ctx *c)
{
    char abs[PATH_MAX];
    snprintf(c->fixtures_given, sizeof c->fixtures_given, "%s", c->fixtures);
    if (realpath(c->fixtures, abs) == NULL) {
        fprintf(stderr, "bkcache-conformance: fixtures folder %s: %s\n", c->fixtures,
                strerror(errno));
        return -1;
    }
    snprintf(c->fixtures, sizeof c->fixtures, "%s", abs);
    return 0;
}

static void list_checks(void)
{
    size_t n = 0;
    const conf_suite *suites = conf_suites(&n);
    for (size_t i = 0; i < n; i++) {
        printf("%s: %s\n", suites[i].name, suites[i].what);
        for (const conf_check *k = suites[i].checks; k->name != NULL; k++) {
            char full[128];
            snprintf(full, sizeof full, "%s.%s", suites[i].name, k->name);
            if (k->level == CONF_RECOMMENDED)
                printf("  %-44s recommended  %s\n", full, k->beyond);
            else
                printf("  %-44s required\n", full);
        }
    }
}

/* --html: each result records what the report shows of it from now on. */
static void want_html(conf_ctx *c)
{
    c->details = 1;
    c->started = time(NULL);
    c->started_mono = conf_now();
}

static int finish(conf_ctx *c, const char *junit, const char *html)
{
    conf_counts n = conf_summary(c);
    printf("%zu passed, %zu failed, %zu skipped\n", n.passed, n.failed, n.skipped);
    printf("%zu warnings\n", n.warned);
    int status = n.failed > 0 ? 1 : 0;
    bk_err err;
    bk_err_clear(&err);
    if (junit != NULL && conf_write_junit(c, junit, &err) != BK_OK) {
        fprintf(stderr, "bkcache-conformance: %s\n", err.msg);
        status = 2;
    }
    if (html != NULL && conf_write_html(c, html, &err) != BK_OK) {
        fprintf(stderr, "bkcache-conformance: %s\n", err.msg);
        status = 2;
    }
    return status;
}

static int cmd_verify(conf_ctx *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cache-from", required_argument, NULL, 'c'},
        {"journal", required_argument, NULL, 'j'},
        {"junit", required_argument, NULL, 'J'},
        {"html", required_argument, NULL, 'H'},
        {"strict", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *attrs = NULL, *journal = NULL, *junit = NULL, *html = NULL;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            attrs = optarg;
            break;
        case 'j':
            journal = optarg;
            break;
        case 'J':
            junit = optarg;
            break;
        case 'H':
            html = optarg;
            break;
        case 'S':
            c->strict = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (attrs == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (html != NULL) {
        want_html(c);
        conf_begin(c);
        c->case_attrs = strdup(attrs); /* the cache the report explains */
    }
    conf_verify_opts o = {attrs, journal, "verify"};
    conf_verify_bucket(c, &o);
    return finish(c, junit, html);
}

/* What a suites run was asked for on the command line. */
typedef struct run_options {
    conf_target_opts target;
    const char *junit, *html;
    char *suite_args; /* every --suite value, comma-joined; wanted[] points into it */
    char *wanted[64];
    size_t n_wanted;
} run_options;

/* Appends one --suite value (itself a comma list) to the joined list. */
static int add_suite_arg(run_options *o, const char *arg)
{
    size_t old = o->suite_args ? strlen(o->suite_args) : 0;
    char *grown = realloc(o->suite_args, old + strlen(arg) + 2);
    if (grown == NULL)
        return -1;
    o->suite_args = grown;
    snprintf(o->suite_args + old, strlen(arg) + 2, "%s%s", old ? "," : "", arg);
    return 0;
}

/* Parses the run's options into c and o. Returns -1 to go on, else the exit
 * status (--help and --list end here with 0). */
static int parse_run_options(conf_ctx *c, run_options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        CONF_TARGET_LONGOPTS,
        {"impl", required_argument, NULL, 'i'},
        {"suite", required_argument, NULL, 's'},
        {"junit", required_argument, NULL, 'J'},
        {"html", required_argument, NULL, 'H'},
        {"keep", no_argument, NULL, 'k'},
        {"fixtures", required_argument, NULL, 'f'},
        {"timeout", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"strict", no_argument, NULL, 'S'},
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    conf_target_opts_env(&o->target);
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (conf_target_option(&o->target, ch, optarg))
            continue;
        long t;
        switch (ch) {
        case 'i':
            c->impl = optarg;
            break;
        case 's':
            if (add_suite_arg(o, optarg) != 0)
                return 2;
            break;
        case 'J':
            o->junit = optarg;
            break;
        case 'H':
            o->html = optarg;
            break;
        case 'k':
            c->keep = 1;
            break;
        case 'f':
            snprintf(c->fixtures, sizeof c->fixtures, "%s", optarg);
            break;
        case 't':
            t = strtol(optarg, NULL, 10);
            if (t <= 0 || t > INT_MAX) {
                fprintf(stderr, "bkcache-conformance: --timeout wants a positive number\n");
                return 2;
            }
            c->adapter_timeout_s = (int)t;
            break;
        case 'v':
            c->verbose = 1;
            break;
        case 'S':
            c->strict = 1;
            break;
        case 'l':
            list_checks();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Splits the --suite values into wanted[], each a suite the runner has.
 * Returns 0, or 2 after naming an unknown one. */
static int select_suites(const conf_ctx *c, run_options *o)
{
    if (o->suite_args == NULL)
        return 0;
    for (char *tok = strtok(o->suite_args, ","); tok && o->n_wanted < 64; tok = strtok(NULL, ",")) {
        int known = 0;
        for (size_t i = 0; i < c->n_suites && !known; i++)
            known = strcmp(c->suites[i].name, tok) == 0;
        if (!known) {
            fprintf(stderr, "bkcache-conformance: unknown suite \"%s\" (see --list)\n", tok);
            return 2;
        }
        o->wanted[o->n_wanted++] = tok;
    }
    return 0;
}

/* The target opened and the implementation found; prints the run's header. */
static int open_run(conf_ctx *c, run_options *o)
{
    bk_err err;
    bk_err_clear(&err);
    if (conf_target_open(c, &o->target, &err) != BK_OK) {
        fprintf(stderr, "bkcache-conformance: %s\n", err.msg);
        return 2;
    }
    if (c->impl != NULL && access(c->impl, X_OK) != 0) {
        fprintf(stderr, "bkcache-conformance: adapter %s is not executable\n", c->impl);
        return 2;
    }
    if (c->impl == NULL && access(c->native_bin, X_OK) != 0) {
        fprintf(stderr, "bkcache-conformance: %s not found; pass --impl ADAPTER\n", c->native_bin);
        return 2;
    }
    conf_load_capabilities(c);
    printf("# target: %s%s (bucket %s, region %s, prefix %s)\n",
           c->is_mock ? "in-process mock at " : "", c->endpoint[0] ? c->endpoint : "AWS S3",
           c->bucket, c->region, c->run_prefix);
    printf("# implementation: %s\n", c->impl ? c->impl : c->native_bin);
    fflush(stdout);
    return 0;
}

/* Runs the selected suites in the table's order, then removes what they
 * left under the run's prefix (unless --keep). */
static void run_suites(conf_ctx *c, run_options *o)
{
    for (size_t i = 0; i < c->n_suites; i++) {
        if (!suite_selected(o->wanted, o->n_wanted, c->suites[i].name))
            continue;
        conf_begin(c);
        c->suites[i].fn(c);
    }
    if (c->keep) {
        printf("# kept the objects under %s\n", c->run_prefix);
        return;
    }
    bk_err err;
    bk_err_clear(&err);
    if (conf_delete_prefix(c, c->run_prefix, &err) < 0)
        fprintf(stderr, "bkcache-conformance: cleanup of %s failed: %s\n", c->run_prefix, err.msg);
}

/* The suites: parse, prepare the scratch folder and the target, run, report. */
static int cmd_run(conf_ctx *c, int argc, char **argv)
{
    run_options o;
    memset(&o, 0, sizeof o);
    int status = parse_run_options(c, &o, argc, argv);
    if (status < 0) /* going on */
        status = select_suites(c, &o) != 0 || absolute_fixtures(c) != 0 ? 2 : -1;
    if (status >= 0) {
        free(o.suite_args);
        return status;
    }
    if (o.html != NULL)
        want_html(c);
    if (conf_make_tmp(c) != 0) {
        fprintf(stderr, "bkcache-conformance: cannot create a scratch folder\n");
        free(o.suite_args);
        return 2;
    }
    status = open_run(c, &o);
    if (status == 0) {
        run_suites(c, &o);
        status = finish(c, o.junit, o.html);
    }
    conf_detail_state_clear(c);
    conf_target_stop(c);
    if (!c->keep)
        conf_rmtree(c->tmp);
    free(o.suite_args);
    return status;
}

int main(int argc, char **argv)
{
    conf_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    conf_ctx *c = &ctx;
    c->adapter_timeout_s = 120;
    default_paths(c);
    c->suites = conf_suites(&c->n_suites);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc;
    if (argc > 1 && strcmp(argv[1], "stores") == 0) {
        rc = conf_stores_command(c, argc - 1, argv + 1);
    } else if (argc > 1 && strcmp(argv[1], "verify") == 0) {
        rc = cmd_verify(c, argc - 1, argv + 1);
        conf_detail_state_clear(c);
        conf_target_stop(c);
    } else {
        rc = cmd_run(c, argc, argv);
    }
    conf_results_free(c);
    curl_global_cleanup();
    return rc;
}
