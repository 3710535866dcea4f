/* BK_TEST_UNIT
 * The HTML report (src/html.c) and what it is made of (src/detail.c): every
 * value from a request, a bucket or a reason is escaped (a key holding
 * <script> is text), the file references nothing outside itself, Graphviz's
 * picture is inlined only without active content, PASS details start
 * collapsed and FAIL/WARN ones open, compared bytes are shown aligned at the
 * first difference with the explain diff of the two manifests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

#define EVIL_KEY "blobs/<script>alert(1)</script>\"'&x"

typedef struct fixture {
    conf_ctx c;
    conf_result results[3];
} fixture;

static json_t *evil_request(long long seq, const char *op)
{
    return json_pack("{s:I, s:f, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:i, s:s, s:b, s:s, s:f, "
                     "s:i, s:s, s:{s:s, s:s}}",
                     "seq", (json_int_t)seq, "t", 0.002 * (double)seq, "by", "impl", "method",
                     "PUT", "operation", op, "key", EVIL_KEY, "outside", 0, "query", "x=<b>",
                     "error_code", "AccessDenied", "status", 403, "error_message",
                     "<img src=x onerror=alert(2)>", "auth_ok", 0, "auth", "header", "duration",
                     0.001, "body", 10, "signed", "host;<i>", "headers", "x-amz-meta-note",
                     "</td><script>alert(3)</script>", "range", "bytes=0-");
}

static conf_detail *evil_detail(void)
{
    conf_detail *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->prefix = strdup("bkconf-1/<p>/");
    d->journaled = 1;
    d->requests = json_array();
    json_array_append_new(d->requests, evil_request(5, "HeadObject"));
    json_array_append_new(d->requests, evil_request(7, "PutObject"));
    d->tree_of = -1;
    d->earlier_result = -1;
    d->listed = 1;
    d->n_keys = 1;
    d->keys = calloc(1, sizeof *d->keys);
    assert_non_null(d->keys);
    d->keys[0].key = strdup(EVIL_KEY);
    d->keys[0].size = 3;
    d->keys[0].change = '+';
    d->tree = strdup("</pre><script>alert(4)</script>");
    const char *why = NULL;
    d->svg = conf_svg_inline("<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG "
                             "1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
                             "<svg width=\"8pt\" xmlns=\"http://www.w3.org/2000/svg\" "
                             "xmlns:xlink=\"http://www.w3.org/1999/xlink\"><!-- node -->"
                             "<text>&lt;script&gt;</text></svg>\n",
                             &why);
    assert_non_null(d->svg);
    return d;
}

static void set_result(conf_result *r, const char *suite, const char *check, conf_status st,
                       const char *reason, conf_detail *d)
{
    r->suite = strdup(suite);
    r->check = strdup(check);
    r->status = st;
    r->level = CONF_REQUIRED;
    r->reason = strdup(reason);
    r->seconds = 0.5;
    r->detail = d;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    conf_ctx *c = &fx->c;
    c->suites = conf_suites(&c->n_suites);
    c->is_mock = 1;
    snprintf(c->endpoint, sizeof c->endpoint, "http://127.0.0.1:9");
    snprintf(c->bucket, sizeof c->bucket, "bkconf");
    snprintf(c->region, sizeof c->region, "us-east-1");
    snprintf(c->run_prefix, sizeof c->run_prefix, "bkconf-1/");
    snprintf(c->fixtures, sizeof c->fixtures, "fixtures");
    c->impl = "adapters/<evil>";
    c->started = 1700000000;
    set_result(&fx->results[0], "ordering", "head_before_upload", CONF_FAIL,
               "PutObject <script>alert(5)</script> without a HeadObject (request 7)",
               evil_detail());
    set_result(&fx->results[1], "ordering", "manifest_after_blobs", CONF_PASS, "2 writes",
               evil_detail());
    set_result(&fx->results[2], "verify", "journal_sigv4", CONF_SKIP, "skipped (needs mock)", NULL);
    c->results = fx->results;
    c->n_results = c->cap_results = 3;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    for (size_t i = 0; i < 3; i++) {
        free(fx->results[i].suite);
        free(fx->results[i].check);
        free(fx->results[i].reason);
        conf_detail_free(fx->results[i].detail);
    }
    free(fx);
    return 0;
}

static char *render(const conf_ctx *c)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    bk_err err;
    bk_err_clear(&err);
    assert_int_equal(conf_html_write(c, f, &err), BK_OK);
    long len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    char *html = malloc((size_t)len + 1);
    assert_non_null(html);
    assert_int_equal(fread(html, 1, (size_t)len, f), (size_t)len);
    html[len] = '\0';
    fclose(f);
    return html;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

static void request_values_are_text(void **state)
{
    fixture *fx = *state;
    char *html = render(&fx->c);
    /* One script element: the report's own filter. */
    assert_int_equal(count(html, "<script"), 1);
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "x=<b>"));
    assert_null(strstr(html, "host;<i>"));
    assert_non_null(strstr(html, "?x=&lt;b&gt;"));
    assert_non_null(strstr(html, "signed: host;&lt;i&gt;"));
    assert_null(strstr(html, "<evil>"));
    assert_null(strstr(html, "</td><script>"));
    /* The key shows as text, in the request rows and the key list. */
    assert_true(count(html, "blobs/&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;x") >= 3);
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(2)&gt;"));
    assert_non_null(strstr(html, "&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert_non_null(strstr(html, "&lt;/pre&gt;&lt;script&gt;alert(4)&lt;/script&gt;"));
    assert_non_null(strstr(html, "PutObject &lt;script&gt;alert(5)&lt;/script&gt;"));
    free(html);
}

/* Every tag and the contents of <script> and <style>: no http:// or
 * https:// there (text content may name an endpoint). */
static void no_external_reference(const char *html)
{
    const char *p = html;
    while ((p = strchr(p, '<')) != NULL) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        size_t len = (size_t)(end - p) + 1;
        if (strncmp(p, "<script>", 8) == 0 || strncmp(p, "<style>", 7) == 0)
            len = (size_t)(strstr(p, p[1] == 's' && p[2] == 'c' ? "</script>" : "</style>") - p);
        char *part = strndup(p, len);
        assert_non_null(part);
        if (strstr(part, "http://") != NULL || strstr(part, "https://") != NULL)
            fail_msg("external reference in %.200s", part);
        free(part);
        p += len;
    }
}

