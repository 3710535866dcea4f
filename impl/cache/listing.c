/* existence_check=list: the walk of the blobs prefix, in place or early. The
 * walk depends on nothing but the bucket and the layout, so a caller that
 * still has to build its config (a graph to load) can have it answered
 * meanwhile; the objects are kept and handed over when the plan asks. */
#include "listing.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/buf.h"

/* One listed object: its key at key_off in keys. */
typedef struct listed {
    size_t key_off;
    uint64_t size;
    time_t last_modified;
} listed;

struct bk_export_listing {
    bk_s3cache *cache;
    pthread_t thread;
    int started; /* on its own thread; else the walk runs when replayed */
    int done;
    bk_buf keys;
    bk_buf objects;                     /* listed[] */
    unsigned long long requests_before; /* the client's count when it started */
    double started_at, done_at;         /* the cache's monotonic clock */
    bk_code rc;
    bk_err err;
};

bk_code bk__list_blobs(bk_s3cache *cache, bk_listed_fn fn, void *ud, bk_err *err)
{
    const bk_s3cache_layout *l = &cache->layout;
    size_t plen = strlen(l->prefix) + strlen(l->blobs_prefix);
    char *prefix = malloc(plen + 1);
    if (prefix == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory listing blobs");
    snprintf(prefix, plen + 1, "%s%s", l->prefix, l->blobs_prefix);
    bk_s3_list_params params = {0};
    params.prefix = prefix;
    bk_code rc = bk_s3_list_each(cache->client, &params, fn, ud, err);
    free(prefix);
    return rc;
}

static int keep(void *ud, const bk_s3_object *obj)
{
    bk_export_listing *l = ud;
    listed o = {l->keys.len, obj->size, obj->last_modified};
    bk_buf_append(&l->keys, obj->key, strlen(obj->key) + 1);
    bk_buf_append(&l->objects, &o, sizeof o);
    return 0;
}

static void walk(bk_export_listing *l)
{
    l->rc = bk__list_blobs(l->cache, keep, l, &l->err);
    if (l->rc == BK_OK && (l->rc = bk_buf_check(&l->keys, &l->err)) == BK_OK)
        l->rc = bk_buf_check(&l->objects, &l->err);
    l->done_at = bk_clock_mono_seconds(&l->cache->clock);
    l->done = 1;
}

static void *walk_thread(void *arg)
{
    walk(arg);
    return NULL;
}

bk_export_listing *bk_export_listing_start(bk_s3cache *cache, bk_err *err)
{
    bk_export_listing *l = calloc(1, sizeof *l);
    if (l == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory starting the listing of blobs");
        return NULL;
    }
    l->cache = cache;
    l->requests_before = bk_s3_client_requests(cache->client);
    l->started_at = bk_clock_mono_seconds(&cache->clock);
    bk_err_clear(&l->err);
    /* Without a thread the walk is made when the plan asks for it. */
    l->started = pthread_create(&l->thread, NULL, walk_thread, l) == 0;
    return l;
}

static void join(bk_export_listing *l)
{
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = 0;
    }
}

static void finish(bk_export_listing *l)
{
    join(l);
    if (!l->done) {
        l->started_at = bk_clock_mono_seconds(&l->cache->clock);
        walk(l);
    }
}

bk_code bk__listing_replay(bk_export_listing *l, bk_listed_fn fn, void *ud, bk_err *err)
{
    finish(l);
    if (l->rc != BK_OK) {
        *err = l->err;
        return l->rc;
    }
    const listed *objects = (const listed *)(const void *)l->objects.data;
    size_t n = l->objects.len / sizeof *objects;
    for (size_t i = 0; i < n; i++) {
        bk_s3_object obj = {0};
        obj.key = l->keys.data + objects[i].key_off;
        obj.size = objects[i].size;
        obj.last_modified = objects[i].last_modified;
        if (fn(ud, &obj) != 0)
            break;
    }
    return BK_OK;
}

unsigned long long bk__listing_requests_before(const bk_export_listing *l)
{
    return l->requests_before;
}

double bk__listing_seconds_before(bk_export_listing *l, double t)
{
    join(l);
    if (!l->done) /* never made: the export did not need it */
        return 0;
    double end = l->done_at < t ? l->done_at : t;
    return end > l->started_at ? end - l->started_at : 0;
}

void bk_export_listing_free(bk_export_listing *l)
{
    if (l == NULL)
        return;
    join(l);
    bk_buf_clear(&l->keys);
    bk_buf_clear(&l->objects);
    free(l);
}
