/* BuildKit's type=local cache: an OCI layout directory (oci-layout,
 * index.json, blobs/<alg>/<hex>) whose index entry tagged `tag` points at the
 * cache root, which is one of three shapes:
 *   - OCI image index (default, oci-mediatypes=true),
 *   - Docker manifest list (oci-mediatypes=false),
 *   - OCI image manifest (image-manifest=true),
 * listing one descriptor per config layer (annotated containerd.io/uncompressed
 * and buildkit/createdat) plus the cache config descriptor. The config blob
 * is the cache config without layer annotations.
 *
 * Conversion to the S3 form moves each descriptor's media type (OCI name),
 * size, diffID and createdAt (UTC) into the layer's annotations; the reverse
 * writes the blobs, config, root, index.json and oci-layout. Blobs are copied
 * as streams and verified against their digest and size.
 *
 * Ownership: bk_local_cache owns its config and descriptors. */
#ifndef BKCACHE_LOCALCACHE_H
#define BKCACHE_LOCALCACHE_H

#include <stddef.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BK_MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define BK_MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BK_MEDIA_TYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define BK_LOCAL_DEFAULT_TAG "latest"

typedef enum bk_local_shape {
    BK_LOCAL_OCI_INDEX = 0,
    BK_LOCAL_DOCKER_LIST,
    BK_LOCAL_IMAGE_MANIFEST,
} bk_local_shape;

typedef struct bk_local_cache {
    bk_local_shape shape;
    char *root_digest;
    bk_cache_config *config; /* as stored: layers without annotations */
    bk_descriptor *layers;   /* the root's layer descriptors, in order */
    size_t n_layers;
} bk_local_cache;

/* Reads the cache tagged `tag` (NULL: "latest") from dir. The entry is found
 * like BuildKit does: io.containerd.image.name == tag first, then
 * org.opencontainers.image.ref.name == tag. Root and config blobs are
 * verified against their descriptors and limited to 1 MiB (BuildKit's limit). */
bk_code bk_local_read(const char *dir, const char *tag, bk_local_cache **out, bk_err *err);
void bk_local_cache_free(bk_local_cache *lc);

/* The S3 form of a local cache: a copy of its config whose every layer has
 * annotations from the descriptor of its blob. A layer whose blob has no
 * descriptor, or whose descriptor lacks a diffID, is an error. */
bk_code bk_local_to_s3(const bk_local_cache *lc, bk_cache_config **out, bk_err *err);

typedef struct bk_local_write_opts {
    const char *tag;      /* NULL: "latest" */
    bk_local_shape shape; /* default BK_LOCAL_OCI_INDEX */
} bk_local_write_opts;

/* Writes an S3-form config (every layer annotated) as a local cache into dir
 * (created if needed), copying each layer blob from the OCI layout store
 * `blob_store` (blobs/<alg>/<hex>; a blob already present in dir with the
 * right size is kept). index.json keeps entries with other tags and replaces
 * the one with this tag. opts may be NULL. */
bk_code bk_local_write(const char *dir, const bk_cache_config *s3_config, const char *blob_store,
                       const bk_local_write_opts *opts, bk_err *err);

/* Streams src into dir's content store as blobs/<alg>/<hex>, verifying the
 * sha256 digest and size on the way (nothing is left behind on mismatch). */
bk_code bk_local_copy_blob(const char *src_path, const char *dir, const char *digest, int64_t size,
                           bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
