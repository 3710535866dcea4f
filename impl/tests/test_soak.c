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
 * With retries, every key has rules of its own, for the export (its HEAD and
 * PUT) and then for the import (its GET), each kind firing at most once: a
 * request meets at most four faults (delay, 503, 500, a cut), so its fifth
 * attempt gets through. Rules shared by all requests fail an attempt about 8%
 * of the time whatever came before, so five in a row on one of a run's ~600
 * requests come about once in 450 runs: the client then rightly gives up, and
 * the promise could not hold. Rules of its own also give every key the same
 * faults whatever order the workers send in, so a seed replays its faults.
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

enum { F_DELAY, F_503, F_500, F_CUT_RESPONSE, F_CUT_REQUEST, F_KINDS };

typedef struct soak_totals {
    unsigned seeds;
    unsigned runs_ok, runs_failed; /* retry=1 export/import outcomes */
    uint64_t fired[F_KINDS];
    uint64_t requests;
    double started;
} soak_totals;

static const char *const fault_names[F_KINDS] = {"delay", "503 SlowDown", "500 InternalError",
                                                 "cut response", "cut request"};

#define ALL_KINDS ((1u << F_KINDS) - 1)
#define EXPORT_KINDS (ALL_KINDS & ~(1u << F_CUT_RESPONSE)) /* an export GETs nothing */
#define IMPORT_KINDS (ALL_KINDS & ~(1u << F_CUT_REQUEST))  /* an import PUTs nothing */

/* The rules in force, to count what fired and to tell which faults a failing
 * request met. */
typedef struct fault_rule_ref {
    uint64_t id;
    int kind;
    size_t key; /* index into fault_set.keys; SIZE_MAX = every key */
} fault_rule_ref;

typedef struct fault_set {
    fault_rule_ref *rules;
    size_t n, cap;
    char (*keys)[96]; /* the keys that have rules of their own */
    size_t n_keys;
} fault_set;

static void fault_set_clear(fault_set *fs)
{
    free(fs->rules);
    free(fs->keys);
    memset(fs, 0, sizeof *fs);
}

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

/* The fixture's cache with a short per-attempt timeout and retries that do
 * not really wait. */
static bk_s3cache *soak_cache(pipeline_fx *fx, int max_attempts)
{
    bk_s3_attrs attrs = fx->attrs; /* borrowed strings: bk_s3cache_open copies what it keeps */
    attrs.client.retry_max_attempts = max_attempts;
    bk_s3cache_tuning tuning = {0};
    tuning.retry_base_delay_ms = 1;
    tuning.request_timeout_ms = CLIENT_TIMEOUT_MS;
    bk_err err;
    bk_s3cache *c = bk_s3cache_open(&attrs, &tuning, &err);
    if (c == NULL)
        fail_msg("cache: %s", err.msg);
    return c;
}

/* The soak's faults of the kinds in mask for the requests on key index key
 * (SIZE_MAX: on every key), each firing at most max_fires times (0 = unbounded),
 * drawn from the streams of seed and the kind. */
