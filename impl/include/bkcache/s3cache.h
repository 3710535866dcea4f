/* What the exporter and the importer share about the S3 cache backend: an S3
 * client configured from the attribute string, the way BuildKit configures
 * its SDK client (region and bucket from the attributes, static credentials
 * only when both keys are given, endpoint and path style, retry settings,
 * Accept-Encoding), plus knobs that tests and tools need. */
#ifndef BKCACHE_S3CACHE_H
#define BKCACHE_S3CACHE_H

#include <stdint.h>

#include "bkcache/attrs.h"
#include "bkcache/creds.h"
#include "bkcache/error.h"
#include "bkcache/retry.h"
#include "bkcache/s3.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Settings that are not cache attributes. Zero means "the default". */
typedef struct bk_s3cache_tuning {
    const bk_env *env;            /* environment for the credential chain; NULL = process */
    const bk_retry_hooks *hooks;  /* fake clock/sleep for tests */
    uint64_t retry_base_delay_ms; /* default 1000 */
    uint64_t multipart_threshold; /* default 16 MiB */
    uint64_t part_size;           /* default 8 MiB */
    long connect_timeout_ms;
    long request_timeout_ms; /* each attempt, whole */
    long low_speed_time_s;
    int insecure;
    const char *ca_bundle;
} bk_s3cache_tuning;

bk_s3_client *bk_s3cache_client_new(const bk_s3_attrs *attrs, const bk_s3cache_tuning *tuning,
                                    bk_err *err);

/* The value BuildKit writes into x-amz-meta-updated-at when it touches a blob:
 * Go's time.Time.String() of the current time ("2006-01-02 15:04:05.999999999
 * -0700 MST"), here always in UTC and without Go's monotonic-clock suffix. */
void bk_s3cache_updated_at(char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
