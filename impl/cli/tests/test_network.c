/* Bounded network waits through build/bin/bkcache as a child:
 *  - --timeout bounds each request: against a server on 127.0.0.1 that
 *    accepts and never answers, every command that talks to S3 gives up
 *    after the limit (the default would wait 30 s per attempt);
 *  - --connect-timeout bounds the connection: against a listener whose
 *    accept queue is full (the kernel drops further connection attempts),
 *    three attempts give up after the limit each (the default is 10 s each).
 * The children run under a deadline shorter than the defaults would take,
 * so an option that did not reach the client shows up as a hang. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

#define BKCACHE (BK_BIN_DIR "/bkcache")
#define GRAPH (BK_FIXTURES_DIR "/graphs/linear.json")
#define LOCAL (BK_FIXTURES_DIR "/local/oci-index")
#define DEADLINE_S 20

/* A TCP listener on 127.0.0.1:0 that never accepts; returns the socket. */
static int silent_listener(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void attrs_for(int port, const char *extra, char *out, size_t size)
{
    snprintf(out, size,
             "type=s3,bucket=silent,region=us-east-1,endpoint_url=http://127.0.0.1:%d,"
             "use_path_style=true,access_key_id=AKIDSILENT,secret_access_key=silent-secret%s",
             port, extra);
}

static void expect_gave_up(const char *what, const char *const argv[])
{
    bk_proc_result r;
    assert_int_equal(bk_proc_run(argv, NULL, NULL, 0, DEADLINE_S, &r), 0);
    if (r.timed_out)
        fail_msg("%s still waiting after %d s:\n%s", what, DEADLINE_S, r.err);
    if (r.exit_code != 1)
        fail_msg("%s exited %d, want 1:\n%s", what, r.exit_code, r.err);
    if (strstr(r.err, "imeout") == NULL && strstr(r.err, "timed out") == NULL)
        fail_msg("%s: the message does not say a limit was hit:\n%s", what, r.err);
    bk_proc_result_clear(&r);
}

static void timeout_bounds_a_server_that_never_answers(void **state)
{
    (void)state;
    int port;
    int fd = silent_listener(64, &port);
    char attrs[512], dest[256];
    attrs_for(port, ",retry_max_attempts=1", attrs, sizeof attrs);
    assert_int_equal(bk_tmpdir(dest, sizeof dest), 0);
    const char *imp[] = {BKCACHE, "import", "--cache-from", attrs, "--timeout", "1", NULL};
    const char *exp[] = {BKCACHE,     "export", "--graph",    GRAPH,   "--cache-to", attrs,
                         "--timeout", "1",      "--progress", "quiet", NULL};
    const char *push[] = {BKCACHE,       "push",       LOCAL,   "--cache-to", attrs,
                          "--timeout=1", "--progress", "quiet", NULL};
    const char *pull[] = {BKCACHE, "pull", "--cache-from", attrs, dest, "--timeout", "0.5", NULL};
    const char *explain[] = {BKCACHE, "explain", "--cache-from", attrs, "--timeout", "1", NULL};
    expect_gave_up("import", imp);
    expect_gave_up("export", exp);
    expect_gave_up("push", push);
    expect_gave_up("pull", pull);
    expect_gave_up("explain", explain);
    bk_rmtree(dest);
    close(fd);
}

static void connect_timeout_bounds_a_full_listener(void **state)
{
    (void)state;
    int port;
    int fd = silent_listener(0, &port);
    /* Fill the accept queue: further SYNs are dropped, connects hang. */
    int fillers[4];
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    for (size_t i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fillers[i] >= 0);
        int rc = connect(fillers[i], (struct sockaddr *)&a, sizeof a);
        assert_true(rc == 0 || errno == EINPROGRESS);
    }
    struct timespec settle = {0, 200L * 1000 * 1000};
    nanosleep(&settle, NULL);
    char attrs[512];
    attrs_for(port, "", attrs, sizeof attrs); /* three attempts, the default */
    const char *imp[] = {BKCACHE, "import",     "--cache-from", attrs, "--connect-timeout",
                         "1",     "--progress", "quiet",        NULL};
    expect_gave_up("import --connect-timeout 1", imp);
    for (size_t i = 0; i < 4; i++)
        close(fillers[i]);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timeout_bounds_a_server_that_never_answers),
        cmocka_unit_test(connect_timeout_bounds_a_full_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
