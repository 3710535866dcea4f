/* S3's XML in both directions, on expat (entities, CDATA and encodings are
 * where hand-written parsers break): error bodies, ListObjectsV2 pages,
 * multipart and copy results, DeleteObjects results; and the request bodies
 * of CompleteMultipartUpload and DeleteObjects.
 * Private to libbkcache's s3 layer (not installed). */
#ifndef BKCACHE_S3XML_H
#define BKCACHE_S3XML_H

#include <stddef.h>
#include <time.h>

#include "bkcache/buf.h"
#include "bkcache/error.h"
#include "bkcache/s3.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_s3xml_error {
    char code[64];
    char message[512];
    char request_id[128];
    char region[64]; /* <Region>, sent with some redirects */
} bk_s3xml_error;

/* 1 when xml (leading whitespace allowed) is an <Error> document, with its
 * fields copied out (truncated to fit): well-formed, or with an <Error>
 * element whose <Code> reads as plain text (S3 echoes a key's control
 * characters, which no XML parser accepts); 0 otherwise. */
int bk__s3xml_parse_error(const char *xml, size_t len, bk_s3xml_error *out);

/* Name of the root element, copied into out; 0 when not well-formed XML. */
int bk__s3xml_root(const char *xml, size_t len, char *out, size_t out_size);

/* ListBucketResult (ListObjectsV2) into page (cleared first). */
bk_code bk__s3xml_parse_list(const char *xml, size_t len, bk_s3_list_page *page, bk_err *err);

/* InitiateMultipartUploadResult: the UploadId (malloc'd). */
bk_code bk__s3xml_parse_initiate(const char *xml, size_t len, char **upload_id, bk_err *err);

/* CopyObjectResult, CopyPartResult, CompleteMultipartUploadResult: ETag and
 * LastModified (has_lm 0 when absent). root is the expected root element. */
bk_code bk__s3xml_parse_etag_result(const char *xml, size_t len, const char *root, char *etag,
                                    size_t etag_size, time_t *last_modified, int *has_lm,
                                    bk_err *err);

/* DeleteResult: appends <Error> entries to report->failures; *n_deleted gets
 * the number of <Deleted> entries (quiet mode sends none). */
bk_code bk__s3xml_parse_delete_result(const char *xml, size_t len, bk_s3_delete_report *report,
                                      size_t *n_deleted, bk_err *err);

/* <CompleteMultipartUpload> with the parts in the given order; a checksum
 * algorithm (not NONE) adds each part's <Checksum<ALG>>, e.g. <ChecksumCRC32>. */
int bk__s3xml_complete_body(bk_buf *out, const bk_s3_part *parts, size_t n,
                            bk_checksum_alg checksum);

/* <Delete><Quiet>true</Quiet><Object><Key>..</Key></Object>...</Delete>. */
int bk__s3xml_delete_body(bk_buf *out, const char *const *keys, size_t n);

/* Escapes & < > " ' and control characters as character references. */
int bk__s3xml_escape(bk_buf *out, const char *s);

#ifdef __cplusplus
}
#endif

#endif
