/* wire: what goes over HTTP (SPEC 5, 6, 8; field reports 1-7, 16, 28, 30).
 * Every request SigV4-signed with every x-amz-* header signed; no checksum
 * headers, trailers or aws-chunked on uploads (checksums only when
 * required); path-style and virtual-host addressing; a broken blob download
 * resumed with Range (recommended: BuildKit does not); with
 * disable_accept_encoding no request signs Accept-Encoding; multipart uploads
 * of large blobs. Most of it is read from the journal. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

#define SUITE "wire"

/* Every check of this suite and its level (conformance/README.md has what
 * each checks and, for the recommended ones, what BuildKit does instead). */
const conf_check suite_wire_checks[] = {
    {"sigv4_every_request", CONF_REQUIRED, NULL},
    {"amz_headers_signed", CONF_REQUIRED, NULL},
    {"no_checksum_trailers", CONF_REQUIRED, NULL},
    {"path_style", CONF_REQUIRED, NULL},
    {"virtual_host", CONF_REQUIRED, NULL},
    {"range_resume", CONF_RECOMMENDED,
     "BuildKit 73ed6825 does not resume a cut blob download: its pull retries "
     "io.EOF, ECONNRESET, EPIPE, closed connections, temporary net errors and 5xx, not the "
     "io.ErrUnexpectedEOF of a cut body (util/resolver/retryhandler/retry.go:54-72), and its "
     "ReaderAt reopens at an offset it never records, so a later read asks Range: "
     "bytes=<size>- and gets 416 (cache/remotecache/s3/readerat.go:40-49, 66)"},
    {"disable_accept_encoding", CONF_REQUIRED, NULL},
    {"multipart_upload", CONF_REQUIRED, NULL},
    {NULL, CONF_REQUIRED, NULL},
};

static int starts_with_ci(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

/* An export then an import in a fresh prefix; the journal entries of both. */
static json_t *round_trip(conf_ctx *c, const char *check, const char *extra, char *prefix,
                          size_t prefix_size)
{
    conf_case_prefix(c, check, prefix, prefix_size);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "multistage", .prefix = prefix, .extra = extra};
    if (!conf_export_ok(c, SUITE, check, &o))
        return NULL;
    char *attrs = conf_attrs(c, prefix, extra);
    char dest[4300], why[1200];
    conf_run r;
    conf_import(c, attrs, NULL, dest, sizeof dest, &r);
    free(attrs);
    conf_rmtree(dest);
    int ok = r.exit_code == 0;
    if (!ok)
        conf_fail(c, SUITE, check, "import failed: %s", conf_run_why(&r, why, sizeof why));
    conf_run_free(&r);
    return ok ? conf_journal_since(c, mark) : NULL;
}

/* 1 when the Authorization header's SignedHeaders list holds name (lower case). */
static int signed_header(const char *authz, const char *name)
{
    const char *sh = authz != NULL ? strstr(authz, "SignedHeaders=") : NULL;
    if (sh == NULL)
        return 0;
    const char *p = sh + 14;
    size_t want = strlen(name);
    while (*p && *p != ',' && *p != ' ') {
        size_t len = strcspn(p, ";, ");
        if (len == want && strncasecmp(p, name, len) == 0)
            return 1;
        p += len;
        if (*p == ';')
            p++;
    }
    return 0;
}

static void signatures(conf_ctx *c, json_t *entries)
{
    size_t i, n = json_array_size(entries);
    json_t *e;
    char bad_auth[600] = "", bad_signed[600] = "";
    json_array_foreach(entries, i, e)
    {
        const char *op = conf_jstr(e, "operation");
        const char *authz = conf_jheader(e, "authorization");
        int ok = json_is_true(json_object_get(e, "auth_ok"));
        if (!bad_auth[0] && (!ok || authz == NULL || !starts_with_ci(authz, "AWS4-HMAC-SHA256 ")))
            snprintf(bad_auth, sizeof bad_auth, "%s %s: auth %s%s (%s)", op, conf_jstr(e, "key"),
                     conf_jstr(e, "auth"), ok ? "" : " refused", conf_jstr(e, "error_code"));
        if (authz == NULL || bad_signed[0])
            continue;
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(e, "headers"), name, v)
        {
            if (!starts_with_ci(name, "x-amz-") && strcasecmp(name, "host") != 0)
                continue;
            if (!signed_header(authz, name) && !bad_signed[0]) {
                char lower[256];
                size_t k = 0;
                for (; name[k] && k + 1 < sizeof lower; k++)
                    lower[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
                lower[k] = '\0';
                snprintf(bad_signed, sizeof bad_signed, "%s %s sends %s unsigned", op,
                         conf_jstr(e, "key"), lower);
            }
        }
    }
    if (bad_auth[0])
        conf_fail(c, SUITE, "sigv4_every_request", "%s", bad_auth);
    else
        conf_pass(c, SUITE, "sigv4_every_request", "%zu requests, all SigV4 and accepted", n);
    if (bad_signed[0])
        conf_fail(c, SUITE, "amz_headers_signed", "%s", bad_signed);
    else
        conf_pass(c, SUITE, "amz_headers_signed", "host and every x-amz-* header signed");
}

