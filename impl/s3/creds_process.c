/* credential_process: a profile's command whose standard output is the
 * credentials as JSON (Version 1, AccessKeyId, SecretAccessKey, SessionToken,
 * Expiration). The command line is split into words as a POSIX shell would
 * (blanks separate, '…' keeps everything, "…" keeps everything but \" \\ \$
 * \`, a backslash outside quotes keeps the next character) and run without a
 * shell: no variables, globs, pipes or redirections. Its standard error and
 * input are the user's (a prompt for an MFA code reaches them). Time and
 * output are bounded; the process group is killed when time runs out. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "creds_internal.h"

#define PROCESS_OUTPUT_MAX ((size_t)64 * 1024)
#define PROCESS_WORDS_MAX 256

extern char **environ;

typedef struct process {
    bk_creds_provider base;
    creds_ctx x;
    char *command, *profile;
    char source[96];
} process;

/* ---- the command line ---- */

typedef struct words {
    char *argv[PROCESS_WORDS_MAX + 1];
    size_t n;
} words;

/* Splits cmd into w, the words written NUL-separated into store (as large
 * as cmd). 0, or -1 with *why set (unterminated quote, too many words). */
static int split_words(const char *cmd, char *store, words *w, const char **why)
{
    memset(w, 0, sizeof *w);
    char *o = store;
    const char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        if (w->n == PROCESS_WORDS_MAX) {
            *why = "more than 256 words";
            return -1;
        }
        w->argv[w->n++] = o;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (end == NULL) {
                    *why = "a ' is not closed";
                    return -1;
                }
                memcpy(o, p + 1, (size_t)(end - p - 1));
                o += end - p - 1;
                p = end + 1;
            } else if (*p == '"') {
                for (p++; *p != '"'; p++) {
                    if (*p == '\0') {
                        *why = "a \" is not closed";
                        return -1;
                    }
                    if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
                        p++;
                    *o++ = *p;
                }
                p++;
            } else if (*p == '\\' && p[1] != '\0') {
                *o++ = p[1];
                p += 2;
            } else {
                *o++ = *p++;
            }
        }
        *o++ = '\0';
    }
    if (w->n == 0) {
        *why = "the command is empty";
        return -1;
    }
    return 0;
}

/* ---- running it ---- */

static int64_t ms_left(const creds_ctx *x, int64_t deadline_ns)
{
    int64_t left = (deadline_ns - bk_clock_mono_ns(&x->clock)) / 1000000;
    return left > 0 ? left : 0;
}

/* Reads the child's output until EOF, the limit or the deadline. */
static bk_code read_output(const process *p, int fd, int64_t deadline_ns, bk_buf *out, bk_err *err)
{
    char chunk[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = ms_left(&p->x, deadline_ns);
        int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return bk_err_set(err, BK_ETIMEOUT,
                              "profile %s: credential_process did not finish within %d ms",
                              p->profile, p->x.process_timeout_ms);
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return BK_OK;
        if (out->len + (size_t)n > PROCESS_OUTPUT_MAX)
            return bk_err_set(err, BK_EPROTO,
                              "profile %s: credential_process wrote more than 64 KiB", p->profile);
        bk_buf_append(out, chunk, (size_t)n);
    }
}

/* Waits for the child until the deadline; -1 when it is still running. */
static int wait_child(const process *p, pid_t pid, int64_t deadline_ns, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return 0;
        if (ms_left(&p->x, deadline_ns) == 0)
            return -1;
        bk_clock_sleep_ms(&p->x.clock, 5);
    }
}

