/* SigV4 canonical forms: URI encoding, canonical URI, query, headers and the
 * canonical request itself. Pure string work; the crypto is in sigv4.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/sigv4.h"

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int bk_sigv4_uri_encode(bk_buf *out, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    /* Runs of bytes kept as they are go in one append (every request's
     * path and every key of a url-encoded listing pass here). */
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/'))
            continue;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        bk_buf_append(out, s + run, i - run);
        bk_buf_append(out, esc, 3);
        run = i + 1;
    }
    bk_buf_append(out, s + run, len - run);
    return out->failed ? -1 : 0;
}

bk_code bk_sigv4_uri_decode(bk_buf *out, const char *s, size_t len, bk_err *err)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            bk_buf_putc(out, s[i]);
            continue;
        }
        int hi = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return bk_err_set(err, BK_EINVAL,
                              "malformed percent-encoding at offset %zu: '%%' must be followed "
                              "by two hex digits",
                              i);
        bk_buf_putc(out, (char)(hi << 4 | lo));
        i += 2;
    }
    return bk_buf_check(out, err);
}

bk_sigv4_path_rule bk_sigv4_path_rule_for(bk_sigv4_path_rule rule, const char *service)
{
    if (rule != BK_SIGV4_PATH_AUTO)
        return rule;
    return service != NULL && strcmp(service, "s3") == 0 ? BK_SIGV4_PATH_S3 : BK_SIGV4_PATH_GENERIC;
}

/* RFC 3986 dot-segment removal plus merging of empty segments, the generic
 * services' normalisation. Works on the path as sent (not decoded). */
