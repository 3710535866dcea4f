/* import: BuildKit's S3 importer (SPEC 6, 3, 4; field reports 19, 22).
 * Every golden manifest imports to the graph it describes (computed here
 * independently) with every blob fetched and verified; every rejection
 * fixture is refused; a missing manifest is an empty cache; only the first
 * name is read. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SUITE "import"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_import_checks[] = {
    {"golden_linear_min", CONF_REQUIRED, NULL},
    {"golden_linear_max", CONF_REQUIRED, NULL},
    {"golden_multistage_min", CONF_REQUIRED, NULL},
    {"golden_multistage_max", CONF_REQUIRED, NULL},
    {"golden_diamond_min", CONF_REQUIRED, NULL},
    {"golden_diamond_max", CONF_REQUIRED, NULL},
    {"golden_twolinks_min", CONF_REQUIRED, NULL},
    {"golden_twolinks_max", CONF_REQUIRED, NULL},
    {"golden_dropped_min", CONF_REQUIRED, NULL},
    {"golden_dropped_max", CONF_REQUIRED, NULL},
    {"reject", CONF_REQUIRED, NULL},
    {"reject_*", CONF_REQUIRED, NULL},
    {"missing_manifest_is_empty", CONF_REQUIRED, NULL},
    {"first_name_only", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

/* Every blob of the manifest is in dest/blobs/sha256 with the right bytes. */
static int dest_has_blobs(const char *dest, const char *manifest, size_t len, char *why,
                          size_t why_size)
{
    char **digests = NULL;
    size_t n = 0;
    conf_manifest_blobs(manifest, len, &digests, &n);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        char path[4400], hex[65];
        snprintf(path, sizeof path, "%s/blobs/sha256/%s", dest, digests[i] + 7);
        if (conf_file_sha256(path, hex, NULL) != 0) {
            ok = 0;
            snprintf(why, why_size, "blob %s was not fetched into --dest", digests[i]);
        } else if (strcmp(hex, digests[i] + 7) != 0) {
            ok = 0;
            snprintf(why, why_size, "dest holds %s with bytes of sha256:%s", digests[i], hex);
        }
    }
    conf_strings_free(digests, n);
    return ok;
}

static void golden_case(conf_ctx *c, const char *graph, const char *mode)
{
    char check[64], prefix[256], dest[4300], why[1200] = "";
    snprintf(check, sizeof check, "golden_%s_%s", graph, mode);
    conf_case_prefix(c, check, prefix, sizeof prefix);
    bk_buf m = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    if (conf_golden(c, graph, mode, &m, &err) != BK_OK ||
        conf_seed(c, prefix, "buildkit", m.data, m.len, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        bk_buf_clear(&m);
        return;
    }
    char *attrs = conf_attrs(c, prefix, NULL);
    conf_run r;
    conf_import(c, attrs, NULL, dest, sizeof dest, &r);
    if (r.exit_code != 0)
        conf_fail(c, SUITE, check, "import failed: %s", conf_run_why(&r, why, sizeof why));
    else if (!conf_graph_matches(r.out, m.data, m.len, why, sizeof why) ||
             !dest_has_blobs(dest, m.data, m.len, why, sizeof why))
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "graph and blobs as the manifest says");
    conf_run_free(&r);
    conf_rmtree(dest);
    free(attrs);
    bk_buf_clear(&m);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void reject_cases(conf_ctx *c)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/config/reject", c->fixtures);
    DIR *d = opendir(dir);
    if (d == NULL) {
        conf_fail(c, SUITE, "reject", "cannot open %s", dir);
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len > 5 && strcmp(ent->d_name + len - 5, ".json") == 0)
            conf_strings_push(&names, &n, ent->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char check[128], prefix[256], path[4500], dest[4300], why[1200];
        size_t len = strlen(names[i]) - 5;
        snprintf(check, sizeof check, "reject_%.*s", (int)len, names[i]);
        for (char *p = check; *p; p++)
            if (*p == '-')
                *p = '_';
        conf_case_prefix(c, "reject", prefix, sizeof prefix);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        bk_buf m = BK_BUF_INIT;
        bk_err err;
        bk_err_clear(&err);
        if (conf_read_file(path, &m, &err) != BK_OK ||
            conf_seed(c, prefix, "buildkit", m.data, m.len, &err) != 0) {
            conf_fail(c, SUITE, check, "setup: %s", err.msg);
            bk_buf_clear(&m);
            continue;
        }
        char *attrs = conf_attrs(c, prefix, NULL);
        conf_run r;
        conf_import(c, attrs, NULL, dest, sizeof dest, &r);
        if (r.timed_out)
            conf_fail(c, SUITE, check, "import hung: %s", conf_run_why(&r, why, sizeof why));
        else if (r.exit_code == 0)
            conf_fail(c, SUITE, check, "a manifest BuildKit refuses was imported");
        else if (r.exit_code >= 128)
            conf_fail(c, SUITE, check, "the importer crashed (%s)",
                      conf_run_why(&r, why, sizeof why));
        else
            conf_pass(c, SUITE, check, "refused (exit %d)", r.exit_code);
        conf_run_free(&r);
        conf_rmtree(dest);
        free(attrs);
        bk_buf_clear(&m);
    }
    conf_strings_free(names, n);
}

