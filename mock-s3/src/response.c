/* Building responses: headers, S3 <Error> documents, XML bodies. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "server_internal.h"
#include "xml.h"

const char *ms3__req_header(const ms3_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

char *ms3__name_value_dup(const char *name, const char *value, char **value_out)
{
    size_t ln = strlen(name) + 1, lv = strlen(value) + 1;
    char *p = malloc(ln + lv);
    if (p == NULL)
        return NULL;
    memcpy(p, name, ln);
    memcpy(p + ln, value, lv);
    *value_out = p + ln;
    return p;
}

/* A response has about ten headers: the array doubles from 16, and each
 * header is one allocation (these were 2 + 1 allocations per header). */
void ms3__resp_header(ms3_req *r, const char *name, const char *value)
{
    ms3_response *resp = &r->resp;
    if (resp->n_headers == resp->cap_headers) {
        size_t cap = resp->cap_headers ? 2 * resp->cap_headers : 16;
        ms3_pair *np = realloc(resp->headers, cap * sizeof(*np));
        if (np == NULL)
            return;
        resp->headers = np;
        resp->cap_headers = cap;
    }
    ms3_pair *h = &resp->headers[resp->n_headers];
    if ((h->name = ms3__name_value_dup(name, value, &h->value)) != NULL)
        resp->n_headers++;
}

void ms3__resp_header_free(ms3_pair *h)
{
    free(h->name); /* the value is in the same allocation */
    h->name = h->value = NULL;
}

void ms3__resp_headerf(ms3_req *r, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    ms3__resp_header(r, name, value);
}

void ms3__resp_reset(ms3_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        ms3__resp_header_free(&resp->headers[i]);
    free(resp->headers);
    bk_buf_clear(&resp->body);
    ms3__reader_close(resp->reader);
    free(resp->error_message);
    memset(resp, 0, sizeof(*resp));
    resp->content_length = -1;
}

void ms3__resp_error_status(ms3_req *r, int status, const char *code, const char *message,
                            const char *extra_xml)
{
    ms3__resp_reset(&r->resp);
    if (message == NULL)
        message = ms3__error_message(code);
    r->resp.status = status;
    snprintf(r->resp.error_code, sizeof(r->resp.error_code), "%s", code);
    r->resp.error_message = strdup(message);
    bk_buf *b = &r->resp.body;
    bk_buf_puts(b, MS3_XML_DECL "<Error>");
    ms3__xml_elem(b, "Code", code);
    ms3__xml_elem(b, "Message", message);
    if (r->route.key != NULL &&
        (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "KeyTooLongError") == 0))
        ms3__xml_elem(b, "Key", r->route.key);
    if (r->route.bucket != NULL && strcmp(code, "NoSuchBucket") == 0)
        ms3__xml_elem(b, "BucketName", r->route.bucket);
    if (extra_xml != NULL)
        bk_buf_puts(b, extra_xml);
    bk_buf_printf(b, "<RequestId>%016llX</RequestId><HostId>mock-s3</HostId></Error>",
                  (unsigned long long)r->request_id);
    ms3__resp_header(r, "Content-Type", "application/xml");
    /* S3 answers errors to HEAD with the status only. */
    if (strcmp(r->method, "HEAD") == 0) {
        bk_buf_reset(b);
        r->resp.content_length = 0;
    }
}

void ms3__resp_error(ms3_req *r, const char *code, const char *message, const char *extra_xml)
{
    ms3__resp_error_status(r, ms3__error_status(code), code, message, extra_xml);
}

void ms3__resp_xml(ms3_req *r, int status)
{
    r->resp.status = status;
    ms3__resp_header(r, "Content-Type", "application/xml");
}
