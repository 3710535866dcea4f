/* SigV4 input parsing for the verifier: the Authorization header, presigned
 * query parameters and X-Amz-Date. Every input here may be hostile, so each
 * parser checks lengths and characters and fails with BK_EINVAL, never reads
 * past a terminator and never echoes more than a bounded slice of the input. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bkcache/sigv4.h"

/* Longest Authorization header or query parameter we look at. */
#define MAX_FIELD 8192

void bk_sigv4_format_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "19700101T000000Z", 17);
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int number(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bk_code bk_sigv4_parse_amz_date(const char *s, time_t *out, bk_err *err)
{
    if (s == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || !digits(s, 8) ||
        !digits(s + 9, 6))
        return bk_err_set(err, BK_EINVAL, "X-Amz-Date must be YYYYMMDDTHHMMSSZ");
    static const int days_in_month[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = number(s, 4), month = number(s + 4, 2), day = number(s + 6, 2);
    int hour = number(s + 9, 2), minute = number(s + 11, 2), second = number(s + 13, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month[month - 1] ||
        hour > 23 || minute > 59 || second > 60)
        return bk_err_set(err, BK_EINVAL, "X-Amz-Date '%s' is not a valid UTC time", s);
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return bk_err_set(err, BK_EINVAL, "X-Amz-Date '%s' is not a valid UTC time", s);
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    *out = timegm(&tm);
    return BK_OK;
}

void bk_sigv4_auth_clear(bk_sigv4_auth *a)
{
    if (a == NULL)
        return;
    free(a->access_key_id);
    free(a->region);
    free(a->service);
    free(a->signed_headers);
    free(a->session_token);
    memset(a, 0, sizeof *a);
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

/* "AK/date8/region/service/aws4_request", split at the last four '/'. */
static bk_code parse_credential(const char *s, size_t n, bk_sigv4_auth *out, bk_err *err)
{
    const char *slash[4];
    int found = 0;
    for (size_t i = n; i > 0 && found < 4; i--)
        if (s[i - 1] == '/')
            slash[found++] = s + i - 1;
    if (found < 4)
        return bk_err_set(err, BK_EINVAL,
                          "Credential must be "
                          "<access-key>/<date>/<region>/<service>/aws4_request");
    /* slash[3] ends the key id, slash[2] the date, slash[1] the region, slash[0] the service. */
    const char *date = slash[3] + 1, *region = slash[2] + 1, *service = slash[1] + 1;
    const char *term = slash[0] + 1;
    size_t key_len = (size_t)(slash[3] - s);
    size_t date_len = (size_t)(slash[2] - date);
    size_t region_len = (size_t)(slash[1] - region);
    size_t service_len = (size_t)(slash[0] - service);
    size_t term_len = (size_t)(s + n - term);
    if (key_len == 0 || !printable(s, key_len))
        return bk_err_set(err, BK_EINVAL, "Credential has an empty or invalid access key id");
    if (date_len != 8 || !digits(date, 8))
        return bk_err_set(err, BK_EINVAL, "Credential date must be YYYYMMDD");
    if (region_len == 0 || !printable(region, region_len) || service_len == 0 ||
        !printable(service, service_len))
        return bk_err_set(err, BK_EINVAL, "Credential has an empty or invalid region or service");
    if (term_len != 12 || memcmp(term, "aws4_request", 12) != 0)
        return bk_err_set(err, BK_EINVAL, "Credential must end in /aws4_request");
    out->access_key_id = dup_n(s, key_len);
    out->region = dup_n(region, region_len);
    out->service = dup_n(service, service_len);
    memcpy(out->date8, date, 8);
    out->date8[8] = '\0';
    if (out->access_key_id == NULL || out->region == NULL || out->service == NULL)
        return bk_err_set(err, BK_ENOMEM, "out of memory parsing a credential");
    return BK_OK;
}

static bk_code parse_signed_headers(const char *s, size_t n, bk_sigv4_auth *out, bk_err *err)
{
    if (n == 0 || s[0] == ';' || s[n - 1] == ';')
        return bk_err_set(err, BK_EINVAL, "SignedHeaders is empty or has an empty name");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == ':' || c == ',' || (c == ';' && s[i + 1] == ';'))
            return bk_err_set(err, BK_EINVAL,
                              "SignedHeaders has an invalid character or an "
                              "empty name");
    }
    out->signed_headers = dup_n(s, n);
    return out->signed_headers != NULL
               ? BK_OK
               : bk_err_set(err, BK_ENOMEM, "out of memory parsing SignedHeaders");
}

static bk_code parse_signature(const char *s, size_t n, bk_sigv4_auth *out, bk_err *err)
{
    if (n != 64 || strspn(s, "0123456789abcdefABCDEF") < 64)
        return bk_err_set(err, BK_EINVAL, "Signature must be 64 hex digits");
    memcpy(out->signature, s, 64);
    out->signature[64] = '\0';
    return BK_OK;
}

bk_code bk_sigv4_parse_authorization(const char *value, bk_sigv4_auth *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (value == NULL)
        return bk_err_set(err, BK_EINVAL, "no Authorization header");
    size_t total = strlen(value);
    if (total > MAX_FIELD)
        return bk_err_set(err, BK_EINVAL, "Authorization header longer than %d bytes", MAX_FIELD);
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t alg_len = strlen(BK_SIGV4_ALGORITHM);
    if (strncmp(p, BK_SIGV4_ALGORITHM, alg_len) != 0 || (p[alg_len] != ' ' && p[alg_len] != '\t')) {
        if (strncmp(p, "AWS ", 4) == 0)
            return bk_err_set(err, BK_EUNSUPPORTED,
                              "Signature Version 2 is not supported; use AWS4-HMAC-SHA256");
        return bk_err_set(err, BK_EINVAL, "Authorization must start with '%s '",
                          BK_SIGV4_ALGORITHM);
    }
    p += alg_len;
    int have_cred = 0, have_list = 0, have_sig = 0;
    bk_code rc = BK_OK;
    while (rc == BK_OK) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        const char *eq = memchr(p, '=', len);
        if (eq == NULL) {
            rc = bk_err_set(err, BK_EINVAL, "Authorization component without '='");
            break;
        }
        size_t key_len = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t v_len = len - key_len - 1;
        if (key_len == 10 && memcmp(p, "Credential", 10) == 0) {
            rc = have_cred++ ? bk_err_set(err, BK_EINVAL, "Credential given twice")
                             : parse_credential(v, v_len, out, err);
        } else if (key_len == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
            rc = have_list++ ? bk_err_set(err, BK_EINVAL, "SignedHeaders given twice")
                             : parse_signed_headers(v, v_len, out, err);
        } else if (key_len == 9 && memcmp(p, "Signature", 9) == 0) {
            rc = have_sig++ ? bk_err_set(err, BK_EINVAL, "Signature given twice")
                            : parse_signature(v, v_len, out, err);
        } else {
            rc = bk_err_set(err, BK_EINVAL, "unknown Authorization component '%.*s'",
                            (int)(key_len > 40 ? 40 : key_len), p);
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (rc == BK_OK && !(have_cred && have_list && have_sig))
        rc = bk_err_set(err, BK_EINVAL, "Authorization lacks %s",
                        !have_cred   ? "Credential"
                        : !have_list ? "SignedHeaders"
                                     : "Signature");
    if (rc != BK_OK)
        bk_sigv4_auth_clear(out);
    return rc;
}

/* The presigned parameters we collect, decoded. */
enum { P_ALG, P_CRED, P_DATE, P_EXPIRES, P_LIST, P_TOKEN, P_SIG, P_COUNT };
static const char *const param_names[P_COUNT] = {
    "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",      "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
};

static bk_code collect_params(const char *raw_query, bk_buf vals[P_COUNT], int seen[P_COUNT],
                              bk_err *err)
{
    const char *p = raw_query;
    for (;;) {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : len;
        bk_buf name = BK_BUF_INIT;
        bk_code rc = bk_sigv4_uri_decode(&name, p, name_len, err);
        for (int i = 0; rc == BK_OK && i < P_COUNT; i++) {
            if (strcmp(bk_buf_str(&name), param_names[i]) != 0)
                continue;
            if (seen[i]++)
                rc = bk_err_set(err, BK_EINVAL, "%s given twice", param_names[i]);
            else if (eq != NULL)
                rc = bk_sigv4_uri_decode(&vals[i], eq + 1, len - name_len - 1, err);
            if (rc == BK_OK && (vals[i].len > MAX_FIELD ||
                                memchr(bk_buf_str(&vals[i]), '\0', vals[i].len) != NULL))
                rc = bk_err_set(err, BK_EINVAL, "%s is too long or contains NUL", param_names[i]);
        }
        bk_buf_clear(&name);
        if (rc != BK_OK)
            return rc;
        if (end == NULL)
            return BK_OK;
        p = end + 1;
    }
}

bk_code bk_sigv4_parse_presigned(const char *raw_query, bk_sigv4_auth *out, bk_err *err)
{
    memset(out, 0, sizeof *out);
    if (raw_query == NULL || raw_query[0] == '\0')
        return bk_err_set(err, BK_ENOTFOUND, "no query parameters");
    bk_buf vals[P_COUNT];
    int seen[P_COUNT] = {0};
    for (int i = 0; i < P_COUNT; i++)
        bk_buf_init(&vals[i]);
    bk_code rc = collect_params(raw_query, vals, seen, err);
    if (rc == BK_OK && !seen[P_ALG] && !seen[P_CRED] && !seen[P_SIG])
        rc = bk_err_set(err, BK_ENOTFOUND, "not a presigned URL (no X-Amz-Signature)");
    for (int i = 0; rc == BK_OK && i < P_COUNT; i++)
        if (!seen[i] && i != P_TOKEN)
            rc = bk_err_set(err, BK_EINVAL, "presigned URL lacks %s", param_names[i]);
    if (rc == BK_OK && strcmp(bk_buf_str(&vals[P_ALG]), BK_SIGV4_ALGORITHM) != 0)
        rc = bk_err_set(err, BK_EUNSUPPORTED, "X-Amz-Algorithm must be %s", BK_SIGV4_ALGORITHM);
    if (rc == BK_OK)
        rc = parse_credential(bk_buf_str(&vals[P_CRED]), vals[P_CRED].len, out, err);
    if (rc == BK_OK) {
        time_t ignored;
        rc = bk_sigv4_parse_amz_date(bk_buf_str(&vals[P_DATE]), &ignored, err);
        if (rc == BK_OK)
            memcpy(out->amz_date, bk_buf_str(&vals[P_DATE]), 17);
    }
    if (rc == BK_OK) {
        const char *e = bk_buf_str(&vals[P_EXPIRES]);
        size_t n = vals[P_EXPIRES].len;
        if (n == 0 || n > 7 || !digits(e, n) || number(e, n) < 1 ||
            number(e, n) > BK_SIGV4_MAX_EXPIRES)
            rc = bk_err_set(err, BK_EINVAL, "X-Amz-Expires must be 1..%ld seconds",
                            BK_SIGV4_MAX_EXPIRES);
        else
            out->expires = number(e, n);
    }
    if (rc == BK_OK)
        rc = parse_signed_headers(bk_buf_str(&vals[P_LIST]), vals[P_LIST].len, out, err);
    if (rc == BK_OK)
        rc = parse_signature(bk_buf_str(&vals[P_SIG]), vals[P_SIG].len, out, err);
    if (rc == BK_OK && seen[P_TOKEN]) {
        out->session_token = dup_n(bk_buf_str(&vals[P_TOKEN]), vals[P_TOKEN].len);
        if (out->session_token == NULL)
            rc = bk_err_set(err, BK_ENOMEM, "out of memory parsing X-Amz-Security-Token");
    }
    for (int i = 0; i < P_COUNT; i++)
        bk_buf_clear(&vals[i]);
    out->presigned = 1;
    if (rc != BK_OK)
        bk_sigv4_auth_clear(out);
    return rc;
}