static void addressing(conf_ctx *c, json_t *entries, const char *check, int virtual_host)
{
    char want[256];
    uint16_t port = ms3_server_port(c->mock);
    if (virtual_host)
        snprintf(want, sizeof want, "%s.localhost:%u", c->bucket, port);
    else
        snprintf(want, sizeof want, "127.0.0.1:%u", port);
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *host = conf_jheader(e, "host");
        if (host == NULL || strcmp(host, want) != 0) {
            conf_fail(c, SUITE, check, "%s %s sent Host: %s, expected %s",
                      conf_jstr(e, "operation"), conf_jstr(e, "key"), host ? host : "(none)", want);
            return;
        }
    }
    conf_pass(c, SUITE, check, "%zu requests with Host: %s", json_array_size(entries), want);
}

/* curl resolves *.localhost to loopback on its own; Go's resolver does not
 * (golang/go#22826) and neither does glibc without nss-myhostname. So an
 * adapter (any language) only runs this check where the name resolves. */
static int bucket_host_resolves(const conf_ctx *c, char *why, size_t why_size)
{
    char host[256];
    snprintf(host, sizeof host, "%s.localhost", c->bucket);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (res != NULL)
        freeaddrinfo(res);
    if (rc == 0)
        return 1;
    snprintf(why, why_size,
             "skipped: %s does not resolve on this machine (getaddrinfo: %s); Go and glibc "
             "without nss-myhostname do not resolve *.localhost (golang/go#22826): add the "
             "line \"127.0.0.1 %s\" to /etc/hosts to run this check",
             host, gai_strerror(rc), host);
    return 0;
}

static void virtual_host(conf_ctx *c)
{
    const char *check = "virtual_host";
    char prefix[256], why[1200];
    if (c->impl != NULL && !bucket_host_resolves(c, why, sizeof why)) {
        conf_skip(c, SUITE, check, "%s", why);
        return;
    }
    conf_case_prefix(c, check, prefix, sizeof prefix);
    /* *.localhost resolves to loopback in curl (the bkcache binary). */
    char attrs[1024];
    snprintf(attrs, sizeof attrs,
             "type=s3,bucket=%s,region=%s,endpoint_url=http://localhost:%u,use_path_style=false,"
             "prefix=%s",
             c->bucket, c->region, ms3_server_port(c->mock), prefix);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {.graph = "linear", .attrs_override = attrs};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    char dest[4300];
    conf_run r;
    conf_import(c, attrs, NULL, dest, sizeof dest, &r);
    conf_rmtree(dest);
    if (r.exit_code != 0) {
        conf_fail(c, SUITE, check, "import failed: %s", conf_run_why(&r, why, sizeof why));
    } else {
        json_t *entries = conf_journal_since(c, mark);
        addressing(c, entries, check, 1);
        json_decref(entries);
    }
    conf_run_free(&r);
}

