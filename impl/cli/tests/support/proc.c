/* nftw() is an XSI extension. */
#define _XOPEN_SOURCE 700

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CAPTURE_MAX (4u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void apply_env(const char *const env[])
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        if (eq == NULL)
            continue;
        char name[256];
        size_t n = (size_t)(eq - env[i]);
        if (n >= sizeof name)
            continue;
        memcpy(name, env[i], n);
        name[n] = '\0';
        if (eq[1] == '\0')
            unsetenv(name);
        else
            setenv(name, eq + 1, 1);
    }
}

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* Each capture grows up to CAPTURE_MAX; beyond it the child's output is drained and dropped. */
typedef struct capture {
    char *data;
    size_t len, cap;
} capture;

static void capture_add(capture *c, const char *p, size_t n)
{
    if (c->len + n > CAPTURE_MAX)
        n = CAPTURE_MAX - c->len;
    if (n == 0)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *d = realloc(c->data, cap);
        if (d == NULL)
            return;
        c->data = d;
        c->cap = cap;
    }
    memcpy(c->data + c->len, p, n);
    c->len += n;
    c->data[c->len] = '\0';
}

static char *capture_take(capture *c)
{
    if (c->data == NULL)
        return strdup("");
    return c->data;
}

int bk_proc_run(const char *const argv[], const char *const env[], const char *stdin_data,
                size_t stdin_len, int timeout_s, bk_proc_result *res)
{
    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    int in_p[2], out_p[2], err_p[2];
    if (pipe(in_p) != 0)
        return -1;
    if (pipe(out_p) != 0 || pipe(err_p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in_p[0], 0);
        dup2(out_p[1], 1);
        dup2(err_p[1], 2);
        close(in_p[0]);
        close(in_p[1]);
        close(out_p[0]);
        close(out_p[1]);
        close(err_p[0]);
        close(err_p[1]);
        setpgid(0, 0);
        apply_env(env);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in_p[0]);
    close(out_p[1]);
    close(err_p[1]);
    signal(SIGPIPE, SIG_IGN);

    capture out = {0}, err = {0};
    size_t written = 0;
    int in_fd = in_p[1];
    if (stdin_data == NULL || stdin_len == 0) {
        close(in_fd);
        in_fd = -1;
    } else {
        fcntl(in_fd, F_SETFL, O_NONBLOCK);
    }
    double deadline = now_s() + timeout_s;
    int open_fds = 2;
    while (open_fds > 0) {
        struct pollfd fds[3] = {{out_p[0], POLLIN, 0}, {err_p[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
        double left = deadline - now_s();
        if (left <= 0) {
            res->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(fds, 3, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            break;
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fds[i].fd, buf, sizeof buf);
            if (r > 0) {
                capture_add(i == 0 ? &out : &err, buf, (size_t)r);
            } else if (r == 0 || errno != EAGAIN) {
                close(fds[i].fd);
                if (i == 0)
                    out_p[0] = -1;
                else
                    err_p[0] = -1;
                open_fds--;
            }
        }
        if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in_fd, stdin_data + written, stdin_len - written);
            if (w > 0)
                written += (size_t)w;
            if (w < 0 && errno != EAGAIN)
                written = stdin_len;
            if (written >= stdin_len) {
                close(in_fd);
                in_fd = -1;
            }
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    if (out_p[0] >= 0)
        close(out_p[0]);
    if (err_p[0] >= 0)
        close(err_p[0]);
    int status = 0;
    if (res->timed_out) {
        waitpid(pid, &status, 0);
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    res->exit_code = exit_code_of(status);
    res->out = capture_take(&out);
    res->err = capture_take(&err);
    return 0;
}

void bk_proc_result_clear(bk_proc_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

int bk_proc_spawn(const char *const argv[], const char *const env[], bk_proc_child *child)
{
    int out_p[2], in_p[2];
    if (pipe(out_p) != 0)
        return -1;
    if (pipe(in_p) != 0) {
        close(out_p[0]);
        close(out_p[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(out_p[1], 1);
        dup2(in_p[0], 0);
        close(out_p[0]);
        close(out_p[1]);
        close(in_p[0]);
        close(in_p[1]);
        apply_env(env);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out_p[1]);
    close(in_p[0]);
    fcntl(in_p[1], F_SETFD, FD_CLOEXEC);
    fcntl(out_p[0], F_SETFD, FD_CLOEXEC);
    child->pid = pid;
    child->out_fd = out_p[0];
    child->in_fd = in_p[1];
    return 0;
}

int bk_proc_read_line(bk_proc_child *child, char *line, size_t size, int timeout_s)
{
    size_t len = 0;
    double deadline = now_s() + timeout_s;
    while (len + 1 < size) {
        double left = deadline - now_s();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {child->out_fd, POLLIN, 0};
        int n = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        char c;
        ssize_t r = read(child->out_fd, &c, 1); /* byte by byte: we must not eat later output */
        if (r <= 0)
            return -1;
        if (c == '\n') {
            line[len] = '\0';
            return 0;
        }
        line[len++] = c;
    }
    return -1;
}

int bk_proc_stop(bk_proc_child *child, int timeout_s)
{
    if (child->pid <= 0)
        return -1;
    if (child->in_fd >= 0) {
        close(child->in_fd);
        child->in_fd = -1;
    }
    kill(child->pid, SIGTERM);
    double deadline = now_s() + timeout_s;
    int status = 0;
    pid_t r;
    while ((r = waitpid(child->pid, &status, WNOHANG)) == 0 && now_s() < deadline) {
        struct timespec ts = {0, 20L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        kill(child->pid, SIGKILL);
        waitpid(child->pid, &status, 0);
        status = -1;
    }
    if (child->out_fd >= 0)
        close(child->out_fd);
    child->pid = -1;
    child->out_fd = -1;
    return status < 0 ? -1 : exit_code_of(status);
}

int bk_mock_start(const char *const buckets[], const char *const extra_args[],
                  const char *access_key, const char *secret_key, bk_proc_child *child, char *url,
                  size_t url_size, int *port)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = BK_BIN_DIR "/mock-s3";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--region";
    argv[n++] = "us-east-1";
    argv[n++] = "--access-key";
    argv[n++] = access_key;
    argv[n++] = "--secret-key";
    argv[n++] = secret_key;
    for (size_t i = 0; buckets != NULL && buckets[i] != NULL && n < 40; i++) {
        argv[n++] = "--bucket";
        argv[n++] = buckets[i];
    }
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n < 62; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    if (bk_proc_spawn(argv, NULL, child) != 0)
        return -1;
    char line[512];
    const char *prefix = "mock-s3 listening on ";
    if (bk_proc_read_line(child, line, sizeof line, 20) != 0 ||
        strncmp(line, prefix, strlen(prefix)) != 0) {
        bk_proc_stop(child, 5);
        return -1;
    }
    snprintf(url, url_size, "%s", line + strlen(prefix));
    const char *colon = strrchr(url, ':');
    *port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
    return *port > 0 ? 0 : -1;
}

int bk_tmpdir(char *path, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(path, size, "%s/bkcache-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(path) != NULL ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void bk_rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int bk_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}
