/* BK_TEST_UNIT: checksum module against published vectors and a bitwise reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bkcache/checksum.h"

static const bk_checksum_alg s3_algs[] = {BK_CHECKSUM_CRC32, BK_CHECKSUM_CRC32C,
                                          BK_CHECKSUM_CRC64NVME, BK_CHECKSUM_SHA1,
                                          BK_CHECKSUM_SHA256};
#define N_S3_ALGS (sizeof s3_algs / sizeof s3_algs[0])

static const bk_checksum_alg all_algs[] = {BK_CHECKSUM_CRC32,     BK_CHECKSUM_CRC32C,
                                           BK_CHECKSUM_CRC64NVME, BK_CHECKSUM_SHA1,
                                           BK_CHECKSUM_SHA256,    BK_CHECKSUM_MD5};
#define N_ALL_ALGS (sizeof all_algs / sizeof all_algs[0])

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void b64_of(bk_checksum_alg alg, const void *data, size_t len, char out[64])
{
    bk_checksum_digest d;
    bk_err err = {0};
    assert_int_equal(bk_checksum_compute(alg, data, len, &d, &err), BK_OK);
    assert_int_equal(d.alg, alg);
    assert_int_equal(d.len, bk_checksum_digest_len(alg));
    snprintf(out, 64, "%s", d.base64);
}

static json_t *load_vectors(void)
{
    json_error_t jerr;
    json_t *root = json_load_file(BK_FIXTURES_DIR "/checksums/checksums.json", 0, &jerr);
    if (root == NULL)
        fail_msg("cannot load checksums.json: %s (line %d)", jerr.text, jerr.line);
    return root;
}

/* Every case of the fixture, every algorithm, plus hex SHA-256 and MD5. */
static void fixture_cases_match(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) >= 5);
    size_t i;
    json_t *c;
    int checked = 0;
    json_array_foreach(cases, i, c)
    {
        unsigned char *data;
        size_t len;
        json_t *text = json_object_get(c, "data_utf8");
        if (text != NULL) {
            len = json_string_length(text);
            data = malloc(len + 1);
            memcpy(data, json_string_value(text), len);
        } else {
            len = (size_t)json_integer_value(json_object_get(c, "size"));
            const char *fill = json_string_value(json_object_get(c, "fill_byte"));
            assert_non_null(fill);
            data = malloc(len + 1);
            memset(data, fill[0], len);
        }
        json_t *values = json_object_get(c, "x_amz_checksum_values");
        for (size_t a = 0; a < N_S3_ALGS; a++) {
            const char *want =
                json_string_value(json_object_get(values, bk_checksum_alg_lower(s3_algs[a])));
            assert_non_null(want);
            char got[64];
            b64_of(s3_algs[a], data, len, got);
            if (strcmp(got, want) != 0)
                fail_msg("case %s, %s: got %s want %s",
                         json_string_value(json_object_get(c, "label")),
                         bk_checksum_alg_name(s3_algs[a]), got, want);
            checked++;
        }
        bk_checksum_digest d;
        assert_int_equal(bk_checksum_compute(BK_CHECKSUM_SHA256, data, len, &d, NULL), BK_OK);
        assert_string_equal(d.hex, json_string_value(json_object_get(values, "sha256_hex")));
        assert_int_equal(bk_checksum_compute(BK_CHECKSUM_MD5, data, len, &d, NULL), BK_OK);
        assert_int_equal(d.len, 16);
        assert_string_equal(d.base64, json_string_value(json_object_get(values, "md5_base64")));
        free(data);
    }
    assert_true(checked >= 25);
    json_decref(root);
}

static uint64_t digest_as_int(const bk_checksum_digest *d)
{
    uint64_t v = 0;
    for (size_t i = 0; i < d->len; i++)
        v = v << 8 | d->raw[i];
    return v;
}

static void catalogue_check_values(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *check = json_object_get(root, "catalogue_check_values_for_123456789");
    const bk_checksum_alg crcs[] = {BK_CHECKSUM_CRC32, BK_CHECKSUM_CRC32C, BK_CHECKSUM_CRC64NVME};
    for (size_t i = 0; i < 3; i++) {
        const char *want =
            json_string_value(json_object_get(check, bk_checksum_alg_lower(crcs[i])));
        assert_non_null(want);
        bk_checksum_digest d;
        assert_int_equal(bk_checksum_compute(crcs[i], "123456789", 9, &d, NULL), BK_OK);
        assert_int_equal(digest_as_int(&d), strtoull(want, NULL, 16));
    }
    json_decref(root);
    /* The same values written out, so a broken fixture cannot hide a bug. */
    bk_checksum_digest d;
    bk_checksum_compute(BK_CHECKSUM_CRC32, "123456789", 9, &d, NULL);
    assert_int_equal(digest_as_int(&d), 0xCBF43926u);
    assert_string_equal(d.base64, "y/Q5Jg==");
    assert_string_equal(d.hex, "cbf43926");
    bk_checksum_compute(BK_CHECKSUM_CRC32C, "123456789", 9, &d, NULL);
    assert_int_equal(digest_as_int(&d), 0xE3069283u);
    bk_checksum_compute(BK_CHECKSUM_CRC64NVME, "123456789", 9, &d, NULL);
    assert_true(digest_as_int(&d) == 0xAE8B14860A799888ull);
}

