/* The exporter against the in-process mock: BuildKit's sequence proven by the
 * mock's journal (HEAD, upload, touch, manifests last), retries, failures
 * that leave the old manifest alone, parallelism, layout, list mode, each
 * byte hashed once (the parts of a multipart upload signed with the hashes
 * the verification computed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <pthread.h>

#include "bkcache/exporter.h"
#include "bkcache/store.h"
#include "cachegen.h"
#include "pipeline_fx.h"

typedef struct fx {
    pipeline_fx p;
    bk_test_cache cache;
    bk_store *store;
} fx;

static int setup_with(void **state, const char *extra, size_t n, uint64_t min, uint64_t max)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(pipeline_fx_start(&f->p, extra, 0), 0);
    assert_int_equal(bk_test_cache_make(&f->cache, n, min, max, 42), 0);
    bk_err err;
    f->store = bk_store_open(f->cache.dir, 0, &err);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, "", 12, 1, (uint64_t)64 * 1024);
}

static int teardown(void **state)
{
    fx *f = *state;
    bk_store_free(f->store);
    bk_test_cache_clear(&f->cache);
    pipeline_fx_stop(&f->p);
    free(f);
    return 0;
}

static bk_code export_cfg(fx *f, const bk_cache_config *cfg, bk_export_summary *sum, bk_err *err)
{
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    return bk_export_config(&o, cfg, sum, err);
}

static void export_ok(fx *f, bk_export_summary *sum)
{
    bk_err err;
    bk_err_clear(&err);
    if (export_cfg(f, f->cache.config, sum, &err) != BK_OK)
        fail_msg("export failed: %s", err.msg);
}

/* Every journal entry for a key, in order. */
static size_t entries_for(fx *f, const char *operation, const char *key, uint64_t since,
                          ms3_journal_entry **out)
{
    ms3_journal_filter flt = {0};
    flt.operation = operation;
    flt.key_prefix = key;
    flt.since_seq = since;
    return ms3_journal_query(f->p.mock, &flt, out);
}

static uint64_t max_seq(fx *f, const char *operation, const char *prefix, uint64_t since)
{
    ms3_journal_entry *e = NULL;
    size_t n = entries_for(f, operation, prefix, since, &e);
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m = e[i].seq > m ? e[i].seq : m;
    ms3_journal_entries_free(e, n);
    return m;
}

static uint64_t min_seq(fx *f, const char *operation, const char *prefix, uint64_t since)
{
    ms3_journal_entry *e = NULL;
    size_t n = entries_for(f, operation, prefix, since, &e);
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        m = e[i].seq < m ? e[i].seq : m;
    ms3_journal_entries_free(e, n);
    return m;
}

static void first_export_heads_uploads_then_writes_manifest(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    size_t n = f->cache.n;
    assert_int_equal(sum.blobs, n);
    assert_int_equal(sum.uploaded, n);
    assert_int_equal(sum.skipped, 0);
    assert_int_equal(sum.manifests, 1);
    assert_int_equal(fx_count(&f->p, "HeadObject", "blobs/", 0), n);
    assert_int_equal(fx_count(&f->p, "PutObject", "blobs/sha256:", 0), n);
    assert_int_equal(fx_count(&f->p, "PutObject", "manifests/buildkit", 0), 1);
    /* The manifest is written after the last blob. */
    assert_true(max_seq(f, "PutObject", "blobs/", 0) < min_seq(f, "PutObject", "manifests/", 0));
    /* Every blob arrived byte-identical under blobs/sha256:<hex>. */
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", f->cache.digests[i]);
        ms3_object_info info;
        bk_err err;
        assert_int_equal(ms3_server_stat_object(f->p.mock, FX_BUCKET, key, &info, &err), 0);
        free(info.metadata_json);
        assert_int_equal(info.size, f->cache.sizes[i]);
    }
    /* The manifest is the Go encoding of the config, no trailing newline. */
    bk_buf want = BK_BUF_INIT;
    bk_err err;
    assert_int_equal(bk_config_encode(f->cache.config, &want, &err), BK_OK);
    char *got = NULL;
    size_t got_len = 0;
    assert_int_equal(ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20,
                                            &got, &got_len, &err),
                     0);
    assert_int_equal(got_len, want.len);
    assert_memory_equal(got, want.data, want.len);
    free(got);
    bk_buf_clear(&want);
}

static void reexport_uploads_no_blob(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    uint64_t since = fx_last_seq(&f->p);
    export_ok(f, &sum);
    assert_int_equal(sum.uploaded, 0);
    assert_int_equal(sum.touched, 0);
    assert_int_equal(sum.skipped, f->cache.n);
    assert_int_equal(fx_count(&f->p, "HeadObject", "blobs/", since), f->cache.n);
    assert_int_equal(fx_count(&f->p, "PutObject", "blobs/", since), 0);
    assert_int_equal(fx_count(&f->p, "CopyObject", NULL, since), 0);
    assert_int_equal(fx_count(&f->p, "PutObject", "manifests/", since), 1);
}

