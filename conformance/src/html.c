/* The HTML report (--html FILE): one self-contained file (styles and the
 * filter script inline, no reference out of it) with the run's header, the
 * table of suites and checks, and per check what detail.c recorded: its
 * requests, the keys under its prefix, the bytes it compared, the explain
 * tree and picture of its cache. Renders only; every value that came from
 * a request, a bucket or a reason is escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bkcache/version.h"
#include "conf.h"

/* report.css and report.js, compiled in (cmake/embed.cmake). */
extern const char conf_report_css[];
extern const char conf_report_js[];

static void esc(FILE *f, const char *s)
{
    conf_markup_escaped(f, s);
}

static const char *jstr(json_t *o, const char *field)
{
    const char *s = json_string_value(json_object_get(o, field));
    return s != NULL ? s : "";
}

static long long jint(json_t *o, const char *field)
{
    return (long long)json_integer_value(json_object_get(o, field));
}

static void write_head(const conf_ctx *c, FILE *f)
{
    conf_counts n = conf_summary(c);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          /* Nothing may load from outside the file, even if a value slipped through. */
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
          f);
    fprintf(f,
            "<title>bkcache-conformance: %zu passed, %zu failed, %zu warnings, %zu skipped"
            "</title>\n<style>\n%s</style>\n</head>\n",
            n.passed, n.failed, n.warned, n.skipped, conf_report_css);
}

static void write_target(const conf_ctx *c, FILE *f)
{
    fputs("<tr><th>target</th><td>", f);
    if (c->is_mock) {
        fputs("in-process mock at ", f);
        esc(f, c->endpoint);
    } else if (c->bucket[0]) {
        esc(f, c->endpoint[0] ? c->endpoint : "AWS S3");
    } else {
        fputs("the cache of <code>--cache-from</code> (verify)", f);
    }
    if (c->bucket[0]) {
        fputs(" (bucket <code>", f);
        esc(f, c->bucket);
        fputs("</code>, region <code>", f);
        esc(f, c->region);
        fputs("</code>, prefix <code>", f);
        esc(f, c->run_prefix);
        fputs("</code>)", f);
    }
    fputs("</td></tr>\n", f);
}

static void write_header(const conf_ctx *c, FILE *f)
{
    conf_counts n = conf_summary(c);
    fputs("<body>\n<header>\n<h1>bkcache-conformance report</h1>\n<table class=\"meta\">\n", f);
    write_target(c, f);
    fputs("<tr><th>implementation</th><td><code>", f);
    esc(f, c->impl != NULL ? c->impl : c->native_bin);
    fputs(c->impl != NULL ? "</code> (adapter)" : "</code> (bkcache itself)", f);
    fputs("</td></tr>\n<tr><th>fixture set</th><td><code>", f);
    esc(f, c->fixtures_given[0] ? c->fixtures_given : c->fixtures);
    char date[64] = "";
    struct tm tm;
    if (c->started != 0 && gmtime_r(&c->started, &tm) != NULL)
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(f, "</code></td></tr>\n<tr><th>date</th><td>%s", date);
    if (c->started_mono > 0)
        fprintf(f, " (the run took %.0f s)", conf_now() - c->started_mono);
    fprintf(f,
            "</td></tr>\n<tr><th>mode</th><td>%s</td></tr>\n"
            "<tr><th>runner</th><td>bkcache-conformance %s</td></tr>\n</table>\n",
            c->strict ? "--strict: a failed recommended check is a FAIL"
                      : "default: a failed recommended check is a WARN",
            bk_version());
    fprintf(f,
            "<p class=\"counts\"><span class=\"c-PASS\">%zu passed</span>"
            "<span class=\"c-FAIL\">%zu failed</span><span class=\"c-WARN\">%zu warnings</span>"
            "<span class=\"c-SKIP\">%zu skipped</span></p>\n",
            n.passed, n.failed, n.warned, n.skipped);
    fputs("<dl class=\"legend\">\n"
          "<dt>required</dt><dd>what BuildKit itself does and what interoperating with BuildKit "
          "needs: a failure is a FAIL and fails the run</dd>\n"
          "<dt class=\"level-recommended\">recommended</dt><dd>stricter than BuildKit (where it "
          "has a bug or wastes work): a failure is a WARN, naming what BuildKit does, and does "
          "not change the exit status; with --strict it is a FAIL</dd>\n"
          "<dt>SKIP</dt><dd>the check could not run on this target (it needs the mock, a peer "
          "or an adapter capability); never a pass</dd>\n"
          "<dt>requests</dt><dd>from the mock's journal: every request of the check's case up "
          "to its result, <b>impl</b> = the implementation under test, <b>runner</b> = the "
          "runner seeding or reading back; +ms from the case's first request; keys relative "
          "to the check's prefix</dd>\n</dl>\n</header>\n",
          f);
}

