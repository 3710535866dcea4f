/* BK_TEST_UNIT
 * Cache config reader/writer: the golden cases of fixtures/config/golden
 * (expected bytes from Go's encoding/json, see fixtures/README.md), one
 * rejection fixture per BuildKit rule, builders, and a deterministic fuzz pass
 * over truncated and mutated manifests (error or valid result, never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "bkcache/cacheconfig.h"
#include "bkcache/chains.h"
#include "cachegen.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir's files ending in suffix; NULL-terminated. */
static char **list_dir(const char *dir, const char *suffix, size_t *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    /* Room for the NULL even when nothing matches. */
    char **names = calloc(1, sizeof *names);
    assert_non_null(names);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        char **grown = realloc(names, (n + 2) * sizeof *names);
        assert_non_null(grown);
        names = grown;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    names[n] = NULL;
    *count = n;
    return names;
}

static void free_list(char **names)
{
    for (size_t i = 0; names[i]; i++)
        free(names[i]);
    free(names);
}

static char *path_join(const char *dir, const char *name, const char *swap_suffix,
                       const char *new_suffix)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    if (swap_suffix) {
        size_t l = strlen(buf), sl = strlen(swap_suffix);
        buf[l - sl] = '\0';
        strncat(buf, new_suffix, sizeof buf - strlen(buf) - 1);
    }
    return strdup(buf);
}

static void golden_cases_match_go_byte_for_byte(void **state)
{
    (void)state;
    const char *dir = BK_FIXTURES_DIR "/config/golden";
    size_t n;
    char **names = list_dir(dir, ".json", &n);
    assert_true(n >= 19);
    for (size_t i = 0; i < n; i++) {
        char *in_path = path_join(dir, names[i], NULL, NULL);
        char *exp_path = path_join(dir, names[i], ".json", ".expected");
        size_t in_len, exp_len;
        char *in = bk_test_read_file(in_path, &in_len),
             *exp = bk_test_read_file(exp_path, &exp_len);
        assert_non_null(in);
        assert_non_null(exp);
        bk_err err = {0};
        bk_cache_config *cfg = NULL;
        if (bk_config_parse(in, in_len, &cfg, &err) != BK_OK)
            fail_msg("%s: %s", names[i], err.msg);
        bk_buf out = BK_BUF_INIT;
        assert_int_equal(bk_config_encode(cfg, &out, &err), BK_OK);
        if (out.len != exp_len || memcmp(out.data, exp, exp_len) != 0)
            fail_msg("%s:\n got %s\nwant %s", names[i], bk_buf_str(&out), exp);
        /* The expected bytes are canonical: they re-encode to themselves. */
        bk_cache_config *again = NULL;
        assert_int_equal(bk_config_parse(exp, exp_len, &again, &err), BK_OK);
        bk_buf out2 = BK_BUF_INIT;
        assert_int_equal(bk_config_encode(again, &out2, &err), BK_OK);
        assert_int_equal(out2.len, exp_len);
        assert_memory_equal(out2.data, exp, exp_len);
        bk_buf_clear(&out);
        bk_buf_clear(&out2);
        bk_config_free(cfg);
        bk_config_free(again);
        free(in);
        free(exp);
        free(in_path);
        free(exp_path);
    }
    free_list(names);
}

/* Each reject fixture fails either in the decoder or in BuildKit's import
 * validation (S3 rules), with exactly the message in <name>.error. */
