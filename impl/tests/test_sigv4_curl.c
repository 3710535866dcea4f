/* Cross-check against an independent signer: libcurl's CURLOPT_AWS_SIGV4.
 * A tiny HTTP listener on 127.0.0.1 (ephemeral port, in a thread of this
 * test) captures what curl sends; our verifier must accept it, our signer
 * must produce curl's exact Authorization value for the same request, and a
 * one-byte change of the secret must be rejected. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "bkcache/httpreq.h"
#include "bkcache/sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

typedef struct listener {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    int stop;
    bk_buf captured; /* the last request, head and body */
    int count;
} listener;

/* Content-Length from a request head, 0 when absent. */

/* snprintf that fails the test instead of truncating. */
__attribute__((format(printf, 3, 4))) static void fmt_into(char *out, size_t size, const char *fmt,
                                                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        fail_msg("formatted text does not fit in %zu bytes", size);
}

static size_t content_length(const char *head, size_t head_len)
{
    static const char name[] = "\r\ncontent-length:";
    size_t n = sizeof name - 1;
    for (size_t i = 0; i + n <= head_len; i++)
        if (strncasecmp(head + i, name, n) == 0)
            return strtoul(head + i + n, NULL, 10);
    return 0;
}

static int read_request(int fd, bk_buf *out)
{
    char chunk[8192];
    size_t head_end = 0, want = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return -1;
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            return -1;
        bk_buf_append(out, chunk, (size_t)n);
        if (head_end == 0) {
            const char *end = strstr(bk_buf_str(out), "\r\n\r\n");
            if (end == NULL)
                continue;
            head_end = (size_t)(end - out->data) + 4;
            want = head_end + content_length(out->data, head_end);
        }
        if (out->len >= want)
            return 0;
    }
}

static void *serve(void *arg)
{
    listener *l = arg;
    for (;;) {
        struct pollfd p = {l->fd, POLLIN, 0};
        int ready = poll(&p, 1, 200);
        pthread_mutex_lock(&l->lock);
        int stop = l->stop;
        pthread_mutex_unlock(&l->lock);
        if (stop)
            return NULL;
        if (ready <= 0)
            continue;
        int c = accept(l->fd, NULL, NULL);
        if (c < 0)
            continue;
        bk_buf req = BK_BUF_INIT;
        if (read_request(c, &req) == 0) {
            pthread_mutex_lock(&l->lock);
            bk_buf_reset(&l->captured);
            bk_buf_append(&l->captured, req.data, req.len);
            l->count++;
            pthread_mutex_unlock(&l->lock);
        }
        const char *reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t w = write(c, reply, strlen(reply));
        (void)w;
        bk_buf_clear(&req);
        close(c);
    }
}

static int start_listener(void **state)
{
    listener *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l->fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(l->fd, (struct sockaddr *)&a, &len), 0);
    l->port = ntohs(a.sin_port);
    pthread_mutex_init(&l->lock, NULL);
    bk_buf_init(&l->captured);
    assert_int_equal(pthread_create(&l->thread, NULL, serve, l), 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    *state = l;
    return 0;
}