static void nothing_outside_the_file(void **state)
{
    fixture *fx = *state;
    char *html = render(&fx->c);
    no_external_reference(html);
    /* ... while the text does carry the endpoint, so the scan saw it. */
    assert_non_null(strstr(html, "http://127.0.0.1:9"));
    assert_non_null(strstr(html, "Content-Security-Policy"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "<iframe"));
    free(html);
}

static void svg_inlined_only_when_inert(void **state)
{
    (void)state;
    const char *why = NULL;
    char *svg = conf_svg_inline("<?xml?>\n<!-- c --><svg xmlns=\"http://www.w3.org/2000/svg\" "
                                "width=\"1\"><!-- n --><g id=\"a\"><text>x</text></g></svg>",
                                &why);
    assert_non_null(svg);
    assert_string_equal(svg, "<svg width=\"1\"><g id=\"a\"><text>x</text></g></svg>");
    free(svg);
    static const char *const refused[] = {
        "<svg><script>alert(1)</script></svg>",
        "<svg><g onload=\"alert(1)\"/></svg>",
        "<svg>\n<rect\nonclick=\"x\"/></svg>",
        "<svg><a xlink:href=\"https://example.com/\"><text>x</text></a></svg>",
        "<svg><foreignObject><div/></foreignObject></svg>",
        "<svg><style>@import 'x'</style></svg>",
        "no picture at all",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        why = NULL;
        assert_null(conf_svg_inline(refused[i], &why));
        assert_non_null(why);
    }
    /* "on" inside text is no handler. */
    svg = conf_svg_inline("<svg><text>layer on top=3</text></svg>", &why);
    assert_non_null(svg);
    free(svg);
}

