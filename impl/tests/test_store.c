/* BK_TEST_UNIT
 * The content store: digest validation, verified writes that never publish a
 * corrupt blob; a store being filled refuses links out of it, a store being
 * read follows them; no store waits on a FIFO; the verification that also
 * gives the SHA-256 of each part of a multipart upload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <openssl/sha.h>

#include "bkcache/store.h"
#include "cachegen.h"

typedef struct fx {
    char dir[256];
    bk_store *store;
} fx;

static void rm_rf(const char *path)
{
    assert_int_equal(bk_test_rmtree(path), 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(bk_test_mkdtemp(f->dir, sizeof f->dir, "bkcache-store"), 0);
    bk_err err;
    f->store = bk_store_open(f->dir, 1, &err);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    bk_store_free(f->store);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void digest_of(const void *data, size_t len, char out[BK_DIGEST_MAX])
{
    unsigned char md[32];
    SHA256(data, len, md);
    bk_digest_format(md, out);
}

static void digests_are_validated(void **state)
{
    (void)state;
    bk_err err;
    char hex[65];
    const char *good = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_int_equal(bk_digest_validate(good, hex, &err), BK_OK);
    assert_string_equal(hex, good + 7);
    const char *bad[] = {
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0",
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:../../../../etc/passwd0000000000000000000000000000000000000000000",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(bk_digest_validate(bad[i], NULL, &err), BK_EINVAL);
    assert_int_equal(bk_digest_validate(NULL, NULL, &err), BK_EINVAL);
}

static void verified_write_then_read(void **state)
{
    fx *f = *state;
    bk_err err;
    unsigned char data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 13);
    char digest[BK_DIGEST_MAX];
    digest_of(data, sizeof data, digest);

    uint64_t size = 0;
    assert_int_equal(bk_store_has_blob(f->store, digest, &size, &err), 0);
    bk_blob_writer *w = bk_store_blob_writer(f->store, digest, sizeof data, &err);
    assert_non_null(w);
    assert_int_equal(bk_blob_writer_write(w, data, 40000, &err), BK_OK);
    assert_int_equal(bk_blob_writer_written(w), 40000);
    /* Not visible under its digest before commit. */
    assert_int_equal(bk_store_has_blob(f->store, digest, &size, &err), 0);
    assert_int_equal(bk_blob_writer_write(w, data + 40000, sizeof data - 40000, &err), BK_OK);
    assert_int_equal(bk_blob_writer_commit(w, &err), BK_OK);
    assert_int_equal(bk_store_has_blob(f->store, digest, &size, &err), 1);
    assert_int_equal(size, sizeof data);
    assert_int_equal(bk_store_verify_blob(f->store, digest, sizeof data, &err), BK_OK);

    int fd;
    assert_int_equal(bk_store_open_blob(f->store, digest, &fd, &size, &err), BK_OK);
    unsigned char back[sizeof data];
    assert_int_equal(pread(fd, back, sizeof back, 0), (ssize_t)sizeof back);
    close(fd);
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(bk_store_verify_blob(f->store, digest, sizeof data - 1, &err), BK_EINTEGRITY);
    assert_non_null(strstr(err.msg, "expected size 99999, got 100000"));
}

/* A blob bigger than the read buffer (256 KiB), so parts straddle reads. */
enum { BIG = 1000003 };

static void put_blob(fx *f, const unsigned char *data, size_t len, char digest[BK_DIGEST_MAX])
{
    bk_err err;
    digest_of(data, len, digest);
    bk_blob_writer *w = bk_store_blob_writer(f->store, digest, len, &err);
    assert_non_null(w);
    assert_int_equal(bk_blob_writer_write(w, data, len, &err), BK_OK);
    assert_int_equal(bk_blob_writer_commit(w, &err), BK_OK);
}

/* One read gives the blob's verdict and each part's SHA-256: parts smaller
 * than a read, larger, not dividing the size, one part for the whole blob. */
