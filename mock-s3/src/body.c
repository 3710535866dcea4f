/* Object bodies (body.h). Memory bodies are lists of runs over shared,
 * immutable blobs, so completing an upload or copying a range hands out
 * references instead of bytes; with a data dir a completed upload is the
 * list of its part files, hard-linked into the object's directory. */
#define _GNU_SOURCE /* copy_file_range */
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
    if (b != NULL)
        atomic_fetch_add(&b->refs, 1);
    return b;
}

/* The part files of a completed upload. Immutable once made, except for
 * `doomed`; the body and each reader over it hold a reference. */
struct ms3_fileset {
    atomic_int refs;
    atomic_int doomed; /* the object is gone: the last holder removes the files */
    char *dir;         /* the directory the files were linked into; NULL before */
    size_t n;
    char **paths;   /* NULL: a zero part (no file) */
    uint64_t *ends; /* where each part ends in the body */
};

static void fileset_free(ms3_fileset *fs)
{
    for (size_t i = 0; fs->paths != NULL && i < fs->n; i++)
        free(fs->paths[i]);
    free(fs->paths);
    free(fs->ends);
    free(fs->dir);
    free(fs);
}

static void fileset_unref(ms3_fileset *fs)
{
    if (fs == NULL || atomic_fetch_sub(&fs->refs, 1) != 1)
        return;
    if (atomic_load(&fs->doomed) && fs->dir != NULL) {
        for (size_t i = 0; i < fs->n; i++)
            if (fs->paths[i] != NULL)
                unlink(fs->paths[i]);
        rmdir(fs->dir);
    }
    fileset_free(fs);
}

/* An empty set for n parts (paths all NULL), or NULL without memory. */
static ms3_fileset *fileset_new(size_t n)
{
    ms3_fileset *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return NULL;
    atomic_init(&fs->refs, 1);
    atomic_init(&fs->doomed, 0);
    fs->n = n;
    fs->paths = calloc(n ? n : 1, sizeof(*fs->paths));
    fs->ends = calloc(n ? n : 1, sizeof(*fs->ends));
    if (fs->paths == NULL || fs->ends == NULL) {
        fileset_free(fs);
        return NULL;
    }
    return fs;
}

static void segs_release(ms3_seg *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        blob_unref(segs[i].blob);
    free(segs);
}

