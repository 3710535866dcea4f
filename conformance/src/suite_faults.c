/* faults: transient errors are retried within retry_max_attempts, permanent
 * ones are reported (SPEC 2 retry attributes, 5; field reports 9, 32, 37).
 * Faults come from the mock's rules, so the whole suite needs the mock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define SUITE "faults"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_faults_checks[] = {
    {"slowdown_retried", CONF_REQUIRED, NULL},
    {"internal_error_retried", CONF_REQUIRED, NULL},
    {"connection_reset_retried", CONF_REQUIRED, NULL},
    {"retry_max_attempts_raised", CONF_REQUIRED, NULL},
    {"retry_max_attempts_lowered", CONF_REQUIRED, NULL},
    {"permanent_failure_reported", CONF_REQUIRED, NULL},
    {"access_denied_not_retried", CONF_REQUIRED, NULL},
    {"error_in_200_copy_is_failure", CONF_REQUIRED, NULL},
    {"head_403_is_an_error", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

typedef struct fault_case {
    const char *check;
    const char *operation;
    ms3_fault_action action;
    int status;
    const char *code;
    uint64_t first_n;  /* 0 = every matching request */
    const char *extra; /* attributes */
    int expect_success;
    int expect_attempts; /* requests to the faulted key (0 = not checked) */
    int stale;           /* age the blobs first so the export touches them */
} fault_case;

/* The first blob key of linear's max golden under prefix. */
static int first_blob_key(conf_ctx *c, const char *prefix, char *key, size_t size)
{
    bk_buf g = BK_BUF_INIT;
    bk_err err;
    char **d = NULL;
    size_t n = 0;
    int ok = conf_golden(c, "linear", "max", &g, &err) == BK_OK &&
             conf_manifest_blobs(g.data, g.len, &d, &n) == 0 && n > 0;
    if (ok)
        snprintf(key, size, "%sblobs/%s", prefix, d[0]);
    conf_strings_free(d, n);
    bk_buf_clear(&g);
    return ok;
}

static void run_case(conf_ctx *c, const fault_case *fc)
{
    char prefix[256], key[512], mkey[512], why[1200] = "";
    conf_case_prefix(c, fc->check, prefix, sizeof prefix);
    snprintf(mkey, sizeof mkey, "%smanifests/buildkit", prefix);
    bk_err err;
    bk_err_clear(&err);
    if (!first_blob_key(c, prefix, key, sizeof key)) {
        conf_fail(c, SUITE, fc->check, "setup: cannot read the linear golden");
        return;
    }
    char extra[256];
    snprintf(extra, sizeof extra, "mode=max%s%s", fc->extra ? "," : "", fc->extra ? fc->extra : "");
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .extra = extra};
    if (fc->stale) {
        if (!conf_export_ok(c, SUITE, fc->check, &o))
            return;
        ms3_server_age_objects(c->mock, c->bucket, prefix, (int64_t)25 * 3600);
        conf_delete(c, mkey, &err);
    }
    ms3_fault_rule r;
    ms3_fault_rule_init(&r);
    r.operation = fc->operation;
    r.bucket = c->bucket;
    r.key_glob = key;
    r.action = fc->action;
    r.status = fc->status;
    r.error_code = fc->code;
    r.first_n = fc->first_n;
    r.cut_after = 10;
    uint64_t id = 0;
    if (ms3_server_add_fault(c->mock, &r, &id, &err) != 0) {
        conf_fail(c, SUITE, fc->check, "setup: %s", err.msg);
        return;
    }
    uint64_t mark = conf_journal_mark(c);
    conf_run run;
    conf_export(c, &o, &run);
    uint64_t fired = ms3_server_fault_fired(c->mock, id);
    ms3_server_clear_faults(c->mock);
    json_t *entries = conf_journal_since(c, mark);
    size_t i, attempts = 0, manifest_writes = 0;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (strcmp(conf_jstr(e, "key"), key) == 0 &&
            strcmp(conf_jstr(e, "operation"), fc->operation) == 0)
            attempts++;
        if (strcmp(conf_jstr(e, "key"), mkey) == 0 && conf_is_write_op(conf_jstr(e, "operation")))
            manifest_writes++;
    }
    json_decref(entries);
    bk_s3_result res = BK_S3_RESULT_INIT;
    int have_manifest = conf_stat(c, mkey, &res, &err) == 1;
    bk_s3_result_clear(&res);
    char sub[1000];
    if (fired == 0)
        snprintf(why, sizeof why, "the export never sent %s %s", fc->operation, key);
    else if (run.timed_out || run.exit_code >= 128)
        snprintf(why, sizeof why, "the export hung or crashed: %s",
                 conf_run_why(&run, sub, sizeof sub));
    else if (fc->expect_success && run.exit_code != 0)
        snprintf(why, sizeof why, "%llu transient fault(s) failed the export: %s",
                 (unsigned long long)fired, conf_run_why(&run, sub, sizeof sub));
    else if (fc->expect_success && !have_manifest)
        snprintf(why, sizeof why, "the export succeeded but wrote no manifest");
    else if (!fc->expect_success && run.exit_code == 0)
        snprintf(why, sizeof why, "a permanent failure (%s on every %s) was not reported",
                 fc->code ? fc->code : "fault", fc->operation);
    else if (!fc->expect_success && (manifest_writes > 0 || have_manifest))
        snprintf(why, sizeof why, "a manifest was written although %s failed", key);
    else if (!fc->expect_success && run.err[0] == '\0')
        snprintf(why, sizeof why, "the failure was reported without a message on stderr");
    else if (fc->expect_attempts && attempts != (size_t)fc->expect_attempts)
        snprintf(why, sizeof why, "%zu %s attempts on %s, expected %d", attempts, fc->operation,
                 key, fc->expect_attempts);
    if (why[0])
        conf_fail(c, SUITE, fc->check, "%s", why);
    else if (fc->expect_success)
        conf_pass(c, SUITE, fc->check, "%llu fault(s) retried, %zu attempts",
                  (unsigned long long)fired, attempts);
    else
        conf_pass(c, SUITE, fc->check, "reported (exit %d) after %zu attempts, no manifest",
                  run.exit_code, attempts);
    conf_run_free(&run);
}

