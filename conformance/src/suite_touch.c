/* touch: blobs older than touch_refresh are refreshed by a copy onto
 * themselves with x-amz-metadata-directive REPLACE and x-amz-meta-updated-at
 * (SPEC 5; field reports 3, 25, 26). On the mock, objects are aged with the
 * mock's clock; on other targets touch_refresh=0s makes every present blob
 * stale. Objects of 5 GiB or more need multipart UploadPartCopy: on the mock
 * a real 5 GiB + 1 object (stored as zeros, no memory), everywhere a 12 MiB
 * blob with the copy limit lowered to 5 MiB (adapter capability copy-limit).
 * A multipart touch needs no metadata: BuildKit's sets none. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SUITE "touch"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_touch_checks[] = {
    {"fresh_not_touched", CONF_REQUIRED, NULL},
    {"stale_touched", CONF_REQUIRED, NULL},
    {"multipart_copy_over_5gib", CONF_REQUIRED, NULL},
    {"multipart_copy_lowered_limit", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};
#define HOUR ((int64_t)3600)

/* sha256 of 5 GiB + 1 zero bytes (`head -c 5368709121 /dev/zero | sha256sum`). */
#define ZERO_5G1_DIGEST "sha256:edcddf01fc829bf06be2b5393a9793cdd43598a0fd483c57f41a9b58183f6e33"
#define ZERO_5G1_SIZE 5368709121ULL
#define GIB5 5368709120ULL

static void url_decode(const char *in, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; in[i] && k + 1 < size; i++) {
        if (in[i] == '%' && isxdigit((unsigned char)in[i + 1]) &&
            isxdigit((unsigned char)in[i + 2])) {
            char hex[3] = {in[i + 1], in[i + 2], 0};
            out[k++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[k++] = in[i];
        }
    }
    out[k] = '\0';
}

/* Blob keys under root, and how many of them carry updated-at metadata. */
static size_t count_touched(conf_ctx *c, const char *root, size_t *total, char *why,
                            size_t why_size)
{
    conf_object *objs = NULL;
    size_t n = 0, touched = 0;
    bk_err err;
    bk_err_clear(&err);
    *total = 0;
    if (conf_list(c, root, &objs, &n, &err) != 0) {
        snprintf(why, why_size, "cannot list %s: %s", root, err.msg);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        bk_s3_result res = BK_S3_RESULT_INIT;
        if (conf_stat(c, objs[i].key, &res, &err) == 1) {
            if (bk_s3_result_meta(&res, "updated-at") != NULL)
                touched++;
            else if (bk_s3_result_meta(&res, "updated_at") != NULL)
                snprintf(why, why_size, "%s carries updated_at: gateways drop '_' headers",
                         objs[i].key);
        }
        bk_s3_result_clear(&res);
    }
    *total = n;
    conf_objects_free(objs, n);
    return touched;
}

/* Journal: every CopyObject since mark on keys under root is a proper touch. */
static int journal_touches(conf_ctx *c, uint64_t mark, const char *root, size_t *copies, char *why,
                           size_t why_size)
{
    json_t *entries = conf_journal_since(c, mark);
    size_t i;
    json_t *e;
    int ok = 1;
    *copies = 0;
    json_array_foreach(entries, i, e)
    {
        const char *key = conf_jstr(e, "key");
        if (strcmp(conf_jstr(e, "operation"), "CopyObject") != 0 ||
            strncmp(key, root, strlen(root)) != 0)
            continue;
        (*copies)++;
        const char *src = conf_jheader(e, "x-amz-copy-source");
        const char *dir = conf_jheader(e, "x-amz-metadata-directive");
        const char *upd = conf_jheader(e, "x-amz-meta-updated-at");
        char decoded[2048], want[2048];
        url_decode(src ? src : "", decoded, sizeof decoded);
        snprintf(want, sizeof want, "%s/%s", c->bucket, key);
        const char *d = decoded[0] == '/' ? decoded + 1 : decoded;
        if (ok && strcmp(d, want) != 0) {
            ok = 0;
            snprintf(why, why_size, "CopyObject %s copies from %s, not from itself", key,
                     src ? src : "(no x-amz-copy-source)");
        } else if (ok && (dir == NULL || strcmp(dir, "REPLACE") != 0)) {
            ok = 0;
            snprintf(why, why_size, "CopyObject %s without x-amz-metadata-directive: REPLACE", key);
        } else if (ok && (upd == NULL || upd[0] == '\0')) {
            ok = 0;
            snprintf(why, why_size, "CopyObject %s without x-amz-meta-updated-at", key);
        }
        if (ok && conf_jint(e, "status") != 200) {
            ok = 0;
            snprintf(why, why_size, "CopyObject %s answered %lld %s", key, conf_jint(e, "status"),
                     conf_jstr(e, "error_code"));
        }
    }
    json_decref(entries);
    return ok;
}

