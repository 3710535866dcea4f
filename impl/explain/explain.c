/* bkcache explain, the model: gathers manifests and blobs from a bucket, a
 * config file, a type=local directory or a graph fixture into a bk_explain. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bkcache/explain.h"
#include "bkcache/localcache.h"
#include "bkcache/store.h"
#include "explain_internal.h"

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

static void object_clear(bk_explain_object *o)
{
    free(o->key);
    memset(o, 0, sizeof *o);
}

void bk_explain_free(bk_explain *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_manifests; i++) {
        free(e->manifests[i].name);
        object_clear(&e->manifests[i].obj);
        bk_config_free(e->manifests[i].config);
        free(e->manifests[i].error);
    }
    free(e->manifests);
    for (size_t i = 0; i < e->n_blobs; i++) {
        free(e->blobs[i].digest);
        object_clear(&e->blobs[i].obj);
        free(e->blobs[i].manifests);
    }
    free(e->blobs);
    for (size_t i = 0; i < e->n_others; i++) {
        object_clear(&e->others[i].obj);
        free(e->others[i].role);
    }
    free(e->others);
    for (size_t i = 0; i < e->n_labels; i++) {
        free(e->labels[i].digest);
        free(e->labels[i].name);
    }
    free(e->labels);
    free(e->source);
    free(e->bucket);
    free(e->prefix);
    free(e->manifests_prefix);
    free(e->blobs_prefix);
    free(e);
}

static bk_explain *explain_new(bk_explain_kind kind, const char *source)
{
    bk_explain *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->kind = kind;
    e->source = dup_or_empty(source);
    if (e->source == NULL) {
        free(e);
        return NULL;
    }
    return e;
}

static bk_explain_manifest *add_manifest(bk_explain *e, const char *name, const char *key)
{
    bk_explain_manifest *m = realloc(e->manifests, (e->n_manifests + 1) * sizeof *m);
    if (m == NULL)
        return NULL;
    e->manifests = m;
    m = &e->manifests[e->n_manifests];
    memset(m, 0, sizeof *m);
    m->same_as = -1;
    m->name = dup_or_empty(name);
    m->obj.key = dup_or_empty(key);
    if (m->name == NULL || m->obj.key == NULL) {
        free(m->name);
        free(m->obj.key);
        return NULL;
    }
    e->n_manifests++;
    return m;
}

static bk_code add_other(bk_explain *e, const bk_explain_object *obj, const char *role, bk_err *err)
{
    bk_explain_other *o = realloc(e->others, (e->n_others + 1) * sizeof *o);
    if (o == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    e->others = o;
    o = &e->others[e->n_others];
    o->obj = *obj;
    o->obj.key = strdup(obj->key);
    o->role = strdup(role);
    if (o->obj.key == NULL || o->role == NULL) {
        free(o->obj.key);
        free(o->role);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    e->n_others++;
    return BK_OK;
}

/* ---- blobs: appended, then sorted once; lookups before the sort are linear
 * only over the unsorted tail ---- */

static int cmp_blob(const void *a, const void *b)
{
    return strcmp(((const bk_explain_blob *)a)->digest, ((const bk_explain_blob *)b)->digest);
}

static void sort_blobs(bk_explain *e)
{
    if (e->n_blobs > 1)
        qsort(e->blobs, e->n_blobs, sizeof *e->blobs, cmp_blob);
}

const bk_explain_blob *bk__explain_find_blob(const bk_explain *e, const char *digest)
{
    if (e == NULL || digest == NULL || e->n_blobs == 0)
        return NULL;
    bk_explain_blob key = {0};
    key.digest = (char *)digest;
    return bsearch(&key, e->blobs, e->n_blobs, sizeof *e->blobs, cmp_blob);
}

int bk__explain_blob_state(const bk_explain *e, const char *digest)
{
    const bk_explain_blob *b = bk__explain_find_blob(e, digest);
    if (b == NULL)
        return e->blobs_checked ? 0 : -1;
    return b->present;
}

