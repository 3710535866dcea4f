/* interop: the bucket an export wrote is an ordinary S3 bucket for tools
 * nobody on this project wrote (SPEC 1): awscli lists exactly the keys and
 * downloads byte-identical objects, the colon in blob keys included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ties.h"

#define SUITE "interop"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_interop_checks[] = {
    {"awscli_lists_keys", CONF_REQUIRED, NULL},
    {"awscli_downloads_identical", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

static int find_aws(char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, size, "%.*s/aws", (int)len, path);
        if (access(out, X_OK) == 0)
            return 1;
        path += len + (colon ? 1 : 0);
    }
    return 0;
}

typedef struct aws_ctx {
    char bin[4096];
    char config_env[4400];
    char region_env[200];
    char region_env2[200];
    const char *env[6];
} aws_ctx;

static int aws_setup(conf_ctx *c, aws_ctx *a, bk_err *err)
{
    char dir[4300], config[4400], text[512];
    if (conf_mkdtemp(c, "awscli", dir, sizeof dir) != 0)
        return bk_err_set(err, BK_EIO, "cannot create a folder");
    snprintf(config, sizeof config, "%s/config", dir);
    int n = snprintf(text, sizeof text, "[default]\nregion = %s\ns3 =\n    addressing_style = %s\n",
                     c->region, c->path_style ? "path" : "virtual");
    bk_code rc = conf_write_file(config, text, (size_t)n, err);
    if (rc != BK_OK)
        return (int)rc;
    snprintf(a->config_env, sizeof a->config_env, "AWS_CONFIG_FILE=%s", config);
    snprintf(a->region_env, sizeof a->region_env, "AWS_DEFAULT_REGION=%s", c->region);
    snprintf(a->region_env2, sizeof a->region_env2, "AWS_REGION=%s", c->region);
    a->env[0] = a->config_env;
    a->env[1] = a->region_env;
    a->env[2] = a->region_env2;
    a->env[3] = "AWS_PAGER=";
    a->env[4] = "AWS_PROFILE=";
    a->env[5] = NULL;
    return BK_OK;
}

/* aws [--endpoint-url URL] s3api ARGS... */
static int aws_run(conf_ctx *c, aws_ctx *a, const char *const args[], conf_run *r)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = a->bin;
    if (c->endpoint[0]) {
        argv[n++] = "--endpoint-url";
        argv[n++] = c->endpoint;
    }
    argv[n++] = "--output";
    argv[n++] = "json";
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return conf_spawn(c, argv, a->env, 60, r);
}

