/* BK_TEST_UNIT
 * Object bodies on their own: a body of its announced length is one run,
 * joining parts and taking ranges of memory bodies share the runs instead of
 * copying them, readers cross run boundaries, zero runs read as zeros, and
 * joining part files names them instead of copying them: placed, they are
 * hard links, loaded again they read the same, and a doomed body's files go
 * when its last reader is done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "body.h"
#include "ms3_test.h"

/* A finished body of the bytes, written in pieces of `piece`. */
static void make_body(const char *tmp_dir, const unsigned char *data, size_t len, uint64_t hint,
                      size_t piece, ms3_body *out)
{
    ms3_writer *w = ms3__writer_new(tmp_dir, hint, NULL);
    assert_non_null(w);
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        assert_int_equal(ms3__writer_write(w, data + off, n, NULL), BK_OK);
    }
    assert_int_equal(ms3__writer_size(w), len);
    assert_int_equal(ms3__writer_finish(w, out, NULL), BK_OK);
    assert_int_equal(out->size, len);
}

/* Every byte of the body equals want, read whole and in odd windows. */
static void assert_body(const ms3_body *b, const unsigned char *want, size_t len)
{
    ms3_reader *r = ms3__reader_from_body(b, NULL);
    assert_non_null(r);
    assert_int_equal(ms3__reader_size(r), len);
    unsigned char *got = malloc(len + 1);
    assert_int_equal(ms3__reader_pread(r, got, len + 1, 0), (long)len);
    assert_memory_equal(got, want, len);
    static const size_t windows[] = {1, 7, 999, 4096, 65537};
    for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
        for (uint64_t off = 0; off < len; off += windows[w] * 3 + 1) {
            long n = ms3__reader_pread(r, got, windows[w], off);
            size_t expect = len - off < windows[w] ? len - off : windows[w];
            assert_int_equal(n, (long)expect);
            assert_memory_equal(got, want + off, expect);
        }
    }
    assert_int_equal(ms3__reader_pread(r, got, 10, len), 0);
    free(got);
    ms3__reader_close(r);
}

static void test_announced_length_is_one_run(void **state)
{
    (void)state;
    const size_t N = 300000;
    unsigned char *data = malloc(N);
    ms3t_fill(data, N, 1);
    ms3_body b;
    make_body(NULL, data, N, N, 16384, &b);
    assert_int_equal(b.kind, MS3_BODY_MEM);
    assert_int_equal(b.n_segs, 1);
    assert_body(&b, data, N);
    ms3__body_clear(&b);
    /* Without a length, or past it, more runs follow; no byte is lost. */
    make_body(NULL, data, N, 0, 1000, &b);
    assert_true(b.n_segs > 1);
    assert_body(&b, data, N);
    ms3__body_clear(&b);
    make_body(NULL, data, N, 100, 777, &b);
    assert_true(b.n_segs > 1);
    assert_body(&b, data, N);
    ms3__body_clear(&b);
    /* An empty body. */
    make_body(NULL, data, 0, 0, 1, &b);
    assert_int_equal(b.kind, MS3_BODY_MEM);
    assert_body(&b, data, 0);
    ms3__body_clear(&b);
    free(data);
}

/* An announced length costs the sender nothing: a request announcing 5 GB
 * and sending a few bytes must not make the mock reserve 5 GB. */
static void test_announced_length_reserves_a_bounded_run(void **state)
{
    (void)state;
    const uint64_t announced = 4999999999ULL;
    const unsigned char data[] = "a few bytes";
    ms3_writer *w = ms3__writer_new(NULL, announced, NULL);
    assert_non_null(w);
    assert_int_equal(ms3__writer_reserved(w), 0);
    assert_int_equal(ms3__writer_write(w, data, sizeof(data), NULL), BK_OK);
    assert_true(ms3__writer_reserved(w) >= sizeof(data));
    assert_true(ms3__writer_reserved(w) <= 1024ULL * 1024 * 1024);
    ms3_body b;
    assert_int_equal(ms3__writer_finish(w, &b, NULL), BK_OK);
    assert_body(&b, data, sizeof(data));
    ms3__body_clear(&b);
    /* Under the bound the announced length is reserved at once, exactly. */
    w = ms3__writer_new(NULL, 300000, NULL);
    assert_non_null(w);
    assert_int_equal(ms3__writer_write(w, data, sizeof(data), NULL), BK_OK);
    assert_int_equal(ms3__writer_reserved(w), 300000);
    ms3__writer_abort(w);
}

static void md5_of(const void *data, size_t len, unsigned char out[16])
{
    unsigned int n = 16;
    EVP_Digest(data, len, out, &n, EVP_md5(), NULL);
}

