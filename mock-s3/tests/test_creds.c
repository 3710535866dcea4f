/* BK_TEST_UNIT: the credentials registry: keys added by hand stay, issued
 * temporary ones are pruned once past their grace period, and never more
 * than MS3_ISSUED_MAX are kept, so a client assuming roles in a loop holds
 * the mock's memory bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "creds.h"

static void issue(ms3_creds *c, size_t i, int64_t expires, int64_t now)
{
    char akid[32];
    snprintf(akid, sizeof akid, "ASIAISSUED%010zu", i);
    bk_err err;
    assert_int_equal(
        ms3__creds_add_issued(c, akid, "issued-secret", "issued-token", expires, now, &err), BK_OK);
}

static int known(ms3_creds *c, const char *akid)
{
    ms3_cred cr;
    int found = ms3__creds_lookup(c, akid, &cr);
    ms3__cred_clear(&cr);
    return found;
}

/* Time moves: each credential lasts 900 s, one is issued every 600 s. */
static void expired_ones_go_after_the_grace(void **state)
{
    (void)state;
    ms3_creds *c = ms3__creds_new();
    bk_err err;
    assert_int_equal(ms3__creds_add(c, "AKIABYHAND0000000001", "by-hand", NULL, &err), BK_OK);
    assert_int_equal(ms3__creds_set_expiry(c, "AKIABYHAND0000000001", 1000, &err), BK_OK);
    int64_t now = 1000000;
    for (size_t i = 0; i < 1000; i++, now += 600)
        issue(c, i, now + 900, now);
    /* Alive or within the hour of grace: (900 + 3600) / 600 rounds up to 8. */
    assert_true(ms3__creds_count(c) <= 1 + 8);
    assert_true(known(c, "AKIABYHAND0000000001"));
    assert_true(known(c, "ASIAISSUED0000000999"));
    assert_false(known(c, "ASIAISSUED0000000000"));
    /* Just expired, still known: S3 answers ExpiredToken for it. */
    char akid[32];
    snprintf(akid, sizeof akid, "ASIAISSUED%010d", 998);
    assert_true(known(c, akid));
    ms3__creds_free(c);
}

/* Time stands still: the cap holds, the soonest to expire going first. */
static void a_loop_without_time_stays_capped(void **state)
{
    (void)state;
    ms3_creds *c = ms3__creds_new();
    for (size_t i = 0; i < MS3_ISSUED_MAX + 500; i++)
        issue(c, i, 5000 + (int64_t)i, 1000);
    assert_int_equal(ms3__creds_count(c), MS3_ISSUED_MAX);
    assert_false(known(c, "ASIAISSUED0000000499"));
    char akid[32];
    snprintf(akid, sizeof akid, "ASIAISSUED%010d", MS3_ISSUED_MAX + 499);
    assert_true(known(c, akid));
    ms3__creds_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expired_ones_go_after_the_grace),
        cmocka_unit_test(a_loop_without_time_stays_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
