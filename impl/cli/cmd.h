/* One entry point per bkcache subcommand, each in its own cmd_<name>.c.
 * argv[0] is the subcommand name. Exit statuses: 0 success, 1 a check or the
 * operation failed (e.g. fmt --check), 2 bad usage or bad input
 * (cli_msg.h). */
#ifndef BKCACHE_CLI_CMD_H
#define BKCACHE_CLI_CMD_H

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
int bk_cmd_sigv4(int argc, char **argv);
int bk_cmd_explain(int argc, char **argv);

#endif
