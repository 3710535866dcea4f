/* credential_process: the command line split without a shell, the JSON it
 * prints (Version 1, Expiration), and the hostile cases, each a clear error
 * naming the profile in bounded time: a process that hangs, prints garbage,
 * prints too much, exits non-zero or cannot be run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "envtable.h"
#include "bkcache/creds.h"
#include "cachegen.h"

typedef struct fx {
    char dir[64];
    char conf[128];
    const char *vars[9];
    bk_env env;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/bk-process-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/config", f->dir);
    const char *vars[] = {"HOME",        f->dir,   "AWS_CONFIG_FILE",           f->conf,
                          "AWS_PROFILE", "helper", "AWS_EC2_METADATA_DISABLED", "true",
                          NULL};
    memcpy(f->vars, vars, sizeof vars);
    f->env.get = bk_test_env_table_get;
    f->env.ud = (void *)f->vars;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    bk_test_rmtree(f->dir);
    free(f);
    return 0;
}

/* An executable script DIR/name with body; its path in out. */
static void script(fx *f, const char *name, const char *body, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->dir, name);
    FILE *fp = fopen(out, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n%s\n", body);
    fclose(fp);
    assert_int_equal(chmod(out, 0700), 0);
}

/* The profile "helper" with credential_process = command. */
static void profile(fx *f, const char *command)
{
    FILE *fp = fopen(f->conf, "w");
    assert_non_null(fp);
    fprintf(fp, "[profile helper]\ncredential_process = %s\n", command);
    fclose(fp);
}

static bk_code fetch(fx *f, bk_creds *out, bk_err *err)
{
    bk_creds_chain_options o = {.env = &f->env, .credential_process_timeout_ms = 2000};
    bk_creds_provider *p = bk_creds_provider_chain(&o, err);
    assert_non_null(p);
    bk_code rc = bk_creds_fetch(p, out, err);
    bk_creds_provider_free(p);
    return rc;
}

static void prints_credentials(void **state)
{
    fx *f = *state;
    char path[128], cmd[512], args[160];
    snprintf(args, sizeof args, "%s/args", f->dir);
    char body[512];
    snprintf(body, sizeof body,
             "for a in \"$@\"; do printf '[%%s]' \"$a\"; done > %s\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"ASIAPROCESS0000001\", "
             "\"SecretAccessKey\": \"process-secret\", \"SessionToken\": \"process-token\", "
             "\"Expiration\": \"2030-01-02T03:04:05Z\"}'",
             args);
    script(f, "print creds", body, path, sizeof path);
    /* Quoted as a shell would, but no shell runs: $HOME stays as written. */
    snprintf(cmd, sizeof cmd, "\"%s\" 'one two' three\\ four \"$HOME\" \"a\\\"b\"", path);
    profile(f, cmd);
    bk_creds c;
    bk_err err = {0};
    if (fetch(f, &c, &err) != BK_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(c.access_key_id, "ASIAPROCESS0000001");
    assert_string_equal(c.secret_access_key, "process-secret");
    assert_string_equal(c.session_token, "process-token");
    assert_int_equal((long long)c.expires, 1893553445LL);
    assert_string_equal(c.source, "profile helper (credential_process)");
    bk_creds_clear(&c);
    size_t len = 0;
    char *seen = bk_test_read_file(args, &len);
    assert_non_null(seen);
    assert_string_equal(seen, "[one two][three four][$HOME][a\"b]");
    free(seen);
}

static void hostile_processes(void **state)
{
    fx *f = *state;
    static const struct {
        const char *name, *body;
        bk_code code;
        const char *says;
    } cases[] = {
        {"hangs", "exec sleep 30", BK_ETIMEOUT,
         "profile helper: credential_process did not finish within 2000 ms"},
        {"closes-and-stays", "exec >&-\nsleep 30", BK_ETIMEOUT,
         "credential_process did not exit within 2000 ms"},
        {"garbage", "echo 'Hunter2-not-json'", BK_EPROTO,
         "profile helper: credential_process printed no JSON object"},
        {"version", "echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'",
         BK_EPROTO, "no \"Version\": 1"},
        {"no-secret", "echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'", BK_EPROTO,
         "has no SecretAccessKey"},
        {"too-much", "head -c 100000 /dev/zero | tr '\\\\0' x", BK_EPROTO, "more than 64 KiB"},
        {"fails", "echo 'helper: token expired' >&2\nexit 3", BK_EAUTH, "exited with status 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        script(f, cases[i].name, cases[i].body, path, sizeof path);
        profile(f, path);
        bk_creds c;
        bk_err err = {0};
        bk_code rc = fetch(f, &c, &err);
        if (rc != cases[i].code || strstr(err.msg, cases[i].says) == NULL)
            fail_msg("%s: code %d, \"%s\"; want %d and \"%s\"", cases[i].name, rc, err.msg,
                     cases[i].code, cases[i].says);
        assert_null(strstr(err.msg, "Hunter2"));
    }
}

static void bad_command_lines(void **state)
{
    fx *f = *state;
    bk_creds c;
    bk_err err = {0};
    profile(f, "'unterminated");
    assert_int_equal(fetch(f, &c, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "profile helper: credential_process: a ' is not closed"));
    profile(f, "/nonexistent/helper --flag");
    assert_int_equal(fetch(f, &c, &err), BK_EINVAL);
    assert_non_null(strstr(err.msg, "cannot run /nonexistent/helper"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(prints_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_command_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
