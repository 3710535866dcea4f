#include "xml.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The escape a byte needs in element text, or NULL when it goes as is.
 * Control characters (legal in keys) would be swallowed or normalized by
 * parsers; character references keep them. */
static const char *escape_of(unsigned char c, char ref[8])
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    default:
        if (c >= 0x20 || c == '\n' || c == '\t')
            return NULL;
        snprintf(ref, 8, "&#%u;", (unsigned)c);
        return ref;
    }
}

void ms3__xml_escape(bk_buf *b, const char *s)
{
    /* A listing writes thousands of keys and ETags: the runs between the
     * bytes to escape (usually the whole text) are appended whole. */
    const char *run = s;
    const char *p = s;
    for (; *p; p++) {
        char ref[8];
        const char *esc = escape_of((unsigned char)*p, ref);
        if (esc == NULL)
            continue;
        bk_buf_append(b, run, (size_t)(p - run));
        bk_buf_puts(b, esc);
        run = p + 1;
    }
    bk_buf_append(b, run, (size_t)(p - run));
}

void ms3__xml_open(bk_buf *b, const char *name)
{
    bk_buf_putc(b, '<');
    bk_buf_puts(b, name);
    bk_buf_putc(b, '>');
}

void ms3__xml_close(bk_buf *b, const char *name)
{
    bk_buf_append(b, "</", 2);
    bk_buf_puts(b, name);
    bk_buf_putc(b, '>');
}

void ms3__xml_elem(bk_buf *b, const char *name, const char *text)
{
    ms3__xml_open(b, name);
    ms3__xml_escape(b, text != NULL ? text : "");
    ms3__xml_close(b, name);
}

void ms3__xml_elem_u64(bk_buf *b, const char *name, unsigned long long v)
{
    ms3__xml_open(b, name);
    bk_buf_put_u64(b, v);
    ms3__xml_close(b, name);
}

/* ---- parsing */

enum { MAX_DEPTH = 8, MAX_ITEMS = 10000 };

typedef struct parse_state {
    const char *root; /* expected root element */
    const char *path[MAX_DEPTH];
    char names[MAX_DEPTH][64];
    int depth;
    int bad;
    bk_buf text;
    /* complete */
    ms3_complete_req *complete;
    ms3_complete_part cur_part;
    /* delete */
    ms3_delete_req *del;
    char *cur_key;
    int in_object;
} parse_state;

static const char *local_name(const char *name)
{
    /* With namespace processing expat hands over "uri|local". */
    const char *bar = strrchr(name, '|');
    return bar != NULL ? bar + 1 : name;
}

static void on_start(void *ud, const char *name, const char **attrs)
{
    (void)attrs;
    parse_state *st = ud;
    const char *local = local_name(name);
    if (st->depth >= MAX_DEPTH) {
        st->bad = 1;
        return;
    }
    snprintf(st->names[st->depth], sizeof(st->names[0]), "%s", local);
    if (st->depth == 0 && strcmp(local, st->root) != 0)
        st->bad = 1;
    st->depth++;
    bk_buf_reset(&st->text);
    if (st->complete != NULL && st->depth == 2 && strcmp(local, "Part") == 0) {
        memset(&st->cur_part, 0, sizeof(st->cur_part));
        st->cur_part.number = -1;
    }
    if (st->del != NULL && st->depth == 2 && strcmp(local, "Object") == 0) {
        st->in_object = 1;
        free(st->cur_key);
        st->cur_key = NULL;
    }
}

static int push_part(parse_state *st)
{
    ms3_complete_req *r = st->complete;
    if (r->n >= MAX_ITEMS)
        return -1;
    ms3_complete_part *np = realloc(r->parts, (r->n + 1) * sizeof(*np));
    if (np == NULL)
        return -1;
    r->parts = np;
    r->parts[r->n++] = st->cur_part;
    memset(&st->cur_part, 0, sizeof(st->cur_part));
    return 0;
}

static int push_key(parse_state *st)
{
    ms3_delete_req *r = st->del;
    if (r->n >= 1000 || st->cur_key == NULL)
        return -1;
    char **nk = realloc(r->keys, (r->n + 1) * sizeof(*nk));
    if (nk == NULL)
        return -1;
    r->keys = nk;
    r->keys[r->n++] = st->cur_key;
    st->cur_key = NULL;
    return 0;
}

