/* BK_TEST_UNIT
 * Go-identical JSON pieces: string escaping, RFC 3339 times, indentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bkcache/gojson.h"

static void check_escape(const char *in, size_t len, const char *want)
{
    bk_buf b = BK_BUF_INIT;
    bk_gojson_string(&b, in, len);
    assert_string_equal(bk_buf_str(&b), want);
    bk_buf_clear(&b);
}

static void strings_escape_like_go(void **state)
{
    (void)state;
    check_escape("plain", 5, "\"plain\"");
    check_escape(NULL, 0, "\"\"");
    check_escape("<a href=\"x\">&</a>", 17,
                 "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"");
    check_escape("\b\f\n\r\t\\", 6, "\"\\b\\f\\n\\r\\t\\\\\"");
    check_escape("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    check_escape("nul\0x", 5, "\"nul\\u0000x\"");
    /* U+2028, U+2029 escaped; other non-ASCII written as is */
    check_escape("\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xe6\x97\xa5", 11,
                 "\"\\u2028\\u2029\xc3\xa9\xe6\x97\xa5\"");
    /* each byte of invalid UTF-8 becomes \ufffd, as Go's DecodeRune steps */
    check_escape("a\xff", 2, "\"a\\ufffd\"");
    check_escape("\xc0\x80", 2, "\"\\ufffd\\ufffd\"");                       /* overlong */
    check_escape("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate */
    check_escape("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");                       /* truncated */
    check_escape("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    check_escape("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
    check_escape("\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\""); /* a real U+FFFD stays raw */
}

/* Runs of bytes written as they are, and what ends them: an escape or a
 * multi-byte sequence at the start, in the middle, at the end, back to back,
 * and the bytes at the edges of the plain range (0x1f, 0x20, 0x7e, 0x7f). */
static void strings_escape_at_run_boundaries(void **state)
{
    (void)state;
    check_escape("\"abc", 4, "\"\\\"abc\"");
    check_escape("abc\\", 4, "\"abc\\\\\"");
    check_escape("ab<>&cd", 7, "\"ab\\u003c\\u003e\\u0026cd\"");
    check_escape("<", 1, "\"\\u003c\"");
    check_escape(" ~\x7f", 3, "\" ~\x7f\"");
    check_escape("\x1f \x7f\x1f", 4, "\"\\u001f \x7f\\u001f\"");
    check_escape("sha256:0123456789abcdef\n", 24, "\"sha256:0123456789abcdef\\n\"");
    check_escape("x\xc3\xa9y\xc3\xa9", 6, "\"x\xc3\xa9y\xc3\xa9\"");
    check_escape("\xc3\xa9<\xc3\xa9", 5, "\"\xc3\xa9\\u003c\xc3\xa9\"");
    check_escape("ab\xe2\x80\xa8"
                 "cd\xe2\x80\xa9",
                 10, "\"ab\\u2028cd\\u2029\"");
    check_escape("ab\xff"
                 "cd\xfe",
                 6, "\"ab\\ufffdcd\\ufffd\"");
    check_escape("a\xe2\x80"
                 "b",
                 4, "\"a\\ufffd\\ufffdb\"");
    check_escape("abc", 2, "\"ab\""); /* len, not the terminator, ends the string */
    check_escape("a\0b", 3, "\"a\\u0000b\"");
}

static void utf8_sanitize_replaces_per_byte(void **state)
{
    (void)state;
    assert_true(bk_utf8_valid("\xc3\xa9", 2));
    assert_false(bk_utf8_valid("\xc3", 1));
    size_t n;
    char *s = bk_utf8_sanitize("x\xc3\x28y", 4, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(s, "x\xef\xbf\xbd(y", 6);
    free(s);
}

static void roundtrip(const char *in, const char *want)
{
    bk_err err = {0};
    bk_time t;
    if (bk_time_parse(in, strlen(in), &t, &err) != BK_OK)
        fail_msg("%s: %s", in, err.msg);
    bk_buf b = BK_BUF_INIT;
    assert_int_equal(bk_time_format(&b, t, &err), BK_OK);
    assert_string_equal(bk_buf_str(&b), want);
    bk_buf_clear(&b);
}

static void times_parse_and_format_like_go(void **state)
{
    (void)state;
    roundtrip("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    roundtrip("2024-05-01T10:00:00.500Z", "2024-05-01T10:00:00.5Z");
    roundtrip("2024-05-01T10:00:00.000Z", "2024-05-01T10:00:00Z");
    roundtrip("2024-05-01T10:00:00.1234567899Z", "2024-05-01T10:00:00.123456789Z");
    roundtrip("2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00+02:00");
    roundtrip("2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00Z");
    roundtrip("2024-05-01T00:30:00-09:30", "2024-05-01T00:30:00-09:30");
    roundtrip("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z");
    roundtrip("1900-02-28T23:59:59.999999999Z", "1900-02-28T23:59:59.999999999Z");
    roundtrip("2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z");

    bk_err err = {0};
    bk_time a, b;
    assert_int_equal(bk_time_parse("2024-05-01T12:00:00+02:00", 25, &a, &err), BK_OK);
    assert_int_equal(bk_time_parse("2024-05-01T10:00:00Z", 20, &b, &err), BK_OK);
    assert_int_equal(bk_time_compare(a, b), 0); /* same instant */
    assert_int_equal(a.offset_min, 120);
    assert_int_equal(b.sec, 1714557600);
    assert_true(bk_time_is_zero(bk_time_zero()));
    bk_buf out = BK_BUF_INIT;
    assert_int_equal(bk_time_format(&out, bk_time_utc(a), &err), BK_OK);
    assert_string_equal(bk_buf_str(&out), "2024-05-01T10:00:00Z");
    bk_buf_clear(&out);
    /* the longest a time can be written: nine fraction digits and an offset
     * of any int32 minutes, after text already in the buffer */
    bk_buf_puts(&out, "at ");
    assert_int_equal(
        bk_time_format(&out, bk_time_from_unix(2147483647LL * 60 + 86399, 123456789, -2147483647),
                       &err),
        BK_OK);
    assert_string_equal(bk_buf_str(&out), "at 1970-01-01T23:59:59.123456789-35791394:07");
    bk_buf_clear(&out);

    static const char *const bad[] = {"2024-05-01T10:00:00",        "2024-05-01 10:00:00Z",
                                      "2024-5-01T10:00:00Z",        "2024-05-01T1:00:00Z",
                                      "2024-05-01T10:00:00,5Z",     "2024-05-01T10:00:00.Z",
                                      "2024-05-01t10:00:00Z",       "2024-05-01T10:00:00z",
                                      "2024-13-01T10:00:00Z",       "2023-02-29T10:00:00Z",
                                      "2024-05-01T24:00:00Z",       "2024-05-01T10:60:00Z",
                                      "2024-05-01T10:00:60Z",       "2024-05-01T10:00:00+24:00",
                                      "2024-05-01T10:00:00+01:60",  "2024-05-01T10:00:00+0100",
                                      "2024-05-01T10:00:00Zjunk",   "+2024-05-01T10:00:00Z",
                                      "2024-05-01T10:00:00+01:00 ", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bk_time_parse(bad[i], strlen(bad[i]), &a, &err) == BK_OK)
            fail_msg("accepted %s", bad[i]);
    }
}

static void indent_matches_json_indent(void **state)
{
    (void)state;
    const char *src = "{\"a\":[],\"b\":{},\"c\":[1,{\"d\":\"x,y:[z]\\\"\"}]}";
    bk_buf b = BK_BUF_INIT;
    bk_gojson_indent(&b, src, strlen(src));
    assert_string_equal(bk_buf_str(&b), "{\n"
                                        "  \"a\": [],\n"
                                        "  \"b\": {},\n"
                                        "  \"c\": [\n"
                                        "    1,\n"
                                        "    {\n"
                                        "      \"d\": \"x,y:[z]\\\"\"\n"
                                        "    }\n"
                                        "  ]\n"
                                        "}");
    bk_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_escape_like_go),
        cmocka_unit_test(strings_escape_at_run_boundaries),
        cmocka_unit_test(utf8_sanitize_replaces_per_byte),
        cmocka_unit_test(times_parse_and_format_like_go),
        cmocka_unit_test(indent_matches_json_indent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
