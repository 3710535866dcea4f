/* Raw HTTP/1.1 request text -> method, target, headers, body. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/buf.h"
#include "bkcache/httpreq.h"

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

void bk_httpreq_clear(bk_httpreq *r)
{
    if (r == NULL)
        return;
    free(r->method);
    free(r->target);
    free(r->raw_path);
    free(r->raw_query);
    free(r->version);
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

bk_code bk_httpreq_add_header(bk_httpreq *r, const char *name, const char *value, bk_err *err)
{
    bk_sigv4_header *grown = realloc(r->headers, (r->n_headers + 1) * sizeof *grown);
    if (grown == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a header");
    r->headers = grown;
    char *n = strdup(name), *v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return bk_err_set(err, BK_ENOMEM, "out of memory adding a header");
    }
    r->headers[r->n_headers].name = n;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
    return BK_OK;
}

size_t bk_httpreq_remove_header(bk_httpreq *r, const char *name)
{
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            free((char *)r->headers[i].name);
            free((char *)r->headers[i].value);
            removed++;
        } else {
            r->headers[kept++] = r->headers[i];
        }
    }
    r->n_headers = kept;
    return removed;
}

const char *bk_httpreq_header(const bk_httpreq *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* Next line of text[*pos..len): its start and length without CR/LF. 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return 0;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t l = nl != NULL ? (size_t)(nl - start) : len - *pos;
    *pos += l + (nl != NULL);
    if (l > 0 && start[l - 1] == '\r')
        l--;
    *line = start;
    *n = l;
    return 1;
}

static bk_code parse_request_line(const char *line, size_t n, bk_httpreq *out, bk_err *err)
{
    const char *sp1 = memchr(line, ' ', n);
    const char *sp2 = NULL;
    for (size_t i = n; i > 0; i--) {
        if (line[i - 1] == ' ') {
            sp2 = line + i - 1;
            break;
        }
    }
    if (sp1 == NULL || sp2 == NULL || sp2 == sp1 || sp1 == line)
        return bk_err_set(err, BK_EINVAL,
                          "malformed request line: expected 'METHOD /path HTTP/1.1'");
    size_t version_len = n - (size_t)(sp2 + 1 - line);
    if (version_len < 6 || strncmp(sp2 + 1, "HTTP/", 5) != 0)
        return bk_err_set(err, BK_EINVAL,
                          "malformed request line: it must end in an HTTP version (HTTP/1.1)");
    for (const char *m = line; m < sp1; m++)
        if (!((*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z') || *m == '-' || *m == '_'))
            return bk_err_set(err, BK_EINVAL,
                              "malformed request line: the method must be letters only");
    const char *target = sp1 + 1;
    size_t target_len = (size_t)(sp2 - target);
    if (target_len == 0 || target[0] != '/')
        return bk_err_set(err, BK_EINVAL,
                          "malformed request line: the target must be a path starting with '/'");
    const char *q = memchr(target, '?', target_len);
    size_t path_len = q != NULL ? (size_t)(q - target) : target_len;
    out->method = dup_n(line, (size_t)(sp1 - line));
    out->target = dup_n(target, target_len);
    out->raw_path = dup_n(target, path_len);
    out->raw_query = q != NULL ? dup_n(q + 1, target_len - path_len - 1) : dup_n("", 0);
    out->version = dup_n(sp2 + 1, version_len);
    if (out->method == NULL || out->target == NULL || out->raw_path == NULL ||
        out->raw_query == NULL || out->version == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory parsing the request line");
    return BK_OK;
}

/* Appends " " + trimmed continuation to the last header's value. */
static bk_code continue_header(bk_httpreq *out, const char *line, size_t n, size_t lineno,
                               bk_err *err)
{
    if (out->n_headers == 0)
        return bk_err_set(err, BK_EINVAL,
                          "line %zu: a continuation line (starting with a blank) must follow "
                          "a header",
                          lineno);
    while (n > 0 && is_blank(*line))
        line++, n--;
    while (n > 0 && is_blank(line[n - 1]))
        n--;
    bk_sigv4_header *h = &out->headers[out->n_headers - 1];
    bk_buf v = BK_BUF_INIT;
    bk_buf_puts(&v, h->value);
    if (n > 0) {
        bk_buf_putc(&v, ' ');
        bk_buf_append(&v, line, n);
    }
    if (bk_buf_check(&v, err) != BK_OK) {
        bk_buf_clear(&v);
        return BK_ENOMEM;
    }
    free((char *)h->value);
    h->value = bk_buf_steal(&v);
    return BK_OK;
}

static bk_code add_header_line(bk_httpreq *out, const char *line, size_t n, size_t lineno,
                               bk_err *err)
{
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return bk_err_set(err, BK_EINVAL, "line %zu: a header must be 'Name: value'", lineno);
    for (const char *c = line; c < colon; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return bk_err_set(err, BK_EINVAL,
                              "line %zu: header name contains a blank or control character",
                              lineno);
    const char *v = colon + 1;
    size_t vn = n - (size_t)(v - line);
    while (vn > 0 && is_blank(*v))
        v++, vn--;
    while (vn > 0 && is_blank(v[vn - 1]))
        vn--;
    char *name = dup_n(line, (size_t)(colon - line));
    char *value = dup_n(v, vn);
    bk_code rc = name != NULL && value != NULL ? bk_httpreq_add_header(out, name, value, err)
                                               : bk_err_set(err, BK_ENOMEM, "out of memory");
    free(name);
    free(value);
    return rc;
}

bk_code bk_httpreq_parse(const char *text, size_t len, bk_httpreq *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (text == NULL || len == 0)
        return bk_err_set(err, BK_EINVAL, "empty request");
    size_t pos = 0, lineno = 1, n;
    const char *line;
    next_line(text, len, &pos, &line, &n);
    if (memchr(line, '\0', n) != NULL)
        return bk_err_set(err, BK_EINVAL, "request line contains a NUL byte");
    bk_code rc = parse_request_line(line, n, out, err);
    int body_follows = 0;
    while (rc == BK_OK && next_line(text, len, &pos, &line, &n)) {
        lineno++;
        if (n == 0) {
            body_follows = 1;
            break;
        }
        if (memchr(line, '\0', n) != NULL)
            rc = bk_err_set(err, BK_EINVAL, "line %zu contains a NUL byte", lineno);
        else if (is_blank(line[0]))
            rc = continue_header(out, line, n, lineno, err);
        else
            rc = add_header_line(out, line, n, lineno, err);
    }
    if (rc == BK_OK) {
        out->body_len = body_follows ? len - pos : 0;
        out->body = dup_n(text + pos, out->body_len);
        if (out->body == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory copying a %zu-byte body", out->body_len);
    }
    if (rc != BK_OK)
        bk_httpreq_clear(out);
    return rc;
}
