/* What a BuildKit S3 cache holds, gathered into one structure and rendered
 * for people (text), for Graphviz (dot) and for machines (json), plus the
 * difference between two caches (`bkcache explain`).
 *
 * Sources: a bucket (every manifest under <prefix><manifests_prefix> and every
 * object under <prefix><blobs_prefix>), a cache config file, a type=local cache
 * directory, or a build-graph fixture marshalled the way the exporter would.
 * A manifest that cannot be parsed or fails BuildKit's checks is kept with its
 * error and still rendered as far as it goes: renderers check every index, so a
 * broken manifest never makes them read out of bounds.
 *
 * Ownership: a bk_explain owns everything it points to (bk_explain_free). */
#ifndef BKCACHE_EXPLAIN_H
#define BKCACHE_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/buf.h"
#include "bkcache/cacheconfig.h"
#include "bkcache/chains.h"
#include "bkcache/error.h"
#include "bkcache/graph.h"
#include "bkcache/s3.h"
#include "bkcache/s3cache.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_explain_kind {
    BK_EXPLAIN_BUCKET = 0, /* a bucket (or prefix) listed through S3 */
    BK_EXPLAIN_MANIFEST,   /* one cache config from a file or an S3 object, no listing */
    BK_EXPLAIN_LOCAL,      /* a type=local cache directory */
    BK_EXPLAIN_GRAPH,      /* a build-graph fixture, marshalled as an export would */
} bk_explain_kind;

typedef struct bk_explain_object {
    char *key; /* object key, or path relative to the source directory */
    uint64_t size;
    int64_t last_modified; /* unix seconds; meaningful when has_last_modified */
    int has_last_modified;
} bk_explain_object;

typedef struct bk_explain_manifest {
    char *name;              /* cache name ("buildkit"), or the file's path */
    bk_explain_object obj;   /* key/path, size, modification time */
    bk_cache_config *config; /* NULL when it could not be read or parsed */
    char *error;             /* parse or validation problem; NULL when none */
    long same_as;            /* index of an earlier manifest with identical bytes, or -1 */
} bk_explain_manifest;

/* Every blob digest that is referenced by a manifest or present in the store. */
typedef struct bk_explain_blob {
    char *digest;          /* "sha256:<hex>" */
    int present;           /* 1 in the store, 0 absent, -1 not known (nothing was looked up) */
    bk_explain_object obj; /* when present */
    size_t *manifests;     /* indexes of the manifests referencing it */
    size_t n_manifests;
} bk_explain_blob;

/* An object in the store that is neither a manifest nor a layer blob. */
typedef struct bk_explain_other {
    bk_explain_object obj;
    char *role; /* "cache root (OCI image index)", "cache config", "not a digest key", ... */
} bk_explain_other;

/* A human name for a record digest (a graph fixture's vertex id). */
typedef struct bk_explain_label {
    char *digest;
    char *name;
} bk_explain_label;

typedef struct bk_explain {
    bk_explain_kind kind;
    char *source; /* "s3://bucket/prefix", or a path */
    char *bucket; /* buckets only */
    char *prefix;
    char *manifests_prefix;
    char *blobs_prefix;
    int blobs_listed;  /* every blob of the store is known: unreferenced ones can be named */
    int blobs_checked; /* referenced blobs were looked up: missing ones can be named */
    bk_explain_manifest *manifests;
    size_t n_manifests;
    bk_explain_blob *blobs; /* sorted by digest */
    size_t n_blobs;
    bk_explain_other *others;
    size_t n_others;
    bk_explain_label *labels; /* sorted by digest */
    size_t n_labels;
} bk_explain;

void bk_explain_free(bk_explain *e);

typedef struct bk_explain_bucket_opts {
    /* Read only the manifest of the first name (what an import reads) with a
     * GetObject, no listing: works without s3:ListBucket. */
    int first_name_only;
    size_t max_manifest_bytes; /* refuse larger manifests; 0 = BK_S3CACHE_MANIFEST_MAX */
} bk_explain_bucket_opts;

/* Lists <prefix><manifests_prefix> and <prefix><blobs_prefix>, reads and
 * checks every manifest. opts may be NULL. */
bk_code bk_explain_bucket(bk_s3cache *cache, const bk_explain_bucket_opts *opts, bk_explain **out,
                          bk_err *err);

/* One cache config given as bytes (a file's content); `name` labels it. */
bk_code bk_explain_manifest_bytes(const char *name, const char *json, size_t len, bk_explain **out,
                                  bk_err *err);

/* A type=local cache directory; tag NULL = "latest". Blobs are listed from
 * DIR/blobs/sha256; the root and config blobs are reported as such. */
bk_code bk_explain_local(const char *dir, const char *tag, bk_explain **out, bk_err *err);

/* A build-graph fixture: the config the exporter would write for `mode`, its
 * blobs looked up in the graph's content store, records named after vertices. */
bk_code bk_explain_graph(const char *path, enum bk_export_mode mode, bk_explain **out, bk_err *err);

/* Names records after the graph's vertex outputs (record digest of each). */
bk_code bk_explain_add_graph_labels(bk_explain *e, const bk_graph *g, bk_err *err);

/* Label of a record digest, or NULL. */
const char *bk_explain_label_of(const bk_explain *e, const char *digest);

/* The first manifest with a config (what the diff compares), or NULL. */
const bk_explain_manifest *bk_explain_primary(const bk_explain *e);

typedef struct bk_explain_render_opts {
    int64_t now;      /* unix seconds for ages; 0 = do not show ages */
    int full_digests; /* text: full digests instead of 12 hex digits */
} bk_explain_render_opts;

/* Renderers append to out; opts may be NULL. */
bk_code bk_explain_text(const bk_explain *e, const bk_explain_render_opts *opts, bk_buf *out,
                        bk_err *err);
/* A Graphviz digraph: one cluster per manifest, records as boxes, inputs as
 * edges labelled with their selectors, each result's layer chain as a stack. */
bk_code bk_explain_dot(const bk_explain *e, const bk_explain_render_opts *opts, bk_buf *out,
                       bk_err *err);
/* The same facts as JSON (two-space indented, stable key order). */
bk_code bk_explain_json(const bk_explain *e, bk_buf *out, bk_err *err);

/* Compares the primary manifests of a and b: records, layers (a blob on top
 * of its parent chain) and blobs that one has and the other lacks, and
 * records present in both whose results or inputs differ. *differs is set to
 * 1 when anything differs. */
bk_code bk_explain_diff_text(const bk_explain *a, const bk_explain *b,
                             const bk_explain_render_opts *opts, bk_buf *out, int *differs,
                             bk_err *err);
bk_code bk_explain_diff_json(const bk_explain *a, const bk_explain *b, bk_buf *out, int *differs,
                             bk_err *err);

/* "<1m", "5m", "3h", "2d": the age of `then` at `now`, floored to its largest
 * unit, so output regenerated a few seconds later reads the same. */
void bk_explain_format_age(int64_t now, int64_t then, char *out, size_t size);

/* "sha256:3f4e5a6b7c8d" (12 hex digits) or the digest unchanged when short. */
void bk_explain_short_digest(const char *digest, int full, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
