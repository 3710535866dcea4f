/* nftw() is an XSI extension. */
#define _XOPEN_SOURCE 700

#include "ms3_test.h"

#include <curl/curl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkcache/sigv4.h"

void ms3t_default_options(ms3_options *o)
{
    ms3_options_init(o);
    o->min_part_size = 1024;
}

/* Gives a new server the test credentials and bucket; NULL (printed) on failure. */
static ms3_server *prepare(ms3_server *s, const char *what, const bk_err *made)
{
    bk_err err;
    if (s == NULL) {
        fprintf(stderr, "%s: %s\n", what, made->msg);
        return NULL;
    }
    if (ms3_server_add_credentials(s, T_AK, T_SK, NULL, &err) != BK_OK ||
        ms3_server_create_bucket(s, T_BUCKET, &err) != BK_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        ms3_server_stop(s);
        return NULL;
    }
    return s;
}

static void options_or_default(const ms3_options *opts, ms3_options *o)
{
    if (opts != NULL)
        *o = *opts;
    else
        ms3t_default_options(o);
}

ms3_server *ms3t_start(const ms3_options *opts)
{
    ms3_options o;
    options_or_default(opts, &o);
    bk_err err;
    return prepare(ms3_server_start(&o, &err), "ms3_server_start", &err);
}

ms3_server *ms3t_new_inproc(const ms3_options *opts)
{
    ms3_options o;
    options_or_default(opts, &o);
    bk_err err;
    return prepare(ms3_server_new_inproc(&o, &err), "ms3_server_new_inproc", &err);
}

typedef struct upload_src {
    const unsigned char *data;
    uint64_t len, pos;
    const ms3t_request *rq;
} upload_src;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    upload_src *u = ud;
    size_t n = size * nitems;
    if (u->rq->gen != NULL) {
        if (n > u->len - u->pos)
            n = (size_t)(u->len - u->pos);
        size_t got = n > 0 ? u->rq->gen(u->rq->gen_ud, buf, n, u->pos) : 0;
        u->pos += got;
        return got;
    }
    if (n > u->len - u->pos)
        n = u->len - u->pos;
    memcpy(buf, u->data + u->pos, n);
    u->pos += n;
    return n;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    bk_buf_append(ud, ptr, size * nmemb);
    return size * nmemb;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    bk_buf_append(ud, ptr, size * nmemb);
    return size * nmemb;
}

static void split_header(const char *line, char *name, size_t nn, const char **value)
{
    const char *colon = strchr(line, ':');
    size_t len = colon != NULL ? (size_t)(colon - line) : strlen(line);
    if (len >= nn)
        len = nn - 1;
    memcpy(name, line, len);
    name[len] = '\0';
    const char *v = colon != NULL ? colon + 1 : "";
    while (*v == ' ')
        v++;
    *value = v;
}

/* A request's headers in the order they are sent: Host, the signing headers,
 * the test's headers (signed), the unsigned ones, then Authorization. */
enum { MAXH = 64 };
typedef struct wire_headers {
    bk_sigv4_header hs[MAXH];
    char names[MAXH][128];
    size_t n;
    char host[256];
    char amz_date[17];
    char hash[80];
    char authorization[1024];
} wire_headers;

static void add_line(wire_headers *w, const char *line)
{
    if (w->n == MAXH)
        return;
    split_header(line, w->names[w->n], sizeof(w->names[w->n]), &w->hs[w->n].value);
    w->hs[w->n].name = w->names[w->n];
    w->n++;
}

