/* The mock's whole request path through its in-process entry point
 * (ms3_server_handle): routing, auth, policies, faults, body ingest with
 * aws-chunked, every operation, the journal. Each input runs up to eight
 * requests against a fresh server (in memory, bucket "fuzz", one credential
 * with a session token, 5-byte minimum part size, STS on with one web
 * identity token).
 *
 * Input:
 *   byte 0  bits 0-1  0 anonymous server, requests as given
 *                     1 each request signed by the target with the right key
 *                     2 each request signed with a wrong secret
 *                     3 signed server, requests as given
 *           bit 2     body fed in pieces of (byte 1 % 64) + 1 bytes
 *           bits 3-6  fault applied to every request: 0 none, else an
 *                     ms3_fault_action; cut_after = byte 1
 *           bit 7     modes 1 and 2 presign instead of an Authorization header
 *   byte 1  piece size / cut point
 *   then requests separated by "\n~~~\n", each:
 *     "METHOD TARGET\n" ("Name: value\n")* "\n" body
 *   In targets, header values and bodies "$U" becomes the last UploadId a
 *   response carried and "$E1".."$E8" the ETag of that request's response, so
 *   multipart sequences can complete; a header value "$L" becomes the body's
 *   length after those substitutions.
 *
 * Properties checked (bk_fuzz_fail on violation):
 *   - every request gets an answer or a reported cut; a status is 100..599;
 *     an S3 error body is an <Error> document with a <Code>;
 *   - a request signed with a wrong secret answers 4xx/5xx and changes no
 *     bucket, object or upload (the admin API under /_mock is unsigned by
 *     design and exempt);
 *   - every request the mock sees, except admin ones, leaves one journal entry;
 *   - the journal never holds the secret or the session token unless the
 *     input itself spelled them out. */
#include "fuzz_target.h"

#include <strings.h>
#include <time.h>

#include "bkcache/buf.h"
#include "bkcache/sigv4.h"
#include "mock_s3.h"
#include "router.h"
#include "server_internal.h"

#define FUZZ_AK "AKIDFUZZ"
#define FUZZ_SK "fuzz/secret+key"
#define FUZZ_TOKEN "FuzzSessionTokenFwoGZXIvYXdzEJr"
#define FUZZ_HOST "127.0.0.1:9000"
#define MAX_REQUESTS 8
#define MAX_HEADERS 32
#define SEPARATOR "\n~~~\n"

typedef struct fuzz_state {
    uint8_t mode;
    uint8_t param;
    char upload_id[256];
    char etags[MAX_REQUESTS][96];
} fuzz_state;

typedef struct snapshot {
    size_t buckets, objects, uploads;
} snapshot;

static snapshot take_snapshot(ms3_server *s)
{
    snapshot snap = {0, 0, ms3_server_upload_count(s)};
    ms3_bucket_item *items = NULL;
    snap.buckets = ms3__store_list_buckets(s->store, &items);
    for (size_t i = 0; i < snap.buckets; i++)
        snap.objects += ms3_server_object_count(s, items[i].name);
    ms3__bucket_items_free(items, snap.buckets);
    return snap;
}

/* s with "$U" and "$En" replaced (malloc'ed, NUL-terminated; *len in/out). */
static char *substitute(const fuzz_state *st, const char *s, size_t *len)
{
    bk_buf b = BK_BUF_INIT;
    for (size_t i = 0; i < *len; i++) {
        if (s[i] == '$' && i + 1 < *len && s[i + 1] == 'U') {
            bk_buf_puts(&b, st->upload_id);
            i++;
        } else if (s[i] == '$' && i + 2 < *len && s[i + 1] == 'E' && s[i + 2] >= '1' &&
                   s[i + 2] <= '0' + MAX_REQUESTS) {
            bk_buf_puts(&b, st->etags[s[i + 2] - '1']);
            i += 2;
        } else {
            bk_buf_putc(&b, s[i]);
        }
    }
    *len = b.len;
    bk_buf_putc(&b, '\0'); /* terminator, not counted */
    return bk_buf_steal(&b);
}

