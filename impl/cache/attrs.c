#include "bkcache/attrs.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/buf.h"

#define NS_PER_HOUR (3600LL * 1000000000LL)

/* ---------- Go value syntax ---------- */

bk_code bk_go_parse_bool(const char *s, int *out)
{
    static const char *const truths[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const falsehoods[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        if (strcmp(s, truths[i]) == 0) {
            *out = 1;
            return BK_OK;
        }
        if (strcmp(s, falsehoods[i]) == 0) {
            *out = 0;
            return BK_OK;
        }
    }
    return BK_EINVAL;
}

bk_code bk_go_atoi(const char *s, int *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (*p == '\0')
        return BK_EINVAL;
    long long v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return BK_EINVAL;
        if (v > (2147483647LL + 1) / 10 + 1)
            return BK_EINVAL; /* already far out of int range */
        v = v * 10 + (*p - '0');
    }
    if (neg)
        v = -v;
    if (v > 2147483647LL || v < -2147483648LL)
        return BK_EINVAL;
    *out = (int)v;
    return BK_OK;
}

/* Go quotes the offending text in its duration errors. */
static bk_code duration_error(bk_err *err, const char *what, const char *orig)
{
    return bk_err_set(err, BK_EINVAL, "time: %s \"%s\"", what, orig);
}

#define DURATION_LIMIT (1ULL << 63)

/* The digits of a term before the unit: an integer and a fraction whose
 * digits beyond what fits are dropped, as Go does. -1 when the integer
 * overflows, 0 when neither part has a digit, 1 otherwise. */
static int duration_number(const char **sp, uint64_t *v, uint64_t *frac, double *scale)
{
    const char *s = *sp, *start = s;
    *v = 0;
    *frac = 0;
    *scale = 1.0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (*v > DURATION_LIMIT / 10)
            return -1;
        *v = *v * 10 + (uint64_t)(*s - '0');
        if (*v > DURATION_LIMIT)
            return -1;
    }
    int digits = s != start;
    if (*s == '.') {
        s++;
        const char *fstart = s;
        int overflow = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (overflow)
                continue;
            if (*frac > (DURATION_LIMIT - 1) / 10) {
                overflow = 1;
                continue;
            }
            uint64_t y = *frac * 10 + (uint64_t)(*s - '0');
            if (y > DURATION_LIMIT) {
                overflow = 1;
                continue;
            }
            *frac = y;
            *scale *= 10;
        }
        digits |= s != fstart;
    }
    *sp = s;
    return digits;
}

/* The unit after a number: everything up to the next digit or '.'. */
static bk_code duration_unit(const char **sp, const char *orig, uint64_t *unit, bk_err *err)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1ULL},
        {"us", 1000ULL},
        {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */
        {"ms", 1000000ULL},
        {"s", 1000000000ULL},
        {"m", 60ULL * 1000000000ULL},
        {"h", 3600ULL * 1000000000ULL},
    };
    const char *s = *sp;
    size_t ulen = 0;
    while (s[ulen] != '\0' && s[ulen] != '.' && !(s[ulen] >= '0' && s[ulen] <= '9'))
        ulen++;
    if (ulen == 0)
        return duration_error(err, "missing unit in duration", orig);
    *unit = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == ulen && memcmp(units[i].name, s, ulen) == 0)
            *unit = units[i].ns;
    }
    if (*unit == 0)
        return bk_err_set(err, BK_EINVAL, "time: unknown unit \"%.*s\" in duration \"%s\"",
                          (int)ulen, s, orig);
    *sp = s + ulen;
    return BK_OK;
}

/* One "1.5h" of a duration, in nanoseconds. */
static bk_code duration_term(const char **sp, const char *orig, uint64_t *term, bk_err *err)
{
    if (!(**sp == '.' || (**sp >= '0' && **sp <= '9')))
        return duration_error(err, "invalid duration", orig);
    uint64_t v, frac, unit;
    double scale;
    if (duration_number(sp, &v, &frac, &scale) <= 0)
        return duration_error(err, "invalid duration", orig);
    bk_code rc = duration_unit(sp, orig, &unit, err);
    if (rc != BK_OK)
        return rc;
    if (v > DURATION_LIMIT / unit)
        return duration_error(err, "invalid duration", orig);
    v *= unit;
    if (frac > 0) {
        v += (uint64_t)((double)frac * ((double)unit / scale));
        if (v > DURATION_LIMIT)
            return duration_error(err, "invalid duration", orig);
    }
    *term = v;
    return BK_OK;
}

