/* Multipart uploads racing resets and aborts: eight threads run
 * CreateMultipartUpload / UploadPart / CompleteMultipartUpload and
 * Create / Abort while others reset the server (POST /_mock/reset) and abort
 * whatever uploads they can list, in memory and with a data dir. Every
 * answer must be one a client could get from S3 in that race; under ASan a
 * handler touching an upload another thread freed stops the test.
 *
 * Bounded in time: each half runs RACE_SECONDS, whatever the machine does in
 * that time (the number of rounds is printed, never judged). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms3_test.h"

enum { RACE_SECONDS = 5, N_UPLOADERS = 4, N_CHECKSUMMERS = 1, N_ABORTERS = 2, N_RESETTERS = 1 };

typedef struct race {
    ms3_server *srv;
    double deadline;
    atomic_ulong rounds;
    atomic_int failed;
    pthread_mutex_t lock;
    char first_failure[512];
} race;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int running(race *rc)
{
    return now_mono() < rc->deadline && !atomic_load(&rc->failed);
}

static void failure(race *rc, const char *what, const ms3t_response *r)
{
    pthread_mutex_lock(&rc->lock);
    if (!atomic_load(&rc->failed))
        snprintf(rc->first_failure, sizeof(rc->first_failure), "%s: status %ld, body %.300s", what,
                 r->status, bk_buf_str(&r->body));
    atomic_store(&rc->failed, 1);
    pthread_mutex_unlock(&rc->lock);
}

static void do_request(race *rc, const char *method, const char *target, const char *body,
                       const char *const *headers, int sign, ms3t_response *out)
{
    ms3t_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.target = target;
    rq.body = body;
    rq.body_len = body != NULL ? strlen(body) : 0;
    rq.has_body = body != NULL;
    rq.headers = headers;
    rq.sign = sign;
    ms3t_send(rc->srv, &rq, out);
}

/* Create; 0 with the upload id, or -1 (failure recorded). */
static int create(race *rc, const char *key, const char *alg, char id[128])
{
    char alg_header[64];
    snprintf(alg_header, sizeof(alg_header), "x-amz-checksum-algorithm: %s", alg ? alg : "");
    const char *const with_alg[] = {alg_header, NULL};
    char target[256];
    snprintf(target, sizeof(target), "/" T_BUCKET "/%s?uploads", key);
    ms3t_response r;
    do_request(rc, "POST", target, NULL, alg != NULL ? with_alg : NULL, 1, &r);
    char echoed[64] = "";
    int ok = r.status == 200 && ms3t_xml(&r, "UploadId", id, 128) != NULL && strlen(id) == 48 &&
             strspn(id, "0123456789abcdef") == 48;
    if (ok && alg != NULL)
        ok = ms3t_header(&r, "x-amz-checksum-algorithm", echoed, sizeof(echoed)) != NULL &&
             strcmp(echoed, alg) == 0;
    if (!ok)
        failure(rc, "CreateMultipartUpload", &r);
    ms3t_response_free(&r);
    return ok ? 0 : -1;
}

/* 1 when the answer is `want`, 0 for NoSuchUpload (a reset or abort won the
 * race), -1 for anything else (failure recorded). */
static int expect(race *rc, const char *what, const ms3t_response *r, long want)
{
    if (r->status == want)
        return 1;
    char code[64];
    if (r->status == 404 && ms3t_xml(r, "Code", code, sizeof(code)) != NULL &&
        strcmp(code, "NoSuchUpload") == 0)
        return 0;
    failure(rc, what, r);
    return -1;
}

static void *uploader(void *arg)
{
    race *rc = arg;
    unsigned long self = (unsigned long)(uintptr_t)pthread_self() % 100000;
    for (unsigned long i = 0; running(rc); i++) {
        char key[64], id[128], target[512], body[1024];
        snprintf(key, sizeof(key), "race/%lu-%lu", self, i);
        if (create(rc, key, NULL, id) != 0)
            break;
        snprintf(target, sizeof(target), "/" T_BUCKET "/%s?partNumber=1&uploadId=%s", key, id);
        ms3t_response r;
        do_request(rc, "PUT", target, "part one", NULL, 1, &r);
        char etag[80] = "";
        int got = expect(rc, "UploadPart", &r, 200);
        if (got == 1)
            ms3t_header(&r, "ETag", etag, sizeof(etag));
        ms3t_response_free(&r);
        if (got != 1) {
            if (got < 0)
                break;
            continue;
        }
        snprintf(target, sizeof(target), "/" T_BUCKET "/%s?uploadId=%s", key, id);
        snprintf(body, sizeof(body),
                 "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>"
                 "</Part></CompleteMultipartUpload>",
                 etag);
        do_request(rc, "POST", target, body, NULL, 1, &r);
        got = expect(rc, "CompleteMultipartUpload", &r, 200);
        ms3t_response_free(&r);
        if (got < 0)
            break;
        atomic_fetch_add(&rc->rounds, 1);
    }
    return NULL;
}