static const char *find_header(const ms3_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name != NULL && strcasecmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

/* Adds what a client adds and signs (header or presigned) with the right or a
 * wrong secret. Returns the new target (malloc'ed) or NULL to send as given. */
static char *sign_request(const fuzz_state *st, const char *method, const char *target,
                          ms3_header *h, size_t *n, const char *body, size_t body_len,
                          char date[17], char sha[65], bk_sigv4_result *res, time_t now)
{
    int wrong = (st->mode & 3) == 2, presign = (st->mode >> 7) & 1;
    if (*n + 5 > MAX_HEADERS)
        return NULL;
    bk_sigv4_format_amz_date(now, date);
    if (find_header(h, *n, "Host") == NULL)
        h[(*n)++] = (ms3_header){"Host", FUZZ_HOST};
    const char *given = find_header(h, *n, "x-amz-content-sha256");
    if (given != NULL) {
        snprintf(sha, 65, "%s", given);
    } else if (!presign) {
        bk_sigv4_sha256_hex(body, body_len, sha);
        h[(*n)++] = (ms3_header){"x-amz-content-sha256", sha};
    } else {
        snprintf(sha, 65, "UNSIGNED-PAYLOAD");
    }
    if (!presign) {
        h[(*n)++] = (ms3_header){"X-Amz-Date", date};
        h[(*n)++] = (ms3_header){"X-Amz-Security-Token", FUZZ_TOKEN};
    }

    const char *q = strchr(target, '?');
    size_t plen = q != NULL ? (size_t)(q - target) : strlen(target);
    char *path = bk_fuzz_cstr((const uint8_t *)target, plen);
    bk_sigv4_header sh[MAX_HEADERS];
    for (size_t i = 0; i < *n; i++)
        sh[i] = (bk_sigv4_header){h[i].name, h[i].value};
    bk_sigv4_request sreq = {method, path, q != NULL ? q + 1 : "", sh, *n, sha, BK_SIGV4_PATH_S3};
    bk_err err;
    bk_sigv4_signer *signer = bk_sigv4_signer_new(FUZZ_AK, wrong ? "wrong-secret" : FUZZ_SK,
                                                  FUZZ_TOKEN, "us-east-1", "s3", &err);
    char *new_target = NULL;
    if (signer != NULL && path != NULL) {
        if (presign) {
            if (bk_sigv4_presign(signer, &sreq, date, 300, NULL, res, &err) == BK_OK) {
                size_t len = plen + 2 + strlen(res->presigned_query);
                new_target = malloc(len);
                if (new_target != NULL)
                    snprintf(new_target, len, "%s?%s", path, res->presigned_query);
            }
        } else if (bk_sigv4_sign(signer, &sreq, date, NULL, res, &err) == BK_OK &&
                   *n < MAX_HEADERS) {
            h[(*n)++] = (ms3_header){"Authorization", res->authorization};
        }
    }
    bk_sigv4_signer_free(signer);
    free(path);
    return new_target;
}

static int is_admin(const char *method, const char *target, const char *host)
{
    ms3_route r;
    memset(&r, 0, sizeof(r));
    int admin =
        ms3__route_parse(&r, method, target, host, "localhost", 0) == 0 && r.op == MS3_OP_ADMIN;
    ms3__route_clear(&r);
    return admin;
}

static void check_response(const ms3_inproc_response *resp, const char *method, int admin)
{
    if (resp->outcome == MS3_INPROC_ANSWERED && (resp->status < 100 || resp->status > 599))
        bk_fuzz_fail("answered with a status outside 100..599");
    if (resp->outcome != MS3_INPROC_ANSWERED || admin || resp->status < 300 ||
        resp->status == 304 || strcmp(method, "HEAD") == 0 || resp->body_len == 0)
        return;
    if (strstr(resp->body, "<Error>") == NULL || strstr(resp->body, "<Code>") == NULL)
        bk_fuzz_fail("an error status whose body is not an S3 <Error> with a <Code>");
}

static void remember(fuzz_state *st, size_t index, const ms3_inproc_response *resp)
{
    const char *etag = ms3_inproc_response_header(resp, "ETag");
    if (etag == NULL && resp->body != NULL) {
        /* CopyObject and CompleteMultipartUpload carry it in the body. */
        const char *b = strstr(resp->body, "<ETag>");
        const char *e = b != NULL ? strstr(b, "</ETag>") : NULL;
        if (e != NULL)
            snprintf(st->etags[index], sizeof(st->etags[index]), "%.*s", (int)(e - b - 6), b + 6);
    } else if (etag != NULL) {
        snprintf(st->etags[index], sizeof(st->etags[index]), "%s", etag);
    }
    const char *u = resp->body != NULL ? strstr(resp->body, "<UploadId>") : NULL;
    const char *ue = u != NULL ? strstr(u, "</UploadId>") : NULL;
    if (ue != NULL)
        snprintf(st->upload_id, sizeof(st->upload_id), "%.*s", (int)(ue - u - 10), u + 10);
}

/* One request from its text. Returns 0, or -1 when the text is not a request. */
static int run_one(ms3_server *s, fuzz_state *st, size_t index, const char *text, size_t len)
{
    const char *eol = memchr(text, '\n', len);
    if (eol == NULL)
        return -1;
    size_t line_len = (size_t)(eol - text);
    const char *sp = memchr(text, ' ', line_len);
    if (sp == NULL || sp == text || (size_t)(sp - text) >= 16)
        return -1;
    char method[16];
    snprintf(method, sizeof(method), "%.*s", (int)(sp - text), text);
    size_t tlen = line_len - (size_t)(sp + 1 - text);
    char *target = substitute(st, sp + 1, &tlen);

    ms3_header h[MAX_HEADERS];
    char *owned[MAX_HEADERS * 2];
    size_t n = 0, n_owned = 0;
    const char *p = eol + 1, *end = text + len;
    while (p < end && *p != '\n' && n < MAX_HEADERS - 6) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (le == NULL)
            le = end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon != NULL && colon > p) {
            size_t vlen = (size_t)(le - colon - 1);
            const char *v = colon + 1;
            while (vlen > 0 && *v == ' ') {
                v++;
                vlen--;
            }
            char *name = bk_fuzz_cstr((const uint8_t *)p, (size_t)(colon - p));
            char *value = substitute(st, v, &vlen);
            owned[n_owned++] = name;
            owned[n_owned++] = value;
            h[n++] = (ms3_header){name, value};
        }
        p = le + 1;
    }
    size_t body_len = 0;
    char *body = NULL;
    if (p < end) {
        p++; /* the blank line */
        body_len = p < end ? (size_t)(end - p) : 0;
    }
    body = substitute(st, p < end ? p : "", &body_len);

    char length[24];
    snprintf(length, sizeof(length), "%zu", body_len);
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].value, "$L") == 0)
            h[i].value = length;

    char date[17], sha[65];
    bk_sigv4_result res;
    memset(&res, 0, sizeof(res));
    int mode = st->mode & 3;
    if (mode == 1 || mode == 2) {
        char *signed_target = sign_request(st, method, target, h, &n, body, body_len, date, sha,
                                           &res, (time_t)ms3_server_now(s));
        if (signed_target != NULL) {
            free(target);
            target = signed_target;
        }
    }

    const char *host = find_header(h, n, "Host");
    int admin = is_admin(method, target, host);
    snapshot before = take_snapshot(s);
    size_t journal_before = ms3_journal_count(s, NULL);

    ms3_inproc_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.target = target;
    rq.headers = h;
    rq.n_headers = n;
    rq.body = body;
    rq.body_len = body_len;
    rq.feed_piece = (st->mode & 4) ? (size_t)(st->param % 64) + 1 : 0;
    rq.max_response = (size_t)1024 * 1024;
    ms3_inproc_response resp;
    bk_err err;
    if (ms3_server_handle(s, &rq, &resp, &err) != 0 && err.code != BK_ENOMEM)
        bk_fuzz_fail("ms3_server_handle refused a request the HTTP layer would pass on");