static void reject_fixtures_fail_with_their_message(void **state)
{
    (void)state;
    const char *dir = BK_FIXTURES_DIR "/config/reject";
    size_t n;
    char **names = list_dir(dir, ".json", &n);
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        char *in_path = path_join(dir, names[i], NULL, NULL);
        char *err_path = path_join(dir, names[i], ".json", ".error");
        size_t in_len, want_len;
        char *in = bk_test_read_file(in_path, &in_len),
             *want = bk_test_read_file(err_path, &want_len);
        assert_non_null(in);
        if (!want) {
            fail_msg("%s: missing .error file", names[i]);
            free(in);
            free(in_path);
            free(err_path);
            return; /* not reached: fail_msg does not return */
        }
        while (want_len && (want[want_len - 1] == '\n'))
            want[--want_len] = '\0';
        bk_err err = {0};
        bk_cache_config *cfg = NULL;
        bk_code rc = bk_config_parse(in, in_len, &cfg, &err);
        if (rc == BK_OK) {
            rc = bk_config_validate(cfg, BK_VALIDATE_S3, &err);
            /* normalize must refuse the same input with the same message */
            bk_err err2 = {0};
            bk_cache_config *norm = NULL;
            assert_int_not_equal(
                bk_chains_normalize(cfg, BK_VALIDATE_S3, BK_MARSHAL_ANNOTATIONS, &norm, &err2),
                BK_OK);
            assert_null(norm);
            assert_string_equal(err2.msg, err.msg);
        }
        if (rc == BK_OK)
            fail_msg("%s: accepted, but BuildKit refuses it", names[i]);
        assert_int_equal(rc, BK_EINVAL);
        if (strcmp(err.msg, want) != 0)
            fail_msg("%s:\n got: %s\nwant: %s", names[i], err.msg, want);
        assert_null(strchr(err.msg, '\n'));
        bk_config_free(cfg);
        free(in);
        free(want);
        free(in_path);
        free(err_path);
    }
    free_list(names);
}

static void builders_produce_the_s3_shape(void **state)
{
    (void)state;
    bk_err err = {0};
    bk_cache_config *cfg = bk_config_new();
    bk_time t;
    assert_int_equal(bk_time_parse("2024-05-01T10:00:00.5Z", 22, &t, &err), BK_OK);
    bk_cache_layer *l = bk_config_add_layer(cfg, "sha256:aa", -1);
    assert_non_null(bk_layer_set_annotations(l, "application/vnd.oci.image.layer.v1.tar+gzip",
                                             "sha256:dd", 42, t));
    bk_config_add_layer(cfg, "sha256:bb", 0);
    bk_config_add_record(cfg, "sha256:k0");
    bk_cache_record *r = bk_config_add_record(cfg, "sha256:k1");
    bk_record_add_result(r, 1, t);
    bk_input_list *in = bk_record_add_input(r);
    bk_input_add_link(in, "sel<>", 0);
    bk_buf out = BK_BUF_INIT;
    assert_int_equal(bk_config_encode(cfg, &out, &err), BK_OK);
    assert_string_equal(
        out.data,
        "{\"layers\":[{\"blob\":\"sha256:aa\",\"parent\":-1,\"annotations\":{\"mediaType\":"
        "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"diffID\":\"sha256:dd\",\"size\":42,"
        "\"createdAt\":\"2024-05-01T10:00:00.5Z\"}},{\"blob\":\"sha256:bb\"}],\"records\":[{"
        "\"digest\":\"sha256:k0\"},{\"layers\":[{\"layer\":1,\"createdAt\":\"2024-05-01T10:00:00."
        "5Z\"}],\"digest\":\"sha256:k1\",\"inputs\":[[{\"selector\":\"sel\\u003c\\u003e\","
        "\"link\":0}]]}]}");
    size_t nb;
    const char **blobs = bk_config_blobs(cfg, &nb);
    assert_int_equal(nb, 2);
    assert_string_equal(blobs[0], "sha256:aa");
    assert_string_equal(blobs[1], "sha256:bb");
    assert_null(blobs[2]);
    free(blobs);
    /* A year Go cannot write is an error, not garbage. */
    r->results[0].created_at.sec = INT64_C(400000000000);
    bk_buf_reset(&out);
    assert_int_equal(bk_config_encode(cfg, &out, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "records[1].layers[0].createdAt"));
    bk_buf_clear(&out);
    bk_config_free(cfg);
}

