/* The front of the mock's request path that needs no server: routing a
 * request line and Host header to bucket, key and S3 operation (path and
 * virtual-host style), and the percent-decoding and UTF-8 checks behind it.
 * Input: byte 0 = method (low 3 bits) | has x-amz-copy-source (bit 3); then
 * the raw target, a NUL, and the Host header.
 *
 * Routing alone, so the fuzzer spends all its time on it; the whole request
 * path is fuzz_mock_request.c. */
#include "fuzz_target.h"

#include "router.h"
#include "uri.h"

BK_FUZZ_TARGET(mock_route)
{
    if (size < 1)
        return 0;
    static const char *const methods[8] = {"GET",  "PUT",     "POST",  "DELETE",
                                           "HEAD", "OPTIONS", "PATCH", "get"};
    char *s = bk_fuzz_cstr(data + 1, size - 1);
    if (s == NULL)
        return 0;
    const char *target = s;
    size_t tlen = strlen(s);
    const char *host = tlen < size - 1 ? s + tlen + 1 : NULL; /* after the first NUL */
    ms3_route r;
    memset(&r, 0, sizeof r);
    if (ms3__route_parse(&r, methods[data[0] & 7], target, host, "localhost", (data[0] >> 3) & 1) ==
        0) {
        if (r.error_code == NULL && r.op == MS3_OP_UNKNOWN)
            bk_fuzz_fail("routed to no operation without an error");
        for (size_t i = 0; i < r.n_params; i++)
            (void)ms3__route_param(&r, r.params[i].name);
    }
    ms3__route_clear(&r);
    char *dec = ms3__url_decode(target, tlen, data[0] & 1);
    free(dec);
    (void)ms3__utf8_valid(target, tlen);
    free(s);
    return 0;
}
