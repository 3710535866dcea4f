/* The admin endpoints under /_mock/: control of a mock running in another
 * process. `_mock` is not a valid bucket name, so these paths never collide
 * with S3 requests. They take and return JSON and are not journaled.
 *
 * They change everything (credentials, data, faults, the clock) and the
 * journal shows every key and access key id, so who may call them is decided
 * first (ms3__admin_admit): not at all with no_admin; never a browser (an
 * Origin header, or a POST that is not application/json: what a web page can
 * send without a preflight, which the mock never grants; without a token,
 * nor a Host name a web page could have rebound to us); with admin_token,
 * only a request carrying it as a bearer token, except the journal page
 * (GET /_mock/ui): it is static and holds no data, so a browser can load
 * it, and everything it shows comes from the other endpoints, token and
 * all. Then one row of `routes` answers. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_internal.h"
#include "uri.h"

/* ---------------------------------------------------------------- replies */

static void reply_json(ms3_req *r, int status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    r->resp.status = status;
    bk_buf_puts(&r->resp.body, text != NULL ? text : "{}");
    free(text);
    ms3__resp_header(r, "Content-Type", "application/json");
}

static void reply_raw_json(ms3_req *r, char *text)
{
    r->resp.status = 200;
    bk_buf_puts(&r->resp.body, text != NULL ? text : "[]");
    free(text);
    ms3__resp_header(r, "Content-Type", "application/json");
}

static void reply_error(ms3_req *r, int status, const char *message)
{
    reply_json(r, status, json_pack("{s:s}", "error", message));
}

static void ok(ms3_req *r)
{
    reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ---------------------------------------------------------------- who may call */

/* "Authorization: Bearer <token>" with the server's token. */
static int bearer_ok(const ms3_req *r, const char *token)
{
    const char *v = ms3__req_header(r, "Authorization");
    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return 0;
    v += 7;
    while (*v == ' ')
        v++;
    return ms3__secret_equal(v, token);
}

/* DNS rebinding: a page on a name its owner points at 127.0.0.1 makes the
 * browser's requests same-origin, so its GETs carry no Origin header and it
 * reads their answers. Such a name has dots and is none of ours; an IP
 * address, localhost (and *.localhost), a name without dots (a compose
 * service, a hosts entry) or a name under --virtual-host-suffix is not. A
 * request without a Host header comes from no browser. */
static int host_is_ours(const char *host, const char *vhost_suffix)
{
    if (host == NULL)
        return 1;
    char name[256];
    size_t n = strlen(host);
    if (n >= sizeof(name))
        return 0;
    memcpy(name, host, n + 1);
    if (name[0] == '[') { /* [v6]:port */
        char *end = strchr(name, ']');
        if (end == NULL)
            return 0;
        *end = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, name + 1, &a6) == 1;
    }
    char *colon = strchr(name, ':');
    if (colon != NULL)
        *colon = '\0';
    n = strlen(name);
    if (n > 0 && name[n - 1] == '.') /* the absolute form names the same host */
        name[--n] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, name, &a4) == 1 || strchr(name, '.') == NULL)
        return 1;
    const char *suffixes[] = {"localhost", vhost_suffix};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        const char *sfx = suffixes[i];
        size_t k = sfx != NULL ? strlen(sfx) : 0;
        if (k == 0 || k > n)
            continue;
        if (strcasecmp(name + n - k, sfx) == 0 && (k == n || name[n - k - 1] == '.'))
            return 1;
    }
    return 0;
}

typedef struct admin_route admin_route;
static const admin_route *find_route(const char *method, const char *path);

/* The router sends "_mock" here with or without a leading slash (a target
 * without one is refused as InvalidURI, but still answered by this
 * endpoint's rules): the route is what follows "_mock". */
static const char *route_path(const ms3_req *r)
{
    const char *path = r->route.raw_path;
    return path + (*path == '/') + strlen("_mock");
}
static int route_is_page(const admin_route *route);

