/* The exporter: plan (gather the blobs, check what the bucket has, decide),
 * then carry the plan out, then the manifests. */
#include "bkcache/exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bkcache/buf.h"
#include "listing.h"
#include "workpool.h"

/* What BuildKit's uploads carry: the transfer manager sets no content type,
 * so the SDK's PutObject default goes on blobs and manifests alike (and on
 * CreateMultipartUpload for large blobs). */
#define UPLOAD_CONTENT_TYPE "application/octet-stream"

typedef struct export_run {
    const bk_export_options *o;
    bk_s3cache *cache;
    bk_export_plan *plan;
    pthread_mutex_t lock;
    bk_export_summary *sum;
    /* manifest_if_match: each name's ETag when the export started ("" = absent). */
    char (*manifest_etags)[128];
} export_run;

static void emit(const export_run *r, bk_progress_kind kind, const bk_plan_blob *blob,
                 uint64_t size, double seconds, const char *message)
{
    if (r->o->progress == NULL)
        return;
    bk_progress_event ev = {
        kind, blob ? blob->digest : NULL, blob ? blob->key : NULL, size, 0, seconds, message};
    r->o->progress(r->o->progress_ud, &ev);
}

static int workers(const export_run *r)
{
    return r->cache->policy.upload_parallelism > 0 ? r->cache->policy.upload_parallelism : 4;
}

static void count(export_run *r, size_t *counter)
{
    pthread_mutex_lock(&r->lock);
    (*counter)++;
    pthread_mutex_unlock(&r->lock);
}

/* ---- the plan ---- */

