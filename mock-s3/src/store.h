/* Buckets and objects, in memory or under a data directory.
 *
 * Object bodies are written through a streaming writer (memory buffer, or a temp
 * file under DIR/tmp) and become visible atomically on commit. With a data dir an
 * object lives in DIR/buckets/<bucket>/<xx>/<sha256(key)>.obj (or, for a completed
 * multipart upload, the part files linked into <sha256(key)>.parts-<random>/) plus
 * a .meta JSON that holds the real key and names the parts; the meta is written
 * after the body is in place and before the replaced body goes, and a parts
 * directory no meta names is removed on load. File names never derive from key
 * text, so no key can
 * reach outside DIR. Readers take their own handle (fd or blob reference) under the
 * lock, so a concurrent overwrite or delete never tears a GET. */
#ifndef MS3_STORE_H
#define MS3_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"
#include "body.h"
#include "objmeta.h"

typedef struct ms3_store ms3_store;

/* ---- store */
enum {
    MS3_STORE_OK = 0,
    MS3_STORE_NO_BUCKET = 1,
    MS3_STORE_NO_KEY = 2,
    MS3_STORE_IO = 3,
    MS3_STORE_PRECONDITION = 4
};

/* S3's bucket naming rules (3-63 of a-z 0-9 . -, starting and ending alphanumeric). */
int ms3__valid_bucket_name(const char *name);

/* Opens (creating) the data dir and loads what a previous run stored there. */
ms3_store *ms3__store_open(const char *data_dir /* NULL = memory */, bk_err *err);
/* DIR/tmp for writers, NULL in memory. */
const char *ms3__store_tmp_dir(const ms3_store *st);
const char *ms3__store_data_dir(const ms3_store *st); /* NULL in memory */
/* Writes path through path.tmp and a rename, so a reader sees all or nothing. */
int ms3__write_file_atomic(const char *path, const char *text, bk_err *err);
void ms3__store_close(ms3_store *st);
int ms3__store_is_persistent(const ms3_store *st);

/* Creates the bucket unless it exists (*existed then 1; existed may be NULL). */
bk_code ms3__store_create_bucket(ms3_store *st, const char *bucket, int64_t now_ms, int *existed,
                                 bk_err *err);
int ms3__store_bucket_exists(ms3_store *st, const char *bucket);
/* MS3_STORE_OK, NO_BUCKET, or -1 with "BucketNotEmpty" semantics. */
int ms3__store_delete_bucket(ms3_store *st, const char *bucket);
typedef struct ms3_bucket_item {
    char *name;
    int64_t created_ms;
} ms3_bucket_item;
size_t ms3__store_list_buckets(ms3_store *st, ms3_bucket_item **out);
void ms3__bucket_items_free(ms3_bucket_item *items, size_t n);

/* Copies the object's metadata into *meta (caller frees). */
int ms3__store_stat(ms3_store *st, const char *bucket, const char *key, ms3_objmeta *meta);
/* Opens the body and copies the metadata, both consistent with each other. */
int ms3__store_open_object(ms3_store *st, const char *bucket, const char *key, ms3_objmeta *meta,
                           ms3_reader **reader, bk_err *err);
/* Stores body + meta under key, replacing any existing object. Takes ownership of
 * both (also on failure). Returns MS3_STORE_OK, NO_BUCKET or IO (err set). */
typedef struct ms3_put_cond {
    int if_absent;        /* If-None-Match: * */
    const char *if_match; /* If-Match: an ETag, quoted or not; "*" = must exist */
} ms3_put_cond;
/* cond may be NULL. Also returns MS3_STORE_PRECONDITION, or NO_KEY for If-Match on
 * a missing key; the check and the replacement are one atomic step. */
int ms3__store_put(ms3_store *st, const char *bucket, const char *key, ms3_body *body,
                   ms3_objmeta *meta, const ms3_put_cond *cond, bk_err *err);
/* 1 when an If-Match / If-None-Match list (a, "b", W/"c", *) names etag. */
int ms3__etag_list_matches(const char *list, const char *etag);
/* Replaces the metadata of an existing object, keeping body, size and ETag
 * (copy onto itself with REPLACE). meta is consumed. */
int ms3__store_replace_meta(ms3_store *st, const char *bucket, const char *key, ms3_objmeta *meta,
                            bk_err *err);
int ms3__store_delete(ms3_store *st, const char *bucket, const char *key);
/* Moves Last-Modified of objects under prefix into the past; count or -1 (no bucket). */
long ms3__store_age(ms3_store *st, const char *bucket, const char *prefix, int64_t seconds);
size_t ms3__store_count(ms3_store *st, const char *bucket);
/* Deletes every object of every bucket. */
void ms3__store_clear(ms3_store *st);

/* Visits objects with the prefix whose key sorts after `after` (NULL = from the
 * start), in UTF-8 binary order, under the store lock: the callback must be quick
 * and copy what it keeps. Return nonzero from it to stop. */
typedef struct ms3_obj_view {
    const char *key;
    const ms3_objmeta *meta;
} ms3_obj_view;
int ms3__store_scan(ms3_store *st, const char *bucket, const char *prefix, const char *after,
                    int (*cb)(void *ud, const ms3_obj_view *o), void *ud);

#endif
