#include "bkcache/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bkcache/fileio.h"
#include "sha256x2.h"

struct bk_store {
    char *dir;
    int dirfd;    /* the store's root */
    int blobsfd;  /* blobs/sha256 */
    int nofollow; /* O_NOFOLLOW for a store being filled, 0 for one being read */
};

struct bk_blob_writer {
    bk_store *store;
    char digest[BK_DIGEST_MAX];
    char hex[65];
    char tmpname[96];
    int fd;
    uint64_t expected_size;
    uint64_t written;
    EVP_MD_CTX *sha;
};

bk_code bk_digest_validate(const char *digest, char *hex, bk_err *err)
{
    static const char prefix[] = "sha256:";
    if (digest == NULL || strncmp(digest, prefix, sizeof prefix - 1) != 0)
        return bk_err_set(err, BK_EINVAL, "digest \"%.80s\": expected sha256:<64 hex digits>",
                          digest ? digest : "(null)");
    const char *h = digest + sizeof prefix - 1;
    size_t n = 0;
    for (; h[n] != '\0'; n++) {
        char c = h[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n >= 64)
            return bk_err_set(err, BK_EINVAL,
                              "digest \"%.80s\": expected sha256:<64 lowercase hex digits>",
                              digest);
    }
    if (n != 64)
        return bk_err_set(err, BK_EINVAL, "digest \"%.80s\": expected 64 hex digits, got %zu",
                          digest, n);
    if (hex != NULL)
        memcpy(hex, h, 65);
    return BK_OK;
}

void bk_digest_format(const unsigned char sha256[32], char out[BK_DIGEST_MAX])
{
    static const char digits[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = digits[sha256[i] >> 4];
        out[8 + 2 * i] = digits[sha256[i] & 15];
    }
    out[71] = '\0';
}

/* Opens (and with create, makes) one directory level below dirfd; with
 * nofollow a link there is refused. */
static int open_subdir(int dirfd, const char *name, int create, int nofollow)
{
    if (create && mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST)
        return -1;
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC);
}

static int is_link(int dirfd, const char *path)
{
    struct stat st;
    return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* Why blobs/sha256 could not be opened. A link refused is said as such:
 * O_DIRECTORY | O_NOFOLLOW on a link fails with "Not a directory". */
static void blobs_error(const bk_store *s, bk_err *err)
{
    int e = errno;
    const char *linked = !s->nofollow                        ? NULL
                         : is_link(s->dirfd, "blobs")        ? "blobs"
                         : is_link(s->dirfd, "blobs/sha256") ? "blobs/sha256"
                                                             : NULL;
    if (linked != NULL)
        bk_err_set(err, BK_EINVAL,
                   "%s/%s is a symbolic link: refused (nothing is written through a link in a "
                   "destination store)",
                   s->dir, linked);
    else
        bk_err_set(err, BK_EIO, "cannot open %s/blobs/sha256: %s", s->dir, strerror(e));
}

/* A store opened to read (create 0: a cache being pushed or exported) follows
 * symbolic links as BuildKit's readers do (containerd's local content store
 * stats and opens blob paths; index.json is read with os.ReadFile). A store
 * being filled (create 1) never reads or writes through a link. */
bk_store *bk_store_open(const char *dir, int create, bk_err *err)
{
    if (create && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        bk_err_set(err, BK_EIO, "cannot create store directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    bk_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory opening store %s", dir);
        return NULL;
    }
    s->dirfd = s->blobsfd = -1;
    s->nofollow = create ? O_NOFOLLOW : 0;
    s->dir = strdup(dir);
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir == NULL || s->dirfd < 0) {
        bk_err_set(err, s->dir ? BK_EIO : BK_ENOMEM, "cannot open store directory %s: %s", dir,
                   strerror(errno));
        bk_store_free(s);
        return NULL;
    }
    int blobs = open_subdir(s->dirfd, "blobs", create, s->nofollow);
    if (blobs >= 0) {
        s->blobsfd = open_subdir(blobs, "sha256", create, s->nofollow);
        close(blobs);
    }
    if (s->blobsfd < 0 && (create || errno != ENOENT)) {
        blobs_error(s, err);
        bk_store_free(s);
        return NULL;
    }
    return s;
}

