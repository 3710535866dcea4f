/* BuildKit's Finalize, reproduced for the BuildKit-like broken adapters.
 * Work items run on upload_parallelism threads in two passes: every item's
 * HEAD, then every item's touch or upload. BuildKit does both in one pass
 * per worker; two workers holding one blob then both see 404 and both upload
 * in most runs. The two passes make that outcome certain, so the suite's
 * reaction to it can be tested without depending on timing. */
#include "broken_finalize.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/s3cache.h"

typedef struct item {
    const char *blob;
    int present; /* HEAD answered with a Last-Modified (else BuildKit uploads) */
    uint64_t remote_size;
    time_t remote_mtime;
} item;

typedef struct run {
    const broken_finalize_opts *o;
    item *items;
    size_t n;
    bk_code (*step)(struct run *r, item *it, bk_err *err);
    pthread_mutex_t lock;
    size_t next;
    bk_code rc;
    bk_err err;
} run;

bk_code broken_put_manifests(bk_s3cache *cache, const char *data, size_t len, bk_err *err)
{
    const bk_s3cache_layout *l = &cache->layout;
    for (size_t i = 0; i < l->n_names; i++) {
        char *key = bk_s3cache_manifest_key(cache, l->names[i]);
        bk_s3_result res = BK_S3_RESULT_INIT;
        bk_code rc = key ? bk_s3_put_mem(cache->client, key, data, len, NULL, &res, err)
                         : bk_err_set(err, BK_ENOMEM, "out of memory");
        bk_s3_result_clear(&res);
        free(key);
        if (rc != BK_OK) {
            bk_err_prefix(err, "error writing manifest: %s: ", l->names[i]);
            return rc;
        }
    }
    return BK_OK;
}

/* s3.go:547-560: only NotFound/NoSuchKey is absent; a HEAD without
 * Last-Modified counts as absent too (exists returns a nil time). */
static bk_code head_step(run *r, item *it, bk_err *err)
{
    char *key = bk_s3cache_blob_key(r->o->cache, it->blob);
    if (key == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_head(r->o->cache->client, key, &res, err);
    if (rc == BK_OK) {
        it->present = res.has_last_modified;
        it->remote_size = res.size;
        it->remote_mtime = res.last_modified;
    } else if (bk_s3_result_is_not_found(&res)) {
        rc = BK_OK;
    } else {
        bk_err_prefix(err, "failed to check file presence in cache: ");
    }
    bk_s3_result_clear(&res);
    free(key);
    return rc;
}

/* s3.go:590-: CreateMultipartUpload (metadata only if asked), UploadPartCopy
 * of consecutive ranges one after the other, CompleteMultipartUpload. */
static bk_code multipart_touch(run *r, const char *key, uint64_t size, uint64_t limit, bk_err *err)
{
    char stamp[80];
    bk_s3cache_updated_at(bk_clock_wall_ns(&r->o->cache->clock), stamp, sizeof stamp);
    bk_s3_meta meta = {"updated-at", stamp};
    bk_s3_put_options put = {0};
    if (r->o->multipart_touch_metadata) {
        put.meta = &meta;
        put.n_meta = 1;
    }
    char *upload_id = NULL;
    bk_s3_client *client = r->o->cache->client;
    bk_code rc = bk_s3_multipart_create(client, key, &put, &upload_id, err);
    if (rc != BK_OK)
        return rc;
    size_t nparts = (size_t)((size + limit - 1) / limit);
    bk_s3_part *parts = calloc(nparts, sizeof *parts);
    if (parts == NULL)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < nparts && rc == BK_OK; i++) {
        uint64_t first = (uint64_t)i * limit;
        uint64_t last = first + limit - 1 < size - 1 ? first + limit - 1 : size - 1;
        rc = bk_s3_multipart_upload_part_copy(client, key, upload_id, (int)i + 1, NULL, key, first,
                                              last, &parts[i], err);
    }
    bk_s3_result res = BK_S3_RESULT_INIT;
    if (rc == BK_OK)
        rc = bk_s3_multipart_complete(client, key, upload_id, parts, nparts, &res, err);
    bk_s3_result_clear(&res);
    if (rc != BK_OK) {
        bk_err aerr;
        bk_err_clear(&aerr);
        bk_s3_multipart_abort(client, key, upload_id, &aerr);
    }
    free(parts);
    free(upload_id);
    return rc;
}

/* s3.go:573-589: below the copy limit, CopyObject onto itself with REPLACE
 * and updated-at. */