#ifdef BK_FUZZ_TRACE
    /* -DBK_FUZZ_TRACE: what each request of an input got, to read a crash input. */
    fprintf(stderr, "%s %s -> outcome %d status %d %.*s\n", method, target, (int)resp.outcome,
            resp.status, resp.status >= 300 ? 120 : 0, resp.body != NULL ? resp.body : "");
#endif
    check_response(&resp, method, admin);
    if (mode == 2 && !admin && resp.outcome == MS3_INPROC_ANSWERED) {
        snapshot after = take_snapshot(s);
        if (resp.status < 400)
            bk_fuzz_fail("a request signed with a wrong secret succeeded");
        if (after.buckets != before.buckets || after.objects != before.objects ||
            after.uploads != before.uploads)
            bk_fuzz_fail("a request signed with a wrong secret changed state");
    }
    if (!admin && resp.outcome != MS3_INPROC_BAD_REQUEST &&
        ms3_journal_count(s, NULL) != journal_before + 1)
        bk_fuzz_fail("a request left no journal entry, or more than one");
    remember(st, index, &resp);
    ms3_inproc_response_clear(&resp);

    bk_sigv4_result_clear(&res);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(body);
    free(target);
    return 0;
}

static const void *find_bytes(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

/* Whether the input contains s in any letter case: header names are
 * case-insensitive and SigV4 lower-cases them (SignedHeaders in the journal's
 * Authorization), so a secret the fuzzer typed into a name comes back in
 * lower case. */
static int spells_out(const uint8_t *data, size_t size, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= size; i++)
        if (strncasecmp((const char *)data + i, s, k) == 0)
            return 1;
    return 0;
}

