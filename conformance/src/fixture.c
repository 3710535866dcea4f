/* Fixtures: graph files staged with an absolute store, goldens, seeding a
 * bucket with a manifest and its blobs, and the imported graph a manifest
 * should give, computed here with jansson alone so that libbkcache is not
 * its own judge. */
/* nftw() is an XSI extension. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"

static const char *const graph_names[] = {"linear",   "multistage", "diamond",
                                          "twolinks", "dropped",    NULL};

const char *const *conf_graph_names(void)
{
    return graph_names;
}

bk_code conf_read_file(const char *path, bk_buf *out, bk_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return bk_err_set(err, BK_EIO, "cannot read %s: %s", path, strerror(errno));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        bk_buf_append(out, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return bk_err_set(err, BK_EIO, "cannot read %s", path);
    return bk_buf_check(out, err);
}

bk_code conf_write_file(const char *path, const void *data, size_t len, bk_err *err)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return bk_err_set(err, BK_EIO, "cannot write %s: %s", path, strerror(errno));
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    if (fclose(f) != 0 || w != len)
        return bk_err_set(err, BK_EIO, "cannot write %s", path);
    return BK_OK;
}

const char *conf_store_dir(conf_ctx *c)
{
    static __thread char dir[4200];
    snprintf(dir, sizeof dir, "%s/graphs/store", c->fixtures);
    return dir;
}

const char *conf_graph_path(conf_ctx *c, const char *name)
{
    static __thread char path[4200];
    size_t len = strlen(name);
    if (len > 5 && strcmp(name + len - 5, ".json") == 0)
        return name;
    snprintf(path, sizeof path, "%s/graph-%s.json", c->tmp, name);
    if (access(path, R_OK) == 0)
        return path;
    char src[4200];
    snprintf(src, sizeof src, "%s/graphs/%s.json", c->fixtures, name);
    json_error_t jerr;
    json_t *g = json_load_file(src, 0, &jerr);
    if (g == NULL) {
        fprintf(stderr, "bkcache-conformance: %s: %s\n", src, jerr.text);
        return NULL;
    }
    /* The adapter gets --store DIR; the graph names the same folder. */
    json_object_set_new(g, "store", json_string(conf_store_dir(c)));
    int rc = json_dump_file(g, path, JSON_INDENT(1));
    json_decref(g);
    return rc == 0 ? path : NULL;
}

bk_code conf_golden(conf_ctx *c, const char *graph, const char *mode, bk_buf *out, bk_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/graphs/%s.%s.expected", c->fixtures, graph, mode);
    return conf_read_file(path, out, err);
}

void conf_strings_free(char **s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++)
        free(s[i]);
    free(s);
}

int conf_manifest_blobs(const char *json, size_t len, char ***digests, size_t *n)
{
    *digests = NULL;
    *n = 0;
    json_t *doc = json_loadb(json, len, JSON_DISABLE_EOF_CHECK, NULL);
    if (doc == NULL)
        return -1;
    json_t *layers = json_object_get(doc, "layers");
    size_t cnt = json_array_size(layers);
    char **out = calloc(cnt ? cnt : 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; out != NULL && i < cnt; i++) {
        const char *b = json_string_value(json_object_get(json_array_get(layers, i), "blob"));
        if (b == NULL)
            continue;
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(out[j], b) == 0;
        if (!dup)
            out[k++] = strdup(b);
    }
    json_decref(doc);
    if (out == NULL)
        return -1;
    *digests = out;
    *n = k;
    return 0;
}

