/* ordering: the request sequence of an export (SPEC 5; field reports 9, 21).
 * HEAD before every upload; the manifest only after every blob write
 * finished; a failed blob means no manifest write at all (an older manifest
 * stays as it was); a failed manifest write is reported. Request-level, so
 * these checks need the mock's journal and fault injection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SUITE "ordering"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_ordering_checks[] = {
    {"head_before_upload", CONF_REQUIRED, NULL},
    {"manifest_after_blobs", CONF_REQUIRED, NULL},
    {"failed_blob_no_manifest", CONF_REQUIRED, NULL},
    {"failed_manifest_reported", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void manifest_after_blobs(conf_ctx *c)
{
    char prefix[256], blobs[512], manifests[512], why[1200] = "";
    conf_case_prefix(c, "order", prefix, sizeof prefix);
    snprintf(blobs, sizeof blobs, "%sblobs/", prefix);
    snprintf(manifests, sizeof manifests, "%smanifests/", prefix);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "diamond", .prefix = prefix, .extra = "mode=max,name=a;b"};
    if (!conf_export_ok(c, SUITE, "manifest_after_blobs", &o))
        return;
    json_t *entries = conf_journal_since(c, mark);
    size_t i;
    json_t *e;
    /* Last blob write (by completion order and by arrival). */
    long long last_blob_seq = -1;
    double last_blob_arrival = 0;
    size_t blob_writes = 0, manifest_writes = 0, heads_ok = 1;
    json_t *headed = json_object();
    json_array_foreach(entries, i, e)
    {
        const char *op = conf_jstr(e, "operation"), *key = conf_jstr(e, "key");
        if (starts_with(key, blobs)) {
            if (strcmp(op, "HeadObject") == 0)
                json_object_set_new(headed, key, json_true());
            if (conf_is_write_op(op)) {
                blob_writes++;
                if (conf_jint(e, "seq") > last_blob_seq)
                    last_blob_seq = conf_jint(e, "seq");
                double t = json_real_value(json_object_get(e, "time"));
                if (t > last_blob_arrival)
                    last_blob_arrival = t;
                if ((strcmp(op, "PutObject") == 0 || strcmp(op, "CreateMultipartUpload") == 0) &&
                    json_object_get(headed, key) == NULL && heads_ok) {
                    heads_ok = 0;
                    snprintf(why, sizeof why, "%s %s without a HeadObject before it", op, key);
                }
            }
        }
    }
    if (heads_ok && blob_writes > 0)
        conf_pass(c, SUITE, "head_before_upload", "%zu blob writes, each after its HEAD",
                  blob_writes);
    else
        conf_fail(c, SUITE, "head_before_upload", "%s",
                  blob_writes == 0 ? "the export wrote no blobs" : why);
    int ok = 1;
    json_array_foreach(entries, i, e)
    {
        const char *op = conf_jstr(e, "operation"), *key = conf_jstr(e, "key");
        if (!starts_with(key, manifests) || !conf_is_write_op(op))
            continue;
        manifest_writes++;
        double t = json_real_value(json_object_get(e, "time"));
        if (ok && (conf_jint(e, "seq") < last_blob_seq || t < last_blob_arrival)) {
            ok = 0;
            snprintf(why, sizeof why,
                     "%s %s (request %lld) was sent before the last blob write (request %lld) "
                     "finished",
                     op, key, conf_jint(e, "seq"), last_blob_seq);
        }
    }
    if (ok && manifest_writes < 2) {
        ok = 0;
        snprintf(why, sizeof why, "expected a manifest write for each of 2 names, saw %zu",
                 manifest_writes);
    }
    if (ok)
        conf_pass(c, SUITE, "manifest_after_blobs", "%zu manifest writes after %zu blob writes",
                  manifest_writes, blob_writes);
    else
        conf_fail(c, SUITE, "manifest_after_blobs", "%s", why);
    json_decref(headed);
    json_decref(entries);
}