static void verification_gives_the_part_hashes(void **state)
{
    fx *f = *state;
    bk_err err;
    unsigned char *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    char digest[BK_DIGEST_MAX];
    put_blob(f, data, BIG, digest);
    static const uint64_t part_sizes[] = {4096,   100000, 262144,           300007,
                                          999999, BIG,    (uint64_t)2 * BIG};
    for (size_t k = 0; k < sizeof part_sizes / sizeof part_sizes[0]; k++) {
        uint64_t ps = part_sizes[k];
        size_t n = (size_t)((BIG + ps - 1) / ps);
        char(*hex)[65] = calloc(n, sizeof *hex);
        int fd = -1;
        assert_int_equal(bk_store_open_verified_parts(f->store, digest, BIG, ps, hex, n, &fd, &err),
                         BK_OK);
        close(fd);
        for (size_t i = 0; i < n; i++) {
            uint64_t first = i * ps, len = first + ps > BIG ? BIG - first : ps;
            char want[BK_DIGEST_MAX];
            digest_of(data + first, (size_t)len, want);
            assert_string_equal(hex[i], want + 7);
        }
        /* The wrong number of parts is refused before anything is read. */
        assert_int_equal(
            bk_store_open_verified_parts(f->store, digest, BIG, ps, hex, n + 1, &fd, &err),
            BK_EINVAL);
        free(hex);
    }
    /* A corrupt blob fails as without parts. */
    char other[BK_DIGEST_MAX];
    digest_of("x", 1, other);
    char(*hex)[65] = calloc(2, sizeof *hex);
    assert_int_equal(
        bk_store_open_verified_parts(f->store, other, BIG, BIG / 2 + 1, hex, 2, NULL, &err),
        BK_ENOTFOUND);
    free(hex);
    free(data);
}

/* Parts of one byte, parts just off a 64-byte block and on it, one part for
 * the whole blob; a blob whose bytes do not match its digest fails with
 * parts as without them. */
static void part_hashes_at_any_boundary(void **state)
{
    fx *f = *state;
    bk_err err;
    enum { SMALL = 1000 };
    unsigned char data[SMALL];
    for (size_t i = 0; i < SMALL; i++)
        data[i] = (unsigned char)(i * 13 + 5);
    char digest[BK_DIGEST_MAX];
    put_blob(f, data, SMALL, digest);
    static const uint64_t part_sizes[] = {1, 63, 64, 65, 128, 999, SMALL};
    for (size_t k = 0; k < sizeof part_sizes / sizeof part_sizes[0]; k++) {
        uint64_t ps = part_sizes[k];
        size_t n = (size_t)((SMALL + ps - 1) / ps);
        char(*hex)[65] = calloc(n, sizeof *hex);
        assert_int_equal(
            bk_store_open_verified_parts(f->store, digest, SMALL, ps, hex, n, NULL, &err), BK_OK);
        for (size_t i = 0; i < n; i++) {
            uint64_t first = i * ps, len = first + ps > SMALL ? SMALL - first : ps;
            char want[BK_DIGEST_MAX];
            digest_of(data + first, (size_t)len, want);
            assert_string_equal(hex[i], want + 7);
        }
        free(hex);
    }
    /* The same bytes stored under another blob's digest. */
    char wrong[BK_DIGEST_MAX];
    digest_of("not these bytes", 15, wrong);
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->dir, wrong + 7);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, SMALL, fp), SMALL);
    assert_int_equal(fclose(fp), 0);
    char hex[16][65];
    assert_int_equal(bk_store_open_verified_parts(f->store, wrong, SMALL, 64, hex, 16, NULL, &err),
                     BK_EINTEGRITY);
    assert_non_null(strstr(err.msg, "does not match its digest"));
}

static void corrupt_write_is_never_published(void **state)
{
    fx *f = *state;
    bk_err err;
    const char payload[] = "the real layer";
    char digest[BK_DIGEST_MAX];
    digest_of(payload, sizeof payload - 1, digest);

    bk_blob_writer *w = bk_store_blob_writer(f->store, digest, sizeof payload - 1, &err);
    assert_non_null(w);
    assert_int_equal(bk_blob_writer_write(w, "the fake layer", 14, &err), BK_OK);
    assert_int_equal(bk_blob_writer_commit(w, &err), BK_EINTEGRITY);
    assert_non_null(strstr(err.msg, "does not match its digest"));
    uint64_t size;
    assert_int_equal(bk_store_has_blob(f->store, digest, &size, &err), 0);

    w = bk_store_blob_writer(f->store, digest, sizeof payload - 1, &err);
    assert_non_null(w);
    assert_int_equal(bk_blob_writer_write(w, "the", 3, &err), BK_OK);
    assert_int_equal(bk_blob_writer_commit(w, &err), BK_EINTEGRITY); /* short */
    assert_non_null(strstr(err.msg, "expected size 14, got 3"));

    w = bk_store_blob_writer(f->store, digest, 3, &err);
    assert_int_equal(bk_blob_writer_write(w, "four", 4, &err), BK_EINTEGRITY); /* too long */
    bk_blob_writer_abort(w);
    assert_int_equal(bk_store_has_blob(f->store, digest, &size, &err), 0);

    /* No temporary file is left behind. */
    char blobs[512];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", f->dir);
    int entries = 0;
    DIR *d = opendir(blobs);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d != NULL)
        closedir(d);
    assert_int_equal(entries, 0);
}