static bk_code touch(run *r, const char *key, uint64_t size, bk_err *err)
{
    uint64_t limit = r->o->copy_limit ? r->o->copy_limit : BK_S3_MAX_COPY_SIZE;
    bk_code rc;
    if (size >= limit) {
        rc = multipart_touch(r, key, size, limit, err);
    } else {
        char stamp[80];
        bk_s3cache_updated_at(bk_clock_wall_ns(&r->o->cache->clock), stamp, sizeof stamp);
        bk_s3_meta meta = {"updated-at", stamp};
        bk_s3_copy_options copy = {0};
        copy.directive = BK_S3_METADATA_REPLACE;
        copy.meta = &meta;
        copy.n_meta = 1;
        bk_s3_result res = BK_S3_RESULT_INIT;
        rc = bk_s3_copy(r->o->cache->client, key, key, &copy, &res, err);
        bk_s3_result_clear(&res);
    }
    if (rc != BK_OK)
        bk_err_prefix(err, "failed to touch file: ");
    return rc;
}

static bk_code upload(run *r, const char *key, const item *it, bk_err *err)
{
    int fd = -1;
    uint64_t size = 0;
    bk_code rc = bk_store_open_blob(r->o->store, it->blob, &fd, &size, err);
    bk_s3_put_options put = {0};
    put.payload_sha256 = it->blob + strlen("sha256:");
    bk_s3_result res = BK_S3_RESULT_INIT;
    if (rc == BK_OK)
        rc = bk_s3_upload_fd(r->o->cache->client, key, fd, 0, size, &put, &res, err);
    if (fd >= 0)
        close(fd);
    bk_s3_result_clear(&res);
    if (rc != BK_OK)
        bk_err_prefix(err, "error writing layer blob: ");
    return rc;
}

/* s3.go:284-305: present and older than touch_refresh: touch; absent: upload. */
static bk_code act_step(run *r, item *it, bk_err *err)
{
    char *key = bk_s3cache_blob_key(r->o->cache, it->blob);
    if (key == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_code rc = BK_OK;
    if (it->present) {
        int64_t age_ns =
            bk_clock_wall_ns(&r->o->cache->clock) - (int64_t)it->remote_mtime * BK_NS_PER_SEC;
        if (age_ns > r->o->cache->policy.touch_refresh_ns)
            rc = touch(r, key, it->remote_size, err);
    } else {
        rc = upload(r, key, it, err);
    }
    free(key);
    return rc;
}

static void *worker(void *arg)
{
    run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        size_t i = r->next++;
        int stop = r->rc != BK_OK || i >= r->n;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            return NULL;
        bk_err err;
        bk_err_clear(&err);
        bk_code rc = r->step(r, &r->items[i], &err);
        if (rc != BK_OK) {
            pthread_mutex_lock(&r->lock);
            if (r->rc == BK_OK) {
                r->rc = rc;
                r->err = err;
            }
            pthread_mutex_unlock(&r->lock);
        }
    }
}

/* One pass of step over every item on upload_parallelism threads; the
 * first failure stops the pass and is the result. */
static bk_code pass(run *r, bk_code (*step)(run *, item *, bk_err *), bk_err *err)
{
    int parallelism = r->o->cache->policy.upload_parallelism;
    size_t nthreads = parallelism > 0 ? (size_t)parallelism : 4;
    pthread_t *threads = calloc(nthreads, sizeof *threads);
    if (threads == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    r->step = step;
    r->next = 0;
    size_t started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, worker, r) != 0)
            break;
    if (started == 0)
        worker(r);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (r->rc != BK_OK)
        *err = r->err;
    return r->rc;
}

/* The work items: one per layer (BuildKit) or one per distinct blob. */
static item *work_items(const broken_finalize_opts *o, const bk_cache_config *cfg, size_t *n)
{
    size_t nblobs = 0;
    size_t *firsts = o->per_layer ? NULL : bk_config_blob_layers(cfg, &nblobs);
    *n = o->per_layer ? cfg->n_layers : nblobs;
    item *items = calloc(*n ? *n : 1, sizeof *items);
    for (size_t i = 0; items != NULL && i < *n; i++) {
        items[i].blob = cfg->layers[o->per_layer ? i : firsts[i]].blob;
    }
    free(firsts);
    return items;
}

bk_code broken_finalize(const broken_finalize_opts *o, const bk_cache_config *cfg,
                        const char *manifest, size_t len, bk_err *err)
{
    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.items = work_items(o, cfg, &r.n);
    if (r.items == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    pthread_mutex_init(&r.lock, NULL);
    bk_code rc = pass(&r, head_step, err);
    if (rc == BK_OK)
        rc = pass(&r, act_step, err);
    pthread_mutex_destroy(&r.lock);
    free(r.items);
    if (rc == BK_OK)
        rc = broken_put_manifests(o->cache, manifest, len, err);
    return rc;
}
