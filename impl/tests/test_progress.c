/* BK_TEST_UNIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/progress.h"

/* What a reporter of this style writes for a plan, a skipped blob and a
 * warning. */
static char *report(bk_progress_style style)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    bk_progress *p = bk_progress_new(out, style);
    assert_non_null(p);
    bk_progress_event plan = {.kind = BK_PROGRESS_PLAN, .count = 1, .size = 4096};
    bk_progress_event skip = {.kind = BK_PROGRESS_BLOB_SKIP, .digest = "sha256:aa", .size = 4096};
    bk_progress_event warn = {.kind = BK_PROGRESS_WARNING, .message = "slow down"};
    bk_progress_emit(p, &plan);
    bk_progress_emit(p, &skip);
    bk_progress_emit(p, &warn);
    bk_progress_free(p);
    fclose(out);
    return text;
}

static void quiet_writes_warnings_only(void **state)
{
    (void)state;
    char *text = report(BK_PROGRESS_QUIET);
    assert_string_equal(text, "warning: slow down\n");
    free(text);
}

static void plain_writes_every_event(void **state)
{
    (void)state;
    char *text = report(BK_PROGRESS_PLAIN);
    assert_string_equal(text, "checking 1 blobs (4.0 KiB)\n"
                              "skip  sha256:aa (present, fresh)\n"
                              "warning: slow down\n");
    free(text);
}

static void tty_counts_what_quiet_would_not_show(void **state)
{
    (void)state;
    char *text = report(BK_PROGRESS_TTY);
    /* The status line after the warning still counts the skipped blob. */
    assert_non_null(strstr(text, "warning: slow down\n\r\033[K[1/1 blobs] 4.0 KiB / 4.0 KiB"));
    free(text);
}

static void shows_says_which_events_write(void **state)
{
    (void)state;
    bk_progress *quiet = bk_progress_new(stderr, BK_PROGRESS_QUIET);
    bk_progress *plain = bk_progress_new(stderr, BK_PROGRESS_PLAIN);
    bk_progress *tty = bk_progress_new(stderr, BK_PROGRESS_TTY);
    assert_false(bk_progress_shows(quiet, BK_PROGRESS_BLOB_SKIP));
    assert_false(bk_progress_shows(quiet, BK_PROGRESS_MANIFEST));
    assert_true(bk_progress_shows(quiet, BK_PROGRESS_WARNING));
    assert_true(bk_progress_shows(plain, BK_PROGRESS_BLOB_SKIP));
    assert_true(bk_progress_shows(tty, BK_PROGRESS_BLOB_START));
    assert_false(bk_progress_shows(NULL, BK_PROGRESS_WARNING));
    bk_progress_free(quiet);
    bk_progress_free(plain);
    bk_progress_free(tty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quiet_writes_warnings_only),
        cmocka_unit_test(plain_writes_every_event),
        cmocka_unit_test(tty_counts_what_quiet_would_not_show),
        cmocka_unit_test(shows_says_which_events_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