/* Uploads created with a checksum algorithm (the response echoes it) and
 * aborted by their creator. */
static void *checksummer(void *arg)
{
    race *rc = arg;
    static const char *const algs[] = {"CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"};
    for (unsigned long i = 0; running(rc); i++) {
        char key[64], id[128], target[512];
        snprintf(key, sizeof(key), "race/ck-%lu", i);
        if (create(rc, key, algs[i % 5], id) != 0)
            break;
        snprintf(target, sizeof(target), "/" T_BUCKET "/%s?uploadId=%s", key, id);
        ms3t_response r;
        do_request(rc, "DELETE", target, NULL, NULL, 1, &r);
        int got = expect(rc, "AbortMultipartUpload", &r, 204);
        ms3t_response_free(&r);
        if (got < 0)
            break;
        atomic_fetch_add(&rc->rounds, 1);
    }
    return NULL;
}

/* Aborts every upload ListMultipartUploads shows, racing their owners. */
static void *aborter(void *arg)
{
    race *rc = arg;
    while (running(rc)) {
        ms3t_response list;
        do_request(rc, "GET", "/" T_BUCKET "?uploads", NULL, NULL, 1, &list);
        if (list.status != 200) {
            failure(rc, "ListMultipartUploads", &list);
            ms3t_response_free(&list);
            break;
        }
        const char *p = bk_buf_str(&list.body);
        while ((p = strstr(p, "<Upload><Key>")) != NULL && running(rc)) {
            char key[128] = "", id[128] = "", target[512];
            /* NOLINTNEXTLINE(cert-err34-c): fixed widths, the count is checked */
            if (sscanf(p, "<Upload><Key>%127[^<]</Key><UploadId>%127[^<]", key, id) != 2)
                break;
            p++;
            snprintf(target, sizeof(target), "/" T_BUCKET "/%s?uploadId=%s", key, id);
            ms3t_response r;
            do_request(rc, "DELETE", target, NULL, NULL, 1, &r);
            int got = expect(rc, "AbortMultipartUpload (another thread's upload)", &r, 204);
            ms3t_response_free(&r);
            if (got < 0)
                break;
        }
        ms3t_response_free(&list);
    }
    return NULL;
}

static void *resetter(void *arg)
{
    race *rc = arg;
    const char *const json[] = {"Content-Type: application/json", NULL};
    while (running(rc)) {
        ms3t_response r;
        do_request(rc, "POST", "/_mock/reset", "{}", json, 0, &r);
        if (r.status != 200)
            failure(rc, "POST /_mock/reset", &r);
        ms3t_response_free(&r);
        struct timespec pause = {0, 200000}; /* let some uploads finish between resets */
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* 0, or -1 with the first wrong answer in why. */
static int run_race(const char *data_dir, char *why, size_t why_len)
{
    ms3_options o;
    ms3t_default_options(&o);
    o.data_dir = data_dir;
    race rc;
    memset(&rc, 0, sizeof(rc));
    pthread_mutex_init(&rc.lock, NULL);
    rc.srv = ms3t_new_inproc(&o);
    assert_non_null(rc.srv);
    rc.deadline = now_mono() + RACE_SECONDS;

    enum { N = N_UPLOADERS + N_CHECKSUMMERS + N_ABORTERS + N_RESETTERS };
    pthread_t threads[N];
    size_t n = 0;
    for (int i = 0; i < N_UPLOADERS; i++)
        assert_int_equal(pthread_create(&threads[n++], NULL, uploader, &rc), 0);
    for (int i = 0; i < N_CHECKSUMMERS; i++)
        assert_int_equal(pthread_create(&threads[n++], NULL, checksummer, &rc), 0);
    for (int i = 0; i < N_ABORTERS; i++)
        assert_int_equal(pthread_create(&threads[n++], NULL, aborter, &rc), 0);
    for (int i = 0; i < N_RESETTERS; i++)
        assert_int_equal(pthread_create(&threads[n++], NULL, resetter, &rc), 0);
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);

    double elapsed = now_mono() - (rc.deadline - RACE_SECONDS);
    printf("race (%s): %lu rounds in %.1f s\n", data_dir != NULL ? "data dir" : "memory",
           (unsigned long)atomic_load(&rc.rounds), elapsed);
    ms3_server_stop(rc.srv);
    pthread_mutex_destroy(&rc.lock);
    snprintf(why, why_len, "%s", rc.first_failure);
    return atomic_load(&rc.failed) ? -1 : 0;
}

static void test_race_in_memory(void **state)
{
    (void)state;
    char why[512];
    if (run_race(NULL, why, sizeof(why)) != 0)
        fail_msg("%s", why);
}

static void test_race_data_dir(void **state)
{
    (void)state;
    char *dir = ms3t_tempdir();
    assert_non_null(dir);
    char why[512];
    int rc = run_race(dir, why, sizeof(why));
    ms3t_rmtree(dir);
    free(dir);
    if (rc != 0)
        fail_msg("%s", why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race_in_memory),
        cmocka_unit_test(test_race_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