static void aged_blobs_are_touched_once_before_the_manifest(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    bk_err err;
    assert_int_equal(ms3_server_age_objects(f->p.mock, FX_BUCKET, "blobs/", (int64_t)25 * 3600),
                     (int)f->cache.n);
    uint64_t since = fx_last_seq(&f->p);
    export_ok(f, &sum);
    assert_int_equal(sum.touched, f->cache.n);
    assert_int_equal(sum.uploaded, 0);
    assert_int_equal(fx_count(&f->p, "CopyObject", "blobs/", since), f->cache.n);
    for (size_t i = 0; i < f->cache.n; i++) {
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", f->cache.digests[i]);
        assert_int_equal(fx_count(&f->p, "CopyObject", key, since), 1);
        ms3_object_info info;
        assert_int_equal(ms3_server_stat_object(f->p.mock, FX_BUCKET, key, &info, &err), 0);
        assert_non_null(strstr(info.metadata_json, "\"updated-at\""));
        free(info.metadata_json);
    }
    assert_true(max_seq(f, "CopyObject", "blobs/", since) <
                min_seq(f, "PutObject", "manifests/", since));
    /* Touched objects are fresh again. */
    since = fx_last_seq(&f->p);
    export_ok(f, &sum);
    assert_int_equal(fx_count(&f->p, "CopyObject", NULL, since), 0);

    /* A shorter touch_refresh touches objects younger than a day. */
    assert_int_equal(ms3_server_age_objects(f->p.mock, FX_BUCKET, "blobs/", 120), (int)f->cache.n);
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "touch_refresh=1m"), 0);
    since = fx_last_seq(&f->p);
    export_ok(f, &sum);
    assert_int_equal(fx_count(&f->p, "CopyObject", "blobs/", since), f->cache.n);
}

/* A wall clock stopped at one instant (nanoseconds included). */
static int64_t stopped_wall(void *ud)
{
    return *(const int64_t *)ud;
}

static void one_clock_decides_touch_and_stamps_updated_at(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    /* A day and an hour later, by the mock's clock and by the cache's: the
     * blobs are stale, and the touch stamps the cache's time, not the host's. */
    const int64_t later_s = (int64_t)25 * 3600;
    ms3_server_set_clock_offset(f->p.mock, later_s);
    int64_t wall = ((int64_t)time(NULL) + later_s) * BK_NS_PER_SEC + 123456789;
    bk_clock clock = {stopped_wall, NULL, NULL, &wall};
    bk_s3cache_tuning tuning = {0};
    tuning.clock = &clock;
    bk_err err;
    bk_s3cache *cache = bk_s3cache_open(&f->p.attrs, &tuning, &err);
    assert_non_null(cache);
    bk_export_plan plan = {0};
    bk_export_options o = {0};
    o.cache = cache;
    o.store = f->store;
    o.plan = &plan;
    uint64_t since = fx_last_seq(&f->p);
    if (bk_export_config(&o, f->cache.config, &sum, &err) != BK_OK)
        fail_msg("export: %s", err.msg);
    assert_int_equal(sum.touched, f->cache.n);
    assert_int_equal(fx_count(&f->p, "CopyObject", "blobs/", since), f->cache.n);
    assert_true(plan.now_ns == wall);
    assert_int_equal(bk_export_plan_count(&plan, BK_BLOB_TOUCH), f->cache.n);
    char want[96];
    bk_s3cache_updated_at(wall, want, sizeof want);
    assert_non_null(strstr(want, ".123456789 +0000 UTC"));
    for (size_t i = 0; i < f->cache.n; i++) {
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", f->cache.digests[i]);
        ms3_object_info info;
        assert_int_equal(ms3_server_stat_object(f->p.mock, FX_BUCKET, key, &info, &err), 0);
        if (strstr(info.metadata_json, want) == NULL)
            fail_msg("%s: updated-at is not the cache clock's %s: %s", key, want,
                     info.metadata_json);
        free(info.metadata_json);
    }
    bk_export_plan_clear(&plan);
    bk_s3cache_free(cache);
    ms3_server_set_clock_offset(f->p.mock, 0);
}

