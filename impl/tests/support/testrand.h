/* Deterministic pseudo-random test data, so a failure reproduces from its
 * seed. */
#ifndef BK_TEST_TESTRAND_H
#define BK_TEST_TESTRAND_H

#include <stddef.h>
#include <stdint.h>

/* The next value of a 64-bit LCG (its high 31 bits): advances *seed. */
uint64_t bk_test_rand_next(uint64_t *seed);

/* `len` bytes (at least one allocated) from `seed`; NULL when out of memory.
 * The caller frees them. */
unsigned char *bk_test_rand_bytes(size_t len, uint64_t seed);

#endif