void bk_store_free(bk_store *s)
{
    if (s == NULL)
        return;
    if (s->blobsfd >= 0)
        close(s->blobsfd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->dir);
    free(s);
}

const char *bk_store_dir(const bk_store *s)
{
    return s->dir;
}

bk_code bk_store_open_blob(bk_store *s, const char *digest, int *fd, uint64_t *size, bk_err *err)
{
    char hex[65];
    if (bk_digest_validate(digest, hex, err) != BK_OK)
        return BK_EINVAL;
    if (s->blobsfd < 0)
        return bk_err_set(err, BK_ENOTFOUND, "blob %s not in store %s (no blobs/sha256)", digest,
                          s->dir);
    const char *kind = NULL;
    int f = bk_open_regular(s->blobsfd, hex, s->nofollow, &kind);
    if (f < 0) {
        if (errno == ENOENT)
            return bk_err_set(err, BK_ENOTFOUND, "blob %s not in store %s", digest, s->dir);
        if (errno == ELOOP)
            return bk_err_set(err, BK_EINVAL,
                              "blob %s in store %s is a symbolic link: refused (store blobs must "
                              "be regular files)",
                              digest, s->dir);
        if (kind != NULL)
            return bk_err_set(err, BK_EINVAL, "blob %s in store %s is not a regular file (%s)",
                              digest, s->dir, kind);
        return bk_err_set(err, BK_EIO, "cannot open blob %s in %s: %s", digest, s->dir,
                          strerror(errno));
    }
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return bk_err_set(err, BK_EIO, "cannot open blob %s in %s: %s", digest, s->dir,
                          strerror(e));
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return BK_OK;
}

int bk_store_has_blob(bk_store *s, const char *digest, uint64_t *size, bk_err *err)
{
    int fd = -1;
    bk_err local;
    bk_code rc = bk_store_open_blob(s, digest, &fd, size, &local);
    if (rc == BK_ENOTFOUND)
        return 0;
    if (rc != BK_OK) {
        if (err != NULL)
            *err = local;
        return -1;
    }
    close(fd);
    return 1;
}

static int md_matches(const unsigned char md[32], const char *hex)
{
    char digest[BK_DIGEST_MAX];
    bk_digest_format(md, digest);
    return strcmp(digest + 7, hex) == 0;
}

static int sha256_matches(EVP_MD_CTX *ctx, const char *hex)
{
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
        return 0;
    return md_matches(md, hex);
}

/* The verification's one read of a blob gives its SHA-256 (stream 0) and,
 * for a multipart upload, each part's SHA-256 (stream 1, finished and
 * restarted at every part boundary). */
typedef struct verify_hasher {
    bk__sha256x2 sha;
    uint64_t part_size; /* 0 = no parts */
    char (*hex)[65];
    size_t n, done;
    uint64_t in_part; /* bytes of the current part hashed so far */
} verify_hasher;

static void part_finish(verify_hasher *v)
{
    unsigned char md[32];
    bk__sha256x2_final(&v->sha, 1, md); /* on failure md is zero: S3 will refuse the part */
    if (v->done < v->n) {
        char digest[BK_DIGEST_MAX];
        bk_digest_format(md, digest);
        memcpy(v->hex[v->done++], digest + 7, 65);
    }
    v->in_part = 0;
}

/* Feeds a piece of the blob; `last`: it ends the blob. */
static void verify_update(verify_hasher *v, const unsigned char *data, size_t len, int last)
{
    if (v->part_size == 0) {
        bk__sha256x2_update(&v->sha, data, len);
        return;
    }
    while (len > 0) {
        uint64_t room = v->part_size - v->in_part;
        size_t take = len < room ? len : (size_t)room;
        bk__sha256x2_update(&v->sha, data, take);
        v->in_part += take;
        data += take;
        len -= take;
        if (v->in_part == v->part_size)
            part_finish(v);
    }
    if (last && v->in_part > 0)
        part_finish(v);
}

