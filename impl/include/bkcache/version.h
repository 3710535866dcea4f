#ifndef BKCACHE_VERSION_H
#define BKCACHE_VERSION_H

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *bk_version(void);

#endif
