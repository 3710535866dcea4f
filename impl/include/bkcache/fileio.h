/* Opening a file read from a user's directory (a type=local cache, a content
 * store, a graph fixture, a file named on a command line). The open never
 * blocks: a FIFO lying where a file is expected would block a plain open()
 * until a writer comes, perhaps forever, and a device may never end; anything
 * but a regular file is refused and named. */
#ifndef BKCACHE_FILEIO_H
#define BKCACHE_FILEIO_H

#include <stdio.h>
#include <sys/types.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "a FIFO", "a directory", "a character device", ... for messages. */
const char *bk_file_kind(mode_t mode);

/* Opens path (relative to dirfd, or AT_FDCWD) read-only when it is a regular
 * file; flags may add O_NOFOLLOW. A device is never opened (its type is
 * checked first) and a FIFO is opened without waiting. Returns a blocking
 * descriptor, or -1 with errno set: when the path names something other
 * than a regular file, errno is EINVAL and *kind (when kind is not NULL)
 * says what it is; otherwise *kind is NULL. */
int bk_open_regular(int dirfd, const char *path, int flags, const char **kind);

/* bk_open_regular as a stdio stream ("rb") in *out. On failure returns the
 * code with err set to "[WHAT ]PATH: reason": BK_ENOTFOUND when it does not
 * exist, BK_EINVAL when it is not a regular file ("not a regular file (a
 * FIFO)"), else BK_EIO. */
bk_code bk_fopen_regular(const char *path, const char *what, FILE **out, bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
