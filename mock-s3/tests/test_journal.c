/* BK_TEST_UNIT
 * The journal on its own: the ring keeps the newest `max` entries and counts
 * the dropped ones, the file still gets the line of an entry that left
 * memory (dropped, or cleared by a reset) before its request finished, and
 * a query's limit keeps the newest matching entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "ms3_test.h"

static ms3_journal_entry entry(const char *key)
{
    ms3_journal_entry e;
    memset(&e, 0, sizeof(e));
    snprintf(e.method, sizeof(e.method), "GET");
    e.bucket = strdup("bkt");
    e.key = strdup(key);
    e.query = strdup("");
    e.headers_json = strdup("{\"x\":\"short\"}");
    e.error_message = strdup("");
    return e;
}

static uint64_t append(ms3_journal *j, const char *key, const char *file_headers)
{
    ms3_journal_entry e = entry(key);
    uint64_t seq = ms3__journal_append(j, &e, file_headers != NULL ? strdup(file_headers) : NULL);
    assert_true(seq > 0);
    return seq;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int lines_of(const char *text)
{
    return ms3t_count(text, "\n");
}

static void test_ring_keeps_the_newest(void **state)
{
    (void)state;
    bk_err err;
    ms3_journal *j = ms3__journal_new(NULL, 3, &err);
    assert_non_null(j);
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        uint64_t seq = append(j, key, NULL);
        ms3__journal_finish(j, seq, 200, 0, 0.0, NULL);
    }
    ms3_journal_stats st;
    ms3__journal_stats_get(j, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.max, 3);
    assert_int_equal(st.dropped, 997);
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3__journal_query(j, NULL, &e), 3);
    assert_string_equal(e[0].key, "k997");
    assert_string_equal(e[2].key, "k999");
    assert_int_equal(e[2].seq, 1000);
    ms3_journal_entries_free(e, 3);
    ms3__journal_clear(j);
    ms3__journal_stats_get(j, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.dropped, 0);
    ms3__journal_free(j);

    j = ms3__journal_new(NULL, 0, &err);
    ms3__journal_stats_get(j, &st);
    assert_int_equal(st.max, MS3_JOURNAL_MAX_DEFAULT);
    ms3__journal_free(j);
}

static void test_file_misses_nothing(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
    bk_err err;
    ms3_journal *j = ms3__journal_new(path, 2, &err);
    assert_non_null(j);
    /* Three requests in flight: the first leaves the ring before it finishes. */
    uint64_t a = append(j, "a", "{\"x\":\"the whole header\"}");
    uint64_t b = append(j, "b", NULL);
    uint64_t c = append(j, "c", NULL);
    ms3_journal_stats st;
    ms3__journal_stats_get(j, &st);
    assert_int_equal(st.dropped, 1);
    ms3__journal_finish(j, b, 200, 1, 0.1, NULL);
    ms3__journal_finish(j, a, 503, 0, 0.2, "cut");
    /* A reset while c is in flight. */
    ms3__journal_clear(j);
    ms3__journal_finish(j, c, 204, 0, 0.3, NULL);
    uint64_t d = append(j, "d", NULL);
    ms3__journal_finish(j, d, 200, 0, 0.4, NULL);
    ms3__journal_finish(j, 12345, 200, 0, 0.5, NULL); /* unknown: nothing happens */

    const char *text = read_all(path);
    assert_int_equal(lines_of(text), 4);
    assert_non_null(strstr(text, "\"key\":\"a\""));
    assert_non_null(strstr(text, "the whole header")); /* the file's headers */
    assert_non_null(strstr(text, "\"status\":503"));
    assert_non_null(strstr(text, "\"key\":\"c\""));
    assert_non_null(strstr(text, "\"status\":204"));
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3__journal_query(j, NULL, &e), 1);
    assert_string_equal(e[0].key, "d");
    assert_string_equal(e[0].headers_json, "{\"x\":\"short\"}"); /* memory's headers */
    ms3_journal_entries_free(e, 1);
    ms3__journal_free(j);
    ms3t_rmtree(dir);
    free(dir);
}

/* limit: the newest matching entries, in query, count and JSON alike. */
static void test_limit_keeps_the_newest(void **state)
{
    (void)state;
    bk_err err;
    ms3_journal *j = ms3__journal_new(NULL, 0, &err);
    assert_non_null(j);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%s%d", i % 2 ? "odd/" : "even/", i);
        ms3__journal_finish(j, append(j, key, NULL), 200, 0, 0.0, NULL);
    }
    ms3_journal_filter f;
    memset(&f, 0, sizeof(f));
    f.limit = 3;
    ms3_journal_entry *e = NULL;
    assert_int_equal(ms3__journal_query(j, &f, &e), 3);
    assert_string_equal(e[0].key, "odd/7");
    assert_string_equal(e[1].key, "even/8");
    assert_string_equal(e[2].key, "odd/9");
    ms3_journal_entries_free(e, 3);
    f.key_prefix = "even/";
    assert_int_equal(ms3__journal_count(j, &f), 3);
    char *json = ms3__journal_json(j, &f, NULL);
    assert_non_null(json);
    assert_null(strstr(json, "\"even/2\""));
    assert_non_null(strstr(json, "\"even/4\""));
    assert_non_null(strstr(json, "\"even/8\""));
    free(json);
    f.limit = 100; /* more than there are: all of them */
    assert_int_equal(ms3__journal_count(j, &f), 5);
    f.since_seq = 8; /* since and limit together */
    f.key_prefix = NULL;
    f.limit = 1;
    assert_int_equal(ms3__journal_query(j, &f, &e), 1);
    assert_int_equal(e[0].seq, 10);
    ms3_journal_entries_free(e, 1);
    ms3__journal_free(j);
}

/* Entries still in flight when the journal goes are freed with it. */
static void test_free_with_entries_in_flight(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
    bk_err err;
    ms3_journal *j = ms3__journal_new(path, 1, &err);
    assert_non_null(j);
    append(j, "a", "{}");
    append(j, "b", "{}");
    ms3__journal_clear(j);
    append(j, "c", NULL);
    ms3__journal_free(j);
    ms3t_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_keeps_the_newest),
        cmocka_unit_test(test_file_misses_nothing),
        cmocka_unit_test(test_free_with_entries_in_flight),
        cmocka_unit_test(test_limit_keeps_the_newest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
