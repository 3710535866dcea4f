/* The standalone mock-s3 binary: flags, the ready line, serving requests, data dir
 * and journal file, clean exit on SIGTERM and SIGINT. Every child is reaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms3_test.h"

#define MOCK_BIN (BK_BIN_DIR "/mock-s3")

typedef struct child {
    pid_t pid;
    FILE *out; /* its stdout */
    char url[128];
} child;

/* Starts the binary; returns 0 when it printed its ready line. */
static int spawn(child *c, const char *const *args)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    const char *argv[32];
    int n = 0;
    argv[n++] = MOCK_BIN;
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    c->pid = fork();
    if (c->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        alarm(60); /* survives exec: a hung child ends in bounded time */
        execv(MOCK_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    c->out = fdopen(fds[0], "r");
    char line[256];
    if (fgets(line, sizeof(line), c->out) == NULL)
        return -1;
    const char *prefix = "mock-s3 listening on ";
    if (strncmp(line, prefix, strlen(prefix)) != 0)
        return -1;
    snprintf(c->url, sizeof(c->url), "%s", line + strlen(prefix));
    c->url[strcspn(c->url, "\n")] = '\0';
    return 0;
}

/* Sends sig and waits (bounded) for the exit; returns the exit status or -1. */
static int stop(child *c, int sig)
{
    kill(c->pid, sig);
    int status = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(c->pid, &status, WNOHANG);
        if (w == c->pid) {
            fclose(c->out);
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(10000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &status, 0);
    fclose(c->out);
    return -1;
}

/* Runs the binary to completion with args; returns its exit code, output in buf. */
static int run(const char *const *args, char *buf, size_t n)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *argv[16];
    int k = 0;
    argv[k++] = MOCK_BIN;
    for (int i = 0; args[i] != NULL; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        alarm(20); /* survives exec: a hung run fails instead of hanging the test */
        execv(MOCK_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t have = 0;
    ssize_t got;
    while ((got = read(fds[0], buf + have, n - 1 - have)) > 0)
        have += (size_t)got;
    buf[have] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_serves_and_stops(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char data_dir[512], journal[512];
    snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
    snprintf(journal, sizeof(journal), "%s/journal.jsonl", dir);
    const char *args[] = {"--listen",
                          "127.0.0.1:0",
                          "--region",
                          "us-east-1",
                          "--access-key",
                          T_AK,
                          "--secret-key",
                          T_SK,
                          "--bucket",
                          T_BUCKET,
                          "--bucket",
                          "second-bucket",
                          "--data-dir",
                          data_dir,
                          "--journal",
                          journal,
                          NULL};
    child c;
    assert_int_equal(spawn(&c, args), 0);
    assert_true(strncmp(c.url, "http://127.0.0.1:", 17) == 0);
    assert_true(strtol(c.url + 17, NULL, 10) > 0);

    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/bkt/from-binary";
    rq.body = "bin";
    rq.body_len = 3;
    rq.sign = 1;
    ms3t_response r;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    rq.method = "HEAD";
    rq.target = "/second-bucket";
    rq.body = NULL;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    rq.secret_key = "wrong";
    rq.method = "GET";
    rq.target = "/bkt/from-binary";
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    /* The admin journal sees all three. */
    ms3t_request adm = {0};
    adm.method = "GET";
    adm.target = "/_mock/journal";
    ms3t_do(c.url, &adm, &r);
    json_t *j = json_loads(bk_buf_str(&r.body), 0, NULL);
    assert_int_equal(json_array_size(j), 3);
    json_decref(j);
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGTERM), 0);

    /* The journal file has one line per request; the data dir survives. */
    FILE *f = fopen(journal, "r");
    assert_non_null(f);
    char line[8192];
    int lines = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        lines++;
    fclose(f);
    assert_int_equal(lines, 3);

    const char *again[] = {"--listen", "127.0.0.1:0", "--access-key", T_AK, "--secret-key",
                           T_SK,       "--data-dir",  data_dir,       NULL};
    assert_int_equal(spawn(&c, again), 0);
    rq.secret_key = NULL;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bk_buf_str(&r.body), "bin");
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGINT), 0);
    ms3t_rmtree(dir);
    free(dir);
}

