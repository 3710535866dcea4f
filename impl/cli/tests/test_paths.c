/* The paths bkcache opens in a user's directories, through build/bin/bkcache
 * as a child against an in-process mock on 127.0.0.1:0:
 *  - a FIFO (or any other file that is not a regular file) where a file is
 *    read is refused with a message naming it, never waited on: push's
 *    index.json, cache root and layer blobs; an index.json already in pull's
 *    directory; the files fmt, normalize and explain read; a graph fixture.
 *    A FIFO named like a blob in an import's destination is replaced by the
 *    verified download, as a corrupt blob is;
 *  - push follows symbolic links for every file of the cache it reads, as
 *    BuildKit's readers do; a destination is never written through a link,
 *    and a linked blobs/sha256 there is reported as a link;
 *  - --dest and pull's directory are created with their parents;
 *  - an invalid attribute (a bad bucket name) creates nothing on disk.
 * Every child runs under a deadline: a hang fails the test instead of
 * blocking it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "inproc.h"
#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define BUCKET "paths"
#define AK "AKIDPATHSTEST"
#define SK "paths-test-secret"
#define LOCAL (BK_FIXTURES_DIR "/local/oci-index")
#define GRAPH (BK_FIXTURES_DIR "/graphs/linear.json")
/* fixtures/local/oci-index: its cache root, its cache config and one layer. */
#define ROOT_HEX "7243fe4970a98ba5c0f49f507cc9319f07bd65d73fb9913c7f34b6a195e837f5"
#define CONFIG_HEX "96187f7e13bd85897e46f66fbd9d1c1f5a6d33859414562313d6895f8bb16194"
#define LAYER_HEX "634f7453eed04444c4ea612907b4d7ef63e8653c56321f346a45bcd428ae94df"
/* Long enough for any of these commands; a child waiting on a FIFO would
 * wait forever. */
#define DEADLINE_S 20

typedef struct fx {
    ms3_server *mock;
    char attrs[1024];
    char tmp[256];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (bk_tmpdir(f->tmp, sizeof f->tmp) != 0 ||
        (f->mock = bk_inproc_mock_start(BUCKET, AK, SK, "retry_max_attempts=1", f->attrs,
                                        sizeof f->attrs)) == NULL) {
        if (f->tmp[0] != '\0')
            bk_rmtree(f->tmp);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ms3_server_stop(f->mock);
    bk_rmtree(f->tmp);
    free(f);
    return 0;
}

/* Runs bkcache; fails when it hangs or exits otherwise than want_exit. */
static void run(const char *const argv[], int want_exit, bk_proc_result *r)
{
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, DEADLINE_S, r), 0);
    if (r->timed_out)
        fail_msg("bkcache %s hung (killed after %d s)\nstderr:\n%s", argv[1], DEADLINE_S, r->err);
    if (r->exit_code != want_exit)
        fail_msg("bkcache %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", argv[1], r->exit_code,
                 want_exit, r->out, r->err);
}

static void expect_err(const bk_proc_result *r, const char *needle)
{
    if (strstr(r->err, needle) == NULL)
        fail_msg("stderr lacks \"%s\":\n%s", needle, r->err);
}

static void copy_tree(const char *from, const char *to)
{
    const char *argv[] = {"cp", "-R", from, to, NULL};
    bk_proc_result r;
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, 30, &r), 0);
    assert_int_equal(r.exit_code, 0);
    bk_proc_result_clear(&r);
}

/* A fresh copy of the type=local fixture at tmp/name; fills path. */
static void local_copy(const fx *f, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", f->tmp, name);
    copy_tree(LOCAL, path);
}

/* Replaces dir/rel by a FIFO nobody writes to. */
static void make_fifo(const char *dir, const char *rel)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    unlink(p);
    assert_int_equal(mkfifo(p, 0644), 0);
}

/* Moves dir/rel to outside and puts a symbolic link to it in its place. */
static void make_link_out(const char *dir, const char *rel, const char *outside)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(rename(p, outside), 0);
    assert_int_equal(symlink(outside, p), 0);
}

static void push(const fx *f, const char *dir, int want_exit, bk_proc_result *r)
{
    const char *argv[] = {BKCACHE,  "push",       dir,     "--cache-to",
                          f->attrs, "--progress", "quiet", NULL};
    run(argv, want_exit, r);
}