static void range_resume(conf_ctx *c)
{
    const char *check = "range_resume";
    char prefix[256], glob[600], dest[4300], why[1200] = "", sub[600];
    conf_case_prefix(c, check, prefix, sizeof prefix);
    bk_buf m = BK_BUF_INIT;
    bk_err err;
    bk_err_clear(&err);
    if (conf_golden(c, "linear", "max", &m, &err) != BK_OK ||
        conf_seed(c, prefix, "buildkit", m.data, m.len, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        bk_buf_clear(&m);
        return;
    }
    snprintf(glob, sizeof glob, "%sblobs/*", prefix);
    ms3_fault_rule rule;
    ms3_fault_rule_init(&rule);
    rule.method = "GET";
    rule.operation = "GetObject";
    rule.bucket = c->bucket;
    rule.key_glob = glob;
    rule.first_n = 1;
    rule.action = MS3_FAULT_CUT_RESPONSE;
    rule.cut_after = 40;
    uint64_t id = 0;
    if (ms3_server_add_fault(c->mock, &rule, &id, &err) != 0) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        bk_buf_clear(&m);
        return;
    }
    uint64_t mark = conf_journal_mark(c);
    char *attrs = conf_attrs(c, prefix, NULL);
    conf_run r;
    conf_import(c, attrs, NULL, dest, sizeof dest, &r);
    free(attrs);
    uint64_t fired = ms3_server_fault_fired(c->mock, id);
    ms3_server_clear_faults(c->mock);
    json_t *entries = conf_journal_since(c, mark);
    /* Downloads run in parallel and the journal is in completion order: look
     * for a blob fetched twice, the second time from an offset. */
    const char *cut_key = NULL;
    json_t *gets = json_object();
    size_t i;
    json_t *e;
    int resumed = 0;
    json_array_foreach(entries, i, e)
    {
        const char *key = conf_jstr(e, "key");
        if (strcmp(conf_jstr(e, "operation"), "GetObject") != 0 ||
            strncmp(key, prefix, strlen(prefix)) != 0 || strstr(key, "/blobs/") == NULL)
            continue;
        json_int_t seen = json_integer_value(json_object_get(gets, key));
        json_object_set_new(gets, key, json_integer(seen + 1));
        unsigned long long from = 0;
        const char *range = conf_jheader(e, "range");
        if (range != NULL && strncmp(range, "bytes=", 6) == 0)
            from = strtoull(range + 6, NULL, 10);
        if (from > 0) {
            resumed = 1;
            cut_key = key;
        }
    }
    if (resumed && json_integer_value(json_object_get(gets, cut_key)) < 2)
        resumed = 0; /* a Range GET without a first attempt is no resume */
    json_decref(gets);
    if (fired == 0)
        snprintf(why, sizeof why, "no blob download was cut (the importer fetched no blob?)");
    else if (r.exit_code != 0)
        snprintf(why, sizeof why, "a download cut after 40 bytes failed the import: %s",
                 conf_run_why(&r, sub, sizeof sub));
    else if (!conf_graph_matches(r.out, m.data, m.len, why, sizeof why))
        (void)0; /* why says what differs */
    else if (!resumed)
        snprintf(why, sizeof why, "%s was fetched again without Range: bytes=N- (SPEC 6)",
                 cut_key ? cut_key : "the cut blob");
    json_decref(entries);
    if (why[0])
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "the cut download resumed with Range");
    conf_run_free(&r);
    conf_rmtree(dest);
    bk_buf_clear(&m);
}

/* The point of disable_accept_encoding (moby/buildkit#3749) is that
 * Accept-Encoding is not signed: a front end that rewrites it must not break
 * the signature. BuildKit drops the SDK's signed "identity" and Go's
 * transport then adds an unsigned "gzip" (s3.go:470-480 at 73ed6825); sending
 * none is equally fine. */
static void accept_encoding(conf_ctx *c)
{
    const char *check = "disable_accept_encoding";
    char prefix[256];
    json_t *entries = round_trip(c, check, "disable_accept_encoding=true", prefix, sizeof prefix);
    if (entries == NULL)
        return;
    size_t i, unsigned_sent = 0;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *ae = conf_jheader(e, "accept-encoding");
        if (signed_header(conf_jheader(e, "authorization"), "accept-encoding")) {
            conf_fail(c, SUITE, check,
                      "%s %s signed Accept-Encoding: \"%s\" (it must not be in SignedHeaders)",
                      conf_jstr(e, "operation"), conf_jstr(e, "key"), ae ? ae : "");
            json_decref(entries);
            return;
        }
        unsigned_sent += ae != NULL;
    }
    conf_pass(c, SUITE, check, "%zu requests, Accept-Encoding never signed (%zu sent it unsigned)",
              json_array_size(entries), unsigned_sent);
    json_decref(entries);
}

