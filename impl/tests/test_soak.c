/* Fault soak: a cache of 200 small blobs exported and imported through the
 * in-process mock while it injects seeded random faults (5% 503 SlowDown,
 * 2% 500 InternalError, 1% connection cut in the middle of a body, 1% delay
 * past the client's timeout).
 *
 *   retry_max_attempts=5: every run succeeds and every imported blob is
 *   byte-identical to the exported one.
 *   retry_max_attempts=1: runs may fail, but only cleanly (an error naming the
 *   key), and the bucket's manifest, old or new, only ever references blobs
 *   that exist and verify; an import never stores a blob that does not verify.
 *
 * By default 30 seeds run with retries and 20 without (50 runs), about a minute
 * and a half; BKCACHE_SOAK_SEEDS sets the number of seeds of each half (tools/soak
 * runs many more) and BKCACHE_SOAK_FIRST_SEED the first one, so a failing seed
 * can be replayed alone. */
#include <dirent.h>
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

#include "bkcache/exporter.h"
#include "bkcache/importer.h"
#include "bkcache/sigv4.h"
#include "bkcache/store.h"
#include "cachegen.h"
#include "pipeline_fx.h"

#define SOAK_BLOBS 200
#define SOAK_MIN_SIZE 64 /* large enough that a cut after CUT_AFTER bytes is mid-body */
#define SOAK_MAX_SIZE 2048
#define CUT_AFTER 32
/* Client attempt timeout and the injected delay that overruns it. Generous
 * against a loaded machine: a spurious timeout is just one more retry. */
#define CLIENT_TIMEOUT_MS 250
#define FAULT_DELAY_MS 400

/* Making a 200-blob cache costs more than a soak run, so a few are made once
 * and rotated; the faults differ with every seed. */
#define POOL 3

#define DEFAULT_SEEDS_RETRY 30
#define DEFAULT_SEEDS_NO_RETRY 20

typedef struct soak_totals {
    unsigned seeds;
    unsigned runs_ok, runs_failed; /* retry=1 export/import outcomes */
    uint64_t fired[5];             /* delay, 503, 500, cut response, cut request */
    uint64_t requests;
    double started;
} soak_totals;

static const char *const fault_names[5] = {"delay", "503 SlowDown", "500 InternalError",
                                           "cut response", "cut request"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    char *end = NULL;
    unsigned long n = strtoul(v, &end, 10);
    return (*end == '\0') ? (unsigned)n : def;
}

/* A client like bk_s3cache_client_new's, with a short per-attempt timeout
 * (not an s3cache tuning knob) and retries that do not really wait. */
static bk_s3_client *soak_client(pipeline_fx *fx, int max_attempts)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.region = "us-east-1";
    cfg.bucket = FX_BUCKET;
    cfg.endpoint_url = ms3_server_url(fx->mock);
    cfg.use_path_style = 1;
    cfg.access_key_id = FX_AK;
    cfg.secret_access_key = FX_SK;
    cfg.retry.max_attempts = max_attempts;
    cfg.retry.base_delay_ms = 1;
    cfg.request_timeout_ms = CLIENT_TIMEOUT_MS;
    bk_err err;
    bk_s3_client *c = bk_s3_client_new(&cfg, &err);
    if (c == NULL)
        fail_msg("client: %s", err.msg);
    return c;
}