static void published_s3_values(void **state)
{
    (void)state;
    size_t n = 66560;
    char *a = malloc(n);
    memset(a, 'a', n);
    char got[64];
    b64_of(BK_CHECKSUM_CRC32C, a, n, got);
    assert_string_equal(got, "sOO8/Q==");
    free(a);
    b64_of(BK_CHECKSUM_CRC64NVME, "hello", 5, got);
    assert_string_equal(got, "M3eFcAZSQlc=");
    b64_of(BK_CHECKSUM_CRC32, "", 0, got);
    assert_string_equal(got, "AAAAAA==");
}

/* Bit-at-a-time reference CRCs, independent of the tables under test. */
static uint64_t ref_crc(bk_checksum_alg alg, const unsigned char *p, size_t len)
{
    int wide = alg == BK_CHECKSUM_CRC64NVME;
    uint64_t poly = alg == BK_CHECKSUM_CRC32    ? 0xEDB88320u
                    : alg == BK_CHECKSUM_CRC32C ? 0x82F63B78u
                                                : 0x9A6C9329AC4BC9B5ull;
    uint64_t mask = wide ? ~(uint64_t)0 : 0xFFFFFFFFu;
    uint64_t crc = mask;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
    }
    return crc ^ mask;
}

static void crcs_match_bitwise_reference(void **state)
{
    (void)state;
    enum { MAX = 600 };
    unsigned char buf[MAX + 8];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rnd();
    const bk_checksum_alg crcs[] = {BK_CHECKSUM_CRC32, BK_CHECKSUM_CRC32C, BK_CHECKSUM_CRC64NVME};
    for (size_t a = 0; a < 3; a++) {
        /* Every length up to 600 at every alignment offset 0..7, so each
         * tail length and each slicing-by-8 entry path is exercised. */
        for (size_t off = 0; off < 8; off++) {
            for (size_t len = 0; len <= MAX; len += (len < 40 ? 1 : 37)) {
                bk_checksum_digest d;
                assert_int_equal(bk_checksum_compute(crcs[a], buf + off, len, &d, NULL), BK_OK);
                uint64_t want = ref_crc(crcs[a], buf + off, len);
                if (digest_as_int(&d) != want)
                    fail_msg("%s len %zu off %zu", bk_checksum_alg_name(crcs[a]), len, off);
            }
        }
    }
}

static void streaming_in_odd_pieces_equals_one_shot(void **state)
{
    (void)state;
    size_t n = 100003;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)rnd();
    for (size_t a = 0; a < N_ALL_ALGS; a++) {
        bk_checksum_digest whole, pieces;
        assert_int_equal(bk_checksum_compute(all_algs[a], data, n, &whole, NULL), BK_OK);
        bk_err err = {0};
        bk_checksum *c = bk_checksum_new(all_algs[a], &err);
        assert_non_null(c);
        assert_int_equal(bk_checksum_algorithm(c), all_algs[a]);
        for (int round = 0; round < 2; round++) {
            size_t off = 0;
            while (off < n) {
                size_t piece = 1 + (size_t)(rnd() % 61); /* odd sizes, mostly unaligned */
                if (piece > n - off)
                    piece = n - off;
                bk_checksum_update(c, data + off, piece);
                bk_checksum_update(c, data + off, 0);
                off += piece;
            }
            assert_int_equal(bk_checksum_final(c, &pieces, &err), BK_OK);
            assert_memory_equal(whole.raw, pieces.raw, whole.len);
            assert_string_equal(whole.base64, pieces.base64);
            /* A second final without reset is a caller bug, reported as such. */
            assert_int_equal(bk_checksum_final(c, &pieces, &err), BK_EINVAL);
            /* reset makes the context reusable with identical results */
            assert_int_equal(bk_checksum_reset(c, &err), BK_OK);
        }
        bk_checksum_free(c);
    }
    free(data);
}