static void write_filters(const conf_ctx *c, FILE *f)
{
    conf_counts n = conf_summary(c);
    const struct {
        const char *status;
        size_t count;
    } boxes[] = {{"FAIL", n.failed}, {"WARN", n.warned}, {"PASS", n.passed}, {"SKIP", n.skipped}};
    fputs("<nav id=\"filters\">show: ", f);
    for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++)
        fprintf(f,
                "<label><input type=\"checkbox\" data-status=\"%s\" checked> "
                "<span class=\"c-%s\">%s</span> (%zu)</label>",
                boxes[i].status, boxes[i].status, boxes[i].status, boxes[i].count);
    fputs("<button type=\"button\" id=\"expand\">open all details</button>"
          "<button type=\"button\" id=\"collapse\">close all</button></nav>\n",
          f);
}

/* One request as a table row: `earlier` dims one from before the case's
 * previous result, `named` marks one the reason names. */
static void write_request(FILE *f, json_t *q, int earlier, int named)
{
    const char *by = jstr(q, "by");
    fprintf(f, "<tr class=\"rq by-%s%s%s\" data-seq=\"%lld\" data-op=\"", by,
            earlier ? " earlier" : "", named ? " named" : "", jint(q, "seq"));
    esc(f, jstr(q, "operation"));
    fprintf(f, "\"><td>%lld</td><td>%.0f</td><td class=\"by\">%s</td><td>", jint(q, "seq"),
            json_number_value(json_object_get(q, "t")) * 1000, by);
    esc(f, jstr(q, "method"));
    fputs("</td><td class=\"op\">", f);
    esc(f, jstr(q, "operation"));
    fprintf(f, "</td><td class=\"key%s\">",
            json_is_true(json_object_get(q, "outside")) ? " outside" : "");
    esc(f, jstr(q, "key"));
    if (jstr(q, "query")[0]) {
        fputs("<br><small>?", f);
        esc(f, jstr(q, "query"));
        fputs("</small>", f);
    }
    long long status = jint(q, "status");
    if (status == 0)
        fputs("</td><td class=\"bad\">cut", f);
    else
        fprintf(f, "</td><td class=\"%s\">%lld", status < 300 ? "ok" : "bad", status);
    fputs("</td><td>", f);
    esc(f, jstr(q, "error_code"));
    if (jstr(q, "error_message")[0]) {
        fputs("<br><small>", f);
        esc(f, jstr(q, "error_message"));
        fputs("</small>", f);
    }
    int ok = json_is_true(json_object_get(q, "auth_ok"));
    fprintf(f, "</td><td class=\"auth %s\">", ok ? "ok" : "bad");
    esc(f, jstr(q, "auth"));
    fputs(ok ? " \xe2\x9c\x93 signature OK" : " \xe2\x9c\x97 refused", f);
    fputs("</td><td>", f);
    esc(f, jstr(q, "payload_hash_mode"));
    fprintf(f, "</td><td>%.1f</td><td class=\"hdr\">",
            json_number_value(json_object_get(q, "duration")) * 1000);
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(q, "headers"), name, v)
    {
        /* One line each, cut to the cell; the whole value on hover. */
        fputs("<div title=\"", f);
        esc(f, json_string_value(v));
        fputs("\">", f);
        esc(f, name);
        fputs(": ", f);
        esc(f, json_string_value(v));
        fputs("</div>", f);
    }
    if (jstr(q, "signed")[0]) {
        fputs("<div class=\"signed\" title=\"SignedHeaders\">signed: ", f);
        esc(f, jstr(q, "signed"));
        fputs("</div>", f);
    }
    fputs("</td></tr>\n", f);
}