static void add_faults(ms3_server *mock, uint64_t seed, uint64_t ids[5])
{
    bk_err err;
    ms3_fault_rule r;
    /* Delays first: they add up with whatever fires after them. */
    ms3_fault_rule_init(&r);
    r.action = MS3_FAULT_DELAY;
    r.probability = 0.01;
    r.seed = seed * 5 + 1;
    r.delay_ms = FAULT_DELAY_MS;
    assert_int_equal(ms3_server_add_fault(mock, &r, &ids[0], &err), 0);

    ms3_fault_rule_init(&r);
    r.action = MS3_FAULT_ERROR;
    r.status = 503;
    r.error_code = "SlowDown";
    r.probability = 0.05;
    r.seed = seed * 5 + 2;
    assert_int_equal(ms3_server_add_fault(mock, &r, &ids[1], &err), 0);

    ms3_fault_rule_init(&r);
    r.action = MS3_FAULT_ERROR;
    r.status = 500;
    r.error_code = "InternalError";
    r.probability = 0.02;
    r.seed = seed * 5 + 3;
    assert_int_equal(ms3_server_add_fault(mock, &r, &ids[2], &err), 0);

    /* A cut mid-body: the body of a download, or of an upload. */
    ms3_fault_rule_init(&r);
    r.action = MS3_FAULT_CUT_RESPONSE;
    r.operation = "GetObject";
    r.probability = 0.01;
    r.seed = seed * 5 + 4;
    r.cut_after = CUT_AFTER;
    assert_int_equal(ms3_server_add_fault(mock, &r, &ids[3], &err), 0);

    ms3_fault_rule_init(&r);
    r.action = MS3_FAULT_CUT_REQUEST;
    r.operation = "PutObject";
    r.probability = 0.01;
    r.seed = seed * 5 + 5;
    r.cut_after = CUT_AFTER;
    assert_int_equal(ms3_server_add_fault(mock, &r, &ids[4], &err), 0);
}

static void count_faults(pipeline_fx *fx, const uint64_t ids[5], soak_totals *t)
{
    for (int i = 0; i < 5; i++)
        t->fired[i] += ms3_server_fault_fired(fx->mock, ids[i]);
    t->requests += ms3_journal_count(fx->mock, NULL);
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    bk_buf b = BK_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bk_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return bk_buf_steal(&b);
}

static void make_dest(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/bkcache-soak-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static bk_code run_export(pipeline_fx *fx, bk_s3_client *client, bk_store *store,
                          const bk_cache_config *cfg, bk_err *err)
{
    bk_export_options o = {0};
    o.attrs = &fx->attrs;
    o.client = client;
    o.store = store;
    bk_export_summary sum;
    bk_err_clear(err);
    return bk_export_config(&o, cfg, &sum, err);
}

static bk_code run_import(pipeline_fx *fx, bk_s3_client *client, bk_store *dest,
                          bk_import_result *res, bk_err *err)
{
    bk_import_options o = {0};
    o.attrs = &fx->attrs;
    o.client = client;
    o.dest = dest;
    o.missing = BK_MISSING_ERROR;
    memset(res, 0, sizeof *res);
    bk_err_clear(err);
    return bk_import(&o, res, err);
}

/* The blob in dest is the cache's, byte for byte. */
static void assert_blob_identical(const bk_test_cache *c, size_t i, const char *dest_dir)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/blobs/sha256/%s", c->dir, c->digests[i] + 7);
    snprintf(b, sizeof b, "%s/blobs/sha256/%s", dest_dir, c->digests[i] + 7);
    size_t la = 0, lb = 0;
    char *da = read_whole(a, &la), *db = read_whole(b, &lb);
    if (da == NULL || db == NULL)
        fail_msg("blob %s missing from the import (%s)", c->digests[i], db ? a : b);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);
}

/* Every blob a partial import left in dest verifies against its name. */
static void assert_dest_blobs_verify(const char *dest_dir)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/blobs/sha256", dest_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return; /* nothing stored */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *data = read_whole(path, &len);
        assert_non_null(data);
        unsigned char md[32];
        SHA256((const unsigned char *)data, len, md);
        char hex[65];
        bk_sigv4_hex(md, 32, hex);
        if (strcmp(hex, e->d_name) != 0)
            fail_msg("import stored %s whose content hashes to %s", e->d_name, hex);
        free(data);
    }
    closedir(d);
}

/* The manifest in the bucket is the old or the new config, and every blob it
 * references exists with its size and digest. Returns which one (0 old, 1 new). */
