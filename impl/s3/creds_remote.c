/* What the providers that call out share: one bounded HTTP exchange on
 * libcurl, the token files they read and the JSON answer IMDS, the container
 * endpoint and credential_process all give. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/fileio.h"
#include "creds_internal.h"
#include "s3time.h"

typedef struct sink {
    bk_buf *body;
    size_t max;
    int too_long;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->body->len + len > s->max) {
        s->too_long = 1;
        return 0;
    }
    return bk_buf_append(s->body, data, len) == 0 ? len : 0;
}

static struct curl_slist *header_list(const char *const *headers, int has_body)
{
    struct curl_slist *list = NULL;
    /* curl would add these on its own; the services do not want them. */
    list = curl_slist_append(list, "Expect:");
    if (!has_body)
        list = curl_slist_append(list, "Content-Type:");
    for (size_t i = 0; headers != NULL && headers[i] != NULL && list != NULL; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

bk_code bk__creds_http(const creds_http *rq, long *status, bk_buf *body, bk_err *err)
{
    *status = 0;
    CURL *h = curl_easy_init();
    struct curl_slist *list = header_list(rq->headers, rq->body != NULL);
    if (h == NULL || list == NULL) {
        curl_easy_cleanup(h);
        curl_slist_free_all(list);
        return bk_err_set(err, BK_ENOMEM, "%s %s: out of memory", rq->method, rq->url);
    }
    sink s = {body, rq->max_response ? rq->max_response : (size_t)64 * 1024, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A credential endpoint that redirects is not followed: the token would go along. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rq->ca_bundle != NULL && rq->ca_bundle[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_bundle);
    if (rq->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    CURLcode cc = curl_easy_perform(h);
    bk_code rc = BK_OK;
    if (s.too_long)
        rc = bk_err_set(err, BK_EPROTO, "%s %s: the answer is longer than %zu bytes", rq->method,
                        rq->url, s.max);
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        rc = bk_err_set(err, BK_ETIMEOUT, "%s %s: no answer within %ld ms", rq->method, rq->url,
                        rq->timeout_ms);
    else if (cc != CURLE_OK)
        rc = bk_err_set(err, BK_EIO, "%s %s: %s", rq->method, rq->url,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return rc;
}

void bk__creds_scrub_free(char *s)
{
    if (s == NULL)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

#define TOKEN_FILE_MAX ((size_t)64 * 1024)

bk_code bk__creds_read_token_file(const char *path, const char *what, char **out, bk_err *err)
{
    *out = NULL;
    FILE *f = NULL;
    bk_err ferr;
    bk_err_clear(&ferr);
    if (bk_fopen_regular(path, what, &f, &ferr) != BK_OK)
        return bk_err_set(err, BK_EIO, "%s", ferr.msg);
    char *buf = malloc(TOKEN_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return bk_err_set(err, BK_ENOMEM, "%s %s: out of memory", what, path);
    }
    size_t n = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > TOKEN_FILE_MAX) {
        bk__creds_scrub_free(buf);
        return bk_err_set(err, BK_EIO, "%s %s: %s", what, path,
                          failed ? "cannot be read" : "larger than 64 KiB");
    }
    buf[n] = '\0';
    /* The token is the file's content without surrounding white space. */
    size_t start = strspn(buf, " \t\r\n");
    size_t end = n;
    while (end > start && strchr(" \t\r\n", buf[end - 1]) != NULL)
        end--;
    memmove(buf, buf + start, end - start);
    buf[end - start] = '\0';
    if (buf[0] == '\0') {
        bk__creds_scrub_free(buf);
        return bk_err_set(err, BK_EIO, "%s %s is empty", what, path);
    }
    *out = buf;
    return BK_OK;
}

static const char *json_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bk_code bk__creds_from_json(const char *json, size_t len, const char *token_key, const char *source,
                            bk_creds *out, bk_err *err)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        /* The text itself is not echoed: it may hold a secret. */
        return bk_err_set(err, BK_EPROTO,
                          "%s: the answer is not a JSON object (line %d, column %d)", source,
                          je.line, je.column);
    }
    const char *akid = json_str(o, "AccessKeyId");
    const char *secret = json_str(o, "SecretAccessKey");
    const char *token = json_str(o, token_key);
    const char *expiration = json_str(o, "Expiration");
    time_t expires = 0;
    bk_code rc;
    if (akid == NULL || akid[0] == '\0' || secret == NULL || secret[0] == '\0')
        rc = bk_err_set(err, BK_EPROTO, "%s: the answer has no %s", source,
                        akid == NULL || akid[0] == '\0' ? "AccessKeyId" : "SecretAccessKey");
    else if (expiration != NULL && bk__s3_parse_iso8601(expiration, &expires) != 0)
        rc = bk_err_set(err, BK_EPROTO, "%s: Expiration \"%.40s\" is not an RFC 3339 time", source,
                        expiration);
    else
        rc = bk__creds_set(out, akid, secret, token, expires, source, err);
    json_decref(o);
    return rc;
}