static void dry_run_plans_every_action(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    bk_err err;
    /* blob 0 absent, blob 1 truncated, blobs 2.. present; all but 0 and 1 aged. */
    char key[160];
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[0]);
    assert_int_equal(ms3_server_delete_object(f->p.mock, FX_BUCKET, key, &err), 0);
    assert_int_equal(ms3_server_age_objects(f->p.mock, FX_BUCKET, "blobs/", (int64_t)25 * 3600),
                     (int)f->cache.n - 1);
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[1]);
    assert_int_equal(ms3_server_put_object(f->p.mock, FX_BUCKET, key, "truncated", 9, NULL, &err),
                     0);
    uint64_t since = fx_last_seq(&f->p);
    bk_export_plan plan = {0};
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    o.dry_run = 1;
    o.plan = &plan;
    assert_int_equal(bk_export_config(&o, f->cache.config, &sum, &err), BK_OK);
    /* Existence checks only. */
    assert_int_equal(fx_count(&f->p, "HeadObject", NULL, since), f->cache.n);
    assert_int_equal(fx_last_seq(&f->p) - since, f->cache.n);
    assert_int_equal(plan.n_blobs, f->cache.n);
    assert_int_equal(plan.n_manifests, 1);
    assert_string_equal(plan.manifest_keys[0], "manifests/buildkit");
    assert_true(plan.manifest_size > 0);
    for (size_t i = 0; i < plan.n_blobs; i++) {
        const bk_plan_blob *b = &plan.blobs[i];
        bk_blob_action want = strcmp(b->digest, f->cache.digests[0]) == 0   ? BK_BLOB_UPLOAD
                              : strcmp(b->digest, f->cache.digests[1]) == 0 ? BK_BLOB_REUPLOAD
                                                                            : BK_BLOB_TOUCH;
        assert_int_equal(b->decision.action, want);
    }
    bk_buf text = BK_BUF_INIT;
    assert_int_equal(bk_export_plan_format(&plan, &text, &err), BK_OK);
    assert_non_null(strstr(bk_buf_str(&text), "re-upload blobs/"));
    assert_non_null(strstr(bk_buf_str(&text), "present with 9 bytes"));
    bk_buf_clear(&text);
    bk_export_plan_clear(&plan);
}

static void names_and_prefixes_make_the_keys(void **state)
{
    fx *f = *state;
    assert_int_equal(pipeline_fx_reconfigure(
                         &f->p, "prefix=ci/,blobs_prefix=b-,manifests_prefix=m/,name=main;pr-1"),
                     0);
    bk_export_summary sum;
    export_ok(f, &sum);
    assert_int_equal(sum.manifests, 2);
    char key[160];
    snprintf(key, sizeof key, "ci/b-%s", f->cache.digests[0]);
    assert_int_equal(fx_count(&f->p, "PutObject", key, 0), 1);
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    bk_err err;
    assert_int_equal(
        ms3_server_read_object(f->p.mock, FX_BUCKET, "ci/m/main", 1 << 20, &a, &alen, &err), 0);
    assert_int_equal(
        ms3_server_read_object(f->p.mock, FX_BUCKET, "ci/m/pr-1", 1 << 20, &b, &blen, &err), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
    /* Nothing else was written: the blobs and two manifests. */
    assert_int_equal(ms3_server_object_count(f->p.mock, FX_BUCKET), f->cache.n + 2);
}

static void slowdown_on_one_put_is_retried(void **state)
{
    fx *f = *state;
    char glob[160];
    snprintf(glob, sizeof glob, "blobs/%s", f->cache.digests[3]);
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "PutObject";
    r.key_glob = glob;
    r.max_fires = 1;
    r.action = MS3_FAULT_ERROR;
    r.status = 503;
    r.error_code = "SlowDown";
    uint64_t id;
    bk_err err;
    assert_int_equal(ms3_server_add_fault(f->p.mock, &r, &id, &err), 0);
    bk_export_summary sum;
    export_ok(f, &sum);
    assert_int_equal(ms3_server_fault_fired(f->p.mock, id), 1);
    ms3_journal_entry *e = NULL;
    size_t n = entries_for(f, "PutObject", glob, 0, &e);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].status, 503);
    assert_string_equal(e[0].error_code, "SlowDown");
    assert_int_equal(e[1].status, 200);
    ms3_journal_entries_free(e, n);
    assert_int_equal(sum.uploaded, f->cache.n);
}

static void permanent_failure_keeps_the_old_manifest(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    char *old = NULL;
    size_t old_len = 0;
    bk_err err;
    assert_int_equal(ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20,
                                            &old, &old_len, &err),
                     0);

    bk_test_cache next;
    assert_int_equal(bk_test_cache_make(&next, 6, 100, 5000, 7), 0);
    bk_store *store = bk_store_open(next.dir, 0, &err);
    char glob[160];
    snprintf(glob, sizeof glob, "blobs/%s", next.digests[2]);
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "PutObject";
    r.key_glob = glob;
    r.action = MS3_FAULT_ERROR;
    r.status = 500;
    r.error_code = "InternalError";
    assert_int_equal(ms3_server_add_fault(f->p.mock, &r, NULL, &err), 0);
    uint64_t since = fx_last_seq(&f->p);
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = store;
    bk_err_clear(&err);
    assert_int_equal(bk_export_config(&o, next.config, &sum, &err), BK_ES3);
    assert_non_null(strstr(err.msg, next.digests[2]));
    assert_non_null(strstr(err.msg, "InternalError"));
    /* Three attempts (the SDK default), then no manifest write at all. */
    assert_int_equal(fx_count(&f->p, "PutObject", glob, since), 3);
    assert_int_equal(fx_count(&f->p, "PutObject", "manifests/", since), 0);
    char *now = NULL;
    size_t now_len = 0;
    assert_int_equal(ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20,
                                            &now, &now_len, &err),
                     0);
    assert_int_equal(now_len, old_len);
    assert_memory_equal(now, old, old_len);
    free(now);
    free(old);

    /* ignore-error=true turns the same failure into a warning and success. */
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "ignore-error=true"), 0);
    o.cache = f->p.cache;
    assert_int_equal(bk_export_config(&o, next.config, &sum, &err), BK_OK);
    assert_int_equal(sum.failed, 1);
    assert_non_null(strstr(sum.error, "InternalError"));
    bk_store_free(store);
    bk_test_cache_clear(&next);
}