static int assert_bucket_consistent(pipeline_fx *fx, const bk_cache_config *old_cfg,
                                    const bk_cache_config *new_cfg)
{
    bk_err err;
    char *got = NULL;
    size_t got_len = 0;
    assert_int_equal(ms3_server_read_object(fx->mock, FX_BUCKET, "manifests/buildkit", 64 << 20,
                                            &got, &got_len, &err),
                     0);
    int which = -1;
    const bk_cache_config *cfgs[2] = {old_cfg, new_cfg};
    for (int k = 0; k < 2 && which < 0; k++) {
        bk_buf enc = BK_BUF_INIT;
        assert_int_equal(bk_config_encode(cfgs[k], &enc, &err), BK_OK);
        if (enc.len == got_len && memcmp(enc.data, got, got_len) == 0)
            which = k;
        bk_buf_free(&enc);
    }
    if (which < 0)
        fail_msg("the bucket's manifest is neither the old nor the new one (%zu bytes)", got_len);

    bk_cache_config *cfg = NULL;
    assert_int_equal(bk_config_parse(got, got_len, &cfg, &err), BK_OK);
    free(got);
    for (size_t i = 0; i < cfg->n_layers; i++) {
        const bk_cache_layer *l = &cfg->layers[i];
        char key[128];
        snprintf(key, sizeof key, "blobs/%s", l->blob);
        char *data = NULL;
        size_t len = 0;
        if (ms3_server_read_object(fx->mock, FX_BUCKET, key, 64 << 20, &data, &len, &err) != 0)
            fail_msg("manifest references %s, which the bucket lacks: %s", key, err.msg);
        unsigned char md[32];
        SHA256((const unsigned char *)data, len, md);
        char digest[BK_DIGEST_MAX];
        bk_digest_format(md, digest);
        if (strcmp(digest, l->blob) != 0)
            fail_msg("%s holds content with digest %s", key, digest);
        assert_non_null(l->annotations);
        assert_int_equal((int64_t)len, l->annotations->size);
        free(data);
    }
    bk_config_free(cfg);
    return which;
}

