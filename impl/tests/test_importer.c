/* The importer against the in-process mock: what BuildKit reads, plus the
 * checks it lacks (every blob verified, missing blobs dropped or refused,
 * corrupt blobs never stored, broken downloads resumed with Range). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/exporter.h"
#include "bkcache/importer.h"
#include "bkcache/store.h"
#include "cachegen.h"
#include "pipeline_fx.h"
#include "rawhttp.h"

typedef struct fx {
    pipeline_fx p;
    bk_test_cache cache;
    bk_store *store;
    char dest_dir[256];
    bk_store *dest;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(pipeline_fx_start(&f->p, "", 0), 0);
    assert_int_equal(bk_test_cache_make(&f->cache, 10, 1000, 70000, 99), 0);
    bk_err err;
    f->store = bk_store_open(f->cache.dir, 0, &err);
    assert_non_null(f->store);
    assert_int_equal(bk_test_mkdtemp(f->dest_dir, sizeof f->dest_dir, "bkcache-dest"), 0);
    f->dest = bk_store_open(f->dest_dir, 1, &err);
    assert_non_null(f->dest);
    bk_export_options o = {0};
    o.cache = f->p.cache;
    o.store = f->store;
    bk_export_summary sum;
    if (bk_export_config(&o, f->cache.config, &sum, &err) != BK_OK)
        fail_msg("export: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    bk_store_free(f->dest);
    assert_int_equal(bk_test_rmtree(f->dest_dir), 0);
    bk_store_free(f->store);
    bk_test_cache_clear(&f->cache);
    pipeline_fx_stop(&f->p);
    free(f);
    return 0;
}

static bk_code import(fx *f, bk_missing_blobs missing, bk_import_result *res, bk_err *err)
{
    bk_import_options o = {0};
    o.cache = f->p.cache;
    o.dest = f->dest;
    o.missing = missing;
    bk_err_clear(err);
    return bk_import(&o, res, err);
}

static void graph_json(const bk_cache_config *cfg, bk_buf *out)
{
    bk_err err;
    assert_int_equal(bk_import_graph_json(cfg, out, &err), BK_OK);
}

static void round_trip_verifies_every_blob(void **state)
{
    fx *f = *state;
    bk_import_result res;
    bk_err err;
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_OK);
    assert_true(res.found);
    assert_int_equal(res.blobs, f->cache.n);
    assert_int_equal(res.fetched, f->cache.n);
    assert_int_equal(res.n_missing, 0);
    assert_int_equal(res.dropped_results, 0);
    for (size_t i = 0; i < f->cache.n; i++)
        assert_int_equal(
            bk_store_verify_blob(f->dest, f->cache.digests[i], f->cache.sizes[i], &err), BK_OK);
    bk_buf want = BK_BUF_INIT, got = BK_BUF_INIT;
    graph_json(f->cache.config, &want);
    graph_json(res.usable, &got);
    assert_string_equal(bk_buf_str(&got), bk_buf_str(&want));
    bk_buf_clear(&want);
    bk_buf_clear(&got);
    assert_int_equal(fx_count(&f->p, "GetObject", "manifests/buildkit", 0), 1);
    bk_import_result_clear(&res);

    /* A second import finds the blobs already there and fetches nothing. */
    uint64_t since = fx_last_seq(&f->p);
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_OK);
    assert_int_equal(res.already_present, f->cache.n);
    assert_int_equal(fx_count(&f->p, "GetObject", "blobs/", since), 0);
    bk_import_result_clear(&res);
}

static void missing_manifest_is_an_empty_cache_and_only_the_first_name_counts(void **state)
{
    fx *f = *state;
    assert_int_equal(pipeline_fx_reconfigure(&f->p, "name=nothing-here;buildkit"), 0);
    bk_import_result res;
    bk_err err;
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_OK);
    assert_false(res.found);
    assert_string_equal(res.manifest_key, "manifests/nothing-here");
    assert_int_equal(fx_count(&f->p, "GetObject", "manifests/buildkit", 0), 0);
    bk_import_result_clear(&res);
}

static void missing_blobs_drop_their_results_or_fail(void **state)
{
    fx *f = *state;
    char key[160];
    /* The chain's third layer: every result built on it loses its blob. */
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[2]);
    bk_err err;
    assert_int_equal(ms3_server_delete_object(f->p.mock, FX_BUCKET, key, &err), 0);
    bk_import_result res;
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_OK);
    assert_int_equal(res.n_missing, 1);
    assert_string_equal(res.missing_keys[0], key);
    /* Results 2..9 stand on layer 2: eight results dropped, two kept. */
    assert_int_equal(res.dropped_results, f->cache.n - 2);
    size_t kept = 0;
    for (size_t i = 0; i < res.usable->n_records; i++)
        kept += res.usable->records[i].n_results;
    assert_int_equal(kept, 2);
    bk_import_result_clear(&res);

    assert_int_equal(import(f, BK_MISSING_ERROR, &res, &err), BK_ENOTFOUND);
    assert_non_null(strstr(err.msg, key));
    bk_import_result_clear(&res);
}

static void corrupt_blob_in_the_bucket_is_never_stored(void **state)
{
    fx *f = *state;
    char key[160];
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[1]);
    size_t size = (size_t)f->cache.sizes[1];
    char *junk = calloc(1, size);
    bk_err err;
    assert_int_equal(ms3_server_put_object(f->p.mock, FX_BUCKET, key, junk, size, NULL, &err), 0);
    free(junk);
    bk_import_result res;
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_EINTEGRITY);
    assert_non_null(strstr(err.msg, f->cache.digests[1]));
    uint64_t got;
    assert_int_equal(bk_store_has_blob(f->dest, f->cache.digests[1], &got, &err), 0);
    bk_import_result_clear(&res);
}

