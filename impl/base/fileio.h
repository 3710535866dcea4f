/* Opening a file the library reads from a user's directory (a type=local
 * cache, a content store, a graph fixture). The open never blocks: a FIFO
 * lying where a file is expected would block a plain open() until a writer
 * comes, perhaps forever; anything but a regular file is refused and named. */
#ifndef BKCACHE_BASE_FILEIO_H
#define BKCACHE_BASE_FILEIO_H

#include <sys/types.h>

/* "a FIFO", "a directory", "a character device", ... for messages. */
const char *bk__file_kind(mode_t mode);

/* openat(dirfd, path, O_RDONLY | O_CLOEXEC | flags) without blocking, then
 * checks that a regular file was opened (flags may add O_NOFOLLOW). Returns
 * a blocking descriptor of a regular file, or -1 with errno set: when the
 * path names something else, errno is EINVAL and *kind (when not NULL)
 * says what it is; otherwise *kind is NULL. */
int bk__open_regular(int dirfd, const char *path, int flags, const char **kind);

#endif