static bk_code run(const process *p, bk_buf *out, bk_err *err)
{
    words w;
    const char *why = NULL;
    char *store = malloc(strlen(p->command) + 1);
    if (store == NULL)
        return bk_err_set(err, BK_ENOMEM, "profile %s: credential_process: out of memory",
                          p->profile);
    if (split_words(p->command, store, &w, &why) != 0) {
        free(store);
        return bk_err_set(err, BK_EINVAL, "profile %s: credential_process: %s", p->profile, why);
    }
    int fds[2];
    /* Close-on-exec, so that a credential_process run by another thread keeps
     * no copy of this pipe open. */
    if (pipe(fds) != 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        free(store);
        return bk_err_set(err, BK_EIO, "profile %s: credential_process: pipe: %s", p->profile,
                          strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    /* Its own process group, so that whatever it starts is stopped with it. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid;
    int src = posix_spawnp(&pid, w.argv[0], &fa, &attr, w.argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (src != 0) {
        close(fds[0]);
        bk_code rc = bk_err_set(err, BK_EINVAL, "profile %s: credential_process: cannot run %s: %s",
                                p->profile, w.argv[0], strerror(src));
        free(store);
        return rc;
    }
    int64_t deadline = bk_clock_mono_ns(&p->x.clock) + (int64_t)p->x.process_timeout_ms * 1000000;
    bk_code rc = read_output(p, fds[0], deadline, out, err);
    close(fds[0]);
    int status = 0;
    if (wait_child(p, pid, rc == BK_OK ? deadline : 0, &status) != 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        if (rc == BK_OK)
            rc = bk_err_set(err, BK_ETIMEOUT,
                            "profile %s: credential_process did not exit within %d ms", p->profile,
                            p->x.process_timeout_ms);
    } else if (rc == BK_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        if (WIFEXITED(status))
            rc = bk_err_set(err, BK_EAUTH,
                            "profile %s: credential_process %s exited with status %d (its "
                            "messages are above)",
                            p->profile, w.argv[0], WEXITSTATUS(status));
        else
            rc = bk_err_set(err, BK_EAUTH, "profile %s: credential_process %s killed by signal %d",
                            p->profile, w.argv[0], WTERMSIG(status));
    }
    /* A child still holding on after an error is stopped too. */
    if (rc != BK_OK)
        kill(-pid, SIGKILL);
    free(store);
    return rc;
}

static bk_code process_fetch(bk_creds_provider *self, bk_creds *out, bk_err *err)
{
    process *p = (process *)self;
    bk_buf output = BK_BUF_INIT;
    bk_code rc = run(p, &output, err);
    if (rc == BK_OK) {
        json_t *o = json_loadb(output.data ? output.data : "", output.len, 0, NULL);
        json_t *version = json_object_get(o, "Version");
        if (!json_is_object(o))
            rc = bk_err_set(err, BK_EPROTO,
                            "profile %s: credential_process printed no JSON object (%zu bytes)",
                            p->profile, output.len);
        else if (!json_is_integer(version) || json_integer_value(version) != 1)
            rc = bk_err_set(err, BK_EPROTO,
                            "profile %s: credential_process output has no \"Version\": 1",
                            p->profile);
        json_decref(o);
    }
    if (rc == BK_OK)
        rc = bk__creds_from_json(output.data, output.len, "SessionToken", p->source, out, err);
    if (output.data != NULL)
        memset(output.data, 0, output.len);
    bk_buf_clear(&output);
    return rc;
}

static void process_free(bk_creds_provider *self)
{
    process *p = (process *)self;
    free(p->command);
    free(p->profile);
    free(p);
}

bk_creds_provider *bk__creds_process_new(const creds_ctx *x, const char *command,
                                         const char *profile, bk_err *err)
{
    process *p = calloc(1, sizeof *p);
    if (p == NULL || (p->command = strdup(command)) == NULL ||
        (p->profile = strdup(profile)) == NULL) {
        if (p != NULL)
            process_free(&p->base);
        bk_err_set(err, BK_ENOMEM, "credentials: out of memory");
        return NULL;
    }
    p->x = *x;
    p->base.name = "credential_process";
    p->base.fetch = process_fetch;
    p->base.free = process_free;
    snprintf(p->source, sizeof p->source, "profile %s (credential_process)", profile);
    return &p->base;
}
