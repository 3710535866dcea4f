/* BK_TEST_UNIT: every SigV4 vector under fixtures/sigv4 (see its SOURCE.md):
 * canonical request, string to sign and signature must match byte for byte,
 * and every signed request of the suites must pass our verifier. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "bkcache/httpreq.h"
#include "bkcache/sigv4.h"
#include "cachegen.h"

#define VECTORS BK_FIXTURES_DIR "/sigv4"

#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

/* Reads a whole file; NULL when it does not exist. */

/* snprintf that fails the test instead of truncating. */
__attribute__((format(printf, 3, 4))) static void fmt_into(char *out, size_t size, const char *fmt,
                                                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        fail_msg("formatted text does not fit in %zu bytes", size);
}

static char *must_slurp(const char *path, size_t *len)
{
    char *s = bk_test_read_file(path, len);
    if (s == NULL)
        fail_msg("cannot read %s", path);
    return s;
}

static void parse_req_file(const char *path, bk_httpreq *req)
{
    size_t len;
    char *text = must_slurp(path, &len);
    bk_err err = {0};
    if (bk_httpreq_parse(text, len, req, &err) != BK_OK)
        fail_msg("%s: %s", path, err.msg);
    free(text);
}

static bk_sigv4_request view_of(const bk_httpreq *r, const char *payload_hash,
                                bk_sigv4_path_rule rule)
{
    bk_sigv4_request v = {.method = r->method,
                          .raw_path = r->raw_path,
                          .raw_query = r->raw_query,
                          .headers = r->headers,
                          .n_headers = r->n_headers,
                          .payload_hash = payload_hash,
                          .path_rule = rule};
    return v;
}

static void expect_equal_text(const char *what, const char *got, const char *want)
{
    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("%s differs\n--- got\n%s\n--- want\n%s", what, got != NULL ? got : "(null)", want);
}

/* Verifies req (which carries an Authorization header) with the verifier. */
static bk_code verify_header_auth(const bk_httpreq *r, const char *payload_hash,
                                  bk_sigv4_path_rule rule, const char *secret)
{
    bk_sigv4_auth auth;
    bk_err err = {0};
    const char *authz = bk_httpreq_header(r, "Authorization");
    assert_non_null(authz);
    if (bk_sigv4_parse_authorization(authz, &auth, &err) != BK_OK)
        fail_msg("cannot parse '%s': %s", authz, err.msg);
    bk_sigv4_request v = view_of(r, payload_hash, rule);
    bk_sigv4_result res;
    bk_code rc = bk_sigv4_verify(&v, &auth, secret, NULL, &res, &err);
    bk_sigv4_result_clear(&res);
    bk_sigv4_auth_clear(&auth);
    return rc;
}

/* ---- aws4_testsuite (botocore copy of the AWS suite) ---- */