/* Largest number of blob requests in flight at once, from start times and durations. */
static int max_overlap(fx *f, const char *operation, uint64_t since)
{
    ms3_journal_entry *e = NULL;
    size_t n = entries_for(f, operation, "blobs/", since, &e);
    int best = 0;
    for (size_t i = 0; i < n; i++) {
        int live = 0;
        double t = e[i].time + e[i].duration / 2; /* the middle of request i */
        for (size_t j = 0; j < n; j++)
            live += e[j].time <= t && t < e[j].time + e[j].duration;
        best = live > best ? live : best;
    }
    ms3_journal_entries_free(e, n);
    return best;
}

static void upload_parallelism_shows_in_the_journal(void **state)
{
    fx *f = *state;
    /* Every blob PUT takes 60 ms at the server, so concurrency is visible. */
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "PutObject";
    r.key_glob = "blobs/*";
    r.action = MS3_FAULT_DELAY;
    r.delay_ms = 60;
    bk_err err;
    assert_int_equal(ms3_server_add_fault(f->p.mock, &r, NULL, &err), 0);
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "upload_parallelism=1"), 0);
    bk_export_summary sum;
    export_ok(f, &sum);
    assert_int_equal(max_overlap(f, "PutObject", 0), 1);

    ms3_server_reset(f->p.mock);
    assert_int_equal(ms3_server_add_fault(f->p.mock, &r, NULL, &err), 0);
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "upload_parallelism=8"), 0);
    uint64_t since = fx_last_seq(&f->p);
    export_ok(f, &sum);
    int overlap = max_overlap(f, "PutObject", since);
    assert_true(overlap > 1);
    assert_true(overlap <= 8);
}

static void wrong_size_object_is_uploaded_again(void **state)
{
    fx *f = *state;
    char key[160];
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[5]);
    bk_err err;
    assert_int_equal(ms3_server_put_object(f->p.mock, FX_BUCKET, key, "truncated", 9, NULL, &err),
                     0);
    bk_export_summary sum;
    export_ok(f, &sum);
    assert_int_equal(sum.reuploaded, 1);
    assert_int_equal(sum.uploaded, f->cache.n);
    ms3_object_info info;
    assert_int_equal(ms3_server_stat_object(f->p.mock, FX_BUCKET, key, &info, &err), 0);
    free(info.metadata_json);
    assert_int_equal(info.size, f->cache.sizes[5]);
}

static void corrupt_store_blob_fails_and_uploads_nothing_for_it(void **state)
{
    fx *f = *state;
    assert_int_equal(bk_test_cache_corrupt(&f->cache, 4), 0);
    bk_export_summary sum;
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(export_cfg(f, f->cache.config, &sum, &err), BK_EINTEGRITY);
    assert_non_null(strstr(err.msg, f->cache.digests[4]));
    assert_non_null(strstr(err.msg, "does not match its digest"));
    char key[160];
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[4]);
    assert_int_equal(fx_count(&f->p, "PutObject", key, 0), 0);
    assert_int_equal(fx_count(&f->p, "PutObject", "manifests/", 0), 0);
}

static void count_skip(void *ud, const bk_progress_event *ev)
{
    size_t *n = ud;
    *n += ev->kind == BK_PROGRESS_BLOB_SKIP;
}

/* A warm re-export has nothing to carry out: each blob is reported skipped
 * once, as the workers would, and only the manifest is written. */
static void warm_reexport_reports_each_skip_once(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    uint64_t since = fx_last_seq(&f->p);
    size_t skips = 0;
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    o.progress = count_skip;
    o.progress_ud = &skips;
    bk_err err;
    assert_int_equal(bk_export_config(&o, f->cache.config, &sum, &err), BK_OK);
    assert_int_equal(skips, f->cache.n);
    assert_int_equal(sum.skipped, f->cache.n);
    assert_int_equal(sum.uploaded + sum.touched, 0);
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, since), 1);
}

typedef struct warnings {
    char text[4][BK_ERR_MSG_MAX + 128];
    size_t n;
} warnings;

static void keep_warning(void *ud, const bk_progress_event *ev)
{
    warnings *w = ud;
    if (ev->kind == BK_PROGRESS_WARNING && w->n < 4)
        snprintf(w->text[w->n++], sizeof w->text[0], "%s", ev->message);
}

/* Word for word, up to the request id that differs from request to request. */
static void assert_same_but_request_id(const char *got, const char *want)
{
    const char *id_at = strstr(want, " (request id ");
    assert_non_null(id_at);
    assert_memory_equal(got, want, (size_t)(id_at - want) + strlen(" (request id "));
}

/* One export in list mode, with the listing made in place or started first;
 * the outcome's code. */
