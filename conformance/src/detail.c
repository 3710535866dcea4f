/* What the HTML report shows of each result, recorded while the run goes on
 * (--html): the requests of the check's case from the mock's journal, the
 * keys under its prefix and how they changed, `bkcache explain` of its cache
 * as a tree and as a picture, and the bytes it compared. html.c renders it.
 *
 * A case is what one conf_case_prefix starts (or a suite before its first):
 * its requests are the journal entries since then. The reporter's own
 * listing requests are left out of the journal for every later reader
 * (conf_journal_quiet), so recording never changes what a check sees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bkcache/attrs.h"
#include "bkcache/explain.h"
#include "bkcache/s3cache.h"
#include "bkcache/version.h"
#include "conf.h"
#include "ties.h"

/* A check keeps its case's last requests up to this many. */
#define MAX_REQUESTS 400
/* Keys listed per result at most. */
#define MAX_KEYS 2000
/* Excerpt of compared bytes: this much before the first difference, and in all. */
#define EXCERPT_BEFORE 48
#define EXCERPT_LEN 132

/* Request headers worth a column: what changes how S3 treats a request. */
static const char *const notable_names[] = {
    "range",
    "if-match",
    "if-none-match",
    "content-encoding",
    "accept-encoding",
    "content-md5",
    "expect",
    "x-amz-copy-source",
    "x-amz-copy-source-range",
    "x-amz-metadata-directive",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-decoded-content-length",
    "x-amz-security-token",
    "x-amz-server-side-encryption",
    NULL,
};
static const char *const notable_prefixes[] = {"x-amz-meta-", "x-amz-checksum-", NULL};