static void missing_manifest(conf_ctx *c)
{
    const char *check = "missing_manifest_is_empty";
    char prefix[256], dest[4300], why[1200];
    conf_case_prefix(c, "empty", prefix, sizeof prefix);
    char *attrs = conf_attrs(c, prefix, NULL);
    conf_run r;
    conf_import(c, attrs, NULL, dest, sizeof dest, &r);
    if (r.exit_code != 0)
        conf_fail(c, SUITE, check, "a missing manifest must be an empty cache: %s",
                  conf_run_why(&r, why, sizeof why));
    else if (!conf_graph_matches(r.out, NULL, 0, why, sizeof why))
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "empty cache, exit 0");
    conf_run_free(&r);
    conf_rmtree(dest);
    free(attrs);
}

static void first_name_only(conf_ctx *c)
{
    const char *check = "first_name_only";
    char prefix[256], dest[4300], why[1200] = "";
    conf_case_prefix(c, "names", prefix, sizeof prefix);
    bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    if (conf_golden(c, "linear", "max", &a, &err) != BK_OK ||
        conf_golden(c, "multistage", "max", &b, &err) != BK_OK ||
        conf_seed(c, prefix, "alpha", a.data, a.len, &err) != 0 ||
        conf_seed(c, prefix, "beta", b.data, b.len, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        goto out;
    }
    static const char *const orders[] = {"name=alpha;beta", "name=beta;alpha"};
    for (int k = 0; k < 2 && !why[0]; k++) {
        char *attrs = conf_attrs(c, prefix, orders[k]);
        conf_run r;
        conf_import(c, attrs, NULL, dest, sizeof dest, &r);
        const bk_buf *want = k == 0 ? &a : &b;
        char sub[1000];
        if (r.exit_code != 0)
            snprintf(why, sizeof why, "%s: import failed: %s", orders[k],
                     conf_run_why(&r, sub, sizeof sub));
        else if (!conf_graph_matches(r.out, want->data, want->len, sub, sizeof sub))
            snprintf(why, sizeof why, "%s: not the first name's cache: %s", orders[k], sub);
        conf_run_free(&r);
        conf_rmtree(dest);
        free(attrs);
    }
    if (why[0])
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "name=a;b reads a, name=b;a reads b");
out:
    bk_buf_clear(&a);
    bk_buf_clear(&b);
}

void suite_import(conf_ctx *c)
{
    for (const char *const *g = conf_graph_names(); *g != NULL; g++) {
        golden_case(c, *g, "min");
        golden_case(c, *g, "max");
    }
    reject_cases(c);
    missing_manifest(c);
    first_name_only(c);
}