bk_code bk_go_parse_duration(const char *orig, int64_t *ns, bk_err *err)
{
    const char *s = orig;
    int neg = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return BK_OK;
    }
    if (*s == '\0')
        return duration_error(err, "invalid duration", orig);
    uint64_t total = 0;
    while (*s != '\0') {
        uint64_t term = 0;
        bk_code rc = duration_term(&s, orig, &term, err);
        if (rc != BK_OK)
            return rc;
        total += term;
        if (total > DURATION_LIMIT)
            return duration_error(err, "invalid duration", orig);
    }
    if (neg) {
        *ns = total == DURATION_LIMIT ? INT64_MIN : -(int64_t)total;
        return BK_OK;
    }
    if (total > DURATION_LIMIT - 1)
        return duration_error(err, "invalid duration", orig);
    *ns = (int64_t)total;
    return BK_OK;
}

/* Writes the digits of v before position w; returns the new start. */
static size_t fmt_int(char *buf, size_t w, uint64_t v)
{
    if (v == 0) {
        buf[--w] = '0';
        return w;
    }
    while (v > 0) {
        buf[--w] = (char)('0' + v % 10);
        v /= 10;
    }
    return w;
}

/* The fraction of v/10^prec without trailing zeros, and the integer rest. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
    int print = 0;
    for (int i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(*v % 10);
        print = print || digit != 0;
        if (print)
            buf[--w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print)
        buf[--w] = '.';
    return w;
}

void bk_go_format_duration(int64_t ns, char *out, size_t size)
{
    char buf[40];
    size_t w = sizeof buf;
    uint64_t u = (uint64_t)ns;
    int neg = ns < 0;
    if (neg)
        u = -u;
    if (u < 1000000000ULL) {
        int prec = 0;
        buf[--w] = 's';
        if (u == 0) {
            buf[--w] = '0';
            snprintf(out, size, "%.*s", (int)(sizeof buf - w), buf + w);
            return;
        } else if (u < 1000ULL) {
            buf[--w] = 'n';
        } else if (u < 1000000ULL) {
            prec = 3;
            buf[--w] = '\xb5'; /* "µ" in UTF-8, written backwards */
            buf[--w] = '\xc2';
        } else {
            prec = 6;
            buf[--w] = 'm';
        }
        w = fmt_frac(buf, w, &u, prec);
        w = fmt_int(buf, w, u);
    } else {
        buf[--w] = 's';
        w = fmt_frac(buf, w, &u, 9);
        w = fmt_int(buf, w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            w = fmt_int(buf, w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                w = fmt_int(buf, w, u);
            }
        }
    }
    if (neg)
        buf[--w] = '-';
    snprintf(out, size, "%.*s", (int)(sizeof buf - w), buf + w);
}

/* ---------- buildx's CSV split ---------- */

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Splits one CSV record the way Go's encoding/csv does with default settings
 * (no lazy quotes, no space trimming). Column numbers in errors are 1-based. */
static long csv_split(const char *text, char ***fields_out, bk_err *err)
{
    char **fields = NULL;
    size_t n = 0, cap = 0;
    const char *p = text;
    bk_buf field = BK_BUF_INIT;
    for (;;) {
        bk_buf_reset(&field);
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    bk_err_set(err, BK_EINVAL,
                               "parse error on line 1, column %zu: extraneous or missing \" in "
                               "quoted-field",
                               (size_t)(p - text) + 1);
                    goto fail;
                }
                if (*p == '"') {
                    if (p[1] == '"') {
                        bk_buf_putc(&field, '"');
                        p += 2;
                        continue;
                    }
                    p++;
                    if (*p != ',' && *p != '\0' && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
                        bk_err_set(err, BK_EINVAL,
                                   "parse error on line 1, column %zu: extraneous or missing \" "
                                   "in quoted-field",
                                   (size_t)(p - text) + 1);
                        goto fail;
                    }
                    break;
                }
                bk_buf_putc(&field, *p++);
            }
        } else {
            while (*p != ',' && *p != '\0' && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
                if (*p == '"') {
                    bk_err_set(err, BK_EINVAL,
                               "parse error on line 1, column %zu: bare \" in non-quoted-field",
                               (size_t)(p - text) + 1);
                    goto fail;
                }
                bk_buf_putc(&field, *p++);
            }
        }
        if (bk_buf_check(&field, err) != BK_OK)
            goto fail;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **grown = realloc(fields, cap * sizeof *fields);
            if (grown == NULL) {
                bk_err_set(err, BK_ENOMEM, "out of memory splitting cache attributes");
                goto fail;
            }
            fields = grown;
        }
        fields[n++] = bk_buf_steal(&field);
        if (fields[n - 1] == NULL) {
            bk_err_set(err, BK_ENOMEM, "out of memory splitting cache attributes");
            goto fail;
        }
        if (*p != ',')
            break; /* end of the record: buildx reads the first line only */
        p++;
    }
    bk_buf_clear(&field);
    *fields_out = fields;
    return (long)n;