static int run_aws4_case(const char *dir, const char *name)
{
    char path[1024];
    bk_httpreq r;
    fmt_into(path, sizeof path, "%s/%s.req", dir, name);
    parse_req_file(path, &r);

    /* Only this case signs a token the .req does not carry (see SOURCE.md). */
    int with_token = strcmp(name, "get-vanilla-with-session-token") == 0;
    bk_err err = {0};
    bk_sigv4_signer *s = bk_sigv4_signer_new(SUITE_AK, SUITE_SK, with_token ? SUITE_TOKEN : NULL,
                                             "us-east-1", "service", &err);
    assert_non_null(s);
    if (with_token)
        assert_int_equal(bk_httpreq_add_header(&r, "X-Amz-Security-Token", SUITE_TOKEN, &err),
                         BK_OK);
    char body_hash[65];
    bk_sigv4_sha256_hex(r.body, r.body_len, body_hash);
    bk_sigv4_request v = view_of(&r, body_hash, BK_SIGV4_PATH_AUTO);
    const char *amz_date = bk_httpreq_header(&r, "X-Amz-Date");
    assert_non_null(amz_date);
    bk_sigv4_result res;
    if (bk_sigv4_sign(s, &v, amz_date, NULL, &res, &err) != BK_OK)
        fail_msg("%s: %s", name, err.msg);

    char *creq, *sts, *authz;
    fmt_into(path, sizeof path, "%s/%s.creq", dir, name);
    creq = must_slurp(path, NULL);
    fmt_into(path, sizeof path, "%s/%s.sts", dir, name);
    sts = must_slurp(path, NULL);
    fmt_into(path, sizeof path, "%s/%s.authz", dir, name);
    authz = must_slurp(path, NULL);
    expect_equal_text(name, res.canonical_request, creq);
    expect_equal_text(name, res.string_to_sign, sts);
    expect_equal_text(name, res.authorization, authz);

    /* The signed request must verify; the one with the known upstream defect
     * (a shuffled signature in its .sreq) must be rejected. */
    bk_httpreq sr;
    fmt_into(path, sizeof path, "%s/%s.sreq", dir, name);
    parse_req_file(path, &sr);
    bk_code vrc = verify_header_auth(&sr, body_hash, BK_SIGV4_PATH_AUTO, SUITE_SK);
    assert_int_equal(vrc, with_token ? BK_EAUTH : BK_OK);
    assert_int_equal(verify_header_auth(&sr, body_hash, BK_SIGV4_PATH_AUTO,
                                        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz"),
                     BK_EAUTH);

    bk_httpreq_clear(&sr);
    free(creq);
    free(sts);
    free(authz);
    bk_sigv4_result_clear(&res);
    bk_sigv4_signer_free(s);
    bk_httpreq_clear(&r);
    return 1;
}

/* Walks dir; a folder holding <folder>.req is a case. */
/* NOLINTNEXTLINE(misc-no-recursion): as deep as the fixture tree in the repository */
static int walk_aws4(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fail_msg("cannot open %s", dir);
        return 0;
    }
    int cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1024], req[2400];
        struct stat st;
        fmt_into(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        fmt_into(req, sizeof req, "%s/%s.req", sub, e->d_name);
        if (stat(req, &st) == 0)
            cases += run_aws4_case(sub, e->d_name);
        else
            cases += walk_aws4(sub);
    }
    closedir(d);
    return cases;
}

static void aws4_testsuite_all_cases(void **state)
{
    (void)state;
    assert_int_equal(walk_aws4(VECTORS "/aws4_testsuite"), 34);
}

/* ---- aws-signing-test-suite/v4 (aws-c-auth, header and query variants) ---- */

static char *case_file(const char *dir, const char *file)
{
    char path[1024];
    fmt_into(path, sizeof path, "%s/%s", dir, file);
    return must_slurp(path, NULL);
}

