/* The registry of multipart uploads in progress, and (with a data dir) their
 * persistence, so an upload survives a restart of the mock as it survives
 * anything on S3.
 *
 * With a data dir an upload lives in DIR/uploads/<upload id>/: upload.json
 * (bucket, key, metadata, checksum algorithm, the parts) rewritten atomically
 * after every change, and one file per part, <number>-<request id>.part,
 * renamed there once complete. A part file the JSON does not name (the mock
 * stopped between the rename and the JSON) is removed when the uploads are
 * loaded; an upload directory without a readable upload.json too. */
#ifndef MS3_UPLOADS_H
#define MS3_UPLOADS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bkcache/checksum.h"
#include "body.h"
#include "objmeta.h"

typedef struct ms3_part {
    int number;
    uint64_t size;
    unsigned char md5[16];
    char etag[80];
    int64_t last_modified_ms;
    ms3_body body;
    bk_checksum_alg ck_alg; /* the algorithm the client declared, NONE when none */
    char ck_value[BK_CHECKSUM_MAX_BASE64];
} ms3_part;

typedef struct ms3_upload {
    char id[64];
    char *bucket;
    char *key;
    int64_t initiated_ms;
    ms3_objmeta meta;
    bk_checksum_alg ck_alg; /* x-amz-checksum-algorithm at creation */
    ms3_part *parts;        /* sorted by number */
    size_t n;
} ms3_upload;

typedef struct ms3_uploads {
    pthread_mutex_t lock; /* guards items and every upload in it */
    ms3_upload **items;
    size_t n;
    char *dir; /* DIR/uploads, NULL in memory */
} ms3_uploads;

/* data_dir NULL = in memory; else loads the uploads a previous run left. */
ms3_uploads *ms3__uploads_new(const char *data_dir, bk_err *err);
/* At shutdown: frees the registry, leaving persisted uploads on disk. */
void ms3__uploads_free(ms3_uploads *u);
/* Drops every upload, on disk too (reset). */
void ms3__uploads_clear(ms3_uploads *u);
size_t ms3__uploads_count(ms3_uploads *u);
int ms3__uploads_exists(ms3_uploads *u, const char *upload_id, const char *bucket, const char *key);

/* Caller holds u->lock. NULL when absent; *pos its index. */
ms3_upload *ms3__uploads_find(ms3_uploads *u, const char *id, const char *bucket, const char *key,
                              size_t *pos);
/* Registers (and persists) a new or returning upload. -1 + err on failure (the
 * caller still owns up). On success the registry owns it and the caller must
 * not touch it again: a reset or an abort may free it at once. */
int ms3__uploads_add(ms3_uploads *u, ms3_upload *up, bk_err *err);
/* Caller holds u->lock; the upload is in the registry. Stores part p (its body
 * moves into the upload's directory), replacing one with the same number, and
 * persists the upload. On failure p's body is freed. request_id names the file. */
int ms3__uploads_put_part(ms3_uploads *u, ms3_upload *up, ms3_part *p, uint64_t request_id,
                          bk_err *err);
/* Caller holds u->lock. Takes the upload at pos out of the registry (its
 * files stay until ms3__upload_discard). */
ms3_upload *ms3__uploads_take(ms3_uploads *u, size_t pos);

/* Frees an upload that is over (completed, aborted): its files go too. */
void ms3__upload_discard(ms3_uploads *u, ms3_upload *up);
/* Frees an upload that was never registered. */
void ms3__upload_free(ms3_upload *up);

#endif