static bk_explain_blob *append_blob(bk_explain *e, const char *digest, int present)
{
    bk_explain_blob *b = realloc(e->blobs, (e->n_blobs + 1) * sizeof *b);
    if (b == NULL)
        return NULL;
    e->blobs = b;
    b = &e->blobs[e->n_blobs];
    memset(b, 0, sizeof *b);
    b->present = present;
    b->digest = strdup(digest);
    if (b->digest == NULL)
        return NULL;
    e->n_blobs++;
    return b;
}

/* Records that manifest `mi` references every blob of its config. Blobs
 * [0, n_sorted) are sorted; later ones (referenced but not listed) are not. */
static bk_code add_references(bk_explain *e, size_t mi, size_t n_sorted, int unknown_present,
                              bk_err *err)
{
    const bk_cache_config *cfg = e->manifests[mi].config;
    if (cfg == NULL)
        return BK_OK;
    for (size_t i = 0; i < cfg->n_layers; i++) {
        const char *digest = cfg->layers[i].blob;
        if (digest == NULL || *digest == '\0')
            continue;
        bk_explain_blob *b = NULL;
        if (n_sorted > 0) {
            bk_explain_blob key = {0};
            key.digest = (char *)digest;
            b = bsearch(&key, e->blobs, n_sorted, sizeof *e->blobs, cmp_blob);
        }
        for (size_t j = n_sorted; b == NULL && j < e->n_blobs; j++)
            if (strcmp(e->blobs[j].digest, digest) == 0)
                b = &e->blobs[j];
        if (b == NULL && (b = append_blob(e, digest, unknown_present)) == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        if (b->n_manifests > 0 && b->manifests[b->n_manifests - 1] == mi)
            continue; /* the same blob on several layers of one manifest */
        size_t *m = realloc(b->manifests, (b->n_manifests + 1) * sizeof *m);
        if (m == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        b->manifests = m;
        m[b->n_manifests++] = mi;
    }
    return BK_OK;
}

/* Parses and checks one manifest's bytes into m. Problems are kept in
 * m->error, never returned: explaining a broken manifest is the point. */
static bk_code load_manifest(bk_explain_manifest *m, const char *json, size_t len, bk_err *err)
{
    bk_err perr;
    bk_err_clear(&perr);
    if (bk_config_parse(json, len, &m->config, &perr) != BK_OK) {
        m->config = NULL;
    } else if (bk_config_validate(m->config, BK_VALIDATE_S3, &perr) == BK_OK) {
        return BK_OK;
    }
    if (perr.code == BK_ENOMEM)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    m->error = strdup(perr.msg);
    return m->error != NULL ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory");
}

/* ---- a bucket ---- */

typedef struct listing {
    bk_explain_object *objs;
    size_t n, cap;
    int oom;
} listing;

static int collect(void *ud, const bk_s3_object *obj)
{
    listing *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        bk_explain_object *objs = realloc(l->objs, cap * sizeof *objs);
        if (objs == NULL) {
            l->oom = 1;
            return 1;
        }
        l->objs = objs;
        l->cap = cap;
    }
    bk_explain_object *o = &l->objs[l->n];
    o->key = strdup(obj->key);
    if (o->key == NULL) {
        l->oom = 1;
        return 1;
    }
    o->size = obj->size;
    o->last_modified = (int64_t)obj->last_modified;
    o->has_last_modified = obj->last_modified != 0;
    l->n++;
    return 0;
}

static int cmp_object(const void *a, const void *b)
{
    return strcmp(((const bk_explain_object *)a)->key, ((const bk_explain_object *)b)->key);
}

static void listing_clear(listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->objs[i].key);
    free(l->objs);
    memset(l, 0, sizeof *l);
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s != NULL)
        snprintf(s, la + lb + 1, "%s%s", a, b);
    return s;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bk_code read_object(bk_s3_client *client, bk_explain_manifest *m, size_t max, bk_buf *body,
                           bk_err *err)
{
    bk_s3_result res = BK_S3_RESULT_INIT;
    bk_err gerr;
    bk_err_clear(&gerr);
    bk_buf_reset(body);
    bk_code rc = bk_s3_get_to_buf(client, m->obj.key, NULL, max, body, &res, &gerr);
    if (rc == BK_OK) {
        m->obj.size = body->len;
        if (res.has_last_modified) {
            m->obj.last_modified = (int64_t)res.last_modified;
            m->obj.has_last_modified = 1;
        }
    } else if (bk_s3_result_is_not_found(&res)) {
        rc = BK_ENOTFOUND;
        bk_err_set(err, rc, "no manifest at %s: an import sees an empty cache", m->obj.key);
    } else {
        bk_err_set(err, rc, "%s", gerr.msg);
    }
    bk_s3_result_clear(&res);
    return rc;
}