/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
static void iso_to_amz(const char *iso, char out[17])
{
    size_t j = 0;
    for (const char *p = iso; *p != '\0' && j < 16; p++)
        if (*p != '-' && *p != ':')
            out[j++] = *p;
    out[j] = '\0';
    assert_int_equal(j, 16);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The '&'-separated parameters of a query, sorted and joined by '\n'. */
static char *sorted_params(const char *query)
{
    char *copy = strdup(query), *save = NULL;
    char *items[64];
    size_t n = 0;
    assert_non_null(copy);
    for (char *t = strtok_r(copy, "&", &save); t != NULL && n < 64; t = strtok_r(NULL, "&", &save))
        items[n++] = t;
    qsort(items, n, sizeof items[0], compare_strings);
    bk_buf b = BK_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        bk_buf_printf(&b, "%s\n", items[i]);
    free(copy);
    return bk_buf_steal(&b);
}

static void run_crt_case(const char *dir, const char *name)
{
    char path[1024];
    json_error_t jerr;
    fmt_into(path, sizeof path, "%s/context.json", dir);
    json_t *ctx = json_load_file(path, 0, &jerr);
    if (ctx == NULL)
        fail_msg("%s: %s", path, jerr.text);
    json_t *cred = json_object_get(ctx, "credentials");
    const char *ak = json_string_value(json_object_get(cred, "access_key_id"));
    const char *sk = json_string_value(json_object_get(cred, "secret_access_key"));
    const char *token = json_string_value(json_object_get(cred, "token"));
    const char *region = json_string_value(json_object_get(ctx, "region"));
    const char *service = json_string_value(json_object_get(ctx, "service"));
    int normalize = json_is_true(json_object_get(ctx, "normalize"));
    int sign_body = json_is_true(json_object_get(ctx, "sign_body"));
    int omit_token = json_is_true(json_object_get(ctx, "omit_session_token"));
    long expires = (long)json_integer_value(json_object_get(ctx, "expiration_in_seconds"));
    char amz_date[17];
    iso_to_amz(json_string_value(json_object_get(ctx, "timestamp")), amz_date);
    assert_non_null(ak);
    assert_non_null(sk);
    bk_sigv4_path_rule rule =
        normalize ? BK_SIGV4_PATH_GENERIC : BK_SIGV4_PATH_GENERIC_UNNORMALIZED;
    bk_err err = {0};
    bk_sigv4_signer *s =
        bk_sigv4_signer_new(ak, sk, omit_token ? NULL : token, region, service, &err);
    assert_non_null(s);

    /* Header variant: the signer adds X-Amz-Date, the token and (sign_body) the hash. */
    bk_httpreq r;
    fmt_into(path, sizeof path, "%s/request.txt", dir);
    parse_req_file(path, &r);
    char body_hash[65];
    bk_sigv4_sha256_hex(r.body, r.body_len, body_hash);
    assert_int_equal(bk_httpreq_add_header(&r, "X-Amz-Date", amz_date, &err), BK_OK);
    if (token != NULL && !omit_token)
        assert_int_equal(bk_httpreq_add_header(&r, "X-Amz-Security-Token", token, &err), BK_OK);
    if (sign_body)
        assert_int_equal(bk_httpreq_add_header(&r, "x-amz-content-sha256", body_hash, &err), BK_OK);
    bk_sigv4_request v = view_of(&r, body_hash, rule);
    bk_sigv4_result res;
    if (bk_sigv4_sign(s, &v, amz_date, NULL, &res, &err) != BK_OK)
        fail_msg("%s: %s", name, err.msg);
    char *want = case_file(dir, "header-canonical-request.txt");
    expect_equal_text(name, res.canonical_request, want);
    free(want);
    want = case_file(dir, "header-string-to-sign.txt");
    expect_equal_text(name, res.string_to_sign, want);
    free(want);
    want = case_file(dir, "header-signature.txt");
    expect_equal_text(name, res.signature, want);
    free(want);
    bk_httpreq sr;
    fmt_into(path, sizeof path, "%s/header-signed-request.txt", dir);
    parse_req_file(path, &sr);
    expect_equal_text(name, res.authorization, bk_httpreq_header(&sr, "Authorization"));
    assert_int_equal(verify_header_auth(&sr, body_hash, rule, sk), BK_OK);
    bk_httpreq_clear(&sr);
    bk_sigv4_result_clear(&res);
    bk_httpreq_clear(&r);

    /* Query variant: the X-Amz-* parameters carry date, credential and token. */
    fmt_into(path, sizeof path, "%s/request.txt", dir);
    parse_req_file(path, &r);
    v = view_of(&r, body_hash, rule);
    if (bk_sigv4_presign(s, &v, amz_date, expires, NULL, &res, &err) != BK_OK)
        fail_msg("%s (query): %s", name, err.msg);
    want = case_file(dir, "query-canonical-request.txt");
    expect_equal_text(name, res.canonical_request, want);
    free(want);
    want = case_file(dir, "query-string-to-sign.txt");
    expect_equal_text(name, res.string_to_sign, want);
    free(want);
    want = case_file(dir, "query-signature.txt");
    expect_equal_text(name, res.signature, want);
    free(want);
    fmt_into(path, sizeof path, "%s/query-signed-request.txt", dir);
    parse_req_file(path, &sr);
    if (!omit_token) {
        /* Same parameters as the reference signer (which orders them differently). */
        char *ours = sorted_params(res.presigned_query), *theirs = sorted_params(sr.raw_query);
        expect_equal_text(name, ours, theirs);
        expect_equal_text(name, r.raw_path, sr.raw_path);
        free(ours);
        free(theirs);
    }
    bk_sigv4_auth auth;
    if (bk_sigv4_parse_presigned(sr.raw_query, &auth, &err) != BK_OK)
        fail_msg("%s: %s", name, err.msg);
    assert_string_equal(auth.signature, res.signature);
    assert_int_equal(auth.expires, expires);
    bk_sigv4_request sv = view_of(&sr, body_hash, rule);
    bk_sigv4_result vres;
    if (omit_token) {
        /* The token was appended after signing; it is not part of the signature. */
        assert_non_null(auth.session_token);
        assert_int_equal(bk_sigv4_verify(&sv, &auth, sk, NULL, &vres, &err), BK_EAUTH);
    } else {
        if (bk_sigv4_verify(&sv, &auth, sk, NULL, &vres, &err) != BK_OK)
            fail_msg("%s: presigned verify: %s", name, err.msg);
        expect_equal_text(name, vres.canonical_request, res.canonical_request);
    }
    bk_sigv4_result_clear(&vres);
    bk_sigv4_auth_clear(&auth);
    bk_httpreq_clear(&sr);
    bk_sigv4_result_clear(&res);
    bk_httpreq_clear(&r);
    bk_sigv4_signer_free(s);
    json_decref(ctx);
}

static void aws_signing_test_suite_all_cases(void **state)
{
    (void)state;
    const char *root = VECTORS "/aws-signing-test-suite/v4";
    DIR *d = opendir(root);
    assert_non_null(d);
    int cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char dir[1024];
        fmt_into(dir, sizeof dir, "%s/%s", root, e->d_name);
        run_crt_case(dir, e->d_name);
        cases++;
    }
    closedir(d);
    assert_int_equal(cases, 38);
}

