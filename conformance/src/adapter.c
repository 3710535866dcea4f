/* Running the implementation under test through the adapter contract
 * (conformance/ADAPTER.md): a child process with a deadline, its own process
 * group (killed whole on timeout), captured output and a controlled
 * environment. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

extern char **environ;

#define OUTPUT_MAX (8u << 20)

void conf_run_free(conf_run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

const char *conf_run_why(const conf_run *r, char *buf, size_t size)
{
    const char *e = r->err != NULL ? r->err : "";
    /* The last non-empty line of stderr says most. */
    const char *end = e + strlen(e);
    while (end > e && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > e && start[-1] != '\n')
        start--;
    if (r->timed_out)
        snprintf(buf, size, "timed out; stderr: %.*s", (int)(end - start), start);
    else
        snprintf(buf, size, "exit %d; stderr: %.*s", r->exit_code, (int)(end - start), start);
    return buf;
}

static int name_matches(const char *entry, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    size_t n = eq ? (size_t)(eq - assignment) : strlen(assignment);
    return strncmp(entry, assignment, n) == 0 && entry[n] == '=';
}

/* Variables that would point a mock-target adapter at something else. */
static int is_aws_env(const char *entry)
{
    return strncmp(entry, "AWS_", 4) == 0;
}

static char **build_env(conf_ctx *c, const char *const extra[])
{
    size_t n = 0, nextra = 0;
    while (environ[n] != NULL)
        n++;
    while (extra != NULL && extra[nextra] != NULL)
        nextra++;
    char **env = calloc(n + nextra + 8, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->is_mock && is_aws_env(environ[i]))
            continue;
        int overridden = 0;
        for (size_t j = 0; j < nextra && !overridden; j++)
            overridden = name_matches(environ[i], extra[j]);
        if (!overridden)
            env[k++] = strdup(environ[i]);
    }
    if (c->is_mock) {
        char buf[1400];
        const char *defaults[][2] = {{"AWS_ACCESS_KEY_ID", c->access_key},
                                     {"AWS_SECRET_ACCESS_KEY", c->secret_key},
                                     {"AWS_REGION", c->region},
                                     {"AWS_EC2_METADATA_DISABLED", "true"}};
        for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
            int overridden = 0;
            for (size_t j = 0; j < nextra && !overridden; j++)
                overridden = strncmp(extra[j], defaults[d][0], strlen(defaults[d][0])) == 0 &&
                             extra[j][strlen(defaults[d][0])] == '=';
            if (overridden)
                continue;
            snprintf(buf, sizeof buf, "%s=%s", defaults[d][0], defaults[d][1]);
            env[k++] = strdup(buf);
        }
    }
    for (size_t j = 0; j < nextra; j++) {
        const char *eq = strchr(extra[j], '=');
        if (eq != NULL && eq[1] == '\0')
            continue; /* "NAME=" unsets */
        env[k++] = strdup(extra[j]);
    }
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* Resolves a program name through PATH before fork (execve needs a path). */
static int resolve(const char *prog, char *out, size_t size)
{
    if (strchr(prog, '/') != NULL) {
        snprintf(out, size, "%s", prog);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, size, "%.*s/%s", (int)len, path, prog);
        if (access(out, X_OK) == 0)
            return 0;
        path += len + (colon ? 1 : 0);
    }
    return -1;
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > OUTPUT_MAX)
        n = OUTPUT_MAX > *len + 1 ? OUTPUT_MAX - *len - 1 : 0;
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int conf_spawn(conf_ctx *c, const char *const argv[], const char *const extra_env[], int timeout_s,
               conf_run *r)
{
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
    char path[4096];
    if (resolve(argv[0], path, sizeof path) != 0) {
        free(r->err);
        r->err = strdup("cannot find the program to run");
        return -1;
    }
    char **env = build_env(c, extra_env);
    int out[2], err[2];
    if (env == NULL || pipe(out) != 0) {
        free_env(env);
        return -1;
    }
    if (pipe(err) != 0) {
        close(out[0]);
        close(out[1]);
        free_env(env);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        execve(path, (char *const *)argv, env);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    free_env(env);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        return -1;
    }
    setpgid(pid, pid);
    size_t olen = 0, ocap = 1, elen = 0, ecap = 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int open_fds = 2;
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    while (open_fds > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ms = (long)timeout_s * 1000 -
                       ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left_ms <= 0) {
            r->timed_out = 1;
            kill(-pid, SIGKILL);
            break;
        }
        int pr = poll(p, 2, (int)(left_ms > 1000 ? 1000 : left_ms));
        if (pr < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    append(&r->out, &olen, &ocap, buf, (size_t)n);
                else
                    append(&r->err, &elen, &ecap, buf, (size_t)n);
            } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    int status = 0;
    if (r->timed_out) {
        waitpid(pid, &status, 0);
    } else {
        /* Output closed; the child should exit promptly. Bound that too. */
        for (int i = 0; i < 100; i++) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid)
                goto reaped;
            usleep(20 * 1000);
        }
        r->timed_out = 1;
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
reaped:
    /* Anything the adapter left behind in its group goes too. */
    kill(-pid, SIGKILL);
    if (WIFEXITED(status))
        r->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r->exit_code = 128 + WTERMSIG(status);
    return 0;
}