static void add_rules(ms3_server *mock, fault_set *fs, unsigned mask, size_t key, uint64_t seed,
                      uint64_t max_fires)
{
    static const struct {
        ms3_fault_action action;
        int status;
        const char *code;
        double probability;
        const char *op; /* the cuts: mid-body of a download, or of an upload */
    } kinds[F_KINDS] = {
        /* Delays first: they add up with whatever fires after them. */
        [F_DELAY] = {MS3_FAULT_DELAY, 0, NULL, 0.01, NULL},
        [F_503] = {MS3_FAULT_ERROR, 503, "SlowDown", 0.05, NULL},
        [F_500] = {MS3_FAULT_ERROR, 500, "InternalError", 0.02, NULL},
        [F_CUT_RESPONSE] = {MS3_FAULT_CUT_RESPONSE, 0, NULL, 0.01, "GetObject"},
        [F_CUT_REQUEST] = {MS3_FAULT_CUT_REQUEST, 0, NULL, 0.01, "PutObject"},
    };
    for (int k = 0; k < F_KINDS; k++) {
        if (!(mask & (1u << k)))
            continue;
        ms3_fault_rule r;
        ms3_fault_rule_init(&r);
        r.action = kinds[k].action;
        if (kinds[k].status != 0) {
            r.status = kinds[k].status;
            r.error_code = kinds[k].code;
        }
        r.operation = kinds[k].op;
        r.key_glob = key != SIZE_MAX ? fs->keys[key] : NULL;
        r.probability = kinds[k].probability;
        r.seed = seed * 5 + (uint64_t)k + 1;
        r.max_fires = max_fires;
        if (r.action == MS3_FAULT_DELAY)
            r.delay_ms = FAULT_DELAY_MS;
        if (r.action == MS3_FAULT_CUT_RESPONSE || r.action == MS3_FAULT_CUT_REQUEST)
            r.cut_after = CUT_AFTER;
        if (fs->n == fs->cap) {
            fs->cap = fs->cap ? 2 * fs->cap : 64;
            fs->rules = realloc(fs->rules, fs->cap * sizeof *fs->rules);
            assert_non_null(fs->rules);
        }
        fault_rule_ref *ref = &fs->rules[fs->n++];
        ref->kind = k;
        ref->key = key;
        bk_err err;
        if (ms3_server_add_fault(mock, &r, &ref->id, &err) != 0)
            fail_msg("adding a fault rule: %s", err.msg);
    }
}

/* One set of rules for every request: the same streams for all, no bound. */
static void add_shared_faults(ms3_server *mock, uint64_t seed, fault_set *fs)
{
    add_rules(mock, fs, ALL_KINDS, SIZE_MAX, seed, 0);
}

/* The keys a run of cache c sends requests on. */
static void set_keys(fault_set *fs, const bk_test_cache *c)
{
    fs->n_keys = c->n + 1;
    fs->keys = calloc(fs->n_keys, sizeof *fs->keys);
    assert_non_null(fs->keys);
    for (size_t i = 0; i < c->n; i++)
        snprintf(fs->keys[i], sizeof fs->keys[i], "blobs/%s", c->digests[i]);
    snprintf(fs->keys[c->n], sizeof fs->keys[c->n], "manifests/buildkit");
}

/* Rules of its own for every key, each kind firing at most once on it while
 * they are in force: for the export (phase 0, its HEAD and PUT share them)
 * or for the import (phase 1). */
static void add_key_faults(ms3_server *mock, uint64_t seed, int phase, fault_set *fs)
{
    fs->n = 0;
    for (size_t i = 0; i < fs->n_keys; i++)
        add_rules(mock, fs, phase == 0 ? EXPORT_KINDS : IMPORT_KINDS, i,
                  (seed * 1024 + i) * 2 + (uint64_t)phase, 1);
}

/* Counts what the rules in force fired; call before they are cleared. */
static void count_fired(pipeline_fx *fx, const fault_set *fs, soak_totals *t)
{
    for (size_t i = 0; i < fs->n; i++)
        t->fired[fs->rules[i].kind] += ms3_server_fault_fired(fx->mock, fs->rules[i].id);
}

/* A delayed request is journaled when it answers, FAULT_DELAY_MS after it
 * came, also when its client gave up on it long before: waits (bounded) until
 * every delay the run fired is in the journal, or the next seed would find
 * the answer after its reset, on a key of another cache. */
static void settle_delays(pipeline_fx *fx, uint64_t fired, unsigned seed)
{
    size_t seen = 0;
    for (int tries = 0; tries < 300; tries++) {
        ms3_journal_entry *e = NULL;
        size_t n = ms3_journal_query(fx->mock, NULL, &e);
        seen = 0;
        for (size_t i = 0; i < n; i++)
            seen += e[i].fault != NULL && strstr(e[i].fault, ": delay ") != NULL;
        ms3_journal_entries_free(e, n);
        if (seen >= fired)
            return;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("seed %u: %llu delays fired, %zu delayed requests answered after 3 s", seed,
             (unsigned long long)fired, seen);
}

/* Every request of the run was on a key with rules of its own. */
static void assert_requests_covered(pipeline_fx *fx, const fault_set *fs, unsigned seed)
{
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(fx->mock, NULL, &e);
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t k = 0; k < fs->n_keys && e[i].key != NULL && !known; k++)
            known = strcmp(e[i].key, fs->keys[k]) == 0;
        if (!known)
            fail_msg("seed %u: %s %s met no fault rules of its own", seed, e[i].operation,
                     e[i].key ? e[i].key : "(no key)");
    }
    ms3_journal_entries_free(e, n);
}