static void write_check_link(const conf_ctx *c, FILE *f, long index)
{
    const conf_result *r = &c->results[index];
    fprintf(f, "<a href=\"#r%ld\">", index);
    esc(f, r->suite);
    fputc('.', f);
    esc(f, r->check);
    fputs("</a>", f);
}

/* The journal seqs a reason names ("request 126"): their rows stand out. */
static int named_in(const char *reason, long long seq)
{
    for (const char *p = strstr(reason, "request "); p != NULL; p = strstr(p + 1, "request ")) {
        char *end;
        long long n = strtoll(p + 8, &end, 10);
        if (end != p + 8 && n == seq)
            return 1;
    }
    return 0;
}

/* The rows: all of them, or (`own_only`) those after the case's previous
 * result; with `split`, those before it dimmed and a line between. */
static void write_request_rows(const conf_ctx *c, FILE *f, const conf_result *r, int own_only,
                               int split)
{
    const conf_detail *d = r->detail;
    size_t n = json_array_size(d->requests);
    fputs("<div class=\"wide\"><table "
          "class=\"req\"><thead><tr><th>#</th><th>+ms</th><th>by</th><th>method</th>"
          "<th>operation</th><th>key</th><th>status</th><th>error</th><th>auth</th>"
          "<th>payload hash</th><th>ms</th><th>headers</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        json_t *q = json_array_get(d->requests, i);
        long long seq = jint(q, "seq");
        int before = (uint64_t)seq <= d->earlier_upto;
        if (before && own_only)
            continue;
        write_request(f, q, before && split, named_in(r->reason, seq));
        if (split && before && i + 1 < n &&
            (uint64_t)jint(json_array_get(d->requests, i + 1), "seq") > d->earlier_upto) {
            fputs("<tr class=\"split\"><td colspan=\"12\">above: before ", f);
            write_check_link(c, f, d->earlier_result);
            fputs(" was reported; below: since then</td></tr>\n", f);
        }
    }
    fputs("</tbody></table></div>\n", f);
}

/* The case's requests. A FAIL or WARN shows all of them (those before the
 * case's previous result dimmed when there are later ones); a PASS only its
 * own, linking to the result that shows the rest. */
static void write_requests(const conf_ctx *c, FILE *f, const conf_result *r)
{
    const conf_detail *d = r->detail;
    if (!d->journaled) {
        fputs("<h4>Requests <small>not recorded: the target keeps no journal the runner can "
              "read; the keys below are what the runner observed</small></h4>\n",
              f);
        return;
    }
    int all = r->status == CONF_FAIL || r->status == CONF_WARN;
    size_t n = json_array_size(d->requests), earlier = 0;
    for (size_t i = 0; i < n; i++)
        earlier += (uint64_t)jint(json_array_get(d->requests, i), "seq") <= d->earlier_upto;
    if (d->earlier_result < 0)
        earlier = 0;
    fprintf(f, "<h4>Requests <small>%zu of the check's case, from the mock's journal", n);
    if (d->requests_omitted > 0)
        fprintf(f, "; its first %zu are left out", d->requests_omitted);
    fputs("</small></h4>\n", f);
    if (n == 0) {
        fputs("<p class=\"note\">none</p>\n", f);
        return;
    }
    if (earlier > 0 && (!all || earlier == n)) {
        fprintf(f, "<p class=\"note\">%s%zu request%s came before ", earlier == n ? "all " : "",
                earlier, earlier == 1 ? "" : "s");
        write_check_link(c, f, d->earlier_result);
        fputs(all ? " was reported; this check judged them after it</p>\n"
                  : " was reported and are shown there</p>\n",
              f);
    }
    if (!all && earlier == n)
        return;
    write_request_rows(c, f, r, !all, all && earlier > 0 && earlier < n);
}

/* The mark and the class of a key's change. */
static const char *change_mark(char change, const char **cls)
{
    switch (change) {
    case '+':
        *cls = "k-add";
        return "+";
    case '-':
        *cls = "k-gone";
        return "\xe2\x88\x92";
    case '~':
        *cls = "k-changed";
        return "~";
    default:
        *cls = "k-same";
        return "";
    }
}

