/* The export plan's decision and its text: pure, no I/O. */
#include "bkcache/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/clock.h"

bk_blob_decision bk_plan_decide(const bk_blob_remote *remote, uint64_t size, int64_t now_ns,
                                const bk_s3cache_policy *policy)
{
    bk_blob_decision d = {BK_BLOB_SKIP, BK_REASON_FRESH, 0};
    if (!remote->present) {
        d.action = BK_BLOB_UPLOAD;
        d.reason = BK_REASON_ABSENT;
        return d;
    }
    /* A present object without a trustworthy size cannot vouch for the blob
     * (BuildKit would keep a truncated object forever). */
    if (!remote->has_size || remote->size != size) {
        d.action = BK_BLOB_REUPLOAD;
        d.reason = remote->has_size ? BK_REASON_SIZE_DIFFERS : BK_REASON_SIZE_UNKNOWN;
        return d;
    }
    if (!remote->has_mtime) {
        d.action = BK_BLOB_TOUCH;
        d.reason = BK_REASON_AGE_UNKNOWN;
        return d;
    }
    d.age_ns = now_ns - remote->mtime_s * BK_NS_PER_SEC;
    if (d.age_ns > policy->touch_refresh_ns) {
        d.action = BK_BLOB_TOUCH;
        d.reason = BK_REASON_STALE;
    }
    return d;
}

const char *bk_blob_action_name(bk_blob_action action)
{
    switch (action) {
    case BK_BLOB_SKIP:
        return "skip";
    case BK_BLOB_TOUCH:
        return "touch";
    case BK_BLOB_UPLOAD:
        return "upload";
    case BK_BLOB_REUPLOAD:
        return "re-upload";
    }
    return "?";
}

void bk_plan_reason_text(const bk_export_plan *plan, const bk_plan_blob *blob, char *out,
                         size_t size)
{
    char age[40], refresh[40];
    /* Last-Modified has whole seconds: so does the age shown. */
    bk_go_format_duration(blob->decision.age_ns - blob->decision.age_ns % BK_NS_PER_SEC, age,
                          sizeof age);
    bk_go_format_duration(plan->touch_refresh_ns, refresh, sizeof refresh);
    switch (blob->decision.reason) {
    case BK_REASON_FRESH:
        snprintf(out, size, "present, last modified %s ago, within touch_refresh %s", age, refresh);
        return;
    case BK_REASON_STALE:
        snprintf(out, size, "present, last modified %s ago, older than touch_refresh %s", age,
                 refresh);
        return;
    case BK_REASON_AGE_UNKNOWN:
        snprintf(out, size, "present without Last-Modified: age unknown, refreshed");
        return;
    case BK_REASON_ABSENT:
        snprintf(out, size, "absent");
        return;
    case BK_REASON_SIZE_DIFFERS:
        snprintf(out, size, "present with %llu bytes, expected %llu: uploading again",
                 (unsigned long long)blob->remote.size, (unsigned long long)blob->size);
        return;
    case BK_REASON_SIZE_UNKNOWN:
        snprintf(out, size, "present without a size: uploading again");
        return;
    }
    snprintf(out, size, "?");
}

size_t bk_export_plan_count(const bk_export_plan *plan, bk_blob_action action)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n_blobs; i++)
        n += plan->blobs[i].decision.action == action;
    return n;
}

bk_code bk_export_plan_format(const bk_export_plan *plan, bk_buf *out, bk_err *err)
{
    char refresh[40];
    bk_go_format_duration(plan->touch_refresh_ns, refresh, sizeof refresh);
    bk_buf_printf(out,
                  "plan: %zu blobs: %zu to upload, %zu to re-upload, %zu to touch, %zu to skip "
                  "(touch_refresh %s); then %zu manifest(s)\n",
                  plan->n_blobs, bk_export_plan_count(plan, BK_BLOB_UPLOAD),
                  bk_export_plan_count(plan, BK_BLOB_REUPLOAD),
                  bk_export_plan_count(plan, BK_BLOB_TOUCH),
                  bk_export_plan_count(plan, BK_BLOB_SKIP), refresh, plan->n_manifests);
    for (size_t i = 0; i < plan->n_blobs; i++) {
        const bk_plan_blob *b = &plan->blobs[i];
        char why[300];
        bk_plan_reason_text(plan, b, why, sizeof why);
        bk_buf_printf(out, "%-9s %s  %llu bytes  %s\n", bk_blob_action_name(b->decision.action),
                      b->key, (unsigned long long)b->size, why);
    }
    for (size_t i = 0; i < plan->n_manifests; i++)
        bk_buf_printf(out, "%-9s %s  %llu bytes  %s\n", "manifest", plan->manifest_keys[i],
                      (unsigned long long)plan->manifest_size,
                      plan->manifest_if_match
                          ? "written last, only if unchanged since the export started"
                          : "written last, once every blob is in place");
    return bk_buf_check(out, err);
}

void bk_export_plan_clear(bk_export_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->n_blobs; i++) {
        free(plan->blobs[i].digest);
        free(plan->blobs[i].key);
    }
    free(plan->blobs);
    for (size_t i = 0; i < plan->n_manifests; i++)
        free(plan->manifest_keys[i]);
    free(plan->manifest_keys);
    memset(plan, 0, sizeof *plan);
}