static void pass_collapsed_failures_open(void **state)
{
    fixture *fx = *state;
    char *html = render(&fx->c);
    const char *fail =
        strstr(html, "<tbody class=\"check st-FAIL\" id=\"r0\" data-status=\"FAIL\"");
    const char *pass =
        strstr(html, "<tbody class=\"check st-PASS\" id=\"r1\" data-status=\"PASS\"");
    const char *skip =
        strstr(html, "<tbody class=\"check st-SKIP\" id=\"r2\" data-status=\"SKIP\"");
    assert_non_null(fail);
    assert_non_null(pass);
    assert_non_null(skip);
    assert_true(fail < pass && pass < skip);
    assert_true(strstr(fail, "<details class=\"more\" open>") < pass);
    const char *pass_details = strstr(pass, "<details class=\"more\"");
    assert_non_null(pass_details);
    assert_true(pass_details < skip);
    assert_memory_equal(pass_details, "<details class=\"more\"><summary>", 31);
    /* A SKIP did nothing: no details. */
    assert_null(strstr(skip, "<details"));
    /* The requests in journal order, the one the reason names marked. */
    const char *r5 = strstr(fail, "data-seq=\"5\""), *r7 = strstr(fail, "data-seq=\"7\"");
    assert_non_null(r5);
    assert_true(r5 < r7 && r7 < pass);
    assert_non_null(strstr(fail, "class=\"rq by-impl named\" data-seq=\"7\""));
    assert_non_null(strstr(fail, "class=\"rq by-impl\" data-seq=\"5\""));
    /* A filter per status, and the counts in the header. */
    for (size_t i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "data-status=\"%s\" checked", conf_status_word((conf_status)i));
        assert_non_null(strstr(html, want));
    }
    assert_non_null(strstr(html, "1 passed</span><span class=\"c-FAIL\">1 failed"));
    free(html);
}

static char *read_golden(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/graphs/%s.expected", BK_FIXTURES_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = calloc(1, 1 << 20);
    assert_non_null(data);
    *len = fread(data, 1, (1 << 20) - 1, f);
    fclose(f);
    return data;
}

/* A line of the rendered <pre> as it shows: tags dropped, references and
 * multi-byte characters one character each ('#'). */
static void shown_line(const char *html, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = html; *p && *p != '\n' && n + 1 < size;) {
        if (*p == '<') {
            p = strchr(p, '>') + 1;
        } else if (*p == '&') {
            out[n++] = '#';
            p = strchr(p, ';') + 1;
        } else if ((unsigned char)*p >= 0x80) {
            out[n++] = '#';
            p++;
            while (((unsigned char)*p & 0xc0) == 0x80)
                p++;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static void compared_bytes_aligned(void **state)
{
    fixture *fx = *state;
    conf_ctx *c = &fx->c;
    c->details = 1;
    size_t len = 0;
    char *want = read_golden("linear.max", &len);
    /* The got manifest lacks one layer's createdAt, as a broken exporter's. */
    char *got = strdup(want);
    char *created = strstr(got, ",\"createdAt\":\"");
    assert_non_null(created);
    char *close = strchr(created + 14, '"');
    memmove(created, close + 1, strlen(close + 1) + 1);
    conf_detail_bytes(c, "modes", "linear_max", "the manifest against linear.max.expected", want,
                      len, got, strlen(got), 1);
    conf_detail_state *st = &c->detail_state;
    assert_non_null(st->pending);
    assert_string_equal(st->pending_check, "modes.linear_max");
    conf_bytes_diff *b = st->pending;
    assert_int_equal(b->at, (size_t)(created - got));
    assert_true(b->from < b->at);
    assert_memory_equal(b->want_excerpt, want + b->from, b->at - b->from);
    assert_memory_equal(b->got_excerpt, got + b->from, b->at - b->from);
    assert_non_null(b->explain_diff);
    assert_non_null(strstr(b->explain_diff, "A: expected"));
    assert_non_null(strstr(b->explain_diff, "B: got"));
    /* Rendered: the caret sits under the first differing column. */
    conf_detail *d = fx->results[0].detail;
    d->bytes = b;
    st->pending = NULL;
    char *html = render(c);
    const char *pre = strstr(html, "<pre class=\"bytes\">");
    assert_non_null(pre);
    const char *l1 = pre + strlen("<pre class=\"bytes\">");
    const char *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    char expected[512], got_line[512], caret[512];
    shown_line(l1, expected, sizeof expected);
    shown_line(l2, got_line, sizeof got_line);
    shown_line(l3, caret, sizeof caret);
    size_t col = strlen("expected ");
    while (expected[col] == got_line[col])
        col++;
    assert_int_equal(strchr(caret, '^') - caret, (long)col);
    assert_non_null(strstr(html, "bkcache explain --diff EXPECTED GOT"));
    /* Identical manifests record nothing. */
    conf_detail_bytes(c, "modes", "linear_min", "same", want, len, want, len, 1);
    assert_null(st->pending);
    conf_detail_state_clear(c);
    free(html);
    free(want);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(request_values_are_text, setup, teardown),
        cmocka_unit_test_setup_teardown(nothing_outside_the_file, setup, teardown),
        cmocka_unit_test(svg_inlined_only_when_inert),
        cmocka_unit_test_setup_teardown(pass_collapsed_failures_open, setup, teardown),
        cmocka_unit_test_setup_teardown(compared_bytes_aligned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
