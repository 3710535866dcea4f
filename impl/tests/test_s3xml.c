/* BK_TEST_UNIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3xml.h"

#define S(x) x, strlen(x)

static void error_bodies(void **state)
{
    (void)state;
    bk_s3xml_error e;
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                      "<Message>The specified key does not exist.</Message>"
                      "<Key>blobs/sha256:ab</Key><RequestId>4442587FB7D0A2F9</RequestId>"
                      "<HostId>x</HostId></Error>";
    assert_int_equal(bk__s3xml_parse_error(S(xml), &e), 1);
    assert_string_equal(e.code, "NoSuchKey");
    assert_string_equal(e.message, "The specified key does not exist.");
    assert_string_equal(e.request_id, "4442587FB7D0A2F9");

    /* Entities and CDATA are decoded; leading whitespace (S3 keep-alive) is fine. */
    const char *ent = "  \n <Error><Code>SlowDown</Code><Message>a &amp; b &lt;c&gt; "
                      "<![CDATA[<raw>]]> &#233;</Message></Error>";
    assert_int_equal(bk__s3xml_parse_error(S(ent), &e), 1);
    assert_string_equal(e.code, "SlowDown");
    assert_string_equal(e.message, "a & b <c> <raw> \xc3\xa9");

    /* A nested <Error> (DeleteResult) or another root is not an error document. */
    assert_int_equal(bk__s3xml_parse_error(S("<DeleteResult><Error><Code>X</Code></Error>"
                                             "</DeleteResult>"),
                                           &e),
                     0);
    assert_int_equal(
        bk__s3xml_parse_error(S("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>"), &e), 0);
    assert_int_equal(bk__s3xml_parse_error(S("<Error><Code>trunc"), &e), 0);

    /* S3 echoes a key's control characters, which no XML parser takes (not
     * even as &#x1b;): the document is still S3's answer, read as text. */
    const char *ctl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                      "<Message>The specified key does not exist.</Message>"
                      "<Key>manifests/\x1b[1mbold</Key><RequestId>0001</RequestId></Error>";
    assert_int_equal(bk__s3xml_parse_error(S(ctl), &e), 1);
    assert_string_equal(e.code, "NoSuchKey");
    assert_string_equal(e.message, "The specified key does not exist.");
    assert_string_equal(e.request_id, "0001");
    /* ...but only with an <Error> and a plain <Code>. */
    assert_int_equal(bk__s3xml_parse_error(S("<html><Code>NoSuchKey</Code>\x1b</html>"), &e), 0);
    assert_int_equal(bk__s3xml_parse_error(S("<Error><Code>No<b>SuchKey</Code>\x1b</Error>"), &e),
                     0);
    assert_int_equal(bk__s3xml_parse_error(S("not xml"), &e), 0);
    assert_int_equal(bk__s3xml_parse_error(NULL, 0, &e), 0);

    char root[32];
    assert_int_equal(bk__s3xml_root(S("<?xml version=\"1.0\"?><A><B/></A>"), root, sizeof root), 1);
    assert_string_equal(root, "A");
}

