/* BK_TEST_UNIT
 * The journal page (GET /_mock/ui) and the endpoints only it needs: the page
 * is served under the admin rules (no Origin, off with no_admin) but loads
 * without the admin token, since it holds no data and everything it shows
 * comes from the token-guarded endpoints; it refers to nothing outside
 * itself and never parses a value as markup. GET /_mock/buckets lists the
 * keys of the trees, the journal's limit gives the newest entries. The
 * browser test (tests/ui-browser) renders it. In process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms3_test.h"

static long get(ms3_server *s, const char *target, const char *const *headers, ms3t_response *r)
{
    ms3t_request rq = {0};
    rq.method = "GET";
    rq.target = target;
    rq.headers = headers;
    ms3t_send(s, &rq, r);
    return r->status;
}

/* Tags, and the contents of <script> and <style>: no http:// or https://
 * there (text may name one). */
static void nothing_outside(const char *html)
{
    for (const char *p = strchr(html, '<'); p != NULL; p = strchr(p, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        if (strncmp(p, "<script>", 8) == 0)
            end = strstr(p, "</script>");
        else if (strncmp(p, "<style>", 7) == 0)
            end = strstr(p, "</style>");
        else if (strncmp(p, "<!--", 4) == 0)
            end = strstr(p, "-->");
        assert_non_null(end);
        for (const char *q = p; q < end; q++)
            if (strncmp(q, "http://", 7) == 0 || strncmp(q, "https://", 8) == 0)
                fail_msg("reference out of the page at: %.80s", q);
        p = end + 1;
    }
}

static void test_page_is_self_contained(void **state)
{
    (void)state;
    ms3_server *s = ms3t_new_inproc(NULL);
    assert_non_null(s);
    ms3t_response r;
    assert_int_equal(get(s, "/_mock/ui", NULL, &r), 200);
    char v[512];
    assert_non_null(ms3t_header(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/html; charset=utf-8");
    assert_non_null(ms3t_header(&r, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "default-src 'none'"));
    assert_non_null(strstr(v, "connect-src 'self'"));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_non_null(ms3t_header(&r, "X-Content-Type-Options", v, sizeof(v)));
    const char *html = bk_buf_str(&r.body);
    assert_memory_equal(html, "<!DOCTYPE html>", 15);
    assert_non_null(strstr(html, "id=\"rows\""));
    assert_non_null(strstr(html, "/_mock/journal"));
    nothing_outside(html);
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, " src="));
    /* Values from requests only ever become text. */
    assert_null(strstr(html, "innerHTML"));
    assert_null(strstr(html, "outerHTML"));
    assert_null(strstr(html, "insertAdjacentHTML"));
    assert_null(strstr(html, "document.write"));
    assert_null(strstr(html, "eval("));
    assert_int_equal(ms3t_count(html, "<script"), 1);
    ms3t_response_free(&r);
    /* Not journaled, like every admin request. */
    assert_int_equal(ms3_journal_count(s, NULL), 0);
    ms3_server_stop(s);
}

static void test_page_follows_the_admin_rules(void **state)
{
    (void)state;
    ms3_options o;
    ms3t_default_options(&o);
    o.admin_token = "ui-token";
    ms3_server *s = ms3t_new_inproc(&o);
    assert_non_null(s);
    ms3t_response r;
    /* The page loads without the token; its data does not. */
    assert_int_equal(get(s, "/_mock/ui", NULL, &r), 200);
    ms3t_response_free(&r);
    assert_int_equal(get(s, "/_mock/journal", NULL, &r), 401);
    ms3t_response_free(&r);
    assert_int_equal(get(s, "/_mock/buckets", NULL, &r), 401);
    ms3t_response_free(&r);
    const char *bearer[] = {"Authorization: Bearer ui-token", NULL};
    assert_int_equal(get(s, "/_mock/journal", bearer, &r), 200);
    ms3t_response_free(&r);
    /* A page elsewhere cannot fetch it (an Origin header). */
    const char *origin[] = {"Origin: http://evil.example", NULL};
    assert_int_equal(get(s, "/_mock/ui", origin, &r), 403);
    ms3t_response_free(&r);
    /* Only GET: anything else is no endpoint, and needs the token to learn that. */
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/_mock/ui";
    assert_int_equal(ms3t_send_status(s, &rq), 401);
    const char *json_bearer[] = {"Authorization: Bearer ui-token", "Content-Type: application/json",
                                 NULL};
    rq.headers = json_bearer;
    assert_int_equal(ms3t_send_status(s, &rq), 404);
    ms3_server_stop(s);

    ms3t_default_options(&o);
    o.no_admin = 1;
    s = ms3t_new_inproc(&o);
    assert_non_null(s);
    assert_int_equal(get(s, "/_mock/ui", NULL, &r), 404);
    ms3t_response_free(&r);
    ms3_server_stop(s);
}

static json_t *get_json(ms3_server *s, const char *target)
{
    ms3t_response r;
    assert_int_equal(get(s, target, NULL, &r), 200);
    json_t *j = json_loads(bk_buf_str(&r.body), 0, NULL);
    ms3t_response_free(&r);
    assert_non_null(j);
    return j;
}

static void test_buckets_list_their_keys(void **state)
{
    (void)state;
    ms3_server *s = ms3t_new_inproc(NULL);
    assert_non_null(s);
    assert_int_equal(ms3_server_create_bucket(s, "other-bucket", NULL), 0);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "a/one", "1", 1, NULL, NULL), 0);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "a/two", "22", 2, NULL, NULL), 0);
    assert_int_equal(ms3_server_put_object(s, T_BUCKET, "<script>x</script>", "3", 1, NULL, NULL),
                     0);
    json_t *j = get_json(s, "/_mock/buckets");
    json_t *buckets = json_object_get(j, "buckets");
    assert_int_equal(json_array_size(buckets), 2);
    json_t *b = NULL;
    for (size_t i = 0; i < 2; i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(buckets, i), "name")),
                   T_BUCKET) == 0)
            b = json_array_get(buckets, i);
    assert_non_null(b);
    assert_int_equal(json_integer_value(json_object_get(b, "objects")), 3);
    assert_false(json_is_true(json_object_get(b, "truncated")));
    json_t *keys = json_object_get(b, "keys");
    assert_int_equal(json_array_size(keys), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 0), "key")),
                        "<script>x</script>");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(keys, 2), "size")), 2);
    json_decref(j);

    j = get_json(s, "/_mock/buckets?bucket=bkt&prefix=a/&max_keys=1");
    buckets = json_object_get(j, "buckets");
    assert_int_equal(json_array_size(buckets), 1);
    b = json_array_get(buckets, 0);
    assert_true(json_is_true(json_object_get(b, "truncated")));
    assert_int_equal(json_array_size(json_object_get(b, "keys")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(b, "keys"), 0), "key")),
        "a/one");
    json_decref(j);
    ms3_server_stop(s);
}

/* The page's first poll: the newest entries, not the whole journal. */
static void test_journal_limit(void **state)
{
    (void)state;
    ms3_server *s = ms3t_new_inproc(NULL);
    assert_non_null(s);
    for (int i = 0; i < 5; i++) {
        char target[32];
        snprintf(target, sizeof(target), "/bkt/k%d", i);
        ms3t_response r;
        ms3t_simple(s, "GET", target, NULL, 0, &r);
        ms3t_response_free(&r);
    }
    json_t *j = get_json(s, "/_mock/journal?limit=2");
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "key")), "k3");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "key")), "k4");
    json_decref(j);
    j = get_json(s, "/_mock/journal?limit=0");
    assert_int_equal(json_array_size(j), 5);
    json_decref(j);
    ms3_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_is_self_contained),
        cmocka_unit_test(test_page_follows_the_admin_rules),
        cmocka_unit_test(test_buckets_list_their_keys),
        cmocka_unit_test(test_journal_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