void suite_interop(conf_ctx *c)
{
    aws_ctx a;
    memset(&a, 0, sizeof a);
    if (!find_aws(a.bin, sizeof a.bin)) {
        conf_skip(c, SUITE, "awscli_lists_keys", "skipped: awscli (aws) is not installed");
        conf_skip(c, SUITE, "awscli_downloads_identical", "skipped: awscli (aws) is not installed");
        return;
    }
    bk_err err;
    bk_err_clear(&err);
    if (aws_setup(c, &a, &err) != BK_OK) {
        conf_fail(c, SUITE, "awscli_lists_keys", "setup: %s", err.msg);
        return;
    }
    char prefix[256], why[1200] = "";
    conf_case_prefix(c, "interop", prefix, sizeof prefix);
    conf_export_opts o = {.graph = "linear", .prefix = prefix, .extra = "mode=max"};
    if (!conf_export_ok(c, SUITE, "awscli_lists_keys", &o))
        return;

    conf_object *objs = NULL;
    size_t n = 0;
    if (conf_list(c, prefix, &objs, &n, &err) != 0) {
        conf_fail(c, SUITE, "awscli_lists_keys", "cannot list %s: %s", prefix, err.msg);
        return;
    }
    const char *list_args[] = {
        "s3api", "list-objects-v2", "--bucket", c->bucket, "--prefix", prefix, NULL};
    conf_run r;
    aws_run(c, &a, list_args, &r);
    json_t *doc = r.exit_code == 0 ? json_loads(r.out, 0, NULL) : NULL;
    json_t *contents = json_object_get(doc, "Contents");
    if (r.exit_code != 0) {
        conf_fail(c, SUITE, "awscli_lists_keys", "aws s3api list-objects-v2: %s",
                  conf_run_why(&r, why, sizeof why));
    } else if (json_array_size(contents) != n) {
        conf_fail(c, SUITE, "awscli_lists_keys", "awscli lists %zu keys, the export wrote %zu",
                  json_array_size(contents), n);
    } else {
        for (size_t i = 0; i < n && !why[0]; i++) {
            const char *k = json_string_value(json_object_get(json_array_get(contents, i), "Key"));
            int found = 0;
            for (size_t j = 0; j < n && !found; j++)
                found = k != NULL && strcmp(objs[j].key, k) == 0;
            if (!found)
                snprintf(why, sizeof why, "awscli lists %s, which the export did not write",
                         k ? k : "(no key)");
        }
        if (why[0])
            conf_fail(c, SUITE, "awscli_lists_keys", "%s", why);
        else
            conf_pass(c, SUITE, "awscli_lists_keys", "%zu keys", n);
    }
    json_decref(doc);
    conf_run_free(&r);

    /* Every object downloaded by awscli (one recursive copy, so one process)
     * equals what the export wrote: the manifest equals the golden, each blob
     * hashes to its key. */
    bk_buf golden = BK_BUF_INIT;
    conf_golden(c, "linear", "max", &golden, &err);
    char dir[4300], source[1024];
    conf_mkdtemp(c, "awsget", dir, sizeof dir);
    snprintf(source, sizeof source, "s3://%s/%s", c->bucket, prefix);
    const char *cp_args[] = {"s3", "cp", "--recursive", "--only-show-errors", source, dir, NULL};
    conf_run g;
    aws_run(c, &a, cp_args, &g);
    why[0] = '\0';
    if (g.exit_code != 0) {
        char sub[1000];
        snprintf(why, sizeof why, "aws s3 cp --recursive %s: %s", source,
                 conf_run_why(&g, sub, sizeof sub));
    }
    conf_run_free(&g);
    for (size_t i = 0; i < n && !why[0]; i++) {
        char out[4400];
        snprintf(out, sizeof out, "%s/%s", dir, objs[i].key + strlen(prefix));
        bk_buf data = BK_BUF_INIT;
        if (conf_read_file(out, &data, &err) != BK_OK) {
            snprintf(why, sizeof why, "awscli did not download %s", objs[i].key);
        } else if (strstr(objs[i].key, "/manifests/") != NULL) {
            char diff[600];
            conf_detail_bytes(c, SUITE, "awscli_downloads_identical",
                              "the manifest awscli downloaded against the golden", golden.data,
                              golden.len, data.data, data.len, 1);
            if (conf_manifest_compare(data.data, data.len, golden.data, golden.len, diff,
                                      sizeof diff) == CONF_DIFFERENT)
                snprintf(why, sizeof why,
                         "the manifest awscli downloaded differs from the golden %s", diff);
        } else {
            char hex[65];
            conf_sha256_hex(data.data, data.len, hex);
            const char *colon = strrchr(objs[i].key, ':');
            if (colon == NULL || strcmp(colon + 1, hex) != 0)
                snprintf(why, sizeof why, "awscli downloaded %s as bytes of sha256:%s", objs[i].key,
                         hex);
        }
        bk_buf_clear(&data);
    }
    if (why[0])
        conf_fail(c, SUITE, "awscli_downloads_identical", "%s", why);
    else
        conf_pass(c, SUITE, "awscli_downloads_identical", "%zu objects byte-identical", n);
    conf_rmtree(dir);
    bk_buf_clear(&golden);
    conf_objects_free(objs, n);
}
