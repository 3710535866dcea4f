/* What the journal keeps of a request (record.h): its entry, made when the
 * response is queued and completed when the exchange ends. Secrets stay out:
 * the signature is shortened, session, IMDS and bearer tokens are redacted
 * as the headers are copied; they are formatted (and bounded, the journal
 * file getting them whole) only when the journal is read or written. */
#include "record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops.h"

static char *redacted_query(const char *q)
{
    bk_buf b = BK_BUF_INIT;
    while (q != NULL && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);
        if (len >= 21 && strncasecmp(q, "X-Amz-Security-Token=", 21) == 0)
            bk_buf_puts(&b, "X-Amz-Security-Token=(redacted)");
        else
            bk_buf_append(&b, q, len);
        q += len;
        if (*q == '&') {
            bk_buf_putc(&b, '&');
            q++;
        }
    }
    if (b.data == NULL)
        bk_buf_puts(&b, "");
    return bk_buf_steal(&b);
}

/* The canonical request with a session token's value redacted: in the query
 * (line 3, presigned) and in an x-amz-security-token header line. */
static char *redacted_canonical(const char *canonical)
{
    bk_buf b = BK_BUF_INIT;
    size_t line = 0;
    for (const char *p = canonical; *p;) {
        size_t len = strcspn(p, "\n");
        if (line == 2) {
            char *q = strndup(p, len);
            char *red = q != NULL ? redacted_query(q) : NULL;
            bk_buf_puts(&b, red != NULL ? red : "");
            free(red);
            free(q);
        } else if (len >= 21 && strncasecmp(p, "x-amz-security-token:", 21) == 0) {
            bk_buf_puts(&b, "x-amz-security-token:(redacted)");
        } else {
            bk_buf_append(&b, p, len);
        }
        p += len;
        if (*p == '\n')
            bk_buf_putc(&b, *p++);
        line++;
    }
    if (b.data == NULL)
        bk_buf_puts(&b, "");
    return bk_buf_steal(&b);
}

/* Why the signature was refused, beyond the S3 error: what the mock signed
 * (the client can diff its own canonical request against it). */
static char *auth_detail(const ms3_auth_result *a)
{
    if (a->ok || a->canonical_request == NULL)
        return strdup("{}");
    char *canonical = redacted_canonical(a->canonical_request);
    json_t *o = json_pack("{s:s, s:s}", "canonical_request", canonical != NULL ? canonical : "",
                          "string_to_sign", a->string_to_sign != NULL ? a->string_to_sign : "");
    free(canonical);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text != NULL ? text : strdup("{}");
}

/* src truncated to the field, as snprintf "%s" would, without the format
 * machinery: a journal entry has seven of these per request. */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void ms3__req_record(ms3_req *r)
{
    if (r->journal_seq != 0 || !r->started || (r->op->flags & MS3_OPF_ADMIN))
        return;
    ms3_journal_entry e;
    memset(&e, 0, sizeof(e));
    e.time = r->t_start;
    e.remote_port = r->remote_port;
    copy_field(e.method, sizeof(e.method), r->method);
    copy_field(e.operation, sizeof(e.operation), r->op->name);
    e.bucket = strdup(r->route.bucket != NULL ? r->route.bucket : "");
    e.key = strdup(r->route.key != NULL ? r->route.key : "");
    e.query =
        r->journal_query != NULL ? strdup(r->journal_query) : redacted_query(r->route.raw_query);
    ms3_journal_headers *headers = ms3__journal_headers_new(r->headers, r->n_headers);
    if (headers == NULL)
        e.headers_json = strdup("{}");
    copy_field(e.auth, sizeof(e.auth), ms3__auth_kind_name(r->auth.kind));
    e.auth_ok = r->auth.ok;
    if (strlen(r->auth.payload_hash) == 64)
        copy_field(e.payload_hash_mode, sizeof(e.payload_hash_mode), "sha256");
    else
        copy_field(e.payload_hash_mode, sizeof(e.payload_hash_mode), r->auth.payload_hash);
    e.request_body_size = r->wire_bytes;
    e.status = r->responded ? r->resp.status : 0;
    e.response_size = r->resp.reader != NULL ? r->resp.length : r->resp.body.len;
    copy_field(e.error_code, sizeof(e.error_code), r->resp.error_code);
    e.duration = ms3__monotonic() - r->t_start_mono;
    copy_field(e.access_key_id, sizeof(e.access_key_id), r->auth.access_key_id);
    e.decoded_body_size = r->decoded_size;
    copy_field(e.body_sha256, sizeof(e.body_sha256), r->body_sha256);
    e.error_message = strdup(r->resp.error_message ? r->resp.error_message : "");
    e.fault = strdup(r->fault.fired);
    e.auth_detail_json = auth_detail(&r->auth);
    r->journal_seq = ms3__journal_append(r->srv->journal, &e, headers);
}

void ms3__req_record_finish(ms3_req *r, int aborted, const char *why)
{
    ms3__req_record(r);
    if (r->journal_seq == 0)
        return;
    char msg[512] = "";
    if (r->cut && !r->responded)
        snprintf(msg, sizeof(msg), "connection cut by a fault after %llu request body bytes",
                 (unsigned long long)r->wire_bytes);
    else if (r->cut)
        snprintf(msg, sizeof(msg), "connection cut by a fault after %llu response body bytes",
                 (unsigned long long)r->response_sent);
    else if (aborted)
        snprintf(msg, sizeof(msg), "%s",
                 why != NULL ? why : "connection closed before the exchange completed");
    int is_head = strcmp(r->method, "HEAD") == 0;
    ms3__journal_finish(r->srv->journal, r->journal_seq, r->responded ? r->resp.status : 0,
                        is_head ? 0 : r->response_sent, ms3__monotonic() - r->t_start_mono, msg);
}
