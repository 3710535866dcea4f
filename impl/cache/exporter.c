#include "bkcache/exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bkcache/buf.h"
#include "bkcache/s3cache.h"
#include "workpool.h"

#define DEFAULT_COPY_LIMIT (5ULL * 1024 * 1024 * 1024)
#define DEFAULT_THRESHOLD (16ULL * 1024 * 1024)

typedef enum presence { UNKNOWN = 0, ABSENT, PRESENT } presence;

typedef struct blob_job {
    const char *digest; /* borrowed from the config */
    uint64_t size;      /* the descriptor's size */
    char *key;
    presence state;
    int has_remote_size;
    uint64_t remote_size;
    int has_remote_time;
    int64_t remote_mtime; /* seconds since the epoch */
} blob_job;

typedef struct export_run {
    const bk_export_options *o;
    blob_job *jobs;
    size_t n;
    pthread_mutex_t lock;
    bk_export_summary *sum;
    /* manifest_if_match: each name's ETag when the export started ("" = absent). */
    char (*manifest_etags)[128];
} export_run;

static int64_t real_now_ns(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emit(const export_run *r, bk_progress_kind kind, const blob_job *job, uint64_t size,
                 double seconds, const char *message)
{
    if (r->o->progress == NULL)
        return;
    bk_progress_event ev = {
        kind, job ? job->digest : NULL, job ? job->key : NULL, size, 0, seconds, message};
    r->o->progress(r->o->progress_ud, &ev);
}

/* HEAD the blob unless a listing already said where it stands. */
static bk_code check_presence(export_run *r, blob_job *job, bk_err *err)
{
    if (job->state != UNKNOWN)
        return BK_OK;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_head(r->o->client, job->key, &res, err);
    if (rc == BK_OK) {
        job->state = PRESENT;
        job->has_remote_size = res.has_size;
        job->remote_size = res.size;
        job->has_remote_time = res.has_last_modified;
        job->remote_mtime = (int64_t)res.last_modified;
    } else if (bk_s3_result_is_not_found(&res)) {
        job->state = ABSENT;
        rc = BK_OK;
    } else {
        bk_err_prefix(err, "failed to check file presence in cache: ");
    }
    bk_s3_result_clear(&res);
    return rc;
}

static bk_code upload(export_run *r, blob_job *job, bk_err *err)
{
    const bk_export_options *o = r->o;
    /* Hash once: the verified digest doubles as the payload hash of a single PUT. */
    int fd = -1;
    uint64_t size = job->size;
    bk_code rc = bk_store_open_verified(o->store, job->digest, job->size, &fd, err);
    if (rc != BK_OK)
        return rc;
    double start = mono_seconds();
    bk_s3_put_options put = {0};
    put.payload_sha256 = job->digest + strlen("sha256:");
    bk_s3_result res = BK_S3_RESULT_INIT;
    rc = bk_s3_upload_fd(o->client, job->key, fd, 0, size, &put, &res, err);
    close(fd);
    bk_s3_result_clear(&res);
    if (rc != BK_OK)
        return bk_err_prefix(err, "error writing layer blob: ");
    emit(r, BK_PROGRESS_BLOB_DONE, job, size, mono_seconds() - start, NULL);
    pthread_mutex_lock(&r->lock);
    r->sum->uploaded++;
    r->sum->bytes_uploaded += size;
    pthread_mutex_unlock(&r->lock);
    return BK_OK;
}

static bk_code touch(export_run *r, blob_job *job, bk_err *err)
{
    const bk_export_options *o = r->o;
    char stamp[80];
    bk_s3cache_updated_at(stamp, sizeof stamp);
    bk_s3_meta meta = {"updated-at", stamp};
    bk_s3_copy_options copy = {0};
    copy.directive = BK_S3_METADATA_REPLACE;
    copy.meta = &meta;
    copy.n_meta = 1;
    uint64_t limit = o->copy_limit ? o->copy_limit : DEFAULT_COPY_LIMIT;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc = bk_s3_copy_any_size(o->client, job->key, job->key, job->remote_size, limit, &copy,
                                     &res, err);
    bk_s3_result_clear(&res);
    if (rc != BK_OK)
        return bk_err_prefix(err, "failed to touch file: ");
    emit(r, BK_PROGRESS_BLOB_TOUCH, job, job->remote_size, 0, NULL);
    pthread_mutex_lock(&r->lock);
    r->sum->touched++;
    pthread_mutex_unlock(&r->lock);
    return BK_OK;
}

static bk_code process(export_run *r, blob_job *job, bk_err *err)
{
    const bk_export_options *o = r->o;
    bk_code rc = check_presence(r, job, err);
    if (rc != BK_OK)
        return rc;
    char why[200];
    if (job->state == ABSENT) {
        if (o->dry_run) {
            snprintf(why, sizeof why, "upload %s (%llu bytes)", job->key,
                     (unsigned long long)job->size);
            emit(r, BK_PROGRESS_BLOB_PLANNED, job, job->size, 0, why);
            return BK_OK;
        }
        emit(r, BK_PROGRESS_BLOB_START, job, job->size, 0, NULL);
        return upload(r, job, err);
    }
    /* A present object without a trustworthy size cannot vouch for the blob. */
    if (!job->has_remote_size || job->remote_size != job->size) {
        if (job->has_remote_size)
            snprintf(why, sizeof why, "present with size %llu, expected %llu: uploading again",
                     (unsigned long long)job->remote_size, (unsigned long long)job->size);
        else
            snprintf(why, sizeof why, "present without a size: uploading again");
        if (o->dry_run) {
            char plan[300];
            snprintf(plan, sizeof plan, "re-upload %s (%s)", job->key, why);
            emit(r, BK_PROGRESS_BLOB_PLANNED, job, job->size, 0, plan);
            return BK_OK;
        }
        emit(r, BK_PROGRESS_BLOB_REUPLOAD, job, job->size, 0, why);
        pthread_mutex_lock(&r->lock);
        r->sum->reuploaded++;
        pthread_mutex_unlock(&r->lock);
        return upload(r, job, err);
    }
    int64_t now = o->now_ns ? o->now_ns(o->now_ud) : real_now_ns(NULL);
    /* No Last-Modified: the age is unknown, so refresh it rather than trust it. */
    int stale = !job->has_remote_time ||
                now - job->remote_mtime * 1000000000LL > o->attrs->touch_refresh_ns;
    if (stale) {
        if (o->dry_run) {
            snprintf(why, sizeof why, "touch %s", job->key);
            emit(r, BK_PROGRESS_BLOB_PLANNED, job, job->remote_size, 0, why);
            return BK_OK;
        }
        return touch(r, job, err);
    }
    emit(r, BK_PROGRESS_BLOB_SKIP, job, job->size, 0, NULL);
    pthread_mutex_lock(&r->lock);
    r->sum->skipped++;
    pthread_mutex_unlock(&r->lock);
    return BK_OK;
}

static bk_code process_one(void *ctx, size_t index, bk_err *err)
{
    export_run *r = ctx;
    return process(r, &r->jobs[index], err);
}

static int compare_jobs_by_key(const void *a, const void *b)
{
    return strcmp(((const blob_job *)a)->key, ((const blob_job *)b)->key);
}

typedef struct listing_ctx {
    export_run *run;
    blob_job *sorted; /* jobs sorted by key */
} listing_ctx;

static int on_listed(void *ud, const bk_s3_object *obj)
{
    listing_ctx *l = ud;
    blob_job probe = {0};
    probe.key = obj->key;
    blob_job *job = bsearch(&probe, l->sorted, l->run->n, sizeof probe, compare_jobs_by_key);
    if (job != NULL) {
        job->state = PRESENT;
        job->has_remote_size = 1;
        job->remote_size = obj->size;
        job->has_remote_time = 1;
        job->remote_mtime = (int64_t)obj->last_modified;
    }
    return 0;
}

/* existence_check=list: one walk of the blobs prefix instead of one HEAD per
 * blob. Listed keys are present; the rest are absent. On 403 (no
 * s3:ListBucket) it leaves every job UNKNOWN so the workers HEAD them. */
static bk_code list_existing(export_run *r, bk_err *err)
{
    const bk_s3_attrs *a = r->o->attrs;
    size_t plen = strlen(a->prefix) + strlen(a->blobs_prefix);
    char *prefix = malloc(plen + 1);
    if (prefix == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory listing blobs");
    snprintf(prefix, plen + 1, "%s%s", a->prefix, a->blobs_prefix);
    qsort(r->jobs, r->n, sizeof *r->jobs, compare_jobs_by_key);
    listing_ctx l = {r, r->jobs};
    bk_s3_list_params params = {0};
    params.prefix = prefix;
    bk_err lerr;
    bk_err_clear(&lerr);
    bk_code rc = bk_s3_list_each(r->o->client, &params, on_listed, &l, &lerr);
    free(prefix);
    if (rc == BK_OK) {
        for (size_t i = 0; i < r->n; i++) {
            if (r->jobs[i].state == UNKNOWN)
                r->jobs[i].state = ABSENT;
        }
        return BK_OK;
    }
    if (strstr(lerr.msg, "403") != NULL || strstr(lerr.msg, "AccessDenied") != NULL) {
        char msg[BK_ERR_MSG_MAX + 80];
        snprintf(msg, sizeof msg, "existence_check=list: listing refused, falling back to HEAD: %s",
                 lerr.msg);
        emit(r, BK_PROGRESS_WARNING, NULL, 0, 0, msg);
        for (size_t i = 0; i < r->n; i++)
            r->jobs[i].state = UNKNOWN;
        return BK_OK;
    }
    if (err != NULL)
        *err = lerr;
    return bk_err_prefix(err, "existence_check=list: ");
}

/* manifest_if_match: remember what each manifest was before any blob work,
 * so the final write can refuse to replace a manifest someone else wrote. */
static bk_code capture_manifest_etags(export_run *r, bk_err *err)
{
    const bk_s3_attrs *a = r->o->attrs;
    r->manifest_etags = calloc(a->n_names, sizeof *r->manifest_etags);
    if (r->manifest_etags == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < a->n_names; i++) {
        char *key = bk_s3_attrs_manifest_key(a, a->names[i]);
        if (key == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        bk_s3_result res = BK_S3_RESULT_INIT;
        bk_code rc = bk_s3_head(r->o->client, key, &res, err);
        if (rc == BK_OK) {
            snprintf(r->manifest_etags[i], sizeof r->manifest_etags[i], "%s", res.etag);
        } else if (bk_s3_result_is_not_found(&res)) {
            rc = BK_OK;
        } else {
            bk_err_prefix(err, "manifest_if_match: reading the current manifest %s: ", key);
        }
        bk_s3_result_clear(&res);
        free(key);
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

static bk_code write_manifests(export_run *r, const bk_buf *json, bk_err *err)
{
    const bk_export_options *o = r->o;
    const bk_s3_attrs *a = o->attrs;
    uint64_t threshold = o->multipart_threshold ? o->multipart_threshold : DEFAULT_THRESHOLD;
    int fd = -1;
    /* A conditional write is one PutObject (S3 takes up to 5 GiB in one). */
    if (!o->dry_run && json->len >= threshold && r->manifest_etags == NULL) {
        /* Large mode=max configs go multipart like blobs: stage them in a file. */
        FILE *tmp = tmpfile();
        if (tmp == NULL || fwrite(json->data, 1, json->len, tmp) != json->len || fflush(tmp) != 0) {
            if (tmp)
                fclose(tmp);
            return bk_err_set(err, BK_EIO, "staging the manifest for upload: %s", strerror(errno));
        }
        fd = dup(fileno(tmp));
        fclose(tmp);
        if (fd < 0)
            return bk_err_set(err, BK_EIO, "staging the manifest for upload: %s", strerror(errno));
    }
    bk_code rc = BK_OK;
    for (size_t i = 0; i < a->n_names && rc == BK_OK; i++) {
        char *key = bk_s3_attrs_manifest_key(a, a->names[i]);
        if (key == NULL) {
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
            break;
        }
        blob_job mjob = {0};
        mjob.key = key;
        if (o->dry_run) {
            char plan[1200];
            snprintf(plan, sizeof plan, "write manifest %s (%zu bytes)", key, json->len);
            emit(r, BK_PROGRESS_BLOB_PLANNED, &mjob, json->len, 0, plan);
            free(key);
            continue;
        }
        bk_s3_result res = BK_S3_RESULT_INIT;
        bk_s3_put_options cond = {0};
        if (r->manifest_etags != NULL) {
            if (r->manifest_etags[i][0] != '\0')
                cond.if_match = r->manifest_etags[i];
            else
                cond.if_none_match = 1;
        }
        if (fd >= 0)
            rc = bk_s3_upload_fd(o->client, key, fd, 0, json->len, NULL, &res, err);
        else
            rc = bk_s3_put_mem(o->client, key, json->data, json->len, &cond, &res, err);
        if (rc != BK_OK && res.status == 412) {
            bk_err_set(err, BK_ES3,
                       "manifest %s was written by someone else since this export started; not "
                       "overwritten (manifest_if_match=true)",
                       key);
        } else if (rc != BK_OK) {
            bk_err_prefix(err, "error writing manifest: %s: ", a->names[i]);
        }
        bk_s3_result_clear(&res);
        if (rc == BK_OK) {
            emit(r, BK_PROGRESS_MANIFEST, &mjob, json->len, 0, NULL);
            r->sum->manifests++;
        }
        free(key);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static bk_code run_export(export_run *r, const bk_cache_config *cfg, bk_err *err)
{
    const bk_export_options *o = r->o;
    /* One job per distinct blob; the config repeats a blob only across chains. */
    size_t n_blobs = 0;
    size_t *first = bk_config_blob_layers(cfg, &n_blobs);
    r->jobs = calloc(n_blobs ? n_blobs : 1, sizeof *r->jobs);
    if (first == NULL || r->jobs == NULL) {
        free(first);
        return bk_err_set(err, BK_ENOMEM, "out of memory planning the export");
    }
    uint64_t total = 0;
    bk_code rc = BK_OK;
    for (size_t i = 0; i < n_blobs && rc == BK_OK; i++) {
        const bk_cache_layer *layer = &cfg->layers[first[i]];
        blob_job *job = &r->jobs[r->n];
        job->digest = layer->blob ? layer->blob : "";
        if (layer->annotations == NULL) {
            rc = bk_err_set(err, BK_EINVAL,
                            "layer %s has no annotations: the S3 form needs size and diffID",
                            job->digest);
            break;
        }
        rc = bk_digest_validate(job->digest, NULL, err);
        if (rc != BK_OK)
            break;
        job->size = (uint64_t)layer->annotations->size;
        job->key = bk_s3_attrs_blob_key(o->attrs, job->digest);
        if (job->key == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory planning the export");
        r->n++;
        total += job->size;
    }
    free(first);
    if (rc != BK_OK)
        return rc;
    r->sum->blobs = r->n;
    if (o->progress) {
        bk_progress_event ev = {BK_PROGRESS_PLAN, NULL, NULL, total, r->n, 0, NULL};
        o->progress(o->progress_ud, &ev);
    }

    if (o->attrs->manifest_if_match && (rc = capture_manifest_etags(r, err)) != BK_OK)
        return rc;
    if (o->attrs->existence_check == BK_EXISTS_LIST && r->n > 0 &&
        (rc = list_existing(r, err)) != BK_OK)
        return rc;

    int workers = o->attrs->upload_parallelism > 0 ? o->attrs->upload_parallelism : 4;
    if ((rc = bk__workpool_run(r->n, workers, process_one, r, err)) != BK_OK)
        return rc;

    bk_buf json = BK_BUF_INIT;
    rc = bk_config_encode(cfg, &json, err);
    if (rc == BK_OK)
        rc = bk_buf_check(&json, err);
    if (rc == BK_OK)
        rc = write_manifests(r, &json, err);
    bk_buf_free(&json);
    return rc;
}

bk_code bk_export_config(const bk_export_options *o, const bk_cache_config *cfg,
                         bk_export_summary *summary, bk_err *err)
{
    bk_export_summary local;
    if (summary == NULL)
        summary = &local;
    memset(summary, 0, sizeof *summary);
    if (o == NULL || o->attrs == NULL || o->client == NULL || o->store == NULL || cfg == NULL)
        return bk_err_set(err, BK_EINVAL, "export: attrs, client, store and config are required");
    double start = mono_seconds();
    unsigned long long requests_before = bk_s3_client_requests(o->client);
    export_run r = {0};
    r.o = o;
    r.sum = summary;
    pthread_mutex_init(&r.lock, NULL);
    bk_code rc = run_export(&r, cfg, err);
    for (size_t i = 0; i < r.n; i++)
        free(r.jobs[i].key);
    free(r.jobs);
    free(r.manifest_etags);
    pthread_mutex_destroy(&r.lock);
    summary->seconds = mono_seconds() - start;
    summary->requests = (size_t)(bk_s3_client_requests(o->client) - requests_before);
    if (rc != BK_OK && o->attrs->ignore_error) {
        summary->failed = 1;
        snprintf(summary->error, sizeof summary->error, "%s", err ? err->msg : "export failed");
        if (o->progress) {
            char msg[BK_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "export failed, ignored (ignore-error=true): %s",
                     summary->error);
            bk_progress_event ev = {BK_PROGRESS_WARNING, NULL, NULL, 0, 0, 0, msg};
            o->progress(o->progress_ud, &ev);
        }
        return BK_OK;
    }
    return rc;
}
