/* Checks a request meets before its body is read, and how that body is read
 * (precheck.c). Each check responds and returns -1 to refuse, 0 to go on. */
#ifndef MS3_PRECHECK_H
#define MS3_PRECHECK_H

#include "bkcache/checksum.h"
#include "server_internal.h"

/* The checks of every operation, from the flags of its row in ops.c. */
int ms3__precheck_request(ms3_req *r);
/* x-amz-checksum-*, x-amz-sdk-checksum-algorithm and Content-MD5 are well formed. */
int ms3__precheck_checksum_headers(ms3_req *r);
/* The single x-amz-checksum-<alg> header of a request: 1 found, 0 none, -1 several. */
int ms3__req_checksum_header(const ms3_req *r, bk_checksum_alg *alg, const char **value);
/* How the body is consumed (checksums to verify, aws-chunked decoding, where
 * an object body goes); -1 after responding. */
int ms3__req_ingest_config(ms3_req *r, ms3_ingest_config *cfg);

#endif