int ms3__admin_admit(ms3_req *r)
{
    const ms3_server *s = r->srv;
    if (s->no_admin) {
        reply_error(r, 404, "the admin endpoints are turned off (--no-admin)");
        return -1;
    }
    if (ms3__req_header(r, "Origin") != NULL) {
        reply_error(r, 403, "admin requests from a web page (an Origin header) are refused");
        return -1;
    }
    if (s->admin_token == NULL && !host_is_ours(ms3__req_header(r, "Host"), s->vhost_suffix)) {
        reply_error(r, 403,
                    "admin requests for this Host are refused (a web page can point any name "
                    "at this address): call the mock by IP address, localhost or a name "
                    "without dots, or set --admin-token");
        return -1;
    }
    const admin_route *route = find_route(r->method, route_path(r));
    if (s->admin_token != NULL && !route_is_page(route) && !bearer_ok(r, s->admin_token)) {
        reply_error(r, 401,
                    "the admin endpoints need \"Authorization: Bearer <token>\" with the "
                    "mock's admin token (--admin-token)");
        ms3__resp_header(r, "WWW-Authenticate", "Bearer realm=\"mock-s3 admin\"");
        return -1;
    }
    if (strcmp(r->method, "POST") == 0 &&
        !ms3__media_type_is(ms3__req_header(r, "Content-Type"), "application/json")) {
        reply_error(r, 415, "admin POST requests must be sent as Content-Type: application/json");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- JSON input */

static const char *str_or_null(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t int_or(json_t *o, const char *name, int64_t def)
{
    json_t *v = json_object_get(o, name);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return def;
}

static int bool_or(json_t *o, const char *name, int def)
{
    json_t *v = json_object_get(o, name);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* ---------------------------------------------------------------- endpoints */

static void health_get(ms3_req *r, json_t *in)
{
    (void)in;
    ms3_journal_stats st;
    ms3__journal_stats_get(r->srv->journal, &st);
    reply_json(r, 200,
               json_pack("{s:b, s:{s:I, s:I, s:I}}", "ok", 1, "journal", "entries",
                         (json_int_t)st.entries, "max", (json_int_t)st.max, "dropped",
                         (json_int_t)st.dropped));
}

static void journal_get(ms3_req *r, json_t *in)
{
    (void)in;
    ms3_journal_filter f;
    memset(&f, 0, sizeof(f));
    const char *since = ms3__route_param(&r->route, "since");
    const char *status = ms3__route_param(&r->route, "status");
    const char *limit = ms3__route_param(&r->route, "limit");
    f.since_seq = since != NULL ? strtoull(since, NULL, 10) : 0;
    f.status = status != NULL ? (int)strtol(status, NULL, 10) : 0;
    f.limit = limit != NULL ? (size_t)strtoull(limit, NULL, 10) : 0;
    f.method = ms3__route_param(&r->route, "method");
    f.operation = ms3__route_param(&r->route, "operation");
    f.key_prefix = ms3__route_param(&r->route, "key_prefix");
    f.bucket = ms3__route_param(&r->route, "bucket");
    uint64_t dropped = 0;
    reply_raw_json(r, ms3__journal_json(r->srv->journal, &f, &dropped));
    ms3__resp_headerf(r, "X-Mock-Journal-Dropped", "%llu", (unsigned long long)dropped);
}

static void journal_delete(ms3_req *r, json_t *in)
{
    (void)in;
    ms3__journal_clear(r->srv->journal);
    ok(r);
}

static int add_rule(ms3_server *s, json_t *o, uint64_t *id, char *why, size_t whylen)
{
    if (!json_is_object(o)) {
        snprintf(why, whylen, "a fault rule must be a JSON object");
        return -1;
    }
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    const char *action = str_or_null(o, "action");
    if (action != NULL && ms3__fault_action_parse(action, &rule.action) != 0) {
        snprintf(why, whylen, "unknown fault action \"%s\"", action);
        return -1;
    }
    rule.method = str_or_null(o, "method");
    rule.operation = str_or_null(o, "operation");
    rule.bucket = str_or_null(o, "bucket");
    rule.key_glob = str_or_null(o, "key");
    if (rule.key_glob == NULL)
        rule.key_glob = str_or_null(o, "key_glob");
    rule.nth = (uint64_t)int_or(o, "nth", 0);
    rule.every_nth = (uint64_t)int_or(o, "every_nth", 0);
    rule.first_n = (uint64_t)int_or(o, "first_n", 0);
    json_t *p = json_object_get(o, "probability");
    rule.probability = json_is_number(p) ? json_number_value(p) : 0;
    rule.seed = (uint64_t)int_or(o, "seed", 0);
    rule.max_fires = (uint64_t)int_or(o, "max_fires", 0);
    rule.status = (int)int_or(o, "status", 0);
    rule.error_code = str_or_null(o, "error_code");
    rule.error_message = str_or_null(o, "error_message");
    rule.delay_ms = (uint32_t)int_or(o, "delay_ms", 0);
    rule.cut_after = (uint64_t)int_or(o, "cut_after", 0);
    bk_err err;
    if (ms3_server_add_fault(s, &rule, id, &err) != 0) {
        snprintf(why, whylen, "%s", err.msg);
        return -1;
    }
    return 0;
}

static void faults_get(ms3_req *r, json_t *in)
{
    (void)in;
    reply_raw_json(r, ms3__faults_json(r->srv->faults));
}

/* One rule object or an array of them -> {"ids":[...]}. */
static void faults_post(ms3_req *r, json_t *in)
{
    json_t *ids = json_array();
    char why[512];
    size_t n = json_is_array(in) ? json_array_size(in) : 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        if (add_rule(r->srv, json_is_array(in) ? json_array_get(in, i) : in, &id, why,
                     sizeof(why)) != 0) {
            json_decref(ids);
            reply_error(r, 400, why);
            return;
        }
        json_array_append_new(ids, json_integer((json_int_t)id));
    }
    reply_json(r, 200, json_pack("{s:o}", "ids", ids));
}

static void faults_delete(ms3_req *r, json_t *in)
{
    (void)in;
    ms3_server_clear_faults(r->srv);
    ok(r);
}

static void clock_get(ms3_req *r, json_t *in)
{
    (void)in;
    ms3_clock *c = &r->srv->clock;
    reply_json(r, 200,
               json_pack("{s:I, s:I}", "offset_seconds", (json_int_t)ms3__clock_offset(c), "now",
                         (json_int_t)ms3__clock_now(c)));
}

static void clock_post(ms3_req *r, json_t *in)
{
    if (!json_is_number(json_object_get(in, "offset_seconds"))) {
        reply_error(r, 400, "offset_seconds (a number) is required");
        return;
    }
    ms3_server_set_clock_offset(r->srv, int_or(in, "offset_seconds", 0));
    ok(r);
}

static void age_post(ms3_req *r, json_t *in)
{
    ms3_server *s = r->srv;
    const char *bucket = str_or_null(in, "bucket");
    const char *prefix = str_or_null(in, "prefix");
    int64_t seconds = int_or(in, "seconds", 0);
    long total = 0;
    if (bucket != NULL) {
        total = ms3_server_age_objects(s, bucket, prefix, seconds);
    } else {
        ms3_bucket_item *items = NULL;
        size_t n = ms3__store_list_buckets(s->store, &items);
        for (size_t i = 0; i < n; i++)
            total += ms3_server_age_objects(s, items[i].name, prefix, seconds);
        ms3__bucket_items_free(items, n);
    }
    if (total < 0)
        reply_error(r, 404, "no such bucket");
    else
        reply_json(r, 200, json_pack("{s:I}", "aged", (json_int_t)total));
}

static void reset_post(ms3_req *r, json_t *in)
{
    (void)in;
    ms3_server_reset(r->srv);
    ok(r);
}

typedef struct key_scan {
    json_t *keys;
    size_t n, max;
    int truncated;
} key_scan;

static int collect_key(void *ud, const ms3_obj_view *o)
{
    key_scan *ks = ud;
    if (ks->n == ks->max) {
        ks->truncated = 1;
        return 1;
    }
    json_array_append_new(ks->keys, json_pack("{s:s, s:I, s:I}", "key", o->key, "size",
                                              (json_int_t)o->meta->size, "last_modified",
                                              (json_int_t)(o->meta->last_modified_ms / 1000)));
    ks->n++;
    return 0;
}

/* Buckets with their keys (the journal page's trees): ?bucket= one of them,
 * ?prefix= keys under it, ?max_keys= per bucket (default 1000, at most
 * 10000); "truncated" when there were more. */
static void buckets_get(ms3_req *r, json_t *in)
{
    (void)in;
    ms3_server *s = r->srv;
    const char *only = ms3__route_param(&r->route, "bucket");
    const char *prefix = ms3__route_param(&r->route, "prefix");
    const char *max = ms3__route_param(&r->route, "max_keys");
    size_t max_keys = max != NULL ? (size_t)strtoull(max, NULL, 10) : 1000;
    if (max_keys == 0 || max_keys > 10000)
        max_keys = 10000;
    json_t *out = json_array();
    ms3_bucket_item *items = NULL;
    size_t n = ms3__store_list_buckets(s->store, &items);
    for (size_t i = 0; i < n; i++) {
        if (only != NULL && strcmp(only, items[i].name) != 0)
            continue;
        key_scan ks = {json_array(), 0, max_keys, 0};
        ms3__store_scan(s->store, items[i].name, prefix, NULL, collect_key, &ks);
        json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:o, s:b}", "name", items[i].name,
                                             "objects",
                                             (json_int_t)ms3__store_count(s->store, items[i].name),
                                             "created", (json_int_t)(items[i].created_ms / 1000),
                                             "keys", ks.keys, "truncated", ks.truncated));
    }
    ms3__bucket_items_free(items, n);
    reply_json(r, 200, json_pack("{s:o}", "buckets", out));
}