static void media_types_convert_both_ways(void **state)
{
    (void)state;
    assert_string_equal(bk_media_type_to_oci("application/vnd.docker.image.rootfs.diff.tar.gzip"),
                        "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_string_equal(bk_media_type_to_oci("application/vnd.docker.image.rootfs.diff.tar"),
                        "application/vnd.oci.image.layer.v1.tar");
    assert_string_equal(bk_media_type_to_oci("application/vnd.docker.image.rootfs.diff.tar.zstd"),
                        "application/vnd.oci.image.layer.v1.tar+zstd");
    assert_string_equal(bk_media_type_to_oci("application/vnd.oci.image.layer.v1.tar+gzip"),
                        "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_string_equal(bk_media_type_to_docker("application/vnd.oci.image.layer.v1.tar+zstd"),
                        "application/vnd.docker.image.rootfs.diff.tar.zstd");
    assert_string_equal(bk_media_type_to_oci("text/plain"), "text/plain");
}

/* ---- fuzz ---- */

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* Whatever the parser accepts must encode, re-parse to the same bytes, and
 * either validate and normalize or be refused with a message. */
static void exercise(const char *data, size_t len)
{
    bk_err err = {0};
    bk_cache_config *cfg = NULL;
    if (bk_config_parse(data, len, &cfg, &err) != BK_OK) {
        assert_null(cfg);
        assert_true(err.msg[0] != '\0');
        return;
    }
    bk_buf out = BK_BUF_INIT;
    if (bk_config_encode(cfg, &out, &err) == BK_OK) {
        bk_cache_config *again = NULL;
        assert_int_equal(bk_config_parse(out.data, out.len, &again, &err), BK_OK);
        bk_buf out2 = BK_BUF_INIT;
        assert_int_equal(bk_config_encode(again, &out2, &err), BK_OK);
        assert_int_equal(out.len, out2.len);
        assert_memory_equal(out.data, out2.data, out.len);
        bk_buf_clear(&out2);
        bk_config_free(again);
    }
    bk_buf_clear(&out);
    for (unsigned flags = 0; flags < 2; flags++) {
        bk_cache_config *norm = NULL;
        bk_code rc = bk_chains_normalize(cfg, flags ? BK_VALIDATE_S3 : 0,
                                         flags ? BK_MARSHAL_ANNOTATIONS : 0, &norm, &err);
        if (rc == BK_OK) {
            /* a normalized config validates and normalizes to itself */
            assert_int_equal(bk_config_validate(norm, flags ? BK_VALIDATE_S3 : 0, &err), BK_OK);
            bk_buf a = BK_BUF_INIT, b = BK_BUF_INIT;
            bk_cache_config *norm2 = NULL;
            if (bk_config_encode(norm, &a, &err) == BK_OK) {
                assert_int_equal(bk_chains_normalize(norm, flags ? BK_VALIDATE_S3 : 0,
                                                     flags ? BK_MARSHAL_ANNOTATIONS : 0, &norm2,
                                                     &err),
                                 BK_OK);
                assert_int_equal(bk_config_encode(norm2, &b, &err), BK_OK);
                assert_int_equal(a.len, b.len);
                assert_memory_equal(a.data, b.data, a.len);
            }
            bk_buf_clear(&a);
            bk_buf_clear(&b);
            bk_config_free(norm2);
            bk_config_free(norm);
        } else {
            assert_null(norm);
            assert_true(err.msg[0] != '\0');
        }
    }
    bk_config_free(cfg);
}