static void test_flags(void **state)
{
    (void)state;
    char out[8192];
    const char *help[] = {"--help", NULL};
    assert_int_equal(run(help, out, sizeof(out)), 0);
    const char *flags[] = {"--listen",
                           "--region",
                           "--access-key",
                           "--secret-key",
                           "--bucket",
                           "--data-dir",
                           "--journal",
                           "--anonymous",
                           "--virtual-host-suffix",
                           "--clock-offset",
                           "--min-part-size",
                           "--session-token",
                           "--access-profile",
                           "--journal-max",
                           "--admin-token",
                           "--admin-token-file",
                           "--no-admin",
                           "--threads",
                           "--thread-per-connection",
                           "MOCK_S3_ADMIN_TOKEN",
                           "--sts",
                           "--sts-role",
                           "--web-identity-token",
                           "--web-identity-token-file",
                           "--credential-lifetime",
                           "--imds-listen",
                           "--imds-role",
                           "--ecs-listen",
                           "--ecs-path",
                           "--ecs-token",
                           "--ecs-token-file",
                           "AWS_ENDPOINT_URL_STS",
                           "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                           "--behave",
                           "--help"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_non_null(strstr(out, flags[i]));
    const char *bad[] = {"--frobnicate", NULL};
    assert_int_equal(run(bad, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--frobnicate"));
    const char *noval[] = {"--listen", NULL};
    assert_int_equal(run(noval, out, sizeof(out)), 2);
    const char *badlisten[] = {"--listen", "nowhere", NULL};
    assert_int_equal(run(badlisten, out, sizeof(out)), 2);
    const char *unpaired[] = {"--access-key", "A", NULL};
    assert_int_equal(run(unpaired, out, sizeof(out)), 2);
    const char *badbucket[] = {"--anonymous", "--bucket", "No_Good", NULL};
    assert_int_equal(run(badbucket, out, sizeof(out)), 2);
    const char *nothreads[] = {"--threads", "0", NULL};
    assert_int_equal(run(nothreads, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--threads"));
}

/* --behave: every preset in --help with its field report; presets add up,
 * an unknown one or one contradicting --access-profile is a usage error. */
static void test_behave(void **state)
{
    (void)state;
    char out[16384];
    const char *help[] = {"--help", NULL};
    assert_int_equal(run(help, out, sizeof(out)), 0);
    const ms3_behave_preset *b;
    for (size_t i = 0; (b = ms3_behave_preset_get(i)) != NULL; i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %s ", b->name);
        assert_non_null(strstr(out, line));
    }
    assert_int_equal(ms3t_count(out, "From field report"), 4);
    const char *bad[] = {"--behave", "minio", NULL};
    assert_int_equal(run(bad, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "unknown behaviour preset \"minio\""));
    const char *clash[] = {"--anonymous", "--access-profile", "read-only",
                           "--behave",    "no-list",          NULL};
    assert_int_equal(run(clash, out, sizeof(out)), 2);

    const char *args[] = {"--anonymous", "--bucket", "bkt", "--behave",
                          "no-list",     "--behave", "oci", NULL};
    child c;
    assert_int_equal(spawn(&c, args), 0);
    ms3t_request rq = {0};
    rq.method = "HEAD";
    rq.target = "/bkt/absent";
    ms3t_response r;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 403);
    ms3t_response_free(&r);
    const char *chunked[] = {"Content-Encoding: aws-chunked", NULL};
    rq.method = "PUT";
    rq.target = "/bkt/oci";
    rq.headers = chunked;
    rq.body = "0\r\n\r\n";
    rq.body_len = 5;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 501);
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGTERM), 0);
}

static void test_anonymous_and_options(void **state)
{
    (void)state;
    const char *args[] = {"--anonymous", "--bucket",
                          "open-bucket", "--clock-offset",
                          "-86400",      "--virtual-host-suffix",
                          "s3.test",     "--min-part-size",
                          "1",           "--threads",
                          "3",           NULL};
    child c;
    assert_int_equal(spawn(&c, args), 0);
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = "/key";
    rq.body = "v";
    rq.body_len = 1;
    rq.host = "open-bucket.s3.test";
    ms3t_response r;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 200);
    ms3t_response_free(&r);
    ms3t_request clk = {0};
    clk.method = "GET";
    clk.target = "/_mock/clock";
    ms3t_do(c.url, &clk, &r);
    json_t *j = json_loads(bk_buf_str(&r.body), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "offset_seconds")), -86400);
    json_decref(j);
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGTERM), 0);
}