fail:
    bk_buf_clear(&field);
    free_strv(fields, n);
    return -1;
}

long bk_attrs_split(const char *text, char ***keys_out, char ***values_out, bk_err *err)
{
    if (text == NULL || *text == '\0') {
        bk_err_set(err, BK_EINVAL, "empty cache attribute string (expected type=s3,bucket=...)");
        return -1;
    }
    char **fields = NULL;
    long n = csv_split(text, &fields, err);
    if (n < 0)
        return -1;
    char **keys = calloc((size_t)n + 1, sizeof *keys);
    char **values = calloc((size_t)n + 1, sizeof *values);
    if (keys == NULL || values == NULL) {
        free(keys);
        free(values);
        free_strv(fields, (size_t)n);
        bk_err_set(err, BK_ENOMEM, "out of memory splitting cache attributes");
        return -1;
    }
    for (long i = 0; i < n; i++) {
        char *eq = strchr(fields[i], '=');
        if (eq == NULL) {
            bk_err_set(err, BK_EINVAL, "invalid value %s", fields[i]);
            free_strv(keys, (size_t)i);
            free_strv(values, (size_t)i);
            free_strv(fields, (size_t)n);
            return -1;
        }
        *eq = '\0';
        for (char *k = fields[i]; *k != '\0'; k++)
            *k = (char)tolower((unsigned char)*k);
        keys[i] = strdup(fields[i]);
        values[i] = strdup(eq + 1);
        if (keys[i] == NULL || values[i] == NULL) {
            free_strv(keys, (size_t)i + 1);
            free_strv(values, (size_t)i + 1);
            free_strv(fields, (size_t)n);
            bk_err_set(err, BK_ENOMEM, "out of memory splitting cache attributes");
            return -1;
        }
    }
    free_strv(fields, (size_t)n);
    *keys_out = keys;
    *values_out = values;
    return n;
}

/* ---------- the S3 cache attributes ---------- */

typedef struct parse_ctx {
    const bk_attrs_options *opts;
    bk_s3_attrs *out;
    bk_err *err;
} parse_ctx;

static const char *lookup_env(const parse_ctx *c, const char *name)
{
    return bk_env_lookup(c->opts != NULL ? c->opts->env : NULL, name);
}

/* Records a warning "<problem><lax>" where lax says what is done instead, or
 * fails with "<problem> (strict mode)": nothing is ignored in strict mode. */
static bk_code warn(parse_ctx *c, const char *lax, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bk_code warn(parse_ctx *c, const char *lax, const char *fmt, ...)
{
    char problem[400], msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    if (c->opts != NULL && c->opts->strict)
        return bk_err_set(c->err, BK_EINVAL, "%s (strict mode)", problem);
    snprintf(msg, sizeof msg, "%s%s", problem, lax);
    char **grown = realloc(c->out->warnings, (c->out->n_warnings + 1) * sizeof *grown);
    char *copy = strdup(msg);
    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            c->out->warnings = grown;
        return bk_err_set(c->err, BK_ENOMEM, "out of memory recording a warning");
    }
    c->out->warnings = grown;
    c->out->warnings[c->out->n_warnings++] = copy;
    return BK_OK;
}

static bk_code set_str(parse_ctx *c, char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return bk_err_set(c->err, BK_ENOMEM, "out of memory parsing cache attributes");
    free(*field);
    *field = copy;
    return BK_OK;
}

/* A bool that upstream silently ignores when invalid: keep the default, warn. */
static bk_code lenient_bool(parse_ctx *c, const char *key, const char *value, int *field)
{
    int b;
    if (bk_go_parse_bool(value, &b) == BK_OK) {
        *field = b;
        return BK_OK;
    }
    return warn(c,
                *field ? " ignored, using true (BuildKit ignores it too)"
                       : " ignored, using false (BuildKit ignores it too)",
                "%s: invalid boolean \"%s\"", key, value);
}

