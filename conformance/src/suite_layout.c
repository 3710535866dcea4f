/* layout: the exact object keys of an export (SPEC 1; field reports 17-19).
 * Keys are plain concatenation of prefix, manifests_prefix/blobs_prefix and
 * the name or the full digest (with its colon). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SUITE "layout"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_layout_checks[] = {
    {"default_keys", CONF_REQUIRED, NULL},
    {"prefix_without_slash", CONF_REQUIRED, NULL},
    {"prefix_with_slash", CONF_REQUIRED, NULL},
    {"custom_prefixes", CONF_REQUIRED, NULL},
    {"shared_prefix", CONF_REQUIRED, NULL},
    {"several_names", CONF_REQUIRED, NULL},
    {"name_with_slash", CONF_REQUIRED, NULL},
    {"reserved_characters", CONF_REQUIRED, NULL},
    {"blob_bytes_match_digest", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

/* Exports linear (mode=max: every blob) with prefix = root + sub and extra
 * attributes, then compares every key under root with manifests + blobs. */
static void layout_case(conf_ctx *c, const char *check, const char *sub, const char *extra,
                        const char *manifests_prefix, const char *blobs_prefix,
                        const char *const names[])
{
    char root[256], prefix[512];
    conf_case_prefix(c, check, root, sizeof root);
    snprintf(prefix, sizeof prefix, "%s%s", root, sub);
    char attrs_extra[512];
    snprintf(attrs_extra, sizeof attrs_extra, "mode=max%s%s", extra ? "," : "", extra ? extra : "");
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .extra = attrs_extra};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    bk_buf golden = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    if (conf_golden(c, "linear", "max", &golden, &err) != BK_OK) {
        conf_fail(c, SUITE, check, "%s", err.msg);
        bk_buf_clear(&golden);
        return;
    }
    char blob_root[768];
    snprintf(blob_root, sizeof blob_root, "%s%s", prefix, blobs_prefix);
    char **keys = NULL;
    size_t n = 0;
    conf_expected_blob_keys(golden.data, golden.len, blob_root, &keys, &n);
    for (size_t i = 0; names[i] != NULL; i++) {
        char key[1024];
        snprintf(key, sizeof key, "%s%s%s", prefix, manifests_prefix, names[i]);
        conf_strings_push(&keys, &n, key);
    }
    char why[1200];
    if (!conf_keys_equal(c, root, keys, n, why, sizeof why)) {
        conf_fail(c, SUITE, check, "%s", why);
    } else if (names[1] != NULL) {
        /* Several names: the same manifest bytes under each. */
        bk_buf first = BK_BUF_INIT;
        int same = 1;
        for (size_t i = 0; names[i] != NULL && same; i++) {
            char key[1024];
            snprintf(key, sizeof key, "%s%s%s", prefix, manifests_prefix, names[i]);
            bk_buf cur = BK_BUF_INIT;
            if (conf_get(c, key, &cur, &err) != 1) {
                same = 0;
                snprintf(why, sizeof why, "cannot read %s", key);
            } else if (i == 0) {
                bk_buf_append(&first, cur.data, cur.len);
            } else if (cur.len != first.len || memcmp(cur.data, first.data, cur.len) != 0) {
                same = 0;
                snprintf(why, sizeof why, "%s differs from the manifest of %s", key, names[0]);
                conf_detail_bytes(c, SUITE, check, why, first.data, first.len, cur.data, cur.len,
                                  0);
            }
            bk_buf_clear(&cur);
        }
        bk_buf_clear(&first);
        if (same)
            conf_pass(c, SUITE, check, "%zu keys, identical manifests", n);
        else
            conf_fail(c, SUITE, check, "%s", why);
    } else {
        conf_pass(c, SUITE, check, "%zu keys as expected", n);
    }
    conf_strings_free(keys, n);
    bk_buf_clear(&golden);
}

/* Each blob object holds exactly the layer blob: sha256 of its bytes = its key. */
static void blob_content(conf_ctx *c)
{
    const char *check = "blob_bytes_match_digest";
    char prefix[256];
    conf_case_prefix(c, check, prefix, sizeof prefix);
    conf_export_opts o = {.graph = "multistage", .prefix = prefix, .extra = "mode=max"};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    char root[512];
    snprintf(root, sizeof root, "%sblobs/", prefix);
    conf_object *objs = NULL;
    size_t n = 0;
    bk_err err;
    bk_err_clear(&err);
    if (conf_list(c, root, &objs, &n, &err) != 0) {
        conf_fail(c, SUITE, check, "cannot list %s: %s", root, err.msg);
        return;
    }
    int ok = n > 0;
    char why[1200] = "no blobs were written";
    for (size_t i = 0; i < n && ok; i++) {
        bk_buf data = BK_BUF_INIT;
        const char *digest = objs[i].key + strlen(root);
        char hex[65];
        if (conf_get(c, objs[i].key, &data, &err) != 1) {
            ok = 0;
            snprintf(why, sizeof why, "cannot read %s: %s", objs[i].key, err.msg);
        } else {
            conf_sha256_hex(data.data, data.len, hex);
            if (strncmp(digest, "sha256:", 7) != 0 || strcmp(digest + 7, hex) != 0) {
                ok = 0;
                snprintf(why, sizeof why, "%s holds bytes whose digest is sha256:%s", objs[i].key,
                         hex);
            }
        }
        bk_buf_clear(&data);
    }
    if (ok)
        conf_pass(c, SUITE, check, "%zu blobs", n);
    else
        conf_fail(c, SUITE, check, "%s", why);
    conf_objects_free(objs, n);
}

void suite_layout(conf_ctx *c)
{
    static const char *const buildkit[] = {"buildkit", NULL};
    layout_case(c, "default_keys", "", NULL, "manifests/", "blobs/", buildkit);
    layout_case(c, "prefix_without_slash", "ci", NULL, "manifests/", "blobs/", buildkit);
    layout_case(c, "prefix_with_slash", "ci/", NULL, "manifests/", "blobs/", buildkit);
    layout_case(c, "custom_prefixes", "p/", "manifests_prefix=m/,blobs_prefix=b/", "m/", "b/",
                buildkit);
    layout_case(c, "shared_prefix", "", "manifests_prefix=cache/,blobs_prefix=cache/", "cache/",
                "cache/", buildkit);
    static const char *const three[] = {"main", "pr-12", "release", NULL};
    layout_case(c, "several_names", "", "name=main;pr-12;release", "manifests/", "blobs/", three);
    static const char *const slash[] = {"team/app", NULL};
    layout_case(c, "name_with_slash", "", "name=team/app", "manifests/", "blobs/", slash);
    layout_case(c, "reserved_characters", "a b+c=d\xc3\xa9:e/", NULL, "manifests/", "blobs/",
                buildkit);
    blob_content(c);
}
