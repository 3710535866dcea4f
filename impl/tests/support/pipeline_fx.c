#include "pipeline_fx.h"

#include <stdio.h>
#include <string.h>

#include "bkcache/s3cache.h"

static int configure_tuned(pipeline_fx *fx, const char *extra, uint64_t threshold,
                           uint64_t part_size)
{
    char text[2048];
    snprintf(text, sizeof text,
             "type=s3,bucket=%s,region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=%s,secret_access_key=%s%s%s",
             FX_BUCKET, ms3_server_url(fx->mock), FX_AK, FX_SK, extra && *extra ? "," : "",
             extra ? extra : "");
    bk_err err;
    bk_attrs_options opts = {0};
    if (bk_s3_attrs_parse(text, &opts, &fx->attrs, &err) != BK_OK) {
        fprintf(stderr, "attrs: %s\n", err.msg);
        return -1;
    }
    bk_s3cache_tuning tuning = {0};
    tuning.retry_base_delay_ms = 1; /* retries without real waiting */
    tuning.multipart_threshold = threshold;
    tuning.part_size = part_size;
    fx->cache = bk_s3cache_open(&fx->attrs, &tuning, &err);
    if (fx->cache == NULL) {
        fprintf(stderr, "cache: %s\n", err.msg);
        return -1;
    }
    fx->client = fx->cache->client;
    return 0;
}

static int configure(pipeline_fx *fx, const char *extra)
{
    return configure_tuned(fx, extra, 0, 0);
}

int pipeline_fx_start(pipeline_fx *fx, const char *extra, uint64_t min_part_size)
{
    memset(fx, 0, sizeof *fx);
    ms3_options o;
    ms3_options_init(&o);
    if (min_part_size)
        o.min_part_size = min_part_size;
    bk_err err;
    fx->mock = ms3_server_start(&o, &err);
    if (fx->mock == NULL || ms3_server_add_credentials(fx->mock, FX_AK, FX_SK, NULL, &err) != 0 ||
        ms3_server_create_bucket(fx->mock, FX_BUCKET, &err) != 0) {
        fprintf(stderr, "mock: %s\n", err.msg);
        return -1;
    }
    return configure(fx, extra);
}

void pipeline_fx_close(pipeline_fx *fx)
{
    bk_s3cache_free(fx->cache);
    bk_s3_attrs_clear(&fx->attrs);
    fx->cache = NULL;
    fx->client = NULL;
}

int pipeline_fx_reconfigure(pipeline_fx *fx, const char *extra)
{
    pipeline_fx_close(fx);
    return configure(fx, extra);
}

void pipeline_fx_stop(pipeline_fx *fx)
{
    pipeline_fx_close(fx);
    ms3_server_stop(fx->mock);
    memset(fx, 0, sizeof *fx);
}

size_t fx_count(pipeline_fx *fx, const char *operation, const char *key_prefix, uint64_t since)
{
    ms3_journal_filter f = {0};
    f.operation = operation;
    f.key_prefix = key_prefix;
    f.since_seq = since;
    return ms3_journal_count(fx->mock, &f);
}

uint64_t fx_last_seq(pipeline_fx *fx)
{
    ms3_journal_filter f = {0};
    ms3_journal_entry *e = NULL;
    size_t n = ms3_journal_query(fx->mock, &f, &e);
    uint64_t seq = n ? e[n - 1].seq : 0;
    ms3_journal_entries_free(e, n);
    return seq;
}

int pipeline_fx_reconfigure_tuned(pipeline_fx *fx, const char *extra, uint64_t threshold,
                                  uint64_t part_size)
{
    pipeline_fx_close(fx);
    return configure_tuned(fx, extra, threshold, part_size);
}
