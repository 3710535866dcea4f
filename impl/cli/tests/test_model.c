/* bkcache fmt / normalize end to end: every golden case byte for byte through
 * the binary (file and stdin), --check and --pretty, the normalize fixtures,
 * and one-line errors with exit status 2 for every reject fixture. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")

static char *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void run(const char *const argv[], const char *stdin_data, size_t stdin_len,
                bk_proc_result *res)
{
    assert_int_equal(bk_proc_run(argv, NULL, stdin_data, stdin_len, 30, res), 0);
    assert_false(res->timed_out);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_json(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = calloc(256, sizeof *names);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 255) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    *count = n;
    return names;
}

static void fmt_golden_cases(void **state)
{
    (void)state;
    const char *dir = BK_FIXTURES_DIR "/config/golden";
    size_t n;
    char **names = list_json(dir, &n);
    assert_true(n >= 19);
    for (size_t i = 0; i < n; i++) {
        char in_path[512], exp_path[512];
        snprintf(in_path, sizeof in_path, "%s/%s", dir, names[i]);
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", dir, (int)(strlen(names[i]) - 5),
                 names[i]);
        size_t in_len, exp_len;
        char *in = slurp(in_path, &in_len), *exp = slurp(exp_path, &exp_len);
        bk_proc_result res;
        const char *by_file[] = {BKCACHE, "fmt", in_path, NULL};
        run(by_file, NULL, 0, &res);
        assert_int_equal(res.exit_code, 0);
        if (strcmp(res.out, exp) != 0)
            fail_msg("%s:\n got %s\nwant %s", names[i], res.out, exp);
        bk_proc_result_clear(&res);
        /* stdin, implicit and explicit "-" */
        const char *by_stdin[] = {BKCACHE, "fmt", NULL};
        const char *by_dash[] = {BKCACHE, "fmt", "-", NULL};
        run(by_stdin, in, in_len, &res);
        assert_int_equal(res.exit_code, 0);
        assert_string_equal(res.out, exp);
        bk_proc_result_clear(&res);
        run(by_dash, in, in_len, &res);
        assert_string_equal(res.out, exp);
        bk_proc_result_clear(&res);
        /* --check: the expected bytes are canonical; the input is not unless equal */
        const char *check[] = {BKCACHE, "fmt", "--check", "-", NULL};
        run(check, exp, exp_len, &res);
        assert_int_equal(res.exit_code, 0);
        assert_string_equal(res.out, "");
        bk_proc_result_clear(&res);
        run(check, in, in_len, &res);
        bool canonical = in_len == exp_len && memcmp(in, exp, in_len) == 0;
        assert_int_equal(res.exit_code, canonical ? 0 : 1);
        if (!canonical)
            assert_non_null(strstr(res.err, "not in canonical form"));
        bk_proc_result_clear(&res);
        free(in);
        free(exp);
        free(names[i]);
    }
    free(names);
}

static void fmt_pretty_is_indented_and_equivalent(void **state)
{
    (void)state;
    const char *path = BK_FIXTURES_DIR "/config/golden/04-s3-manifest-pretty.json";
    const char *pretty[] = {BKCACHE, "fmt", "--pretty", path, NULL};
    bk_proc_result res, back;
    run(pretty, NULL, 0, &res);
    assert_int_equal(res.exit_code, 0);
    assert_memory_equal(res.out, "{\n  \"layers\": [\n    {\n      \"blob\": ", 36);
    assert_int_equal(res.out[strlen(res.out) - 1], '\n');
    /* formatting the pretty form again gives the compact canonical bytes */
    const char *fmt[] = {BKCACHE, "fmt", NULL};
    run(fmt, res.out, strlen(res.out), &back);
    size_t exp_len;
    char *exp = slurp(BK_FIXTURES_DIR "/config/golden/04-s3-manifest-pretty.expected", &exp_len);
    assert_string_equal(back.out, exp);
    free(exp);
    bk_proc_result_clear(&res);
    bk_proc_result_clear(&back);
    const char *both[] = {BKCACHE, "fmt", "--pretty", "--check", path, NULL};
    run(both, NULL, 0, &res);
    assert_int_equal(res.exit_code, 2);
    bk_proc_result_clear(&res);
}