static void test_concat_and_slices_share_runs(void **state)
{
    (void)state;
    const size_t P1 = 70000, P2 = 5000, Z = 3000, P3 = 12345;
    const size_t total = P1 + P2 + Z + P3;
    unsigned char *want = calloc(1, total);
    ms3t_fill(want, P1 + P2, 2);
    ms3t_fill(want + P1 + P2 + Z, P3, 3);
    ms3_body p1, p2, z, p3;
    make_body(NULL, want, P1, 0, 4096, &p1); /* several runs */
    make_body(NULL, want + P1, P2, P2, P2, &p2);
    ms3__body_zero(&z, Z);
    make_body(NULL, want + P1 + P2 + Z, P3, P3, 100, &p3);
    ms3_body *parts[] = {&p1, &p2, &z, &p3};
    ms3_body whole;
    assert_int_equal(ms3__body_concat(NULL, parts, 4, &whole, NULL), BK_OK);
    assert_int_equal(whole.kind, MS3_BODY_MEM);
    assert_int_equal(whole.size, total);
    /* The parts' runs themselves, not copies. */
    assert_int_equal(whole.n_segs, p1.n_segs + 3);
    for (size_t i = 0; i < p1.n_segs; i++)
        assert_ptr_equal(whole.segs[i].blob, p1.segs[i].blob);
    assert_ptr_equal(whole.segs[p1.n_segs].blob, p2.segs[0].blob);
    assert_null(whole.segs[p1.n_segs + 1].blob);
    assert_ptr_equal(whole.segs[p1.n_segs + 2].blob, p3.segs[0].blob);
    /* The parts can go: the object keeps what it references. */
    const size_t n1 = p1.n_segs;
    ms3__body_clear(&p1);
    ms3__body_clear(&p2);
    ms3__body_clear(&p3);
    assert_body(&whole, want, total);

    /* A range across every boundary: a slice of the same runs, with its MD5. */
    ms3_reader *r = ms3__reader_from_body(&whole, NULL);
    ms3_body slice;
    unsigned char md5[16], expect[16];
    const size_t off = P1 - 10, len = P2 + Z + 20;
    assert_int_equal(ms3__body_from_range(NULL, r, off, len, &slice, md5, NULL), BK_OK);
    md5_of(want + off, len, expect);
    assert_memory_equal(md5, expect, 16);
    assert_int_equal(slice.kind, MS3_BODY_MEM);
    assert_ptr_equal(slice.segs[0].blob, whole.segs[n1 - 1].blob);
    assert_body(&slice, want + off, len);
    ms3__body_clear(&slice);
    ms3__reader_close(r);
    ms3__body_clear(&whole);
    free(want);
}

static void test_concat_files(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    const size_t P1 = 200000, Z = 70000, P2 = 1234;
    unsigned char *want = calloc(1, P1 + Z + P2);
    ms3t_fill(want, P1, 4);
    ms3t_fill(want + P1 + Z, P2, 5);
    ms3_body p1, z, p2, z_end;
    make_body(dir, want, P1, P1, 65536, &p1);
    ms3__body_zero(&z, Z);
    make_body(dir, want + P1 + Z, P2, 0, 1000, &p2);
    assert_int_equal(p1.kind, MS3_BODY_FILE);
    ms3_body *parts[] = {&p1, &z, &p2};
    ms3_body whole;
    assert_int_equal(ms3__body_concat(dir, parts, 3, &whole, NULL), BK_OK);
    assert_int_equal(whole.kind, MS3_BODY_FILE);
    assert_null(whole.path); /* no joined file: the parts, named in order */
    assert_int_equal(ms3__body_part_count(&whole), 3);
    assert_body(&whole, want, P1 + Z + P2);
    ms3__body_clear(&whole);
    struct stat sb;
    assert_int_equal(stat(p1.path, &sb), 0); /* the parts stay their holder's */
    /* Ending in zeros: the file still has its whole length. */
    ms3__body_zero(&z_end, 5000);
    ms3_body *tail[] = {&p2, &z_end};
    assert_int_equal(ms3__body_concat(dir, tail, 2, &whole, NULL), BK_OK);
    assert_int_equal(whole.size, P2 + 5000);
    unsigned char *want_tail = calloc(1, P2 + 5000);
    memcpy(want_tail, want + P1 + Z, P2);
    assert_body(&whole, want_tail, P2 + 5000);
    ms3__body_clear(&whole);
    /* Only zeros: a zero body, no file. */
    ms3_body *zeros[] = {&z, &z_end};
    assert_int_equal(ms3__body_concat(dir, zeros, 2, &whole, NULL), BK_OK);
    assert_int_equal(whole.kind, MS3_BODY_ZERO);
    assert_int_equal(whole.size, Z + 5000);
    ms3__body_clear(&whole);
    /* A range of a file copied into a file, with its MD5. */
    ms3_reader *r = ms3__reader_from_body(&p1, NULL);
    unsigned char md5[16], expect[16];
    assert_int_equal(ms3__body_from_range(dir, r, 100, 5000, &whole, md5, NULL), BK_OK);
    md5_of(want + 100, 5000, expect);
    assert_memory_equal(md5, expect, 16);
    assert_body(&whole, want + 100, 5000);
    ms3__body_clear(&whole);
    ms3__reader_close(r);
    ms3__body_clear(&p1);
    ms3__body_clear(&p2);
    free(want_tail);
    free(want);
    ms3t_rmtree(dir);
    free(dir);
}

