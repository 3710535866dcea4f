/* The request body pipeline: wire bytes -> (aws-chunked decoder) -> payload ->
 * MD5, SHA-256 and x-amz-checksum-* contexts -> storage writer or a small
 * in-memory buffer. Everything is incremental; nothing holds a whole object
 * except the memory store itself. */
#ifndef MS3_INGEST_H
#define MS3_INGEST_H

#include <stdint.h>

#include "bkcache/buf.h"
#include "bkcache/checksum.h"
#include "bkcache/chunked.h"
#include "body.h"

typedef enum ms3_ingest_sink {
    MS3_INGEST_DISCARD = 0, /* count and drop */
    MS3_INGEST_BUFFER,      /* keep in memory up to a limit (XML, JSON) */
    MS3_INGEST_STORE,       /* stream into a body writer */
} ms3_ingest_sink;

typedef struct ms3_ingest_config {
    ms3_ingest_sink sink;
    size_t buffer_limit; /* BUFFER: larger bodies fail with error_code set */
    const char *tmp_dir; /* STORE: NULL = memory */
    uint64_t size_hint;  /* STORE: the payload length announced (0 = unknown): the
                            memory store allocates it up front */
    /* Checks done at the end. NULL / 0 when not requested. */
    const char *expect_sha256_hex;       /* x-amz-content-sha256 when it is a hash */
    const char *content_md5_b64;         /* Content-MD5 */
    bk_checksum_alg header_checksum_alg; /* an x-amz-checksum-<alg> header ... */
    const char *header_checksum_b64;     /* ... and its value */
    int want_checksum_alg;               /* compute this algorithm even without a header */
    bk_checksum_alg compute_alg;
    /* aws-chunked: mode != 0 enables the decoder. */
    bk_chunked_mode chunked_mode;
    bk_checksum_alg trailer_alg;
    int64_t decoded_length;
    bk_chunked_signing signing;
    /* How MD5 and SHA-256 are computed: the server's bk_md5sha256_choose
     * (0, AUTO, asks the CPU for each body). */
    bk_md5sha256_impl digests;
} ms3_ingest_config;

typedef struct ms3_ingest ms3_ingest;

/* NULL + err on a setup failure (not on bad input). */
ms3_ingest *ms3__ingest_new(const ms3_ingest_config *cfg, bk_err *err);
void ms3__ingest_free(ms3_ingest *in);
/* Feeds wire bytes. Returns 0, or -1 once the body is known bad (error set;
 * later feeds are counted and dropped). */
int ms3__ingest_feed(ms3_ingest *in, const void *data, size_t len);
/* End of body: runs the final checks. 0 when everything verified. */
int ms3__ingest_finish(ms3_ingest *in);

uint64_t ms3__ingest_wire_bytes(const ms3_ingest *in);
uint64_t ms3__ingest_payload_bytes(const ms3_ingest *in);
/* After a successful finish: */
const unsigned char *ms3__ingest_md5(const ms3_ingest *in); /* 16 bytes */
const char *ms3__ingest_sha256_hex(const ms3_ingest *in);
/* The verified or computed x-amz-checksum (trailer, header or compute_alg); NULL if none. */
const bk_checksum_digest *ms3__ingest_checksum(const ms3_ingest *in);
/* STORE: moves the written body out (once). */
int ms3__ingest_take_body(ms3_ingest *in, ms3_body *out, bk_err *err);
/* BUFFER: the collected bytes (NUL-terminated). */
const bk_buf *ms3__ingest_buffer(const ms3_ingest *in);

/* Failure, as S3 answers it. */
const char *ms3__ingest_error_code(const ms3_ingest *in); /* NULL = none */
const char *ms3__ingest_error_message(const ms3_ingest *in);
int ms3__ingest_error_status(const ms3_ingest *in);
/* Extra XML elements for the error (escaped), "" when none. */
const char *ms3__ingest_error_xml(const ms3_ingest *in);

#endif
