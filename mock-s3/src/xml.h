/* S3 XML: building responses and parsing the two request bodies the mock reads
 * (CompleteMultipartUpload and DeleteObjects) with expat. */
#ifndef MS3_XML_H
#define MS3_XML_H

#include <stddef.h>

#include "bkcache/buf.h"

#define MS3_XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define MS3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

void ms3__xml_escape(bk_buf *b, const char *s);
/* <name> and </name> */
void ms3__xml_open(bk_buf *b, const char *name);
void ms3__xml_close(bk_buf *b, const char *name);
/* <name>escaped text</name> */
void ms3__xml_elem(bk_buf *b, const char *name, const char *text);
void ms3__xml_elem_u64(bk_buf *b, const char *name, unsigned long long v);

typedef struct ms3_complete_part {
    long number;         /* -1 when missing or not a number */
    char *etag;          /* as sent (may be quoted or not); NULL when missing */
    char *checksum_name; /* e.g. "ChecksumCRC32" when one was given, else NULL */
    char *checksum_value;
} ms3_complete_part;

typedef struct ms3_complete_req {
    ms3_complete_part *parts;
    size_t n;
} ms3_complete_req;

typedef struct ms3_delete_req {
    char **keys;
    size_t n;
    int quiet;
} ms3_delete_req;

/* Both return 0, or -1 when the body is not the expected document (MalformedXML). */
int ms3__xml_parse_complete(const char *data, size_t len, ms3_complete_req *out);
void ms3__complete_req_clear(ms3_complete_req *r);
int ms3__xml_parse_delete(const char *data, size_t len, ms3_delete_req *out);
void ms3__delete_req_clear(ms3_delete_req *r);

#endif
