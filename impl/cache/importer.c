#include "bkcache/importer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bkcache/chains.h"
#include "workpool.h"

typedef struct fetch_job {
    const char *digest; /* borrowed from the manifest */
    size_t layer;       /* the first layer that carries this blob */
    uint64_t size;
    char *key;
    int missing;
} fetch_job;

typedef struct import_run {
    const bk_import_options *o;
    bk_import_result *res;
    fetch_job *jobs;
    size_t n;
    pthread_mutex_t lock;
} import_run;

static void emit(const import_run *r, bk_progress_kind kind, const fetch_job *job, uint64_t size,
                 double seconds, const char *message)
{
    if (r->o->progress == NULL)
        return;
    bk_progress_event ev = {
        kind, job ? job->digest : NULL, job ? job->key : NULL, size, 0, seconds, message};
    r->o->progress(r->o->progress_ud, &ev);
}

static int write_to_blob(void *ud, const void *data, size_t len, bk_err *err)
{
    return bk_blob_writer_write(ud, data, len, err) == BK_OK ? 0 : -1;
}

/* Downloads one blob into dest (or HEADs it without dest). A 404 marks it
 * missing; anything else is an error. */
static bk_code fetch(import_run *r, fetch_job *job, bk_err *err)
{
    const bk_import_options *o = r->o;
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_code rc;
    if (o->dest == NULL) {
        rc = bk_s3_head(o->cache->client, job->key, &res, err);
        if (rc != BK_OK && bk_s3_result_is_not_found(&res)) {
            job->missing = 1;
            rc = BK_OK;
        } else if (rc == BK_OK && res.has_size && res.size != job->size) {
            rc = bk_err_set(err, BK_EINTEGRITY, "blob %s: expected size %llu, the bucket has %llu",
                            job->digest, (unsigned long long)job->size,
                            (unsigned long long)res.size);
        }
        bk_s3_result_clear(&res);
        return rc;
    }
    /* Already there and whole (size checked before any byte is hashed): keep it. */
    if (bk_store_verify_blob(o->dest, job->digest, job->size, NULL) == BK_OK) {
        pthread_mutex_lock(&r->lock);
        r->res->already_present++;
        pthread_mutex_unlock(&r->lock);
        return BK_OK;
    }
    bk_err werr;
    bk_err_clear(&werr);
    bk_blob_writer *w = bk_store_blob_writer(o->dest, job->digest, job->size, &werr);
    if (w == NULL)
        return bk_err_set(err, werr.code, "%s", werr.msg);
    emit(r, BK_PROGRESS_BLOB_FETCH, job, job->size, 0, NULL);
    double start = bk_clock_mono_seconds(&o->cache->clock);
    /* The client resumes a broken body with Range and hands each byte over once. */
    rc = bk_s3_get(o->cache->client, job->key, NULL, write_to_blob, w, &res, err);
    if (rc != BK_OK) {
        bk_blob_writer_abort(w);
        if (bk_s3_result_is_not_found(&res)) {
            job->missing = 1;
            rc = BK_OK;
        }
        bk_s3_result_clear(&res);
        return rc;
    }
    bk_s3_result_clear(&res);
    rc = bk_blob_writer_commit(w, err);
    if (rc != BK_OK) {
        bk_err_prefix(err, "%s: ", job->key);
        return rc;
    }
    emit(r, BK_PROGRESS_BLOB_FETCHED, job, job->size,
         bk_clock_mono_seconds(&o->cache->clock) - start, NULL);
    pthread_mutex_lock(&r->lock);
    r->res->fetched++;
    r->res->bytes_fetched += job->size;
    pthread_mutex_unlock(&r->lock);
    return BK_OK;
}

static bk_code fetch_one(void *ctx, size_t index, bk_err *err)
{
    import_run *r = ctx;
    return fetch(r, &r->jobs[index], err);
}

