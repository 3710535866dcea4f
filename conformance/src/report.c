/* Check results: one line per check as it finishes (PASS, FAIL, SKIP, or WARN
 * for a failed recommended check), the counts, JUnit XML. */
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
    c->case_serial++;
    c->case_prefix[0] = '\0';
    free(c->case_attrs);
    c->case_attrs = NULL;
    c->case_mark = c->details ? conf_journal_mark(c) : 0;
}

static conf_result *new_result(conf_ctx *c)
{
    if (c->n_results == c->cap_results) {
        size_t cap = c->cap_results ? c->cap_results * 2 : 64;
        conf_result *nr = realloc(c->results, cap * sizeof *nr);
        if (nr == NULL)
            return NULL;
        c->results = nr;
        c->cap_results = cap;
    }
    return &c->results[c->n_results++];
}

conf_result *conf_result_add(conf_ctx *c, const char *suite, const char *check, conf_status st,
                             conf_level level, const char *beyond, const char *reason,
                             double seconds)
{
    conf_result *r = new_result(c);
    if (r == NULL) {
        fprintf(stderr, "bkcache-conformance: out of memory\n");
        return NULL;
    }
    r->suite = strdup(suite);
    r->check = strdup(check);
    r->status = st;
    r->level = level;
    r->beyond = beyond;
    r->reason = strdup(reason);
    r->seconds = seconds;
    r->detail = NULL;
    return r;
}

/* The level decides how a failure is reported: a recommended check that
 * failed is a WARN (FAIL with --strict), and says what BuildKit does. */
static conf_status apply_level(const conf_ctx *c, const conf_check *def, conf_status st,
                               char *reason, size_t size)
{
    if (def == NULL || def->level != CONF_RECOMMENDED || (st != CONF_FAIL && st != CONF_WARN))
        return st;
    size_t len = strlen(reason);
    snprintf(reason + len, size - len, " (recommended: %s)", def->beyond);
    return c->strict ? CONF_FAIL : CONF_WARN;
}

const conf_check *conf_check_find(const conf_ctx *c, const char *suite, const char *check)
{
    for (size_t i = 0; i < c->n_suites; i++) {
        if (strcmp(c->suites[i].name, suite) != 0)
            continue;
        const conf_check *family = NULL;
        for (const conf_check *k = c->suites[i].checks; k->name != NULL; k++) {
            size_t len = strlen(k->name);
            if (strcmp(k->name, check) == 0)
                return k;
            if (len > 0 && k->name[len - 1] == '*' && strncmp(k->name, check, len - 1) == 0)
                family = k;
        }
        return family;
    }
    return NULL;
}

/* Records one check's outcome and prints its line; reason (size bytes) is
 * the formatted reason, extended in place. */
static void record(conf_ctx *c, const char *suite, const char *check, conf_status st, char *reason,
                   size_t size)
{
    const conf_check *def = conf_check_find(c, suite, check);
    conf_level level = def != NULL ? def->level : CONF_REQUIRED;
    if (def == NULL) {
        /* A check without a table entry has no level: a bug of the runner. */
        st = CONF_FAIL;
        snprintf(reason, size, "internal: %s.%s is not in its suite's table of checks (no level)",
                 suite, check);
    }
    st = apply_level(c, def, st, reason, size);
    /* One line per check: a reason never spans lines. */
    for (char *p = reason; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    double now = conf_now();
    double secs = c->check_started > 0 ? now - c->check_started : 0;
    c->check_started = now;
    conf_result *r = conf_result_add(
        c, suite, check, st, level,
        def != NULL && def->level == CONF_RECOMMENDED ? def->beyond : NULL, reason, secs);
    if (r == NULL)
        return;
    printf("%s %s.%s%s%s\n", conf_status_word(st), suite, check, reason[0] ? " \xe2\x80\x94 " : "",
           reason);
    fflush(stdout);
    if (c->details)
        conf_detail_record(c, r);
}

void conf_report(conf_ctx *c, const char *suite, const char *check, conf_status st, const char *fmt,
                 ...)
{
    char reason[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (n < 0)
        reason[0] = '\0';
    record(c, suite, check, st, reason, sizeof reason);
}

void conf_skip_needs_mock(conf_ctx *c, const char *suite, const char *check, const char *what)
{
    char reason[2048];
    snprintf(reason, sizeof reason, "skipped (needs mock): %s", what);
    record(c, suite, check, CONF_SKIP, reason, sizeof reason);
}

conf_counts conf_summary(const conf_ctx *c)
{
    conf_counts n = {0, 0, 0, 0};
    for (size_t i = 0; i < c->n_results; i++) {
        switch (c->results[i].status) {
        case CONF_PASS:
            n.passed++;
            break;
        case CONF_FAIL:
            n.failed++;
            break;
        case CONF_WARN:
            n.warned++;
            break;
        default:
            n.skipped++;
        }
    }
    return n;
}

/* One <testcase>: its level as a property; a warning is a passing test case
 * that says so (property and system-out), so dashboards stay green. */
static void junit_case(FILE *f, const conf_result *r)
{
    fprintf(f, "    <testcase classname=\"");
    conf_markup_escaped(f, r->suite);
    fprintf(f, "\" name=\"");
    conf_markup_escaped(f, r->check);
    fprintf(f, "\" time=\"%.3f\">\n", r->seconds);
    fprintf(f, "      <properties>\n        <property name=\"level\" value=\"%s\"/>\n",
            conf_level_name(r->level));
    if (r->status == CONF_WARN) {
        fprintf(f, "        <property name=\"warning\" value=\"");
        conf_markup_escaped(f, r->reason);
        fprintf(f, "\"/>\n");
    }
    fprintf(f, "      </properties>\n");
    if (r->status == CONF_FAIL || r->status == CONF_SKIP) {
        fprintf(f, "      <%s message=\"", r->status == CONF_FAIL ? "failure" : "skipped");
        conf_markup_escaped(f, r->reason);
        fprintf(f, "\"/>\n");
    } else if (r->status == CONF_WARN) {
        fprintf(f, "      <system-out>WARN %s.%s \xe2\x80\x94 ", r->suite, r->check);
        conf_markup_escaped(f, r->reason);
        fprintf(f, "</system-out>\n");
    }
    fprintf(f, "    </testcase>\n");
}

int conf_first_of_suite(const conf_ctx *c, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(c->results[j].suite, c->results[i].suite) == 0)
            return 0;
    return 1;
}

bk_code conf_write_junit(const conf_ctx *c, const char *path, bk_err *err)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return bk_err_set(err, BK_EIO, "cannot write JUnit report %s", path);
    conf_counts all = conf_summary(c);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"bkcache-conformance\" tests=\"%zu\" failures=\"%zu\" "
            "skipped=\"%zu\">\n",
            c->n_results, all.failed, all.skipped);
    /* One <testsuite> per suite, in the order suites first reported. */
    for (size_t i = 0; i < c->n_results; i++) {
        if (!conf_first_of_suite(c, i))
            continue;
        const char *suite = c->results[i].suite;
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
        conf_markup_escaped(f, suite);
        fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n", n, nf, ns,
                t);
        for (size_t j = i; j < c->n_results; j++)
            if (strcmp(c->results[j].suite, suite) == 0)
                junit_case(f, &c->results[j]);
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
        conf_detail_free(c->results[i].detail);
    }
    free(c->results);
    c->results = NULL;
    c->n_results = c->cap_results = 0;
}