static int stop_listener(void **state)
{
    listener *l = *state;
    pthread_mutex_lock(&l->lock);
    l->stop = 1;
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    close(l->fd);
    bk_buf_clear(&l->captured);
    pthread_mutex_destroy(&l->lock);
    free(l);
    curl_global_cleanup();
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

typedef struct curl_case {
    const char *method;
    const char *path_and_query;
    const char *body; /* NULL: none */
    const char *extra_headers[4];
} curl_case;

/* Sends one request through curl; returns the raw request it sent. */
static char *send_with_curl(listener *l, const curl_case *c, const char *secret)
{
    char url[1024], userpwd[256];
    fmt_into(url, sizeof url, "http://127.0.0.1:%d%s", l->port, c->path_and_query);
    fmt_into(userpwd, sizeof userpwd, "%s:%s", AK, secret);
    pthread_mutex_lock(&l->lock);
    int before = l->count;
    pthread_mutex_unlock(&l->lock);

    CURL *h = curl_easy_init();
    assert_non_null(h);
    struct curl_slist *hdrs = NULL;
    for (int i = 0; i < 4 && c->extra_headers[i] != NULL; i++)
        hdrs = curl_slist_append(hdrs, c->extra_headers[i]);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    if (strcmp(c->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
    }
    if (hdrs != NULL)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fail_msg("curl: %s", curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);

    pthread_mutex_lock(&l->lock);
    assert_int_equal(l->count, before + 1);
    char *raw = strdup(bk_buf_str(&l->captured));
    pthread_mutex_unlock(&l->lock);
    assert_non_null(raw);
    return raw;
}

static bk_sigv4_request view_of(const bk_httpreq *r)
{
    /* curl signs x-amz-content-sha256 for service s3; without it the body hash. */
    static char body_hash[65];
    const char *payload = bk_httpreq_header(r, "x-amz-content-sha256");
    if (payload == NULL) {
        bk_sigv4_sha256_hex(r->body, r->body_len, body_hash);
        payload = body_hash;
    }
    bk_sigv4_request v = {.method = r->method,
                          .raw_path = r->raw_path,
                          .raw_query = r->raw_query,
                          .headers = r->headers,
                          .n_headers = r->n_headers,
                          .payload_hash = payload};
    return v;
}

static void check_case(listener *l, const curl_case *c)
{
    char *raw = send_with_curl(l, c, SK);
    bk_httpreq r;
    bk_err err = {0};
    if (bk_httpreq_parse(raw, strlen(raw), &r, &err) != BK_OK)
        fail_msg("cannot parse what curl sent: %s\n%s", err.msg, raw);
    const char *authz = bk_httpreq_header(&r, "Authorization");
    if (authz == NULL) {
        fail_msg("curl sent no Authorization:\n%s", raw);
        free(raw);
        return;
    }
    bk_sigv4_auth auth;
    assert_int_equal(bk_sigv4_parse_authorization(authz, &auth, &err), BK_OK);
    assert_string_equal(auth.access_key_id, AK);
    assert_string_equal(auth.service, "s3");
    print_message("curl %s %s signed: %s\n", c->method, c->path_and_query, auth.signed_headers);

    /* 1. Our verifier accepts curl's signature. */
    bk_sigv4_request v = view_of(&r);
    bk_sigv4_result res;
    bk_code rc = bk_sigv4_verify(&v, &auth, SK, NULL, &res, &err);
    if (rc != BK_OK)
        fail_msg("%s %s: verify failed (%s)\nrequest:\n%s\nour canonical request:\n%s", c->method,
                 c->path_and_query, err.msg, raw,
                 res.canonical_request != NULL ? res.canonical_request : "(none)");
    bk_sigv4_result_clear(&res);

    /* 2. Our signer gives curl's exact Authorization value. */
    bk_sigv4_signer *s = bk_sigv4_signer_new(AK, SK, NULL, "us-east-1", "s3", &err);
    assert_non_null(s);
    const char *amz_date = bk_httpreq_header(&r, "x-amz-date");
    assert_non_null(amz_date);
    assert_int_equal(bk_sigv4_sign(s, &v, amz_date, auth.signed_headers, &res, &err), BK_OK);
    if (strcmp(res.authorization, authz) != 0)
        fail_msg("%s %s: Authorization differs\nours:  %s\ncurl's: %s", c->method,
                 c->path_and_query, res.authorization, authz);
    bk_sigv4_result_clear(&res);
    bk_sigv4_signer_free(s);

    /* 3. A one-byte change of the secret is rejected, either way round. */
    char wrong[] = SK;
    wrong[0] ^= 0x20;
    assert_int_equal(bk_sigv4_verify(&v, &auth, wrong, NULL, &res, &err), BK_EAUTH);
    bk_sigv4_result_clear(&res);
    bk_sigv4_auth_clear(&auth);
    bk_httpreq_clear(&r);
    free(raw);

    raw = send_with_curl(l, c, wrong);
    assert_int_equal(bk_httpreq_parse(raw, strlen(raw), &r, &err), BK_OK);
    assert_int_equal(
        bk_sigv4_parse_authorization(bk_httpreq_header(&r, "Authorization"), &auth, &err), BK_OK);
    v = view_of(&r);
    assert_int_equal(bk_sigv4_verify(&v, &auth, SK, NULL, &res, &err), BK_EAUTH);
    bk_sigv4_result_clear(&res);
    bk_sigv4_auth_clear(&auth);
    bk_httpreq_clear(&r);
    free(raw);
}

/* curl 7.88 signs the query exactly as given (no sorting, no re-encoding),
 * so its rules match S3's only for a query already in canonical form: the
 * cases below send such queries. */
static void curl_get_with_query(void **state)
{
    curl_case c = {"GET", "/bucket?list-type=2&max-keys=10&prefix=blobs%2Fsha256%3A", NULL, {NULL}};
    check_case(*state, &c);
}

static void curl_put_with_body(void **state)
{
    curl_case c = {"PUT",
                   "/bucket/manifests/latest",
                   "{\"layers\":[]}\n",
                   {"Content-Type: application/json", NULL}};
    check_case(*state, &c);
}

static void curl_key_with_encoded_colon_and_space(void **state)
{
    curl_case c = {"HEAD", "/bucket/blobs/sha256%3Aabc%20def", NULL, {NULL}};
    check_case(*state, &c);
}

static void curl_unsigned_payload_header(void **state)
{
    curl_case c = {"PUT",
                   "/bucket/blobs/sha256%3A0123",
                   "data",
                   {"x-amz-content-sha256: UNSIGNED-PAYLOAD", NULL}};
    check_case(*state, &c);
}

static void curl_empty_query_value_and_plain_key(void **state)
{
    curl_case c = {"GET", "/bucket/key.txt?acl=&versionId=a%2Bb%20c", NULL, {NULL}};
    check_case(*state, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(curl_get_with_query),
        cmocka_unit_test(curl_put_with_body),
        cmocka_unit_test(curl_key_with_encoded_colon_and_space),
        cmocka_unit_test(curl_unsigned_payload_header),
        cmocka_unit_test(curl_empty_query_value_and_plain_key),
    };
    return cmocka_run_group_tests(tests, start_listener, stop_listener);
}
