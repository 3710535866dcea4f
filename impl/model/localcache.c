/* Reading a BuildKit type=local cache and converting it to the S3 form.
 * Writing is in localcache_write.c. */
#include "bkcache/localcache.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bkcache/fileio.h"
#include "bkcache/graph.h"
#include "jsonpath.h"
#include "strmap.h"

#define MAX_SMALL_BLOB (1 << 20)

/* The file at path, at most max bytes, NUL-terminated, into *out. */
static bk_code read_small_file(const char *path, size_t max, char **out, size_t *len, bk_err *err)
{
    *out = NULL;
    FILE *f = NULL;
    bk_code rc = bk_fopen_regular(path, NULL, &f, err);
    if (rc != BK_OK)
        return rc;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf)
        return bk_err_set(err, BK_ENOMEM, "out of memory reading %s", path);
    if (failed || n > max) {
        free(buf);
        return bk_err_set(err, failed ? BK_EIO : BK_EINVAL,
                          failed ? "%s: read error" : "%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *len = n;
    *out = buf;
    return BK_OK;
}

static bool digest_matches(const char *digest, const char *data, size_t len)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
        return false;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)data, len, md);
    char hex[65];
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return strcmp(hex, digest + 7) == 0;
}

/* Reads a small blob named by a descriptor into *out and checks digest and
 * size. */
static bk_code read_blob(const char *dir, const char *digest, int64_t size, char **out, size_t *len,
                         bk_err *err)
{
    *out = NULL;
    if (size < 0 || size > MAX_SMALL_BLOB)
        return bk_err_set(err, BK_EINVAL, "blob %s is too large (%lld > %d)", digest,
                          (long long)size, MAX_SMALL_BLOB);
    char *path = bk_store_blob_path(dir, digest);
    if (!path)
        return bk_err_set(err, BK_EINVAL, "invalid digest \"%s\"", digest ? digest : "");
    char *data = NULL;
    bk_code rc = read_small_file(path, MAX_SMALL_BLOB, &data, len, err);
    free(path);
    if (rc != BK_OK)
        return rc;
    if ((int64_t)*len != size || !digest_matches(digest, data, *len)) {
        free(data);
        return bk_err_set(err, BK_EINTEGRITY,
                          "blob %s: expected %lld bytes with that digest, got %zu "
                          "bytes that do not match",
                          digest, (long long)size, *len);
    }
    *out = data;
    return BK_OK;
}