/* GET or POST an admin endpoint with an optional bearer token; the status. */
static long admin_call(const char *url, const char *method, const char *path, const char *bearer,
                       ms3t_response *out)
{
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer != NULL ? bearer : "");
    const char *with[] = {"Content-Type: application/json", auth, NULL};
    const char *without[] = {"Content-Type: application/json", NULL};
    ms3t_request rq = {0};
    rq.method = method;
    rq.target = path;
    rq.headers = bearer != NULL ? with : without;
    if (strcmp(method, "POST") == 0) {
        rq.body = "{}";
        rq.body_len = 2;
    }
    ms3t_do(url, &rq, out);
    return out->status;
}

static long admin_status(const char *url, const char *path, const char *bearer)
{
    ms3t_response r;
    long status = admin_call(url, "GET", path, bearer, &r);
    ms3t_response_free(&r);
    return status;
}

static long anonymous_put(const char *url, const char *target)
{
    ms3t_request rq = {0};
    rq.method = "PUT";
    rq.target = target;
    rq.body = "v";
    rq.body_len = 1;
    ms3t_response r;
    ms3t_do(url, &rq, &r);
    long status = r.status;
    ms3t_response_free(&r);
    return status;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[16384];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* --admin-token, --admin-token-file and MOCK_S3_ADMIN_TOKEN: every admin
 * request needs the bearer token; S3 requests do not. */
static void test_admin_token(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char journal[512], token_file[512];
    snprintf(journal, sizeof(journal), "%s/journal.jsonl", dir);
    snprintf(token_file, sizeof(token_file), "%s/token", dir);

    const char *flag[] = {"--anonymous", "--bucket",  T_BUCKET, "--admin-token",
                          "tok-cli-123", "--journal", journal,  NULL};
    child c;
    assert_int_equal(spawn(&c, flag), 0);
    assert_int_equal(admin_status(c.url, "/_mock/health", NULL), 401);
    assert_int_equal(admin_status(c.url, "/_mock/health", "wrong"), 401);
    assert_int_equal(admin_status(c.url, "/_mock/health", "tok-cli-12"), 401);
    assert_int_equal(admin_status(c.url, "/_mock/health", "tok-cli-123"), 200);
    assert_int_equal(anonymous_put(c.url, "/bkt/with-token"), 200);
    ms3t_response r;
    assert_int_equal(admin_call(c.url, "POST", "/_mock/reset", NULL, &r), 401);
    char www[128];
    assert_non_null(ms3t_header(&r, "WWW-Authenticate", www, sizeof(www)));
    assert_true(strncmp(www, "Bearer", 6) == 0);
    ms3t_response_free(&r);
    assert_int_equal(admin_call(c.url, "GET", "/_mock/journal", "tok-cli-123", &r), 200);
    assert_null(strstr(bk_buf_str(&r.body), "tok-cli-123"));
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGTERM), 0);
    assert_false(file_contains(journal, "tok-cli-123"));

    FILE *f = fopen(token_file, "w");
    assert_non_null(f);
    fputs("tok-file-456\n", f);
    fclose(f);
    const char *from_file[] = {"--anonymous", "--admin-token-file", token_file, NULL};
    assert_int_equal(spawn(&c, from_file), 0);
    assert_int_equal(admin_status(c.url, "/_mock/health", NULL), 401);
    assert_int_equal(admin_status(c.url, "/_mock/health", "tok-file-456"), 200);
    assert_int_equal(stop(&c, SIGTERM), 0);

    setenv("MOCK_S3_ADMIN_TOKEN", "tok-env-789", 1);
    const char *from_env[] = {"--anonymous", NULL};
    int spawned = spawn(&c, from_env);
    unsetenv("MOCK_S3_ADMIN_TOKEN");
    assert_int_equal(spawned, 0);
    assert_int_equal(admin_status(c.url, "/_mock/health", NULL), 401);
    assert_int_equal(admin_status(c.url, "/_mock/health", "tok-env-789"), 200);
    assert_int_equal(stop(&c, SIGTERM), 0);

    char out[8192];
    const char *both[] = {"--admin-token", "a", "--admin-token-file", token_file, NULL};
    assert_int_equal(run(both, out, sizeof(out)), 2);
    const char *off_and_token[] = {"--admin-token", "a", "--no-admin", NULL};
    assert_int_equal(run(off_and_token, out, sizeof(out)), 2);
    const char *empty[] = {"--admin-token", "", NULL};
    assert_int_equal(run(empty, out, sizeof(out)), 2);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    const char *no_file[] = {"--admin-token-file", missing, NULL};
    assert_int_equal(run(no_file, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--admin-token-file"));
    ms3t_rmtree(dir);
    free(dir);
}

/* --no-admin: /_mock/ is gone (404), S3 is not. Listening beyond loopback
 * with the admin endpoints open and no token warns, naming the flags (the
 * address here is TEST-NET-1: the bind fails, nothing is exposed). */
static void test_no_admin_and_exposure_warning(void **state)
{
    (void)state;
    const char *off[] = {"--anonymous", "--bucket", T_BUCKET, "--no-admin", NULL};
    child c;
    assert_int_equal(spawn(&c, off), 0);
    assert_int_equal(admin_status(c.url, "/_mock/health", NULL), 404);
    assert_int_equal(anonymous_put(c.url, "/bkt/no-admin"), 200);
    assert_int_equal(stop(&c, SIGTERM), 0);

    char out[8192];
    const char *exposed[] = {"--listen", "192.0.2.1:0", "--anonymous", NULL};
    assert_int_equal(run(exposed, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "warning"));
    assert_non_null(strstr(out, "--admin-token"));
    assert_non_null(strstr(out, "--no-admin"));
    const char *closed[] = {"--listen", "192.0.2.1:0", "--anonymous", "--no-admin", NULL};
    assert_int_equal(run(closed, out, sizeof(out)), 1);
    assert_null(strstr(out, "warning"));
    const char *token[] = {"--listen", "192.0.2.1:0", "--anonymous", "--admin-token", "t", NULL};
    assert_int_equal(run(token, out, sizeof(out)), 1);
    assert_null(strstr(out, "warning"));
}

/* --journal-max: the newest entries stay, the dropped ones are counted (a
 * header of GET /_mock/journal, and /_mock/health); the file keeps all. */
static void test_journal_max(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char journal[512];
    snprintf(journal, sizeof(journal), "%s/journal.jsonl", dir);
    const char *args[] = {"--anonymous", "--bucket",  T_BUCKET, "--journal-max",
                          "3",           "--journal", journal,  NULL};
    child c;
    assert_int_equal(spawn(&c, args), 0);
    for (int i = 0; i < 5; i++) {
        char target[64];
        snprintf(target, sizeof(target), "/bkt/k%d", i);
        assert_int_equal(anonymous_put(c.url, target), 200);
    }
    ms3t_response r;
    assert_int_equal(admin_call(c.url, "GET", "/_mock/journal", NULL, &r), 200);
    json_t *j = json_loads(bk_buf_str(&r.body), 0, NULL);
    assert_int_equal(json_array_size(j), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "key")), "k2");
    json_decref(j);
    char dropped[32];
    assert_non_null(ms3t_header(&r, "X-Mock-Journal-Dropped", dropped, sizeof(dropped)));
    assert_string_equal(dropped, "2");
    ms3t_response_free(&r);
    assert_int_equal(admin_call(c.url, "GET", "/_mock/health", NULL, &r), 200);
    j = json_loads(bk_buf_str(&r.body), 0, NULL);
    json_t *jj = json_object_get(j, "journal");
    assert_int_equal(json_integer_value(json_object_get(jj, "dropped")), 2);
    assert_int_equal(json_integer_value(json_object_get(jj, "max")), 3);
    json_decref(j);
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGTERM), 0);
    FILE *f = fopen(journal, "r");
    assert_non_null(f);
    char line[16384];
    int lines = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        lines++;
    fclose(f);
    assert_int_equal(lines, 5);

    char out[8192];
    const char *zero[] = {"--journal-max", "0", NULL};
    assert_int_equal(run(zero, out, sizeof(out)), 2);
    const char *word[] = {"--journal-max", "many", NULL};
    assert_int_equal(run(word, out, sizeof(out)), 2);
    ms3t_rmtree(dir);
    free(dir);
}

