/* nftw() is an XSI extension. */
#define _XOPEN_SOURCE 700

#include "cachegen.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkcache/buf.h"

#include <openssl/sha.h>

#include "bkcache/chains.h"
#include "bkcache/store.h"

static uint32_t next_random(uint32_t *state)
{
    /* xorshift32: deterministic per seed, good enough for test payloads */
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static int write_blob(const char *dir, const unsigned char *data, size_t len, char *digest)
{
    unsigned char md[32];
    SHA256(data, len, md);
    bk_digest_format(md, digest);
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, digest + 7);
    return bk_test_write_file(path, data, len);
}

int bk_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

int bk_test_mkdtemp(char *out, size_t n, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int k = snprintf(out, n, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    return k > 0 && (size_t)k < n && mkdtemp(out) != NULL ? 0 : -1;
}

int bk_test_cache_make(bk_test_cache *c, size_t n, uint64_t min_size, uint64_t max_size,
                       uint32_t seed)
{
    memset(c, 0, sizeof *c);
    if (bk_test_mkdtemp(c->dir, sizeof c->dir, "bkcache-cache") != 0)
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/blobs", c->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/blobs/sha256", c->dir);
    if (mkdir(path, 0755) != 0)
        return -1;
    c->n = n;
    c->digests = calloc(n ? n : 1, sizeof *c->digests);
    c->sizes = calloc(n ? n : 1, sizeof *c->sizes);
    c->config = bk_config_new();
    if (c->digests == NULL || c->sizes == NULL || c->config == NULL)
        return -1;
    uint32_t state = seed ? seed : 1;
    bk_time created = {1767225600, 500000000, 0}; /* 2026-01-01T00:00:00.5Z */
    for (size_t i = 0; i < n; i++) {
        uint64_t span = max_size - min_size + 1;
        uint64_t size = min_size + (span ? next_random(&state) % span : 0);
        unsigned char *data = malloc(size ? size : 1);
        if (data == NULL)
            return -1;
        for (uint64_t b = 0; b < size; b++)
            data[b] = (unsigned char)next_random(&state);
        /* A counter in the first bytes keeps blobs distinct even when tiny. */
        if (size >= 8)
            memcpy(data, &i, sizeof i < 8 ? sizeof i : 8);
        if (write_blob(c->dir, data, size, c->digests[i]) != 0) {
            free(data);
            return -1;
        }
        c->sizes[i] = size;
        char diff_id[80];
        unsigned char md[32];
        SHA256((const unsigned char *)c->digests[i], strlen(c->digests[i]), md);
        bk_digest_format(md, diff_id);
        free(data);

        bk_cache_layer *layer =
            bk_config_add_layer(c->config, c->digests[i], i == 0 ? -1 : (int64_t)i - 1);
        if (layer == NULL ||
            bk_layer_set_annotations(layer, "application/vnd.oci.image.layer.v1.tar+gzip", diff_id,
                                     (int64_t)size, created) == NULL)
            return -1;
        char record[80], seed_text[64];
        snprintf(seed_text, sizeof seed_text, "record %zu of seed %u", i, seed);
        SHA256((const unsigned char *)seed_text, strlen(seed_text), md);
        bk_digest_format(md, record);
        bk_cache_record *rec = bk_config_add_record(c->config, record);
        if (rec == NULL || bk_record_add_result(rec, (int64_t)i, created) == NULL)
            return -1;
        if (i > 0) {
            bk_input_list *in = bk_record_add_input(rec);
            if (in == NULL || bk_input_add_link(in, "", (int64_t)i - 1) == NULL)
                return -1;
        }
    }
    /* What an exporter really sends: the marshalled, sorted form. */
    bk_cache_config *normalized = NULL;
    bk_err err;
    if (bk_chains_normalize(c->config, BK_VALIDATE_S3, BK_MARSHAL_ANNOTATIONS, &normalized, &err) !=
        BK_OK) {
        fprintf(stderr, "cachegen: %s\n", err.msg);
        return -1;
    }
    bk_config_free(c->config);
    c->config = normalized;
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int bk_test_rmtree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void bk_test_cache_clear(bk_test_cache *c)
{
    if (c->dir[0] != '\0' && bk_test_rmtree(c->dir) != 0)
        fprintf(stderr, "could not remove %s\n", c->dir);
    bk_config_free(c->config);
    free(c->digests);
    free(c->sizes);
    memset(c, 0, sizeof *c);
}

int bk_test_cache_corrupt(bk_test_cache *c, size_t i)
{
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", c->dir, c->digests[i] + 7);
    FILE *f = fopen(path, "r+b");
    if (f == NULL)
        return -1;
    int ch = fgetc(f);
    fseek(f, 0, SEEK_SET);
    fputc(ch ^ 0xff, f);
    return fclose(f);
}

char *bk_test_read_file(const char *path, size_t *len)
{
    if (len != NULL)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    bk_buf b = BK_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bk_buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed || bk_buf_check(&b, NULL) != BK_OK) {
        bk_buf_clear(&b);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    if (b.data == NULL)
        bk_buf_puts(&b, ""); /* an empty file reads as "" */
    return bk_buf_steal(&b);
}
