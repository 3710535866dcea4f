#include "s3xml.h"

#include <ctype.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "s3time.h"

#define MAX_DEPTH 16
/* Longer names than any S3 element's are kept as "": they match nothing. */
#define MAX_NAME 48

/* A tiny event layer over expat: the path of element names from the root,
 * and the text directly inside the element that just ended. */
typedef struct walker walker;
typedef void (*start_fn)(walker *w, int depth, const char *name);
typedef void (*end_fn)(walker *w, int depth, const char *name, const char *text);

struct walker {
    XML_Parser parser;
    char names[MAX_DEPTH][MAX_NAME]; /* no allocation per element */
    int depth;                       /* elements open */
    int too_deep;
    bk_buf text;
    start_fn on_start;
    end_fn on_end;
    void *ud;
    int failed; /* set by handlers (out of memory, bad value) */
};

static void XMLCALL x_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    walker *w = ud;
    if (w->depth >= MAX_DEPTH) {
        w->too_deep = 1;
        XML_StopParser(w->parser, XML_FALSE);
        return;
    }
    size_t n = strlen(name);
    if (n >= MAX_NAME)
        n = 0;
    memcpy(w->names[w->depth], name, n);
    w->names[w->depth][n] = '\0';
    w->depth++;
    bk_buf_reset(&w->text);
    if (w->on_start)
        w->on_start(w, w->depth, name);
}

static void XMLCALL x_end(void *ud, const XML_Char *name)
{
    walker *w = ud;
    if (w->on_end)
        w->on_end(w, w->depth, name, bk_buf_str(&w->text));
    bk_buf_reset(&w->text);
    if (w->depth > 0)
        w->depth--;
}

static void XMLCALL x_text(void *ud, const XML_Char *s, int len)
{
    walker *w = ud;
    bk_buf_append(&w->text, s, (size_t)len);
}

/* 1 when the element at depth d is named name (depth 1 = root). */
static int at(const walker *w, int d, const char *name)
{
    return d >= 1 && d <= w->depth && strcmp(w->names[d - 1], name) == 0;
}

static int walk(const char *xml, size_t len, start_fn on_start, end_fn on_end, void *ud,
                char *errbuf, size_t errsize)
{
    /* S3 may send whitespace before a long-running response's document. */
    while (len > 0 && isspace((unsigned char)*xml)) {
        xml++;
        len--;
    }
    walker w;
    memset(&w, 0, sizeof w);
    w.on_start = on_start;
    w.on_end = on_end;
    w.ud = ud;
    w.parser = XML_ParserCreate("UTF-8");
    if (w.parser == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return -1;
    }
    XML_SetUserData(w.parser, &w);
    XML_SetElementHandler(w.parser, x_start, x_end);
    XML_SetCharacterDataHandler(w.parser, x_text);
    int rc = 0;
    if (len > (size_t)0x7fffffff) {
        snprintf(errbuf, errsize, "document too large");
        rc = -1;
    } else if (XML_Parse(w.parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK) {
        if (w.too_deep)
            snprintf(errbuf, errsize, "elements nested deeper than %d", MAX_DEPTH);
        else if (w.failed)
            snprintf(errbuf, errsize, "out of memory or bad value");
        else
            snprintf(errbuf, errsize, "%s at line %lu", XML_ErrorString(XML_GetErrorCode(w.parser)),
                     (unsigned long)XML_GetCurrentLineNumber(w.parser));
        rc = -1;
    } else if (w.failed || w.text.failed) {
        snprintf(errbuf, errsize, "out of memory or bad value");
        rc = -1;
    }
    bk_buf_clear(&w.text);
    XML_ParserFree(w.parser);
    return rc;
}

/* src cut to fit, always terminated (no printf: a listing copies one ETag
 * per object). */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- errors ---- */

typedef struct error_ctx {
    bk_s3xml_error *out;
    int is_error;
} error_ctx;

static void error_start(walker *w, int depth, const char *name)
{
    error_ctx *e = w->ud;
    if (depth == 1)
        e->is_error = strcmp(name, "Error") == 0;
}

static void error_end(walker *w, int depth, const char *name, const char *text)
{
    error_ctx *e = w->ud;
    if (!e->is_error || depth != 2)
        return;
    if (strcmp(name, "Code") == 0)
        copy_str(e->out->code, sizeof e->out->code, text);
    else if (strcmp(name, "Message") == 0)
        copy_str(e->out->message, sizeof e->out->message, text);
    else if (strcmp(name, "RequestId") == 0)
        copy_str(e->out->request_id, sizeof e->out->request_id, text);
    else if (strcmp(name, "Region") == 0)
        copy_str(e->out->region, sizeof e->out->region, text);
}

static const char *find(const char *s, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; s != NULL && (size_t)(end - s) >= n; s++)
        if (memcmp(s, needle, n) == 0)
            return s;
    return NULL;
}