static void push_refuses_fifos_instead_of_hanging(void **state)
{
    fx *f = *state;
    static const char *const files[] = {"index.json", "blobs/sha256/" ROOT_HEX,
                                        "blobs/sha256/" CONFIG_HEX, "blobs/sha256/" LAYER_HEX};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char dir[400], name[32];
        snprintf(name, sizeof name, "fifo-%zu", i);
        local_copy(f, name, dir, sizeof dir);
        make_fifo(dir, files[i]);
        bk_proc_result r;
        /* A layer blob is opened when it is uploaded (the export fails: 1);
         * the other files while the cache is read (bad input: 2). */
        push(f, dir, i == 3 ? 1 : 2, &r);
        expect_err(&r, "not a regular file");
        expect_err(&r, "FIFO");
        bk_proc_result_clear(&r);
    }
}

static void destination_fifos_are_refused(void **state)
{
    fx *f = *state;
    bk_proc_result r;
    push(f, LOCAL, 0, &r);
    bk_proc_result_clear(&r);

    /* A FIFO named like a blob the import fetches: what is there is checked
     * without waiting on it and, not being that blob, replaced by the
     * verified download, as a corrupt blob would be. */
    char dest[400];
    snprintf(dest, sizeof dest, "%s/import-dest", f->tmp);
    const char *prep[] = {BKCACHE, "import",     "--cache-from", f->attrs, "--dest",
                          dest,    "--progress", "quiet",        NULL};
    run(prep, 0, &r);
    bk_proc_result_clear(&r);
    make_fifo(dest, "blobs/sha256/" LAYER_HEX);
    run(prep, 0, &r);
    bk_proc_result_clear(&r);
    char blob[600];
    snprintf(blob, sizeof blob, "%s/blobs/sha256/" LAYER_HEX, dest);
    struct stat st;
    assert_int_equal(lstat(blob, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* pull keeps the other tags of an index.json that is there. */
    char pulled[400];
    snprintf(pulled, sizeof pulled, "%s/pull-dest", f->tmp);
    const char *pull[] = {BKCACHE, "pull",       "--cache-from", f->attrs,
                          pulled,  "--progress", "quiet",        NULL};
    run(pull, 0, &r);
    bk_proc_result_clear(&r);
    make_fifo(pulled, "index.json");
    run(pull, 1, &r);
    expect_err(&r, "index.json");
    expect_err(&r, "not a regular file");
    bk_proc_result_clear(&r);
}

static void named_inputs_must_be_regular_files(void **state)
{
    fx *f = *state;
    char fifo[400], local[400];
    snprintf(fifo, sizeof fifo, "%s/input.json", f->tmp);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    local_copy(f, "explain-local", local, sizeof local);
    make_fifo(local, "blobs/sha256/" ROOT_HEX);

    const char *fmt[] = {BKCACHE, "fmt", fifo, NULL};
    const char *normalize[] = {BKCACHE, "normalize", fifo, NULL};
    const char *explain[] = {BKCACHE, "explain", fifo, NULL};
    const char *explain_local[] = {BKCACHE, "explain", local, NULL};
    const char *explain_graph[] = {BKCACHE, "explain", GRAPH, "--graph", fifo, NULL};
    const char *export_graph[] = {BKCACHE,      "export", "--graph",   fifo,
                                  "--cache-to", f->attrs, "--dry-run", NULL};
    const char *const *cases[] = {fmt,           normalize,     explain,
                                  explain_local, explain_graph, export_graph};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_proc_result r;
        run(cases[i], 2, &r);
        expect_err(&r, "not a regular file");
        bk_proc_result_clear(&r);
    }
    /* A directory where a file is read is named as such. */
    const char *dir[] = {BKCACHE, "fmt", f->tmp, NULL};
    bk_proc_result r;
    run(dir, 2, &r);
    expect_err(&r, "not a regular file (a directory)");
    bk_proc_result_clear(&r);
    /* A stream still reads through "-". */
    static const char empty_cfg[] = "{\"layers\":[],\"records\":[]}";
    const char *stdin_fmt[] = {BKCACHE, "fmt", "-", NULL};
    assert_int_equal(bk_proc_run(stdin_fmt, NULL, empty_cfg, strlen(empty_cfg), DEADLINE_S, &r), 0);
    assert_int_equal(r.exit_code, 0);
    bk_proc_result_clear(&r);
}

/* BuildKit reads a type=local cache through containerd's local content
 * store, which stats and opens blob paths following links, and reads
 * index.json the same way: push does as BuildKit does, for every file. */
static void push_follows_links_like_buildkit(void **state)
{
    fx *f = *state;
    char dir[400], out[400];
    local_copy(f, "linked", dir, sizeof dir);
    static const char *const files[] = {"index.json", "blobs/sha256/" ROOT_HEX,
                                        "blobs/sha256/" CONFIG_HEX, "blobs/sha256/" LAYER_HEX};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(out, sizeof out, "%s/outside-%zu", f->tmp, i);
        make_link_out(dir, files[i], out);
    }
    bk_proc_result r;
    push(f, dir, 0, &r);
    bk_proc_result_clear(&r);

    /* blobs/sha256 itself linked elsewhere. */
    char dir2[400], moved[400];
    local_copy(f, "linked-dir", dir2, sizeof dir2);
    snprintf(moved, sizeof moved, "%s/outside-blobs", f->tmp);
    make_link_out(dir2, "blobs/sha256", moved);
    push(f, dir2, 0, &r);
    bk_proc_result_clear(&r);
}

