/* The `--cache-to` / `--cache-from` attribute string of BuildKit's S3 cache
 * (`type=s3,bucket=b,region=r,name=a;b,mode=max`), parsed the way buildx splits
 * it (CSV: double quotes protect commas) and BuildKit reads it (defaults, env
 * fallbacks, Go duration and bool syntax, the same error texts).
 *
 * Where BuildKit silently ignores a bad value (touch_refresh, use_path_style,
 * disable_accept_encoding, mode, ignore-error) we accept the same input, apply
 * the same fallback and record a warning naming the attribute; with `strict`
 * such a warning, and an unknown attribute, is an error instead.
 *
 * The result comes in three parts: the client settings (how to reach the
 * bucket), the key layout (where the cache lives in it) and the policy (what
 * an export or import does); bk_s3cache_open (s3cache.h) makes them one
 * object. */
#ifndef BKCACHE_ATTRS_H
#define BKCACHE_ATTRS_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/chains.h"
#include "bkcache/env.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_attr_retry_mode {
    BK_ATTR_RETRY_DEFAULT = 0, /* not given: the SDK's default, standard */
    BK_ATTR_RETRY_STANDARD,
    BK_ATTR_RETRY_ADAPTIVE,
} bk_attr_retry_mode;

typedef enum bk_existence_check {
    BK_EXISTS_HEAD = 0, /* one HeadObject per blob, as BuildKit does */
    BK_EXISTS_LIST,     /* beyond BuildKit: one ListObjectsV2 walk of the blobs prefix */
} bk_existence_check;

/* How to reach the bucket: what configures the S3 client. */
typedef struct bk_s3cache_settings {
    char *bucket;
    char *region;
    char *endpoint_url;  /* "" when not set */
    int use_path_style;  /* honoured only when endpoint_url is set, as upstream */
    char *access_key_id; /* "" when not set; used only when the secret is set too */
    char *secret_access_key;
    char *session_token;
    int disable_accept_encoding;
    bk_attr_retry_mode retry_mode;
    int retry_max_attempts; /* 0 = not given: the SDK default (3) */
} bk_s3cache_settings;

/* Where the cache lives in the bucket: keys are plain concatenations,
 * <prefix><manifests_prefix><name> and <prefix><blobs_prefix><digest>. */
typedef struct bk_s3cache_layout {
    char *prefix;           /* default "" */
    char *manifests_prefix; /* default "manifests/" */
    char *blobs_prefix;     /* default "blobs/" */
    char **names;           /* at least one (default "buildkit"); import reads names[0] only */
    size_t n_names;
} bk_s3cache_layout;

/* What an export or import does, beyond where. */
typedef struct bk_s3cache_policy {
    int64_t touch_refresh_ns; /* default 24h */
    enum bk_export_mode mode; /* export only; default min */
    int upload_parallelism;   /* default 4; also the import's downloads */
    int ignore_error;         /* export only */
    /* Beyond BuildKit */
    bk_existence_check existence_check;
    int manifest_if_match; /* conditional manifest writes where the store supports them */
} bk_s3cache_policy;

/* One attribute string, parsed; every string is owned by the struct
 * (bk_s3_attrs_clear). */
typedef struct bk_s3_attrs {
    char *type; /* "s3" */
    bk_s3cache_settings client;
    bk_s3cache_layout layout;
    bk_s3cache_policy policy;

    char **warnings; /* human-readable, each naming its attribute */
    size_t n_warnings;
} bk_s3_attrs;

typedef struct bk_attrs_options {
    int strict; /* warnings and unknown attributes become errors */
    /* Where $AWS_BUCKET and $AWS_REGION come from; NULL = the process
     * environment. Set but empty counts as set (BuildKit's os.LookupEnv). */
    const bk_env *env;
} bk_attrs_options;

/* Parses `text` into *out (zeroed first). On error returns the code, fills err
 * with BuildKit's message where BuildKit has one, and leaves *out cleared. */
bk_code bk_s3_attrs_parse(const char *text, const bk_attrs_options *opts, bk_s3_attrs *out,
                          bk_err *err);
void bk_s3_attrs_clear(bk_s3_attrs *a);

/* Keys: plain concatenation, exactly as upstream (no separator added);
 * malloc'd, NULL when out of memory. */
char *bk_s3cache_layout_manifest_key(const bk_s3cache_layout *l, const char *name);
char *bk_s3cache_layout_blob_key(const bk_s3cache_layout *l, const char *digest);
/* Deep copy (dst is overwritten); BK_ENOMEM with dst cleared on failure. */
bk_code bk_s3cache_layout_copy(bk_s3cache_layout *dst, const bk_s3cache_layout *src, bk_err *err);
void bk_s3cache_layout_clear(bk_s3cache_layout *l);

/* buildx's CSV split of one attribute string into key=value pairs (keys
 * lowercased). Returns the number of pairs or -1 with err filled; the arrays
 * are newly allocated (free each string and the arrays). */
long bk_attrs_split(const char *text, char ***keys, char ***values, bk_err *err);

/* Go's time.ParseDuration: "1h30m", "1.5h", "300ms", "-1h", "0"; units ns, us,
 * µs, μs, ms, s, m, h. Returns BK_OK and nanoseconds, or BK_EINVAL with Go's
 * message (`time: invalid duration "x"`). */
bk_code bk_go_parse_duration(const char *s, int64_t *ns, bk_err *err);

/* Go's strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False. */
bk_code bk_go_parse_bool(const char *s, int *out);

/* Go's strconv.Atoi on a 64-bit platform, narrowed to int with a range check. */
bk_code bk_go_atoi(const char *s, int *out);

/* Formats a duration like Go's time.Duration.String ("24h0m0s", "1.5s"). */
void bk_go_format_duration(int64_t ns, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
