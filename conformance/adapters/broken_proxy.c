/* The unsigned-gzip proxy: one thread accepts, one thread per connection
 * reads the request head, rewrites it for the origin (origin-form target,
 * hop-by-hop headers dropped, Accept-Encoding: gzip added, Connection: close)
 * and then relays bytes both ways until both sides are done. One request per
 * connection keeps the relay free of HTTP framing. */
#include "broken_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bkcache/buf.h"

#define HEAD_MAX 65536
#define IDLE_MS 120000 /* a connection quiet this long is dropped */

struct gzip_proxy {
    int listen_fd;
    int stop_pipe[2];
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_t *conns;
    size_t n_conns, cap_conns;
};

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads until the blank line that ends the head; returns the bytes read
 * (head and any body bytes after it) and sets *head_len, or -1. */
static ssize_t read_head(int fd, char *buf, size_t size, size_t *head_len)
{
    size_t len = 0;
    while (len < size - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, IDLE_MS) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            *head_len = (size_t)(end - buf) + 4;
            return (ssize_t)len;
        }
    }
    return -1;
}

/* "http://host[:port]/path" -> loopback address and origin-form path. */
static int parse_target(const char *uri, struct sockaddr_in *addr, const char **path)
{
    if (strncasecmp(uri, "http://", 7) != 0)
        return -1;
    const char *host = uri + 7;
    size_t host_len = strcspn(host, ":/");
    const char *rest = host + host_len;
    long port = 80;
    if (*rest == ':') {
        char *end = NULL;
        port = strtol(rest + 1, &end, 10);
        rest = end;
    }
    *path = *rest == '/' ? rest : "/";
    if (port <= 0 || port > 65535 || host_len == 0 || host_len >= 256)
        return -1;
    char name[256];
    memcpy(name, host, host_len);
    name[host_len] = '\0';
    /* localhost and *.localhost are loopback (virtual-host buckets). */
    size_t nl = strlen(name);
    if (strcasecmp(name, "localhost") == 0 ||
        (nl > 10 && strcasecmp(name + nl - 10, ".localhost") == 0))
        snprintf(name, sizeof name, "127.0.0.1");
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, name, &addr->sin_addr) != 1)
        return -1;
    /* Never relay beyond this machine. */
    return (ntohl(addr->sin_addr.s_addr) >> 24) == 127 ? 0 : -1;
}

static int header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* The head for the origin; *addr gets the origin's address. -1 when the
 * request is not a proxy request to a loopback origin. */
static int rewrite_head(char *head, bk_buf *out, struct sockaddr_in *addr)
{
    char *line_end = strstr(head, "\r\n");
    if (line_end == NULL)
        return -1;
    *line_end = '\0';
    char method[32], uri[8192], version[16];
    if (sscanf(head, "%31s %8191s %15s", method, uri, version) != 3)
        return -1;
    const char *path = NULL;
    if (parse_target(uri, addr, &path) != 0)
        return -1;
    bk_buf_printf(out, "%s %s %s\r\n", method, path, version);
    int ranged = 0, has_ae = 0;
    for (char *line = line_end + 2; *line && strncmp(line, "\r\n", 2) != 0;) {
        char *end = strstr(line, "\r\n");
        if (end == NULL)
            return -1;
        size_t len = (size_t)(end - line);
        ranged |= header_is(line, len, "range");
        has_ae |= header_is(line, len, "accept-encoding");
        if (!header_is(line, len, "proxy-connection") && !header_is(line, len, "connection") &&
            !header_is(line, len, "keep-alive") && !header_is(line, len, "proxy-authorization"))
            bk_buf_printf(out, "%.*s\r\n", (int)len, line);
        line = end + 2;
    }
    if (!has_ae && !ranged && strcmp(method, "HEAD") != 0)
        bk_buf_puts(out, "Accept-Encoding: gzip\r\n");
    bk_buf_puts(out, "Connection: close\r\n\r\n");
    return out->failed ? -1 : 0;
}

