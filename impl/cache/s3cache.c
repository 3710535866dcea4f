#include "bkcache/s3cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bkcache/retry.h"

static void apply_settings(bk_s3_config *cfg, const bk_s3cache_settings *a)
{
    cfg->region = a->region;
    cfg->bucket = a->bucket;
    if (a->endpoint_url != NULL && a->endpoint_url[0] != '\0') {
        cfg->endpoint_url = a->endpoint_url;
        /* Upstream applies use_path_style only together with an endpoint. */
        cfg->use_path_style = a->use_path_style;
    }
    cfg->access_key_id = a->access_key_id;
    cfg->secret_access_key = a->secret_access_key;
    cfg->session_token = a->session_token;
    cfg->disable_accept_encoding = a->disable_accept_encoding;
    if (a->retry_mode == BK_ATTR_RETRY_ADAPTIVE)
        cfg->retry.mode = BK_RETRY_ADAPTIVE;
    if (a->retry_max_attempts > 0)
        cfg->retry.max_attempts = a->retry_max_attempts;
}

static void apply_tuning(bk_s3_config *cfg, const bk_s3cache_tuning *t)
{
    cfg->env = t->env;
    cfg->clock = t->clock;
    if (t->retry_base_delay_ms > 0)
        cfg->retry.base_delay_ms = t->retry_base_delay_ms;
    if (t->multipart_threshold > 0)
        cfg->multipart_threshold = t->multipart_threshold;
    if (t->part_size > 0)
        cfg->part_size = t->part_size;
    if (t->connect_timeout_ms > 0)
        cfg->connect_timeout_ms = t->connect_timeout_ms;
    if (t->request_timeout_ms > 0)
        cfg->request_timeout_ms = t->request_timeout_ms;
    if (t->low_speed_time_s > 0)
        cfg->low_speed_time_s = t->low_speed_time_s;
    cfg->insecure = t->insecure;
    cfg->ca_bundle = t->ca_bundle;
    cfg->user_agent = t->user_agent;
    cfg->credentials_provider = t->credentials_provider;
}

bk_s3_client *bk_s3cache_client_new(const bk_s3cache_settings *settings,
                                    const bk_s3cache_tuning *tuning, bk_err *err)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    apply_settings(&cfg, settings);
    if (tuning != NULL)
        apply_tuning(&cfg, tuning);
    /* What the attributes leave unset comes from the environment and the
     * profile, as BuildKit's SDK reads them. */
    if (bk_retry_config_from_env(&cfg.retry, cfg.env, settings->retry_mode != BK_ATTR_RETRY_DEFAULT,
                                 settings->retry_max_attempts > 0, err) != BK_OK)
        return NULL;
    return bk_s3_client_new(&cfg, err);
}

bk_s3cache *bk_s3cache_open(const bk_s3_attrs *attrs, const bk_s3cache_tuning *tuning, bk_err *err)
{
    if (attrs == NULL) {
        bk_err_set(err, BK_EINVAL, "S3 cache: no attributes");
        return NULL;
    }
    bk_s3cache *c = calloc(1, sizeof *c);
    if (c == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory opening the S3 cache");
        return NULL;
    }
    if (tuning != NULL && tuning->clock != NULL)
        c->clock = *tuning->clock;
    c->policy = attrs->policy;
    if (bk_s3cache_layout_copy(&c->layout, &attrs->layout, err) != BK_OK) {
        free(c);
        return NULL;
    }
    bk_s3cache_tuning t = {0};
    if (tuning != NULL)
        t = *tuning;
    t.clock = &c->clock;
    c->client = bk_s3cache_client_new(&attrs->client, &t, err);
    if (c->client == NULL) {
        bk_s3cache_free(c);
        return NULL;
    }
    return c;
}

void bk_s3cache_free(bk_s3cache *c)
{
    if (c == NULL)
        return;
    bk_s3_client_free(c->client);
    bk_s3cache_layout_clear(&c->layout);
    free(c);
}

char *bk_s3cache_manifest_key(const bk_s3cache *c, const char *name)
{
    return bk_s3cache_layout_manifest_key(&c->layout, name);
}

char *bk_s3cache_blob_key(const bk_s3cache *c, const char *digest)
{
    return bk_s3cache_layout_blob_key(&c->layout, digest);
}

void bk_s3cache_updated_at(int64_t wall_ns, char *out, size_t size)
{
    time_t sec = (time_t)(wall_ns / BK_NS_PER_SEC);
    long nsec = (long)(wall_ns % BK_NS_PER_SEC);
    if (nsec < 0) { /* before 1970: the fraction counts up from the earlier second */
        nsec += BK_NS_PER_SEC;
        sec--;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    char frac[16] = "";
    if (nsec != 0) {
        /* Go's .999999999 layout: the fraction without trailing zeros. */
        snprintf(frac, sizeof frac, ".%09ld", nsec);
        size_t n = strlen(frac);
        while (n > 1 && frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d%s +0000 UTC", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