static void links_out_of_the_store_are_refused(void **state)
{
    fx *f = *state;
    bk_err err;
    char outside[300], link[400];
    snprintf(outside, sizeof outside, "%s-outside", f->dir);
    FILE *fp = fopen(outside, "w");
    assert_non_null(fp);
    fputs("secret", fp);
    fclose(fp);
    char digest[BK_DIGEST_MAX];
    digest_of("secret", 6, digest);
    snprintf(link, sizeof link, "%s/blobs/sha256/%s", f->dir, digest + 7);
    assert_int_equal(symlink(outside, link), 0);
    int fd;
    uint64_t size;
    assert_int_equal(bk_store_open_blob(f->store, digest, &fd, &size, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "symbolic link"));
    unlink(outside);
}

/* A store opened to read (a cache being pushed) follows links, as BuildKit's
 * readers do; anything but a regular file is refused without waiting on it
 * (a FIFO would block a plain open forever: alarm() bounds the test). */
static void reading_follows_links_and_refuses_fifos(void **state)
{
    fx *f = *state;
    bk_err err;
    char outside[300], link[400], fifo[400];
    snprintf(outside, sizeof outside, "%s-outside", f->dir);
    FILE *fp = fopen(outside, "w");
    assert_non_null(fp);
    fputs("linked", fp);
    fclose(fp);
    char digest[BK_DIGEST_MAX], other[BK_DIGEST_MAX];
    digest_of("linked", 6, digest);
    snprintf(link, sizeof link, "%s/blobs/sha256/%s", f->dir, digest + 7);
    assert_int_equal(symlink(outside, link), 0);
    digest_of("fifo", 4, other);
    snprintf(fifo, sizeof fifo, "%s/blobs/sha256/%s", f->dir, other + 7);
    assert_int_equal(mkfifo(fifo, 0644), 0);

    bk_store *reader = bk_store_open(f->dir, 0, &err);
    assert_non_null(reader);
    alarm(10);
    int fd;
    uint64_t size;
    assert_int_equal(bk_store_open_verified(reader, digest, 6, &fd, &err), BK_OK);
    close(fd);
    assert_int_equal(bk_store_open_blob(reader, other, &fd, &size, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file (a FIFO)"));
    assert_int_equal(bk_store_open_blob(f->store, other, &fd, &size, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file (a FIFO)"));
    alarm(0);
    bk_store_free(reader);
    unlink(outside);
}

/* A destination whose blobs/sha256 is a link is refused, and said so. */
static void a_linked_destination_is_named(void **state)
{
    fx *f = *state;
    char dir[300], sub[400], target[300];
    snprintf(dir, sizeof dir, "%s/dest", f->dir);
    snprintf(target, sizeof target, "%s/elsewhere", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(target, 0755), 0);
    snprintf(sub, sizeof sub, "%s/blobs", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/blobs/sha256", dir);
    assert_int_equal(symlink(target, sub), 0);
    bk_err err;
    assert_null(bk_store_open(dir, 1, &err));
    assert_int_equal(err.code, BK_EINVAL);
    assert_non_null(strstr(err.msg, "blobs/sha256 is a symbolic link"));
    bk_store *reader = bk_store_open(dir, 0, &err); /* reading follows it */
    assert_non_null(reader);
    bk_store_free(reader);
}

static void small_files_are_written_atomically(void **state)
{
    fx *f = *state;
    bk_err err;
    assert_int_equal(bk_store_write_file(f->store, "index.json", "{}", 2, &err), BK_OK);
    char path[400];
    snprintf(path, sizeof path, "%s/index.json", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2);
    assert_int_equal(bk_store_write_file(f->store, "../escape", "x", 1, &err), BK_EINVAL);
    assert_int_equal(bk_store_write_file(f->store, "blobs/x", "x", 1, &err), BK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(digests_are_validated),
        cmocka_unit_test_setup_teardown(verified_write_then_read, setup, teardown),
        cmocka_unit_test_setup_teardown(verification_gives_the_part_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(part_hashes_at_any_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_write_is_never_published, setup, teardown),
        cmocka_unit_test_setup_teardown(links_out_of_the_store_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(reading_follows_links_and_refuses_fifos, setup, teardown),
        cmocka_unit_test_setup_teardown(a_linked_destination_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(small_files_are_written_atomically, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
