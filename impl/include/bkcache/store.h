/* A content store on disk: an OCI layout directory holding blobs at
 * blobs/<algorithm>/<hex>. The exporter reads layer blobs from it; the importer
 * writes downloaded blobs into it.
 *
 * Safety: blob paths are built only from a validated digest, and only regular
 * files are opened (never waiting on a FIFO). A store opened with create (a
 * destination being filled) opens every path component without following
 * symbolic links, so nothing outside the directory is read or written through
 * it. A store opened to read (a cache being pushed or exported) follows links
 * as BuildKit's readers do; what it reads is checked against the digest. A
 * blob is written to a temporary file, verified (size and digest) and only
 * then renamed to its digest: a corrupt blob never appears under its name. */
#ifndef BKCACHE_STORE_H
#define BKCACHE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BK_DIGEST_MAX 72 /* "sha256:" + 64 hex + NUL, with room */

/* Checks "sha256:<64 lowercase hex>" (the only algorithm BuildKit's cache
 * uses); copies the hex part into hex (65 bytes) when not NULL. */
bk_code bk_digest_validate(const char *digest, char *hex, bk_err *err);

/* Formats "sha256:<hex>" from a raw 32-byte digest. */
void bk_digest_format(const unsigned char sha256[32], char out[BK_DIGEST_MAX]);

typedef struct bk_store bk_store;

/* Opens DIR: to fill it (create: DIR and DIR/blobs/sha256 made when missing,
 * links refused) or to read it (links followed). */
bk_store *bk_store_open(const char *dir, int create, bk_err *err);
void bk_store_free(bk_store *s);
const char *bk_store_dir(const bk_store *s);

/* Opens a blob read-only; fills its size. The caller closes *fd. */
bk_code bk_store_open_blob(bk_store *s, const char *digest, int *fd, uint64_t *size, bk_err *err);

/* 1 when the blob exists as a regular file (size filled), 0 when absent, <0 on error. */
int bk_store_has_blob(bk_store *s, const char *digest, uint64_t *size, bk_err *err);

/* Streams the whole blob through SHA-256 and checks digest and size. */
bk_code bk_store_verify_blob(bk_store *s, const char *digest, uint64_t expected_size, bk_err *err);
/* The same, keeping the descriptor it verified open for the caller (*fd,
 * read with pread; the caller closes it), so the bytes sent are the bytes
 * checked. */
bk_code bk_store_open_verified(bk_store *s, const char *digest, uint64_t expected_size, int *fd,
                               bk_err *err);
/* The same, and from that one read also the SHA-256 (hex) of each part of a
 * multipart upload of the blob in parts of part_size bytes, the last one
 * shorter, into part_sha256[0..n_parts): its payload hashes, so no byte is
 * read or hashed again to send it. n_parts must be the number of parts
 * (BK_EINVAL otherwise); part_size 0 = no parts. */
bk_code bk_store_open_verified_parts(bk_store *s, const char *digest, uint64_t expected_size,
                                     uint64_t part_size, char (*part_sha256)[65], size_t n_parts,
                                     int *fd, bk_err *err);

/* Writing one blob: bytes go to a temporary file in the store and are hashed
 * as they arrive; commit checks size and digest, then renames into place. */
typedef struct bk_blob_writer bk_blob_writer;
bk_blob_writer *bk_store_blob_writer(bk_store *s, const char *digest, uint64_t expected_size,
                                     bk_err *err);
bk_code bk_blob_writer_write(bk_blob_writer *w, const void *data, size_t len, bk_err *err);
uint64_t bk_blob_writer_written(const bk_blob_writer *w);
/* Verifies and publishes; always frees w. On mismatch nothing is published. */
bk_code bk_blob_writer_commit(bk_blob_writer *w, bk_err *err);
/* Discards the temporary file; frees w. */
void bk_blob_writer_abort(bk_blob_writer *w);

/* Writes a small file (index.json, oci-layout, a manifest) atomically
 * (temporary file + rename) at DIR/relpath; relpath has no "..". */
bk_code bk_store_write_file(bk_store *s, const char *relpath, const void *data, size_t len,
                            bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
