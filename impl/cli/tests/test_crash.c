/* Crash consistency with real processes: build/bin/bkcache and build/bin/mock-s3
 * as children.
 *
 *  1. `bkcache export` is SIGKILLed at 10 points of an export, each chosen by
 *     the number of requests the mock's journal shows finished (every request
 *     is slowed down a little so the kill lands where it was aimed). After
 *     each kill: every object in the bucket is complete (its size, MD5 ETag
 *     and digest agree), the manifest is the previous one or the new one, the
 *     import of whatever manifest is there verifies every blob, and the next
 *     export completes.
 *  2. `mock-s3 --data-dir` is SIGKILLed during uploads and restarted on the
 *     same directory: every object it lists is complete and verifies, and an
 *     export against the restarted server completes. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "bkcache/buf.h"
#include "bkcache/s3.h"
#include "bkcache/sigv4.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define AK "AKIACRASHTEST0000001"
#define SK "crash/test/secret/0000000000000000000000"
#define BUCKET "crash"
#define MANIFEST_KEY "manifests/buildkit"
#define KILL_POINTS 10
#define CHILD_TIMEOUT_S 60

typedef struct blob_spec {
    size_t n;
    uint64_t size;
} blob_spec;

typedef struct test_graph {
    char path[512];
    size_t n_blobs;
} test_graph;

typedef struct crash_fx {
    char tmp[256];
    char url[128];
    int port;
    bk_proc_child mock;
    int mock_running;
    char journal[512];
    char data_dir[512]; /* "" = objects in memory */
    test_graph old_g, new_g;
    char *old_manifest, *new_manifest; /* as the bucket holds them after full exports */
    size_t old_len, new_len;
    char *old_json, *new_json; /* `bkcache import --json` of each */
} crash_fx;

/* ------------------------------------------------------------ small helpers */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t next_random(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *hex)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, len, out, &n, md, NULL), 1);
    bk_sigv4_hex(out, n, hex);
}

/* Writes the blobs of specs into DIR/store and a graph fixture DIR/<name>.json:
 * a base vertex and one on top of it whose result is all the blobs, base
 * first (only vertices with inputs export their result). */
