#include "rawhttp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64

struct raw_server {
    raw_mode mode;
    char *reply;
    int listen_fd;
    int port;
    char url[64];
    pthread_t thread;
    atomic_int stop;
    int conns[MAX_CONNS]; /* kept open: silent answers, the full queue */
    int n_conns;
    pthread_mutex_t last_lock;
    char last[4096]; /* the newest request's head */
};

static void keep(raw_server *s, int fd)
{
    if (s->n_conns < MAX_CONNS)
        s->conns[s->n_conns++] = fd;
    else
        close(fd);
}

/* Reads until the end of the request headers (the requests here have no
 * body) and keeps them as the newest request. */
static void read_request(raw_server *s, int fd)
{
    char buf[4096];
    buf[0] = '\0';
    size_t got = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (got < sizeof buf - 1 && poll(&p, 1, 2000) > 0) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    pthread_mutex_lock(&s->last_lock);
    memcpy(s->last, buf, got + 1);
    pthread_mutex_unlock(&s->last_lock);
}

void raw_server_last_request(raw_server *s, char *out, size_t size)
{
    pthread_mutex_lock(&s->last_lock);
    snprintf(out, size, "%s", s->last);
    pthread_mutex_unlock(&s->last_lock);
}

static void *serve(void *arg)
{
    raw_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (s->mode == RAW_NO_ACCEPT || poll(&p, 1, 50) <= 0) {
            usleep(20000);
            continue;
        }
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        read_request(s, fd);
        if (s->mode == RAW_SILENT) {
            keep(s, fd);
            continue;
        }
        size_t len = strlen(s->reply), off = 0;
        while (off < len) {
            ssize_t n = write(fd, s->reply + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        close(fd);
    }
    return NULL;
}

/* A listen queue of one, filled by a connection of our own: the kernel then
 * drops every further SYN and the client's connect never completes. */
static int fill_queue(raw_server *s)
{
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)s->port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)connect(fd, (struct sockaddr *)&a, sizeof a);
        keep(s, fd);
    }
    usleep(100000);
    return 0;
}

raw_server *raw_server_start(raw_mode mode, const char *reply)
{
    raw_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->mode = mode;
    pthread_mutex_init(&s->last_lock, NULL);
    s->reply = strdup(reply ? reply : "");
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (s->reply == NULL || s->listen_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->listen_fd, mode == RAW_NO_ACCEPT ? 0 : 16) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
        raw_server_stop(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
    if ((mode == RAW_NO_ACCEPT && fill_queue(s) != 0) ||
        pthread_create(&s->thread, NULL, serve, s) != 0) {
        s->port = 0;
        raw_server_stop(s);
        return NULL;
    }
    return s;
}

int raw_server_port(const raw_server *s)
{
    return s->port;
}

const char *raw_server_url(const raw_server *s)
{
    return s->url;
}

void raw_server_stop(raw_server *s)
{
    if (s == NULL)
        return;
    if (s->port != 0) {
        atomic_store(&s->stop, 1);
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; i < s->n_conns; i++)
        close(s->conns[i]);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->reply);
    pthread_mutex_destroy(&s->last_lock);
    free(s);
}
