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