static void buckets_post(ms3_req *r, json_t *in)
{
    bk_err err;
    if (ms3_server_create_bucket(r->srv, str_or_null(in, "name"), &err) != 0)
        reply_error(r, 400, err.msg);
    else
        ok(r);
}

static void credentials_post(ms3_req *r, json_t *o)
{
    const char *akid = str_or_null(o, "access_key_id");
    const char *secret = str_or_null(o, "secret_access_key");
    bk_err err;
    if (ms3_server_add_credentials(r->srv, akid, secret, str_or_null(o, "session_token"), &err) !=
        0) {
        reply_error(r, 400, err.msg);
        return;
    }
    int64_t expires = int_or(o, "expires", 0);
    if (expires != 0)
        ms3_server_set_credentials_expiry(r->srv, akid, expires, NULL);
    const char *profile = str_or_null(o, "profile");
    ms3_access_profile prof;
    if (profile != NULL) {
        if (ms3_access_profile_parse(profile, &prof) != 0) {
            reply_error(r, 400, "profile must be full, read-only or no-list");
            return;
        }
        ms3_server_set_credentials_profile(r->srv, akid, prof, NULL);
    }
    ok(r);
}

static void web_identity_tokens_post(ms3_req *r, json_t *o)
{
    bk_err err;
    if (ms3_server_add_web_identity_token(r->srv, str_or_null(o, "token"), &err) != BK_OK)
        reply_error(r, 400, err.msg);
    else
        ok(r);
}