static const char *annotation(const json_t *desc, const char *key)
{
    const json_t *v = json_object_get(json_object_get(desc, "annotations"), key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bk_code parse_descriptor(const json_t *j, bk_descriptor *d, const char *where, bk_err *err)
{
    const json_t *digest = json_object_get(j, "digest");
    const json_t *size = json_object_get(j, "size");
    const json_t *mt = json_object_get(j, "mediaType");
    if (!json_is_object(j) || !json_is_string(digest) || !json_is_integer(size))
        return bk_err_set(err, BK_EINVAL, "%s: a descriptor needs a digest and a size", where);
    memset(d, 0, sizeof *d);
    d->digest = strdup(json_string_value(digest));
    d->size = json_integer_value(size);
    if (d->size < 0)
        return bk_err_set(err, BK_EINVAL, "%s.size: %lld is negative", where, (long long)d->size);
    d->media_type = json_is_string(mt) ? strdup(json_string_value(mt)) : NULL;
    const char *diff = annotation(j, "containerd.io/uncompressed");
    d->diff_id = diff ? strdup(diff) : NULL;
    d->created_at = bk_time_zero();
    const char *created = annotation(j, "buildkit/createdat");
    if (created) {
        bk_err terr;
        if (bk_time_parse(created, strlen(created), &d->created_at, &terr) != BK_OK)
            return bk_err_set(err, BK_EINVAL, "%s: buildkit/createdat: %s", where, terr.msg);
        d->has_created_at = true;
    }
    if (!d->digest || (diff && !d->diff_id))
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    return BK_OK;
}

/* The entry of index.json's manifests tagged tag, and its position there. */
static const json_t *find_entry(const json_t *index, const char *tag, size_t *at)
{
    const json_t *manifests = json_object_get(index, "manifests");
    size_t i;
    const json_t *m;
    json_array_foreach(manifests, i, m)
    {
        const char *name = annotation(m, "io.containerd.image.name");
        if (name && strcmp(name, tag) == 0) {
            *at = i;
            return m;
        }
    }
    json_array_foreach(manifests, i, m)
    {
        const char *ref = annotation(m, "org.opencontainers.image.ref.name");
        if (ref && strcmp(ref, tag) == 0) {
            *at = i;
            return m;
        }
    }
    return NULL;
}

static json_t *load_json(const char *data, size_t len, const char *what, bk_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    char msg[640];
    if (!j && bk__json_range_error(data, len, &jerr, msg, sizeof msg))
        bk_err_set(err, BK_EINVAL, "%s: %s", what, msg);
    else if (!j)
        bk_err_set(err, BK_EINVAL, "%s: invalid JSON at line %d: %s", what, jerr.line, jerr.text);
    return j;
}

void bk_local_cache_free(bk_local_cache *lc)
{
    if (!lc)
        return;
    free(lc->root_digest);
    bk_config_free(lc->config);
    for (size_t i = 0; i < lc->n_layers; i++)
        bk_descriptor_clear(&lc->layers[i]);
    free(lc->layers);
    free(lc);
}

/* Fills lc from the root blob: layer descriptors and the config descriptor. */
static bk_code read_root(const char *dir, const json_t *root, bk_local_cache *lc,
                         bk_descriptor *config, bk_err *err)
{
    const json_t *mt = json_object_get(root, "mediaType");
    const char *media_type = json_is_string(mt) ? json_string_value(mt) : "";
    const json_t *list;
    if (strcmp(media_type, BK_MEDIA_TYPE_OCI_MANIFEST) == 0 ||
        (!json_object_get(root, "manifests") && json_object_get(root, "config"))) {
        lc->shape = BK_LOCAL_IMAGE_MANIFEST;
        list = json_object_get(root, "layers");
        char where[128];
        snprintf(where, sizeof where, "cache root %s: config", lc->root_digest);
        if (parse_descriptor(json_object_get(root, "config"), config, where, err) != BK_OK)
            return BK_EINVAL;
    } else {
        lc->shape = strcmp(media_type, BK_MEDIA_TYPE_DOCKER_LIST) == 0 ? BK_LOCAL_DOCKER_LIST
                                                                       : BK_LOCAL_OCI_INDEX;
        list = json_object_get(root, "manifests");
    }
    if (!json_is_array(list))
        return bk_err_set(err, BK_EINVAL, "cache root %s lists no descriptors", lc->root_digest);
    lc->layers = calloc(json_array_size(list) + 1, sizeof *lc->layers);
    if (!lc->layers)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m)
    {
        char where[192];
        snprintf(where, sizeof where, "cache root %s: %s[%zu]", lc->root_digest,
                 lc->shape == BK_LOCAL_IMAGE_MANIFEST ? "layers" : "manifests", i);
        bk_descriptor d;
        if (parse_descriptor(m, &d, where, err) != BK_OK) {
            bk_descriptor_clear(&d);
            return BK_EINVAL;
        }
        if (lc->shape != BK_LOCAL_IMAGE_MANIFEST && d.media_type &&
            strcmp(d.media_type, BK_MEDIA_TYPE_CACHE_CONFIG) == 0) {
            bk_descriptor_clear(config);
            *config = d; /* the last one wins, as in BuildKit */
        } else {
            lc->layers[lc->n_layers++] = d;
        }
    }
    if (!config->digest)
        return bk_err_set(err, BK_EINVAL,
                          "%s: cache root %s has no %s descriptor (an inline cache is not a "
                          "local cache)",
                          dir, lc->root_digest, BK_MEDIA_TYPE_CACHE_CONFIG);
    return BK_OK;
}

bk_code bk_local_read(const char *dir, const char *tag, bk_local_cache **out, bk_err *err)
{
    *out = NULL;
    if (!tag)
        tag = BK_LOCAL_DEFAULT_TAG;
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    size_t len;
    char *data = NULL;
    bk_code rc = read_small_file(path, 16 << 20, &data, &len, err);
    if (rc != BK_OK)
        return rc;
    json_t *index = load_json(data, len, path, err);
    free(data);
    if (!index)
        return BK_EINVAL;
    bk_local_cache *lc = calloc(1, sizeof *lc);
    bk_descriptor config = {0};
    json_t *root = NULL;
    char *cfg_data = NULL;
    size_t at = 0;
    const json_t *entry = find_entry(index, tag, &at);
    char where[64];
    snprintf(where, sizeof where, "index.json manifests[%zu]", at);
    bk_descriptor rootd = {0};
    if (!lc) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    } else if (!entry) {
        rc = bk_err_set(err, BK_ENOTFOUND, "%s: no cache tagged \"%s\" in index.json", dir, tag);
    } else if ((rc = parse_descriptor(entry, &rootd, where, err)) == BK_OK) {
        lc->root_digest = strdup(rootd.digest);
        if (!lc->root_digest)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        else
            rc = read_blob(dir, rootd.digest, rootd.size, &data, &len, err);
        if (rc == BK_OK) {
            root = load_json(data, len, "cache root", err);
            free(data);
            rc = root ? read_root(dir, root, lc, &config, err) : BK_EINVAL;
        }
    }
    if (rc == BK_OK) {
        rc = read_blob(dir, config.digest, config.size, &cfg_data, &len, err);
        if (rc == BK_OK && (rc = bk_config_parse(cfg_data, len, &lc->config, err)) != BK_OK)
            bk_err_prefix(err, "cache config %s: ", config.digest);
    }
    free(cfg_data);
    bk_descriptor_clear(&config);
    bk_descriptor_clear(&rootd);
    json_decref(root);
    json_decref(index);
    if (rc != BK_OK) {
        bk_local_cache_free(lc);
        return rc;
    }
    *out = lc;
    return BK_OK;
}