static bk_code export_listing(fx *f, int early, warnings *w, bk_export_summary *sum, bk_err *err)
{
    bk_err_clear(err);
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    o.progress = keep_warning;
    o.progress_ud = w;
    if (early)
        o.listing = bk_export_listing_start(f->p.cache, err);
    bk_code rc = bk_export_config(&o, f->cache.config, sum, err);
    bk_export_listing_free(o.listing);
    return rc;
}

/* One ListObjectsV2 instead of a HEAD per blob, made in place or started
 * before the config was built (as the CLI does while it loads the graph):
 * the same plan, the same requests, the LIST before the manifests, and the
 * summary counts it. */
static void list_mode_replaces_heads(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "existence_check=list,name=a;b"), 0);
    for (int early = 0; early <= 1; early++) {
        uint64_t since = fx_last_seq(&f->p);
        warnings w = {0};
        bk_err err;
        assert_int_equal(export_listing(f, early, &w, &sum, &err), BK_OK);
        assert_int_equal(sum.skipped, f->cache.n);
        assert_int_equal(sum.uploaded, 0);
        assert_int_equal(fx_count(&f->p, "ListObjectsV2", NULL, since), 1);
        assert_int_equal(fx_count(&f->p, "HeadObject", NULL, since), 0);
        assert_true(max_seq(f, "ListObjectsV2", "", since) < min_seq(f, "PutObject", "", since));
        /* 1 list + one PUT per name: the whole warm export, and the summary agrees */
        assert_int_equal(fx_last_seq(&f->p) - since, 3);
        assert_int_equal(sum.requests, 3);
    }
}

/* Cold, in list mode: the early listing finds nothing, every blob is
 * uploaded, one LIST in all. */
static void listing_started_early_on_an_empty_bucket_uploads_all(void **state)
{
    fx *f = *state;
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "existence_check=list"), 0);
    warnings w = {0};
    bk_export_summary sum;
    bk_err err;
    assert_int_equal(export_listing(f, 1, &w, &sum, &err), BK_OK);
    assert_int_equal(sum.uploaded, f->cache.n);
    assert_int_equal(fx_count(&f->p, "ListObjectsV2", NULL, 0), 1);
}

/* The listing's failures surface where the plan needs it, worded as when it
 * is made in place: an error fails the export before any write, a 403
 * falls back to HEAD with the same warning. */
static void listing_started_early_reports_what_a_listing_in_place_does(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "existence_check=list"), 0);
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "ListObjectsV2";
    r.action = MS3_FAULT_ERROR;
    r.status = 400;
    r.error_code = "InvalidArgument";
    r.error_message = "the listing is refused for this test";
    uint64_t id;
    bk_err err;
    assert_int_equal(ms3_server_add_fault(f->p.mock, &r, &id, &err), 0);
    bk_err in_place, early;
    warnings w = {0};
    uint64_t since = fx_last_seq(&f->p);
    bk_code rc_in_place = export_listing(f, 0, &w, &sum, &in_place);
    bk_code rc_early = export_listing(f, 1, &w, &sum, &early);
    assert_int_not_equal(rc_in_place, BK_OK);
    assert_int_equal(rc_early, rc_in_place);
    assert_int_equal(early.code, in_place.code);
    assert_same_but_request_id(early.msg, in_place.msg);
    assert_non_null(strstr(early.msg, "existence_check=list: "));
    assert_non_null(strstr(early.msg, "the listing is refused for this test"));
    assert_int_equal(ms3_server_fault_fired(f->p.mock, id), 2);
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, since), 0);
    assert_int_equal(w.n, 0);

    ms3_server_clear_faults(f->p.mock);
    ms3_bucket_policy p = {0};
    p.access = MS3_ACCESS_NO_LIST;
    assert_int_equal(ms3_server_set_bucket_policy(f->p.mock, FX_BUCKET, &p, &err), 0);
    since = fx_last_seq(&f->p);
    assert_int_equal(export_listing(f, 0, &w, &sum, &in_place), BK_OK);
    assert_int_equal(export_listing(f, 1, &w, &sum, &early), BK_OK);
    assert_int_equal(sum.skipped, f->cache.n);
    assert_int_equal(fx_count(&f->p, "HeadObject", NULL, since), 2 * f->cache.n);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.text[0], "listing refused, falling back to HEAD"));
    assert_same_but_request_id(w.text[1], w.text[0]);
}

static void missing_key_403_is_an_error_naming_list_bucket(void **state)
{
    fx *f = *state;
    ms3_bucket_policy p = {0};
    p.access = MS3_ACCESS_NO_LIST;
    bk_err err;
    assert_int_equal(ms3_server_set_bucket_policy(f->p.mock, FX_BUCKET, &p, &err), 0);
    bk_export_summary sum;
    bk_err_clear(&err);
    assert_int_not_equal(export_cfg(f, f->cache.config, &sum, &err), BK_OK);
    assert_non_null(strstr(err.msg, "failed to check file presence in cache"));
    assert_non_null(strstr(err.msg, "ListBucket"));
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, 0), 0);
}