static void policy_post(ms3_req *r, json_t *o)
{
    ms3_bucket_policy p;
    const char *bucket = str_or_null(o, "bucket");
    ms3__policies_get(r->srv->policies, bucket, &p);
    const char *access = str_or_null(o, "access");
    if (access != NULL && ms3_access_profile_parse(access, &p.access) != 0) {
        reply_error(r, 400, "access must be full, read-only or no-list");
        return;
    }
    p.require_content_md5 = bool_or(o, "require_content_md5", p.require_content_md5);
    p.refuse_aws_chunked = bool_or(o, "refuse_aws_chunked", p.refuse_aws_chunked);
    p.reject_empty_accept_encoding =
        bool_or(o, "reject_empty_accept_encoding", p.reject_empty_accept_encoding);
    p.require_sse = bool_or(o, "require_sse", p.require_sse);
    bk_err err;
    if (ms3_server_set_bucket_policy(r->srv, bucket, &p, &err) != 0) {
        reply_error(r, 400, err.msg);
        return;
    }
    ok(r);
}

static void proxy_post(ms3_req *r, json_t *in)
{
    unsigned flags = 0;
    if (bool_or(in, "gfe_accept_encoding", 0))
        flags |= MS3_PROXY_GFE_ACCEPT_ENCODING;
    if (bool_or(in, "drop_underscore_headers", 0))
        flags |= MS3_PROXY_DROP_UNDERSCORE_HEADERS;
    ms3_server_set_proxy_mode(r->srv, flags);
    ok(r);
}

/* The journal page: static, its script fetches everything it shows. Nothing
 * may load from elsewhere, and no other page may frame it. */