static void stale_and_fresh(conf_ctx *c)
{
    char prefix[256], root[512], why[1200] = "";
    conf_case_prefix(c, SUITE, prefix, sizeof prefix);
    snprintf(root, sizeof root, "%sblobs/", prefix);
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .extra = "mode=max"};
    if (!conf_export_ok(c, SUITE, "fresh_not_touched", &o))
        return;

    /* Fresh (the default 24h): nothing is touched. */
    uint64_t mark = conf_journal_mark(c);
    if (c->is_mock)
        ms3_server_age_objects(c->mock, c->bucket, root, 23 * HOUR);
    if (!conf_export_ok(c, SUITE, "fresh_not_touched", &o))
        return;
    size_t total = 0, copies = 0;
    size_t touched = count_touched(c, root, &total, why, sizeof why);
    if (c->is_mock)
        journal_touches(c, mark, root, &copies, why, sizeof why);
    if (total == 0)
        conf_fail(c, SUITE, "fresh_not_touched", "no blobs under %s", root);
    else if (touched || copies)
        conf_fail(c, SUITE, "fresh_not_touched",
                  "%zu blob(s) touched although younger than touch_refresh", touched + copies);
    else
        conf_pass(c, SUITE, "fresh_not_touched", "%zu blobs%s left alone", total,
                  c->is_mock ? " aged 23h" : "");

    /* Stale: every blob is touched, its bytes unchanged. */
    mark = conf_journal_mark(c);
    conf_export_opts stale = o;
    if (c->is_mock)
        ms3_server_age_objects(c->mock, c->bucket, root, 25 * HOUR);
    else
        stale.extra = "mode=max,touch_refresh=0s";
    int64_t before = c->is_mock ? ms3_server_now(c->mock) : 0;
    if (!conf_export_ok(c, SUITE, "stale_touched", &stale))
        return;
    why[0] = '\0';
    touched = count_touched(c, root, &total, why, sizeof why);
    int ok = touched == total && total > 0;
    if (!ok && !why[0])
        snprintf(why, sizeof why, "%zu of %zu stale blobs carry x-amz-meta-updated-at", touched,
                 total);
    if (ok && c->is_mock) {
        ok = journal_touches(c, mark, root, &copies, why, sizeof why);
        /* A touch refreshes Last-Modified: nothing may stay 25h old. */
        conf_object *objs = NULL;
        size_t n = 0;
        bk_err err;
        bk_err_clear(&err);
        if (ok && conf_list(c, root, &objs, &n, &err) == 0) {
            for (size_t i = 0; i < n && ok; i++) {
                ms3_object_info info;
                memset(&info, 0, sizeof info);
                if (ms3_server_stat_object(c->mock, c->bucket, objs[i].key, &info, &err) == 0 &&
                    info.last_modified < before - HOUR) {
                    ok = 0;
                    snprintf(why, sizeof why, "%s: Last-Modified did not advance", objs[i].key);
                }
                free(info.metadata_json);
            }
        }
        conf_objects_free(objs, n);
    }
    if (ok) {
        /* The copy must not change a byte. */
        conf_object *objs = NULL;
        size_t n = 0;
        bk_err err;
        bk_err_clear(&err);
        if (conf_list(c, root, &objs, &n, &err) == 0) {
            for (size_t i = 0; i < n && ok; i++) {
                bk_buf data = BK_BUF_INIT;
                char hex[65];
                if (conf_get(c, objs[i].key, &data, &err) == 1) {
                    conf_sha256_hex(data.data, data.len, hex);
                    if (strcmp(objs[i].key + strlen(root) + 7, hex) != 0) {
                        ok = 0;
                        snprintf(why, sizeof why, "%s changed content when touched", objs[i].key);
                    }
                }
                bk_buf_clear(&data);
            }
        }
        conf_objects_free(objs, n);
    }
    if (ok)
        conf_pass(c, SUITE, "stale_touched", "%zu blobs touched (self-copy, REPLACE, updated-at)",
                  total);
    else
        conf_fail(c, SUITE, "stale_touched", "%s", why);
}