/* ---- S3 documentation examples and extra/ (JSON) ---- */

typedef struct json_request {
    bk_sigv4_header headers[32];
    size_t n;
    bk_sigv4_request view;
} json_request;

static void load_json_request(json_t *root, json_request *jr)
{
    json_t *req = json_object_get(root, "request");
    json_t *headers = json_object_get(req, "headers");
    assert_true(json_array_size(headers) <= 32);
    jr->n = json_array_size(headers);
    for (size_t i = 0; i < jr->n; i++) {
        jr->headers[i].name = json_string_value(json_array_get(json_array_get(headers, i), 0));
        jr->headers[i].value = json_string_value(json_array_get(json_array_get(headers, i), 1));
    }
    memset(&jr->view, 0, sizeof jr->view);
    jr->view.method = json_string_value(json_object_get(req, "method"));
    jr->view.raw_path = json_string_value(json_object_get(req, "raw_path"));
    jr->view.raw_query = json_string_value(json_object_get(req, "raw_query"));
    jr->view.headers = jr->headers;
    jr->view.n_headers = jr->n;
    jr->view.payload_hash = json_string_value(json_object_get(root, "payload_hash"));
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        fail_msg("missing string field '%s'", key);
    return s;
}

static void check_chunks(json_t *root, bk_sigv4_signer *s, const char *seed)
{
    json_t *chunks = json_object_get(root, "chunks");
    const char *amz_date = jstr(root, "amz_date");
    const char *scope = jstr(root, "scope");
    unsigned char key[32];
    char date8[9];
    bk_err err = {0};
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    assert_int_equal(bk_sigv4_signer_key(s, date8, key, &err), BK_OK);
    char prev[65];
    fmt_into(prev, sizeof prev, "%s", seed);
    for (size_t i = 0; i < json_array_size(chunks); i++) {
        json_t *c = json_array_get(chunks, i);
        size_t size = (size_t)json_integer_value(json_object_get(c, "size"));
        char *data = malloc(size + 1);
        assert_non_null(data);
        memset(data, jstr(c, "fill_byte")[0], size);
        char hex[65], sig[65];
        bk_sigv4_sha256_hex(data, size, hex);
        expect_equal_text("chunk data sha256", hex, jstr(c, "data_sha256"));
        unsigned char md[32];
        for (size_t k = 0; k < 32; k++) {
            char pair[3] = {hex[2 * k], hex[2 * k + 1], '\0'};
            char *end;
            unsigned long byte = strtoul(pair, &end, 16);
            assert_ptr_equal(end, pair + 2);
            md[k] = (unsigned char)byte;
        }
        bk_sigv4_chunk_signature(key, amz_date, scope, prev, md, sig);
        expect_equal_text("chunk signature", sig, jstr(c, "signature"));
        memcpy(prev, sig, 65);
        free(data);
    }
    json_t *trailer = json_object_get(root, "trailer");
    if (trailer != NULL) {
        const char *canon = jstr(trailer, "canonical_trailer");
        char sig[65];
        bk_sigv4_trailer_signature(key, amz_date, scope, prev, canon, strlen(canon), sig);
        expect_equal_text("trailer signature", sig, jstr(trailer, "signature"));
    }
}