static bk_code positive_int(parse_ctx *c, const char *key, const char *value, int *field)
{
    int v;
    if (bk_go_atoi(value, &v) != BK_OK || v < 1)
        return bk_err_set(c->err, BK_EINVAL, "%s must be a positive integer", key);
    *field = v;
    return BK_OK;
}

static bk_code parse_names(parse_ctx *c, const char *value)
{
    bk_s3cache_layout *a = &c->out->layout;
    free_strv(a->names, a->n_names);
    a->names = NULL;
    a->n_names = 0;
    size_t count = 1;
    for (const char *p = value; *p; p++)
        count += *p == ';';
    a->names = calloc(count, sizeof *a->names);
    if (a->names == NULL)
        return bk_err_set(c->err, BK_ENOMEM, "out of memory parsing name");
    const char *start = value;
    for (;;) {
        const char *end = strchr(start, ';');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0) {
            /* Upstream would write to "<manifests_prefix>" itself: never what anyone wants. */
            bk_code rc = warn(c, " dropped", "name: empty entry in \"%s\"", value);
            if (rc != BK_OK)
                return rc;
        } else {
            a->names[a->n_names] = strndup(start, len);
            if (a->names[a->n_names] == NULL)
                return bk_err_set(c->err, BK_ENOMEM, "out of memory parsing name");
            a->n_names++;
        }
        if (end == NULL)
            break;
        start = end + 1;
    }
    if (a->n_names == 0)
        return bk_err_set(c->err, BK_EINVAL, "name \"%s\" has no non-empty entry", value);
    return BK_OK;
}

/* The attributes that say where the cache lives in the bucket. */
static bk_code apply_layout(parse_ctx *c, const char *key, const char *value, int *known)
{
    bk_s3cache_layout *l = &c->out->layout;
    *known = 1;
    if (strcmp(key, "prefix") == 0)
        return set_str(c, &l->prefix, value);
    if (strcmp(key, "manifests_prefix") == 0)
        return set_str(c, &l->manifests_prefix, value);
    if (strcmp(key, "blobs_prefix") == 0)
        return set_str(c, &l->blobs_prefix, value);
    if (strcmp(key, "name") == 0)
        return parse_names(c, value);
    *known = 0;
    return BK_OK;
}

/* The attributes that say what an export or import does. */
static bk_code apply_policy(parse_ctx *c, const char *key, const char *value, int *known)
{
    bk_s3cache_policy *a = &c->out->policy;
    *known = 1;
    if (strcmp(key, "touch_refresh") == 0) {
        int64_t ns;
        bk_err derr;
        if (bk_go_parse_duration(value, &ns, &derr) == BK_OK) {
            a->touch_refresh_ns = ns;
            return BK_OK;
        }
        char cur[40], lax[96];
        bk_go_format_duration(a->touch_refresh_ns, cur, sizeof cur);
        snprintf(lax, sizeof lax, " ignored, using %s (BuildKit ignores it too)", cur);
        return warn(c, lax, "touch_refresh: %s", derr.msg);
    }
    if (strcmp(key, "upload_parallelism") == 0)
        return positive_int(c, key, value, &a->upload_parallelism);
    if (strcmp(key, "mode") == 0) {
        if (strcmp(value, "min") == 0)
            a->mode = BK_EXPORT_MIN;
        else if (strcmp(value, "max") == 0)
            a->mode = BK_EXPORT_MAX;
        else
            return warn(c, " ignored, using min (BuildKit ignores it too)",
                        "mode: invalid value \"%s\"", value);
        return BK_OK;
    }
    if (strcmp(key, "ignore-error") == 0)
        return lenient_bool(c, key, value, &a->ignore_error);
    if (strcmp(key, "existence_check") == 0) {
        if (strcmp(value, "head") == 0)
            a->existence_check = BK_EXISTS_HEAD;
        else if (strcmp(value, "list") == 0)
            a->existence_check = BK_EXISTS_LIST;
        else
            return bk_err_set(c->err, BK_EINVAL, "existence_check must be \"head\" or \"list\"");
        return BK_OK;
    }
    if (strcmp(key, "manifest_if_match") == 0) {
        int b;
        if (bk_go_parse_bool(value, &b) != BK_OK)
            return bk_err_set(c->err, BK_EINVAL, "manifest_if_match must be true or false");
        a->manifest_if_match = b;
        return BK_OK;
    }
    *known = 0;
    return BK_OK;
}