bk_code bk_store_open_verified(bk_store *s, const char *digest, uint64_t expected_size, int *fd_out,
                               bk_err *err)
{
    return bk_store_open_verified_parts(s, digest, expected_size, 0, NULL, 0, fd_out, err);
}

/* Reads the open blob `fd` once through `v`; its size must be `expected`. */
static bk_code verify_read(int fd, const char *digest, uint64_t expected, verify_hasher *v,
                           bk_err *err)
{
    static const size_t bufsize = (size_t)256 * 1024;
    unsigned char *buf = malloc(bufsize);
    bk_code rc =
        buf ? BK_OK : bk_err_set(err, BK_ENOMEM, "out of memory verifying blob %s", digest);
    uint64_t total = 0;
    while (rc == BK_OK) {
        ssize_t n = pread(fd, buf, bufsize, (off_t)total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = bk_err_set(err, BK_EIO, "reading blob %s: %s", digest, strerror(errno));
        if (n <= 0)
            break;
        total += (uint64_t)n;
        verify_update(v, buf, (size_t)n, total >= expected);
    }
    free(buf);
    if (rc == BK_OK && total != expected)
        rc = bk_err_set(err, BK_EINTEGRITY, "blob %s: expected size %llu, read %llu", digest,
                        (unsigned long long)expected, (unsigned long long)total);
    unsigned char md[32];
    if (rc == BK_OK && (bk__sha256x2_final(&v->sha, 0, md) != 0 || !md_matches(md, digest + 7)))
        rc =
            bk_err_set(err, BK_EINTEGRITY,
                       "blob %s: content does not match its digest (the store is corrupt)", digest);
    return rc;
}

bk_code bk_store_open_verified_parts(bk_store *s, const char *digest, uint64_t expected_size,
                                     uint64_t part_size, char (*part_sha256)[65], size_t n_parts,
                                     int *fd_out, bk_err *err)
{
    if (part_size > 0 &&
        (part_sha256 == NULL || (expected_size + part_size - 1) / part_size != n_parts))
        return bk_err_set(
            err, BK_EINVAL, "blob %s: %zu part hashes for %llu bytes in parts of %llu", digest,
            n_parts, (unsigned long long)expected_size, (unsigned long long)part_size);
    int fd = -1;
    uint64_t size = 0;
    bk_code rc = bk_store_open_blob(s, digest, &fd, &size, err);
    if (rc != BK_OK)
        return rc;
    if (size != expected_size) {
        close(fd);
        return bk_err_set(err, BK_EINTEGRITY, "blob %s: expected size %llu, got %llu", digest,
                          (unsigned long long)expected_size, (unsigned long long)size);
    }
    verify_hasher v = {.part_size = part_size, .hex = part_sha256, .n = n_parts};
    if (bk__sha256x2_init(&v.sha, part_size > 0 ? 2 : 1, BK__SHA256X2_AUTO) != 0) {
        close(fd);
        return bk_err_set(err, BK_ENOMEM, "cannot start SHA-256 for blob %s", digest);
    }
    rc = verify_read(fd, digest, expected_size, &v, err);
    bk__sha256x2_clear(&v.sha);
    if (rc != BK_OK || fd_out == NULL)
        close(fd);
    else
        *fd_out = fd;
    return rc;
}

bk_code bk_store_verify_blob(bk_store *s, const char *digest, uint64_t expected_size, bk_err *err)
{
    return bk_store_open_verified(s, digest, expected_size, NULL, err);
}

bk_blob_writer *bk_store_blob_writer(bk_store *s, const char *digest, uint64_t expected_size,
                                     bk_err *err)
{
    char hex[65];
    if (bk_digest_validate(digest, hex, err) != BK_OK)
        return NULL;
    if (s->blobsfd < 0) {
        bk_err_set(err, BK_EIO, "store %s has no blobs/sha256 directory", s->dir);
        return NULL;
    }
    bk_blob_writer *w = calloc(1, sizeof *w);
    if (w == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory writing blob %s", digest);
        return NULL;
    }
    w->store = s;
    w->expected_size = expected_size;
    snprintf(w->digest, sizeof w->digest, "%s", digest);
    memcpy(w->hex, hex, sizeof w->hex);
    w->sha = EVP_MD_CTX_new();
    if (w->sha == NULL || EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
        bk_err_set(err, BK_ENOMEM, "cannot start SHA-256 for blob %s", digest);
        EVP_MD_CTX_free(w->sha);
        free(w);
        return NULL;
    }
    /* The temporary name starts with '.', so it can never be mistaken for a digest. */
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(w->tmpname, sizeof w->tmpname, ".tmp-%.16s-%ld-%d", hex, (long)getpid(), attempt);
        w->fd = openat(s->blobsfd, w->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0644);
        if (w->fd >= 0 || errno != EEXIST)
            break;
    }
    if (w->fd < 0) {
        bk_err_set(err, BK_EIO, "cannot create a temporary file in %s/blobs/sha256: %s", s->dir,
                   strerror(errno));
        EVP_MD_CTX_free(w->sha);
        free(w);
        return NULL;
    }
    return w;
}

