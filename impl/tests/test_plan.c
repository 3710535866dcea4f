/* BK_TEST_UNIT
 * The export plan without a server: the decision for every combination of
 * presence, size and age against touch_refresh, and the plan's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/plan.h"

#define SEC 1000000000LL
#define HOUR (3600 * SEC)
#define NOW (1700000000 * SEC) /* 2023-11-14T22:13:20Z */

static bk_s3cache_policy policy_with(int64_t touch_refresh_ns)
{
    bk_s3cache_policy p = {0};
    p.touch_refresh_ns = touch_refresh_ns;
    p.upload_parallelism = 4;
    return p;
}

static bk_blob_remote present(uint64_t size, int64_t age_s)
{
    bk_blob_remote r = {1, 1, size, 1, NOW / SEC - age_s};
    return r;
}

static void absent_blobs_are_uploaded(void **state)
{
    (void)state;
    bk_s3cache_policy p = policy_with(24 * HOUR);
    bk_blob_remote r = {0};
    bk_blob_decision d = bk_plan_decide(&r, 100, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_UPLOAD);
    assert_int_equal(d.reason, BK_REASON_ABSENT);
    /* Whatever else the check left behind, absent is absent. */
    r.has_size = 1;
    r.size = 100;
    d = bk_plan_decide(&r, 100, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_UPLOAD);
}

static void a_wrong_or_missing_size_is_uploaded_again(void **state)
{
    (void)state;
    bk_s3cache_policy p = policy_with(24 * HOUR);
    bk_blob_remote r = present(9, 60); /* a truncated object, fresh */
    bk_blob_decision d = bk_plan_decide(&r, 4096, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_REUPLOAD);
    assert_int_equal(d.reason, BK_REASON_SIZE_DIFFERS);
    r = present(4097, 48LL * 3600); /* larger and stale: the size decides first */
    d = bk_plan_decide(&r, 4096, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_REUPLOAD);
    r = present(4096, 60);
    r.has_size = 0;
    d = bk_plan_decide(&r, 4096, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_REUPLOAD);
    assert_int_equal(d.reason, BK_REASON_SIZE_UNKNOWN);
    /* An empty blob of the right size is fine. */
    r = present(0, 60);
    assert_int_equal(bk_plan_decide(&r, 0, NOW, &p).action, BK_BLOB_SKIP);
}

static void touch_refresh_is_a_strict_bound(void **state)
{
    (void)state;
    bk_s3cache_policy p = policy_with(24 * HOUR);
    bk_blob_remote r = present(10, 24LL * 3600); /* exactly touch_refresh old: fresh */
    bk_blob_decision d = bk_plan_decide(&r, 10, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_SKIP);
    assert_int_equal(d.reason, BK_REASON_FRESH);
    assert_true(d.age_ns == 24 * HOUR);
    r = present(10, 24LL * 3600 + 1); /* a second older: touched */
    d = bk_plan_decide(&r, 10, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_TOUCH);
    assert_int_equal(d.reason, BK_REASON_STALE);
    /* The clock's nanoseconds count: 1 ns past the bound is stale. */
    r = present(10, 24LL * 3600);
    assert_int_equal(bk_plan_decide(&r, 10, NOW + 1, &p).action, BK_BLOB_TOUCH);
}

static void policy_changes_the_decision(void **state)
{
    (void)state;
    bk_blob_remote r = present(10, 120); /* two minutes old */
    bk_s3cache_policy p = policy_with(24 * HOUR);
    assert_int_equal(bk_plan_decide(&r, 10, NOW, &p).action, BK_BLOB_SKIP);
    p = policy_with(60 * SEC); /* touch_refresh=1m */
    assert_int_equal(bk_plan_decide(&r, 10, NOW, &p).action, BK_BLOB_TOUCH);
    p = policy_with(0); /* touch_refresh=0s: every present blob */
    assert_int_equal(bk_plan_decide(&r, 10, NOW, &p).action, BK_BLOB_TOUCH);
    /* A Last-Modified in the future (clock skew) is fresh, not negative-stale. */
    r = present(10, -300);
    p = policy_with(24 * HOUR);
    assert_int_equal(bk_plan_decide(&r, 10, NOW, &p).action, BK_BLOB_SKIP);
}

static void unknown_age_is_refreshed_not_trusted(void **state)
{
    (void)state;
    bk_s3cache_policy p = policy_with(24 * HOUR);
    bk_blob_remote r = present(10, 0);
    r.has_mtime = 0;
    bk_blob_decision d = bk_plan_decide(&r, 10, NOW, &p);
    assert_int_equal(d.action, BK_BLOB_TOUCH);
    assert_int_equal(d.reason, BK_REASON_AGE_UNKNOWN);
}

static void the_plan_reads_as_text(void **state)
{
    (void)state;
    bk_s3cache_policy p = policy_with(24 * HOUR);
    bk_plan_blob blobs[4] = {
        {"sha256:aa", "blobs/sha256:aa", 2048, {0}, {0}},
        {"sha256:bb", "blobs/sha256:bb", 4096, present(9, 60), {0}},
        {"sha256:cc", "blobs/sha256:cc", 10, present(10, 25LL * 3600), {0}},
        {"sha256:dd", "blobs/sha256:dd", 10, present(10, 3600), {0}},
    };
    for (size_t i = 0; i < 4; i++)
        blobs[i].decision = bk_plan_decide(&blobs[i].remote, blobs[i].size, NOW, &p);
    char *names[] = {"manifests/buildkit"};
    bk_export_plan plan = {blobs, 4, names, 1, 1234, 0, p.touch_refresh_ns, NOW};
    assert_int_equal(bk_export_plan_count(&plan, BK_BLOB_UPLOAD), 1);
    assert_int_equal(bk_export_plan_count(&plan, BK_BLOB_REUPLOAD), 1);
    assert_int_equal(bk_export_plan_count(&plan, BK_BLOB_TOUCH), 1);
    assert_int_equal(bk_export_plan_count(&plan, BK_BLOB_SKIP), 1);
    bk_buf out = BK_BUF_INIT;
    bk_err err;
    assert_int_equal(bk_export_plan_format(&plan, &out, &err), BK_OK);
    const char *want =
        "plan: 4 blobs: 1 to upload, 1 to re-upload, 1 to touch, 1 to skip (touch_refresh "
        "24h0m0s); then 1 manifest(s)\n"
        "upload    blobs/sha256:aa  2048 bytes  absent\n"
        "re-upload blobs/sha256:bb  4096 bytes  present with 9 bytes, expected 4096: uploading "
        "again\n"
        "touch     blobs/sha256:cc  10 bytes  present, last modified 25h0m0s ago, older than "
        "touch_refresh 24h0m0s\n"
        "skip      blobs/sha256:dd  10 bytes  present, last modified 1h0m0s ago, within "
        "touch_refresh 24h0m0s\n"
        "manifest  manifests/buildkit  1234 bytes  written last, once every blob is in place\n";
    assert_string_equal(bk_buf_str(&out), want);
    bk_buf_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(absent_blobs_are_uploaded),
        cmocka_unit_test(a_wrong_or_missing_size_is_uploaded_again),
        cmocka_unit_test(touch_refresh_is_a_strict_bound),
        cmocka_unit_test(policy_changes_the_decision),
        cmocka_unit_test(unknown_age_is_refreshed_not_trusted),
        cmocka_unit_test(the_plan_reads_as_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