bk_code bk_local_to_s3(const bk_local_cache *lc, bk_cache_config **out, bk_err *err)
{
    *out = NULL;
    /* Same JSON in, same structs out: re-encode and re-parse is the simplest
     * deep copy, and the config is at most 1 MiB. */
    bk_buf b = BK_BUF_INIT;
    bk_cache_config *cfg = NULL;
    bk_code rc = bk_config_encode(lc->config, &b, err);
    if (rc == BK_OK)
        rc = bk_config_parse(b.data, b.len, &cfg, err);
    bk_buf_clear(&b);
    /* The root's descriptors by digest (the last one wins). */
    bk__strmap descs = {0};
    for (size_t j = 0; rc == BK_OK && j < lc->n_layers; j++) {
        char *key = strdup(lc->layers[j].digest);
        if (!key || !bk__strmap_put(&descs, key, j)) {
            free(key);
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; rc == BK_OK && i < cfg->n_layers; i++) {
        bk_cache_layer *l = &cfg->layers[i];
        size_t j;
        const bk_descriptor *d =
            l->blob && bk__strmap_get(&descs, l->blob, &j) ? &lc->layers[j] : NULL;
        if (!d)
            rc = bk_err_set(err, BK_EINVAL, "layers[%zu]: missing blob %s in the cache root", i,
                            l->blob ? l->blob : "");
        else if (!d->diff_id || !*d->diff_id)
            rc = bk_err_set(err, BK_EINVAL,
                            "layers[%zu]: descriptor of %s has no containerd.io/uncompressed "
                            "annotation",
                            i, l->blob);
        else if (!bk_layer_set_annotations(
                     l, bk_media_type_to_oci(d->media_type), d->diff_id, d->size,
                     d->has_created_at ? bk_time_utc(d->created_at) : bk_time_zero()))
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    bk__strmap_clear(&descs);
    if (rc != BK_OK) {
        bk_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return BK_OK;
}