static bk_code normalize_path(const char *path, bk_buf *out, bk_err *err)
{
    size_t n = strlen(path);
    /* Offsets of the kept segments' starts in out, to pop on "..". */
    size_t *starts = calloc(n / 2 + 2, sizeof *starts);
    size_t depth = 0;
    int trailing_slash = 0;
    if (starts == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory normalising a %zu-byte path", n);
    size_t i = 0;
    while (i < n) {
        while (i < n && path[i] == '/')
            i++;
        size_t start = i;
        while (i < n && path[i] != '/')
            i++;
        size_t seg_len = i - start;
        if (seg_len == 0) {
            trailing_slash = depth > 0;
            break;
        }
        /* A path ending in "." or ".." names a directory: keep it as "dir/". */
        trailing_slash = i < n;
        if (seg_len == 1 && path[start] == '.') {
            trailing_slash = 1;
            continue;
        }
        if (seg_len == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (depth > 0)
                out->len = starts[--depth];
            if (out->data != NULL)
                out->data[out->len] = '\0';
            trailing_slash = 1;
            continue;
        }
        starts[depth++] = out->len;
        bk_buf_putc(out, '/');
        bk_buf_append(out, path + start, seg_len);
    }
    if (depth == 0 || trailing_slash)
        bk_buf_putc(out, '/');
    free(starts);
    return bk_buf_check(out, err);
}

bk_code bk_sigv4_canonical_uri(const char *raw_path, bk_sigv4_path_rule rule, bk_buf *out,
                               bk_err *err)
{
    if (raw_path == NULL || raw_path[0] == '\0')
        raw_path = "/";
    if (raw_path[0] != '/')
        return bk_err_set(err, BK_EINVAL, "request path must start with '/'");
    bk_buf tmp = BK_BUF_INIT;
    bk_code rc;
    switch (rule) {
    case BK_SIGV4_PATH_S3:
    case BK_SIGV4_PATH_AUTO:
        rc = bk_sigv4_uri_decode(&tmp, raw_path, strlen(raw_path), err);
        if (rc == BK_OK)
            bk_sigv4_uri_encode(out, tmp.data, tmp.len, 1);
        break;
    case BK_SIGV4_PATH_GENERIC:
        rc = normalize_path(raw_path, &tmp, err);
        if (rc == BK_OK)
            bk_sigv4_uri_encode(out, tmp.data, tmp.len, 1);
        break;
    case BK_SIGV4_PATH_GENERIC_UNNORMALIZED:
    default:
        rc = BK_OK;
        bk_sigv4_uri_encode(out, raw_path, strlen(raw_path), 1);
        break;
    }
    bk_buf_clear(&tmp);
    if (rc != BK_OK) {
        bk_err_prefix(err, "canonical URI: ");
        return rc;
    }
    return bk_buf_check(out, err);
}

typedef struct query_pair {
    char *name; /* encoded canonically */
    char *value;
} query_pair;

static int compare_pairs(const void *a, const void *b)
{
    const query_pair *pa = a, *pb = b;
    int c = strcmp(pa->name, pb->name);
    return c != 0 ? c : strcmp(pa->value, pb->value);
}

/* Decodes s[0..len) and re-encodes it strictly into a new string (*out). */
static bk_code recode(const char *s, size_t len, char **out, bk_err *err)
{
    bk_buf dec = BK_BUF_INIT, enc = BK_BUF_INIT;
    bk_code rc = bk_sigv4_uri_decode(&dec, s, len, err);
    if (rc == BK_OK) {
        bk_sigv4_uri_encode(&enc, dec.data != NULL ? dec.data : "", dec.len, 0);
        rc = bk_buf_check(&enc, err);
    }
    bk_buf_clear(&dec);
    *out = rc == BK_OK ? bk_buf_steal(&enc) : NULL;
    bk_buf_clear(&enc);
    return rc;
}

bk_code bk_sigv4_canonical_query(const char *raw_query, int skip_signature, bk_buf *out,
                                 bk_err *err)
{
    if (raw_query == NULL || raw_query[0] == '\0')
        return BK_OK;
    size_t cap = 1;
    for (const char *p = raw_query; *p != '\0'; p++)
        cap += *p == '&';
    query_pair *pairs = calloc(cap, sizeof *pairs);
    if (pairs == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory parsing the query");
    size_t n = 0;
    bk_code rc = BK_OK;
    const char *p = raw_query;
    for (;;) {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t name_len = eq != NULL ? (size_t)(eq - p) : len;
            query_pair *q = &pairs[n];
            rc = recode(p, name_len, &q->name, err);
            if (rc == BK_OK)
                rc = recode(eq != NULL ? eq + 1 : "", eq != NULL ? len - name_len - 1 : 0,
                            &q->value, err);
            if (rc != BK_OK) {
                free(q->name);
                break;
            }
            if (skip_signature && strcmp(q->name, "X-Amz-Signature") == 0) {
                free(q->name);
                free(q->value);
            } else {
                n++;
            }
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (rc == BK_OK) {
        qsort(pairs, n, sizeof *pairs, compare_pairs);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                bk_buf_putc(out, '&');
            bk_buf_puts(out, pairs[i].name);
            bk_buf_putc(out, '=');
            bk_buf_puts(out, pairs[i].value);
        }
        rc = bk_buf_check(out, err);
    } else {
        bk_err_prefix(err, "canonical query: ");
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return rc;
}

const char *bk_sigv4_find_header(const bk_sigv4_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (req->headers[i].name != NULL && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value != NULL ? req->headers[i].value : "";
    }
    return NULL;
}

/* Appends value trimmed, inner runs of blanks folded to one space. */
static void append_trimmed(bk_buf *out, const char *value)
{
    int pending_space = 0, any = 0;
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            pending_space = any;
            continue;
        }
        if (pending_space)
            bk_buf_putc(out, ' ');
        pending_space = 0;
        any = 1;
        bk_buf_putc(out, *p);
    }
}

static int valid_header_name(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == ':' || c == ';')
            return 0;
    }
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted, de-duplicated, lowercase list of every header name in req. */
static bk_code all_header_names(const bk_sigv4_request *req, char **out, bk_err *err)
{
    *out = NULL;
    char **names = calloc(req->n_headers + 1, sizeof *names);
    if (names == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory listing headers");
    bk_buf list = BK_BUF_INIT;
    size_t n = 0;
    bk_code rc = BK_OK;
    for (size_t i = 0; i < req->n_headers && rc == BK_OK; i++) {
        const char *name = req->headers[i].name;
        if (name == NULL || !valid_header_name(name, strlen(name))) {
            rc = bk_err_set(err, BK_EINVAL, "header #%zu has an empty or invalid name", i + 1);
            break;
        }
        char *lower = strdup(name);
        if (lower == NULL) {
            rc = bk_err_set(err, BK_ENOMEM, "out of memory listing headers");
            break;
        }
        for (char *c = lower; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        names[n++] = lower;
    }
    if (rc == BK_OK && n == 0)
        rc = bk_err_set(err, BK_EINVAL, "request has no headers to sign (Host is required)");
    if (rc == BK_OK) {
        qsort(names, n, sizeof *names, compare_names);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
                continue;
            if (list.len > 0)
                bk_buf_putc(&list, ';');
            bk_buf_puts(&list, names[i]);
        }
        rc = bk_buf_check(&list, err);
        if (rc == BK_OK && (*out = bk_buf_steal(&list)) == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory listing headers");
    }
    bk_buf_clear(&list);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

bk_code bk_sigv4_normalize_signed_headers(const char *list, char **out, bk_err *err)
{
    *out = NULL;
    if (list == NULL || list[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "the signed header list is empty");
    size_t n = 1;
    for (const char *p = list; *p != '\0'; p++)
        n += *p == ';';
    bk_sigv4_header *names = calloc(n, sizeof *names);
    char *copy = strdup(list);
    bk_code rc = BK_OK;
    if (names == NULL || copy == NULL) {
        rc = bk_err_set(err, BK_ENOMEM, "out of memory normalising the signed header list");
    } else {
        size_t i = 0;
        for (char *p = copy;; i++) {
            char *end = strchr(p, ';');
            if (end != NULL)
                *end = '\0';
            names[i].name = p;
            if (end == NULL)
                break;
            p = end + 1;
        }
        bk_sigv4_request fake = {.headers = names, .n_headers = n};
        rc = all_header_names(&fake, out, err);
    }
    free(names);
    free(copy);
    return rc;
}

/* Appends "name:v1,v2\n" for every signed name, values in the order sent. */
static bk_code append_canonical_headers(const bk_sigv4_request *req, const char *signed_headers,
                                        bk_buf *out, bk_err *err)
{
    const char *p = signed_headers;
    if (*p == '\0')
        return bk_err_set(err, BK_EINVAL, "the signed header list is empty");
    for (;;) {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (!valid_header_name(p, len))
            return bk_err_set(err, BK_EINVAL,
                              "signed header list '%.200s' has an empty or "
                              "invalid name",
                              signed_headers);
        int found = 0;
        bk_buf_append(out, p, len);
        bk_buf_putc(out, ':');
        for (size_t i = 0; i < req->n_headers; i++) {
            const char *name = req->headers[i].name;
            if (name == NULL || strlen(name) != len || strncasecmp(name, p, len) != 0)
                continue;
            if (found)
                bk_buf_putc(out, ',');
            found = 1;
            append_trimmed(out, req->headers[i].value != NULL ? req->headers[i].value : "");
        }
        if (!found)
            return bk_err_set(err, BK_EINVAL, "signed header '%.*s' is not in the request",
                              (int)(len > 200 ? 200 : len), p);
        bk_buf_putc(out, '\n');
        if (end == NULL)
            break;
        p = end + 1;
    }
    return bk_buf_check(out, err);
}

bk_code bk_sigv4_canonical_request(const bk_sigv4_request *req, const char *service,
                                   const char *signed_headers, int presigned, bk_buf *out,
                                   char **signed_headers_out, bk_err *err)
{
    if (signed_headers_out != NULL)
        *signed_headers_out = NULL;
    if (req == NULL || req->method == NULL || req->method[0] == '\0')
        return bk_err_set(err, BK_EINVAL, "request has no method");
    for (const char *m = req->method; *m != '\0'; m++)
        if ((unsigned char)*m <= ' ' || (unsigned char)*m >= 0x7f)
            return bk_err_set(err, BK_EINVAL, "request method contains invalid characters");
    bk_sigv4_path_rule rule = bk_sigv4_path_rule_for(req->path_rule, service);
    const char *payload = req->payload_hash;
    if (payload == NULL) {
        if (!presigned)
            return bk_err_set(err, BK_EINVAL,
                              "request has no payload hash "
                              "(x-amz-content-sha256)");
        payload = rule == BK_SIGV4_PATH_S3 ? BK_SIGV4_UNSIGNED_PAYLOAD : BK_SIGV4_EMPTY_SHA256;
    }
    char *list = NULL;
    if (signed_headers == NULL) {
        bk_code lrc = all_header_names(req, &list, err);
        if (lrc != BK_OK)
            return lrc;
        signed_headers = list;
    }
    bk_code rc;
    bk_buf_puts(out, req->method);
    bk_buf_putc(out, '\n');
    if ((rc = bk_sigv4_canonical_uri(req->raw_path, rule, out, err)) != BK_OK)
        goto done;
    bk_buf_putc(out, '\n');
    if ((rc = bk_sigv4_canonical_query(req->raw_query, presigned, out, err)) != BK_OK)
        goto done;
    bk_buf_putc(out, '\n');
    if ((rc = append_canonical_headers(req, signed_headers, out, err)) != BK_OK)
        goto done;
    bk_buf_putc(out, '\n');
    bk_buf_puts(out, signed_headers);
    bk_buf_putc(out, '\n');
    bk_buf_puts(out, payload);
    if ((rc = bk_buf_check(out, err)) != BK_OK)
        goto done;
    if (signed_headers_out != NULL) {
        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): the caller's list, not NULL */
        *signed_headers_out = list != NULL ? list : strdup(signed_headers);
        list = NULL;
        if (*signed_headers_out == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory copying the signed header list");
    }
done:
    free(list);
    return rc;
}

const char *bk_sigv4_unsigned_amz_header(const bk_sigv4_request *req, const char *signed_headers)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name;
        if (name == NULL || strncasecmp(name, "x-amz-", 6) != 0)
            continue;
        size_t len = strlen(name);
        int listed = 0;
        const char *p = signed_headers != NULL ? signed_headers : "";
        while (!listed) {
            const char *end = strchr(p, ';');
            size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
            listed = n == len && strncasecmp(p, name, len) == 0;
            if (end == NULL)
                break;
            p = end + 1;
        }
        if (!listed)
            return name;
    }
    return NULL;
}
