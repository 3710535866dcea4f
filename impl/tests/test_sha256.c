/* BK_TEST_UNIT
 * SHA-256 in a stream on the SHA extensions (base/sha256.c): every digest
 * equals OpenSSL's for every length up to 300 bytes fed at once, a byte at a
 * time and cut in two at every offset; a context finished starts again
 * empty; random lengths up to 1 MiB in odd-sized pieces. On a CPU without
 * the extensions (or under valgrind, which hides them) there is nothing to
 * run: callers use OpenSSL there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "blockhash.h"
#include "sha256.h"
#include "testrand.h"

static void need_sha_ni(void)
{
    if (!bk__blockhash_cpu_has_sha_ni())
        skip();
}

static void assert_sha256(const unsigned char got[32], const unsigned char *data, size_t len)
{
    unsigned char want[32];
    SHA256(data, len, want);
    assert_memory_equal(got, want, 32);
}

static void every_short_length_every_cut(void **state)
{
    (void)state;
    need_sha_ni();
    unsigned char *data = bk_test_rand_bytes(300, 7);
    assert_non_null(data);
    unsigned char md[32];
    for (size_t len = 0; len <= 300; len++) {
        bk__sha256_once(data, len, md);
        assert_sha256(md, data, len);
        bk__sha256 s;
        bk__sha256_start(&s);
        for (size_t i = 0; i < len; i++)
            bk__sha256_update(&s, data + i, 1);
        bk__sha256_finish(&s, md);
        assert_sha256(md, data, len);
        for (size_t cut = 0; cut <= len; cut++) {
            bk__sha256_update(&s, data, cut);
            bk__sha256_update(&s, data + cut, len - cut);
            bk__sha256_finish(&s, md); /* and s starts again, empty */
            assert_sha256(md, data, len);
        }
    }
    free(data);
}

static void finish_starts_again(void **state)
{
    (void)state;
    need_sha_ni();
    bk__sha256 s;
    bk__sha256_start(&s);
    unsigned char md[32];
    bk__sha256_update(&s, "abc", 3);
    bk__sha256_finish(&s, md);
    assert_sha256(md, (const unsigned char *)"abc", 3);
    bk__sha256_finish(&s, md);
    assert_sha256(md, (const unsigned char *)"", 0);
    bk__sha256_update(&s, "", 0);
    bk__sha256_update(&s, "abc", 3);
    bk__sha256_finish(&s, md);
    assert_sha256(md, (const unsigned char *)"abc", 3);
}

static void random_lengths_in_odd_pieces(void **state)
{
    (void)state;
    need_sha_ni();
    const size_t max = (size_t)1 << 20;
    unsigned char *data = bk_test_rand_bytes(max, 11);
    assert_non_null(data);
    const size_t pieces[] = {1, 63, 64, 65, 127, 4096, 100003};
    uint64_t r = 12345;
    for (int round = 0; round < 20; round++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = (size_t)(r >> 33) % (max + 1);
        bk__sha256 s;
        bk__sha256_start(&s);
        size_t off = 0;
        for (size_t k = 0; off < len; k++) {
            size_t n = pieces[(k + (size_t)round) % (sizeof pieces / sizeof pieces[0])];
            n = n < len - off ? n : len - off;
            bk__sha256_update(&s, data + off, n);
            off += n;
        }
        unsigned char md[32];
        bk__sha256_finish(&s, md);
        assert_sha256(md, data, len);
    }
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_short_length_every_cut),
        cmocka_unit_test(finish_starts_again),
        cmocka_unit_test(random_lengths_in_odd_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
