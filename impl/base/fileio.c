#include "bkcache/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *bk_file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a file";
}

/* -1 with errno EINVAL and *kind set: st is not a regular file. */
static int not_regular(const struct stat *st, const char **kind)
{
    if (kind != NULL)
        *kind = bk_file_kind(st->st_mode);
    errno = EINVAL;
    return -1;
}

int bk_open_regular(int dirfd, const char *path, int flags, const char **kind)
{
    if (kind != NULL)
        *kind = NULL;
    /* The type first, so that a device is never opened at all (opening one
     * can act on the hardware). A link refused by O_NOFOLLOW is left to
     * openat, which says ELOOP. */
    struct stat st;
    int at = (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
    if (fstatat(dirfd, path, &st, at) != 0)
        return -1;
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        return not_regular(&st, kind);
    /* O_NONBLOCK: if the path became a FIFO since, it opens at once instead
     * of waiting for a writer; what was opened is checked again. */
    int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags);
    if (fd < 0)
        return -1;
    int fl = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (fl = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        int regular = S_ISREG(st.st_mode);
        close(fd);
        if (!regular)
            return not_regular(&st, kind);
        errno = e;
        return -1;
    }
    return fd;
}

bk_code bk_fopen_regular(const char *path, const char *what, FILE **out, bk_err *err)
{
    const char *kind = NULL;
    int fd = bk_open_regular(AT_FDCWD, path, 0, &kind);
    *out = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (*out != NULL)
        return BK_OK;
    int e = errno;
    if (fd >= 0)
        close(fd);
    const char *sep = what != NULL ? " " : "";
    if (what == NULL)
        what = "";
    if (kind != NULL)
        return bk_err_set(err, BK_EINVAL, "%s%s%s: not a regular file (%s)", what, sep, path, kind);
    return bk_err_set(err, e == ENOENT ? BK_ENOTFOUND : BK_EIO, "%s%s%s: %s", what, sep, path,
                      strerror(e));
}