static void ui_get(ms3_req *r, json_t *in)
{
    (void)in;
    r->resp.status = 200;
    bk_buf_append(&r->resp.body, ms3__ui_html, ms3__ui_html_len);
    ms3__resp_header(r, "Content-Type", "text/html; charset=utf-8");
    ms3__resp_header(r, "Content-Security-Policy",
                     "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; "
                     "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                     "form-action 'none'; frame-ancestors 'none'");
    ms3__resp_header(r, "X-Content-Type-Options", "nosniff");
    ms3__resp_header(r, "Referrer-Policy", "no-referrer");
    ms3__resp_header(r, "Cache-Control", "no-store");
}

/* ---------------------------------------------------------------- routing */

struct admin_route {
    const char *method;
    const char *path; /* after /_mock */
    void (*handle)(ms3_req *r, json_t *in);
    int page; /* serves no data: loads without the admin token */
};

/* One row per endpoint; mock-s3/README.md documents each. */
static const admin_route routes[] = {
    {"GET", "/ui", ui_get, 1}, /* the journal page (ui.html) */
    {"GET", "/health", health_get, 0},
    {"GET", "/journal", journal_get, 0}, /* ?since=N&limit=&method=&operation=&key_prefix=&status=
                                         &bucket= */
    {"DELETE", "/journal", journal_delete, 0},
    {"GET", "/faults", faults_get, 0},   /* rules with match/fire counts */
    {"POST", "/faults", faults_post, 0}, /* a rule object or an array -> {"ids":[...]} */
    {"DELETE", "/faults", faults_delete, 0},
    {"GET", "/clock", clock_get, 0},   /* {"offset_seconds":N,"now":T} */
    {"POST", "/clock", clock_post, 0}, /* {"offset_seconds":N} */
    {"POST", "/age", age_post, 0},     /* {"bucket"?,"prefix"?,"seconds":N} -> {"aged":n} */
    {"POST", "/reset", reset_post, 0},
    {"GET", "/buckets", buckets_get, 0},           /* ?bucket=&prefix=&max_keys= -> their keys */
    {"POST", "/buckets", buckets_post, 0},         /* {"name":B} */
    {"POST", "/credentials", credentials_post, 0}, /* {"access_key_id","secret_access_key",
                                                   "session_token"?,"expires"?,"profile"?} */
    {"POST", "/policy", policy_post, 0},           /* {"bucket"?,"access"?,"require_content_md5"?,
                                                   "refuse_aws_chunked"?,
                                                   "reject_empty_accept_encoding"?,"require_sse"?} */
    {"POST", "/proxy", proxy_post, 0}, /* {"gfe_accept_encoding"?,"drop_underscore_headers"?} */
    {"POST", "/web-identity-tokens", web_identity_tokens_post, 0}, /* {"token":T} */
};

static const admin_route *find_route(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(routes[i].method, method) == 0 && strcmp(routes[i].path, path) == 0)
            return &routes[i];
    return NULL;
}

static int route_is_page(const admin_route *route)
{
    return route != NULL && route->page;
}

/* The endpoint of the request, its JSON body buffered. */
static void handle(ms3_req *r, const char *body, size_t len)
{
    json_t *in = NULL;
    if (len > 0) {
        json_error_t jerr;
        in = json_loadb(body, len, 0, &jerr);
        if (in == NULL) {
            char why[300];
            snprintf(why, sizeof(why), "request body is not JSON: %s", jerr.text);
            reply_error(r, 400, why);
            return;
        }
    }
    if (in == NULL)
        in = json_object();
    const admin_route *route = find_route(r->method, route_path(r));
    if (route != NULL)
        route->handle(r, in);
    else
        reply_error(r, 404, "no such admin endpoint");
    json_decref(in);
}

void ms3__admin_run(ms3_req *r)
{
    const bk_buf *b = r->ingest != NULL ? ms3__ingest_buffer(r->ingest) : NULL;
    if (r->ingest != NULL && ms3__ingest_finish(r->ingest) != 0) {
        ms3__resp_error(r, "InvalidRequest", "admin request body too large", NULL);
        return;
    }
    handle(r, b != NULL ? bk_buf_str(b) : "", b != NULL ? b->len : 0);
}
