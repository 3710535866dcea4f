/* Writing a BuildKit type=local cache from the S3 form: layer blobs (streamed
 * and verified), the config blob, the cache root in the chosen shape, and
 * index.json / oci-layout as BuildKit's client writes them. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkcache/fileio.h"
#include "bkcache/gojson.h"
#include "bkcache/graph.h"
#include "bkcache/localcache.h"

static bk_code mkdirs(const char *path, bk_err *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return bk_err_set(err, BK_EIO, "mkdir %s: %s", buf, strerror(errno));
            if (c == '\0')
                return BK_OK;
            *p = c;
        }
    }
}

/* Writes data to path through a temporary file and a rename. */
static bk_code write_file(const char *path, const char *data, size_t len, bk_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return bk_err_set(err, BK_EIO, "%s: %s", tmp, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return bk_err_set(err, BK_EIO, "writing %s failed", path);
    }
    return BK_OK;
}

static void sha256_digest(const char *data, size_t len, char out[72])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    memcpy(out, "sha256:", sizeof "sha256:");
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static bk_code put_small_blob(const char *dir, const char *data, size_t len, char digest[72],
                              bk_err *err)
{
    sha256_digest(data, len, digest);
    char *path = bk_store_blob_path(dir, digest);
    if (!path)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    bk_code rc = write_file(path, data, len, err);
    free(path);
    return rc;
}

bk_code bk_local_copy_blob(const char *src_path, const char *dir, const char *digest, int64_t size,
                           bk_err *err)
{
    char *dst = bk_store_blob_path(dir, digest);
    if (!dst || strncmp(digest, "sha256:", 7) != 0) {
        free(dst);
        return bk_err_set(err, BK_EINVAL, "unsupported or invalid digest \"%s\"", digest);
    }
    struct stat st;
    if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size) {
        free(dst); /* content addressed: already there */
        return BK_OK;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", dst);
    *strrchr(tmp, '/') = '\0';
    bk_code rc = mkdirs(tmp, err);
    if (rc != BK_OK) {
        free(dst);
        return rc;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dst, (long)getpid());
    int in = open(src_path, O_RDONLY | O_CLOEXEC);
    int out = in >= 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (in < 0)
        rc = bk_err_set(err, errno == ENOENT ? BK_ENOTFOUND : BK_EIO, "blob %s: %s: %s", digest,
                        src_path, strerror(errno));
    else if (out < 0)
        rc = bk_err_set(err, BK_EIO, "%s: %s", tmp, strerror(errno));
    else if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
        rc = bk_err_set(err, BK_ENOMEM, "sha256 context");
    int64_t total = 0;
    char buf[65536];
    while (rc == BK_OK) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = bk_err_set(err, BK_EIO, "reading %s: %s", src_path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += n;
        for (ssize_t off = 0; off < n && rc == BK_OK;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = bk_err_set(err, BK_EIO, "writing %s: %s", tmp, strerror(errno));
            else
                off += w;
        }
    }
    if (rc == BK_OK) {
        unsigned char sum[32];
        unsigned int len = 0;
        char hex[65];
        EVP_DigestFinal_ex(md, sum, &len);
        for (size_t i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", sum[i]);
        if (total != size)
            rc = bk_err_set(err, BK_EINTEGRITY, "blob %s: expected size %lld, got %lld", digest,
                            (long long)size, (long long)total);
        else if (strcmp(hex, digest + 7) != 0)
            rc =
                bk_err_set(err, BK_EINTEGRITY, "blob %s: content hashes to sha256:%s", digest, hex);
    }
    EVP_MD_CTX_free(md);
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && rc == BK_OK)
        rc = bk_err_set(err, BK_EIO, "writing %s: %s", tmp, strerror(errno));
    if (rc == BK_OK && rename(tmp, dst) != 0)
        rc = bk_err_set(err, BK_EIO, "rename %s: %s", dst, strerror(errno));
    if (rc != BK_OK && out >= 0)
        unlink(tmp);
    free(dst);
    return rc;
}

