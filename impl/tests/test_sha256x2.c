/* BK_TEST_UNIT
 * Two SHA-256 streams over the same bytes, the second finished and restarted
 * at part boundaries: every digest equals OpenSSL's, on the SHA-extension
 * path (where the CPU has it) and on the forced OpenSSL fallback, for every
 * length up to 300 bytes, random lengths up to 2 MiB, parts of one byte, parts
 * not aligned to a block, a part as large as the whole input, and input fed
 * in odd-sized pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "blockhash.h"
#include "sha256x2.h"
#include "testrand.h"

static const bk__sha256x2_impl impls[] = {BK__SHA256X2_AUTO, BK__SHA256X2_OPENSSL};

static unsigned char *make_data(size_t len, uint64_t seed)
{
    unsigned char *d = bk_test_rand_bytes(len, seed);
    assert_non_null(d);
    return d;
}

static void start(bk__sha256x2 *x, int streams, bk__sha256x2_impl impl)
{
    assert_int_equal(bk__sha256x2_init(x, streams, impl), 0);
    /* AUTO takes the SHA extensions exactly when the CPU has them (a CPU
     * without them, or valgrind, which hides them, runs the fallback). */
    int has = bk__blockhash_cpu_has_sha_ni();
    assert_int_equal(x->sha_ni, streams == 2 && impl == BK__SHA256X2_AUTO && has);
}

static void assert_final(bk__sha256x2 *x, int which, const unsigned char *data, size_t len)
{
    unsigned char got[32];
    unsigned char want[32];
    assert_int_equal(bk__sha256x2_final(x, which, got), 0);
    SHA256(data, len, want);
    assert_memory_equal(got, want, 32);
}

/* Feeds `data` in pieces of the sizes `pieces` cycles through (0 = all at
 * once), cut again at every multiple of `part`; checks each part's digest
 * as it ends and the whole input's at the end. */
static void check_parts(bk__sha256x2_impl impl, const unsigned char *data, size_t len, size_t part,
                        const size_t *pieces, size_t n_pieces)
{
    bk__sha256x2 x;
    start(&x, 2, impl);
    size_t off = 0;
    size_t part_start = 0;
    size_t k = 0;
    while (off < len) {
        size_t piece = n_pieces > 0 ? pieces[k++ % n_pieces] : len;
        size_t to_boundary = part_start + part - off;
        size_t take = piece < to_boundary ? piece : to_boundary;
        take = take < len - off ? take : len - off;
        bk__sha256x2_update(&x, data + off, take);
        off += take;
        if (off - part_start == part || off == len) {
            assert_final(&x, 1, data + part_start, off - part_start);
            part_start = off;
        }
    }
    assert_final(&x, 0, data, len);
    /* Both streams start again empty. */
    assert_final(&x, 0, data, 0);
    assert_final(&x, 1, data, 0);
    bk__sha256x2_clear(&x);
}

static void every_short_length(void **state)
{
    (void)state;
    unsigned char *data = make_data(300, 1);
    static const size_t odd[] = {1, 3, 63, 64, 65, 7};
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
        for (size_t len = 0; len <= 300; len++) {
            size_t whole = len > 0 ? len : 1;
            check_parts(impls[i], data, len, whole, NULL, 0);
            check_parts(impls[i], data, len, whole, odd, sizeof odd / sizeof odd[0]);
            check_parts(impls[i], data, len, 1, NULL, 0);
            check_parts(impls[i], data, len, 64, odd, sizeof odd / sizeof odd[0]);
            check_parts(impls[i], data, len, 37, NULL, 0);
        }
    free(data);
}

/* An empty input still gives both empty digests. */
static void empty_input(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
        bk__sha256x2 x;
        start(&x, 2, impls[i]);
        bk__sha256x2_update(&x, "", 0);
        assert_final(&x, 1, (const unsigned char *)"", 0);
        assert_final(&x, 0, (const unsigned char *)"", 0);
        bk__sha256x2_clear(&x);
    }
}

/* Parts aligned and not aligned to 64-byte blocks, one part for the whole
 * input, pieces of random sizes: streams that drift apart within a block
 * and meet again at the next aligned boundary. */
static void random_lengths_and_parts(void **state)
{
    (void)state;
    uint64_t seed = 42;
    enum { MAX = 2 * 1024 * 1024 };
    unsigned char *data = make_data(MAX, 7);
    for (int round = 0; round < 6; round++) {
        size_t len = (size_t)(bk_test_rand_next(&seed) % MAX) + 1;
        size_t parts[] = {64 * ((bk_test_rand_next(&seed) % 4096) + 1),
                          (bk_test_rand_next(&seed) % 200000) + 1, len, 4096};
        size_t pieces[5];
        for (size_t p = 0; p < 5; p++)
            pieces[p] = (size_t)(bk_test_rand_next(&seed) % 300000) + 1;
        for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
            for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++)
                check_parts(impls[i], data, len, parts[p], pieces, round % 2 ? 5 : 0);
    }
    free(data);
}

/* A part boundary inside a block, then one on a block boundary of the
 * whole input: the part stream is a block behind, then aligned again. */
static void parts_of_varied_sizes(void **state)
{
    (void)state;
    unsigned char *data = make_data(10000, 3);
    static const size_t sizes[] = {100, 28, 64, 1, 63, 4096, 5000};
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
        bk__sha256x2 x;
        start(&x, 2, impls[i]);
        size_t off = 0;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s] < 10000 - off ? sizes[s] : 10000 - off;
            bk__sha256x2_update(&x, data + off, n);
            assert_final(&x, 1, data + off, n);
            off += n;
        }
        assert_final(&x, 0, data, off);
        bk__sha256x2_clear(&x);
    }
    free(data);
}

/* One stream is OpenSSL alone; a stream that is not there is refused. */
static void one_stream(void **state)
{
    (void)state;
    unsigned char *data = make_data(100000, 5);
    bk__sha256x2 x;
    start(&x, 1, BK__SHA256X2_AUTO);
    bk__sha256x2_update(&x, data, 33333);
    bk__sha256x2_update(&x, data + 33333, 100000 - 33333);
    assert_final(&x, 0, data, 100000);
    unsigned char md[32];
    assert_int_equal(bk__sha256x2_final(&x, 1, md), -1);
    bk__sha256x2_clear(&x);
    /* A stream that is not there is refused on either path. */
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
        start(&x, 2, impls[i]);
        assert_int_equal(bk__sha256x2_final(&x, 2, md), -1);
        assert_int_equal(bk__sha256x2_final(&x, -1, md), -1);
        bk__sha256x2_clear(&x);
    }
    free(data);
}

int main(void)
{
    print_message("SHA extensions %s\n",
                  bk__blockhash_cpu_has_sha_ni() ? "used" : "not available: fallback only");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_short_length),
        cmocka_unit_test(empty_input),
        cmocka_unit_test(random_lengths_and_parts),
        cmocka_unit_test(parts_of_varied_sizes),
        cmocka_unit_test(one_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
