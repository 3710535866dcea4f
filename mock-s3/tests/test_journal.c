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

/* An entry whose headers are {"x": header_x}, kept as a request's are; or
 * its ready-made {"x":"short"} when header_x is NULL. */
static uint64_t append(ms3_journal *j, const char *key, const char *header_x)
{
    ms3_journal_entry e = entry(key);
    ms3_journal_headers *h = NULL;
    if (header_x != NULL) {
        bk_sigv4_header x = {"x", header_x};
        h = ms3__journal_headers_new(&x, 1);
        assert_non_null(h);
    }
    uint64_t seq = ms3__journal_append(j, &e, h);
    assert_true(seq > 0);
    return seq;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[262144];
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
    char whole[3001];
    memset(whole, 'w', 3000);
    whole[3000] = '\0';
    uint64_t a = append(j, "a", whole);
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
    assert_non_null(strstr(text, whole)); /* the file's headers are whole */
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
    append(j, "a", "1");
    append(j, "b", "2");
    ms3__journal_clear(j);
    append(j, "c", NULL);
    ms3__journal_free(j);
    ms3t_rmtree(dir);
    free(dir);
}

/* What a request's headers look like in the journal: the signature
 * shortened, a token redacted, bytes that are not plain ASCII escaped one by
 * one; in memory a long value cut and, past 16 KiB of JSON, the remaining
 * headers counted; in the file all of it. */
static void test_headers_as_recorded(void **state)
{
    (void)state;
    char *long_value = malloc(3001);
    memset(long_value, 'v', 3000);
    long_value[3000] = '\0';
    bk_sigv4_header h[] = {
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AK/20240102/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host, Signature=0123456789abcdef0123"},
        {"x-amz-security-token", "secret-token"},
        {"X-Odd", "q\"b\\s\x01\xc3\xa9"},
        {"X-Long", long_value},
    };
    ms3_journal_headers *jh = ms3__journal_headers_new(h, 4);
    char *bounded = ms3__journal_headers_json(jh, 1), *all = ms3__journal_headers_json(jh, 0);
    const char *start = "{\"Authorization\":\"AWS4-HMAC-SHA256 Credential=AK/20240102/us-east-1/s3/"
                        "aws4_request, SignedHeaders=host, Signature=01234567...\","
                        "\"x-amz-security-token\":\"(redacted)\","
                        "\"X-Odd\":\"q\\u0022b\\u005cs\\u0001\\u00c3\\u00a9\",\"X-Long\":\"";
    assert_memory_equal(bounded, start, strlen(start));
    assert_memory_equal(all, start, strlen(start));
    assert_string_equal(all + strlen(start) + 3000, "\"}");
    assert_string_equal(bounded + strlen(start) + 2048, "...(truncated, 3000 bytes)\"}");
    assert_null(strstr(all, "secret-token"));
    assert_null(strstr(all, "89abcdef"));
    free(bounded);
    free(all);
    ms3__journal_headers_free(jh);

    /* Many long headers: memory keeps about 16 KiB of them and counts the rest. */
    static const char *const names[] = {"X-Long-a", "X-Long-b", "X-Long-c", "X-Long-d", "X-Long-e",
                                        "X-Long-f", "X-Long-g", "X-Long-h", "X-Long-i", "X-Long-j",
                                        "X-Long-k", "X-Long-l", "X-Long-m", "X-Long-n", "X-Long-o",
                                        "X-Long-p", "X-Long-q", "X-Long-r", "X-Long-s", "X-Long-t"};
    bk_sigv4_header many[20];
    for (size_t i = 0; i < 20; i++)
        many[i] = (bk_sigv4_header){names[i], long_value};
    jh = ms3__journal_headers_new(many, 20);
    bounded = ms3__journal_headers_json(jh, 1);
    all = ms3__journal_headers_json(jh, 0);
    assert_true(strlen(bounded) < 16384 + 2200);
    assert_non_null(strstr(bounded, "\"(truncated)\":\"12 more headers not recorded\"}"));
    assert_int_equal(ms3t_count(all, long_value), 20);
    free(bounded);
    free(all);

    /* The journal shows the bounded form, the file the whole. */
    char *dir = ms3t_tempdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
    ms3_journal *j = ms3__journal_new(path, 10, NULL);
    ms3_journal_entry e = entry("k");
    uint64_t seq = ms3__journal_append(j, &e, jh);
    ms3__journal_finish(j, seq, 200, 0, 0.1, NULL);
    ms3_journal_entry *got = NULL;
    assert_int_equal(ms3__journal_query(j, NULL, &got), 1);
    assert_non_null(strstr(got[0].headers_json, "12 more headers not recorded"));
    ms3_journal_entries_free(got, 1);
    assert_int_equal(ms3t_count(read_all(path), long_value), 20);
    char *json = ms3__journal_json(j, NULL, NULL);
    assert_non_null(strstr(json, "12 more headers not recorded"));
    free(json);
    ms3__journal_free(j);
    ms3t_rmtree(dir);
    free(dir);
    free(long_value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_keeps_the_newest),
        cmocka_unit_test(test_file_misses_nothing),
        cmocka_unit_test(test_free_with_entries_in_flight),
        cmocka_unit_test(test_limit_keeps_the_newest),
        cmocka_unit_test(test_headers_as_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