static void multipart_upload(conf_ctx *c)
{
    const char *check = "multipart_upload";
    if (!(c->capabilities & CONF_CAP_MULTIPART_THRESHOLD)) {
        conf_skip(c, SUITE, check, "skipped: the adapter does not declare multipart-threshold");
        return;
    }
    const uint64_t size = 12 * BK_S3_MIB + 5;
    char graph[4300], store[4300], digest[80], prefix[256], key[512], why[1200] = "";
    bk_err err;
    bk_err_clear(&err);
    if (conf_single_blob_graph(c, "noise12m-up", size, 7, NULL, graph, sizeof graph, store,
                               sizeof store, digest, &err) != BK_OK) {
        conf_fail(c, SUITE, check, "setup: %s", err.msg);
        return;
    }
    conf_case_prefix(c, check, prefix, sizeof prefix);
    snprintf(key, sizeof key, "%sblobs/%s", prefix, digest);
    uint64_t mark = conf_journal_mark(c);
    conf_export_opts o = {
        .graph = graph, .prefix = prefix, .store = store, .multipart_threshold = 5 * BK_S3_MIB};
    if (!conf_export_ok(c, SUITE, check, &o))
        return;
    if (c->is_mock) {
        json_t *entries = conf_journal_since(c, mark);
        size_t i, parts = 0, completes = 0, uploads = 0;
        json_t *e;
        json_array_foreach(entries, i, e)
        {
            if (strcmp(conf_jstr(e, "key"), key) != 0 || conf_jint(e, "status") != 200)
                continue;
            const char *op = conf_jstr(e, "operation");
            parts += strcmp(op, "UploadPart") == 0;
            completes += strcmp(op, "CompleteMultipartUpload") == 0;
        }
        if (parts < 2 || completes != 1)
            snprintf(why, sizeof why,
                     "a 12 MiB blob with a 5 MiB threshold: %zu parts, %zu completes", parts,
                     completes);
        else
            conf_journal_no_trailers(entries, why, sizeof why, &uploads);
        json_decref(entries);
    }
    bk_buf data = BK_BUF_INIT;
    if (!why[0]) {
        if (conf_get(c, key, &data, &err) != 1) {
            snprintf(why, sizeof why, "cannot read %s: %s", key, err.msg);
        } else {
            char hex[65];
            conf_sha256_hex(data.data, data.len, hex);
            if (strcmp(hex, digest + 7) != 0)
                snprintf(why, sizeof why, "%s holds %zu bytes of sha256:%s", key, data.len, hex);
        }
    }
    bk_buf_clear(&data);
    if (why[0])
        conf_fail(c, SUITE, check, "%s", why);
    else
        conf_pass(c, SUITE, check, "12 MiB uploaded in parts, bytes intact");
}

void suite_wire(conf_ctx *c)
{
    if (!c->is_mock) {
        conf_skip_needs_mock(c, SUITE, "sigv4_every_request",
                             "auth of each request is in the journal (RGW also accepts SigV2)");
        conf_skip_needs_mock(c, SUITE, "amz_headers_signed", "request headers are in the journal");
        conf_skip_needs_mock(c, SUITE, "no_checksum_trailers",
                             "request headers are in the journal");
        conf_skip_needs_mock(c, SUITE, "path_style", "Host headers are in the journal");
        conf_skip_needs_mock(c, SUITE, "virtual_host", "bucket.localhost resolves to the mock");
        conf_skip_needs_mock(c, SUITE, "range_resume", "fault injection");
        conf_skip_needs_mock(c, SUITE, "disable_accept_encoding", "request headers");
        multipart_upload(c);
        return;
    }
    char prefix[256];
    json_t *entries = round_trip(c, "sigv4_every_request", "mode=max", prefix, sizeof prefix);
    if (entries != NULL) {
        signatures(c, entries);
        char why[1200];
        size_t uploads = 0;
        if (!conf_journal_no_trailers(entries, why, sizeof why, &uploads))
            conf_fail(c, SUITE, "no_checksum_trailers", "%s", why);
        else if (uploads == 0)
            conf_fail(c, SUITE, "no_checksum_trailers", "the export uploaded nothing");
        else
            conf_pass(c, SUITE, "no_checksum_trailers",
                      "%zu uploads without checksum headers, trailers or aws-chunked", uploads);
        addressing(c, entries, "path_style", 0);
        json_decref(entries);
    }
    virtual_host(c);
    range_resume(c);
    accept_encoding(c);
    multipart_upload(c);
}