static void on_end(void *ud, const char *name)
{
    parse_state *st = ud;
    const char *local = local_name(name);
    if (st->bad || st->depth <= 0)
        return;
    const char *text = bk_buf_str(&st->text);
    if (st->complete != NULL) {
        if (st->depth == 3 && strcmp(st->names[1], "Part") == 0) {
            if (strcmp(local, "PartNumber") == 0) {
                char *end = NULL;
                long v = strtol(text, &end, 10);
                st->cur_part.number = (end != text && *end == '\0') ? v : -1;
            } else if (strcmp(local, "ETag") == 0) {
                free(st->cur_part.etag);
                st->cur_part.etag = strdup(text);
            } else if (strncmp(local, "Checksum", 8) == 0 && strcmp(local, "ChecksumType") != 0) {
                free(st->cur_part.checksum_name);
                free(st->cur_part.checksum_value);
                st->cur_part.checksum_name = strdup(local);
                st->cur_part.checksum_value = strdup(text);
            }
        } else if (st->depth == 2 && strcmp(local, "Part") == 0) {
            if (push_part(st) != 0)
                st->bad = 1;
        }
    } else if (st->del != NULL) {
        if (st->depth == 3 && st->in_object && strcmp(local, "Key") == 0) {
            free(st->cur_key);
            st->cur_key = strdup(text);
        } else if (st->depth == 2 && strcmp(local, "Object") == 0) {
            st->in_object = 0;
            if (push_key(st) != 0)
                st->bad = 1;
        } else if (st->depth == 2 && strcmp(local, "Quiet") == 0) {
            st->del->quiet = strcmp(text, "true") == 0 || strcmp(text, "True") == 0;
        }
    }
    st->depth--;
    bk_buf_reset(&st->text);
}

static void on_text(void *ud, const char *s, int len)
{
    parse_state *st = ud;
    bk_buf_append(&st->text, s, (size_t)len);
}

/* S3 request documents never carry a DTD; refusing one also keeps entity tricks out. */
static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    ((parse_state *)ud)->bad = 1;
}

static int run(parse_state *st, const char *data, size_t len)
{
    XML_Parser p = XML_ParserCreateNS("UTF-8", '|');
    if (p == NULL)
        return -1;
    XML_SetUserData(p, st);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    int ok = XML_Parse(p, data, (int)len, 1) == XML_STATUS_OK;
    XML_ParserFree(p);
    if (st->text.failed)
        ok = 0;
    bk_buf_clear(&st->text);
    return ok && !st->bad ? 0 : -1;
}

int ms3__xml_parse_complete(const char *data, size_t len, ms3_complete_req *out)
{
    memset(out, 0, sizeof(*out));
    if (len > (size_t)16 * 1024 * 1024)
        return -1;
    parse_state st;
    memset(&st, 0, sizeof(st));
    st.root = "CompleteMultipartUpload";
    st.complete = out;
    int rc = run(&st, data, len);
    free(st.cur_part.etag);
    free(st.cur_part.checksum_name);
    free(st.cur_part.checksum_value);
    if (rc != 0 || out->n == 0) {
        ms3__complete_req_clear(out);
        return -1;
    }
    return 0;
}

void ms3__complete_req_clear(ms3_complete_req *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->parts[i].etag);
        free(r->parts[i].checksum_name);
        free(r->parts[i].checksum_value);
    }
    free(r->parts);
    memset(r, 0, sizeof(*r));
}

int ms3__xml_parse_delete(const char *data, size_t len, ms3_delete_req *out)
{
    memset(out, 0, sizeof(*out));
    if (len > (size_t)4 * 1024 * 1024)
        return -1;
    parse_state st;
    memset(&st, 0, sizeof(st));
    st.root = "Delete";
    st.del = out;
    int rc = run(&st, data, len);
    free(st.cur_key);
    if (rc != 0 || out->n == 0) {
        ms3__delete_req_clear(out);
        return -1;
    }
    return 0;
}

void ms3__delete_req_clear(ms3_delete_req *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->keys[i]);
    free(r->keys);
    memset(r, 0, sizeof(*r));
}
