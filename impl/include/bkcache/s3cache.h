/* The S3 cache backend as one object: the S3 client configured from the
 * attribute string the way BuildKit configures its SDK client (region and
 * bucket from the attributes, static credentials only when both keys are
 * given, endpoint and path style, retry settings, Accept-Encoding), the key
 * layout, the policy and the clock, opened together so that an export, an
 * import or an explain cannot be handed a client and a layout that disagree.
 *
 *     bk_s3cache *cache = bk_s3cache_open(&attrs, NULL, &err);
 *     ... bk_export_config / bk_import / bk_explain_bucket with cache ...
 *     bk_s3cache_free(cache);
 */
#ifndef BKCACHE_S3CACHE_H
#define BKCACHE_S3CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/attrs.h"
#include "bkcache/clock.h"
#include "bkcache/env.h"
#include "bkcache/error.h"
#include "bkcache/s3.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest manifest an import or an explain reads. The manifest is decoded
 * whole (JSON text plus jansson's tree, several times the text), so this
 * bounds their memory to a few hundred MiB; it is 40 times the largest
 * configs reported from the field (1.6 MB for 2,664 records, mode=max of one
 * Dockerfile), about 100,000 records at that density. Options override it. */
#define BK_S3CACHE_MANIFEST_MAX ((size_t)64 * 1024 * 1024)

/* Settings that are not cache attributes (tests, tools, CLI flags). Zero
 * means "the default". */
typedef struct bk_s3cache_tuning {
    const bk_env *env;            /* the credential chain's and the fallbacks'; NULL = process */
    const bk_clock *clock;        /* fake time for tests; NULL = the system's */
    uint64_t retry_base_delay_ms; /* default 1000 */
    uint64_t multipart_threshold; /* default 16 MiB */
    uint64_t part_size;           /* default 8 MiB */
    long connect_timeout_ms;      /* default 10 s */
    long request_timeout_ms;      /* one attempt, whole; default bk_s3_config_init's */
    long low_speed_time_s;        /* default 30 s */
    int insecure;
    const char *ca_bundle;  /* NULL: AWS_CA_BUNDLE, the profile's ca_bundle, the system's */
    const char *user_agent; /* a tool's own name in the journal; NULL = "bkcache/<version>" */
    /* Credentials that win over the attributes' keys and the default chain
     * (a tool with its own); borrowed: free it after the cache. */
    bk_creds_provider *credentials_provider;
} bk_s3cache_tuning;

/* One S3 cache: read its members, do not change them while an operation runs. */
typedef struct bk_s3cache {
    bk_s3_client *client;     /* owned; configured from the attributes' client settings */
    bk_s3cache_layout layout; /* owned copy */
    bk_s3cache_policy policy;
    bk_clock clock; /* the client's clock too; zero = the system's */
} bk_s3cache;

/* The client (no request is made yet), the layout and the policy of attrs.
 * NULL with err on a bad configuration (bucket, region, endpoint, ...). */
bk_s3cache *bk_s3cache_open(const bk_s3_attrs *attrs, const bk_s3cache_tuning *tuning, bk_err *err);
void bk_s3cache_free(bk_s3cache *c);

/* The client alone, configured from the client settings as bk_s3cache_open
 * does: for tools that inspect a bucket without exporting or importing. */
bk_s3_client *bk_s3cache_client_new(const bk_s3cache_settings *settings,
                                    const bk_s3cache_tuning *tuning, bk_err *err);

/* <prefix><manifests_prefix><name> and <prefix><blobs_prefix><digest>;
 * malloc'd, NULL when out of memory. */
char *bk_s3cache_manifest_key(const bk_s3cache *c, const char *name);
char *bk_s3cache_blob_key(const bk_s3cache *c, const char *digest);

/* The value BuildKit writes into x-amz-meta-updated-at when it touches a blob,
 * for the wall time wall_ns: Go's time.Time.String() ("2006-01-02
 * 15:04:05.999999999 -0700 MST"), here always in UTC and without Go's
 * monotonic-clock suffix. */
void bk_s3cache_updated_at(int64_t wall_ns, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