void conf_load_capabilities(conf_ctx *c)
{
    if (c->impl == NULL) {
        c->capabilities = CONF_CAP_COPY_LIMIT | CONF_CAP_MULTIPART_THRESHOLD;
        return;
    }
    c->capabilities = 0;
    const char *argv[] = {c->impl, "capabilities", NULL};
    conf_run r;
    if (conf_spawn(c, argv, NULL, 10, &r) == 0 && r.exit_code == 0) {
        if (strstr(r.out, "copy-limit") != NULL)
            c->capabilities |= CONF_CAP_COPY_LIMIT;
        if (strstr(r.out, "multipart-threshold") != NULL)
            c->capabilities |= CONF_CAP_MULTIPART_THRESHOLD;
    }
    conf_run_free(&r);
}

int conf_export(conf_ctx *c, const conf_export_opts *o, conf_run *r)
{
    const char *graph = conf_graph_path(c, o->graph);
    if (graph == NULL) {
        memset(r, 0, sizeof *r);
        r->exit_code = -1;
        r->err = strdup("cannot stage the graph fixture");
        r->out = strdup("");
        return -1;
    }
    char *attrs =
        o->attrs_override != NULL ? strdup(o->attrs_override) : conf_attrs(c, o->prefix, o->extra);
    char copy_limit[32], threshold[32];
    snprintf(copy_limit, sizeof copy_limit, "%llu", (unsigned long long)o->copy_limit);
    snprintf(threshold, sizeof threshold, "%llu", (unsigned long long)o->multipart_threshold);
    const char *argv[16];
    size_t n = 0;
    argv[n++] = c->impl != NULL ? c->impl : c->native_bin;
    argv[n++] = "export";
    argv[n++] = "--graph";
    argv[n++] = graph;
    if (c->impl != NULL) {
        argv[n++] = "--store";
        argv[n++] = o->store != NULL ? o->store : conf_store_dir(c);
    }
    argv[n++] = "--cache-to";
    argv[n++] = attrs;
    if (c->impl == NULL) {
        argv[n++] = "--progress";
        argv[n++] = "quiet";
    }
    if (o->copy_limit) {
        argv[n++] = "--copy-limit";
        argv[n++] = copy_limit;
    }
    if (o->multipart_threshold) {
        argv[n++] = "--multipart-threshold";
        argv[n++] = threshold;
    }
    argv[n] = NULL;
    int rc = conf_spawn(c, argv, o->env, c->adapter_timeout_s, r);
    if (c->verbose && (rc != 0 || r->exit_code != 0))
        fprintf(stderr, "  [export %s -> exit %d] %s", o->graph, r->exit_code, r->err);
    /* What the case's cache is, for its explain tree in the HTML report. */
    free(c->case_attrs);
    c->case_attrs = attrs;
    return rc;
}

int conf_import(conf_ctx *c, const char *attrs, const char *const *env, char *dest,
                size_t dest_size, conf_run *r)
{
    if (conf_mkdtemp(c, "import", dest, dest_size) != 0) {
        memset(r, 0, sizeof *r);
        r->exit_code = -1;
        r->err = strdup("cannot create a scratch folder");
        r->out = strdup("");
        return -1;
    }
    const char *argv[12];
    size_t n = 0;
    argv[n++] = c->impl != NULL ? c->impl : c->native_bin;
    argv[n++] = "import";
    argv[n++] = "--cache-from";
    argv[n++] = attrs;
    argv[n++] = "--dest";
    argv[n++] = dest;
    argv[n++] = "--json";
    if (c->impl == NULL) {
        argv[n++] = "--progress";
        argv[n++] = "quiet";
    }
    argv[n] = NULL;
    int rc = conf_spawn(c, argv, env, c->adapter_timeout_s, r);
    if (c->verbose && (rc != 0 || r->exit_code != 0))
        fprintf(stderr, "  [import -> exit %d] %s", r->exit_code, r->err);
    free(c->case_attrs);
    c->case_attrs = strdup(attrs);
    return rc;
}
