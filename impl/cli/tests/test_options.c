/* The CLI's one option layer, through build/bin/bkcache as a child:
 *  - every command answers --help on stdout with status 0, and every
 *    command that talks to S3 documents the network options;
 *  - an unknown option, a missing value and a bad value are one line on
 *    stderr naming the option, with status 2;
 *  - messages that echo user or server input escape control and invalid
 *    bytes instead of sending them to the terminal (attribute values,
 *    paths, manifest keys, warnings), and so does explain's text output
 *    (what a manifest or a bucket listing holds);
 *  - with --strict a value BuildKit would ignore is an error that does not
 *    say "ignored". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inproc.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define BUCKET "options"
#define AK "AKIDOPTIONSTEST"
#define SK "options-test-secret"
#define GRAPH (BK_FIXTURES_DIR "/graphs/linear.json")

static void run(const char *const argv[], int want_exit, bk_proc_result *r)
{
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, 60, r), 0);
    assert_false(r->timed_out);
    if (r->exit_code != want_exit)
        fail_msg("bkcache %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", argv[1], r->exit_code,
                 want_exit, r->out, r->err);
}

/* Exactly one line, ending in a newline. */
static void assert_one_line(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n' || memchr(text, '\n', len - 1) != NULL)
        fail_msg("want exactly one line, got:\n%s", text);
}

/* No byte a terminal would act on, and only valid UTF-8 (here: ASCII). */
static void assert_printable(const char *what, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p >= 0x7f)
            fail_msg("%s prints the raw byte 0x%02x:\n%s", what, *p, text);
}

static void every_command_answers_help(void **state)
{
    (void)state;
    static const char *const cmds[] = {"demo", "export",    "import", "push",   "pull",
                                       "fmt",  "normalize", "sigv4",  "explain"};
    static const char *const net[] = {"export", "import", "push", "pull", "explain"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *argv[] = {BKCACHE, cmds[i], "--help", NULL};
        bk_proc_result r;
        run(argv, 0, &r);
        if (strncmp(r.out, "usage: bkcache ", 15) != 0)
            fail_msg("%s --help: %s", cmds[i], r.out);
        assert_string_equal(r.err, "");
        bk_proc_result_clear(&r);
    }
    for (size_t i = 0; i < sizeof net / sizeof net[0]; i++) {
        const char *argv[] = {BKCACHE, net[i], "--help", NULL};
        bk_proc_result r;
        run(argv, 0, &r);
        static const char *const flags[] = {"--connect-timeout SECONDS", "--timeout SECONDS",
                                            "--ca-bundle FILE", "--insecure"};
        for (size_t k = 0; k < 4; k++)
            if (strstr(r.out, flags[k]) == NULL)
                fail_msg("%s --help does not document %s:\n%s", net[i], flags[k], r.out);
        bk_proc_result_clear(&r);
    }
}