/* The attributes that configure the S3 client. */
static bk_code apply_client(parse_ctx *c, const char *key, const char *value, int *known)
{
    bk_s3cache_settings *a = &c->out->client;
    *known = 1;
    if (strcmp(key, "bucket") == 0)
        return set_str(c, &a->bucket, value);
    if (strcmp(key, "region") == 0)
        return set_str(c, &a->region, value);
    if (strcmp(key, "endpoint_url") == 0)
        return set_str(c, &a->endpoint_url, value);
    if (strcmp(key, "use_path_style") == 0)
        return lenient_bool(c, key, value, &a->use_path_style);
    if (strcmp(key, "access_key_id") == 0)
        return set_str(c, &a->access_key_id, value);
    if (strcmp(key, "secret_access_key") == 0)
        return set_str(c, &a->secret_access_key, value);
    if (strcmp(key, "session_token") == 0)
        return set_str(c, &a->session_token, value);
    if (strcmp(key, "disable_accept_encoding") == 0)
        return lenient_bool(c, key, value, &a->disable_accept_encoding);
    if (strcmp(key, "retry_mode") == 0) {
        if (strcmp(value, "standard") == 0)
            a->retry_mode = BK_ATTR_RETRY_STANDARD;
        else if (strcmp(value, "adaptive") == 0)
            a->retry_mode = BK_ATTR_RETRY_ADAPTIVE;
        else
            return bk_err_set(c->err, BK_EINVAL, "retry_mode must be \"standard\" or \"adaptive\"");
        return BK_OK;
    }
    if (strcmp(key, "retry_max_attempts") == 0)
        return positive_int(c, key, value, &a->retry_max_attempts);
    *known = 0;
    return BK_OK;
}

static bk_code apply(parse_ctx *c, const char *key, const char *value)
{
    if (strcmp(key, "type") == 0)
        return set_str(c, &c->out->type, value);
    int known = 0;
    bk_code rc = apply_client(c, key, value, &known);
    if (!known)
        rc = apply_layout(c, key, value, &known);
    if (!known)
        rc = apply_policy(c, key, value, &known);
    if (!known)
        return warn(c, " ignored", "unknown attribute \"%s\"", key);
    return rc;
}

static bk_code set_defaults(parse_ctx *c)
{
    bk_s3_attrs *a = c->out;
    memset(a, 0, sizeof *a);
    a->policy.touch_refresh_ns = 24 * NS_PER_HOUR;
    a->policy.upload_parallelism = 4;
    a->policy.mode = BK_EXPORT_MIN;
    bk_s3cache_layout *l = &a->layout;
    bk_s3cache_settings *s = &a->client;
    if (set_str(c, &l->prefix, "") || set_str(c, &l->manifests_prefix, "manifests/") ||
        set_str(c, &l->blobs_prefix, "blobs/") || set_str(c, &s->endpoint_url, "") ||
        set_str(c, &s->access_key_id, "") || set_str(c, &s->secret_access_key, "") ||
        set_str(c, &s->session_token, ""))
        return BK_ENOMEM;
    return parse_names(c, "buildkit");
}

/* BuildKit's checks and fallbacks once every attribute is read. */
static bk_code finish(parse_ctx *c)
{
    bk_s3_attrs *out = c->out;
    bk_s3cache_settings *s = &out->client;
    bk_err *err = c->err;
    bk_code rc = BK_OK;
    if (out->type == NULL)
        return bk_err_set(err, BK_EINVAL, "type required (type=s3,bucket=...,region=...)");
    if (strcmp(out->type, "s3") != 0)
        return bk_err_set(err, BK_EINVAL,
                          "unsupported cache type \"%s\": bkcache implements type=s3", out->type);
    /* Env fallbacks, exactly upstream's: an attribute present (even empty) wins;
     * an env variable set (even empty) counts. */
    if (s->bucket == NULL) {
        const char *v = lookup_env(c, "AWS_BUCKET");
        rc = v ? set_str(c, &s->bucket, v)
               : bk_err_set(err, BK_EINVAL, "bucket ($AWS_BUCKET) not set for s3 cache");
    }
    if (rc == BK_OK && s->region == NULL) {
        const char *v = lookup_env(c, "AWS_REGION");
        rc = v ? set_str(c, &s->region, v)
               : bk_err_set(err, BK_EINVAL, "region ($AWS_REGION) not set for s3 cache");
    }
    if (rc == BK_OK && s->bucket[0] == '\0')
        rc = bk_err_set(err, BK_EINVAL, "bucket is empty: set bucket=... or $AWS_BUCKET");
    if (rc == BK_OK && s->use_path_style && s->endpoint_url[0] == '\0')
        rc = warn(c, ": ignored (as in BuildKit)", "use_path_style without endpoint_url");
    if (rc == BK_OK && s->access_key_id[0] != '\0' && s->secret_access_key[0] == '\0')
        rc = warn(c, ": ignored, using the default credential chain (as in BuildKit)",
                  "access_key_id without secret_access_key");
    if (rc == BK_OK && s->access_key_id[0] == '\0' && s->secret_access_key[0] != '\0')
        rc = warn(c, ": ignored, using the default credential chain (as in BuildKit)",
                  "secret_access_key without access_key_id");
    return rc;
}

