#include "bkcache/version.h"

#ifndef BKCACHE_VERSION
#error "BKCACHE_VERSION is set by the build"
#endif

const char *bk_version(void)
{
    return BKCACHE_VERSION;
}
