/* ListObjectsV2 and ListObjects (v1): prefix, delimiter with CommonPrefixes,
 * max-keys, continuation-token / start-after / marker, encoding-type=url. Keys
 * come in UTF-8 binary order from the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/checksum.h"
#include "bkcache/sigv4.h"
#include "errors.h"
#include "server_internal.h"
#include "xml.h"

typedef struct item {
    char *key; /* or the common prefix */
    int is_prefix;
    uint64_t size;
    char etag[80];
    int64_t last_modified_ms;
} item;

typedef struct scan_state {
    const char *prefix;
    const char *delimiter;
    size_t prefix_len;
    const char *skip_prefix; /* the common prefix the previous page ended on */
    size_t limit;            /* max_keys + 1: one more tells whether it is truncated */
    item *items;
    size_t n;
    int failed;
} scan_state;

static int collect(void *ud, const ms3_obj_view *o)
{
    scan_state *st = ud;
    if (st->skip_prefix != NULL && strncmp(o->key, st->skip_prefix, strlen(st->skip_prefix)) == 0)
        return 0;
    const char *rest = o->key + st->prefix_len;
    const char *d = NULL;
    if (st->delimiter != NULL && *st->delimiter)
        d = strstr(rest, st->delimiter);
    item it;
    memset(&it, 0, sizeof(it));
    if (d != NULL) {
        size_t len = (size_t)(d - o->key) + strlen(st->delimiter);
        if (st->n > 0 && st->items[st->n - 1].is_prefix &&
            strlen(st->items[st->n - 1].key) == len &&
            strncmp(st->items[st->n - 1].key, o->key, len) == 0)
            return 0; /* same common prefix as the previous key */
        if (st->n == st->limit)
            return 1;
        it.key = strndup(o->key, len);
        it.is_prefix = 1;
    } else {
        if (st->n == st->limit)
            return 1;
        it.key = strdup(o->key);
        it.size = o->meta->size;
        memcpy(it.etag, o->meta->etag, sizeof(it.etag));
        it.last_modified_ms = o->meta->last_modified_ms;
    }
    if (it.key == NULL) {
        st->failed = 1;
        return 1;
    }
    st->items[st->n++] = it;
    return 0;
}

/* encoding-type=url: keys percent-encoded as SigV4 encodes a path. */
static void put_text(bk_buf *b, const char *name, const char *text, int url)
{
    if (!url) {
        ms3__xml_elem(b, name, text);
        return;
    }
    ms3__xml_open(b, name);
    bk_sigv4_uri_encode(b, text, strlen(text), 1);
    ms3__xml_close(b, name);
}

/* Continuation tokens are opaque to clients: base64 of "K<key>" or "P<prefix>". */
static char *make_token(const item *it)
{
    size_t n = strlen(it->key) + 1;
    unsigned char *raw = malloc(n);
    char *out = malloc(4 * (n / 3 + 1) + 1);
    if (raw == NULL || out == NULL) {
        free(raw);
        free(out);
        return NULL;
    }
    raw[0] = it->is_prefix ? 'P' : 'K';
    memcpy(raw + 1, it->key, n - 1);
    bk_checksum_base64_encode(raw, n, out, 4 * (n / 3 + 1) + 1);
    free(raw);
    return out;
}

static int read_token(const char *token, char **after, int *is_prefix)
{
    size_t len = strlen(token);
    unsigned char *raw = malloc(len + 1);
    if (raw == NULL)
        return -1;
    long n = bk_checksum_base64_decode(token, len, raw, len);
    if (n < 1 || (raw[0] != 'K' && raw[0] != 'P')) {
        free(raw);
        return -1;
    }
    *is_prefix = raw[0] == 'P';
    *after = strndup((const char *)raw + 1, (size_t)n - 1);
    free(raw);
    return *after != NULL ? 0 : -1;
}

/* A listing request as its query gives it. */
typedef struct list_req {
    int v2;
    const char *prefix; /* "" when none */
    const char *delimiter, *token, *start_after;
    int url; /* encoding-type=url */
    long max_keys;
    char *after; /* list keys after this one: start-after, marker, or the token's */
    int after_is_prefix;
} list_req;

/* Reads and checks the query. 0, or -1 after responding. */
static int read_list_request(ms3_req *r, int v2, list_req *q)
{
    const ms3_route *rt = &r->route;
    memset(q, 0, sizeof(*q));
    q->v2 = v2;
    q->prefix = ms3__route_param(rt, "prefix");
    if (q->prefix == NULL)
        q->prefix = "";
    q->delimiter = ms3__route_param(rt, "delimiter");
    q->token = v2 ? ms3__route_param(rt, "continuation-token") : NULL;
    q->start_after = ms3__route_param(rt, v2 ? "start-after" : "marker");
    const char *enc = ms3__route_param(rt, "encoding-type");
    if (enc != NULL && strcmp(enc, "url") != 0) {
        ms3__resp_error(r, "InvalidArgument", "Invalid Encoding Method specified in Request",
                        "<ArgumentName>encoding-type</ArgumentName>");
        return -1;
    }
    q->url = enc != NULL;
    q->max_keys = 1000;
    const char *max_keys_s = ms3__route_param(rt, "max-keys");
    if (max_keys_s != NULL) {
        char *end = NULL;
        q->max_keys = strtol(max_keys_s, &end, 10);
        if (end == max_keys_s || *end != '\0' || q->max_keys < 0) {
            ms3__resp_error(r, "InvalidArgument",
                            "Provided max-keys not an integer or within "
                            "integer range",
                            "<ArgumentName>max-keys</ArgumentName>");
            return -1;
        }
        if (q->max_keys > 1000)
            q->max_keys = 1000;
    }
    if (q->token != NULL) {
        if (read_token(q->token, &q->after, &q->after_is_prefix) != 0) {
            ms3__resp_error(r, "InvalidArgument", "The continuation token provided is incorrect",
                            "<ArgumentName>continuation-token</ArgumentName>");
            return -1;
        }
    } else if (q->start_after != NULL && *q->start_after) {
        q->after = strdup(q->start_after);
    }
    return 0;
}