static void destination_links_are_refused_by_name(void **state)
{
    fx *f = *state;
    bk_proc_result r;
    push(f, LOCAL, 0, &r);
    bk_proc_result_clear(&r);
    char dest[400], elsewhere[400], blobs[500];
    snprintf(dest, sizeof dest, "%s/linked-dest", f->tmp);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", f->tmp);
    snprintf(blobs, sizeof blobs, "%s/blobs", dest);
    assert_int_equal(mkdir(dest, 0755), 0);
    assert_int_equal(mkdir(blobs, 0755), 0);
    assert_int_equal(mkdir(elsewhere, 0755), 0);
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dest);
    assert_int_equal(symlink(elsewhere, blobs), 0);
    const char *imp[] = {BKCACHE, "import",     "--cache-from", f->attrs, "--dest",
                         dest,    "--progress", "quiet",        NULL};
    run(imp, 2, &r);
    expect_err(&r, "blobs/sha256");
    expect_err(&r, "symbolic link");
    assert_null(strstr(r.err, "Not a directory"));
    bk_proc_result_clear(&r);
    const char *pull[] = {BKCACHE, "pull",       "--cache-from", f->attrs,
                          dest,    "--progress", "quiet",        NULL};
    run(pull, 2, &r);
    expect_err(&r, "symbolic link");
    bk_proc_result_clear(&r);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void destinations_are_created_with_parents(void **state)
{
    fx *f = *state;
    bk_proc_result r;
    push(f, LOCAL, 0, &r);
    bk_proc_result_clear(&r);
    char dest[400], check[500];
    snprintf(dest, sizeof dest, "%s/a/b/c", f->tmp);
    const char *imp[] = {BKCACHE, "import",     "--cache-from", f->attrs, "--dest",
                         dest,    "--progress", "quiet",        NULL};
    run(imp, 0, &r);
    bk_proc_result_clear(&r);
    snprintf(check, sizeof check, "%s/blobs/sha256/" LAYER_HEX, dest);
    assert_int_equal(access(check, R_OK), 0);

    snprintf(dest, sizeof dest, "%s/x/y/z", f->tmp);
    const char *pull[] = {BKCACHE, "pull",       "--cache-from", f->attrs,
                          dest,    "--progress", "quiet",        NULL};
    run(pull, 0, &r);
    bk_proc_result_clear(&r);
    snprintf(check, sizeof check, "%s/index.json", dest);
    assert_int_equal(access(check, R_OK), 0);
}

static void invalid_attributes_create_nothing(void **state)
{
    fx *f = *state;
    char dest[400], bad[1200];
    snprintf(bad, sizeof bad, "%s,bucket=No_Such_Bucket!", f->attrs);
    for (int pull = 0; pull < 2; pull++) {
        snprintf(dest, sizeof dest, "%s/never-%d", f->tmp, pull);
        const char *imp[] = {BKCACHE, "import", "--cache-from", bad, "--dest", dest, NULL};
        const char *pl[] = {BKCACHE, "pull", "--cache-from", bad, dest, NULL};
        bk_proc_result r;
        run(pull ? pl : imp, 2, &r);
        expect_err(&r, "bucket");
        bk_proc_result_clear(&r);
        if (is_dir(dest))
            fail_msg("%s was created by a run that failed on its attributes", dest);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(push_refuses_fifos_instead_of_hanging, setup, teardown),
        cmocka_unit_test_setup_teardown(destination_fifos_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(named_inputs_must_be_regular_files, setup, teardown),
        cmocka_unit_test_setup_teardown(push_follows_links_like_buildkit, setup, teardown),
        cmocka_unit_test_setup_teardown(destination_links_are_refused_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(destinations_are_created_with_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_attributes_create_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