/* The text of <name>...</name> after from (no markup inside), into out. */
static int tag_text(const char *from, const char *end, const char *name, char *out, size_t size)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    const char *start = find(from, end, open);
    const char *stop = start ? find(start, end, close) : NULL;
    if (stop == NULL)
        return 0;
    start += strlen(open);
    size_t n = (size_t)(stop - start);
    if (memchr(start, '<', n) != NULL)
        return 0;
    if (n >= size)
        n = size - 1;
    memcpy(out, start, n);
    out[n] = '\0';
    return 1;
}

/* An error document that is not well-formed XML: S3 echoes a key's control
 * characters into <Key>, which XML 1.0 cannot carry even as references. Its
 * code is still S3's: read as text between the tags, when there is an
 * <Error> with a <Code> of letters and digits. */
static int lenient_error(const char *xml, size_t len, bk_s3xml_error *out)
{
    const char *end = xml + len;
    const char *root = find(xml, end, "<Error>");
    if (root == NULL || !tag_text(root, end, "Code", out->code, sizeof out->code) ||
        out->code[0] == '\0')
        return 0;
    for (const char *p = out->code; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.')
            return 0;
    tag_text(root, end, "Message", out->message, sizeof out->message);
    tag_text(root, end, "RequestId", out->request_id, sizeof out->request_id);
    tag_text(root, end, "Region", out->region, sizeof out->region);
    return 1;
}

int bk__s3xml_parse_error(const char *xml, size_t len, bk_s3xml_error *out)
{
    memset(out, 0, sizeof *out);
    error_ctx e = {out, 0};
    char msg[128];
    if (xml == NULL)
        return 0;
    if (walk(xml, len, error_start, error_end, &e, msg, sizeof msg) != 0) {
        memset(out, 0, sizeof *out);
        if (lenient_error(xml, len, out))
            return 1;
        memset(out, 0, sizeof *out);
        return 0;
    }
    if (!e.is_error) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return 1;
}

typedef struct root_ctx {
    char *out;
    size_t size;
} root_ctx;

static void root_start(walker *w, int depth, const char *name)
{
    root_ctx *r = w->ud;
    if (depth == 1)
        copy_str(r->out, r->size, name);
}

int bk__s3xml_root(const char *xml, size_t len, char *out, size_t out_size)
{
    char msg[128];
    root_ctx r = {out, out_size};
    out[0] = '\0';
    if (xml == NULL || walk(xml, len, root_start, NULL, &r, msg, sizeof msg) != 0) {
        out[0] = '\0';
        return 0;
    }
    return out[0] != '\0';
}

/* ---- ListObjectsV2 ---- */

typedef struct list_ctx {
    bk_s3_list_page *page;
    bk_s3_object cur;
    int root_ok;
} list_ctx;

/* Arrays grow without a stored capacity: it is 16 until 16 elements, then
 * the next power of two, so a new slot is needed exactly when n is 0 or a
 * power of two >= 16. */
static int grow(void **arr, size_t n, size_t elem)
{
    int need = n == 0 || (n >= 16 && (n & (n - 1)) == 0);
    if (!need)
        return 0;
    size_t cap = n == 0 ? 16 : n * 2;
    void *p = realloc(*arr, cap * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    return 0;
}

static void list_start(walker *w, int depth, const char *name)
{
    list_ctx *l = w->ud;
    if (depth == 1)
        l->root_ok = strcmp(name, "ListBucketResult") == 0;
    if (depth == 2 && strcmp(name, "Contents") == 0) {
        memset(&l->cur, 0, sizeof l->cur);
    }
}

static void list_end(walker *w, int depth, const char *name, const char *text)
{
    list_ctx *l = w->ud;
    bk_s3_list_page *p = l->page;
    if (!l->root_ok)
        return;
    if (depth == 3 && at(w, 2, "Contents")) {
        if (strcmp(name, "Key") == 0) {
            free(l->cur.key);
            l->cur.key = strdup(text);
            if (l->cur.key == NULL)
                w->failed = 1;
        } else if (strcmp(name, "Size") == 0) {
            char *end;
            l->cur.size = strtoull(text, &end, 10);
            if (*text == '\0' || *end != '\0')
                w->failed = 1;
        } else if (strcmp(name, "LastModified") == 0) {
            if (bk__s3_parse_iso8601(text, &l->cur.last_modified) != 0)
                w->failed = 1;
        } else if (strcmp(name, "ETag") == 0) {
            copy_str(l->cur.etag, sizeof l->cur.etag, text);
        }
    } else if (depth == 2 && strcmp(name, "Contents") == 0) {
        if (l->cur.key == NULL || grow((void **)&p->objects, p->n_objects, sizeof *p->objects)) {
            free(l->cur.key);
            l->cur.key = NULL;
            w->failed = 1;
            return;
        }
        p->objects[p->n_objects++] = l->cur;
        memset(&l->cur, 0, sizeof l->cur);
    } else if (depth == 3 && at(w, 2, "CommonPrefixes") && strcmp(name, "Prefix") == 0) {
        char *s = strdup(text);
        if (s == NULL ||
            grow((void **)&p->common_prefixes, p->n_prefixes, sizeof *p->common_prefixes)) {
            free(s);
            w->failed = 1;
            return;
        }
        p->common_prefixes[p->n_prefixes++] = s;
    } else if (depth == 2 && strcmp(name, "IsTruncated") == 0) {
        p->is_truncated = strcmp(text, "true") == 0;
    } else if (depth == 2 && strcmp(name, "NextContinuationToken") == 0) {
        free(p->next_continuation_token);
        p->next_continuation_token = strdup(text);
        if (p->next_continuation_token == NULL)
            w->failed = 1;
    }
}

bk_code bk__s3xml_parse_list(const char *xml, size_t len, bk_s3_list_page *page, bk_err *err)
{
    memset(page, 0, sizeof *page);
    list_ctx l;
    memset(&l, 0, sizeof l);
    l.page = page;
    char msg[160];
    int rc = walk(xml, len, list_start, list_end, &l, msg, sizeof msg);
    free(l.cur.key);
    if (rc != 0 || !l.root_ok) {
        bk_s3_list_page_clear(page);
        return bk_err_set(err, BK_EPROTO, "ListObjectsV2: malformed response: %s",
                          rc != 0 ? msg : "root element is not ListBucketResult");
    }
    if (page->is_truncated && page->next_continuation_token == NULL) {
        bk_s3_list_page_clear(page);
        return bk_err_set(err, BK_EPROTO,
                          "ListObjectsV2: truncated page without NextContinuationToken");
    }
    return BK_OK;
}

/* ---- simple single-value results ---- */

typedef struct value_ctx {
    const char *root;
    int root_ok;
    char *etag;
    size_t etag_size;
    int have_etag;
    time_t lm;
    int has_lm;
    char *upload_id;
} value_ctx;

static void value_start(walker *w, int depth, const char *name)
{
    value_ctx *v = w->ud;
    if (depth == 1)
        v->root_ok = strcmp(name, v->root) == 0;
}

static void value_end(walker *w, int depth, const char *name, const char *text)
{
    value_ctx *v = w->ud;
    if (!v->root_ok || depth != 2)
        return;
    if (strcmp(name, "UploadId") == 0) {
        free(v->upload_id);
        v->upload_id = strdup(text);
        if (v->upload_id == NULL)
            w->failed = 1;
    } else if (strcmp(name, "ETag") == 0 && v->etag != NULL) {
        copy_str(v->etag, v->etag_size, text);
        v->have_etag = 1;
    } else if (strcmp(name, "LastModified") == 0) {
        v->has_lm = bk__s3_parse_iso8601(text, &v->lm) == 0;
    }
}

bk_code bk__s3xml_parse_initiate(const char *xml, size_t len, char **upload_id, bk_err *err)
{
    value_ctx v;
    memset(&v, 0, sizeof v);
    v.root = "InitiateMultipartUploadResult";
    char msg[160];
    *upload_id = NULL;
    if (walk(xml, len, value_start, value_end, &v, msg, sizeof msg) != 0 || !v.root_ok ||
        v.upload_id == NULL || v.upload_id[0] == '\0') {
        free(v.upload_id);
        return bk_err_set(err, BK_EPROTO,
                          "CreateMultipartUpload: response has no "
                          "InitiateMultipartUploadResult/UploadId");
    }
    *upload_id = v.upload_id;
    return BK_OK;
}

bk_code bk__s3xml_parse_etag_result(const char *xml, size_t len, const char *root, char *etag,
                                    size_t etag_size, time_t *last_modified, int *has_lm,
                                    bk_err *err)
{
    value_ctx v;
    memset(&v, 0, sizeof v);
    v.root = root;
    v.etag = etag;
    v.etag_size = etag_size;
    char msg[160];
    int rc = walk(xml, len, value_start, value_end, &v, msg, sizeof msg);
    free(v.upload_id);
    if (rc != 0 || !v.root_ok || !v.have_etag)
        return bk_err_set(err, BK_EPROTO, "response is not a %s with an ETag%s%s", root,
                          rc != 0 ? ": " : "", rc != 0 ? msg : "");
    if (last_modified != NULL)
        *last_modified = v.has_lm ? v.lm : 0;
    if (has_lm != NULL)
        *has_lm = v.has_lm;
    return BK_OK;
}

/* ---- DeleteObjects result ---- */

typedef struct delete_ctx {
    bk_s3_delete_report *report;
    size_t deleted;
    bk_s3_delete_failure cur;
    int root_ok;
} delete_ctx;

static void delete_start(walker *w, int depth, const char *name)
{
    delete_ctx *d = w->ud;
    if (depth == 1)
        d->root_ok = strcmp(name, "DeleteResult") == 0;
    if (depth == 2 && strcmp(name, "Error") == 0)
        memset(&d->cur, 0, sizeof d->cur);
}

static void delete_end(walker *w, int depth, const char *name, const char *text)
{
    delete_ctx *d = w->ud;
    bk_s3_delete_report *r = d->report;
    if (!d->root_ok)
        return;
    if (depth == 3 && at(w, 2, "Error")) {
        if (strcmp(name, "Key") == 0) {
            free(d->cur.key);
            d->cur.key = strdup(text);
            if (d->cur.key == NULL)
                w->failed = 1;
        } else if (strcmp(name, "Code") == 0) {
            copy_str(d->cur.code, sizeof d->cur.code, text);
        } else if (strcmp(name, "Message") == 0) {
            copy_str(d->cur.message, sizeof d->cur.message, text);
        }
    } else if (depth == 2 && strcmp(name, "Error") == 0) {
        if (d->cur.key == NULL)
            d->cur.key = strdup("");
        if (d->cur.key == NULL || grow((void **)&r->failures, r->n_failures, sizeof *r->failures)) {
            free(d->cur.key);
            d->cur.key = NULL;
            w->failed = 1;
            return;
        }
        r->failures[r->n_failures++] = d->cur;
        memset(&d->cur, 0, sizeof d->cur);
    } else if (depth == 2 && strcmp(name, "Deleted") == 0) {
        d->deleted++;
    }
}

bk_code bk__s3xml_parse_delete_result(const char *xml, size_t len, bk_s3_delete_report *report,
                                      size_t *n_deleted, bk_err *err)
{
    delete_ctx d;
    memset(&d, 0, sizeof d);
    d.report = report;
    char msg[160];
    int rc = walk(xml, len, delete_start, delete_end, &d, msg, sizeof msg);
    free(d.cur.key);
    if (rc != 0 || !d.root_ok)
        return bk_err_set(err, BK_EPROTO, "DeleteObjects: malformed response: %s",
                          rc != 0 ? msg : "root element is not DeleteResult");
    if (n_deleted != NULL)
        *n_deleted = d.deleted;
    return BK_OK;
}

/* ---- writing ---- */

int bk__s3xml_escape(bk_buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            bk_buf_puts(out, "&amp;");
            break;
        case '<':
            bk_buf_puts(out, "&lt;");
            break;
        case '>':
            bk_buf_puts(out, "&gt;");
            break;
        case '"':
            bk_buf_puts(out, "&quot;");
            break;
        case '\'':
            bk_buf_puts(out, "&apos;");
            break;
        default:
            if (*p < 0x20)
                bk_buf_printf(out, "&#x%X;", *p);
            else
                bk_buf_putc(out, (char)*p);
        }
    }
    return out->failed ? -1 : 0;
}