static void build_headers(const ms3t_request *rq, uint16_t port, wire_headers *w)
{
    memset(w, 0, sizeof(*w));
    if (rq->host != NULL)
        snprintf(w->host, sizeof(w->host), "%s", rq->host);
    else
        snprintf(w->host, sizeof(w->host), "127.0.0.1:%u", (unsigned)port);
    bk_sigv4_format_amz_date(rq->when ? rq->when : time(NULL), w->amz_date);
    if (rq->payload_hash != NULL)
        snprintf(w->hash, sizeof(w->hash), "%s", rq->payload_hash);
    else
        bk_sigv4_sha256_hex(rq->body != NULL ? rq->body : "", rq->body != NULL ? rq->body_len : 0,
                            w->hash);
    const char *service = rq->service != NULL ? rq->service : "s3";
    int s3 = strcmp(service, "s3") == 0;
    w->hs[w->n++] = (bk_sigv4_header){"Host", w->host};
    if (rq->sign) {
        w->hs[w->n++] = (bk_sigv4_header){"x-amz-date", w->amz_date};
        if (s3)
            w->hs[w->n++] = (bk_sigv4_header){"x-amz-content-sha256", w->hash};
        if (rq->session_token != NULL)
            w->hs[w->n++] = (bk_sigv4_header){"X-Amz-Security-Token", rq->session_token};
    }
    for (size_t i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++)
        add_line(w, rq->headers[i]);
    size_t n_signed = w->n;
    for (size_t i = 0; rq->unsigned_headers != NULL && rq->unsigned_headers[i] != NULL; i++)
        add_line(w, rq->unsigned_headers[i]);
    if (!rq->sign)
        return;
    const char *q = strchr(rq->target, '?');
    char *path = q != NULL ? strndup(rq->target, (size_t)(q - rq->target)) : strdup(rq->target);
    bk_sigv4_request sreq = {rq->method,
                             path,
                             q != NULL ? q + 1 : "",
                             w->hs,
                             n_signed,
                             w->hash,
                             s3 ? BK_SIGV4_PATH_S3 : BK_SIGV4_PATH_AUTO};
    bk_err err;
    bk_sigv4_signer *sg = bk_sigv4_signer_new(
        rq->access_key ? rq->access_key : T_AK, rq->secret_key ? rq->secret_key : T_SK,
        rq->session_token, rq->region ? rq->region : "us-east-1", service, &err);
    bk_sigv4_result res;
    memset(&res, 0, sizeof(res));
    if (sg != NULL && bk_sigv4_sign(sg, &sreq, w->amz_date, NULL, &res, &err) == BK_OK &&
        w->n < MAXH) {
        snprintf(w->authorization, sizeof(w->authorization), "%s", res.authorization);
        w->hs[w->n++] = (bk_sigv4_header){"Authorization", w->authorization};
    } else {
        fprintf(stderr, "signing failed: %s\n", err.msg);
    }
    bk_sigv4_result_clear(&res);
    bk_sigv4_signer_free(sg);
    free(path);
    for (size_t i = 0; rq->after_auth != NULL && rq->after_auth[i] != NULL; i++)
        add_line(w, rq->after_auth[i]);
}

static void response_init(ms3t_response *out)
{
    memset(out, 0, sizeof(*out));
    bk_buf_init(&out->headers);
    bk_buf_init(&out->body);
}

static void response_finish(ms3t_response *out)
{
    if (out->body.data == NULL)
        bk_buf_puts(&out->body, "");
    if (out->headers.data == NULL)
        bk_buf_puts(&out->headers, "");
}

static int sends_body(const ms3t_request *rq)
{
    return strcmp(rq->method, "HEAD") != 0 && (rq->has_body || rq->body != NULL || rq->gen != NULL);
}

void ms3t_do(const char *base_url, const ms3t_request *rq, ms3t_response *out)
{
    response_init(out);
    const char *port = strrchr(base_url, ':');
    wire_headers w;
    build_headers(rq, port != NULL ? (uint16_t)strtoul(port + 1, NULL, 10) : 0, &w);

    struct curl_slist *list = NULL;
    char line[8192];
    for (size_t i = 0; i < w.n; i++) {
        snprintf(line, sizeof(line), "%s: %s", w.hs[i].name, w.hs[i].value);
        if (*w.hs[i].value == '\0')
            snprintf(line, sizeof(line), "%s;", w.hs[i].name); /* curl's way to send empty */
        list = curl_slist_append(list, line);
    }
    /* Keep the request to what the test asked for. */
    list = curl_slist_append(list, "Accept:");

    CURL *c = curl_easy_init();
    char url[8192];
    snprintf(url, sizeof(url), "%s%s", base_url, rq->target);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms ? rq->timeout_ms : 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    upload_src src = {rq->body, rq->body != NULL ? rq->body_len : 0, 0, rq};
    if (rq->gen != NULL)
        src.len = rq->gen_len;
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (sends_body(rq)) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src.len);
    }
    out->curl_code = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    response_finish(out);
}