static void usage_errors_are_one_line(void **state)
{
    (void)state;
    static const char *const cmds[] = {"demo", "export", "import",    "push",
                                       "pull", "fmt",    "normalize", "explain"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *argv[] = {BKCACHE, cmds[i], "--bogus", NULL};
        bk_proc_result r;
        run(argv, 2, &r);
        assert_one_line(r.err);
        char want[128];
        snprintf(want, sizeof want, "bkcache %s: unknown option '--bogus'", cmds[i]);
        if (strstr(r.err, want) == NULL)
            fail_msg("%s --bogus: %s", cmds[i], r.err);
        bk_proc_result_clear(&r);
    }
    const char *no_value[] = {BKCACHE, "export", "--graph", NULL};
    bk_proc_result r;
    run(no_value, 2, &r);
    assert_one_line(r.err);
    assert_non_null(strstr(r.err, "bkcache export: option --graph needs a value"));
    bk_proc_result_clear(&r);

    static const char *const bad[][2] = {
        {"--timeout", "0"},           {"--timeout", "soon"},  {"--connect-timeout", "-1"},
        {"--connect-timeout", "1e9"}, {"--part-size", "12Q"}, {"--progress", "fancy"},
        {"--ca-bundle", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {BKCACHE,   "export",     "--graph",
                              GRAPH,     "--cache-to", "type=s3,bucket=bkt,region=r",
                              bad[i][0], bad[i][1],    NULL};
        run(argv, 2, &r);
        assert_one_line(r.err);
        if (strstr(r.err, bad[i][0]) == NULL)
            fail_msg("%s %s: the message does not name the option: %s", bad[i][0], bad[i][1],
                     r.err);
        bk_proc_result_clear(&r);
    }
}

static void messages_escape_raw_bytes(void **state)
{
    (void)state;
    char good[1024], attrs[1200];
    ms3_server *mock = bk_inproc_mock_start(BUCKET, AK, SK, NULL, good, sizeof good);
    assert_non_null(mock);
    bk_proc_result r;

    /* An attribute value in an error. */
    const char *bucket[] = {BKCACHE, "import", "--cache-from",
                            "type=s3,bucket=\x1b[31mred\xff,region=r", NULL};
    run(bucket, 2, &r);
    assert_printable("a bad bucket name", r.err);
    assert_non_null(strstr(r.err, "\\x1b[31mred\\xff"));
    bk_proc_result_clear(&r);

    /* A path in an error. */
    const char *path[] = {BKCACHE, "fmt", "/nonexistent/\x1b]0;title\x07.json", NULL};
    run(path, 2, &r);
    assert_printable("a missing file", r.err);
    assert_non_null(strstr(r.err, "\\x1b]0;title\\x07.json"));
    bk_proc_result_clear(&r);

    /* A warning (an unknown attribute) and a status line (the manifest key
     * of an empty cache, from name=). */
    snprintf(attrs, sizeof attrs, "%s,\x1b[2Jwipe=1,name=\x1b[1mbold", good);
    const char *imp[] = {BKCACHE, "import", "--cache-from", attrs, "--progress", "quiet", NULL};
    run(imp, 0, &r);
    assert_printable("warnings and the empty-cache line", r.err);
    assert_non_null(strstr(r.err, "warning: unknown attribute \"\\x1b[2jwipe\""));
    assert_non_null(strstr(r.err, "manifests/\\x1b[1mbold: empty cache"));
    bk_proc_result_clear(&r);

    /* Progress lines (the manifest written, from name=). */
    snprintf(attrs, sizeof attrs, "%s,name=\x1b[1mbold", good);
    const char *exp[] = {BKCACHE, "export",     "--graph", GRAPH, "--cache-to",
                         attrs,   "--progress", "plain",   NULL};
    run(exp, 0, &r);
    assert_printable("export's progress", r.err);
    assert_non_null(strstr(r.err, "manifest manifests/\\x1b[1mbold"));
    bk_proc_result_clear(&r);

    /* Explain's text echoes what a manifest holds (a selector here). */
    char dir[256], manifest[400];
    assert_int_equal(bk_tmpdir(dir, sizeof dir), 0);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    static const char evil[] =
        "{\"layers\":[],\"records\":[{\"digest\":\"sha256:"
        "40dd95f37a37551abc6cd54488109030e283f8fb36b8ea4e095870e3ef469b36\"},{\"digest\":"
        "\"sha256:21fa43322ecabf6fbebb868ee11b0e91ed40b27306adbb90b228193b95fb0d32\","
        "\"inputs\":[[{\"link\":0,\"selector\":\"\\u001b[31mEVIL\\u202e\"}]]}]}";
    assert_int_equal(bk_write_file(manifest, evil, strlen(evil)), 0);
    const char *explain[] = {BKCACHE, "explain", manifest, "--no-ages", NULL};
    run(explain, 0, &r);
    assert_null(strchr(r.out, '\x1b'));
    /* U+202E, the right-to-left override, in UTF-8 (bytes, not a literal that
     * would itself reorder this line in an editor). */
    static const char rlo[] = {(char)0xe2, (char)0x80, (char)0xae, 0};
    assert_null(strstr(r.out, rlo));
    assert_non_null(strstr(r.out, "selector \"\\x1b[31mEVIL\\u202e\""));
    bk_proc_result_clear(&r);
    bk_rmtree(dir);

    /* Valid UTF-8 is text, not an escape. */
    snprintf(attrs, sizeof attrs, "%s,name=caf\xc3\xa9", good);
    const char *utf8[] = {BKCACHE, "import", "--cache-from", attrs, "--progress", "quiet", NULL};
    run(utf8, 0, &r);
    assert_non_null(strstr(r.err, "manifests/caf\xc3\xa9: empty cache"));
    bk_proc_result_clear(&r);
    ms3_server_stop(mock);
}

static void strict_errors_do_not_say_ignored(void **state)
{
    (void)state;
    static const char *const attrs[] = {
        "type=s3,bucket=bkt,region=r,touch_refresh=1d",
        "type=s3,bucket=bkt,region=r,mode=maximal",
        "type=s3,bucket=bkt,region=r,use_path_style=maybe",
        "type=s3,bucket=bkt,region=r,no_such_attribute=1",
        "type=s3,bucket=bkt,region=r,use_path_style=true",
        "type=s3,bucket=bkt,region=r,access_key_id=AK",
        "type=s3,bucket=bkt,region=r,name=a;;b",
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const char *argv[] = {BKCACHE,      "export", "--graph",  GRAPH,
                              "--cache-to", attrs[i], "--strict", NULL};
        bk_proc_result r;
        run(argv, 2, &r);
        assert_one_line(r.err);
        if (strstr(r.err, "ignore") != NULL && strstr(r.err, "BuildKit ignores") == NULL)
            fail_msg("--strict with %s says it ignored the value: %s", attrs[i], r.err);
        if (strstr(r.err, "ignored") != NULL || strstr(r.err, "dropped") != NULL ||
            strstr(r.err, "using ") != NULL)
            fail_msg("--strict with %s reports a fallback it did not take: %s", attrs[i], r.err);
        assert_non_null(strstr(r.err, "strict"));
        bk_proc_result_clear(&r);
        /* Without --strict the same value is a warning naming the fallback. */
        const char *lax[] = {BKCACHE,      "export", "--graph", "/nonexistent.json",
                             "--cache-to", attrs[i], NULL};
        run(lax, 2, &r);
        assert_non_null(strstr(r.err, "warning: "));
        bk_proc_result_clear(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_command_answers_help),
        cmocka_unit_test(usage_errors_are_one_line),
        cmocka_unit_test(messages_escape_raw_bytes),
        cmocka_unit_test(strict_errors_do_not_say_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