static void run_json_case(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        fail_msg("%s: %s", path, jerr.text);
    json_t *cred = json_object_get(root, "credentials");
    const char *sk = jstr(cred, "secret_access_key");
    bk_err err = {0};
    bk_sigv4_signer *s = bk_sigv4_signer_new(jstr(cred, "access_key_id"), sk, NULL,
                                             jstr(root, "region"), jstr(root, "service"), &err);
    assert_non_null(s);
    const char *amz_date = jstr(root, "amz_date");

    if (json_object_get(root, "request") == NULL) {
        /* Trailer-only vector (aws-c-auth): chain from the given previous signature. */
        json_t *trailer = json_object_get(root, "trailer");
        unsigned char key[32];
        char date8[9], sig[65];
        memcpy(date8, amz_date, 8);
        date8[8] = '\0';
        assert_int_equal(bk_sigv4_signer_key(s, date8, key, &err), BK_OK);
        const char *canon = jstr(trailer, "canonical_trailer");
        bk_sigv4_trailer_signature(key, amz_date, jstr(root, "scope"),
                                   jstr(root, "previous_signature"), canon, strlen(canon), sig);
        expect_equal_text(path, sig, jstr(trailer, "signature"));
        bk_sigv4_signer_free(s);
        json_decref(root);
        return;
    }

    json_request jr;
    load_json_request(root, &jr);
    bk_sigv4_result res;
    json_t *expires = json_object_get(root, "expires_seconds");
    if (expires != NULL) {
        /* Presigned: sign the bare request; the X-Amz-* query is ours to build. */
        bk_sigv4_request bare = jr.view;
        bare.raw_query = "";
        bare.payload_hash = NULL;
        if (bk_sigv4_presign(s, &bare, amz_date, (long)json_integer_value(expires), NULL, &res,
                             &err) != BK_OK)
            fail_msg("%s: %s", path, err.msg);
        char url[2048];
        fmt_into(url, sizeof url, "https://%s%s?%s", bk_sigv4_find_header(&jr.view, "host"),
                 jr.view.raw_path, res.presigned_query);
        expect_equal_text(path, url, jstr(root, "presigned_url"));
        /* And the verifier accepts the URL. */
        const char *q = strchr(jstr(root, "presigned_url"), '?') + 1;
        bk_sigv4_auth auth;
        bk_sigv4_result vres;
        assert_int_equal(bk_sigv4_parse_presigned(q, &auth, &err), BK_OK);
        bk_sigv4_request got = bare;
        got.raw_query = q;
        if (bk_sigv4_verify(&got, &auth, sk, NULL, &vres, &err) != BK_OK)
            fail_msg("%s: %s", path, err.msg);
        bk_sigv4_result_clear(&vres);
        bk_sigv4_auth_clear(&auth);
    } else {
        /* Sign exactly the documented header set (the trailer page signs no Content-Length). */
        if (bk_sigv4_sign(s, &jr.view, amz_date, jstr(root, "signed_headers"), &res, &err) != BK_OK)
            fail_msg("%s: %s", path, err.msg);
        expect_equal_text(path, res.authorization, jstr(root, "authorization"));
        /* The verifier accepts the SDK form and the compact form the AWS pages print. */
        const char *authz = jstr(root, "authorization");
        char compact[1024];
        size_t j = 0;
        for (const char *p = authz; *p != '\0' && j + 1 < sizeof compact; p++)
            if (!(p[0] == ' ' && p > authz && p[-1] == ','))
                compact[j++] = *p;
        compact[j] = '\0';
        const char *forms[] = {authz, compact};
        for (int f = 0; f < 2; f++) {
            bk_sigv4_auth auth;
            bk_sigv4_result vres;
            if (bk_sigv4_parse_authorization(forms[f], &auth, &err) != BK_OK)
                fail_msg("%s: %s", forms[f], err.msg);
            if (bk_sigv4_verify(&jr.view, &auth, sk, NULL, &vres, &err) != BK_OK)
                fail_msg("%s: %s", path, err.msg);
            bk_sigv4_result_clear(&vres);
            bk_sigv4_auth_clear(&auth);
        }
    }
    bk_buf uri = BK_BUF_INIT;
    assert_int_equal(bk_sigv4_canonical_uri(jr.view.raw_path, BK_SIGV4_PATH_S3, &uri, &err), BK_OK);
    expect_equal_text(path, bk_buf_str(&uri), jstr(root, "canonical_uri"));
    bk_buf_clear(&uri);
    expect_equal_text(path, res.canonical_request, jstr(root, "canonical_request"));
    expect_equal_text(path, res.string_to_sign, jstr(root, "string_to_sign"));
    expect_equal_text(path, res.signature, jstr(root, "signature"));
    expect_equal_text(path, res.signed_headers, jstr(root, "signed_headers"));
    if (json_object_get(root, "chunks") != NULL)
        check_chunks(root, s, jstr(root, "seed_signature"));
    bk_sigv4_result_clear(&res);
    bk_sigv4_signer_free(s);
    json_decref(root);
}