static void list_pages(void **state)
{
    (void)state;
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</NextContinuationToken>"
        "<Contents><Key>p/a &amp; b</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>p/caf\xc3\xa9</Key><LastModified>2024-01-01T00:00:00Z</LastModified>"
        "<ETag>\"x-2\"</ETag><Size>0</Size><Owner><ID>o</ID></Owner></Contents>"
        "<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
        "</ListBucketResult>";
    bk_s3_list_page page;
    bk_err err = {0};
    assert_int_equal(bk__s3xml_parse_list(S(xml), &page, &err), BK_OK);
    assert_int_equal(page.n_objects, 2);
    assert_string_equal(page.objects[0].key, "p/a & b");
    assert_int_equal(page.objects[0].size, 434234);
    assert_int_equal(page.objects[0].last_modified, 1255369830);
    assert_string_equal(page.objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
    assert_string_equal(page.objects[1].key, "p/caf\xc3\xa9");
    assert_int_equal(page.n_prefixes, 1);
    assert_string_equal(page.common_prefixes[0], "p/d/");
    assert_true(page.is_truncated);
    assert_string_equal(page.next_continuation_token, "tok/+=");
    bk_s3_list_page_clear(&page);

    /* Many entries (array growth). */
    bk_buf big = BK_BUF_INIT;
    bk_buf_puts(&big, "<ListBucketResult><IsTruncated>false</IsTruncated>");
    for (int i = 0; i < 1000; i++)
        bk_buf_printf(&big, "<Contents><Key>k%04d</Key><Size>%d</Size></Contents>", i, i);
    bk_buf_puts(&big, "</ListBucketResult>");
    assert_int_equal(bk__s3xml_parse_list(big.data, big.len, &page, &err), BK_OK);
    assert_int_equal(page.n_objects, 1000);
    assert_string_equal(page.objects[999].key, "k0999");
    assert_int_equal(page.objects[999].size, 999);
    assert_false(page.is_truncated);
    bk_s3_list_page_clear(&page);
    bk_buf_clear(&big);

    const char *bad[] = {
        "<ListBucketResult><Contents><Key>a</Key><Size>12x</Size></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<Other/>",
        "<ListBucketResult><Contents><Key>a</Key>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bk__s3xml_parse_list(S(bad[i]), &page, &err), BK_EPROTO);
        assert_null(page.objects);
    }
}

/* Element names are kept without an allocation each: one longer than any
 * S3 name matches nothing (here one named like Contents with a long tail,
 * and one wrapping a Key), the names around it are still tracked, and an
 * ETag longer than its field is cut, not overrun. */
static void list_names_long_and_etags_cut(void **state)
{
    (void)state;
    bk_buf xml = BK_BUF_INIT;
    bk_buf_puts(&xml, "<ListBucketResult><IsTruncated>false</IsTruncated>"
                      "<ContentsContentsContentsContentsContentsContentsContents>"
                      "<Key>not-an-object</Key><Size>1</Size>"
                      "</ContentsContentsContentsContentsContentsContentsContents>"
                      "<Contents><Key>k</Key>");
    bk_buf_puts(&xml, "<AnElementNameLongerThanAnyS3ResponseEverUsesXYZ><Key>inner</Key>"
                      "</AnElementNameLongerThanAnyS3ResponseEverUsesXYZ><ETag>");
    for (int i = 0; i < 300; i++)
        bk_buf_putc(&xml, (char)('a' + i % 26));
    bk_buf_puts(&xml, "</ETag><Size>7</Size></Contents></ListBucketResult>");
    bk_s3_list_page page;
    bk_err err = {0};
    assert_int_equal(bk__s3xml_parse_list(xml.data, xml.len, &page, &err), BK_OK);
    assert_int_equal(page.n_objects, 1);
    assert_string_equal(page.objects[0].key, "k");
    assert_int_equal(page.objects[0].size, 7);
    assert_int_equal(strlen(page.objects[0].etag), sizeof page.objects[0].etag - 1);
    assert_memory_equal(page.objects[0].etag, "abcdefghijklmnopqrstuvwxyzabc", 29);
    bk_s3_list_page_clear(&page);
    bk_buf_clear(&xml);
}

static void multipart_and_copy_results(void **state)
{
    (void)state;
    bk_err err = {0};
    char *id = NULL;
    assert_int_equal(bk__s3xml_parse_initiate(
                         S("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                           "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>"),
                         &id, &err),
                     BK_OK);
    assert_string_equal(id, "VXBsb2FkIElE");
    free(id);
    assert_int_equal(bk__s3xml_parse_initiate(S("<InitiateMultipartUploadResult/>"), &id, &err),
                     BK_EPROTO);
    assert_null(id);

    char etag[64];
    time_t lm;
    int has_lm;
    assert_int_equal(bk__s3xml_parse_etag_result(
                         S("<CopyObjectResult><LastModified>2009-10-28T22:32:00Z</LastModified>"
                           "<ETag>\"9b2cf535f27731c974343645a3985328\"</ETag></CopyObjectResult>"),
                         "CopyObjectResult", etag, sizeof etag, &lm, &has_lm, &err),
                     BK_OK);
    assert_string_equal(etag, "\"9b2cf535f27731c974343645a3985328\"");
    assert_true(has_lm);
    assert_int_equal(lm, 1256769120);
    /* The wrong root, e.g. an <Error> inside a 200, is not a result. */
    assert_int_equal(bk__s3xml_parse_etag_result(S("<Error><Code>InternalError</Code></Error>"),
                                                 "CompleteMultipartUploadResult", etag, sizeof etag,
                                                 NULL, NULL, &err),
                     BK_EPROTO);

    bk_s3_delete_report rep;
    memset(&rep, 0, sizeof rep);
    size_t deleted = 0;
    assert_int_equal(bk__s3xml_parse_delete_result(
                         S("<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b&amp;c</Key>"
                           "<Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                           "</DeleteResult>"),
                         &rep, &deleted, &err),
                     BK_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(rep.n_failures, 1);
    assert_string_equal(rep.failures[0].key, "b&c");
    assert_string_equal(rep.failures[0].code, "AccessDenied");
    bk_s3_delete_report_clear(&rep);
}

static void request_bodies(void **state)
{
    (void)state;
    bk_s3_part parts[2] = {{1, "\"e1\"", "AAAAAA=="}, {2, "\"e2\"", "BBBBBB=="}};
    bk_buf b = BK_BUF_INIT;
    bk__s3xml_complete_body(&b, parts, 2, BK_CHECKSUM_NONE);
    assert_string_equal(
        bk_buf_str(&b),
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber></Part>"
        "<Part><ETag>&quot;e2&quot;</ETag><PartNumber>2</PartNumber></Part>"
        "</CompleteMultipartUpload>");
    bk_buf_reset(&b);
    bk__s3xml_complete_body(&b, parts, 1, BK_CHECKSUM_CRC32);
    assert_non_null(strstr(bk_buf_str(&b), "<ChecksumCRC32>AAAAAA==</ChecksumCRC32>"));
    bk_buf_reset(&b);
    bk__s3xml_complete_body(&b, parts, 1, BK_CHECKSUM_SHA256);
    assert_non_null(strstr(bk_buf_str(&b), "<ChecksumSHA256>AAAAAA==</ChecksumSHA256>"));
    bk_buf_reset(&b);
    const char *keys[] = {"a<b>&'\"", "x\x01y"};
    bk__s3xml_delete_body(&b, keys, 2);
    assert_string_equal(
        bk_buf_str(&b),
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        "<Object><Key>a&lt;b&gt;&amp;&apos;&quot;</Key></Object>"
        "<Object><Key>x&#x1;y</Key></Object></Delete>");
    bk_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_bodies),
        cmocka_unit_test(list_pages),
        cmocka_unit_test(list_names_long_and_etags_cut),
        cmocka_unit_test(multipart_and_copy_results),
        cmocka_unit_test(request_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