static int is_notable(const char *name)
{
    for (size_t i = 0; notable_names[i] != NULL; i++)
        if (strcasecmp(name, notable_names[i]) == 0)
            return 1;
    for (size_t i = 0; notable_prefixes[i] != NULL; i++)
        if (strncasecmp(name, notable_prefixes[i], strlen(notable_prefixes[i])) == 0)
            return 1;
    return 0;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p != NULL && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* SignedHeaders of the Authorization header, or of a presigned query. */
static json_t *signed_headers(json_t *e)
{
    const char *authz = conf_jheader(e, "authorization");
    const char *from = NULL, *stop = ",";
    if (authz != NULL && (from = strstr(authz, "SignedHeaders=")) != NULL) {
        from += strlen("SignedHeaders=");
    } else if ((from = strstr(conf_jstr(e, "query"), "X-Amz-SignedHeaders=")) != NULL) {
        from += strlen("X-Amz-SignedHeaders=");
        stop = "&";
    } else {
        return json_string("");
    }
    return json_stringn(from, strcspn(from, stop));
}

/* The query as the report shows it: a presigned URL's signature is a bearer
 * credential until it expires, so only its first characters stay. */
static json_t *shown_query(const char *q)
{
    bk_buf b = BK_BUF_INIT;
    while (*q) {
        size_t len = strcspn(q, "&");
        if (strncasecmp(q, "X-Amz-Signature=", 16) == 0 && len > 24)
            bk_buf_printf(&b, "%.24s...", q);
        else
            bk_buf_append(&b, q, len);
        q += len;
        if (*q == '&')
            bk_buf_putc(&b, *q++);
    }
    json_t *s = json_string(b.data != NULL ? b.data : "");
    bk_buf_clear(&b);
    return s;
}

/* One journal entry as the report shows it (conf_detail.requests). */
static json_t *shown_request(json_t *e, const char *prefix, double t0)
{
    json_t *o = json_object();
    const char *key = conf_jstr(e, "key"), *agent = conf_jheader(e, "user-agent");
    size_t plen = strlen(prefix);
    int under = plen > 0 && strncmp(key, prefix, plen) == 0;
    json_object_set_new(o, "seq", json_integer(conf_jint(e, "seq")));
    json_object_set_new(o, "t", json_real(json_number_value(json_object_get(e, "time")) - t0));
    json_object_set_new(o, "by",
                        json_string(agent != NULL && strncmp(agent, "bkcache-conformance/", 20) == 0
                                        ? "runner"
                                        : "impl"));
    static const char *const copied[] = {"method",     "operation",         "status",
                                         "error_code", "error_message",     "auth",
                                         "auth_ok",    "payload_hash_mode", "duration"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
        json_object_set(o, copied[i], json_object_get(e, copied[i]));
    json_object_set_new(o, "key", json_string(under ? key + plen : key));
    json_object_set_new(o, "outside", json_boolean(!under && plen > 0 && key[0]));
    json_object_set_new(o, "query", shown_query(conf_jstr(e, "query")));
    json_object_set(o, "body", json_object_get(e, "request_body_size"));
    json_object_set_new(o, "signed", signed_headers(e));
    json_t *headers = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(e, "headers"), name, v)
    {
        if (!is_notable(name))
            continue;
        char *lower = lower_dup(name);
        if (lower != NULL)
            json_object_set(headers, lower, v);
        free(lower);
    }
    json_object_set_new(o, "headers", headers);
    return o;
}

static void record_requests(conf_ctx *c, conf_detail *d, uint64_t upto)
{
    const conf_detail_state *st = &c->detail_state;
    json_t *all = conf_journal_since(c, c->case_mark);
    size_t n = 0;
    while (n < json_array_size(all) && (uint64_t)conf_jint(json_array_get(all, n), "seq") <= upto)
        n++;
    size_t first = n > MAX_REQUESTS ? n - MAX_REQUESTS : 0;
    double t0 = n > 0 ? json_number_value(json_object_get(json_array_get(all, 0), "time")) : 0;
    d->journaled = 1;
    d->requests = json_array();
    d->requests_omitted = first;
    for (size_t i = first; i < n; i++)
        json_array_append_new(d->requests, shown_request(json_array_get(all, i), d->prefix, t0));
    d->earlier_result = st->last;
    d->earlier_upto = st->last >= 0 ? st->last_mark : c->case_mark;
    json_decref(all);
}

static int same_object(const conf_object *a, const conf_object *b)
{
    return a->size == b->size && strcmp(a->etag, b->etag) == 0;
}

static void push_row(conf_detail *d, const char *key, size_t plen, uint64_t size, char change)
{
    if (d->n_keys >= MAX_KEYS)
        return;
    conf_key_row *row = &d->keys[d->n_keys];
    row->key = strdup(strlen(key) >= plen ? key + plen : key);
    if (row->key == NULL)
        return;
    row->size = size;
    row->change = change;
    d->n_keys++;
}

/* The keys under root now, merged with the case's previous listing (both
 * sorted by key): what came, went or changed. Returns 1 when nothing did. */
static int record_keys(conf_ctx *c, conf_detail *d, const char *root, conf_object **now,
                       size_t *n_now)
{
    conf_detail_state *st = &c->detail_state;
    bk_err err;
    bk_err_clear(&err);
    if (conf_list(c, root, now, n_now, &err) != BK_OK) {
        d->list_error = strdup(err.msg);
        *now = NULL;
        *n_now = 0;
        return 0;
    }
    size_t n_old = st->keys_known ? st->n_keys : 0, cap = *n_now + n_old;
    d->keys = calloc(cap > MAX_KEYS ? MAX_KEYS : cap + 1, sizeof *d->keys);
    if (d->keys == NULL)
        return 0;
    d->listed = 1;
    size_t plen = strlen(root), i = 0, j = 0;
    int unchanged = st->keys_known;
    while (i < *n_now || j < n_old) {
        int order = i == *n_now ? 1 : j == n_old ? -1 : strcmp((*now)[i].key, st->keys[j].key);
        if (order < 0) {
            push_row(d, (*now)[i].key, plen, (*now)[i].size, '+');
            unchanged = 0;
            i++;
        } else if (order > 0) {
            push_row(d, st->keys[j].key, plen, st->keys[j].size, '-');
            unchanged = 0;
            j++;
        } else {
            int same = same_object(&(*now)[i], &st->keys[j]);
            push_row(d, (*now)[i].key, plen, (*now)[i].size, same ? ' ' : '~');
            unchanged &= same;
            i++;
            j++;
        }
    }
    return unchanged;
}

char *conf_svg_inline(const char *svg, const char **why)
{
    const char *p = strstr(svg, "<svg");
    if (p == NULL) {
        *why = "Graphviz wrote no <svg> element";
        return NULL;
    }
    static const char *const active[] = {"<script", "<foreignobject", "<image", "<iframe", "<style",
                                         "href",    "javascript:",    "url(",   NULL};
    char *lower = lower_dup(p);
    int refused = lower == NULL;
    for (size_t i = 0; active[i] != NULL && !refused; i++)
        refused = strstr(lower, active[i]) != NULL;
    free(lower);
    if (refused) {
        *why = "Graphviz's picture holds links or active content; not inlined";
        return NULL;
    }
    bk_buf b = BK_BUF_INIT;
    while (*p) {
        if (strncmp(p, "<!--", 4) == 0) {
            const char *end = strstr(p, "-->");
            p = end != NULL ? end + 3 : p + strlen(p);
            continue;
        }
        if (strncmp(p, " xmlns", 6) == 0) {
            const char *q = strchr(p, '"');
            const char *end = q != NULL ? strchr(q + 1, '"') : NULL;
            if (end != NULL) {
                p = end + 1;
                continue;
            }
        }
        if (*p == '<') {
            /* An event handler attribute in a tag: " on<letters>=". */
            size_t tag = strcspn(p, ">");
            for (size_t k = 1; k + 3 < tag; k++)
                if ((p[k] == ' ' || p[k] == '\n' || p[k] == '\t') &&
                    strncasecmp(p + k + 1, "on", 2) == 0 && p[k + 3] >= 'a' && p[k + 3] <= 'z') {
                    size_t name = strspn(p + k + 3, "abcdefghijklmnopqrstuvwxyz");
                    if (p[k + 3 + name] == '=') {
                        bk_buf_clear(&b);
                        *why = "Graphviz's picture holds an event handler; not inlined";
                        return NULL;
                    }
                }
        }
        bk_buf_putc(&b, *p++);
    }
    if (b.failed) {
        bk_buf_clear(&b);
        *why = "out of memory";
        return NULL;
    }
    return bk_buf_steal(&b);
}

/* `explain --format svg`: the library's dot source through Graphviz. */
static void record_picture(conf_ctx *c, const bk_explain *e, const bk_explain_render_opts *ro,
                           conf_detail *d)
{
    conf_detail_state *st = &c->detail_state;
    bk_buf dot = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    snprintf(st->dot_file, sizeof st->dot_file, "%s/explain.dot", c->tmp);
    if (bk_explain_dot(e, ro, &dot, &err) != BK_OK ||
        conf_write_file(st->dot_file, dot.data, dot.len, &err) != BK_OK) {
        d->no_picture = strdup(err.msg);
        bk_buf_clear(&dot);
        return;
    }
    bk_buf_clear(&dot);
    const char *argv[] = {"dot", "-Tsvg", st->dot_file, NULL};
    conf_run run;
    char why[600], sub[500];
    if (conf_spawn(c, argv, NULL, 60, &run) != 0) {
        d->no_picture = strdup("needs Graphviz's dot, which is not installed (Debian: "
                               "apt-get install graphviz)");
    } else if (run.exit_code != 0 || run.timed_out) {
        snprintf(why, sizeof why, "dot -Tsvg failed: %s", conf_run_why(&run, sub, sizeof sub));
        d->no_picture = strdup(why);
    } else {
        const char *refused = NULL;
        d->svg = conf_svg_inline(run.out, &refused);
        if (d->svg == NULL)
            d->no_picture = strdup(refused);
    }
    conf_run_free(&run);
}

/* `bkcache explain` of the case's cache (the attributes its last adapter
 * run got, else the defaults under its prefix): tree, and the picture when
 * there is a manifest. */
static void record_explain(conf_ctx *c, conf_detail *d)
{
    char *text = c->case_attrs != NULL ? strdup(c->case_attrs) : conf_attrs(c, d->prefix, NULL);
    bk_s3_attrs attrs;
    bk_err err;
    bk_err_clear(&err);
    if (text == NULL || bk_s3_attrs_parse(text, NULL, &attrs, &err) != BK_OK) {
        free(text);
        return;
    }
    free(text);
    /* The runner's own credentials (the adapters get theirs from the
     * environment), and its name, so the journal checks leave these
     * requests out. */
    char agent[64];
    snprintf(agent, sizeof agent, "bkcache-conformance/%s", bk_version());
    bk_s3cache_tuning tuning = {0};
    tuning.user_agent = agent;
    tuning.retry_base_delay_ms = 100;
    if (c->access_key[0] && c->secret_key[0])
        tuning.credentials_provider = bk_creds_provider_static(
            c->access_key, c->secret_key, c->session_token[0] ? c->session_token : NULL, NULL);
    bk_explain *e = NULL;
    bk_s3cache *cache = bk_s3cache_open(&attrs, &tuning, &err);
    if (cache == NULL || bk_explain_bucket(cache, NULL, &e, &err) != BK_OK) {
        bk_buf b = BK_BUF_INIT;
        bk_buf_printf(&b, "explain failed: %s", err.msg);
        d->tree = bk_buf_steal(&b);
    } else if (e->n_manifests + e->n_blobs + e->n_others > 0) {
        bk_explain_render_opts ro = {0};
        ro.now = c->mock != NULL ? ms3_server_now(c->mock) : (int64_t)time(NULL);
        bk_buf tree = BK_BUF_INIT;
        if (bk_explain_text(e, &ro, &tree, &err) == BK_OK)
            d->tree = bk_buf_steal(&tree);
        bk_buf_clear(&tree);
        if (bk_explain_primary(e) != NULL)
            record_picture(c, e, &ro, d);
    }
    bk_explain_free(e);
    bk_s3cache_free(cache);
    bk_creds_provider_free(tuning.credentials_provider);
    bk_s3_attrs_clear(&attrs);
}

/* The key root of the case: its prefix, or the prefix of its attributes
 * (verify of a bucket written by anyone). */
static char *case_root(const conf_ctx *c)
{
    if (c->case_prefix[0] || c->case_attrs == NULL)
        return strdup(c->case_prefix);
    bk_s3_attrs attrs;
    bk_err err;
    bk_err_clear(&err);
    if (bk_s3_attrs_parse(c->case_attrs, NULL, &attrs, &err) != BK_OK)
        return strdup("");
    char *root = strdup(attrs.layout.prefix);
    bk_s3_attrs_clear(&attrs);
    return root;
}

static void new_case(conf_ctx *c)
{
    conf_detail_state *st = &c->detail_state;
    conf_objects_free(st->keys, st->n_keys);
    st->keys = NULL;
    st->n_keys = 0;
    st->keys_known = 0;
    st->last = -1;
    st->last_mark = c->case_mark;
    free(st->last_attrs);
    st->last_attrs = NULL;
    st->case_serial = c->case_serial;
}

static int same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Tree and picture: the previous result's when neither the objects nor the
 * attributes changed since (no request), else explain again. */
static void record_cache(conf_ctx *c, conf_detail *d, int unchanged)
{
    const conf_detail_state *st = &c->detail_state;
    if (unchanged && st->last >= 0 && same_string(st->last_attrs, c->case_attrs)) {
        const conf_detail *prev = c->results[st->last].detail;
        if (prev != NULL && prev->tree_of >= 0)
            d->tree_of = prev->tree_of;
        else if (prev != NULL && prev->tree != NULL)
            d->tree_of = st->last;
        return;
    }
    record_explain(c, d);
}

void conf_detail_record(conf_ctx *c, conf_result *r)
{
    conf_detail_state *st = &c->detail_state;
    if (st->case_serial != c->case_serial)
        new_case(c);
    conf_detail *d = calloc(1, sizeof *d);
    if (d == NULL)
        return;
    d->tree_of = d->earlier_result = -1;
    d->prefix = case_root(c);
    if (d->prefix == NULL) {
        free(d);
        return;
    }
    r->detail = d;
    char name[192];
    snprintf(name, sizeof name, "%s.%s", r->suite, r->check);
    if (st->pending != NULL && strcmp(st->pending_check, name) == 0) {
        d->bytes = st->pending;
        st->pending = NULL;
    }
    if (r->status == CONF_SKIP)
        return; /* a skipped check did nothing to show */
    uint64_t mark = conf_journal_mark(c);
    if (c->mock != NULL)
        record_requests(c, d, mark);
    if (c->s3 != NULL && d->prefix[0]) {
        conf_object *now = NULL;
        size_t n_now = 0;
        int unchanged = record_keys(c, d, d->prefix, &now, &n_now);
        if (d->listed)
            record_cache(c, d, unchanged);
        conf_objects_free(st->keys, st->n_keys);
        st->keys = now;
        st->n_keys = n_now;
        st->keys_known = d->listed;
    }
    conf_journal_quiet(c, mark, conf_journal_mark(c));
    st->last = (long)(r - c->results);
    st->last_mark = mark;
    free(st->last_attrs);
    st->last_attrs = c->case_attrs != NULL ? strdup(c->case_attrs) : NULL;
}

/* Bytes as one line of text: every byte one character (control and
 * non-ASCII bytes as a middle dot), so two excerpts stay aligned. */
static char *excerpt(const char *data, size_t len, size_t from)
{
    bk_buf b = BK_BUF_INIT;
    size_t end = from + EXCERPT_LEN < len ? from + EXCERPT_LEN : len;
    for (size_t i = from; i < end; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch < 0x20 || ch >= 0x7f)
            bk_buf_puts(&b, "\xc2\xb7");
        else
            bk_buf_putc(&b, (char)ch);
    }
    if (b.data == NULL)
        bk_buf_puts(&b, "");
    return bk_buf_steal(&b);
}