bk_code conf_seed(conf_ctx *c, const char *prefix, const char *name, const char *manifest,
                  size_t len, bk_err *err)
{
    char **blobs = NULL;
    size_t n = 0;
    conf_manifest_blobs(manifest, len, &blobs, &n);
    bk_code rc = BK_OK;
    for (size_t i = 0; i < n && rc == BK_OK; i++) {
        if (strncmp(blobs[i], "sha256:", 7) != 0 || strlen(blobs[i]) != 71)
            continue;
        char path[4300];
        snprintf(path, sizeof path, "%s/blobs/sha256/%s", conf_store_dir(c), blobs[i] + 7);
        if (access(path, R_OK) != 0)
            continue; /* a rejection fixture may name blobs nobody has */
        bk_buf data = BK_BUF_INIT;
        char key[1024];
        snprintf(key, sizeof key, "%sblobs/%s", prefix, blobs[i]);
        rc = conf_read_file(path, &data, err);
        if (rc == BK_OK)
            rc = conf_put(c, key, data.data, data.len, err);
        bk_buf_clear(&data);
    }
    conf_strings_free(blobs, n);
    if (rc == BK_OK && name != NULL) {
        char key[1024];
        snprintf(key, sizeof key, "%smanifests/%s", prefix, name);
        rc = conf_put(c, key, manifest, len, err);
    }
    return rc;
}

/* ---- graph comparison ---- */

static int cmp_json_text(const void *a, const void *b)
{
    char *sa = json_dumps(*(json_t *const *)a, JSON_COMPACT | JSON_SORT_KEYS);
    char *sb = json_dumps(*(json_t *const *)b, JSON_COMPACT | JSON_SORT_KEYS);
    int r = strcmp(sa ? sa : "", sb ? sb : "");
    free(sa);
    free(sb);
    return r;
}

static int cmp_by_digest(const void *a, const void *b)
{
    const char *da = json_string_value(json_object_get(*(json_t *const *)a, "digest"));
    const char *db = json_string_value(json_object_get(*(json_t *const *)b, "digest"));
    int r = strcmp(da ? da : "", db ? db : "");
    return r != 0 ? r : cmp_json_text(a, b);
}

/* Sorts the array in place with cmp, dropping duplicates when dedup is set. */
static void sort_array(json_t *arr, int (*cmp)(const void *, const void *), int dedup)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    json_t **items = malloc(n * sizeof *items);
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    qsort(items, n, sizeof *items, cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) {
        if (dedup && json_array_size(arr) > 0 &&
            json_equal(json_array_get(arr, json_array_size(arr) - 1), items[i])) {
            json_decref(items[i]);
            continue;
        }
        json_array_append_new(arr, items[i]);
    }
    free(items);
}

/* Order that carries no meaning goes: links within an input, results of a
 * record, records. Input order stays (it is the input index). */
static void canonicalize(json_t *graph)
{
    json_t *records = json_object_get(graph, "records");
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        size_t k;
        json_t *input;
        json_array_foreach(json_object_get(rec, "inputs"), k, input)
        {
            sort_array(input, cmp_json_text, 1);
        }
        sort_array(json_object_get(rec, "results"), cmp_json_text, 1);
    }
    sort_array(records, cmp_by_digest, 0);
}

json_t *conf_canonical_graph(const char *text, bk_err *err)
{
    json_error_t jerr;
    json_t *g = json_loads(text, JSON_DISABLE_EOF_CHECK, &jerr);
    if (g == NULL || !json_is_array(json_object_get(g, "records"))) {
        json_decref(g);
        bk_err_set(err, BK_EPROTO, "import --json did not print {\"records\":[...]} (%s)",
                   g == NULL ? jerr.text : "no records array");
        return NULL;
    }
    json_t *out = json_object();
    json_object_set(out, "records", json_object_get(g, "records"));
    json_decref(g);
    /* Fields beyond digest/inputs/results are the adapter's business. */
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(out, "records"), i, rec)
    {
        const char *key;
        void *tmp;
        json_t *v;
        json_object_foreach_safe(rec, tmp, key, v)
        {
            if (strcmp(key, "digest") != 0 && strcmp(key, "inputs") != 0 &&
                strcmp(key, "results") != 0)
                json_object_del(rec, key);
        }
        size_t k;
        json_t *input;
        json_array_foreach(json_object_get(rec, "inputs"), k, input)
        {
            size_t l;
            json_t *link;
            json_array_foreach(input, l, link)
            {
                if (json_object_get(link, "selector") == NULL)
                    json_object_set_new(link, "selector", json_string(""));
            }
        }
    }
    canonicalize(out);
    return out;
}

static json_int_t parent_of(json_t *layer)
{
    json_t *p = json_object_get(layer, "parent");
    return p == NULL ? 0 : json_integer_value(p); /* Go omits a parent of 0 */
}