typedef struct range {
    unsigned long long first, last;
} range;

static int by_first(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Journal: the multipart copy of key covers [0, size) in ranges of at most
 * limit. Parts run in parallel, so ranges are sorted before they are checked. */
static int journal_part_copies(conf_ctx *c, uint64_t mark, const char *key, uint64_t size,
                               uint64_t limit, char *why, size_t why_size)
{
    json_t *entries = conf_journal_since(c, mark);
    size_t i, n = 0;
    json_t *e;
    range ranges[64];
    int creates = 0, completes = 0, plain = 0, ok = 1;
    json_array_foreach(entries, i, e)
    {
        if (strcmp(conf_jstr(e, "key"), key) != 0)
            continue;
        const char *op = conf_jstr(e, "operation");
        if (strcmp(op, "CreateMultipartUpload") == 0)
            creates++;
        else if (strcmp(op, "CompleteMultipartUpload") == 0 && conf_jint(e, "status") == 200)
            completes++;
        else if (strcmp(op, "CopyObject") == 0)
            plain++;
        else if (strcmp(op, "UploadPartCopy") == 0 && conf_jint(e, "status") == 200 && ok) {
            const char *r = conf_jheader(e, "x-amz-copy-source-range");
            char *dash = NULL, *end = NULL;
            if (r != NULL && n < 64 && strncmp(r, "bytes=", 6) == 0) {
                ranges[n].first = strtoull(r + 6, &dash, 10);
                if (dash != r + 6 && *dash == '-')
                    ranges[n].last = strtoull(dash + 1, &end, 10);
            }
            if (end == NULL || end == dash + 1) {
                ok = 0;
                snprintf(why, why_size, "UploadPartCopy without a byte range");
            } else {
                n++;
            }
        }
    }
    json_decref(entries);
    qsort(ranges, n, sizeof *ranges, by_first);
    uint64_t next = 0;
    for (i = 0; i < n && ok; i++) {
        range *r = &ranges[i];
        if (r->first != next || r->last < r->first || r->last >= size ||
            r->last - r->first + 1 > limit) {
            ok = 0;
            snprintf(why, why_size,
                     "UploadPartCopy range bytes=%llu-%llu (object of %llu bytes, limit %llu, "
                     "next byte %llu)",
                     r->first, r->last, (unsigned long long)size, (unsigned long long)limit,
                     (unsigned long long)next);
        } else {
            next = r->last + 1;
        }
    }
    if (ok && plain) {
        ok = 0;
        snprintf(why, why_size, "a plain CopyObject of a %llu-byte object (limit %llu)",
                 (unsigned long long)size, (unsigned long long)limit);
    } else if (ok && (creates < 1 || completes != 1 || next != size)) {
        ok = 0;
        snprintf(why, why_size,
                 "expected CreateMultipartUpload, UploadPartCopy ranges covering %llu bytes and "
                 "one CompleteMultipartUpload; saw %d create, ranges up to %llu, %d complete",
                 (unsigned long long)size, creates, (unsigned long long)next, completes);
    }
    return ok;
}

static void multipart_5gib(conf_ctx *c)
{
    const char *check = "multipart_copy_over_5gib";
    if (!c->is_mock) {
        conf_skip_needs_mock(c, SUITE, check,
                             "a 5 GiB object costs nothing only in the mock; see "
                             "multipart_copy_lowered_limit");
        return;
    }
    char graph[4300], store[4300], digest[80], prefix[256], key[512], why[1200] = "";
    bk_err err;
    bk_err_clear(&err);
    if (conf_single_blob_graph(c, "zero5g", ZERO_5G1_SIZE, 0, ZERO_5G1_DIGEST, graph, sizeof graph,
                               store, sizeof store, digest, &err) != BK_OK) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    conf_case_prefix(c, check, prefix, sizeof prefix);
    snprintf(key, sizeof key, "%sblobs/%s", prefix, digest);
    if (ms3_server_put_zero_object(c->mock, c->bucket, key, ZERO_5G1_SIZE, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    ms3_server_age_objects(c->mock, c->bucket, key, 25 * HOUR);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = graph, .prefix = prefix, .store = store};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    if (journal_part_copies(c, mark, key, ZERO_5G1_SIZE, GIB5, why, sizeof why))
        conf_pass(c, SUITE, check, "5 GiB + 1 byte touched by UploadPartCopy in 5 GiB ranges");
    else
        conf_fail(c, SUITE, check, "%s", why);
}

static void multipart_lowered(conf_ctx *c)
{
    const char *check = "multipart_copy_lowered_limit";
    if (!(c->capabilities & CONF_CAP_COPY_LIMIT)) {
        conf_skip(c, SUITE, check, "skipped: the adapter does not declare copy-limit");
        return;
    }
    conf_probe_upload_part_copy(c);
    if (c->upload_part_copy == 0) {
        conf_skip(c, SUITE, check, "skipped: %s", c->upload_part_copy_why);
        return;
    }
    const uint64_t size = 12 * BK_S3_MIB + 3, limit = 5 * BK_S3_MIB;
    char graph[4300], store[4300], digest[80], prefix[256], key[512], why[1200] = "";
    bk_err err;
    bk_err_clear(&err);
    if (conf_single_blob_graph(c, "noise12m", size, 12, NULL, graph, sizeof graph, store,
                               sizeof store, digest, &err) != BK_OK) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    conf_case_prefix(c, check, prefix, sizeof prefix);
    snprintf(key, sizeof key, "%sblobs/%s", prefix, digest);
    conf_export_opts o = {.graph = graph, .prefix = prefix, .store = store};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    uint64_t mark = conf_journal_mark(c);
    if (c->is_mock)
        ms3_server_age_objects(c->mock, c->bucket, key, 25 * HOUR);
    else
        o.extra = "touch_refresh=0s";
    o.copy_limit = limit;
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    /* No updated-at here: BuildKit's multipart touch sets no metadata
     * (s3.go:590-593 at 73ed6825); ranges and bytes are what matter. */
    int ok = 1;
    if (c->is_mock)
        ok = journal_part_copies(c, mark, key, size, limit, why, sizeof why);
    bk_buf data = BK_BUF_INIT;
    if (ok && conf_get(c, key, &data, &err) == 1) {
        char hex[65];
        conf_sha256_hex(data.data, data.len, hex);
        if (data.len != size || strcmp(hex, digest + 7) != 0) {
            ok = 0;
            snprintf(why, sizeof why, "%s changed when copied in parts (%zu bytes, sha256:%s)", key,
                     data.len, hex);
        }
    }
    bk_buf_clear(&data);
    if (ok)
        conf_pass(c, SUITE, check, "12 MiB blob touched in 5 MiB UploadPartCopy ranges");
    else
        conf_fail(c, SUITE, check, "%s", why);
}

void suite_touch(conf_ctx *c)
{
    stale_and_fresh(c);
    multipart_5gib(c);
    multipart_lowered(c);
}
