#include "cli_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_msg.h"

const char *cli_file_kind(mode_t mode)
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

static int refuse(const char *cmd, const char *what, const char *path, const char *reason,
                  const char *kind, const char *hint)
{
    cli_fail(cmd, "%s%s%s: %s%s%s%s%s", what ? what : "", what ? " " : "", path, reason,
             kind ? " (" : "", kind ? kind : "", kind ? ")" : "", hint ? hint : "");
    return -1;
}

/* A stream that could be read through "-" instead. */
static int is_stream(mode_t mode)
{
    return S_ISFIFO(mode) || S_ISCHR(mode) || S_ISSOCK(mode);
}

/* cli_open_regular; hint follows the message when PATH is a stream. */
static int open_regular(const char *cmd, const char *what, const char *path, const char *hint)
{
    /* stat first, so that a device is never opened at all; then open without
     * blocking and check again what was opened, in case it changed since. */
    struct stat st;
    if (stat(path, &st) != 0)
        return refuse(cmd, what, path, strerror(errno), NULL, NULL);
    if (!S_ISREG(st.st_mode))
        return refuse(cmd, what, path, "not a regular file", cli_file_kind(st.st_mode),
                      is_stream(st.st_mode) ? hint : NULL);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return refuse(cmd, what, path, strerror(errno), NULL, NULL);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return refuse(cmd, what, path, "not a regular file", cli_file_kind(st.st_mode),
                      is_stream(st.st_mode) ? hint : NULL);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return refuse(cmd, what, path, strerror(e), NULL, NULL);
    }
    return fd;
}

int cli_open_regular(const char *cmd, const char *what, const char *path)
{
    return open_regular(cmd, what, path, NULL);
}

int cli_check_regular_file(const char *cmd, const char *what, const char *path)
{
    int fd = cli_open_regular(cmd, what, path);
    if (fd < 0)
        return CLI_EXIT_USAGE;
    close(fd);
    return 0;
}

int cli_read_input(const char *cmd, const char *path, char **data, size_t *len)
{
    int is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO
                      : open_regular(cmd, NULL, path, "; to read a stream, give - and redirect it");
    if (fd < 0)
        return CLI_EXIT_USAGE;
    const char *name = is_stdin ? "<stdin>" : path;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    const char *failure = NULL;
    for (;;) {
        if (n == cap) {
            if (cap > CLI_INPUT_MAX)
                break; /* a byte past the limit was read: too large */
            size_t next = cap ? cap * 2 : 65536;
            if (next > CLI_INPUT_MAX + 1)
                next = CLI_INPUT_MAX + 1;
            char *p = realloc(buf, next + 1);
            if (p == NULL) {
                failure = "out of memory";
                break;
            }
            buf = p;
            cap = next;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            failure = strerror(errno);
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (!is_stdin)
        close(fd);
    if (failure == NULL && n > CLI_INPUT_MAX) {
        free(buf);
        return cli_fail(cmd, "%s: larger than %zu MiB", name, CLI_INPUT_MAX >> 20);
    }
    if (failure != NULL) {
        free(buf);
        return cli_fail(cmd, "%s: %s", name, failure);
    }
    if (buf == NULL && (buf = malloc(1)) == NULL)
        return cli_fail(cmd, "%s: out of memory", name);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int cli_make_dirs(const char *cmd, const char *dir)
{
    size_t len = strlen(dir);
    char *p = malloc(len + 1);
    if (p == NULL)
        return cli_fail(cmd, "cannot create %s: out of memory", dir);
    memcpy(p, dir, len + 1);
    int status = 0;
    /* Each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len && status == 0; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            status = cli_fail(cmd, "cannot create %s: %s", p, strerror(errno));
        else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            status = cli_fail(cmd, "cannot create %s: %s exists and is not a directory", dir, p);
        p[i] = c;
    }
    free(p);
    return status;
}
