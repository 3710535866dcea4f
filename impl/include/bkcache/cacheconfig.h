/* The BuildKit cache config (media type application/vnd.buildkit.cacheconfig.v0):
 * the JSON document stored as the S3 manifest and as the config blob of a
 * type=local cache.
 *
 * Reading follows Go's encoding/json into BuildKit's types: unknown keys are
 * ignored, keys match field names case-insensitively (an exact match first;
 * 'ſ' and the Kelvin sign fold to s and k as in Go), null leaves a field
 * unchanged, integers must be integer literals, times must be strict RFC 3339,
 * invalid UTF-8 inside strings becomes U+FFFD, and any non-space byte after
 * the top-level value is "unexpected data after JSON object" (the S3
 * importer's rule). Known differences from Go (all on inputs Go itself never
 * writes): a key repeated verbatim keeps only its last value (Go merges nested
 * objects), \u0000 and lone surrogate escapes are rejected, numbers beyond
 * int64/double range are rejected even under unknown keys (Go skips those),
 * nesting deeper than 2048 levels is rejected, a time string written with
 * JSON escapes is unescaped first (Go would reject it), and a negative layer
 * size (annotations.size) is rejected ("layers[3].annotations.size: -1 is
 * negative"; Go takes it, and BuildKit would then fetch 2^64-1 bytes). A
 * number out of range is reported with its JSON path too.
 *
 * Writing reproduces json.Marshal byte for byte: field order, omitempty,
 * `parent` 0 omitted, createdAt always present, times with their original
 * offset, Go's string escaping. No trailing newline.
 *
 * Ownership: a bk_cache_config owns every array and string it points to;
 * bk_config_free releases all of it. Strings may be NULL, which means "". */
#ifndef BKCACHE_CACHECONFIG_H
#define BKCACHE_CACHECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bkcache/buf.h"
#include "bkcache/error.h"
#include "bkcache/gojson.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BK_MEDIA_TYPE_CACHE_CONFIG "application/vnd.buildkit.cacheconfig.v0"

typedef struct bk_layer_annotations {
    char *media_type;
    char *diff_id; /* digest of the uncompressed layer (containerd.io/uncompressed) */
    int64_t size;
    bk_time created_at;
} bk_layer_annotations;

typedef struct bk_cache_layer {
    char *blob;                        /* "sha256:<hex>" */
    int64_t parent;                    /* index into layers, -1 for none */
    bk_layer_annotations *annotations; /* NULL when absent (type=local form) */
} bk_cache_layer;

typedef struct bk_cache_result {
    int64_t layer; /* index of the top layer of the result's chain */
    bk_time created_at;
} bk_cache_result;

typedef struct bk_chained_result {
    int64_t *layers;
    size_t n_layers;
    bool layers_null; /* Go writes null for a missing list, [] for an empty one */
    bk_time created_at;
} bk_chained_result;

typedef struct bk_cache_input {
    char *selector;
    int64_t link; /* index into records */
} bk_cache_input;

typedef struct bk_input_list {
    bk_cache_input *links;
    size_t n_links;
    bool is_null; /* null in the JSON (only a marshal of a looping graph writes it) */
} bk_input_list;

typedef struct bk_cache_record {
    bk_cache_result *results; /* JSON key "layers" */
    size_t n_results;
    bk_chained_result *chains; /* JSON key "chains" */
    size_t n_chains;
    char *digest;
    bk_input_list *inputs;
    size_t n_inputs;
} bk_cache_record;

typedef struct bk_cache_config {
    bk_cache_layer *layers;
    size_t n_layers;
    bk_cache_record *records;
    size_t n_records;
} bk_cache_config;

bk_cache_config *bk_config_new(void);
void bk_config_free(bk_cache_config *cfg);

/* Parses a cache config (see the rules at the top). On error returns the code
 * with a one-line message that starts with the JSON path of the offending
 * value, e.g. "records[3].inputs[0][1].link: cannot unmarshal string into an
 * int", and leaves *out NULL. Does not check indexes: see bk_config_validate. */
bk_code bk_config_parse(const char *json, size_t len, bk_cache_config **out, bk_err *err);

/* Appends the Go json.Marshal bytes of cfg. Fails only on a time whose year is
 * outside 0..9999 (Go refuses those too). */
bk_code bk_config_encode(const bk_cache_config *cfg, bk_buf *out, bk_err *err);

/* What BuildKit's importer refuses, checked in its order. */
enum {
    BK_VALIDATE_S3 = 1 << 0, /* every layer needs annotations with a diffID */
};
/* BK_OK, or BK_EINVAL with "<json path>: <reason>": a layer without
 * annotations or diffID (BK_VALIDATE_S3), a link to a record that does not
 * exist, an input without links, a record that links back to itself, a
 * result or chain pointing at a layer that does not exist, a layer parent
 * chain that loops; then, beyond BuildKit, a layer blob that is not
 * sha256:<64 lowercase hex> (bk_digest_validate; "layers[2].blob: digest
 * ..."), which nothing here can store or fetch. Import, explain and the
 * conformance verify all judge a manifest by this. */
bk_code bk_config_validate(const bk_cache_config *cfg, unsigned flags, bk_err *err);

/* An OCI descriptor as far as the cache needs it: what a layer blob is.
 * diff_id is the containerd.io/uncompressed annotation, created_at the
 * buildkit/createdat one (has_created_at false when absent). */
typedef struct bk_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    char *diff_id;
    bk_time created_at;
    bool has_created_at;
} bk_descriptor;

/* Deep copy into dst (strings duplicated) / release of the strings. */
bk_code bk_descriptor_copy(bk_descriptor *dst, const bk_descriptor *src, bk_err *err);
void bk_descriptor_clear(bk_descriptor *d);

/* Builders (the config takes copies of the strings). Each returns the new
 * element, or NULL when out of memory. Pointers stay valid until the next
 * add of the same kind. */
bk_cache_layer *bk_config_add_layer(bk_cache_config *cfg, const char *blob, int64_t parent);
bk_layer_annotations *bk_layer_set_annotations(bk_cache_layer *l, const char *media_type,
                                               const char *diff_id, int64_t size,
                                               bk_time created_at);
bk_cache_record *bk_config_add_record(bk_cache_config *cfg, const char *digest);
bk_cache_result *bk_record_add_result(bk_cache_record *r, int64_t layer, bk_time created_at);
bk_input_list *bk_record_add_input(bk_cache_record *r);
bk_cache_input *bk_input_add_link(bk_input_list *in, const char *selector, int64_t link);

/* Distinct blob digests the config references, in layer order. Returns a
 * NULL-terminated array of borrowed strings (free() the array only). */
const char **bk_config_blobs(const bk_cache_config *cfg, size_t *n);
/* The same as layer indexes: for each distinct blob the first layer that
 * carries it, in layer order. malloc'd (free it); NULL when out of memory. */
size_t *bk_config_blob_layers(const bk_cache_config *cfg, size_t *n);

/* Media type names. to_oci maps Docker layer types to their OCI names and
 * leaves others unchanged; to_docker does the reverse. Borrowed strings. */
const char *bk_media_type_to_oci(const char *media_type);
const char *bk_media_type_to_docker(const char *media_type);

#ifdef __cplusplus
}
#endif

#endif