static void failed_blob_no_manifest(conf_ctx *c)
{
    const char *check = "failed_blob_no_manifest";
    char prefix[256], glob[600], mkey[512], why[1200] = "";
    conf_case_prefix(c, "fail", prefix, sizeof prefix);
    snprintf(glob, sizeof glob, "%sblobs/*", prefix);
    snprintf(mkey, sizeof mkey, "%smanifests/buildkit", prefix);
    bk_buf old = BK_BUF_INIT, now = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    /* An older cache under the same name must survive the failed export. */
    if (conf_golden(c, "linear", "min", &old, &err) != BK_OK ||
        conf_seed(c, prefix, "buildkit", old.data, old.len, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        bk_buf_clear(&old);
        return;
    }
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "PutObject";
    r.bucket = c->bucket;
    r.key_glob = glob;
    r.action = MS3_FAULT_ERROR;
    r.status = 403;
    r.error_code = "AccessDenied";
    uint64_t id = 0;
    if (ms3_server_add_fault(c->mock, &r, &id, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        bk_buf_clear(&old);
        return;
    }
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "diamond", .prefix = prefix, .extra = "mode=max"};
    conf_run run;
    conf_export(c, &o, &run);
    uint64_t fired = ms3_server_fault_fired(c->mock, id);
    ms3_server_clear_faults(c->mock);
    json_t *entries = conf_journal_since(c, mark);
    size_t i, manifest_puts = 0;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (strcmp(conf_jstr(e, "key"), mkey) == 0 && conf_is_write_op(conf_jstr(e, "operation")))
            manifest_puts++;
    }
    json_decref(entries);
    int have = conf_get(c, mkey, &now, &err);
    if (fired == 0)
        snprintf(why, sizeof why, "the export uploaded no blob, so nothing could fail");
    else if (run.exit_code == 0)
        snprintf(why, sizeof why, "the export succeeded although blob uploads were refused");
    else if (manifest_puts > 0)
        snprintf(why, sizeof why, "the manifest was written although a blob failed");
    else if (have != 1 || now.len != old.len || memcmp(now.data, old.data, old.len) != 0) {
        snprintf(why, sizeof why, "the older manifest was changed");
        if (have == 1)
            conf_detail_bytes(c, SUITE, check, "the manifest now against the older one", old.data,
                              old.len, now.data, now.len, 0);
    }
    if (why[0])
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "export failed (exit %d), older manifest intact", run.exit_code);
    conf_run_free(&run);
    bk_buf_clear(&old);
    bk_buf_clear(&now);
}

static void failed_manifest_reported(conf_ctx *c)
{
    const char *check = "failed_manifest_reported";
    char prefix[256], mkey[512];
    conf_case_prefix(c, "failname", prefix, sizeof prefix);
    snprintf(mkey, sizeof mkey, "%smanifests/second", prefix);
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = "PutObject";
    r.bucket = c->bucket;
    r.key_glob = mkey;
    r.action = MS3_FAULT_ERROR;
    r.status = 403;
    r.error_code = "AccessDenied";
    bk_err err;
    bk_err_clear(&err);
    uint64_t id = 0;
    if (ms3_server_add_fault(c->mock, &r, &id, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .extra = "name=first;second"};
    conf_run run;
    conf_export(c, &o, &run);
    uint64_t fired = ms3_server_fault_fired(c->mock, id);
    ms3_server_clear_faults(c->mock);
    if (fired == 0)
        conf_fail(c, SUITE, check, "the export never wrote the manifest of the second name");
    else if (run.exit_code == 0)
        conf_fail(c, SUITE, check,
                  "writing the second name's manifest failed, yet the export "
                  "reported success");
    else
        conf_pass(c, SUITE, check, "exit %d", run.exit_code);
    conf_run_free(&run);
}

void suite_ordering(conf_ctx *c)
{
    if (!c->is_mock) {
        conf_skip_needs_mock(c, SUITE, "head_before_upload", "request order is in the journal");
        conf_skip_needs_mock(c, SUITE, "manifest_after_blobs", "request order is in the journal");
        conf_skip_needs_mock(c, SUITE, "failed_blob_no_manifest", "fault injection");
        conf_skip_needs_mock(c, SUITE, "failed_manifest_reported", "fault injection");
        return;
    }
    manifest_after_blobs(c);
    failed_blob_no_manifest(c);
    failed_manifest_reported(c);
}