static void fuzz_truncated_and_mutated_manifests(void **state)
{
    (void)state;
    static const char *const seeds[] = {"04-s3-manifest-pretty.json", "08-string-escapes.json",
                                        "09-chains-null-vs-empty.json",
                                        "13-case-insensitive-keys.json", "07-time-formats.json"};
    static const char *const tokens[] = {"{",    "}",  "[",  "]",    ",",     ":",    "\"",
                                         "null", "-1", "0",  "1e9",  "\\u00", "\xff", "\xe2\x80",
                                         "99",   "[]", "{}", "true", " ",     "\"x\""};
    rng_state = 20240501;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        char path[512];
        snprintf(path, sizeof path, "%s/config/golden/%s", BK_FIXTURES_DIR, seeds[s]);
        size_t len;
        char *base = bk_test_read_file(path, &len);
        assert_non_null(base);
        /* every truncation */
        for (size_t cut = 0; cut <= len; cut += (s == 0 ? 1 : 3))
            exercise(base, cut);
        /* random byte edits, deletions and token insertions */
        char *buf = malloc(len + 64);
        for (int round = 0; round < 400; round++) {
            memcpy(buf, base, len);
            size_t n = len;
            int edits = 1 + (int)(rnd() % 3);
            for (int e = 0; e < edits && n > 0; e++) {
                size_t at = rnd() % n;
                switch (rnd() % 3) {
                case 0:
                    buf[at] = (char)(rnd() & 0xff);
                    break;
                case 1:
                    /* byte loops, not memmove: valgrind misreads the fortified memmove */
                    for (size_t k = at; k + 1 < n; k++)
                        buf[k] = buf[k + 1];
                    n--;
                    break;
                default: {
                    const char *t = tokens[rnd() % (sizeof tokens / sizeof tokens[0])];
                    size_t tl = strlen(t);
                    if (n + tl > len + 63)
                        break;
                    for (size_t k = n; k > at; k--)
                        buf[k - 1 + tl] = buf[k - 1];
                    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes mid-buffer */
                    memcpy(buf + at, t, tl);
                    n += tl;
                }
                }
            }
            exercise(buf, n);
        }
        free(buf);
        free(base);
    }
    /* structurally valid configs with random indexes: validation must hold
     * every index in range before normalize touches it */
    for (int round = 0; round < 300; round++) {
        bk_cache_config *cfg = bk_config_new();
        size_t nl = rnd() % 4, nr = 1 + rnd() % 4;
        for (size_t i = 0; i < nl; i++) {
            char blob[32];
            snprintf(blob, sizeof blob, "sha256:%02x", (unsigned)(rnd() % 3));
            bk_cache_layer *l = bk_config_add_layer(cfg, blob, (int64_t)(rnd() % 6) - 2);
            if (rnd() % 4)
                bk_layer_set_annotations(l, "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                         rnd() % 5 ? "sha256:d" : NULL, 1, bk_time_zero());
        }
        for (size_t i = 0; i < nr; i++) {
            char dg[32];
            snprintf(dg, sizeof dg, "sha256:k%u", (unsigned)(rnd() % 3));
            bk_cache_record *r = bk_config_add_record(cfg, dg);
            if (rnd() % 2)
                bk_record_add_result(r, (int64_t)(rnd() % 5) - 1,
                                     bk_time_from_unix(rnd() % 3, 0, 0));
            size_t ni = rnd() % 3;
            for (size_t k = 0; k < ni; k++) {
                bk_input_list *in = bk_record_add_input(r);
                size_t nlinks = rnd() % 3;
                for (size_t j = 0; j < nlinks; j++)
                    bk_input_add_link(in, rnd() % 2 ? "" : "s", (int64_t)(rnd() % (nr + 1)) - 0);
            }
        }
        bk_buf out = BK_BUF_INIT;
        assert_int_equal(bk_config_encode(cfg, &out, (bk_err[1]){{0}}), BK_OK);
        exercise(out.data, out.len);
        bk_buf_clear(&out);
        bk_config_free(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_cases_match_go_byte_for_byte),
        cmocka_unit_test(reject_fixtures_fail_with_their_message),
        cmocka_unit_test(builders_produce_the_s3_shape),
        cmocka_unit_test(media_types_convert_both_ways),
        cmocka_unit_test(fuzz_truncated_and_mutated_manifests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