static void dry_run_writes_nothing(void **state)
{
    fx *f = *state;
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    o.dry_run = 1;
    bk_export_summary sum;
    bk_err err;
    assert_int_equal(bk_export_config(&o, f->cache.config, &sum, &err), BK_OK);
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, 0), 0);
    assert_int_equal(fx_count(&f->p, "HeadObject", NULL, 0), f->cache.n);
    assert_int_equal(ms3_server_object_count(f->p.mock, FX_BUCKET), 0);
}

static void hundred_blobs_cost_what_buildkit_pays(void **state)
{
    fx *f = *state;
    bk_test_cache big;
    assert_int_equal(bk_test_cache_make(&big, 100, 512, 2048, 11), 0);
    bk_err err;
    bk_store *store = bk_store_open(big.dir, 0, &err);
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = store;
    bk_export_summary sum;
    /* cold: a HEAD and a PUT per blob, one manifest */
    assert_int_equal(bk_export_config(&o, big.config, &sum, &err), BK_OK);
    assert_int_equal(fx_count(&f->p, "HeadObject", NULL, 0), 100);
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, 0), 101);
    assert_int_equal(fx_last_seq(&f->p), 201);
    assert_int_equal(sum.requests, 201);
    /* warm: HEADs and the manifest only */
    uint64_t since = fx_last_seq(&f->p);
    assert_int_equal(bk_export_config(&o, big.config, &sum, &err), BK_OK);
    assert_int_equal(fx_count(&f->p, "HeadObject", NULL, since), 100);
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, since), 1);
    assert_int_equal(fx_last_seq(&f->p) - since, 101);
    /* aged past touch_refresh: one CopyObject per blob */
    assert_int_equal(ms3_server_age_objects(f->p.mock, FX_BUCKET, "blobs/", (int64_t)2 * 86400),
                     100);
    since = fx_last_seq(&f->p);
    assert_int_equal(bk_export_config(&o, big.config, &sum, &err), BK_OK);
    assert_int_equal(fx_count(&f->p, "HeadObject", NULL, since), 100);
    assert_int_equal(fx_count(&f->p, "CopyObject", NULL, since), 100);
    assert_int_equal(fx_count(&f->p, "PutObject", NULL, since), 1);
    assert_int_equal(fx_last_seq(&f->p) - since, 201);
    bk_store_free(store);
    bk_test_cache_clear(&big);
}

typedef struct racer {
    fx *f;
    bk_test_cache *cache;
    bk_store *store;
    bk_code rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    bk_export_options o = {0};
    o.cache = r->f->p.cache;
    o.store = r->store;
    bk_export_summary sum;
    bk_err err;
    r->rc = bk_export_config(&o, r->cache->config, &sum, &err);
    return NULL;
}

static void concurrent_exporters_leave_one_whole_manifest(void **state)
{
    fx *f = *state;
    bk_test_cache other;
    assert_int_equal(bk_test_cache_make(&other, 12, 1, (uint64_t)64 * 1024, 4242), 0);
    bk_err err;
    bk_store *other_store = bk_store_open(other.dir, 0, &err);
    for (int round = 0; round < 3; round++) {
        racer a = {f, &f->cache, f->store, BK_OK}, b = {f, &other, other_store, BK_OK};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_int_equal(a.rc, BK_OK);
        assert_int_equal(b.rc, BK_OK);
        char *got = NULL;
        size_t len = 0;
        assert_int_equal(ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20,
                                                &got, &len, &err),
                         0);
        bk_cache_config *cfg = NULL;
        assert_int_equal(bk_config_parse(got, len, &cfg, &err), BK_OK);
        free(got);
        /* Whichever won, every blob it names is in the bucket. */
        for (size_t i = 0; i < cfg->n_layers; i++) {
            char key[128];
            snprintf(key, sizeof key, "blobs/%s", cfg->layers[i].blob);
            ms3_object_info info;
            assert_int_equal(ms3_server_stat_object(f->p.mock, FX_BUCKET, key, &info, &err), 0);
            free(info.metadata_json);
            assert_int_equal(info.size, (uint64_t)cfg->layers[i].annotations->size);
        }
        bk_config_free(cfg);
    }
    bk_store_free(other_store);
    bk_test_cache_clear(&other);
}

typedef struct intruder {
    ms3_server *mock;
    int done;
} intruder;

/* Writes the manifest behind the exporter's back while its blobs upload. */
static void intrude(void *ud, const bk_progress_event *ev)
{
    intruder *in = ud;
    if (ev->kind != BK_PROGRESS_BLOB_DONE || in->done)
        return;
    in->done = 1;
    bk_err err;
    ms3_server_put_object(in->mock, FX_BUCKET, "manifests/buildkit", "{}", 2, NULL, &err);
}