int bk__s3xml_complete_body(bk_buf *out, const bk_s3_part *parts, size_t n,
                            bk_checksum_alg checksum)
{
    const char *alg = checksum != BK_CHECKSUM_NONE ? bk_checksum_alg_name(checksum) : NULL;
    bk_buf_puts(out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < n; i++) {
        bk_buf_puts(out, "<Part>");
        if (alg != NULL && parts[i].checksum[0] != '\0') {
            bk_buf_printf(out, "<Checksum%s>", alg);
            bk__s3xml_escape(out, parts[i].checksum);
            bk_buf_printf(out, "</Checksum%s>", alg);
        }
        bk_buf_puts(out, "<ETag>");
        bk__s3xml_escape(out, parts[i].etag);
        bk_buf_printf(out, "</ETag><PartNumber>%d</PartNumber></Part>", parts[i].number);
    }
    bk_buf_puts(out, "</CompleteMultipartUpload>");
    return out->failed ? -1 : 0;
}

int bk__s3xml_delete_body(bk_buf *out, const char *const *keys, size_t n)
{
    bk_buf_puts(out,
                "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        bk_buf_puts(out, "<Object><Key>");
        bk__s3xml_escape(out, keys[i]);
        bk_buf_puts(out, "</Key></Object>");
    }
    bk_buf_puts(out, "</Delete>");
    return out->failed ? -1 : 0;
}
