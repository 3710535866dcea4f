/* The journal entry of a request (record.c). */
#ifndef MS3_RECORD_H
#define MS3_RECORD_H

#include "server_internal.h"

/* Records the request when its response is queued, so a client that got the
 * response always finds the entry. Once per request; admin requests are not
 * recorded. */
void ms3__req_record(ms3_req *r);
/* Completes the entry when the exchange ended (records it first if needed):
 * status, bytes sent, duration, and why it ended early when it did (aborted;
 * why may be NULL). */
void ms3__req_record_finish(ms3_req *r, int aborted, const char *why);

#endif