/* A generated body in one piece, for the in-process path (bounded). */
static char *generate_body(const ms3t_request *rq, size_t *len)
{
    enum { GEN_LIMIT = 64 * 1024 * 1024 };
    *len = 0;
    if (rq->gen_len > GEN_LIMIT) {
        fprintf(stderr, "in-process requests take generated bodies up to %d bytes\n", GEN_LIMIT);
        return NULL;
    }
    char *buf = malloc(rq->gen_len + 1);
    while (buf != NULL && *len < rq->gen_len) {
        size_t got = rq->gen(rq->gen_ud, buf + *len, (size_t)rq->gen_len - *len, *len);
        if (got == 0)
            break;
        *len += got;
    }
    return buf;
}

static void do_inproc(ms3_server *s, const ms3t_request *rq, ms3t_response *out)
{
    response_init(out);
    wire_headers w;
    build_headers(rq, 0, &w);
    ms3_header hs[MAXH + 1];
    size_t n = 0;
    for (size_t i = 0; i < w.n; i++)
        hs[n++] = (ms3_header){w.hs[i].name, w.hs[i].value};
    const char *body = rq->body;
    size_t body_len = rq->body != NULL ? rq->body_len : 0;
    char *generated = NULL;
    if (rq->gen != NULL)
        body = generated = generate_body(rq, &body_len);
    char length[32];
    if (sends_body(rq) && n < MAXH + 1) {
        snprintf(length, sizeof(length), "%zu", body_len);
        hs[n++] = (ms3_header){"Content-Length", length};
    }
    ms3_inproc_request in = {rq->method, rq->target, hs, n, body, body_len, 0, 0, rq->endpoint};
    ms3_inproc_response resp;
    bk_err err;
    if ((rq->gen != NULL && generated == NULL) || ms3_server_handle(s, &in, &resp, &err) != 0) {
        out->curl_code = CURLE_SEND_ERROR;
        free(generated);
        response_finish(out);
        return;
    }
    free(generated);
    out->status = resp.status;
    bk_buf_printf(&out->headers, "HTTP/1.1 %d\r\n", resp.status);
    for (size_t i = 0; i < resp.n_headers; i++)
        bk_buf_printf(&out->headers, "%s: %s\r\n", resp.header_names[i], resp.header_values[i]);
    bk_buf_puts(&out->headers, "\r\n");
    if (resp.body != NULL)
        bk_buf_append(&out->body, resp.body, resp.body_len);
    /* What a client on a socket would have seen. */
    if (resp.outcome == MS3_INPROC_CUT_RESPONSE)
        out->curl_code = CURLE_PARTIAL_FILE;
    else if (resp.outcome == MS3_INPROC_CUT_REQUEST)
        out->curl_code = CURLE_SEND_ERROR;
    ms3_inproc_response_clear(&resp);
    response_finish(out);
}

void ms3t_send(ms3_server *s, const ms3t_request *rq, ms3t_response *out)
{
    if (ms3_server_port(s) == 0) {
        do_inproc(s, rq, out);
        return;
    }
    /* The listener's scheme, host and port (the ECS URL carries a path). */
    const char *url = rq->endpoint == MS3_ENDPOINT_IMDS  ? ms3_server_imds_url(s)
                      : rq->endpoint == MS3_ENDPOINT_ECS ? ms3_server_ecs_url(s)
                                                         : ms3_server_url(s);
    char base[160];
    const char *path = strlen(url) > 7 ? strchr(url + 7, '/') : NULL;
    snprintf(base, sizeof(base), "%.*s", path != NULL ? (int)(path - url) : (int)strlen(url), url);
    ms3t_do(base, rq, out);
}

