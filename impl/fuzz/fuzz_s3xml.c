/* The S3 XML the client parses from a server it does not control: error
 * documents, ListObjectsV2 pages, multipart initiate/complete and copy
 * results, DeleteObjects results, and the dates inside them. Input: byte 0
 * picks the parser, the rest is the document. */
#include "fuzz_target.h"

#include "s3time.h"
#include "s3xml.h"

BK_FUZZ_TARGET(s3xml)
{
    if (size < 1)
        return 0;
    const char *xml = (const char *)data + 1;
    size_t len = size - 1;
    bk_err err;
    switch (data[0] % 7) {
    case 0: {
        bk_s3xml_error e;
        if (bk__s3xml_parse_error(xml, len, &e) &&
            (strnlen(e.code, sizeof e.code) == sizeof e.code ||
             strnlen(e.message, sizeof e.message) == sizeof e.message))
            bk_fuzz_fail("error fields not NUL-terminated");
        break;
    }
    case 1: {
        char root[64];
        (void)bk__s3xml_root(xml, len, root, sizeof root);
        break;
    }
    case 2: {
        bk_s3_list_page page;
        memset(&page, 0, sizeof page);
        if (bk__s3xml_parse_list(xml, len, &page, &err) == BK_OK) {
            for (size_t i = 0; i < page.n_objects; i++)
                if (page.objects[i].key == NULL)
                    bk_fuzz_fail("listed object without a key");
        }
        bk_s3_list_page_clear(&page);
        break;
    }
    case 3: {
        char *upload_id = NULL;
        if (bk__s3xml_parse_initiate(xml, len, &upload_id, &err) == BK_OK && upload_id == NULL)
            bk_fuzz_fail("initiate succeeded without an upload id");
        free(upload_id);
        break;
    }
    case 4:
    case 5: {
        static const char *const roots[] = {"CopyObjectResult", "CompleteMultipartUploadResult"};
        char etag[128];
        time_t lm;
        int has_lm = 0;
        (void)bk__s3xml_parse_etag_result(xml, len, roots[data[0] % 7 - 4], etag, sizeof etag, &lm,
                                          &has_lm, &err);
        break;
    }
    default: {
        bk_s3_delete_report report;
        memset(&report, 0, sizeof report);
        size_t deleted = 0;
        (void)bk__s3xml_parse_delete_result(xml, len, &report, &deleted, &err);
        bk_s3_delete_report_clear(&report);
        char *s = bk_fuzz_cstr((const uint8_t *)xml, len);
        if (s != NULL) {
            time_t t;
            (void)bk__s3_parse_iso8601(s, &t);
            (void)bk__s3_parse_http_date(s, &t);
            bk_buf b = BK_BUF_INIT;
            (void)bk__s3xml_escape(&b, s);
            bk_buf_clear(&b);
            free(s);
        }
        break;
    }
    }
    return 0;
}