/* The chain of a result, base first; NULL when an index is bad or loops. */
static json_t *chain_of(json_t *layers, json_int_t top)
{
    json_t *rev = json_array();
    size_t n = json_array_size(layers);
    for (json_int_t i = top, steps = 0; i != -1; steps++) {
        if (i < 0 || (size_t)i >= n || (size_t)steps > n) {
            json_decref(rev);
            return NULL;
        }
        json_t *l = json_array_get(layers, (size_t)i);
        json_array_append(rev, json_object_get(l, "blob"));
        i = parent_of(l);
    }
    json_t *chain = json_array();
    for (size_t k = json_array_size(rev); k > 0; k--)
        json_array_append(chain, json_array_get(rev, k - 1));
    json_decref(rev);
    return chain;
}

json_t *conf_expected_graph(const char *manifest, size_t len, bk_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(manifest, len, 0, &jerr);
    if (doc == NULL) {
        bk_err_set(err, BK_EPROTO, "manifest: %s", jerr.text);
        return NULL;
    }
    json_t *layers = json_object_get(doc, "layers");
    json_t *records = json_object_get(doc, "records");
    json_t *out_records = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        json_t *inputs = json_array();
        size_t k;
        json_t *input;
        json_array_foreach(json_object_get(rec, "inputs"), k, input)
        {
            json_t *links = json_array();
            size_t l;
            json_t *link;
            json_array_foreach(input, l, link)
            {
                json_int_t idx = json_integer_value(json_object_get(link, "link"));
                json_t *target = json_array_get(records, (size_t)idx);
                const char *sel = json_string_value(json_object_get(link, "selector"));
                const char *dig = json_string_value(json_object_get(target, "digest"));
                json_array_append_new(links, json_pack("{s:s,s:s}", "digest", dig ? dig : "",
                                                       "selector", sel ? sel : ""));
            }
            json_array_append_new(inputs, links);
        }
        json_t *results = json_array();
        json_t *res;
        json_array_foreach(json_object_get(rec, "layers"), k, res)
        {
            json_t *chain = chain_of(layers, json_integer_value(json_object_get(res, "layer")));
            if (chain != NULL)
                json_array_append_new(results, chain);
        }
        json_array_foreach(json_object_get(rec, "chains"), k, res)
        {
            json_t *chain = json_array();
            size_t l;
            json_t *idx;
            json_array_foreach(json_object_get(res, "layers"), l, idx)
            {
                json_array_append(
                    chain, json_object_get(json_array_get(layers, (size_t)json_integer_value(idx)),
                                           "blob"));
            }
            json_array_append_new(results, chain);
        }
        const char *dig = json_string_value(json_object_get(rec, "digest"));
        json_array_append_new(out_records, json_pack("{s:s,s:o,s:o}", "digest", dig ? dig : "",
                                                     "inputs", inputs, "results", results));
    }
    json_decref(doc);
    json_t *g = json_pack("{s:o}", "records", out_records);
    canonicalize(g);
    return g;
}