static void write_keys(FILE *f, const conf_detail *d)
{
    if (d->list_error != NULL) {
        fputs("<h4>Keys</h4>\n<p class=\"note\">listing failed: ", f);
        esc(f, d->list_error);
        fputs("</p>\n", f);
    }
    if (!d->listed)
        return;
    size_t added = 0, gone = 0, changed = 0;
    for (size_t i = 0; i < d->n_keys; i++) {
        added += d->keys[i].change == '+';
        gone += d->keys[i].change == '-';
        changed += d->keys[i].change == '~';
    }
    fputs("<h4>Keys under <code>", f);
    esc(f, d->prefix);
    fprintf(f,
            "</code> after the check <small>%zu new, %zu gone, %zu changed, %zu unchanged "
            "since the case's previous check (its prefix was fresh)</small></h4>\n",
            added, gone, changed, d->n_keys - added - gone - changed);
    if (d->n_keys == 0) {
        fputs("<p class=\"note\">none</p>\n", f);
        return;
    }
    fputs("<table class=\"keys\"><thead><tr><th></th><th>key</th><th>bytes</th></tr></thead>"
          "<tbody>\n",
          f);
    for (size_t i = 0; i < d->n_keys; i++) {
        const conf_key_row *k = &d->keys[i];
        const char *cls;
        const char *mark = change_mark(k->change, &cls);
        fprintf(f, "<tr class=\"%s\"><td>%s</td><td>", cls, mark);
        esc(f, k->key);
        fprintf(f, "</td><td>%llu</td></tr>\n", (unsigned long long)k->size);
    }
    fputs("</tbody></table>\n", f);
}

/* Expected and got from a little before the first difference, aligned: the
 * bytes before it are the same in both, so the columns match up to it. */
static void write_bytes(FILE *f, const conf_bytes_diff *b)
{
    fputs("<h4>Expected and got <small>", f);
    esc(f, b->what);
    fprintf(f, "; first difference at byte %zu", b->at);
    esc(f, b->note);
    fprintf(f, "; expected %zu bytes, got %zu</small></h4>\n<pre class=\"bytes\">", b->want_len,
            b->got_len);
    const char *lead = b->from > 0 ? "\xe2\x80\xa6" : "";
    fprintf(f, "expected %s", lead);
    esc(f, b->want_excerpt);
    fprintf(f, "\ngot      %s", lead);
    esc(f, b->got_excerpt);
    fprintf(f, "\n         %s", b->from > 0 ? " " : "");
    for (size_t i = b->from; i < b->at; i++)
        fputc(' ', f);
    fputs("<span class=\"at\">^</span> byte ", f);
    fprintf(f, "%zu</pre>\n", b->at);
    if (b->explain_diff != NULL) {
        fputs("<details open><summary>bkcache explain --diff EXPECTED GOT</summary><pre>", f);
        esc(f, b->explain_diff);
        fputs("</pre></details>\n", f);
    }
}

static void write_cache(const conf_ctx *c, FILE *f, const conf_detail *d)
{
    const conf_detail *shown = d->tree_of >= 0 ? c->results[d->tree_of].detail : d;
    if (d->tree_of >= 0) {
        fputs("<h4>Bucket tree <small>the objects did not change since ", f);
        write_check_link(c, f, d->tree_of);
        fputs(", which shows the tree and picture</small></h4>\n", f);
        return;
    }
    if (shown == NULL || shown->tree == NULL) {
        if (d->listed)
            fputs("<h4>Bucket tree</h4>\n<p class=\"note\">no cache under the prefix</p>\n", f);
        return;
    }
    fputs("<h4>Bucket tree <small>bkcache explain of the check's cache after the check"
          "</small></h4>\n<pre class=\"tree\">",
          f);
    esc(f, shown->tree);
    fputs("</pre>\n", f);
    if (shown->svg != NULL) {
        fputs("<h4>Graph <small>bkcache explain --format svg</small></h4>\n<div class=\"pic\">", f);
        /* Graphviz output checked by detail.c: no script, link or handler. */
        fputs(shown->svg, f);
        fputs("</div>\n", f);
    } else if (shown->no_picture != NULL) {
        fputs("<h4>Graph</h4>\n<p class=\"note\">", f);
        esc(f, shown->no_picture);
        fputs("</p>\n", f);
    }
}