static void normalize_fixtures(void **state)
{
    (void)state;
    static const char *const cases[] = {"scrambled-linear-max", "scrambled-diamond-max",
                                        "scrambled-twolinks-min", "newest-result-wins",
                                        "chains-become-layers"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in_path[512], exp_path[512];
        snprintf(in_path, sizeof in_path, "%s/config/normalize/%s.json", BK_FIXTURES_DIR, cases[i]);
        snprintf(exp_path, sizeof exp_path, "%s/config/normalize/%s.expected", BK_FIXTURES_DIR,
                 cases[i]);
        size_t exp_len;
        char *exp = slurp(exp_path, &exp_len);
        const char *argv[] = {BKCACHE, "normalize", in_path, NULL};
        bk_proc_result res;
        run(argv, NULL, 0, &res);
        assert_int_equal(res.exit_code, 0);
        if (strcmp(res.out, exp) != 0)
            fail_msg("%s:\n got %s\nwant %s", cases[i], res.out, exp);
        bk_proc_result_clear(&res);
        free(exp);
    }
    /* --local accepts a config whose layers carry no annotations */
    const char *bare = BK_FIXTURES_DIR "/config/golden/05-parent-zero-omitted.expected";
    const char *s3[] = {BKCACHE, "normalize", bare, NULL};
    const char *local[] = {BKCACHE, "normalize", "--local", bare, NULL};
    bk_proc_result res;
    run(s3, NULL, 0, &res);
    assert_int_equal(res.exit_code, 2);
    assert_non_null(strstr(res.err, "layers[0]: cache layer with missing annotations"));
    bk_proc_result_clear(&res);
    run(local, NULL, 0, &res);
    assert_int_equal(res.exit_code, 0);
    assert_string_equal(res.out, "{}"); /* no records: nothing to export */
    bk_proc_result_clear(&res);
}

static void rejects_exit_2_with_one_line(void **state)
{
    (void)state;
    const char *dir = BK_FIXTURES_DIR "/config/reject";
    size_t n;
    char **names = list_json(dir, &n);
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        char in_path[512], err_path[512];
        snprintf(in_path, sizeof in_path, "%s/%s", dir, names[i]);
        snprintf(err_path, sizeof err_path, "%s/%.*s.error", dir, (int)(strlen(names[i]) - 5),
                 names[i]);
        size_t want_len;
        char *want = slurp(err_path, &want_len);
        while (want_len && want[want_len - 1] == '\n')
            want[--want_len] = '\0';
        const char *argv[] = {BKCACHE, "normalize", in_path, NULL};
        bk_proc_result res;
        run(argv, NULL, 0, &res);
        assert_int_equal(res.exit_code, 2);
        assert_string_equal(res.out, "");
        char line[2048];
        snprintf(line, sizeof line, "bkcache normalize: %s: %s\n", in_path, want);
        if (strcmp(res.err, line) != 0)
            fail_msg("%s:\n got %s\nwant %s", names[i], res.err, line);
        bk_proc_result_clear(&res);
        free(want);
        free(names[i]);
    }
    free(names);
    /* fmt refuses what the decoder refuses, also with the JSON path */
    const char *argv[] = {BKCACHE, "fmt", BK_FIXTURES_DIR "/config/reject/parent-not-a-number.json",
                          NULL};
    bk_proc_result res;
    run(argv, NULL, 0, &res);
    assert_int_equal(res.exit_code, 2);
    assert_non_null(strstr(res.err, "layers[0].parent: cannot unmarshal string into an integer"));
    assert_ptr_equal(strchr(res.err, '\n'), res.err + strlen(res.err) - 1);
    bk_proc_result_clear(&res);
    const char *missing[] = {BKCACHE, "fmt", "/nonexistent/manifest.json", NULL};
    run(missing, NULL, 0, &res);
    assert_int_equal(res.exit_code, 2);
    bk_proc_result_clear(&res);
    const char *badopt[] = {BKCACHE, "normalize", "--bogus", NULL};
    run(badopt, NULL, 0, &res);
    assert_int_equal(res.exit_code, 2);
    bk_proc_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmt_golden_cases),
        cmocka_unit_test(fmt_pretty_is_indented_and_equivalent),
        cmocka_unit_test(normalize_fixtures),
        cmocka_unit_test(rejects_exit_2_with_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
