/* The `--cache-to` / `--cache-from` attribute string of BuildKit's S3 cache
 * (`type=s3,bucket=b,region=r,name=a;b,mode=max`), parsed the way buildx splits
 * it (CSV: double quotes protect commas) and BuildKit reads it (defaults, env
 * fallbacks, Go duration and bool syntax, the same error texts).
 *
 * Where BuildKit silently ignores a bad value (touch_refresh, use_path_style,
 * disable_accept_encoding, mode, ignore-error) we accept the same input, apply
 * the same fallback and record a warning naming the attribute; with `strict`
 * such a warning, and an unknown attribute, is an error instead. */
#ifndef BKCACHE_ATTRS_H
#define BKCACHE_ATTRS_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_cache_mode { BK_MODE_MIN = 0, BK_MODE_MAX = 1 } bk_cache_mode;

typedef enum bk_attr_retry_mode {
    BK_ATTR_RETRY_DEFAULT = 0, /* not given: the SDK's default, standard */
    BK_ATTR_RETRY_STANDARD,
    BK_ATTR_RETRY_ADAPTIVE,
} bk_attr_retry_mode;

typedef enum bk_existence_check {
    BK_EXISTS_HEAD = 0, /* one HeadObject per blob, as BuildKit does */
    BK_EXISTS_LIST,     /* beyond BuildKit: one ListObjectsV2 walk of the blobs prefix */
} bk_existence_check;

/* Parsed configuration; every string is owned by the struct (bk_s3_attrs_free). */
typedef struct bk_s3_attrs {
    char *type; /* "s3" */
    char *bucket;
    char *region;
    char *prefix;
    char *manifests_prefix;
    char *blobs_prefix;
    char **names; /* at least one; import reads names[0] only */
    size_t n_names;
    int64_t touch_refresh_ns; /* default 24h */
    char *endpoint_url;       /* "" when not set */
    int use_path_style;       /* honoured only when endpoint_url is set, as upstream */
    char *access_key_id;      /* "" when not set; used only when the secret is set too */
    char *secret_access_key;
    char *session_token;
    int upload_parallelism; /* default 4 */
    int disable_accept_encoding;
    bk_attr_retry_mode retry_mode;
    int retry_max_attempts; /* 0 = not given: the SDK default (3) */
    bk_cache_mode mode;     /* export only; default min */
    int ignore_error;       /* export only */
    /* Beyond BuildKit */
    bk_existence_check existence_check;
    int manifest_if_match; /* conditional manifest writes where the store supports them */

    char **warnings; /* human-readable, each naming its attribute */
    size_t n_warnings;
} bk_s3_attrs;

typedef struct bk_attrs_options {
    int strict; /* warnings and unknown attributes become errors */
    /* Environment lookup for $AWS_BUCKET and $AWS_REGION; NULL = getenv.
     * Returns NULL when the variable is not set (set but empty is "set"). */
    const char *(*getenv_fn)(const char *name, void *ctx);
    void *getenv_ctx;
} bk_attrs_options;

/* Parses `text` into *out (zeroed first). On error returns the code, fills err
 * with BuildKit's message where BuildKit has one, and leaves *out freed. */
bk_code bk_s3_attrs_parse(const char *text, const bk_attrs_options *opts, bk_s3_attrs *out,
                          bk_err *err);
void bk_s3_attrs_free(bk_s3_attrs *a);

/* Key helpers: plain concatenation, exactly as upstream (no separator added). */
char *bk_s3_attrs_manifest_key(const bk_s3_attrs *a, const char *name);
char *bk_s3_attrs_blob_key(const bk_s3_attrs *a, const char *digest);

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