/* Up to max-keys + 1 keys and common prefixes (one more tells whether the
 * listing is truncated). 0, or -1 after responding. */
static int scan(ms3_req *r, const list_req *q, scan_state *st)
{
    memset(st, 0, sizeof(*st));
    st->prefix = q->prefix;
    st->prefix_len = strlen(q->prefix);
    st->delimiter = q->delimiter;
    st->skip_prefix = q->after_is_prefix ? q->after : NULL;
    st->limit = (size_t)q->max_keys + 1;
    st->items = calloc(st->limit, sizeof(*st->items));
    if (st->items == NULL) {
        ms3__resp_error(r, "InternalError", NULL, NULL);
        return -1;
    }
    if (q->max_keys > 0)
        ms3__store_scan(r->srv->store, r->route.bucket, q->prefix, q->after, collect, st);
    return 0;
}

/* Everything before the entries: what was asked, where the next page starts. */
static void result_head(bk_buf *b, const ms3_req *r, const list_req *q, const scan_state *st,
                        size_t shown, int truncated)
{
    bk_buf_puts(b, MS3_XML_DECL "<ListBucketResult xmlns=\"" MS3_XMLNS "\">");
    ms3__xml_elem(b, "Name", r->route.bucket);
    put_text(b, "Prefix", q->prefix, q->url);
    if (q->v2) {
        if (q->start_after != NULL)
            put_text(b, "StartAfter", q->start_after, q->url);
        if (q->token != NULL)
            ms3__xml_elem(b, "ContinuationToken", q->token);
        if (truncated && shown > 0) {
            char *next = make_token(&st->items[shown - 1]);
            ms3__xml_elem(b, "NextContinuationToken", next != NULL ? next : "");
            free(next);
        }
        bk_buf_printf(b, "<KeyCount>%zu</KeyCount>", shown);
    } else {
        put_text(b, "Marker", q->start_after != NULL ? q->start_after : "", q->url);
        if (truncated && shown > 0 && q->delimiter != NULL && *q->delimiter)
            put_text(b, "NextMarker", st->items[shown - 1].key, q->url);
    }
    bk_buf_printf(b, "<MaxKeys>%ld</MaxKeys>", q->max_keys);
    if (q->delimiter != NULL)
        put_text(b, "Delimiter", q->delimiter, q->url);
    if (q->url)
        ms3__xml_elem(b, "EncodingType", "url");
    bk_buf_printf(b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
}

/* The keys, then the common prefixes. */
static void result_entries(bk_buf *b, const ms3_req *r, const list_req *q, const scan_state *st,
                           size_t shown)
{
    int owner = !q->v2 || ms3__route_param(&r->route, "fetch-owner") != NULL;
    for (size_t i = 0; i < shown; i++) {
        const item *it = &st->items[i];
        if (it->is_prefix)
            continue;
        char iso[40];
        ms3__time_iso8601_ms(it->last_modified_ms, iso, sizeof(iso));
        bk_buf_puts(b, "<Contents>");
        put_text(b, "Key", it->key, q->url);
        ms3__xml_elem(b, "LastModified", iso);
        ms3__xml_elem(b, "ETag", it->etag);
        ms3__xml_elem_u64(b, "Size", (unsigned long long)it->size);
        if (owner)
            bk_buf_puts(b, "<Owner><ID>mock-s3</ID><DisplayName>mock-s3</DisplayName></Owner>");
        bk_buf_puts(b, "<StorageClass>STANDARD</StorageClass></Contents>");
    }
    for (size_t i = 0; i < shown; i++) {
        if (!st->items[i].is_prefix)
            continue;
        bk_buf_puts(b, "<CommonPrefixes>");
        put_text(b, "Prefix", st->items[i].key, q->url);
        bk_buf_puts(b, "</CommonPrefixes>");
    }
}

static void list_objects(ms3_req *r, int v2)
{
    list_req q;
    scan_state st;
    memset(&st, 0, sizeof(st));
    if (read_list_request(r, v2, &q) == 0 && scan(r, &q, &st) == 0) {
        int truncated = st.n > (size_t)q.max_keys;
        size_t shown = truncated ? (size_t)q.max_keys : st.n;
        bk_buf *b = &r->resp.body;
        result_head(b, r, &q, &st, shown, truncated);
        result_entries(b, r, &q, &st, shown);
        bk_buf_puts(b, "</ListBucketResult>");
        if (st.failed)
            ms3__resp_error(r, "InternalError", NULL, NULL);
        else
            ms3__resp_xml(r, 200);
    }
    for (size_t i = 0; i < st.n; i++)
        free(st.items[i].key);
    free(st.items);
    free(q.after);
}

void ms3__op_list_objects_v1(ms3_req *r)
{
    list_objects(r, 0);
}

void ms3__op_list_objects_v2(ms3_req *r)
{
    list_objects(r, 1);
}