static int run_json_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fail_msg("cannot open %s", dir);
        return 0;
    }
    int cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[1024];
        fmt_into(path, sizeof path, "%s/%s", dir, e->d_name);
        run_json_case(path);
        cases++;
    }
    closedir(d);
    return cases;
}

static void s3_doc_examples(void **state)
{
    (void)state;
    assert_int_equal(run_json_dir(VECTORS "/s3-doc-examples"), 7);
}

static void extra_vectors(void **state)
{
    (void)state;
    assert_int_equal(run_json_dir(VECTORS "/extra"), 4);
}

/* The BuildKit blob key: ':' raw or "%3A" on the wire, one canonical form. */
static void colon_key_raw_or_encoded_verifies(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *root = json_load_file(VECTORS "/extra/derived-head-blob-colon-key.json", 0, &jerr);
    assert_non_null(root);
    json_request jr;
    load_json_request(root, &jr);
    bk_sigv4_auth auth;
    bk_err err = {0};
    assert_int_equal(bk_sigv4_parse_authorization(jstr(root, "authorization"), &auth, &err), BK_OK);
    char encoded[512];
    const char *raw = jr.view.raw_path;
    const char *colon = strchr(raw, ':');
    assert_non_null(colon);
    fmt_into(encoded, sizeof encoded, "%.*s%%3A%s", (int)(colon - raw), raw, colon + 1);
    const char *paths[] = {raw, encoded};
    for (int i = 0; i < 2; i++) {
        bk_sigv4_request v = jr.view;
        v.raw_path = paths[i];
        bk_sigv4_result res;
        assert_int_equal(
            bk_sigv4_verify(&v, &auth,
                            jstr(json_object_get(root, "credentials"), "secret_access_key"), NULL,
                            &res, &err),
            BK_OK);
        bk_sigv4_result_clear(&res);
    }
    /* Double encoding is a different key and must not verify. */
    fmt_into(encoded, sizeof encoded, "%.*s%%253A%s", (int)(colon - raw), raw, colon + 1);
    bk_sigv4_request v = jr.view;
    v.raw_path = encoded;
    bk_sigv4_result res;
    assert_int_equal(
        bk_sigv4_verify(&v, &auth, jstr(json_object_get(root, "credentials"), "secret_access_key"),
                        NULL, &res, &err),
        BK_EAUTH);
    bk_sigv4_result_clear(&res);
    bk_sigv4_auth_clear(&auth);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws4_testsuite_all_cases),
        cmocka_unit_test(aws_signing_test_suite_all_cases),
        cmocka_unit_test(s3_doc_examples),
        cmocka_unit_test(extra_vectors),
        cmocka_unit_test(colon_key_raw_or_encoded_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