/* Keeps a copy of manifest i's bytes in (*raw)[i]. */
static bk_code keep_raw(bk_buf **raw, size_t i, const bk_buf *body, bk_err *err)
{
    bk_buf *r = realloc(*raw, (i + 1) * sizeof *r);
    if (r == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    *raw = r;
    bk_buf_init(&r[i]);
    if (body->len > 0)
        bk_buf_append(&r[i], body->data, body->len);
    return bk_buf_check(&r[i], err);
}

/* What an explain of a bucket carries from step to step. */
typedef struct bucket_walk {
    bk_s3cache *cache;
    bk_explain *e;
    char *mp, *bp; /* <prefix><manifests_prefix>, <prefix><blobs_prefix> */
    size_t max;    /* largest manifest read */
    listing l;
    bk_buf body;
    bk_buf *raw; /* each manifest's bytes, to find identical ones */
} bucket_walk;

/* A GET of the manifest of the first name only (what an import reads): no
 * listing, so it works without s3:ListBucket. */
static bk_code explain_first_manifest(bucket_walk *w, bk_err *err)
{
    const bk_s3cache_layout *layout = &w->cache->layout;
    char *key = bk_s3cache_manifest_key(w->cache, layout->names[0]);
    bk_explain_manifest *m = key ? add_manifest(w->e, layout->names[0], key) : NULL;
    free(key);
    if (m == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_err rerr;
    bk_err_clear(&rerr);
    bk_code rc = read_object(w->cache->client, m, w->max, &w->body, &rerr);
    if (rc == BK_ENOTFOUND) {
        m->error = strdup(rerr.msg);
        rc = m->error ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory");
    } else if (rc != BK_OK) {
        bk_err_set(err, rc, "%s", rerr.msg);
    } else {
        rc = load_manifest(m, w->body.data ? w->body.data : "", w->body.len, err);
    }
    if (rc == BK_OK)
        rc = add_references(w->e, 0, 0, -1, err);
    return rc;
}

/* One listing when the blobs live under the manifests prefix (or the other
 * way round), two otherwise; sorted by key. */
static bk_code list_cache(bucket_walk *w, bk_err *err)
{
    bk_s3_list_params p = {0};
    p.prefix = w->mp;
    bk_code rc = bk_s3_list_each(w->cache->client, &p, collect, &w->l, err);
    if (rc == BK_OK && !w->l.oom && !starts_with(w->bp, w->mp)) {
        p.prefix = w->bp; /* may list the manifests again: duplicates are skipped later */
        rc = bk_s3_list_each(w->cache->client, &p, collect, &w->l, err);
    }
    if (rc != BK_OK) {
        bk_err_prefix(err, "listing s3://%s/%s: ", w->e->bucket, w->mp);
        return rc;
    }
    if (w->l.oom)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    if (w->l.n > 1)
        qsort(w->l.objs, w->l.n, sizeof *w->l.objs, cmp_object);
    return BK_OK;
}

static bk_code add_listed_blob(bucket_walk *w, const bk_explain_object *o, bk_err *err)
{
    bk_explain_blob *b = append_blob(w->e, o->key + strlen(w->bp), 1);
    if (b == NULL || (b->obj.key = strdup(o->key)) == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    b->obj.size = o->size;
    b->obj.last_modified = o->last_modified;
    b->obj.has_last_modified = o->has_last_modified;
    return BK_OK;
}

/* Identical bytes as an earlier manifest: two names written by one export. */
static void mark_identical(bucket_walk *w, size_t mi)
{
    bk_explain_manifest *m = &w->e->manifests[mi];
    for (size_t j = 0; j < mi; j++) {
        const bk_explain_manifest *o = &w->e->manifests[j];
        if (o->same_as < 0 && o->config != NULL && w->raw[j].len == w->body.len &&
            memcmp(bk_buf_str(&w->raw[j]), bk_buf_str(&w->body), w->body.len) == 0) {
            m->same_as = (long)j;
            return;
        }
    }
}

static bk_code add_listed_manifest(bucket_walk *w, const bk_explain_object *o, bk_err *err)
{
    bk_explain *e = w->e;
    bk_explain_manifest *m = add_manifest(e, o->key + strlen(w->mp), o->key);
    size_t mi = e->n_manifests - 1;
    bk_buf_reset(&w->body);
    if (m == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    if (keep_raw(&w->raw, mi, &w->body, err) != BK_OK) {
        /* No raw slot for it: forget the manifest so cleanup stays aligned. */
        free(m->name);
        free(m->obj.key);
        e->n_manifests--;
        return BK_ENOMEM;
    }
    bk_err rerr;
    bk_err_clear(&rerr);
    bk_code rc = read_object(w->cache->client, m, w->max, &w->body, &rerr);
    if (rc == BK_ENOTFOUND) { /* deleted since the listing */
        m->error = strdup(rerr.msg);
        return m->error ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    if (rc != BK_OK)
        return bk_err_set(err, rc, "%s", rerr.msg);
    rc = load_manifest(m, w->body.data ? w->body.data : "", w->body.len, err);
    if (rc != BK_OK || m->config == NULL)
        return rc;
    bk_buf_append(&w->raw[mi], w->body.data ? w->body.data : "", w->body.len);
    rc = bk_buf_check(&w->raw[mi], err);
    if (rc == BK_OK)
        mark_identical(w, mi);
    return rc;
}

/* Every listed object is a blob, a manifest, or something else. */
static bk_code sort_listing(bucket_walk *w, bk_err *err)
{
    bk_code rc = BK_OK;
    size_t bp_len = strlen(w->bp);
    for (size_t i = 0; i < w->l.n && rc == BK_OK; i++) {
        const bk_explain_object *o = &w->l.objs[i];
        if (i > 0 && strcmp(o->key, w->l.objs[i - 1].key) == 0)
            continue;
        if (starts_with(o->key, w->bp) && bk_digest_validate(o->key + bp_len, NULL, NULL) == BK_OK)
            rc = add_listed_blob(w, o, err);
        else if (starts_with(o->key, w->mp))
            rc = add_listed_manifest(w, o, err);
        else
            rc = add_other(w->e, o, "not a blob key (expected <blobs_prefix>sha256:<64 hex>)", err);
    }
    return rc;
}

static bk_code explain_listing(bucket_walk *w, bk_err *err)
{
    bk_code rc = list_cache(w, err);
    if (rc != BK_OK)
        return rc;
    w->e->blobs_listed = 1;
    w->e->blobs_checked = 1;
    if ((rc = sort_listing(w, err)) != BK_OK)
        return rc;
    /* Blobs were appended in key order, which is digest order. */
    size_t n_sorted = w->e->n_blobs;
    for (size_t i = 0; i < w->e->n_manifests && rc == BK_OK; i++)
        rc = add_references(w->e, i, n_sorted, 0, err);
    sort_blobs(w->e);
    return rc;
}

static bk_explain *bucket_explain_new(const bk_s3cache *cache, int first_name_only)
{
    const bk_s3cache_layout *layout = &cache->layout;
    const char *bucket = bk_s3_client_bucket(cache->client);
    char source[1024];
    snprintf(source, sizeof source, "s3://%s/%s", bucket, layout->prefix);
    bk_explain *e = explain_new(first_name_only ? BK_EXPLAIN_MANIFEST : BK_EXPLAIN_BUCKET, source);
    if (e == NULL || (e->bucket = strdup(bucket)) == NULL ||
        (e->prefix = strdup(layout->prefix)) == NULL ||
        (e->manifests_prefix = strdup(layout->manifests_prefix)) == NULL ||
        (e->blobs_prefix = strdup(layout->blobs_prefix)) == NULL) {
        bk_explain_free(e);
        return NULL;
    }
    return e;
}

bk_code bk_explain_bucket(bk_s3cache *cache, const bk_explain_bucket_opts *opts, bk_explain **out,
                          bk_err *err)
{
    *out = NULL;
    bk_explain_bucket_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    const bk_s3cache_layout *layout = &cache->layout;
    bucket_walk w;
    memset(&w, 0, sizeof w);
    w.cache = cache;
    w.max = opts->max_manifest_bytes ? opts->max_manifest_bytes : BK_S3CACHE_MANIFEST_MAX;
    w.e = bucket_explain_new(cache, opts->first_name_only);
    w.mp = concat(layout->prefix, layout->manifests_prefix);
    w.bp = concat(layout->prefix, layout->blobs_prefix);
    bk_code rc;
    if (w.e == NULL || w.mp == NULL || w.bp == NULL)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    else if (opts->first_name_only)
        rc = explain_first_manifest(&w, err);
    else
        rc = explain_listing(&w, err);
    bk_buf_clear(&w.body);
    for (size_t i = 0; w.raw != NULL && w.e != NULL && i < w.e->n_manifests; i++)
        bk_buf_clear(&w.raw[i]);
    free(w.raw);
    listing_clear(&w.l);
    free(w.mp);
    free(w.bp);
    if (rc != BK_OK) {
        bk_explain_free(w.e);
        return rc;
    }
    *out = w.e;
    return BK_OK;
}

/* ---- a config file ---- */

bk_code bk_explain_manifest_bytes(const char *name, const char *json, size_t len, bk_explain **out,
                                  bk_err *err)
{
    *out = NULL;
    bk_explain *e = explain_new(BK_EXPLAIN_MANIFEST, name);
    bk_explain_manifest *m = e ? add_manifest(e, name, name) : NULL;
    if (m == NULL) {
        bk_explain_free(e);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    m->obj.size = len;
    bk_code rc = load_manifest(m, json, len, err);
    if (rc == BK_OK)
        rc = add_references(e, 0, 0, -1, err);
    if (rc != BK_OK) {
        bk_explain_free(e);
        return rc;
    }
    sort_blobs(e);
    *out = e;
    return BK_OK;
}

/* ---- a type=local directory ---- */

static int stat_object(const char *path, const char *key, bk_explain_object *o)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    o->key = (char *)key; /* borrowed until copied by the caller */
    o->size = (uint64_t)st.st_size;
    o->last_modified = (int64_t)st.st_mtime;
    o->has_last_modified = 1;
    return 0;
}

/* The cache config's digest, read from the root blob's descriptors. */
static char *local_config_digest(const char *dir, const char *root_digest)
{
    char *path = bk_store_blob_path(dir, root_digest);
    json_t *root = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    char *found = NULL;
    const char *lists[] = {"manifests", "layers"};
    for (size_t k = 0; root != NULL && found == NULL && k < 2; k++) {
        json_t *arr = json_object_get(root, lists[k]);
        for (size_t i = 0; found == NULL && i < json_array_size(arr); i++) {
            json_t *d = json_array_get(arr, i);
            const char *mt = json_string_value(json_object_get(d, "mediaType"));
            const char *dg = json_string_value(json_object_get(d, "digest"));
            if (mt && dg && strcmp(mt, BK_MEDIA_TYPE_CACHE_CONFIG) == 0)
                found = strdup(dg);
        }
    }
    json_t *config = json_object_get(root, "config");
    if (found == NULL && config != NULL) {
        const char *dg = json_string_value(json_object_get(config, "digest"));
        if (dg != NULL)
            found = strdup(dg);
    }
    json_decref(root);
    return found;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *shape_role(bk_local_shape shape)
{
    switch (shape) {
    case BK_LOCAL_DOCKER_LIST:
        return "cache root (Docker manifest list)";
    case BK_LOCAL_IMAGE_MANIFEST:
        return "cache root (OCI image manifest)";
    default:
        return "cache root (OCI image index)";
    }
}

/* The file names of a directory but . and .., sorted; the caller frees them. */
static bk_code dir_names(const char *path, char ***out, size_t *n_out, bk_err *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return bk_err_set(err, BK_EIO, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    bk_code rc = BK_OK;
    struct dirent *de;
    while (rc == BK_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = bk_err_set(err, BK_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *n_out = n;
    return rc;
}

/* The local cache's config as the manifest: in the S3 form when it converts,
 * else as stored (its layers then lack annotations) with the reason. */
static bk_code local_manifest(bk_explain *e, bk_local_cache *lc, const char *tag,
                              const char *config_digest, bk_explain_manifest **out, bk_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "blobs/sha256/%s",
             config_digest && strlen(config_digest) > 7 ? config_digest + 7 : "?");
    bk_explain_manifest *m = add_manifest(e, tag ? tag : BK_LOCAL_DEFAULT_TAG, key);
    if (m == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    *out = m;
    bk_err cerr;
    bk_err_clear(&cerr);
    if (bk_local_to_s3(lc, &m->config, &cerr) != BK_OK) {
        m->config = lc->config;
        lc->config = NULL;
        if ((m->error = strdup(cerr.msg)) == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    return BK_OK;
}

/* One file of DIR/blobs/sha256: a layer blob, the root, the config, or
 * something that is no digest at all. */
static bk_code add_local_file(bk_explain *e, bk_explain_manifest *m, const bk_local_cache *lc,
                              const char *dir, const char *config_digest, const char *name,
                              bk_err *err)
{
    char digest[BK_DIGEST_MAX + 8], rel[256];
    snprintf(digest, sizeof digest, "sha256:%s", name);
    snprintf(rel, sizeof rel, "blobs/sha256/%s", name);
    char *path = concat(dir, "/");
    char *full = path ? concat(path, rel) : NULL;
    free(path);
    if (full == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_explain_object o = {0};
    int ok = stat_object(full, rel, &o) == 0;
    free(full);
    if (!ok)
        return BK_OK;
    if (bk_digest_validate(digest, NULL, NULL) != BK_OK)
        return add_other(e, &o, "not a digest file name", err);
    if (strcmp(digest, lc->root_digest) == 0)
        return add_other(e, &o, shape_role(lc->shape), err);
    if (config_digest && strcmp(digest, config_digest) == 0) {
        m->obj.size = o.size;
        m->obj.last_modified = o.last_modified;
        m->obj.has_last_modified = 1;
        return add_other(e, &o, "cache config", err);
    }
    bk_explain_blob *b = append_blob(e, digest, 1);
    if (b == NULL || (b->obj.key = strdup(rel)) == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    b->obj.size = o.size;
    b->obj.last_modified = o.last_modified;
    b->obj.has_last_modified = 1;
    return BK_OK;
}

bk_code bk_explain_local(const char *dir, const char *tag, bk_explain **out, bk_err *err)
{
    *out = NULL;
    bk_local_cache *lc = NULL;
    bk_code rc = bk_local_read(dir, tag, &lc, err);
    if (rc != BK_OK) {
        bk_err_prefix(err, "%s: ", dir);
        return rc;
    }
    bk_explain *e = explain_new(BK_EXPLAIN_LOCAL, dir);
    char *config_digest = local_config_digest(dir, lc->root_digest);
    char *blobs_dir = concat(dir, "/blobs/sha256");
    char **names = NULL;
    size_t n_names = 0;
    bk_explain_manifest *m = NULL;
    if (e == NULL || blobs_dir == NULL)
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    if (rc == BK_OK) {
        e->blobs_listed = 1;
        e->blobs_checked = 1;
        rc = local_manifest(e, lc, tag, config_digest, &m, err);
    }
    if (rc == BK_OK)
        rc = dir_names(blobs_dir, &names, &n_names, err);
    for (size_t i = 0; i < n_names && rc == BK_OK; i++)
        rc = add_local_file(e, m, lc, dir, config_digest, names[i], err);
    if (rc == BK_OK)
        rc = add_references(e, 0, e->n_blobs, 0, err);
    if (e != NULL)
        sort_blobs(e);
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    free(blobs_dir);
    free(config_digest);
    bk_local_cache_free(lc);
    if (rc != BK_OK) {
        bk_explain_free(e);
        return rc;
    }
    *out = e;
    return BK_OK;
}

/* ---- a graph fixture ---- */

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const bk_explain_label *)a)->digest, ((const bk_explain_label *)b)->digest);
}

const char *bk_explain_label_of(const bk_explain *e, const char *digest)
{
    if (e == NULL || digest == NULL || e->n_labels == 0)
        return NULL;
    bk_explain_label key = {(char *)digest, NULL};
    const bk_explain_label *l = bsearch(&key, e->labels, e->n_labels, sizeof *e->labels, cmp_label);
    return l ? l->name : NULL;
}

bk_code bk_explain_add_graph_labels(bk_explain *e, const bk_graph *g, bk_err *err)
{
    for (size_t i = 0; i < g->n_vertices; i++) {
        const bk_graph_vertex *v = &g->vertices[i];
        char digest[96];
        bk_chains_record_key(v->digest, v->output, digest, sizeof digest);
        bk_explain_label *l = NULL;
        for (size_t j = 0; j < e->n_labels && l == NULL; j++)
            if (strcmp(e->labels[j].digest, digest) == 0)
                l = &e->labels[j];
        if (l != NULL) { /* two vertices with one key: name both */
            char *joined = malloc(strlen(l->name) + strlen(v->id) + 2);
            if (joined == NULL)
                return bk_err_set(err, BK_ENOMEM, "out of memory");
            sprintf(joined, "%s/%s", l->name, v->id);
            free(l->name);
            l->name = joined;
            continue;
        }
        l = realloc(e->labels, (e->n_labels + 1) * sizeof *l);
        if (l == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        e->labels = l;
        l = &e->labels[e->n_labels];
        l->digest = strdup(digest);
        l->name = strdup(v->id);
        if (l->digest == NULL || l->name == NULL) {
            free(l->digest);
            free(l->name);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        e->n_labels++;
    }
    if (e->n_labels > 1)
        qsort(e->labels, e->n_labels, sizeof *e->labels, cmp_label);
    return BK_OK;
}

bk_code bk_explain_graph(const char *path, enum bk_export_mode mode, bk_explain **out, bk_err *err)
{
    *out = NULL;
    bk_graph *g = NULL;
    bk_explain *e = NULL;
    bk_code rc = bk_graph_load(path, &g, err);
    if (rc != BK_OK)
        return rc;
    char name[1200];
    const char *base = strrchr(path, '/');
    snprintf(name, sizeof name, "%s (mode=%s)", base ? base + 1 : path,
             mode == BK_EXPORT_MAX   ? "max"
             : mode == BK_EXPORT_MIN ? "min"
                                     : "remote-only");
    e = explain_new(BK_EXPLAIN_GRAPH, path);
    bk_explain_manifest *m = e ? add_manifest(e, name, path) : NULL;
    if (m == NULL) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        goto done;
    }
    rc = bk_chains_config_from_graph(g, mode, &m->config, err);
    if (rc == BK_OK) {
        bk_buf enc = BK_BUF_INIT;
        rc = bk_config_encode(m->config, &enc, err);
        m->obj.size = enc.len;
        bk_buf_clear(&enc);
    }
    if (rc == BK_OK)
        rc = add_references(e, 0, 0, 0, err);
    /* Presence in the graph's store; the store is shared by many graphs, so
     * its other blobs are not "unreferenced" here. */
    for (size_t i = 0; rc == BK_OK && i < e->n_blobs; i++) {
        bk_explain_blob *b = &e->blobs[i];
        char *bpath = g->store_dir ? bk_store_blob_path(g->store_dir, b->digest) : NULL;
        bk_explain_object o = {0};
        if (bpath != NULL && stat_object(bpath, "", &o) == 0) {
            b->present = 1;
            b->obj = o;
            b->obj.key = strdup(bpath);
            if (b->obj.key == NULL)
                rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        free(bpath);
    }
    e->blobs_checked = g->store_dir != NULL;
    sort_blobs(e);
    if (rc == BK_OK)
        rc = bk_explain_add_graph_labels(e, g, err);
done:
    bk_graph_free(g);
    if (rc != BK_OK) {
        bk_explain_free(e);
        return rc;
    }
    *out = e;
    return BK_OK;
}

const bk_explain_manifest *bk_explain_primary(const bk_explain *e)
{
    for (size_t i = 0; e != NULL && i < e->n_manifests; i++)
        if (e->manifests[i].config != NULL)
            return &e->manifests[i];
    return NULL;
}
