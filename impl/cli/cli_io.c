#include "cli_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkcache/fileio.h"
#include "bkcache/gojson.h"
#include "cli_msg.h"

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
    const char *kind = NULL;
    int fd = bk_open_regular(AT_FDCWD, path, 0, &kind);
    if (fd >= 0)
        return fd;
    if (kind == NULL)
        return refuse(cmd, what, path, strerror(errno), NULL, NULL);
    struct stat st;
    int stream = stat(path, &st) == 0 && is_stream(st.st_mode);
    return refuse(cmd, what, path, "not a regular file", kind, stream ? hint : NULL);
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

int cli_write_config(const char *cmd, const char *data, size_t len, int pretty)
{
    bk_buf indented = BK_BUF_INIT;
    if (pretty) {
        bk_gojson_indent(&indented, data, len);
        bk_buf_putc(&indented, '\n');
        data = bk_buf_str(&indented);
        len = indented.len;
    }
    int bad = indented.failed || fwrite(data, 1, len, stdout) != len;
    bad = fflush(stdout) != 0 || bad;
    bk_buf_clear(&indented);
    return bad ? cli_fail(cmd, "writing the output failed") : 0;
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
