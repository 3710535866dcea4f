/* The mock's operations in one table (ops.c): for each, its S3 API name,
 * what it may do and what its body is, the checks it makes before the body
 * arrives and the handler that runs it. The request driver (request.c) reads
 * everything it needs about an operation from its row. */
#ifndef MS3_OPS_H
#define MS3_OPS_H

#include "router.h"

typedef struct ms3_req ms3_req;

enum {
    MS3_OPF_WRITE = 1u << 0,          /* changes state: the read-only profile denies it */
    MS3_OPF_PAYLOAD = 1u << 1,        /* the body is object data, streamed to storage */
    MS3_OPF_XML_BODY = 1u << 2,       /* the body is an XML document, buffered */
    MS3_OPF_LISTS = 1u << 3,          /* needs s3:ListBucket: the no-list profile denies it */
    MS3_OPF_CREATES_OBJECT = 1u << 4, /* makes an object: the require-SSE policy applies */
    MS3_OPF_NO_BUCKET = 1u << 5,      /* runs without an existing bucket */
    MS3_OPF_ADMIN = 1u << 6,          /* /_mock/: no SigV4, no journal; JSON body */
    /* A credential service (STS, IMDS, ECS): no S3 SigV4 (the operation checks
     * its own auth), body buffered, errors in the service's format. */
    MS3_OPF_SERVICE = 1u << 7,
};

typedef struct ms3_op_info {
    ms3_op op;
    unsigned flags;   /* MS3_OPF_*: is_write, has_payload, ... */
    const char *name; /* S3 API name, as in the journal and fault rules; "" for none */
    /* Checks of this operation before its body is read (after the ones every
     * operation makes); responds and returns -1 to refuse. NULL = none. */
    int (*precheck)(ms3_req *r);
    /* Runs the operation once the body is in; always responds. */
    void (*handler)(ms3_req *r);
    /* Answers an error (a fault's, a body's) in the operation's format; NULL =
     * S3's <Error> document. */
    void (*error)(ms3_req *r, int status, const char *code, const char *message);
    /* An operation its body names (STS's Action): once the body is in, the
     * operation it is, or MS3_OP_UNKNOWN after answering. Faults are decided
     * then, by that operation's name. NULL = the routed one. */
    ms3_op (*resolve)(ms3_req *r);
} ms3_op_info;

/* The row of op; never NULL (an unknown value gets the row of MS3_OP_UNKNOWN). */
const ms3_op_info *ms3__op_info_of(ms3_op op);
const char *ms3__op_name(ms3_op op);
int ms3__op_is_write(ms3_op op);
int ms3__op_has_payload(ms3_op op);

#endif
