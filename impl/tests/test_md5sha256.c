/* BK_TEST_UNIT
 * MD5 and SHA-256 of the same bytes: both digests equal OpenSSL's, on the
 * fused SHA-extension loop (where the CPU has it) and on the forced OpenSSL
 * fallback, for every length up to 300 bytes (both padding cases of both
 * algorithms), random lengths up to 3 MiB, and input fed whole, in odd-sized
 * pieces and in random pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "bkcache/checksum.h"
#include "blockhash.h"
#include "testrand.h"

/* Every way a context is made: asking the CPU, the forced fallback and what
 * bk_md5sha256_choose answered (how the mock makes them). */
enum { N_IMPLS = 3 };
static bk_md5sha256_impl impl_at(size_t i)
{
    static const bk_md5sha256_impl fixed[] = {BK_MD5SHA256_AUTO, BK_MD5SHA256_OPENSSL};
    return i < 2 ? fixed[i] : bk_md5sha256_choose();
}

static unsigned char *random_bytes(size_t len, uint64_t seed)
{
    unsigned char *d = bk_test_rand_bytes(len, seed);
    assert_non_null(d);
    return d;
}

static void openssl_digest(const EVP_MD *md, const unsigned char *data, size_t len,
                           unsigned char *out)
{
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, len, out, &n, md, NULL), 1);
}

/* Feeds `data` in pieces of the sizes `pieces` cycles through (none: all at
 * once) and checks both digests against OpenSSL's one-shot ones. */
static void check(bk_md5sha256_impl impl, const unsigned char *data, size_t len,
                  const size_t *pieces, size_t n_pieces)
{
    bk_err err = {0};
    bk_md5sha256 *h = bk_md5sha256_new(impl, &err);
    assert_non_null(h);
    /* AUTO fuses exactly when the CPU has the SHA extensions (valgrind hides
     * them, so it runs the fallback). */
    assert_int_equal(bk_md5sha256_fused(h),
                     impl == BK_MD5SHA256_FUSED ||
                         (impl == BK_MD5SHA256_AUTO && bk__blockhash_cpu_has_sha_ni()));
    size_t off = 0;
    for (size_t k = 0; off < len; k++) {
        size_t piece = n_pieces > 0 ? pieces[k % n_pieces] : len;
        size_t take = piece < len - off ? piece : len - off;
        bk_md5sha256_update(h, data + off, take);
        off += take;
    }
    unsigned char md5[16];
    unsigned char sha[32];
    unsigned char want_md5[16];
    unsigned char want_sha[32];
    assert_int_equal(bk_md5sha256_final(h, md5, sha, &err), BK_OK);
    openssl_digest(EVP_md5(), data, len, want_md5);
    openssl_digest(EVP_sha256(), data, len, want_sha);
    assert_memory_equal(md5, want_md5, 16);
    assert_memory_equal(sha, want_sha, 32);
    bk_md5sha256_free(h);
}

static void every_short_length(void **state)
{
    (void)state;
    unsigned char *data = random_bytes(300, 1);
    static const size_t odd[] = {1, 3, 63, 64, 65, 7};
    for (size_t i = 0; i < N_IMPLS; i++)
        for (size_t len = 0; len <= 300; len++) {
            check(impl_at(i), data, len, NULL, 0);
            check(impl_at(i), data, len, odd, sizeof odd / sizeof odd[0]);
        }
    free(data);
}

/* Long inputs: the 64 KiB pieces the mock receives, pieces of random sizes
 * (a block split between updates), and all at once. */
static void random_lengths(void **state)
{
    (void)state;
    uint64_t seed = 9;
    enum { MAX = 3 * 1024 * 1024 };
    unsigned char *data = random_bytes(MAX, 11);
    static const size_t net[] = {65536};
    for (int round = 0; round < 4; round++) {
        size_t len = (size_t)(bk_test_rand_next(&seed) % MAX) + 1;
        size_t pieces[5];
        for (size_t p = 0; p < 5; p++)
            pieces[p] = (size_t)(bk_test_rand_next(&seed) % 200000) + 1;
        for (size_t i = 0; i < N_IMPLS; i++) {
            check(impl_at(i), data, len, NULL, 0);
            check(impl_at(i), data, len, net, 1);
            check(impl_at(i), data, len, pieces, 5);
        }
    }
    free(data);
}

/* The digests of nothing; a second final is refused and names itself. */
static void empty_and_final_twice(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_IMPLS; i++) {
        bk_err err = {0};
        bk_md5sha256 *h = bk_md5sha256_new(impl_at(i), &err);
        assert_non_null(h);
        bk_md5sha256_update(h, "", 0);
        unsigned char md5[16];
        unsigned char sha[32];
        unsigned char want_md5[16];
        unsigned char want_sha[32];
        assert_int_equal(bk_md5sha256_final(h, md5, sha, &err), BK_OK);
        openssl_digest(EVP_md5(), (const unsigned char *)"", 0, want_md5);
        openssl_digest(EVP_sha256(), (const unsigned char *)"", 0, want_sha);
        assert_memory_equal(md5, want_md5, 16);
        assert_memory_equal(sha, want_sha, 32);
        assert_int_equal(bk_md5sha256_final(h, md5, sha, &err), BK_EINVAL);
        assert_non_null(strstr(err.msg, "final called twice"));
        bk_md5sha256_free(h);
    }
    bk_md5sha256_free(NULL);
}

/* A server asks once and passes the answer: it must be what AUTO would
 * have taken for each context. */
static void choose_answers_what_auto_takes(void **state)
{
    (void)state;
    bk_md5sha256_impl chosen = bk_md5sha256_choose();
    assert_int_equal(chosen,
                     bk__blockhash_cpu_has_sha_ni() ? BK_MD5SHA256_FUSED : BK_MD5SHA256_OPENSSL);
    bk_md5sha256 *a = bk_md5sha256_new(BK_MD5SHA256_AUTO, NULL);
    bk_md5sha256 *c = bk_md5sha256_new(chosen, NULL);
    assert_non_null(a);
    assert_non_null(c);
    assert_int_equal(bk_md5sha256_fused(a), bk_md5sha256_fused(c));
    bk_md5sha256_free(a);
    bk_md5sha256_free(c);
}

int main(void)
{
    print_message("SHA extensions %s\n",
                  bk__blockhash_cpu_has_sha_ni() ? "used" : "not available: fallback only");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_short_length),
        cmocka_unit_test(random_lengths),
        cmocka_unit_test(empty_and_final_twice),
        cmocka_unit_test(choose_answers_what_auto_takes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