static void manifest_if_match_refuses_to_replace_a_newer_manifest(void **state)
{
    fx *f = *state;
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "manifest_if_match=true"), 0);
    bk_export_summary sum;
    /* A new name: If-None-Match: * */
    export_ok(f, &sum);
    ms3_journal_entry *e = NULL;
    size_t n = entries_for(f, "PutObject", "manifests/", 0, &e);
    assert_int_equal(n, 1);
    assert_non_null(strstr(e[0].headers_json, "if-none-match"));
    ms3_journal_entries_free(e, n);

    /* Someone else writes the manifest while we upload: we must not overwrite it. */
    ms3_server_reset(f->p.mock);
    export_ok(f, &sum);
    for (size_t i = 0; i < 2; i++) {
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", f->cache.digests[i]);
        bk_err derr;
        ms3_server_delete_object(f->p.mock, FX_BUCKET, key, &derr);
    }
    intruder in = {f->p.mock, 0};
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    o.progress = intrude;
    o.progress_ud = &in;
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(bk_export_config(&o, f->cache.config, &sum, &err), BK_ES3);
    assert_non_null(strstr(err.msg, "written by someone else"));
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20,
                                            &got, &len, &err),
                     0);
    assert_int_equal(len, 2);
    free(got);

    /* BuildKit's default: the last writer wins. */
    assert_int_equal(pipeline_fx_reconfigure(&f->p, ""), 0);
    in.done = 0;
    o.cache = f->p.cache;
    assert_int_equal(bk_export_config(&o, f->cache.config, &sum, &err), BK_OK);
    assert_int_equal(ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20,
                                            &got, &len, &err),
                     0);
    assert_true(len > 2);
    free(got);
}

/* Issue 17: blobs and the manifest carry the SDK's default Content-Type, as
 * BuildKit's transfer manager uploads both without one of its own; over http
 * each body is signed with its SHA-256. */
static void uploads_carry_the_sdk_content_type(void **state)
{
    fx *f = *state;
    bk_export_summary sum;
    export_ok(f, &sum);
    const char *prefixes[] = {"blobs/", "manifests/"};
    for (size_t p = 0; p < 2; p++) {
        ms3_journal_entry *e = NULL;
        size_t n = entries_for(f, "PutObject", prefixes[p], 0, &e);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            if (strstr(e[i].headers_json, "\"application/octet-stream\"") == NULL)
                fail_msg("PutObject %s without the SDK's Content-Type: %s", e[i].key,
                         e[i].headers_json);
            if (strstr(e[i].headers_json, "UNSIGNED-PAYLOAD") != NULL)
                fail_msg("PutObject %s over http unsigned: %s", e[i].key, e[i].headers_json);
        }
        ms3_journal_entries_free(e, n);
    }
}

static void large_manifest_and_large_touch_go_multipart(void **state)
{
    fx *f = *state;
    ms3_server_stop(f->p.mock);
    pipeline_fx_close(&f->p);
    /* Small parts are allowed so that small objects can exercise the multipart paths. */
    assert_int_equal(pipeline_fx_start(&f->p, "", 1024), 0);
    assert_int_equal(pipeline_fx_reconfigure_tuned(&f->p, "", 4096, 4096), 0);
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    o.multipart_threshold = 4096;
    o.copy_limit = 8192;
    bk_export_summary sum;
    bk_err err;
    bk_err_clear(&err);
    if (bk_export_config(&o, f->cache.config, &sum, &err) != BK_OK)
        fail_msg("export: %s", err.msg);
    /* The manifest (> 4 KiB for 12 layers) went multipart like the large blobs. */
    assert_int_equal(fx_count(&f->p, "CreateMultipartUpload", "manifests/buildkit", 0), 1);
    assert_int_equal(fx_count(&f->p, "CompleteMultipartUpload", "manifests/buildkit", 0), 1);
    size_t large = 0;
    for (size_t i = 0; i < f->cache.n; i++)
        large += f->cache.sizes[i] >= 4096;
    assert_int_equal(fx_count(&f->p, "CompleteMultipartUpload", "blobs/", 0), large);
    ms3_journal_entry *e = NULL;
    size_t n = entries_for(f, "CreateMultipartUpload", "", 0, &e);
    for (size_t i = 0; i < n; i++)
        if (strstr(e[i].headers_json, "\"application/octet-stream\"") == NULL)
            fail_msg("CreateMultipartUpload %s without the SDK's Content-Type: %s", e[i].key,
                     e[i].headers_json);
    ms3_journal_entries_free(e, n);

    /* Touch: objects at or above the copy limit are copied in ranges. */
    size_t over = 0, parts = 0;
    for (size_t i = 0; i < f->cache.n; i++) {
        if (f->cache.sizes[i] >= 8192) {
            over++;
            parts += (size_t)((f->cache.sizes[i] + 8191) / 8192);
        }
    }
    assert_int_equal(ms3_server_age_objects(f->p.mock, FX_BUCKET, "blobs/", (int64_t)2 * 86400),
                     (int)f->cache.n);
    uint64_t since = fx_last_seq(&f->p);
    assert_int_equal(bk_export_config(&o, f->cache.config, &sum, &err), BK_OK);
    assert_int_equal(sum.touched, f->cache.n);
    assert_int_equal(fx_count(&f->p, "CopyObject", "blobs/", since), f->cache.n - over);
    assert_int_equal(fx_count(&f->p, "UploadPartCopy", "blobs/", since), parts);
    assert_int_equal(fx_count(&f->p, "CompleteMultipartUpload", "blobs/", since), over);
    /* The copies are byte-identical to the originals. */
    for (size_t i = 0; i < f->cache.n; i++) {
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", f->cache.digests[i]);
        ms3_object_info info;
        assert_int_equal(ms3_server_stat_object(f->p.mock, FX_BUCKET, key, &info, &err), 0);
        free(info.metadata_json);
        assert_int_equal(info.size, f->cache.sizes[i]);
    }
}