void conf_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (size_t i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

int conf_file_sha256(const char *path, char out[65], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    char buf[65536];
    ssize_t n;
    uint64_t total = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (n < 0)
        return -1;
    for (size_t i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    if (size != NULL)
        *size = total;
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0; /* keep going: remove what can be removed */
}

void conf_rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int conf_make_tmp(conf_ctx *c)
{
    const char *t = getenv("TMPDIR");
    snprintf(c->tmp, sizeof c->tmp, "%s/bkconf-XXXXXX", t && t[0] ? t : "/tmp");
    return mkdtemp(c->tmp) != NULL ? 0 : -1;
}

int conf_mkdtemp(conf_ctx *c, const char *tag, char *out, size_t size)
{
    snprintf(out, size, "%s/%s-XXXXXX", c->tmp, tag);
    return mkdtemp(out) != NULL ? 0 : -1;
}

bk_code conf_single_blob_graph(conf_ctx *c, const char *tag, uint64_t size, unsigned data_seed,
                               const char *digest, char *graph, size_t graph_size, char *store,
                               size_t store_size, char digest_out[80], bk_err *err)
{
    snprintf(store, store_size, "%s/store-%s", c->tmp, tag);
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/blobs", store);
    mkdir(store, 0755);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/blobs/sha256", store);
    mkdir(dir, 0755);
    char tmp_path[4500];
    snprintf(tmp_path, sizeof tmp_path, "%s/blob.tmp", dir);
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return bk_err_set(err, BK_EIO, "cannot create %s: %s", tmp_path, strerror(errno));
    char hex[65];
    if (data_seed != 0) {
        /* xorshift noise: incompressible, reproducible, hashed as written */
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        uint64_t x = 0x9e3779b97f4a7c15ULL * data_seed;
        unsigned char buf[65536];
        uint64_t left = size;
        int bad = 0;
        while (left > 0 && !bad) {
            size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
            for (size_t i = 0; i < n; i += 8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                memcpy(buf + i, &x, n - i < 8 ? n - i : 8);
            }
            EVP_DigestUpdate(ctx, buf, n);
            bad = write(fd, buf, n) != (ssize_t)n;
            left -= n;
        }
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(ctx, md, &mdlen);
        EVP_MD_CTX_free(ctx);
        for (size_t i = 0; i < 32; i++)
            sprintf(hex + 2 * i, "%02x", md[i]);
        if (bad) {
            close(fd);
            return bk_err_set(err, BK_EIO, "cannot write %s", tmp_path);
        }
    } else {
        if (digest == NULL || strlen(digest) != 71 || ftruncate(fd, (off_t)size) != 0) {
            close(fd);
            return bk_err_set(err, BK_EIO, "cannot make a sparse blob of %llu bytes",
                              (unsigned long long)size);
        }
        snprintf(hex, sizeof hex, "%s", digest + 7);
    }
    close(fd);
    char final_path[4500];
    snprintf(final_path, sizeof final_path, "%s/%s", dir, hex);
    if (rename(tmp_path, final_path) != 0)
        return bk_err_set(err, BK_EIO, "cannot rename %s", tmp_path);
    snprintf(digest_out, 80, "sha256:%s", hex);

    /* The diffID only has to be a well-formed digest distinct from the blob's. */
    char diff[65];
    conf_sha256_hex(hex, 64, diff);
    char root_digest[80], vertex_digest[80];
    char seed_text[128];
    snprintf(seed_text, sizeof seed_text, "bkconf root %s", tag);
    conf_sha256_hex(seed_text, strlen(seed_text), root_digest);
    snprintf(seed_text, sizeof seed_text, "bkconf vertex %s", tag);
    conf_sha256_hex(seed_text, strlen(seed_text), vertex_digest);
    json_t *layer =
        json_pack("{s:s,s:I,s:s,s:s,s:s}", "digest", digest_out, "size", (json_int_t)size,
                  "mediaType", "application/vnd.docker.image.rootfs.diff.tar.gzip", "diffID", "",
                  "createdAt", "2024-05-01T12:00:00Z");
    char diff_digest[80];
    snprintf(diff_digest, sizeof diff_digest, "sha256:%s", diff);
    json_object_set_new(layer, "diffID", json_string(diff_digest));
    char rd[80], vd[80];
    snprintf(rd, sizeof rd, "sha256:%s", root_digest);
    snprintf(vd, sizeof vd, "sha256:%s", vertex_digest);
    json_t *g = json_pack("{s:s,s:s,s:[{s:s,s:s},{s:s,s:s,s:[[{s:s}]],s:{s:b,s:s,s:[o]}}],s:[s]}",
                          "description", "one layer, made by the conformance runner", "store",
                          store, "vertices", "id", "base", "digest", rd, "id", "layer", "digest",
                          vd, "inputs", "vertex", "base", "result", "remote", 0, "createdAt",
                          "2024-05-01T12:00:00Z", "layers", layer, "targets", "layer");
    if (g == NULL)
        return bk_err_set(err, BK_ENOMEM, "cannot build the graph");
    snprintf(graph, graph_size, "%s/graph-%s.json", c->tmp, tag);
    int rc = json_dump_file(g, graph, JSON_INDENT(1));
    json_decref(g);
    if (rc != 0)
        return bk_err_set(err, BK_EIO, "cannot write %s", graph);
    return BK_OK;
}
