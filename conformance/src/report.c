/* Check results: one line per check as it finishes, the summary, JUnit XML. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"

double conf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void conf_begin(conf_ctx *c)
{
    c->check_started = conf_now();
}

static const char *status_word(conf_status st)
{
    return st == CONF_PASS ? "PASS" : st == CONF_FAIL ? "FAIL" : "SKIP";
}

void conf_report(conf_ctx *c, const char *suite, const char *check, conf_status st, const char *fmt,
                 ...)
{
    char reason[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    /* One line per check: a reason never spans lines. */
    for (char *p = reason; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    double now = conf_now();
    double secs = c->check_started > 0 ? now - c->check_started : 0;
    c->check_started = now;
    if (c->n_results == c->cap_results) {
        size_t cap = c->cap_results ? c->cap_results * 2 : 64;
        conf_result *nr = realloc(c->results, cap * sizeof *nr);
        if (nr == NULL) {
            fprintf(stderr, "bkcache-conformance: out of memory\n");
            return;
        }
        c->results = nr;
        c->cap_results = cap;
    }
    conf_result *r = &c->results[c->n_results++];
    r->suite = strdup(suite);
    r->check = strdup(check);
    r->status = st;
    r->reason = strdup(reason);
    r->seconds = secs;
    printf("%s %s.%s%s%s\n", status_word(st), suite, check, reason[0] ? " \xe2\x80\x94 " : "",
           reason);
    fflush(stdout);
}

void conf_skip_needs_mock(conf_ctx *c, const char *suite, const char *check, const char *what)
{
    conf_report(c, suite, check, CONF_SKIP, "skipped (needs mock): %s", what);
}

void conf_summary(const conf_ctx *c, size_t *passed, size_t *failed, size_t *skipped)
{
    *passed = *failed = *skipped = 0;
    for (size_t i = 0; i < c->n_results; i++) {
        if (c->results[i].status == CONF_PASS)
            (*passed)++;
        else if (c->results[i].status == CONF_FAIL)
            (*failed)++;
        else
            (*skipped)++;
    }
}

static void xml_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            /* XML 1.0 allows no control characters but tab, newline, return. */
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                fputc('?', f);
            else
                fputc(*p, f);
        }
    }
}

bk_code conf_write_junit(const conf_ctx *c, const char *path, bk_err *err)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return bk_err_set(err, BK_EIO, "cannot write JUnit report %s", path);
    size_t p, fl, sk;
    conf_summary(c, &p, &fl, &sk);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"bkcache-conformance\" tests=\"%zu\" failures=\"%zu\" "
            "skipped=\"%zu\">\n",
            c->n_results, fl, sk);
    /* One <testsuite> per suite, in the order suites first reported. */
    for (size_t i = 0; i < c->n_results; i++) {
        const char *suite = c->results[i].suite;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->results[j].suite, suite) == 0;
        if (seen)
            continue;
        size_t n = 0, nf = 0, ns = 0;
        double t = 0;
        for (size_t j = i; j < c->n_results; j++) {
            if (strcmp(c->results[j].suite, suite) != 0)
                continue;
            n++;
            nf += c->results[j].status == CONF_FAIL;
            ns += c->results[j].status == CONF_SKIP;
            t += c->results[j].seconds;
        }
        fprintf(f, "  <testsuite name=\"");
        xml_escaped(f, suite);
        fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n", n, nf, ns,
                t);
        for (size_t j = i; j < c->n_results; j++) {
            const conf_result *r = &c->results[j];
            if (strcmp(r->suite, suite) != 0)
                continue;
            fprintf(f, "    <testcase classname=\"");
            xml_escaped(f, suite);
            fprintf(f, "\" name=\"");
            xml_escaped(f, r->check);
            fprintf(f, "\" time=\"%.3f\"", r->seconds);
            if (r->status == CONF_PASS) {
                fprintf(f, "/>\n");
                continue;
            }
            fprintf(f, ">\n      <%s message=\"", r->status == CONF_FAIL ? "failure" : "skipped");
            xml_escaped(f, r->reason);
            fprintf(f, "\"/>\n    </testcase>\n");
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
    if (fclose(f) != 0)
        return bk_err_set(err, BK_EIO, "cannot write JUnit report %s", path);
    return BK_OK;
}

void conf_results_free(conf_ctx *c)
{
    for (size_t i = 0; i < c->n_results; i++) {
        free(c->results[i].suite);
        free(c->results[i].check);
        free(c->results[i].reason);
    }
    free(c->results);
    c->results = NULL;
    c->n_results = c->cap_results = 0;
}
