/* BK_TEST_UNIT
 * Replays every fuzz input kept in the tree through the fuzz targets built as
 * plain functions (cmake/fuzz.cmake): the seed corpora (impl/fuzz/corpus/<t>/,
 * mock-s3/fuzz/corpus/<t>/) and every crash a fuzzer found
 * (impl/fuzz/crashes/<t>/, mock-s3/fuzz/crashes/<t>/). A crash file stays in
 * the tree after its fix, so the bug cannot come back unnoticed; in the ASan
 * build and under valgrind this is where memory errors show. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fuzz_target.h"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

typedef struct target {
    const char *name;
    const char *component; /* impl or mock-s3 */
    fuzz_fn fn;
} target;

static size_t replay_dir(const target *t, const char *kind, int must_exist)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s/fuzz/%s/%s", BK_SOURCE_DIR, t->component, kind, t->name);
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (must_exist)
            fail_msg("%s: no seed corpus at %s", t->name, dir);
        return 0;
    }
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *data = malloc((size_t)st.st_size + 1);
        assert_non_null(data);
        size_t len = fread(data, 1, (size_t)st.st_size, f);
        fclose(f);
        assert_int_equal(len, (size_t)st.st_size);
        /* Exactly the bytes of the file, in a buffer of exactly that size, as
         * libFuzzer passes them (ASan then sees any read past the end). */
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, data, len);
        free(data);
        assert_int_equal(t->fn(exact, len), 0);
        free(exact);
        n++;
    }
    closedir(d);
    if (must_exist && n == 0)
        fail_msg("%s: empty seed corpus %s", t->name, dir);
    return n;
}

static void replay(void **state)
{
    const target *t = *state;
    size_t seeds = replay_dir(t, "corpus", 1);
    size_t crashes = replay_dir(t, "crashes", 0);
    print_message("%s: %zu corpus inputs, %zu crash inputs replayed\n", t->name, seeds, crashes);
}

static const target targets[] = {
    {"sigv4_auth", "impl", bk_fuzz_sigv4_auth},
    {"chunked", "impl", bk_fuzz_chunked},
    {"s3xml", "impl", bk_fuzz_s3xml},
    {"cacheconfig", "impl", bk_fuzz_cacheconfig},
    {"chains", "impl", bk_fuzz_chains},
    {"attrs", "impl", bk_fuzz_attrs},
    {"go_duration", "impl", bk_fuzz_go_duration},
    {"jsontree", "impl", bk_fuzz_jsontree},
#ifndef BK_FUZZ_NO_MOCK
    {"mock_route", "mock-s3", bk_fuzz_mock_route},
    {"mock_request", "mock-s3", bk_fuzz_mock_request},
#endif
};

int main(void)
{
    struct CMUnitTest tests[sizeof targets / sizeof targets[0]];
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct CMUnitTest t = {targets[i].name, replay, NULL, NULL, (void *)&targets[i]};
        tests[i] = t;
    }
    return _cmocka_run_group_tests("fuzz_regressions", tests, sizeof tests / sizeof tests[0], NULL,
                                   NULL);
}