static void make_graph(const char *dir, const char *name, const blob_spec *specs, size_t n_specs,
                       uint32_t seed, test_graph *g)
{
    char path[600];
    snprintf(path, sizeof path, "%s/store", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/store/blobs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/store/blobs/sha256", dir);
    mkdir(path, 0755);

    bk_buf j = BK_BUF_INIT;
    char vdigest[65];
    digest_hex(EVP_sha256(), name, strlen(name), vdigest);
    char vdigest2[65];
    digest_hex(EVP_sha256(), vdigest, 64, vdigest2);
    bk_buf_printf(&j,
                  "{\"description\":\"crash test %s\",\"store\":\"store\",\"vertices\":[{\"id\":"
                  "\"base\",\"digest\":\"sha256:%s\"},{\"id\":\"v\",\"digest\":"
                  "\"sha256:%s\",\"inputs\":[[{\"vertex\":\"base\"}]],\"result\":{\"remote\":false,"
                  "\"createdAt\":"
                  "\"2025-01-01T00:00:00Z\",\"layers\":[",
                  name, vdigest, vdigest2);
    uint32_t state = seed;
    size_t count = 0;
    for (size_t s = 0; s < n_specs; s++) {
        for (size_t i = 0; i < specs[s].n; i++) {
            uint64_t size = specs[s].size;
            unsigned char *data = malloc(size);
            assert_non_null(data);
            for (uint64_t b = 0; b < size; b++)
                data[b] = (unsigned char)next_random(&state);
            char hex[65], diff[65];
            digest_hex(EVP_sha256(), data, size, hex);
            digest_hex(EVP_sha256(), hex, 64, diff);
            snprintf(path, sizeof path, "%s/store/blobs/sha256/%s", dir, hex);
            assert_int_equal(bk_write_file(path, data, size), 0);
            free(data);
            bk_buf_printf(
                &j,
                "%s{\"digest\":\"sha256:%s\",\"size\":%llu,\"mediaType\":"
                "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"diffID\":\"sha256:%s\","
                "\"createdAt\":\"2025-01-01T00:00:00Z\"}",
                count ? "," : "", hex, (unsigned long long)size, diff);
            count++;
        }
    }
    bk_buf_puts(&j, "]}}],\"targets\":[\"v\"]}\n");
    bk_err err;
    assert_int_equal(bk_buf_check(&j, &err), BK_OK);
    snprintf(g->path, sizeof g->path, "%s/%s.json", dir, name);
    assert_int_equal(bk_write_file(g->path, j.data, j.len), 0);
    g->n_blobs = count;
    bk_buf_clear(&j);
}

static void attrs_text(const crash_fx *f, char *out, size_t size, const char *extra)
{
    snprintf(out, size,
             "type=s3,bucket=" BUCKET ",region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=" AK ",secret_access_key=" SK ",upload_parallelism=1%s%s",
             f->url, extra && *extra ? "," : "", extra ? extra : "");
}

/* The child's environment: no AWS_* setting of the machine may leak in. */
static const char *const child_env[] = {"AWS_ACCESS_KEY_ID=",
                                        "AWS_SECRET_ACCESS_KEY=",
                                        "AWS_SESSION_TOKEN=",
                                        "AWS_PROFILE=",
                                        "AWS_CONFIG_FILE=/nonexistent",
                                        "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
                                        NULL};

static int export_run(const crash_fx *f, const test_graph *g, const char *extra)
{
    char attrs[1024];
    attrs_text(f, attrs, sizeof attrs, extra);
    const char *argv[] = {BKCACHE, "export",     "--graph", g->path, "--cache-to",
                          attrs,   "--progress", "quiet",   NULL};
    bk_proc_result res;
    assert_int_equal(bk_proc_run(argv, child_env, NULL, 0, CHILD_TIMEOUT_S, &res), 0);
    assert_false(res.timed_out);
    int code = res.exit_code;
    if (code != 0)
        print_message("bkcache export exited %d: %s\n", code, res.err);
    bk_proc_result_clear(&res);
    return code;
}

/* `bkcache import --missing-blobs error --json` into a fresh store: every blob
 * the manifest references must be present and verify. Returns the JSON. */
static char *import_json(const crash_fx *f)
{
    char attrs[1024], dest[600];
    attrs_text(f, attrs, sizeof attrs, NULL);
    snprintf(dest, sizeof dest, "%s/import-XXXXXX", f->tmp);
    assert_non_null(mkdtemp(dest));
    const char *argv[] = {BKCACHE,  "import",     "--cache-from",    attrs,
                          "--dest", dest,         "--missing-blobs", "error",
                          "--json", "--progress", "quiet",           NULL};
    bk_proc_result res;
    assert_int_equal(bk_proc_run(argv, child_env, NULL, 0, CHILD_TIMEOUT_S, &res), 0);
    assert_false(res.timed_out);
    if (res.exit_code != 0)
        fail_msg("bkcache import exited %d: %s", res.exit_code, res.err);
    char *json = strdup(res.out);
    bk_proc_result_clear(&res);
    bk_rmtree(dest);
    return json;
}

/* ------------------------------------------------------------ the mock */

static void mock_start(crash_fx *f)
{
    const char *buckets[] = {BUCKET, NULL};
    const char *extra[8];
    size_t n = 0;
    extra[n++] = "--journal";
    extra[n++] = f->journal;
    if (f->data_dir[0]) {
        extra[n++] = "--data-dir";
        extra[n++] = f->data_dir;
    }
    extra[n] = NULL;
    assert_int_equal(
        bk_mock_start(buckets, extra, AK, SK, &f->mock, f->url, sizeof f->url, &f->port), 0);
    f->mock_running = 1;
}

static void mock_kill(crash_fx *f)
{
    if (!f->mock_running)
        return;
    kill(f->mock.pid, SIGKILL);
    bk_proc_stop(&f->mock, 5); /* reaps it */
    f->mock_running = 0;
}

static size_t discard_cb(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* An admin request (/_mock/...), which needs no signature. */
static void admin(const crash_fx *f, const char *method, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "%s/_mock/%s", f->url, path);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    struct curl_slist *json = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, json);
    if (body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(json);
    if (status != 200)
        fail_msg("admin %s %s: HTTP %ld", method, path, status);
}

static size_t journal_lines(const crash_fx *f)
{
    FILE *fp = fopen(f->journal, "r");
    if (fp == NULL)
        return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

/* The journal line count once the mock has journaled at least `least` lines.
 * The mock journals a request when its connection completes, which can be
 * just after the client that sent it has exited: wait for the lines still in
 * flight (bounded) instead of reading the count too early. */
static size_t journal_lines_settled(const crash_fx *f, size_t least)
{
    double deadline = now_s() + CHILD_TIMEOUT_S;
    size_t n = journal_lines(f);
    while (now_s() < deadline) {
        sleep_ms(50);
        size_t again = journal_lines(f);
        if (again >= least && again == n)
            break;
        n = again;
    }
    return n;
}

static bk_s3_client *client_new(const crash_fx *f)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.region = "us-east-1";
    cfg.bucket = BUCKET;
    cfg.endpoint_url = f->url;
    cfg.use_path_style = 1;
    cfg.access_key_id = AK;
    cfg.secret_access_key = SK;
    cfg.retry.base_delay_ms = 1;
    bk_err err;
    bk_s3_client *c = bk_s3_client_new(&cfg, &err);
    if (c == NULL)
        fail_msg("client: %s", err.msg);
    return c;
}

static char *get_object(bk_s3_client *c, const char *key, size_t *len, bk_s3_result *res)
{
    bk_buf b = BK_BUF_INIT;
    bk_err err;
    if (bk_s3_get_to_buf(c, key, NULL, 64u << 20, &b, res, &err) != BK_OK)
        fail_msg("GET %s: %s", key, err.msg);
    *len = b.len;
    return bk_buf_steal(&b);
}

typedef struct listing {
    char **keys;
    uint64_t *sizes;
    char (*etags)[128];
    size_t n;
} listing;

static int collect(void *ud, const bk_s3_object *o)
{
    listing *l = ud;
    l->keys = realloc(l->keys, (l->n + 1) * sizeof *l->keys);
    l->sizes = realloc(l->sizes, (l->n + 1) * sizeof *l->sizes);
    l->etags = realloc(l->etags, (l->n + 1) * sizeof *l->etags);
    if (l->keys == NULL || l->sizes == NULL || l->etags == NULL)
        return 1;
    l->keys[l->n] = strdup(o->key);
    l->sizes[l->n] = o->size;
    snprintf(l->etags[l->n], sizeof l->etags[l->n], "%s", o->etag);
    l->n++;
    return 0;
}

static void listing_clear(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
    free(l->etags);
    memset(l, 0, sizeof *l);
}

/* Every object the bucket lists is complete: the body has the listed size,
 * its MD5 is the ETag (single PUTs only here), a blob's SHA-256 is its key,
 * and the manifest is one of the two whole manifests we know (when known).
 * Returns the number of objects; *manifest gets 0 none, 1 old, 2 new. */
static size_t check_bucket(const crash_fx *f, int *manifest)
{
    bk_s3_client *c = client_new(f);
    listing l = {0};
    bk_s3_list_params p = {0};
    bk_err err;
    if (bk_s3_list_each(c, &p, collect, &l, &err) != BK_OK)
        fail_msg("list: %s", err.msg);
    *manifest = 0;
    for (size_t i = 0; i < l.n; i++) {
        size_t len = 0;
        bk_s3_result res = BK_S3_RESULT_INIT;
        char *data = get_object(c, l.keys[i], &len, &res);
        if (len != l.sizes[i])
            fail_msg("%s: listed with %llu bytes, holds %zu", l.keys[i],
                     (unsigned long long)l.sizes[i], len);
        char md5[33], want_etag[40];
        digest_hex(EVP_md5(), data, len, md5);
        snprintf(want_etag, sizeof want_etag, "\"%s\"", md5);
        if (strcmp(l.etags[i], want_etag) != 0 || strcmp(res.etag, want_etag) != 0)
            fail_msg("%s: ETag %s (GET %s), content MD5 %s", l.keys[i], l.etags[i], res.etag,
                     want_etag);
        bk_s3_result_clear(&res);
        if (strncmp(l.keys[i], "blobs/sha256:", 13) == 0) {
            char hex[65];
            digest_hex(EVP_sha256(), data, len, hex);
            if (strcmp(hex, l.keys[i] + 13) != 0)
                fail_msg("%s holds content with digest sha256:%s (%zu bytes)", l.keys[i], hex, len);
        } else if (strcmp(l.keys[i], MANIFEST_KEY) == 0) {
            if (f->old_manifest && len == f->old_len && memcmp(data, f->old_manifest, len) == 0)
                *manifest = 1;
            else if (f->new_manifest && len == f->new_len &&
                     memcmp(data, f->new_manifest, len) == 0)
                *manifest = 2;
            else if (f->old_manifest != NULL)
                fail_msg("the manifest (%zu bytes) is neither the old nor the new one", len);
            else
                *manifest = -1;
        } else {
            fail_msg("unexpected object %s", l.keys[i]);
        }
        free(data);
    }
    size_t n = l.n;
    listing_clear(&l);
    bk_s3_client_free(c);
    return n;
}

static char *get_manifest(const crash_fx *f, size_t *len)
{
    bk_s3_client *c = client_new(f);
    bk_s3_result res = BK_S3_RESULT_INIT;
    char *m = get_object(c, MANIFEST_KEY, len, &res);
    bk_s3_result_clear(&res);
    bk_s3_client_free(c);
    return m;
}

/* ------------------------------------------------------------ fixtures */

static int setup(void **state)
{
    crash_fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(bk_tmpdir(f->tmp, sizeof f->tmp), 0);
    snprintf(f->journal, sizeof f->journal, "%s/journal.jsonl", f->tmp);
    /* old: 6 small blobs; new: 10 small ones and 2 of 3 MiB, so some kills
     * land in the middle of a body the server has not read yet. */
    const blob_spec old_specs[] = {{6, 700}};
    const blob_spec new_specs[] = {{5, 900}, {2, 3u << 20}, {5, 1100}};
    make_graph(f->tmp, "old", old_specs, 1, 11, &f->old_g);
    make_graph(f->tmp, "new", new_specs, 3, 22, &f->new_g);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    crash_fx *f = *state;
    mock_kill(f);
    free(f->old_manifest);
    free(f->new_manifest);
    free(f->old_json);
    free(f->new_json);
    bk_rmtree(f->tmp);
    free(f);
    return 0;
}

/* ------------------------------------------------------------ tests */

/* Starts the new export, waits until the journal shows `after` more finished
 * requests, SIGKILLs it. Returns 1 when it was killed, 0 when it had already
 * finished. */
static int export_and_kill(crash_fx *f, size_t after)
{
    char attrs[1024];
    attrs_text(f, attrs, sizeof attrs, NULL);
    const char *argv[] = {BKCACHE, "export",     "--graph", f->new_g.path, "--cache-to",
                          attrs,   "--progress", "quiet",   NULL};
    size_t base = journal_lines(f);
    bk_proc_child child;
    assert_int_equal(bk_proc_spawn(argv, child_env, &child), 0);
    double deadline = now_s() + CHILD_TIMEOUT_S;
    int killed = 0;
    while (now_s() < deadline) {
        if (journal_lines(f) >= base + after) {
            killed = kill(child.pid, SIGKILL) == 0;
            break;
        }
        sleep_ms(2);
    }
    int code = bk_proc_stop(&child, 10);
    if (!killed)
        fail_msg("the journal never reached %zu requests", after);
    /* 137: killed; 0: it finished between our look at the journal and the kill. */
    assert_true(code == 128 + SIGKILL || code == 0);
    return code == 128 + SIGKILL;
}

static void killed_export_leaves_bucket_consistent(void **state)
{
    crash_fx *f = *state;
    mock_start(f);

    /* The two complete states the bucket may be in. */
    assert_int_equal(export_run(f, &f->old_g, NULL), 0);
    f->old_manifest = get_manifest(f, &f->old_len);
    f->old_json = import_json(f);
    size_t before = journal_lines_settled(f, 0);
    assert_int_equal(export_run(f, &f->new_g, NULL), 0);
    /* HEAD and PUT per blob plus the manifest, at least. */
    size_t new_requests = journal_lines_settled(f, before + 2 * f->new_g.n_blobs + 1) - before;
    f->new_manifest = get_manifest(f, &f->new_len);
    f->new_json = import_json(f);
    assert_true(strcmp(f->old_json, f->new_json) != 0);
    /* HEAD and PUT per blob plus the manifest. */
    assert_true(new_requests >= 2 * f->new_g.n_blobs + 1);

    int killed = 0, partial_objects_seen = 0;
    for (size_t k = 0; k < KILL_POINTS; k++) {
        admin(f, "POST", "reset", "{}");
        assert_int_equal(export_run(f, &f->old_g, NULL), 0);
        /* Every request takes a little longer, so the kill lands where aimed. */
        admin(f, "POST", "faults", "{\"action\":\"delay\",\"delay_ms\":40}");
        size_t after = 1 + k * (new_requests - 2) / (KILL_POINTS - 1);
        killed += export_and_kill(f, after);
        admin(f, "DELETE", "faults", NULL);

        int manifest = 0;
        size_t objects = check_bucket(f, &manifest);
        /* The previous manifest survives any kill before the manifest PUT. */
        assert_true(manifest == 1 || manifest == 2);
        if (after < new_requests - 1)
            assert_int_equal(manifest, 1);
        partial_objects_seen += objects < 1 + f->old_g.n_blobs + f->new_g.n_blobs;
        char *json = import_json(f);
        assert_string_equal(json, manifest == 1 ? f->old_json : f->new_json);
        free(json);

        /* The next export completes and the new cache is whole. */
        assert_int_equal(export_run(f, &f->new_g, NULL), 0);
        check_bucket(f, &manifest);
        assert_int_equal(manifest, 2);
        json = import_json(f);
        assert_string_equal(json, f->new_json);
        free(json);
    }
    print_message("crash: %d of %d kill points hit a running export; %d left the new cache "
                  "incomplete\n",
                  killed, KILL_POINTS, partial_objects_seen);
    assert_true(killed >= KILL_POINTS - 1);
    mock_kill(f);
}

static void killed_mock_keeps_only_complete_objects(void **state)
{
    crash_fx *f = *state;
    snprintf(f->data_dir, sizeof f->data_dir, "%s/data", f->tmp);
    assert_int_equal(mkdir(f->data_dir, 0755), 0);
    /* A graph of bigger blobs: the kill catches the server writing one. */
    test_graph big;
    const blob_spec specs[] = {{6, 6u << 20}, {4, 2000}};
    make_graph(f->tmp, "big", specs, 2, 33, &big);

    const size_t points[] = {1, 4, 7, 11};
    for (size_t k = 0; k < sizeof points / sizeof points[0]; k++) {
        mock_start(f);
        char attrs[1024];
        attrs_text(f, attrs, sizeof attrs, "retry_max_attempts=1");
        const char *argv[] = {BKCACHE, "export",     "--graph", big.path, "--cache-to",
                              attrs,   "--progress", "quiet",   NULL};
        size_t base = journal_lines(f);
        bk_proc_child child;
        assert_int_equal(bk_proc_spawn(argv, child_env, &child), 0);
        double deadline = now_s() + CHILD_TIMEOUT_S;
        while (now_s() < deadline && journal_lines(f) < base + points[k])
            sleep_ms(1);
        mock_kill(f);
        /* The export fails (or had finished); either way it ends on its own. */
        bk_proc_stop(&child, 30);

        mock_start(f);
        int manifest = 0;
        size_t objects = check_bucket(f, &manifest);
        print_message("crash: mock killed after %zu requests: %zu complete objects after "
                      "restart\n",
                      points[k], objects);
        /* The restarted server finishes the job. */
        assert_int_equal(export_run(f, &big, NULL), 0);
        objects = check_bucket(f, &manifest);
        assert_int_equal(objects, big.n_blobs + 1);
        assert_int_equal(manifest, -1);
        mock_kill(f);
        /* Next round starts from an empty bucket again. */
        bk_rmtree(f->data_dir);
        assert_int_equal(mkdir(f->data_dir, 0755), 0);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(killed_export_leaves_bucket_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(killed_mock_keeps_only_complete_objects, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
