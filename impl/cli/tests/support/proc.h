/* Child processes for end-to-end tests: run a command to completion with a
 * deadline, or keep a server running and stop it. Nothing outlives its test. */
#ifndef BK_TEST_PROC_H
#define BK_TEST_PROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct bk_proc_result {
    int exit_code; /* exit status, or 128+signal, or -1 when it could not start */
    int timed_out; /* 1 when the deadline killed it */
    char *out;     /* captured stdout, NUL-terminated (bounded to 4 MiB) */
    char *err;     /* captured stderr, NUL-terminated (bounded to 4 MiB) */
} bk_proc_result;

/* Runs argv[0] (a path or a name looked up in PATH) with extra environment
 * entries "NAME=value" (NULL-terminated list, may be NULL; "NAME=" with no value
 * unsets NAME), feeding stdin_data, killing it after timeout_s seconds. */
int bk_proc_run(const char *const argv[], const char *const env[], const char *stdin_data,
                size_t stdin_len, int timeout_s, bk_proc_result *res);
void bk_proc_result_clear(bk_proc_result *res);

typedef struct bk_proc_child {
    pid_t pid;
    int out_fd; /* the child's stdout, read with bk_proc_read_line */
    int in_fd;  /* the child's stdin, held open until bk_proc_stop (servers that
                   exit when stdin closes keep running meanwhile) */
} bk_proc_child;

/* Starts a long-running child whose stdin and stdout are pipes and whose stderr is inherited. */
int bk_proc_spawn(const char *const argv[], const char *const env[], bk_proc_child *child);
/* Reads one line (without the newline) within timeout_s; 0 on success. */
int bk_proc_read_line(bk_proc_child *child, char *line, size_t size, int timeout_s);
/* SIGTERM, wait up to timeout_s, then SIGKILL; returns the exit code as bk_proc_run does. */
int bk_proc_stop(bk_proc_child *child, int timeout_s);

/* Starts build/bin/mock-s3 on 127.0.0.1:0 with one credential (AK/SK), the
 * given buckets (NULL-terminated) and extra flags (NULL-terminated, may be NULL).
 * Fills the base URL "http://127.0.0.1:PORT" and the port. */
int bk_mock_start(const char *const buckets[], const char *const extra_args[],
                  const char *access_key, const char *secret_key, bk_proc_child *child, char *url,
                  size_t url_size, int *port);

/* A fresh temporary directory (mkdtemp) and its recursive removal. */
int bk_tmpdir(char *path, size_t size);
void bk_rmtree(const char *path);
/* Writes len bytes to path; 0 on success. */
int bk_write_file(const char *path, const void *data, size_t len);

#endif