/* Copies bytes both ways until both directions have ended. */
static void relay(int a, int b)
{
    char buf[65536];
    int open_ab = 1, open_ba = 1;
    while (open_ab || open_ba) {
        struct pollfd p[2] = {{a, open_ab ? POLLIN : 0, 0}, {b, open_ba ? POLLIN : 0, 0}};
        int n = poll(p, 2, IDLE_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (int side = 0; side < 2; side++) {
            int from = side == 0 ? a : b, to = side == 0 ? b : a;
            int *open = side == 0 ? &open_ab : &open_ba;
            if (!*open || !(p[side].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = recv(from, buf, sizeof buf, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0 || send_all(to, buf, (size_t)got) != 0) {
                *open = 0;
                shutdown(to, SHUT_WR);
            }
        }
    }
}

static void *serve(void *arg)
{
    int client = *(int *)arg;
    free(arg);
    char *head = malloc(HEAD_MAX);
    size_t head_len = 0;
    ssize_t got = head ? read_head(client, head, HEAD_MAX, &head_len) : -1;
    bk_buf out = BK_BUF_INIT;
    struct sockaddr_in addr;
    int origin = -1;
    if (got > 0) {
        /* rewrite_head cuts the head's first line: keep the body bytes aside. */
        size_t extra = (size_t)got - head_len;
        char *body = malloc(extra ? extra : 1);
        if (body != NULL)
            memcpy(body, head + head_len, extra);
        head[head_len] = '\0';
        if (body != NULL && rewrite_head(head, &out, &addr) == 0 &&
            (origin = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
            connect(origin, (struct sockaddr *)&addr, sizeof addr) == 0 &&
            send_all(origin, out.data, out.len) == 0 && send_all(origin, body, extra) == 0)
            relay(client, origin);
        else
            send_all(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", 47);
        free(body);
    }
    if (origin >= 0)
        close(origin);
    close(client);
    bk_buf_clear(&out);
    free(head);
    return NULL;
}

static void *accept_loop(void *arg)
{
    gzip_proxy *p = arg;
    for (;;) {
        struct pollfd fds[2] = {{p->listen_fd, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        int fd = accept(p->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int *conn_fd = malloc(sizeof *conn_fd);
        if (conn_fd == NULL) {
            close(fd);
            continue;
        }
        *conn_fd = fd;
        pthread_mutex_lock(&p->lock);
        if (p->n_conns == p->cap_conns) {
            size_t cap = p->cap_conns ? p->cap_conns * 2 : 16;
            pthread_t *grown = realloc(p->conns, cap * sizeof *grown);
            if (grown != NULL) {
                p->conns = grown;
                p->cap_conns = cap;
            }
        }
        int ok = p->n_conns < p->cap_conns &&
                 pthread_create(&p->conns[p->n_conns], NULL, serve, conn_fd) == 0;
        if (ok)
            p->n_conns++;
        pthread_mutex_unlock(&p->lock);
        if (!ok) {
            close(fd);
            free(conn_fd);
        }
    }
}

gzip_proxy *gzip_proxy_start(char *url, size_t url_size, bk_err *err)
{
    gzip_proxy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        bk_err_set(err, BK_ENOMEM, "out of memory");
        return NULL;
    }
    p->stop_pipe[0] = p->stop_pipe[1] = -1;
    pthread_mutex_init(&p->lock, NULL);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(p->listen_fd, 64) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&addr, &alen) != 0 ||
        pipe(p->stop_pipe) != 0 || pthread_create(&p->acceptor, NULL, accept_loop, p) != 0) {
        bk_err_set(err, BK_EIO, "gzip proxy: cannot listen on 127.0.0.1: %s", strerror(errno));
        if (p->listen_fd >= 0)
            close(p->listen_fd);
        for (int i = 0; i < 2; i++)
            if (p->stop_pipe[i] >= 0)
                close(p->stop_pipe[i]);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    snprintf(url, url_size, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    return p;
}

void gzip_proxy_stop(gzip_proxy *p)
{
    if (p == NULL)
        return;
    ssize_t w = write(p->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(p->acceptor, NULL);
    for (size_t i = 0; i < p->n_conns; i++)
        pthread_join(p->conns[i], NULL);
    close(p->listen_fd);
    close(p->stop_pipe[0]);
    close(p->stop_pipe[1]);
    pthread_mutex_destroy(&p->lock);
    free(p->conns);
    free(p);
}