/* The hex SHA-256 of len bytes of blob i of the cache at off. */
static void part_hash(fx *f, size_t i, uint64_t off, uint64_t len, char hex[65])
{
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->cache.dir, f->cache.digests[i] + 7);
    size_t size = 0;
    char *data = bk_test_read_file(path, &size);
    assert_non_null(data);
    assert_true(off + len <= size);
    unsigned char md[32];
    SHA256((const unsigned char *)data + off, (size_t)len, md);
    for (size_t k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", md[k]);
    free(data);
}

/* Hash once: each blob is read and hashed once, by the verification, which
 * also gives each part of a multipart upload its payload hash: the mock's
 * journal shows every UploadPart signed with its part's real SHA-256, and the
 * client hashed no blob byte for a payload (only the manifest). */
static void parts_are_signed_with_the_verified_hashes(void **state)
{
    fx *f = *state;
    ms3_server_stop(f->p.mock);
    pipeline_fx_close(&f->p);
    assert_int_equal(pipeline_fx_start(&f->p, "", 1024), 0);
    enum { PART = 4096 };
    assert_int_equal(pipeline_fx_reconfigure_tuned(&f->p, "", PART, PART), 0);
    bk_export_summary sum;
    export_ok(f, &sum);
    uint64_t total = 0;
    size_t parts = 0, large = 0;
    for (size_t i = 0; i < f->cache.n; i++) {
        total += f->cache.sizes[i];
        if (f->cache.sizes[i] >= PART) {
            large++;
            parts += (size_t)((f->cache.sizes[i] + PART - 1) / PART);
        }
    }
    assert_true(large > 0);
    assert_int_equal(fx_count(&f->p, "UploadPart", "blobs/", 0), parts);
    for (size_t i = 0; i < f->cache.n; i++) {
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", f->cache.digests[i]);
        ms3_journal_entry *e = NULL;
        size_t n = entries_for(f, "UploadPart", key, 0, &e);
        for (size_t k = 0; k < n; k++) {
            const char *pn = strstr(e[k].query, "partNumber=");
            assert_non_null(pn);
            uint64_t number = strtoull(pn + strlen("partNumber="), NULL, 10);
            uint64_t off = (number - 1) * PART;
            uint64_t len = off + PART > f->cache.sizes[i] ? f->cache.sizes[i] - off : PART;
            char want[65], header[128];
            part_hash(f, i, off, len, want);
            snprintf(header, sizeof header, "\"x-amz-content-sha256\":\"%s\"", want);
            assert_int_equal(e[k].status, 200);
            assert_non_null(strstr(e[k].headers_json, header));
            assert_string_equal(e[k].body_sha256, want);
        }
        ms3_journal_entries_free(e, n);
    }
    /* Every blob read once; of what the client sent it hashed everything but
     * the blobs (the manifest, the CompleteMultipartUpload lists). */
    ms3_journal_entry *all = NULL;
    size_t n_all = ms3_journal_query(f->p.mock, NULL, &all);
    uint64_t sent = 0;
    for (size_t k = 0; k < n_all; k++)
        sent += all[k].request_body_size;
    ms3_journal_entries_free(all, n_all);
    assert_int_equal(sum.bytes_verified, total);
    assert_int_equal(sum.payload_bytes_hashed, sent - total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_export_heads_uploads_then_writes_manifest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reexport_uploads_no_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(aged_blobs_are_touched_once_before_the_manifest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(one_clock_decides_touch_and_stamps_updated_at, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(dry_run_plans_every_action, setup, teardown),
        cmocka_unit_test_setup_teardown(names_and_prefixes_make_the_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(slowdown_on_one_put_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(permanent_failure_keeps_the_old_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(upload_parallelism_shows_in_the_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(uploads_carry_the_sdk_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_size_object_is_uploaded_again, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_store_blob_fails_and_uploads_nothing_for_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(warm_reexport_reports_each_skip_once, setup, teardown),
        cmocka_unit_test_setup_teardown(list_mode_replaces_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(listing_started_early_on_an_empty_bucket_uploads_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(listing_started_early_reports_what_a_listing_in_place_does,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(missing_key_403_is_an_error_naming_list_bucket, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(dry_run_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(hundred_blobs_cost_what_buildkit_pays, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_exporters_leave_one_whole_manifest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(manifest_if_match_refuses_to_replace_a_newer_manifest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(parts_are_signed_with_the_verified_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(large_manifest_and_large_touch_go_multipart, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