void ms3__body_clear(ms3_body *b)
{
    if (b == NULL)
        return;
    segs_release(b->segs, b->n_segs);
    fileset_unref(b->files);
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

/* A list of runs being built; on failure the caller releases it. */
typedef struct seg_list {
    ms3_seg *segs;
    size_t n, cap;
    uint64_t size;
} seg_list;

/* Appends a run, taking over the caller's reference to blob. -1: no memory
 * (the reference is dropped). */
static int seg_push(seg_list *l, ms3_blob *blob, uint64_t off, uint64_t len)
{
    if (len == 0) {
        blob_unref(blob);
        return 0;
    }
    if (l->n > 0 && blob == NULL && l->segs[l->n - 1].blob == NULL) {
        l->segs[l->n - 1].len += len; /* zeros after zeros: one run */
        l->size += len;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        ms3_seg *ns = realloc(l->segs, cap * sizeof(*ns));
        if (ns == NULL) {
            blob_unref(blob);
            return -1;
        }
        l->segs = ns;
        l->cap = cap;
    }
    l->segs[l->n++] = (ms3_seg){blob, off, len};
    l->size += len;
    return 0;
}

/* Moves the runs into a memory body. */
static void seg_list_finish(seg_list *l, ms3_body *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = MS3_BODY_MEM;
    out->size = l->size;
    out->segs = l->segs;
    out->n_segs = l->n;
    memset(l, 0, sizeof(*l));
}

/* ---- writer */

/* Runs after the announced size (or without one): big enough that a large
 * body is few runs, small enough that a small one wastes little. */
enum { RUN_MIN = 64 * 1024, RUN_MAX = 64 * 1024 * 1024, HINT_MAX = 1024 * 1024 * 1024 };

struct ms3_writer {
    int fd; /* -1 in memory */
    char *path;
    uint64_t hint;
    seg_list runs; /* memory: the filled runs */
    ms3_blob *cur; /* memory: the run being filled */
    uint64_t cur_cap;
    uint64_t size;
};

ms3_writer *ms3__writer_new(const char *tmp_dir, uint64_t size_hint, bk_err *err)
{
    ms3_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    w->fd = -1;
    w->hint = size_hint;
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

/* Closes the run being filled into the list of runs. -1: no memory. */
static int close_run(ms3_writer *w)
{
    ms3_blob *b = w->cur;
    w->cur = NULL;
    if (b == NULL)
        return 0;
    if (b->len < w->cur_cap) {
        /* Shrinking never copies (glibc trims in place or remaps). */
        unsigned char *nd = realloc(b->data, b->len ? b->len : 1);
        if (nd != NULL)
            b->data = nd;
    }
    return seg_push(&w->runs, b, 0, b->len);
}

/* A new run for at least `need` more bytes: the announced size for the
 * first, then about as much as was written so far. */
static bk_code open_run(ms3_writer *w, size_t need, bk_err *err)
{
    if (close_run(w) != 0)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    uint64_t cap = w->size;
    if (w->size == 0 && w->hint > 0) /* an announced size reserves at most HINT_MAX */
        cap = w->hint > HINT_MAX ? HINT_MAX : w->hint;
    else if (cap < RUN_MIN)
        cap = RUN_MIN;
    else if (cap > RUN_MAX)
        cap = RUN_MAX;
    if (cap < need)
        cap = need;
    if (cap > SIZE_MAX)
        return bk_err_set(err, BK_ENOMEM, "object too large for memory");
    ms3_blob *b = calloc(1, sizeof(*b));
    unsigned char *data = b != NULL ? malloc((size_t)cap) : NULL;
    if (data == NULL && b != NULL && cap > RUN_MAX) {
        cap = need > RUN_MAX ? need : RUN_MAX; /* the announced size was too much at once */
        data = malloc((size_t)cap);
    }
    if (data == NULL) {
        free(b);
        return bk_err_set(err, BK_ENOMEM, "out of memory for a %llu-byte body run",
                          (unsigned long long)cap);
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    w->cur = b;
    w->cur_cap = cap;
    return BK_OK;
}

static bk_code write_file(ms3_writer *w, const unsigned char *p, size_t len, bk_err *err)
{
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

bk_code ms3__writer_write(ms3_writer *w, const void *data, size_t len, bk_err *err)
{
    if (len == 0)
        return BK_OK;
    if (w->fd >= 0)
        return write_file(w, data, len, err);
    const unsigned char *p = data;
    while (len > 0) {
        if (w->cur == NULL || w->cur->len == w->cur_cap) {
            bk_code rc = open_run(w, 1, err);
            if (rc != BK_OK)
                return rc;
        }
        uint64_t room = w->cur_cap - w->cur->len;
        size_t n = len < room ? len : (size_t)room;
        memcpy(w->cur->data + w->cur->len, p, n);
        w->cur->len += n;
        w->size += n;
        p += n;
        len -= n;
    }
    return BK_OK;
}

uint64_t ms3__writer_size(const ms3_writer *w)
{
    return w->size;
}

uint64_t ms3__writer_reserved(const ms3_writer *w)
{
    return w->runs.size + (w->cur != NULL ? w->cur_cap : 0);
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
    blob_unref(w->cur);
    segs_release(w->runs.segs, w->runs.n);
    free(w);
}

bk_code ms3__writer_finish(ms3_writer *w, ms3_body *body, bk_err *err)
{
    memset(body, 0, sizeof(*body));
    if (w->fd >= 0) {
        body->size = w->size;
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
    if (close_run(w) != 0) {
        ms3__writer_abort(w);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    /* An empty body is a memory body without runs. */
    body->kind = MS3_BODY_MEM;
    body->size = w->runs.size;
    body->segs = w->runs.segs;
    body->n_segs = w->runs.n;
    free(w);
    return BK_OK;
}

/* ---- reader */

struct ms3_reader {
    ms3_body_kind kind;
    uint64_t size;
    int fd;
    ms3_seg *segs;  /* MEM: references of its own */
    uint64_t *ends; /* MEM: where each run ends in the body */
    size_t n_segs;
    size_t hint;        /* the run the last read ended in (reads are mostly sequential) */
    ms3_fileset *files; /* FILE over parts: fd is part `part`'s, opened on demand */
    size_t part;
};

static int reader_take_segs(ms3_reader *r, const ms3_body *b)
{
    if (b->n_segs == 0)
        return 0;
    r->segs = malloc(b->n_segs * sizeof(*r->segs));
    r->ends = malloc(b->n_segs * sizeof(*r->ends));
    if (r->segs == NULL || r->ends == NULL)
        return -1;
    uint64_t end = 0;
    for (size_t i = 0; i < b->n_segs; i++) {
        r->segs[i] = b->segs[i];
        blob_ref(r->segs[i].blob);
        end += b->segs[i].len;
        r->ends[i] = end;
    }
    r->n_segs = b->n_segs;
    return 0;
}

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
    if (b->kind == MS3_BODY_MEM && reader_take_segs(r, b) != 0) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        ms3__reader_close(r);
        return NULL;
    }
    if (b->kind == MS3_BODY_FILE && b->files != NULL) {
        atomic_fetch_add(&b->files->refs, 1);
        r->files = b->files;
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

/* The first of n ascending ends that lies after off (off < ends[n - 1]). */
static size_t first_end_after(const uint64_t *ends, size_t n, uint64_t off)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ends[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The run holding byte off (off < size). */
static size_t seg_at(ms3_reader *r, uint64_t off)
{
    size_t h = r->hint;
    if (h < r->n_segs && off < r->ends[h] && (h == 0 || off >= r->ends[h - 1]))
        return h;
    return first_end_after(r->ends, r->n_segs, off);
}

/* Memory bodies: the bytes of [off, off+len) in place, run by run, to fn. */
static void visit_mem(ms3_reader *r, uint64_t off, uint64_t len,
                      void (*fn)(void *ud, const unsigned char *p, size_t n), void *ud)
{
    if (len == 0)
        return;
    size_t i = seg_at(r, off);
    while (len > 0 && i < r->n_segs) {
        const ms3_seg *s = &r->segs[i];
        uint64_t start = r->ends[i] - s->len;
        uint64_t in = off - start;
        uint64_t n = s->len - in < len ? s->len - in : len;
        fn(ud, s->blob != NULL ? s->blob->data + s->off + in : NULL, (size_t)n);
        r->hint = i;
        off += n;
        len -= n;
        i++;
    }
}

static void copy_out(void *ud, const unsigned char *p, size_t n)
{
    unsigned char **dst = ud;
    if (p != NULL)
        memcpy(*dst, p, n);
    else
        memset(*dst, 0, n);
    *dst += n;
}

/* The first part ending after off (off < size). */
static size_t part_at(const ms3_fileset *fs, uint64_t off)
{
    return first_end_after(fs->ends, fs->n, off);
}

/* Reads [off, off+len) across part files; -1 on an I/O error or a part file
 * shorter than its size. */
static long pread_parts(ms3_reader *r, unsigned char *buf, size_t len, uint64_t off)
{
    const ms3_fileset *fs = r->files;
    size_t done = 0;
    while (done < len) {
        uint64_t pos = off + done;
        size_t i = part_at(fs, pos);
        uint64_t in = pos - (i > 0 ? fs->ends[i - 1] : 0);
        size_t n = fs->ends[i] - pos < len - done ? (size_t)(fs->ends[i] - pos) : len - done;
        if (fs->paths[i] == NULL) {
            memset(buf + done, 0, n);
            done += n;
            continue;
        }
        if (r->fd < 0 || r->part != i) {
            if (r->fd >= 0)
                close(r->fd);
            r->fd = open(fs->paths[i], O_RDONLY | O_CLOEXEC);
            r->part = i;
            if (r->fd < 0)
                return -1;
        }
        ssize_t got = pread(r->fd, buf + done, n, (off_t)in);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        done += (size_t)got;
    }
    return (long)done;
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
    case MS3_BODY_MEM: {
        unsigned char *dst = buf;
        visit_mem(r, off, len, copy_out, &dst);
        return (long)len;
    }
    case MS3_BODY_ZERO:
        memset(buf, 0, len);
        return (long)len;
    case MS3_BODY_FILE:
        if (r->files != NULL)
            return pread_parts(r, buf, len, off);
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
    segs_release(r->segs, r->n_segs);
    fileset_unref(r->files);
    free(r->ends);
    free(r);
}

void ms3__zero_md5(uint64_t size, unsigned char md5[16])
{
    char text[64];
    int n = snprintf(text, sizeof(text), "ms3-zero:%llu", (unsigned long long)size);
    unsigned int len = 16;
    EVP_Digest(text, (size_t)n, md5, &len, EVP_md5(), NULL);
}

/* ---- ranges */

enum { COPY_BUF = 256 * 1024 };

static void md5_run(void *ud, const unsigned char *p, size_t n)
{
    static const unsigned char zeros[4096];
    EVP_MD_CTX *ctx = ud;
    if (p != NULL) {
        EVP_DigestUpdate(ctx, p, n);
        return;
    }
    for (; n > 0; n -= n < sizeof(zeros) ? n : sizeof(zeros))
        EVP_DigestUpdate(ctx, zeros, n < sizeof(zeros) ? n : sizeof(zeros));
}

/* A memory range as a slice of the same runs, hashed in place. */
static bk_code slice_mem(ms3_reader *r, uint64_t off, uint64_t len, ms3_body *out,
                         unsigned char md5[16], bk_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    visit_mem(r, off, len, md5_run, ctx);
    unsigned int mdlen = 16;
    EVP_DigestFinal_ex(ctx, md5, &mdlen);
    EVP_MD_CTX_free(ctx);
    seg_list l = {0};
    uint64_t pos = off, left = len;
    size_t i = len > 0 ? seg_at(r, off) : r->n_segs;
    for (; left > 0 && i < r->n_segs; i++) {
        const ms3_seg *s = &r->segs[i];
        uint64_t in = pos - (r->ends[i] - s->len);
        uint64_t n = s->len - in < left ? s->len - in : left;
        if (seg_push(&l, blob_ref(s->blob), s->off + in, n) != 0) {
            segs_release(l.segs, l.n);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        pos += n;
        left -= n;
    }
    seg_list_finish(&l, out);
    return BK_OK;
}

/* Any range copied through a buffer into a new writer, hashed on the way. */
static bk_code copy_range(const char *tmp_dir, ms3_reader *r, uint64_t off, uint64_t len,
                          ms3_body *out, unsigned char md5[16], bk_err *err)
{
    bk_err e;
    ms3_writer *w = ms3__writer_new(tmp_dir, len, &e);
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
    if (r->kind == MS3_BODY_MEM && tmp_dir == NULL)
        return slice_mem(r, off, len, out, md5, err);
    return copy_range(tmp_dir, r, off, len, out, md5, err);
}

/* ---- joining parts */

/* In memory: the parts' runs, referenced. */
static bk_code concat_mem(ms3_body *const *parts, size_t n, ms3_body *out, bk_err *err)
{
    seg_list l = {0};
    for (size_t i = 0; i < n; i++) {
        const ms3_body *p = parts[i];
        int failed = 0;
        if (p->kind == MS3_BODY_ZERO)
            failed = seg_push(&l, NULL, 0, p->size);
        for (size_t k = 0; p->kind == MS3_BODY_MEM && k < p->n_segs && !failed; k++)
            failed = seg_push(&l, blob_ref(p->segs[k].blob), p->segs[k].off, p->segs[k].len);
        if (p->kind == MS3_BODY_FILE || failed) {
            segs_release(l.segs, l.n);
            return p->kind == MS3_BODY_FILE
                       ? bk_err_set(err, BK_EINVAL, "part %zu is a file in a memory store", i + 1)
                       : bk_err_set(err, BK_ENOMEM, "out of memory");
        }
    }
    seg_list_finish(&l, out);
    return BK_OK;
}

/* Appends len bytes of in at its offset 0 to out at *pos: in the kernel when
 * it can, else through a buffer. */
static bk_code append_file(int out_fd, uint64_t *pos, int in_fd, uint64_t len, const char *name,
                           bk_err *err)
{
    off_t in_off = 0, out_off = (off_t)*pos;
    uint64_t left = len;
    while (left > 0) {
        size_t want = left < ((size_t)1 << 30) ? (size_t)left : (size_t)1 << 30;
        ssize_t n = copy_file_range(in_fd, &in_off, out_fd, &out_off, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
            break; /* not between these files: copy the rest by hand */
        if (n < 0)
            return bk_err_set(err, BK_EIO, "copying %s: %s", name, strerror(errno));
        if (n == 0)
            return bk_err_set(err, BK_EIO, "%s is shorter than its %llu bytes", name,
                              (unsigned long long)len);
        left -= (uint64_t)n;
    }
    unsigned char *buf = left > 0 ? malloc(COPY_BUF) : NULL;
    if (left > 0 && buf == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    while (left > 0) {
        size_t want = left < COPY_BUF ? (size_t)left : COPY_BUF;
        ssize_t n = pread(in_fd, buf, want, in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || pwrite(out_fd, buf, (size_t)n, out_off) != n) {
            free(buf);
            return bk_err_set(err, BK_EIO, "copying %s: %s", name,
                              n < 0 ? strerror(errno) : "short read or write");
        }
        in_off += n;
        out_off += n;
        left -= (uint64_t)n;
    }
    free(buf);
    *pos = (uint64_t)out_off;
    return BK_OK;
}

static bk_code append_part(int fd, uint64_t *pos, const ms3_body *p, size_t number,
                           const char *path, bk_err *err)
{
    if (p->kind == MS3_BODY_ZERO) {
        *pos += p->size; /* a hole; the final truncate gives it its length */
        return BK_OK;
    }
    if (p->kind == MS3_BODY_MEM) {
        for (size_t k = 0; k < p->n_segs; k++) {
            const ms3_seg *s = &p->segs[k];
            uint64_t done = 0;
            while (s->blob != NULL && done < s->len) {
                ssize_t n = pwrite(fd, s->blob->data + s->off + done, (size_t)(s->len - done),
                                   (off_t)(*pos + done));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    return bk_err_set(err, BK_EIO, "write %s: %s", path, strerror(errno));
                done += (uint64_t)n;
            }
            *pos += s->len;
        }
        return BK_OK;
    }
    if (p->path == NULL) /* upload parts are single files */
        return bk_err_set(err, BK_EINVAL, "part %zu is not a single file", number);
    int in = open(p->path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return bk_err_set(err, BK_EIO, "open part %zu (%s): %s", number, p->path, strerror(errno));
    char name[32];
    snprintf(name, sizeof(name), "part %zu", number);
    bk_code rc = append_file(fd, pos, in, p->size, name, err);
    close(in);
    return rc;
}

/* With a data dir: one new file, the part files copied into it in the kernel. */
static bk_code concat_files(const char *tmp_dir, ms3_body *const *parts, size_t n, ms3_body *out,
                            bk_err *err)
{
    bk_err e;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i]->size;
    ms3_writer *w = ms3__writer_new(tmp_dir, total, &e);
    if (w == NULL)
        return ms3__err_pass(err, &e);
    uint64_t pos = 0;
    bk_code rc = BK_OK;
    for (size_t i = 0; i < n && rc == BK_OK; i++)
        rc = append_part(w->fd, &pos, parts[i], i + 1, w->path, err);
    if (rc == BK_OK && ftruncate(w->fd, (off_t)pos) != 0)
        rc = bk_err_set(err, BK_EIO, "truncate %s: %s", w->path, strerror(errno));
    if (rc != BK_OK) {
        ms3__writer_abort(w);
        return rc;
    }
    w->size = pos;
    return ms3__writer_finish(w, out, err);
}

static bk_code name_part_files(ms3_body *const *parts, size_t n, uint64_t total, ms3_body *out,
                               bk_err *err);

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
    if (tmp_dir == NULL)
        return concat_mem(parts, n, out, err);
    for (size_t i = 0; i < n; i++)
        if (parts[i]->kind != MS3_BODY_ZERO &&
            (parts[i]->kind != MS3_BODY_FILE || parts[i]->path == NULL))
            return concat_files(tmp_dir, parts, n, out, err);
    return name_part_files(parts, n, total, out, err);
}

/* ---- multipart bodies with a data dir */

static bk_code name_part_files(ms3_body *const *parts, size_t n, uint64_t total, ms3_body *out,
                               bk_err *err)
{
    ms3_fileset *fs = fileset_new(n);
    if (fs == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    uint64_t end = 0;
    for (size_t i = 0; i < n; i++) {
        end += parts[i]->size;
        fs->ends[i] = end;
        if (parts[i]->kind == MS3_BODY_FILE && (fs->paths[i] = strdup(parts[i]->path)) == NULL) {
            fileset_free(fs);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
    }
    out->kind = MS3_BODY_FILE;
    out->size = total;
    out->files = fs;
    return BK_OK;
}

/* dst as a hard link to src, or a copy where the file system has no links. */
static bk_code link_or_copy(const char *src, const char *dst, uint64_t size, bk_err *err)
{
    if (link(src, dst) == 0)
        return BK_OK;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
        return bk_err_set(err, BK_EIO, "link %s -> %s: %s", src, dst, strerror(errno));
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    uint64_t pos = 0;
    bk_code rc = in < 0 || out < 0
                     ? bk_err_set(err, BK_EIO, "copy %s -> %s: %s", src, dst, strerror(errno))
                     : append_file(out, &pos, in, size, src, err);
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && rc == BK_OK)
        rc = bk_err_set(err, BK_EIO, "close %s: %s", dst, strerror(errno));
    return rc;
}

bk_code ms3__body_place_parts(ms3_body *b, char *dir_template, bk_err *err)
{
    const ms3_fileset *from = b->files;
    if (b->kind != MS3_BODY_FILE || from == NULL)
        return bk_err_set(err, BK_EINVAL, "internal: the body is not a list of part files");
    if (mkdtemp(dir_template) == NULL)
        return bk_err_set(err, BK_EIO, "cannot create %s: %s", dir_template, strerror(errno));
    ms3_fileset *fs = fileset_new(from->n);
    if (fs == NULL || (fs->dir = strdup(dir_template)) == NULL) {
        if (fs != NULL)
            fileset_free(fs);
        rmdir(dir_template);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    atomic_store(&fs->doomed, 1); /* until it is complete: a failure removes what was made */
    bk_code rc = BK_OK;
    for (size_t i = 0; i < from->n && rc == BK_OK; i++) {
        fs->ends[i] = from->ends[i];
        if (from->paths[i] == NULL)
            continue;
        size_t len = strlen(dir_template) + 16;
        if ((fs->paths[i] = malloc(len)) == NULL) {
            rc = bk_err_set(err, BK_ENOMEM, "out of memory");
            break;
        }
        snprintf(fs->paths[i], len, "%s/%05zu", dir_template, i + 1);
        uint64_t size = from->ends[i] - (i > 0 ? from->ends[i - 1] : 0);
        rc = link_or_copy(from->paths[i], fs->paths[i], size, err);
        if (rc != BK_OK) {
            unlink(fs->paths[i]); /* a half-made copy */
            free(fs->paths[i]);
            fs->paths[i] = NULL;
        }
    }
    if (rc != BK_OK) {
        fileset_unref(fs);
        return rc;
    }
    atomic_store(&fs->doomed, 0);
    fileset_unref(b->files);
    b->files = fs;
    return BK_OK;
}

size_t ms3__body_part_count(const ms3_body *b)
{
    return b->files != NULL ? b->files->n : 0;
}

uint64_t ms3__body_part_size(const ms3_body *b, size_t i)
{
    return b->files->ends[i] - (i > 0 ? b->files->ends[i - 1] : 0);
}

int ms3__body_part_is_zero(const ms3_body *b, size_t i)
{
    return b->files->paths[i] == NULL;
}

const char *ms3__body_parts_dir(const ms3_body *b)
{
    return b->files != NULL ? b->files->dir : NULL;
}

bk_code ms3__body_load_parts(ms3_body *out, const char *dir, const uint64_t *sizes, const int *zero,
                             size_t n, bk_err *err)
{
    memset(out, 0, sizeof(*out));
    ms3_fileset *fs = fileset_new(n);
    if (fs == NULL || (fs->dir = strdup(dir)) == NULL) {
        if (fs != NULL)
            fileset_free(fs);
        return bk_err_set(err, BK_ENOMEM, "out of memory");
    }
    uint64_t end = 0;
    for (size_t i = 0; i < n; i++) {
        end += sizes[i];
        fs->ends[i] = end;
        if (zero[i])
            continue;
        size_t len = strlen(dir) + 16;
        struct stat sb;
        if ((fs->paths[i] = malloc(len)) == NULL) {
            fileset_free(fs);
            return bk_err_set(err, BK_ENOMEM, "out of memory");
        }
        snprintf(fs->paths[i], len, "%s/%05zu", dir, i + 1);
        if (stat(fs->paths[i], &sb) != 0 || !S_ISREG(sb.st_mode) ||
            (uint64_t)sb.st_size != sizes[i]) {
            bk_code rc = bk_err_set(err, BK_EIO, "part file %s is missing or not %llu bytes",
                                    fs->paths[i], (unsigned long long)sizes[i]);
            fileset_free(fs);
            return rc;
        }
    }
    out->kind = MS3_BODY_FILE;
    out->size = end;
    out->files = fs;
    return BK_OK;
}

void ms3__body_doom(ms3_body *b)
{
    if (b->files != NULL && b->files->dir != NULL)
        atomic_store(&b->files->doomed, 1);
}