BK_FUZZ_TARGET(mock_request)
{
    if (size < 2)
        return 0;
    fuzz_state st;
    memset(&st, 0, sizeof(st));
    st.mode = data[0];
    st.param = data[1];

    ms3_options o;
    ms3_options_init(&o);
    o.anonymous = (st.mode & 3) == 0;
    o.min_part_size = 5;
    static const char *const web_tokens[] = {"FuzzWebIdentityToken"};
    o.sts = 1; /* POST / with a form reaches STS's parsers */
    o.web_identity_tokens = web_tokens;
    o.n_web_identity_tokens = 1;
    bk_err err;
    ms3_server *s = ms3_server_new_inproc(&o, &err);
    if (s == NULL)
        return 0;
    if (ms3_server_add_credentials(s, FUZZ_AK, FUZZ_SK, FUZZ_TOKEN, &err) != 0 ||
        ms3_server_create_bucket(s, "fuzz", &err) != 0) {
        ms3_server_stop(s);
        return 0;
    }
    unsigned fault = (st.mode >> 3) & 15;
    if (fault >= MS3_FAULT_ERROR && fault <= MS3_FAULT_HEAD_NO_CONTENT_LENGTH) {
        ms3_fault_rule rule;
        ms3_fault_rule_init(&rule);
        rule.action = (ms3_fault_action)fault;
        rule.cut_after = st.param;
        rule.delay_ms = 1000;
        (void)ms3_server_add_fault(s, &rule, NULL, &err);
    }

    const uint8_t *p = data + 2, *end = data + size;
    for (size_t i = 0; i < MAX_REQUESTS && p < end; i++) {
        const uint8_t *sep = find_bytes(p, (size_t)(end - p), SEPARATOR);
        const uint8_t *stop = sep != NULL ? sep : end;
        char *text = bk_fuzz_cstr(p, (size_t)(stop - p));
        if (text == NULL || run_one(s, &st, i, text, (size_t)(stop - p)) != 0) {
            free(text);
            break;
        }
        free(text);
        p = sep != NULL ? sep + strlen(SEPARATOR) : end;
    }

    int spelled_out = spells_out(data, size, FUZZ_SK) || spells_out(data, size, FUZZ_TOKEN);
    char *journal = ms3_journal_json(s, NULL);
    if (!spelled_out && journal != NULL &&
        (strstr(journal, FUZZ_SK) != NULL || strstr(journal, FUZZ_TOKEN) != NULL))
        bk_fuzz_fail("the journal holds the secret key or the session token");
    free(journal);
    ms3_server_stop(s);
    return 0;
}