static void key(bk_buf *b, bool *first, const char *name)
{
    if (!*first)
        bk_buf_putc(b, ',');
    *first = false;
    bk_gojson_string(b, name, strlen(name));
    bk_buf_putc(b, ':');
}

static void str(bk_buf *b, const char *s)
{
    bk_gojson_string(b, s, s ? strlen(s) : 0);
}

/* An OCI descriptor in Go's field order (mediaType, digest, size, annotations). */
static bk_code descriptor_json(bk_buf *b, const char *media_type, const char *digest, int64_t size,
                               const bk_layer_annotations *a, const char *ref_name, bk_err *err)
{
    bool first = true;
    bk_buf_putc(b, '{');
    if (media_type && *media_type) {
        key(b, &first, "mediaType");
        str(b, media_type);
    }
    key(b, &first, "digest");
    str(b, digest);
    key(b, &first, "size");
    bk_gojson_int(b, size);
    if (a) {
        bool afirst = true;
        key(b, &first, "annotations");
        bk_buf_putc(b, '{');
        if (!bk_time_is_zero(a->created_at)) {
            key(b, &afirst, "buildkit/createdat");
            bk_buf_putc(b, '"');
            if (bk_time_format(b, a->created_at, err) != BK_OK)
                return BK_EINVAL;
            bk_buf_putc(b, '"');
        }
        key(b, &afirst, "containerd.io/uncompressed");
        str(b, a->diff_id);
        bk_buf_putc(b, '}');
    } else if (ref_name) {
        key(b, &first, "annotations");
        bk_buf_puts(b, "{\"org.opencontainers.image.ref.name\":");
        str(b, ref_name);
        bk_buf_putc(b, '}');
    }
    bk_buf_putc(b, '}');
    return BK_OK;
}

/* index.json: other tags' entries kept as they were, this tag's replaced. */
static bk_code write_index(const char *dir, const char *tag, const char *root_mt,
                           const char *root_digest, size_t root_size, bk_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    bk_buf b = BK_BUF_INIT;
    bk_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" BK_MEDIA_TYPE_OCI_INDEX
                    "\",\"manifests\":[");
    bool first = true;
    /* Other tags' entries are kept: read what is there, never waiting on a
     * FIFO; anything but a regular file is an error, not an empty index. */
    FILE *f = NULL;
    bk_code rc = bk_fopen_regular(path, NULL, &f, err);
    if (rc != BK_OK && rc != BK_ENOTFOUND) {
        bk_buf_clear(&b);
        return rc;
    }
    json_error_t jerr;
    json_t *old = f != NULL ? json_loadf(f, 0, &jerr) : NULL;
    if (f != NULL)
        fclose(f);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(old, "manifests"), i, m)
    {
        const json_t *ann = json_object_get(m, "annotations");
        const json_t *ref = json_object_get(ann, "org.opencontainers.image.ref.name");
        bool same = json_is_string(ref) && strcmp(json_string_value(ref), tag) == 0 &&
                    !json_object_get(ann, "io.containerd.image.name");
        if (same)
            continue;
        char *s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s) {
            if (!first)
                bk_buf_putc(&b, ',');
            bk_buf_puts(&b, s);
            first = false;
            free(s);
        }
    }
    json_decref(old);
    if (!first)
        bk_buf_putc(&b, ',');
    rc = descriptor_json(&b, root_mt, root_digest, (int64_t)root_size, NULL, tag, err);
    bk_buf_puts(&b, "]}");
    if (rc == BK_OK)
        rc = bk_buf_check(&b, err);
    if (rc == BK_OK)
        rc = write_file(path, b.data, b.len, err);
    bk_buf_clear(&b);
    return rc;
}

