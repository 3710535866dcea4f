#include "testrand.h"

#include <stdlib.h>

uint64_t bk_test_rand_next(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return *seed >> 33;
}

unsigned char *bk_test_rand_bytes(size_t len, uint64_t seed)
{
    unsigned char *d = malloc(len > 0 ? len : 1);
    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        d[i] = (unsigned char)bk_test_rand_next(&seed);
    return d;
}