/* What the mock saw of the request err names (the key in the message with
 * the most entries in the journal): every attempt, and what the rules in
 * force fired on its key. Freed by the caller. */
static char *request_journal(pipeline_fx *fx, const fault_set *fs, const char *msg)
{
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(fx->mock, NULL, &e);
    const char *key = NULL, *op = NULL;
    size_t most = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].key == NULL || e[i].key[0] == '\0' || strstr(msg, e[i].key) == NULL)
            continue;
        size_t same = 0;
        for (size_t j = 0; j < n; j++)
            same += e[j].key != NULL && strcmp(e[j].key, e[i].key) == 0 &&
                    strcmp(e[j].operation, e[i].operation) == 0;
        if (same > most) {
            most = same;
            key = e[i].key;
            op = e[i].operation;
        }
    }
    bk_buf b = BK_BUF_INIT;
    bk_buf_printf(&b, "the mock's journal of %s %s (%zu of the run's %zu requests):\n",
                  op ? op : "?", key ? key : "(no key in the error)", most, n);
    for (size_t i = 0; i < n && key != NULL; i++) {
        if (e[i].key == NULL || strcmp(e[i].key, key) != 0 || strcmp(e[i].operation, op) != 0)
            continue;
        const char *why = e[i].error_message ? e[i].error_message : "";
        bk_buf_printf(&b, "  #%llu at %+.3f s: HTTP %d %s, %.0f ms, %llu bytes in, %llu out%s%s\n",
                      (unsigned long long)e[i].seq, e[i].time - e[0].time, e[i].status,
                      e[i].error_code, e[i].duration * 1000,
                      (unsigned long long)e[i].request_body_size,
                      (unsigned long long)e[i].response_size, why[0] ? ": " : "", why);
    }
    bk_buf_puts(&b, "  faults fired on the key in this phase:");
    int any = 0;
    for (size_t i = 0; i < fs->n && key != NULL; i++) {
        const fault_rule_ref *r = &fs->rules[i];
        int applies = r->key == SIZE_MAX || strcmp(fs->keys[r->key], key) == 0;
        uint64_t fired = applies ? ms3_server_fault_fired(fx->mock, r->id) : 0;
        if (fired > 0) {
            bk_buf_printf(&b, "%s %s %llu", any ? "," : "", fault_names[r->kind],
                          (unsigned long long)fired);
            any = 1;
        }
    }
    bk_buf_puts(&b, any ? "\n" : " none\n");
    ms3_journal_entries_free(e, n);
    return bk_buf_steal(&b);
}

static void make_dest(char *dir, size_t size)
{
    assert_int_equal(bk_test_mkdtemp(dir, size, "bkcache-soak"), 0);
}

static void remove_dir(const char *dir)
{
    assert_int_equal(bk_test_rmtree(dir), 0);
}

static bk_code run_export(bk_s3cache *cache, bk_store *store, const bk_cache_config *cfg,
                          bk_err *err)
{
    bk_export_options o = {0};
    o.cache = cache;
    o.store = store;
    bk_export_summary sum;
    bk_err_clear(err);
    return bk_export_config(&o, cfg, &sum, err);
}