static void write_detail(const conf_ctx *c, FILE *f, const conf_result *r)
{
    const conf_detail *d = r->detail;
    int open = r->status == CONF_FAIL || r->status == CONF_WARN;
    fprintf(f,
            "<tr class=\"det\"><td colspan=\"5\"><details class=\"more\"%s><summary>%s</summary>\n",
            open ? " open" : "", open ? "what happened" : "details");
    if (r->beyond != NULL && !open) { /* a WARN or FAIL says it in its reason */
        fputs("<p class=\"note\">recommended: ", f);
        esc(f, r->beyond);
        fputs("</p>\n", f);
    }
    if (d->bytes != NULL)
        write_bytes(f, d->bytes);
    write_requests(c, f, r);
    write_keys(f, d);
    write_cache(c, f, d);
    fputs("</details></td></tr>\n", f);
}

static void write_result(const conf_ctx *c, FILE *f, size_t index)
{
    const conf_result *r = &c->results[index];
    const char *st = conf_status_word(r->status);
    fprintf(f, "<tbody class=\"check st-%s\" id=\"r%zu\" data-status=\"%s\" data-suite=\"", st,
            index, st);
    esc(f, r->suite);
    fprintf(f,
            "\">\n<tr class=\"row\"><td class=\"st\">%s</td><td class=\"level-%s\">%s</td>"
            "<td class=\"name\"><a href=\"#r%zu\">",
            st, conf_level_name(r->level), conf_level_name(r->level), index);
    esc(f, r->suite);
    fputc('.', f);
    esc(f, r->check);
    fputs("</a></td><td class=\"reason\">", f);
    esc(f, r->reason);
    fprintf(f, "</td><td class=\"time\">%.1f s</td></tr>\n", r->seconds);
    if (r->detail != NULL && r->status != CONF_SKIP)
        write_detail(c, f, r);
    fputs("</tbody>\n", f);
}

static const char *suite_what(const conf_ctx *c, const char *suite)
{
    for (size_t i = 0; i < c->n_suites; i++)
        if (strcmp(c->suites[i].name, suite) == 0)
            return c->suites[i].what;
    return "";
}

/* Suites in the order they first reported (as JUnit), each with its checks. */
static void write_table(const conf_ctx *c, FILE *f)
{
    fputs("<main>\n<table class=\"checks\">\n<colgroup><col class=\"w-st\"><col class=\"w-level\">"
          "<col class=\"w-name\"><col><col class=\"w-time\"></colgroup>\n"
          "<thead><tr><th>status</th><th>level</th>"
          "<th>check</th><th>reason</th><th>time</th></tr></thead>\n",
          f);
    for (size_t i = 0; i < c->n_results; i++) {
        if (!conf_first_of_suite(c, i))
            continue;
        const char *suite = c->results[i].suite;
        size_t by[4] = {0, 0, 0, 0};
        for (size_t j = i; j < c->n_results; j++)
            if (strcmp(c->results[j].suite, suite) == 0)
                by[c->results[j].status]++;
        fputs("<tbody class=\"suite\" data-suite=\"", f);
        esc(f, suite);
        fputs("\"><tr><th colspan=\"5\">", f);
        esc(f, suite);
        fputs("<small>", f);
        esc(f, suite_what(c, suite));
        fprintf(f,
                " \xe2\x80\x94 %zu passed, %zu failed, %zu warnings, %zu skipped</small></th></tr>"
                "</tbody>\n",
                by[CONF_PASS], by[CONF_FAIL], by[CONF_WARN], by[CONF_SKIP]);
        for (size_t j = i; j < c->n_results; j++)
            if (strcmp(c->results[j].suite, suite) == 0)
                write_result(c, f, j);
    }
    fputs("</table>\n</main>\n", f);
}

bk_code conf_html_write(const conf_ctx *c, FILE *f, bk_err *err)
{
    write_head(c, f);
    write_header(c, f);
    write_filters(c, f);
    write_table(c, f);
    fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", conf_report_js);
    if (fflush(f) != 0 || ferror(f))
        return bk_err_set(err, BK_EIO, "writing the HTML report failed");
    return BK_OK;
}

bk_code conf_write_html(const conf_ctx *c, const char *path, bk_err *err)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return bk_err_set(err, BK_EIO, "cannot write the HTML report %s", path);
    bk_code rc = conf_html_write(c, f, err);
    if (fclose(f) != 0 && rc == BK_OK)
        rc = bk_err_set(err, BK_EIO, "cannot write the HTML report %s", path);
    if (rc != BK_OK)
        bk_err_prefix(err, "%s: ", path);
    return rc;
}