/* `bkcache explain --diff`: what the expected cache config has and the got
 * one lacks, and the other way round. NULL when either does not parse. */
static char *explain_diff(const char *want, size_t want_len, const char *got, size_t got_len)
{
    bk_explain *a = NULL, *b = NULL;
    bk_err err;
    bk_err_clear(&err);
    char *text = NULL;
    if (bk_explain_manifest_bytes("expected", want, want_len, &a, &err) == BK_OK &&
        bk_explain_manifest_bytes("got", got, got_len, &b, &err) == BK_OK &&
        bk_explain_primary(a) != NULL && bk_explain_primary(b) != NULL) {
        bk_buf out = BK_BUF_INIT;
        int differs = 0;
        if (bk_explain_diff_text(a, b, NULL, &out, &differs, &err) == BK_OK)
            text = bk_buf_steal(&out);
        bk_buf_clear(&out);
    }
    bk_explain_free(a);
    bk_explain_free(b);
    return text;
}

static void bytes_diff_free(conf_bytes_diff *b)
{
    if (b == NULL)
        return;
    free(b->what);
    free(b->note);
    free(b->want_excerpt);
    free(b->got_excerpt);
    free(b->explain_diff);
    free(b);
}

void conf_detail_bytes(conf_ctx *c, const char *suite, const char *check, const char *what,
                       const char *want, size_t want_len, const char *got, size_t got_len,
                       int manifest)
{
    if (!c->details)
        return;
    conf_compared cmp;
    memset(&cmp, 0, sizeof cmp);
    size_t at;
    const char *note = "";
    if (manifest) {
        if (conf_manifest_compared(got, got_len, want, want_len, &cmp) != CONF_DIFFERENT) {
            conf_compared_clear(&cmp);
            return;
        }
        /* The bytes the check compared: canonical when both had ties. */
        want = cmp.want;
        want_len = cmp.want_len;
        got = cmp.got;
        got_len = cmp.got_len;
        at = cmp.at;
        note = cmp.note;
    } else {
        if (want_len == got_len && memcmp(want, got, got_len) == 0)
            return;
        at = conf_first_difference(got, got_len, want, want_len);
    }
    conf_bytes_diff *b = calloc(1, sizeof *b);
    if (b != NULL) {
        b->what = strdup(what);
        b->note = strdup(note);
        b->at = at;
        b->from = at > EXCERPT_BEFORE ? at - EXCERPT_BEFORE : 0;
        b->want_len = want_len;
        b->got_len = got_len;
        b->want_excerpt = excerpt(want, want_len, b->from);
        b->got_excerpt = excerpt(got, got_len, b->from);
        b->explain_diff = manifest ? explain_diff(want, want_len, got, got_len) : NULL;
        conf_detail_state *st = &c->detail_state;
        bytes_diff_free(st->pending);
        st->pending = b;
        snprintf(st->pending_check, sizeof st->pending_check, "%s.%s", suite, check);
    }
    conf_compared_clear(&cmp);
}

void conf_detail_free(conf_detail *d)
{
    if (d == NULL)
        return;
    free(d->prefix);
    json_decref(d->requests);
    for (size_t i = 0; i < d->n_keys; i++)
        free(d->keys[i].key);
    free(d->keys);
    free(d->list_error);
    free(d->tree);
    free(d->svg);
    free(d->no_picture);
    bytes_diff_free(d->bytes);
    free(d);
}

void conf_detail_state_clear(conf_ctx *c)
{
    conf_detail_state *st = &c->detail_state;
    conf_objects_free(st->keys, st->n_keys);
    bytes_diff_free(st->pending);
    free(st->last_attrs);
    memset(st, 0, sizeof *st);
}
