/* A server on 127.0.0.1 (port 0) that is not S3, for the client's meetings
 * with the rest of the web: every request gets one canned reply (a plain web
 * server's 404, a redirect to another host), or no answer at all, or the
 * connection is never even accepted. Bounded: it serves until stopped. */
#ifndef BK_TEST_RAWHTTP_H
#define BK_TEST_RAWHTTP_H

#include <stddef.h>

typedef enum raw_mode {
    RAW_REPLY = 0, /* read the request, send the reply, close */
    RAW_SILENT,    /* accept and read, never answer */
    RAW_NO_ACCEPT, /* a full accept queue: connecting never completes */
} raw_mode;

typedef struct raw_server raw_server;

/* reply: the whole response text (RAW_REPLY only). NULL when it cannot start. */
raw_server *raw_server_start(raw_mode mode, const char *reply);
int raw_server_port(const raw_server *s);
/* "http://127.0.0.1:PORT" (or https://, for a client that must fail before TLS). */
const char *raw_server_url(const raw_server *s);
/* The head (request line and headers) of the newest request read. */
void raw_server_last_request(raw_server *s, char *out, size_t size);
void raw_server_stop(raw_server *s);

#endif
