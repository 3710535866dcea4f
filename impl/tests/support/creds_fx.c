#include "creds_fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachegen.h"

static const char *fx_get(void *ud, const char *name)
{
    creds_fx *f = ud;
    for (size_t i = 0; i < f->n_vars; i++)
        if (strcmp(f->vars[2 * i], name) == 0)
            return f->vars[2 * i + 1];
    if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0)
        return "true";
    return NULL;
}

int creds_fx_start(creds_fx *f, const ms3_options *o)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/bk-credsfx-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    bk_err err;
    f->mock = ms3_server_start(o, &err);
    if (f->mock == NULL || ms3_server_create_bucket(f->mock, CFX_BUCKET, &err) != BK_OK) {
        fprintf(stderr, "mock: %s\n", err.msg);
        return -1;
    }
    f->env.get = fx_get;
    f->env.ud = f;
    creds_fx_setenv(f, "HOME", f->dir);
    return 0;
}

void creds_fx_stop(creds_fx *f)
{
    ms3_server_stop(f->mock);
    bk_test_rmtree(f->dir);
    memset(f, 0, sizeof *f);
}

void creds_fx_setenv(creds_fx *f, const char *name, const char *value)
{
    for (size_t i = 0; i < f->n_vars; i++)
        if (strcmp(f->vars[2 * i], name) == 0) {
            f->vars[2 * i + 1] = value;
            return;
        }
    if (f->n_vars == CFX_MAX_VARS)
        abort(); /* a test with too many variables: make CFX_MAX_VARS larger */
    f->vars[2 * f->n_vars] = name;
    f->vars[2 * f->n_vars + 1] = value;
    f->n_vars++;
}

const char *creds_fx_write(creds_fx *f, const char *leaf, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", f->dir, leaf);
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return NULL;
    fputs(text, fp);
    fclose(fp);
    return path;
}

bk_code creds_fx_request(creds_fx *f, const char *key)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.region = ms3_server_region(f->mock);
    cfg.bucket = CFX_BUCKET;
    cfg.endpoint_url = ms3_server_url(f->mock);
    cfg.use_path_style = 1;
    cfg.env = &f->env;
    bk_err_clear(&f->err);
    f->source[0] = '\0';
    bk_s3_client *c = bk_s3_client_new(&cfg, &f->err);
    if (c == NULL)
        return BK_EINVAL;
    bk_s3_result r = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_put_mem(c, key, "hello", 5, NULL, &r, &f->err);
    bk_s3_result_clear(&r);
    bk_s3_client_credentials_source(c, f->source, sizeof f->source);
    bk_s3_client_free(c);
    return rc;
}

size_t creds_fx_count(creds_fx *f, const char *operation)
{
    ms3_journal_filter jf = {0};
    jf.operation = operation;
    return ms3_journal_count(f->mock, &jf);
}

void creds_fx_last_key(creds_fx *f, const char *operation, char *out)
{
    ms3_journal_filter jf = {0};
    jf.operation = operation;
    jf.limit = 1;
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(f->mock, &jf, &e);
    snprintf(out, 64, "%s", n > 0 ? e[0].access_key_id : "");
    ms3_journal_entries_free(e, n);
}