/* The error names an S3 key the operation used: a blob of the cache or the manifest. */
static void assert_error_names_key(const bk_err *err, const bk_test_cache *c)
{
    if (strstr(err->msg, "manifests/buildkit") != NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (strstr(err->msg, c->digests[i]) != NULL)
            return;
    fail_msg("error does not name the key: %s", err->msg);
}

typedef struct soak_pool {
    bk_test_cache c[POOL];
    bk_store *store[POOL];
} soak_pool;

static void pool_make(soak_pool *p)
{
    for (size_t i = 0; i < POOL; i++) {
        assert_int_equal(bk_test_cache_make(&p->c[i], SOAK_BLOBS, SOAK_MIN_SIZE, SOAK_MAX_SIZE,
                                            (uint32_t)(1000 + i)),
                         0);
        bk_err err;
        p->store[i] = bk_store_open(p->c[i].dir, 0, &err);
        assert_non_null(p->store[i]);
    }
}

static void pool_free(soak_pool *p)
{
    for (size_t i = 0; i < POOL; i++) {
        bk_store_free(p->store[i]);
        bk_test_cache_free(&p->c[i]);
    }
}

static void print_totals(const char *what, const soak_totals *t)
{
    uint64_t total = 0;
    for (int i = 0; i < 5; i++)
        total += t->fired[i];
    printf("soak %s: %u seeds, %llu requests, %llu faults (", what, t->seeds,
           (unsigned long long)t->requests, (unsigned long long)total);
    for (int i = 0; i < 5; i++)
        printf("%s%s %llu", i ? ", " : "", fault_names[i], (unsigned long long)t->fired[i]);
    printf("), %.1f s", now_s() - t->started);
    if (t->runs_ok + t->runs_failed)
        printf(", runs ok %u, failed cleanly %u", t->runs_ok, t->runs_failed);
    printf("\n");
}

/* True when the client really spent its five attempts on one request: the
 * faults (about 9% of attempts: errors, cuts, and delays past the client's
 * timeout, which the journal records as late answers) hit the same request
 * five times now and then over thousands of requests, and giving up then is
 * the correct behaviour. Without faults every key sees one request per
 * operation, so five entries for one operation on one key prove the retries. */
static int retries_really_exhausted(pipeline_fx *fx)
{
    ms3_journal_filter f = {0};
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(fx->mock, &f, &e);
    int exhausted = 0;
    for (size_t i = 0; i < n && !exhausted; i++) {
        size_t attempts = 0;
        for (size_t j = 0; j < n && e[i].key != NULL; j++) {
            if (e[j].key != NULL && strcmp(e[j].key, e[i].key) == 0 &&
                strcmp(e[j].operation, e[i].operation) == 0)
                attempts++;
        }
        exhausted = attempts >= 5;
    }
    ms3_journal_entries_free(e, n);
    return exhausted;
}

static void with_retries_every_run_succeeds(void **state)
{
    (void)state;
    unsigned seeds = env_uint("BKCACHE_SOAK_SEEDS", DEFAULT_SEEDS_RETRY);
    unsigned first = env_uint("BKCACHE_SOAK_FIRST_SEED", 1);
    soak_totals t = {0};
    t.started = now_s();
    pipeline_fx fx;
    assert_int_equal(pipeline_fx_start(&fx, "", 0), 0);
    soak_pool pool;
    pool_make(&pool);
    unsigned exhausted = 0;
    for (unsigned seed = first; seed < first + seeds; seed++) {
        ms3_server_reset(fx.mock);
        const bk_test_cache *c = &pool.c[seed % POOL];
        bk_store *store = pool.store[seed % POOL];
        bk_err err;
        uint64_t ids[5];
        add_faults(fx.mock, seed, ids);
        bk_s3_client *client = soak_client(&fx, 5);

        if (run_export(&fx, client, store, c->config, &err) != BK_OK) {
            if (strstr(err.msg, "after 5 attempts") == NULL || !retries_really_exhausted(&fx))
                fail_msg("seed %u: export failed with retries: %s", seed, err.msg);
            exhausted++;
            bk_s3_client_free(client);
            continue;
        }

        char dest_dir[256];
        make_dest(dest_dir, sizeof dest_dir);
        bk_store *dest = bk_store_open(dest_dir, 1, &err);
        assert_non_null(dest);
        bk_import_result res;
        if (run_import(&fx, client, dest, &res, &err) != BK_OK) {
            if (strstr(err.msg, "after 5 attempts") == NULL || !retries_really_exhausted(&fx))
                fail_msg("seed %u: import failed with retries: %s", seed, err.msg);
            exhausted++;
            bk_import_result_clear(&res);
            bk_s3_client_free(client);
            bk_store_free(dest);
            remove_dir(dest_dir);
            continue;
        }
        assert_true(res.found);
        assert_int_equal(res.blobs, SOAK_BLOBS);
        assert_int_equal(res.n_missing, 0);
        assert_int_equal(res.fetched + res.already_present, SOAK_BLOBS);
        for (size_t i = 0; i < c->n; i++)
            assert_blob_identical(c, i, dest_dir);
        bk_import_result_clear(&res);

        count_faults(&fx, ids, &t);
        t.seeds++;
        bk_s3_client_free(client);
        bk_store_free(dest);
        remove_dir(dest_dir);
    }
    pool_free(&pool);
    pipeline_fx_stop(&fx);
    print_totals("retry_max_attempts=5", &t);
    /* Exhaustion is rare: at most one run in ten may end that way. */
    printf("soak retry_max_attempts=5: %u of %u runs gave up after 5 faulted attempts\n", exhausted,
           seeds);
    if (exhausted * 10 > seeds)
        fail_msg("%u of %u runs exhausted their retries", exhausted, seeds);
    /* The faults really happened: every kind fired at least once over the run. */
    if (seeds >= 10)
        for (int i = 0; i < 5; i++)
            if (t.fired[i] == 0)
                fail_msg("fault \"%s\" never fired in %u seeds", fault_names[i], seeds);
}

static void without_retries_runs_fail_cleanly(void **state)
{
    (void)state;
    unsigned seeds = env_uint("BKCACHE_SOAK_SEEDS", DEFAULT_SEEDS_NO_RETRY);
    unsigned first = env_uint("BKCACHE_SOAK_FIRST_SEED", 1);
    soak_totals t = {0};
    t.started = now_s();
    pipeline_fx fx;
    assert_int_equal(pipeline_fx_start(&fx, "", 0), 0);
    soak_pool pool;
    pool_make(&pool);
    for (unsigned seed = first; seed < first + seeds; seed++) {
        ms3_server_reset(fx.mock);
        /* The old cache, exported while nothing fails, then the new one. */
        const bk_test_cache *old_c = &pool.c[seed % POOL], *new_c = &pool.c[(seed + 1) % POOL];
        bk_store *old_store = pool.store[seed % POOL], *new_store = pool.store[(seed + 1) % POOL];
        bk_err err;
        bk_s3_client *clean = soak_client(&fx, 5);
        if (run_export(&fx, clean, old_store, old_c->config, &err) != BK_OK)
            fail_msg("seed %u: fault-free export failed: %s", seed, err.msg);
        bk_s3_client_free(clean);

        /* The new cache, once, with faults and no retry. */
        uint64_t ids[5];
        add_faults(fx.mock, seed, ids);
        bk_s3_client *client = soak_client(&fx, 1);
        bk_code rc = run_export(&fx, client, new_store, new_c->config, &err);
        int failed_on_manifest = 0;
        if (rc != BK_OK) {
            failed_on_manifest = strstr(err.msg, "manifests/buildkit") != NULL;
            assert_true(err.msg[0] != '\0');
            assert_error_names_key(&err, new_c);
            t.runs_failed++;
        } else {
            t.runs_ok++;
        }

        /* An import under the same faults: complete and identical, or a clean
         * failure that stored nothing unverified. */
        char dest_dir[256];
        make_dest(dest_dir, sizeof dest_dir);
        bk_store *dest = bk_store_open(dest_dir, 1, &err);
        assert_non_null(dest);
        bk_import_result res;
        bk_code irc = run_import(&fx, client, dest, &res, &err);
        if (irc != BK_OK) {
            assert_true(err.msg[0] != '\0');
            if (strstr(err.msg, "manifests/buildkit") == NULL) {
                /* Failed on a blob: name one of the manifest's blobs. */
                int named = 0;
                for (size_t i = 0; i < SOAK_BLOBS && !named; i++)
                    named = strstr(err.msg, old_c->digests[i]) != NULL ||
                            strstr(err.msg, new_c->digests[i]) != NULL;
                if (!named)
                    fail_msg("seed %u: import error does not name the key: %s", seed, err.msg);
            }
            t.runs_failed++;
        } else {
            t.runs_ok++;
        }
        bk_import_result_clear(&res);
        assert_dest_blobs_verify(dest_dir);
        count_faults(&fx, ids, &t);

        /* With the faults gone: the bucket is consistent, whichever manifest won. */
        ms3_server_clear_faults(fx.mock);
        int which = assert_bucket_consistent(&fx, old_c->config, new_c->config);
        /* A successful export left the new manifest; one that failed on a blob
         * left the old one; one that failed writing the manifest may have
         * left either (the server may have stored it after the client gave up). */
        if (rc == BK_OK)
            assert_int_equal(which, 1);
        else if (!failed_on_manifest)
            assert_int_equal(which, 0);

        bk_s3_client_free(client);
        bk_store_free(dest);
        remove_dir(dest_dir);
        t.seeds++;
    }
    pool_free(&pool);
    pipeline_fx_stop(&fx);
    print_totals("retry_max_attempts=1", &t);
    /* With ~9% of requests faulted and ~600 requests a seed, runs do fail. */
    if (seeds >= 10)
        assert_true(t.runs_failed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(with_retries_every_run_succeeds),
        cmocka_unit_test(without_retries_runs_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
