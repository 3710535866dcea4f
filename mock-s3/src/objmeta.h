/* Object metadata: what S3 keeps beside the bytes, and its JSON form in the data dir. */
#ifndef MS3_OBJMETA_H
#define MS3_OBJMETA_H

#include <stddef.h>
#include <stdint.h>

#include "bkcache/sigv4.h"

typedef struct ms3_pair {
    char *name;
    char *value;
} ms3_pair;

typedef struct ms3_objmeta {
    uint64_t size;
    char etag[80]; /* quoted */
    int64_t last_modified_ms;
    char *content_type;
    ms3_pair *user; /* x-amz-meta-* names, lower-case, without the prefix */
    size_t n_user;
    ms3_pair *headers; /* stored representation headers: Content-Encoding, Cache-Control... */
    size_t n_headers;
    char *checksum_algo;  /* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" or NULL */
    char *checksum_value; /* base64 */
    int parts_count;      /* > 0 for objects made by CompleteMultipartUpload */
} ms3_objmeta;

void ms3__objmeta_init(ms3_objmeta *m);
void ms3__objmeta_clear(ms3_objmeta *m);
int ms3__objmeta_copy(ms3_objmeta *dst, const ms3_objmeta *src);
int ms3__objmeta_add_user(ms3_objmeta *m, const char *name, const char *value);
int ms3__objmeta_add_header(ms3_objmeta *m, const char *name, const char *value);
const char *ms3__objmeta_header(const ms3_objmeta *m, const char *name);

/* JSON for the data dir's .meta files (key included). NULL on failure / bad input. */
char *ms3__objmeta_to_json(const char *key, const ms3_objmeta *m, int zero_body);
/* Parses what ms3__objmeta_to_json wrote; *key is malloc'ed. -1 when malformed. */
int ms3__objmeta_from_json(const char *text, char **key, ms3_objmeta *m, int *zero_body);
/* {"name":"value",...} of the user metadata (malloc'ed). */
char *ms3__objmeta_user_json(const ms3_objmeta *m);

/* From a request's headers: Content-Type, x-amz-meta-* and the stored
 * representation headers (Content-Encoding without aws-chunked). -1: no memory. */
int ms3__objmeta_from_headers(ms3_objmeta *meta, const bk_sigv4_header *h, size_t n);
/* The quoted ETag S3 gives the MD5 of a body. */
void ms3__format_etag(const unsigned char md5[16], char out[80]);
/* Parses x-amz-copy-source ("/bucket/key?versionId=x", URL-encoded or not,
 * leading slash optional) into bucket and key (decoded); -1 = InvalidArgument. */
int ms3__parse_copy_source(const char *value, char **bucket, char **key);

#endif