bk_code bk_local_write(const char *dir, const bk_cache_config *s3, const char *blob_store,
                       const bk_local_write_opts *opts, bk_err *err)
{
    bk_local_write_opts defaults = {BK_LOCAL_DEFAULT_TAG, BK_LOCAL_OCI_INDEX};
    if (!opts)
        opts = &defaults;
    const char *tag = opts->tag ? opts->tag : BK_LOCAL_DEFAULT_TAG;
    bk_code rc = bk_config_validate(s3, BK_VALIDATE_S3, err);
    if (rc != BK_OK) {
        bk_err_prefix(err, "S3 cache config: ");
        return rc;
    }
    char blobs[4096];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
    if ((rc = mkdirs(blobs, err)) != BK_OK)
        return rc;

    /* Layer blobs first: a root never points at a blob that is not there. */
    for (size_t i = 0; i < s3->n_layers; i++) {
        const bk_cache_layer *l = &s3->layers[i];
        char *src = bk_store_blob_path(blob_store, l->blob);
        if (!src)
            return bk_err_set(err, BK_EINVAL, "layers[%zu]: invalid blob digest", i);
        rc = bk_local_copy_blob(src, dir, l->blob, l->annotations->size, err);
        free(src);
        if (rc != BK_OK)
            return rc;
    }

    /* The config blob: the same config without annotations. */
    bk_cache_config local = *s3;
    bk_cache_layer *bare = calloc(s3->n_layers + 1, sizeof *bare);
    if (!bare)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    for (size_t i = 0; i < s3->n_layers; i++) {
        bare[i] = s3->layers[i];
        bare[i].annotations = NULL;
    }
    local.layers = bare;
    bk_buf cfg = BK_BUF_INIT, root = BK_BUF_INIT;
    char cfg_digest[72], root_digest[72];
    rc = bk_config_encode(&local, &cfg, err);
    free(bare);
    if (rc == BK_OK)
        rc = put_small_blob(dir, cfg.data, cfg.len, cfg_digest, err);

    /* The root in the requested shape. */
    const char *root_mt = opts->shape == BK_LOCAL_IMAGE_MANIFEST ? BK_MEDIA_TYPE_OCI_MANIFEST
                          : opts->shape == BK_LOCAL_DOCKER_LIST  ? BK_MEDIA_TYPE_DOCKER_LIST
                                                                 : BK_MEDIA_TYPE_OCI_INDEX;
    bk_buf_puts(&root, "{\"schemaVersion\":2,\"mediaType\":");
    str(&root, root_mt);
    if (rc == BK_OK && opts->shape == BK_LOCAL_IMAGE_MANIFEST) {
        bk_buf_puts(&root, ",\"config\":");
        rc = descriptor_json(&root, BK_MEDIA_TYPE_CACHE_CONFIG, cfg_digest, (int64_t)cfg.len, NULL,
                             NULL, err);
        bk_buf_puts(&root, ",\"layers\":[");
    } else {
        bk_buf_puts(&root, ",\"manifests\":[");
    }
    for (size_t i = 0; rc == BK_OK && i < s3->n_layers; i++) {
        const bk_cache_layer *l = &s3->layers[i];
        const char *mt = opts->shape == BK_LOCAL_DOCKER_LIST
                             ? bk_media_type_to_docker(l->annotations->media_type)
                             : bk_media_type_to_oci(l->annotations->media_type);
        if (i)
            bk_buf_putc(&root, ',');
        rc = descriptor_json(&root, mt, l->blob, l->annotations->size, l->annotations, NULL, err);
    }
    if (rc == BK_OK && opts->shape != BK_LOCAL_IMAGE_MANIFEST) {
        if (s3->n_layers)
            bk_buf_putc(&root, ',');
        rc = descriptor_json(&root, BK_MEDIA_TYPE_CACHE_CONFIG, cfg_digest, (int64_t)cfg.len, NULL,
                             NULL, err);
    }
    bk_buf_puts(&root, "]}");
    if (rc == BK_OK)
        rc = bk_buf_check(&root, err);
    if (rc == BK_OK)
        rc = put_small_blob(dir, root.data, root.len, root_digest, err);
    if (rc == BK_OK)
        rc = write_index(dir, tag, root_mt, root_digest, root.len, err);
    if (rc == BK_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/oci-layout", dir);
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        rc = write_file(path, layout, sizeof layout - 1, err);
    }
    bk_buf_clear(&cfg);
    bk_buf_clear(&root);
    return rc;
}
