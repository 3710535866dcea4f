/* BK_TEST_UNIT
 * ListObjectsV2 and ListObjects: prefix, delimiter, CommonPrefixes, max-keys,
 * continuation tokens, start-after, KeyCount, IsTruncated, UTF-8 binary order,
 * encoding-type=url. In process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms3_test.h"

static ms3_server *srv;

static const char *const keys[] = {
    "a.txt",   "b/1",    "b/2",   "b/c/3",
    "b/c/4",   "c",      "d/x",   "\xc3\xa9t\xc3\xa9", /* "été": sorts after ASCII */
    "B-upper", "b+plus", "b/ sp",
};

static int setup(void **state)
{
    (void)state;
    srv = ms3t_new_inproc(NULL);
    if (srv == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (ms3_server_put_object(srv, T_BUCKET, keys[i], "x", 1, NULL, NULL) != 0)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ms3_server_stop(srv);
    return 0;
}

static void list(const char *query, ms3t_response *r)
{
    char target[512];
    snprintf(target, sizeof(target), "/bkt?%s", query);
    ms3t_simple(srv, "GET", target, NULL, 0, r);
    assert_int_equal(r->status, 200);
}

/* The <Key> and <Prefix> (of CommonPrefixes) values joined with '|'. */
static void collect(const ms3t_response *r, const char *open, char *out, size_t n)
{
    out[0] = '\0';
    const char *body = bk_buf_str(&r->body);
    char close[64];
    snprintf(close, sizeof(close), "</%s", open + 1);
    for (const char *p = strstr(body, open); p != NULL; p = strstr(p + 1, open)) {
        if (strcmp(open, "<Prefix>") == 0 &&
            (p - body < 16 || strncmp(p - 16, "<CommonPrefixes>", 16) != 0))
            continue;
        const char *b = p + strlen(open);
        const char *e = strstr(b, close);
        if (*out)
            strncat(out, "|", n - strlen(out) - 1);
        strncat(out, b,
                (size_t)(e - b) < n - strlen(out) - 1 ? (size_t)(e - b) : n - strlen(out) - 1);
    }
}

static void test_all_sorted(void **state)
{
    (void)state;
    ms3t_response r;
    char got[2048], buf[64];
    list("list-type=2", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got,
                        "B-upper|a.txt|b+plus|b/ sp|b/1|b/2|b/c/3|b/c/4|c|d/x|\xc3\xa9t\xc3\xa9");
    assert_string_equal(ms3t_xml(&r, "KeyCount", buf, sizeof(buf)), "11");
    assert_string_equal(ms3t_xml(&r, "IsTruncated", buf, sizeof(buf)), "false");
    ms3t_response_free(&r);
}

static void test_prefix_delimiter(void **state)
{
    (void)state;
    ms3t_response r;
    char got[2048], buf[64];
    list("list-type=2&delimiter=%2F", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "B-upper|a.txt|b+plus|c|\xc3\xa9t\xc3\xa9");
    collect(&r, "<Prefix>", got, sizeof(got));
    assert_string_equal(got, "b/|d/");
    assert_string_equal(ms3t_xml(&r, "KeyCount", buf, sizeof(buf)), "7");
    ms3t_response_free(&r);

    list("list-type=2&prefix=b%2F&delimiter=%2F", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "b/ sp|b/1|b/2");
    collect(&r, "<Prefix>", got, sizeof(got));
    assert_string_equal(got, "b/c/");
    ms3t_response_free(&r);

    list("list-type=2&prefix=b%2Fc", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "b/c/3|b/c/4");
    ms3t_response_free(&r);

    list("list-type=2&prefix=zzz", &r);
    assert_string_equal(ms3t_xml(&r, "KeyCount", buf, sizeof(buf)), "0");
    ms3t_response_free(&r);
}

static void test_pagination(void **state)
{
    (void)state;
    ms3t_response r;
    char got[256], token[512], query[2048], all[2048] = "", buf[64];
    int pages = 0;
    token[0] = '\0';
    for (;;) {
        /* Tokens are base64: escape them for the query. */
        char esc[1024];
        size_t o = 0;
        for (const char *p = token; *p && o < sizeof(esc) - 4; p++) {
            if (*p == '+' || *p == '=' || *p == '/')
                o += (size_t)snprintf(esc + o, 4, "%%%02X", (unsigned char)*p);
            else
                esc[o++] = *p;
        }
        esc[o] = '\0';
        if (token[0])
            snprintf(query, sizeof(query),
                     "list-type=2&max-keys=3&delimiter=%%2F&continuation-token=%s", esc);
        else
            snprintf(query, sizeof(query), "list-type=2&max-keys=3&delimiter=%%2F");
        list(query, &r);
        pages++;
        assert_true(strtol(ms3t_xml(&r, "KeyCount", buf, sizeof(buf)), NULL, 10) <= 3);
        collect(&r, "<Key>", got, sizeof(got));
        if (*got) {
            size_t at = strlen(all);
            snprintf(all + at, sizeof(all) - at, "%s%s", at ? "|" : "", got);
        }
        collect(&r, "<Prefix>", got, sizeof(got));
        if (*got) {
            size_t at = strlen(all);
            snprintf(all + at, sizeof(all) - at, "%s%s", at ? "|" : "", got);
        }
        int truncated = strcmp(ms3t_xml(&r, "IsTruncated", buf, sizeof(buf)), "true") == 0;
        if (!truncated) {
            assert_null(ms3t_xml(&r, "NextContinuationToken", token, sizeof(token)));
            ms3t_response_free(&r);
            break;
        }
        assert_non_null(ms3t_xml(&r, "NextContinuationToken", token, sizeof(token)));
        ms3t_response_free(&r);
        assert_true(pages < 10);
    }
    assert_int_equal(pages, 3);
    /* Every key and common prefix once, none repeated across pages (each page lists
     * its keys, then its prefixes: page 2 holds b/, c and d/). */
    assert_string_equal(all, "B-upper|a.txt|b+plus|c|b/|d/|\xc3\xa9t\xc3\xa9");
}

static void test_start_after_and_v1(void **state)
{
    (void)state;
    ms3t_response r;
    char got[2048], buf[64];
    list("list-type=2&start-after=b%2F2", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "b/c/3|b/c/4|c|d/x|\xc3\xa9t\xc3\xa9");
    assert_string_equal(ms3t_xml(&r, "StartAfter", buf, sizeof(buf)), "b/2");
    ms3t_response_free(&r);

    list("marker=c&max-keys=1&delimiter=%2F", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "");
    collect(&r, "<Prefix>", got, sizeof(got));
    assert_string_equal(got, "d/");
    assert_string_equal(ms3t_xml(&r, "IsTruncated", buf, sizeof(buf)), "true");
    assert_string_equal(ms3t_xml(&r, "NextMarker", buf, sizeof(buf)), "d/");
    ms3t_response_free(&r);

    list("list-type=2&max-keys=0", &r);
    assert_string_equal(ms3t_xml(&r, "KeyCount", buf, sizeof(buf)), "0");
    ms3t_response_free(&r);

    ms3t_simple(srv, "GET", "/bkt?list-type=2&max-keys=abc", NULL, 0, &r);
    assert_int_equal(r.status, 400);
    ms3t_response_free(&r);
    ms3t_simple(srv, "GET", "/bkt?list-type=2&continuation-token=%21%21", NULL, 0, &r);
    assert_int_equal(r.status, 400);
    ms3t_response_free(&r);
}

static void test_encoding_url(void **state)
{
    (void)state;
    ms3t_response r;
    char got[2048];
    list("list-type=2&prefix=b&encoding-type=url", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "b%2Bplus|b/%20sp|b/1|b/2|b/c/3|b/c/4");
    ms3t_response_free(&r);
    list("list-type=2&prefix=%C3&encoding-type=url", &r);
    collect(&r, "<Key>", got, sizeof(got));
    assert_string_equal(got, "%C3%A9t%C3%A9");
    ms3t_response_free(&r);
}

static void test_listing_journal(void **state)
{
    (void)state;
    ms3_journal_filter f = {0};
    f.operation = "ListObjectsV2";
    size_t n = ms3_journal_count(srv, &f);
    assert_true(n >= 10);
    f.operation = "ListObjects";
    assert_int_equal(ms3_journal_count(srv, &f), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_sorted),   cmocka_unit_test(test_prefix_delimiter),
        cmocka_unit_test(test_pagination),   cmocka_unit_test(test_start_after_and_v1),
        cmocka_unit_test(test_encoding_url), cmocka_unit_test(test_listing_journal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