static bk_code run_import(bk_s3cache *cache, bk_store *dest, bk_import_result *res, bk_err *err)
{
    bk_import_options o = {0};
    o.cache = cache;
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
    char *da = bk_test_read_file(a, &la), *db = bk_test_read_file(b, &lb);
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
        char *data = bk_test_read_file(path, &len);
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
        bk_buf_clear(&enc);
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

static void pool_clear(soak_pool *p)
{
    for (size_t i = 0; i < POOL; i++) {
        bk_store_free(p->store[i]);
        bk_test_cache_clear(&p->c[i]);
    }
}

static void print_totals(const char *what, const soak_totals *t)
{
    uint64_t total = 0;
    for (int i = 0; i < F_KINDS; i++)
        total += t->fired[i];
    printf("soak %s: %u seeds, %llu requests, %llu faults (", what, t->seeds,
           (unsigned long long)t->requests, (unsigned long long)total);
    for (int i = 0; i < F_KINDS; i++)
        printf("%s%s %llu", i ? ", " : "", fault_names[i], (unsigned long long)t->fired[i]);
    printf("), %.1f s", now_s() - t->started);
    if (t->runs_ok + t->runs_failed)
        printf(", runs ok %u, failed cleanly %u", t->runs_ok, t->runs_failed);
    printf("\n");
}

/* What both halves set up: the seeds asked for, the totals, the mock with its
 * client fixture and the pool of caches. */
typedef struct soak_half {
    unsigned seeds, first;
    soak_totals t;
    pipeline_fx fx;
    soak_pool pool;
} soak_half;

static void half_begin(soak_half *h, unsigned default_seeds)
{
    memset(h, 0, sizeof *h);
    h->seeds = env_uint("BKCACHE_SOAK_SEEDS", default_seeds);
    h->first = env_uint("BKCACHE_SOAK_FIRST_SEED", 1);
    h->t.started = now_s();
    assert_int_equal(pipeline_fx_start(&h->fx, "", 0), 0);
    pool_make(&h->pool);
}

static void half_end(soak_half *h, const char *what)
{
    pool_clear(&h->pool);
    pipeline_fx_stop(&h->fx);
    print_totals(what, &h->t);
}

/* A run with retries that failed: the error and what the mock saw of the request. */
static void fail_run(pipeline_fx *fx, const fault_set *fs, unsigned seed, const char *what,
                     const bk_err *err)
{
    char *journal = request_journal(fx, fs, err->msg);
    fail_msg("seed %u: %s failed with retry_max_attempts=5: %s\n%s", seed, what, err->msg,
             journal ? journal : "");
}

static void with_retries_every_run_succeeds(void **state)
{
    (void)state;
    soak_half h;
    half_begin(&h, DEFAULT_SEEDS_RETRY);
    unsigned seeds = h.seeds, first = h.first;
    soak_totals *t = &h.t;
    pipeline_fx *fx = &h.fx;
    soak_pool *pool = &h.pool;
    for (unsigned seed = first; seed < first + seeds; seed++) {
        ms3_server_reset(fx->mock);
        uint64_t delays_before = t->fired[F_DELAY];
        const bk_test_cache *c = &pool->c[seed % POOL];
        bk_store *store = pool->store[seed % POOL];
        bk_err err;
        fault_set fs = {0};
        set_keys(&fs, c);
        add_key_faults(fx->mock, seed, 0, &fs);
        bk_s3cache *cache = soak_cache(fx, 5);

        if (run_export(cache, store, c->config, &err) != BK_OK)
            fail_run(fx, &fs, seed, "export", &err);
        count_fired(fx, &fs, t);
        ms3_server_clear_faults(fx->mock);
        add_key_faults(fx->mock, seed, 1, &fs);

        char dest_dir[256];
        make_dest(dest_dir, sizeof dest_dir);
        bk_store *dest = bk_store_open(dest_dir, 1, &err);
        assert_non_null(dest);
        bk_import_result res;
        if (run_import(cache, dest, &res, &err) != BK_OK)
            fail_run(fx, &fs, seed, "import", &err);
        assert_true(res.found);
        assert_int_equal(res.blobs, SOAK_BLOBS);
        assert_int_equal(res.n_missing, 0);
        assert_int_equal(res.fetched + res.already_present, SOAK_BLOBS);
        for (size_t i = 0; i < c->n; i++)
            assert_blob_identical(c, i, dest_dir);
        bk_import_result_clear(&res);

        count_fired(fx, &fs, t);
        settle_delays(fx, t->fired[F_DELAY] - delays_before, seed);
        assert_requests_covered(fx, &fs, seed);
        t->requests += ms3_journal_count(fx->mock, NULL);
        fault_set_clear(&fs);
        t->seeds++;
        bk_s3cache_free(cache);
        bk_store_free(dest);
        remove_dir(dest_dir);
    }
    half_end(&h, "retry_max_attempts=5");
    /* The faults really happened: every kind fired at least once over the run. */
    if (seeds >= 10)
        for (int i = 0; i < F_KINDS; i++)
            if (t->fired[i] == 0)
                fail_msg("fault \"%s\" never fired in %u seeds", fault_names[i], seeds);
}

static void without_retries_runs_fail_cleanly(void **state)
{
    (void)state;
    soak_half h;
    half_begin(&h, DEFAULT_SEEDS_NO_RETRY);
    unsigned seeds = h.seeds, first = h.first;
    soak_totals *t = &h.t;
    pipeline_fx *fx = &h.fx;
    soak_pool *pool = &h.pool;
    for (unsigned seed = first; seed < first + seeds; seed++) {
        ms3_server_reset(fx->mock);
        uint64_t delays_before = t->fired[F_DELAY];
        /* The old cache, exported while nothing fails, then the new one. */
        const bk_test_cache *old_c = &pool->c[seed % POOL], *new_c = &pool->c[(seed + 1) % POOL];
        bk_store *old_store = pool->store[seed % POOL], *new_store = pool->store[(seed + 1) % POOL];
        bk_err err;
        bk_s3cache *clean = soak_cache(fx, 5);
        if (run_export(clean, old_store, old_c->config, &err) != BK_OK)
            fail_msg("seed %u: fault-free export failed: %s", seed, err.msg);
        bk_s3cache_free(clean);

        /* The new cache, once, with faults and no retry. */
        fault_set fs = {0};
        add_shared_faults(fx->mock, seed, &fs);
        bk_s3cache *cache = soak_cache(fx, 1);
        bk_code rc = run_export(cache, new_store, new_c->config, &err);
        int failed_on_manifest = 0;
        if (rc != BK_OK) {
            failed_on_manifest = strstr(err.msg, "manifests/buildkit") != NULL;
            assert_true(err.msg[0] != '\0');
            assert_error_names_key(&err, new_c);
            t->runs_failed++;
        } else {
            t->runs_ok++;
        }

        /* An import under the same faults: complete and identical, or a clean
         * failure that stored nothing unverified. */
        char dest_dir[256];
        make_dest(dest_dir, sizeof dest_dir);
        bk_store *dest = bk_store_open(dest_dir, 1, &err);
        assert_non_null(dest);
        bk_import_result res;
        bk_code irc = run_import(cache, dest, &res, &err);
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
            t->runs_failed++;
        } else {
            t->runs_ok++;
        }
        bk_import_result_clear(&res);
        assert_dest_blobs_verify(dest_dir);
        count_fired(fx, &fs, t);
        settle_delays(fx, t->fired[F_DELAY] - delays_before, seed);
        t->requests += ms3_journal_count(fx->mock, NULL);
        fault_set_clear(&fs);

        /* With the faults gone: the bucket is consistent, whichever manifest won. */
        ms3_server_clear_faults(fx->mock);
        int which = assert_bucket_consistent(fx, old_c->config, new_c->config);
        /* A successful export left the new manifest; one that failed on a blob
         * left the old one; one that failed writing the manifest may have
         * left either (the server may have stored it after the client gave up). */
        if (rc == BK_OK)
            assert_int_equal(which, 1);
        else if (!failed_on_manifest)
            assert_int_equal(which, 0);

        bk_s3cache_free(cache);
        bk_store_free(dest);
        remove_dir(dest_dir);
        t->seeds++;
    }
    half_end(&h, "retry_max_attempts=1");
    /* With ~9% of requests faulted and ~600 requests a seed, runs do fail. */
    if (seeds >= 10)
        assert_true(t->runs_failed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(with_retries_every_run_succeeds),
        cmocka_unit_test(without_retries_runs_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
