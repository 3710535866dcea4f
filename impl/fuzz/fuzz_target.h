/* One fuzz target = one .c file with BK_FUZZ_TARGET(name) { ... }.
 *
 * Built with BKCACHE_FUZZ (clang, libFuzzer) the body becomes
 * LLVMFuzzerTestOneInput and the file a fuzzer of its own; built normally it
 * is bk_fuzz_<name>(), which the regression test (impl/tests/
 * test_fuzz_regressions.c) feeds every corpus and crash file, so whatever a
 * fuzzer once found is replayed by the normal test suite.
 *
 * A target must accept any bytes: no exit, no abort on bad input. It calls
 * bk_fuzz_fail() only when a property it checks does not hold (a round trip
 * that changes the value): that is a bug, reported as a crash. */
#ifndef BK_FUZZ_TARGET_H
#define BK_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BK_LIBFUZZER
#define BK_FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#else
#define BK_FUZZ_TARGET(name) int bk_fuzz_##name(const uint8_t *data, size_t size)
#endif

/* The targets, for the regression replay. */
int bk_fuzz_sigv4_auth(const uint8_t *data, size_t size);
int bk_fuzz_chunked(const uint8_t *data, size_t size);
int bk_fuzz_s3xml(const uint8_t *data, size_t size);
int bk_fuzz_cacheconfig(const uint8_t *data, size_t size);
int bk_fuzz_chains(const uint8_t *data, size_t size);
int bk_fuzz_attrs(const uint8_t *data, size_t size);
int bk_fuzz_go_duration(const uint8_t *data, size_t size);
int bk_fuzz_jsontree(const uint8_t *data, size_t size);
int bk_fuzz_mock_route(const uint8_t *data, size_t size);
int bk_fuzz_mock_request(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input (most parsers take C strings). */
static inline char *bk_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return NULL;
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static inline void bk_fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz property violated: %s\n", what);
    abort();
}

#endif
