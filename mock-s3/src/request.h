/* The life of one request, whatever carries it: server.c feeds it from
 * libmicrohttpd, inproc.c from memory. Both go through the same steps, so a
 * request handled without a socket meets exactly the routing, auth, policy,
 * fault, ingest, operation and journal code a network request meets:
 *
 *   ms3__req_new -> ms3__req_add_header* -> ms3__req_begin -> ms3__req_feed*
 *   -> ms3__req_end_body -> ms3__req_respond -> ms3__req_read_response*
 *   -> ms3__req_complete
 *
 * A request that already has a response after ms3__req_begin (an early error,
 * so Expect: 100-continue never sends its body) skips the body steps. */
#ifndef MS3_REQUEST_H
#define MS3_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "server_internal.h"

/* NULL when out of memory. raw_target: path?query as on the request line. */
ms3_req *ms3__req_new(ms3_server *s, const char *raw_target, uint16_t remote_port);
/* One request header as received; the server's proxy mode may rewrite or drop
 * it (as a proxy in front of S3 would after the client signed). -1: no memory. */
int ms3__req_add_header(ms3_req *r, const char *name, const char *value);
/* The headers are in: routes, authenticates, applies policies, decides faults
 * and prepares how the body is consumed. */
void ms3__req_begin(ms3_req *r, const char *method);
/* 1 when ms3__req_begin decided the request (its body is not read). */
int ms3__req_decided(const ms3_req *r);
/* A piece of the request body; -1 when a fault cuts the connection here. */
int ms3__req_feed(ms3_req *r, const void *data, size_t n);
/* The body is complete: runs the operation. -1 when a fault cuts the connection
 * instead (the body was shorter than the cut point). */
int ms3__req_end_body(ms3_req *r);
/* Settles the response: waits out a delay fault (when `sleep`; otherwise the
 * delay is only recorded in r->fault.delay_ms), makes sure there is a status,
 * adds the headers every response carries and applies header faults, and
 * journals the request (so a client that got the answer finds the entry). */
void ms3__req_respond(ms3_req *r, int sleep);
/* The Content-Length to announce; -1 when a fault withholds it. */
int64_t ms3__req_response_length(const ms3_req *r);
/* 1 when no body follows the headers (HEAD, 204, 304, or nothing to send). */
int ms3__req_response_bodyless(const ms3_req *r);
/* The response body when a transport may hand it over whole: a memory
 * buffer (XML, JSON) that no fault shapes, exactly the announced length. It
 * counts as sent, as ms3__req_read_response counts what it gives. NULL when
 * the body must be read with ms3__req_read_response. */
const char *ms3__req_response_whole(ms3_req *r, size_t *len);
/* Up to max bytes of the response body from pos: the count, 0 at the end, -1
 * when the body cannot go on (a fault cut it, which sets r->cut, or the object
 * could not be read). `pace` lets the tiny-chunks fault pause between pieces. */
long ms3__req_read_response(ms3_req *r, uint64_t pos, char *buf, size_t max, int pace);
/* Completes the journal entry and frees the request. aborted: the exchange
 * did not end normally (`why` is a short reason for the journal, or NULL). */
void ms3__req_complete(ms3_req *r, int aborted, const char *why);

#endif