static void names_map_both_ways(void **state)
{
    (void)state;
    static const char *names[] = {"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"};
    static const char *lower[] = {"crc32", "crc32c", "crc64nvme", "sha1", "sha256"};
    for (size_t i = 0; i < N_S3_ALGS; i++) {
        assert_string_equal(bk_checksum_alg_name(s3_algs[i]), names[i]);
        assert_string_equal(bk_checksum_alg_lower(s3_algs[i]), lower[i]);
        char header[64];
        snprintf(header, sizeof header, "x-amz-checksum-%s", lower[i]);
        assert_string_equal(bk_checksum_header_name(s3_algs[i]), header);
        bk_checksum_alg got = BK_CHECKSUM_NONE;
        assert_int_equal(bk_checksum_alg_from_name(names[i], &got), 1);
        assert_int_equal(got, s3_algs[i]);
        got = BK_CHECKSUM_NONE;
        assert_int_equal(bk_checksum_alg_from_name(lower[i], &got), 1);
        assert_int_equal(got, s3_algs[i]);
        got = BK_CHECKSUM_NONE;
        assert_int_equal(bk_checksum_alg_from_header(header, &got), 1);
        assert_int_equal(got, s3_algs[i]);
        header[0] = 'X';
        header[6] = 'C';
        assert_int_equal(bk_checksum_alg_from_header(header, &got), 1);
    }
    static const char *bad[] = {"", "crc", "crc33", "CRC32 ", "MD5", "md5", "sha512", "none"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bk_checksum_alg got = BK_CHECKSUM_SHA1;
        assert_int_equal(bk_checksum_alg_from_name(bad[i], &got), 0);
        assert_int_equal(got, BK_CHECKSUM_SHA1);
    }
    assert_int_equal(bk_checksum_alg_from_name(NULL, NULL), 0);
    assert_int_equal(bk_checksum_alg_from_header("x-amz-checksum-md5", NULL), 0);
    assert_int_equal(bk_checksum_alg_from_header("x-amz-checksum-", NULL), 0);
    assert_int_equal(bk_checksum_alg_from_header("crc32", NULL), 0);
    assert_null(bk_checksum_alg_name(BK_CHECKSUM_MD5));
    assert_null(bk_checksum_header_name(BK_CHECKSUM_NONE));
    assert_int_equal(bk_checksum_digest_len(BK_CHECKSUM_CRC64NVME), 8);
    assert_int_equal(bk_checksum_digest_len(BK_CHECKSUM_NONE), 0);
    bk_err err = {0};
    assert_null(bk_checksum_new(BK_CHECKSUM_NONE, &err));
    assert_int_equal(err.code, BK_EINVAL);
    assert_null(bk_checksum_new((bk_checksum_alg)99, &err));
}

static void values_are_validated_strictly(void **state)
{
    (void)state;
#define VALID(alg, s) bk_checksum_value_valid(alg, s, strlen(s))
    assert_true(VALID(BK_CHECKSUM_CRC32C, "sOO8/Q=="));
    assert_true(VALID(BK_CHECKSUM_CRC64NVME, "M3eFcAZSQlc="));
    assert_true(VALID(BK_CHECKSUM_SHA1, "qvTGHdzF6KLavt4PO0gs2a6pQ00="));
    assert_true(VALID(BK_CHECKSUM_SHA256, "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="));
    assert_false(VALID(BK_CHECKSUM_CRC32C, "sOO8/Q="));      /* short padding */
    assert_false(VALID(BK_CHECKSUM_CRC32C, "sOO8/Q"));       /* unpadded */
    assert_false(VALID(BK_CHECKSUM_CRC32C, "sOO8/R=="));     /* bits under padding */
    assert_false(VALID(BK_CHECKSUM_CRC32C, "sOO8*Q=="));     /* alphabet */
    assert_false(VALID(BK_CHECKSUM_CRC32C, "sO=8/Q=="));     /* inner padding */
    assert_false(VALID(BK_CHECKSUM_CRC32C, " sOO8/Q="));     /* whitespace */
    assert_false(VALID(BK_CHECKSUM_CRC32C, "M3eFcAZSQlc=")); /* crc64 length for crc32c */
    assert_false(VALID(BK_CHECKSUM_SHA1, "sOO8/Q=="));
    assert_false(VALID(BK_CHECKSUM_SHA1, ""));
    assert_false(VALID(BK_CHECKSUM_NONE, ""));
    assert_false(bk_checksum_value_valid(BK_CHECKSUM_CRC32, NULL, 8));
#undef VALID
    unsigned char out[8];
    assert_int_equal(bk_checksum_base64_decode("YWJj", 4, out, sizeof out), 3);
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(bk_checksum_base64_decode("YWI=", 4, out, sizeof out), 2);
    assert_int_equal(bk_checksum_base64_decode("YQ==", 4, out, sizeof out), 1);
    assert_int_equal(bk_checksum_base64_decode("", 0, out, sizeof out), 0);
    assert_int_equal(bk_checksum_base64_decode("YQ==YQ==", 8, out, sizeof out), -1);
    assert_int_equal(bk_checksum_base64_decode("YWJjYWJjYWJj", 12, out, 8), -1); /* too long */
    char text[16];
    assert_int_equal(bk_checksum_base64_encode((const unsigned char *)"abcd", 4, text, 8), 0);
    assert_string_equal(text, "");
    assert_int_equal(bk_checksum_base64_encode((const unsigned char *)"abcd", 4, text, 9), 8);
    assert_string_equal(text, "YWJjZA==");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_cases_match),
        cmocka_unit_test(catalogue_check_values),
        cmocka_unit_test(published_s3_values),
        cmocka_unit_test(crcs_match_bitwise_reference),
        cmocka_unit_test(streaming_in_odd_pieces_equals_one_shot),
        cmocka_unit_test(names_map_both_ways),
        cmocka_unit_test(values_are_validated_strictly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
