/* modes: mode=min and mode=max against the graph goldens (SPEC 4; field
 * report 33 for an unknown mode). The manifest must be byte-identical to the
 * golden up to the order of BuildKit's unordered ties (ties.h: links of one
 * input to the same record, one blob as a layer under two parents), and
 * exactly the golden's blobs must be in the bucket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ties.h"

#define SUITE "modes"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_modes_checks[] = {
    {"linear_min", CONF_REQUIRED, NULL},          {"linear_max", CONF_REQUIRED, NULL},
    {"multistage_min", CONF_REQUIRED, NULL},      {"multistage_max", CONF_REQUIRED, NULL},
    {"diamond_min", CONF_REQUIRED, NULL},         {"diamond_max", CONF_REQUIRED, NULL},
    {"twolinks_min", CONF_REQUIRED, NULL},        {"twolinks_max", CONF_REQUIRED, NULL},
    {"dropped_min", CONF_REQUIRED, NULL},         {"dropped_max", CONF_REQUIRED, NULL},
    {"unknown_mode_is_min", CONF_REQUIRED, NULL}, {NULL, CONF_REQUIRED, NULL},
};

static void mode_case(conf_ctx *c, const char *graph, const char *mode_attr,
                      const char *golden_mode, const char *check)
{
    char prefix[256], extra[64];
    conf_case_prefix(c, check, prefix, sizeof prefix);
    snprintf(extra, sizeof extra, "mode=%s", mode_attr);
    conf_export_opts o = {.graph = graph, .prefix = prefix, .extra = extra};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    bk_buf golden = BK_BUF_INIT, got = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    char key[512];
    snprintf(key, sizeof key, "%smanifests/buildkit", prefix);
    if (conf_golden(c, graph, golden_mode, &golden, &err) != BK_OK) {
        conf_fail(c, SUITE, check, "%s", err.msg);
    } else if (conf_get_ok(c, SUITE, check, key, &got)) {
        char diff[600], what[160];
        conf_same same =
            conf_manifest_compare(got.data, got.len, golden.data, golden.len, diff, sizeof diff);
        snprintf(what, sizeof what, "the manifest against %s.%s.expected", graph, golden_mode);
        conf_detail_bytes(c, SUITE, check, what, golden.data, golden.len, got.data, got.len, 1);
        if (same == CONF_DIFFERENT) {
            conf_fail(c, SUITE, check, "manifest differs from %s.%s.expected %s", graph,
                      golden_mode, diff);
        } else {
            char blob_root[512], why[1200];
            snprintf(blob_root, sizeof blob_root, "%sblobs/", prefix);
            char **keys = NULL;
            size_t n = 0;
            conf_expected_blob_keys(golden.data, golden.len, blob_root, &keys, &n);
            if (!conf_keys_equal(c, blob_root, keys, n, why, sizeof why))
                conf_fail(c, SUITE, check, "blobs: %s", why);
            else
                conf_pass(c, SUITE, check, "manifest %s, %zu blobs",
                          same == CONF_SAME_BYTES
                              ? "byte-identical"
                              : "identical up to the order of BuildKit's unordered ties",
                          n);
            conf_strings_free(keys, n);
        }
    }
    bk_buf_clear(&golden);
    bk_buf_clear(&got);
}

void suite_modes(conf_ctx *c)
{
    static const char *const modes[] = {"min", "max"};
    for (const char *const *g = conf_graph_names(); *g != NULL; g++) {
        for (size_t m = 0; m < 2; m++) {
            char check[64];
            snprintf(check, sizeof check, "%s_%s", *g, modes[m]);
            mode_case(c, *g, modes[m], modes[m], check);
        }
    }
    /* BuildKit ignores an unknown mode (mode=inline is seen in the wild): min. */
    mode_case(c, "diamond", "inline", "min", "unknown_mode_is_min");
}
