/* BK_TEST_UNIT
 * The response side of the request engine without a server: what a GET's
 * status and Content-Range must say before a byte reaches the sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "response.h"

static void ranged(s3_attempt *at, bk_s3_result *res, uint64_t first)
{
    memset(at, 0, sizeof *at);
    memset(res, 0, sizeof *res);
    at->res = res;
    at->ranged = 1;
    at->want_first = first;
}

static void a_wrong_content_range_is_refused_in_words(void **state)
{
    (void)state;
    s3_attempt at;
    bk_s3_result res;
    ranged(&at, &res, 32768); /* a resume: bytes 32768 to the end */
    at.status = 206;
    at.have_cr = at.cr_total_known = 1;
    at.cr_first = 0;
    at.cr_last = 99;
    at.cr_total = 100;
    assert_int_not_equal(bk__s3_check_get_response(&at), 0);
    if (strstr(at.proto_msg, "bytes 32768-") == NULL || strstr(at.proto_msg, "(end)0") != NULL)
        fail_msg("%s", at.proto_msg);
    /* A closed range prints both ends. */
    ranged(&at, &res, 100);
    at.want_has_last = 1;
    at.want_last = 3999;
    at.status = 206;
    at.have_cr = at.cr_total_known = 1;
    at.cr_first = 100;
    at.cr_last = 4999;
    at.cr_total = 5000;
    assert_int_not_equal(bk__s3_check_get_response(&at), 0);
    assert_non_null(strstr(at.proto_msg, "bytes 100-3999"));
}

static void the_range_asked_for_passes(void **state)
{
    (void)state;
    s3_attempt at;
    bk_s3_result res;
    ranged(&at, &res, 32768);
    at.status = 206;
    at.have_cr = at.cr_total_known = 1;
    at.cr_first = 32768;
    at.cr_last = 65535;
    at.cr_total = 65536;
    at.have_cl = 1;
    at.cl = 32768;
    assert_int_equal(bk__s3_check_get_response(&at), 0);
    assert_true(res.has_size);
    assert_int_equal(res.size, 65536);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_wrong_content_range_is_refused_in_words),
        cmocka_unit_test(the_range_asked_for_passes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
