/* One entry point per bkcache subcommand, each in its own cmd_<name>.c.
 * argv[0] is the subcommand name. Exit statuses: 0 success, 1 a check failed
 * (e.g. fmt --check), 2 bad usage or bad input. */
#ifndef BKCACHE_CLI_CMD_H
#define BKCACHE_CLI_CMD_H

#include <stddef.h>

typedef int (*bk_cmd_fn)(int argc, char **argv);

typedef struct bk_cmd {
    const char *name;
    bk_cmd_fn run;
    const char *summary;
} bk_cmd;

int bk_cmd_version(int argc, char **argv);
int bk_cmd_demo(int argc, char **argv);
int bk_cmd_export(int argc, char **argv);
int bk_cmd_import(int argc, char **argv);
int bk_cmd_push(int argc, char **argv);
int bk_cmd_pull(int argc, char **argv);
int bk_cmd_fmt(int argc, char **argv);
int bk_cmd_normalize(int argc, char **argv);
/* Reads a whole file, or stdin for "-"; 0 on success (free *data), else prints
 * "bkcache <cmd>: <path>: <reason>" and returns 2. (cmd_fmt.c) */
int bk_cli_read_input(const char *cmd, const char *path, char **data, size_t *len);
/* Prints "bkcache <cmd>: <where>: <msg>" on one line (control bytes shown as
 * '?') to stderr. (cmd_fmt.c) */
void bk_cli_error_line(const char *cmd, const char *where, const char *msg);
int bk_cmd_sigv4(int argc, char **argv);
int bk_cmd_explain(int argc, char **argv);

#endif
