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

int main(int argc, char **argv)
{
    conf_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    conf_ctx *c = &ctx;
    c->adapter_timeout_s = 120;
    default_paths(c);
    c->suites = conf_suites(&c->n_suites);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (argc > 1 && strcmp(argv[1], "stores") == 0) {
        int rc = conf_stores_command(c, argc - 1, argv + 1);
        conf_results_free(c);
        curl_global_cleanup();
        return rc;
    }
    if (argc > 1 && strcmp(argv[1], "verify") == 0) {
        int rc = cmd_verify(c, argc - 1, argv + 1);
        conf_detail_state_clear(c);
        conf_target_stop(c);
        conf_results_free(c);
        curl_global_cleanup();
        return rc;
    }

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
    conf_target_opts target;
    conf_target_opts_env(&target);
    const char *junit = NULL, *html = NULL;
    char *wanted[64];
    size_t n_wanted = 0;
    char *suite_args = NULL;
    size_t n_suites = 0;
    const conf_suite *suites = conf_suites(&n_suites);
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (conf_target_option(&target, ch, optarg))
            continue;
        switch (ch) {
        case 'i':
            c->impl = optarg;
            break;
        case 's': {
            /* Keep every --suite value alive: wanted[] points into them. */
            size_t old = suite_args ? strlen(suite_args) : 0;
            char *grown = realloc(suite_args, old + strlen(optarg) + 2);
            if (grown == NULL) {
                free(suite_args);
                return 2;
            }
            suite_args = grown;
            snprintf(suite_args + old, strlen(optarg) + 2, "%s%s", old ? "," : "", optarg);
            break;
        }
        case 'J':
            junit = optarg;
            break;
        case 'H':
            html = optarg;
            break;
        case 'k':
            c->keep = 1;
            break;
        case 'f':
            snprintf(c->fixtures, sizeof c->fixtures, "%s", optarg);
            break;
        case 't': {
            long t = strtol(optarg, NULL, 10);
            if (t <= 0 || t > INT_MAX) {
                fprintf(stderr, "bkcache-conformance: --timeout wants a positive number\n");
                free(suite_args);
                return 2;
            }
            c->adapter_timeout_s = (int)t;
            break;
        }
        case 'v':
            c->verbose = 1;
            break;
        case 'S':
            c->strict = 1;
            break;
        case 'l':
            list_checks();
            free(suite_args);
            return 0;
        case 'h':
            usage(stdout);
            free(suite_args);
            return 0;
        default:
            usage(stderr);
            free(suite_args);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        free(suite_args);
        return 2;
    }
    if (suite_args != NULL) {
        for (char *tok = strtok(suite_args, ","); tok && n_wanted < 64; tok = strtok(NULL, ",")) {
            int known = 0;
            for (size_t i = 0; i < n_suites && !known; i++)
                known = strcmp(suites[i].name, tok) == 0;
            if (!known) {
                fprintf(stderr, "bkcache-conformance: unknown suite \"%s\" (see --list)\n", tok);
                free(suite_args);
                return 2;
            }
            wanted[n_wanted++] = tok;
        }
    }

    bk_err err;
    bk_err_clear(&err);
    int status = 2;
    if (absolute_fixtures(c) != 0) {
        free(suite_args);
        return 2;
    }
    if (html != NULL)
        want_html(c);
    if (conf_make_tmp(c) != 0) {
        fprintf(stderr, "bkcache-conformance: cannot create a scratch folder\n");
        free(suite_args);
        return 2;
    }
    if (conf_target_open(c, &target, &err) != BK_OK) {
        fprintf(stderr, "bkcache-conformance: %s\n", err.msg);
        goto out;
    }
    if (c->impl != NULL && access(c->impl, X_OK) != 0) {
        fprintf(stderr, "bkcache-conformance: adapter %s is not executable\n", c->impl);
        goto out;
    }
    if (c->impl == NULL && access(c->native_bin, X_OK) != 0) {
        fprintf(stderr, "bkcache-conformance: %s not found; pass --impl ADAPTER\n", c->native_bin);
        goto out;
    }
    conf_load_capabilities(c);
    printf("# target: %s%s (bucket %s, region %s, prefix %s)\n",
           c->is_mock ? "in-process mock at " : "", c->endpoint[0] ? c->endpoint : "AWS S3",
           c->bucket, c->region, c->run_prefix);
    printf("# implementation: %s\n", c->impl ? c->impl : c->native_bin);
    fflush(stdout);

    for (size_t i = 0; i < n_suites; i++) {
        if (!suite_selected(wanted, n_wanted, suites[i].name))
            continue;
        conf_begin(c);
        suites[i].fn(c);
    }
    if (!c->keep) {
        long n = conf_delete_prefix(c, c->run_prefix, &err);
        if (n < 0)
            fprintf(stderr, "bkcache-conformance: cleanup of %s failed: %s\n", c->run_prefix,
                    err.msg);
    } else {
        printf("# kept the objects under %s\n", c->run_prefix);
    }
    status = finish(c, junit, html);
out:
    conf_detail_state_clear(c);
    conf_target_stop(c);
    if (!c->keep)
        conf_rmtree(c->tmp);
    conf_results_free(c);
    free(suite_args);
    curl_global_cleanup();
    return status;
}
