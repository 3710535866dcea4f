/* SigV4 on hostile input: the Authorization header parser, the presigned
 * query parser, and verification of whatever they accept against a fixed
 * request, plus the canonical URI and query builders.
 * Input: byte 0 chooses header (even) or presigned (odd); the rest is the
 * header value or the raw query. */
#include "fuzz_target.h"

#include "bkcache/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void verify_against(const bk_sigv4_auth *auth, const char *raw_query, int input_has_secret)
{
    bk_sigv4_header headers[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-content-sha256", BK_SIGV4_UNSIGNED_PAYLOAD},
        {"Range", "bytes=0-9"},
    };
    bk_sigv4_request req = {"GET",
                            "/test.txt",
                            raw_query,
                            headers,
                            4,
                            auth->presigned ? NULL : BK_SIGV4_UNSIGNED_PAYLOAD,
                            BK_SIGV4_PATH_AUTO};
    bk_sigv4_result out;
    memset(&out, 0, sizeof out);
    bk_err err;
    bk_err_clear(&err);
    (void)bk_sigv4_verify(&req, auth, SECRET, NULL, &out, &err);
    /* The secret never reaches a result or a message (unless the input itself
     * carried it, e.g. as a signed header name: libFuzzer finds such strings). */
    int leaked = (out.canonical_request && strstr(out.canonical_request, SECRET)) ||
                 (out.string_to_sign && strstr(out.string_to_sign, SECRET)) ||
                 strstr(err.msg, SECRET);
    if (leaked && !input_has_secret)
        bk_fuzz_fail("secret in verification output");
    bk_sigv4_result_clear(&out);
    (void)bk_sigv4_unsigned_amz_header(&req, auth->signed_headers);
}

BK_FUZZ_TARGET(sigv4_auth)
{
    if (size < 1)
        return 0;
    int presigned = data[0] & 1;
    char *s = bk_fuzz_cstr(data + 1, size - 1);
    if (s == NULL)
        return 0;
    bk_err err;
    bk_sigv4_auth auth;
    memset(&auth, 0, sizeof auth);
    bk_code rc = presigned ? bk_sigv4_parse_presigned(s, &auth, &err)
                           : bk_sigv4_parse_authorization(s, &auth, &err);
    if (rc == BK_OK)
        verify_against(&auth, presigned ? s : "", strstr(s, SECRET) != NULL);
    bk_sigv4_auth_clear(&auth);

    bk_buf b = BK_BUF_INIT;
    (void)bk_sigv4_canonical_query(s, presigned, &b, &err);
    bk_buf_clear(&b);
    (void)bk_sigv4_canonical_uri(s, presigned ? BK_SIGV4_PATH_GENERIC : BK_SIGV4_PATH_S3, &b, &err);
    bk_buf_clear(&b);
    char *norm = NULL;
    if (bk_sigv4_normalize_signed_headers(s, &norm, &err) == BK_OK)
        free(norm);
    time_t t;
    (void)bk_sigv4_parse_amz_date(s, &t, &err);
    free(s);
    return 0;
}