long ms3t_send_status(ms3_server *s, const ms3t_request *rq)
{
    ms3t_response r;
    ms3t_send(s, rq, &r);
    long status = r.status;
    ms3t_response_free(&r);
    return status;
}

void ms3t_response_free(ms3t_response *r)
{
    bk_buf_clear(&r->headers);
    bk_buf_clear(&r->body);
}

const char *ms3t_header(const ms3t_response *r, const char *name, char *buf, size_t n)
{
    const char *h = bk_buf_str(&r->headers);
    /* The last response's headers win (after a 100 Continue block). */
    const char *found = NULL;
    size_t nl = strlen(name);
    for (const char *line = h; line != NULL && *line;) {
        const char *eol = strstr(line, "\r\n");
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':')
            found = line + nl + 1;
        line = eol != NULL ? eol + 2 : NULL;
    }
    if (found == NULL)
        return NULL;
    while (*found == ' ')
        found++;
    const char *end = strstr(found, "\r\n");
    size_t len = end != NULL ? (size_t)(end - found) : strlen(found);
    if (len >= n)
        len = n - 1;
    memcpy(buf, found, len);
    buf[len] = '\0';
    return buf;
}

const char *ms3t_xml(const ms3t_response *r, const char *tag, char *buf, size_t n)
{
    char open[128], close[128];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *b = strstr(bk_buf_str(&r->body), open);
    if (b == NULL)
        return NULL;
    b += strlen(open);
    const char *e = strstr(b, close);
    if (e == NULL)
        return NULL;
    size_t len = (size_t)(e - b);
    if (len >= n)
        len = n - 1;
    memcpy(buf, b, len);
    buf[len] = '\0';
    return buf;
}

int ms3t_count(const char *h, const char *needle)
{
    int c = 0;
    for (const char *p = strstr(h, needle); p != NULL; p = strstr(p + 1, needle))
        c++;
    return c;
}

void ms3t_simple(ms3_server *s, const char *method, const char *target, const void *body,
                 size_t len, ms3t_response *out)
{
    ms3t_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.target = target;
    rq.body = body;
    rq.body_len = len;
    rq.has_body = body != NULL;
    rq.sign = 1;
    ms3t_send(s, &rq, out);
}

char *ms3t_presign(ms3_server *s, const char *method, const char *target, long expires, time_t when)
{
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%u", (unsigned)ms3_server_port(s));
    bk_sigv4_header hs[1] = {{"Host", host}};
    const char *q = strchr(target, '?');
    char *path = q != NULL ? strndup(target, (size_t)(q - target)) : strdup(target);
    bk_sigv4_request sreq = {method, path, q != NULL ? q + 1 : "", hs, 1, NULL, BK_SIGV4_PATH_S3};
    bk_err err;
    bk_sigv4_signer *sg = bk_sigv4_signer_new(T_AK, T_SK, NULL, "us-east-1", "s3", &err);
    bk_sigv4_result res;
    memset(&res, 0, sizeof(res));
    char amz_date[17];
    bk_sigv4_format_amz_date(when ? when : time(NULL), amz_date);
    char *url = NULL;
    if (sg != NULL && bk_sigv4_presign(sg, &sreq, amz_date, expires, NULL, &res, &err) == BK_OK) {
        bk_buf b = BK_BUF_INIT;
        bk_buf_printf(&b, "%s%s?%s", ms3_server_url(s), path, res.presigned_query);
        url = bk_buf_steal(&b);
    } else {
        fprintf(stderr, "presign failed: %s\n", err.msg);
    }
    bk_sigv4_result_clear(&res);
    bk_sigv4_signer_free(sg);
    free(path);
    return url;
}

void ms3t_fill(void *buf, size_t n, unsigned seed)
{
    unsigned char *p = buf;
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

char *ms3t_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    bk_buf b = BK_BUF_INIT;
    bk_buf_printf(&b, "%s/ms3test-XXXXXX", base != NULL ? base : "/tmp");
    char *path = bk_buf_steal(&b);
    if (path != NULL && mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0; /* keep going: remove what can be removed */
}

void ms3t_rmtree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