/* The path of file i+1 in a placed body's directory. */
static void part_path(const ms3_body *b, size_t i, char *out, size_t n)
{
    snprintf(out, n, "%s/%05zu", ms3__body_parts_dir(b), i + 1);
}

/* Placing a joined body links its part files (same inode, no byte copied);
 * loading the directory again reads the same; a doomed body's files stay
 * while a reader is open and go with it. */
static void test_place_and_load_parts(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    const size_t P1 = 100000, Z = 3000, P2 = 777, LEN = P1 + Z + P2;
    unsigned char *want = calloc(1, LEN);
    ms3t_fill(want, P1, 6);
    ms3t_fill(want + P1 + Z, P2, 7);
    ms3_body p1, z, p2, whole;
    make_body(dir, want, P1, P1, 4096, &p1);
    ms3__body_zero(&z, Z);
    make_body(dir, want + P1 + Z, P2, 0, 100, &p2);
    ms3_body *parts[] = {&p1, &z, &p2};
    assert_int_equal(ms3__body_concat(dir, parts, 3, &whole, NULL), BK_OK);
    char tmpl[512], path[600];
    snprintf(tmpl, sizeof(tmpl), "%s/obj.parts-XXXXXX", dir);
    assert_int_equal(ms3__body_place_parts(&whole, tmpl, NULL), BK_OK);
    assert_non_null(ms3__body_parts_dir(&whole));
    struct stat a, b;
    part_path(&whole, 0, path, sizeof(path));
    assert_int_equal(stat(p1.path, &a), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino); /* a link, not a copy */
    part_path(&whole, 1, path, sizeof(path));
    assert_int_not_equal(stat(path, &b), 0); /* a zero part has no file */
    assert_true(ms3__body_part_is_zero(&whole, 1));
    ms3__body_clear(&p1); /* the upload is over: its own files go */
    ms3__body_clear(&p2);
    assert_body(&whole, want, LEN);

    /* As the next run loads it. */
    uint64_t sizes[3];
    int zero[3];
    for (size_t i = 0; i < 3; i++) {
        sizes[i] = ms3__body_part_size(&whole, i);
        zero[i] = ms3__body_part_is_zero(&whole, i);
    }
    ms3_body again;
    assert_int_equal(
        ms3__body_load_parts(&again, ms3__body_parts_dir(&whole), sizes, zero, 3, NULL), BK_OK);
    assert_body(&again, want, LEN);
    ms3__body_clear(&again);
    sizes[2]++; /* a part file of the wrong size: not loaded */
    assert_int_not_equal(
        ms3__body_load_parts(&again, ms3__body_parts_dir(&whole), sizes, zero, 3, NULL), BK_OK);

    /* Deleted while a GET is reading it: the files stay until the reader is done. */
    ms3_reader *r = ms3__reader_from_body(&whole, NULL);
    assert_non_null(r);
    char *parts_dir = strdup(ms3__body_parts_dir(&whole));
    ms3__body_doom(&whole);
    ms3__body_clear(&whole);
    unsigned char *got = malloc(LEN);
    assert_int_equal(ms3__reader_pread(r, got, LEN, 0), (long)LEN);
    assert_memory_equal(got, want, LEN);
    assert_int_equal(stat(parts_dir, &b), 0);
    ms3__reader_close(r);
    assert_int_not_equal(stat(parts_dir, &b), 0);
    free(parts_dir);
    free(got);
    free(want);
    ms3t_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announced_length_is_one_run),
        cmocka_unit_test(test_announced_length_reserves_a_bounded_run),
        cmocka_unit_test(test_concat_and_slices_share_runs),
        cmocka_unit_test(test_concat_files),
        cmocka_unit_test(test_place_and_load_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
