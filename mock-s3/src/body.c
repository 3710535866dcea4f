#include "body.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

struct ms3_blob {
    atomic_int refs;
    uint64_t len;
    unsigned char *data;
};

static void blob_unref(ms3_blob *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b->data);
        free(b);
    }
}

static ms3_blob *blob_ref(ms3_blob *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void ms3__body_clear(ms3_body *b)
{
    if (b == NULL)
        return;
    blob_unref(b->blob);
    if (b->kind == MS3_BODY_FILE && b->is_temp && b->path != NULL)
        unlink(b->path);
    free(b->path);
    memset(b, 0, sizeof(*b));
}

void ms3__body_zero(ms3_body *b, uint64_t size)
{
    memset(b, 0, sizeof(*b));
    b->kind = MS3_BODY_ZERO;
    b->size = size;
}

/* ---- writer */

struct ms3_writer {
    int fd; /* -1 in memory */
    char *path;
    unsigned char *data;
    size_t cap;
    uint64_t size;
};

ms3_writer *ms3__writer_new(const char *tmp_dir, bk_err *err)
{
    ms3_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    w->fd = -1;
    if (tmp_dir != NULL) {
        size_t n = strlen(tmp_dir) + 32;
        w->path = malloc(n);
        if (w->path == NULL) {
            free(w);
            bk_err_set(err, BK_ENOMEM, "out of memory");
            return NULL;
        }
        snprintf(w->path, n, "%s/body-XXXXXX", tmp_dir);
        w->fd = mkstemp(w->path);
        if (w->fd < 0) {
            bk_err_set(err, BK_EIO, "cannot create a temp file in %s: %s", tmp_dir,
                       strerror(errno));
            free(w->path);
            free(w);
            return NULL;
        }
    }
    return w;
}

bk_code ms3__writer_write(ms3_writer *w, const void *data, size_t len, bk_err *err)
{
    if (len == 0)
        return BK_OK;
    if (w->fd >= 0) {
        const unsigned char *p = data;
        while (len > 0) {
            ssize_t n = write(w->fd, p, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return bk_err_set(err, BK_EIO, "write %s: %s", w->path, strerror(errno));
            p += n;
            len -= (size_t)n;
            w->size += (uint64_t)n;
        }
        return BK_OK;
    }
    if (w->size + len > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->size + len) {
            if (cap > SIZE_MAX / 2)
                return bk_err_set(err, BK_ENOMEM, "object too large for memory");
            cap *= 2;
        }
        unsigned char *nd = realloc(w->data, cap);
        if (nd == NULL)
            return bk_err_set(err, BK_ENOMEM, "out of memory growing an object to %zu bytes", cap);
        w->data = nd;
        w->cap = cap;
    }
    memcpy(w->data + w->size, data, len);
    w->size += len;
    return BK_OK;
}

uint64_t ms3__writer_size(const ms3_writer *w)
{
    return w->size;
}

void ms3__writer_abort(ms3_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->path);
    }
    free(w->path);
    free(w->data);
    free(w);
}

bk_code ms3__writer_finish(ms3_writer *w, ms3_body *body, bk_err *err)
{
    memset(body, 0, sizeof(*body));
    body->size = w->size;
    if (w->fd >= 0) {
        if (close(w->fd) != 0) {
            w->fd = -1;
            bk_code rc = bk_err_set(err, BK_EIO, "close %s: %s", w->path, strerror(errno));
            unlink(w->path);
            free(w->path);
            free(w);
            return rc;
        }
        body->kind = MS3_BODY_FILE;
        body->path = w->path;
        body->is_temp = 1;
        free(w);
        return BK_OK;
    }
    ms3_blob *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        ms3__writer_abort(w);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    atomic_init(&b->refs, 1);
    b->len = w->size;
    b->data = w->data; /* may be NULL for an empty object */
    body->kind = MS3_BODY_MEM;
    body->blob = b;
    free(w);
    return BK_OK;
}

/* ---- reader */

struct ms3_reader {
    ms3_body_kind kind;
    uint64_t size;
    int fd;
    ms3_blob *blob;
};

ms3_reader *ms3__reader_from_body(const ms3_body *b, bk_err *err)
{
    ms3_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    r->kind = b->kind;
    r->size = b->size;
    r->fd = -1;
    if (b->kind == MS3_BODY_MEM) {
        r->blob = blob_ref(b->blob);
    } else if (b->kind == MS3_BODY_FILE) {
        r->fd = open(b->path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            bk_err_set(err, BK_EIO, "open %s: %s", b->path, strerror(errno));
            free(r);
            return NULL;
        }
    }
    return r;
}

uint64_t ms3__reader_size(const ms3_reader *r)
{
    return r->size;
}

