/* A mock S3 in this process plus an S3 cache opened from an attribute
 * string, for exporter and importer tests. */
#ifndef BK_TEST_PIPELINE_FX_H
#define BK_TEST_PIPELINE_FX_H

#include "bkcache/attrs.h"
#include "bkcache/s3.h"
#include "bkcache/s3cache.h"
#include "mock_s3.h"

#define FX_BUCKET "cache"
#define FX_AK "AKIAPIPELINETEST0001"
#define FX_SK "pipeline/secret/key/000000000000000000000"

typedef struct pipeline_fx {
    ms3_server *mock;
    bk_s3_attrs attrs;
    bk_s3cache *cache;
    bk_s3_client *client; /* the cache's, borrowed */
} pipeline_fx;

/* Starts the mock (min part size 5 MiB unless min_part_size) and parses
 * "type=s3,bucket=cache,region=us-east-1,endpoint_url=...,use_path_style=true,
 * access_key_id=...,secret_access_key=...," followed by extra (may be ""). */
int pipeline_fx_start(pipeline_fx *fx, const char *extra, uint64_t min_part_size);
/* Replaces the attributes (and the cache) keeping the mock and its contents. */
int pipeline_fx_reconfigure(pipeline_fx *fx, const char *extra);
/* The same with the client's multipart threshold and part size (0 = default). */
int pipeline_fx_reconfigure_tuned(pipeline_fx *fx, const char *extra, uint64_t threshold,
                                  uint64_t part_size);
/* Closes the cache and clears the attributes; the mock stays. */
void pipeline_fx_close(pipeline_fx *fx);
void pipeline_fx_stop(pipeline_fx *fx);

/* Journal helpers. */
size_t fx_count(pipeline_fx *fx, const char *operation, const char *key_prefix, uint64_t since);
uint64_t fx_last_seq(pipeline_fx *fx);

#endif
