/* BK_TEST_UNIT
 * S3's two date formats: ISO 8601 (XML) and RFC 7231 (Last-Modified). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "s3time.h"

static void dates(void **state)
{
    (void)state;
    time_t t;
    assert_int_equal(bk__s3_parse_iso8601("2009-10-12T17:50:30.000Z", &t), 0);
    assert_int_equal(t, 1255369830);
    assert_int_equal(bk__s3_parse_iso8601("2009-10-12T17:50:30Z", &t), 0);
    assert_int_equal(t, 1255369830);
    assert_int_not_equal(bk__s3_parse_iso8601("2009-13-12T17:50:30Z", &t), 0);
    assert_int_not_equal(bk__s3_parse_iso8601("yesterday", &t), 0);
    assert_int_not_equal(bk__s3_parse_iso8601("2009-10-12T17:50:30Zjunk", &t), 0);
    /* Forms other than S3's own are read as sscanf always read them. */
    static const char *const same[] = {" 2009-10-12T17:50:30Z", "2009-10-12T17:50:30",
                                       "2009-10-12T17:50:30.123456", "2009-10-12T17:50:30.000Z"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        t = 0;
        assert_int_equal(bk__s3_parse_iso8601(same[i], &t), 0);
        assert_int_equal(t, 1255369830);
    }
    assert_int_equal(bk__s3_parse_iso8601("2009-1-2T3:4:5Z", &t), 0);
    assert_int_equal(t, 1230865445);
    static const char *const refused[] = {"2009-10-12T17:50:3xZ",
                                          "2009-10-12T17:50:30+01:00",
                                          "2009-10-12 17:50:30Z",
                                          "2009-10-12T17:50",
                                          "",
                                          "2009-10-12T24:00:00Z"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_int_not_equal(bk__s3_parse_iso8601(refused[i], &t), 0);
    assert_int_equal(bk__s3_parse_http_date("Mon, 12 Oct 2009 17:50:30 GMT", &t), 0);
    assert_int_equal(t, 1255369830);
    assert_int_equal(bk__s3_parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 0);
    assert_int_not_equal(bk__s3_parse_http_date("Mon, 12 Foo 2009 17:50:30 GMT", &t), 0);
    assert_int_not_equal(bk__s3_parse_http_date("", &t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