ms3_body_kind ms3__reader_kind(const ms3_reader *r)
{
    return r->kind;
}

long ms3__reader_pread(ms3_reader *r, void *buf, size_t len, uint64_t off)
{
    if (off >= r->size)
        return 0;
    if (len > r->size - off)
        len = (size_t)(r->size - off);
    if (len > (size_t)1 << 30)
        len = (size_t)1 << 30;
    switch (r->kind) {
    case MS3_BODY_MEM:
        memcpy(buf, r->blob->data + off, len);
        return (long)len;
    case MS3_BODY_ZERO:
        memset(buf, 0, len);
        return (long)len;
    case MS3_BODY_FILE:
        for (;;) {
            ssize_t n = pread(r->fd, buf, len, (off_t)off);
            if (n < 0 && errno == EINTR)
                continue;
            return (long)n;
        }
    }
    return -1;
}

void ms3__reader_close(ms3_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    blob_unref(r->blob);
    free(r);
}

void ms3__zero_md5(uint64_t size, unsigned char md5[16])
{
    char text[64];
    int n = snprintf(text, sizeof(text), "ms3-zero:%llu", (unsigned long long)size);
    unsigned int len = 16;
    EVP_Digest(text, (size_t)n, md5, &len, EVP_md5(), NULL);
}

enum { COPY_BUF = 256 * 1024 };

bk_code ms3__body_from_range(const char *tmp_dir, ms3_reader *r, uint64_t off, uint64_t len,
                             ms3_body *out, unsigned char md5[16], bk_err *err)
{
    memset(out, 0, sizeof(*out));
    if (off > r->size || len > r->size - off)
        return bk_err_set(err, BK_EINVAL, "range %llu+%llu is outside the %llu-byte source",
                          (unsigned long long)off, (unsigned long long)len,
                          (unsigned long long)r->size);
    if (r->kind == MS3_BODY_ZERO) {
        ms3__body_zero(out, len);
        ms3__zero_md5(len, md5);
        return BK_OK;
    }
    bk_err e;
    ms3_writer *w = ms3__writer_new(tmp_dir, &e);
    if (w == NULL)
        return ms3__err_pass(err, &e);
    unsigned char *buf = malloc(COPY_BUF);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bk_code rc = BK_OK;
    if (buf == NULL || ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        size_t want = end - pos < COPY_BUF ? (size_t)(end - pos) : COPY_BUF;
        long n = ms3__reader_pread(r, buf, want, pos);
        if (n <= 0) {
            rc = bk_err_set(err, BK_EIO, "short read copying a body at offset %llu",
                            (unsigned long long)pos);
            goto done;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        if ((rc = ms3__writer_write(w, buf, (size_t)n, err)) != BK_OK)
            goto done;
        pos += (uint64_t)n;
    }
    unsigned int mdlen = 16;
    EVP_DigestFinal_ex(ctx, md5, &mdlen);
    rc = ms3__writer_finish(w, out, err);
    w = NULL;
done:
    ms3__writer_abort(w);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

bk_code ms3__body_concat(const char *tmp_dir, ms3_body *const *parts, size_t n, ms3_body *out,
                         bk_err *err)
{
    memset(out, 0, sizeof(*out));
    uint64_t total = 0;
    int all_zero = 1;
    for (size_t i = 0; i < n; i++) {
        total += parts[i]->size;
        if (parts[i]->kind != MS3_BODY_ZERO)
            all_zero = 0;
    }
    if (all_zero) {
        ms3__body_zero(out, total);
        return BK_OK;
    }
    bk_err e;
    ms3_writer *w = ms3__writer_new(tmp_dir, &e);
    if (w == NULL)
        return ms3__err_pass(err, &e);
    unsigned char *buf = malloc(COPY_BUF);
    bk_code rc = BK_OK;
    if (buf == NULL) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && rc == BK_OK; i++) {
        ms3_reader *r = ms3__reader_from_body(parts[i], &e);
        if (r == NULL) {
            rc = ms3__err_pass(err, &e);
            break;
        }
        uint64_t pos = 0;
        while (pos < r->size && rc == BK_OK) {
            long got = ms3__reader_pread(r, buf, COPY_BUF, pos);
            if (got <= 0)
                rc = bk_err_set(err, BK_EIO, "short read joining part %zu", i + 1);
            else if ((rc = ms3__writer_write(w, buf, (size_t)got, err)) == BK_OK)
                pos += (uint64_t)got;
        }
        ms3__reader_close(r);
    }
    if (rc == BK_OK) {
        rc = ms3__writer_finish(w, out, err);
        w = NULL;
    }
done:
    ms3__writer_abort(w);
    free(buf);
    return rc;
}