bk_code bk_blob_writer_write(bk_blob_writer *w, const void *data, size_t len, bk_err *err)
{
    if (w->written + len > w->expected_size)
        return bk_err_set(err, BK_EINTEGRITY, "blob %s: expected size %llu, got more", w->digest,
                          (unsigned long long)w->expected_size);
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bk_err_set(err, BK_EIO, "writing blob %s into %s: %s", w->digest, w->store->dir,
                              strerror(errno));
        p += n;
        left -= (size_t)n;
    }
    EVP_DigestUpdate(w->sha, data, len);
    w->written += len;
    return BK_OK;
}

uint64_t bk_blob_writer_written(const bk_blob_writer *w)
{
    return w->written;
}

void bk_blob_writer_abort(bk_blob_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlinkat(w->store->blobsfd, w->tmpname, 0);
    EVP_MD_CTX_free(w->sha);
    free(w);
}

bk_code bk_blob_writer_commit(bk_blob_writer *w, bk_err *err)
{
    bk_code rc = BK_OK;
    if (w->written != w->expected_size)
        rc = bk_err_set(err, BK_EINTEGRITY, "blob %s: expected size %llu, got %llu", w->digest,
                        (unsigned long long)w->expected_size, (unsigned long long)w->written);
    else if (!sha256_matches(w->sha, w->hex))
        rc = bk_err_set(err, BK_EINTEGRITY,
                        "blob %s: downloaded content does not match its digest; not stored",
                        w->digest);
    else if (fsync(w->fd) != 0)
        rc = bk_err_set(err, BK_EIO, "syncing blob %s: %s", w->digest, strerror(errno));
    if (rc != BK_OK) {
        bk_blob_writer_abort(w);
        return rc;
    }
    close(w->fd);
    w->fd = -1;
    if (renameat(w->store->blobsfd, w->tmpname, w->store->blobsfd, w->hex) != 0) {
        rc = bk_err_set(err, BK_EIO, "publishing blob %s: %s", w->digest, strerror(errno));
        unlinkat(w->store->blobsfd, w->tmpname, 0);
    }
    EVP_MD_CTX_free(w->sha);
    free(w);
    return rc;
}

bk_code bk_store_write_file(bk_store *s, const char *relpath, const void *data, size_t len,
                            bk_err *err)
{
    if (relpath[0] == '/' || strstr(relpath, "..") != NULL || strchr(relpath, '/') != NULL)
        return bk_err_set(err, BK_EINVAL,
                          "refusing to write \"%s\" in store %s: a plain file "
                          "name is expected",
                          relpath, s->dir);
    char tmp[300];
    snprintf(tmp, sizeof tmp, ".tmp-%s-%ld", relpath, (long)getpid());
    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return bk_err_set(err, BK_EIO, "cannot write %s/%s: %s", s->dir, relpath, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            unlinkat(s->dirfd, tmp, 0);
            return bk_err_set(err, BK_EIO, "writing %s/%s: %s", s->dir, relpath, strerror(errno));
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0 || renameat(s->dirfd, tmp, s->dirfd, relpath) != 0) {
        unlinkat(s->dirfd, tmp, 0);
        return bk_err_set(err, BK_EIO, "publishing %s/%s: %s", s->dir, relpath, strerror(errno));
    }
    return BK_OK;
}