static void broken_download_resumes_with_range(void **state)
{
    fx *f = *state;
    /* The largest blob, cut after 700 bytes once. */
    size_t big = 0;
    for (size_t i = 1; i < f->cache.n; i++)
        big = f->cache.sizes[i] > f->cache.sizes[big] ? i : big;
    char key[160];
    snprintf(key, sizeof key, "blobs/%s", f->cache.digests[big]);
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "GetObject";
    r.key_glob = key;
    r.action = MS3_FAULT_CUT_RESPONSE;
    r.cut_after = 700;
    r.max_fires = 1;
    bk_err err;
    uint64_t id;
    assert_int_equal(ms3_server_add_fault(f->p.mock, &r, &id, &err), 0);
    bk_import_result res;
    if (import(f, BK_MISSING_DROP, &res, &err) != BK_OK)
        fail_msg("import: %s", err.msg);
    assert_int_equal(ms3_server_fault_fired(f->p.mock, id), 1);
    assert_int_equal(
        bk_store_verify_blob(f->dest, f->cache.digests[big], f->cache.sizes[big], &err), BK_OK);
    ms3_journal_filter flt = {0};
    flt.operation = "GetObject";
    flt.key_prefix = key;
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(f->p.mock, &flt, &e);
    assert_int_equal(n, 2);
    assert_non_null(strstr(e[1].headers_json, "bytes=700-"));
    ms3_journal_entries_free(e, n);
    bk_import_result_clear(&res);
}

static void trailing_data_after_the_manifest_is_refused(void **state)
{
    fx *f = *state;
    char *m = NULL;
    size_t len = 0;
    bk_err err;
    assert_int_equal(
        ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20, &m, &len, &err),
        0);
    char *bad = malloc(len + 3);
    memcpy(bad, m, len);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a body with a length */
    memcpy(bad + len, "{}", 2);
    assert_int_equal(
        ms3_server_put_object(f->p.mock, FX_BUCKET, "manifests/buildkit", bad, len + 2, NULL, &err),
        0);
    free(bad);
    free(m);
    bk_import_result res;
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "unexpected data after JSON object"));
    bk_import_result_clear(&res);
}

/* A wrong endpoint_url that reaches some web server: its 404 is no empty cache. */
static void a_plain_web_servers_404_is_not_an_empty_cache(void **state)
{
    (void)state;
    raw_server *web = raw_server_start(RAW_REPLY, "HTTP/1.1 404 Not Found\r\n"
                                                  "Content-Type: text/html\r\n"
                                                  "Content-Length: 9\r\n"
                                                  "Connection: close\r\n\r\n"
                                                  "not found");
    assert_non_null(web);
    char text[512];
    snprintf(text, sizeof text,
             "type=s3,bucket=cache,region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=AKIAWEB,secret_access_key=web-secret,retry_max_attempts=1",
             raw_server_url(web));
    bk_s3_attrs attrs;
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(bk_s3_attrs_parse(text, NULL, &attrs, &err), BK_OK);
    bk_s3cache *cache = bk_s3cache_open(&attrs, NULL, &err);
    assert_non_null(cache);
    bk_import_options o = {0};
    o.cache = cache;
    bk_import_result res;
    bk_code rc = bk_import(&o, &res, &err);
    assert_int_not_equal(rc, BK_OK);
    assert_int_equal(res.found, 0);
    if (strstr(err.msg, raw_server_url(web)) == NULL || strstr(err.msg, "404") == NULL)
        fail_msg("import from a plain web server: %s", err.msg);
    bk_import_result_clear(&res);
    bk_s3cache_free(cache);
    bk_s3_attrs_clear(&attrs);
    raw_server_stop(web);
}

/* A layer digest nothing can fetch: import refuses the manifest with the
 * message of the validation explain and verify run too. */
static void invalid_layer_digest_is_refused_with_the_validation_message(void **state)
{
    fx *f = *state;
    bk_err err, verdict;
    bk_cache_config *cfg = NULL;
    char *m = NULL;
    size_t len = 0;
    assert_int_equal(
        ms3_server_read_object(f->p.mock, FX_BUCKET, "manifests/buildkit", 1 << 20, &m, &len, &err),
        0);
    assert_int_equal(bk_config_parse(m, len, &cfg, &err), BK_OK);
    free(m);
    free(cfg->layers[0].blob);
    cfg->layers[0].blob = strdup("sha256:../../../etc/passwd");
    assert_int_equal(bk_config_validate(cfg, BK_VALIDATE_S3, &verdict), BK_EINVAL);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_config_encode(cfg, &b, &err), BK_OK);
    assert_int_equal(ms3_server_put_object(f->p.mock, FX_BUCKET, "manifests/buildkit", b.data,
                                           b.len, NULL, &err),
                     0);
    bk_buf_clear(&b);
    bk_config_free(cfg);
    bk_import_result res;
    assert_int_equal(import(f, BK_MISSING_DROP, &res, &err), BK_EINVAL);
    char want[sizeof verdict.msg + 64];
    snprintf(want, sizeof want, "manifest manifests/buildkit: %s", verdict.msg);
    assert_string_equal(err.msg, want);
    bk_import_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_verifies_every_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(
            missing_manifest_is_an_empty_cache_and_only_the_first_name_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_blobs_drop_their_results_or_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_blob_in_the_bucket_is_never_stored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(broken_download_resumes_with_range, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_layer_digest_is_refused_with_the_validation_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(trailing_data_after_the_manifest_is_refused, setup,
                                        teardown),
        cmocka_unit_test(a_plain_web_servers_404_is_not_an_empty_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