bk_code bk_s3_attrs_parse(const char *text, const bk_attrs_options *opts, bk_s3_attrs *out,
                          bk_err *err)
{
    parse_ctx c = {opts, out, err};
    bk_code rc = set_defaults(&c);
    char **keys = NULL, **values = NULL;
    long n = 0;
    if (rc == BK_OK) {
        bk_err serr;
        bk_err_clear(&serr);
        n = bk_attrs_split(text, &keys, &values, &serr);
        if (n < 0)
            rc = bk_err_set(err, serr.code, "%s", serr.msg);
    }
    for (long i = 0; i < n && rc == BK_OK; i++)
        rc = apply(&c, keys[i], values[i]);
    if (n >= 0) {
        free_strv(keys, (size_t)n);
        free_strv(values, (size_t)n);
    }
    if (rc == BK_OK)
        rc = finish(&c);
    if (rc != BK_OK)
        bk_s3_attrs_clear(out);
    return rc;
}

void bk_s3cache_layout_clear(bk_s3cache_layout *l)
{
    if (l == NULL)
        return;
    free(l->prefix);
    free(l->manifests_prefix);
    free(l->blobs_prefix);
    free_strv(l->names, l->n_names);
    memset(l, 0, sizeof *l);
}

bk_code bk_s3cache_layout_copy(bk_s3cache_layout *dst, const bk_s3cache_layout *src, bk_err *err)
{
    memset(dst, 0, sizeof *dst);
    dst->prefix = strdup(src->prefix);
    dst->manifests_prefix = strdup(src->manifests_prefix);
    dst->blobs_prefix = strdup(src->blobs_prefix);
    dst->names = calloc(src->n_names ? src->n_names : 1, sizeof *dst->names);
    int failed = dst->prefix == NULL || dst->manifests_prefix == NULL ||
                 dst->blobs_prefix == NULL || dst->names == NULL;
    for (size_t i = 0; !failed && i < src->n_names; i++) {
        dst->names[i] = strdup(src->names[i]);
        failed = dst->names[i] == NULL;
        dst->n_names += !failed;
    }
    if (failed) {
        bk_s3cache_layout_clear(dst);
        return bk_err_set(err, BK_ENOMEM, "out of memory copying the cache layout");
    }
    return BK_OK;
}

void bk_s3_attrs_clear(bk_s3_attrs *a)
{
    if (a == NULL)
        return;
    bk_s3cache_settings *s = &a->client;
    free(a->type);
    free(s->bucket);
    free(s->region);
    free(s->endpoint_url);
    free(s->access_key_id);
    if (s->secret_access_key != NULL)
        memset(s->secret_access_key, 0, strlen(s->secret_access_key));
    free(s->secret_access_key);
    free(s->session_token);
    bk_s3cache_layout_clear(&a->layout);
    free_strv(a->warnings, a->n_warnings);
    memset(a, 0, sizeof *a);
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s != NULL)
        snprintf(s, la + lb + lc + 1, "%s%s%s", a, b, c);
    return s;
}

char *bk_s3cache_layout_manifest_key(const bk_s3cache_layout *l, const char *name)
{
    return concat3(l->prefix, l->manifests_prefix, name);
}

char *bk_s3cache_layout_blob_key(const bk_s3cache_layout *l, const char *digest)
{
    return concat3(l->prefix, l->blobs_prefix, digest);
}