static bk_code read_manifest(import_run *r, bk_err *err)
{
    const bk_import_options *o = r->o;
    bk_import_result *res = r->res;
    res->manifest_key = bk_s3cache_manifest_key(o->cache, o->cache->layout.names[0]);
    if (res->manifest_key == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_buf body = BK_BUF_INIT;
    bk_s3_result sres = BK_S3_RESULT_INIT;
    size_t max = o->max_manifest_bytes ? o->max_manifest_bytes : BK_S3CACHE_MANIFEST_MAX;
    bk_code rc =
        bk_s3_get_to_buf(o->cache->client, res->manifest_key, NULL, max, &body, &sres, err);
    if (rc != BK_OK) {
        int not_found = bk_s3_result_is_not_found(&sres);
        bk_s3_result_clear(&sres);
        bk_buf_clear(&body);
        if (not_found) {
            res->found = 0;
            return BK_OK;
        }
        return rc;
    }
    bk_s3_result_clear(&sres);
    res->found = 1;
    if (o->progress) {
        bk_progress_event ev = {
            BK_PROGRESS_MANIFEST, NULL, res->manifest_key, body.len, 0, 0, NULL};
        o->progress(o->progress_ud, &ev);
    }
    rc = bk_config_parse(bk_buf_str(&body), body.len, &res->manifest, err);
    bk_buf_clear(&body);
    if (rc == BK_OK)
        rc = bk_config_validate(res->manifest, BK_VALIDATE_S3, err);
    if (rc != BK_OK)
        bk_err_prefix(err, "manifest %s: ", res->manifest_key);
    return rc;
}

/* Rebuilds the config from the layers whose blobs exist: BuildKit's parser
 * gives no result to a layer it has no descriptor for. */
static bk_code build_usable(import_run *r, bk_err *err)
{
    const bk_cache_config *cfg = r->res->manifest;
    bk_descriptor *descs = calloc(cfg->n_layers ? cfg->n_layers : 1, sizeof *descs);
    if (descs == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    size_t n = 0;
    /* One descriptor per blob that exists: the jobs are exactly the distinct blobs. */
    for (size_t j = 0; j < r->n; j++) {
        if (r->jobs[j].missing)
            continue;
        const bk_cache_layer *l = &cfg->layers[r->jobs[j].layer];
        /* Borrowed strings: descs only lives through the parse below. */
        descs[n].media_type = l->annotations->media_type;
        descs[n].digest = l->blob;
        descs[n].size = l->annotations->size;
        descs[n].diff_id = l->annotations->diff_id;
        descs[n].created_at = l->annotations->created_at;
        descs[n].has_created_at = true;
        n++;
    }
    bk_chains *chains = NULL;
    bk_code rc = bk_chains_parse(cfg, descs, n, BK_VALIDATE_S3, &chains, err);
    if (rc == BK_OK)
        rc = bk_chains_marshal(chains, BK_MARSHAL_ANNOTATIONS, NULL, NULL, &r->res->usable, err);
    bk_chains_free(chains);
    free(descs);
    if (rc == BK_OK) {
        size_t before = 0, after = 0;
        for (size_t i = 0; i < cfg->n_records; i++)
            before += cfg->records[i].n_results + cfg->records[i].n_chains;
        for (size_t i = 0; i < r->res->usable->n_records; i++)
            after += r->res->usable->records[i].n_results + r->res->usable->records[i].n_chains;
        r->res->dropped_results = before > after ? before - after : 0;
    }
    return rc;
}

/* One job per distinct blob of the manifest; *total gets their bytes. */
static bk_code plan_fetches(import_run *r, uint64_t *total, bk_err *err)
{
    const bk_cache_config *cfg = r->res->manifest;
    size_t n_blobs = 0;
    size_t *first = bk_config_blob_layers(cfg, &n_blobs);
    r->jobs = calloc(n_blobs ? n_blobs : 1, sizeof *r->jobs);
    if (first == NULL || r->jobs == NULL) {
        free(first);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    bk_code rc = BK_OK;
    *total = 0;
    for (size_t i = 0; i < n_blobs && rc == BK_OK; i++) {
        const bk_cache_layer *layer = &cfg->layers[first[i]];
        fetch_job *job = &r->jobs[r->n];
        job->layer = first[i];
        job->digest = layer->blob;
        /* Validation guaranteed annotations on every layer of the S3 form. */
        job->size = (uint64_t)layer->annotations->size;
        rc = bk_digest_validate(job->digest, NULL, err);
        if (rc != BK_OK) {
            bk_err_prefix(err, "manifest %s: ", r->res->manifest_key);
            break;
        }
        job->key = bk_s3cache_blob_key(r->o->cache, job->digest);
        if (job->key == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        r->n++;
        *total += job->size;
    }
    free(first);
    return rc;
}

static bk_code collect_missing(import_run *r, bk_err *err)
{
    bk_import_result *res = r->res;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->jobs[i].missing)
            continue;
        char **grown = realloc(res->missing_keys, (res->n_missing + 1) * sizeof *grown);
        if (grown == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        res->missing_keys = grown;
        res->missing_keys[res->n_missing] = strdup(r->jobs[i].key);
        if (res->missing_keys[res->n_missing] == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        res->n_missing++;
    }
    return BK_OK;
}

/* Missing blobs fail the import (missing=error) or drop their results with
 * a warning naming the first keys. */
static bk_code report_missing(import_run *r, bk_err *err)
{
    bk_import_result *res = r->res;
    if (res->n_missing == 0)
        return BK_OK;
    bk_buf keys = BK_BUF_INIT;
    for (size_t i = 0; i < res->n_missing && i < 10; i++)
        bk_buf_printf(&keys, "%s%s", i ? ", " : "", res->missing_keys[i]);
    if (res->n_missing > 10)
        bk_buf_printf(&keys, " and %zu more", res->n_missing - 10);
    bk_code rc = BK_OK;
    if (r->o->missing == BK_MISSING_ERROR) {
        rc = bk_err_set(err, BK_ENOTFOUND,
                        "manifest %s references %zu missing blob(s): %s (expired by a lifecycle "
                        "rule?)",
                        res->manifest_key, res->n_missing, bk_buf_str(&keys));
    } else {
        char msg[BK_ERR_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "%zu referenced blob(s) missing from the bucket, their results dropped (those "
                 "steps will rebuild): %s",
                 res->n_missing, bk_buf_str(&keys));
        emit(r, BK_PROGRESS_WARNING, NULL, 0, 0, msg);
    }
    bk_buf_clear(&keys);
    return rc;
}

static bk_code run_import(import_run *r, bk_err *err)
{
    bk_code rc = read_manifest(r, err);
    if (rc != BK_OK || !r->res->found)
        return rc;
    uint64_t total = 0;
    if ((rc = plan_fetches(r, &total, err)) != BK_OK)
        return rc;
    r->res->blobs = r->n;
    if (r->o->progress) {
        bk_progress_event ev = {BK_PROGRESS_PLAN, NULL, NULL, total, r->n, 0, NULL};
        r->o->progress(r->o->progress_ud, &ev);
    }
    int workers =
        r->o->cache->policy.upload_parallelism > 0 ? r->o->cache->policy.upload_parallelism : 4;
    rc = bk__workpool_run(r->n, workers, fetch_one, r, err);
    if (rc == BK_OK)
        rc = collect_missing(r, err);
    if (rc == BK_OK)
        rc = report_missing(r, err);
    if (rc == BK_OK)
        rc = build_usable(r, err);
    return rc;
}

bk_code bk_import(const bk_import_options *o, bk_import_result *res, bk_err *err)
{
    memset(res, 0, sizeof *res);
    if (o == NULL || o->cache == NULL)
        return bk_err_set(err, BK_EINVAL, "import: an S3 cache is required");
    double start = bk_clock_mono_seconds(&o->cache->clock);
    unsigned long long requests_before = bk_s3_client_requests(o->cache->client);
    import_run r = {0};
    r.o = o;
    r.res = res;
    pthread_mutex_init(&r.lock, NULL);
    bk_code rc = run_import(&r, err);
    for (size_t i = 0; i < r.n; i++)
        free(r.jobs[i].key);
    free(r.jobs);
    pthread_mutex_destroy(&r.lock);
    res->seconds = bk_clock_mono_seconds(&o->cache->clock) - start;
    res->requests = (size_t)(bk_s3_client_requests(o->cache->client) - requests_before);
    return rc;
}

void bk_import_result_clear(bk_import_result *res)
{
    if (res == NULL)
        return;
    free(res->manifest_key);
    bk_config_free(res->manifest);
    bk_config_free(res->usable);
    for (size_t i = 0; i < res->n_missing; i++)
        free(res->missing_keys[i]);
    free(res->missing_keys);
    memset(res, 0, sizeof *res);
}

/* ---- the imported graph as JSON ---- */

static json_t *layer_chain(const bk_cache_config *cfg, int64_t top)
{
    /* Walk parents from the top, then reverse: base first. Bounded by the
     * layer count, so a loop (already refused by validation) cannot hang. */
    json_t *chain = json_array();
    size_t steps = 0;
    for (int64_t i = top; i >= 0 && (size_t)i < cfg->n_layers && steps <= cfg->n_layers; steps++) {
        json_array_insert_new(chain, 0, json_string(cfg->layers[i].blob));
        i = cfg->layers[i].parent;
    }
    return chain;
}

static int compare_by_digest(const void *a, const void *b)
{
    const char *da = json_string_value(json_object_get(*(json_t *const *)a, "digest"));
    const char *db = json_string_value(json_object_get(*(json_t *const *)b, "digest"));
    return strcmp(da, db);
}

bk_code bk_import_graph_json(const bk_cache_config *cfg, bk_buf *out, bk_err *err)
{
    json_t *records = json_array();
    for (size_t i = 0; cfg != NULL && i < cfg->n_records; i++) {
        const bk_cache_record *rec = &cfg->records[i];
        json_t *inputs = json_array();
        for (size_t k = 0; k < rec->n_inputs; k++) {
            json_t *links = json_array();
            for (size_t l = 0; l < rec->inputs[k].n_links; l++) {
                const bk_cache_input *in = &rec->inputs[k].links[l];
                const char *dig = (in->link >= 0 && (size_t)in->link < cfg->n_records)
                                      ? cfg->records[in->link].digest
                                      : "";
                json_array_append_new(links,
                                      json_pack("{s:s,s:s}", "digest", dig ? dig : "", "selector",
                                                in->selector ? in->selector : ""));
            }
            json_array_append_new(inputs, links);
        }
        json_t *results = json_array();
        for (size_t k = 0; k < rec->n_results; k++)
            json_array_append_new(results, layer_chain(cfg, rec->results[k].layer));
        for (size_t k = 0; k < rec->n_chains; k++) {
            json_t *chain = json_array();
            for (size_t l = 0; l < rec->chains[k].n_layers; l++) {
                int64_t li = rec->chains[k].layers[l];
                if (li >= 0 && (size_t)li < cfg->n_layers)
                    json_array_append_new(chain, json_string(cfg->layers[li].blob));
            }
            json_array_append_new(results, chain);
        }
        json_array_append_new(records,
                              json_pack("{s:s,s:o,s:o}", "digest", rec->digest ? rec->digest : "",
                                        "inputs", inputs, "results", results));
    }
    /* Sorted by digest, so two importers' outputs compare as text. */
    size_t n = json_array_size(records);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    json_t **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL) {
        json_decref(records);
        return bk_err_set(err, BK_ENOMEM, "out of memory writing the imported graph");
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_incref(json_array_get(records, i));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    qsort(sorted, n, sizeof *sorted, compare_by_digest);
    json_array_clear(records);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(records, sorted[i]);
    free(sorted);
    json_t *doc = json_pack("{s:o}", "records", records);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (text == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory writing the imported graph");
    bk_buf_puts(out, text);
    free(text);
    return bk_buf_check(out, err);
}