/* One entry per distinct blob; the config repeats a blob only across chains. */
static bk_code gather_blobs(export_run *r, const bk_cache_config *cfg, uint64_t *total, bk_err *err)
{
    size_t n_blobs = 0;
    size_t *first = bk_config_blob_layers(cfg, &n_blobs);
    bk_export_plan *p = r->plan;
    p->blobs = calloc(n_blobs ? n_blobs : 1, sizeof *p->blobs);
    if (first == NULL || p->blobs == NULL) {
        free(first);
        return bk_err_set(err, BK_ENOMEM, "out of memory planning the export");
    }
    bk_code rc = BK_OK;
    *total = 0;
    for (size_t i = 0; i < n_blobs && rc == BK_OK; i++) {
        const bk_cache_layer *layer = &cfg->layers[first[i]];
        const char *digest = layer->blob ? layer->blob : "";
        if (layer->annotations == NULL) {
            rc = bk_err_set(err, BK_EINVAL,
                            "layer %s has no annotations: the S3 form needs size and diffID",
                            digest);
            break;
        }
        rc = bk_digest_validate(digest, NULL, err);
        if (rc != BK_OK)
            break;
        bk_plan_blob *b = &p->blobs[p->n_blobs++];
        b->size = (uint64_t)layer->annotations->size;
        b->digest = strdup(digest);
        b->key = bk_s3cache_blob_key(r->cache, digest);
        if (b->digest == NULL || b->key == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory planning the export");
        *total += b->size;
    }
    free(first);
    return rc;
}

static bk_code gather_manifest_keys(export_run *r, bk_err *err)
{
    const bk_s3cache_layout *l = &r->cache->layout;
    bk_export_plan *p = r->plan;
    p->manifest_keys = calloc(l->n_names ? l->n_names : 1, sizeof *p->manifest_keys);
    if (p->manifest_keys == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory planning the export");
    for (size_t i = 0; i < l->n_names; i++) {
        p->manifest_keys[i] = bk_s3cache_manifest_key(r->cache, l->names[i]);
        if (p->manifest_keys[i] == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory planning the export");
        p->n_manifests++;
    }
    return BK_OK;
}

/* manifest_if_match: remember what each manifest was before any blob work,
 * so the final write can refuse to replace a manifest someone else wrote. */
static bk_code capture_manifest_etags(export_run *r, bk_err *err)
{
    const bk_export_plan *p = r->plan;
    r->manifest_etags = calloc(p->n_manifests ? p->n_manifests : 1, sizeof *r->manifest_etags);
    if (r->manifest_etags == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->n_manifests; i++) {
        const char *key = p->manifest_keys[i];
        bk_s3_result res = BK_S3_RESULT_INIT;
        bk_code rc = bk_s3_head(r->cache->client, key, &res, err);
        if (rc == BK_OK) {
            snprintf(r->manifest_etags[i], sizeof r->manifest_etags[i], "%s", res.etag);
        } else if (bk_s3_result_is_not_found(&res)) {
            rc = BK_OK;
        } else {
            bk_err_prefix(err, "manifest_if_match: reading the current manifest %s: ", key);
        }
        bk_s3_result_clear(&res);
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

static int compare_blobs_by_key(const void *a, const void *b)
{
    return strcmp(((const bk_plan_blob *)a)->key, ((const bk_plan_blob *)b)->key);
}

static int on_listed(void *ud, const bk_s3_object *obj)
{
    bk_export_plan *p = ud;
    bk_plan_blob probe = {0};
    probe.key = obj->key;
    bk_plan_blob *b = bsearch(&probe, p->blobs, p->n_blobs, sizeof probe, compare_blobs_by_key);
    if (b != NULL) {
        b->remote.present = 1;
        b->remote.has_size = 1;
        b->remote.size = obj->size;
        b->remote.has_mtime = 1;
        b->remote.mtime_s = (int64_t)obj->last_modified;
    }
    return 0;
}

/* existence_check=list: one walk of the blobs prefix instead of one HEAD per
 * blob (made here, or started before the config was built); listed keys are
 * present, the rest absent. On 403 (no s3:ListBucket) *known stays 0 so that
 * every blob is HEADed instead. */
static bk_code list_existing(export_run *r, int *known, bk_err *err)
{
    bk_export_plan *p = r->plan;
    *known = 0;
    qsort(p->blobs, p->n_blobs, sizeof *p->blobs, compare_blobs_by_key);
    bk_err lerr;
    bk_err_clear(&lerr);
    bk_code rc = r->o->listing != NULL ? bk__listing_replay(r->o->listing, on_listed, p, &lerr)
                                       : bk__list_blobs(r->cache, on_listed, p, &lerr);
    if (rc == BK_OK) {
        *known = 1;
    } else if (strstr(lerr.msg, "403") != NULL || strstr(lerr.msg, "AccessDenied") != NULL) {
        char msg[BK_ERR_MSG_MAX + 80];
        snprintf(msg, sizeof msg, "existence_check=list: listing refused, falling back to HEAD: %s",
                 lerr.msg);
        emit(r, BK_PROGRESS_WARNING, NULL, 0, 0, msg);
        for (size_t i = 0; i < p->n_blobs; i++)
            memset(&p->blobs[i].remote, 0, sizeof p->blobs[i].remote);
        rc = BK_OK;
    } else {
        rc = bk_err_set(err, lerr.code, "existence_check=list: %s", lerr.msg);
    }
    return rc;
}

/* HEAD one blob: present (with size and Last-Modified) or absent. */
static bk_code head_blob(void *ctx, size_t index, bk_err *err)
{
    export_run *r = ctx;
    bk_plan_blob *b = &r->plan->blobs[index];
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_head(r->cache->client, b->key, &res, err);
    if (rc == BK_OK) {
        b->remote.present = 1;
        b->remote.has_size = res.has_size;
        b->remote.size = res.size;
        b->remote.has_mtime = res.has_last_modified;
        b->remote.mtime_s = (int64_t)res.last_modified;
    } else if (bk_s3_result_is_not_found(&res)) {
        rc = BK_OK;
    } else {
        bk_err_prefix(err, "failed to check file presence in cache: ");
    }
    bk_s3_result_clear(&res);
    return rc;
}

static bk_code check_presence(export_run *r, bk_err *err)
{
    bk_export_plan *p = r->plan;
    int known = 0;
    if (p->n_blobs == 0)
        return BK_OK;
    if (r->cache->policy.existence_check == BK_EXISTS_LIST) {
        bk_code rc = list_existing(r, &known, err);
        if (rc != BK_OK)
            return rc;
    }
    if (known)
        return BK_OK;
    return bk__workpool_run(p->n_blobs, workers(r), head_blob, r, err);
}

static void decide(export_run *r)
{
    bk_export_plan *p = r->plan;
    p->touch_refresh_ns = r->cache->policy.touch_refresh_ns;
    p->manifest_if_match = r->cache->policy.manifest_if_match;
    p->now_ns = bk_clock_wall_ns(&r->cache->clock);
    for (size_t i = 0; i < p->n_blobs; i++)
        p->blobs[i].decision =
            bk_plan_decide(&p->blobs[i].remote, p->blobs[i].size, p->now_ns, &r->cache->policy);
}

/* ---- carrying it out ---- */

/* The blob verified in one read that also gives the payload hash of each
 * part when it goes multipart and the client signs payloads (plain http):
 * no byte is read or hashed again to send it. *part_sha256 is NULL when the
 * upload needs no part hashes (the caller frees it). */
static bk_code open_for_upload(export_run *r, const bk_plan_blob *b, int *fd,
                               char (**part_sha256)[65], size_t *n_parts, bk_err *err)
{
    bk_s3_client *c = r->cache->client;
    uint64_t part_size = bk_s3_client_hashes_payloads(c) ? bk_s3_upload_part_size(c, b->size) : 0;
    *part_sha256 = NULL;
    *n_parts = part_size > 0 ? (size_t)((b->size + part_size - 1) / part_size) : 0;
    if (*n_parts > 0 && (*part_sha256 = calloc(*n_parts, sizeof **part_sha256)) == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory for the part hashes of blob %s",
                          b->digest);
    bk_code rc = bk_store_open_verified_parts(r->o->store, b->digest, b->size,
                                              *part_sha256 != NULL ? part_size : 0, *part_sha256,
                                              *n_parts, fd, err);
    if (rc != BK_OK) {
        free(*part_sha256);
        *part_sha256 = NULL;
        return rc;
    }
    pthread_mutex_lock(&r->lock);
    r->sum->bytes_verified += b->size;
    pthread_mutex_unlock(&r->lock);
    return BK_OK;
}

static bk_code upload(export_run *r, bk_plan_blob *b, bk_err *err)
{
    /* Hash once: the verified digest doubles as the payload hash of a single
     * PUT, the verification's part hashes as those of a multipart upload. */
    int fd = -1;
    char(*part_sha256)[65] = NULL;
    size_t n_parts = 0;
    bk_code rc = open_for_upload(r, b, &fd, &part_sha256, &n_parts, err);
    if (rc != BK_OK)
        return rc;
    double start = bk_clock_mono_seconds(&r->cache->clock);
    bk_s3_put_options put = {0};
    put.content_type = UPLOAD_CONTENT_TYPE;
    put.payload_sha256 = b->digest + strlen("sha256:");
    put.part_sha256 = (const char(*)[65])part_sha256;
    put.n_part_sha256 = n_parts;
    bk_s3_result res = BK_S3_RESULT_INIT;
    rc = bk_s3_upload_fd(r->cache->client, b->key, fd, 0, b->size, &put, &res, err);
    close(fd);
    free(part_sha256);
    bk_s3_result_clear(&res);
    if (rc != BK_OK) {
        bk_err_prefix(err, "error writing layer blob: ");
        return rc;
    }
    emit(r, BK_PROGRESS_BLOB_DONE, b, b->size, bk_clock_mono_seconds(&r->cache->clock) - start,
         NULL);
    pthread_mutex_lock(&r->lock);
    r->sum->uploaded++;
    r->sum->bytes_uploaded += b->size;
    pthread_mutex_unlock(&r->lock);
    return BK_OK;
}

static bk_code touch(export_run *r, bk_plan_blob *b, bk_err *err)
{
    char stamp[80];
    bk_s3cache_updated_at(bk_clock_wall_ns(&r->cache->clock), stamp, sizeof stamp);
    bk_s3_meta meta = {"updated-at", stamp};
    bk_s3_copy_options copy = {0};
    copy.directive = BK_S3_METADATA_REPLACE;
    copy.meta = &meta;
    copy.n_meta = 1;
    uint64_t limit = r->o->copy_limit ? r->o->copy_limit : BK_S3_MAX_COPY_SIZE;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_copy_any_size(r->cache->client, b->key, b->key, b->remote.size, limit, &copy,
                                     &res, err);
    bk_s3_result_clear(&res);
    if (rc != BK_OK) {
        bk_err_prefix(err, "failed to touch file: ");
        return rc;
    }
    emit(r, BK_PROGRESS_BLOB_TOUCH, b, b->remote.size, 0, NULL);
    count(r, &r->sum->touched);
    return BK_OK;
}

static bk_code carry_out(void *ctx, size_t index, bk_err *err)
{
    export_run *r = ctx;
    bk_plan_blob *b = &r->plan->blobs[index];
    char why[300];
    switch (b->decision.action) {
    case BK_BLOB_SKIP:
        emit(r, BK_PROGRESS_BLOB_SKIP, b, b->size, 0, NULL);
        count(r, &r->sum->skipped);
        return BK_OK;
    case BK_BLOB_TOUCH:
        return touch(r, b, err);
    case BK_BLOB_UPLOAD:
        emit(r, BK_PROGRESS_BLOB_START, b, b->size, 0, NULL);
        return upload(r, b, err);
    case BK_BLOB_REUPLOAD:
        bk_plan_reason_text(r->plan, b, why, sizeof why);
        emit(r, BK_PROGRESS_BLOB_REUPLOAD, b, b->size, 0, why);
        count(r, &r->sum->reuploaded);
        return upload(r, b, err);
    }
    return bk_err_set(err, BK_EINVAL, "export: unknown action for %s", b->key);
}

/* What is already settled, reported as carry_out would (a dry run reports
 * it too). */
static void report_skips(export_run *r)
{
    for (size_t i = 0; i < r->plan->n_blobs; i++) {
        bk_plan_blob *b = &r->plan->blobs[i];
        if (b->decision.action == BK_BLOB_SKIP) {
            emit(r, BK_PROGRESS_BLOB_SKIP, b, b->size, 0, NULL);
            r->sum->skipped++;
        }
    }
}

/* Large mode=max configs go multipart like blobs: staged in a file. */
static bk_code stage_manifest(const bk_buf *json, int *fd, bk_err *err)
{
    FILE *tmp = tmpfile();
    if (tmp == NULL || fwrite(json->data, 1, json->len, tmp) != json->len || fflush(tmp) != 0) {
        if (tmp)
            fclose(tmp);
        return bk_err_set(err, BK_EIO, "staging the manifest for upload: %s", strerror(errno));
    }
    *fd = dup(fileno(tmp));
    fclose(tmp);
    if (*fd < 0)
        return bk_err_set(err, BK_EIO, "staging the manifest for upload: %s", strerror(errno));
    return BK_OK;
}

static bk_code write_manifest(export_run *r, size_t i, const bk_buf *json, int fd, bk_err *err)
{
    const char *key = r->plan->manifest_keys[i];
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_s3_put_options cond = {0};
    cond.content_type = UPLOAD_CONTENT_TYPE;
    bk_s3_put_options plain = {0}; /* a staged (large) manifest: no condition */
    plain.content_type = UPLOAD_CONTENT_TYPE;
    if (r->manifest_etags != NULL) {
        if (r->manifest_etags[i][0] != '\0')
            cond.if_match = r->manifest_etags[i];
        else
            cond.if_none_match = 1;
    }
    bk_code rc;
    if (fd >= 0)
        rc = bk_s3_upload_fd(r->cache->client, key, fd, 0, json->len, &plain, &res, err);
    else
        rc = bk_s3_put_mem(r->cache->client, key, json->data, json->len, &cond, &res, err);
    if (rc != BK_OK && res.status == 412)
        rc = bk_err_set(err, BK_ES3,
                        "manifest %s was written by someone else since this export started; not "
                        "overwritten (manifest_if_match=true)",
                        key);
    else if (rc != BK_OK)
        bk_err_prefix(err, "error writing manifest: %s: ", r->cache->layout.names[i]);
    bk_s3_result_clear(&res);
    if (rc == BK_OK) {
        bk_progress_event ev = {BK_PROGRESS_MANIFEST, NULL, key, json->len, 0, 0, NULL};
        if (r->o->progress != NULL)
            r->o->progress(r->o->progress_ud, &ev);
        r->sum->manifests++;
    }
    return rc;
}

static bk_code write_manifests(export_run *r, const bk_buf *json, bk_err *err)
{
    uint64_t threshold =
        r->o->multipart_threshold ? r->o->multipart_threshold : BK_S3_DEFAULT_MULTIPART_THRESHOLD;
    int fd = -1;
    bk_code rc = BK_OK;
    /* A conditional write is one PutObject (S3 takes up to 5 GiB in one). */
    if (json->len >= threshold && r->manifest_etags == NULL)
        rc = stage_manifest(json, &fd, err);
    for (size_t i = 0; i < r->plan->n_manifests && rc == BK_OK; i++)
        rc = write_manifest(r, i, json, fd, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

static bk_code run_export(export_run *r, const bk_cache_config *cfg, bk_err *err)
{
    const bk_export_options *o = r->o;
    uint64_t total = 0;
    bk_code rc = gather_blobs(r, cfg, &total, err);
    if (rc == BK_OK)
        rc = gather_manifest_keys(r, err);
    if (rc != BK_OK)
        return rc;
    r->sum->blobs = r->plan->n_blobs;
    if (o->progress) {
        bk_progress_event ev = {BK_PROGRESS_PLAN, NULL, NULL, total, r->plan->n_blobs, 0, NULL};
        o->progress(o->progress_ud, &ev);
    }
    if (r->cache->policy.manifest_if_match && (rc = capture_manifest_etags(r, err)) != BK_OK)
        return rc;
    if ((rc = check_presence(r, err)) != BK_OK)
        return rc;
    decide(r);

    bk_buf json = BK_BUF_INIT;
    rc = bk_config_encode(cfg, &json, err);
    if (rc == BK_OK)
        rc = bk_buf_check(&json, err);
    r->plan->manifest_size = json.len;
    /* A dry run, or a plan with nothing to carry out (the warm re-export):
     * the skips are reported here, with no workers to start. */
    if (rc == BK_OK &&
        (o->dry_run || bk_export_plan_count(r->plan, BK_BLOB_SKIP) == r->plan->n_blobs))
        report_skips(r);
    else if (rc == BK_OK)
        rc = bk__workpool_run(r->plan->n_blobs, workers(r), carry_out, r, err);
    if (rc == BK_OK && !o->dry_run)
        rc = write_manifests(r, &json, err);
    bk_buf_clear(&json);
    return rc;
}

/* ignore-error: the failure becomes a warning and the summary says so. */
static bk_code ignore_failure(export_run *r, bk_export_summary *summary, const bk_err *err)
{
    summary->failed = 1;
    snprintf(summary->error, sizeof summary->error, "%s", err ? err->msg : "export failed");
    if (r->o->progress) {
        char msg[BK_ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "export failed, ignored (ignore-error=true): %s", summary->error);
        bk_progress_event ev = {BK_PROGRESS_WARNING, NULL, NULL, 0, 0, 0, msg};
        r->o->progress(r->o->progress_ud, &ev);
    }
    return BK_OK;
}

bk_code bk_export_config(const bk_export_options *o, const bk_cache_config *cfg,
                         bk_export_summary *summary, bk_err *err)
{
    bk_export_summary local;
    if (summary == NULL)
        summary = &local;
    memset(summary, 0, sizeof *summary);
    if (o == NULL || o->cache == NULL || o->store == NULL || cfg == NULL)
        return bk_err_set(err, BK_EINVAL, "export: cache, store and config are required");
    bk_export_plan own_plan = {0};
    export_run r = {0};
    r.o = o;
    r.cache = o->cache;
    r.sum = summary;
    r.plan = o->plan != NULL ? o->plan : &own_plan;
    bk_export_plan_clear(r.plan);
    double start = bk_clock_mono_seconds(&r.cache->clock);
    /* A listing started before the export is part of it. */
    unsigned long long requests_before = o->listing != NULL
                                             ? bk__listing_requests_before(o->listing)
                                             : bk_s3_client_requests(r.cache->client);
    unsigned long long hashed_before = bk_s3_client_bytes_hashed(r.cache->client);
    pthread_mutex_init(&r.lock, NULL);
    bk_code rc = run_export(&r, cfg, err);
    free(r.manifest_etags);
    pthread_mutex_destroy(&r.lock);
    bk_export_plan_clear(&own_plan);
    summary->seconds = bk_clock_mono_seconds(&r.cache->clock) - start;
    if (o->listing != NULL) /* its work before the export started is the export's too */
        summary->seconds += bk__listing_seconds_before(o->listing, start);
    summary->requests = (size_t)(bk_s3_client_requests(r.cache->client) - requests_before);
    summary->payload_bytes_hashed = bk_s3_client_bytes_hashed(r.cache->client) - hashed_before;
    if (rc != BK_OK && r.cache->policy.ignore_error)
        return ignore_failure(&r, summary, err);
    return rc;
}
