/* Files and directories the user names on the command line. A file that is
 * read must be a regular file (links followed): opening a FIFO waits for a
 * writer that may never come and a device may never end, so anything else is
 * refused with a message naming what it is; a stream is read through "-". */
#ifndef BKCACHE_CLI_IO_H
#define BKCACHE_CLI_IO_H

#include <stddef.h>

/* The most bkcache reads from one named input or from standard input: the
 * largest manifest the library reads from a bucket. */
#define CLI_INPUT_MAX ((size_t)64 << 20)

/* Opens PATH read-only when it is a regular file, without ever blocking on
 * a FIFO. Returns the descriptor, or -1 after printing
 * "bkcache CMD: [WHAT ]PATH: reason" (what may be NULL). */
int cli_open_regular(const char *cmd, const char *what, const char *path);

/* cli_open_regular, closing the descriptor: 0, or the usage exit status. */
int cli_check_regular_file(const char *cmd, const char *what, const char *path);

/* Reads a whole named file, or standard input for "-", up to CLI_INPUT_MAX
 * bytes; NUL-terminates it. 0 (free *data), or the usage exit status after
 * printing "bkcache CMD: PATH: reason". */
int cli_read_input(const char *cmd, const char *path, char **data, size_t *len);

/* Writes an encoded cache config to stdout as is (compact, no newline), or
 * indented for humans with a trailing newline. 0, or the usage exit status
 * after printing "bkcache CMD: writing the output failed". */
int cli_write_config(const char *cmd, const char *data, size_t len, int pretty);

/* Creates DIR and every missing parent, as `mkdir -p`. 0, or the usage exit
 * status after printing "bkcache CMD: cannot create ...". */
int cli_make_dirs(const char *cmd, const char *dir);

#endif