/* A FIFO as the journal: without a reader the mock refuses to start (it used
 * to block in open before listening); with one, the reader gets the lines. */
static void test_journal_fifo(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    char fifo[512];
    snprintf(fifo, sizeof(fifo), "%s/journal.fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *args[] = {"--anonymous", "--bucket", T_BUCKET, "--journal", fifo, NULL};
    char out[8192];
    assert_int_equal(run(args, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "is a FIFO nobody reads"));

    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    child c;
    assert_int_equal(spawn(&c, args), 0);
    assert_int_equal(anonymous_put(c.url, "/bkt/fifo-key"), 200);
    assert_int_equal(stop(&c, SIGTERM), 0);
    char line[16384];
    ssize_t got = read(rd, line, sizeof(line) - 1);
    assert_true(got > 0);
    line[got] = '\0';
    assert_non_null(strstr(line, "\"key\":\"fifo-key\""));
    close(rd);
    ms3t_rmtree(dir);
    free(dir);
}

/* The next line the child printed after its ready line, prefix checked. */
static void service_url(child *c, const char *prefix, char *url, size_t n)
{
    char line[256] = "";
    if (c->out == NULL || fgets(line, sizeof(line), c->out) == NULL) {
        fail_msg("no line after the ready line");
        return;
    }
    assert_true(strncmp(line, prefix, strlen(prefix)) == 0);
    snprintf(url, n, "%s", line + strlen(prefix));
    url[strcspn(url, "\n")] = '\0';
}

static void test_credential_services(void **state)
{
    (void)state;
    const char *args[] = {"--access-key",
                          T_AK,
                          "--secret-key",
                          T_SK,
                          "--bucket",
                          T_BUCKET,
                          "--sts",
                          "--web-identity-token",
                          "bin-web-token",
                          "--credential-lifetime",
                          "900",
                          "--imds-listen",
                          "127.0.0.1:0",
                          "--imds-role",
                          "bin-role",
                          "--ecs-listen",
                          "127.0.0.1:0",
                          "--ecs-path",
                          "/v2/credentials/bin",
                          "--ecs-token",
                          "bin-ecs-token",
                          NULL};
    child c = {0};
    assert_int_equal(spawn(&c, args), 0);
    char imds[128], ecs[128];
    service_url(&c, "mock-s3 imds on http://127.0.0.1:", imds, sizeof(imds));
    service_url(&c, "mock-s3 ecs on http://127.0.0.1:", ecs, sizeof(ecs));
    char *path = strchr(ecs, '/');
    assert_non_null(path);
    assert_string_equal(path, "/v2/credentials/bin");
    *path = '\0';
    char imds_base[160], ecs_base[160];
    snprintf(imds_base, sizeof(imds_base), "http://127.0.0.1:%s", imds);
    snprintf(ecs_base, sizeof(ecs_base), "http://127.0.0.1:%s", ecs);

    /* STS on the S3 port. */
    const char *form_hdr[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const char *form = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::"
                       "111122223333:role/r&RoleSessionName=bin&WebIdentityToken=bin-web-token";
    ms3t_request rq = {0};
    rq.method = "POST";
    rq.target = "/";
    rq.headers = form_hdr;
    rq.body = form;
    rq.body_len = strlen(form);
    ms3t_response r;
    ms3t_do(c.url, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(bk_buf_str(&r.body), "<AssumeRoleWithWebIdentityResult>"));
    ms3t_response_free(&r);

    /* IMDS: token, then the role. */
    const char *ttl[] = {"X-aws-ec2-metadata-token-ttl-seconds: 60", NULL};
    memset(&rq, 0, sizeof(rq));
    rq.method = "PUT";
    rq.target = "/latest/api/token";
    rq.headers = ttl;
    rq.has_body = 1;
    ms3t_do(imds_base, &rq, &r);
    assert_int_equal(r.status, 200);
    char hdr[160];
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", bk_buf_str(&r.body));
    ms3t_response_free(&r);
    const char *tok[] = {hdr, NULL};
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.target = "/latest/meta-data/iam/security-credentials/";
    rq.headers = tok;
    ms3t_do(imds_base, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(bk_buf_str(&r.body), "bin-role");
    ms3t_response_free(&r);

    /* ECS with its token. */
    const char *authz[] = {"Authorization: bin-ecs-token", NULL};
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.target = "/v2/credentials/bin";
    ms3t_do(ecs_base, &rq, &r);
    assert_int_equal(r.status, 401);
    ms3t_response_free(&r);
    rq.headers = authz;
    ms3t_do(ecs_base, &rq, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(
        strstr(bk_buf_str(&r.body), "\"RoleArn\":\"arn:aws:iam::123456789012:role/bin-role\""));
    ms3t_response_free(&r);
    assert_int_equal(stop(&c, SIGTERM), 0);

    /* Flags of a service that is off, and malformed ones. */
    char out[8192];
    const char *no_sts[] = {"--anonymous", "--web-identity-token", "t", NULL};
    assert_int_equal(run(no_sts, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--sts"));
    const char *no_ecs[] = {"--anonymous", "--ecs-token", "t", NULL};
    assert_int_equal(run(no_ecs, out, sizeof(out)), 2);
    const char *bad_path[] = {"--anonymous", "--ecs-listen", "127.0.0.1:0",
                              "--ecs-path",  "creds",        NULL};
    assert_int_equal(run(bad_path, out, sizeof(out)), 2);
    const char *bad_listen[] = {"--anonymous", "--imds-listen", "nowhere", NULL};
    assert_int_equal(run(bad_listen, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--imds-listen"));
    const char *long_life[] = {"--anonymous", "--sts", "--credential-lifetime", "43201", NULL};
    assert_int_equal(run(long_life, out, sizeof(out)), 2);
}

/* --thread-per-connection serves as the pool does. */
static void test_thread_per_connection(void **state)
{
    (void)state;
    const char *args[] = {"--anonymous", "--bucket", T_BUCKET, "--thread-per-connection", NULL};
    child c;
    assert_int_equal(spawn(&c, args), 0);
    assert_int_equal(anonymous_put(c.url, "/" T_BUCKET "/k"), 200);
    assert_int_equal(stop(&c, SIGTERM), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_and_stops),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_behave),
        cmocka_unit_test(test_anonymous_and_options),
        cmocka_unit_test(test_thread_per_connection),
        cmocka_unit_test(test_admin_token),
        cmocka_unit_test(test_no_admin_and_exposure_warning),
        cmocka_unit_test(test_journal_max),
        cmocka_unit_test(test_journal_fifo),
        cmocka_unit_test(test_credential_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
