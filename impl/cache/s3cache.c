#include "bkcache/s3cache.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

bk_s3_client *bk_s3cache_client_new(const bk_s3_attrs *a, const bk_s3cache_tuning *t, bk_err *err)
{
    bk_s3_config cfg;
    bk_s3_config_init(&cfg);
    cfg.region = a->region;
    cfg.bucket = a->bucket;
    if (a->endpoint_url != NULL && a->endpoint_url[0] != '\0') {
        cfg.endpoint_url = a->endpoint_url;
        /* Upstream applies use_path_style only together with an endpoint. */
        cfg.use_path_style = a->use_path_style;
    }
    cfg.access_key_id = a->access_key_id;
    cfg.secret_access_key = a->secret_access_key;
    cfg.session_token = a->session_token;
    cfg.disable_accept_encoding = a->disable_accept_encoding;
    if (a->retry_mode == BK_ATTR_RETRY_ADAPTIVE)
        cfg.retry.mode = BK_RETRY_ADAPTIVE;
    if (a->retry_max_attempts > 0)
        cfg.retry.max_attempts = a->retry_max_attempts;
    if (t != NULL) {
        cfg.env = t->env;
        cfg.hooks = t->hooks;
        if (t->retry_base_delay_ms > 0)
            cfg.retry.base_delay_ms = t->retry_base_delay_ms;
        if (t->multipart_threshold > 0)
            cfg.multipart_threshold = t->multipart_threshold;
        if (t->part_size > 0)
            cfg.part_size = t->part_size;
        if (t->connect_timeout_ms > 0)
            cfg.connect_timeout_ms = t->connect_timeout_ms;
        if (t->request_timeout_ms > 0)
            cfg.request_timeout_ms = t->request_timeout_ms;
        if (t->low_speed_time_s > 0)
            cfg.low_speed_time_s = t->low_speed_time_s;
        cfg.insecure = t->insecure;
        cfg.ca_bundle = t->ca_bundle;
    }
    return bk_s3_client_new(&cfg, err);
}

void bk_s3cache_updated_at(char *out, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char frac[16] = "";
    if (ts.tv_nsec != 0) {
        /* Go's .999999999 layout: the fraction without trailing zeros. */
        snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
        size_t n = strlen(frac);
        while (n > 1 && frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d%s +0000 UTC", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