static void head_403(conf_ctx *c)
{
    const char *check = "head_403_is_an_error";
    char prefix[256], mkey[512];
    conf_case_prefix(c, check, prefix, sizeof prefix);
    snprintf(mkey, sizeof mkey, "%smanifests/buildkit", prefix);
    ms3_bucket_policy p;
    memset(&p, 0, sizeof p);
    p.access = MS3_ACCESS_NO_LIST;
    bk_err err;
    bk_err_clear(&err);
    if (ms3_server_set_bucket_policy(c->mock, c->bucket, &p, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    conf_export_opts o = {.graph = "linear", .prefix = prefix};
    conf_run run;
    conf_export(c, &o, &run);
    p.access = MS3_ACCESS_FULL;
    ms3_server_set_bucket_policy(c->mock, c->bucket, &p, &err);
    bk_s3_result res = BK_S3_RESULT_INIT;
    int have_manifest = conf_stat(c, mkey, &res, &err) == 1;
    bk_s3_result_clear(&res);
    if (run.exit_code == 0 || have_manifest)
        conf_fail(c, SUITE, check,
                  "HEAD answered 403 (no s3:ListBucket) and the export %s; only 404 means absent",
                  run.exit_code == 0 ? "succeeded" : "still wrote a manifest");
    else
        conf_pass(c, SUITE, check, "export failed (exit %d)", run.exit_code);
    conf_run_free(&run);
}

void suite_faults(conf_ctx *c)
{
    static const fault_case cases[] = {
        {"slowdown_retried", "PutObject", MS3_FAULT_ERROR, 503, "SlowDown", 1, NULL, 1, 2, 0},
        {"internal_error_retried", "HeadObject", MS3_FAULT_ERROR, 500, "InternalError", 2, NULL, 1,
         3, 0},
        {"connection_reset_retried", "PutObject", MS3_FAULT_CUT_REQUEST, 0, NULL, 1, NULL, 1, 0, 0},
        {"retry_max_attempts_raised", "PutObject", MS3_FAULT_ERROR, 503, "SlowDown", 3,
         "retry_max_attempts=4", 1, 4, 0},
        {"retry_max_attempts_lowered", "PutObject", MS3_FAULT_ERROR, 503, "SlowDown", 0,
         "retry_max_attempts=2", 0, 2, 0},
        {"permanent_failure_reported", "PutObject", MS3_FAULT_ERROR, 503, "SlowDown", 0, NULL, 0, 3,
         0},
        {"access_denied_not_retried", "PutObject", MS3_FAULT_ERROR, 403, "AccessDenied", 0, NULL, 0,
         1, 0},
        {"error_in_200_copy_is_failure", "CopyObject", MS3_FAULT_ERROR_200, 200, "InternalError", 0,
         NULL, 0, 0, 1},
    };
    if (!c->is_mock) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            conf_skip_needs_mock(c, SUITE, cases[i].check, "fault injection");
        conf_skip_needs_mock(c, SUITE, "head_403_is_an_error", "access policies");
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(c, &cases[i]);
    head_403(c);
}
