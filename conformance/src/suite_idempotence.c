/* idempotence: a second export of the same cache uploads nothing (SPEC 5:
 * HEAD, present and fresh -> nothing). Observable on any S3: every blob gets
 * a marker in its metadata before the second export; an upload (or a touch)
 * would replace the object and lose it. On the mock the journal must also
 * show no write to a blob key. The manifest must come out the same, up to
 * the order of BuildKit's unordered ties (ties.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ties.h"

#define SUITE "idempotence"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_idempotence_checks[] = {
    {"reexport_uploads_nothing", CONF_REQUIRED, NULL},
    {"manifest_unchanged", CONF_REQUIRED, NULL},
    {"only_missing_blob_uploaded", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};
#define MARKER "bkconf-marker"

/* Marks every object under root; returns how many, -1 on error (reason in why). */
static long mark_all(conf_ctx *c, const char *root, char *why, size_t why_size)
{
    conf_object *objs = NULL;
    size_t n = 0;
    bk_err err;
    bk_err_clear(&err);
    if (conf_list(c, root, &objs, &n, &err) != 0) {
        snprintf(why, why_size, "cannot list %s: %s", root, err.msg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (conf_set_marker(c, objs[i].key, MARKER, "1", &err) != 0) {
            snprintf(why, why_size, "cannot mark %s: %s", objs[i].key, err.msg);
            conf_objects_free(objs, n);
            return -1;
        }
    }
    conf_objects_free(objs, n);
    return (long)n;
}

/* Objects under root that lost the marker (first one named in why). */
static size_t unmarked(conf_ctx *c, const char *root, const char *except, char *why,
                       size_t why_size)
{
    conf_object *objs = NULL;
    size_t n = 0, lost = 0;
    bk_err err;
    bk_err_clear(&err);
    if (conf_list(c, root, &objs, &n, &err) != 0) {
        snprintf(why, why_size, "cannot list %s: %s", root, err.msg);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (except != NULL && strcmp(objs[i].key, except) == 0)
            continue;
        bk_s3_result res = BK_S3_RESULT_INIT;
        int st = conf_stat(c, objs[i].key, &res, &err);
        if (st != 1 || bk_s3_result_meta(&res, MARKER) == NULL) {
            if (lost++ == 0)
                snprintf(why, why_size, "%s was rewritten by the second export", objs[i].key);
        }
        bk_s3_result_clear(&res);
    }
    conf_objects_free(objs, n);
    return lost;
}

/* Journal: writes to keys under root since mark (mock only). */
static size_t journal_writes(conf_ctx *c, uint64_t mark, const char *root, const char *except,
                             char *why, size_t why_size)
{
    json_t *entries = conf_journal_since(c, mark);
    size_t writes = 0, i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *key = conf_jstr(e, "key");
        if (!conf_is_write_op(conf_jstr(e, "operation")) || strncmp(key, root, strlen(root)) != 0)
            continue;
        if (except != NULL && strcmp(key, except) == 0)
            continue;
        if (writes++ == 0)
            snprintf(why, why_size, "%s %s during the re-export", conf_jstr(e, "operation"), key);
    }
    json_decref(entries);
    return writes;
}

void suite_idempotence(conf_ctx *c)
{
    char prefix[256], blob_root[512], mkey[512], why[1200];
    conf_case_prefix(c, SUITE, prefix, sizeof prefix);
    snprintf(blob_root, sizeof blob_root, "%sblobs/", prefix);
    snprintf(mkey, sizeof mkey, "%smanifests/buildkit", prefix);
    conf_export_opts o = {.graph = "diamond", .prefix = prefix, .extra = "mode=max"};
    if (!conf_export_ok(c, SUITE, "reexport_uploads_nothing", &o))
        return;
    bk_buf first = BK_BUF_INIT, second = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    conf_get(c, mkey, &first, &err);
    long n = mark_all(c, blob_root, why, sizeof why);
    if (n <= 0) {
        conf_fail(c, SUITE, "reexport_uploads_nothing", "%s",
                  n == 0 ? "the first export wrote no blobs" : why);
        bk_buf_clear(&first);
        return;
    }
    uint64_t mark = conf_journal_mark(c);
    if (conf_export_ok(c, SUITE, "reexport_uploads_nothing", &o)) {
        size_t lost = unmarked(c, blob_root, NULL, why, sizeof why);
        size_t writes = c->is_mock ? journal_writes(c, mark, blob_root, NULL, why, sizeof why) : 0;
        if (lost || writes)
            conf_fail(c, SUITE, "reexport_uploads_nothing", "%s", why);
        else
            conf_pass(c, SUITE, "reexport_uploads_nothing", "%ld blobs left alone%s", n,
                      c->is_mock ? " (journal: no blob writes)" : "");
        char diff[600];
        int have = conf_get(c, mkey, &second, &err);
        if (have == 1)
            conf_detail_bytes(c, SUITE, "manifest_unchanged",
                              "the re-export's manifest against the first export's", first.data,
                              first.len, second.data, second.len, 1);
        if (have != 1)
            conf_fail(c, SUITE, "manifest_unchanged", "cannot read %s: %s", mkey, err.msg);
        else if (conf_manifest_compare(second.data, second.len, first.data, first.len, diff,
                                       sizeof diff) == CONF_DIFFERENT)
            conf_fail(c, SUITE, "manifest_unchanged",
                      "the re-export wrote a different manifest for the same cache: %s", diff);
        else
            conf_pass(c, SUITE, "manifest_unchanged", "%zu bytes", second.len);
    }
    bk_buf_clear(&first);
    bk_buf_clear(&second);

    /* One blob deleted (a lifecycle rule expired it): only that one comes back. */
    conf_object *objs = NULL;
    size_t no = 0;
    if (conf_list(c, blob_root, &objs, &no, &err) != 0 || no == 0) {
        conf_fail(c, SUITE, "only_missing_blob_uploaded", "cannot list %s", blob_root);
        conf_objects_free(objs, no);
        return;
    }
    char victim[1024];
    snprintf(victim, sizeof victim, "%s", objs[no / 2].key);
    conf_objects_free(objs, no);
    if (mark_all(c, blob_root, why, sizeof why) < 0 || conf_delete(c, victim, &err) != 0) {
        conf_fail(c, SUITE, "only_missing_blob_uploaded", "setup: %s", why);
        return;
    }
    mark = conf_journal_mark(c);
    if (!conf_export_ok(c, SUITE, "only_missing_blob_uploaded", &o))
        return;
    bk_s3_result res = BK_S3_RESULT_INIT;
    int st = conf_stat(c, victim, &res, &err);
    bk_s3_result_clear(&res);
    size_t lost = unmarked(c, blob_root, victim, why, sizeof why);
    size_t writes = c->is_mock ? journal_writes(c, mark, blob_root, victim, why, sizeof why) : 0;
    if (st != 1)
        conf_fail(c, SUITE, "only_missing_blob_uploaded", "the deleted blob %s was not uploaded",
                  victim);
    else if (lost || writes)
        conf_fail(c, SUITE, "only_missing_blob_uploaded", "%s", why);
    else
        conf_pass(c, SUITE, "only_missing_blob_uploaded", "the deleted blob came back, no other");
}
