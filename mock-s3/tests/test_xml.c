/* BK_TEST_UNIT: S3 XML escaping and the request documents the mock parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errors.h"
#include "xml.h"

static void test_escape(void **state)
{
    (void)state;
    bk_buf b = BK_BUF_INIT;
    ms3__xml_elem(&b, "Key", "a<b>&\"c'\x01\n");
    assert_string_equal(bk_buf_str(&b), "<Key>a&lt;b&gt;&amp;&quot;c&apos;&#1;\n</Key>");
    bk_buf_clear(&b);
}

/* Runs of plain text around escapes: at the start, the end, back to back,
 * none at all; every control character as a reference. */
static void test_escape_runs(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", "<E></E>"},
        {"plain/key-1.tar", "<E>plain/key-1.tar</E>"},
        {"&start", "<E>&amp;start</E>"},
        {"end>", "<E>end&gt;</E>"},
        {"<<>>", "<E>&lt;&lt;&gt;&gt;</E>"},
        {"a\x1f\tb\rc", "<E>a&#31;\tb&#13;c</E>"},
        {"\"quoted-etag\"", "<E>&quot;quoted-etag&quot;</E>"},
        {"\xc3\xa9t\xc3\xa9", "<E>\xc3\xa9t\xc3\xa9</E>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_buf b = BK_BUF_INIT;
        ms3__xml_elem(&b, "E", cases[i].in);
        assert_string_equal(bk_buf_str(&b), cases[i].out);
        bk_buf_clear(&b);
    }
    bk_buf b = BK_BUF_INIT;
    ms3__xml_elem_u64(&b, "Size", 0);
    ms3__xml_elem_u64(&b, "Size", 18446744073709551615ULL);
    ms3__xml_elem(&b, "Null", NULL);
    assert_string_equal(bk_buf_str(&b),
                        "<Size>0</Size><Size>18446744073709551615</Size><Null></Null>");
    bk_buf_clear(&b);
}

/* The listing's timestamps against the printf form they replace, over
 * instants from before 1970 to the year 9999 and past it. */
static void test_iso8601_ms(void **state)
{
    (void)state;
    const int64_t fixed[] = {0,
                             -1,
                             -1000,
                             1,
                             999,
                             1000,
                             951782400000LL /* 2000-02-29 */,
                             253402300799999LL /* 9999-12-31T23:59:59.999 */,
                             253402300800000LL /* year 10000 */};
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < 2000 + sizeof fixed / sizeof fixed[0]; i++) {
        int64_t ms;
        if (i < sizeof fixed / sizeof fixed[0]) {
            ms = fixed[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms = (int64_t)(x % 253402300800000ULL) - 86400000LL;
        }
        int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        char want[64], got[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - secs * 1000));
        ms3__time_iso8601_ms(ms, got, sizeof got);
        assert_string_equal(got, want);
    }
    char small[10];
    ms3__time_iso8601_ms(0, small, sizeof small);
    assert_string_equal(small, "1970-01-0");
}

static void test_complete(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Part><ETag>&quot;aa&quot;</ETag><PartNumber>1</PartNumber></Part>"
                      "<Part><PartNumber>2</PartNumber><ETag>\"bb\"</ETag>"
                      "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
                      "</CompleteMultipartUpload>";
    ms3_complete_req c;
    assert_int_equal(ms3__xml_parse_complete(doc, strlen(doc), &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.parts[0].number, 1);
    assert_string_equal(c.parts[0].etag, "\"aa\"");
    assert_null(c.parts[0].checksum_name);
    assert_int_equal(c.parts[1].number, 2);
    assert_string_equal(c.parts[1].checksum_name, "ChecksumCRC32");
    assert_string_equal(c.parts[1].checksum_value, "AAAAAA==");
    ms3__complete_req_clear(&c);

    const char *bad[] = {
        "<CompleteMultipartUpload><Part>",                        /* truncated */
        "<Other><Part><PartNumber>1</PartNumber></Part></Other>", /* wrong root */
        "<CompleteMultipartUpload></CompleteMultipartUpload>",    /* no parts */
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
        "<CompleteMultipartUpload><Part><ETag>&e;</ETag></Part></CompleteMultipartUpload>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ms3__xml_parse_complete(bad[i], strlen(bad[i]), &c), -1);
    const char *nan = "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag>"
                      "</Part></CompleteMultipartUpload>";
    assert_int_equal(ms3__xml_parse_complete(nan, strlen(nan), &c), 0);
    assert_int_equal(c.parts[0].number, -1);
    ms3__complete_req_clear(&c);
}

static void test_delete(void **state)
{
    (void)state;
    const char *doc = "<Delete><Quiet>true</Quiet><Object><Key>a &amp; b</Key></Object>"
                      "<Object><Key>c</Key><VersionId>v</VersionId></Object></Delete>";
    ms3_delete_req d;
    assert_int_equal(ms3__xml_parse_delete(doc, strlen(doc), &d), 0);
    assert_int_equal(d.n, 2);
    assert_true(d.quiet);
    assert_string_equal(d.keys[0], "a & b");
    assert_string_equal(d.keys[1], "c");
    ms3__delete_req_clear(&d);
    const char *nokey = "<Delete><Object></Object></Delete>";
    assert_int_equal(ms3__xml_parse_delete(nokey, strlen(nokey), &d), -1);
}

static void test_errors_and_time(void **state)
{
    (void)state;
    assert_int_equal(ms3__error_status("NoSuchKey"), 404);
    assert_int_equal(ms3__error_status("SlowDown"), 503);
    assert_int_equal(ms3__error_status("InvalidRange"), 416);
    assert_int_equal(ms3__error_status("MissingContentLength"), 411);
    assert_int_equal(ms3__error_status("SomethingNew"), 400);
    assert_string_equal(ms3__error_code_for_status(500), "InternalError");
    char buf[64];
    ms3__time_rfc1123(1369353600, buf, sizeof(buf));
    assert_string_equal(buf, "Fri, 24 May 2013 00:00:00 GMT");
    ms3__time_iso8601_ms(1369353600123LL, buf, sizeof(buf));
    assert_string_equal(buf, "2013-05-24T00:00:00.123Z");
    assert_int_equal(ms3__time_parse_amz("20130524T000000Z"), 1369353600);
    assert_int_equal(ms3__time_parse_amz("20130524T000000"), -1);
    assert_int_equal(ms3__time_parse_amz("2013052XT000000Z"), -1);
    assert_int_equal(ms3__time_parse_rfc1123("Fri, 24 May 2013 00:00:00 GMT"), 1369353600);
    assert_int_equal(ms3__time_parse_rfc1123("yesterday"), -1);
    ms3_clock c;
    ms3__clock_init(&c, 100);
    int64_t a = ms3__clock_now(&c);
    ms3__clock_set_offset(&c, -100);
    assert_true(a - ms3__clock_now(&c) >= 199);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),     cmocka_unit_test(test_escape_runs),
        cmocka_unit_test(test_iso8601_ms), cmocka_unit_test(test_complete),
        cmocka_unit_test(test_delete),     cmocka_unit_test(test_errors_and_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
